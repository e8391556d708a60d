//! Table tests of legal time over the 2024–2026 notices. Every expected date is worked out by
//! hand from the notice (domain.md §5), never copied from output.

use super::*;
use chrono::{Datelike, Weekday};
use proptest::prelude::*;

const Y2024: &str = include_str!("../../../../rules/calendars/2024.toml");
const Y2025: &str = include_str!("../../../../rules/calendars/2025.toml");
const Y2026: &str = include_str!("../../../../rules/calendars/2026.toml");

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn cal() -> Calendar {
    let mut c = Calendar::new();
    for src in [Y2024, Y2025, Y2026] {
        c.add_year(Calendar::parse_year(src).unwrap()).unwrap();
    }
    c
}

fn sure(date: &str) -> Reckoned<NaiveDate> {
    Reckoned::certain(d(date))
}

fn guess(date: &str) -> Reckoned<NaiveDate> {
    Reckoned {
        value: d(date),
        provisional: true,
    }
}

#[test]
fn cst_dates_and_day_boundaries() {
    // 2025-09-30T17:00Z is 2025-10-01 01:00 CST.
    assert_eq!(cst_date(utc("2025-09-30T17:00:00Z")), d("2025-10-01"));
    assert_eq!(cst_date(utc("2025-09-30T15:59:59Z")), d("2025-09-30"));
    assert_eq!(cst_date(utc("2025-09-30T16:00:00Z")), d("2025-10-01"));
    assert_eq!(
        cst_start_of_day(d("2025-10-01")),
        utc("2025-09-30T16:00:00Z")
    );
    assert_eq!(cst_end_of_day(d("2025-10-01")), utc("2025-10-01T16:00:00Z"));
    // No panic at the ends of chrono's range.
    assert_eq!(cst_date(DateTime::<Utc>::MAX_UTC), NaiveDate::MAX);
    assert_eq!(cst_start_of_day(NaiveDate::MIN), DateTime::<Utc>::MIN_UTC);
    assert_eq!(
        cst_end_of_day(NaiveDate::MAX),
        cst_start_of_day(NaiveDate::MAX) + chrono::TimeDelta::days(1)
    );
}

#[test]
fn day_kinds() {
    let c = cal();
    let k = |s: &str| c.day_kind(d(s));
    let off = |h: &str| DayKind::DayOff { holiday: h.into() };
    let mk = |h: &str| DayKind::MakeUpWorkday { holiday: h.into() };
    assert_eq!(k("2025-01-26"), Reckoned::certain(mk("春节"))); // Sun, make-up
    assert_eq!(k("2025-02-08"), Reckoned::certain(mk("春节"))); // Sat, make-up
    assert_eq!(k("2025-02-03"), Reckoned::certain(off("春节"))); // Mon, swapped rest day
    assert_eq!(k("2025-04-05"), Reckoned::certain(off("清明节"))); // Sat inside the block
    assert_eq!(k("2025-02-09"), Reckoned::certain(DayKind::Weekend));
    assert_eq!(k("2025-02-10"), Reckoned::certain(DayKind::Working));
    assert_eq!(k("2026-09-20"), Reckoned::certain(mk("国庆节")));
    assert_eq!(k("2024-02-09"), Reckoned::certain(DayKind::Working)); // eve, only "encouraged"
    // 2027-10-01 will surely be off, but no notice says so yet: weekdays only, provisional.
    assert_eq!(
        k("2027-10-01"),
        Reckoned {
            value: DayKind::Working,
            provisional: true
        }
    );
    assert!(mk("x").is_working() && !off("x").is_working());
}

