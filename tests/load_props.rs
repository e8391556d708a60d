//! Property tests of the loader on random procedures.
//!
//! A generator builds VALID procedure files: roles, documents, typed facts, a chain of main
//! states from the initial state to a terminal state plus random extra edges (so every state
//! is reachable and can reach a terminal), tracks inside non-terminal states (each a path
//! from its initial to its final state), actions with random roles, documents, payloads,
//! `sets`, `reason_required` and satisfiable guards over declared names only, time rules
//! anchored on something that exists, and invariants that hold by construction. Property:
//! the file loads with no error and its procedure is in the rule set.
//!
//! Mutations then break one thing (delete a state, rename a reference to an undeclared name,
//! change a fact's type, delete a required key, drop, duplicate or corrupt a line). Property:
//! loading never panics; every diagnostic lies inside the file; the file either has an
//! error or loads; and a reference renamed to an undeclared name always gives an error.
//!
//! Cases: 64 by default, `PROPTEST_CASES=n` for more.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::fmt::Write as _;

use fazhi_core::load::{Loaded, SourceFile, load};
use proptest::prelude::*;

const UNDECLARED: &str = "undeclared_zz";

// ---------------------------------------------------------------------------------------
// Entropy: the generator draws every choice from a vector of numbers, so that proptest
// shrinks a failing procedure towards a smaller one (shorter vector, smaller numbers: an
// exhausted or zero draw is always the simplest choice).

struct Draw<'a> {
    xs: &'a [u32],
    i: usize,
}

impl Draw<'_> {
    /// A number in `0..n` (0 when `n` is 0 or the entropy is used up).
    fn below(&mut self, n: usize) -> usize {
        let x = self.xs.get(self.i).copied().unwrap_or(0);
        self.i += 1;
        if n == 0 { 0 } else { x as usize % n }
    }
    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// True with about `pct` percent chance (false when the entropy is used up).
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) >= 100 - pct
    }
    /// A non-empty random subset of `items` (at least the first pick), in order.
    fn some_of<T: Clone>(&mut self, items: &[T], max: usize) -> Vec<T> {
        if items.is_empty() {
            return Vec::new();
        }
        let n = self.range(1, max.min(items.len()));
        let mut picked: Vec<usize> = Vec::new();
        for _ in 0..n {
            let i = self.below(items.len());
            if !picked.contains(&i) {
                picked.push(i);
            }
        }
        picked.sort_unstable();
        picked.into_iter().map(|i| items[i].clone()).collect()
    }
    /// A possibly empty random subset.
    fn any_of<T: Clone>(&mut self, items: &[T], max: usize) -> Vec<T> {
        if self.chance(50) {
            self.some_of(items, max)
        } else {
            Vec::new()
        }
    }
}

// ---------------------------------------------------------------------------------------
// The procedure, as a structure that renders to TOML and that mutations can edit.

#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Bool,
    Integer,
    Enum(usize),
    Date,
}

impl Ty {
    fn name(&self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Integer => "integer",
            Ty::Enum(_) => "enum",
            Ty::Date => "date",
        }
    }
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: Ty,
    required: bool,
    default: Option<String>,
}

/// One atom of a guard; `name` is the identifier a mutation may rename.
#[derive(Debug, Clone)]
enum Atom {
    Flag(String),
    NotFlag(String),
    EnumIs(String, String),
    Greater(String, i64),
    Done(String),
    PayloadFlag(String),
    PayloadGreater(String, i64),
}

impl Atom {
    fn name_mut(&mut self) -> &mut String {
        match self {
            Atom::Flag(n)
            | Atom::NotFlag(n)
            | Atom::EnumIs(n, _)
            | Atom::Greater(n, _)
            | Atom::Done(n)
            | Atom::PayloadFlag(n)
            | Atom::PayloadGreater(n, _) => n,
        }
    }
    /// Atoms on one key must not meet in one guard (so that every guard is satisfiable).
    fn key(&self) -> String {
        match self {
            Atom::Flag(n) | Atom::NotFlag(n) | Atom::EnumIs(n, _) | Atom::Greater(n, _) => {
                n.clone()
            }
            Atom::Done(n) => format!("done:{n}"),
            Atom::PayloadFlag(n) | Atom::PayloadGreater(n, _) => format!("payload.{n}"),
        }
    }
    fn render(&self) -> String {
        match self {
            Atom::Flag(n) => n.clone(),
            Atom::NotFlag(n) => format!("!{n}"),
            Atom::EnumIs(n, v) => format!("{n} == \"{v}\""),
            Atom::Greater(n, k) => format!("{n} > {k}"),
            Atom::Done(n) => format!("done({n})"),
            Atom::PayloadFlag(n) => format!("payload.{n}"),
            Atom::PayloadGreater(n, k) => format!("payload.{n} > {k}"),
        }
    }
}

