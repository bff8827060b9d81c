//! One-time codes, recovery codes and link tokens.
//!
//! * Numeric codes (email/SMS): 6 digits from the CSPRNG, bound to a [`Purpose`] and to a caller
//!   binding (user id, flow id, destination), valid 10 minutes, 5 attempts, a new code voids the
//!   old one (the caller keeps one [`CodeState`] per subject and purpose and overwrites it), and a
//!   resend at most once a minute. Only HMAC-SHA256 of the code under a server key is stored.
//! * Recovery codes: 10 codes of 16 base32 characters (80 bits). Below the 112 bits of ASVS 5
//!   6.5.2, so each is stored as a salted argon2id hash; single use; regenerating replaces the set.
//! * Link tokens (password reset, email links): 256 random bits, base64url, stored as SHA-256.
//!
//! Everything here is pure: functions take `now_ms` and return the state to store together with
//! the outcome, so the rules are testable without a database or a clock.

use serde::{Deserialize, Serialize};

use crate::clock::{DAY_MS, HOUR_MS, MINUTE_MS};
use crate::password::{HashParams, PasswordError, hash_password, verify_password};
use crate::random::{
    HmacKey, RngError, base32, base64url, ct_eq, random_bytes, random_digits, sha256,
};

/// Digits in an emailed or texted code (≥ 20 bits, ASVS 5 6.5.4).
pub const CODE_DIGITS: usize = 6;
/// Lifetime of a numeric code (ASVS 5 6.5.5: at most 10 minutes).
pub const CODE_TTL_MS: i64 = 10 * MINUTE_MS;
/// Wrong submissions allowed before the code is dead.
pub const CODE_MAX_ATTEMPTS: u32 = 5;
/// A new code for the same purpose may be sent at most this often.
pub const CODE_RESEND_INTERVAL_MS: i64 = MINUTE_MS;
/// Recovery codes issued per set.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Random bytes per recovery code: 80 bits, exactly 16 base32 characters.
pub const RECOVERY_CODE_BYTES: usize = 10;
/// Characters in a recovery code.
pub const RECOVERY_CODE_CHARS: usize = 16;
/// Random bytes in a link token (256 bits).
pub const TOKEN_BYTES: usize = 32;
/// Password-reset link lifetime (issue 3: 30 minutes).
pub const PASSWORD_RESET_TTL_MS: i64 = 30 * MINUTE_MS;

/// What a code or token is for. A code issued for one purpose never satisfies another (C5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Purpose {
    #[serde(rename = "verify_email")]
    VerifyEmail,
    #[serde(rename = "verify_phone")]
    VerifyPhone,
    #[serde(rename = "login_2fa")]
    Login2fa,
    #[serde(rename = "new_device")]
    NewDevice,
    #[serde(rename = "password_reset")]
    PasswordReset,
    #[serde(rename = "change_email")]
    ChangeEmail,
    #[serde(rename = "change_phone")]
    ChangePhone,
    #[serde(rename = "withdraw")]
    Withdraw,
    #[serde(rename = "security_change")]
    SecurityChange,
    #[serde(rename = "second_factor_reset")]
    SecondFactorReset,
    #[serde(rename = "cancel_second_factor_reset")]
    CancelSecondFactorReset,
    #[serde(rename = "freeze_account")]
    FreezeAccount,
}

impl Purpose {
    /// Every purpose, for exhaustive tests and admin listings.
    pub const ALL: [Self; 12] = [
        Self::VerifyEmail,
        Self::VerifyPhone,
        Self::Login2fa,
        Self::NewDevice,
        Self::PasswordReset,
        Self::ChangeEmail,
        Self::ChangePhone,
        Self::Withdraw,
        Self::SecurityChange,
        Self::SecondFactorReset,
        Self::CancelSecondFactorReset,
        Self::FreezeAccount,
    ];

