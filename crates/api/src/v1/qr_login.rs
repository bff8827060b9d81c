//! The /api/v1 handlers of `bulwark_accounts::qr_login`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use bulwark_accounts::qr_login::{self, DecideRequest, FindRequest, PollRequest, QrPoll};
use serde_json::Value;

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::guard::Client;
use super::sessions::Authed;

/// `POST /api/v1/login/qr`: a browser that is not logged in starts a QR login.
pub async fn start(State(state): State<V1State>, client: Client) -> V1Result<Json<Value>> {
    Ok(Json(qr_login::start(&state, &client).await?))
}

/// `POST /api/v1/login/qr/lookup`: the approving device sees who asked to sign in.
pub async fn lookup(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<FindRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(qr_login::lookup(&state, &authed, request).await?))
}

/// `POST /api/v1/login/qr/decide`: approve (the waiting browser becomes logged in as the caller)
/// or deny.
pub async fn decide(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<DecideRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(qr_login::decide(&state, &authed, request).await?))
}

/// `POST /api/v1/login/qr/poll`: the waiting browser asks; once approved, the same call redeems
/// the approval (once) and answers with a session.
pub async fn poll(
    State(state): State<V1State>,
    client: Client,
    JsonBody(request): JsonBody<PollRequest>,
) -> V1Result<Response> {
    Ok(match qr_login::poll(&state, &client, request).await? {
        QrPoll::Waiting(name) => super::json_response(serde_json::json!({"state": name})),
        QrPoll::Session(issued) => super::sessions::session_response(&state, &issued),
    })
}
