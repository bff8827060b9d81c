//! A BitMart `submit_order` body as a client sends it: never a panic; an order that is accepted
//! names the market of its symbol and carries a client order id only of the allowed form.
#![no_main]

use std::sync::OnceLock;

use bulwark_api::extract::RawRequest;
use bulwark_engine::Command;
use bulwark_sequencer::Catalog;
use bulwark_types::UserId;
use libfuzzer_sys::fuzz_target;

static CATALOG: OnceLock<Catalog> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let catalog = CATALOG.get_or_init(bulwark_fuzz::catalog);
    let request = RawRequest {
        method: http::Method::POST,
        uri: http::Uri::from_static("/spot/v2/submit_order"),
        headers: http::HeaderMap::new(),
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 9)),
        body: bytes::Bytes::copy_from_slice(data),
        looked_up_key: None,
    };
    let Ok(body) = request.json_object() else {
        return;
    };
    let _ = bulwark_api::orders::parse_client_order_id(&body);
    if let Ok((market, command)) = bulwark_api::orders::new_order(catalog, UserId(1), &body) {
        assert!(catalog.market(&market.spec.symbol).is_some());
        let Command::PlaceOrder(order) = command else {
            panic!("submit_order built {command:?}");
        };
        assert_eq!(order.market, market.id);
        if let Some(client) = &order.client_order_id {
            let client = client.as_str();
            assert!(!client.is_empty() && client.len() <= 32);
            assert!(client.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }
});
