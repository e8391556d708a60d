//! `fazhi test` end to end: the shipped scenarios pass, and a wrong expectation fails with the
//! step, what was expected, and the exit code 1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;
mod common;
use common::fazhi;

/// The counts of the last line: `N 个通过，M 个失败` (or with `--lang en`, `N passed, M failed`).
fn summary(stdout: &str) -> (usize, usize) {
    let line = stdout.lines().last().unwrap();
    assert!(
        line.contains("个通过，") && line.ends_with("个失败")
            || line.contains(" passed, ") && line.ends_with(" failed"),
        "{line}"
    );
    let mut numbers = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap());
    (numbers.next().unwrap(), numbers.next().unwrap())
}

/// A fresh directory `fazhi-cli-test-<tag>-<pid>` holding the named files of the project,
/// each copied as `(from, to)`.
fn project(tag: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fazhi-cli-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (from, to) in files {
        std::fs::copy(root.join(from), dir.join(to)).unwrap();
    }
    dir
}

/// The village-rules filing procedure, copied as `v.toml`.
const VILLAGE: (&str, &str) = ("rules/village-rules-filing.toml", "v.toml");

#[test]
fn shipped_scenarios_pass() {
    let (code, out, _) = fazhi(&["test", "rules"]);
    let (passed, failed) = summary(&out);
    assert_eq!((code, failed), (0, 0), "{out}");
    assert!(passed >= 8, "{out}");
}

