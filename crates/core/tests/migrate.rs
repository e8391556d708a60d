//! Migrations (issue 17): the shipped major-decision v1→v2 file is proved at load; a file that
//! leaves a reachable state unmapped is refused with a located error; cases in every reachable
//! state of version 1 either move (and replay to the same case) or are refused with the reason.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::migrate::{Migration, load_migration};
use fazhi_core::model::RuleSet;
use fazhi_core::runtime::{Actor, Case, Command, Event, EventBody, Opening, Recorded, verify};
use fazhi_core::time::Calendar;
use serde_json::json;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

fn rules() -> RuleSet {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".toml") && !name.ends_with(".test.toml") {
            files.push(SourceFile::new(
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    let loaded = load(&files);
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    loaded.rules
}

fn calendar() -> Calendar {
    let mut cal = Calendar::new();
    let mut paths: Vec<_> = std::fs::read_dir(root().join("calendars"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        cal.add_year(Calendar::parse_year(&std::fs::read_to_string(p).unwrap()).unwrap())
            .unwrap();
    }
    cal
}

const FILE: &str = "migrations/major-decision-v1-v2.toml";

fn shipped_text() -> String {
    std::fs::read_to_string(root().join(FILE)).unwrap()
}

fn migration(rules: &RuleSet) -> Migration {
    let (m, diags) = load_migration(&SourceFile::new(FILE, shipped_text()), rules);
    assert!(diags.is_empty(), "{diags:?}");
    m.unwrap()
}

fn cst(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn the_shipped_migration_is_proved_without_a_diagnostic() {
    let rules = rules();
    let m = migration(&rules);
    assert_eq!(
        (m.procedure.as_str(), m.from, m.to),
        ("major-decision", 1, 2)
    );
    assert!(m.basis.contains("operator"), "{}", m.basis);
}

#[test]
fn an_unmapped_reachable_state_is_refused_at_load_with_a_located_error() {
    let rules = rules();
    let text = shipped_text().replace(
        "archived = { to = \"published\", set = { is_archived = true } }\n",
        "",
    );
    let (m, diags) = load_migration(&SourceFile::new(FILE, text.clone()), &rules);
    assert!(m.is_none());
    let d = diags
        .iter()
        .find(|d| d.code == "migration-unmapped-state")
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert!(d.is_error());
    assert!(d.message.contains("`archived`"), "{}", d.message);
    let states_line = text.lines().position(|l| l == "[states]").unwrap() + 1;
    assert_eq!((d.file.as_str(), d.line, d.column), (FILE, states_line, 1));
    assert!(
        d.help.as_deref().unwrap().contains("excluded"),
        "{:?}",
        d.help
    );
    // A track state too, located at its track's table.
    let text = shipped_text().replace("adjusted = \"adjusted\"\n", "");
    let (_, diags) = load_migration(&SourceFile::new(FILE, text.clone()), &rules);
    let d = diags
        .iter()
        .find(|d| d.code == "migration-unmapped-state")
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert!(d.message.contains("`risk.adjusted`"), "{}", d.message);
    let line = text.lines().position(|l| l == "[tracks.risk]").unwrap() + 1;
    assert_eq!(d.line, line);
}

#[test]
fn mistakes_in_a_migration_file_are_located_with_a_suggestion() {
    let rules = rules();
    let text = shipped_text()
        .replace("decided = \"decided\"", "decided = \"decidd\"")
        .replace("[states]\n", "[states]\nproposd = \"proposed\"\n")
        .replace("[migration]\n", "[migration]\nfrom_version = 1\n");
    let (m, diags) = load_migration(&SourceFile::new(FILE, text.clone()), &rules);
    assert!(m.is_none());
    let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"unknown-key"), "{codes:?}");
    let unknown: Vec<_> = diags.iter().filter(|d| d.code == "unknown-state").collect();
    assert_eq!(unknown.len(), 2, "{diags:?}");
    assert!(unknown.iter().all(|d| {
        d.help
            .as_deref()
            .is_some_and(|h| h.contains("did you mean"))
    }));
    // The bad target is not reported a second time as unmapped.
    assert!(
        !diags.iter().any(|d| d.code == "migration-unmapped-state"),
        "{diags:?}"
    );
    // Mapping a decided case onto `published` breaks `party_report_before_publication`.
    let text = shipped_text().replace("decided = \"decided\"", "decided = \"published\"");
    let (_, diags) = load_migration(&SourceFile::new(FILE, text.clone()), &rules);
    let d = diags
        .iter()
        .find(|d| d.code == "migration-invariant")
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert!(
        d.message.contains("party_report_before_publication"),
        "{}",
        d.message
    );
    assert_eq!(
        d.line,
        text.lines()
            .position(|l| l.starts_with("decided ="))
            .unwrap()
            + 1
    );
    assert!(!d.notes.is_empty());
}

/// Every role of the procedure.
fn everyone(rules: &RuleSet) -> Actor {
    let p = rules.get("major-decision", Some(1)).unwrap();
    let roles: Vec<String> = p.roles().map(|r| r.id().to_owned()).collect();
    Actor::new("tester", roles)
}

fn open(
    rules: &RuleSet,
    id: &str,
    facts: serde_json::Value,
    at: DateTime<Utc>,
) -> (Case, Vec<Recorded>) {
    let p = rules.get("major-decision", Some(1)).unwrap();
    let opening = Opening {
        case: id.into(),
        title: "公交线网优化调整".into(),
        actor: everyone(rules),
        at,
        facts,
        imported: false,
    };
    let (case, recorded) = Case::open_recorded(p, opening).unwrap();
    (case, vec![recorded])
}

/// Cases of version 1 in every state the examples reach, walked breadth first from two
/// openings (one public, one not public by law), one case per state and track states.
fn cases_in_every_state(
    rules: &RuleSet,
    cal: &Calendar,
) -> BTreeMap<String, Vec<(Case, Vec<Recorded>)>> {
    let actor = everyone(rules);
    let start = cst("2026-01-05T09:00:00");
    let mut queue = VecDeque::new();
    queue.push_back(open(
        rules,
        "public",
        serde_json::json!({"proposer": "department"}),
        start,
    ));
    queue.push_back(open(
        rules,
        "secret",
        serde_json::json!({"proposer": "department", "not_public": true, "stability_or_safety_risk": true, "professional_technical": true}),
        start,
    ));
    let mut seen = BTreeSet::new();
    let mut out: BTreeMap<String, Vec<(Case, Vec<Recorded>)>> = BTreeMap::new();
    let mut steps = 0;
    while let Some((case, events)) = queue.pop_front() {
        let key = format!(
            "{}:{}:{:?}:{}",
            case.id(),
            case.state(),
            case.track_states(),
            case.fact("not_public").unwrap_or_default()
        );
        if !seen.insert(key) {
            continue;
        }
        out.entry(case.state().to_owned())
            .or_default()
            .push((case.clone(), events.clone()));
        steps += 1;
        if steps > 400 {
            break;
        }
        let at = case.last_at() + Duration::days(40);
        let options = case.available_actions(&actor, at, cal);
        for ex in case.action_examples(&options, &actor, at, cal) {
            let mut next = case.clone();
            let mut c = Command::new(ex.action.clone(), actor.clone(), at);
            c.payload = ex.payload.clone();
            c.documents = ex.documents.clone();
            c.reason = ex.reason.clone();
            if let Ok(r) = next.decide_record(c, cal) {
                let mut ev = events.clone();
                ev.push(r);
                queue.push_back((next, ev));
            }
        }
    }
    out
}

fn replayed(rules: &RuleSet, events: &[Recorded]) -> Case {
    let events: Vec<Event> = events.iter().map(|r| r.event.clone()).collect();
    Case::replay(rules, &events).unwrap()
}

#[test]
fn cases_in_every_state_of_version_1_move_or_are_refused_with_the_reason() {
    let rules = rules();
    let cal = calendar();
    let m = migration(&rules);
    let v1 = rules.get("major-decision", Some(1)).unwrap();
    let v2: Arc<_> = rules.get("major-decision", Some(2)).unwrap().clone();
    let by_state = cases_in_every_state(&rules, &cal);
    let all: BTreeSet<String> = v1.states().map(|s| s.id().to_owned()).collect();
    let reached: BTreeSet<String> = by_state.keys().cloned().collect();
    assert_eq!(reached, all, "states not reached by the walk");
    let admin = Actor::new("operator", vec!["admin".to_owned()]);
    let (mut moved, mut secret_refused) = (0, 0);
    for (state, cases) in &by_state {
        for (case, events) in cases {
            let at = case.last_at() + Duration::days(1);
            let plan = m.plan(case, &v2, admin.clone(), at, &cal);
            let secret = case.fact("not_public") == Some(serde_json::json!(true));
            match state.as_str() {
                "not_started" | "rejected" | "closed" => {
                    let e = plan.err().unwrap_or_else(|| panic!("{state} moved"));
                    assert!(e.zh.contains("已办结"), "{state}: {e}");
                }
                "archived" if secret => {
                    let e = plan.err().unwrap_or_else(|| panic!("{state} moved"));
                    assert!(e.zh.contains("依法不予公开的决策不公布"), "{e}");
                    assert!(e.en.contains("published_only_if_public"), "{e}");
                    secret_refused += 1;
                }
                _ => {
                    let planned = plan.unwrap_or_else(|e| panic!("{state}: {e}"));
                    let want = if state == "archived" {
                        "published"
                    } else {
                        state.as_str()
                    };
                    assert_eq!(planned.case.state(), want);
                    assert_eq!(planned.case.procedure().version, 2);
                    if matches!(state.as_str(), "archived" | "executing" | "suspended") {
                        assert_eq!(
                            planned.case.fact("is_archived"),
                            Some(serde_json::json!(true))
                        );
                    }
                    // Tracks keep their states.
                    assert_eq!(planned.case.track_states(), case.track_states(), "{state}");
                    // Recorded on the chain, the case replays to the same case, the chain
                    // verifies, and the case takes actions of version 2 after it.
                    let mut live = case.clone();
                    let recorded = live.record_migration(&v2, planned.event.clone()).unwrap();
                    let mut all = events.clone();
                    all.push(recorded);
                    let again = replayed(&rules, &all);
                    assert_eq!(again.view(), live.view());
                    assert!(again == live, "{state}: replay differs");
                    let bytes: Vec<&[u8]> = all.iter().map(|r| r.bytes.as_slice()).collect();
                    verify(&bytes, Some(live.head())).unwrap();
                    let back = Event::from_bytes(&all.last().unwrap().bytes).unwrap();
                    assert_eq!(
                        back,
                        planned
                            .event
                            .clone()
                            .tap_prev(all[all.len() - 2].hash.as_str())
                    );
                    moved += 1;
                }
            }
        }
    }
    assert!(moved > 10, "{moved}");
    assert!(secret_refused > 0);
}

trait TapPrev {
    fn tap_prev(self, prev: &str) -> Self;
}

impl TapPrev for Event {
    fn tap_prev(mut self, prev: &str) -> Self {
        self.prev_hash = prev.parse().unwrap();
        self
    }
}

#[test]
fn a_migrated_case_runs_on_the_new_version_and_records_its_deadlines_before_and_after() {
    let rules = rules();
    let cal = calendar();
    let m = migration(&rules);
    let v2 = rules.get("major-decision", Some(2)).unwrap().clone();
    let by_state = cases_in_every_state(&rules, &cal);
    // A case in legality review: the review period (7 working days, Art. 26) runs from
    // entering it under both versions, so it is due on the same day.
    let (case, events) = by_state["legality_review"].first().unwrap().clone();
    let at = case.last_at() + Duration::hours(1);
    let planned = m
        .plan(
            &case,
            &v2,
            Actor::new("operator", Vec::<String>::new()),
            at,
            &cal,
        )
        .unwrap();
    let EventBody::Migrated {
        deadlines,
        from_version,
        to_version,
        basis,
        ..
    } = &planned.event.body
    else {
        panic!("not a migration event");
    };
    assert_eq!((*from_version, *to_version), (1, 2));
    assert!(!basis.is_empty());
    let review = deadlines
        .iter()
        .find(|d| d.rule == "review_period")
        .unwrap_or_else(|| panic!("{deadlines:?}"));
    assert!(review.due_before.as_deref().unwrap().ends_with("+08:00"));
    assert_eq!(review.due_before, review.due_after);
    // After the migration, the case takes a version 2 action and replays.
    let mut live = case.clone();
    let mut all = events.clone();
    all.push(live.record_migration(&v2, planned.event).unwrap());
    let actor = everyone(&rules);
    let later = at + Duration::days(30);
    let options = live.available_actions(&actor, later, &cal);
    let ex = live.action_examples(&options, &actor, later, &cal);
    let ex = ex.first().unwrap();
    let mut c = Command::new(ex.action.clone(), actor, later);
    c.payload = ex.payload.clone();
    c.documents = ex.documents.clone();
    c.reason = ex.reason.clone();
    all.push(live.decide_record(c, &cal).unwrap());
    assert!(replayed(&rules, &all) == live);
    // Replayed without version 2 loaded, the history names the version it needs.
    let mut only_v1 = RuleSet::new();
    let mut p = (**rules.get("major-decision", Some(1)).unwrap()).clone();
    p.version = 1;
    only_v1.insert(p);
    let events: Vec<Event> = all.iter().map(|r| r.event.clone()).collect();
    let e = Case::replay(&only_v1, &events).unwrap_err();
    assert!(e.to_string().contains("version 2"), "{e}");
}

#[test]
fn old_events_decode_and_hash_as_before() {
    // An opening and an action written before the migration event existed.
    let bytes = br#"{"case":"c1","seq":0,"type":"opened","procedure":"p","version":1,"title":"t","facts":{},"actor":{"id":"a","roles":["r"]},"at":"2026-01-05T01:00:00Z","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
    let e = Event::from_bytes(bytes).unwrap();
    assert_eq!(e.to_bytes(), bytes.to_vec());
}

const SMALL_V1: &str = r#"
[procedure]
id = "p"
version = 1
initial = "filed"
terminal = ["done"]
[roles]
clerk = {}
[facts]
old_name = { type = "text" }
[states]
filed = {}
review = {}
done = {}
[actions.start]
from = "filed"
to = "review"
by = ["clerk"]
[actions.finish]
from = "review"
to = "done"
by = ["clerk"]
[time.decide_in]
within = { days = 30 }
after = "start"
actions = ["finish"]
"#;

const SMALL_V2: &str = r#"
[procedure]
id = "p"
version = 2
initial = "filed"
terminal = ["done"]
[roles]
clerk = {}
[facts]
new_name = { type = "text" }
level = { type = "enum", values = ["a", "b"] }
[states]
filed = {}
review = {}
done = {}
[actions.begin]
from = "filed"
to = "review"
by = ["clerk"]
[actions.finish]
from = "review"
to = "done"
by = ["clerk"]
when = 'level == "a" || level == "b"'
[time.decide_in]
within = { days = 15 }
after = "begin"
actions = ["finish"]
"#;

const SMALL_MIGRATION: &str = r#"
[migration]
procedure = "p"
from = 1
to = 2
basis = "由运行方决定（the operator's decision）"
[states]
filed = "filed"
review = "review"
done = { excluded = "已办结" }
[facts]
new_name = { from = "old_name" }
level = "a"
[actions]
start = "begin"
"#;

fn small() -> RuleSet {
    let loaded = load(&[
        SourceFile::new("p.v1.toml", SMALL_V1),
        SourceFile::new("p.toml", SMALL_V2),
    ]);
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    loaded.rules
}

#[test]
fn a_deadline_running_at_the_migration_is_counted_again_under_the_new_rules() {
    let rules = small();
    let cal = calendar();
    let (m, diags) = load_migration(&SourceFile::new("m.toml", SMALL_MIGRATION), &rules);
    assert!(diags.is_empty(), "{diags:?}");
    let m = m.unwrap();
    let clerk = Actor::new("clerk", ["clerk"]);
    let t0 = cst("2026-03-02T10:00:00");
    let (mut case, opened) = Case::open_recorded(
        rules.get("p", Some(1)).unwrap(),
        Opening {
            case: "c".into(),
            title: "t".into(),
            actor: clerk.clone(),
            at: t0,
            facts: serde_json::json!({"old_name": "旧名"}),
            imported: false,
        },
    )
    .unwrap();
    let started = case
        .decide_record(Command::new("start", clerk.clone(), t0), &cal)
        .unwrap();
    let at = t0 + Duration::days(2);
    let before = case.deadlines(at, &cal);
    assert_eq!(before.len(), 1);
    let v2 = rules.get("p", Some(2)).unwrap().clone();
    let planned = m
        .plan(
            &case,
            &v2,
            Actor::new("operator", Vec::<String>::new()),
            at,
            &cal,
        )
        .unwrap();
    let EventBody::Migrated {
        deadlines,
        actions,
        renamed_facts,
        facts,
        ..
    } = &planned.event.body
    else {
        panic!()
    };
    // 30 days from the start under version 1, 15 under version 2, from the same start.
    let shift = &deadlines[0];
    assert_eq!(shift.rule, "decide_in");
    assert_eq!(
        shift.due_before.as_deref(),
        Some(fazhi_core::time::china::rfc3339(before[0].due).as_str())
    );
    let after = planned.case.deadlines(at, &cal);
    assert_eq!(
        shift.due_after.as_deref(),
        Some(fazhi_core::time::china::rfc3339(after[0].due).as_str())
    );
    assert_ne!(shift.due_before, shift.due_after);
    assert_eq!(after[0].from, before[0].from);
    assert!(after[0].due < before[0].due);
    // Renames and the new fact.
    assert_eq!(actions.get("start").map(String::as_str), Some("begin"));
    assert_eq!(
        renamed_facts.get("new_name").map(String::as_str),
        Some("old_name")
    );
    assert_eq!(facts.get("level"), Some(&serde_json::json!("a")));
    assert_eq!(
        planned.case.fact("new_name"),
        Some(serde_json::json!("旧名"))
    );
    // Recorded, the case is finished under version 2's guard, and replays to the same case.
    let mut live = case.clone();
    let migrated = live.record_migration(&v2, planned.event).unwrap();
    let finished = live
        .decide_record(Command::new("finish", clerk, at + Duration::days(1)), &cal)
        .unwrap();
    assert_eq!(live.state(), "done");
    let all: Vec<Event> = [opened, started, migrated, finished]
        .into_iter()
        .map(|r| r.event)
        .collect();
    assert!(Case::replay(&rules, &all).unwrap() == live);
    // A case already on version 2 is not moved again; a closed case is not moved.
    let e = m
        .plan(
            &live,
            &v2,
            Actor::new("operator", Vec::<String>::new()),
            at,
            &cal,
        )
        .unwrap_err();
    assert!(e.en.contains("the case runs on version 2"), "{e}");
    let mut closed = case.clone();
    closed
        .decide_record(
            Command::new("finish", Actor::new("clerk", ["clerk"]), at),
            &cal,
        )
        .unwrap();
    let e = m
        .plan(
            &closed,
            &v2,
            Actor::new("operator", Vec::<String>::new()),
            at,
            &cal,
        )
        .unwrap_err();
    assert!(e.zh.contains("本案已办结"), "{e}");
}

#[test]
fn a_new_fact_the_new_version_reads_without_a_value_is_refused_at_load() {
    let rules = small();
    let text = SMALL_MIGRATION.replace("level = \"a\"\n", "");
    let (m, diags) = load_migration(&SourceFile::new("m.toml", text.clone()), &rules);
    assert!(m.is_none());
    let d = diags
        .iter()
        .find(|d| d.code == "migration-fact-missing")
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert!(d.message.contains("`level`"), "{}", d.message);
    assert_eq!(
        d.line,
        text.lines().position(|l| l == "[facts]").unwrap() + 1
    );
    // A value of the wrong type, a version below 1, an unknown procedure.
    let text = SMALL_MIGRATION
        .replace("level = \"a\"", "level = \"c\"")
        .replace("from = 1", "from = 0");
    let (_, diags) = load_migration(&SourceFile::new("m.toml", text), &rules);
    let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"invalid-version"), "{codes:?}");
    let text = SMALL_MIGRATION.replace("procedure = \"p\"", "procedure = \"q\"");
    let (_, diags) = load_migration(&SourceFile::new("m.toml", text), &rules);
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        vec!["unknown-procedure"]
    );
    let text = SMALL_MIGRATION.replace("from = 1", "from = 1\nfrom = 2");
    let (m, diags) = load_migration(&SourceFile::new("m.toml", text), &rules);
    assert!(
        m.is_none() && diags.iter().any(|d| d.code == "toml-syntax"),
        "{diags:?}"
    );
    let text = SMALL_MIGRATION.replace("level = \"a\"", "level = \"c\"");
    let (_, diags) = load_migration(&SourceFile::new("m.toml", text), &rules);
    assert!(
        diags
            .iter()
            .any(|d| d.code == "wrong-type" && d.message.contains("level")),
        "{diags:?}"
    );
}

