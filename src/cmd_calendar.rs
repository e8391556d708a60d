//! `fazhi calendar`: reckon working days and show a year's holidays from the calendar files.

use crate::calendars::load_calendar_dir;
use chrono::Datelike;
use chrono::NaiveDate;
use clap::{ArgGroup, Args, Subcommand};
use fazhi_core::lang::Lang;
use fazhi_core::time::{Calendar, Reckoned};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the calendar files are.
#[derive(Debug, Clone, Args)]
pub struct CalendarDir {
    /// Directory of the calendar files, one `<year>.toml` per year.
    #[arg(
        long = "calendars",
        value_name = "DIR",
        default_value = "rules/calendars"
    )]
    pub calendars: PathBuf,
}

/// `fazhi calendar` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CalendarCmd {
    /// Print the last day of a period that starts on DATE (not counted), as YYYY-MM-DD.
    ///
    /// With --workdays N: the N-th working day after DATE. With --days N: DATE + N, rolled
    /// forward past rest days (CPL Art. 85). A result that depends on a year with no calendar
    /// file is still printed, and stderr says it is provisional.
    #[command(group(ArgGroup::new("length").required(true).args(["workdays", "days"])))]
    Add {
        /// The day the period starts (not counted), as YYYY-MM-DD.
        #[arg(value_parser = parse_date)]
        date: NaiveDate,
        /// Count N working days.
        #[arg(long, value_name = "N")]
        workdays: Option<u32>,
        /// Count N calendar days, rolled forward to a working day.
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// The calendar files.
        #[command(flatten)]
        dir: CalendarDir,
        /// The language of the warnings: `zh` or `en` (the date is written YYYY-MM-DD in both).
        #[arg(long, value_name = "LANG", default_value = "zh")]
        lang: Lang,
    },
    /// List a year's days off and make-up working days by holiday, and the notice cited.
    Show {
        /// The year, e.g. 2025.
        year: i32,
        /// The calendar files.
        #[command(flatten)]
        dir: CalendarDir,
        /// The language of the listing: `zh` or `en`.
        #[arg(long, value_name = "LANG", default_value = "zh")]
        lang: Lang,
    },
}

/// Parses a command-line date; the message is what clap prints after "invalid value".
fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a date ({e}): write it as YYYY-MM-DD, e.g. 2025-01-24"))
}

/// Runs a `fazhi calendar` subcommand: exit 0 on success, 1 when the calendar cannot be
/// loaded or does not cover the year asked for. (Bad arguments exit 2, from clap.)
pub fn run(cmd: CalendarCmd) -> ExitCode {
    match cmd {
        CalendarCmd::Add {
            date,
            workdays,
            days,
            dir,
            lang,
        } => with_calendar(&dir.calendars, |cal| {
            add(cal, &dir.calendars, date, (workdays, days), lang)
        }),
        CalendarCmd::Show { year, dir, lang } => {
            with_calendar(&dir.calendars, |cal| show(cal, &dir.calendars, year, lang))
        }
    }
}

