//! Placing, matching and cancelling orders, and settling every fill through the ledger.
//!
//! Reservations: accepting an order moves its whole reservation from available to held (a buy
//! reserves `price * size` quote, a market buy its notional, a sell its size in base). A fill
//! spends from the payer's held balance at the maker's price; what a taker buy saves by filling
//! below its limit, and whatever is left when the order stops, goes back to available. So at
//! every command boundary each user's held balance equals the remaining reservations of their
//! live orders plus the holds of their waiting stop orders and open withdrawals.
//!
//! Fees come out of what each side receives, `ceil(received * fee_ppm / 10^6)`; the Safeguard
//! share `floor(fee * share_bps / 10^4)` goes to the Safeguard account, the rest to revenue.

use bulwark_types::{OrderId, Side, TradeId, UserId};

use super::table::OrderRef;
use super::{Engine, LiveOrder, Market, MarketParams, UserOrders, mul_bounded, reservation};
use crate::book::{
    BookError, Fill, FillKind, MatchEnd, MatchSummary, QuoteBudget, RestingOrder, Taker,
};
use crate::command::{NewOrder, OrderKind, OrderTarget};
use crate::event::{CancelReason, Event, OrderState, TradeView};
use crate::ledger::Payment;
use crate::limits::ORDERS_OPEN_PER_USER_MAX;
use crate::reject::{Accepted, Outcome, Reject};
use crate::spec::{AssetId, MarketId, MarketSpec};

/// A validated order, ready to execute.
struct OrderPlan {
    slot: u32,
    params: MarketParams,
    price_ticks: i64,
    size_lots: i64,
    notional: i64,
    hold_asset: AssetId,
    hold_units: i64,
}

/// The taker while it is being matched.
struct TakerRun {
    order: LiveOrder,
    /// Part of the hold not yet spent on fills.
    held_units: i64,
    hold_asset: AssetId,
}

/// Fee on `received` units at `fee_ppm`, rounded up (in the platform's favour).
pub(crate) fn fee_units(received: i64, fee_ppm: u32) -> i64 {
    let received = u64::try_from(received).unwrap_or(0);
    let fee = match received.checked_mul(u64::from(fee_ppm)) {
        Some(product) => u128::from(product.div_ceil(1_000_000)),
        None => (u128::from(received) * u128::from(fee_ppm)).div_ceil(1_000_000),
    };
    i64::try_from(fee).unwrap_or(i64::MAX)
}

/// The Safeguard part of a fee, rounded down (the remainder is revenue, so nothing is lost).
pub(crate) fn safeguard_units(fee: i64, share_bps: u32) -> i64 {
    match fee.checked_mul(i64::from(share_bps)) {
        Some(product) => product / 10_000,
        None => i64::try_from(i128::from(fee) * i128::from(share_bps) / 10_000).unwrap_or(0),
    }
}

fn check_size(spec: &MarketSpec, size_lots: i64) -> Result<(), Reject> {
    if size_lots <= 0 {
        return Err(Reject::SizeRequired);
    }
    if size_lots < spec.min_size_lots {
        return Err(Reject::SizeBelowMin {
            min_lots: spec.min_size_lots,
        });
    }
    if size_lots > spec.max_size_lots {
        return Err(Reject::SizeAboveMax {
            max_lots: spec.max_size_lots,
        });
    }
    Ok(())
}

