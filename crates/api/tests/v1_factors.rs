//! Email and SMS second factors through the router with an injected clock: enrolment by a code
//! sent to the contact, login codes (10 min, 5 tries, one a minute, newest voids older), and the
//! rules around turning them off.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::{Method, StatusCode};
use bulwark_identity::clock::{MINUTE_MS, SECOND_MS};
use serde_json::{Value, json};

use common::{Harness, PASSWORD, harness};

const EMAIL: &str = "factor@example.com";

impl Harness {
    async fn session(&self) -> String {
        let (status, body) = self.login(EMAIL, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["step"], "done", "{body}");
        body["session_token"].as_str().unwrap().to_string()
    }

    async fn authed(&self, path: &str, body: Value, token: &str) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body), Some(token)).await
    }

    /// The newest code in the outbox after `marker` ("login code is ", ...).
    fn newest_code(&self, marker: &str) -> String {
        let text = self
            .outbox_texts()
            .into_iter()
            .rev()
            .find(|t| t.contains(marker))
            .expect("a code message");
        let at = text.find(marker).unwrap() + marker.len();
        text[at..at + 6].to_string()
    }

    fn count(&self, marker: &str) -> usize {
        self.outbox_texts()
            .iter()
            .filter(|t| t.contains(marker))
            .count()
    }

    async fn enable_email(&self, token: &str) {
        let (status, body) = self
            .authed("/api/v1/2fa/email/send", Value::Null, token)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let code = self.newest_code("confirmation code is ");
        let (status, body) = self
            .authed("/api/v1/2fa/email/enable", json!({"code": code}), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "enabled");
    }

    /// The password step of an account with a code factor: the pre-auth token.
    async fn pre_auth(&self) -> String {
        let (status, body) = self.login(EMAIL, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["step"], "second_factor_required", "{body}");
        assert_eq!(body["methods"], json!(["email"]), "{body}");
        body["pre_auth_token"].as_str().unwrap().to_string()
    }

    async fn send_login_code(&self, pre_auth: &str, method: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/login/2fa/send",
            json!({"pre_auth_token": pre_auth, "method": method}),
        )
        .await
    }

    async fn second_step(&self, pre_auth: &str, code: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre_auth, "email_code": code}),
        )
        .await
    }
}

#[tokio::test]
async fn enrol_email_codes_and_log_in_with_them() {
    let h = harness().await;
    h.verified(EMAIL).await;
    let token = h.session().await;

    // Enrolment needs the code that was sent; a wrong one changes nothing.
    let (status, _) = h
        .authed("/api/v1/2fa/email/send", Value::Null, &token)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, wrong) = h
        .authed(
            "/api/v1/2fa/email/enable",
            json!({"code": "000000"}),
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong}");
    assert_eq!(wrong["error"]["code"], "invalid_code");
    let (_, me) = h.send(Method::GET, "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me["code_factors"], json!([]));
    h.clock.advance(MINUTE_MS);
    h.enable_email(&token).await;
    let (_, me) = h.send(Method::GET, "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me["code_factors"], json!(["email"]));
    assert!(me["withdrawals_allowed_after_ms"].as_i64().unwrap() > h.clock_now());

    // Login now asks for a code; one is sent per minute at most.
    let pre_auth = h.pre_auth().await;
    let (status, sent) = h.send_login_code(&pre_auth, "email").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let (status, again) = h.send_login_code(&pre_auth, "email").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{again}");
    assert_eq!(again["error"]["code"], "resend_too_soon");
    assert_eq!(h.count("login code is "), 1);
    let first = h.newest_code("login code is ");

    // A newer code voids the older one.
    h.clock.advance(MINUTE_MS);
    let (status, _) = h.send_login_code(&pre_auth, "email").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let second = h.newest_code("login code is ");
    if first != second {
        let (status, old) = h.second_step(&pre_auth, &first).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{old}");
        assert_eq!(old["error"]["code"], "invalid_code");
        // A wrong code counts: the second-factor counter asks for a short wait.
        h.clock.advance(5 * SECOND_MS);
    }
    let (status, done) = h.second_step(&pre_auth, &second).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["step"], "done");

    // The code is spent: a new login cannot reuse it.
    h.clock.advance(MINUTE_MS);
    let pre_auth = h.pre_auth().await;
    let (status, replay) = h.second_step(&pre_auth, &second).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{replay}");
}

#[tokio::test]
async fn login_codes_expire_and_allow_five_tries() {
    let h = harness().await;
    h.verified(EMAIL).await;
    let token = h.session().await;
    h.enable_email(&token).await;

    let pre_auth = h.pre_auth().await;
    h.send_login_code(&pre_auth, "email").await;
    let code = h.newest_code("login code is ");
    h.clock.advance(10 * MINUTE_MS);
    let (status, _) = h.second_step(&pre_auth, &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired after 10 minutes");

    // Five wrong tries use the code up; the right code then fails too.
    let pre_auth = h.pre_auth().await;
    h.send_login_code(&pre_auth, "email").await;
    let code = h.newest_code("login code is ");
    let wrong = if code == "111111" { "222222" } else { "111111" };
    let mut tries = 0;
    while tries < 5 {
        let (status, body) = h.second_step(&pre_auth, wrong).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            // The second-factor counter asks to wait between failures.
            let wait_s = body["error"]["retry_after_s"].as_i64().unwrap_or(1);
            h.clock.advance(wait_s * SECOND_MS);
            continue;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        tries += 1;
    }
    h.clock.advance(MINUTE_MS);
    let (status, body) = h.second_step(&pre_auth, &code).await;
    assert_ne!(status, StatusCode::OK, "a used-up code never works: {body}");
}

#[tokio::test]
async fn bad_input_and_turning_codes_off() {
    let h = harness().await;
    h.verified(EMAIL).await;
    let token = h.session().await;

    for (path, code) in [
        ("/api/v1/2fa/pigeon/send", "invalid_method"),
        ("/api/v1/2fa/sms/send", "contact_not_verified"),
    ] {
        let (status, body) = h.authed(path, Value::Null, &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], code);
    }
    let (status, body) = h
        .authed("/api/v1/2fa/email/disable", json!({}), &token)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "not_enabled");
    let (status, body) = h
        .authed("/api/v1/2fa/email/enable", json!({"code": "12ab"}), &token)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_code");

    h.enable_email(&token).await;
    let pre_auth = h.pre_auth().await;
    let (status, body) = h.send_login_code(&pre_auth, "sms").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "method_not_enabled");
    let (status, body) = h.send_login_code("not-a-token", "email").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_token");
    let (status, body) = h
        .post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre_auth, "email_code": "123456", "totp_code": "123456"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "missing_second_factor");

    // Off again: a recent password suffices without TOTP; the next login needs no code.
    let (status, body) = h
        .authed("/api/v1/2fa/email/disable", json!({}), &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.clock.advance(MINUTE_MS);
    let (_, body) = h.login(EMAIL, PASSWORD).await;
    assert_eq!(body["step"], "done", "{body}");
    let kinds: Vec<String> = h
        .outbox_texts()
        .iter()
        .filter(|t| t.contains("Login codes turned"))
        .map(|t| {
            t.lines()
                .find(|l| l.starts_with("Subject"))
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(kinds.len(), 2, "on and off are both emailed: {kinds:?}");
}
