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
    let id = a.open(&today()).await;
    // B reads the case (and keeps it in memory at seq 1).
    let r = b.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.body["seq"], 1, "{}", r.text);
    // A moves it on.
    let r = a.submit(&id, 1).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // B shows the write it did not make.
    let r = b.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.body["seq"], 2, "{}", r.text);
    assert_eq!(r.body["state"], "submitted");
    // A stale expected_seq through B is a 409; the right one is a write A then sees.
    let r = b.submit(&id, 1).await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = b
        .act(
            &id,
            "judicial",
            json!({"action": "find_lawful", "documents": [doc("review_opinion")], "expected_seq": 2}),
        )
        .await;
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