/// Price, size, notional and reservation `(asset, units)` of an order, or why it is invalid.
pub(crate) fn order_amounts(
    spec: &MarketSpec,
    p: &MarketParams,
    o: &NewOrder,
) -> Result<(i64, i64, i64, AssetId, i64), Reject> {
    match (o.kind, o.side) {
        (OrderKind::Market, Side::Buy) => {
            if o.notional <= 0 {
                return Err(Reject::NotionalRequired);
            }
            if o.notional < spec.min_notional {
                return Err(Reject::NotionalBelowMin {
                    min: spec.min_notional,
                });
            }
            Ok((0, 0, o.notional, p.quote, o.notional))
        }
        (OrderKind::Market, Side::Sell) => {
            check_size(spec, o.size_lots)?;
            let (asset, units) = reservation(p, Side::Sell, 0, o.size_lots);
            Ok((0, o.size_lots, 0, asset, units))
        }
        _ => {
            if o.price_ticks <= 0 {
                return Err(Reject::PriceRequired);
            }
            if o.price_ticks > spec.max_price_ticks {
                return Err(Reject::PriceAboveMax {
                    max_ticks: spec.max_price_ticks,
                });
            }
            check_size(spec, o.size_lots)?;
            let (_, value) = reservation(p, Side::Buy, o.price_ticks, o.size_lots);
            if value < spec.min_notional {
                return Err(Reject::NotionalBelowMin {
                    min: spec.min_notional,
                });
            }
            let (asset, units) = reservation(p, o.side, o.price_ticks, o.size_lots);
            Ok((o.price_ticks, o.size_lots, 0, asset, units))
        }
    }
}

impl Engine {
    /// The checks an order and a stop order share: the market exists and trades, and the
    /// client order id is free (its form was checked when it was made). Answers the market, the
    /// owner's ledger slot and order lists (`None` for a user never credited).
    pub(super) fn order_entry(
        &self,
        o: &NewOrder,
    ) -> Result<(&Market, Option<u32>, Option<&UserOrders>), Reject> {
        let market = self
            .markets
            .get(o.market.0 as usize)
            .ok_or(Reject::UnknownMarket)?;
        if self.global_halted {
            return Err(Reject::GloballyHalted);
        }
        if market.halted {
            return Err(Reject::MarketHalted);
        }
        let slot = self.ledger.slot(o.user);
        let user = slot.and_then(|s| self.user_orders.get(s as usize));
        if let Some(client_id) = &o.client_order_id
            && user.is_some_and(|u| u.uses_client_id(client_id))
        {
            return Err(Reject::DuplicateClientOrderId);
        }
        Ok((market, slot, user))
    }

    /// Everything that can refuse an order, checked before anything changes.
    fn validate_order(&self, o: &NewOrder) -> Result<OrderPlan, Reject> {
        let (market, slot, user) = self.order_entry(o)?;
        let params = market.params;
        let (price_ticks, size_lots, notional, hold_asset, hold_units) =
            order_amounts(&market.spec, &params, o)?;
        if matches!(o.kind, OrderKind::Limit | OrderKind::PostOnly) {
            if user.is_some_and(|u| u.refs.len() >= ORDERS_OPEN_PER_USER_MAX as usize) {
                return Err(Reject::TooManyOpenOrders {
                    max: ORDERS_OPEN_PER_USER_MAX,
                });
            }
            if market.book.level_limit_reached(o.side, price_ticks) {
                let max = u32::try_from(market.book.max_levels_per_side()).unwrap_or(u32::MAX);
                return Err(Reject::TooManyPriceLevels { max });
            }
        }
        let available = slot.map_or(0, |s| self.ledger.balance(s, hold_asset).available);
        let insufficient = Reject::InsufficientFunds {
            asset: hold_asset,
            needed: hold_units,
            available,
        };
        let Some(slot) = slot else {
            return Err(insufficient);
        };
        if available < hold_units {
            return Err(insufficient);
        }
        if o.kind == OrderKind::PostOnly && market.book.would_cross(o.side, price_ticks) {
            return Err(Reject::PostOnlyWouldTake);
        }
        if o.kind == OrderKind::Fok
            && !market
                .book
                .can_fill(&book_taker(o, price_ticks, size_lots, notional, &params))
        {
            return Err(Reject::FokUnfillable);
        }
        Ok(OrderPlan {
            slot,
            params,
            price_ticks,
            size_lots,
            notional,
            hold_asset,
            hold_units,
        })
    }

    /// `PlaceOrder`: execute the order, then fire the stop orders its trades made due.
    pub(super) fn place_order(
        &mut self,
        now_ms: i64,
        o: &NewOrder,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let id = self.execute_order(now_ms, o, events)?;
        self.fire_due_triggers(o.market, now_ms, events);
        Ok(Accepted::Order { id })
    }

