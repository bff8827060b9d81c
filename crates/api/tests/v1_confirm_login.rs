//! New-device and new-country confirmation through the router: the first device is trusted, a
//! new browser waits for the emailed code or link, the link page never confirms by itself, a
//! confirmation gives one session, and a country never seen before waits too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::{Method, StatusCode};
use bulwark_accounts::access::Access;
use bulwark_identity::clock::{MINUTE_MS, SECOND_MS};
use serde_json::{Value, json};

use common::{Harness, PASSWORD, harness, harness_with_access};

const EMAIL: &str = "device@example.com";

impl Harness {
    fn confirmation_code(&self) -> String {
        let marker = "your confirmation code is ";
        let text = self
            .outbox_texts()
            .into_iter()
            .rev()
            .find(|t| t.contains(marker))
            .expect("a confirmation message");
        let at = text.find(marker).unwrap() + marker.len();
        text[at..at + 6].to_string()
    }

    fn confirmation_link(&self) -> String {
        let text = self
            .outbox_texts()
            .into_iter()
            .rev()
            .find(|t| t.contains("/login/confirm?token="))
            .expect("a confirmation link");
        let at = text.find("/login/confirm?token=").unwrap() + "/login/confirm?token=".len();
        text[at..].split_whitespace().next().unwrap().to_string()
    }

    async fn confirm(&self, token: &str, code: Option<&str>) -> (StatusCode, Value) {
        let mut body = json!({"confirmation_token": token});
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        self.post("/api/v1/login/confirm", body).await
    }
}

