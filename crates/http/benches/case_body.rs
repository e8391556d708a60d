//! Building and serialising the case body an append answers with (`POST
//! /v1/cases/{id}/events` → 201 with the event and the new [`CaseBody`]), on the fixture
//! procedure (`tests/fixtures/filing.toml`, four actions), on mimalloc as the server runs.
//!
//! - `case_body/build`: the view, the deadlines and every action for the caller.
//! - `case_body/serialise`: that body to JSON bytes, as the handler writes them.
//! - `case_body/build_and_serialise`: both, the work of one append after deciding.
//!
//! Run: `cargo bench -p fazhi-http --bench case_body -- --warm-up-time 1 --measurement-time 3`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::runtime::{Actor, Case, Command, DocumentRef, Opening};
use fazhi_core::time::Calendar;
use fazhi_http::service::CaseBody;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FILING: &str = include_str!("../tests/fixtures/filing.toml");

fn cst(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
        .unwrap()
        .with_timezone(&Utc)
}

fn doc(kind: &str) -> DocumentRef {
    DocumentRef {
        kind: kind.into(),
        name: format!("{kind}.pdf"),
        sha256: "0123456789abcdef".repeat(4),
        uri: None,
    }
}

fn benches(c: &mut Criterion) {
    let rules = load(&[SourceFile::new("filing.toml", FILING)]).rules;
    let p = rules.get("village-rules-filing", None).unwrap().clone();
    let calendar = Calendar::new();
    let village = Actor::new("村委会", ["village"]);
    let opened_at = cst("2026-03-02T09:00:00");
    let (mut case, _) = Case::open_recorded(
        &p,
        Opening {
            case: "0197a8f0-0000-7000-8000-000000000001".into(),
            title: "某村村规民约".into(),
            actor: village.clone(),
            at: opened_at,
            facts: serde_json::json!({ "adopted_on": "2026-03-01" }),
            imported: false,
        },
    )
    .unwrap();
    let at = cst("2026-03-02T10:00:00");
    let command = Command::new("submit", village.clone(), at)
        .with_document(doc("rules_text"))
        .with_document(doc("meeting_record"));
    case.decide_record(command, &calendar).unwrap();
    assert_eq!(case.state(), "submitted");

    let built = CaseBody::new(&case, &village, at, &calendar);
    let mut g = c.benchmark_group("case_body");
    g.bench_function("build", |b| {
        b.iter(|| CaseBody::new(black_box(&case), black_box(&village), at, &calendar));
    });
    g.bench_function("serialise", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(4096);
            serde_json::to_writer(&mut out, black_box(&built)).unwrap();
            out
        });
    });
    g.bench_function("build_and_serialise", |b| {
        b.iter(|| {
            let body = CaseBody::new(black_box(&case), black_box(&village), at, &calendar);
            let mut out = Vec::with_capacity(4096);
            serde_json::to_writer(&mut out, &body).unwrap();
            out
        });
    });
    g.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
