//! Per-IP rate limiting and failure counting with injected time (B7, and the "3 failures from an
//! IP" proof-of-work trigger).
//!
//! Rate limits use GCRA, a token bucket that stores one number per key (the theoretical arrival
//! time), so a burst of `burst` requests passes and then one request per `interval_ms`. Maps are
//! bounded: idle entries are dropped first, and when the map is full of active entries the one
//! nearest to being idle is evicted, so memory stays fixed under an address-spraying attack.
//! IPv6 addresses are keyed by their /64 prefix, which one subscriber usually owns whole.
//!
//! These structures take `&mut self`; the web layer keeps one per endpoint class behind a mutex.

use std::net::{IpAddr, Ipv4Addr};

use crate::bounded::OrderedMap;
use crate::clock::{HOUR_MS, MINUTE_MS, SECOND_MS};

/// Default number of addresses remembered per limiter.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// A failure counter resets after this long without a new failure.
pub const IP_FAILURE_WINDOW_MS: i64 = HOUR_MS;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IpBucketError {
    #[error("too many requests from this address; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: i64 },
    #[error("a rate limit needs a burst of at least 1 and a positive interval")]
    InvalidLimit,
}

/// A token-bucket limit: `burst` requests at once, refilled at one per `interval_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub interval_ms: i64,
}

impl RateLimit {
    /// Login and second-factor endpoints (vaultwarden: 1 per 60 s, burst 10).
    pub const LOGIN: Self = Self {
        burst: 10,
        interval_ms: MINUTE_MS,
    };
    /// Other unauthenticated endpoints (vaultwarden: 1 per 60 s, burst 50).
    pub const UNAUTHENTICATED: Self = Self {
        burst: 50,
        interval_ms: MINUTE_MS,
    };

    /// Endpoints a waiting page polls (QR login, login confirmation): gated by a 256-bit
    /// secret, so the bucket only bounds load — one a second sustained, bursts of 60.
    pub const POLL: Self = Self {
        burst: 60,
        interval_ms: SECOND_MS,
    };

    /// A limit from configuration; zero values are refused (B10).
    pub fn new(burst: u32, interval_ms: i64) -> Result<Self, IpBucketError> {
        if burst == 0 || interval_ms <= 0 {
            return Err(IpBucketError::InvalidLimit);
        }
        Ok(Self { burst, interval_ms })
    }

    fn tolerance_ms(&self) -> i64 {
        self.interval_ms
            .saturating_mul(i64::from(self.burst.saturating_sub(1)))
    }
}

/// The unit an address is counted under: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpKey {
    V4(Ipv4Addr),
    V6Prefix64(u64),
}

/// The key for an address (IPv4-mapped IPv6 counts as the IPv4 address).
pub fn ip_key(ip: IpAddr) -> IpKey {
    match ip {
        IpAddr::V4(v4) => IpKey::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpKey::V4(v4),
            None => IpKey::V6Prefix64((u128::from(v6) >> 64) as u64),
        },
    }
}

/// Per-address GCRA limiter.
#[derive(Debug)]
pub struct IpBuckets {
    limit: RateLimit,
    max_entries: usize,
    /// Theoretical arrival time per key; at or before `now` means a full bucket.
    tat: OrderedMap<IpKey, ()>,
}

impl IpBuckets {
    pub fn new(limit: RateLimit, max_entries: usize) -> Self {
        Self {
            limit,
            max_entries,
            tat: OrderedMap::default(),
        }
    }

    /// Take one token for `ip` at `now_ms`, or say how long to wait (for `Retry-After`).
    pub fn check(&mut self, ip: IpAddr, now_ms: i64) -> Result<(), IpBucketError> {
        self.tat.prune_through(now_ms);
        let key = ip_key(ip);
        let tat = self.tat.get(&key).map_or(now_ms, |(t, ())| t.max(now_ms));
        let ahead_ms = tat.saturating_sub(now_ms);
        let tolerance_ms = self.limit.tolerance_ms();
        if ahead_ms > tolerance_ms {
            return Err(IpBucketError::RateLimited {
                retry_after_ms: ahead_ms - tolerance_ms,
            });
        }
        let next = tat.saturating_add(self.limit.interval_ms);
        self.tat.insert(key, next, (), self.max_entries);
        Ok(())
    }

