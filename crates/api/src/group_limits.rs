//! BitMart-style request budgets per endpoint group, on top of the per-IP limit: order entry,
//! cancels, private queries, account reads and public market data each have their own budget,
//! counted per client IP, per API key and (for order entry and cancels) per user across all of
//! the user's keys. Cancels never share a budget with order entry, so a client that flooded
//! orders can still pull them. Every answer carries `X-BM-RateLimit-Limit` (the group's burst),
//! `X-BM-RateLimit-Remaining` (what is left of it for the tightest of the caller's budgets) and
//! `X-BM-RateLimit-Reset` (seconds until that budget is full again); over budget answers 30013
//! with HTTP 429 and `Retry-After`, before any signature or database work.
//!
//! Admission: order entry also has a server-wide cap on requests in progress. When it is
//! reached, a new order is answered "system busy" (30014, HTTP 503) at once instead of
//! queueing, so under overload orders fail fast, what was admitted finishes quickly, and
//! cancels (never capped) keep their latency.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::AppState;
use crate::envelope::ApiError;
use crate::extract::LookedUpKey;
use crate::rate_limit::whole_seconds;

/// The endpoint groups, each with its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Placing orders (single and batch).
    Order,
    /// Cancelling orders (single, batch, all).
    Cancel,
    /// Order and trade queries.
    Query,
    /// Wallet and fee reads.
    Account,
    /// Public quotation endpoints.
    MarketData,
}

/// A budget: sustained requests per second and the burst allowed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub per_second: u32,
    pub burst: u32,
}

impl Group {
    /// The group of a BitMart path and what one request of it weighs; `None` for paths outside
    /// the groups (system time and status, market lists), which only the per-IP limit covers.
    pub fn of(path: &str) -> Option<(Group, u32)> {
        let group = match path {
            "/spot/v2/submit_order" | "/spot/v4/algo/submit_order" => (Group::Order, 1),
            "/spot/v4/batch_orders" => (Group::Order, BATCH_WEIGHT),
            "/spot/v3/cancel_order"
            | "/spot/v4/cancel_all"
            | "/spot/v4/algo/cancel_order"
            | "/spot/v4/algo/cancel_all" => (Group::Cancel, 1),
            "/spot/v4/cancel_orders" => (Group::Cancel, BATCH_WEIGHT),
            "/spot/v1/wallet" | "/account/v1/wallet" | "/spot/v1/trade_fee" => (Group::Account, 1),
            // Funding: deposit addresses, withdrawals and their history count as account calls.
            "/account/v1/deposit/address"
            | "/account/v1/withdraw/apply"
            | "/account/v2/deposit-withdraw/history"
            | "/account/v1/deposit-withdraw/detail"
            | "/account/v1/withdraw/charge"
            | "/account/v1/withdraw/address/list" => (Group::Account, 1),
            "/spot/v3/orders" => (Group::Query, 1),
            p if p.starts_with("/spot/v4/query/") => (Group::Query, 1),
            p if p.starts_with("/spot/quotation/") => (Group::MarketData, 1),
            _ => return None,
        };
        Some(group)
    }

    /// The default budget of the group (BitMart's published limits, per second).
    pub fn budget(self) -> Budget {
        let (per_second, burst) = match self {
            Group::Order => (20, 40),
            Group::Cancel => (20, 40),
            Group::Query => (25, 50),
            Group::Account => (6, 12),
            Group::MarketData => (15, 30),
        };
        Budget { per_second, burst }
    }

    /// Whether the group is also counted per user (across all of a user's keys).
    fn per_user(self) -> bool {
        matches!(self, Group::Order | Group::Cancel)
    }

    const ALL: [Group; 5] = [
        Group::Order,
        Group::Cancel,
        Group::Query,
        Group::Account,
        Group::MarketData,
    ];
}

/// What a batch request weighs: as much as the most orders it may carry.
pub const BATCH_WEIGHT: u32 = 10;
/// Requests between two sweeps of idle keys.
const SWEEP_EVERY_REQUESTS: u64 = 10_000;

type Limiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One group's limiters.
struct GroupLimiters {
    group: Group,
    budget: Budget,
    by_ip: Limiter<IpAddr>,
    by_key: Limiter<String>,
    by_user: Limiter<i64>,
}

/// The budgets of every group, shared by the middleware.
#[derive(Clone)]
pub struct GroupLimits {
    groups: Arc<Vec<GroupLimiters>>,
    requests: Arc<AtomicU64>,
    /// Order-entry requests that may be in progress at once.
    order_slots: Arc<tokio::sync::Semaphore>,
    order_slots_max: usize,
}

