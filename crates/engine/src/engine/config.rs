//! Configuration commands: assets, markets, halts and the Safeguard share.
//!
//! A market spec is checked so that every amount the market can produce fits in `i64`: the
//! largest order value `max_price_ticks * max_size_lots * quote_per_tick_lot` and the largest
//! order size in base units. The matching path relies on that and uses unchecked-by-design
//! (asserted) products afterwards.

use super::{Engine, Market, MarketParams};
use crate::event::Event;
use crate::limits::{
    ASSET_CODE_LEN_MAX_CHARS, ASSET_NAME_LEN_MAX_BYTES, ASSET_SCALE_MAX, ASSETS_MAX, FEE_PPM_MAX,
    MARKET_SYMBOL_LEN_MAX_CHARS, MARKETS_MAX, SAFEGUARD_SHARE_MAX_BPS,
};
use crate::reject::{Accepted, Outcome, Reject};
use crate::spec::{AssetId, AssetSpec, MarketId, MarketSpec};

fn invalid(message: &str) -> Reject {
    Reject::InvalidSpec(message.to_string())
}

/// `10^exponent` when it fits.
fn pow10(exponent: u32) -> Option<i64> {
    10_i64.checked_pow(exponent)
}

impl Engine {
    /// `AddAsset`: a new asset with the next id.
    pub(super) fn add_asset(&mut self, spec: &AssetSpec, events: &mut Vec<Event>) -> Outcome {
        if self.assets.len() >= ASSETS_MAX {
            return Err(invalid("too many assets"));
        }
        let code_ok = (1..=ASSET_CODE_LEN_MAX_CHARS).contains(&spec.code.len())
            && spec
                .code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !code_ok {
            return Err(invalid(
                "asset code must be 1 to 16 upper-case letters or digits",
            ));
        }
        if self.assets.iter().any(|a| a.code == spec.code) {
            return Err(invalid("asset code already exists"));
        }
        if spec.name.len() > ASSET_NAME_LEN_MAX_BYTES {
            return Err(invalid("asset name is longer than 64 bytes"));
        }
        if spec.scale > ASSET_SCALE_MAX {
            return Err(invalid("asset scale must be at most 18"));
        }
        let id = AssetId(u16::try_from(self.assets.len()).map_err(|_| invalid("too many assets"))?);
        self.assets.push(spec.clone());
        self.ledger.add_asset();
        events.push(Event::AssetAdded {
            id,
            spec: spec.clone(),
        });
        Ok(Accepted::Done)
    }

    /// The unit factors of a market, or why its spec is unusable.
    pub(crate) fn derive_params(&self, spec: &MarketSpec) -> Result<MarketParams, Reject> {
        let asset = |id: AssetId| {
            self.assets
                .get(usize::from(id.0))
                .ok_or(Reject::UnknownAsset)
        };
        let (base, quote) = (asset(spec.base)?, asset(spec.quote)?);
        if spec.base == spec.quote {
            return Err(invalid("base and quote must differ"));
        }
        let quote_exp = quote
            .scale
            .checked_sub(spec.price_scale)
            .and_then(|e| e.checked_sub(spec.size_scale))
            .ok_or_else(|| invalid("quote scale must be at least price_scale + size_scale"))?;
        let base_exp = base
            .scale
            .checked_sub(spec.size_scale)
            .ok_or_else(|| invalid("base scale must be at least size_scale"))?;
        let quote_per_tick_lot =
            pow10(quote_exp).ok_or_else(|| invalid("quote scale too large"))?;
        let base_per_lot = pow10(base_exp).ok_or_else(|| invalid("base scale too large"))?;
        Ok(MarketParams {
            base: spec.base,
            quote: spec.quote,
            quote_per_tick_lot,
            base_per_lot,
            maker_fee_ppm: spec.maker_fee_ppm,
            taker_fee_ppm: spec.taker_fee_ppm,
        })
    }

    /// Limits of a spec that must hold whatever the assets are.
    pub(crate) fn check_market_limits(
        spec: &MarketSpec,
        params: &MarketParams,
    ) -> Result<(), Reject> {
        let symbol_ok = (1..=MARKET_SYMBOL_LEN_MAX_CHARS).contains(&spec.symbol.len())
            && spec
                .symbol
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !symbol_ok {
            return Err(invalid(
                "symbol must be 1 to 32 upper-case letters, digits or '_'",
            ));
        }
        if spec.min_size_lots < 1 || spec.max_size_lots < spec.min_size_lots {
            return Err(invalid(
                "size limits must satisfy 1 <= min_size_lots <= max_size_lots",
            ));
        }
        if spec.max_price_ticks < 1 {
            return Err(invalid("max_price_ticks must be at least 1"));
        }
        if spec.min_notional < 0 {
            return Err(invalid("min_notional must not be negative"));
        }
        if spec.maker_fee_ppm > FEE_PPM_MAX || spec.taker_fee_ppm > FEE_PPM_MAX {
            return Err(invalid("fees must be at most 100000 ppm (10%)"));
        }
        let max_value = spec
            .max_price_ticks
            .checked_mul(spec.max_size_lots)
            .and_then(|v| v.checked_mul(params.quote_per_tick_lot));
        if max_value.is_none() {
            return Err(invalid(
                "max_price_ticks x max_size_lots overflows the quote amount",
            ));
        }
        if spec
            .max_size_lots
            .checked_mul(params.base_per_lot)
            .is_none()
        {
            return Err(invalid("max_size_lots overflows the base amount"));
        }
        Ok(())
    }

    /// `AddMarket`: a new market with the next id and an empty book.
    pub(super) fn add_market(&mut self, spec: &MarketSpec, events: &mut Vec<Event>) -> Outcome {
        if self.markets.len() >= MARKETS_MAX {
            return Err(invalid("too many markets"));
        }
        let params = self.derive_params(spec)?;
        Engine::check_market_limits(spec, &params)?;
        if self.markets.iter().any(|m| m.spec.symbol == spec.symbol) {
            return Err(invalid("market symbol already exists"));
        }
        let id =
            MarketId(u32::try_from(self.markets.len()).map_err(|_| invalid("too many markets"))?);
        self.markets.push(Market::new(spec.clone(), false, params));
        events.push(Event::MarketAdded {
            id,
            spec: spec.clone(),
        });
        Ok(Accepted::Done)
    }

    /// `Halt` / `Resume`: one market, or everything when `market` is `None`. Cancels keep
    /// working while halted; only new orders are refused.
    pub(super) fn set_halt(
        &mut self,
        market: Option<MarketId>,
        halted: bool,
        events: &mut Vec<Event>,
    ) -> Outcome {
        match market {
            None => {
                self.global_halted = halted;
                events.push(Event::GlobalHalted { halted });
            }
            Some(id) => {
                let m = self
                    .markets
                    .get_mut(id.0 as usize)
                    .ok_or(Reject::UnknownMarket)?;
                m.halted = halted;
                events.push(Event::MarketHalted { market: id, halted });
            }
        }
        Ok(Accepted::Done)
    }

    /// `SetSafeguardShare`: the fund's share of every later fee.
    pub(super) fn set_safeguard_share(
        &mut self,
        share_bps: u32,
        events: &mut Vec<Event>,
    ) -> Outcome {
        if share_bps > SAFEGUARD_SHARE_MAX_BPS {
            return Err(invalid("share_bps must be at most 10000"));
        }
        self.safeguard_share_bps = share_bps;
        events.push(Event::SafeguardShareSet { share_bps });
        Ok(Accepted::Done)
    }
}
