//! `POST /v1/cases/{id}/migrate` (issue 17): only an operator (`admin = true`) may move a case
//! onto a newer version of its procedure (403 for others); a stale `expected_seq` is a 409; a
//! case the migration does not move is a 422 saying why; a move is a 201 with the migration
//! event, after which the case runs on the new version.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[allow(dead_code)]
mod helpers;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::migrate::load_migration;
use fazhi_core::model::RuleSet;
use fazhi_core::runtime::{Actor, Case, Command, Opening, Recorded, sha256_hex};
use fazhi_core::time::Calendar;
use fazhi_http::config::Principals;
use fazhi_store::{Append, AppendOutcome, EventStore, NewEvent, SqliteOptions, SqliteStore};
use serde_json::json;

fn rules_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

fn shipped() -> RuleSet {
    let mut files = Vec::new();
    for e in std::fs::read_dir(rules_dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.is_file() && name.ends_with(".toml") && !name.ends_with(".test.toml") {
            files.push(SourceFile::new(name, std::fs::read_to_string(&p).unwrap()));
        }
    }
    let l = load(&files);
    assert_eq!(l.errors(), 0, "{:?}", l.diagnostics);
    l.rules
}

fn principals() -> Principals {
    let mut text = String::new();
    for (id, roles, admin) in [
        ("operator", vec![], true),
        ("sponsor", vec!["sponsor"], false),
        ("decision_body", vec!["decision_body"], false),
    ] {
        text.push_str(&format!(
            "[[principals]]\nid = \"{id}\"\nroles = {roles:?}\ntoken_sha256 = \"{}\"\nadmin = {admin}\n\n",
            sha256_hex(format!("dev-{id}").as_bytes())
        ));
    }
    Principals::parse("fazhi.toml", &text).unwrap()
}

/// Writes a major decision on version 1 as the server would: opened, then `steps` actions
/// (the start decision first) with the core's example bodies.
async fn write_case(
    store: &SqliteStore,
    rules: &RuleSet,
    cal: &Calendar,
    id: &str,
    start: bool,
    not_start: bool,
) {
    let at: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-05T09:00:00+08:00")
        .unwrap()
        .into();
    let p = rules.get("major-decision", Some(1)).unwrap();
    let actor = Actor::new(
        "decision_body",
        p.roles().map(|r| r.id().to_owned()).collect::<Vec<_>>(),
    );
    let (mut case, opened) = Case::open_recorded(
        p,
        Opening {
            case: id.into(),
            title: format!("重大决策 {id}"),
            actor: actor.clone(),
            at,
            facts: json!({"proposer": "department"}),
            imported: false,
        },
    )
    .unwrap();
    let mut recorded: Vec<Recorded> = vec![opened];
    let wanted = if start {
        Some("decide_to_start")
    } else if not_start {
        Some("decline_to_start")
    } else {
        None
    };
    if let Some(action) = wanted {
        let at = at + Duration::days(1);
        let options = case.available_actions(&actor, at, cal);
        let ex = case.action_examples(&options, &actor, at, cal);
        let ex = ex
            .iter()
            .find(|e| e.action == action)
            .unwrap_or_else(|| panic!("{ex:?}"));
        let mut c = Command::new(ex.action.clone(), actor.clone(), at);
        c.payload = ex.payload.clone();
        c.documents = ex.documents.clone();
        c.reason = ex.reason.clone();
        recorded.push(case.decide_record(c, cal).unwrap());
    }
    let now = Utc::now();
    let outcome = store
        .append(Append {
            case: id.to_owned(),
            expected_seq: 0,
            events: recorded
                .iter()
                .map(|r| NewEvent::from_recorded(r, 1))
                .collect(),
            summary: fazhi_http::service::summary_at(&case, now, cal),
            deadlines: fazhi_http::deadlines::board_at(&case, now, cal),
            idempotency: None,
        })
        .await
        .unwrap();
    assert_eq!(outcome, AppendOutcome::Appended);
}

