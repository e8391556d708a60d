//! The conformance suite every [`EventStore`] backend passes.
//!
//! Call [`run_all`] from a test with a factory that gives a fresh, empty store each time:
//!
//! ```no_run
//! # async fn t() {
//! use fazhi_store::{SqliteOptions, SqliteStore, conformance};
//! let dir = std::env::temp_dir();
//! let n = std::sync::atomic::AtomicUsize::new(0);
//! conformance::run_all(&|| {
//!     let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!     SqliteStore::open(SqliteOptions::new(dir.join(format!("c{i}.db")))).unwrap()
//! })
//! .await;
//! # }
//! ```
//!
//! The checks panic (with `assert!`) on the first failure, as tests do.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test suite: failing loudly is its job"
)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fazhi_core::runtime::{GENESIS, sha256_hex};

use crate::{
    Append, AppendOutcome, BoardDeadline, BoardStatus, CaseQuery, CaseSummary, DeadlineQuery,
    EventStore, IdempotencyRecord, NewEvent, Reader,
};

/// The time of the suite's first event: made-up deadlines are due hours after it.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 1, 0, 0).single().unwrap()
}

/// A made-up event: the store treats the bytes as opaque.
pub fn event(case: &str, seq: u64, prev_hash: &str) -> NewEvent {
    let bytes = format!(r#"{{"case":"{case}","seq":{seq},"prev_hash":"{prev_hash}","x":"测试"}}"#)
        .into_bytes();
    NewEvent {
        seq,
        action: (seq > 0).then(|| "act".to_owned()),
        actor: "clerk".into(),
        roles: vec!["clerk".into()],
        named: Vec::new(),
        at: t0() + Duration::minutes(i64::try_from(seq).unwrap()),
        imported: false,
        procedure_version: 1,
        prev_hash: prev_hash.to_owned(),
        hash: sha256_hex(&bytes),
        bytes,
    }
}

/// A summary for a case after `seq` events.
pub fn summary(case: &str, procedure: &str, state: &str, seq: u64, head: &str) -> CaseSummary {
    CaseSummary {
        id: case.to_owned(),
        procedure: procedure.to_owned(),
        procedure_version: 1,
        title: format!("案件 {case}"),
        state: state.to_owned(),
        tracks: BTreeMap::from([("t".to_owned(), "open".to_owned())]),
        seq,
        head: head.to_owned(),
        opened_at: t0(),
        last_at: t0() + Duration::minutes(i64::try_from(seq).unwrap()),
        next_due: None,
        closed: false,
    }
}

/// An append of one made-up event after `seq` events whose last hashes to `prev`.
pub fn one(case: &str, seq: u64, prev: &str) -> Append {
    let e = event(case, seq, prev);
    let head = e.hash.clone();
    Append {
        case: case.to_owned(),
        expected_seq: seq,
        events: vec![e],
        summary: summary(case, "p", "s", seq + 1, &head),
        deadlines: Vec::new(),
        idempotency: None,
    }
}

/// A made-up deadline of time rule `rule`, due `hours` after the suite's first event,
/// that `roles` may act on.
pub fn deadline(rule: &str, hours: i64, roles: &[&str]) -> BoardDeadline {
    let due = t0() + Duration::hours(hours);
    BoardDeadline {
        rule: rule.to_owned(),
        title: format!("期限 {rule}"),
        basis: Some("《行政处罚法》第四十四条".to_owned()),
        due,
        last_day: (due - Duration::microseconds(1)).date_naive(),
        working_days: false,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        optional: false,
        late: false,
        provisional: false,
    }
}

/// Every row of the board for `query`, read page by page (`limit` at a time), as
/// (case, rule, status).
pub async fn board<S: EventStore>(
    store: &S,
    query: DeadlineQuery,
) -> Vec<(String, String, BoardStatus)> {
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let page = store
            .deadlines(DeadlineQuery {
                after: after.clone(),
                ..query.clone()
            })
            .await
            .unwrap();
        assert!(page.deadlines.len() <= query.limit.max(1) as usize);
        seen.extend(
            page.deadlines
                .iter()
                .map(|r| (r.case.clone(), r.deadline.rule.clone(), r.status)),
        );
        match page.next {
            Some(n) => after = Some(n),
            None => return seen,
        }
    }
    panic!("the board's pages do not end");
}

