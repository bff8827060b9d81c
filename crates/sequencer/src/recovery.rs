//! Start-up: newest usable snapshot plus replay of the journal tail.
//!
//! The snapshot chosen is the newest one at or below what the SQL projections already hold, so
//! that replay regenerates every event the projector has not written yet. Every snapshot passed
//! on the way must match the state hash recomputed by replay: a mismatch means the engine is not
//! deterministic or a file lies, and start-up stops.

use std::path::Path;

use bulwark_engine::{Command, CommandHeader, Engine, Event, codec};
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
    #[error("replay thread: {0}")]
    Thread(String),
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
    replay_decoded_in_parallel(journal_dir, from, &mut replay)?;
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

/// Commands handed at a time from the thread that reads and decodes the journal to the one that
/// applies them.
const DECODED_CHUNK_COMMANDS: usize = 4_096;
/// Chunks in flight between the two threads: enough to ride out uneven work, and memory stays
/// bounded (a few MB) however long the journal is.
const DECODED_CHUNKS_IN_FLIGHT: usize = 4;

/// One decoded record.
type Decoded = (CommandHeader, Command);

/// Why the reading thread stopped early.
enum ReadStop {
    Failed(RecoveryError),
    /// The applying side stopped (it has its own error to report).
    Abandoned,
}

impl From<JournalError> for ReadStop {
    fn from(error: JournalError) -> Self {
        ReadStop::Failed(error.into())
    }
}

/// Replays the journal from `from` into `replay` on two threads: one reads the segments, checks
/// every record and decodes it, while this one applies what was decoded before. Replay was one
/// core doing both in turn; the engine, which must stay single-threaded to stay deterministic,
/// now only applies. Errors keep their order: everything before a bad record is applied first.
fn replay_decoded_in_parallel(
    journal_dir: &Path,
    from: u64,
    replay: &mut Replay<'_>,
) -> Result<(), RecoveryError> {
    let (chunks_tx, chunks_rx) =
        crossbeam_channel::bounded::<Result<Vec<Decoded>, RecoveryError>>(DECODED_CHUNKS_IN_FLIGHT);
    let (spare_tx, spare_rx) = crossbeam_channel::bounded::<Vec<Decoded>>(DECODED_CHUNKS_IN_FLIGHT);
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("replay-decode".into())
            .spawn_scoped(scope, move || {
                let mut chunk = Vec::with_capacity(DECODED_CHUNK_COMMANDS);
                let read = bulwark_journal::replay(journal_dir, from, |seq, payload| {
                    chunk.push(decode_record(seq, payload).map_err(ReadStop::Failed)?);
                    if chunk.len() == DECODED_CHUNK_COMMANDS {
                        let spare = spare_rx
                            .try_recv()
                            .unwrap_or_else(|_| Vec::with_capacity(DECODED_CHUNK_COMMANDS));
                        chunks_tx
                            .send(Ok(std::mem::replace(&mut chunk, spare)))
                            .map_err(|_| ReadStop::Abandoned)?;
                    }
                    Ok::<(), ReadStop>(())
                });
                if !chunk.is_empty() {
                    let _ = chunks_tx.send(Ok(chunk));
                }
                if let Err(ReadStop::Failed(error)) = read {
                    let _ = chunks_tx.send(Err(error));
                }
            });
        let reader = reader.map_err(|error| RecoveryError::Thread(error.to_string()))?;
        let mut apply_all = || {
            for chunk in &chunks_rx {
                let mut chunk = chunk?;
                for (header, command) in chunk.drain(..) {
                    replay.apply(header, &command)?;
                }
                let _ = spare_tx.try_send(chunk);
            }
            Ok(())
        };
        let applied = apply_all();
        // Unblocks a reader waiting to send, so the scope can end.
        drop(chunks_rx);
        if reader.join().is_err() {
            return Err(RecoveryError::Thread(
                "the journal reading thread panicked".into(),
            ));
        }
        applied
    })
}

