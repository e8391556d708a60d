//! A case: the state of one matter moving through a procedure, as the fold of its events.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use smallvec::SmallVec;

use super::command::{DocumentRef, Opening};
use super::event::{Event, EventBody, Hash256, Participants, Recorded};
use super::refusal::{Reason, ReasonKind, Refusal};
use crate::expr::{EvalContext, Type, Value, VarSlot};
use crate::model::{
    Action, Anchor, BoundPer, Meta, Place, Procedure, RuleSet, TimeRule, TimeRuleKind,
};
use crate::time::{Calendar, Period, cst_date, cst_start_of_day};

/// An event that does not fit the case it is applied to (a corrupt or foreign history).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The event belongs to another case.
    #[error("event {seq} belongs to case `{found}`, not `{expected}`")]
    WrongCase {
        /// The event's position.
        seq: u64,
        /// This case.
        expected: String,
        /// The event's case.
        found: String,
    },
    /// The event is not the next one.
    #[error("event {found} cannot follow event {}", expected.saturating_sub(1))]
    OutOfSequence {
        /// The position expected.
        expected: u64,
        /// The event's position.
        found: u64,
    },
    /// The history does not start with an opening, or has a second one.
    #[error("event {seq}: {problem}")]
    BadHistory {
        /// The event's position.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
    /// The event names a procedure version that is not loaded.
    #[error("procedure `{procedure}` version {version} is not loaded")]
    UnknownProcedure {
        /// The procedure's id.
        procedure: String,
        /// The version.
        version: u32,
    },
    /// The event names an action the procedure lacks, or its payload does not fit.
    #[error("event {seq}: {problem}")]
    Invalid {
        /// The event's position.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
}

/// One matter moving through one version of a procedure.
///
/// A case is the fold of its events: [`Case::open`] gives the first, [`Case::decide`] each
/// next one (or a [`Refusal`]), and [`Case::apply`] moves the case on. Replaying the events of
/// a case with [`Case::replay`] rebuilds it exactly.
#[derive(Debug, Clone)]
pub struct Case {
    pub(crate) procedure: Arc<Procedure>,
    pub(crate) id: Arc<str>,
    pub(crate) title: String,
    pub(crate) seq: u64,
    pub(crate) state: usize,
    /// Per track: its current state while the case is in the track's parent state and the
    /// track runs; `None` otherwise.
    pub(crate) tracks: Vec<Option<usize>>,
    pub(crate) facts: Vec<Option<Value>>,
    /// Per place (see [`Procedure::place_number`]): when the case last entered it; then per
    /// action: when it was last taken. One table, so that a case has fewer blocks to copy
    /// and to bring into the cache (see [`Case::entered_at`] and [`Case::taken_at`]).
    pub(crate) times: Vec<Option<DateTime<Utc>>>,
    /// Per document kind, a bit: whether one is on file (inline up to 64 kinds).
    pub(crate) on_file: SmallVec<[u64; 1]>,
    pub(crate) opened_at: DateTime<Utc>,
    pub(crate) last_at: DateTime<Utc>,
    pub(crate) head: Hash256,
    /// Per place some time rule stops its clock in ([`Procedure::stop_places`]): the
    /// intervals the case spent there, the last one open while it is there.
    pub(crate) stopped: Vec<Vec<Interval>>,
    /// Per payload field a time rule reads ([`Procedure::kept_payload`]): its value at the
    /// latest taking of its action.
    pub(crate) kept: Vec<Option<Value>>,
    /// Per action, when some action of the procedure has `max_times` (else empty): how many
    /// times it was taken in the case, and since the case last entered a state it is taken in.
    pub(crate) counts: Vec<(u32, u32)>,
}

/// A stretch of time spent in a place: entered, and left (`None` while still there).
pub(crate) type Interval = (DateTime<Utc>, Option<DateTime<Utc>>);

/// A closed stretch of time during which a clock was stopped: from, to.
pub(crate) type Stretch = (DateTime<Utc>, DateTime<Utc>);

impl PartialEq for Case {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.procedure, &other.procedure)
            && self.id == other.id
            && self.title == other.title
            && self.seq == other.seq
            && self.state == other.state
            && self.tracks == other.tracks
            && self.facts == other.facts
            && self.times == other.times
            && self.on_file == other.on_file
            && self.opened_at == other.opened_at
            && self.last_at == other.last_at
            && self.head == other.head
            && self.stopped == other.stopped
            && self.kept == other.kept
            && self.counts == other.counts
    }
}

/// What guards read while a command is decided or an event applied.
pub(crate) struct Ctx<'a> {
    pub(crate) case: &'a Case,
    pub(crate) payload: &'a [Option<Value>],
    pub(crate) documents: &'a [DocumentRef],
    /// The command's time and the calendar, for `late(rule)` and `overdue(rule)`; `None`
    /// where an event is applied (those guards are not read there).
    pub(crate) clock: Option<(DateTime<Utc>, &'a Calendar)>,
}

impl EvalContext for Ctx<'_> {
    fn var(&self, slot: VarSlot) -> Option<&Value> {
        match slot {
            VarSlot::Fact(i) => self.case.facts.get(i)?.as_ref(),
            VarSlot::Payload(i) => self.payload.get(i)?.as_ref(),
        }
    }
    fn track_state(&self, track: usize) -> Option<usize> {
        self.case.tracks.get(track).copied().flatten()
    }
    fn track_done(&self, track: usize) -> bool {
        match self.track_state(track) {
            None => true,
            Some(s) => self
                .case
                .procedure
                .tracks
                .get(track)
                .is_some_and(|t| t.is_final(s)),
        }
    }
    fn attached(&self, document: usize) -> bool {
        let Some(kind) = self.case.procedure.documents.get(document) else {
            return false;
        };
        self.documents.iter().any(|d| d.kind == kind.meta.id)
    }
    fn on_file(&self, document: usize) -> bool {
        self.case.is_on_file(document) || self.attached(document)
    }
    fn taken(&self, action: usize) -> bool {
        self.case.taken_at(action).is_some()
    }
    fn late(&self, rule: usize) -> bool {
        self.time_state(rule).is_some_and(|s| match s.first {
            Some(t) => t >= s.due,
            None => !s.stopped && s.now >= s.due,
        })
    }
    fn overdue(&self, rule: usize) -> bool {
        let optional = self
            .case
            .procedure
            .time_rules
            .get(rule)
            .is_some_and(|r| r.optional);
        self.time_state(rule)
            .is_some_and(|s| s.first.is_none() && !s.stopped && !optional && s.now >= s.due)
    }
}

