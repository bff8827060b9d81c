//! Password recovery and protection settings: forgot/reset by a single-use emailed or texted
//! token (the second factor is still asked for when enrolled), password change, and the
//! anti-phishing code. Every change records a security event, tells the owner and locks
//! withdrawals for 24 hours.

use crate::Kind;
use bulwark_identity::account::AntiPhishingCode;
use bulwark_identity::codes::{self, Purpose};
use bulwark_identity::password::{self, PasswordContext};
use bulwark_identity::withdraw_lock::{self, SecurityChange};
use bulwark_notify::MessageKind;
use bulwark_store::{AccountRow, NewSecurityEvent, NewToken, account_status};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::attempts::busy_or_internal;
use crate::attempts::{self, AttemptKey, Outcome};
use crate::client::Client;
use crate::notice::{account_recipient, notify, recipient};
use crate::second_factor::{FactorFailure, check_recovery, check_totp};
use crate::service::Service;
use crate::sessions::Authed;
use crate::signup::{PASSWORD_FIELD_CHARS_MAX, find_account};
use crate::validate::check_len;
use crate::validate::parse_identifier;

/// Longest second-factor code field read.
const FACTOR_FIELD_CHARS_MAX: usize = 64;
/// Longest reset token read.
const TOKEN_FIELD_CHARS_MAX: usize = 256;

/// The consequences shared by every protection change.
pub struct Change {
    pub event: &'static str,
    pub lock: SecurityChange,
    pub kind: MessageKind,
    pub subject: &'static str,
    pub body: &'static str,
}

/// Records the security event, extends the withdrawal lock and tells the owner; returns when
/// withdrawals are allowed again.
pub async fn apply_change(
    state: &Service,
    user_id: i64,
    ip: Option<String>,
    change: &Change,
) -> crate::Result<i64> {
    let now_ms = state.accounts.now_ms();
    state
        .store
        .record_security_event(&NewSecurityEvent {
            user_id,
            at_ms: now_ms,
            kind: change.event.into(),
            ip,
            detail: None,
        })
        .await?;
    let until_ms = withdraw_lock::extend(None, change.lock, now_ms);
    let allowed_after_ms = state.store.set_withdraw_lock(user_id, until_ms).await?;
    if let Some(account) = state.store.get_account(user_id).await?
        && let Some(to) = account_recipient(&account)
    {
        let body = change.body.to_string();
        notify(state, user_id, to, change.kind, change.subject, body).await;
    }
    Ok(allowed_after_ms)
}

/// Requires a TOTP or recovery code when the account has TOTP enabled (counted against the
/// same second-factor lockout as login).
pub async fn require_second_factor(
    state: &Service,
    user_id: i64,
    totp_code: Option<&str>,
    recovery_code: Option<&str>,
) -> crate::Result<()> {
    let enabled = state
        .store
        .get_totp(user_id)
        .await?
        .is_some_and(|t| t.enabled_ms.is_some());
    if !enabled {
        return Ok(());
    }
    let (method, code) = match (totp_code, recovery_code) {
        (Some(code), None) => ("totp_code", code),
        (None, Some(code)) => ("recovery_code", code),
        _ => {
            return Err(Error::new(
                Kind::Forbidden,
                "second_factor_required",
                "This account has two-factor authentication: send totp_code or recovery_code",
            ));
        }
    };
    check_len(method, code, FACTOR_FIELD_CHARS_MAX)?;
    let now_ms = state.accounts.now_ms();
    let key = AttemptKey::second_factor(user_id);
    attempts::attempt(state, &key, async |permit| {
        let checked = if method == "totp_code" {
            check_totp(state, permit, user_id, code).await
        } else {
            check_recovery(state, permit, user_id, code).await
        };
        Ok(FactorFailure::checked(checked))
    })
    .await?
    .into_result(now_ms)
}

fn context(account: &AccountRow) -> PasswordContext<'_> {
    PasswordContext {
        email: account.email.as_deref(),
        phone: account.phone.as_deref(),
        display_name: account.display_name.as_deref(),
    }
}

