//! QR login approved from a device that is already logged in (G7).
//!
//! The sign-in page creates a pending login and shows a QR code carrying a single-use 128-bit
//! nonce (valid 120 s), plus a short code for typing. A logged-in device looks the login up by
//! the nonce or short code, shows the requester's IP, country and user agent, and approves or
//! denies. The waiting page polls with a poll secret only it holds and, once approved, redeems
//! exactly once for a new session. Only hashes of the nonce, short code and poll secret are
//! stored; secrets are compared in constant time.
//!
//! States: `Pending` → `Approved` | `Denied` | (expired) ; `Approved` → `Redeemed` (once).

use std::net::IpAddr;

use bulwark_types::UserId;
use serde::{Deserialize, Serialize};

use crate::clock::SECOND_MS;
use crate::random::{RngError, base64url, ct_eq, random_bytes, random_string, sha256, sha256_hex};

/// How long a QR code can be approved (issue 3: 120 s; NIST binding codes ≤ 10 min).
pub const QR_LOGIN_TTL_MS: i64 = 120 * SECOND_MS;
/// Extra time after the deadline to redeem an approval given at the last moment.
pub const QR_REDEEM_GRACE_MS: i64 = 30 * SECOND_MS;
/// Nonce size: 128 bits.
pub const QR_NONCE_BYTES: usize = 16;
/// Poll secret size: 256 bits.
pub const QR_POLL_SECRET_BYTES: usize = 32;
/// Characters in the typed short code (8 × log2(31) ≈ 40 bits, enough for 120 s behind login
/// and approval rate limits).
pub const QR_SHORT_CODE_CHARS: usize = 8;
/// Short-code alphabet without the look-alikes 0/O, 1/I/L.
pub const QR_SHORT_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Why a QR-login step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrLoginError {
    #[error("this sign-in code has expired; refresh the sign-in page for a new one")]
    Expired,
    #[error("this sign-in request was already approved or denied")]
    AlreadyDecided,
    #[error("this sign-in request was denied")]
    Denied,
    #[error("this sign-in request has not been approved yet")]
    NotApproved,
    #[error("this sign-in was already completed")]
    AlreadyRedeemed,
    #[error("the sign-in secret does not match")]
    WrongSecret,
    #[error("a sign-in code is {QR_SHORT_CODE_CHARS} letters and digits")]
    MalformedShortCode,
    #[error(transparent)]
    Rng(#[from] RngError),
}

/// Who asked to sign in, shown to the approving user so they notice an attacker's browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    pub ip: IpAddr,
    /// ISO 3166-1 alpha-2, or `None` when unknown.
    pub country: Option<String>,
    pub user_agent: String,
}

/// Where a QR login stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum QrStatus {
    Pending,
    Approved { user_id: UserId, approved_ms: i64 },
    Denied { denied_ms: i64 },
    Redeemed { user_id: UserId, redeemed_ms: i64 },
}

/// The stored record of one QR login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrLogin {
    /// SHA-256 of the QR nonce (lookup key for the approving device).
    pub nonce_hash: Vec<u8>,
    /// SHA-256 hex of the normalised short code (lookup key for typed codes).
    pub short_code_hash: String,
    /// SHA-256 of the poll secret.
    pub poll_secret_hash: Vec<u8>,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub requester: Requester,
    pub status: QrStatus,
}

/// A new QR login: store `login`; put `nonce` in the QR, show `short_code`, and give
/// `poll_secret` to the waiting page only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrLoginCreated {
    pub login: QrLogin,
    pub nonce: String,
    pub short_code: String,
    pub poll_secret: String,
}

/// What the waiting page sees when it polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStatus {
    Pending,
    Approved,
    Denied,
    Expired,
    Redeemed,
}

/// Lookup form of a scanned nonce.
pub fn nonce_hash(nonce: &str) -> Vec<u8> {
    sha256(nonce.trim().as_bytes())
}

/// Canonical short code: upper case, spaces and dashes dropped.
pub fn normalize_short_code(input: &str) -> Result<String, QrLoginError> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid = code.len() == QR_SHORT_CODE_CHARS
        && code.bytes().all(|b| QR_SHORT_CODE_ALPHABET.contains(&b));
    if valid {
        Ok(code)
    } else {
        Err(QrLoginError::MalformedShortCode)
    }
}

/// Lookup form of a typed short code.
pub fn short_code_hash(input: &str) -> Result<String, QrLoginError> {
    Ok(sha256_hex(normalize_short_code(input)?.as_bytes()))
}

/// The URL the QR code encodes: the approval page of this server with the nonce.
pub fn approve_url(base_url: &str, nonce: &str) -> String {
    format!(
        "{}/login/qr/approve?n={nonce}",
        base_url.trim_end_matches('/')
    )
}

