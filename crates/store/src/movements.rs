//! Operator signing keys and fund movements awaiting M-of-N signatures.

use crate::Store;
use crate::error::{StoreResult, UniqueKey, classify_keys};

const KEYS: &[UniqueKey] = &[
    UniqueKey {
        constraint: "uq_operator_keys_public_key",
        sqlite_columns: "operator_keys.public_key",
        label: "operator key",
    },
    UniqueKey {
        constraint: "uq_operator_keys_name",
        sqlite_columns: "operator_keys.name",
        label: "operator key name",
    },
];

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OperatorKeyRow {
    pub id: i64,
    pub name: String,
    pub public_key: Vec<u8>,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// A movement as proposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMovement {
    pub action: String,
    pub asset: String,
    pub network: String,
    pub amount: i64,
    pub destination: String,
    pub withdrawal_id: Option<i64>,
    pub user_id: Option<i64>,
    pub claim_id: Option<i64>,
    pub nonce: String,
    pub expires_ms: i64,
    pub required: i64,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MovementRow {
    pub id: i64,
    pub action: String,
    pub asset: String,
    pub network: String,
    pub amount: i64,
    pub destination: String,
    pub withdrawal_id: Option<i64>,
    pub user_id: Option<i64>,
    pub claim_id: Option<i64>,
    pub nonce: String,
    pub expires_ms: i64,
    pub required: i64,
    pub description: String,
    pub state: String,
    pub txid: Option<String>,
    pub created_ms: i64,
    pub executed_ms: Option<i64>,
}

macro_rules! select_movements {
    ($tail:literal) => {
        concat!(
            "SELECT id, action, asset, network, amount, destination, withdrawal_id, user_id, ",
            "claim_id, nonce, ",
            "expires_ms, required, description, state, txid, created_ms, executed_ms ",
            "FROM movements ",
            $tail
        )
    };
}

impl Store {
    /// Registers an operator's public key; a key or name registered before is refused.
    pub async fn insert_operator_key(
        &self,
        name: &str,
        public_key: &[u8],
        created_ms: i64,
    ) -> StoreResult<i64> {
        let id = sqlx::query_scalar(
            "INSERT INTO operator_keys (name, public_key, created_ms) VALUES ($1, $2, $3) \
             RETURNING id",
        )
        .bind(name)
        .bind(public_key)
        .bind(created_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify_keys(error, KEYS, "operator key", "operator key is invalid"))?;
        Ok(id)
    }

    pub async fn operator_keys(&self) -> StoreResult<Vec<OperatorKeyRow>> {
        let rows = sqlx::query_as(
            "SELECT id, name, public_key, created_ms, revoked_ms FROM operator_keys ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Revokes a key: its past signatures stay, new ones no longer count.
    pub async fn revoke_operator_key(&self, id: i64, revoked_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE operator_keys SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(revoked_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Stores a movement with the description its id completes (the id is part of what is
    /// signed, so the text is written in the same transaction).
    pub async fn insert_movement(
        &self,
        movement: &NewMovement,
        describe: impl FnOnce(i64) -> String,
    ) -> StoreResult<MovementRow> {
        let mut transaction = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO movements (action, asset, network, amount, destination, withdrawal_id, \
             nonce, expires_ms, required, description, state, created_ms, user_id, claim_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', 'pending', $10, $11, $12) \
             RETURNING id",
        )
        .bind(movement.action.as_str())
        .bind(movement.asset.as_str())
        .bind(movement.network.as_str())
        .bind(movement.amount)
        .bind(movement.destination.as_str())
        .bind(movement.withdrawal_id)
        .bind(movement.nonce.as_str())
        .bind(movement.expires_ms)
        .bind(movement.required)
        .bind(movement.created_ms)
        .bind(movement.user_id)
        .bind(movement.claim_id)
        .fetch_one(&mut *transaction)
        .await?;
        sqlx::query("UPDATE movements SET description = $2 WHERE id = $1")
            .bind(id)
            .bind(describe(id))
            .execute(&mut *transaction)
            .await?;
        let row = sqlx::query_as(select_movements!("WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(row)
    }

    pub async fn get_movement(&self, id: i64) -> StoreResult<Option<MovementRow>> {
        let row = sqlx::query_as(select_movements!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The pending movement that releases a withdrawal, if one was proposed.
    pub async fn movement_for_withdrawal(
        &self,
        withdrawal_id: i64,
    ) -> StoreResult<Option<MovementRow>> {
        let row = sqlx::query_as(select_movements!(
            "WHERE withdrawal_id = $1 AND state = 'pending' ORDER BY id DESC LIMIT 1"
        ))
        .bind(withdrawal_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    pub async fn movements(&self, limit: i64) -> StoreResult<Vec<MovementRow>> {
        let rows = sqlx::query_as(select_movements!("ORDER BY id DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// Pending movements already signed by as many unrevoked keys as they require: what a
    /// stop between the last signature and the execution leaves behind.
    pub async fn signed_pending_movements(&self) -> StoreResult<Vec<MovementRow>> {
        let rows = sqlx::query_as(select_movements!(
            "WHERE state = 'pending' AND required <= (SELECT COUNT(*) FROM movement_signatures s \
             JOIN operator_keys k ON k.id = s.key_id \
             WHERE s.movement_id = movements.id AND k.revoked_ms IS NULL) ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// What Safeguard payout movements of `asset` still waiting for signatures will take from
    /// the fund.
    pub async fn pending_safeguard_payouts(&self, asset: &str) -> StoreResult<i64> {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(amount) AS BIGINT) FROM movements \
             WHERE action = 'safeguard_payout' AND state = 'pending' AND asset = $1",
        )
        .bind(asset)
        .fetch_one(&self.pool)
        .await?;
        Ok(sum.unwrap_or(0))
    }

    /// Records a key's signature (once per key) and answers how many distinct unrevoked keys
    /// signed.
    pub async fn add_movement_signature(
        &self,
        movement_id: i64,
        key_id: i64,
        signature: &[u8],
        at_ms: i64,
    ) -> StoreResult<i64> {
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO movement_signatures (movement_id, key_id, signature, at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(movement_id)
        .bind(key_id)
        .bind(signature)
        .bind(at_ms)
        .execute(&mut *transaction)
        .await?;
        // Only keys that are still registered count: revoking a key withdraws its signatures
        // from movements that have not executed yet.
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM movement_signatures s JOIN operator_keys k ON k.id = s.key_id \
             WHERE s.movement_id = $1 AND k.revoked_ms IS NULL",
        )
        .bind(movement_id)
        .fetch_one(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(count)
    }

    /// Moves a pending movement to `to` (executed, expired or failed); true for one caller.
    pub async fn finish_movement(
        &self,
        id: i64,
        to: &str,
        txid: Option<&str>,
        at_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE movements SET state = $2, txid = $3, executed_ms = $4 \
             WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(to)
        .bind(txid)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
