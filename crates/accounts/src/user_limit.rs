//! The per-user limit on QR-login lookups and decisions, kept apart from the QR handlers so the
//! account state can own the limiter without importing them.

use std::num::NonZeroU32;

use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Lookups plus decisions one approving user may make per minute (burst).
pub const APPROVALS_PER_MINUTE: u32 = 10;

/// GCRA limiter keyed by the approving user's id.
pub type UserLimiter = RateLimiter<i64, DefaultKeyedStateStore<i64>, DefaultClock>;

pub fn approval_limiter() -> UserLimiter {
    let per_minute = NonZeroU32::new(APPROVALS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(per_minute))
}
