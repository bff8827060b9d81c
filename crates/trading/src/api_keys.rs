//! API keys as the signed trading API sees them: lookup by access key, the sealed secret, and
//! the last-use record the 90-day idle rule reads.

use bulwark_accounts::crypto::CryptoError;
use bulwark_accounts::keys::{LAST_USED_WRITE_INTERVAL_MS, secret_context};
use bulwark_store::{ApiKeyRow, StoreError};

use crate::Trading;

impl Trading {
    /// The live (not revoked) key with this access key.
    pub async fn live_api_key(&self, access_key: &str) -> Result<Option<ApiKeyRow>, StoreError> {
        Ok(self
            .store
            .find_api_key(access_key)
            .await?
            .filter(|row| row.revoked == 0))
    }

    /// The key's HMAC secret, opened with the master key.
    pub fn api_secret(&self, row: &ApiKeyRow) -> Result<Vec<u8>, CryptoError> {
        self.master_key
            .open(&row.secret_ciphertext, &secret_context(&row.access_key))
    }

    /// Records the key's use when the stored time is over an hour old (one cheap conditional
    /// write per key per hour); a failure is logged, never shown.
    pub async fn touch_api_key(&self, row: &ApiKeyRow, now_ms: i64) {
        if now_ms.saturating_sub(row.last_used_ms) < LAST_USED_WRITE_INTERVAL_MS {
            return;
        }
        if let Err(error) = self
            .store
            .touch_api_key(row, now_ms, LAST_USED_WRITE_INTERVAL_MS)
            .await
        {
            tracing::warn!("api key last-use update failed: {error}");
        }
    }
}
