//! The operator API through its router on a started exchange (real engine, journal, projector
//! and SQLite store in a temporary data directory). Method: send the requests the admin CLI
//! sends and check answers, balances, idempotency, bad input and the audit trail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bulwark_server::config::Config;
use bulwark_server::serve::{self, Running};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn exchange(dir: &tempfile::TempDir) -> Running {
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    serve::start(&config).await.unwrap()
}

async fn send(
    router: &Router,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(value) => {
            request = request.header("content-type", "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let response = router
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_operator_token_opens_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let running = exchange(&dir).await;
    let admin = running.admin.clone();
    let token = running.admin_token.to_string();
    let path = "/admin/v1/engine";
    let (status, body) = send(&admin, None, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = format!("{token}x");
    let (status, _) = send(&admin, Some(&wrong), Method::GET, path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = send(&admin, Some(&token), Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["last_seq"].as_u64().unwrap() > 0,
        "genesis ran: {body}"
    );
    let (status, body) = send(&admin, Some(&token), Method::GET, "/admin/v1/nope", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // The admin routes are not on the public listener.
    let (status, _) = send(&running.public, Some(&token), Method::GET, path, None).await;
    assert_ne!(status, StatusCode::OK);
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_credit_once_and_the_read_models_agree() {
    let dir = tempfile::tempdir().unwrap();
    let running = exchange(&dir).await;
    let admin = running.admin.clone();
    let token = running.admin_token.to_string();
    let t = Some(token.as_str());
    let (status, created) = send(
        &admin,
        t,
        Method::POST,
        "/admin/v1/users",
        Some(json!({"email": "Bot@Example.com", "kyc_tier": "L1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let user = created["user_id"].as_i64().unwrap();
    let (status, taken) = send(
        &admin,
        t,
        Method::POST,
        "/admin/v1/users",
        Some(json!({"email": "bot@example.com"})),
    )
    .await;
    assert_eq!(
        (status, taken["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("email_taken"))
    );

    let deposit =
        json!({"user_id": user, "asset": "USDT", "amount": "1250.5", "reference": "wire-1"});
    let (status, first) = send(
        &admin,
        t,
        Method::POST,
        "/admin/v1/deposits",
        Some(deposit.clone()),
    )
    .await;
    assert_eq!(
        (status, first["status"].as_str()),
        (StatusCode::OK, Some("credited")),
        "{first}"
    );
    // A retry (same reference, so the same command id) answers with the first outcome and
    // credits nothing more (checked on the balance below).
    let (status, again) = send(&admin, t, Method::POST, "/admin/v1/deposits", Some(deposit)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    for (bad, code) in [
        (
            json!({"user_id": user, "asset": "USDT", "amount": "-1", "reference": "r2"}),
            "invalid_amount",
        ),
        (
            json!({"user_id": user, "asset": "USDT", "amount": "1.123456789", "reference": "r3"}),
            "invalid_amount",
        ),
        (
            json!({"user_id": user, "asset": "DOGE", "amount": "1", "reference": "r4"}),
            "unknown_asset",
        ),
        (
            json!({"user_id": user, "asset": "USDT", "amount": "1", "reference": ""}),
            "invalid_reference",
        ),
    ] {
        let (status, body) = send(&admin, t, Method::POST, "/admin/v1/deposits", Some(bad)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}"
        );
    }
    let unknown = json!({"user_id": 999_999, "asset": "USDT", "amount": "1", "reference": "r5"});
    let (status, body) = send(&admin, t, Method::POST, "/admin/v1/deposits", Some(unknown)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_user"))
    );

    let path = format!("/admin/v1/balances?user_id={user}");
    let (_, balances) = send(&admin, t, Method::GET, &path, None).await;
    let usdt = balances["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == "USDT")
        .unwrap();
    assert_eq!(
        usdt["available"], "1250.50000000",
        "credited once: {balances}"
    );
    let (_, consistency) = send(&admin, t, Method::GET, "/admin/v1/consistency", None).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
    let (_, audit) = send(&admin, t, Method::GET, "/admin/v1/audit", None).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"deposit.credit"), "{actions:?}");
    running.stop().await.unwrap();
}
