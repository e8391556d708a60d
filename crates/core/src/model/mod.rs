//! The typed procedure: what a rule file means once it is loaded and verified.
//!
//! Every reference is resolved to an index, every guard is compiled and type-checked, and
//! every declared invariant has been proved on the graph. A [`Procedure`] is immutable and
//! cheap to share behind an [`Arc`](std::sync::Arc).
//!
//! The indices are the core's own: an embedder reads a procedure through borrowed views that
//! speak in ids and titles ([`Procedure::actions()`], [`Procedure::action`],
//! [`Procedure::initial_state`], [`ActionRef`], [`PlaceRef`], ...); serializing a procedure
//! writes every reference as an id.

mod access;
mod law;
mod procedure;
mod report;
mod rules;
mod view;

pub use access::Reads;
pub use law::{Citation, Law, Laws, chinese_number};

pub(crate) use procedure::{
    Action, Anchor, Document, Fact, IdMap, Invariant, InvariantKind, Node, Place, Role, State,
    TimeRule, Track, label_of, payload_schema, procedure_index,
};
pub use procedure::{
    BoundPer, Condition, Field, Meta, Procedure, ReasonRule, TimeRuleKind, TimesBound,
};
pub use report::{Counter, DateBy};
pub use rules::RuleSet;
pub use view::{
    ActionRef, AnchorRef, DocumentKindRef, FactRef, InvariantKindRef, InvariantRef, NodeRef,
    PlaceRef, RoleRef, StateRef, TimeRuleRef, TrackRef, TrackStateRef,
};
