//! Self-service API keys: create (re-auth and, when enrolled, a second factor; the secret is
//! shown once), list without secrets, edit the IP allow-list, delete. Keys are made by
//! [`crate::keys::mint`], the same way the admin API makes them.

use crate::Kind;
use bulwark_identity::withdraw_lock::SecurityChange;
use bulwark_notify::MessageKind;
use bulwark_store::{ApiKeyRow, NewSecurityEvent, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::keys::{self, KEYS_PER_USER_MAX, KeyError};
use crate::notice::{account_recipient, notify};
use crate::recovery::{Change, apply_change, require_second_factor};
use crate::service::Service;
use crate::sessions::Authed;

fn key_error(error: KeyError) -> Error {
    match error {
        KeyError::Crypto(detail) => Error::internal("minting an API key", detail),
        other => Error::bad_request(other.code(), other.to_string()),
    }
}

fn not_found() -> Error {
    Error::new(
        Kind::NotFound,
        "api_key_not_found",
        "You have no live API key with this id",
    )
}

fn parse_id(id: &str) -> crate::Result<i64> {
    id.parse()
        .map_err(|_| Error::bad_request("invalid_api_key_id", "API key id must be an integer"))
}

/// The public view of a key (never the secret).
fn view(row: &ApiKeyRow, now_ms: i64) -> Value {
    let ips: Vec<&str> = row
        .ip_allowlist
        .split(',')
        .filter(|e| !e.is_empty())
        .collect();
    let scopes: Vec<&str> = row.scopes.split(',').filter(|e| !e.is_empty()).collect();
    json!({
        "id": row.id,
        "access_key": row.access_key,
        "memo": row.memo,
        "scopes": scopes,
        "ip_allowlist": ips,
        "created_ms": row.created_ms,
        "last_used_ms": (row.last_used_ms > 0).then_some(row.last_used_ms),
        "expired": keys::idle_expired(row, now_ms),
    })
}

fn default_scopes() -> Vec<String> {
    vec!["read".into()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub memo: String,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

const WITHDRAW_KEY_CHANGE: Change = Change {
    event: "api_key_created",
    lock: SecurityChange::WithdrawApiKeyCreated,
    kind: MessageKind::ApiKeyCreated,
    subject: "A withdraw-enabled API key was created",
    body: "An API key with the withdraw scope was created on your Bulwark account.\nWithdrawals are paused for 24 hours. If this was not you, freeze your account with the link below.",
};

/// `POST /api/v1/api-keys`: returns the access key and the secret once.
pub async fn create(
    state: &Service,
    authed: &Authed,
    request: CreateKeyRequest,
) -> crate::Result<Value> {
    keys::check_memo(&request.memo).map_err(key_error)?;
    let scopes =
        keys::parse_scopes(request.scopes.iter().map(String::as_str)).map_err(key_error)?;
    let ips =
        keys::parse_ips(request.ip_allowlist.iter().map(String::as_str)).map_err(key_error)?;
    let now_ms = state.accounts.now_ms();
    authed.require_recent_auth(now_ms)?;
    let live = state
        .store
        .list_api_keys(authed.user_id)
        .await?
        .iter()
        .filter(|k| k.revoked == 0)
        .count();
    if live >= KEYS_PER_USER_MAX {
        return Err(Error::new(
            Kind::Conflict,
            "too_many_api_keys",
            format!("At most {KEYS_PER_USER_MAX} API keys; delete one first"),
        ));
    }
    let minted = keys::mint(
        &state.master_key,
        authed.user_id,
        &request.memo,
        scopes,
        ips,
        now_ms,
    )
    .map_err(key_error)?;
    require_second_factor(
        state,
        authed.user_id,
        request.totp_code.as_deref(),
        request.recovery_code.as_deref(),
    )
    .await?;
    let id = state.store.insert_api_key(&minted.row).await?;
    let withdraw = minted.row.scopes.split(',').any(|s| s == "withdraw");
    let ip = Some(authed.client.ip.to_string());
    let allowed_after_ms = if withdraw {
        Some(apply_change(state, authed.user_id, ip, &WITHDRAW_KEY_CHANGE).await?)
    } else {
        let body = format!(
            "An API key named {} was created on your Bulwark account.\nIf this was not you, freeze your account with the link below.",
            minted.row.memo
        );
        record(
            state,
            authed,
            "api_key_created",
            MessageKind::ApiKeyCreated,
            "An API key was created",
            body,
        )
        .await?;
        None
    };
    let row = ApiKeyRow {
        id,
        user_id: authed.user_id,
        access_key: minted.row.access_key.clone(),
        secret_ciphertext: Vec::new(),
        memo: minted.row.memo.clone(),
        scopes: minted.row.scopes.clone(),
        ip_allowlist: minted.row.ip_allowlist.clone(),
        created_ms: now_ms,
        revoked: 0,
        last_used_ms: 0,
    };
    let mut answer = view(&row, now_ms);
    if let Some(object) = answer.as_object_mut() {
        object.insert("secret".into(), json!(minted.secret));
        object.insert(
            "withdrawals_allowed_after_ms".into(),
            json!(allowed_after_ms),
        );
    }
    Ok(answer)
}

/// A security event and a notice for a key change that does not lock withdrawals.
async fn record(
    state: &Service,
    authed: &Authed,
    event: &str,
    kind: MessageKind,
    subject: &str,
    body: String,
) -> crate::Result<()> {
    state
        .store
        .record_security_event(&NewSecurityEvent {
            user_id: authed.user_id,
            at_ms: state.accounts.now_ms(),
            kind: event.into(),
            ip: Some(authed.client.ip.to_string()),
            detail: None,
        })
        .await?;
    if let Some(account) = state.store.get_account(authed.user_id).await?
        && let Some(to) = account_recipient(&account)
    {
        notify(state, authed.user_id, to, kind, subject, body).await;
    }
    Ok(())
}

/// `GET /api/v1/api-keys`: the caller's live keys, without secrets.
pub async fn list(state: &Service, authed: &Authed) -> crate::Result<Value> {
    let now_ms = state.accounts.now_ms();
    let keys: Vec<Value> = state
        .store
        .list_api_keys(authed.user_id)
        .await?
        .iter()
        .filter(|k| k.revoked == 0)
        .map(|k| view(k, now_ms))
        .collect();
    Ok(json!({ "api_keys": keys }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditKeyRequest {
    pub ip_allowlist: Vec<String>,
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// `PATCH /api/v1/api-keys/{id}`: replaces the IP allow-list (re-auth and second factor).
pub async fn edit(
    state: &Service,
    authed: &Authed,
    id: String,
    request: EditKeyRequest,
) -> crate::Result<Value> {
    let id = parse_id(&id)?;
    let ips =
        keys::parse_ips(request.ip_allowlist.iter().map(String::as_str)).map_err(key_error)?;
    let now_ms = state.accounts.now_ms();
    authed.require_recent_auth(now_ms)?;
    let Some(mut row) = state
        .store
        .list_api_keys(authed.user_id)
        .await?
        .into_iter()
        .find(|k| k.id == id && k.revoked == 0)
    else {
        return Err(not_found());
    };
    if row.scopes.split(',').any(|s| s == "withdraw") && ips.is_empty() {
        return Err(key_error(KeyError::IpRequired));
    }
    require_second_factor(
        state,
        authed.user_id,
        request.totp_code.as_deref(),
        request.recovery_code.as_deref(),
    )
    .await?;
    match state.store.set_api_key_ips(authed.user_id, id, &ips).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(not_found()),
        Err(error) => return Err(error.into()),
    }
    row.ip_allowlist = ips;
    Ok(view(&row, now_ms))
}

/// `DELETE /api/v1/api-keys/{id}`: revokes one of the caller's keys.
pub async fn delete(state: &Service, authed: &Authed, id: String) -> crate::Result<Value> {
    let id = parse_id(&id)?;
    let live = state
        .store
        .list_api_keys(authed.user_id)
        .await?
        .into_iter()
        .any(|k| k.id == id && k.revoked == 0);
    if !live {
        return Err(not_found());
    }
    match state.store.revoke_api_key(authed.user_id, id).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(not_found()),
        Err(error) => return Err(error.into()),
    }
    let body = "An API key was deleted from your Bulwark account.\nIf this was not you, freeze your account with the link below.".to_string();
    record(
        state,
        authed,
        "api_key_deleted",
        MessageKind::ApiKeyDeleted,
        "An API key was deleted",
        body,
    )
    .await?;
    Ok(json!({"status": "deleted", "id": id}))
}
