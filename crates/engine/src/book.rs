//! A standalone price-time priority order book for one market.
//!
//! The book knows nothing about money: orders are `(id, owner, side, price_ticks, qty_lots)` and
//! matching reports fills into a caller-provided buffer. The engine turns those fills into ledger
//! transfers; a benchmark can drive the book directly.
//!
//! Layout, chosen for a book whose activity clusters near the touch:
//! - orders live in a slab of 32-byte nodes (`u32` handles, free list) and each price level is an
//!   intrusive doubly linked FIFO over them; levels live in a slab of their own, and every node
//!   knows its level's handle, so a cancel unlinks in O(1) and searches only when it empties the
//!   level;
//! - per side a vector of `(key, level handle)` sorted so that the **best price is last**: new
//!   levels appear near the touch, so inserting or removing one moves only a few entries, and a
//!   lookup by price searches only the stretch of entries the price can be in;
//! - `id -> node` is an `FxHashMap` used for lookups only, never iterated. A caller that keeps its
//!   own per-order data can do without it ([`Book::unindexed`]) and address orders by the
//!   [`OrderHandle`] that [`Book::rest_handle`] returns and every [`Fill`] carries.
//!
//! Nothing here allocates on the hot path once the slabs, the index and the level vectors have
//! grown to their working size.

mod check;
mod ladder;
mod matching;
mod store;

use std::collections::hash_map::Entry;

use bulwark_types::Side;
use rustc_hash::FxHashMap;
use thiserror::Error;

use crate::command::StpMode;
use ladder::{Ladder, LevelRef};
use matching::{MatchRun, match_front};
use store::{Level, Levels, NIL, Node, Nodes, Store};

/// Most price levels one side of a book may hold. Bounds memory and the worst-case cost of
/// opening a level far from the touch (a memmove of at most this many 32-byte entries).
pub const BOOK_PRICE_LEVELS_MAX: usize = 100_000;

/// Where a resting order sits in its book's slab: stable while the order rests, reused after
/// it leaves. Lets a caller that keeps its own per-order data (the engine) store it under the
/// same index and reach both without a lookup by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderHandle(pub u32);

impl OrderHandle {
    /// The handle as a vector index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An order resting on the book, as the book sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    pub id: u64,
    /// Whoever owns the order; only compared for self-trade prevention.
    pub owner: u64,
    pub side: Side,
    pub price_ticks: i64,
    /// Remaining (unfilled) quantity.
    pub qty_lots: i64,
}

/// A quote budget for a taker that spends an amount rather than buying a size (a market buy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuoteBudget {
    /// Quote units the taker may spend in total.
    pub quote_units: i64,
    /// Quote units one lot costs per tick of price, so a lot at `p` costs `p * this`.
    pub quote_units_per_tick_lot: i64,
}

/// An incoming order to match against the opposite side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taker {
    pub side: Side,
    pub owner: u64,
    /// Worst price the taker accepts; `None` matches at any price (a market order).
    pub limit_price_ticks: Option<i64>,
    /// Most lots to take; use `i64::MAX` when only a budget limits the taker.
    pub qty_lots: i64,
    /// Optional quote budget: only whole lots the remaining budget can pay for are taken.
    pub budget: Option<QuoteBudget>,
    /// What to do when the front maker has the same owner as the taker.
    pub stp: StpMode,
}

/// What a reported fill did to the maker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillKind {
    /// A trade of `qty_lots` at `price_ticks`.
    Trade,
    /// Self-trade prevention removed the maker; `qty_lots` is what it had left.
    SelfTradeCancel,
}

/// One maker touched by a match, in the order they were touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub kind: FillKind,
    pub maker_id: u64,
    pub maker_owner: u64,
    /// The maker's price: every trade happens at the resting order's price.
    pub price_ticks: i64,
    pub qty_lots: i64,
    /// What the maker still has on the book afterwards (0 once it left the book).
    pub maker_remaining_lots: i64,
    /// The maker's handle (no longer valid once the maker left the book).
    pub maker_handle: OrderHandle,
}

