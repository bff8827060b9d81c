//! The BitMart-compatible public API: the same paths, parameters, signatures, envelope and error
//! codes as BitMart's spot API, so unmodified clients (ccxt's `bitmart`, BitMart's SDKs) work.
//! Handlers are thin: parse, call the trading service (engine commands, read-model queries),
//! then map the result to BitMart's envelope and codes.

pub mod algo;
pub mod auth;
pub mod batch;
pub mod envelope;
pub mod extract;
pub mod format;
pub mod funding;
pub mod group_limits;
pub mod legacy_orders;
pub mod orders;
pub mod private;
pub mod public;
pub mod rate_limit;
pub mod transparency;
pub mod v1;
pub mod ws;

use axum::Router;
use axum::routing::{get, post};

/// The state of every BitMart handler: the trading service they call.
pub type AppState = bulwark_trading::Trading;

/// Milliseconds since the Unix epoch (for timestamps shown to clients and the signing window).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Every BitMart route, behind the per-IP rate limit and the endpoint groups' budgets; unknown
/// paths answer with the envelope and code 30000.
pub fn router(
    state: AppState,
    custody: bulwark_custody::Custody,
    limit: rate_limit::IpRateLimit,
    groups: group_limits::GroupLimits,
) -> Router {
    let funding = funding::routes(funding::FundingState {
        trading: state.clone(),
        custody,
    });
    // Layers run outside in: the per-IP limit first, then the endpoint group's budgets.
    routes(state.clone())
        .merge(funding)
        .layer(axum::middleware::from_fn_with_state(
            (state, groups),
            group_limits::limit_by_group,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            rate_limit::limit_by_ip,
        ))
}

fn routes(state: AppState) -> Router {
    Router::new()
        .route("/system/time", get(public::system_time))
        .route("/system/service", get(public::system_service))
        .route("/spot/v1/symbols/details", get(public::symbols_details))
        .route("/contract/public/details", get(public::contract_details))
        .route("/spot/quotation/v3/ticker", get(public::ticker))
        .route("/spot/quotation/v3/tickers", get(public::tickers))
        .route("/spot/quotation/v3/books", get(public::books))
        .route("/spot/quotation/v3/trades", get(public::trades))
        .route("/spot/quotation/v3/klines", get(public::klines))
        .route("/spot/quotation/v3/lite-klines", get(public::klines))
        .route("/spot/v1/wallet", get(private::wallet))
        .route("/account/v1/wallet", get(private::wallet))
        .route("/spot/v1/trade_fee", get(private::trade_fee))
        .route("/spot/v2/submit_order", post(private::submit_order))
        .route("/spot/v3/cancel_order", post(private::cancel_order))
        .route("/spot/v4/cancel_all", post(private::cancel_all))
        .route("/spot/v4/batch_orders", post(batch::batch_orders))
        .route("/spot/v4/cancel_orders", post(batch::cancel_orders))
        .route("/spot/v3/orders", get(legacy_orders::orders))
        .route("/spot/v4/query/order", post(private::query_order))
        .route(
            "/spot/v4/query/client-order",
            post(private::query_client_order),
        )
        .route("/spot/v4/query/open-orders", post(private::open_orders))
        .route(
            "/spot/v4/query/history-orders",
            post(private::history_orders),
        )
        .route("/spot/v4/query/trades", post(private::my_trades))
        .route("/spot/v4/query/order-trades", post(private::order_trades))
        .route("/spot/v4/algo/submit_order", post(algo::submit_order))
        .route("/spot/v4/algo/cancel_order", post(algo::cancel_order))
        .route("/spot/v4/algo/cancel_all", post(algo::cancel_all))
        .route("/spot/v4/query/algo/order", post(algo::query_order))
        .route(
            "/spot/v4/query/algo/client-order",
            post(algo::query_client_order),
        )
        .route("/spot/v4/query/algo/open-orders", post(algo::open_orders))
        .route(
            "/spot/v4/query/algo/history-orders",
            post(algo::history_orders),
        )
        .fallback(envelope::not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn method_not_allowed() -> envelope::ApiError {
    envelope::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        57001,
        "Method not allowed for this path",
    )
}
