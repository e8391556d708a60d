//! The working-day calendar and the reckoning of periods on it.

use super::error::CalendarError;
use super::parse::{self, PlacedHoliday};
use super::{Period, cst_date, cst_end_of_day, cst_start_of_day};
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;

/// One year's holiday arrangement, as the State Council's notice for that year sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearTable {
    /// The year the notice is for.
    pub year: i32,
    /// The notice cited: title and document number, e.g.
    /// `国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）`.
    pub notice: String,
    /// Where the figures were taken from, when it is not the notice itself (a reprint, a digest).
    pub source: Option<String>,
    /// The holidays in the order of the notice.
    pub holidays: Vec<Holiday>,
}

/// One holiday of a notice: its days off (放假调休) and its weekend make-up working days (调休上班).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    /// The name as in the notice, e.g. `春节`.
    pub name: String,
    /// Every day off, in order, including swapped rest days and weekends inside the block.
    pub days_off: Vec<NaiveDate>,
    /// Saturdays and Sundays that the notice makes working days.
    pub make_up_days: Vec<NaiveDate>,
}

/// A result of legal time, and whether it is provisional.
///
/// `provisional` is true when some day the computation looked at lies in a year the calendar
/// does not cover: that year was counted with weekends only, and a later notice may change
/// the result. It is also true when a result would fall outside chrono's date range and was
/// saturated at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reckoned<T> {
    /// The result.
    pub value: T,
    /// Whether it rests on a guess about an uncovered year (weekends only).
    pub provisional: bool,
}

impl<T> Reckoned<T> {
    /// A result that rests on covered years only.
    pub fn certain(value: T) -> Self {
        Self {
            value,
            provisional: false,
        }
    }

    /// Applies `f` to the value and keeps the provisional mark.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reckoned<U> {
        Reckoned {
            value: f(self.value),
            provisional: self.provisional,
        }
    }
}

/// What kind of day a date is, and why: for `fazhi calendar show` and for explanations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    /// A Monday to Friday that no notice gives off.
    Working,
    /// A Saturday or Sunday that no notice makes a working day.
    Weekend,
    /// A day off in the notice (a holiday, a swapped rest day, or a weekend inside the block):
    /// never a working day.
    DayOff {
        /// The holiday's name as in the notice.
        holiday: String,
    },
    /// A Saturday or Sunday that the notice makes a working day (调休上班).
    MakeUpWorkday {
        /// The holiday whose block it pays for.
        holiday: String,
    },
}

impl DayKind {
    /// Whether a day of this kind is a working day.
    pub fn is_working(&self) -> bool {
        matches!(self, Self::Working | Self::MakeUpWorkday { .. })
    }
}

/// When a period ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Due {
    /// The last day of the period (CST): the day the act must be done by. For hours, the CST
    /// date of the period's last moment (so a period ending at 00:00 CST has the day before).
    pub last_day: NaiveDate,
    /// The instant the period ends, exclusive: 00:00 CST of the day after `last_day`, or for
    /// hours exactly the start plus the hours.
    pub at: DateTime<Utc>,
}

/// Bits per year: 366 days in six words.
const WORDS: usize = 6;

/// The working days of one year, bit `i` for the day of ordinal `i + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct YearBits {
    working: [u64; WORDS],
    /// Whether the year has its own notice (otherwise only days a neighbouring year's notice
    /// lists are known, and the rest is weekends only).
    covered: bool,
}

impl YearBits {
    /// Mondays to Fridays of `year` as working days.
    fn weekdays(year: i32, covered: bool) -> Self {
        let mut bits = Self {
            working: [0; WORDS],
            covered,
        };
        if let Some(jan1) = NaiveDate::from_yo_opt(year, 1) {
            for (i, d) in jan1
                .iter_days()
                .take_while(|d| d.year() == year)
                .enumerate()
            {
                if !is_weekend(d) {
                    bits.set(i, true);
                }
            }
        }
        bits
    }

    fn set(&mut self, i: usize, on: bool) {
        if let Some(w) = self.working.get_mut(i / 64) {
            let mask = 1u64 << (i % 64);
            if on {
                *w |= mask;
            } else {
                *w &= !mask;
            }
        }
    }

