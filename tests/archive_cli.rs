#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! Backup and restore (issue 15): `fazhi backup` while a writer appends, then `fazhi
//! verify` on the copy; `fazhi export` → `fazhi import` into an empty database gives the
//! same events byte for byte; a changed line is refused, naming case and seq; importing
//! twice writes nothing the second time.

#[path = "support/cases.rs"]
mod cases;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cases::{calendar, calendars_dir, fazhi, fill, open_and_submit, rules, rules_dir, verify};
use chrono::{TimeZone, Utc};
use fazhi_store::{EventStore, SqliteOptions, SqliteStore};

fn import(db: &Path, input: &Path, extra: &[&str]) -> (i32, String) {
    let (rules, calendars) = (rules_dir(), calendars_dir());
    let mut args = vec![
        "import",
        "--db",
        db.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--calendars",
        calendars.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(input.to_str().unwrap());
    fazhi(&args)
}

fn export(db: &Path, out: &Path) -> (i32, String) {
    fazhi(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        out.to_str().unwrap(),
    ])
}

/// Every case's events (seq, hash, bytes) and summary, read through the store.
async fn contents(db: &Path) -> Vec<(String, Vec<fazhi_store::StoredEvent>)> {
    let store = SqliteStore::open(SqliteOptions {
        read_only: true,
        ..SqliteOptions::new(db)
    })
    .unwrap();
    let mut out = Vec::new();
    for id in store.case_ids().unwrap() {
        let events = store.events(&id).await.unwrap();
        out.push((id, events));
    }
    out
}

