//! The routes under `/v1`, plus `/healthz`. Every rule decision is the core's: a handler
//! reads the request, asks the core, appends what the core decided, and answers.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use fazhi_core::lang::Lang;
use fazhi_core::model::Procedure;
use fazhi_core::runtime::{
    Case, Command, DocumentRef, Event, Opening, ReasonKind, Recorded, sha256_hex,
};
use fazhi_store::{Append, AppendOutcome, CaseQuery, IdempotencyRecord, NewEvent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access;
use crate::config::Principal;
use crate::problem::{ApiError, FieldError, Problem, lang_of};
use crate::service::{AppState, CaseBody, actor};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("no application state".into()))?;
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(ApiError::Unauthorized(
            "send `Authorization: Bearer <token>`".into(),
        ));
    };
    // Two credentials are ambiguous: neither is taken.
    if values.next().is_some() {
        return Err(ApiError::Unauthorized(
            "send one `Authorization` header, not several".into(),
        ));
    }
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim_start().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the `Authorization` header must be `Bearer <token>`".into())
        })?;
    state
        .principals
        .authenticate(token)
        .cloned()
        .map(Caller)
        .ok_or_else(|| ApiError::Unauthorized("the bearer token is not known".into()))
}

/// The language the caller asks for in `Accept-Language` (Chinese unless English comes
/// first): the language of refusal reasons, deadline descriptions and a refusal's problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptLang(pub Lang);

impl FromRequest for AcceptLang {
    type Error = ApiError;
    type Future = std::future::Ready<Result<AcceptLang, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(AcceptLang(lang_of_request(req))))
    }
}

pub(crate) fn lang_of_request(req: &HttpRequest) -> Lang {
    lang_of(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Reads a JSON body of at most the configured size and decodes it, saying where it is wrong.
pub(crate) async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<(T, web::Bytes), ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or_default().trim().to_owned();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let limit = state.body_limit;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::TooLarge { limit });
    }
    let bytes = match payload.to_bytes_limited(limit).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            return Err(ApiError::malformed(
                "body",
                format!("cannot read the body: {e}"),
            ));
        }
        Err(_) => return Err(ApiError::TooLarge { limit }),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed(
            "body",
            "the body is empty: send a JSON object",
        ));
    }
    let value = decode::<T>(&bytes)?;
    Ok((value, bytes))
}

/// Decodes JSON with the path of the first error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // The fast path; only a body that does not decode is read again to say where.
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path == "." || path.is_empty() {
            format!("line {} column {}", inner.line(), inner.column())
        } else {
            path
        };
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::Invalid {
                detail: format!("the body does not fit: {inner}"),
                errors: vec![FieldError {
                    at,
                    message: inner.to_string(),
                }],
            },
            _ => ApiError::Malformed {
                detail: format!("the body is not valid JSON: {inner}"),
                errors: vec![FieldError {
                    at: format!("line {} column {}", inner.line(), inner.column()),
                    message: inner.to_string(),
                }],
            },
        }
    })?;
    de.end().map_err(|e| {
        ApiError::malformed(
            format!("line {} column {}", e.line(), e.column()),
            format!("trailing characters after the JSON value: {e}"),
        )
    })?;
    Ok(value)
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
}

pub(crate) fn etag(seq: u64) -> String {
    format!("\"{seq}\"")
}

pub(crate) fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("no application state".into()))
}

// ---------------------------------------------------------------------------------------------
// Health

/// The service is up and its store accepts writes (else 503 `unavailable`, saying why:
/// the store is reopening its file after a fault, or the file was removed under it).
#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, description = "up", body = Object)))]
pub async fn healthz(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(r) = state_of(&req)?.store.status().refusing {
        return Err(ApiError::StoreUnavailable {
            kind: r.kind.label(),
            zh: r.zh,
            en: r.en,
        });
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#))
}

// ---------------------------------------------------------------------------------------------
// Procedures

/// A procedure in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureSummary {
    /// Its id.
    pub id: String,
    /// Its newest version (new cases use it).
    pub version: u32,
    /// Every loaded version.
    pub versions: Vec<u32>,
    /// Its Chinese title.
    pub title: String,
    /// Its English title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    /// Its legal basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Its roles, by id.
    pub roles: Vec<String>,
}

/// Every loaded procedure, newest version of each.
#[utoipa::path(get, path = "/v1/procedures", tag = "procedures",
    responses((status = 200, body = Vec<ProcedureSummary>), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_procedures(_caller: Caller, state: web::Data<AppState>) -> HttpResponse {
    let out: Vec<ProcedureSummary> = state
        .rules
        .latest()
        .map(|p| ProcedureSummary {
            id: p.meta.id.clone(),
            version: p.version,
            versions: state
                .rules
                .all()
                .filter(|q| q.meta.id == p.meta.id)
                .map(|q| q.version)
                .collect(),
            title: p.meta.title.clone(),
            title_en: p.meta.title_en.clone(),
            basis: p.meta.basis.clone(),
            roles: p.roles().map(|r| r.id().to_owned()).collect(),
        })
        .collect();
    json_response(StatusCode::OK, &out)
}

/// Which version of a procedure.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// The version (default: the newest).
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub version: Option<u32>,
}

