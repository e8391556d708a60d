//! Borrowed views of a [`Procedure`] that speak in ids and titles.
//!
//! A loaded procedure keeps its references as indices, for speed; an embedder never sees
//! them. It walks the procedure through small `Copy` views instead ([`ActionRef`],
//! [`StateRef`], [`TrackRef`], ...), each borrowed from the procedure, each with the
//! element's [`Meta`] (`id()`, `title()`, `title_en()`, `basis()`, `citations()`) and its
//! references already resolved to other views.
//!
//! Every list comes in file order, which is also the numbering the guard language uses
//! ([`crate::expr::EvalContext`]): the `i`-th of [`Procedure::facts()`] is
//! `VarSlot::Fact(i)`, the `i`-th of [`Procedure::actions()`] is `taken(i)`, and so on for
//! tracks, track states, documents and payload fields.
//!
//! ```
//! use fazhi_core::load::{load, SourceFile};
//! use fazhi_core::model::PlaceRef;
//!
//! let loaded = load(&[SourceFile::new("p.toml", r#"
//!     [procedure]
//!     id = "review"
//!     version = 1
//!     title = "合同合法性审查"
//!     initial = "submitted"
//!     terminal = ["reviewed"]
//!     [roles]
//!     reviewer = { title = "司法所" }
//!     [states]
//!     submitted = { title = "已报送" }
//!     reviewed = { title = "审查通过" }
//!     [actions.approve]
//!     title = "审查通过"
//!     from = "submitted"
//!     to = "reviewed"
//!     by = ["reviewer"]
//!     basis = "《示例合同审查办法》第八条"
//! "#)]);
//! let p = loaded.rules.get("review", None).unwrap();
//! assert_eq!(p.initial_state().id(), "submitted");
//! let approve = p.action("approve").unwrap();
//! assert_eq!(approve.title(), "审查通过");
//! assert_eq!(approve.basis(), Some("《示例合同审查办法》第八条"));
//! let roles: Vec<&str> = approve.roles().map(|r| r.title()).collect();
//! assert_eq!(roles, ["司法所"]);
//! let from: Vec<String> = approve.from().map(|place| place.id()).collect();
//! assert_eq!(from, ["submitted"]);
//! assert!(matches!(approve.to(), Some(PlaceRef::State(s)) if s.is_terminal()));
//! ```

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::procedure::{
    Action, Anchor, Document, Fact, Invariant, InvariantKind, Node, Place, Role, State, TimeRule,
    Track,
};
use super::{Citation, Condition, Field, Meta, Procedure, ReasonRule, TimeRuleKind};
use crate::expr::{Expr, Type, Value};
use crate::time::Period;

/// The accessors every named view shares, read from its [`Meta`].
macro_rules! named {
    ($t:ident, $list:ident) => {
        impl<'p> $t<'p> {
            /// The view of element `i`, when there is one.
            #[allow(dead_code, reason = "not every kind of view is reached by index")]
            pub(crate) fn at(p: &'p Procedure, i: usize) -> Option<Self> {
                p.$list.get(i).map(|item| $t { p, i, item })
            }
            /// Id, titles and basis.
            pub fn meta(&self) -> &'p Meta {
                &self.item.meta
            }
            /// The id used in rule files and in the API.
            pub fn id(&self) -> &'p str {
                &self.meta().id
            }
            /// The Chinese title (the id when the file gives none).
            pub fn title(&self) -> &'p str {
                &self.meta().title
            }
            /// The English title, when given.
            pub fn title_en(&self) -> Option<&'p str> {
                self.meta().title_en.as_deref()
            }
            /// The legal basis as written (`《行政处罚法》第四十四条`), when given.
            pub fn basis(&self) -> Option<&'p str> {
                self.meta().basis.as_deref()
            }
            /// The articles the basis cites, parsed.
            pub fn citations(&self) -> &'p [Citation] {
                &self.meta().citations
            }
        }
        impl std::fmt::Debug for $t<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($t)).field(&self.id()).finish()
            }
        }
        impl PartialEq for $t<'_> {
            fn eq(&self, other: &Self) -> bool {
                std::ptr::eq(self.p, other.p) && self.i == other.i
            }
        }
        impl Eq for $t<'_> {}
    };
}

/// A view of a role (`reviewer`: 司法所).
#[derive(Clone, Copy)]
pub struct RoleRef<'p> {
    p: &'p Procedure,
    i: usize,
    item: &'p Role,
}

