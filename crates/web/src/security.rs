//! The security center: TOTP enrolment (QR code, confirmation, recovery codes shown once),
//! sessions and devices with revoke buttons, and the login-activity table.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bulwark_accounts::factors::{self, DisableRequest, EnableRequest};
use bulwark_accounts::my_account::{self, AcceptAgreementRequest, ActivityQuery};
use bulwark_accounts::sessions::Authed;
use bulwark_accounts::totp_setup::{self, ConfirmRequest, RegenerateRequest};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{CsrfForm, PageForm, csrf_ok, who_and_me};
use crate::caller::{self, Answer, Caller};
use crate::json::{rows, strings, text, time};
use crate::pages::{self, ActivityRow, CodeFactor, EventRow, Flash, SessionRow, Setup};
use crate::{WebState, csrf_token};

/// What a POST adds to the page it renders.
#[derive(Default)]
pub struct Extra {
    setup: Option<Setup>,
    recovery_codes: Vec<String>,
    reauth: bool,
    /// The email/SMS method a confirmation code was just sent for.
    code_sent: Option<String>,
}

fn session_rows(answer: &Answer, key: &str, created_key: &str) -> Vec<SessionRow> {
    rows(&answer.body, key)
        .iter()
        .map(|row| SessionRow {
            id: row.get("id").and_then(Value::as_i64).unwrap_or_default(),
            current: row.get("current").and_then(Value::as_bool).unwrap_or(false),
            created: time(row, created_key),
            last_seen: time(row, "last_seen_ms"),
            ip: text(row, "ip"),
            user_agent: text(row, "user_agent"),
        })
        .collect()
}

/// The lists of the security center, each read as the signed-in account.
#[derive(Clone, Copy)]
enum List {
    Sessions,
    Devices,
    Activity,
}

async fn list(state: &WebState, caller: &Caller, list: List) -> Answer {
    let authed = match caller.authed(state).await {
        Ok(authed) => authed,
        Err(refusal) => return Answer::refused(refusal),
    };
    let result = match list {
        List::Sessions => my_account::list(&state.v1, &authed).await,
        List::Devices => my_account::list_devices(&state.v1, &authed).await,
        List::Activity => {
            let query = ActivityQuery { before_id: None };
            my_account::activity(&state.v1, &authed, query).await
        }
    };
    Answer::of(result, StatusCode::OK)
}

/// Renders the security center, or sends the browser to the login page without a session.
pub async fn view(
    state: &WebState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
    extra: Extra,
) -> Response {
    let (Some((who, me)), Some(token)) = (who_and_me(state, caller).await, caller.session_token())
    else {
        return pages::see_other("/login");
    };
    if me.body.get("agreement_outdated").and_then(Value::as_bool) == Some(true) {
        let page = pages::Agreement {
            who: Some(who),
            notice: String::new(),
            error: flash.error,
            csrf: csrf_token(&token),
            version: text(&me.body, "current_agreement_version"),
            previous: text(&me.body, "agreement_version"),
        };
        return pages::render(status, &page);
    }
    let sessions = list(state, caller, List::Sessions).await;
    let devices = list(state, caller, List::Devices).await;
    let activity = list(state, caller, List::Activity).await;
    let logins = rows(&activity.body, "logins")
        .iter()
        .map(|row| ActivityRow {
            at: time(row, "at_ms"),
            ip: text(row, "ip"),
            country: text(row, "country"),
            method: text(row, "method"),
            result: text(row, "result"),
            user_agent: text(row, "user_agent"),
        })
        .collect();
    let events = rows(&activity.body, "security_events")
        .iter()
        .map(|row| EventRow {
            at: time(row, "at_ms"),
            kind: text(row, "kind"),
            ip: text(row, "ip"),
            detail: text(row, "detail"),
        })
        .collect();
    let page = pages::Security {
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        csrf: csrf_token(&token),
        totp_enabled: me.body.get("totp_enabled").and_then(Value::as_bool) == Some(true),
        code_factors: code_factors(&me.body, extra.code_sent.as_deref()),
        recovery_left: me
            .body
            .get("recovery_codes_remaining")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        recovery_codes: extra.recovery_codes,
        setup: extra.setup,
        reauth: extra.reauth,
        sessions: session_rows(&sessions, "sessions", "created_ms"),
        devices: session_rows(&devices, "devices", "first_seen_ms"),
        logins,
        events,
    };
    pages::render(status, &page)
}

/// The email and SMS rows of the security center from `/api/v1/me`.
fn code_factors(me: &Value, code_sent: Option<&str>) -> Vec<CodeFactor> {
    let on: Vec<&str> = me
        .get("code_factors")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    [
        ("email", "email", "email_verified"),
        ("sms", "phone", "phone_verified"),
    ]
    .into_iter()
    .map(|(method, contact, verified)| {
        let destination = if me.get(verified).and_then(Value::as_bool) == Some(true) {
            text(me, contact)
        } else {
            String::new()
        };
        CodeFactor {
            method: method.into(),
            label: if method == "sms" { "SMS" } else { "Email" }.into(),
            destination,
            enabled: on.contains(&method),
            code_sent: code_sent == Some(method),
        }
    })
    .collect()
}

