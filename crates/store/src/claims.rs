//! Safeguard claims and their event history. A claim moves only from the state the caller saw
//! (compare-and-set), and each move writes its event in the same transaction, so two staff
//! members acting at once cannot both move it and the history never misses a step.

use crate::Store;
use crate::error::StoreResult;

/// A claim as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimRow {
    pub id: i64,
    pub user_id: i64,
    pub incident_id: Option<i64>,
    pub category: String,
    pub description: String,
    pub asset: String,
    pub claimed: i64,
    pub refs: String,
    pub window_from_ms: i64,
    pub window_to_ms: i64,
    pub policy_version: String,
    pub state: String,
    pub investigator: Option<String>,
    pub decided_by: Option<String>,
    pub reason_code: Option<String>,
    pub approved: Option<i64>,
    pub appealed: i64,
    pub movement_id: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One step of a claim's history.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimEventRow {
    pub id: i64,
    pub claim_id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: String,
}

/// A state move and what it records besides the state (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ClaimMove<'a> {
    pub id: i64,
    pub from: &'a str,
    pub to: &'a str,
    pub actor: &'a str,
    pub note: &'a str,
    pub at_ms: i64,
    pub investigator: Option<&'a str>,
    pub decided_by: Option<&'a str>,
    pub reason_code: Option<&'a str>,
    pub approved: Option<i64>,
    pub appeal: bool,
    pub movement_id: Option<i64>,
}

const CLAIM_COLUMNS: &str = "id, user_id, incident_id, category, description, asset, claimed, refs, \
     window_from_ms, window_to_ms, policy_version, state, investigator, decided_by, reason_code, \
     approved, appealed, movement_id, created_ms, updated_ms";

