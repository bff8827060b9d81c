//! What custody answers when it refuses: one typed reason per refusal, so every adapter maps it
//! to its own codes (BitMart's 600xx, a page's message) without reading text.

use crate::address::AddressError;
use crate::network::Network;

#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    #[error("{asset} is not available on network {network}")]
    UnknownCoin { asset: String, network: String },
    #[error("deposits of {asset} on {network} are closed")]
    DepositsClosed { asset: String, network: Network },
    #[error("{0}")]
    DepositNotPermitted(String),
    #[error("withdrawals of {asset} on {network} are closed")]
    WithdrawalsClosed { asset: String, network: Network },
    #[error("withdrawals of {asset} are frozen until an open custody incident is resolved")]
    WithdrawalsFrozen { asset: String },
    #[error(transparent)]
    InvalidAddress(#[from] AddressError),
    #[error("network {network} does not use memos or tags; send the withdrawal without one")]
    MemoNotSupported { network: Network },
    #[error("amount {0}")]
    InvalidAmount(String),
    #[error("the amount is below the minimum withdrawal of {minimum} {asset}")]
    BelowMinimum { minimum: String, asset: String },
    #[error("insufficient balance: {available} {asset} available")]
    InsufficientBalance { available: String, asset: String },
    #[error("{0}")]
    NotPermitted(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("the account is {status}; withdrawals are not possible")]
    AccountNotActive { status: String },
    #[error("withdrawals are locked for {remaining_s} more seconds after a recent security change")]
    WithdrawLocked { remaining_s: i64 },
    #[error("the address is not on your withdrawal whitelist, or is still cooling down")]
    NotWhitelisted,
    #[error("no such deposit or withdrawal")]
    NotFound,
    #[error("the withdrawal is {state} and can no longer be {action}")]
    WrongState { state: String, action: &'static str },
    #[error("this confirmation link is invalid or was already used")]
    ConfirmationInvalid,
    #[error("this confirmation link has expired; the withdrawal was cancelled")]
    ConfirmationExpired,
    #[error("{0}")]
    SecondFactor(String),
    #[error("the person who requested a withdrawal cannot approve it")]
    RequesterCannotApprove,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<bulwark_store::StoreError> for CustodyError {
    fn from(error: bulwark_store::StoreError) -> Self {
        CustodyError::Internal(format!("store: {error}"))
    }
}

pub type CustodyResult<T> = Result<T, CustodyError>;