named!(RoleRef, roles);

impl RoleRef<'_> {
    /// Which cases of the procedure the role reads (`reads`: all, or only those its holder
    /// takes part in).
    pub fn reads(&self) -> super::Reads {
        self.item.reads
    }
}

/// A view of a kind of document that actions may require (`hearing_record`: 听证笔录).
#[derive(Clone, Copy)]
pub struct DocumentKindRef<'p> {
    p: &'p Procedure,
    i: usize,
    item: &'p Document,
}

named!(DocumentKindRef, documents);

/// A view of a fact: a typed case variable.
#[derive(Clone, Copy)]
pub struct FactRef<'p> {
    p: &'p Procedure,
    i: usize,
    item: &'p Fact,
}

impl<'p> FactRef<'p> {
    /// Its type.
    pub fn ty(&self) -> &'p Type {
        &self.item.ty
    }
    /// Whether opening a case must give it.
    pub fn required(&self) -> bool {
        self.item.required
    }
    /// Its value when a case opens without it.
    pub fn default(&self) -> Option<&'p Value> {
        self.item.default.as_ref()
    }
    /// The Chinese title of one of its enum values (`labels`), if the rule file gives one.
    pub fn value_title(&self, value: &str) -> Option<&'p str> {
        super::procedure::label_of(&self.item.labels, value)
    }
    /// The Chinese titles of its enum values (`labels`): value → title, in the order of
    /// `values`; empty when the rule file gives none.
    pub fn labels(&self) -> &'p [(String, String)] {
        &self.item.labels
    }
}
named!(FactRef, facts);

/// A view of a state of the main machine.
#[derive(Clone, Copy)]
pub struct StateRef<'p> {
    p: &'p Procedure,
    i: usize,
    item: &'p State,
}

impl<'p> StateRef<'p> {
    /// What a view shows for a state the procedure does not hold (never for a procedure
    /// built by the loader, which checks every reference): no id, no title.
    fn none(p: &'p Procedure) -> Self {
        StateRef {
            p,
            i: usize::MAX,
            item: &NO_STATE,
        }
    }
    /// Whether the procedure ends here.
    pub fn is_terminal(&self) -> bool {
        self.item.terminal
    }
    /// Whether a case starts here.
    pub fn is_initial(&self) -> bool {
        self.p.initial == self.i
    }
    /// The tracks that run side by side while a case is in this state.
    pub fn tracks(&self) -> impl Iterator<Item = TrackRef<'p>> + 'p {
        let p = self.p;
        self.item
            .tracks
            .iter()
            .filter_map(move |&i| TrackRef::at(p, i))
    }
}
named!(StateRef, states);

/// A view of a parallel track inside a state: a small machine of its own.
#[derive(Clone, Copy)]
pub struct TrackRef<'p> {
    p: &'p Procedure,
    i: usize,
    item: &'p Track,
}

impl<'p> TrackRef<'p> {
    /// The state of the main machine this track runs in.
    pub fn parent(&self) -> StateRef<'p> {
        StateRef::at(self.p, self.item.parent).unwrap_or(StateRef::none(self.p))
    }
    /// The track's own states.
    pub fn states(&self) -> impl Iterator<Item = TrackStateRef<'p>> + 'p {
        let track = *self;
        self.item
            .states
            .iter()
            .enumerate()
            .map(move |(i, item)| TrackStateRef { track, i, item })
    }
    /// The track's state with this id.
    pub fn state(&self, id: &str) -> Option<TrackStateRef<'p>> {
        self.states().find(|s| s.id() == id)
    }
    /// The state the track starts in when its parent state is entered.
    pub fn initial(&self) -> TrackStateRef<'p> {
        self.state_at(self.item.initial).unwrap_or(TrackStateRef {
            track: *self,
            i: usize::MAX,
            item: &NO_META,
        })
    }
    /// The states in which the track is finished.
    pub fn finals(&self) -> impl Iterator<Item = TrackStateRef<'p>> + 'p {
        let track = *self;
        self.item
            .finals
            .iter()
            .filter_map(move |&i| track.state_at(i))
    }
    /// The guard under which the track runs at all (`None`: always); `source()` gives it as
    /// written.
    pub fn active_if(&self) -> Option<&'p Expr> {
        self.item.active_if.as_ref()
    }
    fn state_at(&self, i: usize) -> Option<TrackStateRef<'p>> {
        let item = self.item.states.get(i)?;
        Some(TrackStateRef {
            track: *self,
            i,
            item,
        })
    }
}
named!(TrackRef, tracks);

