//! Torn tails are truncated; every other kind of damage stops with an error naming the file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;

use bulwark_journal::{FsyncPolicy, Journal, JournalError, verify};
use common::*;

/// Writes seqs 1..=n and returns the last segment and the offset of its last record.
fn journal_with(dir: &Path, n: u64) -> (std::path::PathBuf, usize) {
    let (mut journal, _) = Journal::open(dir, small_options(FsyncPolicy::Always)).unwrap();
    append_range(&mut journal, 1, n, 4);
    let last = segment_files(dir).pop().unwrap();
    let offset = *record_offsets(&last).last().unwrap();
    (last, offset)
}

fn assert_torn_then_continue(dir: &Path, last: &Path, offset: usize, n: u64) {
    let before = std::fs::read(last).unwrap();
    let report = verify(dir).unwrap();
    let torn = report.torn_tail.expect("verify must report the torn tail");
    assert_eq!((torn.file.as_path(), torn.offset), (last, offset as u64));
    assert_eq!(report.last_seq, n - 1);
    assert_eq!(
        std::fs::read(last).unwrap(),
        before,
        "verify must not modify"
    );
    assert_eq!(collect(dir, 1).unwrap(), expected(1, n - 1));

    let (mut journal, recovered) = Journal::open(dir, small_options(FsyncPolicy::Always)).unwrap();
    let truncated = recovered
        .truncated
        .expect("open must report the truncation");
    assert_eq!(
        (truncated.file.as_path(), truncated.offset),
        (last, offset as u64)
    );
    assert_eq!(recovered.last_seq, n - 1);
    let after = std::fs::read(last).unwrap();
    assert!(after[offset..].iter().all(|b| *b == 0), "torn bytes zeroed");
    assert_eq!(verify(dir).unwrap().torn_tail, None);

    journal.append(n, &payload_for(n)).unwrap();
    journal.append(n + 1, &payload_for(n + 1)).unwrap();
    journal.commit().unwrap();
    drop(journal);
    assert_eq!(collect(dir, 1).unwrap(), expected(1, n + 1));
    let (_, recovered) = Journal::open(dir, small_options(FsyncPolicy::Always)).unwrap();
    assert_eq!((recovered.last_seq, recovered.truncated), (n + 1, None));
}

#[test]
fn torn_tail_half_written_record_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 41;
    let (last, offset) = journal_with(tmp.path(), n);
    let len = payload_for(n).len();
    // Keep the header and half the payload; the rest stays zero as if never written.
    modify(&last, |b| {
        b[offset + 16 + len / 2..offset + 16 + len].fill(0)
    });
    assert_torn_then_continue(tmp.path(), &last, offset, n);
}

#[test]
fn torn_tail_garbled_crc_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 37;
    let (last, offset) = journal_with(tmp.path(), n);
    modify(&last, |b| b[offset + 4] ^= 0xFF);
    assert_torn_then_continue(tmp.path(), &last, offset, n);
}

#[test]
fn torn_tail_file_cut_mid_record_is_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 23;
    let (last, offset) = journal_with(tmp.path(), n);
    let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
    file.set_len((offset + 20) as u64).unwrap();
    drop(file);
    assert_torn_then_continue(tmp.path(), &last, offset, n);
}

/// Seq 13's payload is 2 bytes, so its whole record is a short loop of cases.
const SHORT_LAST: u64 = 13;

fn last_record_len(last: &Path, offset: usize) -> usize {
    let bytes = std::fs::read(last).unwrap();
    16 + u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize
}

#[test]
fn the_last_record_torn_at_every_byte_is_truncated_to_the_record_before() {
    let len = {
        let tmp = tempfile::tempdir().unwrap();
        let (last, offset) = journal_with(tmp.path(), SHORT_LAST);
        last_record_len(&last, offset)
    };
    for kept in 1..len {
        // The file cut after `kept` bytes of the record (a write the system never finished) ...
        let tmp = tempfile::tempdir().unwrap();
        let (last, offset) = journal_with(tmp.path(), SHORT_LAST);
        let file = std::fs::OpenOptions::new().write(true).open(&last).unwrap();
        file.set_len((offset + kept) as u64).unwrap();
        drop(file);
        assert_torn_then_continue(tmp.path(), &last, offset, SHORT_LAST);
        // ... or the rest of the record still the preallocated zeros.
        let tmp = tempfile::tempdir().unwrap();
        let (last, offset) = journal_with(tmp.path(), SHORT_LAST);
        modify(&last, |b| b[offset + kept..offset + len].fill(0));
        assert_torn_then_continue(tmp.path(), &last, offset, SHORT_LAST);
    }
}

