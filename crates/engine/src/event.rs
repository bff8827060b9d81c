//! Events: what a command did, emitted in order. Order, balance and system events carry the
//! absolute state after the change (not deltas), so a projection can apply them idempotently.

use bulwark_types::{OrderId, Side, TradeId, UserId};
use serde::{Deserialize, Serialize};

use crate::client_order_id::ClientOrderId;
use crate::command::{OrderKind, StpMode};
use crate::reject::Reject;
use crate::spec::{AssetId, AssetSpec, MarketId, MarketSpec};

/// Lifecycle of an order (BitMart v4 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderState {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    /// Cancelled (or expired, for IOC/market) after a partial fill.
    PartiallyCanceled,
}

impl OrderState {
    /// Whether the order is still on the book.
    pub fn is_live(self) -> bool {
        matches!(self, OrderState::New | OrderState::PartiallyFilled)
    }
}

/// Why an order left the book without filling completely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CancelReason {
    /// The owner (or cancel-all) asked.
    User,
    /// IOC or market order remainder that could not fill immediately.
    Expired,
    /// Self-trade prevention.
    SelfTrade,
    /// A market buy ran out of its notional before the next whole lot.
    NotionalExhausted,
}

/// Full state of one order after a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: OrderId,
    pub user: UserId,
    pub market: MarketId,
    pub side: Side,
    pub kind: OrderKind,
    /// 0 for market orders.
    pub price_ticks: i64,
    /// 0 for a market buy.
    pub size_lots: i64,
    /// Quote budget of a market buy, else 0.
    pub notional: i64,
    pub filled_lots: i64,
    /// Quote units exchanged so far (before fees).
    pub filled_quote: i64,
    /// Fees charged so far, in the asset the order receives.
    pub fee_paid: i64,
    pub state: OrderState,
    pub cancel_reason: Option<CancelReason>,
    pub client_order_id: Option<ClientOrderId>,
    pub stp: StpMode,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Which way the last price must move for a stop order to fire, fixed when it is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TriggerDirection {
    /// Fires when the last price is at or above the trigger price.
    Rise,
    /// Fires when the last price is at or below the trigger price.
    Fall,
}

/// Lifecycle of a stop order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TriggerState {
    /// Waiting for the price; its funds are held.
    Waiting,
    /// Fired and placed order `0` (which then lives its own life).
    Triggered(OrderId),
    /// Fired, but the order it placed was refused; its funds went back to available.
    Failed(Reject),
    /// Cancelled by its owner before firing; its funds went back to available.
    Canceled,
}

/// Full state of one stop order after a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerView {
    pub id: OrderId,
    pub user: UserId,
    pub market: MarketId,
    pub side: Side,
    pub kind: OrderKind,
    pub price_ticks: i64,
    pub size_lots: i64,
    pub notional: i64,
    pub trigger_price_ticks: i64,
    pub direction: TriggerDirection,
    pub client_order_id: Option<ClientOrderId>,
    pub stp: StpMode,
    pub state: TriggerState,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One fill between a resting maker and an incoming taker, at the maker's price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeView {
    pub id: TradeId,
    pub market: MarketId,
    pub price_ticks: i64,
    pub size_lots: i64,
    /// Quote units exchanged (price x size, exact).
    pub quote_amount: i64,
    /// Side of the taker (BitMart's public trade `side`).
    pub taker_side: Side,
    pub maker_order: OrderId,
    pub taker_order: OrderId,
    pub maker_user: UserId,
    pub taker_user: UserId,
    /// Fee paid by the maker, in the asset the maker received.
    pub maker_fee: i64,
    pub maker_fee_asset: AssetId,
    /// Fee paid by the taker, in the asset the taker received.
    pub taker_fee: i64,
    pub taker_fee_asset: AssetId,
    pub timestamp_ms: i64,
}

/// Platform-owned ledger accounts, one of each per asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SystemAccount {
    /// Fees kept by the platform.
    FeeRevenue,
    /// The self-insured Safeguard fund (a share of every fee).
    Safeguard,
    /// Contra account of deposits and withdrawals: minus what the outside world sent us.
    External,
    /// Contra account of staff corrections.
    Adjustments,
}

/// Something a command did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    AssetAdded {
        id: AssetId,
        spec: AssetSpec,
    },
    MarketAdded {
        id: MarketId,
        spec: MarketSpec,
    },
    SafeguardShareSet {
        share_bps: u32,
    },
    Order(OrderView),
    Trade(TradeView),
    /// A user's balance of one asset after the command.
    Balance {
        user: UserId,
        asset: AssetId,
        available: i64,
        held: i64,
    },
    /// A system account's balance after the command.
    System {
        asset: AssetId,
        account: SystemAccount,
        balance: i64,
    },
    MarketHalted {
        market: MarketId,
        halted: bool,
    },
    GlobalHalted {
        halted: bool,
    },
    /// A stop order was accepted, fired or cancelled.
    Trigger(TriggerView),
}
