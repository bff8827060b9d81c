//! The claims pages: `/claims` (the published coverage policy, the form to file a claim, the
//! user's claims) and `/claims/{id}` (the timeline, a reply when information is asked for, the
//! one appeal after a rejection). Plain forms with the session's CSRF token; every rule is the
//! Safeguard service's, the same the JSON API calls.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_identity::clock::parse_utc_minute;
use bulwark_safeguard::SafeguardError;
use bulwark_safeguard::claims::{CATEGORIES, ClaimView, Filing, ReasonCode, reason_codes};
use serde::Deserialize;

use crate::auth::{csrf_ok, who_and_user};
use crate::caller::Caller;
use crate::form::PageForm;
use crate::pages::{self, Who};
use crate::transparency::ProofState;

pub struct ClaimLine {
    pub id: i64,
    pub asset: String,
    pub claimed: String,
    pub state: String,
    pub updated: String,
}

pub struct EventLine {
    pub at: String,
    pub state: String,
    pub note: String,
}

/// What the filing form showed, kept when it is shown again with an error.
#[derive(Default, Deserialize)]
pub struct FileForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub withdrawal_ids: String,
    #[serde(default)]
    pub incident_id: String,
    #[serde(default)]
    pub window_from: String,
    #[serde(default)]
    pub window_to: String,
}

#[derive(Template)]
#[template(path = "claims.html")]
pub struct ClaimsPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub policy_version: String,
    pub covered: Vec<&'static ReasonCode>,
    pub not_covered: Vec<&'static ReasonCode>,
    pub categories: Vec<&'static str>,
    pub assets: Vec<String>,
    pub form: FileForm,
    pub claims: Vec<ClaimLine>,
}

#[derive(Template)]
#[template(path = "claim.html")]
pub struct ClaimPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub id: i64,
    pub category: String,
    pub asset: String,
    pub claimed: String,
    pub approved: String,
    pub state: String,
    pub description: String,
    pub can_reply: bool,
    pub can_appeal: bool,
    /// Evidence may still be added (the claim is being looked at).
    pub can_attach: bool,
    pub events: Vec<EventLine>,
    pub evidence: Vec<EvidenceLine>,
}

