//! QR login pages: the waiting page of a browser that wants to sign in, and "Approve a login"
//! on a device that is already logged in.
//!
//! The waiting browser keeps its request id, poll secret and code in one `__Host-` cookie that
//! only it holds; the page refreshes itself (a meta refresh, so no script is needed), and each
//! load polls the API, which redeems an approval into a session exactly once. An expired code is
//! replaced by a new one on the next load.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bulwark_accounts::doors::Door;
use bulwark_accounts::qr_login::{DecideRequest, FindRequest, PollRequest, QrPoll};
use bulwark_identity::{qr_login, totp};
use serde::Deserialize;
use serde_json::Value;

use crate::WebState;
use crate::auth::{PageForm, csrf_ok, login_view, who};
use crate::caller::{Answer, Caller, Gate, issued_cookies};
use crate::pages::{self, Flash, QrApprove, QrRequest, QrWait};

/// The cookie of a waiting browser: `id.poll_secret.nonce.short_code`.
pub const QR_COOKIE: &str = "__Host-bulwark_qr";
/// Seconds between the waiting page's reloads.
const REFRESH_S: u32 = 3;
/// Lifetime of the cookie (a little over one code's 120 s).
const COOKIE_MAX_AGE_S: i64 = 300;

/// What the waiting browser remembers about its request.
struct Waiting {
    id: i64,
    poll_secret: String,
    nonce: String,
    short_code: String,
}

impl Waiting {
    fn from_cookie(headers: &HeaderMap) -> Option<Waiting> {
        let value = bulwark_api::v1::cookies::cookie_value(headers, QR_COOKIE)?;
        let mut parts = value.split('.');
        let waiting = Waiting {
            id: parts.next()?.parse().ok()?,
            poll_secret: parts.next()?.to_string(),
            nonce: parts.next()?.to_string(),
            short_code: parts.next()?.to_string(),
        };
        parts.next().is_none().then_some(waiting)
    }

    fn from_answer(answer: &Answer) -> Option<Waiting> {
        Some(Waiting {
            id: answer.body.get("id")?.as_i64()?,
            poll_secret: answer.text("/poll_secret"),
            nonce: answer.text("/nonce"),
            short_code: answer.text("/short_code"),
        })
    }

    fn cookie(&self) -> String {
        format!(
            "{QR_COOKIE}={}.{}.{}.{}; Path=/; HttpOnly; SameSite=Lax; Max-Age={COOKIE_MAX_AGE_S}; Secure",
            self.id, self.poll_secret, self.nonce, self.short_code
        )
    }
}

fn clear_cookie() -> String {
    format!("{QR_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure")
}

fn wait_view(state: &WebState, waiting: &Waiting) -> Response {
    let approve_url = qr_login::approve_url(&state.v1.accounts.public_url, &waiting.nonce);
    let qr_svg = match totp::qr_svg(&approve_url) {
        Ok(svg) => svg,
        Err(error) => {
            tracing::error!("web: QR code: {error}");
            String::new()
        }
    };
    let page = QrWait {
        who: None,
        notice: String::new(),
        error: String::new(),
        refresh_s: REFRESH_S,
        denied: false,
        qr_svg,
        approve_url,
        short_code: waiting.short_code.clone(),
    };
    pages::append_cookie(pages::render(StatusCode::OK, &page), &waiting.cookie())
}

fn denied_view() -> Response {
    let page = QrWait {
        who: None,
        notice: String::new(),
        error: String::new(),
        refresh_s: 0,
        denied: true,
        qr_svg: String::new(),
        approve_url: String::new(),
        short_code: String::new(),
    };
    pages::append_cookie(pages::render(StatusCode::OK, &page), &clear_cookie())
}

