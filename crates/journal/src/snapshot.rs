//! Snapshot files: the engine state at a journal seq, to bound replay time.
//!
//! A snapshot is only an optimisation — the journal is the truth. So a damaged snapshot is
//! skipped (with a warning) by [`latest_snapshot_at_or_below`] and recovery falls back to an
//! older one or to a full replay; it is never "repaired".
//!
//! File `<seq, 20 digits>.snap`: magic `BWSNAP01`, seq u64 LE, state hash `[u8; 32]`,
//! payload_len u64 LE, crc32c u32 LE over everything before it plus the payload, then the
//! payload. Written to a temp file, synced, renamed, directory synced.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::JournalError;
use crate::format::{parse_seq_file_name, read_u32, read_u64, seq_file_name};
use crate::fsync_dir;

/// Identifies a snapshot file and its format version.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"BWSNAP01";
/// magic 8 + seq 8 + state hash 32 + payload_len 8 + crc 4.
pub const SNAPSHOT_HEADER_BYTES: usize = 60;
/// Snapshots retained after a write: a few fallbacks in case the newest is damaged, without
/// letting the directory grow forever.
pub const SNAPSHOTS_KEPT: usize = 3;

const SNAPSHOT_SUFFIX: &str = ".snap";
const TEMP_SUFFIX: &str = ".snap.tmp";
const SEQ_OFFSET: usize = 8;
const HASH_OFFSET: usize = 16;
const PAYLOAD_LEN_OFFSET: usize = 48;
const CRC_OFFSET: usize = 56;

/// A snapshot file found on disk (not yet validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub seq: u64,
    pub path: PathBuf,
}

/// A validated snapshot: engine state after applying every record up to and including `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub seq: u64,
    /// The engine's state hash at `seq`; replay must reproduce it.
    pub state_hash: [u8; 32],
    pub payload: Vec<u8>,
}

/// Durably writes the snapshot for `seq`, then deletes all but the [`SNAPSHOTS_KEPT`] highest
/// seqs. Returns the final path. A crash at any point leaves either the old set or the new
/// file complete, never a half-written `.snap`.
pub fn write_snapshot(
    dir: &Path,
    seq: u64,
    state_hash: [u8; 32],
    payload: &[u8],
) -> Result<PathBuf, JournalError> {
    fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, e))?;
    let path = dir.join(seq_file_name(seq, SNAPSHOT_SUFFIX));
    let tmp = dir.join(seq_file_name(seq, TEMP_SUFFIX));
    let header = encode_header(seq, &state_hash, payload);
    let io = |e| JournalError::io(&tmp, e);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(&header).map_err(io)?;
    file.write_all(payload).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io)?;
    fsync_dir(dir).map_err(|e| JournalError::io(dir, e))?;
    prune(dir)?;
    Ok(path)
}

/// Snapshot files in `dir`, newest (highest seq) first. A missing directory has none.
pub fn list_snapshots(dir: &Path) -> Result<Vec<SnapshotInfo>, JournalError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(JournalError::io(dir, e)),
    };
    let mut snapshots = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| JournalError::io(dir, e))?;
        let seq = entry
            .file_name()
            .to_str()
            .and_then(|name| parse_seq_file_name(name, SNAPSHOT_SUFFIX));
        if let Some(seq) = seq {
            snapshots.push(SnapshotInfo {
                seq,
                path: entry.path(),
            });
        }
    }
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.seq));
    Ok(snapshots)
}

