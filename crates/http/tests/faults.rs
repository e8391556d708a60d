#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    dead_code
)]

//! Issue 15, rows 1, 7 and 9: faults of the store answer 503 with `Retry-After` (never 500
//! "nothing was written"); a commit that failed is `outcome-unknown` and a retry under the
//! same key gets the first answer once the store has reopened its file; a database file
//! removed under the server stops it acknowledging writes. Faults are injected into the
//! running store (`fazhi-store`'s `fault-injection` feature) or made for real (a lock held
//! by another connection, a file removed).

mod helpers;

use std::time::Duration;

use fazhi_store::{EventStore, Fault};
use helpers::{TestApp, doc, spawn_app, spawn_with, today};
use serde_json::json;

const P: &str = "https://fazhi.dev/problems/";

fn submit_body() -> Vec<u8> {
    serde_json::to_vec(&json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 1})).unwrap()
}

async fn submit_with_key(app: &TestApp, case: &str, key: &str, lang: &str) -> helpers::Resp {
    app.send(
        "POST",
        &format!("/v1/cases/{case}/events"),
        Some("village"),
        &[("Idempotency-Key", key), ("Accept-Language", lang)],
        Some(&submit_body()),
    )
    .await
}

/// Waits (polling, at most 10 s) until the store accepts writes again.
async fn until_healthy(app: &TestApp) {
    for _ in 0..1000 {
        if app.store.status().refusing.is_none() {
            let r = app.send("GET", "/healthz", None, &[], None).await;
            assert_eq!(r.status, 200, "{}", r.text);
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the store did not recover: {:?}", app.store.status());
}

fn is_503(r: &helpers::Resp, kind: &str) {
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.problem_type(), format!("{P}{kind}"), "{}", r.text);
    assert_eq!(r.header("retry-after").as_deref(), Some("1"), "{}", r.text);
}

/// Row 1: the commit wrote the batch and then reported an I/O error (the sync failed). The
/// append is answered 503 `outcome-unknown`, in Chinese by default, never "nothing was
/// written"; the store reopens its file by itself, and the retry under the same key gets
/// the first answer (the event was kept) instead of writing it twice.
#[actix_web::test]
async fn a_commit_that_failed_after_writing_is_outcome_unknown_and_the_retry_replays() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    app.store.inject(Fault::CommitFailsAfterWriting).unwrap();
    let r = submit_with_key(&app, &id, "k-1", "zh-CN").await;
    is_503(&r, "outcome-unknown");
    assert_eq!(r.body["title"], "结果未知");
    assert_eq!(
        r.body["detail"],
        "结果未知：本次写入可能已保存，请使用同一 Idempotency-Key 重试"
    );
    until_healthy(&app).await;
    assert!(app.store.status().reopened >= 1);
    let again = submit_with_key(&app, &id, "k-1", "zh-CN").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(
        again.header("idempotency-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(app.event_count(&id).await, 2);
    let case = app.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(
        (case.body["seq"].as_u64(), case.body["state"].as_str()),
        (Some(2), Some("submitted"))
    );
}

/// The commit failed and wrote nothing: the answer is the same 503 `outcome-unknown` (the
/// service cannot tell the two apart), and the retry under the same key writes the event,
/// once; in English when asked.
#[actix_web::test]
async fn a_commit_that_failed_without_writing_is_outcome_unknown_and_the_retry_writes() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    app.store.inject(Fault::CommitFailsWithoutWriting).unwrap();
    let r = submit_with_key(&app, &id, "k-2", "en").await;
    is_503(&r, "outcome-unknown");
    assert_eq!(r.body["title"], "outcome unknown");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("same Idempotency-Key"),
        "{}",
        r.text
    );
    until_healthy(&app).await;
    let again = submit_with_key(&app, &id, "k-2", "en").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert!(again.header("idempotency-replayed").is_none());
    assert_eq!(app.event_count(&id).await, 2);
}

