//! Per-account throttling and lockout as a pure state machine with injected time (B1–B6).
//!
//! Password failures: a progressive delay before the next attempt (1 s, 3 s, 5 s, 10 s as the
//! consecutive failures grow, after kanidm), a 15-minute lock at every 10th consecutive failure
//! doubling each time up to 24 h, and at 100 consecutive failures a lock that only a password
//! reset with the second factor lifts. Second-factor failures have their own, tighter counter
//! with the same soft delays: every 3rd consecutive failure locks, first until the current 30 s
//! TOTP step ends, then 5 min doubling up to 24 h. Only success (or a completed reset) clears a
//! counter. The state mirrors the store's `lockout_state` row.
//!
//! Attempts made while blocked are refused without being verified or counted (B5), so an
//! attacker cannot push the owner deeper into a lock by hammering during one, and a correct
//! password during a lock gets the same answer as a wrong one.

use serde::{Deserialize, Serialize};

use crate::clock::{HOUR_MS, MINUTE_MS, SECOND_MS};

/// Consecutive password failures between temporary locks.
pub const LOCK_EVERY_FAILURES: u32 = 10;
/// The first temporary lock.
pub const FIRST_LOCK_MS: i64 = 15 * MINUTE_MS;
/// The longest temporary lock.
pub const MAX_LOCK_MS: i64 = 24 * HOUR_MS;
/// Consecutive password failures after which only a reset with 2FA unlocks (NIST ≤ 100).
pub const RESET_REQUIRED_FAILURES: u32 = 100;
/// Consecutive second-factor failures between second-factor locks.
pub const SECOND_FACTOR_LOCK_EVERY: u32 = 3;
/// The second second-factor lock (the first only lasts to the end of the TOTP step).
pub const SECOND_FACTOR_ESCALATED_LOCK_MS: i64 = 5 * MINUTE_MS;
/// The TOTP step the first second-factor lock is aligned to.
pub const SECOND_FACTOR_STEP_MS: i64 = 30 * SECOND_MS;
/// Failures on an account or from an IP after which a proof-of-work challenge is required.
pub const POW_AFTER_FAILURES: u32 = 3;

/// Counters for one key (store one for an account's password, one for its second factor). The
/// fields mirror the store's `lockout_state` row; `None` there is stored as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockoutState {
    /// Consecutive failures since the last success or reset.
    pub failures: u32,
    /// Temporary locks imposed since the last success (drives the doubling).
    pub lock_level: u32,
    /// Temporary lock: no attempt before this instant.
    pub locked_until_ms: Option<i64>,
    /// Only a password reset with the second factor (or staff) lifts this.
    pub reset_required: bool,
    /// The last counted failure; the soft delay runs from here.
    pub last_failure_ms: Option<i64>,
}

/// Whether an attempt may be verified now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Wait { until_ms: i64 },
    Locked { until_ms: i64 },
    ResetRequired,
}

/// What a recorded failure did. `LockStarted` and `ResetRequiredStarted` are the moments to
/// email the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The attempt came while blocked; nothing was counted.
    Ignored,
    /// A short delay until the next attempt.
    Delayed { until_ms: i64 },
    /// A temporary lock began.
    LockStarted { until_ms: i64 },
    /// The account now needs a password reset with the second factor.
    ResetRequiredStarted,
}

impl Effect {
    /// True when the owner should be told (a lock began).
    pub fn notify_owner(self) -> bool {
        matches!(self, Self::LockStarted { .. } | Self::ResetRequiredStarted)
    }
}

/// May an attempt be verified at `now_ms`? The same for both counters.
pub fn check(state: &LockoutState, now_ms: i64) -> Decision {
    if state.reset_required {
        return Decision::ResetRequired;
    }
    if let Some(until_ms) = state.locked_until_ms
        && now_ms < until_ms
    {
        return Decision::Locked { until_ms };
    }
    if let Some(last) = state.last_failure_ms
        && state.failures > 0
    {
        let until_ms = last.saturating_add(progressive_delay_ms(state.failures));
        if now_ms < until_ms {
            return Decision::Wait { until_ms };
        }
    }
    Decision::Allowed
}

/// The soft delay after the `failures`-th consecutive failure (kanidm's schedule).
pub fn progressive_delay_ms(failures: u32) -> i64 {
    match failures {
        0..3 => SECOND_MS,
        3..9 => 3 * SECOND_MS,
        9..25 => 5 * SECOND_MS,
        _ => 10 * SECOND_MS,
    }
}

