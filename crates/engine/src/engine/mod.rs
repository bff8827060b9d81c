//! The engine: order books, ledger and every rule between them, driven only by [`Engine::apply`].
//!
//! State changes only through sequenced commands. Each command is validated completely before
//! its first change, so a rejected command changes nothing but the idempotency window (and
//! `last_seq`, since the journal holds it). Accepted commands append their events: order
//! states, trades, then absolute balances sorted by (user, asset) and system balances sorted
//! by (asset, account).
//!
//! Choices a client can observe (BitMart leaves them open):
//! - Order events of a command: the incoming order first (its state after matching), then
//!   every maker it touched in fill order, then one `Trade` per fill.
//! - A market buy spends its notional level by level in whole lots. It ends `Filled` when the
//!   notional is spent exactly; otherwise the rest is refunded and it ends `PartiallyCanceled`
//!   (or `Canceled` with no fill) with reason `NotionalExhausted` when the next lot was not
//!   affordable, `Expired` when the book ran out, `SelfTrade` when prevention stopped it.
//! - Self-trade prevention follows the incoming order's mode; the resting order's is ignored.
//!   Fill-or-kill counts liquidity the way matching would meet it: with `CancelMaker` own
//!   orders are skipped, with `CancelTaker`/`CancelBoth` counting stops at the first own order.
//! - Post-only is refused when it would cross the best opposite price, own orders included.
//! - The price-level limit is checked before matching: a limit order at a new price on a full
//!   side is refused even if it would have filled completely.
//! - IOC, FOK and market orders never rest, so they do not count against the open-order limit.
//! - Stop orders fire on the last trade price: one accepted above the last price fires when a
//!   trade prints at or above it, one at or below when a trade prints at or below it (so one
//!   at exactly the last price fires at once). After every order that traded, the due stop
//!   orders of that market fire in id order, each placing its order in the same command;
//!   their trades can make more due, which fire next, until none is due. A firing emits the
//!   stop order's event first, then its order's events.
//! - A command id's outcome is remembered for `IDEMPOTENCY_WINDOW_COMMANDS` sequence numbers.
//!
//! Split by concern: `orders` (place, match, cancel), `funds` (deposits, withdrawals,
//! adjustments, payouts), `triggers` (stop orders), `config` (assets, markets, halts,
//! Safeguard share), `query` (read-only views) and `check` (the full invariant check).

mod check;
mod config;
mod funds;
mod orders;
mod query;
mod table;
mod triggers;

use std::collections::{BTreeMap, BTreeSet};

use bulwark_types::{OrderId, Side, UserId};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::book::{BOOK_PRICE_LEVELS_MAX, Book, Fill};
use crate::client_order_id::ClientOrderId;
use crate::command::{Command, CommandHeader, OrderKind, StpMode};
use crate::event::{CancelReason, Event, OrderState, OrderView, TradeView};
use crate::idempotency::IdempotencyWindow;
use crate::ledger::Ledger;
use crate::limits::{IDEMPOTENCY_WINDOW_COMMANDS, SAFEGUARD_SHARE_DEFAULT_BPS};
use crate::reject::{Outcome, Reject};
use crate::spec::{AssetId, MarketId, MarketSpec};
use table::{OrderRef, OrderTable};

pub(crate) use orders::order_amounts;
pub use query::{Depth, MarketInfo};
pub(crate) use triggers::Trigger;

/// One market: its spec, halt flag, book and the unit factors derived from the spec.
#[derive(Clone, Debug)]
pub(crate) struct Market {
    pub(crate) spec: MarketSpec,
    pub(crate) halted: bool,
    pub(crate) book: Book,
    pub(crate) params: MarketParams,
    /// Price of the market's last trade: what stop orders compare against.
    pub(crate) last_price_ticks: Option<i64>,
    /// Waiting stop orders that fire when the price rises to them, as (trigger price, id).
    pub(crate) rises: BTreeSet<(i64, u64)>,
    /// Waiting stop orders that fire when the price falls to them, as (trigger price, id).
    pub(crate) falls: BTreeSet<(i64, u64)>,
}