/// Order-entry requests in progress at once when nothing else is configured: enough to keep
/// the engine and the journal busy, few enough that an admitted order is answered in
/// milliseconds (docs/BENCHMARKS.md, overload).
pub const ORDER_INFLIGHT_DEFAULT: usize = 16;

impl GroupLimits {
    /// Every group's default budget multiplied by `scale` (1 in production; tests that are not
    /// about limits raise it, since all their clients share one address and one key).
    pub fn new(scale: u32) -> GroupLimits {
        let scale = scale.max(1);
        let groups = Group::ALL
            .into_iter()
            .map(|group| {
                let base = group.budget();
                let budget = Budget {
                    per_second: base.per_second.saturating_mul(scale),
                    burst: base.burst.saturating_mul(scale),
                };
                let quota = Quota::per_second(
                    NonZeroU32::new(budget.per_second).unwrap_or(NonZeroU32::MIN),
                )
                .allow_burst(NonZeroU32::new(budget.burst).unwrap_or(NonZeroU32::MIN));
                GroupLimiters {
                    group,
                    budget,
                    by_ip: RateLimiter::keyed(quota).with_middleware(),
                    by_key: RateLimiter::keyed(quota).with_middleware(),
                    by_user: RateLimiter::keyed(quota).with_middleware(),
                }
            })
            .collect();
        GroupLimits {
            groups: Arc::new(groups),
            requests: Arc::new(AtomicU64::new(0)),
            order_slots: Arc::new(tokio::sync::Semaphore::new(ORDER_INFLIGHT_DEFAULT)),
            order_slots_max: ORDER_INFLIGHT_DEFAULT,
        }
    }

    /// The same budgets with at most `max` order-entry requests in progress (at least one).
    pub fn with_order_inflight_max(mut self, max: usize) -> GroupLimits {
        let max = max.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        self.order_slots = Arc::new(tokio::sync::Semaphore::new(max));
        self.order_slots_max = max;
        self
    }

    fn limiters(&self, group: Group) -> Option<&GroupLimiters> {
        self.groups.iter().find(|g| g.group == group)
    }

    fn sweep(&self) {
        if self.requests.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY_REQUESTS
            == SWEEP_EVERY_REQUESTS - 1
        {
            for g in self.groups.iter() {
                g.by_ip.retain_recent();
                g.by_key.retain_recent();
                g.by_user.retain_recent();
            }
        }
    }
}

/// What one check found: the budget's size, what is left of the tightest, and when it refills.
struct Verdict {
    limit: u32,
    remaining: u32,
    reset: Duration,
    refused_for: Option<Duration>,
}

impl Verdict {
    fn new(limit: u32) -> Verdict {
        Verdict {
            limit,
            remaining: limit,
            reset: Duration::ZERO,
            refused_for: None,
        }
    }

    /// Takes `weight` from one limiter's budget for `key`, folding the outcome in.
    fn take<K>(&mut self, limiter: &Limiter<K>, key: &K, weight: u32, budget: Budget)
    where
        K: Clone + Eq + std::hash::Hash,
    {
        if self.refused_for.is_some() {
            return;
        }
        let weight = NonZeroU32::new(weight).unwrap_or(NonZeroU32::MIN);
        match limiter.check_key_n(key, weight) {
            Ok(Ok(snapshot)) => {
                let left = snapshot.remaining_burst_capacity();
                if left <= self.remaining {
                    self.remaining = left;
                    let missing = f64::from(budget.burst.saturating_sub(left));
                    self.reset = Duration::from_secs_f64(missing / f64::from(budget.per_second));
                }
            }
            Ok(Err(not_until)) => {
                self.remaining = 0;
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                self.reset = wait;
                self.refused_for = Some(wait);
            }
            Err(_) => {
                // Heavier than the whole burst: never admissible.
                self.remaining = 0;
                self.refused_for = Some(Duration::from_secs(1));
            }
        }
    }

    fn headers(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("x-bm-ratelimit-limit", u64::from(self.limit)),
            ("x-bm-ratelimit-remaining", u64::from(self.remaining)),
            ("x-bm-ratelimit-reset", whole_seconds(self.reset)),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
                headers.insert(name, value);
            }
        }
    }
}

