//! `bulwark bench httporder`: the HTTP order path end to end. A real exchange (journal fsynced
//! before every acknowledgement, SQLite read models, the whole public router with its limits
//! raised) and a trivial handler on the same server stack run in this process; a load generator
//! in the same process keeps one keep-alive connection per client and sends signed
//! `submit_order` + `cancel_order` pairs (each order rests far from the market and is cancelled
//! at once). Reported: closed-loop throughput and latency of the order path and of the trivial
//! handler (the HTTP layer's ceiling) in the same run, then an open-loop run of the order path
//! at 80 % of its peak, with latency measured from each request's scheduled time.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use serde_json::{Value, json};

use crate::config::Config;
use crate::serve;
use crate::signed_client::SignedClient;

/// What a missing JSON field reads as.
pub(crate) static NULL: Value = Value::Null;

/// The first failed request of the run, reported with the figures.
static FIRST_ERROR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// One bench client: its key and its own HTTP connection.
pub(crate) type Trader = SignedClient;

/// Latencies of one phase, in microseconds, and how long it ran.
pub(crate) struct Phase {
    latencies_us: Vec<u64>,
    elapsed: Duration,
    errors: u64,
}

/// One client task's latencies and failed requests.
type ClientTask = tokio::task::JoinHandle<(Vec<u64>, u64)>;

impl Phase {
    /// Waits for every client task and pools what they measured since `started`.
    async fn gather(tasks: Vec<ClientTask>, started: Instant) -> Phase {
        let mut phase = Phase {
            latencies_us: Vec::new(),
            elapsed: Duration::ZERO,
            errors: 0,
        };
        for task in tasks {
            if let Ok((latencies, errors)) = task.await {
                phase.latencies_us.extend(latencies);
                phase.errors += errors;
            }
        }
        phase.elapsed = started.elapsed();
        phase
    }

    pub(crate) fn ops_per_second(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn percentile_ms(&mut self, p: f64) -> f64 {
        percentile_ms(&mut self.latencies_us, p)
    }
}

/// The `p` quantile of latencies in microseconds, in milliseconds (0 when there are none).
pub(crate) fn percentile_ms(latencies_us: &mut [u64], p: f64) -> f64 {
    latencies_us.sort_unstable();
    if latencies_us.is_empty() {
        return 0.0;
    }
    let rank = ((latencies_us.len() as f64 - 1.0) * p).round() as usize;
    let index = rank.min(latencies_us.len() - 1);
    latencies_us.get(index).copied().unwrap_or(0) as f64 / 1_000.0
}

/// Serves `router` on a fresh loopback port until the process ends.
pub(crate) async fn bind(router: Router) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr)
}

/// A real exchange in `dir` for a benchmark: durable journal, SQLite read models, limits
/// raised so the load generator's single address is not refused; bound to loopback ports.
pub(crate) struct BenchExchange {
    pub running: serve::Running,
    pub base: String,
    pub admin_base: String,
    http: reqwest::Client,
}

impl BenchExchange {
    pub async fn start(dir: &Path) -> anyhow::Result<BenchExchange> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let config = Config {
            data_dir: dir.to_path_buf(),
            rate_limit_per_ip: 100_000_000,
            api_rate_limit_scale: 1_000_000,
            ..Config::default()
        };
        let running = serve::start(&config).await?;
        let base = format!("http://{}", bind(running.public.clone()).await?);
        let admin_base = format!("http://{}", bind(running.admin.clone()).await?);
        Ok(BenchExchange {
            running,
            base,
            admin_base,
            http: reqwest::Client::new(),
        })
    }

    /// One operator call of the admin API.
    pub async fn admin(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let answer = self
            .http
            .post(format!("{}{path}", self.admin_base))
            .bearer_auth(self.running.admin_token.as_str())
            .json(&body)
            .send()
            .await?;
        let status = answer.status();
        let body: Value = answer.json().await?;
        if !status.is_success() {
            bail!("admin {path}: {status} {body}");
        }
        Ok(body)
    }

    /// A KYC L1 user holding `deposits` (asset, amount); answers the user id.
    pub async fn funded_user(&self, email: &str, deposits: &[(&str, &str)]) -> anyhow::Result<i64> {
        let user = self
            .admin("/admin/v1/users", json!({"email": email, "kyc_tier": "L1"}))
            .await?;
        let user_id = user.get("user_id").unwrap_or(&NULL).as_i64().unwrap_or(0);
        for (asset, amount) in deposits {
            self.admin(
                "/admin/v1/deposits",
                json!({"user_id": user_id, "asset": asset, "amount": amount,
                       "reference": format!("bench-{email}-{asset}")}),
            )
            .await?;
        }
        Ok(user_id)
    }
}

