//! Email and SMS second factors: turning them on and off, and the 6-digit login codes they send.
//!
//! A code is purpose-bound (its HMAC covers purpose, user and channel), lives 10 minutes, allows
//! 5 tries, is voided by a newer code of the same kind, and is resent at most once a minute.
//! Turning a factor on proves the contact works (a code sent to it); turning one off needs a
//! recent password and, when an authenticator app is on, its code. Both are security changes:
//! recorded, emailed, and they pause withdrawals for 24 h.

use crate::Kind;
use bulwark_identity::codes::{self, CODE_MAX_ATTEMPTS, Purpose};
use bulwark_identity::withdraw_lock::SecurityChange;
use bulwark_notify::{MessageKind, Recipient};
use bulwark_store::{AccountRow, NewCode, factor_method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::attempts::{self, AttemptKey, Checked, Permit};
use crate::notice::notify;
use crate::recovery::{Change, apply_change, require_second_factor};
use crate::service::Service;
use crate::sessions::Authed;
use crate::validate::check_len;

/// Longest code field read.
const CODE_FIELD_CHARS_MAX: usize = 16;

/// A channel a code can go out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    /// The channel a path or body names (`email` or `sms`).
    pub fn parse(name: &str) -> crate::Result<Channel> {
        match name {
            factor_method::EMAIL => Ok(Channel::Email),
            factor_method::SMS => Ok(Channel::Sms),
            _ => Err(Error::bad_request(
                "invalid_method",
                "The method must be \"email\" or \"sms\"",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => factor_method::EMAIL,
            Channel::Sms => factor_method::SMS,
        }
    }

    /// The account's verified address on this channel.
    fn destination(self, account: &AccountRow) -> Option<(String, Recipient)> {
        match self {
            Channel::Email => account
                .email
                .clone()
                .filter(|_| account.email_verified_ms.is_some())
                .map(|e| (e.clone(), Recipient::Email(e))),
            Channel::Sms => account
                .phone
                .clone()
                .filter(|_| account.phone_verified_ms.is_some())
                .map(|p| (p.clone(), Recipient::Sms(p))),
        }
    }
}

/// What a code proves: logging in, or owning the contact while turning the factor on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeUse {
    Login,
    Enable,
}

impl CodeUse {
    fn purpose(self) -> Purpose {
        match self {
            CodeUse::Login => Purpose::Login2fa,
            CodeUse::Enable => Purpose::SecurityChange,
        }
    }

    /// The label in the codes table: one live code per user, use and channel.
    fn stored_purpose(self, channel: Channel) -> String {
        let prefix = match self {
            CodeUse::Login => "login_2fa",
            CodeUse::Enable => "enable_2fa",
        };
        format!("{prefix}:{}", channel.as_str())
    }
}

fn binding(user_id: i64, channel: Channel) -> String {
    format!("user:{user_id}:{}", channel.as_str())
}

fn invalid_code() -> Error {
    Error::new(
        Kind::Unauthenticated,
        "invalid_code",
        "The code is wrong, expired or already used; ask for a new one",
    )
}

/// Sends a fresh code for `code_use` on `channel` to the account's verified contact, unless one
/// went out less than a minute ago (429 `resend_too_soon`).
pub async fn send_code(
    state: &Service,
    account: &AccountRow,
    channel: Channel,
    code_use: CodeUse,
) -> crate::Result<i64> {
    let Some((destination, to)) = channel.destination(account) else {
        return Err(Error::bad_request(
            "contact_not_verified",
            format!(
                "This account has no verified {}; add and verify one first",
                if channel == Channel::Email {
                    "email address"
                } else {
                    "phone number"
                }
            ),
        ));
    };
    let now_ms = state.accounts.now_ms();
    let stored = code_use.stored_purpose(channel);
    if let Some(previous) = state.store.latest_code(account.id, &stored).await? {
        let retry_at_ms = previous
            .last_sent_ms
            .saturating_add(codes::CODE_RESEND_INTERVAL_MS);
        if now_ms < retry_at_ms {
            return Err(Error::new(
                Kind::TooMany,
                "resend_too_soon",
                "A code was sent less than a minute ago; wait before asking for another",
            )
            .retry_after(retry_at_ms - now_ms));
        }
    }
    let issued = codes::issue(
        &state.accounts.code_key,
        code_use.purpose(),
        &binding(account.id, channel),
        None,
        now_ms,
    )
    .map_err(|e| Error::internal("issuing a code", e))?;
    state
        .store
        .issue_code(&NewCode {
            user_id: Some(account.id),
            channel: channel.as_str().into(),
            destination,
            purpose: stored,
            code_hash: issued.state.code_mac.clone(),
            created_ms: now_ms,
            expires_ms: issued.state.expires_ms,
            max_attempts: i64::from(CODE_MAX_ATTEMPTS),
        })
        .await?;
    let (subject, body) = match code_use {
        CodeUse::Login => (
            "Your Bulwark login code",
            format!(
                "Your Bulwark login code is {}\r\nIt is valid for 10 minutes. Never share it: Bulwark staff will never ask for it. If you are not logging in, change your password now.",
                issued.code
            ),
        ),
        CodeUse::Enable => (
            "Confirm your Bulwark second factor",
            format!(
                "Your Bulwark confirmation code is {}\r\nEnter it to turn on login codes by {}. It is valid for 10 minutes.",
                issued.code,
                channel.as_str()
            ),
        ),
    };
    notify(state, account.id, to, MessageKind::LoginCode, subject, body).await;
    Ok(issued.state.expires_ms)
}

/// Spends one try of the live code for `code_use` on `channel`, consuming it when right, under
/// the account's second-factor budget.
pub async fn spend_code(
    state: &Service,
    user_id: i64,
    channel: Channel,
    code_use: CodeUse,
    code: &str,
) -> crate::Result<()> {
    check_code_format(code)?;
    let key = AttemptKey::second_factor(user_id);
    let now_ms = state.accounts.now_ms();
    attempts::attempt(state, &key, async |permit| {
        Ok(
            match spend_code_with(state, permit, user_id, channel, code_use, code).await {
                Ok(()) => Checked::Right(()),
                Err(error) if error.code == "invalid_code" => Checked::Wrong(error),
                Err(error) => Checked::Uncounted(error),
            },
        )
    })
    .await?
    .into_result(now_ms)
}

fn check_code_format(code: &str) -> crate::Result<()> {
    check_len("code", code, CODE_FIELD_CHARS_MAX)?;
    let code = code.trim();
    if code.len() != codes::CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::bad_request("malformed_code", "A code is 6 digits"));
    }
    Ok(())
}

