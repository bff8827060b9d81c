//! TOTP second factor (RFC 6238): SHA-1, 6 digits, 30 s steps, ±1 step of clock drift, and each
//! time step usable once (security requirements C1, C2).
//!
//! Replay protection needs state: the caller stores the step returned by [`verify`] as the
//! account's `last_used_step` and passes it back next time; any code whose step is not newer is
//! refused, so a code seen over a shoulder cannot be replayed within its window.

use qrcode::QrCode;
use qrcode::render::svg;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::random::{RngError, random_bytes};

/// Digits in a code (RFC 6238 default; what authenticator apps show).
pub const TOTP_DIGITS: u8 = 6;
/// Length of a time step in seconds.
pub const TOTP_STEP_S: u64 = 30;
/// Steps of drift accepted on each side of the current one.
pub const TOTP_SKEW_STEPS: u64 = 1;
/// Secret length: 160 bits, the RFC 4226 recommendation.
pub const TOTP_SECRET_BYTES: usize = 20;
/// Shortest secret accepted when loading one (RFC 4226 minimum of 128 bits).
const MIN_SECRET_BYTES: usize = 16;

/// Why a TOTP operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("the authenticator code must be exactly 6 digits")]
    MalformedCode,
    #[error("the authenticator code is wrong or has expired")]
    WrongCode,
    #[error("this authenticator code was already used; wait for the next code")]
    Replayed,
    #[error("the authenticator secret is invalid: {reason}")]
    InvalidSecret { reason: String },
    #[error("the issuer or account name cannot be put in an otpauth link: {reason}")]
    InvalidLabel { reason: String },
    #[error("the QR code could not be drawn: {reason}")]
    Qr { reason: String },
    #[error("the time is before 1970; TOTP needs a valid clock")]
    ClockBeforeEpoch,
    #[error(transparent)]
    Rng(#[from] RngError),
}

/// A TOTP shared secret. `Debug` is redacted so it never reaches logs.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// Wrap raw secret bytes (for instance after decrypting them from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpError> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(TotpError::InvalidSecret {
                reason: format!(
                    "{} bytes, at least {MIN_SECRET_BYTES} required",
                    bytes.len()
                ),
            });
        }
        Ok(Self(bytes))
    }

    /// Parse the base32 form shown to users for manual entry.
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let secret = Secret::try_from_base32(cleaned.to_uppercase()).map_err(|e| {
            TotpError::InvalidSecret {
                reason: e.to_string(),
            }
        })?;
        Self::from_bytes(secret.as_bytes().to_vec())
    }

    /// Raw bytes, to encrypt for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Unpadded base32, the form authenticator apps accept for manual entry.
    pub fn to_base32(&self) -> String {
        Secret::from(self.0.clone()).to_base32()
    }

    fn totp(&self) -> Result<Totp, TotpError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(TOTP_DIGITS)
            .with_step_duration(TOTP_STEP_S)
            .with_skew(0)
            .with_secret(self.0.clone())
            .build()
            .map_err(|e| TotpError::InvalidSecret {
                reason: e.to_string(),
            })
    }
}

/// A fresh 160-bit secret from the OS CSPRNG.
pub fn generate_secret() -> Result<TotpSecret, TotpError> {
    let bytes: [u8; TOTP_SECRET_BYTES] = random_bytes()?;
    Ok(TotpSecret(bytes.to_vec()))
}

/// The `otpauth://totp/...` link an authenticator app enrols from.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> Result<String, TotpError> {
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_step_duration(TOTP_STEP_S)
        .with_secret(secret.0.clone())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| TotpError::InvalidLabel {
            reason: e.to_string(),
        })?;
    totp.to_url().map_err(|e| TotpError::InvalidLabel {
        reason: e.to_string(),
    })
}

/// Any text as an inline `<svg>` QR code (no XML prolog, so it can sit inside HTML).
pub fn qr_svg(data: &str) -> Result<String, TotpError> {
    let code = QrCode::new(data.as_bytes()).map_err(|e| TotpError::Qr {
        reason: e.to_string(),
    })?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let start = image.find("<svg").unwrap_or(0);
    Ok(image.get(start..).unwrap_or(&image).to_string())
}

/// The time step (30 s window number) that `now_ms` falls in.
pub fn step_at(now_ms: i64) -> Result<u64, TotpError> {
    let secs = u64::try_from(now_ms.div_euclid(1_000)).map_err(|_| TotpError::ClockBeforeEpoch)?;
    Ok(secs / TOTP_STEP_S)
}

/// The code for a given step (for tests and for the enrolment self-check).
pub fn code_for_step(secret: &TotpSecret, step: u64) -> Result<String, TotpError> {
    Ok(secret
        .totp()?
        .generate(step.saturating_mul(TOTP_STEP_S))
        .to_string())
}

/// The code valid at `now_ms`.
pub fn code_at(secret: &TotpSecret, now_ms: i64) -> Result<String, TotpError> {
    code_for_step(secret, step_at(now_ms)?)
}

