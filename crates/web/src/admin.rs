//! The staff console pages under `/admin`: KYC queue and review (fields, document images,
//! approve / reject with reason / ask for resubmission), login unlock, frozen accounts with
//! unfreeze, and the lost-second-factor reset queue. Server-rendered, no JavaScript.
//!
//! Like every page, each action is one in-process call of the `/api/v1/admin` router, so the
//! staff guard (role, TOTP, TOTP login), the per-object checks and the audit rows are the API's;
//! this module only turns forms into JSON and answers into HTML. Forms carry the per-session
//! CSRF token.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{self, Caller};
use crate::auth::{CsrfForm, PageForm, csrf_ok, who};
use crate::pages::{self, Flash, Who};
use crate::{WebState, csrf_token};

/// A pending KYC application in the queue.
pub struct KycItem {
    pub id: i64,
    pub user_id: i64,
    pub tier: i64,
    pub submitted: String,
    pub own: bool,
}

/// A frozen account.
pub struct FrozenItem {
    pub user_id: i64,
    pub contact: String,
}

/// A 2FA reset request pending review.
pub struct ResetItem {
    pub id: i64,
    pub user_id: i64,
    pub contact: String,
    pub created: String,
    pub effective: String,
    pub note: String,
    pub own: bool,
}

/// One lock row of a looked-up identifier.
pub struct LockItem {
    pub lock: String,
    pub failures: i64,
    pub locked_until: String,
    pub locked_now: bool,
    pub reset_required: bool,
}

/// The result of an unlock-form lookup.
pub struct Lookup {
    pub identifier: String,
    pub user_id: String,
    pub locks: Vec<LockItem>,
}

#[derive(Template)]
#[template(path = "admin.html")]
pub struct Console {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub staff: bool,
    pub roles: String,
    pub kyc_list: bool,
    pub kyc_review: bool,
    pub unlock: bool,
    pub frozen_list: bool,
    pub can_unfreeze: bool,
    pub resets_list: bool,
    pub can_decide_resets: bool,
    pub kyc: Vec<KycItem>,
    pub frozen: Vec<FrozenItem>,
    pub resets: Vec<ResetItem>,
    pub lookup: Option<Lookup>,
}

/// A document of the application under review.
pub struct DocItem {
    pub id: i64,
    pub kind: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub image: bool,
}

#[derive(Template)]
#[template(path = "admin_kyc.html")]
pub struct Review {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub id: i64,
    pub user_id: i64,
    pub contact: String,
    pub current_tier: i64,
    pub tier: i64,
    pub submitted: String,
    pub state: String,
    pub reason: String,
    pub fields: Vec<(String, String)>,
    pub documents: Vec<DocItem>,
}

fn text(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn time(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_i64)
        .filter(|ms| *ms > 0)
        .map(pages::utc_time)
        .unwrap_or_default()
}

fn rows(answer: &api::Answer, key: &str) -> Vec<Value> {
    answer
        .body
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn contact(account: &Value) -> String {
    let email = text(account, "/email");
    if email.is_empty() {
        text(account, "/phone")
    } else {
        email
    }
}

/// A positive integer id from the path (anything else never reaches the API).
fn id_of(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|id| *id > 0)
}

async fn get(state: &WebState, caller: &Caller, path: &str) -> api::Answer {
    api::call(&state.api, caller, Method::GET, path, None).await
}

async fn post(state: &WebState, caller: &Caller, path: &str, body: Value) -> api::Answer {
    api::call(&state.api, caller, Method::POST, path, Some(body)).await
}