fn procedure<'a>(
    state: &'a AppState,
    id: &str,
    version: Option<u32>,
) -> Result<&'a Arc<Procedure>, ApiError> {
    state.rules.get(id, version).ok_or_else(|| match version {
        Some(v) => ApiError::NotFound(format!("no procedure `{id}` version {v}")),
        None => ApiError::NotFound(format!("no procedure `{id}`")),
    })
}

/// A procedure version as people read it: its names and titles, and the rule file it was
/// loaded from, with the file's SHA-256 (what a case's dossier carries for the version the
/// case ran on).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureSource {
    /// Its id.
    pub id: String,
    /// The version.
    pub version: u32,
    /// Its Chinese title.
    pub title: String,
    /// Its English title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    /// Its legal basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The first day the version applies to, when the file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<chrono::NaiveDate>,
    /// Its roles: id, title (and English title).
    pub roles: Vec<RoleName>,
    /// The rule file's name (`rules/major-decision.toml`).
    pub file: String,
    /// The SHA-256 of the rule file's text.
    pub sha256: String,
    /// The rule file's text: the definition itself, every element with its title and basis.
    #[schema(value_type = String)]
    pub source: Arc<str>,
    /// Every action, in file order: who may take it, where, where it leads, and its article.
    pub actions: Vec<ActionName>,
    /// The states of the main machine, in file order, by id and title.
    pub states: Vec<Named>,
    /// The parallel tracks, each with its states, by id and title.
    pub tracks: Vec<TrackName>,
    /// The facts, by id and title, with the Chinese titles of an enum's values.
    pub facts: Vec<FactName>,
    /// The kinds of document, by id and title.
    pub documents: Vec<Named>,
    /// The time rules (deadlines and waiting periods), by id and title.
    pub time_rules: Vec<Named>,
    /// How many scenarios of the served rules directory (`*.test.toml`) test this procedure
    /// (any version); absent where the server was given none to count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<usize>,
}

/// An element of a procedure by id and Chinese title: what a client needs to show titles,
/// never ids.
#[derive(Debug, Serialize, ToSchema)]
pub struct Named {
    /// Its id, as cases and events carry it.
    pub id: String,
    /// Its Chinese title.
    pub title: String,
}

/// A fact by id and Chinese title, with the Chinese titles of its values when it is an enum
/// whose rule file gives them (`labels`): what a client shows instead of a value's id.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactName {
    /// Its id, as cases and events carry it.
    pub id: String,
    /// Its Chinese title.
    pub title: String,
    /// Value id → Chinese title (`{"natural_person": "公民"}`); absent when it has none (a
    /// value without one is shown as its id).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A parallel track by id and title, with its states.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackName {
    /// Its id.
    pub id: String,
    /// Its Chinese title.
    pub title: String,
    /// Its states, by id and title.
    pub states: Vec<Named>,
}

/// An action as people read it: titles of its roles and places, and its citation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionName {
    /// Its id (what events record).
    pub id: String,
    /// Its Chinese title.
    pub title: String,
    /// Its English title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    /// Its legal basis, as the rule file writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The titles of the roles that may take it.
    pub by: Vec<String>,
    /// The titles of the places it may be taken in (`track：state` for a track's).
    pub from: Vec<String>,
    /// The title of the place it leads to; absent for a record that does not move the case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A role by id and title.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleName {
    /// Its id (what principals hold and events record).
    pub id: String,
    /// Its Chinese title.
    pub title: String,
    /// Its English title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
}

impl Named {
    fn of(id: &str, title: &str) -> Self {
        Named {
            id: id.to_owned(),
            title: title.to_owned(),
        }
    }
}