impl Fill {
    /// Whether the maker left the book (fully filled or removed by self-trade prevention).
    pub fn maker_done(&self) -> bool {
        self.maker_remaining_lots == 0
    }
}

/// Why matching stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchEnd {
    /// The taker's quantity was reached.
    Complete,
    /// The opposite side is empty or its best price is beyond the taker's limit.
    NoLiquidity,
    /// The remaining budget cannot pay for one lot at the best remaining price.
    BudgetExhausted,
    /// Self-trade prevention (`CancelTaker` or `CancelBoth`) stopped the taker.
    SelfTrade,
}

/// Totals of one `match_order` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatchSummary {
    /// Lots traded (self-trade cancels not included).
    pub filled_lots: i64,
    /// Budget left when the taker had one, else 0.
    pub budget_left_units: i64,
    pub end: MatchEnd,
}

/// Why the book refused to rest an order. Nothing changed when one of these is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum BookError {
    #[error("order id is already on the book")]
    DuplicateId,
    #[error("price and quantity must be positive")]
    InvalidOrder,
    #[error("too many price levels: at most {max} per side")]
    TooManyPriceLevels { max: usize },
    #[error("the order slab is full")]
    SlabFull,
}

/// A price-time priority order book. See the module documentation for the layout.
#[derive(Clone, Debug)]
pub struct Book {
    bids: Ladder,
    asks: Ladder,
    store: Store,
    max_levels_per_side: usize,
}

impl Default for Book {
    fn default() -> Self {
        Book::new()
    }
}

impl Book {
    /// An empty book limited to [`BOOK_PRICE_LEVELS_MAX`] levels per side.
    pub fn new() -> Book {
        Book::with_limits(BOOK_PRICE_LEVELS_MAX, 0)
    }

    /// An empty book with its own level limit and room for `orders_capacity` resting orders
    /// before the slab and the index have to grow (pre-size it to keep growth off the hot path).
    pub fn with_limits(max_levels_per_side: usize, orders_capacity: usize) -> Book {
        let mut index = FxHashMap::default();
        index.reserve(orders_capacity);
        Book::build(max_levels_per_side, orders_capacity, Some(index))
    }

    /// Like [`Book::with_limits`] but without the id index, for a caller that keeps its own
    /// (the engine) and addresses orders by [`OrderHandle`]: resting, filling and cancelling
    /// then cost no hash lookup at all. Such a book trusts its caller to keep ids unique, and
    /// [`Book::get`], [`Book::contains`] and [`Book::cancel`] scan the slab (O(orders)).
    pub fn unindexed(max_levels_per_side: usize, orders_capacity: usize) -> Book {
        Book::build(max_levels_per_side, orders_capacity, None)
    }

