//! The /api/v1 handlers of `bulwark_accounts::confirm_login`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use bulwark_accounts::confirm_login::{self, ConfirmRequest, LinkRequest};
use serde_json::Value;

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::guard::Client;

/// `POST /api/v1/login/confirm/link/check`: what an emailed link is about (for the page that
/// asks the owner to press confirm; opening a link never confirms by itself, so mail scanners
/// that follow links cannot confirm an attacker's login).
pub async fn check_link(
    State(state): State<V1State>,
    JsonBody(request): JsonBody<LinkRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(confirm_login::check_link(&state, request).await?))
}

/// `POST /api/v1/login/confirm/link`: the owner confirms the waiting login from the link.
pub async fn confirm_link(
    State(state): State<V1State>,
    JsonBody(request): JsonBody<LinkRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(confirm_login::confirm_link(&state, request).await?))
}

/// `POST /api/v1/login/confirm`: the waiting client sends the code, or polls after the owner
/// opened the link; once confirmed, the same call answers with the session (once).
pub async fn confirm(
    State(state): State<V1State>,
    client: Client,
    JsonBody(request): JsonBody<ConfirmRequest>,
) -> V1Result<Response> {
    let step = confirm_login::confirm(&state, &client, request).await?;
    Ok(super::sessions::step_response(&state, step))
}
