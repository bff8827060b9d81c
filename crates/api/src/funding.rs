//! BitMart's funding endpoints (§5.3, §6.9–6.12 and the withdrawal extras) over the custody
//! service: currencies per network, deposit addresses, withdrawals, their history and detail,
//! fees and the address book. Handlers parse, authenticate, call custody and map its typed
//! refusals to BitMart's 600xx codes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use bulwark_custody::withdrawals::WithdrawRequest;
use bulwark_custody::{CoinRules, Custody, CustodyError, DepositRow, HistoryWindow, WithdrawalRow};
use serde_json::{Map, Value, json};

use crate::auth::{Scope, Signing, authenticate};
use crate::envelope::{ApiError, ApiResult, ok};
use crate::extract::{RawRequest, int_param, text_param};

/// Most records one history query returns (ccxt asks for 1000 by default).
pub const HISTORY_ROWS_MAX: i64 = 1_000;

/// What the funding handlers need: the trading service (API keys, signatures) and custody.
#[derive(Clone)]
pub struct FundingState {
    pub trading: crate::AppState,
    pub custody: Custody,
}

pub(crate) fn routes(state: FundingState) -> Router {
    Router::new()
        .route("/account/v1/currencies", get(currencies))
        .route("/account/v1/deposit/address", get(deposit_address))
        .route("/account/v1/withdraw/apply", post(withdraw_apply))
        .route("/account/v2/deposit-withdraw/history", get(history))
        .route("/account/v1/deposit-withdraw/detail", get(detail))
        .route("/account/v1/withdraw/charge", get(withdraw_charge))
        .route("/account/v1/withdraw/address/list", get(address_list))
        .with_state(state)
}

fn parse_currency(custody: &Custody, id: &str) -> Result<CoinRules, ApiError> {
    custody.coin_by_id(id).cloned().map_err(|e| refusal(&e))
}

fn currency_param(custody: &Custody, map: &Map<String, Value>) -> Result<CoinRules, ApiError> {
    let id = text_param(map, "currency")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad(60000, "Parameter currency can not be null"))?;
    parse_currency(custody, &id)
}

/// `GET /account/v1/currencies` (§5.3): one entry per currency per network.
pub async fn currencies(State(state): State<FundingState>) -> Response {
    let catalog = state.trading.sequencer.catalog();
    let custody = &state.custody;
    let entries: Vec<Value> = custody
        .coins()
        .iter()
        .map(|coin| {
            let name = catalog.asset(&coin.asset).map_or("", |(_, a)| a.name.as_str());
            let amount = |units| bulwark_types::format_units(units, coin.scale);
            json!({"currency": custody.currency_id(coin), "name": name, "network": coin.network.id(),
                   "contract_address": null,
                   "withdraw_enabled": coin.withdraw_enabled, "deposit_enabled": coin.deposit_enabled,
                   "withdraw_minsize": amount(coin.withdraw_min), "withdraw_minfee": amount(coin.withdraw_fee),
                   "withdraw_fee_estimate": amount(coin.withdraw_fee), "withdraw_fee": amount(coin.withdraw_fee),
                   "recharge_minsize": amount(coin.deposit_min)})
        })
        .collect();
    ok(json!({"currencies": entries}))
}

/// `GET /account/v1/deposit/address?currency=` (§6.9).
pub async fn deposit_address(State(state): State<FundingState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state.trading, &request, Scope::Read, Signing::KeyedRead).await?;
    let coin = currency_param(&state.custody, &request.query_map())?;
    let address = state
        .custody
        .deposit_address(caller.user_id, &coin.asset, Some(coin.network.id()))
        .await
        .map_err(|e| refusal(&e))?;
    Ok(ok(
        json!({"currency": state.custody.currency_id(&coin), "chain": coin.network.id(),
                 "address": address.address, "address_memo": address.memo}),
    ))
}

/// `POST /account/v1/withdraw/apply` (§6.10): needs a withdraw-scoped key (which needs an IP
/// allow-list); the funds are held at once and the owner confirms by email.
pub async fn withdraw_apply(State(state): State<FundingState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state.trading, &request, Scope::Withdraw, Signing::Required).await?;
    let body = request.json_object()?;
    let coin = currency_param(&state.custody, &body)?;
    let amount = match body.get("amount") {
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            // Rust prints floats in plain decimal (never an exponent), as parsing expects.
            (None, Some(f)) => format!("{f}"),
            _ => n.to_string(),
        },
        Some(Value::String(s)) => s.clone(),
        _ => return Err(ApiError::bad(60000, "Parameter amount can not be null")),
    };
    let destination = text_param(&body, "destination").unwrap_or_default();
    if !destination.is_empty() && destination != "To Digital Address" {
        return Err(ApiError::bad(
            60000,
            "Parameter destination must be 'To Digital Address'",
        ));
    }
    let address = text_param(&body, "address")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::bad(60011, "Parameter address can not be null"))?;
    let withdraw = WithdrawRequest {
        asset: coin.asset.clone(),
        network: Some(coin.network.id().to_owned()),
        address,
        memo: text_param(&body, "address_memo").unwrap_or_default(),
        amount,
    };
    let requested = state
        .custody
        .request_withdrawal(caller.user_id, &withdraw)
        .await
        .map_err(|e| refusal(&e))?;
    Ok(ok(
        json!({"withdraw_id": requested.withdrawal.id.to_string()}),
    ))
}

