//! The /api/v1 handlers of `bulwark_accounts::my_account`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::{Path, Query, State};
use bulwark_accounts::my_account::{self, AcceptAgreementRequest, ActivityQuery};
use serde_json::Value;

use super::V1State;
use super::body::JsonBody;
use super::error::{V1Error, V1Result};
use super::sessions::Authed;
use axum::response::Response;

/// `GET /api/v1/me`.
pub async fn me(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(my_account::me(&state, &authed).await?))
}

/// `POST /api/v1/logout`: ends this session and clears the cookie.
pub async fn logout(State(state): State<V1State>, authed: Authed) -> V1Result<Response> {
    let answer = my_account::logout(&state, &authed).await?;
    Ok(super::sessions::with_cookie(&state, "", answer))
}

/// `POST /api/v1/logout-all`: ends every session of the account, this one included.
pub async fn logout_all(State(state): State<V1State>, authed: Authed) -> V1Result<Response> {
    let answer = my_account::logout_all(&state, &authed).await?;
    Ok(super::sessions::with_cookie(&state, "", answer))
}

/// `GET /api/v1/sessions`: the account's live sessions.
pub async fn list(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(my_account::list(&state, &authed).await?))
}

/// `DELETE /api/v1/sessions/{id}`: revokes one of the caller's own sessions.
pub async fn revoke(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    Ok(Json(my_account::revoke(&state, &authed, id).await?))
}

/// `GET /api/v1/activity`: login attempts and security events of the last 90 days.
pub async fn activity(
    State(state): State<V1State>,
    authed: Authed,
    query: Result<Query<ActivityQuery>, axum::extract::rejection::QueryRejection>,
) -> V1Result<Json<Value>> {
    let Query(query) = query.map_err(|e| {
        V1Error::from(bulwark_accounts::Error::bad_request(
            "invalid_query",
            e.body_text(),
        ))
    })?;
    Ok(Json(my_account::activity(&state, &authed, query).await?))
}

/// `POST /api/v1/agreement`: accepts the current user agreement (after the operator published a
/// new version; the old acceptance stays in the security events).
pub async fn accept_agreement(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<AcceptAgreementRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        my_account::accept_agreement(&state, &authed, request).await?,
    ))
}

/// `GET /api/v1/devices`: the account's known devices.
pub async fn list_devices(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(my_account::list_devices(&state, &authed).await?))
}

/// `DELETE /api/v1/devices/{id}`: forgets one of the caller's devices and ends its sessions.
pub async fn revoke_device(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    Ok(Json(my_account::revoke_device(&state, &authed, id).await?))
}
