//! The single writer of the trading core.
//!
//! One thread (the sequencer) owns the [`Engine`]: it takes commands from bounded lanes, stamps
//! each with a sequence number and a timestamp, encodes it for the journal and applies it. A
//! second thread (the writer) appends each batch to the journal and fsyncs it once (group commit);
//! only then are outcomes, query answers, events and market views released. So nothing a command
//! did is visible outside before it is durable, and the engine thread never waits on the disk.

mod bus;
mod lanes;
mod pipeline;
mod recovery;
mod space;
mod view;

pub use bus::{CommandBus, Submitted};
pub use lanes::{Receipt, Reply, SubmitError};
pub use pipeline::{
    EventBatch, SequencedEvent, Sequencer, SequencerHandle, SequencerOptions, SequencerStats,
};
pub use recovery::{Recovered, RecoveryError, recover};
pub use view::{Catalog, DepthView, MarketInfo};
