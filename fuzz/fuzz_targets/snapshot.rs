//! An engine snapshot file's bytes, as recovery reads them: never a panic; a snapshot that
//! decodes encodes back to one with the same state hash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(engine) = bulwark_engine::Engine::decode_snapshot(data) {
        let again = bulwark_engine::Engine::decode_snapshot(&engine.encode_snapshot());
        assert_eq!(
            again.map(|e| e.state_hash()).ok(),
            Some(engine.state_hash())
        );
    }
});
