//! The staff console pages under `/admin`: KYC queue and review (fields, document images,
//! approve / reject with reason / ask for resubmission), login unlock, frozen accounts with
//! unfreeze, and the lost-second-factor reset queue. Server-rendered, no JavaScript.
//!
//! Like every page, each action is one call of a `bulwark_accounts::admin` use case, the same
//! one `/api/v1/admin` calls, so the staff guard (role, TOTP, TOTP login), the per-object checks
//! and the audit rows live in one place; this module only turns forms into requests and
//! answers into HTML. Forms carry the per-session CSRF token.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bulwark_accounts::admin::{self, IdentifierRequest, ReasonRequest};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{CsrfForm, PageForm, csrf_ok, who};
use crate::caller::{Answer, Caller};
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

fn rows(answer: &Answer, key: &str) -> Vec<Value> {
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

/// A positive integer id from the path (anything else never reaches the service).
fn id_of(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|id| *id > 0)
}

/// A decision on a KYC application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KycDecision {
    Approve,
    Reject,
    Resubmit,
}

impl KycDecision {
    fn parse(text: &str) -> Option<KycDecision> {
        match text {
            "approve" => Some(KycDecision::Approve),
            "reject" => Some(KycDecision::Reject),
            "resubmit" => Some(KycDecision::Resubmit),
            _ => None,
        }
    }

    /// How the notice says it.
    fn done(self) -> &'static str {
        match self {
            KycDecision::Approve => "approved",
            KycDecision::Reject => "rejected",
            KycDecision::Resubmit => "sent back for resubmission",
        }
    }
}

/// A decision on a 2FA reset request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResetDecision {
    Approve,
    Reject,
}

impl ResetDecision {
    fn parse(text: &str) -> Option<ResetDecision> {
        match text {
            "approve" => Some(ResetDecision::Approve),
            "reject" => Some(ResetDecision::Reject),
            _ => None,
        }
    }
}

/// What staff lists the console reads.
#[derive(Debug, Clone, Copy)]
enum Queue {
    Me,
    Kyc,
    Frozen,
    Resets,
}

async fn queue(state: &WebState, caller: &Caller, queue: Queue) -> Answer {
    caller
        .signed_in(state, StatusCode::OK, async |authed| match queue {
            Queue::Me => admin::me(&state.v1, &authed).await,
            Queue::Kyc => admin::kyc_queue(&state.v1, &authed).await,
            Queue::Frozen => admin::frozen(&state.v1, &authed).await,
            Queue::Resets => admin::twofa_resets(&state.v1, &authed).await,
        })
        .await
}

/// The locks of an identifier: looked up, or lifted.
#[derive(Debug, Clone, Copy)]
enum Locks {
    Lookup,
    Unlock,
}

