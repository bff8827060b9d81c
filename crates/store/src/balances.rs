//! Balance read-model queries (the `balances` projection).

use crate::Store;
use crate::error::StoreResult;
use crate::projection::BalanceRow;

impl Store {
    /// One user's balances, by asset name.
    pub async fn user_balances(&self, user_id: i64) -> StoreResult<Vec<BalanceRow>> {
        let rows = sqlx::query_as(
            "SELECT user_id, asset, available, held, last_seq FROM balances \
             WHERE user_id = $1 ORDER BY asset",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Every balance, by user then asset: the input of reserve proofs and reconciliation, so it
    /// is deliberately not truncated.
    pub async fn all_balances(&self) -> StoreResult<Vec<BalanceRow>> {
        let rows = sqlx::query_as(
            "SELECT user_id, asset, available, held, last_seq FROM balances \
             ORDER BY user_id, asset",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
