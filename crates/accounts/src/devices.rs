//! Known devices: a long-lived `__Host-bulwark_device` cookie (stored hashed) marks a browser the
//! account logged in from before; a full login without it registers a new device and emails the
//! owner about the new login.

use bulwark_identity::random::{base64url, random_bytes, sha256};
use bulwark_notify::MessageKind;
use bulwark_store::NewDevice;

use crate::client::Client;
use crate::error::Error;
use crate::notice::{account_recipient, notify};
use crate::service::Service;

/// How long a browser stays a known device without logging in (the cookie's lifetime).
pub const DEVICE_COOKIE_MAX_AGE_S: i64 = 365 * 24 * 3_600;
/// Longest device cookie value read.
const DEVICE_TOKEN_CHARS_MAX: usize = 128;

/// What the devices table keeps of a browser's cookie for one account. The browser keeps one
/// cookie for every account that logs in on it; salting the hash with the user id keeps rows of
/// different accounts apart and means a cookie never vouches for an account it was not
/// confirmed for.
pub fn cookie_hash(user_id: i64, token: &str) -> Vec<u8> {
    sha256(format!("{user_id}:{token}").as_bytes())
}

fn presented(client: &Client) -> Option<&str> {
    client
        .device_token
        .as_deref()
        .filter(|t| !t.is_empty() && t.len() <= DEVICE_TOKEN_CHARS_MAX)
}

/// The user's device this request comes from, confirmed or pending (not revoked).
pub async fn find(
    state: &Service,
    user_id: i64,
    client: &Client,
) -> crate::Result<Option<bulwark_store::DeviceRow>> {
    let Some(token) = presented(client) else {
        return Ok(None);
    };
    Ok(state
        .store
        .find_device(user_id, &cookie_hash(user_id, token))
        .await?)
}

/// Whether the account ever had a confirmed device (its very first login is trusted: the
/// sign-up just proved the address from some browser, and there is nothing to compare with).
/// Forgotten devices count, so forgetting every device does not turn confirmation off.
pub async fn has_confirmed(state: &Service, user_id: i64) -> crate::Result<bool> {
    Ok(state.store.ever_confirmed_a_device(user_id).await?)
}

/// Registers the browser as a device of `user_id` (confirmed or pending): reuses the browser's
/// cookie when it has one, else mints one. Returns the device id and the cookie value to set
/// when it is new.
pub async fn register(
    state: &Service,
    user_id: i64,
    client: &Client,
    confirmed: bool,
) -> crate::Result<(i64, Option<String>)> {
    if let Some(device) = find(state, user_id, client).await? {
        return Ok((device.id, None));
    }
    let now_ms = state.accounts.now_ms();
    let mut reuse = presented(client).map(str::to_string);
    loop {
        let (token, minted) = match reuse.take() {
            Some(token) => (token, false),
            None => {
                let bytes: [u8; 32] =
                    random_bytes().map_err(|e| Error::internal("device token", e))?;
                (base64url(&bytes), true)
            }
        };
        let inserted = state
            .store
            .insert_device(&NewDevice {
                user_id,
                cookie_hash: cookie_hash(user_id, &token),
                seen_ms: now_ms,
                ip: client.ip.to_string(),
                country: client.country.clone(),
                user_agent: client.user_agent.clone(),
                confirmed_ms: confirmed.then_some(now_ms),
            })
            .await;
        match inserted {
            Ok(id) => return Ok((id, minted.then_some(token))),
            // The browser's cookie belongs to a device this account revoked: a fresh one.
            Err(bulwark_store::StoreError::Conflict(_)) if !minted => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

/// The device a fully authenticated login uses: the known device (touched), or a new confirmed
/// one whose owner is emailed about the new login.
pub async fn recognise(
    state: &Service,
    user_id: i64,
    client: &Client,
) -> crate::Result<(i64, Option<String>)> {
    let now_ms = state.accounts.now_ms();
    if let Some(device) = find(state, user_id, client).await? {
        if device.confirmed_ms.is_none() {
            state
                .store
                .confirm_device(user_id, device.id, now_ms)
                .await?;
        }
        state
            .store
            .touch_device(
                device.id,
                now_ms,
                &client.ip.to_string(),
                client.country.as_deref(),
            )
            .await?;
        return Ok((device.id, None));
    }
    let registered = register(state, user_id, client, true).await?;
    notify_new_device_login(state, user_id, client).await?;
    Ok(registered)
}

/// Emails the owner that a new device logged in.
pub async fn notify_new_device_login(
    state: &Service,
    user_id: i64,
    client: &Client,
) -> crate::Result<()> {
    if let Some(account) = state.store.get_account(user_id).await?
        && let Some(to) = account_recipient(&account)
    {
        let body = format!(
            "Your Bulwark account was just logged in to from a new device.\r\nIP address: {}\r\nCountry: {}\r\nBrowser: {}\r\nIf this was not you, freeze your account with the link below and change your password.",
            client.ip,
            client.country.as_deref().unwrap_or("unknown"),
            client.user_agent
        );
        notify(
            state,
            user_id,
            to,
            MessageKind::NewDeviceLogin,
            "New login to your Bulwark account",
            body,
        )
        .await;
    }
    Ok(())
}