pub struct EvidenceLine {
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

async fn claims_page(state: &ProofState, who: Who, user_id: i64, form: FileForm) -> ClaimsPage {
    let csrf = who.csrf.clone();
    let claims = match state.safeguard.my_claims(user_id).await {
        Ok(views) => views
            .iter()
            .map(|v| ClaimLine {
                id: v.claim.id,
                asset: v.claim.asset.clone(),
                claimed: bulwark_types::format_units(
                    v.claim.claimed,
                    state.safeguard.scale_of(&v.claim.asset),
                ),
                state: v.claim.state.replace('_', " "),
                updated: pages::utc_time(v.claim.updated_ms),
            })
            .collect(),
        Err(error) => {
            tracing::error!(%error, "reading claims");
            Vec::new()
        }
    };
    ClaimsPage {
        who: Some(who),
        notice: String::new(),
        error: String::new(),
        csrf,
        policy_version: state.safeguard.terms().version,
        covered: reason_codes(true),
        not_covered: reason_codes(false),
        categories: CATEGORIES.to_vec(),
        assets: state.safeguard.assets(),
        form,
        claims,
    }
}

/// `GET /claims`.
pub async fn page(State(state): State<ProofState>, caller: Caller) -> Response {
    let Some((who, user_id)) = who_and_user(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let page = claims_page(&state, who, user_id, FileForm::default()).await;
    pages::render(StatusCode::OK, &page)
}

fn message_of(error: SafeguardError) -> String {
    match error {
        SafeguardError::Internal(_) | SafeguardError::Setup(_) => {
            tracing::error!(%error, "claims page");
            "Something went wrong on our side; try again shortly.".into()
        }
        other => other.to_string(),
    }
}

/// `POST /claims`: files a claim, then shows it.
pub async fn file(
    State(state): State<ProofState>,
    caller: Caller,
    PageForm(form): PageForm<FileForm>,
) -> Response {
    let Some((who, user_id)) = who_and_user(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let refused =
        |state: &ProofState, who: Who, form: FileForm, status: StatusCode, error: String| {
            let state = state.clone();
            async move {
                let mut page = claims_page(&state, who, user_id, form).await;
                page.error = error;
                pages::render(status, &page)
            }
        };
    if !csrf_ok(&caller, &form.csrf) {
        return refused(
            &state,
            who,
            form,
            StatusCode::FORBIDDEN,
            pages::FORM_EXPIRED.into(),
        )
        .await;
    }
    let mut ids = Vec::new();
    for part in form
        .withdrawal_ids
        .split([',', ' '])
        .filter(|p| !p.trim().is_empty())
    {
        match part.trim().parse::<i64>() {
            Ok(id) => ids.push(id),
            Err(_) => {
                let error =
                    format!("{part:?} is not a withdrawal id (a number from your wallet history)");
                return refused(&state, who, form, StatusCode::BAD_REQUEST, error).await;
            }
        }
    }
    let incident_id = match form.incident_id.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                return refused(
                    &state,
                    who,
                    form,
                    StatusCode::BAD_REQUEST,
                    "The incident number must be a number.".into(),
                )
                .await;
            }
        },
    };
    let (Some(from), Some(to)) = (
        parse_utc_minute(&form.window_from),
        parse_utc_minute(&form.window_to),
    ) else {
        return refused(
            &state,
            who,
            form,
            StatusCode::BAD_REQUEST,
            "Give the time window as dates and times (UTC).".into(),
        )
        .await;
    };
    let filing = Filing {
        category: form.category.clone(),
        description: form.description.clone(),
        asset: form.asset.clone(),
        amount: form.amount.clone(),
        withdrawal_ids: ids,
        incident_id,
        window_from_ms: from,
        window_to_ms: to.saturating_add(59_999),
    };
    match state.safeguard.file_claim(user_id, filing).await {
        Ok(view) => pages::see_other(&format!("/claims/{}", view.claim.id)),
        Err(error) => {
            let status = match error {
                SafeguardError::Internal(_) | SafeguardError::Setup(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::BAD_REQUEST,
            };
            refused(&state, who, form, status, message_of(error)).await
        }
    }
}

fn claim_page(state: &ProofState, who: Who, view: &ClaimView) -> ClaimPage {
    let c = &view.claim;
    let scale = state.safeguard.scale_of(&c.asset);
    ClaimPage {
        csrf: who.csrf.clone(),
        who: Some(who),
        notice: String::new(),
        error: String::new(),
        id: c.id,
        category: c.category.replace('_', " "),
        asset: c.asset.clone(),
        claimed: bulwark_types::format_units(c.claimed, scale),
        approved: c
            .approved
            .map(|a| bulwark_types::format_units(a, scale))
            .unwrap_or_default(),
        state: c.state.replace('_', " "),
        description: c.description.clone(),
        can_reply: c.state == "needs_info",
        can_appeal: c.state == "rejected" && c.appealed == 0,
        can_attach: matches!(
            c.state.as_str(),
            "submitted" | "acknowledged" | "investigating" | "needs_info" | "appealed"
        ),
        evidence: view
            .evidence
            .iter()
            .map(|e| EvidenceLine {
                name: e.name.clone(),
                content_type: e.content_type.clone(),
                size: e.size_bytes,
            })
            .collect(),
        events: view
            .events
            .iter()
            .map(|e| EventLine {
                at: pages::utc_time(e.at_ms),
                state: e.to_state.replace('_', " "),
                note: e.note.clone(),
            })
            .collect(),
    }
}

fn claim_id(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// `GET /claims/{id}`.
pub async fn detail(
    State(state): State<ProofState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let Some((who, user_id)) = who_and_user(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let found = match claim_id(&id) {
        Some(id) => state.safeguard.my_claim(user_id, id).await,
        None => Err(SafeguardError::ClaimNotFound(0)),
    };
    match found {
        Ok(view) => pages::render(StatusCode::OK, &claim_page(&state, who, &view)),
        Err(error) => {
            let mut page = claims_page(&state, who, user_id, FileForm::default()).await;
            page.error = message_of(error);
            pages::render(StatusCode::NOT_FOUND, &page)
        }
    }
}

#[derive(Deserialize)]
pub struct MessageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    message: String,
}

/// Where a claim page's form leads: back to the claim when it worked, or the claim page with
/// the refusal.
async fn after_claim_form<T>(
    state: &ProofState,
    who: Who,
    user_id: i64,
    id: i64,
    result: Result<T, (StatusCode, String)>,
) -> Response {
    match result {
        Ok(_) => pages::see_other(&format!("/claims/{id}")),
        Err((status, error)) => match state.safeguard.my_claim(user_id, id).await {
            Ok(view) => {
                let mut page = claim_page(state, who, &view);
                page.error = error;
                pages::render(status, &page)
            }
            Err(_) => pages::see_other("/claims"),
        },
    }
}

/// `POST /claims/{id}/evidence` (multipart: `csrf` and one `file`): attaches a file.
pub async fn attach(
    State(state): State<ProofState>,
    caller: Caller,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Response {
    let Some((who, user_id)) = who_and_user(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let Some(id) = claim_id(&id) else {
        return pages::see_other("/claims");
    };
    let result = match crate::kyc::read_form(request).await {
        Err(message) => Err((StatusCode::BAD_REQUEST, message)),
        Ok(parts) if !csrf_ok(&caller, &crate::kyc::text_of(&parts, "csrf")) => {
            Err((StatusCode::FORBIDDEN, pages::FORM_EXPIRED.to_string()))
        }
        Ok(parts) => match parts.into_iter().find(|p| p.name == "file") {
            None => Err((
                StatusCode::BAD_REQUEST,
                "Choose a file to attach.".to_string(),
            )),
            Some(file) => state
                .safeguard
                .attach_evidence(
                    user_id,
                    id,
                    file.filename.as_deref().unwrap_or_default(),
                    file.data,
                )
                .await
                .map_err(|e| (StatusCode::BAD_REQUEST, message_of(e))),
        },
    };
    after_claim_form(&state, who, user_id, id, result).await
}

/// `POST /claims/{id}/reply|appeal`.
pub async fn respond(
    State(state): State<ProofState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    PageForm(form): PageForm<MessageForm>,
) -> Response {
    let Some((who, user_id)) = who_and_user(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let Some(id) = claim_id(&id) else {
        return pages::see_other("/claims");
    };
    let result = if !csrf_ok(&caller, &form.csrf) {
        Err((StatusCode::FORBIDDEN, pages::FORM_EXPIRED.to_string()))
    } else {
        let done = match action.as_str() {
            "reply" => {
                state
                    .safeguard
                    .reply_to_claim(user_id, id, &form.message)
                    .await
            }
            "appeal" => {
                state
                    .safeguard
                    .appeal_claim(user_id, id, &form.message)
                    .await
            }
            _ => Err(SafeguardError::ClaimNotFound(id)),
        };
        done.map_err(|e| (StatusCode::BAD_REQUEST, message_of(e)))
    };
    after_claim_form(&state, who, user_id, id, result).await
}