/// Length of the `lock_number`-th temporary lock (1-based): `first`, doubling, capped at 24 h.
pub fn lock_duration_ms(first_ms: i64, lock_number: u32) -> i64 {
    let mut duration = first_ms.min(MAX_LOCK_MS);
    for _ in 1..lock_number {
        if duration >= MAX_LOCK_MS {
            break;
        }
        duration = duration.saturating_mul(2).min(MAX_LOCK_MS);
    }
    duration
}

/// Record a wrong password (counts it unless blocked, then applies the schedule).
pub fn on_failure(state: &LockoutState, now_ms: i64) -> (LockoutState, Effect) {
    match count_failure(state, now_ms) {
        Some(counted) => apply_password_policy(&counted, now_ms),
        None => (*state, Effect::Ignored),
    }
}

/// Record a wrong second factor (TOTP, SMS/email code, recovery code).
pub fn on_second_factor_failure(state: &LockoutState, now_ms: i64) -> (LockoutState, Effect) {
    match count_failure(state, now_ms) {
        Some(counted) => apply_second_factor_policy(&counted, now_ms),
        None => (*state, Effect::Ignored),
    }
}

fn count_failure(state: &LockoutState, now_ms: i64) -> Option<LockoutState> {
    (check(state, now_ms) == Decision::Allowed).then(|| LockoutState {
        failures: state.failures.saturating_add(1),
        last_failure_ms: Some(now_ms),
        ..*state
    })
}

/// The password schedule for a state whose `failures` already includes the new failure. Locks
/// trigger on reaching a threshold, so no count can skip one.
fn apply_password_policy(counted: &LockoutState, now_ms: i64) -> (LockoutState, Effect) {
    let mut next = *counted;
    if counted.failures >= RESET_REQUIRED_FAILURES {
        next.reset_required = true;
        let effect = if counted.reset_required {
            Effect::Ignored
        } else {
            Effect::ResetRequiredStarted
        };
        return (next, effect);
    }
    if counted.failures
        >= counted
            .lock_level
            .saturating_add(1)
            .saturating_mul(LOCK_EVERY_FAILURES)
    {
        next.lock_level = counted.lock_level.saturating_add(1);
        let until_ms = now_ms.saturating_add(lock_duration_ms(FIRST_LOCK_MS, next.lock_level));
        next.locked_until_ms = Some(until_ms);
        return (next, Effect::LockStarted { until_ms });
    }
    let until_ms = now_ms.saturating_add(progressive_delay_ms(counted.failures));
    (next, Effect::Delayed { until_ms })
}

/// The second-factor schedule for a state whose `failures` already includes the new failure:
/// every 3rd failure locks, first to the end of the current TOTP step, then 5 min doubling.
fn apply_second_factor_policy(counted: &LockoutState, now_ms: i64) -> (LockoutState, Effect) {
    let mut next = *counted;
    let threshold = counted
        .lock_level
        .saturating_add(1)
        .saturating_mul(SECOND_FACTOR_LOCK_EVERY);
    if counted.failures >= threshold {
        next.lock_level = counted.lock_level.saturating_add(1);
        let until_ms = if next.lock_level == 1 {
            // Until the current TOTP step is over, so the next try needs a fresh code.
            now_ms
                .div_euclid(SECOND_FACTOR_STEP_MS)
                .saturating_add(1)
                .saturating_mul(SECOND_FACTOR_STEP_MS)
        } else {
            now_ms.saturating_add(lock_duration_ms(
                SECOND_FACTOR_ESCALATED_LOCK_MS,
                next.lock_level - 1,
            ))
        };
        next.locked_until_ms = Some(until_ms);
        return (next, Effect::LockStarted { until_ms });
    }
    let until_ms = now_ms.saturating_add(progressive_delay_ms(counted.failures));
    (next, Effect::Delayed { until_ms })
}

/// Which schedule a kind of secret follows. Passwords (login, re-authentication, password
/// change) follow the password schedule; short codes (TOTP, recovery, emailed and texted codes)
/// the tighter second-factor one, since their space is far smaller than a password's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Password,
    SecondFactor,
}