/// Check `code` at `now_ms` allowing one step of drift either way and refusing any step not newer
/// than `last_used_step`. Returns the matched step, which the caller must store as the new
/// `last_used_step`. Every candidate is compared in constant time.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now_ms: i64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpError> {
    let code = code.trim();
    if code.len() != usize::from(TOTP_DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::MalformedCode);
    }
    let totp = secret.totp()?;
    let current = step_at(now_ms)?;
    let first = current.saturating_sub(TOTP_SKEW_STEPS);
    let mut newest_match: Option<u64> = None;
    for step in first..=current.saturating_add(TOTP_SKEW_STEPS) {
        let expected = totp.generate(step.saturating_mul(TOTP_STEP_S)).to_string();
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            newest_match = Some(step);
        }
    }
    match (newest_match, last_used_step) {
        (None, _) => Err(TotpError::WrongCode),
        (Some(step), Some(last)) if step <= last => Err(TotpError::Replayed),
        (Some(step), _) => Ok(step),
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

    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    /// (time in seconds, 8-digit SHA-1 code) from RFC 6238 Appendix B.
    const RFC6238_SHA1: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc6238_vectors_eight_digits() {
        let totp = Builder::new()
            .with_digits(8)
            .with_secret(b"12345678901234567890".to_vec())
            .build()
            .unwrap();
        for (t, want) in RFC6238_SHA1 {
            assert_eq!(totp.generate(t as u64).to_string(), want, "t={t}");
        }
    }

    #[test]
    fn rfc6238_vectors_six_digits_verify() {
        // A 6-digit code is the low 6 digits of the same truncated value.
        for (t, eight) in RFC6238_SHA1 {
            let six = &eight[2..];
            assert_eq!(code_at(&rfc_secret(), t * 1_000).unwrap(), six);
            let step = verify(&rfc_secret(), six, t * 1_000, None).unwrap();
            assert_eq!(step, t as u64 / 30);
        }
    }

    #[test]
    fn one_step_of_drift_each_way_and_no_more() {
        let s = rfc_secret();
        let now_ms = 1_111_111_111_000;
        let step = step_at(now_ms).unwrap();
        for (offset, ok) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_for_step(&s, step.checked_add_signed(offset).unwrap()).unwrap();
            let got = verify(&s, &code, now_ms, None);
            assert_eq!(got.is_ok(), ok, "offset {offset}: {got:?}");
        }
    }

    #[test]
    fn same_code_twice_is_a_replay() {
        let s = generate_secret().unwrap();
        let now_ms = 1_700_000_000_000;
        let code = code_at(&s, now_ms).unwrap();
        let step = verify(&s, &code, now_ms, None).unwrap();
        assert_eq!(
            verify(&s, &code, now_ms + 5_000, Some(step)),
            Err(TotpError::Replayed)
        );
    }

    #[test]
    fn older_step_after_newer_one_is_a_replay() {
        let s = generate_secret().unwrap();
        let now_ms = 1_700_000_000_000;
        let step = step_at(now_ms).unwrap();
        let newer = code_for_step(&s, step).unwrap();
        let older = code_for_step(&s, step - 1).unwrap();
        let used = verify(&s, &newer, now_ms, None).unwrap();
        assert_eq!(used, step);
        let got = verify(&s, &older, now_ms, Some(used));
        // A code can collide with the newer one; otherwise it must be refused as a replay.
        if older != newer {
            assert_eq!(got, Err(TotpError::Replayed));
        }
        let next = code_for_step(&s, step + 1).unwrap();
        assert_eq!(verify(&s, &next, now_ms + 30_000, Some(used)), Ok(step + 1));
    }

    #[test]
    fn malformed_and_wrong_codes() {
        let s = rfc_secret();
        let now_ms = 59_000;
        for bad in ["", "12345", "1234567", "12a456", "+12345", "１２３４５６"] {
            assert_eq!(
                verify(&s, bad, now_ms, None),
                Err(TotpError::MalformedCode),
                "{bad:?}"
            );
        }
        let right = code_at(&s, now_ms).unwrap();
        let wrong = if right == "000000" {
            "000001"
        } else {
            "000000"
        };
        assert_eq!(verify(&s, wrong, now_ms, None), Err(TotpError::WrongCode));
        assert_eq!(
            verify(&s, "287082", -1, None),
            Err(TotpError::ClockBeforeEpoch)
        );
    }

    #[test]
    fn secret_roundtrips_through_base32() {
        let s = generate_secret().unwrap();
        assert_eq!(s.as_bytes().len(), 20);
        let b32 = s.to_base32();
        assert_eq!(b32.len(), 32);
        assert_eq!(TotpSecret::from_base32(&b32.to_lowercase()).unwrap(), s);
        assert!(TotpSecret::from_base32("MZXW6").is_err());
        assert!(TotpSecret::from_base32("not base32!").is_err());
        assert_eq!(format!("{s:?}"), "TotpSecret(<redacted>)");
    }

    #[test]
    fn otpauth_uri_has_issuer_account_and_secret() {
        let s = rfc_secret();
        let uri = otpauth_uri(&s, "Bulwark", "alice@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Bulwark:alice%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", s.to_base32())));
        assert!(uri.contains("issuer=Bulwark"));
        assert!(matches!(
            otpauth_uri(&s, "Bul:wark", "alice"),
            Err(TotpError::InvalidLabel { .. })
        ));
    }

    #[test]
    fn qr_is_inline_svg() {
        let svg = qr_svg("otpauth://totp/Bulwark:alice?secret=ABC").unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }
}
