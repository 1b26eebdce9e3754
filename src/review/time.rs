//! `--since` / `--until` values: what a person types, turned into an instant.
//!
//! Parsing and resolving are two steps so that the clock is an argument:
//! clap parses the text into a [`TimeSpec`] once, and [`TimeSpec::resolve`]
//! turns it into a [`Timestamp`] against a `now` the caller passes in. Tests
//! pass a fixed `now`; the CLI passes the wall clock once at start-up.
//!
//! Accepted forms (all in UTC, like the logs):
//! - RFC 3339: `2026-11-23T07:12:16.938Z`, `2026-11-23T08:00:00+01:00`;
//! - a civil date and time taken as UTC: `2026-11-23T07:00`, `2026-11-23 07:00:00`;
//! - a date: `2026-11-23`, that day at 00:00 UTC;
//! - relative: `90s`, `30m`, `1h`, `7d`, `2w`, meaning now minus that;
//! - words: `now`, `today` (00:00 UTC today), `yesterday` (00:00 UTC the day before).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

/// A point in time as given on the command line, not yet tied to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// An absolute instant.
    At(Timestamp),
    /// `now` minus this much.
    Ago(SignedDuration),
    /// The start of the current UTC day, minus this many days (`today` = 0).
    DayStart(i64),
}

impl TimeSpec {
    /// Parses one of the accepted forms; the error is a sentence for clap to show.
    pub fn parse(text: &str) -> Result<TimeSpec, String> {
        let text = text.trim();
        match text {
            "now" => return Ok(TimeSpec::Ago(SignedDuration::ZERO)),
            "today" => return Ok(TimeSpec::DayStart(0)),
            "yesterday" => return Ok(TimeSpec::DayStart(1)),
            _ => {}
        }
        if let Some(ago) = parse_relative(text)? {
            return Ok(TimeSpec::Ago(ago));
        }
        if let Ok(ts) = text.parse::<Timestamp>() {
            return Ok(TimeSpec::At(ts));
        }
        // A civil date-time with no offset is read as UTC, like every log timestamp.
        let civil = text
            .parse::<DateTime>()
            .or_else(|_| text.parse::<Date>().map(|d| d.to_datetime(jiff::civil::Time::midnight())));
        match civil.and_then(|dt| dt.to_zoned(TimeZone::UTC)) {
            Ok(zoned) => Ok(TimeSpec::At(zoned.timestamp())),
            Err(_) => Err(format!(
                "`{text}` is not a time: use RFC 3339 (2026-11-23T07:12:16Z), a date (2026-11-23), \
                 a relative age (30m, 1h, 7d) or today/yesterday/now"
            )),
        }
    }

    /// The instant this stands for when the clock reads `now`.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            TimeSpec::At(ts) => ts,
            // parse_relative bounds the age to ~100 years, far inside jiff's range.
            TimeSpec::Ago(age) => now.checked_sub(age).unwrap_or(Timestamp::MIN),
            TimeSpec::DayStart(days_back) => {
                let today = now.to_zoned(TimeZone::UTC).date();
                today
                    .checked_sub(days_back.days())
                    .and_then(|d| d.to_zoned(TimeZone::UTC))
                    .map(|z| z.timestamp())
                    .unwrap_or(Timestamp::MIN)
            }
        }
    }
}

/// `<digits><unit>` with unit s, m, h, d or w. `Ok(None)` when the text is not
/// of that shape at all (so other forms may be tried), `Err` when it is but
/// the number is unreasonable.
fn parse_relative(text: &str) -> Result<Option<SignedDuration>, String> {
    let Some(unit) = text.chars().last() else { return Ok(None) };
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let seconds_per_unit: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Ok(None),
    };
    const HUNDRED_YEARS: i64 = 100 * 366 * 86_400;
    let seconds = digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(seconds_per_unit))
        .filter(|s| *s <= HUNDRED_YEARS)
        .ok_or_else(|| format!("`{text}` reaches back more than 100 years"))?;
    Ok(Some(SignedDuration::from_secs(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T07:12:16.938Z".parse().unwrap()
    }

    fn at(text: &str) -> Timestamp {
        TimeSpec::parse(text).unwrap().resolve(now())
    }

    #[test]
    fn rfc3339_with_any_offset_is_the_same_instant() {
        assert_eq!(at("2026-11-23T07:12:16.938Z"), now());
        assert_eq!(at("2026-11-23T08:12:16.938+01:00"), now());
    }

    #[test]
    fn a_bare_date_is_midnight_utc_of_that_day() {
        assert_eq!(at("2026-11-23"), "2026-11-23T00:00:00Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn a_civil_date_time_is_read_as_utc() {
        assert_eq!(at("2026-11-23T07:00"), "2026-11-23T07:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(at("2026-11-23 07:00:05"), "2026-11-23T07:00:05Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn relative_ages_count_back_from_now() {
        assert_eq!(at("30m"), "2026-11-23T06:42:16.938Z".parse::<Timestamp>().unwrap());
        assert_eq!(at("1h"), "2026-11-23T06:12:16.938Z".parse::<Timestamp>().unwrap());
        assert_eq!(at("7d"), "2026-11-16T07:12:16.938Z".parse::<Timestamp>().unwrap());
        assert_eq!(at("2w"), "2026-11-09T07:12:16.938Z".parse::<Timestamp>().unwrap());
        assert_eq!(at("90s"), "2026-11-23T07:10:46.938Z".parse::<Timestamp>().unwrap());
        assert_eq!(at("now"), now());
    }

    #[test]
    fn today_and_yesterday_are_utc_midnights() {
        assert_eq!(at("today"), "2026-11-23T00:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(at("yesterday"), "2026-11-22T00:00:00Z".parse::<Timestamp>().unwrap());
    }

    #[test]
    fn nonsense_and_absurd_ages_are_refused_with_a_hint() {
        for bad in ["", "h", "1x", "-1h", "last tuesday", "2026-13-01", "99999999999999999999d", "10000000d"] {
            let err = TimeSpec::parse(bad).unwrap_err();
            assert!(err.contains('`'), "{bad}: {err}");
        }
    }
}
