#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod helpers;

use helpers::{DIGEST, doc, spawn_app, spawn_with, today};
use serde_json::{Value, json};

const P: &str = "https://fazhi.dev/problems/";

#[actix_web::test]
async fn health_openapi_and_metrics_need_no_token() {
    let app = spawn_app().await;
    let r = app.send("GET", "/healthz", None, &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
    let id = r.header("x-request-id").unwrap();
    assert_eq!(id.len(), 36, "request ids are UUIDs: {id}");
    let again = app.send("GET", "/healthz", None, &[], None).await;
    assert_ne!(
        again.header("x-request-id").unwrap(),
        id,
        "each request has its own id"
    );
    let r = app.send("GET", "/openapi.json", None, &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/procedures",
        "/v1/procedures/{id}",
        "/v1/procedures/{id}/graph",
        "/v1/cases",
        "/v1/cases/{id}",
        "/v1/cases/{id}/events",
        "/v1/cases/{id}/dossier",
        "/healthz",
    ] {
        assert!(r.body["paths"][path].is_object(), "{path} missing");
    }
    assert!(
        r.body["components"]["schemas"]["AppendRequest"]["properties"]["expected_seq"].is_object()
    );
    // Requests are counted under the route they matched (even when refused), or `unmatched`.
    let r = app.send("GET", "/v1/procedures/x", None, &[], None).await;
    assert_eq!(r.status, 401);
    let r = app.send("GET", "/nowhere", None, &[], None).await;
    assert_eq!(r.status, 404);
    let r = app.send("GET", "/metrics", None, &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("fazhi_http_requests_total"), "{}", r.text);
    for label in [
        r#"route="/healthz""#,
        r#"route="/v1/procedures/{id}",status="401""#,
        r#"route="unmatched",status="404""#,
    ] {
        assert!(r.text.contains(label), "{label} not in {}", r.text);
    }
}

#[actix_web::test]
async fn invented_methods_share_one_metric_label() {
    let app = spawn_app().await;
    for i in 0..200 {
        let method = format!("INVENTED{i}");
        let r = app.send(&method, "/nowhere", None, &[], None).await;
        assert!(r.status >= 400, "{method}: {}", r.status);
    }
    let r = app.send("GET", "/metrics", None, &[], None).await;
    assert_eq!(r.status, 200);
    assert!(!r.text.contains("INVENTED"), "{}", r.text);
    assert!(
        r.text.contains(r#"method="other",route="unmatched""#),
        "{}",
        r.text
    );
}

#[actix_web::test]
async fn the_bearer_scheme_is_case_insensitive_and_two_credentials_are_refused() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme} dev-town");
        let r = app
            .send(
                "GET",
                "/v1/procedures",
                None,
                &[("Authorization", &auth)],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.text);
    }
    let r = app
        .send(
            "GET",
            "/v1/procedures",
            None,
            &[("Authorization", "Bearer ")],
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    // Two Authorization headers (a valid one first): neither is taken.
    let mut res = app
        .client
        .get(app.url("/v1/procedures"))
        .append_header(("Authorization", "Bearer dev-town"))
        .append_header(("Authorization", "Bearer dev-village"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body = res.body().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("Authorization"), "{text}");
}

#[actix_web::test]
async fn missing_or_unknown_tokens_are_401() {
    let app = spawn_app().await;
    for path in ["/v1/procedures", "/v1/cases", "/v1/cases/x"] {
        let r = app.send("GET", path, None, &[], None).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.problem_type(), format!("{P}unauthorized"));
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
        let r = app.get(path, "stranger").await;
        assert_eq!(r.status, 401);
    }
    let r = app
        .send(
            "GET",
            "/v1/cases",
            None,
            &[("Authorization", "Basic abc")],
            None,
        )
        .await;
    assert_eq!(r.status, 401);
}

