//! The typed procedure: what a rule file means once it is loaded and verified.
//!
//! Every reference is resolved to an index, every guard is compiled and type-checked, and
//! every declared invariant has been proved on the graph. A [`Procedure`] is immutable and
//! cheap to share behind an [`Arc`](std::sync::Arc).

mod access;
mod law;
mod procedure;
mod rules;

pub use access::Reads;
pub use law::{Citation, Law, Laws, chinese_number};

pub use procedure::{
    Action, Anchor, BoundPer, Condition, Document, Fact, Field, Invariant, InvariantKind, Meta,
    Node, Place, Procedure, ReasonRule, Role, State, TimeRule, TimeRuleKind, TimesBound, Track,
    payload_schema,
};
pub(crate) use procedure::{IdMap, procedure_index};
pub use rules::RuleSet;
