//! The trade page's order form as the engine command the BitMart API would build for the same
//! order: the fields are handed to the API's own parsers (`submit_order`, algo `submit_order`),
//! so the page and the API accept and refuse exactly the same orders with the same messages.
//! The form's one-time nonce becomes the command id, so a form submitted twice (a double click,
//! a reload of the result page) places one order: the engine answers the repeat from its
//! idempotency window.

use bulwark_api::envelope::ApiError;
use bulwark_engine::Command;
use bulwark_sequencer::{Catalog, MarketInfo};
use bulwark_types::{CommandId, UserId};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Hex characters of a form nonce (128 bits).
pub const NONCE_HEX_CHARS: usize = 32;
/// Label mixed into command ids derived from form nonces.
const COMMAND_LABEL: &str = "bulwark-web/order/1:";

/// The order form as posted (every field optional so a missing one gets a clear message).
#[derive(Debug, Default, Deserialize)]
pub struct OrderForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub side: String,
    /// `limit`, `market`, `post_only`, `ioc`, `stop_limit` or `stop_market`.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub size: String,
    /// What a market buy spends, in the quote asset.
    #[serde(default)]
    pub total: String,
    #[serde(default)]
    pub trigger_price: String,
}

/// The form's order types and their labels, in the order the form lists them.
pub const ORDER_TYPES: [(&str, &str); 6] = [
    ("limit", "Limit"),
    ("market", "Market"),
    ("post_only", "Post-only"),
    ("ioc", "Immediate or cancel"),
    ("stop_limit", "Stop-limit"),
    ("stop_market", "Stop-market"),
];

/// A fresh nonce for a form about to be shown.
pub fn new_nonce() -> Result<String, ApiError> {
    bulwark_accounts::crypto::random_bytes::<16>()
        .map(hex::encode)
        .map_err(ApiError::internal)
}

/// The command id of the order a form with `nonce` places for `session_token`: bound to the
/// session, so another browser cannot replay or collide with it.
pub fn command_id(session_token: &str, nonce: &str) -> Result<CommandId, ApiError> {
    let nonce = nonce.trim();
    if nonce.len() != NONCE_HEX_CHARS || !nonce.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::bad(
            50021,
            "This order form is incomplete or expired: reload the page and try again",
        ));
    }
    let digest = Sha256::digest(format!("{COMMAND_LABEL}{session_token}:{nonce}").as_bytes());
    let mut id = [0_u8; 16];
    id.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    Ok(CommandId(id))
}

/// The engine command for `form` in `symbol`'s market: a `PlaceOrder`, or a `PlaceTrigger` for
/// a stop-limit or stop-market order.
pub fn command(
    catalog: &Catalog,
    user: UserId,
    symbol: &str,
    form: &OrderForm,
) -> Result<(MarketInfo, Command), ApiError> {
    let mut body = Map::new();
    let mut put = |name: &str, value: &str| {
        let value = value.trim();
        if !value.is_empty() {
            body.insert(name.into(), Value::from(value));
        }
    };
    put("symbol", symbol);
    put("side", &form.side);
    // Only the fields this type and side use: the form also posts the ones it hides.
    let market = matches!(form.kind.as_str(), "market" | "stop_market");
    if market && form.side == "buy" {
        put("notional", &form.total);
    } else {
        put("size", &form.size);
    }
    if !market {
        put("price", &form.price);
    }
    match form.kind.as_str() {
        "market" => put("type", "market"),
        "post_only" => put("type", "limit_maker"),
        "ioc" => put("type", "ioc"),
        "limit" | "" => put("type", "limit"),
        "stop_limit" | "stop_market" => {
            put("type", "trigger");
            put("trigger_type", if market { "market" } else { "limit" });
            put("trigger_price", &form.trigger_price);
            let (market, trigger) = bulwark_api::algo::new_trigger(catalog, user, &body)?;
            return Ok((market, Command::PlaceTrigger(trigger)));
        }
        other => {
            return Err(ApiError::bad(
                52000,
                format!("Unsupported order type '{other}'"),
            ));
        }
    }
    bulwark_api::orders::new_order(catalog, user, &body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn nonces_make_session_bound_command_ids() {
        let nonce = new_nonce().unwrap();
        assert_eq!(nonce.len(), NONCE_HEX_CHARS);
        let a = command_id("session-a", &nonce).unwrap();
        assert_eq!(a, command_id("session-a", &nonce).unwrap());
        assert_ne!(a, command_id("session-b", &nonce).unwrap());
        assert_ne!(a, command_id("session-a", &new_nonce().unwrap()).unwrap());
        for bad in ["", "xyz", &"g".repeat(32), &"a".repeat(31)] {
            assert_eq!(command_id("s", bad).unwrap_err().code, 50021);
        }
    }
}
