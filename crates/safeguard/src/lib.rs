//! The Safeguard service: what makes the platform's protection of users checkable by anyone.
//! It publishes signed, hash-chained transparency reports (the fund, incidents, wallets, reserves
//! against liabilities, the proof-of-liabilities roots and the audit chain's head), serves each
//! user's inclusion proof, and checks the audit chain. It reads balances from the engine at one
//! journal sequence number and reserves from custody; the tree and the verifiers are
//! `bulwark-por`'s, the same code the CLI verifies with.

#![forbid(unsafe_code)]

pub mod claims;
pub mod clawback;
pub mod control;
pub mod error;
pub mod evidence;
pub mod fund;
pub mod fund_console;
pub mod incidents;
pub mod insurer;
pub mod insurer_policy;
pub mod policy;
pub mod report;
pub mod service;
pub mod signing;
pub mod terms;

/// The records the service answers with (adapters read them without reaching the store).
pub use bulwark_store::{AuditCheck, IncidentRow, IncidentUpdateRow, ReportRow};
pub use error::{SafeguardError, SafeguardResult};
pub use service::Safeguard;