    /// Validate, reserve, match, settle, then rest or expire the remainder.
    pub(super) fn execute_order(
        &mut self,
        now_ms: i64,
        o: &NewOrder,
        events: &mut Vec<Event>,
    ) -> Result<OrderId, Reject> {
        let plan = self.validate_order(o)?;
        let id = OrderId(self.next_order_id);
        self.next_order_id = self.next_order_id.saturating_add(1);
        self.ledger
            .must_shift(plan.hold_asset, plan.slot, plan.hold_units, true);
        let order = LiveOrder {
            id,
            user: o.user,
            slot: plan.slot,
            market: o.market,
            side: o.side,
            kind: o.kind,
            price_ticks: plan.price_ticks,
            size_lots: plan.size_lots,
            notional: plan.notional,
            filled_lots: 0,
            filled_quote: 0,
            fee_paid: 0,
            client_order_id: o.client_order_id,
            stp: o.stp,
            created_ms: now_ms,
            updated_ms: now_ms,
            user_pos: 0,
        };
        let mut run = TakerRun {
            order,
            held_units: plan.hold_units,
            hold_asset: plan.hold_asset,
        };
        let start = events.len();
        let taker = book_taker(
            o,
            plan.price_ticks,
            plan.size_lots,
            plan.notional,
            &plan.params,
        );
        let summary = self.match_taker(&mut run, &taker, &plan.params, now_ms, events);
        self.finish_taker(run, &plan, summary, events, start);
        Ok(id)
    }

    fn match_taker(
        &mut self,
        run: &mut TakerRun,
        taker: &Taker,
        params: &MarketParams,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) -> MatchSummary {
        let no_fill = MatchSummary {
            filled_lots: 0,
            budget_left_units: 0,
            end: MatchEnd::NoLiquidity,
        };
        let Some(market) = self.markets.get_mut(run.order.market.0 as usize) else {
            return no_fill;
        };
        // Most limit orders land away from the touch: skip the matching machinery for them
        // (the book would report exactly this: no fill, no budget, no liquidity).
        if let Some(limit) = taker.limit_price_ticks
            && taker.budget.is_none()
            && taker.qty_lots > 0
            && !market.book.would_cross(taker.side, limit)
        {
            return no_fill;
        }
        let mut fills = std::mem::take(&mut self.scratch.fills);
        fills.clear();
        let summary = market.book.match_order(taker, &mut fills);
        for fill in &fills {
            match fill.kind {
                FillKind::Trade => self.settle_trade(run, fill, params, now_ms, events),
                FillKind::SelfTradeCancel => {
                    self.settle_self_trade(&run.order, fill, now_ms, events)
                }
            }
        }
        // What stop orders compare against: the price of the order's last trade.
        let last_trade = fills
            .iter()
            .rev()
            .find(|f| matches!(f.kind, FillKind::Trade));
        if let Some(fill) = last_trade
            && let Some(market) = self.markets.get_mut(run.order.market.0 as usize)
        {
            market.last_price_ticks = Some(fill.price_ticks);
        }
        self.scratch.fills = fills;
        summary
    }

    /// Moves one side's proceeds: `gross` of `asset` from the payer's held balance to the
    /// receiver, minus the receiver's fee, which is split between revenue and Safeguard.
    fn pay(&mut self, asset: AssetId, payer: u32, receiver: u32, gross: i64, fee_ppm: u32) -> i64 {
        let fee = fee_units(gross, fee_ppm);
        let fund = safeguard_units(fee, self.safeguard_share_bps);
        let payment = Payment {
            payer,
            receiver,
            to_receiver: gross - fee,
            to_revenue: fee - fund,
            to_fund: fund,
        };
        self.ledger.must_pay(asset, &payment);
        fee
    }

