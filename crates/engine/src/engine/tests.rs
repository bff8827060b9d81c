//! Unit tests of the engine rules, with exact expected balances, fees and events.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bulwark_types::{CommandId, OrderId, Side, UserId};

use super::*;
use crate::command::{NewOrder, OrderTarget, TopUpSource};
use crate::event::SystemAccount;
use crate::reject::Accepted;
use crate::spec::AssetSpec;

pub(crate) const BTC: AssetId = AssetId(0);
pub(crate) const USDT: AssetId = AssetId(1);
pub(crate) const ETH: AssetId = AssetId(2);
pub(crate) const BTC_USDT: MarketId = MarketId(0);
pub(crate) const ETH_USDT: MarketId = MarketId(1);
const A: UserId = UserId(1);
const B: UserId = UserId(2);
const C: UserId = UserId(3);

/// BTC (8 decimals) and USDT (6); BTC_USDT with price step 0.01 and size step 0.0001, so one
/// lot at one tick is exactly one USDT unit and a lot is 10^4 satoshi. Maker 0.1 %, taker 0.2 %.
pub(crate) fn market_spec(symbol: &str, base: AssetId) -> MarketSpec {
    MarketSpec {
        symbol: symbol.into(),
        base,
        quote: USDT,
        price_scale: 2,
        size_scale: 4,
        min_size_lots: 1,
        max_size_lots: 100_000_000,
        max_price_ticks: 1_000_000_000,
        min_notional: 1_000,
        maker_fee_ppm: 1_000,
        taker_fee_ppm: 2_000,
    }
}

pub(crate) fn asset(code: &str, scale: u32) -> AssetSpec {
    AssetSpec {
        code: code.into(),
        name: code.into(),
        scale,
    }
}

/// Drives an engine with consecutive sequence numbers and checks invariants after each command.
pub(crate) struct Harness {
    pub(crate) e: Engine,
    pub(crate) seq: u64,
    pub(crate) events: Vec<Event>,
}

pub(crate) fn command_id(n: u64) -> CommandId {
    let mut id = [0_u8; 16];
    id[..8].copy_from_slice(&n.to_le_bytes());
    CommandId(id)
}

impl Harness {
    pub(crate) fn empty() -> Harness {
        Harness {
            e: Engine::new(),
            seq: 0,
            events: Vec::new(),
        }
    }

    pub(crate) fn new() -> Harness {
        let mut h = Harness::empty();
        h.ok(Command::AddAsset(asset("BTC", 8)));
        h.ok(Command::AddAsset(asset("USDT", 6)));
        h.ok(Command::AddAsset(asset("ETH", 8)));
        h.ok(Command::AddMarket(market_spec("BTC_USDT", BTC)));
        h.ok(Command::AddMarket(market_spec("ETH_USDT", ETH)));
        h
    }

    pub(crate) fn with_id(&mut self, id: CommandId, command: Command) -> Outcome {
        self.seq += 1;
        self.events.clear();
        let header = CommandHeader {
            seq: self.seq,
            timestamp_ms: 1_000 + self.seq as i64,
            id,
        };
        let outcome = self.e.apply(&header, &command, &mut self.events);
        self.e.check_invariants().unwrap();
        if outcome.is_err() {
            assert!(self.events.is_empty());
        }
        outcome
    }

    pub(crate) fn run(&mut self, command: Command) -> Outcome {
        self.with_id(command_id(self.seq + 1), command)
    }

    pub(crate) fn ok(&mut self, command: Command) -> Accepted {
        let outcome = self.run(command.clone());
        outcome.unwrap_or_else(|r| panic!("{command:?} rejected: {r:?}"))
    }

    /// Runs a command that must be refused, and checks it changed nothing but the window.
    pub(crate) fn refused(&mut self, command: Command) -> Reject {
        let before = core_hash(&self.e);
        let reject = self
            .run(command.clone())
            .expect_err("command should be refused");
        assert_eq!(core_hash(&self.e), before, "{command:?} changed state");
        reject
    }

    pub(crate) fn deposit(&mut self, user: UserId, asset: AssetId, amount: i64) {
        let reference = format!("dep-{}", self.seq);
        self.ok(Command::Deposit {
            user,
            asset,
            amount,
            reference,
        });
    }

    pub(crate) fn place(&mut self, order: NewOrder) -> Outcome {
        self.run(Command::PlaceOrder(order))
    }

    pub(crate) fn order_id(&mut self, order: NewOrder) -> OrderId {
        match self.place(order.clone()) {
            Ok(Accepted::Order { id }) => id,
            other => panic!("{order:?}: {other:?}"),
        }
    }

    pub(crate) fn bal(&self, user: UserId, asset: AssetId) -> (i64, i64) {
        self.e.balance(user, asset)
    }

    pub(crate) fn order_events(&self) -> Vec<OrderView> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Order(v) => Some(v.clone()),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn trade_events(&self) -> Vec<TradeView> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Trade(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }
}

/// State hash ignoring the idempotency window and `last_seq`, which a refused command does
/// change (the journal holds it).
pub(crate) fn core_hash(e: &Engine) -> [u8; 32] {
    let mut c = e.clone();
    c.window = IdempotencyWindow::new(0);
    c.last_seq = 0;
    c.state_hash()
}

pub(crate) fn new_order(
    user: UserId,
    side: Side,
    kind: OrderKind,
    price_ticks: i64,
    size_lots: i64,
) -> NewOrder {
    NewOrder {
        user,
        market: BTC_USDT,
        side,
        kind,
        price_ticks,
        size_lots,
        notional: 0,
        client_order_id: None,
        stp: StpMode::DEFAULT,
    }
}

fn limit(user: UserId, side: Side, price_ticks: i64, size_lots: i64) -> NewOrder {
    new_order(user, side, OrderKind::Limit, price_ticks, size_lots)
}

fn market_buy(user: UserId, notional: i64) -> NewOrder {
    NewOrder {
        notional,
        ..new_order(user, Side::Buy, OrderKind::Market, 0, 0)
    }
}

/// A and B funded with 1,000 USDT and 1 BTC each.
fn funded() -> Harness {
    let mut h = Harness::new();
    for user in [A, B, C] {
        h.deposit(user, USDT, 1_000_000_000);
        h.deposit(user, BTC, 100_000_000);
    }
    h
}