impl ProcedureSource {
    /// The names and the source of a procedure version.
    pub fn of(p: &Procedure) -> Self {
        let (file, source) = p.source().map_or((String::new(), Arc::from("")), |f| {
            (f.name.clone(), Arc::clone(&f.text))
        });
        ProcedureSource {
            id: p.meta.id.clone(),
            version: p.version,
            title: p.meta.title.clone(),
            title_en: p.meta.title_en.clone(),
            basis: p.meta.basis.clone(),
            valid_from: p.valid_from,
            roles: p
                .roles()
                .map(|r| RoleName {
                    id: r.id().to_owned(),
                    title: r.title().to_owned(),
                    title_en: r.title_en().map(str::to_owned),
                })
                .collect(),
            file,
            sha256: fazhi_core::runtime::sha256_hex(source.as_bytes()),
            source,
            actions: p
                .actions()
                .map(|a| ActionName {
                    id: a.id().to_owned(),
                    title: a.title().to_owned(),
                    title_en: a.title_en().map(str::to_owned),
                    basis: a.basis().map(str::to_owned),
                    by: a.roles().map(|r| r.title().to_owned()).collect(),
                    from: a.from().map(|f| f.title()).collect(),
                    to: a.to().map(|t| t.title()),
                })
                .collect(),
            states: p.states().map(|s| Named::of(s.id(), s.title())).collect(),
            tracks: p
                .tracks()
                .map(|t| TrackName {
                    id: t.id().to_owned(),
                    title: t.title().to_owned(),
                    states: t.states().map(|s| Named::of(s.id(), s.title())).collect(),
                })
                .collect(),
            facts: p
                .facts()
                .map(|f| FactName {
                    id: f.id().to_owned(),
                    title: f.title().to_owned(),
                    labels: f.labels().iter().cloned().collect(),
                })
                .collect(),
            documents: p
                .documents()
                .map(|d| Named::of(d.id(), d.title()))
                .collect(),
            time_rules: p
                .time_rules()
                .map(|r| Named::of(r.id(), r.title()))
                .collect(),
            scenarios: None,
        }
    }
}

/// A procedure version: its names and titles, and the rule file that defines it (states,
/// tracks, actions, facts, time rules, invariants, each with its title and basis).
#[utoipa::path(get, path = "/v1/procedures/{id}", tag = "procedures",
    params(("id" = String, Path, description = "the procedure's id"), VersionQuery),
    responses((status = 200, body = ProcedureSource), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_procedure(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<VersionQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = procedure(&state, &path, query.version)?;
    let mut body = ProcedureSource::of(p);
    body.scenarios = state.scenarios.get(&p.meta.id).copied();
    Ok(json_response(StatusCode::OK, &body))
}

/// The graph format.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GraphQuery {
    /// `svg` (default), `dot` or `mermaid`.
    #[param(value_type = Option<GraphFormat>)]
    pub format: Option<String>,
    /// The version (default: the newest).
    #[param(minimum = 0, maximum = 4294967295_u64)]
    pub version: Option<u32>,
    /// A state with parallel tracks (by its id): draws those tracks in detail, as
    /// `fazhi graph ID --state STATE` does (SVG only). An unknown state, or one without
    /// tracks, is a 422 that lists the states that can be drawn.
    pub state: Option<String>,
}

/// How to draw a procedure (the values of `format`; another is a 400 at `format`).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GraphFormat {
    /// SVG (`image/svg+xml`).
    Svg,
    /// Graphviz DOT (`text/vnd.graphviz`).
    Dot,
    /// Mermaid (`text/plain`).
    Mermaid,
}

