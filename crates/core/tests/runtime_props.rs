//! Property tests of the case runtime: random command sequences on every shipped procedure
//! (`rules/**/*.toml`, less calendars and `*.test.toml`) and on the test fixtures.
//!
//! Each generated case opens a case on every procedure and walks it with random commands:
//! a random action (biased towards those `available_actions` allows, so the walk gets deep),
//! random roles, times moving mostly forward (sometimes to the exact instant a minimum
//! period ends, sometimes backwards), payloads built from the action's schema with valid and
//! sometimes invalid values, required documents attached or not, reasons given or not.
//!
//! Properties:
//! - nothing panics (decide, record, available actions, deadlines);
//! - a refused command leaves the case unchanged and gives at least one reason;
//! - `available_actions` and `decide` agree on the state, role, order and time conditions,
//!   and an accepted command was one `available_actions` allowed;
//! - a closed case accepts nothing;
//! - replaying the recorded events (as recorded, and as parsed back from the stored bytes)
//!   gives the case built step by step, after every prefix;
//! - `verify` passes on the stored bytes with the case's head;
//! - every declared invariant holds on the recorded history: for `first`/`then`, `then`
//!   (state entered or action taken) never occurs without an earlier `first`; for
//!   `reach`/`only_if`, `only_if` holds whenever `reach` is reached.
//!
//! 64 cases of up to 40 steps by default; `PROPTEST_CASES` raises it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use fazhi_core::expr::{EvalContext, Type, Value, VarSlot};
use fazhi_core::load::{SourceFile, load};
use fazhi_core::model::{ActionRef, InvariantKindRef, NodeRef, PlaceRef, Procedure, RuleSet};
use fazhi_core::runtime::{
    Actor, Case, Command, DocumentRef, Event, Opening, ReasonKind, Recorded, verify,
};
use fazhi_core::time::{Calendar, cst_date};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value as Json, json};

/// One procedure version and the rule set it was loaded in (for replay).
struct Entry {
    rules: RuleSet,
    procedure: Arc<Procedure>,
}

struct World {
    calendar: Calendar,
    entries: Vec<Entry>,
}

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

