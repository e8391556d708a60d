//! `fazhi calendar` end to end: the built binary over the shipped calendars (2021–2026).
//! Expected dates are worked out by hand from the notices (domain.md §5 for 2025 and 2026;
//! the notices cited in `rules/calendars/<year>.toml` for the other years).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;
use std::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn calendars() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/calendars")
}

fn fazhi(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .args(args)
        // Run from elsewhere, so that the default `rules/calendars` is not found by accident.
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `fazhi calendar ARGS --calendars rules/calendars --lang en`.
fn calendar(args: &[&str]) -> Out {
    calendar_in("en", args)
}

fn calendar_in(lang: &str, args: &[&str]) -> Out {
    let dir = calendars();
    let mut all = vec!["calendar"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--calendars", dir.to_str().unwrap(), "--lang", lang]);
    fazhi(&all)
}

#[test]
fn chinese_by_default() {
    let dir = calendars();
    let out = fazhi(&[
        "calendar",
        "show",
        "2025",
        "--calendars",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("2025年："), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("  放假：    2025-10-01 星期三 至 2025-10-08 星期三（共8天）"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  调休上班：2025-09-28 星期日、2025-10-11 星期六"),
        "{}",
        out.stdout
    );
    // The date itself is the same in both languages; the warning is in Chinese.
    let out = fazhi(&[
        "calendar",
        "add",
        "2026-12-31",
        "--workdays",
        "2",
        "--calendars",
        dir.to_str().unwrap(),
    ]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "2027-01-04\n"));
    assert!(out.stderr.starts_with("警告：结果为暂算"), "{}", out.stderr);
    assert!(out.stderr.contains("未收录2027年"), "{}", out.stderr);
    let out = calendar_in("zh", &["show", "2027"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert!(
        out.stderr
            .contains("未收录2027年（已收录：2021、2022、2023、2024、2025、2026）"),
        "{}",
        out.stderr
    );
}

#[test]
fn add_workdays_across_spring_festival() {
    // Fri 2025-01-24 + 5: Sun 01-26 (make-up), Mon 01-27, block 01-28..02-04, 02-05, 02-06, 02-07.
    let out = calendar(&["add", "2025-01-24", "--workdays", "5"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "2025-02-07\n", "")
    );
}

#[test]
fn add_workdays_onto_a_make_up_day() {
    // Wed 2026-09-30 + 3: 10-08 Thu, 10-09 Fri, 10-10 Sat (make-up).
    let out = calendar(&["add", "2026-09-30", "--workdays", "3"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "2026-10-10\n"));
}

#[test]
fn add_days_rolls_forward_out_of_national_day() {
    // 2025-09-03 + 30 = 10-03, inside the 10-01..10-08 block → Thu 10-09.
    let out = calendar(&["add", "2025-09-03", "--days", "30"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "2025-10-09\n", "")
    );
    // 2025-02-14 + 15 = Sat 03-01 → Mon 03-03.
    let out = calendar(&["add", "2025-02-14", "--days", "15"]);
    assert_eq!(out.stdout, "2025-03-03\n");
}

#[test]
fn provisional_result_is_printed_and_flagged() {
    // Wed 2026-12-30 + 3: Thu 12-31, then 2027 (no notice) weekends only: Fri 01-01, Mon 01-04.
    let out = calendar(&["add", "2026-12-30", "--workdays", "3"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "2027-01-04\n"));
    assert!(out.stderr.contains("provisional"), "{}", out.stderr);
    assert!(out.stderr.contains("2027 is not covered"), "{}", out.stderr);
    assert!(out.stderr.contains("weekends only"), "{}", out.stderr);
    // Within the covered years nothing is said.
    let out = calendar(&["add", "2026-12-30", "--workdays", "1"]);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("2026-12-31\n", "")
    );
}

#[test]
fn provisional_before_the_first_covered_year() {
    // 2020 is not covered: Wed 2020-12-30 + 2 looks at Thu 12-31 (weekends only), then
    // 2021-01-01..01-03 is off → Mon 01-04.
    let out = calendar(&["add", "2020-12-30", "--workdays", "2"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "2021-01-04\n"));
    assert!(out.stderr.contains("2020 is not covered"), "{}", out.stderr);
    // 2023 is covered now (国办发明电〔2022〕16号): Fri 2023-12-29 + 1 looks at Sat 12-30,
    // Sun 12-31; 2024-01-01 is off → 01-02, and nothing is said.
    let out = calendar(&["add", "2023-12-29", "--workdays", "1"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "2024-01-02\n", "")
    );
}

#[test]
fn add_workdays_over_the_2021_to_2023_notices() {
    // Fri 2021-02-05 + 3: Sun 02-07 (make-up), Mon 02-08, Tue 02-09.
    let out = calendar(&["add", "2021-02-05", "--workdays", "3"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "2021-02-09\n", "")
    );
    // Wed 2021-02-10 + 3: block 02-11..02-17, Thu 02-18, Fri 02-19, Sat 02-20 (make-up).
    let out = calendar(&["add", "2021-02-10", "--workdays", "3"]);
    assert_eq!(out.stdout, "2021-02-20\n");
    // Fri 2022-01-28 + 3: Sat 01-29, Sun 01-30 (make-up), block 01-31..02-06, Mon 02-07.
    let out = calendar(&["add", "2022-01-28", "--workdays", "3"]);
    assert_eq!(out.stdout, "2022-02-07\n");
    // Fri 2022-12-30 + 1: the 2023 New Year block starts Sat 2022-12-31 → Tue 2023-01-03.
    let out = calendar(&["add", "2022-12-30", "--workdays", "1"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "2023-01-03\n", "")
    );
    // Wed 2023-06-21 + 2: block 06-22..06-24, Sun 06-25 (make-up), Mon 06-26.
    let out = calendar(&["add", "2023-06-21", "--workdays", "2"]);
    assert_eq!(out.stdout, "2023-06-26\n");
    // Thu 2023-09-28 + 1: block 09-29..10-06 → Sat 10-07 (make-up).
    let out = calendar(&["add", "2023-09-28", "--workdays", "1"]);
    assert_eq!(out.stdout, "2023-10-07\n");
}

#[test]
fn bad_date_exits_2() {
    let out = calendar(&["add", "2025-02-30", "--days", "3"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("`2025-02-30` is not a date"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("YYYY-MM-DD"), "{}", out.stderr);
    let out = calendar(&["add", "24/01/2025", "--days", "3"]);
    assert_eq!(out.code, 2);
}

#[test]
fn exactly_one_length_is_required() {
    assert_eq!(calendar(&["add", "2025-01-24"]).code, 2);
    assert_eq!(
        calendar(&["add", "2025-01-24", "--days", "1", "--workdays", "1"]).code,
        2
    );
}

#[test]
fn show_lists_days_off_and_make_up_days_with_weekdays() {
    let out = calendar(&["show", "2025"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("国办发明电〔2024〕12号"),
        "{}",
        out.stdout
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    let spring = lines.iter().position(|l| *l == "春节").unwrap();
    assert_eq!(
        lines[spring + 1].trim(),
        "days off:             2025-01-28 Tue to 2025-02-04 Tue (8 days)"
    );
    assert_eq!(
        lines[spring + 2].trim(),
        "make-up working days: 2025-01-26 Sun, 2025-02-08 Sat"
    );
    assert!(
        out.stdout
            .contains("2025-10-01 Wed to 2025-10-08 Wed (8 days)")
    );
    assert!(out.stdout.contains("2025-09-28 Sun, 2025-10-11 Sat"));
}

#[test]
fn show_2026_cites_the_notice() {
    let out = calendar(&["show", "2026"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .starts_with("2026: 国务院办公厅关于2026年部分节假日安排的通知")
    );
    assert!(out.stdout.contains("2026-09-20 Sun, 2026-10-10 Sat"));
}

#[test]
fn show_uncovered_year_exits_1() {
    let out = calendar(&["show", "2027"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert!(out.stderr.contains("2027 is not covered"), "{}", out.stderr);
    assert!(
        out.stderr.contains("2021, 2022, 2023, 2024, 2025, 2026"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_calendar_directory_exits_1() {
    let out = fazhi(&[
        "calendar",
        "show",
        "2025",
        "--calendars",
        "/nonexistent/fazhi-calendars",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot read the calendar directory"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_calendar_file_names_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("fazhi-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("2025.toml");
    std::fs::write(
        &file,
        "year = 2025\nnotice = \"n\"\n[[holidays]]\nname = \"春节\"\noff = { from = 2025-01-28, to = 2025-02-04 }\nmake_up = [2025-01-26]\ncolour = 1\n",
    )
    .unwrap();
    let out = fazhi(&[
        "calendar",
        "add",
        "2025-01-24",
        "--days",
        "1",
        "--calendars",
        dir.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    let want = format!("error: {}:7:1: unknown field `colour`", file.display());
    assert!(out.stderr.starts_with(&want), "{}", out.stderr);
}