/// A procedure drawn: SVG, Graphviz DOT or Mermaid; with `state`, the parallel tracks of that
/// state in detail (SVG).
#[utoipa::path(get, path = "/v1/procedures/{id}/graph", tag = "procedures",
    params(("id" = String, Path, description = "the procedure's id"), GraphQuery),
    responses((status = 200, description = "the drawing", content((String = "image/svg+xml"), (String = "text/vnd.graphviz"), (String = "text/plain"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`state` is not a state of the procedure, or has no parallel tracks")),
    security(("bearer" = [])))]
pub async fn get_graph(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<GraphQuery>,
) -> Result<HttpResponse, ApiError> {
    let p = procedure(&state, &path, query.version)?;
    let format = query.format.as_deref().unwrap_or("svg");
    if let Some(s) = &query.state {
        let svg = crate::picture::state_svg(p, format, s)?;
        return Ok(HttpResponse::Ok()
            .content_type("image/svg+xml; charset=utf-8")
            .body(svg));
    }
    match format {
        "dot" => Ok(HttpResponse::Ok()
            .content_type("text/vnd.graphviz; charset=utf-8")
            .body(fazhi_core::graph::to_dot(p))),
        "mermaid" => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(fazhi_core::graph::to_mermaid(p))),
        "svg" => Ok(HttpResponse::Ok()
            .content_type("image/svg+xml; charset=utf-8")
            .body(fazhi_core::graph::to_svg(p))),
        other => Err(ApiError::malformed(
            "format",
            format!("unknown format `{other}`: use `svg`, `dot` or `mermaid`"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

/// A document attached to an action: its kind, file name and SHA-256.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentIn {
    /// The document kind, by the ids of the procedure's `[documents]`.
    pub kind: String,
    /// The file name.
    pub name: String,
    /// The SHA-256 of the file: 64 lowercase hex digits.
    pub sha256: String,
    /// Where the file is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// Opening a case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// The procedure's id (the newest version is used).
    pub procedure: String,
    /// A title for people.
    #[serde(default)]
    pub title: String,
    /// The initial facts, by fact id.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub facts: Option<serde_json::Value>,
    /// Importers only: when the case began on paper (not in the future).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// Who else takes part in the case: principal ids by the procedure role each holds in it
    /// (`{"petitioner": ["p-1"]}`). Recorded in the opening event; a named principal whose
    /// role reads only its own cases (`reads = "own"`) lists and reads this one. Each must be
    /// a principal of the service holding that role; at most 64 names in all.
    #[serde(default)]
    #[schema(value_type = Option<std::collections::BTreeMap<String, Vec<String>>>)]
    pub participants: Option<fazhi_core::runtime::Participants>,
}

/// Taking an action on a case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    /// The action's id.
    pub action: String,
    /// The payload, following the action's `payload_schema`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub payload: Option<serde_json::Value>,
    /// The documents attached.
    #[serde(default)]
    pub documents: Vec<DocumentIn>,
    /// A recorded reason, for rules that ask for one.
    #[serde(default)]
    pub reason: Option<String>,
    /// The case's `seq` as the caller last read it: a stale one is a 409.
    pub expected_seq: u64,
    /// Importers only: when the act happened on paper (not before the case's last event, not
    /// in the future).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// An event as the API shows it: the stored event and its hash.
#[derive(Debug, ToSchema)]
pub struct EventOut {
    /// The event in its stored JSON form (`case`, `seq`, `type`, `action`, `payload`,
    /// `documents`, `reason`, `actor`, `at`, `imported`, `prev_hash`), except that `at` is
    /// written in China time (`+08:00`); the stored bytes keep the form they were hashed in.
    #[serde(flatten)]
    pub event: Event,
    /// The SHA-256 of the stored bytes.
    pub hash: String,
}

impl Serialize for EventOut {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.event.wire(&self.hash).serialize(s)
    }
}

/// The answer to an append.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppendResponse {
    /// The event recorded.
    pub event: EventOut,
    /// The case after it.
    pub case: CaseBody,
}

/// The JSON of an [`AppendResponse`]: the event as the API shows it ([`EventOut`]) and the
/// case after it.
pub(crate) fn append_response(recorded: &Recorded, case: &CaseBody) -> Vec<u8> {
    let mut out = Vec::with_capacity(recorded.bytes.len() + 4096);
    out.extend_from_slice(b"{\"event\":");
    // Serialising plain data into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &recorded.event.wire(recorded.hash.as_str()));
    out.extend_from_slice(b",\"case\":");
    let _ = serde_json::to_writer(&mut out, case);
    out.push(b'}');
    out
}

/// What to do when the idempotency key was used before.
fn replay(rec: &IdempotencyRecord, request_hash: &str) -> Result<HttpResponse, ApiError> {
    if rec.request_hash != request_hash {
        return Err(ApiError::KeyReused(rec.key.clone()));
    }
    let status = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    res.content_type("application/json");
    for (name, value) in &rec.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            res.insert_header((n, v));
        }
    }
    res.insert_header(("Idempotency-Replayed", "true"));
    Ok(res.body(rec.body.clone()))
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    // What the document declares (`IDEMPOTENCY_KEY_PATTERN`): 1 to 255 visible ASCII
    // characters, no spaces.
    let key = v.as_bytes();
    if key.is_empty() || key.len() > 255 || !key.iter().all(u8::is_ascii_graphic) {
        return Err(ApiError::malformed(
            "Idempotency-Key",
            "幂等键须为 1 至 255 个可见 ASCII 字符（不含空格）；the key must be 1 to 255 visible ASCII characters, no spaces",
        ));
    }
    Ok(Some(String::from_utf8_lossy(key).into_owned()))
}

fn request_hash(req: &HttpRequest, body: &[u8]) -> String {
    let mut buf = Vec::with_capacity(body.len() + 64);
    buf.extend_from_slice(req.method().as_str().as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(req.path().as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(body);
    sha256_hex(&buf)
}

/// The earliest `at` an importer may send: 1949-10-01 00:00 China time. No act of an
/// administrative body of the People's Republic is older, so an earlier time is a typing
/// mistake (a year 0001 from an empty date field), not a record. (A procedure's `valid_from`
/// is not the floor: a paper case may have run under an earlier text of the rules.)
pub const AT_FLOOR: &str = "1949-10-01T00:00:00+08:00";

/// [`AT_FLOOR`] as a time (also what `fazhi import` holds an event's `at` to).
pub fn at_floor() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(AT_FLOOR)
        .map_or(DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc))
}

/// The time to stamp: the server's clock, or an importer's `at` (checked).
fn stamp(
    caller: &Principal,
    at: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, bool), ApiError> {
    let now = Utc::now();
    match at {
        None => Ok((last.map_or(now, |l| now.max(l)), false)),
        Some(_) if !caller.importer => Err(ApiError::Forbidden {
            detail: format!(
                "`{}` is not an importer: only importers may send `at`; the service's clock stamps events",
                caller.id
            ),
            reasons: Vec::new(),
            lang: Lang::En,
        }),
        Some(at) if at > now => Err(ApiError::invalid(
            "at",
            format!(
                "`at`（{}）晚于现在：不能记录将来的事；`at` ({}) is in the future",
                fazhi_core::time::china::rfc3339(at),
                fazhi_core::time::china::rfc3339(at),
            ),
        )),
        Some(at) if at < at_floor() => Err(ApiError::invalid(
            "at",
            format!(
                "`at`（{}）早于 {AT_FLOOR}：请填写纸质记录上的实际时间；`at` ({}) is before {AT_FLOOR}: give the time on the paper record",
                fazhi_core::time::china::rfc3339(at),
                fazhi_core::time::china::rfc3339(at),
            ),
        )),
        Some(at) if last.is_some_and(|l| at < l) => Err(ApiError::invalid(
            "at",
            format!(
                "`at` ({at}) is before the case's last event ({})",
                last.unwrap_or(at)
            ),
        )),
        Some(at) => Ok((at, true)),
    }
}

/// Opens a case on the newest version of a procedure. The caller must hold one of the
/// procedure's roles.
#[utoipa::path(post, path = "/v1/cases", tag = "cases", request_body = OpenRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer to the same request"),
        ("Accept-Language" = Option<String>, Header, description = "`en` for English reasons and deadline descriptions; Chinese otherwise")),
    responses((status = 201, body = CaseBody, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn open_case(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let state = state_of(&req)?;
    let lang = lang_of_request(&req);
    let Caller(caller) = caller;
    let key = idempotency_key(&req)?;
    let (body, raw): (OpenRequest, _) = read_json(&req, payload, &state).await?;
    let hash = key
        .as_ref()
        .map(|_| request_hash(&req, &raw))
        .unwrap_or_default();
    if let Some(key) = &key
        && let Some(rec) = state.store.idempotency(&caller.id, key).await?
    {
        return replay(&rec, &hash);
    }
    let Some(p) = state.rules.get(&body.procedure, None) else {
        let known: Vec<String> = state.rules.latest().map(|p| p.meta.id.clone()).collect();
        return Err(ApiError::invalid(
            "procedure",
            format!(
                "no procedure `{}`; known: {}",
                body.procedure,
                known.join(", ")
            ),
        ));
    };
    if !p.roles().any(|r| caller.roles.iter().any(|c| c == r.id())) {
        return Err(ApiError::Forbidden {
            detail: format!(
                "`{}` holds none of the roles of procedure `{}` ({})",
                caller.id,
                p.meta.id,
                p.roles().map(|r| r.id()).collect::<Vec<_>>().join(", ")
            ),
            reasons: Vec::new(),
            lang: Lang::En,
        });
    }
    let (at, imported) = stamp(&caller, body.at, None)?;
    let id = uuid::Uuid::now_v7().to_string();
    let opening = Opening {
        case: id.clone(),
        title: body.title,
        actor: actor(&caller),
        at,
        facts: body
            .facts
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new())),
        imported,
    };
    let participants = body.participants.unwrap_or_default();
    let (case, recorded) = Case::open_recorded_naming(p, opening, participants)
        .map_err(|r| ApiError::Refused(r, lang))?;
    if let fazhi_core::runtime::EventBody::Opened { participants, .. } = &recorded.event.body {
        crate::access::check_named(&state, participants)?;
    }
    let now = Utc::now().max(at);
    let case_body = state.case_body(&case, &caller, now, lang);
    let location = format!("/v1/cases/{id}");
    let bytes = serde_json::to_vec(&case_body).unwrap_or_default();
    let summary = AppState::summary(&case_body);
    let deadlines = crate::deadlines::board_of(&case, &case_body.deadlines);
    drop(case_body);
    let headers = vec![
        ("Location".to_owned(), location.clone()),
        ("ETag".to_owned(), etag(case.seq())),
    ];
    let append = Append {
        case: id.clone(),
        expected_seq: 0,
        events: vec![NewEvent::from_recorded(&recorded, p.version)],
        summary,
        deadlines,
        idempotency: key.map(|key| created_record(&caller.id, key, &hash, &id, &headers, &bytes)),
    };
    // Hold the case's slot while appending so that nobody reads it half-made.
    let slot = state.cases.slot(&id);
    let mut guard = slot.lock_owned().await;
    match state.store.append(append).await {
        Ok(AppendOutcome::Appended) => {
            *guard = Some(case);
            metrics::counter!("fazhi_cases_opened_total").increment(1);
            Ok(created(headers, bytes))
        }
        Ok(AppendOutcome::Replay(rec)) => {
            drop(guard);
            state.cases.forget(&id);
            replay(&rec, &hash)
        }
        Ok(AppendOutcome::Conflict { current_seq }) => {
            drop(guard);
            state.cases.forget(&id);
            Err(ApiError::Conflict {
                expected_seq: 0,
                current_seq,
            })
        }
        Err(e) => {
            drop(guard);
            state.cases.forget(&id);
            Err(e.into())
        }
    }
}

