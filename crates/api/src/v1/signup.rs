//! `POST /api/v1/signup` and `POST /api/v1/verify` over `bulwark_accounts::signup`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bulwark_accounts::signup::{
    self, SignupRequest, SignupResponse, VerifyRequest, VerifyResponse,
};

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;

/// `POST /api/v1/signup`: 202 with the attempt's token.
pub async fn signup(
    State(state): State<V1State>,
    JsonBody(request): JsonBody<SignupRequest>,
) -> V1Result<(StatusCode, Json<SignupResponse>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(signup::signup(&state, request).await?),
    ))
}

/// `POST /api/v1/verify`.
pub async fn verify(
    State(state): State<V1State>,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> V1Result<Json<VerifyResponse>> {
    Ok(Json(signup::verify(&state, request).await?))
}
