//! `GET /api/v1/devices` and `DELETE /api/v1/devices/{id}`: the owner's list of known devices.
//! Apart from the device rules (`devices`) because these need a logged-in session.

use super::V1State;
use super::error::V1Result;
use bulwark_accounts::Error;
use bulwark_accounts::Kind;

/// `GET /api/v1/devices`: the account's known devices.
pub async fn list(
    axum::extract::State(state): axum::extract::State<V1State>,
    authed: super::sessions::Authed,
) -> V1Result<axum::Json<serde_json::Value>> {
    let devices: Vec<serde_json::Value> = state
        .store
        .list_devices(authed.user_id)
        .await?
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "id": d.id,
                "current": authed.session.device_id == Some(d.id),
                "first_seen_ms": d.first_seen_ms,
                "last_seen_ms": d.last_seen_ms,
                "ip": d.ip,
                "country": d.country,
                "user_agent": d.user_agent,
            })
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "devices": devices })))
}

/// `DELETE /api/v1/devices/{id}`: forgets one of the caller's devices and ends its sessions.
pub async fn revoke(
    axum::extract::State(state): axum::extract::State<V1State>,
    authed: super::sessions::Authed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> V1Result<axum::Json<serde_json::Value>> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("invalid_device_id", "Device id must be an integer"))?;
    let now_ms = state.accounts.now_ms();
    match state.store.revoke_device(authed.user_id, id, now_ms).await {
        Ok(sessions) => Ok(axum::Json(
            serde_json::json!({"status": "revoked", "id": id, "sessions_revoked": sessions}),
        )),
        Err(bulwark_store::StoreError::NotFound(_)) => Err(Error::new(
            Kind::NotFound,
            "device_not_found",
            "You have no device with this id",
        )
        .into()),
        Err(error) => Err(error.into()),
    }
}
