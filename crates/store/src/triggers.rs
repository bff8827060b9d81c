//! Stop-order read-model queries (the `trigger_orders` projection). State names are shared
//! constants so the projector writes exactly what these queries filter on.

use crate::Store;
use crate::error::StoreResult;
use crate::limits::capped;
use crate::projection::TriggerRow;

/// Stop-order state names stored in `trigger_orders.state`.
pub mod trigger_state {
    /// Waiting for the price (BitMart's `new`, which clients read as open).
    pub const NEW: &str = "new";
    /// Fired and placed its order.
    pub const TRIGGERED: &str = "triggered";
    /// Fired, but its order was refused.
    pub const FAILED: &str = "failed";
    pub const CANCELED: &str = "canceled";
}

/// Prefixes the column list so every stop-order query returns the same shape.
macro_rules! select_triggers {
    ($tail:literal) => {
        concat!(
            "SELECT trigger_id, user_id, symbol, side, kind, price_ticks, size_lots, notional, ",
            "trigger_price_ticks, direction, state, order_id, fail_reason, client_order_id, stp, ",
            "created_ms, updated_ms, last_seq FROM trigger_orders ",
            $tail
        )
    };
}

impl Store {
    /// One stop order by id.
    pub async fn get_trigger(&self, trigger_id: i64) -> StoreResult<Option<TriggerRow>> {
        let row = sqlx::query_as(select_triggers!("WHERE trigger_id = $1"))
            .bind(trigger_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The user's most recent stop order with this client order id.
    pub async fn find_trigger_by_client_id(
        &self,
        user_id: i64,
        client_order_id: &str,
    ) -> StoreResult<Option<TriggerRow>> {
        let row = sqlx::query_as(select_triggers!(
            "WHERE user_id = $1 AND client_order_id = $2 \
             ORDER BY created_ms DESC, trigger_id DESC LIMIT 1"
        ))
        .bind(user_id)
        .bind(client_order_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// The user's stop orders that are waiting (`open`) or not (history), newest first,
    /// optionally one symbol; `start_ms`/`end_ms` bound the creation time, both inclusive.
    pub async fn list_triggers(
        &self,
        user_id: i64,
        open: bool,
        symbol: Option<&str>,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<TriggerRow>> {
        let rows = sqlx::query_as(select_triggers!(
            "WHERE user_id = $1 AND (state = 'new') = $2 \
             AND ($3 IS NULL OR symbol = $3) \
             AND ($4 IS NULL OR created_ms >= $4) AND ($5 IS NULL OR created_ms <= $5) \
             ORDER BY created_ms DESC, trigger_id DESC LIMIT $6"
        ))
        .bind(user_id)
        .bind(open)
        .bind(symbol)
        .bind(start_ms)
        .bind(end_ms)
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
