//! Errors of calendar data: what is wrong, where (line:column in the TOML file) and how to fix it.

use chrono::NaiveDate;
use serde::Serialize;
use std::fmt;

/// A position in a calendar file: 1-based line and column (the column counts characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Line, starting at 1.
    pub line: usize,
    /// Column in characters, starting at 1.
    pub column: usize,
}

impl Location {
    /// The line and column of byte `offset` in `source` (an offset past the end points after
    /// the last character; an offset inside a character points at that character).
    pub fn from_offset(source: &str, offset: usize) -> Self {
        let mut line = 1;
        let mut column = 1;
        for (at, ch) in source.char_indices() {
            if at >= offset {
                break;
            }
            if ch == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Self { line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// `"12:7: "` for a known location, `""` otherwise: the prefix of every message.
fn prefix(location: &Option<Location>) -> String {
    location.map(|l| format!("{l}: ")).unwrap_or_default()
}

/// What is wrong with a year's calendar, or with adding it to a [`Calendar`](super::Calendar).
///
/// Errors found while parsing a file carry its [`Location`]; the message then starts with
/// `line:column: ` so that the caller only has to put the file name in front.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "miette", derive(miette::Diagnostic))]
pub enum CalendarError {
    /// The file is not valid TOML, has an unknown key, a value of the wrong type or misses a key.
    #[error(
        "{at}: {message}; a calendar file has `year`, `notice`, optional `source`, and \
         `[[holidays]]` tables with `name`, `off = {{ from = YYYY-MM-DD, to = YYYY-MM-DD }}` and \
         optional `make_up = [YYYY-MM-DD, ...]`"
    )]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::syntax)))]
    Syntax {
        /// Where the TOML parser stopped.
        at: Location,
        /// The TOML parser's message.
        message: String,
    },

    /// `year` is outside the years the engine accepts.
    #[error("{}year {year} is out of range: write the four-digit year of the notice (1949 to 9999)", prefix(.at))]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::year)))]
    YearOutOfRange {
        /// The year as written.
        year: i64,
        /// Where it is written.
        at: Option<Location>,
    },

    /// The notice citation is missing or blank.
    #[error(
        "{}the calendar for {year} cites no notice: add `notice = \"国务院办公厅关于{year}年部分节假日安排的通知（国办发明电〔…〕…号）\"` \
         with the title and number of the State Council notice the dates come from",
        prefix(.at)
    )]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::notice)))]
    MissingNotice {
        /// The year of the calendar.
        year: i32,
        /// Where the notice should be (the `year` key, or the blank `notice`).
        at: Option<Location>,
    },

    /// A text value that must say something is blank.
    #[error("{}`{key}` is blank: write {what}", prefix(.at))]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::blank)))]
    Blank {
        /// The key whose value is blank.
        key: &'static str,
        /// What the value should contain.
        what: &'static str,
        /// Where the value is.
        at: Option<Location>,
    },

    /// The file lists no holidays at all.
    #[error(
        "{}the calendar for {year} lists no holidays: add one `[[holidays]]` table per holiday of the notice",
        prefix(.at)
    )]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::no_holidays)))]
    NoHolidays {
        /// The year of the calendar.
        year: i32,
        /// Where the `year` key is.
        at: Option<Location>,
    },

    /// A value that must be a plain date is a time or a date with a time.
    #[error("{}`{found}` is not a plain date: write a TOML date such as 2025-01-28, with no time and no quotes", prefix(.at))]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::not_a_date)))]
    NotADate {
        /// The value as written.
        found: String,
        /// Where it is written.
        at: Option<Location>,
    },

    /// `off.to` is before `off.from`.
    #[error("{}holiday `{holiday}`: the days off run from {from} to {to}, which ends before it starts; swap `from` and `to` or fix the typo", prefix(.at))]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::reversed_range)))]
    ReversedRange {
        /// The holiday's name.
        holiday: String,
        /// `off.from`.
        from: NaiveDate,
        /// `off.to`.
        to: NaiveDate,
        /// Where `off` is written.
        at: Option<Location>,
    },

    /// A holiday lists no days off.
    #[error("{}holiday `{holiday}` has no days off: list the days the notice gives off", prefix(.at))]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::no_days_off)))]
    NoDaysOff {
        /// The holiday's name.
        holiday: String,
        /// Where the holiday is.
        at: Option<Location>,
    },

    /// A date lies outside the calendar's year (and is not part of a holiday block that
    /// crosses New Year, such as 2018-12-30 to 2019-01-01 in the 2019 notice).
    #[error(
        "{}holiday `{holiday}`: {date} is not in {year}: a calendar file holds one year's notice; fix the year of the date, \
         or move it to the file of its own year (only a holiday block that contains 1 January or 31 December may reach into the last or first week of the neighbouring year)",
        prefix(.at)
    )]
    #[cfg_attr(
        feature = "miette",
        diagnostic(code(fazhi::calendar::date_outside_year))
    )]
    DateOutsideYear {
        /// The holiday's name.
        holiday: String,
        /// The date as written.
        date: NaiveDate,
        /// The calendar's year.
        year: i32,
        /// Where the date is written.
        at: Option<Location>,
    },

    /// A make-up working day is a weekday.
    #[error(
        "{}holiday `{holiday}`: make-up working day {date} is a {weekday}: the notice moves work only onto Saturdays and Sundays \
         (HOL Art. 7; a weekday is a working day anyway); check the date against the notice",
        prefix(.at)
    )]
    #[cfg_attr(
        feature = "miette",
        diagnostic(code(fazhi::calendar::make_up_not_weekend))
    )]
    MakeUpNotWeekend {
        /// The holiday's name.
        holiday: String,
        /// The date as written.
        date: NaiveDate,
        /// Its weekday in English, e.g. `Wednesday`.
        weekday: String,
        /// Where the date is written.
        at: Option<Location>,
    },

    /// A day is both a day off and a make-up working day.
    #[error("{}{date} is both a day off and a make-up working day: a day is one or the other; check both against the notice", prefix(.at))]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::off_and_make_up)))]
    OffAndMakeUp {
        /// The date.
        date: NaiveDate,
        /// Where its second listing is written.
        at: Option<Location>,
    },

    /// A day is listed twice, as a day off or as a make-up day.
    #[error("{}{date} is listed twice: remove the second listing (holiday blocks do not overlap)", prefix(.at))]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::duplicate_day)))]
    DuplicateDay {
        /// The date.
        date: NaiveDate,
        /// Where its second listing is written.
        at: Option<Location>,
    },

    /// A year is added to a calendar that already has it.
    #[error("the calendar for {year} is given twice: keep one file per year")]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::year_twice)))]
    YearGivenTwice {
        /// The year.
        year: i32,
    },

    /// Two years' notices disagree about a day near New Year.
    #[error(
        "{date} is a day off in the calendar for {off_year} but a make-up working day in the calendar for {make_up_year}: \
         check both notices and fix the wrong file"
    )]
    #[cfg_attr(feature = "miette", diagnostic(code(fazhi::calendar::years_disagree)))]
    YearsDisagree {
        /// The date.
        date: NaiveDate,
        /// The year whose calendar gives it off.
        off_year: i32,
        /// The year whose calendar makes it a working day.
        make_up_year: i32,
    },
}

impl CalendarError {
    /// Where in the calendar file the error is, if it came from a file.
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::Syntax { at, .. } => Some(*at),
            Self::YearOutOfRange { at, .. }
            | Self::MissingNotice { at, .. }
            | Self::Blank { at, .. }
            | Self::NoHolidays { at, .. }
            | Self::NotADate { at, .. }
            | Self::ReversedRange { at, .. }
            | Self::NoDaysOff { at, .. }
            | Self::DateOutsideYear { at, .. }
            | Self::MakeUpNotWeekend { at, .. }
            | Self::OffAndMakeUp { at, .. }
            | Self::DuplicateDay { at, .. } => *at,
            Self::YearGivenTwice { .. } | Self::YearsDisagree { .. } => None,
        }
    }
}
