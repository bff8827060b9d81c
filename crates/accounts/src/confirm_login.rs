//! New-device and new-country confirmation: a fully authenticated login from a browser the
//! account has not confirmed, or from a country it never logged in from, waits for the owner.
//!
//! The owner gets one email (or SMS) with a 6-digit code and a link. The waiting client holds
//! a wait token; typing the code there, or opening the link anywhere and pressing confirm, lets
//! the waiting client turn the login into a session, once. The very first device of an account
//! is trusted (sign-up just proved the address), and a QR login approved from a logged-in device
//! needs no further confirmation.

use crate::Kind;
use bulwark_identity::codes::{self, CODE_MAX_ATTEMPTS, Purpose};
use bulwark_notify::MessageKind;
use bulwark_store::{LoginConfirmationRow, NewCode, NewLoginConfirmation, account_status};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::activity::record;
use crate::attempts::{self, AttemptKey, Checked, second_factor_key};
use crate::client::Client;
use crate::login_step::{LoginStep, Reason};
use crate::notice::{account_recipient, notify};
use crate::service::Service;
use crate::validate::check_len;

/// How long a waiting login can be confirmed (the code's lifetime).
pub const CONFIRM_TTL_MS: i64 = codes::CODE_TTL_MS;
/// Longest token or code field read.
const FIELD_CHARS_MAX: usize = 128;

/// Whether this fully authenticated login must wait for the owner, and why.
pub async fn needed(
    state: &Service,
    client: &Client,
    user_id: i64,
) -> crate::Result<Option<Reason>> {
    let device = crate::devices::find(state, user_id, client).await?;
    let known = device.is_some_and(|d| d.confirmed_ms.is_some());
    if !known && crate::devices::has_confirmed(state, user_id).await? {
        return Ok(Some(Reason::NewDevice));
    }
    if let Some(country) = client.country.as_deref() {
        let countries = state.store.login_countries(user_id).await?;
        if !countries.is_empty() && !countries.iter().any(|c| c == country) {
            return Ok(Some(Reason::NewCountry));
        }
    }
    Ok(None)
}

fn code_purpose(id: i64) -> String {
    format!("confirm_login:{id}")
}

fn code_binding(user_id: i64, id: i64) -> String {
    format!("user:{user_id}:confirm:{id}")
}

/// Holds the login: registers the browser as a pending device, emails code and link; the step
/// carries the wait token (and the device cookie when it is new).
pub async fn hold(
    state: &Service,
    client: &Client,
    user_id: i64,
    reason: Reason,
    method: &str,
) -> crate::Result<LoginStep> {
    let now_ms = state.accounts.now_ms();
    let (device_id, new_cookie) = crate::devices::register(state, user_id, client, false).await?;
    let wait = codes::issue_token(Purpose::NewDevice, now_ms)
        .map_err(|e| Error::internal("wait token", e))?;
    let link = codes::issue_token(Purpose::NewDevice, now_ms)
        .map_err(|e| Error::internal("link token", e))?;
    let expires_ms = now_ms.saturating_add(CONFIRM_TTL_MS);
    let id = state
        .store
        .insert_login_confirmation(&NewLoginConfirmation {
            user_id,
            wait_hash: wait.record.token_hash.clone(),
            link_hash: link.record.token_hash.clone(),
            device_id,
            reason: reason.as_str().into(),
            method: method.into(),
            created_ms: now_ms,
            expires_ms,
            ip: client.ip.to_string(),
            country: client.country.clone(),
            user_agent: client.user_agent.clone(),
        })
        .await?;
    send_code(state, client, user_id, id, reason, &link.token, now_ms).await?;
    record(
        state,
        client,
        Some(user_id),
        None,
        method,
        "confirmation_required",
    )
    .await;
    Ok(LoginStep::ConfirmationRequired {
        reason,
        confirmation_token: wait.token,
        expires_at_ms: expires_ms,
        new_device_token: new_cookie,
    })
}

