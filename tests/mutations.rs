//! The bounded mutation test: every shipped procedure and scenario file, broken in one
//! realistic or hostile way at a time, is loaded, checked, rendered and run. Properties:
//! nothing panics; nothing hangs (a watchdog fails the test instead of letting it hang);
//! every diagnostic lies inside its file with a message and a help line; no file gives more
//! than the cap of diagnostics; every diagnostic serialises to one line of JSON.
//!
//! Mutants: 160 by default (a few seconds), `FAZHI_MUTATIONS=n` for more. The random
//! choices come from a fixed seed (`FAZHI_MUTATIONS_SEED=n` to vary it), so a failure
//! names a case that runs again the same way.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use fazhi::calendars::load_calendar_dir;
use fazhi::cmd_check::render_human;
use fazhi::files::{FileKind, find, read};
use fazhi_core::load::{Loaded, MAX_DIAGNOSTICS_PER_FILE, SourceFile, load};
use fazhi_core::scenario;

/// A small deterministic generator (xorshift64*): no dependency, the same cases every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Text that mistakes and attacks put into rule files.
const INSERTS: &[&str] = &[
    "）",
    "“",
    "\\",
    "\u{200b}",
    "，",
    "# ",
    "\"",
    "'",
    "[",
    "]]",
    "{",
    "=",
    " = 100000000",
    "-1",
    "0",
    "99999999999999999999",
    "2025-13-45",
    "审查",
    "\n[procedure]\n",
    "\n[states]\n",
    "\n[actions.x]\nfrom = \"a\"\n",
    "&& n >= 1000 && n <= 100",
    "|| true",
    "done(",
    "payload.",
    "taken(",
    "\u{0}",
    "\r",
    "\t",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len().max(1);
    let at_char = |rng: &mut Rng, s: &str| {
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        *rng.pick(&bounds)
    };
    match rng.below(12) {
        // Drop a line.
        0 => {
            let i = rng.below(n);
            lines
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join("\n")
        }
        // Duplicate a line (a duplicated key or table).
        1 => {
            let i = rng.below(n);
            let mut out: Vec<&str> = lines.clone();
            if let Some(l) = lines.get(i) {
                out.insert(i, l);
            }
            out.join("\n")
        }
        // Swap two lines.
        2 => {
            let (i, j) = (rng.below(n), rng.below(n));
            let mut out = lines.clone();
            if i < out.len() && j < out.len() {
                out.swap(i, j);
            }
            out.join("\n")
        }
        // Insert a hostile fragment anywhere.
        3 | 4 => {
            let at = at_char(rng, text);
            format!("{}{}{}", &text[..at], rng.pick(INSERTS), &text[at..])
        }
        // Delete a run of characters.
        5 => {
            let a = at_char(rng, text);
            let rest = &text[a..];
            let take = rng.below(40);
            let b = a + rest.char_indices().nth(take).map_or(rest.len(), |(i, _)| i);
            format!("{}{}", &text[..a], &text[b..])
        }
        // Truncate the file.
        6 => {
            let at = at_char(rng, text);
            text[..at].to_owned()
        }
        // Replace a number with an extreme one.
        7 => {
            let numbers: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if numbers.is_empty() {
                return text.to_owned();
            }
            let at = *rng.pick(&numbers);
            let with = rng.pick(&[
                "100000000",
                "0",
                "-5",
                "4294967296",
                "36501",
                "9223372036854775807",
            ]);
            format!("{}{with}{}", &text[..at], &text[at + 1..])
        }
        // Rename an identifier in one place (a typo, or a confusable character).
        8 => {
            let at = at_char(rng, text);
            let typo = rng.pick(&["x", "_", "é", "\u{200b}", "Ａ", "1"]);
            format!("{}{typo}{}", &text[..at], &text[at..])
        }
        // A very long line: one fragment repeated thousands of times.
        9 => {
            let at = at_char(rng, text);
            let piece = rng.pick(&[
                "，",
                "a",
                " && n > 1",
                "(",
                "x == \\\"y\\\" || ",
                "\u{200b}",
            ]);
            let times = 1 + rng.below(5_000);
            format!("{}{}{}", &text[..at], piece.repeat(times), &text[at..])
        }
        // Nesting: many brackets.
        10 => {
            let at = at_char(rng, text);
            let depth = 1 + rng.below(3_000);
            format!(
                "{}{}{}{}",
                &text[..at],
                "(".repeat(depth),
                ")".repeat(depth),
                &text[at..]
            )
        }
        // Two mutations at once.
        _ => {
            let once = mutate(rng, text);
            mutate(rng, &once)
        }
    }
}

