//! Property tests over random command sequences: 2 markets, 4 users, 3 assets.
//!
//! After every command: the full invariant check passes (ledger sums to zero, nothing negative,
//! holds equal reservations, books well formed and not crossed), a refused command changed
//! nothing, a repeated command id returned the first outcome and changed nothing, and every
//! trade respected price-time priority. At the end: fees in trade events equal what the fee and
//! Safeguard accounts received, a fresh engine fed the same commands produces the same outcomes,
//! events and state hash, and an engine restored from a snapshot taken mid-way continues
//! identically.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bulwark_types::{CommandId, OrderId, Side, UserId};
use proptest::prelude::*;

use super::tests::{BTC, ETH, Harness, USDT, command_id, core_hash};
use super::*;
use crate::command::{NewOrder, NewTrigger, OrderTarget, TopUpSource};
use crate::event::{SystemAccount, TriggerDirection, TriggerState};
use crate::reject::Accepted;

const USERS: u64 = 4;
const ASSETS: [AssetId; 3] = [BTC, USDT, ETH];

#[derive(Clone, Debug)]
enum Op {
    Place {
        user: u64,
        market: u32,
        buy: bool,
        kind: u8,
        price: i64,
        size: i64,
        notional: i64,
        client: Option<u8>,
        stp: u8,
    },
    Cancel {
        user: u64,
        pick: usize,
        by_client: bool,
    },
    /// A stop order: `place` is a `Place` op, `trigger` its trigger price.
    Trigger {
        place: Box<Op>,
        trigger: i64,
    },
    CancelTrigger {
        user: u64,
        pick: usize,
        by_client: bool,
    },
    CancelAllTriggers {
        user: u64,
        market: Option<u32>,
    },
    CancelAll {
        user: u64,
        market: Option<u32>,
        side: Option<bool>,
    },
    Deposit {
        user: u64,
        asset: usize,
        amount: i64,
        reference: u8,
    },
    WithdrawHold {
        user: u64,
        asset: usize,
        amount: i64,
        id: u64,
    },
    WithdrawSettle {
        id: u64,
    },
    WithdrawRelease {
        id: u64,
    },
    WithdrawComplete {
        id: u64,
        fee: i64,
    },
    Adjust {
        user: u64,
        asset: usize,
        amount: i64,
    },
    Payout {
        user: u64,
        asset: usize,
        amount: i64,
        claim: u64,
    },
    Clawback {
        user: u64,
        asset: usize,
        amount: i64,
        claim: u64,
    },
    /// A top-up from fee revenue (`reference` None) or from outside under a reference.
    TopUp {
        asset: usize,
        amount: i64,
        reference: Option<u8>,
    },
    Halt {
        market: Option<u32>,
        resume: bool,
    },
    SetShare {
        bps: u32,
    },
    Repeat {
        back: usize,
    },
}

