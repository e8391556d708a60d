//! The corpus of invalid rule files: one file per kind of error and warning the language can
//! give, each ending with the diagnostics it must produce, written by hand as
//! `# expect: <severity> <code> <line>:<column>`. A file is named by its code; a second case
//! of one code is `<code>.<case>.toml`. `# message: TEXT` and `# help: TEXT` lines ask that
//! some diagnostic's message (help line) contains TEXT. The test asserts that loading the file gives
//! exactly these diagnostics (no more, no fewer) and that each has a message and a help line.
//! A file with the line `# with: rules/laws.toml` is loaded beside the shipped list of laws, so
//! that its citations are checked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::path::Path;

use fazhi_core::load::{SourceFile, load};

fn expectations(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|s| s.trim().to_owned())
        .collect()
}

#[test]
fn every_invalid_file_gives_exactly_its_expected_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "the corpus should hold at least 20 files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut codes = BTreeSet::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let expected = expectations(&text);
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let mut sources = vec![SourceFile::new(path.display().to_string(), text.clone())];
        if text.lines().any(|l| l.trim() == "# with: rules/laws.toml") {
            let laws = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/laws.toml");
            sources.push(SourceFile::new(
                "rules/laws.toml",
                std::fs::read_to_string(laws).unwrap(),
            ));
        }
        let loaded = load(&sources);
        let got: BTreeSet<String> = loaded
            .diagnostics
            .iter()
            .map(|d| format!("{} {} {}:{}", d.severity, d.code, d.line, d.column))
            .collect();
        // `# message: TEXT` and `# help: TEXT`: some diagnostic's message (help) says TEXT.
        for (prefix, field) in [("# message: ", 0), ("# help: ", 1)] {
            for want in text.lines().filter_map(|l| l.strip_prefix(prefix)) {
                let found = loaded.diagnostics.iter().any(|d| {
                    let have = if field == 0 {
                        d.message.as_str()
                    } else {
                        d.help.as_deref().unwrap_or("")
                    };
                    have.contains(want.trim())
                });
                if !found {
                    failures.push(format!(
                        "{}: no diagnostic says `{}`",
                        path.display(),
                        want.trim()
                    ));
                }
            }
        }
        for d in &loaded.diagnostics {
            if d.message.is_empty() || d.help.is_none() {
                failures.push(format!(
                    "{}: `{}` lacks a message or a help line",
                    path.display(),
                    d.code
                ));
            }
            codes.insert(d.code);
        }
        if got != expected {
            failures.push(format!(
                "{}\n  expected: {expected:?}\n  got:      {got:?}\n{}",
                path.display(),
                loaded
                    .diagnostics
                    .iter()
                    .map(|d| format!("    {}", d.to_plain()))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        // A file whose only diagnostics are warnings still loads.
        let only_warnings = loaded.diagnostics.iter().all(|d| !d.is_error());
        assert_eq!(
            only_warnings,
            !loaded.rules.is_empty(),
            "{}",
            path.display()
        );
    }
    assert!(
        failures.is_empty(),
        "{} file(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The file name is the code it is about: each file shows its own kind of diagnostic
    // (`invalid-period.too-long.toml` is a second case of `invalid-period`).
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let stem = name.split('.').next().unwrap();
        assert!(
            codes.contains(stem),
            "no diagnostic with code `{stem}` was produced"
        );
    }
}