#[test]
fn limit_order_rests_and_holds_its_value() {
    let mut h = funded();
    let id = h.order_id(limit(A, Side::Buy, 3_000_000, 10));
    assert_eq!(id, OrderId(1));
    assert_eq!(h.bal(A, USDT), (970_000_000, 30_000_000));
    let views = h.order_events();
    assert_eq!(views.len(), 1);
    assert_eq!(
        (views[0].state, views[0].filled_lots, views[0].created_ms),
        (OrderState::New, 0, 1_000 + h.seq as i64)
    );
    assert_eq!(
        h.events[1],
        Event::Balance {
            user: A,
            asset: USDT,
            available: 970_000_000,
            held: 30_000_000
        }
    );
    assert_eq!(h.events.len(), 2);
    let sell = h.order_id(limit(B, Side::Sell, 3_100_000, 5));
    assert_eq!(h.bal(B, BTC), (100_000_000 - 50_000, 50_000));
    assert_eq!(
        h.e.best_bid_ask(BTC_USDT),
        Some((Some(3_000_000), Some(3_100_000)))
    );
    assert_eq!(h.e.open_orders(A, None).len(), 1);
    assert_eq!(h.e.order(sell).unwrap().size_lots, 5);
}

#[test]
fn trade_at_maker_price_with_exact_fees() {
    let mut h = funded();
    let maker = h.order_id(limit(B, Side::Sell, 3_000_000, 10));
    let taker = h.order_id(limit(A, Side::Buy, 3_100_000, 4));
    // 4 lots at 30000.00: 12 USDT = 12_000_000 units; 0.0004 BTC = 40_000 sat.
    // Taker (buyer) fee 0.2 % of 40_000 sat = 80, Safeguard 8. Maker fee 0.1 % of 12 USDT = 12_000, Safeguard 1_200.
    let views = h.order_events();
    assert_eq!(views[0].id, taker);
    assert_eq!(
        (
            views[0].state,
            views[0].filled_lots,
            views[0].filled_quote,
            views[0].fee_paid
        ),
        (OrderState::Filled, 4, 12_000_000, 80)
    );
    assert_eq!(views[1].id, maker);
    assert_eq!(
        (views[1].state, views[1].filled_lots, views[1].fee_paid),
        (OrderState::PartiallyFilled, 4, 12_000)
    );
    let trades = h.trade_events();
    assert_eq!(trades.len(), 1);
    let t = &trades[0];
    assert_eq!(
        (t.price_ticks, t.size_lots, t.quote_amount, t.taker_side),
        (3_000_000, 4, 12_000_000, Side::Buy)
    );
    assert_eq!(
        (
            t.maker_fee,
            t.maker_fee_asset,
            t.taker_fee,
            t.taker_fee_asset
        ),
        (12_000, USDT, 80, BTC)
    );
    assert_eq!(
        (t.maker_order, t.taker_order, t.maker_user, t.taker_user),
        (maker, taker, B, A)
    );
    assert_eq!(h.bal(A, USDT), (1_000_000_000 - 12_000_000, 0));
    assert_eq!(h.bal(A, BTC), (100_000_000 + 39_920, 0));
    assert_eq!(h.bal(B, USDT), (1_000_000_000 + 11_988_000, 0));
    assert_eq!(h.bal(B, BTC), (100_000_000 - 100_000, 60_000));
    assert_eq!(h.e.system_balance(BTC, SystemAccount::FeeRevenue), 72);
    assert_eq!(h.e.system_balance(BTC, SystemAccount::Safeguard), 8);
    assert_eq!(h.e.system_balance(USDT, SystemAccount::FeeRevenue), 10_800);
    assert_eq!(h.e.system_balance(USDT, SystemAccount::Safeguard), 1_200);
    let tail: Vec<Event> = h.events[3..].to_vec();
    assert_eq!(
        tail,
        vec![
            Event::Balance {
                user: A,
                asset: BTC,
                available: 100_039_920,
                held: 0
            },
            Event::Balance {
                user: A,
                asset: USDT,
                available: 988_000_000,
                held: 0
            },
            Event::Balance {
                user: B,
                asset: BTC,
                available: 99_900_000,
                held: 60_000
            },
            Event::Balance {
                user: B,
                asset: USDT,
                available: 1_011_988_000,
                held: 0
            },
            Event::System {
                asset: BTC,
                account: SystemAccount::FeeRevenue,
                balance: 72
            },
            Event::System {
                asset: BTC,
                account: SystemAccount::Safeguard,
                balance: 8
            },
            Event::System {
                asset: USDT,
                account: SystemAccount::FeeRevenue,
                balance: 10_800
            },
            Event::System {
                asset: USDT,
                account: SystemAccount::Safeguard,
                balance: 1_200
            },
        ]
    );
}

#[test]
fn fees_round_up_and_the_fund_share_rounds_down() {
    let mut h = funded();
    h.ok(Command::SetSafeguardShare { share_bps: 2_500 });
    assert_eq!(
        h.events,
        vec![Event::SafeguardShareSet { share_bps: 2_500 }]
    );
    h.order_id(limit(B, Side::Buy, 3_000_001, 1));
    h.order_id(limit(A, Side::Sell, 3_000_000, 1));
    // Taker A sells and receives 3_000_001 quote units: fee ceil(6_000.002) = 6_001, fund floor(1_500.25) = 1_500.
    // Maker B buys and receives 10_000 sat: fee 10 exactly, fund floor(2.5) = 2.
    let t = &h.trade_events()[0];
    assert_eq!((t.taker_fee, t.maker_fee), (6_001, 10));
    assert_eq!(h.e.system_balance(USDT, SystemAccount::Safeguard), 1_500);
    assert_eq!(h.e.system_balance(USDT, SystemAccount::FeeRevenue), 4_501);
    assert_eq!(h.e.system_balance(BTC, SystemAccount::Safeguard), 2);
    assert_eq!(h.e.system_balance(BTC, SystemAccount::FeeRevenue), 8);
    assert_eq!(h.bal(A, USDT).0, 1_000_000_000 + 3_000_001 - 6_001);
    assert_eq!(
        h.refused(Command::SetSafeguardShare { share_bps: 10_001 }),
        Reject::InvalidSpec("share_bps must be at most 10000".into())
    );
}

