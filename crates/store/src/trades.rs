//! Trade read-model queries (the `trades` projection): per user, per order, per market, and the
//! rolling statistics behind tickers.

use crate::Store;
use crate::error::StoreResult;
use crate::limits::{ORDER_TRADES_MAX, capped};
use crate::projection::TradeRow;

/// Prefixes the column list so every trade query returns the same shape as a `&'static str`.
macro_rules! select_trades {
    ($tail:literal) => {
        concat!(
            "SELECT trade_id, symbol, price_ticks, size_lots, quote_amount, taker_side, ",
            "maker_order_id, taker_order_id, maker_user_id, taker_user_id, maker_fee, ",
            "maker_fee_asset, taker_fee, taker_fee_asset, timestamp_ms, seq FROM trades ",
            $tail
        )
    };
}

/// Aggregates of one market's trades over a window (prices in ticks, volumes in lots/quote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeStats {
    /// Price of the first trade at or after the window start.
    pub open_ticks: i64,
    pub high_ticks: i64,
    pub low_ticks: i64,
    /// Price of the latest trade.
    pub last_ticks: i64,
    pub volume_lots: i64,
    pub volume_quote: i64,
    pub count: i64,
}

/// Raw aggregate row; every column is NULL (or zero) when the window is empty.
#[derive(sqlx::FromRow)]
struct StatsRow {
    open_ticks: Option<i64>,
    high_ticks: Option<i64>,
    low_ticks: Option<i64>,
    last_ticks: Option<i64>,
    volume_lots: Option<i64>,
    volume_quote: Option<i64>,
    count: i64,
}

impl Store {
    /// Trades where the user was maker or taker, newest first; times bound `timestamp_ms`,
    /// both inclusive.
    pub async fn user_trades(
        &self,
        user_id: i64,
        symbol: Option<&str>,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<TradeRow>> {
        let rows = sqlx::query_as(select_trades!(
            "WHERE (maker_user_id = $1 OR taker_user_id = $1) \
             AND ($2 IS NULL OR symbol = $2) \
             AND ($3 IS NULL OR timestamp_ms >= $3) AND ($4 IS NULL OR timestamp_ms <= $4) \
             ORDER BY timestamp_ms DESC, trade_id DESC LIMIT $5"
        ))
        .bind(user_id)
        .bind(symbol)
        .bind(start_ms)
        .bind(end_ms)
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The fills of one order in execution order (oldest first), at most [`ORDER_TRADES_MAX`].
    pub async fn order_trades(&self, order_id: i64) -> StoreResult<Vec<TradeRow>> {
        let rows = sqlx::query_as(select_trades!(
            "WHERE maker_order_id = $1 OR taker_order_id = $1 \
             ORDER BY timestamp_ms, trade_id LIMIT $2"
        ))
        .bind(order_id)
        .bind(i64::from(ORDER_TRADES_MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// A market's latest trades, newest first.
    pub async fn recent_trades(&self, symbol: &str, limit: u32) -> StoreResult<Vec<TradeRow>> {
        let rows = sqlx::query_as(select_trades!(
            "WHERE symbol = $1 ORDER BY timestamp_ms DESC, trade_id DESC LIMIT $2"
        ))
        .bind(symbol)
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Open/high/low/last and volumes of a market's trades at or after `since_ms`; `None` when
    /// there were none. Sums are cast to BIGINT so an overflow fails loudly on both backends.
    pub async fn trade_stats_since(
        &self,
        symbol: &str,
        since_ms: i64,
    ) -> StoreResult<Option<TradeStats>> {
        let row: StatsRow = sqlx::query_as(
            "SELECT \
             (SELECT price_ticks FROM trades WHERE symbol = $1 AND timestamp_ms >= $2 \
              ORDER BY timestamp_ms, trade_id LIMIT 1) AS open_ticks, \
             MAX(price_ticks) AS high_ticks, MIN(price_ticks) AS low_ticks, \
             (SELECT price_ticks FROM trades WHERE symbol = $1 AND timestamp_ms >= $2 \
              ORDER BY timestamp_ms DESC, trade_id DESC LIMIT 1) AS last_ticks, \
             CAST(SUM(size_lots) AS BIGINT) AS volume_lots, \
             CAST(SUM(quote_amount) AS BIGINT) AS volume_quote, \
             COUNT(*) AS count \
             FROM trades WHERE symbol = $1 AND timestamp_ms >= $2",
        )
        .bind(symbol)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(stats_from_row(row))
    }
}

fn stats_from_row(row: StatsRow) -> Option<TradeStats> {
    if row.count == 0 {
        return None;
    }
    Some(TradeStats {
        open_ticks: row.open_ticks?,
        high_ticks: row.high_ticks?,
        low_ticks: row.low_ticks?,
        last_ticks: row.last_ticks?,
        volume_lots: row.volume_lots?,
        volume_quote: row.volume_quote?,
        count: row.count,
    })
}
