//! Typed identifiers, so a user id can never be passed where an order id is expected.

use serde::{Deserialize, Serialize};

/// A registered user. Assigned by the SQL store; the engine only ever sees the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserId(pub u64);

/// An order, assigned by the engine in sequence so ids are deterministic across replays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrderId(pub u64);

/// A trade (one fill between a maker and a taker), assigned by the engine in sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TradeId(pub u64);

/// Idempotency key of a command. Services derive it from their own ids (a deposit reference,
/// a withdrawal id, a request id) so that a retried submission is recognised as the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CommandId(pub [u8; 16]);

/// Which side of the book an order is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// The side an incoming order of this side matches against.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// The lowercase word the BitMart API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}