#[test]
fn taker_buy_below_its_limit_gets_the_difference_back_and_rests_the_rest() {
    let mut h = funded();
    h.order_id(limit(B, Side::Sell, 2_900_000, 2));
    h.order_id(limit(B, Side::Sell, 2_950_000, 1));
    let id = h.order_id(limit(A, Side::Buy, 3_000_000, 5));
    // Spent 2 * 2_900_000 + 2_950_000 = 8_750_000; 2 lots rest at 3_000_000 = 6_000_000 held.
    assert_eq!(
        h.bal(A, USDT),
        (1_000_000_000 - 8_750_000 - 6_000_000, 6_000_000)
    );
    let view = h.e.order(id).unwrap();
    assert_eq!(
        (view.state, view.filled_lots, view.filled_quote),
        (OrderState::PartiallyFilled, 3, 8_750_000)
    );
    assert_eq!(h.trade_events().len(), 2);
    assert_eq!(
        h.e.depth(BTC_USDT, 5).unwrap(),
        Depth {
            bids: vec![(3_000_000, 2)],
            asks: vec![]
        }
    );
}

#[test]
fn market_buy_spends_its_notional_in_whole_lots() {
    let mut h = funded();
    h.order_id(limit(B, Side::Sell, 1_000, 3));
    h.order_id(limit(B, Side::Sell, 1_200, 5));
    let id = h.order_id(market_buy(A, 7_000));
    // 3 lots at 1_000 = 3_000, then 4_000 / 1_200 = 3 lots = 3_600; 400 refunded.
    let v = &h.order_events()[0];
    assert_eq!(v.id, id);
    assert_eq!(
        (
            v.price_ticks,
            v.size_lots,
            v.notional,
            v.filled_lots,
            v.filled_quote
        ),
        (0, 0, 7_000, 6, 6_600)
    );
    assert_eq!(
        (v.state, v.cancel_reason),
        (
            OrderState::PartiallyCanceled,
            Some(CancelReason::NotionalExhausted)
        )
    );
    assert_eq!(h.bal(A, USDT), (1_000_000_000 - 6_600, 0));
    // Exactly spent: filled.
    h.order_id(market_buy(A, 2_400));
    let v = &h.order_events()[0];
    assert_eq!(
        (v.state, v.cancel_reason, v.filled_lots),
        (OrderState::Filled, None, 2)
    );
    // Book empty: expired, whole notional back.
    h.order_id(market_buy(A, 5_000));
    let v = &h.order_events()[0];
    assert_eq!(
        (v.state, v.cancel_reason),
        (OrderState::Canceled, Some(CancelReason::Expired))
    );
    assert_eq!(h.bal(A, USDT), (1_000_000_000 - 9_000, 0));
    // Budget below one lot at the best price.
    h.order_id(limit(B, Side::Sell, 100_000, 1));
    h.order_id(market_buy(A, 99_999));
    let v = &h.order_events()[0];
    assert_eq!(
        (v.state, v.cancel_reason),
        (OrderState::Canceled, Some(CancelReason::NotionalExhausted))
    );
    assert_eq!(
        h.refused(Command::PlaceOrder(market_buy(A, 0))),
        Reject::NotionalRequired
    );
    assert_eq!(
        h.refused(Command::PlaceOrder(market_buy(A, 999))),
        Reject::NotionalBelowMin { min: 1_000 }
    );
}

#[test]
fn market_sell_sells_up_to_its_size_and_expires_the_rest() {
    let mut h = funded();
    h.order_id(limit(B, Side::Buy, 2_000_000, 4));
    h.order_id(new_order(A, Side::Sell, OrderKind::Market, 0, 10));
    let v = &h.order_events()[0];
    assert_eq!(
        (v.state, v.cancel_reason, v.filled_lots),
        (
            OrderState::PartiallyCanceled,
            Some(CancelReason::Expired),
            4
        )
    );
    assert_eq!(h.bal(A, BTC), (100_000_000 - 40_000, 0));
    assert_eq!(h.bal(A, USDT).0, 1_000_000_000 + 8_000_000 - 16_000);
    assert_eq!(
        h.refused(Command::PlaceOrder(new_order(
            A,
            Side::Sell,
            OrderKind::Market,
            0,
            0
        ))),
        Reject::SizeRequired
    );
}

#[test]
fn ioc_fills_what_crosses_and_expires_the_rest() {
    let mut h = funded();
    h.order_id(limit(B, Side::Sell, 3_000_000, 2));
    h.order_id(limit(B, Side::Sell, 3_100_000, 2));
    h.order_id(new_order(A, Side::Buy, OrderKind::Ioc, 3_000_000, 5));
    let v = &h.order_events()[0];
    assert_eq!(
        (v.state, v.cancel_reason, v.filled_lots),
        (
            OrderState::PartiallyCanceled,
            Some(CancelReason::Expired),
            2
        )
    );
    assert_eq!(h.bal(A, USDT), (1_000_000_000 - 6_000_000, 0));
    h.order_id(new_order(A, Side::Buy, OrderKind::Ioc, 3_000_000, 5));
    let v = &h.order_events()[0];
    assert_eq!((v.state, v.filled_lots), (OrderState::Canceled, 0));
    assert_eq!(h.e.live_order_count(), 1);
}

#[test]
fn fok_fills_completely_or_is_refused() {
    let mut h = funded();
    h.order_id(limit(B, Side::Sell, 3_000_000, 2));
    h.order_id(limit(C, Side::Sell, 3_100_000, 2));
    h.order_id(limit(A, Side::Sell, 3_050_000, 5));
    assert_eq!(
        h.refused(Command::PlaceOrder(new_order(
            A,
            Side::Buy,
            OrderKind::Fok,
            3_100_000,
            5
        ))),
        Reject::FokUnfillable
    );
    assert_eq!(
        h.refused(Command::PlaceOrder(new_order(
            B,
            Side::Buy,
            OrderKind::Fok,
            3_000_000,
            3
        ))),
        Reject::FokUnfillable
    );
    h.order_id(new_order(B, Side::Buy, OrderKind::Fok, 3_100_000, 7));
    let v = &h.order_events()[0];
    assert_eq!((v.state, v.filled_lots), (OrderState::Filled, 7));
}

