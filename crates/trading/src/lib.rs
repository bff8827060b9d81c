//! The trading service: what the BitMart-compatible API (and later the web trade pages) may do
//! with orders, balances and API keys. Writes go to the engine as commands through the
//! sequencer and are answered once durable; reads come from the SQL read models, after waiting
//! until they include everything durable when the read began (read-your-writes).
//! Adapters get the read-model rows as the service's own types and never touch the store.

#![forbid(unsafe_code)]

pub mod api_keys;
pub mod band;
pub mod batch;
pub mod cancels;
pub mod markets;
pub mod portfolio;
pub mod reads;
pub mod request_id;
pub mod writes;

use std::sync::Arc;
use std::time::Duration;

use bulwark_accounts::access::Access;
use bulwark_accounts::crypto::MasterKey;
use bulwark_sequencer::SequencerHandle;
use bulwark_store::Store;

pub use bulwark_store::{
    ApiKeyRow, BalanceRow, CandleRow, OrderRow, StoreError, TradeRow, TradeStats, TriggerRow,
};
pub use reads::CandleWindow;

/// How long a read waits for durable effects to reach the SQL read models before answering
/// anyway (the command is durable either way; this only gives read-your-writes).
pub const PROJECTION_WAIT_MS: u64 = 5_000;

/// The trading service and its dependencies (cheap to clone).
#[derive(Clone)]
pub struct Trading {
    pub sequencer: SequencerHandle,
    store: Store,
    pub master_key: Arc<MasterKey>,
    /// Highest sequence number the projector has written to the store.
    pub projected: tokio::sync::watch::Receiver<u64>,
    /// Region, GeoIP and KYC-tier rules (trading needs L1 and an unrestricted region).
    pub access: Arc<Access>,
    /// The server's clock (the one the account API reads), for expiries such as the API keys'
    /// 90-day idle limit, so they can be tested with an injected clock like the others.
    pub clock: Arc<dyn bulwark_identity::clock::Clock>,
}

impl Trading {
    pub fn new(
        sequencer: SequencerHandle,
        store: Store,
        master_key: Arc<MasterKey>,
        projected: tokio::sync::watch::Receiver<u64>,
        access: Arc<Access>,
        clock: Arc<dyn bulwark_identity::clock::Clock>,
    ) -> Trading {
        Trading {
            sequencer,
            store,
            master_key,
            projected,
            access,
            clock,
        }
    }

    /// The read models, for the composition root and the operator tools that write genesis
    /// data (adapters use the methods of this service instead).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Waits until the read models include everything that was durable when the read began:
    /// every read of this service starts here, so a client that was just told its order is
    /// accepted (which happens once the command is durable) finds it at once, without the
    /// acknowledgement itself waiting for the SQL write.
    pub async fn settle(&self) {
        self.wait_projected(self.sequencer.durable_seq()).await;
    }

    /// Waits until the read models include `seq`.
    pub async fn wait_projected(&self, seq: u64) {
        let mut watch = self.projected.clone();
        let _ = tokio::time::timeout(
            Duration::from_millis(PROJECTION_WAIT_MS),
            watch.wait_for(|v| *v >= seq),
        )
        .await;
    }
}
