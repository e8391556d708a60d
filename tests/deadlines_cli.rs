#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! `fazhi deadlines`: the morning check over a database, Chinese first, China time.

#[path = "support/cases.rs"]
mod cases;

use cases::{calendars_dir, fazhi, rules, rules_dir};
use chrono::{Duration, Utc};
use fazhi_core::runtime::{Actor, Case, Opening};
use fazhi_store::{Append, AppendOutcome, EventStore, NewEvent, SqliteOptions, SqliteStore};

/// Opens a filing adopted `ago` days before today (due 10 days after).
async fn open(store: &SqliteStore, id: &str, ago: i64) {
    let (rules, calendar) = (rules(), cases::calendar());
    let p = rules.get("village-rules-filing", None).unwrap();
    let now = Utc::now();
    let adopted = ((now + Duration::hours(8)).date_naive() - Duration::days(ago)).to_string();
    let (case, opened) = Case::open_recorded(
        p,
        Opening {
            case: id.to_owned(),
            title: format!("村规民约 {id}"),
            actor: Actor::new("village", ["village"]),
            at: now,
            facts: serde_json::json!({"adopted_on": adopted}),
            imported: false,
        },
    )
    .unwrap();
    let summary = fazhi_http::service::summary_at(&case, now, &calendar);
    let outcome = store
        .append(Append {
            case: id.to_owned(),
            expected_seq: 0,
            events: vec![NewEvent::from_recorded(&opened, 1)],
            summary,
            deadlines: fazhi_http::deadlines::board_at(&case, now, &calendar),
            idempotency: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, AppendOutcome::Appended);
}

fn run(db: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let (rules, calendars) = (rules_dir(), calendars_dir());
    let mut args = vec![
        "deadlines",
        "--db",
        db.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--calendars",
        calendars.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    fazhi(&args)
}

#[actix_web::test]
async fn the_morning_check_lists_what_is_overdue_and_due_within_the_span() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fazhi.db");
    let store = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
    open(&store, "overdue", 30).await;
    open(&store, "soon", 5).await;
    open(&store, "later", 0).await;
    store.close().await.unwrap();
    drop(store);

    let (code, out) = run(&db, &["--within", "7d"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("共 2 项"), "{out}");
    assert!(out.contains("村规民约 overdue（overdue）"), "{out}");
    assert!(out.contains("村规民约 soon（soon）"), "{out}");
    assert!(!out.contains("later"), "{out}");
    assert!(
        out.contains("已逾期") && out.contains("期间进行中"),
        "{out}"
    );
    assert!(out.contains("通过之日起十日内报送备案"), "{out}");
    assert!(
        out.contains("《宁波市法治乡村建设促进条例》第十四条第三项"),
        "{out}"
    );
    assert!(
        out.contains("村规民约备案审查") && out.contains("村民委员会"),
        "{out}"
    );
    assert!(out.contains("+08:00"), "{out}");
    // The overdue one first (by due time).
    assert!(
        out.find("overdue）").unwrap() < out.find("soon）").unwrap(),
        "{out}"
    );

    let (code, out) = run(&db, &["--status", "overdue", "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let body: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = body["deadlines"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(rows[0]["case"], "overdue");
    assert_eq!(rows[0]["status"], "overdue");
    assert!(rows[0]["days_overdue"].as_i64().unwrap() >= 1, "{out}");

    let (code, out) = run(&db, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("共 3 项"), "{out}");

    let (code, out) = run(&db, &["--within", "soon"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("须为") && out.contains("must be"), "{out}");
    let (code, out) = run(&dir.path().join("none.db"), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("none.db") && out.contains("--db"), "{out}");
}
