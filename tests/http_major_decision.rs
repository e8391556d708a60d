#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! A full major decision through the HTTP API, from opening to archiving and execution: the
//! first scenario of `rules/major-decision.test.toml`, step by step, over a real socket and a
//! real SQLite file. Every principal holds one role and is an importer, so that the
//! scenario's dates (in 2025) can be given as `at`; the service checks they never go back.

use std::path::Path;

use chrono::{NaiveDateTime, TimeZone, Utc};
use fazhi::calendars::load_calendar_dir;
use fazhi::files::{FileKind, find, read};
use fazhi_core::load::load;
use fazhi_core::runtime::sha256_hex;
use fazhi_http::config::Principals;
use fazhi_http::{Application, Settings};
use serde_json::{Value, json};

// Shared with the tests of `fazhi-http`, which use all of it.
#[allow(dead_code)]
#[path = "../crates/http/tests/helpers/document.rs"]
mod document;

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn utc(local: &toml::Value) -> String {
    let text = local.as_datetime().unwrap().to_string();
    let naive = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S").unwrap();
    let cst = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    cst.from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn json_of(v: Option<&toml::Value>) -> Value {
    v.map_or(json!({}), |v| serde_json::to_value(v).unwrap())
}

/// Sends a request and checks the answer against `/openapi.json`.
async fn send(
    client: &awc::Client,
    method: &str,
    url: &str,
    who: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let req = client
        .request(method.parse().unwrap(), url)
        .insert_header(("Authorization", format!("Bearer dev-{who}")));
    let mut res = match body {
        Some(b) => req.send_json(b).await.unwrap(),
        None => req.send().await.unwrap(),
    };
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = res.body().limit(16 << 20).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map_or(String::new(), |p| format!("/{p}"));
    document::follows_the_document(method, &path, status, content_type.as_deref(), &v, &text);
    (status, v)
}

#[actix_web::test]
async fn a_major_decision_from_opening_to_archiving() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = find(&[root.join("rules")], FileKind::Procedure).unwrap();
    let sources: Vec<_> = files.iter().map(|p| read(p).unwrap()).collect();
    let loaded = load(&sources);
    assert_eq!(loaded.errors(), 0);
    let p = loaded.rules.get("major-decision", None).unwrap().clone();
    let mut config = String::new();
    for r in p.roles() {
        config.push_str(&format!(
            "[[principals]]\nid = \"{0}\"\nroles = [\"{0}\"]\ntoken_sha256 = \"{1}\"\nimporter = true\n",
            r.id(),
            sha256_hex(format!("dev-{}", r.id()).as_bytes())
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(
        loaded.rules,
        load_calendar_dir(&root.join("rules/calendars")).unwrap(),
        Principals::parse("test.toml", &config).unwrap(),
        dir.path().join("fazhi.db"),
    );
    settings.listen = "127.0.0.1:0".into();
    let app = Application::build(settings).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish();

    let text = std::fs::read_to_string(root.join("rules/major-decision.test.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    let scenario = &file["scenarios"][0];
    let open = &scenario["open"];
    let (status, case) = send(
        &client,
        "POST",
        &format!("{base}/v1/cases"),
        open["by"].as_str().unwrap(),
        Some(
            &json!({"procedure": "major-decision", "title": open["title"].as_str().unwrap(),
                "facts": json_of(open.get("facts")), "at": utc(&open["at"])}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap().to_owned();
    let mut seq = case["seq"].as_u64().unwrap();
    let mut last = case;
    let mut cited = 0;
    for (n, step) in scenario["steps"].as_array().unwrap().iter().enumerate() {
        let documents: Vec<Value> = step
            .get("documents")
            .and_then(|d| d.as_array())
            .map(|d| {
                d.iter()
                    .map(|k| json!({"kind": k.as_str().unwrap(), "name": "file.pdf", "sha256": DIGEST}))
                    .collect()
            })
            .unwrap_or_default();
        let mut body = json!({"action": step["action"].as_str().unwrap(), "payload": json_of(step.get("payload")),
                              "documents": documents, "expected_seq": seq, "at": utc(&step["at"])});
        if let Some(r) = step.get("reason") {
            body["reason"] = json!(r.as_str().unwrap());
        }
        let who = step["by"].as_str().unwrap();
        let url = format!("{base}/v1/cases/{id}/events");
        let (status, v) = send(&client, "POST", &url, who, Some(&body)).await;
        if let Some(refused) = step.get("refused") {
            let want: Vec<&str> = refused
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            let expected_status = if want.contains(&"role_not_allowed") {
                403
            } else {
                422
            };
            assert_eq!(status, expected_status, "step {n}: {v}");
            let mut got: Vec<&str> = v["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["kind"].as_str().unwrap())
                .collect();
            got.sort_unstable();
            let mut want = want;
            want.sort_unstable();
            assert_eq!(got, want, "step {n}: {v}");
            // Each article the scenario expects is cited over the wire too, with the law and
            // the article as fields.
            for cite in step
                .get("cites")
                .and_then(|c| c.as_array())
                .into_iter()
                .flatten()
            {
                let cite = cite.as_str().unwrap();
                let reason = v["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| {
                        r["citation"] == cite
                            || r["basis"].as_str().is_some_and(|b| b.contains(cite))
                    })
                    .unwrap_or_else(|| panic!("step {n}: no reason cites {cite}: {v}"));
                assert!(reason["law"].is_string(), "step {n}: {reason}");
                assert!(reason["article"].is_u64(), "step {n}: {reason}");
                cited += 1;
            }
            continue;
        }
        assert_eq!(status, 201, "step {n} ({}): {v}", step["action"]);
        seq += 1;
        let case = &v["case"];
        if let Some(state) = step.get("state") {
            assert_eq!(case["state"], state.as_str().unwrap(), "step {n}");
        }
        if let Some(facts) = step.get("facts") {
            for (k, want) in facts.as_table().unwrap() {
                assert_eq!(
                    case["facts"][k],
                    serde_json::to_value(want).unwrap(),
                    "step {n}: fact {k}"
                );
            }
        }
        last = case.clone();
    }
    assert!(
        last["closed"].as_bool().unwrap() || last["state"] == "closed",
        "{last}"
    );
    assert!(cited > 0, "the scenario expects no cited article");

    // The archive: every event, every document, a sound chain.
    let url = format!("{base}/v1/cases/{id}/dossier");
    let (status, dossier) = send(&client, "GET", &url, "decision_body", None).await;
    assert_eq!(status, 200, "{dossier}");
    assert_eq!(dossier["chain"]["ok"], true);
    assert_eq!(dossier["chain"]["events"].as_u64().unwrap(), seq);
    assert!(
        dossier["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "archive")
    );
    assert!(dossier["events"][1]["imported"].as_bool().unwrap());
    assert!(!dossier["documents"].as_array().unwrap().is_empty());
}
