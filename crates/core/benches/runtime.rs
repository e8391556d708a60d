//! Benchmarks of the case runtime on the village rules filing procedure
//! (`rules/village-rules-filing.v1.toml`), each beside a hand-written state machine (enums and a
//! `match`) that does the same checks for the same procedure: the limit we measure the
//! engine against.
//!
//! - `decide_apply`: deciding `order_correction` (town, payload `round` and `findings`, two
//!   documents) on a case in `submitted`, and applying the event; `engine_at_once` does both
//!   in one call ([`Case::decide_apply`], every check the same, the command read once).
//! - `replay_1000`: rebuilding a case of 1,000 events (open, then submit → order_correction →
//!   submit …) from its events, head hash included.
//! - `available_actions`: every action with whether the town may take it now, and why not.
//!
//! Run: `cargo bench -p fazhi-core --bench runtime -- --warm-up-time 1 --measurement-time 3`.
//! After criterion's figures a summary prints the engine / hand-written ratios and the
//! decide+apply rate on one core (a filter that matches no bench, such as `-- summary-only`,
//! prints the summary alone).
//!
//! Deciding and applying allocate nothing themselves (the event shares the case's id and the
//! actor's strings, and its `prev_hash` is a `Hash256`), but each call ends by freeing the
//! event, and with it the action, payload and documents it took over from the command. On
//! the system allocator that is a large share of the time, in both machines, so the allocator
//! matters as much as the engine: the bench `runtime_mimalloc` runs this same file on
//! mimalloc (`cargo bench -p fazhi-core --bench runtime_mimalloc`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BatchSize, Criterion, criterion_group};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::{Procedure, RuleSet};
use fazhi_core::runtime::{Actor, Case, Command, DocumentRef, Event, Opening, ReasonKind};
use fazhi_core::time::Calendar;
use serde_json::json;

const VILLAGE: &str = include_str!("../../../rules/village-rules-filing.v1.toml");

fn calendar() -> Calendar {
    let mut c = Calendar::new();
    for src in [
        include_str!("../../../rules/calendars/2024.toml"),
        include_str!("../../../rules/calendars/2025.toml"),
        include_str!("../../../rules/calendars/2026.toml"),
    ] {
        c.add_year(Calendar::parse_year(src).unwrap()).unwrap();
    }
    c
}

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

fn submit(at: DateTime<Utc>) -> Command {
    Command::new("submit", Actor::new("村委会", ["village"]), at)
        .with_document(doc("rules_text"))
        .with_document(doc("meeting_record"))
}

fn order_correction(at: DateTime<Utc>, round: i64) -> Command {
    Command::new("order_correction", Actor::new("镇政府", ["town"]), at)
        .with_payload(json!({ "round": round, "findings": "第三条与法律相抵触" }))
        .with_document(doc("review_opinion"))
        .with_document(doc("correction_order"))
}

struct Setup {
    rules: RuleSet,
    calendar: Calendar,
    /// A case in `submitted`.
    submitted: Case,
    /// The hand-written machine in the same state.
    hand_submitted: hand::Case,
    /// The `order_correction` command to decide.
    command: Command,
    /// Open, then submit → order_correction → submit …: 1,000 events.
    history: Vec<Event>,
}

/// What a client sees of an action: id, allowed, reason kinds, documents, reason required.
type Seen = (String, bool, Vec<ReasonKind>, Vec<String>, bool);

