//! Published transparency reports and the leaves of their proof-of-liabilities trees. Reports
//! are written once with their trees in one transaction and never change (triggers refuse edits).

use crate::Store;
use crate::error::StoreResult;

/// A signed report: `body` is the exact text that was signed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportRow {
    pub seq: i64,
    pub published_ms: i64,
    /// The journal sequence number the balances were read at.
    pub journal_seq: i64,
    pub body: String,
    pub sha256: String,
    pub signature: String,
}

/// A checked control proof of one reserve address of report `report_seq`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ControlProofRow {
    pub report_seq: i64,
    pub network: String,
    pub address: String,
    pub scheme: String,
    pub signature: String,
    pub added_ms: i64,
}

/// One asset's tree leaves in tree order, as JSON `[[user_id, balance, salt_hex], ...]`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PorTreeRow {
    pub report_seq: i64,
    pub asset: String,
    pub leaves_json: String,
}

impl Store {
    /// Stores a report and its trees atomically; `false` when a report with this seq exists
    /// (nothing is written then).
    pub async fn insert_report(
        &self,
        report: &ReportRow,
        trees: &[PorTreeRow],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO transparency_reports (seq, published_ms, journal_seq, body, sha256, signature) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq) DO NOTHING",
        )
        .bind(report.seq)
        .bind(report.published_ms)
        .bind(report.journal_seq)
        .bind(&report.body)
        .bind(&report.sha256)
        .bind(&report.signature)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        for tree in trees {
            sqlx::query(
                "INSERT INTO por_trees (report_seq, asset, leaves_json) VALUES ($1, $2, $3)",
            )
            .bind(tree.report_seq)
            .bind(&tree.asset)
            .bind(&tree.leaves_json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The newest report.
    pub async fn latest_report(&self) -> StoreResult<Option<ReportRow>> {
        Ok(sqlx::query_as(
            "SELECT seq, published_ms, journal_seq, body, sha256, signature \
             FROM transparency_reports ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Report `seq`.
    pub async fn report(&self, seq: i64) -> StoreResult<Option<ReportRow>> {
        Ok(sqlx::query_as(
            "SELECT seq, published_ms, journal_seq, body, sha256, signature \
             FROM transparency_reports WHERE seq = $1",
        )
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Reports newest first, at most `limit`, older than `before` when given.
    pub async fn reports(&self, limit: i64, before: Option<i64>) -> StoreResult<Vec<ReportRow>> {
        Ok(sqlx::query_as(
            "SELECT seq, published_ms, journal_seq, body, sha256, signature \
             FROM transparency_reports WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, 1_000))
        .fetch_all(&self.pool)
        .await?)
    }

    /// One asset's tree leaves of report `seq`.
    pub async fn por_tree(&self, seq: i64, asset: &str) -> StoreResult<Option<PorTreeRow>> {
        Ok(sqlx::query_as(
            "SELECT report_seq, asset, leaves_json FROM por_trees WHERE report_seq = $1 AND asset = $2",
        )
        .bind(seq)
        .bind(asset)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Stores control proofs (already checked) in one transaction; an address already proven
    /// for the report keeps its first proof. Answers how many were new.
    pub async fn insert_control_proofs(&self, proofs: &[ControlProofRow]) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for proof in proofs {
            added += sqlx::query(
                "INSERT INTO control_proofs (report_seq, network, address, scheme, signature, added_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (report_seq, network, address) DO NOTHING",
            )
            .bind(proof.report_seq)
            .bind(&proof.network)
            .bind(&proof.address)
            .bind(&proof.scheme)
            .bind(&proof.signature)
            .bind(proof.added_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Report `seq`'s control proofs, by network and address.
    pub async fn control_proofs(&self, seq: i64) -> StoreResult<Vec<ControlProofRow>> {
        Ok(sqlx::query_as(
            "SELECT report_seq, network, address, scheme, signature, added_ms FROM control_proofs \
             WHERE report_seq = $1 ORDER BY network, address",
        )
        .bind(seq)
        .fetch_all(&self.pool)
        .await?)
    }
}
