//! Exact decimal strings <-> integer units.
//!
//! The API speaks plain decimal strings (`"0.00001"`, `"30000"`). We accept exactly that
//! notation and nothing looser: no sign, no exponent, no blanks, no more decimals than the
//! field allows, nothing that overflows `i64`. A rejected string names the reason so the API can
//! tell the client which limit it broke.

use thiserror::Error;

/// Largest scale any amount may have; keeps `10^scale` inside `i64`.
pub const SCALE_MAX: u32 = 18;

/// Why a decimal string was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecimalError {
    #[error("is empty")]
    Empty,
    #[error("must not be negative or signed")]
    Signed,
    #[error("must be plain decimal notation (no exponent)")]
    Exponent,
    #[error("is not a decimal number")]
    Invalid,
    #[error("has more than {max} decimal places")]
    TooManyDecimals { max: u32 },
    #[error("is too large")]
    Overflow,
}

/// Parses a non-negative plain decimal string into integer units of `10^-scale`.
///
/// `parse_units("1.5", 2) == Ok(150)`. Trailing zeros beyond the scale are allowed
/// (`"1.500"` at scale 2), because they do not change the value; any other extra digit is an
/// error rather than a silent rounding.
pub fn parse_units(text: &str, scale: u32) -> Result<i64, DecimalError> {
    if scale > SCALE_MAX {
        return Err(DecimalError::Overflow);
    }
    if text.is_empty() {
        return Err(DecimalError::Empty);
    }
    if text.starts_with(['-', '+']) {
        return Err(DecimalError::Signed);
    }
    if text.contains(['e', 'E']) {
        return Err(DecimalError::Exponent);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits_only = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(whole) || fraction.is_some_and(|f| !digits_only(f)) {
        return Err(DecimalError::Invalid);
    }
    let fraction = fraction.unwrap_or("");
    let significant = fraction.trim_end_matches('0');
    if significant.len() > scale as usize {
        return Err(DecimalError::TooManyDecimals { max: scale });
    }
    let mut units: i64 = 0;
    for digit in whole.bytes().chain(significant.bytes()) {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(i64::from(digit - b'0')))
            .ok_or(DecimalError::Overflow)?;
    }
    let pad = scale - significant.len() as u32;
    units
        .checked_mul(10_i64.checked_pow(pad).ok_or(DecimalError::Overflow)?)
        .ok_or(DecimalError::Overflow)
}

/// Formats integer units of `10^-scale` as a plain decimal string with exactly `scale`
/// decimals (`format_units(150, 2) == "1.50"`), the way BitMart prints balances and prices.
pub fn format_units(units: i64, scale: u32) -> String {
    let negative = units < 0;
    let magnitude = units.unsigned_abs();
    if scale == 0 {
        return format!("{}{magnitude}", if negative { "-" } else { "" });
    }
    let divisor = 10_u64.pow(scale.min(SCALE_MAX));
    format!(
        "{}{}.{:0width$}",
        if negative { "-" } else { "" },
        magnitude / divisor,
        magnitude % divisor,
        width = scale as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_plain_notation() {
        assert_eq!(parse_units("1.5", 2), Ok(150));
        assert_eq!(parse_units("30000", 2), Ok(3_000_000));
        assert_eq!(parse_units("0.00001", 8), Ok(1000));
        assert_eq!(parse_units("1.500", 2), Ok(150));
        assert_eq!(parse_units("0", 8), Ok(0));
    }

    #[test]
    fn rejects_everything_else_with_a_reason() {
        assert_eq!(parse_units("", 2), Err(DecimalError::Empty));
        assert_eq!(parse_units("-1", 2), Err(DecimalError::Signed));
        assert_eq!(parse_units("+1", 2), Err(DecimalError::Signed));
        assert_eq!(parse_units("1e5", 2), Err(DecimalError::Exponent));
        assert_eq!(
            parse_units("1.234", 2),
            Err(DecimalError::TooManyDecimals { max: 2 })
        );
        assert_eq!(parse_units(".5", 2), Err(DecimalError::Invalid));
        assert_eq!(parse_units("5.", 2), Err(DecimalError::Invalid));
        assert_eq!(parse_units(" 5", 2), Err(DecimalError::Invalid));
        assert_eq!(parse_units("1.2.3", 2), Err(DecimalError::Invalid));
        assert_eq!(parse_units("0x10", 2), Err(DecimalError::Invalid));
        assert_eq!(
            parse_units("99999999999999999999", 0),
            Err(DecimalError::Overflow)
        );
        assert_eq!(parse_units("92233720369", 8), Err(DecimalError::Overflow));
    }

    #[test]
    fn formats_with_fixed_decimals() {
        assert_eq!(format_units(150, 2), "1.50");
        assert_eq!(format_units(1000, 8), "0.00001000");
        assert_eq!(format_units(7, 0), "7");
        assert_eq!(format_units(-5, 1), "-0.5");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(units in 0_i64..i64::MAX, scale in 0_u32..=8) {
            prop_assert_eq!(parse_units(&format_units(units, scale), scale), Ok(units));
        }
    }
}
