//! A case's picture: the overview and a state's tracks with the places where the case is now
//! filled and framed in orange, every other box as in the procedure's own picture.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;

use fazhi_core::graph::{to_state_svg, to_state_svg_marked, to_svg, to_svg_marked};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::Procedure;

const FILL: &str = "fill=\"#fff3d6\"";
const TAG: &str = "本案当前所处";

fn procedure(file: &str) -> std::sync::Arc<Procedure> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let mut files = vec![SourceFile::new(
        file.to_owned(),
        std::fs::read_to_string(root.join(file)).unwrap(),
    )];
    files.push(SourceFile::new(
        "laws.toml".to_owned(),
        std::fs::read_to_string(root.join("laws.toml")).unwrap(),
    ));
    let loaded = load(&files);
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    loaded.rules.latest().next().unwrap().clone()
}

#[test]
fn the_overview_marks_exactly_the_current_state() {
    let p = procedure("major-decision.toml");
    let plain = to_svg(&p);
    assert!(!plain.contains(FILL) && !plain.contains(TAG));
    for s in p.states() {
        let svg = to_svg_marked(&p, &[s.id()]);
        assert_eq!(svg.matches(FILL).count(), 1, "state {}", s.id());
        assert_eq!(svg.matches(TAG).count(), 1, "state {}", s.id());
        // The marked box is the state's: its title follows the fill before any other box.
        let at = svg.find(FILL).unwrap();
        let next_box = svg[at + FILL.len()..]
            .find("<rect")
            .map_or(svg.len(), |n| at + FILL.len() + n);
        assert!(
            svg[at..next_box].contains(s.title()),
            "the marked box of {} is not titled {}",
            s.id(),
            s.title()
        );
    }
    // A name that is no place of the procedure marks nothing.
    assert_eq!(to_svg_marked(&p, &["no_such_state"]), plain);
}

#[test]
fn a_state_with_tracks_marks_each_current_track_state() {
    let p = procedure("major-decision.toml");
    let s = fazhi_core::graph::states_with_tracks(&p)
        .into_iter()
        .next()
        .expect("the major decision has a state with parallel tracks");
    let tracks: Vec<_> = s.tracks().collect();
    let current: Vec<String> = tracks
        .iter()
        .map(|t| format!("{}.{}", t.id(), t.initial().id()))
        .collect();
    let ids: Vec<&str> = current.iter().map(String::as_str).collect();
    let svg = to_state_svg_marked(&p, s.id(), &ids).unwrap();
    assert_eq!(svg.matches(FILL).count(), tracks.len());
    assert!(!to_state_svg(&p, s.id()).unwrap().contains(FILL));
    assert!(to_state_svg_marked(&p, "no_such_state", &ids).is_none());
}
