#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! `fazhi verify`: a sound database verifies; a changed byte is named by case and event; a
//! changed summary or event column is named by file, case, column, expected and found.

#[path = "support/cases.rs"]
mod cases;

use std::path::{Path, PathBuf};

use cases::{fill, verify};
use fazhi_store::EventStore;

#[actix_web::test]
async fn verify_names_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fazhi.db");
    fill(&db, 3).await;
    let (code, out) = verify(&db);
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
    let (code, out) = verify(&db);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-1: the chain breaks at event 0: its stored bytes were changed"),
        "{out}"
    );
    assert!(!out.contains("case-0"), "{out}");
    assert!(out.contains("1 of 3 cases"), "{out}");

    let (code, out) = verify(&dir.path().join("none.db"));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("none.db") && out.contains("--db"), "{out}");
}

/// Events are found by following each case's links back from its newest: a row written
/// around the store (not on the chain) and a link cut out of the chain are both reported.
#[actix_web::test]
async fn verify_finds_events_off_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fazhi.db");
    fill(&db, 3).await;
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
    let (code, out) = verify(&db);
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

/// A copy of a clean database with one column of one row of case-1 set by hand.
fn tampered(clean: &Path, dir: &Path, name: &str, sql: &str) -> PathBuf {
    let db = dir.join(format!("{name}.db"));
    std::fs::copy(clean, &db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(conn.execute(sql, []).unwrap(), 1, "{sql}");
    drop(conn);
    db
}

/// Every summary column and every event column that mirrors the event bytes, changed by
/// hand in a real file, is named by `fazhi verify`: the file, the case, the column, the
/// value it should hold and the value found; the exit code is 1. The clean file passes.
#[actix_web::test]
async fn verify_names_each_tampered_column() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    fill(&clean, 3).await;
    let (code, out) = verify(&clean);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("every chain verifies and every stored column matches its events"),
        "{out}"
    );
    // (column, the change, what verify must say it found)
    let summary = [
        (
            "procedure",
            "procedure = 'other-procedure'",
            "`other-procedure`",
        ),
        ("procedure_version", "procedure_version = 7", "found 7"),
        ("title", "title = 'tampered'", "`tampered`"),
        ("state", "state = 'filed'", "`filed`"),
        ("tracks", r#"tracks = '{"x":"y"}'"#, r#"`{"x":"y"}`"#),
        ("seq", "seq = 5", "found 5"),
        ("head", "head = 'ffff'", "`ffff`"),
        ("opened_at", "opened_at = opened_at + 1", "found 17"),
        ("last_at", "last_at = last_at - 1", "found 17"),
        (
            "next_due",
            "next_due = 1893456000000000",
            "found 1893456000000000",
        ),
        ("closed", "closed = 1", "found 1"),
    ];
    for (column, set, found) in summary {
        let db = tampered(
            &clean,
            dir.path(),
            &format!("summary-{column}"),
            &format!("UPDATE cases SET {set} WHERE id = 'case-1'"),
        );
        let (code, out) = verify(&db);
        assert_eq!(code, 1, "{column}: {out}");
        let line = out
            .lines()
            .find(|l| l.contains(&format!("summary column `{column}`")))
            .unwrap_or_else(|| panic!("{column} not named: {out}"));
        assert!(
            line.starts_with(&format!("{}: case case-1: ", db.display())),
            "{line}"
        );
        assert!(line.contains("expected ") && line.contains(found), "{line}");
        assert!(!out.contains("case-0") && !out.contains("case-2"), "{out}");
        assert!(out.contains("1 of 3 cases do not verify"), "{out}");
    }
    let events = [
        ("case_id", "case_id = 'case-9'", "`case-9`"),
        ("seq", "seq = 7", "found 7"),
        ("action", "action = 'find_lawful'", "`find_lawful`"),
        ("actor", "actor = 'mallory'", "`mallory`"),
        ("roles", r#"roles = '["town"]'"#, r#"`["town"]`"#),
        ("at", "at = at + 1", "found 17"),
        ("imported", "imported = 1", "found 1"),
        ("procedure_version", "procedure_version = 3", "found 3"),
        ("prev_hash", "prev_hash = 'abc'", "`abc`"),
        ("hash", "hash = 'abc'", "`abc`"),
    ];
    for (column, set, found) in events {
        for seq in [0, 1] {
            let db = tampered(
                &clean,
                dir.path(),
                &format!("event-{seq}-{column}"),
                &format!("UPDATE events SET {set} WHERE case_id = 'case-1' AND seq = {seq}"),
            );
            let (code, out) = verify(&db);
            assert_eq!(code, 1, "{column}: {out}");
            let line = out
                .lines()
                .find(|l| l.contains(&format!("event {seq} column `{column}`")))
                .unwrap_or_else(|| panic!("{column} of event {seq} not named: {out}"));
            assert!(
                line.starts_with(&format!("{}: case case-1: ", db.display())),
                "{line}"
            );
            assert!(line.contains("expected ") && line.contains(found), "{line}");
            assert!(!out.contains("case-0") && !out.contains("case-2"), "{out}");
        }
    }
    // The newest event's bytes changed (no later event names its hash): its hash column and
    // the case's head both give it away.
    let db = tampered(
        &clean,
        dir.path(),
        "last-bytes",
        "UPDATE events SET bytes = CAST(replace(CAST(bytes AS TEXT), 'meeting_record', 'meeting_recorx') AS BLOB)
         WHERE case_id = 'case-1' AND seq = 1",
    );
    let (code, out) = verify(&db);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-1: the chain breaks at event 1: its stored bytes were changed"),
        "{out}"
    );
}

