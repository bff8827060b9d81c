//! One side of a book: handles of its levels in price order, best last.
//!
//! Each entry carries its level's sort key (`price * sign`) next to the handle, so a search
//! reads one dense vector and never the level slab. Best last: new levels appear near the
//! touch, so inserting or removing one moves only a few 16-byte entries.

use bulwark_types::Side;

/// A level's place in the order: its key and its handle in the level slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LevelRef {
    pub(super) key: i64,
    pub(super) level: u32,
}

/// One side: `order` is sorted by key ascending, so the best level is last for both sides
/// (bids: sign +1, highest last; asks: sign -1, lowest last).
#[derive(Clone, Debug)]
pub(super) struct Ladder {
    pub(super) sign: i64,
    pub(super) order: Vec<LevelRef>,
}

impl Ladder {
    pub(super) fn new(side: Side) -> Ladder {
        let sign = match side {
            Side::Buy => 1,
            Side::Sell => -1,
        };
        Ladder {
            sign,
            order: Vec::new(),
        }
    }

    /// Sort key of a price on this side: larger is better.
    pub(super) fn key(&self, price_ticks: i64) -> i64 {
        price_ticks.saturating_mul(self.sign)
    }

    /// Price of a key (exact: prices are positive, so negating never saturates).
    pub(super) fn price(&self, key: i64) -> i64 {
        key.saturating_mul(self.sign)
    }

    pub(super) fn best(&self) -> Option<LevelRef> {
        self.order.last().copied()
    }

    /// `Ok(position)` of the level at `price`, or `Err(insertion position)`.
    ///
    /// Keys are distinct integers, so the level of `key` is at most `best - key` places below
    /// the top and at most `key - lowest` places above the bottom. The binary search runs only
    /// between those bounds: a few entries for prices near the touch, where most activity is.
    pub(super) fn find(&self, price_ticks: i64) -> Result<usize, usize> {
        let key = self.key(price_ticks);
        let (Some(low), Some(best)) = (self.order.first(), self.order.last()) else {
            return Err(0);
        };
        let len = self.order.len();
        if key > best.key {
            return Err(len);
        }
        if key < low.key {
            return Err(0);
        }
        let below_best = usize::try_from(best.key.abs_diff(key)).unwrap_or(usize::MAX);
        let above_low = usize::try_from(key.abs_diff(low.key)).unwrap_or(usize::MAX);
        let from = (len - 1).saturating_sub(below_best);
        // Near the touch every tick tends to have a level, and then `from` is the answer.
        if self.order.get(from).is_some_and(|r| r.key == key) {
            return Ok(from);
        }
        let to = len.min(above_low.saturating_add(1));
        let search = |refs: &[LevelRef]| refs.binary_search_by(|r| r.key.cmp(&key));
        match self.order.get(from..to) {
            Some(window) => search(window).map(|i| from + i).map_err(|i| from + i),
            None => search(&self.order),
        }
    }

    /// Removes the entry of the level at `price`; returns whether there was one.
    pub(super) fn remove(&mut self, price_ticks: i64) -> bool {
        match self.find(price_ticks) {
            Ok(pos) => {
                self.order.remove(pos);
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn bounded_search_agrees_with_a_full_one() {
        for side in [Side::Buy, Side::Sell] {
            let mut ladder = Ladder::new(side);
            let prices = [
                1_i64,
                2,
                3,
                7,
                8,
                20,
                21,
                22,
                23,
                100,
                1_000,
                1_001,
                i64::MAX,
            ];
            let mut keys: Vec<i64> = prices.iter().map(|&p| ladder.key(p)).collect();
            keys.sort_unstable();
            ladder.order = keys
                .iter()
                .enumerate()
                .map(|(i, &key)| LevelRef {
                    key,
                    level: i as u32,
                })
                .collect();
            for price in (0..1_100).chain([i64::MAX - 1, i64::MAX]) {
                let key = ladder.key(price);
                let full = ladder.order.binary_search_by(|r| r.key.cmp(&key));
                assert_eq!(ladder.find(price), full, "{side:?} {price}");
            }
        }
    }
}
