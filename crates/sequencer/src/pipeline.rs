//! The two threads: the sequencer applies, the writer makes durable and then releases.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use bulwark_engine::{COMMAND_KINDS, Command, CommandHeader, Engine, Event, MarketId, codec};
use bulwark_journal::Journal;
use bulwark_types::CommandId;
use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded, select};

use crate::lanes::{
    Control, Delivery, Query, Receipt, Reply, Submission, SubmitError, is_priority,
};
use crate::view::{Catalog, DepthView};

/// Commands one batch (one fsync) may hold at most. Bounds ack latency under load.
pub const BATCH_COMMANDS_MAX: usize = 8_192;
/// Batches in flight between the sequencer and the writer: the sequencer can run one batch
/// ahead of the disk, no more, so memory stays bounded when the disk is slow.
pub const WRITER_QUEUE_BATCHES_MAX: usize = 4;
/// Depth levels per side published for market data.
pub const DEPTH_LEVELS_MAX: usize = 50;

/// Tuning of the pipeline.
#[derive(Clone, Debug)]
pub struct SequencerOptions {
    /// Where snapshots go.
    pub snapshot_dir: PathBuf,
    /// A snapshot is taken after this many commands since the last one (0 = never, except at
    /// shutdown).
    pub snapshot_every_commands: u64,
    /// Capacity of the order lane.
    pub order_queue_max: usize,
    /// Capacity of the priority lane (cancels, halts).
    pub priority_queue_max: usize,
    /// The journal's directory and the free space kept in reserve there: below it (or when the
    /// directory takes no writes) commands are refused. `None`: not watched (benchmarks, tests).
    pub journal_space: Option<(PathBuf, u64)>,
}

impl SequencerOptions {
    /// Defaults for a data directory's snapshot folder.
    pub fn new(snapshot_dir: PathBuf) -> SequencerOptions {
        SequencerOptions {
            snapshot_dir,
            snapshot_every_commands: 100_000,
            order_queue_max: 65_536,
            priority_queue_max: 16_384,
            journal_space: None,
        }
    }
}

/// One event with the command that produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequencedEvent {
    pub seq: u64,
    pub timestamp_ms: i64,
    pub event: Event,
}

/// Every event of one durable batch, covering commands `first_seq..=last_seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventBatch {
    pub first_seq: u64,
    pub last_seq: u64,
    pub events: Vec<SequencedEvent>,
}

struct Shared {
    durable_seq: AtomicU64,
    durable_tx: tokio::sync::watch::Sender<u64>,
    catalog: RwLock<Arc<Catalog>>,
    depth: RwLock<Vec<Arc<DepthView>>>,
    commands_total: AtomicU64,
    batches_total: AtomicU64,
    fsync_nanos_total: AtomicU64,
    /// Per command kind (`COMMAND_KINDS`): accepted, rejected. Written by the sequencer thread
    /// only, read at scrape time.
    by_kind: [[AtomicU64; 2]; COMMAND_KINDS.len()],
    /// Room in the journal; `None` when not watched.
    space: Option<Arc<crate::space::Space>>,
}

/// What operators watch: the pipeline's counters and queues at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequencerStats {
    pub durable_seq: u64,
    pub commands: u64,
    pub batches: u64,
    /// Time spent writing and syncing batches, in nanoseconds.
    pub write_nanos: u64,
    /// Commands waiting in the order lane and in the priority lane (cancels, deposits, …).
    pub order_queue: usize,
    pub priority_queue: usize,
    /// (kind, accepted, rejected) for every command kind.
    pub by_kind: Vec<(&'static str, u64, u64)>,
}

/// A cheap, cloneable way in.
#[derive(Clone)]
pub struct SequencerHandle {
    orders: Sender<Submission>,
    priority: Sender<Submission>,
    control: Sender<Control>,
    shared: Arc<Shared>,
}

/// The running pipeline; dropping it without `shutdown` leaves the threads running.
pub struct Sequencer {
    handle: SequencerHandle,
    threads: Vec<JoinHandle<()>>,
}