#[test]
fn working_days_table() {
    let c = cal();
    let cases: &[(&str, u32, &str)] = &[
        // 2025 Spring Festival: off 01-28..02-04, make-up Sun 01-26 and Sat 02-08.
        ("2025-01-24", 1, "2025-01-26"), // Fri → the make-up Sunday
        ("2025-01-24", 2, "2025-01-27"),
        ("2025-01-24", 3, "2025-02-05"), // jumps the block
        ("2025-01-24", 5, "2025-02-07"), // 01-26, 01-27, 02-05, 02-06, 02-07
        ("2025-01-24", 6, "2025-02-08"), // the make-up Saturday
        ("2025-01-24", 7, "2025-02-10"), // 02-09 Sun is not
        ("2025-01-25", 0, "2025-01-25"),
        // Qingming 2025 (Fri 04-04..Sun 04-06), Dragon Boat (Sat 05-31..Mon 06-02).
        ("2025-04-03", 1, "2025-04-07"),
        ("2025-05-30", 1, "2025-06-03"),
        // Labour Day 2025: make-up Sun 04-27, off 05-01..05-05.
        ("2025-04-25", 1, "2025-04-27"),
        ("2025-04-25", 4, "2025-04-30"),
        ("2025-04-25", 5, "2025-05-06"),
        // National Day 2025: make-up Sun 09-28, off 10-01..10-08, make-up Sat 10-11.
        ("2025-09-26", 1, "2025-09-28"),
        ("2025-09-30", 1, "2025-10-09"),
        ("2025-09-30", 3, "2025-10-11"),
        ("2025-09-30", 4, "2025-10-13"),
        // Across New Year 2026: off Thu 01-01..Sat 01-03, make-up Sun 01-04.
        ("2025-12-31", 1, "2026-01-04"),
        ("2025-12-30", 1, "2025-12-31"),
        // 2026 Spring Festival: make-up Sat 02-14, off 02-15..02-23, make-up Sat 02-28.
        ("2026-02-13", 1, "2026-02-14"),
        ("2026-02-13", 2, "2026-02-24"),
        ("2026-02-27", 1, "2026-02-28"),
        // 2026 Labour Day (off 05-01..05-05, make-up Sat 05-09).
        ("2026-04-30", 1, "2026-05-06"),
        ("2026-05-08", 1, "2026-05-09"),
        // 2026 Mid-Autumn (off 09-25..09-27) and National Day (make-up 09-20, 10-10).
        ("2026-09-18", 1, "2026-09-20"),
        ("2026-09-18", 5, "2026-09-24"),
        ("2026-09-18", 6, "2026-09-28"),
        ("2026-09-30", 1, "2026-10-08"),
        ("2026-09-30", 3, "2026-10-10"),
        ("2026-09-30", 4, "2026-10-12"),
        // 2024: New Year's Eve 02-09 is a working Friday; make-up Sun 02-18.
        ("2024-02-08", 1, "2024-02-09"),
        ("2024-02-08", 2, "2024-02-18"),
        ("2024-04-26", 1, "2024-04-28"),
        ("2024-05-10", 1, "2024-05-11"),
        // A long run: 2025-01-02 + 20 working days. January after 01-02: 03, 06-10, 13-17,
        // 20-24 (16), 26 Sun (17), 27 (18); block; 02-05 (19), 02-06 (20).
        ("2025-01-02", 20, "2025-02-06"),
    ];
    for &(from, n, want) in cases {
        assert_eq!(
            c.add_working_days(d(from), n),
            sure(want),
            "{from} + {n} wd"
        );
    }
}

#[test]
fn calendar_days_roll_forward_past_rest_days() {
    let c = cal();
    let cases: &[(&str, u32, &str)] = &[
        ("2025-09-03", 30, "2025-10-09"), // 10-03 in the National Day block → Thu 10-09
        ("2025-01-01", 30, "2025-02-05"), // 01-31 in the Spring Festival block → Wed 02-05
        ("2025-01-09", 30, "2025-02-08"), // lands on the make-up Saturday: no roll
        ("2025-01-10", 30, "2025-02-10"), // Sun 02-09 → Mon 02-10
        ("2025-02-14", 15, "2025-03-03"), // Sat 03-01 → Mon 03-03
        ("2025-03-03", 7, "2025-03-10"),  // Mon → Mon, a working day
        ("2026-01-17", 30, "2026-02-24"), // 02-16 in the block → Tue 02-24
        ("2026-04-01", 30, "2026-05-06"), // 05-01 → Wed 05-06
        ("2025-12-02", 30, "2026-01-04"), // 2026-01-01 → make-up Sun 01-04
        ("2025-10-10", 1, "2025-10-11"),  // the make-up Saturday
        ("2025-10-07", 0, "2025-10-09"),  // 0 days: the day itself, rolled
    ];
    for &(from, n, want) in cases {
        assert_eq!(c.add_days(d(from), n), sure(want), "{from} + {n} days");
    }
}