/// The answer to "may this attempt be checked?" under reserve-first counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Check it. `reserved` already counts this attempt as a failure (store it before checking);
    /// `effect` is what that failure did, to act on if the check fails.
    Granted {
        reserved: LockoutState,
        effect: Effect,
    },
    /// Do not check: the key is waiting, locked or reset-only. Nothing is counted.
    Refused(Decision),
}

/// Decides and counts in one step: an attempt that may be checked is counted as a failure
/// before the secret is compared, and a success afterwards clears the counter. Stored with a
/// compare-and-swap, this makes N parallel guesses cost exactly N attempts: none of them can be
/// checked on a state that does not yet include the others.
pub fn reserve(state: &LockoutState, now_ms: i64, schedule: Schedule) -> Reservation {
    let decision = check(state, now_ms);
    if decision != Decision::Allowed {
        return Reservation::Refused(decision);
    }
    let (reserved, effect) = match schedule {
        Schedule::Password => on_failure(state, now_ms),
        Schedule::SecondFactor => on_second_factor_failure(state, now_ms),
    };
    Reservation::Granted { reserved, effect }
}

/// A successful authentication clears the counter. A pending reset requirement survives: only
/// [`cleared`] (after a reset with the second factor, or a staff unlock) lifts it.
pub fn on_success(state: &LockoutState) -> LockoutState {
    LockoutState {
        reset_required: state.reset_required,
        ..LockoutState::default()
    }
}

/// The state after a completed password reset with 2FA or a staff unlock.
pub fn cleared() -> LockoutState {
    LockoutState::default()
}

