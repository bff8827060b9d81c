//! User-agreement versions. Exactly one version may be current (a partial unique index says so);
//! users record which version they accepted, and a foreign key makes sure it was published.

use crate::Store;
use crate::error::{StoreError, StoreResult, classify};
use crate::limits::capped;

/// One published agreement version.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgreementVersionRow {
    pub version: String,
    pub published_ms: i64,
    /// 1 for the version new users accept, else 0.
    pub is_current: i64,
}

impl Store {
    /// Publishes a version, optionally making it current (the previous current one stops being
    /// current in the same transaction). `Conflict("agreement version")` if it exists.
    pub async fn publish_agreement_version(
        &self,
        version: &str,
        published_ms: i64,
        make_current: bool,
    ) -> StoreResult<()> {
        let mut transaction = self.begin_write().await?;
        if make_current {
            sqlx::query("UPDATE agreement_versions SET is_current = 0 WHERE is_current = 1")
                .execute(&mut *transaction)
                .await?;
        }
        sqlx::query(
            "INSERT INTO agreement_versions (version, published_ms, is_current) \
             VALUES ($1, $2, $3)",
        )
        .bind(version)
        .bind(published_ms)
        .bind(i64::from(make_current))
        .execute(&mut *transaction)
        .await
        .map_err(|error| classify(error, "agreement version", "agreement version"))?;
        transaction.commit().await?;
        Ok(())
    }

    /// Makes a published version current; `NotFound("agreement version")` if it was never
    /// published (nothing changes then).
    pub async fn set_current_agreement_version(&self, version: &str) -> StoreResult<()> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("UPDATE agreement_versions SET is_current = 0 WHERE is_current = 1")
            .execute(&mut *transaction)
            .await?;
        let result = sqlx::query("UPDATE agreement_versions SET is_current = 1 WHERE version = $1")
            .bind(version)
            .execute(&mut *transaction)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("agreement version"));
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The current version, if any was published as current.
    pub async fn current_agreement_version(&self) -> StoreResult<Option<AgreementVersionRow>> {
        let row = sqlx::query_as(
            "SELECT version, published_ms, is_current FROM agreement_versions \
             WHERE is_current = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Every version, oldest first (capped at [`ROWS_PER_QUERY_MAX`](crate::ROWS_PER_QUERY_MAX)).
    pub async fn list_agreement_versions(&self) -> StoreResult<Vec<AgreementVersionRow>> {
        let rows = sqlx::query_as(
            "SELECT version, published_ms, is_current FROM agreement_versions \
             ORDER BY published_ms, version LIMIT $1",
        )
        .bind(capped(u32::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
