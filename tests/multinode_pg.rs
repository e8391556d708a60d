#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! Issue 16, "must show": three `fazhi serve` processes on one PostgreSQL database,
//! concurrent writers moving the same cases through different nodes, retrying through
//! another node under the same idempotency key when theirs fails; one node is killed with
//! SIGKILL mid-run and the others carry on. Then: every acknowledged event is stored with the
//! hash it was acknowledged with, no case has an event beyond its steps (no duplicate),
//! reads through every node and through a node started afresh show every acknowledged event,
//! and every chain verifies (a fresh node loads each case, verifying it).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};

const WRITERS: usize = 6;
const CASES: usize = 8;
/// Events per case: the opening and six steps.
const STEPS: u64 = 7;
/// The node killed once this many appends were acknowledged.
const KILL_AFTER: usize = 12;
#[path = "support/server.rs"]
mod server;
use server::Server;

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn body(seq: u64) -> (&'static str, Value) {
    if seq % 2 == 1 {
        (
            "Bearer dev-village",
            json!({"action": "submit", "expected_seq": seq, "documents": [
                {"kind": "rules_text", "name": "a.pdf", "sha256": DIGEST},
                {"kind": "meeting_record", "name": "b.pdf", "sha256": DIGEST}]}),
        )
    } else {
        (
            "Bearer dev-town",
            json!({"action": "order_correction", "expected_seq": seq,
                   "payload": {"round": seq / 2, "findings": "第三条"},
                   "documents": [{"kind": "review_opinion", "name": "c.pdf", "sha256": DIGEST},
                                 {"kind": "correction_order", "name": "d.pdf", "sha256": DIGEST}]}),
        )
    }
}

#[derive(Default)]
struct Run {
    /// Acknowledged events: (case, seq) → hash.
    acked: BTreeMap<(String, u64), String>,
    /// Whether each node is alive.
    alive: Vec<bool>,
    /// Requests retried through another node under the same key.
    retried: usize,
}

async fn send(
    client: &awc::Client,
    url: String,
    auth: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let mut req = match body {
        Some(_) => client.post(url),
        None => client.get(url),
    }
    .insert_header(("Authorization", auth.to_owned()));
    if let Some(k) = key {
        req = req.insert_header(("Idempotency-Key", k.to_owned()));
    }
    let mut res = match body {
        Some(b) => req.send_json(b).await,
        None => req.send().await,
    }
    .map_err(|e| e.to_string())?;
    let v = res
        .json::<Value>()
        .limit(1 << 22)
        .await
        .map_err(|e| e.to_string())?;
    Ok((res.status().as_u16(), v))
}

async fn write(w: usize, bases: Rc<Vec<String>>, cases: Rc<Vec<String>>, run: Rc<RefCell<Run>>) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish();
    let mut node = w % bases.len();
    let mut n = 0;
    // Each writer goes round the cases, taking the next step of each, until all are done.
    for round in 0..400 {
        let case = &cases[(w + round) % cases.len()];
        if run.borrow().acked.keys().filter(|(c, _)| c == case).count() as u64 >= STEPS {
            if (0..cases.len()).all(|i| {
                run.borrow()
                    .acked
                    .keys()
                    .filter(|(c, _)| *c == cases[i])
                    .count() as u64
                    >= STEPS
            }) {
                return;
            }
            continue;
        }
        while !run.borrow().alive[node] {
            node = (node + 1) % bases.len();
        }
        let Ok((200, v)) = send(
            &client,
            format!("{}/v1/cases/{case}", bases[node]),
            "Bearer dev-town",
            None,
            None,
        )
        .await
        else {
            node = (node + 1) % bases.len();
            continue;
        };
        let seq = v["seq"].as_u64().unwrap();
        if seq >= STEPS {
            continue;
        }
        n += 1;
        let key = format!("w{w}-{n}");
        let (auth, b) = body(seq);
        // Through this node; when it fails, through the next one under the same key.
        for attempt in 0..10 {
            while !run.borrow().alive[node] {
                node = (node + 1) % bases.len();
            }
            let url = format!("{}/v1/cases/{case}/events", bases[node]);
            match send(&client, url, auth, Some(&key), Some(&b)).await {
                Ok((201, v)) => {
                    let hash = v["event"]["hash"].as_str().unwrap().to_owned();
                    assert_eq!(v["event"]["seq"].as_u64(), Some(seq), "{v}");
                    let mut r = run.borrow_mut();
                    if let Some(before) = r.acked.insert((case.clone(), seq), hash.clone()) {
                        assert_eq!(before, hash, "two answers for {case} event {seq}");
                    }
                    if attempt > 0 {
                        r.retried += 1;
                    }
                    break;
                }
                Ok((409, _)) => break,
                Ok((503, _)) => {
                    actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                }
                Ok((status, v)) => panic!("{status}: {v}"),
                Err(_) => node = (node + 1) % bases.len(),
            }
        }
    }
}

