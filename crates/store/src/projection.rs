//! Projection writes: the server's projector turns engine events into these plain rows and
//! applies them in batches. Every write is conditional on the row's sequence number, so replaying
//! a batch, or an older batch after a newer one, never moves a read model backwards.

use std::collections::BTreeMap;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AssertSqlSafe};

use crate::Store;
use crate::db::Backend;
use crate::error::{StoreResult, i64_to_u64, seq_to_i64};
use crate::limits::PROJECTION_ROWS_PER_STATEMENT_MAX;

/// Name of the projection whose progress `apply_projection` records.
pub const MAIN_PROJECTION: &str = "main";

/// Full state of one order after the event at `last_seq`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: i64,
    pub user_id: i64,
    pub symbol: String,
    pub side: String,
    pub kind: String,
    pub price_ticks: i64,
    pub size_lots: i64,
    pub notional: i64,
    pub filled_lots: i64,
    pub filled_quote: i64,
    pub fee_paid: i64,
    /// One of the [`order_state`](crate::order_state) names.
    pub state: String,
    pub cancel_reason: Option<String>,
    pub client_order_id: Option<String>,
    pub stp: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub last_seq: i64,
}

/// Full state of one stop order after the event at `last_seq`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TriggerRow {
    pub trigger_id: i64,
    pub user_id: i64,
    pub symbol: String,
    pub side: String,
    pub kind: String,
    pub price_ticks: i64,
    pub size_lots: i64,
    pub notional: i64,
    pub trigger_price_ticks: i64,
    /// `rise` or `fall`: which way the price had to move from the last price at acceptance.
    pub direction: String,
    /// One of the [`trigger_state`](crate::trigger_state) names.
    pub state: String,
    /// The order it placed when it fired.
    pub order_id: Option<i64>,
    /// Why the order it placed was refused.
    pub fail_reason: Option<String>,
    pub client_order_id: Option<String>,
    pub stp: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub last_seq: i64,
}

/// One fill; immutable once written.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TradeRow {
    pub trade_id: i64,
    pub symbol: String,
    pub price_ticks: i64,
    pub size_lots: i64,
    pub quote_amount: i64,
    pub taker_side: String,
    pub maker_order_id: i64,
    pub taker_order_id: i64,
    pub maker_user_id: i64,
    pub taker_user_id: i64,
    pub maker_fee: i64,
    pub maker_fee_asset: String,
    pub taker_fee: i64,
    pub taker_fee_asset: String,
    pub timestamp_ms: i64,
    pub seq: i64,
}

/// A user's balance of one asset after the event at `last_seq`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BalanceRow {
    pub user_id: i64,
    pub asset: String,
    pub available: i64,
    pub held: i64,
    pub last_seq: i64,
}

/// A user's total of one asset at the end of the UTC hour `hour_s` (so far), as of `last_seq`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BalanceHourRow {
    pub user_id: i64,
    pub asset: String,
    /// Start of the hour, seconds since the epoch.
    pub hour_s: i64,
    /// Available plus held.
    pub total: i64,
    pub last_seq: i64,
}

/// One candle of one market and interval, or (in a [`ProjectionBatch`]) what a run of trades
/// adds to it: merged into the stored row by keeping its open, taking the new close, widening
/// high and low and adding the volumes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CandleRow {
    pub symbol: String,
    pub step_minutes: i64,
    /// Open time in seconds since the epoch (UTC).
    pub open_s: i64,
    pub open_ticks: i64,
    pub high_ticks: i64,
    pub low_ticks: i64,
    pub close_ticks: i64,
    pub volume_lots: i64,
    pub volume_quote: i64,
    pub trades: i64,
    /// Sequence numbers of the first and last trade merged into the row.
    pub first_seq: i64,
    pub last_seq: i64,
}