impl Ctx<'_> {
    /// For a deadline that applies and whose period has started: the first of its actions
    /// since the start (if any), its due time, the command's time, and whether its clock is
    /// stopped. Only the rule asked for is reckoned.
    fn time_state(&self, rule: usize) -> Option<TimeState> {
        let (now, calendar) = self.clock?;
        let r = self.case.procedure.time_rules.get(rule)?;
        if r.kind != TimeRuleKind::Within || r.waived(self) {
            return None;
        }
        let period = self.case.period_of(r, calendar, now)?;
        let first = r
            .actions
            .iter()
            .filter_map(|a| self.case.taken_at(*a))
            .filter(|t| *t >= period.counts_from)
            .min();
        Some(TimeState {
            first,
            due: period.due,
            now,
            stopped: period.stopped,
        })
    }
}

/// Where a deadline stands at a command's time, for `late(rule)` and `overdue(rule)`.
struct TimeState {
    /// The first of its actions since its period started.
    first: Option<DateTime<Utc>>,
    /// Its due time.
    due: DateTime<Utc>,
    /// The command's time.
    now: DateTime<Utc>,
    /// Whether its clock is stopped.
    stopped: bool,
}

/// How many decoded fields (of a payload or the facts) are kept on the stack.
pub(crate) const INLINE_FIELDS: usize = 8;

/// Decoded fields, by index in their declaration.
pub(crate) type Fields = SmallVec<[Option<Value>; INLINE_FIELDS]>;

/// Reads a JSON object against a list of typed fields. Unknown fields, missing required
/// ones and values of the wrong type are reasons; `prefix` names them (`payload.` or `facts.`).
///
/// Only the fields for which `keep` is true are decoded into values (the ones some guard or
/// assignment will read); the others are only checked, which spares an allocation per text.
/// Up to [`INLINE_FIELDS`] values are kept without allocating.
pub(crate) fn decode_fields<'f>(
    fields: impl ExactSizeIterator<Item = (&'f Meta, &'f Type, bool)> + Clone,
    json: &serde_json::Value,
    prefix: &str,
    keep: impl Fn(usize) -> bool,
    reasons: &mut Vec<Reason>,
) -> Fields {
    let mut out: Fields = smallvec::smallvec![None; fields.len()];
    let empty = serde_json::Map::new();
    let obj = match json {
        serde_json::Value::Object(o) => o,
        serde_json::Value::Null => &empty,
        other => {
            let mut r = Reason::new(
                ReasonKind::PayloadInvalid,
                format!(
                    "`{}`须为JSON对象，实为{}",
                    prefix.trim_end_matches('.'),
                    json_kind_zh(other)
                ),
                format!(
                    "`{}` must be a JSON object, found {}",
                    prefix.trim_end_matches('.'),
                    json_kind(other)
                ),
            );
            r.field = Some(prefix.trim_end_matches('.').to_owned());
            reasons.push(r);
            return out;
        }
    };
    // Which fields were given (present and not `null`), to find the required ones missing
    // without searching the object again.
    let mut given: SmallVec<[bool; INLINE_FIELDS]> = smallvec::smallvec![false; fields.len()];
    for (key, value) in obj {
        let Some((i, (meta, ty, _))) = fields
            .clone()
            .enumerate()
            .find(|(_, (m, _, _))| m.id == *key)
        else {
            let near = crate::load::closest(key, fields.clone().map(|(m, _, _)| m.id.as_str()))
                .and_then(|id| fields.clone().find(|(m, _, _)| m.id == id))
                .map(|(m, _, _)| m);
            let mut r = Reason::new(
                ReasonKind::PayloadInvalid,
                format!(
                    "没有`{prefix}{key}`这一字段{}",
                    near.map(|m| format!("（是否指{}？）", crate::lang::zh(m)))
                        .unwrap_or_default()
                ),
                format!(
                    "unknown field `{prefix}{key}`{}",
                    near.map(|m| format!(" (did you mean `{}`?)", m.id))
                        .unwrap_or_default()
                ),
            );
            r.field = Some(format!("{prefix}{key}"));
            reasons.push(r);
            continue;
        };
        if value.is_null() {
            continue;
        }
        if let Some(g) = given.get_mut(i) {
            *g = true;
        }
        if !keep(i) && *ty == Type::Text && value.is_string() {
            continue;
        }
        match Value::from_json(ty, value) {
            Ok(_) if !keep(i) => {}
            Ok(v) => {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(v);
                }
            }
            Err(e) => {
                let mut r = Reason::new(
                    ReasonKind::PayloadInvalid,
                    format!("{}的值无效：须为{}", crate::lang::zh(meta), type_zh(ty)),
                    format!("`{prefix}{key}`: {e}"),
                );
                r.field = Some(format!("{prefix}{key}"));
                reasons.push(r);
            }
        }
    }
    for ((meta, _, required), given) in fields.zip(given) {
        // Absent or `null`: not given. (A value of the wrong type was reported above.)
        if required && !given {
            let id = &meta.id;
            let mut r = Reason::new(
                ReasonKind::PayloadInvalid,
                format!("须填写{}", crate::lang::zh(meta)),
                format!("`{prefix}{id}` is required"),
            );
            r.field = Some(format!("{prefix}{id}"));
            reasons.push(r);
        }
    }
    out
}

fn json_kind_zh(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "空值",
        serde_json::Value::Bool(_) => "布尔值",
        serde_json::Value::Number(_) => "数字",
        serde_json::Value::String(_) => "字符串",
        serde_json::Value::Array(_) => "数组",
        serde_json::Value::Object(_) => "对象",
    }
}

