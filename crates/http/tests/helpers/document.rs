//! Checks an answer against the OpenAPI document (`fazhi_http::openapi::json()`, what
//! `/openapi.json` serves). Shared by the HTTP tests of `fazhi-http` and of the `fazhi`
//! package (`#[path]`-included).

use serde_json::Value;

/// The OpenAPI document, parsed once, made strict for the checks: every component
/// that is not flattened into another (through `allOf`) gets `unevaluatedProperties: false`,
/// so that a field the service sends and the document does not name fails the test.
fn document() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc: Value = serde_json::from_str(&fazhi_http::openapi::json()).unwrap();
        let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
        let mut flattened = Vec::new();
        for schema in schemas.values() {
            for part in schema["allOf"].as_array().into_iter().flatten() {
                if let Some(r) = part["$ref"].as_str() {
                    flattened.push(r.rsplit('/').next().unwrap().to_owned());
                }
            }
        }
        for (name, schema) in schemas.iter_mut() {
            let object = schema.get("properties").is_some() || schema.get("allOf").is_some();
            if object && !flattened.contains(name) {
                schema["unevaluatedProperties"] = Value::Bool(false);
            }
        }
        doc
    })
}

/// Every answer a test receives is checked against `/openapi.json`: its status must be one
/// the operation lists, and a JSON body must validate against the schema given for that
/// status and content type (with every `$ref` into the document's components).
pub fn follows_the_document(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &Value,
    text: &str,
) {
    let doc = document();
    let query = path.split_once('?').map(|(_, q)| q);
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let Some((template, item)) = doc["paths"].as_object().unwrap().iter().find(|(t, _)| {
        let ts: Vec<&str> = t.split('/').collect();
        ts.len() == segments.len()
            && ts
                .iter()
                .zip(&segments)
                .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty()))
    }) else {
        // Routes the document does not describe (`/metrics`, `/openapi.json`, unknown paths).
        return;
    };
    // HEAD answers as GET does, without a body.
    if method.eq_ignore_ascii_case("HEAD") && item.get("get").is_some() {
        assert!(text.is_empty(), "HEAD {template} answered a body: {text}");
        return;
    }
    let Some(op) = item.get(method.to_ascii_lowercase()) else {
        // A method the route does not have: the 405 problem is described nowhere per path.
        assert_eq!(status, 405, "{method} {template}: {text}");
        return;
    };
    if let Some(query) = query {
        query_follows(method, template, op, query, status, body);
    }
    let response = op["responses"].get(status.to_string()).unwrap_or_else(|| {
        panic!("{method} {template} answered {status}, which the document does not list: {text}")
    });
    let content_type = content_type.map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
    let Some(content) = response.get("content") else {
        assert!(
            text.is_empty(),
            "{method} {template} {status}: the document lists no body, got {text}"
        );
        return;
    };
    let content_type = content_type.unwrap_or_default();
    let media = content.get(&content_type).unwrap_or_else(|| {
        panic!("{method} {template} {status}: content type `{content_type}` is not in the document")
    });
    let Some(schema) = media.get("schema") else {
        return;
    };
    if !content_type.ends_with("json") {
        return;
    }
    let errors = violations(schema, body);
    assert!(
        errors.is_empty(),
        "{method} {template} {status}: the body does not follow the document:\n{}\n{text}",
        errors.join("\n")
    );
    let mut utc = Vec::new();
    not_in_china_time(body, "", &mut utc);
    assert!(
        utc.is_empty(),
        "{method} {template} {status}: times not written in China time (+08:00): {}\n{text}",
        utc.join(", ")
    );
}

/// Every parameter of a request's query must be one the operation declares `in: query` (one it
/// does not declare must be a 400); when
/// the server took the request (a 2xx), each value must fit the parameter's schema, and when
/// every value fits, the server must not call the query malformed (a 400 at `query` or at
/// the parameter).
fn query_follows(method: &str, template: &str, op: &Value, query: &str, status: u16, body: &Value) {
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    let mut all_fit = true;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(param) = params.iter().find(|p| p["name"] == name) else {
            // A parameter the document does not declare must be refused, not ignored.
            assert_eq!(
                status, 400,
                "{method} {template}?{query}: `{name}` is not a parameter of the document, yet the server took it"
            );
            all_fit = false;
            continue;
        };
        assert_eq!(
            param["in"], "query",
            "{method} {template}: `{name}` is read from the query, the document says `in: {}`",
            param["in"]
        );
        // A query value is text; a number or boolean is read from it as JSON would.
        let typed = match param["schema"]["type"].as_str() {
            Some("integer" | "number" | "boolean") => {
                serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
            }
            _ => Value::String(value.to_owned()),
        };
        let fits = violations(&param["schema"], &typed).is_empty();
        all_fit &= fits;
        assert!(
            fits || !(200..300).contains(&status),
            "{method} {template}: the server took `{name}={value}`, which the document does not allow"
        );
    }
    let repeated = {
        let mut names: Vec<&str> = query
            .split('&')
            .map(|p| p.split_once('=').map_or(p, |(n, _)| n))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        names.len() != n
    };
    let at = body["errors"][0]["where"].as_str().unwrap_or_default();
    let about_query = at == "query" || params.iter().any(|p| p["name"] == at);
    assert!(
        !(all_fit && !repeated && status == 400 && about_query && !query.contains('%')),
        "{method} {template}?{query}: every value fits the document, yet the server answered 400"
    );
}

/// Every string in an answer that is an RFC 3339 time must carry `+08:00` (China time on
/// the wire); collects the paths of those that do not.
fn not_in_china_time(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::String(s)
            if chrono::DateTime::parse_from_rfc3339(s).is_ok() && !s.ends_with("+08:00") =>
        {
            out.push(format!("{path} = {s}"));
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                not_in_china_time(v, &format!("{path}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                not_in_china_time(v, &format!("{path}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// What in `value` breaks `schema` (a schema of the document, whose `$ref`s point into its
/// components), one line per error; empty when it follows.
pub fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut root = schema.clone();
    root.as_object_mut()
        .expect("a schema is an object")
        .insert("components".into(), document()["components"].clone());
    let validator = jsonschema::draft202012::new(&root).expect("the schema compiles");
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The schema of a component, by name, as a reference.
pub fn component(name: &str) -> Value {
    assert!(
        document()["components"]["schemas"].get(name).is_some(),
        "no component `{name}`"
    );
    serde_json::json!({ "$ref": format!("#/components/schemas/{name}") })
}