#[test]
fn every_bit_flip_in_the_last_record_is_detected() {
    let (mut truncated, mut refused) = (0, 0);
    let len = {
        let tmp = tempfile::tempdir().unwrap();
        let (last, offset) = journal_with(tmp.path(), SHORT_LAST);
        last_record_len(&last, offset)
    };
    for bit in 0..len * 8 {
        let tmp = tempfile::tempdir().unwrap();
        let (last, offset) = journal_with(tmp.path(), SHORT_LAST);
        modify(&last, |b| b[offset + bit / 8] ^= 1 << (bit % 8));
        match verify(tmp.path()) {
            // Detected as a torn tail: truncated to the record before, then the journal goes on.
            Ok(report) if report.torn_tail.is_some() => {
                assert_torn_then_continue(tmp.path(), &last, offset, SHORT_LAST);
                truncated += 1;
            }
            // A length flipped to zero leaves bytes after the end: refused, naming the file.
            Err(JournalError::Corrupt { file, .. }) => {
                assert_eq!(file, last, "bit {bit}");
                assert!(matches!(
                    Journal::open(tmp.path(), small_options(FsyncPolicy::Always)),
                    Err(JournalError::Corrupt { .. })
                ));
                refused += 1;
            }
            other => panic!("bit {bit} of the last record flipped went unnoticed: {other:?}"),
        }
    }
    assert_eq!(truncated + refused, len * 8);
    assert!(
        truncated > refused,
        "{truncated} truncated, {refused} refused"
    );
}

#[test]
fn bit_flip_in_a_middle_segment_is_corrupt_with_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 200);
    let first = segment_files(tmp.path())[0].clone();
    let victim = record_offsets(&first)[2];
    modify(&first, |b| b[victim + 17] ^= 0x04);
    let err = Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap_err();
    let JournalError::Corrupt { file, offset, .. } = &err else {
        panic!("expected Corrupt, got {err:?}");
    };
    assert_eq!((file.as_path(), *offset), (first.as_path(), victim as u64));
    let shown = err.to_string();
    assert!(shown.contains("00000000000000000001.seg"), "{shown}");
    assert!(shown.contains(&format!("offset {victim}")), "{shown}");
    assert!(matches!(
        verify(tmp.path()),
        Err(JournalError::Corrupt { .. })
    ));
    assert!(matches!(
        collect(tmp.path(), 1),
        Err(JournalError::Corrupt { .. })
    ));
}

#[test]
fn bit_flip_in_last_segment_with_valid_data_after_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let (last, _) = journal_with(tmp.path(), 43);
    let offsets = record_offsets(&last);
    assert!(offsets.len() >= 2, "need two records in the last segment");
    let victim = offsets[offsets.len() - 2];
    modify(&last, |b| b[victim + 8] ^= 0x01); // seq byte, covered by the CRC
    let err = Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { file, offset, .. } if *file == last && *offset == victim as u64),
        "{err:?}"
    );
}

#[test]
fn corrupted_length_pointing_into_zeros_is_still_corrupt() {
    // A bit flip that makes a middle record's length reach past the written data: the bytes
    // after its claimed end are zero, but valid records hide inside, so it is no torn tail.
    let tmp = tempfile::tempdir().unwrap();
    let (last, _) = journal_with(tmp.path(), 43);
    let offsets = record_offsets(&last);
    let victim = offsets[offsets.len() - 2];
    modify(&last, |b| {
        b[victim..victim + 4].copy_from_slice(&900u32.to_le_bytes())
    });
    let err = Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap_err();
    let JournalError::Corrupt { offset, reason, .. } = &err else {
        panic!("expected Corrupt, got {err:?}");
    };
    assert_eq!(*offset, victim as u64);
    assert!(reason.contains("valid record"), "{reason}");
}

#[test]
fn non_zero_garbage_after_the_end_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let (last, offset) = journal_with(tmp.path(), 30);
    let end = offset + 16 + payload_for(30).len();
    modify(&last, |b| b[end + 40] = 0x5A);
    let err = Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { offset, .. } if *offset == end as u64),
        "{err:?}"
    );
}

#[test]
fn missing_middle_segment_is_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 200);
    let segments = segment_files(tmp.path());
    assert!(segments.len() >= 4);
    std::fs::remove_file(&segments[1]).unwrap();
    let err = Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap_err();
    let first_of_removed: u64 = segments[1]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    match &err {
        JournalError::Gap {
            file, expected_seq, ..
        } => {
            assert_eq!(file, &segments[2]);
            assert_eq!(*expected_seq, first_of_removed);
        }
        other => panic!("expected Gap, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("expected seq {first_of_removed}"))
    );
    assert!(matches!(verify(tmp.path()), Err(JournalError::Gap { .. })));
    assert!(matches!(
        collect(tmp.path(), 1),
        Err(JournalError::Gap { .. })
    ));
}

