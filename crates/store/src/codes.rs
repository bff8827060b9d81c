//! One-time codes: short codes sent by email or SMS (sign-up verification, login second factor,
//! recovery proof). Only a hash is stored. A code is live while it is not consumed, not voided,
//! not expired and has attempts left; issuing a new code voids the previous live ones of the same
//! owner and purpose in the same transaction, so at most one code per purpose ever works.

use crate::Store;
use crate::error::{StoreResult, classify_keys};

/// Prefixes the column list so every query returns the same shape as a `&'static str`.
macro_rules! select_codes {
    ($($tail:expr),+) => {
        concat!(
            "SELECT id, user_id, channel, destination, purpose, code_hash, created_ms, ",
            "expires_ms, attempts, max_attempts, consumed_ms, voided_ms, last_sent_ms ",
            "FROM one_time_codes ",
            $($tail),+
        )
    };
}

/// The "live" condition shared by lookups; `$3` is the current time.
macro_rules! live {
    () => {
        "consumed_ms IS NULL AND voided_ms IS NULL AND expires_ms > $3 \
         AND attempts < max_attempts"
    };
}

/// A code to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// The account the code belongs to; `None` for a code sent to an address not yet tied to
    /// an account (then `destination` is the owner).
    pub user_id: Option<i64>,
    /// email or sms.
    pub channel: String,
    /// The address or number the code was sent to.
    pub destination: String,
    /// What the code may be used for (verify_email, login, reset_2fa, ...); a code never works
    /// for another purpose.
    pub purpose: String,
    pub code_hash: Vec<u8>,
    /// Issue time, also recorded as the send time for resend throttling.
    pub created_ms: i64,
    pub expires_ms: i64,
    pub max_attempts: i64,
}

/// A stored code.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CodeRow {
    pub id: i64,
    pub user_id: Option<i64>,
    pub channel: String,
    pub destination: String,
    pub purpose: String,
    pub code_hash: Vec<u8>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub consumed_ms: Option<i64>,
    /// Set when a newer code of the same owner and purpose replaced this one.
    pub voided_ms: Option<i64>,
    pub last_sent_ms: i64,
}

impl Store {
    /// Voids the owner's earlier unused codes for this purpose and inserts the new one, in one
    /// transaction; returns the new id. `NotFound("user")` for an unknown user.
    pub async fn issue_code(&self, code: &NewCode) -> StoreResult<i64> {
        let mut transaction = self.begin_write().await?;
        let void = match code.user_id {
            Some(user_id) => sqlx::query(
                "UPDATE one_time_codes SET voided_ms = $3 WHERE user_id = $1 AND purpose = $2 \
                 AND consumed_ms IS NULL AND voided_ms IS NULL",
            )
            .bind(user_id),
            None => sqlx::query(
                "UPDATE one_time_codes SET voided_ms = $3 WHERE user_id IS NULL \
                 AND destination = $1 AND purpose = $2 AND consumed_ms IS NULL \
                 AND voided_ms IS NULL",
            )
            .bind(code.destination.as_str()),
        };
        void.bind(code.purpose.as_str())
            .bind(code.created_ms)
            .execute(&mut *transaction)
            .await?;
        let id = insert_code(&mut *transaction, code).await?;
        transaction.commit().await?;
        Ok(id)
    }

    /// Inserts a code without voiding the owner's other codes of its purpose: for codes that
    /// each belong to one of several live requests (sign-up attempts), where a new request must
    /// not kill another's code.
    pub async fn issue_code_keeping_others(&self, code: &NewCode) -> StoreResult<i64> {
        insert_code(&self.pool, code).await
    }

    /// The live code with this id, if it is still live at `now_ms`.
    pub async fn find_live_code_by_id(&self, id: i64, now_ms: i64) -> StoreResult<Option<CodeRow>> {
        let row = sqlx::query_as(select_codes!(
            "WHERE id = $1 AND consumed_ms IS NULL AND voided_ms IS NULL AND expires_ms > $2 \
             AND attempts < max_attempts"
        ))
        .bind(id)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// The user's live code for `purpose` at `now_ms`, if any.
    pub async fn find_live_code(
        &self,
        user_id: i64,
        purpose: &str,
        now_ms: i64,
    ) -> StoreResult<Option<CodeRow>> {
        let row = sqlx::query_as(select_codes!(
            "WHERE user_id = $1 AND purpose = $2 AND ",
            live!(),
            " ORDER BY id DESC LIMIT 1"
        ))
        .bind(user_id)
        .bind(purpose)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// The live code sent to `destination` for `purpose` that belongs to no account yet.
    pub async fn find_live_code_for_destination(
        &self,
        destination: &str,
        purpose: &str,
        now_ms: i64,
    ) -> StoreResult<Option<CodeRow>> {
        let row = sqlx::query_as(select_codes!(
            "WHERE user_id IS NULL AND destination = $1 AND purpose = $2 AND ",
            live!(),
            " ORDER BY id DESC LIMIT 1"
        ))
        .bind(destination)
        .bind(purpose)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// The user's most recent code for `purpose` in any state, for resend throttling
    /// (`last_sent_ms`).
    pub async fn latest_code(&self, user_id: i64, purpose: &str) -> StoreResult<Option<CodeRow>> {
        let row = sqlx::query_as(select_codes!(
            "WHERE user_id = $1 AND purpose = $2 ORDER BY id DESC LIMIT 1"
        ))
        .bind(user_id)
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Spends one attempt on a live code before the caller compares hashes; returns the new
    /// attempt count, or `None` when the code accepts no more attempts (used up, consumed,
    /// voided, expired or unknown). Atomic, so parallel guesses cannot exceed `max_attempts`.
    pub async fn record_code_attempt(&self, id: i64, now_ms: i64) -> StoreResult<Option<i64>> {
        let attempts = sqlx::query_scalar(
            "UPDATE one_time_codes SET attempts = attempts + 1 WHERE id = $1 \
             AND consumed_ms IS NULL AND voided_ms IS NULL AND expires_ms > $2 \
             AND attempts < max_attempts RETURNING attempts",
        )
        .bind(id)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(attempts)
    }

    /// Marks a code used; returns true for exactly one caller, and false if it was already
    /// consumed, voided or expired.
    pub async fn consume_code(&self, id: i64, now_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE one_time_codes SET consumed_ms = $2 WHERE id = $1 \
             AND consumed_ms IS NULL AND voided_ms IS NULL AND expires_ms > $2",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}

/// The one insert statement for codes (with or without voiding the earlier ones).
async fn insert_code<'e, E>(executor: E, code: &NewCode) -> StoreResult<i64>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query_scalar(
        "INSERT INTO one_time_codes (user_id, channel, destination, purpose, code_hash, \
         created_ms, expires_ms, attempts, max_attempts, last_sent_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $6) RETURNING id",
    )
    .bind(code.user_id)
    .bind(code.channel.as_str())
    .bind(code.destination.as_str())
    .bind(code.purpose.as_str())
    .bind(code.code_hash.as_slice())
    .bind(code.created_ms)
    .bind(code.expires_ms)
    .bind(code.max_attempts)
    .fetch_one(executor)
    .await
    .map_err(|error| classify_keys(error, &[], "user", "max_attempts must be positive"))
}
