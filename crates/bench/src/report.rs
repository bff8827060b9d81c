//! One benchmark result: the JSON line every run prints and the Markdown row for
//! `docs/BENCHMARKS.md`.

use serde::Serialize;

use crate::harness::Measurement;
use crate::stats::{LatencyReport, Percentiles};
use crate::workload::Reference;

/// Whether an engine's totals equal the reference model's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FingerprintStatus {
    Match,
    Mismatch,
}

/// Expected and observed totals; `observed` is the first pass that differed, or the first pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FingerprintCheck {
    pub status: FingerprintStatus,
    pub expected_filled_lots: u64,
    pub observed_filled_lots: u64,
    pub expected_cancels: u64,
    pub observed_cancels: u64,
    /// Passes checked (throughput runs plus the latency pass).
    pub passes: usize,
    /// Set when the subject's own end-of-run check failed (e.g. engine invariants).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_check_error: Option<String>,
}

impl FingerprintCheck {
    pub fn new(reference: &Reference, measurement: &Measurement) -> Self {
        let expected = (reference.filled_qty_lots, reference.cancels);
        let differing = measurement
            .tallies
            .iter()
            .find(|t| (t.filled_lots, t.cancels_ok) != expected);
        let shown = differing
            .or(measurement.tallies.first())
            .copied()
            .unwrap_or_default();
        let ok = differing.is_none()
            && !measurement.tallies.is_empty()
            && measurement.end_check_error.is_none();
        FingerprintCheck {
            status: if ok {
                FingerprintStatus::Match
            } else {
                FingerprintStatus::Mismatch
            },
            expected_filled_lots: reference.filled_qty_lots,
            observed_filled_lots: shown.filled_lots,
            expected_cancels: reference.cancels,
            observed_cancels: shown.cancels_ok,
            passes: measurement.tallies.len(),
            end_check_error: measurement.end_check_error.clone(),
        }
    }
}

/// Everything §6 of the benchmark reference asks to report for one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchResult {
    /// Benchmark name as given to `run` ("book", "engine", ...).
    pub benchmark: String,
    /// "BOOK-A", "BOOK-B", ...
    pub workload: String,
    /// The subject measured ("bulwark-book", "matchcore-0.4", "bulwark-engine").
    pub engine: String,
    /// Measured ops per run (the prefill is not counted).
    pub ops: u64,
    pub best_mops: f64,
    pub median_mops: f64,
    pub runs_mops: Vec<f64>,
    /// Median cost of one `Instant` pair; included in every latency figure.
    pub timer_overhead_ns: u64,
    pub latency: Option<LatencyReport>,
    pub fingerprint: FingerprintCheck,
    /// Best-of-runs throughput of this engine divided by matchcore's, runs interleaved in the
    /// same process.
    pub ratio_vs_matchcore: Option<f64>,
    /// The same ratio of the medians.
    pub median_ratio_vs_matchcore: Option<f64>,
    /// Mean resting orders after each measured op (reference model; BOOK-A ~11,279).
    pub mean_resting_orders: f64,
    /// Mean non-empty price levels, both sides, after each measured op (reference model). Not
    /// the "levels in use" of the benchmark reference, whose definition is not given.
    pub mean_occupied_levels: f64,
    pub build: BuildInfo,
}

/// How the figures were produced, so a debug build or an unpinned run is visible in the output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BuildInfo {
    pub debug_assertions: bool,
    /// `Cpus_allowed_list` of this process (e.g. "1" under `taskset -c 1`), if readable.
    pub cpus_allowed: Option<String>,
}

impl BuildInfo {
    pub fn current() -> Self {
        let cpus_allowed = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
                    .map(|v| v.trim().to_owned())
            });
        BuildInfo {
            debug_assertions: cfg!(debug_assertions),
            cpus_allowed,
        }
    }
}

/// Header matching `BenchResult::markdown_row`.
pub const MARKDOWN_HEADER: &str = "| Benchmark | Workload | Engine | Ops | Best M ops/s | Median M ops/s | p50 / p90 / p99 / p99.9 / p99.99 / max (ns) | Fingerprint | vs matchcore |\n|---|---|---|---|---|---|---|---|---|";

impl BenchResult {
    /// The one JSON line a run prints.
    pub fn json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Records this result's throughput ratios against `baseline` (matchcore's result).
    pub fn set_ratio_vs(&mut self, baseline: &BenchResult) {
        let ratio = |ours: f64, theirs: f64| (theirs > 0.0).then(|| ours / theirs);
        self.ratio_vs_matchcore = ratio(self.best_mops, baseline.best_mops);
        self.median_ratio_vs_matchcore = ratio(self.median_mops, baseline.median_mops);
    }

    /// A row of the table under `MARKDOWN_HEADER`.
    pub fn markdown_row(&self) -> String {
        let latency = self
            .latency
            .as_ref()
            .map_or_else(|| "—".to_owned(), |l| format_percentiles(&l.overall));
        let status = match self.fingerprint.status {
            FingerprintStatus::Match => "MATCH",
            FingerprintStatus::Mismatch => "MISMATCH",
        };
        let ratio = self
            .ratio_vs_matchcore
            .map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"));
        format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {} | {} | {} |",
            self.benchmark,
            self.workload,
            self.engine,
            self.ops,
            self.best_mops,
            self.median_mops,
            latency,
            status,
            ratio
        )
    }
}

fn format_percentiles(p: &Percentiles) -> String {
    format!(
        "{} / {} / {} / {} / {} / {}",
        p.p50_ns, p.p90_ns, p.p99_ns, p.p99_9_ns, p.p99_99_ns, p.max_ns
    )
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]

    use super::*;
    use crate::harness::Tally;

    fn reference() -> Reference {
        Reference {
            filled_qty_lots: 100,
            cancels: 7,
            ..Reference::default()
        }
    }

    fn measurement(tallies: Vec<Tally>) -> Measurement {
        Measurement {
            tallies,
            ..Measurement::default()
        }
    }

    #[test]
    fn all_passes_equal_to_the_reference_match() {
        let t = Tally {
            filled_lots: 100,
            cancels_ok: 7,
        };
        let check = FingerprintCheck::new(&reference(), &measurement(vec![t, t]));
        assert_eq!(check.status, FingerprintStatus::Match);
        assert_eq!(check.passes, 2);
    }

    #[test]
    fn one_differing_pass_is_a_mismatch_and_is_shown() {
        let good = Tally {
            filled_lots: 100,
            cancels_ok: 7,
        };
        let bad = Tally {
            filled_lots: 99,
            cancels_ok: 7,
        };
        let check = FingerprintCheck::new(&reference(), &measurement(vec![good, bad]));
        assert_eq!(check.status, FingerprintStatus::Mismatch);
        assert_eq!(check.observed_filled_lots, 99);
    }

    #[test]
    fn no_pass_or_failed_end_check_is_a_mismatch() {
        let check = FingerprintCheck::new(&reference(), &measurement(vec![]));
        assert_eq!(check.status, FingerprintStatus::Mismatch);
        let t = Tally {
            filled_lots: 100,
            cancels_ok: 7,
        };
        let mut m = measurement(vec![t]);
        m.end_check_error = Some("ledger".into());
        let check = FingerprintCheck::new(&reference(), &m);
        assert_eq!(check.status, FingerprintStatus::Mismatch);
    }
}
