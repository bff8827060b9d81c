//! Lockout counters: one opaque row per throttled key ("acct:<id>", "acct2fa:<id>", "ip:<addr>").
//! The schedule (delays, lock lengths, levels) lives in the identity crate; the store offers a
//! plain get/put plus an atomic failure increment so parallel wrong guesses are all counted.

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
             last_failure_ms = excluded.last_failure_ms"
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

    /// Adds one failure at `now_ms` (creating the row at one failure) and returns the state
    /// after it, in one statement, so concurrent failures never overwrite each other's count.
    pub async fn record_lockout_failure(
        &self,
        lock_key: &str,
        now_ms: i64,
    ) -> StoreResult<LockoutRow> {
        let row = sqlx::query_as(concat!(
            "INSERT INTO lockout_state (",
            lockout_columns!(),
            ") VALUES ($1, 1, 0, 0, 0, $2) ON CONFLICT (lock_key) DO UPDATE SET \
             failures = lockout_state.failures + 1, last_failure_ms = excluded.last_failure_ms \
             RETURNING ",
            lockout_columns!()
        ))
        .bind(lock_key)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row)
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