/// The middleware over the BitMart routes.
pub async fn limit_by_group(
    State((state, limits)): State<(AppState, GroupLimits)>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some((group, weight)) = Group::of(request.uri().path()) else {
        return next.run(request).await;
    };
    let Some(limiters) = limits.limiters(group) else {
        return next.run(request).await;
    };
    // Held until the order's answer is ready; none free means the server is at capacity.
    let _slot = if group == Group::Order {
        match Arc::clone(&limits.order_slots).try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                return ApiError::busy(format!(
                    "System busy: {} orders are in progress, retry shortly",
                    limits.order_slots_max
                ))
                .into_response();
            }
        }
    } else {
        None
    };
    limits.sweep();
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip());
    let key = request
        .headers()
        .get("x-bm-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .map(str::to_owned);
    let mut verdict = Verdict::new(limiters.budget.burst);
    verdict.take(&limiters.by_ip, &ip, weight, limiters.budget);
    if let Some(key) = &key {
        verdict.take(&limiters.by_key, key, weight, limiters.budget);
        if group.per_user() && verdict.refused_for.is_none() {
            // A key that does not resolve is refused by the handler anyway. The row found here
            // goes on with the request, so the handler does not look the key up again.
            if let Ok(Some(row)) = state.live_api_key(key).await {
                verdict.take(&limiters.by_user, &row.user_id, weight, limiters.budget);
                request.extensions_mut().insert(LookedUpKey(row));
            }
        }
    }
    let mut response = match verdict.refused_for {
        None => next.run(request).await,
        Some(wait) => {
            let mut refused = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                30013,
                format!(
                    "Too many requests: the {} budget is {} per second (bursts of {}); retry later",
                    group_name(group),
                    limiters.budget.per_second,
                    limiters.budget.burst
                ),
            )
            .into_response();
            let seconds = whole_seconds(wait).max(1);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                refused.headers_mut().insert(header::RETRY_AFTER, value);
            }
            refused
        }
    };
    verdict.headers(response.headers_mut());
    response
}

fn group_name(group: Group) -> &'static str {
    match group {
        Group::Order => "order entry",
        Group::Cancel => "cancel",
        Group::Query => "order query",
        Group::Account => "account",
        Group::MarketData => "market data",
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_bitmart_path_has_its_group() {
        assert_eq!(Group::of("/spot/v2/submit_order"), Some((Group::Order, 1)));
        assert_eq!(
            Group::of("/spot/v4/batch_orders"),
            Some((Group::Order, BATCH_WEIGHT))
        );
        assert_eq!(Group::of("/spot/v3/cancel_order"), Some((Group::Cancel, 1)));
        assert_eq!(Group::of("/spot/v4/cancel_all"), Some((Group::Cancel, 1)));
        assert_eq!(
            Group::of("/spot/v4/algo/submit_order"),
            Some((Group::Order, 1))
        );
        assert_eq!(
            Group::of("/spot/v4/algo/cancel_all"),
            Some((Group::Cancel, 1))
        );
        assert_eq!(
            Group::of("/spot/v4/query/algo/open-orders"),
            Some((Group::Query, 1))
        );
        assert_eq!(
            Group::of("/spot/v4/query/open-orders"),
            Some((Group::Query, 1))
        );
        assert_eq!(
            Group::of("/spot/quotation/v3/klines"),
            Some((Group::MarketData, 1))
        );
        assert_eq!(Group::of("/spot/v1/wallet"), Some((Group::Account, 1)));
        assert_eq!(Group::of("/system/time"), None);
    }

    #[test]
    fn a_budget_spent_refuses_and_says_when_it_refills() {
        let limits = GroupLimits::new(1);
        let order = limits
            .limiters(Group::Order)
            .expect("every group has limiters");
        let budget = order.budget;
        let ip = IpAddr::from([10, 0, 0, 1]);
        for n in 0..budget.burst {
            let mut verdict = Verdict::new(budget.burst);
            verdict.take(&order.by_ip, &ip, 1, budget);
            assert!(verdict.refused_for.is_none(), "{n}");
            assert_eq!(verdict.remaining, budget.burst - n - 1);
        }
        let mut verdict = Verdict::new(budget.burst);
        verdict.take(&order.by_ip, &ip, 1, budget);
        assert!(verdict.refused_for.is_some());
        assert_eq!(verdict.remaining, 0);
        let cancel = limits
            .limiters(Group::Cancel)
            .expect("every group has limiters");
        let mut verdict = Verdict::new(budget.burst);
        verdict.take(&cancel.by_ip, &ip, 1, cancel.budget);
        assert!(
            verdict.refused_for.is_none(),
            "cancels have their own budget"
        );
        let mut heavy = Verdict::new(budget.burst);
        heavy.take(
            &cancel.by_ip,
            &IpAddr::from([10, 0, 0, 2]),
            1_000,
            cancel.budget,
        );
        assert!(heavy.refused_for.is_some(), "heavier than the burst");
    }
}
