//! `bulwark serve --demo`: liquidity for a fresh install. For every market a demo maker quotes
//! five bids and five asks around a reference price that random-walks, and a demo taker now and
//! then crosses the spread with a small immediate-or-cancel order, so books move and trades and
//! candles appear within seconds. Both trade through the public API with signed requests like
//! any client's bot (same authentication, budgets, engine path); their users are provisioned by
//! the operator service on the reserved `demo.invalid` email domain.

use std::time::Duration;

use bulwark_bench::workload::SplitMix64;
use bulwark_engine::MarketSpec;
use bulwark_operator::Operator;
use bulwark_types::format_units;
use serde_json::{Value, json};

use crate::signed_client::SignedClient;

/// Shortest time between two requotes of one market.
const TICK_MIN: Duration = Duration::from_millis(1_000);
/// Order-entry weight per second all makers together may use: under the per-IP order budget
/// (20 per second), which every demo user shares since they all call from loopback.
const ORDER_WEIGHT_PER_SECOND: u64 = 15;
/// Quote levels per side.
const LEVELS: usize = 5;
/// Distance of the first level from the reference price, and between levels (basis points).
const LEVEL_STEP_BPS: f64 = 5.0;
/// Standard deviation of one tick's random walk (basis points).
const WALK_BPS: f64 = 8.0;
/// The taker crosses the spread once every this many ticks.
const TAKE_EVERY_TICKS: u64 = 3;

/// Starting reference prices of the genesis markets (another market starts at its last
/// trade, and is left alone while it has none).
fn default_price(symbol: &str) -> Option<f64> {
    match symbol {
        "BTC_USDT" => Some(30_000.0),
        "ETH_USDT" => Some(2_000.0),
        "ETH_BTC" => Some(0.066),
        "BMX_USDT" => Some(0.25),
        _ => None,
    }
}

/// What demo users are credited with once, per asset: enough to quote for days.
fn seed_amount(asset: &str) -> &'static str {
    match asset {
        "BTC" => "1000",
        "ETH" => "20000",
        "BMX" => "200000000",
        _ => "100000000",
    }
}

/// Roughly normal with mean 0 and deviation 1 (sum of twelve uniforms); a demo needs variety,
/// not precision.
fn normal(walk: &mut SplitMix64) -> f64 {
    (0..12).map(|_| walk.unit()).sum::<f64>() - 6.0
}

/// One market's quoting state.
struct Quoter {
    symbol: String,
    spec: MarketSpec,
    quote_scale: u32,
    reference: f64,
    maker: SignedClient,
    taker: SignedClient,
    walk: SplitMix64,
}

impl Quoter {
    fn price_text(&self, price: f64) -> Option<String> {
        let ticks = (price * 10_f64.powi(self.spec.price_scale as i32)).round() as i64;
        (1..=self.spec.max_price_ticks)
            .contains(&ticks)
            .then(|| format_units(ticks, self.spec.price_scale))
    }

    /// A size in lots between 2 and 20 times what the minimum order value needs at `price`.
    fn size_text(&mut self, price: f64) -> String {
        let lot = 10_f64.powi(-(self.spec.size_scale as i32));
        let min_value = self.spec.min_notional as f64 / 10_f64.powi(self.quote_scale as i32);
        let min_lots = ((min_value / price / lot).ceil() as i64).max(self.spec.min_size_lots);
        let lots = min_lots * (2 + (self.walk.next_u64() % 19) as i64);
        format_units(lots.min(self.spec.max_size_lots), self.spec.size_scale)
    }