    fn build(
        max_levels_per_side: usize,
        orders_capacity: usize,
        index: Option<FxHashMap<u64, u32>>,
    ) -> Book {
        Book {
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            store: Store {
                nodes: Nodes::with_capacity(orders_capacity),
                levels: Levels::default(),
                index,
            },
            max_levels_per_side,
        }
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The most price levels one side may hold.
    pub fn max_levels_per_side(&self) -> usize {
        self.max_levels_per_side
    }

    /// Number of orders resting on both sides.
    pub fn order_count(&self) -> usize {
        self.store.nodes.live
    }

    /// Number of price levels on one side.
    pub fn level_count(&self, side: Side) -> usize {
        self.ladder(side).order.len()
    }

    /// Whether `side` already has a level at `price_ticks` (resting there opens no new level).
    pub fn has_level(&self, side: Side, price_ticks: i64) -> bool {
        self.ladder(side).find(price_ticks).is_ok()
    }

    /// Whether resting an order at `price_ticks` on `side` would exceed the level limit.
    pub fn level_limit_reached(&self, side: Side, price_ticks: i64) -> bool {
        self.level_count(side) >= self.max_levels_per_side && !self.has_level(side, price_ticks)
    }

    /// The node of a resting order, through the index or, without one, by scanning.
    fn node_of(&self, id: u64) -> Option<u32> {
        match &self.store.index {
            Some(index) => index.get(&id).copied(),
            None => self.store.scan(id),
        }
    }

    /// Whether an order with this id is resting.
    pub fn contains(&self, id: u64) -> bool {
        self.node_of(id).is_some()
    }

    /// The resting order with this id, with its remaining quantity.
    pub fn get(&self, id: u64) -> Option<RestingOrder> {
        self.get_handle(OrderHandle(self.node_of(id)?))
    }

    /// The resting order at `handle`; `None` once it left the book.
    pub fn get_handle(&self, handle: OrderHandle) -> Option<RestingOrder> {
        let level = self.store.levels.get(self.store.nodes.level(handle.0)?)?;
        let node = self.store.nodes.get(handle.0)?;
        Some(resting(node, level))
    }

    /// Best (highest) bid price.
    pub fn best_bid(&self) -> Option<i64> {
        self.best(Side::Buy)
    }

    /// Best (lowest) ask price.
    pub fn best_ask(&self) -> Option<i64> {
        self.best(Side::Sell)
    }

    /// Best price of `side`.
    pub fn best(&self, side: Side) -> Option<i64> {
        let ladder = self.ladder(side);
        ladder.best().map(|r| ladder.price(r.key))
    }

    /// Whether an order on `side` at `price_ticks` would trade with the opposite side right now
    /// (what post-only must avoid).
    pub fn would_cross(&self, side: Side, price_ticks: i64) -> bool {
        let opposite = self.ladder(side.opposite());
        opposite
            .best()
            .is_some_and(|r| r.key >= opposite.key(price_ticks))
    }

    /// Appends up to `levels` aggregated `(price_ticks, total_lots)` of `side`, best first.
    pub fn depth_into(&self, side: Side, levels: usize, out: &mut Vec<(i64, i64)>) {
        let slab = &self.store.levels;
        out.extend(
            self.ladder(side)
                .order
                .iter()
                .rev()
                .take(levels)
                .filter_map(|r| slab.get(r.level))
                .map(|l| (l.price_ticks, l.total_lots)),
        );
    }

    /// Up to `levels` aggregated `(price_ticks, total_lots)` of `side`, best first.
    pub fn depth(&self, side: Side, levels: usize) -> Vec<(i64, i64)> {
        let mut out = Vec::with_capacity(levels.min(self.level_count(side)));
        self.depth_into(side, levels, &mut out);
        out
    }

    /// Resting orders of `side` in priority order (best price first, oldest first within it).
    pub fn iter_side(&self, side: Side) -> SideIter<'_> {
        SideIter {
            store: &self.store,
            levels: self.ladder(side).order.iter().rev(),
            level: None,
            node: NIL,
        }
    }

    /// Rests an order at the back of its price level. Does not match: call
    /// [`Book::match_order`] first if the order may cross. Nothing changes on error.
    pub fn rest(&mut self, order: RestingOrder) -> Result<(), BookError> {
        self.rest_handle(order).map(|_| ())
    }

    /// [`Book::rest`], returning the order's handle. With the index this is one hash probe
    /// (the duplicate check and the insert share it); without, none.
    pub fn rest_handle(&mut self, order: RestingOrder) -> Result<OrderHandle, BookError> {
        if order.price_ticks <= 0 || order.qty_lots <= 0 {
            return Err(BookError::InvalidOrder);
        }
        let max_levels = self.max_levels_per_side;
        let ladder = match order.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let Store {
            nodes,
            levels,
            index,
        } = &mut self.store;
        let Some(index) = index else {
            return link_new(ladder, nodes, levels, max_levels, &order).map(OrderHandle);
        };
        match index.entry(order.id) {
            Entry::Occupied(_) => Err(BookError::DuplicateId),
            Entry::Vacant(slot) => {
                let node = link_new(ladder, nodes, levels, max_levels, &order)?;
                slot.insert(node);
                Ok(OrderHandle(node))
            }
        }
    }

