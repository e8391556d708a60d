//! Loading and validating rule files: every shipped procedure under `rules/`, and one large
//! generated procedure (200 states, 600 actions, 20 tracks), and generated chains of 1,000
//! and 10,000 states to show that loading scales near-linearly.
//!
//! `cargo bench --bench load -- --warm-up-time 1 --measurement-time 3`
//!
//! It runs with mimalloc, the allocator the `fazhi` binary (and so `fazhi check`) ships with.
//!
//! Figures (issue 12 asks for 10,000 states in < 150 ms), with
//! `cargo bench -p fazhi --bench load -- --warm-up-time 1 --measurement-time 3 --sample-size 10`:
//! - quiet machine, before 2026-12-05: 10,000 states 156.3 ms median [151.95, 162.98];
//!   shipped rules 11-13 ms; 1,000 states ~17-21 ms.
//! - 2026-12-05, on a shared machine (load average 7-15 on 2 cores): wall-clock medians of
//!   the same binary ranged 262-671 ms from run to run, too noisy to judge a change by. CPU
//!   time (`perf stat -e task-clock`, hardware counters are not available there) of
//!   `load --bench "10000 states" --warm-up-time 0.001 --measurement-time 0.001
//!   --sample-size 10` (about 11 loads plus the setup): 2,297 ms median of 5 runs.
//!
//! Where the time goes (perf, 10,000 states): the kernel zeroing fresh pages 12% and
//! `memmove` 5%, much of it growing large vectors (among them the `toml` crate's token
//! vector: its capacity guess of 2 tokens per 7 bytes is too small for rule files, about 14
//! per 33-byte `[states]` line, so it regrows); the `toml` lexer 10%; building and dropping
//! the `DeTable` about 10%; `raw::read` and `resolve` about 15-20% together, spread over many
//! small costs (none above 3%); the graph checks about 3%.
//! Merging a guard's two satisfiability analyses into one pass was measured and made no
//! difference.
//!
//! 2026-12-05, second attempt, measured in instructions (`valgrind --tool=callgrind
//! --toggle-collect='fazhi_core::load::load'`, release, mimalloc, one load of the
//! 10,000-state file; repeatable on a loaded machine, unlike wall-clock):
//! - before: 616.5 M instructions; `toml`'s `DeTable` parse was 57% of them (lexing into a
//!   regrown token vector 12%, the `toml_parser` events 12%, building the `DeTable` with
//!   its hashed maps 33%), `raw::read` 11%, `resolve` 25%, the graph checks 3%.
//! - `load/tree.rs` reads `toml_parser` events straight into a light tree (tables as
//!   vectors, an index only above 16 keys, bare keys borrowed from the source, tokens
//!   pre-sized): 540.4 M (-12.3%). Any TOML it does not handle (an array of tables, a dotted
//!   key inside an inline table), any error and any conflict falls back to `DeTable`, so
//!   every TOML diagnostic is still `toml`'s own.
//! - one-line strings without escapes borrowed too, header tables pre-sized: 523.6 M
//!   (-15.1% in all).
//!   Criterion, same command as above, on the shared machine (not comparable with the quiet
//!   figures: the shipped rules, 11-13 ms quiet, took 27-32 ms here). Load average 4-6:
//!   10,000 states 213.5 ms [202.5, 230.9], 1,000 states 18.3 ms, large 10.4 ms, shipped
//!   rules 32.1 ms. A minute later, load average 2-2.7: 10,000 states 164.6 ms [150.9,
//!   183.5], 1,000 states 14.5 ms, large 7.9 ms, shipped rules 26.9 ms. Whether 10,000
//!   states now load in < 150 ms needs a quiet machine to show.
//! - 2026-12-05 18:34 UTC, idle machine (load average 1.3-1.8, nothing else running), the
//!   same command on the same build: 10,000 states 137.45 ms [132.26, 145.54] and, again,
//!   136.47 ms [134.71, 138.33]: under the 150 ms of issue 12. 1,000 states 12.2-12.4 ms,
//!   large 6.6-7.3 ms, shipped rules (20 files, more and longer than those of the 11-13 ms
//!   figure above; not compared with the previous build on this machine) 19.8-21.1 ms.
//!
//! What is left: lexing and the `toml_parser` events (~130 M, not ours), `resolve` (~155 M:
//! compiling the 10,000 guards and their never-true analysis), `raw::read` (~65 M).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use fazhi::files::{FileKind, find, read};
use fazhi_core::load::{SourceFile, load};

