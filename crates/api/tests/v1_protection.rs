//! Recovery and protection endpoints through the router with an in-memory store and an
//! injected clock: password reset and change, anti-phishing code, freeze.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::http::{Method, StatusCode};
use bulwark_identity::clock::MINUTE_MS;
use bulwark_identity::totp;
use serde_json::{Value, json};

use common::{Harness, PASSWORD, harness};

impl Harness {
    async fn session(&self, address: &str) -> String {
        let (status, body) = self.login(address, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["session_token"].as_str().unwrap().to_string()
    }

    fn reset_token(&self) -> String {
        let text = self
            .outbox_texts()
            .into_iter()
            .rev()
            .find(|t| t.contains("reset code: "))
            .expect("a reset message");
        let at = text.find("reset code: ").unwrap() + "reset code: ".len();
        text[at..].split_whitespace().next().unwrap().to_string()
    }

    async fn me(&self, token: &str) -> (StatusCode, Value) {
        self.send(Method::GET, "/api/v1/me", None, Some(token))
            .await
    }
}

const NEW_PASSWORD: &str = "a brand new long passphrase 77";

#[tokio::test]
async fn forgot_and_reset_password() {
    let h = harness().await;
    h.verified("r@example.com").await;
    let session = h.session("r@example.com").await;
    let (status, known) = h
        .post(
            "/api/v1/password/forgot",
            json!({"identifier": "r@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, unknown) = h
        .post(
            "/api/v1/password/forgot",
            json!({"identifier": "nobody@example.com"}),
        )
        .await;
    assert_eq!((status, &unknown), (StatusCode::ACCEPTED, &known));
    let token = h.reset_token();
    let (status, body) = h
        .post(
            "/api/v1/password/reset",
            json!({"token": token, "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("weak_password"))
    );
    let (status, body) = h
        .post(
            "/api/v1/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["withdrawals_allowed_after_ms"],
        json!(h.clock_now() + 24 * 60 * MINUTE_MS)
    );
    // Single use; every session ended; the new password works, the old one does not.
    let (_, body) = h
        .post(
            "/api/v1/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(body["error"]["code"], "invalid_token");
    assert_eq!(h.me(&session).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.login("r@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    h.clock.advance(MINUTE_MS);
    let (status, body) = h.login("r@example.com", NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        h.outbox_texts()
            .iter()
            .any(|t| t.contains("password of your Bulwark account was reset"))
    );
    // Tokens expire after 30 minutes.
    h.post(
        "/api/v1/password/forgot",
        json!({"identifier": "r@example.com"}),
    )
    .await;
    let token = h.reset_token();
    h.clock.advance(31 * MINUTE_MS);
    let (_, body) = h
        .post(
            "/api/v1/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(body["error"]["code"], "invalid_token");
}

async fn enable_totp(h: &Harness, token: &str) -> totp::TotpSecret {
    let (status, setup) = h
        .send(Method::POST, "/api/v1/2fa/totp/setup", None, Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = totp::TotpSecret::from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let code = totp::code_at(&secret, h.clock_now()).unwrap();
    let (status, body) = h
        .send(
            Method::POST,
            "/api/v1/2fa/totp/confirm",
            Some(json!({"code": code})),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    secret
}

#[tokio::test]
async fn reset_still_needs_the_second_factor() {
    let h = harness().await;
    h.verified("t@example.com").await;
    let session = h.session("t@example.com").await;
    let secret = enable_totp(&h, &session).await;
    h.clock.advance(MINUTE_MS);
    h.post(
        "/api/v1/password/forgot",
        json!({"identifier": "t@example.com"}),
    )
    .await;
    let token = h.reset_token();
    let (status, body) = h
        .post(
            "/api/v1/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("second_factor_required"))
    );
    let code = totp::code_at(&secret, h.clock_now()).unwrap();
    let (status, body) = h
        .post(
            "/api/v1/password/reset",
            json!({"token": token, "new_password": NEW_PASSWORD, "totp_code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn change_password_keeps_only_this_session() {
    let h = harness().await;
    h.verified("c@example.com").await;
    let other = h.session("c@example.com").await;
    let current = h.session("c@example.com").await;
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    h.clock.advance(11 * MINUTE_MS);
    let (_, refused) = h
        .send(
            Method::POST,
            "/api/v1/password/change",
            Some(body.clone()),
            Some(&current),
        )
        .await;
    assert_eq!(refused["error"]["code"], "reauth_required");
    let (_, reauth) = h
        .send(
            Method::POST,
            "/api/v1/reauth",
            Some(json!({"password": PASSWORD})),
            Some(&current),
        )
        .await;
    let current = reauth["session_token"].as_str().unwrap().to_string();
    let wrong =
        json!({"current_password": "not the password at all", "new_password": NEW_PASSWORD});
    let (_, refused) = h
        .send(
            Method::POST,
            "/api/v1/password/change",
            Some(wrong),
            Some(&current),
        )
        .await;
    assert_eq!(refused["error"]["code"], "invalid_credentials");
    // A wrong current password counts like a wrong login: the next try waits a second.
    h.clock.advance(1_000);
    let (status, changed) = h
        .send(
            Method::POST,
            "/api/v1/password/change",
            Some(body),
            Some(&current),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["sessions_revoked"], 1);
    assert_eq!(h.me(&current).await.0, StatusCode::OK);
    assert_eq!(h.me(&other).await.0, StatusCode::UNAUTHORIZED);
    let (_, me) = h.me(&current).await;
    assert_eq!(
        me["withdrawals_allowed_after_ms"],
        json!(h.clock_now() + 24 * 60 * MINUTE_MS)
    );
}

#[tokio::test]
async fn anti_phishing_code_appears_in_later_mail() {
    let h = harness().await;
    h.verified("p@example.com").await;
    let session = h.session("p@example.com").await;
    let (_, bad) = h
        .send(
            Method::PUT,
            "/api/v1/anti-phishing",
            Some(json!({"code": "no!"})),
            Some(&session),
        )
        .await;
    assert_eq!(bad["error"]["code"], "invalid_anti_phishing_code");
    let (status, body) = h
        .send(
            Method::PUT,
            "/api/v1/anti-phishing",
            Some(json!({"code": "Blue_Heron42"})),
            Some(&session),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.post(
        "/api/v1/password/forgot",
        json!({"identifier": "p@example.com"}),
    )
    .await;
    let last = h
        .outbox_texts()
        .into_iter()
        .rev()
        .find(|t| t.contains("reset code: "))
        .unwrap();
    assert!(last.contains("Blue_Heron42"), "{last}");
    // With TOTP on, the code is also required.
    let secret = enable_totp(&h, &session).await;
    h.clock.advance(MINUTE_MS);
    let (_, refused) = h
        .send(
            Method::PUT,
            "/api/v1/anti-phishing",
            Some(json!({"code": "Other_1"})),
            Some(&session),
        )
        .await;
    assert_eq!(refused["error"]["code"], "second_factor_required");
    let code = totp::code_at(&secret, h.clock_now()).unwrap();
    let (status, body) = h
        .send(
            Method::PUT,
            "/api/v1/anti-phishing",
            Some(json!({"code": "Other_1", "totp_code": code})),
            Some(&session),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

impl Harness {
    fn freeze_token(&self) -> String {
        let text = self.outbox_texts().into_iter().last().expect("a message");
        let at = text.find("freeze?token=").unwrap() + "freeze?token=".len();
        text[at..].split_whitespace().next().unwrap().to_string()
    }
}

#[tokio::test]
async fn freeze_by_link_and_from_a_session() {
    let h = harness().await;
    h.verified("f@example.com").await;
    let session = h.session("f@example.com").await;
    h.post(
        "/api/v1/password/forgot",
        json!({"identifier": "f@example.com"}),
    )
    .await;
    let token = h.freeze_token();
    let path = format!("/api/v1/freeze/{token}");
    let (status, body) = h.send(Method::GET, &path, None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("valid"))
    );
    let (status, body) = h.send(Method::POST, &path, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions_revoked"], 1);
    let (status, body) = h.send(Method::POST, &path, None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("invalid_token"))
    );
    assert_eq!(h.me(&session).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = h.login("f@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        h.outbox_texts()
            .iter()
            .any(|t| t.contains("account was frozen"))
    );
    // From a session.
    h.verified("g@example.com").await;
    let session = h.session("g@example.com").await;
    let (status, body) = h
        .send(Method::POST, "/api/v1/freeze", None, Some(&session))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("frozen"))
    );
    assert_eq!(h.me(&session).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.login("g@example.com", PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn api_keys_self_service() {
    let h = harness().await;
    h.verified("k@example.com").await;
    h.verified("other@example.com").await;
    let session = h.session("k@example.com").await;
    let other = h.session("other@example.com").await;
    let path = "/api/v1/api-keys";
    let (_, bad) = h
        .send(
            Method::POST,
            path,
            Some(json!({"memo": "bad memo"})),
            Some(&session),
        )
        .await;
    assert_eq!(bad["error"]["code"], "invalid_memo");
    let (_, bad) = h
        .send(
            Method::POST,
            path,
            Some(json!({"memo": "w", "scopes": ["withdraw"]})),
            Some(&session),
        )
        .await;
    assert_eq!(bad["error"]["code"], "ip_required");
    let (status, created) = h
        .send(
            Method::POST,
            path,
            Some(json!({"memo": "bot_1", "scopes": ["read", "trade"]})),
            Some(&session),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["secret"].as_str().unwrap().len(), 64);
    assert_eq!(created["withdrawals_allowed_after_ms"], Value::Null);
    let id = created["id"].as_i64().unwrap();
    let (_, listed) = h.send(Method::GET, path, None, Some(&session)).await;
    assert_eq!(listed["api_keys"].as_array().unwrap().len(), 1);
    assert!(listed["api_keys"][0].get("secret").is_none());
    assert_eq!(listed["api_keys"][0]["scopes"], json!(["read", "trade"]));
    let key_path = format!("{path}/{id}");
    let (status, edited) = h
        .send(
            Method::PATCH,
            &key_path,
            Some(json!({"ip_allowlist": ["10.0.0.0/8"]})),
            Some(&session),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["ip_allowlist"], json!(["10.0.0.0/8"]));
    // Someone else's key is not found.
    let (status, _) = h.send(Method::DELETE, &key_path, None, Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .send(Method::DELETE, &key_path, None, Some(&session))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .send(Method::DELETE, &key_path, None, Some(&session))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A withdraw key locks withdrawals for 24 hours.
    let body = json!({"memo": "w", "scopes": ["read", "withdraw"], "ip_allowlist": ["1.2.3.4"]});
    let (status, created) = h.send(Method::POST, path, Some(body), Some(&session)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["withdrawals_allowed_after_ms"],
        json!(h.clock_now() + 24 * 60 * MINUTE_MS)
    );
    // At most 20 live keys.
    for n in 1..20 {
        let (status, body) = h
            .send(
                Method::POST,
                path,
                Some(json!({"memo": format!("k{n}")})),
                Some(&session),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{n} {body}");
    }
    let (status, body) = h
        .send(
            Method::POST,
            path,
            Some(json!({"memo": "one_more"})),
            Some(&session),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_api_keys"))
    );
    // Re-authentication is required after 10 minutes.
    h.clock.advance(11 * MINUTE_MS);
    let (_, body) = h
        .send(
            Method::DELETE,
            &format!("{path}/{}", created["id"]),
            None,
            Some(&session),
        )
        .await;
    assert_eq!(body["status"], "deleted", "delete needs only the session");
    let (_, body) = h
        .send(
            Method::POST,
            path,
            Some(json!({"memo": "late"})),
            Some(&session),
        )
        .await;
    assert_eq!(body["error"]["code"], "reauth_required");
}

impl Harness {
    fn reset_code(&self) -> String {
        let text = self
            .outbox_texts()
            .into_iter()
            .rev()
            .find(|t| t.contains("2FA reset code is "))
            .expect("a reset code");
        let at = text.find("2FA reset code is ").unwrap() + "2FA reset code is ".len();
        text[at..at + 6].to_string()
    }

    async fn file_reset(&self, address: &str) -> (StatusCode, Value) {
        let creds = json!({"identifier": address, "password": PASSWORD});
        let (status, body) = self.post("/api/v1/2fa/reset-request/codes", creds).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let code = self.reset_code();
        self.post(
            "/api/v1/2fa/reset-request",
            json!({"identifier": address, "password": PASSWORD, "email_code": code, "kyc_note": "passport on file"}),
        )
        .await
    }
}

#[tokio::test]
async fn lost_second_factor_reset() {
    let h = harness().await;
    h.verified("z@example.com").await;
    h.verified("staff@example.com").await;
    let session = h.session("z@example.com").await;
    enable_totp(&h, &session).await;
    let (_, wrong) = h
        .post(
            "/api/v1/2fa/reset-request/codes",
            json!({"identifier": "z@example.com", "password": "not the password at all"}),
        )
        .await;
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
    h.clock.advance(MINUTE_MS);
    let (_, missing) = h
        .post(
            "/api/v1/2fa/reset-request",
            json!({"identifier": "z@example.com", "password": PASSWORD, "kyc_note": "x"}),
        )
        .await;
    assert_eq!(missing["error"]["code"], "codes_required");
    let (status, filed) = h.file_reset("z@example.com").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{filed}");
    assert_eq!(
        filed["effective_at_ms"],
        json!(h.clock_now() + 48 * 60 * MINUTE_MS)
    );
    // Cancelled from the logged-in session.
    let (status, body) = h
        .send(
            Method::POST,
            "/api/v1/2fa/reset-request/cancel",
            None,
            Some(&session),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("cancelled")),
        "{body}"
    );
    // Cancelled with the emailed token.
    h.clock.advance(MINUTE_MS);
    let (status, _) = h.file_reset("z@example.com").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let text = h
        .outbox_texts()
        .into_iter()
        .rev()
        .find(|t| t.contains("cancel code: "))
        .unwrap();
    let at = text.find("cancel code: ").unwrap() + "cancel code: ".len();
    let token = text[at..]
        .split(|c: char| c == ')' || c.is_whitespace())
        .next()
        .unwrap()
        .to_string();
    let (status, body) = h
        .post("/api/v1/2fa/reset-request/cancel", json!({"token": token}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Approved by staff, applied at the next login after 48 hours.
    h.clock.advance(MINUTE_MS);
    let (_, filed) = h.file_reset("z@example.com").await;
    let id = filed["id"].as_i64().unwrap();
    let staff = h
        .store
        .find_account_by_email("staff@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(
        h.store
            .decide_twofa_reset(id, staff, true, None, h.clock_now())
            .await
            .unwrap()
    );
    let (_, early) = h.login("z@example.com", PASSWORD).await;
    assert_eq!(early["step"], "second_factor_required", "not before 48 h");
    h.clock.advance(48 * 60 * MINUTE_MS);
    let (status, body) = h.login("z@example.com", PASSWORD).await;
    assert_eq!(
        (status, body["step"].as_str()),
        (StatusCode::OK, Some("done")),
        "{body}"
    );
    let token = body["session_token"].as_str().unwrap().to_string();
    let (_, me) = h.me(&token).await;
    assert_eq!(me["totp_enabled"], false);
    assert_eq!(me["recovery_codes_remaining"], 0);
    assert_eq!(
        me["withdrawals_allowed_after_ms"],
        json!(h.clock_now() + 72 * 60 * MINUTE_MS)
    );
}

#[tokio::test]
async fn regenerating_recovery_codes_voids_the_old_ones() {
    let h = harness().await;
    h.verified("rc@example.com").await;
    let session = h.session("rc@example.com").await;
    let regenerate = |body: Value| {
        h.send(
            Method::POST,
            "/api/v1/2fa/recovery-codes",
            Some(body),
            Some(&session),
        )
    };
    let (status, body) = regenerate(json!({"totp_code": "123456"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "totp_not_enabled");

    let (status, setup) = h
        .send(Method::POST, "/api/v1/2fa/totp/setup", None, Some(&session))
        .await;
    assert_eq!(status, StatusCode::OK);
    let secret = totp::TotpSecret::from_base32(setup["secret"].as_str().unwrap()).unwrap();
    let (_, enabled) = h
        .send(
            Method::POST,
            "/api/v1/2fa/totp/confirm",
            Some(json!({"code": totp::code_at(&secret, h.clock_now()).unwrap()})),
            Some(&session),
        )
        .await;
    let old: Vec<String> = serde_json::from_value(enabled["recovery_codes"].clone()).unwrap();

    let (status, body) = regenerate(json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "second_factor_required");
    h.clock.advance(MINUTE_MS);
    let code = totp::code_at(&secret, h.clock_now()).unwrap();
    let (status, body) = regenerate(json!({"totp_code": code})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new: Vec<String> = serde_json::from_value(body["recovery_codes"].clone()).unwrap();
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    assert!(
        h.outbox_texts()
            .iter()
            .any(|t| t.contains("New recovery codes were made"))
    );

    // An old code no longer logs in; a new one does.
    h.clock.advance(MINUTE_MS);
    let (_, step) = h.login("rc@example.com", PASSWORD).await;
    let pre_auth = step["pre_auth_token"].as_str().unwrap();
    let (status, body) = h
        .post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre_auth, "recovery_code": old[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    h.clock.advance(MINUTE_MS);
    let (status, body) = h
        .post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre_auth, "recovery_code": new[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["step"], "done");
}

#[tokio::test]
async fn a_correct_login_after_failures_is_explained_in_the_security_events() {
    let h = harness().await;
    h.verified("fails@example.com").await;
    for _ in 0..10 {
        h.clock.advance(2 * MINUTE_MS);
        let (status, _) = h.login("fails@example.com", "a wrong password 99").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The tenth failure locked the account for 15 minutes; afterwards the right password works.
    h.clock.advance(16 * MINUTE_MS);
    let session = h.session("fails@example.com").await;
    let (_, activity) = h
        .send(Method::GET, "/api/v1/activity", None, Some(&session))
        .await;
    let event = activity["security_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "failed_logins_before_this_one")
        .expect("an explanation");
    let detail = event["detail"].as_str().unwrap();
    assert!(detail.starts_with("10 wrong passwords"), "{detail}");
    assert!(detail.contains("locked until"), "{detail}");
}

#[tokio::test]
async fn parallel_second_factor_guesses_are_counted_one_at_a_time() {
    let h = harness().await;
    h.verified("race@example.com").await;
    let session = h.session("race@example.com").await;
    enable_totp(&h, &session).await;
    h.clock.advance(MINUTE_MS);
    let (_, step) = h.login("race@example.com", PASSWORD).await;
    let pre_auth = step["pre_auth_token"].as_str().unwrap().to_string();
    let guess = |code: &'static str| {
        h.post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre_auth, "totp_code": code}),
        )
    };
    let answers = tokio::join!(
        guess("000001"),
        guess("000002"),
        guess("000003"),
        guess("000004"),
        guess("000005"),
        guess("000006"),
    );
    let answers = [
        answers.0, answers.1, answers.2, answers.3, answers.4, answers.5,
    ];
    let checked = answers
        .iter()
        .filter(|(_, body)| body["error"]["code"] == "invalid_code")
        .count();
    let waited = answers
        .iter()
        .filter(|(_, body)| body["error"]["code"] == "try_later")
        .count();
    // The first wrong code starts a delay; the other five meet it instead of being checked.
    assert_eq!((checked, waited), (1, 5), "{answers:?}");
}
