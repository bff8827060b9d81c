//! `bulwark bench overload`: the order path offered three times what it can take. A real
//! exchange runs in this process (as for `httporder`); first `clients` keep-alive clients send
//! signed immediate-or-cancel orders back to back to measure the peak, then new orders are
//! offered open loop at three times that peak (each on its own request, so nothing waits for
//! a slow answer) while other users cancel resting orders at a steady rate. Reported: how new
//! orders were answered (accepted, "system busy" 30014, 30013, anything else) and how fast,
//! cancel latency from its scheduled time, and, after a restart of the exchange from its data
//! directory, whether every acknowledged order and cancel is there.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::http_bench::{BenchExchange, NULL, Trader, block_on, percentile_ms};

/// Users whose resting orders are cancelled during the overload.
const CANCEL_USERS: usize = 8;
/// Resting orders each cancelling user places before the overload (below the 500 open-order
/// limit).
const RESTING_PER_USER: usize = 400;
/// Cancels per second offered during the overload, across the cancelling users.
const CANCELS_PER_SECOND: f64 = 200.0;
/// Worker threads of the order flood's own runtime.
const FLOOD_THREADS: usize = 1;
/// Order requests the generator keeps in flight at most; more due means the generator, not
/// the server, is the limit, and the run says so.
const GENERATOR_INFLIGHT_MAX: usize = 2_048;

/// An immediate-or-cancel buy far below the market: accepted, never rests, holds nothing after.
fn probe_order() -> Value {
    json!({"symbol": "BTC_USDT", "side": "buy", "type": "ioc", "size": "0.01", "price": "1000"})
}

/// How new orders were answered during the overload.
#[derive(Default)]
struct Answers {
    accepted_us: Vec<u64>,
    busy_us: Vec<u64>,
    limited_us: Vec<u64>,
    other: u64,
    failed: u64,
    /// Due but not sent: the generator already had its maximum in flight.
    not_sent: u64,
    /// (trader index, order id) of every accepted order.
    accepted_ids: Vec<(usize, String)>,
}

pub fn run(dir: &Path, clients: usize, seconds: u64) -> anyhow::Result<()> {
    block_on(run_async(dir, clients, seconds))
}

/// Closed loop of probe orders from every trader for `seconds`: orders per second.
async fn peak(traders: &[Arc<Trader>], base: &str, seconds: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for trader in traders {
        let trader = Arc::clone(trader);
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut done = 0_u64;
            while Instant::now() < deadline {
                let answer = trader
                    .signed_post(&base, "/spot/v2/submit_order", &probe_order())
                    .await;
                done += u64::from(answer.is_ok());
            }
            done
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap_or(0);
    }
    done as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// Offers `rate` probe orders per second for `seconds`, each on its own request over a shared
/// connection pool, latency counted from its scheduled time.
async fn offer_orders(
    traders: Arc<Vec<Arc<Trader>>>,
    base: String,
    rate: f64,
    seconds: u64,
) -> anyhow::Result<Answers> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(GENERATOR_INFLIGHT_MAX)
        .build()?;
    let answers = Arc::new(Mutex::new(Answers::default()));
    let slots = Arc::new(tokio::sync::Semaphore::new(GENERATOR_INFLIGHT_MAX));
    let total = (rate * seconds as f64) as u64;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due.into()).await;
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            answers.lock().await.not_sent += 1;
            continue;
        };
        let owner = n as usize % traders.len().max(1);
        let trader = traders.get(owner).map(Arc::clone);
        let (http, base, answers) = (http.clone(), base.clone(), Arc::clone(&answers));
        tasks.push(tokio::spawn(async move {
            let _slot = slot;
            let Some(trader) = trader else { return };
            let answer = trader
                .signed_call(&http, &base, "/spot/v2/submit_order", &probe_order())
                .await;
            let took = due.elapsed().as_micros() as u64;
            let mut a = answers.lock().await;
            match answer {
                Ok(body) => match body.get("code").and_then(Value::as_i64) {
                    Some(1000) => {
                        a.accepted_us.push(took);
                        let id = body.pointer("/data/order_id").unwrap_or(&NULL);
                        a.accepted_ids
                            .push((owner, id.as_str().unwrap_or_default().to_owned()));
                    }
                    Some(30014) => a.busy_us.push(took),
                    Some(30013) => a.limited_us.push(took),
                    _ => a.other += 1,
                },
                Err(_) => a.failed += 1,
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let answers = std::mem::take(&mut *answers.lock().await);
    Ok(answers)
}

/// Cancels the resting orders `ids` (per trader) open loop at [`CANCELS_PER_SECOND`] for
/// `seconds`; answers the latencies from each cancel's scheduled time, the cancelled ids and
/// how many failed.
async fn offer_cancels(
    traders: Vec<(Arc<Trader>, Vec<String>)>,
    base: String,
    seconds: u64,
) -> (Vec<u64>, Vec<String>, u64) {
    let total = (CANCELS_PER_SECOND * seconds as f64) as usize;
    let interval = Duration::from_secs_f64(1.0 / CANCELS_PER_SECOND);
    let per_trader = total.div_ceil(traders.len().max(1));
    // Connections of this runtime's own, so nothing of the cancel path runs elsewhere.
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, (trader, ids)) in traders.into_iter().enumerate() {
        let (base, http) = (base.clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut cancelled, mut failed) = (Vec::new(), Vec::new(), 0_u64);
            // Trader i takes cancels i, i + n, i + 2n, … of the common schedule.
            for (k, id) in ids.into_iter().take(per_trader).enumerate() {
                let slot = k * CANCEL_USERS + index;
                let due = started + interval.mul_f64(slot as f64);
                tokio::time::sleep_until(due.into()).await;
                let answer = trader
                    .signed_call(
                        &http,
                        &base,
                        "/spot/v3/cancel_order",
                        &json!({"symbol": "BTC_USDT", "order_id": id}),
                    )
                    .await;
                latencies.push(due.elapsed().as_micros() as u64);
                match answer {
                    Ok(body) if body.get("code") == Some(&json!(1000)) => cancelled.push(id),
                    _ => failed += 1,
                }
            }
            (latencies, cancelled, failed)
        }));
    }
    let (mut latencies, mut cancelled, mut failed) = (Vec::new(), Vec::new(), 0);
    for task in tasks {
        if let Ok((l, c, f)) = task.await {
            latencies.extend(l);
            cancelled.extend(c);
            failed += f;
        }
    }
    (latencies, cancelled, failed)
}

