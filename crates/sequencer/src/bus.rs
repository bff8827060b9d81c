//! The command bus: the one way services reach the engine. A service submits a command with its
//! idempotency key (the command id) and gets the receipt once the command is durable; a
//! duplicate id answers with the first outcome. Services hold an `Arc<dyn CommandBus>`, so an
//! implementation over a replicated log can replace the in-process sequencer without touching
//! them.

use std::future::Future;
use std::pin::Pin;

use bulwark_engine::Command;
use bulwark_types::CommandId;

use crate::lanes::{Receipt, SubmitError};
use crate::pipeline::SequencerHandle;

/// The future a submission answers with.
pub type Submitted<'a> = Pin<Box<dyn Future<Output = Result<Receipt, SubmitError>> + Send + 'a>>;

/// Submits commands to the engine (see the module comment).
pub trait CommandBus: Send + Sync {
    /// Queues `command` under idempotency key `id` and waits for its durable receipt; `Busy`
    /// at once when the engine's lane is full.
    fn submit(&self, id: CommandId, command: Command) -> Submitted<'_>;
}

impl CommandBus for SequencerHandle {
    fn submit(&self, id: CommandId, command: Command) -> Submitted<'_> {
        Box::pin(SequencerHandle::submit(self, id, command))
    }
}
