//! Summaries of timings: throughput over repeated runs and latency percentiles.
//!
//! Percentiles use the nearest-rank rule on the full sorted sample (no histogram buckets), so
//! p99.99 of a million ops is an actual measured op, not an interpolation.

use serde::Serialize;
use std::time::{Duration, Instant};

use crate::workload::OpKind;

/// Latency percentiles in nanoseconds. Each includes the cost of one `Instant` pair
/// (reported separately as the timer overhead), because subtracting it would hide real 20 ns ops.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p99_9_ns: u64,
    pub p99_99_ns: u64,
    pub max_ns: u64,
}

impl Percentiles {
    /// Sorts `samples` in place and reads the percentiles off it.
    pub fn from_samples(samples: &mut [u64]) -> Self {
        samples.sort_unstable();
        Percentiles {
            count: samples.len() as u64,
            p50_ns: nearest_rank(samples, 50_000),
            p90_ns: nearest_rank(samples, 90_000),
            p99_ns: nearest_rank(samples, 99_000),
            p99_9_ns: nearest_rank(samples, 99_900),
            p99_99_ns: nearest_rank(samples, 99_990),
            max_ns: samples.last().copied().unwrap_or(0),
        }
    }
}

/// Denominator of the percentile argument of `nearest_rank` (integer math: 99.9 as a float
/// times 1000 is 999.000...1, whose ceiling would pick the wrong sample).
const PER_CENT_MILLE: u64 = 100_000;

/// The smallest sample such that at least `fraction / 100_000` of samples are <= it.
fn nearest_rank(sorted: &[u64], fraction: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len() as u64;
    let rank = (n * fraction).div_ceil(PER_CENT_MILLE) as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).copied().unwrap_or(0)
}

/// Latency of every measured op, overall and split by op type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LatencyReport {
    pub overall: Percentiles,
    pub limit: Percentiles,
    pub cancel: Percentiles,
    pub market: Percentiles,
}

impl LatencyReport {
    /// `samples_ns` holds one duration per op of `kinds`, in the same order.
    pub fn from_samples(kinds: impl Iterator<Item = OpKind>, mut samples_ns: Vec<u64>) -> Self {
        let mut limit = Vec::new();
        let mut cancel = Vec::new();
        let mut market = Vec::new();
        for (kind, sample) in kinds.zip(samples_ns.iter()) {
            match kind {
                OpKind::Limit => limit.push(*sample),
                OpKind::Cancel => cancel.push(*sample),
                OpKind::Market => market.push(*sample),
            }
        }
        LatencyReport {
            overall: Percentiles::from_samples(&mut samples_ns),
            limit: Percentiles::from_samples(&mut limit),
            cancel: Percentiles::from_samples(&mut cancel),
            market: Percentiles::from_samples(&mut market),
        }
    }
}

/// Throughput of repeated closed-loop runs in millions of ops per second.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Throughput {
    pub best_mops: f64,
    pub median_mops: f64,
    /// Every run, in the order they ran.
    pub runs_mops: Vec<f64>,
}

impl Throughput {
    pub fn from_runs(ops: u64, durations: &[Duration]) -> Self {
        let runs_mops: Vec<f64> = durations.iter().map(|d| mops(ops, *d)).collect();
        let mut sorted = runs_mops.clone();
        sorted.sort_by(f64::total_cmp);
        let best_mops = sorted.last().copied().unwrap_or(0.0);
        let median_mops = median_of_sorted(&sorted);
        Throughput {
            best_mops,
            median_mops,
            runs_mops,
        }
    }
}

fn mops(ops: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        ops as f64 / secs / 1e6
    } else {
        0.0
    }
}

/// The smallest and the median of repeated timings (seconds, milliseconds: any unit), for the
/// programs that report the best and the median run of something timed whole.
/// Nothing timed gives NaN for both.
pub fn fastest_and_median(timings: &mut [f64]) -> (f64, f64) {
    timings.sort_by(f64::total_cmp);
    match timings.first() {
        Some(&fastest) => (fastest, median_of_sorted(timings)),
        None => (f64::NAN, f64::NAN),
    }
}

fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let upper = sorted.get(n / 2).copied().unwrap_or(0.0);
    if n % 2 == 1 {
        upper
    } else {
        let lower = sorted.get(n / 2 - 1).copied().unwrap_or(0.0);
        (lower + upper) / 2.0
    }
}

/// Samples taken to estimate what one `Instant` pair costs.
pub const TIMER_OVERHEAD_SAMPLES: usize = 200_000;

/// Median cost of an empty `Instant::now()` + `elapsed()` pair in ns; every per-op latency
/// includes about this much.
pub fn timer_overhead_ns() -> u64 {
    let mut samples = Vec::with_capacity(TIMER_OVERHEAD_SAMPLES);
    for _ in 0..TIMER_OVERHEAD_SAMPLES {
        let start = Instant::now();
        samples.push(duration_ns(start.elapsed()));
    }
    Percentiles::from_samples(&mut samples).p50_ns
}

/// A duration in whole nanoseconds, saturating (an op will not take 584 years).
pub fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_thousand() {
        let mut samples: Vec<u64> = (1..=1000).rev().collect();
        let p = Percentiles::from_samples(&mut samples);
        assert_eq!(p.count, 1000);
        assert_eq!(p.p50_ns, 500);
        assert_eq!(p.p90_ns, 900);
        assert_eq!(p.p99_ns, 990);
        assert_eq!(p.p99_9_ns, 999);
        assert_eq!(p.p99_99_ns, 1000);
        assert_eq!(p.max_ns, 1000);
    }

    #[test]
    fn empty_samples_give_zeroes() {
        assert_eq!(Percentiles::from_samples(&mut []), Percentiles::default());
    }

    #[test]
    fn latency_is_split_by_kind() {
        let kinds = [OpKind::Limit, OpKind::Cancel, OpKind::Market, OpKind::Limit];
        let report = LatencyReport::from_samples(kinds.into_iter(), vec![10, 20, 30, 40]);
        assert_eq!(report.overall.count, 4);
        assert_eq!(report.limit.count, 2);
        assert_eq!(report.limit.max_ns, 40);
        assert_eq!(report.cancel.p50_ns, 20);
        assert_eq!(report.market.p50_ns, 30);
    }

    #[test]
    fn throughput_best_and_median() {
        let runs = [
            Duration::from_millis(100),
            Duration::from_millis(50),
            Duration::from_millis(200),
            Duration::from_millis(100),
            Duration::from_millis(400),
        ];
        let t = Throughput::from_runs(1_000_000, &runs);
        assert!((t.best_mops - 20.0).abs() < 1e-9);
        assert!((t.median_mops - 10.0).abs() < 1e-9);
        assert_eq!(t.runs_mops.len(), 5);
    }

    #[test]
    fn fastest_and_median_of_timings() {
        assert_eq!(
            fastest_and_median(&mut [9.1, 8.3, 9.7, 9.0, 9.2]),
            (8.3, 9.1)
        );
        assert_eq!(fastest_and_median(&mut [2.0, 1.0, 4.0, 3.0]), (1.0, 2.5));
        let (fastest, median) = fastest_and_median(&mut []);
        assert!(fastest.is_nan() && median.is_nan());
    }
}
