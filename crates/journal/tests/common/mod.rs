//! Shared helpers for the journal integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::path::{Path, PathBuf};

use bulwark_journal::{FsyncPolicy, Journal, JournalError, JournalOptions, replay};

pub const SMALL_SEGMENT_BYTES: u64 = 1024;

pub fn small_options(fsync: FsyncPolicy) -> JournalOptions {
    JournalOptions {
        segment_bytes: SMALL_SEGMENT_BYTES,
        fsync,
        ..JournalOptions::default()
    }
}

/// Deterministic payload for a seq: varying length 1..=120, content derived from the seq.
pub fn payload_for(seq: u64) -> Vec<u8> {
    let len = 1 + (seq.wrapping_mul(37) % 120) as usize;
    (0..len)
        .map(|i| (seq as u8).wrapping_mul(31).wrapping_add(i as u8) | 1)
        .collect()
}

/// Appends seqs `from..=to` in batches of `batch` and commits each batch.
pub fn append_range(journal: &mut Journal, from: u64, to: u64, batch: u64) {
    let mut seq = from;
    while seq <= to {
        let end = (seq + batch - 1).min(to);
        for s in seq..=end {
            journal.append(s, &payload_for(s)).unwrap();
        }
        journal.commit().unwrap();
        seq = end + 1;
    }
}

pub fn collect(dir: &Path, from_seq: u64) -> Result<Vec<(u64, Vec<u8>)>, JournalError> {
    let mut out = Vec::new();
    replay(dir, from_seq, |seq, payload| {
        out.push((seq, payload.to_vec()));
        Ok::<(), JournalError>(())
    })?;
    Ok(out)
}

pub fn expected(from: u64, to: u64) -> Vec<(u64, Vec<u8>)> {
    (from..=to).map(|s| (s, payload_for(s))).collect()
}

pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

/// Offsets of every record in a segment file (walking the framing, trusting it).
pub fn record_offsets(path: &Path) -> Vec<usize> {
    let bytes = std::fs::read(path).unwrap();
    let mut offsets = Vec::new();
    let mut offset = 16;
    while offset + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        offsets.push(offset);
        offset += 16 + len;
    }
    offsets
}

pub fn modify(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}
