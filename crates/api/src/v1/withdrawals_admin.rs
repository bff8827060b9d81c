//! `/api/v1/admin/withdrawals…`: the staff console's withdrawal review over custody (the staff
//! guard and the decisions live in `bulwark_custody::staff`).

use axum::extract::{Extension, Path, Query, State};
use axum::{Json, Router};
use bulwark_custody::{Custody, WithdrawalRow};
use serde::Deserialize;
use serde_json::{Value, json};

use super::V1State;
use super::admin::STAFF_ERRORS;
use super::body::JsonBody;
use super::error::V1Result;
use super::route_doc::RouteDoc;
use super::sessions::Authed;

/// The routes; the caller adds `Extension(custody)`.
pub fn routes() -> Router<V1State> {
    use axum::routing::{get, post};
    Router::new()
        .route("/api/v1/admin/withdrawals", get(queue))
        .route("/api/v1/admin/withdrawals/{id}/approve", post(approve))
        .route("/api/v1/admin/withdrawals/{id}/reject", post(reject))
}

/// A decision's codes: the staff checks', then the withdrawal's own.
const DECISION_ERRORS: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_2fa_session_required",
    "staff_role_required",
    "own_withdrawal",
    "wrong_state",
    "not_found",
    "invalid_reason",
];

/// The staff withdrawal routes as the OpenAPI document lists them.
pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
        method: "get",
        path: "/api/v1/admin/withdrawals",
        summary: "Staff (treasury, support, admin): a withdrawal queue; ?state= (default risk_review, waiting for staff approvals)",
        authenticated: true,
        request: None,
        errors: STAFF_ERRORS,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/withdrawals/{id}/approve",
        summary: "Staff (treasury, admin): one approval; approved once enough distinct staff members approved (never the requester: own_withdrawal); above the large threshold operators must then sign the release; audited",
        authenticated: true,
        request: None,
        errors: DECISION_ERRORS,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/withdrawals/{id}/reject",
        summary: "Staff (treasury, admin): reject with a reason before anything is signed; the held funds return to the user once; audited",
        authenticated: true,
        request: Some("ReasonRequest"),
        errors: DECISION_ERRORS,
    },
];

fn view(custody: &Custody, w: &WithdrawalRow) -> Value {
    json!({"id": w.id, "user_id": w.user_id, "asset": w.asset, "network": w.network,
           "address": w.address, "amount": custody.format(&w.asset, w.amount),
           "fee": custody.format(&w.asset, w.fee), "usdt_micros": w.usdt_micros, "state": w.state,
           "approvals_needed": w.approvals_needed, "txid": w.txid, "created_ms": w.created_ms})
}

fn id_of(text: &str) -> Result<i64, bulwark_accounts::Error> {
    text.parse().map_err(|_| {
        bulwark_accounts::Error::bad_request("invalid_id", "withdrawal id must be a number")
    })
}

#[derive(Deserialize)]
pub struct StateQuery {
    state: Option<String>,
}

/// `GET /api/v1/admin/withdrawals?state=`: a queue (default: waiting for staff).
pub async fn queue(
    State(_): State<V1State>,
    Extension(custody): Extension<Custody>,
    authed: Authed,
    Query(query): Query<StateQuery>,
) -> V1Result<Json<Value>> {
    let rows = custody.staff_queue(&authed, query.state.as_deref()).await?;
    Ok(Json(
        json!({"withdrawals": rows.iter().map(|w| view(&custody, w)).collect::<Vec<_>>()}),
    ))
}

/// `POST /api/v1/admin/withdrawals/{id}/approve`: one approval; the withdrawal moves on once
/// enough distinct staff members approved.
pub async fn approve(
    State(_): State<V1State>,
    Extension(custody): Extension<Custody>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    let row = custody.staff_approve(&authed, id_of(&id)?).await?;
    Ok(Json(view(&custody, &row)))
}

#[derive(Deserialize)]
pub struct Reason {
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/admin/withdrawals/{id}/reject` `{"reason": …}`: the funds return to the user.
pub async fn reject(
    State(_): State<V1State>,
    Extension(custody): Extension<Custody>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Reason>,
) -> V1Result<Json<Value>> {
    let row = custody
        .staff_reject(&authed, id_of(&id)?, &body.reason)
        .await?;
    Ok(Json(view(&custody, &row)))
}
