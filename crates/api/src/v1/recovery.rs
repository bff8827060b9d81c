//! The /api/v1 handlers of `bulwark_accounts::recovery`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bulwark_accounts::recovery::{
    self, AntiPhishingRequest, ChangePasswordRequest, ForgotRequest, ResetRequest,
};
use serde_json::Value;

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::guard::Client;
use super::sessions::Authed;

/// `POST /api/v1/password/forgot`: sends a single-use 30-minute reset token (link and code) to
/// the given address; the same 202 for unknown addresses.
pub async fn forgot(
    State(state): State<V1State>,
    JsonBody(request): JsonBody<ForgotRequest>,
) -> V1Result<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(recovery::forgot(&state, request).await?),
    ))
}

/// `POST /api/v1/password/reset`: sets a new password with a reset token (and the second factor
/// when enrolled); ends every session and locks withdrawals for 24 hours.
pub async fn reset(
    State(state): State<V1State>,
    client: Client,
    JsonBody(request): JsonBody<ResetRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(recovery::reset(&state, &client, request).await?))
}

/// `POST /api/v1/password/change`: current + new password after a recent re-authentication;
/// ends every other session and locks withdrawals for 24 hours.
pub async fn change(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(recovery::change(&state, &authed, request).await?))
}

/// `PUT /api/v1/anti-phishing`: sets the code shown first in every email (re-auth and, when
/// enrolled, a second factor); locks withdrawals for 24 hours.
pub async fn set_anti_phishing(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<AntiPhishingRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        recovery::set_anti_phishing(&state, &authed, request).await?,
    ))
}