/// Opens a case with `n` events and returns the hash of its last one.
pub async fn grow<S: EventStore>(store: &S, case: &str, n: u64) -> String {
    let mut prev = GENESIS.to_owned();
    for seq in 0..n {
        let a = one(case, seq, &prev);
        prev = a.events[0].hash.clone();
        assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
    }
    prev
}

/// Appended events read back byte for byte, in order, with their hashes and summary.
pub async fn append_and_read_back<S: EventStore>(store: S) {
    let head = grow(&store, "c1", 3).await;
    let events = store.events("c1").await.unwrap();
    assert_eq!(events.len(), 3);
    let mut prev = GENESIS.to_owned();
    for (i, e) in events.iter().enumerate() {
        let want = event("c1", i as u64, &prev);
        assert_eq!(e.seq, i as u64);
        assert_eq!(e.bytes, want.bytes);
        assert_eq!(e.hash, want.hash);
        prev = e.hash.clone();
    }
    let s = store.summary("c1").await.unwrap().unwrap();
    assert_eq!(s.seq, 3);
    assert_eq!(s.head, head);
    assert_eq!(s.tracks.get("t").map(String::as_str), Some("open"));
    assert!(store.events("nope").await.unwrap().is_empty());
    assert!(store.summary("nope").await.unwrap().is_none());
    store.close().await.unwrap();
}

/// A stale `expected_seq` is a conflict naming the current count, and writes nothing.
pub async fn stale_expected_seq_conflicts<S: EventStore>(store: S) {
    let head = grow(&store, "c1", 2).await;
    let stale = one("c1", 1, &head);
    assert_eq!(
        store.append(stale).await.unwrap(),
        AppendOutcome::Conflict { current_seq: 2 }
    );
    let ahead = one("c1", 5, &head);
    assert_eq!(
        store.append(ahead).await.unwrap(),
        AppendOutcome::Conflict { current_seq: 2 }
    );
    // Opening a case that exists is a conflict too.
    assert_eq!(
        store.append(one("c1", 0, GENESIS)).await.unwrap(),
        AppendOutcome::Conflict { current_seq: 2 }
    );
    assert_eq!(store.events("c1").await.unwrap().len(), 2);
    assert_eq!(store.summary("c1").await.unwrap().unwrap().seq, 2);
    store.close().await.unwrap();
}

/// Appends issued together for the same `expected_seq`: exactly one wins.
pub async fn one_winner_among_racers<S: EventStore>(store: S) {
    let head = grow(&store, "c1", 1).await;
    let pending: Vec<_> = (0..16).map(|_| store.append(one("c1", 1, &head))).collect();
    let mut won = 0;
    for p in pending {
        match p.await.unwrap() {
            AppendOutcome::Appended => won += 1,
            AppendOutcome::Conflict { current_seq } => assert_eq!(current_seq, 2),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.events("c1").await.unwrap().len(), 2);
    store.close().await.unwrap();
}

fn record(key: &str, hash: &str, case: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        principal: "alice".into(),
        key: key.into(),
        request_hash: hash.into(),
        case: case.into(),
        status: 201,
        headers: vec![("Location".into(), format!("/v1/cases/{case}"))],
        body: br#"{"ok":true}"#.to_vec(),
    }
}