/// [`spend_code`] inside an attempt the caller already reserved (the login's second step).
pub async fn spend_code_with(
    state: &Service,
    permit: &Permit,
    user_id: i64,
    channel: Channel,
    code_use: CodeUse,
    code: &str,
) -> crate::Result<()> {
    check_code_format(code)?;
    let code = code.trim();
    let now_ms = state.accounts.now_ms();
    let stored = code_use.stored_purpose(channel);
    let Some(row) = state.store.find_live_code(user_id, &stored, now_ms).await? else {
        return Err(invalid_code());
    };
    let bound = binding(user_id, channel);
    if !crate::one_time::spend(
        state,
        permit,
        &row,
        code_use.purpose(),
        &bound,
        code,
        now_ms,
    )
    .await?
    {
        return Err(invalid_code());
    }
    Ok(())
}

/// The enrolled email/SMS methods of a user.
pub async fn enrolled(state: &Service, user_id: i64) -> crate::Result<Vec<Channel>> {
    let names = state.store.list_second_factors(user_id).await?;
    Ok(names
        .iter()
        .filter_map(|name| Channel::parse(name).ok())
        .collect())
}

async fn own_account(state: &Service, authed: &Authed) -> crate::Result<AccountRow> {
    state
        .store
        .get_account(authed.user_id)
        .await?
        .ok_or_else(|| Error::internal("account", "session without account"))
}

