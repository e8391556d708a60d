use std::collections::HashMap;

use serde::Serialize;

use super::Citation;
use crate::expr::{Expr, Type, Value};
use crate::time::Period;

/// What every element of a procedure carries: its id, its Chinese title, an optional
/// English title and the article it implements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meta {
    /// The id used in rule files and in the API (`legality_review`).
    pub id: String,
    /// The Chinese title (`合法性审查`). Falls back to the id when the file gives none.
    pub title: String,
    /// The English title, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_en: Option<String>,
    /// The legal basis as written (`《重大行政决策程序暂行条例》第二十五条`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The articles the basis cites, parsed and checked against `rules/laws.toml`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
}

impl Meta {
    /// A meta with an id, a title and nothing else.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        Meta {
            id: id.into(),
            title: title.into(),
            title_en: None,
            basis: None,
            citations: Vec::new(),
        }
    }
}

/// One named condition of a guard written as a table: it refuses on its own, citing its own
/// article (`notified = { if = "taken(notify_intent)", basis = "《行政处罚法》第四十四条" }`).
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    /// Id, titles and basis.
    #[serde(flatten)]
    pub meta: Meta,
    /// The condition.
    #[serde(rename = "if", serialize_with = "ser_expr")]
    pub guard: Expr,
}

/// A role that actors hold (`sponsor`: 决策承办单位).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Id, titles and basis.
    pub meta: Meta,
    /// Which cases of the procedure it reads (`reads`: all, or only those it takes part in).
    pub reads: super::Reads,
}

/// A kind of document that actions may require (`hearing_record`: 听证笔录).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Id, titles and basis.
    pub meta: Meta,
}

/// A typed case variable: given when the case opens, or set by actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// Id, titles and basis.
    pub meta: Meta,
    /// Its type.
    pub(crate) ty: Type,
    /// Whether opening a case must give it.
    pub(crate) required: bool,
    /// Its value when the case opens without it.
    pub(crate) default: Option<Value>,
    /// The Chinese titles of an enum's values (`labels`): value → title, in the order of
    /// `values`; a value without one is shown as its id.
    pub(crate) labels: Vec<(String, String)>,
}

/// A field of an action's payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// Id, titles and basis.
    #[serde(flatten)]
    pub meta: Meta,
    /// Its type.
    #[serde(serialize_with = "ser_type")]
    pub ty: Type,
    /// Whether the command must give it.
    pub required: bool,
    /// The Chinese titles of an enum's values (`labels`): value → title, in the order of
    /// `values`; a value without one is shown as its id.
    #[serde(serialize_with = "ser_labels", skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
}

impl Field {
    /// The Chinese title of one of its enum values (`labels`), if the rule file gives one.
    pub fn value_title(&self, value: &str) -> Option<&str> {
        label_of(&self.labels, value)
    }
}

/// The title of `value` among `labels`.
pub(crate) fn label_of<'a>(labels: &'a [(String, String)], value: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(v, _)| v == value)
        .map(|(_, t)| t.as_str())
}

/// A state of the procedure's main machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Id, titles and basis.
    pub meta: Meta,
    /// The tracks that run side by side while the case is in this state (indices into
    /// [`Procedure::tracks`]).
    pub(crate) tracks: Vec<usize>,
    /// Whether the procedure ends here.
    pub(crate) terminal: bool,
}

/// A parallel track inside a state: a small machine of its own.
#[derive(Debug, Clone)]
pub struct Track {
    /// Id, titles and basis.
    pub meta: Meta,
    /// The state this track runs in (index into [`Procedure::states`]).
    pub(crate) parent: usize,
    /// The track's own states.
    pub(crate) states: Vec<Meta>,
    /// The state a track starts in when its parent state is entered.
    pub(crate) initial: usize,
    /// The states in which the track is finished.
    pub(crate) finals: Vec<usize>,
    /// When present, the track runs only if this guard holds when the parent state is entered.
    pub(crate) active_if: Option<Expr>,
}

impl Track {
    /// Whether `state` is one of this track's final states.
    pub(crate) fn is_final(&self, state: usize) -> bool {
        self.finals.contains(&state)
    }
}

/// A place a case can be: a state of the main machine, or a state of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// A state of the main machine.
    State(usize),
    /// A state of a track.
    Track {
        /// The track.
        track: usize,
        /// The state within the track.
        state: usize,
    },
}