    /// Stable name for storage and URLs; never change one once data exists.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::VerifyPhone => "verify_phone",
            Self::Login2fa => "login_2fa",
            Self::NewDevice => "new_device",
            Self::PasswordReset => "password_reset",
            Self::ChangeEmail => "change_email",
            Self::ChangePhone => "change_phone",
            Self::Withdraw => "withdraw",
            Self::SecurityChange => "security_change",
            Self::SecondFactorReset => "second_factor_reset",
            Self::CancelSecondFactorReset => "cancel_second_factor_reset",
            Self::FreezeAccount => "freeze_account",
        }
    }

    /// Parse a stored name.
    pub fn parse(name: &str) -> Result<Self, CodeError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| CodeError::UnknownPurpose {
                name: name.to_string(),
            })
    }

    /// How long an emailed link for this purpose stays valid. Links that protect the owner
    /// (freeze, cancel a 2FA reset) live long enough to be found in the inbox later.
    pub const fn link_ttl_ms(self) -> i64 {
        match self {
            Self::PasswordReset => PASSWORD_RESET_TTL_MS,
            Self::VerifyEmail | Self::ChangeEmail => DAY_MS,
            Self::CancelSecondFactorReset => 72 * HOUR_MS,
            Self::FreezeAccount => 7 * DAY_MS,
            Self::VerifyPhone
            | Self::Login2fa
            | Self::NewDevice
            | Self::ChangePhone
            | Self::Withdraw
            | Self::SecurityChange
            | Self::SecondFactorReset => CODE_TTL_MS,
        }
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a code or token operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("a code was sent less than a minute ago; a new one can be requested at {retry_at_ms}")]
    ResendTooSoon { retry_at_ms: i64 },
    #[error("unknown code purpose {name:?}")]
    UnknownPurpose { name: String },
    #[error("a recovery code is 16 letters A–Z and digits 2–7 (dashes and spaces are ignored)")]
    MalformedRecoveryCode,
    #[error("the recovery code is not valid for this account")]
    RecoveryCodeWrong,
    #[error("this recovery code was already used")]
    RecoveryCodeUsed,
    #[error("the link is not valid")]
    TokenMismatch,
    #[error("the link was issued for a different action")]
    TokenWrongPurpose,
    #[error("the link has expired; request a new one")]
    TokenExpired,
    #[error("the link was already used")]
    TokenUsed,
    #[error("could not hash the recovery code: {0}")]
    Hash(#[from] PasswordError),
    #[error(transparent)]
    Rng(#[from] RngError),
}

/// What the store keeps for the current numeric code of one subject and purpose. It contains
/// an HMAC of the code, never the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeState {
    pub purpose: Purpose,
    /// HMAC-SHA256 over (purpose, binding, code) under the server key (32 bytes).
    pub code_mac: Vec<u8>,
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub attempts: u32,
    pub consumed: bool,
}

/// A freshly issued code: send `code`, store `state` (replacing any previous state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    pub code: String,
    pub state: CodeState,
}

/// The result of checking a submitted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Right code: the state is now consumed.
    Accepted,
    /// Wrong code; `attempts_left` more tries before the code dies.
    Wrong { attempts_left: u32 },
    /// Not 6 digits; not counted as an attempt because it cannot be right.
    Malformed,
    /// The code's 10 minutes are over.
    Expired,
    /// Five wrong tries used up; a new code is needed.
    TooManyAttempts,
    /// Already used once.
    AlreadyUsed,
    /// The state belongs to another purpose.
    WrongPurpose,
}

impl CodeOutcome {
    pub fn is_accepted(self) -> bool {
        self == Self::Accepted
    }

    /// A message suitable to show the user.
    pub fn message(self) -> &'static str {
        match self {
            Self::Accepted => "code accepted",
            Self::Wrong { .. } => "the code is wrong",
            Self::Malformed => "the code must be exactly 6 digits",
            Self::Expired => "the code has expired; request a new one",
            Self::TooManyAttempts => "too many wrong codes; request a new one",
            Self::AlreadyUsed => "the code was already used; request a new one",
            Self::WrongPurpose => "this code was issued for a different action",
        }
    }
}

/// `state` to store after a check, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub state: CodeState,
    pub outcome: CodeOutcome,
}

fn code_mac(key: &HmacKey, purpose: Purpose, binding: &str, code: &str) -> Vec<u8> {
    key.mac(&[
        purpose.as_str().as_bytes(),
        binding.as_bytes(),
        code.as_bytes(),
    ])
    .to_vec()
}

