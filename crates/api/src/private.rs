//! Signed spot endpoints (BitMart spot API §6): wallet, place, cancel, and order/trade queries.
//!
//! Writes go to the sequencer and are answered once the command is durable. Reads come from the
//! SQL read models through the trading service, which first lets them catch up with everything
//! durable, so a client can read its own write at once.

use axum::extract::State;
use bulwark_engine::{Accepted, Command, OrderTarget};
use bulwark_sequencer::{Catalog, Receipt};
use bulwark_trading::cancels::CancelRefused;
use bulwark_trading::reads::Window;
use bulwark_trading::{OrderRow, TradeRow};
use bulwark_types::UserId;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::{Caller, Scope, Signing, authenticate};
use crate::envelope::{ApiError, ApiResult, ok};
use crate::extract::{RawRequest, int_param, text_param};
use crate::format::MarketFormat;
use crate::orders::{
    market_of, new_order, parse_client_order_id, parse_side, placement_failure, reject_error,
    submit_failure,
};

/// Most orders or trades one query returns (BitMart: 200).
pub const QUERY_ROWS_MAX: i64 = 200;

pub(crate) fn user_of(caller: &Caller) -> Result<UserId, ApiError> {
    u64::try_from(caller.user_id)
        .map(UserId)
        .map_err(ApiError::internal)
}

async fn submit(state: &AppState, command: Command) -> Result<Receipt, ApiError> {
    state.submit(command).await.map_err(submit_failure)
}

/// KYC and region gating of order placement: L1 or higher, and neither the request's country
/// nor the user's residence restricted (30019 / 30020, HTTP 403). Cancels stay allowed.
pub(crate) async fn check_trading_allowed(
    state: &AppState,
    caller: &Caller,
    request: &RawRequest,
) -> Result<(), ApiError> {
    let ip = state.access.client_ip(
        request.peer.ip(),
        &crate::v1::guard::forwarded_for(&request.headers),
    );
    let country = state.access.country(ip);
    let refusal = state
        .check_trade(caller.user_id, country.as_deref())
        .await
        .map_err(ApiError::internal)?;
    match refusal {
        None => Ok(()),
        Some(refusal) => {
            let (code, message) = refusal.bitmart();
            Err(ApiError::forbidden(code, message))
        }
    }
}

/// `GET /spot/v1/wallet` (§6.1); a BitMart KEYED endpoint, so key-only requests are accepted.
pub async fn wallet(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::KeyedRead).await?;
    let catalog = state.sequencer.catalog();
    let rows = state
        .balances(caller.user_id)
        .await
        .map_err(ApiError::internal)?;
    let wallet: Vec<Value> = catalog
        .assets
        .iter()
        .map(|asset| {
            let row = rows.iter().find(|r| r.asset == asset.code);
            let (available, held) = row.map_or((0, 0), |r| (r.available, r.held));
            json!({"id": asset.code, "currency": asset.code, "name": asset.name,
                   "available": bulwark_types::format_units(available, asset.scale),
                   "frozen": bulwark_types::format_units(held, asset.scale)})
        })
        .collect();
    Ok(ok(json!({"wallet": wallet})))
}

/// `POST /spot/v2/submit_order` (§6.2).
pub async fn submit_order(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    check_trading_allowed(&state, &caller, &request).await?;
    let body = request.json_object()?;
    let catalog = state.sequencer.catalog();
    let (market, command) = new_order(&catalog, user_of(&caller)?, &body)?;
    let side = match &command {
        Command::PlaceOrder(order) => Some(order.side),
        _ => None,
    };
    let receipt = state
        .submit(command)
        .await
        .map_err(|failure| placement_failure(failure, &market.spec))?;
    match receipt.outcome {
        Ok(Accepted::Order { id }) => Ok(ok(json!({"order_id": id.0.to_string()}))),
        Ok(other) => Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
        Err(reject) => Err(reject_error(&reject, side, &catalog, Some(&market.spec))),
    }
}