impl Market {
    pub(crate) fn new(spec: MarketSpec, halted: bool, params: MarketParams) -> Market {
        Market {
            spec,
            halted,
            book: market_book(),
            params,
            last_price_ticks: None,
            rises: BTreeSet::new(),
            falls: BTreeSet::new(),
        }
    }
}

/// The numbers a fill needs, copied out of the market so the ledger can be borrowed freely.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MarketParams {
    pub(crate) base: AssetId,
    pub(crate) quote: AssetId,
    /// Quote units of one lot at one tick: `10^(quote.scale - price_scale - size_scale)`.
    pub(crate) quote_per_tick_lot: i64,
    /// Base units of one lot: `10^(base.scale - size_scale)`.
    pub(crate) base_per_lot: i64,
    pub(crate) maker_fee_ppm: u32,
    pub(crate) taker_fee_ppm: u32,
}

/// A live order (or the taker being processed), with everything its events carry.
#[derive(Clone, Debug)]
pub(crate) struct LiveOrder {
    pub(crate) id: OrderId,
    pub(crate) user: UserId,
    pub(crate) slot: u32,
    pub(crate) market: MarketId,
    pub(crate) side: Side,
    pub(crate) kind: OrderKind,
    pub(crate) price_ticks: i64,
    pub(crate) size_lots: i64,
    pub(crate) notional: i64,
    pub(crate) filled_lots: i64,
    pub(crate) filled_quote: i64,
    pub(crate) fee_paid: i64,
    pub(crate) client_order_id: Option<ClientOrderId>,
    pub(crate) stp: StpMode,
    pub(crate) created_ms: i64,
    pub(crate) updated_ms: i64,
    /// Position in the owner's `UserOrders::refs`.
    pub(crate) user_pos: u32,
}

impl LiveOrder {
    pub(crate) fn remaining_lots(&self) -> i64 {
        self.size_lots - self.filled_lots
    }

    /// State of a resting order.
    pub(crate) fn live_state(&self) -> OrderState {
        if self.filled_lots > 0 {
            OrderState::PartiallyFilled
        } else {
            OrderState::New
        }
    }

    /// State of an order that leaves the book unfilled.
    pub(crate) fn cancelled_state(&self) -> OrderState {
        if self.filled_lots > 0 {
            OrderState::PartiallyCanceled
        } else {
            OrderState::Canceled
        }
    }

    pub(crate) fn view(&self, state: OrderState, cancel_reason: Option<CancelReason>) -> OrderView {
        OrderView {
            id: self.id,
            user: self.user,
            market: self.market,
            side: self.side,
            kind: self.kind,
            price_ticks: self.price_ticks,
            size_lots: self.size_lots,
            notional: self.notional,
            filled_lots: self.filled_lots,
            filled_quote: self.filled_quote,
            fee_paid: self.fee_paid,
            state,
            cancel_reason,
            client_order_id: self.client_order_id,
            stp: self.stp,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
        }
    }
}

/// Per-user order bookkeeping, indexed by ledger slot.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserOrders {
    /// Where the user's live orders are, unordered (swap-remove).
    pub(crate) refs: Vec<OrderRef>,
    /// Client order id -> order id, for live orders only.
    pub(crate) client_ids: FxHashMap<ClientOrderId, u64>,
    /// Ids of the user's waiting stop orders.
    pub(crate) triggers: BTreeSet<u64>,
    /// Client order id -> stop order id, for waiting stop orders (one namespace with
    /// `client_ids`, so a firing stop order never meets a live order with its client id).
    pub(crate) trigger_client_ids: FxHashMap<ClientOrderId, u64>,
}

impl UserOrders {
    /// Whether a live order or a waiting stop order uses `client_id`.
    pub(crate) fn uses_client_id(&self, client_id: &ClientOrderId) -> bool {
        self.client_ids.contains_key(client_id) || self.trigger_client_ids.contains_key(client_id)
    }

    /// The live order with `client_id`, if any.
    pub(crate) fn order_by_client_id(&self, client_id: &ClientOrderId) -> Option<u64> {
        self.client_ids.get(client_id).copied()
    }

