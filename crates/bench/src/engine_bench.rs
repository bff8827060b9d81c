//! ENGINE: BOOK-A through the full in-process engine (`Engine::apply`): sequencing and the
//! idempotency window, validation, balance holds and releases, matching, fees, ledger
//! transfers and events. No journal and no I/O; those are the "durable" benchmark's business.
//!
//! Setup (untimed): assets BASE and USDT with scale 0 and market TEST_USDT with price and size
//! scale 0, so workload prices and quantities are ticks and lots 1:1; 1,000 users funded far
//! beyond any hold. Every order uses `StpMode::None`, so fills equal the reference model's even
//! when a user meets their own order. A workload market buy becomes an IOC buy at the market's
//! maximum price (the engine sizes a true market buy by quote notional, the workload by lots);
//! a market sell is a true market order.

use std::io::Write;

use bulwark_engine::{
    Accepted, AssetId, AssetSpec, Command, CommandHeader, Engine, Event, MarketId, MarketSpec,
    NewOrder, OrderKind, OrderTarget, Outcome, StpMode,
};
use bulwark_types::{CommandId, OrderId, Side, UserId};

use crate::harness::{OpEffect, RunConfig, Subject, measure};
use crate::stats::timer_overhead_ns;
use crate::workload::{BOOK_A, MAX_PRICE_TICKS, Op, generate};
use crate::{BenchError, BenchOptions, BenchResult, emit, make_result};

/// Name of this benchmark in results.
pub const BENCHMARK: &str = "engine";
/// Name of the subject in results.
pub const ENGINE_NAME: &str = "bulwark-engine";

/// Users the workload's orders are spread over (round robin by workload id), as exchange-core's
/// single-book test does; keeps each user far below the open-order limit.
pub const BENCH_USERS: u64 = 1_000;
/// Deposit per user and asset: more than any user can ever have on hold in the workload.
pub const BENCH_DEPOSIT_UNITS: i64 = 1_000_000_000_000;
/// Maker and taker fees, small but non-zero so that the fee path is part of the measurement.
pub const BENCH_MAKER_FEE_PPM: u32 = 1_000;
pub const BENCH_TAKER_FEE_PPM: u32 = 2_000;
/// Largest order size the market accepts (the workload's largest is 300).
pub const BENCH_MAX_SIZE_LOTS: i64 = 1_000_000;

const MARKET: MarketId = MarketId(0);
const BASE: AssetId = AssetId(0);
const QUOTE: AssetId = AssetId(1);

/// Runs ENGINE on the requested workloads (default BOOK-A).
pub fn run(options: &BenchOptions, out: &mut dyn Write) -> Result<Vec<BenchResult>, BenchError> {
    let specs = if options.workloads.is_empty() {
        vec![BOOK_A]
    } else {
        options.workloads.clone()
    };
    let config = RunConfig {
        throughput_runs: options.runs,
        latency_pass: options.latency_pass,
    };
    let timer_ns = timer_overhead_ns();
    let mut results = Vec::new();
    for spec in &specs {
        let workload = generate(spec);
        let max_id = workload.max_id();
        let measurement = measure(&workload, config, || EngineSubject::new(max_id))?;
        let result = make_result(BENCHMARK, &workload, ENGINE_NAME, &measurement, timer_ns);
        emit(out, &result)?;
        results.push(result);
    }
    Ok(results)
}

/// The engine plus what the driver needs to turn workload ops into commands.
pub struct EngineSubject {
    engine: Engine,
    events: Vec<Event>,
    next_seq: u64,
    /// Engine order id of each workload id (0 until placed).
    ids: Vec<u64>,
    /// Commands the engine refused during the measured ops; any refusal is a setup bug.
    pub rejected: u64,
}

impl EngineSubject {
    /// A funded engine with one market, ready for the workload. `max_id` sizes the id map.
    pub fn new(max_id: u32) -> Result<Self, BenchError> {
        let mut subject = EngineSubject {
            engine: Engine::new(),
            events: Vec::with_capacity(64),
            next_seq: 1,
            ids: vec![0; max_id as usize + 1],
            rejected: 0,
        };
        for command in setup_commands() {
            subject
                .submit(&command)
                .map_err(|reject| BenchError::EngineSetup(format!("{command:?}: {reject}")))?;
        }
        Ok(subject)
    }

    /// Sequences and applies one command; the events stay in `self.events` until the next one.
    fn submit(&mut self, command: &Command) -> Outcome {
        let seq = self.next_seq;
        self.next_seq += 1;
        let header = CommandHeader {
            seq,
            timestamp_ms: i64::try_from(seq).unwrap_or(i64::MAX),
            id: CommandId(u128::from(seq).to_le_bytes()),
        };
        self.events.clear();
        self.engine.apply(&header, command, &mut self.events)
    }

    fn traded_lots(&self) -> u64 {
        self.events
            .iter()
            .map(|e| match e {
                Event::Trade(t) => u64::try_from(t.size_lots).unwrap_or(0),
                _ => 0,
            })
            .sum()
    }

