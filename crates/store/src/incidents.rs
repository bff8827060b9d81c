//! Platform incidents and their public timeline. The containment columns are what the rest of
//! the platform reads: custody freezes withdrawals of the assets (or all) an open, unlifted
//! freeze names and pauses sweeps while any incident pauses them.

use crate::Store;
use crate::error::StoreResult;

/// An incident as declared, with what of its containment has been lifted.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IncidentRow {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub assets: String,
    pub markets: String,
    pub users: String,
    pub halt_scope: String,
    pub freeze_scope: String,
    pub pause_sweeps: i64,
    pub halt_lifted_ms: Option<i64>,
    pub freeze_lifted_ms: Option<i64>,
    pub sweeps_lifted_ms: Option<i64>,
    pub declared_by: String,
    pub declared_ms: i64,
    pub resolved_ms: Option<i64>,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IncidentUpdateRow {
    pub id: i64,
    pub incident_id: i64,
    pub at_ms: i64,
    pub author: String,
    pub message: String,
}

/// A containment step that can be lifted on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainmentStep {
    Halt,
    Freeze,
    Sweeps,
}

const INCIDENT_COLUMNS: &str = "id, kind, title, assets, markets, users, halt_scope, freeze_scope, pause_sweeps, \
     halt_lifted_ms, freeze_lifted_ms, sweeps_lifted_ms, declared_by, declared_ms, resolved_ms";

impl Store {
    /// Records a declared incident (`id` ignored) with its first timeline entry; answers its id.
    pub async fn insert_incident(&self, row: &IncidentRow, first_update: &str) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (kind, title, assets, markets, users, halt_scope, freeze_scope, pause_sweeps, \
             declared_by, declared_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        )
        .bind(&row.kind)
        .bind(&row.title)
        .bind(&row.assets)
        .bind(&row.markets)
        .bind(&row.users)
        .bind(&row.halt_scope)
        .bind(&row.freeze_scope)
        .bind(row.pause_sweeps)
        .bind(&row.declared_by)
        .bind(row.declared_ms)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO incident_updates (incident_id, at_ms, author, message) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(row.declared_ms)
        .bind(&row.declared_by)
        .bind(first_update)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Incident `id`.
    pub async fn incident(&self, id: i64) -> StoreResult<Option<IncidentRow>> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Incidents, open ones first, then newest first.
    pub async fn incidents(&self, limit: i64) -> StoreResult<Vec<IncidentRow>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents \
             ORDER BY (resolved_ms IS NULL) DESC, id DESC LIMIT $1"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(limit.clamp(1, 1_000))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Appends to an incident's timeline.
    pub async fn add_incident_update(
        &self,
        incident_id: i64,
        at_ms: i64,
        author: &str,
        message: &str,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO incident_updates (incident_id, at_ms, author, message) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(incident_id)
        .bind(at_ms)
        .bind(author)
        .bind(message)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The timeline of an incident, oldest first.
    pub async fn incident_updates(&self, incident_id: i64) -> StoreResult<Vec<IncidentUpdateRow>> {
        Ok(sqlx::query_as(
            "SELECT id, incident_id, at_ms, author, message FROM incident_updates \
             WHERE incident_id = $1 ORDER BY id",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Lifts one containment step of an open incident; false when it was not in force.
    pub async fn lift_incident_step(
        &self,
        id: i64,
        step: ContainmentStep,
        at_ms: i64,
    ) -> StoreResult<bool> {
        let sql = match step {
            ContainmentStep::Halt => {
                "UPDATE incidents SET halt_lifted_ms = $2 WHERE id = $1 AND resolved_ms IS NULL \
                 AND halt_scope <> 'none' AND halt_lifted_ms IS NULL"
            }
            ContainmentStep::Freeze => {
                "UPDATE incidents SET freeze_lifted_ms = $2 WHERE id = $1 AND resolved_ms IS NULL \
                 AND freeze_scope <> 'none' AND freeze_lifted_ms IS NULL"
            }
            ContainmentStep::Sweeps => {
                "UPDATE incidents SET sweeps_lifted_ms = $2 WHERE id = $1 AND resolved_ms IS NULL \
                 AND pause_sweeps <> 0 AND sweeps_lifted_ms IS NULL"
            }
        };
        let done = sqlx::query(sql)
            .bind(id)
            .bind(at_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(done == 1)
    }

    /// Resolves an open incident; false when it was not open.
    pub async fn resolve_platform_incident(&self, id: i64, at_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE incidents SET resolved_ms = $2 WHERE id = $1 AND resolved_ms IS NULL",
        )
        .bind(id)
        .bind(at_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// The `freeze` scope and asset list of every open incident whose freeze is in force.
    pub async fn withdrawal_freezes(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT freeze_scope, assets FROM incidents WHERE resolved_ms IS NULL \
             AND freeze_scope <> 'none' AND freeze_lifted_ms IS NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether an open incident pauses deposit sweeps.
    pub async fn sweeps_paused(&self) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incidents WHERE resolved_ms IS NULL AND pause_sweeps <> 0 \
             AND sweeps_lifted_ms IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }
}
