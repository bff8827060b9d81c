//! Commands to the engine: every write of the trading API is one command, submitted with a
//! fresh idempotency id and acknowledged once durable; placing orders is gated by KYC tier and
//! region first.

use bulwark_accounts::access::TradeRefusal;
use bulwark_engine::Command;
use bulwark_sequencer::{Receipt, SubmitError};
use bulwark_types::CommandId;

use crate::Trading;

/// Why a command did not reach the engine.
#[derive(Debug, thiserror::Error)]
pub enum SubmitFailure {
    #[error("no randomness for a command id: {0}")]
    Random(String),
    #[error("{0}")]
    Sequencer(#[from] SubmitError),
    /// A limit order beyond the price band (see [`crate::band`]); nothing was submitted.
    #[error("price outside the band: {0:?}")]
    Band(crate::band::OutsideBand),
}

/// A new command id: random, carrying the HTTP request's id when there is one.
fn fresh_id() -> Result<CommandId, SubmitFailure> {
    bulwark_accounts::crypto::random_bytes::<16>()
        .map(crate::request_id::command_id)
        .map_err(|e| SubmitFailure::Random(e.to_string()))
}

/// The command id of an action named by `text` (a deposit reference, a withdrawal step, an
/// operator action at a given time): the same text gives the same id, so a retried action is
/// applied once, by the engine's idempotency window and the command's own key.
pub fn command_id_for(text: &str) -> CommandId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut id = [0_u8; 16];
    for (slot, byte) in id.iter_mut().zip(digest.iter()) {
        *slot = *byte;
    }
    CommandId(id)
}

impl Trading {
    /// Submits `command` under a new random id and returns its durable receipt.
    /// Orders are checked against the price band first.
    pub async fn submit(&self, command: Command) -> Result<Receipt, SubmitFailure> {
        self.submit_as(fresh_id()?, command).await
    }

    /// Submits `command` under `id`, chosen by the caller so that sending the same request
    /// twice (a form submitted twice) gets the first outcome back instead of a second order:
    /// the engine answers a repeated id from its idempotency window.
    pub async fn submit_as(
        &self,
        id: CommandId,
        command: Command,
    ) -> Result<Receipt, SubmitFailure> {
        self.check_band(&command).map_err(SubmitFailure::Band)?;
        Ok(self.sequencer.submit(id, command).await?)
    }

    /// [`Trading::submit`] for a command whose band check was already made (a batch checks
    /// every order once, before any is placed, so prices its own orders move do not refuse
    /// the rest halfway).
    pub(crate) async fn submit_checked(&self, command: Command) -> Result<Receipt, SubmitFailure> {
        Ok(self.sequencer.submit(fresh_id()?, command).await?)
    }

    /// Whether `user_id` may place orders from `country` (KYC tier, residence, request region).
    pub async fn check_trade(
        &self,
        user_id: i64,
        country: Option<&str>,
    ) -> Result<Option<TradeRefusal>, bulwark_store::StoreError> {
        self.access.check_trade(&self.store, user_id, country).await
    }
}
