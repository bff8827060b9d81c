//! Checks of the fields every use case reads (lengths, identifiers), each failing with its own
//! code so a client can tell which field was wrong.

use bulwark_identity::account::{AccountError, LoginIdentifier};

use crate::error::Error;

/// Longest identifier accepted (an email address's limit).
pub const IDENTIFIER_CHARS_MAX: usize = 254;

/// Refuses a string field longer than `max_chars` characters.
pub fn check_len(field: &str, value: &str, max_chars: usize) -> crate::Result<()> {
    if value.chars().count() > max_chars {
        return Err(Error::bad_request(
            "field_too_long",
            format!("{field} is longer than {max_chars} characters"),
        ));
    }
    Ok(())
}

/// Parses and checks an identifier field (an email address or a phone number).
pub fn parse_identifier(input: &str) -> crate::Result<LoginIdentifier> {
    check_len("identifier", input, IDENTIFIER_CHARS_MAX)?;
    LoginIdentifier::parse(input).map_err(|error| {
        let code = match error {
            AccountError::PhoneFormat => "invalid_phone",
            AccountError::Identifier => "invalid_identifier",
            _ => "invalid_email",
        };
        Error::bad_request(code, error.to_string())
    })
}

/// The normalised text of an identifier (the form stored and hashed).
pub fn identifier_text(identifier: &LoginIdentifier) -> &str {
    match identifier {
        LoginIdentifier::Email(email) => email.as_str(),
        LoginIdentifier::Phone(phone) => phone.as_str(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn lengths_and_identifiers_have_specific_codes() {
        assert_eq!(
            check_len("f", "abcd", 3).unwrap_err().code,
            "field_too_long"
        );
        assert!(check_len("f", "abc", 3).is_ok());
        assert_eq!(
            parse_identifier("nope").unwrap_err().code,
            "invalid_identifier"
        );
        let long = format!("{}@example.com", "a".repeat(300));
        assert_eq!(parse_identifier(&long).unwrap_err().code, "field_too_long");
        let parsed = parse_identifier("Someone@Example.com").unwrap();
        assert_eq!(identifier_text(&parsed), "someone@example.com");
    }
}