/// The checks on the diagnostics of one loaded set of files.
fn check_loaded(case: &str, files: &[SourceFile], loaded: &Loaded) {
    for f in files {
        let mine = loaded
            .diagnostics
            .iter()
            .filter(|d| d.file == f.name)
            .count();
        assert!(
            mine <= MAX_DIAGNOSTICS_PER_FILE + 1,
            "{case}: {mine} diagnostics for {}",
            f.name
        );
    }
    for d in &loaded.diagnostics {
        let file = files.iter().find(|f| f.name == d.file).unwrap();
        let lines = file.text.split('\n').count();
        assert!(
            d.line >= 1 && d.line <= lines && d.column >= 1,
            "{case}: {} at {}:{} outside the file",
            d.code,
            d.line,
            d.column
        );
        assert!(
            !d.message.is_empty() && d.help.is_some(),
            "{case}: `{}` lacks a message or a help line: {}",
            d.code,
            d.to_plain()
        );
        let json = serde_json::to_string(d).unwrap();
        assert!(!json.contains('\n'), "{case}: JSON on several lines");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["code"], d.code, "{case}");
        let human = render_human(d);
        assert!(human.contains(d.code), "{case}: {human}");
    }
}

fn shipped(kind: FileKind) -> Vec<(PathBuf, SourceFile)> {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    find(&[rules], kind)
        .unwrap()
        .into_iter()
        .map(|p| {
            let f = read(&p).unwrap();
            (p, f)
        })
        .collect()
}

fn run_all(cases: usize, seed: u64) -> (usize, usize) {
    let procedures = shipped(FileKind::Procedure);
    let scenarios = shipped(FileKind::Scenarios);
    let calendar =
        load_calendar_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/calendars")).unwrap();
    let originals: Vec<SourceFile> = procedures.iter().map(|(_, f)| f.clone()).collect();
    let clean = load(&originals);
    assert_eq!(clean.errors(), 0, "the shipped rules do not load");
    let mut rng = Rng(seed.max(1));
    let (mut rule_runs, mut scenario_runs) = (0, 0);
    for case in 0..cases {
        // Odd cases break a scenario file, even cases a procedure.
        if case % 2 == 0 {
            let i = rng.below(procedures.len());
            let (path, original) = &procedures[i];
            let text = mutate(&mut rng, &original.text);
            let name = format!("case {case} (seed {seed}): {}", path.display());
            let files = [SourceFile::new(original.name.clone(), text)];
            let loaded = catch_unwind(AssertUnwindSafe(|| load(&files)))
                .unwrap_or_else(|_| panic!("{name}: loading panicked"));
            check_loaded(&name, &files, &loaded);
            // The shipped scenarios still run on the broken rules without panicking.
            if let Some((_, s)) = scenarios
                .iter()
                .find(|(p, _)| p.file_stem() == path.with_extension("test").file_name())
                && let Ok(file) = scenario::parse(&s.text)
            {
                catch_unwind(AssertUnwindSafe(|| {
                    scenario::run(&file, &loaded.rules, &calendar)
                }))
                .unwrap_or_else(|_| panic!("{name}: running its scenarios panicked"));
            }
            rule_runs += 1;
        } else {
            let (path, original) = rng.pick(&scenarios);
            let text = mutate(&mut rng, &original.text);
            let name = format!("case {case} (seed {seed}): {}", path.display());
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                scenario::parse(&text)
                    .ok()
                    .map(|f| scenario::run(&f, &clean.rules, &calendar))
            }))
            .unwrap_or_else(|_| panic!("{name}: the scenario panicked"));
            if let Some(outcomes) = outcome {
                for o in outcomes {
                    for f in &o.failures {
                        assert!(!f.message.is_empty(), "{name}: an empty failure");
                    }
                }
            }
            scenario_runs += 1;
        }
    }
    (rule_runs, scenario_runs)
}

