//! Outcomes of commands. A rejected command changes nothing but the idempotency window.

use bulwark_types::OrderId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::spec::AssetId;

/// What an accepted command produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Accepted {
    /// An order was accepted (it may already be filled or expired: see its events).
    Order { id: OrderId },
    /// One order was cancelled.
    Cancelled { id: OrderId },
    /// Cancel-all: how many orders were cancelled.
    CancelledAll { count: u32 },
    /// Any other command that took effect.
    Done,
    /// A deposit or payout whose reference was already applied: nothing changed.
    AlreadyApplied,
    /// A stop order was accepted (it may already have fired: see its events).
    Trigger { id: OrderId },
}

/// Why a command was refused. Each names the field or limit, so the API can say it exactly.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum Reject {
    #[error("unknown market")]
    UnknownMarket,
    #[error("unknown asset")]
    UnknownAsset,
    #[error("market is halted")]
    MarketHalted,
    #[error("trading is halted")]
    GloballyHalted,
    #[error("price is required and must be positive")]
    PriceRequired,
    #[error("price is above the maximum of {max_ticks} ticks")]
    PriceAboveMax { max_ticks: i64 },
    #[error("size is required and must be positive")]
    SizeRequired,
    #[error("notional is required and must be positive for a market buy")]
    NotionalRequired,
    #[error("size is below the minimum of {min_lots} lots")]
    SizeBelowMin { min_lots: i64 },
    #[error("size is above the maximum of {max_lots} lots")]
    SizeAboveMax { max_lots: i64 },
    #[error("order value is below the minimum of {min} quote units")]
    NotionalBelowMin { min: i64 },
    #[error("balance not enough: need {needed}, available {available}")]
    InsufficientFunds {
        asset: AssetId,
        needed: i64,
        available: i64,
    },
    /// No longer produced: a `ClientOrderId` is well formed by construction. The variant stays
    /// so that outcomes already in snapshots' idempotency windows decode as they were written.
    #[error("client order id must be 1 to 32 letters or digits")]
    ClientOrderIdInvalid,
    #[error("client order id is already used by a live order")]
    DuplicateClientOrderId,
    #[error("post-only order would take liquidity")]
    PostOnlyWouldTake,
    #[error("fill-or-kill order cannot be filled completely")]
    FokUnfillable,
    #[error("order not found among live orders")]
    OrderNotFound,
    #[error("too many open orders: at most {max} per user")]
    TooManyOpenOrders { max: u32 },
    #[error("too many price levels: at most {max} per side")]
    TooManyPriceLevels { max: u32 },
    #[error("amount must be positive")]
    AmountNotPositive,
    #[error("amount would overflow")]
    Overflow,
    #[error("withdrawal id is already in use")]
    WithdrawalExists,
    #[error("withdrawal id is unknown")]
    WithdrawalUnknown,
    #[error("Safeguard fund balance not enough: need {needed}, have {available}")]
    FundInsufficient { needed: i64, available: i64 },
    #[error("invalid configuration: {0}")]
    InvalidSpec(String),
    #[error("reference text is too long or empty")]
    ReferenceInvalid,
    #[error("trigger price is required and must be positive, at most {max_ticks} ticks")]
    TriggerPriceInvalid { max_ticks: i64 },
    #[error("the market has no last trade price for a stop order to compare against")]
    NoLastPrice,
    #[error("too many waiting stop orders: at most {max} per user")]
    TooManyTriggers { max: u32 },
    #[error("stop order not found among waiting stop orders")]
    TriggerNotFound,
    #[error("withdrawal fee must be at least zero and less than the withdrawal")]
    WithdrawalFeeInvalid,
}

/// Result of applying one command.
pub type Outcome = Result<Accepted, Reject>;
