//! Server-rendered account pages (landing, sign-up, verification, login with second factor and
//! proof-of-work challenge, logout, security center) that work without JavaScript.
//!
//! Pages never reimplement account rules: every action is one call of a `bulwark-accounts` use
//! case, the same one the `/api/v1` handlers call, behind the same guards (same-site check,
//! restricted regions, per-IP buckets from `bulwark_accounts::doors`; see [`caller`]), so the
//! browser and the JSON API share lockout, enumeration resistance, CSRF checks and rate limits.
//! This crate adds forms, a per-session CSRF token, HTML, and strict page headers (CSP without
//! inline scripts).

mod admin;
mod admin_claims;
mod admin_fund;
mod admin_incidents;
mod auth;
mod caller;
mod charts;
mod claims;
mod confirm;
mod form;
mod funding;
mod json;
mod keys;
mod kyc;
mod lost_2fa;
mod markets;
mod order_form;
mod pages;
mod portfolio;
mod protect;
mod qr;
mod recovery;
mod security;
mod trade;
mod trade_views;
mod transparency;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bulwark_api::v1::V1State;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Largest form body accepted.
pub const FORM_BYTES_MAX: usize = 16 * 1024;

/// The control proofs form: room for about ten thousand addresses' proofs.
const CONTROL_FORM_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Content Security Policy of every page: our own stylesheet and script files only (no inline
/// script or style, no other origin).
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
    img-src 'self' data:; connect-src 'none'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";
/// Label mixed into the per-session CSRF token.
const CSRF_LABEL: &str = "bulwark-web/csrf/1:";
/// Hex characters of the CSRF token kept (128 bits).
const CSRF_HEX_CHARS: usize = 32;
const STYLE_CSS: &str = include_str!("../static/style.css");
/// The optional in-browser solver of the login challenge.
const POW_JS: &str = include_str!("../static/pow.js");
/// Camera scanning on "Approve a login" (where the browser supports it).
const QR_SCAN_JS: &str = include_str!("../static/qr-scan.js");

/// Content Security Policy of the trading pages: the account pages' policy, plus connections
/// to this origin (the WebSocket feed and the panel refreshes of `trade.js`).
pub const TRADING_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";
/// The live markets list, trade page and portfolio (refreshing from the WebSocket feed).
const TRADE_JS: &str = include_str!("../static/trade.js");

/// State of the pages: the accounts service (the same state the `/api/v1` handlers hold).
#[derive(Clone)]
pub struct WebState {
    pub v1: V1State,
}

/// State of the trading pages: the accounts service for the session, the trading service (the
/// one the BitMart API calls) for markets, orders and balances.
#[derive(Clone)]
pub struct TradeState {
    pub web: WebState,
    pub trading: bulwark_trading::Trading,
}

impl axum::extract::FromRef<TradeState> for WebState {
    fn from_ref(state: &TradeState) -> WebState {
        state.web.clone()
    }
}

/// The trading pages router (markets, trade, portfolio), with the same strict headers as the
/// account pages except that scripts may connect back to this origin.
pub fn trading_router(v1: V1State, trading: bulwark_trading::Trading) -> Router {
    let state = TradeState {
        web: WebState { v1 },
        trading,
    };
    Router::new()
        .route("/markets", get(markets::page))
        .route("/markets/table", get(markets::table_fragment))
        .route("/trade/{symbol}", get(trade::page))
        .route("/trade/{symbol}/order", post(trade::place))
        .route("/trade/{symbol}/cancel", post(trade::cancel))
        .route("/trade/{symbol}/cancel-all", post(trade::cancel_all))
        .route("/trade/{symbol}/panel/{panel}", get(trade::panel))
        .route("/static/trade.js", get(trade_script))
        .layer(DefaultBodyLimit::max(FORM_BYTES_MAX))
        .layer(axum::middleware::from_fn(trading_headers))
        .layer(axum::middleware::from_fn(page_headers))
        .with_state(state)
}

/// The trading pages' CSP, set before [`page_headers`] fills in the rest.
async fn trading_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(TRADING_CSP),
    );
    response
}

async fn trade_script() -> Response {
    asset("text/javascript; charset=utf-8", TRADE_JS)
}