/// Acknowledged order ids of one trader, and whether each must now be cancelled.
type Acknowledged = (Arc<Trader>, Vec<String>, bool);

/// After a restart: how many acknowledged orders are missing from the read models, and how
/// many acknowledged cancels did not leave their order cancelled.
async fn audit(exchange: &BenchExchange, owners: &[Acknowledged]) -> anyhow::Result<(u64, u64)> {
    let (mut missing, mut wrong) = (0_u64, 0_u64);
    for (trader, ids, cancelled) in owners {
        for chunk in ids.chunks(64) {
            let mut checks = Vec::new();
            for id in chunk {
                let (trader, base, id) = (Arc::clone(trader), exchange.base.clone(), id.clone());
                checks.push(tokio::spawn(async move {
                    trader
                        .signed_call(
                            &trader.http,
                            &base,
                            "/spot/v4/query/order",
                            &json!({"orderId": id}),
                        )
                        .await
                }));
            }
            for check in checks {
                match check.await? {
                    Ok(body) if body.get("code") == Some(&json!(1000)) => {
                        let state = body.pointer("/data/state").and_then(Value::as_str);
                        if *cancelled && state != Some("canceled") {
                            wrong += 1;
                        }
                    }
                    _ => missing += 1,
                }
            }
        }
    }
    Ok((missing, wrong))
}

