//! Every enum of the shipped rule files (not the `*.v1.toml` nor the scenario files) gives a
//! Chinese title (`labels`) for every one of its values: what a legal officer reads never
//! shows a value's id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

use fazhi_core::expr::Type;
use fazhi_core::load::{SourceFile, load};

#[test]
fn every_enum_of_the_shipped_files_labels_every_value() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".toml") || name.ends_with(".v1.toml") || name.ends_with(".test.toml") {
            continue;
        }
        sources.push(SourceFile::new(
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    let loaded = load(&sources);
    assert_eq!(loaded.errors(), 0, "{:#?}", loaded.diagnostics);
    let mut missing = Vec::new();
    let mut enums = 0;
    for p in loaded.rules.all() {
        for f in p.facts() {
            if let Type::Enum(values) = f.ty() {
                enums += 1;
                for v in values.iter() {
                    if f.value_title(v).is_none_or(str::is_empty) {
                        missing.push(format!("{}: fact {} value {v}", p.meta.id, f.id()));
                    }
                }
            }
        }
        for a in p.actions() {
            for field in a.payload() {
                if let Type::Enum(values) = &field.ty {
                    enums += 1;
                    for v in values.iter() {
                        if field.value_title(v).is_none_or(str::is_empty) {
                            missing.push(format!(
                                "{}: action {} payload {} value {v}",
                                p.meta.id,
                                a.id(),
                                field.meta.id
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(enums > 50, "only {enums} enums found under rules/");
    assert!(
        missing.is_empty(),
        "values without a label:\n{}",
        missing.join("\n")
    );
}