/// Whether an action needs a recorded reason.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonRule {
    /// No reason is asked for (one may still be given).
    Optional,
    /// A reason is always required.
    Required,
    /// A reason is required when this guard holds.
    RequiredWhen(#[serde(serialize_with = "ser_expr")] Expr),
}

/// One thing the law allows: an edge of the procedure's graph.
#[derive(Debug, Clone)]
pub struct Action {
    /// Id, titles and basis.
    pub meta: Meta,
    /// Where the action may be taken from. All places are of the main machine, or all of
    /// one track.
    pub(crate) from: Vec<Place>,
    /// Where it leads; `None` keeps the case where it is (a record, not a move).
    pub(crate) to: Option<Place>,
    /// The track this action moves within, when it is a track action.
    pub(crate) track: Option<usize>,
    /// The roles that may take it (indices into [`Procedure::roles`]).
    pub(crate) by: Vec<usize>,
    /// The guard, when present (the conjunction of `conditions` when the guard is a table).
    pub(crate) when: Option<Expr>,
    /// The guard's named conditions, when it is written as a table; each refuses on its own.
    pub(crate) conditions: Vec<Condition>,
    /// Kinds of document that must be attached (indices into [`Procedure::documents`]).
    pub(crate) documents: Vec<usize>,
    /// The payload schema.
    pub(crate) payload: Vec<Field>,
    /// Facts set when the action is taken: the fact's index and the value expression.
    pub(crate) sets: Vec<(usize, Expr)>,
    /// Whether a reason must be recorded.
    pub(crate) reason: ReasonRule,
    /// Kinds of document required only when a guard holds (index, guard).
    pub(crate) documents_when: Vec<(usize, Expr)>,
    /// The payload's JSON Schema ([`payload_schema`]), built once at load.
    pub(crate) payload_schema: std::sync::Arc<serde_json::Value>,
    /// Per payload field: whether a guard of the action (`when`, `reason_required`,
    /// `documents_when`) reads it, so that deciding decodes only those.
    pub(crate) payload_in_guards: Vec<bool>,
    /// Per payload field: whether `sets` reads it, so that applying decodes only those.
    pub(crate) payload_in_sets: Vec<bool>,
    /// Whether no `sets` expression reads a fact the action sets, so that the facts can be
    /// written one by one (otherwise all are computed first from the values before).
    pub(crate) sets_one_by_one: bool,
    /// How many times the action may be taken, when the law bounds it (`max_times`).
    pub max_times: Option<TimesBound>,
}

/// A bound the law sets on how often an action may be taken (`max_times`): at most `n`
/// times in a case, or each time the case enters the state the action is taken in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimesBound {
    /// The most times (at least 1).
    pub n: u32,
    /// What the count is per.
    pub per: BoundPer,
    /// Id `max_times`; the bound's own title and basis when the file gives them (a refusal
    /// cites this basis, else the action's).
    pub meta: Meta,
}

/// What a [`TimesBound`] counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundPer {
    /// Every time the action was taken in the case.
    Case,
    /// The times since the case last entered a state the action is taken in.
    Entry,
}

/// What a period is counted from: the latest time an action was taken, a place entered, or
/// the date in a date fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// The latest time this action was taken.
    Action(usize),
    /// The latest time the case entered this place.
    Entered(Place),
    /// The date held by this date fact (the period starts at the end of that day).
    Date(usize),
    /// The end of another time rule's deadline (index into [`Procedure::time_rules`]): the
    /// period starts at the end of that deadline's last day.
    Due(usize),
    /// The date in a payload field of an action, from its latest taking (index into
    /// [`Procedure::kept_payload`]): the period starts at the end of that day.
    PayloadDate(usize),
}

/// Whether a time rule is a minimum period or a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimeRuleKind {
    /// The actions may not be taken before the period has run (一般不少于 / 不得少于).
    AtLeast,
    /// One of the actions must be taken before the period ends.
    Within,
}

