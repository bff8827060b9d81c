//! Audit log: who did what, with which parameters. Append-only by construction: this module has
//! no update or delete, and triggers in both migration trees refuse them at the database.
//!
//! Each entry is also chained: its hash covers the previous entry's hash and its own fields
//! (`audit_chain`), so an entry edited, dropped or reordered behind the database's back breaks
//! every hash after it. Appends are serialised so the chain follows commit order, and entries
//! written before the chain existed are chained by the next append.

use sha2::{Digest, Sha256};

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

/// What a check of the whole chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    pub entries: i64,
    /// The newest entry's id and chain hash (hex), signed into transparency reports.
    pub head: Option<(i64, String)>,
    /// The first entry whose stored hash does not match its recomputation.
    pub broken_at: Option<i64>,
}

/// Entries read per page while checking the chain.
const CHECK_PAGE: i64 = 1_000;

/// The chain hash of `row` after `prev` (32 zero bytes before the first entry): SHA-256 over
/// `prev ‖ id ‖ at_ms ‖ len(actor) ‖ actor ‖ len(action) ‖ action ‖ len(params) ‖ params`, numbers
/// as 8-byte big-endian, so no field can be shifted into its neighbour.
pub fn audit_hash(prev: &[u8; 32], row: &AuditRow) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(row.id.to_be_bytes());
    h.update(row.at_ms.to_be_bytes());
    for text in [&row.actor, &row.action, &row.params_json] {
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
    }
    h.finalize().into()
}

fn hash_from_hex(text: &str) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(hex::decode(text).ok()?.as_slice()).ok()
}

impl Store {
    /// Appends an entry, chains it, and returns its id (ids grow with insertion order).
    pub async fn append_audit(
        &self,
        actor: &str,
        action: &str,
        params_json: &str,
        at_ms: i64,
    ) -> StoreResult<i64> {
        let _one_at_a_time = self.audit_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query_scalar(
            "INSERT INTO audit_log (at_ms, actor, action, params_json) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(at_ms)
        .bind(actor)
        .bind(action)
        .bind(params_json)
        .fetch_one(&mut *tx)
        .await?;
        chain_pending(&mut tx).await?;
        tx.commit().await?;
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

    /// Recomputes the whole chain from the first entry and compares every stored hash.
    pub async fn verify_audit_chain(&self) -> StoreResult<AuditCheck> {
        {
            let _one_at_a_time = self.audit_lock.lock().await;
            let mut tx = self.pool.begin().await?;
            chain_pending(&mut tx).await?;
            tx.commit().await?;
        }
        let mut prev = [0u8; 32];
        let mut after = 0_i64;
        let mut check = AuditCheck {
            entries: 0,
            head: None,
            broken_at: None,
        };
        loop {
            let page: Vec<(i64, i64, String, String, String, Option<String>)> = sqlx::query_as(
                "SELECT l.id, l.at_ms, l.actor, l.action, l.params_json, c.hash \
                 FROM audit_log l LEFT JOIN audit_chain c ON c.id = l.id \
                 WHERE l.id > $1 ORDER BY l.id LIMIT $2",
            )
            .bind(after)
            .bind(CHECK_PAGE)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = page.last() else { break };
            after = last.0;
            for (id, at_ms, actor, action, params_json, stored) in page {
                let row = AuditRow {
                    id,
                    at_ms,
                    actor,
                    action,
                    params_json,
                };
                let hash = audit_hash(&prev, &row);
                check.entries += 1;
                if check.broken_at.is_none()
                    && stored.as_deref().and_then(hash_from_hex) != Some(hash)
                {
                    check.broken_at = Some(id);
                }
                check.head = Some((id, hex::encode(hash)));
                prev = hash;
            }
        }
        // Chain entries whose audit row is gone: a deletion behind the triggers' back.
        if check.broken_at.is_none() {
            let orphan: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(c.id) FROM audit_chain c LEFT JOIN audit_log l ON l.id = c.id \
                 WHERE l.id IS NULL",
            )
            .fetch_one(&self.pool)
            .await?;
            check.broken_at = orphan;
        }
        Ok(check)
    }

    /// The newest chained entry's id and hash, as stored.
    pub async fn audit_head(&self) -> StoreResult<Option<(i64, String)>> {
        Ok(
            sqlx::query_as("SELECT id, hash FROM audit_chain ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

/// Chains every entry not chained yet, oldest first, inside the caller's transaction.
async fn chain_pending(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> StoreResult<()> {
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT id, hash FROM audit_chain ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let (after, mut prev) = match last {
        Some((id, hash)) => (id, hash_from_hex(&hash).unwrap_or([0u8; 32])),
        None => (0, [0u8; 32]),
    };
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, at_ms, actor, action, params_json FROM audit_log WHERE id > $1 ORDER BY id",
    )
    .bind(after)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let hash = audit_hash(&prev, &row);
        sqlx::query("INSERT INTO audit_chain (id, hash) VALUES ($1, $2)")
            .bind(row.id)
            .bind(hex::encode(hash))
            .execute(&mut **tx)
            .await?;
        prev = hash;
    }
    Ok(())
}
