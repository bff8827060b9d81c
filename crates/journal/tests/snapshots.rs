//! Snapshot files: round trip, pruning, damage skipped, snapshot + journal tail recovery.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bulwark_journal::{
    FsyncPolicy, Journal, JournalError, SNAPSHOTS_KEPT, latest_snapshot_at_or_below,
    list_snapshots, read_snapshot, write_snapshot,
};
use common::*;

fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

#[test]
fn write_read_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snapshots");
    let path = write_snapshot(&dir, 42, hash(7), b"engine state").unwrap();
    assert!(path.ends_with("00000000000000000042.snap"));
    let snapshot = read_snapshot(&path).unwrap();
    assert_eq!(snapshot.seq, 42);
    assert_eq!(snapshot.state_hash, hash(7));
    assert_eq!(snapshot.payload, b"engine state");
    let empty = write_snapshot(&dir, 43, hash(8), b"").unwrap();
    assert_eq!(read_snapshot(&empty).unwrap().payload, b"");
}

#[test]
fn list_is_newest_first_and_only_three_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(list_snapshots(&tmp.path().join("none")).unwrap(), vec![]);
    for seq in [5, 100, 20, 70, 3] {
        write_snapshot(tmp.path(), seq, hash(seq as u8), &[seq as u8; 10]).unwrap();
    }
    let seqs: Vec<u64> = list_snapshots(tmp.path())
        .unwrap()
        .iter()
        .map(|s| s.seq)
        .collect();
    assert_eq!(seqs.len(), SNAPSHOTS_KEPT);
    assert_eq!(seqs, vec![100, 70, 20]);
    let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
    assert_eq!(leftovers, SNAPSHOTS_KEPT, "no temp files left behind");
}

#[test]
fn corrupt_snapshot_is_reported_and_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    write_snapshot(tmp.path(), 10, hash(1), b"older").unwrap();
    let newest = write_snapshot(tmp.path(), 20, hash(2), b"newer").unwrap();
    modify(&newest, |b| {
        let last = b.len() - 1;
        b[last] ^= 0x01;
    });
    let err = read_snapshot(&newest).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { file, .. } if *file == newest),
        "{err:?}"
    );
    assert!(err.to_string().contains("00000000000000000020.snap"));
    let chosen = latest_snapshot_at_or_below(tmp.path(), 100)
        .unwrap()
        .unwrap();
    assert_eq!((chosen.seq, chosen.payload.as_slice()), (10, &b"older"[..]));
}

#[test]
fn truncated_or_foreign_snapshots_are_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_snapshot(tmp.path(), 9, hash(3), b"payload bytes").unwrap();
    modify(&path, |b| b.truncate(b.len() - 3));
    assert!(matches!(
        read_snapshot(&path),
        Err(JournalError::Corrupt { .. })
    ));
    let short = tmp.path().join("00000000000000000008.snap");
    std::fs::write(&short, b"BWSNAP01").unwrap();
    assert!(matches!(
        read_snapshot(&short),
        Err(JournalError::Corrupt { offset: 0, .. })
    ));
    let renamed = tmp.path().join("00000000000000000007.snap");
    let good = write_snapshot(tmp.path(), 6, hash(4), b"six").unwrap();
    std::fs::rename(&good, &renamed).unwrap();
    assert!(matches!(
        read_snapshot(&renamed),
        Err(JournalError::Corrupt { .. })
    ));
    assert_eq!(latest_snapshot_at_or_below(tmp.path(), 100).unwrap(), None);
}

#[test]
fn latest_respects_max_seq() {
    let tmp = tempfile::tempdir().unwrap();
    for seq in [10, 20, 30] {
        write_snapshot(tmp.path(), seq, hash(seq as u8), b"s").unwrap();
    }
    assert_eq!(
        latest_snapshot_at_or_below(tmp.path(), 25)
            .unwrap()
            .unwrap()
            .seq,
        20
    );
    assert_eq!(
        latest_snapshot_at_or_below(tmp.path(), 30)
            .unwrap()
            .unwrap()
            .seq,
        30
    );
    assert_eq!(latest_snapshot_at_or_below(tmp.path(), 9).unwrap(), None);
}

#[test]
fn snapshot_plus_tail_replay_reconstructs_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let journal_dir = tmp.path().join("journal");
    let snap_dir = tmp.path().join("snapshots");
    let (mut journal, _) = Journal::open(&journal_dir, small_options(FsyncPolicy::Always)).unwrap();
    append_range(&mut journal, 1, 60, 6);
    // "State" = the concatenation of payloads so far.
    let state_at_60: Vec<u8> = expected(1, 60).into_iter().flat_map(|(_, p)| p).collect();
    write_snapshot(&snap_dir, 60, hash(60), &state_at_60).unwrap();
    append_range(&mut journal, 61, 150, 11);
    drop(journal);

    let (journal, recovered) =
        Journal::open(&journal_dir, small_options(FsyncPolicy::Always)).unwrap();
    assert_eq!(recovered.last_seq, 150);
    let snapshot = latest_snapshot_at_or_below(&snap_dir, journal.last_seq())
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.seq, 60);
    let tail = collect(&journal_dir, snapshot.seq + 1).unwrap();
    assert_eq!(tail, expected(61, 150));
    let mut state = snapshot.payload;
    tail.into_iter().for_each(|(_, p)| state.extend(p));
    let full: Vec<u8> = expected(1, 150).into_iter().flat_map(|(_, p)| p).collect();
    assert_eq!(state, full);
}