#[actix_web::test]
async fn procedures_definition_and_graphs() {
    let app = spawn_app().await;
    let r = app.get("/v1/procedures", "town").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body[0]["id"], "village-rules-filing");
    assert_eq!(r.body[0]["versions"], json!([1]));
    let r = app.get("/v1/procedures/village-rules-filing", "town").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["version"], 1);
    assert!(r.text.contains("《村民委员会组织法》第二十七条"));
    // The definition is the rule file itself, named and hashed: no internal indices.
    let source = r.body["source"].as_str().unwrap();
    assert!(source.contains("[procedure]"), "{source}");
    assert_eq!(
        r.body["sha256"],
        fazhi_core::runtime::sha256_hex(source.as_bytes())
    );
    assert!(
        r.body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|role| role["title"].is_string())
    );
    let r = app.get("/v1/procedures/nope", "town").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.problem_type(), format!("{P}not-found"));
    let r = app
        .get("/v1/procedures/village-rules-filing?version=9", "town")
        .await;
    assert_eq!(r.status, 404);
    for (format, ct, needle) in [
        ("dot", "text/vnd.graphviz", "digraph"),
        ("mermaid", "text/plain", "stateDiagram"),
        ("svg", "image/svg+xml", "<svg"),
    ] {
        let r = app
            .get(
                &format!("/v1/procedures/village-rules-filing/graph?format={format}"),
                "town",
            )
            .await;
        assert_eq!(r.status, 200, "{format}: {}", r.text);
        assert!(r.header("content-type").unwrap().starts_with(ct));
        assert!(r.text.contains(needle), "{format}: {}", r.text);
    }
    let r = app
        .get(
            "/v1/procedures/village-rules-filing/graph?format=png",
            "town",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["where"], "format");
    let r = app
        .get("/v1/procedures/village-rules-filing?colour=red", "town")
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.problem_type(), format!("{P}malformed-request"));
}

#[actix_web::test]
async fn the_graph_of_one_state_with_tracks() {
    // The major decision has states with parallel tracks; serve it beside the filing.
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let read = |name: &str| {
        fazhi_core::load::SourceFile::new(name, std::fs::read_to_string(rules.join(name)).unwrap())
    };
    let loaded = fazhi_core::load::load(&[read("major-decision.toml"), read("laws.toml")]);
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    let major = loaded.rules.get("major-decision", None).unwrap().clone();
    let app = spawn_with(tempfile::tempdir().unwrap(), |s| {
        assert!(s.rules.insert((*major).clone()));
    })
    .await;
    let with_tracks: Vec<&str> = fazhi_core::graph::states_with_tracks(&major)
        .iter()
        .map(|s| s.id())
        .collect();
    assert!(!with_tracks.is_empty());
    for s in &with_tracks {
        let r = app
            .get(
                &format!("/v1/procedures/major-decision/graph?state={s}"),
                "town",
            )
            .await;
        assert_eq!(r.status, 200, "{s}: {}", r.text);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("image/svg+xml")
        );
        // The same picture as `fazhi graph major-decision --state S`.
        assert_eq!(
            Some(r.text),
            fazhi_core::graph::to_state_svg(&major, s),
            "{s}"
        );
    }
    // An unknown state: a 422 that names it and lists the states that can be drawn, in
    // Chinese with English beside.
    let r = app
        .get("/v1/procedures/major-decision/graph?state=nowhere", "town")
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.problem_type(), format!("{P}invalid-request"));
    assert_eq!(r.body["errors"][0]["where"], "state");
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("程序“"), "{detail}");
    assert!(detail.contains("没有阶段“nowhere”"), "{detail}");
    assert!(
        detail.contains("`nowhere` is not a state of `major-decision`"),
        "{detail}"
    );
    for s in &with_tracks {
        assert!(detail.contains(s), "{s} is listed: {detail}");
    }
    // A state without tracks is named as such.
    let plain = major
        .states()
        .find(|s| s.tracks().next().is_none())
        .unwrap();
    let r = app
        .get(
            &format!("/v1/procedures/major-decision/graph?state={}", plain.id()),
            "town",
        )
        .await;
    assert_eq!(r.status, 422);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(plain.title()), "{detail}");
    assert!(detail.contains("has no parallel tracks"), "{detail}");
    // A procedure without tracks says it has none to draw.
    let r = app
        .get(
            "/v1/procedures/village-rules-filing/graph?state=adopted",
            "town",
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("it has no state with parallel tracks"),
        "{}",
        r.text
    );
    // `state` draws SVG only.
    let r = app
        .get(
            &format!(
                "/v1/procedures/major-decision/graph?state={}&format=dot",
                with_tracks[0]
            ),
            "town",
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["errors"][0]["where"], "state");
    // The OpenAPI document declares the parameter.
    let r = app.send("GET", "/openapi.json", None, &[], None).await;
    let params = r.body["paths"]["/v1/procedures/{id}/graph"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let state = params.iter().find(|p| p["name"] == "state").unwrap();
    assert_eq!(state["in"], "query", "{params:?}");
    assert_ne!(state["required"], true, "{params:?}");
}

