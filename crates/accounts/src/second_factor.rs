//! Checking second factors: TOTP codes (with replay protection) and recovery codes, and how a
//! refusal is told apart from a counted guess. The checks take the limiter's permit, so they only
//! run inside an attempt (see `attempts`).

use bulwark_identity::codes::{CodeError, RecoveryEntry, RecoverySet};
use bulwark_identity::totp::{self, TotpError, TotpSecret};

use crate::attempts::{Checked, Permit, busy_or_internal};
use crate::error::{Error, Kind};
use crate::service::Service;

/// Why a second factor was refused; `counts` says whether it is a guess to count.
pub struct FactorFailure {
    pub error: Error,
    pub counts: bool,
}

impl FactorFailure {
    /// A refusal that is not a guess (an internal error, a factor that is not on).
    pub fn uncounted(error: Error) -> Self {
        FactorFailure {
            error,
            counts: false,
        }
    }

    /// The limiter's view of a factor check: counted guesses are wrong, the rest uncounted.
    pub fn checked(result: Result<(), FactorFailure>) -> Checked<()> {
        match result {
            Ok(()) => Checked::Right(()),
            Err(failure) if failure.counts => Checked::Wrong(failure.error),
            Err(failure) => Checked::Uncounted(failure.error),
        }
    }
}

pub fn factor_failure(
    kind: Kind,
    code: &'static str,
    message: String,
    counts: bool,
) -> FactorFailure {
    FactorFailure {
        error: Error::new(kind, code, message),
        counts,
    }
}

/// The master-key context binding a TOTP secret to its user.
pub fn totp_context(user_id: i64) -> String {
    format!("totp:secret:{user_id}")
}

/// Opens the user's stored TOTP secret.
pub fn open_secret(state: &Service, user_id: i64, ciphertext: &[u8]) -> crate::Result<TotpSecret> {
    let bytes = state
        .master_key
        .open(ciphertext, &totp_context(user_id))
        .map_err(|e| Error::internal("opening a TOTP secret", e))?;
    TotpSecret::from_bytes(bytes).map_err(|e| Error::internal("TOTP secret", e))
}

/// Maps a TOTP check error.
pub fn totp_failure(error: TotpError) -> FactorFailure {
    match error {
        TotpError::MalformedCode => {
            factor_failure(Kind::Invalid, "malformed_code", error.to_string(), false)
        }
        TotpError::Replayed => factor_failure(
            Kind::Unauthenticated,
            "code_replayed",
            error.to_string(),
            true,
        ),
        TotpError::WrongCode => factor_failure(
            Kind::Unauthenticated,
            "invalid_code",
            error.to_string(),
            true,
        ),
        other => FactorFailure::uncounted(Error::internal("TOTP", other)),
    }
}

/// Checks a TOTP code of an enabled credential and spends its time step.
pub async fn check_totp(
    state: &Service,
    _permit: &Permit,
    user_id: i64,
    code: &str,
) -> Result<(), FactorFailure> {
    let internal = FactorFailure::uncounted;
    let row = state
        .store
        .get_totp(user_id)
        .await
        .map_err(|e| internal(e.into()))?;
    let Some(row) = row.filter(|r| r.enabled_ms.is_some()) else {
        return Err(factor_failure(
            Kind::Invalid,
            "totp_not_enabled",
            "TOTP is not enabled on this account".into(),
            false,
        ));
    };
    let secret = open_secret(state, user_id, &row.secret_ciphertext).map_err(internal)?;
    let now_ms = state.accounts.now_ms();
    let last = u64::try_from(row.last_used_step).ok();
    let step = totp::verify(&secret, code, now_ms, last).map_err(totp_failure)?;
    let step =
        i64::try_from(step).map_err(|_| internal(Error::internal("TOTP step", "overflow")))?;
    if !state
        .store
        .advance_totp_step(user_id, step)
        .await
        .map_err(|e| internal(e.into()))?
    {
        return Err(totp_failure(TotpError::Replayed));
    }
    Ok(())
}

pub async fn check_recovery(
    state: &Service,
    _permit: &Permit,
    user_id: i64,
    code: &str,
) -> Result<(), FactorFailure> {
    let internal = FactorFailure::uncounted;
    let rows = state
        .store
        .list_recovery_codes(user_id)
        .await
        .map_err(|e| internal(e.into()))?;
    let set = RecoverySet {
        entries: rows
            .iter()
            .map(|r| RecoveryEntry {
                phc: r.code_hash.clone(),
                used_ms: r.used_ms,
            })
            .collect(),
    };
    let now_ms = state.accounts.now_ms();
    let input = code.to_string();
    let redeemed = state
        .accounts
        .hash_pool
        .run(move || set.redeem(&input, now_ms))
        .await
        .map_err(|e| internal(busy_or_internal("recovery code", e)))?;
    let used = |m: &str| factor_failure(Kind::Unauthenticated, "code_replayed", m.into(), true);
    match redeemed {
        Ok((_, index)) => {
            let id = rows.get(index).map(|r| r.id).unwrap_or_default();
            let fresh = state
                .store
                .use_recovery_code(user_id, id, now_ms)
                .await
                .map_err(|e| internal(e.into()))?;
            if fresh {
                Ok(())
            } else {
                Err(used("This recovery code was already used"))
            }
        }
        Err(CodeError::MalformedRecoveryCode) => Err(factor_failure(
            Kind::Invalid,
            "malformed_recovery_code",
            "A recovery code is 16 letters and digits (dashes optional)".into(),
            false,
        )),
        Err(CodeError::RecoveryCodeUsed) => Err(used("This recovery code was already used")),
        Err(CodeError::RecoveryCodeWrong) => Err(factor_failure(
            Kind::Unauthenticated,
            "invalid_code",
            "The recovery code is wrong".into(),
            true,
        )),
        Err(other) => Err(internal(Error::internal("recovery code", other))),
    }
}
