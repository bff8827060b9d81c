//! Page templates (askama, compiled and auto-escaped at build time) and response helpers.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// Who is logged in, for the header.
pub struct Who {
    pub name: String,
    /// The per-session form token (see [`crate::csrf_token`]).
    pub csrf: String,
    /// A staff account: the header shows the "Admin" link.
    pub staff: bool,
}

/// The messages every page can show inline.
#[derive(Default)]
pub struct Flash {
    pub notice: String,
    pub error: String,
}

impl Flash {
    pub fn error(message: impl Into<String>) -> Flash {
        Flash {
            notice: String::new(),
            error: message.into(),
        }
    }

    pub fn notice(message: impl Into<String>) -> Flash {
        Flash {
            notice: message.into(),
            error: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "landing.html")]
pub struct Landing {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "signup.html")]
pub struct Signup {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub identifier: String,
    pub agreement_version: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
pub struct Verify {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub identifier: String,
    /// The token of the sign-up this browser just made; without it the page asks for the
    /// password chosen at sign-up (the code then completes only that sign-up).
    pub signup_token: String,
}

/// A proof-of-work challenge the API asked for.
pub struct Challenge {
    pub token: String,
    pub difficulty_bits: u64,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub identifier: String,
    pub challenge: Option<Challenge>,
}

/// An email or SMS login-code method offered on the second-factor page.
pub struct CodeMethod {
    pub method: String,
    pub label: String,
    /// A code was just sent, so the code field is shown.
    pub sent: bool,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
pub struct SecondFactor {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub pre_auth_token: String,
    /// What the API offered: totp, email, sms, recovery_code.
    pub methods: Vec<String>,
    /// The same, comma-separated, carried through the forms.
    pub methods_list: String,
    pub code_methods: Vec<CodeMethod>,
}

impl SecondFactor {
    /// Whether the API offered `method` for this login.
    pub fn offers(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }
}

/// The email or SMS factor row of the security center.
pub struct CodeFactor {
    pub method: String,
    pub label: String,
    /// The verified address or number; empty when there is none.
    pub destination: String,
    pub enabled: bool,
    pub code_sent: bool,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct Forgot {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub identifier: String,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct Reset {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub token: String,
}

#[derive(Template)]
#[template(path = "freeze.html")]
pub struct Freeze {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub token: String,
    pub valid: bool,
}

#[derive(Template)]
#[template(path = "qr_wait.html")]
pub struct QrWait {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    /// Seconds until the page reloads itself; 0 for none.
    pub refresh_s: u32,
    pub denied: bool,
    pub qr_svg: String,
    /// What the QR code encodes (also in a data attribute for tests and accessibility tools).
    pub approve_url: String,
    pub short_code: String,
}

/// A QR login request as the approving device sees it.
pub struct QrRequest {
    pub pending: bool,
    pub state: String,
    pub ip: String,
    pub country: String,
    pub user_agent: String,
    pub created: String,
    pub nonce: String,
    pub short_code: String,
}

#[derive(Template)]
#[template(path = "qr_approve.html")]
pub struct QrApprove {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub request: Option<QrRequest>,
}

#[derive(Template)]
#[template(path = "confirm_wait.html")]
pub struct ConfirmWait {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    /// new_device or new_country (empty when unknown on a reload).
    pub reason: String,
}

/// A login waiting for confirmation, as the emailed link shows it.
pub struct PendingLogin {
    pub pending: bool,
    pub state: String,
    pub ip: String,
    pub country: String,
    pub user_agent: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "confirm_link.html")]
pub struct ConfirmLink {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub token: String,
    pub login: Option<PendingLogin>,
}

#[derive(Template)]
#[template(path = "agreement.html")]
pub struct Agreement {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub version: String,
    pub previous: String,
}

/// A TOTP enrolment in progress.
pub struct Setup {
    pub qr_svg: String,
    pub secret: String,
}

/// One row of the sessions or devices table.
pub struct SessionRow {
    pub id: i64,
    pub current: bool,
    pub created: String,
    pub last_seen: String,
    pub ip: String,
    pub user_agent: String,
}

/// One row of the login-activity table.
pub struct ActivityRow {
    pub at: String,
    pub ip: String,
    pub country: String,
    pub method: String,
    pub result: String,
    pub user_agent: String,
}

/// One security event.
pub struct EventRow {
    pub at: String,
    pub kind: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "security.html")]
pub struct Security {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub totp_enabled: bool,
    pub code_factors: Vec<CodeFactor>,
    pub recovery_left: u64,
    pub recovery_codes: Vec<String>,
    pub setup: Option<Setup>,
    pub reauth: bool,
    pub sessions: Vec<SessionRow>,
    pub devices: Vec<SessionRow>,
    pub logins: Vec<ActivityRow>,
    pub events: Vec<EventRow>,
}

/// Renders a page with `status`.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!("web: rendering a page failed: {error}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A panel or table a page's script fetches again: its HTML (never cached, like every page), or
/// 503 saying why it is missing.
pub fn fragment<E: std::fmt::Display>(result: Result<String, E>) -> Response {
    match result {
        Ok(html) => Html(html).into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}

/// A 303 redirect after a successful form.
/// What a page says when a form's CSRF token is not this session's.
pub const FORM_EXPIRED: &str = "This form has expired; reload the page and try again.";

/// A private file (a KYC document, a claim's evidence): never cached, shown `inline` or
/// downloaded as an `attachment`.
pub fn private_file(
    bytes: Vec<u8>,
    content_type: axum::http::HeaderValue,
    disposition: &'static str,
) -> Response {
    use axum::http::{HeaderValue, header};
    let mut response = Response::new(axum::body::Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    response
}

pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// Passes the API's cookies on. `__Host-` cookies are only accepted by browsers with `Secure`
/// (which browsers also honour on http://localhost and 127.0.0.1), so it is added when missing.
pub fn with_cookies(mut response: Response, cookies: &[HeaderValue]) -> Response {
    for cookie in cookies {
        let value = match cookie.to_str() {
            Ok(text) if !text.contains("; Secure") => {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| cookie.clone())
            }
            _ => cookie.clone(),
        };
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Adds one `Set-Cookie` (a cookie the page itself sets, as `name=value; attributes`).
pub fn append_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// "YYYY-MM-DD HH:MM" in UTC for a millisecond timestamp.
pub fn utc_time(at_ms: i64) -> String {
    bulwark_identity::clock::utc_minute(at_ms)
}

/// The login page with a message, the identifier typed so far and any challenge to solve.
pub fn login_view(
    status: StatusCode,
    flash: Flash,
    identifier: String,
    challenge: Option<Challenge>,
) -> Response {
    let page = Login {
        who: None,
        notice: flash.notice,
        error: flash.error,
        identifier,
        challenge,
    };
    render(status, &page)
}

/// A change ratio in units of 10⁻⁵ as a signed percentage with two decimals.
pub fn signed_percent(change_e5: i64) -> String {
    let text = bulwark_types::format_units(change_e5 / 10, 2);
    if change_e5 > 0 {
        format!("+{text}")
    } else {
        text
    }
}

/// The colour class of a change: up, down or flat.
pub fn direction_class(change: i64) -> &'static str {
    match change.signum() {
        1 => "up",
        -1 => "down",
        _ => "flat",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn cookies_get_secure() {
        let cookie = HeaderValue::from_static("__Host-x=1; Path=/; HttpOnly");
        let response = with_cookies(see_other("/"), &[cookie]);
        let set = response.headers().get(header::SET_COOKIE).unwrap();
        assert!(set.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn changes_show_sign_and_direction() {
        assert_eq!(signed_percent(1_234), "+1.23");
        assert_eq!(signed_percent(-50_000), "-50.00");
        assert_eq!(signed_percent(0), "0.00");
        assert_eq!(direction_class(3), "up");
        assert_eq!(direction_class(-3), "down");
        assert_eq!(direction_class(0), "flat");
    }

    #[test]
    fn pages_escape_input() {
        let page = Verify {
            who: None,
            notice: String::new(),
            error: "<script>".into(),
            identifier: "\"><b>".into(),
            signup_token: "\"><i>".into(),
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>"));
        assert!(!html.contains("\"><b>"));
        assert!(!html.contains("\"><i>"));
    }
}
