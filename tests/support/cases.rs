#![allow(dead_code)]

//! Real cases of the filing fixture, written through the store API as the server writes them
//! (the summary from `fazhi_http::service::summary_at`), for the tests of `verify`, `backup`,
//! `export` and `import`.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeZone, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::RuleSet;
use fazhi_core::runtime::{Actor, Case, Command as Cmd, DocumentRef, Opening};
use fazhi_core::time::Calendar;
use fazhi_store::{Append, AppendOutcome, EventStore, NewEvent, SqliteOptions, SqliteStore};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture's rules directory, as `--rules` takes it.
pub fn rules_dir() -> PathBuf {
    root().join("crates/http/tests/fixtures")
}

/// The shipped calendars, as `--calendars` takes them.
pub fn calendars_dir() -> PathBuf {
    root().join("rules/calendars")
}

pub fn rules() -> RuleSet {
    let text = std::fs::read_to_string(rules_dir().join("filing.toml")).unwrap();
    load(&[SourceFile::new("filing.toml", text)]).rules
}

pub fn calendar() -> Calendar {
    fazhi::calendars::load_calendar_dir(&calendars_dir()).unwrap()
}

/// Runs the built `fazhi` binary: exit code and stdout + stderr.
pub fn fazhi(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `fazhi verify` on a database with the fixture's rules.
pub fn verify(db: &Path) -> (i32, String) {
    fazhi(&[
        "verify",
        "--db",
        db.to_str().unwrap(),
        "--rules",
        rules_dir().to_str().unwrap(),
        "--calendars",
        calendars_dir().to_str().unwrap(),
    ])
}

fn doc(kind: &str) -> DocumentRef {
    DocumentRef {
        kind: kind.into(),
        name: "a.pdf".into(),
        sha256: "a".repeat(64),
        uri: None,
    }
}

/// Opens case `id` and submits it (two events, one append), as the server would.
pub async fn open_and_submit(
    store: &SqliteStore,
    rules: &RuleSet,
    calendar: &Calendar,
    id: &str,
    at: DateTime<Utc>,
) {
    let p = rules.get("village-rules-filing", None).unwrap();
    let village = Actor::new("village", ["village"]);
    let (mut case, opened) = Case::open_recorded(
        p,
        Opening {
            case: id.to_owned(),
            title: format!("村规民约 {id}"),
            actor: village.clone(),
            at,
            facts: serde_json::json!({"adopted_on": "2025-03-01"}),
            imported: false,
        },
    )
    .unwrap();
    let event = case
        .decide(
            Cmd::new("submit", village, at)
                .with_document(doc("rules_text"))
                .with_document(doc("meeting_record")),
            calendar,
        )
        .unwrap();
    let submitted = case.record(event).unwrap();
    let summary = fazhi_http::service::summary_at(&case, Utc::now().max(at), calendar);
    let outcome = store
        .append(Append {
            case: id.to_owned(),
            expected_seq: 0,
            events: vec![
                NewEvent::from_recorded(&opened, 1),
                NewEvent::from_recorded(&submitted, 1),
            ],
            deadlines: fazhi_http::deadlines::board_at(&case, Utc::now().max(at), calendar),
            summary,
            idempotency: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, AppendOutcome::Appended);
}

/// A database of `n` cases `case-0`… (two events each), closed.
pub async fn fill(db: &Path, n: usize) {
    let (rules, calendar) = (rules(), calendar());
    let store = SqliteStore::open(SqliteOptions::new(db)).unwrap();
    let at = Utc.with_ymd_and_hms(2025, 3, 3, 1, 0, 0).single().unwrap();
    for i in 0..n {
        open_and_submit(&store, &rules, &calendar, &format!("case-{i}"), at).await;
    }
    store.close().await.unwrap();
}

/// Opens case `id` as the town, naming `named` (a principal id) as a villagers' committee
/// taking part (`participants` of the opening), and writes its opening as the server would.
pub async fn open_naming(
    store: &SqliteStore,
    rules: &RuleSet,
    calendar: &Calendar,
    id: &str,
    named: &str,
    at: DateTime<Utc>,
) {
    let p = rules.get("village-rules-filing", None).unwrap();
    let participants = [("village".to_owned(), vec![named.to_owned()])].into();
    let (case, opened) = Case::open_recorded_naming(
        p,
        Opening {
            case: id.to_owned(),
            title: format!("代为登记 {id}"),
            actor: Actor::new("town", ["town"]),
            at,
            facts: serde_json::json!({"adopted_on": "2025-03-01"}),
            imported: false,
        },
        participants,
    )
    .unwrap();
    let summary = fazhi_http::service::summary_at(&case, Utc::now().max(at), calendar);
    let outcome = store
        .append(Append {
            case: id.to_owned(),
            expected_seq: 0,
            events: vec![NewEvent::from_recorded(&opened, 1)],
            summary,
            deadlines: fazhi_http::deadlines::board_at(&case, Utc::now().max(at), calendar),
            idempotency: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, AppendOutcome::Appended);
}
