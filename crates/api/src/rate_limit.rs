//! Per-client-IP request limits on the public listener (GCRA, from the `governor` crate).
//!
//! A client over its rate gets BitMart's 30013 with HTTP 429 and a `Retry-After`, before any
//! signature check or database work is spent on it. Memory stays bounded: idle keys are dropped
//! periodically.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};

use crate::envelope::ApiError;

/// Sustained requests per second allowed from one IP address.
pub const REQUESTS_PER_SECOND_PER_IP: u32 = 100;
/// Requests one IP may send at once before the sustained rate applies.
pub const BURST_REQUESTS_PER_IP: u32 = 200;
/// Requests between two sweeps of idle keys.
const SWEEP_EVERY_REQUESTS: u64 = 10_000;

type KeyedLimiter =
    RateLimiter<IpAddr, governor::state::keyed::DefaultKeyedStateStore<IpAddr>, DefaultClock>;

/// Shared limiter state for the middleware.
#[derive(Clone)]
pub struct IpRateLimit {
    limiter: Arc<KeyedLimiter>,
    requests: Arc<AtomicU64>,
}

impl IpRateLimit {
    /// A limiter of `per_second` sustained with bursts of `burst` per IP.
    pub fn new(per_second: u32, burst: u32) -> IpRateLimit {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        IpRateLimit {
            limiter: Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
            requests: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Default for IpRateLimit {
    fn default() -> IpRateLimit {
        IpRateLimit::new(REQUESTS_PER_SECOND_PER_IP, BURST_REQUESTS_PER_IP)
    }
}

/// A wait in whole seconds, rounded up (what `Retry-After` and the budget headers carry).
pub fn whole_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The middleware: admit or answer 30013.
pub async fn limit_by_ip(
    State(limit): State<IpRateLimit>,
    request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip());
    if limit.requests.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY_REQUESTS
        == SWEEP_EVERY_REQUESTS - 1
    {
        limit.limiter.retain_recent();
        limit.limiter.shrink_to_fit();
    }
    match limit.limiter.check_key(&ip) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = whole_seconds(wait);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                30013,
                "Too many requests from this IP address, slow down",
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_per_ip() {
        let limit = IpRateLimit::new(1, 3);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        assert!((0..3).all(|_| limit.limiter.check_key(&a).is_ok()));
        assert!(limit.limiter.check_key(&a).is_err());
        assert!(
            limit.limiter.check_key(&b).is_ok(),
            "one IP's flood must not block another"
        );
    }
}
