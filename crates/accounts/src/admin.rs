//! The staff console's use cases (KYC review, account unlock, unfreeze and lost-second-factor
//! reset review), served by the `/api/v1/admin/` routes and the web console alike, so the rules
//! of who may decide what live once, here and not in either adapter or the store.
//!
//! Every endpoint runs [`require_staff`] first: the caller must be a staff account holding a role
//! that grants the capability, with TOTP enabled, on a session whose login passed the TOTP step.
//! Every object is loaded and checked on every request (a reviewer never decides their own case),
//! and every action writes an audit row with the staff user id (`actor = "staff:<id>"`).
//!
//! The staff operations the operator CLI also offers (role grants, unfreeze, 2FA-reset decisions)
//! live here as plain functions over the store ([`grant_role`], [`revoke_role`],
//! [`unfreeze_account`], [`decide_twofa_reset`]) so there is one way to do each thing.

use crate::Kind;
use std::collections::BTreeMap;

use bulwark_identity::account::LoginIdentifier;
use bulwark_notify::MessageKind;
use bulwark_store::{
    AccountRow, KycApplicationRow, LockoutRow, NewSecurityEvent, Store, StoreError, account_status,
    kyc_state, twofa_reset_state,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::notice::{account_recipient, notify};
use crate::service::Service;
use crate::sessions::Authed;
use crate::validate::check_len;
use crate::validate::{identifier_text, parse_identifier};

/// The staff roles, in canonical order.
pub const ROLES: [&str; 5] = ["support", "compliance", "security", "treasury", "admin"];
/// Longest decision reason accepted.
pub const REASON_CHARS_MAX: usize = 512;
/// Rows shown per staff queue.
pub const QUEUE_ROWS: u32 = 200;

/// What a staff member may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// See the queues (KYC pending list without personal data, frozen accounts, 2FA resets).
    ViewQueues,
    /// Read KYC applications with their personal data and documents, and decide them.
    KycReview,
    /// Look up and lift time-based login locks.
    Unlock,
    /// Unfreeze a frozen account.
    Unfreeze,
    /// Approve or reject lost-second-factor reset requests.
    TwofaResetReview,
    /// Approve or reject withdrawals waiting for staff (two distinct people approve one).
    WithdrawalReview,
    /// Declare incidents with their containment, post updates, lift and resolve them.
    IncidentResponse,
    /// Investigate and decide Safeguard claims and start their payouts.
    ClaimReview,
    /// Top up the Safeguard fund, publish transparency reports and coverage policy versions.
    FundManagement,
}

impl Capability {
    pub const ALL: [Capability; 9] = [
        Capability::ViewQueues,
        Capability::KycReview,
        Capability::Unlock,
        Capability::Unfreeze,
        Capability::TwofaResetReview,
        Capability::WithdrawalReview,
        Capability::IncidentResponse,
        Capability::ClaimReview,
        Capability::FundManagement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Capability::ViewQueues => "view_queues",
            Capability::KycReview => "kyc_review",
            Capability::Unlock => "unlock",
            Capability::Unfreeze => "unfreeze",
            Capability::TwofaResetReview => "twofa_reset_review",
            Capability::WithdrawalReview => "withdrawal_review",
            Capability::IncidentResponse => "incident_response",
            Capability::ClaimReview => "claim_review",
            Capability::FundManagement => "fund_management",
        }
    }
}

/// The role → capability map. `treasury` reviews withdrawals and claims and manages the
/// Safeguard fund, `security` also handles incidents; `admin` grants everything.
pub fn role_allows(role: &str, capability: Capability) -> bool {
    use Capability::{
        ClaimReview, FundManagement, IncidentResponse, KycReview, TwofaResetReview, Unfreeze,
        Unlock, ViewQueues, WithdrawalReview,
    };
    match role {
        "admin" => true,
        "treasury" => matches!(capability, WithdrawalReview | ClaimReview | FundManagement),
        "compliance" => matches!(capability, KycReview),
        "support" => matches!(capability, Unlock | ViewQueues),
        "security" => matches!(
            capability,
            Unfreeze | TwofaResetReview | Unlock | IncidentResponse | ClaimReview
        ),
        _ => false,
    }
}