/// A minimum period or a deadline.
#[derive(Debug, Clone)]
pub struct TimeRule {
    /// Id, titles and basis.
    pub meta: Meta,
    /// Minimum or deadline.
    pub(crate) kind: TimeRuleKind,
    /// The length of the period.
    pub(crate) period: Period,
    /// What the period is counted from: the latest of these that has happened (at least one).
    pub(crate) after: Vec<Anchor>,
    /// The actions it restrains (at least) or expects (within).
    pub(crate) actions: Vec<usize>,
    /// When this guard holds the rule does not apply.
    pub(crate) unless: Option<Expr>,
    /// The rule applies only while this guard holds (the readable opposite of `unless`: the
    /// rule does not apply when it is false; an unknown guard leaves the rule applying).
    pub(crate) applies_if: Option<Expr>,
    /// The places (indices into [`Procedure::stop_places`]) in which the period does not run:
    /// time spent there after the period started is not counted.
    pub(crate) stops: Vec<usize>,
    /// For a minimum: it may be cut short when the command records a reason (一般不少于).
    pub(crate) below_with_reason: bool,
    /// For a deadline: an action after the deadline is refused (otherwise it is allowed and
    /// the deadline is reported overdue).
    pub(crate) strict: bool,
    /// For a deadline: it marks a right that may go unused (a request, an objection). Past
    /// due with none of its actions taken it has lapsed, and is not overdue.
    pub(crate) optional: bool,
    /// For a deadline: how much longer it runs once one of `extended_by` has been taken since
    /// the period started (counted from the end of the original last day).
    pub(crate) extension: Option<Period>,
    /// The actions that extend the deadline.
    pub(crate) extended_by: Vec<usize>,
    /// When the extension's length is given by the extending action's payload: per action of
    /// `extended_by`, the index of the kept payload value ([`Procedure::kept_payload`]) that
    /// holds it, in the unit of `extension`, which is then the maximum.
    pub(crate) extension_from: Vec<(usize, usize)>,
}

impl TimeRule {
    /// Whether the rule does not apply now: its `unless` holds, or its `applies_if` is false.
    pub(crate) fn waived<C: crate::expr::EvalContext + ?Sized>(&self, ctx: &C) -> bool {
        self.unless.as_ref().is_some_and(|u| u.holds(ctx))
            || self
                .applies_if
                .as_ref()
                .is_some_and(|a| a.eval(ctx) == Some(Value::Bool(false)))
    }
}

/// A node of the main graph an invariant can speak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// Entering a state of the main machine.
    State(usize),
    /// Taking an action of the main machine.
    Action(usize),
}

/// What an invariant states.
#[derive(Debug, Clone)]
pub enum InvariantKind {
    /// On every path, `first` happens before `then`.
    Before {
        /// What must come first.
        first: Node,
        /// What may only come after it.
        then: Node,
    },
    /// `reach` is never reached unless `only_if` holds at that moment.
    OnlyIf {
        /// The state entered or action taken.
        reach: Node,
        /// The condition.
        only_if: Expr,
    },
}

/// A statement proved on the graph at load, and so true of every case.
#[derive(Debug, Clone)]
pub struct Invariant {
    /// Id, titles and basis.
    pub meta: Meta,
    /// What it states.
    pub(crate) kind: InvariantKind,
    /// `only_if`'s named conditions, when it is written as a table.
    pub(crate) conditions: Vec<Condition>,
}

/// A verified procedure, one version of it.
#[derive(Debug, Clone)]
pub struct Procedure {
    /// Id, titles and basis.
    pub meta: Meta,
    /// Its version; a case stays on the version it was opened with.
    pub version: u32,
    /// The state a case starts in.
    pub(crate) initial: usize,
    /// Roles.
    pub(crate) roles: Vec<Role>,
    /// Document kinds.
    pub(crate) documents: Vec<Document>,
    /// Facts.
    pub(crate) facts: Vec<Fact>,
    /// States of the main machine.
    pub(crate) states: Vec<State>,
    /// Tracks.
    pub(crate) tracks: Vec<Track>,
    /// Actions.
    pub(crate) actions: Vec<Action>,
    /// Time rules.
    pub(crate) time_rules: Vec<TimeRule>,
    /// Invariants (all proved at load).
    pub(crate) invariants: Vec<Invariant>,
    /// The places some time rule stops its clock in (see [`TimeRule::stops`]); a case keeps
    /// the intervals it spent in each.
    pub(crate) stop_places: Vec<Place>,
    /// The payload fields `(action, field)` a case keeps from the latest taking of their
    /// action, because a time rule reads them (a date it counts from, an extension's length).
    pub(crate) kept_payload: Vec<(usize, usize)>,
    /// The first day this version applies to, when the file says (`valid_from`).
    pub valid_from: Option<chrono::NaiveDate>,
    /// The counters it contributes to the annual report (`[report]`), in file order.
    pub(crate) report: Vec<super::report::Counter>,
    /// The rule file it was loaded from (name and text), kept for the archive: a case's
    /// dossier carries the text of the version it ran on.
    pub(crate) source: Option<crate::load::SourceFile>,
    /// Indices by id.
    pub(crate) index: Index,
}

