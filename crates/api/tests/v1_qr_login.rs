//! QR login through the router: a waiting browser, an approving session, single use, expiry,
//! denial, the short-code path and the rules that keep one from being abused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::{Method, StatusCode};
use bulwark_identity::qr_login::QR_LOGIN_TTL_MS;
use serde_json::{Value, json};

use common::{Harness, PASSWORD, harness};

impl Harness {
    async fn session(&self, address: &str) -> String {
        let (status, body) = self.login(address, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["session_token"].as_str().unwrap().to_string()
    }

    async fn authed_post(&self, path: &str, body: Value, token: &str) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body), Some(token)).await
    }

    async fn start_qr(&self) -> Value {
        let (status, body) = self
            .send(Method::POST, "/api/v1/login/qr", None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn poll(&self, qr: &Value) -> (StatusCode, Value) {
        self.post(
            "/api/v1/login/qr/poll",
            json!({"id": qr["id"], "poll_secret": qr["poll_secret"]}),
        )
        .await
    }
}

#[tokio::test]
async fn approved_qr_login_logs_the_waiting_browser_in_once() {
    let h = harness().await;
    h.verified("qr@example.com").await;
    let approver = h.session("qr@example.com").await;
    let qr = h.start_qr().await;
    assert_eq!(
        qr["nonce"].as_str().unwrap().len(),
        22,
        "128-bit nonce, base64url"
    );
    assert!(qr["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        qr["approve_url"]
            .as_str()
            .unwrap()
            .starts_with("http://bulwark.test/login/qr/approve?n=")
    );
    assert_eq!(h.poll(&qr).await.1["state"], "pending");

    let (status, seen) = h
        .authed_post(
            "/api/v1/login/qr/lookup",
            json!({"nonce": qr["nonce"]}),
            &approver,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["state"], "pending");
    assert!(seen["requester"]["ip"].is_string());
    assert!(seen["requester"]["user_agent"].is_string());

    let (status, decided) = h
        .authed_post(
            "/api/v1/login/qr/decide",
            json!({"nonce": qr["nonce"], "decision": "approve"}),
            &approver,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["state"], "approved");

    let (status, done) = h.poll(&qr).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["step"], "done");
    let new_session = done["session_token"].as_str().unwrap();
    let (status, me) = h
        .send(Method::GET, "/api/v1/me", None, Some(new_session))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "qr@example.com");

    // Single use: polling again gives no second session, and the nonce cannot be approved again.
    let (_, again) = h.poll(&qr).await;
    assert_eq!(again["state"], "redeemed");
    assert!(again.get("session_token").is_none());
    let (status, twice) = h
        .authed_post(
            "/api/v1/login/qr/decide",
            json!({"nonce": qr["nonce"], "decision": "approve"}),
            &approver,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(twice["error"]["code"], "qr_already_decided");

    let (_, activity) = h
        .send(Method::GET, "/api/v1/activity", None, Some(new_session))
        .await;
    assert!(activity.to_string().contains("\"qr\""), "{activity}");
}

#[tokio::test]
async fn short_code_denial_and_expiry() {
    let h = harness().await;
    h.verified("code@example.com").await;
    let approver = h.session("code@example.com").await;

    // Typed short code, lower case with a dash, then denied.
    let qr = h.start_qr().await;
    let code = qr["short_code"].as_str().unwrap().to_lowercase();
    let typed = format!("{}-{}", &code[..4], &code[4..]);
    let (status, denied) = h
        .authed_post(
            "/api/v1/login/qr/decide",
            json!({"short_code": typed, "decision": "deny"}),
            &approver,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{denied}");
    let (_, polled) = h.poll(&qr).await;
    assert_eq!(polled["state"], "denied");
    assert!(polled.get("session_token").is_none());

    // Expired: cannot be approved, and the waiting page is told to refresh.
    let qr = h.start_qr().await;
    h.clock.advance(QR_LOGIN_TTL_MS);
    let (status, late) = h
        .authed_post(
            "/api/v1/login/qr/decide",
            json!({"nonce": qr["nonce"], "decision": "approve"}),
            &approver,
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "{late}");
    assert_eq!(late["error"]["code"], "qr_expired");
    assert_eq!(h.poll(&qr).await.1["state"], "expired");
}

#[tokio::test]
async fn bad_input_and_abuse_are_refused() {
    let h = harness().await;
    h.verified("abuse@example.com").await;
    let approver = h.session("abuse@example.com").await;
    let qr = h.start_qr().await;

    // The waiting side needs its own secret; a wrong one is refused and changes nothing.
    let (status, wrong) = h
        .post(
            "/api/v1/login/qr/poll",
            json!({"id": qr["id"], "poll_secret": "not-the-secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(wrong["error"]["code"], "qr_wrong_secret");

    // Approving needs a session.
    let (status, anon) = h
        .post(
            "/api/v1/login/qr/decide",
            json!({"nonce": qr["nonce"], "decision": "approve"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{anon}");

    for (body, code) in [
        (json!({"decision": "approve"}), "missing_field"),
        (
            json!({"nonce": qr["nonce"], "short_code": qr["short_code"], "decision": "approve"}),
            "missing_field",
        ),
        (
            json!({"short_code": "0OIL", "decision": "approve"}),
            "malformed_short_code",
        ),
        (
            json!({"nonce": qr["nonce"], "decision": "maybe"}),
            "invalid_decision",
        ),
        (
            json!({"nonce": "unknown-nonce", "decision": "approve"}),
            "qr_not_found",
        ),
    ] {
        let (status, answer) = h
            .authed_post("/api/v1/login/qr/decide", body, &approver)
            .await;
        assert!(status.is_client_error(), "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    assert_eq!(h.poll(&qr).await.1["state"], "pending");

    // Lookups and decisions are rate-limited per approving user.
    let mut limited = false;
    for _ in 0..20 {
        let (status, answer) = h
            .authed_post(
                "/api/v1/login/qr/lookup",
                json!({"short_code": "ABCDEFGH"}),
                &approver,
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer["error"]["code"], "rate_limited");
            limited = true;
            break;
        }
        assert_eq!(answer["error"]["code"], "qr_not_found");
    }
    assert!(limited, "twenty lookups in a row must hit the limit");
}

#[tokio::test]
async fn polling_has_its_own_per_ip_bucket() {
    let h = harness().await;
    let qr = h.start_qr().await;
    // One a second sustained, bursts of 60: a page polling every few seconds never hits it,
    // a flood from one address does.
    let mut refused = 0;
    for _ in 0..70 {
        let (status, body) = h.poll(&qr).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["error"]["code"], "rate_limited");
            refused += 1;
        }
    }
    assert_eq!(refused, 10, "a burst of 60, then refusals");
    h.clock.advance(5_000);
    assert_eq!(h.poll(&qr).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_qr_session_inherits_the_approvers_clock_and_needs_it_alive() {
    let h = harness().await;
    h.verified("inherit@example.com").await;
    let approver = h.session("inherit@example.com").await;
    let (_, me) = h
        .send(Method::GET, "/api/v1/me", None, Some(&approver))
        .await;
    assert!(me["session"]["expires_at_ms"].as_i64().is_some());

    // Eleven minutes later the approver's password is no longer "recent"; neither is the new
    // session's. The answer reports the new session's own expiry (idle deadline from now).
    h.clock.advance(11 * 60_000);
    let qr = h.start_qr().await;
    let (status, _) = h
        .authed_post(
            "/api/v1/login/qr/decide",
            json!({"nonce": qr["nonce"], "decision": "approve"}),
            &approver,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, done) = h.poll(&qr).await;
    assert_eq!(
        done["expires_at_ms"],
        json!(h.clock_now() + 30 * 60_000),
        "{done}"
    );
    let session = done["session_token"].as_str().unwrap();
    let (_, me) = h.send(Method::GET, "/api/v1/me", None, Some(session)).await;
    assert_eq!(
        me["session"]["expires_at_ms"], done["expires_at_ms"],
        "{me}"
    );
    assert_eq!(me["session"]["reauth_valid"], false, "{me}");
    let (status, body) = h
        .send(Method::POST, "/api/v1/2fa/totp/setup", None, Some(session))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "reauth_required");

    // An approval whose session ended before the redemption gives nothing.
    let qr = h.start_qr().await;
    h.authed_post(
        "/api/v1/login/qr/decide",
        json!({"nonce": qr["nonce"], "decision": "approve"}),
        &approver,
    )
    .await;
    h.send(Method::POST, "/api/v1/logout", None, Some(&approver))
        .await;
    let (status, gone) = h.poll(&qr).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{gone}");
    assert_eq!(gone["error"]["code"], "qr_approver_gone");
}

/// An approval from an 11-hour-old session: the answer's expiry is the new session's (the
/// approver's 12-hour end, which is later than now), never a time in the past.
#[tokio::test]
async fn a_qr_approval_from_an_old_session_reports_the_new_sessions_expiry() {
    let h = harness().await;
    h.verified("old@example.com").await;
    let approver = h.session("old@example.com").await;
    let started = h.clock_now();
    // Keep the approver alive (idle limit 30 min) for 11 h 50 min.
    for _ in 0..(11 * 6 + 5) {
        h.clock.advance(10 * 60_000);
        let (status, _) = h
            .send(Method::GET, "/api/v1/me", None, Some(&approver))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let qr = h.start_qr().await;
    let (status, _) = h
        .authed_post(
            "/api/v1/login/qr/decide",
            json!({"nonce": qr["nonce"], "decision": "approve"}),
            &approver,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, done) = h.poll(&qr).await;
    let expires = done["expires_at_ms"].as_i64().unwrap();
    assert!(expires > h.clock_now(), "{done}");
    assert_eq!(
        expires,
        started + 12 * 3_600_000,
        "the approver's absolute end"
    );
    let session = done["session_token"].as_str().unwrap();
    let (_, me) = h.send(Method::GET, "/api/v1/me", None, Some(session)).await;
    assert_eq!(me["session"]["expires_at_ms"], json!(expires), "{me}");
}
