//! Submissions of claims' uncovered parts to the external insurer, with their status history.

use crate::Store;
use crate::error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InsurerSubmissionRow {
    pub id: i64,
    pub claim_id: i64,
    pub insurer: String,
    pub policy_id: String,
    pub uncovered_usdt: i64,
    pub deductible_usdt: i64,
    pub requested_usdt: i64,
    /// submitted, accepted, denied or paid.
    pub status: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const COLUMNS: &str = "id, claim_id, insurer, policy_id, uncovered_usdt, deductible_usdt, \
     requested_usdt, status, created_ms, updated_ms";

impl Store {
    /// Records a submission (status `submitted`) with its first event; `None` when the claim
    /// was submitted before (nothing is written).
    pub async fn insert_insurer_submission(
        &self,
        row: &InsurerSubmissionRow,
        actor: &str,
        note: &str,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO insurer_submissions (claim_id, insurer, policy_id, uncovered_usdt, \
             deductible_usdt, requested_usdt, status, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $7, $7) \
             ON CONFLICT (claim_id) DO NOTHING RETURNING id",
        )
        .bind(row.claim_id)
        .bind(&row.insurer)
        .bind(&row.policy_id)
        .bind(row.uncovered_usdt)
        .bind(row.deductible_usdt)
        .bind(row.requested_usdt)
        .bind(row.created_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO insurer_events (submission_id, at_ms, actor, status, note) \
             VALUES ($1, $2, $3, 'submitted', $4)",
        )
        .bind(id)
        .bind(row.created_ms)
        .bind(actor)
        .bind(note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Moves a submission from `from` to `to` with its event; false when it was not in `from`.
    pub async fn move_insurer_submission(
        &self,
        id: i64,
        from: &str,
        to: &str,
        actor: &str,
        note: &str,
        at_ms: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE insurer_submissions SET status = $3, updated_ms = $4 \
             WHERE id = $1 AND status = $2",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(at_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO insurer_events (submission_id, at_ms, actor, status, note) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(at_ms)
        .bind(actor)
        .bind(to)
        .bind(note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The submission of a claim, if any.
    pub async fn insurer_submission(
        &self,
        claim_id: i64,
    ) -> StoreResult<Option<InsurerSubmissionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM insurer_submissions WHERE claim_id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(claim_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Every submission, oldest first.
    pub async fn insurer_submissions(&self) -> StoreResult<Vec<InsurerSubmissionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM insurer_submissions ORDER BY id LIMIT 10000");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }
}
