//! Forgot-password and reset pages (the reset link in the email opens `/account/reset-password`).

use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::WebState;
use crate::api::{self, Caller};
use crate::auth::{PageForm, login_view};
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
    let body = json!({"identifier": form.identifier});
    let path = "/api/v1/password/forgot";
    let answer = api::call(&state.api, &caller, Method::POST, path, Some(body)).await;
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
    let mut body = json!({"token": form.token.trim(), "new_password": form.new_password});
    if let Some(object) = body.as_object_mut() {
        if !form.totp_code.trim().is_empty() {
            object.insert("totp_code".into(), json!(form.totp_code.trim()));
        }
        if !form.recovery_code.trim().is_empty() {
            object.insert("recovery_code".into(), json!(form.recovery_code.trim()));
        }
    }
    let path = "/api/v1/password/reset";
    let answer = api::call(&state.api, &caller, Method::POST, path, Some(body)).await;
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
