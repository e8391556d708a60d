//! Who reads which cases of a procedure: each role reads either every case of the procedure
//! (`reads = "all"`) or only the cases it takes part in (`reads = "own"`, the default). A
//! principal holding none of the procedure's roles reads none of its cases.
//!
//! "Taking part" is decided by the store, not here: an actor takes part in a case when it
//! opened the case or recorded an event in it (the actor id of any event of the case).

use serde::Serialize;

use super::Procedure;

/// Which cases of its procedure a role reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reads {
    /// Only the cases the actor takes part in (opened, or recorded an event in). The
    /// default: reading every case must be declared.
    #[default]
    Own,
    /// Every case of the procedure.
    All,
}

impl Reads {
    /// The values a rule file may write, in the order of the documentation.
    pub const NAMES: [&'static str; 2] = ["all", "own"];

    /// The value a rule file writes (`"all"` or `"own"`), if it is one.
    pub fn parse(s: &str) -> Option<Reads> {
        match s {
            "all" => Some(Reads::All),
            "own" => Some(Reads::Own),
            _ => None,
        }
    }

    /// How a rule file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reads::All => "all",
            Reads::Own => "own",
        }
    }
}

impl Procedure {
    /// Which cases of this procedure an actor holding `roles` reads: the widest of the
    /// procedure's roles it holds, `None` when it holds none of them (it reads nothing).
    pub fn reads_for<S: AsRef<str>>(&self, roles: &[S]) -> Option<Reads> {
        self.roles
            .iter()
            .filter(|r| roles.iter().any(|h| h.as_ref() == r.meta.id))
            .map(|r| r.reads)
            .max()
    }
}
