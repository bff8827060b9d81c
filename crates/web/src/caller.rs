//! The browser behind a page request as the accounts service sees it (address, country, user
//! agent, device and session cookies), the doors it passes before a use case, and [`Answer`],
//! a service result as a page renders it. Pages call `bulwark-accounts` directly; this module
//! keeps the guards the JSON API applies to the same use cases (same-site check, region
//! refusal, per-IP buckets) in one place for the pages.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use bulwark_accounts::doors::{self, Door};
use bulwark_accounts::sessions::{Authed, IssuedSession};
use bulwark_accounts::{Client, Error, Kind};
use bulwark_api::v1::cookies::{self, DEVICE_COOKIE};
use bulwark_api::v1::error::status_of;
use bulwark_api::v1::guard::{csrf_allows, forwarded_for, user_agent};
use bulwark_api::v1::sessions::SESSION_COOKIE;
use serde_json::Value;

use crate::WebState;

/// The browser request's facts that each use case of the page carries on.
#[derive(Clone, Debug)]
pub struct Caller {
    client: Client,
    /// The session cookie the browser presents.
    cookie_session: Option<String>,
    /// A session token issued earlier in this same page request (after re-authentication).
    fresh_session: Option<String>,
    /// A state-changing request the browser says came from another site.
    cross_site: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    WebState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, Self::Rejection> {
        let state = WebState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip());
        let access = state.v1.accounts.access();
        let ip = access.client_ip(peer, &forwarded_for(&parts.headers));
        // A page shown for a GET (a link from webmail, a scanned QR code) may make read-only
        // lookups and polls; the browser's cross-site marker belongs to the page view, not to
        // them. Form POSTs must say they came from this site.
        let page_view = parts.method == Method::GET || parts.method == Method::HEAD;
        Ok(Caller {
            client: Client {
                ip,
                user_agent: user_agent(&parts.headers),
                country: access.country(ip),
                device_token: cookies::cookie_value(&parts.headers, DEVICE_COOKIE),
            },
            cookie_session: cookies::cookie_value(&parts.headers, SESSION_COOKIE),
            fresh_session: None,
            cross_site: !page_view && !csrf_allows(&parts.method, &parts.headers),
        })
    }
}

/// Which guards stand in front of a use case an unauthenticated browser can reach.
#[derive(Debug, Clone, Copy)]
pub enum Gate {
    /// A per-IP bucket only.
    Door(Door),
    /// Sign-up and the login steps: refused from a restricted region, then a per-IP bucket.
    Regional(Door),
}

impl Caller {
    /// The facts the service records with each attempt.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The session token the browser presents (or one issued during this request).
    pub fn session_token(&self) -> Option<String> {
        self.fresh_session
            .clone()
            .or_else(|| self.cookie_session.clone())
    }

    /// Uses `token` as the session for the rest of this request.
    pub fn use_session(&mut self, token: &str) {
        self.fresh_session = Some(token.to_string());
    }

    fn same_site(&self) -> Result<(), Error> {
        if self.cross_site {
            return Err(Error::new(
                Kind::Forbidden,
                "csrf_rejected",
                "Cross-site request refused: send it from this site or with an Authorization: Bearer token",
            ));
        }
        Ok(())
    }

    /// Passes the guards of an unauthenticated use case: the same-site check, then the region
    /// (for sign-up and login), then the per-IP bucket.
    pub fn admit(&self, state: &WebState, gate: Gate) -> Result<(), Error> {
        let door = match gate {
            Gate::Door(door) => door,
            Gate::Regional(door) => {
                doors::refuse_restricted_region(&state.v1, self.client.country.as_deref())?;
                door
            }
        };
        self.same_site()?;
        doors::admit(&state.v1, self.client.ip, door)
    }

    /// The signed-in account for one use case (after the same-site check).
    pub async fn authed(&self, state: &WebState) -> Result<Authed, Error> {
        self.same_site()?;
        let token = self.session_token();
        bulwark_accounts::sessions::authenticate(&state.v1, token.as_deref(), self.client.clone())
            .await
    }

