//! Unit tests of stop orders: holds, firing on the last trade price, cascades, cancels and
//! refusals, with exact balances and event order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bulwark_types::{OrderId, Side, UserId};

use super::tests::{BTC, BTC_USDT, Harness, USDT, new_order};
use super::*;
use crate::command::{NewOrder, NewTrigger, OrderTarget};
use crate::event::{TriggerDirection, TriggerState, TriggerView};
use crate::reject::Accepted;

const A: UserId = UserId(1);
const B: UserId = UserId(2);
const C: UserId = UserId(3);

/// A, B and C funded; one trade of 1 lot at 10,000 ticks sets the last price.
fn traded() -> Harness {
    let mut h = Harness::new();
    for user in [A, B, C] {
        h.deposit(user, BTC, 1_000_000_000);
        h.deposit(user, USDT, 1_000_000_000);
    }
    h.order_id(new_order(A, Side::Sell, OrderKind::Limit, 10_000, 1));
    h.order_id(new_order(B, Side::Buy, OrderKind::Limit, 10_000, 1));
    assert_eq!(h.e.last_price_ticks(BTC_USDT), Some(10_000));
    h
}

fn stop(order: NewOrder, trigger_price_ticks: i64) -> Command {
    Command::PlaceTrigger(NewTrigger {
        order,
        trigger_price_ticks,
    })
}

fn trigger_id(h: &mut Harness, order: NewOrder, trigger: i64) -> OrderId {
    match h.run(stop(order, trigger)) {
        Ok(Accepted::Trigger { id }) => id,
        other => panic!("stop order refused: {other:?}"),
    }
}

fn trigger_events(h: &Harness) -> Vec<TriggerView> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::Trigger(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_stop_order_needs_a_last_price_and_a_valid_trigger() {
    let mut h = Harness::new();
    h.deposit(A, BTC, 1_000_000);
    let sell = new_order(A, Side::Sell, OrderKind::Limit, 9_000, 1);
    assert_eq!(h.refused(stop(sell.clone(), 9_500)), Reject::NoLastPrice);
    let mut h = traded();
    assert!(matches!(
        h.refused(stop(sell.clone(), 0)),
        Reject::TriggerPriceInvalid { .. }
    ));
    assert!(matches!(
        h.refused(stop(sell.clone(), 1_000_000_001)),
        Reject::TriggerPriceInvalid { .. }
    ));
    let mut big = sell;
    big.size_lots = 1_000_000;
    big.user = UserId(9);
    assert!(matches!(
        h.refused(stop(big, 9_500)),
        Reject::InsufficientFunds { .. }
    ));
}

#[test]
fn a_stop_loss_holds_its_funds_and_fires_when_the_price_falls_to_it() {
    let mut h = traded();
    let before = h.bal(C, BTC);
    let id = trigger_id(
        &mut h,
        new_order(C, Side::Sell, OrderKind::Limit, 9_400, 5),
        9_500,
    );
    // 5 lots of 10^4 satoshi held from acceptance.
    assert_eq!(h.bal(C, BTC), (before.0 - 50_000, before.1 + 50_000));
    let waiting = trigger_events(&h);
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].state, TriggerState::Waiting);
    assert_eq!(waiting[0].direction, TriggerDirection::Fall);
    // A bid at 9,400 and a trade above the trigger: nothing fires.
    h.order_id(new_order(B, Side::Buy, OrderKind::Limit, 9_400, 10));
    h.order_id(new_order(A, Side::Sell, OrderKind::Limit, 9_600, 1));
    h.order_id(new_order(B, Side::Buy, OrderKind::Limit, 9_600, 1));
    assert!(trigger_events(&h).is_empty());
    assert_eq!(h.e.waiting_triggers(None).len(), 1);
    // A trade at 9,500 fires it in the same command: it sells 5 lots into the 9,400 bid.
    h.order_id(new_order(A, Side::Sell, OrderKind::Limit, 9_500, 1));
    let taker = h.order_id(new_order(B, Side::Buy, OrderKind::Limit, 9_500, 1));
    let fired = trigger_events(&h);
    assert_eq!(fired.len(), 1);
    let TriggerState::Triggered(placed) = fired[0].state else {
        panic!("not triggered: {:?}", fired[0]);
    };
    assert_eq!(fired[0].id, id);
    assert!(placed > taker);
    // The stop order's event comes right after the trade that made it due, then its order.
    let kinds: Vec<&str> = h
        .events
        .iter()
        .map(|e| match e {
            Event::Order(_) => "order",
            Event::Trade(_) => "trade",
            Event::Trigger(_) => "trigger",
            _ => "other",
        })
        .filter(|k| *k != "other")
        .collect();
    assert_eq!(
        kinds,
        [
            "order", "order", "trade", "trigger", "order", "order", "trade"
        ]
    );
    let trades = h.trade_events();
    assert_eq!(trades.len(), 2);
    assert_eq!(
        (
            trades[1].taker_order,
            trades[1].price_ticks,
            trades[1].size_lots
        ),
        (placed, 9_400, 5)
    );
    // Nothing is held any more for C: the hold paid for the fill.
    assert_eq!(h.bal(C, BTC), (before.0 - 50_000, before.1));
    assert!(h.e.waiting_triggers(None).is_empty());
    assert_eq!(h.e.last_price_ticks(BTC_USDT), Some(9_400));
}

