//! Devices: browsers recognised by a long-lived device cookie, stored as a hash. A login from a
//! device that is not confirmed waits for the owner's emailed confirmation; the decision is the
//! caller's, the store keeps when each device was first seen, confirmed and revoked.

use crate::Store;
use crate::error::{StoreError, StoreResult, classify};
use crate::limits::capped;

/// Prefixes the column list so every query returns the same shape as a `&'static str`.
macro_rules! select_devices {
    ($tail:literal) => {
        concat!(
            "SELECT id, user_id, cookie_hash, first_seen_ms, last_seen_ms, ip, country, ",
            "user_agent, confirmed_ms, revoked_ms FROM devices ",
            $tail
        )
    };
}

/// A device to insert (first seen = last seen = `seen_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub user_id: i64,
    /// Hash of the device cookie (never the cookie).
    pub cookie_hash: Vec<u8>,
    pub seen_ms: i64,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
    /// `Some` for a device trusted at once (the sign-up browser), `None` for pending.
    pub confirmed_ms: Option<i64>,
}

/// A stored device.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceRow {
    pub id: i64,
    pub user_id: i64,
    pub cookie_hash: Vec<u8>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
    /// `None` while the device waits for confirmation.
    pub confirmed_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

impl Store {
    /// Inserts a device; `Conflict("device cookie")` on a duplicate hash, `NotFound("user")`.
    pub async fn insert_device(&self, device: &NewDevice) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO devices (user_id, cookie_hash, first_seen_ms, last_seen_ms, ip, country, \
             user_agent, confirmed_ms) VALUES ($1, $2, $3, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(device.user_id)
        .bind(device.cookie_hash.as_slice())
        .bind(device.seen_ms)
        .bind(device.ip.as_str())
        .bind(device.country.as_deref())
        .bind(device.user_agent.as_str())
        .bind(device.confirmed_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| classify(error, "device cookie", "user"))
    }

    /// The user's live (not revoked) device with this cookie hash. Filtering by user means a
    /// cookie a browser got for one account never vouches for another.
    pub async fn find_device(
        &self,
        user_id: i64,
        cookie_hash: &[u8],
    ) -> StoreResult<Option<DeviceRow>> {
        let row = sqlx::query_as(select_devices!(
            "WHERE cookie_hash = $1 AND user_id = $2 AND revoked_ms IS NULL"
        ))
        .bind(cookie_hash)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// One of the user's devices by id, revoked or not.
    pub async fn get_device(&self, user_id: i64, id: i64) -> StoreResult<Option<DeviceRow>> {
        let row = sqlx::query_as(select_devices!("WHERE id = $1 AND user_id = $2"))
            .bind(id)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// Records a visit: last seen moves forward (never back) and the address is updated.
    /// Returns false if the device is revoked or gone.
    pub async fn touch_device(
        &self,
        id: i64,
        now_ms: i64,
        ip: &str,
        country: Option<&str>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE devices SET last_seen_ms = CASE \
             WHEN last_seen_ms < $2 THEN $2 ELSE last_seen_ms END, ip = $3, country = $4 \
             WHERE id = $1 AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(now_ms)
        .bind(ip)
        .bind(country)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Confirms one of the user's pending devices; returns false if it is not the user's, is
    /// already confirmed, or is revoked (so a confirmation link works once).
    pub async fn confirm_device(&self, user_id: i64, id: i64, now_ms: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE devices SET confirmed_ms = $3 WHERE id = $1 AND user_id = $2 \
             AND confirmed_ms IS NULL AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(user_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Revokes one of the user's devices and, in the same transaction, every live session
    /// opened from it (a forgotten device must not stay logged in). `NotFound("device")` if
    /// the user has no such device; returns how many sessions were revoked.
    pub async fn revoke_device(&self, user_id: i64, id: i64, now_ms: i64) -> StoreResult<u64> {
        let mut transaction = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE devices SET revoked_ms = COALESCE(revoked_ms, $3) \
             WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user_id)
        .bind(now_ms)
        .execute(&mut *transaction)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("device"));
        }
        let sessions = sqlx::query(
            "UPDATE sessions SET revoked_ms = $3 \
             WHERE device_id = $1 AND user_id = $2 AND revoked_ms IS NULL",
        )
        .bind(id)
        .bind(user_id)
        .bind(now_ms)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(sessions.rows_affected())
    }

    /// Whether the user ever confirmed a device, forgotten ones included.
    pub async fn ever_confirmed_a_device(&self, user_id: i64) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM devices WHERE user_id = $1 AND confirmed_ms IS NOT NULL LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// The user's live devices, most recently seen first (capped at
    /// [`ROWS_PER_QUERY_MAX`](crate::ROWS_PER_QUERY_MAX)).
    pub async fn list_devices(&self, user_id: i64) -> StoreResult<Vec<DeviceRow>> {
        let rows = sqlx::query_as(select_devices!(
            "WHERE user_id = $1 AND revoked_ms IS NULL ORDER BY last_seen_ms DESC, id DESC \
             LIMIT $2"
        ))
        .bind(user_id)
        .bind(capped(u32::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
