//! The staff console's Safeguard claims: `/admin/claims` (the queue, by state) and
//! `/admin/claims/{id}` (the claim as staff see it, the investigation view with its
//! compromise flags, the evidence files, and a form for every decision the claim's state
//! allows). Each form is one call of the Safeguard use case `/api/v1/admin/claims` calls, so
//! the staff guard (role, TOTP session), "never your own claim", "the investigator never
//! decides" and the audit rows live in one place; this module turns forms into requests and
//! answers into HTML.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bulwark_safeguard::claims::{ReasonCode, StaffInput, reason_codes};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{csrf_ok, who_and_authed};
use crate::caller::Caller;
use crate::form::PageForm;
use crate::pages::{self, Flash, Who};
use crate::transparency::ProofState;

/// States the queue filters by.
const STATES: [&str; 10] = [
    "submitted",
    "acknowledged",
    "investigating",
    "needs_info",
    "approved",
    "rejected",
    "appealed",
    "payout_pending",
    "paid",
    "closed",
];

pub struct QueueLine {
    pub id: i64,
    pub user_id: i64,
    pub incident: String,
    pub category: String,
    pub claimed: String,
    pub asset: String,
    pub state: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "admin_claims.html")]
pub struct QueuePage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub states: Vec<&'static str>,
    pub filter: String,
    pub claims: Vec<QueueLine>,
}

pub struct EventLine {
    pub at: String,
    pub actor: String,
    pub state: String,
    pub note: String,
}

pub struct LoginLine {
    pub at: String,
    pub ip: String,
    pub country: String,
    pub result: String,
    pub new_place: bool,
}

pub struct WithdrawalLine {
    pub id: i64,
    pub amount: String,
    pub asset: String,
    pub address: String,
    pub state: String,
}

pub struct EvidenceLine {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

#[derive(Template)]
#[template(path = "admin_claim.html")]
pub struct ClaimPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub id: i64,
    pub user_id: i64,
    pub incident: String,
    pub category: String,
    pub description: String,
    pub asset: String,
    pub claimed: String,
    pub approved: String,
    pub state: String,
    pub investigator: String,
    pub insurer: String,
    pub events: Vec<EventLine>,
    pub flags: Vec<String>,
    pub logins: Vec<LoginLine>,
    pub withdrawals: Vec<WithdrawalLine>,
    pub evidence: Vec<EvidenceLine>,
    /// The actions the claim's state allows (the service still checks everything).
    pub actions: Vec<&'static str>,
    pub covered: Vec<&'static ReasonCode>,
    pub not_covered: Vec<&'static ReasonCode>,
}