    fn get(&self, i: usize) -> bool {
        self.working
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// The ordinal0 of the `k`-th (from 1) working day at or after ordinal0 `from`, or the
    /// number of working days from `from` to the end of the year if there are fewer than `k`.
    fn nth_from(&self, from: usize, k: u64) -> Result<usize, u64> {
        let first = from / 64;
        let mut left = k;
        for (wi, &w) in self.working.iter().enumerate().skip(first) {
            let mut word = if wi == first {
                w & (u64::MAX << (from % 64))
            } else {
                w
            };
            let count = u64::from(word.count_ones());
            if count >= left {
                for _ in 1..left {
                    word &= word - 1;
                }
                return Ok(wi * 64 + word.trailing_zeros() as usize);
            }
            left -= count;
        }
        Err(k - left)
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Mondays to Fridays from 0001-01-01 (a Monday, day 1) up to `d`; differences of this count
/// the weekdays in a span in constant time, for years no notice covers.
fn weekdays_upto(d: NaiveDate) -> i64 {
    let k = i64::from(d.num_days_from_ce());
    k.div_euclid(7) * 5 + k.rem_euclid(7).min(5)
}

/// The `n`-th (n ≥ 1) Monday-to-Friday after `d`, in constant time.
fn nth_weekday_after(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    // From a Saturday or Sunday the next weekdays are those after the Friday before.
    let back = match d.weekday() {
        Weekday::Sat => 1,
        Weekday::Sun => 2,
        _ => 0,
    };
    let friday_or_weekday = d.checked_sub_days(Days::new(back))?;
    let w = u64::from(friday_or_weekday.weekday().num_days_from_monday());
    let full_weeks = (n - 1) / 5;
    let rest = (n - 1) % 5 + 1;
    let extra = if w + rest <= 4 { rest } else { rest + 2 };
    friday_or_weekday.checked_add_days(Days::new(full_weeks.checked_mul(7)?.checked_add(extra)?))
}

/// A date at the end of chrono's range, marked provisional: what overflowing reckonings return.
fn saturated_date() -> Reckoned<NaiveDate> {
    Reckoned {
        value: NaiveDate::MAX,
        provisional: true,
    }
}

/// The official calendar of working days: the union of the year tables added to it.
///
/// Lookups are constant time per year (a bitset of working days per known year), so
/// [`add_working_days`](Self::add_working_days) with n ≈ 100 costs a few word operations.
/// Years with no table are counted with weekends only and make results provisional.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    /// The tables, sorted by year.
    tables: Vec<YearTable>,
    /// The first year of `bits`.
    first_year: i32,
    /// The known years from `first_year` on: covered years, and neighbours that a covered
    /// year's New Year block reaches into. `None` for a gap.
    bits: Vec<Option<YearBits>>,
}

impl Calendar {
    /// An empty calendar: every year uncovered, every result provisional.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one calendar file (one year's notice) and checks it: known keys only, a notice
    /// cited, every date inside the year (or in the neighbouring year for a block that
    /// crosses New Year), make-up days on Saturdays or Sundays (HOL Art. 7), no day both off
    /// and make-up or listed twice. Errors carry the line and column.
    ///
    /// The file looks like this:
    ///
    /// ```toml
    /// year = 2025
    /// notice = "国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）"
    /// [[holidays]]
    /// name = "春节"
    /// off = { from = 2025-01-28, to = 2025-02-04 }   # inclusive
    /// make_up = [2025-01-26, 2025-02-08]
    /// ```
    pub fn parse_year(source: &str) -> Result<YearTable, CalendarError> {
        parse::parse_year(source)
    }

    /// Adds a year's table, checking it as [`parse_year`](Self::parse_year) does (without
    /// locations). Rejects a year given twice and a day that two years' notices disagree on.
    pub fn add_year(&mut self, table: YearTable) -> Result<(), CalendarError> {
        if !(1949..=9999).contains(&table.year) {
            return Err(CalendarError::YearOutOfRange {
                year: i64::from(table.year),
                at: None,
            });
        }
        if table.notice.trim().is_empty() {
            return Err(CalendarError::MissingNotice {
                year: table.year,
                at: None,
            });
        }
        if table.holidays.is_empty() {
            return Err(CalendarError::NoHolidays {
                year: table.year,
                at: None,
            });
        }
        let placed: Vec<PlacedHoliday<'_>> = table
            .holidays
            .iter()
            .map(|h| PlacedHoliday {
                name: h.name.trim(),
                at: None,
                days_off: h.days_off.iter().map(|d| (*d, None)).collect(),
                make_up_days: h.make_up_days.iter().map(|d| (*d, None)).collect(),
            })
            .collect();
        parse::check(table.year, &placed)?;
        if self.year(table.year).is_some() {
            return Err(CalendarError::YearGivenTwice { year: table.year });
        }
        for other in &self.tables {
            disagreement(other, &table)?;
            disagreement(&table, other)?;
        }
        let at = self.tables.partition_point(|t| t.year < table.year);
        self.tables.insert(at, table);
        self.rebuild();
        Ok(())
    }

    /// Rebuilds the bitsets from the tables.
    fn rebuild(&mut self) {
        let span = self.tables.iter().fold(None, |acc: Option<(i32, i32)>, t| {
            let (lo, hi) = acc.unwrap_or((t.year, t.year));
            Some((lo.min(t.year - 1), hi.max(t.year + 1)))
        });
        let Some((lo, hi)) = span else {
            self.bits.clear();
            return;
        };
        self.first_year = lo;
        self.bits = (lo..=hi)
            .map(|y| {
                let covered = self.year(y).is_some();
                let mut touched = covered;
                let mut bits = YearBits::weekdays(y, covered);
                for t in &self.tables {
                    for h in &t.holidays {
                        for (days, on) in [(&h.days_off, false), (&h.make_up_days, true)] {
                            for d in days.iter().filter(|d| d.year() == y) {
                                bits.set(d.ordinal0() as usize, on);
                                touched = true;
                            }
                        }
                    }
                }
                touched.then_some(bits)
            })
            .collect();
    }

    fn bits_for(&self, year: i32) -> Option<&YearBits> {
        let i = usize::try_from(i64::from(year) - i64::from(self.first_year)).ok()?;
        self.bits.get(i)?.as_ref()
    }

    /// The first year after `year` that has bits, if any.
    fn next_known_year(&self, year: i32) -> Option<i32> {
        let from = year.checked_add(1)?.max(self.first_year);
        (from..)
            .take_while(|y| i64::from(*y) - i64::from(self.first_year) < self.bits.len() as i64)
            .find(|y| self.bits_for(*y).is_some())
    }

    /// The year tables, in order of year.
    pub fn years(&self) -> impl Iterator<Item = &YearTable> {
        self.tables.iter()
    }

    /// The table of `year`, if the calendar covers it.
    pub fn year(&self, year: i32) -> Option<&YearTable> {
        self.tables
            .binary_search_by_key(&year, |t| t.year)
            .ok()
            .and_then(|i| self.tables.get(i))
    }

    /// Whether the year of `date` has its own notice in the calendar.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.year(date.year()).is_some()
    }

    /// 31 December of the last covered year (the latest year with a table, even if an
    /// earlier year is missing), or `None` for an empty calendar. Use it to warn when
    /// coverage ends soon.
    pub fn last_covered_day(&self) -> Option<NaiveDate> {
        self.tables
            .last()
            .and_then(|t| NaiveDate::from_ymd_opt(t.year, 12, 31))
    }

    /// The years between `from` and `to` (inclusive, by calendar year) that the calendar does
    /// not cover, as ranges: what a provisional result guessed.
    pub fn uncovered_years(&self, from: NaiveDate, to: NaiveDate) -> Vec<RangeInclusive<i32>> {
        let (lo, hi) = (from.year().min(to.year()), from.year().max(to.year()));
        let mut out = Vec::new();
        let mut next = lo;
        for t in self.tables.iter().filter(|t| (lo..=hi).contains(&t.year)) {
            if t.year > next {
                out.push(next..=t.year - 1);
            }
            next = t.year + 1;
        }
        if next <= hi {
            out.push(next..=hi);
        }
        out
    }

    /// What kind of day `date` is, per the notices (CPL Art. 85; HOL Arts. 2, 6, 7). A day
    /// off in a notice is never a working day; a listed make-up Saturday or Sunday is one.
    /// Provisional when the date's year is not covered (then weekends only).
    pub fn day_kind(&self, date: NaiveDate) -> Reckoned<DayKind> {
        let y = date.year();
        let listed = self
            .tables
            .iter()
            .filter(|t| (y - 1..=y + 1).contains(&t.year))
            .flat_map(|t| &t.holidays)
            .find_map(|h| {
                if h.days_off.contains(&date) {
                    Some(DayKind::DayOff {
                        holiday: h.name.clone(),
                    })
                } else if h.make_up_days.contains(&date) {
                    Some(DayKind::MakeUpWorkday {
                        holiday: h.name.clone(),
                    })
                } else {
                    None
                }
            });
        let kind = listed.unwrap_or(if is_weekend(date) {
            DayKind::Weekend
        } else {
            DayKind::Working
        });
        Reckoned {
            value: kind,
            provisional: !self.covers(date),
        }
    }

    /// Whether `date` is a working day: Monday to Friday and not a day off in the notice, or
    /// a make-up working day on a weekend. Provisional when its year is not covered.
    pub fn is_working_day(&self, date: NaiveDate) -> Reckoned<bool> {
        match self.bits_for(date.year()) {
            Some(b) => Reckoned {
                value: b.get(date.ordinal0() as usize),
                provisional: !b.covered,
            },
            None => Reckoned {
                value: !is_weekend(date),
                provisional: true,
            },
        }
    }

    /// The `n`-th working day after `date`, which is not counted (CPL Art. 85): the last day of
    /// a period of `n` working days starting on `date`. `n = 0` gives `date` itself.
    /// Provisional when a day looked at (after `date`, up to the result) is in an uncovered year.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Reckoned<NaiveDate> {
        let mut left = u64::from(n);
        let mut after = date;
        let mut provisional = false;
        while left > 0 {
            let Some(next) = after.succ_opt() else {
                return saturated_date();
            };
            let y = next.year();
            if let Some(bits) = self.bits_for(y) {
                provisional |= !bits.covered;
                match bits.nth_from(next.ordinal0() as usize, left) {
                    Ok(i) => {
                        let Some(day) = u32::try_from(i + 1)
                            .ok()
                            .and_then(|o| NaiveDate::from_yo_opt(y, o))
                        else {
                            return saturated_date();
                        };
                        return Reckoned {
                            value: day,
                            provisional,
                        };
                    }
                    Err(counted) => {
                        left -= counted;
                        let Some(dec31) = NaiveDate::from_ymd_opt(y, 12, 31) else {
                            return saturated_date();
                        };
                        after = dec31;
                    }
                }
            } else {
                // A stretch of years no notice covers: weekends only, in constant time.
                provisional = true;
                let Some(target) = nth_weekday_after(after, left) else {
                    return saturated_date();
                };
                let stretch_end = self
                    .next_known_year(y)
                    .and_then(|k| NaiveDate::from_ymd_opt(k - 1, 12, 31));
                match stretch_end {
                    Some(end) if target > end => {
                        let counted = weekdays_upto(end) - weekdays_upto(after);
                        left -= u64::try_from(counted).unwrap_or(0);
                        after = end;
                    }
                    _ => {
                        return Reckoned {
                            value: target,
                            provisional,
                        };
                    }
                }
            }
        }
        Reckoned {
            value: after,
            provisional,
        }
    }

