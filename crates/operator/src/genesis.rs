//! The assets and markets a new exchange starts with. They are created by ordinary journaled
//! commands on first start, so replay rebuilds them like everything else.

use crate::command_id_for;
use bulwark_engine::{AssetId, AssetSpec, Command, MarketSpec};
use bulwark_types::CommandId;

fn asset(code: &str, name: &str) -> AssetSpec {
    AssetSpec {
        code: code.into(),
        name: name.into(),
        scale: 8,
    }
}

#[allow(clippy::too_many_arguments)]
fn market(
    symbol: &str,
    base: u16,
    quote: u16,
    price_scale: u32,
    size_scale: u32,
    max_size_lots: i64,
    max_price_ticks: i64,
    min_notional: i64,
) -> MarketSpec {
    MarketSpec {
        symbol: symbol.into(),
        base: AssetId(base),
        quote: AssetId(quote),
        price_scale,
        size_scale,
        min_size_lots: 1,
        max_size_lots,
        max_price_ticks,
        min_notional,
        maker_fee_ppm: 1_000,
        taker_fee_ppm: 2_000,
    }
}

/// BTC, ETH, USDT, BMX (8 decimals each) and BTC_USDT, ETH_USDT, ETH_BTC, BMX_USDT. Fees: maker
/// 0.1%, taker 0.2%. Minimum order value 5 USDT (0.0001 BTC on ETH_BTC).
pub fn default_commands() -> Vec<(CommandId, Command)> {
    let assets = [
        asset("BTC", "Bitcoin"),
        asset("ETH", "Ethereum"),
        asset("USDT", "Tether USD"),
        asset("BMX", "BitMart Token"),
    ];
    let markets = [
        // Max size x max price x (quote units per tick-lot) stays within i64, as the engine requires.
        market(
            "BTC_USDT",
            0,
            2,
            2,
            5,
            1_000_000_000,
            100_000_000,
            500_000_000,
        ),
        market(
            "ETH_USDT",
            1,
            2,
            2,
            4,
            1_000_000_000,
            10_000_000,
            500_000_000,
        ),
        market("ETH_BTC", 1, 0, 6, 2, 10_000_000, 10_000_000, 10_000),
        market("BMX_USDT", 3, 2, 4, 0, 100_000_000, 1_000_000, 500_000_000),
    ];
    let mut commands: Vec<(CommandId, Command)> = assets
        .into_iter()
        .map(|a| {
            (
                command_id_for(&format!("genesis:asset:{}", a.code)),
                Command::AddAsset(a),
            )
        })
        .collect();
    commands.extend(markets.into_iter().map(|m| {
        (
            command_id_for(&format!("genesis:market:{}", m.symbol)),
            Command::AddMarket(m),
        )
    }));
    commands
}
