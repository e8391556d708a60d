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
mod board;
pub mod conformance;
mod postgres;
mod postgres_audit;
mod postgres_batch;
mod postgres_board;
mod postgres_known;
mod sqlite;
mod sqlite_board;
pub mod test_pg;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use fazhi_core::runtime::Recorded;
use serde::{Deserialize, Serialize};

pub use board::{
    BoardDeadline, BoardStatus, DeadlineCursor, DeadlinePage, DeadlineQuery, DeadlineRow,
};
pub use postgres::{
    PgOptions, PgStore, explain_board as explain_pg_board, explain_list as explain_pg_list,
    is_postgres_url,
};
#[cfg(feature = "fault-injection")]
pub use sqlite::Fault;
pub use sqlite::{SqliteOptions, SqliteStore};

/// A boxed future, so that [`EventStore`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error (or the connection string does not parse).
    #[error("PostgreSQL error: {}", postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The store has been closed (or its writer has stopped).
    #[error("the store is closed")]
    Closed,
    /// An append is malformed (a caller's mistake, not a fault of the store): its events do
    /// not follow `expected_seq`, or belong elsewhere, or a number does not fit a column.
    #[error("malformed append: {0}")]
    MalformedAppend(String),
    /// The store met a fault before it tried to commit (the transaction could not begin, a
    /// statement failed, the disk is full, the lock was not granted in time): the append was
    /// rolled back and **nothing was written**. Retrying later may succeed.
    #[error("store fault ({}) before commit, nothing was written: {message}", .kind.label())]
    NotWritten {
        /// What kind of fault.
        kind: FaultKind,
        /// SQLite's words.
        message: String,
    },
    /// The commit itself failed (an I/O error while writing or syncing the WAL, say): the
    /// append **may or may not** be in the file. The store stops accepting writes until it
    /// has reopened the file; a retry under the same idempotency key then finds the first
    /// answer if the append was kept, and writes it otherwise.
    #[error("outcome unknown: the commit failed ({}) and the append may have been written: {message}", .kind.label())]
    OutcomeUnknown {
        /// What kind of fault.
        kind: FaultKind,
        /// SQLite's words.
        message: String,
    },
    /// The store refuses writes for now (it is reopening its file after a fault, or its file
    /// was removed or replaced under it): nothing was written.
    #[error("the store refuses writes: {en}")]
    Fenced {
        /// What kind of fault fenced it.
        kind: FaultKind,
        /// Why, in Chinese.
        zh: String,
        /// Why, in English.
        en: String,
    },
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

/// The kind of a fault of the store (for answers, logs and the `kind` label of metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// An I/O error (`SQLITE_IOERR*`): a read, write or sync failed.
    Io,
    /// The disk (or the database's size limit) is full (`SQLITE_FULL`).
    DiskFull,
    /// Another connection held the lock past the busy timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`).
    Busy,
    /// The file (or its WAL) cannot be opened (`SQLITE_CANTOPEN`, `SQLITE_NOTADB`).
    CantOpen,
    /// SQLite found the file damaged (`SQLITE_CORRUPT`).
    Corrupt,
    /// The file cannot be written (`SQLITE_READONLY`, `SQLITE_PERM`).
    ReadOnly,
    /// The database file or its WAL was removed or replaced under the running store.
    FileChanged,
    /// Out of memory, or another error of SQLite's own.
    Other,
    /// The database server cannot be reached (connection refused or lost, the server
    /// shutting down): PostgreSQL only.
    Unavailable,
}

impl FaultKind {
    /// The fault an SQLite error is, if it is one (and not a mistake in the request or the
    /// SQL, such as a constraint).
    pub fn of(e: &rusqlite::Error) -> Option<FaultKind> {
        use rusqlite::ErrorCode as C;
        let rusqlite::Error::SqliteFailure(f, _) = e else {
            return None;
        };
        Some(match f.code {
            C::SystemIoFailure => FaultKind::Io,
            C::DiskFull => FaultKind::DiskFull,
            C::DatabaseBusy | C::DatabaseLocked | C::FileLockingProtocolFailed => FaultKind::Busy,
            C::CannotOpen | C::NotADatabase => FaultKind::CantOpen,
            C::DatabaseCorrupt => FaultKind::Corrupt,
            C::ReadOnly | C::PermissionDenied => FaultKind::ReadOnly,
            C::OutOfMemory | C::InternalMalfunction | C::NoLargeFileSupport => FaultKind::Other,
            _ => return None,
        })
    }