    /// Addresses currently tracked (bounded by `max_entries`).
    pub fn len(&self) -> usize {
        self.tat.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Consecutive login failures per address, forgotten after an hour without a new one.
#[derive(Debug)]
pub struct IpFailures {
    max_entries: usize,
    /// Ordered by the instant the count expires.
    counts: OrderedMap<IpKey, u32>,
}

impl IpFailures {
    pub fn new(max_entries: usize) -> Self {
        Self {
            max_entries,
            counts: OrderedMap::default(),
        }
    }

    /// Count a failure; returns the address's current count.
    pub fn record_failure(&mut self, ip: IpAddr, now_ms: i64) -> u32 {
        let count = self.failures(ip, now_ms).saturating_add(1);
        let expires = now_ms.saturating_add(IP_FAILURE_WINDOW_MS);
        self.counts
            .insert(ip_key(ip), expires, count, self.max_entries);
        count
    }

    /// A success from the address clears its failures (NIST 63B).
    pub fn record_success(&mut self, ip: IpAddr) {
        self.counts.remove(&ip_key(ip));
    }

    /// Failures counted for the address at `now_ms`.
    pub fn failures(&mut self, ip: IpAddr, now_ms: i64) -> u32 {
        self.counts.prune_through(now_ms);
        self.counts.get(&ip_key(ip)).map_or(0, |(_, c)| c)
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_one_per_interval() {
        let mut b = IpBuckets::new(RateLimit::LOGIN, 100);
        let a = ip("192.0.2.1");
        for _ in 0..10 {
            b.check(a, T0).unwrap();
        }
        assert_eq!(
            b.check(a, T0),
            Err(IpBucketError::RateLimited {
                retry_after_ms: 60_000
            })
        );
        assert_eq!(
            b.check(a, T0 + 59_999),
            Err(IpBucketError::RateLimited { retry_after_ms: 1 })
        );
        b.check(a, T0 + 60_000).unwrap();
        assert!(b.check(a, T0 + 60_000).is_err());
        // Another address is unaffected.
        b.check(ip("192.0.2.2"), T0).unwrap();
    }

    #[test]
    fn full_refill_after_idle() {
        let mut b = IpBuckets::new(RateLimit::new(3, 1_000).unwrap(), 100);
        let a = ip("198.51.100.7");
        for _ in 0..3 {
            b.check(a, T0).unwrap();
        }
        assert!(b.check(a, T0).is_err());
        for _ in 0..3 {
            b.check(a, T0 + 3_000).unwrap();
        }
        assert!(b.check(a, T0 + 3_000).is_err());
    }

    #[test]
    fn ipv6_is_keyed_by_prefix() {
        assert_eq!(
            ip_key(ip("2001:db8:1:2::1")),
            ip_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(ip_key(ip("2001:db8:1:2::1")), ip_key(ip("2001:db8:1:3::1")));
        assert_eq!(ip_key(ip("::ffff:192.0.2.1")), ip_key(ip("192.0.2.1")));
        let mut b = IpBuckets::new(RateLimit::new(1, 1_000).unwrap(), 100);
        b.check(ip("2001:db8::1"), T0).unwrap();
        assert!(b.check(ip("2001:db8::2"), T0).is_err());
    }

    #[test]
    fn map_stays_bounded() {
        let mut b = IpBuckets::new(RateLimit::new(2, 60_000).unwrap(), 50);
        for i in 0..1_000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            b.check(addr, T0 + i64::from(i)).unwrap();
            assert!(b.len() <= 50);
        }
        // Idle entries are dropped once their bucket is full again.
        b.check(ip("192.0.2.1"), T0 + 10 * 60_000).unwrap();
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn invalid_limits_are_refused() {
        assert_eq!(RateLimit::new(0, 1_000), Err(IpBucketError::InvalidLimit));
        assert_eq!(RateLimit::new(1, 0), Err(IpBucketError::InvalidLimit));
        assert_eq!(RateLimit::new(1, -5), Err(IpBucketError::InvalidLimit));
    }

    #[test]
    fn failures_count_and_expire() {
        let mut f = IpFailures::new(10);
        let a = ip("203.0.113.9");
        assert_eq!(f.record_failure(a, T0), 1);
        assert_eq!(f.record_failure(a, T0 + 1), 2);
        assert_eq!(f.record_failure(a, T0 + 2), 3);
        assert_eq!(f.failures(a, T0 + 2 + IP_FAILURE_WINDOW_MS - 1), 3);
        assert_eq!(f.failures(a, T0 + 2 + IP_FAILURE_WINDOW_MS), 0);
        f.record_failure(a, T0 + 5);
        f.record_success(a);
        assert_eq!(f.failures(a, T0 + 6), 0);
        for i in 0..100u32 {
            f.record_failure(IpAddr::V4(Ipv4Addr::from(i)), T0);
        }
        assert!(f.len() <= 10);
    }

    proptest! {
        #[test]
        fn never_more_than_burst_plus_elapsed_refills(gaps in proptest::collection::vec(0i64..5_000, 1..200)) {
            let limit = RateLimit::new(5, 1_000).unwrap();
            let mut b = IpBuckets::new(limit, 10);
            let a = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
            let mut now = T0;
            let mut allowed = 0i64;
            for gap in gaps {
                now += gap;
                match b.check(a, now) {
                    Ok(()) => allowed += 1,
                    Err(IpBucketError::RateLimited { retry_after_ms }) => prop_assert!(retry_after_ms > 0),
                    Err(e) => prop_assert!(false, "{e}"),
                }
                prop_assert!(allowed <= 5 + (now - T0) / 1_000);
            }
        }
    }
}
