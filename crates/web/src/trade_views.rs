//! The trade page's panels (order book, recent trades, chart, and the signed-in user's balances,
//! orders and fills), each rendered from the trading service's reads into an HTML fragment. The
//! full page embeds them; `trade.js` fetches the same fragments again when the WebSocket feed
//! says something changed, so there is one renderer for both.

use askama::Template;
use bulwark_api::format::MarketFormat;
use bulwark_sequencer::{Catalog, MarketInfo};
use bulwark_trading::Trading;
use bulwark_trading::reads::{CandleWindow, Window};

use crate::charts::{self, Candle};
use crate::pages::utc_time;

/// Price levels shown per side of the book.
pub const BOOK_LEVELS: usize = 12;
/// Public trades in the recent-trades panel.
pub const RECENT_TRADES: u32 = 30;
/// Candles on the chart.
pub const CHART_CANDLES: u32 = 90;
/// Open orders and stop orders listed at most (the engine's per-user limits are below it).
pub const OPEN_ROWS: u32 = 200;
/// Rows of the order and fill history panels.
pub const HISTORY_ROWS: u32 = 20;
/// Steps of the depth bars (each 5% of the widest cumulative depth).
const DEPTH_STEPS: i64 = 20;

/// A read that failed: the panel shows this instead of its rows. What failed is logged, never
/// shown (it can name database internals).
#[derive(Debug, thiserror::Error)]
#[error("This information is unavailable right now; it will be back shortly.")]
pub struct PanelError;

impl From<bulwark_trading::StoreError> for PanelError {
    fn from(error: bulwark_trading::StoreError) -> PanelError {
        tracing::error!(%error, "reading a trade page panel");
        PanelError
    }
}

/// One price level of the ladder.
pub struct Level {
    pub price: String,
    pub size: String,
    pub total: String,
    /// `d0`…`d20`: the depth bar's width class.
    pub depth: String,
}

#[derive(Template)]
#[template(path = "trade_book.html")]
pub struct BookPanel {
    /// Best ask last (nearest the spread).
    pub asks: Vec<Level>,
    pub bids: Vec<Level>,
    pub spread: String,
    pub spread_pct: String,
    pub base: String,
    pub quote: String,
}

pub struct TradeLine {
    pub time: String,
    pub price: String,
    pub size: String,
    pub side: String,
}

#[derive(Template)]
#[template(path = "trade_trades.html")]
pub struct TradesPanel {
    pub trades: Vec<TradeLine>,
    pub base: String,
    pub quote: String,
}

pub struct OrderLine {
    pub id: i64,
    pub time: String,
    pub side: String,
    pub kind: String,
    pub price: String,
    pub size: String,
    pub filled: String,
    pub state: String,
}

pub struct StopLine {
    pub id: i64,
    pub time: String,
    pub side: String,
    pub trigger: String,
    pub price: String,
    pub size: String,
}

pub struct FillLine {
    pub time: String,
    pub side: String,
    pub price: String,
    pub size: String,
    pub fee: String,
    pub role: String,
}

/// The signed-in user's part of the trade page.
#[derive(Template)]
#[template(path = "trade_mine.html")]
pub struct MinePanel {
    pub signed_in: bool,
    pub symbol: String,
    pub csrf: String,
    pub base: String,
    pub quote: String,
    pub base_available: String,
    pub base_held: String,
    pub quote_available: String,
    pub quote_held: String,
    pub open: Vec<OrderLine>,
    pub stops: Vec<StopLine>,
    pub history: Vec<OrderLine>,
    pub fills: Vec<FillLine>,
}

/// `HH:MM:SS` of a millisecond time (UTC).
fn clock(at_ms: i64) -> String {
    let s = at_ms.div_euclid(1_000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60)
}

fn render<T: Template>(template: &T) -> String {
    template.render().unwrap_or_else(|error| {
        tracing::error!(%error, "rendering a trade panel");
        String::from("<p class=\"error\">This panel could not be drawn.</p>")
    })
}