/// Legality review v1 → v2: version 2 no longer reviews village rules nor "enforcement
/// decisions" under that name. The file is accepted with a warning naming the values; a
/// case holding one cannot move (the plan says why, by the fact's title), the others move.
const LEGALITY: &str = r#"
[migration]
procedure = "legality-review"
from = 1
to = 2
title = "合法性审查 第1版→第2版"
basis = "运行方决定（测试）"

[facts]
opinion_fully_adopted = false

[states]
preparing = "preparing"
returned = "returned"
under_review = "under_review"
cleared = "cleared"
found_unlawful = "found_unlawful"
correcting = { excluded = "村规民约的改正另行办理" }
proceeded = "proceeded"
filed = { excluded = "已办结" }
abandoned = { excluded = "已办结" }

[tracks.adviser]
requested = "requested"
given = "given"
"#;

#[test]
fn a_case_holding_an_enum_value_the_new_version_lacks_cannot_move() {
    let rules = rules();
    let (m, diags) = load_migration(
        &SourceFile::new("migrations/legality-review-v1-v2.toml", LEGALITY),
        &rules,
    );
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let d = diags
        .iter()
        .find(|d| d.code == "migration-enum-values")
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert!(
        d.message.contains(
            "its values `enforcement_decision`, `village_rules` of version 1 are no values of version 2"
        ),
        "{}",
        d.message
    );
    let m = m.unwrap();
    let v1 = rules.get("legality-review", Some(1)).unwrap();
    let v2 = rules.get("legality-review", Some(2)).unwrap();
    let at = DateTime::parse_from_rfc3339("2026-11-02T09:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc);
    let actor = Actor::new(
        "tester",
        v1.roles().map(|r| r.id().to_owned()).collect::<Vec<_>>(),
    );
    let case = |id: &str, facts: serde_json::Value| {
        let opening = Opening {
            case: id.into(),
            title: "送审".into(),
            actor: actor.clone(),
            at,
            facts,
            imported: false,
        };
        Case::open_recorded(v1, opening).unwrap().0
    };
    let village = case(
        "v",
        json!({"kind": "village_rules", "adopted_on": "2026-10-30"}),
    );
    let Err(refused) = m.plan(&village, v2, actor.clone(), at, &Calendar::new()) else {
        panic!("a village-rules case cannot move");
    };
    assert!(
        refused
            .zh
            .contains("「送审事项类别」为“village_rules”，第2版没有这一取值"),
        "{}",
        refused.zh
    );
    let contract = case("c", json!({"kind": "contract"}));
    let moved = m
        .plan(&contract, v2, actor, at, &Calendar::new())
        .unwrap_or_else(|e| panic!("{}", e.zh));
    assert_eq!(moved.case.fact("kind"), Some(json!("contract")));
}