#[test]
fn post_only_never_takes() {
    let mut h = funded();
    h.order_id(limit(B, Side::Sell, 3_000_000, 2));
    let before = core_hash(&h.e);
    assert_eq!(
        h.refused(Command::PlaceOrder(new_order(
            A,
            Side::Buy,
            OrderKind::PostOnly,
            3_000_000,
            1
        ))),
        Reject::PostOnlyWouldTake
    );
    assert_eq!(core_hash(&h.e), before);
    let id = h.order_id(new_order(A, Side::Buy, OrderKind::PostOnly, 2_999_999, 1));
    assert_eq!(h.e.order(id).unwrap().kind, OrderKind::PostOnly);
}

#[test]
fn self_trade_prevention_modes() {
    for (stp, maker_live, taker_state, trades) in [
        (StpMode::CancelMaker, false, OrderState::PartiallyFilled, 1),
        (StpMode::CancelTaker, true, OrderState::Canceled, 0),
        (StpMode::CancelBoth, false, OrderState::Canceled, 0),
        (StpMode::None, false, OrderState::Filled, 2),
    ] {
        let mut h = funded();
        let own = h.order_id(limit(A, Side::Sell, 3_000_000, 2));
        h.order_id(limit(B, Side::Sell, 3_000_000, 2));
        let taker = h.order_id(NewOrder {
            stp,
            ..limit(A, Side::Buy, 3_000_000, 4)
        });
        let views = h.order_events();
        assert_eq!(views[0].id, taker, "{stp:?}");
        assert_eq!(views[0].state, taker_state, "{stp:?}");
        assert_eq!(h.e.order(own).is_some(), maker_live, "{stp:?}");
        assert_eq!(h.trade_events().len(), trades, "{stp:?}");
        if matches!(stp, StpMode::CancelMaker | StpMode::CancelBoth) {
            assert_eq!(
                (views[1].id, views[1].cancel_reason),
                (own, Some(CancelReason::SelfTrade))
            );
        }
        if matches!(stp, StpMode::CancelTaker | StpMode::CancelBoth) {
            assert_eq!(views[0].cancel_reason, Some(CancelReason::SelfTrade));
            assert_eq!(h.bal(A, USDT), (1_000_000_000, 0));
        }
    }
}

#[test]
fn cancel_releases_exactly_the_remainder() {
    let mut h = funded();
    let id = h.order_id(NewOrder {
        client_order_id: Some("abc123".parse().unwrap()),
        ..limit(A, Side::Buy, 3_000_000, 10)
    });
    h.order_id(limit(B, Side::Sell, 3_000_000, 3));
    assert_eq!(h.bal(A, USDT), (1_000_000_000 - 30_000_000, 21_000_000));
    assert_eq!(
        h.refused(Command::CancelOrder {
            user: B,
            target: OrderTarget::Id(id)
        }),
        Reject::OrderNotFound
    );
    assert_eq!(
        h.refused(Command::PlaceOrder(NewOrder {
            client_order_id: Some("abc123".parse().unwrap()),
            ..limit(A, Side::Buy, 1_000, 1)
        })),
        Reject::DuplicateClientOrderId
    );
    assert_eq!(
        h.e.order_by_client_id(A, &"abc123".parse().unwrap())
            .unwrap()
            .id,
        id
    );
    assert_eq!(
        h.ok(Command::CancelOrder {
            user: A,
            target: OrderTarget::Client("abc123".parse().unwrap())
        }),
        Accepted::Cancelled { id }
    );
    let v = &h.order_events()[0];
    assert_eq!(
        (v.state, v.cancel_reason, v.filled_lots),
        (OrderState::PartiallyCanceled, Some(CancelReason::User), 3)
    );
    assert_eq!(h.bal(A, USDT), (1_000_000_000 - 9_000_000, 0));
    assert_eq!(
        h.refused(Command::CancelOrder {
            user: A,
            target: OrderTarget::Id(id)
        }),
        Reject::OrderNotFound
    );
    // The client id is free again.
    h.order_id(NewOrder {
        client_order_id: Some("abc123".parse().unwrap()),
        ..limit(A, Side::Buy, 1_000, 1)
    });
}

#[test]
fn cancel_all_filters_by_market_and_side() {
    let mut h = funded();
    h.deposit(A, ETH, 100_000_000);
    let ids = [
        h.order_id(limit(A, Side::Buy, 1_000, 5)),
        h.order_id(limit(A, Side::Sell, 9_000_000, 5)),
        h.order_id(NewOrder {
            market: ETH_USDT,
            ..limit(A, Side::Buy, 1_000, 5)
        }),
        h.order_id(NewOrder {
            market: ETH_USDT,
            ..limit(A, Side::Sell, 9_000_000, 5)
        }),
    ];
    h.order_id(limit(B, Side::Buy, 1_000, 5));
    assert_eq!(
        h.ok(Command::CancelAll {
            user: A,
            market: Some(BTC_USDT),
            side: Some(Side::Sell)
        }),
        Accepted::CancelledAll { count: 1 }
    );
    assert_eq!(h.order_events()[0].id, ids[1]);
    assert_eq!(
        h.ok(Command::CancelAll {
            user: A,
            market: Some(ETH_USDT),
            side: None
        }),
        Accepted::CancelledAll { count: 2 }
    );
    let cancelled: Vec<OrderId> = h.order_events().iter().map(|v| v.id).collect();
    assert_eq!(cancelled, vec![ids[2], ids[3]]);
    assert_eq!(
        h.ok(Command::CancelAll {
            user: A,
            market: None,
            side: None
        }),
        Accepted::CancelledAll { count: 1 }
    );
    assert_eq!(
        h.ok(Command::CancelAll {
            user: A,
            market: None,
            side: None
        }),
        Accepted::CancelledAll { count: 0 }
    );
    assert_eq!(
        h.ok(Command::CancelAll {
            user: UserId(99),
            market: None,
            side: None
        }),
        Accepted::CancelledAll { count: 0 }
    );
    assert_eq!(
        h.refused(Command::CancelAll {
            user: A,
            market: Some(MarketId(9)),
            side: None
        }),
        Reject::UnknownMarket
    );
    assert_eq!(h.bal(A, USDT), (1_000_000_000, 0));
    assert_eq!(h.e.live_order_count(), 1);
}

