//! Email and SMS second factors: which of them a user turned on. The codes themselves live in
//! `one_time_codes` with the other one-time codes; TOTP keeps its own table (encrypted seed).

use crate::Store;
use crate::error::{StoreError, StoreResult, classify};

/// The methods this table holds.
pub mod factor_method {
    pub const EMAIL: &str = "email";
    pub const SMS: &str = "sms";
}

impl Store {
    /// Turns `method` on for `user_id` (idempotent: the first enabling time is kept).
    /// `Invalid` for an unknown method, `NotFound("user")` for an unknown user.
    pub async fn enable_second_factor(
        &self,
        user_id: i64,
        method: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        if method != factor_method::EMAIL && method != factor_method::SMS {
            return Err(StoreError::Invalid(
                "second factor method must be email or sms",
            ));
        }
        sqlx::query(
            "INSERT INTO second_factors (user_id, method, enabled_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, method) DO NOTHING",
        )
        .bind(user_id)
        .bind(method)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|error| classify(error, "second factor", "user"))?;
        Ok(())
    }

    /// Turns `method` off; true if it was on.
    pub async fn disable_second_factor(&self, user_id: i64, method: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM second_factors WHERE user_id = $1 AND method = $2")
            .bind(user_id)
            .bind(method)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The methods `user_id` has on, in name order.
    pub async fn list_second_factors(&self, user_id: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query_scalar(
            "SELECT method FROM second_factors WHERE user_id = $1 ORDER BY method",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