/// Depth ladder levels with cumulative depth bars; `levels` best first.
fn ladder(levels: &[(i64, i64)], widest: i64, f: &MarketFormat) -> Vec<Level> {
    let mut cumulative = 0_i64;
    levels
        .iter()
        .take(BOOK_LEVELS)
        .map(|&(price, size)| {
            cumulative = cumulative.saturating_add(size);
            let step = i128::from(cumulative) * i128::from(DEPTH_STEPS) / i128::from(widest.max(1));
            Level {
                price: f.price(price),
                size: f.size(size),
                total: f.size(cumulative),
                depth: format!("d{}", step.clamp(0, i128::from(DEPTH_STEPS))),
            }
        })
        .collect()
}

/// The order book panel of `market`, from the durable book view.
pub fn book(trading: &Trading, catalog: &Catalog, market: &MarketInfo) -> String {
    let Some(f) = MarketFormat::resolve(catalog, &market.spec) else {
        return String::new();
    };
    let depth = trading.sequencer.depth(market.id).unwrap_or_default();
    let sum = |levels: &[(i64, i64)]| {
        levels
            .iter()
            .take(BOOK_LEVELS)
            .map(|l| l.1)
            .fold(0_i64, i64::saturating_add)
    };
    let widest = sum(&depth.bids).max(sum(&depth.asks));
    let mut asks = ladder(&depth.asks, widest, &f);
    asks.reverse();
    let (spread, spread_pct) = match (depth.bids.first(), depth.asks.first()) {
        (Some(bid), Some(ask)) => {
            let gap = ask.0 - bid.0;
            let pct = i128::from(gap) * 10_000 / i128::from(ask.0.max(1));
            (
                f.price(gap),
                bulwark_types::format_units(i64::try_from(pct).unwrap_or(0), 2),
            )
        }
        _ => (String::from("—"), String::new()),
    };
    render(&BookPanel {
        asks,
        bids: ladder(&depth.bids, widest, &f),
        spread,
        spread_pct,
        base: f.base.code.clone(),
        quote: f.quote.code.clone(),
    })
}

/// The recent public trades of `market`, newest first.
pub async fn trades(
    trading: &Trading,
    catalog: &Catalog,
    market: &MarketInfo,
) -> Result<String, PanelError> {
    let Some(f) = MarketFormat::resolve(catalog, &market.spec) else {
        return Ok(String::new());
    };
    let rows = trading
        .recent_trades(&market.spec.symbol, RECENT_TRADES)
        .await?;
    Ok(render(&TradesPanel {
        trades: rows
            .iter()
            .map(|t| TradeLine {
                time: clock(t.timestamp_ms),
                price: f.price(t.price_ticks),
                size: f.size(t.size_lots),
                side: t.taker_side.clone(),
            })
            .collect(),
        base: f.base.code.clone(),
        quote: f.quote.code.clone(),
    }))
}

/// The candlestick chart of `market` at `step` minutes per candle, up to `now_ms`.
pub async fn chart(
    trading: &Trading,
    catalog: &Catalog,
    market: &MarketInfo,
    step: u32,
    now_ms: i64,
) -> Result<String, PanelError> {
    let Some(f) = MarketFormat::resolve(catalog, &market.spec) else {
        return Ok(String::new());
    };
    let rows = trading
        .candles(
            &market.spec.symbol,
            step,
            CandleWindow::Before {
                before_s: now_ms.div_euclid(1_000),
            },
            CHART_CANDLES,
        )
        .await?;
    let candles: Vec<Candle> = rows
        .iter()
        .map(|c| Candle {
            open_s: c.open_s,
            open: c.open_ticks,
            high: c.high_ticks,
            low: c.low_ticks,
            close: c.close_ticks,
            volume: c.volume_lots,
        })
        .collect();
    Ok(charts::candles_svg(
        &candles,
        &|ticks| f.price(ticks),
        &format!("{} candles", market.spec.symbol),
    ))
}

/// The user's panel and the balances it shows, which the order form checks against.
pub struct Mine {
    pub html: String,
    pub base_available: String,
    pub quote_available: String,
}

/// The user's balances, open and stop orders, order history and fills in `market`; without a
/// user, an invitation to log in.
pub async fn mine(
    trading: &Trading,
    catalog: &Catalog,
    market: &MarketInfo,
    user: Option<(i64, String)>,
) -> Result<Mine, PanelError> {
    let Some(f) = MarketFormat::resolve(catalog, &market.spec) else {
        return Ok(Mine {
            html: String::new(),
            base_available: String::new(),
            quote_available: String::new(),
        });
    };
    let panel = mine_panel(trading, catalog, &f, user).await?;
    Ok(Mine {
        html: render(&panel),
        base_available: panel.base_available,
        quote_available: panel.quote_available,
    })
}

