//! Projection writes. Method: apply batches (repeated, reordered, duplicated, large) and compare
//! the resulting read models with what applying the rows one by one in seq order would give.

use super::{balance, both_backends, order, trade};
use crate::{
    Backend, BalanceHourRow, BalanceRow, OrderRow, ProjectionBatch, Store, StoreError, TradeRow,
    order_state,
};

/// Everything the projection tables hold, for whole-state comparisons.
async fn dump(store: &Store) -> (Vec<OrderRow>, Vec<TradeRow>, Vec<BalanceRow>, u64) {
    let orders = sqlx::query_as(
        "SELECT order_id, user_id, symbol, side, kind, price_ticks, size_lots, notional, \
         filled_lots, filled_quote, fee_paid, state, cancel_reason, client_order_id, stp, \
         created_ms, updated_ms, last_seq FROM orders ORDER BY order_id",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    let trades = sqlx::query_as(
        "SELECT trade_id, symbol, price_ticks, size_lots, quote_amount, taker_side, \
         maker_order_id, taker_order_id, maker_user_id, taker_user_id, maker_fee, \
         maker_fee_asset, taker_fee, taker_fee_asset, timestamp_ms, seq FROM trades \
         ORDER BY trade_id",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    let balances = store.all_balances().await.unwrap();
    (
        orders,
        trades,
        balances,
        store.projected_seq().await.unwrap(),
    )
}

fn sample_batch() -> ProjectionBatch {
    let mut filled = order(2, 8, "BTC_USDT", order_state::FILLED);
    filled.client_order_id = Some("c-2".to_owned());
    filled.cancel_reason = Some("user".to_owned());
    ProjectionBatch {
        orders: vec![order(1, 7, "BTC_USDT", order_state::NEW), filled],
        trades: vec![trade(1, "BTC_USDT", (1, 7), (2, 8))],
        balances: vec![balance(7, "BTC", 5, 3), balance(7, "USDT", 50, 3)],
        ..ProjectionBatch::default()
    }
}

async fn apply_is_idempotent(store: &Store) {
    assert_eq!(store.projected_seq().await.unwrap(), 0);
    let batch = sample_batch();
    store.apply_projection(3, &batch).await.unwrap();
    let once = dump(store).await;
    assert_eq!(once.0, batch.orders);
    assert_eq!(once.1, batch.trades);
    assert_eq!(once.2, batch.balances);
    assert_eq!(once.3, 3);
    store.apply_projection(3, &batch).await.unwrap();
    assert_eq!(dump(store).await, once);
}
both_backends!(apply_is_idempotent_on_both, apply_is_idempotent);

async fn older_rows_never_overwrite_newer(store: &Store) {
    let mut newer_order = order(1, 7, "BTC_USDT", order_state::PARTIALLY_FILLED);
    newer_order.filled_lots = 4;
    newer_order.last_seq = 10;
    let newer = ProjectionBatch {
        orders: vec![newer_order.clone()],
        trades: vec![],
        balances: vec![balance(7, "BTC", 40, 10)],
        ..ProjectionBatch::default()
    };
    store.apply_projection(10, &newer).await.unwrap();

    let mut older_order = order(1, 7, "BTC_USDT", order_state::NEW);
    older_order.last_seq = 4;
    let older = ProjectionBatch {
        orders: vec![older_order],
        trades: vec![trade(9, "BTC_USDT", (1, 7), (2, 8))],
        balances: vec![balance(7, "BTC", 1, 4), balance(7, "ETH", 2, 4)],
        ..ProjectionBatch::default()
    };
    store.apply_projection(4, &older).await.unwrap();

    assert_eq!(store.get_order(1).await.unwrap(), Some(newer_order));
    let balances = store.user_balances(7).await.unwrap();
    // The stale BTC row lost; the ETH row was new, so it landed.
    assert_eq!(
        balances,
        [balance(7, "BTC", 40, 10), balance(7, "ETH", 2, 4)]
    );
    assert_eq!(store.order_trades(1).await.unwrap().len(), 1);
    // The projection's progress marker never moves backwards.
    assert_eq!(store.projected_seq().await.unwrap(), 10);

    // An equal seq overwrites (same event re-projected with identical content is a no-op).
    let mut same_seq = order(1, 7, "BTC_USDT", order_state::FILLED);
    same_seq.last_seq = 10;
    let batch = ProjectionBatch {
        orders: vec![same_seq.clone()],
        ..ProjectionBatch::default()
    };
    store.apply_projection(10, &batch).await.unwrap();
    assert_eq!(store.get_order(1).await.unwrap(), Some(same_seq));
}
both_backends!(
    older_rows_never_overwrite_newer_on_both,
    older_rows_never_overwrite_newer
);

async fn duplicates_within_one_batch(store: &Store) {
    let mut first = order(5, 7, "BTC_USDT", order_state::NEW);
    first.last_seq = 1;
    let mut second = order(5, 7, "BTC_USDT", order_state::PARTIALLY_FILLED);
    second.last_seq = 2;
    let mut stale = order(5, 7, "BTC_USDT", order_state::NEW);
    stale.last_seq = 1;
    let batch = ProjectionBatch {
        orders: vec![first, second.clone(), stale],
        trades: vec![trade(1, "BTC_USDT", (5, 7), (6, 8)); 2],
        balances: vec![
            balance(7, "BTC", 1, 1),
            balance(7, "BTC", 2, 2),
            balance(7, "BTC", 3, 2),
        ],
        ..ProjectionBatch::default()
    };
    store.apply_projection(2, &batch).await.unwrap();
    assert_eq!(store.get_order(5).await.unwrap(), Some(second));
    assert_eq!(
        store.user_balances(7).await.unwrap(),
        [balance(7, "BTC", 3, 2)]
    );
    assert_eq!(store.order_trades(5).await.unwrap().len(), 1);
}
both_backends!(
    duplicates_within_one_batch_on_both,
    duplicates_within_one_batch
);

async fn large_batch_lands_completely(store: &Store) {
    // 1,000 + 37 rows exercise full chunks and every smaller power-of-two remainder.
    let count = 1_037_i64;
    let batch = ProjectionBatch {
        orders: (1..=count)
            .map(|id| order(id, id % 13, "BTC_USDT", order_state::NEW))
            .collect(),
        trades: (1..=count)
            .map(|id| trade(id, "BTC_USDT", (id, 1), (id + 1, 2)))
            .collect(),
        balances: (1..=count).map(|id| balance(id, "USDT", id, 1)).collect(),
        ..ProjectionBatch::default()
    };
    store
        .apply_projection(u64::try_from(count).unwrap(), &batch)
        .await
        .unwrap();
    let (orders, trades, balances, seq) = dump(store).await;
    assert_eq!(orders, batch.orders);
    assert_eq!(trades, batch.trades);
    assert_eq!(balances, batch.balances);
    assert_eq!(seq, 1_037);
    assert_eq!(store.order_count().await.unwrap(), 1_037);
}
both_backends!(
    large_batch_lands_completely_on_both,
    large_batch_lands_completely
);

async fn empty_batch_only_advances_seq(store: &Store) {
    store
        .apply_projection(42, &ProjectionBatch::default())
        .await
        .unwrap();
    assert_eq!(store.projected_seq().await.unwrap(), 42);
    store
        .apply_projection(41, &ProjectionBatch::default())
        .await
        .unwrap();
    assert_eq!(store.projected_seq().await.unwrap(), 42);
    assert_eq!(store.order_count().await.unwrap(), 0);
}
both_backends!(
    empty_batch_only_advances_seq_on_both,
    empty_batch_only_advances_seq
);

async fn unrepresentable_seq_is_refused(store: &Store) {
    let batch = sample_batch();
    let error = store.apply_projection(u64::MAX, &batch).await.unwrap_err();
    assert!(matches!(error, StoreError::OutOfRange(_)), "{error:?}");
    // Nothing was written.
    assert_eq!(store.order_count().await.unwrap(), 0);
    assert_eq!(store.projected_seq().await.unwrap(), 0);
}
both_backends!(
    unrepresentable_seq_is_refused_on_both,
    unrepresentable_seq_is_refused
);

/// Makes every insert into `balances` fail, the last table `apply_projection` writes.
async fn sabotage_balances(store: &Store) {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "CREATE TRIGGER tr_test_fail BEFORE INSERT ON balances \
             BEGIN SELECT RAISE(ABORT, 'sabotaged'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION fn_test_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'sabotaged'; END; $$; \
             CREATE TRIGGER tr_test_fail BEFORE INSERT ON balances \
             FOR EACH ROW EXECUTE FUNCTION fn_test_fail();"
        }
    };
    sqlx::raw_sql(sql).execute(&store.pool).await.unwrap();
}

