//! The public transparency endpoints: the platform's report key, the list of reports, each
//! report's exact signed bytes and its signature. Bytes are served as stored, never re-encoded,
//! so a verifier checks exactly what was signed.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bulwark_safeguard::{Safeguard, SafeguardError};
use serde::Deserialize;
use serde_json::json;

/// The routes, with the service as their state.
pub fn router(safeguard: Safeguard) -> Router {
    use axum::routing::get;
    Router::new()
        .route("/transparency/v1/key", get(key))
        .route("/transparency/v1/policy", get(policy))
        .route("/transparency/v1/reports", get(list))
        .route("/transparency/v1/reports/{seq}", get(report))
        .route("/transparency/v1/reports/{seq}/signature", get(signature))
        .route("/transparency/v1/reports/{seq}/control", get(control))
        .with_state(safeguard)
}

/// Reports listed per page at most.
const PAGE_MAX: i64 = 500;

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn failed(e: SafeguardError) -> Response {
    match e {
        SafeguardError::UnknownReport(_) => {
            refuse(StatusCode::NOT_FOUND, "report_not_found", e.to_string())
        }
        SafeguardError::NoReport => refuse(StatusCode::NOT_FOUND, "no_report", e.to_string()),
        other => {
            tracing::error!("transparency: {other}");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Something went wrong on our side; try again later".into(),
            )
        }
    }
}

/// Report `seq` (given as path text), or the refusal to answer with.
async fn stored_report(
    safeguard: &Safeguard,
    seq: &str,
) -> Result<bulwark_safeguard::ReportRow, Box<Response>> {
    let Some(number) = seq.parse::<i64>().ok().filter(|s| *s >= 1) else {
        return Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_seq",
            format!("report seq must be a whole number from 1, not {seq:?}"),
        )));
    };
    safeguard
        .report(number)
        .await
        .map_err(|e| Box::new(failed(e)))
}

/// `GET /transparency/v1/policy`: the coverage policy claims are decided under.
async fn policy(State(safeguard): State<Safeguard>) -> Response {
    axum::Json(safeguard.policy()).into_response()
}

/// `GET /transparency/v1/key`: the ed25519 public key reports are signed with, hex.
async fn key(State(safeguard): State<Safeguard>) -> Response {
    text(safeguard.public_key_hex())
}

#[derive(Deserialize)]
struct Page {
    limit: Option<i64>,
    before: Option<i64>,
}

/// `GET /transparency/v1/reports[?limit=&before=]`: reports newest first.
async fn list(State(safeguard): State<Safeguard>, Query(page): Query<Page>) -> Response {
    let limit = page.limit.unwrap_or(PAGE_MAX).clamp(1, PAGE_MAX);
    match safeguard.reports(limit, page.before).await {
        Ok(rows) => axum::Json(json!({
            "reports": rows.iter().map(|r| json!({
                "seq": r.seq,
                "published_ms": r.published_ms,
                "journal_seq": r.journal_seq,
                "sha256": r.sha256,
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => failed(e),
    }
}

/// `GET /transparency/v1/reports/{seq}`: the report's exact bytes.
async fn report(State(safeguard): State<Safeguard>, Path(seq): Path<String>) -> Response {
    match stored_report(&safeguard, &seq).await {
        Ok(row) => ([(header::CONTENT_TYPE, "application/json")], row.body).into_response(),
        Err(refusal) => *refusal,
    }
}

/// `GET /transparency/v1/reports/{seq}/signature`: hex ed25519 signature over those bytes.
async fn signature(State(safeguard): State<Safeguard>, Path(seq): Path<String>) -> Response {
    match stored_report(&safeguard, &seq).await {
        Ok(row) => text(row.signature),
        Err(refusal) => *refusal,
    }
}

/// `GET /transparency/v1/reports/{seq}/control`: the report's control proofs, each a signature
/// by a reserve address's key over the report's hash (`bulwark verify-report --control` checks
/// them).
async fn control(State(safeguard): State<Safeguard>, Path(seq): Path<String>) -> Response {
    let row = match stored_report(&safeguard, &seq).await {
        Ok(row) => row,
        Err(refusal) => return *refusal,
    };
    match safeguard.control(row.seq).await {
        Ok(proofs) => axum::Json(proofs).into_response(),
        Err(e) => failed(e),
    }
}
