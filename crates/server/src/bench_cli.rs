//! `bulwark bench …`: runs a benchmark program and prints one JSON line per run (and a Markdown
//! row for docs/BENCHMARKS.md). Every benchmark lives in the `bulwark-bench` crate (the durable
//! pipeline ones in its `pipeline_bench` module) except `httporder`, `overload`, `wsfanout` and `restart`,
//! which need the whole server and so live beside it (`http_bench`, `overload_bench`,
//! `ws_bench`, `restart_bench`); this is only the command line over them. Build with `--release`; debug figures are meaningless.

use anyhow::Context;

pub use crate::bench_args::BenchArgs;

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; run `cargo run --release --bin bulwark -- bench …` for real figures"
        );
    }
    match args.name.as_str() {
        "wsfanout" => {
            let scratch = args.dir.join(format!("ws-{}", std::process::id()));
            let result = crate::ws_bench::run(
                &scratch,
                args.clients,
                args.slow,
                args.pairs_per_second,
                args.seconds,
            );
            let _ = std::fs::remove_dir_all(&scratch);
            result
        }
        "wsclients" => {
            crate::ws_bench::clients(&args.ws_url, args.clients, args.slow, args.seconds)
        }
        "overload" => {
            let scratch = args.dir.join(format!("overload-{}", std::process::id()));
            let result = crate::overload_bench::run(&scratch, args.clients, args.seconds);
            let _ = std::fs::remove_dir_all(&scratch);
            result
        }
        "restart" => {
            let scratch = args.dir.join(format!("restart-{}", std::process::id()));
            let result = crate::restart_bench::run(&scratch, args.recovery_commands, args.runs);
            let _ = std::fs::remove_dir_all(&scratch);
            result
        }
        "httporder" => {
            let scratch = args.dir.join(format!("http-{}", std::process::id()));
            let result = crate::http_bench::run(&scratch, args.clients, args.seconds);
            let _ = std::fs::remove_dir_all(&scratch);
            result
        }
        name if bulwark_bench::pipeline_bench::PIPELINE_BENCHMARKS.contains(&name) => {
            std::fs::create_dir_all(&args.dir)
                .with_context(|| format!("creating {}", args.dir.display()))?;
            let scratch = args.dir.join(format!("run-{}", std::process::id()));
            let pipeline = bulwark_bench::pipeline_bench::PipelineArgs {
                runs: args.runs,
                rates: args.rates.clone(),
                recovery_commands: args.recovery_commands,
                snapshot_every: args.snapshot_every,
            };
            let result = bulwark_bench::pipeline_bench::run(name, &pipeline, &scratch);
            let _ = std::fs::remove_dir_all(&scratch);
            Ok(result?)
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