struct Batch {
    payloads: Vec<u8>,
    records: Vec<(u64, usize, usize)>,
    replies: Vec<(Reply, Receipt)>,
    events: Vec<SequencedEvent>,
    deliveries: Vec<Delivery>,
    catalog: Option<Catalog>,
    depth: Vec<(MarketId, DepthView)>,
    /// A copy of the engine as of `last_seq`, taken when a snapshot is due; encoded, hashed and
    /// written by the snapshot thread once the batch is durable.
    snapshot: Option<Box<Engine>>,
    first_seq: u64,
    last_seq: u64,
    shutdown: bool,
}

/// How big the last batch was: the next one starts with that much room. Under load batches
/// hold thousands of commands (megabytes of events), and growing each vector from empty by
/// doubling copied all of it again and again on the sequencer thread.
#[derive(Clone, Copy, Default)]
struct BatchSizes {
    payload_bytes: usize,
    records: usize,
    events: usize,
}

impl BatchSizes {
    fn of(batch: &Batch) -> BatchSizes {
        BatchSizes {
            payload_bytes: batch.payloads.len(),
            records: batch.records.len(),
            events: batch.events.len(),
        }
    }
}

impl Batch {
    fn new(next_seq: u64, room: BatchSizes) -> Batch {
        Batch {
            payloads: Vec::with_capacity(room.payload_bytes),
            records: Vec::with_capacity(room.records),
            replies: Vec::with_capacity(room.records),
            events: Vec::with_capacity(room.events),
            deliveries: Vec::new(),
            catalog: None,
            depth: Vec::new(),
            snapshot: None,
            first_seq: next_seq,
            last_seq: next_seq.saturating_sub(1),
            shutdown: false,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Sequencer {
    /// Starts both threads over a recovered engine and an open journal. `subscribers` receive
    /// every durable batch of events in order (the projector); a full subscriber slows the
    /// pipeline down rather than losing events.
    pub fn start(
        engine: Engine,
        journal: Journal,
        options: SequencerOptions,
        subscribers: Vec<std::sync::mpsc::SyncSender<Arc<EventBatch>>>,
    ) -> std::io::Result<Sequencer> {
        let (orders_tx, orders_rx) = bounded(options.order_queue_max);
        let (priority_tx, priority_rx) = bounded(options.priority_queue_max);
        let (control_tx, control_rx) = bounded(1_024);
        let (writer_tx, writer_rx) = bounded::<Batch>(WRITER_QUEUE_BATCHES_MAX);
        let durable = engine.last_seq();
        let (durable_tx, _) = tokio::sync::watch::channel(durable);
        let catalog = Catalog::from_engine(&engine);
        let depth = (0..catalog.markets.len())
            .map(|i| {
                let id = MarketId(u32::try_from(i).unwrap_or(u32::MAX));
                Arc::new(depth_view(&engine, id, durable, 0))
            })
            .collect();
        let shared = Arc::new(Shared {
            durable_seq: AtomicU64::new(durable),
            durable_tx,
            catalog: RwLock::new(Arc::new(catalog)),
            depth: RwLock::new(depth),
            commands_total: AtomicU64::new(0),
            batches_total: AtomicU64::new(0),
            fsync_nanos_total: AtomicU64::new(0),
            by_kind: std::array::from_fn(|_| [AtomicU64::new(0), AtomicU64::new(0)]),
            space: match &options.journal_space {
                Some((dir, reserve)) => Some(crate::space::watch(dir.clone(), *reserve)?),
                None => None,
            },
        });
        let lanes = Lanes {
            orders: orders_rx,
            priority: priority_rx,
            control: control_rx,
        };
        let (snapshot_tx, snapshot_rx) = bounded(SNAPSHOTS_QUEUED_MAX);
        let snapshot_dir = options.snapshot_dir.clone();
        let snapshot_thread = std::thread::Builder::new()
            .name("snapshot-writer".into())
            .spawn(move || snapshot_loop(&snapshot_dir, snapshot_rx))?;
        let stepper_shared = Arc::clone(&shared);
        let sequencer_thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || sequencer_loop(engine, lanes, writer_tx, options, stepper_shared))?;
        let writer_shared = Arc::clone(&shared);
        let writer_thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || {
                writer_loop(journal, snapshot_tx, writer_rx, writer_shared, subscribers)
            })?;
        Ok(Sequencer {
            handle: SequencerHandle {
                orders: orders_tx,
                priority: priority_tx,
                control: control_tx,
                shared,
            },
            // Joined in this order: the writer hands the final snapshot on before it ends, and
            // the snapshot thread ends once it has written what it was handed.
            threads: vec![sequencer_thread, writer_thread, snapshot_thread],
        })
    }

    pub fn handle(&self) -> SequencerHandle {
        self.handle.clone()
    }

    /// Stops taking work, writes a final snapshot after the last durable batch and joins both
    /// threads.
    pub fn shutdown(self) {
        let _ = self.handle.control.send(Control::Shutdown);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

impl SequencerHandle {
    /// Queues a command; the reply is delivered once it is durable. Fails fast with `Busy` when
    /// its lane is full.
    pub fn submit_with(
        &self,
        id: CommandId,
        command: Command,
        reply: Reply,
    ) -> Result<(), SubmitError> {
        if let Some(reason) = self.shared.space.as_ref().and_then(|s| s.refusal()) {
            return Err(SubmitError::Unwritable(reason));
        }
        let lane = if is_priority(&command) {
            &self.priority
        } else {
            &self.orders
        };
        lane.try_send(Submission { id, command, reply })
            .map_err(|error| match error {
                crossbeam_channel::TrySendError::Full(_) => SubmitError::Busy,
                crossbeam_channel::TrySendError::Disconnected(_) => SubmitError::Stopped,
            })
    }

    /// Queues a command and waits for its durable receipt (the wait is the acknowledgement
    /// latency operators watch).
    pub async fn submit(&self, id: CommandId, command: Command) -> Result<Receipt, SubmitError> {
        let started = std::time::Instant::now();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit_with(id, command, Reply::Channel(tx))?;
        let receipt = rx.await.map_err(|_| SubmitError::Stopped)?;
        metrics::histogram!("bulwark_ack_seconds").record(started.elapsed().as_secs_f64());
        Ok(receipt)
    }

    /// Reads engine state. The answer reflects every command sequenced before it and is handed
    /// back only after those commands are durable.
    pub async fn query<R, F>(&self, read: F) -> Result<R, SubmitError>
    where
        R: Send + 'static,
        F: FnOnce(&Engine) -> R + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let query: Query = Box::new(move |engine: &Engine| {
            let answer = read(engine);
            let delivery: Delivery = Box::new(move || {
                let _ = tx.send(answer);
            });
            delivery
        });
        self.control
            .try_send(Control::Query(query))
            .map_err(|error| match error {
                crossbeam_channel::TrySendError::Full(_) => SubmitError::Busy,
                crossbeam_channel::TrySendError::Disconnected(_) => SubmitError::Stopped,
            })?;
        rx.await.map_err(|_| SubmitError::Stopped)
    }

    /// Highest sequence number known durable.
    pub fn durable_seq(&self) -> u64 {
        self.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Watch of the durable sequence number.
    pub fn durable_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.durable_tx.subscribe()
    }

    /// Assets, markets and halts as of the last durable batch.
    pub fn catalog(&self) -> Arc<Catalog> {
        match self.shared.catalog.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Top of the book of one market as of the last durable batch that touched it.
    pub fn depth(&self, market: MarketId) -> Option<Arc<DepthView>> {
        let guard = match self.shared.depth.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.get(usize::try_from(market.0).ok()?).cloned()
    }

    /// Counters for metrics: (commands, batches, total fsync nanoseconds).
    pub fn counters(&self) -> (u64, u64, u64) {
        (
            self.shared.commands_total.load(Ordering::Relaxed),
            self.shared.batches_total.load(Ordering::Relaxed),
            self.shared.fsync_nanos_total.load(Ordering::Relaxed),
        )
    }

    /// The pipeline's counters and queue depths now.
    pub fn stats(&self) -> SequencerStats {
        let (commands, batches, write_nanos) = self.counters();
        SequencerStats {
            durable_seq: self.durable_seq(),
            commands,
            batches,
            write_nanos,
            order_queue: self.orders.len(),
            priority_queue: self.priority.len(),
            by_kind: COMMAND_KINDS
                .iter()
                .zip(&self.shared.by_kind)
                .map(|(kind, [accepted, rejected])| {
                    (
                        *kind,
                        accepted.load(Ordering::Relaxed),
                        rejected.load(Ordering::Relaxed),
                    )
                })
                .collect(),
        }
    }
}

struct Lanes {
    orders: Receiver<Submission>,
    priority: Receiver<Submission>,
    control: Receiver<Control>,
}

enum Work {
    Command(Submission),
    Control(Control),
    Closed,
}

fn wait_for_work(lanes: &Lanes) -> Work {
    select! {
        recv(lanes.priority) -> m => m.map(Work::Command).unwrap_or(Work::Closed),
        recv(lanes.control) -> m => m.map(Work::Control).unwrap_or(Work::Closed),
        recv(lanes.orders) -> m => m.map(Work::Command).unwrap_or(Work::Closed),
    }
}

struct Stepper {
    engine: Engine,
    shared: Arc<Shared>,
    last_timestamp_ms: i64,
    last_snapshot_seq: u64,
    events: Vec<Event>,
    touched: BTreeSet<MarketId>,
}

impl Stepper {
    fn apply(&mut self, batch: &mut Batch, submission: Submission) {
        let seq = self.engine.last_seq() + 1;
        let timestamp_ms = now_ms().max(self.last_timestamp_ms);
        self.last_timestamp_ms = timestamp_ms;
        let header = CommandHeader {
            seq,
            timestamp_ms,
            id: submission.id,
        };
        let start = batch.payloads.len();
        codec::encode_command_into(&header, &submission.command, &mut batch.payloads);
        batch.records.push((seq, start, batch.payloads.len()));
        self.events.clear();
        let outcome = self
            .engine
            .apply(&header, &submission.command, &mut self.events);
        if let Some(count) = self
            .shared
            .by_kind
            .get(submission.command.kind_index())
            .and_then(|counts| counts.get(usize::from(outcome.is_err())))
        {
            count.fetch_add(1, Ordering::Relaxed);
        }
        for event in self.events.drain(..) {
            match &event {
                Event::Order(order) => {
                    self.touched.insert(order.market);
                }
                Event::Trade(trade) => {
                    self.touched.insert(trade.market);
                }
                Event::AssetAdded { .. }
                | Event::MarketAdded { .. }
                | Event::MarketHalted { .. }
                | Event::GlobalHalted { .. }
                | Event::SafeguardShareSet { .. } => batch.catalog = Some(Catalog::default()),
                Event::Balance { .. } | Event::System { .. } | Event::Trigger(_) => {}
            }
            batch.events.push(SequencedEvent {
                seq,
                timestamp_ms,
                event,
            });
        }
        batch.last_seq = seq;
        batch.replies.push((
            submission.reply,
            Receipt {
                seq,
                timestamp_ms,
                outcome,
            },
        ));
    }

    fn finish(&mut self, batch: &mut Batch, options: &SequencerOptions) {
        if batch.catalog.is_some() {
            let catalog = Catalog::from_engine(&self.engine);
            self.touched.extend(catalog.markets.iter().map(|m| m.id));
            batch.catalog = Some(catalog);
        }
        for market in std::mem::take(&mut self.touched) {
            let view = depth_view(&self.engine, market, batch.last_seq, self.last_timestamp_ms);
            batch.depth.push((market, view));
        }
        let seq = self.engine.last_seq();
        let due = options.snapshot_every_commands > 0
            && seq >= self.last_snapshot_seq + options.snapshot_every_commands;
        if (due || batch.shutdown) && seq > self.last_snapshot_seq {
            // Copying is all the engine stops for; encoding and hashing the copy (several
            // times longer) happen on the snapshot thread while the engine goes on.
            batch.snapshot = Some(Box::new(self.engine.clone()));
            self.last_snapshot_seq = seq;
        }
    }
}

fn depth_view(engine: &Engine, market: MarketId, seq: u64, timestamp_ms: i64) -> DepthView {
    let depth = engine.depth(market, DEPTH_LEVELS_MAX);
    DepthView {
        bids: depth.as_ref().map(|d| d.bids.clone()).unwrap_or_default(),
        asks: depth.map(|d| d.asks).unwrap_or_default(),
        seq,
        timestamp_ms,
        last_price_ticks: engine.last_price(market),
    }
}

fn sequencer_loop(
    engine: Engine,
    lanes: Lanes,
    writer: Sender<Batch>,
    options: SequencerOptions,
    shared: Arc<Shared>,
) {
    let last_snapshot_seq = engine.last_seq();
    let mut stepper = Stepper {
        engine,
        shared,
        last_timestamp_ms: 0,
        last_snapshot_seq,
        events: Vec::new(),
        touched: BTreeSet::new(),
    };
    let mut room = BatchSizes::default();
    loop {
        let mut batch = Batch::new(stepper.engine.last_seq() + 1, room);
        match wait_for_work(&lanes) {
            Work::Command(submission) => stepper.apply(&mut batch, submission),
            Work::Control(control) => handle_control(&stepper, &mut batch, control),
            Work::Closed => batch.shutdown = true,
        }
        drain(&lanes, &mut stepper, &mut batch);
        stepper.finish(&mut batch, &options);
        room = BatchSizes::of(&batch);
        let shutdown = batch.shutdown;
        if writer.send(batch).is_err() || shutdown {
            return;
        }
    }
}

/// Takes what is already queued, priority lane first, up to the batch limit.
fn drain(lanes: &Lanes, stepper: &mut Stepper, batch: &mut Batch) {
    while !batch.shutdown && batch.records.len() < BATCH_COMMANDS_MAX {
        let submission = match lanes.priority.try_recv() {
            Ok(submission) => submission,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => match lanes.control.try_recv()
            {
                Ok(control) => {
                    handle_control(stepper, batch, control);
                    continue;
                }
                Err(_) => match lanes.orders.try_recv() {
                    Ok(submission) => submission,
                    Err(_) => return,
                },
            },
        };
        stepper.apply(batch, submission);
    }
}

fn handle_control(stepper: &Stepper, batch: &mut Batch, control: Control) {
    match control {
        Control::Query(query) => batch.deliveries.push(query(&stepper.engine)),
        Control::Shutdown => batch.shutdown = true,
    }
}

fn writer_loop(
    mut journal: Journal,
    snapshots: Sender<Box<Engine>>,
    batches: Receiver<Batch>,
    shared: Arc<Shared>,
    subscribers: Vec<std::sync::mpsc::SyncSender<Arc<EventBatch>>>,
) {
    for batch in batches {
        let started = std::time::Instant::now();
        if !batch.records.is_empty() {
            if let Err(error) = write_records(&mut journal, &batch) {
                // The engine is already ahead of the disk; continuing would acknowledge commands
                // that are not durable. Stop hard and let recovery replay the journal.
                tracing::error!(%error, "journal write failed; aborting");
                std::process::abort();
            }
            shared.durable_seq.store(batch.last_seq, Ordering::Release);
            shared.durable_tx.send_replace(batch.last_seq);
            shared
                .commands_total
                .fetch_add(batch.records.len() as u64, Ordering::Relaxed);
            shared.batches_total.fetch_add(1, Ordering::Relaxed);
            let elapsed = started.elapsed();
            let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            shared.fsync_nanos_total.fetch_add(nanos, Ordering::Relaxed);
            metrics::histogram!("bulwark_journal_commit_seconds").record(elapsed.as_secs_f64());
        }
        release(batch, &shared, &subscribers, &snapshots);
    }
}

fn write_records(
    journal: &mut Journal,
    batch: &Batch,
) -> Result<(), bulwark_journal::JournalError> {
    for &(seq, start, end) in &batch.records {
        let payload = batch.payloads.get(start..end).unwrap_or_default();
        journal.append(seq, payload)?;
    }
    journal.commit()?;
    Ok(())
}

fn release(
    batch: Batch,
    shared: &Shared,
    subscribers: &[std::sync::mpsc::SyncSender<Arc<EventBatch>>],
    snapshots: &Sender<Box<Engine>>,
) {
    publish_views(shared, batch.catalog, batch.depth);
    for (reply, receipt) in batch.replies {
        reply.deliver(receipt);
    }
    for delivery in batch.deliveries {
        delivery();
    }
    if !batch.records.is_empty() {
        let mut events = batch.events;
        // The batch was given the last one's room; subscribers may queue it for a while, so it
        // does not keep far more than it holds.
        if events.capacity() > 2 * events.len() {
            events.shrink_to_fit();
        }
        let events = Arc::new(EventBatch {
            first_seq: batch.first_seq,
            last_seq: batch.last_seq,
            events,
        });
        for subscriber in subscribers {
            let _ = subscriber.send(Arc::clone(&events));
        }
    }
    if let Some(engine) = batch.snapshot {
        // Handed on after the batch that reaches its seq is durable, so a snapshot never runs
        // ahead of the journal. The final one waits for room; a periodic one that finds the
        // thread still busy with the previous one is skipped, which costs only recovery time.
        let seq = engine.last_seq();
        let handed = if batch.shutdown {
            snapshots
                .send(engine)
                .map_err(|_| "the snapshot thread is gone")
        } else {
            snapshots.try_send(engine).map_err(|error| match error {
                crossbeam_channel::TrySendError::Full(_) => {
                    "the previous one is still being written"
                }
                crossbeam_channel::TrySendError::Disconnected(_) => "the snapshot thread is gone",
            })
        };
        if let Err(reason) = handed {
            tracing::warn!(seq, reason, "snapshot skipped");
        }
    }
}

/// Snapshots copied but not yet being written; more would only hold more copies of the state.
const SNAPSHOTS_QUEUED_MAX: usize = 1;

/// Encodes, hashes and writes the engine copies it is handed, until the writer is gone. A
/// failure only costs recovery time: the journal is the truth.
fn snapshot_loop(snapshot_dir: &std::path::Path, copies: Receiver<Box<Engine>>) {
    for engine in copies {
        let seq = engine.last_seq();
        let payload = engine.encode_snapshot();
        drop(engine);
        let hash = bulwark_engine::snapshot_hash(&payload);
        match bulwark_journal::write_snapshot(snapshot_dir, seq, hash, &payload) {
            Ok(path) => tracing::info!(seq, path = %path.display(), "snapshot written"),
            Err(error) => {
                tracing::warn!(seq, %error, "snapshot failed; the journal still holds everything")
            }
        }
    }
}

fn publish_views(shared: &Shared, catalog: Option<Catalog>, depth: Vec<(MarketId, DepthView)>) {
    if let Some(catalog) = catalog {
        let mut guard = match shared.catalog.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(catalog);
    }
    if depth.is_empty() {
        return;
    }
    let mut guard = match shared.depth.write() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    for (market, view) in depth {
        let Ok(index) = usize::try_from(market.0) else {
            continue;
        };
        if guard.len() <= index {
            guard.resize_with(index + 1, || Arc::new(DepthView::default()));
        }
        if let Some(slot) = guard.get_mut(index) {
            *slot = Arc::new(view);
        }
    }
}