fn held(answer: &(StatusCode, Value), reason: &str) -> String {
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(answer.1["step"], "confirmation_required", "{}", answer.1);
    assert_eq!(answer.1["reason"], reason);
    assert!(answer.1.get("session_token").is_none());
    answer.1["confirmation_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_new_browser_waits_for_the_emailed_code() {
    let h = harness().await;
    h.verified(EMAIL).await;
    // The first device of an account is trusted; the same browser later is known.
    assert_eq!(h.login(EMAIL, PASSWORD).await.1["step"], "done");
    assert_eq!(h.login(EMAIL, PASSWORD).await.1["step"], "done");

    h.new_browser();
    let token = held(&h.login(EMAIL, PASSWORD).await, "new_device");
    let (status, pending) = h.confirm(&token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending["state"], "pending");
    let code = h.confirmation_code();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let (status, body) = h.confirm(&token, Some(wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "invalid_code");
    h.clock.advance(5 * SECOND_MS);
    let (status, done) = h.confirm(&token, Some(&code)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["step"], "done");
    let session = done["session_token"].as_str().unwrap();
    let (status, _) = h.send(Method::GET, "/api/v1/me", None, Some(session)).await;
    assert_eq!(status, StatusCode::OK);

    // Once only; and the browser is now a known device.
    let (status, again) = h.confirm(&token, Some(&code)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{again}");
    assert_eq!(again["error"]["code"], "invalid_token");
    assert_eq!(h.login(EMAIL, PASSWORD).await.1["step"], "done");
    assert!(
        h.outbox_texts()
            .iter()
            .any(|t| t.contains("logged in to from a new device"))
    );
    let (_, activity) = h
        .send(Method::GET, "/api/v1/activity", None, Some(session))
        .await;
    let text = activity.to_string();
    assert!(text.contains("confirmation_required") && text.contains("device_confirmation"));
}

#[tokio::test]
async fn the_emailed_link_confirms_only_when_pressed_and_expires() {
    let h = harness().await;
    h.verified(EMAIL).await;
    assert_eq!(h.login(EMAIL, PASSWORD).await.1["step"], "done");
    h.new_browser();
    let token = held(&h.login(EMAIL, PASSWORD).await, "new_device");
    let link = h.confirmation_link();

    // Looking at the link changes nothing.
    let (status, seen) = h
        .post("/api/v1/login/confirm/link/check", json!({"token": link}))
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["state"], "pending");
    assert_eq!(seen["reason"], "new_device");
    assert_eq!(h.confirm(&token, None).await.1["state"], "pending");

    let (status, body) = h
        .post("/api/v1/login/confirm/link", json!({"token": link}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h
        .post("/api/v1/login/confirm/link", json!({"token": link}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "already_confirmed");
    let (status, done) = h.confirm(&token, None).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["step"], "done");

    // Unknown links and expired confirmations.
    let (status, body) = h
        .post("/api/v1/login/confirm/link", json!({"token": "not-a-link"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "invalid_link");
    h.new_browser();
    h.clock.advance(MINUTE_MS);
    let token = held(&h.login(EMAIL, PASSWORD).await, "new_device");
    let code = h.confirmation_code();
    h.clock.advance(10 * MINUTE_MS);
    let (status, body) = h.confirm(&token, Some(&code)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["error"]["code"], "confirmation_expired");
}

#[tokio::test]
async fn a_new_country_waits_even_on_a_known_device() {
    let dir = tempfile::tempdir().unwrap();
    let geoip = dir.path().join("geoip");
    // 198.51.100.0/24 is DE, 203.0.113.0/24 is FR in this fixture.
    std::fs::write(
        &geoip,
        "3325256704,3325256959,DE\n3405803776,3405804031,FR\n",
    )
    .unwrap();
    let access = Access::from_config(Some(&geoip), &[], &["127.0.0.1"], 1_000, 50_000).unwrap();
    let h = harness_with_access(Some(access)).await;
    h.verified(EMAIL).await;
    let login = json!({"identifier": EMAIL, "password": PASSWORD});
    let (_, first) = h
        .post_from("198.51.100.7", "/api/v1/login", login.clone())
        .await;
    assert_eq!(first["step"], "done", "{first}");
    h.clock.advance(MINUTE_MS);
    let (_, same) = h
        .post_from("198.51.100.8", "/api/v1/login", login.clone())
        .await;
    assert_eq!(same["step"], "done", "{same}");

    h.clock.advance(MINUTE_MS);
    let answer = h
        .post_from("203.0.113.5", "/api/v1/login", login.clone())
        .await;
    let token = held(&answer, "new_country");
    let message = h
        .outbox_texts()
        .into_iter()
        .rev()
        .find(|t| t.contains("confirmation code is"))
        .unwrap();
    assert!(message.contains("Country: FR"), "{message}");
    let code = h.confirmation_code();
    let (status, done) = h
        .post_from(
            "203.0.113.5",
            "/api/v1/login/confirm",
            json!({"confirmation_token": token, "code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["step"], "done");
    // FR is now a country this account logged in from.
    h.clock.advance(MINUTE_MS);
    let (_, later) = h.post_from("203.0.113.6", "/api/v1/login", login).await;
    assert_eq!(later["step"], "done", "{later}");
}

#[tokio::test]
async fn forgetting_every_device_keeps_confirmation_on() {
    let h = harness().await;
    h.verified(EMAIL).await;
    let (_, first) = h.login(EMAIL, PASSWORD).await;
    let token = first["session_token"].as_str().unwrap().to_string();
    let (_, devices) = h
        .send(Method::GET, "/api/v1/devices", None, Some(&token))
        .await;
    for device in devices["devices"].as_array().unwrap() {
        let path = format!("/api/v1/devices/{}", device["id"]);
        let (status, _) = h.send(Method::DELETE, &path, None, Some(&token)).await;
        assert_eq!(status, StatusCode::OK);
    }
    h.new_browser();
    h.clock.advance(MINUTE_MS);
    held(&h.login(EMAIL, PASSWORD).await, "new_device");
}

#[tokio::test]
async fn a_freeze_ends_unfinished_logins() {
    let h = harness().await;
    h.verified(EMAIL).await;
    let (_, first) = h.login(EMAIL, PASSWORD).await;
    let token = first["session_token"].as_str().unwrap().to_string();
    h.new_browser();
    h.clock.advance(MINUTE_MS);
    let waiting = held(&h.login(EMAIL, PASSWORD).await, "new_device");
    let code = h.confirmation_code();
    let (status, _) = h
        .send(Method::POST, "/api/v1/freeze", None, Some(&token))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h.confirm(&waiting, Some(&code)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "account_frozen");
}
