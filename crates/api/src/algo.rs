//! BitMart's spot algo endpoints (v4), which CCXT calls for `triggerPrice`, `stopLossPrice` and
//! `takeProfitPrice`: stop orders that the engine holds funds for and fires on the last trade
//! price (see the engine's `triggers` module). Placing parses the order exactly as
//! `submit_order` does, plus the trigger; queries read the `trigger_orders` read model through
//! the trading service.

use axum::extract::State;
use bulwark_engine::{Accepted, Command, NewTrigger};
use bulwark_sequencer::Catalog;
use bulwark_trading::TriggerRow;
use bulwark_types::parse_units;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::{Scope, Signing, authenticate};
use crate::envelope::{ApiError, ApiResult, ok};
use crate::extract::{RawRequest, text_param};
use crate::format::MarketFormat;
use crate::orders::{market_of, new_order, parse_client_order_id, reject_error, submit_failure};
use crate::private::{cancel_refused, check_trading_allowed, list_filter, order_target, user_of};

/// The order `type` a stop order places: CCXT sends `type` = `trigger` or `tp/sl` with
/// `trigger_type` = `limit` or `market`, or `limit_maker`/`ioc` for post-only and IOC limits.
fn placed_kind(body: &Map<String, Value>) -> Result<&'static str, ApiError> {
    match text_param(body, "type").as_deref() {
        Some("limit_maker") => return Ok("limit_maker"),
        Some("ioc") => return Ok("ioc"),
        Some("trigger" | "tp/sl") | None => {}
        Some(other) => {
            return Err(ApiError::bad(
                52000,
                format!(
                    "Unsupported algo order type '{other}': use trigger, tp/sl, limit_maker or ioc"
                ),
            ));
        }
    }
    match text_param(body, "trigger_type").as_deref() {
        Some("limit") | None => Ok("limit"),
        Some("market") => Ok("market"),
        Some(other) => Err(ApiError::bad(
            52000,
            format!("Invalid trigger_type '{other}': use limit or market"),
        )),
    }
}

/// The stop order of an algo `submit_order` body.
pub fn new_trigger(
    catalog: &Catalog,
    user: bulwark_types::UserId,
    body: &Map<String, Value>,
) -> Result<(bulwark_sequencer::MarketInfo, NewTrigger), ApiError> {
    let mut order_body = body.clone();
    order_body.insert("type".into(), Value::from(placed_kind(body)?));
    let (market, command) = new_order(catalog, user, &order_body)?;
    let Command::PlaceOrder(order) = command else {
        return Err(ApiError::internal("submit_order parsing gave no order"));
    };
    let trigger = text_param(body, "trigger_price")
        .or_else(|| text_param(body, "triggerPrice"))
        .filter(|text| !text.is_empty())
        .ok_or_else(|| ApiError::bad(50011, "Parameter trigger_price is required"))?;
    let trigger_price_ticks = parse_units(&trigger, market.spec.price_scale)
        .map_err(|e| ApiError::bad(50021, format!("Invalid trigger_price: {e}")))?;
    Ok((
        market,
        NewTrigger {
            order,
            trigger_price_ticks,
        },
    ))
}

/// `POST /spot/v4/algo/submit_order` → `{"order_id": "…"}`.
pub async fn submit_order(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    check_trading_allowed(&state, &caller, &request).await?;
    let body = request.json_object()?;
    let catalog = state.sequencer.catalog();
    let (market, trigger) = new_trigger(&catalog, user_of(&caller)?, &body)?;
    let side = Some(trigger.order.side);
    let receipt = state
        .submit(Command::PlaceTrigger(trigger))
        .await
        .map_err(submit_failure)?;
    match receipt.outcome {
        Ok(Accepted::Trigger { id }) => Ok(ok(json!({"order_id": id.0.to_string()}))),
        Ok(other) => Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
        Err(reject) => Err(reject_error(&reject, side, &catalog, Some(&market.spec))),
    }
}

/// `POST /spot/v4/algo/cancel_order` (`symbol`, `order_id` or `client_order_id`) →
/// `{"result": true}`. A stop order that already fired or was cancelled answers 50036/50030,
/// an unknown or foreign one 50032.
pub async fn cancel_order(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    let body = request.json_object()?;
    let catalog = state.sequencer.catalog();
    if let Some(symbol) = text_param(&body, "symbol") {
        market_of(&catalog, &symbol)?;
    }
    let target = order_target(&body)?;
    state
        .cancel_trigger(user_of(&caller)?, target)
        .await
        .map_err(|refused| cancel_refused(refused, &catalog))?;
    Ok(ok(json!({"result": true})))
}

