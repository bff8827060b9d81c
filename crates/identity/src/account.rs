//! Account identifiers and user-chosen fields, parsed into types that can only hold valid
//! values ("parse, don't validate"): email, phone (E.164), display name, anti-phishing code.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Longest email address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest local part (RFC 5321).
pub const MAX_EMAIL_LOCAL_CHARS: usize = 64;
/// Longest DNS label.
pub const MAX_DOMAIN_LABEL_CHARS: usize = 63;
/// Fewest digits in a phone number (E.164 numbers in practice have at least 8).
pub const MIN_PHONE_DIGITS: usize = 8;
/// Most digits in a phone number (E.164).
pub const MAX_PHONE_DIGITS: usize = 15;
/// Longest display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// Shortest anti-phishing code.
pub const MIN_ANTI_PHISHING_CHARS: usize = 4;
/// Longest anti-phishing code.
pub const MAX_ANTI_PHISHING_CHARS: usize = 20;

/// Why an identifier or field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("email address is empty")]
    EmailEmpty,
    #[error("email address is too long: at most {MAX_EMAIL_CHARS} characters")]
    EmailTooLong,
    #[error("email address must contain exactly one @")]
    EmailAt,
    #[error(
        "the part before @ must be 1 to {MAX_EMAIL_LOCAL_CHARS} letters, digits or . ! # $ % & ' * + / = ? ^ _ ` {{ | }} ~ -, without leading, trailing or double dots"
    )]
    EmailLocalPart,
    #[error("the domain after @ must be a valid host name such as example.com")]
    EmailDomain,
    #[error(
        "phone number must be in international format: + then {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits, not starting with 0"
    )]
    PhoneFormat,
    #[error("name must be 1 to {MAX_DISPLAY_NAME_CHARS} characters without control characters")]
    DisplayName,
    #[error(
        "anti-phishing code must be {MIN_ANTI_PHISHING_CHARS} to {MAX_ANTI_PHISHING_CHARS} characters: letters, digits or _"
    )]
    AntiPhishingCode,
    #[error("enter an email address or a phone number starting with +")]
    Identifier,
}

