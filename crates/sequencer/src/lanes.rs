//! Bounded input lanes of the sequencer and how a caller gets its answer back.
//!
//! Cancels and halts travel on their own lane, drained first, so they keep working when order
//! entry is saturated; a full lane answers "busy" at once instead of blocking the caller.

use bulwark_engine::{Command, Engine, Outcome};
use bulwark_types::CommandId;
use thiserror::Error;

/// What happened to a command, released after it is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub seq: u64,
    pub timestamp_ms: i64,
    pub outcome: Outcome,
}

/// Where the outcome of a command goes once it is durable.
pub enum Reply {
    /// An async caller awaiting the receipt.
    Channel(tokio::sync::oneshot::Sender<Receipt>),
    /// A synchronous observer (benchmarks record the ack time here).
    Callback(Box<dyn FnOnce(Receipt) + Send>),
    /// Nobody is waiting.
    Ignore,
}

impl Reply {
    pub(crate) fn deliver(self, receipt: Receipt) {
        match self {
            Reply::Channel(sender) => {
                // The caller may have gone away (timeout, closed connection): the command still
                // happened and is durable, so there is nothing else to do.
                let _ = sender.send(receipt);
            }
            Reply::Callback(callback) => callback(receipt),
            Reply::Ignore => {}
        }
    }
}

/// Why a command was not taken.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SubmitError {
    #[error("system busy: the order queue is full, try again shortly")]
    Busy,
    #[error("the trading engine is not running")]
    Stopped,
    /// The journal cannot take more commands (disk full, read-only); nothing was queued.
    #[error("the exchange cannot record new commands right now: {0}; try again later")]
    Unwritable(String),
}

pub(crate) struct Submission {
    pub id: CommandId,
    pub command: Command,
    pub reply: Reply,
}

/// A read of engine state; its answer is handed over only after everything the read observed is
/// durable.
pub(crate) type Query = Box<dyn FnOnce(&Engine) -> Delivery + Send>;
/// The deferred hand-over of a query answer.
pub(crate) type Delivery = Box<dyn FnOnce() + Send>;

pub(crate) enum Control {
    Query(Query),
    Shutdown,
}

/// Whether a command goes on the priority lane (cancels and halts).
pub(crate) fn is_priority(command: &Command) -> bool {
    matches!(
        command,
        Command::CancelOrder { .. }
            | Command::CancelAll { .. }
            | Command::CancelTrigger { .. }
            | Command::CancelAllTriggers { .. }
            | Command::Halt { .. }
            | Command::Resume { .. }
    )
}