async fn failed_batch_writes_nothing(store: &Store) {
    store
        .apply_projection(1, &ProjectionBatch::default())
        .await
        .unwrap();
    sabotage_balances(store).await;
    let error = store
        .apply_projection(3, &sample_batch())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
    // Orders and trades were written before the failure inside the transaction: all rolled back.
    let (orders, trades, balances, seq) = dump(store).await;
    assert!(orders.is_empty() && trades.is_empty() && balances.is_empty());
    assert_eq!(seq, 1);
}
both_backends!(
    failed_batch_writes_nothing_on_both,
    failed_batch_writes_nothing
);

fn trigger(id: i64, user_id: i64, symbol: &str, state: &str, seq: i64) -> crate::TriggerRow {
    crate::TriggerRow {
        trigger_id: id,
        user_id,
        symbol: symbol.to_owned(),
        side: "sell".to_owned(),
        kind: "limit".to_owned(),
        price_ticks: 9_000,
        size_lots: 2,
        notional: 0,
        trigger_price_ticks: 9_500,
        direction: "fall".to_owned(),
        state: state.to_owned(),
        order_id: None,
        fail_reason: None,
        client_order_id: Some(format!("t{id}")),
        stp: "cancel_maker".to_owned(),
        created_ms: 1_000 + id,
        updated_ms: 1_000 + seq,
        last_seq: seq,
    }
}

