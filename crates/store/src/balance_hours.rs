//! Queries of the hourly balance history (the `balance_hours` projection) behind the portfolio
//! chart.

use crate::Store;
use crate::error::StoreResult;
use crate::projection::BalanceHourRow;

impl Store {
    /// One user's hourly totals from `since_hour_s` on, plus for each asset the last total
    /// before it (the balance the window starts with), oldest first.
    pub async fn balance_hours_since(
        &self,
        user_id: i64,
        since_hour_s: i64,
    ) -> StoreResult<Vec<BalanceHourRow>> {
        let rows = sqlx::query_as(
            "SELECT user_id, asset, hour_s, total, last_seq FROM balance_hours b \
             WHERE user_id = $1 AND (hour_s >= $2 OR hour_s = (SELECT MAX(hour_s) \
             FROM balance_hours p WHERE p.user_id = b.user_id AND p.asset = b.asset \
             AND p.hour_s < $2)) ORDER BY hour_s, asset",
        )
        .bind(user_id)
        .bind(since_hour_s)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
