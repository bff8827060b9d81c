//! Journal write / reopen / replay / recovery tests over small segments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bulwark_journal::{FsyncPolicy, Journal, JournalError, JournalOptions, verify};
use common::*;

#[test]
fn journal_can_move_to_the_sequencer_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Journal>();
}

#[test]
fn fsync_always_is_the_default() {
    assert_eq!(FsyncPolicy::default(), FsyncPolicy::Always);
    assert_eq!(JournalOptions::default().fsync, FsyncPolicy::Always);
    assert_eq!(JournalOptions::default().segment_bytes, 64 << 20);
}

#[test]
fn round_trip_across_several_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let (mut journal, recovered) = Journal::open(&dir, small_options(FsyncPolicy::Always)).unwrap();
    assert_eq!(recovered.last_seq, 0);
    assert_eq!(journal.next_seq(), 1);
    let mut syncs = 0;
    let mut written = 0;
    for batch_start in (1..=300).step_by(7) {
        let batch_end = (batch_start + 6).min(300);
        for seq in batch_start..=batch_end {
            journal.append(seq, &payload_for(seq)).unwrap();
        }
        let stats = journal.commit().unwrap();
        assert_eq!(stats.records, batch_end - batch_start + 1);
        assert_eq!(stats.data_syncs, stats.segments_written);
        syncs += stats.data_syncs;
        written += stats.segments_written;
    }
    assert_eq!(syncs, written);
    assert_eq!(journal.last_seq(), 300);
    let segments = segment_files(&dir);
    assert!(segments.len() > 5, "only {} segments", segments.len());
    assert!(segments[0].ends_with("00000000000000000001.seg"));
    for path in &segments {
        assert_eq!(std::fs::metadata(path).unwrap().len(), SMALL_SEGMENT_BYTES);
    }
    assert_eq!(collect(&dir, 1).unwrap(), expected(1, 300));
    assert_eq!(collect(&dir, 0).unwrap(), expected(1, 300));
    assert_eq!(collect(&dir, 157).unwrap(), expected(157, 300));
    assert_eq!(collect(&dir, 301).unwrap(), vec![]);
    let report = verify(&dir).unwrap();
    assert_eq!(report.segments, segments.len());
    assert_eq!(
        (report.records, report.first_seq, report.last_seq),
        (300, 1, 300)
    );
    assert_eq!(report.torn_tail, None);
}

#[test]
fn reopen_and_continue_appending() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (mut journal, _) = Journal::open(dir, small_options(FsyncPolicy::Always)).unwrap();
        append_range(&mut journal, 1, 50, 5);
        // Uncommitted appends are discarded when the writer goes away.
        journal.append(51, b"never committed").unwrap();
    }
    let (mut journal, recovered) = Journal::open(dir, small_options(FsyncPolicy::Always)).unwrap();
    assert_eq!(
        (recovered.first_seq, recovered.last_seq, recovered.records),
        (1, 50, 50)
    );
    assert_eq!(recovered.truncated, None);
    assert_eq!(journal.next_seq(), 51);
    append_range(&mut journal, 51, 120, 9);
    drop(journal);
    let (journal, recovered) = Journal::open(dir, small_options(FsyncPolicy::Never)).unwrap();
    assert_eq!(recovered.last_seq, 120);
    assert_eq!(journal.last_seq(), 120);
    assert_eq!(collect(dir, 1).unwrap(), expected(1, 120));
}

#[test]
fn a_batch_spanning_segments_syncs_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(tmp.path(), small_options(FsyncPolicy::Always)).unwrap();
    for seq in 1..=40 {
        journal.append(seq, &[seq as u8; 100]).unwrap();
    }
    let stats = journal.commit().unwrap();
    // 116-byte records, 8 per 1008-byte segment body: 5 segments.
    assert_eq!(stats.segments_created, 5);
    assert_eq!(stats.segments_written, 5);
    assert_eq!(stats.data_syncs, 5);
    assert_eq!(stats.bytes, 40 * 116);
    assert_eq!(journal.commit().unwrap(), Default::default());
}