/// Filters and a cursor for listing cases.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only cases of this procedure.
    pub procedure: Option<String>,
    /// Only cases in this state.
    pub state: Option<String>,
    /// `true`: only open cases with a deadline that has passed.
    pub overdue: Option<bool>,
    /// At most this many (1 to 1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only the cases behind this figure of the annual report (`<procedure>.<counter>`, as
    /// `GET /v1/reports/annual` gives it); needs `year`, and takes no other filter.
    pub report: Option<String>,
    /// With `report`: the year of the figure (China time).
    #[param(minimum = 1949, maximum = 9999)]
    pub year: Option<i32>,
    /// With `report`: only the cases of this group of the figure (`unset`: the fact is unset).
    pub group: Option<String>,
}

/// A page of cases, oldest first (ids are UUID v7, so by opening time).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    /// Each case's summary: `id`, `procedure`, `procedure_version`, `title`, `state`,
    /// `tracks`, `seq`, `head`, `opened_at`, `last_at`, `next_due`, `closed`.
    pub cases: Vec<fazhi_store::CaseSummary>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Lists the cases the caller may read: every case of a procedure one of its roles reads
/// whole (`reads = "all"`), and the cases it opened or acted in of a procedure its roles
/// read their own of; none of a procedure whose roles it does not hold.
#[utoipa::path(get, path = "/v1/cases", tag = "cases", params(ListQuery),
    responses((status = 200, body = CaseList), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`report` without `year`, an unknown figure, `report` with another filter, or `year`/`group` without `report`")),
    security(("bearer" = [])))]
