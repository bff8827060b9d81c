//! The native JSON account API under `/api/v1/`: sign-up, verification, login with a second
//! factor, sessions, login activity and TOTP enrolment, described by `/api/v1/openapi.json`.
//!
//! An adapter over `bulwark-accounts`: it parses requests, calls the service and maps its
//! results to JSON, cookies and one error shape (`error`).

pub mod admin;
pub mod api_keys;
pub mod body;
pub mod claims;
pub mod confirm_login;
pub mod cookies;
pub mod error;
pub mod factors;
pub mod freeze;
pub mod guard;
pub mod kyc;
pub mod login;
pub mod my_account;
pub mod openapi;
pub mod qr_login;
pub mod recovery;
pub mod route_doc;
pub mod sessions;
pub mod signup;
pub mod totp_setup;
pub mod transparency;
pub mod twofa_reset;
pub mod withdrawals_admin;

use axum::Router;
use axum::routing::{delete, get, patch, post, put};

pub use bulwark_accounts::{Accounts, OffsetClock, ensure_agreement};

/// The state of every /api/v1 handler: the accounts service the handlers call.
pub type V1State = bulwark_accounts::Service;

/// A plain JSON answer (for handlers that sometimes add cookies and so return `Response`).
pub(crate) fn json_response(body: serde_json::Value) -> axum::response::Response {
    axum::response::IntoResponse::into_response(axum::Json(body))
}

/// Every /api/v1 route with its guards (CSRF, security headers, per-IP buckets on the
/// unauthenticated endpoints).
pub fn router(state: V1State) -> Router {
    router_with(state, Router::new())
}

/// [`router`] plus `extra` routes of other services (custody's staff queue), behind the same
/// guards (client resolution, CSRF, security headers) and before the catch-all.
pub fn router_with(state: V1State, extra: Router<V1State>) -> Router {
    let login_routes = Router::new()
        .route("/api/v1/login", post(login::login))
        .route("/api/v1/login/2fa", post(login::login_2fa))
        .route("/api/v1/login/2fa/send", post(login::send_login_code))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::login_bucket,
        ));
    let poll_routes = Router::new()
        .route("/api/v1/login/qr/poll", post(qr_login::poll))
        .route("/api/v1/login/confirm", post(confirm_login::confirm))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::poll_bucket,
        ));
    let open_routes = Router::new()
        .route("/api/v1/signup", post(signup::signup))
        .route("/api/v1/login/qr", post(qr_login::start))
        .route("/api/v1/verify", post(signup::verify))
        .route(
            "/api/v1/login/confirm/link",
            post(confirm_login::confirm_link),
        )
        .route(
            "/api/v1/login/confirm/link/check",
            post(confirm_login::check_link),
        )
        .route("/api/v1/password/forgot", post(recovery::forgot))
        .route("/api/v1/password/reset", post(recovery::reset))
        .route(
            "/api/v1/2fa/reset-request/codes",
            post(twofa_reset::send_codes),
        )
        .route("/api/v1/2fa/reset-request", post(twofa_reset::request))
        .route(
            "/api/v1/2fa/reset-request/cancel",
            post(twofa_reset::cancel),
        )
        .route(
            "/api/v1/freeze/{token}",
            get(freeze::check_link).post(freeze::freeze_by_link),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::unauthenticated_bucket,
        ));
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/me", get(my_account::me))
        .route("/api/v1/agreement", post(my_account::accept_agreement))
        .route("/api/v1/logout", post(my_account::logout))
        .route("/api/v1/logout-all", post(my_account::logout_all))
        .route("/api/v1/sessions", get(my_account::list))
        .route("/api/v1/sessions/{id}", delete(my_account::revoke))
        .route("/api/v1/activity", get(my_account::activity))
        .route("/api/v1/devices", get(my_account::list_devices))
        .route("/api/v1/devices/{id}", delete(my_account::revoke_device))
        .route("/api/v1/reauth", post(login::reauth))
        .route("/api/v1/login/qr/lookup", post(qr_login::lookup))
        .route("/api/v1/login/qr/decide", post(qr_login::decide))
        .route("/api/v1/2fa/totp/setup", post(totp_setup::setup))
        .route("/api/v1/2fa/totp/confirm", post(totp_setup::confirm))
        .route(
            "/api/v1/2fa/recovery-codes",
            post(totp_setup::regenerate_recovery_codes),
        )
        .route("/api/v1/2fa/{method}/send", post(factors::send_enable_code))
        .route("/api/v1/2fa/{method}/enable", post(factors::enable))
        .route("/api/v1/2fa/{method}/disable", post(factors::disable))
        .route("/api/v1/password/change", post(recovery::change))
        .route("/api/v1/anti-phishing", put(recovery::set_anti_phishing))
        .route("/api/v1/freeze", post(freeze::freeze_self))
        .route("/api/v1/kyc", get(kyc::status))
        .route("/api/v1/kyc/l1", post(kyc::submit_l1))
        .route("/api/v1/kyc/l2", post(kyc::submit_l2))
        .route(
            "/api/v1/api-keys",
            get(api_keys::list).post(api_keys::create),
        )
        .route(
            "/api/v1/api-keys/{id}",
            patch(api_keys::edit).delete(api_keys::delete),
        )
        .merge(admin::routes())
        .merge(extra)
        .merge(login_routes)
        .merge(poll_routes)
        .merge(open_routes)
        .route("/api/v1", get(error::not_found))
        .route("/api/v1/{*rest}", axum::routing::any(error::not_found))
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn(guard::csrf))
        .layer(axum::middleware::from_fn(guard::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::resolve_client,
        ))
        .with_state(state)
}
