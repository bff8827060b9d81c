//! Custody records: deposit addresses, deposits seen on chain, withdrawal requests with their
//! transitions and staff approvals, and how far each chain has been scanned. Every state change
//! is one conditional update, so two racing workers move a record once.

use crate::Store;
use crate::error::StoreResult;

macro_rules! select_deposits {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, asset, network, address, txid, output_index, amount, ",
            "block_height, block_hash, confirmations, required_confirmations, state, detected_ms, ",
            "credited_ms, swept_ms ",
            "FROM deposits ",
            $tail
        )
    };
}

macro_rules! select_withdrawals {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, asset, network, address, memo, amount, fee, usdt_micros, state, ",
            "confirm_expires_ms, approvals_needed, txid, block_height, network_fee, ",
            "network_fee_asset, created_ms, updated_ms ",
            "FROM withdrawals ",
            $tail
        )
    };
}

/// An incoming chain transfer to a deposit address, as first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeposit {
    pub user_id: i64,
    pub asset: String,
    pub network: String,
    pub address: String,
    pub txid: String,
    pub output_index: i64,
    pub amount: i64,
    pub block_height: i64,
    pub block_hash: String,
    pub confirmations: i64,
    pub required_confirmations: i64,
    /// `pending` or `below_minimum`.
    pub state: String,
    pub detected_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DepositRow {
    pub id: i64,
    pub user_id: i64,
    pub asset: String,
    pub network: String,
    pub address: String,
    pub txid: String,
    pub output_index: i64,
    pub amount: i64,
    pub block_height: i64,
    pub block_hash: String,
    pub confirmations: i64,
    pub required_confirmations: i64,
    pub state: String,
    pub detected_ms: i64,
    pub credited_ms: Option<i64>,
    pub swept_ms: Option<i64>,
}

/// A withdrawal request as accepted (before its hold is placed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWithdrawal {
    pub user_id: i64,
    pub asset: String,
    pub network: String,
    pub address: String,
    pub memo: String,
    pub amount: i64,
    pub fee: i64,
    pub usdt_micros: i64,
    pub confirm_hash: Vec<u8>,
    pub confirm_expires_ms: i64,
    pub approvals_needed: i64,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WithdrawalRow {
    pub id: i64,
    pub user_id: i64,
    pub asset: String,
    pub network: String,
    pub address: String,
    pub memo: String,
    pub amount: i64,
    pub fee: i64,
    pub usdt_micros: i64,
    pub state: String,
    pub confirm_expires_ms: i64,
    pub approvals_needed: i64,
    pub txid: Option<String>,
    pub block_height: Option<i64>,
    pub network_fee: Option<i64>,
    pub network_fee_asset: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WithdrawalEventRow {
    pub id: i64,
    pub withdrawal_id: i64,
    pub state: String,
    pub actor: String,
    pub at_ms: i64,
    pub note: String,
}

/// One move of a withdrawal from one of `from` to `to`, recorded with who did it.
#[derive(Debug, Clone, Copy)]
pub struct WithdrawalMove<'a> {
    pub id: i64,
    pub from: &'a [&'a str],
    pub to: &'a str,
    pub actor: &'a str,
    pub note: &'a str,
    pub at_ms: i64,
    /// Set when the move broadcasts the transaction.
    pub txid: Option<&'a str>,
    /// Set when the move confirms it.
    pub block_height: Option<i64>,
}

/// An entry of a user's withdrawal address book.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WithdrawAddressRow {
    pub id: i64,
    pub user_id: i64,
    pub asset: String,
    pub network: String,
    pub address: String,
    pub memo: String,
    pub label: String,
    pub created_ms: i64,
    pub usable_from_ms: i64,
}

/// Which history a user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryWindow<'a> {
    pub asset: Option<&'a str>,
    /// Only this network (`None`: every network of the asset).
    pub network: Option<&'a str>,
    pub since_ms: i64,
    pub until_ms: i64,
    pub limit: i64,
}

impl Store {
    /// The user's deposit address for an asset on a network, if one was handed out.
    pub async fn deposit_address(
        &self,
        user_id: i64,
        asset: &str,
        network: &str,
    ) -> StoreResult<Option<String>> {
        let address = sqlx::query_scalar(
            "SELECT address FROM deposit_addresses WHERE user_id = $1 AND asset = $2 \
             AND network = $3",
        )
        .bind(user_id)
        .bind(asset)
        .bind(network)
        .fetch_optional(&self.pool)
        .await?;
        Ok(address)
    }

