//! BitMart API-key authentication: `X-BM-KEY`, `X-BM-TIMESTAMP`, `X-BM-SIGN`.
//!
//! The signature is HMAC-SHA256 over `timestamp#memo#payload` where the payload is the raw query
//! string for GET (or the empty string, which BitMart's own SDKs sign) and the raw body for
//! POST. It is checked against the bytes as received, in constant time, within ±60 s.

use axum::http::Method;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::envelope::ApiError;
use crate::extract::RawRequest;
use bulwark_accounts::keys::ip_allowed;

/// Allowed distance between the client's timestamp and ours.
pub const TIMESTAMP_WINDOW_MS: i64 = 60_000;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    Trade,
    Withdraw,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Trade => "trade",
            Scope::Withdraw => "withdraw",
        }
    }
}

/// Whether a signature is required or the key alone suffices (BitMart's KEYED reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    Required,
    /// Key-only is accepted; a signature, when sent, is still verified.
    KeyedRead,
}

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: i64,
    pub access_key: String,
}

/// Checks key, IP allowlist, scope, timestamp and signature, in that order.
pub async fn authenticate(
    state: &AppState,
    request: &RawRequest,
    scope: Scope,
    signing: Signing,
) -> Result<Caller, ApiError> {
    let key = header(request, "x-bm-key")
        .ok_or_else(|| ApiError::auth(30001, "Header X-BM-KEY is empty"))?;
    let known = request.looked_up_key.clone();
    let key = usable_key(state, key, known, request.peer.ip(), scope).await?;
    let Some(sign) = header(request, "x-bm-sign") else {
        if signing == Signing::KeyedRead {
            return Ok(key.accept(state).await);
        }
        return Err(ApiError::auth(30004, "Header X-BM-SIGN is empty"));
    };
    let timestamp = header(request, "x-bm-timestamp")
        .ok_or_else(|| ApiError::auth(30006, "Header X-BM-TIMESTAMP is empty"))?;
    let payloads: &[&[u8]] = match request.method {
        Method::GET | Method::DELETE => &[request.uri.query().unwrap_or("").as_bytes(), b""],
        _ => &[&request.body],
    };
    key.check_signature(state, timestamp, sign, payloads)?;
    Ok(key.accept(state).await)
}

/// A key that exists, is not idle-expired, allows the caller's address and has the scope; its
/// signature is still to be checked.
pub struct UsableKey {
    row: bulwark_trading::ApiKeyRow,
}

/// Looks `access_key` up (unless `known` is its row, read earlier in the same request) and
/// checks everything but the signature (30002, 30010, 30012).
pub async fn usable_key(
    state: &AppState,
    access_key: &str,
    known: Option<bulwark_trading::ApiKeyRow>,
    peer: std::net::IpAddr,
    scope: Scope,
) -> Result<UsableKey, ApiError> {
    let row = match known.filter(|row| row.access_key == access_key) {
        Some(row) => row,
        None => state
            .live_api_key(access_key)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::auth(30002, "Header X-BM-KEY not found"))?,
    };
    if bulwark_accounts::keys::idle_expired(&row, state.clock.now_ms()) {
        return Err(ApiError::auth(
            30002,
            "Header X-BM-KEY expired: keys without an IP allowlist stop working after 90 days unused",
        ));
    }
    if !ip_allowed(&row.ip_allowlist, peer) {
        return Err(ApiError::forbidden(
            30010,
            "IP is forbidden for this API key",
        ));
    }
    if !row.scopes.split(',').any(|s| s.trim() == scope.as_str()) {
        return Err(ApiError::forbidden(
            30012,
            format!(
                "Header X-BM-KEY is not allowed for this request: needs the '{}' scope",
                scope.as_str()
            ),
        ));
    }
    Ok(UsableKey { row })
}

impl UsableKey {
    /// Checks `timestamp` (30008, 30007: within 60 s of the wall clock the client signed by,
    /// not the server's possibly injected clock) and that `sign` signs one of `payloads`
    /// (30005), in constant time.
    pub fn check_signature(
        &self,
        state: &AppState,
        timestamp: &str,
        sign: &str,
        payloads: &[&[u8]],
    ) -> Result<(), ApiError> {
        let secret = state.api_secret(&self.row).map_err(ApiError::internal)?;
        verify_signature(
            &secret,
            &self.row.memo,
            timestamp,
            sign,
            payloads,
            crate::now_ms(),
        )
    }