/// Start a QR login for the requesting browser.
pub fn create(requester: Requester, now_ms: i64) -> Result<QrLoginCreated, QrLoginError> {
    let nonce = base64url(&random_bytes::<QR_NONCE_BYTES>()?);
    let poll_secret = base64url(&random_bytes::<QR_POLL_SECRET_BYTES>()?);
    let short_code = random_string(QR_SHORT_CODE_ALPHABET, QR_SHORT_CODE_CHARS)?;
    let login = QrLogin {
        nonce_hash: nonce_hash(&nonce),
        short_code_hash: sha256_hex(short_code.as_bytes()),
        poll_secret_hash: sha256(poll_secret.as_bytes()),
        created_ms: now_ms,
        expires_ms: now_ms.saturating_add(QR_LOGIN_TTL_MS),
        requester,
        status: QrStatus::Pending,
    };
    Ok(QrLoginCreated {
        login,
        nonce,
        short_code,
        poll_secret,
    })
}

fn decide(login: &QrLogin, status: QrStatus, now_ms: i64) -> Result<QrLogin, QrLoginError> {
    if login.status != QrStatus::Pending {
        return Err(QrLoginError::AlreadyDecided);
    }
    if now_ms >= login.expires_ms {
        return Err(QrLoginError::Expired);
    }
    Ok(QrLogin {
        status,
        ..login.clone()
    })
}

/// A logged-in user approves; the waiting browser will become logged in as `user_id`.
pub fn approve(login: &QrLogin, user_id: UserId, now_ms: i64) -> Result<QrLogin, QrLoginError> {
    decide(
        login,
        QrStatus::Approved {
            user_id,
            approved_ms: now_ms,
        },
        now_ms,
    )
}

/// A logged-in user refuses the request.
pub fn deny(login: &QrLogin, now_ms: i64) -> Result<QrLogin, QrLoginError> {
    decide(login, QrStatus::Denied { denied_ms: now_ms }, now_ms)
}

fn check_secret(login: &QrLogin, poll_secret: &str) -> Result<(), QrLoginError> {
    if ct_eq(&sha256(poll_secret.as_bytes()), &login.poll_secret_hash) {
        Ok(())
    } else {
        Err(QrLoginError::WrongSecret)
    }
}

fn redeem_deadline_ms(login: &QrLogin) -> i64 {
    login.expires_ms.saturating_add(QR_REDEEM_GRACE_MS)
}

/// The waiting page asks where its login stands.
pub fn poll(login: &QrLogin, poll_secret: &str, now_ms: i64) -> Result<PollStatus, QrLoginError> {
    check_secret(login, poll_secret)?;
    Ok(match login.status {
        QrStatus::Pending if now_ms >= login.expires_ms => PollStatus::Expired,
        QrStatus::Pending => PollStatus::Pending,
        QrStatus::Approved { .. } if now_ms >= redeem_deadline_ms(login) => PollStatus::Expired,
        QrStatus::Approved { .. } => PollStatus::Approved,
        QrStatus::Denied { .. } => PollStatus::Denied,
        QrStatus::Redeemed { .. } => PollStatus::Redeemed,
    })
}

