//! The test kit shared by the `/api/v1` router tests: a router over an in-memory store with an
//! injected clock and an outbox folder, and the request helpers every test uses. Each test
//! binary uses only some of it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bulwark_accounts::crypto::MasterKey;
use bulwark_api::v1::{self, Accounts, V1State};
use bulwark_identity::TestClock;
use bulwark_identity::password::{HashParams, HashPool};
use bulwark_identity::pow;
use bulwark_store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery staple 42";
pub const T0: i64 = 1_750_000_000_000;

pub struct Harness {
    pub app: Router,
    pub store: Store,
    pub clock: Arc<TestClock>,
    pub outbox: tempfile::TempDir,
    /// The device cookie, kept like one browser keeps it for every account that logs in on it
    /// (see `devices::register`), so repeated logins are not "new devices".
    pub device_cookie: std::sync::Mutex<Option<String>>,
}

pub async fn harness() -> Harness {
    harness_with_access(None).await
}

/// A harness whose requests resolve client addresses and countries with `access` (GeoIP file,
/// restricted regions, trusted proxies).
pub async fn harness_with_access(access: Option<bulwark_accounts::access::Access>) -> Harness {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let clock = Arc::new(TestClock::new(T0));
    v1::ensure_agreement(&store, T0).await.unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let key = [7_u8; 32];
    let accounts = Accounts::new(
        &key,
        outbox.path().to_path_buf(),
        HashPool::new(HashParams::fast_insecure_for_tests(), 2, 16),
        clock.clone(),
        "http://bulwark.test".into(),
    )
    .unwrap();
    if let Some(access) = access {
        accounts.attach_access(Arc::new(access));
    }
    let state = V1State {
        store: store.clone(),
        master_key: Arc::new(MasterKey::from_bytes(&key).unwrap()),
        accounts: Arc::new(accounts),
    };
    Harness {
        app: v1::router(state),
        store,
        clock,
        outbox,
        device_cookie: std::sync::Mutex::new(None),
    }
}

impl Harness {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(device) = self.device_cookie.lock().unwrap().clone() {
            request = request.header("cookie", format!("{}={device}", v1::cookies::DEVICE_COOKIE));
        }
        let body = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        self.keep_device_cookie(response.headers());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A POST as if relayed by the trusted proxy 127.0.0.1 for `client_ip`.
    pub async fn post_from(&self, client_ip: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/json")
            .header("x-forwarded-for", client_ip)
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                40_000,
            ))));
        if let Some(device) = self.device_cookie.lock().unwrap().clone() {
            request = request.header("cookie", format!("{}={device}", v1::cookies::DEVICE_COOKIE));
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        self.keep_device_cookie(response.headers());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Keeps a device cookie the answer sets, as a browser would.
    fn keep_device_cookie(&self, headers: &axum::http::HeaderMap) {
        let prefix = format!("{}=", v1::cookies::DEVICE_COOKIE);
        for cookie in headers.get_all("set-cookie") {
            if let Some(rest) = cookie.to_str().unwrap().strip_prefix(&prefix) {
                let value = rest.split(';').next().unwrap().to_string();
                *self.device_cookie.lock().unwrap() = Some(value);
            }
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body), None).await
    }

    pub fn outbox_texts(&self) -> Vec<String> {
        let mut paths: Vec<_> = std::fs::read_dir(self.outbox.path())
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    pub fn code_for(&self, address: &str) -> String {
        let text = self
            .outbox_texts()
            .into_iter()
            .rev()
            .find(|t| t.contains(address) && t.contains("verification code is "))
            .expect("a code");
        let at = text.find("verification code is ").unwrap() + "verification code is ".len();
        text[at..at + 6].to_string()
    }

    pub async fn verified(&self, address: &str) {
        let (status, body) = self
            .post("/api/v1/signup", json!({"identifier": address, "password": PASSWORD, "agreement_version": "2025-01"}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let code = self.code_for(address);
        let token = body["signup_token"].as_str().unwrap();
        let (status, body) = self
            .post(
                "/api/v1/verify",
                json!({"identifier": address, "code": code, "signup_token": token}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// The password step, solving a proof-of-work challenge when one is asked for.
    pub async fn login(&self, address: &str, password: &str) -> (StatusCode, Value) {
        let mut body = json!({"identifier": address, "password": password});
        let first = self.post("/api/v1/login", body.clone()).await;
        if first.1["error"]["code"] != "challenge_required" {
            return first;
        }
        let token = first.1["error"]["challenge"]["token"]
            .as_str()
            .unwrap()
            .to_string();
        let nonce = pow::solve(&token, 1 << 26).unwrap();
        body["pow_token"] = json!(token);
        body["pow_nonce"] = json!(nonce);
        self.post("/api/v1/login", body).await
    }
}

impl Harness {
    /// Forgets the device cookie: the next requests come from a browser never seen before.
    pub fn new_browser(&self) {
        *self.device_cookie.lock().unwrap() = None;
    }

    /// The injected clock's current time.
    pub fn clock_now(&self) -> i64 {
        use bulwark_identity::Clock;
        self.clock.now_ms()
    }
}