    fn place(&mut self, id: u32, command: &Command) -> OpEffect {
        match self.submit(command) {
            Ok(Accepted::Order {
                id: OrderId(engine_id),
            }) => {
                if let Some(slot) = self.ids.get_mut(id as usize) {
                    *slot = engine_id;
                }
                OpEffect {
                    filled_lots: self.traded_lots(),
                    cancelled: false,
                }
            }
            _ => {
                self.rejected += 1;
                OpEffect::default()
            }
        }
    }

    fn cancel(&mut self, id: u32) -> OpEffect {
        let engine_id = self.ids.get(id as usize).copied().unwrap_or(0);
        let command = Command::CancelOrder {
            user: user_of(id),
            target: OrderTarget::Id(OrderId(engine_id)),
        };
        let cancelled = matches!(self.submit(&command), Ok(Accepted::Cancelled { .. }));
        if !cancelled {
            self.rejected += 1;
        }
        OpEffect {
            filled_lots: 0,
            cancelled,
        }
    }
}

impl Subject for EngineSubject {
    fn apply(&mut self, op: &Op) -> OpEffect {
        match *op {
            Op::Limit {
                id,
                buy,
                price,
                qty,
            } => self.place(id, &place_command(id, buy, OrderKind::Limit, price, qty)),
            Op::Market { id, buy: true, qty } => self.place(
                id,
                &place_command(id, true, OrderKind::Ioc, MAX_PRICE_TICKS, qty),
            ),
            Op::Market {
                id,
                buy: false,
                qty,
            } => self.place(id, &place_command(id, false, OrderKind::Market, 0, qty)),
            Op::Cancel { id } => self.cancel(id),
        }
    }

    fn verify_end(&mut self) -> Result<(), String> {
        if self.rejected > 0 {
            return Err(format!(
                "engine rejected {} workload commands",
                self.rejected
            ));
        }
        self.engine.check_invariants().map_err(|e| e.to_string())
    }
}

/// The user owning workload order `id`.
pub fn user_of(id: u32) -> UserId {
    UserId(u64::from(id) % BENCH_USERS + 1)
}

fn place_command(id: u32, buy: bool, kind: OrderKind, price: u32, qty: u32) -> Command {
    Command::PlaceOrder(NewOrder {
        user: user_of(id),
        market: MARKET,
        side: if buy { Side::Buy } else { Side::Sell },
        kind,
        price_ticks: i64::from(price),
        size_lots: i64::from(qty),
        notional: 0,
        client_order_id: None,
        stp: StpMode::None,
    })
}

/// Assets, the market and one deposit of each asset per user.
/// Assets, one market and funded users: the setup every engine-level benchmark starts from.
pub fn setup_commands() -> Vec<Command> {
    let asset = |code: &str| {
        Command::AddAsset(AssetSpec {
            code: code.to_owned(),
            name: code.to_owned(),
            scale: 0,
        })
    };
    let mut commands = vec![
        asset("BASE"),
        asset("USDT"),
        Command::AddMarket(MarketSpec {
            symbol: "BASE_USDT".to_owned(),
            base: BASE,
            quote: QUOTE,
            price_scale: 0,
            size_scale: 0,
            min_size_lots: 1,
            max_size_lots: BENCH_MAX_SIZE_LOTS,
            max_price_ticks: i64::from(MAX_PRICE_TICKS),
            min_notional: 1,
            maker_fee_ppm: BENCH_MAKER_FEE_PPM,
            taker_fee_ppm: BENCH_TAKER_FEE_PPM,
        }),
    ];
    for user in 1..=BENCH_USERS {
        for asset in [BASE, QUOTE] {
            commands.push(Command::Deposit {
                user: UserId(user),
                asset,
                amount: BENCH_DEPOSIT_UNITS,
                reference: format!("bench-{user}-{}", asset.0),
            });
        }
    }
    commands
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
    use crate::report::{FingerprintCheck, FingerprintStatus};
    use crate::workload::WorkloadSpec;

    #[test]
    fn small_book_a_prefix_matches_the_reference_and_keeps_invariants() {
        let spec = WorkloadSpec {
            measured_ops: 20_000,
            ..BOOK_A
        };
        let workload = generate(&spec);
        let config = RunConfig {
            throughput_runs: 1,
            latency_pass: false,
        };
        let max_id = workload.max_id();
        let m = measure(&workload, config, || EngineSubject::new(max_id)).unwrap();
        let check = FingerprintCheck::new(&workload.reference, &m);
        assert_eq!(check.status, FingerprintStatus::Match, "{check:?}");
    }

    #[test]
    fn market_orders_of_both_sides_trade() {
        let mut subject = EngineSubject::new(10).unwrap();
        let limit = |id, buy, price| Op::Limit {
            id,
            buy,
            price,
            qty: 10,
        };
        subject.apply(&limit(1, true, 100));
        subject.apply(&limit(2, false, 200));
        let buy = subject.apply(&Op::Market {
            id: 3,
            buy: true,
            qty: 15,
        });
        assert_eq!(buy.filled_lots, 10);
        let sell = subject.apply(&Op::Market {
            id: 4,
            buy: false,
            qty: 4,
        });
        assert_eq!(sell.filled_lots, 4);
        assert!(subject.apply(&Op::Cancel { id: 1 }).cancelled);
        assert_eq!(subject.rejected, 0);
        subject.verify_end().unwrap();
    }
}