/// Reads and validates one snapshot (magic, length, CRC, seq against the file name).
/// Damage is [`JournalError::Corrupt`] naming the file.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, JournalError> {
    let io = |e| JournalError::io(path, e);
    let corrupt =
        |offset: usize, reason: String| JournalError::corrupt(path, offset as u64, reason);
    let mut file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    if file_len < SNAPSHOT_HEADER_BYTES as u64 {
        return Err(corrupt(
            0,
            format!("snapshot file of {file_len} bytes is shorter than its header"),
        ));
    }
    file.read_exact(&mut header).map_err(io)?;
    if header.get(..SEQ_OFFSET) != Some(&SNAPSHOT_MAGIC[..]) {
        return Err(corrupt(
            0,
            "bad snapshot magic (BWSNAP01 expected)".to_owned(),
        ));
    }
    let seq = read_u64(&header, SEQ_OFFSET).unwrap_or(0);
    let payload_len = read_u64(&header, PAYLOAD_LEN_OFFSET).unwrap_or(0);
    let stored_crc = read_u32(&header, CRC_OFFSET).unwrap_or(0);
    let body_len = file_len - SNAPSHOT_HEADER_BYTES as u64;
    if payload_len != body_len {
        return Err(corrupt(
            PAYLOAD_LEN_OFFSET,
            format!("snapshot payload_len {payload_len} but {body_len} payload bytes in file"),
        ));
    }
    let expected_seq = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| parse_seq_file_name(n, SNAPSHOT_SUFFIX));
    if expected_seq.is_some_and(|s| s != seq) {
        return Err(corrupt(
            SEQ_OFFSET,
            format!("snapshot holds seq {seq} but its name says otherwise"),
        ));
    }
    let mut payload =
        vec![
            0u8;
            usize::try_from(payload_len)
                .map_err(|_| corrupt(PAYLOAD_LEN_OFFSET, "payload too large".to_owned()))?
        ];
    file.read_exact(&mut payload).map_err(io)?;
    let covered = header.get(..CRC_OFFSET).unwrap_or(&[]);
    let crc = crc32c::crc32c_append(crc32c::crc32c(covered), &payload);
    if crc != stored_crc {
        return Err(corrupt(CRC_OFFSET, "snapshot CRC mismatch".to_owned()));
    }
    let mut state_hash = [0u8; 32];
    if let Some(hash) = header.get(HASH_OFFSET..PAYLOAD_LEN_OFFSET) {
        state_hash.copy_from_slice(hash);
    }
    Ok(Snapshot {
        seq,
        state_hash,
        payload,
    })
}

/// The newest valid snapshot with `seq <= max_seq` (normally the journal's last seq).
///
/// Damaged snapshots are skipped with a warning: the journal is the truth, so falling back to
/// an older snapshot (or none, i.e. replay from seq 1) is always correct, just slower. I/O
/// errors other than damage are returned.
pub fn latest_snapshot_at_or_below(
    dir: &Path,
    max_seq: u64,
) -> Result<Option<Snapshot>, JournalError> {
    for info in list_snapshots(dir)?
        .into_iter()
        .filter(|s| s.seq <= max_seq)
    {
        match read_snapshot(&info.path) {
            Ok(snapshot) => return Ok(Some(snapshot)),
            Err(err @ JournalError::Corrupt { .. }) => {
                tracing::warn!(error = %err, "skipping damaged snapshot");
            }
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

fn encode_header(seq: u64, state_hash: &[u8; 32], payload: &[u8]) -> [u8; SNAPSHOT_HEADER_BYTES] {
    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    let fields: [(usize, &[u8]); 4] = [
        (0, &SNAPSHOT_MAGIC),
        (SEQ_OFFSET, &seq.to_le_bytes()),
        (HASH_OFFSET, state_hash),
        (PAYLOAD_LEN_OFFSET, &(payload.len() as u64).to_le_bytes()),
    ];
    for (offset, bytes) in fields {
        if let Some(slot) = header.get_mut(offset..offset + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    }
    let covered = header.get(..CRC_OFFSET).unwrap_or(&[]);
    let crc = crc32c::crc32c_append(crc32c::crc32c(covered), payload);
    if let Some(slot) = header.get_mut(CRC_OFFSET..) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
    header
}

/// Keeps the newest [`SNAPSHOTS_KEPT`] snapshots and removes stale temp files.
fn prune(dir: &Path) -> Result<(), JournalError> {
    let mut removed = false;
    for info in list_snapshots(dir)?.into_iter().skip(SNAPSHOTS_KEPT) {
        fs::remove_file(&info.path).map_err(|e| JournalError::io(&info.path, e))?;
        removed = true;
    }
    for entry in fs::read_dir(dir).map_err(|e| JournalError::io(dir, e))? {
        let path = entry.map_err(|e| JournalError::io(dir, e))?.path();
        let is_temp = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(TEMP_SUFFIX));
        if is_temp {
            fs::remove_file(&path).map_err(|e| JournalError::io(&path, e))?;
            removed = true;
        }
    }
    if removed {
        fsync_dir(dir).map_err(|e| JournalError::io(dir, e))?;
    }
    Ok(())
}
