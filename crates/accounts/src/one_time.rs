//! Spending a stored one-time code: the one sequence every emailed or texted code goes through
//! (sign-up verification, login codes, factor enrolment, login confirmation, 2FA-reset proof).

use bulwark_identity::codes::{self, CodeOutcome, CodeState, Purpose};
use bulwark_store::CodeRow;

use crate::attempts::Permit;

use crate::service::Service;

/// Takes the limiter's permit (see [`crate::attempts`]): the code's own attempt count bounds
/// guesses at one code, the permit bounds guesses across codes.
///
/// Spends one attempt of the live code `row` and consumes it when `code` is right for
/// `purpose` and `binding`. `Ok(false)` for every kind of refusal (wrong, expired, out of
/// attempts, raced), so callers give one answer and reveal nothing more.
pub async fn spend(
    state: &Service,
    _permit: &Permit,
    row: &CodeRow,
    purpose: Purpose,
    binding: &str,
    code: &str,
    now_ms: i64,
) -> crate::Result<bool> {
    if state
        .store
        .record_code_attempt(row.id, now_ms)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    let code_state = CodeState {
        purpose,
        code_mac: row.code_hash.clone(),
        issued_ms: row.created_ms,
        expires_ms: row.expires_ms,
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        consumed: false,
    };
    let checked = codes::check(
        &state.accounts.code_key,
        &code_state,
        purpose,
        binding,
        code.trim(),
        now_ms,
    );
    Ok(
        checked.outcome == CodeOutcome::Accepted
            && state.store.consume_code(row.id, now_ms).await?,
    )
}
