//! `bulwark journal verify`: a read-only audit of a data directory. It checks the framing and
//! sequence continuity of every segment, replays the whole journal from the start through a fresh
//! engine, compares the state hash with every snapshot on the way, and prints the final state
//! hash and the ledger totals per asset. Any problem exits non-zero.

use std::path::Path;

use anyhow::{Context, bail};
use bulwark_engine::{Engine, codec};
use serde_json::json;

pub fn run(data_dir: &Path, as_json: bool) -> anyhow::Result<()> {
    let journal_dir = data_dir.join("journal");
    let snapshot_dir = data_dir.join("snapshots");
    let report = bulwark_journal::verify(&journal_dir)
        .with_context(|| format!("verifying {}", journal_dir.display()))?;
    let mut snapshots = Vec::new();
    for info in bulwark_journal::list_snapshots(&snapshot_dir)? {
        let snapshot = bulwark_journal::read_snapshot(&info.path)?;
        snapshots.push((snapshot.seq, snapshot.state_hash));
    }
    snapshots.sort_unstable();
    let mut engine = Engine::new();
    let mut events = Vec::new();
    let mut checked = 0_u32;
    let mut failure: Option<anyhow::Error> = None;
    bulwark_journal::replay(
        &journal_dir,
        1,
        |seq, payload| -> Result<(), bulwark_journal::JournalError> {
            if failure.is_some() {
                return Ok(());
            }
            match codec::decode_command(payload) {
                Ok((header, command)) if header.seq == seq => {
                    events.clear();
                    let _ = engine.apply(&header, &command, &mut events);
                    if let Some((_, hash)) = snapshots.iter().find(|(s, _)| *s == seq) {
                        if *hash != engine.state_hash() {
                            failure = Some(anyhow::anyhow!(
                                "state hash at seq {seq} differs from its snapshot"
                            ));
                        }
                        checked += 1;
                    }
                }
                Ok((header, _)) => {
                    failure = Some(anyhow::anyhow!(
                        "record {seq} carries header seq {}",
                        header.seq
                    ))
                }
                Err(error) => {
                    failure = Some(anyhow::anyhow!("record {seq} does not decode: {error}"))
                }
            }
            Ok(())
        },
    )?;
    if let Some(error) = failure {
        return Err(error);
    }
    if let Err(error) = engine.check_invariants() {
        bail!("ledger invariant broken after replay: {error}");
    }
    let totals: Vec<_> = engine
        .ledger_totals()
        .iter()
        .map(|t| {
            let code = engine
                .assets()
                .get(usize::from(t.asset.0))
                .map_or("?", |a| a.code.as_str())
                .to_owned();
            json!({"asset": code, "users_available": t.users_available, "users_held": t.users_held,
                   "fee_revenue": t.fee_revenue, "safeguard": t.safeguard, "external": t.external,
                   "adjustments": t.adjustments, "sum": t.sum})
        })
        .collect();
    if totals
        .iter()
        .any(|t| t.get("sum").and_then(serde_json::Value::as_i64) != Some(0))
    {
        bail!("ledger does not sum to zero: {totals:?}");
    }
    let torn = report.torn_tail.as_ref().map(
        |t| json!({"file": t.file.display().to_string(), "offset": t.offset, "reason": t.reason}),
    );
    let out = json!({"ok": true, "torn_tail": torn, "segments": report.segments, "records": report.records, "last_seq": engine.last_seq(),
                     "snapshots_checked": checked, "state_hash": hex::encode(engine.state_hash()), "ledger": totals});
    if as_json {
        println!("{out}");
    } else {
        println!(
            "journal OK: {} records in {} segments, last seq {}",
            report.records,
            report.segments,
            engine.last_seq()
        );
        println!("snapshots matching replay: {checked}");
        if let Some(t) = &report.torn_tail {
            println!(
                "torn last record (never acknowledged; truncated at next start): {} offset {}: {}",
                t.file.display(),
                t.offset,
                t.reason
            );
        }
        println!("state hash {}", hex::encode(engine.state_hash()));
        for t in &totals {
            println!("{t}");
        }
    }
    Ok(())
}
