//! New-device and new-country confirmation pages: the waiting page of the browser that logged
//! in (code field, reloads itself until the emailed link is used), and the page the emailed
//! link opens, which confirms only when the owner presses the button (mail scanners that follow
//! links confirm nothing).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bulwark_accounts::confirm_login::{self, ConfirmRequest, LinkRequest};
use bulwark_accounts::doors::Door;
use bulwark_accounts::login_step::LoginStep;
use serde::Deserialize;
use serde_json::Value;

use crate::WebState;
use crate::caller::{Answer, Caller, Gate, cookie_values, device_cookie, issued_cookies};
use crate::form::PageForm;
use crate::pages::login_view;
use crate::pages::{self, ConfirmLink, ConfirmWait, Flash, PendingLogin};

/// The cookie holding the waiting browser's confirmation token.
pub const CONFIRM_COOKIE: &str = "__Host-bulwark_confirm";
/// A little over the 10 minutes a confirmation lives.
const COOKIE_MAX_AGE_S: i64 = 900;

fn cookie(token: &str) -> String {
    let max_age = if token.is_empty() {
        0
    } else {
        COOKIE_MAX_AGE_S
    };
    format!("{CONFIRM_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}; Secure")
}

fn with_cookie(response: Response, token: &str) -> Response {
    pages::append_cookie(response, &cookie(token))
}

fn wait_view(status: StatusCode, flash: Flash, reason: &str) -> Response {
    let page = ConfirmWait {
        who: None,
        notice: flash.notice,
        error: flash.error,
        reason: reason.to_string(),
    };
    pages::render(status, &page)
}

/// Answers a login step that needs the owner's confirmation: remembers the token in a cookie
/// and shows the waiting page (setting the device cookie when the browser was registered).
pub fn hold(
    state: &WebState,
    reason: &str,
    confirmation_token: &str,
    new_device_token: Option<&str>,
) -> Response {
    let response = wait_view(StatusCode::OK, Flash::default(), reason);
    let response = match new_device_token {
        Some(device) => {
            pages::with_cookies(response, &cookie_values([device_cookie(state, device)]))
        }
        None => response,
    };
    with_cookie(response, confirmation_token)
}

async fn poll(
    state: &WebState,
    caller: &Caller,
    token: &str,
    code: Option<&str>,
) -> Result<LoginStep, Answer> {
    let request = ConfirmRequest {
        confirmation_token: token.to_string(),
        code: code.map(|code| code.trim().to_string()),
    };
    let result = match caller.admit(state, Gate::Regional(Door::Poll)) {
        Ok(()) => confirm_login::confirm(&state.v1, caller.client(), request).await,
        Err(refusal) => Err(refusal),
    };
    result.map_err(Answer::refused)
}

fn after_poll(state: &WebState, polled: Result<LoginStep, Answer>) -> Response {
    let answer = match polled {
        Ok(LoginStep::Done(issued)) => {
            let cookies = issued_cookies(state, &issued);
            let response = pages::with_cookies(pages::see_other("/security"), &cookies);
            return with_cookie(response, "");
        }
        Ok(_) => return wait_view(StatusCode::OK, Flash::default(), ""),
        Err(answer) => answer,
    };
    match answer.error_code() {
        "invalid_code" | "malformed_code" | "try_later" => {
            wait_view(answer.status, Flash::error(answer.error_message()), "")
        }
        _ => {
            let flash = Flash::error(answer.error_message());
            with_cookie(login_view(answer.status, flash, String::new(), None), "")
        }
    }
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    bulwark_api::v1::cookies::cookie_value(headers, CONFIRM_COOKIE).filter(|t| !t.is_empty())
}

/// `GET /login/device`: asks whether the link was used; continues to the account once it was.
pub async fn wait_page(
    State(state): State<WebState>,
    caller: Caller,
    headers: HeaderMap,
) -> Response {
    let Some(token) = token_of(&headers) else {
        return pages::see_other("/login");
    };
    after_poll(&state, poll(&state, &caller, &token, None).await)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `POST /login/device`: the code from the message.
pub async fn submit_code(
    State(state): State<WebState>,
    caller: Caller,
    headers: HeaderMap,
    PageForm(form): PageForm<CodeForm>,
) -> Response {
    let Some(token) = token_of(&headers) else {
        return pages::see_other("/login");
    };
    after_poll(
        &state,
        poll(&state, &caller, &token, Some(&form.code)).await,
    )
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

fn link_view(
    status: StatusCode,
    flash: Flash,
    token: String,
    login: Option<PendingLogin>,
) -> Response {
    let page = ConfirmLink {
        who: None,
        notice: flash.notice,
        error: flash.error,
        token,
        login,
    };
    pages::render(status, &page)
}

/// `GET /login/confirm?token=`: shows what the link is about and a confirm button.
pub async fn link_page(
    State(state): State<WebState>,
    caller: Caller,
    Query(query): Query<LinkQuery>,
) -> Response {
    let request = LinkRequest {
        token: query.token.clone(),
    };
    let result = match caller.admit(&state, Gate::Regional(Door::Open)) {
        Ok(()) => confirm_login::check_link(&state.v1, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    if !answer.is_ok() {
        return link_view(
            answer.status,
            Flash::error(answer.error_message()),
            String::new(),
            None,
        );
    }
    let country = answer.text("/country");
    let login = PendingLogin {
        pending: answer.text("/state") == "pending",
        state: answer.text("/state"),
        ip: answer.text("/ip"),
        country: if country.is_empty() {
            "unknown".into()
        } else {
            country
        },
        user_agent: answer.text("/user_agent"),
        created: answer
            .body
            .get("created_at_ms")
            .and_then(Value::as_i64)
            .map(pages::utc_time)
            .unwrap_or_default(),
    };
    link_view(StatusCode::OK, Flash::default(), query.token, Some(login))
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    token: String,
}

/// `POST /login/confirm`: the owner pressed "Yes, this was me".
pub async fn confirm_link(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<LinkForm>,
) -> Response {
    let request = LinkRequest { token: form.token };
    let result = match caller.admit(&state, Gate::Regional(Door::Open)) {
        Ok(()) => confirm_login::confirm_link(&state.v1, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let flash = if answer.is_ok() {
        Flash::notice("Confirmed. The browser that was waiting is now logged in.")
    } else {
        Flash::error(answer.error_message())
    };
    link_view(answer.status, flash, String::new(), None)
}