/// The known roles in a stored comma list (unknown names are ignored).
pub fn roles_of(list: &str) -> Vec<&'static str> {
    let given: Vec<&str> = list.split(',').map(str::trim).collect();
    ROLES
        .iter()
        .copied()
        .filter(|role| given.contains(role))
        .collect()
}

/// Every capability the roles grant.
pub fn capabilities_of(roles: &[&str]) -> Vec<Capability> {
    Capability::ALL
        .iter()
        .copied()
        .filter(|c| roles.iter().any(|r| role_allows(r, *c)))
        .collect()
}

/// Why a shared staff operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffOpError {
    #[error("no such user")]
    UserNotFound,
    #[error("unknown role {0:?}; roles are support, compliance, security, treasury, admin")]
    UnknownRole(String),
    #[error("this account is not frozen")]
    NotFrozen,
    #[error("no 2FA reset request with this id")]
    RequestNotFound,
    #[error("no 2FA reset request with this id is pending review")]
    NotPending,
    #[error("a reviewer cannot decide their own request")]
    OwnRequest,
    #[error("reason is at most {REASON_CHARS_MAX} characters")]
    ReasonTooLong,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl StaffOpError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            StaffOpError::UserNotFound => "user_not_found",
            StaffOpError::UnknownRole(_) => "unknown_role",
            StaffOpError::NotFrozen => "not_frozen",
            StaffOpError::RequestNotFound => "request_not_found",
            StaffOpError::NotPending => "not_pending",
            StaffOpError::OwnRequest => "own_request",
            StaffOpError::ReasonTooLong => "reason_too_long",
            StaffOpError::Store(_) => "internal_error",
        }
    }

    /// The kind of refusal it is.
    pub fn kind(&self) -> Kind {
        match self {
            StaffOpError::UserNotFound | StaffOpError::RequestNotFound => Kind::NotFound,
            StaffOpError::UnknownRole(_) | StaffOpError::ReasonTooLong => Kind::Invalid,
            StaffOpError::NotFrozen | StaffOpError::NotPending => Kind::Conflict,
            StaffOpError::OwnRequest => Kind::Forbidden,
            StaffOpError::Store(_) => Kind::Internal,
        }
    }
}

impl From<StaffOpError> for Error {
    fn from(error: StaffOpError) -> Error {
        match error {
            StaffOpError::Store(inner) => Error::internal("staff operation", inner),
            other => Error::new(other.kind(), other.code(), other.to_string()),
        }
    }
}

pub async fn append_audit(
    store: &Store,
    actor: &str,
    action: &str,
    params: &Value,
    now_ms: i64,
) -> Result<(), StoreError> {
    store
        .append_audit(actor, action, &params.to_string(), now_ms)
        .await
        .map(|_| ())
}

/// Gives `user_id` a staff role (making it a staff account); audited. Returns the roles now held.
pub async fn grant_role(
    store: &Store,
    user_id: i64,
    role: &str,
    actor: &str,
    now_ms: i64,
) -> Result<Vec<&'static str>, StaffOpError> {
    let role = role.trim().to_ascii_lowercase();
    if !ROLES.contains(&role.as_str()) {
        return Err(StaffOpError::UnknownRole(role));
    }
    let account = store
        .get_account(user_id)
        .await?
        .ok_or(StaffOpError::UserNotFound)?;
    let mut list = account.staff_roles.clone();
    list.push(',');
    list.push_str(&role);
    let roles = roles_of(&list);
    store
        .set_staff_roles(user_id, true, &roles.join(","))
        .await?;
    append_audit(
        store,
        actor,
        "staff.grant",
        &json!({"user_id": user_id, "role": role, "roles": roles}),
        now_ms,
    )
    .await?;
    Ok(roles)
}

