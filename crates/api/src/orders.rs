//! Turning BitMart order requests into engine commands, and engine rejections into BitMart
//! codes (§6.2, §9). Every rejection names the field and the limit.

use bulwark_engine::{
    ClientOrderId, ClientOrderIdError, Command, MarketSpec, NewOrder, OrderKind, Reject, StpMode,
};
use bulwark_sequencer::{Catalog, MarketInfo};
use bulwark_trading::band::OutsideBand;
use bulwark_trading::writes::SubmitFailure;
use bulwark_types::{DecimalError, Side, UserId, parse_units};
use serde_json::{Map, Value};

use crate::envelope::ApiError;
use crate::extract::text_param;

fn decimal_error(field: &str, error: &DecimalError) -> ApiError {
    ApiError::bad(50021, format!("Invalid {field}: {error}"))
}

pub fn parse_side(map: &Map<String, Value>) -> Result<Side, ApiError> {
    match text_param(map, "side").as_deref() {
        Some("buy") => Ok(Side::Buy),
        Some("sell") => Ok(Side::Sell),
        Some(other) => Err(ApiError::bad(
            52002,
            format!("Invalid side '{other}': must be buy or sell"),
        )),
        None => Err(ApiError::bad(
            52002,
            "Parameter side is required: buy or sell",
        )),
    }
}

fn parse_kind(map: &Map<String, Value>) -> Result<OrderKind, ApiError> {
    match text_param(map, "type").as_deref() {
        Some("limit") => Ok(OrderKind::Limit),
        Some("market") => Ok(OrderKind::Market),
        Some("limit_maker") => Ok(OrderKind::PostOnly),
        Some("ioc") => Ok(OrderKind::Ioc),
        Some("fok") => Ok(OrderKind::Fok),
        Some(other) => Err(ApiError::bad(
            52000,
            format!("Unsupported order type '{other}': use limit, market, limit_maker, ioc or fok"),
        )),
        None => Err(ApiError::bad(52000, "Parameter type is required")),
    }
}

fn parse_stp(map: &Map<String, Value>) -> Result<StpMode, ApiError> {
    match text_param(map, "stpMode").as_deref() {
        None => Ok(StpMode::DEFAULT),
        Some("none") => Ok(StpMode::None),
        Some("cancel_maker") => Ok(StpMode::CancelMaker),
        Some("cancel_taker") => Ok(StpMode::CancelTaker),
        Some("cancel_both") => Ok(StpMode::CancelBoth),
        Some(other) => Err(ApiError::bad(50021, format!("Invalid stpMode '{other}'"))),
    }
}

/// Validates a client order id's form (uniqueness is the engine's job).
pub fn parse_client_order_id(map: &Map<String, Value>) -> Result<Option<ClientOrderId>, ApiError> {
    match text_param(map, "client_order_id").or_else(|| text_param(map, "clientOrderId")) {
        Some(id) => client_order_id(&id),
        None => Ok(None),
    }
}

/// One client order id as given: `None` when empty, else checked for length and characters.
pub fn client_order_id(id: &str) -> Result<Option<ClientOrderId>, ApiError> {
    match ClientOrderId::new(id) {
        Ok(id) => Ok(Some(id)),
        Err(ClientOrderIdError::Empty) => Ok(None),
        Err(ClientOrderIdError::TooLong) => Err(ApiError::bad(
            50037,
            "Invalid clientOrderId: at most 32 characters",
        )),
        Err(ClientOrderIdError::NotAlphanumeric) => Err(ApiError::bad(
            50038,
            "Invalid clientOrderId: letters and digits only",
        )),
    }
}

fn field_units(map: &Map<String, Value>, field: &str, scale: u32) -> Result<Option<i64>, ApiError> {
    match text_param(map, field) {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => parse_units(&text, scale)
            .map(Some)
            .map_err(|e| decimal_error(field, &e)),
    }
}

/// The market a `symbol` parameter names, or BitMart's 50001.
pub fn market_of<'a>(catalog: &'a Catalog, symbol: &str) -> Result<&'a MarketInfo, ApiError> {
    catalog
        .market(symbol)
        .ok_or_else(|| ApiError::bad(50001, format!("Symbol not found: {symbol}")))
}