    fn settle_trade(
        &mut self,
        run: &mut TakerRun,
        fill: &Fill,
        p: &MarketParams,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        let quote = mul_bounded(
            mul_bounded(fill.price_ticks, fill.qty_lots),
            p.quote_per_tick_lot,
        );
        let base = mul_bounded(fill.qty_lots, p.base_per_lot);
        let maker_at = maker_ref(&run.order, fill);
        let maker_slot = self.maker_slot(maker_at, fill);
        let taker_buys = run.order.side == Side::Buy;
        let (buyer, seller) = if taker_buys {
            (run.order.slot, maker_slot)
        } else {
            (maker_slot, run.order.slot)
        };
        let (buyer_ppm, seller_ppm) = if taker_buys {
            (p.taker_fee_ppm, p.maker_fee_ppm)
        } else {
            (p.maker_fee_ppm, p.taker_fee_ppm)
        };
        let buyer_fee = self.pay(p.base, seller, buyer, base, buyer_ppm);
        let seller_fee = self.pay(p.quote, buyer, seller, quote, seller_ppm);
        let (maker_fee, taker_fee) = if taker_buys {
            (seller_fee, buyer_fee)
        } else {
            (buyer_fee, seller_fee)
        };
        let (maker_fee_asset, taker_fee_asset) = if taker_buys {
            (p.quote, p.base)
        } else {
            (p.base, p.quote)
        };
        run.held_units -= if taker_buys { quote } else { base };
        let taker = &mut run.order;
        taker.filled_lots += fill.qty_lots;
        taker.filled_quote = taker.filled_quote.saturating_add(quote);
        taker.fee_paid = taker.fee_paid.saturating_add(taker_fee);
        self.update_maker(maker_at, fill, quote, maker_fee, now_ms, events);
        let trade_id = TradeId(self.next_trade_id);
        self.next_trade_id = self.next_trade_id.saturating_add(1);
        self.scratch.trades.push(TradeView {
            id: trade_id,
            market: run.order.market,
            price_ticks: fill.price_ticks,
            size_lots: fill.qty_lots,
            quote_amount: quote,
            taker_side: run.order.side,
            maker_order: OrderId(fill.maker_id),
            taker_order: run.order.id,
            maker_user: UserId(fill.maker_owner),
            taker_user: run.order.user,
            maker_fee,
            maker_fee_asset,
            taker_fee,
            taker_fee_asset,
            timestamp_ms: now_ms,
        });
    }

    /// The ledger slot of a fill's maker, found by its handle.
    fn maker_slot(&self, at: OrderRef, fill: &Fill) -> u32 {
        let maker = self.orders.by_ref(at).filter(|m| m.id.0 == fill.maker_id);
        assert!(
            maker.is_some(),
            "book and order table diverged at order {}",
            fill.maker_id
        );
        maker.map_or(u32::MAX, |m| m.slot)
    }

    fn update_maker(
        &mut self,
        at: OrderRef,
        fill: &Fill,
        quote: i64,
        fee: i64,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        if fill.maker_done() {
            let Some(mut maker) = self.orders.remove_at(at) else {
                return;
            };
            maker.filled_lots += fill.qty_lots;
            maker.filled_quote = maker.filled_quote.saturating_add(quote);
            maker.fee_paid = maker.fee_paid.saturating_add(fee);
            maker.updated_ms = now_ms;
            self.unregister(&maker);
            events.push(Event::Order(maker.view(OrderState::Filled, None)));
        } else if let Some(maker) = self.orders.by_ref_mut(at) {
            maker.filled_lots += fill.qty_lots;
            maker.filled_quote = maker.filled_quote.saturating_add(quote);
            maker.fee_paid = maker.fee_paid.saturating_add(fee);
            maker.updated_ms = now_ms;
            assert!(
                maker.remaining_lots() == fill.maker_remaining_lots,
                "maker {} out of sync",
                fill.maker_id
            );
            events.push(Event::Order(maker.view(maker.live_state(), None)));
        }
    }

    fn settle_self_trade(
        &mut self,
        taker: &LiveOrder,
        fill: &Fill,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        let maker = self.orders.remove_at(maker_ref(taker, fill));
        assert!(
            maker.as_ref().is_some_and(|m| m.id.0 == fill.maker_id),
            "book and order table diverged at order {}",
            fill.maker_id
        );
        if let Some(maker) = maker {
            self.retire(
                maker,
                fill.qty_lots,
                CancelReason::SelfTrade,
                now_ms,
                events,
            );
        }
    }