/// Takes a staff role away; with no role left the account stops being staff. Audited.
pub async fn revoke_role(
    store: &Store,
    user_id: i64,
    role: &str,
    actor: &str,
    now_ms: i64,
) -> Result<Vec<&'static str>, StaffOpError> {
    let role = role.trim().to_ascii_lowercase();
    if !ROLES.contains(&role.as_str()) {
        return Err(StaffOpError::UnknownRole(role));
    }
    let account = store
        .get_account(user_id)
        .await?
        .ok_or(StaffOpError::UserNotFound)?;
    let roles: Vec<&'static str> = roles_of(&account.staff_roles)
        .into_iter()
        .filter(|r| *r != role)
        .collect();
    store
        .set_staff_roles(user_id, !roles.is_empty(), &roles.join(","))
        .await?;
    append_audit(
        store,
        actor,
        "staff.revoke",
        &json!({"user_id": user_id, "role": role, "roles": roles}),
        now_ms,
    )
    .await?;
    Ok(roles)
}

/// Frozen → active after staff review: a security event the owner sees and an audit row.
/// Sessions and API keys revoked by the freeze stay revoked.
pub async fn unfreeze_account(
    store: &Store,
    user_id: i64,
    actor: &str,
    now_ms: i64,
) -> Result<(), StaffOpError> {
    let moved = store
        .transition_status(user_id, account_status::FROZEN, account_status::ACTIVE)
        .await?;
    if !moved {
        return Err(if store.get_account(user_id).await?.is_some() {
            StaffOpError::NotFrozen
        } else {
            StaffOpError::UserNotFound
        });
    }
    store
        .record_security_event(&NewSecurityEvent {
            user_id,
            at_ms: now_ms,
            kind: "account_unfrozen".into(),
            ip: None,
            detail: Some("by staff".into()),
        })
        .await?;
    append_audit(
        store,
        actor,
        "user.unfreeze",
        &json!({"user_id": user_id}),
        now_ms,
    )
    .await?;
    Ok(())
}

/// A staff decision on a 2FA reset request pending review (the reviewer is never the
/// requester); audited. An approved request takes effect at the owner's next login once its
/// 48 hours have passed.
pub async fn decide_twofa_reset(
    store: &Store,
    id: i64,
    reviewer_id: i64,
    approve: bool,
    reason: Option<&str>,
    actor: &str,
    now_ms: i64,
) -> Result<&'static str, StaffOpError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > REASON_CHARS_MAX) {
        return Err(StaffOpError::ReasonTooLong);
    }
    let request = store
        .get_twofa_reset(id)
        .await?
        .ok_or(StaffOpError::RequestNotFound)?;
    if request.user_id == reviewer_id {
        return Err(StaffOpError::OwnRequest);
    }
    if store.get_account(reviewer_id).await?.is_none() {
        return Err(StaffOpError::UserNotFound);
    }
    let decided = store
        .decide_twofa_reset(id, reviewer_id, approve, reason, now_ms)
        .await
        .map_err(|error| match error {
            StoreError::Invalid(_) => StaffOpError::OwnRequest,
            other => StaffOpError::Store(other),
        })?;
    if !decided {
        return Err(StaffOpError::NotPending);
    }
    let status = if approve {
        twofa_reset_state::APPROVED
    } else {
        twofa_reset_state::REJECTED
    };
    let action = if approve {
        "twofa_reset.approve"
    } else {
        "twofa_reset.reject"
    };
    append_audit(
        store,
        actor,
        action,
        &json!({"id": id, "user_id": request.user_id, "reviewer_id": reviewer_id, "reason": reason}),
        now_ms,
    )
    .await?;
    Ok(status)
}

/// The staff member behind a request that passed [`require_staff`].
#[derive(Debug, Clone)]
pub struct Staff {
    pub user_id: i64,
    pub roles: Vec<&'static str>,
    pub ip: String,
}

impl Staff {
    /// The audit actor of this staff member.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.user_id)
    }

    pub fn can(&self, capability: Capability) -> bool {
        self.roles.iter().any(|r| role_allows(r, capability))
    }
}

fn forbidden(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(Kind::Forbidden, code, message)
}

