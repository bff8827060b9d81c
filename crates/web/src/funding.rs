//! Funding pages over the custody service: the page an emailed withdrawal link opens (it
//! confirms only when the owner presses the button, so mail scanners that follow links confirm
//! nothing), and the wallet page (deposit addresses, withdrawals, the address book).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_custody::withdrawals::{NewAddress, SecondFactorCode, WithdrawRequest};
use bulwark_custody::{Custody, CustodyError, WithdrawalRow};
use serde::Deserialize;

use crate::auth::{csrf_ok, who_and_user};
use crate::caller::Caller;
use crate::form::PageForm;
use crate::pages::{self, Flash, Who};

/// What the funding pages need.
#[derive(Clone)]
pub struct FundState {
    pub web: crate::WebState,
    pub trading: bulwark_trading::Trading,
    pub custody: Custody,
}

impl axum::extract::FromRef<FundState> for crate::WebState {
    fn from_ref(state: &FundState) -> crate::WebState {
        state.web.clone()
    }
}

/// A withdrawal as the pages show it.
pub struct WithdrawalView {
    pub id: i64,
    pub asset: String,
    pub network: String,
    pub address: String,
    pub amount: String,
    pub fee: String,
    pub state: String,
    pub txid: String,
    pub created: String,
}

impl WithdrawalView {
    pub fn of(custody: &Custody, w: &WithdrawalRow) -> WithdrawalView {
        WithdrawalView {
            id: w.id,
            asset: w.asset.clone(),
            network: w.network.clone(),
            address: w.address.clone(),
            amount: custody.format(&w.asset, w.amount),
            fee: custody.format(&w.asset, w.fee),
            state: w.state.clone(),
            txid: w.txid.clone().unwrap_or_default(),
            created: pages::utc_time(w.created_ms),
        }
    }
}

#[derive(Template)]
#[template(path = "withdraw_confirm.html")]
pub struct ConfirmPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub token: String,
    pub withdrawal: Option<WithdrawalView>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn confirm_view(
    status: StatusCode,
    flash: Flash,
    token: String,
    withdrawal: Option<WithdrawalView>,
) -> Response {
    let page = ConfirmPage {
        who: None,
        notice: flash.notice,
        error: flash.error,
        token,
        withdrawal,
    };
    pages::render(status, &page)
}

