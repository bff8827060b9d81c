//! The one error of the accounts service: what kind of refusal it is (each adapter turns a kind
//! into its own status), a stable snake_case code clients branch on, and a specific message.

use serde_json::Value;

/// What kind of refusal an [`Error`] is, independent of any transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The input is malformed or breaks a rule; nothing changed.
    Invalid,
    /// The caller is not (or no longer) authenticated, or the credentials are wrong.
    Unauthenticated,
    /// Authenticated but not allowed (frozen, restricted, missing role, re-auth needed).
    Forbidden,
    /// The object does not exist or is not the caller's.
    NotFound,
    /// The request conflicts with the current state (already done, taken, raced).
    Conflict,
    /// The token, link or code existed but is used up or expired.
    Gone,
    /// Too many tries; `retry_after_s` says when to come back.
    TooMany,
    /// A dependency is saturated or missing (argon2 pool busy, no engine attached).
    Unavailable,
    /// A failure on our side; the details went to the log.
    Internal,
}

/// A refusal: kind, stable code, human message, and optional extra fields (a challenge).
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub code: &'static str,
    pub message: String,
    pub retry_after_s: Option<u64>,
    pub extra: Option<(&'static str, Value)>,
}

/// Result of every use case.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind,
            code,
            message: message.into(),
            retry_after_s: None,
            extra: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Error {
        Error::new(Kind::Invalid, code, message)
    }

    /// Something failed on our side; details go to the log, never to the client.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> Error {
        tracing::error!("accounts: {what}: {error}");
        Error::new(
            Kind::Internal,
            "internal_error",
            "Something went wrong on our side; try again later",
        )
    }

    /// Too many tries: come back in whole seconds (at least 1).
    pub fn retry_after(mut self, wait_ms: i64) -> Error {
        let wait_ms = u64::try_from(wait_ms.max(0)).unwrap_or(0);
        self.retry_after_s = Some(wait_ms.div_ceil(1_000).max(1));
        self
    }

    pub fn with(mut self, key: &'static str, value: Value) -> Error {
        self.extra = Some((key, value));
        self
    }
}

impl From<bulwark_store::StoreError> for Error {
    fn from(error: bulwark_store::StoreError) -> Error {
        Error::internal("store", error)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let error = Error::new(Kind::TooMany, "x", "y");
        assert_eq!(error.retry_after(1).retry_after_s, Some(1));
        let error = Error::new(Kind::TooMany, "x", "y");
        assert_eq!(error.retry_after(2_001).retry_after_s, Some(3));
        let error = Error::new(Kind::TooMany, "x", "y");
        assert_eq!(error.retry_after(-5).retry_after_s, Some(1));
    }
}
