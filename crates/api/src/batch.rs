//! The BitMart shapes of batches (spot API v4): `batch_orders` places up to ten orders in one
//! market and `cancel_orders` cancels up to ten by id or client id; the trading service
//! (`bulwark_trading::batch`) carries them out.
//!
//! Every order of a batch is parsed here before any is sent, so a malformed item refuses the
//! whole request and places nothing. When the engine refuses an order that parsed (funds, a
//! duplicate client id), the error names the refused item and the ids placed before it.

use axum::extract::State;
use bulwark_engine::{Command, OrderTarget};
use bulwark_trading::batch::{BatchFailure, BatchPlaced};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::auth::{Scope, Signing, authenticate};
use crate::envelope::{ApiError, ApiResult, ok};
use crate::extract::{RawRequest, text_param};
use crate::orders::{client_order_id, market_of, new_order, reject_error, submit_failure};
use crate::private::{check_trading_allowed, user_of};

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
    let market = market_of(&catalog, &symbol)?;
    let user = user_of(&caller)?;
    let (mut commands, mut sides) = (Vec::new(), Vec::new());
    for (index, item) in batch_items(&body, "orderParams")?.iter().enumerate() {
        let mut params = item.as_object().cloned().ok_or_else(|| {
            ApiError::bad(
                50021,
                format!("Invalid orderParams[{index}]: not an object"),
            )
        })?;
        params.insert("symbol".into(), Value::String(symbol.clone()));
        let (_, command) = new_order(&catalog, user, &params).map_err(|error| {
            ApiError::bad(
                error.code,
                format!("orderParams[{index}]: {}", error.message),
            )
        })?;
        sides.push(match &command {
            Command::PlaceOrder(order) => Some(order.side),
            _ => None,
        });
        commands.push(command);
    }
    let outcome = state
        .place_batch(commands)
        .await
        .map_err(|failure| batch_error(failure, &market.spec))?;
    let ids = |placed: &[bulwark_types::OrderId]| -> Vec<String> {
        placed.iter().map(|id| id.0.to_string()).collect()
    };
    match outcome {
        BatchPlaced::All(placed) => Ok(ok(
            json!({"code": 0, "msg": "success", "data": {"orderIds": ids(&placed)}}),
        )),
        BatchPlaced::Stopped {
            index,
            reject,
            placed,
        } => {
            let side = sides.get(index).copied().flatten();
            let error = reject_error(&reject, side, &catalog, Some(&market.spec));
            Err(ApiError::new(
                error.status,
                error.code,
                format!(
                    "orderParams[{index}] refused: {}; placed before it: [{}]",
                    error.message,
                    ids(&placed).join(", ")
                ),
            ))
        }
    }
}

fn batch_error(error: BatchFailure, spec: &bulwark_engine::MarketSpec) -> ApiError {
    match error {
        BatchFailure::Submit(failure) => submit_failure(failure),
        BatchFailure::Band { index, band } => {
            let error = crate::orders::band_error(&band, Some(spec));
            ApiError::new(
                error.status,
                error.code,
                format!(
                    "orderParams[{index}] refused: {}; nothing was placed",
                    error.message
                ),
            )
        }
        other => ApiError::internal(other),
    }
}

/// `POST /spot/v4/cancel_orders` `{"symbol", "orderIds": […]}` or `{"symbol",
/// "clientOrderIds": […]}` → `{"successIds", "failIds", "totalCount", "successCount",
/// "failedCount"}`. An id that is unknown, another user's, or in another market fails alone.
pub async fn cancel_orders(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Trade, Signing::Required).await?;
    let body = request.json_object()?;
    let symbol = symbol_of(&body)?;
    let catalog = state.sequencer.catalog();
    let market = market_of(&catalog, &symbol)?;
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
            match client_order_id(&text)? {
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
    let (texts, targets): (Vec<String>, Vec<OrderTarget>) = targets.into_iter().unzip();
    let cancelled = state
        .cancel_batch(user_of(&caller)?, &symbol, targets)
        .await
        .map_err(|failure| batch_error(failure, &market.spec))?;
    let (mut success, mut failed) = (Vec::new(), Vec::new());
    for (text, done) in texts.into_iter().zip(cancelled) {
        if done {
            success.push(text);
        } else {
            failed.push(text);
        }
    }
    Ok(ok(json!({
        "totalCount": success.len() + failed.len(),
        "successCount": success.len(),
        "failedCount": failed.len(),
        "successIds": success,
        "failIds": failed,
    })))
}
