//! Logins waiting for the owner's confirmation (new device or new country). Each step is one
//! conditional update, so a link clicked twice confirms once and a confirmation turns into a
//! session exactly once, however many requests race.

use crate::Store;
use crate::error::{StoreResult, UniqueKey, classify_keys};

macro_rules! select_confirmations {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, wait_hash, link_hash, device_id, reason, method, created_ms, ",
            "expires_ms, confirmed_ms, redeemed_ms, ip, country, user_agent ",
            "FROM login_confirmations ",
            $tail
        )
    };
}

const KEYS: &[UniqueKey] = &[
    UniqueKey {
        constraint: "uq_login_confirmations_wait",
        sqlite_columns: "login_confirmations.wait_hash",
        label: "login confirmation",
    },
    UniqueKey {
        constraint: "uq_login_confirmations_link",
        sqlite_columns: "login_confirmations.link_hash",
        label: "login confirmation",
    },
];

/// A login to hold until confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLoginConfirmation {
    pub user_id: i64,
    /// Hash of the token the waiting client holds.
    pub wait_hash: Vec<u8>,
    /// Hash of the token in the emailed link.
    pub link_hash: Vec<u8>,
    /// The (pending) device the login came from.
    pub device_id: i64,
    /// `new_device` or `new_country`.
    pub reason: String,
    /// The second factor the login passed (`password` when none).
    pub method: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
}

/// A stored waiting login.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginConfirmationRow {
    pub id: i64,
    pub user_id: i64,
    pub wait_hash: Vec<u8>,
    pub link_hash: Vec<u8>,
    pub device_id: i64,
    pub reason: String,
    pub method: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub confirmed_ms: Option<i64>,
    pub redeemed_ms: Option<i64>,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
}

impl Store {
    /// Stores a waiting login; `NotFound("user")`/`NotFound("device")` style errors come back
    /// through the usual classification.
    pub async fn insert_login_confirmation(
        &self,
        login: &NewLoginConfirmation,
    ) -> StoreResult<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO login_confirmations (user_id, wait_hash, link_hash, device_id, reason, \
             method, created_ms, expires_ms, ip, country, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(login.user_id)
        .bind(login.wait_hash.as_slice())
        .bind(login.link_hash.as_slice())
        .bind(login.device_id)
        .bind(login.reason.as_str())
        .bind(login.method.as_str())
        .bind(login.created_ms)
        .bind(login.expires_ms)
        .bind(login.ip.as_str())
        .bind(login.country.as_deref())
        .bind(login.user_agent.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| {
            classify_keys(error, KEYS, "user", "login confirmation reason is invalid")
        })?;
        Ok(id)
    }

    /// The waiting login a client's wait token names.
    pub async fn find_login_confirmation(
        &self,
        wait_hash: &[u8],
    ) -> StoreResult<Option<LoginConfirmationRow>> {
        let row = sqlx::query_as(select_confirmations!("WHERE wait_hash = $1"))
            .bind(wait_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The waiting login an emailed link names.
    pub async fn find_login_confirmation_by_link(
        &self,
        link_hash: &[u8],
    ) -> StoreResult<Option<LoginConfirmationRow>> {
        let row = sqlx::query_as(select_confirmations!("WHERE link_hash = $1"))
            .bind(link_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// Confirms an unexpired, unconfirmed waiting login; true for exactly one caller.
    pub async fn confirm_login(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE login_confirmations SET confirmed_ms = $2 WHERE id = $1 \
             AND confirmed_ms IS NULL AND redeemed_ms IS NULL AND expires_ms > $2",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Turns a confirmed, unexpired waiting login into "redeemed"; true for exactly one caller
    /// (who then issues the session).
    pub async fn redeem_login_confirmation(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE login_confirmations SET redeemed_ms = $2 WHERE id = $1 \
             AND confirmed_ms IS NOT NULL AND redeemed_ms IS NULL AND expires_ms > $2",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The distinct countries of the user's successful logins (new-country check).
    pub async fn login_countries(&self, user_id: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query_scalar(
            "SELECT DISTINCT country FROM login_activity WHERE user_id = $1 \
             AND result = 'success' AND country IS NOT NULL ORDER BY country LIMIT 300",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