    /// Removes a resting order and returns it with the quantity it still had.
    pub fn cancel(&mut self, id: u64) -> Option<RestingOrder> {
        let node = match &mut self.store.index {
            Some(index) => index.remove(&id)?,
            None => self.store.scan(id)?,
        };
        self.unlink_order(node)
    }

    /// [`Book::cancel`] by handle: no hash probe and no search unless the level empties. The
    /// handle must be one this book gave out for an order that still rests (`None` otherwise).
    pub fn cancel_handle(&mut self, handle: OrderHandle) -> Option<RestingOrder> {
        let removed = self.unlink_order(handle.0)?;
        if let Some(index) = &mut self.store.index {
            index.remove(&removed.id);
        }
        Some(removed)
    }

    /// Takes node `i` off its level (dropping the level when it empties) and frees it.
    fn unlink_order(&mut self, i: u32) -> Option<RestingOrder> {
        let level_handle = self.store.nodes.level(i)?;
        let level = self.store.levels.get_mut(level_handle)?;
        let node = self.store.nodes.unlink(level, i)?;
        let removed = resting(&node, level);
        let emptied = level.orders == 0;
        self.store.nodes.release(i);
        if emptied {
            self.ladder_mut(removed.side).remove(removed.price_ticks);
            self.store.levels.release(level_handle);
        }
        Some(removed)
    }

    /// Matches `taker` against the opposite side in price-time priority and appends one
    /// [`Fill`] per maker touched to `fills` (which is not cleared). Trades happen at the
    /// maker's price. With self-trade prevention the front maker of the same owner is handled
    /// per `taker.stp` before trading: `CancelMaker` removes it and goes on, `CancelTaker` stops
    /// and leaves it, `CancelBoth` removes it and stops. The taker itself is never rested here.
    pub fn match_order(&mut self, taker: &Taker, fills: &mut Vec<Fill>) -> MatchSummary {
        let ladder = match taker.side {
            Side::Buy => &mut self.asks,
            Side::Sell => &mut self.bids,
        };
        let mut run = MatchRun {
            remaining_lots: taker.qty_lots,
            budget_units: taker.budget.map(|b| b.quote_units),
            filled_lots: 0,
        };
        let end = loop {
            if run.remaining_lots <= 0 {
                break MatchEnd::Complete;
            }
            if let Some(end) = match_front(ladder, &mut self.store, taker, &mut run, fills) {
                break end;
            }
        };
        MatchSummary {
            filled_lots: run.filled_lots,
            budget_left_units: run.budget_units.unwrap_or(0),
            end,
        }
    }

    /// Whether `taker` could be filled completely right now (the fill-or-kill check), without
    /// changing anything. Own orders count per `taker.stp`: with `None` they count, with
    /// `CancelMaker` they are skipped (they would be cancelled), and with `CancelTaker` or
    /// `CancelBoth` counting stops at the first one (the taker would stop there). Budgets are
    /// ignored: this is a size check.
    pub fn can_fill(&self, taker: &Taker) -> bool {
        let ladder = self.ladder(taker.side.opposite());
        let mut needed = taker.qty_lots;
        if needed <= 0 {
            return true;
        }
        for r in ladder.order.iter().rev() {
            if let Some(limit) = taker.limit_price_ticks
                && r.key < ladder.key(limit)
            {
                return false;
            }
            let mut i = self.store.levels.get(r.level).map_or(NIL, |l| l.head);
            while let Some(node) = self.store.nodes.get(i) {
                if node.owner == taker.owner && taker.stp != StpMode::None {
                    if taker.stp != StpMode::CancelMaker {
                        return false;
                    }
                } else {
                    needed -= node.qty_lots;
                    if needed <= 0 {
                        return true;
                    }
                }
                i = node.next;
            }
        }
        false
    }

