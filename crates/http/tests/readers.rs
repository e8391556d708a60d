//! Who reads which case, on the filing fixture: the town and the judicial office read every
//! filing (`reads = "all"`), a villagers' committee only those it opened or acted in
//! (`reads = "own"`), a principal with none of the procedure's roles none. A case the caller
//! may not read answers as a missing one (404, the same problem), in the listing, the case,
//! its events and its dossier.
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
use serde_json::{Value, json};

/// The ids `who` lists, page by page (`limit` each), with the query `filter`.
async fn listed(app: &TestApp, who: &str, filter: &str, limit: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/cases?limit={limit}&cursor={c}{filter}"),
            None => format!("/v1/cases?limit={limit}{filter}"),
        };
        let r = app.get(&path, who).await;
        assert_eq!(r.status, 200, "{who} {path}: {}", r.text);
        let cases = r.body["cases"].as_array().unwrap();
        assert!(cases.len() <= limit as usize);
        seen.extend(cases.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen
}

/// The problem a GET of `path` answers, with the case id replaced, for comparing a hidden
/// case's answer with a missing one's.
fn without_id(body: &Value, id: &str) -> String {
    body.to_string().replace(id, "<id>")
}

#[actix_web::test]
async fn a_village_reads_only_the_filings_it_takes_part_in() {
    let app = spawn_app().await;
    // The first village opens three filings, the second two, in turn.
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..5 {
        let who = if i % 2 == 0 { "village" } else { "village2" };
        let r = app
            .post(
                "/v1/cases",
                who,
                &json!({"procedure": "village-rules-filing", "title": format!("村规民约 {i}"), "facts": {"adopted_on": today()}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_owned();
        if who == "village" {
            mine.push(id);
        } else {
            theirs.push(id);
        }
    }
    let mut every: Vec<String> = mine.iter().chain(&theirs).cloned().collect();
    every.sort();
    // Listing: each village its own, in pages of one and of many; the town everything.
    for limit in [1, 2, 50] {
        assert_eq!(
            listed(&app, "village", "", limit).await,
            mine,
            "limit {limit}"
        );
        assert_eq!(
            listed(&app, "village2", "", limit).await,
            theirs,
            "limit {limit}"
        );
        assert_eq!(
            listed(&app, "town", "", limit).await,
            every,
            "limit {limit}"
        );
        assert_eq!(
            listed(&app, "judicial", "", limit).await,
            every,
            "limit {limit}"
        );
        assert!(listed(&app, "nobody", "", limit).await.is_empty());
    }
    // The filters apply within what the caller reads.
    let f = "&procedure=village-rules-filing&state=adopted";
    assert_eq!(listed(&app, "village2", f, 1).await, theirs);
    assert!(
        listed(&app, "village2", "&procedure=other", 1)
            .await
            .is_empty()
    );
    assert!(
        listed(&app, "nobody", "&procedure=village-rules-filing", 1)
            .await
            .is_empty()
    );

    // The case, its events and its dossier: 200 to those who read it, else the very answer
    // a case that does not exist gets.
    let missing = "0190aaaa-0000-7000-8000-000000000000";
    for tail in ["", "/events", "/dossier"] {
        let none = app
            .get(&format!("/v1/cases/{missing}{tail}"), "village")
            .await;
        assert_eq!(none.status, 404, "{}", none.text);
        let none = without_id(&none.body, missing);
        for id in &every {
            let path = format!("/v1/cases/{id}{tail}");
            for who in ["village", "village2", "town", "judicial", "nobody"] {
                let may = match who {
                    "town" | "judicial" => true,
                    "village" => mine.contains(id),
                    "village2" => theirs.contains(id),
                    _ => false,
                };
                let r = app.get(&path, who).await;
                if may {
                    assert_eq!(r.status, 200, "{who} {path}: {}", r.text);
                } else {
                    assert_eq!(r.status, 404, "{who} {path}: {}", r.text);
                    assert_eq!(without_id(&r.body, id), none, "{who} {path}");
                }
            }
        }
    }

    // Acting in a case makes the actor take part: the second village submits one of the
    // first's filings (its role allows it) and reads it from then on; the first still does.
    let id = &mine[0];
    let r = app
        .act(
            id,
            "village2",
            json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 1}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        app.get(&format!("/v1/cases/{id}"), "village2").await.status,
        200
    );
    assert_eq!(
        app.get(&format!("/v1/cases/{id}/events"), "village2")
            .await
            .status,
        200
    );
    assert_eq!(
        app.get(&format!("/v1/cases/{id}"), "village").await.status,
        200
    );
    let mut now_theirs = theirs.clone();
    now_theirs.push(id.clone());
    now_theirs.sort();
    assert_eq!(listed(&app, "village2", "", 2).await, now_theirs);
    assert_eq!(listed(&app, "village", "", 2).await, mine);
    // A write it may not make to a case it may not read is answered as for a missing case
    // (not 403 or 422, which would tell what the case is), records nothing, and does not make
    // it take part. A stale `expected_seq` is a 409 telling the `seq` (and nothing else), so
    // that a body its roles allow to act can act.
    let other = &mine[1];
    let missing_write = app
        .act(
            missing,
            "village2",
            json!({"action": "find_lawful", "expected_seq": 1}),
        )
        .await;
    assert_eq!(missing_write.status, 404);
    for body in [
        json!({"action": "find_lawful", "expected_seq": 1}),
        json!({"action": "submit", "expected_seq": 1}),
    ] {
        let r = app.act(other, "village2", body.clone()).await;
        assert_eq!(r.status, 404, "{body}: {}", r.text);
        assert_eq!(
            without_id(&r.body, other),
            without_id(&missing_write.body, missing),
            "{body}"
        );
    }
    assert_eq!(
        app.get(&format!("/v1/cases/{other}"), "village2")
            .await
            .status,
        404
    );
    let r = app
        .act(other, "village2", json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 7}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["current_seq"], 1, "{}", r.text);
    assert_eq!(app.event_count(other).await, 1);
    // The same refusals to a reader of the case are what they were.
    let r = app
        .act(
            other,
            "village",
            json!({"action": "find_lawful", "expected_seq": 1}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app
        .act(
            other,
            "village",
            json!({"action": "submit", "expected_seq": 7}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
}

/// A villagers' committee named by the town when it opens a filing (`participants`) lists
/// and reads that filing without having acted in it; another committee does not. The names
/// are in the opening event, which the committee reads too.
#[actix_web::test]
async fn a_village_named_by_the_opening_reads_the_filing() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/cases",
            "town",
            &json!({"procedure": "village-rules-filing", "title": "代为登记", "facts": {"adopted_on": today()},
                    "participants": {"village": ["village2"]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(listed(&app, "village2", "", 1).await, vec![id.clone()]);
    assert!(listed(&app, "village", "", 50).await.is_empty());
    for tail in ["", "/events", "/dossier"] {
        let path = format!("/v1/cases/{id}{tail}");
        let r = app.get(&path, "village2").await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let r = app.get(&path, "village").await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
    let events = app.get(&format!("/v1/cases/{id}/events"), "village2").await;
    assert_eq!(
        events.body["events"][0]["participants"],
        json!({"village": ["village2"]}),
        "{}",
        events.text
    );
    // Without names the opening event is as before: no `participants` key at all.
    let plain = app.open(&today()).await;
    let events = app.get(&format!("/v1/cases/{plain}/events"), "town").await;
    assert!(
        events.body["events"][0].get("participants").is_none(),
        "{}",
        events.text
    );
}

/// Naming participants is checked, each problem located: a role the procedure does not
/// have, a principal the service does not know, one that does not hold the role, an empty
/// list, a name twice, a malformed name, too many names. Nothing is opened.
#[actix_web::test]
async fn participants_are_checked_where_they_are_named() {
    let app = spawn_app().await;
    let open = |participants: Value| json!({"procedure": "village-rules-filing", "facts": {"adopted_on": today()}, "participants": participants});
    let many: Vec<String> = (0..65).map(|i| format!("v{i}")).collect();
    for (participants, field, words) in [
        (
            json!({"mayor": ["village"]}),
            "participants.mayor",
            "no role `mayor`",
        ),
        (
            json!({"village": []}),
            "participants.village",
            "names no participant",
        ),
        (
            json!({"village": ["village", "village"]}),
            "participants.village[1]",
            "named twice",
        ),
        (
            json!({"village": ["a b"]}),
            "participants.village[0]",
            "without spaces",
        ),
        (json!({"village": many}), "participants", "at most 64"),
    ] {
        let r = app
            .post("/v1/cases", "town", &open(participants.clone()))
            .await;
        assert_eq!(r.status, 422, "{participants}: {}", r.text);
        let reason = r.body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["field"] == field)
            .unwrap_or_else(|| panic!("{participants}: nothing at {field}: {}", r.text));
        let text = reason.to_string();
        assert!(text.contains(words), "{participants}: {text}");
    }
    for (participants, at, words) in [
        (
            json!({"village": ["ghost"]}),
            "participants.village[0]",
            "no principal `ghost`",
        ),
        (
            json!({"village": ["village2", "town"]}),
            "participants.village[1]",
            "does not hold role `village`",
        ),
    ] {
        let r = app
            .post("/v1/cases", "town", &open(participants.clone()))
            .await;
        assert_eq!(r.status, 422, "{participants}: {}", r.text);
        assert_eq!(r.body["errors"][0]["where"], at, "{}", r.text);
        let message = r.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
    }
    assert!(listed(&app, "town", "", 50).await.is_empty());
}