/// A backup taken while a thread appends through the store API is a database as of one
/// commit: `fazhi verify` passes on it, and each of its cases is in the source with the same
/// events.
#[test]
fn backup_while_a_writer_appends_then_verify_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (db, stop, written) = (db.clone(), stop.clone(), written.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                let (rules, calendar) = (rules(), calendar());
                let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
                let at = Utc.with_ymd_and_hms(2025, 3, 3, 1, 0, 0).single().unwrap();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && i < 5000 {
                    open_and_submit(&store, &rules, &calendar, &format!("live-{i:05}"), at).await;
                    i += 1;
                    written.store(i, Ordering::SeqCst);
                }
                store.close().await.unwrap();
            });
        })
    };
    while written.load(Ordering::SeqCst) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut copies = Vec::new();
    for n in 0..3 {
        let out = dir.path().join(format!("copy-{n}.db"));
        let (code, said) = fazhi(&[
            "backup",
            "--db",
            db.to_str().unwrap(),
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{said}");
        assert!(
            said.contains("backed up") && said.contains("fazhi verify"),
            "{said}"
        );
        // A file on its own: no WAL beside it to go with it, no partial copy left.
        assert!(!Path::new(&format!("{}-wal", out.display())).exists());
        assert!(!Path::new(&format!("{}.partial", out.display())).exists());
        copies.push(out);
    }
    let during = written.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let total = written.load(Ordering::SeqCst);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let source = rt.block_on(contents(&db));
    assert_eq!(source.len(), total);
    let mut sizes = Vec::new();
    for copy in &copies {
        let (code, out) = verify(copy);
        assert_eq!(code, 0, "{out}");
        let copied = rt.block_on(contents(copy));
        assert!(
            copied.len() >= 20 && copied.len() <= during,
            "{} of {during}",
            copied.len()
        );
        // Cases open in id order: the copy is the first cases of the source, whole.
        assert_eq!(copied[..], source[..copied.len()]);
        sizes.push(copied.len());
    }
    // A backup never overwrites a file.
    let (code, out) = fazhi(&[
        "backup",
        "--db",
        db.to_str().unwrap(),
        copies[0].to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("exists"), "{out}");
    // Nor backs up a database that is not there.
    let (code, out) = fazhi(&[
        "backup",
        "--db",
        dir.path().join("none.db").to_str().unwrap(),
        dir.path().join("none-copy.db").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("none.db"), "{out}");
}

/// Export, import into an empty database, verify: the same cases with the same events byte
/// for byte, and exporting again gives the same file. Importing it again writes nothing.
#[actix_web::test]
async fn export_then_import_gives_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    fill(&db, 3).await;
    let file = dir.path().join("a.ndjson");
    let (code, out) = export(&db, &file);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("exported 3 cases, 6 events"), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 6);
    // An export never overwrites a file.
    let (code, out) = export(&db, &file);
    assert_eq!(code, 2, "{out}");

    let copy = dir.path().join("b.db");
    // A database that is not there is created only when asked.
    let (code, out) = import(&copy, &file, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--create-db"), "{out}");
    assert!(!copy.exists());
    let (code, out) = import(&copy, &file, &["--create-db"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("imported 3 cases (6 events)"), "{out}");
    let (code, out) = verify(&copy);
    assert_eq!(code, 0, "{out}");
    assert_eq!(contents(&db).await, contents(&copy).await);
    let again = dir.path().join("b.ndjson");
    let (code, out) = export(&copy, &again);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(&again).unwrap()
    );

    // Twice: nothing written.
    let (code, out) = import(&copy, &file, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("imported 0 cases (0 events)") && out.contains("3 already there"),
        "{out}"
    );
    assert_eq!(contents(&db).await, contents(&copy).await);

    // A file with only the first event of case-1, then the whole file: the rest is added.
    let partial = dir.path().join("partial.ndjson");
    let first: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(r#""case":"case-1","seq":1"#))
        .collect();
    assert_eq!(first.len(), 5, "{text}");
    std::fs::write(&partial, first.join("\n") + "\n").unwrap();
    let resumed = dir.path().join("c.db");
    let (code, out) = import(&resumed, &partial, &["--create-db"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = import(&resumed, &file, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("case case-1: added events 1 to 1"), "{out}");
    assert_eq!(contents(&db).await, contents(&resumed).await);
}

/// A changed line is refused with its case, seq and line, and nothing of that case is
/// written; the other cases are imported. A line that belongs to no case refuses the file.
#[actix_web::test]
async fn a_tampered_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    fill(&db, 3).await;
    let file = dir.path().join("a.ndjson");
    assert_eq!(export(&db, &file).0, 0);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(r#""case":"case-1","seq":0"#))
        .unwrap();

    // The event changed, its hash left: the hash gives it away.
    let mut changed: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    changed[at] = changed[at].replace("2025-03-01", "2025-03-02");
    assert_ne!(changed[at], lines[at]);
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, changed.join("\n") + "\n").unwrap();
    let target = dir.path().join("t1.db");
    let (code, out) = import(&target, &bad, &["--create-db"]);
    assert_eq!(code, 1, "{out}");
    let line = format!("line {}", at + 1);
    assert!(
        out.contains("case case-1: refused, nothing of it written: event 0")
            && out.contains(&line)
            && out.contains("the line was changed"),
        "{out}"
    );
    assert!(
        out.contains("imported 2 cases (4 events)") && out.contains("1 refused"),
        "{out}"
    );
    let imported = contents(&target).await;
    assert_eq!(
        imported
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["case-0", "case-2"]
    );

    // The event changed and its hash made to fit: the next event's link gives it away.
    let tampered = changed[at].clone();
    let event = &tampered[tampered.find(r#""event":"#).unwrap() + 8..tampered.len() - 1];
    let hash = fazhi_core::runtime::sha256_hex(event.as_bytes());
    changed[at] = format!(r#"{{"hash":"{hash}","event":{event}}}"#);
    std::fs::write(&bad, changed.join("\n") + "\n").unwrap();
    let target = dir.path().join("t2.db");
    let (code, out) = import(&target, &bad, &["--create-db"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("case case-1: refused, nothing of it written: event 0")
            && out.contains("its stored bytes were changed"),
        "{out}"
    );
    assert_eq!(contents(&target).await.len(), 2);

    // A line that is not a line of an export: the whole file is refused, no database made.
    let mut garbled: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    garbled[1] = "{\"hash\": 1".into();
    std::fs::write(&bad, garbled.join("\n") + "\n").unwrap();
    let target = dir.path().join("t3.db");
    let (code, out) = import(&target, &bad, &["--create-db"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("line 2") && out.contains("nothing was imported"),
        "{out}"
    );
    assert!(!target.exists());
}

/// Mutated exports (bytes flipped, dropped or doubled, lines swapped, doubled or cut, text
/// that is not UTF-8): `fazhi import` never panics, answers 0, 1 or 2, and whatever it
/// imports verifies. Bounded: 40 mutants.
#[actix_web::test]
async fn mutated_exports_never_panic_and_what_lands_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    fill(&db, 3).await;
    let file = dir.path().join("a.ndjson");
    assert_eq!(export(&db, &file).0, 0);
    let original = std::fs::read(&file).unwrap();
    let mut seed: u64 = 0x5eed_f00d;
    let mut next = move |n: usize| -> usize {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap() % n.max(1)
    };
    for round in 0..40 {
        let mut bytes = original.clone();
        let mut lines: Vec<Vec<u8>> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        match round % 8 {
            0 => {
                let i = next(bytes.len());
                bytes[i] ^= 1 << next(8);
            }
            1 => {
                bytes.remove(next(bytes.len()));
            }
            2 => {
                let i = next(bytes.len());
                bytes.insert(i, bytes[i]);
            }
            3 => {
                let (a, b) = (next(lines.len()), next(lines.len()));
                lines.swap(a, b);
                bytes = lines.join(&b'\n');
            }
            4 => {
                let i = next(lines.len());
                let line = lines[i].clone();
                lines.insert(i, line);
                bytes = lines.join(&b'\n');
            }
            5 => {
                let i = next(lines.len());
                let cut = next(lines[i].len());
                lines[i].truncate(cut);
                bytes = lines.join(&b'\n');
            }
            6 => {
                let i = next(bytes.len());
                bytes.splice(i..i, [0xff, 0xfe, 0x00]);
            }
            _ => {
                let i = next(lines.len());
                lines.remove(i);
                bytes = lines.join(&b'\n');
            }
        }
        let input = dir.path().join(format!("m{round}.ndjson"));
        std::fs::write(&input, &bytes).unwrap();
        let target = dir.path().join(format!("m{round}.db"));
        let (code, out) = import(&target, &input, &["--create-db"]);
        assert!(matches!(code, 0..=2), "round {round}: {code}: {out}");
        assert!(!out.contains("panicked"), "round {round}: {out}");
        if target.exists() {
            let (code, said) = verify(&target);
            assert_eq!(
                code, 0,
                "round {round}: what was imported does not verify: {said}"
            );
        }
    }
}

/// An event whose time is before 1949-10-01 China time (a year 0001 from an empty field) or
/// in the future is refused with its case, line and seq, as the service refuses such an `at`
/// from an importer; the floor itself is taken.
#[test]
fn an_event_before_the_floor_or_in_the_future_is_refused() {
    use fazhi_core::runtime::{Actor, Case, Opening};
    let dir = tempfile::tempdir().unwrap();
    let rules = rules();
    let p = rules.get("village-rules-filing", None).unwrap().clone();
    let line = |case: &str, at: chrono::DateTime<Utc>| {
        let (_, recorded) = Case::open_recorded(
            &p,
            Opening {
                case: case.into(),
                title: "村规民约".into(),
                actor: Actor::new("archivist", ["village"]),
                at,
                facts: serde_json::json!({"adopted_on": "1950-01-01"}),
                imported: true,
            },
        )
        .unwrap();
        format!(
            r#"{{"hash":"{}","event":{}}}"#,
            recorded.hash.as_str(),
            String::from_utf8(recorded.bytes).unwrap()
        )
    };
    let year_one = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single().unwrap();
    let floor = Utc
        .with_ymd_and_hms(1949, 9, 30, 16, 0, 0)
        .single()
        .unwrap();
    let just_before = floor - chrono::Duration::seconds(1);
    let future = Utc::now() + chrono::Duration::days(30);
    let file = dir.path().join("in.ndjson");
    let text = [
        line("year-one", year_one),
        line("just-before", just_before),
        line("floor", floor),
        line("future", future),
    ]
    .join("\n");
    std::fs::write(&file, text + "\n").unwrap();
    let db = dir.path().join("t.db");
    let (code, out) = import(&db, &file, &["--create-db"]);
    assert_eq!(code, 1, "{out}");
    for (case, line) in [("year-one", 1), ("just-before", 2), ("future", 4)] {
        assert!(
            out.contains(&format!(
                "case {case}: refused, nothing of it written: event 0 (line {line})"
            )),
            "{case}: {out}"
        );
    }
    assert!(out.contains("早于 1949-10-01T00:00:00+08:00"), "{out}");
    assert!(
        out.contains("0001-01-01T08:00:00+08:00"),
        "China time: {out}"
    );
    assert!(out.contains("in the future"), "{out}");
    assert!(out.contains("imported 1 case"), "{out}");
}

/// Whom an opening names is in the exported event, so an import records them as taking
/// part again (from the chain, not from the source's table), and the copy verifies.
#[actix_web::test]
async fn an_import_records_whom_the_openings_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    fill(&db, 1).await;
    {
        let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
        let at = Utc.with_ymd_and_hms(2025, 3, 3, 1, 0, 0).single().unwrap();
        cases::open_naming(&store, &rules(), &calendar(), "named-1", "village-9", at).await;
        store.close().await.unwrap();
    }
    let file = dir.path().join("a.ndjson");
    let (code, out) = export(&db, &file);
    assert_eq!(code, 0, "{out}");
    let copy = dir.path().join("b.db");
    let (code, out) = import(&copy, &file, &["--create-db"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = verify(&copy);
    assert_eq!(code, 0, "{out}");
    let store = SqliteStore::open(SqliteOptions {
        read_only: true,
        ..SqliteOptions::new(&copy)
    })
    .unwrap();
    let participants = store.participants().unwrap();
    assert_eq!(
        participants["named-1"]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["town", "village-9"]
    );
    assert_eq!(
        participants["case-0"]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["village"]
    );
}
