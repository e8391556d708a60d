//! `fazhi check` end to end: exit codes, `--deny-warnings`, `--format json`, the calendar
//! coverage warning.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;
use std::process::Command;

fn fazhi(args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn shipped_rules_check_clean_when_the_calendar_reaches_far_enough() {
    let (code, out, _) = fazhi(&["check", "rules", "--today", "2026-06-01", "--deny-warnings"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(", 0 errors, 0 warnings"), "{out}");
}

#[test]
fn the_calendar_ending_within_60_days_is_a_warning() {
    let (code, out, _) = fazhi(&["check", "rules", "--today", "2026-11-15"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("calendar-ends-soon") && out.contains("in 46 days"),
        "{out}"
    );
    assert!(out.contains("rules/calendars/2027.toml"), "{out}");
    let (code, out, _) = fazhi(&["check", "rules", "--today", "2026-11-15", "--deny-warnings"]);
    assert_eq!(code, 1, "{out}");
    // 61 days before the end: no warning.
    let (_, out, _) = fazhi(&["check", "rules", "--today", "2026-10-31"]);
    assert!(!out.contains("calendar-ends-soon"), "{out}");
}

#[test]
fn errors_fail_and_json_gives_one_object_per_diagnostic() {
    let (code, out, err) = fazhi(&[
        "check",
        "tests/invalid/unknown-state.toml",
        "--format",
        "json",
        "--today",
        "2026-01-01",
    ]);
    assert_eq!(code, 1);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    let d = &lines[0];
    assert_eq!(d["code"], "unknown-state");
    assert_eq!(d["severity"], "error");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(17), Some(6))
    );
    assert_eq!(d["file"], "tests/invalid/unknown-state.toml");
    assert!(
        d["help"].as_str().unwrap().contains("did you mean `z`?"),
        "{d}"
    );
    assert!(err.contains("1 error"), "{err}");
}

#[test]
fn human_output_shows_the_source_line_and_the_help() {
    let (code, out, _) = fazhi(&[
        "check",
        "tests/invalid/unknown-value.toml",
        "--today",
        "2026-01-01",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("tests/invalid/unknown-value.toml:24:33"),
        "{out}"
    );
    assert!(
        out.contains("lawfull") && out.contains("did you mean \"lawful\"?"),
        "{out}"
    );
}

#[test]
fn a_missing_path_is_a_usage_error() {
    let (code, _, err) = fazhi(&["check", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/dir"), "{err}");
}
