//! Stop orders: accepting them with their funds held, firing them when the last trade price
//! reaches them, and cancelling them.
//!
//! A waiting stop order holds exactly what its order would reserve (see `orders`), so each
//! user's held balance is the reservations of their live orders, their waiting stop orders and
//! their withdrawals. Firing releases that hold and places the order through the same path as
//! `PlaceOrder`, inside the command whose trade made it due, so replay fires exactly the same
//! stop orders at the same sequence numbers.

use bulwark_types::{OrderId, UserId};

use super::Engine;
use super::orders::order_amounts;
use crate::command::{NewOrder, NewTrigger, OrderTarget};
use crate::event::{Event, TriggerDirection, TriggerState, TriggerView};
use crate::limits::TRIGGERS_OPEN_PER_USER_MAX;
use crate::reject::{Accepted, Outcome, Reject};
use crate::spec::{AssetId, MarketId};

/// A waiting stop order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Trigger {
    pub(crate) id: OrderId,
    pub(crate) slot: u32,
    /// The order to place when it fires (its `user` is the owner).
    pub(crate) order: NewOrder,
    pub(crate) trigger_price_ticks: i64,
    pub(crate) direction: TriggerDirection,
    pub(crate) hold_asset: AssetId,
    pub(crate) hold_units: i64,
    pub(crate) created_ms: i64,
}

impl Trigger {
    pub(crate) fn view(&self, state: TriggerState, now_ms: i64) -> TriggerView {
        TriggerView {
            id: self.id,
            user: self.order.user,
            market: self.order.market,
            side: self.order.side,
            kind: self.order.kind,
            price_ticks: self.order.price_ticks,
            size_lots: self.order.size_lots,
            notional: self.order.notional,
            trigger_price_ticks: self.trigger_price_ticks,
            direction: self.direction,
            client_order_id: self.order.client_order_id,
            stp: self.order.stp,
            state,
            created_ms: self.created_ms,
            updated_ms: now_ms,
        }
    }

    /// The market index key of this stop order.
    fn key(&self) -> (i64, u64) {
        (self.trigger_price_ticks, self.id.0)
    }
}

/// The direction a stop order at `trigger` gets when the last price is `last`: at or above the
/// last price it waits for a rise (and at exactly the last price it is already due).
pub(crate) fn direction_of(trigger: i64, last: i64) -> TriggerDirection {
    if trigger >= last {
        TriggerDirection::Rise
    } else {
        TriggerDirection::Fall
    }
}

impl Engine {
    /// Everything that can refuse a stop order, checked before anything changes: the same
    /// amount rules as an order, a valid trigger price, a free client order id, the per-user
    /// limit, the funds to hold and, last, a last price to compare with.
    fn validate_trigger(&self, t: &NewTrigger) -> Result<Trigger, Reject> {
        let o = &t.order;
        let (market, slot, user) = self.order_entry(o)?;
        let (_, _, _, hold_asset, hold_units) = order_amounts(&market.spec, &market.params, o)?;
        if !(1..=market.spec.max_price_ticks).contains(&t.trigger_price_ticks) {
            return Err(Reject::TriggerPriceInvalid {
                max_ticks: market.spec.max_price_ticks,
            });
        }
        if user.is_some_and(|u| u.triggers.len() >= TRIGGERS_OPEN_PER_USER_MAX as usize) {
            return Err(Reject::TooManyTriggers {
                max: TRIGGERS_OPEN_PER_USER_MAX,
            });
        }
        let available = slot.map_or(0, |s| self.ledger.balance(s, hold_asset).available);
        let Some(slot) = slot.filter(|_| available >= hold_units) else {
            return Err(Reject::InsufficientFunds {
                asset: hold_asset,
                needed: hold_units,
                available,
            });
        };
        let last = market.last_price_ticks.ok_or(Reject::NoLastPrice)?;
        Ok(Trigger {
            id: OrderId(0),
            slot,
            order: o.clone(),
            trigger_price_ticks: t.trigger_price_ticks,
            direction: direction_of(t.trigger_price_ticks, last),
            hold_asset,
            hold_units,
            created_ms: 0,
        })
    }

    /// `PlaceTrigger`: hold the order's funds and wait; fires at once if already due.
    pub(super) fn place_trigger(
        &mut self,
        now_ms: i64,
        t: &NewTrigger,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let mut trigger = self.validate_trigger(t)?;
        trigger.id = OrderId(self.next_order_id);
        trigger.created_ms = now_ms;
        self.next_order_id = self.next_order_id.saturating_add(1);
        self.ledger
            .must_shift(trigger.hold_asset, trigger.slot, trigger.hold_units, true);
        events.push(Event::Trigger(trigger.view(TriggerState::Waiting, now_ms)));
        let (id, market) = (trigger.id, trigger.order.market);
        self.insert_trigger(trigger);
        self.fire_due_triggers(market, now_ms, events);
        Ok(Accepted::Trigger { id })
    }

