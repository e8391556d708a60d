//! Migrations: moving running cases from one version of a procedure to a newer one (issue 17).
//!
//! A migration is declared in a file (`rules/migrations/<procedure>-v<from>-v<to>.toml`, see
//! `docs/rule-language.md`, "Migrations"): where each state and track state of the old version
//! goes in the new one (or why cases there are not moved), values for the new facts, renamed
//! facts and actions, which cases it applies to, and why the new rules apply to them.
//! [`load_migration`] reads a file and proves it against the two versions; [`Migration::plan`]
//! says, for one case, where it moves (the [`EventBody::Migrated`] event to append) or why it
//! cannot move.
//!
//! Pure: no IO, no clock (the caller gives the time and the calendar).

mod file;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

pub use file::load_migration;

use crate::load::{Diagnostic, SourceFile};
use crate::model::{InvariantKind, Node, Procedure, RuleSet};
use crate::runtime::{Actor, Case, DeadlineShift, DeadlineStatus, Event, EventBody, Hash256};
use crate::time::Calendar;

/// Where an old state (or track state) goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// To this place of the new version (`state`, or `track.state`), setting these facts.
    To {
        /// The new place's id.
        place: String,
        /// Facts set for the cases that land there (main states only).
        set: serde_json::Map<String, serde_json::Value>,
    },
    /// Not moved, for this reason.
    Excluded(String),
}

/// Which cases a migration applies to (all, when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliesTo {
    /// Only cases in these states of the old version.
    pub states: Vec<String>,
    /// Only cases opened before this day (China time).
    pub opened_before: Option<NaiveDate>,
    /// Only cases opened on or after this day (China time).
    pub opened_after: Option<NaiveDate>,
}

/// A migration file, read and proved against the two versions it joins.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// The file's name (`rules/migrations/major-decision-v1-v2.toml`).
    pub name: String,
    /// The procedure's id.
    pub procedure: String,
    /// The version cases move from.
    pub from: u32,
    /// The version they move to.
    pub to: u32,
    /// Its title, when the file gives one.
    pub title: Option<String>,
    /// Why the new rules apply to the cases moved.
    pub basis: String,
    pub(crate) states: Vec<(String, Target)>,
    pub(crate) tracks: Vec<(String, Vec<(String, Target)>)>,
    pub(crate) facts: serde_json::Map<String, serde_json::Value>,
    /// New fact id → the old fact whose value it takes.
    pub(crate) renamed_facts: BTreeMap<String, String>,
    /// Old action id → new action id.
    pub(crate) actions: BTreeMap<String, String>,
    /// Which cases it applies to.
    pub applies_to: AppliesTo,
}

/// Why a case cannot move, Chinese first with English beside.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{zh}（{en}）")]
pub struct CannotMove {
    /// Why, in Chinese.
    pub zh: String,
    /// Why, in English.
    pub en: String,
}

