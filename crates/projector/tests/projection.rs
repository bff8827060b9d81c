//! The projector against a real engine and a real store. Method: drive an engine through a
//! deposit and a crossing pair of orders, wrap its events in sequenced batches as the sequencer
//! does, then check the rows `rows_of` derives and what `project` leaves in a SQLite store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use bulwark_engine::{
    AssetId, AssetSpec, Command, CommandHeader, Engine, MarketId, MarketSpec, NewOrder, OrderKind,
    StpMode,
};
use bulwark_sequencer::{Catalog, EventBatch, SequencedEvent};
use bulwark_store::Store;
use bulwark_types::{CommandId, Side, UserId};

const BTC: AssetId = AssetId(0);
const USDT: AssetId = AssetId(1);
const BUYER: UserId = UserId(1);
const SELLER: UserId = UserId(2);

/// A limit order of `user` in the one market, with a client id.
fn limit(user: UserId, side: Side, price_ticks: i64, size_lots: i64, client: String) -> Command {
    Command::PlaceOrder(NewOrder {
        user,
        market: MarketId(0),
        side,
        kind: OrderKind::Limit,
        price_ticks,
        size_lots,
        notional: 0,
        client_order_id: client.parse().ok(),
        stp: StpMode::None,
    })
}

/// One engine plus the batches its commands produced (one batch per command, as when every
/// command commits alone).
struct Run {
    engine: Engine,
    batches: Vec<Arc<EventBatch>>,
}

impl Run {
    fn new() -> Run {
        let mut run = Run {
            engine: Engine::new(),
            batches: Vec::new(),
        };
        for (code, scale) in [("BTC", 8), ("USDT", 6)] {
            run.apply(Command::AddAsset(AssetSpec {
                code: code.into(),
                name: code.into(),
                scale,
            }));
        }
        run.apply(Command::AddMarket(MarketSpec {
            symbol: "BTC_USDT".into(),
            base: BTC,
            quote: USDT,
            price_scale: 2,
            size_scale: 4,
            min_size_lots: 1,
            max_size_lots: 100_000_000,
            max_price_ticks: 1_000_000_000,
            min_notional: 1_000,
            maker_fee_ppm: 1_000,
            taker_fee_ppm: 2_000,
        }));
        run
    }

    fn apply(&mut self, command: Command) {
        let timestamp_ms = 1_700_000_000_000 + i64::try_from(self.engine.last_seq() + 1).unwrap();
        self.try_apply(&command, timestamp_ms)
            .unwrap_or_else(|r| panic!("{command:?}: {r:?}"));
    }

    /// Applies one command stamped `timestamp_ms`; a refused one leaves no batch (the engine
    /// emits nothing for it), as in the pipeline.
    fn try_apply(
        &mut self,
        command: &Command,
        timestamp_ms: i64,
    ) -> Result<(), bulwark_engine::Reject> {
        let seq = self.engine.last_seq() + 1;
        let mut id = [0_u8; 16];
        id[..8].copy_from_slice(&seq.to_le_bytes());
        let header = CommandHeader {
            seq,
            timestamp_ms,
            id: CommandId(id),
        };
        let mut events = Vec::new();
        self.engine.apply(&header, command, &mut events)?;
        self.batches.push(Arc::new(EventBatch {
            first_seq: seq,
            last_seq: seq,
            events: events
                .into_iter()
                .map(|event| SequencedEvent {
                    seq,
                    timestamp_ms,
                    event,
                })
                .collect(),
        }));
        Ok(())
    }

    fn order(&mut self, user: UserId, side: Side, price_ticks: i64, size_lots: i64) {
        self.apply(limit(
            user,
            side,
            price_ticks,
            size_lots,
            format!("c{}", user.0),
        ));
    }

    /// Funds both users, rests a sell of 0.5 BTC at 30000 and crosses it with a buy of 0.2.
    fn traded() -> Run {
        let mut run = Run::new();
        for (user, asset, amount) in [(BUYER, USDT, 100_000_000_000), (SELLER, BTC, 100_000_000)] {
            run.apply(Command::Deposit {
                user,
                asset,
                amount,
                reference: format!("dep-{}", user.0),
            });
        }
        run.order(SELLER, Side::Sell, 3_000_000, 5_000);
        run.order(BUYER, Side::Buy, 3_000_000, 2_000);
        run
    }
}