/// What a view shows when the procedure does not hold what it points at (never for a
/// procedure built by the loader, which checks every reference).
const EMPTY_META: Meta = Meta {
    id: String::new(),
    title: String::new(),
    title_en: None,
    basis: None,
    citations: Vec::new(),
};
static NO_META: Meta = EMPTY_META;
static NO_STATE: State = State {
    meta: EMPTY_META,
    tracks: Vec::new(),
    terminal: false,
};

/// A view of one state of a track (`participation.open`).
#[derive(Clone, Copy)]
pub struct TrackStateRef<'p> {
    track: TrackRef<'p>,
    i: usize,
    item: &'p Meta,
}

impl<'p> TrackStateRef<'p> {
    /// Id, titles and basis.
    pub fn meta(&self) -> &'p Meta {
        self.item
    }
    /// The state's id within its track (`open`).
    pub fn id(&self) -> &'p str {
        &self.item.id
    }
    /// The Chinese title (the id when the file gives none).
    pub fn title(&self) -> &'p str {
        &self.item.title
    }
    /// The English title, when given.
    pub fn title_en(&self) -> Option<&'p str> {
        self.item.title_en.as_deref()
    }
    /// The track it belongs to.
    pub fn track(&self) -> TrackRef<'p> {
        self.track
    }
    /// Whether the track is finished in this state.
    pub fn is_final(&self) -> bool {
        self.track.item.is_final(self.i)
    }
}

impl std::fmt::Debug for TrackStateRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrackStateRef({}.{})", self.track.id(), self.id())
    }
}
impl PartialEq for TrackStateRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.track == other.track && self.i == other.i
    }
}
impl Eq for TrackStateRef<'_> {}

/// A place a case can be: a state of the main machine, or a state of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceRef<'p> {
    /// A state of the main machine.
    State(StateRef<'p>),
    /// A state of a track.
    Track(TrackStateRef<'p>),
}

impl<'p> PlaceRef<'p> {
    pub(crate) fn new(p: &'p Procedure, place: Place) -> Option<Self> {
        Some(match place {
            Place::State(i) => PlaceRef::State(StateRef::at(p, i)?),
            Place::Track { track, state } => {
                PlaceRef::Track(TrackRef::at(p, track)?.state_at(state)?)
            }
        })
    }
    /// The place as the model indexes it (for the pictures).
    #[cfg(feature = "graph-svg")]
    pub(crate) fn place(&self) -> Place {
        match self {
            PlaceRef::State(s) => Place::State(s.i),
            PlaceRef::Track(t) => Place::Track {
                track: t.track.i,
                state: t.i,
            },
        }
    }
    /// The place's id as rule files write it: `drafting`, or `participation.open` for a
    /// track's state.
    pub fn id(&self) -> String {
        match self {
            PlaceRef::State(s) => s.id().to_owned(),
            PlaceRef::Track(t) => format!("{}.{}", t.track().id(), t.id()),
        }
    }
    /// The place's Chinese title: the state's, or `track：state` for a track's state.
    pub fn title(&self) -> String {
        match self {
            PlaceRef::State(s) => s.title().to_owned(),
            PlaceRef::Track(t) => format!("{}：{}", t.track().title(), t.title()),
        }
    }
}

/// A view of an action: one thing the law allows, an edge of the procedure's graph.
#[derive(Clone, Copy)]
pub struct ActionRef<'p> {
    p: &'p Procedure,
    i: usize,
    item: &'p Action,
}

