//! Assets and markets as the engine knows them. Both are added by journaled commands, so their
//! numeric ids are assigned in sequence and are the same on every replay.

use serde::{Deserialize, Serialize};

/// Index of an asset in the engine's asset table (order of `AddAsset` commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AssetId(pub u16);

/// Index of a market in the engine's market table (order of `AddMarket` commands).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MarketId(pub u32);

/// An asset. Balances are integer counts of `10^-scale` of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetSpec {
    /// Upper-case code, e.g. `BTC`.
    pub code: String,
    /// Display name, e.g. `Bitcoin`.
    pub name: String,
    /// Decimals of the smallest unit (8 for BTC: one unit is a satoshi).
    pub scale: u32,
}

/// A market `BASE_QUOTE`.
///
/// Prices are integer ticks of `10^-price_scale` quote per one base; sizes are integer lots of
/// `10^-size_scale` base. The spec is only valid when a tick times a lot is a whole number of
/// quote units (`quote.scale >= price_scale + size_scale`) and a lot is a whole number of base
/// units (`base.scale >= size_scale`), so every notional and every fill is exact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketSpec {
    /// `BTC_USDT`.
    pub symbol: String,
    pub base: AssetId,
    pub quote: AssetId,
    /// Decimals of the price (BitMart's `price_max_precision`).
    pub price_scale: u32,
    /// Decimals of the size; one lot is the size step and BitMart's `base_min_size`.
    pub size_scale: u32,
    /// Smallest order size in lots (1 keeps it equal to the step, as ccxt assumes).
    pub min_size_lots: i64,
    /// Largest order size in lots.
    pub max_size_lots: i64,
    /// Largest price in ticks accepted for this market.
    pub max_price_ticks: i64,
    /// Smallest order value in quote units (BitMart's `min_buy_amount`).
    pub min_notional: i64,
    /// Maker fee in millionths of what the maker receives.
    pub maker_fee_ppm: u32,
    /// Taker fee in millionths of what the taker receives.
    pub taker_fee_ppm: u32,
}