fn setup() -> Setup {
    let loaded = load(&[SourceFile::new("village-rules-filing.v1.toml", VILLAGE)]);
    assert_eq!(loaded.errors(), 0, "{:#?}", loaded.diagnostics);
    let rules = loaded.rules;
    let p: Arc<Procedure> = rules.get("village-rules-filing", None).unwrap().clone();
    let calendar = calendar();
    let opened_at = cst("2025-03-03T10:00:00");
    let opening = Opening {
        case: "0197a8f0-0000-7000-8000-000000000001".into(),
        title: "某村村规民约".into(),
        actor: Actor::new("村委会", ["village"]),
        at: opened_at,
        facts: json!({ "adopted_on": "2025-03-01" }),
        imported: false,
    };
    let (mut case, first) = Case::open_recorded(&p, opening).unwrap();
    let mut history = vec![first.event];
    let mut at = opened_at;
    let mut round = 0;
    while history.len() < 1000 {
        at += TimeDelta::hours(1);
        let command = if case.state() == "submitted" {
            round += 1;
            order_correction(at, round)
        } else {
            submit(at)
        };
        let event = case.decide(command, &calendar).unwrap();
        history.push(case.record(event).unwrap().event);
    }
    // The case after open and submit: in `submitted`.
    let submitted = Case::replay(&rules, &history[..2]).unwrap();
    assert_eq!(submitted.state(), "submitted");
    let hand_submitted = hand::Case::replay(&history[..2]).unwrap();
    assert_eq!(hand_submitted.state, hand::State::Submitted);
    let command = order_correction(cst("2025-03-04T15:00:00"), 1);

    // The two machines agree.
    let mut a = submitted.clone();
    a.apply(&a.decide(command.clone(), &calendar).unwrap())
        .unwrap();
    let mut b = hand_submitted.clone();
    b.apply(&b.decide(command.clone(), &calendar).unwrap())
        .unwrap();
    assert_eq!(a.state(), "correcting");
    assert_eq!(b.state, hand::State::Correcting);
    assert_eq!(a.fact("corrections"), Some(json!(1)));
    assert_eq!(b.corrections, Some(1));
    let replayed = Case::replay(&rules, &history).unwrap();
    let hand_replayed = hand::Case::replay(&history).unwrap();
    assert_eq!(replayed.head(), hand_replayed.head);
    assert_eq!(replayed.seq(), hand_replayed.seq);
    assert_eq!(replayed.head(), case.head());
    let town = Actor::new("镇政府", ["town"]);
    let at = cst("2025-03-04T15:00:00");
    let engine: Vec<Seen> = submitted
        .available_actions(&town, at, &calendar)
        .into_iter()
        .map(|o| {
            let kinds = o.reasons.iter().map(|r| r.kind).collect();
            (o.id, o.allowed, kinds, o.documents, o.reason_required)
        })
        .collect();
    let hand: Vec<Seen> = hand_submitted
        .available_actions(&town, at, &calendar)
        .into_iter()
        .map(|o| {
            let kinds = o.reasons.iter().map(|r| r.kind).collect();
            let documents = o.documents.iter().map(|d| (*d).to_owned()).collect();
            (
                o.id.to_owned(),
                o.allowed,
                kinds,
                documents,
                o.reason_required,
            )
        })
        .collect();
    assert_eq!(engine, hand);

    Setup {
        rules,
        calendar,
        submitted,
        hand_submitted,
        command,
        history,
    }
}

fn engine_decide_apply(case: &mut Case, command: Command, calendar: &Calendar) {
    let event = case.decide(command, calendar).unwrap();
    case.apply(&event).unwrap();
}

/// The same in one call ([`Case::decide_apply`]): the command is read once.
fn engine_decide_apply_at_once(case: &mut Case, command: Command, calendar: &Calendar) {
    case.decide_apply(command, calendar).unwrap();
}

fn hand_decide_apply(case: &mut hand::Case, command: Command, calendar: &Calendar) {
    let event = case.decide(command, calendar).unwrap();
    case.apply(&event).unwrap();
}