#[test]
fn deadlines() {
    let c = cal();
    // Served 2025-09-03 10:00 CST; 30 days → last day 10-03 is off → Thu 10-09, due 10-10 00:00 CST.
    let start = utc("2025-09-03T02:00:00Z");
    assert_eq!(
        c.deadline(start, Period::Days(30)),
        Reckoned::certain(Due {
            last_day: d("2025-10-09"),
            at: utc("2025-10-09T16:00:00Z")
        })
    );
    // 5 working days from Fri 2025-01-24 → Fri 02-07, due 02-08 00:00 CST.
    assert_eq!(
        c.deadline(utc("2025-01-24T01:00:00Z"), Period::WorkingDays(5)),
        Reckoned::certain(Due {
            last_day: d("2025-02-07"),
            at: utc("2025-02-07T16:00:00Z")
        })
    );
    // The CST date counts, not the UTC one: 2025-09-30T17:00Z is 10-01 01:00 CST, so 7
    // working days run from 10-01: 10-09, 10-10, 10-11 (make-up), 10-13, 14, 15, 16.
    assert_eq!(
        c.deadline(utc("2025-09-30T17:00:00Z"), Period::WorkingDays(7))
            .value
            .last_day,
        d("2025-10-16")
    );
    // Hours across midnight CST: exactly 48 hours, holidays or not.
    assert_eq!(
        c.deadline(utc("2025-09-30T17:00:00Z"), Period::Hours(48)),
        Reckoned::certain(Due {
            last_day: d("2025-10-03"),
            at: utc("2025-10-02T17:00:00Z")
        })
    );
    // 23 hours from 10-01 01:00 CST end at 10-02 00:00 CST: the last moment is on 10-01.
    assert_eq!(
        c.deadline(utc("2025-09-30T17:00:00Z"), Period::Hours(23)),
        Reckoned::certain(Due {
            last_day: d("2025-10-01"),
            at: utc("2025-10-01T16:00:00Z")
        })
    );
}

#[test]
fn minimum_periods_do_not_roll() {
    let c = cal();
    // At least 30 days after 2025-09-03: last day 10-03 (a day off, not rolled); from 10-04 00:00 CST.
    assert_eq!(
        c.earliest(utc("2025-09-03T02:00:00Z"), Period::Days(30)),
        Reckoned::certain(utc("2025-10-03T16:00:00Z"))
    );
    // 2026: 30 days after 01-17 → 02-16 inside the block; from 02-17 00:00 CST.
    assert_eq!(
        c.earliest(utc("2026-01-17T00:00:00Z"), Period::Days(30)),
        Reckoned::certain(utc("2026-02-16T16:00:00Z"))
    );
    // At least 7 working days after Wed 2026-09-30: 10-08, 09, 10 (make-up), 12, 13, 14, 15;
    // from 10-16 00:00 CST.
    assert_eq!(
        c.earliest(utc("2026-09-30T03:00:00Z"), Period::WorkingDays(7)),
        Reckoned::certain(utc("2026-10-15T16:00:00Z"))
    );
    // 1 day after 2025-09-30T17:00Z (10-01 CST): last day 10-02; from 10-03 00:00 CST.
    assert_eq!(
        c.earliest(utc("2025-09-30T17:00:00Z"), Period::Days(1)),
        Reckoned::certain(utc("2025-10-02T16:00:00Z"))
    );
    assert_eq!(
        c.earliest(utc("2025-09-30T17:00:00Z"), Period::Hours(6)),
        Reckoned::certain(utc("2025-09-30T23:00:00Z"))
    );
}

