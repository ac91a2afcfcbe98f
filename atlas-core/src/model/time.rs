//! [`Timestamp`]: UTC instants with whole seconds, rendered in the original's
//! `DATE_FORMAT` (`%Y-%m-%d %H:%M:%S GMT`).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use crate::model::string_serde::string_serde;

/// The body date format of the original (`DATE_FORMAT`).
pub const DATE_FORMAT: &str = "%Y-%m-%d %H:%M:%S GMT";

/// A UTC instant truncated to whole seconds (the original truncated
/// microseconds at write time).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a string is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a date: use '%Y-%m-%d %H:%M:%S GMT' (e.g. '2026-11-25 01:36:55 GMT') or RFC 3339")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// The current time from the system clock. Prefer a [`crate::Clock`].
    pub fn now() -> Self {
        Self(Utc::now().timestamp())
    }

    /// From Unix seconds.
    pub fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Unix seconds.
    pub fn unix_seconds(&self) -> i64 {
        self.0
    }

    /// Parses `DATE_FORMAT` or RFC 3339 (fractions are truncated).
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, DATE_FORMAT) {
            return Ok(Self(Utc.from_utc_datetime(&n).timestamp()));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|d| Self(d.timestamp()))
            .map_err(|_| TimestampError(s.to_owned()))
    }

    /// `self + d`, whole seconds.
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// `self - d`, whole seconds.
    pub fn minus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// The time from `earlier` to `self`, zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_secs(u64::try_from(self.0 - earlier.0).unwrap_or(0))
    }

    /// As a chrono instant.
    pub fn to_chrono(self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.0, 0).single().unwrap_or_default()
    }

    /// From a chrono instant (sub-seconds dropped).
    pub fn from_chrono(d: DateTime<Utc>) -> Self {
        Self(d.timestamp())
    }

    /// RFC 1123 (`Wed, 25 Nov 2026 01:36:55 GMT`), for HTTP headers;
    /// written into a buffer like [`Display`](fmt::Display).
    pub fn to_rfc1123(self) -> String {
        use chrono::{Datelike, Timelike};
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let d = self.to_chrono();
        if !(0..=9999).contains(&d.year()) {
            return d.format(RFC1123_FORMAT).to_string();
        }
        // `Wed, 25 Nov 2026 01:36:55 GMT`
        let mut text = *b"Ddd, dd Mmm yyyy hh:mm:ss GMT";
        text[..3].copy_from_slice(DAYS[d.weekday().num_days_from_monday() as usize].as_bytes());
        digits(&mut text[5..7], d.day());
        text[8..11].copy_from_slice(MONTHS[d.month0() as usize].as_bytes());
        digits(&mut text[12..16], d.year().unsigned_abs());
        digits(&mut text[17..19], d.hour());
        digits(&mut text[20..22], d.minute());
        digits(&mut text[23..25], d.second());
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Parses an RFC 1123 HTTP date.
    pub fn parse_rfc1123(s: &str) -> Result<Self, TimestampError> {
        DateTime::parse_from_rfc2822(s)
            .map(|d| Self(d.timestamp()))
            .map_err(|_| TimestampError(s.to_owned()))
    }
}

/// The chrono pattern of [`Timestamp::to_rfc1123`].
const RFC1123_FORMAT: &str = "%a, %d %b %Y %H:%M:%S GMT";

impl fmt::Display for Timestamp {
    /// `DATE_FORMAT`, its digits written straight into a buffer: every
    /// response and record carries several dates (chrono's `format`
    /// re-parses the pattern on each call, and `write!` with padding costs
    /// thousands of instructions a date).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let d = self.to_chrono();
        if !(0..=9999).contains(&d.year()) {
            // Signed or five-digit years: chrono's rendering of `%Y`.
            return write!(f, "{}", d.format(DATE_FORMAT));
        }
        // `2026-11-25 01:36:55 GMT`
        let mut text = *b"yyyy-mm-dd hh:mm:ss GMT";
        digits(&mut text[0..4], d.year().unsigned_abs());
        digits(&mut text[5..7], d.month());
        digits(&mut text[8..10], d.day());
        digits(&mut text[11..13], d.hour());
        digits(&mut text[14..16], d.minute());
        digits(&mut text[17..19], d.second());
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// Writes `n` as decimal digits filling `out`, zero-padded on the left (its
/// highest digits dropped if it has more than `out` holds; callers pass
/// values that fit).
fn digits(out: &mut [u8], mut n: u32) {
    for place in out.iter_mut().rev() {
        *place = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

string_serde!(
    Timestamp,
    TimestampError,
    "a date: '%Y-%m-%d %H:%M:%S GMT' or RFC 3339"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_the_original_date_format() {
        let t = Timestamp::parse("2026-11-25T01:36:55.123Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-25 01:36:55 GMT");
        assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
    }

    #[test]
    fn rendering_matches_chrono_for_every_year_range() {
        let samples = [
            0,
            59,
            86_399,
            951_782_400, // 2000-02-29
            1_764_034_615,
            -62_167_219_200, // 0000-01-01
            253_402_300_799, // 9999-12-31 23:59:59
            253_402_300_800, // 10000-01-01: chrono's "+10000"
            -62_167_219_201, // year -1
        ];
        for n in samples
            .into_iter()
            .chain((0..400).map(|d| 1_764_034_615 + d * 86_400 * 7 + d * 3_671))
        {
            let t = Timestamp::from_unix(n);
            assert_eq!(
                t.to_string(),
                t.to_chrono().format(DATE_FORMAT).to_string(),
                "{n}"
            );
            assert_eq!(
                t.to_rfc1123(),
                t.to_chrono().format(RFC1123_FORMAT).to_string(),
                "{n}"
            );
        }
    }

    #[test]
    fn rfc1123_round_trips() {
        let t = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        assert_eq!(t.to_rfc1123(), "Wed, 25 Nov 2026 01:36:55 GMT");
        assert_eq!(Timestamp::parse_rfc1123(&t.to_rfc1123()).unwrap(), t);
    }

    #[test]
    fn parse_refuses_other_formats_with_a_hint() {
        let e = Timestamp::parse("25/11/2026").unwrap_err();
        assert!(e.to_string().contains("%Y-%m-%d %H:%M:%S GMT"));
    }

    #[test]
    fn serializes_in_the_date_format_and_round_trips() {
        let t: Timestamp = "2026-11-25T01:36:55Z".parse().unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#""2026-11-25 01:36:55 GMT""#);
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn deserializing_a_bad_date_names_the_value_and_the_formats() {
        let e = serde_json::from_str::<Timestamp>(r#""25/11/2026""#).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "'25/11/2026' is not a date: use '%Y-%m-%d %H:%M:%S GMT' (e.g. '2026-11-25 01:36:55 GMT') or RFC 3339"
            ),
            "{e}"
        );
        let e = serde_json::from_str::<Timestamp>("1795564800").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "invalid type: integer `1795564800`, expected a date: '%Y-%m-%d %H:%M:%S GMT' or RFC 3339"
            ),
            "{e}"
        );
    }
}