impl Trader {
    /// A funded KYC L1 user of `exchange` with a trading key, on a connection of its own.
    pub(crate) async fn funded(
        exchange: &BenchExchange,
        email: &str,
        deposits: &[(&str, &str)],
    ) -> anyhow::Result<Trader> {
        let user_id = exchange.funded_user(email, deposits).await?;
        let key = exchange
            .admin(
                "/admin/v1/apikeys",
                json!({"user_id": user_id, "scopes": "read,trade", "memo": "bench"}),
            )
            .await?;
        let text = |field: &str| {
            key.get(field)
                .unwrap_or(&NULL)
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        SignedClient::new(text("access_key"), text("secret"), text("memo"))
    }

    /// Places a resting buy far below the market and cancels it: two timed requests.
    async fn order_pair(&self, base: &str, latencies: &mut Vec<u64>, since: Instant) -> bool {
        match self.try_order_pair(base, latencies, since).await {
            Ok(()) => true,
            Err(error) => {
                FIRST_ERROR.get_or_init(|| error.to_string());
                false
            }
        }
    }

    async fn try_order_pair(
        &self,
        base: &str,
        latencies: &mut Vec<u64>,
        since: Instant,
    ) -> anyhow::Result<()> {
        let placed = self
            .signed_post(
                base,
                "/spot/v2/submit_order",
                &json!({"symbol": "BTC_USDT", "side": "buy", "type": "limit",
                        "size": "0.01", "price": "1000"}),
            )
            .await;
        let placed = placed?;
        latencies.push(since.elapsed().as_micros() as u64);
        let started = Instant::now();
        let id = placed
            .pointer("/data/order_id")
            .unwrap_or(&NULL)
            .as_str()
            .unwrap_or("0")
            .to_owned();
        let cancelled = self
            .signed_post(
                base,
                "/spot/v3/cancel_order",
                &json!({"symbol": "BTC_USDT", "order_id": id}),
            )
            .await;
        latencies.push(started.elapsed().as_micros() as u64);
        cancelled.map(|_| ())
    }
}

/// Closed loop: every client sends its next request when the last one is answered.
async fn closed_loop(
    traders: &[Arc<Trader>],
    base: &str,
    trivial: Option<&str>,
    seconds: u64,
) -> Phase {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for trader in traders {
        let trader = Arc::clone(trader);
        let base = base.to_owned();
        let trivial = trivial.map(str::to_owned);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            while Instant::now() < deadline {
                match &trivial {
                    Some(url) => {
                        let t = Instant::now();
                        let answered = match trader.http.get(url).send().await {
                            Ok(response) => response.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if answered {
                            latencies.push(t.elapsed().as_micros() as u64);
                        } else {
                            errors += 1;
                        }
                    }
                    None => {
                        if !trader
                            .order_pair(&base, &mut latencies, Instant::now())
                            .await
                        {
                            errors += 1;
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    Phase::gather(tasks, started).await
}

/// Open loop: order pairs are scheduled at `pairs_per_second` whether or not earlier ones were
/// answered; each free client takes the next due pair, and a submit's latency counts from its
/// scheduled time (so queueing shows, no coordinated omission).
async fn open_loop(
    traders: &[Arc<Trader>],
    base: &str,
    pairs_per_second: f64,
    seconds: u64,
) -> Phase {
    let total = (pairs_per_second * seconds as f64) as u64;
    let interval = Duration::from_secs_f64(1.0 / pairs_per_second.max(1.0));
    let (tx, rx) = tokio::sync::mpsc::channel::<Instant>(total.max(1) as usize);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let started = Instant::now();
    let scheduler = tokio::spawn(async move {
        for n in 0..total {
            let due = started + interval.mul_f64(n as f64);
            tokio::time::sleep_until(due.into()).await;
            if tx.send(due).await.is_err() {
                break;
            }
        }
    });
    let mut tasks = Vec::new();
    for trader in traders {
        let trader = Arc::clone(trader);
        let base = base.to_owned();
        let rx = Arc::clone(&rx);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0_u64;
            loop {
                let due = { rx.lock().await.recv().await };
                let Some(due) = due else { break };
                if !trader.order_pair(&base, &mut latencies, due).await {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let _ = scheduler.await;
    Phase::gather(tasks, started).await
}

/// Runs the benchmark with `clients` connections for `seconds` per phase in `dir`.
pub fn run(dir: &Path, clients: usize, seconds: u64) -> anyhow::Result<()> {
    block_on(run_async(dir, clients, seconds))
}

/// Runs a benchmark's async body on a multi-threaded runtime of its own.
pub(crate) fn block_on<T, F: std::future::Future<Output = anyhow::Result<T>>>(
    body: F,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(body)
}

async fn run_async(dir: &Path, clients: usize, seconds: u64) -> anyhow::Result<()> {
    let exchange = BenchExchange::start(dir).await?;
    let base = exchange.base.clone();
    let trivial_router = Router::new().route(
        "/trivial",
        axum::routing::get(|| async { axum::Json(json!({"code": 1000, "message": "OK"})) }),
    );
    let trivial = format!("http://{}/trivial", bind(trivial_router).await?);
    let mut traders = Vec::with_capacity(clients);
    for n in 0..clients {
        let email = format!("bench{n}@example.com");
        traders.push(Arc::new(
            Trader::funded(&exchange, &email, &[("USDT", "1000000")]).await?,
        ));
    }
    // Warm the connections and the statement caches.
    let _ = closed_loop(&traders, &base, None, 1).await;
    let _ = closed_loop(&traders, &base, Some(&trivial), 1).await;

    let mut trivial_phase = closed_loop(&traders, &base, Some(&trivial), seconds).await;
    let mut order_phase = closed_loop(&traders, &base, None, seconds).await;
    let peak = order_phase.ops_per_second();
    let mut open_phase = open_loop(&traders, &base, peak * 0.8 / 2.0, seconds).await;
    let ratio = peak / trivial_phase.ops_per_second().max(1e-9);
    let line = json!({
        "benchmark": "httporder", "clients": clients, "seconds_per_phase": seconds,
        "trivial": {"req_per_s": trivial_phase.ops_per_second(), "p50_ms": trivial_phase.percentile_ms(0.5),
                    "p99_ms": trivial_phase.percentile_ms(0.99), "errors": trivial_phase.errors},
        "order_path": {"req_per_s": peak, "p50_ms": order_phase.percentile_ms(0.5),
                       "p99_ms": order_phase.percentile_ms(0.99), "p99_9_ms": order_phase.percentile_ms(0.999),
                       "errors": order_phase.errors},
        "ratio_vs_trivial": ratio,
        "first_error": FIRST_ERROR.get(),
        "open_loop_80pct": {"offered_req_per_s": peak * 0.8, "achieved_req_per_s": open_phase.ops_per_second(),
                            "p50_ms": open_phase.percentile_ms(0.5), "p99_ms": open_phase.percentile_ms(0.99),
                            "p99_9_ms": open_phase.percentile_ms(0.999), "errors": open_phase.errors},
    });
    println!("{line}");
    println!();
    println!(
        "| clients | trivial req/s | order path req/s (submit+cancel) | ratio | order p50 / p99 / p99.9 (ms) | at 80 %: offered / achieved req/s | at 80 %: p50 / p99 / p99.9 (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {clients} | {:.0} | {:.0} | {:.0} % | {:.2} / {:.2} / {:.2} | {:.0} / {:.0} | {:.2} / {:.2} / {:.2} |",
        trivial_phase.ops_per_second(),
        peak,
        ratio * 100.0,
        order_phase.percentile_ms(0.5),
        order_phase.percentile_ms(0.99),
        order_phase.percentile_ms(0.999),
        peak * 0.8,
        open_phase.ops_per_second(),
        open_phase.percentile_ms(0.5),
        open_phase.percentile_ms(0.99),
        open_phase.percentile_ms(0.999),
    );
    exchange.running.stop().await
}
