//! The trade page of one market (`/trade/{symbol}`): ticker, order book, chart, recent trades,
//! the order form, and the user's balances, orders and fills; its forms place and cancel
//! orders; `/trade/{symbol}/panel/{name}` serves each panel alone for `trade.js` to refresh.
//!
//! Orders go through the trading service and the BitMart API's own parsers and error messages
//! (see [`crate::order_form`]), behind the same KYC and region gate as the API, so the page and
//! the API never disagree about what is allowed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bulwark_accounts::Kind;
use bulwark_api::envelope::ApiError;
use bulwark_api::format::MarketFormat;
use bulwark_api::ws::topic::KLINE_NAMES;
use bulwark_engine::{Accepted, Command, OrderTarget};
use bulwark_sequencer::{Catalog, MarketInfo};
use bulwark_types::{OrderId, UserId};
use serde::Deserialize;

use crate::auth::{csrf_ok, who_and_user};
use crate::caller::Caller;
use crate::order_form::{self, ORDER_TYPES, OrderForm};
use crate::pages::{self, Flash, Who, direction_class, signed_percent};
use crate::{TradeState, csrf_token, markets, trade_views};

/// The chart interval a trade page opens with.
pub const DEFAULT_INTERVAL: &str = "1m";

/// The order form as the page shows it (after an error it keeps what was typed).
#[derive(Default)]
pub struct FormView {
    pub csrf: String,
    pub nonce: String,
    pub side: String,
    pub kind: String,
    pub price: String,
    pub size: String,
    pub total: String,
    pub trigger_price: String,
}

#[derive(Template)]
#[template(path = "trade.html")]
pub struct TradePage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub symbol: String,
    pub base: String,
    pub quote: String,
    pub markets: Vec<String>,
    pub halted: bool,
    pub last: String,
    pub change: String,
    pub change_class: String,
    pub high: String,
    pub low: String,
    pub volume: String,
    pub interval: String,
    /// Every interval name, and whether it is the one shown.
    pub intervals: Vec<(String, bool)>,
    pub book_html: String,
    pub chart_html: String,
    pub trades_html: String,
    pub mine_html: String,
    pub signed_in: bool,
    pub form: FormView,
    pub order_types: Vec<(&'static str, &'static str)>,
    pub price_scale: u32,
    pub size_scale: u32,
    pub quote_scale: u32,
    pub min_size: String,
    pub min_notional: String,
    pub maker_fee_ppm: u32,
    pub taker_fee_ppm: u32,
    pub maker_fee: String,
    pub taker_fee: String,
    pub base_available: String,
    pub quote_available: String,
}

#[derive(Deserialize, Default)]
pub struct ChartQuery {
    #[serde(default)]
    interval: Option<String>,
    /// What the form before this page did (post-redirect-get): `placed`, `stop-placed`,
    /// `cancelled`, `stop-cancelled` or `all-cancelled`, with `id`.
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    id: Option<u64>,
    /// The order form's side and type to keep for the next order.
    #[serde(default)]
    side: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// What a trade form did. After it the browser is sent to the trade page (303) with this in the
/// query, so reloading the page it lands on never sends the form again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Placed(u64),
    StopPlaced(u64),
    Cancelled(u64),
    StopCancelled(u64),
    AllCancelled,
}

impl Done {
    fn query(self) -> String {
        match self {
            Done::Placed(id) => format!("done=placed&id={id}"),
            Done::StopPlaced(id) => format!("done=stop-placed&id={id}"),
            Done::Cancelled(id) => format!("done=cancelled&id={id}"),
            Done::StopCancelled(id) => format!("done=stop-cancelled&id={id}"),
            Done::AllCancelled => String::from("done=all-cancelled"),
        }
    }

    fn parse(done: &str, id: Option<u64>) -> Option<Done> {
        match (done, id) {
            ("placed", Some(id)) => Some(Done::Placed(id)),
            ("stop-placed", Some(id)) => Some(Done::StopPlaced(id)),
            ("cancelled", Some(id)) => Some(Done::Cancelled(id)),
            ("stop-cancelled", Some(id)) => Some(Done::StopCancelled(id)),
            ("all-cancelled", _) => Some(Done::AllCancelled),
            _ => None,
        }
    }

    fn notice(self, symbol: &str) -> String {
        match self {
            Done::Placed(id) => format!("Order {id} placed."),
            Done::StopPlaced(id) => format!(
                "Stop order {id} placed: it waits for the last price to reach the stop price."
            ),
            Done::Cancelled(id) => format!("Order {id} cancelled."),
            Done::StopCancelled(id) => format!("Stop order {id} cancelled."),
            Done::AllCancelled => {
                format!("Every open order and stop order in {symbol} is cancelled.")
            }
        }
    }
}