#[test]
fn the_language_feature_scenarios_pass() {
    let (code, out, _) = fazhi(&["test", "tests/language"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(summary(&out), (14, 0), "{out}");
}

#[test]
fn a_wrong_expectation_fails_with_its_step() {
    let dir = project("wrong", &[VILLAGE]);
    std::fs::write(
        dir.join("v.test.toml"),
        r#"
procedure = "village-rules-filing"

[[scenarios]]
name = "ok"
[scenarios.open]
at = 2025-03-03T09:00:00
by = "village"
facts = { adopted_on = 2025-03-01 }

[[scenarios]]
name = "wrong"
[scenarios.open]
at = 2025-03-03T09:00:00
by = "village"
facts = { adopted_on = 2025-03-01 }
[[scenarios.steps]]
at = 2025-03-05T10:00:00
by = "village"
action = "submit"
documents = ["rules_text"]
state = "submitted"
"#,
    )
    .unwrap();
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap(), "--lang", "en"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(summary(&out), (1, 1), "{out}");
    assert!(
        out.contains(
            "step 1 (`submit`): expected it to be accepted, but it was refused: document_missing"
        ),
        "{out}"
    );
    assert!(out.ends_with("1 passed, 1 failed\n"), "{out}");
    // In Chinese by default: the step, the refusal from the titles, its article.
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("第1步 (`submit`): 应予办理，但被拒绝：document_missing: “")
            && out.contains("（依据：《"),
        "{out}"
    );
    assert!(out.ends_with("1 个通过，1 个失败\n"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_keys_in_a_scenario_file_are_errors_with_their_place() {
    let dir = std::env::temp_dir().join(format!("fazhi-cli-test-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x.test.toml"), "procedure = \"p\"\nprocedur = 1\n").unwrap();
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("x.test.toml:2:1") && out.contains("procedur"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_scenario_file_named_without_a_directory_runs_from_the_current_one() {
    // `cd rules && fazhi test mediation.test.toml`: the procedures come from `.`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .current_dir(root.join("rules"))
        .args(["test", "mediation.test.toml", "--calendars", "calendars"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let (passed, failed) = summary(&stdout);
    assert!(passed >= 1 && failed == 0, "{stdout}");
    assert!(stdout.contains("mediation.test.toml"), "{stdout}");
}

#[test]
fn a_late_act_is_late_not_met_and_an_unknown_status_is_an_error() {
    let dir = project("late", &[VILLAGE]);
    // Adopted 03-03: the ten days end Thu 03-13; submitted on 03-14.
    let scenario = |name: &str, status: &str| {
        format!(
            r#"
[[scenarios]]
name = "{name}"
[scenarios.open]
at = 2025-03-03T09:00:00
by = "village"
facts = {{ adopted_on = 2025-03-03 }}
[[scenarios.steps]]
at = 2025-03-14T10:00:00
by = "village"
action = "submit"
documents = ["rules_text", "meeting_record"]
deadlines = {{ filing_limit = {{ due = "2025-03-13", status = "{status}" }} }}
"#
        )
    };
    let text = format!(
        "procedure = \"village-rules-filing\"\n{}{}{}",
        scenario("late", "late"),
        scenario("met", "met"),
        scenario("typo", "lat")
    );
    std::fs::write(dir.join("v.test.toml"), text).unwrap();
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap(), "--lang", "en"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(summary(&out), (1, 2), "{out}");
    assert!(
        out.contains("expected deadline `filing_limit` to be met, but it is late"),
        "{out}"
    );
    assert!(
        out.contains("deadline `filing_limit`: unknown status `lat`"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_refusal_is_expected_with_its_article_and_a_step_may_only_check() {
    let dir = project("cites", &[VILLAGE, ("rules/laws.toml", "laws.toml")]);
    let scenario = |cite: &str| {
        format!(
            r#"
procedure = "village-rules-filing"

[[scenarios]]
name = "缺少会议记录的报送被拒绝，且引用第二十七条第一款；逾期后仍未报送的，期限为超期"
[scenarios.open]
at = 2025-03-03T09:00:00
by = "village"
facts = {{ adopted_on = 2025-03-01 }}

[[scenarios.steps]]
at = 2025-03-05T10:00:00
by = "village"
action = "submit"
documents = ["rules_text"]
refused = ["document_missing"]
cites = ["{cite}"]

[[scenarios.steps]]
at = 2025-03-12T09:00:00
deadlines = {{ filing_limit = {{ due = "2025-03-11", status = "overdue" }} }}
"#
        )
    };
    std::fs::write(
        dir.join("v.test.toml"),
        scenario("《村民委员会组织法》第二十七条第一款"),
    )
    .unwrap();
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap()]);
    assert_eq!((code, summary(&out)), (0, (1, 0)), "{out}");
    // The short form names the same article.
    std::fs::write(dir.join("v.test.toml"), scenario("vcol §27.1")).unwrap();
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap()]);
    assert_eq!((code, summary(&out)), (0, (1, 0)), "{out}");
    // A wrong article fails at the step's line, saying what the refusal cites.
    std::fs::write(
        dir.join("v.test.toml"),
        scenario("《村民委员会组织法》第二十八条"),
    )
    .unwrap();
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap(), "--lang", "en"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("v.test.toml:11: step 1 (`submit`): expected the refusal to cite 《村民委员会组织法》第二十八条, but document_missing cites 《村民委员会组织法》第二十七条第一款"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_misspelt_deadline_is_named_with_a_suggestion_and_an_unquoted_due_date_is_a_date() {
    let dir = project("typo", &[VILLAGE]);
    // Adopted 03-03: the ten days end Thu 03-13.
    let scenario = |name: &str, deadlines: &str| {
        format!(
            r#"
[[scenarios]]
name = "{name}"
[scenarios.open]
at = 2025-03-03T09:00:00
by = "village"
facts = {{ adopted_on = 2025-03-03 }}
[[scenarios.steps]]
at = 2025-03-04T10:00:00
deadlines = {deadlines}
"#
        )
    };
    let text = format!(
        "procedure = \"village-rules-filing\"\n{}{}",
        scenario("unquoted", "{ filing_limit = 2025-03-13 }"),
        scenario("typo", "{ filing_limt = \"2025-03-13\" }"),
    );
    std::fs::write(dir.join("v.test.toml"), text).unwrap();
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap(), "--lang", "en"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(summary(&out), (1, 1), "{out}");
    assert!(
        out.contains("the procedure has no time rule `filing_limt`: did you mean `filing_limit`?"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every refusal a shipped scenario expects states the article it cites (the refusals that are
/// not refusals in law, `out_of_order` and `unknown_action`, aside).
#[test]
fn every_expected_refusal_in_the_shipped_scenarios_names_its_article() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut missing = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".test.toml") {
            continue;
        }
        let file: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        for scenario in file["scenarios"].as_array().unwrap() {
            let steps = scenario.get("steps").and_then(|s| s.as_array());
            for (i, step) in steps.into_iter().flatten().enumerate() {
                let Some(refused) = step.get("refused").and_then(|r| r.as_array()) else {
                    continue;
                };
                let legal = refused
                    .iter()
                    .any(|k| !matches!(k.as_str(), Some("out_of_order" | "unknown_action")));
                if !legal {
                    continue;
                }
                checked += 1;
                let cites = step.get("cites").and_then(|c| c.as_array());
                if cites.is_none_or(|c| c.is_empty()) {
                    missing.push(format!("{name}: {} step {}", scenario["name"], i + 1));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} refused steps found");
    assert!(
        missing.is_empty(),
        "refusals without `cites`:\n{}",
        missing.join("\n")
    );
}

#[test]
fn scenario_files_may_live_outside_the_rules_directory() {
    let dir = project(
        "rules",
        &[("rules/village-rules-filing.test.toml", "village.test.toml")],
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Without `--rules` the procedures are looked for beside the scenarios: none there.
    let (code, out, _) = fazhi(&["test", dir.to_str().unwrap(), "--lang", "en"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not loaded"), "{out}");
    let rules = root.join("rules");
    let (code, out, _) = fazhi(&[
        "test",
        dir.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
    ]);
    let (passed, failed) = summary(&out);
    assert_eq!((code, failed), (0, 0), "{out}");
    assert!(passed >= 8, "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
