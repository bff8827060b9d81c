//! The portfolio (`/portfolio`): every asset's available and held balance, its value in USDT at
//! the last price, the account's total, and a chart of the account's value hour by hour over
//! the last week. Numbers come from the trading service's portfolio read, which values the same
//! balances the ledger projects.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_trading::portfolio::VALUATION_ASSET;
use bulwark_types::format_units;

use crate::TradeState;
use crate::auth::who_and_user;
use crate::caller::Caller;
use crate::charts;
use crate::pages::{self, Who};

pub struct HoldingLine {
    pub asset: String,
    pub name: String,
    pub available: String,
    pub held: String,
    pub total: String,
    /// Empty when the asset has no price in USDT yet.
    pub value: String,
    /// A market to trade the asset in, if any.
    pub market: String,
}

#[derive(Template)]
#[template(path = "portfolio.html")]
pub struct PortfolioPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub valuation: &'static str,
    pub total_value: String,
    pub holdings: Vec<HoldingLine>,
    pub chart_html: String,
}

/// `GET /portfolio` (signed in; else the login page).
pub async fn page(State(state): State<TradeState>, caller: Caller) -> Response {
    let Some((who, user_id)) = who_and_user(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let catalog = state.trading.sequencer.catalog();
    let portfolio = match state
        .trading
        .portfolio(user_id, bulwark_api::now_ms())
        .await
    {
        Ok(portfolio) => portfolio,
        Err(error) => {
            tracing::error!(%error, "reading a portfolio");
            let page = PortfolioPage {
                who: Some(who),
                notice: String::new(),
                error: String::from(
                    "Balances are unavailable right now; they will be back shortly.",
                ),
                valuation: VALUATION_ASSET,
                total_value: String::new(),
                holdings: Vec::new(),
                chart_html: String::new(),
            };
            return pages::render(StatusCode::SERVICE_UNAVAILABLE, &page);
        }
    };
    let scale = portfolio.value_scale;
    let holdings = portfolio
        .holdings
        .iter()
        .map(|h| {
            let market = catalog
                .markets
                .iter()
                .find(|m| {
                    catalog.asset_code(m.spec.base) == h.asset
                        || catalog.asset_code(m.spec.quote) == h.asset
                })
                .map(|m| m.spec.symbol.clone())
                .unwrap_or_default();
            HoldingLine {
                asset: h.asset.clone(),
                name: h.name.clone(),
                available: format_units(h.available, h.scale),
                held: format_units(h.held, h.scale),
                total: format_units(h.available.saturating_add(h.held), h.scale),
                value: h.value.map(|v| format_units(v, scale)).unwrap_or_default(),
                market,
            }
        })
        .collect();
    let points: Vec<(String, i64)> = portfolio
        .history
        .iter()
        .map(|(hour_s, value)| (pages::utc_time(hour_s.saturating_mul(1_000)), *value))
        .collect();
    let chart_html = charts::value_line_svg(&points, &|v| {
        format!("{} {VALUATION_ASSET}", format_units(v, scale))
    });
    let page = PortfolioPage {
        who: Some(who),
        notice: String::new(),
        error: String::new(),
        valuation: VALUATION_ASSET,
        total_value: format_units(portfolio.total_value, scale),
        holdings,
        chart_html,
    };
    pages::render(StatusCode::OK, &page)
}
