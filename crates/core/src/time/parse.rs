//! One TOML file = one year's notice: the raw schema with spans, and the checks on it.

use super::calendar::{Holiday, YearTable};
use super::error::{CalendarError, Location};
use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use std::collections::BTreeSet;
use toml::Spanned;
use toml::value::Datetime;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: Spanned<i64>,
    notice: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    #[serde(default)]
    holidays: Vec<Spanned<RawHoliday>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    name: Spanned<String>,
    off: Spanned<RawRange>,
    #[serde(default)]
    make_up: Vec<Spanned<Datetime>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    from: Spanned<Datetime>,
    to: Spanned<Datetime>,
}

/// A day as written, with where it is written (none for a table built in code).
pub(crate) type Placed = (NaiveDate, Option<Location>);

/// A holiday with the places of its parts, for [`check`].
pub(crate) struct PlacedHoliday<'a> {
    pub name: &'a str,
    pub at: Option<Location>,
    pub days_off: Vec<Placed>,
    pub make_up_days: Vec<Placed>,
}

fn loc<T>(source: &str, spanned: &Spanned<T>) -> Location {
    Location::from_offset(source, spanned.span().start)
}

fn date(source: &str, value: &Spanned<Datetime>) -> Result<NaiveDate, CalendarError> {
    let dt = value.get_ref();
    let plain = match (dt.date, dt.time, dt.offset) {
        (Some(d), None, None) => {
            NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
        }
        _ => None,
    };
    plain.ok_or_else(|| CalendarError::NotADate {
        found: dt.to_string(),
        at: Some(loc(source, value)),
    })
}

/// Parses and checks one year's calendar file. See [`Calendar::parse_year`](super::Calendar::parse_year).
pub(crate) fn parse_year(source: &str) -> Result<YearTable, CalendarError> {
    let raw: RawYear = toml::from_str(source).map_err(|e| CalendarError::Syntax {
        at: Location::from_offset(source, e.span().map_or(0, |s| s.start)),
        message: e.message().trim().to_owned(),
    })?;
    let year_at = Some(loc(source, &raw.year));
    let year = i32::try_from(*raw.year.get_ref())
        .ok()
        .filter(|y| (1949..=9999).contains(y))
        .ok_or(CalendarError::YearOutOfRange {
            year: *raw.year.get_ref(),
            at: year_at,
        })?;
    let notice = match &raw.notice {
        None => return Err(CalendarError::MissingNotice { year, at: year_at }),
        Some(n) if n.get_ref().trim().is_empty() => {
            return Err(CalendarError::MissingNotice {
                year,
                at: Some(loc(source, n)),
            });
        }
        Some(n) => n.get_ref().trim().to_owned(),
    };
    let src = match &raw.source {
        Some(s) if s.get_ref().trim().is_empty() => {
            return Err(CalendarError::Blank {
                key: "source",
                what: "where the dates were taken from, or remove the key",
                at: Some(loc(source, s)),
            });
        }
        s => s.as_ref().map(|s| s.get_ref().trim().to_owned()),
    };
    if raw.holidays.is_empty() {
        return Err(CalendarError::NoHolidays { year, at: year_at });
    }

    let mut placed = Vec::with_capacity(raw.holidays.len());
    for h in &raw.holidays {
        let hol = h.get_ref();
        let name = hol.name.get_ref().trim();
        let range = hol.off.get_ref();
        let from = date(source, &range.from)?;
        let to = date(source, &range.to)?;
        if to < from {
            return Err(CalendarError::ReversedRange {
                holiday: name.to_owned(),
                from,
                to,
                at: Some(loc(source, &hol.off)),
            });
        }
        let off_at = loc(source, &hol.off);
        let from_at = loc(source, &range.from);
        let to_at = loc(source, &range.to);
        let days_off = from
            .iter_days()
            .take_while(|d| *d <= to)
            .map(|d| {
                // A day inside the block is reported at the end that is out of the year, if any.
                let at = if d == from || (d != to && d.year() != year && from.year() != year) {
                    from_at
                } else if d == to || (d.year() != year && to.year() != year) {
                    to_at
                } else {
                    off_at
                };
                (d, Some(at))
            })
            .collect();
        let mut make_up_days = Vec::with_capacity(hol.make_up.len());
        for m in &hol.make_up {
            make_up_days.push((date(source, m)?, Some(loc(source, m))));
        }
        placed.push(PlacedHoliday {
            name,
            at: Some(if name.is_empty() {
                loc(source, &hol.name)
            } else {
                loc(source, h)
            }),
            days_off,
            make_up_days,
        });
    }
    check(year, &placed)?;
    Ok(YearTable {
        year,
        notice,
        source: src,
        holidays: placed
            .into_iter()
            .map(|p| Holiday {
                name: p.name.to_owned(),
                days_off: p.days_off.into_iter().map(|(d, _)| d).collect(),
                make_up_days: p.make_up_days.into_iter().map(|(d, _)| d).collect(),
            })
            .collect(),
    })
}