    async fn tick(&mut self, base: &str, n: u64) -> anyhow::Result<()> {
        self.reference *= 1.0 + normal(&mut self.walk) * WALK_BPS / 10_000.0;
        self.maker
            .signed_post(base, "/spot/v4/cancel_all", &json!({"symbol": self.symbol}))
            .await?;
        let mut orders = Vec::new();
        for level in 1..=LEVELS {
            let offset = LEVEL_STEP_BPS * level as f64 / 10_000.0;
            for (side, price) in [
                ("buy", self.reference * (1.0 - offset)),
                ("sell", self.reference * (1.0 + offset)),
            ] {
                if let Some(text) = self.price_text(price) {
                    let size = self.size_text(price);
                    orders.push(
                        json!({"side": side, "type": "limit_maker", "price": text, "size": size}),
                    );
                }
            }
        }
        if !orders.is_empty() {
            self.maker
                .signed_post(
                    base,
                    "/spot/v4/batch_orders",
                    &json!({"symbol": self.symbol, "orderParams": orders}),
                )
                .await?;
        }
        if n.is_multiple_of(TAKE_EVERY_TICKS) {
            let buy = self.walk.next_u64().is_multiple_of(2);
            let limit = self.reference * if buy { 1.002 } else { 0.998 };
            if let Some(price) = self.price_text(limit) {
                let size = self.size_text(limit);
                self.taker
                    .signed_post(
                        base,
                        "/spot/v2/submit_order",
                        &json!({"symbol": self.symbol, "side": if buy { "buy" } else { "sell" },
                                "type": "ioc", "price": price, "size": size}),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

/// The last trade price of `symbol` on the public API, if it has traded.
async fn last_price(http: &reqwest::Client, base: &str, symbol: &str) -> Option<f64> {
    let url = format!("{base}/spot/quotation/v3/ticker?symbol={symbol}");
    let body: Value = http.get(url).send().await.ok()?.json().await.ok()?;
    let last: f64 = body.pointer("/data/last")?.as_str()?.parse().ok()?;
    (last > 0.0).then_some(last)
}

async fn client(
    operator: &Operator,
    name: &str,
    deposits: &[(&str, &str)],
) -> anyhow::Result<SignedClient> {
    let account = operator
        .demo_account(name, deposits)
        .await
        .map_err(|e| anyhow::anyhow!("provisioning demo user {name}: {e}"))?;
    SignedClient::new(account.access_key, account.secret, account.memo)
}

/// Provisions a maker and a taker per market and quotes every market until `stop` turns
/// true. A failed request is logged and the market tries again on its next tick.
pub async fn run(
    operator: Operator,
    base: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let catalog = operator.trading.sequencer.catalog();
    let http = reqwest::Client::new();
    let seed = bulwark_api::now_ms().unsigned_abs();
    // Each requote is one batch of 2 × LEVELS orders; spread the markets' requotes so that
    // together they stay within the budget.
    let markets = catalog.markets.len().max(1) as u64;
    let tick = TICK_MIN.max(Duration::from_millis(
        markets * 2 * LEVELS as u64 * 1_000 / ORDER_WEIGHT_PER_SECOND,
    ));
    let mut tasks = Vec::new();
    for (index, market) in catalog.markets.iter().enumerate() {
        let spec = market.spec.clone();
        let (Some(base_asset), Some(quote_asset)) = (
            catalog.asset_spec(spec.base),
            catalog.asset_spec(spec.quote),
        ) else {
            continue;
        };
        let reference = match last_price(&http, &base, &spec.symbol).await {
            Some(last) => last,
            None => match default_price(&spec.symbol) {
                Some(price) => price,
                None => continue,
            },
        };
        let deposits = [
            (base_asset.code.as_str(), seed_amount(&base_asset.code)),
            (quote_asset.code.as_str(), seed_amount(&quote_asset.code)),
        ];
        let name = spec.symbol.to_lowercase().replace('_', "-");
        let mut quoter = Quoter {
            symbol: spec.symbol.clone(),
            quote_scale: quote_asset.scale,
            spec,
            reference,
            maker: client(&operator, &format!("maker-{name}"), &deposits).await?,
            taker: client(&operator, &format!("taker-{name}"), &deposits).await?,
            walk: SplitMix64::new(seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407)),
        };
        let base = base.clone();
        let mut stop = stop.clone();
        let start = tokio::time::Instant::now() + tick.mul_f64(index as f64 / markets as f64);
        tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(start, tick);
            for n in 0_u64.. {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.changed() => break,
                }
                if let Err(error) = quoter.tick(&base, n).await {
                    tracing::warn!(symbol = %quoter.symbol, %error, "demo quote failed; retrying next tick");
                }
            }
        }));
    }
    tracing::info!(markets = tasks.len(), "demo market makers running");
    let _ = stop.changed().await;
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}
