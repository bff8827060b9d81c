//! `bulwark bench …`: runs a benchmark program and prints one JSON line per run (and a Markdown
//! row for docs/BENCHMARKS.md). Book and engine benchmarks live in the `bulwark-bench` crate; the
//! ones that need the real durable pipeline (journal, durable, recovery) live in
//! [`crate::bench_pipeline`]. Build with `--release`; debug figures are meaningless.

use anyhow::Context;

pub use crate::bench_args::BenchArgs;

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