/// A form value kept in a redirect only when it is one the form offers.
fn offered<'a>(value: &str, choices: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    choices.into_iter().find(|choice| *choice == value)
}

/// The interval `name` in minutes, if it is one of BitMart's kline intervals.
fn interval_step(name: &str) -> Option<u32> {
    KLINE_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, step)| *step)
}

/// Everything the page shows besides the request's own outcome.
async fn view(
    state: &TradeState,
    caller: &Caller,
    symbol: &str,
    interval: Option<&str>,
    status: StatusCode,
    flash: Flash,
    mut form: FormView,
) -> Response {
    let catalog = state.trading.sequencer.catalog();
    let Some(market) = catalog.market(symbol).cloned() else {
        let flash = Flash::error(format!("There is no market named {symbol}."));
        return markets::view(state, caller, StatusCode::NOT_FOUND, flash).await;
    };
    let Some(f) = MarketFormat::resolve(&catalog, &market.spec) else {
        return pages::see_other("/markets");
    };
    let interval = interval
        .filter(|name| interval_step(name).is_some())
        .unwrap_or(DEFAULT_INTERVAL)
        .to_string();
    let step = interval_step(&interval).unwrap_or(1);
    let now = bulwark_api::now_ms();
    let who = who_and_user(&state.web, caller).await;
    let mut flash = flash;
    let mut panel = |result: Result<String, trade_views::PanelError>| {
        result.unwrap_or_else(|error| {
            if flash.error.is_empty() {
                flash.error = error.to_string();
            }
            String::new()
        })
    };
    let trades_html = panel(trade_views::trades(&state.trading, &catalog, &market).await);
    let chart_html = panel(trade_views::chart(&state.trading, &catalog, &market, step, now).await);
    let user = who.as_ref().map(|(w, user_id)| (*user_id, w.csrf.clone()));
    let mine = match trade_views::mine(&state.trading, &catalog, &market, user).await {
        Ok(mine) => mine,
        Err(error) => trade_views::Mine {
            html: panel(Err(error)),
            base_available: f.base(0),
            quote_available: f.quote(0),
        },
    };
    let ticker = match state.trading.ticker(&market, now).await {
        Ok(ticker) => ticker,
        Err(error) => {
            panel(Err(error.into()));
            bulwark_trading::reads::Ticker::default()
        }
    };
    if let Some((w, _)) = &who {
        form.csrf = w.csrf.clone();
    }
    match order_form::new_nonce() {
        Ok(nonce) => form.nonce = nonce,
        Err(error) => flash.error = error.message,
    }
    if form.kind.is_empty() {
        form.kind = String::from("limit");
    }
    let percent = |ppm: u32| bulwark_types::format_units(i64::from(ppm), 4);
    let page = TradePage {
        signed_in: who.is_some(),
        who: who.map(|(w, _)| w),
        notice: flash.notice,
        error: flash.error,
        symbol: market.spec.symbol.clone(),
        base: f.base.code.clone(),
        quote: f.quote.code.clone(),
        markets: catalog
            .markets
            .iter()
            .map(|m| m.spec.symbol.clone())
            .collect(),
        halted: market.halted || catalog.global_halted,
        last: f.price(ticker.last_ticks),
        change: signed_percent(ticker.change_e5),
        change_class: direction_class(ticker.change_e5).into(),
        high: f.price(ticker.high_ticks),
        low: f.price(ticker.low_ticks),
        volume: f.size(ticker.volume_lots),
        intervals: KLINE_NAMES
            .iter()
            .map(|(name, _)| ((*name).to_string(), *name == interval))
            .collect(),
        interval,
        book_html: trade_views::book(&state.trading, &catalog, &market),
        chart_html,
        trades_html,
        mine_html: mine.html,
        form,
        order_types: ORDER_TYPES.to_vec(),
        price_scale: market.spec.price_scale,
        size_scale: market.spec.size_scale,
        quote_scale: f.quote.scale,
        min_size: f.size(market.spec.min_size_lots),
        min_notional: f.quote(market.spec.min_notional),
        maker_fee_ppm: market.spec.maker_fee_ppm,
        taker_fee_ppm: market.spec.taker_fee_ppm,
        maker_fee: percent(market.spec.maker_fee_ppm),
        taker_fee: percent(market.spec.taker_fee_ppm),
        base_available: mine.base_available,
        quote_available: mine.quote_available,
    };
    pages::render(status, &page)
}

pub async fn page(
    State(state): State<TradeState>,
    caller: Caller,
    Path(symbol): Path<String>,
    Query(query): Query<ChartQuery>,
) -> Response {
    let interval = query.interval.as_deref();
    let form = FormView {
        side: query.side.clone().unwrap_or_default(),
        kind: query.kind.clone().unwrap_or_default(),
        ..FormView::default()
    };
    let flash = query
        .done
        .as_deref()
        .and_then(|done| Done::parse(done, query.id))
        .map_or_else(Flash::default, |done| Flash::notice(done.notice(&symbol)));
    view(
        &state,
        &caller,
        &symbol,
        interval,
        StatusCode::OK,
        flash,
        form,
    )
    .await
}

