//! Read-model queries. Method: project one fixture with several users, symbols, states, times and
//! deliberate timestamp ties, then check each query's filters, ordering and limits by id lists.

use super::{balance, both_backends, order, trade};
use crate::{
    OrderRow, ProjectionBatch, ROWS_PER_QUERY_MAX, Store, TradeRow, TradeStats, order_state,
};

fn with_client_id(mut row: OrderRow, client_order_id: &str) -> OrderRow {
    row.client_order_id = Some(client_order_id.to_owned());
    row
}

fn fixture_orders() -> Vec<OrderRow> {
    use order_state::{CANCELED, FILLED, NEW, PARTIALLY_CANCELED, PARTIALLY_FILLED};
    let mut same_time_a = order(10, 9, "BTC_USDT", NEW);
    let mut same_time_b = order(11, 9, "BTC_USDT", NEW);
    same_time_a.created_ms = 2_000;
    same_time_b.created_ms = 2_000;
    vec![
        order(1, 7, "BTC_USDT", NEW),
        order(2, 7, "ETH_USDT", PARTIALLY_FILLED),
        order(3, 7, "BTC_USDT", FILLED),
        order(4, 7, "BTC_USDT", CANCELED),
        order(5, 7, "ETH_USDT", PARTIALLY_CANCELED),
        with_client_id(order(6, 7, "BTC_USDT", NEW), "c-1"),
        with_client_id(order(7, 7, "BTC_USDT", FILLED), "c-1"),
        with_client_id(order(8, 8, "BTC_USDT", NEW), "c-1"),
        order(9, 8, "BTC_USDT", FILLED),
        same_time_a,
        same_time_b,
    ]
}

fn priced(mut row: TradeRow, price_ticks: i64, size_lots: i64, timestamp_ms: i64) -> TradeRow {
    row.price_ticks = price_ticks;
    row.size_lots = size_lots;
    row.quote_amount = price_ticks * size_lots;
    row.timestamp_ms = timestamp_ms;
    row
}

fn fixture_trades() -> Vec<TradeRow> {
    vec![
        priced(trade(1, "BTC_USDT", (1, 7), (8, 8)), 100, 5, 5_001),
        priced(trade(2, "BTC_USDT", (9, 8), (3, 7)), 90, 1, 5_002),
        priced(trade(3, "ETH_USDT", (2, 7), (12, 9)), 10, 4, 5_003),
        priced(trade(4, "BTC_USDT", (9, 8), (13, 9)), 110, 3, 5_004),
        priced(trade(5, "BTC_USDT", (1, 7), (14, 9)), 120, 2, 5_005),
        priced(trade(6, "BTC_USDT", (9, 8), (15, 10)), 130, 1, 5_005),
    ]
}

async fn project_fixture(store: &Store) {
    let batch = ProjectionBatch {
        orders: fixture_orders(),
        trades: fixture_trades(),
        balances: vec![
            balance(8, "USDT", 1, 1),
            balance(7, "USDT", 2, 1),
            balance(7, "BTC", 3, 1),
            balance(8, "BTC", 4, 1),
        ],
        ..ProjectionBatch::default()
    };
    store.apply_projection(20, &batch).await.unwrap();
}

fn order_ids(rows: &[OrderRow]) -> Vec<i64> {
    rows.iter().map(|row| row.order_id).collect()
}

fn trade_ids(rows: &[TradeRow]) -> Vec<i64> {
    rows.iter().map(|row| row.trade_id).collect()
}

