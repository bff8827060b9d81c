//! BOOK-A / BOOK-B: the bare order book, ours against matchcore, same ops in the same process.
//!
//! The two subjects take turns run by run on each workload, so that the ratio between them is
//! not skewed much by the VM's run-to-run drift (±25% between runs on the CI machine).

use std::io::Write;

use crate::bulwark_book::{BULWARK_BOOK_NAME, BulwarkBook};
use crate::harness::Session;
use crate::matchcore_book::{MATCHCORE_NAME, MatchcoreBook};
use crate::stats::timer_overhead_ns;
use crate::workload::{BOOK_A, BOOK_B, generate};
use crate::{BenchError, BenchOptions, BenchResult, emit, make_result};

/// Name of this benchmark in results.
pub const BENCHMARK: &str = "book";

/// Runs every requested workload (default BOOK-A and BOOK-B) through both books.
pub fn run(options: &BenchOptions, out: &mut dyn Write) -> Result<Vec<BenchResult>, BenchError> {
    let specs = if options.workloads.is_empty() {
        vec![BOOK_A, BOOK_B]
    } else {
        options.workloads.clone()
    };
    let timer_ns = timer_overhead_ns();
    let mut results = Vec::new();
    for spec in &specs {
        let workload = generate(spec);
        let max_id = workload.max_id();
        let capacity = orders_capacity(&workload);
        let mut ours = Session::new(&workload);
        let mut theirs = Session::new(&workload);
        for _ in 0..options.runs {
            ours.throughput_run(BulwarkBook::new(capacity));
            theirs.throughput_run(MatchcoreBook::new(max_id));
        }
        if options.latency_pass {
            ours.latency_pass(BulwarkBook::new(capacity));
            theirs.latency_pass(MatchcoreBook::new(max_id));
        }
        let (ours, theirs) = (ours.finish(), theirs.finish());
        let mut ours = make_result(BENCHMARK, &workload, BULWARK_BOOK_NAME, &ours, timer_ns);
        let theirs = make_result(BENCHMARK, &workload, MATCHCORE_NAME, &theirs, timer_ns);
        ours.set_ratio_vs(&theirs);
        emit(out, &ours)?;
        emit(out, &theirs)?;
        results.push(ours);
        results.push(theirs);
    }
    Ok(results)
}

/// Room for the most orders the workload ever has resting at once, so that no subject grows its
/// tables inside a timed run (and none is oversized either, which would spread it over cache).
fn orders_capacity(workload: &crate::workload::Workload) -> usize {
    workload.reference.resting_max as usize
}