/// The staff guard: a staff account (`not_staff`), TOTP enabled (`staff_2fa_required`), a
/// session whose login passed the authenticator step (`staff_2fa_session_required`), and a role granting one of `any_of` (`staff_role_required`;
/// an empty list asks for staff status only).
pub async fn require_staff(
    state: &Service,
    authed: &Authed,
    any_of: &[Capability],
) -> crate::Result<Staff> {
    let account = state
        .store
        .get_account(authed.user_id)
        .await?
        .filter(|a| a.status == account_status::ACTIVE);
    let Some(account) = account.filter(|a| a.is_staff == 1) else {
        return Err(forbidden(
            "not_staff",
            "This needs a staff account; ask an administrator",
        ));
    };
    let totp = state.store.get_totp(account.id).await?;
    if totp.and_then(|t| t.enabled_ms).is_none() {
        return Err(forbidden(
            "staff_2fa_required",
            "Staff accounts must turn on an authenticator app (TOTP) before using the console",
        ));
    }
    // The session must come from a login that passed the authenticator (or one of its
    // recovery codes): not a password-only session from before TOTP, not an email/SMS code,
    // not a QR approval.
    let factor = authed.session.second_factor.as_deref();
    if !matches!(factor, Some("totp" | "recovery_code")) {
        return Err(forbidden(
            "staff_2fa_session_required",
            "The console needs a session from a login with your authenticator code; log out and log in again with it",
        ));
    }
    let staff = Staff {
        user_id: account.id,
        roles: roles_of(&account.staff_roles),
        ip: authed.client.ip.to_string(),
    };
    if !any_of.is_empty() && !any_of.iter().any(|c| staff.can(*c)) {
        let needed: Vec<&str> = any_of.iter().map(|c| c.name()).collect();
        return Err(forbidden(
            "staff_role_required",
            format!(
                "Your staff roles do not allow this (needs {})",
                needed.join(" or ")
            ),
        ));
    }
    Ok(staff)
}

async fn audit(
    state: &Service,
    staff: &Staff,
    action: &str,
    mut params: Value,
) -> crate::Result<()> {
    if let Some(object) = params.as_object_mut() {
        object.insert("staff_user_id".into(), json!(staff.user_id));
        object.insert("ip".into(), json!(staff.ip));
    }
    append_audit(
        &state.store,
        &staff.actor(),
        action,
        &params,
        state.accounts.now_ms(),
    )
    .await?;
    Ok(())
}

fn parse_id(text: &str, what: &'static str) -> crate::Result<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::bad_request(what, "the id must be a positive integer"))
}

fn contact(account: Option<&AccountRow>) -> Value {
    match account {
        Some(a) => json!({"user_id": a.id, "email": a.email, "phone": a.phone,
                          "status": a.status, "kyc_tier": a.kyc_tier}),
        None => Value::Null,
    }
}

/// `GET /api/v1/admin/me`: the caller's roles and capabilities.
pub async fn me(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let staff = require_staff(state, authed, &[]).await?;
    let capabilities: Vec<&str> = capabilities_of(&staff.roles)
        .iter()
        .map(|c| c.name())
        .collect();
    Ok(json!({
        "user_id": staff.user_id,
        "roles": staff.roles,
        "capabilities": capabilities,
    }))
}

// ---------------------------------------------------------------------------------------------
// KYC review

/// `GET /api/v1/admin/kyc`: pending applications, oldest first (no personal data).
pub async fn kyc_queue(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let staff = require_staff(
        state,
        authed,
        &[Capability::KycReview, Capability::ViewQueues],
    )
    .await?;
    let rows = state
        .store
        .list_kyc_applications(kyc_state::PENDING, QUEUE_ROWS)
        .await?;
    let applications: Vec<Value> = rows
        .iter()
        .map(|a| {
            json!({"id": a.id, "user_id": a.user_id, "tier_requested": a.tier_requested,
                   "submitted_ms": a.submitted_ms, "own": a.user_id == staff.user_id})
        })
        .collect();
    Ok(json!({ "applications": applications }))
}

/// Loads an application for review: 404 if missing, 403 `own_application` for the applicant.
async fn reviewable(state: &Service, staff: &Staff, id: i64) -> crate::Result<KycApplicationRow> {
    let Some(application) = state.store.get_kyc_application(id).await? else {
        return Err(Error::new(
            Kind::NotFound,
            "application_not_found",
            "No KYC application with this id",
        ));
    };
    if application.user_id == staff.user_id {
        return Err(forbidden(
            "own_application",
            "You cannot review your own KYC application; another reviewer must",
        ));
    }
    Ok(application)
}

fn document_path(application_id: i64, document_id: i64) -> String {
    format!("/api/v1/admin/kyc/{application_id}/documents/{document_id}")
}

