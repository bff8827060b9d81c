//! Our standalone book (`bulwark_engine::book::Book`) as a benchmark subject: no ledger, no
//! events, just the data structures the engine matches with, driven the way the engine drives
//! them (`place_limit` for limits, `match_order` for market orders, `cancel`).

use bulwark_engine::StpMode;
use bulwark_engine::book::{Book, BookError, Fill, RestingOrder, Taker};
use bulwark_types::Side;

use crate::harness::{OpEffect, Subject};
use crate::workload::Op;

/// Name reported in results.
pub const BULWARK_BOOK_NAME: &str = "bulwark-book";

/// Price levels per side the benchmark allows; the workload's prices stay below 65,001.
pub const BENCH_LEVELS_PER_SIDE_MAX: usize = 65_536;

/// Every order belongs to this owner: with `StpMode::None` ownership never matters.
const OWNER: u64 = 1;

/// The book plus a reused fill buffer, as the engine would hold them.
pub struct BulwarkBook {
    book: Book,
    fills: Vec<Fill>,
    /// Orders the book refused; a refusal changes the fingerprint, so this is only diagnostic.
    pub refused: u64,
}

impl BulwarkBook {
    /// `orders_capacity` pre-sizes the slab and index so growth stays out of the timed loop.
    pub fn new(orders_capacity: usize) -> Self {
        BulwarkBook {
            book: Book::with_limits(BENCH_LEVELS_PER_SIDE_MAX, orders_capacity),
            fills: Vec::with_capacity(1024),
            refused: 0,
        }
    }

    fn limit(&mut self, id: u32, buy: bool, price: u32, qty: u32) -> Result<u64, BookError> {
        let order = RestingOrder {
            id: u64::from(id),
            owner: OWNER,
            side: side(buy),
            price_ticks: i64::from(price),
            qty_lots: i64::from(qty),
        };
        self.fills.clear();
        let summary = self
            .book
            .place_limit(order, StpMode::None, &mut self.fills)?;
        Ok(lots(summary.filled_lots))
    }

    fn market(&mut self, buy: bool, qty: u32) -> u64 {
        let taker = Taker {
            side: side(buy),
            owner: OWNER,
            limit_price_ticks: None,
            qty_lots: i64::from(qty),
            budget: None,
            stp: StpMode::None,
        };
        self.fills.clear();
        lots(self.book.match_order(&taker, &mut self.fills).filled_lots)
    }
}

fn side(buy: bool) -> Side {
    if buy { Side::Buy } else { Side::Sell }
}

fn lots(filled_lots: i64) -> u64 {
    u64::try_from(filled_lots).unwrap_or(0)
}

impl Subject for BulwarkBook {
    fn apply(&mut self, op: &Op) -> OpEffect {
        match *op {
            Op::Limit {
                id,
                buy,
                price,
                qty,
            } => match self.limit(id, buy, price, qty) {
                Ok(filled_lots) => OpEffect {
                    filled_lots,
                    cancelled: false,
                },
                Err(_) => {
                    self.refused += 1;
                    OpEffect::default()
                }
            },
            Op::Market { buy, qty, .. } => OpEffect {
                filled_lots: self.market(buy, qty),
                cancelled: false,
            },
            Op::Cancel { id } => OpEffect {
                filled_lots: 0,
                cancelled: self.book.cancel(u64::from(id)).is_some(),
            },
        }
    }

    fn verify_end(&mut self) -> Result<(), String> {
        if self.refused > 0 {
            return Err(format!("book refused {} limit orders", self.refused));
        }
        self.book.check().map_err(|e| e.to_string())
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
    use crate::harness::{RunConfig, measure};
    use crate::report::{FingerprintCheck, FingerprintStatus};
    use crate::workload::{BOOK_A, WorkloadSpec, generate};

    #[test]
    fn small_book_a_prefix_matches_the_reference() {
        let spec = WorkloadSpec {
            measured_ops: 50_000,
            ..BOOK_A
        };
        let workload = generate(&spec);
        let config = RunConfig {
            throughput_runs: 1,
            latency_pass: true,
        };
        let m = measure(&workload, config, || Ok::<_, ()>(BulwarkBook::new(1 << 14))).unwrap();
        let check = FingerprintCheck::new(&workload.reference, &m);
        assert_eq!(check.status, FingerprintStatus::Match, "{check:?}");
    }
}