/// Turn an approval into a login, once. Returns the record to store and the user to log in.
pub fn redeem(
    login: &QrLogin,
    poll_secret: &str,
    now_ms: i64,
) -> Result<(QrLogin, UserId), QrLoginError> {
    check_secret(login, poll_secret)?;
    match login.status {
        QrStatus::Approved { user_id, .. } => {
            if now_ms >= redeem_deadline_ms(login) {
                return Err(QrLoginError::Expired);
            }
            let status = QrStatus::Redeemed {
                user_id,
                redeemed_ms: now_ms,
            };
            Ok((
                QrLogin {
                    status,
                    ..login.clone()
                },
                user_id,
            ))
        }
        QrStatus::Pending if now_ms >= login.expires_ms => Err(QrLoginError::Expired),
        QrStatus::Pending => Err(QrLoginError::NotApproved),
        QrStatus::Denied { .. } => Err(QrLoginError::Denied),
        QrStatus::Redeemed { .. } => Err(QrLoginError::AlreadyRedeemed),
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
    const ALICE: UserId = UserId(7);

    fn requester() -> Requester {
        Requester {
            ip: "192.0.2.10".parse().unwrap(),
            country: Some("DE".into()),
            user_agent: "Firefox".into(),
        }
    }

    #[test]
    fn created_secrets_are_hashed_and_sized() {
        let c = create(requester(), T0).unwrap();
        assert_eq!(c.nonce.len(), 22); // 128 bits in base64url
        assert_eq!(c.poll_secret.len(), 43);
        assert_eq!(c.short_code.len(), 8);
        assert_eq!(c.login.nonce_hash, nonce_hash(&c.nonce));
        assert_eq!(
            c.login.short_code_hash,
            short_code_hash(&c.short_code.to_lowercase()).unwrap()
        );
        assert_eq!(c.login.poll_secret_hash.len(), 32);
        assert_eq!(c.login.expires_ms, T0 + 120_000);
        assert_eq!(c.login.status, QrStatus::Pending);
    }

    #[test]
    fn approve_then_redeem_once() {
        let c = create(requester(), T0).unwrap();
        assert_eq!(
            poll(&c.login, &c.poll_secret, T0 + 1),
            Ok(PollStatus::Pending)
        );
        assert_eq!(
            redeem(&c.login, &c.poll_secret, T0 + 1),
            Err(QrLoginError::NotApproved)
        );
        let approved = approve(&c.login, ALICE, T0 + 10_000).unwrap();
        assert_eq!(
            poll(&approved, &c.poll_secret, T0 + 11_000),
            Ok(PollStatus::Approved)
        );
        let (redeemed, user) = redeem(&approved, &c.poll_secret, T0 + 12_000).unwrap();
        assert_eq!(user, ALICE);
        assert_eq!(
            redeem(&redeemed, &c.poll_secret, T0 + 13_000),
            Err(QrLoginError::AlreadyRedeemed)
        );
        assert_eq!(
            poll(&redeemed, &c.poll_secret, T0 + 13_000),
            Ok(PollStatus::Redeemed)
        );
        assert_eq!(
            approve(&redeemed, UserId(8), T0 + 14_000),
            Err(QrLoginError::AlreadyDecided)
        );
    }

    #[test]
    fn nonce_works_once_even_for_another_approver() {
        let c = create(requester(), T0).unwrap();
        let approved = approve(&c.login, ALICE, T0 + 1).unwrap();
        assert_eq!(
            approve(&approved, UserId(99), T0 + 2),
            Err(QrLoginError::AlreadyDecided)
        );
        assert_eq!(deny(&approved, T0 + 2), Err(QrLoginError::AlreadyDecided));
    }

    #[test]
    fn deny_blocks_redeem() {
        let c = create(requester(), T0).unwrap();
        let denied = deny(&c.login, T0 + 1).unwrap();
        assert_eq!(
            poll(&denied, &c.poll_secret, T0 + 2),
            Ok(PollStatus::Denied)
        );
        assert_eq!(
            redeem(&denied, &c.poll_secret, T0 + 2),
            Err(QrLoginError::Denied)
        );
    }

    #[test]
    fn expiry() {
        let c = create(requester(), T0).unwrap();
        assert!(approve(&c.login, ALICE, T0 + QR_LOGIN_TTL_MS - 1).is_ok());
        assert_eq!(
            approve(&c.login, ALICE, T0 + QR_LOGIN_TTL_MS),
            Err(QrLoginError::Expired)
        );
        assert_eq!(
            poll(&c.login, &c.poll_secret, T0 + QR_LOGIN_TTL_MS),
            Ok(PollStatus::Expired)
        );
        assert_eq!(
            redeem(&c.login, &c.poll_secret, T0 + QR_LOGIN_TTL_MS),
            Err(QrLoginError::Expired)
        );
        let late = approve(&c.login, ALICE, T0 + QR_LOGIN_TTL_MS - 1).unwrap();
        assert!(
            redeem(
                &late,
                &c.poll_secret,
                T0 + QR_LOGIN_TTL_MS + QR_REDEEM_GRACE_MS - 1
            )
            .is_ok()
        );
        assert_eq!(
            redeem(
                &late,
                &c.poll_secret,
                T0 + QR_LOGIN_TTL_MS + QR_REDEEM_GRACE_MS
            ),
            Err(QrLoginError::Expired)
        );
    }

    #[test]
    fn poll_secret_is_required() {
        let c = create(requester(), T0).unwrap();
        let approved = approve(&c.login, ALICE, T0 + 1).unwrap();
        assert_eq!(
            redeem(&approved, "guess", T0 + 2),
            Err(QrLoginError::WrongSecret)
        );
        assert_eq!(
            redeem(&approved, &c.nonce, T0 + 2),
            Err(QrLoginError::WrongSecret)
        );
        assert_eq!(poll(&approved, "", T0 + 2), Err(QrLoginError::WrongSecret));
    }

    #[test]
    fn short_codes_normalise() {
        assert_eq!(normalize_short_code("abcd-efgh").unwrap(), "ABCDEFGH");
        assert_eq!(
            normalize_short_code("ABCD EFG"),
            Err(QrLoginError::MalformedShortCode)
        );
        assert_eq!(
            normalize_short_code("ABCDEFG0"),
            Err(QrLoginError::MalformedShortCode)
        );
        assert_eq!(
            approve_url("https://x.example/", "abc"),
            "https://x.example/login/qr/approve?n=abc"
        );
    }

    #[test]
    fn record_serialises() {
        let c = create(requester(), T0).unwrap();
        let approved = approve(&c.login, ALICE, T0 + 1).unwrap();
        let json = serde_json::to_string(&approved).unwrap();
        assert!(json.contains("\"state\":\"approved\""));
        let back: QrLogin = serde_json::from_str(&json).unwrap();
        assert_eq!(back, approved);
    }
}
