//! The OpenAPI 3.1 document, served at `/openapi.json`.

use fazhi_core::expr::Type;
use fazhi_core::model::RuleSet;
use serde_json::{Value, json};
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::history;
use crate::picture;
use crate::problem::{FieldError, Problem};
use crate::service::CaseBody;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The problems any operation may answer with, listed on each: 401 where a token is needed,
/// 400 for a path or query that does not parse, 413 and 415 for a body, 500 and 503 always.
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for (method, op) in [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
            ] {
                let Some(op) = op else { continue };
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/problem+json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                };
                if secured {
                    add(
                        "401",
                        "no bearer token, or one no principal has (`unauthorized`)",
                    );
                    add(
                        "400",
                        "a path or query that does not parse (`malformed-request`)",
                    );
                }
                if method == HttpMethod::Post {
                    add("413", "a body over the size limit (`payload-too-large`)");
                    add(
                        "415",
                        "a body that is not `application/json` (`unsupported-media-type`)",
                    );
                }
                add(
                    "500",
                    "a fault of the service (`internal`): stored data that does not read back",
                );
                add(
                    "503",
                    "with `Retry-After`: the store refuses or failed the request (`unavailable`: nothing was written), or a commit failed (`outcome-unknown`: the write may have been saved; retry with the same `Idempotency-Key`)",
                );
            }
        }
    }
}

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "fazhi",
        description = "Cases under statutory administrative procedures: open them, take actions the procedure allows, read deadlines, history and the archive. Errors are application/problem+json (RFC 9457) with a stable `type` per kind under https://fazhi.dev/problems/.",
    ),
    paths(
        api::healthz,
        api::list_procedures,
        api::get_procedure,
        api::get_graph,
        api::open_case,
        api::list_cases,
        api::get_case,
        picture::get_case_graph,
        api::append_event,
        history::get_events,
        history::get_dossier,
        history::get_event,
        crate::deadlines::list_deadlines,
        crate::report::get_annual,
        crate::migrate::migrate_case,
    ),
    components(schemas(
        Problem,
        FieldError,
        CaseBody,
        api::ProcedureSummary,
        api::ProcedureSource,
        api::RoleName,
        api::OpenRequest,
        api::AppendRequest,
        crate::migrate::MigrateRequest,
        api::DocumentIn,
        api::EventOut,
        api::AppendResponse,
        api::CaseList,
        history::History,
        history::Dossier,
        history::DossierDocument,
        history::ChainCheck,
        history::LinkCheck,
        api::GraphFormat,
        crate::deadlines::DeadlineList,
        crate::deadlines::DeadlineItem,
        crate::deadlines::RoleItem,
        fazhi_store::BoardStatus,
        api::ActionName,
        api::Named,
        api::FactName,
        api::TrackName,
        fazhi_core::report::AnnualReport,
        fazhi_core::report::Section,
        fazhi_core::report::Figure,
        fazhi_core::report::Group,
    )),
    modifiers(&BearerAuth, &CommonProblems),
)]
pub struct ApiDoc;

/// The pattern of an `Idempotency-Key`: 1 to 255 visible ASCII characters, no spaces (what
/// the server accepts; anything else is a 400).
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

/// The document as JSON text, with no procedure named (`procedure` any string, `facts` any
/// object): what every server's document has in common.
pub fn json() -> String {
    serde_json::to_string(&document(None)).unwrap_or_default()
}

/// The document a server with these procedures serves at `/openapi.json`: as [`json`], but
/// an opening names the loaded procedures (`procedure` is one of their ids) and, for each,
/// the facts it takes with their types, so that a client (or a fuzzer) can build a valid
/// opening from the document alone.
pub fn json_for(rules: &RuleSet) -> String {
    serde_json::to_string(&document(Some(rules))).unwrap_or_default()
}

/// The document as a JSON value (see [`json`] and [`json_for`]).
pub fn document(rules: Option<&RuleSet>) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    exact_parameters(&mut doc);
    exact_bodies(&mut doc);
    links(&mut doc);
    if let Some(rules) = rules {
        procedures(&mut doc, rules);
    }
    doc
}