/// Every procedure file under `rules/` (not calendars, not scenario files), read once.
fn shipped() -> Vec<SourceFile> {
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    find(&[rules], FileKind::Procedure)
        .expect("rules/ is readable")
        .iter()
        .map(|p| read(p).expect("a rule file is readable"))
        .collect()
}

const STATES: usize = 200;
const ACTIONS: usize = 600;
const TRACKS: usize = 20;
const TRACK_STATES: usize = 3;
const FLAGS: usize = 10;
/// Every path to the last state passes this one: no edge jumps over it.
const GATE: usize = STATES / 2;

/// A valid procedure of `STATES` main states in a chain plus extra edges, `TRACKS` tracks
/// of `TRACK_STATES` states, `ACTIONS` actions in all, guards, time rules and invariants.
fn large() -> SourceFile {
    let mut o = String::new();
    let last = STATES - 1;
    let _ = writeln!(
        o,
        "language = 1\n\n[procedure]\nid = \"large\"\nversion = 1\ntitle = \"大型程序\"\n\
         initial = \"s0\"\nterminal = [\"s{last}\"]\n"
    );
    o.push_str("[roles]\nclerk = { title = \"办事员\" }\nhead = { title = \"负责人\" }\n\n");
    o.push_str("[documents]\nrecord = { title = \"记录\" }\n\n[facts]\n");
    for f in 0..FLAGS {
        let _ = writeln!(o, "f{f} = {{ type = \"bool\", default = false }}");
    }
    o.push_str("kind = { type = \"enum\", values = [\"a\", \"b\", \"c\"] }\n");
    o.push_str("n = { type = \"integer\", default = 0 }\nopened = { type = \"date\" }\n\n");
    // Track j runs in state 9j + 1 (never the last one).
    let parent = |j: usize| 9 * j + 1;
    o.push_str("[states]\n");
    for s in 0..STATES {
        match (0..TRACKS).find(|j| parent(*j) == s) {
            Some(j) => {
                let _ = writeln!(o, "s{s} = {{ title = \"状态{s}\", tracks = [\"t{j}\"] }}");
            }
            None => {
                let _ = writeln!(o, "s{s} = {{ title = \"状态{s}\" }}");
            }
        }
    }
    for j in 0..TRACKS {
        let _ = writeln!(
            o,
            "\n[tracks.t{j}]\ninitial = \"q0\"\nfinal = [\"q{}\"]\nactive_if = \"f{}\"\n\n[tracks.t{j}.states]",
            TRACK_STATES - 1,
            j % FLAGS
        );
        for q in 0..TRACK_STATES {
            let _ = writeln!(o, "q{q} = {{ title = \"环节{q}\" }}");
        }
    }
    let mut count = 0;
    let action = |o: &mut String,
                  count: &mut usize,
                  from: String,
                  to: String,
                  when: Option<String>| {
        let n = *count;
        let _ = write!(
            o,
            "\n[actions.a{n}]\ntitle = \"动作{n}\"\nfrom = \"{from}\"\nto = \"{to}\"\nby = [\"clerk\", \"head\"]\ndocuments = [\"record\"]\n"
        );
        if let Some(w) = when {
            let _ = writeln!(o, "when = \"{w}\"");
        }
        if n.is_multiple_of(5) {
            let _ = writeln!(o, "sets = {{ n = \"{n}\" }}");
        }
        if n.is_multiple_of(7) {
            let _ = writeln!(
                o,
                "\n[actions.a{n}.payload]\nnote = {{ type = \"text\", required = true }}"
            );
        }
        *count += 1;
    };
    for j in 0..TRACKS {
        for q in 0..TRACK_STATES - 1 {
            action(
                &mut o,
                &mut count,
                format!("t{j}.q{q}"),
                format!("t{j}.q{}", q + 1),
                None,
            );
        }
    }
    for s in 0..last {
        let when = (0..TRACKS)
            .find(|j| parent(*j) == s)
            .map(|j| format!("done(t{j}) && f{}", (j + 1) % FLAGS));
        action(
            &mut o,
            &mut count,
            format!("s{s}"),
            format!("s{}", s + 1),
            when,
        );
    }
    let mut k = 0;
    while count < ACTIONS {
        let from = (k * 13) % last;
        let mut to = (k * 7 + 3) % STATES;
        if from < GATE && to > GATE {
            to = GATE;
        }
        let when = Some(format!(
            "f{} || kind == \\\"b\\\" && n > {}",
            k % FLAGS,
            k % 50
        ));
        action(
            &mut o,
            &mut count,
            format!("s{from}"),
            format!("s{to}"),
            when,
        );
        k += 1;
    }
    for t in 0..20 {
        let rule = if t % 2 == 0 {
            "at_least = { working_days = 7 }\nbelow_with_reason = true"
        } else {
            "within = { days = 30 }\nstrict = true"
        };
        let after = if t % 3 == 0 {
            "opened".to_owned()
        } else {
            format!("s{}", t * 9)
        };
        let _ = writeln!(
            o,
            "\n[time.r{t}]\n{rule}\nafter = \"{after}\"\nactions = [\"a{}\", \"a{}\"]",
            100 + t,
            300 + t
        );
    }
    let _ = writeln!(
        o,
        "\n[invariants.gate]\nfirst = \"s{GATE}\"\nthen = \"s{last}\"\n\n[invariants.initial]\nfirst = \"s0\"\nthen = \"s{last}\""
    );
    SourceFile::new("large.toml", o)
}

