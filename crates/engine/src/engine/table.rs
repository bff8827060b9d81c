//! The live-order table: each order's data under its book handle, found by id through one
//! index.
//!
//! A market's book hands out an [`OrderHandle`] when an order rests, and the table keeps the
//! engine's data for that order at the same index of the market's vector. So a fill (which
//! carries the maker's handle) and a cancel (one id lookup) reach the book node and the order
//! data without a second hash probe, and the books need no id index of their own. The index
//! maps an order id to its [`OrderRef`] in 16-byte entries, so it stays cache-resident.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use super::LiveOrder;
use crate::book::{BookError, OrderHandle};

/// Where a live order is: its market and its handle in that market's book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OrderRef {
    pub(crate) market: u32,
    pub(crate) handle: OrderHandle,
}

/// Live orders by id and by reference.
#[derive(Clone, Debug, Default)]
pub(crate) struct OrderTable {
    index: FxHashMap<u64, OrderRef>,
    /// Per market id, order data by book handle.
    by_market: Vec<Vec<Option<LiveOrder>>>,
}

impl OrderTable {
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn contains_key(&self, id: &u64) -> bool {
        self.index.contains_key(id)
    }

    pub(crate) fn get(&self, id: &u64) -> Option<&LiveOrder> {
        self.by_ref(*self.index.get(id)?)
    }

    pub(crate) fn ref_of(&self, id: &u64) -> Option<OrderRef> {
        self.index.get(id).copied()
    }

    pub(crate) fn by_ref(&self, r: OrderRef) -> Option<&LiveOrder> {
        self.by_market
            .get(r.market as usize)?
            .get(r.handle.index())?
            .as_ref()
    }

    pub(crate) fn by_ref_mut(&mut self, r: OrderRef) -> Option<&mut LiveOrder> {
        self.cell(r)?.as_mut()
    }

    fn cell(&mut self, r: OrderRef) -> Option<&mut Option<LiveOrder>> {
        self.by_market
            .get_mut(r.market as usize)?
            .get_mut(r.handle.index())
    }

    /// Stores an order under the handle `rest` returns (`rest` puts it on its book). One hash
    /// probe serves both the duplicate check and the insert. Nothing changes on error.
    pub(crate) fn insert_with(
        &mut self,
        order: LiveOrder,
        rest: impl FnOnce(&LiveOrder) -> Result<OrderHandle, BookError>,
    ) -> Result<OrderRef, BookError> {
        let Entry::Vacant(slot) = self.index.entry(order.id.0) else {
            return Err(BookError::DuplicateId);
        };
        let handle = rest(&order)?;
        let r = OrderRef {
            market: order.market.0,
            handle,
        };
        let market = r.market as usize;
        if self.by_market.len() <= market {
            self.by_market.resize_with(market + 1, Vec::new);
        }
        if let Some(orders) = self.by_market.get_mut(market) {
            if orders.len() <= handle.index() {
                orders.resize_with(handle.index() + 1, || None);
            }
            if let Some(cell) = orders.get_mut(handle.index()) {
                *cell = Some(order);
            }
        }
        slot.insert(r);
        Ok(r)
    }

    /// Removes the order with this id if `owned` accepts it, in one hash probe.
    pub(crate) fn remove_if(
        &mut self,
        id: u64,
        owned: impl FnOnce(&LiveOrder) -> bool,
    ) -> Option<(OrderRef, LiveOrder)> {
        let Entry::Occupied(entry) = self.index.entry(id) else {
            return None;
        };
        let r = *entry.get();
        let cell = self
            .by_market
            .get_mut(r.market as usize)?
            .get_mut(r.handle.index())?;
        if !cell.as_ref().is_some_and(owned) {
            return None;
        }
        entry.remove();
        Some((r, cell.take()?))
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<(OrderRef, LiveOrder)> {
        self.remove_if(id, |_| true)
    }

    /// Removes the order at `r` (a maker that just left its book).
    pub(crate) fn remove_at(&mut self, r: OrderRef) -> Option<LiveOrder> {
        let order = self.cell(r)?.take()?;
        self.index.remove(&order.id.0);
        Some(order)
    }

    /// Ids of every live order, in no particular order (callers sort).
    pub(crate) fn keys(&self) -> impl Iterator<Item = &u64> {
        self.index.keys()
    }
}