/// What a value of a type is, in Chinese: `整数`, `以下之一：a、b`.
fn type_zh(ty: &Type) -> String {
    match ty {
        Type::Bool => "是或否（true 或 false）".to_owned(),
        Type::Integer => "整数".to_owned(),
        Type::Amount => "金额（如 3000.50）".to_owned(),
        Type::Text => "文本".to_owned(),
        Type::Date => "日期（如 2025-10-08）".to_owned(),
        Type::Enum(values) | Type::TrackState(_, values) => {
            format!("以下之一：{}", values.join("、"))
        }
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A document digest is 64 lowercase hex digits.
pub(crate) fn valid_digest(s: &str) -> bool {
    s.len() == 64 && all_lower_hex(s.as_bytes())
}

/// Whether every byte is a lowercase hex digit. Branch-free over the bytes, so that the
/// compiler checks many at once.
pub(crate) fn all_lower_hex(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| {
        ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6))
    })
}

/// The most principals an opening may name as participants, in all roles.
pub const MAX_PARTICIPANTS: usize = 64;

/// The longest principal id an opening may name, in bytes.
pub const MAX_PRINCIPAL_ID: usize = 128;

/// Checks the participants an opening names: known roles, bounded, well-formed ids, none
/// twice under one role. Each problem is a reason located at `participants.ROLE` or
/// `participants.ROLE[i]`.
fn check_participants(p: &Procedure, participants: &Participants, reasons: &mut Vec<Reason>) {
    let mut push = |field: String, zh: String, en: String| {
        let mut r = Reason::new(ReasonKind::PayloadInvalid, zh, en);
        r.field = Some(field);
        reasons.push(r);
    };
    let count: usize = participants.values().map(Vec::len).sum();
    if count > MAX_PARTICIPANTS {
        push(
            "participants".into(),
            format!("立案时至多列明{MAX_PARTICIPANTS}名参与人，实际列明{count}名"),
            format!(
                "an opening names at most {MAX_PARTICIPANTS} participants; this one names {count}"
            ),
        );
    }
    for (role, names) in participants {
        if p.role(role).is_none() {
            let known: Vec<&str> = p.roles().map(|r| r.id()).collect();
            push(
                format!("participants.{role}"),
                format!(
                    "程序{}没有`{role}`这一角色；可用角色：{}",
                    crate::lang::zh(&p.meta),
                    known.join("、")
                ),
                format!(
                    "procedure `{}` has no role `{role}`; its roles: {}",
                    p.meta.id,
                    known.join(", ")
                ),
            );
            continue;
        }
        if names.is_empty() {
            push(
                format!("participants.{role}"),
                format!("角色`{role}`下未列明任何参与人：请列明至少一人，或删去该角色"),
                format!(
                    "role `{role}` names no participant: name at least one, or leave the role out"
                ),
            );
        }
        for (i, name) in names.iter().enumerate() {
            let field = format!("participants.{role}[{i}]");
            if name.is_empty()
                || name.len() > MAX_PRINCIPAL_ID
                || name.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                push(
                    field,
                    format!(
                        "参与人标识须为1至{MAX_PRINCIPAL_ID}字节、不含空白或控制字符的主体标识"
                    ),
                    format!(
                        "a participant is a principal id of 1 to {MAX_PRINCIPAL_ID} bytes without spaces or control characters"
                    ),
                );
            } else if names.iter().take(i).any(|n| n == name) {
                push(
                    field,
                    format!("`{name}`在角色`{role}`下重复列明：请删去重复项"),
                    format!("`{name}` is named twice under role `{role}`: leave one out"),
                );
            }
        }
    }
}

impl Case {
    /// Opens a case on a procedure: validates the initial facts (every required fact given,
    /// no unknown fact, each of its declared type) and gives the first event.
    pub fn open(procedure: &Arc<Procedure>, opening: Opening) -> Result<(Case, Event), Refusal> {
        Case::open_naming(procedure, opening, Participants::new())
    }

    /// Opens a case as [`Case::open`] does, naming who else takes part in it
    /// (`participants`: principal ids by the procedure role each holds in the case), recorded
    /// in the opening event. Each role must be one of the procedure's; at most
    /// [`MAX_PARTICIPANTS`] names in all, each 1 to [`MAX_PRINCIPAL_ID`] bytes without
    /// spaces or control characters, none twice under one role.
    pub fn open_naming(
        procedure: &Arc<Procedure>,
        opening: Opening,
        participants: Participants,
    ) -> Result<(Case, Event), Refusal> {
        let mut reasons = Vec::new();
        let p = procedure.as_ref();
        decode_fields(
            p.facts.iter().map(|f| (&f.meta, &f.ty, f.required)),
            &opening.facts,
            "facts.",
            |_| true,
            &mut reasons,
        );
        check_participants(p, &participants, &mut reasons);
        if opening.case.is_empty() {
            let mut r = Reason::new(
                ReasonKind::PayloadInvalid,
                "案件须有编号",
                "the case needs an id",
            );
            r.field = Some("case".into());
            reasons.push(r);
        }
        if !reasons.is_empty() {
            super::refusal::finish_all(&mut reasons);
            return Err(Refusal {
                action: "open".into(),
                reasons,
            });
        }
        let event = Event {
            case: opening.case.into(),
            seq: 0,
            body: EventBody::Opened {
                procedure: p.meta.id.clone(),
                version: p.version,
                title: opening.title,
                facts: opening.facts,
                participants,
            },
            actor: opening.actor,
            at: opening.at,
            imported: opening.imported,
            prev_hash: Hash256::GENESIS,
        };
        let case = Case::from_opening(procedure.clone(), &event).map_err(|e| Refusal {
            action: "open".into(),
            reasons: vec![{
                let mut r = Reason::new(
                    ReasonKind::PayloadInvalid,
                    format!("无法立案：{e}"),
                    e.to_string(),
                );
                r.finish();
                r
            }],
        })?;
        Ok((case, event))
    }

