//! Read-only views of the engine state for the sequencer, projections, the API and tests.
//!
//! Every list is returned in a defined order (by id, by user then asset, best price first), so
//! nothing a caller sees depends on hash-map iteration.

use bulwark_types::{CommandId, OrderId, Side, UserId};

use super::Engine;
use crate::book::Book;
use crate::client_order_id::ClientOrderId;
use crate::event::{OrderView, SystemAccount, TriggerState, TriggerView};
use crate::ledger::AssetTotals;
use crate::reject::Outcome;
use crate::spec::{AssetId, AssetSpec, MarketId, MarketSpec};

/// A market as configured, with its halt flag and unit factors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketInfo {
    pub id: MarketId,
    pub spec: MarketSpec,
    pub halted: bool,
    /// Quote units of one lot at one tick.
    pub quote_units_per_tick_lot: i64,
    /// Base units of one lot.
    pub base_units_per_lot: i64,
}

/// Aggregated book levels, best first: `(price_ticks, lots)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Depth {
    pub bids: Vec<(i64, i64)>,
    pub asks: Vec<(i64, i64)>,
}

impl Engine {
    /// Sequence number of the last command applied (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Assets in id order (`AssetId(i)` is `assets()[i]`).
    pub fn assets(&self) -> &[AssetSpec] {
        &self.assets
    }

    /// Markets in id order.
    pub fn markets(&self) -> Vec<MarketInfo> {
        (0..self.markets.len())
            .filter_map(|i| self.market(MarketId(u32::try_from(i).ok()?)))
            .collect()
    }

    /// One market.
    pub fn market(&self, id: MarketId) -> Option<MarketInfo> {
        let m = self.markets.get(id.0 as usize)?;
        Some(MarketInfo {
            id,
            spec: m.spec.clone(),
            halted: m.halted,
            quote_units_per_tick_lot: m.params.quote_per_tick_lot,
            base_units_per_lot: m.params.base_per_lot,
        })
    }

    /// The market's last trade price in ticks (`None` before its first trade): what stop orders
    /// compare against, and what the trading service's price band is measured from.
    pub fn last_price(&self, id: MarketId) -> Option<i64> {
        self.markets.get(id.0 as usize)?.last_price_ticks
    }

    /// Id of the asset with this code.
    pub fn asset_id(&self, code: &str) -> Option<AssetId> {
        let i = self.assets.iter().position(|a| a.code == code)?;
        u16::try_from(i).ok().map(AssetId)
    }

    /// Id of the market with this symbol.
    pub fn market_id(&self, symbol: &str) -> Option<MarketId> {
        let i = self.markets.iter().position(|m| m.spec.symbol == symbol)?;
        u32::try_from(i).ok().map(MarketId)
    }

    /// Whether all trading is halted.
    pub fn global_halted(&self) -> bool {
        self.global_halted
    }

    /// Whether one market is halted (its own flag; see also [`Engine::global_halted`]).
    pub fn market_halted(&self, market: MarketId) -> Option<bool> {
        self.markets.get(market.0 as usize).map(|m| m.halted)
    }

    /// Share of each fee credited to the Safeguard fund, in basis points.
    pub fn safeguard_share_bps(&self) -> u32 {
        self.safeguard_share_bps
    }

    /// Quote units of one lot at one tick in this market.
    pub fn quote_units_per_tick_lot(&self, market: MarketId) -> Option<i64> {
        self.market_params(market).map(|p| p.quote_per_tick_lot)
    }

    /// Base units of one lot in this market.
    pub fn base_units_per_lot(&self, market: MarketId) -> Option<i64> {
        self.market_params(market).map(|p| p.base_per_lot)
    }

    /// Up to `levels` aggregated levels per side, best first.
    pub fn depth(&self, market: MarketId, levels: usize) -> Option<Depth> {
        let book = &self.markets.get(market.0 as usize)?.book;
        Some(Depth {
            bids: book.depth(Side::Buy, levels),
            asks: book.depth(Side::Sell, levels),
        })
    }

    /// Best bid and best ask of a market.
    pub fn best_bid_ask(&self, market: MarketId) -> Option<(Option<i64>, Option<i64>)> {
        let book = &self.markets.get(market.0 as usize)?.book;
        Some((book.best_bid(), book.best_ask()))
    }