/// Renders the console home with the sections the caller's roles allow.
async fn console(
    state: &WebState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
    lookup: Option<Lookup>,
) -> Response {
    let (Some(who), Some(token)) = (who(state, caller).await, caller.session_token()) else {
        return pages::see_other("/login");
    };
    let mut page = Console {
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        csrf: csrf_token(&token),
        staff: false,
        roles: String::new(),
        kyc_list: false,
        kyc_review: false,
        unlock: false,
        frozen_list: false,
        can_unfreeze: false,
        resets_list: false,
        can_decide_resets: false,
        kyc: Vec::new(),
        frozen: Vec::new(),
        resets: Vec::new(),
        lookup,
    };
    let me = get(state, caller, "/api/v1/admin/me").await;
    if !me.is_ok() {
        page.error = me.error_message();
        return pages::render(me.status, &page);
    }
    let capabilities: Vec<String> = rows(&me, "capabilities")
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    let can = |name: &str| capabilities.iter().any(|c| c == name);
    page.staff = true;
    page.roles = rows(&me, "roles")
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    page.kyc_review = can("kyc_review");
    page.kyc_list = page.kyc_review || can("view_queues");
    page.unlock = can("unlock");
    page.can_unfreeze = can("unfreeze");
    page.frozen_list = page.can_unfreeze || can("view_queues");
    page.can_decide_resets = can("twofa_reset_review");
    page.resets_list = page.can_decide_resets || can("view_queues");
    if page.kyc_list {
        let answer = get(state, caller, "/api/v1/admin/kyc").await;
        page.kyc = rows(&answer, "applications")
            .iter()
            .map(|a| KycItem {
                id: int(a, "/id"),
                user_id: int(a, "/user_id"),
                tier: int(a, "/tier_requested"),
                submitted: time(a, "/submitted_ms"),
                own: a.get("own").and_then(Value::as_bool) == Some(true),
            })
            .collect();
    }
    if page.frozen_list {
        let answer = get(state, caller, "/api/v1/admin/frozen").await;
        page.frozen = rows(&answer, "accounts")
            .iter()
            .map(|a| FrozenItem {
                user_id: int(a, "/user_id"),
                contact: contact(a),
            })
            .collect();
    }
    if page.resets_list {
        let answer = get(state, caller, "/api/v1/admin/2fa-resets").await;
        page.resets = rows(&answer, "requests")
            .iter()
            .map(|r| ResetItem {
                id: int(r, "/id"),
                user_id: int(r, "/user_id"),
                contact: r.get("account").map(contact).unwrap_or_default(),
                created: time(r, "/created_ms"),
                effective: time(r, "/effective_ms"),
                note: text(r, "/kyc_note"),
                own: r.get("own").and_then(Value::as_bool) == Some(true),
            })
            .collect();
    }
    pages::render(status, &page)
}

fn expired() -> Flash {
    Flash::error("This form expired; reload the page and try again.")
}

/// `GET /admin`.
pub async fn home(State(state): State<WebState>, caller: Caller) -> Response {
    console(&state, &caller, StatusCode::OK, Flash::default(), None).await
}

/// Renders the review page of application `id` (or the console with the API's refusal).
async fn review(
    state: &WebState,
    caller: &Caller,
    id: i64,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let (Some(who), Some(token)) = (who(state, caller).await, caller.session_token()) else {
        return pages::see_other("/login");
    };
    let answer = get(state, caller, &format!("/api/v1/admin/kyc/{id}")).await;
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return console(state, caller, answer.status, flash, None).await;
    }
    let body = &answer.body;
    let fields = body
        .get("fields")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(k, v)| (k.replace('_', " "), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let documents = rows(&answer, "documents")
        .iter()
        .map(|d| {
            let content_type = text(d, "/content_type");
            DocItem {
                id: int(d, "/id"),
                kind: text(d, "/kind").replace('_', " "),
                image: content_type.starts_with("image/"),
                content_type,
                size_bytes: int(d, "/size_bytes"),
            }
        })
        .collect();
    let page = Review {
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        csrf: csrf_token(&token),
        id,
        user_id: int(body, "/user_id"),
        contact: body.get("applicant").map(contact).unwrap_or_default(),
        current_tier: int(body, "/applicant/kyc_tier"),
        tier: int(body, "/tier_requested"),
        submitted: time(body, "/submitted_ms"),
        state: text(body, "/state"),
        reason: text(body, "/reason"),
        fields,
        documents,
    };
    pages::render(status, &page)
}

/// `GET /admin/kyc/{id}`.
pub async fn review_page(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = id_of(&id) else {
        let flash = Flash::error("No such application.");
        return console(&state, &caller, StatusCode::NOT_FOUND, flash, None).await;
    };
    review(&state, &caller, id, StatusCode::OK, Flash::default()).await
}