    /// The case as it is right after its opening event (not yet hashed: see [`Case::record`]).
    fn from_opening(procedure: Arc<Procedure>, event: &Event) -> Result<Case, ApplyError> {
        let EventBody::Opened { title, facts, .. } = &event.body else {
            return Err(ApplyError::BadHistory {
                seq: event.seq,
                problem: "a case's history must start with its opening".into(),
            });
        };
        if event.seq != 0 {
            return Err(ApplyError::OutOfSequence {
                expected: 0,
                found: event.seq,
            });
        }
        let p = procedure.as_ref();
        let mut reasons = Vec::new();
        let given = decode_fields(
            p.facts.iter().map(|f| (&f.meta, &f.ty, f.required)),
            facts,
            "facts.",
            |_| true,
            &mut reasons,
        );
        if let Some(r) = reasons.first() {
            return Err(ApplyError::Invalid {
                seq: 0,
                problem: r.message_en.clone(),
            });
        }
        let facts = given
            .into_iter()
            .zip(&p.facts)
            .map(|(v, f)| v.or_else(|| f.default.clone()))
            .collect();
        let mut case = Case {
            id: event.case.clone(),
            title: title.clone(),
            seq: 1,
            state: p.initial,
            tracks: vec![None; p.tracks.len()],
            facts,
            times: vec![None; p.place_count() + p.actions.len()],
            on_file: smallvec::smallvec![0; p.documents.len().div_ceil(64)],
            opened_at: event.at,
            last_at: event.at,
            head: Hash256::GENESIS,
            stopped: vec![Vec::new(); p.stop_places.len()],
            kept: vec![None; p.kept_payload.len()],
            counts: if p.actions.iter().any(|a| a.max_times.is_some()) {
                vec![(0, 0); p.actions.len()]
            } else {
                Vec::new()
            },
            procedure: procedure.clone(),
        };
        case.enter(&procedure, procedure.initial, event.at, &[], &[]);
        case.note_stops(&procedure, event.at);
        Ok(case)
    }

    /// Enters a main state: records the time and starts its tracks (those whose condition
    /// holds now).
    fn enter(
        &mut self,
        procedure: &Procedure,
        state: usize,
        at: DateTime<Utc>,
        payload: &[Option<Value>],
        documents: &[DocumentRef],
    ) {
        for t in self.tracks.iter_mut() {
            *t = None;
        }
        self.state = state;
        self.set_entered(state, at);
        let Some(s) = procedure.states.get(state) else {
            return;
        };
        for &ti in &s.tracks {
            let Some(track) = procedure.tracks.get(ti) else {
                continue;
            };
            let active = match &track.active_if {
                None => true,
                Some(cond) => cond.holds(&Ctx {
                    case: self,
                    payload,
                    documents,
                    clock: None,
                }),
            };
            if active {
                if let Some(slot) = self.tracks.get_mut(ti) {
                    *slot = Some(track.initial);
                }
                let n = procedure.place_number(Place::Track {
                    track: ti,
                    state: track.initial,
                });
                self.set_entered(n, at);
            }
        }
    }

    /// When the case last entered a place, by [`Procedure::place_number`].
    pub(crate) fn entered_at(&self, place: usize) -> Option<DateTime<Utc>> {
        if place >= self.procedure.place_count() {
            return None;
        }
        self.times.get(place).copied().flatten()
    }

    fn set_entered(&mut self, place: usize, at: DateTime<Utc>) {
        if place < self.procedure.place_count()
            && let Some(e) = self.times.get_mut(place)
        {
            *e = Some(at);
        }
        if !self.counts.is_empty() {
            // Entering a state starts again the count of the actions bounded per entry of it.
            let p = self.procedure.clone();
            for (a, c) in p.actions.iter().zip(self.counts.iter_mut()) {
                if a.max_times
                    .as_ref()
                    .is_some_and(|b| b.per == BoundPer::Entry)
                    && a.from.iter().any(|f| p.place_number(*f) == place)
                {
                    c.1 = 0;
                }
            }
        }
    }

    /// How many times an action was taken: in the case, or since the case last entered a
    /// state it is taken in.
    pub(crate) fn times_taken(&self, action: usize, per: BoundPer) -> u32 {
        self.counts
            .get(action)
            .map_or(0, |(all, since_entry)| match per {
                BoundPer::Case => *all,
                BoundPer::Entry => *since_entry,
            })
    }

    /// Whether a guard over the case (facts, tracks, history) holds now: no payload, no clock.
    pub(crate) fn holds(&self, guard: &crate::expr::Expr) -> bool {
        guard.holds(&Ctx {
            case: self,
            payload: &[],
            documents: &[],
            clock: None,
        })
    }

    /// When an action was last taken.
    pub(crate) fn taken_at(&self, action: usize) -> Option<DateTime<Utc>> {
        if action >= self.procedure.actions.len() {
            return None;
        }
        let i = self.procedure.place_count().checked_add(action)?;
        self.times.get(i).copied().flatten()
    }

    fn set_taken(&mut self, action: usize, at: DateTime<Utc>) {
        if action < self.procedure.actions.len()
            && let Some(i) = self.procedure.place_count().checked_add(action)
            && let Some(t) = self.times.get_mut(i)
        {
            *t = Some(at);
        }
    }

    /// Whether a document of a kind is on file.
    pub(crate) fn is_on_file(&self, document: usize) -> bool {
        self.on_file
            .get(document / 64)
            .is_some_and(|w| w & (1 << (document % 64)) != 0)
    }

    fn set_on_file(&mut self, document: usize) {
        if document < self.procedure.documents.len()
            && let Some(w) = self.on_file.get_mut(document / 64)
        {
            *w |= 1 << (document % 64);
        }
    }