async fn send_code(
    state: &Service,
    client: &Client,
    user_id: i64,
    id: i64,
    reason: Reason,
    link_token: &str,
    now_ms: i64,
) -> crate::Result<()> {
    let Some(account) = state.store.get_account(user_id).await? else {
        return Err(Error::internal("login confirmation", "no account"));
    };
    let Some(to) = account_recipient(&account) else {
        return Err(Error::internal("login confirmation", "no contact"));
    };
    let issued = codes::issue(
        &state.accounts.code_key,
        Purpose::NewDevice,
        &code_binding(user_id, id),
        None,
        now_ms,
    )
    .map_err(|e| Error::internal("issuing a code", e))?;
    let (channel, destination) = match &to {
        bulwark_notify::Recipient::Email(email) => ("email", email.clone()),
        bulwark_notify::Recipient::Sms(phone) => ("sms", phone.clone()),
    };
    state
        .store
        .issue_code(&NewCode {
            user_id: Some(user_id),
            channel: channel.into(),
            destination,
            purpose: code_purpose(id),
            code_hash: issued.state.code_mac.clone(),
            created_ms: now_ms,
            expires_ms: issued.state.expires_ms,
            max_attempts: i64::from(CODE_MAX_ATTEMPTS),
        })
        .await?;
    let what = match reason {
        Reason::NewDevice => "a device you have not used before",
        Reason::NewCountry => "a country you have not logged in from before",
    };
    let body = format!(
        "Someone logged in to your Bulwark account with your password from {what}.\r\nIP address: {}\r\nCountry: {}\r\nBrowser: {}\r\n\r\nIf it was you, your confirmation code is {}\r\nor open {}/login/confirm?token={link_token} and confirm. Both are valid for 10 minutes.\r\nIf it was not you, do not share the code: change your password and freeze your account with the link below.",
        client.ip,
        client.country.as_deref().unwrap_or("unknown"),
        client.user_agent,
        issued.code,
        state.accounts.public_url,
    );
    notify(
        state,
        user_id,
        to,
        MessageKind::NewDeviceConfirm,
        "Confirm a new login to your Bulwark account",
        body,
    )
    .await;
    Ok(())
}

fn invalid_token() -> Error {
    Error::new(
        Kind::Unauthenticated,
        "invalid_token",
        "This login confirmation is unknown or finished; log in again",
    )
}

fn expired() -> Error {
    Error::new(
        Kind::Gone,
        "confirmation_expired",
        "This login confirmation expired; log in again for a new code",
    )
}

fn invalid_code() -> Error {
    Error::new(
        Kind::Unauthenticated,
        "invalid_code",
        "The confirmation code is wrong, expired or already used",
    )
}

/// Spends one try of the confirmation code of waiting login `row`.
async fn spend(
    state: &Service,
    row: &LoginConfirmationRow,
    code: &str,
    now_ms: i64,
) -> crate::Result<()> {
    let code = code.trim();
    if code.len() != codes::CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::bad_request("malformed_code", "A code is 6 digits"));
    }
    let purpose = code_purpose(row.id);
    let Some(live) = state
        .store
        .find_live_code(row.user_id, &purpose, now_ms)
        .await?
    else {
        return Err(invalid_code());
    };
    let binding = code_binding(row.user_id, row.id);
    let key = AttemptKey::second_factor(row.user_id);
    let purpose = Purpose::NewDevice;
    attempts::attempt(state, &key, async |permit| {
        let right =
            crate::one_time::spend(state, permit, &live, purpose, &binding, code, now_ms).await?;
        Ok(Checked::right_if(right, invalid_code()))
    })
    .await?
    .into_result(now_ms)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub confirmation_token: String,
    /// The emailed code; without it the call only asks whether the link was used.
    #[serde(default)]
    pub code: Option<String>,
}

