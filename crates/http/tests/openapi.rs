//! The OpenAPI document against the server: every parameter is where the server reads it,
//! every limit the document states is the server's (one step inside is accepted, one step
//! outside is a 400), the served document names the loaded procedures and their facts, the
//! links lead somewhere, and the `Location` of a new event answers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[allow(dead_code)] // The helpers are shared with `api.rs`, which uses the rest.
mod helpers;

use helpers::{spawn_app, today};
use serde_json::{Value, json};

/// The document the test server serves.
async fn served(app: &helpers::TestApp) -> Value {
    let r = app.send("GET", "/openapi.json", None, &[], None).await;
    assert_eq!(r.status, 200);
    r.body
}

/// Each operation of the document: method, path template, operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[actix_web::test]
async fn every_parameter_is_where_the_server_reads_it() {
    let app = spawn_app().await;
    let doc = served(&app).await;
    for (method, path, op) in operations(&doc) {
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let templated: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for p in &params {
            let name = p["name"].as_str().unwrap();
            let place = p["in"].as_str().unwrap();
            assert_eq!(
                place == "path",
                templated.contains(&name),
                "{method} {path}: parameter `{name}` is declared `in: {place}`"
            );
            if place != "path" {
                assert!(
                    !p["schema"]["type"]
                        .as_array()
                        .is_some_and(|t| t.contains(&json!("null"))),
                    "{method} {path}: `{name}` cannot be null in a {place}"
                );
            }
        }
        for t in templated {
            assert!(
                params.iter().any(|p| p["name"] == t && p["in"] == "path"),
                "{method} {path}: `{{{t}}}` is not declared"
            );
        }
    }
    // The three operations with a query read it there.
    for (path, names) in [
        (
            "/v1/cases",
            &["procedure", "state", "overdue", "limit", "cursor"][..],
        ),
        ("/v1/procedures/{id}", &["version"][..]),
        ("/v1/procedures/{id}/graph", &["format", "version"][..]),
    ] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        for n in names {
            assert!(
                params.iter().any(|p| p["name"] == *n && p["in"] == "query"),
                "GET {path}: `{n}` is not a query parameter"
            );
        }
    }
}

/// A query with one integer parameter at `value`.
fn query_path(path: &str, name: &str, value: &str) -> String {
    let path = path.replace("{id}", "village-rules-filing");
    format!("{path}?{name}={value}")
}

