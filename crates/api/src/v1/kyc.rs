//! The /api/v1 handlers of `bulwark_accounts::kyc`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::State;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use bulwark_accounts::kyc::{self, KYC_BODY_BYTES_MAX, L1Request, L2Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::V1State;
use super::error::{V1Error, V1Result};
use super::sessions::Authed;

/// `GET /api/v1/kyc`.
pub async fn status(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(kyc::status(&state, &authed).await?))
}

/// `POST /api/v1/kyc/l1`.
pub async fn submit_l1(
    State(state): State<V1State>,
    authed: Authed,
    KycBody(request): KycBody<L1Request>,
) -> V1Result<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(kyc::submit_l1(&state, &authed, request).await?),
    ))
}

/// `POST /api/v1/kyc/l2`.
pub async fn submit_l2(
    State(state): State<V1State>,
    authed: Authed,
    KycBody(request): KycBody<L2Request>,
) -> V1Result<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(kyc::submit_l2(&state, &authed, request).await?),
    ))
}

/// A JSON body of a KYC submission: like [`super::body::JsonBody`] with the larger limit.
pub struct KycBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KycBody<T> {
    type Rejection = V1Error;

    async fn from_request(request: Request, _state: &S) -> Result<Self, V1Error> {
        super::body::read_json(request, KYC_BODY_BYTES_MAX, " (images as base64 strings)")
            .await
            .map(KycBody)
    }
}