    /// The book of a market, read-only (priority iteration, counts). The engine addresses its
    /// books by handle, so their lookups by id scan; use [`Engine::order`] for those.
    pub fn book(&self, market: MarketId) -> Option<&Book> {
        self.markets.get(market.0 as usize).map(|m| &m.book)
    }

    /// A live order. Finished orders are only in the events.
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        let o = self.orders.get(&id.0)?;
        Some(o.view(o.live_state(), None))
    }

    /// A user's live order by client order id.
    pub fn order_by_client_id(
        &self,
        user: UserId,
        client_order_id: &ClientOrderId,
    ) -> Option<OrderView> {
        let slot = self.ledger.slot(user)?;
        let id = self
            .user_orders
            .get(slot as usize)?
            .order_by_client_id(client_order_id)?;
        self.order(OrderId(id))
    }

    /// A user's live orders, optionally in one market, sorted by id.
    pub fn open_orders(&self, user: UserId, market: Option<MarketId>) -> Vec<OrderView> {
        let Some(u) = self
            .ledger
            .slot(user)
            .and_then(|s| self.user_orders.get(s as usize))
        else {
            return Vec::new();
        };
        let mut orders: Vec<OrderView> = u
            .refs
            .iter()
            .filter_map(|&at| self.orders.by_ref(at))
            .filter(|o| market.is_none_or(|m| o.market == m))
            .map(|o| o.view(o.live_state(), None))
            .collect();
        orders.sort_unstable_by_key(|o| o.id);
        orders
    }

    /// Every live order, sorted by id.
    pub fn live_orders(&self) -> Vec<OrderView> {
        let mut ids: Vec<u64> = self.orders.keys().copied().collect();
        ids.sort_unstable();
        ids.iter()
            .filter_map(|id| self.orders.get(id))
            .map(|o| o.view(o.live_state(), None))
            .collect()
    }

    /// Every waiting stop order, optionally only one user's, sorted by id.
    pub fn waiting_triggers(&self, user: Option<UserId>) -> Vec<TriggerView> {
        self.triggers
            .values()
            .filter(|t| user.is_none_or(|u| t.order.user == u))
            .map(|t| t.view(TriggerState::Waiting, t.created_ms))
            .collect()
    }

    /// Price of a market's last trade, what its stop orders compare against.
    pub fn last_price_ticks(&self, market: MarketId) -> Option<i64> {
        self.markets.get(market.0 as usize)?.last_price_ticks
    }

    /// Number of live orders.
    pub fn live_order_count(&self) -> usize {
        self.orders.len()
    }

    /// `(available, held)` of a user in an asset; zero when unknown.
    pub fn balance(&self, user: UserId, asset: AssetId) -> (i64, i64) {
        let b = self.ledger.balance_of(user, asset);
        (b.available, b.held)
    }

    /// A user's non-zero balances as `(asset, available, held)`, by asset id.
    pub fn user_balances(&self, user: UserId) -> Vec<(AssetId, i64, i64)> {
        let Some(slot) = self.ledger.slot(user) else {
            return Vec::new();
        };
        self.ledger
            .user_balances(slot)
            .into_iter()
            .map(|(a, b)| (a, b.available, b.held))
            .collect()
    }

    /// Balance of a system account.
    pub fn system_balance(&self, asset: AssetId, account: SystemAccount) -> i64 {
        self.ledger.system_balance(asset, account)
    }

    /// Per-asset totals over all accounts; each `sum` is zero.
    pub fn ledger_totals(&self) -> Vec<AssetTotals> {
        self.ledger.totals()
    }

    /// Ids of the withdrawals whose funds are held now, sorted: custody compares them with its
    /// records at start-up to finish a release or completion a crash interrupted.
    pub fn open_withdrawals(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.withdrawals.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Every user the ledger knows (ever credited), sorted.
    pub fn user_ids(&self) -> Vec<UserId> {
        self.ledger.user_ids()
    }

    /// The id the next accepted order will get.
    pub fn next_order_id(&self) -> OrderId {
        OrderId(self.next_order_id)
    }

    /// The outcome a repeat of this command id would get now, if still in the window.
    pub fn remembered_outcome(&self, id: &CommandId) -> Option<&Outcome> {
        self.window.get(id, self.last_seq.saturating_add(1))
    }
}
