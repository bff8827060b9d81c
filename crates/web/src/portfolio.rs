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

use crate::auth::who_and_user;
use crate::caller::Caller;
use crate::charts;
use crate::funding::FundState;
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
    /// The newest deposits and withdrawals over every coin, newest first.
    pub funding: Vec<FundingLine>,
}

/// A deposit or withdrawal in the portfolio's funding history.
pub struct FundingLine {
    pub when: String,
    pub kind: &'static str,
    pub asset: String,
    pub network: String,
    pub amount: String,
    pub state: String,
    /// The wallet page of the coin (currency id).
    pub coin: String,
}

/// How many funding records the portfolio lists.
const FUNDING_ROWS: i64 = 20;

/// `GET /portfolio` (signed in; else the login page).
pub async fn page(State(state): State<FundState>, caller: Caller) -> Response {
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
                funding: Vec::new(),
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
    let chart_html = charts::value_line_svg(&points, &charts::ACCOUNT_VALUE, &|v| {
        format!("{} {VALUATION_ASSET}", format_units(v, scale))
    });
    let funding = funding_history(&state, user_id).await;
    let page = PortfolioPage {
        who: Some(who),
        notice: String::new(),
        error: String::new(),
        valuation: VALUATION_ASSET,
        total_value: format_units(portfolio.total_value, scale),
        holdings,
        chart_html,
        funding,
    };
    pages::render(StatusCode::OK, &page)
}

/// Deposits and withdrawals of every coin, newest first (a read failure is logged and shows an
/// empty list: the balances above are what matters).
async fn funding_history(state: &FundState, user_id: i64) -> Vec<FundingLine> {
    let custody = &state.custody;
    let window = bulwark_custody::HistoryWindow {
        asset: None,
        network: None,
        since_ms: 0,
        until_ms: i64::MAX,
        limit: FUNDING_ROWS,
    };
    let mut lines: Vec<(i64, FundingLine)> = Vec::new();
    match custody.deposits(user_id, window).await {
        Ok(rows) => lines.extend(rows.iter().map(|d| {
            (
                d.detected_ms,
                FundingLine {
                    when: pages::utc_time(d.detected_ms),
                    kind: "Deposit",
                    asset: d.asset.clone(),
                    network: d.network.clone(),
                    amount: custody.format(&d.asset, d.amount),
                    state: d.state.replace('_', " "),
                    coin: custody.currency_id_of(&d.asset, &d.network),
                },
            )
        })),
        Err(error) => tracing::error!("portfolio: deposits: {error}"),
    }
    match custody.withdrawals(user_id, window).await {
        Ok(rows) => lines.extend(rows.iter().map(|w| {
            (
                w.created_ms,
                FundingLine {
                    when: pages::utc_time(w.created_ms),
                    kind: "Withdrawal",
                    asset: w.asset.clone(),
                    network: w.network.clone(),
                    amount: custody.format(&w.asset, w.amount),
                    state: w.state.replace('_', " "),
                    coin: custody.currency_id_of(&w.asset, &w.network),
                },
            )
        })),
        Err(error) => tracing::error!("portfolio: withdrawals: {error}"),
    }
    lines.sort_by_key(|line| std::cmp::Reverse(line.0));
    lines
        .into_iter()
        .take(usize::try_from(FUNDING_ROWS).unwrap_or(0))
        .map(|(_, line)| line)
        .collect()
}
