//! `GET /api/v1/transparency/proof?asset=`: the signed-in user's proof of inclusion in the
//! newest report's proof-of-liabilities tree for one asset (the account comes from the session,
//! never from the request).

use axum::extract::{Extension, Query, State};
use axum::{Json, Router};
use bulwark_safeguard::Safeguard;
use serde::Deserialize;
use serde_json::Value;

use super::V1State;
use super::error::V1Result;
use super::route_doc::RouteDoc;
use super::sessions::Authed;

/// The routes; the caller adds `Extension(safeguard)`.
pub fn routes() -> Router<V1State> {
    Router::new().route("/api/v1/transparency/proof", axum::routing::get(proof))
}

/// The route as the OpenAPI document lists it.
pub const ROUTES: &[RouteDoc] = &[RouteDoc {
    method: "get",
    path: "/api/v1/transparency/proof",
    summary: "Your proof of inclusion in the newest transparency report's proof-of-liabilities tree: ?asset=BTC[&seq=N]; the proof JSON of docs/TRANSPARENCY.md; errors unknown_asset, no_report, report_not_found, not_in_report (you held none of the asset then)",
    authenticated: true,
    request: None,
    errors: &[
        "unknown_asset",
        "no_report",
        "report_not_found",
        "not_in_report",
    ],
}];

#[derive(Deserialize)]
pub struct ProofQuery {
    #[serde(default)]
    asset: String,
    seq: Option<i64>,
}

/// `GET /api/v1/transparency/proof?asset=&seq=`.
pub async fn proof(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Query(query): Query<ProofQuery>,
) -> V1Result<Json<Value>> {
    let proof = safeguard
        .proof(authed.user_id, &query.asset, query.seq)
        .await
        .map_err(bulwark_accounts::Error::from)?;
    let value =
        serde_json::to_value(proof).map_err(|e| bulwark_accounts::Error::internal("proof", e))?;
    Ok(Json(value))
}
