//! `bulwark bench …`: runs a benchmark program and prints one JSON line per run (and a Markdown
//! row for docs/BENCHMARKS.md). Book and engine benchmarks live in the `bulwark-bench` crate; the
//! ones that need the real durable pipeline (journal, durable, recovery) live in
//! [`crate::bench_pipeline`]. Build with `--release`; debug figures are meaningless.

use std::path::PathBuf;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// book | engine | journal | durable | loginflood | recovery
    pub name: String,
    /// Throughput runs per subject (best and median are reported).
    #[arg(long, default_value_t = bulwark_bench::DEFAULT_RUNS)]
    pub runs: usize,
    /// Workloads for book/engine (BOOK-A, BOOK-B); default: the benchmark's own set.
    #[arg(long)]
    pub workload: Vec<String>,
    /// Skip the per-op latency pass (book/engine).
    #[arg(long)]
    pub no_latency: bool,
    /// Directory for journal files of journal/durable/recovery (must be on the disk measured,
    /// not tmpfs). A fresh subdirectory is created and removed.
    #[arg(long, default_value = "bench-data")]
    pub dir: PathBuf,
    /// Offered loads for `durable`, in ops/s (`loginflood` uses the first; pass e.g. 20000).
    #[arg(long, value_delimiter = ',', default_values_t = vec![100_000_u64, 500_000, 1_000_000])]
    pub rates: Vec<u64>,
    /// Commands replayed by `recovery`.
    #[arg(long, default_value_t = 10_000_000)]
    pub recovery_commands: u32,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; run `cargo run --release --bin bulwark -- bench …` for real figures"
        );
    }
    match args.name.as_str() {
        "journal" | "durable" | "loginflood" | "recovery" => {
            std::fs::create_dir_all(&args.dir)
                .with_context(|| format!("creating {}", args.dir.display()))?;
            let scratch = args.dir.join(format!("run-{}", std::process::id()));
            let result = crate::bench_pipeline::run(&args, &scratch);
            let _ = std::fs::remove_dir_all(&scratch);
            result
        }
        name => {
            let workloads = args
                .workload
                .iter()
                .map(|w| bulwark_bench::workload_by_name(w))
                .collect::<Result<Vec<_>, _>>()?;
            let options = bulwark_bench::BenchOptions {
                runs: args.runs,
                latency_pass: !args.no_latency,
                workloads,
            };
            let results = bulwark_bench::run(name, &options)?;
            println!("\n{}", bulwark_bench::MARKDOWN_HEADER);
            for result in &results {
                println!("{}", result.markdown_row());
            }
            Ok(())
        }
    }
}
