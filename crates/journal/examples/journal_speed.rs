//! Rough append/commit and replay throughput check (not a test: no timing assertions).
//!
//! `cargo run --release -p bulwark-journal --example journal_speed -- [records] [payload_bytes]
//! [batch] [always|never]`; writes into a temp dir that is removed afterwards.

use std::time::Instant;

use bulwark_journal::{FsyncPolicy, Journal, JournalError, JournalOptions, replay, verify};

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records = arg(1, 10_000_000);
    let payload_bytes = usize::try_from(arg(2, 48))?;
    let batch = arg(3, 1024);
    let fsync = match std::env::args().nth(4).as_deref() {
        Some("always") => FsyncPolicy::Always,
        _ => FsyncPolicy::Never,
    };
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("journal");
    let options = JournalOptions {
        fsync,
        ..JournalOptions::default()
    };
    let (mut journal, _) = Journal::open(&dir, options)?;
    let payload = vec![0xABu8; payload_bytes];
    let start = Instant::now();
    let mut seq = 1;
    let mut commit_secs = 0.0;
    let mut created = 0;
    while seq <= records {
        let end = (seq + batch - 1).min(records);
        for s in seq..=end {
            journal.append(s, &payload)?;
        }
        let commit_start = Instant::now();
        created += journal.commit()?.segments_created;
        commit_secs += commit_start.elapsed().as_secs_f64();
        seq = end + 1;
    }
    report("append+commit", records, start);
    println!(
        "{:>18}: {commit_secs:.3} s in commit, {created} segments created",
        ""
    );
    drop(journal);

    let start = Instant::now();
    let mut checksum = 0u64;
    let stats = replay(&dir, 1, |seq, p| {
        checksum = checksum.wrapping_add(seq ^ p.len() as u64);
        Ok::<(), JournalError>(())
    })?;
    report("replay", stats.records, start);
    let start = Instant::now();
    let verified = verify(&dir)?;
    report("verify", verified.records, start);
    let start = Instant::now();
    let (_, recovered) = Journal::open(&dir, JournalOptions::default())?;
    report("open (full scan)", recovered.records, start);
    println!("checksum {checksum}, segments {}", verified.segments);
    Ok(())
}

fn report(what: &str, records: u64, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what:>18}: {records} records in {secs:.3} s = {:.2} M records/s",
        records as f64 / secs / 1e6
    );
}