    /// Records a deposit address (idempotent: the address is a pure function of the key).
    pub async fn insert_deposit_address(
        &self,
        user_id: i64,
        asset: &str,
        network: &str,
        address: &str,
        created_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO deposit_addresses (user_id, asset, network, address, created_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(asset)
        .bind(network)
        .bind(address)
        .bind(created_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Who owns a deposit address on a network, and the asset it was made for (which, with
    /// the owner, names the key that derived it).
    pub async fn deposit_address_owner(
        &self,
        network: &str,
        address: &str,
    ) -> StoreResult<Option<(i64, String)>> {
        let owner = sqlx::query_as(
            "SELECT user_id, asset FROM deposit_addresses WHERE network = $1 AND address = $2",
        )
        .bind(network)
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(owner)
    }

    /// Records a transfer seen on chain; `None` when that output was already recorded.
    pub async fn insert_deposit(&self, deposit: &NewDeposit) -> StoreResult<Option<i64>> {
        let id = sqlx::query_scalar(
            "INSERT INTO deposits (user_id, asset, network, address, txid, output_index, amount, \
             block_height, confirmations, required_confirmations, state, detected_ms, block_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(deposit.user_id)
        .bind(deposit.asset.as_str())
        .bind(deposit.network.as_str())
        .bind(deposit.address.as_str())
        .bind(deposit.txid.as_str())
        .bind(deposit.output_index)
        .bind(deposit.amount)
        .bind(deposit.block_height)
        .bind(deposit.confirmations)
        .bind(deposit.required_confirmations)
        .bind(deposit.state.as_str())
        .bind(deposit.detected_ms)
        .bind(deposit.block_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// Deposits of a network waiting for confirmations.
    pub async fn pending_deposits(&self, network: &str) -> StoreResult<Vec<DepositRow>> {
        let rows = sqlx::query_as(select_deposits!(
            "WHERE network = $1 AND state = 'pending' ORDER BY id"
        ))
        .bind(network)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    pub async fn set_deposit_confirmations(&self, id: i64, confirmations: i64) -> StoreResult<()> {
        sqlx::query("UPDATE deposits SET confirmations = $2 WHERE id = $1")
            .bind(id)
            .bind(confirmations)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a pending deposit credited; true for exactly one caller.
    pub async fn mark_deposit_credited(
        &self,
        id: i64,
        confirmations: i64,
        credited_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE deposits SET state = 'credited', confirmations = $2, credited_ms = $3 \
             WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(confirmations)
        .bind(credited_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Credited deposits of a network still sitting on their deposit address, oldest first.
    pub async fn unswept_deposits(&self, network: &str) -> StoreResult<Vec<DepositRow>> {
        let rows = sqlx::query_as(select_deposits!(
            "WHERE network = $1 AND state = 'credited' AND swept_ms IS NULL ORDER BY id"
        ))
        .bind(network)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    pub async fn mark_deposit_swept(&self, id: i64, swept_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE deposits SET swept_ms = $2 WHERE id = $1 AND swept_ms IS NULL")
            .bind(id)
            .bind(swept_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn get_deposit(&self, id: i64) -> StoreResult<Option<DepositRow>> {
        let row = sqlx::query_as(select_deposits!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// A user's deposits in a time window, newest first.
    pub async fn user_deposits(
        &self,
        user_id: i64,
        window: HistoryWindow<'_>,
    ) -> StoreResult<Vec<DepositRow>> {
        let rows = sqlx::query_as(select_deposits!(
            "WHERE user_id = $1 AND ($2 IS NULL OR asset = $2) AND detected_ms >= $3 \
             AND detected_ms <= $4 AND ($6 IS NULL OR network = $6) \
             ORDER BY detected_ms DESC, id DESC LIMIT $5"
        ))
        .bind(user_id)
        .bind(window.asset)
        .bind(window.since_ms)
        .bind(window.until_ms)
        .bind(window.limit)
        .bind(window.network)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The highest block of `network` the scanner has finished and its hash (0 and "" before
    /// the first).
    pub async fn chain_cursor(&self, network: &str) -> StoreResult<(i64, String)> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT height, block_hash FROM chain_cursors WHERE network = $1")
                .bind(network)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.unwrap_or((0, String::new())))
    }

    pub async fn set_chain_cursor(
        &self,
        network: &str,
        height: i64,
        block_hash: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chain_cursors (network, height, block_hash) VALUES ($1, $2, $3) \
             ON CONFLICT (network) DO UPDATE SET height = excluded.height, \
             block_hash = excluded.block_hash",
        )
        .bind(network)
        .bind(height)
        .bind(block_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Pending or credited deposits of a network mined at `since_height` or later (the ones a
    /// reorganisation could still take back).
    pub async fn recent_deposits(
        &self,
        network: &str,
        since_height: i64,
    ) -> StoreResult<Vec<DepositRow>> {
        let rows = sqlx::query_as(select_deposits!(
            "WHERE network = $1 AND block_height >= $2 AND state IN ('pending', 'credited') \
             ORDER BY id"
        ))
        .bind(network)
        .bind(since_height)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// A deposit's transaction now sits in another block (after a reorganisation).
    pub async fn move_deposit_block(
        &self,
        id: i64,
        block_height: i64,
        block_hash: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE deposits SET block_height = $2, block_hash = $3 WHERE id = $1")
            .bind(id)
            .bind(block_height)
            .bind(block_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a deposit whose transaction left the chain; true for one caller.
    pub async fn mark_deposit_reverted(&self, id: i64, from_state: &str) -> StoreResult<bool> {
        let result =
            sqlx::query("UPDATE deposits SET state = 'reverted' WHERE id = $1 AND state = $2")
                .bind(id)
                .bind(from_state)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records what the network charged for a withdrawal's payout.
    pub async fn set_withdrawal_network_fee(
        &self,
        id: i64,
        fee: i64,
        asset: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE withdrawals SET network_fee = $2, network_fee_asset = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(fee)
        .bind(asset)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a withdrawal request in state `requested` with its first event.
    pub async fn insert_withdrawal(&self, new: &NewWithdrawal, actor: &str) -> StoreResult<i64> {
        let mut transaction = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO withdrawals (user_id, asset, network, address, memo, amount, fee, \
             usdt_micros, state, confirm_hash, confirm_expires_ms, approvals_needed, created_ms, \
             updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'requested', $9, $10, $11, $12, \
             $12) RETURNING id",
        )
        .bind(new.user_id)
        .bind(new.asset.as_str())
        .bind(new.network.as_str())
        .bind(new.address.as_str())
        .bind(new.memo.as_str())
        .bind(new.amount)
        .bind(new.fee)
        .bind(new.usdt_micros)
        .bind(new.confirm_hash.as_slice())
        .bind(new.confirm_expires_ms)
        .bind(new.approvals_needed)
        .bind(new.created_ms)
        .fetch_one(&mut *transaction)
        .await?;
        insert_event(&mut transaction, id, "requested", actor, new.created_ms, "").await?;
        transaction.commit().await?;
        Ok(id)
    }

    /// Forgets a request whose hold the engine refused (it never existed for anyone else).
    pub async fn delete_withdrawal(&self, id: i64) -> StoreResult<()> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("DELETE FROM withdrawal_events WHERE withdrawal_id = $1")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM withdrawals WHERE id = $1 AND state = 'requested'")
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Moves a withdrawal if it is in one of `from`; true for exactly one caller.
    pub async fn move_withdrawal(&self, step: WithdrawalMove<'_>) -> StoreResult<bool> {
        let mut transaction = self.begin_write().await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT state FROM withdrawals WHERE id = $1")
                .bind(step.id)
                .fetch_optional(&mut *transaction)
                .await?;
        let Some(current) = current else {
            return Ok(false);
        };
        if !step.from.contains(&current.as_str()) {
            return Ok(false);
        }
        let result = sqlx::query(
            "UPDATE withdrawals SET state = $2, updated_ms = $4, txid = COALESCE($5, txid), \
             block_height = COALESCE($6, block_height), \
             confirm_hash = CASE WHEN $2 = 'requested' THEN confirm_hash ELSE NULL END \
             WHERE id = $1 AND state = $3",
        )
        .bind(step.id)
        .bind(step.to)
        .bind(current.as_str())
        .bind(step.at_ms)
        .bind(step.txid)
        .bind(step.block_height)
        .execute(&mut *transaction)
        .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        insert_event(
            &mut transaction,
            step.id,
            step.to,
            step.actor,
            step.at_ms,
            step.note,
        )
        .await?;
        transaction.commit().await?;
        Ok(true)
    }

    pub async fn get_withdrawal(&self, id: i64) -> StoreResult<Option<WithdrawalRow>> {
        let row = sqlx::query_as(select_withdrawals!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The withdrawal a confirmation email's token names (until it is used).
    pub async fn withdrawal_by_confirm_hash(
        &self,
        confirm_hash: &[u8],
    ) -> StoreResult<Option<WithdrawalRow>> {
        let row = sqlx::query_as(select_withdrawals!("WHERE confirm_hash = $1"))
            .bind(confirm_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// A user's withdrawals in a time window, newest first.
    pub async fn user_withdrawals(
        &self,
        user_id: i64,
        window: HistoryWindow<'_>,
    ) -> StoreResult<Vec<WithdrawalRow>> {
        let rows = sqlx::query_as(select_withdrawals!(
            "WHERE user_id = $1 AND ($2 IS NULL OR asset = $2) AND created_ms >= $3 \
             AND created_ms <= $4 AND ($6 IS NULL OR network = $6) \
             ORDER BY created_ms DESC, id DESC LIMIT $5"
        ))
        .bind(user_id)
        .bind(window.asset)
        .bind(window.since_ms)
        .bind(window.until_ms)
        .bind(window.limit)
        .bind(window.network)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Withdrawals in a state, oldest first (the workers' and staff queues).
    pub async fn withdrawals_in_state(&self, state: &str) -> StoreResult<Vec<WithdrawalRow>> {
        let rows = sqlx::query_as(select_withdrawals!("WHERE state = $1 ORDER BY id"))
            .bind(state)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// Every transition of a withdrawal, oldest first.
    pub async fn withdrawal_events(
        &self,
        withdrawal_id: i64,
    ) -> StoreResult<Vec<WithdrawalEventRow>> {
        let rows = sqlx::query_as(
            "SELECT id, withdrawal_id, state, actor, at_ms, note FROM withdrawal_events \
             WHERE withdrawal_id = $1 ORDER BY id",
        )
        .bind(withdrawal_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Records one staff member's approval (once per person) and answers how many distinct
    /// people have approved.
    pub async fn approve_withdrawal(
        &self,
        withdrawal_id: i64,
        staff_user_id: i64,
        at_ms: i64,
    ) -> StoreResult<i64> {
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO withdrawal_approvals (withdrawal_id, staff_user_id, at_ms) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(withdrawal_id)
        .bind(staff_user_id)
        .bind(at_ms)
        .execute(&mut *transaction)
        .await?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM withdrawal_approvals WHERE withdrawal_id = $1",
        )
        .bind(withdrawal_id)
        .fetch_one(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(count)
    }

    /// Value in micro-USDT of a user's withdrawals since `since_ms` that were not refused,
    /// cancelled or failed (pending ones count: the limit is on what is asked for).
    pub async fn withdrawn_usdt_micros_since(
        &self,
        user_id: i64,
        since_ms: i64,
    ) -> StoreResult<i64> {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(usdt_micros) AS BIGINT) FROM withdrawals WHERE user_id = $1 \
             AND created_ms >= $2 AND state NOT IN ('rejected', 'cancelled', 'failed')",
        )
        .bind(user_id)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(sum.unwrap_or(0))
    }

    /// A user's withdrawal address book, oldest first.
    pub async fn withdraw_addresses(&self, user_id: i64) -> StoreResult<Vec<WithdrawAddressRow>> {
        let rows = sqlx::query_as(
            "SELECT id, user_id, asset, network, address, memo, label, created_ms, usable_from_ms \
             FROM withdraw_addresses WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Adds an address to the book; adding one that is there already restarts its cooling-down
    /// period (a removed and re-added address is new again).
    pub async fn add_withdraw_address(&self, entry: &WithdrawAddressRow) -> StoreResult<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO withdraw_addresses (user_id, asset, network, address, memo, label, \
             created_ms, usable_from_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (user_id, asset, network, address, memo) DO UPDATE SET \
             label = excluded.label, created_ms = excluded.created_ms, \
             usable_from_ms = excluded.usable_from_ms RETURNING id",
        )
        .bind(entry.user_id)
        .bind(entry.asset.as_str())
        .bind(entry.network.as_str())
        .bind(entry.address.as_str())
        .bind(entry.memo.as_str())
        .bind(entry.label.as_str())
        .bind(entry.created_ms)
        .bind(entry.usable_from_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Removes one of the user's own entries; false when there was none.
    pub async fn remove_withdraw_address(&self, user_id: i64, id: i64) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM withdraw_addresses WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn set_withdraw_whitelist_only(&self, user_id: i64, on: bool) -> StoreResult<()> {
        sqlx::query("UPDATE users SET withdraw_whitelist_only = $2 WHERE id = $1")
            .bind(user_id)
            .bind(i64::from(on))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn withdraw_whitelist_only(&self, user_id: i64) -> StoreResult<bool> {
        let on: Option<i64> =
            sqlx::query_scalar("SELECT withdraw_whitelist_only FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(on.unwrap_or(0) != 0)
    }
}

async fn insert_event(
    transaction: &mut sqlx::Transaction<'static, sqlx::Any>,
    withdrawal_id: i64,
    state: &str,
    actor: &str,
    at_ms: i64,
    note: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO withdrawal_events (withdrawal_id, state, actor, at_ms, note) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(withdrawal_id)
    .bind(state)
    .bind(actor)
    .bind(at_ms)
    .bind(note)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}
