//! The operations service: what the operator may do with the operator token (the admin API and
//! `bulwark admin …` are its adapters). It reaches accounts through `bulwark-accounts`, the
//! engine through the trading service's sequencer, and writes the audit log.

#![forbid(unsafe_code)]

pub mod demo;
pub mod ops;

use bulwark_accounts::Error;
use bulwark_store::Store;
use bulwark_trading::Trading;
use bulwark_types::CommandId;
use sha2::{Digest, Sha256};

pub use ops::*;

/// The operations service and its dependencies (cheap to clone).
#[derive(Clone)]
pub struct Operator {
    pub trading: Trading,
}

impl Operator {
    pub fn new(trading: Trading) -> Operator {
        Operator { trading }
    }

    fn store(&self) -> &Store {
        self.trading.store()
    }
}

/// The command id of an operator action named by `text` (a deposit reference, a halt at a given
/// time): the same text gives the same id, so a retried action is applied once.
pub fn command_id_for(text: &str) -> CommandId {
    let digest = Sha256::digest(text.as_bytes());
    let mut id = [0_u8; 16];
    for (slot, byte) in id.iter_mut().zip(digest.iter()) {
        *slot = *byte;
    }
    CommandId(id)
}

/// Wall-clock milliseconds since the Unix epoch (operator actions are stamped by the real
/// clock, as before).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A failure on our side, logged with its detail.
fn internal(detail: impl std::fmt::Display) -> Error {
    Error::internal("operator", detail)
}
