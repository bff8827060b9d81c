//! Withdrawal lock after security changes (G1): 24 h after a password change or reset, a
//! second-factor change, an anti-phishing code change or a withdraw-scoped API key; 72 h after an
//! email or phone change or a second-factor reset. A newer change extends the lock to the latest
//! end and never shortens it; there is no override. The result is exposed as "withdrawals allowed
//! after T" for the withdrawal work.

use serde::{Deserialize, Serialize};

use crate::clock::HOUR_MS;

/// The short lock.
pub const SHORT_LOCK_MS: i64 = 24 * HOUR_MS;
/// The long lock, for changes that hand over the account's recovery channels.
pub const LONG_LOCK_MS: i64 = 72 * HOUR_MS;

/// A security change that locks withdrawals for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityChange {
    PasswordChanged,
    PasswordReset,
    SecondFactorChanged,
    AntiPhishingChanged,
    WithdrawApiKeyCreated,
    EmailChanged,
    PhoneChanged,
    SecondFactorReset,
    /// Withdrawals may go to any address again (the address whitelist was turned off).
    WhitelistDisabled,
}

impl SecurityChange {
    /// Every change, for exhaustive tests.
    pub const ALL: [Self; 9] = [
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::SecondFactorChanged,
        Self::AntiPhishingChanged,
        Self::WithdrawApiKeyCreated,
        Self::EmailChanged,
        Self::PhoneChanged,
        Self::SecondFactorReset,
        Self::WhitelistDisabled,
    ];

    /// How long this change blocks withdrawals.
    pub const fn lock_ms(self) -> i64 {
        match self {
            Self::PasswordChanged
            | Self::PasswordReset
            | Self::SecondFactorChanged
            | Self::AntiPhishingChanged
            | Self::WithdrawApiKeyCreated
            | Self::WhitelistDisabled => SHORT_LOCK_MS,
            Self::EmailChanged | Self::PhoneChanged | Self::SecondFactorReset => LONG_LOCK_MS,
        }
    }
}

/// Withdrawals refused because of a recent security change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WithdrawLockError {
    #[error(
        "withdrawals are locked after a recent security change; they are allowed again at \
         {allowed_at_ms} (in {remaining_ms} ms)"
    )]
    Locked {
        allowed_at_ms: i64,
        remaining_ms: i64,
    },
}

/// The new "withdrawals allowed after" instant once `change` happens at `at_ms`:
/// `max(current, at_ms + lock(change))`.
pub fn extend(current_allowed_at_ms: Option<i64>, change: SecurityChange, at_ms: i64) -> i64 {
    let end = at_ms.saturating_add(change.lock_ms());
    current_allowed_at_ms.map_or(end, |current| current.max(end))
}

/// Ok when withdrawals may proceed at `now_ms`.
pub fn check(allowed_at_ms: Option<i64>, now_ms: i64) -> Result<(), WithdrawLockError> {
    match allowed_at_ms {
        Some(allowed_at_ms) if now_ms < allowed_at_ms => Err(WithdrawLockError::Locked {
            allowed_at_ms,
            remaining_ms: allowed_at_ms.saturating_sub(now_ms),
        }),
        _ => Ok(()),
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
    fn lock_table() {
        use SecurityChange::*;
        for (change, hours) in [
            (PasswordChanged, 24),
            (PasswordReset, 24),
            (SecondFactorChanged, 24),
            (AntiPhishingChanged, 24),
            (WithdrawApiKeyCreated, 24),
            (EmailChanged, 72),
            (PhoneChanged, 72),
            (SecondFactorReset, 72),
        ] {
            assert_eq!(change.lock_ms(), hours * HOUR_MS, "{change:?}");
        }
    }

    #[test]
    fn boundary() {
        let until = extend(None, SecurityChange::PasswordChanged, T0);
        assert_eq!(until, T0 + 24 * HOUR_MS);
        assert_eq!(
            check(Some(until), until - 1),
            Err(WithdrawLockError::Locked {
                allowed_at_ms: until,
                remaining_ms: 1
            })
        );
        assert_eq!(check(Some(until), until), Ok(()));
        assert_eq!(check(None, T0), Ok(()));
    }

    #[test]
    fn newer_short_change_never_shortens_a_long_lock() {
        let long = extend(None, SecurityChange::EmailChanged, T0);
        let after = extend(Some(long), SecurityChange::PasswordChanged, T0 + HOUR_MS);
        assert_eq!(after, long);
        let later = extend(
            Some(long),
            SecurityChange::PasswordChanged,
            T0 + 60 * HOUR_MS,
        );
        assert_eq!(later, T0 + 84 * HOUR_MS);
    }

    fn change() -> impl Strategy<Value = SecurityChange> {
        proptest::sample::select(SecurityChange::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn extend_is_max_of_all_ends(events in proptest::collection::vec((0i64..(10 * 24 * HOUR_MS), change()), 1..30)) {
            let mut allowed: Option<i64> = None;
            for &(offset, c) in &events {
                let next = extend(allowed, c, T0 + offset);
                if let Some(prev) = allowed {
                    prop_assert!(next >= prev, "a change shortened the lock");
                }
                allowed = Some(next);
            }
            let expected = events.iter().map(|&(offset, c)| T0 + offset + c.lock_ms()).max();
            prop_assert_eq!(allowed, expected);
        }
    }
}