/// `GET /api/v1/admin/kyc/{id}`: one application with its decrypted fields and document list.
pub async fn kyc_detail(state: &Service, authed: &Authed, id: String) -> crate::Result<Value> {
    let staff = require_staff(state, authed, &[Capability::KycReview]).await?;
    let id = parse_id(&id, "invalid_id")?;
    let application = reviewable(state, &staff, id).await?;
    let fields: BTreeMap<String, String> =
        crate::kyc_seal::open_kyc_fields(&state.master_key, &application)
            .map_err(|e| Error::internal("opening kyc fields", e))?;
    let documents: Vec<Value> = state
        .store
        .list_kyc_documents(application.id)
        .await?
        .iter()
        .map(|d| {
            json!({"id": d.id, "kind": d.kind, "content_type": d.content_type,
                   "size_bytes": d.size_bytes, "url": document_path(application.id, d.id)})
        })
        .collect();
    let applicant = state.store.get_account(application.user_id).await?;
    audit(
        state,
        &staff,
        "kyc.view",
        json!({"application_id": application.id, "user_id": application.user_id}),
    )
    .await?;
    Ok(json!({
        "id": application.id,
        "user_id": application.user_id,
        "tier_requested": application.tier_requested,
        "submitted_ms": application.submitted_ms,
        "state": application.state,
        "reviewer_id": application.reviewer_id,
        "decided_ms": application.decided_ms,
        "reason": application.reason,
        "fields": fields,
        "documents": documents,
        "applicant": contact(applicant.as_ref()),
    }))
}

/// Content types a document is served with; anything else is sent as a download.
const INLINE_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "application/pdf",
];

/// A decrypted KYC document as staff may see it: inline only for the image and PDF types a
/// browser shows safely, else as an attachment.
pub struct OpenedDocument {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub inline: bool,
}

/// Opens one document of an application for a KYC reviewer (audited).
pub async fn open_document(
    state: &Service,
    authed: &Authed,
    id: &str,
    document_id: &str,
) -> crate::Result<OpenedDocument> {
    let staff = require_staff(state, authed, &[Capability::KycReview]).await?;
    let id = parse_id(id, "invalid_id")?;
    let document_id = parse_id(document_id, "invalid_id")?;
    let application = reviewable(state, &staff, id).await?;
    let documents = state.store.list_kyc_documents(application.id).await?;
    let Some(document) = documents.iter().find(|d| d.id == document_id) else {
        return Err(Error::new(
            Kind::NotFound,
            "document_not_found",
            "This application has no document with this id",
        ));
    };
    let bytes = crate::kyc_seal::open_kyc_document(&state.master_key, &application, document)
        .map_err(|e| Error::internal("opening a kyc document", e))?;
    audit(
        state,
        &staff,
        "kyc.document_view",
        json!({"application_id": application.id, "user_id": application.user_id,
               "document_id": document.id, "kind": document.kind}),
    )
    .await?;
    let inline = INLINE_TYPES
        .iter()
        .find(|t| **t == document.content_type.as_str());
    Ok(OpenedDocument {
        bytes,
        content_type: inline.copied().unwrap_or("application/octet-stream"),
        inline: inline.is_some(),
    })
}

/// A decision's optional reason.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

fn clean_reason(reason: Option<&str>, required: bool) -> crate::Result<Option<String>> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if let Some(text) = reason {
        check_len("reason", text, REASON_CHARS_MAX)?;
    }
    if required && reason.is_none() {
        return Err(Error::bad_request(
            "reason_required",
            "Give the applicant a reason (what is wrong or what to send again)",
        ));
    }
    Ok(reason.map(str::to_owned))
}

