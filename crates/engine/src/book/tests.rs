//! Unit tests of the order book, plus a property test against a naive reference book.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proptest::prelude::*;

use super::*;

fn order(id: u64, owner: u64, side: Side, price_ticks: i64, qty_lots: i64) -> RestingOrder {
    RestingOrder {
        id,
        owner,
        side,
        price_ticks,
        qty_lots,
    }
}

fn taker(side: Side, owner: u64, limit: Option<i64>, qty_lots: i64, stp: StpMode) -> Taker {
    Taker {
        side,
        owner,
        limit_price_ticks: limit,
        qty_lots,
        budget: None,
        stp,
    }
}

fn trades(fills: &[Fill]) -> Vec<(u64, i64, i64)> {
    fills
        .iter()
        .map(|f| (f.maker_id, f.price_ticks, f.qty_lots))
        .collect()
}

#[test]
fn rests_and_reports_best_prices_and_depth() {
    let mut book = Book::new();
    book.rest(order(1, 1, Side::Buy, 100, 5)).unwrap();
    book.rest(order(2, 1, Side::Buy, 101, 3)).unwrap();
    book.rest(order(3, 2, Side::Buy, 100, 7)).unwrap();
    book.rest(order(4, 2, Side::Sell, 105, 2)).unwrap();
    book.rest(order(5, 2, Side::Sell, 103, 4)).unwrap();
    assert_eq!(book.best_bid(), Some(101));
    assert_eq!(book.best_ask(), Some(103));
    assert_eq!(book.depth(Side::Buy, 10), vec![(101, 3), (100, 12)]);
    assert_eq!(book.depth(Side::Sell, 1), vec![(103, 4)]);
    let ids: Vec<u64> = book.iter_side(Side::Buy).map(|o| o.id).collect();
    assert_eq!(ids, vec![2, 1, 3]);
    assert_eq!(
        book.rest(order(1, 1, Side::Buy, 99, 1)),
        Err(BookError::DuplicateId)
    );
    assert_eq!(
        book.rest(order(9, 1, Side::Buy, 0, 1)),
        Err(BookError::InvalidOrder)
    );
    assert!(book.would_cross(Side::Buy, 103));
    assert!(!book.would_cross(Side::Buy, 102));
    assert!(book.would_cross(Side::Sell, 101));
    book.check().unwrap();
}

#[test]
fn matches_in_price_then_time_priority_at_maker_prices() {
    let mut book = Book::new();
    book.rest(order(1, 1, Side::Sell, 102, 5)).unwrap();
    book.rest(order(2, 1, Side::Sell, 101, 3)).unwrap();
    book.rest(order(3, 2, Side::Sell, 101, 4)).unwrap();
    let mut fills = Vec::new();
    let s = book.match_order(
        &taker(Side::Buy, 9, Some(102), 10, StpMode::None),
        &mut fills,
    );
    assert_eq!(trades(&fills), vec![(2, 101, 3), (3, 101, 4), (1, 102, 3)]);
    assert_eq!(
        s,
        MatchSummary {
            filled_lots: 10,
            budget_left_units: 0,
            end: MatchEnd::Complete
        }
    );
    assert!(fills[0].maker_done() && fills[1].maker_done() && !fills[2].maker_done());
    assert_eq!(book.get(1).unwrap().qty_lots, 2);
    assert_eq!(book.depth(Side::Sell, 5), vec![(102, 2)]);
    book.check().unwrap();
}

#[test]
fn stops_at_the_limit_price() {
    let mut book = Book::new();
    book.rest(order(1, 1, Side::Buy, 100, 5)).unwrap();
    book.rest(order(2, 1, Side::Buy, 98, 5)).unwrap();
    let mut fills = Vec::new();
    let s = book.match_order(
        &taker(Side::Sell, 9, Some(99), 20, StpMode::None),
        &mut fills,
    );
    assert_eq!(s.filled_lots, 5);
    assert_eq!(s.end, MatchEnd::NoLiquidity);
    assert_eq!(book.best_bid(), Some(98));
    let s = book.match_order(&taker(Side::Sell, 9, None, 20, StpMode::None), &mut fills);
    assert_eq!(s.filled_lots, 5);
    assert_eq!(book.best_bid(), None);
    book.check().unwrap();
}

