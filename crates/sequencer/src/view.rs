//! Read models published by the writer after each durable batch: the catalog of assets and
//! markets, and the top of every book. Readers (the HTTP API) take an `Arc` and never touch the
//! engine, so market-data reads cost the sequencer nothing.

use bulwark_engine::{AssetSpec, Engine, MarketId, MarketSpec};

/// A market with its live status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketInfo {
    pub id: MarketId,
    pub spec: MarketSpec,
    pub halted: bool,
}

/// Assets, markets and halts as of a durable sequence number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    pub assets: Vec<AssetSpec>,
    pub markets: Vec<MarketInfo>,
    pub global_halted: bool,
    pub safeguard_share_bps: u32,
}

impl Catalog {
    /// The catalog of an engine's current state.
    pub fn from_engine(engine: &Engine) -> Catalog {
        Catalog {
            assets: engine.assets().to_vec(),
            markets: engine
                .markets()
                .iter()
                .map(|market| MarketInfo {
                    id: market.id,
                    spec: market.spec.clone(),
                    halted: market.halted,
                })
                .collect(),
            global_halted: engine.global_halted(),
            safeguard_share_bps: engine.safeguard_share_bps(),
        }
    }

    /// The asset code by engine id, or `?` for an id the catalog does not know.
    pub fn asset_code(&self, id: bulwark_engine::AssetId) -> &str {
        self.asset_spec(id).map_or("?", |a| a.code.as_str())
    }

    /// Looks a market up by its `BASE_QUOTE` symbol.
    pub fn market(&self, symbol: &str) -> Option<&MarketInfo> {
        self.markets.iter().find(|m| m.spec.symbol == symbol)
    }

    /// Looks an asset up by its code; returns its id and spec.
    pub fn asset(&self, code: &str) -> Option<(bulwark_engine::AssetId, &AssetSpec)> {
        self.assets
            .iter()
            .enumerate()
            .find(|(_, a)| a.code == code)
            .and_then(|(i, a)| Some((bulwark_engine::AssetId(u16::try_from(i).ok()?), a)))
    }

    /// The spec of an asset by id.
    pub fn asset_spec(&self, id: bulwark_engine::AssetId) -> Option<&AssetSpec> {
        self.assets.get(usize::from(id.0))
    }
}

/// Aggregated top of one book: `(price_ticks, size_lots)`, best first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepthView {
    pub bids: Vec<(i64, i64)>,
    pub asks: Vec<(i64, i64)>,
    /// Sequence number of the last command reflected.
    pub seq: u64,
    pub timestamp_ms: i64,
    /// The market's last trade price as of `seq` (`None` before its first trade).
    pub last_price_ticks: Option<i64>,
}
