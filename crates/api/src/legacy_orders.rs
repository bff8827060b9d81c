//! BitMart's legacy paged order list, `GET /spot/v3/orders`, which CCXT still calls for
//! `fetch_canceled_orders` (and for open or filled orders by status). Orders are shown in the v3
//! shape with BitMart's numeric states; the rows are the same read models the v4 queries use.

use axum::extract::State;
use bulwark_sequencer::Catalog;
use bulwark_trading::OrderRow;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Scope, Signing, authenticate};
use crate::envelope::{ApiError, ApiResult, ok};
use crate::extract::{RawRequest, count_param, text_param};
use crate::orders::market_of;
use crate::private::{numeric_state, order_json};

/// Most rows on one page (BitMart: `N` ≤ 100).
pub const PAGE_ROWS_MAX: u32 = 100;
/// How deep the pages reach: `offset × N` at most this many rows (BitMart: 500).
pub const PAGED_ROWS_MAX: u32 = 500;

/// The stored states a numeric `status` asks for: 4 pending, 5 partially filled, 6 filled,
/// 8 canceled (with or without fills), 9 open (pending or partially filled).
fn states_of(status: &str) -> Option<[&'static str; 2]> {
    match status {
        "4" => Some(["new", "new"]),
        "5" => Some(["partially_filled", "partially_filled"]),
        "6" => Some(["filled", "filled"]),
        "8" => Some(["canceled", "partially_canceled"]),
        "9" => Some(["new", "partially_filled"]),
        _ => None,
    }
}

/// An order in the v3 shape (snake-case names, numeric `status`), built from the v4 object so
/// both shapes agree on every amount.
fn v3_order(catalog: &Catalog, row: &OrderRow) -> Value {
    let v4 = order_json(catalog, row);
    let field = |name: &str| v4.get(name).cloned().unwrap_or(Value::Null);
    json!({
        "order_id": row.order_id.to_string(),
        "client_order_id": field("clientOrderId"),
        "symbol": row.symbol,
        "create_time": row.created_ms,
        "update_time": row.updated_ms,
        "side": row.side,
        "type": row.kind,
        "price": field("price"),
        "price_avg": field("priceAvg"),
        "size": field("size"),
        "notional": field("notional"),
        "filled_notional": field("filledNotional"),
        "filled_size": field("filledSize"),
        "status": numeric_state(field("state").as_str().unwrap_or_default()),
    })
}

/// `GET /spot/v3/orders?symbol=&offset=&N=&status=` → `{"current_page", "orders": […]}`,
/// newest first.
pub async fn orders(State(state): State<AppState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state, &request, Scope::Read, Signing::Required).await?;
    let query = request.query_map();
    let catalog = state.sequencer.catalog();
    let symbol = text_param(&query, "symbol")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad(50001, "Parameter symbol is required"))?;
    market_of(&catalog, &symbol)?;
    let status = text_param(&query, "status")
        .ok_or_else(|| ApiError::bad(52003, "Parameter status is required: 4, 5, 6, 8 or 9"))?;
    let states = states_of(&status).ok_or_else(|| {
        ApiError::bad(
            52003,
            format!("Unsupported query state {status}: use 4, 5, 6, 8 or 9"),
        )
    })?;
    let page = count_param(&query, "offset", 1, u32::MAX, 50021)?;
    let per_page = count_param(&query, "N", PAGE_ROWS_MAX, PAGE_ROWS_MAX, 50021)?;
    if u64::from(page) * u64::from(per_page) > u64::from(PAGED_ROWS_MAX) {
        return Err(ApiError::bad(
            50021,
            format!("Invalid offset: offset × N may reach at most {PAGED_ROWS_MAX} orders"),
        ));
    }
    let rows = state
        .orders_in_states(caller.user_id, &symbol, states, page - 1, per_page)
        .await
        .map_err(ApiError::internal)?;
    let orders: Vec<Value> = rows.iter().map(|row| v3_order(&catalog, row)).collect();
    Ok(ok(json!({"current_page": page, "orders": orders})))
}
