//! Participants named by an opening: recorded in the opening event (so the chain's hash
//! covers them and replay reads them back), checked against the procedure's roles, and
//! absent from the bytes of an opening that names nobody (old events read and hash as
//! before).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::{Procedure, RuleSet};
use fazhi_core::runtime::{
    Actor, Case, Event, EventBody, MAX_PARTICIPANTS, Opening, Participants, Recorded, verify,
};

const PETITION: &str = r#"
language = 1

[procedure]
id = "named"
version = 1
title = "列明参与人的程序"
initial = "received"
terminal = ["closed"]

[roles]
office = { title = "信访部门", reads = "all" }
petitioner = { title = "信访人", reads = "own" }

[states]
received = { title = "登记" }
closed = { title = "办结" }

[actions.close]
title = "办结"
from = "received"
to = "closed"
by = ["office"]
basis = "《信访工作条例》第三十二条"
"#;

fn rules() -> RuleSet {
    let loaded = load(&[SourceFile::new("named.toml", PETITION)]);
    assert_eq!(loaded.errors(), 0, "{:?}", loaded.diagnostics);
    loaded.rules
}

fn procedure(rules: &RuleSet) -> Arc<Procedure> {
    rules.get("named", None).unwrap().clone()
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

fn opening() -> Opening {
    Opening {
        case: "c-1".into(),
        title: "信访".into(),
        actor: Actor::new("office-1", ["office"]),
        at: at(),
        facts: serde_json::json!({}),
        imported: false,
    }
}

fn named(pairs: &[(&str, &[&str])]) -> Participants {
    pairs
        .iter()
        .map(|(role, names)| {
            (
                (*role).to_owned(),
                names.iter().map(|n| (*n).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn the_opening_records_whom_it_names_and_replay_agrees() {
    let rules = rules();
    let p = procedure(&rules);
    let (case, opened) =
        Case::open_recorded_naming(&p, opening(), named(&[("petitioner", &["p-1", "p-2"])]))
            .unwrap();
    let text = String::from_utf8(opened.bytes.clone()).unwrap();
    assert!(
        text.contains(r#""participants":{"petitioner":["p-1","p-2"]}"#),
        "{text}"
    );
    let who: Vec<&str> = opened.event.participants().collect();
    assert_eq!(who, ["office-1", "p-1", "p-2"]);
    // Read back from its bytes, it is the same event; replay gives the same head.
    let read = Event::from_bytes(&opened.bytes).unwrap();
    assert_eq!(read, opened.event);
    let replayed = Case::replay(&rules, [&read]).unwrap();
    assert_eq!(replayed.head(), case.head());
    assert_eq!(replayed.head(), opened.hash.as_str());
    // The hash covers the names: another name is another event, and the chain says so.
    let changed = text.replace("p-2", "p-3");
    let next = {
        let mut c = case.clone();
        let e = c
            .decide(
                fazhi_core::runtime::Command::new(
                    "close",
                    Actor::new("office-1", ["office"]),
                    at(),
                ),
                &fazhi_core::time::Calendar::new(),
            )
            .unwrap();
        c.record(e).unwrap()
    };
    assert!(
        verify(
            &[opened.bytes.as_slice(), &next.bytes],
            Some(next.hash.as_str())
        )
        .is_ok()
    );
    let broken = verify(&[changed.as_bytes(), &next.bytes], Some(next.hash.as_str())).unwrap_err();
    assert_eq!(broken.seq, 0, "{broken}");
}

#[test]
fn an_opening_naming_nobody_is_as_before() {
    let rules = rules();
    let p = procedure(&rules);
    let (_, opened) = Case::open_recorded(&p, opening()).unwrap();
    let text = String::from_utf8(opened.bytes.clone()).unwrap();
    assert!(!text.contains("participants"), "{text}");
    // An opening stored before the field existed reads, and writes back byte for byte.
    let old = r#"{"case":"c-1","seq":0,"type":"opened","procedure":"named","version":1,"title":"t","facts":{},"actor":{"id":"office-1","roles":["office"]},"at":"2026-03-02T01:00:00Z","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
    let e = Event::from_bytes(old.as_bytes()).unwrap();
    assert!(matches!(&e.body, EventBody::Opened { participants, .. } if participants.is_empty()));
    assert_eq!(e.to_bytes(), old.as_bytes());
    assert_eq!(Recorded::new(e.clone()).bytes, old.as_bytes());
    assert_eq!(e.participants().collect::<Vec<_>>(), ["office-1"]);
}

#[test]
fn whom_an_opening_names_is_checked() {
    let rules = rules();
    let p = procedure(&rules);
    let long = "x".repeat(129);
    let many: Vec<String> = (0..=MAX_PARTICIPANTS).map(|i| format!("p-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    for (participants, field) in [
        (named(&[("mayor", &["p-1"])]), "participants.mayor"),
        (named(&[("petitioner", &[])]), "participants.petitioner"),
        (
            named(&[("petitioner", &["p-1", "p-1"])]),
            "participants.petitioner[1]",
        ),
        (
            named(&[("petitioner", &[""])]),
            "participants.petitioner[0]",
        ),
        (
            named(&[("petitioner", &["a\nb"])]),
            "participants.petitioner[0]",
        ),
        (
            named(&[("petitioner", &[long.as_str()])]),
            "participants.petitioner[0]",
        ),
        (named(&[("petitioner", &many)]), "participants"),
    ] {
        let refusal = Case::open_naming(&p, opening(), participants.clone()).unwrap_err();
        assert!(
            refusal
                .reasons
                .iter()
                .any(|r| r.field.as_deref() == Some(field) && !r.message_zh.is_empty()),
            "{participants:?}: {refusal:?}"
        );
    }
    // The same principal under two roles is fine; so is the opener naming itself.
    let both = named(&[("office", &["office-1", "p-1"]), ("petitioner", &["p-1"])]);
    assert!(Case::open_naming(&p, opening(), both).is_ok());
}