#[test]
fn rows_follow_the_events_with_names_and_codes() {
    let run = Run::traded();
    let catalog = Catalog::from_engine(&run.engine);
    let rows = bulwark_projector::rows_of(&catalog, &run.batches);

    let [trade] = rows.trades.as_slice() else {
        panic!("one trade: {:?}", rows.trades);
    };
    assert_eq!(trade.symbol, "BTC_USDT");
    assert_eq!((trade.price_ticks, trade.size_lots), (3_000_000, 2_000));
    assert_eq!(trade.taker_side, "buy");
    assert_eq!((trade.maker_user_id, trade.taker_user_id), (2, 1));
    assert_eq!(trade.maker_fee_asset, "USDT", "the maker sold BTC for USDT");
    assert_eq!(trade.taker_fee_asset, "BTC", "the taker bought BTC");
    assert!(trade.maker_fee > 0 && trade.taker_fee > 0);

    let last = |user: i64| {
        rows.orders
            .iter()
            .rev()
            .find(|o| o.user_id == user)
            .unwrap()
    };
    let (sell, buy) = (last(2), last(1));
    assert_eq!((sell.kind.as_str(), sell.side.as_str()), ("limit", "sell"));
    assert_eq!(sell.state, "partially_filled");
    assert_eq!(sell.filled_lots, 2_000);
    assert_eq!(buy.state, "filled");
    assert_eq!(buy.client_order_id.as_deref(), Some("c1"));
    assert_eq!(buy.stp, "none");

    // The last balance row of each (user, asset) equals the engine's balance.
    for (user, asset) in [(1, BTC), (1, USDT), (2, BTC), (2, USDT)] {
        let code = catalog.asset_code(asset);
        let row = rows
            .balances
            .iter()
            .rev()
            .find(|b| b.user_id == user && b.asset == code)
            .unwrap();
        let (_, available, held) = run
            .engine
            .user_balances(UserId(u64::try_from(user).unwrap()))
            .into_iter()
            .find(|(a, _, _)| *a == asset)
            .unwrap();
        assert_eq!((row.available, row.held), (available, held), "{row:?}");
    }
    let held_by_seller = rows
        .balances
        .iter()
        .rev()
        .find(|b| b.user_id == 2 && b.asset == "BTC")
        .unwrap();
    assert_eq!(held_by_seller.held, 3_000 * 10_000, "0.3 BTC still resting");
}

#[tokio::test]
async fn project_writes_rows_and_the_sequence_in_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    let store = Store::connect(&url).await.unwrap();
    let run = Run::traded();
    let catalog = Catalog::from_engine(&run.engine);
    assert_eq!(
        bulwark_projector::project(&store, &catalog, &[])
            .await
            .unwrap(),
        0,
        "nothing to write answers the stored sequence"
    );
    let seq = bulwark_projector::project(&store, &catalog, &run.batches)
        .await
        .unwrap();
    assert_eq!(seq, run.engine.last_seq());
    assert_eq!(store.projected_seq().await.unwrap(), seq);

    let trades = store.recent_trades("BTC_USDT", 10).await.unwrap();
    assert_eq!(trades.len(), 1);
    let live = store.all_orders_with_state().await.unwrap();
    let expected: Vec<_> = run
        .engine
        .live_orders()
        .iter()
        .map(|o| bulwark_projector::order_row(&catalog, o, 0).order_id)
        .collect();
    assert_eq!(
        live.iter().map(|o| o.order_id).collect::<Vec<_>>(),
        expected,
        "the store's live orders are the engine's"
    );
    let mut balances = store.all_balances().await.unwrap();
    balances.sort_by(|a, b| (a.user_id, &a.asset).cmp(&(b.user_id, &b.asset)));
    for row in &balances {
        let asset = if row.asset == "BTC" { BTC } else { USDT };
        let (_, available, held) = run
            .engine
            .user_balances(UserId(u64::try_from(row.user_id).unwrap()))
            .into_iter()
            .find(|(a, _, _)| *a == asset)
            .unwrap_or((asset, 0, 0));
        assert_eq!((row.available, row.held), (available, held), "{row:?}");
    }
    assert_eq!(
        bulwark_projector::project(&store, &catalog, &[])
            .await
            .unwrap(),
        seq
    );
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    Store::connect(&url).await.unwrap()
}

/// After a crash the recovery replays events the store may already hold: projecting them again,
/// or an older run after a newer one, must leave every row as the newest event left it.
#[tokio::test]
async fn replayed_or_late_batches_never_double_count_or_move_a_row_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let mut run = Run::traded();
    run.apply(Command::CancelOrder {
        user: SELLER,
        target: bulwark_engine::OrderTarget::Client("c2".parse().unwrap()),
    });
    let catalog = Catalog::from_engine(&run.engine);
    let last = bulwark_projector::project(&store, &catalog, &run.batches)
        .await
        .unwrap();
    let snapshot = |store: Store| async move {
        let mut balances = store.all_balances().await.unwrap();
        balances.sort_by(|a, b| (a.user_id, &a.asset).cmp(&(b.user_id, &b.asset)));
        let trades = store.recent_trades("BTC_USDT", 10).await.unwrap();
        let orders = store.all_orders_with_state().await.unwrap();
        (
            balances,
            trades.len(),
            orders.len(),
            store.projected_seq().await.unwrap(),
        )
    };
    let before = snapshot(store.clone()).await;
    assert_eq!(
        (before.1, before.2, before.3),
        (1, 0, last),
        "one trade, nothing live"
    );

    bulwark_projector::project(&store, &catalog, &run.batches)
        .await
        .unwrap();
    let (older, _) = run.batches.split_at(run.batches.len() / 2);
    let older_seq = bulwark_projector::project(&store, &catalog, older)
        .await
        .unwrap();
    assert!(older_seq < last);
    assert_eq!(
        snapshot(store.clone()).await,
        before,
        "replays change nothing, and the projected seq never goes back"
    );
}