/// Who takes part in a case (what a caller reading only its own cases is shown) is checked
/// against the events' actors: a row missing (that actor could no longer read the case) and a
/// row no event accounts for (someone would read a case it never touched) are both named.
#[actix_web::test]
async fn verify_names_a_wrong_participant() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    fill(&clean, 3).await;
    let (code, out) = verify(&clean);
    assert_eq!(code, 0, "{out}");
    let db = tampered(
        &clean,
        dir.path(),
        "participant-missing",
        "DELETE FROM participants WHERE case_id = 'case-1' AND actor = \
         (SELECT actor FROM participants WHERE case_id = 'case-1' ORDER BY actor LIMIT 1)",
    );
    let (code, out) = verify(&db);
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("participants:"))
        .unwrap_or_else(|| panic!("not named: {out}"));
    assert!(
        line.starts_with(&format!("{}: case case-1: ", db.display())),
        "{line}"
    );
    assert!(line.contains("is not recorded as taking part"), "{line}");
    let db = tampered(
        &clean,
        dir.path(),
        "participant-extra",
        "INSERT INTO participants (actor, case_id) VALUES ('mallory', 'case-2')",
    );
    let (code, out) = verify(&db);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().any(
            |l| l.starts_with(&format!("{}: case case-2: ", db.display()))
                && l.contains("`mallory` is recorded as taking part")
        ),
        "{out}"
    );
    assert!(!out.contains("case-1"), "{out}");
}

/// `fazhi verify` recomputes the deadline board's rows of each case: a row changed or
/// removed around the store is named, by case.
#[actix_web::test]
async fn verify_names_a_deadline_row_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fazhi.db");
    fill(&db, 2).await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    // The filings were submitted in time (adopted 2025-03-01, submitted 2025-03-03): the
    // board keeps no row for them, and verify agrees. A row is then made up for case-0.
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM deadlines", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
    let (code, out) = verify(&db);
    assert_eq!(code, 0, "{out}");
    conn.execute(
        "INSERT INTO deadlines (case_id, rule, procedure, late, due, last_day, working_days, optional, provisional, title, basis, roles)
         VALUES ('case-0', 'filing_limit', 'village-rules-filing', 0, 0, '1970-01-01', 0, 0, 0, 't', NULL, '[]')",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, out) = verify(&db);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-0: deadline board: expected [], found [filing_limit due 1970-01-01T08:00:00+08:00]"),
        "{out}"
    );
    assert!(!out.contains("case case-1"), "{out}");
}

/// Whom an opening names as taking part is recomputed from the opening event: a sound
/// database verifies; the named principal's row removed (it could no longer read the case)
/// is named, and so is a row for a principal the opening does not name.
#[actix_web::test]
async fn verify_recomputes_the_participants_an_opening_names() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    fill(&clean, 1).await;
    {
        let store =
            fazhi_store::SqliteStore::open(fazhi_store::SqliteOptions::new(&clean)).unwrap();
        let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2025, 3, 3, 1, 0, 0)
            .single()
            .unwrap();
        cases::open_naming(
            &store,
            &cases::rules(),
            &cases::calendar(),
            "named-1",
            "village-9",
            at,
        )
        .await;
        assert!(store.is_participant("named-1", "village-9").unwrap());
        store.close().await.unwrap();
    }
    let (code, out) = verify(&clean);
    assert_eq!(code, 0, "{out}");
    let db = tampered(
        &clean,
        dir.path(),
        "named-missing",
        "DELETE FROM participants WHERE case_id = 'named-1' AND actor = 'village-9'",
    );
    let (code, out) = verify(&db);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().any(|l| l.contains("case named-1: ")
            && l.contains(
                "`village-9` is named by the opening but is not recorded as taking part"
            )),
        "{out}"
    );
    let db = tampered(
        &clean,
        dir.path(),
        "named-extra",
        "INSERT INTO participants (actor, case_id) VALUES ('village-8', 'named-1')",
    );
    let (code, out) = verify(&db);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().any(|l| l.contains("case named-1: ")
            && l.contains("`village-8` is recorded as taking part")),
        "{out}"
    );
}