fn place_op() -> impl Strategy<Value = Op> {
    (
        0..USERS,
        0_u32..2,
        any::<bool>(),
        0_u8..5,
        994_i64..1_006,
        1_i64..9,
        500_i64..20_000,
        prop::option::weighted(0.3, 0_u8..3),
        0_u8..4,
    )
        .prop_map(
            |(user, market, buy, kind, price, size, notional, client, stp)| Op::Place {
                user,
                market,
                buy,
                kind,
                price,
                size,
                notional,
                client,
                stp,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    prop_oneof![
        20 => place_op(),
        5 => (place_op(), 993_i64..1_007).prop_map(|(place, trigger)| Op::Trigger { place: Box::new(place), trigger }),
        2 => (user.clone(), any::<usize>(), prop::bool::weighted(0.3)).prop_map(|(user, pick, by_client)| Op::CancelTrigger { user, pick, by_client }),
        1 => (user.clone(), prop::option::of(0_u32..3)).prop_map(|(user, market)| Op::CancelAllTriggers { user, market }),
        4 => (user.clone(), any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(user, pick, by_client)| Op::Cancel { user, pick, by_client }),
        1 => (user.clone(), prop::option::of(0_u32..3), prop::option::of(any::<bool>())).prop_map(|(user, market, side)| Op::CancelAll { user, market, side }),
        2 => (user.clone(), 0_usize..3, 1_i64..200_000, 0_u8..12).prop_map(|(user, asset, amount, reference)| Op::Deposit { user, asset, amount, reference }),
        1 => (user.clone(), 0_usize..3, 1_i64..100_000, 0_u64..6).prop_map(|(user, asset, amount, id)| Op::WithdrawHold { user, asset, amount, id }),
        1 => (0_u64..6).prop_map(|id| Op::WithdrawSettle { id }),
        1 => (0_u64..6).prop_map(|id| Op::WithdrawRelease { id }),
        1 => (0_u64..6, -10_i64..100_000).prop_map(|(id, fee)| Op::WithdrawComplete { id, fee }),
        1 => (user.clone(), 0_usize..3, -50_000_i64..50_000).prop_map(|(user, asset, amount)| Op::Adjust { user, asset, amount }),
        1 => (user.clone(), 0_usize..3, 1_i64..40, 0_u64..4).prop_map(|(user, asset, amount, claim)| Op::Payout { user, asset, amount, claim }),
        1 => (user, 0_usize..3, 1_i64..40, 0_u64..4).prop_map(|(user, asset, amount, claim)| Op::Clawback { user, asset, amount, claim }),
        1 => (0_usize..3, 0_i64..40, prop::option::of(0_u8..3)).prop_map(|(asset, amount, reference)| Op::TopUp { asset, amount, reference }),
        1 => (prop::option::weighted(0.7, 0_u32..3), prop::bool::weighted(0.75)).prop_map(|(market, resume)| Op::Halt { market, resume }),
        1 => (0_u32..12_000).prop_map(|bps| Op::SetShare { bps }),
        1 => any::<usize>().prop_map(|back| Op::Repeat { back }),
    ]
}

/// One applied command and what it did.
#[derive(Clone, Debug)]
struct Entry {
    header: CommandHeader,
    command: Command,
    outcome: Outcome,
    events: Vec<Event>,
}

fn kind_of(k: u8) -> OrderKind {
    [
        OrderKind::Limit,
        OrderKind::Market,
        OrderKind::Ioc,
        OrderKind::Fok,
        OrderKind::PostOnly,
    ][k as usize % 5]
}

fn stp_of(s: u8) -> StpMode {
    [
        StpMode::None,
        StpMode::CancelMaker,
        StpMode::CancelTaker,
        StpMode::CancelBoth,
    ][s as usize % 4]
}

/// The order of a `Place` op; market orders get the fields their kind uses.
fn place_of(op: &Op) -> Command {
    let Op::Place {
        user,
        market,
        buy,
        kind,
        price,
        size,
        notional,
        client,
        stp,
    } = *op
    else {
        return Command::Halt { market: None };
    };
    let kind = kind_of(kind);
    let side = if buy { Side::Buy } else { Side::Sell };
    let market_buy = kind == OrderKind::Market && buy;
    Command::PlaceOrder(NewOrder {
        user: UserId(user),
        market: MarketId(market),
        side,
        kind,
        price_ticks: if kind == OrderKind::Market { 0 } else { price },
        size_lots: if market_buy { 0 } else { size },
        notional: if market_buy { notional } else { 0 },
        client_order_id: client.and_then(|c| format!("c{c}").parse().ok()),
        stp: stp_of(stp),
    })
}

/// Turns an op into a command against the current state (cancels pick among live orders).
fn command_of(op: &Op, e: &Engine) -> Command {
    match *op {
        Op::Place { .. } => place_of(op),
        Op::Trigger { ref place, trigger } => match place_of(place) {
            Command::PlaceOrder(order) => Command::PlaceTrigger(NewTrigger {
                order,
                trigger_price_ticks: trigger,
            }),
            other => other,
        },
        Op::CancelTrigger {
            user,
            pick,
            by_client,
        } => {
            let waiting = e.waiting_triggers(Some(UserId(user)));
            let target = match waiting.get(pick % (waiting.len() + 1)) {
                Some(t) => match t.client_order_id.filter(|_| by_client) {
                    Some(client) => OrderTarget::Client(client),
                    None => OrderTarget::Id(t.id),
                },
                None => OrderTarget::Id(OrderId(pick as u64 % 50)),
            };
            Command::CancelTrigger {
                user: UserId(user),
                target,
            }
        }
        Op::CancelAllTriggers { user, market } => Command::CancelAllTriggers {
            user: UserId(user),
            market: market.map(MarketId),
        },
        Op::Cancel {
            user,
            pick,
            by_client,
        } => {
            let live = e.open_orders(UserId(user), None);
            let target = match live.get(pick % (live.len() + 1)) {
                Some(o) => match o.client_order_id.filter(|_| by_client) {
                    Some(client) => OrderTarget::Client(client),
                    None => OrderTarget::Id(o.id),
                },
                None if by_client => OrderTarget::Client("nope".parse().unwrap()),
                None => OrderTarget::Id(OrderId(pick as u64 % 50)),
            };
            Command::CancelOrder {
                user: UserId(user),
                target,
            }
        }
        Op::CancelAll { user, market, side } => Command::CancelAll {
            user: UserId(user),
            market: market.map(MarketId),
            side: side.map(|b| if b { Side::Buy } else { Side::Sell }),
        },
        Op::Deposit {
            user,
            asset,
            amount,
            reference,
        } => Command::Deposit {
            user: UserId(user),
            asset: ASSETS[asset],
            amount,
            reference: format!("ref-{reference}"),
        },
        Op::WithdrawHold {
            user,
            asset,
            amount,
            id,
        } => Command::WithdrawHold {
            user: UserId(user),
            asset: ASSETS[asset],
            amount,
            withdrawal_id: id,
        },
        Op::WithdrawSettle { id } => Command::WithdrawSettle { withdrawal_id: id },
        Op::WithdrawRelease { id } => Command::WithdrawRelease { withdrawal_id: id },
        Op::WithdrawComplete { id, fee } => Command::WithdrawComplete {
            withdrawal_id: id,
            fee,
        },
        Op::Adjust {
            user,
            asset,
            amount,
        } => Command::Adjust {
            user: UserId(user),
            asset: ASSETS[asset],
            amount,
            reason: "test".into(),
        },
        Op::Payout {
            user,
            asset,
            amount,
            claim,
        } => Command::SafeguardPayout {
            user: UserId(user),
            asset: ASSETS[asset],
            amount,
            claim_id: claim,
        },
        Op::Clawback {
            user,
            asset,
            amount,
            claim,
        } => Command::SafeguardClawback {
            user: UserId(user),
            asset: ASSETS[asset],
            amount,
            claim_id: claim,
        },
        Op::TopUp {
            asset,
            amount,
            reference,
        } => Command::SafeguardTopUp {
            asset: ASSETS[asset],
            amount,
            from: match reference {
                None => TopUpSource::FeeRevenue,
                Some(r) => TopUpSource::External {
                    reference: format!("topup-{r}"),
                },
            },
        },
        Op::Halt { market, resume } => {
            let market = market.map(MarketId);
            if resume {
                Command::Resume { market }
            } else {
                Command::Halt { market }
            }
        }
        Op::SetShare { bps } => Command::SetSafeguardShare { share_bps: bps },
        Op::Repeat { .. } => Command::Halt { market: None },
    }
}

/// Whether resting order `o` comes before a maker at `price_ticks` with id `id` on its side.
fn ahead(o: &OrderView, price_ticks: i64, id: OrderId) -> bool {
    let better = match o.side {
        Side::Buy => o.price_ticks > price_ticks,
        Side::Sell => o.price_ticks < price_ticks,
    };
    better || (o.price_ticks == price_ticks && o.id < id)
}

/// No live order on a maker's side is ahead of a maker that traded in this command. (Makers
/// are resting orders, so their price is the trade price and their id is their arrival order.)
fn check_priority(events: &[Event], live: &[OrderView]) -> Result<(), TestCaseError> {
    for event in events {
        let Event::Trade(t) = event else { continue };
        let maker_side = t.taker_side.opposite();
        // Orders placed later in the same command (by stop orders firing) have larger ids
        // than the trade's taker and did not exist when it matched.
        for o in live
            .iter()
            .filter(|o| o.market == t.market && o.side == maker_side && o.id < t.taker_order)
        {
            prop_assert!(
                !ahead(o, t.price_ticks, t.maker_order),
                "order {:?} was skipped for maker {:?}",
                o.id,
                t.maker_order
            );
        }
    }
    Ok(())
}

/// After a command no waiting stop order is due, and every stop order that fired in it was
/// due at the price of the trade that preceded it in the events.
fn check_triggers(e: &Engine, events: &[Event]) -> Result<(), TestCaseError> {
    for t in e.waiting_triggers(None) {
        let last = e.last_price_ticks(t.market);
        prop_assert!(last.is_some(), "stop order {:?} without a last price", t.id);
        let last = last.unwrap_or_default();
        let due = match t.direction {
            TriggerDirection::Rise => last >= t.trigger_price_ticks,
            TriggerDirection::Fall => last <= t.trigger_price_ticks,
        };
        prop_assert!(!due, "stop order {:?} is due at {} but waits", t.id, last);
    }
    // Stop orders due together fire together, so one may fire after an earlier one moved the
    // price back: a firing is checked against the range of trade prices so far in the command.
    // One accepted at exactly the last price fires before any trade, so is checked only after one.
    let mut range: [Option<(i64, i64)>; 3] = [None; 3];
    for event in events {
        match event {
            Event::Trade(t) => {
                let r = &mut range[t.market.0 as usize];
                let (low, high) = r.unwrap_or((t.price_ticks, t.price_ticks));
                *r = Some((low.min(t.price_ticks), high.max(t.price_ticks)));
            }
            Event::Trigger(t)
                if t.state != TriggerState::Waiting && t.state != TriggerState::Canceled =>
            {
                if let Some((low, high)) = range[t.market.0 as usize] {
                    let due = match t.direction {
                        TriggerDirection::Rise => high >= t.trigger_price_ticks,
                        TriggerDirection::Fall => low <= t.trigger_price_ticks,
                    };
                    prop_assert!(due, "stop order {:?} fired outside {low}..={high}", t.id);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A funded engine: 4 users with modest balances so that funds do run out sometimes.
fn setup() -> Harness {
    let mut h = Harness::new();
    for user in 0..USERS {
        for (asset, amount) in [(BTC, 400_000), (USDT, 30_000), (ETH, 400_000)] {
            h.ok(Command::Deposit {
                user: UserId(user),
                asset,
                amount,
                reference: format!("init-{user}-{}", asset.0),
            });
        }
    }
    h
}

/// A finished run: the harness, its log and the engine restored mid-way (with its log index).
type Run = (Harness, Vec<Entry>, Option<(usize, Engine)>);

/// Runs the ops with every per-command check; returns the log and the engine restored from a
/// snapshot taken after `cut` commands (with the index it was taken at).
fn run(ops: &[Op], cut: usize) -> Result<Run, TestCaseError> {
    let mut h = setup();
    let mut log: Vec<Entry> = Vec::new();
    let mut restored = None;
    for (i, op) in ops.iter().enumerate() {
        if i == cut.min(ops.len() - 1) {
            let engine = Engine::decode_snapshot(&h.e.encode_snapshot())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(engine.state_hash(), h.e.state_hash());
            restored = Some((log.len(), engine));
        }
        let command = command_of(op, &h.e);
        let repeat_of = match op {
            Op::Repeat { back } if !log.is_empty() => Some(log[back % log.len()].clone()),
            _ => None,
        };
        let id: CommandId = repeat_of
            .as_ref()
            .map_or(command_id(h.seq + 1), |r| r.header.id);
        let before = core_hash(&h.e);
        let outcome = h.with_id(id, command.clone());
        if let Some(first) = &repeat_of {
            prop_assert_eq!(&outcome, &first.outcome);
            prop_assert!(h.events.is_empty());
            prop_assert_eq!(core_hash(&h.e), before);
        } else if outcome.is_err() {
            prop_assert_eq!(core_hash(&h.e), before, "{:?} changed state", command);
        }
        check_priority(&h.events, &h.e.live_orders())?;
        check_triggers(&h.e, &h.events)?;
        let header = CommandHeader {
            seq: h.seq,
            timestamp_ms: 1_000 + h.seq as i64,
            id,
        };
        log.push(Entry {
            header,
            command,
            outcome,
            events: h.events.clone(),
        });
    }
    Ok((h, log, restored))
}

/// Fees charged in trades and withdrawals plus top-ups from outside and clawbacks (per asset)
/// equal fee revenue plus the Safeguard fund plus payouts.
fn check_fees(h: &Harness, log: &[Entry]) -> Result<(), TestCaseError> {
    let mut charged = [0_i64; 3];
    let mut paid_out = [0_i64; 3];
    // Withdrawal fees are charged too; a completion names only its withdrawal id.
    let mut held_as = std::collections::BTreeMap::new();
    for entry in log {
        for event in &entry.events {
            if let Event::Trade(t) = event {
                charged[usize::from(t.maker_fee_asset.0)] += t.maker_fee;
                charged[usize::from(t.taker_fee_asset.0)] += t.taker_fee;
            }
        }
        match (&entry.command, &entry.outcome) {
            (Command::SafeguardPayout { asset, amount, .. }, Ok(Accepted::Done)) => {
                paid_out[usize::from(asset.0)] += amount;
            }
            (
                Command::SafeguardTopUp {
                    asset,
                    amount,
                    from: TopUpSource::External { .. },
                },
                Ok(Accepted::Done),
            )
            | (Command::SafeguardClawback { asset, amount, .. }, Ok(Accepted::Done)) => {
                charged[usize::from(asset.0)] += amount;
            }
            (
                Command::WithdrawHold {
                    asset,
                    withdrawal_id,
                    ..
                },
                Ok(_),
            ) => {
                held_as.insert(*withdrawal_id, *asset);
            }
            (Command::WithdrawComplete { withdrawal_id, fee }, Ok(_)) => {
                if let Some(asset) = held_as.get(withdrawal_id) {
                    charged[usize::from(asset.0)] += fee;
                }
            }
            _ => {}
        }
    }
    for asset in ASSETS {
        let a = usize::from(asset.0);
        let kept = h.e.system_balance(asset, SystemAccount::FeeRevenue)
            + h.e.system_balance(asset, SystemAccount::Safeguard);
        prop_assert_eq!(charged[a], kept + paid_out[a], "asset {:?}", asset);
    }
    Ok(())
}

/// Feeds logged commands to `engine` and requires identical outcomes and events.
fn replay(engine: &mut Engine, log: &[Entry]) -> Result<(), TestCaseError> {
    let mut events = Vec::new();
    for entry in log {
        events.clear();
        let outcome = engine.apply(&entry.header, &entry.command, &mut events);
        prop_assert_eq!(&outcome, &entry.outcome, "seq {}", entry.header.seq);
        prop_assert_eq!(&events, &entry.events, "seq {}", entry.header.seq);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_keep_every_invariant(ops in prop::collection::vec(op(), 1..200)) {
        let (h, log, _) = run(&ops, usize::MAX)?;
        check_fees(&h, &log)?;
        for t in h.e.ledger_totals() {
            prop_assert_eq!(t.sum, 0);
        }
    }

    #[test]
    fn replay_and_snapshots_reproduce_everything(ops in prop::collection::vec(op(), 1..160), cut in any::<usize>()) {
        let cut = cut % ops.len();
        let (h, log, restored) = run(&ops, cut)?;
        let setup_engine = setup();
        let mut fresh = setup_engine.e;
        replay(&mut fresh, &log)?;
        prop_assert_eq!(fresh.state_hash(), h.e.state_hash());
        let (from, mut engine) = restored.expect("a snapshot is always taken");
        replay(&mut engine, &log[from..])?;
        prop_assert_eq!(engine.state_hash(), h.e.state_hash());
        prop_assert_eq!(engine.encode_snapshot(), h.e.encode_snapshot());
    }
}
