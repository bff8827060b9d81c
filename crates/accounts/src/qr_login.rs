//! QR login: a browser that is not logged in asks to sign in, a device where the user is already
//! logged in approves it after seeing who asked, and the waiting browser redeems the approval
//! with a secret only it holds.
//!
//! The approving side never names a request by its row id: it must present the scanned nonce or
//! the typed short code, so knowing an id is not enough to push a login into someone's browser.
//! Lookups and decisions are rate-limited per approving user (short codes are guessable at
//! ~40 bits only without such a limit). Rules live in `bulwark_identity::qr_login`; the store's
//! conditional updates make approve/deny and redeem single-winner under concurrency.

use crate::Kind;
use bulwark_identity::qr_login::{
    self, PollStatus, QR_SHORT_CODE_CHARS, QrLogin, QrLoginError, QrStatus, Requester,
};
use bulwark_identity::totp;
use bulwark_store::{NewQrLogin, QrLoginRow};
use bulwark_types::UserId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::client::Client;
use crate::service::Service;
use crate::sessions::Authed;
use crate::validate::check_len;

pub use crate::user_limit::APPROVALS_PER_MINUTE;
/// Longest nonce, secret or code field read.
const FIELD_CHARS_MAX: usize = 128;
/// Draws of a new request before a collision is reported as an error.
const INSERT_ATTEMPTS: u32 = 4;
/// Stored requests older than this past their deadline are pruned when new ones are made.
const PRUNE_AFTER_MS: i64 = 10 * bulwark_identity::clock::MINUTE_MS;

fn check_approval_rate(state: &Service, user_id: i64) -> crate::Result<()> {
    state
        .accounts
        .qr_approvals
        .check_key(&user_id)
        .map_err(|_| {
            Error::new(
                Kind::TooMany,
                "rate_limited",
                "Too many sign-in approvals or lookups; wait a minute and try again",
            )
            .retry_after(60_000)
        })
}

/// What the store keeps of a short code: an HMAC under the server's code key, so a copy of
/// the database does not reveal live codes (a plain hash of ~40 bits is quick to invert).
fn short_code_key(state: &Service, normalized: &str) -> String {
    hex::encode(
        state
            .accounts
            .code_key
            .mac(&[b"qr-short-code:", normalized.as_bytes()]),
    )
}

fn qr_error(error: QrLoginError) -> Error {
    let (kind, code) = match error {
        QrLoginError::Expired => (Kind::Gone, "qr_expired"),
        QrLoginError::AlreadyDecided => (Kind::Conflict, "qr_already_decided"),
        QrLoginError::Denied => (Kind::Forbidden, "qr_denied"),
        QrLoginError::NotApproved => (Kind::Conflict, "qr_not_approved"),
        QrLoginError::AlreadyRedeemed => (Kind::Gone, "qr_already_redeemed"),
        QrLoginError::WrongSecret => (Kind::Forbidden, "qr_wrong_secret"),
        QrLoginError::MalformedShortCode => (Kind::Invalid, "malformed_short_code"),
        QrLoginError::Rng(e) => return Error::internal("QR login randomness", e),
    };
    Error::new(kind, code, error.to_string())
}

fn unknown_request() -> Error {
    Error::new(
        Kind::NotFound,
        "qr_not_found",
        "No sign-in request matches this code; it may have expired — refresh the sign-in page",
    )
}

/// The domain record of a stored row (state names are the store's).
fn to_domain(row: &QrLoginRow) -> crate::Result<QrLogin> {
    let user = || {
        row.approved_user_id
            .and_then(|id| u64::try_from(id).ok())
            .map(UserId)
            .ok_or_else(|| Error::internal("QR login row", "decided without a user"))
    };
    let decided_ms = row.decided_ms.unwrap_or(row.created_ms);
    let status = match row.state.as_str() {
        "pending" => QrStatus::Pending,
        "approved" => QrStatus::Approved {
            user_id: user()?,
            approved_ms: decided_ms,
        },
        "denied" => QrStatus::Denied {
            denied_ms: decided_ms,
        },
        "redeemed" => QrStatus::Redeemed {
            user_id: user()?,
            redeemed_ms: row.redeemed_ms.unwrap_or(decided_ms),
        },
        other => return Err(Error::internal("QR login row state", other)),
    };
    let ip = row
        .requester_ip
        .parse()
        .map_err(|e| Error::internal("QR login requester ip", e))?;
    Ok(QrLogin {
        nonce_hash: row.nonce_hash.clone(),
        short_code_hash: row.short_code.clone(),
        poll_secret_hash: row.poll_secret_hash.clone(),
        created_ms: row.created_ms,
        expires_ms: row.expires_ms,
        requester: Requester {
            ip,
            country: row.requester_country.clone(),
            user_agent: row.requester_ua.clone(),
        },
        status,
    })
}

