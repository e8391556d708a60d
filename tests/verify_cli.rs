#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! `fazhi verify`: a sound database verifies; a changed byte is named by case and event.

use std::path::Path;
use std::process::Command;

use chrono::{TimeZone, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::runtime::{Actor, Case, Command as Cmd, DocumentRef, Opening};
use fazhi_core::time::Calendar;
use fazhi_store::{Append, AppendOutcome, EventStore, NewEvent, SqliteOptions, SqliteStore};

fn fazhi(args: &[&str]) -> (i32, String) {
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

async fn fill(db: &Path) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/http/tests/fixtures/filing.toml"),
    )
    .unwrap();
    let rules = load(&[SourceFile::new("filing.toml", text)]).rules;
    let p = rules.get("village-rules-filing", None).unwrap();
    let store = SqliteStore::open(SqliteOptions::new(db)).unwrap();
    let at = Utc.with_ymd_and_hms(2025, 3, 3, 1, 0, 0).single().unwrap();
    for i in 0..3 {
        let village = Actor::new("village", ["village"]);
        let (mut case, opened) = Case::open_recorded(
            p,
            Opening {
                case: format!("case-{i}"),
                title: String::new(),
                actor: village.clone(),
                at,
                facts: serde_json::json!({"adopted_on": "2025-03-01"}),
                imported: false,
            },
        )
        .unwrap();
        let doc = |kind: &str| DocumentRef {
            kind: kind.into(),
            name: "a.pdf".into(),
            sha256: "a".repeat(64),
            uri: None,
        };
        let event = case
            .decide(
                Cmd::new("submit", village, at)
                    .with_document(doc("rules_text"))
                    .with_document(doc("meeting_record")),
                &Calendar::new(),
            )
            .unwrap();
        let submitted = case.record(event).unwrap();
        let view = case.view();
        let outcome = store
            .append(Append {
                case: view.id.clone(),
                expected_seq: 0,
                events: vec![
                    NewEvent::from_recorded(&opened, 1),
                    NewEvent::from_recorded(&submitted, 1),
                ],
                summary: fazhi_store::CaseSummary {
                    id: view.id,
                    procedure: view.procedure,
                    procedure_version: 1,
                    title: view.title,
                    state: view.state,
                    tracks: view.tracks,
                    seq: view.seq,
                    head: view.head,
                    opened_at: view.opened_at,
                    last_at: view.last_at,
                    next_due: None,
                    closed: view.closed,
                },
                idempotency: None,
            })
            .await
            .unwrap();
        assert_eq!(outcome, AppendOutcome::Appended);
    }
    store.close().await.unwrap();
}

#[actix_web::test]
async fn verify_names_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fazhi.db");
    let db_s = db.to_str().unwrap();
    fill(&db).await;
    let (code, out) = fazhi(&["verify", "--db", db_s]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 3 cases, 6 events"), "{out}");

    // Change one byte of the opening of case-1 (a date in its facts).
    let conn = rusqlite::Connection::open(&db).unwrap();
    let bytes: Vec<u8> = conn
        .query_row(
            "SELECT bytes FROM events WHERE case_id = 'case-1' AND seq = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let tampered = String::from_utf8(bytes)
        .unwrap()
        .replace("2025-03-01", "2025-03-02");
    conn.execute(
        "UPDATE events SET bytes = ?1 WHERE case_id = 'case-1' AND seq = 0",
        [tampered.into_bytes()],
    )
    .unwrap();
    drop(conn);
    let (code, out) = fazhi(&["verify", "--db", db_s]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-1: the chain breaks at event 0: its stored bytes were changed"),
        "{out}"
    );
    assert!(!out.contains("case-0"), "{out}");
    assert!(out.contains("1 of 3 cases"), "{out}");

    let (code, out) = fazhi(&[
        "verify",
        "--db",
        dir.path().join("none.db").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
}

/// Events are found by following each case's links back from its newest: a row written
/// around the store (not on the chain) and a link cut out of the chain are both reported.
#[actix_web::test]
async fn verify_finds_events_off_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fazhi.db");
    let db_s = db.to_str().unwrap();
    fill(&db).await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    // A copy of case-0's newest event, as if written by hand: nothing links to it.
    conn.execute(
        "INSERT INTO events (case_id, seq, prev, action, actor, roles, at, imported, procedure_version, prev_hash, hash, bytes)
         SELECT case_id, seq + 1, id, action, actor, roles, at, imported, procedure_version, hash, hash, bytes
         FROM events WHERE case_id = 'case-0' ORDER BY seq DESC LIMIT 1",
        [],
    )
    .unwrap();
    // case-2's newest event no longer links to the one before it.
    conn.execute(
        "UPDATE events SET prev = NULL WHERE case_id = 'case-2' AND seq = 1",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, out) = fazhi(&["verify", "--db", db_s]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-0: 3 events are stored for it, its chain links 2"),
        "{out}"
    );
    assert!(
        out.contains("case case-2: ") && out.contains("breaks off below event 1"),
        "{out}"
    );
    assert!(!out.contains("case-1"), "{out}");
    assert!(out.contains("2 of 3 cases"), "{out}");
}
