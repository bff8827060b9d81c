//! Self-service freeze: from a logged-in session or from the single-use "this wasn't me" link in
//! every message. Freezing ends every session, revokes every API key and cancels open orders
//! through the engine; only staff can unfreeze.

use crate::Kind;
use bulwark_engine::Command;
use bulwark_identity::codes::{self, Purpose};
use bulwark_notify::MessageKind;
use bulwark_store::{NewSecurityEvent, account_status};
use bulwark_types::{CommandId, UserId};
use serde_json::{Value, json};

use crate::Error;
use crate::client::Client;
use crate::notice::{account_recipient, notify};
use crate::service::Service;
use crate::sessions::Authed;

/// Longest freeze token read from the path.
const TOKEN_CHARS_MAX: usize = 256;

/// What a freeze did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frozen {
    pub sessions_revoked: u64,
    pub api_keys_revoked: u64,
    pub orders_cancel_submitted: bool,
}

/// Freezes the account (active -> frozen; an already frozen account is frozen again, harmlessly)
/// and removes every way in: sessions, API keys, open orders.
pub async fn freeze_account(
    state: &Service,
    user_id: i64,
    ip: Option<String>,
    via: &str,
) -> crate::Result<Frozen> {
    let now_ms = state.accounts.now_ms();
    state
        .store
        .transition_status(user_id, account_status::ACTIVE, account_status::FROZEN)
        .await?;
    let sessions_revoked = state
        .store
        .revoke_all_sessions(user_id, None, now_ms)
        .await?;
    // Unfinished logins end too (crate::sessions::create also refuses a frozen account).
    let login_step = bulwark_identity::codes::Purpose::Login2fa.as_str();
    state.store.void_tokens(user_id, login_step, now_ms).await?;
    let mut api_keys_revoked = 0;
    for key in state.store.list_api_keys(user_id).await? {
        if key.revoked == 0 {
            state.store.revoke_api_key(user_id, key.id).await?;
            api_keys_revoked += 1;
        }
    }
    let orders_cancel_submitted = cancel_orders(state, user_id).await;
    state
        .store
        .record_security_event(&NewSecurityEvent {
            user_id,
            at_ms: now_ms,
            kind: "account_frozen".into(),
            ip,
            detail: Some(format!("via {via}")),
        })
        .await?;
    if let Some(account) = state.store.get_account(user_id).await?
        && let Some(to) = account_recipient(&account)
    {
        let body = "Your Bulwark account was frozen: every session was logged out, every API key revoked and open orders cancelled.\nTo unfreeze it, contact support; staff will review the account first.".to_string();
        let subject = "Your Bulwark account is frozen";
        notify(
            state,
            user_id,
            to,
            MessageKind::AccountFrozen,
            subject,
            body,
        )
        .await;
    }
    Ok(Frozen {
        sessions_revoked,
        api_keys_revoked,
        orders_cancel_submitted,
    })
}

/// Submits `CancelAll` for the user when the engine is attached; failures are logged (the
/// freeze itself already stands, and a frozen account cannot place new orders).
async fn cancel_orders(state: &Service, user_id: i64) -> bool {
    let Some(bus) = state.accounts.bus() else {
        return false;
    };
    let Ok(user) = u64::try_from(user_id).map(UserId) else {
        return false;
    };
    let id = match crate::crypto::random_bytes::<16>() {
        Ok(bytes) => CommandId(bytes),
        Err(error) => {
            tracing::error!("api v1: freeze command id: {error}");
            return false;
        }
    };
    let command = Command::CancelAll {
        user,
        market: None,
        side: None,
    };
    match bus.submit(id, command).await {
        Ok(_) => true,
        Err(error) => {
            tracing::error!("api v1: cancelling orders of frozen user {user_id}: {error}");
            false
        }
    }
}

fn answer(frozen: Frozen) -> Value {
    json!({
        "status": "frozen",
        "sessions_revoked": frozen.sessions_revoked,
        "api_keys_revoked": frozen.api_keys_revoked,
        "orders_cancel_submitted": frozen.orders_cancel_submitted,
    })
}

/// The logged-in owner freezes the account (every session ends, this one too).
pub async fn freeze_self(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let ip = Some(authed.client.ip.to_string());
    let frozen = freeze_account(state, authed.user_id, ip, "session").await?;
    Ok(answer(frozen))
}

fn invalid_link() -> Error {
    Error::new(
        Kind::NotFound,
        "invalid_token",
        "The freeze link is unknown, expired or already used; log in and freeze from the security page, or contact support",
    )
}

/// `GET /api/v1/freeze/{token}`: whether the link is still usable (changes nothing, so mail
/// scanners that fetch links cannot freeze accounts).
pub async fn check_link(state: &Service, token: String) -> crate::Result<Value> {
    if token.len() > TOKEN_CHARS_MAX {
        return Err(invalid_link());
    }
    let hash = codes::token_hash(&token);
    let purpose = Purpose::FreezeAccount.as_str();
    let now_ms = state.accounts.now_ms();
    match state.store.find_live_token(&hash, purpose, now_ms).await? {
        Some(_) => Ok(json!({
            "status": "valid",
            "message": "POST to this URL to freeze the account: sessions end, API keys are revoked, open orders are cancelled",
        })),
        None => Err(invalid_link()),
    }
}

/// `POST /api/v1/freeze/{token}`: the "this wasn't me" link; single use, no login needed.
pub async fn freeze_by_link(
    state: &Service,
    client: &Client,
    token: String,
) -> crate::Result<Value> {
    if token.len() > TOKEN_CHARS_MAX {
        return Err(invalid_link());
    }
    let hash = codes::token_hash(&token);
    let purpose = Purpose::FreezeAccount.as_str();
    let now_ms = state.accounts.now_ms();
    let Some(row) = state.store.consume_token(&hash, purpose, now_ms).await? else {
        return Err(invalid_link());
    };
    let ip = Some(client.ip.to_string());
    let frozen = freeze_account(state, row.user_id, ip, "email link").await?;
    Ok(answer(frozen))
}