/// `POST /api/v1/login/qr`: a browser that is not logged in starts a QR login.
pub async fn start(state: &Service, client: &Client) -> crate::Result<Value> {
    let now_ms = state.accounts.now_ms();
    if let Err(error) = state
        .store
        .prune_qr_logins(now_ms.saturating_sub(PRUNE_AFTER_MS))
        .await
    {
        tracing::warn!("api v1: pruning QR logins failed: {error}");
    }
    let requester = Requester {
        ip: client.ip,
        country: client.country.clone(),
        user_agent: client.user_agent.clone(),
    };
    // A fresh short code can collide with a live one (~40 bits); draw again a few times.
    let mut attempt = 0;
    let (created, id) = loop {
        attempt += 1;
        let created = qr_login::create(requester.clone(), now_ms).map_err(qr_error)?;
        let login = &created.login;
        let inserted = state
            .store
            .insert_qr_login(&NewQrLogin {
                nonce_hash: login.nonce_hash.clone(),
                poll_secret_hash: login.poll_secret_hash.clone(),
                short_code: short_code_key(state, &created.short_code),
                created_ms: login.created_ms,
                expires_ms: login.expires_ms,
                requester_ip: client.ip.to_string(),
                requester_country: client.country.clone(),
                requester_ua: client.user_agent.clone(),
            })
            .await;
        match inserted {
            Ok(id) => break (created, id),
            Err(bulwark_store::StoreError::Conflict(_)) if attempt < INSERT_ATTEMPTS => {}
            Err(error) => return Err(error.into()),
        }
    };
    let login = &created.login;
    let approve_url = qr_login::approve_url(&state.accounts.public_url, &created.nonce);
    let svg = totp::qr_svg(&approve_url).map_err(|e| Error::internal("QR code", e))?;
    Ok(json!({
        "id": id,
        "nonce": created.nonce,
        "short_code": created.short_code,
        "poll_secret": created.poll_secret,
        "approve_url": approve_url,
        "qr_svg": svg,
        "expires_at_ms": login.expires_ms,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollRequest {
    pub id: i64,
    pub poll_secret: String,
}

/// `POST /api/v1/login/qr/poll`: the waiting browser asks; once approved, the same call redeems
/// the approval (once) and answers with a session.
pub async fn poll(state: &Service, client: &Client, request: PollRequest) -> crate::Result<QrPoll> {
    check_len("poll_secret", &request.poll_secret, FIELD_CHARS_MAX)?;
    let Some(row) = state.store.get_qr_login(request.id).await? else {
        return Err(qr_error(QrLoginError::WrongSecret));
    };
    let login = to_domain(&row)?;
    let now_ms = state.accounts.now_ms();
    let status = qr_login::poll(&login, &request.poll_secret, now_ms).map_err(qr_error)?;
    Ok(match status {
        PollStatus::Pending => QrPoll::Waiting("pending"),
        PollStatus::Denied => QrPoll::Waiting("denied"),
        PollStatus::Expired => QrPoll::Waiting("expired"),
        PollStatus::Redeemed => QrPoll::Waiting("redeemed"),
        PollStatus::Approved => {
            QrPoll::Session(redeem(state, client, &row, &login, &request, now_ms).await?)
        }
    })
}

/// What a poll of the waiting browser learns: the request's state, or its new session.
pub enum QrPoll {
    Waiting(&'static str),
    Session(crate::sessions::IssuedSession),
}

async fn redeem(
    state: &Service,
    client: &Client,
    row: &QrLoginRow,
    login: &QrLogin,
    request: &PollRequest,
    now_ms: i64,
) -> crate::Result<crate::sessions::IssuedSession> {
    qr_login::redeem(login, &request.poll_secret, now_ms).map_err(qr_error)?;
    let presented = bulwark_identity::random::sha256(request.poll_secret.as_bytes());
    let Some(user_id) = state
        .store
        .redeem_qr_login(row.id, &presented, now_ms)
        .await?
    else {
        return Err(qr_error(QrLoginError::AlreadyRedeemed));
    };
    // The new session descends from the approving one, which must still be live.
    let approver = match row.approver_session_id {
        Some(id) => state.store.get_session(user_id, id).await?,
        None => None,
    };
    let Some(approver) = approver.filter(|s| {
        s.revoked_ms.is_none()
            && crate::sessions::status(s, now_ms) == bulwark_identity::session::SessionStatus::Valid
    }) else {
        crate::activity::record(state, client, Some(user_id), None, "qr", "approver_gone").await;
        return Err(Error::new(
            Kind::Forbidden,
            "qr_approver_gone",
            "The session that approved this sign-in has ended; approve it again from a logged-in device",
        ));
    };
    let origin = crate::sessions::Origin::Approval {
        approver: &approver,
    };
    let answer = crate::sessions::create(state, user_id, client, origin).await;
    let result = if answer.is_ok() { "success" } else { "refused" };
    crate::activity::record(state, client, Some(user_id), None, "qr", result).await;
    answer
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindRequest {
    /// The nonce from the scanned QR code, or
    #[serde(default)]
    pub nonce: Option<String>,
    /// the short code typed from the sign-in page.
    #[serde(default)]
    pub short_code: Option<String>,
}

async fn find(state: &Service, request: &FindRequest) -> crate::Result<QrLoginRow> {
    let row = match (request.nonce.as_deref(), request.short_code.as_deref()) {
        (Some(nonce), None) => {
            check_len("nonce", nonce, FIELD_CHARS_MAX)?;
            state
                .store
                .find_qr_login_by_nonce_hash(&qr_login::nonce_hash(nonce))
                .await?
        }
        (None, Some(code)) => {
            check_len("short_code", code, FIELD_CHARS_MAX)?;
            let normalized = qr_login::normalize_short_code(code).map_err(qr_error)?;
            let key = short_code_key(state, &normalized);
            state.store.find_qr_login_by_short_code(&key).await?
        }
        _ => {
            return Err(Error::bad_request(
                "missing_field",
                format!(
                    "Send exactly one of nonce (from the QR code) or short_code \
                     ({QR_SHORT_CODE_CHARS} characters from the sign-in page)"
                ),
            ));
        }
    };
    row.ok_or_else(unknown_request)
}

fn describe(login: &QrLogin, now_ms: i64) -> Value {
    let state = match login.status {
        QrStatus::Pending if now_ms >= login.expires_ms => "expired",
        QrStatus::Pending => "pending",
        QrStatus::Approved { .. } => "approved",
        QrStatus::Denied { .. } => "denied",
        QrStatus::Redeemed { .. } => "redeemed",
    };
    json!({
        "state": state,
        "requester": {
            "ip": login.requester.ip.to_string(),
            "country": login.requester.country,
            "user_agent": login.requester.user_agent,
        },
        "created_at_ms": login.created_ms,
        "expires_at_ms": login.expires_ms,
    })
}

/// `POST /api/v1/login/qr/lookup`: the approving device sees who asked to sign in.
pub async fn lookup(
    state: &Service,
    authed: &Authed,
    request: FindRequest,
) -> crate::Result<Value> {
    check_approval_rate(state, authed.user_id)?;
    let row = find(state, &request).await?;
    let login = to_domain(&row)?;
    Ok(describe(&login, state.accounts.now_ms()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub short_code: Option<String>,
    /// `approve` or `deny`.
    pub decision: String,
}

/// `POST /api/v1/login/qr/decide`: approve (the waiting browser becomes logged in as the caller)
/// or deny.
pub async fn decide(
    state: &Service,
    authed: &Authed,
    request: DecideRequest,
) -> crate::Result<Value> {
    check_approval_rate(state, authed.user_id)?;
    let approve = match request.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return Err(Error::bad_request(
                "invalid_decision",
                "decision must be \"approve\" or \"deny\"",
            ));
        }
    };
    let find_request = FindRequest {
        nonce: request.nonce.clone(),
        short_code: request.short_code.clone(),
    };
    let row = find(state, &find_request).await?;
    let login = to_domain(&row)?;
    let now_ms = state.accounts.now_ms();
    let user = UserId(u64::try_from(authed.user_id).unwrap_or_default());
    let decided = if approve {
        qr_login::approve(&login, user, now_ms)
    } else {
        qr_login::deny(&login, now_ms)
    };
    decided.map_err(qr_error)?;
    let won = if approve {
        state
            .store
            .approve_qr_login(row.id, authed.user_id, Some(authed.session.id), now_ms)
            .await?
    } else {
        state.store.deny_qr_login(row.id, now_ms).await?
    };
    if !won {
        return Err(qr_error(QrLoginError::AlreadyDecided));
    }
    let kind = if approve {
        "qr_login_approved"
    } else {
        "qr_login_denied"
    };
    state
        .store
        .record_security_event(&bulwark_store::NewSecurityEvent {
            user_id: authed.user_id,
            at_ms: now_ms,
            kind: kind.into(),
            ip: Some(authed.client.ip.to_string()),
            detail: Some(format!(
                "requester {} ({})",
                login.requester.ip, login.requester.user_agent
            )),
        })
        .await?;
    Ok(json!({
        "state": if approve { "approved" } else { "denied" },
    }))
}
