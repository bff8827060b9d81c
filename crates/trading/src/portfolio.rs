//! A user's portfolio: every asset's available and held balance valued in the valuation asset
//! (USDT) at the last trade price of its `ASSET_USDT` market (from the durable book view, as the
//! price band uses it), and the account's value at the end of each recent hour (hourly balance
//! history × hourly closing prices).

use std::collections::BTreeMap;

use bulwark_engine::MarketId;
use bulwark_sequencer::Catalog;
use bulwark_store::StoreError;

use crate::Trading;

/// The asset balances are valued in.
pub const VALUATION_ASSET: &str = "USDT";
/// Hours of history the value chart covers (one week).
pub const HISTORY_HOURS: i64 = 24 * 7;
const HOUR_S: i64 = 3_600;
/// Candle interval of the valuation prices (minutes).
const HOUR_STEP_MINUTES: u32 = 60;

/// One asset of the portfolio, in the asset's own smallest units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub asset: String,
    pub name: String,
    pub scale: u32,
    pub available: i64,
    pub held: i64,
    /// Value of available + held in valuation-asset units; `None` when the asset has no
    /// market against the valuation asset or it never traded.
    pub value: Option<i64>,
}

/// What the portfolio page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portfolio {
    /// Every listed asset, in catalog order (zero balances included).
    pub holdings: Vec<Holding>,
    /// Sum of the valued holdings, in valuation-asset units.
    pub total_value: i64,
    /// Decimals of the valuation asset.
    pub value_scale: u32,
    /// `(hour start in seconds, value at the end of that hour)`, oldest first, for the hours
    /// since the account first held anything within the window (starting with a zero for the
    /// hour before, when that is within the window too).
    pub history: Vec<(i64, i64)>,
}

/// Converts `units` of an asset with `asset_scale` decimals at `price_ticks` (a price with
/// `price_scale` decimals in the valuation asset) into valuation units with `value_scale`.
fn value_of(
    units: i64,
    asset_scale: u32,
    price_ticks: i64,
    price_scale: u32,
    value_scale: u32,
) -> i64 {
    let numerator = i128::from(units)
        .checked_mul(i128::from(price_ticks))
        .and_then(|n| n.checked_mul(10_i128.checked_pow(value_scale)?));
    let denominator = 10_i128.checked_pow(asset_scale + price_scale);
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0 => i64::try_from(n / d).unwrap_or(i64::MAX),
        _ => i64::MAX,
    }
}

/// How one asset is priced: itself (the valuation asset) or through a market's price.
#[derive(Debug, Clone)]
enum Pricing {
    Unit,
    Market {
        id: MarketId,
        symbol: String,
        price_scale: u32,
    },
    None,
}

fn pricing(catalog: &Catalog, asset: &str) -> Pricing {
    if asset == VALUATION_ASSET {
        return Pricing::Unit;
    }
    catalog
        .markets
        .iter()
        .find(|m| {
            catalog.asset_code(m.spec.base) == asset
                && catalog.asset_code(m.spec.quote) == VALUATION_ASSET
        })
        .map_or(Pricing::None, |m| Pricing::Market {
            id: m.id,
            symbol: m.spec.symbol.clone(),
            price_scale: m.spec.price_scale,
        })
}

impl Trading {
    /// The market's last trade price, as of the latest durable batch.
    fn last_price(&self, market: MarketId) -> Option<i64> {
        self.sequencer
            .depth(market)
            .and_then(|view| view.last_price_ticks)
    }

    /// What `units` of `asset` are worth in micro-USDT at the last trade price (the unit the
    /// KYC tiers' withdrawal limits are set in); `None` when the asset has no USDT price yet.
    pub fn usdt_micros(&self, asset: &str, units: i64) -> Option<i64> {
        const MICROS_SCALE: u32 = 6;
        let catalog = self.sequencer.catalog();
        let (_, spec) = catalog.asset(asset)?;
        match pricing(&catalog, asset) {
            Pricing::Unit => Some(value_of(units, spec.scale, 1, 0, MICROS_SCALE)),
            Pricing::Market {
                id, price_scale, ..
            } => self
                .last_price(id)
                .map(|last| value_of(units, spec.scale, last, price_scale, MICROS_SCALE)),
            Pricing::None => None,
        }
    }