async fn order_lookups(store: &Store) {
    project_fixture(store).await;
    assert_eq!(
        store.get_order(3).await.unwrap(),
        Some(fixture_orders()[2].clone())
    );
    assert_eq!(store.get_order(99).await.unwrap(), None);
    let by_client = store
        .find_order_by_client_id(7, "c-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        by_client.order_id, 7,
        "most recent order with that client id"
    );
    let by_client = store
        .find_order_by_client_id(8, "c-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_client.order_id, 8, "client ids are per user");
    assert_eq!(
        store.find_order_by_client_id(7, "nope").await.unwrap(),
        None
    );
    assert_eq!(
        order_ids(&store.all_orders_with_state().await.unwrap()),
        [1, 2, 6, 8, 10, 11]
    );
    assert_eq!(store.order_count().await.unwrap(), 11);
}
both_backends!(order_lookups_on_both, order_lookups);

async fn open_orders_filters(store: &Store) {
    project_fixture(store).await;
    assert_eq!(
        order_ids(&store.open_orders(7, None, 10).await.unwrap()),
        [6, 2, 1]
    );
    let btc = store.open_orders(7, Some("BTC_USDT"), 10).await.unwrap();
    assert_eq!(order_ids(&btc), [6, 1]);
    assert_eq!(
        order_ids(&store.open_orders(7, None, 1).await.unwrap()),
        [6]
    );
    assert!(
        store
            .open_orders(7, Some("DOGE_USDT"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Equal creation times fall back to the newer id first.
    assert_eq!(
        order_ids(&store.open_orders(9, None, 10).await.unwrap()),
        [11, 10]
    );
}
both_backends!(open_orders_filters_on_both, open_orders_filters);

async fn history_orders_filters(store: &Store) {
    project_fixture(store).await;
    let all = store.history_orders(7, None, None, None, 10).await.unwrap();
    assert_eq!(order_ids(&all), [7, 5, 4, 3]);
    let btc = store
        .history_orders(7, Some("BTC_USDT"), None, None, 10)
        .await
        .unwrap();
    assert_eq!(order_ids(&btc), [7, 4, 3]);
    // Bounds are inclusive and apply to the creation time (1,000 + id in the fixture).
    let window = store
        .history_orders(7, None, Some(1_004), Some(1_005), 10)
        .await
        .unwrap();
    assert_eq!(order_ids(&window), [5, 4]);
    let from = store
        .history_orders(7, None, Some(1_005), None, 10)
        .await
        .unwrap();
    assert_eq!(order_ids(&from), [7, 5]);
    let until = store
        .history_orders(7, None, None, Some(1_003), 10)
        .await
        .unwrap();
    assert_eq!(order_ids(&until), [3]);
    assert_eq!(
        order_ids(&store.history_orders(7, None, None, None, 2).await.unwrap()),
        [7, 5]
    );
}
both_backends!(history_orders_filters_on_both, history_orders_filters);

async fn trade_queries(store: &Store) {
    project_fixture(store).await;
    let mine = store.user_trades(7, None, None, None, 10).await.unwrap();
    assert_eq!(
        trade_ids(&mine),
        [5, 3, 2, 1],
        "maker or taker, newest first"
    );
    let btc = store
        .user_trades(7, Some("BTC_USDT"), None, None, 10)
        .await
        .unwrap();
    assert_eq!(trade_ids(&btc), [5, 2, 1]);
    let window = store
        .user_trades(7, None, Some(5_002), Some(5_003), 10)
        .await
        .unwrap();
    assert_eq!(trade_ids(&window), [3, 2]);
    assert_eq!(
        trade_ids(&store.user_trades(7, None, None, None, 2).await.unwrap()),
        [5, 3]
    );
    assert_eq!(
        trade_ids(&store.order_trades(1).await.unwrap()),
        [1, 5],
        "oldest first"
    );
    assert_eq!(trade_ids(&store.order_trades(9).await.unwrap()), [2, 4, 6]);
    assert_eq!(
        trade_ids(&store.order_trades(3).await.unwrap()),
        [2],
        "taker side too"
    );
    let recent = store.recent_trades("BTC_USDT", 10).await.unwrap();
    assert_eq!(trade_ids(&recent), [6, 5, 4, 2, 1]);
    assert_eq!(recent[0], fixture_trades()[5]);
    assert_eq!(
        trade_ids(&store.recent_trades("BTC_USDT", 2).await.unwrap()),
        [6, 5]
    );
    assert_eq!(
        trade_ids(&store.recent_trades("ETH_USDT", 10).await.unwrap()),
        [3]
    );
}
both_backends!(trade_queries_on_both, trade_queries);

async fn trade_stats(store: &Store) {
    assert_eq!(store.trade_stats_since("BTC_USDT", 0).await.unwrap(), None);
    project_fixture(store).await;
    let stats = store.trade_stats_since("BTC_USDT", 5_002).await.unwrap();
    let expected = TradeStats {
        open_ticks: 90,
        high_ticks: 130,
        low_ticks: 90,
        last_ticks: 130,
        volume_lots: 7,
        volume_quote: 90 + 330 + 240 + 130,
        count: 4,
    };
    assert_eq!(stats, Some(expected));
    // Trades 5 and 6 share a timestamp: the lower id opens, the higher id is last.
    let tie = store
        .trade_stats_since("BTC_USDT", 5_005)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((tie.open_ticks, tie.last_ticks, tie.count), (120, 130, 2));
    assert_eq!(
        store.trade_stats_since("BTC_USDT", 6_000).await.unwrap(),
        None
    );
    assert_eq!(store.trade_stats_since("DOGE_USDT", 0).await.unwrap(), None);
}
both_backends!(trade_stats_on_both, trade_stats);

async fn balance_queries(store: &Store) {
    project_fixture(store).await;
    assert_eq!(
        store.user_balances(7).await.unwrap(),
        [balance(7, "BTC", 3, 1), balance(7, "USDT", 2, 1)]
    );
    assert!(store.user_balances(99).await.unwrap().is_empty());
    let all: Vec<(i64, String)> = store
        .all_balances()
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.user_id, row.asset))
        .collect();
    let expected = [(7, "BTC"), (7, "USDT"), (8, "BTC"), (8, "USDT")]
        .map(|(user, asset)| (user, asset.to_owned()));
    assert_eq!(all, expected);
}
both_backends!(balance_queries_on_both, balance_queries);

async fn limits_are_capped(store: &Store) {
    let count = i64::from(ROWS_PER_QUERY_MAX) + 5;
    let batch = ProjectionBatch {
        orders: (1..=count)
            .map(|id| order(id, 1, "BTC_USDT", order_state::NEW))
            .collect(),
        trades: (1..=count)
            .map(|id| trade(id, "BTC_USDT", (id, 1), (id, 2)))
            .collect(),
        balances: vec![],
        ..ProjectionBatch::default()
    };
    store.apply_projection(1, &batch).await.unwrap();
    let cap = usize::try_from(ROWS_PER_QUERY_MAX).unwrap();
    assert_eq!(
        store.open_orders(1, None, u32::MAX).await.unwrap().len(),
        cap
    );
    assert_eq!(
        store
            .recent_trades("BTC_USDT", u32::MAX)
            .await
            .unwrap()
            .len(),
        cap
    );
    assert_eq!(
        store
            .user_trades(1, None, None, None, u32::MAX)
            .await
            .unwrap()
            .len(),
        cap
    );
    assert_eq!(
        store.all_orders_with_state().await.unwrap().len(),
        cap + 5,
        "not truncated"
    );
}
both_backends!(limits_are_capped_on_both, limits_are_capped);
