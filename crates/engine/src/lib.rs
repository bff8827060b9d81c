//! The matching engine and the double-entry ledger.
//!
//! This crate is a pure state machine: `Engine::apply` takes a sequenced command and returns its
//! outcome plus events, and nothing else can change the state. It does no I/O, reads no clock,
//! uses no randomness and never lets hash-map iteration order reach its output, so replaying the
//! same journal always gives the same state, events and state hash.
//!
//! Modules: [`book`] (a standalone price-time order book), [`ledger`] (double-entry accounts),
//! [`Engine`] (the rules between them), [`codec`] (the journal payload of a command) and the
//! snapshot encoding with [`Engine::state_hash`].

pub mod book;
mod client_order_id;
pub mod codec;
pub mod command;
mod engine;
pub mod event;
mod idempotency;
pub mod invariant;
pub mod ledger;
pub mod limits;
pub mod reject;
mod snapshot;
pub mod spec;

pub use client_order_id::{ClientOrderId, ClientOrderIdError};
pub use command::{
    COMMAND_KINDS, Command, CommandHeader, NewOrder, NewTrigger, OrderKind, OrderTarget, StpMode,
    TopUpSource,
};
pub use engine::{Depth, Engine, MarketInfo};
pub use event::{
    CancelReason, Event, OrderState, OrderView, SystemAccount, TradeView, TriggerDirection,
    TriggerState, TriggerView,
};
pub use invariant::InvariantError;
pub use ledger::AssetTotals;
pub use reject::{Accepted, Outcome, Reject};
pub use snapshot::{
    SNAPSHOT_FORMAT_VERSION, SnapshotError, snapshot_format_version, snapshot_hash,
};
pub use spec::{AssetId, AssetSpec, MarketId, MarketSpec};
