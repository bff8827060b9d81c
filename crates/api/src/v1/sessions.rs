//! Sessions: creation after a full login, the authenticated-caller extractor (cookie or bearer
//! token), and the endpoints that show and end sessions and show login activity.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bulwark_accounts::Kind;
use bulwark_identity::clock::DAY_MS;
use bulwark_identity::session::{self};
use bulwark_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::V1State;
use super::error::{V1Error, V1Result};
use super::guard::Client;
use bulwark_accounts::Error;
use bulwark_accounts::login_step::LoginStep;
use bulwark_accounts::sessions::{IssuedSession, times};

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

/// `GET /api/v1/me`.
pub async fn me(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    let Some(account) = state.store.get_account(authed.user_id).await? else {
        return Err(V1Error::new(
            Kind::Unauthenticated,
            "invalid_session",
            "The account no longer exists",
        ));
    };
    let totp = state.store.get_totp(authed.user_id).await?;
    let recovery_left = state
        .store
        .list_recovery_codes(authed.user_id)
        .await?
        .iter()
        .filter(|r| r.used_ms.is_none())
        .count();
    let now_ms = state.accounts.now_ms();
    let current_agreement = state.store.current_agreement_version().await?;
    Ok(Json(json!({
        "user_id": account.id,
        "email": account.email,
        "phone": account.phone,
        "display_name": account.display_name,
        "status": account.status,
        "email_verified": account.email_verified_ms.is_some(),
        "phone_verified": account.phone_verified_ms.is_some(),
        "totp_enabled": totp.is_some_and(|t| t.enabled_ms.is_some()),
        "code_factors": state.store.list_second_factors(authed.user_id).await?,
        "recovery_codes_remaining": recovery_left,
        "kyc_tier": account.kyc_tier,
        "is_staff": account.is_staff == 1,
        "withdrawals_allowed_after_ms": account.withdraw_locked_until_ms,
        "agreement_version": account.agreement_version,
        "current_agreement_version": current_agreement.as_ref().map(|c| c.version.clone()),
        "agreement_outdated": current_agreement
            .as_ref()
            .is_some_and(|c| account.agreement_version.as_deref() != Some(c.version.as_str())),
        "session": {
            "id": authed.session.id,
            "expires_at_ms": times(&authed.session).expires_at_ms(),
            "reauth_valid": !times(&authed.session).needs_reauth(now_ms),
        },
    })))
}

/// `POST /api/v1/logout`: ends this session and clears the cookie.
pub async fn logout(State(state): State<V1State>, authed: Authed) -> V1Result<Response> {
    let now_ms = state.accounts.now_ms();
    state
        .store
        .revoke_session(authed.user_id, authed.session.id, now_ms)
        .await?;
    Ok(with_cookie(&state, "", json!({"status": "logged_out"})))
}

/// `POST /api/v1/logout-all`: ends every session of the account, this one included.
pub async fn logout_all(State(state): State<V1State>, authed: Authed) -> V1Result<Response> {
    let now_ms = state.accounts.now_ms();
    let revoked = state
        .store
        .revoke_all_sessions(authed.user_id, None, now_ms)
        .await?;
    Ok(with_cookie(
        &state,
        "",
        json!({"status": "logged_out", "sessions_revoked": revoked}),
    ))
}

#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: i64,
    pub current: bool,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub expires_at_ms: i64,
    pub ip: String,
    pub country: Option<String>,
    pub user_agent: String,
}

/// `GET /api/v1/sessions`: the account's live sessions.
pub async fn list(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    let now_ms = state.accounts.now_ms();
    let sessions: Vec<SessionView> = state
        .store
        .list_sessions(authed.user_id)
        .await?
        .into_iter()
        .filter(|row| times(row).is_valid(now_ms))
        .map(|row| SessionView {
            id: row.id,
            current: row.id == authed.session.id,
            created_ms: row.created_ms,
            last_seen_ms: row.last_seen_ms,
            expires_at_ms: times(&row).expires_at_ms(),
            ip: row.ip,
            country: row.country,
            user_agent: row.user_agent,
        })
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}

/// `DELETE /api/v1/sessions/{id}`: revokes one of the caller's own sessions.
pub async fn revoke(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_session_id", "Session id must be an integer"))?;
    let now_ms = state.accounts.now_ms();
    match state.store.revoke_session(authed.user_id, id, now_ms).await {
        Ok(()) => Ok(Json(json!({"status": "revoked", "id": id}))),
        Err(StoreError::NotFound(_)) => Err(Error::new(
            Kind::NotFound,
            "session_not_found",
            "You have no session with this id",
        )
        .into()),
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    pub before_id: Option<i64>,
}

/// `GET /api/v1/activity`: login attempts and security events of the last 90 days.
pub async fn activity(
    State(state): State<V1State>,
    authed: Authed,
    query: Result<Query<ActivityQuery>, axum::extract::rejection::QueryRejection>,
) -> V1Result<Json<Value>> {
    let Query(query) = query.map_err(|e| Error::bad_request("invalid_query", e.body_text()))?;
    let since_ms = state.accounts.now_ms().saturating_sub(ACTIVITY_WINDOW_MS);
    let logins = state
        .store
        .list_login_activity(
            authed.user_id,
            since_ms,
            query.before_id,
            ACTIVITY_PAGE_ROWS,
        )
        .await?;
    let events = state
        .store
        .list_security_events(authed.user_id, since_ms, None, ACTIVITY_PAGE_ROWS)
        .await?;
    let logins: Vec<Value> = logins
        .into_iter()
        .map(|r| {
            json!({"id": r.id, "at_ms": r.at_ms, "ip": r.ip, "country": r.country,
                   "user_agent": r.user_agent, "method": r.method, "result": r.result})
        })
        .collect();
    let events: Vec<Value> = events
        .into_iter()
        .map(|r| json!({"id": r.id, "at_ms": r.at_ms, "kind": r.kind, "ip": r.ip, "detail": r.detail}))
        .collect();
    Ok(Json(json!({"logins": logins, "security_events": events})))
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

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptAgreementRequest {
    pub version: String,
}

/// `POST /api/v1/agreement`: accepts the current user agreement (after the operator published a
/// new version; the old acceptance stays in the security events).
pub async fn accept_agreement(
    State(state): State<V1State>,
    authed: Authed,
    super::body::JsonBody(request): super::body::JsonBody<AcceptAgreementRequest>,
) -> V1Result<Json<Value>> {
    bulwark_accounts::validate::check_len(
        "version",
        &request.version,
        bulwark_accounts::signup::AGREEMENT_VERSION_CHARS_MAX,
    )?;
    let current = state.store.current_agreement_version().await?;
    if current.as_ref().map(|c| c.version.as_str()) != Some(request.version.as_str()) {
        return Err(Error::bad_request(
            "agreement_not_current",
            format!(
                "Accept the current user agreement (version {})",
                current.map_or_else(|| "none published".to_string(), |c| c.version)
            ),
        )
        .into());
    }
    let now_ms = state.accounts.now_ms();
    state
        .store
        .accept_agreement(authed.user_id, &request.version, now_ms)
        .await?;
    state
        .store
        .record_security_event(&bulwark_store::NewSecurityEvent {
            user_id: authed.user_id,
            at_ms: now_ms,
            kind: "agreement_accepted".into(),
            ip: Some(authed.client.ip.to_string()),
            detail: Some(format!("version {}", request.version)),
        })
        .await?;
    Ok(Json(
        json!({"status": "accepted", "agreement_version": request.version}),
    ))
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