#[test]
fn cancel_after_fills_at_the_level_does_not_hang() {
    // The nanobook 0.19.3 defect: cancelling after the front of a level was filled.
    let mut book = Book::new();
    for id in 1..=3 {
        book.rest(order(id, 1, Side::Buy, 10, 100)).unwrap();
    }
    let mut fills = Vec::new();
    book.match_order(&taker(Side::Sell, 2, None, 100, StpMode::None), &mut fills);
    assert_eq!(book.cancel(3).unwrap().qty_lots, 100);
    fills.clear();
    let s = book.match_order(&taker(Side::Sell, 2, None, 300, StpMode::None), &mut fills);
    assert_eq!(trades(&fills), vec![(2, 10, 100)]);
    assert_eq!(s.end, MatchEnd::NoLiquidity);
    assert_eq!(book.order_count(), 0);
    assert_eq!(book.level_count(Side::Buy), 0);
    book.check().unwrap();
}

#[test]
fn cancel_unlinks_from_anywhere_and_drops_empty_levels() {
    let mut book = Book::new();
    for id in 1..=4 {
        book.rest(order(id, 1, Side::Sell, 50 + (id as i64 % 2), 10))
            .unwrap();
    }
    assert_eq!(book.cancel(3).unwrap(), order(3, 1, Side::Sell, 51, 10));
    assert_eq!(book.cancel(3), None);
    assert_eq!(book.cancel(1).unwrap().price_ticks, 51);
    assert_eq!(book.level_count(Side::Sell), 1);
    assert_eq!(book.cancel(4).unwrap().price_ticks, 50);
    let ids: Vec<u64> = book.iter_side(Side::Sell).map(|o| o.id).collect();
    assert_eq!(ids, vec![2]);
    book.check().unwrap();
    book.rest(order(5, 1, Side::Sell, 50, 1)).unwrap();
    let ids: Vec<u64> = book.iter_side(Side::Sell).map(|o| o.id).collect();
    assert_eq!(ids, vec![2, 5]);
    book.check().unwrap();
}

#[test]
fn self_trade_prevention_modes() {
    let setup = || {
        let mut book = Book::new();
        book.rest(order(1, 7, Side::Sell, 100, 2)).unwrap();
        book.rest(order(2, 8, Side::Sell, 100, 3)).unwrap();
        book
    };
    let mut fills = Vec::new();

    let mut book = setup();
    let s = book.match_order(
        &taker(Side::Buy, 7, Some(100), 4, StpMode::CancelMaker),
        &mut fills,
    );
    assert_eq!(fills[0].kind, FillKind::SelfTradeCancel);
    assert_eq!((fills[0].maker_id, fills[0].qty_lots), (1, 2));
    assert_eq!(trades(&fills[1..]), vec![(2, 100, 3)]);
    assert_eq!(s.filled_lots, 3);
    assert_eq!(s.end, MatchEnd::NoLiquidity);
    book.check().unwrap();

    fills.clear();
    let mut book = setup();
    let s = book.match_order(
        &taker(Side::Buy, 7, Some(100), 4, StpMode::CancelTaker),
        &mut fills,
    );
    assert!(fills.is_empty());
    assert_eq!(s.end, MatchEnd::SelfTrade);
    assert_eq!(book.order_count(), 2);

    let mut book = setup();
    let s = book.match_order(
        &taker(Side::Buy, 7, Some(100), 4, StpMode::CancelBoth),
        &mut fills,
    );
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].kind, FillKind::SelfTradeCancel);
    assert_eq!(s.end, MatchEnd::SelfTrade);
    assert_eq!(book.order_count(), 1);

    fills.clear();
    let mut book = setup();
    let s = book.match_order(
        &taker(Side::Buy, 7, Some(100), 4, StpMode::None),
        &mut fills,
    );
    assert_eq!(trades(&fills), vec![(1, 100, 2), (2, 100, 2)]);
    assert_eq!(s.end, MatchEnd::Complete);
}