/// Atoms over distinct names joined by `&&`/`||`, the last two in parentheses when `paren`.
#[derive(Debug, Clone)]
struct Guard {
    atoms: Vec<Atom>,
    ops: Vec<&'static str>,
    paren: bool,
}

impl Guard {
    fn render(&self) -> String {
        let parts: Vec<String> = self.atoms.iter().map(Atom::render).collect();
        let n = parts.len();
        let mut out = String::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                let _ = write!(out, " {} ", self.ops[i - 1]);
            }
            if self.paren && n >= 3 && i == n - 2 {
                out.push('(');
            }
            out.push_str(p);
            if self.paren && n >= 3 && i == n - 1 {
                out.push(')');
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
struct State {
    name: String,
    tracks: Vec<String>,
}

#[derive(Debug, Clone)]
struct Track {
    name: String,
    states: Vec<String>,
    active_if: Option<Guard>,
}

#[derive(Debug, Clone)]
struct Action {
    name: String,
    from: Vec<String>,
    to: Option<String>,
    by: Vec<String>,
    documents: Vec<String>,
    payload: Vec<Field>,
    when: Option<Guard>,
    sets: Vec<(String, String)>,
    /// The TOML value of `reason_required`, when given.
    reason: Option<String>,
    reason_guard: Option<Guard>,
}

#[derive(Debug, Clone)]
struct TimeRule {
    name: String,
    at_least: bool,
    unit: &'static str,
    n: u32,
    after: String,
    actions: Vec<String>,
    unless: Option<Guard>,
    /// `below_with_reason` (for `at_least`) or `strict` (for `within`).
    option: Option<bool>,
}

#[derive(Debug, Clone)]
enum Invariant {
    Order { first: String, then: String },
    OnlyIf { reach: String, only_if: String },
}

#[derive(Debug, Clone)]
struct Spec {
    language: bool,
    id: String,
    version: u32,
    initial: String,
    terminal: Vec<String>,
    roles: Vec<String>,
    documents: Vec<String>,
    facts: Vec<Field>,
    states: Vec<State>,
    tracks: Vec<Track>,
    actions: Vec<Action>,
    time: Vec<TimeRule>,
    invariants: Vec<(String, Invariant)>,
    /// `table.key` paths the renderer leaves out (a mutation: delete a required key).
    omit: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Generation.

fn guard(d: &mut Draw<'_>, pool: &[Atom], max: usize) -> Option<Guard> {
    if pool.is_empty() {
        return None;
    }
    let mut atoms: Vec<Atom> = Vec::new();
    for _ in 0..d.range(1, max) {
        let a = pool[d.below(pool.len())].clone();
        if !atoms.iter().any(|b| b.key() == a.key()) {
            atoms.push(a);
        }
    }
    let ops = (1..atoms.len())
        .map(|_| if d.chance(50) { "||" } else { "&&" })
        .collect();
    Some(Guard {
        atoms,
        ops,
        paren: d.chance(50),
    })
}

fn fact_atoms(d: &mut Draw<'_>, facts: &[Field]) -> Vec<Atom> {
    let mut pool = Vec::new();
    for f in facts {
        match &f.ty {
            Ty::Bool => pool.push(if d.chance(50) {
                Atom::NotFlag(f.name.clone())
            } else {
                Atom::Flag(f.name.clone())
            }),
            Ty::Integer => pool.push(Atom::Greater(f.name.clone(), d.below(10) as i64)),
            Ty::Enum(n) => pool.push(Atom::EnumIs(f.name.clone(), format!("v{}", d.below(*n)))),
            Ty::Date => {}
        }
    }
    pool
}

fn field(d: &mut Draw<'_>, name: String, with_default: bool) -> Field {
    let ty = match d.below(4) {
        0 => Ty::Bool,
        1 => Ty::Integer,
        2 => Ty::Enum(d.range(1, 4)),
        _ if with_default => Ty::Date,
        _ => Ty::Bool,
    };
    let (required, default) = match d.below(3) {
        1 => (true, None),
        2 if with_default => {
            let v = match &ty {
                Ty::Bool => "true".to_owned(),
                Ty::Integer => d.below(100).to_string(),
                Ty::Enum(n) => format!("\"v{}\"", d.below(*n)),
                Ty::Date => format!("2025-10-{:02}", d.range(1, 28)),
            };
            (false, Some(v))
        }
        _ => (false, None),
    };
    Field {
        name,
        ty,
        required,
        default,
    }
}

fn generate(xs: &[u32]) -> Spec {
    let d = &mut Draw { xs, i: 0 };
    let chinese = d.chance(30);
    let state_name = |i: usize| {
        if chinese {
            format!("阶段{i}")
        } else {
            format!("s{i}")
        }
    };

    let roles: Vec<String> = (0..d.range(1, 4))
        .map(|i| {
            if chinese && i == 0 {
                "村委会".to_owned()
            } else {
                format!("r{i}")
            }
        })
        .collect();
    let documents: Vec<String> = (0..d.range(0, 3)).map(|i| format!("d{i}")).collect();
    let facts: Vec<Field> = (0..d.range(0, 5))
        .map(|i| {
            let f = field(d, String::new(), true);
            let prefix = match f.ty {
                Ty::Bool => "fb",
                Ty::Integer => "fn",
                Ty::Enum(_) => "fe",
                Ty::Date => "fd",
            };
            Field {
                name: format!("{prefix}{i}"),
                ..f
            }
        })
        .collect();

    // Main states: a chain s0 → … → s(m-1), the last terminal; maybe a second terminal.
    let m = d.range(2, 8);
    let mut states: Vec<State> = (0..m)
        .map(|i| State {
            name: state_name(i),
            tracks: Vec::new(),
        })
        .collect();
    let last = states[m - 1].name.clone();
    let mut terminal = vec![last.clone()];
    let abandoned = d.chance(30).then(|| "abandoned".to_owned());
    if let Some(a) = &abandoned {
        states.push(State {
            name: a.clone(),
            tracks: Vec::new(),
        });
        terminal.push(a.clone());
    }
    // The gate: every path to the last state passes it (no extra edge jumps over it).
    let gate = (m >= 3).then(|| d.range(1, m - 2));

    // Tracks, each inside a non-terminal main state.
    let mut tracks = Vec::new();
    let base_atoms = fact_atoms(d, &facts);
    for j in 0..d.range(0, 3) {
        let name = format!("t{j}");
        let parent = d.below(m - 1);
        states[parent].tracks.push(name.clone());
        let active_if = if d.chance(30) {
            guard(d, &base_atoms, 2)
        } else {
            None
        };
        tracks.push(Track {
            name,
            states: (0..d.range(1, 4)).map(|i| format!("q{i}")).collect(),
            active_if,
        });
    }
    let track_names: Vec<String> = tracks.iter().map(|t| t.name.clone()).collect();

    // Actions.
    let mut actions = Vec::new();
    let action = |d: &mut Draw<'_>, name: String, from: Vec<String>, to: Option<String>| {
        let payload: Vec<Field> = (0..d.range(0, 2))
            .map(|i| {
                let f = field(d, String::new(), false);
                Field {
                    name: format!("p{i}"),
                    ..f
                }
            })
            .collect();
        let mut pool = fact_atoms(d, &facts);
        pool.extend(track_names.iter().map(|t| Atom::Done(t.clone())));
        for f in &payload {
            match f.ty {
                Ty::Bool => pool.push(Atom::PayloadFlag(f.name.clone())),
                Ty::Integer => pool.push(Atom::PayloadGreater(f.name.clone(), 3)),
                _ => {}
            }
        }
        let when = if d.chance(50) {
            guard(d, &pool, 3)
        } else {
            None
        };
        let mut sets = Vec::new();
        for f in d.any_of(&facts, 2) {
            let v = match f.ty {
                Ty::Bool => "true".to_owned(),
                Ty::Integer => "5".to_owned(),
                Ty::Enum(n) => format!("\\\"v{}\\\"", n - 1),
                Ty::Date => continue,
            };
            sets.push((f.name.clone(), v));
        }
        let (reason, reason_guard) = match d.below(4) {
            1 => (Some("true".to_owned()), None),
            2 => (Some("false".to_owned()), None),
            3 => (None, guard(d, &pool, 2)),
            _ => (None, None),
        };
        Action {
            name,
            from,
            to,
            by: d.some_of(&roles, 3),
            documents: d.any_of(&documents, 2),
            payload,
            when,
            sets,
            reason,
            reason_guard,
        }
    };
    for i in 0..m - 1 {
        let a = action(
            d,
            format!("go{i}"),
            vec![state_name(i)],
            Some(state_name(i + 1)),
        );
        actions.push(a);
    }
    for k in 0..d.range(0, 6) {
        let i = d.below(m - 1);
        let j = match gate {
            Some(g) if i < g => d.below(g + 1),
            _ => d.below(m),
        };
        let mut from_idx = vec![i];
        if d.chance(30) {
            let k = d.below(m - 1);
            // Every place of `from` must respect the gate.
            if k != i && gate.is_none_or(|g| k >= g || j <= g) {
                from_idx.push(k);
            }
        }
        let from = from_idx.into_iter().map(state_name).collect();
        let to = if d.chance(20) {
            None
        } else {
            Some(state_name(j))
        };
        let a = action(d, format!("x{k}"), from, to);
        actions.push(a);
    }
    if let Some(a) = &abandoned {
        let from = (0..m - 1).map(state_name).collect::<Vec<_>>();
        let from = d.some_of(&from, 3);
        let act = action(d, "abandon".to_owned(), from, Some(a.clone()));
        actions.push(act);
    }
    for t in &tracks {
        for i in 0..t.states.len() - 1 {
            let a = action(
                d,
                format!("{}_{i}", t.name),
                vec![format!("{}.{}", t.name, t.states[i])],
                Some(format!("{}.{}", t.name, t.states[i + 1])),
            );
            actions.push(a);
        }
    }

    // Invariants: the gate comes first; maybe `reach` the last state `only_if` a flag, with
    // every action entering it guarded by exactly that flag.
    let mut invariants = Vec::new();
    if let Some(g) = gate {
        invariants.push((
            "gate_first".to_owned(),
            Invariant::Order {
                first: state_name(g),
                then: last.clone(),
            },
        ));
    }
    let flags: Vec<String> = facts
        .iter()
        .filter(|f| f.ty == Ty::Bool)
        .map(|f| f.name.clone())
        .collect();
    if !flags.is_empty() && d.chance(40) {
        let flag = flags[d.below(flags.len())].clone();
        for a in &mut actions {
            if a.to.as_ref() == Some(&last) && !a.from.contains(&last) {
                a.when = Some(Guard {
                    atoms: vec![Atom::Flag(flag.clone())],
                    ops: Vec::new(),
                    paren: false,
                });
            }
        }
        invariants.push((
            "only_if_flag".to_owned(),
            Invariant::OnlyIf {
                reach: last.clone(),
                only_if: flag,
            },
        ));
    }

    // Time rules, anchored on an action, a state, a track state or a date fact.
    let main_actions: Vec<String> = actions
        .iter()
        .filter(|a| !a.from.iter().any(|f| f.contains('.')))
        .map(|a| a.name.clone())
        .collect();
    let mut anchors: Vec<String> = main_actions.clone();
    anchors.extend(states.iter().map(|s| s.name.clone()));
    anchors.extend(
        tracks
            .iter()
            .flat_map(|t| t.states.iter().map(move |s| format!("{}.{s}", t.name))),
    );
    anchors.extend(
        facts
            .iter()
            .filter(|f| f.ty == Ty::Date)
            .map(|f| f.name.clone()),
    );
    let time = (0..d.range(0, 3))
        .map(|i| {
            let at_least = d.chance(50);
            TimeRule {
                name: format!("time{i}"),
                at_least,
                unit: ["days", "working_days", "hours"][d.below(3)],
                n: d.range(1, 90) as u32,
                after: anchors[d.below(anchors.len())].clone(),
                actions: d.some_of(&main_actions, 3),
                unless: if d.chance(30) {
                    guard(d, &base_atoms, 2)
                } else {
                    None
                },
                option: d.chance(40).then(|| d.chance(50)),
            }
        })
        .collect();

    Spec {
        language: d.chance(50),
        id: if chinese {
            "随机程序".to_owned()
        } else {
            "random-procedure".to_owned()
        },
        version: d.range(1, 3) as u32,
        initial: state_name(0),
        terminal,
        roles,
        documents,
        facts,
        states,
        tracks,
        actions,
        time,
        invariants,
        omit: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Rendering.

fn key(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        s.to_owned()
    } else {
        q(s)
    }
}

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", items.join(", "))
}

impl Spec {
    fn keeps(&self, table: &str, k: &str) -> bool {
        !self.omit.iter().any(|o| *o == format!("{table}.{k}"))
    }

    fn field(&self, table: &str, f: &Field) -> String {
        let path = format!("{table}.{}", f.name);
        let mut parts = Vec::new();
        if self.keeps(&path, "type") {
            parts.push(format!("type = {}", q(f.ty.name())));
        }
        if let Ty::Enum(n) = f.ty {
            let values: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
            parts.push(format!("values = {}", list(&values)));
        }
        if f.required {
            parts.push("required = true".to_owned());
        }
        if let Some(v) = &f.default {
            parts.push(format!("default = {v}"));
        }
        parts.push(format!("title = {}", q(&format!("字段 {}", f.name))));
        format!("{} = {{ {} }}\n", key(&f.name), parts.join(", "))
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let o = &mut out;
        o.push_str("# generated by tests/load_props.rs\n");
        if self.language {
            o.push_str("language = 1\n");
        }
        o.push_str("\n[procedure]\n");
        if self.keeps("procedure", "id") {
            let _ = writeln!(o, "id = {}", q(&self.id));
        }
        if self.keeps("procedure", "version") {
            let _ = writeln!(o, "version = {}", self.version);
        }
        let _ = writeln!(o, "title = \"随机程序\"");
        if self.keeps("procedure", "initial") {
            let _ = writeln!(o, "initial = {}", q(&self.initial));
        }
        if self.keeps("procedure", "terminal") {
            let _ = writeln!(o, "terminal = {}", list(&self.terminal));
        }
        o.push_str("\n[roles]\n");
        for r in &self.roles {
            let _ = writeln!(o, "{} = {{ title = {} }}", key(r), q(&format!("角色 {r}")));
        }
        if !self.documents.is_empty() {
            o.push_str("\n[documents]\n");
            for d in &self.documents {
                let _ = writeln!(o, "{} = {{ title = \"文书\" }}", key(d));
            }
        }
        if !self.facts.is_empty() {
            o.push_str("\n[facts]\n");
            for f in &self.facts {
                o.push_str(&self.field("facts", f));
            }
        }
        o.push_str("\n[states]\n");
        for s in &self.states {
            if s.tracks.is_empty() {
                let _ = writeln!(o, "{} = {{ title = \"状态\" }}", key(&s.name));
            } else {
                let _ = writeln!(
                    o,
                    "{} = {{ title = \"状态\", tracks = {} }}",
                    key(&s.name),
                    list(&s.tracks)
                );
            }
        }
        for t in &self.tracks {
            let path = format!("tracks.{}", t.name);
            let _ = writeln!(o, "\n[tracks.{}]", key(&t.name));
            if self.keeps(&path, "initial") {
                let _ = writeln!(o, "initial = {}", q(&t.states[0]));
            }
            if self.keeps(&path, "final") {
                let _ = writeln!(o, "final = {}", list(&t.states[t.states.len() - 1..]));
            }
            if let Some(g) = &t.active_if {
                let _ = writeln!(o, "active_if = {}", q(&g.render()));
            }
            if self.keeps(&path, "states") {
                let _ = writeln!(o, "\n[tracks.{}.states]", key(&t.name));
                for s in &t.states {
                    let _ = writeln!(o, "{} = {{ title = \"环节\" }}", key(s));
                }
            }
        }
        for a in &self.actions {
            let path = format!("actions.{}", a.name);
            let _ = writeln!(o, "\n[actions.{}]", key(&a.name));
            let _ = writeln!(o, "title = {}", q(&format!("动作 {}", a.name)));
            if self.keeps(&path, "from") {
                if a.from.len() == 1 {
                    let _ = writeln!(o, "from = {}", q(&a.from[0]));
                } else {
                    let _ = writeln!(o, "from = {}", list(&a.from));
                }
            }
            if let Some(to) = &a.to {
                let _ = writeln!(o, "to = {}", q(to));
            }
            if self.keeps(&path, "by") {
                let _ = writeln!(o, "by = {}", list(&a.by));
            }
            if let Some(g) = &a.when {
                let _ = writeln!(o, "when = {}", q(&g.render()));
            }
            if !a.documents.is_empty() {
                let _ = writeln!(o, "documents = {}", list(&a.documents));
            }
            if let Some(r) = &a.reason {
                let _ = writeln!(o, "reason_required = {r}");
            }
            if let Some(g) = &a.reason_guard {
                let _ = writeln!(o, "reason_required = {}", q(&g.render()));
            }
            if !a.sets.is_empty() {
                let sets: Vec<String> = a
                    .sets
                    .iter()
                    .map(|(f, v)| format!("{} = \"{v}\"", key(f)))
                    .collect();
                let _ = writeln!(o, "sets = {{ {} }}", sets.join(", "));
            }
            if !a.payload.is_empty() {
                let _ = writeln!(o, "\n[actions.{}.payload]", key(&a.name));
                for f in &a.payload {
                    o.push_str(&self.field(&format!("{path}.payload"), f));
                }
            }
        }
        for t in &self.time {
            let path = format!("time.{}", t.name);
            let _ = writeln!(o, "\n[time.{}]", key(&t.name));
            let kind = if t.at_least { "at_least" } else { "within" };
            let _ = writeln!(o, "{kind} = {{ {} = {} }}", t.unit, t.n);
            if self.keeps(&path, "after") {
                let _ = writeln!(o, "after = {}", q(&t.after));
            }
            if self.keeps(&path, "actions") {
                let _ = writeln!(o, "actions = {}", list(&t.actions));
            }
            if let Some(g) = &t.unless {
                let _ = writeln!(o, "unless = {}", q(&g.render()));
            }
            if let Some(b) = t.option {
                let opt = if t.at_least {
                    "below_with_reason"
                } else {
                    "strict"
                };
                let _ = writeln!(o, "{opt} = {b}");
            }
        }
        for (name, inv) in &self.invariants {
            let _ = writeln!(o, "\n[invariants.{}]", key(name));
            let _ = writeln!(o, "basis = \"第一条\"");
            match inv {
                Invariant::Order { first, then } => {
                    let _ = writeln!(o, "first = {}\nthen = {}", q(first), q(then));
                }
                Invariant::OnlyIf { reach, only_if } => {
                    let _ = writeln!(o, "reach = {}\nonly_if = {}", q(reach), q(only_if));
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------
// Mutations.

#[derive(Debug, Clone)]
enum Mutation {
    DeleteState(usize),
    RenameTo(usize),
    RenameBy(usize),
    RenameDocument(usize),
    RenameAfter(usize),
    RenameTrackInState(usize),
    RenameGuardName(usize, usize),
    ChangeFactType(usize, usize),
    DeleteRequiredKey(usize),
    DropLine(usize),
    DuplicateLine(usize),
    InsertText(usize, String),
}

impl Mutation {
    /// Whether the mutation renames a reference to an undeclared name.
    fn renames(&self) -> bool {
        matches!(
            self,
            Mutation::RenameTo(_)
                | Mutation::RenameBy(_)
                | Mutation::RenameDocument(_)
                | Mutation::RenameAfter(_)
                | Mutation::RenameTrackInState(_)
                | Mutation::RenameGuardName(..)
        )
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<usize>;
    // Text to insert: mostly characters that mean something to TOML, some of anything.
    let noise = prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec![
                '"', '\'', '[', ']', '{', '}', '=', '.', ',', '#', '\n', '\\', ' ', 'a', '1', '阶',
            ]),
            1 => any::<char>(),
        ],
        1..8,
    )
    .prop_map(|cs| cs.into_iter().collect::<String>());
    prop_oneof![
        idx().prop_map(Mutation::DeleteState),
        idx().prop_map(Mutation::RenameTo),
        idx().prop_map(Mutation::RenameBy),
        idx().prop_map(Mutation::RenameDocument),
        idx().prop_map(Mutation::RenameAfter),
        idx().prop_map(Mutation::RenameTrackInState),
        (idx(), idx()).prop_map(|(a, b)| Mutation::RenameGuardName(a, b)),
        (idx(), idx()).prop_map(|(a, b)| Mutation::ChangeFactType(a, b)),
        idx().prop_map(Mutation::DeleteRequiredKey),
        idx().prop_map(Mutation::DropLine),
        idx().prop_map(Mutation::DuplicateLine),
        (idx(), noise).prop_map(|(a, s)| Mutation::InsertText(a, s)),
    ]
}

fn pick<T>(items: &mut [T], i: usize) -> Option<&mut T> {
    let n = items.len();
    if n == 0 { None } else { items.get_mut(i % n) }
}

/// Applies the mutation; `None` when it has nothing to act on in this procedure.
fn mutate(spec: &Spec, m: &Mutation) -> Option<String> {
    let mut s = spec.clone();
    match m {
        Mutation::DeleteState(i) => {
            let n = s.states.len();
            s.states.remove(i % n);
        }
        Mutation::RenameTo(i) => {
            let mut with_to: Vec<&mut Action> =
                s.actions.iter_mut().filter(|a| a.to.is_some()).collect();
            let a = pick(&mut with_to, *i)?;
            // A track action's `to` is `track.state`: keep the track, rename the state.
            let to = a.to.as_mut()?;
            *to = match to.split_once('.') {
                Some((t, _)) => format!("{t}.{UNDECLARED}"),
                None => UNDECLARED.to_owned(),
            };
        }
        Mutation::RenameBy(i) => {
            let a = pick(&mut s.actions, *i)?;
            *a.by.first_mut()? = UNDECLARED.to_owned();
        }
        Mutation::RenameDocument(i) => {
            let mut with: Vec<&mut Action> = s
                .actions
                .iter_mut()
                .filter(|a| !a.documents.is_empty())
                .collect();
            let a = pick(&mut with, *i)?;
            *a.documents.first_mut()? = UNDECLARED.to_owned();
        }
        Mutation::RenameAfter(i) => {
            pick(&mut s.time, *i)?.after = UNDECLARED.to_owned();
        }
        Mutation::RenameTrackInState(i) => {
            let mut with: Vec<&mut State> = s
                .states
                .iter_mut()
                .filter(|s| !s.tracks.is_empty())
                .collect();
            *pick(&mut with, *i)?.tracks.first_mut()? = UNDECLARED.to_owned();
        }
        Mutation::RenameGuardName(i, j) => {
            let mut guards: Vec<&mut Guard> = Vec::new();
            for a in &mut s.actions {
                guards.extend(a.when.as_mut());
                guards.extend(a.reason_guard.as_mut());
            }
            for t in &mut s.tracks {
                guards.extend(t.active_if.as_mut());
            }
            for t in &mut s.time {
                guards.extend(t.unless.as_mut());
            }
            let g = pick(&mut guards, *i)?;
            *pick(&mut g.atoms, *j)?.name_mut() = UNDECLARED.to_owned();
        }
        Mutation::ChangeFactType(i, j) => {
            let f = pick(&mut s.facts, *i)?;
            let tys = [Ty::Bool, Ty::Integer, Ty::Enum(2), Ty::Date];
            let ty = tys
                .into_iter()
                .filter(|t| t.name() != f.ty.name())
                .nth(j % 3)?;
            f.ty = ty;
        }
        Mutation::DeleteRequiredKey(i) => {
            let mut keys: Vec<String> = ["id", "version", "initial", "terminal"]
                .iter()
                .map(|k| format!("procedure.{k}"))
                .collect();
            for a in &s.actions {
                keys.push(format!("actions.{}.from", a.name));
                keys.push(format!("actions.{}.by", a.name));
                for f in &a.payload {
                    keys.push(format!("actions.{}.payload.{}.type", a.name, f.name));
                }
            }
            for f in &s.facts {
                keys.push(format!("facts.{}.type", f.name));
            }
            for t in &s.tracks {
                for k in ["initial", "final", "states"] {
                    keys.push(format!("tracks.{}.{k}", t.name));
                }
            }
            for t in &s.time {
                keys.push(format!("time.{}.after", t.name));
                keys.push(format!("time.{}.actions", t.name));
            }
            let n = keys.len();
            s.omit.push(keys.swap_remove(i % n));
        }
        Mutation::DropLine(i) | Mutation::DuplicateLine(i) => {
            let text = s.render();
            let mut lines: Vec<&str> = text.lines().collect();
            let k = i % lines.len();
            if matches!(m, Mutation::DropLine(_)) {
                lines.remove(k);
            } else {
                lines.insert(k, lines[k]);
            }
            return Some(lines.join("\n") + "\n");
        }
        Mutation::InsertText(i, noise) => {
            let mut text = s.render();
            let mut at = i % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, noise);
            return Some(text);
        }
    }
    Some(s.render())
}

// ---------------------------------------------------------------------------------------
// Properties.

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(64),
    )
}

fn entropy() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(any::<u32>(), 0..300)
}

fn plain(loaded: &Loaded) -> String {
    loaded
        .diagnostics
        .iter()
        .map(|d| format!("  {}", d.to_plain()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every diagnostic points inside the text: a line that exists (or the one just past the
/// end) and a column at most one past that line's last character.
fn assert_inside(text: &str, loaded: &Loaded) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    for d in &loaded.diagnostics {
        prop_assert!(
            d.line >= 1 && d.line <= lines.len() + 1,
            "line {} outside a text of {} lines: {}",
            d.line,
            lines.len(),
            d.to_plain()
        );
        let width = lines.get(d.line - 1).map_or(0, |l| l.chars().count());
        prop_assert!(
            d.column >= 1 && d.column <= width + 1,
            "column {} outside line {} ({} characters): {}",
            d.column,
            d.line,
            width,
            d.to_plain()
        );
    }
    Ok(())
}

/// Whether guards are really checked in this build: an unknown name in a guard is an error
/// only once the expression checker is in (a stub may stand in for it while it is written).
fn guards_are_checked() -> bool {
    let text = "[procedure]\nid = \"p\"\nversion = 1\ninitial = \"a\"\nterminal = [\"z\"]\n\
                [roles]\nr = {}\n[states]\na = {}\nz = {}\n\
                [actions.go]\nfrom = \"a\"\nto = \"z\"\nby = [\"r\"]\nwhen = \"no_such_name\"\n";
    load(&[SourceFile::new("probe.toml", text)]).errors() > 0
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_procedures_load(xs in entropy()) {
        let spec = generate(&xs);
        let text = spec.render();
        let loaded = load(&[SourceFile::new("random.toml", text.clone())]);
        prop_assert_eq!(loaded.errors(), 0, "\n{}\n{}", plain(&loaded), text);
        prop_assert!(
            loaded.rules.get(&spec.id, Some(spec.version)).is_some(),
            "procedure missing from the rule set\n{}", text
        );
        assert_inside(&text, &loaded)?;
    }

    #[test]
    fn mutated_procedures_never_panic_and_point_inside_the_file(
        xs in entropy(),
        m in mutation(),
    ) {
        let spec = generate(&xs);
        let Some(text) = mutate(&spec, &m) else {
            return Ok(());
        };
        let loaded = load(&[SourceFile::new("mutated.toml", text.clone())]);
        assert_inside(&text, &loaded)?;
        let present = loaded.rules.get(&spec.id, Some(spec.version)).is_some();
        prop_assert_eq!(
            loaded.errors() > 0, !present,
            "a file loads exactly when it has no error\n{}\n{}", plain(&loaded), text
        );
        let must_fail = match m {
            Mutation::RenameGuardName(..) => guards_are_checked(),
            Mutation::DeleteState(_) | Mutation::DeleteRequiredKey(_) => true,
            _ => m.renames(),
        };
        if must_fail {
            prop_assert!(
                loaded.errors() > 0,
                "{:?} gave no error\n{}\n{}", m, plain(&loaded), text
            );
        }
    }
}

/// The generator is not trivial: over a fixed set of seeds it produces tracks, time rules,
/// both kinds of invariant, payloads, guards and the second terminal state.
#[test]
fn the_generator_covers_the_language() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200u32 {
        let xs: Vec<u32> = (0..300u32)
            .map(|i| {
                seed.wrapping_mul(2_654_435_761)
                    .wrapping_add(i.wrapping_mul(40_503))
                    ^ (i << 7)
            })
            .collect();
        let text = generate(&xs).render();
        for needle in [
            "[tracks.",
            "[time.",
            "first = ",
            "only_if = ",
            "[actions.",
            ".payload]",
            "when = ",
            "abandoned",
            "at_least",
            "within",
            "done(",
            "sets = ",
            "reason_required",
            "阶段",
        ] {
            if text.contains(needle) {
                seen.insert(needle);
            }
        }
    }
    assert_eq!(
        seen.len(),
        14,
        "the generator never produced some of: {seen:?}"
    );
}