/// The verifier in the browser: recomputes a proof of inclusion from the user's own data.
const POR_VERIFY_JS: &str = include_str!("../static/por-verify.js");

/// The transparency pages over the Safeguard service. Their script fetches the report it
/// verifies against from this origin, so they carry the trading pages' CSP.
pub fn transparency_router(v1: V1State, safeguard: bulwark_safeguard::Safeguard) -> Router {
    let state = transparency::ProofState {
        web: WebState { v1 },
        safeguard,
    };
    Router::new()
        .route("/transparency", get(transparency::page))
        .route("/transparency/proof", get(transparency::proof_page))
        .route("/incidents", get(transparency::incidents_page))
        .route("/incidents/{id}", get(transparency::incident_page))
        .route("/claims", get(claims::page).post(claims::file))
        .route("/claims/{id}", get(claims::detail))
        .route("/claims/{id}/{action}", post(claims::respond))
        .route(
            "/claims/{id}/evidence",
            post(claims::attach).layer(DefaultBodyLimit::max(kyc::UPLOAD_BYTES_MAX)),
        )
        .route(
            "/admin/incidents",
            get(admin_incidents::page).post(admin_incidents::declare),
        )
        .route("/admin/incidents/{id}/{action}", post(admin_incidents::act))
        .route("/admin/claims", get(admin_claims::queue))
        .route("/admin/claims/{id}", get(admin_claims::claim))
        .route("/admin/claims/{id}/{action}", post(admin_claims::act))
        .route(
            "/admin/claims/{id}/evidence/{evidence}",
            get(admin_claims::evidence),
        )
        .route("/admin/safeguard", get(admin_fund::page))
        .route("/admin/safeguard/{action}", post(admin_fund::act))
        .route(
            "/admin/safeguard/reports/{seq}/control-request",
            get(admin_fund::control_request),
        )
        .layer(DefaultBodyLimit::max(FORM_BYTES_MAX))
        // Pasted control proofs run to a few hundred bytes per address.
        .route(
            "/admin/safeguard/reports/{seq}/control",
            post(admin_fund::add_control).layer(DefaultBodyLimit::max(CONTROL_FORM_BYTES_MAX)),
        )
        .route("/static/por-verify.js", get(por_verify_script))
        .layer(axum::middleware::from_fn(trading_headers))
        .layer(axum::middleware::from_fn(page_headers))
        .with_state(state)
}

pub use transparency::incident_banner;

async fn por_verify_script() -> Response {
    asset("text/javascript; charset=utf-8", POR_VERIFY_JS)
}

/// The funding pages over the custody service (confirmation links, the wallet page).
pub fn funding_router(
    v1: V1State,
    trading: bulwark_trading::Trading,
    custody: bulwark_custody::Custody,
) -> Router {
    let state = funding::FundState {
        web: WebState { v1 },
        trading,
        custody,
    };
    Router::new()
        .route(
            "/withdraw/confirm",
            get(funding::confirm_page).post(funding::confirm),
        )
        .route("/wallet", get(funding::wallet_page))
        .route("/portfolio", get(portfolio::page))
        .route("/wallet/withdraw", post(funding::withdraw))
        .route("/wallet/withdrawals/{id}/cancel", post(funding::cancel))
        .route("/wallet/addresses", post(funding::add_address))
        .route(
            "/wallet/addresses/{id}/delete",
            post(funding::remove_address),
        )
        .route("/wallet/whitelist", post(funding::whitelist))
        .route("/admin/custody", get(funding::console))
        .route(
            "/admin/custody/withdrawals/{id}/{decision}",
            post(funding::decide),
        )
        .layer(DefaultBodyLimit::max(FORM_BYTES_MAX))
        .layer(axum::middleware::from_fn(page_headers))
        .with_state(state)
}