    /// The first working day on or after `date`: where a period whose last day is `date`
    /// ends if `date` is a rest day (CPL Art. 85).
    pub fn roll_forward(&self, date: NaiveDate) -> Reckoned<NaiveDate> {
        match date.pred_opt() {
            Some(before) => self.add_working_days(before, 1),
            None => {
                let here = self.is_working_day(date);
                if here.value {
                    here.map(|_| date)
                } else {
                    self.add_working_days(date, 1)
                }
            }
        }
    }

    /// The last day of a period of `n` calendar days starting on `date` (not counted): `date + n`,
    /// rolled forward to the next working day if it is not one (CPL Art. 85). Use it for
    /// deadlines; a minimum period does not roll (see [`earliest`](Self::earliest)).
    /// Provisional when `date + n` or a day it rolls over is in an uncovered year (the days
    /// in between are not looked at).
    pub fn add_days(&self, date: NaiveDate, n: u32) -> Reckoned<NaiveDate> {
        match date.checked_add_days(Days::new(u64::from(n))) {
            Some(last) => self.roll_forward(last),
            None => saturated_date(),
        }
    }

    /// When a deadline of `period` starting at `start` ends (CPL Art. 85; APL Art. 85; ARL Art. 88):
    ///
    /// - days: the last day is the CST date of `start` plus the days, rolled forward to a
    ///   working day; due at the end of that day (00:00 CST of the next, exclusive);
    /// - working days: the n-th working day after the CST date of `start`; due at its end;
    /// - hours: exactly `start` plus the hours (never provisional).
    pub fn deadline(&self, start: DateTime<Utc>, period: Period) -> Reckoned<Due> {
        let day = cst_date(start);
        let last = match period {
            Period::Days(n) => self.add_days(day, n),
            Period::WorkingDays(n) => self.add_working_days(day, n),
            Period::Months(n) => match day.checked_add_months(chrono::Months::new(n)) {
                Some(d) => self.roll_forward(d),
                None => saturated_date(),
            },
            Period::Hours(n) => {
                return match start.checked_add_signed(TimeDelta::hours(i64::from(n))) {
                    Some(at) => {
                        let last_moment = if n > 0 && cst_start_of_day(cst_date(at)) == at {
                            cst_date(at).pred_opt().unwrap_or(NaiveDate::MIN)
                        } else {
                            cst_date(at)
                        };
                        Reckoned::certain(Due {
                            last_day: last_moment,
                            at,
                        })
                    }
                    None => Reckoned {
                        value: Due {
                            last_day: NaiveDate::MAX,
                            at: DateTime::<Utc>::MAX_UTC,
                        },
                        provisional: true,
                    },
                };
            }
        };
        last.map(|last_day| Due {
            last_day,
            at: cst_end_of_day(last_day),
        })
    }