impl Store {
    /// Records a filed claim (`id` ignored) in state `submitted` with its first event.
    pub async fn insert_claim(&self, row: &ClaimRow, actor: &str) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO claims (user_id, incident_id, category, description, asset, claimed, refs, \
             window_from_ms, window_to_ms, policy_version, state, appealed, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'submitted', 0, $11, $11) RETURNING id",
        )
        .bind(row.user_id)
        .bind(row.incident_id)
        .bind(&row.category)
        .bind(&row.description)
        .bind(&row.asset)
        .bind(row.claimed)
        .bind(&row.refs)
        .bind(row.window_from_ms)
        .bind(row.window_to_ms)
        .bind(&row.policy_version)
        .bind(row.created_ms)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO claim_events (claim_id, at_ms, actor, from_state, to_state, note) \
             VALUES ($1, $2, $3, NULL, 'submitted', 'Claim filed.')",
        )
        .bind(id)
        .bind(row.created_ms)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claim `id`.
    pub async fn claim(&self, id: i64) -> StoreResult<Option<ClaimRow>> {
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A user's claims, newest first.
    pub async fn user_claims(&self, user_id: i64) -> StoreResult<Vec<ClaimRow>> {
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE user_id = $1 ORDER BY id DESC");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Every claim of an incident, oldest first (its pro-rata share and cap cover them all,
    /// however many there are).
    pub async fn incident_claims(&self, incident_id: i64) -> StoreResult<Vec<ClaimRow>> {
        let sql = format!("SELECT {CLAIM_COLUMNS} FROM claims WHERE incident_id = $1 ORDER BY id");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(incident_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Claims in `state` (every state when `None`), oldest first, at most `limit`.
    pub async fn claims(&self, state: Option<&str>, limit: i64) -> StoreResult<Vec<ClaimRow>> {
        let sql = format!(
            "SELECT {CLAIM_COLUMNS} FROM claims WHERE ($1 IS NULL OR state = $1) ORDER BY id LIMIT $2"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(state)
            .bind(limit.clamp(1, 1_000))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Moves a claim from `from` to `to` with its event; false when it was not in `from`.
    pub async fn move_claim(&self, step: &ClaimMove<'_>) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE claims SET state = $3, updated_ms = $4, \
             investigator = COALESCE($5, investigator), decided_by = COALESCE($6, decided_by), \
             reason_code = COALESCE($7, reason_code), approved = COALESCE($8, approved), \
             appealed = appealed + $9, movement_id = COALESCE($10, movement_id) \
             WHERE id = $1 AND state = $2",
        )
        .bind(step.id)
        .bind(step.from)
        .bind(step.to)
        .bind(step.at_ms)
        .bind(step.investigator)
        .bind(step.decided_by)
        .bind(step.reason_code)
        .bind(step.approved)
        .bind(i64::from(step.appeal))
        .bind(step.movement_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO claim_events (claim_id, at_ms, actor, from_state, to_state, note) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(step.id)
        .bind(step.at_ms)
        .bind(step.actor)
        .bind(step.from)
        .bind(step.to)
        .bind(step.note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A note on a claim without a state change (a user's reply, a staff remark).
    pub async fn add_claim_note(
        &self,
        id: i64,
        state: &str,
        actor: &str,
        note: &str,
        at_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO claim_events (claim_id, at_ms, actor, from_state, to_state, note) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(id)
        .bind(at_ms)
        .bind(actor)
        .bind(state)
        .bind(note)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A claim's history, oldest first.
    pub async fn claim_events(&self, id: i64) -> StoreResult<Vec<ClaimEventRow>> {
        Ok(sqlx::query_as(
            "SELECT id, claim_id, at_ms, actor, from_state, to_state, note FROM claim_events \
             WHERE claim_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// An evidence file as listed (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EvidenceMeta {
    pub id: i64,
    pub claim_id: i64,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the plain file.
    pub sha256: String,
    pub at_ms: i64,
}

const EVIDENCE_COLUMNS: &str = "id, claim_id, name, content_type, size_bytes, sha256, at_ms";

impl Store {
    /// Attaches a sealed evidence file; `None` (nothing written) when the claim already holds
    /// `max_files`, counted in the same transaction so parallel uploads cannot pass the limit.
    pub async fn insert_evidence(
        &self,
        meta: &EvidenceMeta,
        ciphertext: &[u8],
        max_files: i64,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let held: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM claim_evidence WHERE claim_id = $1")
                .bind(meta.claim_id)
                .fetch_one(&mut *tx)
                .await?;
        if held >= max_files {
            return Ok(None);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO claim_evidence (claim_id, name, content_type, size_bytes, sha256, \
             ciphertext, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(meta.claim_id)
        .bind(&meta.name)
        .bind(&meta.content_type)
        .bind(meta.size_bytes)
        .bind(&meta.sha256)
        .bind(ciphertext)
        .bind(meta.at_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// A claim's evidence files, oldest first, without their bytes.
    pub async fn claim_evidence(&self, claim_id: i64) -> StoreResult<Vec<EvidenceMeta>> {
        let sql = format!(
            "SELECT {EVIDENCE_COLUMNS} FROM claim_evidence WHERE claim_id = $1 ORDER BY id"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(claim_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// One evidence file of a claim with its sealed bytes.
    pub async fn evidence_file(
        &self,
        claim_id: i64,
        id: i64,
    ) -> StoreResult<Option<(EvidenceMeta, Vec<u8>)>> {
        let sql = format!(
            "SELECT {EVIDENCE_COLUMNS} FROM claim_evidence WHERE claim_id = $1 AND id = $2"
        );
        let meta: Option<EvidenceMeta> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(claim_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(meta) = meta else {
            return Ok(None);
        };
        let bytes: Vec<u8> =
            sqlx::query_scalar("SELECT ciphertext FROM claim_evidence WHERE id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        Ok(Some((meta, bytes)))
    }
}

/// A clawback of a paid claim.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClawbackRow {
    pub id: i64,
    pub claim_id: i64,
    pub user_id: i64,
    pub asset: String,
    pub amount: i64,
    pub note: String,
    pub actor: String,
    pub journal_seq: i64,
    pub at_ms: i64,
}

impl Store {
    /// Records a clawback with its timeline event (the claim keeps its state); false when the
    /// claim was clawed back before (nothing is written).
    pub async fn insert_clawback(&self, row: &ClawbackRow, state: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO claim_clawbacks (claim_id, user_id, asset, amount, note, actor, \
             journal_seq, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (claim_id) DO NOTHING",
        )
        .bind(row.claim_id)
        .bind(row.user_id)
        .bind(&row.asset)
        .bind(row.amount)
        .bind(&row.note)
        .bind(&row.actor)
        .bind(row.journal_seq)
        .bind(row.at_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO claim_events (claim_id, at_ms, actor, from_state, to_state, note) \
             VALUES ($1, $2, $3, $4, $4, $5)",
        )
        .bind(row.claim_id)
        .bind(row.at_ms)
        .bind(&row.actor)
        .bind(state)
        .bind(&row.note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The clawback of a claim, if any.
    pub async fn clawback(&self, claim_id: i64) -> StoreResult<Option<ClawbackRow>> {
        Ok(sqlx::query_as(
            "SELECT id, claim_id, user_id, asset, amount, note, actor, journal_seq, at_ms \
             FROM claim_clawbacks WHERE claim_id = $1",
        )
        .bind(claim_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every clawback, oldest first.
    pub async fn clawbacks(&self) -> StoreResult<Vec<ClawbackRow>> {
        Ok(sqlx::query_as(
            "SELECT id, claim_id, user_id, asset, amount, note, actor, journal_seq, at_ms \
             FROM claim_clawbacks ORDER BY id LIMIT 10000",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
