//! Bulwark's write-ahead journal and snapshot files.
//!
//! The journal is the exchange's source of truth: the sequencer appends every command (as opaque
//! payload bytes with a sequence number), commits the batch with one `fdatasync` per segment
//! touched (group commit), and only then acknowledges anything. Recovery loads the newest valid
//! snapshot and replays the journal tail after it.
//!
//! This crate knows nothing about HTTP, SQL or the engine's command format.
//!
//! Layout on disk:
//! - `DIR/<first seq, 20 digits>.seg`: preallocated, zero-filled segments. Header `BWJRNL01` +
//!   first seq (u64 LE), then records `len u32 | crc32c u32 | seq u64 | payload`, where the CRC
//!   covers the seq bytes and the payload. A zero length marks the end of written data.
//! - `SNAPDIR/<seq, 20 digits>.snap`: see [`snapshot`].
//!
//! Integrity rule: a torn last record at the end of the last segment is truncated by
//! [`Journal::open`] (it was never acknowledged, because its commit never returned); any other
//! damage stops with [`JournalError::Corrupt`] or [`JournalError::Gap`] naming the file. Nothing
//! is ever skipped silently.

mod error;
mod format;
mod scan;
pub mod snapshot;
mod writer;

use std::fs::File;
use std::io;
use std::path::Path;

pub use error::JournalError;
pub use format::{
    RECORD_HEADER_BYTES, RECORD_PAYLOAD_BYTES_MAX, SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX,
    SEGMENT_BYTES_MIN, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC,
};
pub use scan::{ReplayStats, TornTail, VerifyReport, replay, verify};
pub use snapshot::{
    SNAPSHOT_HEADER_BYTES, SNAPSHOT_MAGIC, SNAPSHOTS_KEPT, Snapshot, SnapshotInfo,
    latest_snapshot_at_or_below, list_snapshots, read_snapshot, write_snapshot,
};
pub use writer::{CommitStats, FsyncPolicy, Journal, JournalOptions, Recovered};

/// Makes a file creation, rename or deletion inside `path` durable.
///
/// On Linux a new directory entry survives a crash only once the directory itself is synced;
/// syncing the file is not enough. Shared so other crates writing files atomically
/// (tmp + rename) can reuse it.
pub fn fsync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}
