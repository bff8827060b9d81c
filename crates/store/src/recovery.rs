//! Recovery codes: the ten single-use codes a user keeps offline. Only hashes are stored;
//! regenerating replaces the whole set in one transaction so old codes stop working at once.

use crate::Store;
use crate::error::{StoreResult, classify};

/// One stored recovery code.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecoveryCodeRow {
    pub id: i64,
    pub user_id: i64,
    /// Hash of the code in the caller's format (for example a PHC string).
    pub code_hash: String,
    pub created_ms: i64,
    pub used_ms: Option<i64>,
}

impl Store {
    /// Deletes the user's codes and inserts `code_hashes` in one transaction (an empty slice
    /// just deletes); `NotFound("user")` for an unknown user.
    pub async fn replace_recovery_codes(
        &self,
        user_id: i64,
        code_hashes: &[String],
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        for code_hash in code_hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, created_ms) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(code_hash.as_str())
            .bind(now_ms)
            .execute(&mut *transaction)
            .await
            .map_err(|error| classify(error, "recovery code", "user"))?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// All the user's codes, used ones included (the caller verifies against the unused ones
    /// and shows how many remain), in issue order.
    pub async fn list_recovery_codes(&self, user_id: i64) -> StoreResult<Vec<RecoveryCodeRow>> {
        let rows = sqlx::query_as(
            "SELECT id, user_id, code_hash, created_ms, used_ms FROM recovery_codes \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Marks one of the user's codes used; true for exactly one caller, false if already used
    /// or not the user's.
    pub async fn use_recovery_code(&self, user_id: i64, id: i64, now_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE recovery_codes SET used_ms = $3 WHERE id = $1 AND user_id = $2 \
             AND used_ms IS NULL",
        )
        .bind(id)
        .bind(user_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
