//! `/api/v1/claims…`: a user's Safeguard claims (file, list, read, reply, appeal; the account
//! comes from the session), and `/api/v1/admin/claims…`: the staff queue, the investigation view
//! and the decisions (the rules live in `bulwark_safeguard::claims`).

use axum::extract::{Extension, Path, Query, State};
use axum::{Json, Router};
use bulwark_safeguard::Safeguard;
use bulwark_safeguard::claims::{ClaimView, Filing, StaffInput};
use serde::Deserialize;
use serde_json::{Value, json};

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::route_doc::RouteDoc;
use super::sessions::Authed;

/// The routes; the caller adds `Extension(safeguard)`.
pub fn routes() -> Router<V1State> {
    use axum::routing::{get, post};
    Router::new()
        .route("/api/v1/claims", get(mine).post(file))
        .route("/api/v1/claims/{id}", get(one))
        .route("/api/v1/claims/{id}/evidence", post(add_evidence))
        .route("/api/v1/claims/{id}/{action}", post(user_action))
        .route("/api/v1/admin/claims", get(queue))
        .route("/api/v1/admin/claims/{id}", get(investigate))
        .route("/api/v1/admin/claims/{id}/{action}", post(staff_action))
        .route(
            "/api/v1/admin/claims/{id}/evidence/{evidence}",
            get(evidence_file),
        )
}

const CLAIM_ERRORS: &[&str] = &[
    "invalid_category",
    "invalid_text",
    "unknown_asset",
    "invalid_amount",
    "invalid_window",
    "incident_not_found",
    "not_your_withdrawal",
    "withdrawal_not_sent",
    "amount_over_loss",
    "duplicate_claim",
];
const STAFF_ERRORS: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_role_required",
    "claim_not_found",
    "own_claim",
    "wrong_state",
    "investigator_decides",
    "invalid_reason_code",
    "reason_not_covered",
    "reason_covered",
    "amount_over_claim",
    "over_user_cap",
    "no_usdt_price",
    "fund_insufficient",
    "over_incident_cap",
    "amount_not_reduced",
    "amount_over_payout",
    "already_clawed_back",
    "balance_insufficient",
    "no_insurer",
    "not_submitted",
    "already_submitted",
    "nothing_uncovered",
    "below_deductible",
    "insurer_limit_reached",
    "unknown_action",
];

/// The routes as the OpenAPI document lists them.
pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
        method: "post",
        path: "/api/v1/claims",
        summary: "File a Safeguard claim {category, description, asset, amount, withdrawal_ids, incident_id, window_from_ms, window_to_ms} under the published policy (GET /transparency/v1/policy)",
        authenticated: true,
        request: Some("ClaimFiling"),
        errors: CLAIM_ERRORS,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/claims",
        summary: "Your claims with their timelines",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/claims/{id}",
        summary: "One of your claims with its timeline; errors claim_not_found",
        authenticated: true,
        request: None,
        errors: &["claim_not_found"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/claims/{id}/{action}",
        summary: "reply {message} when information is requested, or appeal {message} a rejection once; errors wrong_state, appeal_used, invalid_text, claim_not_found",
        authenticated: true,
        request: Some("ClaimMessage"),
        errors: &[
            "wrong_state",
            "appeal_used",
            "invalid_text",
            "claim_not_found",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/claims/{id}/evidence",
        summary: "Attach an evidence file {name, content_base64} (PNG, JPEG or PDF by its first bytes, at most 5 MiB, 5 per claim; sealed at rest) to one of your open claims",
        authenticated: true,
        request: Some("EvidenceUpload"),
        errors: &[
            "invalid_name",
            "invalid_base64",
            "evidence_too_large",
            "invalid_evidence_type",
            "too_much_evidence",
            "wrong_state",
            "claim_not_found",
        ],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/admin/claims/{id}/evidence/{evidence}",
        summary: "Staff who review claims: download one evidence file (audited claim.evidence_view)",
        authenticated: true,
        request: None,
        errors: &[
            "not_staff",
            "staff_2fa_required",
            "staff_role_required",
            "own_claim",
            "evidence_not_found",
            "claim_not_found",
        ],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/admin/claims",
        summary: "Staff (security, treasury, admin): claims, ?state= to filter",
        authenticated: true,
        request: None,
        errors: STAFF_ERRORS,
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/admin/claims/{id}",
        summary: "Staff: a claim with the investigation view (logins with new-place flags, withdrawals in the window, the incident)",
        authenticated: true,
        request: None,
        errors: STAFF_ERRORS,
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/admin/claims/{id}/{action}",
        summary: "Staff: acknowledge, investigate, request_info {note}, approve {amount, reason_code, note}, reject {reason_code, note}, pay (proposes the M-of-N payout movement; pro rata when the fund is short for the incident's claims), close, clawback {amount, note} (a paid claim's payout back into the fund once the loss is recovered), insurer_submit / insurer_accept / insurer_deny / insurer_paid (the uncovered part of a paid claim and the configured insurer's answers); audited",
        authenticated: true,
        request: Some("StaffClaimAction"),
        errors: STAFF_ERRORS,
    },
];

/// Request schemas of the claims routes.
pub fn schemas() -> Value {
    use super::route_doc::{object, string};
    json!({
        "ClaimFiling": object(&["window_from_ms", "window_to_ms"], json!({
            "category": string(), "description": string(), "asset": string(),
            "amount": {"type": "string", "description": "decimal, in the asset"},
            "withdrawal_ids": {"type": "array", "items": {"type": "integer"}},
            "incident_id": {"type": "integer"},
            "window_from_ms": {"type": "integer"}, "window_to_ms": {"type": "integer"},
        })),
        "ClaimMessage": object(&[], json!({"message": string()})),
        "EvidenceUpload": object(&["name", "content_base64"], json!({
            "name": string(),
            "content_base64": {"type": "string", "contentEncoding": "base64"},
        })),
        "StaffClaimAction": object(&[], json!({
            "note": string(), "amount": string(), "reason_code": string(),
        })),
    })
}