/// The engine's fold alone: the opening replayed, then every event applied (no head hash).
fn engine_replay_unhashed(rules: &RuleSet, history: &[Event]) -> Case {
    let mut case = Case::replay(rules, &history[..1]).unwrap();
    for e in &history[1..] {
        case.apply(e).unwrap();
    }
    case
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let town = Actor::new("镇政府", ["town"]);
    let at = cst("2025-03-04T15:00:00");

    let mut g = c.benchmark_group("decide_apply");
    g.bench_function("engine", |b| {
        b.iter_batched(
            || (s.submitted.clone(), s.command.clone()),
            |(mut case, command)| {
                engine_decide_apply(&mut case, command, &s.calendar);
                case
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("hand", |b| {
        b.iter_batched(
            || (s.hand_submitted.clone(), s.command.clone()),
            |(mut case, command)| {
                hand_decide_apply(&mut case, command, &s.calendar);
                case
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("engine_at_once", |b| {
        b.iter_batched(
            || (s.submitted.clone(), s.command.clone()),
            |(mut case, command)| {
                engine_decide_apply_at_once(&mut case, command, &s.calendar);
                case
            },
            BatchSize::SmallInput,
        );
    });
    g.bench_function("engine_decide_only", |b| {
        b.iter_batched(
            || s.command.clone(),
            |command| s.submitted.decide(command, &s.calendar).unwrap(),
            BatchSize::SmallInput,
        );
    });
    g.bench_function("engine_decide_record", |b| {
        b.iter_batched(
            || (s.submitted.clone(), s.command.clone()),
            |(mut case, command)| {
                let event = case.decide(command, &s.calendar).unwrap();
                let recorded = case.record(event).unwrap();
                (case, recorded)
            },
            BatchSize::SmallInput,
        );
    });
    g.finish();

    let mut g = c.benchmark_group("replay_1000");
    g.bench_function("engine", |b| {
        b.iter(|| Case::replay(&s.rules, black_box(&s.history)).unwrap());
    });
    g.bench_function("hand", |b| {
        b.iter(|| hand::Case::replay(black_box(&s.history)).unwrap());
    });
    g.bench_function("engine_without_hashing", |b| {
        b.iter(|| engine_replay_unhashed(&s.rules, black_box(&s.history)));
    });
    g.bench_function("hand_without_hashing", |b| {
        b.iter(|| hand::Case::replay_unhashed(black_box(&s.history)).unwrap());
    });
    g.finish();

    let mut g = c.benchmark_group("available_actions");
    g.bench_function("engine", |b| {
        b.iter(|| {
            s.submitted
                .available_actions(black_box(&town), at, &s.calendar)
        });
    });
    g.bench_function("hand", |b| {
        b.iter(|| {
            s.hand_submitted
                .available_actions(black_box(&town), at, &s.calendar)
        });
    });
    g.finish();
}

/// Mean time per call of `f` over about `budget`, after a short warm-up.
fn time_per_call<T>(budget: Duration, mut f: impl FnMut() -> T) -> Duration {
    time_batched(budget, || (), |()| f())
}

/// Mean time per call of `routine` over about `budget`, its inputs made by `setup` and its
/// outputs dropped outside the timed part (as criterion's `iter_batched`).
fn time_batched<I, O>(
    budget: Duration,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(I) -> O,
) -> Duration {
    const BATCH: u32 = 512;
    let mut outputs: Vec<O> = Vec::with_capacity(BATCH as usize);
    let mut run = |timed: &mut Duration| {
        let inputs: Vec<I> = (0..BATCH).map(|_| setup()).collect();
        let start = Instant::now();
        for input in inputs {
            outputs.push(routine(input));
        }
        *timed += start.elapsed();
        outputs.clear();
    };
    let mut warm = Duration::ZERO;
    while warm < budget / 5 {
        run(&mut warm);
    }
    let (mut timed, mut n) = (Duration::ZERO, 0_u32);
    while timed < budget {
        run(&mut timed);
        n += BATCH;
    }
    timed / n
}

/// A summary after criterion's figures: the ratios engine / hand-written and the
/// decide+apply rate on one core.
fn summary() {
    let s = setup();
    let town = Actor::new("镇政府", ["town"]);
    let at = cst("2025-03-04T15:00:00");
    let budget = Duration::from_millis(1500);

    let engine = time_batched(
        budget,
        || (s.submitted.clone(), s.command.clone()),
        |(mut case, command)| {
            engine_decide_apply(&mut case, command, &s.calendar);
            case
        },
    );
    let at_once = time_batched(
        budget,
        || (s.submitted.clone(), s.command.clone()),
        |(mut case, command)| {
            engine_decide_apply_at_once(&mut case, command, &s.calendar);
            case
        },
    );
    let hand = time_batched(
        budget,
        || (s.hand_submitted.clone(), s.command.clone()),
        |(mut case, command)| {
            hand_decide_apply(&mut case, command, &s.calendar);
            case
        },
    );
    let replay_engine = time_per_call(budget, || Case::replay(&s.rules, &s.history).unwrap());
    let replay_hand = time_per_call(budget, || hand::Case::replay(&s.history).unwrap());
    let replay_bare = time_per_call(budget, || hand::Case::replay_unhashed(&s.history).unwrap());
    let replay_engine_bare = time_per_call(budget, || engine_replay_unhashed(&s.rules, &s.history));
    let avail_engine = time_per_call(budget, || {
        s.submitted.available_actions(&town, at, &s.calendar)
    });
    let avail_hand = time_per_call(budget, || {
        s.hand_submitted.available_actions(&town, at, &s.calendar)
    });

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!();
    println!(
        "summary (one core; mean time per call, state and command cloned outside the timed part):"
    );
    println!(
        "  decide+apply       engine {:>10.1?}  hand {:>10.1?}  ratio {:>5.2}x  engine rate {:.2} M/s",
        engine,
        hand,
        ratio(engine, hand),
        1e-6 / engine.as_secs_f64()
    );
    println!(
        "    in one call      engine {:>10.1?}  hand {:>10.1?}  ratio {:>5.2}x  engine rate {:.2} M/s  (Case::decide_apply)",
        at_once,
        hand,
        ratio(at_once, hand),
        1e-6 / at_once.as_secs_f64()
    );
    println!(
        "  replay 1000 events engine {:>10.1?}  hand {:>10.1?}  ratio {:>5.2}x",
        replay_engine,
        replay_hand,
        ratio(replay_engine, replay_hand),
    );
    println!(
        "    fold alone       engine {:>10.1?}  hand {:>10.1?}  ratio {:>5.2}x  (the rest is serialising and hashing each event)",
        replay_engine_bare,
        replay_bare,
        ratio(replay_engine_bare, replay_bare)
    );
    println!(
        "  available_actions  engine {:>10.1?}  hand {:>10.1?}  ratio {:>5.2}x",
        avail_engine,
        avail_hand,
        ratio(avail_engine, avail_hand)
    );
    println!("  goals: within 3x of the hand-written machine; >= 1.5 M decide+apply per second");
}

criterion_group!(runtime, benches);

pub fn main() {
    runtime();
    Criterion::default().configure_from_args().final_summary();
    // Only when benchmarking (`cargo bench`), not when `cargo test` runs the bench once.
    // Not when profiling one bench (`--profile-time`).
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--profile-time") {
        summary();
    }
}

/// The village rules filing procedure written by hand: enums, a `match`, the same checks.
mod hand {
    use chrono::{DateTime, NaiveDate, Utc};
    use fazhi_core::runtime::{Actor, Command, Event, EventBody, Hash256, Reason, ReasonKind};
    use fazhi_core::time::{Calendar, Period, cst_start_of_day};
    use serde_json::Value as Json;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum State {
        Adopted,
        Submitted,
        Correcting,
        Filed,
        Withdrawn,
    }

    impl State {
        fn id(self) -> &'static str {
            match self {
                State::Adopted => "adopted",
                State::Submitted => "submitted",
                State::Correcting => "correcting",
                State::Filed => "filed",
                State::Withdrawn => "withdrawn",
            }
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Action {
        Submit,
        FindLawful,
        OrderCorrection,
        Withdraw,
    }

    const ACTIONS: [Action; 4] = [
        Action::Submit,
        Action::FindLawful,
        Action::OrderCorrection,
        Action::Withdraw,
    ];

    const KINDS: [&str; 4] = [
        "rules_text",
        "meeting_record",
        "review_opinion",
        "correction_order",
    ];

    impl Action {
        fn parse(s: &str) -> Option<Action> {
            Some(match s {
                "submit" => Action::Submit,
                "find_lawful" => Action::FindLawful,
                "order_correction" => Action::OrderCorrection,
                "withdraw" => Action::Withdraw,
                _ => return None,
            })
        }
        fn id(self) -> &'static str {
            match self {
                Action::Submit => "submit",
                Action::FindLawful => "find_lawful",
                Action::OrderCorrection => "order_correction",
                Action::Withdraw => "withdraw",
            }
        }
        fn from(self) -> &'static [State] {
            match self {
                Action::Submit => &[State::Adopted, State::Correcting],
                Action::FindLawful | Action::OrderCorrection => &[State::Submitted],
                Action::Withdraw => &[State::Adopted, State::Submitted, State::Correcting],
            }
        }
        fn to(self) -> State {
            match self {
                Action::Submit => State::Submitted,
                Action::FindLawful => State::Filed,
                Action::OrderCorrection => State::Correcting,
                Action::Withdraw => State::Withdrawn,
            }
        }
        fn role(self) -> &'static str {
            match self {
                Action::Submit | Action::Withdraw => "village",
                Action::FindLawful => "judicial_office",
                Action::OrderCorrection => "town",
            }
        }
        fn documents(self) -> &'static [&'static str] {
            match self {
                Action::Submit => &["rules_text", "meeting_record"],
                Action::FindLawful => &["review_opinion"],
                Action::OrderCorrection => &["review_opinion", "correction_order"],
                Action::Withdraw => &[],
            }
        }
    }

    fn reason(kind: ReasonKind, message: String) -> Reason {
        Reason {
            kind,
            message: message.clone(),
            message_zh: message.clone(),
            message_en: message,
            basis: None,
            law: None,
            article: None,
            paragraph: None,
            item: None,
            citation: None,
            citations: Vec::new(),
            condition: None,
            invariant: None,
            rule: None,
            state: None,
            expected: Vec::new(),
            roles: Vec::new(),
            failed: Vec::new(),
            field: None,
            document: None,
            allowed_from: None,
            allowed_from_date: None,
            due: None,
            due_date: None,
            provisional: false,
        }
    }

    fn valid_digest(s: &str) -> bool {
        // Branch-free over the bytes, so that the compiler checks many at once.
        s.len() == 64
            && s.bytes().fold(true, |ok, b| {
                ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6))
            })
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Case {
        pub id: std::sync::Arc<str>,
        pub seq: u64,
        pub state: State,
        adopted_on: NaiveDate,
        /// `Some(true)` lawful, `Some(false)` unlawful.
        outcome_lawful: Option<bool>,
        pub corrections: Option<i64>,
        on_file: [bool; 4],
        taken: [Option<DateTime<Utc>>; 4],
        entered: [Option<DateTime<Utc>>; 5],
        last_at: DateTime<Utc>,
        pub head: Hash256,
    }

    /// An action as a client sees it.
    pub struct HandOption {
        pub id: &'static str,
        pub allowed: bool,
        pub reasons: Vec<Reason>,
        pub documents: &'static [&'static str],
        pub reason_required: bool,
    }

    impl Case {
        fn check(
            &self,
            a: Action,
            actor: &Actor,
            at: DateTime<Utc>,
            calendar: &Calendar,
            reasons: &mut Vec<Reason>,
        ) {
            if at < self.last_at {
                reasons.push(reason(
                    ReasonKind::OutOfOrder,
                    format!(
                        "the time {at} is before the case's last event ({})",
                        self.last_at
                    ),
                ));
            }
            if !a.from().contains(&self.state) {
                let expected: Vec<String> = a.from().iter().map(|s| s.id().to_owned()).collect();
                let mut r = reason(
                    ReasonKind::WrongState,
                    format!(
                        "`{}` may be taken in {}, but the case is in `{}`",
                        a.id(),
                        expected
                            .iter()
                            .map(|e| format!("`{e}`"))
                            .collect::<Vec<_>>()
                            .join(" or "),
                        self.state.id()
                    ),
                );
                r.state = Some(self.state.id().to_owned());
                r.expected = expected;
                reasons.push(r);
            }
            if !actor.roles.iter().any(|r| r == a.role()) {
                let mut r = reason(
                    ReasonKind::RoleNotAllowed,
                    format!(
                        "`{}` may be taken by `{}`; `{}` holds {}",
                        a.id(),
                        a.role(),
                        actor.id,
                        actor
                            .roles
                            .iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                r.roles = vec![a.role().to_owned()];
                reasons.push(r);
            }
            if a == Action::Submit {
                // filing_limit: within 10 days of adopted_on. Not strict: a late submission
                // is allowed and the deadline reported overdue, so it never refuses.
                let due = calendar.deadline(cst_start_of_day(self.adopted_on), Period::Days(10));
                std::hint::black_box(at >= due.value.at);
            }
        }

        pub fn decide(&self, command: Command, calendar: &Calendar) -> Result<Event, Vec<Reason>> {
            let Some(a) = Action::parse(&command.action) else {
                return Err(vec![reason(
                    ReasonKind::UnknownAction,
                    format!("no action `{}`", command.action),
                )]);
            };
            let mut reasons = Vec::new();
            // Payload: order_correction has `round` (integer) and `findings` (text), both
            // required; the other actions have none.
            let (mut round, mut findings) = (false, false);
            match &command.payload {
                Json::Object(o) => {
                    for (k, v) in o {
                        let ok = match (a, k.as_str()) {
                            (Action::OrderCorrection, "round") => {
                                round = v.as_i64().is_some();
                                v.is_null() || round
                            }
                            (Action::OrderCorrection, "findings") => {
                                findings = v.is_string();
                                v.is_null() || findings
                            }
                            _ => false,
                        };
                        if !ok {
                            let mut r =
                                reason(ReasonKind::PayloadInvalid, format!("`payload.{k}`"));
                            r.field = Some(format!("payload.{k}"));
                            reasons.push(r);
                        }
                    }
                }
                Json::Null => {}
                _ => reasons.push(reason(
                    ReasonKind::PayloadInvalid,
                    "`payload` must be a JSON object".into(),
                )),
            }
            if a == Action::OrderCorrection {
                for (given, field) in [(round, "round"), (findings, "findings")] {
                    if !given {
                        let mut r = reason(
                            ReasonKind::PayloadInvalid,
                            format!("`payload.{field}` is required"),
                        );
                        r.field = Some(format!("payload.{field}"));
                        reasons.push(r);
                    }
                }
            }
            for d in &command.documents {
                if !KINDS.contains(&d.kind.as_str()) {
                    reasons.push(reason(
                        ReasonKind::DocumentMissing,
                        format!("unknown document kind `{}`", d.kind),
                    ));
                } else if !valid_digest(&d.sha256) {
                    reasons.push(reason(
                        ReasonKind::DocumentMissing,
                        format!("document `{}` has no valid SHA-256 digest", d.name),
                    ));
                }
            }
            self.check(a, &command.actor, command.at, calendar, &mut reasons);
            for kind in a.documents() {
                if !command.documents.iter().any(|d| d.kind == *kind) {
                    reasons.push(reason(
                        ReasonKind::DocumentMissing,
                        format!("`{}` needs a document of kind `{kind}`", a.id()),
                    ));
                }
            }
            if a == Action::Withdraw
                && command
                    .reason
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
            {
                reasons.push(reason(
                    ReasonKind::ReasonMissing,
                    "`withdraw` needs a recorded reason".into(),
                ));
            }
            if !reasons.is_empty() {
                return Err(reasons);
            }
            Ok(Event {
                case: self.id.clone(),
                seq: self.seq,
                body: EventBody::Action {
                    action: command.action,
                    payload: command.payload,
                    documents: command.documents,
                    reason: command.reason,
                },
                actor: command.actor,
                at: command.at,
                imported: command.imported,
                prev_hash: self.head,
            })
        }

        pub fn apply(&mut self, event: &Event) -> Result<(), String> {
            if event.case != self.id || event.seq != self.seq {
                return Err("not the next event of this case".into());
            }
            let EventBody::Action {
                action,
                payload,
                documents,
                ..
            } = &event.body
            else {
                return Err("opened twice".into());
            };
            let a = Action::parse(action).ok_or("unknown action")?;
            match a {
                Action::FindLawful => self.outcome_lawful = Some(true),
                Action::OrderCorrection => {
                    self.outcome_lawful = Some(false);
                    self.corrections = payload.get("round").and_then(Json::as_i64);
                }
                Action::Submit | Action::Withdraw => {}
            }
            for d in documents {
                if let Some(i) = KINDS.iter().position(|k| *k == d.kind) {
                    self.on_file[i] = true;
                }
            }
            self.taken[a as usize] = Some(event.at);
            self.state = a.to();
            self.entered[a.to() as usize] = Some(event.at);
            self.seq += 1;
            self.last_at = event.at;
            Ok(())
        }

        pub fn available_actions(
            &self,
            actor: &Actor,
            at: DateTime<Utc>,
            calendar: &Calendar,
        ) -> Vec<HandOption> {
            ACTIONS
                .iter()
                .map(|a| {
                    let mut reasons = Vec::new();
                    self.check(*a, actor, at, calendar, &mut reasons);
                    HandOption {
                        id: a.id(),
                        allowed: reasons.is_empty(),
                        reasons,
                        documents: a.documents(),
                        reason_required: *a == Action::Withdraw,
                    }
                })
                .collect()
        }

        fn opened(first: &Event) -> Result<Case, String> {
            let EventBody::Opened { facts, .. } = &first.body else {
                return Err("no opening".into());
            };
            let adopted_on = facts
                .get("adopted_on")
                .and_then(Json::as_str)
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .ok_or("adopted_on")?;
            let mut entered = [None; 5];
            entered[State::Adopted as usize] = Some(first.at);
            Ok(Case {
                id: first.case.clone(),
                seq: 1,
                state: State::Adopted,
                adopted_on,
                outcome_lawful: None,
                corrections: Some(0),
                on_file: [false; 4],
                taken: [None; 4],
                entered,
                last_at: first.at,
                head: Hash256::GENESIS,
            })
        }

        /// Rebuilds a case from its events, with the head hash of the last one's bytes.
        pub fn replay(events: &[Event]) -> Result<Case, String> {
            let (first, rest) = events.split_first().ok_or("empty")?;
            let mut case = Case::opened(first)?;
            case.head = Hash256::of(&first.to_bytes());
            for e in rest {
                case.apply(e)?;
                case.head = Hash256::of(&e.to_bytes());
            }
            Ok(case)
        }

        /// The fold alone, without the head hash.
        pub fn replay_unhashed(events: &[Event]) -> Result<Case, String> {
            let (first, rest) = events.split_first().ok_or("empty")?;
            let mut case = Case::opened(first)?;
            for e in rest {
                case.apply(e)?;
            }
            Ok(case)
        }
    }
}