pub async fn page(State(state): State<WebState>, caller: Caller) -> Response {
    view(
        &state,
        &caller,
        StatusCode::OK,
        Flash::default(),
        Extra::default(),
    )
    .await
}

pub fn expired_form() -> Response {
    (
        StatusCode::FORBIDDEN,
        "This form expired; reload the page and try again",
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// Re-authenticates with the password and switches `caller` to the fresh session token,
/// returning its cookies. On failure the answer is the security page with the service's refusal
/// (or `wrong_password` when given) and `extra`.
pub async fn reauthenticate(
    state: &WebState,
    caller: &mut Caller,
    password: &str,
    wrong_password: Option<&str>,
    extra: Extra,
) -> Result<Vec<axum::http::HeaderValue>, Response> {
    match caller::reauth(state, caller, password).await {
        Ok(cookies) => Ok(cookies),
        Err(refused) => {
            let message = wrong_password.map_or_else(|| refused.error_message(), str::to_owned);
            Err(view(state, caller, refused.status, Flash::error(message), extra).await)
        }
    }
}

/// Starts TOTP enrolment; asks for the password first when the last one is over 10 minutes old.
pub async fn totp_setup(
    State(state): State<WebState>,
    mut caller: Caller,
    PageForm(form): PageForm<SetupForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let mut cookies = Vec::new();
    if !form.password.is_empty() {
        let extra = Extra {
            reauth: true,
            ..Extra::default()
        };
        cookies = match reauthenticate(&state, &mut caller, &form.password, None, extra).await {
            Ok(cookies) => cookies,
            Err(page) => return page,
        };
    }
    let result = match caller.authed(&state).await {
        Ok(authed) => totp_setup::setup(&state.v1, &authed).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let (status, flash, extra) = if answer.is_ok() {
        let setup = Setup {
            qr_svg: answer.text("/qr_svg"),
            secret: answer.text("/secret"),
        };
        let extra = Extra {
            setup: Some(setup),
            ..Extra::default()
        };
        (StatusCode::OK, Flash::default(), extra)
    } else if answer.error_code() == "reauth_required" {
        let extra = Extra {
            reauth: true,
            ..Extra::default()
        };
        (StatusCode::OK, Flash::default(), extra)
    } else {
        let flash = Flash::error(answer.error_message());
        (answer.status, flash, Extra::default())
    };
    let response = view(&state, &caller, status, flash, extra).await;
    pages::with_cookies(response, &cookies)
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Confirms enrolment with a first code and shows the recovery codes once.
pub async fn totp_confirm(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<ConfirmForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let request = ConfirmRequest {
        code: form.code.trim().to_string(),
    };
    let result = match caller.authed(&state).await {
        Ok(authed) => totp_setup::confirm(&state.v1, &authed, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    if !answer.is_ok() {
        let flash = Flash::error(format!(
            "{} Start the setup again to get a new key.",
            answer.error_message()
        ));
        return view(&state, &caller, answer.status, flash, Extra::default()).await;
    }
    let recovery_codes = strings(&answer.body, "recovery_codes");
    let extra = Extra {
        recovery_codes,
        ..Extra::default()
    };
    let flash = Flash::notice("Two-step verification is on.");
    view(&state, &caller, StatusCode::OK, flash, extra).await
}

/// What a revoke button ends.
enum Revoke {
    Session(i64),
    Device(i64),
}

async fn revoke(
    state: &WebState,
    caller: &Caller,
    form: CsrfForm,
    what: Revoke,
    done: &str,
) -> Response {
    if !csrf_ok(caller, &form.csrf) {
        return expired_form();
    }
    let result = match caller.authed(state).await {
        Ok(authed) => revoke_one(state, &authed, what).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let (status, flash) = if answer.is_ok() {
        (StatusCode::OK, Flash::notice(done))
    } else {
        (answer.status, Flash::error(answer.error_message()))
    };
    view(state, caller, status, flash, Extra::default()).await
}

async fn revoke_one(
    state: &WebState,
    authed: &Authed,
    what: Revoke,
) -> Result<Value, bulwark_accounts::Error> {
    match what {
        Revoke::Session(id) => my_account::revoke(&state.v1, authed, id.to_string()).await,
        Revoke::Device(id) => my_account::revoke_device(&state.v1, authed, id.to_string()).await,
    }
}

pub async fn revoke_session(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<i64>,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    revoke(
        &state,
        &caller,
        form,
        Revoke::Session(id),
        "The session was ended.",
    )
    .await
}

pub async fn forget_device(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<i64>,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    let done = "The device was forgotten and its sessions ended.";
    revoke(&state, &caller, form, Revoke::Device(id), done).await
}

#[derive(Deserialize)]
pub struct FactorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    totp_code: String,
}

fn factor_method(method: &str) -> Option<&'static str> {
    match method {
        "email" => Some("email"),
        "sms" => Some("sms"),
        _ => None,
    }
}

/// Turns email/SMS login codes on (`send` after the password, then `enable` with the code) or
/// off (`disable` with the password and, when on, the authenticator code).
pub async fn factor_action(
    State(state): State<WebState>,
    mut caller: Caller,
    Path((method, action)): Path<(String, String)>,
    PageForm(form): PageForm<FactorForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let (Some(method), "send" | "enable" | "disable") = (factor_method(&method), action.as_str())
    else {
        return (StatusCode::NOT_FOUND, "No such page").into_response();
    };
    let mut cookies = Vec::new();
    if action != "enable" {
        cookies = match reauthenticate(&state, &mut caller, &form.password, None, Extra::default())
            .await
        {
            Ok(cookies) => cookies,
            Err(page) => return page,
        };
    }
    let result = match caller.authed(&state).await {
        Ok(authed) => {
            let method = method.to_string();
            match action.as_str() {
                "send" => factors::send_enable_code(&state.v1, &authed, method).await,
                "enable" => {
                    let request = EnableRequest {
                        code: form.code.trim().to_string(),
                    };
                    factors::enable(&state.v1, &authed, method, request).await
                }
                _ => {
                    let request = DisableRequest {
                        totp_code: (!form.totp_code.is_empty())
                            .then(|| form.totp_code.trim().to_string()),
                        recovery_code: None,
                    };
                    factors::disable(&state.v1, &authed, method, request).await
                }
            }
        }
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let label = crate::auth::method_label(method);
    let (status, flash, extra) = if !answer.is_ok() {
        let extra = Extra {
            code_sent: (action == "enable").then(|| method.to_string()),
            ..Extra::default()
        };
        (answer.status, Flash::error(answer.error_message()), extra)
    } else if action == "send" {
        let extra = Extra {
            code_sent: Some(method.to_string()),
            ..Extra::default()
        };
        let flash = Flash::notice(format!("We sent a confirmation code by {label}."));
        (StatusCode::OK, flash, extra)
    } else {
        let state_word = if action == "enable" { "on" } else { "off" };
        let flash = Flash::notice(format!(
            "Login codes by {label} are {state_word}. Withdrawals are paused for 24 hours."
        ));
        (StatusCode::OK, flash, Extra::default())
    };
    let response = view(&state, &caller, status, flash, extra).await;
    pages::with_cookies(response, &cookies)
}

#[derive(Deserialize)]
pub struct RegenerateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp_code: String,
}

/// `POST /security/recovery-codes`: new recovery codes, shown once.
pub async fn regenerate_recovery_codes(
    State(state): State<WebState>,
    mut caller: Caller,
    PageForm(form): PageForm<RegenerateForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let cookies =
        match reauthenticate(&state, &mut caller, &form.password, None, Extra::default()).await {
            Ok(cookies) => cookies,
            Err(page) => return page,
        };
    let request = RegenerateRequest {
        totp_code: Some(form.totp_code.trim().to_string()),
    };
    let result = match caller.authed(&state).await {
        Ok(authed) => totp_setup::regenerate_recovery_codes(&state.v1, &authed, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let response = if answer.is_ok() {
        let extra = Extra {
            recovery_codes: strings(&answer.body, "recovery_codes"),
            ..Extra::default()
        };
        let flash = Flash::notice("New recovery codes are ready; the old ones no longer work.");
        view(&state, &caller, StatusCode::OK, flash, extra).await
    } else {
        let flash = Flash::error(answer.error_message());
        view(&state, &caller, answer.status, flash, Extra::default()).await
    };
    pages::with_cookies(response, &cookies)
}

#[derive(Deserialize)]
pub struct AgreementForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    agree: Option<String>,
}

/// `POST /account/agreement`: accepts the current user agreement.
pub async fn accept_agreement(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<AgreementForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    if form.agree.is_none() {
        let flash = Flash::error("Tick the box to accept the agreement.");
        return view(
            &state,
            &caller,
            StatusCode::BAD_REQUEST,
            flash,
            Extra::default(),
        )
        .await;
    }
    let request = AcceptAgreementRequest {
        version: form.version,
    };
    let result = match caller.authed(&state).await {
        Ok(authed) => my_account::accept_agreement(&state.v1, &authed, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let (status, flash) = if answer.is_ok() {
        (
            StatusCode::OK,
            Flash::notice("Thank you: the updated agreement is accepted."),
        )
    } else {
        (answer.status, Flash::error(answer.error_message()))
    };
    view(&state, &caller, status, flash, Extra::default()).await
}