#[actix_web::test]
async fn three_nodes_one_killed_no_acknowledged_write_lost() {
    let db = fazhi_store::test_pg::database().unwrap_or_else(|e| panic!("{e}"));
    let mut nodes: Vec<Server> = (0..3).map(|_| Server::start(&db, 1, &[])).collect();
    let bases: Rc<Vec<String>> = Rc::new(nodes.iter().map(|n| n.base.clone()).collect());
    let run = Rc::new(RefCell::new(Run {
        alive: vec![true; 3],
        ..Run::default()
    }));
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish();
    let mut cases = Vec::new();
    for i in 0..CASES {
        let (status, v) = send(
            &client,
            format!("{}/v1/cases", bases[i % 3]),
            "Bearer dev-village",
            None,
            Some(&json!({"procedure": "village-rules-filing", "facts": {"adopted_on": "2026-11-20"}})),
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        run.borrow_mut()
            .acked
            .insert((id.clone(), 0), v["head"].as_str().unwrap().to_owned());
        cases.push(id);
    }
    let cases = Rc::new(cases);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| actix_web::rt::spawn(write(w, bases.clone(), cases.clone(), run.clone())))
        .collect();
    // SIGKILL node 2 mid-run.
    for _ in 0..2000 {
        if run.borrow().acked.len() >= CASES + KILL_AFTER {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[2].kill();
    run.borrow_mut().alive[2] = false;
    for w in writers {
        w.await.unwrap();
    }
    let acked = run.borrow().acked.clone();
    assert_eq!(
        acked.len(),
        CASES * STEPS as usize,
        "every step of every case was acknowledged once"
    );
    // Reads through the surviving nodes and through a fresh one show every acknowledged
    // event with its hash, and nothing more; the fresh node verifies each chain as it loads.
    let fresh = Server::start(&db, 1, &[]);
    let readers = [bases[0].clone(), bases[1].clone(), fresh.base.clone()];
    for base in &readers {
        for case in cases.iter() {
            let (status, v) = send(
                &client,
                format!("{base}/v1/cases/{case}"),
                "Bearer dev-town",
                None,
                None,
            )
            .await
            .unwrap();
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["seq"].as_u64(), Some(STEPS), "{v}");
            let (status, v) = send(
                &client,
                format!("{base}/v1/cases/{case}/events"),
                "Bearer dev-town",
                None,
                None,
            )
            .await
            .unwrap();
            assert_eq!(status, 200, "{v}");
            let events = v["events"].as_array().unwrap();
            assert_eq!(events.len() as u64, STEPS, "{v}");
            for e in events {
                let seq = e["seq"].as_u64().unwrap();
                assert_eq!(
                    acked.get(&(case.clone(), seq)).map(String::as_str),
                    e["hash"].as_str(),
                    "{case} event {seq} through {base}"
                );
            }
        }
    }
    eprintln!(
        "{} events acknowledged, {} requests retried through another node",
        acked.len(),
        run.borrow().retried
    );
    drop(nodes);
    drop(fresh);
}