async fn run_async(dir: &Path, clients: usize, seconds: u64) -> anyhow::Result<()> {
    let exchange = BenchExchange::start(dir).await?;
    let base = exchange.base.clone();
    let mut traders = Vec::new();
    for n in 0..clients {
        let email = format!("load{n}@example.com");
        traders.push(Arc::new(
            Trader::funded(&exchange, &email, &[("USDT", "100000000")]).await?,
        ));
    }
    let mut cancellers = Vec::new();
    for n in 0..CANCEL_USERS {
        let email = format!("cancel{n}@example.com");
        let trader = Arc::new(Trader::funded(&exchange, &email, &[("USDT", "100000")]).await?);
        let mut ids = Vec::with_capacity(RESTING_PER_USER);
        for _ in 0..RESTING_PER_USER {
            let placed = trader
                .signed_post(
                    &base,
                    "/spot/v2/submit_order",
                    &json!({"symbol": "BTC_USDT", "side": "buy", "type": "limit",
                            "size": "0.01", "price": "1000"}),
                )
                .await?;
            let id = placed.pointer("/data/order_id").unwrap_or(&NULL);
            ids.push(id.as_str().unwrap_or_default().to_owned());
        }
        cancellers.push((trader, ids));
    }
    let _ = peak(&traders, &base, 1).await; // warm connections and caches
    let peak = peak(&traders, &base, seconds).await;
    let offered = peak * 3.0;
    let traders = Arc::new(traders);
    // The generators run on runtimes (and OS threads) of their own, so the server's runtime
    // holds only server work and a late timer of the flood cannot delay a cancel's clock.
    let cancels = {
        let (cancellers, base) = (cancellers.clone(), base.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(offer_cancels(cancellers, base, seconds)))
        })
    };
    let flood = {
        let (traders, base) = (Arc::clone(&traders), base.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(FLOOD_THREADS)
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(offer_orders(traders, base, offered, seconds)))
        })
    };
    let (flood, cancels) =
        tokio::task::spawn_blocking(move || (flood.join(), cancels.join())).await?;
    let (Ok(flood), Ok(cancels)) = (flood, cancels) else {
        bail!("a load generator thread panicked");
    };
    let mut answers = flood?;
    let (mut cancel_us, cancelled, cancel_failed) = cancels?;
    exchange.running.stop().await?;

    // Restart from the data directory and look for everything that was acknowledged.
    let exchange = BenchExchange::start(dir).await?;
    let mut owners: Vec<Acknowledged> = traders
        .iter()
        .map(|trader| (Arc::clone(trader), Vec::new(), false))
        .collect();
    for (owner, id) in std::mem::take(&mut answers.accepted_ids) {
        if let Some(entry) = owners.get_mut(owner) {
            entry.1.push(id);
        }
    }
    let cancelled: std::collections::HashSet<String> = cancelled.into_iter().collect();
    for (trader, ids) in &cancellers {
        let mine: Vec<String> = ids
            .iter()
            .filter(|id| cancelled.contains(*id))
            .cloned()
            .collect();
        owners.push((Arc::clone(trader), mine, true));
    }
    let (missing, not_cancelled) = audit(&exchange, &owners).await?;
    exchange.running.stop().await?;
    if cancel_us.is_empty() {
        bail!("no cancel was measured");
    }

    let sent = answers.accepted_us.len()
        + answers.busy_us.len()
        + answers.limited_us.len()
        + answers.other as usize
        + answers.failed as usize;
    let line = json!({
        "benchmark": "overload", "clients": clients, "seconds": seconds,
        "peak_orders_per_s": peak, "offered_orders_per_s": offered,
        "sent": sent, "not_sent_generator_full": answers.not_sent,
        "accepted": {"count": answers.accepted_us.len(), "per_s": answers.accepted_us.len() as f64 / seconds as f64,
                     "p50_ms": percentile_ms(&mut answers.accepted_us, 0.5), "p99_ms": percentile_ms(&mut answers.accepted_us, 0.99)},
        "busy_30014": {"count": answers.busy_us.len(), "p50_ms": percentile_ms(&mut answers.busy_us, 0.5),
                       "p99_ms": percentile_ms(&mut answers.busy_us, 0.99)},
        "limited_30013": answers.limited_us.len(), "other_codes": answers.other, "transport_errors": answers.failed,
        "cancels": {"offered_per_s": CANCELS_PER_SECOND, "count": cancel_us.len(), "failed": cancel_failed,
                    "p50_ms": percentile_ms(&mut cancel_us, 0.5), "p99_ms": percentile_ms(&mut cancel_us, 0.99),
                    "p99_9_ms": percentile_ms(&mut cancel_us, 0.999)},
        "after_restart": {"acknowledged_orders_missing": missing, "acknowledged_cancels_not_cancelled": not_cancelled},
    });
    println!("{line}");
    println!();
    println!(
        "| clients | peak orders/s | offered (3×) | accepted/s · p99 (ms) | busy 30014 · p99 (ms) | cancels p50 / p99 / p99.9 (ms) | lost after restart |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {clients} | {peak:.0} | {offered:.0} | {:.0} · {:.2} | {} · {:.2} | {:.2} / {:.2} / {:.2} | {} |",
        answers.accepted_us.len() as f64 / seconds as f64,
        percentile_ms(&mut answers.accepted_us, 0.99),
        answers.busy_us.len(),
        percentile_ms(&mut answers.busy_us, 0.99),
        percentile_ms(&mut cancel_us, 0.5),
        percentile_ms(&mut cancel_us, 0.99),
        percentile_ms(&mut cancel_us, 0.999),
        missing + not_cancelled,
    );
    Ok(())
}
