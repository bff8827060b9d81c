//! Named limits for every query, so no read can return an unbounded result by accident.

/// Most rows any list query returns, whatever limit the caller asks for.
pub const ROWS_PER_QUERY_MAX: u32 = 1_000;

/// Most fills `order_trades` returns for one order (an order can match many makers).
pub const ORDER_TRADES_MAX: u32 = 10_000;

/// Rows per multi-row `INSERT` in a projection batch. 18 columns x 64 rows = 1,152 bind
/// parameters, far below SQLite's 32,766 and PostgreSQL's 65,535.
pub const PROJECTION_ROWS_PER_STATEMENT_MAX: usize = 64;

const _: () = assert!(ORDER_TRADES_MAX >= ROWS_PER_QUERY_MAX);
const _: () = assert!(PROJECTION_ROWS_PER_STATEMENT_MAX.is_power_of_two());
const _: () = assert!(PROJECTION_ROWS_PER_STATEMENT_MAX * 18 < 32_766);

/// Clamps a caller's limit to [`ROWS_PER_QUERY_MAX`] and widens it for binding.
pub(crate) fn capped(limit: u32) -> i64 {
    i64::from(limit.min(ROWS_PER_QUERY_MAX))
}
