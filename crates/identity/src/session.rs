//! Browser sessions: 256-bit random tokens stored as SHA-256, 12 h absolute and 30 min idle
//! lifetime, and a 10-minute re-authentication window for security changes (E1–E3).
//!
//! A new token is issued at every authentication (the caller creates a new session rather than
//! upgrading an old one), so a token planted before login is worthless after it.

use serde::{Deserialize, Serialize};

use crate::clock::{HOUR_MS, MINUTE_MS};
use crate::random::{RngError, base64url, random_bytes, sha256};

/// Random bytes in a session token (256 bits; ASVS asks for ≥ 128).
pub const SESSION_TOKEN_BYTES: usize = 32;
/// A session ends this long after it was created, however active (NIST AAL2: 12 h).
pub const SESSION_ABSOLUTE_MS: i64 = 12 * HOUR_MS;
/// A session ends after this long without a request (NIST AAL2: 30 min).
pub const SESSION_IDLE_MS: i64 = 30 * MINUTE_MS;
/// Security changes need an authentication at most this old (E3).
pub const REAUTH_WINDOW_MS: i64 = 10 * MINUTE_MS;
/// `last_seen_ms` is only worth writing back when it moved by at least this much.
pub const TOUCH_INTERVAL_MS: i64 = MINUTE_MS;

/// A new session token: `token` goes in the cookie, `hash` in the database.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    pub token: String,
    /// SHA-256 of `token` (32 bytes).
    pub hash: Vec<u8>,
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionToken")
            .field("token", &"<redacted>")
            .field("hash", &hex::encode(&self.hash))
            .finish()
    }
}

/// Generate a fresh session token.
pub fn new_session_token() -> Result<SessionToken, RngError> {
    let bytes: [u8; SESSION_TOKEN_BYTES] = random_bytes()?;
    let token = base64url(&bytes);
    let hash = session_token_hash(&token);
    Ok(SessionToken { token, hash })
}

/// The stored (and lookup) form of a cookie value.
pub fn session_token_hash(token: &str) -> Vec<u8> {
    sha256(token.as_bytes())
}

/// Why a session is (not) usable at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Valid,
    IdleExpired,
    AbsoluteExpired,
}

/// The three instants that decide a session's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTimes {
    pub created_ms: i64,
    pub last_seen_ms: i64,
    /// Last time the user proved who they are (login or re-authentication).
    pub authenticated_ms: i64,
}

impl SessionTimes {
    /// A session that starts now with a fresh authentication.
    pub fn new(now_ms: i64) -> Self {
        Self {
            created_ms: now_ms,
            last_seen_ms: now_ms,
            authenticated_ms: now_ms,
        }
    }

    /// Valid until (exclusive) the earlier of the absolute and the idle deadline.
    pub fn status(&self, now_ms: i64) -> SessionStatus {
        if now_ms >= self.created_ms.saturating_add(SESSION_ABSOLUTE_MS) {
            SessionStatus::AbsoluteExpired
        } else if now_ms >= self.last_seen_ms.saturating_add(SESSION_IDLE_MS) {
            SessionStatus::IdleExpired
        } else {
            SessionStatus::Valid
        }
    }

    pub fn is_valid(&self, now_ms: i64) -> bool {
        self.status(now_ms) == SessionStatus::Valid
    }

    /// When the session would end if no further request arrives.
    pub fn expires_at_ms(&self) -> i64 {
        self.created_ms
            .saturating_add(SESSION_ABSOLUTE_MS)
            .min(self.last_seen_ms.saturating_add(SESSION_IDLE_MS))
    }

    /// True when a security change must first ask for the password (or second factor) again.
    pub fn needs_reauth(&self, now_ms: i64) -> bool {
        now_ms >= self.authenticated_ms.saturating_add(REAUTH_WINDOW_MS)
    }

    /// Record a request. Never moves backwards.
    pub fn touched(&self, now_ms: i64) -> Self {
        Self {
            last_seen_ms: self.last_seen_ms.max(now_ms),
            ..*self
        }
    }

    /// Whether recording this request is worth a database write.
    pub fn should_touch(&self, now_ms: i64) -> bool {
        now_ms >= self.last_seen_ms.saturating_add(TOUCH_INTERVAL_MS)
    }