/// A valid generated procedure of `n` main states: a chain, one extra guarded edge per state
/// (none jumps over the middle state), a time rule and an invariant per 1,000 states.
fn generated(n: usize) -> SourceFile {
    let mut o = String::new();
    let last = n - 1;
    let gate = n / 2;
    let _ = writeln!(
        o,
        "language = 1\n\n[procedure]\nid = \"generated\"\nversion = 1\ntitle = \"生成程序\"\n\
         initial = \"s0\"\nterminal = [\"s{last}\"]\n\n[roles]\nclerk = {{ title = \"办事员\" }}\n\n[facts]"
    );
    for f in 0..FLAGS {
        let _ = writeln!(o, "f{f} = {{ type = \"bool\", default = false }}");
    }
    o.push_str("n = { type = \"integer\", default = 0 }\n\n[states]\n");
    for s in 0..n {
        let _ = writeln!(o, "s{s} = {{ title = \"状态{s}\" }}");
    }
    for s in 0..last {
        let _ = writeln!(
            o,
            "\n[actions.a{s}]\ntitle = \"前进{s}\"\nfrom = \"s{s}\"\nto = \"s{}\"\nby = [\"clerk\"]",
            s + 1
        );
        let mut to = (s * 7 + 3) % n;
        if s < gate && to > gate {
            to = gate;
        }
        let _ = writeln!(
            o,
            "\n[actions.b{s}]\ntitle = \"跳转{s}\"\nfrom = \"s{s}\"\nto = \"s{to}\"\nby = [\"clerk\"]\nwhen = 'f{} || n > {}'",
            s % FLAGS,
            s % 50
        );
    }
    for k in 0..n / 1000 {
        let _ = writeln!(
            o,
            "\n[time.r{k}]\nwithin = {{ days = 30 }}\nafter = \"s{}\"\nactions = [\"a{}\"]",
            k * 1000,
            k * 1000 + 1
        );
        let _ = writeln!(
            o,
            "\n[invariants.i{k}]\nfirst = \"s{gate}\"\nthen = \"s{}\"",
            gate + 1 + k
        );
    }
    SourceFile::new("generated.toml", o)
}

/// Fails with every diagnostic when `files` do not load without errors.
fn assert_loads(files: &[SourceFile], what: &str) {
    let loaded = load(files);
    assert_eq!(
        loaded.errors(),
        0,
        "{what} does not load:\n{}",
        loaded
            .diagnostics
            .iter()
            .map(|d| d.to_plain())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn bench(c: &mut Criterion) {
    let files = shipped();
    assert!(!files.is_empty(), "no procedure under rules/");
    let loaded = load(&files);
    assert_eq!(loaded.errors(), 0, "the shipped rules do not load");
    c.bench_function(
        &format!("load shipped rules ({} files)", files.len()),
        |b| b.iter(|| load(black_box(&files))),
    );

    let large = [large()];
    assert_loads(&large, "the large procedure");
    c.bench_function(
        &format!("load large procedure ({STATES} states, {ACTIONS} actions, {TRACKS} tracks)"),
        |b| b.iter(|| load(black_box(&large))),
    );

    for n in [1_000, 10_000] {
        let file = [generated(n)];
        assert_loads(&file, "the generated procedure");
        c.bench_function(&format!("load generated procedure ({n} states)"), |b| {
            b.iter(|| load(black_box(&file)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
