//! DURABLE without the rest of the server: `cargo run --release -p bulwark-bench --example
//! durable -- [rates…]` (default 100000 500000 1000000 offered ops/s). The same program as
//! `bulwark bench durable`, built from this crate alone so a change to the pipeline can be
//! measured without building the whole server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rates: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let args = bulwark_bench::pipeline_bench::PipelineArgs {
        runs: 1,
        rates: if rates.is_empty() {
            vec![100_000, 500_000, 1_000_000]
        } else {
            rates
        },
        recovery_commands: 0,
        // Snapshots off, as `bulwark bench durable` without `--snapshot-every`.
        snapshot_every: 0,
    };
    let scratch = tempfile::tempdir()?;
    bulwark_bench::pipeline_bench::run("durable", &args, scratch.path())?;
    Ok(())
}