    /// Registers a waiting stop order in the table, its market's index and its owner's lists.
    pub(crate) fn insert_trigger(&mut self, trigger: Trigger) {
        if let Some(market) = self.markets.get_mut(trigger.order.market.0 as usize) {
            match trigger.direction {
                TriggerDirection::Rise => market.rises.insert(trigger.key()),
                TriggerDirection::Fall => market.falls.insert(trigger.key()),
            };
        }
        if let Some(user) = self.user_orders.get_mut(trigger.slot as usize) {
            user.triggers.insert(trigger.id.0);
            if let Some(key) = trigger.order.client_order_id {
                user.trigger_client_ids.insert(key, trigger.id.0);
            }
        }
        self.triggers.insert(trigger.id.0, trigger);
    }

    /// Takes a waiting stop order out of every index and releases its hold.
    fn remove_trigger(&mut self, id: u64) -> Option<Trigger> {
        let trigger = self.triggers.remove(&id)?;
        if let Some(market) = self.markets.get_mut(trigger.order.market.0 as usize) {
            match trigger.direction {
                TriggerDirection::Rise => market.rises.remove(&trigger.key()),
                TriggerDirection::Fall => market.falls.remove(&trigger.key()),
            };
        }
        if let Some(user) = self.user_orders.get_mut(trigger.slot as usize) {
            user.triggers.remove(&id);
            if let Some(key) = &trigger.order.client_order_id {
                user.trigger_client_ids.remove(key);
            }
        }
        self.ledger
            .must_shift(trigger.hold_asset, trigger.slot, trigger.hold_units, false);
        Some(trigger)
    }

    /// Fires every stop order of `market` that the last price has reached, in id order, and
    /// repeats while the orders they place make more due.
    pub(super) fn fire_due_triggers(
        &mut self,
        market: MarketId,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) {
        loop {
            let Some(m) = self.markets.get(market.0 as usize) else {
                return;
            };
            if m.rises.is_empty() && m.falls.is_empty() {
                return;
            }
            let Some(last) = m.last_price_ticks else {
                return;
            };
            let mut due: Vec<u64> = m
                .rises
                .range(..=(last, u64::MAX))
                .chain(m.falls.range((last, 0)..))
                .map(|&(_, id)| id)
                .collect();
            if due.is_empty() {
                return;
            }
            due.sort_unstable();
            for id in due {
                self.fire(id, now_ms, events);
            }
        }
    }

    /// Releases a stop order's hold and places its order; its event (first) says which order
    /// it became, or why that order was refused.
    fn fire(&mut self, id: u64, now_ms: i64, events: &mut Vec<Event>) {
        let Some(trigger) = self.remove_trigger(id) else {
            return;
        };
        let start = events.len();
        let state = match self.execute_order(now_ms, &trigger.order, events) {
            Ok(id) => TriggerState::Triggered(id),
            Err(reject) => TriggerState::Failed(reject),
        };
        events.insert(start, Event::Trigger(trigger.view(state, now_ms)));
    }

    /// `CancelTrigger`: by id or client order id; only the owner's waiting stop orders.
    pub(super) fn cancel_trigger(
        &mut self,
        now_ms: i64,
        user: UserId,
        target: &OrderTarget,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let owned = |u: &super::UserOrders| match target {
            OrderTarget::Id(id) => u.triggers.contains(&id.0).then_some(id.0),
            OrderTarget::Client(client) => u.trigger_by_client_id(client),
        };
        let id = self
            .ledger
            .slot(user)
            .and_then(|slot| self.user_orders.get(slot as usize))
            .and_then(owned)
            .ok_or(Reject::TriggerNotFound)?;
        let trigger = self.remove_trigger(id).ok_or(Reject::TriggerNotFound)?;
        events.push(Event::Trigger(trigger.view(TriggerState::Canceled, now_ms)));
        Ok(Accepted::Cancelled { id: trigger.id })
    }

    /// `CancelAllTriggers`: the user's waiting stop orders, optionally of one market, in id
    /// order.
    pub(super) fn cancel_all_triggers(
        &mut self,
        now_ms: i64,
        user: UserId,
        market: Option<MarketId>,
        events: &mut Vec<Event>,
    ) -> Outcome {
        if market.is_some_and(|m| self.markets.get(m.0 as usize).is_none()) {
            return Err(Reject::UnknownMarket);
        }
        let ids: Vec<u64> = self
            .ledger
            .slot(user)
            .and_then(|slot| self.user_orders.get(slot as usize))
            .map(|u| {
                u.triggers
                    .iter()
                    .copied()
                    .filter(|id| {
                        self.triggers
                            .get(id)
                            .is_some_and(|t| market.is_none_or(|m| t.order.market == m))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for &id in &ids {
            if let Some(trigger) = self.remove_trigger(id) {
                events.push(Event::Trigger(trigger.view(TriggerState::Canceled, now_ms)));
            }
        }
        Ok(Accepted::CancelledAll {
            count: u32::try_from(ids.len()).unwrap_or(u32::MAX),
        })
    }
}
