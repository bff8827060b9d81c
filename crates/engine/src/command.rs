//! Commands: the only way anything changes inside the engine. Each one is journaled before its
//! effects leave the sequencer, and replaying the journal re-applies them in the same order.

use bulwark_types::{CommandId, OrderId, Side, UserId};
use serde::{Deserialize, Serialize};

use crate::client_order_id::ClientOrderId;
use crate::spec::{AssetId, AssetSpec, MarketId, MarketSpec};

/// Stamped on every command by the sequencer; the engine never reads a clock of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandHeader {
    /// Position in the journal, starting at 1, without gaps.
    pub seq: u64,
    /// Wall-clock milliseconds chosen by the sequencer (never decreasing).
    pub timestamp_ms: i64,
    /// Idempotency key: a repeat within the retention window returns the first outcome.
    pub id: CommandId,
}

/// How an order behaves when it meets the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderKind {
    /// Good till cancelled: matches what it can, the rest rests on the book.
    Limit,
    /// Market: a buy spends up to `notional` quote, a sell sells up to `size_lots`; never rests.
    Market,
    /// Immediate or cancel: matches up to its limit price, the rest is cancelled.
    Ioc,
    /// Fill or kill: fills completely at or better than its price right now, or is rejected.
    Fok,
    /// Post only: rests without taking liquidity, or is rejected (never repriced).
    PostOnly,
}

/// What happens when an order would trade against another order of the same user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StpMode {
    /// Trade anyway.
    None,
    /// Cancel the resting order and keep matching (the default: the newer intent wins).
    CancelMaker,
    /// Cancel the rest of the incoming order.
    CancelTaker,
    /// Cancel both.
    CancelBoth,
}

impl StpMode {
    /// The mode used when a client does not ask for one. See docs/ARCHITECTURE.md.
    pub const DEFAULT: StpMode = StpMode::CancelMaker;
}

/// A new order as submitted. Amounts are already parsed to integers by the API layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub user: UserId,
    pub market: MarketId,
    pub side: Side,
    pub kind: OrderKind,
    /// Limit price in ticks; 0 for market orders.
    pub price_ticks: i64,
    /// Size in lots; 0 for a market buy (which is sized by `notional`).
    pub size_lots: i64,
    /// Quote units to spend; only for a market buy, otherwise 0.
    pub notional: i64,
    /// Client order id: at most 32 ASCII letters and digits, unique per user among live orders.
    pub client_order_id: Option<ClientOrderId>,
    pub stp: StpMode,
}

/// A stop order: `order` is placed when the market's last trade price reaches
/// `trigger_price_ticks` (from below if the trigger was above the last price when accepted,
/// from above otherwise). Its funds are held from acceptance, so firing can never fail for
/// want of balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTrigger {
    pub order: NewOrder,
    pub trigger_price_ticks: i64,
}

/// Which order a cancel is aimed at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderTarget {
    Id(OrderId),
    Client(ClientOrderId),
}

