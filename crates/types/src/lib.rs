//! Vocabulary shared by every Bulwark crate: identifiers, order sides and exact decimal amounts.
//!
//! Nothing here does I/O. Money is never a float: every amount is an integer count of the
//! smallest unit of its asset (or of a market's tick/lot), and the decimal strings of the
//! BitMart-style API are parsed into those integers by one strict parser.

pub mod candle;
pub mod decimal;
pub mod ids;

pub use decimal::{DecimalError, format_units, parse_units};
pub use ids::{CommandId, OrderId, Side, TradeId, UserId};