    /// Matches a limit order and rests what is left (unless self-trade prevention stopped it):
    /// the whole life of a plain GTC order in one call. Returns the match summary; the order
    /// rested iff `summary.end` is `NoLiquidity` and lots remained. Refuses up front, changing
    /// nothing, when resting might need a level beyond the limit.
    pub fn place_limit(
        &mut self,
        order: RestingOrder,
        stp: StpMode,
        fills: &mut Vec<Fill>,
    ) -> Result<MatchSummary, BookError> {
        if order.price_ticks <= 0 || order.qty_lots <= 0 {
            return Err(BookError::InvalidOrder);
        }
        if !self.would_cross(order.side, order.price_ticks) {
            // Nothing to match: resting checks everything in one index probe and one search.
            self.rest_handle(order)?;
            return Ok(MatchSummary {
                filled_lots: 0,
                budget_left_units: 0,
                end: MatchEnd::NoLiquidity,
            });
        }
        if self
            .store
            .index
            .as_ref()
            .is_some_and(|i| i.contains_key(&order.id))
        {
            return Err(BookError::DuplicateId);
        }
        if self.level_limit_reached(order.side, order.price_ticks) {
            return Err(BookError::TooManyPriceLevels {
                max: self.max_levels_per_side,
            });
        }
        let taker = Taker {
            side: order.side,
            owner: order.owner,
            limit_price_ticks: Some(order.price_ticks),
            qty_lots: order.qty_lots,
            budget: None,
            stp,
        };
        let summary = self.match_order(&taker, fills);
        let left = order.qty_lots - summary.filled_lots;
        if summary.end == MatchEnd::NoLiquidity && left > 0 {
            self.rest_handle(RestingOrder {
                qty_lots: left,
                ..order
            })?;
        }
        Ok(summary)
    }
}

/// Links a new node for `order` at the back of its level, opening the level if needed. The
/// caller has checked the price, quantity and id. Nothing changes on error.
fn link_new(
    ladder: &mut Ladder,
    nodes: &mut Nodes,
    levels: &mut Levels,
    max_levels: usize,
    order: &RestingOrder,
) -> Result<u32, BookError> {
    let found = ladder.find(order.price_ticks);
    if found.is_err() && ladder.order.len() >= max_levels {
        return Err(BookError::TooManyPriceLevels { max: max_levels });
    }
    if !nodes.has_room() || (found.is_err() && !levels.has_room()) {
        return Err(BookError::SlabFull);
    }
    let level = match found {
        Ok(pos) => ladder.order.get(pos).map(|r| r.level),
        Err(pos) => levels
            .alloc(order.side, order.price_ticks)
            .inspect(|&level| {
                let key = ladder.key(order.price_ticks);
                ladder.order.insert(pos, LevelRef { key, level });
            }),
    }
    .ok_or(BookError::SlabFull)?;
    let node = Node {
        id: order.id,
        owner: order.owner,
        qty_lots: order.qty_lots,
        prev: NIL,
        next: NIL,
    };
    let i = nodes.alloc(node, level).ok_or(BookError::SlabFull)?;
    if let Some(level) = levels.get_mut(level) {
        nodes.push_back(level, i);
    }
    Ok(i)
}

fn resting(node: &Node, level: &Level) -> RestingOrder {
    RestingOrder {
        id: node.id,
        owner: node.owner,
        side: level.side,
        price_ticks: level.price_ticks,
        qty_lots: node.qty_lots,
    }
}

/// Iterator over one side in priority order; see [`Book::iter_side`].
pub struct SideIter<'a> {
    store: &'a Store,
    levels: std::iter::Rev<std::slice::Iter<'a, LevelRef>>,
    level: Option<&'a Level>,
    node: u32,
}

impl Iterator for SideIter<'_> {
    type Item = RestingOrder;

    fn next(&mut self) -> Option<RestingOrder> {
        while self.node == NIL {
            let level = self.store.levels.get(self.levels.next()?.level)?;
            self.level = Some(level);
            self.node = level.head;
        }
        let node = self.store.nodes.get(self.node)?;
        self.node = node.next;
        Some(resting(node, self.level?))
    }
}

#[cfg(test)]
mod tests;
