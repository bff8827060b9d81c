//! The /api/v1 handlers of `bulwark_accounts::admin`: parse, call the service, answer JSON.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bulwark_accounts::admin::{self, IdentifierRequest, ReasonRequest};
use serde_json::{Value, json};

use super::route_doc::RouteDoc;

use super::V1State;
use super::body::JsonBody;
use super::error::V1Result;
use super::sessions::Authed;

/// `GET /api/v1/admin/me`: the caller's roles and capabilities.
pub async fn me(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(admin::me(&state, &authed).await?))
}

/// `GET /api/v1/admin/kyc`: pending applications, oldest first (no personal data).
pub async fn kyc_queue(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(admin::kyc_queue(&state, &authed).await?))
}

/// `GET /api/v1/admin/kyc/{id}`: one application with its decrypted fields and document list.
pub async fn kyc_detail(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    Ok(Json(admin::kyc_detail(&state, &authed, id).await?))
}

/// `POST /api/v1/admin/kyc/{id}/approve`: raises the applicant to the requested tier.
pub async fn kyc_approve(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ReasonRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        admin::kyc_approve(&state, &authed, id, request).await?,
    ))
}

/// `POST /api/v1/admin/kyc/{id}/reject` (reason required).
pub async fn kyc_reject(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ReasonRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(admin::kyc_reject(&state, &authed, id, request).await?))
}

/// `POST /api/v1/admin/kyc/{id}/resubmit` (reason required).
pub async fn kyc_resubmit(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ReasonRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        admin::kyc_resubmit(&state, &authed, id, request).await?,
    ))
}

/// `POST /api/v1/admin/lockouts/lookup`: the login locks of an identifier (a POST so the
/// identifier stays out of URLs and logs).
pub async fn lockout_lookup(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<IdentifierRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(admin::lockout_lookup(&state, &authed, request).await?))
}

/// `POST /api/v1/admin/lockouts/unlock`: lifts the time-based locks of an identifier (its
/// password counters and, for an account, the second-factor counter): the rows are deleted, so
/// failure counts and the doubling lock level start again from zero. A lock after 100 failures
/// (`reset_required`) is kept: only a password reset with the second factor lifts it.
pub async fn lockout_unlock(
    State(state): State<V1State>,
    authed: Authed,
    JsonBody(request): JsonBody<IdentifierRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(admin::lockout_unlock(&state, &authed, request).await?))
}

/// `GET /api/v1/admin/frozen`: frozen accounts, oldest first.
pub async fn frozen(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(admin::frozen(&state, &authed).await?))
}

/// `POST /api/v1/admin/users/{id}/unfreeze`.
pub async fn unfreeze(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
) -> V1Result<Json<Value>> {
    Ok(Json(admin::unfreeze(&state, &authed, id).await?))
}

/// `GET /api/v1/admin/2fa-resets`: requests pending review, oldest first.
pub async fn twofa_resets(State(state): State<V1State>, authed: Authed) -> V1Result<Json<Value>> {
    Ok(Json(admin::twofa_resets(&state, &authed).await?))
}

/// `POST /api/v1/admin/2fa-resets/{id}/approve`.
pub async fn twofa_reset_approve(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ReasonRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        admin::twofa_reset_approve(&state, &authed, id, request).await?,
    ))
}

/// `POST /api/v1/admin/2fa-resets/{id}/reject`.
pub async fn twofa_reset_reject(
    State(state): State<V1State>,
    authed: Authed,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ReasonRequest>,
) -> V1Result<Json<Value>> {
    Ok(Json(
        admin::twofa_reset_reject(&state, &authed, id, request).await?,
    ))
}

/// `GET /api/v1/admin/kyc/{id}/documents/{document_id}`: the decrypted document bytes with
/// their content type, never cached.
pub async fn kyc_document(
    State(state): State<V1State>,
    authed: Authed,
    Path((id, document_id)): Path<(String, String)>,
) -> V1Result<Response> {
    let document = admin::open_document(&state, &authed, &id, &document_id).await?;
    let disposition = if document.inline {
        "inline"
    } else {
        "attachment"
    };
    let mut response = Response::new(Body::from(document.bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(document.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// The router of the staff console API (merged into [`super::router`], under its CSRF and
/// header layers).
pub fn routes() -> axum::Router<V1State> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/v1/admin/me", get(me))
        .route("/api/v1/admin/kyc", get(kyc_queue))
        .route("/api/v1/admin/kyc/{id}", get(kyc_detail))
        .route(
            "/api/v1/admin/kyc/{id}/documents/{document_id}",
            get(kyc_document),
        )
        .route("/api/v1/admin/kyc/{id}/approve", post(kyc_approve))
        .route("/api/v1/admin/kyc/{id}/reject", post(kyc_reject))
        .route("/api/v1/admin/kyc/{id}/resubmit", post(kyc_resubmit))
        .route("/api/v1/admin/lockouts/lookup", post(lockout_lookup))
        .route("/api/v1/admin/lockouts/unlock", post(lockout_unlock))
        .route("/api/v1/admin/frozen", get(frozen))
        .route("/api/v1/admin/users/{id}/unfreeze", post(unfreeze))
        .route("/api/v1/admin/2fa-resets", get(twofa_resets))
        .route(
            "/api/v1/admin/2fa-resets/{id}/approve",
            post(twofa_reset_approve),
        )
        .route(
            "/api/v1/admin/2fa-resets/{id}/reject",
            post(twofa_reset_reject),
        )
}

/// What the staff guard refuses with, on every staff route.
pub(crate) const STAFF_ERRORS: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_2fa_session_required",
    "staff_role_required",
];

const fn admin_route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    errors: &'static [&'static str],
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        summary,
        authenticated: true,
        request,
        errors,
    }
}

