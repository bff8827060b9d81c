//! Proof-of-work challenges already redeemed. Challenges are stateless (signed by the server);
//! this registry only makes each one single-use until it expires, after which the signature
//! check refuses it anyway and the row can be pruned.

use crate::Store;
use crate::error::StoreResult;

impl Store {
    /// Registers the challenge as used; true the first time, false on any reuse (atomic, so of
    /// two parallel redemptions exactly one wins).
    pub async fn use_pow_challenge(
        &self,
        challenge_id: &str,
        expires_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO pow_challenges_used (challenge_id, expires_ms) VALUES ($1, $2) \
             ON CONFLICT (challenge_id) DO NOTHING",
        )
        .bind(challenge_id)
        .bind(expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes entries that expired at or before `now_ms`; returns how many.
    pub async fn prune_pow_challenges(&self, now_ms: i64) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM pow_challenges_used WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
