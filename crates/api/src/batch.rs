//! Several orders in one request (BitMart spot API v4): `batch_orders` places up to ten orders in
//! one market and `cancel_orders` cancels up to ten by id or client id. Each order is still its
//! own engine command, journaled and acknowledged like a single one; the batch only saves round
//! trips.
//!
//! Every order of a batch is parsed before any is sent, so a malformed item refuses the whole
//! request and places nothing. The engine can still refuse an order that parsed (funds, a
//! duplicate client id): placing stops there, and the error names the refused item and the ids
//! of the orders already placed before it, so the client knows exactly what rests on the book.

use axum::extract::State;
use bulwark_engine::{Accepted, Command, OrderTarget};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::{Scope, Signing, authenticate};
use crate::envelope::{ApiError, ApiResult, ok};
use crate::extract::{RawRequest, text_param};
use crate::orders::{market_of, new_order, parse_client_order_id, reject_error};
use crate::private::{check_trading_allowed, submit, user_of};

/// Most orders one batch request may place or cancel (BitMart: 10).
pub const BATCH_ORDERS_MAX: usize = 10;

fn symbol_of(body: &Map<String, Value>) -> Result<String, ApiError> {
    text_param(body, "symbol")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad(50001, "Parameter symbol is required"))
}

fn batch_items<'b>(body: &'b Map<String, Value>, field: &str) -> Result<&'b [Value], ApiError> {
    let items = body
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad(50021, format!("Invalid {field}: must be a list")))?;
    if items.is_empty() || items.len() > BATCH_ORDERS_MAX {
        return Err(ApiError::bad(
            50021,
            format!("Invalid {field}: give 1 to {BATCH_ORDERS_MAX} items"),
        ));
    }
    Ok(items)
}

/// `POST /spot/v4/batch_orders` `{"symbol", "orderParams": [{side, type, size|notional,
/// price, clientOrderId|client_order_id, stpMode}, …]}` → `{"code":0,"msg":"success",
/// "data":{"orderIds":[…]}}` in the order given.
pub async fn batch_orders(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    check_trading_allowed(&state, &caller, &request).await?;
    let body = request.json_object()?;
    let symbol = symbol_of(&body)?;
    let catalog = state.sequencer.catalog();
    market_of(&catalog, &symbol)?;
    let user = user_of(&caller)?;
    let mut commands = Vec::new();
    for (index, item) in batch_items(&body, "orderParams")?.iter().enumerate() {
        let mut params = item.as_object().cloned().ok_or_else(|| {
            ApiError::bad(
                50021,
                format!("Invalid orderParams[{index}]: not an object"),
            )
        })?;
        params.insert("symbol".into(), Value::String(symbol.clone()));
        let (market, command) = new_order(&catalog, user, &params).map_err(|error| {
            ApiError::bad(
                error.code,
                format!("orderParams[{index}]: {}", error.message),
            )
        })?;
        commands.push((market, command));
    }
    let mut placed: Vec<String> = Vec::with_capacity(commands.len());
    let mut last_seq = 0;
    for (index, (market, command)) in commands.into_iter().enumerate() {
        let side = match &command {
            Command::PlaceOrder(order) => Some(order.side),
            _ => None,
        };
        let receipt = submit(&state, command).await?;
        last_seq = receipt.seq;
        match receipt.outcome {
            Ok(Accepted::Order { id }) => placed.push(id.0.to_string()),
            Ok(other) => return Err(ApiError::internal(format!("unexpected outcome {other:?}"))),
            Err(reject) => {
                state.wait_projected(last_seq).await;
                let error = reject_error(&reject, side, &catalog, Some(&market.spec));
                return Err(ApiError::new(
                    error.status,
                    error.code,
                    format!(
                        "orderParams[{index}] refused: {}; placed before it: [{}]",
                        error.message,
                        placed.join(", ")
                    ),
                ));
            }
        }
    }
    state.wait_projected(last_seq).await;
    Ok(ok(
        json!({"code": 0, "msg": "success", "data": {"orderIds": placed}}),
    ))
}

/// `POST /spot/v4/cancel_orders` `{"symbol", "orderIds": […]}` or `{"symbol",
/// "clientOrderIds": […]}` → `{"successIds", "failIds", "totalCount", "successCount",
/// "failedCount"}`. An id that is unknown, another user's, or in another market fails alone.
pub async fn cancel_orders(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    let body = request.json_object()?;
    let symbol = symbol_of(&body)?;
    let catalog = state.sequencer.catalog();
    market_of(&catalog, &symbol)?;
    let by_client = body.contains_key("clientOrderIds");
    let field = if by_client {
        "clientOrderIds"
    } else {
        "orderIds"
    };
    let mut targets = Vec::new();
    for (index, item) in batch_items(&body, field)?.iter().enumerate() {
        let text = match item {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(ApiError::bad(
                    50021,
                    format!("Invalid {field}[{index}]: must be a string"),
                ));
            }
        };
        let target = if by_client {
            let mut one = Map::new();
            one.insert("clientOrderId".into(), Value::String(text.clone()));
            match parse_client_order_id(&one)? {
                Some(client) => OrderTarget::Client(client),
                None => {
                    return Err(ApiError::bad(
                        50039,
                        format!("Invalid {field}[{index}]: empty"),
                    ));
                }
            }
        } else {
            let id = text.parse::<u64>().map_err(|_| {
                ApiError::bad(50032, format!("Invalid {field}[{index}]: not an order id"))
            })?;
            OrderTarget::Id(bulwark_types::OrderId(id))
        };
        targets.push((text, target));
    }
    let user = user_of(&caller)?;
    let (mut success, mut failed) = (Vec::new(), Vec::new());
    let mut last_seq = 0;
    for (text, target) in targets {
        if !in_market(&state, caller.user_id, &target, &symbol).await? {
            failed.push(text);
            continue;
        }
        let receipt = submit(&state, Command::CancelOrder { user, target }).await?;
        last_seq = receipt.seq;
        match receipt.outcome {
            Ok(_) => success.push(text),
            Err(_) => failed.push(text),
        }
    }
    state.wait_projected(last_seq).await;
    Ok(ok(json!({
        "totalCount": success.len() + failed.len(),
        "successCount": success.len(),
        "failedCount": failed.len(),
        "successIds": success,
        "failIds": failed,
    })))
}

/// Whether the caller's order named by `target` is in `symbol` (a batch cancels in one market).
async fn in_market(
    state: &AppState,
    user_id: i64,
    target: &OrderTarget,
    symbol: &str,
) -> Result<bool, ApiError> {
    let row = match target {
        OrderTarget::Id(id) => {
            state
                .own_order(user_id, i64::try_from(id.0).unwrap_or(-1))
                .await
        }
        OrderTarget::Client(client) => state.own_order_by_client_id(user_id, client).await,
    }
    .map_err(ApiError::internal)?;
    Ok(row.is_some_and(|order| order.symbol == symbol))
}