#[test]
fn uncovered_years_are_provisional() {
    let c = cal();
    // Thu 2026-12-31 is covered; 2027 is not: Fri 01-01 counts as a working day (weekends only).
    assert_eq!(c.add_working_days(d("2026-12-30"), 1), sure("2026-12-31"));
    assert_eq!(c.add_working_days(d("2026-12-30"), 3), guess("2027-01-04"));
    assert_eq!(c.add_days(d("2027-03-01"), 10), guess("2027-03-11"));
    assert_eq!(c.add_days(d("2027-03-01"), 12), guess("2027-03-15")); // Sat 03-13 → Mon
    // 2023 is not covered: Sat/Sun 2023-12-30/31 are looked at; Mon 2024-01-01 is off.
    assert_eq!(c.add_working_days(d("2023-12-29"), 1), guess("2024-01-02"));
    assert_eq!(c.add_working_days(d("2023-06-01"), 2), guess("2023-06-05"));
    // Starting on an uncovered Dec 31 looks at no uncovered day.
    assert_eq!(c.add_working_days(d("2023-12-31"), 1), sure("2024-01-02"));
    // A stretch of uncovered years and back: 2023-12-22 (Fri) + 6: 25..29 (5), 2024-01-02 (6).
    assert_eq!(c.add_working_days(d("2023-12-22"), 6), guess("2024-01-02"));
    assert!(c.is_working_day(d("2023-03-01")).provisional);
    assert!(
        c.deadline(utc("2027-01-05T00:00:00Z"), Period::Days(3))
            .provisional
    );
    assert!(
        !c.deadline(utc("2027-01-05T00:00:00Z"), Period::Hours(3))
            .provisional
    );
    // An empty calendar knows nothing.
    let empty = Calendar::new();
    assert_eq!(
        empty.add_working_days(d("2025-01-24"), 5),
        guess("2025-01-31")
    );
    assert_eq!(empty.last_covered_day(), None);
    assert_eq!(c.last_covered_day(), Some(d("2026-12-31")));
    assert_eq!(
        c.uncovered_years(d("2022-05-01"), d("2029-01-01")),
        vec![2022..=2023, 2027..=2029]
    );
    assert!(
        c.uncovered_years(d("2024-05-01"), d("2026-01-01"))
            .is_empty()
    );
}

#[test]
fn huge_periods_saturate_without_panicking() {
    let c = cal();
    let r = c.add_working_days(d("2025-01-01"), u32::MAX);
    assert!(r.provisional);
    let r = c.add_days(NaiveDate::MAX, 1);
    assert_eq!(r, guess(&NaiveDate::MAX.to_string()));
    assert!(
        c.deadline(DateTime::<Utc>::MAX_UTC, Period::Hours(1))
            .provisional
    );
    assert!(
        c.earliest(DateTime::<Utc>::MAX_UTC, Period::Days(1))
            .provisional
    );
    // u32::MAX working days ≈ 6 billion days, past chrono's end (year 262143).
    assert_eq!(r.value, NaiveDate::MAX);
}

#[test]
fn periods_display() {
    assert_eq!(Period::Days(30).to_string(), "30 days");
    assert_eq!(Period::Days(1).to_string(), "1 day");
    assert_eq!(Period::WorkingDays(7).to_string(), "7 working days");
    assert_eq!(Period::Hours(48).to_string(), "48 hours");
    assert_eq!(Period::WorkingDays(7).to_zh(), "7个工作日");
    assert_eq!(Period::Days(30).to_zh(), "30日");
    assert_eq!(Period::Hours(48).to_zh(), "48小时");
}

#[test]
fn tables_hold_what_the_file_says() {
    let t = Calendar::parse_year(Y2025).unwrap();
    assert_eq!(t.year, 2025);
    assert!(t.notice.contains("国办发明电〔2024〕12号"));
    assert_eq!(t.source, None);
    let names: Vec<_> = t.holidays.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "元旦",
            "春节",
            "清明节",
            "劳动节",
            "端午节",
            "国庆节、中秋节"
        ]
    );
    let spring = &t.holidays[1];
    assert_eq!(spring.days_off.len(), 8);
    assert_eq!(spring.days_off[0], d("2025-01-28"));
    assert_eq!(spring.days_off[7], d("2025-02-04"));
    assert_eq!(spring.make_up_days, [d("2025-01-26"), d("2025-02-08")]);
    let c = cal();
    assert_eq!(
        c.years().map(|t| t.year).collect::<Vec<_>>(),
        [2024, 2025, 2026]
    );
    assert!(c.year(2026).is_some() && c.year(2027).is_none());
    assert!(c.covers(d("2026-12-31")) && !c.covers(d("2027-01-01")));
}

/// Days off per notice as HOL Art. 2 allows them: lengths as published.
#[test]
fn block_lengths_match_the_notices() {
    let len = |src: &str| -> Vec<usize> {
        Calendar::parse_year(src)
            .unwrap()
            .holidays
            .iter()
            .map(|h| h.days_off.len())
            .collect()
    };
    assert_eq!(len(Y2024), [1, 8, 3, 5, 1, 3, 7]);
    assert_eq!(len(Y2025), [1, 8, 3, 5, 3, 8]);
    assert_eq!(len(Y2026), [3, 9, 3, 5, 3, 3, 7]);
}

