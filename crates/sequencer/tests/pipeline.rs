//! The pipeline end to end without HTTP: receipts arrive only after the journal holds the
//! command, queries see durable state, a clean shutdown writes a snapshot, and recovery from
//! snapshot + journal reproduces the exact state hash — with and without the snapshot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::sync::Arc;

use bulwark_engine::{
    Accepted, AssetId, AssetSpec, Command, Engine, MarketId, MarketSpec, NewOrder, OrderKind,
    StpMode,
};
use bulwark_journal::JournalOptions;
use bulwark_sequencer::{
    EventBatch, Recovered, RecoveryError, Reply, Sequencer, SequencerOptions, SubmitError, recover,
};
use bulwark_types::{CommandId, Side, UserId};

fn id(n: u64) -> CommandId {
    let mut bytes = [0_u8; 16];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    CommandId(bytes)
}

fn setup_commands() -> Vec<Command> {
    let asset = |code: &str| {
        Command::AddAsset(AssetSpec {
            code: code.into(),
            name: code.into(),
            scale: 8,
        })
    };
    vec![
        asset("BTC"),
        asset("USDT"),
        Command::AddMarket(MarketSpec {
            symbol: "BTC_USDT".into(),
            base: AssetId(0),
            quote: AssetId(1),
            price_scale: 2,
            size_scale: 5,
            min_size_lots: 1,
            max_size_lots: 1_000_000_000,
            max_price_ticks: 100_000_000,
            min_notional: 0,
            maker_fee_ppm: 1_000,
            taker_fee_ppm: 2_000,
        }),
        Command::Deposit {
            user: UserId(1),
            asset: AssetId(0),
            amount: 100_000_000,
            reference: "d1".into(),
        },
        Command::Deposit {
            user: UserId(2),
            asset: AssetId(1),
            amount: 10_000_000_000_000,
            reference: "d2".into(),
        },
    ]
}

fn order(user: u64, side: Side, price_ticks: i64, size_lots: i64) -> Command {
    Command::PlaceOrder(NewOrder {
        user: UserId(user),
        market: MarketId(0),
        side,
        kind: OrderKind::Limit,
        price_ticks,
        size_lots,
        notional: 0,
        client_order_id: None,
        stp: StpMode::DEFAULT,
    })
}

/// Recovers from `data`'s journal and snapshots with the projections at `projected_seq`,
/// ignoring the catch-up events.
fn recover_dir(data: &Path, projected_seq: u64) -> Result<Recovered, RecoveryError> {
    recover(
        &data.join("journal"),
        &data.join("snapshots"),
        JournalOptions::default(),
        projected_seq,
        &mut |_, _| {},
    )
}

fn start(
    data: &Path,
    snapshot_every: u64,
) -> (Sequencer, std::sync::mpsc::Receiver<Arc<EventBatch>>) {
    let recovered = recover_dir(data, u64::MAX).unwrap();
    let mut options = SequencerOptions::new(data.join("snapshots"));
    options.snapshot_every_commands = snapshot_every;
    let (tx, rx) = std::sync::mpsc::sync_channel(1024);
    (
        Sequencer::start(recovered.engine, recovered.journal, options, vec![tx]).unwrap(),
        rx,
    )
}