/// Decodes a journal record and checks that it carries the seq it is stored at.
fn decode_record(seq: u64, payload: &[u8]) -> Result<Decoded, RecoveryError> {
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
    Ok((header, command))
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
    fn apply(&mut self, header: CommandHeader, command: &Command) -> Result<(), RecoveryError> {
        let seq = header.seq;
        self.events.clear();
        // The outcome was already given to the client before the crash; replay only needs the
        // state and, for the projector, the events.
        let _ = self.engine.apply(&header, command, &mut self.events);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use bulwark_engine::AssetId;
    use bulwark_engine::AssetSpec;
    use bulwark_journal::FsyncPolicy;
    use bulwark_types::{CommandId, UserId};

    fn options() -> JournalOptions {
        JournalOptions {
            fsync: FsyncPolicy::Never,
            ..JournalOptions::default()
        }
    }

    fn header(seq: u64) -> CommandHeader {
        let mut id = [0_u8; 16];
        id[..8].copy_from_slice(&seq.to_le_bytes());
        CommandHeader {
            seq,
            timestamp_ms: i64::try_from(seq).unwrap(),
            id: CommandId(id),
        }
    }

    fn command(seq: u64) -> Command {
        if seq == 1 {
            return Command::AddAsset(AssetSpec {
                code: "USDT".into(),
                name: "Tether".into(),
                scale: 6,
            });
        }
        Command::Deposit {
            user: UserId(seq % 97),
            asset: AssetId(0),
            amount: i64::try_from(seq).unwrap(),
            reference: format!("d{seq}"),
        }
    }

    /// Journals `commands` records (the one at `garbage_at` undecodable) and returns the state
    /// hash a live engine reaches over them (meaningful only without garbage).
    fn journal(dir: &Path, commands: u64, garbage_at: Option<u64>) -> [u8; 32] {
        let (mut journal, _) = Journal::open(dir, options()).unwrap();
        let mut engine = Engine::new();
        let mut events = Vec::new();
        for seq in 1..=commands {
            if garbage_at == Some(seq) {
                journal.append(seq, &[0xff; 9]).unwrap();
                continue;
            }
            let mut buf = Vec::new();
            codec::encode_command_into(&header(seq), &command(seq), &mut buf);
            journal.append(seq, &buf).unwrap();
            if garbage_at.is_none() {
                events.clear();
                engine
                    .apply(&header(seq), &command(seq), &mut events)
                    .unwrap();
            }
        }
        journal.commit().unwrap();
        engine.state_hash()
    }

    #[test]
    fn replay_over_many_chunks_equals_the_live_engine_and_hands_on_every_event_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (journal_dir, snapshots) = (dir.path().join("j"), dir.path().join("s"));
        std::fs::create_dir_all(&snapshots).unwrap();
        let commands = 3 * DECODED_CHUNK_COMMANDS as u64 + 17;
        let live = journal(&journal_dir, commands, None);
        let mut seqs = Vec::new();
        let recovered = recover(&journal_dir, &snapshots, options(), 100, &mut |_, batch| {
            seqs.extend(batch.events.iter().map(|event| event.seq));
        })
        .unwrap();
        assert_eq!(recovered.engine.state_hash(), live);
        assert_eq!(recovered.replayed, commands);
        // Events after the projected seq reach the projector, each command's in seq order.
        assert_eq!(seqs.first(), Some(&101));
        assert!(seqs.is_sorted());
        assert_eq!(seqs.last(), Some(&commands));
    }

    #[test]
    fn an_undecodable_record_stops_recovery_at_its_seq_after_the_ones_before() {
        let dir = tempfile::tempdir().unwrap();
        let (journal_dir, snapshots) = (dir.path().join("j"), dir.path().join("s"));
        std::fs::create_dir_all(&snapshots).unwrap();
        let bad = DECODED_CHUNK_COMMANDS as u64 + 5;
        journal(&journal_dir, 2 * DECODED_CHUNK_COMMANDS as u64, Some(bad));
        let mut last_handed_on = 0;
        let error = recover(&journal_dir, &snapshots, options(), 0, &mut |_, batch| {
            last_handed_on = batch.last_seq;
        })
        .err()
        .expect("a bad record must stop recovery");
        assert!(
            matches!(error, RecoveryError::RecordDecode { seq, .. } if seq == bad),
            "{error}"
        );
        assert!(last_handed_on < bad);
    }
}