    /// Records the key's use and answers the caller it identifies.
    pub async fn accept(self, state: &AppState) -> Caller {
        state.touch_api_key(&self.row, state.clock.now_ms()).await;
        Caller {
            user_id: self.row.user_id,
            access_key: self.row.access_key,
        }
    }
}

/// Checks the client's `X-BM-TIMESTAMP` and `X-BM-SIGN` header values against `now_ms` and the
/// key's secret and memo: 30008 for a timestamp that is not a number, 30007 when it is more than
/// [`TIMESTAMP_WINDOW_MS`] away, 30005 unless `sign` signs one of `payloads`. Kept apart from the
/// key lookup so it can be fuzzed with whatever a client sends.
pub fn verify_signature(
    secret: &[u8],
    memo: &str,
    timestamp: &str,
    sign: &str,
    payloads: &[&[u8]],
    now_ms: i64,
) -> Result<(), ApiError> {
    let timestamp_ms: i64 = timestamp.parse().map_err(|_| {
        ApiError::auth(
            30008,
            "Header X-BM-TIMESTAMP must be milliseconds since the epoch",
        )
    })?;
    if now_ms.saturating_sub(timestamp_ms).saturating_abs() > TIMESTAMP_WINDOW_MS {
        return Err(ApiError::auth(
            30007,
            "Header X-BM-TIMESTAMP is more than 60 seconds away from server time",
        ));
    }
    let valid = payloads
        .iter()
        .any(|payload| signature_matches(secret, timestamp, memo, payload, sign));
    if valid {
        Ok(())
    } else {
        Err(ApiError::auth(30005, "Header X-BM-SIGN is wrong"))
    }
}

fn header<'a>(request: &'a RawRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// Hex HMAC-SHA256 of `timestamp#memo#payload` under `secret`.
pub fn sign(secret: &[u8], timestamp: &str, memo: &str, payload: &[u8]) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b"#");
    mac.update(memo.as_bytes());
    mac.update(b"#");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

fn signature_matches(
    secret: &[u8],
    timestamp: &str,
    memo: &str,
    payload: &[u8],
    given: &str,
) -> bool {
    let expected = sign(secret, timestamp, memo, payload);
    let given = given.to_ascii_lowercase();
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors from the BitMart reference (secret `test-secret`, memo `test-memo`).
    #[test]
    fn signature_vectors() {
        let s = b"test-secret";
        let ts = "1700000000000";
        assert_eq!(
            sign(s, ts, "test-memo", b""),
            "e2329873165edab4f8ec04ecc3b3782cee6c25f0de8128b29322b5fb1ae398f6"
        );
        assert_eq!(
            sign(s, ts, "test-memo", br#"{"symbol":"BTC_USDT","side":"buy","type":"limit","size":"0.5","price":"30000"}"#),
            "16420ce5ca27ddfe992b4e8abc7757ff00f7e8deb0e7ea7ffdc2854eaa9bf74c"
        );
        assert_eq!(
            sign(s, ts, "test-memo", b"{}"),
            "524e4682e5e96069b830c276aaa439cfda1f74d4a31b9d12729e52aec049ca19"
        );
        assert_eq!(
            sign(s, ts, "test-memo", b"currency=USDT"),
            "1ef9b8d33deeb637761836eb314ec4275fdb2799461bbc31ebeffb9ad7a7c7f9"
        );
    }

    fn code(result: Result<(), ApiError>) -> Option<u32> {
        result.err().map(|error| error.code)
    }

    #[test]
    fn signature_headers_are_checked_in_order_and_extreme_timestamps_do_not_overflow() {
        let (secret, memo, now) = (b"test-secret".as_slice(), "test-memo", 1_700_000_000_000);
        let body = b"{}".as_slice();
        let good = sign(secret, "1700000000000", memo, body);
        let verify = |timestamp: &str, given: &str| {
            code(verify_signature(
                secret,
                memo,
                timestamp,
                given,
                &[body],
                now,
            ))
        };
        assert_eq!(verify("1700000000000", &good), None);
        assert_eq!(verify("1700000000000", &good.to_ascii_uppercase()), None);
        assert_eq!(verify("1700000000000", &good[..63]), Some(30005));
        assert_eq!(verify("soon", &good), Some(30008));
        assert_eq!(verify("1699999930000", &good), Some(30007));
        // The far ends of i64 once overflowed the distance to now (a panic in debug builds).
        for timestamp in [i64::MIN, i64::MAX] {
            let timestamp = timestamp.to_string();
            let signed = sign(secret, &timestamp, memo, body);
            assert_eq!(verify(&timestamp, &signed), Some(30007));
        }
    }
}