/// The waiting client sends the code, or polls after the owner opened the link; once
/// confirmed, the same call answers with the session (once).
pub async fn confirm(
    state: &Service,
    client: &Client,
    request: ConfirmRequest,
) -> crate::Result<LoginStep> {
    check_len(
        "confirmation_token",
        &request.confirmation_token,
        FIELD_CHARS_MAX,
    )?;
    let now_ms = state.accounts.now_ms();
    let hash = codes::token_hash(&request.confirmation_token);
    let Some(row) = state.store.find_login_confirmation(&hash).await? else {
        return Err(invalid_token());
    };
    if row.redeemed_ms.is_some() {
        return Err(invalid_token());
    }
    if now_ms >= row.expires_ms {
        return Err(expired());
    }
    if let Some(code) = request.code.as_deref() {
        check_len("code", code, 16)?;
        if row.confirmed_ms.is_none() {
            if let Err(error) = spend(state, &row, code, now_ms).await {
                if error.code == "invalid_code" {
                    record(
                        state,
                        client,
                        Some(row.user_id),
                        None,
                        "device_confirmation",
                        "invalid_code",
                    )
                    .await;
                }
                return Err(error);
            }
            state.store.confirm_login(row.id, now_ms).await?;
        }
    }
    let confirmed = row.confirmed_ms.is_some() || request.code.is_some();
    if !confirmed {
        return Ok(LoginStep::ConfirmationPending {
            expires_at_ms: row.expires_ms,
        });
    }
    if !state
        .store
        .redeem_login_confirmation(row.id, now_ms)
        .await?
    {
        return Err(invalid_token());
    }
    let active = state
        .store
        .get_account(row.user_id)
        .await?
        .is_some_and(|a| a.status == account_status::ACTIVE);
    if !active {
        record(
            state,
            client,
            Some(row.user_id),
            None,
            "device_confirmation",
            "account_frozen",
        )
        .await;
        return Err(Error::new(
            Kind::Forbidden,
            "account_frozen",
            "This account is frozen or closed; contact support",
        ));
    }
    state
        .store
        .confirm_device(row.user_id, row.device_id, now_ms)
        .await?;
    state
        .store
        .clear_lockout(&second_factor_key(row.user_id))
        .await?;
    crate::devices::notify_new_device_login(state, row.user_id, client).await?;
    record(
        state,
        client,
        Some(row.user_id),
        None,
        "device_confirmation",
        "success",
    )
    .await;
    let second_factor = crate::sessions::second_factor_of(&row.method);
    let origin = crate::sessions::Origin::Login { second_factor };
    Ok(LoginStep::Done(
        crate::sessions::create(state, row.user_id, client, origin).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub token: String,
}

async fn by_link(state: &Service, token: &str) -> crate::Result<LoginConfirmationRow> {
    check_len("token", token, FIELD_CHARS_MAX)?;
    state
        .store
        .find_login_confirmation_by_link(&codes::token_hash(token))
        .await?
        .ok_or_else(|| {
            Error::new(
                Kind::NotFound,
                "invalid_link",
                "This confirmation link is not valid",
            )
        })
}

fn describe(row: &LoginConfirmationRow, now_ms: i64) -> Value {
    let state = if row.redeemed_ms.is_some() {
        "completed"
    } else if row.confirmed_ms.is_some() {
        "confirmed"
    } else if now_ms >= row.expires_ms {
        "expired"
    } else {
        "pending"
    };
    json!({
        "state": state,
        "reason": row.reason,
        "ip": row.ip,
        "country": row.country,
        "user_agent": row.user_agent,
        "created_at_ms": row.created_ms,
        "expires_at_ms": row.expires_ms,
    })
}

/// `POST /api/v1/login/confirm/link/check`: what an emailed link is about (for the page that
/// asks the owner to press confirm; opening a link never confirms by itself, so mail scanners
/// that follow links cannot confirm an attacker's login).
pub async fn check_link(state: &Service, request: LinkRequest) -> crate::Result<Value> {
    let row = by_link(state, &request.token).await?;
    Ok(describe(&row, state.accounts.now_ms()))
}

/// `POST /api/v1/login/confirm/link`: the owner confirms the waiting login from the link.
pub async fn confirm_link(state: &Service, request: LinkRequest) -> crate::Result<Value> {
    let row = by_link(state, &request.token).await?;
    let now_ms = state.accounts.now_ms();
    if row.confirmed_ms.is_some() || row.redeemed_ms.is_some() {
        return Err(Error::new(
            Kind::Conflict,
            "already_confirmed",
            "This login was already confirmed",
        ));
    }
    if now_ms >= row.expires_ms || !state.store.confirm_login(row.id, now_ms).await? {
        return Err(expired());
    }
    Ok(json!({"status": "confirmed"}))
}