/// While the store cannot reopen its file, writes are refused with 503 `unavailable` and
/// `/healthz` says so; when the fault heals, the service accepts writes again without a
/// restart.
#[actix_web::test]
async fn writes_are_refused_until_the_file_reopens_then_resume() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    app.store.inject(Fault::ReopenFails(3)).unwrap();
    app.store.inject(Fault::CommitFailsWithoutWriting).unwrap();
    is_503(
        &submit_with_key(&app, &id, "k-3", "zh").await,
        "outcome-unknown",
    );
    // The first reopen attempts fail: writes meanwhile are refused, nothing written.
    let refused = submit_with_key(&app, &id, "k-3", "zh").await;
    if refused.status == 503 {
        is_503(&refused, "unavailable");
        assert!(
            refused.body["detail"].as_str().unwrap().contains("未写入"),
            "{}",
            refused.text
        );
        let health = app.send("GET", "/healthz", None, &[], None).await;
        // The fence may have lifted in between; when it has not, /healthz says why.
        if health.status == 503 {
            is_503(&health, "unavailable");
        }
    } else {
        assert_eq!(refused.status, 201, "{}", refused.text);
    }
    until_healthy(&app).await;
    let r = submit_with_key(&app, &id, "k-3", "zh").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.event_count(&id).await, 2);
    let metrics = app.send("GET", "/metrics", None, &[], None).await.text;
    assert!(metrics.contains("fazhi_store_faults_total"), "{metrics}");
    assert!(metrics.contains("fazhi_store_reopened_total"), "{metrics}");
}

