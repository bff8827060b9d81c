//! `bulwark bench wsfanout`: many WebSocket clients watching one market while it trades. The
//! exchange runs in this process (durable journal, the real feed); the clients run in a child
//! process (`bulwark bench wsclients`, so each side has its own file-descriptor budget), each on
//! its own connection subscribed to `spot/trade` and `spot/depth/increase100` of BTC_USDT, plus a
//! few clients that subscribe and then never read. Orders go straight to the sequencer as
//! crossing pairs at a fixed rate. Reported: delivery latency of trade pushes (receive time minus
//! the trade's engine timestamp, both wall clock), pushes per client, how many slow clients were
//! cut off, and the exchange process's resident memory per connection.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bulwark_engine::{Command, MarketId, NewOrder, OrderKind, StpMode};
use bulwark_types::{CommandId, Side, UserId};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::http_bench::{BenchExchange, NULL, block_on};

/// Read buffer of each measuring client's connection.
const CLIENT_READ_BUFFER_BYTES: usize = 16 * 1024;
/// Longest the clients may take to connect before their reading deadline passes anyway.
const CONNECT_SECONDS_MAX: u64 = 120;
/// Connections opened at once while the clients connect.
const CONNECT_CONCURRENCY: usize = 256;

/// The engine times (`ms_t`) of the trades in a `spot/trade` push, in order. A measuring client
/// needs nothing else, so it scans for them instead of parsing the push: ten thousand clients
/// share this machine's two cores with the exchange, and parsing every field of every trade
/// made the clients, not the exchange, the bound of the run.
fn trade_times(push: &str) -> impl Iterator<Item = i64> + '_ {
    const KEY: &str = "\"ms_t\":";
    push.match_indices(KEY).filter_map(|(at, _)| {
        let digits = push.get(at + KEY.len()..)?;
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        digits.get(..end)?.parse().ok()
    })
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn command_id(n: u64) -> CommandId {
    let mut id = [0_u8; 16];
    id[..8].copy_from_slice(&n.to_le_bytes());
    id[8] = 0xbe;
    CommandId(id)
}

/// The exchange side: starts everything, runs the trading load, prints the figures.
pub fn run(
    dir: &Path,
    clients: usize,
    slow: usize,
    pairs_per_second: u64,
    seconds: u64,
) -> anyhow::Result<()> {
    block_on(run_async(dir, clients, slow, pairs_per_second, seconds))
}

async fn run_async(
    dir: &Path,
    clients: usize,
    slow: usize,
    pairs_per_second: u64,
    seconds: u64,
) -> anyhow::Result<()> {
    let exchange = BenchExchange::start(dir).await?;
    let maker = exchange
        .funded_user("fan-maker@example.com", &[("BTC", "100000")])
        .await?;
    let taker = exchange
        .funded_user("fan-taker@example.com", &[("USDT", "10000000000")])
        .await?;
    let before_kib = resident_kib();
    let url = format!(
        "{}/api?protocol=1.1",
        exchange.base.replace("http://", "ws://")
    );
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "bench",
            "wsclients",
            "--ws-url",
            &url,
            "--clients",
            &clients.to_string(),
            "--slow",
            &slow.to_string(),
            "--seconds",
            &(seconds + 5).to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the client process")?;
    let stdout = child.stdout.take().context("client stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.next_line().await?.unwrap_or_default();
    if ready.trim() != "READY" {
        bail!("client process did not get ready: {ready}");
    }
    let connected_kib = resident_kib();
    let sequencer = exchange.running.sequencer();
    let interval = Duration::from_secs_f64(1.0 / pairs_per_second.max(1) as f64);
    let started = Instant::now();
    let total = pairs_per_second * seconds;
    let mut n = 1_000_000_u64;
    for pair in 0..total {
        tokio::time::sleep_until((started + interval.mul_f64(pair as f64)).into()).await;
        // A sell and a buy at the same price: one trade, and the book back where it was.
        for (user, side) in [(maker, Side::Sell), (taker, Side::Buy)] {
            n += 1;
            let order = NewOrder {
                user: UserId(u64::try_from(user).unwrap_or(0)),
                market: MarketId(0),
                side,
                kind: OrderKind::Limit,
                price_ticks: 3_000_000,
                size_lots: 100,
                notional: 0,
                client_order_id: None,
                stp: StpMode::None,
            };
            let sequencer = sequencer.clone();
            tokio::spawn(async move {
                let _ = sequencer
                    .submit(command_id(n), Command::PlaceOrder(order))
                    .await;
            });
        }
    }
    let trading_seconds = started.elapsed().as_secs_f64();
    let report = lines.next_line().await?.unwrap_or_default();
    let _ = child.wait().await;
    let mut report: Value = serde_json::from_str(&report).context("client report")?;
    let per_connection =
        (connected_kib.saturating_sub(before_kib)) as f64 / (clients + slow).max(1) as f64;
    if let Some(fields) = report.as_object_mut() {
        fields.insert("benchmark".into(), json!("wsfanout"));
    }
    if let Some(fields) = report.as_object_mut() {
        fields.insert("pairs_per_second_offered".into(), json!(pairs_per_second));
    }
    if let Some(fields) = report.as_object_mut() {
        fields.insert(
            "trades_per_second_achieved".into(),
            json!(total as f64 / trading_seconds),
        );
    }
    if let Some(fields) = report.as_object_mut() {
        fields.insert(
            "exchange_rss_kib_per_connection".into(),
            json!(per_connection),
        );
    }
    println!("{report}");
    println!();
    println!(
        "| clients (+ never-reading) | trades/s | pushes received per client (min / median) | trade push latency p50 / p99 / p99.9 / max (ms) | never-reading clients cut off | exchange RSS per connection |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {clients} (+{slow}) | {:.0} | {} / {} | {} / {} / {} / {} | {} of {slow} | {:.1} KiB |",
        total as f64 / trading_seconds,
        report.get("per_client_min").unwrap_or(&NULL),
        report.get("per_client_median").unwrap_or(&NULL),
        report.get("p50_ms").unwrap_or(&NULL),
        report.get("p99_ms").unwrap_or(&NULL),
        report.get("p99_9_ms").unwrap_or(&NULL),
        report.get("max_ms").unwrap_or(&NULL),
        report.get("slow_cut_off").unwrap_or(&NULL),
        per_connection,
    );
    exchange.running.stop().await
}

/// The client side (a child process): connects, subscribes, says READY, measures, reports.
pub fn clients(url: &str, clients: usize, slow: usize, seconds: u64) -> anyhow::Result<()> {
    block_on(clients_async(url, clients, slow, seconds))
}

async fn subscribe(
    url: &str,
) -> anyhow::Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    // The library's 128 KiB read buffer is zero-filled before every read; pushes are a few KiB.
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER_BYTES);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), false).await?;
    let request = json!({"op": "subscribe", "args": ["spot/trade:BTC_USDT", "spot/depth/increase100:BTC_USDT"]});
    socket.send(Message::text(request.to_string())).await?;
    Ok(socket)
}