/// The staff checks' codes followed by each route's own (spelled out: constant slices cannot be
/// joined at compile time).
const KYC_ONE: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_2fa_session_required",
    "staff_role_required",
    "own_application",
    "application_not_found",
];
const KYC_DOCUMENT: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_2fa_session_required",
    "staff_role_required",
    "own_application",
    "application_not_found",
    "document_not_found",
];
const KYC_DECISION: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_2fa_session_required",
    "staff_role_required",
    "own_application",
    "not_pending",
    "application_not_found",
    "reason_required",
    "invalid_reason",
];
const LOCKOUTS: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_2fa_session_required",
    "staff_role_required",
    "invalid_identifier",
];
const UNFREEZE: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_2fa_session_required",
    "staff_role_required",
    "not_frozen",
    "user_not_found",
];
const TWOFA_DECISION: &[&str] = &[
    "not_staff",
    "staff_2fa_required",
    "staff_2fa_session_required",
    "staff_role_required",
    "own_request",
    "not_pending",
    "request_not_found",
    "invalid_reason",
];

/// The documented staff routes (added to `/api/v1/openapi.json`).
pub const ROUTES: &[RouteDoc] = &[
    admin_route(
        "get",
        "/api/v1/admin/me",
        "Staff: the caller's roles and capabilities",
        None,
        STAFF_ERRORS,
    ),
    admin_route(
        "get",
        "/api/v1/admin/kyc",
        "Staff (compliance, support, admin): pending KYC applications, oldest first",
        None,
        STAFF_ERRORS,
    ),
    admin_route(
        "get",
        "/api/v1/admin/kyc/{id}",
        "Staff (compliance, admin): one KYC application with decrypted fields and its documents; own application refused (own_application); audited",
        None,
        KYC_ONE,
    ),
    admin_route(
        "get",
        "/api/v1/admin/kyc/{id}/documents/{document_id}",
        "Staff (compliance, admin): one decrypted document image with its content type, Cache-Control: no-store; audited",
        None,
        KYC_DOCUMENT,
    ),
    admin_route(
        "post",
        "/api/v1/admin/kyc/{id}/approve",
        "Staff (compliance, admin): approve; the applicant's KYC tier becomes the requested one and the decision is emailed; errors own_application, not_pending, application_not_found",
        Some("ReasonRequest"),
        KYC_DECISION,
    ),
    admin_route(
        "post",
        "/api/v1/admin/kyc/{id}/reject",
        "Staff (compliance, admin): reject with a reason (reason_required), emailed",
        Some("ReasonRequest"),
        KYC_DECISION,
    ),
    admin_route(
        "post",
        "/api/v1/admin/kyc/{id}/resubmit",
        "Staff (compliance, admin): ask for a new submission with a reason (reason_required), emailed",
        Some("ReasonRequest"),
        KYC_DECISION,
    ),
    admin_route(
        "post",
        "/api/v1/admin/lockouts/lookup",
        "Staff (support, security, admin): the login locks of an identifier",
        Some("IdentifierRequest"),
        LOCKOUTS,
    ),
    admin_route(
        "post",
        "/api/v1/admin/lockouts/unlock",
        "Staff (support, security, admin): lift the time-based login locks of an identifier (not the reset-only lock after 100 failures); audited",
        Some("IdentifierRequest"),
        LOCKOUTS,
    ),
    admin_route(
        "get",
        "/api/v1/admin/frozen",
        "Staff (security, support, admin): frozen accounts",
        None,
        STAFF_ERRORS,
    ),
    admin_route(
        "post",
        "/api/v1/admin/users/{id}/unfreeze",
        "Staff (security, admin): unfreeze a frozen account; errors not_frozen, user_not_found; audited",
        None,
        UNFREEZE,
    ),
    admin_route(
        "get",
        "/api/v1/admin/2fa-resets",
        "Staff (security, support, admin): lost-second-factor reset requests pending review, with the owner's KYC note",
        None,
        STAFF_ERRORS,
    ),
    admin_route(
        "post",
        "/api/v1/admin/2fa-resets/{id}/approve",
        "Staff (security, admin): approve a 2FA reset request (effective after its 48 h); errors own_request, not_pending, request_not_found; audited",
        Some("ReasonRequest"),
        TWOFA_DECISION,
    ),
    admin_route(
        "post",
        "/api/v1/admin/2fa-resets/{id}/reject",
        "Staff (security, admin): reject a 2FA reset request; audited",
        Some("ReasonRequest"),
        TWOFA_DECISION,
    ),
];

/// Request schemas of the staff routes.
pub fn schemas() -> Value {
    json!({
        "ReasonRequest": {"type": "object", "additionalProperties": false, "properties": {
            "reason": {"type": "string", "maxLength": admin::REASON_CHARS_MAX, "description": "required to reject or ask for resubmission"},
        }},
        "IdentifierRequest": {"type": "object", "additionalProperties": false, "required": ["identifier"], "properties": {
            "identifier": {"type": "string", "description": "email, or phone in E.164"},
        }},
    })
}