    /// The portfolio of `user_id` as of `now_ms`.
    pub async fn portfolio(&self, user_id: i64, now_ms: i64) -> Result<Portfolio, StoreError> {
        self.settle().await;
        let catalog = self.sequencer.catalog();
        let value_scale = catalog
            .asset(VALUATION_ASSET)
            .map_or(0, |(_, spec)| spec.scale);
        let rows = self.store.user_balances(user_id).await?;
        let mut holdings = Vec::with_capacity(catalog.assets.len());
        let mut total_value = 0_i64;
        for asset in &catalog.assets {
            let (available, held) = rows
                .iter()
                .find(|r| r.asset == asset.code)
                .map_or((0, 0), |r| (r.available, r.held));
            let total = available.saturating_add(held);
            let value = match pricing(&catalog, &asset.code) {
                Pricing::Unit => Some(total),
                Pricing::Market {
                    id, price_scale, ..
                } => self
                    .last_price(id)
                    .map(|last| value_of(total, asset.scale, last, price_scale, value_scale)),
                Pricing::None => None,
            };
            total_value = total_value.saturating_add(value.unwrap_or(0));
            holdings.push(Holding {
                asset: asset.code.clone(),
                name: asset.name.clone(),
                scale: asset.scale,
                available,
                held,
                value,
            });
        }
        let history = self
            .value_history(&catalog, user_id, now_ms, value_scale)
            .await?;
        Ok(Portfolio {
            holdings,
            total_value,
            value_scale,
            history,
        })
    }

    /// The account's value at the end of each of the last [`HISTORY_HOURS`] hours: each
    /// asset's last total at or before the hour times its last hourly close at or before it.
    async fn value_history(
        &self,
        catalog: &Catalog,
        user_id: i64,
        now_ms: i64,
        value_scale: u32,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let now_hour = now_ms.div_euclid(1_000).div_euclid(HOUR_S) * HOUR_S;
        let since = now_hour - (HISTORY_HOURS - 1) * HOUR_S;
        let rows = self.store.balance_hours_since(user_id, since).await?;
        // Per asset: its totals by hour, and its hourly closes by hour.
        let mut totals: BTreeMap<&str, BTreeMap<i64, i64>> = BTreeMap::new();
        for row in &rows {
            totals
                .entry(row.asset.as_str())
                .or_default()
                .insert(row.hour_s, row.total);
        }
        // Per priced asset other than the valuation asset: its hourly closes and the scales.
        let mut closes: BTreeMap<&str, (BTreeMap<i64, i64>, u32, u32)> = BTreeMap::new();
        for asset in totals.keys() {
            let scale = catalog.asset(asset).map_or(0, |(_, spec)| spec.scale);
            match pricing(catalog, asset) {
                Pricing::Market {
                    id,
                    symbol,
                    price_scale,
                } => {
                    let candles = self
                        .store
                        .candles_before(
                            &symbol,
                            HOUR_STEP_MINUTES,
                            now_hour,
                            u32::try_from(HISTORY_HOURS + 1).unwrap_or(u32::MAX),
                        )
                        .await?;
                    let mut by_hour: BTreeMap<i64, i64> =
                        candles.iter().map(|c| (c.open_s, c.close_ticks)).collect();
                    if by_hour.is_empty()
                        && let Some(last) = self.last_price(id)
                    {
                        by_hour.insert(since, last);
                    }
                    closes.insert(asset, (by_hour, scale, price_scale));
                }
                Pricing::Unit | Pricing::None => {}
            }
        }
        let first_hour = rows.iter().map(|r| r.hour_s).min().unwrap_or(now_hour);
        let mut history = Vec::new();
        // Before its first balance the account held nothing: a new account's chart starts
        // from zero instead of waiting an hour for a second point.
        if !rows.is_empty() && first_hour > since {
            history.push((first_hour - HOUR_S, 0));
        }
        let mut hour = since.max(first_hour);
        while hour <= now_hour {
            let mut value = 0_i64;
            for (asset, by_hour) in &totals {
                let total = by_hour.range(..=hour).next_back().map_or(0, |(_, t)| *t);
                if *asset == VALUATION_ASSET {
                    value = value.saturating_add(total);
                } else if let Some((prices, scale, price_scale)) = closes.get(asset)
                    && let Some((_, close)) = prices
                        .range(..=hour)
                        .next_back()
                        .or_else(|| prices.iter().next())
                {
                    value = value.saturating_add(value_of(
                        total,
                        *scale,
                        *close,
                        *price_scale,
                        value_scale,
                    ));
                }
            }
            history.push((hour, value));
            hour += HOUR_S;
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_converts_between_scales() {
        // 1.5 BTC (8 decimals) at 30000.25 (2 decimals) in USDT with 6 decimals.
        assert_eq!(value_of(150_000_000, 8, 3_000_025, 2, 6), 45_000_375_000);
        // The valuation asset priced at 1 with its own scale is itself.
        assert_eq!(value_of(12_345, 6, 1_000_000, 6, 6), 12_345);
        assert_eq!(value_of(0, 8, 3_000_025, 2, 6), 0);
    }
}
