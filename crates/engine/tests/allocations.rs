//! The engine's thread allocates nothing per command once its structures have grown to the
//! load: orders with client ids rest, fill partly, fill fully and are cancelled by client id,
//! round after round, and not one heap allocation is made while they are applied.
//!
//! Every command of the exchange goes through `Engine::apply` on one thread, so an allocation
//! there is paid (with its free, often on another thread) by every order, and at a million
//! commands a second it shows (docs/BENCHMARKS.md, RECOVERY with client order ids held inline).
//! The counter counts this thread's allocations only, so other tests running meanwhile do not
//! disturb it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bulwark_engine::{
    AssetId, AssetSpec, ClientOrderId, Command, CommandHeader, Engine, MarketId, MarketSpec,
    NewOrder, OrderKind, OrderTarget, StpMode,
};
use bulwark_types::{CommandId, Side, UserId};

const MAKER: UserId = UserId(1);
const TAKER: UserId = UserId(2);
/// Distinct client ids in use (each is free again before it comes round).
const IDS: usize = 64;
const WARM_UP_ROUNDS: usize = 2_000;
const MEASURED_ROUNDS: usize = 2_000;

fn header(seq: u64) -> CommandHeader {
    let mut id = [0_u8; 16];
    id[..8].copy_from_slice(&seq.to_le_bytes());
    CommandHeader {
        seq,
        timestamp_ms: i64::try_from(seq).unwrap(),
        id: CommandId(id),
    }
}

fn setup() -> Vec<Command> {
    let asset = |code: &str| {
        Command::AddAsset(AssetSpec {
            code: code.to_owned(),
            name: code.to_owned(),
            scale: 8,
        })
    };
    let mut commands = vec![
        asset("BTC"),
        asset("USDT"),
        Command::AddMarket(MarketSpec {
            symbol: "BTC_USDT".to_owned(),
            base: AssetId(0),
            quote: AssetId(1),
            price_scale: 2,
            size_scale: 4,
            min_size_lots: 1,
            max_size_lots: 1_000_000,
            max_price_ticks: 100_000_000,
            min_notional: 1,
            maker_fee_ppm: 1_000,
            taker_fee_ppm: 2_000,
        }),
    ];
    for user in [MAKER, TAKER] {
        for asset in [AssetId(0), AssetId(1)] {
            commands.push(Command::Deposit {
                user,
                asset,
                amount: 1_000_000_000_000_000,
                reference: format!("setup-{}-{}", user.0, asset.0),
            });
        }
    }
    commands
}

fn order(user: UserId, side: Side, kind: OrderKind, price: i64, lots: i64) -> NewOrder {
    NewOrder {
        user,
        market: MarketId(0),
        side,
        kind,
        price_ticks: price,
        size_lots: lots,
        notional: 0,
        client_order_id: None,
        stp: StpMode::None,
    }
}

/// One round: a sell rests and is filled in two steps, another rests and is cancelled by its
/// client id; the book is empty again at the end.
fn round(ids: &[ClientOrderId], k: usize) -> [Command; 5] {
    let filled = ids[k % IDS];
    let cancelled = ids[(k + IDS / 2) % IDS];
    let price = 3_000_000 + i64::try_from(k % 7).unwrap();
    [
        Command::PlaceOrder(NewOrder {
            client_order_id: Some(filled),
            ..order(MAKER, Side::Sell, OrderKind::Limit, price, 10)
        }),
        Command::PlaceOrder(NewOrder {
            client_order_id: Some(cancelled),
            ..order(MAKER, Side::Sell, OrderKind::Limit, price + 5, 3)
        }),
        Command::PlaceOrder(order(TAKER, Side::Buy, OrderKind::Limit, price, 4)),
        Command::PlaceOrder(order(TAKER, Side::Buy, OrderKind::Ioc, price, 6)),
        Command::CancelOrder {
            user: MAKER,
            target: OrderTarget::Client(cancelled),
        },
    ]
}

#[test]
fn steady_order_flow_with_client_ids_allocates_nothing() {
    let ids: Vec<ClientOrderId> = (0..IDS)
        .map(|n| format!("client{n}").parse().unwrap())
        .collect();
    let rounds = |from: usize, count: usize| -> Vec<Command> {
        (from..from + count).flat_map(|k| round(&ids, k)).collect()
    };
    let (warm_up, measured) = (
        rounds(0, WARM_UP_ROUNDS),
        rounds(WARM_UP_ROUNDS, MEASURED_ROUNDS),
    );
    let mut engine = Engine::new();
    let mut events = Vec::new();
    let mut seq = 0;
    let mut apply = |engine: &mut Engine, events: &mut Vec<_>, command: &Command| {
        seq += 1;
        events.clear();
        let outcome = engine.apply(&header(seq), command, events);
        assert!(outcome.is_ok(), "command {seq}: {outcome:?}");
    };
    for command in setup().iter().chain(&warm_up) {
        apply(&mut engine, &mut events, command);
    }
    let info = allocation_counter::measure(|| {
        for command in &measured {
            apply(&mut engine, &mut events, command);
        }
    });
    assert_eq!(
        info.count_total,
        0,
        "{} allocations ({} bytes) over {} commands",
        info.count_total,
        info.bytes_total,
        measured.len()
    );
    engine.check_invariants().unwrap();
    assert!(engine.open_orders(MAKER, None).is_empty());
}
