//! The /api/v1 handlers of `bulwark_accounts::api_keys`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_accounts::api_keys::{self, CreateKeyRequest, EditKeyRequest};
use serde_json::Value;

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::sessions::Authed;

/// `POST /api/v1/api-keys`: returns the access key and the secret once.
pub async fn create(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<CreateKeyRequest>,
) -> V1Result<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(api_keys::create(&state, &authed, request).await?),
    ))
}

/// `GET /api/v1/api-keys`: the caller's live keys, without secrets.
pub async fn list(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(api_keys::list(&state, &authed).await?))
}

/// `PATCH /api/v1/api-keys/{id}`: replaces the IP allow-list (re-auth and second factor).
pub async fn edit(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<EditKeyRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(api_keys::edit(&state, &authed, id, request).await?))
}

/// `DELETE /api/v1/api-keys/{id}`: revokes one of the caller's keys.
pub async fn delete(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    Ok(Json(api_keys::delete(&state, &authed, id).await?))
}