#[test]
fn halts_stop_new_orders_but_not_cancels() {
    let mut h = funded();
    let id = h.order_id(limit(A, Side::Buy, 1_000, 5));
    h.ok(Command::Halt {
        market: Some(BTC_USDT),
    });
    assert_eq!(
        h.events,
        vec![Event::MarketHalted {
            market: BTC_USDT,
            halted: true
        }]
    );
    assert_eq!(
        h.refused(Command::PlaceOrder(limit(A, Side::Buy, 1_000, 5))),
        Reject::MarketHalted
    );
    h.order_id(NewOrder {
        market: ETH_USDT,
        ..limit(A, Side::Buy, 1_000, 5)
    });
    h.ok(Command::Halt { market: None });
    assert!(h.e.global_halted());
    assert_eq!(
        h.refused(Command::PlaceOrder(NewOrder {
            market: ETH_USDT,
            ..limit(A, Side::Buy, 1_000, 5)
        })),
        Reject::GloballyHalted
    );
    assert_eq!(
        h.ok(Command::CancelOrder {
            user: A,
            target: OrderTarget::Id(id)
        }),
        Accepted::Cancelled { id }
    );
    h.ok(Command::CancelAll {
        user: A,
        market: None,
        side: None,
    });
    h.ok(Command::Resume { market: None });
    assert_eq!(
        h.refused(Command::PlaceOrder(limit(A, Side::Buy, 1_000, 5))),
        Reject::MarketHalted
    );
    h.ok(Command::Resume {
        market: Some(BTC_USDT),
    });
    h.order_id(limit(A, Side::Buy, 1_000, 5));
    assert_eq!(
        h.refused(Command::Halt {
            market: Some(MarketId(7))
        }),
        Reject::UnknownMarket
    );
}

#[test]
fn deposits_are_idempotent_forever_by_reference() {
    let mut h = Harness::new();
    let deposit = |reference: &str, amount| Command::Deposit {
        user: A,
        asset: USDT,
        amount,
        reference: reference.into(),
    };
    assert_eq!(h.ok(deposit("tx-1", 500)), Accepted::Done);
    assert_eq!(
        h.events[0],
        Event::Balance {
            user: A,
            asset: USDT,
            available: 500,
            held: 0
        }
    );
    assert_eq!(
        h.events[1],
        Event::System {
            asset: USDT,
            account: SystemAccount::External,
            balance: -500
        }
    );
    assert_eq!(h.ok(deposit("tx-1", 500)), Accepted::AlreadyApplied);
    assert!(h.events.is_empty());
    assert_eq!(h.ok(deposit("tx-1", 900)), Accepted::AlreadyApplied);
    assert_eq!(h.bal(A, USDT), (500, 0));
    assert_eq!(h.refused(deposit("", 5)), Reject::ReferenceInvalid);
    assert_eq!(
        h.refused(deposit(&"x".repeat(129), 5)),
        Reject::ReferenceInvalid
    );
    assert_eq!(h.refused(deposit("tx-2", 0)), Reject::AmountNotPositive);
    assert_eq!(h.refused(deposit("tx-2", -5)), Reject::AmountNotPositive);
    assert_eq!(
        h.refused(Command::Deposit {
            user: A,
            asset: AssetId(9),
            amount: 5,
            reference: "tx-2".into()
        }),
        Reject::UnknownAsset
    );
    h.ok(deposit(&"x".repeat(128), 5));
    assert_eq!(h.refused(deposit("tx-3", i64::MAX)), Reject::Overflow);
    assert_eq!(
        h.refused(Command::Deposit {
            user: B,
            asset: USDT,
            amount: i64::MAX,
            reference: "tx-4".into()
        }),
        Reject::Overflow
    );
    assert_eq!(h.e.user_ids(), vec![A]);
}

#[test]
fn withdrawals_hold_then_settle_or_release() {
    let mut h = funded();
    let hold = |id, amount| Command::WithdrawHold {
        user: A,
        asset: BTC,
        amount,
        withdrawal_id: id,
    };
    h.ok(hold(1, 30_000_000));
    assert_eq!(h.bal(A, BTC), (70_000_000, 30_000_000));
    assert_eq!(h.refused(hold(1, 5)), Reject::WithdrawalExists);
    assert_eq!(
        h.refused(hold(2, 70_000_001)),
        Reject::InsufficientFunds {
            asset: BTC,
            needed: 70_000_001,
            available: 70_000_000
        }
    );
    assert_eq!(h.refused(hold(2, 0)), Reject::AmountNotPositive);
    h.ok(hold(2, 10_000_000));
    h.ok(Command::WithdrawSettle { withdrawal_id: 1 });
    assert_eq!(h.bal(A, BTC), (60_000_000, 10_000_000));
    assert_eq!(
        h.e.system_balance(BTC, SystemAccount::External),
        -300_000_000 + 30_000_000
    );
    assert_eq!(
        h.refused(Command::WithdrawSettle { withdrawal_id: 1 }),
        Reject::WithdrawalUnknown
    );
    h.ok(Command::WithdrawRelease { withdrawal_id: 2 });
    assert_eq!(h.bal(A, BTC), (70_000_000, 0));
    h.ok(hold(3, 10_000_000));
    assert_eq!(
        h.refused(Command::WithdrawComplete {
            withdrawal_id: 3,
            fee: 10_000_000
        }),
        Reject::WithdrawalFeeInvalid
    );
    assert_eq!(
        h.refused(Command::WithdrawComplete {
            withdrawal_id: 3,
            fee: -1
        }),
        Reject::WithdrawalFeeInvalid
    );
    let revenue = h.e.system_balance(BTC, SystemAccount::FeeRevenue);
    h.ok(Command::WithdrawComplete {
        withdrawal_id: 3,
        fee: 10_000,
    });
    assert_eq!(h.bal(A, BTC), (60_000_000, 0));
    assert_eq!(
        h.e.system_balance(BTC, SystemAccount::FeeRevenue),
        revenue + 10_000
    );
    assert_eq!(
        h.e.system_balance(BTC, SystemAccount::External),
        -300_000_000 + 30_000_000 + 9_990_000
    );
    assert_eq!(
        h.refused(Command::WithdrawComplete {
            withdrawal_id: 3,
            fee: 0
        }),
        Reject::WithdrawalUnknown
    );
    assert_eq!(
        h.refused(Command::WithdrawRelease { withdrawal_id: 2 }),
        Reject::WithdrawalUnknown
    );
    assert_eq!(h.refused(hold(2, 5)), Reject::WithdrawalExists);
    assert_eq!(
        h.refused(Command::WithdrawHold {
            user: UserId(77),
            asset: BTC,
            amount: 1,
            withdrawal_id: 9
        }),
        Reject::InsufficientFunds {
            asset: BTC,
            needed: 1,
            available: 0
        }
    );
}

