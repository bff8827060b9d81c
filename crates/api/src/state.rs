//! Shared state of the HTTP handlers.

use std::sync::Arc;
use std::time::Duration;

use bulwark_sequencer::SequencerHandle;
use bulwark_store::Store;

use bulwark_accounts::access::Access;
use bulwark_accounts::crypto::MasterKey;

/// How long a write waits for its own effects to reach the SQL read models before answering
/// anyway (the command is durable either way; this only gives read-your-writes).
pub const PROJECTION_WAIT_MS: u64 = 5_000;

#[derive(Clone)]
pub struct AppState {
    pub sequencer: SequencerHandle,
    pub store: Store,
    pub master_key: Arc<MasterKey>,
    /// Highest sequence number the projector has written to the store.
    pub projected: tokio::sync::watch::Receiver<u64>,
    /// Region, GeoIP and KYC-tier rules (trading needs L1 and an unrestricted region).
    pub access: Arc<Access>,
    /// The server's clock (the one the account API reads), for expiries such as the API keys'
    /// 90-day idle limit, so they can be tested with an injected clock like the others.
    pub clock: Arc<dyn bulwark_identity::clock::Clock>,
}

impl AppState {
    /// Waits until the read models include `seq`, so a client that just placed an order can
    /// query it at once.
    pub async fn wait_projected(&self, seq: u64) {
        let mut watch = self.projected.clone();
        let _ = tokio::time::timeout(
            Duration::from_millis(PROJECTION_WAIT_MS),
            watch.wait_for(|v| *v >= seq),
        )
        .await;
    }
}