/// `GET /account/v2/deposit-withdraw/history` (§6.11).
pub async fn history(State(state): State<FundingState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state.trading, &request, Scope::Read, Signing::KeyedRead).await?;
    let query = request.query_map();
    let operation = text_param(&query, "operation_type").unwrap_or_default();
    let limit = int_param(&query, "N")?.unwrap_or(100);
    if !(1..=HISTORY_ROWS_MAX).contains(&limit) {
        return Err(ApiError::bad(
            60000,
            format!("Parameter N must be between 1 and {HISTORY_ROWS_MAX}"),
        ));
    }
    let currency = text_param(&query, "currency").filter(|c| !c.is_empty());
    let coin = match &currency {
        Some(id) => Some(parse_currency(&state.custody, id)?),
        None => None,
    };
    let since_ms = int_param(&query, "startTime")?.unwrap_or(0);
    let until_ms = int_param(&query, "endTime")?.unwrap_or(i64::MAX);
    // `USDT-ERC20` names one network; a bare `USDT` means every network of the asset.
    let one_network = currency.as_deref().is_some_and(|id| id.contains('-'));
    let window = HistoryWindow {
        asset: coin.as_ref().map(|c| c.asset.as_str()),
        network: coin
            .as_ref()
            .filter(|_| one_network)
            .map(|c| c.network.id()),
        since_ms,
        until_ms,
        limit,
    };
    let custody = &state.custody;
    let records: Vec<Value> = match operation.as_str() {
        "deposit" => custody
            .deposits(caller.user_id, window)
            .await
            .map_err(|e| refusal(&e))?
            .iter()
            .map(|d| deposit_record(custody, d))
            .collect(),
        "withdraw" => custody
            .withdrawals(caller.user_id, window)
            .await
            .map_err(|e| refusal(&e))?
            .iter()
            .map(|w| withdrawal_record(custody, w))
            .collect(),
        _ => {
            return Err(ApiError::bad(
                60000,
                "Parameter operation_type must be deposit or withdraw",
            ));
        }
    };
    Ok(ok(json!({"records": records})))
}

/// `GET /account/v1/deposit-withdraw/detail?id=` (§6.12). Deposit and withdrawal ids are told
/// apart by a prefix on deposits (`d…`), since both count from one.
pub async fn detail(State(state): State<FundingState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state.trading, &request, Scope::Read, Signing::KeyedRead).await?;
    let id = text_param(&request.query_map(), "id")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad(60000, "Parameter id can not be null"))?;
    let custody = &state.custody;
    let not_found = || ApiError::bad(60010, format!("No deposit or withdrawal with id {id}"));
    let record = match id.strip_prefix('d') {
        Some(number) => {
            let number = number.parse::<i64>().map_err(|_| not_found())?;
            let deposit = custody
                .deposit(caller.user_id, number)
                .await
                .map_err(|_| not_found())?;
            deposit_record(custody, &deposit)
        }
        None => {
            let number = id.parse::<i64>().map_err(|_| not_found())?;
            let withdrawal = custody
                .user_withdrawal(caller.user_id, number)
                .await
                .map_err(|_| not_found())?;
            withdrawal_record(custody, &withdrawal)
        }
    };
    Ok(ok(json!({"record": record})))
}

/// `GET /account/v1/withdraw/charge?currency=`: fee, minimum, precision and what the 24-hour
/// limit leaves.
pub async fn withdraw_charge(State(state): State<FundingState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state.trading, &request, Scope::Read, Signing::KeyedRead).await?;
    let coin = currency_param(&state.custody, &request.query_map())?;
    let available = state
        .custody
        .withdrawable_today(caller.user_id, &coin.asset)
        .await
        .map_err(|e| refusal(&e))?;
    let amount = |units| bulwark_types::format_units(units, coin.scale);
    let mut data = json!({"withdraw_fee": amount(coin.withdraw_fee), "min_withdraw": amount(coin.withdraw_min),
                          "withdraw_precision": coin.scale, "network": coin.network.id()});
    if let Value::Object(map) = &mut data {
        map.insert(
            format!("today_available_withdraw_{}", coin.asset),
            Value::String(available.map_or_else(String::new, amount)),
        );
    }
    Ok(ok(data))
}

