//! The public entry point on small workloads: one JSON line per result, every fingerprint
//! MATCH, and a clear error for an unknown benchmark. No timing is asserted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bulwark_bench::{
    BOOK_A, BOOK_B, BenchError, BenchOptions, FingerprintStatus, WorkloadSpec, run_to,
};

fn small(spec: WorkloadSpec) -> WorkloadSpec {
    WorkloadSpec {
        measured_ops: 5_000,
        ..spec
    }
}

fn options(workloads: Vec<WorkloadSpec>) -> BenchOptions {
    BenchOptions {
        runs: 2,
        latency_pass: true,
        workloads,
    }
}

#[test]
fn book_prints_one_json_line_per_result_and_all_match() {
    let mut out = Vec::new();
    let results = run_to(
        "book",
        &options(vec![small(BOOK_A), small(BOOK_B)]),
        &mut out,
    )
    .unwrap();
    assert_eq!(results.len(), 4);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    for (line, result) in lines.iter().zip(&results) {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(json["engine"], result.engine.as_str());
        assert_eq!(json["fingerprint"]["status"], "MATCH");
        assert!(json["latency"]["overall"]["p99_ns"].is_u64());
        assert_eq!(result.fingerprint.status, FingerprintStatus::Match);
        assert_eq!(result.runs_mops.len(), 2);
        assert!(result.markdown_row().starts_with("| book | "));
    }
    assert_eq!(results[0].engine, "bulwark-book");
    assert!(results[0].ratio_vs_matchcore.is_some());
    assert!(results[1].ratio_vs_matchcore.is_none());
}

#[test]
fn engine_matches_and_keeps_its_invariants() {
    let mut out = Vec::new();
    let results = run_to("engine", &options(vec![small(BOOK_A)]), &mut out).unwrap();
    assert_eq!(results.len(), 1);
    let fingerprint = &results[0].fingerprint;
    assert_eq!(
        fingerprint.status,
        FingerprintStatus::Match,
        "{fingerprint:?}"
    );
    assert!(fingerprint.end_check_error.is_none());
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
}

#[test]
fn unknown_benchmark_and_zero_runs_are_errors() {
    let mut out = Vec::new();
    let err = run_to("durable", &BenchOptions::default(), &mut out).unwrap_err();
    assert!(matches!(err, BenchError::UnknownBenchmark(name) if name == "durable"));
    let zero = BenchOptions {
        runs: 0,
        ..BenchOptions::default()
    };
    assert!(matches!(
        run_to("book", &zero, &mut out),
        Err(BenchError::InvalidOptions(_))
    ));
    assert!(out.is_empty());
}

#[test]
fn workloads_are_found_by_name() {
    assert_eq!(bulwark_bench::workload_by_name("book-a").unwrap(), BOOK_A);
    assert_eq!(bulwark_bench::workload_by_name("BOOK-B").unwrap(), BOOK_B);
    assert!(bulwark_bench::workload_by_name("BOOK-X").is_err());
}
