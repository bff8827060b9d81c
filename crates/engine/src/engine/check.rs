//! The full invariant check: everything the engine promises about its state, verified from
//! scratch in O(state). Tests run it after every command; `apply` itself only runs the cheap
//! per-command ledger assertions.

use rustc_hash::FxHashMap;

use super::{Engine, order_amounts, reservation};
use crate::client_order_id::ClientOrderId;
use crate::command::OrderKind;
use crate::event::TriggerDirection;
use crate::invariant::InvariantError;
use crate::spec::AssetId;

fn fail<T>(what: String) -> Result<T, InvariantError> {
    Err(InvariantError::new(what))
}

impl Engine {
    /// Checks: every asset's accounts sum to zero and no internal account is negative; every
    /// book is well formed and not crossed; the order table, the books, the per-user order
    /// lists and the client-id index agree; waiting stop orders are indexed once in their
    /// market, owner list and client-id index; and each user's held balance equals the remaining
    /// reservations of their live orders plus the holds of their stop orders and withdrawals.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        self.ledger.check()?;
        if self.ledger.asset_count() != self.assets.len() {
            return fail("ledger and asset table disagree".into());
        }
        let mut book_orders = 0;
        for m in &self.markets {
            m.book.check()?;
            book_orders += m.book.order_count();
        }
        if book_orders != self.orders.len() {
            return fail(format!(
                "books hold {book_orders} orders, table {}",
                self.orders.len()
            ));
        }
        self.check_orders()?;
        self.check_triggers()?;
        self.check_users()?;
        self.check_holds()?;
        if !self.window.is_consistent(self.last_seq) {
            return fail("idempotency window inconsistent".into());
        }
        Ok(())
    }

    fn sorted_order_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.orders.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    fn check_orders(&self) -> Result<(), InvariantError> {
        for id in self.sorted_order_ids() {
            let Some(o) = self.orders.get(&id) else {
                continue;
            };
            let at = self.orders.ref_of(&id);
            let resting = at.and_then(|r| {
                let book = &self.markets.get(r.market as usize)?.book;
                book.get_handle(r.handle)
            });
            let Some(r) = resting else {
                return fail(format!("order {id} is not on its book"));
            };
            if r.id != id
                || at.is_none_or(|a| a.market != o.market.0)
                || r.side != o.side
                || r.price_ticks != o.price_ticks
                || r.owner != o.user.0
                || r.qty_lots != o.remaining_lots()
            {
                return fail(format!("order {id} differs from its book entry"));
            }
            if o.id.0 != id || !matches!(o.kind, OrderKind::Limit | OrderKind::PostOnly) {
                return fail(format!("order {id} has a bad id or kind"));
            }
            if o.filled_lots < 0 || o.filled_lots >= o.size_lots {
                return fail(format!(
                    "order {id} filled {} of {}",
                    o.filled_lots, o.size_lots
                ));
            }
            if self.ledger.user_id(o.slot) != Some(o.user) {
                return fail(format!("order {id} has a wrong user slot"));
            }
            let user = self.user_orders.get(o.slot as usize);
            if user.and_then(|u| u.refs.get(o.user_pos as usize)).copied() != at {
                return fail(format!(
                    "order {id} is not at its position in the user list"
                ));
            }
            if let Some(c) = &o.client_order_id
                && user.and_then(|u| u.order_by_client_id(c)) != Some(id)
            {
                return fail(format!("order {id} client id not indexed"));
            }
        }
        Ok(())
    }

    fn check_triggers(&self) -> Result<(), InvariantError> {
        let mut indexed = 0;
        for m in &self.markets {
            indexed += m.rises.len() + m.falls.len();
        }
        if indexed != self.triggers.len() {
            return fail(format!(
                "markets index {indexed} stop orders, table {}",
                self.triggers.len()
            ));
        }
        for (&id, t) in &self.triggers {
            let Some(market) = self.markets.get(t.order.market.0 as usize) else {
                return fail(format!("stop order {id} in unknown market"));
            };
            let key = (t.trigger_price_ticks, id);
            let in_index = match t.direction {
                TriggerDirection::Rise => market.rises.contains(&key),
                TriggerDirection::Fall => market.falls.contains(&key),
            };
            if t.id.0 != id || !in_index || self.orders.contains_key(&id) {
                return fail(format!("stop order {id} is not indexed as itself"));
            }
            if self.ledger.user_id(t.slot) != Some(t.order.user) {
                return fail(format!("stop order {id} has a wrong user slot"));
            }
            let user = self.user_orders.get(t.slot as usize);
            if !user.is_some_and(|u| u.triggers.contains(&id)) {
                return fail(format!("stop order {id} is not in its owner's list"));
            }
            if let Some(c) = &t.order.client_order_id
                && user.and_then(|u| u.trigger_by_client_id(c)) != Some(id)
            {
                return fail(format!("stop order {id} client id not indexed"));
            }
            let amounts = order_amounts(&market.spec, &market.params, &t.order);
            if amounts.map(|a| (a.3, a.4)) != Ok((t.hold_asset, t.hold_units)) {
                return fail(format!("stop order {id} holds the wrong amount"));
            }
        }
        Ok(())
    }

    fn check_users(&self) -> Result<(), InvariantError> {
        if self.user_orders.len() != self.ledger.user_count() {
            return fail("user order lists and ledger slots disagree".into());
        }
        for (slot, u) in self.user_orders.iter().enumerate() {
            let foreign_trigger = u.triggers.iter().any(|id| {
                self.triggers
                    .get(id)
                    .is_none_or(|t| t.slot as usize != slot)
            });
            let stale_trigger_client = u.trigger_client_ids.iter().any(|(c, id)| {
                self.triggers
                    .get(id)
                    .is_none_or(|t| t.slot as usize != slot || t.order.client_order_id != Some(*c))
            });
            if foreign_trigger || stale_trigger_client {
                return fail(format!(
                    "user slot {slot} lists a stop order it does not own"
                ));
            }
            if u.client_ids
                .keys()
                .any(|c| u.trigger_client_ids.contains_key(c))
            {
                return fail(format!("user slot {slot} uses a client id twice"));
            }
            if u.refs.iter().enumerate().any(|(pos, &at)| {
                self.orders
                    .by_ref(at)
                    .is_none_or(|o| o.slot as usize != slot || o.user_pos as usize != pos)
            }) {
                return fail(format!("user slot {slot} lists an order it does not own"));
            }
            let mut clients: Vec<(ClientOrderId, u64)> =
                u.client_ids.iter().map(|(&c, &id)| (c, id)).collect();
            clients.sort_unstable();
            for (client_id, id) in clients {
                let owned = self.orders.get(&id).is_some_and(|o| {
                    o.slot as usize == slot && o.client_order_id == Some(client_id)
                });
                if !owned {
                    return fail(format!("client id {client_id} of slot {slot} is stale"));
                }
            }
        }
        Ok(())
    }

    fn check_holds(&self) -> Result<(), InvariantError> {
        // Sparse: only users with live orders or withdrawals hold anything.
        let mut expected: FxHashMap<(u32, AssetId), i128> = FxHashMap::default();
        for id in self.sorted_order_ids() {
            let Some(o) = self.orders.get(&id) else {
                continue;
            };
            let Some(params) = self.market_params(o.market) else {
                return fail(format!("order {id} in unknown market"));
            };
            let (asset, units) = reservation(&params, o.side, o.price_ticks, o.remaining_lots());
            *expected.entry((o.slot, asset)).or_default() += i128::from(units);
        }
        for t in self.triggers.values() {
            *expected.entry((t.slot, t.hold_asset)).or_default() += i128::from(t.hold_units);
        }
        let mut withdrawals: Vec<_> = self.withdrawals.iter().collect();
        withdrawals.sort_unstable_by_key(|(id, _)| **id);
        for (id, w) in withdrawals {
            let Some(slot) = self.ledger.slot(w.user) else {
                return fail(format!("withdrawal {id} of unknown user"));
            };
            *expected.entry((slot, w.asset)).or_default() += i128::from(w.amount);
        }
        for slot in 0..u32::try_from(self.ledger.user_count()).unwrap_or(u32::MAX) {
            for a in 0..u16::try_from(self.assets.len()).unwrap_or(u16::MAX) {
                let asset = AssetId(a);
                let held = self.ledger.balance(slot, asset).held;
                let want = expected.get(&(slot, asset)).copied().unwrap_or(0);
                if i128::from(held) != want {
                    return fail(format!(
                        "slot {slot} holds {held} of {asset:?}, reservations {want}"
                    ));
                }
            }
        }
        Ok(())
    }
}
