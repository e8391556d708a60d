//! Scenario files: a case written down with what the law says should happen at each step,
//! and their runner (used by `fazhi test`).
//!
//! The format is documented in `docs/rule-language.md` ("Scenario files"). Parsing takes the
//! file's text; running takes the rule set and the calendar: no IO here either.

mod file;
mod run;

pub use file::{ScenarioError, ScenarioFile, parse};
pub use run::{Failure, Outcome, run};
