//! Benchmark programs for Bulwark, called by `bulwark bench ...`.
//!
//! Benchmarks print figures; they never assert on time. Every engine is driven by the same
//! generated workload (`workload`, a port of `reference/benchmarks.md` §5) and checked against
//! the generator's reference model, so a fast but wrong engine shows up as MISMATCH rather than
//! as a good number.
//!
//! Entry point: [`run`] with a benchmark name. Each result is printed as one JSON line when it is
//! ready and returned, so the caller can also render [`BenchResult::markdown_row`].

pub mod book_bench;
pub mod bulwark_book;
pub mod engine_bench;

pub mod harness;
pub mod matchcore_book;
pub mod pipeline_bench;
pub mod report;
pub mod stats;
pub mod workload;

use std::io::Write;

use thiserror::Error;

pub use report::{BenchResult, BuildInfo, FingerprintCheck, FingerprintStatus, MARKDOWN_HEADER};
pub use workload::{BOOK_A, BOOK_B, WorkloadSpec};

/// Throughput runs per subject unless told otherwise (§6 asks for best- and median-of-5).
pub const DEFAULT_RUNS: usize = 5;

/// Benchmarks `run` knows, in the order `bulwark bench --help` should list them.
///
/// To add one (e.g. "journal", "durable", "recovery"): write a module with
/// `pub fn run(options: &BenchOptions, out: &mut dyn Write) -> Result<Vec<BenchResult>, BenchError>`,
/// add its name here and one arm to the `match` in [`run_to`].
pub const BENCHMARKS: &[&str] = &["book", "engine"];

/// Knobs shared by every benchmark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    /// Closed-loop throughput runs per subject; best and median are reported.
    pub runs: usize,
    /// Whether to do the separate pass that times every op.
    pub latency_pass: bool,
    /// Workloads to run; empty means the benchmark's own default set.
    pub workloads: Vec<WorkloadSpec>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            runs: DEFAULT_RUNS,
            latency_pass: true,
            workloads: Vec::new(),
        }
    }
}

/// Why a benchmark could not produce figures. A MISMATCH is not an error: it is a figure.
#[derive(Debug, Error)]
pub enum BenchError {
    #[error("unknown benchmark {0:?}; known: {known}", known = BENCHMARKS.join(", "))]
    UnknownBenchmark(String),
    #[error("unknown workload {0:?}; known: BOOK-A, BOOK-B")]
    UnknownWorkload(String),
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The engine refused a command of the benchmark's setup (assets, market, deposits).
    #[error("engine setup failed: {0}")]
    EngineSetup(String),
    #[error("cannot write results: {0}")]
    Output(#[from] std::io::Error),
    #[error("cannot encode results: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Looks a workload up by the name used in reports ("BOOK-A", case-insensitive).
pub fn workload_by_name(name: &str) -> Result<WorkloadSpec, BenchError> {
    [BOOK_A, BOOK_B]
        .into_iter()
        .find(|w| w.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| BenchError::UnknownWorkload(name.to_owned()))
}

/// Runs benchmark `name`, printing one JSON line per result to stdout.
pub fn run(name: &str, options: &BenchOptions) -> Result<Vec<BenchResult>, BenchError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_to(name, options, &mut out)
}

/// Like [`run`], writing the JSON lines to `out`.
pub fn run_to(
    name: &str,
    options: &BenchOptions,
    out: &mut dyn Write,
) -> Result<Vec<BenchResult>, BenchError> {
    if options.runs == 0 {
        return Err(BenchError::InvalidOptions("runs must be at least 1".into()));
    }
    match name {
        "book" => book_bench::run(options, out),
        "engine" => engine_bench::run(options, out),

        other => Err(BenchError::UnknownBenchmark(other.to_owned())),
    }
}

/// Prints one result as its JSON line; shared by every benchmark module.
pub fn emit(out: &mut dyn Write, result: &BenchResult) -> Result<(), BenchError> {
    writeln!(out, "{}", result.json_line()?)?;
    out.flush()?;
    Ok(())
}

/// Builds a result from a measurement; shared by every benchmark module.
pub fn make_result(
    benchmark: &str,
    workload: &workload::Workload,
    engine: &str,
    measurement: &harness::Measurement,
    timer_overhead_ns: u64,
) -> BenchResult {
    let ops = workload.ops.len() as u64;
    let per_op = |sum: u64| {
        if ops == 0 {
            0.0
        } else {
            sum as f64 / ops as f64
        }
    };
    BenchResult {
        benchmark: benchmark.to_owned(),
        workload: workload.spec.name.to_owned(),
        engine: engine.to_owned(),
        ops,
        best_mops: measurement.throughput.best_mops,
        median_mops: measurement.throughput.median_mops,
        runs_mops: measurement.throughput.runs_mops.clone(),
        timer_overhead_ns,
        latency: measurement.latency,
        fingerprint: FingerprintCheck::new(&workload.reference, measurement),
        ratio_vs_matchcore: None,
        median_ratio_vs_matchcore: None,
        mean_resting_orders: per_op(workload.reference.resting_sum),
        mean_occupied_levels: per_op(workload.reference.levels_sum),
        build: BuildInfo::current(),
    }
}