/// Whether `date` may be listed in the calendar for `year` by a holiday whose days off are
/// `off`: a date of `year` always; a date in the last week of the year before (from 25
/// December) only when the block contains 1 January, and in the first week of the year after
/// (to 7 January) only when it contains 31 December. The 2019 notice (国办发明电〔2018〕15号)
/// is such a case: New Year off 2018-12-30 to 2019-01-01, make-up working day Sat 2018-12-29.
fn in_reach(year: i32, date: NaiveDate, off: &[Placed]) -> bool {
    let has = |m: u32, d: u32| {
        NaiveDate::from_ymd_opt(year, m, d).is_some_and(|x| off.iter().any(|(o, _)| *o == x))
    };
    let near = |y: i32, m: u32, d: u32, before: bool| {
        NaiveDate::from_ymd_opt(y, m, d).is_some_and(|x| if before { date >= x } else { date <= x })
    };
    let y = date.year();
    y == year
        || (y == year - 1 && has(1, 1) && near(y, 12, 25, true))
        || (y == year + 1 && has(12, 31) && near(y, 1, 7, false))
}

/// The checks every year table passes, from a file or built in code: names given, days off
/// given and inside the year's reach, make-up days on weekends (HOL Art. 7), no day listed
/// twice or as both off and make-up. Reports the first problem in file order.
pub(crate) fn check(year: i32, holidays: &[PlacedHoliday<'_>]) -> Result<(), CalendarError> {
    let mut off = BTreeSet::new();
    let mut make_up = BTreeSet::new();
    for h in holidays {
        if h.name.is_empty() {
            return Err(CalendarError::Blank {
                key: "name",
                what: "the holiday's name as in the notice, e.g. \"春节\"",
                at: h.at,
            });
        }
        if h.days_off.is_empty() {
            return Err(CalendarError::NoDaysOff {
                holiday: h.name.to_owned(),
                at: h.at,
            });
        }
        for &(date, at) in h.days_off.iter().chain(&h.make_up_days) {
            if !in_reach(year, date, &h.days_off) {
                return Err(CalendarError::DateOutsideYear {
                    holiday: h.name.to_owned(),
                    date,
                    year,
                    at,
                });
            }
        }
        for &(date, at) in &h.days_off {
            if !off.insert(date) {
                return Err(CalendarError::DuplicateDay { date, at });
            }
        }
        for &(date, at) in &h.make_up_days {
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(CalendarError::MakeUpNotWeekend {
                    holiday: h.name.to_owned(),
                    date,
                    weekday: date.format("%A").to_string(),
                    at,
                });
            }
            if !make_up.insert(date) {
                return Err(CalendarError::DuplicateDay { date, at });
            }
        }
    }
    for h in holidays {
        for &(date, at) in &h.make_up_days {
            if off.contains(&date) {
                return Err(CalendarError::OffAndMakeUp { date, at });
            }
        }
    }
    Ok(())
}