/// An id → index table. Its keys are the procedure's own ids, so a fast hash with a fixed
/// seed is safe (lookups never insert) and keeps the core free of global state.
pub(crate) type IdMap = HashMap<String, usize, foldhash::fast::FixedState>;

/// Lookup tables from ids to indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    pub(crate) roles: IdMap,
    pub(crate) documents: IdMap,
    pub(crate) facts: IdMap,
    pub(crate) states: IdMap,
    pub(crate) tracks: IdMap,
    pub(crate) actions: IdMap,
    /// For each track, the index of its first state in the flat place numbering, which
    /// puts the main states first and then each track's states.
    pub(crate) track_offsets: Vec<usize>,
    /// How many places there are in the flat numbering.
    pub(crate) places: usize,
}

impl Procedure {
    /// The rule file this version was loaded from: its name and its text (`None` for a
    /// procedure not built by the loader).
    pub fn source(&self) -> Option<&crate::load::SourceFile> {
        self.source.as_ref()
    }
    /// The counters this version contributes to the annual report (`[report]`).
    pub fn counters(&self) -> &[super::report::Counter] {
        &self.report
    }
    /// The Chinese title of a name an expression refers to (payload fields those of
    /// `action`), for writing guards in words ([`Expr::describe`]); `None` where it has none.
    pub(crate) fn title_of(
        &self,
        name: crate::expr::Name,
        action: Option<&Action>,
    ) -> Option<String> {
        use crate::expr::{Name, VarSlot};
        match name {
            Name::Var(VarSlot::Fact(i)) => self.facts.get(i).map(|f| f.meta.title.clone()),
            Name::Var(VarSlot::Payload(i)) => action
                .and_then(|a| a.payload.get(i))
                .map(|f| f.meta.title.clone()),
            Name::Track(i) => self.tracks.get(i).map(|t| t.meta.title.clone()),
            Name::TrackState(t, s) => self
                .tracks
                .get(t)
                .and_then(|t| t.states.get(s))
                .map(|s| s.title.clone()),
            Name::Document(i) => self.documents.get(i).map(|d| d.meta.title.clone()),
            Name::Action(i) => self.actions.get(i).map(|a| a.meta.title.clone()),
            Name::TimeRule(i) => self.time_rules.get(i).map(|r| r.meta.title.clone()),
            Name::Value(slot, v) => {
                let (ty, labels) = match slot {
                    VarSlot::Fact(i) => self.facts.get(i).map(|f| (&f.ty, &f.labels))?,
                    VarSlot::Payload(i) => action
                        .and_then(|a| a.payload.get(i))
                        .map(|f| (&f.ty, &f.labels))?,
                };
                let Type::Enum(values) = ty else {
                    return None;
                };
                label_of(labels, values.get(usize::from(v))?).map(str::to_owned)
            }
        }
    }
    /// The action with this id.
    pub(crate) fn find_action(&self, id: &str) -> Option<(usize, &Action)> {
        let i = *self.index.actions.get(id)?;
        self.actions.get(i).map(|a| (i, a))
    }
    /// The state with this id.
    pub(crate) fn find_state(&self, id: &str) -> Option<(usize, &State)> {
        let i = *self.index.states.get(id)?;
        self.states.get(i).map(|s| (i, s))
    }
    /// The fact with this id.
    pub(crate) fn find_fact(&self, id: &str) -> Option<(usize, &Fact)> {
        let i = *self.index.facts.get(id)?;
        self.facts.get(i).map(|f| (i, f))
    }
    /// The role with this id.
    pub(crate) fn role_index(&self, id: &str) -> Option<usize> {
        self.index.roles.get(id).copied()
    }
    /// The track with this id.
    pub(crate) fn find_track(&self, id: &str) -> Option<(usize, &Track)> {
        let i = *self.index.tracks.get(id)?;
        self.tracks.get(i).map(|t| (i, t))
    }
    /// The document kind with this id.
    pub(crate) fn document_index(&self, id: &str) -> Option<usize> {
        self.index.documents.get(id).copied()
    }
    /// The id of a place: `drafting`, or `participation.open` for a track state.
    pub(crate) fn place_id(&self, place: Place) -> String {
        match place {
            Place::State(s) => self
                .states
                .get(s)
                .map(|s| s.meta.id.clone())
                .unwrap_or_default(),
            Place::Track { track, state } => match self.tracks.get(track) {
                Some(t) => format!(
                    "{}.{}",
                    t.meta.id,
                    t.states
                        .get(state)
                        .map(|s| s.id.as_str())
                        .unwrap_or_default()
                ),
                None => String::new(),
            },
        }
    }
    /// The number of a place in one flat numbering of all places (main states first, then
    /// each track's states), for per-place tables in cases.
    pub(crate) fn place_number(&self, place: Place) -> usize {
        match place {
            Place::State(s) => s,
            Place::Track { track, state } => self
                .index
                .track_offsets
                .get(track)
                .map_or(usize::MAX, |o| o + state),
        }
    }
    /// How many places there are in [`Procedure::place_number`]'s numbering.
    pub(crate) fn place_count(&self) -> usize {
        self.index.places
    }
    /// The ids of a procedure's action by index (empty string when out of range).
    pub(crate) fn action_id(&self, action: usize) -> &str {
        self.actions.get(action).map_or("", |a| a.meta.id.as_str())
    }
    /// Whether a state is terminal.
    pub(crate) fn is_terminal(&self, state: usize) -> bool {
        self.states.get(state).is_some_and(|s| s.terminal)
    }
}

