//! What the Safeguard service answers when it cannot do what was asked.

use bulwark_custody::CustodyError;
use bulwark_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SafeguardError {
    #[error("no transparency report has been published yet")]
    NoReport,
    #[error("report {0} does not exist")]
    UnknownReport(i64),
    #[error("unknown asset {0}")]
    UnknownAsset(String),
    #[error("you held no {asset} when report {seq} was taken, so it has no leaf of yours")]
    NotInReport { asset: String, seq: i64 },
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("incident {0} does not exist")]
    IncidentNotFound(i64),
    #[error("claim {0} does not exist")]
    ClaimNotFound(i64),
    #[error("{0}")]
    Setup(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for SafeguardError {
    fn from(e: StoreError) -> SafeguardError {
        SafeguardError::Internal(format!("store: {e}"))
    }
}

impl From<CustodyError> for SafeguardError {
    fn from(e: CustodyError) -> SafeguardError {
        SafeguardError::Internal(format!("custody: {e}"))
    }
}

pub type SafeguardResult<T> = Result<T, SafeguardError>;

/// A refusal of bad input: its stable code and the message for the person who sent it.
pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> SafeguardError {
    SafeguardError::Invalid {
        code,
        message: message.into(),
    }
}

/// How every adapter (account API, pages, operator API) reports a Safeguard refusal.
impl From<SafeguardError> for bulwark_accounts::Error {
    fn from(e: SafeguardError) -> bulwark_accounts::Error {
        use bulwark_accounts::{Error, Kind};
        match e {
            SafeguardError::NoReport => Error::new(Kind::NotFound, "no_report", e.to_string()),
            SafeguardError::UnknownReport(_) => {
                Error::new(Kind::NotFound, "report_not_found", e.to_string())
            }
            SafeguardError::UnknownAsset(_) => Error::bad_request("unknown_asset", e.to_string()),
            SafeguardError::NotInReport { .. } => {
                Error::new(Kind::NotFound, "not_in_report", e.to_string())
            }
            SafeguardError::Invalid { code, .. } => Error::bad_request(code, e.to_string()),
            SafeguardError::IncidentNotFound(_) => {
                Error::new(Kind::NotFound, "incident_not_found", e.to_string())
            }
            SafeguardError::ClaimNotFound(_) => {
                Error::new(Kind::NotFound, "claim_not_found", e.to_string())
            }
            SafeguardError::Setup(_) | SafeguardError::Internal(_) => {
                Error::internal("safeguard", e)
            }
        }
    }
}
