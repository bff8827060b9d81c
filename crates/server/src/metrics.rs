//! Prometheus metrics, served on the admin listener (`GET /metrics`, behind the admin token).
//! Events are recorded where they happen through the `metrics` facade (acknowledgement and
//! journal write latency, HTTP requests, login steps, lockouts, WebSocket connections);
//! counters the pipeline already keeps (commands by kind and outcome, queue depths, the durable
//! sequence, the argon2 pool's load) are read at scrape time, so the sequencer's hot path only
//! bumps an atomic. A background task checks the ledger every minute and keeps the histograms'
//! samples drained.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bulwark_identity::password::HashPool;
use bulwark_sequencer::SequencerHandle;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets (seconds) for every `*_seconds` histogram: 50 µs to 10 s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];
/// How often histogram samples are folded into their buckets (bounds the memory they hold
/// between scrapes at a busy exchange).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// How often the ledger is checked (an engine query over every balance).
const LEDGER_CHECK_EVERY: Duration = Duration::from_secs(60);

/// The process-wide recorder (one per process, however many exchanges a test starts in it).
fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "metrics: no recorder installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

/// What `/metrics` answers, as the admin API's renderer.
pub type Renderer = Arc<dyn Fn() -> String + Send + Sync>;

/// Installs the recorder, starts the upkeep and ledger-check task, and answers the renderer.
pub fn start(sequencer: SequencerHandle, hash_pool: HashPool) -> Renderer {
    let handle = recorder().cloned();
    // Counters of rare events exist from the start, so a dashboard's rate() reads 0, not nothing.
    for schedule in ["password", "second_factor"] {
        metrics::counter!("bulwark_lockouts_total", "schedule" => schedule).increment(0);
    }
    metrics::counter!("bulwark_websocket_slow_disconnects_total").increment(0);
    metrics::gauge!("bulwark_websocket_connections").increment(0.0);
    if let Some(handle) = handle.clone() {
        let checked = sequencer.clone();
        tokio::spawn(async move {
            let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
            // The first check waits one period, for the markets of a new exchange to exist.
            upkeep.tick().await;
            let mut last_check: Option<Instant> = None;
            loop {
                upkeep.tick().await;
                handle.run_upkeep();
                if last_check.is_none_or(|at| at.elapsed() >= LEDGER_CHECK_EVERY) {
                    last_check = Some(Instant::now());
                    check_ledger(&checked).await;
                }
            }
        });
    }
    Arc::new(move || match &handle {
        Some(handle) => {
            read_counters(&sequencer, &hash_pool);
            handle.render()
        }
        None => String::new(),
    })
}

/// The pipeline's and the password pool's counters, as they are now.
fn read_counters(sequencer: &SequencerHandle, hash_pool: &HashPool) {
    let stats = sequencer.stats();
    metrics::gauge!("bulwark_journal_durable_seq").set(stats.durable_seq as f64);
    metrics::counter!("bulwark_sequencer_batches_total").absolute(stats.batches);
    metrics::counter!("bulwark_journal_write_nanoseconds_total").absolute(stats.write_nanos);
    metrics::gauge!("bulwark_sequencer_queue_depth", "lane" => "orders")
        .set(stats.order_queue as f64);
    metrics::gauge!("bulwark_sequencer_queue_depth", "lane" => "priority")
        .set(stats.priority_queue as f64);
    for (kind, accepted, rejected) in stats.by_kind {
        metrics::counter!("bulwark_commands_total", "kind" => kind, "outcome" => "accepted")
            .absolute(accepted);
        metrics::counter!("bulwark_commands_total", "kind" => kind, "outcome" => "rejected")
            .absolute(rejected);
    }
    let load = hash_pool.load();
    metrics::gauge!("bulwark_argon2_running").set(load.running as f64);
    metrics::gauge!("bulwark_argon2_queued").set(load.queued as f64);
    metrics::gauge!("bulwark_argon2_queue_max").set(load.queue_max as f64);
    metrics::counter!("bulwark_argon2_busy_total").absolute(load.busy_refusals);
}

/// Every asset's ledger must sum to zero (what users hold, fee revenue, the Safeguard fund and
/// adjustments against what came in from outside); a non-zero sum is money created or lost.
async fn check_ledger(sequencer: &SequencerHandle) {
    let catalog = sequencer.catalog();
    let totals = match sequencer.query(|engine| engine.ledger_totals()).await {
        Ok(totals) => totals,
        Err(error) => {
            tracing::warn!(%error, "ledger check skipped: the engine did not answer");
            return;
        }
    };
    let mut broken = 0_u64;
    for total in totals {
        let asset = catalog
            .assets
            .get(usize::from(total.asset.0))
            .map_or_else(|| total.asset.0.to_string(), |a| a.code.clone());
        if total.sum != 0 {
            broken += 1;
            tracing::error!(%asset, sum = %total.sum, "ledger check: the asset does not sum to zero");
        }
        metrics::gauge!("bulwark_ledger_sum", "asset" => asset).set(total.sum as f64);
    }
    metrics::counter!("bulwark_ledger_checks_total").increment(1);
    metrics::gauge!("bulwark_ledger_unbalanced_assets").set(broken as f64);
}

/// The route group of a public request, for the HTTP metrics (a bounded set of labels).
fn route_group(path: &str) -> &'static str {
    if path.starts_with("/api/v1/") {
        "account_api"
    } else if path.starts_with("/spot/") {
        if path.contains("order") {
            "spot_orders"
        } else {
            "spot_market"
        }
    } else if path.starts_with("/account/") || path.starts_with("/system/") {
        "spot_account"
    } else if path == "/api" || path == "/user" {
        "websocket"
    } else if path.starts_with("/transparency/v1/") {
        "transparency_api"
    } else if path == "/healthz" || path == "/readyz" {
        "health"
    } else if path.starts_with("/static/") {
        "static"
    } else if path.starts_with("/admin") {
        "console"
    } else {
        "pages"
    }
}

/// Counts every public request by route group and status, with its latency.
pub async fn track_http(request: Request, next: Next) -> Response {
    let group = route_group(request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!("bulwark_http_request_seconds", "group" => group)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("bulwark_http_requests_total", "group" => group,
        "status" => response.status().as_u16().to_string())
    .increment(1);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fall_into_a_few_groups() {
        assert_eq!(route_group("/spot/v2/submit_order"), "spot_orders");
        assert_eq!(route_group("/spot/v4/query/open-orders"), "spot_orders");
        assert_eq!(route_group("/spot/quotation/v3/klines"), "spot_market");
        assert_eq!(route_group("/account/v1/wallet"), "spot_account");
        assert_eq!(route_group("/api/v1/login"), "account_api");
        assert_eq!(route_group("/api"), "websocket");
        assert_eq!(
            route_group("/transparency/v1/reports/3"),
            "transparency_api"
        );
        assert_eq!(route_group("/transparency"), "pages");
        assert_eq!(route_group("/admin/claims/4"), "console");
        assert_eq!(route_group("/no/such/page"), "pages");
    }
}
