//! Protection actions of the security center: password change and self-service freeze (from a
//! session, or from the "this wasn't me" link in every email).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_accounts::doors::Door;
use bulwark_accounts::freeze;
use bulwark_accounts::recovery::{self, AntiPhishingRequest, ChangePasswordRequest};
use serde::Deserialize;

use crate::WebState;
use crate::auth::{CsrfForm, PageForm, csrf_ok};
use crate::caller::{Answer, Caller, Gate, session_cookie};
use crate::pages::{self, Flash};
use crate::security::{Extra, expired_form, reauthenticate, view};

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Confirms the current password (the API's re-authentication), then changes it.
pub async fn change_password(
    State(state): State<WebState>,
    mut caller: Caller,
    PageForm(form): PageForm<PasswordForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let wrong = Some("The current password is wrong.");
    let reauth = match reauthenticate(
        &state,
        &mut caller,
        &form.current_password,
        wrong,
        Extra::default(),
    )
    .await
    {
        Ok(cookies) => cookies,
        Err(page) => return page,
    };
    let request = ChangePasswordRequest {
        current_password: form.current_password,
        new_password: form.new_password,
    };
    let result = match caller.authed(&state).await {
        Ok(authed) => recovery::change(&state.v1, &authed, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let (status, flash) = if answer.is_ok() {
        let message = "Your password was changed; your other sessions were logged out.";
        (StatusCode::OK, Flash::notice(message))
    } else {
        (answer.status, Flash::error(answer.error_message()))
    };
    let response = view(&state, &caller, status, flash, Extra::default()).await;
    pages::with_cookies(response, &reauth)
}

#[derive(Deserialize)]
pub struct AntiPhishingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp_code: String,
}

/// Sets the anti-phishing code: password (re-authentication) and, when enrolled, a TOTP code.
pub async fn anti_phishing(
    State(state): State<WebState>,
    mut caller: Caller,
    PageForm(form): PageForm<AntiPhishingForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let reauth =
        match reauthenticate(&state, &mut caller, &form.password, None, Extra::default()).await {
            Ok(cookies) => cookies,
            Err(page) => return page,
        };
    let request = AntiPhishingRequest {
        code: form.code.trim().to_string(),
        totp_code: crate::form::filled(&form.totp_code),
        recovery_code: None,
    };
    let result = match caller.authed(&state).await {
        Ok(authed) => recovery::set_anti_phishing(&state.v1, &authed, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let (status, flash) = if answer.is_ok() {
        let message = "Your anti-phishing code is saved; it appears at the top of every email.";
        (StatusCode::OK, Flash::notice(message))
    } else {
        (answer.status, Flash::error(answer.error_message()))
    };
    let response = view(&state, &caller, status, flash, Extra::default()).await;
    pages::with_cookies(response, &reauth)
}

fn frozen_page(cookies: &[axum::http::HeaderValue]) -> Response {
    let page = pages::Landing {
        who: None,
        notice: "Your account is frozen: every session was logged out, API keys were deleted and \
                 open orders are being cancelled. Contact support to unfreeze it."
            .into(),
        error: String::new(),
    };
    pages::with_cookies(pages::render(StatusCode::OK, &page), cookies)
}

/// Freezes the logged-in account.
pub async fn freeze_self(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let result = match caller.authed(&state).await {
        Ok(authed) => freeze::freeze_self(&state.v1, &authed).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return view(&state, &caller, answer.status, flash, Extra::default()).await;
    }
    // Frozen means logged out: the session cookie is cleared.
    let answer = answer.with_cookie(session_cookie(&state, ""));
    frozen_page(&answer.cookies)
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
}

fn freeze_view(status: StatusCode, flash: Flash, token: String, valid: bool) -> Response {
    let page = pages::Freeze {
        who: None,
        notice: flash.notice,
        error: flash.error,
        token,
        valid,
    };
    pages::render(status, &page)
}

/// Token characters allowed in a path segment (link tokens are URL-safe base64).
fn url_safe(token: &str) -> bool {
    !token.is_empty()
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The email link: checks the token (changing nothing, so mail scanners cannot freeze) and
/// asks for a confirming click.
pub async fn freeze_link_page(
    State(state): State<WebState>,
    caller: Caller,
    query: Result<Query<TokenForm>, QueryRejection>,
) -> Response {
    let token = query.map(|Query(q)| q.token).unwrap_or_default();
    if !url_safe(&token) {
        let flash = Flash::error("This freeze link is incomplete; open it from the email again.");
        return freeze_view(StatusCode::BAD_REQUEST, flash, String::new(), false);
    }
    let result = match caller.admit(&state, Gate::Door(Door::Open)) {
        Ok(()) => freeze::check_link(&state.v1, token.clone()).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    if !answer.is_ok() {
        return freeze_view(
            answer.status,
            Flash::error(answer.error_message()),
            token,
            false,
        );
    }
    freeze_view(StatusCode::OK, Flash::default(), token, true)
}

pub async fn freeze_by_link(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<TokenForm>,
) -> Response {
    if !url_safe(&form.token) {
        let flash = Flash::error("This freeze link is incomplete; open it from the email again.");
        return freeze_view(StatusCode::BAD_REQUEST, flash, String::new(), false);
    }
    let result = match caller.admit(&state, Gate::Door(Door::Open)) {
        Ok(()) => freeze::freeze_by_link(&state.v1, caller.client(), form.token.clone()).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return freeze_view(answer.status, flash, form.token, false);
    }
    frozen_page(&answer.cookies)
}
