//! Time source for the identity rules.
//!
//! Rules take `now_ms` as a parameter; components that need to read the time themselves (the
//! notifier naming outbox files, the web layer) take a [`Clock`] so tests can drive time by hand
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds in one second, for readable durations.
pub const SECOND_MS: i64 = 1_000;
/// Milliseconds in one minute.
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
/// Milliseconds in one hour.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// Milliseconds in one day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A source of the current time in Unix milliseconds, injectable so tests never sleep.
pub trait Clock: Send + Sync {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The real wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        // A clock before 1970 is a broken host; report the epoch rather than a negative time.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock the test sets by hand; shared between threads through `&` because it is atomic.
#[derive(Debug, Default)]
pub struct TestClock {
    now_ms: AtomicI64,
}

impl TestClock {
    /// A clock frozen at `start_ms` until moved.
    pub fn new(start_ms: i64) -> Self {
        Self {
            now_ms: AtomicI64::new(start_ms),
        }
    }

    /// Jump to an absolute time.
    pub fn set(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Move forward (or backward with a negative value) by `delta_ms`.
    pub fn advance(&self, delta_ms: i64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// "YYYY-MM-DD HH:MM" in UTC for a millisecond timestamp.
pub fn utc_minute(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3_600,
        (rem % 3_600) / 60
    )
}

/// Reads "YYYY-MM-DD HH:MM" (or the `T`-separated form a browser's datetime-local field sends)
/// as UTC milliseconds: the inverse of [`utc_minute`]; `None` for anything else.
pub fn parse_utc_minute(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let y: i64 = date_parts.next()?.parse().ok()?;
    let m: i64 = date_parts.next()?.parse().ok()?;
    let d: i64 = date_parts.next()?.parse().ok()?;
    let (hh, mm) = time.split_once(':')?;
    let (hh, mm): (i64, i64) = (hh.parse().ok()?, mm.get(..2)?.parse().ok()?);
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || !(0..24).contains(&hh)
        || !(0..60).contains(&mm)
    {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // A day past the month's end (31 April) would roll over: refuse it.
    if civil_from_days(days) != (y, m, d) {
        return None;
    }
    days.checked_mul(86_400_000)?
        .checked_add((hh * 3_600 + mm * 60) * 1_000)
}

/// Howard Hinnant's civil-to-days conversion (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;

    #[test]
    fn utc_minutes_read_back_what_they_print() {
        for at in [0_i64, 1_796_614_212_000, 951_782_400_000, 4_102_444_740_000] {
            let minute = at - at.rem_euclid(60_000);
            assert_eq!(parse_utc_minute(&utc_minute(at)), Some(minute));
        }
        assert_eq!(
            parse_utc_minute("2026-12-07T03:10"),
            parse_utc_minute("2026-12-07 03:10")
        );
        for bad in [
            "",
            "2026-13-01 00:00",
            "2026-04-31 00:00",
            "2026-02-29 00:00",
            "2026-01-01 24:00",
            "yesterday",
        ] {
            assert_eq!(parse_utc_minute(bad), None, "{bad}");
        }
    }

    #[test]
    fn test_clock_moves_only_when_told() {
        let clock = TestClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(500);
        assert_eq!(clock.now_ms(), 1_500);
        clock.set(42);
        assert_eq!(clock.now_ms(), 42);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }

    #[test]
    fn clock_is_object_safe() {
        let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(TestClock::new(7));
        assert_eq!(clock.now_ms(), 7);
    }

    #[test]
    fn utc_minute_formats() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(1_700_000_000_000), "2023-11-14 22:13");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00");
    }
}
