//! What the API fuzz targets share: the catalog a new exchange has after genesis.
#![forbid(unsafe_code)]

use bulwark_engine::{CommandHeader, Engine};
use bulwark_sequencer::Catalog;

/// The server's own genesis assets and markets (`operator::genesis`), applied to an engine as
/// on a first start, so the targets parse against the real scales and limits.
pub fn catalog() -> Catalog {
    let mut engine = Engine::new();
    let mut events = Vec::new();
    for (seq, (id, command)) in (1..).zip(bulwark_operator::genesis::default_commands()) {
        let header = CommandHeader {
            seq,
            timestamp_ms: 0,
            id,
        };
        if let Err(reject) = engine.apply(&header, &command, &mut events) {
            panic!("genesis command {seq} rejected: {reject}");
        }
    }
    Catalog::from_engine(&engine)
}
