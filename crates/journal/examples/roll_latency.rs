//! What a segment roll-over costs a commit, with the spare segment made in the background and
//! without it, in the same run (not a test: no timing assertions).
//!
//! `cargo run --release -p bulwark-journal --example roll_latency -- [segments] [payload_bytes]`
//!
//! Workload: one record of `payload_bytes` (default 32 KiB) per commit, `fdatasync` on every
//! commit, 64 MiB segments, until `segments` (default 4) roll-overs have happened; the same
//! workload once per mode in a fresh directory. Prints a JSON line per mode with commit latency
//! percentiles overall and the worst commit that rolled over.

use std::time::Instant;

use bulwark_journal::{FsyncPolicy, Journal, JournalOptions};

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

fn run(spare: bool, rolls: u32, payload_bytes: usize) -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let options = JournalOptions {
        fsync: FsyncPolicy::Always,
        spare_segment: spare,
        ..JournalOptions::default()
    };
    let (mut journal, _) = Journal::open(tmp.path(), options)?;
    let payload = vec![0x5Au8; payload_bytes];
    let (mut all, mut at_roll) = (Vec::new(), Vec::new());
    let mut seq = 1;
    let mut created = 0;
    // The first commit creates the first segment (and the spare starts then): not counted.
    journal.append(seq, &payload)?;
    journal.commit()?;
    seq += 1;
    while created < rolls {
        journal.append(seq, &payload)?;
        let started = Instant::now();
        let stats = journal.commit()?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        all.push(ms);
        if stats.segments_created > 0 {
            at_roll.push(ms);
            created += stats.segments_created;
        }
        seq += 1;
    }
    all.sort_by(f64::total_cmp);
    at_roll.sort_by(f64::total_cmp);
    println!(
        "{{\"bench\":\"journal_roll\",\"spare_segment\":{spare},\"segment_bytes\":{},\"payload_bytes\":{payload_bytes},\"commits\":{},\"rolls\":{},\"commit_ms_p50\":{:.3},\"commit_ms_p99\":{:.3},\"commit_ms_max\":{:.3},\"roll_commit_ms_median\":{:.3},\"roll_commit_ms_max\":{:.3}}}",
        JournalOptions::default().segment_bytes,
        all.len(),
        at_roll.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(0.0),
        percentile(&at_roll, 0.5),
        at_roll.last().copied().unwrap_or(0.0),
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rolls = u32::try_from(arg(1, 4))?;
    let payload_bytes = usize::try_from(arg(2, 32 * 1024))?;
    // Interleaved, twice each, so both see the same disk conditions.
    for spare in [false, true, false, true] {
        run(spare, rolls, payload_bytes)?;
    }
    Ok(())
}