/// `POST /spot/v4/algo/cancel_all` (optional `symbol`) → `{}`.
pub async fn cancel_all(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    let body = request.json_object()?;
    let catalog = state.sequencer.catalog();
    let market = match text_param(&body, "symbol").filter(|s| !s.is_empty()) {
        Some(symbol) => Some(market_of(&catalog, &symbol)?.id),
        None => None,
    };
    let command = Command::CancelAllTriggers {
        user: user_of(&caller)?,
        market,
    };
    let receipt = state.submit(command).await.map_err(submit_failure)?;
    match receipt.outcome {
        Ok(_) => Ok(ok(json!({}))),
        Err(reject) => Err(reject_error(&reject, None, &catalog, None)),
    }
}

/// The algo order object: the v4 order fields plus the trigger, its direction and, once it
/// fired, the order it placed (`state` is `new` while waiting, then `triggered`, `failed` or
/// `canceled`).
pub fn trigger_json(catalog: &Catalog, row: &TriggerRow) -> Value {
    let Some(f) = catalog
        .market(&row.symbol)
        .and_then(|m| MarketFormat::resolve(catalog, &m.spec))
    else {
        return json!({"orderId": row.trigger_id.to_string(), "symbol": row.symbol});
    };
    let notional = f.order_notional(&row.kind, row.price_ticks, row.size_lots, row.notional);
    let (kind, trigger_type) = match row.kind.as_str() {
        "market" => ("market", "market"),
        other => (other, "limit"),
    };
    json!({
        "orderId": row.trigger_id.to_string(),
        "clientOrderId": row.client_order_id.clone().unwrap_or_else(|| row.trigger_id.to_string()),
        "symbol": row.symbol, "side": row.side, "orderMode": "trigger", "type": kind,
        "triggerType": trigger_type, "state": row.state, "stpMode": row.stp,
        "price": f.price(row.price_ticks), "size": f.size(row.size_lots), "notional": f.quote(notional),
        "triggerPrice": f.price(row.trigger_price_ticks), "triggerDirection": row.direction,
        "triggeredOrderId": row.order_id.map(|id| id.to_string()).unwrap_or_default(),
        "failReason": row.fail_reason.clone().unwrap_or_default(),
        "priceAvg": f.price(0), "filledSize": f.size(0), "filledNotional": f.quote(0),
        "createTime": row.created_ms, "updateTime": row.updated_ms,
    })
}

/// `POST /spot/v4/query/algo/order` (`orderId`).
pub async fn query_order(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let body = request.json_object()?;
    let id: i64 = text_param(&body, "orderId")
        .or_else(|| text_param(&body, "order_id"))
        .ok_or_else(|| ApiError::bad(50005, "Order Id not found: orderId is required"))?
        .parse()
        .map_err(|_| ApiError::bad(50005, "Order Id not found"))?;
    let row = state
        .own_trigger(caller.user_id, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::bad(50005, "Order Id not found"))?;
    Ok(ok(trigger_json(&state.sequencer.catalog(), &row)))
}

/// `POST /spot/v4/query/algo/client-order` (`clientOrderId`).
pub async fn query_client_order(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let body = request.json_object()?;
    let client = parse_client_order_id(&body)?
        .ok_or_else(|| ApiError::bad(50005, "Order Id not found: clientOrderId is required"))?;
    let row = state
        .own_trigger_by_client_id(caller.user_id, client.as_str())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::bad(50005, "Order Id not found"))?;
    Ok(ok(trigger_json(&state.sequencer.catalog(), &row)))
}

async fn list(state: AppState, request: RawRequest, open: bool) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let catalog = state.sequencer.catalog();
    let filter = list_filter(&catalog, &request.json_object()?)?;
    let rows = state
        .triggers(caller.user_id, open, &filter.window())
        .await
        .map_err(ApiError::internal)?;
    Ok(ok(rows
        .iter()
        .map(|row| trigger_json(&catalog, row))
        .collect::<Vec<_>>()))
}

/// `POST /spot/v4/query/algo/open-orders`: waiting stop orders, newest first.
pub async fn open_orders(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    list(state, request, true).await
}

/// `POST /spot/v4/query/algo/history-orders`: fired, failed and cancelled stop orders.
pub async fn history_orders(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    list(state, request, false).await
}