async fn locks(state: &WebState, caller: &Caller, identifier: &str, action: Locks) -> Answer {
    let request = IdentifierRequest {
        identifier: identifier.to_string(),
    };
    caller
        .signed_in(state, StatusCode::OK, async |authed| match action {
            Locks::Lookup => admin::lockout_lookup(&state.v1, &authed, request).await,
            Locks::Unlock => admin::lockout_unlock(&state.v1, &authed, request).await,
        })
        .await
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
    let me = queue(state, caller, Queue::Me).await;
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
        let answer = queue(state, caller, Queue::Kyc).await;
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
        let answer = queue(state, caller, Queue::Frozen).await;
        page.frozen = rows(&answer, "accounts")
            .iter()
            .map(|a| FrozenItem {
                user_id: int(a, "/user_id"),
                contact: contact(a),
            })
            .collect();
    }
    if page.resets_list {
        let answer = queue(state, caller, Queue::Resets).await;
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

/// Renders the review page of application `id` (or the console with the service's refusal).
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
    let answer = caller
        .signed_in(state, StatusCode::OK, async |authed| {
            admin::kyc_detail(&state.v1, &authed, id.to_string()).await
        })
        .await;
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

/// `GET /admin/kyc/{id}/documents/{document_id}`: the image, through the reviewer checks of
/// the service, with its content type and never cached.
pub async fn document(
    State(state): State<WebState>,
    caller: Caller,
    Path((id, document_id)): Path<(String, String)>,
) -> Response {
    let (Some(id), Some(document_id)) = (id_of(&id), id_of(&document_id)) else {
        return plain(StatusCode::NOT_FOUND, "No such document.");
    };
    let opened = match caller.authed(&state).await {
        Ok(authed) => {
            let (id, document_id) = (id.to_string(), document_id.to_string());
            admin::open_document(&state.v1, &authed, &id, &document_id).await
        }
        Err(refusal) => Err(refusal),
    };
    let document = match opened {
        Ok(document) => document,
        Err(refusal) => {
            let status = Answer::refused(refusal).status;
            return plain(status, "This document cannot be shown to you.");
        }
    };
    let disposition = if document.inline {
        "inline"
    } else {
        "attachment"
    };
    pages::private_file(
        document.bytes,
        HeaderValue::from_static(document.content_type),
        disposition,
    )
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

fn reason_request(reason: &str) -> ReasonRequest {
    let reason = reason.trim();
    ReasonRequest {
        reason: (!reason.is_empty()).then(|| reason.to_string()),
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
    let Some(decision) = KycDecision::parse(&decision) else {
        let flash = Flash::error("Unknown decision.");
        return review(&state, &caller, id, StatusCode::BAD_REQUEST, flash).await;
    };
    if !csrf_ok(&caller, &form.csrf) {
        let flash = expired();
        return review(&state, &caller, id, StatusCode::FORBIDDEN, flash).await;
    }
    let request = reason_request(&form.reason);
    let answer = caller
        .signed_in(&state, StatusCode::OK, async |authed| {
            let (service, id) = (&state.v1, id.to_string());
            match decision {
                KycDecision::Approve => admin::kyc_approve(service, &authed, id, request).await,
                KycDecision::Reject => admin::kyc_reject(service, &authed, id, request).await,
                KycDecision::Resubmit => admin::kyc_resubmit(service, &authed, id, request).await,
            }
        })
        .await;
    if !answer.is_ok() {
        let flash = Flash::error(answer.error_message());
        return review(&state, &caller, id, answer.status, flash).await;
    }
    let flash = Flash::notice(format!(
        "Application {id} {}; the applicant was emailed.",
        decision.done()
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

fn lookup_of(answer: &Answer) -> Lookup {
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

fn joined(answer: &Answer, key: &str) -> String {
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
    let identifier = form.identifier.trim();
    if form.action == "unlock" {
        let answer = locks(&state, &caller, identifier, Locks::Unlock).await;
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
        let lookup = locks(&state, &caller, identifier, Locks::Lookup).await;
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
    let answer = locks(&state, &caller, identifier, Locks::Lookup).await;
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
    let answer = caller
        .signed_in(&state, StatusCode::OK, async |authed| {
            admin::unfreeze(&state.v1, &authed, id.to_string()).await
        })
        .await;
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
    let (Some(id), Some(decision)) = (id_of(&id), ResetDecision::parse(&decision)) else {
        let flash = Flash::error("No such request or decision.");
        return console(&state, &caller, StatusCode::NOT_FOUND, flash, None).await;
    };
    let request = reason_request(&form.reason);
    let answer = caller
        .signed_in(&state, StatusCode::OK, async |authed| {
            let (service, id) = (&state.v1, id.to_string());
            match decision {
                ResetDecision::Approve => {
                    admin::twofa_reset_approve(service, &authed, id, request).await
                }
                ResetDecision::Reject => {
                    admin::twofa_reset_reject(service, &authed, id, request).await
                }
            }
        })
        .await;
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
        assert_eq!(reason_request("  ").reason, None);
        assert_eq!(
            reason_request(" blurred ").reason.as_deref(),
            Some("blurred")
        );
        assert_eq!(KycDecision::parse("resubmit"), Some(KycDecision::Resubmit));
        assert_eq!(KycDecision::parse("delete"), None);
        assert_eq!(
            ResetDecision::parse("approve"),
            Some(ResetDecision::Approve)
        );
        assert_eq!(ResetDecision::parse("resubmit"), None);
    }
}
