//! The account API's JSON bodies as a client sends them: the strict body parser never panics
//! for any of the request types (the first byte picks one), and a login identifier that parses
//! prints back to itself.
#![no_main]

use bulwark_accounts::api_keys::{CreateKeyRequest, EditKeyRequest};
use bulwark_accounts::login::LoginRequest;
use bulwark_accounts::recovery::{ChangePasswordRequest, ResetRequest};
use bulwark_accounts::signup::SignupRequest;
use bulwark_api::v1::body::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 6 {
        0 => {
            if let Ok(login) = parse::<LoginRequest>(body)
                && let Ok(identifier) =
                    bulwark_accounts::validate::parse_identifier(&login.identifier)
            {
                let text = bulwark_accounts::validate::identifier_text(&identifier);
                let again = bulwark_accounts::validate::parse_identifier(text).ok();
                assert_eq!(
                    again
                        .as_ref()
                        .map(bulwark_accounts::validate::identifier_text),
                    Some(text)
                );
            }
        }
        1 => drop(parse::<SignupRequest>(body)),
        2 => drop(parse::<CreateKeyRequest>(body)),
        3 => drop(parse::<EditKeyRequest>(body)),
        4 => drop(parse::<ResetRequest>(body)),
        _ => drop(parse::<ChangePasswordRequest>(body)),
    }
});