async fn clients_async(url: &str, clients: usize, slow: usize, seconds: u64) -> anyhow::Result<()> {
    // Clients read until `seconds` after all of them are connected (the trading starts then);
    // before that, a generous bound in case READY never comes.
    let fallback = Instant::now() + Duration::from_secs(seconds + CONNECT_SECONDS_MAX);
    let go = Arc::new(std::sync::OnceLock::<Instant>::new());
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let cut_off = Arc::new(AtomicU64::new(0));
    let mut slow_sockets = Vec::new();
    for _ in 0..slow {
        slow_sockets.push(subscribe(url).await?);
    }
    let semaphore = Arc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = Vec::with_capacity(clients);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(clients.max(1));
    for _ in 0..clients {
        let url = url.to_owned();
        let latencies = Arc::clone(&latencies);
        let semaphore = Arc::clone(&semaphore);
        let ready_tx = ready_tx.clone();
        let go = Arc::clone(&go);
        tasks.push(tokio::spawn(async move {
            let socket = {
                let _permit = semaphore.acquire().await;
                subscribe(&url).await
            };
            let Ok(mut socket) = socket else {
                return 0_u64;
            };
            let _ = ready_tx.send(()).await;
            let mut received = 0_u64;
            let mut mine = Vec::new();
            loop {
                let deadline = go.get().copied().unwrap_or(fallback);
                let Ok(Some(Ok(message))) =
                    tokio::time::timeout_at(deadline.into(), socket.next()).await
                else {
                    break;
                };
                let Message::Text(text) = message else {
                    continue;
                };
                // Pushes carry `data` (acks never do); only trade pushes are timed.
                if !text.contains("\"data\"") {
                    continue;
                }
                received += 1;
                if !text.contains("\"table\":\"spot/trade\"") {
                    continue;
                }
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                for at in trade_times(&text) {
                    mine.push(u64::try_from(now_ms - at).unwrap_or(0));
                }
            }
            if let Ok(mut all) = latencies.lock() {
                all.extend(mine);
            }
            received
        }));
    }
    drop(ready_tx);
    let mut connected = 0;
    while connected < clients && ready_rx.recv().await.is_some() {
        connected += 1;
    }
    let _ = go.set(Instant::now() + Duration::from_secs(seconds));
    println!("READY");
    let mut per_client = Vec::with_capacity(clients);
    for task in tasks {
        per_client.push(task.await.unwrap_or(0));
    }
    for mut socket in slow_sockets {
        // A socket the server cut off ends (after the queued frames) with a close or an error.
        let mut ended = false;
        while let Ok(next) = tokio::time::timeout(Duration::from_millis(200), socket.next()).await {
            match next {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    ended = true;
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
        if ended {
            cut_off.fetch_add(1, Ordering::Relaxed);
        }
    }
    per_client.sort_unstable();
    let mut all = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    all.sort_unstable();
    let pick = |p: f64| -> u64 {
        if all.is_empty() {
            return 0;
        }
        let index = ((all.len() as f64 - 1.0) * p).round() as usize;
        all.get(index.min(all.len() - 1)).copied().unwrap_or(0)
    };
    let report = json!({
        "clients": clients, "connected": connected, "slow_clients": slow,
        "slow_cut_off": cut_off.load(Ordering::Relaxed),
        "trade_pushes_measured": all.len(),
        "per_client_min": per_client.first().copied().unwrap_or(0),
        "per_client_median": per_client.get(per_client.len() / 2).copied().unwrap_or(0),
        "p50_ms": pick(0.5), "p99_ms": pick(0.99), "p99_9_ms": pick(0.999),
        "max_ms": all.last().copied().unwrap_or(0),
    });
    println!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::trade_times;

    #[test]
    fn trade_times_are_read_in_order_and_nothing_else() {
        let push = r#"{"table":"spot/trade","data":[{"symbol":"BTC_USDT","price":"30000.00","side":"buy","size":"0.001","s_t":1700000000,"ms_t":1700000000123},{"symbol":"BTC_USDT","price":"30000.00","side":"sell","size":"0.002","s_t":1700000001,"ms_t":1700000001456}]}"#;
        assert_eq!(
            trade_times(push).collect::<Vec<_>>(),
            [1_700_000_000_123, 1_700_000_001_456]
        );
        assert_eq!(trade_times(r#"{"data":[]}"#).count(), 0);
        assert_eq!(trade_times(r#"{"ms_t":"x"}"#).count(), 0);
    }
}