impl CannotMove {
    fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        CannotMove {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

/// A case's move, ready to append: the event and the case after it.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The migration event (its `prev_hash` is set when it is recorded).
    pub event: Event,
    /// The case on the new version, as the event makes it.
    pub case: Case,
    /// The title of the state it was in.
    pub from_title: String,
    /// The title of the state it moves to.
    pub to_title: String,
}

/// Loads every migration file against the loaded rules: each read and proved
/// ([`load_migration`]); a second file for the same procedure and versions is an error.
pub fn load_migrations(files: &[SourceFile], rules: &RuleSet) -> (Vec<Migration>, Vec<Diagnostic>) {
    let mut out: Vec<Migration> = Vec::new();
    let mut diags = Vec::new();
    for f in files {
        let (m, d) = load_migration(f, rules);
        diags.extend(d);
        if let Some(m) = m {
            if let Some(other) = out.iter().find(|o| {
                (o.procedure.as_str(), o.from, o.to) == (m.procedure.as_str(), m.from, m.to)
            }) {
                diags.push(
                    Diagnostic::new(
                        crate::load::Severity::Error,
                        "duplicate-migration",
                        f,
                        0..0,
                        format!(
                            "`{}` from version {} to {} is already migrated by `{}`",
                            m.procedure, m.from, m.to, other.name
                        ),
                    )
                    .with_help("keep one migration file per procedure and pair of versions"),
                );
                continue;
            }
            out.push(m);
        }
    }
    (out, diags)
}

fn state_title(p: &Procedure, id: &str) -> String {
    p.find_state(id)
        .map_or_else(|| id.to_owned(), |(_, s)| s.meta.title.clone())
}

impl Migration {
    /// The migration of `procedure` from version `from` to `to` among `migrations`.
    pub fn find<'m>(
        migrations: &'m [Migration],
        procedure: &str,
        from: u32,
        to: u32,
    ) -> Option<&'m Migration> {
        migrations
            .iter()
            .find(|m| m.procedure == procedure && m.from == from && m.to == to)
    }

    /// Where `case` moves under this migration at `at` (by `actor`), onto `new` (the
    /// version [`Migration::to`] of the procedure): the event to append and the case after
    /// it; or why it cannot move. Deadlines running at `at` are counted under both versions
    /// (on `calendar`) and recorded in the event.
    pub fn plan(
        &self,
        case: &Case,
        new: &Arc<Procedure>,
        actor: Actor,
        at: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Result<Planned, CannotMove> {
        let op = case.procedure().clone();
        let title = |p: &Procedure| format!("“{}”", p.meta.title);
        if op.meta.id != self.procedure || new.meta.id != self.procedure || new.version != self.to {
            return Err(CannotMove::new(
                format!(
                    "本迁移适用于程序`{}`，本案适用{}",
                    self.procedure,
                    title(&op)
                ),
                format!(
                    "this migration is for procedure `{}`; the case runs on `{}`",
                    self.procedure, op.meta.id
                ),
            ));
        }
        if op.version != self.from {
            return Err(CannotMove::new(
                format!(
                    "本案适用{}第{}版，本迁移自第{}版迁至第{}版",
                    title(&op),
                    op.version,
                    self.from,
                    self.to
                ),
                format!(
                    "the case runs on version {}; this migration moves cases from version {} to {}",
                    op.version, self.from, self.to
                ),
            ));
        }
        let state = case.state().to_owned();
        let here = state_title(&op, &state);
        if case.is_closed() {
            return Err(CannotMove::new(
                format!("本案已办结（“{here}”），不再迁移"),
                format!("the case is closed (`{state}`): closed cases are not moved"),
            ));
        }
        let opened = crate::time::cst_date(case.opened_at());
        let a = &self.applies_to;
        if !a.states.is_empty() && !a.states.contains(&state) {
            return Err(CannotMove::new(
                format!("本迁移不适用于处于“{here}”的案件"),
                format!("the migration does not apply to cases in `{state}`"),
            ));
        }
        if let Some(d) = a.opened_before
            && opened >= d
        {
            return Err(CannotMove::new(
                format!(
                    "本迁移只适用于{}以前立案的案件，本案于{}立案",
                    crate::lang::date_zh(d),
                    crate::lang::date_zh(opened)
                ),
                format!(
                    "the migration applies only to cases opened before {d}; this one was opened on {opened}"
                ),
            ));
        }
        if let Some(d) = a.opened_after
            && opened < d
        {
            return Err(CannotMove::new(
                format!(
                    "本迁移只适用于{}以后（含当日）立案的案件，本案于{}立案",
                    crate::lang::date_zh(d),
                    crate::lang::date_zh(opened)
                ),
                format!(
                    "the migration applies only to cases opened on or after {d}; this one was opened on {opened}"
                ),
            ));
        }
        let excluded = |why: &str, what_zh: String, what_en: String| {
            CannotMove::new(
                format!("{what_zh}不迁移：{why}"),
                format!("{what_en} is excluded from the migration: {why}"),
            )
        };
        let Some((_, target)) = self.states.iter().find(|(k, _)| *k == state) else {
            return Err(CannotMove::new(
                format!("迁移文件未规定“{here}”的去向"),
                format!("the migration file does not map state `{state}`"),
            ));
        };
        let (to_state, set) = match target {
            Target::To { place, set } => (place.clone(), set.clone()),
            Target::Excluded(why) => {
                return Err(excluded(
                    why,
                    format!("处于“{here}”的案件"),
                    format!("state `{state}`"),
                ));
            }
        };
        let Some((to_index, _)) = new.find_state(&to_state) else {
            return Err(CannotMove::new(
                format!("第{}版没有状态`{to_state}`", new.version),
                format!("version {} has no state `{to_state}`", new.version),
            ));
        };
        let mut tracks = BTreeMap::new();
        for (track, track_state) in case.track_states() {
            let entry = self
                .tracks
                .iter()
                .find(|(t, _)| t == track)
                .and_then(|(_, e)| e.iter().find(|(s, _)| s == track_state));
            let title_of = |id: &str| {
                op.find_track(track)
                    .and_then(|(_, t)| t.states.iter().find(|s| s.id == id))
                    .map_or_else(|| id.to_owned(), |s| s.title.clone())
            };
            match entry.map(|(_, t)| t) {
                Some(Target::To { place, .. }) => {
                    if let Some((t, s)) = place.split_once('.')
                        && new
                            .find_track(t)
                            .is_some_and(|(_, nt)| nt.parent == to_index)
                    {
                        tracks.insert(t.to_owned(), s.to_owned());
                    }
                }
                Some(Target::Excluded(why)) => {
                    return Err(excluded(
                        why,
                        format!(
                            "分支“{}”处于“{}”的案件",
                            op.find_track(track)
                                .map_or(track, |(_, t)| t.meta.title.as_str()),
                            title_of(track_state)
                        ),
                        format!("track state `{track}.{track_state}`"),
                    ));
                }
                None => {
                    return Err(CannotMove::new(
                        format!("迁移文件未规定分支状态“{}”的去向", title_of(track_state)),
                        format!(
                            "the migration file does not map track state `{track}.{track_state}`"
                        ),
                    ));
                }
            }
        }
        let mut places = BTreeMap::new();
        for (old, target) in &self.states {
            if let Target::To { place, .. } = target {
                places.insert(old.clone(), place.clone());
            }
        }
        for (track, entries) in &self.tracks {
            for (old, target) in entries {
                if let Target::To { place, .. } = target {
                    places.insert(format!("{track}.{old}"), place.clone());
                }
            }
        }
        let mut facts = self.facts.clone();
        facts.extend(set);
        // A kept enum fact whose value the new version lacks: this case cannot move.
        for f in &new.facts {
            if facts.contains_key(&f.meta.id) {
                continue;
            }
            let from = self.renamed_facts.get(&f.meta.id).unwrap_or(&f.meta.id);
            let Some((_, of)) = op.find_fact(from) else {
                continue;
            };
            if let (crate::expr::Type::Enum(_), crate::expr::Type::Enum(values)) = (&of.ty, &f.ty)
                && let Some(serde_json::Value::String(v)) = case.fact(from)
                && !values.contains(&v)
            {
                let label = crate::model::label_of(&of.labels, &v).unwrap_or(&v);
                return Err(CannotMove::new(
                    format!(
                        "「{}」为“{label}”，第{}版没有这一取值",
                        of.meta.title, new.version
                    ),
                    format!(
                        "fact `{from}` is `{v}`, which is no value of version {}",
                        new.version
                    ),
                ));
            }
        }
        let mut event = Event {
            case: case.id().into(),
            seq: case.seq(),
            body: EventBody::Migrated {
                procedure: self.procedure.clone(),
                from_version: self.from,
                to_version: self.to,
                migration: self.name.clone(),
                from_state: state.clone(),
                to_state: to_state.clone(),
                tracks,
                places,
                actions: self.actions.clone(),
                renamed_facts: self.renamed_facts.clone(),
                facts,
                deadlines: Vec::new(),
                basis: self.basis.clone(),
            },
            actor,
            at,
            imported: false,
            prev_hash: Hash256::GENESIS,
        };
        let invalid = |e: crate::runtime::ApplyError| {
            CannotMove::new(
                format!("无法按新版本重建本案：{e}"),
                format!("the case cannot be rebuilt on the new version: {e}"),
            )
        };
        let mut moved = case.migrated(new, &event).map_err(invalid)?;
        // Tracks of the new state the case has not run: they start as on entering it.
        let starting = moved.tracks_starting_here();
        if !starting.is_empty() {
            if let EventBody::Migrated { tracks, .. } = &mut event.body {
                tracks.extend(starting);
            }
            moved = case.migrated(new, &event).map_err(invalid)?;
        }
        // The new version's `only_if` invariants on the state the case lands in.
        for inv in &new.invariants {
            if let InvariantKind::OnlyIf { reach, only_if } = &inv.kind
                && *reach == Node::State(to_index)
                && !moved.holds(only_if)
            {
                let basis = inv.meta.basis.as_deref().unwrap_or_default();
                return Err(CannotMove::new(
                    format!(
                        "迁入“{}”须满足第{}版的不变式“{}”（{}），本案不满足{}",
                        state_title(new, &to_state),
                        new.version,
                        inv.meta.title,
                        only_if.describe(&|name| new.title_of(name, None)),
                        if basis.is_empty() {
                            String::new()
                        } else {
                            format!("（依据：{basis}）")
                        }
                    ),
                    format!(
                        "moving into `{to_state}` needs invariant `{}` of version {} (`{}`), which does not hold for this case",
                        inv.meta.id,
                        new.version,
                        only_if.source()
                    ),
                ));
            }
        }
        let running = |s: DeadlineStatus| {
            matches!(
                s,
                DeadlineStatus::Pending | DeadlineStatus::Overdue | DeadlineStatus::Stopped
            )
        };
        let before = case.deadlines(at, calendar);
        let after = moved.deadlines(at, calendar);
        let mut shifts: BTreeMap<String, DeadlineShift> = BTreeMap::new();
        for d in before.iter().filter(|d| running(d.status)) {
            shifts.insert(
                d.rule.clone(),
                DeadlineShift {
                    rule: d.rule.clone(),
                    title: d.title.clone(),
                    due_before: Some(crate::time::china::rfc3339(d.due)),
                    due_after: None,
                },
            );
        }
        for d in after.iter().filter(|d| running(d.status)) {
            let e = shifts
                .entry(d.rule.clone())
                .or_insert_with(|| DeadlineShift {
                    rule: d.rule.clone(),
                    title: d.title.clone(),
                    due_before: None,
                    due_after: None,
                });
            e.title = d.title.clone();
            e.due_after = Some(crate::time::china::rfc3339(d.due));
        }
        if let EventBody::Migrated { deadlines, .. } = &mut event.body {
            *deadlines = shifts.into_values().collect();
        }
        // The deadlines are a record: the case does not read them, so `moved` stands.
        Ok(Planned {
            from_title: here,
            to_title: state_title(new, &to_state),
            event,
            case: moved,
        })
    }
}
