//! Calls into the `/api/v1` router in-process, so every page runs the very same handlers (and
//! their guards: CSRF, per-IP buckets, lockout, uniform failures) as the JSON API. The page layer
//! only turns forms into JSON and JSON answers into HTML.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use bulwark_api::v1::sessions::SESSION_COOKIE;
use serde_json::Value;
use tower::ServiceExt;

/// Largest API answer read back (activity pages are the biggest).
const ANSWER_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Request headers passed through to the API (facts about the browser and the CSRF check).
const FORWARDED_HEADERS: [header::HeaderName; 6] = [
    header::COOKIE,
    header::HeaderName::from_static("x-forwarded-for"),
    header::USER_AGENT,
    header::HOST,
    header::ORIGIN,
    header::HeaderName::from_static("sec-fetch-site"),
];

/// The browser request's facts that an API call carries on.
#[derive(Clone, Debug)]
pub struct Caller {
    headers: HeaderMap,
    peer: Option<ConnectInfo<SocketAddr>>,
    /// A session token issued earlier in this same page request (after re-authentication).
    fresh_session: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, Self::Rejection> {
        let mut headers = HeaderMap::new();
        // A page shown for a GET (a link from webmail, a scanned QR code) may make read-only
        // lookups and polls through the API's POST routes; the browser's cross-site marker
        // belongs to the page view, not to those calls. Form POSTs keep the browser's headers,
        // so the API's CSRF check still sees where they came from.
        let page_view = parts.method == Method::GET || parts.method == Method::HEAD;
        for name in FORWARDED_HEADERS {
            let origin_facts = name == header::ORIGIN || name.as_str() == "sec-fetch-site";
            if page_view && origin_facts {
                continue;
            }
            for value in parts.headers.get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        if page_view {
            headers.insert(
                header::HeaderName::from_static("sec-fetch-site"),
                HeaderValue::from_static("same-origin"),
            );
        }
        Ok(Caller {
            headers,
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned(),
            fresh_session: None,
        })
    }
}

impl Caller {
    /// The session token the browser presents (or one issued during this request).
    pub fn session_token(&self) -> Option<String> {
        if let Some(token) = &self.fresh_session {
            return Some(token.clone());
        }
        bulwark_api::v1::cookies::cookie_value(&self.headers, SESSION_COOKIE)
    }

    /// Uses `token` as the session for later calls of this request.
    pub fn use_session(&mut self, token: &str) {
        self.fresh_session = Some(token.to_string());
    }

    fn request_headers(&self) -> HeaderMap {
        let mut headers = self.headers.clone();
        if let Some(token) = &self.fresh_session
            && let Ok(value) = HeaderValue::from_str(&format!("{SESSION_COOKIE}={token}"))
        {
            headers.insert(header::COOKIE, value);
        }
        headers
    }
}

/// What the API answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    /// `Set-Cookie` values to pass on to the browser.
    pub cookies: Vec<HeaderValue>,
}

impl Answer {
    pub fn is_ok(&self) -> bool {
        self.status.is_success()
    }

    /// The stable error code, or "" on success.
    pub fn error_code(&self) -> &str {
        self.body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The API's human message for an error.
    pub fn error_message(&self) -> String {
        let message = self
            .body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("Something went wrong; try again");
        match self
            .body
            .pointer("/error/retry_after_s")
            .and_then(Value::as_u64)
        {
            Some(seconds) => format!("{message} (about {seconds} s)."),
            None => message.to_string(),
        }
    }

    pub fn text(&self, pointer: &str) -> String {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

fn internal_answer() -> Answer {
    Answer {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        body: serde_json::json!({"error": {"code": "internal_error",
            "message": "Something went wrong on our side; try again later"}}),
        cookies: Vec::new(),
    }
}

/// Sends one request to the API router and reads the JSON answer.
pub async fn call(
    api: &Router,
    caller: &Caller,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(headers) = builder.headers_mut() {
        *headers = caller.request_headers();
        if body.is_some() {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
    }
    if let Some(peer) = caller.peer {
        builder = builder.extension(peer);
    }
    let payload = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let Ok(request) = builder.body(payload) else {
        return internal_answer();
    };
    let Ok(response) = api.clone().oneshot(request).await;
    let status = response.status();
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    let Ok(bytes) = axum::body::to_bytes(response.into_body(), ANSWER_BYTES_MAX).await else {
        return internal_answer();
    };
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        body,
        cookies,
    }
}

/// Sends one GET to the API router and returns its raw answer, for binary bodies (the staff
/// console's KYC document images).
pub async fn fetch(api: &Router, caller: &Caller, path: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut builder = Request::builder().method(Method::GET).uri(path);
    if let Some(headers) = builder.headers_mut() {
        *headers = caller.request_headers();
    }
    if let Some(peer) = caller.peer {
        builder = builder.extension(peer);
    }
    let Ok(request) = builder.body(Body::empty()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(response) = api.clone().oneshot(request).await;
    response
}

/// Confirms the password through `/api/v1/reauth` and switches `caller` to the fresh session
/// token for the rest of this page request. Returns the cookies to pass on, or the API's answer
/// when the password was refused (each page renders that its own way).
pub async fn reauth(
    api: &Router,
    caller: &mut Caller,
    password: &str,
) -> Result<Vec<HeaderValue>, Answer> {
    let body = serde_json::json!({"password": password});
    let answer = call(api, caller, Method::POST, "/api/v1/reauth", Some(body)).await;
    if !answer.is_ok() {
        return Err(answer);
    }
    caller.use_session(&answer.text("/session_token"));
    Ok(answer.cookies)
}
