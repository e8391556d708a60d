//! Cases: open, decide, apply, explain refusals, list deadlines and available actions, and
//! keep the hash chain.
//!
//! Everything here is pure: the time of every command is an argument and the calendar is
//! passed in. A case is the fold of its events, so replaying them rebuilds it exactly.

mod case;
mod command;
mod deadline;
mod decide;
mod event;
mod example;
mod migrated;
mod refusal;

pub use case::{ApplyError, Case, CaseView, MAX_PARTICIPANTS, MAX_PRINCIPAL_ID};
pub use command::{Actor, Command, DocumentRef, Opening};
pub use deadline::{Deadline, DeadlineStatus, next_due};
pub use decide::ActionOption;
pub use event::{
    BreakKind, BrokenLink, ChainWalk, DeadlineShift, Event, EventBody, EventWire, GENESIS, Hash256,
    Participants, Recorded, sha256_hex, verify,
};
pub use example::{ActionExample, PLACEHOLDER_REASON, PLACEHOLDER_SHA256};
pub use refusal::{Reason, ReasonKind, Refusal};

pub(crate) use command::empty_object as empty_json_object;
