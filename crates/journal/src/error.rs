//! The one error type of the journal crate.
//!
//! Corruption and gaps carry the file (and offset) so an operator can find the damage; the
//! start-up path must stop on them rather than guess.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong reading or writing the journal and snapshots.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An operating-system call failed; `path` says on which file or directory.
    #[error("journal I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Bytes on disk do not form what we wrote: bad magic, CRC, length or sequence number.
    #[error("journal corrupt: {} at offset {offset}: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// Sequence numbers are not contiguous across segments (typically a missing segment file).
    #[error(
        "journal gap: {} starts at seq {found_seq}, expected seq {expected_seq} (missing segment?)",
        file.display()
    )]
    Gap {
        file: PathBuf,
        expected_seq: u64,
        found_seq: u64,
    },
    /// The caller appended a sequence number other than `last + 1`.
    #[error("journal append out of order: expected seq {expected_seq}, got {got_seq}")]
    SeqOutOfOrder { expected_seq: u64, got_seq: u64 },
    /// The payload exceeds what one record (or one segment of the configured size) can hold.
    #[error("journal record payload of {len_bytes} bytes exceeds the limit of {max_bytes} bytes")]
    RecordTooLarge { len_bytes: usize, max_bytes: usize },
    /// An empty payload cannot be framed: a zero length marks the end of written data.
    #[error("journal record payload must not be empty")]
    EmptyPayload,
    /// `JournalOptions` out of range.
    #[error("invalid journal options: {0}")]
    InvalidOptions(String),
    /// Another `Journal` (in this or another process) holds the directory's lock file; two
    /// writers would interleave records.
    #[error("journal directory lock {} is held by another writer", path.display())]
    Locked { path: PathBuf },
    /// An earlier commit failed part-way; what reached the disk is unknown, so the writer refuses
    /// further work. Reopen (which re-runs recovery) to continue.
    #[error("journal writer is poisoned by an earlier I/O failure; reopen it to recover")]
    Poisoned,
    /// Replay was asked to start after the end of the journal, which would silently skip
    /// sequence numbers (e.g. a snapshot newer than the journal).
    #[error("journal replay from seq {from_seq} is past the journal end (last seq {last_seq})")]
    FromSeqBeyondEnd { from_seq: u64, last_seq: u64 },
}

impl JournalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Self::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}
