#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! The who-may-read matrix of the shipped procedures and the sample principals of
//! `fazhi.example.toml`, over a real socket and a real SQLite file: for every current
//! procedure a case is opened by the opener of its first scenario, and one by each role the
//! procedure lets read only its own cases (a petitioner, a party, an applicant, a court, …),
//! and one by the first opener naming, for each such role, a sample principal holding it as a
//! participant (`participants`); then every principal lists cases, and gets every case, its
//! events or its dossier. Each answers as the procedure declares: every case of a procedure
//! one of the principal's roles reads whole, its own (opened, named in, or acted in) of one
//! it reads its own of, nothing of the others; a case it may not read answers 404, as a
//! missing one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fazhi::calendars::load_calendar_dir;
use fazhi::files::{FileKind, find, read};
use fazhi_core::load::load;
use fazhi_core::model::{Reads, RuleSet};
use fazhi_http::config::Principals;
use fazhi_http::{Application, Settings};
use serde_json::{Value, json};

// Shared with the tests of `fazhi-http`, which use all of it.
#[allow(dead_code)]
#[path = "../crates/http/tests/helpers/document.rs"]
mod document;

async fn send(
    client: &awc::Client,
    base: &str,
    method: &str,
    path: &str,
    who: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let req = client
        .request(method.parse().unwrap(), format!("{base}{path}"))
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
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    // Each kind of answer is checked against the OpenAPI document once (the check compiles a
    // validator each time: thousands would be most of the test's time).
    static CHECKED: std::sync::Mutex<BTreeSet<(String, String, u16)>> =
        std::sync::Mutex::new(BTreeSet::new());
    let shape: String = path
        .split('?')
        .next()
        .unwrap_or(path)
        .split('/')
        .map(|s| if s.len() == 36 { "{id}" } else { s })
        .collect::<Vec<_>>()
        .join("/");
    if CHECKED
        .lock()
        .unwrap()
        .insert((method.to_owned(), shape, status))
    {
        document::follows_the_document(method, path, status, content_type.as_deref(), &v, &text);
    }
    (status, v)
}

fn shipped_rules(root: &Path) -> RuleSet {
    let files = find(&[root.join("rules")], FileKind::Procedure).unwrap();
    let sources: Vec<_> = files.iter().map(|p| read(p).unwrap()).collect();
    let loaded = load(&sources);
    assert_eq!(loaded.errors(), 0);
    loaded.rules
}

/// The sample principals: id and roles.
fn sample_principals(root: &Path) -> Vec<(String, Vec<String>)> {
    let config: toml::Table = std::fs::read_to_string(root.join("fazhi.example.toml"))
        .unwrap()
        .parse()
        .unwrap();
    config["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let roles = p["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            (p["id"].as_str().unwrap().to_owned(), roles)
        })
        .collect()
}

/// TOML to JSON, a date becoming its string (as the API takes it).
fn to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect::<serde_json::Map<_, _>>(),
        ),
    }
}

/// The facts and title of the first scenario's opening of `procedure`, and who opens it.
fn first_opening(root: &Path, procedure: &str) -> (String, Value, String) {
    let text = std::fs::read_to_string(root.join(format!("rules/{procedure}.test.toml"))).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    let open = &file["scenarios"][0]["open"];
    let facts = open.get("facts").map_or(json!({}), to_json);
    let by = open["by"].as_str().unwrap().to_owned();
    let title = open
        .get("title")
        .and_then(|t| t.as_str())
        .unwrap_or(procedure)
        .to_owned();
    (by, facts, title)
}

