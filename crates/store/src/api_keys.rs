//! API keys: the credentials bots sign requests with. The secret is stored encrypted by the
//! caller; scopes and the IP allow-list are comma lists the API layer parses.

use crate::Store;
use crate::error::{StoreError, StoreResult, classify};
use crate::limits::capped;

/// Prefixes the column list so every query returns the same shape as a `&'static str`.
macro_rules! select_api_keys {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, access_key, secret_ciphertext, memo, scopes, ip_allowlist, ",
            "created_ms, revoked, last_used_ms ",
            $tail
        )
    };
}

/// A key to insert; the id is assigned by the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub user_id: i64,
    pub access_key: String,
    /// AEAD ciphertext of the signing secret (never the plain secret).
    pub secret_ciphertext: Vec<u8>,
    pub memo: String,
    /// Comma-separated scope names.
    pub scopes: String,
    /// Comma-separated CIDRs; empty means any address.
    pub ip_allowlist: String,
    pub created_ms: i64,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub user_id: i64,
    pub access_key: String,
    pub secret_ciphertext: Vec<u8>,
    pub memo: String,
    pub scopes: String,
    pub ip_allowlist: String,
    pub created_ms: i64,
    /// 1 once revoked, else 0 (integers because the Any driver has no portable boolean column).
    pub revoked: i64,
    /// Last authenticated use (0: never), kept to within [`touch_api_key`](Store::touch_api_key)'s
    /// interval.
    pub last_used_ms: i64,
}

impl Store {
    /// Inserts a key; a duplicate access key is `Conflict("access key")`, an unknown user is
    /// `NotFound("user")`.
    pub async fn insert_api_key(&self, key: &NewApiKey) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO api_keys (user_id, access_key, secret_ciphertext, memo, scopes, \
             ip_allowlist, created_ms, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, 0) \
             RETURNING id",
        )
        .bind(key.user_id)
        .bind(key.access_key.as_str())
        .bind(key.secret_ciphertext.as_slice())
        .bind(key.memo.as_str())
        .bind(key.scopes.as_str())
        .bind(key.ip_allowlist.as_str())
        .bind(key.created_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify(error, "access key", "user"))
    }

    /// Finds a key by its public access key (revoked keys included: the caller decides).
    /// Served from memory after the first read (see `row_cache`); unknown keys are not cached.
    pub async fn find_api_key(&self, access_key: &str) -> StoreResult<Option<ApiKeyRow>> {
        let generation = match self.api_key_cache.get(access_key) {
            Ok(row) => return Ok(Some(row)),
            Err(generation) => generation,
        };
        let sql = select_api_keys!("FROM api_keys WHERE access_key = $1");
        let row: Option<ApiKeyRow> = sqlx::query_as(sql)
            .bind(access_key)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = &row {
            self.api_key_cache
                .fill(generation, row.access_key.clone(), row.clone());
        }
        Ok(row)
    }

    /// Lists a user's keys, oldest first, at most [`ROWS_PER_QUERY_MAX`](crate::ROWS_PER_QUERY_MAX)
    /// (the API layer caps keys per user far lower).
    pub async fn list_api_keys(&self, user_id: i64) -> StoreResult<Vec<ApiKeyRow>> {
        let sql = select_api_keys!("FROM api_keys WHERE user_id = $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query_as(sql)
            .bind(user_id)
            .bind(capped(u32::MAX))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// Marks one of the user's keys revoked; `NotFound("api key")` if the user has no such key.
    pub async fn revoke_api_key(&self, user_id: i64, id: i64) -> StoreResult<()> {
        let result = sqlx::query("UPDATE api_keys SET revoked = 1 WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await;
        self.api_key_cache.forget_all();
        let result = result?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("api key"));
        }
        Ok(())
    }
}

impl Store {
    /// Records a use of the key at `now_ms` unless the stored time is less than `interval_ms`
    /// old, so the authentication path writes at most once per interval; returns whether it wrote.
    pub async fn touch_api_key(
        &self,
        key: &ApiKeyRow,
        now_ms: i64,
        interval_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE api_keys SET last_used_ms = $2 WHERE id = $1 AND last_used_ms < $3",
        )
        .bind(key.id)
        .bind(now_ms)
        .bind(now_ms.saturating_sub(interval_ms))
        .execute(&self.pool)
        .await;
        let wrote = matches!(&result, Ok(done) if done.rows_affected() == 1);
        if wrote {
            self.api_key_cache
                .update(key.access_key.as_str(), |row| row.last_used_ms = now_ms);
        } else {
            // Someone else recorded a use (or the write failed): read the row again next time.
            self.api_key_cache.forget(key.access_key.as_str());
        }
        result?;
        Ok(wrote)
    }

    /// Replaces the IP allow-list of one of the user's live keys; `NotFound("api key")` when the
    /// user has no such live key.
    pub async fn set_api_key_ips(
        &self,
        user_id: i64,
        id: i64,
        ip_allowlist: &str,
    ) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE api_keys SET ip_allowlist = $3 WHERE id = $1 AND user_id = $2 AND revoked = 0",
        )
        .bind(id)
        .bind(user_id)
        .bind(ip_allowlist)
        .execute(&self.pool)
        .await;
        self.api_key_cache.forget_all();
        let result = result?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("api key"));
        }
        Ok(())
    }
}