/// Issue a new code for `purpose`, bound to `binding` (for example `"user:42"` or a login flow
/// id). `previous` is the stored state for the same subject and purpose, if any: it is replaced,
/// unless it was issued less than a minute ago.
pub fn issue(
    key: &HmacKey,
    purpose: Purpose,
    binding: &str,
    previous: Option<&CodeState>,
    now_ms: i64,
) -> Result<IssuedCode, CodeError> {
    if let Some(prev) = previous {
        let retry_at_ms = prev.issued_ms.saturating_add(CODE_RESEND_INTERVAL_MS);
        if prev.purpose == purpose && !prev.consumed && now_ms < retry_at_ms {
            return Err(CodeError::ResendTooSoon { retry_at_ms });
        }
    }
    let code = random_digits(CODE_DIGITS)?;
    let state = CodeState {
        purpose,
        code_mac: code_mac(key, purpose, binding, &code),
        issued_ms: now_ms,
        expires_ms: now_ms.saturating_add(CODE_TTL_MS),
        attempts: 0,
        consumed: false,
    };
    Ok(IssuedCode { code, state })
}

/// Check a submitted code. Store the returned state whatever the outcome (attempts count).
pub fn check(
    key: &HmacKey,
    state: &CodeState,
    purpose: Purpose,
    binding: &str,
    submitted: &str,
    now_ms: i64,
) -> CheckResult {
    let unchanged = |outcome| CheckResult {
        state: state.clone(),
        outcome,
    };
    if state.purpose != purpose {
        return unchanged(CodeOutcome::WrongPurpose);
    }
    if state.consumed {
        return unchanged(CodeOutcome::AlreadyUsed);
    }
    if now_ms >= state.expires_ms {
        return unchanged(CodeOutcome::Expired);
    }
    if state.attempts >= CODE_MAX_ATTEMPTS {
        return unchanged(CodeOutcome::TooManyAttempts);
    }
    let submitted = submitted.trim();
    if submitted.len() != CODE_DIGITS || !submitted.bytes().all(|b| b.is_ascii_digit()) {
        return unchanged(CodeOutcome::Malformed);
    }
    let mut next = state.clone();
    next.attempts = next.attempts.saturating_add(1);
    let expected = code_mac(key, purpose, binding, submitted);
    if ct_eq(&expected, &state.code_mac) {
        next.consumed = true;
        CheckResult {
            state: next,
            outcome: CodeOutcome::Accepted,
        }
    } else {
        let attempts_left = CODE_MAX_ATTEMPTS.saturating_sub(next.attempts);
        CheckResult {
            state: next,
            outcome: CodeOutcome::Wrong { attempts_left },
        }
    }
}

/// A stored long-lived link token: only its SHA-256 is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub purpose: Purpose,
    /// SHA-256 of the token string (32 bytes); also the lookup key.
    pub token_hash: Vec<u8>,
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub used: bool,
}

/// A freshly issued link token: put `token` in the link, store `record`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub record: TokenRecord,
}

/// The storage and lookup form of a presented token.
pub fn token_hash(token: &str) -> Vec<u8> {
    sha256(token.as_bytes())
}

/// Issue a 256-bit URL-safe token valid for the purpose's link lifetime.
pub fn issue_token(purpose: Purpose, now_ms: i64) -> Result<IssuedToken, CodeError> {
    let bytes: [u8; TOKEN_BYTES] = random_bytes()?;
    let token = base64url(&bytes);
    let record = TokenRecord {
        purpose,
        token_hash: token_hash(&token),
        issued_ms: now_ms,
        expires_ms: now_ms.saturating_add(purpose.link_ttl_ms()),
        used: false,
    };
    Ok(IssuedToken { token, record })
}

/// Redeem a presented token against the record found by its hash; returns the record to store
/// (now used).
pub fn redeem_token(
    record: &TokenRecord,
    presented: &str,
    purpose: Purpose,
    now_ms: i64,
) -> Result<TokenRecord, CodeError> {
    if !ct_eq(&token_hash(presented), &record.token_hash) {
        return Err(CodeError::TokenMismatch);
    }
    if record.purpose != purpose {
        return Err(CodeError::TokenWrongPurpose);
    }
    if record.used {
        return Err(CodeError::TokenUsed);
    }
    if now_ms >= record.expires_ms {
        return Err(CodeError::TokenExpired);
    }
    Ok(TokenRecord {
        used: true,
        ..record.clone()
    })
}

/// One stored recovery code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryEntry {
    /// argon2id PHC string of the normalised code.
    pub phc: String,
    pub used_ms: Option<i64>,
}

/// The stored set of recovery codes. Regenerating replaces the whole set, voiding every old code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverySet {
    pub entries: Vec<RecoveryEntry>,
}

/// Freshly generated codes: show `codes` once, store `set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
    pub set: RecoverySet,
}