    /// Moves the case on by one event. The event must be the next one of this case; it is
    /// applied as recorded, without deciding again (use [`Case::decide`] to check a command).
    pub fn apply(&mut self, event: &Event) -> Result<(), ApplyError> {
        if event.case != self.id {
            return Err(ApplyError::WrongCase {
                seq: event.seq,
                expected: self.id.to_string(),
                found: event.case.to_string(),
            });
        }
        if event.seq != self.seq {
            return Err(ApplyError::OutOfSequence {
                expected: self.seq,
                found: event.seq,
            });
        }
        let EventBody::Action {
            action,
            payload,
            documents,
            ..
        } = &event.body
        else {
            let problem = if matches!(event.body, EventBody::Migrated { .. }) {
                "a migration is applied with the rule set that holds its new version (`Case::apply_in`)"
            } else {
                "a case is opened only once"
            };
            return Err(ApplyError::BadHistory {
                seq: event.seq,
                problem: problem.into(),
            });
        };
        let procedure = self.procedure.clone();
        let Some((ai, a)) = procedure.find_action(action) else {
            return Err(ApplyError::Invalid {
                seq: event.seq,
                problem: format!(
                    "procedure `{}` version {} has no action `{action}`",
                    procedure.meta.id, procedure.version
                ),
            });
        };
        let mut reasons = Vec::new();
        // Only what `sets` reads is decoded; an action that sets nothing from its payload
        // decodes nothing (the payload was checked when the command was decided).
        let values = if a.payload_in_sets.iter().any(|k| *k) {
            decode_fields(
                a.payload.iter().map(|f| (&f.meta, &f.ty, false)),
                payload,
                "payload.",
                |i| a.payload_in_sets.get(i).copied().unwrap_or(true),
                &mut reasons,
            )
        } else {
            Fields::new()
        };
        if let Some(r) = reasons.first() {
            return Err(ApplyError::Invalid {
                seq: event.seq,
                problem: r.message_en.clone(),
            });
        }
        let kinds = documents
            .iter()
            .filter_map(|d| procedure.document_index(&d.kind));
        self.apply_action(&procedure, ai, a, &values, documents, kinds, event.at);
        self.seq += 1;
        self.last_at = event.at;
        Ok(())
    }

