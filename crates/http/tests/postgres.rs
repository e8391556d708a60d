#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    dead_code
)]

//! Issue 16: `fazhi serve` on PostgreSQL, through a real socket, and two servers (two nodes)
//! on one database: neither serves nor decides on a stale case, a stale `expected_seq` is a
//! 409 whichever node it reaches, and an idempotency key holds across them. The database is
//! a throw-away cluster started once for this test binary (`fazhi_store::test_pg`).

mod helpers;

use helpers::{doc, spawn_pg, today};
use serde_json::json;

fn db() -> String {
    fazhi_store::test_pg::database().unwrap_or_else(|e| panic!("{e}"))
}

#[actix_web::test]
async fn one_server_on_postgres_opens_acts_reads_and_lists() {
    let app = spawn_pg(&db()).await;
    let id = app.open(&today()).await;
    let r = app.submit(&id, 1).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["seq"], 2);
    assert_eq!(r.body["state"], "submitted");
    assert_eq!(app.event_count(&id).await, 2);
    let r = app.get("/v1/cases", "town").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    app.handle.stop(true).await;
}

#[actix_web::test]
async fn two_servers_on_one_database_never_serve_a_stale_case() {
    let url = db();
    let a = spawn_pg(&url).await;
    let b = spawn_pg(&url).await;
    // B reads the case (and keeps it in memory at seq 1); A moves it on.
    let id = moved_behind(&a, &b).await;
    // B shows the write it did not make.
    let r = b.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.body["seq"], 2, "{}", r.text);
    assert_eq!(r.body["state"], "submitted");
    // A stale expected_seq through B is a 409; the right one is a write A then sees.
    let r = b.submit(&id, 1).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = b.find_lawful(&id, "judicial", 2).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = a.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.body["seq"], 3, "{}", r.text);
    assert_eq!(r.body["state"], "filed");
    assert_eq!(a.event_count(&id).await, 3);
    // An idempotency key sent through both nodes: one write, the same answer twice.
    let other = a.open(&today()).await;
    let body = serde_json::to_vec(&json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 1})).unwrap();
    let path = format!("/v1/cases/{other}/events");
    let key = [("Idempotency-Key", "both-nodes")];
    let (first, second) = tokio::join!(
        a.send("POST", &path, Some("village"), &key, Some(&body)),
        b.send("POST", &path, Some("village"), &key, Some(&body)),
    );
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(first.body["event"], second.body["event"]);
    assert_eq!(b.event_count(&other).await, 2);
    a.handle.stop(true).await;
    b.handle.stop(true).await;
}

/// An append at the seq of the case a node has in memory is decided there without asking
/// the database (its claim guards the write). When another node moved the case on, the
/// answer is the 409 of a stale `expected_seq` all the same: an allowed action's claim
/// fails, and a refusal (403, 422) decided on the stale case is confirmed against the
/// database before it is given, and is that 409 too. The node reads the case again after.
#[actix_web::test]
async fn an_append_decided_on_a_case_another_node_moved_is_a_409() {
    let url = db();
    let a = spawn_pg(&url).await;
    let b = spawn_pg(&url).await;
    let id = moved_behind(&a, &b).await;
    // B has the case at seq 1, as the request expects: submitting is allowed there, the
    // claim in the database is not.
    let r = b.submit(&id, 1).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["current_seq"], 2, "{}", r.text);
    let r = b.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(
        (r.body["seq"].as_u64(), r.body["state"].as_str()),
        (Some(2), Some("submitted"))
    );
    // B has it at seq 2; A moves it on to 3.
    let r = a.find_lawful(&id, "judicial", 2).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Submitting again is refused on B's stale case (submitted: not a state it is taken
    // in): the 409.
    let r = b.submit(&id, 2).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["current_seq"], 3, "{}", r.text);
    let r = b.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.body["seq"], 3, "{}", r.text);
    // Now B's case is the stored one: the refusal is given as it is.
    let r = b.submit(&id, 3).await;
    assert_eq!(r.status, 422, "{}", r.text);
    // An action the village's roles may not take, on a case another node moved: the 409;
    // on the case as stored: the 403.
    let other = moved_behind(&a, &b).await;
    let r = b.find_lawful(&other, "village", 1).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["current_seq"], 2, "{}", r.text);
    let r = b.find_lawful(&other, "village", 2).await;
    assert_eq!(r.status, 403, "{}", r.text);
    a.handle.stop(true).await;
    b.handle.stop(true).await;
}

/// A case A opened, B read (and keeps in memory at seq 1), and A then submitted (seq 2).
async fn moved_behind(a: &helpers::TestApp, b: &helpers::TestApp) -> String {
    let id = a.open(&today()).await;
    let r = b.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.body["seq"], 1, "{}", r.text);
    let r = a.submit(&id, 1).await;
    assert_eq!(r.status, 201, "{}", r.text);
    id
}

/// `/healthz` until it answers `status` (bounded: at most 30 s, polled every 100 ms; the
/// store probes its server every second).
async fn healthz_until(app: &helpers::TestApp, status: u16) -> helpers::Resp {
    let mut last = None;
    for _ in 0..300 {
        let r = app.send("GET", "/healthz", None, &[], None).await;
        if r.status == status {
            return r;
        }
        last = Some(r.text);
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("/healthz never answered {status}: last {last:?}");
}

/// A database the server cannot reach is a 503 on `/healthz` saying so (in Chinese and
/// English), and the server is healthy again once the database lets it in.
#[actix_web::test]
async fn healthz_says_when_the_database_cannot_be_reached() {
    let url = db();
    let app = spawn_pg(&url).await;
    let r = healthz_until(&app, 200).await;
    assert_eq!(r.body["status"], "ok", "{}", r.text);

    let name = fazhi_store::test_pg::database_name(&url);
    let admin = fazhi_store::test_pg::with_database(&url, "postgres");
    // Nobody may connect to it, and every connection it had is ended.
    fazhi_store::test_pg::execute(
        &admin,
        &format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ),
    )
    .unwrap();
    let r = healthz_until(&app, 503).await;
    assert_eq!(
        r.body["type"], "https://fazhi.dev/problems/unavailable",
        "{}",
        r.text
    );
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("无法连接 PostgreSQL 数据库服务器") && detail.contains(&name),
        "{}",
        r.text
    );
    let r = app
        .send("GET", "/healthz", None, &[("Accept-Language", "en")], None)
        .await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        r.text.contains("the PostgreSQL server cannot be reached"),
        "{}",
        r.text
    );
    // Counted as what it is (the server unreachable), not as a fenced SQLite file.
    let metrics = app.send("GET", "/metrics", None, &[], None).await.text;
    assert!(
        metrics
            .contains(r#"fazhi_http_store_faults_total{kind="unavailable",problem="unavailable"}"#),
        "{metrics}"
    );
    assert!(!metrics.contains(r#"kind="fenced""#), "{metrics}");
    // A write meanwhile is not acknowledged.
    let r = app
        .post(
            "/v1/cases",
            "village",
            &json!({"procedure": "village-rules-filing", "title": "某村村规民约", "facts": {"adopted_on": today()}}),
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.text);

    fazhi_store::test_pg::execute(
        &admin,
        &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
    )
    .unwrap();
    let r = healthz_until(&app, 200).await;
    assert_eq!(r.body["status"], "ok", "{}", r.text);
    let id = app.open(&today()).await;
    assert_eq!(app.event_count(&id).await, 1);
    app.handle.stop(true).await;
}
