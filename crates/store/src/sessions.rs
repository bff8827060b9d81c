//! Sessions: one row per browser login. Only a hash of the 256-bit token is stored, so a copy of
//! the database cannot be replayed as cookies. Lifetimes and re-authentication windows are the
//! caller's rules; the store keeps the times they are computed from.

use crate::Store;
use crate::error::{StoreError, StoreResult, classify};
use crate::limits::capped;

/// Prefixes the column list so every query returns the same shape as a `&'static str`.
macro_rules! select_sessions {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, token_hash, device_id, created_ms, last_seen_ms, ",
            "authenticated_ms, ip, country, user_agent, revoked_ms, second_factor FROM sessions ",
            $tail
        )
    };
}

/// A session to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub user_id: i64,
    /// Hash of the cookie token (never the token).
    pub token_hash: Vec<u8>,
    pub device_id: Option<i64>,
    pub created_ms: i64,
    /// Time of the last full authentication; `None` while a second factor or a device
    /// confirmation is still pending.
    pub authenticated_ms: Option<i64>,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
    /// The second factor the login passed (totp, recovery_code, email, sms), if any.
    pub second_factor: Option<String>,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub token_hash: Vec<u8>,
    pub device_id: Option<i64>,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub authenticated_ms: Option<i64>,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
    pub revoked_ms: Option<i64>,
    pub second_factor: Option<String>,
}

impl Store {
    /// Inserts a session (last seen = created); `Conflict("session token")` on a duplicate hash,
    /// `NotFound("user or device")` for an unknown user or device.
    pub async fn insert_session(&self, session: &NewSession) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO sessions (user_id, token_hash, device_id, created_ms, last_seen_ms, \
             authenticated_ms, ip, country, user_agent, second_factor) \
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(session.user_id)
        .bind(session.token_hash.as_slice())
        .bind(session.device_id)
        .bind(session.created_ms)
        .bind(session.authenticated_ms)
        .bind(session.ip.as_str())
        .bind(session.country.as_deref())
        .bind(session.user_agent.as_str())
        .bind(session.second_factor.as_deref())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify(error, "session token", "user or device"))
    }

    /// The live (not revoked) session with this token hash; expiry is the caller's check.
    pub async fn find_session_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query_as(select_sessions!(
            "WHERE token_hash = $1 AND revoked_ms IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// One of the user's sessions by id, revoked or not (others' sessions are `None`).
    pub async fn get_session(&self, user_id: i64, id: i64) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query_as(select_sessions!("WHERE id = $1 AND user_id = $2"))
            .bind(id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// Moves `last_seen_ms` forward to `now_ms` (never back); returns false if the session is
    /// revoked or gone.
    pub async fn touch_session(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE sessions SET last_seen_ms = CASE \
             WHEN last_seen_ms < $2 THEN $2 ELSE last_seen_ms END \
             WHERE id = $1 AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records a full authentication (login completed or re-authentication) and swaps in the
    /// new token hash in the same statement, since every authentication issues a new token.
    /// Returns false if the session is revoked or gone; `Conflict("session token")` on a
    /// duplicate hash.
    pub async fn set_session_authenticated(
        &self,
        id: i64,
        new_token_hash: &[u8],
        now_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE sessions SET authenticated_ms = $3, token_hash = $2, \
             last_seen_ms = CASE WHEN last_seen_ms < $3 THEN $3 ELSE last_seen_ms END \
             WHERE id = $1 AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(new_token_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|error| classify(error, "session token", "session"))?;
        Ok(result.rows_affected() == 1)
    }

    /// Revokes one of the user's own sessions; `NotFound("session")` if the user has no such
    /// session (someone else's id included). Revoking twice keeps the first time.
    pub async fn revoke_session(&self, user_id: i64, id: i64, now_ms: i64) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE sessions SET revoked_ms = COALESCE(revoked_ms, $3) \
             WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("session"));
        }
        Ok(())
    }

    /// Revokes every live session of the user except `keep` (the current one, for "log out
    /// elsewhere"); returns how many were revoked.
    pub async fn revoke_all_sessions(
        &self,
        user_id: i64,
        keep: Option<i64>,
        now_ms: i64,
    ) -> StoreResult<u64> {
        let result = sqlx::query(
            "UPDATE sessions SET revoked_ms = $3 WHERE user_id = $1 AND revoked_ms IS NULL \
             AND ($2 IS NULL OR id <> $2)",
        )
        .bind(user_id)
        .bind(keep)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// The user's live sessions, newest first (capped at
    /// [`ROWS_PER_QUERY_MAX`](crate::ROWS_PER_QUERY_MAX)).
    pub async fn list_sessions(&self, user_id: i64) -> StoreResult<Vec<SessionRow>> {
        let rows = sqlx::query_as(select_sessions!(
            "WHERE user_id = $1 AND revoked_ms IS NULL ORDER BY id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(capped(u32::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