    /// Applies an allowed action: `kinds` are the kinds of the attached `documents`.
    #[expect(
        clippy::too_many_arguments,
        reason = "one private helper with the event's parts"
    )]
    pub(crate) fn apply_action(
        &mut self,
        p: &Procedure,
        ai: usize,
        a: &Action,
        payload: &[Option<Value>],
        documents: &[DocumentRef],
        kinds: impl IntoIterator<Item = usize>,
        at: DateTime<Utc>,
    ) {
        // Facts are set from the values before the action, all at once; one by one when no
        // `sets` expression reads a fact the action sets (the same, without a buffer).
        if a.sets_one_by_one {
            for (f, e) in &a.sets {
                let v = e.eval(&Ctx {
                    case: self,
                    payload,
                    documents,
                    clock: None,
                });
                if let Some(slot) = self.facts.get_mut(*f) {
                    *slot = v;
                }
            }
        } else if !a.sets.is_empty() {
            let ctx = Ctx {
                case: self,
                payload,
                documents,
                clock: None,
            };
            let new: SmallVec<[(usize, Option<Value>); INLINE_FIELDS]> =
                a.sets.iter().map(|(f, e)| (*f, e.eval(&ctx))).collect();
            for (f, v) in new {
                if let Some(slot) = self.facts.get_mut(f) {
                    *slot = v;
                }
            }
        }
        for i in kinds {
            self.set_on_file(i);
        }
        self.set_taken(ai, at);
        if let Some((all, since_entry)) = self.counts.get_mut(ai) {
            *all = all.saturating_add(1);
            *since_entry = since_entry.saturating_add(1);
        }
        match a.to {
            Some(Place::State(s)) => self.enter(p, s, at, payload, documents),
            Some(place @ Place::Track { track, state }) => {
                if let Some(slot) = self.tracks.get_mut(track) {
                    *slot = Some(state);
                }
                self.set_entered(p.place_number(place), at);
            }
            None => {}
        }
        if !p.kept_payload.is_empty() {
            for ((a, f), slot) in p.kept_payload.iter().zip(self.kept.iter_mut()) {
                if *a == ai {
                    *slot = payload.get(*f).cloned().flatten();
                }
            }
        }
        self.note_stops(p, at);
    }

    /// Opens or closes the intervals spent in the places where clocks stop, after the case
    /// has moved at `at`.
    pub(crate) fn note_stops(&mut self, p: &Procedure, at: DateTime<Utc>) {
        for (i, place) in p.stop_places.iter().enumerate() {
            let here = self.at_place(*place);
            let Some(intervals) = self.stopped.get_mut(i) else {
                continue;
            };
            match intervals.last_mut() {
                Some((_, end @ None)) if !here => *end = Some(at),
                Some((_, None)) => {}
                _ if here => intervals.push((at, None)),
                _ => {}
            }
        }
    }

    /// Applies an event and adds it to the hash chain: sets its `prev_hash` to the case's head,
    /// serialises it, hashes the bytes, and makes that the new head. This is what a store
    /// appends.
    pub fn record(&mut self, mut event: Event) -> Result<Recorded, ApplyError> {
        event.prev_hash = self.head;
        if event.seq == 0 {
            return Err(ApplyError::BadHistory {
                seq: 0,
                problem: "record the opening with `Case::open_recorded`".into(),
            });
        }
        self.apply(&event)?;
        let recorded = Recorded::new(event);
        self.head = recorded.hash;
        Ok(recorded)
    }

    /// Opens a case and records its opening event in the hash chain.
    pub fn open_recorded(
        procedure: &Arc<Procedure>,
        opening: Opening,
    ) -> Result<(Case, Recorded), Refusal> {
        Case::open_recorded_naming(procedure, opening, Participants::new())
    }

    /// Opens a case naming its participants ([`Case::open_naming`]) and records its opening
    /// event in the hash chain.
    pub fn open_recorded_naming(
        procedure: &Arc<Procedure>,
        opening: Opening,
        participants: Participants,
    ) -> Result<(Case, Recorded), Refusal> {
        let (mut case, event) = Case::open_naming(procedure, opening, participants)?;
        let recorded = Recorded::new(event);
        case.head = recorded.hash;
        Ok((case, recorded))
    }

    /// Rebuilds a case from its history, on the procedure version its opening names. The head
    /// is the hash of the last event's bytes ([`Event::to_bytes`]).
    pub fn replay<'e>(
        rules: &RuleSet,
        events: impl IntoIterator<Item = &'e Event>,
    ) -> Result<Case, ApplyError> {
        let mut events = events.into_iter();
        let Some(first) = events.next() else {
            return Err(ApplyError::BadHistory {
                seq: 0,
                problem: "the history is empty".into(),
            });
        };
        let EventBody::Opened {
            procedure, version, ..
        } = &first.body
        else {
            return Err(ApplyError::BadHistory {
                seq: first.seq,
                problem: "a case's history must start with its opening".into(),
            });
        };
        let Some(p) = rules.get(procedure, Some(*version)) else {
            return Err(ApplyError::UnknownProcedure {
                procedure: procedure.clone(),
                version: *version,
            });
        };
        let mut case = Case::from_opening(p.clone(), first)?;
        case.head = Hash256::of(&first.to_bytes());
        for e in events {
            case.apply_in(rules, e)?;
            case.head = Hash256::of(&e.to_bytes());
        }
        Ok(case)
    }

    /// Moves the case on by one event as [`Case::apply`] does; a migration event
    /// ([`EventBody::Migrated`]) moves it onto the new version, which `rules` must hold.
    pub fn apply_in(&mut self, rules: &RuleSet, event: &Event) -> Result<(), ApplyError> {
        if let EventBody::Migrated {
            procedure,
            to_version,
            ..
        } = &event.body
        {
            let Some(p) = rules.get(procedure, Some(*to_version)) else {
                return Err(ApplyError::UnknownProcedure {
                    procedure: procedure.clone(),
                    version: *to_version,
                });
            };
            *self = super::migrated::migrated(self, p, event)?;
            return Ok(());
        }
        self.apply(event)
    }

    /// Records a migration event onto `procedure` (the version it names): applies it, sets
    /// its `prev_hash`, serialises and hashes it, as [`Case::record`] does for an action.
    pub fn record_migration(
        &mut self,
        procedure: &Arc<Procedure>,
        mut event: Event,
    ) -> Result<Recorded, ApplyError> {
        event.prev_hash = self.head;
        let next = super::migrated::migrated(self, procedure, &event)?;
        let recorded = Recorded::new(event);
        *self = next;
        self.head = recorded.hash;
        Ok(recorded)
    }

    /// The case's id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The procedure version the case runs on.
    pub fn procedure(&self) -> &Arc<Procedure> {
        &self.procedure
    }
    /// How many events the case has; the `seq` of the next one.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// The current main state's id.
    pub fn state(&self) -> &str {
        self.procedure
            .states
            .get(self.state)
            .map_or("", |s| s.meta.id.as_str())
    }
    /// Whether the case has reached a terminal state.
    pub fn is_closed(&self) -> bool {
        self.procedure.is_terminal(self.state)
    }
    /// The state of each running track: `(track, state)`.
    pub fn track_states(&self) -> Vec<(&str, &str)> {
        self.tracks
            .iter()
            .enumerate()
            .filter_map(|(ti, s)| {
                let t = self.procedure.tracks.get(ti)?;
                let st = t.states.get((*s)?)?;
                Some((t.meta.id.as_str(), st.id.as_str()))
            })
            .collect()
    }
    /// A fact's value, rendered as JSON; `None` when it is unset or unknown.
    pub fn fact(&self, id: &str) -> Option<serde_json::Value> {
        let (i, f) = self.procedure.find_fact(id)?;
        self.facts.get(i)?.as_ref().map(|v| v.to_json(&f.ty))
    }
    /// The hash of the last recorded event ([`GENESIS`](super::GENESIS) before any).
    pub fn head(&self) -> &str {
        self.head.as_str()
    }
    /// When the case was opened.
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }
    /// When its last event happened.
    pub fn last_at(&self) -> DateTime<Utc> {
        self.last_at
    }

    /// When an anchor happened, if it has.
    pub(crate) fn anchor_time(
        &self,
        anchor: Anchor,
        calendar: &Calendar,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match anchor {
            Anchor::Due(r) => {
                let rule = self.procedure.time_rules.get(r)?;
                let period = self.period_of(rule, calendar, now)?;
                period.last_day.map(cst_start_of_day)
            }
            Anchor::Action(a) => self.taken_at(a),
            Anchor::Entered(p) => self.entered_at(self.procedure.place_number(p)),
            Anchor::Date(f) => match self.facts.get(f)? {
                Some(Value::Date(d)) => Some(cst_start_of_day(*d)),
                _ => None,
            },
            Anchor::PayloadDate(k) => match self.kept.get(k)? {
                Some(Value::Date(d)) => Some(cst_start_of_day(*d)),
                _ => None,
            },
        }
    }

    /// When a time rule's period starts: the latest of its anchors that has happened, and
    /// which one it is; `None` when none has.
    pub(crate) fn start_of(
        &self,
        rule: &TimeRule,
        calendar: &Calendar,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, Anchor)> {
        rule.after
            .iter()
            .filter_map(|a| Some((self.anchor_time(*a, calendar, now)?, *a)))
            .max_by_key(|(t, _)| *t)
    }

    /// The stretches after `from` during which a rule's clock was stopped, merged and in
    /// order; one still running is taken to end at `now`.
    fn stops_of(
        &self,
        rule: &TimeRule,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (Vec<Stretch>, bool) {
        let mut out: Vec<Stretch> = Vec::new();
        let mut open = false;
        for i in &rule.stops {
            for (b, e) in self.stopped.get(*i).map_or(&[][..], Vec::as_slice) {
                open |= e.is_none();
                let e = e.unwrap_or(now).max(*b);
                if e > from {
                    out.push(((*b).max(from), e));
                }
            }
        }
        out.sort_unstable();
        let mut merged: Vec<Stretch> = Vec::with_capacity(out.len());
        for (b, e) in out {
            match merged.last_mut() {
                Some((_, end)) if b <= *end => *end = (*end).max(e),
                _ => merged.push((b, e)),
            }
        }
        (merged, open)
    }

    /// When a time rule's period started, and when it ends (for a minimum: from when its
    /// actions are allowed), with the time its clock was stopped left out and a deadline's
    /// extension applied once it has been granted. `now` closes a stop still running.
    pub(crate) fn period_of(
        &self,
        rule: &TimeRule,
        calendar: &Calendar,
        now: DateTime<Utc>,
    ) -> Option<RulePeriod> {
        let (from, anchor) = self.start_of(rule, calendar, now)?;
        let counts_from = match anchor {
            Anchor::Date(_) => self.opened_at.min(from),
            Anchor::PayloadDate(k) => self
                .procedure
                .kept_payload
                .get(k)
                .and_then(|(a, _)| self.taken_at(*a))
                .map_or(from, |t| t.min(from)),
            Anchor::Due(_) | Anchor::Action(_) | Anchor::Entered(_) => from,
        };
        Some(match rule.kind {
            TimeRuleKind::AtLeast => {
                let e = calendar.earliest(from, rule.period);
                RulePeriod {
                    from,
                    counts_from: from,
                    anchor,
                    due: e.value,
                    last_day: None,
                    provisional: e.provisional,
                    extended: false,
                    stopped: false,
                }
            }
            TimeRuleKind::Within => {
                let (stops, open) = if rule.stops.is_empty() {
                    (Vec::new(), false)
                } else {
                    self.stops_of(rule, from, now)
                };
                let d = run_deadline(calendar, from, rule.period, &stops);
                let extending = rule
                    .extended_by
                    .iter()
                    .filter_map(|a| Some((self.taken_at(*a)?, *a)))
                    .filter(|(t, _)| *t >= from)
                    .max_by_key(|(t, _)| *t);
                let granted = rule.extension.is_some() && extending.is_some();
                let (due, provisional) = match (rule.extension, extending) {
                    (Some(ext), Some((_, by))) => {
                        let length = self.extension_length(rule, by).unwrap_or(ext);
                        let later: Vec<_> = stops
                            .iter()
                            .copied()
                            .filter(|(b, _)| *b >= d.value.at)
                            .collect();
                        let e = run_deadline(
                            calendar,
                            cst_start_of_day(d.value.last_day),
                            length,
                            &later,
                        );
                        (e.value, d.provisional || e.provisional)
                    }
                    _ => (d.value, d.provisional),
                };
                let last_day = (!matches!(rule.period, Period::Hours(_))).then_some(due.last_day);
                RulePeriod {
                    from,
                    counts_from,
                    anchor,
                    due: due.at,
                    last_day,
                    provisional,
                    extended: granted,
                    stopped: open,
                }
            }
        })
    }

    /// The length of an extension granted by action `by`, when the rule takes it from the
    /// payload (`extension_from`): the value at its latest taking, in the unit of `extension`.
    fn extension_length(&self, rule: &TimeRule, by: usize) -> Option<Period> {
        let ext = rule.extension?;
        let (_, k) = rule.extension_from.iter().find(|(a, _)| *a == by)?;
        let Some(Value::Integer(n)) = self.kept.get(*k)? else {
            return None;
        };
        let n = u32::try_from(*n).ok()?;
        Some(with_length(ext, n))
    }

    /// Whether the case is at a place.
    pub(crate) fn at_place(&self, place: Place) -> bool {
        match place {
            Place::State(s) => self.state == s,
            Place::Track { track, state } => self.tracks.get(track) == Some(&Some(state)),
        }
    }

    /// The case in its stable JSON form.
    pub fn view(&self) -> CaseView {
        let p = self.procedure.as_ref();
        CaseView {
            id: self.id.to_string(),
            title: self.title.clone(),
            procedure: p.meta.id.clone(),
            procedure_version: p.version,
            seq: self.seq,
            state: self.state().to_owned(),
            closed: self.is_closed(),
            tracks: self
                .track_states()
                .into_iter()
                .map(|(t, s)| (t.to_owned(), s.to_owned()))
                .collect(),
            facts: p
                .facts
                .iter()
                .zip(&self.facts)
                .map(|(f, v)| {
                    (
                        f.meta.id.clone(),
                        v.as_ref()
                            .map_or(serde_json::Value::Null, |v| v.to_json(&f.ty)),
                    )
                })
                .collect(),
            documents: p
                .documents
                .iter()
                .enumerate()
                .filter(|(i, _)| self.is_on_file(*i))
                .map(|(_, d)| d.meta.id.clone())
                .collect(),
            opened_at: self.opened_at,
            last_at: self.last_at,
            head: self.head.to_string(),
        }
    }
}

