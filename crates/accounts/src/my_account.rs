//! The signed-in owner's own account: profile, sessions, login activity, known devices and the
//! user agreement.

use crate::Kind;
use bulwark_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Error;
use crate::service::Service;
use crate::sessions::Authed;
use crate::sessions::times;

/// How far back the activity page reaches.
pub const ACTIVITY_WINDOW_MS: i64 = 90 * bulwark_identity::clock::DAY_MS;
/// Rows per activity page.
pub const ACTIVITY_PAGE_ROWS: u32 = 100;

/// `GET /api/v1/me`.
pub async fn me(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let Some(account) = state.store.get_account(authed.user_id).await? else {
        return Err(Error::new(
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
    Ok(json!({
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
    }))
}

/// `POST /api/v1/logout`: ends this session and clears the cookie.
pub async fn logout(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let now_ms = state.accounts.now_ms();
    state
        .store
        .revoke_session(authed.user_id, authed.session.id, now_ms)
        .await?;
    Ok(json!({"status": "logged_out"}))
}

/// `POST /api/v1/logout-all`: ends every session of the account, this one included.
pub async fn logout_all(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let now_ms = state.accounts.now_ms();
    let revoked = state
        .store
        .revoke_all_sessions(authed.user_id, None, now_ms)
        .await?;
    Ok(json!({"status": "logged_out", "sessions_revoked": revoked}))
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
pub async fn list(state: &Service, authed: &Authed) -> crate::Result<Value> {
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
    Ok(json!({ "sessions": sessions }))
}

/// `DELETE /api/v1/sessions/{id}`: revokes one of the caller's own sessions.
pub async fn revoke(state: &Service, authed: &Authed, id: String) -> crate::Result<Value> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_session_id", "Session id must be an integer"))?;
    let now_ms = state.accounts.now_ms();
    match state.store.revoke_session(authed.user_id, id, now_ms).await {
        Ok(()) => Ok(json!({"status": "revoked", "id": id})),
        Err(StoreError::NotFound(_)) => Err(Error::new(
            Kind::NotFound,
            "session_not_found",
            "You have no session with this id",
        )),
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
    state: &Service,
    authed: &Authed,
    query: ActivityQuery,
) -> crate::Result<Value> {
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
    Ok(json!({"logins": logins, "security_events": events}))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptAgreementRequest {
    pub version: String,
}

/// The version of the user agreement a new account accepts (none before the operator
/// published one), shown on the sign-up form.
pub async fn current_agreement_version(state: &Service) -> crate::Result<String> {
    Ok(state
        .store
        .current_agreement_version()
        .await?
        .map(|row| row.version)
        .unwrap_or_default())
}

/// `POST /api/v1/agreement`: accepts the current user agreement (after the operator published a
/// new version; the old acceptance stays in the security events).
pub async fn accept_agreement(
    state: &Service,
    authed: &Authed,
    request: AcceptAgreementRequest,
) -> crate::Result<Value> {
    crate::validate::check_len(
        "version",
        &request.version,
        crate::signup::AGREEMENT_VERSION_CHARS_MAX,
    )?;
    let current = state.store.current_agreement_version().await?;
    if current.as_ref().map(|c| c.version.as_str()) != Some(request.version.as_str()) {
        return Err(Error::bad_request(
            "agreement_not_current",
            format!(
                "Accept the current user agreement (version {})",
                current.map_or_else(|| "none published".to_string(), |c| c.version)
            ),
        ));
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
    Ok(json!({"status": "accepted", "agreement_version": request.version}))
}

/// `GET /api/v1/devices`: the account's known devices.
pub async fn list_devices(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let devices: Vec<serde_json::Value> = state
        .store
        .list_devices(authed.user_id)
        .await?
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "id": d.id,
                "current": authed.session.device_id == Some(d.id),
                "first_seen_ms": d.first_seen_ms,
                "last_seen_ms": d.last_seen_ms,
                "ip": d.ip,
                "country": d.country,
                "user_agent": d.user_agent,
            })
        })
        .collect();
    Ok(serde_json::json!({ "devices": devices }))
}

/// `DELETE /api/v1/devices/{id}`: forgets one of the caller's devices and ends its sessions.
pub async fn revoke_device(state: &Service, authed: &Authed, id: String) -> crate::Result<Value> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_device_id", "Device id must be an integer"))?;
    let now_ms = state.accounts.now_ms();
    match state.store.revoke_device(authed.user_id, id, now_ms).await {
        Ok(sessions) => {
            Ok(serde_json::json!({"status": "revoked", "id": id, "sessions_revoked": sessions}))
        }
        Err(bulwark_store::StoreError::NotFound(_)) => Err(Error::new(
            Kind::NotFound,
            "device_not_found",
            "You have no device with this id",
        )),
        Err(error) => Err(error.into()),
    }
}