async fn mine_panel(
    trading: &Trading,
    catalog: &Catalog,
    f: &MarketFormat<'_>,
    user: Option<(i64, String)>,
) -> Result<MinePanel, PanelError> {
    let symbol = f.spec.symbol.clone();
    let mut panel = MinePanel {
        signed_in: false,
        symbol: symbol.clone(),
        csrf: String::new(),
        base: f.base.code.clone(),
        quote: f.quote.code.clone(),
        base_available: f.base(0),
        base_held: f.base(0),
        quote_available: f.quote(0),
        quote_held: f.quote(0),
        open: Vec::new(),
        stops: Vec::new(),
        history: Vec::new(),
        fills: Vec::new(),
    };
    let Some((user_id, csrf)) = user else {
        return Ok(panel);
    };
    panel.signed_in = true;
    panel.csrf = csrf;
    for row in trading.balances(user_id).await? {
        if row.asset == f.base.code {
            panel.base_available = f.base(row.available);
            panel.base_held = f.base(row.held);
        } else if row.asset == f.quote.code {
            panel.quote_available = f.quote(row.available);
            panel.quote_held = f.quote(row.held);
        }
    }
    let window = Window {
        symbol: Some(&symbol),
        limit: OPEN_ROWS,
        ..Window::default()
    };
    let line = |o: &bulwark_trading::OrderRow| OrderLine {
        id: o.order_id,
        time: utc_time(o.created_ms),
        side: o.side.clone(),
        kind: o.kind.clone(),
        price: if o.kind == "market" {
            String::from("market")
        } else {
            f.price(o.price_ticks)
        },
        size: if o.kind == "market" && o.size_lots == 0 {
            format!("{} {}", f.quote(o.notional), f.quote.code)
        } else {
            f.size(o.size_lots)
        },
        filled: f.size(o.filled_lots),
        state: o.state.replace('_', " "),
    };
    panel.open = trading
        .open_orders(user_id, &window)
        .await?
        .iter()
        .map(line)
        .collect();
    panel.stops = trading
        .triggers(user_id, true, &window)
        .await?
        .iter()
        .map(|t| StopLine {
            id: t.trigger_id,
            time: utc_time(t.created_ms),
            side: t.side.clone(),
            trigger: f.price(t.trigger_price_ticks),
            price: f.price(t.price_ticks),
            size: f.size(t.size_lots),
        })
        .collect();
    let recent = Window {
        limit: HISTORY_ROWS,
        ..window
    };
    panel.history = trading
        .history_orders(user_id, &recent)
        .await?
        .iter()
        .map(line)
        .collect();
    panel.fills = trading
        .user_trades(user_id, &recent)
        .await?
        .iter()
        .flat_map(|t| {
            // Each leg that is the user's (both, for a trade against oneself with `stpMode=none`).
            [(t.maker_user_id, true), (t.taker_user_id, false)]
                .into_iter()
                .filter(move |(owner, _)| *owner == user_id)
                .map(move |(_, maker)| (t, maker))
        })
        .map(|(t, maker)| {
            let taker_buys = t.taker_side == "buy";
            let (fee, fee_asset) = if maker {
                (t.maker_fee, &t.maker_fee_asset)
            } else {
                (t.taker_fee, &t.taker_fee_asset)
            };
            let scale = catalog.asset(fee_asset).map_or(0, |(_, a)| a.scale);
            FillLine {
                time: utc_time(t.timestamp_ms),
                side: String::from(if maker != taker_buys { "buy" } else { "sell" }),
                price: f.price(t.price_ticks),
                size: f.size(t.size_lots),
                fee: format!("{} {fee_asset}", bulwark_types::format_units(fee, scale)),
                role: String::from(if maker { "maker" } else { "taker" }),
            }
        })
        .collect();
    Ok(panel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shows_utc_time_of_day() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(86_399_000 + 86_400_000), "23:59:59");
        assert_eq!(clock(3_723_000), "01:02:03");
    }
}