#[test]
fn adjustments_are_signed_and_never_overdraw() {
    let mut h = funded();
    let adjust = |user, amount| Command::Adjust {
        user,
        asset: USDT,
        amount,
        reason: "ticket 42".into(),
    };
    h.ok(adjust(A, 250));
    h.ok(adjust(A, -1_000_000_250));
    assert_eq!(h.bal(A, USDT), (0, 0));
    assert_eq!(
        h.e.system_balance(USDT, SystemAccount::Adjustments),
        1_000_000_000
    );
    assert_eq!(
        h.refused(adjust(A, -1)),
        Reject::InsufficientFunds {
            asset: USDT,
            needed: 1,
            available: 0
        }
    );
    assert_eq!(h.refused(adjust(A, 0)), Reject::AmountNotPositive);
    assert_eq!(h.refused(adjust(A, i64::MIN)), Reject::Overflow);
    assert_eq!(
        h.refused(Command::Adjust {
            user: A,
            asset: USDT,
            amount: 5,
            reason: String::new()
        }),
        Reject::ReferenceInvalid
    );
    h.ok(adjust(UserId(50), 7));
    assert_eq!(h.bal(UserId(50), USDT), (7, 0));
}

#[test]
fn safeguard_payouts_are_limited_by_the_fund_and_idempotent() {
    let mut h = funded();
    let payout = |claim_id, amount| Command::SafeguardPayout {
        user: C,
        asset: USDT,
        amount,
        claim_id,
    };
    assert_eq!(
        h.refused(payout(1, 1)),
        Reject::FundInsufficient {
            needed: 1,
            available: 0
        }
    );
    h.order_id(limit(B, Side::Sell, 3_000_000, 10));
    h.order_id(limit(A, Side::Buy, 3_000_000, 10));
    let fund = h.e.system_balance(USDT, SystemAccount::Safeguard);
    assert_eq!(fund, 3_000);
    assert_eq!(h.ok(payout(1, 2_000)), Accepted::Done);
    assert_eq!(h.bal(C, USDT).0, 1_000_000_000 + 2_000);
    assert_eq!(h.ok(payout(1, 2_000)), Accepted::AlreadyApplied);
    assert_eq!(
        h.refused(payout(2, 1_001)),
        Reject::FundInsufficient {
            needed: 1_001,
            available: 1_000
        }
    );
    assert_eq!(h.e.system_balance(USDT, SystemAccount::Safeguard), 1_000);
}

#[test]
fn safeguard_top_ups_move_revenue_or_outside_coins_into_the_fund_once() {
    let mut h = funded();
    let from_revenue = |amount| Command::SafeguardTopUp {
        asset: USDT,
        amount,
        from: TopUpSource::FeeRevenue,
    };
    let from_outside = |reference: &str, amount| Command::SafeguardTopUp {
        asset: USDT,
        amount,
        from: TopUpSource::External {
            reference: reference.into(),
        },
    };
    // No revenue yet: nothing to move.
    assert_eq!(
        h.refused(from_revenue(1)),
        Reject::InsufficientFunds {
            asset: USDT,
            needed: 1,
            available: 0
        }
    );
    h.order_id(limit(B, Side::Sell, 3_000_000, 10));
    h.order_id(limit(A, Side::Buy, 3_000_000, 10));
    let revenue = h.e.system_balance(USDT, SystemAccount::FeeRevenue);
    let fund = h.e.system_balance(USDT, SystemAccount::Safeguard);
    assert!(revenue > 0);
    assert_eq!(h.ok(from_revenue(revenue)), Accepted::Done);
    assert_eq!(h.e.system_balance(USDT, SystemAccount::FeeRevenue), 0);
    assert_eq!(
        h.e.system_balance(USDT, SystemAccount::Safeguard),
        fund + revenue
    );
    assert_eq!(h.refused(from_revenue(0)), Reject::AmountNotPositive);
    assert_eq!(h.refused(from_outside("", 5)), Reject::ReferenceInvalid);
    assert_eq!(h.ok(from_outside("TRC20:tx1", 5_000)), Accepted::Done);
    // The same transfer recorded twice adds once, however long after.
    assert_eq!(
        h.ok(from_outside("TRC20:tx1", 5_000)),
        Accepted::AlreadyApplied
    );
    assert_eq!(
        h.e.system_balance(USDT, SystemAccount::Safeguard),
        fund + revenue + 5_000
    );
    // Users' balances never move, and the ledger still balances.
    assert_eq!(h.bal(C, USDT).0, 1_000_000_000);
    assert!(h.e.ledger.check().is_ok());
}

#[test]
fn a_clawback_returns_a_payout_to_the_fund_once_and_never_overdraws() {
    let mut h = funded();
    h.order_id(limit(B, Side::Sell, 3_000_000, 10));
    h.order_id(limit(A, Side::Buy, 3_000_000, 10));
    h.ok(Command::SafeguardPayout {
        user: C,
        asset: USDT,
        amount: 2_000,
        claim_id: 4,
    });
    let fund = h.e.system_balance(USDT, SystemAccount::Safeguard);
    let before = h.bal(C, USDT).0;
    let clawback = |amount| Command::SafeguardClawback {
        user: C,
        asset: USDT,
        amount,
        claim_id: 4,
    };
    assert_eq!(
        h.refused(clawback(before + 1)),
        Reject::InsufficientFunds {
            asset: USDT,
            needed: before + 1,
            available: before
        }
    );
    assert_eq!(h.refused(clawback(0)), Reject::AmountNotPositive);
    assert_eq!(h.ok(clawback(2_000)), Accepted::Done);
    assert_eq!(h.ok(clawback(2_000)), Accepted::AlreadyApplied);
    assert_eq!(h.bal(C, USDT).0, before - 2_000);
    assert_eq!(
        h.e.system_balance(USDT, SystemAccount::Safeguard),
        fund + 2_000
    );
    // A user the engine never saw has nothing to take back.
    assert_eq!(
        h.refused(Command::SafeguardClawback {
            user: UserId(999),
            asset: USDT,
            amount: 1,
            claim_id: 5,
        }),
        Reject::InsufficientFunds {
            asset: USDT,
            needed: 1,
            available: 0
        }
    );
    assert!(h.e.ledger.check().is_ok());
}

