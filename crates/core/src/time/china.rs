//! China time on the wire: every instant fazhi shows (in the HTTP API, the CLI, a refusal or a
//! deadline) is written with the offset `+08:00`, so that its date part is the legal day.
//! Instants are still held as [`DateTime<Utc>`] and read with any offset; what is stored and
//! hashed (an event's bytes) keeps its own form.
//!
//! Use the functions as serde attributes on output types:
//!
//! ```
//! use chrono::{DateTime, TimeZone, Utc};
//! #[derive(serde::Serialize)]
//! struct Out {
//!     #[serde(serialize_with = "fazhi_core::time::china::serialize")]
//!     at: DateTime<Utc>,
//! }
//! let at = Utc.with_ymd_and_hms(2027, 1, 4, 16, 0, 0).unwrap();
//! let json = serde_json::to_string(&Out { at }).unwrap();
//! assert_eq!(json, r#"{"at":"2027-01-05T00:00:00+08:00"}"#);
//! ```

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, SecondsFormat, TimeDelta, Utc};
use serde::Serializer;

use super::cst_date;

/// China Standard Time as a chrono offset.
fn offset() -> FixedOffset {
    // Eight hours is within chrono's bounds: the fallback is never taken.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// An instant in RFC 3339 with `+08:00`: `2027-01-05T00:00:00+08:00` (fractions of a second
/// only when it has them).
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.with_timezone(&offset())
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The legal day of an exclusive end: the last CST day before `due` (a deadline ending at
/// 00:00 CST on 5 January has its last day on 4 January).
pub fn last_day_before(due: DateTime<Utc>) -> NaiveDate {
    cst_date(
        due.checked_sub_signed(TimeDelta::nanoseconds(1))
            .unwrap_or(due),
    )
}

/// Serialises an instant with `+08:00` (for `#[serde(serialize_with)]`).
///
/// # Errors
/// Only the serializer's own.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*at))
}

/// Serialises an optional instant with `+08:00` (for `#[serde(serialize_with)]`).
///
/// # Errors
/// Only the serializer's own.
pub fn serialize_option<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_are_written_in_china_time_and_read_back_with_any_offset() {
        let at = Utc.with_ymd_and_hms(2027, 1, 4, 16, 0, 0).unwrap();
        assert_eq!(rfc3339(at), "2027-01-05T00:00:00+08:00");
        let back: DateTime<Utc> = rfc3339(at).parse().unwrap();
        assert_eq!(back, at);
        let ms = Utc.timestamp_millis_opt(1_767_225_600_123).unwrap();
        assert_eq!(rfc3339(ms), "2026-01-01T08:00:00.123+08:00");
    }

    #[test]
    fn the_last_day_of_an_exclusive_end_is_the_day_before_midnight() {
        let due = Utc.with_ymd_and_hms(2027, 1, 4, 16, 0, 0).unwrap();
        assert_eq!(
            last_day_before(due),
            NaiveDate::from_ymd_opt(2027, 1, 4).unwrap()
        );
        let afternoon = Utc.with_ymd_and_hms(2027, 1, 4, 6, 30, 0).unwrap();
        assert_eq!(
            last_day_before(afternoon),
            NaiveDate::from_ymd_opt(2027, 1, 4).unwrap()
        );
    }
}
