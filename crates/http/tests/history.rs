//! A case's history: a broken hash chain is said (dossier, events, the case, appends) rather
//! than answered with a 500; `/events` and the dossier's events are paged by seq.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[allow(dead_code)]
mod helpers;

use helpers::{TestApp, doc, spawn_app, today};
use serde_json::json;

const CHAIN_BROKEN: &str = "https://fazhi.dev/problems/chain-broken";

/// Runs `sql` on the server's database file, as someone with access to it would.
fn tamper(app: &TestApp, sql: &str) {
    let conn = rusqlite::Connection::open(&app.db).unwrap();
    let n = conn.execute(sql, []).unwrap();
    assert!(n > 0, "{sql} changed nothing");
}

/// A case with `rounds` submissions and corrections after its opening (1 + 2 × rounds events).
async fn long_case(app: &TestApp, rounds: u64) -> String {
    let id = app.open(&today()).await;
    let mut seq = 1;
    for round in 0..rounds {
        let r = app.submit(&id, seq).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = app
            .act(
                &id,
                "town",
                json!({"action": "order_correction", "payload": {"round": round + 1, "findings": "缺少表决记录"}, "documents": [doc("review_opinion"), doc("correction_order")], "expected_seq": seq + 1}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        seq += 2;
    }
    id
}

#[actix_web::test]
async fn a_changed_event_is_shown_where_it_breaks_and_the_case_takes_no_more_actions() {
    let app = spawn_app().await;
    let id = long_case(&app, 2).await;
    let other = app.open(&today()).await;
    // Change one byte of a middle event (the first correction's findings), keeping JSON.
    tamper(
        &app,
        &format!(
            "UPDATE events SET bytes = CAST(replace(CAST(bytes AS TEXT), '缺少表决记录', '缺少会议记录') AS BLOB)
             WHERE case_id = '{id}' AND seq = 2"
        ),
    );

    // The dossier says the chain is broken, and where: event 2's bytes were changed.
    let r = app.get(&format!("/v1/cases/{id}/dossier"), "town").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["chain"]["ok"], false, "{}", r.text);
    assert_eq!(r.body["chain"]["broken"]["seq"], 2);
    assert_eq!(r.body["chain"]["broken"]["kind"], "bytes_changed");
    assert!(
        r.body["chain"]["broken"]["problem_zh"]
            .as_str()
            .unwrap()
            .contains("第2号事件")
    );
    assert!(r.body["case"].is_null(), "{}", r.text);
    assert_eq!(r.body["procedure"]["id"], "village-rules-filing");
    assert_eq!(r.body["events"].as_array().unwrap().len(), 5);

    // The whole dossier, streamed, says the same.
    let r = app
        .get(&format!("/v1/cases/{id}/dossier?all=true"), "town")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["chain"]["ok"], false, "{}", r.text);
    assert_eq!(r.body["chain"]["broken"]["seq"], 2);
    assert_eq!(r.body["events"].as_array().unwrap().len(), 5);

    // Each page of /events says whether the links it holds hold.
    let r = app.get(&format!("/v1/cases/{id}/events"), "town").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["chain"]["ok"], false);
    assert_eq!(r.body["chain"]["broken"]["seq"], 2);
    for (after, limit) in [(0, 2), (1, 1), (2, 1)] {
        let r = app
            .get(
                &format!("/v1/cases/{id}/events?after={after}&limit={limit}"),
                "town",
            )
            .await;
        assert_eq!(r.body["chain"]["ok"], false, "after {after}: {}", r.text);
        assert_eq!(r.body["chain"]["broken"]["seq"], 2, "after {after}");
    }
    // A page far from the change holds its links.
    let r = app
        .get(&format!("/v1/cases/{id}/events?after=3&limit=1"), "town")
        .await;
    assert_eq!(r.body["chain"]["ok"], true, "{}", r.text);

    // The case and an append to it answer chain-broken (409), in Chinese unless asked.
    let r = app.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.problem_type(), CHAIN_BROKEN);
    assert_eq!(r.body["title"], "案件哈希链断裂");
    assert!(
        r.body["detail"].as_str().unwrap().contains("第2号事件"),
        "{}",
        r.text
    );
    assert_eq!(r.body["broken"]["seq"], 2);
    // Only to those who may read it: to another village (which reads its own filings) and to
    // a principal of no role the broken case is a missing one.
    for who in ["village2", "nobody"] {
        let r = app.get(&format!("/v1/cases/{id}"), who).await;
        assert_eq!(r.status, 404, "{who}: {}", r.text);
        assert!(!r.text.contains("第2号事件"), "{who}: {}", r.text);
    }
    let r = app.submit(&id, 5).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.problem_type(), CHAIN_BROKEN);
    let r = app
        .send(
            "POST",
            &format!("/v1/cases/{id}/events"),
            Some("village"),
            &[("Accept-Language", "en")],
            Some(br#"{"action":"submit","expected_seq":5}"#),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["title"], "the case's hash chain is broken");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("breaks at event 2"),
        "{}",
        r.text
    );
    assert_eq!(app.event_count(&id).await, 5, "nothing was appended");

    // Nothing else is poisoned: another case goes on.
    let r = app.submit(&other, 1).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.get(&format!("/v1/cases/{other}/dossier"), "town").await;
    assert_eq!(r.body["chain"]["ok"], true, "{}", r.text);
}

