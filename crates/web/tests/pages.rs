//! The pages through their router with an in-memory store and a test clock: forms in, HTML and
//! cookies out, with the same-origin and per-session CSRF checks (no server, no browser).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use bulwark_accounts::crypto::MasterKey;
use bulwark_api::v1::{self, Accounts, V1State};
use bulwark_identity::TestClock;
use bulwark_identity::password::{HashParams, HashPool};
use bulwark_store::Store;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery staple 42";
const T0: i64 = 1_750_000_000_000;

struct Harness {
    app: Router,
    outbox: tempfile::TempDir,
}

struct Page {
    status: StatusCode,
    html: String,
    location: String,
    cookies: Vec<String>,
}

async fn harness() -> Harness {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let clock = Arc::new(TestClock::new(T0));
    v1::ensure_agreement(&store, T0).await.unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let key = [9_u8; 32];
    let accounts = Accounts::new(
        &key,
        outbox.path().to_path_buf(),
        HashPool::new(HashParams::fast_insecure_for_tests(), 2, 16),
        clock,
        "http://bulwark.test".into(),
    )
    .unwrap();
    let state = V1State {
        store,
        master_key: Arc::new(MasterKey::from_bytes(&key).unwrap()),
        accounts: Arc::new(accounts),
    };
    Harness {
        app: bulwark_web::router(state),
        outbox,
    }
}

impl Harness {
    async fn send(&self, method: Method, path: &str, form: &str, extra: &[(&str, &str)]) -> Page {
        let mut request = Request::builder().method(method.clone()).uri(path);
        if method == Method::POST {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            if !extra.iter().any(|(name, _)| *name == "sec-fetch-site") {
                request = request.header("sec-fetch-site", "same-origin");
            }
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(form.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Page {
            status,
            html: String::from_utf8(bytes.to_vec()).unwrap(),
            location,
            cookies,
        }
    }

    fn code(&self) -> String {
        for entry in std::fs::read_dir(self.outbox.path()).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            if let Some(rest) = text.split("verification code is ").nth(1) {
                return rest.chars().take(6).collect();
            }
        }
        panic!("no code in the outbox");
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('@', "%40").replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&")
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn signup_verify_login_logout_through_forms() {
    let h = harness().await;
    let landing = h.send(Method::GET, "/", "", &[]).await;
    assert_eq!(landing.status, StatusCode::OK);
    assert!(landing.html.contains("Sign up"));

    let no_box = form(&[
        ("identifier", "pat@example.com"),
        ("password", PASSWORD),
        ("agreement_version", "2025-01"),
    ]);
    let page = h.send(Method::POST, "/signup", &no_box, &[]).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("Accept the user agreement"));

    let signup = form(&[
        ("identifier", "pat@example.com"),
        ("password", PASSWORD),
        ("agree", "yes"),
        ("agreement_version", "2025-01"),
    ]);
    let page = h.send(Method::POST, "/signup", &signup, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("Verify your address"));
    // The page carries this sign-up's token, so the code completes this sign-up only.
    let token = page
        .html
        .split("name=\"signup_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let verify = form(&[
        ("identifier", "pat@example.com"),
        ("code", &h.code()),
        ("signup_token", &token),
    ]);
    let page = h.send(Method::POST, "/verify", &verify, &[]).await;
    assert!(page.html.contains("is verified"), "{}", page.html);

    let login = form(&[("identifier", "pat@example.com"), ("password", PASSWORD)]);
    let page = h.send(Method::POST, "/login", &login, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location, "/security");
    let session = page
        .cookies
        .iter()
        .find(|c| c.starts_with("__Host-bulwark_session="))
        .unwrap();
    assert!(session.contains("; Secure") && session.contains("HttpOnly"));
    let cookie = session.split(';').next().unwrap().to_string();

    let security = h
        .send(Method::GET, "/security", "", &[("cookie", &cookie)])
        .await;
    assert_eq!(security.status, StatusCode::OK);
    assert!(
        security
            .html
            .contains("Signed in as <strong>pat@example.com</strong>")
    );
    let csrf = hidden(&security.html, "csrf");

    let wrong = form(&[("csrf", "0123")]);
    let page = h
        .send(Method::POST, "/logout", &wrong, &[("cookie", &cookie)])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let right = form(&[("csrf", &csrf)]);
    let page = h
        .send(Method::POST, "/logout", &right, &[("cookie", &cookie)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.cookies.iter().any(|c| c.contains("Max-Age=0")));
    let after = h
        .send(Method::GET, "/security", "", &[("cookie", &cookie)])
        .await;
    assert_eq!(after.location, "/login");
}

#[tokio::test]
async fn cross_site_forms_are_refused_and_headers_are_strict() {
    let h = harness().await;
    let login = form(&[("identifier", "x@example.com"), ("password", PASSWORD)]);
    let page = h
        .send(
            Method::POST,
            "/login",
            &login,
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let response = h
        .app
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
    assert_eq!(response.headers()["x-frame-options"], "DENY");
}
