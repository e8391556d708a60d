//! The stored columns of a case, as read, and as they should be: for `fazhi verify`, which
//! recomputes every column kept beside the event bytes (the summary row and the event
//! columns that mirror the bytes) and names each one that differs.
//!
//! [`summary_columns`] and [`event_columns`] give the values the writer stores for a summary
//! and an event; a test appends through the store and reads them back, so that the two
//! cannot drift apart.

use std::fmt;

use chrono::DateTime;

use crate::{CaseSummary, NewEvent, StoredEvent};

/// One stored value, of whichever type SQLite holds it as.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// `NULL`.
    Null,
    /// An integer (times are microseconds since 1970 UTC, flags 0 or 1).
    Integer(i64),
    /// A floating-point number (which no column of ours should hold).
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<rusqlite::types::ValueRef<'_>> for Cell {
    fn from(v: rusqlite::types::ValueRef<'_>) -> Self {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Integer(i),
            ValueRef::Real(f) => Cell::Real(f),
            ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
        }
    }
}

/// The columns that hold times, shown with the time they stand for.
const TIME_COLUMNS: [&str; 4] = ["at", "opened_at", "last_at", "next_due"];

/// Text longer than this is cut when shown.
const SHOWN: usize = 120;

impl Cell {
    /// The value as a person reads it; `column` says whether an integer is a time (shown
    /// beside it in China time, as everything the CLI writes).
    pub fn show(&self, column: &str) -> String {
        match self {
            Cell::Null => "NULL".into(),
            Cell::Integer(i) if TIME_COLUMNS.contains(&column) => {
                match DateTime::from_timestamp_micros(*i) {
                    Some(t) => format!("{i} ({})", fazhi_core::time::china::rfc3339(t)),
                    None => format!("{i} (not a time)"),
                }
            }
            Cell::Integer(i) => i.to_string(),
            Cell::Real(f) => format!("{f} (a floating-point number)"),
            Cell::Text(t) if t.chars().count() > SHOWN => {
                let cut: String = t.chars().take(SHOWN).collect();
                format!("`{cut}…` ({} characters)", t.chars().count())
            }
            Cell::Text(t) => format!("`{t}`"),
            Cell::Blob(b) => format!("{} bytes", b.len()),
        }
    }
}

/// A row's columns by name, in the table's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Columns(pub Vec<(&'static str, Cell)>);

impl Columns {
    /// The value of a column.
    pub fn get(&self, name: &str) -> Option<&Cell> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, c)| c)
    }

    /// Every column whose stored value (`self`) differs from the one it should have.
    pub fn differences(&self, expected: &Columns) -> Vec<Difference> {
        expected
            .0
            .iter()
            .filter_map(|(name, want)| {
                let found = self.get(name).cloned().unwrap_or(Cell::Null);
                (found != *want).then(|| Difference {
                    column: name,
                    expected: want.clone(),
                    found,
                })
            })
            .collect()
    }
}

/// A column whose stored value is not the one it should have.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The column.
    pub column: &'static str,
    /// What it should hold.
    pub expected: Cell,
    /// What it holds.
    pub found: Cell,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column `{}`: expected {}, found {}",
            self.column,
            self.expected.show(self.column),
            self.found.show(self.column)
        )
    }
}

fn int(n: u64) -> Cell {
    i64::try_from(n).map_or(Cell::Null, Cell::Integer)
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

/// The summary columns the summary table holds for `s` (all but the link to the newest
/// event, which the chain walk checks).
pub fn summary_columns(s: &CaseSummary) -> Columns {
    Columns(vec![
        ("id", text(&s.id)),
        ("procedure", text(&s.procedure)),
        (
            "procedure_version",
            Cell::Integer(i64::from(s.procedure_version)),
        ),
        ("title", text(&s.title)),
        ("state", text(&s.state)),
        (
            "tracks",
            Cell::Text(serde_json::to_string(&s.tracks).unwrap_or_default()),
        ),
        ("seq", int(s.seq)),
        ("head", text(&s.head)),
        ("opened_at", Cell::Integer(s.opened_at.timestamp_micros())),
        ("last_at", Cell::Integer(s.last_at.timestamp_micros())),
        (
            "next_due",
            s.next_due
                .map_or(Cell::Null, |t| Cell::Integer(t.timestamp_micros())),
        ),
        ("closed", Cell::Integer(i64::from(s.closed))),
    ])
}

/// The event columns the events table holds for `e` of case `case` (all but the bytes
/// themselves and the link to the event before, which the chain walk checks).
pub fn event_columns(case: &str, e: &NewEvent) -> Columns {
    Columns(vec![
        ("case_id", text(case)),
        ("seq", int(e.seq)),
        ("action", e.action.as_deref().map_or(Cell::Null, text)),
        ("actor", text(&e.actor)),
        (
            "roles",
            Cell::Text(serde_json::to_string(&e.roles).unwrap_or_default()),
        ),
        ("at", Cell::Integer(e.at.timestamp_micros())),
        ("imported", Cell::Integer(i64::from(e.imported))),
        (
            "procedure_version",
            Cell::Integer(i64::from(e.procedure_version)),
        ),
        ("prev_hash", text(&e.prev_hash)),
        ("hash", text(&e.hash)),
    ])
}

/// The columns [`summary_columns`] gives, in its order.
pub(crate) const SUMMARY_NAMES: [&str; 12] = [
    "id",
    "procedure",
    "procedure_version",
    "title",
    "state",
    "tracks",
    "seq",
    "head",
    "opened_at",
    "last_at",
    "next_due",
    "closed",
];

/// The columns [`event_columns`] gives, in its order.
pub(crate) const EVENT_NAMES: [&str; 10] = [
    "case_id",
    "seq",
    "action",
    "actor",
    "roles",
    "at",
    "imported",
    "procedure_version",
    "prev_hash",
    "hash",
];

/// One event of a case's chain with its columns as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// The event (its place on the chain, its stored hash and bytes).
    pub event: StoredEvent,
    /// Its columns as stored (those [`event_columns`] names).
    pub columns: Columns,
}

