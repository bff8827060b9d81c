//! A WebSocket request frame as a client sends it: never a panic; every topic that parses names
//! a listed market and reads back the same from the name it is acknowledged under.
#![no_main]

use std::sync::OnceLock;

use bulwark_api::ws::parse_request;
use bulwark_api::ws::topic::{PrivateTopic, Topic};
use bulwark_sequencer::Catalog;
use libfuzzer_sys::fuzz_target;

static CATALOG: OnceLock<Catalog> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let catalog = CATALOG.get_or_init(bulwark_fuzz::catalog);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((_op, args)) = parse_request(text) else {
        return;
    };
    for arg in args.iter().filter_map(|arg| arg.as_str()) {
        if let Ok(topic) = Topic::parse(arg, catalog) {
            assert!(catalog.market(&topic.symbol).is_some());
            assert_eq!(Topic::parse(&topic.key(), catalog).ok(), Some(topic));
        }
        if let Ok(topic) = PrivateTopic::parse(arg, catalog) {
            assert_eq!(
                PrivateTopic::parse(&topic.shown(), catalog).ok(),
                Some(topic)
            );
        }
    }
});
