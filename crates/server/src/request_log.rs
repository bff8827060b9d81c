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

/// A fresh request id (random; a failing generator only loses uniqueness, never the request).
fn fresh_id() -> u64 {
    bulwark_accounts::crypto::random_bytes::<8>().map_or(0, u64::from_be_bytes)
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