/// Row 7: a full disk is 503 `unavailable` with `Retry-After` (nothing written, the service
/// stays up), counted by kind; writes go on once there is room again.
#[actix_web::test]
async fn a_full_disk_is_503_with_retry_after_and_writes_resume_with_room() {
    let app = spawn_app().await;
    app.open(&today()).await;
    app.store.inject(Fault::DiskFull).unwrap();
    let body = json!({"procedure": "village-rules-filing", "title": "某村村规民约", "facts": {"adopted_on": today()}});
    let mut full = None;
    for _ in 0..200 {
        let r = app.post("/v1/cases", "village", &body).await;
        if r.status != 201 {
            full = Some(r);
            break;
        }
    }
    let r = full.expect("the database never filled up");
    is_503(&r, "unavailable");
    assert!(
        r.body["detail"].as_str().unwrap().contains("磁盘已满"),
        "{}",
        r.text
    );
    let metrics = app.send("GET", "/metrics", None, &[], None).await.text;
    assert!(
        metrics.contains(r#"fazhi_store_faults_total{kind="disk_full",outcome="not_written"}"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"fazhi_http_store_faults_total{kind="disk_full",problem="unavailable"}"#),
        "{metrics}"
    );
    app.store.inject(Fault::DiskSpaceFreed).unwrap();
    let r = app.post("/v1/cases", "village", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Row 7: a lock another connection holds past the busy timeout is 503 `unavailable`
/// (it was 500 `internal` "invalid append…"); writes go on once the lock is released.
#[actix_web::test]
async fn a_lock_timeout_is_503_and_writes_resume_when_it_is_released() {
    let app = spawn_with(tempfile::tempdir().unwrap(), |s| {
        s.busy_timeout = Duration::from_millis(50);
    })
    .await;
    let id = app.open(&today()).await;
    let other = rusqlite::Connection::open(&app.db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let r = submit_with_key(&app, &id, "k-4", "en").await;
    is_503(&r, "unavailable");
    assert!(
        r.body["detail"].as_str().unwrap().contains("busy"),
        "{}",
        r.text
    );
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    let r = submit_with_key(&app, &id, "k-4", "en").await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Row 9: the database file removed while serving: within a bounded time writes are
/// refused with 503 and `/healthz` says so (what the server would acknowledge would be lost
/// with the removed file).
#[actix_web::test]
async fn a_database_file_removed_while_serving_stops_writes() {
    let app = spawn_with(tempfile::tempdir().unwrap(), |s| {
        s.check_files_every = Duration::from_millis(20);
    })
    .await;
    app.open(&today()).await;
    std::fs::remove_file(&app.db).unwrap();
    let body = json!({"procedure": "village-rules-filing", "title": "某村村规民约", "facts": {"adopted_on": today()}});
    let mut refused = None;
    for _ in 0..500 {
        let r = app.post("/v1/cases", "village", &body).await;
        if r.status != 201 {
            refused = Some(r);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    let r = refused.expect("writes were still acknowledged 5 s after the file was removed");
    // The first write after the removal is refused at its commit (`outcome-unknown`: it went
    // into the removed file) or by the watch's fence, whichever comes first.
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("删除或替换")
            || r.problem_type() == format!("{P}outcome-unknown"),
        "{}",
        r.text
    );
    // Within the watch's round the store is fenced for good, saying why.
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    let health = app.send("GET", "/healthz", None, &[], None).await;
    is_503(&health, "unavailable");
    // Counted as what it is (the file changed), the same as a write refused for it.
    let metrics = app.send("GET", "/metrics", None, &[], None).await.text;
    assert!(
        metrics.contains(
            r#"fazhi_http_store_faults_total{kind="file_changed",problem="unavailable"}"#
        ),
        "{metrics}"
    );
    assert!(!metrics.contains(r#"kind="fenced""#), "{metrics}");
    let r = app.post("/v1/cases", "village", &body).await;
    is_503(&r, "unavailable");
    assert!(
        r.body["detail"].as_str().unwrap().contains("删除或替换"),
        "{}",
        r.text
    );
    // It stays so: the old file is not silently replaced by a new one.
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.post("/v1/cases", "village", &body).await.status, 503);
    assert!(!app.db.exists());
}

/// Row 9, between two rounds of the file watch: a commit into a database file removed since
/// it was opened is not acknowledged (503 `outcome-unknown`: it went into a file the next
/// start will not read), even with the watch's timer far away.
#[actix_web::test]
async fn a_commit_into_a_removed_database_file_is_never_acknowledged() {
    let app = spawn_with(tempfile::tempdir().unwrap(), |s| {
        s.check_files_every = Duration::from_secs(3600);
    })
    .await;
    app.open(&today()).await;
    std::fs::remove_file(&app.db).unwrap();
    let body = json!({"procedure": "village-rules-filing", "title": "某村村规民约", "facts": {"adopted_on": today()}});
    let r = app.post("/v1/cases", "village", &body).await;
    is_503(&r, "outcome-unknown");
    // And none after it.
    let r = app.post("/v1/cases", "village", &body).await;
    assert_eq!(r.status, 503, "{}", r.text);
}

/// Row 9: the WAL removed while serving is noticed; the store copies what it had committed
/// into the database, opens a new WAL and goes on; nothing acknowledged is lost across a
/// restart.
#[actix_web::test]
async fn a_wal_removed_while_serving_is_noticed_and_nothing_is_lost() {
    let app = spawn_with(tempfile::tempdir().unwrap(), |s| {
        s.check_files_every = Duration::from_millis(20);
    })
    .await;
    let first = app.open(&today()).await;
    let mut wal = app.db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::remove_file(&wal).unwrap();
    for _ in 0..500 {
        if app.store.status().reopened >= 1 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(app.store.status().reopened >= 1, "{:?}", app.store.status());
    until_healthy(&app).await;
    let second = app.open(&today()).await;
    assert_eq!(app.submit(&second, 1).await.status, 201);
    app.handle.stop(true).await;
    let app = helpers::spawn_on(app.dir).await;
    assert_eq!(app.event_count(&first).await, 1);
    assert_eq!(app.event_count(&second).await, 2);
}