#[actix_web::test]
async fn a_filing_from_opening_to_filed() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/cases",
            "village",
            &json!({"procedure": "village-rules-filing", "title": "某村村规民约", "facts": {"adopted_on": today()}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.header("location").unwrap(), format!("/v1/cases/{id}"));
    assert_eq!(r.header("etag").unwrap(), "\"1\"");
    assert_eq!(r.body["procedure"], "village-rules-filing");
    assert_eq!(r.body["procedure_version"], 1);
    assert_eq!(r.body["seq"], 1);
    assert_eq!(r.body["state"], "adopted");
    assert_eq!(r.body["facts"]["adopted_on"], today());
    let deadline = &r.body["deadlines"][0];
    assert_eq!(deadline["rule"], "filing_limit");
    assert_eq!(deadline["status"], "pending");
    assert!(deadline["basis"].as_str().unwrap().contains("第十四条"));
    let submit = r.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "submit")
        .unwrap()
        .clone();
    assert_eq!(submit["allowed"], true);
    assert_eq!(submit["documents"], json!(["rules_text", "meeting_record"]));
    assert!(submit["payload_schema"].is_object());

    // The town reads the same case: it may not submit, and is told why.
    let r = app.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag").unwrap(), "\"1\"");
    let submit = r.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "submit")
        .unwrap()
        .clone();
    assert_eq!(submit["allowed"], false);
    assert_eq!(submit["reasons"][0]["kind"], "role_not_allowed");

    let r = app.submit(&id, 1).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["event"]["seq"], 1);
    assert_eq!(r.body["event"]["action"], "submit");
    assert_eq!(r.body["event"]["actor"]["id"], "village");
    assert_eq!(r.body["case"]["state"], "submitted");
    assert_eq!(r.body["case"]["seq"], 2);
    assert_eq!(r.header("etag").unwrap(), "\"2\"");

    let r = app.find_lawful(&id, "judicial", 2).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["case"]["state"], "filed");
    assert_eq!(r.body["case"]["closed"], true);
    assert_eq!(r.body["case"]["facts"]["outcome"], "lawful");

    let r = app.get(&format!("/v1/cases/{id}/events"), "town").await;
    assert_eq!(r.status, 200);
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["type"], "opened");
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);
    assert_eq!(events[2]["prev_hash"], events[1]["hash"]);

    let r = app.get(&format!("/v1/cases/{id}/dossier"), "town").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["chain"]["ok"], true);
    assert_eq!(r.body["chain"]["events"], 3);
    assert_eq!(r.body["chain"]["head"], events[2]["hash"]);
    assert_eq!(r.body["documents"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["documents"][2]["document"]["sha256"], DIGEST);
    assert_eq!(r.body["procedure"]["id"], "village-rules-filing");
    // The archive carries the rule file of the version the case ran on, and its hash.
    let source = r.body["procedure"]["source"].as_str().unwrap();
    assert!(source.contains("id = \"village-rules-filing\""), "{source}");
    assert_eq!(
        r.body["procedure"]["sha256"],
        fazhi_core::runtime::sha256_hex(source.as_bytes())
    );
    assert!(r.body["procedure"]["roles"][0]["title"].is_string());
    assert_eq!(r.body["case"]["state"], "filed");

    // Nothing is allowed any more.
    let r = app
        .act(
            &id,
            "village",
            json!({"action": "withdraw", "reason": "x", "expected_seq": 3}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.problem_type(), format!("{P}refused"));
    assert_eq!(r.body["reasons"][0]["kind"], "wrong_state");
}

/// Who may do what, in the `submitted` state: 201 for the role the procedure names, 403 for
/// a principal holding none of the action's roles (even when something else is wrong too),
/// 422 for the other refusals.
#[actix_web::test]
async fn who_may_do_what() {
    let app = spawn_app().await;
    // Opening needs one of the procedure's roles.
    let r = app
        .post(
            "/v1/cases",
            "nobody",
            &json!({"procedure": "village-rules-filing", "facts": {"adopted_on": today()}}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.problem_type(), format!("{P}forbidden"));

    let order = |seq: u64| {
        json!({"action": "order_correction", "payload": {"round": 1, "findings": "第三条违法"},
               "documents": [doc("review_opinion"), doc("correction_order")], "expected_seq": seq})
    };
    let lawful = helpers::lawful_at;
    let cases: Vec<(&str, Value, u16)> = vec![
        ("village", lawful(2), 403),
        ("town", lawful(2), 403),
        // Holding none of the procedure's roles, it may not even read the case: a missing
        // case's 404, which does not tell that the case exists.
        ("nobody", lawful(2), 404),
        ("village", order(2), 403),
        ("judicial", order(2), 403),
        // Wrong state and wrong role: the role decides (403).
        ("town", json!({"action": "submit", "expected_seq": 2}), 403),
        // Right role, wrong state: 422.
        (
            "village",
            json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 2}),
            422,
        ),
        // Right role, missing document: 422.
        (
            "judicial",
            json!({"action": "find_lawful", "expected_seq": 2}),
            422,
        ),
        ("judicial", lawful(2), 201),
    ];
    for (who, body, want) in cases {
        let id = app.open(&today()).await;
        assert_eq!(app.submit(&id, 1).await.status, 201);
        let r = app.act(&id, who, body.clone()).await;
        assert_eq!(r.status, want, "{who} {body}: {}", r.text);
        if want == 403 {
            assert_eq!(r.problem_type(), format!("{P}forbidden"));
            assert!(
                r.body["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["kind"] == "role_not_allowed"),
                "{}",
                r.text
            );
        }
        if want != 201 {
            assert_eq!(app.event_count(&id).await, 2);
        }
    }
    let id = app.open(&today()).await;
    app.submit(&id, 1).await;
    let r = app.act(&id, "town", order(2)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["case"]["state"], "correcting");
    assert_eq!(r.body["case"]["facts"]["corrections"], 1);
}

#[actix_web::test]
async fn refusals_list_every_reason_with_its_article() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    app.submit(&id, 1).await;
    let r = app
        .act(
            &id,
            "town",
            json!({"action": "order_correction", "payload": {"round": "one"}, "expected_seq": 2}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.problem_type(), format!("{P}refused"));
    let kinds: Vec<&str> = r.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"payload_invalid"), "{kinds:?}");
    assert!(kinds.contains(&"document_missing"), "{kinds:?}");
    assert!(
        r.body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["basis"]
                .as_str()
                .is_some_and(|b| b.contains("第二十七条"))),
        "{}",
        r.text
    );
    let r = app
        .act(&id, "town", json!({"action": "approve", "expected_seq": 2}))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["reasons"][0]["kind"], "unknown_action");
    assert_eq!(app.event_count(&id).await, 2);
}