    /// Runs one use case for the signed-in account as an [`Answer`], with `success` as its
    /// status; without a valid session the refusal is the answer.
    pub async fn signed_in(
        &self,
        state: &WebState,
        success: StatusCode,
        use_case: impl AsyncFnOnce(Authed) -> Result<Value, Error>,
    ) -> Answer {
        match self.authed(state).await {
            Ok(authed) => Answer::of(use_case(authed).await, success),
            Err(refusal) => Answer::refused(refusal),
        }
    }

    /// [`Caller::authed`] for a login step taken from a signed-in device (approving a QR
    /// login): refused from a restricted region first, as every login step is.
    pub async fn authed_in_region(&self, state: &WebState) -> Result<Authed, Error> {
        doors::refuse_restricted_region(&state.v1, self.client.country.as_deref())?;
        self.authed(state).await
    }
}

/// A use case's result as a page renders it: the HTTP status the JSON API would answer, the
/// answer document on success or the typed refusal, and the cookies to pass on.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub error: Option<Error>,
    pub cookies: Vec<HeaderValue>,
}

impl Answer {
    /// A result, with `success` as the status when it succeeded.
    pub fn of(result: Result<Value, Error>, success: StatusCode) -> Answer {
        match result {
            Ok(body) => Answer::ok(body, success),
            Err(error) => Answer::refused(error),
        }
    }

    pub fn ok(body: Value, status: StatusCode) -> Answer {
        Answer {
            status,
            body,
            error: None,
            cookies: Vec::new(),
        }
    }

    pub fn refused(error: Error) -> Answer {
        Answer {
            status: status_of(error.kind),
            body: Value::Null,
            error: Some(error),
            cookies: Vec::new(),
        }
    }

    /// Adds a cookie to pass on to the browser.
    pub fn with_cookie(mut self, cookie: String) -> Answer {
        self.cookies.extend(cookie_values([cookie]));
        self
    }

    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// The stable error code, or "" on success.
    pub fn error_code(&self) -> &str {
        self.error.as_ref().map_or("", |error| error.code)
    }

    /// The service's human message for a refusal, with the wait when it names one.
    pub fn error_message(&self) -> String {
        let Some(error) = &self.error else {
            return String::new();
        };
        match error.retry_after_s {
            Some(seconds) => format!("{} (about {seconds} s).", error.message),
            None => error.message.clone(),
        }
    }

    /// A string field of the answer document, or "".
    pub fn text(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

/// The `Set-Cookie` value for a session token (or clearing it when `token` is empty).
pub fn session_cookie(state: &WebState, token: &str) -> String {
    bulwark_api::v1::sessions::cookie(token, state.v1.accounts.secure_cookies)
}

/// `Set-Cookie` values as headers (a value that cannot be a header is dropped).
pub fn cookie_values(cookies: impl IntoIterator<Item = String>) -> Vec<HeaderValue> {
    cookies
        .into_iter()
        .filter_map(|cookie| HeaderValue::from_str(&cookie).ok())
        .collect()
}

/// The cookies of a new session: the session, and the device cookie after a new device.
pub fn issued_cookies(state: &WebState, issued: &IssuedSession) -> Vec<HeaderValue> {
    let device = issued
        .new_device_token
        .as_deref()
        .map(|device| device_cookie(state, device));
    cookie_values(std::iter::once(session_cookie(state, &issued.token)).chain(device))
}

/// The `Set-Cookie` value of the device cookie.
pub fn device_cookie(state: &WebState, token: &str) -> String {
    cookies::device_cookie(state.v1.accounts.secure_cookies, token)
}

/// Confirms the password and switches `caller` to the fresh session token for the rest of this
/// page request. Returns the cookies to pass on, or the refusal (each page renders it its own
/// way).
pub async fn reauth(
    state: &WebState,
    caller: &mut Caller,
    password: &str,
) -> Result<Vec<HeaderValue>, Answer> {
    let authed = caller.authed(state).await.map_err(Answer::refused)?;
    let request = bulwark_accounts::login::ReauthRequest {
        password: password.to_string(),
    };
    let done = bulwark_accounts::login::reauth(&state.v1, &authed, request)
        .await
        .map_err(Answer::refused)?;
    caller.use_session(&done.session_token);
    Ok(cookie_values([session_cookie(state, &done.session_token)]))
}