/// `GET /admin/kyc/{id}/documents/{document_id}`: the image, through the API's checks, with
/// its content type and never cached.
pub async fn document(
    State(state): State<WebState>,
    caller: Caller,
    Path((id, document_id)): Path<(String, String)>,
) -> Response {
    let (Some(id), Some(document_id)) = (id_of(&id), id_of(&document_id)) else {
        return plain(StatusCode::NOT_FOUND, "No such document.");
    };
    let path = format!("/api/v1/admin/kyc/{id}/documents/{document_id}");
    let answer = api::fetch(&state.api, &caller, &path).await;
    if !answer.status().is_success() {
        return plain(answer.status(), "This document cannot be shown to you.");
    }
    let content_type = answer
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = answer.headers().get(header::CONTENT_DISPOSITION).cloned();
    let mut response = Response::new(answer.into_body());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(disposition) = disposition {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    let mut response = Response::new(Body::from(message));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

fn reason_body(reason: &str) -> Value {
    let reason = reason.trim();
    if reason.is_empty() {
        json!({})
    } else {
        json!({"reason": reason})
    }
}

/// `POST /admin/kyc/{id}/{approve|reject|resubmit}`.
pub async fn kyc_decide(
    State(state): State<WebState>,
    caller: Caller,
    Path((id, decision)): Path<(String, String)>,
    PageForm(form): PageForm<ReasonForm>,
) -> Response {
    let Some(id) = id_of(&id) else {
        let flash = Flash::error("No such application.");
        return console(&state, &caller, StatusCode::NOT_FOUND, flash, None).await;
    };
    let done = match decision.as_str() {
        "approve" => "approved",
        "reject" => "rejected",
        "resubmit" => "sent back for resubmission",
        _ => {
            let flash = Flash::error("Unknown decision.");
            return review(&state, &caller, id, StatusCode::BAD_REQUEST, flash).await;
        }
    };
    if !csrf_ok(&caller, &form.csrf) {
        let flash = expired();
        return review(&state, &caller, id, StatusCode::FORBIDDEN, flash).await;
    }
    let path = format!("/api/v1/admin/kyc/{id}/{decision}");
    let answer = post(&state, &caller, &path, reason_body(&form.reason)).await;
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return review(&state, &caller, id, answer.status, flash).await;
    }
    let flash = Flash::notice(format!(
        "Application {id} {done}; the applicant was emailed."
    ));
    console(&state, &caller, StatusCode::OK, flash, None).await
}

#[derive(Deserialize)]
pub struct UnlockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifier: String,
    /// `lookup` or `unlock`.
    #[serde(default)]
    action: String,
}

fn lookup_of(answer: &api::Answer) -> Lookup {
    Lookup {
        identifier: answer.text("/identifier"),
        user_id: answer
            .body
            .get("user_id")
            .and_then(Value::as_i64)
            .map(|id| id.to_string())
            .unwrap_or_else(|| "no account".into()),
        locks: rows(answer, "locks")
            .iter()
            .map(|l| LockItem {
                lock: text(l, "/lock"),
                failures: int(l, "/failures"),
                locked_until: time(l, "/locked_until_ms"),
                locked_now: l.get("locked_now").and_then(Value::as_bool) == Some(true),
                reset_required: l.get("reset_required").and_then(Value::as_bool) == Some(true),
            })
            .collect(),
    }
}