#[actix_web::test]
async fn stale_expected_seq_is_409_and_racers_get_one_winner() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    let r = app.submit(&id, 0).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.problem_type(), format!("{P}conflict"));
    assert_eq!(r.body["current_seq"], 1);
    let r = app.submit(&id, 5).await;
    assert_eq!(r.status, 409);

    let mut pending = Vec::new();
    for _ in 0..8 {
        pending.push(app.submit(&id, 1));
    }
    let mut statuses = Vec::new();
    for p in pending {
        statuses.push(p.await.status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(app.event_count(&id).await, 2);
}

#[actix_web::test]
async fn concurrent_duplicates_under_one_key_all_get_the_stored_answer() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    let body = serde_json::to_vec(&json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 1})).unwrap();
    let url = app.url(&format!("/v1/cases/{id}/events"));
    // Sent at once (each on its own task), not one after another.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, body) = (app.client.clone(), url.clone(), body.clone());
            actix_web::rt::spawn(async move {
                let mut res = client
                    .post(url)
                    .insert_header(("Authorization", "Bearer dev-village"))
                    .insert_header(("Content-Type", "application/json"))
                    .insert_header(("Idempotency-Key", "race-1"))
                    .send_body(body)
                    .await
                    .unwrap();
                let bytes = res.body().await.unwrap();
                (res.status().as_u16(), bytes)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    // One write; every duplicate gets the same 201 answer, none a 409.
    assert!(
        answers.iter().all(|(s, _)| *s == 201),
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|(_, b)| *b == answers[0].1));
    assert_eq!(app.event_count(&id).await, 2);
}