#[test]
fn fill_or_kill_check_respects_stp() {
    let mut book = Book::new();
    book.rest(order(1, 7, Side::Sell, 100, 2)).unwrap();
    book.rest(order(2, 8, Side::Sell, 101, 3)).unwrap();
    assert!(book.can_fill(&taker(Side::Buy, 9, Some(101), 5, StpMode::CancelMaker)));
    assert!(!book.can_fill(&taker(Side::Buy, 9, Some(100), 3, StpMode::CancelMaker)));
    assert!(book.can_fill(&taker(Side::Buy, 7, Some(101), 5, StpMode::None)));
    assert!(!book.can_fill(&taker(Side::Buy, 7, Some(101), 4, StpMode::CancelMaker)));
    assert!(book.can_fill(&taker(Side::Buy, 7, Some(101), 3, StpMode::CancelMaker)));
    assert!(!book.can_fill(&taker(Side::Buy, 7, Some(101), 1, StpMode::CancelTaker)));
    assert!(book.can_fill(&taker(Side::Buy, 7, None, 0, StpMode::CancelTaker)));
}

#[test]
fn budget_buys_whole_lots_level_by_level() {
    let mut book = Book::new();
    book.rest(order(1, 1, Side::Sell, 10, 3)).unwrap();
    book.rest(order(2, 1, Side::Sell, 12, 5)).unwrap();
    let mut fills = Vec::new();
    let t = Taker {
        side: Side::Buy,
        owner: 2,
        limit_price_ticks: None,
        qty_lots: i64::MAX,
        budget: Some(QuoteBudget {
            quote_units: 700,
            quote_units_per_tick_lot: 10,
        }),
        stp: StpMode::None,
    };
    // 3 lots at 100 each = 300, then 400 / 120 = 3 lots at 120 = 360, 40 left.
    let s = book.match_order(&t, &mut fills);
    assert_eq!(trades(&fills), vec![(1, 10, 3), (2, 12, 3)]);
    assert_eq!(
        s,
        MatchSummary {
            filled_lots: 6,
            budget_left_units: 40,
            end: MatchEnd::BudgetExhausted
        }
    );
    assert_eq!(book.get(2).unwrap().qty_lots, 2);
    book.check().unwrap();
}

#[test]
fn refuses_levels_beyond_the_limit_without_change() {
    let mut book = Book::with_limits(2, 0);
    book.rest(order(1, 1, Side::Buy, 10, 1)).unwrap();
    book.rest(order(2, 1, Side::Buy, 11, 1)).unwrap();
    book.rest(order(3, 1, Side::Buy, 11, 1)).unwrap();
    assert!(book.level_limit_reached(Side::Buy, 12));
    assert!(!book.level_limit_reached(Side::Buy, 10));
    assert_eq!(
        book.rest(order(4, 1, Side::Buy, 12, 1)),
        Err(BookError::TooManyPriceLevels { max: 2 })
    );
    let mut fills = Vec::new();
    assert_eq!(
        book.place_limit(order(4, 1, Side::Buy, 9, 1), StpMode::None, &mut fills),
        Err(BookError::TooManyPriceLevels { max: 2 })
    );
    assert_eq!(book.order_count(), 3);
    book.rest(order(5, 1, Side::Sell, 20, 1)).unwrap();
    book.check().unwrap();
}

#[test]
fn place_limit_matches_then_rests_the_rest() {
    let mut book = Book::new();
    book.rest(order(1, 1, Side::Sell, 100, 2)).unwrap();
    let mut fills = Vec::new();
    let s = book
        .place_limit(order(2, 2, Side::Buy, 101, 5), StpMode::None, &mut fills)
        .unwrap();
    assert_eq!(s.filled_lots, 2);
    assert_eq!(book.get(2).unwrap().qty_lots, 3);
    assert_eq!(book.best_bid(), Some(101));
    assert_eq!(book.best_ask(), None);
    book.check().unwrap();
}

#[test]
fn slab_slots_are_reused() {
    let mut book = Book::new();
    for round in 0..3_u64 {
        for i in 0..100 {
            book.rest(order(
                round * 1000 + i,
                1,
                Side::Buy,
                100 + (i as i64 % 7),
                1,
            ))
            .unwrap();
        }
        for i in 0..100 {
            book.cancel(round * 1000 + i).unwrap();
        }
    }
    assert_eq!(book.store.nodes.nodes.len(), 100);
    assert_eq!(book.store.levels.levels.len(), 7);
    book.check().unwrap();
}

#[test]
fn nodes_are_32_bytes() {
    assert_eq!(std::mem::size_of::<Node>(), 32);
}

