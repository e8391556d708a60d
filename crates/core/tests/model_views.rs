//! The embedder's view of a procedure: accessors that speak in ids and titles, and a
//! serialized model that writes ids, never indices. Run over every shipped rule file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::{Path, PathBuf};

use fazhi_core::load::{Loaded, SourceFile, load};
use fazhi_core::model::{AnchorRef, InvariantKindRef, NodeRef, PlaceRef, Procedure};
use serde_json::Value as Json;

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // Calendars and migrations (`rules/migrations/`) are not procedures.
            if name != "calendars" && name != "migrations" {
                rule_files(&path, out);
            }
        } else if name.ends_with(".toml") && !name.ends_with(".test.toml") {
            out.push(path);
        }
    }
}

fn shipped() -> Loaded {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let mut paths = Vec::new();
    rule_files(&root, &mut paths);
    let files: Vec<SourceFile> = paths
        .iter()
        .map(|p| SourceFile::new(p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    let loaded = load(&files);
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    loaded
}

/// The keys under which the serialized model writes a reference to another element.
const REFERENCES: &[&str] = &[
    "initial",
    "by",
    "from",
    "to",
    "track",
    "tracks",
    "parent",
    "finals",
    "documents",
    "actions",
    "after",
    "stops",
    "extended_by",
    "first",
    "then",
    "reach",
    "fact",
    "document",
    "action",
    "state",
];

/// Every reference under `json` is an id (a string), never a number.
fn no_index(json: &Json, key: &str, at: &str) {
    match json {
        Json::Number(n) => assert!(
            !REFERENCES.contains(&key),
            "{at}: `{key}` is written as the index {n}"
        ),
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                no_index(v, key, &format!("{at}[{i}]"));
            }
        }
        Json::Object(map) => {
            for (k, v) in map {
                // The element lists themselves (`"actions": [{...}]`) are not references.
                no_index(v, k, &format!("{at}.{k}"));
            }
        }
        _ => {}
    }
}

#[test]
fn the_serialized_model_writes_ids_never_indices() {
    let loaded = shipped();
    let mut checked = 0;
    for p in loaded.rules.all() {
        let json = serde_json::to_value(p.as_ref()).unwrap();
        let what = format!("{} v{}", p.meta.id, p.version);
        no_index(&json, "", &what);
        let text = json.to_string();
        assert!(!text.contains("\"by\":[0"), "{what}");
        assert!(!text.contains("\"initial\":0"), "{what}");
        assert!(!text.contains("{\"state\":0"), "{what}");
        assert_eq!(json["initial"], p.initial_state().id(), "{what}");
        // Every action's `by` is its roles' ids, in order.
        for (a, out) in p.actions().zip(json["actions"].as_array().unwrap()) {
            assert_eq!(out["id"], a.id());
            let by: Vec<&str> = a.roles().map(|r| r.id()).collect();
            assert_eq!(out["by"], serde_json::json!(by), "{what}: {}", a.id());
            let from: Vec<String> = a.from().map(|f| f.id()).collect();
            assert_eq!(out["from"], serde_json::json!(from), "{what}: {}", a.id());
        }
        checked += 1;
    }
    assert!(checked >= 10, "every shipped procedure is checked");
}