/// The form as typed, to show again after a refusal.
fn kept(form: &OrderForm) -> FormView {
    FormView {
        side: form.side.clone(),
        kind: form.kind.clone(),
        price: form.price.clone(),
        size: form.size.clone(),
        total: form.total.clone(),
        trigger_price: form.trigger_price.clone(),
        ..FormView::default()
    }
}

/// The refusal of a page form whose CSRF token does not belong to the session.
const STALE_FORM: &str =
    "This form has expired (it belongs to an earlier session). Reload the page and try again.";

/// Who may act through a trade form: a session (else the login page) whose form token matches.
async fn actor(state: &TradeState, caller: &Caller, csrf: &str) -> Result<i64, Refusal> {
    let authed = caller
        .authed(&state.web)
        .await
        .map_err(|error| match error.kind {
            Kind::Unauthenticated => Refusal::Login,
            _ => Refusal::Page(StatusCode::FORBIDDEN, error.message),
        })?;
    if !csrf_ok(caller, csrf) {
        return Err(Refusal::Page(StatusCode::FORBIDDEN, STALE_FORM.into()));
    }
    Ok(authed.user_id)
}

/// Why a trade form did nothing.
enum Refusal {
    Login,
    Page(StatusCode, String),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal::Page(error.status, error.message)
    }
}

fn user_of(user_id: i64) -> Result<UserId, Refusal> {
    u64::try_from(user_id)
        .map(UserId)
        .map_err(|_| Refusal::Page(StatusCode::INTERNAL_SERVER_ERROR, "Unknown user".into()))
}

fn market_of(catalog: &Catalog, symbol: &str) -> Result<MarketInfo, Refusal> {
    catalog.market(symbol).cloned().ok_or_else(|| {
        Refusal::Page(
            StatusCode::NOT_FOUND,
            format!("There is no market named {symbol}."),
        )
    })
}

/// Places the order of the form; says what happened on the page.
async fn place_order(
    state: &TradeState,
    caller: &Caller,
    symbol: &str,
    form: &OrderForm,
) -> Result<Done, Refusal> {
    let user_id = actor(state, caller, &form.csrf).await?;
    let country = caller.client().country.clone();
    let refusal = state
        .trading
        .check_trade(user_id, country.as_deref())
        .await
        .map_err(ApiError::internal)?;
    if let Some(refusal) = refusal {
        return Err(Refusal::Page(StatusCode::FORBIDDEN, refusal.bitmart().1));
    }
    let catalog = state.trading.sequencer.catalog();
    market_of(&catalog, symbol)?;
    let (market, command) = order_form::command(&catalog, user_of(user_id)?, symbol, form)?;
    let side = match &command {
        Command::PlaceOrder(order) => Some(order.side),
        Command::PlaceTrigger(trigger) => Some(trigger.order.side),
        _ => None,
    };
    let token = caller.session_token().unwrap_or_default();
    let id = order_form::command_id(&token, &form.nonce)?;
    let receipt = state
        .trading
        .submit_as(id, command)
        .await
        .map_err(|failure| bulwark_api::orders::placement_failure(failure, &market.spec))?;
    match receipt.outcome {
        Ok(Accepted::Order { id }) => Ok(Done::Placed(id.0)),
        Ok(Accepted::Trigger { id }) => Ok(Done::StopPlaced(id.0)),
        Ok(other) => Err(ApiError::internal(format!("unexpected outcome {other:?}")).into()),
        Err(reject) => {
            Err(
                bulwark_api::orders::reject_error(&reject, side, &catalog, Some(&market.spec))
                    .into(),
            )
        }
    }
}

/// The answer to a form: on success a redirect to the trade page saying what was done
/// (post-redirect-get), else the page with the refusal and what was typed kept.
async fn answer(
    state: &TradeState,
    caller: &Caller,
    symbol: &str,
    result: Result<Done, Refusal>,
    typed: FormView,
) -> Response {
    match result {
        Ok(done) => {
            // The next order is often on the same side and of the same type.
            let mut target = format!("/trade/{symbol}?{}", done.query());
            if let Some(side) = offered(&typed.side, ["buy", "sell"]) {
                target.push_str(&format!("&side={side}"));
            }
            if let Some(kind) = offered(&typed.kind, ORDER_TYPES.map(|(name, _)| name)) {
                target.push_str(&format!("&type={kind}"));
            }
            pages::see_other(&target)
        }
        Err(Refusal::Login) => pages::see_other("/login"),
        Err(Refusal::Page(status, message)) => {
            view(
                state,
                caller,
                symbol,
                None,
                status,
                Flash::error(message),
                typed,
            )
            .await
        }
    }
}

