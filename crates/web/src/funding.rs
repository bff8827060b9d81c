//! Funding pages over the custody service: the page an emailed withdrawal link opens (it
//! confirms only when the owner presses the button, so mail scanners that follow links confirm
//! nothing), and the wallet page (deposit addresses, withdrawals, the address book).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_custody::{Custody, CustodyError, WithdrawalRow};
use serde::Deserialize;

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
