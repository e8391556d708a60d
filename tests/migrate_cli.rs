#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! `fazhi migrate plan|apply` over a database of major decisions on version 1: the plan names
//! each running case with where it moves or why it cannot (Chinese first, titles); apply
//! appends the migration events, after which `fazhi verify` passes and the plan is empty.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::RuleSet;
use fazhi_core::runtime::{Actor, Case, Command as Cmd, Opening, Recorded};
use fazhi_core::time::Calendar;
use fazhi_store::{Append, AppendOutcome, EventStore, NewEvent, SqliteOptions, SqliteStore};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fazhi(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The shipped rules (procedures, laws, calendars, migrations) copied to `dir`, the
/// migration file changed by `edit`.
fn rules_copy(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let to = dir.join("rules");
    std::fs::create_dir_all(to.join("calendars")).unwrap();
    std::fs::create_dir_all(to.join("migrations")).unwrap();
    for sub in ["", "calendars"] {
        for e in std::fs::read_dir(root().join("rules").join(sub)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_file() && name.ends_with(".toml") && !name.ends_with(".test.toml") {
                std::fs::copy(&p, to.join(sub).join(name)).unwrap();
            }
        }
    }
    let m = "migrations/major-decision-v1-v2.toml";
    let text = std::fs::read_to_string(root().join("rules").join(m)).unwrap();
    std::fs::write(to.join(m), edit(text)).unwrap();
    to
}

fn loaded(rules: &Path) -> (RuleSet, Calendar) {
    let mut files = Vec::new();
    for e in std::fs::read_dir(rules).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            files.push(SourceFile::new(
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    let l = load(&files);
    assert_eq!(l.errors(), 0, "{:?}", l.diagnostics);
    (
        l.rules,
        fazhi::calendars::load_calendar_dir(&rules.join("calendars")).unwrap(),
    )
}

fn everyone(rules: &RuleSet) -> Actor {
    let p = rules.get("major-decision", Some(1)).unwrap();
    Actor::new(
        "tester",
        p.roles().map(|r| r.id().to_owned()).collect::<Vec<_>>(),
    )
}

/// Writes a case of version `version` as the server would: opened, then `steps` actions
/// taken with the core's own example bodies (the first allowed action each time).
async fn write_case(
    store: &SqliteStore,
    rules: &RuleSet,
    cal: &Calendar,
    id: &str,
    version: u32,
    steps: usize,
) {
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-05T09:00:00+08:00")
        .unwrap()
        .into();
    let p = rules.get("major-decision", Some(version)).unwrap();
    let actor = everyone(rules);
    let (mut case, opened) = Case::open_recorded(
        p,
        Opening {
            case: id.into(),
            title: format!("重大决策 {id}"),
            actor: actor.clone(),
            at,
            facts: serde_json::json!({"proposer": "department"}),
            imported: false,
        },
    )
    .unwrap();
    let mut recorded: Vec<Recorded> = vec![opened];
    for _ in 0..steps {
        let at = case.last_at() + Duration::days(40);
        let options = case.available_actions(&actor, at, cal);
        let ex = case.action_examples(&options, &actor, at, cal);
        let ex = ex
            .iter()
            .find(|e| e.action == "decide_to_start")
            .or(ex.first())
            .unwrap();
        let mut c = Cmd::new(ex.action.clone(), actor.clone(), at);
        c.payload = ex.payload.clone();
        c.documents = ex.documents.clone();
        c.reason = ex.reason.clone();
        recorded.push(case.decide_record(c, cal).unwrap());
    }
    let now = Utc::now().max(case.last_at());
    let outcome = store
        .append(Append {
            case: id.to_owned(),
            expected_seq: 0,
            events: recorded
                .iter()
                .map(|r| NewEvent::from_recorded(r, version))
                .collect(),
            summary: fazhi_http::service::summary_at(&case, now, cal),
            deadlines: fazhi_http::deadlines::board_at(&case, now, cal),
            idempotency: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, AppendOutcome::Appended);
}

async fn fill(db: &Path, rules: &RuleSet, cal: &Calendar) {
    let store = SqliteStore::open(SqliteOptions::new(db)).unwrap();
    write_case(&store, rules, cal, "case-a", 1, 0).await;
    write_case(&store, rules, cal, "case-b", 1, 1).await;
    write_case(&store, rules, cal, "case-c", 2, 0).await;
    store.close().await.unwrap();
}

fn plan(db: &Path, rules: &Path, apply: bool) -> (i32, String, String) {
    fazhi(&[
        "migrate",
        if apply { "apply" } else { "plan" },
        "--db",
        db.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--procedure",
        "major-decision",
        "--to",
        "2",
    ])
}

#[actix_web::test]
async fn plan_then_apply_moves_every_running_case_and_the_database_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_copy(dir.path(), |t| t);
    let (set, cal) = loaded(&rules);
    let db = dir.path().join("fazhi.db");
    fill(&db, &set, &cal).await;

    let (code, out, err) = plan(&db, &rules, false);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("案件 case-a「重大决策 case-a」（第1版，“决策动议已提出”）：将迁至“决策动议已提出”（moves to `proposed`）"), "{out}");
    assert!(
        lines[1].contains("case-b") && lines[1].contains("（moves to `drafting`）"),
        "{out}"
    );
    assert!(
        !out.contains("case-c"),
        "a case already on version 2 is not listed: {out}"
    );
    assert!(err.contains("2件在办案件"), "{err}");

    let (code, out, err) = plan(&db, &rules, true);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("已迁至“决策动议已提出”，迁移事件为第1号（moved to `proposed`, event 1）"),
        "{out}"
    );
    let (code, out, err) = fazhi(&[
        "verify",
        "--db",
        db.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok: 3 cases"), "{out}");
    // Nothing is left to move.
    let (code, out, _) = plan(&db, &rules, false);
    assert_eq!((code, out.as_str()), (0, ""));
    // Exported and imported into a new database, the migrated cases verify there too.
    let file = dir.path().join("cases.ndjson");
    let (code, out, err) = fazhi(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let copy = dir.path().join("copy.db");
    let (code, out, err) = fazhi(&[
        "import",
        "--db",
        copy.to_str().unwrap(),
        "--create-db",
        "--rules",
        rules.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = fazhi(&[
        "verify",
        "--db",
        copy.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // The migrated cases are on version 2 now.
    let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
    let s = store.summary("case-b").await.unwrap().unwrap();
    assert_eq!(
        (s.procedure_version, s.state.as_str(), s.seq),
        (2, "drafting", 3)
    );
    store.close().await.unwrap();
}

#[actix_web::test]
async fn a_case_the_migration_excludes_is_named_with_the_reason_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_copy(dir.path(), |t| {
        t.replace(
            "proposed = \"proposed\"",
            "proposed = { excluded = \"立案阶段的案件按原版本办结\" }",
        )
    });
    let (set, cal) = loaded(&rules);
    let db = dir.path().join("fazhi.db");
    fill(&db, &set, &cal).await;
    let (code, out, err) = plan(&db, &rules, true);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("case-a「重大决策 case-a」（第1版，“决策动议已提出”）：不能迁移：处于“决策动议已提出”的案件不迁移：立案阶段的案件按原版本办结（cannot move: state `proposed` is excluded from the migration: 立案阶段的案件按原版本办结）"),
        "{out}"
    );
    assert!(
        out.contains("case-b") && out.contains("moved to `drafting`"),
        "{out}"
    );
    let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
    let s = store.summary("case-a").await.unwrap().unwrap();
    assert_eq!((s.procedure_version, s.seq), (1, 1));
    store.close().await.unwrap();
    // A migration file with an error stops the command before it reads a case.
    let broken = rules_copy(&dir.path().join("broken"), |t| {
        t.replace("revision = \"revision\"\n", "")
    });
    let (code, _, err) = plan(&db, &broken, false);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("migration-unmapped-state") || err.contains("`revision`"),
        "{err}"
    );
    // `fazhi check` on the rules directory proves the migration files there, located.
    let (code, out, err) = fazhi(&["check", broken.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1, "{out}{err}");
    let d: serde_json::Value = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|d| d["code"] == "migration-unmapped-state")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        d["file"]
            .as_str()
            .unwrap()
            .ends_with("migrations/major-decision-v1-v2.toml"),
        "{d}"
    );
    assert!(d["message"].as_str().unwrap().contains("`revision`"), "{d}");
    assert!(d["line"].as_u64().unwrap() > 1, "{d}");
}

/// The same migration on PostgreSQL: the cases imported there move, the summary names the
/// new version, and the database verifies.
#[actix_web::test]
async fn the_same_migration_runs_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_copy(dir.path(), |t| t);
    let (set, cal) = loaded(&rules);
    let db = dir.path().join("fazhi.db");
    fill(&db, &set, &cal).await;
    let file = dir.path().join("cases.ndjson");
    let (code, out, err) = fazhi(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let url = fazhi_store::test_pg::database().unwrap_or_else(|e| panic!("{e}"));
    let (code, out, err) = fazhi(&[
        "import",
        "--db",
        &url,
        "--rules",
        rules.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = plan(Path::new(&url), &rules, true);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("case-a") && out.contains("case-b"), "{out}");
    let (code, out, err) = fazhi(&["verify", "--db", &url, "--rules", rules.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok: 3 cases"), "{out}");
    let store = fazhi_store::PgStore::open(fazhi_store::PgOptions::new(&url)).unwrap();
    let s = store.summary("case-b").await.unwrap().unwrap();
    assert_eq!(
        (s.procedure_version, s.state.as_str(), s.seq),
        (2, "drafting", 3)
    );
    store.close().await.unwrap();
    let (code, out, _) = plan(Path::new(&url), &rules, false);
    assert_eq!((code, out.as_str()), (0, ""));
}