fn ser_type<S: serde::Serializer>(ty: &Type, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(None)?;
    m.serialize_entry("type", ty.name())?;
    if let Type::Enum(values) = ty {
        m.serialize_entry("values", &values[..])?;
    }
    m.end()
}

fn ser_labels<S: serde::Serializer>(labels: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(labels.iter().map(|(v, t)| (v, t)))
}

fn ser_expr<S: serde::Serializer>(e: &Expr, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(e.source())
}

/// Builds the id → index tables (used by the loader), given the tables of states, tracks
/// and actions it already built.
pub(crate) fn procedure_index(
    roles: &[&str],
    documents: &[&str],
    facts: &[&str],
    states: IdMap,
    tracks: IdMap,
    actions: IdMap,
    track_sizes: &[usize],
) -> Index {
    let map = |ids: &[&str]| {
        ids.iter()
            .enumerate()
            .map(|(i, s)| ((*s).to_owned(), i))
            .collect()
    };
    let mut track_offsets = Vec::with_capacity(track_sizes.len());
    let mut places = states.len();
    for n in track_sizes {
        track_offsets.push(places);
        places += n;
    }
    Index {
        track_offsets,
        places,
        roles: map(roles),
        documents: map(documents),
        facts: map(facts),
        states,
        tracks,
        actions,
    }
}

/// The JSON Schema of an action's payload, for building a form.
pub(crate) fn payload_schema(a: &Action) -> serde_json::Value {
    use serde_json::json;
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for f in &a.payload {
        let mut schema = match &f.ty {
            Type::Bool => json!({ "type": "boolean" }),
            Type::Integer => json!({ "type": "integer" }),
            Type::Amount => {
                json!({ "type": ["number", "string"], "pattern": "^-?[0-9]+(\\.[0-9]+)?$" })
            }
            Type::Text => json!({ "type": "string" }),
            Type::Date => json!({ "type": "string", "format": "date" }),
            Type::Enum(values) | Type::TrackState(_, values) => json!({ "enum": values.to_vec() }),
        };
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("title".into(), json!(f.meta.title));
            if let Some(b) = &f.meta.basis {
                obj.insert("description".into(), json!(b));
            }
        }
        properties.insert(f.meta.id.clone(), schema);
        if f.required {
            required.push(f.meta.id.clone());
        }
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}
