//! `fazhi graph` end to end: DOT, Mermaid and SVG of the shipped procedures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;
mod common;
use common::fazhi;

use fazhi_core::load::{SourceFile, load};

fn procedure(id: &str) -> std::sync::Arc<fazhi_core::model::Procedure> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(format!("rules/{id}.toml"))).unwrap();
    let loaded = load(&[SourceFile::new(id, text)]);
    loaded.rules.get(id, None).unwrap().clone()
}

/// Every procedure file under `rules/` with the list of laws, loaded as `fazhi graph` loads
/// them.
fn shipped() -> fazhi_core::load::Loaded {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut files = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.ends_with(".toml") && !n.ends_with(".test.toml")
        })
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        files.push(SourceFile::new(path.display().to_string(), text));
    }
    let loaded = load(&files);
    assert!(
        !loaded.diagnostics.iter().any(|d| d.is_error()),
        "the shipped rules load without errors"
    );
    loaded
}

/// The text a picture shows, line after line (a wrapped title reads whole across lines).
fn shown_text(svg: &str, what: &str) -> String {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{what}");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect()
}

/// The width and height a picture declares.
fn size(svg: &str) -> (u32, u32) {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let root = doc.root_element();
    let px = |a: &str| root.attribute(a).unwrap().parse::<u32>().unwrap();
    (px("width"), px("height"))
}

#[test]
fn every_picture_parses_and_shows_every_state_and_action_with_titles() {
    let loaded = shipped();
    let mut drawn = 0;
    for p in loaded.rules.all() {
        let what = format!("{} v{}", p.meta.id, p.version);
        let overview = fazhi_core::graph::to_svg(p);
        assert_eq!(
            overview,
            fazhi_core::graph::to_svg(p),
            "{what}: same bytes twice"
        );
        let text = shown_text(&overview, &what);
        let (width, _) = size(&overview);
        assert!(width <= 1600, "{what}: the overview is {width} px wide");
        for s in p.states() {
            assert!(text.contains(s.title()), "{what}: state {}", s.id());
        }
        for a in p.actions().filter(|a| a.track().is_none()) {
            assert!(text.contains(a.title()), "{what}: action {}", a.id());
        }
        for t in p.tracks() {
            assert!(text.contains(t.title()), "{what}: track {}", t.id());
        }
        // No condition is written as code.
        assert!(
            !text.contains("&&") && !text.contains("||"),
            "{what}: {text}"
        );
        for s in fazhi_core::graph::states_with_tracks(p) {
            let svg = fazhi_core::graph::to_state_svg(p, s.id()).unwrap();
            assert_eq!(
                Some(&svg),
                fazhi_core::graph::to_state_svg(p, s.id()).as_ref()
            );
            let what = format!("{what} state {}", s.id());
            let text = shown_text(&svg, &what);
            for t in s.tracks() {
                for ts in t.states() {
                    assert!(text.contains(ts.title()), "{what}: {}.{}", t.id(), ts.id());
                }
                for a in p.actions().filter(|a| a.track() == Some(t)) {
                    assert!(text.contains(a.title()), "{what}: action {}", a.id());
                }
            }
            drawn += 1;
        }
        for st in p.states() {
            if st.tracks().next().is_none() {
                assert!(
                    fazhi_core::graph::to_state_svg(p, st.id()).is_none(),
                    "{what}"
                );
            }
        }
        assert!(fazhi_core::graph::to_state_svg(p, "no-such-state").is_none());
    }
    assert!(drawn >= 2, "the states with tracks are drawn");
}

#[test]
fn svg_output_is_the_same_bytes_every_run() {
    let (code, first, err) = fazhi(&["graph", "major-decision", "--format", "svg"]);
    assert_eq!(code, 0, "{err}");
    let (_, second, _) = fazhi(&["graph", "major-decision", "--format", "svg"]);
    assert_eq!(first, second);
    let (code, tracks, err) = fazhi(&["graph", "major-decision", "--state", "drafting"]);
    assert_eq!(code, 0, "{err}");
    assert!(tracks.contains("公众参与") && tracks.contains("专家论证"));
    let (_, again, _) = fazhi(&["graph", "major-decision", "--state", "drafting"]);
    assert_eq!(tracks, again);
}

#[test]
fn a_state_without_tracks_is_refused_naming_those_with_tracks() {
    let (code, _, err) = fazhi(&["graph", "major-decision", "--state", "proposed"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("drafting") && err.contains("executing"),
        "{err}"
    );
}

/// The command that regenerates the pictures in `docs/`, as the README names it.
const REGENERATE: &str = "cargo run -- graph --all --out docs";

#[test]
fn the_pictures_in_docs_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(REGENERATE),
        "the README names `{REGENERATE}`"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, listed, err) = fazhi(&["graph", "--all", "--out", out]);
    assert_eq!(code, 0, "{err}");
    let mut stale = Vec::new();
    let mut written = Vec::new();
    for path in listed.lines() {
        let name = Path::new(path)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let fresh = std::fs::read(path).unwrap();
        if std::fs::read(root.join("docs").join(&name)).ok() != Some(fresh) {
            stale.push(name.clone());
        }
        written.push(name);
    }
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_str().unwrap().to_owned();
        if name.ends_with(".svg") && !written.contains(&name) {
            stale.push(format!("{name} (no procedure draws it)"));
        }
    }
    stale.sort();
    assert!(
        stale.is_empty(),
        "docs/ pictures are stale: {}; regenerate them with `{REGENERATE}`",
        stale.join(", ")
    );
}

#[test]
fn dot_has_clusters_for_tracks_and_an_edge_per_move() {
    let (code, out, _) = fazhi(&["graph", "major-decision", "--format", "dot"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("digraph \"major-decision\""));
    let p = procedure("major-decision");
    assert_eq!(
        out.matches("subgraph \"cluster_").count(),
        p.tracks().count()
    );
    let edges: usize = p.actions().map(|a| a.from().count()).sum();
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
        .states()
        .map(|s| s.tracks().count())
        .filter(|&n| n > 1)
        .map(|n| n - 1)
        .sum::<usize>();
    assert_eq!(out.matches("        --\n").count(), with_tracks);
}

#[test]
fn an_unknown_procedure_says_which_exist() {
    let (code, _, err) = fazhi(&["graph", "major-decisoin"]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `major-decision`?"), "{err}");
}