/// An idempotency key is kept with the first answer; reusing it writes nothing and replays.
pub async fn idempotency_keys_replay<S: EventStore>(store: S) {
    let mut first = one("c1", 0, GENESIS);
    first.idempotency = Some(record("k1", "h1", "c1"));
    assert_eq!(store.append(first).await.unwrap(), AppendOutcome::Appended);
    let kept = store.idempotency("alice", "k1").await.unwrap().unwrap();
    assert_eq!(kept, record("k1", "h1", "c1"));
    // The same key again (even with another body): nothing written, the record comes back.
    let head = store.summary("c1").await.unwrap().unwrap().head;
    let mut again = one("c1", 1, &head);
    again.idempotency = Some(record("k1", "h2", "c1"));
    assert_eq!(
        store.append(again).await.unwrap(),
        AppendOutcome::Replay(record("k1", "h1", "c1"))
    );
    assert_eq!(store.events("c1").await.unwrap().len(), 1);
    // Keys are per principal.
    assert!(store.idempotency("bob", "k1").await.unwrap().is_none());
    // A conflicting append does not consume its key.
    let mut stale = one("c1", 0, GENESIS);
    stale.idempotency = Some(record("k2", "h", "c1"));
    assert!(matches!(
        store.append(stale).await.unwrap(),
        AppendOutcome::Conflict { .. }
    ));
    assert!(store.idempotency("alice", "k2").await.unwrap().is_none());
    store.close().await.unwrap();
}

/// A malformed append is an error and writes nothing; the others of its batch still land.
pub async fn invalid_append_is_isolated<S: EventStore>(store: S) {
    let good = store.append(one("a", 0, GENESIS));
    let mut bad = one("b", 0, GENESIS);
    bad.events[0].seq = 7;
    let bad = store.append(bad);
    let mut no_events = one("d", 0, GENESIS);
    no_events.events.clear();
    let no_events = store.append(no_events);
    assert_eq!(good.await.unwrap(), AppendOutcome::Appended);
    assert!(bad.await.is_err());
    assert!(no_events.await.is_err());
    assert!(store.summary("b").await.unwrap().is_none());
    assert!(store.events("b").await.unwrap().is_empty());
    assert_eq!(store.events("a").await.unwrap().len(), 1);
    store.close().await.unwrap();
}