#[test]
fn a_canceled_order_carries_its_reason_and_releases_what_it_held() {
    let mut run = Run::traded();
    run.apply(Command::CancelOrder {
        user: SELLER,
        target: bulwark_engine::OrderTarget::Client("c2".parse().unwrap()),
    });
    let catalog = Catalog::from_engine(&run.engine);
    let cancel = std::slice::from_ref(run.batches.last().unwrap());
    let rows = bulwark_projector::rows_of(&catalog, cancel);
    let [sell] = rows.orders.as_slice() else {
        panic!("one order row: {:?}", rows.orders);
    };
    assert_eq!(sell.state, "partially_canceled");
    assert_eq!(sell.cancel_reason.as_deref(), Some("user"));
    assert_eq!(sell.filled_lots, 2_000, "the fill before the cancel stays");
    let btc = rows
        .balances
        .iter()
        .find(|b| b.user_id == 2 && b.asset == "BTC")
        .unwrap();
    assert_eq!(btc.held, 0);
    assert!(rows.trades.is_empty());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// For any run of orders, stop orders and cancels, the newest row of every order, stop
    /// order and balance the projector derives equals the engine's own state, and trade rows
    /// are exactly the trades.
    #[test]
    fn rows_agree_with_the_engine_for_any_order_flow(
        steps in proptest::collection::vec(
            (0_u8..5, proptest::bool::ANY, 2_990_000_i64..3_010_000, 1_i64..4_000),
            1..60,
        )
    ) {
        let mut run = Run::traded();
        for (n, (what, buy, price, size)) in steps.into_iter().enumerate() {
            let user = if buy { BUYER } else { SELLER };
            if what == 2 {
                run.apply(Command::CancelAll { user, market: None, side: None });
                continue;
            }
            if what == 3 {
                run.apply(Command::CancelAllTriggers { user, market: None });
                continue;
            }
            if what == 4 {
                let side = if buy { Side::Buy } else { Side::Sell };
                let Command::PlaceOrder(order) = limit(user, side, price, size, format!("t{n}")) else {
                    continue;
                };
                let trigger = Command::PlaceTrigger(bulwark_engine::NewTrigger { order, trigger_price_ticks: price + 500 - 1_000 * i64::from(buy) });
                let _ = run.try_apply(&trigger, 1_700_000_000_000);
                continue;
            }
            let side = if buy { Side::Buy } else { Side::Sell };
            // Orders the engine refuses (funds) produce no events; that is part of the flow.
            let _ = run.try_apply(&limit(user, side, price, size, format!("p{n}")), 1_700_000_000_000);
        }
        let catalog = Catalog::from_engine(&run.engine);
        let rows = bulwark_projector::rows_of(&catalog, &run.batches);
        let mut newest = std::collections::BTreeMap::new();
        for row in &rows.orders {
            newest.insert(row.order_id, row);
        }
        let mut live: Vec<_> = newest.values().filter(|o| matches!(o.state.as_str(), "new" | "partially_filled")).map(|o| o.order_id).collect();
        let mut engine_live: Vec<_> = run.engine.live_orders().iter().map(|o| bulwark_projector::order_row(&catalog, o, 0).order_id).collect();
        live.sort_unstable();
        engine_live.sort_unstable();
        proptest::prop_assert_eq!(live, engine_live);
        let mut triggers = std::collections::BTreeMap::new();
        for row in &rows.triggers {
            triggers.insert(row.trigger_id, row);
        }
        let waiting: Vec<_> = triggers.values().filter(|t| t.state == "new").map(|t| t.trigger_id).collect();
        let engine_waiting: Vec<_> = run.engine.waiting_triggers(None).iter().map(|t| bulwark_projector::trigger_row(&catalog, t, 0).trigger_id).collect();
        proptest::prop_assert_eq!(waiting, engine_waiting);
        for row in triggers.values().filter(|t| t.state == "triggered") {
            proptest::prop_assert!(newest.contains_key(&row.order_id.unwrap()), "a fired stop order's order is projected");
        }
        for user in [BUYER, SELLER] {
            for (asset, available, held) in run.engine.user_balances(user) {
                let code = catalog.asset_code(asset);
                let row = rows.balances.iter().rev().find(|b| b.user_id == i64::try_from(user.0).unwrap() && b.asset == code).unwrap();
                proptest::prop_assert_eq!((row.available, row.held), (available, held));
            }
        }
        let trade_ids: std::collections::BTreeSet<_> = rows.trades.iter().map(|t| t.trade_id).collect();
        proptest::prop_assert_eq!(trade_ids.len(), rows.trades.len(), "no trade twice");
    }
}

