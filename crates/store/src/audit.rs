//! Audit log: who did what, with which parameters. Append-only by construction: this module has
//! no update or delete, and triggers in both migration trees refuse them at the database.

use crate::Store;
use crate::error::StoreResult;
use crate::limits::capped;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    /// Parameters serialised by the caller (the Any driver has no JSON type).
    pub params_json: String,
}

impl Store {
    /// Appends an entry and returns its id (ids grow with insertion order).
    pub async fn append_audit(
        &self,
        actor: &str,
        action: &str,
        params_json: &str,
        at_ms: i64,
    ) -> StoreResult<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO audit_log (at_ms, actor, action, params_json) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(at_ms)
        .bind(actor)
        .bind(action)
        .bind(params_json)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The newest entries first, at most `limit` (capped).
    pub async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditRow>> {
        let rows = sqlx::query_as(
            "SELECT id, at_ms, actor, action, params_json FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(capped(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