#[test]
fn the_major_decision_serializes_its_tracks_and_invariants_by_name() {
    let loaded = shipped();
    let p = loaded.rules.get("major-decision", None).unwrap();
    let json = serde_json::to_value(p.as_ref()).unwrap();
    let tracks = json["tracks"].as_array().unwrap();
    assert!(!tracks.is_empty());
    for t in tracks {
        assert!(t["parent"].is_string(), "{t}");
        assert!(t["initial"].is_string(), "{t}");
        assert!(t["finals"].as_array().unwrap().iter().all(Json::is_string));
    }
    // A track's action names its places as `track.state`.
    let track_action = p.actions().find(|a| a.track().is_some()).unwrap();
    let out = json["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == track_action.id())
        .unwrap();
    let track = track_action.track().unwrap();
    assert_eq!(out["track"], track.id());
    for f in out["from"].as_array().unwrap() {
        assert!(
            f.as_str().unwrap().starts_with(&format!("{}.", track.id())),
            "{f}"
        );
    }
    for inv in json["invariants"].as_array().unwrap() {
        let node = inv
            .get("before")
            .map(|b| &b["first"])
            .or_else(|| inv.get("only_if").map(|o| &o["reach"]))
            .unwrap();
        let (kind, id) = node.as_object().unwrap().iter().next().unwrap();
        assert!(kind == "state" || kind == "action", "{inv}");
        assert!(id.is_string(), "{inv}");
    }
}

/// Every reference a view gives leads back to the element with that id.
fn round_trips(p: &Procedure) {
    let what = format!("{} v{}", p.meta.id, p.version);
    assert!(p.initial_state().is_initial());
    assert_eq!(p.states().filter(|s| s.is_initial()).count(), 1, "{what}");
    for s in p.states() {
        assert_eq!(p.state(s.id()), Some(s), "{what}");
        assert!(!s.title().is_empty());
        for t in s.tracks() {
            assert_eq!(t.parent(), s, "{what}");
        }
    }
    for t in p.tracks() {
        assert_eq!(p.track(t.id()), Some(t), "{what}");
        assert!(t.states().any(|s| s == t.initial()), "{what}");
        assert!(t.finals().all(|f| f.is_final() && f.track() == t), "{what}");
        for s in t.states() {
            let id = format!("{}.{}", t.id(), s.id());
            assert_eq!(p.place(&id), Some(PlaceRef::Track(s)), "{what}");
        }
    }
    for a in p.actions() {
        assert_eq!(p.action(a.id()), Some(a), "{what}");
        for place in a.from().chain(a.to()) {
            assert_eq!(p.place(&place.id()), Some(place), "{what}: {}", a.id());
            if let Some(t) = a.track() {
                assert!(matches!(place, PlaceRef::Track(s) if s.track() == t));
            }
        }
        for r in a.roles() {
            assert_eq!(p.role(r.id()), Some(r), "{what}");
        }
        for d in a.documents().chain(a.documents_when().map(|(d, _)| d)) {
            assert_eq!(p.document(d.id()), Some(d), "{what}");
        }
        for (f, value) in a.sets() {
            assert_eq!(p.fact(f.id()), Some(f), "{what}");
            assert!(!value.source().is_empty());
        }
    }
    for t in p.time_rules() {
        assert_eq!(p.time_rule(t.id()), Some(t), "{what}");
        assert!(t.after().next().is_some(), "{what}: {}", t.id());
        for anchor in t.after() {
            match anchor {
                AnchorRef::Action(a) => assert_eq!(p.action(a.id()), Some(a)),
                AnchorRef::Entered(place) => assert_eq!(p.place(&place.id()), Some(place)),
                AnchorRef::Date(f) => assert_eq!(p.fact(f.id()), Some(f)),
                AnchorRef::Due(d) => assert_eq!(p.time_rule(d.id()), Some(d)),
                AnchorRef::PayloadDate(a, field) => {
                    assert!(a.payload().iter().any(|f| f == field))
                }
            }
        }
        for a in t.actions().chain(t.extended_by().map(|(a, _)| a)) {
            assert_eq!(p.action(a.id()), Some(a), "{what}");
        }
        for place in t.stops() {
            assert_eq!(p.place(&place.id()), Some(place), "{what}");
        }
    }
    for inv in p.invariants() {
        assert_eq!(p.invariant(inv.id()), Some(inv), "{what}");
        let nodes = match inv.kind() {
            InvariantKindRef::Before { first, then } => vec![first, then],
            InvariantKindRef::OnlyIf { reach, .. } => vec![reach],
        };
        for n in nodes {
            match n {
                NodeRef::State(s) => assert_eq!(p.state(n.id()), Some(s)),
                NodeRef::Action(a) => assert_eq!(p.action(n.id()), Some(a)),
            }
        }
    }
}

#[test]
fn every_view_leads_back_to_its_element_by_id() {
    let loaded = shipped();
    for p in loaded.rules.all() {
        round_trips(p);
    }
    let p = loaded.rules.get("information-disclosure", None).unwrap();
    // Its deadline stops while a third party is consulted, and is extended by a payload.
    assert!(p.time_rules().any(|t| t.stops().next().is_some()));
    assert!(
        p.time_rules()
            .flat_map(|t| t.extended_by().collect::<Vec<_>>())
            .any(|(_, field)| field.is_some_and(|f| f.meta.id == "days"))
    );
    assert!(p.state("no-such-state").is_none());
    assert!(p.place("no-track.open").is_none());
    assert!(p.action("").is_none());
}
