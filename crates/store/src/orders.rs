//! Order read-model queries (the `orders` projection). State names are shared constants so the
//! projector writes exactly what these queries filter on.

use crate::Store;
use crate::error::{StoreResult, i64_to_u64};
use crate::limits::capped;
use crate::projection::OrderRow;

/// Order state names stored in `orders.state` (BitMart v4 spellings).
pub mod order_state {
    pub const NEW: &str = "new";
    pub const PARTIALLY_FILLED: &str = "partially_filled";
    pub const FILLED: &str = "filled";
    pub const CANCELED: &str = "canceled";
    pub const PARTIALLY_CANCELED: &str = "partially_canceled";
}

/// Prefixes the column list so every order query returns the same shape as a `&'static str`.
macro_rules! select_orders {
    ($tail:literal) => {
        concat!(
            "SELECT order_id, user_id, symbol, side, kind, price_ticks, size_lots, notional, ",
            "filled_lots, filled_quote, fee_paid, state, cancel_reason, client_order_id, stp, ",
            "created_ms, updated_ms, last_seq FROM orders ",
            $tail
        )
    };
}

impl Store {
    /// One order by id.
    pub async fn get_order(&self, order_id: i64) -> StoreResult<Option<OrderRow>> {
        let row = sqlx::query_as(select_orders!("WHERE order_id = $1"))
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The user's most recent order with this client order id (ids may be reused over time).
    pub async fn find_order_by_client_id(
        &self,
        user_id: i64,
        client_order_id: &str,
    ) -> StoreResult<Option<OrderRow>> {
        let row = sqlx::query_as(select_orders!(
            "WHERE user_id = $1 AND client_order_id = $2 \
             ORDER BY created_ms DESC, order_id DESC LIMIT 1"
        ))
        .bind(user_id)
        .bind(client_order_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// The user's live orders (new, partially filled), newest first, optionally one symbol.
    pub async fn open_orders(
        &self,
        user_id: i64,
        symbol: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<OrderRow>> {
        let rows = sqlx::query_as(select_orders!(
            "WHERE user_id = $1 AND state IN ('new', 'partially_filled') \
             AND ($2 IS NULL OR symbol = $2) \
             ORDER BY created_ms DESC, order_id DESC LIMIT $3"
        ))
        .bind(user_id)
        .bind(symbol)
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The user's finished orders (filled, canceled, partially canceled), newest first.
    /// `start_ms`/`end_ms` bound the creation time, both inclusive.
    pub async fn history_orders(
        &self,
        user_id: i64,
        symbol: Option<&str>,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<OrderRow>> {
        let rows = sqlx::query_as(select_orders!(
            "WHERE user_id = $1 AND state IN ('filled', 'canceled', 'partially_canceled') \
             AND ($2 IS NULL OR symbol = $2) \
             AND ($3 IS NULL OR created_ms >= $3) AND ($4 IS NULL OR created_ms <= $4) \
             ORDER BY created_ms DESC, order_id DESC LIMIT $5"
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

    /// One page of the user's orders in one market whose state is one of `states`, newest first
    /// (BitMart's legacy paged order list: page `page` counting from 0, `per_page` rows).
    pub async fn orders_in_states(
        &self,
        user_id: i64,
        symbol: &str,
        states: [&str; 2],
        page: u32,
        per_page: u32,
    ) -> StoreResult<Vec<OrderRow>> {
        let rows = sqlx::query_as(select_orders!(
            "WHERE user_id = $1 AND symbol = $2 AND state IN ($3, $4) \
             ORDER BY created_ms DESC, order_id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(user_id)
        .bind(symbol)
        .bind(states[0])
        .bind(states[1])
        .bind(capped(per_page))
        .bind(i64::from(page) * capped(per_page))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Every live order, by id: the projector's view of what should rest on the books.
    /// Unbounded on purpose (it mirrors the engine's books, which have their own limits).
    pub async fn all_orders_with_state(&self) -> StoreResult<Vec<OrderRow>> {
        let rows = sqlx::query_as(select_orders!(
            "WHERE state IN ('new', 'partially_filled') ORDER BY order_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Number of orders ever projected.
    pub async fn order_count(&self) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
            .fetch_one(&self.pool)
            .await?;
        i64_to_u64(count, "order count")
    }
}