/// The HTTP status of a custody refusal on a page.
pub fn status_of(error: &CustodyError) -> StatusCode {
    match error {
        CustodyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        CustodyError::NotFound => StatusCode::NOT_FOUND,
        CustodyError::NotPermitted(_)
        | CustodyError::WithdrawLocked { .. }
        | CustodyError::AccountNotActive { .. }
        | CustodyError::SecondFactor(_)
        | CustodyError::DepositNotPermitted(_)
        | CustodyError::RequesterCannotApprove => StatusCode::FORBIDDEN,
        CustodyError::ConfirmationExpired => StatusCode::GONE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// What a refusal says on a page (internal details stay in the log).
pub fn message_of(error: &CustodyError) -> String {
    match error {
        CustodyError::Internal(detail) => {
            tracing::error!("custody: {detail}");
            "Something went wrong on our side; nothing was changed. Try again shortly.".into()
        }
        other => other.to_string(),
    }
}

/// `GET /withdraw/confirm?token=`: shows the withdrawal the link names.
pub async fn confirm_page(
    State(state): State<FundState>,
    Query(query): Query<TokenQuery>,
) -> Response {
    match state.custody.withdrawal_for_link(&query.token).await {
        Ok(w) => {
            let view = WithdrawalView::of(&state.custody, &w);
            confirm_view(StatusCode::OK, Flash::default(), query.token, Some(view))
        }
        Err(error) => confirm_view(
            status_of(&error),
            Flash::error(message_of(&error)),
            String::new(),
            None,
        ),
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
}

/// `POST /withdraw/confirm`: confirms; the withdrawal moves on to review and payout.
pub async fn confirm(
    State(state): State<FundState>,
    PageForm(form): PageForm<TokenForm>,
) -> Response {
    match state.custody.confirm_withdrawal(&form.token).await {
        Ok(w) => {
            let view = WithdrawalView::of(&state.custody, &w);
            let notice = if w.state == "risk_review" {
                "Confirmed. This withdrawal is reviewed by our staff before it is sent."
            } else {
                "Confirmed. The withdrawal will be sent shortly."
            };
            confirm_view(
                StatusCode::OK,
                Flash::notice(notice),
                String::new(),
                Some(view),
            )
        }
        Err(error) => confirm_view(
            status_of(&error),
            Flash::error(message_of(&error)),
            String::new(),
            None,
        ),
    }
}

/// A coin in the page's switcher.
pub struct CoinLink {
    pub id: String,
    pub asset: String,
    pub network: String,
    pub selected: bool,
}

/// The selected coin's rules, formatted.
pub struct CoinView {
    pub id: String,
    pub asset: String,
    pub network: String,
    pub confirmations: u64,
    pub deposit_min: String,
    pub withdraw_min: String,
    pub fee: String,
}

pub struct DepositLine {
    pub id: i64,
    pub when: String,
    pub amount: String,
    pub state: String,
    pub confirmations: String,
    pub txid: String,
}

pub struct TimelineEntry {
    pub when: String,
    pub state: String,
    pub actor: String,
    pub note: String,
}

pub struct WithdrawalLine {
    pub view: WithdrawalView,
    pub timeline: Vec<TimelineEntry>,
    pub cancellable: bool,
    pub open: bool,
}

pub struct BookLine {
    pub id: i64,
    pub coin_id: String,
    pub label: String,
    pub address: String,
    pub usable: String,
}

#[derive(Template)]
#[template(path = "wallet.html")]
pub struct WalletPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub coins: Vec<CoinLink>,
    pub coin: CoinView,
    pub available: String,
    pub held: String,
    pub left_today: String,
    pub deposit_address: String,
    pub deposit_error: String,
    pub qr_svg: String,
    pub deposits: Vec<DepositLine>,
    pub withdrawals: Vec<WithdrawalLine>,
    pub book: Vec<BookLine>,
    pub whitelist_only: bool,
    pub form_address: String,
    pub form_amount: String,
}

#[derive(Deserialize, Default)]
pub struct WalletQuery {
    #[serde(default)]
    coin: String,
    #[serde(default)]
    done: String,
}

/// What a finished form says on the page it redirects to.
fn done_notice(done: &str) -> &'static str {
    match done {
        "requested" => "Withdrawal requested: confirm it with the link we emailed you.",
        "cancelled" => "Withdrawal cancelled; the amount is available again.",
        "address-added" => "Address saved.",
        "address-removed" => "Address removed.",
        "whitelist-on" => "Withdrawals now go only to addresses in your book.",
        "whitelist-off" => "Withdrawals may go to any address again, after a 24-hour wait.",
        _ => "",
    }
}

const HISTORY_ROWS: i64 = 50;

async fn wallet_view(
    state: &FundState,
    who: Who,
    user_id: i64,
    coin_id: &str,
    flash: Flash,
    form: (&str, &str),
) -> Result<WalletPage, CustodyError> {
    let custody = &state.custody;
    let coin = match custody.coin_by_id(coin_id) {
        Ok(coin) => coin.clone(),
        Err(_) => custody
            .coins()
            .first()
            .cloned()
            .ok_or(CustodyError::NotFound)?,
    };
    let coin_view = CoinView {
        id: custody.currency_id(&coin),
        asset: coin.asset.clone(),
        network: coin.network.id().to_owned(),
        confirmations: coin.confirmations,
        deposit_min: bulwark_types::format_units(coin.deposit_min, coin.scale),
        withdraw_min: bulwark_types::format_units(coin.withdraw_min, coin.scale),
        fee: bulwark_types::format_units(coin.withdraw_fee, coin.scale),
    };
    let coins = custody
        .coins()
        .iter()
        .map(|c| {
            let id = custody.currency_id(c);
            CoinLink {
                selected: id == coin_view.id,
                id,
                asset: c.asset.clone(),
                network: c.network.id().to_owned(),
            }
        })
        .collect();
    let (deposit_address, deposit_error) = match custody
        .deposit_address(user_id, &coin.asset, Some(coin.network.id()))
        .await
    {
        Ok(a) => (a.address, String::new()),
        Err(error) => (String::new(), message_of(&error)),
    };
    let qr_svg = if deposit_address.is_empty() {
        String::new()
    } else {
        bulwark_identity::totp::qr_svg(&deposit_address).unwrap_or_default()
    };
    let window = bulwark_custody::HistoryWindow {
        asset: Some(&coin.asset),
        network: Some(coin.network.id()),
        since_ms: 0,
        until_ms: i64::MAX,
        limit: HISTORY_ROWS,
    };
    let deposits = custody
        .deposits(user_id, window)
        .await?
        .iter()
        .map(|d| DepositLine {
            id: d.id,
            when: pages::utc_time(d.detected_ms),
            amount: custody.format(&d.asset, d.amount),
            state: d.state.replace('_', " "),
            confirmations: format!(
                "{} / {}",
                d.confirmations.min(d.required_confirmations),
                d.required_confirmations
            ),
            txid: d.txid.clone(),
        })
        .collect();
    let mut withdrawals = Vec::new();
    for w in custody.withdrawals(user_id, window).await?.iter() {
        let timeline = custody
            .withdrawal_timeline(w.id)
            .await?
            .into_iter()
            .map(|e| TimelineEntry {
                when: pages::utc_time(e.at_ms),
                state: e.state.replace('_', " "),
                actor: if e.actor.starts_with("staff:") {
                    "staff".into()
                } else {
                    e.actor.split(':').next().unwrap_or("").to_owned()
                },
                note: e.note,
            })
            .collect();
        let cancellable = bulwark_custody::withdrawals::CANCELLABLE.contains(&w.state.as_str());
        withdrawals.push(WithdrawalLine {
            view: WithdrawalView::of(custody, w),
            timeline,
            cancellable,
            open: cancellable,
        });
    }
    let now_ms = bulwark_api::now_ms();
    let book = custody
        .address_book(user_id)
        .await?
        .iter()
        .map(|a| BookLine {
            id: a.id,
            coin_id: custody.currency_id_of(&a.asset, &a.network),
            label: a.label.clone(),
            address: a.address.clone(),
            usable: if a.usable_from_ms <= now_ms {
                "yes".into()
            } else {
                format!("from {} UTC", pages::utc_time(a.usable_from_ms))
            },
        })
        .collect();
    let balances = state
        .trading
        .balances(user_id)
        .await
        .map_err(|e| CustodyError::Internal(e.to_string()))?;
    let (available, held) = balances
        .iter()
        .find(|b| b.asset == coin.asset)
        .map_or((0, 0), |b| (b.available, b.held));
    let left_today = custody
        .withdrawable_today(user_id, &coin.asset)
        .await?
        .map_or_else(
            || "unknown until it trades".to_owned(),
            |units| format!("{} {}", custody.format(&coin.asset, units), coin.asset),
        );
    Ok(WalletPage {
        csrf: who.csrf.clone(),
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        coins,
        available: custody.format(&coin.asset, available),
        held: custody.format(&coin.asset, held),
        coin: coin_view,
        left_today,
        deposit_address,
        deposit_error,
        qr_svg,
        deposits,
        withdrawals,
        book,
        whitelist_only: custody.whitelist_only(user_id).await?,
        form_address: form.0.to_owned(),
        form_amount: form.1.to_owned(),
    })
}

async fn render_wallet(
    state: &FundState,
    caller: &Caller,
    coin_id: &str,
    status: StatusCode,
    flash: Flash,
    form: (&str, &str),
) -> Response {
    let Some((who, user_id)) = who_and_user(&state.web, caller).await else {
        return pages::see_other("/login");
    };
    match wallet_view(state, who, user_id, coin_id, flash, form).await {
        Ok(page) => pages::render(status, &page),
        Err(error) => {
            tracing::error!("wallet page: {error}");
            pages::render(
                StatusCode::SERVICE_UNAVAILABLE,
                &pages::Landing {
                    who: None,
                    notice: String::new(),
                    error: "The wallet is unavailable right now; it will be back shortly.".into(),
                },
            )
        }
    }
}

/// `GET /wallet?coin=`: deposit address, deposits, withdrawals with their timelines, the
/// address book (signed in; else the login page).
pub async fn wallet_page(
    State(state): State<FundState>,
    caller: Caller,
    Query(query): Query<WalletQuery>,
) -> Response {
    let flash = Flash::notice(done_notice(&query.done));
    render_wallet(
        &state,
        &caller,
        &query.coin,
        StatusCode::OK,
        flash,
        ("", ""),
    )
    .await
}

/// The signed-in user behind a wallet form with this session's form token.
async fn form_user(state: &FundState, caller: &Caller, csrf: &str) -> Result<i64, Response> {
    form_session(state, caller, csrf)
        .await
        .map(|(user_id, _)| user_id)
}

/// [`form_user`] with the client's address (for security events).
async fn form_session(
    state: &FundState,
    caller: &Caller,
    csrf: &str,
) -> Result<(i64, String), Response> {
    let authed = caller
        .authed(&state.web)
        .await
        .map_err(|_| pages::see_other("/login"))?;
    if !csrf_ok(caller, csrf) {
        return Err(pages::render(
            StatusCode::FORBIDDEN,
            &pages::Landing {
                who: None,
                notice: String::new(),
                error: "This form is stale; reload the page and try again.".into(),
            },
        ));
    }
    Ok((authed.user_id, authed.client.ip.to_string()))
}

fn back(coin: &str, done: &str) -> Response {
    let query = serde_urlencoded::to_string([("coin", coin), ("done", done)]).unwrap_or_default();
    pages::see_other(&format!("/wallet?{query}"))
}

/// The page's one code field as custody's second factor, read the way every page reads it.
fn second_factor(code: &str) -> SecondFactorCode<'_> {
    let code = code.trim();
    match crate::keys::second_factor(code) {
        (Some(_), _) => SecondFactorCode::Totp(code),
        (None, Some(_)) => SecondFactorCode::Recovery(code),
        (None, None) => SecondFactorCode::None,
    }
}