pub(crate) fn order_target(body: &Map<String, Value>) -> Result<OrderTarget, ApiError> {
    if let Some(id) = text_param(body, "order_id")
        .or_else(|| text_param(body, "orderId"))
        .filter(|s| !s.is_empty())
    {
        let id = id
            .parse::<u64>()
            .map_err(|_| ApiError::bad(50032, "Order does not exist: order_id must be a number"))?;
        return Ok(OrderTarget::Id(bulwark_types::OrderId(id)));
    }
    match parse_client_order_id(body)? {
        Some(client) => Ok(OrderTarget::Client(client)),
        None => Err(ApiError::bad(
            50039,
            "Parameter order_id or client_order_id is required",
        )),
    }
}

/// `POST /spot/v3/cancel_order` (§6.3). A finished order answers 50030/50031, an unknown or
/// foreign one 50032 — never `result:false`.
pub async fn cancel_order(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    let body = request.json_object()?;
    let catalog = state.sequencer.catalog();
    if let Some(symbol) = text_param(&body, "symbol") {
        market_of(&catalog, &symbol)?;
    }
    let target = order_target(&body)?;
    state
        .cancel_order(user_of(&caller)?, target)
        .await
        .map_err(|refused| cancel_refused(refused, &catalog))?;
    Ok(ok(json!({"result": true})))
}

/// BitMart's code for a cancel that did not take effect: never `result:false`.
pub fn cancel_refused(refused: CancelRefused, catalog: &Catalog) -> ApiError {
    match refused {
        CancelRefused::Unknown => ApiError::bad(50032, "Order does not exist"),
        CancelRefused::AlreadyCanceled => ApiError::bad(50030, "Order is already canceled"),
        CancelRefused::AlreadyFilled => ApiError::bad(50031, "Order is already completed"),
        CancelRefused::AlreadyFired => ApiError::bad(
            50036,
            "Order is not in a cancellable state: the stop order already fired",
        ),
        CancelRefused::NotCancellable => {
            ApiError::bad(50036, "Order is not in a cancellable state")
        }
        CancelRefused::Rejected(reject) => reject_error(&reject, None, catalog, None),
        CancelRefused::Submit(failure) => submit_failure(failure),
        CancelRefused::Store(error) => ApiError::internal(error),
    }
}

/// `POST /spot/v4/cancel_all` (§6.4): optionally one symbol and one side.
pub async fn cancel_all(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    let body = request.json_object()?;
    let catalog = state.sequencer.catalog();
    let market = match text_param(&body, "symbol") {
        Some(symbol) => Some(market_of(&catalog, &symbol)?.id),
        None => None,
    };
    let side = if body.contains_key("side") {
        Some(parse_side(&body)?)
    } else {
        None
    };
    let receipt = submit(
        &state,
        Command::CancelAll {
            user: user_of(&caller)?,
            market,
            side,
        },
    )
    .await?;
    match receipt.outcome {
        Ok(_) => Ok(ok(json!({}))),
        Err(reject) => Err(reject_error(&reject, None, &catalog, None)),
    }
}

/// The numeric state of a v4 `state` as BitMart's v1–v3 order objects and order pushes carry
/// it: 4 pending, 5 partially filled, 6 filled, 8 canceled (with or without fills).
pub fn numeric_state(state: &str) -> &'static str {
    match state {
        "new" => "4",
        "partially_filled" => "5",
        "filled" => "6",
        _ => "8",
    }
}

/// The v4 order object (§6.5).
pub fn order_json(catalog: &Catalog, row: &OrderRow) -> Value {
    let Some(f) = catalog
        .market(&row.symbol)
        .and_then(|m| MarketFormat::resolve(catalog, &m.spec))
    else {
        return json!({"orderId": row.order_id.to_string(), "symbol": row.symbol});
    };
    let notional = f.order_notional(&row.kind, row.price_ticks, row.size_lots, row.notional);
    // A market buy stops when what is left of its notional cannot buy one more lot; BitMart calls
    // such an order filled, and so do we (the unspent remainder was refunded).
    let state = if row.kind == "market"
        && row.cancel_reason.as_deref() == Some("notional_exhausted")
        && row.filled_lots > 0
    {
        "filled"
    } else {
        row.state.as_str()
    };
    json!({
        "orderId": row.order_id.to_string(),
        "clientOrderId": row.client_order_id.clone().unwrap_or_else(|| row.order_id.to_string()),
        "symbol": row.symbol, "side": row.side, "orderMode": "spot", "type": row.kind, "state": state,
        "cancelSource": row.cancel_reason.clone().unwrap_or_default(), "stpMode": row.stp,
        "price": f.price(row.price_ticks), "priceAvg": f.average_price(row.filled_quote, row.filled_lots),
        "size": f.size(row.size_lots), "filledSize": f.size(row.filled_lots),
        "notional": f.quote(notional), "filledNotional": f.quote(row.filled_quote),
        "createTime": row.created_ms, "updateTime": row.updated_ms,
    })
}

