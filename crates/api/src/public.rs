//! Public endpoints: system, markets and market data (BitMart spot API §5; the currencies
//! list is custody's, in `funding`).

use axum::extract::State;
use axum::response::Response;
use bulwark_sequencer::{Catalog, MarketInfo};
use bulwark_trading::CandleWindow;
use serde_json::{Value, json};

use crate::AppState;
use crate::envelope::{ApiError, ApiResult, ok};
use crate::extract::{RawRequest, count_param, int_param, text_param};
use crate::format::MarketFormat;

/// Order book levels returned when the client does not ask (BitMart default).
pub const BOOK_LEVELS_DEFAULT: i64 = 35;
pub const BOOK_LEVELS_MAX: i64 = 50;
pub const PUBLIC_TRADES_DEFAULT: i64 = 50;
pub const PUBLIC_TRADES_MAX: i64 = 50;
pub const KLINES_DEFAULT: u32 = 100;
pub const KLINES_MAX: u32 = 200;

/// `GET /system/time` (§5.1).
pub async fn system_time() -> Response {
    ok(json!({"server_time": crate::now_ms()}))
}

/// `GET /system/service` (§5.2): status 2 means "ok" to ccxt; a global halt shows as maintenance.
pub async fn system_service(State(state): State<AppState>) -> Response {
    let status = if state.sequencer.catalog().global_halted {
        1
    } else {
        2
    };
    ok(
        json!({"service": [{"title": "Spot API", "service_type": "spot", "status": status, "start_time": 0, "end_time": 0}]}),
    )
}

/// `GET /spot/v1/symbols/details` (§5.4): amount step = `base_min_size`, price tick =
/// 10^-`price_max_precision`, minimum cost = `min_buy_amount`.
pub async fn symbols_details(State(state): State<AppState>) -> Response {
    let catalog = state.sequencer.catalog();
    let symbols: Vec<Value> = catalog
        .markets
        .iter()
        .filter_map(|m| symbol_detail(&catalog, m))
        .collect();
    ok(json!({"symbols": symbols}))
}

fn symbol_detail(catalog: &Catalog, market: &MarketInfo) -> Option<Value> {
    let f = MarketFormat::resolve(catalog, &market.spec)?;
    let min_notional = f.quote(market.spec.min_notional);
    Some(json!({
        "symbol": market.spec.symbol, "symbol_id": market.id.0 + 1,
        "base_currency": f.base.code, "quote_currency": f.quote.code,
        "quote_increment": f.size(1), "base_min_size": f.size(market.spec.min_size_lots),
        "base_max_size": f.size(market.spec.max_size_lots),
        "price_min_precision": market.spec.price_scale, "price_max_precision": market.spec.price_scale,
        "expiration": "NA", "min_buy_amount": min_notional, "min_sell_amount": min_notional,
        "trade_status": if market.halted { "pre-trade" } else { "trading" },
    }))
}

/// `GET /contract/public/details` (§5.5): there are no contract markets.
pub async fn contract_details() -> Response {
    ok(json!({"symbols": []}))
}

fn market_param(catalog: &Catalog, request: &RawRequest) -> Result<MarketInfo, ApiError> {
    let query = request.query_map();
    let symbol = text_param(&query, "symbol")
        .ok_or_else(|| ApiError::bad(70001, "Parameter symbol can not be null"))?;
    catalog
        .market(&symbol)
        .cloned()
        .ok_or_else(|| ApiError::bad(70002, format!("Symbol is invalid: {symbol}")))
}

fn limit_param(request: &RawRequest, default: i64, max: i64) -> Result<usize, ApiError> {
    let limit = int_param(&request.query_map(), "limit")?.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad(
            50021,
            format!("Invalid limit: must be between 1 and {max}"),
        ));
    }
    Ok(usize::try_from(limit).unwrap_or(1))
}

/// Ticker fields as one JSON object (the v3 shape of §5.6).
async fn ticker_value(
    state: &AppState,
    catalog: &Catalog,
    market: &MarketInfo,
) -> Result<Value, ApiError> {
    let f = MarketFormat::resolve(catalog, &market.spec)
        .ok_or_else(|| ApiError::internal("market assets missing"))?;
    let now = crate::now_ms();
    let t = state
        .ticker(market, now)
        .await
        .map_err(ApiError::internal)?;
    let level = |level: Option<(i64, i64)>| {
        level.map_or((String::new(), String::new()), |(p, s)| {
            (f.price(p), f.size(s))
        })
    };
    let ((bid_px, bid_sz), (ask_px, ask_sz)) = (level(t.best_bid), level(t.best_ask));
    Ok(
        json!({"symbol": market.spec.symbol, "last": f.price(t.last_ticks), "v_24h": f.size(t.volume_lots),
              "qv_24h": f.quote(t.volume_quote), "open_24h": f.price(t.open_ticks),
              "high_24h": f.price(t.high_ticks), "low_24h": f.price(t.low_ticks),
              "fluctuation": bulwark_types::format_units(t.change_e5, 5),
              "bid_px": bid_px, "bid_sz": bid_sz, "ask_px": ask_px, "ask_sz": ask_sz, "ts": now.to_string()}),
    )
}

/// `GET /spot/quotation/v3/ticker?symbol=` (§5.6).
pub async fn ticker(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let catalog = state.sequencer.catalog();
    let market = market_param(&catalog, &request)?;
    Ok(ok(ticker_value(&state, &catalog, &market).await?))
}