/// Everything one projector step writes, applied in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectionBatch {
    pub orders: Vec<OrderRow>,
    pub triggers: Vec<TriggerRow>,
    pub trades: Vec<TradeRow>,
    pub balances: Vec<BalanceRow>,
    pub balance_hours: Vec<BalanceHourRow>,
    /// At most one row per (symbol, interval, open time), built from trades after the stored
    /// projection sequence only.
    pub candles: Vec<CandleRow>,
}

const ORDER_COLUMNS: usize = 18;
const TRIGGER_COLUMNS: usize = 18;
const TRADE_COLUMNS: usize = 16;
const BALANCE_COLUMNS: usize = 5;
const BALANCE_HOUR_COLUMNS: usize = 5;
const CANDLE_COLUMNS: usize = 12;

const ORDER_INSERT: &str = "INSERT INTO orders (order_id, user_id, symbol, side, kind, \
     price_ticks, size_lots, notional, filled_lots, filled_quote, fee_paid, state, cancel_reason, \
     client_order_id, stp, created_ms, updated_ms, last_seq) VALUES ";
const ORDER_CONFLICT: &str = " ON CONFLICT (order_id) DO UPDATE SET user_id = excluded.user_id, \
     symbol = excluded.symbol, side = excluded.side, kind = excluded.kind, \
     price_ticks = excluded.price_ticks, size_lots = excluded.size_lots, \
     notional = excluded.notional, filled_lots = excluded.filled_lots, \
     filled_quote = excluded.filled_quote, fee_paid = excluded.fee_paid, state = excluded.state, \
     cancel_reason = excluded.cancel_reason, client_order_id = excluded.client_order_id, \
     stp = excluded.stp, created_ms = excluded.created_ms, updated_ms = excluded.updated_ms, \
     last_seq = excluded.last_seq WHERE excluded.last_seq >= orders.last_seq";

const TRIGGER_INSERT: &str = "INSERT INTO trigger_orders (trigger_id, user_id, symbol, side, \
     kind, price_ticks, size_lots, notional, trigger_price_ticks, direction, state, order_id, \
     fail_reason, client_order_id, stp, created_ms, updated_ms, last_seq) VALUES ";
const TRIGGER_CONFLICT: &str = " ON CONFLICT (trigger_id) DO UPDATE SET \
     state = excluded.state, order_id = excluded.order_id, fail_reason = excluded.fail_reason, \
     updated_ms = excluded.updated_ms, last_seq = excluded.last_seq \
     WHERE excluded.last_seq >= trigger_orders.last_seq";

const TRADE_INSERT: &str = "INSERT INTO trades (trade_id, symbol, price_ticks, size_lots, \
     quote_amount, taker_side, maker_order_id, taker_order_id, maker_user_id, taker_user_id, \
     maker_fee, maker_fee_asset, taker_fee, taker_fee_asset, timestamp_ms, seq) VALUES ";
const TRADE_CONFLICT: &str = " ON CONFLICT (trade_id) DO NOTHING";

const BALANCE_INSERT: &str =
    "INSERT INTO balances (user_id, asset, available, held, last_seq) VALUES ";
const BALANCE_CONFLICT: &str = " ON CONFLICT (user_id, asset) DO UPDATE SET \
     available = excluded.available, held = excluded.held, last_seq = excluded.last_seq \
     WHERE excluded.last_seq >= balances.last_seq";

const BALANCE_HOUR_INSERT: &str =
    "INSERT INTO balance_hours (user_id, asset, hour_s, total, last_seq) VALUES ";
const BALANCE_HOUR_CONFLICT: &str = " ON CONFLICT (user_id, asset, hour_s) DO UPDATE SET \
     total = excluded.total, last_seq = excluded.last_seq \
     WHERE excluded.last_seq >= balance_hours.last_seq";

const CANDLE_INSERT: &str = "INSERT INTO candles (symbol, step_minutes, open_s, open_ticks, \
     high_ticks, low_ticks, close_ticks, volume_lots, volume_quote, trades, first_seq, last_seq) \
     VALUES ";
