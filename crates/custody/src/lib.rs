//! Custody: where users' coins live on chain and how they move between chains and the ledger.
//! Deposits are credited and withdrawals held, settled or released only by engine commands
//! through the sequencer; everything else (addresses, deposit and withdrawal records, chain
//! cursors) is relational state in the store.

#![forbid(unsafe_code)]

pub mod chain;
pub mod config;
pub mod control;
pub mod deposits;
pub mod error;
pub mod ethereum;
pub mod keys;
pub mod reconcile;
pub mod secret_file;
pub mod service;
pub mod signatures;
pub mod sim;
pub mod staff;
pub mod treasury;
pub mod withdrawals;

/// Address formats and networks live with the verifiers that recover an address from a control
/// signature; custody names them here as before.
pub use bulwark_por::{address, network};

/// The records custody answers with (adapters read them without reaching the store).
pub use bulwark_store::{
    CustodyIncidentRow, DepositRow, HistoryWindow, MovementRow, OperatorKeyRow, ReconciliationRow,
    WithdrawAddressRow, WithdrawalEventRow, WithdrawalRow,
};
pub use config::CustodyConfig;
pub use error::{CustodyError, CustodyResult};
pub use service::{CoinRules, Custody, Wallet};