async fn decide_kyc(
    state: &Service,
    authed: &Authed,
    id: &str,
    decision: &'static str,
    reason: Option<&str>,
) -> crate::Result<Value> {
    let staff = require_staff(state, authed, &[Capability::KycReview]).await?;
    let id = parse_id(id, "invalid_id")?;
    let reason = clean_reason(reason, decision != kyc_state::APPROVED)?;
    let application = reviewable(state, &staff, id).await?;
    let now_ms = state.accounts.now_ms();
    let decided = state
        .store
        .decide_kyc_application(id, staff.user_id, decision, reason.as_deref(), now_ms)
        .await
        .map_err(|error| match error {
            StoreError::Invalid(_) => forbidden(
                "own_application",
                "You cannot review your own KYC application; another reviewer must",
            ),
            other => other.into(),
        })?;
    if !decided {
        return Err(Error::new(
            Kind::Conflict,
            "not_pending",
            "This application was already decided",
        ));
    }
    audit(
        state,
        &staff,
        &format!("kyc.{decision}"),
        json!({"application_id": id, "user_id": application.user_id,
               "tier_requested": application.tier_requested, "reason": reason}),
    )
    .await?;
    let applicant = state.store.get_account(application.user_id).await?;
    if let Some(account) = applicant.as_ref()
        && let Some(to) = account_recipient(account)
    {
        let body = match decision {
            kyc_state::APPROVED => format!(
                "Your identity verification was approved: your account is now at level L{}.",
                application.tier_requested
            ),
            kyc_state::REJECTED => format!(
                "Your identity verification (level L{}) was rejected.\n\nReason: {}",
                application.tier_requested,
                reason.as_deref().unwrap_or("")
            ),
            _ => format!(
                "Please submit your identity verification (level L{}) again.\n\nWhat to change: {}",
                application.tier_requested,
                reason.as_deref().unwrap_or("")
            ),
        };
        notify(
            state,
            account.id,
            to,
            MessageKind::KycDecision,
            "Your identity verification",
            body,
        )
        .await;
    }
    let kyc_tier = applicant.map_or(0, |a| a.kyc_tier);
    Ok(json!({"id": id, "state": decision, "kyc_tier": kyc_tier}))
}

/// `POST /api/v1/admin/kyc/{id}/approve`: raises the applicant to the requested tier.
pub async fn kyc_approve(
    state: &Service,
    authed: &Authed,
    id: String,
    request: ReasonRequest,
) -> crate::Result<Value> {
    decide_kyc(
        state,
        authed,
        &id,
        kyc_state::APPROVED,
        request.reason.as_deref(),
    )
    .await
}

/// `POST /api/v1/admin/kyc/{id}/reject` (reason required).
pub async fn kyc_reject(
    state: &Service,
    authed: &Authed,
    id: String,
    request: ReasonRequest,
) -> crate::Result<Value> {
    decide_kyc(
        state,
        authed,
        &id,
        kyc_state::REJECTED,
        request.reason.as_deref(),
    )
    .await
}

