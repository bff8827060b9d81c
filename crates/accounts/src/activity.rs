//! Login activity: one row per authentication step and its result, shown to the owner and to
//! staff. Every step of every login flow records through this one function.

use bulwark_identity::random::sha256;
use bulwark_store::NewLoginActivity;

use crate::client::Client;
use crate::service::Service;

/// Appends one login-activity row; a failure to record is logged, not shown.
pub async fn record(
    state: &Service,
    client: &Client,
    user_id: Option<i64>,
    identifier: Option<&str>,
    method: &str,
    result: &str,
) {
    let row = NewLoginActivity {
        user_id,
        identifier_hash: identifier.map(|i| sha256(i.as_bytes())),
        at_ms: state.accounts.now_ms(),
        ip: client.ip.to_string(),
        country: client.country.clone(),
        user_agent: client.user_agent.clone(),
        method: method.into(),
        result: result.into(),
        detail: None,
    };
    // Every login step by method and result, for operators (bounded sets, no identifier).
    metrics::counter!("bulwark_login_steps_total", "method" => method.to_owned(), "result" => result.to_owned())
        .increment(1);
    if let Err(error) = state.store.record_login_activity(&row).await {
        tracing::warn!("api v1: recording login activity failed: {error}");
    }
}
