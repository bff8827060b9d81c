//! The /api/v1 handlers of `bulwark_accounts::totp_setup`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::State;
use bulwark_accounts::totp_setup::{self, ConfirmRequest, RegenerateRequest};
use serde_json::Value;

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::sessions::Authed;

/// `POST /api/v1/2fa/totp/setup`.
pub async fn setup(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(totp_setup::setup(&state, &authed).await?))
}

/// `POST /api/v1/2fa/totp/confirm`.
pub async fn confirm(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<ConfirmRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(totp_setup::confirm(&state, &authed, request).await?))
}

/// `POST /api/v1/2fa/recovery-codes`: ten new recovery codes (shown once); every old code
/// stops working. Needs a recent password and the authenticator code.
pub async fn regenerate_recovery_codes(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<RegenerateRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        totp_setup::regenerate_recovery_codes(&state, &authed, request).await?,
    ))
}