#[test]
fn an_unindexed_book_works_by_handle_and_still_answers_by_id() {
    let mut book = Book::unindexed(BOOK_PRICE_LEVELS_MAX, 4);
    let a = book.rest_handle(order(1, 1, Side::Buy, 100, 5)).unwrap();
    let b = book.rest_handle(order(2, 1, Side::Buy, 90, 5)).unwrap();
    book.rest_handle(order(3, 1, Side::Buy, 80, 5)).unwrap();
    assert_eq!(book.get_handle(b), Some(order(2, 1, Side::Buy, 90, 5)));
    assert!(book.contains(3) && !book.contains(4));
    assert_eq!(book.get(1), book.get_handle(a));
    // A middle level empties: it leaves the ladder and its handle is reused.
    assert_eq!(book.cancel_handle(b).unwrap().id, 2);
    assert_eq!(book.cancel_handle(b), None);
    assert_eq!(book.depth(Side::Buy, 5), vec![(100, 5), (80, 5)]);
    book.check().unwrap();
    book.rest_handle(order(4, 1, Side::Buy, 95, 1)).unwrap();
    assert_eq!(book.store.levels.levels.len(), 3);
    assert_eq!(book.cancel(3).unwrap().price_ticks, 80);
    let mut fills = Vec::new();
    book.match_order(&taker(Side::Sell, 2, None, 5, StpMode::None), &mut fills);
    assert_eq!(fills[0].maker_handle, a);
    assert_eq!(book.get_handle(a), None);
    assert_eq!(book.order_count(), 1);
    book.check().unwrap();
}

/// A deliberately naive book: a list of orders with arrival numbers.
#[derive(Default)]
struct Reference {
    orders: Vec<(u64, RestingOrder)>,
    arrivals: u64,
}