fn joined(answer: &api::Answer, key: &str) -> String {
    rows(answer, key)
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `POST /admin/unlock`: look up (`action=lookup`) or lift (`action=unlock`) the login locks of
/// an identifier.
pub async fn unlock(
    State(state): State<WebState>,
    caller: Caller,
    PageForm(form): PageForm<UnlockForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        let flash = expired();
        return console(&state, &caller, StatusCode::FORBIDDEN, flash, None).await;
    }
    let body = json!({"identifier": form.identifier.trim()});
    if form.action == "unlock" {
        let answer = post(
            &state,
            &caller,
            "/api/v1/admin/lockouts/unlock",
            body.clone(),
        )
        .await;
        if !answer.is_ok() {
            let flash = Flash::error(answer.error_message());
            return console(&state, &caller, answer.status, flash, None).await;
        }
        let cleared = joined(&answer, "cleared");
        let kept = joined(&answer, "reset_required");
        let mut message = if cleared.is_empty() {
            format!("{}: no time lock to lift.", answer.text("/identifier"))
        } else {
            format!("{}: lifted {cleared}.", answer.text("/identifier"))
        };
        if !kept.is_empty() {
            message.push_str(&format!(
                " Kept {kept}: after 100 failures only a password reset with the second factor lifts the lock."
            ));
        }
        let lookup = post(&state, &caller, "/api/v1/admin/lockouts/lookup", body).await;
        let lookup = lookup.is_ok().then(|| lookup_of(&lookup));
        return console(
            &state,
            &caller,
            StatusCode::OK,
            Flash::notice(message),
            lookup,
        )
        .await;
    }
    let answer = post(&state, &caller, "/api/v1/admin/lockouts/lookup", body).await;
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return console(&state, &caller, answer.status, flash, None).await;
    }
    let lookup = lookup_of(&answer);
    console(
        &state,
        &caller,
        StatusCode::OK,
        Flash::default(),
        Some(lookup),
    )
    .await
}

/// `POST /admin/users/{id}/unfreeze`.
pub async fn unfreeze(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<String>,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        let flash = expired();
        return console(&state, &caller, StatusCode::FORBIDDEN, flash, None).await;
    }
    let Some(id) = id_of(&id) else {
        let flash = Flash::error("No such user.");
        return console(&state, &caller, StatusCode::NOT_FOUND, flash, None).await;
    };
    let path = format!("/api/v1/admin/users/{id}/unfreeze");
    let answer = post(&state, &caller, &path, json!({})).await;
    let (status, flash) = if answer.is_ok() {
        let message = format!("User {id} is unfrozen; they can log in again.");
        (StatusCode::OK, Flash::notice(message))
    } else {
        (answer.status, Flash::error(answer.error_message()))
    };
    console(&state, &caller, status, flash, None).await
}

/// `POST /admin/2fa-resets/{id}/{approve|reject}`.
pub async fn reset_decide(
    State(state): State<WebState>,
    caller: Caller,
    Path((id, decision)): Path<(String, String)>,
    PageForm(form): PageForm<ReasonForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        let flash = expired();
        return console(&state, &caller, StatusCode::FORBIDDEN, flash, None).await;
    }
    let (Some(id), true) = (id_of(&id), decision == "approve" || decision == "reject") else {
        let flash = Flash::error("No such request or decision.");
        return console(&state, &caller, StatusCode::NOT_FOUND, flash, None).await;
    };
    let path = format!("/api/v1/admin/2fa-resets/{id}/{decision}");
    let answer = post(&state, &caller, &path, reason_body(&form.reason)).await;
    let (status, flash) = if answer.is_ok() {
        let message = format!("2FA reset request {id}: {}.", answer.text("/status"));
        (StatusCode::OK, Flash::notice(message))
    } else {
        (answer.status, Flash::error(answer.error_message()))
    };
    console(&state, &caller, status, flash, None).await
}

/// The console routes (merged into the pages router).
pub fn routes() -> axum::Router<WebState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin", get(home))
        .route("/admin/kyc/{id}", get(review_page))
        .route("/admin/kyc/{id}/documents/{document_id}", get(document))
        .route("/admin/kyc/{id}/{decision}", post(kyc_decide))
        .route("/admin/unlock", post(unlock))
        .route("/admin/users/{id}/unfreeze", post(unfreeze))
        .route("/admin/2fa-resets/{id}/{decision}", post(reset_decide))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_paths_are_positive_integers_only() {
        assert_eq!(id_of("12"), Some(12));
        assert_eq!(id_of("0"), None);
        assert_eq!(id_of("-1"), None);
        assert_eq!(id_of("1/../../x"), None);
        assert_eq!(reason_body("  "), json!({}));
        assert_eq!(reason_body(" blurred "), json!({"reason": "blurred"}));
    }
}