#[actix_web::test]
async fn every_integer_limit_of_a_query_is_the_servers() {
    let app = spawn_app().await;
    let doc = served(&app).await;
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["in"] != "query" || p["schema"]["type"] != "integer" {
                continue;
            }
            let name = p["name"].as_str().unwrap();
            let min = p["schema"]["minimum"].as_u64().expect("a minimum");
            let max = p["schema"]["maximum"].as_u64().expect("a maximum");
            for (value, inside) in [
                (min.to_string(), true),
                (max.to_string(), true),
                (
                    min.checked_sub(1)
                        .map_or_else(|| "-1".to_owned(), |v| v.to_string()),
                    false,
                ),
                ((u128::from(max) + 1).to_string(), false),
            ] {
                let r = app
                    .send(
                        &method.to_uppercase(),
                        &query_path(&path, name, &value),
                        Some("town"),
                        &[],
                        None,
                    )
                    .await;
                assert_eq!(
                    r.status == 400,
                    !inside,
                    "{method} {path}?{name}={value} ({}): {}",
                    if inside {
                        "inside the document's range"
                    } else {
                        "outside it"
                    },
                    r.text
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 12, "limit and the two versions: {checked}");
    // Each format the document lists draws; another is a 400.
    let formats = doc["components"]["schemas"]["GraphFormat"]["enum"]
        .as_array()
        .unwrap();
    assert_eq!(formats.len(), 3);
    for f in formats {
        let r = app
            .get(
                &format!(
                    "/v1/procedures/village-rules-filing/graph?format={}",
                    f.as_str().unwrap()
                ),
                "town",
            )
            .await;
        assert_eq!(r.status, 200, "{f}");
    }
}

#[actix_web::test]
async fn the_idempotency_key_and_expected_seq_limits_are_the_servers() {
    let app = spawn_app().await;
    let doc = served(&app).await;
    let key = doc["paths"]["/v1/cases"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap()["schema"]
        .clone();
    let max = usize::try_from(key["maxLength"].as_u64().unwrap()).unwrap();
    assert_eq!(key["minLength"], 1);
    let pattern = key["pattern"].as_str().unwrap();
    let body = serde_json::to_vec(
        &json!({"procedure": "village-rules-filing", "facts": {"adopted_on": today()}}),
    )
    .unwrap();
    let long = "k".repeat(max);
    let too_long = "k".repeat(max + 1);
    for (k, ok) in [
        (long.as_str(), true),
        ("!~", true),
        (too_long.as_str(), false),
        ("a b", false),
    ] {
        // What the document's pattern says of the key is what the server does.
        let fits = helpers::document::violations(&key, &json!(k)).is_empty();
        assert_eq!(fits, ok, "{k:?} against {pattern}");
        let r = app
            .send(
                "POST",
                "/v1/cases",
                Some("village"),
                &[("Idempotency-Key", k)],
                Some(&body),
            )
            .await;
        assert_eq!(r.status == 201, ok, "{k:?}: {}", r.text);
        if !ok {
            assert_eq!(r.status, 400);
        }
    }
    // `expected_seq` takes any u64: the largest is a stale seq (409), not a malformed body.
    let seq = &doc["components"]["schemas"]["AppendRequest"]["properties"]["expected_seq"];
    assert_eq!(seq["maximum"], json!(u64::MAX));
    let id = app.open(&today()).await;
    let r = app
        .act(
            &id,
            "village",
            json!({"action": "submit", "expected_seq": u64::MAX}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = app
        .send(
            "POST",
            &format!("/v1/cases/{id}/events"),
            Some("village"),
            &[],
            Some(br#"{"action":"submit","expected_seq":18446744073709551616}"#),
        )
        .await;
    assert!(
        matches!(r.status, 400 | 422),
        "one over u64 is refused: {}",
        r.text
    );
}

#[actix_web::test]
async fn the_served_document_names_the_procedures_and_opens_a_case_from_it() {
    let app = spawn_app().await;
    let doc = served(&app).await;
    let open = &doc["components"]["schemas"]["OpenRequest"];
    assert_eq!(
        open["properties"]["procedure"]["enum"],
        json!(["village-rules-filing"])
    );
    let variant = &open["oneOf"][0];
    assert_eq!(
        variant["properties"]["procedure"]["const"],
        "village-rules-filing"
    );
    let facts = &variant["properties"]["facts"];
    assert_eq!(facts["required"], json!(["adopted_on"]));
    assert_eq!(facts["properties"]["adopted_on"]["format"], "date");
    // A body built from the document alone is accepted; one it forbids is refused.
    let good = json!({"procedure": "village-rules-filing", "facts": {"adopted_on": today()}});
    assert!(helpers::document::violations(open, &good).is_empty());
    let r = app.post("/v1/cases", "village", &good).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let bad = json!({"procedure": "village-rules-filing", "facts": {"adopted_on": today(), "invented": 1}});
    assert!(!helpers::document::violations(open, &bad).is_empty());
    let r = app.post("/v1/cases", "village", &bad).await;
    assert_eq!(r.status, 422, "{}", r.text);
    // Participants are named by the procedure's roles, with the core's limits.
    let named = json!({"procedure": "village-rules-filing", "facts": {"adopted_on": today()},
                       "participants": {"village": ["village2"]}});
    assert!(helpers::document::violations(open, &named).is_empty());
    for participants in [
        json!({"mayor": ["x"]}),
        json!({"village": []}),
        json!({"village": ["a b"]}),
    ] {
        let mut bad = named.clone();
        bad["participants"] = participants;
        assert!(
            !helpers::document::violations(open, &bad).is_empty(),
            "{bad}"
        );
    }
    // Every link names an operation the document has, and every parameter it fills.
    let ids: Vec<String> = operations(&doc)
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    let mut links = 0;
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                let target = link["operationId"].as_str().unwrap();
                assert!(
                    ids.iter().any(|i| i == target),
                    "{method} {path} {status} {name}"
                );
                links += 1;
            }
        }
    }
    assert!(links >= 16, "{links}");
}

#[actix_web::test]
async fn the_location_of_a_new_event_answers_with_the_event() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    let r = app.submit(&id, 1).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let location = r.header("location").unwrap();
    assert_eq!(location, format!("/v1/cases/{id}/events/1"));
    let e = app.get(&location, "town").await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(e.body, r.body["event"]);
    let head = app.send("HEAD", &location, Some("town"), &[], None).await;
    assert_eq!(head.status, 200);
    let opening = app.get(&format!("/v1/cases/{id}/events/0"), "town").await;
    assert_eq!(opening.body["type"], "opened", "{}", opening.text);
    for (path, status) in [
        (format!("/v1/cases/{id}/events/2"), 404),
        ("/v1/cases/nope/events/0".to_owned(), 404),
        (format!("/v1/cases/{id}/events/one"), 400),
        (format!("/v1/cases/{id}/events/-1"), 400),
    ] {
        let r = app.get(&path, "town").await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        assert!(r.problem_type().starts_with("https://fazhi.dev/problems/"));
    }
    let r = app.send("GET", &location, None, &[], None).await;
    assert_eq!(r.status, 401);
}

#[actix_web::test]
async fn an_importers_at_has_a_floor_and_a_ceiling() {
    let app = spawn_app().await;
    let facts = json!({"adopted_on": "1950-01-01"});
    for at in [
        "0001-01-01T00:00:00Z",
        "1949-09-30T23:59:59+08:00",
        "1949-09-30T15:59:59Z",
    ] {
        let r = app
            .post(
                "/v1/cases",
                "archivist",
                &json!({"procedure": "village-rules-filing", "facts": facts, "at": at}),
            )
            .await;
        assert_eq!(r.status, 422, "{at}: {}", r.text);
        assert_eq!(r.body["errors"][0]["where"], "at", "{}", r.text);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("1949-10-01"), "{detail}");
        assert!(detail.contains("+08:00"), "China time: {detail}");
    }
    let r = app
        .post(
            "/v1/cases",
            "archivist",
            &json!({"procedure": "village-rules-filing", "facts": facts, "at": "1949-10-01T00:00:00+08:00"}),
        )
        .await;
    assert_eq!(r.status, 201, "the floor itself is allowed: {}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let future = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let r = app
        .act(
            &id,
            "archivist",
            json!({"action": "withdraw", "expected_seq": 1, "reason": "x", "at": future}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("future"),
        "{}",
        r.text
    );
}

/// Sends raw bytes on a new connection and reads the answer (until the server closes; every
/// request here asks it to, or is one it closes after).
fn raw(base: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before it has read everything (a head too large).
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status line and whether the answer is a problem document.
fn status_and_problem(answer: &str) -> (String, bool) {
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let problem = answer
        .to_ascii_lowercase()
        .contains("content-type: application/problem+json");
    (status, problem)
}

#[actix_web::test]
async fn requests_actix_reads_badly_are_answered_over_tcp() {
    let app = spawn_app().await;
    let base = app.base.clone();
    let auth = "Authorization: Bearer dev-town\r\n";
    // Whatever reaches the routes is a problem document: a path, a query, a body that does
    // not read, a header that is not text.
    let close = "Connection: close\r\n\r\n";
    for (request, status) in [
        (format!("GET /v1/cases/x/events/%FF HTTP/1.1\r\nHost: a\r\n{auth}{close}").into_bytes(), "400"),
        (format!("GET /v1/cases?limit=%FF HTTP/1.1\r\nHost: a\r\n{auth}{close}").into_bytes(), "400"),
        (format!("GET /v1/cases?limit=1&limit=2 HTTP/1.1\r\nHost: a\r\n{auth}{close}").into_bytes(), "400"),
        (
            [
                format!("POST /v1/cases HTTP/1.1\r\nHost: a\r\n{auth}Content-Type: application/json\r\nContent-Length: 3\r\n{close}").as_bytes(),
                b"\xff\xfe{",
            ]
            .concat(),
            "400",
        ),
        (
            [
                b"GET /v1/cases HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \xff\r\n".as_slice(),
                close.as_bytes(),
            ]
            .concat(),
            "401",
        ),
    ] {
        let answer = tokio_blocking(&base, request).await;
        let (line, problem) = status_and_problem(&answer);
        assert!(line.contains(status), "{line}\n{answer}");
        assert!(problem, "{answer}");
    }
    // What actix's HTTP/1 codec refuses before any route or middleware runs: a request line
    // or header that does not parse (400), a head over its buffer (431). Its answer is built
    // inside actix-http with no body and no hook to change it: these stay bodiless.
    for (request, status) in [
        (b"NOT HTTP\r\n\r\n".to_vec(), "400"),
        (
            b"GET /v1/cases HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n".to_vec(),
            "400",
        ),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
                "a".repeat(256 * 1024)
            )
            .into_bytes(),
            "431",
        ),
    ] {
        let answer = tokio_blocking(&base, request).await;
        let (line, problem) = status_and_problem(&answer);
        assert!(line.contains(status), "{line}\n{answer}");
        assert!(!problem, "actix-http answers these itself: {answer}");
    }
}

/// [`raw`] off the test's runtime thread.
async fn tokio_blocking(base: &str, request: Vec<u8>) -> String {
    let base = base.to_owned();
    // Off this thread: the server's own tasks run on it.
    actix_web::rt::task::spawn_blocking(move || raw(&base, &request))
        .await
        .unwrap()
}

/// The case view's `examples` are request bodies the case accepts now: following them (as
/// the document's `take_example_{i}` links do) takes a filing through its whole life, each
/// sent as it is answering 201. A caller who may take nothing (another committee's filing, a
/// closed one) is offered none; every allowed action with an example is one the caller may
/// take.
#[actix_web::test]
async fn the_examples_of_a_case_view_are_taken_as_they_are() {
    let app = spawn_app().await;
    let id = app.open(&today()).await;
    let mut taken = Vec::new();
    let who = ["village", "town", "judicial"];
    'steps: for step in 0..20 {
        // In turn, the first of the three that is offered an example takes it.
        for k in 0..who.len() {
            let actor = who[(step + k) % who.len()];
            let case = app.get(&format!("/v1/cases/{id}"), actor).await;
            assert_eq!(case.status, 200, "{}", case.text);
            let examples = case.body["examples"].as_array().unwrap().clone();
            let allowed: Vec<&str> = case.body["actions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["allowed"] == true)
                .map(|a| a["id"].as_str().unwrap())
                .collect();
            for e in &examples {
                assert!(allowed.contains(&e["action"].as_str().unwrap()), "{e}");
                assert_eq!(e["expected_seq"], case.body["seq"], "{e}");
            }
            let Some(first) = examples.first() else {
                continue;
            };
            let r = app
                .post(&format!("/v1/cases/{id}/events"), actor, first)
                .await;
            assert_eq!(r.status, 201, "{actor} {first}: {}", r.text);
            // The answer carries the next examples too.
            assert!(r.body["case"]["examples"].is_array(), "{}", r.text);
            taken.push(first["action"].as_str().unwrap().to_owned());
            continue 'steps;
        }
        break;
    }
    // Submitted, then corrected (a payload of an integer and a text, two documents), and so
    // on until the filing is closed or nobody may act.
    assert_eq!(
        taken.first().map(String::as_str),
        Some("submit"),
        "{taken:?}"
    );
    assert!(taken.iter().any(|a| a == "order_correction"), "{taken:?}");
    let last = app.get(&format!("/v1/cases/{id}"), "town").await;
    assert!(
        taken.len() == 20 || last.body["examples"].as_array().unwrap().is_empty(),
        "{taken:?}"
    );
    // The town reads the filing; the other committee reads nothing, so is offered nothing.
    let other = app.open(&today()).await;
    let seen = app.get(&format!("/v1/cases/{other}"), "town").await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    for e in seen.body["examples"].as_array().unwrap() {
        let a = seen.body["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == e["action"])
            .unwrap();
        assert_eq!(a["allowed"], true, "{e}");
    }
}