// ---- data validation -------------------------------------------------------------------

const HEAD: &str = "year = 2025\nnotice = \"国务院办公厅关于2025年部分节假日安排的通知\"\n";

fn err(src: &str) -> CalendarError {
    Calendar::parse_year(src).unwrap_err()
}

fn loc(line: usize, column: usize) -> Option<Location> {
    Some(Location { line, column })
}

#[test]
fn unknown_key_is_reported_at_its_place() {
    let e = err(&format!(
        "{HEAD}[[holidays]]\nname = \"春节\"\nof = {{ from = 2025-01-28, to = 2025-02-04 }}\n"
    ));
    assert!(matches!(e, CalendarError::Syntax { .. }), "{e:?}");
    assert_eq!(e.location(), loc(5, 1));
    assert!(e.to_string().starts_with("5:1: unknown field `of`"), "{e}");
}

#[test]
fn bad_toml_is_reported_at_its_place() {
    let e = err("year = 2025\nnotice = \"x\n");
    assert!(matches!(e, CalendarError::Syntax { .. }), "{e:?}");
    assert_eq!(e.location().map(|l| l.line), Some(2));
}

#[test]
fn missing_notice_is_an_error() {
    let e = err(
        "year = 2025\n[[holidays]]\nname = \"元旦\"\noff = { from = 2025-01-01, to = 2025-01-01 }\n",
    );
    assert_eq!(
        e,
        CalendarError::MissingNotice {
            year: 2025,
            at: loc(1, 8)
        }
    );
    assert!(e.to_string().contains("notice = "), "{e}");
    let e = err(
        "year = 2025\nnotice = \"  \"\n[[holidays]]\nname = \"元旦\"\noff = { from = 2025-01-01, to = 2025-01-01 }\n",
    );
    assert_eq!(e.location(), loc(2, 10));
}

#[test]
fn date_outside_the_year_is_an_error() {
    let e = err(&format!(
        "{HEAD}[[holidays]]\nname = \"春节\"\noff = {{ from = 2025-01-28, to = 2025-02-04 }}\nmake_up = [2024-01-26]\n"
    ));
    assert_eq!(
        e,
        CalendarError::DateOutsideYear {
            holiday: "春节".into(),
            date: d("2024-01-26"),
            year: 2025,
            at: loc(6, 12)
        }
    );
    assert!(
        e.to_string()
            .starts_with("6:12: holiday `春节`: 2024-01-26 is not in 2025")
    );
    let e = err(&format!(
        "{HEAD}[[holidays]]\nname = \"国庆节\"\noff = {{ from = 2025-10-01, to = 2026-10-08 }}\n"
    ));
    assert_eq!(e.location(), loc(5, 33)); // the `to` date
}

#[test]
fn a_block_crossing_new_year_may_reach_into_the_neighbouring_year() {
    // The 2019 notice (国办发明电〔2018〕15号): 2018-12-30 to 2019-01-01 off, Sat 2018-12-29 on.
    let src = "year = 2019\nnotice = \"国务院办公厅关于2019年部分节假日安排的通知（国办发明电〔2018〕15号）\"\n\
               [[holidays]]\nname = \"元旦\"\noff = { from = 2018-12-30, to = 2019-01-01 }\nmake_up = [2018-12-29]\n";
    let t = Calendar::parse_year(src).unwrap();
    let mut c = Calendar::new();
    c.add_year(t).unwrap();
    // Fri 2018-12-28 + 1: Sat 12-29 is a make-up day (2018 itself is not covered: provisional).
    assert_eq!(c.add_working_days(d("2018-12-28"), 1), guess("2018-12-29"));
    // 12-30 and 12-31 are listed, but 2018 has no notice of its own: still provisional.
    assert_eq!(c.add_working_days(d("2018-12-29"), 1), guess("2019-01-02"));
    assert_eq!(c.add_working_days(d("2018-12-31"), 1), sure("2019-01-02"));
    assert!(!c.covers(d("2018-12-29")));
    assert_eq!(
        c.day_kind(d("2018-12-31")).value,
        DayKind::DayOff {
            holiday: "元旦".into()
        }
    );
    // A block that does not contain 1 January may not reach back.
    let e = err(
        "year = 2019\nnotice = \"n\"\n[[holidays]]\nname = \"春节\"\noff = { from = 2019-02-04, to = 2019-02-10 }\nmake_up = [2018-12-29]\n",
    );
    assert_eq!(e.location(), loc(6, 12));
}