#[actix_web::test]
async fn a_broken_chain_found_on_loading_answers_chain_broken_not_500() {
    let app = spawn_app().await;
    let changed = long_case(&app, 1).await;
    let unreadable = long_case(&app, 1).await;
    let cut = long_case(&app, 1).await;
    let last = long_case(&app, 1).await;
    tamper(
        &app,
        &format!(
            "UPDATE events SET bytes = CAST('not json' AS BLOB) WHERE case_id = '{unreadable}' AND seq = 1"
        ),
    );
    tamper(
        &app,
        &format!("UPDATE events SET prev = NULL WHERE case_id = '{cut}' AND seq = 2"),
    );
    tamper(
        &app,
        &format!(
            "UPDATE events SET bytes = CAST(replace(CAST(bytes AS TEXT), '缺少表决记录', '缺少会议记录') AS BLOB)
             WHERE case_id = '{last}' AND seq = 2"
        ),
    );
    tamper(
        &app,
        &format!(
            "UPDATE events SET bytes = CAST(replace(CAST(bytes AS TEXT), '某村村规民约', '某村村规民约X') AS BLOB)
             WHERE case_id = '{changed}' AND seq = 0"
        ),
    );
    // A fresh server reads every case from the file.
    app.handle.stop(true).await;
    let app = helpers::spawn_on(app.dir).await;
    for (id, seq, kind) in [
        (&changed, 0, "bytes_changed"),
        (&unreadable, 1, "undecodable"),
        (&cut, 0, "missing"),
        (&last, 2, "head_mismatch"),
    ] {
        let r = app.get(&format!("/v1/cases/{id}"), "town").await;
        assert_eq!(r.status, 409, "{kind}: {}", r.text);
        assert_eq!(r.problem_type(), CHAIN_BROKEN);
        assert_eq!(r.body["broken"]["seq"], seq, "{kind}: {}", r.text);
        assert_eq!(r.body["broken"]["kind"], kind, "{}", r.text);
        let r = app.get(&format!("/v1/cases/{id}/dossier"), "town").await;
        assert_eq!(r.status, 200, "{kind}: {}", r.text);
        assert_eq!(r.body["chain"]["ok"], false);
        assert_eq!(r.body["chain"]["broken"]["seq"], seq, "{kind}: {}", r.text);
        let r = app.get(&format!("/v1/cases/{id}/events"), "town").await;
        assert_eq!(r.status, 200, "{kind}: {}", r.text);
        assert_eq!(r.body["chain"]["ok"], false, "{kind}: {}", r.text);
        let r = app
            .act(
                id,
                "village",
                json!({"action": "withdraw", "expected_seq": 3}),
            )
            .await;
        assert_eq!(r.status, 409, "{kind}: {}", r.text);
        assert_eq!(r.problem_type(), CHAIN_BROKEN);
    }
}

