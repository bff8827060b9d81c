//! The attempt limiter through the router with an injected clock: a stranger who drives an
//! account into the reset-only lock (100 failures) shuts out unknown clients only; the owner's
//! known device keeps its own budget and logs in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use axum::http::StatusCode;
use bulwark_identity::clock::HOUR_MS;
use bulwark_identity::lockout::RESET_REQUIRED_FAILURES;
use common::{PASSWORD, harness};

#[tokio::test]
async fn strangers_reach_reset_only_for_unknown_clients_but_not_for_the_known_device() {
    let h = harness().await;
    h.verified("dev@example.com").await;
    let (status, body) = h.login("dev@example.com", PASSWORD).await;
    assert_eq!(
        (status, body["step"].as_str()),
        (StatusCode::OK, Some("done"))
    );
    let known = h.device_cookie.lock().unwrap().clone();
    assert!(known.is_some());

    h.new_browser();
    for n in 0..RESET_REQUIRED_FAILURES {
        // Past any wait or lock (the longest is 24 h), so every guess is checked and counted.
        h.clock.advance(25 * HOUR_MS);
        let (status, body) = h.login("dev@example.com", "a stranger's guess 1234").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {n}: {body}");
        assert_eq!(body["error"]["code"], "invalid_credentials", "guess {n}");
    }
    h.clock.advance(25 * HOUR_MS);
    let (status, body) = h.login("dev@example.com", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "reset-only for strangers: {body}"
    );
    let notices = h
        .outbox_texts()
        .iter()
        .filter(|t| t.contains("was locked after too many wrong passwords"))
        .count();
    assert!(notices >= 10, "the owner hears of every lock ({notices})");

    *h.device_cookie.lock().unwrap() = known;
    let (status, body) = h.login("dev@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["step"], "done");
    assert_eq!(body["new_device"], false);
}
