//! The deadline board over 100,000 cases (two deadlines each, one case in ten met late,
//! four procedures, every case with a participant): how long a first page of 50 takes for
//! the usual queries. Run with `cargo bench -p fazhi-store --bench board`; it prints its
//! figures (the median of 21 runs of each query).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::time::{Duration as Elapsed, Instant};

use chrono::{Duration, TimeZone, Utc};
use fazhi_store::{BoardStatus, DeadlineQuery, EventStore, Reader, SqliteOptions, SqliteStore};

const CASES: i64 = 100_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("board.db");
    // Create and migrate, then fill directly (the rows the appends would have written).
    drop(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap();
    let started = Instant::now();
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for i in 0..CASES {
            let id = format!("case-{i:06}");
            let procedure = format!("p{}", i % 4);
            tx.execute(
                "INSERT INTO cases (id, procedure, procedure_version, title, state, tracks, seq, head, opened_at, last_at, next_due, closed)
                 VALUES (?1, ?2, 1, ?3, 's', '{}', 1, 'h', 0, 0, NULL, 0)",
                rusqlite::params![id, procedure, format!("案件 {i}")],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO participants (actor, case_id) VALUES (?1, ?2)",
                rusqlite::params![format!("actor-{}", i % 1000), id],
            )
            .unwrap();
            for (rule, hours) in [("a", i % 8760), ("b", (i * 7) % 8760)] {
                let due = t0 + Duration::hours(hours);
                tx.execute(
                    "INSERT INTO deadlines (case_id, rule, procedure, late, due, last_day, working_days, optional, provisional, title, basis, roles)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0, '期限', '《行政处罚法》第四十四条', '[\"clerk\"]')",
                    rusqlite::params![
                        id,
                        rule,
                        procedure,
                        rule == "a" && i % 10 == 0,
                        due.timestamp_micros(),
                        due.date_naive().to_string()
                    ],
                )
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    println!(
        "filled {CASES} cases, {} deadlines, in {:.1?}",
        CASES * 2,
        started.elapsed()
    );
    let store = SqliteStore::open(SqliteOptions::new(&path)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let now = t0 + Duration::days(180);
    let all = |procedures: &[&str]| procedures.iter().map(|s| (*s).to_owned()).collect();
    let queries = [
        ("running, first page", DeadlineQuery::running(now, 50)),
        (
            "overdue, first page",
            DeadlineQuery {
                status: Some(BoardStatus::Overdue),
                ..DeadlineQuery::running(now, 50)
            },
        ),
        (
            "due within 7 days",
            DeadlineQuery {
                status: Some(BoardStatus::Pending),
                due_before: Some(now + Duration::days(7)),
                ..DeadlineQuery::running(now, 50)
            },
        ),
        (
            "late",
            DeadlineQuery {
                status: Some(BoardStatus::Late),
                ..DeadlineQuery::running(now, 50)
            },
        ),
        (
            "one procedure of four",
            DeadlineQuery {
                procedure: Some("p3".into()),
                ..DeadlineQuery::running(now, 50)
            },
        ),
        (
            "reader of two procedures whole",
            DeadlineQuery {
                reader: Some(Reader {
                    actor: "actor-1".into(),
                    all: all(&["p1", "p2"]),
                    own: Vec::new(),
                }),
                ..DeadlineQuery::running(now, 50)
            },
        ),
        (
            "party reading its own (100 cases)",
            DeadlineQuery {
                reader: Some(Reader {
                    actor: "actor-1".into(),
                    all: Vec::new(),
                    own: all(&["p0", "p1", "p2", "p3"]),
                }),
                ..DeadlineQuery::running(now, 50)
            },
        ),
    ];
    for (name, query) in queries {
        let mut times: Vec<Elapsed> = Vec::new();
        let mut rows = 0;
        for _ in 0..21 {
            let q = query.clone();
            let started = Instant::now();
            let page = rt.block_on(store.deadlines(q)).unwrap();
            times.push(started.elapsed());
            rows = page.deadlines.len();
        }
        times.sort();
        println!(
            "{name}: {rows} rows, median {:.2?} (min {:.2?}, max {:.2?})",
            times[10], times[0], times[20]
        );
    }
    // Walking the whole running board page by page.
    let started = Instant::now();
    let mut query = DeadlineQuery::running(now, 1000);
    let mut total = 0;
    loop {
        let page = rt.block_on(store.deadlines(query.clone())).unwrap();
        total += page.deadlines.len();
        match page.next {
            Some(n) => query.after = Some(n),
            None => break,
        }
    }
    println!(
        "the whole running board, pages of 1000: {total} rows in {:.1?}",
        started.elapsed()
    );
}