/// A normalised (lower-case, trimmed) email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Trim, lower-case and check an address (RFC 5321-ish; ASCII only).
    pub fn parse(input: &str) -> Result<Self, AccountError> {
        let text = input.trim().to_ascii_lowercase();
        if text.is_empty() {
            return Err(AccountError::EmailEmpty);
        }
        if text.len() > MAX_EMAIL_CHARS {
            return Err(AccountError::EmailTooLong);
        }
        let (local, domain) = match text.split_once('@') {
            Some((l, d)) if !d.contains('@') => (l, d),
            _ => return Err(AccountError::EmailAt),
        };
        if !valid_local_part(local) {
            return Err(AccountError::EmailLocalPart);
        }
        if !valid_domain(domain) {
            return Err(AccountError::EmailDomain);
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@` (a forbidden password context word).
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or(self.0.as_str(), |(l, _)| l)
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

fn valid_local_part(local: &str) -> bool {
    const SPECIALS: &str = ".!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= MAX_EMAIL_LOCAL_CHARS
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= MAX_DOMAIN_LABEL_CHARS
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld_ok = labels.last().is_some_and(|tld| {
        (tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())) || tld.starts_with("xn--")
    });
    labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = AccountError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// A phone number in E.164 form: `+` and 8..=15 digits, the first not 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Accepts spaces, dots, dashes and parentheses as separators and drops them.
    pub fn parse(input: &str) -> Result<Self, AccountError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').ok_or(AccountError::PhoneFormat)?;
        let valid = (MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Self(compact))
        } else {
            Err(AccountError::PhoneFormat)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`.
    pub fn digits(&self) -> &str {
        self.0.strip_prefix('+').unwrap_or(&self.0)
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = AccountError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(value: Phone) -> Self {
        value.0
    }
}

/// How a person identifies themselves at sign-up and login.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoginIdentifier {
    Email(Email),
    Phone(Phone),
}

impl LoginIdentifier {
    /// `+…` is a phone number, anything with `@` an email address.
    pub fn parse(input: &str) -> Result<Self, AccountError> {
        let trimmed = input.trim();
        if trimmed.starts_with('+') {
            Phone::parse(trimmed).map(Self::Phone)
        } else if trimmed.contains('@') {
            Email::parse(trimmed).map(Self::Email)
        } else {
            Err(AccountError::Identifier)
        }
    }
}

/// A display name: NFKC-normalised, trimmed, inner whitespace collapsed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, AccountError> {
        let normalized: String = input.nfkc().collect();
        if normalized.chars().any(char::is_control) {
            return Err(AccountError::DisplayName);
        }
        let collapsed = normalized.split_whitespace().collect::<Vec<_>>().join(" ");
        let n = collapsed.chars().count();
        if n == 0 || n > MAX_DISPLAY_NAME_CHARS {
            return Err(AccountError::DisplayName);
        }
        Ok(Self(collapsed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = AccountError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DisplayName> for String {
    fn from(value: DisplayName) -> Self {
        value.0
    }
}

/// The user's anti-phishing code (F1): 4–20 of `[A-Za-z0-9_]`, shown in every email.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AntiPhishingCode(String);

impl AntiPhishingCode {
    pub fn parse(input: &str) -> Result<Self, AccountError> {
        let code = input.trim();
        let valid = (MIN_ANTI_PHISHING_CHARS..=MAX_ANTI_PHISHING_CHARS).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(Self(code.to_string()))
        } else {
            Err(AccountError::AntiPhishingCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AntiPhishingCode {
    type Error = AccountError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AntiPhishingCode> for String {
    fn from(value: AntiPhishingCode) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn emails_are_normalised() {
        let e = Email::parse("  Alice.Smith+Tag@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "alice.smith+tag@example.com");
        assert_eq!(e.local_part(), "alice.smith+tag");
        assert_eq!(e.domain(), "example.com");
        assert!(Email::parse("o'brien@mail.example.co.uk").is_ok());
        assert!(Email::parse("x@xn--bcher-kva.example").is_ok());
    }

    #[test]
    fn bad_emails_get_specific_errors() {
        use AccountError::*;
        let cases = [
            ("", EmailEmpty),
            ("   ", EmailEmpty),
            ("no-at.example.com", EmailAt),
            ("a@b@example.com", EmailAt),
            ("@example.com", EmailLocalPart),
            (".a@example.com", EmailLocalPart),
            ("a.@example.com", EmailLocalPart),
            ("a..b@example.com", EmailLocalPart),
            ("a b@example.com", EmailLocalPart),
            ("ü@example.com", EmailLocalPart),
            ("a@", EmailDomain),
            ("a@localhost", EmailDomain),
            ("a@-x.com", EmailDomain),
            ("a@x-.com", EmailDomain),
            ("a@x..com", EmailDomain),
            ("a@x.c", EmailDomain),
            ("a@x.123", EmailDomain),
            ("a@exa_mple.com", EmailDomain),
        ];
        for (input, want) in cases {
            assert_eq!(Email::parse(input), Err(want.clone()), "{input:?}");
        }
        let local64 = "a".repeat(64);
        assert!(Email::parse(&format!("{local64}@example.com")).is_ok());
        assert_eq!(
            Email::parse(&format!("a{local64}@example.com")),
            Err(EmailLocalPart)
        );
        let long = format!(
            "{}@{}.com",
            "a".repeat(60),
            ["b", "c", "d", "e"].map(|l| l.repeat(60)).join(".")
        );
        assert!(long.len() > 254);
        assert_eq!(Email::parse(&long), Err(EmailTooLong));
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(
            Phone::parse("+44 20 7946-0958").unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(
            Phone::parse("+1 (212) 555.0100").unwrap().digits(),
            "12125550100"
        );
        assert!(Phone::parse("+12345678").is_ok());
        assert!(Phone::parse("+123456789012345").is_ok());
        for bad in [
            "",
            "442079460958",
            "+1234567",
            "+1234567890123456",
            "+0441234567",
            "+44a2079460958",
            "++442079460958",
        ] {
            assert_eq!(Phone::parse(bad), Err(AccountError::PhoneFormat), "{bad:?}");
        }
    }

    #[test]
    fn login_identifier_picks_the_kind() {
        assert!(matches!(
            LoginIdentifier::parse("a@example.com"),
            Ok(LoginIdentifier::Email(_))
        ));
        assert!(matches!(
            LoginIdentifier::parse(" +442079460958"),
            Ok(LoginIdentifier::Phone(_))
        ));
        assert_eq!(
            LoginIdentifier::parse("alice"),
            Err(AccountError::Identifier)
        );
    }

    #[test]
    fn display_names() {
        assert_eq!(
            DisplayName::parse("  Ａｌｉｃｅ   Smith ")
                .unwrap()
                .as_str(),
            "Alice Smith"
        );
        assert_eq!(
            DisplayName::parse("Zoë O'Brien").unwrap().as_str(),
            "Zoë O'Brien"
        );
        assert_eq!(DisplayName::parse(""), Err(AccountError::DisplayName));
        assert_eq!(
            DisplayName::parse("a\u{0}b"),
            Err(AccountError::DisplayName)
        );
        assert_eq!(DisplayName::parse("a\nb"), Err(AccountError::DisplayName));
        assert!(DisplayName::parse(&"x".repeat(64)).is_ok());
        assert_eq!(
            DisplayName::parse(&"x".repeat(65)),
            Err(AccountError::DisplayName)
        );
    }

    #[test]
    fn anti_phishing_codes() {
        for ok in ["abcd", "My_Code_2024", "A1B2C3D4E5F6G7H8I9J0"] {
            assert_eq!(AntiPhishingCode::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "abc",
            "A1B2C3D4E5F6G7H8I9J0K",
            "has space",
            "dash-no",
            "émoji",
            "",
        ] {
            assert_eq!(
                AntiPhishingCode::parse(bad),
                Err(AccountError::AntiPhishingCode),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn serde_goes_through_parsing() {
        let e: Email = serde_json::from_str("\"Bob@Example.com\"").unwrap();
        assert_eq!(e.as_str(), "bob@example.com");
        assert!(serde_json::from_str::<Phone>("\"12345\"").is_err());
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"bob@example.com\"");
    }

    #[test]
    fn errors_have_messages() {
        assert!(
            AccountError::PhoneFormat
                .to_string()
                .contains("+ then 8 to 15 digits")
        );
        assert!(
            AccountError::AntiPhishingCode
                .to_string()
                .contains("4 to 20")
        );
    }
}