/// `POST /api/v1/2fa/{method}/send`: sends a confirmation code before turning the factor on.
pub async fn send_enable_code(
    state: &Service,
    authed: &Authed,
    method: String,
) -> crate::Result<Value> {
    let channel = Channel::parse(&method)?;
    authed.require_recent_auth(state.accounts.now_ms())?;
    let account = own_account(state, authed).await?;
    let expires_ms = send_code(state, &account, channel, CodeUse::Enable).await?;
    Ok(json!({"status": "code_sent", "method": channel.as_str(), "expires_at_ms": expires_ms}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableRequest {
    pub code: String,
}

/// `POST /api/v1/2fa/{method}/enable`: the code sent to the contact turns the factor on.
pub async fn enable(
    state: &Service,
    authed: &Authed,
    method: String,
    request: EnableRequest,
) -> crate::Result<Value> {
    let channel = Channel::parse(&method)?;
    let now_ms = state.accounts.now_ms();
    authed.require_recent_auth(now_ms)?;
    if enrolled(state, authed.user_id).await?.contains(&channel) {
        return Err(Error::new(
            Kind::Conflict,
            "already_enabled",
            format!("Login codes by {} are already on", channel.as_str()),
        ));
    }
    spend_code(
        state,
        authed.user_id,
        channel,
        CodeUse::Enable,
        &request.code,
    )
    .await?;
    state
        .store
        .enable_second_factor(authed.user_id, channel.as_str(), now_ms)
        .await?;
    let allowed_after_ms = after_change(state, authed, channel, true).await?;
    Ok(json!({
        "status": "enabled",
        "method": channel.as_str(),
        "withdrawals_allowed_after_ms": allowed_after_ms,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    /// Required (or `recovery_code`) when an authenticator app is on.
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// `POST /api/v1/2fa/{method}/disable`: turns the factor off (recent password, and the
/// authenticator code when one is on).
pub async fn disable(
    state: &Service,
    authed: &Authed,
    method: String,
    request: DisableRequest,
) -> crate::Result<Value> {
    let channel = Channel::parse(&method)?;
    let now_ms = state.accounts.now_ms();
    authed.require_recent_auth(now_ms)?;
    // A factor that is not on is refused before a code is spent on it.
    if !enrolled(state, authed.user_id).await?.contains(&channel) {
        return Err(not_enabled(channel));
    }
    require_second_factor(
        state,
        authed.user_id,
        request.totp_code.as_deref(),
        request.recovery_code.as_deref(),
    )
    .await?;
    if !state
        .store
        .disable_second_factor(authed.user_id, channel.as_str())
        .await?
    {
        return Err(not_enabled(channel));
    }
    let allowed_after_ms = after_change(state, authed, channel, false).await?;
    Ok(json!({
        "status": "disabled",
        "method": channel.as_str(),
        "withdrawals_allowed_after_ms": allowed_after_ms,
    }))
}

fn not_enabled(channel: Channel) -> Error {
    Error::bad_request(
        "not_enabled",
        format!("Login codes by {} are not on", channel.as_str()),
    )
}

/// Security event, 24 h withdrawal pause and an email for turning a factor on or off.
async fn after_change(
    state: &Service,
    authed: &Authed,
    channel: Channel,
    enabled: bool,
) -> crate::Result<i64> {
    let change = match (channel, enabled) {
        (Channel::Email, true) => &EMAIL_ON,
        (Channel::Email, false) => &EMAIL_OFF,
        (Channel::Sms, true) => &SMS_ON,
        (Channel::Sms, false) => &SMS_OFF,
    };
    let ip = Some(authed.client.ip.to_string());
    apply_change(state, authed.user_id, ip, change).await
}

const EMAIL_ON: Change = Change {
    event: "email_2fa_enabled",
    lock: SecurityChange::SecondFactorChanged,
    kind: MessageKind::SecondFactorEnabled,
    subject: "Login codes turned on",
    body: "Login codes by email were turned on for your Bulwark account.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below.",
};

const EMAIL_OFF: Change = Change {
    event: "email_2fa_disabled",
    lock: SecurityChange::SecondFactorChanged,
    kind: MessageKind::SecondFactorDisabled,
    subject: "Login codes turned off",
    body: "Login codes by email were turned off for your Bulwark account.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below.",
};

const SMS_ON: Change = Change {
    event: "sms_2fa_enabled",
    lock: SecurityChange::SecondFactorChanged,
    kind: MessageKind::SecondFactorEnabled,
    subject: "Login codes turned on",
    body: "Login codes by SMS were turned on for your Bulwark account.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below.",
};

const SMS_OFF: Change = Change {
    event: "sms_2fa_disabled",
    lock: SecurityChange::SecondFactorChanged,
    kind: MessageKind::SecondFactorDisabled,
    subject: "Login codes turned off",
    body: "Login codes by SMS were turned off for your Bulwark account.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below.",
};