/// `GET /account/v1/withdraw/address/list`: the user's address book.
pub async fn address_list(State(state): State<FundingState>, request: RawRequest) -> ApiResult {
    let caller = authenticate(&state.trading, &request, Scope::Read, Signing::KeyedRead).await?;
    let now_ms = crate::now_ms();
    let book = state
        .custody
        .address_book(caller.user_id)
        .await
        .map_err(|e| refusal(&e))?;
    let list: Vec<Value> = book
        .iter()
        .map(|e| json!({"currency": e.asset, "network": e.network, "address": e.address, "memo": e.memo,
                        "remark": e.label, "addressType": 0, "verifyStatus": i32::from(e.usable_from_ms <= now_ms)}))
        .collect();
    Ok(ok(json!({"list": list})))
}

/// A record's currency as `CODE-NETWORK` (§6.11 allows it), so ccxt reads the network of every
/// deposit and withdrawal, on the default network too.
fn record_currency(asset: &str, network: &str) -> String {
    format!("{asset}-{network}")
}

fn deposit_record(custody: &Custody, d: &DepositRow) -> Value {
    // BitMart: 0,1,2 pending, 3 ok. A deposit below the minimum is never credited: 5.
    let status = match d.state.as_str() {
        "credited" => 3,
        "below_minimum" | "reverted" => 5,
        _ => 1,
    };
    json!({"withdraw_id": "", "deposit_id": format!("d{}", d.id), "operation_type": "deposit",
           "currency": record_currency(&d.asset, &d.network), "network": d.network,
           "apply_time": d.detected_ms,
           "arrival_amount": custody.format(&d.asset, d.amount), "fee": "0", "status": status,
           "address": d.address, "address_memo": "", "tx_id": d.txid,
           "confirmations": d.confirmations, "required_confirmations": d.required_confirmations,
           "state": d.state})
}

fn withdrawal_record(custody: &Custody, w: &WithdrawalRow) -> Value {
    // BitMart: 0,1,2 pending, 3 ok, 4 cancelled, 5 failed.
    let status = match w.state.as_str() {
        "confirmed" => 3,
        "cancelled" | "rejected" => 4,
        "failed" => 5,
        "broadcast" | "signed" => 2,
        "requested" => 0,
        _ => 1,
    };
    json!({"withdraw_id": w.id.to_string(), "deposit_id": "", "operation_type": "withdraw",
           "currency": record_currency(&w.asset, &w.network), "network": w.network,
           "apply_time": w.created_ms,
           "arrival_amount": custody.format(&w.asset, w.amount - w.fee),
           "fee": custody.format(&w.asset, w.fee), "status": status, "address": w.address,
           "address_memo": w.memo, "tx_id": w.txid.clone().unwrap_or_default(), "state": w.state})
}

/// BitMart's code for each custody refusal.
pub fn refusal(error: &CustodyError) -> ApiError {
    let message = error.to_string();
    let (status, code) = match error {
        CustodyError::UnknownCoin { .. } => (StatusCode::BAD_REQUEST, 60002),
        CustodyError::DepositsClosed { .. } => (StatusCode::BAD_REQUEST, 60003),
        CustodyError::DepositNotPermitted(_) => (StatusCode::FORBIDDEN, 60020),
        CustodyError::WithdrawalsClosed { .. } | CustodyError::WithdrawalsFrozen { .. } => {
            (StatusCode::BAD_REQUEST, 60004)
        }
        CustodyError::BelowMinimum { .. } => (StatusCode::BAD_REQUEST, 60005),
        CustodyError::InvalidAmount(_) => (StatusCode::BAD_REQUEST, 60006),
        CustodyError::NotWhitelisted => (StatusCode::BAD_REQUEST, 60007),
        CustodyError::InsufficientBalance { .. } => (StatusCode::BAD_REQUEST, 60008),
        CustodyError::LimitExceeded(_) => (StatusCode::BAD_REQUEST, 60009),
        CustodyError::NotFound => (StatusCode::BAD_REQUEST, 60010),
        CustodyError::InvalidAddress(_) | CustodyError::MemoNotSupported { .. } => {
            (StatusCode::BAD_REQUEST, 60011)
        }
        CustodyError::NotPermitted(_)
        | CustodyError::RequesterCannotApprove
        | CustodyError::SecondFactor(_) => (StatusCode::FORBIDDEN, 60021),
        CustodyError::WithdrawLocked { .. } => (StatusCode::FORBIDDEN, 60022),
        CustodyError::AccountNotActive { .. } => (StatusCode::FORBIDDEN, 60029),
        CustodyError::WrongState { .. }
        | CustodyError::ConfirmationInvalid
        | CustodyError::ConfirmationExpired => (StatusCode::BAD_REQUEST, 60000),
        CustodyError::Internal(detail) => return ApiError::internal(detail),
    };
    ApiError::new(status, code, message)
}
