//! Reconciliation history and custody incidents.

use crate::Store;
use crate::error::StoreResult;

/// One asset's reconciliation result.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReconciliationRow {
    pub id: i64,
    pub at_ms: i64,
    pub asset: String,
    pub chain_balance: i64,
    pub custody_expected: i64,
    pub ledger_liabilities: i64,
    pub adjustments: i64,
    pub shortfall: i64,
    pub hot_balance: i64,
    pub hot_share_bps: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CustodyIncidentRow {
    pub id: i64,
    pub asset: String,
    pub kind: String,
    pub detail: String,
    pub opened_ms: i64,
    pub resolved_ms: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

impl Store {
    pub async fn insert_reconciliation(&self, row: &ReconciliationRow) -> StoreResult<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO reconciliations (at_ms, asset, chain_balance, custody_expected, \
             ledger_liabilities, adjustments, shortfall, hot_balance, hot_share_bps) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(row.at_ms)
        .bind(row.asset.as_str())
        .bind(row.chain_balance)
        .bind(row.custody_expected)
        .bind(row.ledger_liabilities)
        .bind(row.adjustments)
        .bind(row.shortfall)
        .bind(row.hot_balance)
        .bind(row.hot_share_bps)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The newest reconciliations, newest first.
    pub async fn recent_reconciliations(&self, limit: i64) -> StoreResult<Vec<ReconciliationRow>> {
        let rows = sqlx::query_as(
            "SELECT id, at_ms, asset, chain_balance, custody_expected, ledger_liabilities, \
             adjustments, shortfall, hot_balance, hot_share_bps FROM reconciliations \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Opens an incident unless one of the same kind is open for the asset; answers the open
    /// incident's id either way.
    pub async fn open_custody_incident(
        &self,
        asset: &str,
        kind: &str,
        detail: &str,
        opened_ms: i64,
    ) -> StoreResult<i64> {
        let mut transaction = self.begin_write().await?;
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM custody_incidents WHERE asset = $1 AND kind = $2 \
             AND resolved_ms IS NULL ORDER BY id LIMIT 1",
        )
        .bind(asset)
        .bind(kind)
        .fetch_optional(&mut *transaction)
        .await?;
        let id = match open {
            Some(id) => id,
            None => {
                sqlx::query_scalar(
                    "INSERT INTO custody_incidents (asset, kind, detail, opened_ms) \
                     VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(asset)
                .bind(kind)
                .bind(detail)
                .bind(opened_ms)
                .fetch_one(&mut *transaction)
                .await?
            }
        };
        transaction.commit().await?;
        Ok(id)
    }

    /// Incidents, open ones first, then newest first.
    pub async fn custody_incidents(&self, limit: i64) -> StoreResult<Vec<CustodyIncidentRow>> {
        let rows = sqlx::query_as(
            "SELECT id, asset, kind, detail, opened_ms, resolved_ms, resolved_by, resolution \
             FROM custody_incidents ORDER BY (resolved_ms IS NULL) DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Assets with an open incident.
    pub async fn assets_with_open_incidents(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query_scalar(
            "SELECT DISTINCT asset FROM custody_incidents WHERE resolved_ms IS NULL ORDER BY asset",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Resolves an open incident; false when it was not open.
    pub async fn resolve_custody_incident(
        &self,
        id: i64,
        resolved_by: &str,
        resolution: &str,
        resolved_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE custody_incidents SET resolved_ms = $2, resolved_by = $3, resolution = $4 \
             WHERE id = $1 AND resolved_ms IS NULL",
        )
        .bind(id)
        .bind(resolved_ms)
        .bind(resolved_by)
        .bind(resolution)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Every deposit address of a network (the reconciliation sums their balances).
    pub async fn deposit_addresses_of(&self, network: &str) -> StoreResult<Vec<String>> {
        let rows = sqlx::query_scalar(
            "SELECT address FROM deposit_addresses WHERE network = $1 ORDER BY address",
        )
        .bind(network)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Sum of credited deposits of an asset on a network.
    pub async fn credited_deposits_total(&self, asset: &str, network: &str) -> StoreResult<i64> {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(amount) AS BIGINT) FROM deposits WHERE asset = $1 AND network = $2 \
             AND state = 'credited'",
        )
        .bind(asset)
        .bind(network)
        .fetch_one(&self.pool)
        .await?;
        Ok(sum.unwrap_or(0))
    }

    /// Network fees (gas) paid in `asset` by withdrawals on a network.
    pub async fn network_fees_total(&self, asset: &str, network: &str) -> StoreResult<i64> {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(network_fee) AS BIGINT) FROM withdrawals WHERE network = $1 \
             AND network_fee_asset = $2",
        )
        .bind(network)
        .bind(asset)
        .fetch_one(&self.pool)
        .await?;
        Ok(sum.unwrap_or(0))
    }

    /// Sum of what withdrawals of an asset on a network paid out on chain (amount minus fee)
    /// once broadcast.
    /// What withdrawals of `asset` (every network) have sent that is not yet confirmed: it has
    /// left the wallets while the ledger still holds it for the user.
    pub async fn in_flight_payouts(&self, asset: &str) -> StoreResult<i64> {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(amount - fee) AS BIGINT) FROM withdrawals WHERE asset = $1 \
             AND state = 'broadcast'",
        )
        .bind(asset)
        .fetch_one(&self.pool)
        .await?;
        Ok(sum.unwrap_or(0))
    }

    pub async fn paid_out_total(&self, asset: &str, network: &str) -> StoreResult<i64> {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(amount - fee) AS BIGINT) FROM withdrawals WHERE asset = $1 \
             AND network = $2 AND state IN ('broadcast', 'confirmed')",
        )
        .bind(asset)
        .bind(network)
        .fetch_one(&self.pool)
        .await?;
        Ok(sum.unwrap_or(0))
    }
}