pub async fn list_cases(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::malformed(
            "limit",
            "`limit` must be between 1 and 1000",
        ));
    }
    if let Some(y) = query.year
        && !crate::report::YEARS.contains(&y)
    {
        return Err(ApiError::malformed(
            "year",
            format!(
                "年份 {y} 超出范围 (`year` must be between {} and {})",
                crate::report::YEARS.start(),
                crate::report::YEARS.end()
            ),
        ));
    }
    if let Some(figure) = &query.report {
        if query.procedure.is_some() || query.state.is_some() || query.overdue.is_some() {
            return Err(ApiError::invalid(
                "report",
                "`report` lists the cases behind a figure and takes no `procedure`, `state` or `overdue`",
            ));
        }
        let list = crate::report::cases_behind(
            &state,
            &caller.0,
            figure,
            query.year,
            query.group.as_deref(),
            limit,
            query.cursor.as_deref(),
        )
        .await?;
        return Ok(json_response(StatusCode::OK, &list));
    }
    if query.year.is_some() || query.group.is_some() {
        return Err(ApiError::invalid(
            if query.year.is_some() {
                "year"
            } else {
                "group"
            },
            "`year` and `group` go with `report` (`?report=<figure>&year=2026`)",
        ));
    }
    let page = state
        .store
        .list(CaseQuery {
            procedure: query.procedure.clone(),
            state: query.state.clone(),
            overdue_at: query.overdue.unwrap_or(false).then(Utc::now),
            limit,
            after: query.cursor.clone(),
            reader: Some(access::reader(&state, &caller.0)),
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &CaseList {
            cases: page.cases,
            next_cursor: page.next,
        },
    ))
}

/// A case as the caller sees it now, with the actions the caller may take. A case the
/// caller may not read is 404, as a missing one.
#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases",
    params(("id" = String, Path, description = "the case's id"),
        ("Accept-Language" = Option<String>, Header, description = "`en` for English reasons and deadline descriptions; Chinese otherwise")),
    responses((status = 200, body = CaseBody, headers(("ETag" = String, description = "the case's seq"))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`chain-broken`: the case's stored history does not verify")),
    security(("bearer" = [])))]
pub async fn get_case(
    caller: Caller,
    AcceptLang(lang): AcceptLang,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let guard = access::lock_readable(&state, &caller.0, &path).await?;
    let Some(case) = guard.as_ref() else {
        return Err(ApiError::NotFound(format!("no case `{path}`")));
    };
    access::check(&state, &caller.0, &path, &case.procedure().meta.id).await?;
    let body = state.case_body(case, &caller.0, Utc::now().max(case.last_at()), lang);
    let seq = case.seq();
    drop(guard);
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(seq)))
        .content_type("application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default()))
}

