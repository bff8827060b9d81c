//! The price band: a limit order may not cross the market's last trade price by more than
//! [`PRICE_BAND_PERCENT`], so a mistyped price (an extra digit on a buy, a missing one on a sell)
//! is refused instead of sweeping the book. Only the aggressive direction is limited: a buy far
//! below or a sell far above the market only rests. Market orders carry no price, and a market
//! that never traded has no band. The last price comes from the durable book view the sequencer
//! publishes, so the check costs no read.

use bulwark_engine::{Command, NewOrder, OrderKind};
use bulwark_types::Side;

use crate::Trading;

/// How far past the last trade price a limit order may be placed, in percent.
pub const PRICE_BAND_PERCENT: i64 = 20;

/// A limit order outside the band: `limit_ticks` is the furthest price allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutsideBand {
    pub side: Side,
    pub limit_ticks: i64,
    pub last_ticks: i64,
}

/// The band check of one order against `last_ticks`.
pub fn check_order(order: &NewOrder, last_ticks: Option<i64>) -> Result<(), OutsideBand> {
    let Some(last_ticks) = last_ticks.filter(|last| *last > 0) else {
        return Ok(());
    };
    if order.kind == OrderKind::Market {
        return Ok(());
    }
    let last = i128::from(last_ticks);
    let percent = i128::from(PRICE_BAND_PERCENT);
    let price = i128::from(order.price_ticks);
    let outside = |limit: i128| OutsideBand {
        side: order.side,
        limit_ticks: i64::try_from(limit).unwrap_or(i64::MAX),
        last_ticks,
    };
    match order.side {
        // Rounded towards the last price, so the band never admits more than it says.
        Side::Buy => {
            let highest = last * (100 + percent) / 100;
            if price > highest {
                return Err(outside(highest));
            }
        }
        Side::Sell => {
            let lowest = (last * (100 - percent) + 99) / 100;
            if price < lowest {
                return Err(outside(lowest));
            }
        }
    }
    Ok(())
}

impl Trading {
    /// The band check of `command`: an order at the market's last price, a stop order's
    /// limit order at its stop price (the price it will meet when it fires).
    pub fn check_band(&self, command: &Command) -> Result<(), OutsideBand> {
        match command {
            Command::PlaceOrder(order) => {
                let last = self
                    .sequencer
                    .depth(order.market)
                    .and_then(|view| view.last_price_ticks);
                check_order(order, last)
            }
            Command::PlaceTrigger(trigger) => {
                check_order(&trigger.order, Some(trigger.trigger_price_ticks))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulwark_engine::{MarketId, StpMode};
    use bulwark_types::UserId;
    use proptest::prelude::*;

    fn order(side: Side, kind: OrderKind, price_ticks: i64) -> NewOrder {
        NewOrder {
            user: UserId(1),
            market: MarketId(0),
            side,
            kind,
            price_ticks,
            size_lots: 1,
            notional: 0,
            client_order_id: None,
            stp: StpMode::DEFAULT,
        }
    }

    #[test]
    fn the_band_limits_only_the_aggressive_side() {
        let last = Some(30_000);
        assert!(check_order(&order(Side::Buy, OrderKind::Limit, 36_000), last).is_ok());
        assert_eq!(
            check_order(&order(Side::Buy, OrderKind::Limit, 36_001), last),
            Err(OutsideBand {
                side: Side::Buy,
                limit_ticks: 36_000,
                last_ticks: 30_000
            })
        );
        assert!(check_order(&order(Side::Sell, OrderKind::PostOnly, 24_000), last).is_ok());
        assert_eq!(
            check_order(&order(Side::Sell, OrderKind::Ioc, 23_999), last)
                .map_err(|e| e.limit_ticks),
            Err(24_000)
        );
        // Resting far away is fine; market orders and untraded markets have no band.
        assert!(check_order(&order(Side::Buy, OrderKind::Limit, 1), last).is_ok());
        assert!(check_order(&order(Side::Sell, OrderKind::Limit, 9_999_999), last).is_ok());
        assert!(check_order(&order(Side::Buy, OrderKind::Market, 0), last).is_ok());
        assert!(check_order(&order(Side::Buy, OrderKind::Limit, 9_999_999), None).is_ok());
    }

    proptest! {
        /// Whatever the prices, a refused order is beyond the limit it names, and the limit is
        /// within the band around the last price.
        #[test]
        fn refusals_name_a_limit_inside_the_band(
            last in 1_i64..10_000_000_000,
            price in 1_i64..20_000_000_000,
            buy in any::<bool>(),
        ) {
            let side = if buy { Side::Buy } else { Side::Sell };
            let result = check_order(&order(side, OrderKind::Limit, price), Some(last));
            if let Err(band) = result {
                let (l, p) = (i128::from(band.limit_ticks), i128::from(last));
                if buy {
                    prop_assert!(price > band.limit_ticks);
                    prop_assert!(l * 100 <= p * (100 + i128::from(PRICE_BAND_PERCENT)));
                } else {
                    prop_assert!(price < band.limit_ticks);
                    prop_assert!(l * 100 >= p * (100 - i128::from(PRICE_BAND_PERCENT)));
                }
            }
        }
    }
}