fn entries_of(rules: RuleSet) -> Vec<Entry> {
    rules
        .all()
        .map(|p| Entry {
            rules: rules.clone(),
            procedure: p.clone(),
        })
        .collect()
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let mut calendar = Calendar::new();
    let mut years: Vec<PathBuf> = std::fs::read_dir(root.join("calendars"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    years.sort();
    for y in years {
        let text = std::fs::read_to_string(&y).unwrap();
        calendar
            .add_year(Calendar::parse_year(&text).unwrap())
            .unwrap();
    }

    let mut paths = Vec::new();
    rule_files(&root, &mut paths);
    let files: Vec<SourceFile> = paths
        .iter()
        .map(|p| SourceFile::new(p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    let shipped = load(&files);
    assert_eq!(
        shipped.errors(),
        0,
        "the shipped procedures load: {:#?}",
        shipped.diagnostics
    );
    assert!(
        shipped.rules.get("village-rules-filing", None).is_some(),
        "village-rules-filing.toml is among {paths:?}"
    );
    let fixtures = load(&[
        SourceFile::new(
            "refusal-lab.toml",
            include_str!("fixtures/refusal-lab.toml"),
        ),
        SourceFile::new(
            "versioned.v1.toml",
            include_str!("fixtures/versioned.v1.toml"),
        ),
        SourceFile::new(
            "versioned.v2.toml",
            include_str!("fixtures/versioned.v2.toml"),
        ),
    ]);
    assert_eq!(fixtures.errors(), 0, "{:#?}", fixtures.diagnostics);
    let mut entries = entries_of(shipped.rules);
    entries.extend(entries_of(fixtures.rules));
    World { calendar, entries }
});

// ---------------------------------------------------------------------------------------------
// Deterministic randomness from the generated seeds.

/// SplitMix64: every random choice of a step is drawn from its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: &[u32]) -> Rng {
        let mut s = 0x9e37_79b9_7f4a_7c15_u64;
        for x in seed {
            s = s.rotate_left(29) ^ u64::from(*x);
            s = s.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        }
        Rng(s)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number below `n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap()
    }
    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.index(items.len()))
        }
    }
    fn seconds(&mut self, max: i64) -> Duration {
        Duration::seconds(i64::try_from(self.below(max.unsigned_abs())).unwrap())
    }
}

fn date_near(rng: &mut Rng, at: DateTime<Utc>) -> NaiveDate {
    let day = cst_date(at);
    // Mostly a few days before (a deadline counted from it still runs), sometimes further
    // back or ahead.
    let back = if rng.chance(70) {
        i64::try_from(rng.below(5)).unwrap()
    } else {
        i64::try_from(rng.below(34)).unwrap() - 3
    };
    day - Duration::days(back)
}

/// A valid JSON value of a type, near `at` for dates.
fn valid_value(rng: &mut Rng, ty: &Type, at: DateTime<Utc>) -> Json {
    match ty {
        Type::Bool => json!(rng.chance(50)),
        Type::Integer => match rng.below(4) {
            0 => json!(0),
            1 => json!(rng.below(10)),
            2 => json!(i64::try_from(rng.below(1 << 40)).unwrap() - (1 << 39)),
            _ => json!(rng.below(3) + 1),
        },
        Type::Amount => {
            let cents = rng.below(600_000);
            match rng.below(3) {
                0 => json!(cents / 100),
                1 => json!(format!("{}.{:02}", cents / 100, cents % 100)),
                _ => json!(format!("{}", cents / 100)),
            }
        }
        Type::Text => json!(*rng.pick(&["", "说明", "a", "违法之处：第三条"]).unwrap()),
        Type::Date => json!(date_near(rng, at).format("%Y-%m-%d").to_string()),
        Type::Enum(values) | Type::TrackState(_, values) => {
            json!(rng.pick(values).cloned().unwrap_or_default())
        }
    }
}

/// A JSON value that is not of the type.
fn invalid_value(rng: &mut Rng, ty: &Type) -> Json {
    match ty {
        Type::Bool => json!("yes"),
        Type::Integer => {
            if rng.chance(50) {
                json!("1")
            } else {
                json!(1.5)
            }
        }
        Type::Amount => {
            if rng.chance(50) {
                json!(true)
            } else {
                json!("12,5")
            }
        }
        Type::Text => json!(5),
        Type::Date => {
            if rng.chance(50) {
                json!("2025/01/01")
            } else {
                json!("2025-02-30")
            }
        }
        Type::Enum(_) | Type::TrackState(..) => json!("no-such-value"),
    }
}

/// An object for a list of typed fields: valid mostly, sometimes a field left out, wrong,
/// null, or unknown; rarely not an object.
fn fields_json<'f>(
    rng: &mut Rng,
    fields: impl Iterator<Item = (&'f str, &'f Type, bool)>,
    at: DateTime<Utc>,
    mischief: u64,
) -> Json {
    if rng.chance(mischief / 5) {
        return json!(["not", "an", "object"]);
    }
    let mut obj = serde_json::Map::new();
    for (id, ty, required) in fields {
        let roll = rng.below(100);
        let value = if roll < 100 - mischief {
            if !required && rng.chance(25) {
                continue;
            }
            valid_value(rng, ty, at)
        } else if roll < 100 - mischief / 2 {
            continue;
        } else if roll < 100 - mischief / 4 {
            invalid_value(rng, ty)
        } else {
            Json::Null
        };
        obj.insert(id.to_owned(), value);
    }
    if rng.chance(mischief / 4) {
        obj.insert("no_such_field".into(), json!(1));
    }
    Json::Object(obj)
}

fn digest(rng: &mut Rng) -> String {
    format!("{:016x}", rng.next()).repeat(4)
}

fn document(rng: &mut Rng, kind: &str) -> DocumentRef {
    DocumentRef {
        kind: kind.to_owned(),
        name: format!("{kind}.pdf"),
        sha256: digest(rng),
        uri: None,
    }
}

// ---------------------------------------------------------------------------------------------
// A context for guards over a case, built from the public API only (for `only_if`).

struct PubCtx<'p> {
    procedure: &'p Procedure,
    facts: Vec<Option<Value>>,
    payload: Vec<Option<Value>>,
    tracks: Vec<Option<usize>>,
    documents: Vec<String>,
    on_file: BTreeSet<String>,
    taken: Vec<bool>,
}

impl<'p> PubCtx<'p> {
    fn new(
        p: &'p Procedure,
        case: &Case,
        taken: &[bool],
        action: Option<ActionRef<'_>>,
        payload: &Json,
        documents: &[DocumentRef],
    ) -> Self {
        let facts = p
            .facts()
            .map(|f| {
                case.fact(f.id())
                    .and_then(|j| Value::from_json(f.ty(), &j).ok())
            })
            .collect();
        let payload = action
            .map(|a| {
                a.payload()
                    .iter()
                    .map(|f| {
                        payload
                            .get(&f.meta.id)
                            .and_then(|j| Value::from_json(&f.ty, j).ok())
                    })
                    .collect()
            })
            .unwrap_or_default();
        // The guard language numbers tracks and their states in file order.
        let mut tracks = vec![None; p.tracks().count()];
        for (t, s) in case.track_states() {
            let track = p.track(t).unwrap();
            let ti = p.tracks().position(|x| x == track).unwrap();
            tracks[ti] = track.states().position(|m| m.id() == s);
        }
        PubCtx {
            procedure: p,
            facts,
            payload,
            tracks,
            documents: documents.iter().map(|d| d.kind.clone()).collect(),
            on_file: case.view().documents.into_iter().collect(),
            taken: taken.to_vec(),
        }
    }
}

impl EvalContext for PubCtx<'_> {
    fn var(&self, slot: VarSlot) -> Option<&Value> {
        match slot {
            VarSlot::Fact(i) => self.facts.get(i)?.as_ref(),
            VarSlot::Payload(i) => self.payload.get(i)?.as_ref(),
        }
    }
    fn track_state(&self, track: usize) -> Option<usize> {
        self.tracks.get(track).copied().flatten()
    }
    fn track_done(&self, track: usize) -> bool {
        match self.track_state(track) {
            None => true,
            Some(s) => {
                let t = self.procedure.tracks().nth(track).unwrap();
                t.states().nth(s).unwrap().is_final()
            }
        }
    }
    fn attached(&self, document: usize) -> bool {
        let kind = self.procedure.documents().nth(document).unwrap().id();
        self.documents.iter().any(|d| d == kind)
    }
    fn on_file(&self, document: usize) -> bool {
        self.on_file
            .contains(self.procedure.documents().nth(document).unwrap().id())
            || self.attached(document)
    }
    fn taken(&self, action: usize) -> bool {
        self.taken[action]
    }
}

// ---------------------------------------------------------------------------------------------
// Invariants on the recorded history.

struct History<'p> {
    procedure: &'p Procedure,
    /// Per invariant: whether its `first` has occurred (for `first`/`then`).
    seen_first: Vec<bool>,
    taken: Vec<bool>,
}

impl<'p> History<'p> {
    fn new(p: &'p Procedure) -> Self {
        History {
            procedure: p,
            seen_first: vec![false; p.invariants().count()],
            taken: vec![false; p.actions().count()],
        }
    }

    /// Records what happened (`occurred`, in order) and checks every invariant; `ctx` is the
    /// context the step was decided in.
    fn step(&mut self, occurred: &[NodeRef<'_>], ctx: &PubCtx<'_>) -> Result<(), TestCaseError> {
        for node in occurred {
            for (i, inv) in self.procedure.invariants().enumerate() {
                match inv.kind() {
                    InvariantKindRef::Before { first, then } => {
                        prop_assert!(
                            *node != then || self.seen_first[i],
                            "invariant `{}`: {:?} occurred before {:?}",
                            inv.id(),
                            then,
                            first
                        );
                        if *node == first {
                            self.seen_first[i] = true;
                        }
                    }
                    InvariantKindRef::OnlyIf { reach, only_if } => {
                        if *node == reach {
                            prop_assert!(
                                only_if.holds(ctx),
                                "invariant `{}`: {:?} reached while `{}` is {:?}",
                                inv.id(),
                                reach,
                                only_if.source(),
                                only_if.eval(ctx)
                            );
                        }
                    }
                }
            }
            if let NodeRef::Action(a) = node {
                let ai = self.procedure.actions().position(|x| x == *a).unwrap();
                self.taken[ai] = true;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The walk.

type Seed = [u32; 4];

/// The conditions `available_actions` and `decide` check alike.
const SHARED: [ReasonKind; 5] = [
    ReasonKind::OutOfOrder,
    ReasonKind::WrongState,
    ReasonKind::RoleNotAllowed,
    ReasonKind::TooEarly,
    ReasonKind::TooLate,
];

fn shared_kinds(kinds: impl IntoIterator<Item = ReasonKind>) -> BTreeSet<ReasonKind> {
    kinds.into_iter().filter(|k| SHARED.contains(k)).collect()
}

/// Walks one case; returns the states it passed through.
fn walk(
    entry: &Entry,
    calendar: &Calendar,
    open: &Seed,
    steps: &[Seed],
) -> Result<Vec<String>, TestCaseError> {
    let p = entry.procedure.as_ref();
    let roles: Vec<&str> = p.roles().map(|r| r.id()).collect();
    let everyone = Actor::new("everyone", roles.iter().copied());

    // Open somewhere in 2025-2026, now and then in 2027 (no calendar: provisional).
    let mut rng = Rng::new(open);
    let base = DateTime::parse_from_rfc3339("2025-01-02T09:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc);
    let t0 = base + rng.seconds(800 * 86_400);
    let facts = fields_json(
        &mut rng,
        p.facts().map(|f| (f.id(), f.ty(), f.required())),
        t0,
        4,
    );
    let opening = Opening {
        case: "prop-case".into(),
        title: "随机案件".into(),
        actor: everyone.clone(),
        at: t0,
        facts,
        imported: rng.chance(10),
    };
    let (mut case, first) = match Case::open_recorded(&entry.procedure, opening) {
        Ok(x) => x,
        Err(r) => {
            prop_assert!(!r.reasons.is_empty());
            prop_assert_eq!(r.action, "open");
            return Ok(Vec::new());
        }
    };
    let mut history = History::new(p);
    history.step(
        &[NodeRef::State(p.initial_state())],
        &PubCtx::new(p, &case, &history.taken, None, &json!({}), &[]),
    )?;
    let mut log: Vec<Recorded> = vec![first];
    let mut snapshots = vec![case.clone()];
    let mut now = t0;
    let mut states = vec![case.state().to_owned()];

    for seed in steps {
        let mut rng = Rng::new(seed);
        // Time: mostly forward by hours or days, sometimes the same instant, sometimes back.
        now = match rng.below(100) {
            0..70 => now + rng.seconds(2 * 86_400),
            70..85 => now + Duration::days(1) + rng.seconds(20 * 86_400),
            85..92 => now,
            _ => now - Duration::seconds(1) - rng.seconds(2 * 86_400),
        };
        let options = case.available_actions(&everyone, now, calendar);
        prop_assert_eq!(options.len(), p.actions().count());
        let _ = case.deadlines(now, calendar);
        let _ = case.next_due(now, calendar);

        // The action: one that is allowed, mostly.
        let allowed: Vec<&str> = options
            .iter()
            .filter(|o| o.allowed)
            .map(|o| o.id.as_str())
            .collect();
        let action: String = if rng.chance(2) {
            "no_such_action".into()
        } else if !allowed.is_empty() && rng.chance(75) {
            (*rng.pick(&allowed).unwrap()).to_owned()
        } else {
            let all: Vec<ActionRef<'_>> = p.actions().collect();
            all[rng.index(all.len())].id().to_owned()
        };
        let known = p.action(&action);

        // Sometimes jump to the exact instant a minimum period ends, or just before it.
        if let Some(o) = options.iter().find(|o| o.id == action)
            && let Some(from) = o.reasons.iter().filter_map(|r| r.allowed_from).max()
            && from > now
            && rng.chance(40)
        {
            now = if rng.chance(80) {
                from
            } else {
                from - Duration::seconds(1)
            };
        }

        // The actor: one of the action's roles, mostly.
        let actor = match (rng.below(10), known) {
            (0..8, Some(a)) if a.roles().next().is_some() => {
                let by: Vec<&str> = a.roles().map(|r| r.id()).collect();
                Actor::new("someone", [by[rng.index(by.len())]])
            }
            (8, _) => Actor::new("several", roles.iter().copied().filter(|_| rng.chance(50))),
            (9, _) => Actor::new("stranger", ["intruder"]),
            _ => Actor::new("anyone", [*rng.pick(&roles).unwrap_or(&"intruder")]),
        };

        let mut command = Command::new(action.clone(), actor, now);
        command.imported = rng.chance(5);
        if let Some(a) = known {
            command.payload = fields_json(
                &mut rng,
                a.payload()
                    .iter()
                    .map(|f| (f.meta.id.as_str(), &f.ty, f.required)),
                now,
                8,
            );
            for d in a.documents() {
                if rng.chance(88) {
                    command.documents.push(document(&mut rng, d.id()));
                }
            }
        }
        let kinds: Vec<&str> = p.documents().map(|d| d.id()).collect();
        if rng.chance(10)
            && let Some(d) = rng.pick(&kinds)
        {
            let kind = (*d).to_owned();
            command.documents.push(document(&mut rng, &kind));
        }
        if rng.chance(2) {
            command.documents.push(document(&mut rng, "no_such_kind"));
        }
        if rng.chance(2)
            && let Some(d) = command.documents.first_mut()
        {
            d.sha256 = d.sha256.to_uppercase();
        }
        let wants_reason = options
            .iter()
            .any(|o| o.id == action && (o.reason_required || !o.reasons.is_empty()));
        command.reason = match rng.below(100) {
            0..5 => Some("  ".into()),
            r if r < if wants_reason { 85 } else { 40 } => Some("理由".into()),
            _ => None,
        };

        let before = case.clone();
        let view = case.view();
        let for_actor = case.available_actions(&command.actor, command.at, calendar);
        let option = for_actor.iter().find(|o| o.id == action);
        // Deciding and applying at once does the same as one after the other.
        let mut at_once = case.clone();
        let at_once_result = at_once.decide_apply(command.clone(), calendar);
        let mut recorded_at_once = case.clone();
        let recorded_at_once_result = recorded_at_once.decide_record(command.clone(), calendar);
        match case.decide(command.clone(), calendar) {
            Err(refusal) => {
                prop_assert_eq!(at_once_result.as_ref().err(), Some(&refusal));
                prop_assert!(at_once == before, "a refused decide_apply changes nothing");
                prop_assert_eq!(recorded_at_once_result.as_ref().err(), Some(&refusal));
                prop_assert!(
                    recorded_at_once == before,
                    "a refused decide_record changes nothing"
                );
                prop_assert!(!refusal.reasons.is_empty());
                prop_assert_eq!(&refusal.action, &action);
                prop_assert!(case == before, "a refused command changes nothing");
                prop_assert_eq!(case.view(), view);
                match option {
                    None => prop_assert_eq!(refusal.kinds(), vec![ReasonKind::UnknownAction]),
                    Some(o) => prop_assert_eq!(
                        shared_kinds(o.reasons.iter().map(|r| r.kind)),
                        shared_kinds(refusal.kinds()),
                        "available_actions and decide agree on {:?}",
                        action
                    ),
                }
            }
            Ok(event) => {
                prop_assert!(!before.is_closed(), "a closed case accepts nothing");
                let o = option.unwrap();
                prop_assert!(
                    o.reasons.is_empty(),
                    "decide accepted `{}` that available_actions refused: {:?}",
                    action,
                    o.reasons
                );
                prop_assert_eq!(event.seq, case.seq());
                prop_assert_eq!(at_once_result.as_ref().ok(), Some(&event));
                let mut applied = before.clone();
                applied
                    .apply(&event)
                    .map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
                prop_assert!(at_once == applied, "decide_apply = decide, then apply");
                let a = known.unwrap();
                let ctx = PubCtx::new(
                    p,
                    &before,
                    &history.taken,
                    Some(a),
                    &command.payload,
                    &command.documents,
                );
                let mut occurred = vec![NodeRef::Action(a)];
                if let Some(PlaceRef::State(s)) = a.to() {
                    occurred.push(NodeRef::State(s));
                }
                history.step(&occurred, &ctx)?;

                let recorded = case
                    .record(event)
                    .map_err(|e| TestCaseError::fail(format!("record: {e}")))?;
                prop_assert_eq!(case.seq(), before.seq() + 1);
                prop_assert_eq!(case.head(), recorded.hash.as_str());
                prop_assert_eq!(
                    recorded_at_once_result.as_ref().ok(),
                    Some(&recorded),
                    "decide_record = decide, then record"
                );
                prop_assert!(
                    recorded_at_once == case,
                    "decide_record = decide, then record"
                );
                prop_assert_eq!(case.last_at(), now);
                if let Some(PlaceRef::State(s)) = a.to() {
                    prop_assert_eq!(case.state(), s.id());
                }
                log.push(recorded);
                snapshots.push(case.clone());
                states.push(case.state().to_owned());
            }
        }
    }

    // Replay after every prefix, from the events as recorded.
    let events: Vec<Event> = log.iter().map(|r| r.event.clone()).collect();
    for k in 1..=events.len() {
        let replayed = Case::replay(&entry.rules, &events[..k])
            .map_err(|e| TestCaseError::fail(format!("replay of {k} events: {e}")))?;
        prop_assert!(replayed == snapshots[k - 1], "replay of {} events", k);
    }
    // From the stored bytes, as a store reads them back.
    let stored: Vec<&[u8]> = log.iter().map(|r| r.bytes.as_slice()).collect();
    let parsed: Vec<Event> = stored
        .iter()
        .map(|b| Event::from_bytes(b))
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(format!("parse: {e}")))?;
    prop_assert_eq!(&parsed, &events);
    let replayed = Case::replay(&entry.rules, &parsed)
        .map_err(|e| TestCaseError::fail(format!("replay: {e}")))?;
    prop_assert!(replayed == case);
    prop_assert_eq!(
        verify(&stored, Some(case.head())),
        Ok(()),
        "the stored chain verifies"
    );
    Ok(states)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_command_sequences_keep_every_property(
        open in any::<Seed>(),
        steps in prop::collection::vec(any::<Seed>(), 0..=40),
    ) {
        let world = &*WORLD;
        for entry in &world.entries {
            walk(entry, &world.calendar, &open, &steps)?;
        }
    }
}

/// The walk reaches deep: over a fixed set of seeds, every state of the village procedure and
/// of the fixture is reached (a check on the generator, not on the engine).
#[test]
fn the_walk_reaches_every_state() {
    let world = &*WORLD;
    for id in ["village-rules-filing", "refusal-lab"] {
        let entry = world
            .entries
            .iter()
            .find(|e| e.procedure.meta.id == id)
            .unwrap();
        let mut reached = BTreeSet::new();
        for n in 0..160_u32 {
            let open = [n, 1, 2, 3];
            let steps: Vec<Seed> = (0..40).map(|i| [n, i, 7, 11]).collect();
            reached.extend(walk(entry, &world.calendar, &open, &steps).unwrap());
        }
        let all: BTreeSet<String> = entry
            .procedure
            .states()
            .map(|s| s.id().to_owned())
            .collect();
        assert_eq!(reached, all, "{id}");
    }
}