impl<'p> ActionRef<'p> {
    /// How many times the action may be taken, when the law bounds it (`max_times`).
    pub fn max_times(&self) -> Option<&'p super::TimesBound> {
        self.item.max_times.as_ref()
    }

    /// Where the action may be taken from: all places of the main machine, or all of one
    /// track.
    pub fn from(&self) -> impl Iterator<Item = PlaceRef<'p>> + 'p {
        let p = self.p;
        self.item
            .from
            .iter()
            .filter_map(move |&f| PlaceRef::new(p, f))
    }
    /// Where it leads; `None` keeps the case where it is (a record, not a move).
    pub fn to(&self) -> Option<PlaceRef<'p>> {
        self.item.to.and_then(|t| PlaceRef::new(self.p, t))
    }
    /// The track it moves within, when it is a track's action.
    pub fn track(&self) -> Option<TrackRef<'p>> {
        self.item.track.and_then(|i| TrackRef::at(self.p, i))
    }
    /// The roles that may take it.
    pub fn roles(&self) -> impl Iterator<Item = RoleRef<'p>> + 'p {
        let p = self.p;
        self.item.by.iter().filter_map(move |&i| RoleRef::at(p, i))
    }
    /// The kinds of document that must always be attached.
    pub fn documents(&self) -> impl Iterator<Item = DocumentKindRef<'p>> + 'p {
        let p = self.p;
        self.item
            .documents
            .iter()
            .filter_map(move |&i| DocumentKindRef::at(p, i))
    }
    /// The kinds of document required only when a guard holds, with the guard.
    pub fn documents_when(&self) -> impl Iterator<Item = (DocumentKindRef<'p>, &'p Expr)> + 'p {
        let p = self.p;
        self.item
            .documents_when
            .iter()
            .filter_map(move |(i, e)| Some((DocumentKindRef::at(p, *i)?, e)))
    }
    /// The payload's fields.
    pub fn payload(&self) -> &'p [Field] {
        &self.item.payload
    }
    /// The payload's JSON Schema, for building a form.
    pub fn payload_schema(&self) -> &'p serde_json::Value {
        &self.item.payload_schema
    }
    /// The guard, when there is one (for a table, the conjunction of
    /// [`ActionRef::conditions`]); `source()` gives it as written.
    pub fn guard(&self) -> Option<&'p Expr> {
        self.item.when.as_ref()
    }
    /// The guard's named conditions when it is written as a table; each refuses on its own,
    /// citing its own article.
    pub fn conditions(&self) -> &'p [Condition] {
        &self.item.conditions
    }
    /// Whether the action needs a recorded reason.
    pub fn reason(&self) -> &'p ReasonRule {
        &self.item.reason
    }
    /// The facts taking it sets, each with its value expression.
    pub fn sets(&self) -> impl Iterator<Item = (FactRef<'p>, &'p Expr)> + 'p {
        let p = self.p;
        self.item
            .sets
            .iter()
            .filter_map(move |(i, e)| Some((FactRef::at(p, *i)?, e)))
    }
}
named!(ActionRef, actions);

