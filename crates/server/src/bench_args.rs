//! The arguments of `bulwark bench`, apart from the command (`bench_cli`) so the top-level
//! argument parser can name them without importing the runner.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// book | engine | journal | durable | loginflood | recovery | snapshot | restart | httporder |
    /// overload | wsfanout
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
    /// `durable` and `loginflood` take a snapshot every this many commands, as a server does
    /// (`snapshot_every_commands`, 100,000 by default there); 0 takes none.
    #[arg(long, default_value_t = 0)]
    pub snapshot_every: u64,
    /// Commands replayed by `recovery` and `restart`.
    #[arg(long, default_value_t = 10_000_000)]
    pub recovery_commands: u32,
    /// Concurrent keep-alive clients of `httporder` (and of the peak phase of `overload`).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds each phase of `httporder` (and the trading of `wsfanout`) runs.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Clients of `wsfanout` that subscribe and never read (they must be cut off, not wait on).
    #[arg(long, default_value_t = 10)]
    pub slow: usize,
    /// Crossing order pairs per second of `wsfanout` (one trade each).
    #[arg(long, default_value_t = 500)]
    pub pairs_per_second: u64,
    /// The feed the `wsclients` helper connects to (set by `wsfanout`).
    #[arg(long, default_value = "")]
    pub ws_url: String,
}