/// Many cases opened at once all land; listing pages through them in a stable order, and
/// filters by procedure, state and overdue deadlines.
pub async fn list_pages_and_filters<S: EventStore>(store: S) {
    let pending: Vec<_> = (0..150)
        .map(|i| {
            let case = format!("case-{i:04}");
            let mut a = one(&case, 0, GENESIS);
            a.summary.procedure = if i % 3 == 0 { "p3" } else { "p" }.into();
            a.summary.state = if i % 2 == 0 { "even" } else { "odd" }.into();
            if i % 5 == 0 {
                a.summary.next_due = Some(t0() + Duration::days(i));
            }
            if i == 10 {
                a.summary.closed = true;
            }
            store.append(a)
        })
        .collect();
    for p in pending {
        assert_eq!(p.await.unwrap(), AppendOutcome::Appended);
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(CaseQuery {
                limit: 40,
                after: after.clone(),
                ..CaseQuery::default()
            })
            .await
            .unwrap();
        assert!(page.cases.len() <= 40);
        seen.extend(page.cases.iter().map(|c| c.id.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let want: Vec<String> = (0..150).map(|i| format!("case-{i:04}")).collect();
    assert_eq!(seen, want);
    let q = |procedure: Option<&str>, state: Option<&str>, overdue: Option<DateTime<Utc>>| {
        store.list(CaseQuery {
            procedure: procedure.map(str::to_owned),
            state: state.map(str::to_owned),
            overdue_at: overdue,
            limit: 1000,
            after: None,
            reader: None,
        })
    };
    assert_eq!(q(Some("p3"), None, None).await.unwrap().cases.len(), 50);
    assert_eq!(
        q(Some("p3"), Some("even"), None).await.unwrap().cases.len(),
        25
    );
    assert_eq!(q(None, Some("odd"), None).await.unwrap().cases.len(), 75);
    // Due on or before day 20: cases 0, 5, 10 (closed), 15, 20.
    let overdue = q(None, None, Some(t0() + Duration::days(20)))
        .await
        .unwrap();
    let ids: Vec<&str> = overdue.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["case-0000", "case-0005", "case-0015", "case-0020"]);
    assert!(overdue.next.is_none());
    store.close().await.unwrap();
}

/// A reader lists every case of the procedures it reads whole and, of those it reads its
/// own, the cases its actor opened, was named in by the opening, or recorded an event in; paging stays right, and
/// [`EventStore::takes_part`] agrees.
pub async fn readers_list_what_they_may_read<S: EventStore>(store: S) {
    // Cases 0..12: procedure "p" when even, "q" when odd; opened by "clerk", and every
    // third one acted on by "visitor" too.
    for i in 0..12u64 {
        let case = format!("r-{i:02}");
        let procedure = if i % 2 == 0 { "p" } else { "q" };
        let mut a = one(&case, 0, GENESIS);
        a.summary.procedure = procedure.to_owned();
        if i == 4 {
            // Named by the opening (twice, and its actor too): a participant all the same.
            a.events[0].named = vec!["guest".into(), "guest".into(), "clerk".into()];
        }
        let prev = a.events[0].hash.clone();
        assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
        if i % 3 == 0 {
            let mut b = one(&case, 1, &prev);
            b.events[0].actor = "visitor".into();
            b.summary.procedure = procedure.to_owned();
            assert_eq!(store.append(b).await.unwrap(), AppendOutcome::Appended);
        }
    }
    let list = |actor: &str, all: &[&str], own: &[&str], procedure: Option<&str>, limit: u32| {
        let reader = crate::Reader {
            actor: actor.to_owned(),
            all: all.iter().map(|s| (*s).to_owned()).collect(),
            own: own.iter().map(|s| (*s).to_owned()).collect(),
        };
        let store = &store;
        let procedure = procedure.map(str::to_owned);
        async move {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .list(CaseQuery {
                        procedure: procedure.clone(),
                        limit,
                        after: after.clone(),
                        reader: Some(reader.clone()),
                        ..CaseQuery::default()
                    })
                    .await
                    .unwrap();
                assert!(page.cases.len() <= limit as usize);
                seen.extend(page.cases.iter().map(|c| c.id.clone()));
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            seen
        }
    };
    let ids = |of: &[u64]| -> Vec<String> { of.iter().map(|i| format!("r-{i:02}")).collect() };
    // The visitor reads its own: cases 0, 3, 6, 9.
    assert_eq!(
        list("visitor", &[], &["p", "q"], None, 2).await,
        ids(&[0, 3, 6, 9])
    );
    assert_eq!(list("visitor", &[], &["q"], None, 1).await, ids(&[3, 9]));
    assert_eq!(
        list("visitor", &[], &["p", "q"], Some("p"), 1).await,
        ids(&[0, 6])
    );
    // A procedure it does not read is empty, even when asked for by name.
    assert!(list("visitor", &[], &["q"], Some("p"), 5).await.is_empty());
    assert!(list("visitor", &[], &[], None, 5).await.is_empty());
    // All of "p", its own of "q".
    assert_eq!(
        list("visitor", &["p"], &["q"], None, 3).await,
        ids(&[0, 2, 3, 4, 6, 8, 9, 10])
    );
    assert_eq!(
        list("clerk", &["q"], &[], None, 4).await,
        ids(&[1, 3, 5, 7, 9, 11])
    );
    assert_eq!(list("nobody", &[], &["p", "q"], None, 4).await, ids(&[]));
    // Named by an opening without acting: it reads that case only.
    assert_eq!(list("guest", &[], &["p", "q"], None, 1).await, ids(&[4]));
    assert!(store.takes_part("r-04", "guest").await.unwrap());
    assert!(!store.takes_part("r-03", "guest").await.unwrap());
    assert!(store.takes_part("r-03", "visitor").await.unwrap());
    assert!(store.takes_part("r-04", "clerk").await.unwrap());
    assert!(!store.takes_part("r-04", "visitor").await.unwrap());
    assert!(!store.takes_part("none", "clerk").await.unwrap());
    store.close().await.unwrap();
}

/// The summary row follows every append, whatever it changes: the state or not, the due
/// time, closing; listings by state and by overdue deadline agree with it after each.
pub async fn summary_follows_each_change<S: EventStore>(store: S) {
    let due = t0() + Duration::days(3);
    let later = t0() + Duration::days(30);
    // (state, next due, closed) after each append of case "c".
    let steps = [
        ("open", None, false),
        ("open", None, false),
        ("open", Some(due), false),
        ("review", Some(due), false),
        ("review", Some(due), false),
        ("review", None, false),
        ("review", Some(due), false),
        ("done", Some(due), true),
        ("done", None, true),
    ];
    let mut prev = GENESIS.to_owned();
    for (seq, (state, next_due, closed)) in steps.iter().enumerate() {
        let seq = seq as u64;
        let mut a = one("c", seq, &prev);
        a.summary.state = (*state).to_owned();
        a.summary.next_due = *next_due;
        a.summary.closed = *closed;
        a.summary.tracks = BTreeMap::from([("t".to_owned(), format!("step {seq}"))]);
        prev = a.events[0].hash.clone();
        assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
        let s = store.summary("c").await.unwrap().unwrap();
        assert_eq!(
            (
                s.seq,
                s.state.as_str(),
                s.next_due,
                s.closed,
                s.head.as_str()
            ),
            (seq + 1, *state, *next_due, *closed, prev.as_str()),
            "after event {seq}"
        );
        assert_eq!(s.tracks.get("t"), Some(&format!("step {seq}")));
        for other in ["open", "review", "done"] {
            let listed = store
                .list(CaseQuery {
                    state: Some(other.to_owned()),
                    ..CaseQuery::default()
                })
                .await
                .unwrap();
            assert_eq!(
                listed.cases.len(),
                usize::from(other == *state),
                "{other} after {seq}"
            );
        }
        let overdue = store
            .list(CaseQuery {
                overdue_at: Some(later),
                ..CaseQuery::default()
            })
            .await
            .unwrap();
        let want = usize::from(next_due.is_some() && !closed);
        assert_eq!(overdue.cases.len(), want, "overdue after {seq}");
    }
    assert_eq!(store.events("c").await.unwrap().len(), steps.len());
    store.close().await.unwrap();
}

/// A migration event (after the opening, no action) moves its case onto the version its
/// append's summary names; an action's append does not change the version.
pub async fn a_migration_moves_the_version<S: EventStore>(store: S) {
    let head = grow(&store, "m", 2).await;
    let mut moved = one("m", 2, &head);
    moved.events[0].action = None;
    moved.events[0].procedure_version = 2;
    moved.summary.procedure_version = 2;
    let head = moved.events[0].hash.clone();
    assert_eq!(store.append(moved).await.unwrap(), AppendOutcome::Appended);
    let s = store.summary("m").await.unwrap().unwrap();
    assert_eq!((s.seq, s.procedure_version), (3, 2));
    let mut next = one("m", 3, &head);
    next.events[0].procedure_version = 2;
    next.summary.procedure_version = 2;
    assert_eq!(store.append(next).await.unwrap(), AppendOutcome::Appended);
    let listed = store.list(CaseQuery::default()).await.unwrap();
    let m = listed.cases.iter().find(|c| c.id == "m").unwrap();
    assert_eq!((m.seq, m.procedure_version), (4, 2));
    // A plain action naming another version in its summary moves nothing.
    let unmoved = grow(&store, "u", 2).await;
    let mut a = one("u", 2, &unmoved);
    a.summary.procedure_version = 7;
    assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
    assert_eq!(
        store.summary("u").await.unwrap().unwrap().procedure_version,
        1
    );
    store.close().await.unwrap();
}

/// Closing commits what was sent before it; later appends are refused.
pub async fn close_commits_pending<S: EventStore>(store: S) {
    let pending: Vec<_> = (0..50)
        .map(|i| store.append(one(&format!("c{i}"), 0, GENESIS)))
        .collect();
    store.close().await.unwrap();
    for p in pending {
        assert_eq!(p.await.unwrap(), AppendOutcome::Appended);
    }
    assert!(store.append(one("late", 0, GENESIS)).await.is_err());
}

/// Runs every check, each on a fresh store from `factory`.
pub async fn run_all<S: EventStore>(factory: &dyn Fn() -> S) {
    append_and_read_back(factory()).await;
    stale_expected_seq_conflicts(factory()).await;
    one_winner_among_racers(factory()).await;
    idempotency_keys_replay(factory()).await;
    invalid_append_is_isolated(factory()).await;
    list_pages_and_filters(factory()).await;
    summary_follows_each_change(factory()).await;
    a_migration_moves_the_version(factory()).await;
    readers_list_what_they_may_read(factory()).await;
    close_commits_pending(factory()).await;
    deadline_board_filters_and_pages(factory()).await;
    deadline_board_follows_appends(factory()).await;
    deadline_board_sees_each_value_change(factory()).await;
    deadline_board_reads_what_readers_may_read(factory()).await;
}

/// The board lists each kept deadline once, sorted by due time, then case id, then time
/// rule, the same whatever the page size; at `now` one still to be met is overdue when due
/// at or before it and pending after, one met late is late; an optional one past due has
/// lapsed and is not listed; due bounds are strict; procedure and role filter.
pub async fn deadline_board_filters_and_pages<S: EventStore>(store: S) {
    // Case b-i of procedure p (even) or q (odd); two deadlines each: `a` due at hour 10·i,
    // for the clerk; `b` due at hour 10·(i mod 3), for the chief. Case b-1's `b` is
    // optional, case b-2's `a` was met late.
    for i in 0..6i64 {
        let case = format!("b-{i}");
        let mut a = one(&case, 0, GENESIS);
        a.summary.procedure = if i % 2 == 0 { "p" } else { "q" }.to_owned();
        let mut da = deadline("a", 10 * i, &["clerk"]);
        let mut db = deadline("b", 10 * (i % 3), &["chief", "clerk2"]);
        db.optional = i == 1;
        da.late = i == 2;
        a.deadlines = vec![db, da];
        assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
    }
    let at = |h: i64| t0() + Duration::hours(h);
    let row = |i: i64, r: &str, s: BoardStatus| (format!("b-{i}"), r.to_owned(), s);
    use BoardStatus::{Late, Overdue, Pending};
    // At hour 15: due at or before it is overdue (b-1's optional `b`, due at 10, lapsed).
    let running = DeadlineQuery::running(at(15), 1000);
    let everything = vec![
        row(0, "a", Overdue),
        row(0, "b", Overdue),
        row(3, "b", Overdue),
        row(1, "a", Overdue),
        row(4, "b", Overdue),
        row(2, "b", Pending),
        row(5, "b", Pending),
        row(3, "a", Pending),
        row(4, "a", Pending),
        row(5, "a", Pending),
    ];
    assert_eq!(board(&store, running.clone()).await, everything);
    for limit in [1, 2, 4] {
        assert_eq!(
            board(
                &store,
                DeadlineQuery {
                    limit,
                    ..running.clone()
                }
            )
            .await,
            everything,
            "pages of {limit}"
        );
    }
    // Exactly at its due time a deadline is overdue, and an optional one lapsed; before,
    // the optional one is pending.
    let at_10 = board(&store, DeadlineQuery::running(at(10), 3)).await;
    assert_eq!(at_10[3], row(1, "a", Overdue));
    assert_eq!(at_10[4], row(4, "b", Overdue));
    let at_9 = board(&store, DeadlineQuery::running(at(9), 3)).await;
    assert_eq!(at_9[4], row(1, "b", Pending));
    let only = |status| DeadlineQuery {
        status: Some(status),
        ..running.clone()
    };
    assert_eq!(board(&store, only(Overdue)).await, everything[..5].to_vec());
    assert_eq!(board(&store, only(Pending)).await, everything[5..].to_vec());
    assert_eq!(board(&store, only(Late)).await, vec![row(2, "a", Late)]);
    // Strict due bounds: after 10 and before 40 leaves the due times 20 and 30.
    let bounded = DeadlineQuery {
        due_after: Some(at(10)),
        due_before: Some(at(40)),
        ..running.clone()
    };
    assert_eq!(
        board(&store, bounded).await,
        vec![
            row(2, "b", Pending),
            row(5, "b", Pending),
            row(3, "a", Pending)
        ]
    );
    // By procedure and by role.
    let of_q = DeadlineQuery {
        procedure: Some("q".into()),
        limit: 2,
        ..running.clone()
    };
    assert_eq!(
        board(&store, of_q).await,
        vec![
            row(3, "b", Overdue),
            row(1, "a", Overdue),
            row(5, "b", Pending),
            row(3, "a", Pending),
            row(5, "a", Pending)
        ]
    );
    let chief = DeadlineQuery {
        role: Some("chief".into()),
        ..running.clone()
    };
    assert_eq!(
        board(&store, chief).await,
        vec![
            row(0, "b", Overdue),
            row(3, "b", Overdue),
            row(4, "b", Overdue),
            row(2, "b", Pending),
            row(5, "b", Pending)
        ]
    );
    // What a row carries.
    let page = store
        .deadlines(DeadlineQuery::running(at(15), 1))
        .await
        .unwrap();
    let first = &page.deadlines[0];
    assert_eq!(first.case_title, "案件 b-0");
    assert_eq!(first.procedure, "p");
    assert_eq!(first.deadline, deadline("a", 0, &["clerk"]));
    assert!(page.next.is_some());
    store.close().await.unwrap();
}

/// Each append replaces the case's deadlines on the board: a deadline met leaves it, one
/// met late is late, a new one appears; an append that leaves them alone keeps them.
pub async fn deadline_board_follows_appends<S: EventStore>(store: S) {
    let mut a = one("f", 0, GENESIS);
    a.deadlines = vec![deadline("x", 5, &["clerk"]), deadline("y", 7, &["clerk"])];
    let mut prev = a.events[0].hash.clone();
    assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
    let now = t0() + Duration::hours(6);
    let all = |status| DeadlineQuery {
        status,
        ..DeadlineQuery::running(now, 10)
    };
    let rules = |rows: Vec<(String, String, BoardStatus)>| -> Vec<(String, BoardStatus)> {
        rows.into_iter().map(|(_, r, s)| (r, s)).collect()
    };
    assert_eq!(
        rules(board(&store, all(None)).await),
        vec![
            ("x".to_owned(), BoardStatus::Overdue),
            ("y".to_owned(), BoardStatus::Pending)
        ]
    );
    // The same deadlines again: nothing moves.
    let mut b = one("f", 1, &prev);
    b.deadlines = vec![deadline("y", 7, &["clerk"]), deadline("x", 5, &["clerk"])];
    prev = b.events[0].hash.clone();
    assert_eq!(store.append(b).await.unwrap(), AppendOutcome::Appended);
    assert_eq!(board(&store, all(None)).await.len(), 2);
    // x met late, y met in time (gone), z started.
    let mut c = one("f", 2, &prev);
    let mut x = deadline("x", 5, &["clerk"]);
    x.late = true;
    c.deadlines = vec![x, deadline("z", 30, &["chief"])];
    assert_eq!(store.append(c).await.unwrap(), AppendOutcome::Appended);
    assert_eq!(
        rules(board(&store, all(None)).await),
        vec![("z".to_owned(), BoardStatus::Pending)]
    );
    assert_eq!(
        rules(board(&store, all(Some(BoardStatus::Late))).await),
        vec![("x".to_owned(), BoardStatus::Late)]
    );
    // A conflicting append changes nothing.
    let mut stale = one("f", 1, &prev);
    stale.deadlines = Vec::new();
    assert!(matches!(
        store.append(stale).await.unwrap(),
        AppendOutcome::Conflict { .. }
    ));
    assert_eq!(board(&store, all(None)).await.len(), 1);
    store.close().await.unwrap();
}

/// A deadline kept on the board follows a change of any one of its values, each append
/// changing one (a store that keeps the rows that did not change must compare them all).
pub async fn deadline_board_sees_each_value_change<S: EventStore>(store: S) {
    type Change = fn(&mut BoardDeadline);
    let changes: [Change; 10] = [
        |d| d.title = "期限 x（更正）".to_owned(),
        |d| d.basis = None,
        |d| d.basis = Some("《行政诉讼法》第四十六条".to_owned()),
        |d| d.due += Duration::minutes(1),
        |d| d.last_day = d.last_day.succ_opt().unwrap_or(d.last_day),
        |d| d.working_days = true,
        |d| d.roles.push("chief".to_owned()),
        |d| d.optional = true,
        |d| d.provisional = true,
        |d| d.late = true,
    ];
    let mut kept = deadline("x", 5, &["clerk"]);
    let mut a = one("v", 0, GENESIS);
    a.deadlines = vec![kept.clone()];
    let mut prev = a.events[0].hash.clone();
    assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
    for (seq, change) in (1u64..).zip(changes) {
        change(&mut kept);
        let mut next = one("v", seq, &prev);
        next.deadlines = vec![kept.clone()];
        prev = next.events[0].hash.clone();
        assert_eq!(store.append(next).await.unwrap(), AppendOutcome::Appended);
        // Read before it is due: a deadline still to be met is pending, one met late late.
        let status = kept.late.then_some(BoardStatus::Late);
        let page = store
            .deadlines(DeadlineQuery {
                status,
                ..DeadlineQuery::running(t0(), 10)
            })
            .await
            .unwrap();
        let rows: Vec<&BoardDeadline> = page.deadlines.iter().map(|r| &r.deadline).collect();
        assert_eq!(rows, vec![&kept], "after change {seq}");
    }
    store.close().await.unwrap();
}

/// The board lists only the deadlines of cases the reader may read, by the listing's rule:
/// every case of the procedures it reads whole, those it takes part in of the others.
pub async fn deadline_board_reads_what_readers_may_read<S: EventStore>(store: S) {
    // As in `readers_list_what_they_may_read`: r-i of "p" (even) or "q" (odd), opened by
    // the clerk, every third acted on by the visitor too; one deadline each, due at hour i.
    for i in 0..12u64 {
        let case = format!("r-{i:02}");
        let procedure = if i % 2 == 0 { "p" } else { "q" };
        let d = vec![deadline("d", i64::try_from(i).unwrap(), &["clerk"])];
        let mut a = one(&case, 0, GENESIS);
        a.summary.procedure = procedure.to_owned();
        a.deadlines = d.clone();
        let prev = a.events[0].hash.clone();
        assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
        if i % 3 == 0 {
            let mut b = one(&case, 1, &prev);
            b.events[0].actor = "visitor".into();
            b.summary.procedure = procedure.to_owned();
            b.deadlines = d;
            assert_eq!(store.append(b).await.unwrap(), AppendOutcome::Appended);
        }
    }
    let read = |actor: &str, all: &[&str], own: &[&str], procedure: Option<&str>| {
        let query = DeadlineQuery {
            procedure: procedure.map(str::to_owned),
            reader: Some(Reader {
                actor: actor.to_owned(),
                all: all.iter().map(|s| (*s).to_owned()).collect(),
                own: own.iter().map(|s| (*s).to_owned()).collect(),
            }),
            ..DeadlineQuery::running(t0(), 2)
        };
        let store = &store;
        async move {
            board(store, query)
                .await
                .into_iter()
                .map(|(c, _, _)| c)
                .collect::<Vec<_>>()
        }
    };
    let ids = |of: &[u64]| -> Vec<String> { of.iter().map(|i| format!("r-{i:02}")).collect() };
    assert_eq!(
        read("visitor", &[], &["p", "q"], None).await,
        ids(&[0, 3, 6, 9])
    );
    assert_eq!(read("visitor", &[], &["q"], None).await, ids(&[3, 9]));
    assert_eq!(
        read("visitor", &[], &["p", "q"], Some("p")).await,
        ids(&[0, 6])
    );
    assert!(read("visitor", &[], &["q"], Some("p")).await.is_empty());
    assert!(read("visitor", &[], &[], None).await.is_empty());
    assert_eq!(
        read("visitor", &["p"], &["q"], None).await,
        ids(&[0, 2, 3, 4, 6, 8, 9, 10])
    );
    assert_eq!(
        read("clerk", &["q"], &[], None).await,
        ids(&[1, 3, 5, 7, 9, 11])
    );
    assert!(read("nobody", &[], &["p", "q"], None).await.is_empty());
    store.close().await.unwrap();
}
