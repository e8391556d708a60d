//! fazhi-store: the durable event store.
//!
//! A case is its history: an append-only list of events, each stored as the exact bytes the
//! core serialised and hashed ([`fazhi_core::runtime::Recorded`]), and a summary row per case
//! for queries (procedure, state, tracks, times, the earliest pending deadline).
//!
//! - **Optimistic concurrency**: an [`Append`] names `expected_seq`, the number of events the
//!   writer saw. A stale one is answered [`AppendOutcome::Conflict`] and writes nothing.
//! - **Idempotency**: an append may carry an [`IdempotencyRecord`] (principal, key, request
//!   hash, response). It is written in the same transaction as the events; a later append with
//!   the same principal and key writes nothing and gets [`AppendOutcome::Replay`] with the
//!   record, so the caller can replay the first answer (or refuse a different body).
//! - **Durability**: an append is answered only after the transaction holding it has
//!   committed. [`SqliteStore`] batches concurrent appends into one transaction (group commit).
//!
//! [`EventStore`] is the trait every backend implements; [`conformance`] is the one test suite
//! they all pass.

pub mod audit;
pub mod conformance;
mod sqlite;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use fazhi_core::runtime::Recorded;
use serde::{Deserialize, Serialize};

pub use sqlite::{SqliteOptions, SqliteStore};

/// A boxed future, so that [`EventStore`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The store has been closed (or its writer has stopped).
    #[error("the store is closed")]
    Closed,
    /// An append is malformed: its events do not follow `expected_seq`, or belong elsewhere.
    #[error("invalid append: {0}")]
    Invalid(String),
    /// Stored data does not read back (a column out of range, a bad time).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database file does not exist (and the store was not asked to create it).
    #[error("no database at `{}`", .0.display())]
    Missing(std::path::PathBuf),
    /// A backup could not be made.
    #[error("cannot back up the database: {0}")]
    Backup(String),
    /// A migration could not be applied.
    #[error("cannot migrate the database: {0}")]
    Migration(String),
}

/// One event to append: the stored bytes and the columns kept beside them for queries.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Its position in the case's history, from 0.
    pub seq: u64,
    /// The action's id; `None` for the opening.
    pub action: Option<String>,
    /// The actor's id.
    pub actor: String,
    /// The roles the actor held.
    pub roles: Vec<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Whether its time was given by an importer.
    pub imported: bool,
    /// The procedure version the case runs on.
    pub procedure_version: u32,
    /// The hash of the previous event's bytes.
    pub prev_hash: String,
    /// The SHA-256 (hex) of `bytes`.
    pub hash: String,
    /// The exact bytes the core serialised and hashed.
    pub bytes: Vec<u8>,
}

impl NewEvent {
    /// The columns of a recorded event, for a case on `procedure_version`.
    pub fn from_recorded(recorded: &Recorded, procedure_version: u32) -> Self {
        let e = &recorded.event;
        NewEvent {
            seq: e.seq,
            action: e.action().map(str::to_owned),
            actor: e.actor.id.to_string(),
            roles: e.actor.roles.to_vec(),
            at: e.at,
            imported: e.imported,
            procedure_version,
            prev_hash: e.prev_hash.to_string(),
            hash: recorded.hash.to_string(),
            bytes: recorded.bytes.clone(),
        }
    }
}

/// A stored event as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its position in the case's history.
    pub seq: u64,
    /// The SHA-256 (hex) of `bytes`, as stored.
    pub hash: String,
    /// The exact bytes stored.
    pub bytes: Vec<u8>,
}

/// The summary of one case, kept for queries and updated with every append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseSummary {
    /// The case's id.
    pub id: String,
    /// The procedure's id.
    pub procedure: String,
    /// The procedure version the case runs on.
    pub procedure_version: u32,
    /// The case's title.
    pub title: String,
    /// The current main state.
    pub state: String,
    /// Running tracks and their states.
    pub tracks: BTreeMap<String, String>,
    /// How many events the case has.
    pub seq: u64,
    /// The hash of the last event.
    pub head: String,
    /// When the case was opened, in China time (`+08:00`) on the wire.
    #[serde(serialize_with = "fazhi_core::time::china::serialize")]
    pub opened_at: DateTime<Utc>,
    /// When its last event happened, in China time (`+08:00`) on the wire.
    #[serde(serialize_with = "fazhi_core::time::china::serialize")]
    pub last_at: DateTime<Utc>,
    /// The earliest due time among its deadlines still pending or overdue (not those met,
    /// met late, waived, lapsed or with their clock stopped). In China time (`+08:00`).
    #[serde(serialize_with = "fazhi_core::time::china::serialize_option")]
    pub next_due: Option<DateTime<Utc>>,
    /// Whether it has reached a terminal state.
    pub closed: bool,
}