    /// The first instant at which an act that must wait at least `period` after `start` may be
    /// taken (a minimum period, e.g. 713 Art. 15 "一般不少于30日"). The last day of the period
    /// is not rolled forward: rolling only lengthens deadlines, and a minimum is not extended.
    ///
    /// - days: from 00:00 CST of the day after (CST date of `start`) + n (never provisional);
    /// - working days: from 00:00 CST of the day after the n-th working day after that date;
    /// - hours: exactly `start` plus the hours.
    pub fn earliest(&self, start: DateTime<Utc>, period: Period) -> Reckoned<DateTime<Utc>> {
        let day = cst_date(start);
        let last = match period {
            Period::Days(n) => match day.checked_add_days(Days::new(u64::from(n))) {
                Some(d) => Reckoned::certain(d),
                None => saturated_date(),
            },
            Period::WorkingDays(n) => self.add_working_days(day, n),
            Period::Months(n) => match day.checked_add_months(chrono::Months::new(n)) {
                Some(d) => Reckoned::certain(d),
                None => saturated_date(),
            },
            Period::Hours(n) => {
                return match start.checked_add_signed(TimeDelta::hours(i64::from(n))) {
                    Some(at) => Reckoned::certain(at),
                    None => Reckoned {
                        value: DateTime::<Utc>::MAX_UTC,
                        provisional: true,
                    },
                };
            }
        };
        last.map(cst_end_of_day)
    }
}

/// An error if a day is off in `a` and a make-up working day in `b`.
fn disagreement(a: &YearTable, b: &YearTable) -> Result<(), CalendarError> {
    for h in &a.holidays {
        for d in &h.days_off {
            if b.holidays.iter().any(|g| g.make_up_days.contains(d)) {
                return Err(CalendarError::YearsDisagree {
                    date: *d,
                    off_year: a.year,
                    make_up_year: b.year,
                });
            }
        }
    }
    Ok(())
}
