//! `GET /api/v1/transparency/proof?asset=`: the signed-in user's proof of inclusion in the
//! newest report's proof-of-liabilities tree for one asset (the account comes from the session,
//! never from the request).

use axum::extract::{Extension, Path, Query, State};
use axum::{Json, Router};
use bulwark_safeguard::Safeguard;
use bulwark_safeguard::incidents::Declaration;
use serde::Deserialize;
use serde_json::Value;

use super::V1State;
use super::admin::STAFF_ERRORS;
use super::body::JsonBody;
use super::error::V1Result;
use super::route_doc::RouteDoc;
use super::sessions::Authed;

/// The routes; the caller adds `Extension(safeguard)`.
pub fn routes() -> Router<V1State> {
    use axum::routing::{get, post};
    Router::new()
        .route("/api/v1/transparency/proof", get(proof))
        .route(
            "/api/v1/admin/incidents",
            get(staff_incidents).post(staff_declare),
        )
        .route("/api/v1/admin/incidents/{id}/{action}", post(staff_action))
}

/// The route as the OpenAPI document lists it.
pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
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
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/admin/incidents",
        summary: "Staff (security, admin): declared incidents with their containment and timelines",
        authenticated: true,
        request: None,
        errors: STAFF_ERRORS,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/incidents",
        summary: "Staff (security, admin): declare an incident {kind, title, message, assets, markets, users, halt: none|markets|global, freeze: none|assets|global, pause_sweeps, losses}; affected users are emailed; audited",
        authenticated: true,
        request: Some("IncidentDeclaration"),
        errors: &[
            "not_staff",
            "staff_2fa_required",
            "staff_2fa_session_required",
            "staff_role_required",
            "invalid_kind",
            "invalid_text",
            "unknown_asset",
            "unknown_market",
            "unknown_user",
            "invalid_containment",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/incidents/{id}/{action}",
        summary: "Staff (security, admin): update {message}, lift {step: halt|freeze|sweeps} or resolve {message}; audited",
        authenticated: true,
        request: Some("IncidentAction"),
        errors: &[
            "not_staff",
            "staff_2fa_required",
            "staff_2fa_session_required",
            "staff_role_required",
            "incident_not_found",
            "incident_resolved",
            "not_in_force",
            "invalid_step",
            "invalid_text",
            "unknown_action",
        ],
    },
];

/// Request schemas of the incident routes.
pub fn schemas() -> serde_json::Value {
    use super::route_doc::{object, string};
    let strings = serde_json::json!({"type": "array", "items": string()});
    serde_json::json!({
        "IncidentDeclaration": object(&["kind", "title", "message"], serde_json::json!({
            "kind": string(), "title": string(), "message": string(),
            "assets": strings, "markets": strings,
            "users": {"type": "array", "items": {"type": "integer"}},
            "halt": {"enum": ["none", "markets", "global"]},
            "freeze": {"enum": ["none", "assets", "global"]},
            "pause_sweeps": {"type": "boolean"},
            "losses": {"type": "array", "items": object(&["user", "asset", "amount"], serde_json::json!({
                "user": {"type": "integer"}, "asset": string(), "amount": string(),
            }))},
        })),
        "IncidentAction": object(&[], serde_json::json!({"message": string(), "step": string()})),
    })
}

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

/// `GET /api/v1/admin/incidents`.
pub async fn staff_incidents(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
) -> V1Result<Json<Value>> {
    let views = safeguard.staff_incidents(&authed).await?;
    Ok(Json(
        serde_json::json!({"incidents": views.iter().map(|v| v.json()).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/admin/incidents`: declare.
pub async fn staff_declare(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    JsonBody(body): JsonBody<Declaration>,
) -> V1Result<Json<Value>> {
    Ok(Json(safeguard.staff_declare(&authed, body).await?.json()))
}

#[derive(Deserialize)]
pub struct ActionBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    step: String,
}

/// `POST /api/v1/admin/incidents/{id}/update|lift|resolve`.
pub async fn staff_action(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Path((id, action)): Path<(String, String)>,
    JsonBody(body): JsonBody<ActionBody>,
) -> V1Result<Json<Value>> {
    let id: i64 = id.parse().map_err(|_| {
        bulwark_accounts::Error::bad_request("invalid_id", "incident id must be a number")
    })?;
    let text = if action == "lift" {
        &body.step
    } else {
        &body.message
    };
    Ok(Json(
        safeguard
            .staff_action(&authed, id, &action, text)
            .await?
            .json(),
    ))
}
