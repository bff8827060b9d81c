//! Forgot-password and reset pages (the reset link in the email opens `/account/reset-password`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_accounts::doors::Door;
use bulwark_accounts::recovery::{self, ForgotRequest, ResetRequest};
use serde::Deserialize;

use crate::WebState;
use crate::auth::{PageForm, login_view};
use crate::caller::{Answer, Caller, Gate};
use crate::pages::{self, Flash};

fn forgot_view(status: StatusCode, flash: Flash, identifier: String) -> Response {
    let page = pages::Forgot {
        who: None,
        notice: flash.notice,
        error: flash.error,
        identifier,
    };
    pages::render(status, &page)
}

fn reset_view(status: StatusCode, flash: Flash, token: String) -> Response {
    let page = pages::Reset {
        who: None,
        notice: flash.notice,
        error: flash.error,
        token,
    };
    pages::render(status, &page)
}

pub async fn forgot_page() -> Response {
    forgot_view(StatusCode::OK, Flash::default(), String::new())
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    identifier: String,
}

/// Asks for a reset link; the answer is the same whether or not the account exists.
pub async fn forgot(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<ForgotForm>,
) -> Response {
    let request = ForgotRequest {
        identifier: form.identifier.clone(),
    };
    let result = match caller.admit(&state, Gate::Door(Door::Open)) {
        Ok(()) => recovery::forgot(&state.v1, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::ACCEPTED);
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return forgot_view(answer.status, flash, form.identifier);
    }
    reset_view(
        StatusCode::OK,
        Flash::notice(answer.text("/message")),
        String::new(),
    )
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn reset_page(
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    reset_view(StatusCode::OK, Flash::default(), token)
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    totp_code: String,
    #[serde(default)]
    recovery_code: String,
}

/// Sets the new password (with the second factor when enrolled), then offers the login page.
pub async fn reset(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<ResetForm>,
) -> Response {
    let request = ResetRequest {
        token: form.token.trim().to_string(),
        new_password: form.new_password,
        totp_code: crate::form::filled(&form.totp_code),
        recovery_code: crate::form::filled(&form.recovery_code),
    };
    let result = match caller.admit(&state, Gate::Door(Door::Open)) {
        Ok(()) => recovery::reset(&state.v1, caller.client(), request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    if !answer.is_ok() {
        return reset_view(
            answer.status,
            Flash::error(answer.error_message()),
            form.token,
        );
    }
    let flash = Flash::notice(
        "Your password was changed and every session was logged out. Log in with the new password.",
    );
    login_view(StatusCode::OK, flash, String::new(), None)
}