/// A time rule's period as it runs in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RulePeriod {
    /// When it started.
    pub(crate) from: DateTime<Utc>,
    /// From when a taking of its actions counts towards it: `from`, except for a period
    /// counted from a date (a fact's or a payload's), where an act done before that date
    /// counts too, from when the date was given (the payload's action) or, for a fact, since
    /// the case opened: paying before the day a deferral fixes is paying in time.
    pub(crate) counts_from: DateTime<Utc>,
    /// The anchor it counts from (the latest of its `after` that has happened).
    pub(crate) anchor: Anchor,
    /// When it ends (a deadline), or from when its actions are allowed (a minimum).
    pub(crate) due: DateTime<Utc>,
    /// A deadline's last day, for periods counted in days or months.
    pub(crate) last_day: Option<chrono::NaiveDate>,
    /// Whether it was counted on a year the calendar does not cover.
    pub(crate) provisional: bool,
    /// Whether its extension has been granted.
    pub(crate) extended: bool,
    /// Whether its clock is stopped now (the case is in one of its `stops`).
    pub(crate) stopped: bool,
}

/// A period of the same unit with another length.
pub(crate) fn with_length(period: Period, n: u32) -> Period {
    match period {
        Period::Days(_) => Period::Days(n),
        Period::WorkingDays(_) => Period::WorkingDays(n),
        Period::Hours(_) => Period::Hours(n),
        Period::Months(_) => Period::Months(n),
    }
}

