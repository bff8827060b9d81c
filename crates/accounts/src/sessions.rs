//! Sessions: creating one for a user who just authenticated (on the device the request came
//! from), and resolving a presented token into the signed-in caller, with the idle, absolute
//! and re-authentication windows of `bulwark-identity`.

use bulwark_identity::session::{self, SessionStatus, SessionTimes};
use bulwark_store::{NewSession, SessionRow};

use crate::client::Client;
use crate::error::{Error, Kind};
use crate::service::Service;

/// Longest session token accepted from a cookie or header.
pub const TOKEN_CHARS_MAX: usize = 128;

/// A new session: the token to hand out once.
pub struct IssuedSession {
    pub id: i64,
    /// A device cookie to set when the login came from a new device.
    pub new_device_token: Option<String>,
    pub token: String,
    pub expires_at_ms: i64,
}

/// Where a new session's clock starts.
pub enum Origin<'a> {
    /// A login that just authenticated the user: the session starts now.
    Login { second_factor: Option<&'a str> },
    /// A QR approval from `approver`: the new session inherits its authentication time and its
    /// absolute lifetime (and no second factor), so approving can neither refresh the
    /// re-authentication window nor extend a session past its 12 hours.
    Approval { approver: &'a SessionRow },
}

/// Creates a session for `user_id` on the device the request comes from. Refuses an account
/// that is no longer active (a freeze during an unfinished login must not end in a session).
pub async fn create(
    state: &Service,
    user_id: i64,
    client: &Client,
    origin: Origin<'_>,
) -> crate::Result<IssuedSession> {
    let active = state
        .store
        .get_account(user_id)
        .await?
        .is_some_and(|a| a.status == bulwark_store::account_status::ACTIVE);
    if !active {
        return Err(Error::new(
            Kind::Forbidden,
            "account_frozen",
            "This account is frozen or closed; contact support",
        ));
    }
    let (device_id, new_device_token) = crate::devices::recognise(state, user_id, client).await?;
    let now_ms = state.accounts.now_ms();
    let (created_ms, authenticated_ms, second_factor) = match origin {
        Origin::Login { second_factor } => (now_ms, now_ms, second_factor),
        Origin::Approval { approver } => (
            approver.created_ms,
            approver.authenticated_ms.unwrap_or(approver.created_ms),
            None,
        ),
    };
    let token = session::new_session_token().map_err(|e| Error::internal("session token", e))?;
    let id = state
        .store
        .insert_session(&NewSession {
            user_id,
            token_hash: token.hash.clone(),
            device_id: Some(device_id),
            created_ms,
            authenticated_ms: Some(authenticated_ms),
            ip: client.ip.to_string(),
            country: client.country.clone(),
            user_agent: client.user_agent.clone(),
            second_factor: second_factor.map(str::to_string),
        })
        .await?;
    if created_ms != now_ms {
        state.store.touch_session(id, now_ms).await?;
    }
    Ok(IssuedSession {
        id,
        new_device_token,
        token: token.token,
        // The new session was last seen now (touched above when it inherits an older start).
        expires_at_ms: SessionTimes {
            created_ms,
            last_seen_ms: now_ms,
            authenticated_ms,
        }
        .expires_at_ms(),
    })
}

/// Whether a stored session is still usable at `now_ms` (expiry only; revocation is the row's).
pub fn status(row: &SessionRow, now_ms: i64) -> SessionStatus {
    times(row).status(now_ms)
}

pub fn times(row: &SessionRow) -> SessionTimes {
    SessionTimes {
        created_ms: row.created_ms,
        last_seen_ms: row.last_seen_ms,
        authenticated_ms: row.authenticated_ms.unwrap_or(row.created_ms),
    }
}

/// The authenticated caller.
pub struct Authed {
    pub user_id: i64,
    pub session: SessionRow,
    pub client: Client,
}

impl Authed {
    /// 403 `reauth_required` unless the password was entered within the last 10 minutes.
    pub fn require_recent_auth(&self, now_ms: i64) -> crate::Result<()> {
        if times(&self.session).needs_reauth(now_ms) {
            return Err(Error::new(
                Kind::Forbidden,
                "reauth_required",
                "Confirm your password first (POST /api/v1/reauth); it is valid for 10 minutes",
            ));
        }
        Ok(())
    }
}

fn unauthenticated(code: &'static str, message: &str) -> Error {
    Error::new(Kind::Unauthenticated, code, message.to_string())
}

/// The signed-in caller of the session `token` (from a cookie or a bearer header), touching the
/// session when it is due; `not_authenticated`, `invalid_session` or `session_expired` when
/// there is none.
pub async fn authenticate(
    state: &Service,
    token: Option<&str>,
    client: Client,
) -> crate::Result<Authed> {
    let Some(token) = token else {
        return Err(unauthenticated("not_authenticated", "Log in first"));
    };
    if token.is_empty() || token.len() > TOKEN_CHARS_MAX {
        return Err(unauthenticated(
            "invalid_session",
            "The session token is not valid",
        ));
    }
    let hash = session::session_token_hash(token);
    let Some(row) = state.store.find_session_by_token_hash(&hash).await? else {
        return Err(unauthenticated(
            "invalid_session",
            "The session token is unknown or was revoked; log in again",
        ));
    };
    let now_ms = state.accounts.now_ms();
    let times = times(&row);
    match times.status(now_ms) {
        SessionStatus::Valid => {}
        SessionStatus::IdleExpired | SessionStatus::AbsoluteExpired => {
            return Err(unauthenticated(
                "session_expired",
                "The session expired; log in again",
            ));
        }
    }
    if times.should_touch(now_ms) {
        state.store.touch_session(row.id, now_ms).await?;
    }
    Ok(Authed {
        user_id: row.user_id,
        session: row,
        client,
    })
}

/// The second factor a login method stands for (`None` for the password alone).
pub fn second_factor_of(method: &str) -> Option<&str> {
    matches!(method, "totp" | "recovery_code" | "email" | "sms").then_some(method)
}