async fn start(state: &WebState, caller: &Caller) -> Response {
    let result = match caller.admit(state, Gate::Regional(Door::Open)) {
        Ok(()) => bulwark_accounts::qr_login::start(&state.v1, caller.client()).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    match Waiting::from_answer(&answer).filter(|_| answer.is_ok()) {
        Some(waiting) => wait_view(state, &waiting),
        None => login_view(
            answer.status,
            Flash::error(answer.error_message()),
            String::new(),
            None,
        ),
    }
}

#[derive(Deserialize)]
pub struct WaitQuery {
    #[serde(default)]
    new: Option<String>,
}

/// `GET /login/qr`: shows (or refreshes) the code and logs in once it is approved.
pub async fn wait_page(
    State(state): State<WebState>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<WaitQuery>,
) -> Response {
    let waiting = Waiting::from_cookie(&headers).filter(|_| query.new.is_none());
    let Some(waiting) = waiting else {
        return start(&state, &caller).await;
    };
    let request = PollRequest {
        id: waiting.id,
        poll_secret: waiting.poll_secret.clone(),
    };
    let result = match caller.admit(&state, Gate::Regional(Door::Poll)) {
        Ok(()) => bulwark_accounts::qr_login::poll(&state.v1, caller.client(), request).await,
        Err(refusal) => Err(refusal),
    };
    let polled = match result {
        Ok(QrPoll::Session(issued)) => {
            let cookies = issued_cookies(&state, &issued);
            let response = pages::with_cookies(pages::see_other("/security"), &cookies);
            return pages::append_cookie(response, &clear_cookie());
        }
        Ok(QrPoll::Waiting(name)) => name,
        Err(error) if error.code == "account_frozen" => {
            let answer = Answer::refused(error);
            let flash = Flash::error(answer.error_message());
            let response = login_view(answer.status, flash, String::new(), None);
            return pages::append_cookie(response, &clear_cookie());
        }
        Err(_) => "",
    };
    match polled {
        "pending" => wait_view(&state, &waiting),
        "denied" => denied_view(),
        // Expired, already used, or unknown: a fresh code.
        _ => start(&state, &caller).await,
    }
}

#[derive(Deserialize)]
pub struct ApproveQuery {
    /// The nonce from a scanned QR code.
    #[serde(default)]
    n: Option<String>,
    /// A typed short code.
    #[serde(default)]
    code: Option<String>,
}

/// The scanned nonce if there is one, else the typed short code.
fn find_request(nonce: &str, short_code: &str) -> FindRequest {
    if nonce.is_empty() {
        FindRequest {
            nonce: None,
            short_code: Some(short_code.to_string()),
        }
    } else {
        FindRequest {
            nonce: Some(nonce.to_string()),
            short_code: None,
        }
    }
}

fn approve_view(
    status: StatusCode,
    flash: Flash,
    who: Option<pages::Who>,
    request: Option<QrRequest>,
) -> Response {
    let csrf = who.as_ref().map(|w| w.csrf.clone()).unwrap_or_default();
    let page = QrApprove {
        who,
        notice: flash.notice,
        error: flash.error,
        csrf,
        request,
    };
    let mut response = pages::render(status, &page);
    // The one page that may use the camera (to scan the code).
    response.headers_mut().insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(self), microphone=(), geolocation=()"),
    );
    response
}

fn must_log_in() -> Response {
    let flash = Flash::notice(
        "Log in on this device first, then scan the code or open Approve a login again.",
    );
    login_view(StatusCode::OK, flash, String::new(), None)
}

/// `GET /login/qr/approve`: the typed-code form, or the request a scanned code names.
pub async fn approve_page(
    State(state): State<WebState>,
    caller: Caller,
    Query(query): Query<ApproveQuery>,
) -> Response {
    let Some(who) = who(&state, &caller).await else {
        return must_log_in();
    };
    let nonce = query.n.unwrap_or_default();
    let short_code = query.code.unwrap_or_default();
    if nonce.is_empty() && short_code.trim().is_empty() {
        return approve_view(StatusCode::OK, Flash::default(), Some(who), None);
    }
    let request = find_request(&nonce, short_code.trim());
    let result = match caller.authed_in_region(&state).await {
        Ok(authed) => bulwark_accounts::qr_login::lookup(&state.v1, &authed, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return approve_view(answer.status, flash, Some(who), None);
    }
    let country = answer.text("/requester/country");
    let request = QrRequest {
        pending: answer.text("/state") == "pending",
        state: answer.text("/state"),
        ip: answer.text("/requester/ip"),
        country: if country.is_empty() {
            "unknown".into()
        } else {
            country
        },
        user_agent: answer.text("/requester/user_agent"),
        created: answer
            .body
            .get("created_at_ms")
            .and_then(Value::as_i64)
            .map(pages::utc_time)
            .unwrap_or_default(),
        nonce,
        short_code: short_code.trim().to_string(),
    };
    approve_view(StatusCode::OK, Flash::default(), Some(who), Some(request))
}

#[derive(Deserialize)]
pub struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    short_code: String,
    #[serde(default)]
    decision: String,
}

/// `POST /login/qr/approve`: approve or deny.
pub async fn decide(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<DecideForm>,
) -> Response {
    let Some(who) = who(&state, &caller).await else {
        return must_log_in();
    };
    if !csrf_ok(&caller, &form.csrf) {
        let flash = Flash::error("This form expired; scan or type the code again.");
        return approve_view(StatusCode::FORBIDDEN, flash, Some(who), None);
    }
    let found = find_request(&form.nonce, form.short_code.trim());
    let request = DecideRequest {
        nonce: found.nonce,
        short_code: found.short_code,
        decision: form.decision,
    };
    let result = match caller.authed_in_region(&state).await {
        Ok(authed) => bulwark_accounts::qr_login::decide(&state.v1, &authed, request).await,
        Err(refusal) => Err(refusal),
    };
    let answer = Answer::of(result, StatusCode::OK);
    let flash = if !answer.is_ok() {
        Flash::error(answer.error_message())
    } else if answer.text("/state") == "approved" {
        Flash::notice("Approved: the other browser is now logging in to your account.")
    } else {
        Flash::notice("Denied: the other browser was not logged in.")
    };
    approve_view(answer.status, flash, Some(who), None)
}
