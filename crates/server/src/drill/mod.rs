//! `bulwark drill --data-dir DIR`: the Safeguard fire drill. On a fresh data directory it runs
//! the real exchange (this binary's `serve`, as a child process) through a hot-wallet theft from
//! the first trade to the last payout, as users, staff, operators and the public see it, and
//! prints every step with what it checked. It exits non-zero at the first check that fails, so
//! an operator can rehearse incident response on a new release and CI can run it as a test.
//! The exchange runs with its test clock (the drill moves time forward instead of waiting) and
//! with a fault armed for one restart (to crash between a payout's approval and its execution).

mod exchange;
mod person;
mod reserves;
mod scenario;

use std::fmt::Display;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::bail;
use clap::Args;

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// A new (or empty) directory for the drill's exchange; it keeps the journal, the store,
    /// the emails sent, the published reports and a proof under `drill/` for inspection.
    #[arg(long)]
    pub data_dir: PathBuf,
}

/// The steps' printer and the count of what was checked.
pub struct Log {
    step: usize,
    checks: usize,
}

/// Steps of the story (for the "[n/N]" prefix).
const STEPS: usize = 12;

impl Log {
    fn step(&mut self, title: &str) {
        self.step += 1;
        println!("\n[{}/{STEPS}] {title}", self.step);
    }

    /// Prints one check; a failed one ends the drill.
    fn check(&mut self, ok: bool, what: impl Display) -> anyhow::Result<()> {
        self.checks += 1;
        if ok {
            println!("  ok      {what}");
            Ok(())
        } else {
            println!("  FAILED  {what}");
            bail!("check failed: {what}")
        }
    }
}

/// Whether an API answer is the 400 refusal with `code`.
fn refused_with(status: u16, answer: &serde_json::Value, code: &str) -> bool {
    status == 400
        && answer
            .pointer("/error/code")
            .and_then(serde_json::Value::as_str)
            == Some(code)
}

pub fn run(args: &DrillArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut exchange = exchange::Exchange::new(&args.data_dir)?;
    let mut log = Log { step: 0, checks: 0 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let outcome = scenario::run(&mut exchange, &mut log).await;
        exchange.stop().await?;
        outcome
    });
    let log_path = args.data_dir.join("drill").join("server.log");
    match outcome {
        Ok(()) => {
            println!(
                "\nfire drill passed: {} checks in {} steps, {:.1} s (exchange log: {})",
                log.checks,
                log.step,
                started.elapsed().as_secs_f64(),
                log_path.display()
            );
            Ok(())
        }
        Err(error) => {
            println!(
                "\nfire drill FAILED at step {} after {} checks: {error:#} (exchange log: {})",
                log.step,
                log.checks,
                log_path.display()
            );
            Err(error)
        }
    }
}