    /// Its name in metrics and logs: `io`, `disk_full`, `busy`, `cant_open`, `corrupt`,
    /// `read_only`, `file_changed`, `other`.
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::Io => "io",
            FaultKind::DiskFull => "disk_full",
            FaultKind::Busy => "busy",
            FaultKind::CantOpen => "cant_open",
            FaultKind::Corrupt => "corrupt",
            FaultKind::ReadOnly => "read_only",
            FaultKind::FileChanged => "file_changed",
            FaultKind::Other => "other",
            FaultKind::Unavailable => "unavailable",
        }
    }

    /// Its name in Chinese, for answers.
    pub fn zh(self) -> &'static str {
        match self {
            FaultKind::Io => "输入输出错误",
            FaultKind::DiskFull => "磁盘已满",
            FaultKind::Busy => "数据库锁等待超时",
            FaultKind::CantOpen => "无法打开数据库文件",
            FaultKind::Corrupt => "数据库文件损坏",
            FaultKind::ReadOnly => "数据库文件不可写",
            FaultKind::FileChanged => "数据库文件被删除或替换",
            FaultKind::Other => "数据库内部错误",
            FaultKind::Unavailable => "无法连接数据库服务器",
        }
    }

    /// Whether a store that met this fault must reopen its file before it writes again (the
    /// connection's view of the file may no longer be the file's).
    pub fn fences(self) -> bool {
        matches!(
            self,
            FaultKind::Io | FaultKind::CantOpen | FaultKind::Corrupt | FaultKind::FileChanged
        )
    }
}

impl StoreError {
    /// The fault behind this error, if it is a fault of the store (an SQLite error that is
    /// one, a refused or uncertain write, a missing file), not a mistake or a closed store.
    pub fn fault(&self) -> Option<FaultKind> {
        match self {
            StoreError::Sqlite(e) => FaultKind::of(e),
            StoreError::Postgres(e) => postgres::fault_of(e),
            StoreError::NotWritten { kind, .. }
            | StoreError::OutcomeUnknown { kind, .. }
            | StoreError::Fenced { kind, .. } => Some(*kind),
            StoreError::Missing(_) => Some(FaultKind::FileChanged),
            _ => None,
        }
    }
}

/// Whether a store accepts writes, and how often it has reopened its file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStatus {
    /// Why it refuses writes now, or `None` when it accepts them.
    pub refusing: Option<Refusing>,
    /// How many times it has reopened its file after a fault: cases read before a change of
    /// this number may be stale and are read again.
    pub reopened: u64,
}

/// Why a store refuses writes now ([`StoreStatus::refusing`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusing {
    /// The fault: the database file removed or replaced (`file_changed`), a fault being
    /// recovered from (`io`, `disk_full`, …), the server unreachable (`unavailable`) or a
    /// read-only standby (`read_only`). Its [`FaultKind::label`] is the `kind` of metrics.
    pub kind: FaultKind,
    /// Why, in Chinese, with what to do.
    pub zh: String,
    /// Why, in English, with what to do.
    pub en: String,
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
    /// Who else the event makes a participant of its case (an opening names them): they
    /// read the case as its actor does. Recorded with the actor in the participants the
    /// store keeps for reading access ([`EventStore::takes_part`], [`Reader`]).
    pub named: Vec<String>,
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
            named: e.participants().skip(1).map(str::to_owned).collect(),
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
    /// The case's deadlines for the board after the events (see [`BoardDeadline`]): they
    /// replace the ones kept for the case, in the same transaction.
    pub deadlines: Vec<BoardDeadline>,
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
    /// A page of the deadline board: the deadlines kept for the cases (those the last
    /// append of each carried in [`Append::deadlines`]) that match `query`, sorted by due
    /// time, then case id, then time rule id, at most `query.limit` (clamped to 1..=1000),
    /// with a cursor when there may be more.
    ///
    /// At `query.now`, a kept deadline not met late is **overdue** when its due time is at
    /// or before `now` (an optional one is then lapsed: left out), **pending** when after;
    /// one met late is **late**, whatever `now`. `status: None` reads pending and overdue.
    /// `due_after` and `due_before` bound the due time strictly; `procedure` is the case's;
    /// `role` must be one of the deadline's roles; `after` starts strictly after that
    /// (due, case, rule). With a `reader`, only deadlines of cases it may read (the rule of
    /// [`CaseQuery::reader`]) are listed, in the query, so pages and cursors stay right.
    fn deadlines(
        &self,
        query: DeadlineQuery,
    ) -> BoxFuture<'static, Result<DeadlinePage, StoreError>>;
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
    /// Whether the store accepts writes now, and how often it has reopened its file.
    fn status(&self) -> StoreStatus {
        StoreStatus::default()
    }
    /// Whether other processes (other `fazhi serve` nodes) may write the same database, so
    /// that a case kept in memory must be checked against the store before it is used.
    fn shared(&self) -> bool {
        false
    }
}
