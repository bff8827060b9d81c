//! TOTP enrolment: setup (after a recent password) returns the secret, otpauth URI and QR code;
//! confirm with a code enables it, issues recovery codes, records the security event, starts the
//! withdrawal lock and tells the owner.

use crate::Kind;
use bulwark_identity::codes;
use bulwark_identity::password::HashParams;
use bulwark_identity::totp;
use bulwark_identity::withdraw_lock::SecurityChange;
use bulwark_notify::MessageKind;
use bulwark_store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::attempts::busy_or_internal;
use crate::recovery::{Change, apply_change, require_second_factor};
use crate::second_factor::{open_secret, totp_context, totp_failure};
use crate::service::Service;
use crate::sessions::Authed;
use crate::validate::check_len;

/// Issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "Bulwark";

fn already_enabled() -> Error {
    Error::new(
        Kind::Conflict,
        "totp_already_enabled",
        "TOTP is already enabled on this account",
    )
}

/// `POST /api/v1/2fa/totp/setup`.
pub async fn setup(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let now_ms = state.accounts.now_ms();
    authed.require_recent_auth(now_ms)?;
    let Some(account) = state.store.get_account(authed.user_id).await? else {
        return Err(Error::new(
            Kind::Unauthenticated,
            "invalid_session",
            "No such account",
        ));
    };
    let secret = totp::generate_secret().map_err(|e| Error::internal("TOTP secret", e))?;
    let sealed = state
        .master_key
        .seal(secret.as_bytes(), &totp_context(account.id))
        .map_err(|e| Error::internal("sealing a TOTP secret", e))?;
    match state
        .store
        .begin_totp_enrollment(account.id, &sealed, now_ms)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(already_enabled()),
        Err(error) => return Err(error.into()),
    }
    let label = account
        .email
        .clone()
        .or(account.phone.clone())
        .unwrap_or_default();
    let uri = totp::otpauth_uri(&secret, TOTP_ISSUER, &label)
        .map_err(|e| Error::internal("otpauth uri", e))?;
    let svg = totp::qr_svg(&uri).map_err(|e| Error::internal("QR code", e))?;
    Ok(json!({
        "secret": secret.to_base32(),
        "otpauth_uri": uri,
        "qr_svg": svg,
        "digits": totp::TOTP_DIGITS,
        "period_s": totp::TOTP_STEP_S,
        "algorithm": "SHA1",
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub code: String,
}

/// `POST /api/v1/2fa/totp/confirm`.
pub async fn confirm(
    state: &Service,
    authed: &Authed,
    request: ConfirmRequest,
) -> crate::Result<Value> {
    check_len("code", &request.code, 16)?;
    let now_ms = state.accounts.now_ms();
    authed.require_recent_auth(now_ms)?;
    let user_id = authed.user_id;
    let Some(row) = state.store.get_totp(user_id).await? else {
        return Err(Error::bad_request(
            "totp_not_pending",
            "Start with POST /api/v1/2fa/totp/setup",
        ));
    };
    if row.enabled_ms.is_some() {
        return Err(already_enabled());
    }
    let secret = open_secret(state, user_id, &row.secret_ciphertext)?;
    let step =
        totp::verify(&secret, &request.code, now_ms, None).map_err(|e| totp_failure(e).error)?;
    let step = i64::try_from(step).map_err(|_| Error::internal("TOTP step", "overflow"))?;
    let generated = generate_recovery_codes(state).await?;
    if !state.store.enable_totp(user_id, step, now_ms).await? {
        return Err(already_enabled());
    }
    let codes = store_recovery_codes(state, user_id, generated, now_ms).await?;
    let allowed_after_ms = after_enabling(state, authed).await?;
    Ok(json!({
        "status": "enabled",
        "recovery_codes": codes,
        "withdrawals_allowed_after_ms": allowed_after_ms,
    }))
}

/// Ten fresh recovery codes, hashed in the bounded pool.
async fn generate_recovery_codes(state: &Service) -> crate::Result<codes::RecoveryCodes> {
    state
        .accounts
        .hash_pool
        .run(|| codes::generate_recovery_codes(&HashParams::RECOVERY_CODE))
        .await
        .map_err(|e| busy_or_internal("recovery codes", e))?
        .map_err(|e| Error::internal("recovery codes", e))
}

/// Replaces the user's recovery codes (voiding every old one) and returns the new plaintexts,
/// shown once.
async fn store_recovery_codes(
    state: &Service,
    user_id: i64,
    generated: codes::RecoveryCodes,
    now_ms: i64,
) -> crate::Result<Vec<String>> {
    let hashes: Vec<String> = generated
        .set
        .entries
        .iter()
        .map(|e| e.phc.clone())
        .collect();
    state
        .store
        .replace_recovery_codes(user_id, &hashes, now_ms)
        .await?;
    Ok(generated.codes)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegenerateRequest {
    #[serde(default)]
    pub totp_code: Option<String>,
}

const RECOVERY_REGENERATED: Change = Change {
    event: "recovery_codes_regenerated",
    lock: SecurityChange::SecondFactorChanged,
    kind: MessageKind::RecoveryCodesRegenerated,
    subject: "New recovery codes for your account",
    body: "New recovery codes were made for your Bulwark account; the old ones no longer work.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below.",
};

/// `POST /api/v1/2fa/recovery-codes`: ten new recovery codes (shown once); every old code
/// stops working. Needs a recent password and the authenticator code.
pub async fn regenerate_recovery_codes(
    state: &Service,
    authed: &Authed,
    request: RegenerateRequest,
) -> crate::Result<Value> {
    let now_ms = state.accounts.now_ms();
    authed.require_recent_auth(now_ms)?;
    let totp_on = state
        .store
        .get_totp(authed.user_id)
        .await?
        .is_some_and(|t| t.enabled_ms.is_some());
    if !totp_on {
        return Err(Error::bad_request(
            "totp_not_enabled",
            "Recovery codes come with an authenticator app; turn TOTP on first",
        ));
    }
    let Some(code) = request.totp_code.as_deref() else {
        return Err(Error::new(
            Kind::Forbidden,
            "second_factor_required",
            "Send totp_code: new recovery codes need your authenticator",
        ));
    };
    require_second_factor(state, authed.user_id, Some(code), None).await?;
    let generated = generate_recovery_codes(state).await?;
    let codes = store_recovery_codes(state, authed.user_id, generated, now_ms).await?;
    let ip = Some(authed.client.ip.to_string());
    let allowed_after_ms = apply_change(state, authed.user_id, ip, &RECOVERY_REGENERATED).await?;
    Ok(json!({
        "status": "regenerated",
        "recovery_codes": codes,
        "withdrawals_allowed_after_ms": allowed_after_ms,
    }))
}

const TOTP_ENABLED: Change = Change {
    event: "totp_enabled",
    lock: SecurityChange::SecondFactorChanged,
    kind: MessageKind::SecondFactorEnabled,
    subject: "2FA enabled on your account",
    body: "Two-factor authentication with an authenticator app was turned on for your Bulwark account.\nWithdrawals are paused for 24 hours. If this was not you, contact support at once.",
};

/// The consequences of turning TOTP on: security event, withdrawal lock, email. Returns when
/// withdrawals are allowed again.
async fn after_enabling(state: &Service, authed: &Authed) -> crate::Result<i64> {
    let ip = Some(authed.client.ip.to_string());
    apply_change(state, authed.user_id, ip, &TOTP_ENABLED).await
}
