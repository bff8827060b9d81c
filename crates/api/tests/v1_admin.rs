//! The staff console API through the router: who gets in (staff, role, TOTP, a TOTP login),
//! KYC review with decrypted fields and documents, unlock, unfreeze and 2FA-reset review, each
//! audited with the staff user id.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use bulwark_accounts::admin;
use bulwark_accounts::crypto::MasterKey;
use bulwark_accounts::kyc_seal;
use bulwark_identity::clock::{MINUTE_MS, SECOND_MS};
use bulwark_identity::totp::{self, TotpSecret};
use bulwark_store::{LockoutRow, NewKycApplication, NewKycDocument};
use serde_json::{Value, json};
use tower::ServiceExt;

use common::{Harness, PASSWORD, harness};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really an image";

async fn user_id(h: &Harness, email: &str) -> i64 {
    h.store
        .find_account_by_email(email)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn password_session(h: &Harness, email: &str) -> String {
    let (status, body) = h.login(email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["step"], "done", "{body}");
    body["session_token"].as_str().unwrap().to_string()
}

async fn enrol_totp(h: &Harness, token: &str) -> TotpSecret {
    let (status, setup) = h
        .send(Method::POST, "/api/v1/2fa/totp/setup", None, Some(token))
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = TotpSecret::from_base32(setup["secret"].as_str().unwrap()).unwrap();
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

async fn totp_session(h: &Harness, email: &str, secret: &TotpSecret) -> String {
    h.clock.advance(30 * SECOND_MS);
    let (status, step1) = h.login(email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{step1}");
    let pre = step1["pre_auth_token"].as_str().unwrap();
    let code = totp::code_at(secret, h.clock_now()).unwrap();
    let (status, body) = h
        .post(
            "/api/v1/login/2fa",
            json!({"pre_auth_token": pre, "totp_code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["session_token"].as_str().unwrap().to_string()
}

/// A verified account with `roles`, TOTP on, and a session from a TOTP login.
async fn staff(h: &Harness, email: &str, roles: &[&str]) -> (i64, String) {
    h.verified(email).await;
    let id = user_id(h, email).await;
    for role in roles {
        admin::grant_role(&h.store, id, role, "test", h.clock_now())
            .await
            .unwrap();
    }
    let token = password_session(h, email).await;
    let secret = enrol_totp(h, &token).await;
    let token = totp_session(h, email, &secret).await;
    (id, token)
}

async fn get(h: &Harness, path: &str, token: &str) -> (StatusCode, Value) {
    h.send(Method::GET, path, None, Some(token)).await
}

async fn post(h: &Harness, path: &str, body: Value, token: &str) -> (StatusCode, Value) {
    h.send(Method::POST, path, Some(body), Some(token)).await
}

fn code(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["error"]["code"].as_str().unwrap_or(""))
}

/// Files a KYC application for `user_id` straight through the store (sealed like the
/// submission endpoint does).
async fn file_kyc(h: &Harness, user_id: i64, tier: i64) -> (i64, i64) {
    let key = MasterKey::from_bytes(&[7_u8; 32]).unwrap();
    let submitted_ms = h.clock_now();
    let mut fields = BTreeMap::new();
    fields.insert("full_name".to_string(), "Ada Lovelace".to_string());
    fields.insert("date_of_birth".to_string(), "1815-12-10".to_string());
    fields.insert("nationality".to_string(), "GB".to_string());
    let application = NewKycApplication {
        user_id,
        tier_requested: tier,
        submitted_ms,
        fields_ciphertext: kyc_seal::seal_fields(&key, user_id, submitted_ms, &fields).unwrap(),
    };
    let document = NewKycDocument {
        kind: "id_front".into(),
        content_type: "image/png".into(),
        ciphertext: kyc_seal::seal_document(&key, user_id, submitted_ms, "id_front", PNG).unwrap(),
        size_bytes: i64::try_from(PNG.len()).unwrap(),
    };
    let id = h
        .store
        .submit_kyc_application(&application, &[document])
        .await
        .unwrap();
    let document_id = h.store.list_kyc_documents(id).await.unwrap()[0].id;
    (id, document_id)
}

async fn audit_actions(h: &Harness, actor: &str) -> Vec<(String, Value)> {
    h.store
        .list_audit(1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.actor == actor)
        .map(|row| (row.action, serde_json::from_str(&row.params_json).unwrap()))
        .collect()
}

#[tokio::test]
async fn every_staff_route_is_routed_and_documented() {
    let h = harness().await;
    let document = bulwark_api::v1::openapi::document();
    for route in bulwark_api::v1::admin::ROUTES {
        let method = Method::from_bytes(route.method.to_uppercase().as_bytes()).unwrap();
        let path = route
            .path
            .replace("{id}", "1")
            .replace("{document_id}", "1");
        let (status, body) = h.send(method, &path, None, None).await;
        assert_ne!(body["error"]["code"], "not_found", "{}", route.path);
        assert_ne!(
            body["error"]["code"], "method_not_allowed",
            "{}",
            route.path
        );
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{} {status}",
            route.path
        );
        assert!(
            document["paths"][route.path][route.method].is_object(),
            "{} undocumented",
            route.path
        );
    }
    assert!(document["components"]["schemas"]["ReasonRequest"].is_object());
    let parameters =
        &document["paths"]["/api/v1/admin/kyc/{id}/documents/{document_id}"]["get"]["parameters"];
    assert_eq!(parameters[1]["name"], "document_id");
}

#[tokio::test]
async fn only_staff_with_role_totp_and_a_totp_login_get_in() {
    let h = harness().await;
    // Not logged in, then logged in but not staff.
    let (status, _) = h.send(Method::GET, "/api/v1/admin/kyc", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    h.verified("user@example.com").await;
    let user = password_session(&h, "user@example.com").await;
    let answer = get(&h, "/api/v1/admin/kyc", &user).await;
    assert_eq!(code(&answer), (StatusCode::FORBIDDEN, "not_staff"));

    // Staff without TOTP.
    h.verified("new-staff@example.com").await;
    let id = user_id(&h, "new-staff@example.com").await;
    admin::grant_role(&h.store, id, "compliance", "test", h.clock_now())
        .await
        .unwrap();
    let token = password_session(&h, "new-staff@example.com").await;
    let answer = get(&h, "/api/v1/admin/kyc", &token).await;
    assert_eq!(code(&answer), (StatusCode::FORBIDDEN, "staff_2fa_required"));
    // TOTP turned on, but this session never passed the TOTP step.
    let secret = enrol_totp(&h, &token).await;
    let answer = get(&h, "/api/v1/admin/kyc", &token).await;
    assert_eq!(
        code(&answer),
        (StatusCode::FORBIDDEN, "staff_2fa_session_required")
    );
    // A TOTP login gets in.
    let token = totp_session(&h, "new-staff@example.com", &secret).await;
    let (status, body) = get(&h, "/api/v1/admin/kyc", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, me) = get(&h, "/api/v1/admin/me", &token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["roles"], json!(["compliance"]));
    assert_eq!(me["capabilities"], json!(["kyc_review"]));

    // Wrong role: compliance cannot unfreeze, unlock or decide 2FA resets.
    let answer = post(&h, "/api/v1/admin/users/1/unfreeze", json!({}), &token).await;
    assert_eq!(
        code(&answer),
        (StatusCode::FORBIDDEN, "staff_role_required")
    );
    let unlock = json!({"identifier": "user@example.com"});
    let answer = post(&h, "/api/v1/admin/lockouts/unlock", unlock.clone(), &token).await;
    assert_eq!(
        code(&answer),
        (StatusCode::FORBIDDEN, "staff_role_required")
    );
    let answer = get(&h, "/api/v1/admin/2fa-resets", &token).await;
    assert_eq!(
        code(&answer),
        (StatusCode::FORBIDDEN, "staff_role_required")
    );

    // Support sees queues and unlocks, but reads no KYC personal data; treasury reviews
    // withdrawals only (custody's routes), none of these queues.
    let (_, support) = staff(&h, "support@example.com", &["support"]).await;
    let (status, _) = get(&h, "/api/v1/admin/kyc", &support).await;
    assert_eq!(status, StatusCode::OK);
    let answer = get(&h, "/api/v1/admin/kyc/1", &support).await;
    assert_eq!(
        code(&answer),
        (StatusCode::FORBIDDEN, "staff_role_required")
    );
    let (status, _) = post(&h, "/api/v1/admin/lockouts/unlock", unlock, &support).await;
    assert_eq!(status, StatusCode::OK);
    let (_, treasury) = staff(&h, "treasury@example.com", &["treasury"]).await;
    for path in [
        "/api/v1/admin/kyc",
        "/api/v1/admin/frozen",
        "/api/v1/admin/2fa-resets",
    ] {
        let answer = get(&h, path, &treasury).await;
        assert_eq!(
            code(&answer),
            (StatusCode::FORBIDDEN, "staff_role_required"),
            "{path}"
        );
    }

    // Revoking the last role ends staff access at once, on the same session.
    admin::revoke_role(&h.store, id, "compliance", "test", h.clock_now())
        .await
        .unwrap();
    let answer = get(&h, "/api/v1/admin/kyc", &token).await;
    assert_eq!(code(&answer), (StatusCode::FORBIDDEN, "not_staff"));
    let account = h.store.get_account(id).await.unwrap().unwrap();
    assert_eq!((account.is_staff, account.staff_roles.as_str()), (0, ""));
    let grants: Vec<String> = audit_actions(&h, "test")
        .await
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    assert!(grants.contains(&"staff.grant".to_string()));
    assert!(grants.contains(&"staff.revoke".to_string()));
    assert!(matches!(
        admin::grant_role(&h.store, id, "root", "test", 0).await,
        Err(admin::StaffOpError::UnknownRole(_))
    ));
}

#[tokio::test]
async fn kyc_review_decrypts_decides_emails_and_audits() {
    let h = harness().await;
    let (reviewer, token) = staff(&h, "compliance@example.com", &["compliance"]).await;
    h.verified("ada@example.com").await;
    let ada = user_id(&h, "ada@example.com").await;
    let (application, document) = file_kyc(&h, ada, 1).await;

    let (status, queue) = get(&h, "/api/v1/admin/kyc", &token).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["applications"][0]["id"], json!(application));
    assert_eq!(queue["applications"][0]["user_id"], json!(ada));

    let path = format!("/api/v1/admin/kyc/{application}");
    let (status, detail) = get(&h, &path, &token).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["fields"]["full_name"], "Ada Lovelace");
    assert_eq!(detail["applicant"]["email"], "ada@example.com");
    assert_eq!(detail["documents"][0]["content_type"], "image/png");
    let url = detail["documents"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!("/api/v1/admin/kyc/{application}/documents/{document}")
    );

    // The document: decrypted bytes, its content type, never cached.
    let request = Request::builder()
        .uri(&url)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(&bytes[..], PNG);
    // A document id of another application is not served through this one.
    let other = format!("/api/v1/admin/kyc/{application}/documents/{}", document + 1);
    let answer = get(&h, &other, &token).await;
    assert_eq!(code(&answer), (StatusCode::NOT_FOUND, "document_not_found"));

    // Reject needs a reason; approve sets the tier and emails the applicant.
    let reject = format!("{path}/reject");
    let answer = post(&h, &reject, json!({}), &token).await;
    assert_eq!(code(&answer), (StatusCode::BAD_REQUEST, "reason_required"));
    let answer = post(&h, &reject, json!({"reason": "   "}), &token).await;
    assert_eq!(code(&answer), (StatusCode::BAD_REQUEST, "reason_required"));
    let (status, body) = post(&h, &format!("{path}/approve"), json!({}), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kyc_tier"], 1);
    let account = h.store.get_account(ada).await.unwrap().unwrap();
    assert_eq!(account.kyc_tier, 1);
    let row = h
        .store
        .get_kyc_application(application)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.state.as_str(), row.reviewer_id),
        ("approved", Some(reviewer))
    );
    let mail = h
        .outbox_texts()
        .into_iter()
        .rev()
        .find(|t| t.contains("ada@example.com") && t.contains("identity verification"))
        .expect("a decision email");
    assert!(mail.contains("approved"), "{mail}");
    // Deciding twice is refused.
    let answer = post(&h, &reject, json!({"reason": "late"}), &token).await;
    assert_eq!(code(&answer), (StatusCode::CONFLICT, "not_pending"));

    // Every step is audited with the staff user id.
    let actor = format!("staff:{reviewer}");
    let audited = audit_actions(&h, &actor).await;
    let actions: Vec<&str> = audited.iter().map(|(a, _)| a.as_str()).collect();
    for action in ["kyc.view", "kyc.document_view", "kyc.approved"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(
        audited
            .iter()
            .all(|(_, params)| params["staff_user_id"] == json!(reviewer))
    );
}

#[tokio::test]
async fn reject_and_resubmit_carry_the_reason_and_the_applicant_never_reviews() {
    let h = harness().await;
    let (reviewer, token) = staff(&h, "admin@example.com", &["admin"]).await;
    h.verified("bob@example.com").await;
    let bob = user_id(&h, "bob@example.com").await;

    // The reviewer's own application: refused to read and to decide.
    let (own, _) = file_kyc(&h, reviewer, 1).await;
    let path = format!("/api/v1/admin/kyc/{own}");
    let answer = get(&h, &path, &token).await;
    assert_eq!(code(&answer), (StatusCode::FORBIDDEN, "own_application"));
    let answer = post(&h, &format!("{path}/approve"), json!({}), &token).await;
    assert_eq!(code(&answer), (StatusCode::FORBIDDEN, "own_application"));
    let row = h.store.get_kyc_application(own).await.unwrap().unwrap();
    assert_eq!(row.state, "pending");
    let (_, queue) = get(&h, "/api/v1/admin/kyc", &token).await;
    assert_eq!(queue["applications"][0]["own"], true);

    let (application, _) = file_kyc(&h, bob, 2).await;
    let path = format!("/api/v1/admin/kyc/{application}/resubmit");
    let reason = "The photo of the ID is blurred";
    let (status, body) = post(&h, &path, json!({"reason": reason}), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let row = h
        .store
        .get_kyc_application(application)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.state.as_str(), row.reason.as_deref()),
        ("resubmit", Some(reason))
    );
    assert_eq!(h.store.get_account(bob).await.unwrap().unwrap().kyc_tier, 0);
    let mail = h
        .outbox_texts()
        .into_iter()
        .rev()
        .find(|t| t.contains("bob@example.com") && t.contains("identity verification"))
        .expect("a decision email");
    assert!(mail.contains(reason), "{mail}");

    let (second, _) = file_kyc(&h, bob, 2).await;
    let path = format!("/api/v1/admin/kyc/{second}/reject");
    let (status, body) = post(&h, &path, json!({"reason": "Document expired"}), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let actions: Vec<String> = audit_actions(&h, &format!("staff:{reviewer}"))
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert!(actions.contains(&"kyc.resubmit".to_string()));
    assert!(actions.contains(&"kyc.rejected".to_string()));
    let answer = get(&h, "/api/v1/admin/kyc/999999", &token).await;
    assert_eq!(
        code(&answer),
        (StatusCode::NOT_FOUND, "application_not_found")
    );
}

#[tokio::test]
async fn unlock_clears_time_locks_but_not_the_reset_only_lock() {
    let h = harness().await;
    let (support, token) = staff(&h, "support@example.com", &["support"]).await;
    h.verified("locked@example.com").await;
    let locked = user_id(&h, "locked@example.com").await;
    let now = h.clock_now();
    let key = bulwark_accounts::attempts::lock_key("locked@example.com");
    h.store
        .put_lockout(&LockoutRow {
            lock_key: key.clone(),
            failures: 10,
            lock_level: 1,
            locked_until_ms: now + 15 * MINUTE_MS,
            reset_required: 0,
            last_failure_ms: now,
        })
        .await
        .unwrap();
    // Locked: even the right password is refused (with the uniform answer).
    let (status, _) = h.login("locked@example.com", PASSWORD).await;
    assert_ne!(status, StatusCode::OK);

    let lookup = json!({"identifier": "LOCKED@example.com"});
    let (status, body) = post(&h, "/api/v1/admin/lockouts/lookup", lookup.clone(), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], json!(locked));
    assert_eq!(body["locks"][0]["locked_now"], true);
    assert_eq!(body["locks"][0]["failures"], 10);

    let (status, body) = post(&h, "/api/v1/admin/lockouts/unlock", lookup.clone(), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cleared"], json!(["password:locked@example.com"]));
    assert!(h.store.get_lockout(&key).await.unwrap().is_none());
    let (status, body) = h.login("locked@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The lock after 100 failures stays: only a password reset with 2FA lifts it.
    h.store
        .put_lockout(&LockoutRow {
            lock_key: key.clone(),
            failures: 100,
            lock_level: 5,
            locked_until_ms: 0,
            reset_required: 1,
            last_failure_ms: now,
        })
        .await
        .unwrap();
    let (status, body) = post(&h, "/api/v1/admin/lockouts/unlock", lookup, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cleared"], json!([]));
    assert_eq!(
        body["reset_required"],
        json!(["password:locked@example.com"])
    );
    assert!(h.store.get_lockout(&key).await.unwrap().is_some());

    let answer = post(
        &h,
        "/api/v1/admin/lockouts/unlock",
        json!({"identifier": "not an identifier"}),
        &token,
    )
    .await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST);
    let audited = audit_actions(&h, &format!("staff:{support}")).await;
    let unlocks: Vec<&Value> = audited
        .iter()
        .filter(|(a, _)| a == "lockout.unlock")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(unlocks.len(), 2);
    assert_eq!(unlocks[0]["user_id"], json!(locked));
}

#[tokio::test]
async fn frozen_accounts_are_listed_and_unfrozen_once() {
    let h = harness().await;
    let (security, token) = staff(&h, "security@example.com", &["security"]).await;
    h.verified("frozen@example.com").await;
    let frozen = user_id(&h, "frozen@example.com").await;
    let session = password_session(&h, "frozen@example.com").await;
    let (status, body) = h
        .send(Method::POST, "/api/v1/freeze", None, Some(&session))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = get(&h, "/api/v1/admin/frozen", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accounts"][0]["user_id"], json!(frozen));
    assert_eq!(body["accounts"][0]["email"], "frozen@example.com");

    let path = format!("/api/v1/admin/users/{frozen}/unfreeze");
    let (status, body) = post(&h, &path, json!({}), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = post(&h, &path, json!({}), &token).await;
    assert_eq!(code(&answer), (StatusCode::CONFLICT, "not_frozen"));
    let answer = post(&h, "/api/v1/admin/users/999999/unfreeze", json!({}), &token).await;
    assert_eq!(code(&answer), (StatusCode::NOT_FOUND, "user_not_found"));
    let (status, _) = h.login("frozen@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = get(&h, "/api/v1/admin/frozen", &token).await;
    assert_eq!(body["accounts"], json!([]));
    let audited = audit_actions(&h, &format!("staff:{security}")).await;
    assert!(
        audited
            .iter()
            .any(|(a, p)| a == "user.unfreeze" && p["user_id"] == json!(frozen))
    );
}

#[tokio::test]
async fn twofa_resets_are_reviewed_never_by_the_requester() {
    let h = harness().await;
    let (security, token) = staff(&h, "security@example.com", &["security"]).await;
    h.verified("lost@example.com").await;
    let lost = user_id(&h, "lost@example.com").await;
    let now = h.clock_now();
    let request = h
        .store
        .insert_twofa_reset(lost, now, now + 48 * 60 * MINUTE_MS)
        .await
        .unwrap();
    let own = h
        .store
        .insert_twofa_reset(security, now, now + 48 * 60 * MINUTE_MS)
        .await
        .unwrap();

    let (status, body) = get(&h, "/api/v1/admin/2fa-resets", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ids: Vec<i64> = body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![request, own]);

    let answer = post(
        &h,
        &format!("/api/v1/admin/2fa-resets/{own}/approve"),
        json!({}),
        &token,
    )
    .await;
    assert_eq!(code(&answer), (StatusCode::FORBIDDEN, "own_request"));
    let path = format!("/api/v1/admin/2fa-resets/{request}/approve");
    let (status, body) = post(&h, &path, json!({"reason": "ID matches"}), &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "approved");
    let answer = post(&h, &path, json!({}), &token).await;
    assert_eq!(code(&answer), (StatusCode::CONFLICT, "not_pending"));
    let row = h.store.get_twofa_reset(request).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.reviewer_id),
        ("approved", Some(security))
    );
    let answer = post(
        &h,
        "/api/v1/admin/2fa-resets/999999/reject",
        json!({}),
        &token,
    )
    .await;
    assert_eq!(code(&answer), (StatusCode::NOT_FOUND, "request_not_found"));
    let audited = audit_actions(&h, &format!("staff:{security}")).await;
    assert!(
        audited
            .iter()
            .any(|(a, p)| a == "twofa_reset.approve" && p["id"] == json!(request))
    );
}

#[tokio::test]
async fn cookie_requests_from_another_site_are_refused() {
    let h = harness().await;
    let (_, token) = staff(&h, "admin@example.com", &["admin"]).await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/admin/lockouts/unlock")
        .header(
            header::COOKIE,
            format!("{}={token}", bulwark_api::v1::sessions::SESSION_COOKIE),
        )
        .header("sec-fetch-site", "cross-site")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"identifier": "a@example.com"}).to_string(),
        ))
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"]["code"], "csrf_rejected");
}
