//! Sessions: creation after a full login, the authenticated-caller extractor (cookie or bearer
//! token), and the endpoints that show and end sessions and show login activity.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bulwark_identity::clock::DAY_MS;
use bulwark_identity::session::{self};
use serde_json::{Value, json};

use super::V1State;
use super::error::V1Error;
use super::guard::Client;
use bulwark_accounts::login_step::LoginStep;
use bulwark_accounts::sessions::IssuedSession;

/// Name of the session cookie (`__Host-`: host-only, path /, no Domain).
pub const SESSION_COOKIE: &str = "__Host-bulwark_session";
/// How far back the activity page reaches.
pub const ACTIVITY_WINDOW_MS: i64 = 90 * DAY_MS;
/// Rows per activity page.
pub const ACTIVITY_PAGE_ROWS: u32 = 100;

/// The `Set-Cookie` value carrying a session token (or clearing it when `token` is empty).
pub fn cookie(token: &str, secure: bool) -> String {
    let max_age_s = if token.is_empty() {
        0
    } else {
        session::SESSION_ABSOLUTE_MS / 1_000
    };
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}")
}

/// A JSON answer that also sets (or clears) the session cookie.
pub fn with_cookie(state: &V1State, token: &str, body: Value) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie(token, state.accounts.secure_cookies)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The session token a request carries: `Authorization: Bearer` first, else the cookie.
pub fn presented_token(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return auth
            .strip_prefix("Bearer ")
            .map(|t| (t.trim().to_string(), false));
    }
    super::cookies::cookie_value(headers, SESSION_COOKIE).map(|value| (value, true))
}

/// The signed-in caller, as the accounts service resolved the presented session token.
pub struct Authed(pub bulwark_accounts::sessions::Authed);

impl std::ops::Deref for Authed {
    type Target = bulwark_accounts::sessions::Authed;

    fn deref(&self) -> &bulwark_accounts::sessions::Authed {
        &self.0
    }
}

impl FromRequestParts<V1State> for Authed {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &V1State) -> Result<Authed, V1Error> {
        let Client(client) = Client::from_request_parts(parts, state).await?;
        let token = presented_token(&parts.headers).map(|(token, _)| token);
        Ok(Authed(
            bulwark_accounts::sessions::authenticate(state, token.as_deref(), client).await?,
        ))
    }
}

/// The answer for a new session: its token in the body and the cookie, plus the device cookie
/// when the login came from a new device.
pub fn session_response(state: &V1State, issued: &IssuedSession) -> Response {
    let mut response = with_cookie(
        state,
        &issued.token,
        json!({
            "step": "done",
            "session_token": issued.token,
            "session_id": issued.id,
            "expires_at_ms": issued.expires_at_ms,
            "new_device": issued.new_device_token.is_some(),
        }),
    );
    if let Some(token) = issued.new_device_token.as_deref() {
        super::cookies::set_device_cookie(state.accounts.secure_cookies, &mut response, token);
    }
    response
}

/// The answer for each step of a login (the one place the JSON API renders them).
pub fn step_response(state: &V1State, step: LoginStep) -> Response {
    match step {
        LoginStep::VerificationRequired => super::json_response(json!({
            "step": "verification_required",
            "message": "Verify your email or phone with the code we sent (POST /api/v1/verify with your password or signup_token)",
        })),
        LoginStep::SecondFactor {
            pre_auth_token,
            methods,
            expires_at_ms,
        } => super::json_response(json!({
            "step": "second_factor_required",
            "pre_auth_token": pre_auth_token,
            "methods": methods,
            "expires_at_ms": expires_at_ms,
        })),
        LoginStep::ConfirmationRequired {
            reason,
            confirmation_token,
            expires_at_ms,
            new_device_token,
        } => {
            let mut response = super::json_response(json!({
                "step": "confirmation_required",
                "reason": reason.as_str(),
                "confirmation_token": confirmation_token,
                "expires_at_ms": expires_at_ms,
                "message": "We sent a code and a link to your email (or phone): enter the code, or open the link and confirm, to finish logging in",
            }));
            if let Some(token) = new_device_token.as_deref() {
                super::cookies::set_device_cookie(
                    state.accounts.secure_cookies,
                    &mut response,
                    token,
                );
            }
            response
        }
        LoginStep::ConfirmationPending { expires_at_ms } => super::json_response(json!({
            "step": "confirmation_required",
            "state": "pending",
            "expires_at_ms": expires_at_ms,
        })),
        LoginStep::Done(issued) => session_response(state, &issued),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cookie_attributes() {
        let c = cookie("abc", false);
        assert!(c.starts_with("__Host-bulwark_session=abc; Path=/; HttpOnly; SameSite=Lax"));
        assert!(!c.contains("Secure"));
        assert!(cookie("abc", true).ends_with("; Secure"));
        assert!(cookie("", false).contains("Max-Age=0"));
    }

    #[test]
    fn bearer_wins_over_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; __Host-bulwark_session=ck"),
        );
        assert_eq!(presented_token(&headers), Some(("ck".into(), true)));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok"),
        );
        assert_eq!(presented_token(&headers), Some(("tok".into(), false)));
    }
}
