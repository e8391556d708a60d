//! The PostgreSQL backend: the conformance suite, and what only several nodes can show.
//! A throw-away cluster is started once for this test binary (see `fazhi_store::test_pg`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use fazhi_core::runtime::GENESIS;
use fazhi_store::{
    AppendOutcome, CaseQuery, EventStore, IdempotencyRecord, PgOptions, PgStore, conformance,
    test_pg,
};

fn db() -> String {
    test_pg::database().unwrap_or_else(|e| panic!("{e}"))
}

fn open(url: &str) -> PgStore {
    PgStore::open(PgOptions::new(url)).unwrap()
}

/// A connection of the test's own to the database at `url` (for catalog queries, `ANALYZE`,
/// or a change made by hand).
async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    conformance::run_all(&|| open(&db())).await;
}

/// The same with two writers taking turns at the queue (two batches of one node in flight,
/// two transactions ordered by their claims in the database).
#[tokio::test]
async fn postgres_passes_the_conformance_suite_with_two_writers() {
    conformance::run_all(&|| {
        PgStore::open(PgOptions {
            writers: 2,
            ..PgOptions::new(db())
        })
        .unwrap()
    })
    .await;
}

fn record(key: &str, hash: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        principal: "alice".into(),
        key: key.into(),
        request_hash: hash.into(),
        case: "c1".into(),
        status: 201,
        headers: vec![],
        body: b"first".to_vec(),
    }
}

/// Two stores (two nodes) on one database: a stale `expected_seq` sent through either is a
/// conflict, however the appends race; an idempotency key used through both is written once.
#[tokio::test]
async fn two_nodes_share_one_database() {
    let url = db();
    let a = open(&url);
    let b = open(&url);
    let head = conformance::grow(&a, "c1", 2).await;
    // B never saw the case: its stale append is a conflict the database decides.
    assert_eq!(
        b.append(conformance::one("c1", 1, &head)).await.unwrap(),
        AppendOutcome::Conflict { current_seq: 2 }
    );
    assert_eq!(b.events("c1").await.unwrap().len(), 2);
    // Racing appends for the same seq through both nodes: one wins.
    let mut pending = Vec::new();
    for i in 0..16 {
        let node = if i % 2 == 0 { &a } else { &b };
        pending.push(node.append(conformance::one("c1", 2, &head)));
    }
    let mut won = 0;
    for p in pending {
        match p.await.unwrap() {
            AppendOutcome::Appended => won += 1,
            AppendOutcome::Conflict { current_seq } => assert_eq!(current_seq, 3),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    // The same idempotency key through both nodes at once: written once, the other replays.
    let head = a.summary("c1").await.unwrap().unwrap().head;
    let mut x = conformance::one("c1", 3, &head);
    x.idempotency = Some(record("k", "h"));
    let mut y = x.clone();
    y.idempotency = Some(record("k", "h2"));
    let (rx, ry) = tokio::join!(a.append(x), b.append(y));
    let outcomes = [rx.unwrap(), ry.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == AppendOutcome::Appended)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, AppendOutcome::Replay(_))),
        "{outcomes:?}"
    );
    assert_eq!(a.events("c1").await.unwrap().len(), 4);
    a.close().await.unwrap();
    b.close().await.unwrap();
}

/// Nodes starting together on an empty database migrate it once, without racing.
#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    let url = db();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::open(PgOptions::new(url)).map(|_| ()))
        })
        .collect();
    for t in opened {
        t.join().unwrap().unwrap();
    }
    let s = open(&url);
    assert_eq!(conformance::grow(&s, "c", 2).await.len(), 64);
}