// A row only ever grows by trades after the ones it holds: a delta starting at or before the
// row's last merged sequence was merged already (a replay) and is skipped whole.
const CANDLE_CONFLICT: &str = " ON CONFLICT (symbol, step_minutes, open_s) DO UPDATE SET \
     high_ticks = CASE WHEN excluded.high_ticks > candles.high_ticks \
     THEN excluded.high_ticks ELSE candles.high_ticks END, \
     low_ticks = CASE WHEN excluded.low_ticks < candles.low_ticks \
     THEN excluded.low_ticks ELSE candles.low_ticks END, \
     close_ticks = excluded.close_ticks, \
     volume_lots = candles.volume_lots + excluded.volume_lots, \
     volume_quote = candles.volume_quote + excluded.volume_quote, \
     trades = candles.trades + excluded.trades, last_seq = excluded.last_seq \
     WHERE excluded.first_seq > candles.last_seq";

type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

impl Store {
    /// Applies a batch atomically and advances the projection to `up_to_seq` (never back).
    ///
    /// Orders, stop orders and balances only overwrite rows with an equal or older `last_seq`;
    /// trades are insert-once. So applying the same batch twice, or an old batch late, changes nothing.
    pub async fn apply_projection(
        &self,
        up_to_seq: u64,
        batch: &ProjectionBatch,
    ) -> StoreResult<()> {
        let up_to_seq = seq_to_i64(up_to_seq, "projection sequence")?;
        let orders = newest_per_key(&batch.orders, |row| row.order_id, |row| row.last_seq);
        let balances = newest_per_key(
            &batch.balances,
            |row| (row.user_id, row.asset.as_str()),
            |row| row.last_seq,
        );
        let mut transaction = self.begin_write().await?;
        let connection: &mut AnyConnection = &mut transaction;
        write_chunked(
            self.backend,
            connection,
            &orders,
            ORDER_COLUMNS,
            ORDER_INSERT,
            ORDER_CONFLICT,
            bind_order,
        )
        .await?;
        let triggers = newest_per_key(&batch.triggers, |row| row.trigger_id, |row| row.last_seq);
        write_chunked(
            self.backend,
            connection,
            &triggers,
            TRIGGER_COLUMNS,
            TRIGGER_INSERT,
            TRIGGER_CONFLICT,
            bind_trigger,
        )
        .await?;
        let trades: Vec<&TradeRow> = batch.trades.iter().collect();
        write_chunked(
            self.backend,
            connection,
            &trades,
            TRADE_COLUMNS,
            TRADE_INSERT,
            TRADE_CONFLICT,
            bind_trade,
        )
        .await?;
        write_chunked(
            self.backend,
            connection,
            &balances,
            BALANCE_COLUMNS,
            BALANCE_INSERT,
            BALANCE_CONFLICT,
            bind_balance,
        )
        .await?;
        let balance_hours = newest_per_key(
            &batch.balance_hours,
            |row| (row.user_id, row.asset.as_str(), row.hour_s),
            |row| row.last_seq,
        );
        write_chunked(
            self.backend,
            connection,
            &balance_hours,
            BALANCE_HOUR_COLUMNS,
            BALANCE_HOUR_INSERT,
            BALANCE_HOUR_CONFLICT,
            bind_balance_hour,
        )
        .await?;
        let candles: Vec<&CandleRow> = batch.candles.iter().collect();
        write_chunked(
            self.backend,
            connection,
            &candles,
            CANDLE_COLUMNS,
            CANDLE_INSERT,
            CANDLE_CONFLICT,
            bind_candle,
        )
        .await?;
        sqlx::query(
            "INSERT INTO projection_state (name, last_seq) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq \
             WHERE excluded.last_seq > projection_state.last_seq",
        )
        .bind(MAIN_PROJECTION)
        .bind(up_to_seq)
        .execute(&mut *connection)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The sequence number the read models are complete up to (0 before the first batch).
    pub async fn projected_seq(&self) -> StoreResult<u64> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT last_seq FROM projection_state WHERE name = $1")
                .bind(MAIN_PROJECTION)
                .fetch_optional(&self.pool)
                .await?;
        i64_to_u64(seq.unwrap_or(0), "projection sequence")
    }
}

