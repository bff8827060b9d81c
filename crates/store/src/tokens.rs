//! Link tokens: long random tokens mailed in links (password reset, email verification, account
//! freeze, device confirmation). Only a hash is stored; a token is bound to one purpose and is
//! consumed atomically, so it works once and never for another purpose.

use crate::Store;
use crate::error::{StoreResult, classify};

/// Prefixes the column list so every query returns the same shape as a `&'static str`.
macro_rules! token_columns {
    () => {
        "id, token_hash, user_id, purpose, created_ms, expires_ms, consumed_ms, data"
    };
}

/// A token to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    /// password_reset, verify_email, freeze, confirm_device, ...
    pub purpose: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// Whatever the purpose needs to finish (for example the device id to confirm).
    pub data: Option<String>,
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub purpose: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub consumed_ms: Option<i64>,
    pub data: Option<String>,
}

impl Store {
    /// Inserts a token; `Conflict("token")` on a duplicate hash, `NotFound("user")`.
    pub async fn insert_token(&self, token: &NewToken) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO tokens (token_hash, user_id, purpose, created_ms, expires_ms, data) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(token.token_hash.as_slice())
        .bind(token.user_id)
        .bind(token.purpose.as_str())
        .bind(token.created_ms)
        .bind(token.expires_ms)
        .bind(token.data.as_deref())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify(error, "token", "user"))
    }

    /// The unconsumed, unexpired token with this hash and purpose, without using it (for a page
    /// that asks the user to confirm before acting).
    pub async fn find_live_token(
        &self,
        token_hash: &[u8],
        purpose: &str,
        now_ms: i64,
    ) -> StoreResult<Option<TokenRow>> {
        let row = sqlx::query_as(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE token_hash = $1 AND purpose = $2 AND consumed_ms IS NULL \
             AND expires_ms > $3"
        ))
        .bind(token_hash)
        .bind(purpose)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Uses the token: returns its row for exactly one caller, and `None` if it is unknown, of
    /// another purpose, expired or already consumed.
    pub async fn consume_token(
        &self,
        token_hash: &[u8],
        purpose: &str,
        now_ms: i64,
    ) -> StoreResult<Option<TokenRow>> {
        let row = sqlx::query_as(concat!(
            "UPDATE tokens SET consumed_ms = $3 WHERE token_hash = $1 AND purpose = $2 \
             AND consumed_ms IS NULL AND expires_ms > $3 RETURNING ",
            token_columns!()
        ))
        .bind(token_hash)
        .bind(purpose)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Consumes every unused token of the user for `purpose` (a new reset link voids older
    /// ones; a completed reset voids them all); returns how many.
    pub async fn void_tokens(&self, user_id: i64, purpose: &str, now_ms: i64) -> StoreResult<u64> {
        let result = sqlx::query(
            "UPDATE tokens SET consumed_ms = $3 WHERE user_id = $1 AND purpose = $2 \
             AND consumed_ms IS NULL",
        )
        .bind(user_id)
        .bind(purpose)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