/// The first answer to a write, kept under its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The principal that sent the key (keys are scoped to the principal).
    pub principal: String,
    /// The `Idempotency-Key` header.
    pub key: String,
    /// A hash of the request (method, path and body), to tell a retry from a different request.
    pub request_hash: String,
    /// The case the write was about.
    pub case: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The response headers worth replaying (`Location`, `ETag`), as name and value.
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: Vec<u8>,
}

/// Events to append to one case, with its new summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Append {
    /// The case's id.
    pub case: String,
    /// How many events the case has now, as the writer saw it (0 to open a new case).
    pub expected_seq: u64,
    /// The events, numbered from `expected_seq` on.
    pub events: Vec<NewEvent>,
    /// The case's summary after the events.
    pub summary: CaseSummary,
    /// The answer to keep under an idempotency key, if the request had one.
    pub idempotency: Option<IdempotencyRecord>,
}

/// What became of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The events are durable.
    Appended,
    /// The case has `current_seq` events, not `expected_seq`: nothing was written.
    Conflict {
        /// How many events the case has.
        current_seq: u64,
    },
    /// The idempotency key was used before: nothing was written; here is what was kept.
    Replay(IdempotencyRecord),
}

/// Which cases to list, oldest id first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseQuery {
    /// Only cases of this procedure.
    pub procedure: Option<String>,
    /// Only cases in this main state.
    pub state: Option<String>,
    /// Only open cases with a deadline due at or before this time.
    pub overdue_at: Option<DateTime<Utc>>,
    /// At most this many (at least 1).
    pub limit: u32,
    /// Only cases whose id sorts after this one (the cursor).
    pub after: Option<String>,
    /// Only the cases this reader may read; `None` lists every case (for tools, never for
    /// a caller of the service).
    pub reader: Option<Reader>,
}

/// Who lists cases, and which procedures' cases it reads: every case of the procedures in
/// `all`, and the cases it takes part in (opened, or recorded an event in) of those in `own`.
/// A procedure in neither is not listed at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reader {
    /// The actor id recorded in the events it took part in.
    pub actor: String,
    /// Procedures of which it reads every case.
    pub all: Vec<String>,
    /// Procedures of which it reads the cases it takes part in.
    pub own: Vec<String>,
}

impl Reader {
    /// Whether it reads every case of `procedure` (`Some(true)`), only its own
    /// (`Some(false)`), or none (`None`).
    pub fn reads_all_of(&self, procedure: &str) -> Option<bool> {
        if self.all.iter().any(|p| p == procedure) {
            Some(true)
        } else if self.own.iter().any(|p| p == procedure) {
            Some(false)
        } else {
            None
        }
    }
}

/// One page of cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The cases, by id.
    pub cases: Vec<CaseSummary>,
    /// The cursor for the next page, when there may be more.
    pub next: Option<String>,
}

/// A durable event store. Every backend passes [`conformance::run_all`].
pub trait EventStore: Send + Sync + 'static {
    /// Appends events to a case, answering only once they are durable (or nothing was written).
    fn append(&self, append: Append) -> BoxFuture<'static, Result<AppendOutcome, StoreError>>;
    /// A case's events, in order; empty when the case does not exist.
    fn events(&self, case: &str) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>>;
    /// At most `limit` of a case's events, in order, from event `from` on (its seq and up);
    /// empty when the case does not exist or has no event `from`. A long history is read
    /// page by page with it, in bounded memory. The default reads the whole history and
    /// keeps the page; a backend that can read a range overrides it.
    fn events_page(
        &self,
        case: &str,
        from: u64,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
        let all = self.events(case);
        Box::pin(async move {
            let all = all.await?;
            Ok(all
                .into_iter()
                .skip_while(|e| e.seq < from)
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .collect())
        })
    }
    /// A case's summary.
    fn summary(&self, case: &str) -> BoxFuture<'static, Result<Option<CaseSummary>, StoreError>>;
    /// A page of case summaries.
    fn list(&self, query: CaseQuery) -> BoxFuture<'static, Result<Page, StoreError>>;
    /// Whether `actor` takes part in `case`: opened it or recorded an event in it.
    fn takes_part(&self, case: &str, actor: &str) -> BoxFuture<'static, Result<bool, StoreError>>;
    /// The answer kept under an idempotency key.
    fn idempotency(
        &self,
        principal: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<Option<IdempotencyRecord>, StoreError>>;
    /// Commits what is pending and stops accepting appends.
    fn close(&self) -> BoxFuture<'static, Result<(), StoreError>>;
}