/// Keeps one row per key: the highest `last_seq`, the later one on ties (as if the rows had been
/// upserted one by one). PostgreSQL refuses to upsert the same key twice in one statement.
fn newest_per_key<'r, T, K: Ord>(
    rows: &'r [T],
    key: impl Fn(&'r T) -> K,
    seq: impl Fn(&T) -> i64,
) -> Vec<&'r T> {
    let mut newest: BTreeMap<K, &'r T> = BTreeMap::new();
    for row in rows {
        let entry = newest.entry(key(row)).or_insert(row);
        if seq(row) >= seq(entry) {
            *entry = row;
        }
    }
    newest.into_values().collect()
}

/// Writes rows with multi-row statements whose sizes are powers of two up to the maximum, so a
/// batch of any length needs at most a handful of distinct (cached, prepared) statement texts.
async fn write_chunked<T>(
    backend: Backend,
    connection: &mut AnyConnection,
    rows: &[&T],
    columns: usize,
    head: &str,
    tail: &str,
    bind: for<'q> fn(AnyQuery<'q>, &T) -> AnyQuery<'q>,
) -> StoreResult<()> {
    let mut rest = rows;
    while !rest.is_empty() {
        let size = chunk_size(rest.len());
        let (chunk, after) = rest.split_at(size);
        let sql = multi_row_sql(backend, head, tail, columns, size);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            query = bind(query, row);
        }
        query.execute(&mut *connection).await?;
        rest = after;
    }
    Ok(())
}

/// Largest power of two that fits both the remaining rows and the per-statement maximum.
fn chunk_size(remaining: usize) -> usize {
    assert!(remaining > 0, "chunk_size called with nothing left");
    let bounded = remaining.min(PROJECTION_ROWS_PER_STATEMENT_MAX);
    let size = 1_usize << bounded.ilog2();
    assert!(size <= remaining && size <= PROJECTION_ROWS_PER_STATEMENT_MAX);
    size
}

/// `head ($1, …, $c), ($c+1, …) tail`: only numbers are spliced in, never data.
///
/// SQLite gets anonymous `?` placeholders instead. Binding looks up each parameter's name, and
/// for numbered ones SQLite scans the statement's whole list of names: quadratic in the
/// parameters, which was the largest single cost of projecting into SQLite (a fifth of all CPU
/// while rebuilding read models). Anonymous parameters have no names and bind in order.
fn multi_row_sql(backend: Backend, head: &str, tail: &str, columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * columns * 6);
    sql.push_str(head);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(row * columns + column + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

fn bind_order<'q>(query: AnyQuery<'q>, row: &OrderRow) -> AnyQuery<'q> {
    query
        .bind(row.order_id)
        .bind(row.user_id)
        .bind(row.symbol.clone())
        .bind(row.side.clone())
        .bind(row.kind.clone())
        .bind(row.price_ticks)
        .bind(row.size_lots)
        .bind(row.notional)
        .bind(row.filled_lots)
        .bind(row.filled_quote)
        .bind(row.fee_paid)
        .bind(row.state.clone())
        .bind(row.cancel_reason.clone())
        .bind(row.client_order_id.clone())
        .bind(row.stp.clone())
        .bind(row.created_ms)
        .bind(row.updated_ms)
        .bind(row.last_seq)
}