/// `POST /spot/v4/query/order` (§6.6).
pub async fn query_order(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let body = request.json_object()?;
    let id = text_param(&body, "orderId")
        .or_else(|| text_param(&body, "order_id"))
        .ok_or_else(|| ApiError::bad(50005, "Order Id not found: orderId is required"))?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad(50005, "Order Id not found"))?;
    let row = state
        .own_order(caller.user_id, id)
        .await
        .map_err(ApiError::internal)?;
    match row {
        Some(row) => Ok(ok(order_json(&state.sequencer.catalog(), &row))),
        _ => Err(ApiError::bad(50005, "Order Id not found")),
    }
}

/// `POST /spot/v4/query/client-order` (§6.6).
pub async fn query_client_order(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let body = request.json_object()?;
    let client = parse_client_order_id(&body)?
        .ok_or_else(|| ApiError::bad(50005, "Order Id not found: clientOrderId is required"))?;
    let row = state
        .own_order_by_client_id(caller.user_id, client.as_str())
        .await
        .map_err(ApiError::internal)?;
    match row {
        Some(row) => Ok(ok(order_json(&state.sequencer.catalog(), &row))),
        None => Err(ApiError::bad(50005, "Order Id not found")),
    }
}

pub(crate) struct ListFilter {
    symbol: Option<String>,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    limit: u32,
}

impl ListFilter {
    pub(crate) fn window(&self) -> Window<'_> {
        Window {
            symbol: self.symbol.as_deref(),
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            limit: self.limit,
        }
    }
}

pub(crate) fn list_filter(
    catalog: &Catalog,
    body: &Map<String, Value>,
) -> Result<ListFilter, ApiError> {
    let symbol = text_param(body, "symbol");
    if let Some(symbol) = &symbol {
        market_of(catalog, symbol)?;
    }
    let limit = int_param(body, "limit")?.unwrap_or(QUERY_ROWS_MAX);
    if !(1..=QUERY_ROWS_MAX).contains(&limit) {
        return Err(ApiError::bad(
            50021,
            format!("Invalid limit: must be between 1 and {QUERY_ROWS_MAX}"),
        ));
    }
    let start_ms = int_param(body, "startTime")?;
    let end_ms = int_param(body, "endTime")?;
    if let (Some(start), Some(end)) = (start_ms, end_ms)
        && end < start
    {
        return Err(ApiError::bad(52004, "endTime must not be before startTime"));
    }
    Ok(ListFilter {
        symbol,
        start_ms,
        end_ms,
        limit: u32::try_from(limit).unwrap_or(200),
    })
}

/// `POST /spot/v4/query/open-orders` (§6.7).
pub async fn open_orders(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let catalog = state.sequencer.catalog();
    let filter = list_filter(&catalog, &request.json_object()?)?;
    let rows = state
        .open_orders(caller.user_id, &filter.window())
        .await
        .map_err(ApiError::internal)?;
    Ok(ok(rows
        .iter()
        .map(|r| order_json(&catalog, r))
        .collect::<Vec<_>>()))
}

/// `POST /spot/v4/query/history-orders` (§6.7): filled and cancelled orders.
pub async fn history_orders(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let catalog = state.sequencer.catalog();
    let f = list_filter(&catalog, &request.json_object()?)?;
    let rows = state
        .history_orders(caller.user_id, &f.window())
        .await
        .map_err(ApiError::internal)?;
    Ok(ok(rows
        .iter()
        .map(|r| order_json(&catalog, r))
        .collect::<Vec<_>>()))
}