#[test]
fn append_rejects_bad_input_without_side_effects() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(tmp.path(), small_options(FsyncPolicy::Never)).unwrap();
    let err = journal.append(2, b"x").unwrap_err();
    assert!(matches!(
        err,
        JournalError::SeqOutOfOrder {
            expected_seq: 1,
            got_seq: 2
        }
    ));
    assert!(matches!(
        journal.append(1, b""),
        Err(JournalError::EmptyPayload)
    ));
    let max = journal.max_payload_bytes();
    assert_eq!(max, 1024 - 32);
    assert!(matches!(
        journal.append(1, &vec![1u8; max + 1]),
        Err(JournalError::RecordTooLarge { .. })
    ));
    journal.append(1, &vec![1u8; max]).unwrap();
    journal.append(2, b"y").unwrap();
    journal.commit().unwrap();
    assert_eq!(collect(tmp.path(), 1).unwrap().len(), 2);
}

#[test]
fn default_options_cap_payload_at_one_mib() {
    let tmp = tempfile::tempdir().unwrap();
    let options = JournalOptions {
        fsync: FsyncPolicy::Never,
        ..JournalOptions::default()
    };
    let (journal, _) = Journal::open(tmp.path(), options).unwrap();
    assert_eq!(
        journal.max_payload_bytes(),
        bulwark_journal::RECORD_PAYLOAD_BYTES_MAX
    );
}

#[test]
fn invalid_segment_size_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let options = JournalOptions {
        segment_bytes: 100,
        fsync: FsyncPolicy::Never,
        ..JournalOptions::default()
    };
    assert!(matches!(
        Journal::open(tmp.path(), options),
        Err(JournalError::InvalidOptions(_))
    ));
}

#[test]
fn second_writer_is_locked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (_journal, _) = Journal::open(tmp.path(), small_options(FsyncPolicy::Never)).unwrap();
    assert!(matches!(
        Journal::open(tmp.path(), small_options(FsyncPolicy::Never)),
        Err(JournalError::Locked { .. })
    ));
}

#[test]
fn replay_past_the_end_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(tmp.path(), small_options(FsyncPolicy::Never)).unwrap();
    assert_eq!(collect(tmp.path(), 1).unwrap(), vec![]);
    assert!(matches!(
        collect(tmp.path(), 5),
        Err(JournalError::FromSeqBeyondEnd {
            from_seq: 5,
            last_seq: 0
        })
    ));
    append_range(&mut journal, 1, 10, 10);
    assert!(matches!(
        collect(tmp.path(), 12),
        Err(JournalError::FromSeqBeyondEnd {
            from_seq: 12,
            last_seq: 10
        })
    ));
}

#[test]
fn replay_callback_error_stops_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(tmp.path(), small_options(FsyncPolicy::Never)).unwrap();
    append_range(&mut journal, 1, 30, 30);
    #[derive(Debug)]
    enum AppError {
        Stop(u64),
        Journal(JournalError),
    }
    impl From<JournalError> for AppError {
        fn from(e: JournalError) -> Self {
            Self::Journal(e)
        }
    }
    let mut seen = 0;
    let result = bulwark_journal::replay(tmp.path(), 1, |seq, _| {
        seen += 1;
        if seq == 12 {
            return Err(AppError::Stop(seq));
        }
        Ok(())
    });
    assert!(matches!(result, Err(AppError::Stop(12))));
    assert_eq!(seen, 12);
    let journal_error = bulwark_journal::replay(tmp.path(), 99, |_, _| Ok::<(), AppError>(()));
    assert!(matches!(
        journal_error,
        Err(AppError::Journal(JournalError::FromSeqBeyondEnd { .. }))
    ));
}

#[test]
fn verify_of_a_missing_directory_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(
        verify(&tmp.path().join("nope")),
        Err(JournalError::Io { .. })
    ));
}