#[derive(Deserialize, Default)]
pub struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    coin: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    totp_code: String,
}

/// `POST /wallet/withdraw`: checks and holds; the owner confirms by email.
pub async fn withdraw(
    State(state): State<FundState>,
    caller: Caller,
    PageForm(form): PageForm<WithdrawForm>,
) -> Response {
    let user_id = match form_user(&state, &caller, &form.csrf).await {
        Ok(user_id) => user_id,
        Err(response) => return response,
    };
    let result = match state.custody.coin_by_id(&form.coin) {
        Ok(coin) => {
            let request = WithdrawRequest {
                asset: coin.asset.clone(),
                network: Some(coin.network.id().to_owned()),
                address: form.address.clone(),
                memo: String::new(),
                amount: form.amount.clone(),
            };
            state
                .custody
                .request_withdrawal_with_2fa(user_id, &request, second_factor(&form.totp_code))
                .await
                .map(|_| ())
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => back(&form.coin, "requested"),
        Err(error) => {
            let flash = Flash::error(message_of(&error));
            let kept = (form.address.as_str(), form.amount.as_str());
            render_wallet(&state, &caller, &form.coin, status_of(&error), flash, kept).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct CoinForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    coin: String,
    #[serde(default)]
    on: String,
    #[serde(default)]
    totp_code: String,
}

/// `POST /wallet/withdrawals/{id}/cancel`: the owner cancels before anything is signed.
pub async fn cancel(
    State(state): State<FundState>,
    caller: Caller,
    Path(id): Path<String>,
    PageForm(form): PageForm<CoinForm>,
) -> Response {
    let user_id = match form_user(&state, &caller, &form.csrf).await {
        Ok(user_id) => user_id,
        Err(response) => return response,
    };
    let result = match id.parse::<i64>() {
        Ok(id) => state
            .custody
            .cancel_withdrawal(user_id, id)
            .await
            .map(|_| ()),
        Err(_) => Err(CustodyError::NotFound),
    };
    finish(&state, &caller, &form.coin, result, "cancelled").await
}

async fn finish(
    state: &FundState,
    caller: &Caller,
    coin: &str,
    result: Result<(), CustodyError>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => back(coin, done),
        Err(error) => {
            let flash = Flash::error(message_of(&error));
            render_wallet(state, caller, coin, status_of(&error), flash, ("", "")).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct AddressForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    coin: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    totp_code: String,
}

/// `POST /wallet/addresses`: saves an address (second factor when enrolled).
pub async fn add_address(
    State(state): State<FundState>,
    caller: Caller,
    PageForm(form): PageForm<AddressForm>,
) -> Response {
    let user_id = match form_user(&state, &caller, &form.csrf).await {
        Ok(user_id) => user_id,
        Err(response) => return response,
    };
    let result = match state.custody.coin_by_id(&form.coin) {
        Ok(coin) => {
            let entry = NewAddress {
                asset: coin.asset.clone(),
                network: Some(coin.network.id().to_owned()),
                address: form.address.clone(),
                memo: String::new(),
                label: form.label.clone(),
            };
            state
                .custody
                .add_address(user_id, second_factor(&form.totp_code), &entry)
                .await
                .map(|_| ())
        }
        Err(error) => Err(error),
    };
    finish(&state, &caller, &form.coin, result, "address-added").await
}

/// `POST /wallet/addresses/{id}/delete`: removes an address at once.
pub async fn remove_address(
    State(state): State<FundState>,
    caller: Caller,
    Path(id): Path<String>,
    PageForm(form): PageForm<CoinForm>,
) -> Response {
    let user_id = match form_user(&state, &caller, &form.csrf).await {
        Ok(user_id) => user_id,
        Err(response) => return response,
    };
    let result = match id.parse::<i64>() {
        Ok(id) => state.custody.remove_address(user_id, id).await,
        Err(_) => Err(CustodyError::NotFound),
    };
    finish(&state, &caller, &form.coin, result, "address-removed").await
}

/// `POST /wallet/whitelist` (`on` = 1 or 0).
pub async fn whitelist(
    State(state): State<FundState>,
    caller: Caller,
    PageForm(form): PageForm<CoinForm>,
) -> Response {
    let (user_id, ip) = match form_session(&state, &caller, &form.csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let on = form.on == "1";
    let result = state
        .custody
        .set_whitelist_only(user_id, on, second_factor(&form.totp_code), Some(ip))
        .await;
    let done = if on { "whitelist-on" } else { "whitelist-off" };
    finish(&state, &caller, &form.coin, result, done).await
}

/// The staff console's custody page rows.
pub struct QueueLine {
    pub id: i64,
    pub user_id: i64,
    pub asset: String,
    pub network: String,
    pub amount: String,
    pub usdt: String,
    pub address: String,
    pub created: String,
}

pub struct WalletLine {
    pub asset: String,
    pub network: String,
    pub hot: String,
    pub cold: String,
    pub share: String,
    pub alarm: bool,
}

pub struct IncidentLine {
    pub open: bool,
    pub asset: String,
    pub kind: String,
    pub detail: String,
    pub opened: String,
}

pub struct ReconciliationLine {
    pub at: String,
    pub asset: String,
    pub chain: String,
    pub expected: String,
    pub ledger: String,
    pub adjustments: String,
    pub shortfall: String,
    pub short: bool,
}

pub struct KeyLine {
    pub name: String,
    pub public_key: String,
    pub revoked: bool,
}

pub struct MovementLine {
    pub id: i64,
    pub action: String,
    pub amount: String,
    pub asset: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "admin_custody.html")]
pub struct CustodyConsole {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub can_decide: bool,
    pub queue: Vec<QueueLine>,
    pub wallets: Vec<WalletLine>,
    pub incidents: Vec<IncidentLine>,
    pub reconciliations: Vec<ReconciliationLine>,
    pub keys: Vec<KeyLine>,
    pub movements: Vec<MovementLine>,
}

async fn render_console(
    state: &FundState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let Some((who, _)) = who_and_user(&state.web, caller).await else {
        return pages::see_other("/login");
    };
    let authed = match caller.authed(&state.web).await {
        Ok(authed) => authed,
        Err(_) => return pages::see_other("/login"),
    };
    let custody = &state.custody;
    let overview = match custody.staff_overview(&authed).await {
        Ok(overview) => overview,
        Err(error) => {
            let status = match error.kind {
                bulwark_accounts::Kind::Forbidden => StatusCode::FORBIDDEN,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return pages::render(
                status,
                &pages::Landing {
                    who: Some(who),
                    notice: String::new(),
                    error: error.message,
                },
            );
        }
    };
    let usdt = |micros: i64| bulwark_types::format_units(micros, 6);
    let page = CustodyConsole {
        csrf: who.csrf.clone(),
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        can_decide: overview.can_decide,
        queue: overview
            .queue
            .iter()
            .map(|w| QueueLine {
                id: w.id,
                user_id: w.user_id,
                asset: w.asset.clone(),
                network: w.network.clone(),
                amount: custody.format(&w.asset, w.amount),
                usdt: usdt(w.usdt_micros),
                address: w.address.clone(),
                created: pages::utc_time(w.created_ms),
            })
            .collect(),
        wallets: overview
            .wallets
            .iter()
            .map(|w| {
                let bps = w.hot_share_bps();
                WalletLine {
                    asset: w.asset.clone(),
                    network: w.network.id().to_owned(),
                    hot: custody.format(&w.asset, w.hot),
                    cold: custody.format(&w.asset, w.cold),
                    share: format!("{}.{:02}%", bps / 100, bps % 100),
                    alarm: custody.hot_share_alarming(bps),
                }
            })
            .collect(),
        incidents: overview
            .incidents
            .iter()
            .map(|i| IncidentLine {
                open: i.resolved_ms.is_none(),
                asset: i.asset.clone(),
                kind: i.kind.replace('_', " "),
                detail: i.detail.clone(),
                opened: pages::utc_time(i.opened_ms),
            })
            .collect(),
        reconciliations: overview
            .reconciliations
            .iter()
            .map(|r| ReconciliationLine {
                at: pages::utc_time(r.at_ms),
                asset: r.asset.clone(),
                chain: custody.format(&r.asset, r.chain_balance),
                expected: custody.format(&r.asset, r.custody_expected),
                ledger: custody.format(&r.asset, r.ledger_liabilities),
                adjustments: custody.format(&r.asset, r.adjustments),
                shortfall: custody.format(&r.asset, r.shortfall),
                short: r.shortfall > 0,
            })
            .collect(),
        keys: overview
            .keys
            .iter()
            .map(|k| KeyLine {
                name: k.name.clone(),
                public_key: hex::encode(&k.public_key),
                revoked: k.revoked_ms.is_some(),
            })
            .collect(),
        movements: overview
            .movements
            .iter()
            .map(|m| MovementLine {
                id: m.id,
                action: m.action.replace('_', " "),
                amount: custody.format(&m.asset, m.amount),
                asset: m.asset.clone(),
                state: m.state.clone(),
            })
            .collect(),
    };
    pages::render(status, &page)
}

/// `GET /admin/custody`: the withdrawal queue, wallets, reconciliation and operator keys.
pub async fn console(State(state): State<FundState>, caller: Caller) -> Response {
    render_console(&state, &caller, StatusCode::OK, Flash::default()).await
}

#[derive(Deserialize, Default)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/custody/withdrawals/{id}/approve|reject`.
pub async fn decide(
    State(state): State<FundState>,
    caller: Caller,
    Path((id, decision)): Path<(String, String)>,
    PageForm(form): PageForm<DecisionForm>,
) -> Response {
    let authed = match caller.authed(&state.web).await {
        Ok(authed) => authed,
        Err(_) => return pages::see_other("/login"),
    };
    if !csrf_ok(&caller, &form.csrf) {
        return render_console(
            &state,
            &caller,
            StatusCode::FORBIDDEN,
            Flash::error("This form is stale; reload the page and try again."),
        )
        .await;
    }
    let Ok(id) = id.parse::<i64>() else {
        return render_console(
            &state,
            &caller,
            StatusCode::NOT_FOUND,
            Flash::error("No such withdrawal."),
        )
        .await;
    };
    let result = match decision.as_str() {
        "approve" => state.custody.staff_approve(&authed, id).await,
        "reject" => state.custody.staff_reject(&authed, id, &form.reason).await,
        _ => {
            return render_console(
                &state,
                &caller,
                StatusCode::NOT_FOUND,
                Flash::error("Decisions are approve and reject."),
            )
            .await;
        }
    };
    match result {
        Ok(row) => {
            let notice = format!("Withdrawal {id} is now {}.", row.state.replace('_', " "));
            render_console(&state, &caller, StatusCode::OK, Flash::notice(notice)).await
        }
        Err(error) => {
            let status = match error.kind {
                bulwark_accounts::Kind::Forbidden => StatusCode::FORBIDDEN,
                bulwark_accounts::Kind::NotFound => StatusCode::NOT_FOUND,
                bulwark_accounts::Kind::Conflict => StatusCode::CONFLICT,
                bulwark_accounts::Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            render_console(&state, &caller, status, Flash::error(error.message)).await
        }
    }
}