    /// Rests or expires the taker after matching, returns what it no longer needs from its
    /// hold, and emits its order event (before the makers') and the trades.
    fn finish_taker(
        &mut self,
        run: TakerRun,
        plan: &OrderPlan,
        summary: MatchSummary,
        events: &mut Vec<Event>,
        start: usize,
    ) {
        let order = &run.order;
        let remaining = order.remaining_lots();
        let market_buy = order.kind == OrderKind::Market && order.side == Side::Buy;
        let rests = matches!(order.kind, OrderKind::Limit | OrderKind::PostOnly)
            && summary.end != MatchEnd::SelfTrade
            && remaining > 0;
        let keep = if rests {
            reservation(&plan.params, order.side, order.price_ticks, remaining).1
        } else {
            0
        };
        let release = run.held_units - keep;
        assert!(
            release >= 0,
            "taker {:?} spent more than it reserved",
            order.id
        );
        self.ledger
            .must_shift(run.hold_asset, order.slot, release, false);
        let (state, reason) = if rests {
            (order.live_state(), None)
        } else if (market_buy && release == 0) || (!market_buy && remaining == 0) {
            (OrderState::Filled, None)
        } else {
            let reason = match summary.end {
                MatchEnd::SelfTrade => CancelReason::SelfTrade,
                MatchEnd::BudgetExhausted => CancelReason::NotionalExhausted,
                MatchEnd::Complete | MatchEnd::NoLiquidity => CancelReason::Expired,
            };
            (order.cancelled_state(), Some(reason))
        };
        events.insert(start, Event::Order(order.view(state, reason)));
        events.extend(self.scratch.trades.drain(..).map(Event::Trade));
        if rests {
            let rested = self.insert_live(run.order);
            assert!(rested.is_ok(), "validated order could not rest: {rested:?}");
        }
    }

    /// Rests a live order on its book and registers it in the order table, the owner's list
    /// and the client-id index. Nothing changes on error.
    pub(crate) fn insert_live(&mut self, mut order: LiveOrder) -> Result<(), BookError> {
        let (Some(market), Some(user)) = (
            self.markets.get_mut(order.market.0 as usize),
            self.user_orders.get_mut(order.slot as usize),
        ) else {
            return Err(BookError::InvalidOrder);
        };
        order.user_pos = u32::try_from(user.refs.len()).unwrap_or(u32::MAX);
        let id = order.id.0;
        let client_id = order.client_order_id;
        let at = self.orders.insert_with(order, |o| {
            market.book.rest_handle(RestingOrder {
                id,
                owner: o.user.0,
                side: o.side,
                price_ticks: o.price_ticks,
                qty_lots: o.remaining_lots(),
            })
        })?;
        user.refs.push(at);
        if let Some(client_id) = client_id {
            user.client_ids.insert(client_id, id);
        }
        Ok(())
    }

    /// Drops a finished order (already removed from `orders`) from its owner's indexes.
    pub(crate) fn unregister(&mut self, order: &LiveOrder) {
        let Some(user) = self.user_orders.get_mut(order.slot as usize) else {
            return;
        };
        let pos = order.user_pos as usize;
        if pos < user.refs.len() {
            user.refs.swap_remove(pos);
            if let Some(&moved) = user.refs.get(pos)
                && let Some(moved) = self.orders.by_ref_mut(moved)
            {
                moved.user_pos = order.user_pos;
            }
        }
        if let Some(key) = &order.client_order_id {
            user.client_ids.remove(key);
        }
    }

    /// Ends a live order that left the book with `remaining_lots` unfilled: releases that
    /// part of its reservation and emits its final state.
    fn retire(
        &mut self,
        mut order: LiveOrder,
        remaining_lots: i64,
        reason: CancelReason,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        if let Some(params) = self.market_params(order.market) {
            let (asset, units) =
                reservation(&params, order.side, order.price_ticks, remaining_lots);
            self.ledger.must_shift(asset, order.slot, units, false);
        }
        self.unregister(&order);
        order.updated_ms = now_ms;
        events.push(Event::Order(
            order.view(order.cancelled_state(), Some(reason)),
        ));
    }

