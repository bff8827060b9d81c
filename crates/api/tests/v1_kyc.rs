//! KYC (user side) and restricted regions through the `/api/v1` router: submissions with every
//! bad input refused by its own code and nothing stored, sealed fields and documents, one
//! pending application, L2 after L1, and sign-up/login refused from a restricted country
//! resolved through a trusted proxy's X-Forwarded-For (ignored from untrusted peers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use bulwark_accounts::access::Access;
use bulwark_accounts::crypto::MasterKey;
use bulwark_accounts::kyc::encode_image;
use bulwark_accounts::kyc_seal;
use bulwark_api::v1::{self, Accounts, V1State};
use bulwark_identity::TestClock;
use bulwark_identity::password::{HashParams, HashPool};
use bulwark_store::{Store, kyc_state};
use serde_json::{Value, json};
use tower::ServiceExt;

use common::{Harness, PASSWORD, T0};

const KEY: [u8; 32] = [7_u8; 32];
/// 192.0.3.0/24 is KP, 198.51.100.0/24 is DE in the fixture.
const KP_IP: &str = "192.0.3.9";
const DE_IP: &str = "198.51.100.7";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-test-image";
const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'];

async fn kyc_harness() -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let geoip = dir.path().join("geoip");
    std::fs::write(
        &geoip,
        "# test fixture\n3221226240,3221226495,KP\n3325256704,3325256959,DE\n",
    )
    .unwrap();
    let access = Access::from_config(
        Some(&geoip),
        &["KP", "US-NY"],
        &["127.0.0.1"],
        1_000,
        50_000,
    )
    .unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let clock = Arc::new(TestClock::new(T0));
    v1::ensure_agreement(&store, T0).await.unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let accounts = Accounts::new(
        &KEY,
        outbox.path().to_path_buf(),
        HashPool::new(HashParams::fast_insecure_for_tests(), 2, 16),
        clock.clone(),
        "http://bulwark.test".into(),
    )
    .unwrap();
    accounts.attach_access(Arc::new(access));
    let state = V1State {
        store: store.clone(),
        master_key: Arc::new(MasterKey::from_bytes(&KEY).unwrap()),
        accounts: Arc::new(accounts),
    };
    (
        Harness {
            app: v1::router(state),
            store,
            clock,
            outbox,
            device_cookie: std::sync::Mutex::new(None),
        },
        dir,
    )
}

