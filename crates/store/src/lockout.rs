//! Lockout counters: one opaque row per throttled key ("acct:<id>", "acct2fa:<id>", "ip:<addr>").
//! The schedule (delays, lock lengths, levels) lives in the identity crate; the store offers a
//! plain get/put, and a versioned read plus compare-and-swap so the attempt limiter can decide
//! and count an attempt as one atomic step across connections and processes.

use crate::Store;
use crate::error::StoreResult;

/// The lockout state of one key. `0` in a `*_ms` field means "never".
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LockoutRow {
    pub lock_key: String,
    /// Consecutive failures since the last success or reset.
    pub failures: i64,
    /// How many locks have started (the lock length grows with it).
    pub lock_level: i64,
    pub locked_until_ms: i64,
    /// 1 when only a password reset lifts the lock, else 0.
    pub reset_required: i64,
    pub last_failure_ms: i64,
}

/// A row as read for a compare-and-swap.
#[derive(sqlx::FromRow)]
struct VersionedRow {
    lock_key: String,
    failures: i64,
    lock_level: i64,
    locked_until_ms: i64,
    reset_required: i64,
    last_failure_ms: i64,
    version: i64,
}

/// Column list shared by every statement.
macro_rules! lockout_columns {
    () => {
        "lock_key, failures, lock_level, locked_until_ms, reset_required, last_failure_ms"
    };
}

impl Store {
    /// The key's state, or `None` if it never failed (or was cleared).
    pub async fn get_lockout(&self, lock_key: &str) -> StoreResult<Option<LockoutRow>> {
        let row = sqlx::query_as(concat!(
            "SELECT ",
            lockout_columns!(),
            " FROM lockout_state WHERE lock_key = $1"
        ))
        .bind(lock_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Inserts or overwrites the key's state with `row`.
    pub async fn put_lockout(&self, row: &LockoutRow) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO lockout_state (",
            lockout_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lock_key) DO UPDATE SET \
             failures = excluded.failures, lock_level = excluded.lock_level, \
             locked_until_ms = excluded.locked_until_ms, \
             reset_required = excluded.reset_required, \
             last_failure_ms = excluded.last_failure_ms, version = lockout_state.version + 1"
        ))
        .bind(row.lock_key.as_str())
        .bind(row.failures)
        .bind(row.lock_level)
        .bind(row.locked_until_ms)
        .bind(row.reset_required)
        .bind(row.last_failure_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The key's state and its version (for [`swap_lockout`](Store::swap_lockout)), or `None`.
    pub async fn get_lockout_versioned(
        &self,
        lock_key: &str,
    ) -> StoreResult<Option<(LockoutRow, i64)>> {
        let row: Option<VersionedRow> = sqlx::query_as(concat!(
            "SELECT ",
            lockout_columns!(),
            ", version FROM lockout_state WHERE lock_key = $1"
        ))
        .bind(lock_key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            (
                LockoutRow {
                    lock_key: r.lock_key,
                    failures: r.failures,
                    lock_level: r.lock_level,
                    locked_until_ms: r.locked_until_ms,
                    reset_required: r.reset_required,
                    last_failure_ms: r.last_failure_ms,
                },
                r.version,
            )
        }))
    }

    /// Writes `row` with version `new_version` only if the key is still as read: absent when
    /// `expected` is `None`, else at version `expected`. Returns whether it was written; on
    /// `false` the caller reads again and re-decides. Callers pick `new_version` so that it never
    /// repeats for a key (a random number), which rules out a stale read matching a row that was
    /// deleted and created again.
    pub async fn swap_lockout(
        &self,
        row: &LockoutRow,
        expected: Option<i64>,
        new_version: i64,
    ) -> StoreResult<bool> {
        let query = match expected {
            None => sqlx::query(concat!(
                "INSERT INTO lockout_state (",
                lockout_columns!(),
                ", version) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (lock_key) DO NOTHING"
            )),
            Some(_) => sqlx::query(
                "UPDATE lockout_state SET failures = $2, lock_level = $3, locked_until_ms = $4, \
                 reset_required = $5, last_failure_ms = $6, version = $7 \
                 WHERE lock_key = $1 AND version = $8",
            ),
        };
        let result = query
            .bind(row.lock_key.as_str())
            .bind(row.failures)
            .bind(row.lock_level)
            .bind(row.locked_until_ms)
            .bind(row.reset_required)
            .bind(row.last_failure_ms)
            .bind(new_version)
            .bind(expected.unwrap_or_default())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets the key (after a successful login or a reset); returns whether it existed.
    pub async fn clear_lockout(&self, lock_key: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM lockout_state WHERE lock_key = $1")
            .bind(lock_key)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }
}