#[test]
fn make_up_on_a_weekday_is_an_error() {
    // 2025-01-27 is a Monday.
    let e = err(&format!(
        "{HEAD}[[holidays]]\nname = \"春节\"\noff = {{ from = 2025-01-28, to = 2025-02-04 }}\nmake_up = [2025-01-26, 2025-01-27]\n"
    ));
    assert_eq!(
        e,
        CalendarError::MakeUpNotWeekend {
            holiday: "春节".into(),
            date: d("2025-01-27"),
            weekday: "Monday".into(),
            at: loc(6, 24)
        }
    );
    assert!(e.to_string().contains("HOL Art. 7"), "{e}");
}

#[test]
fn a_day_both_off_and_make_up_is_an_error() {
    let e = err(&format!(
        "{HEAD}[[holidays]]\nname = \"清明节\"\noff = {{ from = 2025-04-04, to = 2025-04-06 }}\n\
         [[holidays]]\nname = \"x\"\noff = {{ from = 2025-04-08, to = 2025-04-08 }}\nmake_up = [2025-04-05]\n"
    ));
    assert_eq!(
        e,
        CalendarError::OffAndMakeUp {
            date: d("2025-04-05"),
            at: loc(9, 12)
        }
    );
}

#[test]
fn other_data_errors() {
    let reversed = err(&format!(
        "{HEAD}[[holidays]]\nname = \"春节\"\noff = {{ from = 2025-02-04, to = 2025-01-28 }}\n"
    ));
    assert!(matches!(reversed, CalendarError::ReversedRange { .. }));
    assert_eq!(reversed.location(), loc(5, 7));
    let overlap = err(&format!(
        "{HEAD}[[holidays]]\nname = \"a\"\noff = {{ from = 2025-04-04, to = 2025-04-06 }}\n\
         [[holidays]]\nname = \"b\"\noff = {{ from = 2025-04-06, to = 2025-04-07 }}\n"
    ));
    assert_eq!(
        overlap,
        CalendarError::DuplicateDay {
            date: d("2025-04-06"),
            at: loc(8, 16)
        }
    );
    let timed = err(&format!(
        "{HEAD}[[holidays]]\nname = \"a\"\noff = {{ from = 2025-04-04T08:00:00, to = 2025-04-06 }}\n"
    ));
    assert!(matches!(timed, CalendarError::NotADate { .. }), "{timed:?}");
    assert_eq!(timed.location(), loc(5, 16));
    let quoted = err(&format!(
        "{HEAD}[[holidays]]\nname = \"a\"\noff = {{ from = \"2025-04-04\", to = 2025-04-06 }}\n"
    ));
    assert_eq!(quoted.location(), loc(5, 16), "{quoted}");
    let none = err(HEAD);
    assert!(matches!(none, CalendarError::NoHolidays { .. }));
    let blank = err(&format!(
        "{HEAD}[[holidays]]\nname = \" \"\noff = {{ from = 2025-04-04, to = 2025-04-06 }}\n"
    ));
    assert_eq!(blank.location(), loc(4, 8));
    let year = err("year = 25\nnotice = \"n\"\n");
    assert!(matches!(year, CalendarError::YearOutOfRange { .. }));
}