/// The candles a trade list makes, computed the slow way: for every interval, group the trades
/// by open time and fold them in trade order.
fn candles_by_hand(trades: &[bulwark_store::TradeRow]) -> Vec<bulwark_store::CandleRow> {
    let mut sorted = trades.to_vec();
    sorted.sort_by_key(|t| t.trade_id);
    let mut expected = Vec::new();
    for step in bulwark_types::candle::STEPS_MINUTES {
        let mut opens: Vec<i64> = sorted
            .iter()
            .map(|t| bulwark_types::candle::open_seconds(step, t.timestamp_ms))
            .collect();
        opens.dedup();
        for open_s in opens {
            let inside: Vec<_> = sorted
                .iter()
                .filter(|t| bulwark_types::candle::open_seconds(step, t.timestamp_ms) == open_s)
                .collect();
            let (first, last) = (inside[0], inside[inside.len() - 1]);
            expected.push(bulwark_store::CandleRow {
                symbol: first.symbol.clone(),
                step_minutes: i64::from(step),
                open_s,
                open_ticks: first.price_ticks,
                high_ticks: inside.iter().map(|t| t.price_ticks).max().unwrap(),
                low_ticks: inside.iter().map(|t| t.price_ticks).min().unwrap(),
                close_ticks: last.price_ticks,
                volume_lots: inside.iter().map(|t| t.size_lots).sum(),
                volume_quote: inside.iter().map(|t| t.quote_amount).sum(),
                trades: i64::try_from(inside.len()).unwrap(),
                first_seq: 0,
                last_seq: 0,
            });
        }
    }
    expected
}

async fn stored_candles(store: &Store) -> Vec<bulwark_store::CandleRow> {
    let mut all = Vec::new();
    for step in bulwark_types::candle::STEPS_MINUTES {
        let rows = store
            .candles_after("BTC_USDT", step, i64::MIN, None, 1_000)
            .await
            .unwrap();
        all.extend(rows.into_iter().map(|mut c| {
            (c.first_seq, c.last_seq) = (0, 0);
            c
        }));
    }
    all
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Candles in the store equal a recomputation from the stored trades, however the batches
    /// were split into projector runs, across a restart (a new connection to the same file) and
    /// after replaying runs the store already held.
    #[test]
    fn candles_equal_a_recomputation_from_the_trades_across_a_restart(
        steps in proptest::collection::vec(
            (proptest::bool::ANY, 2_995_000_i64..3_005_000, 1_i64..3_000, 0_i64..10_800_000),
            1..40,
        ),
        cuts in proptest::collection::vec(0_usize..100, 0..4),
        replay in 0_usize..100,
    ) {
        let mut run = Run::traded();
        let mut now_ms = 1_796_552_265_500_i64;
        for (n, (buy, price, size, gap_ms)) in steps.into_iter().enumerate() {
            now_ms += gap_ms;
            let (user, side) = if buy { (BUYER, Side::Buy) } else { (SELLER, Side::Sell) };
            let _ = run.try_apply(&limit(user, side, price, size, format!("k{n}")), now_ms);
        }
        let catalog = Catalog::from_engine(&run.engine);
        let batches = run.batches.clone();
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (batches.len() + 1)).collect();
        bounds.push(0);
        bounds.push(batches.len());
        bounds.sort_unstable();
        bounds.dedup();
        let restart_at = bounds.len() / 2;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (stored, recomputed) = runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let mut store = sqlite_store(&dir).await;
            for (i, pair) in bounds.windows(2).enumerate() {
                if i == restart_at {
                    store.close().await;
                    store = sqlite_store(&dir).await;
                    // A replay of something already projected, as recovery may offer it.
                    let upto = replay % (pair[0] + 1);
                    bulwark_projector::project(&store, &catalog, &batches[..upto]).await.unwrap();
                }
                bulwark_projector::project(&store, &catalog, &batches[pair[0]..pair[1]]).await.unwrap();
            }
            let trades = store.recent_trades("BTC_USDT", 1_000).await.unwrap();
            (stored_candles(&store).await, candles_by_hand(&trades))
        });
        proptest::prop_assert_eq!(stored, recomputed);
    }
}
