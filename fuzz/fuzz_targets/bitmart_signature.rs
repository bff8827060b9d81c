//! BitMart's signature headers (`X-BM-TIMESTAMP`, `X-BM-SIGN`) and the signed payload as a
//! client sends them: never a panic; a signature we compute ourselves is accepted exactly when
//! the timestamp is a number within the window; anything else in `X-BM-SIGN` is refused unless
//! it is that same signature.
#![no_main]

use bulwark_api::auth::{TIMESTAMP_WINDOW_MS, sign, verify_signature};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret-of-32-bytes-exactly!";
const NOW_MS: i64 = 1_767_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Fields separated by newlines: timestamp, sign, memo, then the payload.
    let mut fields = text.splitn(4, '\n');
    let timestamp = fields.next().unwrap_or("");
    let given = fields.next().unwrap_or("");
    let memo = fields.next().unwrap_or("");
    let payload = fields.next().unwrap_or("").as_bytes();

    let right = sign(SECRET, timestamp, memo, payload);
    let in_window = timestamp
        .parse::<i64>()
        .is_ok_and(|ms| NOW_MS.saturating_sub(ms).saturating_abs() <= TIMESTAMP_WINDOW_MS);
    let ours = verify_signature(SECRET, memo, timestamp, &right, &[payload], NOW_MS);
    assert_eq!(ours.is_ok(), in_window, "{timestamp:?}");
    let theirs = verify_signature(SECRET, memo, timestamp, given, &[payload, b""], NOW_MS);
    if theirs.is_ok() {
        let empty = sign(SECRET, timestamp, memo, b"");
        let given = given.to_ascii_lowercase();
        assert!(given == right || given == empty, "{given:?} accepted");
    }
});