/// Generate a new set. This runs 10 argon2 hashes: call it through `HashPool::run`.
/// Production passes [`HashParams::RECOVERY_CODE`].
pub fn generate_recovery_codes(params: &HashParams) -> Result<RecoveryCodes, CodeError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    let mut entries = Vec::with_capacity(RECOVERY_CODE_COUNT);
    for _ in 0..RECOVERY_CODE_COUNT {
        let bytes: [u8; RECOVERY_CODE_BYTES] = random_bytes()?;
        let code = base32(&bytes);
        entries.push(RecoveryEntry {
            phc: hash_password(&code, params)?,
            used_ms: None,
        });
        codes.push(format_recovery_code(&code));
    }
    Ok(RecoveryCodes {
        codes,
        set: RecoverySet { entries },
    })
}

/// Display form: four groups of four ("ABCD-EFGH-IJKL-MNOP").
pub fn format_recovery_code(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Canonical form of typed input: upper case, spaces and dashes dropped, and the digits 0/1/8
/// (absent from base32) read as the letters O/I/B people confuse them with.
pub fn normalize_recovery_code(input: &str) -> Result<String, CodeError> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            '0' => 'O',
            '1' => 'I',
            '8' => 'B',
            other => other,
        })
        .collect();
    let valid = code.len() == RECOVERY_CODE_CHARS
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    if valid {
        Ok(code)
    } else {
        Err(CodeError::MalformedRecoveryCode)
    }
}

impl RecoverySet {
    /// Codes not yet used.
    pub fn remaining(&self) -> usize {
        self.entries.iter().filter(|e| e.used_ms.is_none()).count()
    }

