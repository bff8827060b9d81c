//! Property: whatever payload sizes and batch splits (and reopens) are used, replay returns
//! exactly what was committed, in order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bulwark_journal::{FsyncPolicy, Journal, verify};
use common::*;
use proptest::prelude::*;

/// One batch: payloads (size, fill byte), then whether to reopen the journal after commit.
fn batches() -> impl Strategy<Value = Vec<(Vec<(usize, u8)>, bool)>> {
    let record = (1usize..=992, any::<u8>());
    let batch = (prop::collection::vec(record, 1..12), any::<bool>());
    prop::collection::vec(batch, 1..15)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn replay_returns_exactly_what_was_appended(batches in batches(), from in 0u64..40) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (mut journal, _) = Journal::open(dir, small_options(FsyncPolicy::Never)).unwrap();
        let mut appended: Vec<(u64, Vec<u8>)> = Vec::new();
        for (records, reopen) in batches {
            for (size, fill) in records {
                let seq = journal.next_seq();
                let payload: Vec<u8> = (0..size).map(|i| fill.wrapping_add(i as u8)).collect();
                journal.append(seq, &payload).unwrap();
                appended.push((seq, payload));
            }
            journal.commit().unwrap();
            if reopen {
                drop(journal);
                let (reopened, recovered) =
                    Journal::open(dir, small_options(FsyncPolicy::Never)).unwrap();
                prop_assert_eq!(recovered.last_seq, appended.len() as u64);
                prop_assert_eq!(recovered.truncated, None);
                journal = reopened;
            }
        }
        prop_assert_eq!(collect(dir, 1).unwrap(), appended.clone());
        let from = from.min(appended.len() as u64 + 1);
        let tail: Vec<_> = appended.iter().filter(|(s, _)| *s >= from).cloned().collect();
        prop_assert_eq!(collect(dir, from).unwrap(), tail);
        let report = verify(dir).unwrap();
        prop_assert_eq!(report.records, appended.len() as u64);
        prop_assert_eq!(report.last_seq, appended.len() as u64);
    }
}