    /// The waiting stop order with `client_id`, if any.
    pub(crate) fn trigger_by_client_id(&self, client_id: &ClientOrderId) -> Option<u64> {
        self.trigger_client_ids.get(client_id).copied()
    }
}

/// An open withdrawal hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WithdrawalHold {
    pub(crate) user: UserId,
    pub(crate) asset: AssetId,
    pub(crate) amount: i64,
}

/// Reused buffers, never part of the state.
#[derive(Clone, Debug, Default)]
struct Scratch {
    fills: Vec<Fill>,
    trades: Vec<TradeView>,
    ids: Vec<u64>,
}

/// The deterministic matching engine and ledger. See the crate documentation.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) assets: Vec<crate::spec::AssetSpec>,
    pub(crate) markets: Vec<Market>,
    pub(crate) global_halted: bool,
    pub(crate) safeguard_share_bps: u32,
    pub(crate) ledger: Ledger,
    pub(crate) user_orders: Vec<UserOrders>,
    pub(crate) orders: OrderTable,
    /// Waiting stop orders by id (ordered, so nothing depends on hash order).
    pub(crate) triggers: BTreeMap<u64, Trigger>,
    pub(crate) withdrawals: FxHashMap<u64, WithdrawalHold>,
    /// Every withdrawal id ever held, so an id is never reused.
    pub(crate) withdrawal_ids: FxHashSet<u64>,
    /// SHA-256 of every deposit reference ever credited.
    pub(crate) deposit_refs: FxHashSet<[u8; 32]>,
    pub(crate) payout_claims: FxHashSet<u64>,
    pub(crate) window: IdempotencyWindow,
    pub(crate) next_order_id: u64,
    pub(crate) next_trade_id: u64,
    pub(crate) last_seq: u64,
    scratch: Scratch,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    /// An empty engine: no assets, no markets, Safeguard share 10 %. Everything else arrives
    /// as commands, so the journal alone rebuilds it.
    pub fn new() -> Engine {
        Engine {
            assets: Vec::new(),
            markets: Vec::new(),
            global_halted: false,
            safeguard_share_bps: SAFEGUARD_SHARE_DEFAULT_BPS,
            ledger: Ledger::new(),
            user_orders: Vec::new(),
            orders: OrderTable::default(),
            triggers: BTreeMap::new(),
            withdrawals: FxHashMap::default(),
            withdrawal_ids: FxHashSet::default(),
            deposit_refs: FxHashSet::default(),
            payout_claims: FxHashSet::default(),
            window: IdempotencyWindow::new(IDEMPOTENCY_WINDOW_COMMANDS),
            next_order_id: 1,
            next_trade_id: 1,
            last_seq: 0,
            scratch: Scratch::default(),
        }
    }

    /// Applies one sequenced command, appending its events to `events` (which is not cleared).
    ///
    /// `header.seq` must be `last_seq() + 1`; otherwise the command is refused with
    /// `Reject::InvalidSpec("sequence gap ...")` and nothing changes, not even `last_seq`. A
    /// command whose id is still in the idempotency window returns the first outcome and emits
    /// nothing. A rejected command emits nothing and changes nothing else.
    pub fn apply(
        &mut self,
        header: &CommandHeader,
        command: &Command,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let expected = self.last_seq.checked_add(1);
        if expected != Some(header.seq) {
            return Err(Reject::InvalidSpec(format!(
                "sequence gap: expected {}, got {}",
                self.last_seq.saturating_add(1),
                header.seq
            )));
        }
        self.last_seq = header.seq;
        if let Some(first) = self.window.get(&header.id, header.seq) {
            return first.clone();
        }
        let start = events.len();
        let outcome = self.dispatch(header.timestamp_ms, command, events);
        match &outcome {
            Ok(_) => self.ledger.finish_command(events),
            Err(_) => assert!(
                events.len() == start && self.ledger.untouched(),
                "a rejected command changed state"
            ),
        }
        self.window.insert(header.id, header.seq, outcome.clone());
        outcome
    }

    fn dispatch(&mut self, now_ms: i64, command: &Command, events: &mut Vec<Event>) -> Outcome {
        match command {
            Command::AddAsset(spec) => self.add_asset(spec, events),
            Command::AddMarket(spec) => self.add_market(spec, events),
            Command::SetSafeguardShare { share_bps } => {
                self.set_safeguard_share(*share_bps, events)
            }
            Command::PlaceOrder(order) => self.place_order(now_ms, order, events),
            Command::CancelOrder { user, target } => {
                self.cancel_order(now_ms, *user, target, events)
            }
            Command::CancelAll { user, market, side } => {
                self.cancel_all(now_ms, *user, *market, *side, events)
            }
            Command::Deposit {
                user,
                asset,
                amount,
                reference,
            } => self.deposit(*user, *asset, *amount, reference),
            Command::WithdrawHold {
                user,
                asset,
                amount,
                withdrawal_id,
            } => self.withdraw_hold(*user, *asset, *amount, *withdrawal_id),
            Command::WithdrawSettle { withdrawal_id } => self.withdraw_settle(*withdrawal_id),
            Command::WithdrawRelease { withdrawal_id } => self.withdraw_release(*withdrawal_id),
            Command::WithdrawComplete { withdrawal_id, fee } => {
                self.withdraw_complete(*withdrawal_id, *fee)
            }
            Command::Adjust {
                user,
                asset,
                amount,
                reason,
            } => self.adjust(*user, *asset, *amount, reason),
            Command::SafeguardPayout {
                user,
                asset,
                amount,
                claim_id,
            } => self.safeguard_payout(*user, *asset, *amount, *claim_id),
            Command::Halt { market } => self.set_halt(*market, true, events),
            Command::Resume { market } => self.set_halt(*market, false, events),
            Command::PlaceTrigger(trigger) => self.place_trigger(now_ms, trigger, events),
            Command::CancelTrigger { user, target } => {
                self.cancel_trigger(now_ms, *user, target, events)
            }
            Command::CancelAllTriggers { user, market } => {
                self.cancel_all_triggers(now_ms, *user, *market, events)
            }
            Command::SafeguardTopUp {
                asset,
                amount,
                from,
            } => self.safeguard_top_up(*asset, *amount, from),
            Command::SafeguardClawback {
                user,
                asset,
                amount,
                claim_id,
            } => self.safeguard_clawback(*user, *asset, *amount, *claim_id),
        }
    }

    /// The ledger slot of a user, creating it (and its order bookkeeping) on first use.
    pub(crate) fn user_slot(&mut self, user: UserId) -> u32 {
        let slot = self.ledger.slot_or_insert(user);
        while self.user_orders.len() <= slot as usize {
            self.user_orders.push(UserOrders::default());
        }
        slot
    }

    pub(crate) fn asset_exists(&self, asset: AssetId) -> Result<(), Reject> {
        if usize::from(asset.0) < self.assets.len() {
            Ok(())
        } else {
            Err(Reject::UnknownAsset)
        }
    }

    pub(crate) fn market_params(&self, market: MarketId) -> Option<MarketParams> {
        self.markets.get(market.0 as usize).map(|m| m.params)
    }
}

/// A market's book. The engine keeps its own id index (the order table) and addresses resting
/// orders by handle, so the book needs none.
pub(crate) fn market_book() -> Book {
    Book::unindexed(BOOK_PRICE_LEVELS_MAX, 0)
}

/// `a * b`, for products the market spec already proved to fit (see `config::add_market`).
pub(crate) fn mul_bounded(a: i64, b: i64) -> i64 {
    let product = a.checked_mul(b);
    assert!(product.is_some(), "bounded product overflowed: {a} * {b}");
    product.unwrap_or(i64::MAX)
}

/// What an order of `side` at `price_ticks` reserves for `lots`: quote for a buy, base for a
/// sell. Returns `(asset, units)`.
pub(crate) fn reservation(
    params: &MarketParams,
    side: Side,
    price_ticks: i64,
    lots: i64,
) -> (AssetId, i64) {
    match side {
        Side::Buy => (
            params.quote,
            mul_bounded(mul_bounded(price_ticks, lots), params.quote_per_tick_lot),
        ),
        Side::Sell => (params.base, mul_bounded(lots, params.base_per_lot)),
    }
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod trigger_tests;
