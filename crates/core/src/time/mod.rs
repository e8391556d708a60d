//! Legal time: calendars of working days, periods and their reckoning in China Standard Time.
//!
//! The rules (domain digest §0, §5):
//! - Day boundaries are China Standard Time (UTC+8, no daylight saving). Instants are
//!   [`DateTime<Utc>`]; the date of an instant is its CST calendar date ([`cst_date`]).
//! - The day on which a period starts is not counted (CPL Art. 85).
//! - A working day is a Monday to Friday that is not a day off in the State Council's notice
//!   for the year, or a Saturday or Sunday the notice makes a make-up working day (调休上班;
//!   HOL Arts. 6, 7). A day off in the notice is never a working day.
//! - A deadline of N calendar days after D ends on D + N, rolled forward to the next working
//!   day when that is a rest day (CPL Art. 85; ARL Art. 88); N working days after D end on the
//!   N-th working day after D (APL Art. 85; ARL Art. 88); both at the end of that CST day.
//!   N hours end exactly N hours after the instant.
//! - A minimum period ("at least N days after X") is never rolled: the act may be taken from
//!   00:00 CST of the day after its last day ([`Calendar::earliest`]).
//! - A year with no notice in the calendar is never guessed silently: it counts weekends only
//!   and the result is marked [`provisional`](Reckoned::provisional).
//!
//! The module is pure: calendars come in as TOML text ([`Calendar::parse_year`]), instants as
//! arguments.

mod calendar;
pub mod china;
mod error;
mod parse;
#[cfg(test)]
mod tests;

pub use calendar::{Calendar, DayKind, Due, Holiday, Reckoned, YearTable};
pub use error::{CalendarError, Location};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A length of time as the law writes it: calendar days, working days or hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Calendar days (日).
    Days(u32),
    /// Working days (工作日) on the official calendar.
    WorkingDays(u32),
    /// Hours (小时), counted exactly.
    Hours(u32),
    /// Calendar months (个月): the period ends on the day with the same number N months
    /// later, or on the last day of that month when it has no such day (《民法典》第二百零二条;
    /// not in our legal digest, verify).
    Months(u32),
}

impl Period {
    /// The period as the law writes it in Chinese: `30日`, `7个工作日`, `48小时`.
    pub fn to_zh(&self) -> String {
        match self {
            Self::Days(n) => format!("{n}日"),
            Self::WorkingDays(n) => format!("{n}个工作日"),
            Self::Hours(n) => format!("{n}小时"),
            Self::Months(n) => format!("{n}个月"),
        }
    }
}

/// `30 days`, `1 day`, `7 working days`, `48 hours`.
impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match self {
            Self::Days(n) => (n, "day"),
            Self::WorkingDays(n) => (n, "working day"),
            Self::Hours(n) => (n, "hour"),
            Self::Months(n) => (n, "month"),
        };
        let s = if *n == 1 { "" } else { "s" };
        write!(f, "{n} {unit}{s}")
    }
}

/// The offset of China Standard Time from UTC.
const CST: TimeDelta = TimeDelta::hours(8);

/// The CST (UTC+8) calendar date of an instant. (Within 8 hours of the end of chrono's range
/// it saturates at [`NaiveDate::MAX`].)
pub fn cst_date(at: DateTime<Utc>) -> NaiveDate {
    at.naive_utc()
        .checked_add_signed(CST)
        .map_or(NaiveDate::MAX, |t| t.date())
}

/// The instant 00:00 CST of `date` (16:00 UTC the day before). Saturates at the start of
/// chrono's range.
pub fn cst_start_of_day(date: NaiveDate) -> DateTime<Utc> {
    NaiveDateTime::new(date, NaiveTime::MIN)
        .checked_sub_signed(CST)
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc())
}

/// The instant a period whose last day is `date` ends, exclusive: 00:00 CST of the next day.
/// Saturates at the end of chrono's range.
pub fn cst_end_of_day(date: NaiveDate) -> DateTime<Utc> {
    cst_start_of_day(date)
        .checked_add_signed(TimeDelta::days(1))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// An instant written for people in China Standard Time: `2025-06-02 09:00 CST`.
///
/// Never panics: an instant within 8 hours of the end of chrono's range (a saturated
/// deadline) is written as the last minute chrono can write.
pub fn fmt_cst(at: DateTime<Utc>) -> String {
    let local = at
        .naive_utc()
        .checked_add_signed(CST)
        .unwrap_or(NaiveDateTime::MAX);
    format!("{} CST", local.format("%Y-%m-%d %H:%M"))
}