/// `POST /trade/{symbol}/order`.
pub async fn place(
    State(state): State<TradeState>,
    caller: Caller,
    Path(symbol): Path<String>,
    crate::form::PageForm(form): crate::form::PageForm<OrderForm>,
) -> Response {
    let result = place_order(&state, &caller, &symbol, &form).await;
    answer(&state, &caller, &symbol, result, kept(&form)).await
}

#[derive(Deserialize, Default)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    stop_id: String,
}

async fn cancel_one(
    state: &TradeState,
    caller: &Caller,
    symbol: &str,
    form: &CancelForm,
) -> Result<Done, Refusal> {
    let user_id = actor(state, caller, &form.csrf).await?;
    let catalog = state.trading.sequencer.catalog();
    market_of(&catalog, symbol)?;
    let user = user_of(user_id)?;
    let number = |text: &str| {
        text.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::bad(50032, "Order does not exist: the id must be a number"))
    };
    let refused = |refused| bulwark_api::private::cancel_refused(refused, &catalog);
    let target = |id| OrderTarget::Id(OrderId(id));
    if !form.stop_id.trim().is_empty() {
        let id = number(&form.stop_id)?;
        state
            .trading
            .cancel_trigger(user, target(id))
            .await
            .map_err(refused)?;
        return Ok(Done::StopCancelled(id));
    }
    let id = number(&form.order_id)?;
    state
        .trading
        .cancel_order(user, target(id))
        .await
        .map_err(refused)?;
    Ok(Done::Cancelled(id))
}

/// `POST /trade/{symbol}/cancel` (`order_id` or `stop_id`).
pub async fn cancel(
    State(state): State<TradeState>,
    caller: Caller,
    Path(symbol): Path<String>,
    crate::form::PageForm(form): crate::form::PageForm<CancelForm>,
) -> Response {
    let result = cancel_one(&state, &caller, &symbol, &form).await;
    answer(&state, &caller, &symbol, result, FormView::default()).await
}

#[derive(Deserialize, Default)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn cancel_everything(
    state: &TradeState,
    caller: &Caller,
    symbol: &str,
    csrf: &str,
) -> Result<Done, Refusal> {
    let user_id = actor(state, caller, csrf).await?;
    let catalog = state.trading.sequencer.catalog();
    let market = market_of(&catalog, symbol)?;
    state
        .trading
        .cancel_everything(user_of(user_id)?, market.id)
        .await
        .map_err(|refused| bulwark_api::private::cancel_refused(refused, &catalog))?;
    Ok(Done::AllCancelled)
}

/// `POST /trade/{symbol}/cancel-all`: open orders and stop orders of this market.
pub async fn cancel_all(
    State(state): State<TradeState>,
    caller: Caller,
    Path(symbol): Path<String>,
    crate::form::PageForm(form): crate::form::PageForm<CsrfOnly>,
) -> Response {
    let result = cancel_everything(&state, &caller, &symbol, &form.csrf).await;
    answer(&state, &caller, &symbol, result, FormView::default()).await
}

/// `GET /trade/{symbol}/panel/{book|trades|chart|mine}`: one panel's fragment.
pub async fn panel(
    State(state): State<TradeState>,
    caller: Caller,
    Path((symbol, name)): Path<(String, String)>,
    Query(query): Query<ChartQuery>,
) -> Response {
    let catalog = state.trading.sequencer.catalog();
    let Some(market) = catalog.market(&symbol).cloned() else {
        return (StatusCode::NOT_FOUND, "no such market").into_response();
    };
    let result = match name.as_str() {
        "book" => Ok(trade_views::book(&state.trading, &catalog, &market)),
        "trades" => trade_views::trades(&state.trading, &catalog, &market).await,
        "chart" => {
            let step = query
                .interval
                .as_deref()
                .and_then(interval_step)
                .unwrap_or(1);
            let now = bulwark_api::now_ms();
            trade_views::chart(&state.trading, &catalog, &market, step, now).await
        }
        "mine" => {
            let user = match (caller.authed(&state.web).await, caller.session_token()) {
                (Ok(authed), Some(token)) => Some((authed.user_id, csrf_token(&token))),
                _ => None,
            };
            trade_views::mine(&state.trading, &catalog, &market, user)
                .await
                .map(|mine| mine.html)
        }
        _ => return (StatusCode::NOT_FOUND, "no such panel").into_response(),
    };
    pages::fragment(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_bitmarts() {
        assert_eq!(interval_step("1H"), Some(60));
        assert_eq!(interval_step("2m"), None);
    }
}