/// A trade as one user saw it (§6.8); a self-trade gives two rows, one per role.
fn trade_json(catalog: &Catalog, trade: &TradeRow, user_id: i64) -> Vec<Value> {
    let Some(f) = catalog
        .market(&trade.symbol)
        .and_then(|m| MarketFormat::resolve(catalog, &m.spec))
    else {
        return Vec::new();
    };
    let maker_side = if trade.taker_side == "buy" {
        "sell"
    } else {
        "buy"
    };
    let roles = [
        (
            trade.taker_user_id,
            trade.taker_order_id,
            trade.taker_side.as_str(),
            trade.taker_fee,
            &trade.taker_fee_asset,
            "taker",
        ),
        (
            trade.maker_user_id,
            trade.maker_order_id,
            maker_side,
            trade.maker_fee,
            &trade.maker_fee_asset,
            "maker",
        ),
    ];
    roles
        .iter()
        .filter(|role| role.0 == user_id)
        .map(|&(_, order_id, side, fee, fee_asset, role)| {
            let fee_scale = catalog.asset(fee_asset).map_or(0, |(_, a)| a.scale);
            json!({"tradeId": trade.trade_id.to_string(), "orderId": order_id.to_string(), "clientOrderId": "",
                   "symbol": trade.symbol, "side": side, "orderMode": "spot", "type": "limit", "stpMode": "none",
                   "price": f.price(trade.price_ticks), "size": f.size(trade.size_lots),
                   "notional": f.quote(trade.quote_amount), "fee": bulwark_types::format_units(fee, fee_scale),
                   "feeCoinName": fee_asset, "tradeRole": role,
                   "createTime": trade.timestamp_ms, "updateTime": trade.timestamp_ms})
        })
        .collect()
}

/// `POST /spot/v4/query/trades` (§6.8).
pub async fn my_trades(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let catalog = state.sequencer.catalog();
    let f = list_filter(&catalog, &request.json_object()?)?;
    let rows = state
        .user_trades(caller.user_id, &f.window())
        .await
        .map_err(ApiError::internal)?;
    Ok(ok(rows
        .iter()
        .flat_map(|t| trade_json(&catalog, t, caller.user_id))
        .collect::<Vec<_>>()))
}

/// `POST /spot/v4/query/order-trades` (§6.8).
pub async fn order_trades(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let body = request.json_object()?;
    let id: i64 = text_param(&body, "orderId")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::bad(50005, "Order Id not found: orderId is required"))?;
    let Some(rows) = state
        .own_order_trades(caller.user_id, id)
        .await
        .map_err(ApiError::internal)?
    else {
        return Err(ApiError::bad(50005, "Order Id not found"));
    };
    let catalog = state.sequencer.catalog();
    Ok(ok(rows
        .iter()
        .flat_map(|t| trade_json(&catalog, t, caller.user_id))
        .filter(|v| v.get("orderId").and_then(Value::as_str) == Some(&id.to_string()))
        .collect::<Vec<_>>()))
}

/// Used by the fee lookup of clients that ask (`/spot/v1/trade_fee`).
pub async fn trade_fee(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    authenticate(&state, &request, Scope::Read, Signing::KeyedRead).await?;
    let catalog = state.sequencer.catalog();
    let symbol = text_param(&request.query_map(), "symbol")
        .ok_or_else(|| ApiError::bad(50001, "Parameter symbol is required"))?;
    let market = market_of(&catalog, &symbol)?;
    let rate = |ppm: u32| bulwark_types::format_units(i64::from(ppm), 6);
    let (maker, taker) = (
        rate(market.spec.maker_fee_ppm),
        rate(market.spec.taker_fee_ppm),
    );
    Ok(ok(
        json!({"symbol": symbol, "maker_fee_rate": maker, "taker_fee_rate": taker,
                 "buy_maker_fee_rate": maker, "sell_maker_fee_rate": maker,
                 "buy_taker_fee_rate": taker, "sell_taker_fee_rate": taker}),
    ))
}