/// Every state change the engine knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    AddAsset(AssetSpec),
    AddMarket(MarketSpec),
    /// Share of every fee credited to the Safeguard fund, in basis points (default 1000 = 10%).
    SetSafeguardShare {
        share_bps: u32,
    },
    PlaceOrder(NewOrder),
    CancelOrder {
        user: UserId,
        target: OrderTarget,
    },
    /// Cancels the user's live orders, optionally only in one market and/or on one side.
    CancelAll {
        user: UserId,
        market: Option<MarketId>,
        side: Option<Side>,
    },
    /// Credits a deposit from outside. Idempotent forever by `reference`.
    Deposit {
        user: UserId,
        asset: AssetId,
        amount: i64,
        reference: String,
    },
    /// Moves `amount` from available to held for a withdrawal being processed.
    WithdrawHold {
        user: UserId,
        asset: AssetId,
        amount: i64,
        withdrawal_id: u64,
    },
    /// The withdrawal left: its held amount goes to the external account.
    WithdrawSettle {
        withdrawal_id: u64,
    },
    /// The withdrawal was refused or failed: its held amount returns to available.
    WithdrawRelease {
        withdrawal_id: u64,
    },
    /// Staff correction against the adjustments account; the reason is kept in the journal.
    Adjust {
        user: UserId,
        asset: AssetId,
        amount: i64,
        reason: String,
    },
    /// Pays a claim from the Safeguard fund to a user. Idempotent by `claim_id`.
    SafeguardPayout {
        user: UserId,
        asset: AssetId,
        amount: i64,
        claim_id: u64,
    },
    /// Halts one market, or everything when `market` is `None`.
    Halt {
        market: Option<MarketId>,
    },
    Resume {
        market: Option<MarketId>,
    },
    // New variants go last: the journal encodes a command by its variant index.
    /// Accepts a stop order (see [`NewTrigger`]).
    PlaceTrigger(NewTrigger),
    /// Cancels one of the user's waiting stop orders, by id or client order id.
    CancelTrigger {
        user: UserId,
        target: OrderTarget,
    },
    /// Cancels the user's waiting stop orders, optionally only in one market.
    CancelAllTriggers {
        user: UserId,
        market: Option<MarketId>,
    },
    /// The withdrawal arrived: `fee` of its held amount is the platform's withdrawal fee (to
    /// fee revenue, since it never left custody), the rest left to the external account.
    WithdrawComplete {
        withdrawal_id: u64,
        fee: i64,
    },
    /// Adds to the Safeguard fund beyond its share of fees (a treasury top-up).
    SafeguardTopUp {
        asset: AssetId,
        amount: i64,
        from: TopUpSource,
    },
    /// Takes a paid claim's payout (or part of it) back from the user into the Safeguard fund
    /// when the loss was recovered. Once per claim id, forever; never more than the user has
    /// available.
    SafeguardClawback {
        user: UserId,
        asset: AssetId,
        amount: i64,
        claim_id: u64,
    },
}

/// The command kinds' names, indexed by [`Command::kind_index`]: how operators see commands
/// counted by kind.
pub const COMMAND_KINDS: [&str; 20] = [
    "add_asset",
    "add_market",
    "set_safeguard_share",
    "place_order",
    "cancel_order",
    "cancel_all",
    "deposit",
    "withdraw_hold",
    "withdraw_settle",
    "withdraw_release",
    "adjust",
    "safeguard_payout",
    "halt",
    "resume",
    "place_trigger",
    "cancel_trigger",
    "cancel_all_triggers",
    "withdraw_complete",
    "safeguard_top_up",
    "safeguard_clawback",
];

impl Command {
    /// This command's position in [`COMMAND_KINDS`] (an index, so the sequencer can count
    /// commands in a fixed array without hashing on its hot path).
    pub fn kind_index(&self) -> usize {
        match self {
            Command::AddAsset(_) => 0,
            Command::AddMarket(_) => 1,
            Command::SetSafeguardShare { .. } => 2,
            Command::PlaceOrder(_) => 3,
            Command::CancelOrder { .. } => 4,
            Command::CancelAll { .. } => 5,
            Command::Deposit { .. } => 6,
            Command::WithdrawHold { .. } => 7,
            Command::WithdrawSettle { .. } => 8,
            Command::WithdrawRelease { .. } => 9,
            Command::Adjust { .. } => 10,
            Command::SafeguardPayout { .. } => 11,
            Command::Halt { .. } => 12,
            Command::Resume { .. } => 13,
            Command::PlaceTrigger(_) => 14,
            Command::CancelTrigger { .. } => 15,
            Command::CancelAllTriggers { .. } => 16,
            Command::WithdrawComplete { .. } => 17,
            Command::SafeguardTopUp { .. } => 18,
            Command::SafeguardClawback { .. } => 19,
        }
    }
}

/// Where a top-up of the Safeguard fund comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TopUpSource {
    /// The platform's fee revenue in the asset (never more than it holds).
    FeeRevenue,
    /// Coins from outside that custody saw arrive in one of its wallets, named by a reference
    /// (the network and transaction id): applied once per reference, forever, like deposits.
    External { reference: String },
}
