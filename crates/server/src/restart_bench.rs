//! RESTART: how long the exchange is away after a crash, end to end. The data directory holds
//! RECOVERY's journal (a snapshot, then N commands after it) and read models that have caught
//! up with all of it; the real `bulwark serve` binary is started over it and timed from the
//! spawn until its public API answers, then killed with SIGKILL, as many times as `--runs`.
//!
//! Setup (untimed, but reported): the journal is written as RECOVERY writes it, then the
//! exchange is started once in this process, which replays the journal and projects every event
//! into the SQL read models, exactly as after a crash that lost the read models. Its clean stop
//! writes a final snapshot only if a command was applied after the start (none is, today); any
//! snapshot after the first one is removed, so that every timed start replays the whole tail.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bulwark_bench::pipeline_bench::{RECOVERY_WORKLOAD, RecoveryJournal, write_recovery_journal};
use serde_json::json;

use crate::child::free_port;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::serve;

/// How long one start may take before the run gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(600);
/// Pause between two readiness probes: small against the figure measured.
const PROBE_INTERVAL: Duration = Duration::from_millis(5);
/// What a started exchange answers once it serves; answered from the engine's catalog.
const READY_PATH: &str = "/spot/v1/symbols/details";

/// Runs RESTART over a fresh data directory `dir` (removed by the caller).
pub fn run(dir: &Path, commands: u32, runs: usize) -> anyhow::Result<()> {
    let data = DataDir::open(dir)?;
    let written = Instant::now();
    let journal = write_recovery_journal(commands, &data.journal(), &data.snapshots())?;
    let write_s = written.elapsed().as_secs_f64();
    let projected = Instant::now();
    crate::http_bench::block_on(project_everything(dir))?;
    let project_s = projected.elapsed().as_secs_f64();
    let removed = remove_snapshots_after(&data, journal.snapshot_seq)?;
    let mut seconds = Vec::new();
    for run in 0..runs.max(1) {
        let started = crate::http_bench::block_on(start_and_kill(dir, &journal, run))?;
        seconds.push(started);
        // Nothing new is journaled at start, so no later snapshot should appear; if one did, the
        // next start would replay less than it claims to.
        if remove_snapshots_after(&data, journal.snapshot_seq)? > 0 {
            bail!("the exchange wrote a snapshot while starting; the next run would replay less");
        }
    }
    let (best, median) = bulwark_bench::stats::fastest_and_median(&mut seconds);
    let tail = journal.tail;
    let line = json!({"benchmark": "restart", "workload": RECOVERY_WORKLOAD,
                      "snapshot_seq": journal.snapshot_seq, "replayed": tail, "runs": seconds.len(),
                      "best_s": best, "median_s": median, "all_s": seconds,
                      "setup_journal_s": write_s, "setup_projection_s": project_s,
                      "projection_commands_per_s": (journal.snapshot_seq + tail) as f64 / project_s,
                      "final_snapshots_removed": removed});
    println!("{line}");
    println!(
        "| RESTART | {tail} commands after the snapshot at seq {}, read models caught up | process start → serving: best {best:.2} s, median {median:.2} s | read models rebuilt from the whole journal in {project_s:.1} s |",
        journal.snapshot_seq
    );
    Ok(())
}

/// Starts the exchange in this process over the data directory and stops it: its start-up
/// replays the journal and projects every event into the read models, as after a crash.
async fn project_everything(dir: &Path) -> anyhow::Result<()> {
    let config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    let running = serve::start(&config).await?;
    running.stop().await
}

/// Removes the snapshots taken after `seq` (start-up prefers the newest); answers how many.
fn remove_snapshots_after(data: &DataDir, seq: u64) -> anyhow::Result<usize> {
    let mut removed = 0;
    for info in bulwark_journal::list_snapshots(&data.snapshots())? {
        if info.seq > seq {
            std::fs::remove_file(&info.path)
                .with_context(|| format!("removing {}", info.path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// One timed start of the real binary: seconds from the spawn until the public API answers.
/// The server's log must say it replayed the whole tail, or the figure would not mean it.
async fn start_and_kill(dir: &Path, journal: &RecoveryJournal, run: usize) -> anyhow::Result<f64> {
    let log_path = dir.join(format!("restart-{run}.log"));
    let log = std::fs::File::create(&log_path)?;
    let http_addr = format!("127.0.0.1:{}", free_port()?);
    let admin_addr = format!("127.0.0.1:{}", free_port()?);
    let mut command = crate::child::serve_command(dir, &http_addr, &admin_addr)?;
    command
        .env("BULWARK_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let url = format!("http://{http_addr}{READY_PATH}");
    let started = Instant::now();
    let mut child = KillOnDrop(command.spawn().context("starting bulwark serve")?);
    let elapsed = wait_ready(&mut child.0, &url, started).await?;
    drop(child);
    let text = std::fs::read_to_string(&log_path)?;
    let replayed = replayed_in_log(&text)
        .with_context(|| format!("no \"engine recovered\" line in {}", log_path.display()))?;
    if replayed < journal.tail {
        bail!(
            "the exchange replayed {replayed} commands, not the {} after the snapshot",
            journal.tail
        );
    }
    Ok(elapsed)
}

/// Polls the public API until it answers 200; the seconds since `started`.
async fn wait_ready(child: &mut Child, url: &str, started: Instant) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()?;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("the exchange exited while starting ({status})");
        }
        if let Ok(answer) = client.get(url).send().await
            && answer.status().is_success()
        {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > READY_TIMEOUT {
            bail!("the exchange did not serve within {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// The `replayed` field of the server's "engine recovered" line in its JSON log.
fn replayed_in_log(log: &str) -> Option<u64> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|entry| entry.get("fields").cloned())
        .find(|fields| fields.get("message").and_then(|m| m.as_str()) == Some("engine recovered"))?
        .get("replayed")?
        .as_u64()
}

/// The child process, killed with SIGKILL (a crash, no final snapshot) when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::replayed_in_log;

    #[test]
    fn reads_the_replayed_count_of_the_recovery_line() {
        let log = concat!(
            "{\"level\":\"INFO\",\"fields\":{\"message\":\"opening\"}}\n",
            "not json\n",
            "{\"timestamp\":\"2026-12-07T16:00:00Z\",\"level\":\"INFO\",\"fields\":",
            "{\"message\":\"engine recovered\",\"snapshot_seq\":12003,\"replayed\":10000000}}\n",
        );
        assert_eq!(replayed_in_log(log), Some(10_000_000));
        assert_eq!(
            replayed_in_log("{\"fields\":{\"message\":\"other\"}}\n"),
            None
        );
    }
}
