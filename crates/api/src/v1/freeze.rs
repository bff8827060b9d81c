//! The /api/v1 handlers of `bulwark_accounts::freeze`: parse, call the service, answer JSON.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use bulwark_accounts::freeze;
use serde_json::Value;

use super::V1State;
use super::error::V1Result;
use super::guard::Client;
use super::sessions::Authed;

/// `GET /api/v1/freeze/{token}`: whether the link is still usable (changes nothing, so mail
/// scanners that fetch links cannot freeze accounts).
pub async fn check_link(
    State(state): State<V1State>,
    Path(token): Path<String>,
) -> V1Result<Json<Value>> {
    Ok(Json(freeze::check_link(&state, token).await?))
}

/// `POST /api/v1/freeze/{token}`: the "this wasn't me" link; single use, no login needed.
pub async fn freeze_by_link(
    State(state): State<V1State>,
    client: Client,
    Path(token): Path<String>,
) -> V1Result<Json<Value>> {
    Ok(Json(freeze::freeze_by_link(&state, &client, token).await?))
}

/// `POST /api/v1/freeze`: the logged-in owner freezes the account (and is logged out: the
/// session cookie is cleared).
pub async fn freeze_self(State(state): State<V1State>, authed: Authed) -> V1Result<Response> {
    let answer = freeze::freeze_self(&state, &authed).await?;
    Ok(super::sessions::with_cookie(&state, "", answer))
}