impl Reference {
    fn best_index(&self, side: Side) -> Option<usize> {
        let better = |a: &RestingOrder, b: &RestingOrder| match side {
            Side::Buy => a.price_ticks > b.price_ticks,
            Side::Sell => a.price_ticks < b.price_ticks,
        };
        let mut best: Option<usize> = None;
        for (i, (seq, o)) in self.orders.iter().enumerate() {
            if o.side != side {
                continue;
            }
            best = match best {
                None => Some(i),
                Some(b) => {
                    let (bseq, bo) = &self.orders[b];
                    if better(o, bo) || (o.price_ticks == bo.price_ticks && seq < bseq) {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
            };
        }
        best
    }

    fn take(&mut self, t: &Taker) -> Vec<(u64, i64, i64)> {
        let mut out = Vec::new();
        let mut left = t.qty_lots;
        while left > 0 {
            let Some(i) = self.best_index(t.side.opposite()) else {
                break;
            };
            let o = &mut self.orders[i].1;
            let crosses = match (t.limit_price_ticks, t.side) {
                (None, _) => true,
                (Some(l), Side::Buy) => o.price_ticks <= l,
                (Some(l), Side::Sell) => o.price_ticks >= l,
            };
            if !crosses {
                break;
            }
            let q = left.min(o.qty_lots);
            out.push((o.id, o.price_ticks, q));
            o.qty_lots -= q;
            left -= q;
            if o.qty_lots == 0 {
                self.orders.remove(i);
            }
        }
        out
    }

    fn depth(&self, side: Side) -> Vec<(i64, i64)> {
        let mut levels: Vec<(i64, i64)> = Vec::new();
        for (_, o) in self.orders.iter().filter(|(_, o)| o.side == side) {
            match levels.iter_mut().find(|(p, _)| *p == o.price_ticks) {
                Some(l) => l.1 += o.qty_lots,
                None => levels.push((o.price_ticks, o.qty_lots)),
            }
        }
        levels.sort_by_key(|&(p, _)| if side == Side::Buy { -p } else { p });
        levels
    }
}

#[derive(Clone, Debug)]
enum Op {
    Limit { buy: bool, price: i64, qty: i64 },
    Market { buy: bool, qty: i64 },
    Cancel { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    // Dense prices near 100, and now and then a far one, so that levels also open and empty
    // away from the touch.
    let price = prop_oneof![9 => 90_i64..110, 1 => 1_i64..5_000];
    prop_oneof![
        5 => (any::<bool>(), price, 1_i64..20).prop_map(|(buy, price, qty)| Op::Limit { buy, price, qty }),
        1 => (any::<bool>(), 1_i64..60).prop_map(|(buy, qty)| Op::Market { buy, qty }),
        3 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
    ]
}

/// An unindexed book driven by handles, the way the engine drives it, next to the indexed one.
struct Twin {
    book: Book,
    handles: std::collections::HashMap<u64, OrderHandle>,
    fills: Vec<Fill>,
}

impl Twin {
    fn new() -> Twin {
        Twin {
            book: Book::unindexed(BOOK_PRICE_LEVELS_MAX, 0),
            handles: std::collections::HashMap::new(),
            fills: Vec::new(),
        }
    }

    fn take(&mut self, t: &Taker) -> i64 {
        self.fills.clear();
        let s = self.book.match_order(t, &mut self.fills);
        for f in self.fills.iter().filter(|f| f.maker_done()) {
            self.handles.remove(&f.maker_id);
        }
        s.filled_lots
    }

    fn limit(&mut self, o: RestingOrder) {
        let filled = self.take(&taker(
            o.side,
            o.owner,
            Some(o.price_ticks),
            o.qty_lots,
            StpMode::None,
        ));
        if filled < o.qty_lots {
            let h = self
                .book
                .rest_handle(RestingOrder {
                    qty_lots: o.qty_lots - filled,
                    ..o
                })
                .unwrap();
            self.handles.insert(o.id, h);
        }
    }

    fn cancel(&mut self, id: u64) -> Option<RestingOrder> {
        let h = self.handles.remove(&id)?;
        assert_eq!(self.book.get_handle(h).map(|o| o.id), Some(id));
        let removed = self.book.cancel_handle(h);
        assert_eq!(self.book.get_handle(h), None);
        removed
    }
}

proptest! {
    #[test]
    fn agrees_with_a_naive_reference(ops in prop::collection::vec(op(), 1..200)) {
        let mut book = Book::new();
        let mut twin = Twin::new();
        let mut reference = Reference::default();
        let mut fills = Vec::new();
        let mut next_id = 1_u64;
        for op in ops {
            fills.clear();
            match op {
                Op::Limit { buy, price, qty } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let o = order(next_id, 1, side, price, qty);
                    next_id += 1;
                    let s = book.place_limit(o, StpMode::None, &mut fills).unwrap();
                    twin.limit(o);
                    prop_assert_eq!(&twin.fills, &fills);
                    let expected = reference.take(&taker(side, 1, Some(price), qty, StpMode::None));
                    prop_assert_eq!(trades(&fills), expected);
                    let left = qty - s.filled_lots;
                    if left > 0 {
                        reference.arrivals += 1;
                        reference.orders.push((reference.arrivals, RestingOrder { qty_lots: left, ..o }));
                    }
                }
                Op::Market { buy, qty } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let t = taker(side, 1, None, qty, StpMode::None);
                    book.match_order(&t, &mut fills);
                    twin.take(&t);
                    prop_assert_eq!(&twin.fills, &fills);
                    prop_assert_eq!(trades(&fills), reference.take(&t));
                }
                Op::Cancel { pick } => {
                    if reference.orders.is_empty() {
                        prop_assert_eq!(book.cancel(next_id + 5), None);
                    } else {
                        let (_, o) = reference.orders.remove(pick % reference.orders.len());
                        prop_assert_eq!(book.cancel(o.id), Some(o));
                        prop_assert_eq!(twin.cancel(o.id), Some(o));
                    }
                }
            }
            prop_assert_eq!(book.depth(Side::Buy, usize::MAX), reference.depth(Side::Buy));
            prop_assert_eq!(book.depth(Side::Sell, usize::MAX), reference.depth(Side::Sell));
            prop_assert_eq!(book.order_count(), reference.orders.len());
            prop_assert!(book.check().is_ok(), "{:?}", book.check());
            prop_assert_eq!(twin.book.depth(Side::Buy, usize::MAX), reference.depth(Side::Buy));
            prop_assert_eq!(twin.book.depth(Side::Sell, usize::MAX), reference.depth(Side::Sell));
            prop_assert!(twin.book.check().is_ok(), "{:?}", twin.book.check());
        }
    }
}