/// An append updates its case's summary row in place (a HOT update, schema migration 4): no
/// index of `cases` reads a column the claim sets, and its pages leave room for the next
/// version of their rows. An index on `state` or `next_due` (as before migration 4) would make
/// every append write an entry in every index of `cases`, the costliest step of an append at
/// 100,000 cases.
#[tokio::test]
async fn an_append_updates_its_case_row_in_place() {
    let url = db();
    let s = open(&url);
    conformance::grow(&s, "c", 2).await;
    let client = connect(&url).await;
    // What the claim of `fazhi_write_batch` sets (see `MIGRATION_WRITE`).
    let set = [
        "procedure_version",
        "state",
        "tracks",
        "seq",
        "head",
        "last_at",
        "next_due",
        "closed",
        "board",
        "board_head",
    ];
    let rows = client
        .query(
            "SELECT i.relname::text, a.attname::text, pg_get_indexdef(x.indexrelid) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_attribute a ON a.attrelid = x.indrelid \
             WHERE x.indrelid = 'cases'::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             AND (a.attnum = ANY(x.indkey) \
                 OR pg_get_expr(x.indpred, x.indrelid) ~ ('\\m' || a.attname || '\\M'))",
            &[],
        )
        .await
        .unwrap();
    let indexed: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(
        indexed.iter().any(|(_, c, _)| c == "id"),
        "the primary key is found: {indexed:?}"
    );
    for (index, column, def) in &indexed {
        assert!(
            !set.contains(&column.as_str()),
            "{index} reads `{column}`, which every append sets: {def}"
        );
    }
    let options: Option<Vec<String>> = client
        .query_one(
            "SELECT reloptions FROM pg_class WHERE oid = 'cases'::regclass",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(options, Some(vec!["fillfactor=70".to_owned()]));
}

/// A server that cannot be reached: opening is a typed error, no panic.
#[test]
fn an_unreachable_server_is_an_error() {
    let e = PgStore::open(PgOptions {
        connect_timeout: std::time::Duration::from_secs(2),
        ..PgOptions::new("postgresql://nobody@%2Fnonexistent-dir/none")
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("nothing was written") || e.fault().is_some(),
        "{e}"
    );
}

/// Listings search an index in id order (no sort of every matching case), as on SQLite.
#[tokio::test]
async fn listings_use_an_index() {
    let url = db();
    let s = open(&url);
    let pending: Vec<_> = (0..3000)
        .map(|i| {
            let mut a = conformance::one(&format!("k{i:04}"), 0, GENESIS);
            a.summary.procedure = format!("p{}", i % 5);
            a.summary.state = format!("s{}", i % 7);
            s.append(a)
        })
        .collect();
    for p in pending {
        p.await.unwrap();
    }
    // Fresh statistics, as autovacuum would have.
    let client = connect(&url).await;
    client.batch_execute("ANALYZE").await.unwrap();
    let plan = |q: CaseQuery| fazhi_store::explain_pg_list(&s, q);
    for q in [
        CaseQuery::default(),
        CaseQuery {
            procedure: Some("p1".into()),
            ..CaseQuery::default()
        },
        CaseQuery {
            state: Some("s1".into()),
            ..CaseQuery::default()
        },
    ] {
        let p = plan(q.clone()).await.unwrap();
        assert!(p.contains("Index"), "{q:?}: {p}");
        assert!(!p.contains("Seq Scan"), "{q:?}: {p}");
    }
}

/// The deadline board searches its index `(late, due, case_id, rule)` in board order, for
/// every status and with filters, on 3,000 cases with two deadlines each.
#[tokio::test]
async fn the_board_uses_its_index() {
    use fazhi_store::{BoardStatus, DeadlineQuery};
    let url = db();
    let s = open(&url);
    let pending: Vec<_> = (0..3000)
        .map(|i| {
            let mut a = conformance::one(&format!("d{i:04}"), 0, GENESIS);
            a.summary.procedure = format!("p{}", i % 5);
            a.deadlines = vec![
                conformance::deadline("a", i64::from(i % 400), &["clerk"]),
                conformance::deadline("b", i64::from(i % 97), &["chief"]),
            ];
            s.append(a)
        })
        .collect();
    for p in pending {
        p.await.unwrap();
    }
    let client = connect(&url).await;
    client.batch_execute("ANALYZE").await.unwrap();
    let now = conformance::t0() + chrono::Duration::hours(200);
    let base = DeadlineQuery::running(now, 50);
    for q in [
        base.clone(),
        DeadlineQuery {
            status: Some(BoardStatus::Overdue),
            ..base.clone()
        },
        DeadlineQuery {
            status: Some(BoardStatus::Pending),
            due_before: Some(now + chrono::Duration::hours(24 * 7)),
            ..base.clone()
        },
        DeadlineQuery {
            status: Some(BoardStatus::Late),
            ..base.clone()
        },
        DeadlineQuery {
            procedure: Some("p1".into()),
            role: Some("clerk".into()),
            ..base.clone()
        },
    ] {
        let p = fazhi_store::explain_pg_board(&s, q.clone()).await.unwrap();
        assert!(p.contains("deadlines_board"), "{q:?}: {p}");
        assert!(!p.contains("Seq Scan on deadlines"), "{q:?}: {p}");
        assert!(!p.contains("Sort"), "{q:?}: {p}");
    }
    // And the rows come back in board order, page by page, every one of them.
    let all = conformance::board(&s, DeadlineQuery::running(now, 7)).await;
    assert_eq!(all.len(), 6000);
}

/// A writer whose connection was cut answers `NotWritten` (unavailable) at most once and
/// connects again; with its database gone, appends are `NotWritten` and reads errors, never
/// a panic or an acknowledgement.
#[tokio::test]
async fn a_lost_connection_is_not_written_and_the_writer_reconnects() {
    let url = db();
    let s = open(&url);
    let head = conformance::grow(&s, "c", 1).await;
    let (admin, conn) = tokio_postgres::connect(
        &test_pg::with_database(&url, "postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let name = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let cut =
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'");
    admin.batch_execute(&cut).await.unwrap();
    let mut unavailable = 0;
    loop {
        match s.append(conformance::one("c", 1, &head)).await {
            Ok(AppendOutcome::Appended) => break,
            Err(fazhi_store::StoreError::NotWritten { kind, .. }) => {
                assert_eq!(kind, fazhi_store::FaultKind::Unavailable);
                unavailable += 1;
                assert!(unavailable <= 2, "the writer does not reconnect");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(s.events("c").await.unwrap().len(), 2);
    // The database dropped under the store.
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    for _ in 0..3 {
        match s.append(conformance::one("c", 2, GENESIS)).await {
            Err(fazhi_store::StoreError::NotWritten { kind, .. }) => {
                assert_eq!(kind, fazhi_store::FaultKind::Unavailable);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(s.events("c").await.is_err());
    assert!(s.summary("c").await.is_err());
}

/// A batch goes to PostgreSQL as one call (a round per case or key met twice), and each
/// append is still answered for itself: appends to one case in a row all land, in order;
/// the second use of a key in the batch is a replay of the first; a stale one is a conflict
/// at the seq the earlier ones left; a value PostgreSQL refuses (a NUL in a text) fails that
/// append alone (the batch runs again one call per append to tell which) and the rest land.
#[tokio::test]
async fn a_batch_answers_each_append_for_itself() {
    // One writer: appends sent together are one batch or batches in a row (with two, a
    // batch split in two would run its halves side by side, as two nodes would).
    let store = PgStore::open(PgOptions {
        writers: 1,
        ..PgOptions::new(db())
    })
    .unwrap();
    let first = conformance::one("chain", 0, GENESIS);
    let second = conformance::one("chain", 1, &first.events[0].hash);
    let third = conformance::one("chain", 2, &second.events[0].hash);
    let mut keyed_a = conformance::one("ka", 0, GENESIS);
    keyed_a.idempotency = Some(record("same", "h1"));
    let mut keyed_b = conformance::one("kb", 0, GENESIS);
    keyed_b.idempotency = Some(record("same", "h2"));
    let stale = conformance::one("chain", 0, GENESIS);
    let mut refused = conformance::one("nul", 0, GENESIS);
    refused.summary.title = "含\0字".into();
    // Sent before any is awaited: they queue up for the writer together.
    let pending: Vec<_> = [first, second, third, keyed_a, keyed_b, stale, refused]
        .into_iter()
        .chain((0..20).map(|i| conformance::one(&format!("p{i}"), 0, GENESIS)))
        .map(|a| store.append(a))
        .collect();
    let mut answers = Vec::new();
    for p in pending {
        answers.push(p.await);
    }
    for (i, a) in answers.iter().enumerate().take(4) {
        assert_eq!(a.as_ref().unwrap(), &AppendOutcome::Appended, "append {i}");
    }
    assert_eq!(
        answers[4].as_ref().unwrap(),
        &AppendOutcome::Replay(record("same", "h1"))
    );
    assert_eq!(
        answers[5].as_ref().unwrap(),
        &AppendOutcome::Conflict { current_seq: 3 }
    );
    assert!(answers[6].is_err(), "{:?}", answers[6]);
    // Only the batch holding the refused value ran again one call per append.
    assert_eq!(store.fallbacks(), 1);
    for (i, a) in answers.iter().enumerate().skip(7) {
        assert_eq!(a.as_ref().unwrap(), &AppendOutcome::Appended, "append {i}");
    }
    let chain = store.events("chain").await.unwrap();
    assert_eq!(chain.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(store.summary("chain").await.unwrap().unwrap().seq, 3);
    assert!(store.events("kb").await.unwrap().is_empty());
    assert!(store.summary("kb").await.unwrap().is_none());
    assert!(store.summary("nul").await.unwrap().is_none());
    assert_eq!(
        store.idempotency("alice", "same").await.unwrap(),
        Some(record("same", "h1"))
    );
    for i in 0..20 {
        assert_eq!(store.events(&format!("p{i}")).await.unwrap().len(), 1);
    }
    store.close().await.unwrap();
}

/// Batches of every ordinary kind are written by one `fazhi_write_batch` call each, never by
/// the one-call-per-append fallback (which would hide a fault of the batch function behind
/// answers that are still right): new cases with deadlines and keys, next appends that
/// change, keep or drop deadlines, a migration event, a stale append, a replayed key.
#[tokio::test]
async fn ordinary_batches_never_fall_back() {
    let store = PgStore::open(PgOptions {
        writers: 1,
        ..PgOptions::new(db())
    })
    .unwrap();
    let opened: Vec<_> = (0..20)
        .map(|i| {
            let mut a = conformance::one(&format!("o{i}"), 0, GENESIS);
            a.deadlines = vec![
                conformance::deadline("x", i, &["clerk"]),
                conformance::deadline("y", 2 * i, &["chief"]),
            ];
            if i % 2 == 0 {
                a.idempotency = Some(record(&format!("k{i}"), "h"));
            }
            a
        })
        .collect();
    let heads: Vec<String> = opened.iter().map(|a| a.events[0].hash.clone()).collect();
    let pending: Vec<_> = opened.into_iter().map(|a| store.append(a)).collect();
    for p in pending {
        assert_eq!(p.await.unwrap(), AppendOutcome::Appended);
    }
    let next: Vec<_> = (0..20)
        .map(|i| {
            let mut a = conformance::one(&format!("o{i}"), 1, &heads[i as usize]);
            a.deadlines = match i % 3 {
                0 => vec![
                    conformance::deadline("x", i, &["clerk"]),
                    conformance::deadline("y", 2 * i, &["chief"]),
                ],
                1 => vec![conformance::deadline("x", i + 1, &["clerk"])],
                _ => Vec::new(),
            };
            if i == 5 {
                a.events[0].action = None;
                a.events[0].procedure_version = 2;
                a.summary.procedure_version = 2;
            }
            a
        })
        .chain([conformance::one("o0", 0, GENESIS), {
            let mut again = conformance::one("fresh", 0, GENESIS);
            again.idempotency = Some(record("k2", "h"));
            again
        }])
        .map(|a| store.append(a))
        .collect();
    let mut answers = Vec::new();
    for p in next {
        answers.push(p.await.unwrap());
    }
    for (i, a) in answers.iter().enumerate().take(20) {
        assert_eq!(a, &AppendOutcome::Appended, "append {i}");
    }
    assert_eq!(answers[20], AppendOutcome::Conflict { current_seq: 2 });
    assert!(
        matches!(answers[21], AppendOutcome::Replay(_)),
        "{:?}",
        answers[21]
    );
    assert_eq!(
        store
            .summary("o5")
            .await
            .unwrap()
            .unwrap()
            .procedure_version,
        2
    );
    assert_eq!(
        store
            .summary("o4")
            .await
            .unwrap()
            .unwrap()
            .procedure_version,
        1
    );
    assert_eq!(
        store.fallbacks(),
        0,
        "a batch fell back to one call per append"
    );
    store.close().await.unwrap();
}

/// The board's rows are kept as they are only while the digest stored with them was stored
/// at the case's head: rows rewritten by a function that keeps no digest (a node of the
/// release before, or the one-call-per-append fallback; here the same change made by hand)
/// are rewritten again by the next append even when it sends the rows the digest is of.
#[tokio::test]
async fn board_rows_written_elsewhere_are_rewritten() {
    let url = db();
    let store = open(&url);
    let rows = vec![conformance::deadline("x", 5, &["clerk"])];
    let mut first = conformance::one("elsewhere", 0, GENESIS);
    first.deadlines = rows.clone();
    let head = first.events[0].hash.clone();
    assert_eq!(store.append(first).await.unwrap(), AppendOutcome::Appended);
    let board = |store: &PgStore| {
        store.deadlines(fazhi_store::DeadlineQuery {
            procedure: Some("p".into()),
            ..fazhi_store::DeadlineQuery::running(conformance::t0(), 10)
        })
    };
    let page = board(&store).await.unwrap();
    assert_eq!(page.deadlines.len(), 1);
    // Another writer moves the head and takes the rows away, leaving the digest.
    let client = connect(&url).await;
    client
        .batch_execute(
            "UPDATE cases SET head = 'moved by another writer' WHERE id = 'elsewhere';
             DELETE FROM deadlines WHERE case_id = 'elsewhere';",
        )
        .await
        .unwrap();
    assert!(board(&store).await.unwrap().deadlines.is_empty());
    // The same rows again: written, since the digest is not of the head the case is at.
    let mut next = conformance::one("elsewhere", 1, &head);
    next.deadlines = rows;
    assert_eq!(store.append(next).await.unwrap(), AppendOutcome::Appended);
    let page = board(&store).await.unwrap();
    assert_eq!(page.deadlines.len(), 1, "{page:?}");
    assert_eq!(store.fallbacks(), 0);
    store.close().await.unwrap();
}
