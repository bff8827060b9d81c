//! Candle rows: a delta merges into the stored candle (open kept, close replaced, high/low
//! widened, volumes added), a delta already merged is skipped, and both paging queries return
//! the right window oldest first. Run on SQLite and PostgreSQL.

use super::both_backends;
use crate::{CandleRow, ProjectionBatch, Store};

fn candle(open_s: i64, prices: (i64, i64, i64, i64), lots: i64, seqs: (i64, i64)) -> CandleRow {
    CandleRow {
        symbol: "BTC_USDT".to_owned(),
        step_minutes: 1,
        open_s,
        open_ticks: prices.0,
        high_ticks: prices.1,
        low_ticks: prices.2,
        close_ticks: prices.3,
        volume_lots: lots,
        volume_quote: lots * 100,
        trades: 1,
        first_seq: seqs.0,
        last_seq: seqs.1,
    }
}

async fn write(store: &Store, up_to: u64, candles: Vec<CandleRow>) {
    let batch = ProjectionBatch {
        candles,
        ..ProjectionBatch::default()
    };
    store.apply_projection(up_to, &batch).await.unwrap();
}

async fn deltas_merge_once_and_page_both_ways(store: &Store) {
    write(store, 2, vec![candle(60, (100, 120, 90, 110), 5, (1, 2))]).await;
    write(store, 4, vec![candle(60, (105, 130, 95, 101), 3, (3, 4))]).await;
    // A replay of the second delta changes nothing.
    write(store, 4, vec![candle(60, (105, 130, 95, 101), 3, (3, 4))]).await;
    let [merged] = store
        .candles_after("BTC_USDT", 1, 0, None, 10)
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        (
            merged.open_ticks,
            merged.high_ticks,
            merged.low_ticks,
            merged.close_ticks
        ),
        (100, 130, 90, 101)
    );
    assert_eq!(
        (merged.volume_lots, merged.volume_quote, merged.trades),
        (8, 800, 2)
    );
    assert_eq!((merged.first_seq, merged.last_seq), (1, 4));

    write(
        store,
        9,
        vec![
            candle(120, (1, 1, 1, 1), 1, (5, 5)),
            candle(180, (2, 2, 2, 2), 1, (6, 6)),
            candle(240, (3, 3, 3, 3), 1, (9, 9)),
        ],
    )
    .await;
    let opens = |rows: Vec<CandleRow>| rows.iter().map(|c| c.open_s).collect::<Vec<_>>();
    let after = store
        .candles_after("BTC_USDT", 1, 60, None, 2)
        .await
        .unwrap();
    assert_eq!(
        opens(after),
        [120, 180],
        "oldest first after an exclusive bound"
    );
    let bounded = store
        .candles_after("BTC_USDT", 1, 0, Some(180), 10)
        .await
        .unwrap();
    assert_eq!(opens(bounded), [60, 120, 180]);
    let before = store.candles_before("BTC_USDT", 1, 200, 2).await.unwrap();
    assert_eq!(
        opens(before),
        [120, 180],
        "the newest two at or before, oldest first"
    );
    let other = store
        .candles_before("BTC_USDT", 5, 1_000, 10)
        .await
        .unwrap();
    assert!(other.is_empty(), "intervals are kept apart");
    let other = store
        .candles_before("ETH_USDT", 1, 1_000, 10)
        .await
        .unwrap();
    assert!(other.is_empty(), "markets are kept apart");
}
both_backends!(
    candles_merge_once_and_page_on_both,
    deltas_merge_once_and_page_both_ways
);