/// Whether the next login attempt must carry a solved proof-of-work challenge.
pub fn pow_required(ip_failures: u32, account_failures: u32) -> bool {
    ip_failures >= POW_AFTER_FAILURES || account_failures >= POW_AFTER_FAILURES
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

    /// Fail as soon as allowed, `n` times; returns the state, the time and every effect.
    fn fail_n(n: u32, start: i64) -> (LockoutState, i64, Vec<Effect>) {
        let mut state = LockoutState::default();
        let mut now = start;
        let mut effects = Vec::new();
        for _ in 0..n {
            now = match check(&state, now) {
                Decision::Allowed => now,
                Decision::Wait { until_ms } | Decision::Locked { until_ms } => until_ms,
                Decision::ResetRequired => break,
            };
            let (next, effect) = on_failure(&state, now);
            state = next;
            effects.push(effect);
        }
        (state, now, effects)
    }

    #[test]
    fn reserve_counts_before_checking_and_refuses_while_blocked() {
        let fresh = LockoutState::default();
        let Reservation::Granted { reserved, effect } = reserve(&fresh, T0, Schedule::Password)
        else {
            panic!("a fresh key is granted");
        };
        assert_eq!(reserved.failures, 1);
        assert!(matches!(effect, Effect::Delayed { .. }));
        // A second attempt in the same instant sees the first one counted.
        assert_eq!(
            reserve(&reserved, T0, Schedule::Password),
            Reservation::Refused(Decision::Wait {
                until_ms: T0 + SECOND_MS
            })
        );
        let (locked, _, _) = fail_n(LOCK_EVERY_FAILURES, T0);
        assert!(matches!(
            reserve(&locked, T0, Schedule::Password),
            Reservation::Refused(Decision::Locked { .. })
        ));
        let Reservation::Granted { reserved, .. } = reserve(&fresh, T0, Schedule::SecondFactor)
        else {
            panic!("granted");
        };
        assert_eq!(reserved.failures, 1);
    }

    proptest! {
        /// Reserving is exactly counting a failure when allowed, and nothing otherwise.
        #[test]
        fn reserve_matches_on_failure(failures in 0_u32..120, gap in 0_i64..3_600_000, sf in any::<bool>()) {
            let (state, now, _) = fail_n(failures, T0);
            let now = now + gap;
            let schedule = if sf { Schedule::SecondFactor } else { Schedule::Password };
            match reserve(&state, now, schedule) {
                Reservation::Granted { reserved, effect } => {
                    prop_assert_eq!(check(&state, now), Decision::Allowed);
                    let expected = if sf { on_second_factor_failure(&state, now) } else { on_failure(&state, now) };
                    prop_assert_eq!((reserved, effect), expected);
                    prop_assert_eq!(reserved.failures, state.failures + 1);
                }
                Reservation::Refused(decision) => prop_assert_eq!(decision, check(&state, now)),
            }
        }
    }

    #[test]
    fn progressive_delay_table() {
        let table = [
            (1, 1),
            (2, 1),
            (3, 3),
            (8, 3),
            (9, 5),
            (24, 5),
            (25, 10),
            (99, 10),
        ];
        for (failures, secs) in table {
            assert_eq!(
                progressive_delay_ms(failures),
                secs * 1_000,
                "failures {failures}"
            );
        }
    }

    #[test]
    fn first_failures_delay_the_next_attempt() {
        let (s, e) = on_failure(&LockoutState::default(), T0);
        assert_eq!(
            e,
            Effect::Delayed {
                until_ms: T0 + 1_000
            }
        );
        assert_eq!(
            check(&s, T0 + 999),
            Decision::Wait {
                until_ms: T0 + 1_000
            }
        );
        assert_eq!(check(&s, T0 + 1_000), Decision::Allowed);
        // A failure during the wait is not counted.
        assert_eq!(on_failure(&s, T0 + 500), (s, Effect::Ignored));
    }

    #[test]
    fn tenth_failure_locks_for_fifteen_minutes_then_doubles() {
        let (s, now, effects) = fail_n(10, T0);
        assert_eq!(
            effects[9],
            Effect::LockStarted {
                until_ms: now + 15 * MINUTE_MS
            }
        );
        assert!(
            effects[..9]
                .iter()
                .all(|e| matches!(e, Effect::Delayed { .. }))
        );
        assert_eq!(
            check(&s, now + 15 * MINUTE_MS - 1),
            Decision::Locked {
                until_ms: now + 15 * MINUTE_MS
            }
        );
        let (_, now20, effects20) = fail_n(20, T0);
        assert_eq!(
            effects20[19],
            Effect::LockStarted {
                until_ms: now20 + 30 * MINUTE_MS
            }
        );
        let (_, now30, effects30) = fail_n(30, T0);
        assert_eq!(
            effects30[29],
            Effect::LockStarted {
                until_ms: now30 + HOUR_MS
            }
        );
    }

    #[test]
    fn lock_doubling_is_capped_at_a_day() {
        let durations: Vec<i64> = (1..=10)
            .map(|n| lock_duration_ms(FIRST_LOCK_MS, n))
            .collect();
        assert_eq!(durations[0], 15 * MINUTE_MS);
        assert_eq!(durations[6], 16 * HOUR_MS);
        assert_eq!(durations[7], 24 * HOUR_MS);
        assert_eq!(durations[9], 24 * HOUR_MS);
        assert_eq!(lock_duration_ms(FIRST_LOCK_MS, u32::MAX), MAX_LOCK_MS);
    }

    #[test]
    fn correct_password_during_lock_is_refused() {
        let (s, now, _) = fail_n(10, T0);
        assert!(matches!(check(&s, now + 1), Decision::Locked { .. }));
    }

    #[test]
    fn hundred_failures_require_a_reset() {
        let (s, now, effects) = fail_n(100, T0);
        assert_eq!(s.failures, 100);
        assert_eq!(effects[99], Effect::ResetRequiredStarted);
        assert!(effects[99].notify_owner());
        assert_eq!(check(&s, now + 365 * 24 * HOUR_MS), Decision::ResetRequired);
        assert!(on_success(&s).reset_required);
        assert_eq!(check(&cleared(), now), Decision::Allowed);
    }

    #[test]
    fn success_resets_the_counter() {
        let (s, now, _) = fail_n(9, T0);
        let ok = on_success(&s);
        assert_eq!(ok, LockoutState::default());
        let (_, e) = on_failure(&ok, now + 10_000);
        assert_eq!(
            e,
            Effect::Delayed {
                until_ms: now + 11_000
            }
        );
    }

    #[test]
    fn second_factor_locks_to_step_end_then_escalates() {
        let mut s = LockoutState::default();
        let now = T0 + 12_345; // inside a 30 s step
        let (n1, e1) = on_second_factor_failure(&s, now);
        assert_eq!(
            e1,
            Effect::Delayed {
                until_ms: now + 1_000
            }
        );
        let (n2, _) = on_second_factor_failure(&n1, now + 1_000);
        let (n3, e3) = on_second_factor_failure(&n2, now + 2_000);
        let step_end = (now + 2_000).div_euclid(30_000) * 30_000 + 30_000;
        assert_eq!(e3, Effect::LockStarted { until_ms: step_end });
        assert_eq!(
            check(&n3, step_end - 1),
            Decision::Locked { until_ms: step_end }
        );
        s = n3;
        let mut t = step_end;
        let mut lock_lengths = Vec::new();
        for _ in 0..12 {
            t = match check(&s, t) {
                Decision::Allowed => t,
                Decision::Wait { until_ms } | Decision::Locked { until_ms } => until_ms,
                Decision::ResetRequired => panic!("second factor never requires a reset"),
            };
            let (next, effect) = on_second_factor_failure(&s, t);
            s = next;
            match effect {
                Effect::Delayed { .. } => {}
                Effect::LockStarted { until_ms } => lock_lengths.push(until_ms - t),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            lock_lengths,
            vec![
                5 * MINUTE_MS,
                10 * MINUTE_MS,
                20 * MINUTE_MS,
                40 * MINUTE_MS
            ]
        );
    }

    #[test]
    fn atomic_increments_cannot_skip_a_lock() {
        // Two concurrent failures took the counter from 9 to 11 before the policy ran.
        let counted = LockoutState {
            failures: 11,
            last_failure_ms: Some(T0),
            ..LockoutState::default()
        };
        let (s, e) = apply_password_policy(&counted, T0);
        assert_eq!(
            e,
            Effect::LockStarted {
                until_ms: T0 + FIRST_LOCK_MS
            }
        );
        assert_eq!(s.lock_level, 1);
        let (_, e2) = apply_password_policy(&LockoutState { failures: 12, ..s }, T0 + 1);
        assert!(matches!(e2, Effect::Delayed { .. }));
        let (r, e3) = apply_password_policy(&LockoutState { failures: 101, ..s }, T0 + 2);
        assert_eq!(e3, Effect::ResetRequiredStarted);
        assert_eq!(
            apply_password_policy(&LockoutState { failures: 102, ..r }, T0 + 3).1,
            Effect::Ignored
        );
    }

    #[test]
    fn pow_policy() {
        assert!(!pow_required(0, 0));
        assert!(!pow_required(2, 2));
        assert!(pow_required(3, 0));
        assert!(pow_required(0, 3));
    }

    fn attempts() -> impl Strategy<Value = Vec<(i64, bool)>> {
        proptest::collection::vec((0i64..(2 * HOUR_MS), any::<bool>()), 1..300)
    }

    proptest! {
        #[test]
        fn never_allowed_while_blocked(steps in attempts()) {
            let mut state = LockoutState::default();
            let mut now = T0;
            for (gap, second_factor) in steps {
                now += gap;
                let before = check(&state, now);
                let (next, effect) = if second_factor {
                    on_second_factor_failure(&state, now)
                } else {
                    on_failure(&state, now)
                };
                if before != Decision::Allowed {
                    prop_assert_eq!(effect, Effect::Ignored);
                    prop_assert_eq!(next, state);
                }
                match check(&next, now) {
                    Decision::Allowed => prop_assert_eq!(effect, Effect::Ignored),
                    Decision::Wait { until_ms } | Decision::Locked { until_ms } => {
                        prop_assert!(until_ms > now);
                        prop_assert_ne!(check(&next, until_ms - 1), Decision::Allowed);
                    }
                    Decision::ResetRequired => prop_assert!(next.failures >= RESET_REQUIRED_FAILURES),
                }
                prop_assert!(next.failures >= state.failures);
                state = next;
            }
        }

        #[test]
        fn lock_schedule_is_monotone(a in 1u32..200, b in 1u32..200) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(progressive_delay_ms(lo) <= progressive_delay_ms(hi));
            prop_assert!(lock_duration_ms(FIRST_LOCK_MS, lo) <= lock_duration_ms(FIRST_LOCK_MS, hi));
            prop_assert!(lock_duration_ms(FIRST_LOCK_MS, hi) <= MAX_LOCK_MS);
        }

        #[test]
        fn hundred_counted_failures_always_require_reset(gaps in proptest::collection::vec(0i64..HOUR_MS, 100..160)) {
            let mut state = LockoutState::default();
            let mut now = T0;
            for gap in gaps {
                now += gap;
                let (next, _) = on_failure(&state, now);
                state = next;
            }
            if state.failures >= RESET_REQUIRED_FAILURES {
                prop_assert_eq!(check(&state, now + 1_000 * DAY), Decision::ResetRequired);
            } else {
                prop_assert!(!state.reset_required);
            }
        }
    }

    const DAY: i64 = 24 * HOUR_MS;
}