/// `POST /api/v1/admin/kyc/{id}/resubmit` (reason required).
pub async fn kyc_resubmit(
    state: &Service,
    authed: &Authed,
    id: String,
    request: ReasonRequest,
) -> crate::Result<Value> {
    decide_kyc(
        state,
        authed,
        &id,
        kyc_state::RESUBMIT,
        request.reason.as_deref(),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Login locks

/// The identifier whose login locks to show or lift.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierRequest {
    pub identifier: String,
}

/// The lock keys that belong to an identifier: its own password key, and when it names an
/// account, the account's other password keys (every contact, every known device) and its
/// second-factor key.
async fn lock_keys(
    state: &Service,
    identifier: &LoginIdentifier,
) -> crate::Result<(Option<AccountRow>, Vec<(String, String)>)> {
    let text = identifier_text(identifier).to_string();
    let account = match identifier {
        LoginIdentifier::Email(email) => state.store.find_account_by_email(email.as_str()).await?,
        LoginIdentifier::Phone(phone) => state.store.find_account_by_phone(phone.as_str()).await?,
    };
    let mut keys = vec![(format!("password:{text}"), crate::attempts::lock_key(&text))];
    if let Some(account) = account.as_ref() {
        let typed = keys.clone();
        for key in crate::attempts::password_keys(state, account).await? {
            if !typed.contains(&key) {
                keys.push(key);
            }
        }
        keys.push((
            "second_factor".to_string(),
            crate::attempts::second_factor_key(account.id),
        ));
    }
    Ok((account, keys))
}

fn lock_json(label: &str, row: &LockoutRow, now_ms: i64) -> Value {
    json!({
        "lock": label,
        "failures": row.failures,
        "lock_level": row.lock_level,
        "locked_until_ms": row.locked_until_ms,
        "reset_required": row.reset_required != 0,
        "locked_now": row.reset_required != 0 || row.locked_until_ms > now_ms,
    })
}

async fn lock_rows(
    state: &Service,
    keys: &[(String, String)],
) -> crate::Result<Vec<(String, LockoutRow)>> {
    let mut rows = Vec::new();
    for (label, key) in keys {
        if let Some(row) = state.store.get_lockout(key).await? {
            rows.push((label.clone(), row));
        }
    }
    Ok(rows)
}

/// `POST /api/v1/admin/lockouts/lookup`: the login locks of an identifier (a POST so the
/// identifier stays out of URLs and logs).
pub async fn lockout_lookup(
    state: &Service,
    authed: &Authed,
    request: IdentifierRequest,
) -> crate::Result<Value> {
    let staff = require_staff(state, authed, &[Capability::Unlock]).await?;
    let identifier = parse_identifier(&request.identifier)?;
    let (account, keys) = lock_keys(state, &identifier).await?;
    let now_ms = state.accounts.now_ms();
    let locks: Vec<Value> = lock_rows(state, &keys)
        .await?
        .iter()
        .map(|(label, row)| lock_json(label, row, now_ms))
        .collect();
    audit(
        state,
        &staff,
        "lockout.lookup",
        json!({"identifier": identifier_text(&identifier),
               "user_id": account.as_ref().map(|a| a.id)}),
    )
    .await?;
    Ok(json!({
        "identifier": identifier_text(&identifier),
        "user_id": account.as_ref().map(|a| a.id),
        "locks": locks,
    }))
}

/// `POST /api/v1/admin/lockouts/unlock`: lifts the time-based locks of an identifier (its
/// password counters and, for an account, the second-factor counter): the rows are deleted, so
/// failure counts and the doubling lock level start again from zero. A lock after 100 failures
/// (`reset_required`) is kept: only a password reset with the second factor lifts it.
pub async fn lockout_unlock(
    state: &Service,
    authed: &Authed,
    request: IdentifierRequest,
) -> crate::Result<Value> {
    let staff = require_staff(state, authed, &[Capability::Unlock]).await?;
    let identifier = parse_identifier(&request.identifier)?;
    let (account, keys) = lock_keys(state, &identifier).await?;
    let mut cleared = Vec::new();
    let mut kept = Vec::new();
    for (label, row) in lock_rows(state, &keys).await? {
        if row.reset_required != 0 {
            kept.push(label);
        } else if state.store.clear_lockout(&row.lock_key).await? {
            cleared.push(label);
        }
    }
    audit(
        state,
        &staff,
        "lockout.unlock",
        json!({"identifier": identifier_text(&identifier),
               "user_id": account.as_ref().map(|a| a.id),
               "cleared": cleared, "kept_reset_required": kept}),
    )
    .await?;
    Ok(json!({
        "identifier": identifier_text(&identifier),
        "user_id": account.as_ref().map(|a| a.id),
        "cleared": cleared,
        "reset_required": kept,
    }))
}

// ---------------------------------------------------------------------------------------------
// Frozen accounts

/// `GET /api/v1/admin/frozen`: frozen accounts, oldest first.
pub async fn frozen(state: &Service, authed: &Authed) -> crate::Result<Value> {
    require_staff(
        state,
        authed,
        &[Capability::Unfreeze, Capability::ViewQueues],
    )
    .await?;
    let rows = state
        .store
        .list_accounts_by_status(account_status::FROZEN, QUEUE_ROWS)
        .await?;
    let accounts: Vec<Value> = rows.iter().map(|a| contact(Some(a))).collect();
    Ok(json!({ "accounts": accounts }))
}

/// `POST /api/v1/admin/users/{id}/unfreeze`.
pub async fn unfreeze(state: &Service, authed: &Authed, id: String) -> crate::Result<Value> {
    let staff = require_staff(state, authed, &[Capability::Unfreeze]).await?;
    let id = parse_id(&id, "invalid_id")?;
    unfreeze_account(&state.store, id, &staff.actor(), state.accounts.now_ms()).await?;
    Ok(json!({"user_id": id, "status": account_status::ACTIVE}))
}

// ---------------------------------------------------------------------------------------------
// 2FA reset review

/// The KYC note the owner gave with request `id` (kept in the security event log).
async fn reset_note(state: &Service, user_id: i64, id: i64) -> crate::Result<Option<String>> {
    let prefix = format!("request {id}; kyc note: ");
    let events = state
        .store
        .list_security_events(user_id, 0, None, 500)
        .await?;
    Ok(events
        .iter()
        .filter(|e| e.kind == "twofa_reset_requested")
        .find_map(|e| {
            e.detail
                .as_deref()?
                .strip_prefix(&prefix)
                .map(str::to_owned)
        }))
}

/// `GET /api/v1/admin/2fa-resets`: requests pending review, oldest first.
pub async fn twofa_resets(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let staff = require_staff(
        state,
        authed,
        &[Capability::TwofaResetReview, Capability::ViewQueues],
    )
    .await?;
    let rows = state
        .store
        .list_twofa_resets(twofa_reset_state::PENDING_REVIEW, QUEUE_ROWS)
        .await?;
    let mut requests = Vec::with_capacity(rows.len());
    for row in &rows {
        let account = state.store.get_account(row.user_id).await?;
        requests.push(json!({
            "id": row.id,
            "user_id": row.user_id,
            "created_ms": row.created_ms,
            "effective_ms": row.effective_ms,
            "kyc_note": reset_note(state, row.user_id, row.id).await?,
            "account": contact(account.as_ref()),
            "own": row.user_id == staff.user_id,
        }));
    }
    Ok(json!({ "requests": requests }))
}

async fn decide_reset(
    state: &Service,
    authed: &Authed,
    id: &str,
    approve: bool,
    reason: Option<&str>,
) -> crate::Result<Value> {
    let staff = require_staff(state, authed, &[Capability::TwofaResetReview]).await?;
    let id = parse_id(id, "invalid_id")?;
    let reason = clean_reason(reason, false)?;
    let status = decide_twofa_reset(
        &state.store,
        id,
        staff.user_id,
        approve,
        reason.as_deref(),
        &staff.actor(),
        state.accounts.now_ms(),
    )
    .await?;
    Ok(json!({"id": id, "status": status}))
}

/// `POST /api/v1/admin/2fa-resets/{id}/approve`.
pub async fn twofa_reset_approve(
    state: &Service,
    authed: &Authed,
    id: String,
    request: ReasonRequest,
) -> crate::Result<Value> {
    decide_reset(state, authed, &id, true, request.reason.as_deref()).await
}

/// `POST /api/v1/admin/2fa-resets/{id}/reject`.
pub async fn twofa_reset_reject(
    state: &Service,
    authed: &Authed,
    id: String,
    request: ReasonRequest,
) -> crate::Result<Value> {
    decide_reset(state, authed, &id, false, request.reason.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_map() {
        assert!(role_allows("compliance", Capability::KycReview));
        assert!(!role_allows("compliance", Capability::Unfreeze));
        assert!(!role_allows("compliance", Capability::Unlock));
        assert!(role_allows("support", Capability::Unlock));
        assert!(!role_allows("support", Capability::KycReview));
        assert!(!role_allows("support", Capability::TwofaResetReview));
        assert!(role_allows("security", Capability::Unfreeze));
        assert!(role_allows("security", Capability::TwofaResetReview));
        assert!(role_allows("security", Capability::Unlock));
        assert!(!role_allows("security", Capability::KycReview));
        assert!(role_allows("treasury", Capability::WithdrawalReview));
        assert!(!role_allows("treasury", Capability::KycReview));
        assert!(!role_allows("security", Capability::WithdrawalReview));
        for capability in Capability::ALL {
            assert!(role_allows("admin", capability));
            assert!(!role_allows("root", capability));
        }
    }

    #[test]
    fn roles_are_parsed_in_canonical_order() {
        assert_eq!(
            roles_of("admin, support,bogus,,support"),
            vec!["support", "admin"]
        );
        assert!(roles_of("").is_empty());
        assert_eq!(
            capabilities_of(&["compliance"]),
            vec![Capability::KycReview]
        );
    }
}