/// Stop orders: a later state wins whatever the order the batches arrive in, and the open and
/// history lists, the client-id lookup and the symbol and time filters see the right rows.
async fn stop_orders_project_and_list(store: &Store) {
    use crate::trigger_state;
    let waiting = trigger(5, 7, "BTC_USDT", trigger_state::NEW, 3);
    let mut fired = trigger(5, 7, "BTC_USDT", trigger_state::TRIGGERED, 9);
    fired.order_id = Some(12);
    let other = trigger(6, 7, "ETH_USDT", trigger_state::NEW, 4);
    let foreign = trigger(8, 9, "BTC_USDT", trigger_state::NEW, 4);
    let batch = |rows: Vec<crate::TriggerRow>| ProjectionBatch {
        triggers: rows,
        ..ProjectionBatch::default()
    };
    store
        .apply_projection(9, &batch(vec![fired.clone(), other.clone(), foreign]))
        .await
        .unwrap();
    // The older "waiting" state arrives late (a replay) and changes nothing.
    store
        .apply_projection(3, &batch(vec![waiting]))
        .await
        .unwrap();
    assert_eq!(store.get_trigger(5).await.unwrap(), Some(fired.clone()));
    let open = store
        .list_triggers(7, true, None, None, None, 10)
        .await
        .unwrap();
    assert_eq!(open, vec![other.clone()]);
    let history = store
        .list_triggers(7, false, None, None, None, 10)
        .await
        .unwrap();
    assert_eq!(history, vec![fired.clone()]);
    assert!(
        store
            .list_triggers(7, true, Some("BTC_USDT"), None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_triggers(7, true, None, Some(1_007), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.find_trigger_by_client_id(7, "t6").await.unwrap(),
        Some(other)
    );
    assert_eq!(
        store.find_trigger_by_client_id(9, "t6").await.unwrap(),
        None
    );
}
both_backends!(
    stop_orders_project_and_list_on_both,
    stop_orders_project_and_list
);

fn hour_row(user_id: i64, asset: &str, hour_s: i64, total: i64, last_seq: i64) -> BalanceHourRow {
    BalanceHourRow {
        user_id,
        asset: asset.to_owned(),
        hour_s,
        total,
        last_seq,
    }
}

/// The hourly balance history keeps the newest total per hour (replays and late batches change
/// nothing), and a window starts with each asset's last total before it.
async fn balance_hours_keep_the_newest_total_per_hour(store: &Store) {
    let batch = ProjectionBatch {
        balance_hours: vec![
            hour_row(7, "BTC", 0, 5, 1),
            hour_row(7, "BTC", 3_600, 6, 2),
            hour_row(7, "BTC", 3_600, 9, 4),
            hour_row(7, "USDT", 0, 100, 3),
            hour_row(7, "USDT", 7_200, 80, 5),
            hour_row(8, "BTC", 7_200, 1, 6),
        ],
        ..ProjectionBatch::default()
    };
    store.apply_projection(6, &batch).await.unwrap();
    // Replayed, and an older write for an hour that already has a newer one.
    store.apply_projection(6, &batch).await.unwrap();
    let late = ProjectionBatch {
        balance_hours: vec![hour_row(7, "BTC", 3_600, 1, 3)],
        ..ProjectionBatch::default()
    };
    store.apply_projection(6, &late).await.unwrap();
    let all = store.balance_hours_since(7, 0).await.unwrap();
    assert_eq!(
        all,
        vec![
            hour_row(7, "BTC", 0, 5, 1),
            hour_row(7, "USDT", 0, 100, 3),
            hour_row(7, "BTC", 3_600, 9, 4),
            hour_row(7, "USDT", 7_200, 80, 5),
        ]
    );
    // From 7200 on: USDT's row at 7200, and each asset's last total before it carried in.
    let window = store.balance_hours_since(7, 7_200).await.unwrap();
    assert_eq!(
        window,
        vec![
            hour_row(7, "USDT", 0, 100, 3),
            hour_row(7, "BTC", 3_600, 9, 4),
            hour_row(7, "USDT", 7_200, 80, 5),
        ]
    );
    assert!(store.balance_hours_since(9, 0).await.unwrap().is_empty());
}
both_backends!(
    balance_hours_keep_the_newest_total_per_hour_on_both,
    balance_hours_keep_the_newest_total_per_hour
);
