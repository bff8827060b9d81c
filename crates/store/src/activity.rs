//! Login activity and security events: the append-only history a user reviews in the security
//! center (kept at least 90 days; this module has no delete). Attempts on unknown accounts keep
//! only a hash of the identifier tried, and every list is filtered by the owner's user id, so
//! neither reveals which accounts exist.

use crate::Store;
use crate::error::{StoreResult, classify_keys};
use crate::limits::capped;

/// A login attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginActivity {
    /// `None` when the identifier matched no account.
    pub user_id: Option<i64>,
    /// Keyed hash of the normalised identifier tried; required when `user_id` is `None`.
    pub identifier_hash: Option<Vec<u8>>,
    pub at_ms: i64,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
    /// password, totp, sms, email, recovery, qr, ...
    pub method: String,
    /// success, failure, locked, challenge, ...
    pub result: String,
    pub detail: Option<String>,
}

/// A recorded login attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginActivityRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub identifier_hash: Option<Vec<u8>>,
    pub at_ms: i64,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
    pub method: String,
    pub result: String,
    pub detail: Option<String>,
}

/// A security-relevant change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecurityEvent {
    pub user_id: i64,
    pub at_ms: i64,
    /// password_changed, 2fa_enabled, email_changed, anti_phishing_set, api_key_created, ...
    pub kind: String,
    /// `None` for changes made by staff or the system rather than from a client.
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// A recorded security event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SecurityEventRow {
    pub id: i64,
    pub user_id: i64,
    pub at_ms: i64,
    pub kind: String,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    /// Appends a login attempt; `NotFound("user")` for an unknown user id, `Invalid` when
    /// neither a user id nor an identifier hash is given.
    pub async fn record_login_activity(&self, activity: &NewLoginActivity) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO login_activity (user_id, identifier_hash, at_ms, ip, country, \
             user_agent, method, result, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING id",
        )
        .bind(activity.user_id)
        .bind(activity.identifier_hash.as_deref())
        .bind(activity.at_ms)
        .bind(activity.ip.as_str())
        .bind(activity.country.as_deref())
        .bind(activity.user_agent.as_str())
        .bind(activity.method.as_str())
        .bind(activity.result.as_str())
        .bind(activity.detail.as_deref())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| {
            classify_keys(
                error,
                &[],
                "user",
                "login activity needs a user or an identifier",
            )
        })
    }

    /// One page of the user's login attempts at or after `since_ms`, newest first. Pass the
    /// smallest id of the previous page as `before_id` to get the next page (keyset paging is
    /// stable while new rows arrive); `limit` is capped.
    pub async fn list_login_activity(
        &self,
        user_id: i64,
        since_ms: i64,
        before_id: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<LoginActivityRow>> {
        let rows = sqlx::query_as(
            "SELECT id, user_id, identifier_hash, at_ms, ip, country, user_agent, method, \
             result, detail FROM login_activity WHERE user_id = $1 AND at_ms >= $2 AND id < $3 \
             ORDER BY id DESC LIMIT $4",
        )
        .bind(user_id)
        .bind(since_ms)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Appends a security event; `NotFound("user")` for an unknown user.
    pub async fn record_security_event(&self, event: &NewSecurityEvent) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO security_events (user_id, at_ms, kind, ip, detail) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(event.user_id)
        .bind(event.at_ms)
        .bind(event.kind.as_str())
        .bind(event.ip.as_deref())
        .bind(event.detail.as_deref())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify_keys(error, &[], "user", "security event"))
    }

    /// One page of the user's security events, paged like
    /// [`list_login_activity`](Store::list_login_activity).
    pub async fn list_security_events(
        &self,
        user_id: i64,
        since_ms: i64,
        before_id: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<SecurityEventRow>> {
        let rows = sqlx::query_as(
            "SELECT id, user_id, at_ms, kind, ip, detail FROM security_events \
             WHERE user_id = $1 AND at_ms >= $2 AND id < $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(user_id)
        .bind(since_ms)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