/// Takes an action on a case. The caller's roles must include one the procedure allows for
/// the action (else 403); every other unmet condition is a 422 listing the core's reasons.
#[utoipa::path(post, path = "/v1/cases/{id}/events", tag = "cases", request_body = AppendRequest,
    params(("id" = String, Path, description = "the case's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "replays the first answer to the same request"),
        ("Accept-Language" = Option<String>, Header, description = "`en` for an English refusal (`title`, `detail`, each reason's `message`); Chinese otherwise")),
    responses((status = 201, body = AppendResponse, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn append_event(
    req: HttpRequest,
    caller: Caller,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let state = state_of(&req)?;
    let lang = lang_of_request(&req);
    let Caller(caller) = caller;
    let id = path.into_inner();
    let key = idempotency_key(&req)?;
    let (body, raw): (AppendRequest, _) = read_json(&req, payload, &state).await?;
    let hash = key
        .as_ref()
        .map(|_| request_hash(&req, &raw))
        .unwrap_or_default();
    // A case in memory at `expected_seq` is used as it is (on PostgreSQL, without asking the
    // database): the append's claim guards what is written, and an answer given from the
    // case without writing (a refusal) is confirmed against the database first.
    let mut guard = access::lock_readable_at(&state, &caller, &id, Some(body.expected_seq)).await?;
    // The key is looked up under the case's lock: a duplicate appended while this request
    // waited for the case is answered with what was stored, not a conflict.
    if let Some(key) = &key
        && let Some(rec) = state.store.idempotency(&caller.id, key).await?
    {
        drop(guard);
        return replay(&rec, &hash);
    }
    let Some(case) = guard.as_mut() else {
        return Err(ApiError::NotFound(format!("no case `{id}`")));
    };
    // A caller that may not read the case may still take an action its roles allow (and
    // takes part from then on): it learns the case's `seq` from a 409, but a refusal, which
    // would tell the case's state and facts, is answered as for a missing case. Whether it
    // may read the case is asked only then (`hide`): an append that lands needs no answer.
    let procedure = case.procedure().meta.id.clone();
    let hide = async |e: ApiError| -> ApiError {
        match access::may_read(&state, &caller, &id, &procedure).await {
            Ok(true) => e,
            Ok(false) => access::not_found(&id),
            Err(e) => e,
        }
    };
    if body.expected_seq != case.seq() {
        return Err(ApiError::Conflict {
            expected_seq: body.expected_seq,
            current_seq: case.seq(),
        });
    }
    let (at, imported) = match stamp(&caller, body.at, Some(case.last_at())) {
        Ok(stamped) => stamped,
        Err(e) => {
            state.confirm(&mut guard, body.expected_seq).await?;
            return Err(hide(e).await);
        }
    };
    let command = Command {
        action: body.action,
        actor: actor(&caller),
        at,
        payload: body
            .payload
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new())),
        documents: body
            .documents
            .into_iter()
            .map(|d| DocumentRef {
                kind: d.kind,
                name: d.name,
                sha256: d.sha256,
                uri: d.uri,
            })
            .collect(),
        reason: body.reason,
        imported,
    };
    // Decided and recorded on a copy: the case in memory moves on only once the store has
    // the event.
    let mut next = case.clone();
    let recorded: Recorded = match next.decide_record(command, &state.calendar) {
        Ok(r) => r,
        Err(refusal) => {
            state.confirm(&mut guard, body.expected_seq).await?;
            if refusal
                .reasons
                .iter()
                .any(|r| r.kind == ReasonKind::RoleNotAllowed)
            {
                metrics::counter!("fazhi_refusals_total", "kind" => "role_not_allowed")
                    .increment(1);
                let refusal = refusal.in_lang(lang);
                let detail = match lang {
                    Lang::Zh => format!(
                        "办理人“{}”担任的角色均不能办理此事项：{}",
                        caller.id,
                        refusal
                            .reasons
                            .iter()
                            .map(|r| r.message_zh.as_str())
                            .collect::<Vec<_>>()
                            .join("；")
                    ),
                    Lang::En => format!(
                        "none of the roles of `{}` may take `{}`",
                        caller.id, refusal.action
                    ),
                };
                return Err(hide(ApiError::Forbidden {
                    detail,
                    reasons: refusal.reasons,
                    lang,
                })
                .await);
            }
            return Err(hide(ApiError::Refused(refusal, lang)).await);
        }
    };
    let now = Utc::now().max(at);
    let case_body = state.case_body(&next, &caller, now, lang);
    let bytes = append_response(&recorded, &case_body);
    let headers = vec![
        (
            "Location".to_owned(),
            format!("/v1/cases/{id}/events/{}", recorded.event.seq),
        ),
        ("ETag".to_owned(), etag(next.seq())),
    ];
    let append = Append {
        case: id.clone(),
        expected_seq: body.expected_seq,
        events: vec![NewEvent::from_recorded(&recorded, next.procedure().version)],
        summary: AppState::summary(&case_body),
        deadlines: crate::deadlines::board_of(&next, &case_body.deadlines),
        idempotency: key.map(|key| created_record(&caller.id, key, &hash, &id, &headers, &bytes)),
    };
    drop(case_body);
    match state.store.append(append).await {
        Ok(AppendOutcome::Appended) => {
            *case = next;
            drop(guard);
            Ok(created(headers, bytes))
        }
        Ok(AppendOutcome::Replay(rec)) => replay(&rec, &hash),
        Ok(AppendOutcome::Conflict { current_seq }) => {
            // Another node wrote to this case: read it again next time.
            *guard = None;
            drop(guard);
            state.cases.forget(&id);
            Err(ApiError::Conflict {
                expected_seq: body.expected_seq,
                current_seq,
            })
        }
        Err(e) => {
            *guard = None;
            drop(guard);
            state.cases.forget(&id);
            Err(e.into())
        }
    }
}

/// The idempotency record of a 201 answer: what a repeat of the same key and body replays.
fn created_record(
    principal: &str,
    key: String,
    request_hash: &str,
    case: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> IdempotencyRecord {
    IdempotencyRecord {
        principal: principal.to_owned(),
        key,
        request_hash: request_hash.to_owned(),
        case: case.to_owned(),
        status: 201,
        headers: headers.to_vec(),
        body: body.to_vec(),
    }
}

/// A 201 answer with its headers and JSON body.
pub(crate) fn created(headers: Vec<(String, String)>, body: Vec<u8>) -> HttpResponse {
    let mut res = HttpResponse::Created();
    for (n, v) in headers {
        res.insert_header((n, v));
    }
    res.content_type("application/json").body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fazhi_core::load::{SourceFile, load};
    use fazhi_core::time::Calendar;

    /// The hand-written 201 body is byte for byte what serialising [`AppendResponse`] gives.
    #[test]
    fn append_response_is_the_serialised_answer() {
        let text = include_str!("../tests/fixtures/filing.toml");
        let rules = load(&[SourceFile::new("filing.toml", text)]).rules;
        let p = rules.get("village-rules-filing", None).unwrap().clone();
        let calendar = Calendar::new();
        let village = Principal {
            id: "village".into(),
            roles: vec!["village".into()],
            importer: false,
            admin: false,
            development: false,
            actor: fazhi_core::runtime::Actor::new("village", ["village"]),
        };
        let at = DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        let (mut case, _) = Case::open_recorded(
            &p,
            Opening {
                case: "c-1".into(),
                title: "t \"quoted\"".into(),
                actor: actor(&village),
                at,
                facts: serde_json::json!({"adopted_on": "2026-03-01"}),
                imported: false,
            },
        )
        .unwrap();
        let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let command = Command::new("submit", actor(&village), at)
            .with_document(DocumentRef {
                kind: "rules_text".into(),
                name: "a \"b\".pdf".into(),
                sha256: digest.into(),
                uri: None,
            })
            .with_document(DocumentRef {
                kind: "meeting_record".into(),
                name: "会议.pdf".into(),
                sha256: digest.into(),
                uri: Some("https://example.org/x".into()),
            });
        let event = case.decide(command, &calendar).unwrap();
        let recorded = case.record(event).unwrap();
        let body = CaseBody::new(&case, &actor(&village), at, &calendar);
        let fast = append_response(&recorded, &body);
        let slow = serde_json::to_vec(&AppendResponse {
            event: EventOut {
                event: recorded.event.clone(),
                hash: recorded.hash.to_string(),
            },
            case: body,
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(fast.clone()).unwrap(),
            String::from_utf8(slow).unwrap()
        );
        // The answer shows China time; the stored bytes keep the form they were hashed in.
        let answer: serde_json::Value = serde_json::from_slice(&fast).unwrap();
        assert_eq!(answer["event"]["at"], "2026-03-02T09:00:00+08:00");
        assert_eq!(answer["case"]["opened_at"], "2026-03-02T09:00:00+08:00");
        let stored: serde_json::Value = serde_json::from_slice(&recorded.bytes).unwrap();
        assert_eq!(stored["at"], "2026-03-02T01:00:00Z");
        // Otherwise the shown event is the stored one, field for field.
        let mut shown = answer["event"].clone();
        let shown_map = shown.as_object_mut().unwrap();
        assert_eq!(shown_map.remove("hash").unwrap(), recorded.hash.as_str());
        shown_map.insert("at".into(), stored["at"].clone());
        assert_eq!(shown, stored);
    }
}