/// Builds the `PlaceOrder` command of a `submit_order` body.
pub fn new_order(
    catalog: &Catalog,
    user: UserId,
    map: &Map<String, Value>,
) -> Result<(MarketInfo, Command), ApiError> {
    let symbol = text_param(map, "symbol")
        .ok_or_else(|| ApiError::bad(50001, "Parameter symbol is required"))?;
    let market = market_of(catalog, &symbol)?.clone();
    let side = parse_side(map)?;
    let kind = parse_kind(map)?;
    let spec = &market.spec;
    let quote_scale = catalog.asset_spec(spec.quote).map_or(0, |a| a.scale);
    let size = field_units(map, "size", spec.size_scale)?;
    let price = field_units(map, "price", spec.price_scale)?;
    let notional = field_units(map, "notional", quote_scale)?;
    let (price_ticks, size_lots, notional) = match (kind, side) {
        (OrderKind::Market, Side::Buy) => (
            0,
            0,
            notional.ok_or_else(|| {
                ApiError::bad(50012, "Parameter notional is required for a market buy")
            })?,
        ),
        (OrderKind::Market, Side::Sell) => (
            0,
            size.ok_or_else(|| {
                ApiError::bad(50010, "Parameter size is required for a market sell")
            })?,
            0,
        ),
        _ => (
            price.ok_or_else(|| {
                ApiError::bad(50011, "Parameter price is required for this order type")
            })?,
            size.ok_or_else(|| {
                ApiError::bad(50010, "Parameter size is required for this order type")
            })?,
            0,
        ),
    };
    let order = NewOrder {
        user,
        market: market.id,
        side,
        kind,
        price_ticks,
        size_lots,
        notional,
        client_order_id: parse_client_order_id(map)?,
        stp: parse_stp(map)?,
    };
    Ok((market, Command::PlaceOrder(order)))
}

/// BitMart's max-price (50025) or min-price (50008) refusal of an order outside the price band,
/// with the prices formatted for `spec`'s market when it is known.
pub fn band_error(band: &OutsideBand, spec: Option<&MarketSpec>) -> ApiError {
    let price = |ticks: i64| {
        spec.map_or_else(
            || ticks.to_string(),
            |s| bulwark_types::format_units(ticks, s.price_scale),
        )
    };
    let percent = bulwark_trading::band::PRICE_BAND_PERCENT;
    let (limit, last) = (price(band.limit_ticks), price(band.last_ticks));
    match band.side {
        Side::Buy => ApiError::bad(
            50025,
            format!(
                "Price is outside the price band: a buy may be at most {limit} \
                 ({percent}% above the last price {last})"
            ),
        ),
        Side::Sell => ApiError::bad(
            50008,
            format!(
                "Price is outside the price band: a sell may be at least {limit} \
                 ({percent}% below the last price {last})"
            ),
        ),
    }
}

/// A command that did not reach the engine: "system busy" when the sequencer's queue is full,
/// an internal error otherwise.
pub fn submit_failure(failure: SubmitFailure) -> ApiError {
    match failure {
        SubmitFailure::Sequencer(e) => ApiError::busy(e.to_string()),
        SubmitFailure::Band(band) => band_error(&band, None),
        other => ApiError::internal(other),
    }
}

/// Why placing an order in `spec`'s market did not reach the engine: the price band with the
/// market's prices, anything else as [`submit_failure`].
pub fn placement_failure(failure: SubmitFailure, spec: &MarketSpec) -> ApiError {
    match failure {
        SubmitFailure::Band(band) => band_error(&band, Some(spec)),
        other => submit_failure(other),
    }
}