#[test]
fn missing_first_segment_is_a_gap_for_replay_from_one() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 100);
    let segments = segment_files(tmp.path());
    std::fs::remove_file(&segments[0]).unwrap();
    assert!(matches!(
        collect(tmp.path(), 1),
        Err(JournalError::Gap {
            expected_seq: 1,
            ..
        })
    ));
}

#[test]
fn bad_segment_magic_is_corrupt_at_offset_zero() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 100);
    let second = segment_files(tmp.path())[1].clone();
    modify(&second, |b| b[0] = b'X');
    let err = Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { file, offset: 0, .. } if *file == second),
        "{err:?}"
    );
}

#[test]
fn segment_header_seq_must_match_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 100);
    let last = segment_files(tmp.path()).pop().unwrap();
    modify(&last, |b| b[8] ^= 0x10);
    let err = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, JournalError::Corrupt { file, offset: 8, .. } if *file == last),
        "{err:?}"
    );
}

#[test]
fn malformed_segment_name_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 10);
    std::fs::write(tmp.path().join("12.seg"), b"junk").unwrap();
    assert!(matches!(
        Journal::open(tmp.path(), small_options(FsyncPolicy::Always)),
        Err(JournalError::Corrupt { .. })
    ));
}

#[test]
fn half_created_segment_is_removed_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 10);
    std::fs::write(tmp.path().join("00000000000000000011.seg.tmp"), [0u8; 100]).unwrap();
    let (mut journal, recovered) =
        Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap();
    assert_eq!((recovered.temp_files_removed, recovered.last_seq), (1, 10));
    append_range(&mut journal, 11, 60, 10);
    assert_eq!(collect(tmp.path(), 1).unwrap(), expected(1, 60));
}

#[test]
fn empty_last_segment_from_an_interrupted_roll_is_reused() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 12);
    // A roll that crashed after the rename but before any record reached the disk.
    let mut segment = vec![0u8; SMALL_SEGMENT_BYTES as usize];
    segment[..8].copy_from_slice(b"BWJRNL01");
    segment[8..16].copy_from_slice(&13u64.to_le_bytes());
    let empty = tmp.path().join("00000000000000000013.seg");
    std::fs::write(&empty, &segment).unwrap();
    let (mut journal, recovered) =
        Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap();
    assert_eq!((recovered.last_seq, journal.next_seq()), (12, 13));
    append_range(&mut journal, 13, 14, 2);
    assert_eq!(record_offsets(&empty).len(), 2);
    assert_eq!(collect(tmp.path(), 1).unwrap(), expected(1, 14));
}

#[test]
fn empty_segment_in_the_middle_is_a_gap() {
    let tmp = tempfile::tempdir().unwrap();
    journal_with(tmp.path(), 100);
    let segments = segment_files(tmp.path());
    let second = segments[1].clone();
    modify(&second, |b| b[16..].fill(0));
    let err = verify(tmp.path()).unwrap_err();
    assert!(
        matches!(&err, JournalError::Gap { file, .. } if *file == segments[2]),
        "{err:?}"
    );
}

fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".seg.tmp"))
        .collect()
}

#[test]
fn rolls_use_the_spare_segment_and_a_crash_leaves_only_what_open_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap();
    append_range(&mut journal, 1, 200, 4);
    assert!(
        segment_files(tmp.path()).len() >= 4,
        "several rolls happened"
    );
    assert_eq!(collect(tmp.path(), 1).unwrap(), expected(1, 200));
    // A spare for the next roll is ready (or being made) under a temporary name.
    assert_eq!(temp_files(tmp.path()).len(), 1);

    // A crash now: the directory as it is, spare included, opened elsewhere.
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != "LOCK") {
            std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let (mut reopened, recovered) =
        Journal::open(copy.path(), small_options(FsyncPolicy::Always)).unwrap();
    assert_eq!(recovered.last_seq, 200);
    assert!(recovered.temp_files_removed >= 1);
    append_range(&mut reopened, 201, 300, 4);
    drop(reopened);
    assert_eq!(collect(copy.path(), 1).unwrap(), expected(1, 300));

    // A journal closed normally takes its spare with it.
    drop(journal);
    assert!(temp_files(tmp.path()).is_empty());
    assert!(temp_files(copy.path()).is_empty());
}