fn id_of(text: &str) -> Result<i64, bulwark_accounts::Error> {
    text.parse().map_err(|_| {
        bulwark_accounts::Error::bad_request("invalid_id", "claim id must be a number")
    })
}

fn answer(safeguard: &Safeguard, view: &ClaimView) -> Value {
    view.json(safeguard.scale_of(&view.claim.asset), false)
}

fn staff_answer(safeguard: &Safeguard, view: &ClaimView) -> Value {
    view.json(safeguard.scale_of(&view.claim.asset), true)
}

/// `POST /api/v1/claims`.
pub async fn file(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    JsonBody(body): JsonBody<Filing>,
) -> V1Result<Json<Value>> {
    let view = safeguard
        .file_claim(authed.user_id, body)
        .await
        .map_err(bulwark_accounts::Error::from)?;
    Ok(Json(answer(&safeguard, &view)))
}

/// A JSON body of an evidence upload: like [`JsonBody`] with room for a 5 MiB file.
pub struct EvidenceBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S>
    for EvidenceBody<T>
{
    type Rejection = super::error::V1Error;

    async fn from_request(
        request: axum::extract::Request,
        _state: &S,
    ) -> Result<Self, super::error::V1Error> {
        super::body::read_json(
            request,
            bulwark_safeguard::evidence::EVIDENCE_BODY_BYTES_MAX,
            " (the file as base64)",
        )
        .await
        .map(EvidenceBody)
    }
}

/// `POST /api/v1/claims/{id}/evidence`.
pub async fn add_evidence(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Path(id): Path<String>,
    EvidenceBody(body): EvidenceBody<bulwark_safeguard::evidence::Upload>,
) -> V1Result<Json<Value>> {
    let view = safeguard
        .add_evidence(authed.user_id, id_of(&id)?, body)
        .await
        .map_err(bulwark_accounts::Error::from)?;
    Ok(Json(answer(&safeguard, &view)))
}

/// `GET /api/v1/admin/claims/{id}/evidence/{evidence}`: the file itself, as an attachment
/// named by its id (the uploader's name never reaches a header).
pub async fn evidence_file(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Path((id, evidence)): Path<(String, String)>,
) -> V1Result<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let (meta, bytes) = safeguard
        .staff_evidence(&authed, id_of(&id)?, id_of(&evidence)?)
        .await?;
    let extension = match meta.content_type.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        _ => "jpg",
    };
    Ok((
        [
            (header::CONTENT_TYPE, meta.content_type.clone()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"claim-{}-evidence-{}.{extension}\"",
                    meta.claim_id, meta.id
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v1/claims`.
pub async fn mine(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
) -> V1Result<Json<Value>> {
    let views = safeguard
        .my_claims(authed.user_id)
        .await
        .map_err(bulwark_accounts::Error::from)?;
    Ok(Json(
        json!({"claims": views.iter().map(|v| answer(&safeguard, v)).collect::<Vec<_>>()}),
    ))
}

/// `GET /api/v1/claims/{id}`.
pub async fn one(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    let view = safeguard
        .my_claim(authed.user_id, id_of(&id)?)
        .await
        .map_err(bulwark_accounts::Error::from)?;
    Ok(Json(answer(&safeguard, &view)))
}

#[derive(Deserialize)]
pub struct UserMessage {
    #[serde(default)]
    message: String,
}

/// `POST /api/v1/claims/{id}/reply|appeal`.
pub async fn user_action(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Path((id, action)): Path<(String, String)>,
    JsonBody(body): JsonBody<UserMessage>,
) -> V1Result<Json<Value>> {
    let id = id_of(&id)?;
    let view = match action.as_str() {
        "reply" => {
            safeguard
                .reply_to_claim(authed.user_id, id, &body.message)
                .await
        }
        "appeal" => {
            safeguard
                .appeal_claim(authed.user_id, id, &body.message)
                .await
        }
        _ => {
            return Err(bulwark_accounts::Error::bad_request(
                "unknown_action",
                format!("unknown claim action {action:?}; use reply or appeal"),
            )
            .into());
        }
    }
    .map_err(bulwark_accounts::Error::from)?;
    Ok(Json(answer(&safeguard, &view)))
}

#[derive(Deserialize)]
pub struct StateQuery {
    state: Option<String>,
}

/// `GET /api/v1/admin/claims?state=`.
pub async fn queue(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Query(query): Query<StateQuery>,
) -> V1Result<Json<Value>> {
    let views = safeguard
        .staff_claims(&authed, query.state.as_deref())
        .await?;
    Ok(Json(
        json!({"claims": views.iter().map(|v| staff_answer(&safeguard, v)).collect::<Vec<_>>()}),
    ))
}

/// `GET /api/v1/admin/claims/{id}`.
pub async fn investigate(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    let (view, evidence) = safeguard.staff_claim(&authed, id_of(&id)?).await?;
    Ok(Json(
        json!({"claim": staff_answer(&safeguard, &view), "investigation": evidence}),
    ))
}

/// `POST /api/v1/admin/claims/{id}/{action}`.
pub async fn staff_action(
    State(_): State<V1State>,
    Extension(safeguard): Extension<Safeguard>,
    authed: Authed,
    Path((id, action)): Path<(String, String)>,
    JsonBody(body): JsonBody<StaffInput>,
) -> V1Result<Json<Value>> {
    let view = safeguard
        .staff_claim_action(&authed, id_of(&id)?, &action, body)
        .await?;
    Ok(Json(staff_answer(&safeguard, &view)))
}
