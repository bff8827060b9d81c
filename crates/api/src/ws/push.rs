//! The JSON of every public push, in BitMart's shapes (reference: the spot WebSocket protocol).
//! Each push carries `table` and `data`; replies (acks, errors) never carry `data`, because
//! clients such as CCXT tell the two apart by that key.

use std::sync::Arc;

use bulwark_engine::TradeView;
use bulwark_sequencer::DepthView;
use bulwark_trading::CandleRow;
use bulwark_trading::reads::Ticker;
use bulwark_types::Side;
use serde_json::{Value, json};

use crate::format::MarketFormat;
use crate::ws::hub::Message;

fn message(value: &Value) -> Message {
    Arc::from(value.to_string())
}

/// `{"table": …, "data": [item]}`.
fn push(table: &str, item: Value) -> Message {
    message(&json!({"table": table, "data": [item]}))
}

/// `{"event":"subscribe"|"unsubscribe","topic":…}`.
pub fn ack(event: &str, topic: &str) -> Message {
    message(&json!({"event": event, "topic": topic}))
}

/// `{"event":"error","message":…,"errorCode":…}`.
pub fn error(code: u32, text: &str) -> Message {
    message(&json!({"event": "error", "message": text, "errorCode": code}))
}

fn levels(f: &MarketFormat<'_>, side: &[(i64, i64)], count: usize) -> Vec<Value> {
    side.iter()
        .take(count)
        .map(|&(price, size)| json!([f.price(price), f.size(size)]))
        .collect()
}

/// A full book of the top `count` levels (`spot/depth5|20|50`).
pub fn depth(f: &MarketFormat<'_>, table: &str, view: &DepthView, count: usize) -> Message {
    push(
        table,
        json!({"symbol": f.spec.symbol, "ms_t": view.timestamp_ms,
               "bids": levels(f, &view.bids, count), "asks": levels(f, &view.asks, count)}),
    )
}

/// An incremental-depth push: `snapshot` (whole book) or `update` (changed levels only).
pub fn depth_increase(
    f: &MarketFormat<'_>,
    kind: &str,
    version: u64,
    timestamp_ms: i64,
    bids: &[(i64, i64)],
    asks: &[(i64, i64)],
) -> Message {
    push(
        "spot/depth/increase100",
        json!({"symbol": f.spec.symbol, "type": kind, "version": version, "ms_t": timestamp_ms,
               "bids": levels(f, bids, usize::MAX), "asks": levels(f, asks, usize::MAX)}),
    )
}

fn best(f: &MarketFormat<'_>, level: Option<(i64, i64)>) -> (String, String) {
    level.map_or((String::new(), String::new()), |(price, size)| {
        (f.price(price), f.size(size))
    })
}

/// Best bid and ask (`spot/bookTicker`).
pub fn book_ticker(f: &MarketFormat<'_>, view: &DepthView) -> Message {
    let (bid_px, bid_sz) = best(f, view.bids.first().copied());
    let (ask_px, ask_sz) = best(f, view.asks.first().copied());
    push(
        "spot/bookTicker",
        json!({"symbol": f.spec.symbol, "bid_px": bid_px, "bid_sz": bid_sz,
               "ask_px": ask_px, "ask_sz": ask_sz, "ms_t": view.timestamp_ms}),
    )
}

/// The 24-hour ticker (`spot/ticker`), with `quote_volume_24h` so clients never mistake the
/// base volume for the quote volume.
pub fn ticker(f: &MarketFormat<'_>, t: &Ticker, now_ms: i64) -> Message {
    let (bid_px, bid_sz) = best(f, t.best_bid);
    let (ask_px, ask_sz) = best(f, t.best_ask);
    push(
        "spot/ticker",
        json!({"symbol": f.spec.symbol, "last_price": f.price(t.last_ticks),
               "open_24h": f.price(t.open_ticks), "high_24h": f.price(t.high_ticks),
               "low_24h": f.price(t.low_ticks), "base_volume_24h": f.size(t.volume_lots),
               "quote_volume_24h": f.quote(t.volume_quote),
               "fluctuation": bulwark_types::format_units(t.change_e5, 5),
               "s_t": now_ms.div_euclid(1_000), "ms_t": now_ms,
               "bid_px": bid_px, "bid_sz": bid_sz, "ask_px": ask_px, "ask_sz": ask_sz}),
    )
}

/// Trades of one market, oldest first (`spot/trade`); `side` is the taker's and `m` says
/// whether the buyer was the maker.
pub fn trades(f: &MarketFormat<'_>, trades: &[TradeView]) -> Message {
    let items: Vec<Value> = trades
        .iter()
        .map(|t| {
            json!({"symbol": f.spec.symbol, "price": f.price(t.price_ticks),
                   "size": f.size(t.size_lots), "side": t.taker_side.as_str(),
                   "m": t.taker_side == Side::Sell,
                   "s_t": t.timestamp_ms.div_euclid(1_000), "ms_t": t.timestamp_ms})
        })
        .collect();
    message(&json!({"table": "spot/trade", "data": items}))
}

/// The current candle of one interval (`spot/kline…`), open time in seconds.
pub fn kline(f: &MarketFormat<'_>, table: &str, candle: &CandleRow) -> Message {
    push(
        table,
        json!({"symbol": f.spec.symbol, "candle": [candle.open_s, f.price(candle.open_ticks),
               f.price(candle.high_ticks), f.price(candle.low_ticks),
               f.price(candle.close_ticks), f.size(candle.volume_lots)]}),
    )
}
