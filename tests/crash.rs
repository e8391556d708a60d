#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! The crash test: the `fazhi` binary under concurrent writers is killed with SIGKILL at a
//! random moment and restarted; every acknowledged event is there with the hash it was
//! acknowledged with, nothing else is (beyond the one request each writer had in flight),
//! and every chain verifies.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

const WRITERS: usize = 8;
#[path = "support/server.rs"]
mod server;
use server::Server;

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[derive(Default)]
struct Writer {
    /// Acknowledged events: (case, seq) → hash.
    acked: BTreeMap<(String, u64), String>,
    /// The request in flight when the server died: the case (None when opening) and seq.
    in_flight: Option<(Option<String>, u64)>,
}

fn body(seq: u64) -> Value {
    if seq % 2 == 1 {
        json!({"action": "submit", "expected_seq": seq, "documents": [
            {"kind": "rules_text", "name": "a.pdf", "sha256": DIGEST},
            {"kind": "meeting_record", "name": "b.pdf", "sha256": DIGEST}]})
    } else {
        json!({"action": "order_correction", "expected_seq": seq,
               "payload": {"round": seq / 2, "findings": "第三条"},
               "documents": [{"kind": "review_opinion", "name": "c.pdf", "sha256": DIGEST},
                             {"kind": "correction_order", "name": "d.pdf", "sha256": DIGEST}]})
    }
}

async fn write(base: String, w: Rc<RefCell<Writer>>) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    loop {
        // Open a case, then alternate submit / order_correction on it for a while.
        w.borrow_mut().in_flight = Some((None, 0));
        let res = client
            .post(format!("{base}/v1/cases"))
            .insert_header(("Authorization", "Bearer dev-village"))
            .send_json(&json!({"procedure": "village-rules-filing", "facts": {"adopted_on": "2026-11-20"}}))
            .await;
        let Ok(mut res) = res else { return };
        let Ok(v) = res.json::<Value>().limit(1 << 20).await else {
            return;
        };
        assert_eq!(res.status().as_u16(), 201, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        let head = v["head"].as_str().unwrap().to_owned();
        w.borrow_mut().acked.insert((id.clone(), 0), head);
        for seq in 1..=6u64 {
            w.borrow_mut().in_flight = Some((Some(id.clone()), seq));
            let token = if seq % 2 == 1 {
                "dev-village"
            } else {
                "dev-town"
            };
            let res = client
                .post(format!("{base}/v1/cases/{id}/events"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .send_json(&body(seq))
                .await;
            let Ok(mut res) = res else { return };
            let Ok(v) = res.json::<Value>().limit(1 << 20).await else {
                return;
            };
            assert_eq!(res.status().as_u16(), 201, "{v}");
            let hash = v["event"]["hash"].as_str().unwrap().to_owned();
            w.borrow_mut().acked.insert((id.clone(), seq), hash);
        }
    }
}

async fn get(client: &awc::Client, url: &str) -> Value {
    let mut res = client
        .get(url)
        .insert_header(("Authorization", "Bearer dev-town"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json::<Value>().limit(64 << 20).await.unwrap()
}

#[actix_web::test]
async fn sigkill_under_concurrent_writers_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fazhi.db");
    let mut server = Server::start(&db, 2, &["--create-db"]);
    let base = server.base.clone();

    let writers: Vec<Rc<RefCell<Writer>>> = (0..WRITERS).map(|_| Rc::default()).collect();
    for w in &writers {
        actix_web::rt::spawn(write(base.clone(), w.clone()));
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let wait = Duration::from_millis(400 + u64::from(nanos % 1200));
    actix_web::rt::time::sleep(wait).await;
    server.kill(); // SIGKILL
    // Let every writer notice.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;

    let acked: usize = writers.iter().map(|w| w.borrow().acked.len()).sum();
    assert!(acked > 0, "no write was acknowledged before the kill");

    let mut server = Server::start(&db, 2, &["--create-db"]);
    let base = server.base.clone();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    // Every case in the store, through the API.
    let mut stored: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut cursor = String::new();
    loop {
        let page = get(&client, &format!("{base}/v1/cases?limit=1000{cursor}")).await;
        for c in page["cases"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_owned();
            let events = get(&client, &format!("{base}/v1/cases/{id}/events")).await;
            let events = events["events"].as_array().unwrap().clone();
            assert_eq!(events.len() as u64, c["seq"].as_u64().unwrap());
            stored.insert(id, events);
        }
        match page["next_cursor"].as_str() {
            Some(n) => cursor = format!("&cursor={n}"),
            None => break,
        }
    }
    let mut unexplained_opens = 0;
    let mut known_cases = std::collections::BTreeSet::new();
    for w in &writers {
        let w = w.borrow();
        for ((case, seq), hash) in &w.acked {
            known_cases.insert(case.clone());
            let events = stored
                .get(case)
                .unwrap_or_else(|| panic!("acknowledged case {case} is gone"));
            let e = events
                .get(*seq as usize)
                .unwrap_or_else(|| panic!("acknowledged event {case}/{seq} is gone"));
            assert_eq!(e["hash"].as_str().unwrap(), hash, "{case}/{seq} changed");
        }
        if let Some((None, _)) = w.in_flight {
            unexplained_opens += 1;
        }
    }
    for (case, events) in &stored {
        if !known_cases.contains(case) {
            // Only an open that was in flight may have landed unacknowledged.
            assert_eq!(
                events.len(),
                1,
                "unknown case {case} has more than its opening"
            );
            unexplained_opens -= 1;
            assert!(unexplained_opens >= 0, "case {case} was never asked for");
            continue;
        }
        let acked_here = writers
            .iter()
            .map(|w| w.borrow().acked.keys().filter(|(c, _)| c == case).count())
            .sum::<usize>();
        let in_flight_here = writers.iter().any(|w| {
            matches!(&w.borrow().in_flight, Some((Some(c), s)) if c == case && *s as usize == acked_here)
        });
        assert!(
            events.len() == acked_here || (in_flight_here && events.len() == acked_here + 1),
            "case {case}: {} stored, {acked_here} acknowledged",
            events.len()
        );
    }
    // The restarted server still takes writes.
    let (id, events) = stored.iter().next().unwrap();
    let seq = events.len() as u64;
    if seq < 7 {
        let res = client
            .post(format!("{base}/v1/cases/{id}/events"))
            .insert_header((
                "Authorization",
                if seq % 2 == 1 {
                    "Bearer dev-village"
                } else {
                    "Bearer dev-town"
                },
            ))
            .send_json(&body(seq))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
    }
    // Stop gracefully (SIGTERM) and check every chain.
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(server.child.wait().unwrap().success());
    let out = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .args(["verify", "--db"])
        .arg(&db)
        .arg("--rules")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/http/tests/fixtures"))
        .arg("--calendars")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/calendars"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("every chain verifies"), "{text}");
    eprintln!(
        "killed after {wait:?}: {acked} acknowledged events, {} cases; {text}",
        stored.len()
    );
}