/// The operations, each with its method and path, mutably.
fn operations(doc: &mut Value) -> impl Iterator<Item = &mut Value> {
    doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
}

/// Parameters as the server reads them: a query parameter or header that may be left out is
/// not `null` (it is absent; `limit=null` is a 400), an integer's range is the server's own
/// (`u32`, `u64`) rather than an OpenAPI `format` that says otherwise, and an
/// `Idempotency-Key` has the server's length and characters.
fn exact_parameters(doc: &mut Value) {
    for op in operations(doc) {
        let params = op.get_mut("parameters").and_then(Value::as_array_mut);
        for param in params.into_iter().flatten() {
            let name = param["name"].as_str().unwrap_or_default().to_owned();
            let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(types) = schema.get("type").and_then(Value::as_array) {
                let types: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if let [one] = types.as_slice() {
                    schema.insert("type".into(), one.clone());
                }
            }
            if schema.get("type").and_then(Value::as_str) == Some("integer") {
                let format = schema.remove("format");
                if !schema.contains_key("maximum") {
                    let max = match format.as_ref().and_then(Value::as_str) {
                        Some("int32") => json!(u32::MAX),
                        _ => json!(u64::MAX),
                    };
                    schema.insert("maximum".into(), max);
                }
                schema.entry("minimum").or_insert(json!(0));
            }
            if name == "Idempotency-Key" {
                schema.insert("minLength".into(), json!(1));
                schema.insert("maxLength".into(), json!(255));
                schema.insert("pattern".into(), json!(IDEMPOTENCY_KEY_PATTERN));
            }
        }
    }
}

/// Sets `key` of `object` (nothing when it is not an object).
fn set(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}

/// Request bodies as the server reads them: `expected_seq` is any `u64`; `payload` and
/// `facts` may be `null` (read as none).
fn exact_bodies(doc: &mut Value) {
    if let Some(seq) = doc.pointer_mut("/components/schemas/AppendRequest/properties/expected_seq")
    {
        *seq = json!({
            "type": "integer",
            "minimum": 0,
            "maximum": u64::MAX,
            "description": "The case's `seq` as the caller last read it: a stale one is a 409.",
        });
    }
    // The names an opening may give as participants: the core's limits.
    if let Some(p) = doc.pointer_mut("/components/schemas/OpenRequest/properties/participants") {
        set(
            p,
            "additionalProperties",
            json!({
                "type": "array",
                "minItems": 1,
                "maxItems": fazhi_core::runtime::MAX_PARTICIPANTS,
                "uniqueItems": true,
                "items": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": fazhi_core::runtime::MAX_PRINCIPAL_ID,
                    "pattern": "^\\S+$",
                },
            }),
        );
    }
    // `null` is read as none: no payload, no facts.
    for (schema, field) in [("AppendRequest", "payload"), ("OpenRequest", "facts")] {
        if let Some(p) =
            doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
        {
            set(p, "type", json!(["object", "null"]));
        }
    }
}

/// How many of a case view's `examples` the links offer to send (a case rarely allows more
/// than three actions at once; a link whose example is not there does not apply).
const LINKED_EXAMPLES: usize = 3;