fn bind_trigger<'q>(query: AnyQuery<'q>, row: &TriggerRow) -> AnyQuery<'q> {
    query
        .bind(row.trigger_id)
        .bind(row.user_id)
        .bind(row.symbol.clone())
        .bind(row.side.clone())
        .bind(row.kind.clone())
        .bind(row.price_ticks)
        .bind(row.size_lots)
        .bind(row.notional)
        .bind(row.trigger_price_ticks)
        .bind(row.direction.clone())
        .bind(row.state.clone())
        .bind(row.order_id)
        .bind(row.fail_reason.clone())
        .bind(row.client_order_id.clone())
        .bind(row.stp.clone())
        .bind(row.created_ms)
        .bind(row.updated_ms)
        .bind(row.last_seq)
}

fn bind_trade<'q>(query: AnyQuery<'q>, row: &TradeRow) -> AnyQuery<'q> {
    query
        .bind(row.trade_id)
        .bind(row.symbol.clone())
        .bind(row.price_ticks)
        .bind(row.size_lots)
        .bind(row.quote_amount)
        .bind(row.taker_side.clone())
        .bind(row.maker_order_id)
        .bind(row.taker_order_id)
        .bind(row.maker_user_id)
        .bind(row.taker_user_id)
        .bind(row.maker_fee)
        .bind(row.maker_fee_asset.clone())
        .bind(row.taker_fee)
        .bind(row.taker_fee_asset.clone())
        .bind(row.timestamp_ms)
        .bind(row.seq)
}

fn bind_balance<'q>(query: AnyQuery<'q>, row: &BalanceRow) -> AnyQuery<'q> {
    query
        .bind(row.user_id)
        .bind(row.asset.clone())
        .bind(row.available)
        .bind(row.held)
        .bind(row.last_seq)
}

fn bind_balance_hour<'q>(query: AnyQuery<'q>, row: &BalanceHourRow) -> AnyQuery<'q> {
    query
        .bind(row.user_id)
        .bind(row.asset.clone())
        .bind(row.hour_s)
        .bind(row.total)
        .bind(row.last_seq)
}

fn bind_candle<'q>(query: AnyQuery<'q>, row: &CandleRow) -> AnyQuery<'q> {
    query
        .bind(row.symbol.clone())
        .bind(row.step_minutes)
        .bind(row.open_s)
        .bind(row.open_ticks)
        .bind(row.high_ticks)
        .bind(row.low_ticks)
        .bind(row.close_ticks)
        .bind(row.volume_lots)
        .bind(row.volume_quote)
        .bind(row.trades)
        .bind(row.first_seq)
        .bind(row.last_seq)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use super::*;

    #[test]
    fn chunk_sizes_cover_any_length_with_powers_of_two() {
        for total in 1..300_usize {
            let mut remaining = total;
            let mut statements = 0;
            while remaining > 0 {
                let size = chunk_size(remaining);
                assert!(size.is_power_of_two());
                remaining -= size;
                statements += 1;
            }
            assert!(statements <= total / PROJECTION_ROWS_PER_STATEMENT_MAX + 7);
        }
    }

    #[test]
    fn multi_row_sql_numbers_placeholders_in_order() {
        let sql = multi_row_sql(
            Backend::Postgres,
            "INSERT INTO t (a, b) VALUES ",
            " END",
            2,
            2,
        );
        assert_eq!(sql, "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) END");
        let sql = multi_row_sql(
            Backend::Sqlite,
            "INSERT INTO t (a, b) VALUES ",
            " END",
            2,
            2,
        );
        assert_eq!(sql, "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) END");
    }

    #[test]
    fn newest_per_key_keeps_highest_seq_and_later_on_ties() {
        let rows = [
            (1, 5, "a"),
            (1, 7, "b"),
            (1, 7, "c"),
            (2, 3, "d"),
            (1, 6, "e"),
        ];
        let kept = newest_per_key(&rows, |row| row.0, |row| row.1);
        let names: Vec<&str> = kept.iter().map(|row| row.2).collect();
        assert_eq!(names, ["c", "d"]);
    }
}