/// Checks the policy and hashes a new password.
async fn new_password_hash(
    state: &Service,
    account: &AccountRow,
    new: &str,
) -> crate::Result<String> {
    check_len("new_password", new, PASSWORD_FIELD_CHARS_MAX)?;
    password::check_policy(new, &context(account))
        .map_err(|e| Error::bad_request("weak_password", e.to_string()))?;
    state
        .accounts
        .hash_pool
        .hash(password::normalize(new))
        .await
        .map_err(|e| busy_or_internal("hashing", e))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    pub identifier: String,
}

/// The one answer of `POST /api/v1/password/forgot`, whether or not the account exists.
const FORGOT_ACCEPTED: &str = "If an account uses this address, a reset link and code were sent; they are valid for 30 minutes";

/// `POST /api/v1/password/forgot`: sends a single-use 30-minute reset token (link and code) to
/// the given address; the same 202 for unknown addresses.
pub async fn forgot(state: &Service, request: ForgotRequest) -> crate::Result<Value> {
    let identifier = parse_identifier(&request.identifier)?;
    if let Some(account) = find_account(state, &identifier).await?
        && account.status != account_status::UNVERIFIED
    {
        let now_ms = state.accounts.now_ms();
        let purpose = Purpose::PasswordReset.as_str();
        state.store.void_tokens(account.id, purpose, now_ms).await?;
        let issued = codes::issue_token(Purpose::PasswordReset, now_ms)
            .map_err(|e| Error::internal("reset token", e))?;
        state
            .store
            .insert_token(&NewToken {
                token_hash: issued.record.token_hash.clone(),
                user_id: account.id,
                purpose: purpose.into(),
                created_ms: now_ms,
                expires_ms: issued.record.expires_ms,
                data: None,
            })
            .await?;
        let body = format!(
            "A password reset was requested for your Bulwark account.\nOpen {}/account/reset-password?token={} or enter this reset code: {}\nIt is valid for 30 minutes and works once. If you did not ask for this, ignore this message.",
            state.accounts.public_url, issued.token, issued.token
        );
        let to = recipient(&identifier);
        let subject = "Reset your Bulwark password";
        notify(
            state,
            account.id,
            to,
            MessageKind::PasswordReset,
            subject,
            body,
        )
        .await;
    }
    Ok(json!({"status": "accepted", "message": FORGOT_ACCEPTED}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub token: String,
    pub new_password: String,
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

fn invalid_token() -> Error {
    Error::new(
        Kind::Unauthenticated,
        "invalid_token",
        "The reset link or code is unknown, expired or already used; ask for a new one",
    )
}

const RESET_CHANGE: Change = Change {
    event: "password_reset",
    lock: SecurityChange::PasswordReset,
    kind: MessageKind::PasswordChanged,
    subject: "Your Bulwark password was reset",
    body: "The password of your Bulwark account was reset and every session was logged out.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below and contact support.",
};

/// `POST /api/v1/password/reset`: sets a new password with a reset token (and the second factor
/// when enrolled); ends every session and locks withdrawals for 24 hours.
pub async fn reset(
    state: &Service,
    client: &Client,
    request: ResetRequest,
) -> crate::Result<Value> {
    check_len("token", &request.token, TOKEN_FIELD_CHARS_MAX)?;
    let now_ms = state.accounts.now_ms();
    let hash = codes::token_hash(&request.token);
    let purpose = Purpose::PasswordReset.as_str();
    let Some(token) = state.store.find_live_token(&hash, purpose, now_ms).await? else {
        return Err(invalid_token());
    };
    let Some(account) = state.store.get_account(token.user_id).await? else {
        return Err(invalid_token());
    };
    let phc = new_password_hash(state, &account, &request.new_password).await?;
    require_second_factor(
        state,
        account.id,
        request.totp_code.as_deref(),
        request.recovery_code.as_deref(),
    )
    .await?;
    if state
        .store
        .consume_token(&hash, purpose, now_ms)
        .await?
        .is_none()
    {
        return Err(invalid_token());
    }
    state.store.set_password(account.id, &phc).await?;
    state.store.void_tokens(account.id, purpose, now_ms).await?;
    // Logins half-way through with the old password end here too.
    let login_step = Purpose::Login2fa.as_str();
    state
        .store
        .void_tokens(account.id, login_step, now_ms)
        .await?;
    let revoked = state
        .store
        .revoke_all_sessions(account.id, None, now_ms)
        .await?;
    for (_, key) in attempts::password_keys(state, &account).await? {
        state.store.clear_lockout(&key).await?;
    }
    let ip = Some(client.ip.to_string());
    let allowed_after_ms = apply_change(state, account.id, ip, &RESET_CHANGE).await?;
    Ok(json!({
        "status": "password_reset",
        "sessions_revoked": revoked,
        "withdrawals_allowed_after_ms": allowed_after_ms,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

const CHANGE_CHANGE: Change = Change {
    event: "password_changed",
    lock: SecurityChange::PasswordChanged,
    kind: MessageKind::PasswordChanged,
    subject: "Your Bulwark password was changed",
    body: "The password of your Bulwark account was changed and your other sessions were logged out.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below and contact support.",
};

/// `POST /api/v1/password/change`: current + new password after a recent re-authentication;
/// ends every other session and locks withdrawals for 24 hours.
pub async fn change(
    state: &Service,
    authed: &Authed,
    request: ChangePasswordRequest,
) -> crate::Result<Value> {
    check_len(
        "current_password",
        &request.current_password,
        PASSWORD_FIELD_CHARS_MAX,
    )?;
    let now_ms = state.accounts.now_ms();
    authed.require_recent_auth(now_ms)?;
    let Some(account) = state.store.get_account(authed.user_id).await? else {
        return Err(Error::new(
            Kind::Unauthenticated,
            "invalid_session",
            "No such account",
        ));
    };
    let checked = attempts::check_password(
        state,
        Some(&account),
        "",
        &authed.client,
        &request.current_password,
    )
    .await?;
    match checked {
        Outcome::Right { .. } => {}
        Outcome::Wrong(_) => {
            return Err(Error::new(
                Kind::Unauthenticated,
                "invalid_credentials",
                "The current password is wrong",
            ));
        }
        Outcome::Refused(decision) => return Err(attempts::refused(decision, now_ms)),
    }
    let phc = new_password_hash(state, &account, &request.new_password).await?;
    state.store.set_password(account.id, &phc).await?;
    let revoked = state
        .store
        .revoke_all_sessions(account.id, Some(authed.session.id), now_ms)
        .await?;
    let ip = Some(authed.client.ip.to_string());
    let allowed_after_ms = apply_change(state, account.id, ip, &CHANGE_CHANGE).await?;
    Ok(json!({
        "status": "password_changed",
        "sessions_revoked": revoked,
        "withdrawals_allowed_after_ms": allowed_after_ms,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AntiPhishingRequest {
    pub code: String,
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

const ANTI_PHISHING_CHANGE: Change = Change {
    event: "anti_phishing_changed",
    lock: SecurityChange::AntiPhishingChanged,
    kind: MessageKind::AntiPhishingChanged,
    subject: "Your anti-phishing code was changed",
    body: "The anti-phishing code of your Bulwark account was changed; it is shown at the top of this and every later email.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below.",
};

/// `PUT /api/v1/anti-phishing`: sets the code shown first in every email (re-auth and, when
/// enrolled, a second factor); locks withdrawals for 24 hours.
pub async fn set_anti_phishing(
    state: &Service,
    authed: &Authed,
    request: AntiPhishingRequest,
) -> crate::Result<Value> {
    check_len("code", &request.code, FACTOR_FIELD_CHARS_MAX)?;
    let code = AntiPhishingCode::parse(&request.code).map_err(|_| {
        Error::bad_request(
            "invalid_anti_phishing_code",
            "The anti-phishing code is 4 to 20 letters, digits or underscores",
        )
    })?;
    authed.require_recent_auth(state.accounts.now_ms())?;
    require_second_factor(
        state,
        authed.user_id,
        request.totp_code.as_deref(),
        request.recovery_code.as_deref(),
    )
    .await?;
    state
        .store
        .set_anti_phishing(authed.user_id, Some(code.as_str()))
        .await?;
    let ip = Some(authed.client.ip.to_string());
    let allowed_after_ms = apply_change(state, authed.user_id, ip, &ANTI_PHISHING_CHANGE).await?;
    Ok(json!({
        "status": "anti_phishing_set",
        "withdrawals_allowed_after_ms": allowed_after_ms,
    }))
}