/// What a period is counted from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnchorRef<'p> {
    /// The latest time this action was taken.
    Action(ActionRef<'p>),
    /// The latest time a case entered this place.
    Entered(PlaceRef<'p>),
    /// The date held by this date fact (the period starts at the end of that day).
    Date(FactRef<'p>),
    /// The end of another time rule's deadline.
    Due(TimeRuleRef<'p>),
    /// The date in this payload field of this action, from its latest taking.
    PayloadDate(ActionRef<'p>, &'p Field),
}

impl<'p> AnchorRef<'p> {
    fn new(p: &'p Procedure, a: Anchor) -> Option<Self> {
        Some(match a {
            Anchor::Action(i) => AnchorRef::Action(ActionRef::at(p, i)?),
            Anchor::Entered(place) => AnchorRef::Entered(PlaceRef::new(p, place)?),
            Anchor::Date(i) => AnchorRef::Date(FactRef::at(p, i)?),
            Anchor::Due(i) => AnchorRef::Due(TimeRuleRef::at(p, i)?),
            Anchor::PayloadDate(k) => {
                let &(action, field) = p.kept_payload.get(k)?;
                let a = ActionRef::at(p, action)?;
                AnchorRef::PayloadDate(a, a.item.payload.get(field)?)
            }
        })
    }
    /// The anchor as rule files write it in `after`: an action or place id, `fact`,
    /// `due(time_rule)` or `action.field`.
    pub fn id(&self) -> String {
        match self {
            AnchorRef::Action(a) => a.id().to_owned(),
            AnchorRef::Entered(place) => place.id(),
            AnchorRef::Date(f) => f.id().to_owned(),
            AnchorRef::Due(t) => format!("due({})", t.id()),
            AnchorRef::PayloadDate(a, f) => format!("{}.{}", a.id(), f.meta.id),
        }
    }
}

/// A view of a time rule: a minimum period or a deadline.
#[derive(Clone, Copy)]
pub struct TimeRuleRef<'p> {
    p: &'p Procedure,
    i: usize,
    item: &'p TimeRule,
}

impl<'p> TimeRuleRef<'p> {
    /// Minimum or deadline.
    pub fn kind(&self) -> TimeRuleKind {
        self.item.kind
    }
    /// The length of the period.
    pub fn period(&self) -> Period {
        self.item.period
    }
    /// What the period is counted from: the latest of these that has happened.
    pub fn after(&self) -> impl Iterator<Item = AnchorRef<'p>> + 'p {
        let p = self.p;
        self.item
            .after
            .iter()
            .filter_map(move |&a| AnchorRef::new(p, a))
    }
    /// The actions it restrains (a minimum) or expects (a deadline).
    pub fn actions(&self) -> impl Iterator<Item = ActionRef<'p>> + 'p {
        let p = self.p;
        self.item
            .actions
            .iter()
            .filter_map(move |&i| ActionRef::at(p, i))
    }
    /// The places in which the period does not run.
    pub fn stops(&self) -> impl Iterator<Item = PlaceRef<'p>> + 'p {
        let p = self.p;
        self.item
            .stops
            .iter()
            .filter_map(move |&k| PlaceRef::new(p, *p.stop_places.get(k)?))
    }
    /// When this guard holds the rule does not apply.
    pub fn unless(&self) -> Option<&'p Expr> {
        self.item.unless.as_ref()
    }
    /// The rule applies only while this guard holds.
    pub fn applies_if(&self) -> Option<&'p Expr> {
        self.item.applies_if.as_ref()
    }
    /// For a minimum: whether it may be cut short with a recorded reason.
    pub fn below_with_reason(&self) -> bool {
        self.item.below_with_reason
    }
    /// For a deadline: whether an action after it is refused.
    pub fn strict(&self) -> bool {
        self.item.strict
    }
    /// For a deadline: whether it marks a right that may go unused.
    pub fn optional(&self) -> bool {
        self.item.optional
    }
    /// For a deadline: how much longer it runs once extended.
    pub fn extension(&self) -> Option<Period> {
        self.item.extension
    }
    /// The actions that extend the deadline, each with the payload field that gives the
    /// extension's length when it does.
    pub fn extended_by(&self) -> impl Iterator<Item = (ActionRef<'p>, Option<&'p Field>)> + 'p {
        let p = self.p;
        let t = self.item;
        t.extended_by.iter().filter_map(move |&i| {
            let field = t
                .extension_from
                .iter()
                .find(|(a, _)| *a == i)
                .and_then(|&(_, k)| p.kept_payload.get(k))
                .and_then(|&(a, f)| p.actions.get(a)?.payload.get(f));
            Some((ActionRef::at(p, i)?, field))
        })
    }
}
named!(TimeRuleRef, time_rules);

/// A node of the main graph an invariant speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRef<'p> {
    /// Entering a state of the main machine.
    State(StateRef<'p>),
    /// Taking an action of the main machine.
    Action(ActionRef<'p>),
}

impl<'p> NodeRef<'p> {
    fn new(p: &'p Procedure, n: Node) -> Self {
        let node = match n {
            Node::State(i) => StateRef::at(p, i).map(NodeRef::State),
            Node::Action(i) => ActionRef::at(p, i).map(NodeRef::Action),
        };
        node.unwrap_or(NodeRef::State(StateRef::none(p)))
    }
    /// The state's or action's id.
    pub fn id(&self) -> &'p str {
        match self {
            NodeRef::State(s) => s.id(),
            NodeRef::Action(a) => a.id(),
        }
    }
}

/// What an invariant states.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InvariantKindRef<'p> {
    /// On every path, `first` happens before `then`.
    Before {
        /// What must come first.
        first: NodeRef<'p>,
        /// What may only come after it.
        then: NodeRef<'p>,
    },
    /// `reach` is never reached unless `only_if` holds at that moment.
    OnlyIf {
        /// The state entered or action taken.
        reach: NodeRef<'p>,
        /// The condition (`source()` gives it as written).
        only_if: &'p Expr,
    },
}

/// A view of an invariant: a statement proved on the graph at load.
#[derive(Clone, Copy)]
pub struct InvariantRef<'p> {
    p: &'p Procedure,
    i: usize,
    item: &'p Invariant,
}