    /// Takes an order just removed from the table off its book and retires it.
    fn cancel_removed(
        &mut self,
        at: OrderRef,
        order: LiveOrder,
        reason: CancelReason,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        let removed = self
            .markets
            .get_mut(at.market as usize)
            .and_then(|m| m.book.cancel_handle(at.handle));
        assert!(
            removed.is_some_and(|r| r.id == order.id.0 && r.qty_lots == order.remaining_lots()),
            "book and order table diverged at order {:?}",
            order.id
        );
        let remaining = order.remaining_lots();
        self.retire(order, remaining, reason, now_ms, events);
    }

    /// `CancelOrder`: by order id or client order id; only the owner's live orders.
    pub(super) fn cancel_order(
        &mut self,
        now_ms: i64,
        user: UserId,
        target: &OrderTarget,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let id = match target {
            OrderTarget::Id(id) => id.0,
            OrderTarget::Client(client_id) => self
                .ledger
                .slot(user)
                .and_then(|slot| self.user_orders.get(slot as usize))
                .and_then(|u| u.order_by_client_id(client_id))
                .ok_or(Reject::OrderNotFound)?,
        };
        let (at, order) = self
            .orders
            .remove_if(id, |o| o.user == user)
            .ok_or(Reject::OrderNotFound)?;
        self.cancel_removed(at, order, CancelReason::User, now_ms, events);
        Ok(Accepted::Cancelled { id: OrderId(id) })
    }

    /// `CancelAll`: the user's live orders, optionally of one market and/or side, in id order.
    pub(super) fn cancel_all(
        &mut self,
        now_ms: i64,
        user: UserId,
        market: Option<MarketId>,
        side: Option<Side>,
        events: &mut Vec<Event>,
    ) -> Outcome {
        if market.is_some_and(|m| self.markets.get(m.0 as usize).is_none()) {
            return Err(Reject::UnknownMarket);
        }
        let Some(slot) = self.ledger.slot(user) else {
            return Ok(Accepted::CancelledAll { count: 0 });
        };
        let mut ids = std::mem::take(&mut self.scratch.ids);
        ids.clear();
        if let Some(u) = self.user_orders.get(slot as usize) {
            ids.extend(
                u.refs
                    .iter()
                    .filter_map(|&at| self.orders.by_ref(at))
                    .filter(|o| {
                        market.is_none_or(|m| o.market == m) && side.is_none_or(|s| o.side == s)
                    })
                    .map(|o| o.id.0),
            );
        }
        ids.sort_unstable();
        for &id in &ids {
            if let Some((at, order)) = self.orders.remove(id) {
                self.cancel_removed(at, order, CancelReason::User, now_ms, events);
            }
        }
        let count = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        self.scratch.ids = ids;
        Ok(Accepted::CancelledAll { count })
    }
}

/// Where the maker of a fill is: the taker's market, at the handle the fill carries.
fn maker_ref(taker: &LiveOrder, fill: &Fill) -> OrderRef {
    OrderRef {
        market: taker.market.0,
        handle: fill.maker_handle,
    }
}

/// The book-level taker for an order: a market buy is limited by its notional budget only, a
/// market sell by its size only, everything else by its limit price and size.
fn book_taker(
    o: &NewOrder,
    price_ticks: i64,
    size_lots: i64,
    notional: i64,
    p: &MarketParams,
) -> Taker {
    let market_buy = o.kind == OrderKind::Market && o.side == Side::Buy;
    Taker {
        side: o.side,
        owner: o.user.0,
        limit_price_ticks: (o.kind != OrderKind::Market).then_some(price_ticks),
        qty_lots: if market_buy { i64::MAX } else { size_lots },
        budget: market_buy.then_some(QuoteBudget {
            quote_units: notional,
            quote_units_per_tick_lot: p.quote_per_tick_lot,
        }),
        stp: o.stp,
    }
}
