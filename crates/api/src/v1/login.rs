//! The /api/v1 login handlers over `bulwark_accounts::login`: the password step, the second
//! factor, login codes between the steps, and re-authentication. Each answer is the step the
//! service decided, rendered by `sessions::step_response`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_accounts::login::{
    self, LoginRequest, ReauthRequest, SecondFactorRequest, SendCodeRequest,
};
use serde_json::{Value, json};

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::guard::Client;
use super::sessions::{Authed, step_response, with_cookie};

/// `POST /api/v1/login`: the password step.
pub async fn login(
    State(state): State<V1State>,
    client: Client,
    JsonBody(request): JsonBody<LoginRequest>,
) -> V1Result<Response> {
    let step = login::login(&state, &client, request).await?;
    Ok(step_response(&state, step))
}

/// `POST /api/v1/login/2fa`: the second step with the pre-auth token.
pub async fn login_2fa(
    State(state): State<V1State>,
    client: Client,
    JsonBody(request): JsonBody<SecondFactorRequest>,
) -> V1Result<Response> {
    let step = login::login_2fa(&state, &client, request).await?;
    Ok(step_response(&state, step))
}

/// `POST /api/v1/login/2fa/send`: between the two steps, sends a login code by an enrolled
/// email or SMS factor (at most once a minute).
pub async fn send_login_code(
    State(state): State<V1State>,
    JsonBody(request): JsonBody<SendCodeRequest>,
) -> V1Result<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(login::send_login_code(&state, request).await?),
    ))
}

/// `POST /api/v1/reauth`: confirms the password, refreshing the re-authentication time (with a
/// new session token, as at every authentication).
pub async fn reauth(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<ReauthRequest>,
) -> V1Result<Response> {
    let done = login::reauth(&state, &authed, request).await?;
    Ok(with_cookie(
        &state,
        &done.session_token,
        json!({"status": "reauthenticated", "session_token": done.session_token, "reauth_valid_until_ms": done.reauth_valid_until_ms}),
    ))
}
