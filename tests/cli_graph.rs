//! `fazhi graph` end to end: DOT, Mermaid and SVG of the shipped procedures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;
use std::process::Command;

use fazhi_core::load::{SourceFile, load};

fn fazhi(args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn procedure(id: &str) -> std::sync::Arc<fazhi_core::model::Procedure> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(format!("rules/{id}.toml"))).unwrap();
    let loaded = load(&[SourceFile::new(id, text)]);
    loaded.rules.get(id, None).unwrap().clone()
}

#[test]
fn svg_is_a_whole_document_naming_every_state_and_action() {
    for id in ["village-rules-filing", "major-decision"] {
        let (code, out, err) = fazhi(&["graph", id, "--format", "svg"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.starts_with("<?xml") && out.contains("<svg") && out.trim_end().ends_with("</svg>"),
            "{id}"
        );
        assert_eq!(out.matches("<svg").count(), 1);
        let p = procedure(id);
        for s in &p.states {
            assert!(
                out.contains(&format!("({})", s.meta.id)),
                "{id}: state {} missing",
                s.meta.id
            );
        }
        for a in p
            .actions
            .iter()
            .filter(|a| a.to.is_some_and(|to| !a.from.contains(&to)))
        {
            assert!(
                out.contains(&a.meta.title),
                "{id}: action {} missing",
                a.meta.id
            );
        }
    }
}

#[test]
fn dot_has_clusters_for_tracks_and_an_edge_per_move() {
    let (code, out, _) = fazhi(&["graph", "major-decision", "--format", "dot"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("digraph \"major-decision\""));
    let p = procedure("major-decision");
    assert_eq!(out.matches("subgraph \"cluster_").count(), p.tracks.len());
    let edges: usize = p.actions.iter().map(|a| a.from.len()).sum();
    // One edge per (action, from) pair, plus one from the start point.
    assert_eq!(out.matches(" -> ").count(), edges + 1);
}

#[test]
fn mermaid_is_a_state_diagram_with_concurrent_regions() {
    let (code, out, _) = fazhi(&["graph", "major-decision", "--format", "mermaid"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("stateDiagram-v2\n"));
    let p = procedure("major-decision");
    let with_tracks = p
        .states
        .iter()
        .filter(|s| s.tracks.len() > 1)
        .map(|s| s.tracks.len() - 1)
        .sum::<usize>();
    assert_eq!(out.matches("        --\n").count(), with_tracks);
}

#[test]
fn an_unknown_procedure_says_which_exist() {
    let (code, _, err) = fazhi(&["graph", "major-decisoin"]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `major-decision`?"), "{err}");
}
