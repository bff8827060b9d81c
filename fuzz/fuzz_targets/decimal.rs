//! Decimal amounts as clients send them: never a panic; whatever parses prints back to the same
//! number of units.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&scale, text)) = data.split_first() else {
        return;
    };
    let scale = u32::from(scale % 20);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    if let Ok(units) = bulwark_types::parse_units(text, scale) {
        let printed = bulwark_types::format_units(units, scale);
        assert_eq!(
            bulwark_types::parse_units(&printed, scale),
            Ok(units),
            "{text:?} -> {printed}"
        );
    }
});