#[test]
fn order_validation_refusals_change_nothing() {
    let mut h = funded();
    let reject = |h: &mut Harness, o: NewOrder| h.refused(Command::PlaceOrder(o));
    assert_eq!(
        reject(
            &mut h,
            NewOrder {
                market: MarketId(9),
                ..limit(A, Side::Buy, 1_000, 1)
            }
        ),
        Reject::UnknownMarket
    );
    assert_eq!(
        reject(&mut h, limit(A, Side::Buy, 0, 1)),
        Reject::PriceRequired
    );
    assert_eq!(
        reject(&mut h, limit(A, Side::Buy, 1_000_000_001, 1)),
        Reject::PriceAboveMax {
            max_ticks: 1_000_000_000
        }
    );
    assert_eq!(
        reject(&mut h, limit(A, Side::Buy, 1_000, 0)),
        Reject::SizeRequired
    );
    assert_eq!(
        reject(&mut h, limit(A, Side::Buy, 1_000, 100_000_001)),
        Reject::SizeAboveMax {
            max_lots: 100_000_000
        }
    );
    assert_eq!(
        reject(&mut h, limit(A, Side::Buy, 999, 1)),
        Reject::NotionalBelowMin { min: 1_000 }
    );
    assert_eq!(
        reject(&mut h, limit(A, Side::Buy, 100_000_000, 11)),
        Reject::InsufficientFunds {
            asset: USDT,
            needed: 1_100_000_000,
            available: 1_000_000_000
        }
    );
    assert_eq!(
        reject(&mut h, limit(UserId(42), Side::Sell, 1_000, 1)),
        Reject::InsufficientFunds {
            asset: BTC,
            needed: 10_000,
            available: 0
        }
    );
    h.order_id(NewOrder {
        client_order_id: Some("x".repeat(32).parse().unwrap()),
        ..limit(A, Side::Buy, 1_000, 1)
    });
    let mut spec = market_spec("BIG_USDT", BTC);
    spec.min_size_lots = 10;
    h.ok(Command::AddMarket(spec));
    let o = NewOrder {
        market: MarketId(2),
        ..limit(A, Side::Buy, 1_000, 9)
    };
    assert_eq!(reject(&mut h, o), Reject::SizeBelowMin { min_lots: 10 });
    assert_eq!(h.e.user_ids(), vec![A, B, C]);
}

#[test]
fn open_order_and_price_level_limits() {
    let mut h = funded();
    for i in 0..ORDERS_OPEN_PER_USER_MAX as i64 {
        h.order_id(limit(A, Side::Buy, 1_000 + i % 50, 1));
    }
    assert_eq!(
        h.refused(Command::PlaceOrder(limit(A, Side::Buy, 1_000, 1))),
        Reject::TooManyOpenOrders { max: 500 }
    );
    // IOC never rests, so it is not limited.
    h.order_id(new_order(A, Side::Buy, OrderKind::Ioc, 1_000, 1));
    h.e.markets[1].book = Book::with_limits(2, 0);
    let eth = |price| NewOrder {
        market: ETH_USDT,
        ..limit(B, Side::Buy, price, 1)
    };
    h.order_id(eth(1_000));
    h.order_id(eth(1_001));
    h.order_id(eth(1_001));
    assert_eq!(
        h.refused(Command::PlaceOrder(eth(1_002))),
        Reject::TooManyPriceLevels { max: 2 }
    );
}

use crate::limits::ORDERS_OPEN_PER_USER_MAX;

#[test]
fn repeated_command_ids_return_the_first_outcome() {
    let mut h = funded();
    let id = command_id(9_999);
    let order = Command::PlaceOrder(limit(A, Side::Buy, 1_000, 5));
    let first = h.with_id(id, order.clone()).unwrap();
    let before = h.e.state_hash();
    let again = h
        .with_id(id, Command::PlaceOrder(limit(A, Side::Buy, 2_000, 5)))
        .unwrap();
    assert_eq!(first, again);
    assert!(h.events.is_empty());
    assert_eq!(h.e.live_order_count(), 1);
    assert_ne!(h.e.state_hash(), before, "last_seq advanced");
    assert_eq!(h.e.last_seq(), h.seq);
    let bad = command_id(10_000);
    let refused = h.with_id(bad, Command::PlaceOrder(limit(A, Side::Buy, 0, 5)));
    assert_eq!(h.with_id(bad, order), refused);
    assert_eq!(h.e.remembered_outcome(&bad), Some(&refused));
}

#[test]
fn sequence_gaps_are_refused_without_change() {
    let mut h = Harness::new();
    let before = h.e.state_hash();
    let mut events = Vec::new();
    let header = CommandHeader {
        seq: h.seq + 2,
        timestamp_ms: 0,
        id: command_id(77),
    };
    let outcome =
        h.e.apply(&header, &Command::Halt { market: None }, &mut events);
    assert!(matches!(outcome, Err(Reject::InvalidSpec(ref m)) if m.starts_with("sequence gap")));
    let header = CommandHeader {
        seq: h.seq,
        ..header
    };
    assert!(
        h.e.apply(&header, &Command::Halt { market: None }, &mut events)
            .is_err()
    );
    assert!(events.is_empty());
    assert_eq!(h.e.state_hash(), before);
}

