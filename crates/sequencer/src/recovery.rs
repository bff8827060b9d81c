//! Start-up: newest usable snapshot plus replay of the journal tail.
//!
//! The snapshot chosen is the newest one at or below what the SQL projections already hold, so
//! that replay regenerates every event the projector has not written yet. Every snapshot passed
//! on the way must match the state hash recomputed by replay: a mismatch means the engine is not
//! deterministic or a file lies, and start-up stops.

use std::path::Path;

use bulwark_engine::{Engine, Event, codec};
use bulwark_journal::{Journal, JournalError, JournalOptions};
use thiserror::Error;

use crate::pipeline::{EventBatch, SequencedEvent};

/// Commands per catch-up batch handed to the projector during replay.
const CATCH_UP_COMMANDS_MAX: u64 = 10_000;

#[derive(Debug, Error)]
pub enum RecoveryError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("snapshot at seq {seq} cannot be decoded: {reason}")]
    SnapshotDecode { seq: u64, reason: String },
    #[error("state hash mismatch at seq {seq}: snapshot says {expected}, replay gives {actual}")]
    HashMismatch {
        seq: u64,
        expected: String,
        actual: String,
    },
    #[error("journal record {seq} cannot be decoded: {reason}")]
    RecordDecode { seq: u64, reason: String },
    #[error("journal record {seq} carries header seq {header_seq}")]
    SeqMismatch { seq: u64, header_seq: u64 },
    #[error("ledger invariant broken after replay: {0}")]
    Invariant(String),
}

/// The result of recovery, ready to hand to `Sequencer::start`.
pub struct Recovered {
    pub engine: Engine,
    pub journal: Journal,
    /// Seq of the snapshot replay started from, if any.
    pub snapshot_seq: Option<u64>,
    /// Commands replayed from the journal.
    pub replayed: u64,
}

/// Rebuilds the engine. `projected_seq` is how far the SQL projections got; events after it are
/// passed to `catch_up` in order, with the engine as of the end of that batch (so the callback
/// can resolve the markets and assets the events name).
pub fn recover(
    journal_dir: &Path,
    snapshot_dir: &Path,
    journal_options: JournalOptions,
    projected_seq: u64,
    catch_up: &mut dyn FnMut(&Engine, EventBatch),
) -> Result<Recovered, RecoveryError> {
    let (journal, _recovered) = Journal::open(journal_dir, journal_options)?;
    let durable = journal.last_seq();
    let snapshot =
        bulwark_journal::latest_snapshot_at_or_below(snapshot_dir, projected_seq.min(durable))?
            .filter(|snapshot| current_format(snapshot.seq, &snapshot.payload));
    let (mut engine, snapshot_seq) = match snapshot {
        Some(snapshot) => {
            let engine = Engine::decode_snapshot(&snapshot.payload).map_err(|e| {
                RecoveryError::SnapshotDecode {
                    seq: snapshot.seq,
                    reason: e.to_string(),
                }
            })?;
            check_hash(&engine, snapshot.seq, snapshot.state_hash)?;
            (engine, Some(snapshot.seq))
        }
        None => (Engine::new(), None),
    };
    let checkpoints = later_snapshot_hashes(snapshot_dir, engine.last_seq())?;
    let mut replay = Replay {
        engine: &mut engine,
        projected_seq,
        catch_up,
        pending: None,
        checkpoints,
        replayed: 0,
        events: Vec::new(),
    };
    let from = replay.engine.last_seq() + 1;
    bulwark_journal::replay(journal_dir, from, |seq, payload| replay.step(seq, payload))?;
    replay.flush();
    let replayed = replay.replayed;
    engine
        .check_invariants()
        .map_err(|e| RecoveryError::Invariant(e.to_string()))?;
    tracing::info!(
        snapshot_seq,
        replayed,
        last_seq = engine.last_seq(),
        "engine recovered"
    );
    Ok(Recovered {
        engine,
        journal,
        snapshot_seq,
        replayed,
    })
}

fn check_hash(engine: &Engine, seq: u64, expected: [u8; 32]) -> Result<(), RecoveryError> {
    let actual = engine.state_hash();
    if actual == expected {
        return Ok(());
    }
    Err(RecoveryError::HashMismatch {
        seq,
        expected: hex(&expected),
        actual: hex(&actual),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a snapshot has this build's layout. One written by an older build (before a layout
/// change) is passed over: the journal, which every build reads, rebuilds the same state.
fn current_format(seq: u64, payload: &[u8]) -> bool {
    let version = bulwark_engine::snapshot_format_version(payload);
    let current = version == Some(bulwark_engine::SNAPSHOT_FORMAT_VERSION);
    if !current {
        tracing::warn!(
            seq,
            ?version,
            "ignoring a snapshot of another format version"
        );
    }
    current
}

fn later_snapshot_hashes(
    dir: &Path,
    after_seq: u64,
) -> Result<Vec<(u64, [u8; 32])>, RecoveryError> {
    let mut hashes = Vec::new();
    for info in bulwark_journal::list_snapshots(dir)? {
        if info.seq <= after_seq {
            continue;
        }
        // A snapshot that does not read back is only an optimisation lost; the journal decides.
        match bulwark_journal::read_snapshot(&info.path) {
            Ok(snapshot) if current_format(snapshot.seq, &snapshot.payload) => {
                hashes.push((snapshot.seq, snapshot.state_hash));
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "ignoring unreadable snapshot"),
        }
    }
    hashes.sort_unstable();
    Ok(hashes)
}

struct Replay<'a> {
    engine: &'a mut Engine,
    projected_seq: u64,
    catch_up: &'a mut dyn FnMut(&Engine, EventBatch),
    pending: Option<EventBatch>,
    checkpoints: Vec<(u64, [u8; 32])>,
    replayed: u64,
    /// Reused for every record, so replay allocates nothing per command for events.
    events: Vec<Event>,
}

impl Replay<'_> {
    fn step(&mut self, seq: u64, payload: &[u8]) -> Result<(), RecoveryError> {
        let (header, command) =
            codec::decode_command(payload).map_err(|e| RecoveryError::RecordDecode {
                seq,
                reason: e.to_string(),
            })?;
        if header.seq != seq {
            return Err(RecoveryError::SeqMismatch {
                seq,
                header_seq: header.seq,
            });
        }
        self.events.clear();
        // The outcome was already given to the client before the crash; replay only needs the
        // state and, for the projector, the events.
        let _ = self.engine.apply(&header, &command, &mut self.events);
        self.replayed += 1;
        if let Some(&(checkpoint_seq, expected)) = self.checkpoints.first()
            && checkpoint_seq == seq
        {
            check_hash(self.engine, seq, expected)?;
            self.checkpoints.remove(0);
        }
        if seq > self.projected_seq {
            let batch = self.pending.get_or_insert_with(|| EventBatch {
                first_seq: seq,
                last_seq: seq,
                events: Vec::new(),
            });
            batch.last_seq = seq;
            batch
                .events
                .extend(self.events.drain(..).map(|event| SequencedEvent {
                    seq,
                    timestamp_ms: header.timestamp_ms,
                    event,
                }));
            if batch.last_seq - batch.first_seq + 1 >= CATCH_UP_COMMANDS_MAX {
                self.flush();
            }
        }
        Ok(())
    }

    fn flush(&mut self) {
        if let Some(batch) = self.pending.take() {
            (self.catch_up)(self.engine, batch);
        }
    }
}
