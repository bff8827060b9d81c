//! The /api/v1 handlers of `bulwark_accounts::twofa_reset`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bulwark_accounts::twofa_reset::{self, Canceller, CodesRequest, ResetRequest};
use serde_json::Value;

use super::V1State;
use super::body::JsonBody;
use super::error::{V1Error, V1Result};
use super::guard::Client;
use super::sessions::Authed;
use axum::body::Bytes;

/// `POST /api/v1/2fa/reset-request/codes`: after the password, sends a 6-digit code to the
/// account's email and to its phone.
pub async fn send_codes(
    State(state): State<V1State>,
    client: Client,
    JsonBody(request): JsonBody<CodesRequest>,
) -> V1Result<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(twofa_reset::send_codes(&state, &client, request).await?),
    ))
}

/// `POST /api/v1/2fa/reset-request`: files the request (effective after staff approval and 48 h).
pub async fn request(
    State(state): State<V1State>,
    client: Client,
    JsonBody(request): JsonBody<ResetRequest>,
) -> V1Result<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(twofa_reset::request(&state, &client, request).await?),
    ))
}

/// `POST /api/v1/2fa/reset-request/cancel`: from any logged-in session (no body) or with the
/// emailed token (`{token}`, no login needed).
pub async fn cancel(
    State(state): State<V1State>,
    authed: Result<Authed, V1Error>,
    body: Bytes,
) -> V1Result<Json<Value>> {
    let by = if body.is_empty() {
        Canceller::Session(authed?.user_id)
    } else {
        Canceller::Link(super::body::parse(&body)?)
    };
    Ok(Json(twofa_reset::cancel(&state, by).await?))
}