fn text_of(value: &Value, field: &str) -> String {
    match value.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn status_of(error: &bulwark_accounts::Error) -> StatusCode {
    bulwark_api::v1::error::status_of(error.kind)
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    state: String,
}

/// `GET /admin/claims[?state=]`.
pub async fn queue(
    State(state): State<ProofState>,
    caller: Caller,
    Query(query): Query<QueueQuery>,
) -> Response {
    let Some((who, authed)) = who_and_authed(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let filter = STATES
        .iter()
        .find(|s| **s == query.state)
        .copied()
        .unwrap_or_default();
    let views = match state
        .safeguard
        .staff_claims(&authed, (!filter.is_empty()).then_some(filter))
        .await
    {
        Ok(views) => views,
        Err(error) => return refused(who, &error),
    };
    let claims = views
        .iter()
        .map(|v| QueueLine {
            id: v.claim.id,
            user_id: v.claim.user_id,
            incident: v
                .claim
                .incident_id
                .map(|i| i.to_string())
                .unwrap_or_default(),
            category: v.claim.category.replace('_', " "),
            claimed: bulwark_types::format_units(
                v.claim.claimed,
                state.safeguard.scale_of(&v.claim.asset),
            ),
            asset: v.claim.asset.clone(),
            state: v.claim.state.clone(),
            updated: pages::utc_time(v.claim.updated_ms),
        })
        .collect();
    pages::render(
        StatusCode::OK,
        &QueuePage {
            who: Some(who),
            notice: String::new(),
            error: String::new(),
            states: STATES.to_vec(),
            filter: filter.to_owned(),
            claims,
        },
    )
}

fn refused(who: Who, error: &bulwark_accounts::Error) -> Response {
    pages::render(
        status_of(error),
        &pages::Landing {
            who: Some(who),
            notice: String::new(),
            error: error.message.clone(),
        },
    )
}

fn claim_id(text: &str) -> Option<i64> {
    text.parse().ok()
}

async fn render_claim(
    state: &ProofState,
    caller: &Caller,
    id: i64,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let Some((who, authed)) = who_and_authed(&state.web, caller).await else {
        return pages::see_other("/login");
    };
    let (view, investigation) = match state.safeguard.staff_claim(&authed, id).await {
        Ok(found) => found,
        Err(error) => return refused(who, &error),
    };
    let json = view.json(state.safeguard.scale_of(&view.claim.asset), true);
    let c = &view.claim;
    let list = |field: &str| -> Vec<Value> {
        investigation
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let insurer = json
        .get("insurer")
        .filter(|i| !i.is_null())
        .map(|i| {
            format!(
                "{} (policy {}): {} USDT requested of {} USDT uncovered, {}",
                text_of(i, "insurer"),
                text_of(i, "policy_id"),
                text_of(i, "requested_usdt"),
                text_of(i, "uncovered_usdt"),
                text_of(i, "status")
            )
        })
        .unwrap_or_default();
    let page = ClaimPage {
        csrf: who.csrf.clone(),
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        id: c.id,
        user_id: c.user_id,
        incident: c.incident_id.map(|i| i.to_string()).unwrap_or_default(),
        category: c.category.replace('_', " "),
        description: c.description.clone(),
        asset: c.asset.clone(),
        claimed: text_of(&json, "claimed"),
        approved: text_of(&json, "approved"),
        state: c.state.clone(),
        investigator: c.investigator.clone().unwrap_or_default(),
        insurer,
        events: view
            .events
            .iter()
            .map(|e| EventLine {
                at: pages::utc_time(e.at_ms),
                actor: e.actor.clone(),
                state: e.to_state.replace('_', " "),
                note: e.note.clone(),
            })
            .collect(),
        flags: list("compromise_flags")
            .iter()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect(),
        logins: list("logins")
            .iter()
            .map(|l| LoginLine {
                at: pages::utc_time(l.get("at_ms").and_then(Value::as_i64).unwrap_or(0)),
                ip: text_of(l, "ip"),
                country: text_of(l, "country"),
                result: text_of(l, "result"),
                new_place: l.get("new_place").and_then(Value::as_bool) == Some(true),
            })
            .collect(),
        withdrawals: list("withdrawals")
            .iter()
            .map(|w| WithdrawalLine {
                id: w.get("id").and_then(Value::as_i64).unwrap_or(0),
                amount: text_of(w, "amount"),
                asset: text_of(w, "asset"),
                address: text_of(w, "address"),
                state: text_of(w, "state"),
            })
            .collect(),
        evidence: view
            .evidence
            .iter()
            .map(|e| EvidenceLine {
                id: e.id,
                name: e.name.clone(),
                content_type: e.content_type.clone(),
                size: e.size_bytes,
                sha256: e.sha256.clone(),
            })
            .collect(),
        actions: state.safeguard.staff_actions(c),
        covered: reason_codes(true),
        not_covered: reason_codes(false),
    };
    pages::render(status, &page)
}

/// `GET /admin/claims/{id}`.
pub async fn claim(
    State(state): State<ProofState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    match claim_id(&id) {
        Some(id) => render_claim(&state, &caller, id, StatusCode::OK, Flash::default()).await,
        None => pages::see_other("/admin/claims"),
    }
}

#[derive(Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason_code: String,
}

/// `POST /admin/claims/{id}/{action}`: one decision.
pub async fn act(
    State(state): State<ProofState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    PageForm(form): PageForm<ActionForm>,
) -> Response {
    let Some(id) = claim_id(&id) else {
        return pages::see_other("/admin/claims");
    };
    let Ok(authed) = caller.authed(&state.web).await else {
        return pages::see_other("/login");
    };
    if !csrf_ok(&caller, &form.csrf) {
        let flash = Flash::error(pages::FORM_EXPIRED);
        return render_claim(&state, &caller, id, StatusCode::FORBIDDEN, flash).await;
    }
    let input = StaffInput {
        note: form.note,
        amount: form.amount,
        reason_code: form.reason_code,
    };
    match state
        .safeguard
        .staff_claim_action(&authed, id, &action, input)
        .await
    {
        Ok(view) => {
            let notice = format!("Claim {id} is now {}.", view.claim.state.replace('_', " "));
            render_claim(&state, &caller, id, StatusCode::OK, Flash::notice(notice)).await
        }
        Err(error) => {
            let status = status_of(&error);
            render_claim(&state, &caller, id, status, Flash::error(error.message)).await
        }
    }
}

/// `GET /admin/claims/{id}/evidence/{evidence}`: the file, as an attachment (audited).
pub async fn evidence(
    State(state): State<ProofState>,
    caller: Caller,
    Path((id, evidence)): Path<(String, String)>,
) -> Response {
    let (Some(id), Some(evidence)) = (claim_id(&id), claim_id(&evidence)) else {
        return pages::see_other("/admin/claims");
    };
    let opened = match caller.authed(&state.web).await {
        Ok(authed) => state.safeguard.staff_evidence(&authed, id, evidence).await,
        Err(refusal) => Err(refusal),
    };
    let (meta, bytes) = match opened {
        Ok(found) => found,
        Err(error) => {
            let mut response = Response::new(Body::from("This file cannot be shown to you."));
            *response.status_mut() = status_of(&error);
            return response;
        }
    };
    let content_type = HeaderValue::from_str(&meta.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    pages::private_file(bytes, content_type, "attachment")
}
