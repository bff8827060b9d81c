//! The JSON of every public push, in BitMart's shapes (reference: the spot WebSocket protocol).
//! Each push carries `table` and `data`; replies (acks, errors) never carry `data`, because
//! clients such as CCXT tell the two apart by that key.

use bulwark_engine::TradeView;
use bulwark_sequencer::DepthView;
use bulwark_trading::CandleRow;
use bulwark_trading::reads::Ticker;
use bulwark_types::Side;
use serde_json::{Value, json};

use crate::format::MarketFormat;
use crate::ws::hub::Message;

fn message(value: &Value) -> Message {
    Message::from(value.to_string())
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

/// What the order push says about the fill that produced it, when one did.
#[derive(Debug, Clone, Copy)]
pub struct LastFill {
    pub trade_id: u64,
    pub price_ticks: i64,
    pub size_lots: i64,
    pub timestamp_ms: i64,
}

/// One order event (`spot/user/order`): the v4 order object's figures in BitMart's push names,
/// with the numeric `state` and `clientOid` that CCXT reads.
pub fn user_order(
    f: &MarketFormat<'_>,
    v4: &Value,
    fee_coin: &str,
    fee: &str,
    fill: Option<LastFill>,
) -> Message {
    let field = |name: &str| v4.get(name).cloned().unwrap_or(Value::Null);
    let state = field("state");
    let numeric = crate::private::numeric_state(state.as_str().unwrap_or_default());
    let text = |value: Value| match value {
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    };
    let (fill_time, fill_price, fill_size, detail, exec) = match fill {
        Some(fill) => (
            fill.timestamp_ms.to_string(),
            f.price(fill.price_ticks),
            f.size(fill.size_lots),
            fill.trade_id.to_string(),
            "T",
        ),
        None => (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "",
        ),
    };
    push(
        "spot/user/order",
        json!({"symbol": f.spec.symbol, "order_id": field("orderId"),
               "client_order_id": field("clientOrderId"), "clientOid": field("clientOrderId"),
               "side": field("side"), "type": field("type"), "notional": field("notional"),
               "price": field("price"), "size": field("size"), "filled_size": field("filledSize"),
               "filled_notional": field("filledNotional"), "state": numeric, "order_state": state,
               "ms_t": text(field("updateTime")), "create_time": text(field("createTime")),
               "update_time": text(field("updateTime")), "last_fill_time": fill_time,
               "last_fill_price": fill_price, "last_fill_count": fill_size, "exec_type": exec,
               "detail_id": detail, "dealFee": fee, "deal_fee_coin_name": fee_coin,
               "margin_trading": "0", "order_type": "0", "order_mode": "0",
               "entrust_type": "normal"}),
    )
}

/// One currency's balance after a change (`spot/user/balance`): exactly one `data` item with
/// exactly one `balance_details` entry, the only layout CCXT 4.5.70 reads correctly.
pub fn user_balance(code: &str, available: &str, held: &str, at_ms: i64) -> Message {
    push(
        "spot/user/balance",
        json!({"event_type": "TRANSACTION_COMPLETED", "event_time": at_ms.to_string(),
               "balance_details": [{"ccy": code, "av_bal": available, "fz_bal": held}]}),
    )
}

/// `{"event":"login"}`.
pub fn logged_in() -> Message {
    message(&json!({"event": "login"}))
}