/// When a deadline of `period` counted from `start` ends when its clock stops during each of
/// `stops` (in order, not overlapping, none before `start`) and resumes for what was left.
///
/// At each stop that begins before the deadline, what is left is reckoned in the period's
/// own unit and counted again from the resumption, by the same rules as a new period:
/// days are whole (the day the clock stops counts as used, the day it resumes does not
/// count, like a start day); working days left are the working days after the stop's day
/// up to the original last day; hours are exact; months left become the calendar days
/// from the stop's day to the day the months would have ended.
pub(crate) fn run_deadline(
    calendar: &Calendar,
    start: DateTime<Utc>,
    period: Period,
    stops: &[Stretch],
) -> crate::time::Reckoned<crate::time::Due> {
    let mut from = start;
    let mut left = period;
    let mut due = calendar.deadline(from, left);
    let mut provisional = due.provisional;
    for &(b, e) in stops {
        let b = b.max(from);
        if e <= b {
            continue;
        }
        if b >= due.value.at {
            break;
        }
        let (from_day, stop_day) = (cst_date(from), cst_date(b));
        left = match left {
            Period::Hours(_) => {
                let at = due.value.at + (e - b);
                let day = cst_date(at);
                let last_day = if cst_start_of_day(day) == at {
                    day.pred_opt().unwrap_or(day)
                } else {
                    day
                };
                due = crate::time::Reckoned {
                    value: crate::time::Due { last_day, at },
                    provisional,
                };
                from = e;
                continue;
            }
            Period::Days(n) => {
                let used = (stop_day - from_day).num_days();
                Period::Days(u32::try_from(i64::from(n) - used).unwrap_or(0))
            }
            Period::WorkingDays(n) => {
                let mut used = 0u32;
                let mut day = from_day;
                while day < stop_day {
                    let Some(next) = day.succ_opt() else { break };
                    day = next;
                    let w = calendar.is_working_day(day);
                    provisional |= w.provisional;
                    used += u32::from(w.value);
                }
                match n.saturating_sub(used) {
                    0 => Period::Days(0),
                    k => Period::WorkingDays(k),
                }
            }
            Period::Months(n) => {
                let end = from_day
                    .checked_add_months(chrono::Months::new(n))
                    .unwrap_or(chrono::NaiveDate::MAX);
                Period::Days(u32::try_from((end - stop_day).num_days()).unwrap_or(0))
            }
        };
        from = e;
        due = calendar.deadline(from, left);
        provisional |= due.provisional;
    }
    due.provisional = provisional;
    due
}

/// A case in its stable JSON form.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseView {
    /// The case's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The procedure's id.
    pub procedure: String,
    /// The procedure version it runs on.
    pub procedure_version: u32,
    /// How many events it has (the `expected_seq` of the next append).
    pub seq: u64,
    /// The current state.
    pub state: String,
    /// Whether it has reached a terminal state.
    pub closed: bool,
    /// Running tracks and their states.
    pub tracks: std::collections::BTreeMap<String, String>,
    /// Facts by id (`null` when unset).
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, Value>))]
    pub facts: std::collections::BTreeMap<String, serde_json::Value>,
    /// The kinds of document on file.
    pub documents: Vec<String>,
    /// When it was opened, in China time (`+08:00`).
    #[serde(serialize_with = "crate::time::china::serialize")]
    pub opened_at: DateTime<Utc>,
    /// When its last event happened, in China time (`+08:00`).
    #[serde(serialize_with = "crate::time::china::serialize")]
    pub last_at: DateTime<Utc>,
    /// The hash of its last recorded event.
    pub head: String,
}

#[cfg(test)]
mod stop_tests {
    use chrono::{DateTime, NaiveDate, Utc};

    use super::run_deadline;
    use crate::time::{Calendar, Period};

    fn cal() -> Calendar {
        let mut c = Calendar::new();
        c.add_year(
            Calendar::parse_year(include_str!("../../../../rules/calendars/2025.toml")).unwrap(),
        )
        .unwrap();
        c
    }

    fn cst(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("{s}+08:00"))
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn no_stop_is_the_plain_deadline() {
        let c = cal();
        let start = cst("2025-03-03T10:00:00");
        for p in [
            Period::Days(30),
            Period::WorkingDays(20),
            Period::Hours(48),
            Period::Months(1),
        ] {
            assert_eq!(run_deadline(&c, start, p, &[]), c.deadline(start, p));
        }
    }

    #[test]
    fn days_resume_for_what_was_left() {
        let c = cal();
        // 30 days from Mon 03-03; stopped Thu 03-13 (10 used) to Mon 03-24: 20 days after
        // 03-24 is Sun 04-13, rolled to Mon 04-14.
        let d = run_deadline(
            &c,
            cst("2025-03-03T10:00:00"),
            Period::Days(30),
            &[(cst("2025-03-13T15:00:00"), cst("2025-03-24T09:00:00"))],
        );
        assert_eq!(d.value.last_day, day("2025-04-14"));
        // A stop within one day changes nothing.
        let d = run_deadline(
            &c,
            cst("2025-03-03T10:00:00"),
            Period::Days(30),
            &[(cst("2025-03-13T09:00:00"), cst("2025-03-13T17:00:00"))],
        );
        assert_eq!(d.value.last_day, day("2025-04-02"));
        // A stop after the deadline changes nothing.
        let d = run_deadline(
            &c,
            cst("2025-03-03T10:00:00"),
            Period::Days(30),
            &[(cst("2025-04-03T09:00:00"), cst("2025-04-20T17:00:00"))],
        );
        assert_eq!(d.value.last_day, day("2025-04-02"));
    }

    #[test]
    fn two_stops_and_working_days() {
        let c = cal();
        // 10 working days from Mon 03-03: stopped Wed 03-05 (2 used) to Mon 03-10, then Wed
        // 03-12 (2 more used) to Fri 03-14: 6 left after 03-14 end Mon 03-24.
        let d = run_deadline(
            &c,
            cst("2025-03-03T10:00:00"),
            Period::WorkingDays(10),
            &[
                (cst("2025-03-05T10:00:00"), cst("2025-03-10T10:00:00")),
                (cst("2025-03-12T10:00:00"), cst("2025-03-14T10:00:00")),
            ],
        );
        assert_eq!(d.value.last_day, day("2025-03-24"));
    }

    #[test]
    fn hours_are_exact_and_months_become_days() {
        let c = cal();
        let d = run_deadline(
            &c,
            cst("2025-03-03T10:00:00"),
            Period::Hours(48),
            &[(cst("2025-03-04T10:00:00"), cst("2025-03-04T13:30:00"))],
        );
        assert_eq!(d.value.at, cst("2025-03-05T13:30:00"));
        // One month from 01-31 would end 02-28; stopped 02-10 to 02-20: 18 days left after
        // 02-20 end 03-10.
        let d = run_deadline(
            &c,
            cst("2025-01-31T10:00:00"),
            Period::Months(1),
            &[(cst("2025-02-10T10:00:00"), cst("2025-02-20T10:00:00"))],
        );
        assert_eq!(d.value.last_day, day("2025-03-10"));
    }
}