async fn run_workload(sequencer: &Sequencer) -> u64 {
    let handle = sequencer.handle();
    let mut n = 0;
    for command in setup_commands() {
        n += 1;
        let receipt = handle.submit(id(n), command).await.unwrap();
        assert!(receipt.outcome.is_ok(), "{receipt:?}");
        assert!(
            handle.durable_seq() >= receipt.seq,
            "receipt before durability"
        );
    }
    for i in 0..200_i64 {
        n += 1;
        let (user, side, price) = if i % 2 == 0 {
            (1, Side::Sell, 3_000_000 + i % 7)
        } else {
            (2, Side::Buy, 3_000_000 + i % 5)
        };
        handle
            .submit(id(n), order(user, side, price, 1_000))
            .await
            .unwrap();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_receipts_queries_and_recovery_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (sequencer, events) = start(dir.path(), 50);
    let submitted = run_workload(&sequencer).await;
    let handle = sequencer.handle();
    let (seq, hash) = handle
        .query(|e: &Engine| (e.last_seq(), e.state_hash()))
        .await
        .unwrap();
    assert_eq!(seq, submitted);
    assert_eq!(handle.durable_seq(), submitted);
    // A duplicate command id returns the first outcome and changes nothing but the sequence
    // number (it is journaled like every command, so replay sees it too).
    let view = |e: &Engine| {
        (
            e.user_balances(UserId(1)),
            e.user_balances(UserId(2)),
            e.live_orders(),
            e.ledger_totals(),
        )
    };
    let before = handle.query(view).await.unwrap();
    let again = handle
        .submit(id(4), setup_commands().remove(3))
        .await
        .unwrap();
    assert!(again.outcome.is_ok());
    assert_eq!(
        handle.query(view).await.unwrap(),
        before,
        "a duplicate changed state"
    );
    assert_ne!(
        hash,
        handle.query(|e: &Engine| e.state_hash()).await.unwrap()
    );
    let (_, hash) = handle
        .query(|e: &Engine| (e.last_seq(), e.state_hash()))
        .await
        .unwrap();
    let catalog = handle.catalog();
    assert_eq!(catalog.markets.len(), 1);
    assert!(
        !handle.depth(MarketId(0)).unwrap().bids.is_empty()
            || !handle.depth(MarketId(0)).unwrap().asks.is_empty()
    );
    sequencer.shutdown();
    let delivered: u64 = events
        .try_iter()
        .map(|b| b.last_seq - b.first_seq + 1)
        .sum();
    assert_eq!(
        delivered,
        submitted + 1,
        "every durable command reaches the subscriber once"
    );

    // With snapshots (the final one is written at shutdown).
    let snapshots = bulwark_journal::list_snapshots(&dir.path().join("snapshots")).unwrap();
    assert!(!snapshots.is_empty());
    let recovered = recover_dir(dir.path(), u64::MAX).unwrap();
    assert_eq!(recovered.engine.state_hash(), hash);
    assert_eq!(recovered.snapshot_seq, Some(submitted + 1));
    drop(recovered);

    // The periodic snapshots, taken from copies of the engine and written by the snapshot
    // thread while the engine went on, each hold the state at their own seq: a replay from seq 1
    // (nothing projected) recomputes the hash at every one it passes and stops on a mismatch.
    // The first periodic one always finds the snapshot thread idle, so there are at least two.
    assert!(snapshots.len() >= 2, "{snapshots:?}");
    let recovered = recover_dir(dir.path(), 0).unwrap();
    assert_eq!(recovered.snapshot_seq, None);
    assert_eq!(recovered.engine.state_hash(), hash);
    drop(recovered);

    // Without snapshots: a full replay from seq 1 reaches the same hash, and hands every event
    // after the projected seq to the catch-up callback.
    std::fs::remove_dir_all(dir.path().join("snapshots")).unwrap();
    std::fs::create_dir_all(dir.path().join("snapshots")).unwrap();
    let mut caught_up = 0;
    let recovered = recover(
        &dir.path().join("journal"),
        &dir.path().join("snapshots"),
        JournalOptions::default(),
        100,
        &mut |_, batch| {
            caught_up += batch.last_seq - batch.first_seq + 1;
        },
    )
    .unwrap();
    assert_eq!(recovered.engine.state_hash(), hash);
    assert_eq!(recovered.replayed, submitted + 1);
    assert_eq!(caught_up, submitted + 1 - 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_lies_stops_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let (sequencer, _events) = start(dir.path(), 0);
    run_workload(&sequencer).await;
    sequencer.shutdown();
    let snap = &bulwark_journal::list_snapshots(&dir.path().join("snapshots")).unwrap()[0];
    let real = bulwark_journal::read_snapshot(&snap.path).unwrap();
    // Re-write the snapshot with a correct CRC but a wrong state hash.
    std::fs::remove_file(&snap.path).unwrap();
    bulwark_journal::write_snapshot(
        &dir.path().join("snapshots"),
        real.seq,
        [7; 32],
        &real.payload,
    )
    .unwrap();
    let result = recover_dir(dir.path(), u64::MAX);
    let error = result
        .err()
        .expect("recovery must refuse a snapshot whose hash does not match")
        .to_string();
    assert!(error.contains("state hash mismatch"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_an_older_format_is_passed_over_for_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (sequencer, _events) = start(dir.path(), 0);
    run_workload(&sequencer).await;
    let hash = sequencer
        .handle()
        .query(|e: &Engine| e.state_hash())
        .await
        .unwrap();
    sequencer.shutdown();
    let snapshots = dir.path().join("snapshots");
    let snap = &bulwark_journal::list_snapshots(&snapshots).unwrap()[0];
    let real = bulwark_journal::read_snapshot(&snap.path).unwrap();
    // The same snapshot as an older build would have labelled it (format version 1 first).
    std::fs::remove_file(&snap.path).unwrap();
    let mut old = vec![1_u8];
    old.extend_from_slice(&real.payload[1..]);
    bulwark_journal::write_snapshot(&snapshots, real.seq, real.state_hash, &old).unwrap();
    let recovered = recover(
        &dir.path().join("journal"),
        &snapshots,
        JournalOptions::default(),
        u64::MAX,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(recovered.snapshot_seq, None);
    assert_eq!(recovered.engine.state_hash(), hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_order_lane_says_busy_and_cancels_still_pass() {
    let dir = tempfile::tempdir().unwrap();
    let recovered = recover_dir(dir.path(), 0).unwrap();
    let mut options = SequencerOptions::new(dir.path().join("snapshots"));
    options.order_queue_max = 4;
    let sequencer =
        Sequencer::start(recovered.engine, recovered.journal, options, Vec::new()).unwrap();
    let handle = sequencer.handle();
    let mut busy = 0;
    for n in 0..20_000 {
        match handle.submit_with(id(n), order(1, Side::Buy, 1, 1), Reply::Ignore) {
            Ok(()) => {}
            Err(SubmitError::Busy) => busy += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert!(busy > 0, "a lane of 4 never filled up");
    let cancel = Command::CancelAll {
        user: UserId(1),
        market: None,
        side: None,
    };
    let receipt = handle.submit(id(99_999), cancel).await.unwrap();
    assert_eq!(receipt.outcome, Ok(Accepted::CancelledAll { count: 0 }));
    sequencer.shutdown();
}

/// Services see the engine only as `dyn CommandBus`: a submission through it is durable when
/// answered, and the same idempotency key answers with the first outcome without a second
/// effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_bus_is_durable_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (sequencer, _events) = start(dir.path(), u64::MAX);
    let handle = sequencer.handle();
    let bus: Arc<dyn bulwark_sequencer::CommandBus> = Arc::new(handle.clone());
    for (n, command) in setup_commands().into_iter().enumerate() {
        let receipt = bus.submit(id(n as u64 + 1), command).await.unwrap();
        assert!(receipt.outcome.is_ok(), "{receipt:?}");
    }
    let deposit = Command::Deposit {
        user: UserId(3),
        asset: AssetId(1),
        amount: 500,
        reference: "bus-1".into(),
    };
    let first = bus.submit(id(100), deposit.clone()).await.unwrap();
    assert!(handle.durable_seq() >= first.seq, "answered before durable");
    let again = bus.submit(id(100), deposit).await.unwrap();
    assert_eq!(again.outcome, first.outcome, "the first outcome again");
    let balance = handle
        .query(|engine: &Engine| engine.user_balances(UserId(3)))
        .await
        .unwrap();
    assert_eq!(balance, vec![(AssetId(1), 500, 0)], "credited once");
    sequencer.shutdown();
}
