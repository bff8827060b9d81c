//! Benchmarks of the durable path: raw journal group commit (JOURNAL), the full engine behind the
//! real sequencer with fsync before acknowledgement under open-loop load (DURABLE), the same load
//! while a login flood keeps the argon2 pool saturated (LOGINFLOOD), and start-up recovery from a
//! snapshot plus a long journal tail (RECOVERY), and what a periodic snapshot stops the engine
//! for (SNAPSHOT). Workload: BOOK-A of
//! reference/benchmarks.md §5, turned into engine commands; orders carry client ids so cancels can
//! be issued without waiting for the acknowledgement of the order they cancel.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::engine_bench::{setup_commands, user_of};
use crate::stats::fastest_and_median;
use crate::workload::{self, Op, WorkloadSpec};
use bulwark_engine::{
    ClientOrderId, Command, CommandHeader, Engine, MarketId, NewOrder, OrderKind, OrderTarget,
    StpMode, codec,
};
use bulwark_journal::{FsyncPolicy, Journal, JournalOptions};
use bulwark_sequencer::{Reply, Sequencer, SequencerOptions, SubmitError};
use bulwark_types::{CommandId, OrderId, Side};
use serde_json::json;

/// Knobs of the pipeline benchmarks (the CLI fills them from `bulwark bench` flags).
#[derive(Clone, Debug)]
pub struct PipelineArgs {
    /// Recovery runs (best and median are reported).
    pub runs: usize,
    /// Offered loads for DURABLE in ops/s (LOGINFLOOD uses the first).
    pub rates: Vec<u64>,
    /// Commands RECOVERY replays after its snapshot.
    pub recovery_commands: u32,
    /// DURABLE takes a snapshot every this many commands, as a server does (0: never).
    pub snapshot_every: u64,
}

