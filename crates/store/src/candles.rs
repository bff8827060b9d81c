//! Candle (kline) read-model queries. The rows are written by the projection
//! (`apply_projection`); here they are read in the two ways the market-data API pages through
//! them: forwards from an open time, or backwards from one.

use crate::Store;
use crate::error::StoreResult;
use crate::limits::capped;
use crate::projection::CandleRow;

/// Prefixes the column list so both queries return the same shape as a `&'static str`.
macro_rules! select_candles {
    ($tail:literal) => {
        concat!(
            "SELECT symbol, step_minutes, open_s, open_ticks, high_ticks, low_ticks, ",
            "close_ticks, volume_lots, volume_quote, trades, first_seq, last_seq FROM candles ",
            "WHERE symbol = $1 AND step_minutes = $2 ",
            $tail
        )
    };
}

impl Store {
    /// The oldest `limit` candles opening after `after_s` (exclusive) and, when given, at or
    /// before `before_s`; oldest first.
    pub async fn candles_after(
        &self,
        symbol: &str,
        step_minutes: u32,
        after_s: i64,
        before_s: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<CandleRow>> {
        let rows = sqlx::query_as(select_candles!(
            "AND open_s > $3 AND ($4 IS NULL OR open_s <= $4) ORDER BY open_s LIMIT $5"
        ))
        .bind(symbol)
        .bind(i64::from(step_minutes))
        .bind(after_s)
        .bind(before_s)
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The newest `limit` candles opening at or before `before_s`; oldest first.
    pub async fn candles_before(
        &self,
        symbol: &str,
        step_minutes: u32,
        before_s: i64,
        limit: u32,
    ) -> StoreResult<Vec<CandleRow>> {
        let mut rows: Vec<CandleRow> = sqlx::query_as(select_candles!(
            "AND open_s <= $3 ORDER BY open_s DESC LIMIT $4"
        ))
        .bind(symbol)
        .bind(i64::from(step_minutes))
        .bind(before_s)
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        Ok(rows)
    }
}
