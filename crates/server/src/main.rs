//! `bulwark`: the exchange and its tools in one binary.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use bulwark_server::{admin_cli, config, serve, verify};

#[derive(Parser)]
#[command(
    name = "bulwark",
    version,
    about = "Bulwark: a self-hostable cryptocurrency exchange"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the exchange (public API on 127.0.0.1:8080, admin API on 127.0.0.1:8081).
    Serve(Box<config::ServeArgs>),
    /// Staff operations through the admin API.
    Admin(admin_cli::AdminArgs),
    /// Journal tools.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Offline operator tools: signing keys and signatures for fund movements.
    Operator {
        #[command(subcommand)]
        command: bulwark_server::operator_cli::OperatorCommand,
    },
    /// Check a transparency report's signature and its link to the previous report (offline).
    VerifyReport(bulwark_server::verify_cli::VerifyReportArgs),
    /// Check a proof of inclusion against the root its report publishes (offline).
    VerifyProof(bulwark_server::verify_cli::VerifyProofArgs),
    /// The Safeguard fire drill on a fresh data directory: theft, incident, claims, payouts,
    /// report, proofs, recovery; every step printed with its checks, non-zero exit on failure.
    Drill(bulwark_server::drill::DrillArgs),
    /// Benchmarks (release builds): book, engine, journal, durable, recovery.
    Bench(bulwark_server::bench_cli::BenchArgs),
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Check framing and continuity, replay everything, print state hash and ledger totals.
    Verify {
        #[arg(long, env = "BULWARK_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print records: seq, time, command kind, command id and the HTTP request that made it.
    Dump {
        #[arg(long, env = "BULWARK_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        /// First seq to print.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Most records to print.
        #[arg(long, default_value_t = 1_000)]
        limit: usize,
        /// Only the commands of this request (the 16 hex digits of its X-Request-Id).
        #[arg(long)]
        request_id: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// Logs go to stderr, filtered by `BULWARK_LOG` (default `info`); `BULWARK_LOG_FORMAT=json`
/// writes one JSON object per line, with the request's id among the span fields.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BULWARK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("BULWARK_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Serve(args) => {
            let config = config::Config::load(&args)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve::run(config))
        }
        Command::Operator { command } => bulwark_server::operator_cli::run(command),
        Command::Admin(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(admin_cli::run(args)),
        Command::Journal {
            command: JournalCommand::Verify { data_dir, json },
        } => verify::run(&data_dir, json),
        Command::Journal {
            command:
                JournalCommand::Dump {
                    data_dir,
                    from,
                    limit,
                    request_id,
                    json,
                },
        } => bulwark_server::journal_dump::run(&bulwark_server::journal_dump::DumpArgs {
            data_dir: &data_dir,
            from,
            limit,
            request_id: request_id.as_deref(),
            json,
        }),
        Command::Bench(args) => bulwark_server::bench_cli::run(args),
        Command::VerifyReport(args) => bulwark_server::verify_cli::verify_report(&args),
        Command::VerifyProof(args) => bulwark_server::verify_cli::verify_proof(&args),
        Command::Drill(args) => bulwark_server::drill::run(&args),
    }
}
