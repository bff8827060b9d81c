//! Lost second factor: the owner proves the password and every contact on the account (email
//! and phone codes), adds a note for the KYC review, and a reset request is filed. It takes
//! effect only after staff approval and 48 hours, can be cancelled meanwhile from any session
//! or the emailed link, and when applied removes TOTP and recovery codes and locks withdrawals
//! for 72 hours.

use crate::Kind;
use bulwark_identity::clock::HOUR_MS;
use bulwark_identity::codes::{self, CODE_MAX_ATTEMPTS, Purpose};
use bulwark_identity::lockout::Decision;
use bulwark_identity::withdraw_lock::{self, SecurityChange};
use bulwark_notify::{MessageKind, Recipient};
use bulwark_store::{AccountRow, NewCode, NewSecurityEvent, NewToken, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::attempts::{self, AttemptKey, Checked, Outcome};
use crate::attempts::{dummy_password_work, invalid_credentials, try_later};
use crate::client::Client;
use crate::notice::{account_recipient, notify};
use crate::service::Service;
use crate::signup::{PASSWORD_FIELD_CHARS_MAX, find_account};
use crate::validate::check_len;
use crate::validate::{identifier_text, parse_identifier};

/// How long after filing a reset may be applied (the owner's window to cancel).
pub const RESET_DELAY_MS: i64 = 48 * HOUR_MS;
/// Longest KYC note kept.
pub const KYC_NOTE_CHARS_MAX: usize = 1_000;

fn binding(user_id: i64, destination: &str) -> String {
    format!("2fa-reset:{user_id}:{destination}")
}

/// The account's contacts: (channel, destination, recipient).
fn contacts(account: &AccountRow) -> Vec<(&'static str, String, Recipient)> {
    let mut out = Vec::new();
    if let Some(email) = &account.email {
        out.push(("email", email.clone(), Recipient::Email(email.clone())));
    }
    if let Some(phone) = &account.phone {
        out.push(("sms", phone.clone(), Recipient::Sms(phone.clone())));
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesRequest {
    pub identifier: String,
    pub password: String,
}

/// Checks identifier + password under the login's password budget; the account when right.
/// Refusals answer as login does (a lock looks like a wrong password).
async fn password_gate(
    state: &Service,
    client: &Client,
    identifier: &str,
    password: &str,
) -> crate::Result<AccountRow> {
    let identifier = parse_identifier(identifier)?;
    check_len("password", password, PASSWORD_FIELD_CHARS_MAX)?;
    let now_ms = state.accounts.now_ms();
    let account = find_account(state, &identifier).await?;
    let typed = identifier_text(&identifier);
    match attempts::check_password(state, account.as_ref(), typed, client, password).await? {
        Outcome::Right { .. } => account.ok_or_else(invalid_credentials),
        Outcome::Refused(Decision::Wait { until_ms }) => Err(try_later(until_ms, now_ms)),
        Outcome::Refused(_) => {
            dummy_password_work(state, password).await?;
            Err(invalid_credentials())
        }
        Outcome::Wrong(error) => Err(error),
    }
}

/// `POST /api/v1/2fa/reset-request/codes`: after the password, sends a 6-digit code to the
/// account's email and to its phone.
pub async fn send_codes(
    state: &Service,
    client: &Client,
    request: CodesRequest,
) -> crate::Result<Value> {
    let account = password_gate(state, client, &request.identifier, &request.password).await?;
    let now_ms = state.accounts.now_ms();
    let mut sent = Vec::new();
    for (channel, destination, to) in contacts(&account) {
        let issued = codes::issue(
            &state.accounts.code_key,
            Purpose::SecondFactorReset,
            &binding(account.id, &destination),
            None,
            now_ms,
        )
        .map_err(|e| Error::internal("issuing a code", e))?;
        state
            .store
            .issue_code(&NewCode {
                user_id: None,
                channel: channel.into(),
                destination: destination.clone(),
                purpose: Purpose::SecondFactorReset.as_str().into(),
                code_hash: issued.state.code_mac.clone(),
                created_ms: now_ms,
                expires_ms: issued.state.expires_ms,
                max_attempts: i64::from(CODE_MAX_ATTEMPTS),
            })
            .await?;
        let body = format!(
            "Your Bulwark 2FA reset code is {}\nIt is valid for 10 minutes. If you did not ask to reset your second factor, change your password now.",
            issued.code
        );
        let subject = "Your 2FA reset code";
        let kind = MessageKind::SecondFactorResetRequested;
        notify(state, account.id, to, kind, subject, body).await;
        sent.push(channel);
    }
    Ok(json!({"status": "codes_sent", "channels": sent}))
}

fn invalid_code() -> Error {
    Error::new(
        Kind::Unauthenticated,
        "invalid_code",
        "A reset code is wrong, expired or missing; ask for new codes",
    )
}

/// Spends the live reset code sent to `destination`.
async fn spend(state: &Service, user_id: i64, destination: &str, code: &str) -> crate::Result<()> {
    let now_ms = state.accounts.now_ms();
    let purpose = Purpose::SecondFactorReset;
    let Some(row) = state
        .store
        .find_live_code_for_destination(destination, purpose.as_str(), now_ms)
        .await?
    else {
        return Err(invalid_code());
    };
    let bound = binding(user_id, destination);
    let key = AttemptKey::second_factor(user_id);
    attempts::attempt(state, &key, async |permit| {
        let right =
            crate::one_time::spend(state, permit, &row, purpose, &bound, code, now_ms).await?;
        Ok(Checked::right_if(right, invalid_code()))
    })
    .await?
    .into_result(now_ms)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub identifier: String,
    pub password: String,
    #[serde(default)]
    pub email_code: Option<String>,
    #[serde(default)]
    pub phone_code: Option<String>,
    pub kyc_note: String,
}

/// `POST /api/v1/2fa/reset-request`: files the request (effective after staff approval and 48 h).
pub async fn request(
    state: &Service,
    client: &Client,
    request: ResetRequest,
) -> crate::Result<Value> {
    check_len("kyc_note", &request.kyc_note, KYC_NOTE_CHARS_MAX)?;
    let account = password_gate(state, client, &request.identifier, &request.password).await?;
    for (channel, destination, _) in contacts(&account) {
        let code = if channel == "email" {
            &request.email_code
        } else {
            &request.phone_code
        };
        let Some(code) = code.as_deref() else {
            return Err(Error::bad_request(
                "codes_required",
                "Send email_code and phone_code (for every contact on the account); get them from POST /api/v1/2fa/reset-request/codes",
            ));
        };
        check_len("code", code, 16)?;
        spend(state, account.id, &destination, code).await?;
    }
    let totp_on = state
        .store
        .get_totp(account.id)
        .await?
        .is_some_and(|t| t.enabled_ms.is_some());
    if !totp_on {
        return Err(Error::bad_request(
            "totp_not_enabled",
            "This account has no second factor to reset",
        ));
    }
    let now_ms = state.accounts.now_ms();
    let effective_ms = now_ms.saturating_add(RESET_DELAY_MS);
    let id = match state
        .store
        .insert_twofa_reset(account.id, now_ms, effective_ms)
        .await
    {
        Ok(id) => id,
        Err(StoreError::Conflict(_)) => {
            return Err(Error::new(
                Kind::Conflict,
                "reset_already_requested",
                "A 2FA reset request is already open for this account",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    let note: String = request.kyc_note.chars().take(KYC_NOTE_CHARS_MAX).collect();
    event(
        state,
        account.id,
        "twofa_reset_requested",
        Some(client.ip.to_string()),
        Some(format!("request {id}; kyc note: {note}")),
    )
    .await?;
    tell_requested(state, &account, effective_ms).await?;
    Ok(json!({"status": "pending_review", "id": id, "effective_at_ms": effective_ms}))
}

async fn event(
    state: &Service,
    user_id: i64,
    kind: &str,
    ip: Option<String>,
    detail: Option<String>,
) -> crate::Result<()> {
    state
        .store
        .record_security_event(&NewSecurityEvent {
            user_id,
            at_ms: state.accounts.now_ms(),
            kind: kind.into(),
            ip,
            detail,
        })
        .await?;
    Ok(())
}

/// Emails the owner a single-use cancel link.
async fn tell_requested(
    state: &Service,
    account: &AccountRow,
    effective_ms: i64,
) -> crate::Result<()> {
    let now_ms = state.accounts.now_ms();
    let issued = codes::issue_token(Purpose::CancelSecondFactorReset, now_ms)
        .map_err(|e| Error::internal("cancel token", e))?;
    state
        .store
        .insert_token(&NewToken {
            token_hash: issued.record.token_hash.clone(),
            user_id: account.id,
            purpose: Purpose::CancelSecondFactorReset.as_str().into(),
            created_ms: now_ms,
            expires_ms: issued.record.expires_ms,
            data: None,
        })
        .await?;
    if let Some(to) = account_recipient(account) {
        let body = format!(
            "A request to remove the second factor from your Bulwark account was filed. After staff review it takes effect at {effective_ms} (ms since 1970) at the earliest.\nIf this was not you, cancel it: {}/account/2fa-reset/cancel?token={} (cancel code: {})",
            state.accounts.public_url, issued.token, issued.token
        );
        let subject = "2FA reset requested on your account";
        notify(
            state,
            account.id,
            to,
            MessageKind::SecondFactorResetRequested,
            subject,
            body,
        )
        .await;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub token: String,
}

/// Who cancels an open 2FA reset: the signed-in owner from any session, or whoever holds the
/// emailed cancel link (no login needed: the owner may have lost the second factor).
pub enum Canceller {
    Session(i64),
    Link(CancelRequest),
}

/// Cancels the open 2FA reset request of the owner.
pub async fn cancel(state: &Service, by: Canceller) -> crate::Result<Value> {
    let now_ms = state.accounts.now_ms();
    let user_id = match by {
        Canceller::Session(user_id) => user_id,
        Canceller::Link(request) => {
            check_len("token", &request.token, 256)?;
            let hash = codes::token_hash(&request.token);
            let purpose = Purpose::CancelSecondFactorReset.as_str();
            match state.store.consume_token(&hash, purpose, now_ms).await? {
                Some(row) => row.user_id,
                None => {
                    return Err(Error::new(
                        Kind::Unauthenticated,
                        "invalid_token",
                        "The cancel link is unknown, expired or already used",
                    ));
                }
            }
        }
    };
    let Some(open) = state.store.find_open_twofa_reset(user_id).await? else {
        return Err(Error::new(
            Kind::NotFound,
            "no_open_request",
            "There is no open 2FA reset request",
        ));
    };
    if !state
        .store
        .cancel_twofa_reset(user_id, open.id, now_ms)
        .await?
    {
        return Err(Error::new(
            Kind::NotFound,
            "no_open_request",
            "There is no open 2FA reset request",
        ));
    }
    event(
        state,
        user_id,
        "twofa_reset_cancelled",
        None,
        Some(format!("request {}", open.id)),
    )
    .await?;
    Ok(json!({"status": "cancelled", "id": open.id}))
}

/// Applies the user's approved request once its delay has passed: TOTP and recovery codes
/// removed, 72 h withdrawal lock, event and notice. Called at login and by staff approval;
/// returns whether a reset was applied.
pub async fn apply_due(state: &Service, user_id: i64) -> crate::Result<bool> {
    let Some(open) = state.store.find_open_twofa_reset(user_id).await? else {
        return Ok(false);
    };
    let now_ms = state.accounts.now_ms();
    if state
        .store
        .apply_twofa_reset(open.id, now_ms)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    let until_ms = withdraw_lock::extend(None, SecurityChange::SecondFactorReset, now_ms);
    state.store.set_withdraw_lock(user_id, until_ms).await?;
    event(
        state,
        user_id,
        "twofa_reset_applied",
        None,
        Some(format!("request {}", open.id)),
    )
    .await?;
    if let Some(account) = state.store.get_account(user_id).await?
        && let Some(to) = account_recipient(&account)
    {
        let body = "The second factor was removed from your Bulwark account after review. Set up a new one now.\nWithdrawals are paused for 72 hours. If this was not you, freeze your account with the link below.".to_string();
        notify(
            state,
            user_id,
            to,
            MessageKind::SecondFactorResetCompleted,
            "Your 2FA was reset",
            body,
        )
        .await;
    }
    Ok(true)
}