impl<'p> InvariantRef<'p> {
    /// What it states.
    pub fn kind(&self) -> InvariantKindRef<'p> {
        match &self.item.kind {
            InvariantKind::Before { first, then } => InvariantKindRef::Before {
                first: NodeRef::new(self.p, *first),
                then: NodeRef::new(self.p, *then),
            },
            InvariantKind::OnlyIf { reach, only_if } => InvariantKindRef::OnlyIf {
                reach: NodeRef::new(self.p, *reach),
                only_if,
            },
        }
    }
    /// `only_if`'s named conditions, when it is written as a table.
    pub fn conditions(&self) -> &'p [Condition] {
        &self.item.conditions
    }
}
named!(InvariantRef, invariants);

impl Procedure {
    /// The state a case starts in.
    pub fn initial_state(&self) -> StateRef<'_> {
        StateRef::at(self, self.initial).unwrap_or(StateRef::none(self))
    }
    /// The states of the main machine, in file order.
    pub fn states(&self) -> impl Iterator<Item = StateRef<'_>> {
        self.states
            .iter()
            .enumerate()
            .map(move |(i, item)| StateRef { p: self, i, item })
    }
    /// The state of the main machine with this id.
    pub fn state(&self, id: &str) -> Option<StateRef<'_>> {
        self.find_state(id)
            .map(|(i, item)| StateRef { p: self, i, item })
    }
    /// The tracks, in file order.
    pub fn tracks(&self) -> impl Iterator<Item = TrackRef<'_>> {
        self.tracks
            .iter()
            .enumerate()
            .map(move |(i, item)| TrackRef { p: self, i, item })
    }
    /// The track with this id.
    pub fn track(&self, id: &str) -> Option<TrackRef<'_>> {
        self.find_track(id)
            .map(|(i, item)| TrackRef { p: self, i, item })
    }
    /// The place with this id: a state (`drafting`) or a track's state
    /// (`participation.open`).
    pub fn place(&self, id: &str) -> Option<PlaceRef<'_>> {
        match id.split_once('.') {
            None => self.state(id).map(PlaceRef::State),
            Some((track, state)) => self.track(track)?.state(state).map(PlaceRef::Track),
        }
    }
    /// The actions, in file order.
    pub fn actions(&self) -> impl Iterator<Item = ActionRef<'_>> {
        self.actions
            .iter()
            .enumerate()
            .map(move |(i, item)| ActionRef { p: self, i, item })
    }
    /// The action with this id.
    pub fn action(&self, id: &str) -> Option<ActionRef<'_>> {
        self.find_action(id)
            .map(|(i, item)| ActionRef { p: self, i, item })
    }
    /// The roles, in file order.
    pub fn roles(&self) -> impl Iterator<Item = RoleRef<'_>> {
        self.roles
            .iter()
            .enumerate()
            .map(move |(i, item)| RoleRef { p: self, i, item })
    }
    /// The role with this id.
    pub fn role(&self, id: &str) -> Option<RoleRef<'_>> {
        self.role_index(id).and_then(|i| RoleRef::at(self, i))
    }
    /// The kinds of document, in file order.
    pub fn documents(&self) -> impl Iterator<Item = DocumentKindRef<'_>> {
        self.documents
            .iter()
            .enumerate()
            .map(move |(i, item)| DocumentKindRef { p: self, i, item })
    }
    /// The kind of document with this id.
    pub fn document(&self, id: &str) -> Option<DocumentKindRef<'_>> {
        self.document_index(id)
            .and_then(|i| DocumentKindRef::at(self, i))
    }
    /// The facts, in file order.
    pub fn facts(&self) -> impl Iterator<Item = FactRef<'_>> {
        self.facts
            .iter()
            .enumerate()
            .map(move |(i, item)| FactRef { p: self, i, item })
    }
    /// The fact with this id.
    pub fn fact(&self, id: &str) -> Option<FactRef<'_>> {
        self.find_fact(id)
            .map(|(i, item)| FactRef { p: self, i, item })
    }
    /// The time rules, in file order.
    pub fn time_rules(&self) -> impl Iterator<Item = TimeRuleRef<'_>> {
        self.time_rules
            .iter()
            .enumerate()
            .map(move |(i, item)| TimeRuleRef { p: self, i, item })
    }
    /// The time rule with this id.
    pub fn time_rule(&self, id: &str) -> Option<TimeRuleRef<'_>> {
        self.time_rules().find(|t| t.id() == id)
    }
    /// The invariants (all proved at load), in file order.
    pub fn invariants(&self) -> impl Iterator<Item = InvariantRef<'_>> {
        self.invariants
            .iter()
            .enumerate()
            .map(move |(i, item)| InvariantRef { p: self, i, item })
    }
    /// The invariant with this id.
    pub fn invariant(&self, id: &str) -> Option<InvariantRef<'_>> {
        self.invariants().find(|t| t.id() == id)
    }
}

