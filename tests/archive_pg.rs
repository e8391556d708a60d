#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! Issue 16: a town's SQLite file moved into PostgreSQL through the real `fazhi` binary.
//! `fazhi export` from SQLite → `fazhi import --db postgres://…` → `fazhi verify --db
//! postgres://…` → `fazhi export --db postgres://…`: the two exports are the same file, byte
//! for byte. A tampered line is refused with nothing of its case written; a column changed
//! in PostgreSQL is named by `verify`; an unreachable server is an error that does not show
//! the URL's password.

#[path = "support/cases.rs"]
mod cases;

use std::path::Path;

use cases::{calendars_dir, fazhi, fill, rules_dir};

fn pg() -> String {
    fazhi_store::test_pg::database().unwrap_or_else(|e| panic!("{e}"))
}

fn import(db: &str, input: &Path) -> (i32, String) {
    fazhi(&[
        "import",
        "--db",
        db,
        "--rules",
        rules_dir().to_str().unwrap(),
        "--calendars",
        calendars_dir().to_str().unwrap(),
        input.to_str().unwrap(),
    ])
}

fn export(db: &str, out: &Path) -> (i32, String) {
    fazhi(&["export", "--db", db, out.to_str().unwrap()])
}

fn verify(db: &str) -> (i32, String) {
    fazhi(&[
        "verify",
        "--db",
        db,
        "--rules",
        rules_dir().to_str().unwrap(),
        "--calendars",
        calendars_dir().to_str().unwrap(),
    ])
}

/// Runs SQL on a database of the test server.
fn sql(url: &str, statements: &str) {
    fazhi_store::test_pg::execute(url, statements).unwrap();
}

#[actix_web::test]
async fn a_town_moves_from_sqlite_to_postgres_and_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let town = dir.path().join("town.db");
    fill(&town, 3).await;
    let file = dir.path().join("town.ndjson");
    let (code, out) = export(town.to_str().unwrap(), &file);
    assert_eq!(code, 0, "{out}");

    let db = pg();
    let (code, out) = import(&db, &file);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("imported 3 cases (6 events)"), "{out}");
    let (code, out) = verify(&db);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 3 cases, 6 events"), "{out}");
    let again = dir.path().join("again.ndjson");
    let (code, out) = export(&db, &again);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("exported 3 cases, 6 events"), "{out}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(&again).unwrap()
    );

    // Twice: nothing written, as on SQLite.
    let (code, out) = import(&db, &file);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("imported 0 cases (0 events)") && out.contains("3 already there"),
        "{out}"
    );

    // A history in PostgreSQL that differs from the file's is refused, as on SQLite.
    sql(
        &db,
        "UPDATE events SET hash = repeat('0', 64) WHERE case_id = 'case-2' AND seq = 1",
    );
    let (code, out) = import(&db, &file);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-2: refused, nothing of it written: event 1")
            && out.contains("its history differs from the file's"),
        "{out}"
    );

    // `verify` on PostgreSQL checks every stored column against the events.
    sql(
        &db,
        "UPDATE events SET actor = 'intruder' WHERE case_id = 'case-1' AND seq = 1; \
         UPDATE cases SET state = 'closed_out' WHERE id = 'case-0'",
    );
    let (code, out) = verify(&db);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-1: event 1 column `actor`: expected `")
            && out.contains("found `intruder`"),
        "{out}"
    );
    assert!(
        out.contains("case case-0: summary column `state`") && out.contains("found `closed_out`"),
        "{out}"
    );
    assert!(out.contains("3 of 3 cases do not verify"), "{out}");
}

#[actix_web::test]
async fn a_tampered_file_writes_nothing_of_its_case_into_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let town = dir.path().join("town.db");
    fill(&town, 3).await;
    let file = dir.path().join("town.ndjson");
    assert_eq!(export(town.to_str().unwrap(), &file).0, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replacen(
        r#""case":"case-1","seq":0"#,
        r#""case":"case-1","seq":0 "#,
        1,
    );
    assert_ne!(changed, text);
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, changed).unwrap();

    let db = pg();
    let (code, out) = import(&db, &bad);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-1: refused, nothing of it written: event 0")
            && out.contains("the line was changed"),
        "{out}"
    );
    assert!(
        out.contains("imported 2 cases (4 events)") && out.contains("1 refused"),
        "{out}"
    );
    let back = dir.path().join("back.ndjson");
    let (code, out) = export(&db, &back);
    assert_eq!(code, 0, "{out}");
    let want: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(r#""case":"case-1""#))
        .collect();
    assert_eq!(
        std::fs::read_to_string(&back).unwrap(),
        want.join("\n") + "\n"
    );

    // A file that is not an export: nothing imported.
    std::fs::write(&bad, "{\"hash\": 1\n").unwrap();
    let fresh = pg();
    let (code, out) = import(&fresh, &bad);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("nothing was imported"), "{out}");
    let (code, out) = verify(&fresh);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 0 cases"), "{out}");
}

#[test]
fn an_unreachable_server_is_an_error_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().to_str().unwrap().replace('/', "%2F");
    let url = format!("postgres://fazhi:s3cret@{socket}/town");
    for (code, out) in [verify(&url), export(&url, &dir.path().join("out.ndjson"))] {
        assert_eq!(code, 2, "{out}");
        assert!(
            out.contains("postgres://fazhi:***@") && !out.contains("s3cret"),
            "{out}"
        );
    }
    assert!(!dir.path().join("out.ndjson").exists());
}
