//! The `matchcore` 0.4 order book as a benchmark subject: the best Rust crate we measured
//! (§3.1 of the benchmark reference), so our book's figures are quoted as a ratio against it
//! from the same process run.

use matchcore as mc;

use crate::harness::{OpEffect, Subject};
use crate::workload::Op;

/// matchcore plus the map from workload ids to its ids (matchcore names an order after the
/// sequence number of the command that submitted it).
pub struct MatchcoreBook {
    book: mc::OrderBook,
    next_seq: u64,
    /// Indexed by workload id.
    ids: Vec<u64>,
}

/// Name reported in results.
pub const MATCHCORE_NAME: &str = "matchcore-0.4";

impl MatchcoreBook {
    /// `max_id` is the largest workload id, so the id map never grows while timed.
    pub fn new(max_id: u32) -> Self {
        MatchcoreBook {
            book: mc::OrderBook::new("TEST_USDT"),
            next_seq: 0,
            ids: vec![0; max_id as usize + 1],
        }
    }

    fn command(&mut self, kind: mc::CommandKind) -> mc::Command {
        let seq = self.next_seq;
        self.next_seq += 1;
        mc::Command {
            meta: mc::CommandMeta {
                sequence_number: mc::SequenceNumber(seq),
                timestamp: mc::Timestamp(seq),
            },
            kind,
        }
    }

    fn remember(&mut self, id: u32) {
        let seq = self.next_seq;
        if let Some(slot) = self.ids.get_mut(id as usize) {
            *slot = seq;
        }
    }
}

fn side(buy: bool) -> mc::Side {
    if buy { mc::Side::Buy } else { mc::Side::Sell }
}

fn submit(order: mc::NewOrder) -> mc::CommandKind {
    mc::CommandKind::Submit(mc::SubmitCmd { order })
}

impl Subject for MatchcoreBook {
    fn apply(&mut self, op: &Op) -> OpEffect {
        let kind = match *op {
            Op::Limit {
                id,
                buy,
                price,
                qty,
            } => {
                self.remember(id);
                submit(mc::NewOrder::Limit(mc::LimitOrder::new(
                    mc::Price(u64::from(price)),
                    mc::QuantityPolicy::Standard {
                        quantity: mc::Quantity(u64::from(qty)),
                    },
                    mc::OrderFlags::new(side(buy), false, mc::TimeInForce::Gtc),
                )))
            }
            Op::Market { id, buy, qty } => {
                self.remember(id);
                submit(mc::NewOrder::Market(mc::MarketOrder::new(
                    mc::Quantity(u64::from(qty)),
                    side(buy),
                    false,
                )))
            }
            Op::Cancel { id } => {
                let order_id = self.ids.get(id as usize).copied().unwrap_or(u64::MAX);
                mc::CommandKind::Cancel(mc::CancelCmd {
                    order_id: mc::OrderId(order_id),
                    order_kind: mc::OrderKind::Limit,
                })
            }
        };
        let command = self.command(kind);
        effect_of(&self.book.execute(&command))
    }
}

fn effect_of(outcome: &mc::CommandOutcome) -> OpEffect {
    match outcome {
        mc::CommandOutcome::Applied(mc::CommandReport::Submit(effects)) => OpEffect {
            filled_lots: effects
                .target_order()
                .match_result()
                .map_or(0, |m| m.executed_quantity().0),
            cancelled: false,
        },
        mc::CommandOutcome::Applied(mc::CommandReport::Cancel) => OpEffect {
            filled_lots: 0,
            cancelled: true,
        },
        mc::CommandOutcome::Applied(mc::CommandReport::Amend(_))
        | mc::CommandOutcome::Rejected(_) => OpEffect::default(),
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
    fn fills_and_cancels_are_reported() {
        let mut book = MatchcoreBook::new(10);
        let rest = |id, price| Op::Limit {
            id,
            buy: false,
            price,
            qty: 10,
        };
        assert_eq!(book.apply(&rest(1, 100)), OpEffect::default());
        assert_eq!(book.apply(&rest(2, 101)), OpEffect::default());
        let cancel = book.apply(&Op::Cancel { id: 1 });
        assert!(cancel.cancelled);
        let market = book.apply(&Op::Market {
            id: 3,
            buy: true,
            qty: 15,
        });
        assert_eq!(market.filled_lots, 10);
        assert!(!book.apply(&Op::Cancel { id: 1 }).cancelled);
    }
}
