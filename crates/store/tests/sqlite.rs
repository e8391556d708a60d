#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::atomic::{AtomicUsize, Ordering};

use fazhi_core::runtime::GENESIS;
use fazhi_store::{AppendOutcome, EventStore, SqliteOptions, SqliteStore, conformance};

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    conformance::run_all(&|| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        SqliteStore::open(SqliteOptions::new(dir.path().join(format!("c{i}.db")))).unwrap()
    })
    .await;
}

#[tokio::test]
async fn history_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fazhi.db");
    let head = {
        let store = SqliteStore::open(SqliteOptions::new(&path)).unwrap();
        let head = conformance::grow(&store, "c1", 4).await;
        store.close().await.unwrap();
        head
    };
    let store = SqliteStore::open(SqliteOptions::new(&path)).unwrap();
    let events = store.events("c1").await.unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3].hash, head);
    let bytes: Vec<&[u8]> = events.iter().map(|e| e.bytes.as_slice()).collect();
    assert_eq!(bytes[0], conformance::event("c1", 0, GENESIS).bytes);
    assert_eq!(
        store
            .append(conformance::one("c1", 4, &head))
            .await
            .unwrap(),
        AppendOutcome::Appended
    );
    assert_eq!(store.case_ids().unwrap(), ["c1"]);
    assert!(store.orphan_case_ids().unwrap().is_empty());
}

#[tokio::test]
async fn read_only_store_reads_and_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fazhi.db");
    {
        let store = SqliteStore::open(SqliteOptions::new(&path)).unwrap();
        conformance::grow(&store, "c1", 2).await;
        store.close().await.unwrap();
    }
    let ro = SqliteStore::open(SqliteOptions {
        read_only: true,
        ..SqliteOptions::new(&path)
    })
    .unwrap();
    assert_eq!(ro.events("c1").await.unwrap().len(), 2);
    assert!(ro.append(conformance::one("c2", 0, GENESIS)).await.is_err());
}

#[tokio::test]
async fn many_writers_are_batched() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        SqliteStore::open(SqliteOptions::new(dir.path().join("fazhi.db"))).unwrap(),
    );
    let mut tasks = Vec::new();
    for w in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            conformance::grow(store.as_ref(), &format!("w{w}"), 20).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.case_ids().unwrap().len(), 32);
    for w in 0..32 {
        assert_eq!(store.events(&format!("w{w}")).await.unwrap().len(), 20);
    }
}

/// What `fazhi verify` compares with: the columns read back after appends through the store
/// are those [`fazhi_store::audit`] says the writer stores (the summary as of each update,
/// with a due time, a closed flag and no action on the opening).
#[tokio::test]
async fn stored_columns_are_those_the_audit_computes() {
    use fazhi_store::audit::{event_columns, summary_columns};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("a.db"))).unwrap();
    let mut prev = GENESIS.to_owned();
    let mut appended = Vec::new();
    for seq in 0..3 {
        let mut a = conformance::one("c1", seq, &prev);
        a.events[0].roles = vec!["clerk".into(), "head".into()];
        a.events[0].imported = seq == 1;
        if seq == 2 {
            a.summary.state = "done".into();
            a.summary.closed = true;
            a.summary.next_due = Some(a.summary.last_at + chrono::Duration::days(3));
        }
        prev = a.events[0].hash.clone();
        appended.push(a.clone());
        assert_eq!(store.append(a).await.unwrap(), AppendOutcome::Appended);
    }
    let record = store.record("c1").unwrap();
    let summary = record.summary.unwrap();
    let last = appended.last().unwrap();
    assert_eq!(summary, summary_columns(&last.summary));
    let events = record.events.unwrap();
    assert_eq!(events.len(), 3);
    for (stored, a) in events.iter().zip(&appended) {
        let e = &a.events[0];
        assert_eq!(stored.columns, event_columns("c1", e));
        assert_eq!((stored.event.seq, &stored.event.bytes), (e.seq, &e.bytes));
        assert!(
            stored
                .columns
                .differences(&event_columns("c1", e))
                .is_empty()
        );
    }
    assert_eq!(record_of_missing(&store), (None, 0));
}

fn record_of_missing(store: &SqliteStore) -> (Option<fazhi_store::audit::Columns>, usize) {
    let r = store.record("nope").unwrap();
    (r.summary, r.events.unwrap().len())
}

/// A store told not to create its file refuses a missing one, and creates nothing.
#[test]
fn a_missing_file_is_refused_unless_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let err = SqliteStore::open(SqliteOptions {
        create: false,
        ..SqliteOptions::new(&path)
    })
    .unwrap_err();
    assert!(matches!(err, fazhi_store::StoreError::Missing(_)), "{err}");
    assert!(err.to_string().contains("missing.db"), "{err}");
    assert!(!path.exists());
}

/// A backup is a database of its own with the same history; it never overwrites a file.
#[tokio::test]
async fn backups_copy_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("a.db"))).unwrap();
    let head = conformance::grow(&store, "c1", 5).await;
    let out = dir.path().join("copy.db");
    store.backup_to(&out).unwrap();
    let err = store.backup_to(&out).unwrap_err().to_string();
    assert!(err.contains("exists"), "{err}");
    let copy = SqliteStore::open(SqliteOptions {
        create: false,
        ..SqliteOptions::new(&out)
    })
    .unwrap();
    assert_eq!(
        copy.events("c1").await.unwrap(),
        store.events("c1").await.unwrap()
    );
    assert_eq!(copy.summary("c1").await.unwrap().unwrap().head, head);
    assert!(!dir.path().join("copy.db.partial").exists());
}

/// A page of a case's events is the slice of its whole history from `from`, at most `limit`
/// long, whichever cases are interleaved in the file; past the end it is empty.
#[tokio::test]
async fn events_are_read_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteOptions::new(dir.path().join("fazhi.db"))).unwrap();
    let mut heads = [GENESIS.to_owned(), GENESIS.to_owned()];
    for seq in 0..7 {
        for (i, case) in ["a", "b"].iter().enumerate() {
            let outcome = store
                .append(conformance::one(case, seq, &heads[i]))
                .await
                .unwrap();
            assert_eq!(outcome, AppendOutcome::Appended);
            heads[i] = store
                .events(case)
                .await
                .unwrap()
                .last()
                .unwrap()
                .hash
                .clone();
        }
    }
    let whole = store.events("a").await.unwrap();
    assert_eq!(whole.len(), 7);
    for from in 0..9u64 {
        for limit in 1..9u32 {
            let page = store.events_page("a", from, limit).await.unwrap();
            let want: Vec<_> = whole
                .iter()
                .skip(from as usize)
                .take(limit as usize)
                .cloned()
                .collect();
            assert_eq!(page, want, "from {from}, limit {limit}");
        }
    }
    assert!(store.events_page("none", 0, 5).await.unwrap().is_empty());
    assert!(
        store
            .events_page("a", u64::MAX, u32::MAX)
            .await
            .unwrap()
            .is_empty()
    );
}
