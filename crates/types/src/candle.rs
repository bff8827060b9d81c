//! Candle intervals and where each candle starts. The projector buckets trades with these
//! functions and the market-data API validates the requested interval against the same list, so
//! a candle the API can be asked for is exactly one the projector writes.
//!
//! Candles are aligned in UTC: intervals up to a day on multiples of their length since the Unix
//! epoch, weeks on Monday 00:00, months on the first day of the calendar month.

/// The intervals, in minutes, that candles are kept for (BitMart's `step`): 1m 3m 5m 15m 30m 45m
/// 1H 2H 3H 4H 1D 1W 1M.
pub const STEPS_MINUTES: [u32; 13] = [
    1, 3, 5, 15, 30, 45, 60, 120, 180, 240, 1_440, 10_080, 43_200,
];

/// The week interval in minutes.
pub const WEEK_MINUTES: u32 = 10_080;
/// The month interval in minutes (a calendar month, not 30 days).
pub const MONTH_MINUTES: u32 = 43_200;

const DAY_SECONDS: i64 = 86_400;
/// 1970-01-01 was a Thursday; the first Monday 00:00 UTC after the epoch is 4 days later.
const FIRST_MONDAY_SECONDS: i64 = 4 * DAY_SECONDS;

/// Whether candles are kept for `step` minutes.
pub fn is_step(step: u32) -> bool {
    STEPS_MINUTES.contains(&step)
}

/// The open time, in seconds since the epoch, of the `step`-minute candle holding the instant
/// `at_ms` (milliseconds since the epoch; negative instants are bucketed the same way).
pub fn open_seconds(step: u32, at_ms: i64) -> i64 {
    let at = at_ms.div_euclid(1_000);
    match step {
        MONTH_MINUTES => month_start(at),
        WEEK_MINUTES => {
            let week = 7 * DAY_SECONDS;
            (at - FIRST_MONDAY_SECONDS).div_euclid(week) * week + FIRST_MONDAY_SECONDS
        }
        _ => {
            let length = i64::from(step.max(1)) * 60;
            at.div_euclid(length) * length
        }
    }
}

/// Midnight UTC of the first day of the month holding `at` (seconds since the epoch).
fn month_start(at: i64) -> i64 {
    let days = at.div_euclid(DAY_SECONDS);
    let (_, _, day) = civil_from_days(days);
    (days - (day - 1)) * DAY_SECONDS
}

/// The proleptic Gregorian (year, month 1-12, day 1-31) of a day count since 1970-01-01, by the
/// era arithmetic of 400-year cycles (146,097 days each).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-06 10:17:45.500 UTC, a Sunday.
    const SUNDAY_MS: i64 = 1_796_552_265_500;

    #[test]
    fn minutes_hours_and_days_align_on_multiples_since_the_epoch() {
        assert_eq!(open_seconds(1, SUNDAY_MS), 1_796_552_220);
        assert_eq!(open_seconds(15, SUNDAY_MS), 1_796_552_100);
        assert_eq!(open_seconds(60, SUNDAY_MS), 1_796_551_200);
        assert_eq!(open_seconds(240, SUNDAY_MS), 1_796_544_000);
        assert_eq!(
            open_seconds(1_440, SUNDAY_MS),
            1_796_515_200,
            "2026-12-06 00:00"
        );
        assert_eq!(open_seconds(45, SUNDAY_MS) % 2_700, 0);
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        assert_eq!(
            open_seconds(WEEK_MINUTES, SUNDAY_MS),
            1_796_515_200 - 6 * DAY_SECONDS,
            "Monday 2026-11-30"
        );
        assert_eq!(
            open_seconds(WEEK_MINUTES, 1_796_515_200_000 - 6 * DAY_SECONDS * 1_000),
            1_796_515_200 - 6 * DAY_SECONDS,
            "Monday midnight opens its own week"
        );
        assert_eq!(
            open_seconds(MONTH_MINUTES, SUNDAY_MS),
            1_796_083_200,
            "2026-12-01"
        );
        assert_eq!(open_seconds(MONTH_MINUTES, 0), 0);
        assert_eq!(
            open_seconds(MONTH_MINUTES, 951_782_400_000),
            951_782_400 - 28 * DAY_SECONDS,
            "2000-02-29 is in February 2000"
        );
        assert_eq!(
            open_seconds(MONTH_MINUTES, -1_000),
            -31 * DAY_SECONDS,
            "1969-12-01"
        );
    }

    #[test]
    fn civil_dates_round_trip_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_793), (2026, 12, 6));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    proptest::proptest! {
        /// Every instant lies in its candle: open <= t < open + length, for every interval.
        #[test]
        fn every_instant_lies_inside_its_candle(at_ms in -4_000_000_000_000_i64..8_000_000_000_000) {
            let at = at_ms.div_euclid(1_000);
            for step in STEPS_MINUTES {
                let open = open_seconds(step, at_ms);
                proptest::prop_assert!(open <= at, "{step}: {open} > {at}");
                let next = open_seconds(step, (at + 1) * 1_000);
                proptest::prop_assert!(next == open || next == at + 1, "{step}: buckets are contiguous");
                let longest = if step == MONTH_MINUTES { 31 * DAY_SECONDS } else { i64::from(step) * 60 };
                proptest::prop_assert!(at - open < longest, "{step}");
            }
        }
    }
}