#[actix_web::test]
async fn idempotency_keys_replay_the_first_answer() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    let body = serde_json::to_vec(&json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 1})).unwrap();
    let path = format!("/v1/cases/{id}/events");
    let key = [("Idempotency-Key", "submit-once")];
    let first = app
        .send("POST", &path, Some("village"), &key, Some(&body))
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = app
        .send("POST", &path, Some("village"), &key, Some(&body))
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(
        again.header("idempotency-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(app.event_count(&id).await, 2);
    // Same key, another body: 422.
    let other =
        serde_json::to_vec(&json!({"action": "withdraw", "reason": "撤回", "expected_seq": 2}))
            .unwrap();
    let r = app
        .send("POST", &path, Some("village"), &key, Some(&other))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.problem_type(), format!("{P}idempotency-key-reused"));
    assert_eq!(app.event_count(&id).await, 2);
    // Keys belong to the principal: the same key by another principal is another request.
    let r = app
        .send("POST", &path, Some("archivist"), &key, Some(&other))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Opening is idempotent too.
    let open = serde_json::to_vec(
        &json!({"procedure": "village-rules-filing", "facts": {"adopted_on": today()}}),
    )
    .unwrap();
    let k = [("Idempotency-Key", "open-1")];
    let a = app
        .send("POST", "/v1/cases", Some("village"), &k, Some(&open))
        .await;
    let b = app
        .send("POST", "/v1/cases", Some("village"), &k, Some(&open))
        .await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(a.header("location"), b.header("location"));
    let r = app.get("/v1/cases?limit=1000", "town").await;
    assert_eq!(r.body["cases"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn bad_input_is_a_4xx_that_says_where_and_writes_nothing() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    let path = format!("/v1/cases/{id}/events");
    let send = |body: &'static [u8], headers: &'static [(&'static str, &'static str)]| {
        let app = &app;
        let path = path.clone();
        async move {
            app.send("POST", &path, Some("village"), headers, Some(body))
                .await
        }
    };
    // Not JSON.
    let r = send(b"{\"action\": ", &[]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.problem_type(), format!("{P}malformed-request"));
    assert!(
        r.body["errors"][0]["where"]
            .as_str()
            .unwrap()
            .starts_with("line 1")
    );
    let r = send(b"", &[]).await;
    assert_eq!(r.status, 400);
    let r = send(b"{\"action\": \"submit\", \"expected_seq\": 1} x", &[]).await;
    assert_eq!(r.status, 400);
    // Wrong types and unknown or missing fields: 422 with the path.
    let r = send(b"{\"action\": \"submit\", \"expected_seq\": \"one\"}", &[]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.problem_type(), format!("{P}invalid-request"));
    assert_eq!(r.body["errors"][0]["where"], "expected_seq");
    let r = send(
        b"{\"action\": \"submit\", \"expected_seq\": 1, \"documents\": [{\"kind\": \"rules_text\", \"name\": \"a\", \"sha256\": 5}]}",
        &[],
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["errors"][0]["where"], "documents[0].sha256");
    let r = send(
        b"{\"action\": \"submit\", \"expected_seq\": 1, \"colour\": 1}",
        &[],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let r = send(b"{\"action\": \"submit\"}", &[]).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expected_seq")
    );
    let r = send(b"[1, 2]", &[]).await;
    assert_eq!(r.status, 422);
    // Not JSON at all.
    let r = send(
        b"action=submit",
        &[("Content-Type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(r.status, 415);
    assert_eq!(r.problem_type(), format!("{P}unsupported-media-type"));
    // Too large.
    let big = format!(
        "{{\"action\": \"submit\", \"expected_seq\": 1, \"reason\": \"{}\"}}",
        "x".repeat(20_000)
    );
    let r = app
        .send("POST", &path, Some("village"), &[], Some(big.as_bytes()))
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.problem_type(), format!("{P}payload-too-large"));
    // Unknown procedure, unknown case, unknown route, wrong method.
    let r = app
        .post(
            "/v1/cases",
            "village",
            &json!({"procedure": "nope", "facts": {}}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["errors"][0]["where"], "procedure");
    let r = app
        .post(
            "/v1/cases",
            "village",
            &json!({"procedure": "village-rules-filing", "facts": {"adopted_on": "yesterday"}}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.problem_type(), format!("{P}refused"));
    assert_eq!(r.body["reasons"][0]["field"], "facts.adopted_on");
    let r = app.submit("no-such-case", 1).await;
    assert_eq!(r.status, 404);
    let r = app.get("/v1/nothing", "village").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.problem_type(), format!("{P}not-found"));
    let r = app
        .send(
            "DELETE",
            &format!("/v1/cases/{id}"),
            Some("village"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.problem_type(), format!("{P}method-not-allowed"));
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
    let r = app
        .send("PUT", "/v1/cases", Some("village"), &[], None)
        .await;
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD, POST"));
    // HEAD on a GET route: the GET's status and headers, no body.
    let r = app
        .send(
            "HEAD",
            &format!("/v1/cases/{id}"),
            Some("village"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.is_empty());
    assert!(r.header("etag").is_some());
    let r = app.get("/v1/cases?limit=0", "village").await;
    assert_eq!(r.status, 400);
    let r = app.get("/v1/cases?overdue=maybe", "village").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.problem_type(), format!("{P}malformed-request"));
    // Nothing was written.
    assert_eq!(app.event_count(&id).await, 1);
    let r = app.get("/v1/cases", "village").await;
    assert_eq!(r.body["cases"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn listing_filters_and_pages() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        // Cases adopted a month ago are past their ten-day filing limit.
        let adopted = if i % 2 == 0 {
            "2025-01-02".to_owned()
        } else {
            today()
        };
        ids.push(app.open(&adopted).await);
    }
    app.submit(&ids[1], 1).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/cases?limit=3&cursor={c}"),
            None => "/v1/cases?limit=3".to_owned(),
        };
        let r = app.get(&path, "town").await;
        assert_eq!(r.status, 200, "{}", r.text);
        for c in r.body["cases"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_owned());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let r = app.get("/v1/cases?state=submitted", "town").await;
    assert_eq!(r.body["cases"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["cases"][0]["id"], ids[1].as_str());
    let r = app
        .get(
            "/v1/cases?procedure=village-rules-filing&state=adopted",
            "town",
        )
        .await;
    assert_eq!(r.body["cases"].as_array().unwrap().len(), 6);
    let r = app.get("/v1/cases?overdue=true", "town").await;
    let overdue: Vec<&str> = r.body["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(overdue, [&ids[0], &ids[2], &ids[4], &ids[6]]);
    let r = app.get("/v1/cases?procedure=other", "town").await;
    assert!(r.body["cases"].as_array().unwrap().is_empty());
}

#[actix_web::test]
async fn only_importers_may_send_at() {
    let app = spawn_app().await;
    let open = |who: &'static str, at: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/v1/cases",
                who,
                &json!({"procedure": "village-rules-filing", "facts": {"adopted_on": "2024-03-01"}, "at": at}),
            )
            .await
        }
    };
    let r = open("village", "2024-03-02T02:00:00Z").await;
    assert_eq!(r.status, 403);
    let r = open("archivist", "2999-01-01T00:00:00Z").await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["errors"][0]["where"], "at");
    let r = open("archivist", "2024-03-02T02:00:00Z").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Any offset in, China time out.
    assert_eq!(r.body["opened_at"], "2024-03-02T10:00:00+08:00");
    // Not backwards.
    let r = app
        .act(
            &id,
            "archivist",
            json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 1, "at": "2024-03-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = app
        .act(
            &id,
            "archivist",
            json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": 1, "at": "2024-03-05T02:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["event"]["imported"], true);
    assert_eq!(r.body["event"]["at"], "2024-03-05T10:00:00+08:00");
    // A later event stamped by the service's clock.
    let r = app
        .act(
            &id,
            "village",
            json!({"action": "withdraw", "reason": "重新表决", "expected_seq": 2}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["event"].get("imported").is_none());
}

#[actix_web::test]
async fn cases_survive_a_restart() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    assert_eq!(app.submit(&id, 1).await.status, 201);
    let before = app.get(&format!("/v1/cases/{id}/dossier"), "town").await;
    assert!(app.db.exists());
    app.handle.stop(true).await;
    let app2 = helpers::spawn_on(app.dir).await;
    let r = app2.get(&format!("/v1/cases/{id}"), "town").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["state"], "submitted");
    assert_eq!(r.body["seq"], 2);
    assert_eq!(r.body["head"], before.body["chain"]["head"]);
    let r = app2.find_lawful(&id, "judicial", 2).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// With room for two cases in memory, five cases are opened, acted on and read in turn:
/// each dropped case is loaded again from the store, whole, when next asked for.
#[actix_web::test]
async fn cases_beyond_the_memory_limit_are_loaded_again() {
    let app = spawn_with(tempfile::tempdir().unwrap(), |s| s.cases_in_memory = 2).await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(app.open(&today()).await);
        }
        ids
    };
    for id in &ids {
        let r = app.submit(id, 1).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    for id in &ids {
        let r = app.get(&format!("/v1/cases/{id}"), "town").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            (r.body["seq"].as_u64(), r.body["state"].as_str()),
            (Some(2), Some("submitted"))
        );
        // A stale expected_seq is still a conflict after a reload.
        let r = app.submit(id, 1).await;
        assert_eq!(r.status, 409, "{}", r.text);
    }
    let r = app.get("/metrics", "town").await;
    let evicted: f64 = r
        .text
        .lines()
        .find(|l| l.starts_with("fazhi_cases_evicted_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(evicted >= 3.0, "{evicted}\n{}", r.text);
}

/// Three kinds of reason the fixture cannot give over HTTP (a guard that fails, with the
/// values it read; a minimum period not run yet; a strict deadline passed) follow the
/// document's schemas too, as a refusal (`Problem`) and as actions of a case (`CaseBody`).
#[test]
fn guard_and_time_reasons_follow_the_document() {
    use chrono::{TimeZone, Utc};
    use fazhi_core::runtime::{Actor, Case, Command, Opening, ReasonKind};
    use fazhi_core::time::Calendar;
    use helpers::document::{component, violations};

    let text = r#"
        language = 1
        [procedure]
        id = "review"
        version = 1
        title = "合同合法性审查"
        initial = "submitted"
        terminal = ["signed"]
        [roles]
        reviewer = { title = "司法所" }
        [facts]
        amount = { type = "integer", required = true, title = "金额" }
        [states]
        submitted = { title = "已报送" }
        signed = { title = "已签订" }
        [actions.approve]
        from = "submitted"
        to = "signed"
        by = ["reviewer"]
        when = "amount < 100 && payload.checked"
        [actions.approve.payload]
        checked = { type = "bool", required = true, title = "已核对" }
        [time.review]
        at_least = { working_days = 3 }
        after = "submitted"
        actions = ["approve"]
        basis = "本地规定（示例）"
        [time.answer]
        within = { days = 1 }
        after = "submitted"
        actions = ["approve"]
        strict = true
    "#;
    let rules = fazhi_core::load::load(&[fazhi_core::load::SourceFile::new("review.toml", text)]);
    assert_eq!(rules.errors(), 0, "{:?}", rules.diagnostics);
    let procedure = rules.rules.get("review", None).unwrap();
    let reviewer = Actor::new("justice", ["reviewer"]);
    let at = |d, h| Utc.with_ymd_and_hms(2025, 3, d, h, 0, 0).unwrap();
    let (case, _) = Case::open_recorded(
        procedure,
        Opening {
            case: "c-1".into(),
            title: "采购合同".into(),
            actor: reviewer.clone(),
            at: at(3, 1),
            facts: json!({"amount": 500}),
            imported: false,
        },
    )
    .unwrap();
    let calendar = Calendar::new();
    let mut command = Command::new("approve", reviewer.clone(), at(6, 1));
    command.payload = json!({"checked": false});
    let refusal = case.decide(command, &calendar).unwrap_err();
    let kinds = refusal.kinds();
    for kind in [
        ReasonKind::GuardFalse,
        ReasonKind::TooEarly,
        ReasonKind::TooLate,
    ] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
    let guard = refusal
        .reasons
        .iter()
        .find(|r| r.kind == ReasonKind::GuardFalse)
        .unwrap();
    assert!(!guard.failed.is_empty(), "{guard:?}");
    let problem = serde_json::to_value(
        fazhi_http::problem::ApiError::Refused(refusal, fazhi_core::lang::Lang::Zh).problem(),
    )
    .unwrap();
    let errors = violations(&component("Problem"), &problem);
    assert!(errors.is_empty(), "{errors:?}\n{problem}");
    let body = fazhi_http::service::CaseBody::new(&case, &reviewer, at(6, 1), &calendar);
    let body = serde_json::to_value(&body).unwrap();
    assert!(
        body["actions"][0]["reasons"].as_array().unwrap().len() >= 2,
        "{body}"
    );
    assert!(body["deadlines"].as_array().unwrap().len() >= 2, "{body}");
    let errors = violations(&component("CaseBody"), &body);
    assert!(errors.is_empty(), "{errors:?}\n{body}");
    // And the check is a check: a field the document does not name, or a wrong type, fails.
    let mut wrong = body.clone();
    wrong["actions"][0]["reasons"][0]["extra"] = json!(1);
    assert!(!violations(&component("CaseBody"), &wrong).is_empty());
    let mut wrong = body;
    wrong["deadlines"][0]["period"] = json!({"weeks": 2});
    assert!(!violations(&component("CaseBody"), &wrong).is_empty());
}

/// A refusal speaks Chinese by default, from the rule file's titles and with its article, and
/// English when `Accept-Language` asks for it; both messages are always there.
#[actix_web::test]
async fn a_refusal_in_chinese_by_default_and_in_english_when_asked() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    // Ordering a correction before the rules are submitted: the wrong state.
    let body = json!({
        "action": "order_correction",
        "payload": {"round": 1, "findings": "第三条违法"},
        "documents": [doc("review_opinion"), doc("correction_order")],
        "expected_seq": 1
    });
    let bytes = serde_json::to_vec(&body).unwrap();
    let path = format!("/v1/cases/{id}/events");
    let wrong_state = |r: &helpers::Resp| {
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.problem_type(), format!("{P}refused"));
        r.body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["kind"] == "wrong_state")
            .unwrap()
            .clone()
    };

    let r = app
        .send("POST", &path, Some("town"), &[], Some(&bytes))
        .await;
    let reason = wrong_state(&r);
    let zh = "当前阶段为“村民会议已通过”，“责令改正”须在“已报送备案”阶段办理（依据：《";
    assert!(
        reason["message"].as_str().unwrap().starts_with(zh),
        "{reason}"
    );
    assert!(
        reason["message"]
            .as_str()
            .unwrap()
            .ends_with("第二十七条第三款）"),
        "{reason}"
    );
    assert_eq!(reason["message"], reason["message_zh"]);
    assert!(
        reason["message_en"]
            .as_str()
            .unwrap()
            .starts_with("“order correction” may be taken in `submitted`, but the case is in `adopted` (basis: 《"),
        "{reason}"
    );
    // The ids stay in the structured fields.
    assert_eq!(reason["state"], "adopted");
    assert_eq!(reason["expected"], json!(["submitted"]));
    assert_eq!(r.body["title"], "程序不予办理");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("不予办理：当前阶段为"),
        "{}",
        r.text
    );

    for accept in ["en", "en-US,en;q=0.9,zh;q=0.5"] {
        let r = app
            .send(
                "POST",
                &path,
                Some("town"),
                &[("Accept-Language", accept)],
                Some(&bytes),
            )
            .await;
        let reason = wrong_state(&r);
        assert_eq!(reason["message"], reason["message_en"], "{reason}");
        assert!(
            reason["message"]
                .as_str()
                .unwrap()
                .starts_with("“order correction” may be taken in "),
            "{reason}"
        );
        assert!(
            reason["message_zh"].as_str().unwrap().starts_with(zh),
            "{reason}"
        );
        assert_eq!(r.body["title"], "refused by the procedure");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .starts_with("action `order_correction` refused: "),
            "{}",
            r.text
        );
    }

    // Other problems too: the title always, the detail where its text is fixed.
    let r = app
        .act(
            &id,
            "town",
            json!({"action": "order_correction", "expected_seq": 5}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["title"], "expected_seq 已过时");
    assert_eq!(
        r.body["detail"],
        "本案现有1个事件，而非5个：请重新读取案件后再办理"
    );
    let r = app.get("/v1/cases/no-such-case", "town").await;
    assert_eq!((r.status, r.body["title"].as_str()), (404, Some("未找到")));
    let r = app
        .send(
            "GET",
            "/v1/cases/no-such-case",
            Some("town"),
            &[("Accept-Language", "en-GB")],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["title"].as_str()),
        (404, Some("not found"))
    );

    // The case's deadlines and the reasons of its actions follow the header too.
    let r = app.get(&format!("/v1/cases/{id}"), "town").await;
    let deadline = &r.body["deadlines"][0];
    assert!(
        deadline["description"]
            .as_str()
            .unwrap()
            .starts_with("“通过之日起十日内报送备案”：自“村民会议通过日期”起"),
        "{deadline}"
    );
    let r = app
        .send(
            "GET",
            &format!("/v1/cases/{id}"),
            Some("town"),
            &[("Accept-Language", "en")],
            None,
        )
        .await;
    let deadline = &r.body["deadlines"][0];
    assert_eq!(deadline["description"], deadline["description_en"]);
    let reasons = r.body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["reasons"].as_array().cloned().unwrap_or_default())
        .collect::<Vec<_>>();
    assert!(!reasons.is_empty(), "{}", r.text);
    for reason in reasons {
        assert_eq!(reason["message"], reason["message_en"], "{reason}");
    }
}
