//! `fazhi.example.toml` (what `fazhi serve` reads by default) has a principal for every role of
//! every shipped procedure, with the development token `dev-<id>`, and the importer holds
//! every role: a new procedure's roles cannot be forgotten.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn every_role_of_the_shipped_procedures_has_a_sample_principal() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut roles = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("rules")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".toml") || name.ends_with(".test.toml") || name == "laws.toml" {
            continue;
        }
        let file: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        if let Some(r) = file.get("roles").and_then(|r| r.as_table()) {
            roles.extend(r.keys().cloned());
        }
    }
    assert!(roles.len() > 30, "only {} roles found", roles.len());
    let config: toml::Table = std::fs::read_to_string(root.join("fazhi.example.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let mut held = BTreeSet::new();
    let mut importer = BTreeSet::new();
    for p in config["principals"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        let these: Vec<String> = p["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        if p.get("importer").and_then(|v| v.as_bool()) == Some(true) {
            importer.extend(these);
            continue;
        }
        held.extend(these);
        // The development token is `dev-<id>`.
        let token = format!("dev-{id}");
        let hash = fazhi_core::runtime::sha256_hex(token.as_bytes());
        assert_eq!(
            p["token_sha256"].as_str().unwrap(),
            hash,
            "principal `{id}`"
        );
    }
    let missing: Vec<_> = roles.difference(&held).collect();
    assert!(
        missing.is_empty(),
        "roles without a sample principal: {missing:?}"
    );
    let missing: Vec<_> = roles.difference(&importer).collect();
    assert!(missing.is_empty(), "roles the importer lacks: {missing:?}");
}