/// One request from `peer` (default 127.0.0.1, a trusted proxy) with an optional
/// X-Forwarded-For and an optional raw body.
async fn send(
    h: &Harness,
    method: Method,
    path: &str,
    body: Option<String>,
    token: Option<&str>,
    forwarded_for: Option<&str>,
    peer: Option<&str>,
) -> (StatusCode, Value) {
    let peer: SocketAddr = format!("{}:5000", peer.unwrap_or("127.0.0.1"))
        .parse()
        .unwrap();
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .extension(ConnectInfo(peer));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    let body = match body {
        Some(text) => {
            request = request.header("content-type", "application/json");
            Body::from(text)
        }
        None => Body::empty(),
    };
    let response = h
        .app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(h: &Harness, path: &str, token: &str) -> (StatusCode, Value) {
    send(h, Method::GET, path, None, Some(token), None, None).await
}

async fn post(h: &Harness, path: &str, body: Value, token: &str) -> (StatusCode, Value) {
    send(
        h,
        Method::POST,
        path,
        Some(body.to_string()),
        Some(token),
        None,
        None,
    )
    .await
}

async fn session(h: &Harness, address: &str) -> (i64, String) {
    h.verified(address).await;
    let (status, body) = h.login(address, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = h
        .store
        .find_account_by_email(address)
        .await
        .unwrap()
        .unwrap()
        .id;
    (user, body["session_token"].as_str().unwrap().to_string())
}

fn l1_body() -> Value {
    json!({
        "full_name": "Ada  Lovelace",
        "date_of_birth": "1990-12-10",
        "nationality": "gb",
        "residence_country": "DE",
        "id_number": "c01x00t47",
        "id_document": encode_image(PNG),
    })
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

#[tokio::test]
async fn l1_bad_inputs_each_have_a_code_and_change_nothing() {
    let (h, _dir) = kyc_harness().await;
    let (user, token) = session(&h, "bad-kyc@example.com").await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            with(l1_body(), "full_name", json!("A")),
            StatusCode::BAD_REQUEST,
            "invalid_full_name",
        ),
        (
            with(l1_body(), "full_name", json!("x".repeat(300))),
            StatusCode::BAD_REQUEST,
            "field_too_long",
        ),
        (
            with(l1_body(), "date_of_birth", json!("1990-02-30")),
            StatusCode::BAD_REQUEST,
            "invalid_date_of_birth",
        ),
        (
            with(l1_body(), "date_of_birth", json!("10.12.1990")),
            StatusCode::BAD_REQUEST,
            "invalid_date_of_birth",
        ),
        (
            with(l1_body(), "date_of_birth", json!("2010-01-01")),
            StatusCode::BAD_REQUEST,
            "underage",
        ),
        (
            with(l1_body(), "date_of_birth", json!("2099-01-01")),
            StatusCode::BAD_REQUEST,
            "implausible_date_of_birth",
        ),
        (
            with(l1_body(), "nationality", json!("XX")),
            StatusCode::BAD_REQUEST,
            "invalid_country",
        ),
        (
            with(l1_body(), "residence_country", json!("Germany")),
            StatusCode::BAD_REQUEST,
            "invalid_country",
        ),
        (
            with(l1_body(), "residence_country", json!("Deutschland")),
            StatusCode::BAD_REQUEST,
            "field_too_long",
        ),
        (
            with(l1_body(), "residence_country", json!("DEU")),
            StatusCode::BAD_REQUEST,
            "invalid_country",
        ),
        (
            with(l1_body(), "residence_subdivision", json!("FR-75")),
            StatusCode::BAD_REQUEST,
            "invalid_subdivision",
        ),
        (
            with(l1_body(), "id_number", json!("a;b")),
            StatusCode::BAD_REQUEST,
            "invalid_id_number",
        ),
        (
            with(l1_body(), "id_document", json!("not base64!")),
            StatusCode::BAD_REQUEST,
            "invalid_base64",
        ),
        (
            with(
                l1_body(),
                "id_document",
                json!(encode_image(b"GIF89a-image")),
            ),
            StatusCode::BAD_REQUEST,
            "unsupported_image",
        ),
        (
            with(l1_body(), "id_document", json!("")),
            StatusCode::BAD_REQUEST,
            "empty_image",
        ),
        (
            with(
                l1_body(),
                "id_document",
                json!(encode_image(&vec![0xFF; 5 * 1024 * 1024 + 1])),
            ),
            StatusCode::BAD_REQUEST,
            "image_too_large",
        ),
        (
            with(l1_body(), "extra", json!(1)),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            with(l1_body(), "residence_country", json!("KP")),
            StatusCode::FORBIDDEN,
            "region_restricted",
        ),
        (
            with(
                with(l1_body(), "residence_country", json!("US")),
                "residence_subdivision",
                json!("NY"),
            ),
            StatusCode::FORBIDDEN,
            "region_restricted",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post(&h, "/api/v1/kyc/l1", body, &token).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{answer}"
        );
    }
    // Wrong content type, over-large body, no session.
    let (status, answer) = send(
        &h,
        Method::POST,
        "/api/v1/kyc/l1",
        None,
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_content_type")
        )
    );
    let huge = format!("{{\"full_name\":\"{}\"}}", "a".repeat(16 * 1024 * 1024));
    let (status, answer) = send(
        &h,
        Method::POST,
        "/api/v1/kyc/l1",
        Some(huge),
        Some(&token),
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    let (status, _) = send(
        &h,
        Method::POST,
        "/api/v1/kyc/l1",
        Some(l1_body().to_string()),
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing was stored.
    assert!(
        h.store
            .list_user_kyc_applications(user)
            .await
            .unwrap()
            .is_empty()
    );
    let profile = h.store.kyc_profile(user).await.unwrap().unwrap();
    assert_eq!(profile.residence_country, None);
}

#[tokio::test]
async fn l1_then_l2_sealed_one_pending_at_a_time() {
    let (h, _dir) = kyc_harness().await;
    let (user, token) = session(&h, "ada@example.com").await;
    let (status, body) = get(&h, "/api/v1/kyc", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tier"], "L0");
    assert_eq!(body["application"], Value::Null);
    assert_eq!(body["can_apply"], json!({"l1": true, "l2": false}));
    assert_eq!(
        body["permissions"],
        json!({"view": true, "deposit": true, "trade": false, "withdraw": false})
    );
    assert_eq!(body["limits"]["l1_withdraw_24h_usdt"], "1000");
    assert_eq!(body["limits"]["withdraw_24h_usdt"], "0");

    let (status, body) = post(
        &h,
        "/api/v1/kyc/l2",
        json!({"proof_of_address": encode_image(PNG), "selfie": encode_image(JPEG)}),
        &token,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("kyc_l1_required")),
        "{body}"
    );

    let (status, body) = post(&h, "/api/v1/kyc/l1", l1_body(), &token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "pending");
    assert_eq!(body["tier_requested"], "L1");
    let id = body["id"].as_i64().unwrap();
    let (status, body) = post(&h, "/api/v1/kyc/l1", l1_body(), &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("application_pending")),
        "{body}"
    );

    let (_, body) = get(&h, "/api/v1/kyc", &token).await;
    assert_eq!(body["application"]["state"], "pending");
    assert_eq!(body["application"]["id"], id);
    assert_eq!(body["can_apply"], json!({"l1": false, "l2": false}));
    assert_eq!(body["residence_country"], "DE");

    // Sealed at rest, bound to the applicant and the application.
    let key = MasterKey::from_bytes(&KEY).unwrap();
    let row = h.store.get_kyc_application(id).await.unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&row.fields_ciphertext).contains("Lovelace"));
    let fields = kyc_seal::open_kyc_fields(&key, &row).unwrap();
    assert_eq!(fields["full_name"], "Ada Lovelace");
    assert_eq!(fields["date_of_birth"], "1990-12-10");
    assert_eq!(fields["nationality"], "GB");
    assert_eq!(fields["id_number"], "C01X00T47");
    let documents = h.store.list_kyc_documents(id).await.unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].kind, "id_document");
    assert_eq!(documents[0].content_type, "image/png");
    assert_ne!(documents[0].ciphertext, PNG);
    assert_eq!(
        kyc_seal::open_kyc_document(&key, &row, &documents[0]).unwrap(),
        PNG
    );
    let mut moved = row.clone();
    moved.user_id += 1;
    assert!(kyc_seal::open_kyc_fields(&key, &moved).is_err());

    // A rejection shows its reason; then staff approve a new one and L2 opens.
    let reviewer = h.store.create_user("staff@example.com", T0).await.unwrap();
    assert!(
        h.store
            .decide_kyc_application(
                id,
                reviewer,
                kyc_state::REJECTED,
                Some("photo unreadable"),
                T0
            )
            .await
            .unwrap()
    );
    let (_, body) = get(&h, "/api/v1/kyc", &token).await;
    assert_eq!(body["application"]["state"], "rejected");
    assert_eq!(body["application"]["reason"], "photo unreadable");
    assert_eq!(body["can_apply"]["l1"], true);
    let (status, body) = post(&h, "/api/v1/kyc/l1", l1_body(), &token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let second = body["id"].as_i64().unwrap();
    assert!(
        h.store
            .decide_kyc_application(second, reviewer, kyc_state::APPROVED, None, T0)
            .await
            .unwrap()
    );
    let (_, body) = get(&h, "/api/v1/kyc", &token).await;
    assert_eq!(body["tier"], "L1");
    assert_eq!(body["permissions"]["trade"], true);
    assert_eq!(body["limits"]["withdraw_24h_usdt"], "1000");
    let (status, body) = post(&h, "/api/v1/kyc/l1", l1_body(), &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_verified")),
        "{body}"
    );

    let (status, body) = post(
        &h,
        "/api/v1/kyc/l2",
        json!({"proof_of_address": encode_image(PNG), "selfie": "@@"}),
        &token,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_base64")),
        "{body}"
    );
    let (status, body) = post(
        &h,
        "/api/v1/kyc/l2",
        json!({"proof_of_address": encode_image(PNG), "selfie": encode_image(JPEG)}),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let l2 = body["id"].as_i64().unwrap();
    let documents = h.store.list_kyc_documents(l2).await.unwrap();
    let kinds: Vec<_> = documents
        .iter()
        .map(|d| (d.kind.as_str(), d.content_type.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [("proof_of_address", "image/png"), ("selfie", "image/jpeg")]
    );
    assert_eq!(
        h.store
            .list_user_kyc_applications(user)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn restricted_residence_may_view_and_withdraw_only() {
    let (h, _dir) = kyc_harness().await;
    let (user, token) = session(&h, "resident@example.com").await;
    h.store.set_kyc_tier(user, 1).await.unwrap();
    h.store
        .set_residence_country(user, Some("KP"))
        .await
        .unwrap();
    let (status, body) = get(&h, "/api/v1/kyc", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["region_restricted"], true);
    assert_eq!(
        body["permissions"],
        json!({"view": true, "deposit": false, "trade": false, "withdraw": true})
    );
    assert!(body["restriction"].as_str().unwrap().contains("KP"));
    let (status, body) = post(
        &h,
        "/api/v1/kyc/l2",
        json!({"proof_of_address": encode_image(PNG), "selfie": encode_image(JPEG)}),
        &token,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("region_restricted")),
        "{body}"
    );
}

fn signup_body(address: &str) -> String {
    json!({"identifier": address, "password": PASSWORD, "agreement_version": "2025-01"}).to_string()
}

#[tokio::test]
async fn signup_and_login_refused_from_a_restricted_country() {
    let (h, _dir) = kyc_harness().await;
    // Through the trusted proxy (127.0.0.1), X-Forwarded-For names the client.
    let (status, body) = send(
        &h,
        Method::POST,
        "/api/v1/signup",
        Some(signup_body("kp@example.com")),
        None,
        Some(KP_IP),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("region_restricted")),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("KP"));
    assert!(
        h.store
            .find_account_by_email("kp@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // The client's own fake entry on the left is not believed; the proxy's right-most one is.
    let (status, body) = send(
        &h,
        Method::POST,
        "/api/v1/signup",
        Some(signup_body("kp2@example.com")),
        None,
        Some(&format!("{DE_IP}, {KP_IP}")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // From an untrusted peer the header is ignored: the peer (DE) counts.
    let (status, body) = send(
        &h,
        Method::POST,
        "/api/v1/signup",
        Some(signup_body("de@example.com")),
        None,
        Some(KP_IP),
        Some(DE_IP),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // Login from the restricted country is refused before any password work; from DE it works
    // and the activity row carries the country.
    h.verified("eve@example.com").await;
    let login = json!({"identifier": "eve@example.com", "password": PASSWORD}).to_string();
    let (status, body) = send(
        &h,
        Method::POST,
        "/api/v1/login",
        Some(login.clone()),
        None,
        Some(KP_IP),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("region_restricted")),
        "{body}"
    );
    let (status, body) = send(
        &h,
        Method::POST,
        "/api/v1/login",
        Some(login),
        None,
        Some(DE_IP),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["session_token"].as_str().unwrap().to_string();
    let (status, body) = send(
        &h,
        Method::GET,
        "/api/v1/activity",
        None,
        Some(&token),
        Some(DE_IP),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = body.to_string();
    assert!(text.contains("\"country\":\"DE\""), "{text}");
    assert!(text.contains(DE_IP), "{text}");
    // A logged-in user travelling to a restricted country sees it in /kyc.
    let (status, body) = send(
        &h,
        Method::GET,
        "/api/v1/kyc",
        None,
        Some(&token),
        Some(KP_IP),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["request_country"], "KP");
    assert_eq!(body["region_restricted"], true);
}

#[tokio::test]
async fn openapi_documents_the_kyc_routes() {
    let (h, _dir) = kyc_harness().await;
    let (status, body) = send(
        &h,
        Method::GET,
        "/api/v1/openapi.json",
        None,
        None,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for path in ["/api/v1/kyc", "/api/v1/kyc/l1", "/api/v1/kyc/l2"] {
        assert!(body["paths"][path].is_object(), "{path}");
    }
    let signup_errors =
        body["paths"]["/api/v1/signup"]["post"]["responses"]["default"]["description"]
            .as_str()
            .unwrap();
    assert!(
        signup_errors.contains("region_restricted"),
        "{signup_errors}"
    );
    let schema = &body["components"]["schemas"]["KycL1Request"]["properties"]["id_document"];
    assert_eq!(schema["contentEncoding"], "base64");
    let _ = h.clock_now();
}
