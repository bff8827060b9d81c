//! Wiring of the `bulwark` binary: configuration, the data directory, the admin
//! API and its CLI, journal verification and the benchmark runner.

pub mod admin_cli;
pub mod bench_args;
pub mod bench_cli;
pub mod child;
pub mod config;
pub mod data_dir;
pub mod demo;
pub mod drill;
pub mod http_bench;
pub mod journal_dump;
pub mod metrics;
pub mod operator_cli;
pub mod overload_bench;
pub mod request_log;
pub mod restart_bench;
pub mod serve;
pub mod signed_client;
pub mod tls;
pub mod verify;
pub mod verify_cli;
pub mod ws_bench;