#[actix_web::test]
async fn every_sample_principal_reads_what_the_procedures_declare() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = shipped_rules(root);
    let principals = sample_principals(root);
    let config = std::fs::read_to_string(root.join("fazhi.example.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(
        rules.clone(),
        load_calendar_dir(&root.join("rules/calendars")).unwrap(),
        Principals::parse("fazhi.example.toml", &config).unwrap(),
        dir.path().join("fazhi.db"),
    );
    settings.listen = "127.0.0.1:0".into();
    settings.workers = Some(2);
    let app = Application::build(settings).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .finish();

    // The cases: (id, procedure, opener, the principals its opening names).
    let mut cases: Vec<(String, String, String, Vec<String>)> = Vec::new();
    for p in rules.latest() {
        let id = &p.meta.id;
        let (by, facts, title) = first_opening(root, id);
        let mut openers = vec![by.clone()];
        // The first opener names, for each role that reads its own, a sample principal
        // holding it (not the importer, which reads everything).
        let mut named = BTreeMap::<String, Vec<String>>::new();
        for r in p.roles() {
            if r.reads() == Reads::Own {
                openers.push(r.id().to_owned());
                let holder = principals
                    .iter()
                    .find(|(who, roles)| who != "importer" && roles.iter().any(|x| x == r.id()));
                if let Some((who, _)) = holder {
                    named
                        .entry(r.id().to_owned())
                        .or_default()
                        .push(who.clone());
                }
            }
        }
        if !named.is_empty() {
            let body =
                json!({"procedure": id, "title": title, "facts": facts, "participants": named});
            let (status, v) = send(&client, &base, "POST", "/v1/cases", &by, Some(&body)).await;
            assert_eq!(status, 201, "{by} opens {id} naming {named:?}: {v}");
            let names = named.into_values().flatten().collect();
            cases.push((v["id"].as_str().unwrap().to_owned(), id.clone(), by, names));
        }
        if id == "petition" {
            // Two petitioners: neither sees the other's petition.
            openers.push("petitioner_b".into());
        }
        for who in openers {
            let body = json!({"procedure": id, "title": title, "facts": facts});
            let (status, v) = send(&client, &base, "POST", "/v1/cases", &who, Some(&body)).await;
            assert_eq!(status, 201, "{who} opens {id}: {v}");
            cases.push((
                v["id"].as_str().unwrap().to_owned(),
                id.clone(),
                who,
                Vec::new(),
            ));
        }
    }
    assert!(cases.len() > 25, "{} cases", cases.len());
    let reads: BTreeMap<(&str, &str), Option<Reads>> = principals
        .iter()
        .flat_map(|(who, roles)| {
            rules
                .latest()
                .map(|p| ((who.as_str(), p.meta.id.as_str()), p.reads_for(roles)))
                .collect::<Vec<_>>()
        })
        .collect();
    let missing = "0190aaaa-0000-7000-8000-000000000000";
    let (_, not_found) = send(
        &client,
        &base,
        "GET",
        &format!("/v1/cases/{missing}"),
        "town",
        None,
    )
    .await;
    let not_found = not_found.to_string().replace(missing, "<id>");

    for (who, _) in &principals {
        let may = |(id, procedure, opener, named): &(String, String, String, Vec<String>)| -> bool {
            let _ = id;
            match reads[&(who.as_str(), procedure.as_str())] {
                Some(Reads::All) => true,
                Some(Reads::Own) => opener == who || named.contains(who),
                None => false,
            }
        };
        let want: BTreeSet<&str> = cases
            .iter()
            .filter(|c| may(c))
            .map(|c| c.0.as_str())
            .collect();
        // The listing, in pages of 7 (so that paging crosses what is left out).
        let mut listed = Vec::new();
        let mut cursor = String::new();
        loop {
            let (status, v) = send(
                &client,
                &base,
                "GET",
                &format!("/v1/cases?limit=7{cursor}"),
                who,
                None,
            )
            .await;
            assert_eq!(status, 200, "{who}: {v}");
            listed.extend(
                v["cases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["id"].as_str().unwrap().to_owned()),
            );
            match v["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        let got: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
        assert_eq!(got, want, "{who} lists");
        assert_eq!(got.len(), listed.len(), "{who} lists a case twice");
        // Each case by one of its three reads in turn (so that each read meets cases the
        // principal may and may not read); the listing above covered every pair. Of a
        // procedure the principal holds no role of, the first case is enough.
        let mut seen_procedures = BTreeSet::new();
        for (n, case) in cases.iter().enumerate() {
            let (id, procedure, ..) = case;
            let holds = reads[&(who.as_str(), procedure.as_str())].is_some();
            if !seen_procedures.insert(procedure.as_str()) && !holds {
                continue;
            }
            let may = may(case);
            let tail = ["", "/events", "/dossier"][(n + who.len()) % 3];
            {
                let path = format!("/v1/cases/{id}{tail}");
                let (status, v) = send(&client, &base, "GET", &path, who, None).await;
                if may {
                    assert_eq!(status, 200, "{who} {procedure} {path}: {v}");
                } else {
                    assert_eq!(status, 404, "{who} {procedure} {path}: {v}");
                    assert_eq!(
                        v.to_string().replace(id.as_str(), "<id>"),
                        not_found,
                        "{who} {path}"
                    );
                }
            }
        }
    }
    // What the issue asked: a party and each petitioner see only their own petitions (those
    // they opened or are named in), and no petition of anyone else.
    let petitions = |who: &str| -> Vec<&str> {
        cases
            .iter()
            .filter(|(_, p, opener, named)| {
                p == "petition" && (opener == who || named.iter().any(|n| n == who))
            })
            .map(|c| c.0.as_str())
            .collect()
    };
    assert_eq!(petitions("petitioner").len(), 2);
    assert_eq!(petitions("petitioner_b").len(), 1);
    for who in ["party", "petitioner", "petitioner_b"] {
        let (_, v) = send(
            &client,
            &base,
            "GET",
            "/v1/cases?procedure=petition&limit=1000",
            who,
            None,
        )
        .await;
        let got: Vec<&str> = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(got, petitions(who), "{who}");
    }
}

/// Every role of every shipped procedure file says what it reads (the default, `own`, is
/// for files that do not think about it), and the versions of a procedure agree on it for
/// the roles they share: the newest decides for all cases, so an older version saying
/// otherwise would mislead.
#[test]
fn every_shipped_role_declares_what_it_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut undeclared = Vec::new();
    for entry in std::fs::read_dir(root.join("rules")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".toml") || name.ends_with(".test.toml") || name == "laws.toml" {
            continue;
        }
        let file: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        for (role, t) in file["roles"].as_table().unwrap() {
            if t.get("reads").is_none() {
                undeclared.push(format!("{name}: {role}"));
            }
        }
    }
    assert!(
        undeclared.is_empty(),
        "roles without `reads`: {undeclared:?}"
    );
    let rules = shipped_rules(root);
    for p in rules.all() {
        let newest = rules.get(&p.meta.id, None).unwrap();
        for r in p.roles() {
            if let Some(n) = newest.role(r.id()) {
                assert_eq!(
                    n.reads(),
                    r.reads(),
                    "{} v{} role {}",
                    p.meta.id,
                    p.version,
                    r.id()
                );
            }
        }
    }
}
