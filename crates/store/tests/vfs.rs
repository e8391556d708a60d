#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! `SqliteOptions::vfs`: every connection of the store (the writer's, the readers', a
//! read-only store's) opens through the named VFS, here the fault-injecting one.

use fazhi_fault_vfs::{Domain, Fault, FileKind, Op, VFS_NAME};
use fazhi_store::{AppendOutcome, EventStore, SqliteOptions, SqliteStore, conformance};

fn through_vfs(path: &std::path::Path) -> SqliteOptions {
    SqliteOptions {
        vfs: Some(VFS_NAME.into()),
        ..SqliteOptions::new(path)
    }
}

#[tokio::test]
async fn every_connection_opens_through_the_named_vfs() {
    let dir = tempfile::tempdir().unwrap();
    let domain = Domain::watch(dir.path()).unwrap();
    let path = domain.dir().join("fazhi.db");
    let store = SqliteStore::open(through_vfs(&path)).unwrap();
    let head = conformance::grow(&store, "c1", 2).await;

    // The writer's connection: a failing WAL write fails the append; healed, it goes in.
    domain.inject(Fault::nth(Op::Write, 1).on(FileKind::Wal).until_healed());
    assert!(
        store
            .append(conformance::one("c1", 2, &head))
            .await
            .is_err()
    );
    domain.heal();
    // A failed WAL write at commit fences the store until it has reopened the file, which
    // it retries by itself (at most 2 s apart): then the append goes in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let outcome = loop {
        match store.append(conformance::one("c1", 2, &head)).await {
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other => break other.unwrap(),
        }
    };
    assert_eq!(outcome, AppendOutcome::Appended);

    // A reader's connection is opened on the first read: its open fails, then works.
    domain.inject(Fault::nth(Op::Open, 1).on(FileKind::Main));
    assert!(store.events("c1").await.is_err());
    assert_eq!(store.events("c1").await.unwrap().len(), 3);
    store.close().await.unwrap();
    drop(store);

    // A read-only store.
    domain.inject(Fault::nth(Op::Open, 1));
    let read_only = SqliteOptions {
        read_only: true,
        ..through_vfs(&path)
    };
    assert!(SqliteStore::open(read_only.clone()).is_err());
    let store = SqliteStore::open(read_only).unwrap();
    assert_eq!(store.events("c1").await.unwrap().len(), 3);
    assert_eq!(domain.injected(), 3);
}

#[test]
fn an_unknown_vfs_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open(SqliteOptions {
        vfs: Some("no-such-vfs".into()),
        ..SqliteOptions::new(dir.path().join("fazhi.db"))
    })
    .unwrap_err();
    assert!(err.to_string().contains("no-such-vfs"), "{err}");
}
