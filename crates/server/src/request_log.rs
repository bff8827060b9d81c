//! Every public request gets a 64-bit id: its log lines carry it (the `request` span, as a
//! field of each JSON line with `BULWARK_LOG_FORMAT=json`), the answer carries it in
//! `X-Request-Id`, and any command the request submits carries it into the journal
//! (`bulwark_trading::request_id`). A proxy's own `X-Request-Id` is logged beside it as
//! `upstream`. One access line per request is logged at debug level under the target
//! `bulwark_access` (`BULWARK_LOG=info,bulwark_access=debug`), off by default since a busy
//! exchange answers tens of thousands of requests a second.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Longest upstream request id logged (anything longer is cut).
const UPSTREAM_ID_CHARS_MAX: usize = 64;

/// A fresh request id without a system call on the request path: a counter from a random start
/// per process, mixed by SplitMix64's finaliser (a bijection, so ids never repeat within a
/// process, and they look random, so ids of two processes rarely meet). Not a secret.
fn fresh_id() -> u64 {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        AtomicU64::new(bulwark_accounts::crypto::random_bytes::<8>().map_or(0, u64::from_le_bytes))
    });
    let mut z = next
        .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub async fn tag(request: Request, next: Next) -> Response {
    let id = fresh_id();
    let hex = format!("{id:016x}");
    let upstream: String = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(UPSTREAM_ID_CHARS_MAX)
                .collect()
        })
        .unwrap_or_default();
    let span = tracing::info_span!("request", id = %hex, method = %request.method(),
        path = %request.uri().path(), upstream = %upstream);
    let started = Instant::now();
    let mut response = bulwark_trading::request_id::scope(id, next.run(request))
        .instrument(span.clone())
        .await;
    span.in_scope(|| {
        tracing::debug!(target: "bulwark_access", status = response.status().as_u16(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX), "answered");
    });
    if let Ok(value) = HeaderValue::from_str(&hex) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_do_not_repeat() {
        let ids: std::collections::BTreeSet<u64> = (0..10_000).map(|_| fresh_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