#[test]
fn add_year_checks_tables_built_in_code() {
    let mut c = cal();
    let again = Calendar::parse_year(Y2025).unwrap();
    assert_eq!(
        c.add_year(again),
        Err(CalendarError::YearGivenTwice { year: 2025 })
    );
    let bad = YearTable {
        year: 2027,
        notice: "n".into(),
        source: None,
        holidays: vec![Holiday {
            name: "国庆节".into(),
            days_off: vec![d("2027-10-01")],
            make_up_days: vec![d("2027-10-04")], // a Monday
        }],
    };
    let e = c.add_year(bad).unwrap_err();
    assert!(matches!(
        e,
        CalendarError::MakeUpNotWeekend { at: None, .. }
    ));
    assert!(e.to_string().starts_with("holiday `国庆节`"), "{e}");
    // A 2027 table that makes Sun 2026-12-27... cannot: reach is only for blocks with Jan 1.
    // Two years disagreeing on a New Year day:
    let mut c2 = Calendar::new();
    c2.add_year(YearTable {
        year: 2018,
        notice: "n".into(),
        source: None,
        holidays: vec![Holiday {
            name: "x".into(),
            days_off: vec![d("2018-12-31")],
            make_up_days: vec![d("2018-12-29")],
        }],
    })
    .unwrap();
    let e = c2
        .add_year(YearTable {
            year: 2019,
            notice: "n".into(),
            source: None,
            holidays: vec![Holiday {
                name: "元旦".into(),
                days_off: vec![d("2018-12-29"), d("2019-01-01")],
                make_up_days: vec![],
            }],
        })
        .unwrap_err();
    assert!(matches!(e, CalendarError::YearsDisagree { .. }), "{e:?}");
}

#[test]
fn location_from_offset_counts_characters() {
    let src = "a\n春节 = x";
    assert_eq!(
        Location::from_offset(src, 0),
        Location { line: 1, column: 1 }
    );
    // "春节 " is 3 characters, 7 bytes: `=` is at byte 2 + 7 = 9.
    assert_eq!(
        Location::from_offset(src, 9),
        Location { line: 2, column: 4 }
    );
}

#[test]
fn weekday_arithmetic_is_anchored() {
    assert_eq!(
        NaiveDate::from_ymd_opt(1, 1, 1).unwrap().weekday(),
        Weekday::Mon
    );
}

/// The slow, obvious reckoning: day by day.
fn naive_add_working_days(c: &Calendar, date: NaiveDate, n: u32) -> Reckoned<NaiveDate> {
    let mut day = date;
    let mut left = n;
    let mut provisional = false;
    while left > 0 {
        day = day.succ_opt().unwrap();
        let w = c.is_working_day(day);
        provisional |= w.provisional;
        if w.value {
            left -= 1;
        }
    }
    Reckoned {
        value: day,
        provisional,
    }
}

proptest! {
    #[test]
    fn fast_reckoning_matches_day_by_day(offset in 0i64..(10 * 366), n in 0u32..800) {
        let c = cal();
        let date = d("2021-01-01") + chrono::TimeDelta::days(offset);
        prop_assert_eq!(c.add_working_days(date, n), naive_add_working_days(&c, date, n));
    }

    #[test]
    fn calendar_days_end_on_a_working_day(offset in 0i64..(4 * 366), n in 0u32..120) {
        let c = cal();
        let date = d("2023-06-01") + chrono::TimeDelta::days(offset);
        let r = c.add_days(date, n);
        prop_assert!(r.value >= date + chrono::TimeDelta::days(i64::from(n)));
        prop_assert!(c.is_working_day(r.value).value);
    }
}

#[test]
fn fmt_cst_writes_the_end_of_the_range_without_panicking() {
    assert_eq!(fmt_cst(utc("2025-06-02T01:00:00Z")), "2025-06-02 09:00 CST");
    // A saturated deadline (a period reaching past chrono's last date) is still written.
    let last = fmt_cst(DateTime::<Utc>::MAX_UTC);
    assert!(last.ends_with(" CST"), "{last}");
    let first = fmt_cst(DateTime::<Utc>::MIN_UTC);
    assert!(first.ends_with(" CST"), "{first}");
}

#[test]
fn the_longest_periods_a_rule_may_write_stay_inside_the_range() {
    // The load-time maximum of each unit (a hundred years) from a late start.
    let c = cal();
    let start = utc("2026-12-31T15:00:00Z");
    for p in [
        Period::Days(36_500),
        Period::WorkingDays(10_000),
        Period::Hours(876_000),
        Period::Months(1_200),
    ] {
        let due = c.deadline(start, p).value.at;
        assert!(due < DateTime::<Utc>::MAX_UTC, "{p}");
        let earliest = c.earliest(start, p).value;
        assert!(earliest > start, "{p}");
        let year = cst_date(due).year();
        assert!((2030..2130).contains(&year), "{p}: {}", fmt_cst(due));
    }
}
