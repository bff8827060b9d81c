//! What anyone needs to check Bulwark's transparency reports without trusting the server: the
//! Merkle-sum tree over user balances (proof of liabilities), a user's inclusion proof, and the
//! signature and hash chain of the reports. No I/O, so the server that builds the trees, the CLI
//! that verifies them offline and the tests that hold the browser's verifier to the same answers
//! all run this one piece of code. The construction is documented byte for byte in
//! `docs/TRANSPARENCY.md`.

#![forbid(unsafe_code)]

pub mod address;
pub mod control;
pub mod network;
pub mod proof;
pub mod report;
pub mod tree;

pub use proof::{PathNode, Proof, ProofError, RootRef, verify_proof};
pub use report::{ReportError, ReportSummary, sha256_hex, sign_report, summarize, verify_report};
pub use tree::{Hash, Node, Tree, TreeError, leaf, leaf_id, parent};
