//! The operations service: what the operator may do with the operator token (the admin API and
//! `bulwark admin …` are its adapters). It reaches accounts through `bulwark-accounts`, the
//! engine through the trading service's sequencer, and writes the audit log.

#![forbid(unsafe_code)]

pub mod chain;
pub mod demo;
pub mod genesis;
pub mod incidents;
pub mod ops;
pub mod transparency;

use bulwark_accounts::Error;
use bulwark_store::Store;
use bulwark_trading::Trading;

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

pub use bulwark_trading::writes::command_id_for;

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