#[test]
fn one_firing_can_make_the_next_stop_order_due() {
    let mut h = traded();
    // Bids at 9,000 and 8,000; stop sells at 9,500 (sells into 9,000) and 9,000 (into 8,000).
    h.order_id(new_order(B, Side::Buy, OrderKind::Limit, 9_000, 1));
    h.order_id(new_order(B, Side::Buy, OrderKind::Limit, 8_000, 1));
    let first = trigger_id(
        &mut h,
        new_order(C, Side::Sell, OrderKind::Market, 0, 1),
        9_500,
    );
    let second = trigger_id(
        &mut h,
        new_order(A, Side::Sell, OrderKind::Market, 0, 1),
        9_000,
    );
    h.order_id(new_order(A, Side::Sell, OrderKind::Limit, 9_500, 1));
    h.order_id(new_order(B, Side::Buy, OrderKind::Limit, 9_500, 1));
    let fired: Vec<OrderId> = trigger_events(&h).iter().map(|t| t.id).collect();
    assert_eq!(fired, [first, second]);
    let prices: Vec<i64> = h.trade_events().iter().map(|t| t.price_ticks).collect();
    assert_eq!(prices, [9_500, 9_000, 8_000]);
}

#[test]
fn a_stop_order_at_the_last_price_fires_at_once() {
    let mut h = traded();
    h.order_id(new_order(A, Side::Sell, OrderKind::Limit, 10_100, 3));
    let id = trigger_id(
        &mut h,
        new_order(C, Side::Buy, OrderKind::Limit, 10_100, 2),
        10_000,
    );
    let events = trigger_events(&h);
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0].id, &events[0].state),
        (id, &TriggerState::Waiting)
    );
    assert!(matches!(events[1].state, TriggerState::Triggered(_)));
    assert_eq!(h.trade_events()[0].size_lots, 2);
}

#[test]
fn cancelling_releases_the_hold_and_only_the_owner_may() {
    let mut h = traded();
    let before = h.bal(C, USDT);
    let mut buy = new_order(C, Side::Buy, OrderKind::Limit, 10_600, 2);
    buy.client_order_id = Some("stop1".parse().unwrap());
    let id = trigger_id(&mut h, buy.clone(), 10_500);
    assert_eq!(h.bal(C, USDT), (before.0 - 21_200, 21_200));
    // The client id is taken by the waiting stop order, for orders and stop orders alike.
    let mut clash = new_order(C, Side::Buy, OrderKind::Limit, 9_000, 1);
    clash.client_order_id = Some("stop1".parse().unwrap());
    assert_eq!(
        h.refused(Command::PlaceOrder(clash.clone())),
        Reject::DuplicateClientOrderId
    );
    assert_eq!(
        h.refused(stop(clash, 9_000)),
        Reject::DuplicateClientOrderId
    );
    // Another user cannot cancel it, by id or by client id.
    for target in [
        OrderTarget::Id(id),
        OrderTarget::Client("stop1".parse().unwrap()),
    ] {
        assert_eq!(
            h.refused(Command::CancelTrigger { user: A, target }),
            Reject::TriggerNotFound
        );
    }
    // An order id is not a stop order id.
    assert_eq!(
        h.refused(Command::CancelTrigger {
            user: C,
            target: OrderTarget::Id(OrderId(1)),
        }),
        Reject::TriggerNotFound
    );
    assert_eq!(
        h.run(Command::CancelTrigger {
            user: C,
            target: OrderTarget::Client("stop1".parse().unwrap()),
        }),
        Ok(Accepted::Cancelled { id })
    );
    assert_eq!(trigger_events(&h)[0].state, TriggerState::Canceled);
    assert_eq!(h.bal(C, USDT), before);
    // Cancel-all by market.
    trigger_id(&mut h, buy.clone(), 10_500);
    trigger_id(
        &mut h,
        new_order(C, Side::Sell, OrderKind::Limit, 9_000, 1),
        9_500,
    );
    assert_eq!(
        h.run(Command::CancelAllTriggers {
            user: C,
            market: Some(BTC_USDT),
        }),
        Ok(Accepted::CancelledAll { count: 2 })
    );
    assert_eq!(h.bal(C, USDT), before);
    assert!(h.e.waiting_triggers(Some(C)).is_empty());
}

#[test]
fn a_firing_whose_order_is_refused_fails_and_releases_the_hold() {
    let mut h = traded();
    // A post-only buy that would cross the ask at 10,100 once it fires.
    h.order_id(new_order(A, Side::Sell, OrderKind::Limit, 10_100, 1));
    let before = h.bal(C, USDT);
    let id = trigger_id(
        &mut h,
        new_order(C, Side::Buy, OrderKind::PostOnly, 10_200, 1),
        10_050,
    );
    h.order_id(new_order(A, Side::Sell, OrderKind::Limit, 10_050, 1));
    h.order_id(new_order(B, Side::Buy, OrderKind::Limit, 10_050, 1));
    let events = trigger_events(&h);
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].id, &events[0].state),
        (id, &TriggerState::Failed(Reject::PostOnlyWouldTake))
    );
    assert_eq!(h.bal(C, USDT), before);
}

#[test]
fn waiting_stop_orders_survive_a_snapshot() {
    let mut h = traded();
    let mut sell = new_order(C, Side::Sell, OrderKind::Limit, 9_000, 2);
    sell.client_order_id = Some("sl".parse().unwrap());
    trigger_id(&mut h, sell, 9_500);
    let restored = Engine::decode_snapshot(&h.e.encode_snapshot()).unwrap();
    assert_eq!(restored.state_hash(), h.e.state_hash());
    assert_eq!(restored.waiting_triggers(None), h.e.waiting_triggers(None));
    assert_eq!(restored.last_price_ticks(BTC_USDT), Some(10_000));
}
