//! Sign-up attempts: every sign-up of an address that is not verified yet is kept apart, with
//! its own password hash, client token and code, so that verifying completes exactly the attempt
//! of whoever proved control of the address. Completing one ends all others in one transaction.

use crate::Store;
use crate::error::{StoreError, StoreResult, classify};
use crate::users::account_status;

/// An attempt to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSignupAttempt {
    pub user_id: i64,
    pub password_phc: String,
    pub display_name: Option<String>,
    /// Hash of the token the signing-up client holds.
    pub token_hash: Vec<u8>,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// A stored attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SignupAttemptRow {
    pub id: i64,
    pub user_id: i64,
    pub password_phc: String,
    pub display_name: Option<String>,
    pub token_hash: Vec<u8>,
    /// The verification code of this attempt, once issued.
    pub code_id: Option<i64>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub ended_ms: Option<i64>,
}

/// Which contact column the completed attempt verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifiedContact {
    Email,
    Phone,
}

macro_rules! select_attempts {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, password_phc, display_name, token_hash, code_id, created_ms, ",
            "expires_ms, ended_ms FROM signup_attempts ",
            $tail
        )
    };
}

impl Store {
    /// Inserts an attempt and returns its id; `NotFound("user")` for an unknown user.
    pub async fn insert_signup_attempt(&self, attempt: &NewSignupAttempt) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO signup_attempts (user_id, password_phc, display_name, token_hash, \
             created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(attempt.user_id)
        .bind(attempt.password_phc.as_str())
        .bind(attempt.display_name.as_deref())
        .bind(attempt.token_hash.as_slice())
        .bind(attempt.created_ms)
        .bind(attempt.expires_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify(error, "signup token", "user"))
    }

    /// Records the verification code issued for an attempt.
    pub async fn set_signup_attempt_code(&self, attempt_id: i64, code_id: i64) -> StoreResult<()> {
        let result = sqlx::query("UPDATE signup_attempts SET code_id = $2 WHERE id = $1")
            .bind(attempt_id)
            .bind(code_id)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("signup attempt"));
        }
        Ok(())
    }

    /// The live (not ended, not expired) attempt whose token hashes to `token_hash`.
    pub async fn find_signup_attempt_by_token(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> StoreResult<Option<SignupAttemptRow>> {
        let row = sqlx::query_as(select_attempts!(
            "WHERE token_hash = $1 AND ended_ms IS NULL AND expires_ms > $2"
        ))
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// The user's live attempts, newest first, at most `limit`.
    pub async fn live_signup_attempts(
        &self,
        user_id: i64,
        now_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<SignupAttemptRow>> {
        let rows = sqlx::query_as(select_attempts!(
            "WHERE user_id = $1 AND ended_ms IS NULL AND expires_ms > $2 ORDER BY id DESC LIMIT $3"
        ))
        .bind(user_id)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Ends the user's live attempts older than the `keep` newest; returns how many ended.
    pub async fn end_older_signup_attempts(
        &self,
        user_id: i64,
        keep: u32,
        now_ms: i64,
    ) -> StoreResult<u64> {
        let result = sqlx::query(
            "UPDATE signup_attempts SET ended_ms = $3 WHERE user_id = $1 AND ended_ms IS NULL \
             AND id NOT IN (SELECT id FROM signup_attempts WHERE user_id = $1 \
             AND ended_ms IS NULL ORDER BY id DESC LIMIT $2)",
        )
        .bind(user_id)
        .bind(i64::from(keep))
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Completes a live attempt, in one transaction: the account takes the attempt's password
    /// (and display name, when it gave one), the contact is marked verified, the status moves
    /// from unverified to active, and every other live attempt of the account ends. Returns how
    /// many other attempts ended, or `None` when the attempt was no longer live or the account
    /// no longer unverified (a racing completion won), in which case nothing changed.
    pub async fn complete_signup_attempt(
        &self,
        attempt_id: i64,
        contact: VerifiedContact,
        now_ms: i64,
    ) -> StoreResult<Option<u64>> {
        let mut transaction = self.begin_write().await?;
        let attempt: Option<SignupAttemptRow> = sqlx::query_as(concat!(
            "UPDATE signup_attempts SET ended_ms = $2 WHERE id = $1 AND ended_ms IS NULL \
             AND expires_ms > $2 RETURNING id, user_id, password_phc, display_name, token_hash, ",
            "code_id, created_ms, expires_ms, ended_ms"
        ))
        .bind(attempt_id)
        .bind(now_ms)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(attempt) = attempt else {
            return Ok(None);
        };
        let update = match contact {
            VerifiedContact::Email => {
                "UPDATE users SET password_phc = $2, display_name = COALESCE($3, display_name), \
                 email_verified_ms = COALESCE(email_verified_ms, $4), status = $5 \
                 WHERE id = $1 AND status = $6"
            }
            VerifiedContact::Phone => {
                "UPDATE users SET password_phc = $2, display_name = COALESCE($3, display_name), \
                 phone_verified_ms = COALESCE(phone_verified_ms, $4), status = $5 \
                 WHERE id = $1 AND status = $6"
            }
        };
        let moved = sqlx::query(update)
            .bind(attempt.user_id)
            .bind(attempt.password_phc.as_str())
            .bind(attempt.display_name.as_deref())
            .bind(now_ms)
            .bind(account_status::ACTIVE)
            .bind(account_status::UNVERIFIED)
            .execute(&mut *transaction)
            .await?;
        if moved.rows_affected() != 1 {
            transaction.rollback().await?;
            return Ok(None);
        }
        let others = sqlx::query(
            "UPDATE signup_attempts SET ended_ms = $2 WHERE user_id = $1 AND ended_ms IS NULL",
        )
        .bind(attempt.user_id)
        .bind(now_ms)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(Some(others.rows_affected()))
    }
}