#[actix_web::test]
async fn events_and_the_dossier_are_paged_by_seq() {
    let app = spawn_app().await;
    let id = long_case(&app, 3).await; // 7 events
    let whole = app.get(&format!("/v1/cases/{id}/events"), "town").await;
    assert_eq!(whole.body["total"], 7);
    assert!(whole.body.get("next").is_none(), "{}", whole.text);
    let all = whole.body["events"].as_array().unwrap().clone();
    assert_eq!(all.len(), 7);

    // Following `next` gives every event once, in order, three at a time.
    let mut seen = Vec::new();
    let mut path = format!("/v1/cases/{id}/events?limit=3");
    let mut pages = 0;
    loop {
        let r = app.get(&path, "town").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["chain"]["ok"], true, "{}", r.text);
        let events = r.body["events"].as_array().unwrap();
        assert!(events.len() <= 3);
        seen.extend(events.iter().cloned());
        pages += 1;
        match r.body["next"].as_str() {
            Some(next) => {
                assert_eq!(r.body["next_after"], events.last().unwrap()["seq"]);
                path = next.to_owned();
            }
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, all);

    // The dossier pages its events (and their documents) the same way; its chain is whole.
    let r = app
        .get(&format!("/v1/cases/{id}/dossier?after=2&limit=2"), "town")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["seq"], 3);
    assert_eq!(r.body["next_after"], 4);
    assert_eq!(
        r.body["next"],
        format!("/v1/cases/{id}/dossier?after=4&limit=2")
    );
    assert_eq!(r.body["documents"].as_array().unwrap().len(), 4);
    assert_eq!(r.body["documents"][0]["seq"], 3);
    assert_eq!(r.body["chain"]["ok"], true);
    assert_eq!(r.body["chain"]["events"], 7);
    assert_eq!(r.body["case"]["seq"], 7);

    // `all=true`: the whole dossier streamed, the same as its pages put together.
    let r = app
        .get(&format!("/v1/cases/{id}/dossier?all=true"), "town")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["events"], json!(all));
    assert_eq!(r.body["total"], 7);
    assert_eq!(r.body["chain"]["ok"], true);
    assert_eq!(r.body["case"]["seq"], 7);
    assert!(r.body.get("next").is_none());
    let paged = app.get(&format!("/v1/cases/{id}/dossier"), "town").await;
    assert_eq!(r.body["documents"], paged.body["documents"]);
    assert_eq!(r.body["procedure"], paged.body["procedure"]);
    // Not with a page.
    let r = app
        .get(&format!("/v1/cases/{id}/dossier?all=true&limit=2"), "town")
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["errors"][0]["where"], "all");

    // Past the end: an empty last page.
    let r = app
        .get(&format!("/v1/cases/{id}/events?after=6"), "town")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["events"], json!([]));
    assert!(r.body.get("next").is_none());

    // Limits are declared and enforced.
    for bad in ["limit=0", "limit=1001", "after=-1", "after=x", "page=2"] {
        let r = app
            .get(&format!("/v1/cases/{id}/events?{bad}"), "town")
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        let r = app
            .get(&format!("/v1/cases/{id}/dossier?{bad}"), "town")
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let r = app.get("/v1/cases/nope/events?limit=5", "town").await;
    assert_eq!(r.status, 404);
}

/// A dossier streamed whole over several of the store's pages (256 events each) holds every
/// event once, in order, with the documents they brought.
#[actix_web::test]
async fn a_long_dossier_is_streamed_whole() {
    let app = spawn_app().await;
    let id = long_case(&app, 300).await; // 601 events
    let r = app
        .get(&format!("/v1/cases/{id}/dossier?all=true"), "town")
        .await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(500)]);
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 601);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i, "event {i}");
    }
    assert_eq!(r.body["total"], 601);
    assert_eq!(r.body["chain"]["ok"], true);
    // Two documents with every submission and two (review opinion, correction order) with
    // every correction.
    let documents = r.body["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 1200);
    assert_eq!(documents[1199]["seq"], 600);
}