/// `GET /spot/quotation/v3/tickers` (§5.7): an array of arrays.
pub async fn tickers(State(state): State<AppState>) -> ApiResult {
    let catalog = state.sequencer.catalog();
    let mut rows = Vec::new();
    for market in &catalog.markets {
        let t = ticker_value(&state, &catalog, market).await?;
        let field = |k: &str| t.get(k).cloned().unwrap_or(Value::Null);
        rows.push(json!([
            field("symbol"),
            field("last"),
            field("v_24h"),
            field("qv_24h"),
            field("open_24h"),
            field("high_24h"),
            field("low_24h"),
            field("fluctuation"),
            field("bid_px"),
            field("bid_sz"),
            field("ask_px"),
            field("ask_sz"),
            field("ts")
        ]));
    }
    Ok(ok(rows))
}

/// `GET /spot/quotation/v3/books?symbol=&limit=` (§5.8).
pub async fn books(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let catalog = state.sequencer.catalog();
    let market = market_param(&catalog, &request)?;
    let limit = limit_param(&request, BOOK_LEVELS_DEFAULT, BOOK_LEVELS_MAX)?;
    let f = MarketFormat::resolve(&catalog, &market.spec)
        .ok_or_else(|| ApiError::internal("market assets missing"))?;
    let depth = state.sequencer.depth(market.id).unwrap_or_default();
    let side = |levels: &[(i64, i64)]| -> Vec<Value> {
        levels
            .iter()
            .take(limit)
            .map(|&(p, s)| json!([f.price(p), f.size(s)]))
            .collect()
    };
    Ok(ok(
        json!({"ts": depth.timestamp_ms.to_string(), "symbol": market.spec.symbol,
                 "bids": side(&depth.bids), "asks": side(&depth.asks)}),
    ))
}

/// `GET /spot/quotation/v3/trades?symbol=&limit=` (§5.9): `[symbol, ts, price, size, side]`.
pub async fn trades(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let catalog = state.sequencer.catalog();
    let market = market_param(&catalog, &request)?;
    let limit = limit_param(&request, PUBLIC_TRADES_DEFAULT, PUBLIC_TRADES_MAX)?;
    let f = MarketFormat::resolve(&catalog, &market.spec)
        .ok_or_else(|| ApiError::internal("market assets missing"))?;
    let rows = state
        .recent_trades(&market.spec.symbol, u32::try_from(limit).unwrap_or(50))
        .await
        .map_err(ApiError::internal)?;
    let data: Vec<Value> = rows
        .iter()
        .map(|t| {
            json!([
                t.symbol,
                t.timestamp_ms.to_string(),
                f.price(t.price_ticks),
                f.size(t.size_lots),
                t.taker_side
            ])
        })
        .collect();
    Ok(ok(data))
}

/// A kline time bound (`after` or `before`): whole seconds since the epoch, never negative.
fn seconds_param(request: &RawRequest, name: &str, code: u32) -> Result<Option<i64>, ApiError> {
    let Some(text) = text_param(&request.query_map(), name) else {
        return Ok(None);
    };
    match text.parse::<i64>() {
        Ok(seconds) if seconds >= 0 => Ok(Some(seconds)),
        _ => Err(ApiError::bad(
            code,
            format!("Invalid {name}: must be a time in whole seconds, 0 or more"),
        )),
    }
}

/// `GET /spot/quotation/v3/klines` and `lite-klines` (§5.10): with `after`, the oldest `limit`
/// candles opening after it (how CCXT pages forwards); otherwise the newest `limit` opening at
/// or before `before` (default now). Rows are `[t_s, open, high, low, close, base_vol,
/// quote_vol]`, oldest first; intervals without trades have no row.
pub async fn klines(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let catalog = state.sequencer.catalog();
    let market = market_param(&catalog, &request)?;
    let query = request.query_map();
    let step = match text_param(&query, "step") {
        None => 1,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|step| bulwark_types::candle::is_step(*step))
            .ok_or_else(|| {
                ApiError::bad(
                    71005,
                    format!(
                        "Invalid step: {text}; use one of {:?} (minutes)",
                        bulwark_types::candle::STEPS_MINUTES
                    ),
                )
            })?,
    };
    let limit = count_param(&query, "limit", KLINES_DEFAULT, KLINES_MAX, 71004)?;
    let after = seconds_param(&request, "after", 71001)?;
    let before = seconds_param(&request, "before", 71002)?;
    if let (Some(after), Some(before)) = (after, before)
        && after >= before
    {
        return Err(ApiError::bad(
            71003,
            format!("Invalid range: after ({after}) must be earlier than before ({before})"),
        ));
    }
    let window = match after {
        Some(after_s) => CandleWindow::After {
            after_s,
            before_s: before,
        },
        None => CandleWindow::Before {
            before_s: before.unwrap_or_else(|| crate::now_ms().div_euclid(1_000)),
        },
    };
    let f = MarketFormat::resolve(&catalog, &market.spec)
        .ok_or_else(|| ApiError::internal("market assets missing"))?;
    let rows = state
        .candles(&market.spec.symbol, step, window, limit)
        .await
        .map_err(ApiError::internal)?;
    let data: Vec<Value> = rows
        .iter()
        .map(|c| {
            json!([
                c.open_s.to_string(),
                f.price(c.open_ticks),
                f.price(c.high_ticks),
                f.price(c.low_ticks),
                f.price(c.close_ticks),
                f.size(c.volume_lots),
                f.quote(c.volume_quote)
            ])
        })
        .collect();
    Ok(ok(data))
}