/// The pages router, to merge into the public router (it sets its own security headers).
pub fn router(v1: V1State) -> Router {
    let state = WebState { v1 };
    Router::new()
        .route("/", get(auth::landing))
        .route("/signup", get(auth::signup_page).post(auth::signup))
        .route("/verify", get(auth::verify_page).post(auth::verify))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/login/2fa", post(auth::login_2fa))
        .route("/login/2fa/send", post(auth::send_login_code))
        .route(
            "/login/device",
            get(confirm::wait_page).post(confirm::submit_code),
        )
        .route(
            "/login/confirm",
            get(confirm::link_page).post(confirm::confirm_link),
        )
        .route("/login/qr", get(qr::wait_page))
        .route("/login/qr/approve", get(qr::approve_page).post(qr::decide))
        .route("/logout", post(auth::logout))
        .route(
            "/forgot-password",
            get(recovery::forgot_page).post(recovery::forgot),
        )
        .route(
            "/account/reset-password",
            get(recovery::reset_page).post(recovery::reset),
        )
        .route("/logout-all", post(auth::logout_all))
        .route(
            "/lost-2fa",
            get(lost_2fa::start_page).post(lost_2fa::send_codes),
        )
        .route("/lost-2fa/request", post(lost_2fa::file_request))
        .route(
            "/account/2fa-reset/cancel",
            get(lost_2fa::cancel_page).post(lost_2fa::cancel),
        )
        .route("/security/api-keys", get(keys::page).post(keys::create))
        .route("/security/api-keys/{id}/ips", post(keys::edit))
        .route("/security/api-keys/{id}/delete", post(keys::delete))
        .route("/security", get(security::page))
        .route("/account/agreement", post(security::accept_agreement))
        .route("/kyc", get(kyc::page))
        .route(
            "/kyc/l1",
            post(kyc::submit_l1).layer(DefaultBodyLimit::max(kyc::UPLOAD_BYTES_MAX)),
        )
        .route(
            "/kyc/l2",
            post(kyc::submit_l2).layer(DefaultBodyLimit::max(kyc::UPLOAD_BYTES_MAX)),
        )
        .route("/security/totp/setup", post(security::totp_setup))
        .route("/security/password", post(protect::change_password))
        .route("/security/freeze", post(protect::freeze_self))
        .route("/security/anti-phishing", post(protect::anti_phishing))
        .route(
            "/account/freeze",
            get(protect::freeze_link_page).post(protect::freeze_by_link),
        )
        .route("/security/totp/confirm", post(security::totp_confirm))
        .route(
            "/security/recovery-codes",
            post(security::regenerate_recovery_codes),
        )
        .route(
            "/security/factors/{method}/{action}",
            post(security::factor_action),
        )
        .route(
            "/security/sessions/{id}/revoke",
            post(security::revoke_session),
        )
        .route(
            "/security/devices/{id}/forget",
            post(security::forget_device),
        )
        .merge(admin::routes())
        .route("/static/style.css", get(style))
        .route("/static/pow.js", get(pow_script))
        .route("/static/qr-scan.js", get(qr_scan_script))
        .layer(DefaultBodyLimit::max(FORM_BYTES_MAX))
        .layer(axum::middleware::from_fn(page_headers))
        .with_state(state)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn pow_script() -> Response {
    asset("text/javascript; charset=utf-8", POW_JS)
}

async fn qr_scan_script() -> Response {
    asset("text/javascript; charset=utf-8", QR_SCAN_JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Strict headers on every page.
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", PAGE_CSP),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=()",
        ),
    ] {
        // A page may loosen one policy for itself (the camera on "Approve a login").
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The hidden form token bound to a session: derived from the secret session token, so a
/// cross-site page can neither read nor compute it.
pub fn csrf_token(session_token: &str) -> String {
    let digest = Sha256::digest(format!("{CSRF_LABEL}{session_token}").as_bytes());
    hex::encode(digest).chars().take(CSRF_HEX_CHARS).collect()
}

/// Whether a submitted form token belongs to the session.
pub fn csrf_matches(session_token: &str, submitted: &str) -> bool {
    let expected = csrf_token(session_token);
    expected.as_bytes().ct_eq(submitted.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn csrf_token_is_bound_to_the_session() {
        let token = csrf_token("abc");
        assert_eq!(token.len(), CSRF_HEX_CHARS);
        assert!(csrf_matches("abc", &token));
        assert!(!csrf_matches("abd", &token));
        assert!(!csrf_matches("abc", ""));
    }
}