    /// Record a successful re-authentication (also a request).
    pub fn reauthenticated(&self, now_ms: i64) -> Self {
        Self {
            authenticated_ms: self.authenticated_ms.max(now_ms),
            last_seen_ms: self.last_seen_ms.max(now_ms),
            ..*self
        }
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
    use proptest::prelude::*;

    const T0: i64 = 1_700_000_000_000;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_session_token().unwrap();
        let b = new_session_token().unwrap();
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 43);
        assert_eq!(a.hash, session_token_hash(&a.token));
        assert_eq!(a.hash.len(), 32);
        assert!(!format!("{a:?}").contains(&a.token));
    }

    #[test]
    fn idle_boundary() {
        let s = SessionTimes::new(T0);
        assert!(s.is_valid(T0 + SESSION_IDLE_MS - 1));
        assert_eq!(s.status(T0 + SESSION_IDLE_MS), SessionStatus::IdleExpired);
        assert_eq!(
            s.status(T0 + SESSION_IDLE_MS + 1_000),
            SessionStatus::IdleExpired
        );
    }

    #[test]
    fn absolute_boundary_even_when_active() {
        let mut s = SessionTimes::new(T0);
        let mut now = T0;
        while now < T0 + SESSION_ABSOLUTE_MS - MINUTE_MS {
            now += 10 * MINUTE_MS;
            s = s.touched(now.min(T0 + SESSION_ABSOLUTE_MS - 1));
        }
        assert!(s.is_valid(T0 + SESSION_ABSOLUTE_MS - 1));
        assert_eq!(
            s.status(T0 + SESSION_ABSOLUTE_MS),
            SessionStatus::AbsoluteExpired
        );
        assert_eq!(s.expires_at_ms(), T0 + SESSION_ABSOLUTE_MS);
    }

    #[test]
    fn reauth_window() {
        let s = SessionTimes::new(T0);
        assert!(!s.needs_reauth(T0 + REAUTH_WINDOW_MS - 1));
        assert!(s.needs_reauth(T0 + REAUTH_WINDOW_MS));
        assert!(s.needs_reauth(T0 + 11 * MINUTE_MS));
        let r = s
            .touched(T0 + 11 * MINUTE_MS)
            .reauthenticated(T0 + 11 * MINUTE_MS);
        assert!(!r.needs_reauth(T0 + 12 * MINUTE_MS));
        // Re-authentication never extends the absolute lifetime.
        assert_eq!(r.created_ms, T0);
    }

    #[test]
    fn touch_throttle() {
        let s = SessionTimes::new(T0);
        assert!(!s.should_touch(T0 + 59_999));
        assert!(s.should_touch(T0 + 60_000));
        assert_eq!(s.touched(T0 - 5).last_seen_ms, T0);
    }

    proptest! {
        #[test]
        fn validity_matches_both_deadlines(
            created in 0i64..1_000_000_000_000,
            seen_after in 0i64..(13 * HOUR_MS),
            now_after_seen in 0i64..(13 * HOUR_MS),
        ) {
            let s = SessionTimes { created_ms: created, last_seen_ms: created + seen_after, authenticated_ms: created };
            let now = s.last_seen_ms + now_after_seen;
            let expected = now - created < SESSION_ABSOLUTE_MS && now - s.last_seen_ms < SESSION_IDLE_MS;
            prop_assert_eq!(s.is_valid(now), expected);
            prop_assert_eq!(s.is_valid(now), now < s.expires_at_ms());
        }

        #[test]
        fn once_expired_stays_expired_without_touch(
            created in 0i64..1_000_000_000_000,
            t1 in 0i64..(24 * HOUR_MS),
            dt in 0i64..(24 * HOUR_MS),
        ) {
            let s = SessionTimes::new(created);
            if !s.is_valid(created + t1) {
                prop_assert!(!s.is_valid(created + t1 + dt));
            }
            if s.needs_reauth(created + t1) {
                prop_assert!(s.needs_reauth(created + t1 + dt));
            }
        }

        #[test]
        fn touching_within_idle_keeps_alive_until_absolute(steps in proptest::collection::vec(1i64..SESSION_IDLE_MS, 1..40)) {
            let mut s = SessionTimes::new(T0);
            let mut now = T0;
            for step in steps {
                now += step;
                let alive = now < T0 + SESSION_ABSOLUTE_MS;
                prop_assert_eq!(s.is_valid(now), alive);
                s = s.touched(now);
            }
        }
    }
}
