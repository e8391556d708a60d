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