/// The links that let a client (and schemathesis's stateful tests) go from an answer to the
/// next request: an opened case, a case read, or a new event to reading the case and taking
/// an action it allows now. Taking one is `take_example_{i}`: the case view's `examples[i]`
/// (a request body the case accepts now, built by the server) sent as the whole body
/// (`x-schemathesis: merge_body: false`: a generated payload would only be refused), with the
/// case's `head` as its `Idempotency-Key` (one key per action taken from one state of the
/// case: sending the link again replays the answer); a link whose example the answer does
/// not have does not apply.
fn links(doc: &mut Value) {
    // `case` is where the case view is in the answer.
    let take_links = |id: &str, case: &str, links: &mut Value| {
        for i in 0..LINKED_EXAMPLES {
            let link = json!({
                "operationId": "append_event",
                "parameters": {"id": id, "header.Idempotency-Key": format!("{case}/head")},
                "requestBody": format!("{case}/examples/{i}"),
                "x-schemathesis": {"merge_body": false},
            });
            set(links, &format!("take_example_{i}"), link);
        }
    };
    let case_links = |id: &str, case: &str| {
        let mut links = json!({
            "get_case": {"operationId": "get_case", "parameters": {"id": id}},
            "get_events": {"operationId": "get_events", "parameters": {"id": id}},
            "get_dossier": {"operationId": "get_dossier", "parameters": {"id": id}},
        });
        take_links(id, case, &mut links);
        links
    };
    if let Some(created) = doc.pointer_mut("/paths/~1v1~1cases/post/responses/201") {
        set(
            created,
            "links",
            case_links("$response.body#/id", "$response.body#"),
        );
    }
    if let Some(created) = doc.pointer_mut("/paths/~1v1~1cases~1{id}~1events/post/responses/201") {
        let mut links = case_links("$request.path.id", "$response.body#/case");
        set(
            &mut links,
            "get_event",
            json!({
                "operationId": "get_event",
                "parameters": {"id": "$request.path.id", "seq": "$response.body#/event/seq"},
            }),
        );
        set(created, "links", links);
    }
    if let Some(read) = doc.pointer_mut("/paths/~1v1~1cases~1{id}/get/responses/200") {
        let mut links = json!({});
        take_links("$request.path.id", "$response.body#", &mut links);
        set(read, "links", links);
    }
}

/// The JSON Schema of a fact's value.
fn value_schema(ty: &Type) -> Value {
    match ty {
        Type::Bool => json!({"type": "boolean"}),
        Type::Integer => json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX}),
        Type::Amount => {
            json!({"type": ["number", "string"], "pattern": "^-?[0-9]+(\\.[0-9]+)?$"})
        }
        Type::Text => json!({"type": "string"}),
        Type::Date => json!({"type": "string", "format": "date"}),
        Type::Enum(values) | Type::TrackState(_, values) => json!({"enum": values.to_vec()}),
    }
}

/// `OpenRequest` with the loaded procedures: `procedure` one of their ids, and one variant
/// per procedure with the facts it takes (each with its type; the required ones required).
fn procedures(doc: &mut Value, rules: &RuleSet) {
    let mut ids = Vec::new();
    let mut variants = Vec::new();
    for p in rules.latest() {
        ids.push(json!(p.meta.id));
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        for f in p.facts() {
            let mut schema = value_schema(f.ty());
            if !f.required() {
                // A fact that may be left out may also be given as `null`.
                schema = json!({"anyOf": [schema, {"type": "null"}]});
            }
            set(&mut schema, "title", json!(f.title()));
            properties.insert(f.id().to_owned(), schema);
            if f.required() {
                required.push(json!(f.id()));
            }
        }
        // `null` is read as no facts, which will do only when none is required.
        let facts_type = if required.is_empty() {
            json!(["object", "null"])
        } else {
            json!("object")
        };
        let roles: Vec<&str> = p.roles().map(|r| r.id()).collect();
        let mut variant = json!({
            "title": p.meta.title,
            "properties": {
                "procedure": {"const": p.meta.id},
                "participants": {"propertyNames": {"enum": roles}},
                "facts": {
                    "type": facts_type,
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                },
            },
        });
        if !required.is_empty() {
            set(&mut variant, "required", json!(["facts"]));
        }
        variants.push(variant);
    }
    if let Some(procedure) = doc.pointer_mut("/components/schemas/OpenRequest/properties/procedure")
    {
        set(procedure, "enum", Value::Array(ids));
    }
    if let Some(open) = doc.pointer_mut("/components/schemas/OpenRequest") {
        set(open, "oneOf", Value::Array(variants));
    }
}
