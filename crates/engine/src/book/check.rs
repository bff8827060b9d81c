//! The book's full structural check, for tests and the engine's invariant check.

use bulwark_types::Side;

use super::Book;
use super::ladder::Ladder;
use super::store::NIL;
use crate::invariant::InvariantError;

fn bad<T>(what: String) -> Result<T, InvariantError> {
    Err(InvariantError::new(format!("book: {what}")))
}

impl Book {
    /// Full structural check: sorted levels, level totals and counts, FIFO links, level handles,
    /// the id index and both free lists agree, and the book is not crossed. For tests and
    /// invariant checks; O(orders + levels).
    pub fn check(&self) -> Result<(), InvariantError> {
        let mut seen = 0_usize;
        for (side, ladder) in [(Side::Buy, &self.bids), (Side::Sell, &self.asks)] {
            seen += self.check_ladder(side, ladder)?;
        }
        let nodes = &self.store.nodes;
        if seen != nodes.live || self.store.index.as_ref().is_some_and(|i| i.len() != seen) {
            return bad(format!(
                "levels hold {seen} orders, {} counted live",
                nodes.live
            ));
        }
        let mut free = 0_usize;
        let mut i = nodes.free;
        while let Some(node) = nodes.get(i) {
            free += 1;
            if free > nodes.nodes.len() || nodes.level(i).is_some() {
                return bad("node free list is broken".into());
            }
            i = node.next;
        }
        if free + seen != nodes.nodes.len() || nodes.level_of.len() != nodes.nodes.len() {
            return bad("node slab leaks nodes".into());
        }
        self.check_level_slab()?;
        if let (Some(bid), Some(ask)) = (self.best_bid(), self.best_ask())
            && bid >= ask
        {
            return bad(format!("crossed: bid {bid} >= ask {ask}"));
        }
        Ok(())
    }

    /// Every level handle is used by exactly one ladder entry or is free, never both.
    fn check_level_slab(&self) -> Result<(), InvariantError> {
        let levels = &self.store.levels;
        let mut used = vec![false; levels.levels.len()];
        let entries = self.bids.order.iter().chain(&self.asks.order);
        for h in entries.map(|r| r.level).chain(levels.free.iter().copied()) {
            match used.get_mut(h as usize) {
                Some(u) if !*u => *u = true,
                _ => return bad(format!("level handle {h} used twice or unknown")),
            }
        }
        if used.iter().any(|u| !u) {
            return bad("level slab leaks levels".into());
        }
        Ok(())
    }

    fn check_ladder(&self, side: Side, ladder: &Ladder) -> Result<usize, InvariantError> {
        let mut seen = 0_usize;
        let mut prev_key: Option<i64> = None;
        for r in &ladder.order {
            let Some(level) = self.store.levels.get(r.level) else {
                return bad(format!("{side:?} ladder names unknown level {}", r.level));
            };
            if prev_key.is_some_and(|p| p >= r.key)
                || level.price_ticks <= 0
                || ladder.key(level.price_ticks) != r.key
                || level.side != side
            {
                return bad(format!(
                    "{side:?} levels out of order at {}",
                    level.price_ticks
                ));
            }
            prev_key = Some(r.key);
            let (count, total) = self.check_fifo(side, r.level)?;
            if count == 0 || count != level.orders || total != level.total_lots {
                return bad(format!(
                    "{side:?} level {} totals disagree",
                    level.price_ticks
                ));
            }
            seen += count as usize;
        }
        Ok(seen)
    }

    /// Walks one level's FIFO: links, back-references and the index. Returns (orders, lots).
    fn check_fifo(&self, side: Side, level: u32) -> Result<(u32, i64), InvariantError> {
        let nodes = &self.store.nodes;
        let Some(lvl) = self.store.levels.get(level) else {
            return bad(format!("unknown level {level}"));
        };
        let (mut count, mut total, mut prev, mut i) = (0_u32, 0_i64, NIL, lvl.head);
        while let Some(node) = nodes.get(i) {
            let indexed = match &self.store.index {
                Some(index) => index.get(&node.id) == Some(&i),
                None => true,
            };
            if node.prev != prev || nodes.level(i) != Some(level) {
                return bad(format!("{side:?} broken link at order {}", node.id));
            }
            if node.qty_lots <= 0 || !indexed {
                return bad(format!("{side:?} order {} empty or not indexed", node.id));
            }
            count += 1;
            total += node.qty_lots;
            prev = i;
            i = node.next;
            if count as usize > nodes.nodes.len() {
                return bad(format!("{side:?} level list has a cycle"));
            }
        }
        if lvl.tail != prev {
            return bad(format!(
                "{side:?} level {} has a wrong tail",
                lvl.price_ticks
            ));
        }
        Ok((count, total))
    }
}
