//! Integer units to the decimal strings of the API, per market and asset.

use bulwark_engine::{AssetSpec, MarketSpec};
use bulwark_sequencer::Catalog;
use bulwark_types::format_units;

/// A market with both of its assets resolved, for formatting.
pub struct MarketFormat<'a> {
    pub spec: &'a MarketSpec,
    pub base: &'a AssetSpec,
    pub quote: &'a AssetSpec,
}

impl<'a> MarketFormat<'a> {
    pub fn resolve(catalog: &'a Catalog, spec: &'a MarketSpec) -> Option<MarketFormat<'a>> {
        Some(MarketFormat {
            spec,
            base: catalog.asset_spec(spec.base)?,
            quote: catalog.asset_spec(spec.quote)?,
        })
    }

    pub fn price(&self, ticks: i64) -> String {
        format_units(ticks, self.spec.price_scale)
    }

    pub fn size(&self, lots: i64) -> String {
        format_units(lots, self.spec.size_scale)
    }

    pub fn quote(&self, units: i64) -> String {
        format_units(units, self.quote.scale)
    }

    pub fn base(&self, units: i64) -> String {
        format_units(units, self.base.scale)
    }

    /// Quote units of one lot at one tick.
    pub fn quote_per_tick_lot(&self) -> i128 {
        let exponent = self
            .quote
            .scale
            .saturating_sub(self.spec.price_scale + self.spec.size_scale);
        10_i128.pow(exponent)
    }

    /// What an order of `kind` is worth in quote units: a market order's notional as given,
    /// any other price × size.
    pub fn order_notional(
        &self,
        kind: &str,
        price_ticks: i64,
        size_lots: i64,
        notional: i64,
    ) -> i64 {
        if kind == "market" {
            return notional;
        }
        i64::try_from(i128::from(price_ticks) * i128::from(size_lots) * self.quote_per_tick_lot())
            .unwrap_or(i64::MAX)
    }

    /// Average price of `quote_units` exchanged for `lots`, at quote precision (`"0.00"` when
    /// nothing filled).
    pub fn average_price(&self, quote_units: i64, lots: i64) -> String {
        if lots <= 0 {
            return format_units(0, self.spec.price_scale);
        }
        let scaled = i128::from(quote_units) * 10_i128.pow(self.spec.size_scale) / i128::from(lots);
        format_units(i64::try_from(scaled).unwrap_or(i64::MAX), self.quote.scale)
    }
}