#[test]
fn no_mutant_panics_hangs_or_gives_a_diagnostic_outside_its_file() {
    let cases = std::env::var("FAZHI_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(160);
    let seed = std::env::var("FAZHI_MUTATIONS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x005E_EDF4_2026);
    // A watchdog only so that a hang fails instead of blocking the run forever: two seconds a
    // case is far beyond any real input.
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let counts = run_all(cases, seed);
        let _ = tx.send(counts);
    });
    let limit = Duration::from_secs(60 + 2 * cases as u64);
    match rx.recv_timeout(limit) {
        Ok((rules, scenarios)) => {
            println!(
                "{cases} mutants: {rules} of procedure files, {scenarios} of scenario files; 0 panics"
            );
            worker.join().unwrap();
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the mutation test did not finish within {limit:?}: an input hangs")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The worker panicked: join to show its message.
            match worker.join() {
                Ok(()) => panic!("the worker stopped without a result"),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
    }
}

/// A procedure whose one action has the guard `when`.
fn with_guard(when: &str) -> String {
    format!(
        "[procedure]\nid = \"t\"\nversion = 1\ntitle = \"测试\"\ninitial = \"a\"\nterminal = [\"z\"]\n\n\
         [roles]\nclerk = {{ title = \"办事员\" }}\n\n[facts]\nn = {{ type = \"integer\", default = 0 }}\n\n\
         [states]\na = {{}}\nz = {{}}\n\n[actions.go]\nfrom = \"a\"\nto = \"z\"\nby = [\"clerk\"]\nwhen = '{when}'\n"
    )
}

/// Runs `f` on a thread and fails (instead of hanging) when it takes longer than a minute.
fn watchdog<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(v) => {
            worker.join().unwrap();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} hangs"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(()) => panic!("{what}: no result"),
            Err(e) => std::panic::resume_unwind(e),
        },
    }
}

#[test]
fn the_inputs_that_once_hung_are_reported_and_capped() {
    // 20,000 full-width commas in one guard: 20,000 errors once, each costing the line.
    let commas = with_guard(&format!("n > 1{}", "，".repeat(20_000)));
    let loaded = watchdog("20,000 full-width commas", move || {
        load(&[SourceFile::new("commas.toml", commas)])
    });
    assert_eq!(loaded.diagnostics.len(), MAX_DIAGNOSTICS_PER_FILE + 1);
    let last = loaded.diagnostics.last().unwrap();
    assert_eq!(last.code, "too-many-diagnostics");
    assert!(
        last.message.contains("19950 more errors"),
        "{}",
        last.message
    );
    assert!(
        loaded.diagnostics.iter().all(|d| d.line == 22),
        "{:?}",
        loaded.diagnostics.first().map(|d| (d.line, d.column))
    );

    // A 1,000,000-character name: no edit-distance matrix, no suggestion.
    let name = "x".repeat(1_000_000);
    let long = with_guard(&format!("{name} == 1"));
    let loaded = watchdog("a 1,000,000-character name", move || {
        load(&[SourceFile::new("long.toml", long)])
    });
    assert_eq!(
        loaded.diagnostics.len(),
        1,
        "{:?}",
        loaded.diagnostics.first().map(|d| d.code)
    );
    assert_eq!(loaded.diagnostics[0].code, "unknown-name");
    assert!(
        !loaded.diagnostics[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("did you mean")
    );
    // Rendering it cuts the line.
    let human = render_human(&loaded.diagnostics[0]);
    assert!(human.len() < 4_000, "{} bytes", human.len());

    // 80,000 comparisons in one guard: loads, the analysis bounded.
    let many: Vec<String> = (0..80_000).map(|i| format!("n > {i}")).collect();
    let big = with_guard(&many.join(" || "));
    let loaded = watchdog("80,000 comparisons", move || {
        load(&[SourceFile::new("big.toml", big)])
    });
    assert_eq!(
        loaded.errors(),
        0,
        "{:?}",
        loaded.diagnostics.first().map(|d| d.to_plain())
    );
}