async fn app() -> helpers::TestApp {
    let dir = tempfile::tempdir().unwrap();
    let rules = shipped();
    let cal = helpers::calendar();
    {
        let store = SqliteStore::open(SqliteOptions::new(dir.path().join("fazhi.db"))).unwrap();
        write_case(&store, &rules, &cal, "drafting-case", true, false).await;
        write_case(&store, &rules, &cal, "closed-case", false, true).await;
        store.close().await.unwrap();
    }
    let name = "migrations/major-decision-v1-v2.toml";
    let text = std::fs::read_to_string(rules_dir().join(name)).unwrap();
    let (m, diags) = load_migration(&SourceFile::new(name, text), &rules);
    assert!(diags.is_empty(), "{diags:?}");
    helpers::spawn_with(dir, move |s| {
        s.rules = rules;
        s.principals = principals();
        s.migrations = vec![m.unwrap()];
    })
    .await
}

#[actix_web::test]
async fn only_an_operator_migrates_a_case_and_it_runs_on_the_new_version_after() {
    let app = app().await;
    let path = "/v1/cases/drafting-case/migrate";
    let body = json!({"to": 2, "expected_seq": 2});
    // A principal without `admin`: 403, even one holding a role of the procedure.
    for who in ["sponsor", "decision_body"] {
        let r = app.post(path, who, &body).await;
        assert_eq!(r.status, 403, "{who}: {}", r.text);
        assert!(
            r.body["detail"].as_str().unwrap().contains("admin"),
            "{}",
            r.text
        );
    }
    // No token: 401.
    let b = serde_json::to_vec(&body).unwrap();
    assert_eq!(
        app.send("POST", path, None, &[], Some(&b)).await.status,
        401
    );
    // A stale seq: 409.
    let r = app
        .post(path, "operator", &json!({"to": 2, "expected_seq": 1}))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    // A version not loaded: 422, saying so.
    let r = app
        .post(path, "operator", &json!({"to": 7, "expected_seq": 2}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("第7版"),
        "{}",
        r.text
    );
    // A closed case: 422 with why.
    let r = app
        .post(
            "/v1/cases/closed-case/migrate",
            "operator",
            &json!({"to": 2, "expected_seq": 2}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("已办结"),
        "{}",
        r.text
    );
    // The move: 201, the migration event, the case on version 2 in the same state.
    let r = app.post(path, "operator", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["event"]["type"], "migrated");
    assert_eq!(r.body["event"]["seq"], 2);
    assert_eq!(r.body["event"]["actor"]["id"], "operator");
    assert_eq!(
        (
            r.body["event"]["from_version"].as_u64(),
            r.body["event"]["to_version"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(r.body["case"]["procedure_version"], 2);
    assert_eq!(r.body["case"]["state"], "drafting");
    assert_eq!(
        r.header("location").as_deref(),
        Some("/v1/cases/drafting-case/events/2")
    );
    let c = app.get("/v1/cases/drafting-case", "sponsor").await;
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(
        (c.body["procedure_version"].as_u64(), c.body["seq"].as_u64()),
        (Some(2), Some(3))
    );
    // The event is on the chain.
    let e = app.get("/v1/cases/drafting-case/events/2", "sponsor").await;
    assert_eq!(e.body["type"], "migrated", "{}", e.text);
    let d = app.get("/v1/cases/drafting-case/dossier", "sponsor").await;
    assert_eq!(d.body["chain"]["ok"], true, "{}", d.text);
    // Once more: it already runs on version 2.
    let r = app
        .post(path, "operator", &json!({"to": 2, "expected_seq": 3}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("已适用第2版"),
        "{}",
        r.text
    );
}

/// A store through which another writer appends to every case between the migration's
/// reading it and its appending: each append of a migration event meets a conflict.
struct Busy(std::sync::Arc<SqliteStore>);

impl EventStore for Busy {
    fn append(
        &self,
        a: Append,
    ) -> fazhi_store::BoxFuture<'static, Result<AppendOutcome, fazhi_store::StoreError>> {
        let current_seq = a.expected_seq + 1;
        Box::pin(async move { Ok(AppendOutcome::Conflict { current_seq }) })
    }
    fn events(
        &self,
        case: &str,
    ) -> fazhi_store::BoxFuture<
        'static,
        Result<Vec<fazhi_store::StoredEvent>, fazhi_store::StoreError>,
    > {
        self.0.events(case)
    }
    fn summary(
        &self,
        case: &str,
    ) -> fazhi_store::BoxFuture<
        'static,
        Result<Option<fazhi_store::CaseSummary>, fazhi_store::StoreError>,
    > {
        self.0.summary(case)
    }
    fn list(
        &self,
        q: fazhi_store::CaseQuery,
    ) -> fazhi_store::BoxFuture<'static, Result<fazhi_store::Page, fazhi_store::StoreError>> {
        self.0.list(q)
    }
    fn deadlines(
        &self,
        q: fazhi_store::DeadlineQuery,
    ) -> fazhi_store::BoxFuture<'static, Result<fazhi_store::DeadlinePage, fazhi_store::StoreError>>
    {
        self.0.deadlines(q)
    }
    fn takes_part(
        &self,
        case: &str,
        actor: &str,
    ) -> fazhi_store::BoxFuture<'static, Result<bool, fazhi_store::StoreError>> {
        self.0.takes_part(case, actor)
    }
    fn idempotency(
        &self,
        p: &str,
        k: &str,
    ) -> fazhi_store::BoxFuture<
        'static,
        Result<Option<fazhi_store::IdempotencyRecord>, fazhi_store::StoreError>,
    > {
        self.0.idempotency(p, k)
    }
    fn close(&self) -> fazhi_store::BoxFuture<'static, Result<(), fazhi_store::StoreError>> {
        self.0.close()
    }
}

#[actix_web::test]
async fn a_case_that_changed_meanwhile_is_reported_not_overwritten() {
    use fazhi_http::migrate::{Outcome, run};
    let dir = tempfile::tempdir().unwrap();
    let rules = shipped();
    let cal = helpers::calendar();
    let store = std::sync::Arc::new(
        SqliteStore::open(SqliteOptions::new(dir.path().join("fazhi.db"))).unwrap(),
    );
    write_case(&store, &rules, &cal, "drafting-case", true, false).await;
    let name = "migrations/major-decision-v1-v2.toml";
    let text = std::fs::read_to_string(rules_dir().join(name)).unwrap();
    let m = load_migration(&SourceFile::new(name, text), &rules)
        .0
        .unwrap();
    let busy = Busy(store.clone());
    let operator = Actor::new("operator", Vec::<String>::new());
    let lines = run(
        &busy,
        &rules,
        std::slice::from_ref(&m),
        &cal,
        "major-decision",
        2,
        operator.clone(),
        Utc::now(),
        true,
    )
    .await
    .unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].outcome, Outcome::Changed { current_seq: 3 });
    assert!(
        lines[0].text().contains("读取后案件已有变动"),
        "{}",
        lines[0].text()
    );
    // Nothing was written: the case is still on version 1 with its two events.
    let s = store.summary("drafting-case").await.unwrap().unwrap();
    assert_eq!((s.procedure_version, s.seq), (1, 2));
    // Through the real store it moves.
    let lines = run(
        &*store,
        &rules,
        &[m],
        &cal,
        "major-decision",
        2,
        operator,
        Utc::now(),
        true,
    )
    .await
    .unwrap();
    assert!(
        matches!(&lines[0].outcome, Outcome::Moved { to_state, seq: 2, .. } if to_state == "drafting"),
        "{lines:?}"
    );
    store.close().await.unwrap();
}
