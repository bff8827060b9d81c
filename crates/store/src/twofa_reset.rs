//! Lost-second-factor reset requests: reviewed by staff, effective only after a delay, and
//! cancellable by the owner until applied. A partial unique index allows one open request per
//! user. The rule that a reviewer never decides their own request belongs to the accounts
//! service (`accounts::admin::decide_twofa_reset`); the table's CHECK only backs it up.

use crate::Store;
use crate::error::{StoreResult, classify, classify_keys};
use crate::limits::capped;

/// Request states stored in `twofa_reset_requests.state`.
pub mod twofa_reset_state {
    pub const PENDING_REVIEW: &str = "pending_review";
    pub const APPROVED: &str = "approved";
    pub const REJECTED: &str = "rejected";
    pub const CANCELLED: &str = "cancelled";
    pub const APPLIED: &str = "applied";
}

/// Prefixes the column list so every query returns the same shape as a `&'static str`.
macro_rules! select_resets {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, created_ms, effective_ms, state, reviewer_id, decided_ms, ",
            "reason FROM twofa_reset_requests ",
            $tail
        )
    };
}

/// A stored reset request.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TwofaResetRow {
    pub id: i64,
    pub user_id: i64,
    pub created_ms: i64,
    /// Earliest time the reset may be applied.
    pub effective_ms: i64,
    /// One of the [`twofa_reset_state`] names.
    pub state: String,
    pub reviewer_id: Option<i64>,
    /// When reviewed or cancelled.
    pub decided_ms: Option<i64>,
    pub reason: Option<String>,
}

impl Store {
    /// Opens a request pending review; `Conflict("twofa reset")` if the user already has an
    /// open one (pending review or approved), `NotFound("user")`.
    pub async fn insert_twofa_reset(
        &self,
        user_id: i64,
        created_ms: i64,
        effective_ms: i64,
    ) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO twofa_reset_requests (user_id, created_ms, effective_ms, state) \
             VALUES ($1, $2, $3, 'pending_review') RETURNING id",
        )
        .bind(user_id)
        .bind(created_ms)
        .bind(effective_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify(error, "twofa reset", "user"))
    }

    /// A request by id.
    pub async fn get_twofa_reset(&self, id: i64) -> StoreResult<Option<TwofaResetRow>> {
        let row = sqlx::query_as(select_resets!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The user's open request (pending review or approved), if any.
    pub async fn find_open_twofa_reset(&self, user_id: i64) -> StoreResult<Option<TwofaResetRow>> {
        let row = sqlx::query_as(select_resets!(
            "WHERE user_id = $1 AND state IN ('pending_review', 'approved')"
        ))
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Requests in one state, oldest first: the staff review queue (`limit` capped).
    pub async fn list_twofa_resets(
        &self,
        state: &str,
        limit: u32,
    ) -> StoreResult<Vec<TwofaResetRow>> {
        let rows = sqlx::query_as(select_resets!("WHERE state = $1 ORDER BY id LIMIT $2"))
            .bind(state)
            .bind(capped(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// Records a staff decision on a request pending review; true for exactly one caller.
    /// `Invalid` if the row would break the reviewer CHECK (the service refuses that first).
    pub async fn decide_twofa_reset(
        &self,
        id: i64,
        reviewer_id: i64,
        approve: bool,
        reason: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let state = if approve {
            twofa_reset_state::APPROVED
        } else {
            twofa_reset_state::REJECTED
        };
        let result = sqlx::query(
            "UPDATE twofa_reset_requests SET state = $3, reviewer_id = $2, decided_ms = $5, \
             reason = $4 WHERE id = $1 AND state = 'pending_review'",
        )
        .bind(id)
        .bind(reviewer_id)
        .bind(state)
        .bind(reason)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|error| {
            classify_keys(
                error,
                &[],
                "reviewer",
                "a reviewer cannot decide their own request",
            )
        })?;
        Ok(result.rows_affected() == 1)
    }

    /// The owner cancels their open request; false if it is not theirs or no longer open.
    pub async fn cancel_twofa_reset(
        &self,
        user_id: i64,
        id: i64,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE twofa_reset_requests SET state = 'cancelled', decided_ms = $3 \
             WHERE id = $1 AND user_id = $2 AND state IN ('pending_review', 'approved')",
        )
        .bind(id)
        .bind(user_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Applies an approved request whose delay has passed: marks it applied and removes the
    /// user's TOTP credential and recovery codes in one transaction. Returns the user id for
    /// exactly one caller, `None` if not approved or not yet effective.
    pub async fn apply_twofa_reset(&self, id: i64, now_ms: i64) -> StoreResult<Option<i64>> {
        let mut transaction = self.begin_write().await?;
        let user_id: Option<i64> = sqlx::query_scalar(
            "UPDATE twofa_reset_requests SET state = 'applied' \
             WHERE id = $1 AND state = 'approved' AND effective_ms <= $2 RETURNING user_id",
        )
        .bind(id)
        .bind(now_ms)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(Some(user_id))
    }
}
