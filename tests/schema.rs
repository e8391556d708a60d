//! The JSON Schema of procedure files (`rules/fazhi.schema.json`): `fazhi schema` prints it
//! as shipped, every shipped procedure validates against it, and the invalid files whose
//! problem is structural (an unknown key, a bad period, ...) fail it at the right place.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use fazhi::core::load::{SourceFile, load};
use fazhi::files::{FileKind, find, kind_of};
use jsonschema::Validator;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_text() -> String {
    std::fs::read_to_string(root().join("rules/fazhi.schema.json")).unwrap()
}

fn validator() -> Validator {
    let schema: Value = serde_json::from_str(&schema_text()).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// TOML to JSON as an editor (taplo) sees it: a TOML date becomes its string. (`serde_json::
/// to_value` of a `toml::Value` would give a date as a private one-key object instead.)
fn to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::to_value(f).unwrap(),
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

fn json_of(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let toml: toml::Value = toml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", path.display()));
    to_json(&toml)
}

/// Every error of `instance` as `instance-path: message`.
fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn fazhi_schema_prints_the_shipped_file_and_it_is_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed, schema_text());
    let schema: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::meta::validate(&schema).expect("the schema is valid against its meta-schema");
}

/// Every property the schema declares carries a title and a description (from the docs).
#[test]
fn every_property_has_a_title_and_a_description() {
    fn walk(v: &Value, at: &str, missing: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                // Inside `allOf` an `if`/`then` restates a property's shape, not the property.
                let restating = at.contains("/allOf/");
                if let Some(Value::Object(props)) = map.get("properties").filter(|_| !restating) {
                    for (name, p) in props {
                        if p.get("title").is_none() || p.get("description").is_none() {
                            missing.push(format!("{at}/properties/{name}"));
                        }
                    }
                }
                for (k, child) in map {
                    walk(child, &format!("{at}/{k}"), missing);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{at}/{i}"), missing);
                }
            }
            _ => {}
        }
    }
    let schema: Value = serde_json::from_str(&schema_text()).unwrap();
    let mut missing = Vec::new();
    walk(&schema, "#", &mut missing);
    assert!(
        missing.is_empty(),
        "properties without title/description: {missing:#?}"
    );
}

#[test]
fn every_shipped_procedure_validates() {
    let v = validator();
    let files = find(&[root().join("rules")], FileKind::Procedure).unwrap();
    assert!(!files.is_empty(), "no procedure under rules/");
    let mut failures = Vec::new();
    for path in files
        .iter()
        .filter(|p| kind_of(p) == Some(FileKind::Procedure))
    {
        let errs = errors(&v, &json_of(path));
        if !errs.is_empty() {
            failures.push(format!("{}:\n  {}", path.display(), errs.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Invalid files whose problem the schema can see, each with the instance path its first
/// error must be at.
const SCHEMA_VISIBLE: &[(&str, &str)] = &[
    ("unknown-key.toml", "/actions/go"),
    ("invalid-period.toml", "/time/limit"),
    ("misplaced-option.toml", "/time/limit"),
    ("invalid-invariant.toml", "/invariants/half"),
    ("wrong-type.toml", "/procedure/version"),
    ("unknown-type.toml", "/facts/n"),
    ("invalid-id.toml", "/states"),
    ("invalid-version.toml", "/procedure/version"),
    ("missing-key.toml", "/procedure"),
    ("enum-without-values.toml", "/facts/k"),
    ("values-on-non-enum.toml", "/facts/k"),
    ("invalid-reads.toml", "/roles/clerk/reads"),
];

#[test]
fn schema_visible_invalid_files_fail_validation_where_the_loader_points() {
    let v = validator();
    let dir = root().join("tests/invalid");
    let mut failures = Vec::new();
    for (file, at) in SCHEMA_VISIBLE {
        let errs = errors(&v, &json_of(&dir.join(file)));
        if !errs.iter().any(|e| e.starts_with(at)) {
            failures.push(format!("{file}: expected an error at {at}, got {errs:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The schema is no stricter than the loader on the shapes the docs allow: a single string
/// where a list is allowed, a state given as an empty table, an `enum` default, a date
/// default, `reason_required` as a guard.
#[test]
fn documented_shorthands_validate() {
    let text = r#"
language = 1
[procedure]
id = "p"
version = 2
initial = "a"
terminal = "z"
[roles]
clerk = {}
[documents]
doc = { title = "文书" }
"村规_v2" = {}
[facts]
kind = { type = "enum", values = ["x", "y"], default = "x" }
on = { type = "date", default = 2025-10-08 }
fine = { type = "amount", default = 3000.50 }
[states]
a = { tracks = "t" }
z = {}
[tracks.t]
initial = "s"
final = "e"
active_if = "kind == \"x\""
[tracks.t.states]
s = {}
e = {}
[actions.finish]
from = "t.s"
to = "t.e"
by = ["clerk"]
[actions.go]
from = "a"
to = "z"
by = "clerk"
documents = "doc"
reason_required = "kind == \"y\""
when = "done(t)"
[actions.go.payload]
n = { type = "integer", required = true }
[actions.go.sets]
kind = "\"y\""
[time.limit]
at_least = { hours = 48 }
after = "on"
actions = "go"
below_with_reason = true
[invariants.i]
reach = "z"
only_if = "done(t)"
"#;
    let json = to_json(&toml::from_str::<toml::Value>(text).unwrap());
    let errs = errors(&validator(), &json);
    assert!(errs.is_empty(), "{errs:#?}");
    // The loader agrees that the file is valid.
    let loaded = load(&[SourceFile::new("shorthands.toml", text)]);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert!(loaded.rules.get("p", None).is_some());
}