    /// Redeem a typed code: returns the set to store (that code marked used) and its index.
    /// Every entry is hashed whatever matches, so timing does not reveal which code was right.
    /// Blocking (argon2): call it through `HashPool::run`.
    pub fn redeem(&self, input: &str, now_ms: i64) -> Result<(RecoverySet, usize), CodeError> {
        let code = normalize_recovery_code(input)?;
        let mut matched: Option<usize> = None;
        for (index, entry) in self.entries.iter().enumerate() {
            if verify_password(&code, &entry.phc)? && matched.is_none() {
                matched = Some(index);
            }
        }
        let index = matched.ok_or(CodeError::RecoveryCodeWrong)?;
        let mut next = self.clone();
        match next.entries.get_mut(index) {
            Some(entry) if entry.used_ms.is_none() => entry.used_ms = Some(now_ms),
            Some(_) => return Err(CodeError::RecoveryCodeUsed),
            None => return Err(CodeError::RecoveryCodeWrong),
        }
        Ok((next, index))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const BIND: &str = "user:42";

    fn key() -> HmacKey {
        HmacKey::from_bytes([9u8; 32])
    }

    fn wrong_code(right: &str) -> String {
        if right == "000000" {
            "000001".into()
        } else {
            "000000".into()
        }
    }

    #[test]
    fn purposes_have_stable_unique_names() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()).unwrap(), p);
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        let mut names: Vec<_> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Purpose::ALL.len());
        assert!(matches!(
            Purpose::parse("nope"),
            Err(CodeError::UnknownPurpose { .. })
        ));
    }

    #[test]
    fn issued_code_is_six_digits_and_not_stored() {
        let issued = issue(&key(), Purpose::VerifyEmail, BIND, None, T0).unwrap();
        assert_eq!(issued.code.len(), 6);
        assert!(issued.code.bytes().all(|b| b.is_ascii_digit()));
        assert!(
            !issued
                .state
                .code_mac
                .windows(6)
                .any(|w| w == issued.code.as_bytes())
        );
        assert_eq!(issued.state.code_mac.len(), 32);
        assert_eq!(issued.state.expires_ms, T0 + 600_000);
    }

    #[test]
    fn right_code_accepted_once() {
        let issued = issue(&key(), Purpose::Login2fa, BIND, None, T0).unwrap();
        let r = check(
            &key(),
            &issued.state,
            Purpose::Login2fa,
            BIND,
            &issued.code,
            T0 + 1,
        );
        assert_eq!(r.outcome, CodeOutcome::Accepted);
        assert!(r.state.consumed);
        let again = check(
            &key(),
            &r.state,
            Purpose::Login2fa,
            BIND,
            &issued.code,
            T0 + 2,
        );
        assert_eq!(again.outcome, CodeOutcome::AlreadyUsed);
    }

    #[test]
    fn expiry_boundary() {
        let issued = issue(&key(), Purpose::VerifyPhone, BIND, None, T0).unwrap();
        let just_before = check(
            &key(),
            &issued.state,
            Purpose::VerifyPhone,
            BIND,
            &issued.code,
            T0 + CODE_TTL_MS - 1,
        );
        assert_eq!(just_before.outcome, CodeOutcome::Accepted);
        let at = check(
            &key(),
            &issued.state,
            Purpose::VerifyPhone,
            BIND,
            &issued.code,
            T0 + CODE_TTL_MS,
        );
        assert_eq!(at.outcome, CodeOutcome::Expired);
        let later = check(
            &key(),
            &issued.state,
            Purpose::VerifyPhone,
            BIND,
            &issued.code,
            T0 + CODE_TTL_MS + 1_000,
        );
        assert_eq!(later.outcome, CodeOutcome::Expired);
    }

    #[test]
    fn five_attempts_then_dead_even_for_the_right_code() {
        let issued = issue(&key(), Purpose::NewDevice, BIND, None, T0).unwrap();
        let wrong = wrong_code(&issued.code);
        let mut state = issued.state.clone();
        for left in (0..5).rev() {
            let r = check(&key(), &state, Purpose::NewDevice, BIND, &wrong, T0 + 10);
            assert_eq!(
                r.outcome,
                CodeOutcome::Wrong {
                    attempts_left: left
                }
            );
            state = r.state;
        }
        let r = check(
            &key(),
            &state,
            Purpose::NewDevice,
            BIND,
            &issued.code,
            T0 + 20,
        );
        assert_eq!(r.outcome, CodeOutcome::TooManyAttempts);
    }

    #[test]
    fn malformed_input_is_not_an_attempt() {
        let issued = issue(&key(), Purpose::VerifyEmail, BIND, None, T0).unwrap();
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            let r = check(&key(), &issued.state, Purpose::VerifyEmail, BIND, bad, T0);
            assert_eq!(r.outcome, CodeOutcome::Malformed);
            assert_eq!(r.state.attempts, 0);
        }
    }

    #[test]
    fn code_is_bound_to_purpose_and_binding() {
        let issued = issue(&key(), Purpose::Login2fa, BIND, None, T0).unwrap();
        let r = check(
            &key(),
            &issued.state,
            Purpose::Withdraw,
            BIND,
            &issued.code,
            T0,
        );
        assert_eq!(r.outcome, CodeOutcome::WrongPurpose);
        let r = check(
            &key(),
            &issued.state,
            Purpose::Login2fa,
            "user:43",
            &issued.code,
            T0,
        );
        assert!(matches!(r.outcome, CodeOutcome::Wrong { .. }));
        let other_key = HmacKey::from_bytes([1u8; 32]);
        let r = check(
            &other_key,
            &issued.state,
            Purpose::Login2fa,
            BIND,
            &issued.code,
            T0,
        );
        assert!(matches!(r.outcome, CodeOutcome::Wrong { .. }));
    }

    #[test]
    fn resend_once_a_minute_and_new_code_voids_old() {
        let first = issue(&key(), Purpose::VerifyEmail, BIND, None, T0).unwrap();
        let too_soon = issue(
            &key(),
            Purpose::VerifyEmail,
            BIND,
            Some(&first.state),
            T0 + 59_999,
        );
        assert_eq!(
            too_soon,
            Err(CodeError::ResendTooSoon {
                retry_at_ms: T0 + 60_000
            })
        );
        let second = issue(
            &key(),
            Purpose::VerifyEmail,
            BIND,
            Some(&first.state),
            T0 + 60_000,
        )
        .unwrap();
        // The caller stores only the newest state, so the old code no longer matches.
        if first.code != second.code {
            let r = check(
                &key(),
                &second.state,
                Purpose::VerifyEmail,
                BIND,
                &first.code,
                T0 + 61_000,
            );
            assert!(matches!(r.outcome, CodeOutcome::Wrong { .. }));
        }
        let r = check(
            &key(),
            &second.state,
            Purpose::VerifyEmail,
            BIND,
            &second.code,
            T0 + 61_000,
        );
        assert_eq!(r.outcome, CodeOutcome::Accepted);
        // A different purpose is never throttled by this one.
        assert!(
            issue(
                &key(),
                Purpose::Login2fa,
                BIND,
                Some(&second.state),
                T0 + 61_001
            )
            .is_ok()
        );
    }

    #[test]
    fn outcome_messages_exist() {
        assert!(CodeOutcome::Expired.message().contains("expired"));
        assert!(
            CodeError::ResendTooSoon { retry_at_ms: 5 }
                .to_string()
                .contains("minute")
        );
    }

    #[test]
    fn tokens_are_256_bit_url_safe_and_hashed() {
        let t = issue_token(Purpose::PasswordReset, T0).unwrap();
        assert_eq!(t.token.len(), 43);
        assert!(
            t.token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(t.record.token_hash, token_hash(&t.token));
        assert_eq!(t.record.token_hash.len(), 32);
        assert_eq!(t.record.expires_ms, T0 + 30 * 60_000);
    }

    #[test]
    fn token_redeems_once_within_lifetime_for_its_purpose() {
        let t = issue_token(Purpose::PasswordReset, T0).unwrap();
        let used = redeem_token(&t.record, &t.token, Purpose::PasswordReset, T0 + 1).unwrap();
        assert!(used.used);
        assert_eq!(
            redeem_token(&used, &t.token, Purpose::PasswordReset, T0 + 2),
            Err(CodeError::TokenUsed)
        );
        assert_eq!(
            redeem_token(
                &t.record,
                &t.token,
                Purpose::PasswordReset,
                T0 + PASSWORD_RESET_TTL_MS
            ),
            Err(CodeError::TokenExpired)
        );
        assert_eq!(
            redeem_token(&t.record, &t.token, Purpose::FreezeAccount, T0),
            Err(CodeError::TokenWrongPurpose)
        );
        assert_eq!(
            redeem_token(&t.record, "forged", Purpose::PasswordReset, T0),
            Err(CodeError::TokenMismatch)
        );
    }

    #[test]
    fn link_lifetimes() {
        assert_eq!(Purpose::PasswordReset.link_ttl_ms(), 30 * 60_000);
        assert_eq!(Purpose::Login2fa.link_ttl_ms(), CODE_TTL_MS);
        assert!(Purpose::FreezeAccount.link_ttl_ms() >= DAY_MS);
        assert!(Purpose::CancelSecondFactorReset.link_ttl_ms() > 48 * HOUR_MS);
    }

    #[test]
    fn recovery_codes_shape_and_single_use() {
        let fast = HashParams::fast_insecure_for_tests();
        let rc = generate_recovery_codes(&fast).unwrap();
        assert_eq!(rc.codes.len(), 10);
        assert_eq!(rc.set.entries.len(), 10);
        for code in &rc.codes {
            assert_eq!(code.len(), 19);
            let plain = normalize_recovery_code(code).unwrap();
            assert_eq!(plain.len(), 16);
            assert!(rc.set.entries.iter().all(|e| !e.phc.contains(&plain)));
        }
        assert_eq!(rc.set.remaining(), 10);
        let (after, index) = rc.set.redeem(&rc.codes[3].to_lowercase(), T0).unwrap();
        assert_eq!(index, 3);
        assert_eq!(after.remaining(), 9);
        assert_eq!(
            after.redeem(&rc.codes[3], T0 + 1),
            Err(CodeError::RecoveryCodeUsed)
        );
        let (after2, index2) = after
            .redeem(&rc.codes[0].replace('-', " "), T0 + 2)
            .unwrap();
        assert_eq!(index2, 0);
        assert_eq!(after2.remaining(), 8);
    }

    #[test]
    fn regenerating_voids_every_old_code() {
        let fast = HashParams::fast_insecure_for_tests();
        let old = generate_recovery_codes(&fast).unwrap();
        let new = generate_recovery_codes(&fast).unwrap();
        for code in &old.codes {
            assert_eq!(new.set.redeem(code, T0), Err(CodeError::RecoveryCodeWrong));
        }
    }

    #[test]
    fn recovery_code_normalisation() {
        assert_eq!(
            normalize_recovery_code("abcd-efgh ijkl-mnop").unwrap(),
            "ABCDEFGHIJKLMNOP"
        );
        assert_eq!(
            normalize_recovery_code("0000111188882222").unwrap(),
            "OOOOIIIIBBBB2222"
        );
        assert_eq!(
            normalize_recovery_code("ABCD"),
            Err(CodeError::MalformedRecoveryCode)
        );
        assert_eq!(
            normalize_recovery_code("ABCDEFGHIJKLMNO9"),
            Err(CodeError::MalformedRecoveryCode)
        );
        assert_eq!(
            format_recovery_code("ABCDEFGHIJKLMNOP"),
            "ABCD-EFGH-IJKL-MNOP"
        );
    }
}