/// Why a pipeline benchmark stopped before printing its figures.
#[derive(Debug, thiserror::Error)]
pub enum PipelineBenchError {
    #[error("unknown pipeline benchmark {0:?}; known: {known}", known = PIPELINE_BENCHMARKS.join(", "))]
    Unknown(String),
    #[error("journal: {0}")]
    Journal(#[from] bulwark_journal::JournalError),
    #[error("recovery: {0}")]
    Recovery(#[from] bulwark_sequencer::RecoveryError),
    #[error("sequencer: {0}")]
    Submit(#[from] SubmitError),
    #[error("the pipeline stopped before acknowledging a setup command")]
    Stopped,
    #[error("setup command rejected: {0}")]
    Rejected(String),
    #[error("argon2 pool: {0}")]
    Password(#[from] bulwark_identity::password::PasswordError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("recovered state hash differs from the live state")]
    HashMismatch,
}

/// The benchmarks of this module, by the names `bulwark bench` takes.
pub const PIPELINE_BENCHMARKS: &[&str] =
    &["journal", "durable", "loginflood", "recovery", "snapshot"];

type Result<T> = std::result::Result<T, PipelineBenchError>;

/// Seconds of offered load per DURABLE rate (capped by the workload's 1 M ops).
const DURABLE_SECONDS: u64 = 3;
/// Below this lead time the DURABLE generator submits at once rather than sleeping.
const GENERATOR_SLEEP_MIN_US: u64 = 100;
/// Records per commit measured by JOURNAL.
const JOURNAL_BATCHES: &[usize] = &[1, 16, 64, 256, 1_024, 4_096];
/// Records each JOURNAL batch size writes.
const JOURNAL_RECORDS_PER_SIZE: usize = 200_000;
/// Commits at most per JOURNAL batch size (bounds the time of the batch-of-1 case).
const JOURNAL_COMMITS_MAX: usize = 3_000;

pub fn run(name: &str, args: &PipelineArgs, scratch: &Path) -> Result<()> {
    match name {
        "journal" => journal(scratch),
        "durable" => durable(args, scratch),
        "loginflood" => login_flood(args, scratch),
        "recovery" => recovery(args, scratch),
        "snapshot" => snapshot(args),
        other => Err(PipelineBenchError::Unknown(other.to_owned())),
    }
}

/// The client order id of workload order `id`.
fn workload_client_id(id: u32) -> Option<ClientOrderId> {
    format!("w{id}").parse().ok()
}

fn place(id: u32, buy: bool, kind: OrderKind, price: u32, qty: u32) -> Command {
    Command::PlaceOrder(NewOrder {
        user: user_of(id),
        market: MarketId(0),
        side: if buy { Side::Buy } else { Side::Sell },
        kind,
        price_ticks: i64::from(price),
        size_lots: i64::from(qty),
        notional: 0,
        client_order_id: workload_client_id(id),
        stp: StpMode::None,
    })
}

/// The engine command of one workload op (market buys are IOC at the top price, as in ENGINE).
fn command_of(op: &Op) -> Command {
    match *op {
        Op::Limit {
            id,
            buy,
            price,
            qty,
        } => place(id, buy, OrderKind::Limit, price, qty),
        Op::Market { id, buy: true, qty } => {
            place(id, true, OrderKind::Ioc, workload::MAX_PRICE_TICKS, qty)
        }
        Op::Market {
            id,
            buy: false,
            qty,
        } => place(id, false, OrderKind::Market, 0, qty),
        Op::Cancel { id } => Command::CancelOrder {
            user: user_of(id),
            // Workload ids are digits, so this is always a client id.
            target: workload_client_id(id).map_or(OrderTarget::Id(OrderId(0)), OrderTarget::Client),
        },
    }
}

fn command_id(n: u64) -> CommandId {
    CommandId(u128::from(n).to_le_bytes())
}

/// Latency percentiles in microseconds.
#[derive(serde::Serialize)]
struct Latency {
    count: usize,
    p50_us: f64,
    p99_us: f64,
    p99_9_us: f64,
    max_us: f64,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} / {:.1} / {:.1} / {:.1}",
            self.p50_us, self.p99_us, self.p99_9_us, self.max_us
        )
    }
}

/// The bench crate's nearest-rank percentiles, in microseconds.
fn percentiles(samples: &mut [u64]) -> Latency {
    let p = crate::stats::Percentiles::from_samples(samples);
    let us = |ns: u64| ns as f64 / 1e3;
    Latency {
        count: samples.len(),
        p50_us: us(p.p50_ns),
        p99_us: us(p.p99_ns),
        p99_9_us: us(p.p99_9_ns),
        max_us: us(p.max_ns),
    }
}

fn journal(scratch: &Path) -> Result<()> {
    let book = workload::generate(&workload::BOOK_A);
    let mut payloads = Vec::new();
    for (n, op) in book.ops.iter().enumerate().take(JOURNAL_RECORDS_PER_SIZE) {
        let header = CommandHeader {
            seq: n as u64 + 1,
            timestamp_ms: 0,
            id: command_id(n as u64),
        };
        payloads.push(codec::encode_command(&header, &command_of(op)));
    }
    let mean_bytes =
        payloads.iter().map(Vec::len).sum::<usize>() as f64 / payloads.len().max(1) as f64;
    println!(
        "| JOURNAL batch | records | records/s | commit p50 / p99 / p99.9 / max (µs) |\n|---|---|---|---|"
    );
    for &batch in JOURNAL_BATCHES {
        let dir = scratch.join(format!("journal-{batch}"));
        let (mut journal, _) = Journal::open(&dir, JournalOptions::default())?;
        let mut seq = 0_u64;
        let mut commit_ns = Vec::new();
        let started = Instant::now();
        for chunk in payloads.chunks(batch).take(JOURNAL_COMMITS_MAX) {
            for payload in chunk {
                seq += 1;
                journal.append(seq, payload)?;
            }
            let commit_started = Instant::now();
            journal.commit()?;
            commit_ns.push(u64::try_from(commit_started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
        let elapsed = started.elapsed().as_secs_f64();
        let stats = percentiles(&mut commit_ns);
        let line = json!({"benchmark": "journal", "fsync": "always", "records_per_commit": batch, "records": seq,
                          "record_bytes_mean": mean_bytes, "records_per_s": seq as f64 / elapsed,
                          "commits_per_s": commit_ns.len() as f64 / elapsed, "commit": stats});
        println!("{line}");
        println!(
            "| {batch} | {seq} | {:.0} | {stats} |",
            seq as f64 / elapsed
        );
        drop(journal);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// Submits a command and blocks until its durable receipt (for setup and prefill).
fn submit_wait(
    handle: &bulwark_sequencer::SequencerHandle,
    n: u64,
    command: Command,
) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    loop {
        let tx = tx.clone();
        match handle.submit_with(
            command_id(n),
            command.clone(),
            Reply::Callback(Box::new(move |r| {
                let _ = tx.send(r);
            })),
        ) {
            Ok(()) => break,
            Err(SubmitError::Busy) => std::thread::sleep(Duration::from_micros(100)),
            Err(error) => return Err(error.into()),
        }
    }
    rx.recv()
        .map_err(|_| PipelineBenchError::Stopped)?
        .outcome
        .map_err(|r| PipelineBenchError::Rejected(r.to_string()))?;
    Ok(())
}

fn durable(args: &PipelineArgs, scratch: &Path) -> Result<()> {
    let book = workload::generate(&workload::BOOK_A);
    println!(
        "| DURABLE offered ops/s | completed | sustained ops/s | ack p50 / p99 / p99.9 / max (µs) | busy | rejected | fsyncs/s |\n|---|---|---|---|---|---|---|"
    );
    for &rate in &args.rates {
        let dir = scratch.join(format!("durable-{rate}"));
        let run = durable_rate(&book, rate, args.snapshot_every, &dir)?;
        let _ = std::fs::remove_dir_all(&dir);
        println!("{}", run.json);
        println!(
            "| {rate} | {} | {:.0} | {} | {} | {} | {:.0} |",
            run.ack.count, run.sustained, run.ack, run.busy, run.rejected, run.fsyncs_per_s
        );
    }
    Ok(())
}

/// What one DURABLE run measured.
struct DurableRun {
    ack: Latency,
    sustained: f64,
    busy: u64,
    rejected: u64,
    fsyncs_per_s: f64,
    json: serde_json::Value,
}

/// Concurrent login attempts the LOGINFLOOD run keeps in flight (far above the pool's limits).
const FLOOD_CLIENTS: usize = 256;

/// Flood clients back off this long after a `Busy` refusal (a refused HTTP request costs the
/// attacker a round trip too).
const FLOOD_BACKOFF_MS: u64 = 1;

/// DURABLE at one offered rate, alone and then while `FLOOD_CLIENTS` tasks verify passwords
/// through an argon2 pool at policy parameters as fast as it lets them (twice the default
/// workers, then the default); reports order acknowledgement latency for each and the flood's
/// throughput.
fn login_flood(args: &PipelineArgs, scratch: &Path) -> Result<()> {
    use bulwark_identity::password::{DEFAULT_HASH_QUEUE, default_hash_workers};

    let book = workload::generate(&workload::BOOK_A);
    let rate = args.rates.first().copied().unwrap_or(20_000);
    let quiet = durable_rate(
        &book,
        rate,
        args.snapshot_every,
        &scratch.join("flood-quiet"),
    )?;
    println!(
        "| LOGINFLOOD offered ops/s | argon2 workers | ack p50 / p99 / p99.9 / max (µs) | sustained ops/s | flood verifications/s | busy refusals/s |\n|---|---|---|---|---|---|"
    );
    let quiet_line = json!({"benchmark": "loginflood", "workload": "BOOK-A", "fsync": "always",
        "offered_ops_per_s": rate, "flood": false, "ack": quiet.ack, "sustained_ops_per_s": quiet.sustained});
    println!("{quiet_line}");
    println!(
        "| {rate} | no flood | {} | {:.0} | – | – |",
        quiet.ack, quiet.sustained
    );
    // The default (half the cores) and twice that, to show what the limit buys.
    let default = default_hash_workers();
    for workers in [default * 2, default] {
        let dir = scratch.join(format!("flood-{workers}"));
        let flood = flooded_run(
            &book,
            rate,
            args.snapshot_every,
            workers,
            DEFAULT_HASH_QUEUE,
            &dir,
        )?;
        let line = json!({"benchmark": "loginflood", "workload": "BOOK-A", "fsync": "always",
            "offered_ops_per_s": rate, "flood": true, "flood_clients": FLOOD_CLIENTS,
            "flood_backoff_ms": FLOOD_BACKOFF_MS, "hash_workers": workers,
            "hash_queue": DEFAULT_HASH_QUEUE, "argon2": "id m=64MiB t=3 p=1",
            "ack": flood.run.ack, "sustained_ops_per_s": flood.run.sustained,
            "busy": flood.run.busy, "flood_verifications_per_s": flood.verifications_per_s,
            "flood_busy_refusals_per_s": flood.refusals_per_s});
        println!("{line}");
        println!(
            "| {rate} | {workers} | {} | {:.0} | {:.1} | {:.0} |",
            flood.run.ack, flood.run.sustained, flood.verifications_per_s, flood.refusals_per_s
        );
    }
    Ok(())
}

/// A DURABLE run during a login flood.
struct FloodedRun {
    run: DurableRun,
    verifications_per_s: f64,
    refusals_per_s: f64,
}

fn flooded_run(
    book: &workload::Workload,
    rate: u64,
    snapshot_every: u64,
    workers: usize,
    queue: usize,
    dir: &Path,
) -> Result<FloodedRun> {
    use bulwark_identity::password::{HashParams, HashPool, PasswordError};
    use std::sync::atomic::AtomicBool;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let pool = HashPool::new(HashParams::POLICY, workers, queue);
    runtime.block_on(pool.warm_up())?;
    let stop = Arc::new(AtomicBool::new(false));
    let verified = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    for _ in 0..FLOOD_CLIENTS {
        let (pool, stop) = (pool.clone(), Arc::clone(&stop));
        let (verified, refused) = (Arc::clone(&verified), Arc::clone(&refused));
        runtime.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match pool.verify_dummy("a flood of wrong passwords".into()).await {
                    Ok(()) => {
                        verified.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(PasswordError::Busy) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(FLOOD_BACKOFF_MS)).await;
                    }
                    Err(_) => break,
                }
            }
        });
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = (
        verified.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    let start = Instant::now();
    let run = durable_rate(book, rate, snapshot_every, dir)?;
    let seconds = start.elapsed().as_secs_f64();
    let verifications_per_s = (verified.load(Ordering::Relaxed) - before.0) as f64 / seconds;
    let refusals_per_s = (refused.load(Ordering::Relaxed) - before.1) as f64 / seconds;
    stop.store(true, Ordering::Relaxed);
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(FloodedRun {
        run,
        verifications_per_s,
        refusals_per_s,
    })
}

fn durable_rate(
    book: &workload::Workload,
    rate: u64,
    snapshot_every: u64,
    dir: &Path,
) -> Result<DurableRun> {
    let recovered = bulwark_sequencer::recover(
        &dir.join("journal"),
        &dir.join("snapshots"),
        JournalOptions::default(),
        0,
        &mut |_, _| {},
    )?;
    let mut options = SequencerOptions::new(dir.join("snapshots"));
    options.snapshot_every_commands = snapshot_every;
    options.order_queue_max = 1 << 20;
    let sequencer = Sequencer::start(recovered.engine, recovered.journal, options, Vec::new())?;
    let handle = sequencer.handle();
    let mut n = 0_u64;
    for command in setup_commands()
        .into_iter()
        .chain(book.prefill.iter().map(command_of))
    {
        n += 1;
        submit_wait(&handle, n, command)?;
    }
    let count = usize::try_from((rate * DURABLE_SECONDS).min(book.ops.len() as u64)).unwrap_or(0);
    let done: Arc<Vec<AtomicU64>> = Arc::new((0..count).map(|_| AtomicU64::new(0)).collect());
    let rejected = Arc::new(AtomicU64::new(0));
    let completed = Arc::new(AtomicU64::new(0));
    let (_, batches_before, _) = handle.counters();
    let interval_ns = 1_000_000_000 / rate.max(1);
    let start = Instant::now();
    let mut busy = 0_u64;
    for (i, op) in book.ops.iter().take(count).enumerate() {
        let scheduled = Duration::from_nanos(interval_ns * i as u64);
        // Clients do not run on the server's cores: sleep until the op is due instead of
        // spinning, and submit whatever is due in a burst.
        let elapsed = start.elapsed();
        if scheduled > elapsed + Duration::from_micros(GENERATOR_SLEEP_MIN_US) {
            std::thread::sleep(scheduled - elapsed);
        }
        let (done, rejected, completed) = (
            Arc::clone(&done),
            Arc::clone(&rejected),
            Arc::clone(&completed),
        );
        let reply = Reply::Callback(Box::new(move |receipt| {
            let at = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if let Some(slot) = done.get(i) {
                slot.store(at.max(1), Ordering::Relaxed);
            }
            if receipt.outcome.is_err() {
                rejected.fetch_add(1, Ordering::Relaxed);
            }
            completed.fetch_add(1, Ordering::Release);
        }));
        n += 1;
        if handle
            .submit_with(command_id(n), command_of(op), reply)
            .is_err()
        {
            busy += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while completed.load(Ordering::Acquire) + busy < count as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (_, batches_after, _) = handle.counters();
    sequencer.shutdown();
    let mut latencies: Vec<u64> = done
        .iter()
        .enumerate()
        .filter_map(|(i, at)| {
            let at = at.load(Ordering::Relaxed);
            (at > 0).then(|| at.saturating_sub(interval_ns * i as u64))
        })
        .collect();
    let last_done = done
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .max()
        .unwrap_or(1)
        .max(1);
    let sustained = latencies.len() as f64 / (last_done as f64 / 1e9);
    let fsyncs = (batches_after - batches_before) as f64 / (last_done as f64 / 1e9);
    let stats = percentiles(&mut latencies);
    let rejected = rejected.load(Ordering::Relaxed);
    let line = json!({"benchmark": "durable", "workload": "BOOK-A", "fsync": "always", "offered_ops_per_s": rate,
                      "submitted": count, "completed": stats.count, "busy": busy, "rejected": rejected,
                      "sustained_ops_per_s": sustained, "fsyncs_per_s": fsyncs, "ack": stats});
    let _ = std::fs::remove_dir_all(dir);
    Ok(DurableRun {
        ack: stats,
        sustained,
        busy,
        rejected,
        fsyncs_per_s: fsyncs,
        json: line,
    })
}

/// A journal and snapshot directory as RECOVERY replays them: the setup and the prefill, a
/// snapshot, then `commands` workload commands after it.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryJournal {
    /// Seq of the snapshot; replay starts after it.
    pub snapshot_seq: u64,
    /// Commands in the journal after the snapshot.
    pub tail: u64,
    /// State hash of the engine that wrote the journal, after its last command.
    pub live_hash: [u8; 32],
}

/// Writes RECOVERY's journal (BOOK-A extended to `commands` ops, orders with client ids) into
/// `journal_dir`, with one snapshot after setup and prefill in `snapshot_dir`. The end-to-end
/// restart benchmark lays the same files out as an exchange's data directory.
pub fn write_recovery_journal(
    commands: u32,
    journal_dir: &Path,
    snapshot_dir: &Path,
) -> Result<RecoveryJournal> {
    let spec = WorkloadSpec {
        name: RECOVERY_WORKLOAD,
        measured_ops: commands,
        ..workload::BOOK_A
    };
    let book = workload::generate(&spec);
    std::fs::create_dir_all(snapshot_dir)?;
    let build_options = JournalOptions {
        fsync: FsyncPolicy::Never,
        ..JournalOptions::default()
    };
    let (mut journal, _) = Journal::open(journal_dir, build_options)?;
    let mut engine = Engine::new();
    let mut events = Vec::new();
    let mut buf = Vec::new();
    let mut seq = 0_u64;
    let mut apply = |engine: &mut Engine, journal: &mut Journal, command: &Command| -> Result<()> {
        seq += 1;
        let header = header_of(seq);
        buf.clear();
        codec::encode_command_into(&header, command, &mut buf);
        journal.append(seq, &buf)?;
        events.clear();
        let _ = engine.apply(&header, command, &mut events);
        if seq.is_multiple_of(4_096) {
            journal.commit()?;
        }
        Ok(())
    };
    for command in start_commands(&book) {
        apply(&mut engine, &mut journal, &command)?;
    }
    journal.commit()?;
    let payload = engine.encode_snapshot();
    bulwark_journal::write_snapshot(
        snapshot_dir,
        engine.last_seq(),
        bulwark_engine::snapshot_hash(&payload),
        &payload,
    )?;
    let snapshot_seq = engine.last_seq();
    for op in &book.ops {
        apply(&mut engine, &mut journal, &command_of(op))?;
    }
    journal.commit()?;
    drop(journal);
    Ok(RecoveryJournal {
        snapshot_seq,
        tail: engine.last_seq() - snapshot_seq,
        live_hash: engine.state_hash(),
    })
}

/// The header of the `seq`th command of a journal a benchmark writes (its clock is the seq).
fn header_of(seq: u64) -> CommandHeader {
    CommandHeader {
        seq,
        timestamp_ms: i64::try_from(seq).unwrap_or(0),
        id: command_id(seq),
    }
}

/// The setup (assets, market, funded users) and the workload's prefill, as commands.
fn start_commands(book: &workload::Workload) -> Vec<Command> {
    let mut commands = setup_commands();
    commands.extend(book.prefill.iter().map(command_of));
    commands
}

/// SNAPSHOT: what taking a snapshot stops the engine for. The engine has run BOOK-A (setup,
/// prefill, 1 M ops, so its idempotency window is full); each run times the copy the sequencer
/// now takes on the engine thread, the work the engine thread did before (the state hash, which
/// encodes the state, then a second encoding for the file), and the work the snapshot thread now
/// does on the copy (one encoding and its hash).
fn snapshot(args: &PipelineArgs) -> Result<()> {
    let book = workload::generate(&workload::BOOK_A);
    let mut engine = Engine::new();
    let mut events = Vec::new();
    let ops = book.ops.iter().map(command_of);
    for (seq, command) in (1_u64..).zip(start_commands(&book).into_iter().chain(ops)) {
        events.clear();
        let _ = engine.apply(&header_of(seq), &command, &mut events);
    }
    let (mut copy_s, mut before_s, mut thread_s) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let copy = engine.clone();
        copy_s.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let hash = engine.state_hash();
        let payload = engine.encode_snapshot();
        before_s.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let copied = copy.encode_snapshot();
        let copied_hash = bulwark_engine::snapshot_hash(&copied);
        thread_s.push(started.elapsed().as_secs_f64());
        if copied_hash != hash || copied != payload {
            return Err(PipelineBenchError::HashMismatch);
        }
        bytes = payload.len();
    }
    let ms = |seconds: &mut Vec<f64>| {
        let (best, median) = fastest_and_median(seconds);
        (best * 1e3, median * 1e3)
    };
    let (copy, before, thread) = (ms(&mut copy_s), ms(&mut before_s), ms(&mut thread_s));
    let line = json!({"benchmark": "snapshot", "workload": workload::BOOK_A.name,
                      "last_seq": engine.last_seq(), "snapshot_bytes": bytes,
                      "engine_pause_copy_ms": {"best": copy.0, "median": copy.1},
                      "engine_pause_before_ms": {"best": before.0, "median": before.1},
                      "snapshot_thread_ms": {"best": thread.0, "median": thread.1}});
    println!("{line}");
    println!(
        "| SNAPSHOT | {bytes} bytes at seq {} | engine stops for the copy: {:.2} ms best, {:.2} ms median | before (hash + encode on the engine thread): {:.2} / {:.2} ms | snapshot thread (encode + hash): {:.2} / {:.2} ms |",
        engine.last_seq(),
        copy.0,
        copy.1,
        before.0,
        before.1,
        thread.0,
        thread.1
    );
    Ok(())
}

/// Name of RECOVERY's workload in results.
pub const RECOVERY_WORKLOAD: &str = "BOOK-A-long";

fn recovery(args: &PipelineArgs, scratch: &Path) -> Result<()> {
    let journal_dir = scratch.join("journal");
    let snapshot_dir = scratch.join("snapshots");
    let RecoveryJournal {
        snapshot_seq,
        tail,
        live_hash,
    } = write_recovery_journal(args.recovery_commands, &journal_dir, &snapshot_dir)?;
    let mut seconds = Vec::new();
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        let recovered = bulwark_sequencer::recover(
            &journal_dir,
            &snapshot_dir,
            JournalOptions::default(),
            u64::MAX,
            &mut |_, _| {},
        )?;
        seconds.push(started.elapsed().as_secs_f64());
        if recovered.engine.state_hash() != live_hash {
            return Err(PipelineBenchError::HashMismatch);
        }
    }
    let (best, median) = fastest_and_median(&mut seconds);
    let line = json!({"benchmark": "recovery", "workload": RECOVERY_WORKLOAD, "snapshot_seq": snapshot_seq, "replayed": tail,
                      "best_s": best, "median_s": median, "best_commands_per_s": tail as f64 / best,
                      "median_commands_per_s": tail as f64 / median, "hash_equal": true});
    println!("{line}");
    println!(
        "| RECOVERY | {tail} commands after a snapshot at seq {snapshot_seq} | best {:.2} M/s ({best:.2} s) | median {:.2} M/s | hash equal |",
        tail as f64 / best / 1e6,
        tail as f64 / median / 1e6
    );
    Ok(())
}
