//! A journal segment's bytes after a crash or a disk fault, as `verify` and `open` read them:
//! never a panic, only a verdict (records, a torn tail truncated, or an error naming the file).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    // A valid segment header in front most of the time, so the fuzzer reaches the records.
    let mut bytes = Vec::with_capacity(data.len() + 16);
    if data.first().is_some_and(|b| b & 1 == 0) {
        bytes.extend_from_slice(b"BWJRNL01");
        bytes.extend_from_slice(&1u64.to_le_bytes());
    }
    bytes.extend_from_slice(data);
    let path = dir.path().join(format!("{:020}.seg", 1));
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    let verdict = bulwark_journal::verify(dir.path());
    let options = bulwark_journal::JournalOptions {
        fsync: bulwark_journal::FsyncPolicy::Never,
        spare_segment: false,
        ..bulwark_journal::JournalOptions::default()
    };
    let opened = bulwark_journal::Journal::open(dir.path(), options);
    // What verify accepts, open accepts too (truncating a torn tail), and the other way round.
    assert_eq!(
        verdict.is_ok(),
        opened.is_ok(),
        "{verdict:?} / {:?}",
        opened.map(|(_, r)| r)
    );
});