// ---------------------------------------------------------------------------------------------
// Serialization: every reference is written as an id, never as an index.

/// A map entry of the element's meta, flattened: id, title, title_en, basis, citations.
fn meta_entries<M: SerializeMap>(m: &mut M, meta: &Meta) -> Result<(), M::Error> {
    m.serialize_entry("id", &meta.id)?;
    m.serialize_entry("title", &meta.title)?;
    if let Some(t) = &meta.title_en {
        m.serialize_entry("title_en", t)?;
    }
    if let Some(b) = &meta.basis {
        m.serialize_entry("basis", b)?;
    }
    if !meta.citations.is_empty() {
        m.serialize_entry("citations", &meta.citations)?;
    }
    Ok(())
}

/// Serializes an iterator as a sequence.
struct Seq<I>(std::cell::Cell<Option<I>>);

fn seq<I: Iterator>(it: I) -> Seq<I> {
    Seq(std::cell::Cell::new(Some(it)))
}

impl<I> Serialize for Seq<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_seq(None)?;
        if let Some(it) = self.0.take() {
            for x in it {
                out.serialize_element(&x)?;
            }
        }
        out.end()
    }
}

macro_rules! serialize_by_id {
    ($($t:ident),*) => {$(
        impl Serialize for $t<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.id())
            }
        }
    )*};
}
serialize_by_id!(
    RoleRef,
    DocumentKindRef,
    FactRef,
    StateRef,
    TrackRef,
    ActionRef,
    TimeRuleRef
);

impl Serialize for TrackStateRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl Serialize for PlaceRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id())
    }
}

impl Serialize for AnchorRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id())
    }
}

impl Serialize for NodeRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        match self {
            NodeRef::State(st) => m.serialize_entry("state", st.id())?,
            NodeRef::Action(a) => m.serialize_entry("action", a.id())?,
        }
        m.end()
    }
}

/// A full view, written with its own fields (a reference to it elsewhere is its id).
struct Full<T>(T);

impl Serialize for Full<StateRef<'_>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.0;
        let mut m = s.serialize_map(None)?;
        meta_entries(&mut m, st.meta())?;
        m.serialize_entry("tracks", &seq(st.tracks()))?;
        m.serialize_entry("terminal", &st.is_terminal())?;
        m.end()
    }
}

impl Serialize for Full<TrackRef<'_>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(None)?;
        meta_entries(&mut m, t.meta())?;
        m.serialize_entry("parent", &t.parent())?;
        m.serialize_entry("states", &seq(t.states().map(|s| s.meta())))?;
        m.serialize_entry("initial", &t.initial())?;
        m.serialize_entry("finals", &seq(t.finals()))?;
        m.serialize_entry("active_if", &t.active_if().map(Expr::source))?;
        m.end()
    }
}

impl Serialize for Full<FactRef<'_>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut m = s.serialize_map(None)?;
        meta_entries(&mut m, f.meta())?;
        m.serialize_entry("ty", &TypeOut(f.ty()))?;
        m.serialize_entry("required", &f.required())?;
        m.end()
    }
}

/// A type as `{ "type": "enum", "values": [...] }`.
struct TypeOut<'a>(&'a Type);

impl Serialize for TypeOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("type", self.0.name())?;
        if let Type::Enum(values) = self.0 {
            m.serialize_entry("values", &values[..])?;
        }
        m.end()
    }
}

/// A `(reference, expression)` pair as `{ "<key>": id, "<expr>": source }`.
struct Guarded<'a, T>(&'static str, T, &'static str, &'a str);

impl<T: Serialize> Serialize for Guarded<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry(self.0, &self.1)?;
        m.serialize_entry(self.2, self.3)?;
        m.end()
    }
}

impl Serialize for Full<RoleRef<'_>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        meta_entries(&mut m, r.meta())?;
        m.serialize_entry("reads", &r.reads())?;
        m.end()
    }
}

