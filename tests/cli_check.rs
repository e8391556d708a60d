//! `fazhi check` end to end: exit codes, `--deny-warnings`, `--format json`, the calendar
//! coverage warning.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;
use common::fazhi;

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

#[test]
fn allow_and_deny_pick_warnings_by_code() {
    // CI that knows the calendar ends soon allows that one warning and denies the rest.
    let base = ["check", "rules", "--today", "2026-11-15"];
    let (code, out, _) = fazhi(
        &[
            &base[..],
            &["--deny-warnings", "--allow", "calendar-ends-soon"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("calendar-ends-soon"), "{out}");
    assert!(out.contains(", 0 errors, 0 warnings"), "{out}");
    // `--deny CODE` makes that warning an error.
    let (code, out, _) = fazhi(&[&base[..], &["--deny", "calendar-ends-soon"]].concat());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("1 error") && out.contains("denied by `--deny calendar-ends-soon`"),
        "{out}"
    );
    // `--deny warnings` is `--deny-warnings`.
    let (code, _, _) = fazhi(&[&base[..], &["--deny", "warnings"]].concat());
    assert_eq!(code, 1);
    // Denied wins over allowed; an error cannot be allowed.
    let (code, _, _) = fazhi(
        &[
            &base[..],
            &[
                "--allow",
                "calendar-ends-soon",
                "--deny",
                "calendar-ends-soon",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 1);
    let (code, out, _) = fazhi(&[
        "check",
        "tests/invalid/unknown-state.toml",
        "--today",
        "2026-01-01",
        "--allow",
        "unknown-state",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown-state"), "{out}");
}

#[test]
fn a_gbk_file_is_a_located_error_and_the_other_files_are_still_checked() {
    let dir = tempdir("gbk");
    // `title = "测试"` in GBK on line 2, column 10.
    let mut gbk = b"[procedure]\ntitle = \"".to_vec();
    gbk.extend([0xB2, 0xE2, 0xCA, 0xD4]);
    gbk.extend(b"\"\n");
    std::fs::write(dir.join("a-gbk.toml"), gbk).unwrap();
    std::fs::copy("tests/invalid/unknown-state.toml", dir.join("b.toml")).unwrap();
    let d = dir.display().to_string();
    let (code, out, err) = fazhi(&["check", &d, "--today", "2026-01-01", "--format", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let codes: Vec<&str> = lines.iter().map(|l| l["code"].as_str().unwrap()).collect();
    assert!(
        codes.contains(&"not-utf8") && codes.contains(&"unknown-state"),
        "{out}"
    );
    let bad = lines.iter().find(|l| l["code"] == "not-utf8").unwrap();
    assert_eq!(
        (bad["line"].as_u64(), bad["column"].as_u64()),
        (Some(2), Some(10)),
        "{bad}"
    );
    assert!(bad["help"].as_str().unwrap().contains("UTF-8"), "{bad}");
    assert!(err.contains("checked 2 files"), "{err}");
    // The human renderer shows it too.
    let (code, out, _) = fazhi(&["check", &d, "--today", "2026-01-01"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("not-utf8") && out.contains("a-gbk.toml:2:10"),
        "{out}"
    );
}

#[test]
fn an_error_past_column_65535_is_rendered_without_panicking() {
    let dir = tempdir("wide");
    let guard = format!("{}x == 1", "1 == 1 && ".repeat(8_000));
    let text = std::fs::read_to_string("tests/invalid/unknown-state.toml")
        .unwrap()
        .replace("to = \"zz\"", &format!("to = \"z\"\nwhen = '{guard}'"));
    std::fs::write(dir.join("wide.toml"), text).unwrap();
    let d = dir.display().to_string();
    let (code, out, err) = fazhi(&["check", &d, "--today", "2026-01-01"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("unknown-name"), "{out}{err}");
    // The caret line is cut around the problem, and the column is the file's.
    assert!(out.contains(&format!(":{}]", 8 + 80_000 + 1)), "{out}");
    assert!(out.lines().all(|l| l.chars().count() < 400), "{out}");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fazhi-cli-check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