/// Everything stored about one case, read in one read transaction.
#[derive(Debug)]
pub struct CaseRecord {
    /// The summary row's columns as stored (those [`summary_columns`] names); `None` when
    /// the case has no summary row.
    pub summary: Option<Columns>,
    /// The events on the case's chain, oldest first; an error when the links are damaged.
    pub events: Result<Vec<EventRecord>, crate::StoreError>,
}

/// What the tools (`fazhi verify`, `fazhi export`) read of a store beyond [`crate::EventStore`],
/// the same for every backend. Blocking: call it from outside any async runtime.
pub trait Inspect {
    /// Every case id, in the order of their bytes (as SQLite sorts text; PostgreSQL is asked
    /// for `COLLATE "C"`, whatever the database's collation), so that two backends holding
    /// the same cases export the same file.
    fn case_ids(&self) -> Result<Vec<String>, crate::StoreError>;
    /// Case ids that have events but no summary row (which a sound store never has).
    fn orphan_case_ids(&self) -> Result<Vec<String>, crate::StoreError>;
    /// How many events each case id has in the table, whether on its case's chain or not.
    fn event_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, crate::StoreError>;
    /// Who takes part in each case (by case id), as the participants table holds it.
    fn participants(
        &self,
    ) -> Result<
        std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        crate::StoreError,
    >;
    /// Whether `actor` is recorded as taking part in `case`.
    fn is_participant(&self, case: &str, actor: &str) -> Result<bool, crate::StoreError>;
    /// The cases whose board deadlines have not been reckoned yet (stored before the board
    /// existed), in id order.
    fn unfilled_deadlines(&self) -> Result<Vec<String>, crate::StoreError>;
    /// The deadlines the board keeps for `case`, by time rule id.
    fn case_deadlines(&self, case: &str) -> Result<Vec<crate::BoardDeadline>, crate::StoreError>;
    /// A case's summary and its history, read together so that they agree while the store
    /// is written to; the history is an error when it is damaged.
    #[allow(clippy::type_complexity, reason = "a pair, read together")]
    fn snapshot(
        &self,
        case: &str,
    ) -> Result<
        (
            Option<crate::CaseSummary>,
            Result<Vec<StoredEvent>, crate::StoreError>,
        ),
        crate::StoreError,
    >;
    /// Everything stored about a case, column by column, read together.
    fn record(&self, case: &str) -> Result<CaseRecord, crate::StoreError>;
}

impl Inspect for crate::SqliteStore {
    fn case_ids(&self) -> Result<Vec<String>, crate::StoreError> {
        crate::SqliteStore::case_ids(self)
    }
    fn orphan_case_ids(&self) -> Result<Vec<String>, crate::StoreError> {
        crate::SqliteStore::orphan_case_ids(self)
    }
    fn event_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, crate::StoreError> {
        crate::SqliteStore::event_counts(self)
    }
    fn participants(
        &self,
    ) -> Result<
        std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        crate::StoreError,
    > {
        crate::SqliteStore::participants(self)
    }
    fn is_participant(&self, case: &str, actor: &str) -> Result<bool, crate::StoreError> {
        crate::SqliteStore::is_participant(self, case, actor)
    }
    fn unfilled_deadlines(&self) -> Result<Vec<String>, crate::StoreError> {
        crate::SqliteStore::unfilled_deadlines(self)
    }
    fn case_deadlines(&self, case: &str) -> Result<Vec<crate::BoardDeadline>, crate::StoreError> {
        crate::SqliteStore::case_deadlines(self, case)
    }
    fn snapshot(
        &self,
        case: &str,
    ) -> Result<
        (
            Option<crate::CaseSummary>,
            Result<Vec<StoredEvent>, crate::StoreError>,
        ),
        crate::StoreError,
    > {
        crate::SqliteStore::snapshot(self, case)
    }
    fn record(&self, case: &str) -> Result<CaseRecord, crate::StoreError> {
        crate::SqliteStore::record(self, case)
    }
}
