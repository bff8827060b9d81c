//! TOTP credentials: one per user, the seed encrypted by the caller. The last accepted time step
//! is stored and only ever moves forward through a conditional update, which is the replay guard:
//! of two requests carrying the same code, exactly one advances the step.

use crate::Store;
use crate::error::{StoreError, StoreResult, classify};

/// A user's TOTP credential.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TotpRow {
    pub user_id: i64,
    /// AEAD ciphertext of the shared secret.
    pub secret_ciphertext: Vec<u8>,
    pub created_ms: i64,
    /// `None` while enrolment waits for the first correct code.
    pub enabled_ms: Option<i64>,
    /// The newest time step accepted so far (0 before the first).
    pub last_used_step: i64,
}

impl Store {
    /// Starts (or restarts) enrolment with a new secret. `Conflict("totp")` if TOTP is already
    /// enabled: an enabled credential is removed only through [`delete_totp`](Store::delete_totp).
    pub async fn begin_totp_enrollment(
        &self,
        user_id: i64,
        secret_ciphertext: &[u8],
        now_ms: i64,
    ) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO totp_credentials (user_id, secret_ciphertext, created_ms, enabled_ms, \
             last_used_step) VALUES ($1, $2, $3, NULL, 0) ON CONFLICT (user_id) DO UPDATE \
             SET secret_ciphertext = excluded.secret_ciphertext, \
             created_ms = excluded.created_ms, last_used_step = 0 \
             WHERE totp_credentials.enabled_ms IS NULL",
        )
        .bind(user_id)
        .bind(secret_ciphertext)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|error| classify(error, "totp", "user"))?;
        if result.rows_affected() == 0 {
            return Err(StoreError::Conflict("totp"));
        }
        Ok(())
    }

    /// The user's credential, pending or enabled.
    pub async fn get_totp(&self, user_id: i64) -> StoreResult<Option<TotpRow>> {
        let row = sqlx::query_as(
            "SELECT user_id, secret_ciphertext, created_ms, enabled_ms, last_used_step \
             FROM totp_credentials WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Finishes enrolment with the step of the confirming code; true for exactly one caller,
    /// false if already enabled, not started, or the step is not newer than the stored one.
    pub async fn enable_totp(&self, user_id: i64, step: i64, now_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE totp_credentials SET enabled_ms = $3, last_used_step = $2 \
             WHERE user_id = $1 AND enabled_ms IS NULL AND last_used_step < $2",
        )
        .bind(user_id)
        .bind(step)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records `step` as used on an enabled credential only if it is newer than the last one;
    /// false means replay (or no enabled credential) and the code must be refused.
    pub async fn advance_totp_step(&self, user_id: i64, step: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE totp_credentials SET last_used_step = $2 WHERE user_id = $1 \
             AND enabled_ms IS NOT NULL AND last_used_step < $2",
        )
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Removes the credential (2FA turned off or reset); returns whether one existed.
    pub async fn delete_totp(&self, user_id: i64) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }
}
