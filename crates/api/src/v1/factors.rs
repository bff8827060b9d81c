//! The /api/v1 handlers of `bulwark_accounts::factors`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_accounts::factors::{self, DisableRequest, EnableRequest};
use serde_json::Value;

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::sessions::Authed;

/// `POST /api/v1/2fa/{method}/send`: sends a confirmation code before turning the factor on.
pub async fn send_enable_code(
    State(state): State<V1State>,
    authed: Authed,
    Path(method): Path<String>,
) -> V1Result<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(factors::send_enable_code(&state, &authed, method).await?),
    ))
}

/// `POST /api/v1/2fa/{method}/enable`: the code sent to the contact turns the factor on.
pub async fn enable(
    State(state): State<V1State>,
    authed: Authed,
    Path(method): Path<String>,
    JsonBody(request): JsonBody<EnableRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        factors::enable(&state, &authed, method, request).await?,
    ))
}

/// `POST /api/v1/2fa/{method}/disable`: turns the factor off (recent password, and the
/// authenticator code when one is on).
pub async fn disable(
    State(state): State<V1State>,
    authed: Authed,
    Path(method): Path<String>,
    JsonBody(request): JsonBody<DisableRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        factors::disable(&state, &authed, method, request).await?,
    ))
}
