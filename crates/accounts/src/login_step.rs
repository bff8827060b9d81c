//! Where a login stands after each step, as a type: every adapter (the JSON API, the web pages)
//! renders the same steps its own way instead of branching on strings.

use crate::sessions::IssuedSession;

/// Why a fully authenticated login has to wait for the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    NewDevice,
    NewCountry,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NewDevice => "new_device",
            Reason::NewCountry => "new_country",
        }
    }
}

/// The next step of a login.
pub enum LoginStep {
    /// The password matched a sign-up attempt that is not verified yet; its code was re-sent.
    VerificationRequired,
    /// The password was right; a second factor is due, with the single-use pre-auth token.
    SecondFactor {
        pre_auth_token: String,
        methods: Vec<&'static str>,
        expires_at_ms: i64,
    },
    /// Fully authenticated from a new device or country: the owner must confirm (code or link).
    ConfirmationRequired {
        reason: Reason,
        confirmation_token: String,
        expires_at_ms: i64,
        /// A device cookie to set: the browser was registered as a pending device.
        new_device_token: Option<String>,
    },
    /// The owner has not confirmed yet (a poll of the waiting client).
    ConfirmationPending { expires_at_ms: i64 },
    /// Logged in.
    Done(IssuedSession),
}
