//! The account API through its router with an in-memory store and an injected clock, so
//! lockout, expiry and replay rules are checked without sleeping.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::{Method, StatusCode};
use bulwark_api::v1;
use bulwark_identity::clock::{MINUTE_MS, SECOND_MS};
use bulwark_identity::totp;
use serde_json::json;

use common::{PASSWORD, harness};

#[tokio::test]
async fn every_documented_route_is_routed() {
    let h = harness().await;
    for route in v1::openapi::ROUTES {
        let method = Method::from_bytes(route.method.to_uppercase().as_bytes()).unwrap();
        let path = route.path.replace("{id}", "1");
        let (_, body) = h.send(method, &path, None, None).await;
        assert_ne!(
            body["error"]["code"], "not_found",
            "{} {}",
            route.method, route.path
        );
        assert_ne!(
            body["error"]["code"], "method_not_allowed",
            "{} {}",
            route.method, route.path
        );
    }
    let (status, body) = h.send(Method::GET, "/api/v1/nothing", None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn lockout_schedule_with_injected_clock() {
    let h = harness().await;
    h.verified("a@example.com").await;
    let unknown = h.login("ghost@example.com", "wrong password one").await;
    let mut failures = 0;
    let mut last = unknown.clone();
    while failures < 10 {
        h.clock.advance(2 * MINUTE_MS);
        last = h.login("a@example.com", "wrong password one").await;
        assert_eq!(
            last, unknown,
            "wrong password looks like an unknown account"
        );
        failures += 1;
    }
    // Locked for 15 minutes: even the right password gets the same answer.
    h.clock.advance(SECOND_MS * 30);
    assert_eq!(h.login("a@example.com", PASSWORD).await, last);
    assert!(
        h.outbox_texts()
            .iter()
            .any(|t| t.contains("a@example.com") && t.contains("locked"))
    );
    h.clock.advance(15 * MINUTE_MS);
    let (status, body) = h.login("a@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["step"], "done");
    // The lock is explained after a correct login: it is in the security events.
    let token = body["session_token"].as_str().unwrap().to_string();
    let (_, activity) = h
        .send(Method::GET, "/api/v1/activity", None, Some(&token))
        .await;
    let kinds: Vec<&str> = activity["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["failed_logins_before_this_one", "account_locked"]);
    let results: Vec<&str> = activity["logins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| **r == "wrong_password").count(),
        10
    );
    assert!(results.contains(&"locked") && results.first() == Some(&"success"));
}

#[tokio::test]
async fn progressive_delay_then_retry() {
    let h = harness().await;
    h.verified("b@example.com").await;
    assert_eq!(
        h.login("b@example.com", "wrong password one").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = h.login("b@example.com", PASSWORD).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("try_later"))
    );
    h.clock.advance(SECOND_MS);
    assert_eq!(h.login("b@example.com", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn sessions_expire_idle_and_absolute() {
    let h = harness().await;
    h.verified("c@example.com").await;
    let (_, body) = h.login("c@example.com", PASSWORD).await;
    let token = body["session_token"].as_str().unwrap().to_string();
    // Used every 20 minutes it stays alive until the 12-hour absolute limit.
    for _ in 0..35 {
        h.clock.advance(20 * MINUTE_MS);
        let (status, _) = h.send(Method::GET, "/api/v1/me", None, Some(&token)).await;
        assert_eq!(status, StatusCode::OK);
    }
    h.clock.advance(20 * MINUTE_MS);
    let (_, body) = h.send(Method::GET, "/api/v1/me", None, Some(&token)).await;
    assert_eq!(body["error"]["code"], "session_expired");
    let (_, body) = h.login("c@example.com", PASSWORD).await;
    let token = body["session_token"].as_str().unwrap().to_string();
    h.clock.advance(31 * MINUTE_MS);
    let (_, body) = h.send(Method::GET, "/api/v1/me", None, Some(&token)).await;
    assert_eq!(body["error"]["code"], "session_expired");
}

#[tokio::test]
async fn totp_enrolment_replay_and_second_factor_lock() {
    let h = harness().await;
    h.verified("d@example.com").await;
    let (_, body) = h.login("d@example.com", PASSWORD).await;
    let token = body["session_token"].as_str().unwrap().to_string();
    let (status, setup) = h
        .send(Method::POST, "/api/v1/2fa/totp/setup", None, Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = totp::TotpSecret::from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let code = totp::code_at(&secret, h.clock_now()).unwrap();
    let (status, confirmed) = h
        .send(
            Method::POST,
            "/api/v1/2fa/totp/confirm",
            Some(json!({"code": code})),
            Some(&token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["recovery_codes"].as_array().unwrap().len(), 10);
    assert_eq!(
        confirmed["withdrawals_allowed_after_ms"],
        json!(h.clock_now() + 24 * 60 * MINUTE_MS)
    );
    // The confirming code's step cannot be used to log in.
    let (_, step1) = h.login("d@example.com", PASSWORD).await;
    let pre = step1["pre_auth_token"].as_str().unwrap().to_string();
    let (_, body) = h
        .post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre, "totp_code": code}),
        )
        .await;
    assert_eq!(body["error"]["code"], "code_replayed");
    // Each wrong code delays the next try; the third failure (the replay counts) starts a lock
    // that even a right code meets.
    for wrong in ["000000", "000001"] {
        h.clock.advance(SECOND_MS * 5);
        let (status, body) = h
            .post(
                "/api/v1/login/2fa",
                json!({"pre_auth_token": pre, "totp_code": wrong}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_code"))
        );
    }
    h.clock.advance(SECOND_MS * 5);
    let code = totp::code_at(&secret, h.clock_now()).unwrap();
    let (status, body) = h
        .post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre, "totp_code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // A fresh step and code after the wait works.
    h.clock.advance(MINUTE_MS);
    let code = totp::code_at(&secret, h.clock_now()).unwrap();
    let (status, body) = h
        .post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre, "totp_code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Pre-auth tokens expire after 5 minutes.
    let (_, step1) = h.login("d@example.com", PASSWORD).await;
    let pre = step1["pre_auth_token"].as_str().unwrap().to_string();
    h.clock.advance(6 * MINUTE_MS);
    let code = totp::code_at(&secret, h.clock_now()).unwrap();
    let (_, body) = h
        .post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre, "totp_code": code}),
        )
        .await;
    assert_eq!(body["error"]["code"], "invalid_token");
}
