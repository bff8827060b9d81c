//! What the API fuzz targets share: a catalog with two markets, as the server has after genesis.
#![forbid(unsafe_code)]

use bulwark_engine::{AssetId, AssetSpec, Command, CommandHeader, Engine, MarketSpec};
use bulwark_sequencer::Catalog;
use bulwark_types::CommandId;

/// BTC, ETH and USDT with BTC_USDT and ETH_USDT, built through the engine like the real one.
pub fn catalog() -> Catalog {
    let mut engine = Engine::new();
    let asset = |code: &str, scale| {
        Command::AddAsset(AssetSpec {
            code: code.into(),
            name: code.into(),
            scale,
        })
    };
    let market = |symbol: &str, base| {
        Command::AddMarket(MarketSpec {
            symbol: symbol.into(),
            base: AssetId(base),
            quote: AssetId(2),
            price_scale: 2,
            size_scale: 5,
            min_size_lots: 1,
            max_size_lots: 1_000_000_000,
            max_price_ticks: 100_000_000,
            min_notional: 0,
            maker_fee_ppm: 1_000,
            taker_fee_ppm: 2_000,
        })
    };
    let commands = [
        asset("BTC", 8),
        asset("ETH", 8),
        asset("USDT", 6),
        market("BTC_USDT", 0),
        market("ETH_USDT", 1),
    ];
    let mut events = Vec::new();
    for (seq, command) in (1..).zip(commands.iter()) {
        let header = CommandHeader {
            seq,
            timestamp_ms: 0,
            id: CommandId([seq as u8; 16]),
        };
        let _ = engine.apply(&header, command, &mut events);
    }
    Catalog::from_engine(&engine)
}
