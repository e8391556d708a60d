//! `spawn_app()`: a fresh server on port 0 over a fresh SQLite file, per test.

use std::path::{Path, PathBuf};

use actix_web::dev::ServerHandle;
use fazhi_core::load::{SourceFile, load};
use fazhi_core::runtime::sha256_hex;
use fazhi_core::time::Calendar;
use fazhi_http::config::Principals;
use fazhi_http::{Application, Settings};
use serde_json::{Value, json};

#[path = "document.rs"]
pub mod document;

pub struct TestApp {
    pub base: String,
    pub client: awc::Client,
    pub handle: ServerHandle,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
    /// The running store (the fault tests inject faults into it).
    #[allow(
        dead_code,
        reason = "used by some of the test files that share these helpers"
    )]
    pub store: SqliteHandle,
}

/// The SQLite store of a test server: dereferencing it on a server that runs on PostgreSQL
/// is a mistake of the test, and panics.
pub struct SqliteHandle(Option<std::sync::Arc<fazhi_store::SqliteStore>>);

impl std::ops::Deref for SqliteHandle {
    type Target = fazhi_store::SqliteStore;
    fn deref(&self) -> &Self::Target {
        self.0
            .as_deref()
            .expect("this test server runs on PostgreSQL: it has no SQLite store")
    }
}

pub fn calendar() -> Calendar {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/calendars");
    let mut cal = Calendar::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for p in paths {
        let table = Calendar::parse_year(&std::fs::read_to_string(p).unwrap()).unwrap();
        cal.add_year(table).unwrap();
    }
    cal
}

pub fn principals_toml() -> String {
    let mut out = String::new();
    for (id, roles, importer) in [
        ("village", vec!["village"], false),
        ("village2", vec!["village"], false),
        ("town", vec!["town"], false),
        ("judicial", vec!["judicial_office"], false),
        ("nobody", vec![], false),
        ("archivist", vec!["village", "town"], true),
    ] {
        out.push_str(&format!(
            "[[principals]]\nid = \"{id}\"\nroles = {roles:?}\ntoken_sha256 = \"{}\"\nimporter = {importer}\n\n",
            sha256_hex(format!("dev-{id}").as_bytes())
        ));
    }
    out
}

pub fn settings(db: &Path) -> Settings {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/filing.toml"),
    )
    .unwrap();
    let loaded = load(&[SourceFile::new("filing.toml", text)]);
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    let principals = Principals::parse("fazhi.toml", &principals_toml()).unwrap();
    let mut s = Settings::new(loaded.rules, calendar(), principals, db);
    s.listen = "127.0.0.1:0".into();
    s.body_limit = 16 * 1024;
    s.workers = Some(2);
    s
}

pub async fn spawn_on(dir: tempfile::TempDir) -> TestApp {
    spawn_with(dir, |_| {}).await
}

/// A server on `dir` with the test settings as `change` leaves them.
pub async fn spawn_with(dir: tempfile::TempDir, change: impl FnOnce(&mut Settings)) -> TestApp {
    let db = dir.path().join("fazhi.db");
    // A server stopped just before may still be closing its store and holding the lock.
    for _ in 0..250 {
        match fazhi_http::lock_database(&db) {
            Err(fazhi_http::StartError::Locked { .. }) => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            _ => break,
        }
    }
    let mut s = settings(&db);
    change(&mut s);
    let app = Application::build(s).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let store = SqliteHandle(app.store());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish(),
        handle,
        db,
        dir,
        store,
    }
}

/// A server on the PostgreSQL database at `url` (several may share it).
#[allow(dead_code, reason = "used by the PostgreSQL tests only")]
pub async fn spawn_pg(url: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let mut s = settings(&db);
    s.postgres = Some(url.to_owned());
    let app = Application::build(s).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let store = SqliteHandle(app.store());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        base,
        client: awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish(),
        handle,
        db,
        dir,
        store,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_on(tempfile::tempdir().unwrap()).await
}

pub struct Resp {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
    pub fn problem_type(&self) -> String {
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        self.body["type"].as_str().unwrap().to_owned()
    }
}

pub const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

pub fn doc(kind: &str) -> Value {
    json!({"kind": kind, "name": format!("{kind}.pdf"), "sha256": DIGEST})
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let mut req = self.client.request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer dev-{t}")));
        }
        for (n, v) in headers {
            req = req.insert_header((*n, *v));
        }
        let mut res = match body {
            Some(b) => {
                let has_ct = headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
                if !has_ct {
                    req = req.insert_header(("Content-Type", "application/json"));
                }
                req.send_body(b.to_vec()).await.unwrap()
            }
            None => req.send().await.unwrap(),
        };
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.body().limit(64 * 1024 * 1024).await.unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        document::follows_the_document(method, path, status, content_type, &body, &text);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send("GET", path, Some(token), &[], None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        let b = serde_json::to_vec(body).unwrap();
        self.send("POST", path, Some(token), &[], Some(&b)).await
    }

    /// Opens a filing case adopted on `adopted_on`, as the village.
    pub async fn open(&self, adopted_on: &str) -> String {
        let r = self
            .post(
                "/v1/cases",
                "village",
                &json!({"procedure": "village-rules-filing", "title": "某村村规民约", "facts": {"adopted_on": adopted_on}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn act(&self, case: &str, token: &str, body: Value) -> Resp {
        self.post(&format!("/v1/cases/{case}/events"), token, &body)
            .await
    }

    pub async fn submit(&self, case: &str, seq: u64) -> Resp {
        self.act(
            case,
            "village",
            json!({"action": "submit", "documents": [doc("rules_text"), doc("meeting_record")], "expected_seq": seq}),
        )
        .await
    }

    /// `token` finds the filing lawful (`find_lawful`, with its review opinion) at `seq`.
    pub async fn find_lawful(&self, case: &str, token: &str, seq: u64) -> Resp {
        self.act(case, token, lawful_at(seq)).await
    }

    pub async fn event_count(&self, case: &str) -> usize {
        let r = self.get(&format!("/v1/cases/{case}/events"), "town").await;
        r.body["events"].as_array().map_or(0, Vec::len)
    }
}

/// The body of `find_lawful` (with its review opinion) expecting the case at `seq`.
pub fn lawful_at(seq: u64) -> Value {
    json!({"action": "find_lawful", "documents": [doc("review_opinion")], "expected_seq": seq})
}

pub fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .date_naive()
        .to_string()
}