impl Serialize for Full<ActionRef<'_>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        meta_entries(&mut m, a.meta())?;
        m.serialize_entry("from", &seq(a.from()))?;
        m.serialize_entry("to", &a.to())?;
        m.serialize_entry("track", &a.track())?;
        m.serialize_entry("by", &seq(a.roles()))?;
        m.serialize_entry("when", &a.guard().map(Expr::source))?;
        if !a.conditions().is_empty() {
            m.serialize_entry("conditions", a.conditions())?;
        }
        m.serialize_entry("documents", &seq(a.documents()))?;
        if a.documents_when().next().is_some() {
            m.serialize_entry(
                "documents_when",
                &seq(a
                    .documents_when()
                    .map(|(d, e)| Guarded("document", d, "if", e.source()))),
            )?;
        }
        m.serialize_entry("payload", a.payload())?;
        if a.sets().next().is_some() {
            m.serialize_entry(
                "sets",
                &seq(a
                    .sets()
                    .map(|(f, e)| Guarded("fact", f, "value", e.source()))),
            )?;
        }
        m.serialize_entry("reason", a.reason())?;
        if let Some(bound) = a.max_times() {
            m.serialize_entry("max_times", bound)?;
        }
        m.serialize_entry("payload_schema", a.payload_schema())?;
        m.end()
    }
}

impl Serialize for Full<TimeRuleRef<'_>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(None)?;
        meta_entries(&mut m, t.meta())?;
        m.serialize_entry("kind", &t.kind())?;
        m.serialize_entry("period", &t.period())?;
        m.serialize_entry("after", &seq(t.after()))?;
        m.serialize_entry("actions", &seq(t.actions()))?;
        m.serialize_entry("unless", &t.unless().map(Expr::source))?;
        m.serialize_entry("applies_if", &t.applies_if().map(Expr::source))?;
        m.serialize_entry("stops", &seq(t.stops()))?;
        m.serialize_entry("below_with_reason", &t.below_with_reason())?;
        m.serialize_entry("strict", &t.strict())?;
        m.serialize_entry("optional", &t.optional())?;
        m.serialize_entry("extension", &t.extension())?;
        m.serialize_entry(
            "extended_by",
            &seq(t.extended_by().map(|(a, f)| ExtendedBy(a, f))),
        )?;
        m.end()
    }
}

/// An extending action, with the payload field that gives the length when there is one.
struct ExtendedBy<'p>(ActionRef<'p>, Option<&'p Field>);

impl Serialize for ExtendedBy<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.1 {
            None => self.0.serialize(s),
            Some(f) => Guarded("action", self.0, "length_from", &f.meta.id).serialize(s),
        }
    }
}

impl Serialize for Full<InvariantRef<'_>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let inv = self.0;
        let mut m = s.serialize_map(None)?;
        meta_entries(&mut m, inv.meta())?;
        match inv.kind() {
            InvariantKindRef::Before { first, then } => {
                m.serialize_entry("before", &Pair("first", first, "then", then))?;
            }
            InvariantKindRef::OnlyIf { reach, only_if } => {
                m.serialize_entry("only_if", &Pair("reach", reach, "if", only_if.source()))?;
            }
        }
        if !inv.conditions().is_empty() {
            m.serialize_entry("conditions", inv.conditions())?;
        }
        m.end()
    }
}

/// Two named entries.
struct Pair<A, B>(&'static str, A, &'static str, B);

impl<A: Serialize, B: Serialize> Serialize for Pair<A, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry(self.0, &self.1)?;
        m.serialize_entry(self.2, &self.3)?;
        m.end()
    }
}

/// Writes the procedure with every reference as an id (`"by": ["reviewer"]`, `"from":
/// ["participation.open"]`), never as an index.
impl Serialize for Procedure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        meta_entries(&mut m, &self.meta)?;
        m.serialize_entry("version", &self.version)?;
        if let Some(d) = &self.valid_from {
            m.serialize_entry("valid_from", d)?;
        }
        m.serialize_entry("initial", &self.initial_state())?;
        m.serialize_entry("roles", &seq(self.roles().map(Full)))?;
        m.serialize_entry("documents", &seq(self.documents().map(|d| d.meta())))?;
        m.serialize_entry("facts", &seq(self.facts().map(Full)))?;
        m.serialize_entry("states", &seq(self.states().map(Full)))?;
        m.serialize_entry("tracks", &seq(self.tracks().map(Full)))?;
        m.serialize_entry("actions", &seq(self.actions().map(Full)))?;
        m.serialize_entry("time_rules", &seq(self.time_rules().map(Full)))?;
        m.serialize_entry("invariants", &seq(self.invariants().map(Full)))?;
        m.end()
    }
}
