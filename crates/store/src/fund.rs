//! Safeguard fund top-ups beyond the fee share: recorded once each (a treasury transfer's
//! network and transaction id can top up the fund only once), never changed.

use crate::Store;
use crate::error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TopUpRow {
    pub id: i64,
    pub asset: String,
    pub amount: i64,
    /// `fee_revenue` or `treasury`.
    pub source: String,
    /// Unique: `treasury:{network}:{txid}`, or one made for a fee-revenue move.
    pub reference: String,
    pub network: Option<String>,
    pub txid: Option<String>,
    pub note: String,
    pub actor: String,
    pub journal_seq: i64,
    pub at_ms: i64,
}

impl Store {
    /// Records a top-up; `None` when its reference was recorded before (nothing is written).
    pub async fn insert_top_up(&self, row: &TopUpRow) -> StoreResult<Option<i64>> {
        let id = sqlx::query_scalar(
            "INSERT INTO fund_top_ups (asset, amount, source, reference, network, txid, note, \
             actor, journal_seq, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (reference) DO NOTHING RETURNING id",
        )
        .bind(&row.asset)
        .bind(row.amount)
        .bind(&row.source)
        .bind(&row.reference)
        .bind(&row.network)
        .bind(&row.txid)
        .bind(&row.note)
        .bind(&row.actor)
        .bind(row.journal_seq)
        .bind(row.at_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// Whether a top-up with this reference was recorded.
    pub async fn top_up_recorded(&self, reference: &str) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM fund_top_ups WHERE reference = $1")
                .bind(reference)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Every top-up, oldest first.
    pub async fn top_ups(&self) -> StoreResult<Vec<TopUpRow>> {
        Ok(sqlx::query_as(
            "SELECT id, asset, amount, source, reference, network, txid, note, actor, \
             journal_seq, at_ms FROM fund_top_ups ORDER BY id LIMIT 10000",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A published version of the coverage policy's terms.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyRow {
    pub version: String,
    pub per_user_cap_usdt: i64,
    pub per_incident_cap_usdt: i64,
    pub note: String,
    pub actor: String,
    pub published_ms: i64,
}

impl Store {
    /// Records a policy version; `false` when the version id exists (nothing is written).
    pub async fn insert_policy(&self, row: &PolicyRow) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO coverage_policies (version, per_user_cap_usdt, per_incident_cap_usdt, \
             note, actor, published_ms) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(&row.version)
        .bind(row.per_user_cap_usdt)
        .bind(row.per_incident_cap_usdt)
        .bind(&row.note)
        .bind(&row.actor)
        .bind(row.published_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// Every published policy version, oldest first.
    pub async fn policies(&self) -> StoreResult<Vec<PolicyRow>> {
        Ok(sqlx::query_as(
            "SELECT version, per_user_cap_usdt, per_incident_cap_usdt, note, actor, published_ms \
             FROM coverage_policies ORDER BY published_ms, version",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