#[test]
fn config_commands_validate_specs() {
    let mut h = Harness::new();
    assert_eq!(h.e.asset_id("USDT"), Some(USDT));
    assert_eq!(h.e.market_id("ETH_USDT"), Some(ETH_USDT));
    assert_eq!(h.e.quote_units_per_tick_lot(BTC_USDT), Some(1));
    assert_eq!(h.e.base_units_per_lot(BTC_USDT), Some(10_000));
    let invalid = |h: &mut Harness, c| matches!(h.refused(c), Reject::InvalidSpec(_));
    assert!(invalid(&mut h, Command::AddAsset(asset("BTC", 8))));
    assert!(invalid(&mut h, Command::AddAsset(asset("btc", 8))));
    assert!(invalid(&mut h, Command::AddAsset(asset("", 8))));
    assert!(invalid(&mut h, Command::AddAsset(asset("DOGE", 19))));
    assert!(invalid(
        &mut h,
        Command::AddMarket(market_spec("BTC_USDT", BTC))
    ));
    let spec = market_spec("X_USDT", BTC);
    for bad in [
        MarketSpec {
            price_scale: 3,
            ..spec.clone()
        },
        MarketSpec {
            size_scale: 9,
            ..spec.clone()
        },
        MarketSpec {
            min_size_lots: 0,
            ..spec.clone()
        },
        MarketSpec {
            max_size_lots: 0,
            ..spec.clone()
        },
        MarketSpec {
            max_price_ticks: 0,
            ..spec.clone()
        },
        MarketSpec {
            min_notional: -1,
            ..spec.clone()
        },
        MarketSpec {
            taker_fee_ppm: 100_001,
            ..spec.clone()
        },
        MarketSpec {
            quote: BTC,
            ..spec.clone()
        },
        MarketSpec {
            symbol: "x y".into(),
            ..spec.clone()
        },
        MarketSpec {
            max_price_ticks: i64::MAX,
            ..spec.clone()
        },
    ] {
        assert!(invalid(&mut h, Command::AddMarket(bad.clone())), "{bad:?}");
    }
    assert_eq!(
        h.refused(Command::AddMarket(MarketSpec {
            base: AssetId(9),
            ..spec.clone()
        })),
        Reject::UnknownAsset
    );
    h.ok(Command::AddMarket(spec.clone()));
    assert_eq!(
        h.events,
        vec![Event::MarketAdded {
            id: MarketId(2),
            spec
        }]
    );
    assert_eq!(h.e.markets().len(), 3);
    assert!(!h.e.markets()[2].halted);
}

#[test]
fn snapshot_round_trip_continues_identically() {
    let mut h = funded();
    h.order_id(NewOrder {
        client_order_id: Some("c1".parse().unwrap()),
        ..limit(A, Side::Buy, 3_000_000, 10)
    });
    h.order_id(limit(B, Side::Sell, 3_100_000, 5));
    h.order_id(limit(B, Side::Sell, 3_100_000, 7));
    h.order_id(limit(C, Side::Sell, 3_000_000, 3));
    h.ok(Command::WithdrawHold {
        user: C,
        asset: USDT,
        amount: 5_000,
        withdrawal_id: 3,
    });
    h.ok(Command::Halt {
        market: Some(ETH_USDT),
    });
    let bytes = h.e.encode_snapshot();
    let restored = Engine::decode_snapshot(&bytes).unwrap();
    assert_eq!(restored.state_hash(), h.e.state_hash());
    let mut twin = Harness {
        e: restored,
        seq: h.seq,
        events: Vec::new(),
    };
    let script = [
        Command::PlaceOrder(limit(C, Side::Buy, 3_200_000, 20)),
        Command::CancelOrder {
            user: A,
            target: OrderTarget::Client("c1".parse().unwrap()),
        },
        Command::WithdrawSettle { withdrawal_id: 3 },
        Command::PlaceOrder(NewOrder {
            market: ETH_USDT,
            ..limit(C, Side::Buy, 3_200_000, 20)
        }),
    ];
    for command in script {
        let a = h.run(command.clone());
        let b = twin.run(command);
        assert_eq!(a, b);
        assert_eq!(h.events, twin.events);
        assert_eq!(h.e.state_hash(), twin.e.state_hash());
    }
    assert!(matches!(
        Engine::decode_snapshot(&bytes[..bytes.len() - 1]),
        Err(crate::SnapshotError::Decode(_))
    ));
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(Engine::decode_snapshot(&extra).is_err());
    assert!(matches!(
        Engine::decode_snapshot(&[9]),
        Err(crate::SnapshotError::Version { found: 9 })
    ));
}

#[test]
fn ledger_totals_sum_to_zero() {
    let mut h = funded();
    h.order_id(limit(B, Side::Sell, 3_000_000, 10));
    h.order_id(limit(A, Side::Buy, 3_000_000, 10));
    for t in h.e.ledger_totals() {
        assert_eq!(t.sum, 0);
        assert_eq!(
            t.users_available + t.users_held + t.fee_revenue + t.safeguard,
            -(t.external + t.adjustments)
        );
    }
    assert_eq!(
        h.e.user_balances(A),
        vec![(BTC, 100_000_000 + 99_800, 0), (USDT, 970_000_000, 0)]
    );
}

fn snapshot_fixture() -> Vec<u8> {
    let mut h = funded();
    h.order_id(NewOrder {
        client_order_id: Some("c1".parse().unwrap()),
        ..limit(A, Side::Buy, 3_000_000, 10)
    });
    h.order_id(limit(B, Side::Sell, 3_100_000, 5));
    h.order_id(limit(C, Side::Sell, 3_000_000, 3));
    h.ok(Command::WithdrawHold {
        user: C,
        asset: USDT,
        amount: 5_000,
        withdrawal_id: 3,
    });
    h.e.encode_snapshot()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// Damaged snapshots are refused with an error, never a crash, and whatever is accepted is
    /// consistent.
    #[test]
    fn damaged_snapshots_are_refused_not_fatal(flips in proptest::collection::vec((0_usize..100_000, 1_u8..=255), 1..4)) {
        let mut bytes = snapshot_fixture();
        for (at, mask) in flips {
            let len = bytes.len();
            bytes[at % len] ^= mask;
        }
        if let Ok(engine) = Engine::decode_snapshot(&bytes) {
            proptest::prop_assert!(engine.check_invariants().is_ok());
        }
    }
}