/// The BitMart code and message of an engine rejection.
pub fn reject_error(
    reject: &Reject,
    side: Option<Side>,
    catalog: &Catalog,
    spec: Option<&MarketSpec>,
) -> ApiError {
    let size = |lots: i64| {
        spec.map_or_else(
            || lots.to_string(),
            |s| bulwark_types::format_units(lots, s.size_scale),
        )
    };
    let quote = |units: i64| {
        spec.and_then(|s| catalog.asset_spec(s.quote)).map_or_else(
            || units.to_string(),
            |a| bulwark_types::format_units(units, a.scale),
        )
    };
    match reject {
        Reject::UnknownMarket => ApiError::bad(50001, "Symbol not found"),
        Reject::MarketHalted => ApiError::bad(
            50040,
            "Symbol is not available: trading in this market is halted",
        ),
        Reject::GloballyHalted => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            30016,
            "Trading is halted for maintenance",
        ),
        Reject::PriceRequired => ApiError::bad(50011, "Parameter price must be positive"),
        Reject::PriceAboveMax { max_ticks } => ApiError::bad(
            50025,
            format!(
                "Price is above the maximum of {}",
                spec.map_or_else(
                    || max_ticks.to_string(),
                    |s| bulwark_types::format_units(*max_ticks, s.price_scale)
                )
            ),
        ),
        Reject::SizeRequired => ApiError::bad(50010, "Parameter size must be positive"),
        Reject::SizeBelowMin { min_lots } => ApiError::bad(
            50006,
            format!("Size is below the minimum of {}", size(*min_lots)),
        ),
        Reject::SizeAboveMax { max_lots } => ApiError::bad(
            50007,
            format!("Size is above the maximum of {}", size(*max_lots)),
        ),
        Reject::NotionalRequired => ApiError::bad(
            50012,
            "Parameter notional must be positive for a market buy",
        ),
        Reject::NotionalBelowMin { min } => ApiError::bad(
            50009,
            format!("Order value is below the minimum of {}", quote(*min)),
        ),
        Reject::InsufficientFunds {
            asset,
            needed,
            available,
        } => {
            let scale = catalog.asset_spec(*asset).map_or(0, |a| a.scale);
            let code = catalog.asset_code(*asset);
            ApiError::bad(
                50020,
                format!(
                    "Balance not enough: {code} needed {}, available {}",
                    bulwark_types::format_units(*needed, scale),
                    bulwark_types::format_units(*available, scale)
                ),
            )
        }
        Reject::ClientOrderIdInvalid => {
            ApiError::bad(50038, "Invalid clientOrderId: 1 to 32 letters or digits")
        }
        Reject::DuplicateClientOrderId => ApiError::bad(
            50042,
            "Duplicate clientOrderId: a live order already uses it",
        ),
        Reject::PostOnlyWouldTake => match side {
            Some(Side::Sell) => ApiError::bad(
                50035,
                "The price is low and there is no matching depth: post-only order would take liquidity",
            ),
            _ => ApiError::bad(
                50034,
                "The price is high and there is no matching depth: post-only order would take liquidity",
            ),
        },
        Reject::FokUnfillable => match side {
            Some(Side::Sell) => ApiError::bad(
                50034,
                "Fill-or-kill order cannot be filled completely at this price",
            ),
            _ => ApiError::bad(
                50035,
                "Fill-or-kill order cannot be filled completely at this price",
            ),
        },
        Reject::OrderNotFound => ApiError::bad(50032, "Order does not exist"),
        Reject::TooManyOpenOrders { max } => ApiError::bad(
            50021,
            format!("Too many open orders: at most {max} per user"),
        ),
        Reject::TooManyPriceLevels { max } => ApiError::bad(
            50021,
            format!("Too many price levels in this book: at most {max} per side"),
        ),
        Reject::Overflow => ApiError::bad(50021, "Invalid amount: value too large"),
        Reject::TriggerPriceInvalid { max_ticks } => ApiError::bad(
            50021,
            format!(
                "Invalid trigger_price: must be positive and at most {}",
                spec.map_or_else(
                    || max_ticks.to_string(),
                    |s| bulwark_types::format_units(*max_ticks, s.price_scale)
                )
            ),
        ),
        Reject::NoLastPrice => ApiError::bad(
            50021,
            "This market has not traded yet: a stop order needs a last price to compare with",
        ),
        Reject::TooManyTriggers { max } => ApiError::bad(
            50021,
            format!("Too many open stop orders: at most {max} per user"),
        ),
        Reject::TriggerNotFound => ApiError::bad(50032, "Order does not exist"),
        other => ApiError::bad(50000, other.to_string()),
    }
}
