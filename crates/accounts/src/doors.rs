//! The doors in front of the use cases an unauthenticated caller can knock on: the per-IP
//! buckets (open, login, poll) and the refusal of sign-up and login from a restricted region.
//! Both adapters that face browsers (the JSON API and the web pages) pass the same doors, so a
//! flood or a restricted country meets the same answer whichever way it comes in.

use std::net::IpAddr;

use bulwark_identity::ip_bucket::IpBucketError;

use crate::{Error, Kind, Result, Service};

/// Which per-IP bucket a use case draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// Sign-up, verification, recovery, 2FA-reset requests, freeze links, QR login start.
    Open,
    /// The login steps (password, second factor, login codes): the tightest bucket.
    Login,
    /// What waiting pages poll (QR login, device confirmation): a looser bucket.
    Poll,
}

/// Takes one token from `door`'s bucket for `ip`, or refuses with `rate_limited`.
pub fn admit(state: &Service, ip: IpAddr, door: Door) -> Result<()> {
    let buckets = match door {
        Door::Open => &state.accounts.open_buckets,
        Door::Login => &state.accounts.login_buckets,
        Door::Poll => &state.accounts.poll_buckets,
    };
    let now_ms = state.accounts.now_ms();
    let verdict = match buckets.lock() {
        Ok(mut buckets) => buckets.check(ip, now_ms),
        // A poisoned lock means a panic elsewhere; the door stays open rather than locking
        // every visitor out (the per-account lockout still applies).
        Err(_) => Ok(()),
    };
    verdict.map_err(|error| {
        let wait_ms = match error {
            IpBucketError::RateLimited { retry_after_ms } => retry_after_ms,
            IpBucketError::InvalidLimit => 1_000,
        };
        Error::new(
            Kind::TooMany,
            "rate_limited",
            "Too many attempts from this IP address; wait and try again",
        )
        .retry_after(wait_ms)
    })
}

/// Refuses sign-up and every login step from a restricted country with `region_restricted`.
pub fn refuse_restricted_region(state: &Service, country: Option<&str>) -> Result<()> {
    match state.accounts.access().ip_restricted(country) {
        Some(restriction) => Err(Error::new(
            Kind::Forbidden,
            "region_restricted",
            crate::access::region_message(&restriction),
        )),
        None => Ok(()),
    }
}
