//! Types, values and the naming environment shared by the checker and the evaluator.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The type of a fact, a payload field or an expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// `true` or `false`.
    Bool,
    /// A whole number (i64).
    Integer,
    /// A decimal amount of money, e.g. `200.00`.
    Amount,
    /// Free text.
    Text,
    /// A calendar date, `2025-10-08`.
    Date,
    /// One of a closed list of values, in declaration order.
    Enum(Arc<[String]>),
    /// The current state of the track with this index; its values are the track's states.
    TrackState(usize, Arc<[String]>),
}

impl Type {
    /// The name of the type as rule authors write it (`bool`, `integer`, `amount`, `text`, `date`, `enum`).
    pub fn name(&self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Integer => "integer",
            Type::Amount => "amount",
            Type::Text => "text",
            Type::Date => "date",
            Type::Enum(_) => "enum",
            Type::TrackState(..) => "track state",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Enum(values) | Type::TrackState(_, values) => {
                write!(f, "{} of ", self.name())?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{v}`")?;
                }
                Ok(())
            }
            other => f.write_str(other.name()),
        }
    }
}

/// A runtime value. Enum values are stored as their index in the enum's value list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A decimal amount.
    Amount(Decimal),
    /// Text.
    Text(Arc<str>),
    /// A date.
    Date(NaiveDate),
    /// The index of an enum value (or of a track state) in its declaration.
    Enum(u16),
}

/// Where the value of a variable is read from at evaluation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarSlot {
    /// The fact at this index in the procedure's fact list.
    Fact(usize),
    /// The field at this index in the current action's payload schema.
    Payload(usize),
}

/// A name the checker can resolve: its slot and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarInfo {
    /// Where the value lives.
    pub slot: VarSlot,
    /// Its declared type.
    pub ty: Type,
}

/// A track as the checker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// The track's index in the procedure.
    pub index: usize,
    /// The track's states, in declaration order.
    pub states: Arc<[String]>,
}

/// The names visible to one guard: facts (bare), payload fields (`payload.x`), tracks,
/// actions and document kinds. Built by the loader for each place a guard appears.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Variables by the name written in guards: `urgent`, `payload.amount`.
    pub vars: BTreeMap<String, VarInfo>,
    /// Tracks by id.
    pub tracks: BTreeMap<String, TrackInfo>,
    /// Actions by id, with their index.
    pub actions: Ids,
    /// Document kinds by id, with their index.
    pub documents: BTreeMap<String, usize>,
    /// Main states by id, with their index: never values in a guard, known only to say so
    /// (`taken(decided)` where `decided` is a state).
    pub states: Ids,
    /// Time rules by id, with their index.
    pub time_rules: BTreeMap<String, usize>,
    /// Whether `late(rule)` and `overdue(rule)` may be called: only in guards read when a
    /// command is decided (an action's `when`, `reason_required`, `documents_when`), which
    /// know the command's time; not in what is applied or replayed without a clock.
    pub time_functions: bool,
}

/// Ids of one kind (actions, main states) with their indexes, as a guard may name them. A
/// procedure has thousands of them: the table is shared (cloning an `Ids` does not copy it)
/// and unordered, and [`Ids::sorted_keys`] lists them in order for messages.
#[derive(Debug, Clone, Default)]
pub struct Ids(Arc<IdTable>);

/// An id → index table with a fast hash and a fixed seed (the keys are a rule file's ids).
pub(crate) type IdTable = HashMap<String, usize, foldhash::fast::FixedState>;

impl Ids {
    /// Ids sharing the table `table`.
    pub(crate) fn shared(table: &Arc<IdTable>) -> Self {
        Ids(Arc::clone(table))
    }
    /// The index of an id.
    pub fn get(&self, id: &str) -> Option<&usize> {
        self.0.get(id)
    }
    /// Whether there is such an id.
    pub fn contains_key(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }
    /// Every id, in order.
    pub fn sorted_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.0.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }
}

impl FromIterator<(String, usize)> for Ids {
    fn from_iter<I: IntoIterator<Item = (String, usize)>>(iter: I) -> Self {
        Ids(Arc::new(iter.into_iter().collect()))
    }
}

impl<const N: usize> From<[(String, usize); N]> for Ids {
    fn from(items: [(String, usize); N]) -> Self {
        items.into_iter().collect()
    }
}

/// What a guard can read while it is evaluated. Implemented by the runtime over a case and
/// a command; `None` from [`EvalContext::var`] means the variable has no value yet.
pub trait EvalContext {
    /// The value in a slot, or `None` when it is not set.
    fn var(&self, slot: VarSlot) -> Option<&Value>;
    /// The index of the track's current state, or `None` when the track is not active.
    fn track_state(&self, track: usize) -> Option<usize>;
    /// Whether the track is finished: inactive, or in one of its final states.
    fn track_done(&self, track: usize) -> bool;
    /// Whether a document of this kind is attached to the command being decided.
    fn attached(&self, document: usize) -> bool;
    /// Whether a document of this kind is on file in the case (any event, or this command).
    fn on_file(&self, document: usize) -> bool;
    /// Whether the action has been taken at least once in the case.
    fn taken(&self, action: usize) -> bool;
    /// Whether the time rule's action was, or if taken now would be, at or after its due
    /// time (see the rule language's `late(rule)`). False where no clock is known.
    fn late(&self, _rule: usize) -> bool {
        false
    }
    /// Whether the time rule is a deadline pending and past due now. False where no clock is
    /// known.
    fn overdue(&self, _rule: usize) -> bool {
        false
    }
}