fn with_calendar(dir: &Path, f: impl FnOnce(&Calendar) -> ExitCode) -> ExitCode {
    match load_calendar_dir(dir) {
        Ok(cal) => f(&cal),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn add(
    cal: &Calendar,
    dir: &Path,
    date: NaiveDate,
    (workdays, days): (Option<u32>, Option<u32>),
    lang: Lang,
) -> ExitCode {
    // The first day looked at, and the result.
    let (first, r): (NaiveDate, Reckoned<NaiveDate>) = match (workdays, days) {
        (Some(n), _) => (
            date.succ_opt().unwrap_or(date),
            cal.add_working_days(date, n),
        ),
        (None, Some(n)) => (
            date.checked_add_days(chrono::Days::new(u64::from(n)))
                .unwrap_or(NaiveDate::MAX),
            cal.add_days(date, n),
        ),
        // clap's ArgGroup requires one of the two.
        (None, None) => {
            eprintln!("error: give --workdays <N> or --days <N>");
            return ExitCode::from(2);
        }
    };
    println!("{}", r.value.format("%Y-%m-%d"));
    if r.provisional {
        let ranges = cal.uncovered_years(first, r.value);
        let count: i64 = ranges
            .iter()
            .map(|y| i64::from(*y.end()) - i64::from(*y.start()) + 1)
            .sum();
        let years: Vec<String> = ranges
            .iter()
            .map(|y| match lang {
                _ if y.start() == y.end() => y.start().to_string(),
                Lang::Zh => format!("{}至{}", y.start(), y.end()),
                Lang::En => format!("{} to {}", y.start(), y.end()),
            })
            .collect();
        if lang == Lang::Zh {
            let last = cal
                .last_covered_day()
                .map_or_else(|| "无".to_owned(), |d| d.to_string());
            eprintln!(
                "警告：结果为暂算：`{}`中的日历未收录{}年（最后收录日：{last}），这些年份的日期仅按周末计算，未计节假日和调休上班日。\
                 请将国务院办公厅当年的节假日安排通知按`<年份>.toml`添加到该目录。",
                dir.display(),
                years.join("、"),
            );
            return ExitCode::SUCCESS;
        }
        let last = cal
            .last_covered_day()
            .map_or_else(|| "none".to_owned(), |d| d.to_string());
        let (is, them) = if count == 1 {
            ("is", "that year")
        } else {
            ("are", "those years")
        };
        eprintln!(
            "warning: provisional: {} {is} not covered by the calendars in `{}` (last covered day: {last}); \
             days there were counted with weekends only, without holidays or make-up working days. \
             Add the State Council's holiday notice for {them} as `<year>.toml` there.",
            years.join(", "),
            dir.display(),
        );
    }
    ExitCode::SUCCESS
}

fn show(cal: &Calendar, dir: &Path, year: i32, lang: Lang) -> ExitCode {
    let Some(table) = cal.year(year) else {
        let covered: Vec<String> = cal.years().map(|t| t.year.to_string()).collect();
        if lang == Lang::Zh {
            eprintln!(
                "错误：`{}`中的日历未收录{year}年（已收录：{}）：请根据国务院办公厅{year}年节假日安排通知在该目录添加`{year}.toml`",
                dir.display(),
                covered.join("、")
            );
            return ExitCode::from(1);
        }
        eprintln!(
            "error: {year} is not covered by the calendars in `{}` (covered: {}): add `{year}.toml` there from the State Council's holiday notice for {year}",
            dir.display(),
            covered.join(", ")
        );
        return ExitCode::from(1);
    };
    if lang == Lang::Zh {
        show_zh(table);
        return ExitCode::SUCCESS;
    }
    let day = |d: &NaiveDate| d.format("%Y-%m-%d %a").to_string();
    println!("{year}: {}", table.notice);
    if let Some(source) = &table.source {
        println!("source: {source}");
    }
    for h in &table.holidays {
        println!();
        println!("{}", h.name);
        let n = h.days_off.len();
        let plural = if n == 1 { "" } else { "s" };
        match one_run(&h.days_off) {
            Some((a, b)) => {
                println!(
                    "  days off:             {} to {} ({n} day{plural})",
                    day(a),
                    day(b)
                );
            }
            _ => {
                let all: Vec<String> = h.days_off.iter().map(day).collect();
                println!(
                    "  days off:             {} ({n} day{plural})",
                    all.join(", ")
                );
            }
        }
        let make_up: Vec<String> = h.make_up_days.iter().map(day).collect();
        println!(
            "  make-up working days: {}",
            if make_up.is_empty() {
                "none".to_owned()
            } else {
                make_up.join(", ")
            }
        );
    }
    ExitCode::SUCCESS
}

/// The first and last of several days that follow one another without a gap (written
/// "from … to …"); `None` for one day or days with gaps (written as a list).
fn one_run(days: &[NaiveDate]) -> Option<(&NaiveDate, &NaiveDate)> {
    let contiguous = days
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.succ_opt() == Some(*b)));
    match (days.first(), days.last()) {
        (Some(a), Some(b)) if contiguous && days.len() > 1 => Some((a, b)),
        _ => None,
    }
}

/// `fazhi calendar show` in Chinese.
fn show_zh(table: &fazhi_core::time::YearTable) {
    const WEEKDAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
    let day = |d: &NaiveDate| {
        let w = WEEKDAYS
            .get(d.weekday().num_days_from_monday() as usize)
            .copied()
            .unwrap_or_default();
        format!("{} 星期{w}", d.format("%Y-%m-%d"))
    };
    println!("{}年：{}", table.year, table.notice);
    if let Some(source) = &table.source {
        println!("来源：{source}");
    }
    for h in &table.holidays {
        println!();
        println!("{}", h.name);
        let n = h.days_off.len();
        match one_run(&h.days_off) {
            Some((a, b)) => {
                println!("  放假：    {} 至 {}（共{n}天）", day(a), day(b));
            }
            _ => {
                let all: Vec<String> = h.days_off.iter().map(day).collect();
                println!("  放假：    {}（共{n}天）", all.join("、"));
            }
        }
        let make_up: Vec<String> = h.make_up_days.iter().map(day).collect();
        println!(
            "  调休上班：{}",
            if make_up.is_empty() {
                "无".to_owned()
            } else {
                make_up.join("、")
            }
        );
    }
}
