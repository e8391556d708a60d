//! The SQLite backend: one file, WAL, `synchronous=FULL`; one writer thread doing group
//! commit, a checkpointer thread beside it, reads on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::audit::{self, CaseRecord, Cell, Columns, EventRecord};
use crate::{
    Append, AppendOutcome, BoardDeadline, BoxFuture, CaseQuery, CaseSummary, DeadlinePage,
    DeadlineQuery, EventStore, FaultKind, IdempotencyRecord, Page, Reader, StoreError, StoreStatus,
    StoredEvent,
};

/// The migrations, in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE events (
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    action TEXT,
    actor TEXT NOT NULL,
    roles TEXT NOT NULL,
    at INTEGER NOT NULL,
    imported INTEGER NOT NULL,
    procedure_version INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (case_id, seq)
) WITHOUT ROWID;
CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    procedure TEXT NOT NULL,
    procedure_version INTEGER NOT NULL,
    title TEXT NOT NULL,
    state TEXT NOT NULL,
    tracks TEXT NOT NULL,
    seq INTEGER NOT NULL,
    head TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    next_due INTEGER,
    closed INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX cases_procedure_state ON cases (procedure, state, id);
CREATE INDEX cases_state ON cases (state, id);
CREATE INDEX cases_due ON cases (next_due) WHERE closed = 0 AND next_due IS NOT NULL;
CREATE TABLE idempotency (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    case_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (principal, key)
) WITHOUT ROWID;
"#,
    // 2: rowid tables. A WITHOUT ROWID row keeps only about a quarter of a page on its leaf
    // (~230 bytes with the 1 KiB pages of version 1) and spills the rest into overflow pages,
    // so every event (~900 bytes) and summary row wrote several pages per append. Rowid
    // tables keep nearly a page on the leaf, and events, numbered in the order they were
    // appended, fill the last page in turn.
    r#"
CREATE TABLE events_v2 (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    action TEXT,
    actor TEXT NOT NULL,
    roles TEXT NOT NULL,
    at INTEGER NOT NULL,
    imported INTEGER NOT NULL,
    procedure_version INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    bytes BLOB NOT NULL,
    UNIQUE (case_id, seq)
);
INSERT INTO events_v2 (case_id, seq, action, actor, roles, at, imported, procedure_version, prev_hash, hash, bytes)
    SELECT case_id, seq, action, actor, roles, at, imported, procedure_version, prev_hash, hash, bytes
    FROM events ORDER BY at, case_id, seq;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE TABLE cases_v2 (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    procedure TEXT NOT NULL,
    procedure_version INTEGER NOT NULL,
    title TEXT NOT NULL,
    state TEXT NOT NULL,
    tracks TEXT NOT NULL,
    seq INTEGER NOT NULL,
    head TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    next_due INTEGER,
    closed INTEGER NOT NULL
);
INSERT INTO cases_v2 (id, procedure, procedure_version, title, state, tracks, seq, head, opened_at, last_at, next_due, closed)
    SELECT id, procedure, procedure_version, title, state, tracks, seq, head, opened_at, last_at, next_due, closed
    FROM cases ORDER BY opened_at, id;
DROP TABLE cases;
ALTER TABLE cases_v2 RENAME TO cases;
CREATE INDEX cases_procedure_state ON cases (procedure, state, id);
CREATE INDEX cases_state ON cases (state, id);
CREATE INDEX cases_due ON cases (next_due) WHERE closed = 0 AND next_due IS NOT NULL;
CREATE TABLE idempotency_v2 (
    id INTEGER PRIMARY KEY,
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    case_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (principal, key)
);
INSERT INTO idempotency_v2 (principal, key, request_hash, case_id, status, headers, body)
    SELECT principal, key, request_hash, case_id, status, headers, body FROM idempotency;
DROP TABLE idempotency;
ALTER TABLE idempotency_v2 RENAME TO idempotency;
"#,
    // 3: one index that moves with the state instead of two. Listing by procedure reads
    // (procedure, id), which a state change leaves alone; by state (and procedure) reads
    // (state, id), each in id order.
    r#"
DROP INDEX cases_procedure_state;
CREATE INDEX cases_procedure ON cases (procedure, id);
"#,
    // 4: a case's events linked from its newest, instead of an index on (case_id, seq).
    // That index took one more page at a random place in the file for every append (a
    // quarter of what a commit wrote) while events themselves fill the last page in turn.
    // Each event keeps the row id of the case's event before it (`prev`, NULL for the
    // first) and the summary row that of the newest (`last_event`); a case's history is
    // read by following them back. The writer alone numbers events, from the summary row
    // it claims, so no two events of a case share a sequence number.
    r#"
CREATE TABLE events_v4 (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    prev INTEGER,
    action TEXT,
    actor TEXT NOT NULL,
    roles TEXT NOT NULL,
    at INTEGER NOT NULL,
    imported INTEGER NOT NULL,
    procedure_version INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    bytes BLOB NOT NULL
);
INSERT INTO events_v4 (id, case_id, seq, prev, action, actor, roles, at, imported, procedure_version, prev_hash, hash, bytes)
    SELECT e.id, e.case_id, e.seq,
        (SELECT p.id FROM events p WHERE p.case_id = e.case_id AND p.seq = e.seq - 1),
        e.action, e.actor, e.roles, e.at, e.imported, e.procedure_version, e.prev_hash, e.hash, e.bytes
    FROM events e ORDER BY e.id;
ALTER TABLE cases ADD COLUMN last_event INTEGER;
UPDATE cases SET last_event =
    (SELECT e.id FROM events e WHERE e.case_id = cases.id AND e.seq = cases.seq - 1);
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
"#,
    // 5: who takes part in which case (opened it, is named by its opening, or recorded an
    // event in it), for reading access: a caller that reads only its own cases lists them
    // from here in id order. Filled from the events already stored (no opening stored before
    // this migration names anyone); each append adds its actors and whom its events name.
    r#"
CREATE TABLE participants (
    actor TEXT NOT NULL,
    case_id TEXT NOT NULL,
    PRIMARY KEY (actor, case_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO participants (actor, case_id) SELECT actor, case_id FROM events;
"#,
    // 6: the deadline board (`deadlines`, see `sqlite_board`); the cases stored before it
    // are listed in `deadlines_unfilled` until their deadlines are reckoned.
    crate::sqlite_board::MIGRATION,
];

/// How a [`SqliteStore`] is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file.
    pub path: PathBuf,
    /// Whether to create the file when it is missing (otherwise opening a missing file is
    /// [`StoreError::Missing`]). Only the first connection may create it: the checkpointer's
    /// and the readers' connections never do, so a file removed under a running store is not
    /// silently replaced by an empty one.
    pub create: bool,
    /// The most appends committed in one transaction.
    pub max_batch: usize,
    /// Open without the writer thread and without migrating (for `fazhi verify`): appends fail.
    pub read_only: bool,
    /// The name of a registered SQLite VFS to open every connection with (`None`: SQLite's
    /// default). Tests use it to put a fault-injecting VFS under the store (see the
    /// `fazhi-fault-vfs` crate).
    pub vfs: Option<String>,
    /// How long the writer waits for a lock another connection holds before it gives up
    /// (the append is then refused, nothing written: [`StoreError::NotWritten`]).
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// Defaults for a file: batches of up to 512 appends, read-write, created when missing.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            max_batch: 512,
            read_only: false,
            create: true,
            vfs: None,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

type Reply = oneshot::Sender<Result<AppendOutcome, StoreError>>;

enum Msg {
    Append(Box<Append>, Reply),
    Close(oneshot::Sender<()>),
    /// The store was fenced from outside the writer (its files changed): start reopening.
    Wake,
    #[cfg(feature = "fault-injection")]
    Inject(Fault),
}

/// A fault to inject into a running [`SqliteStore`] (feature `fault-injection`), for the
/// tests of what the store and the service do when the disk fails.
#[cfg(feature = "fault-injection")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The next commit writes its batch, then reports an I/O error (`SQLITE_IOERR_FSYNC`), as
    /// when the WAL frames were written and the sync failed.
    CommitFailsAfterWriting,
    /// The next commit reports an I/O error and writes nothing (it is rolled back).
    CommitFailsWithoutWriting,
    /// The database cannot grow any more (SQLite's `max_page_count` set to its size): the
    /// next append that needs a new page fails with `SQLITE_FULL`, before its commit.
    DiskFull,
    /// Undoes [`Fault::DiskFull`].
    DiskSpaceFreed,
    /// The next `n` attempts to reopen the file after a fault fail with an I/O error.
    ReopenFails(u32),
}

/// The faults injected and not yet used.
#[derive(Debug, Default)]
struct Injected {
    /// The next commit fails: after writing (`true`) or without (`false`).
    commit: Option<bool>,
    /// How many reopen attempts are still to fail.
    reopens: u32,
}

/// An I/O error at sync, as SQLite reports it (for injected faults).
fn injected_io_error() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR_FSYNC),
        Some("injected I/O error".into()),
    )
}

/// A file's identity: the device and inode it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

/// The identity of the file at `path`, `None` when there is none (or the platform has no
/// inodes).
fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The WAL file beside a database.
fn wal_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

/// Why the store refuses writes, and for how long.
#[derive(Debug, Clone)]
struct Fence {
    /// Why (what [`EventStore::status`] tells).
    why: crate::Refusing,
    /// Not lifted by reopening (the database file itself was removed or replaced).
    permanent: bool,
}

/// What the store's handle, its writer thread and the file watch share.
struct Shared {
    path: PathBuf,
    /// The VFS every connection opens with ([`SqliteOptions::vfs`]).
    vfs: Option<String>,
    readers: Arc<Readers>,
    fence: Mutex<Option<Fence>>,
    /// How many times the writer has reopened the file.
    reopened: AtomicU64,
    /// The identities of the database and its WAL as opened.
    files: Mutex<Files>,
}

#[derive(Debug, Default)]
struct Files {
    db: Option<FileId>,
    wal: Option<FileId>,
}

impl Shared {
    /// Whether the database file and its WAL (once seen) are still the files opened: the same
    /// device and inode at their paths. `true` while the writer reopens (it holds the lock).
    fn files_as_opened(&self) -> bool {
        let Ok(files) = self.files.try_lock() else {
            return true;
        };
        let db = file_id(&self.path);
        if db.is_none() || db != files.db {
            return false;
        }
        files.wal.is_none() || file_id(&wal_path(&self.path)) == files.wal
    }

    fn fence(&self) -> Option<Fence> {
        self.fence.lock().ok().and_then(|f| f.clone())
    }

    /// Stops writes (a permanent fence is kept over a passing one).
    fn set_fence(&self, fence: Fence) {
        let Ok(mut f) = self.fence.lock() else {
            return;
        };
        if f.as_ref().is_some_and(|old| old.permanent) {
            return;
        }
        tracing::error!(
            kind = fence.why.kind.label(),
            db = %self.path.display(),
            reason = %fence.why.en,
            "the store refuses writes until it has reopened its file: {}",
            fence.why.zh
        );
        metrics::counter!("fazhi_store_fenced_total", "kind" => fence.why.kind.label())
            .increment(1);
        *f = Some(fence);
    }

    fn lift_fence(&self) {
        if let Ok(mut f) = self.fence.lock()
            && !f.as_ref().is_some_and(|old| old.permanent)
        {
            *f = None;
        }
    }

    /// The error an append gets while the store is fenced.
    fn refusal(fence: &Fence) -> StoreError {
        StoreError::Fenced {
            kind: fence.why.kind,
            zh: fence.why.zh.clone(),
            en: fence.why.en.clone(),
        }
    }
}

/// The SQLite event store. Appends go to one writer thread that owns the write connection
/// and commits every append waiting for it in one transaction (group commit), while a
/// checkpointer thread copies the WAL into the database; reads run on tokio's blocking pool,
/// at most 8 at a time, each on a pooled read connection (WAL lets them run beside
/// the writer).
pub struct SqliteStore {
    path: PathBuf,
    sender: Option<mpsc::Sender<Msg>>,
    closed: Arc<AtomicBool>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<Readers>,
    shared: Arc<Shared>,
}

/// How many reads run at once (and how many read connections are kept).
const READERS: usize = 8;

/// The read connections, and the permits that bound how many reads run at once.
struct Readers {
    pool: Mutex<Vec<Connection>>,
    read_only: bool,
    /// The VFS connections open with ([`SqliteOptions::vfs`]).
    vfs: Option<String>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    fn new(read_only: bool, first: Option<Connection>, vfs: Option<String>) -> Arc<Readers> {
        Arc::new(Readers {
            pool: Mutex::new(first.into_iter().collect()),
            read_only,
            vfs,
            slots: Arc::new(tokio::sync::Semaphore::new(READERS)),
        })
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::MalformedAppend(format!("{n} is too large")))
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(m: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(m).ok_or_else(|| StoreError::Corrupt(format!("time {m}")))
}

fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

/// How a connection opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Reads only (`fazhi verify`, `fazhi backup`, `fazhi export`).
    ReadOnly,
    /// Reads and writes a file that must exist.
    ReadWrite,
    /// Reads and writes, creating the file when it is missing.
    Create,
}

/// Opens a connection to `path` through the VFS named `vfs` (`None`: SQLite's default).
fn open_connection_in(
    path: &Path,
    vfs: Option<&str>,
    mode: Mode,
) -> Result<Connection, StoreError> {
    let flags = match mode {
        Mode::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        Mode::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        Mode::Create => {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        }
    };
    if mode != Mode::Create && !path.exists() {
        return Err(StoreError::Missing(path.to_owned()));
    }
    let read_only = mode == Mode::ReadOnly;
    let conn = match vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs)?,
        None => Connection::open_with_flags(path, flags)?,
    };
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if !read_only {
        // 4 KiB pages (SQLite's default, and the file system's block): with rowid tables an
        // append writes its event on the last page and updates a few index and summary pages,
        // and the busy index pages are shared by many appends of one commit. Takes effect when
        // the file is created (before WAL is on); existing files keep theirs.
        conn.pragma_update(None, "page_size", 4096)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// The schema version the database is at (`PRAGMA user_version`), refused when newer than
/// this program's.
fn schema_version(conn: &Connection) -> Result<usize, StoreError> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied)
        .map_err(|_| StoreError::Migration(format!("the database says user_version {applied}")))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Migration(format!(
            "the database is at schema version {applied}, newer than this program's {}",
            MIGRATIONS.len()
        )));
    }
    Ok(applied)
}

/// Brings the schema up to date in one transaction (a failed migration leaves the file as
/// it was). Upgrading a file may rewrite a whole table (schema 4 copies every event once),
/// which needs about that table's size again in free disk space and time at start; the WAL
/// that this leaves behind is copied back and emptied before the store opens.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied = schema_version(conn)?;
    if applied == MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Migration(format!("migration {}: {e}", i + 1)))?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
    }
    tx.commit()?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating when needed) the database and starts the writer thread.
    pub fn open(options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let closed = Arc::new(AtomicBool::new(false));
        if options.read_only {
            let reader = open_connection_in(&options.path, options.vfs.as_deref(), Mode::ReadOnly)?;
            // A read-only store does not migrate: it reads only the current schema.
            let applied = schema_version(&reader)?;
            if applied < MIGRATIONS.len() {
                return Err(StoreError::Migration(format!(
                    "the database is at schema version {applied} and this program reads {}: \
                     start `fazhi serve` on it once (it migrates at start), then read it again",
                    MIGRATIONS.len()
                )));
            }
            closed.store(true, Ordering::SeqCst);
            let readers = Readers::new(true, Some(reader), options.vfs.clone());
            return Ok(SqliteStore {
                shared: Arc::new(Shared {
                    path: options.path.clone(),
                    vfs: options.vfs.clone(),
                    readers: readers.clone(),
                    fence: Mutex::new(None),
                    reopened: AtomicU64::new(0),
                    files: Mutex::new(Files::default()),
                }),
                path: options.path,
                sender: None,
                closed,
                writer: Mutex::new(None),
                readers,
            });
        }
        let mode = if options.create {
            Mode::Create
        } else {
            Mode::ReadWrite
        };
        let mut conn = open_connection_in(&options.path, options.vfs.as_deref(), mode)?;
        conn.busy_timeout(options.busy_timeout)?;
        migrate(&mut conn)?;
        let readers = Readers::new(false, None, options.vfs.clone());
        let shared = Arc::new(Shared {
            path: options.path.clone(),
            vfs: options.vfs.clone(),
            readers: readers.clone(),
            fence: Mutex::new(None),
            reopened: AtomicU64::new(0),
            files: Mutex::new(Files {
                db: file_id(&options.path),
                wal: file_id(&wal_path(&options.path)),
            }),
        });
        let (tx, rx) = mpsc::channel();
        let max_batch = options.max_batch.max(1);
        let writer = std::thread::Builder::new()
            .name("fazhi-store-writer".into())
            .spawn({
                let shared = shared.clone();
                let busy_timeout = options.busy_timeout;
                move || writer_loop(conn, &rx, max_batch, &shared, busy_timeout)
            })
            .map_err(|e| StoreError::Migration(format!("cannot start the writer: {e}")))?;
        Ok(SqliteStore {
            path: options.path,
            sender: Some(tx),
            closed,
            writer: Mutex::new(Some(writer)),
            readers,
            shared,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks that the database file and its WAL are still the files the store opened (the
    /// same device and inode, still there); call it on a timer. A WAL removed or replaced
    /// under the store fences it: writes are refused until the writer has copied every
    /// committed page into the database and opened a new WAL. A database file removed or
    /// replaced fences it for good: what the store would acknowledge from then on would be
    /// lost with the old file, so it refuses writes until it is restarted. Answers whether
    /// both files are as opened.
    pub fn check_files(&self) -> bool {
        if self.sender.is_none() || self.closed.load(Ordering::SeqCst) {
            return true;
        }
        // The writer holds this lock while it reopens the file: skip that round.
        let Ok(mut files) = self.shared.files.try_lock() else {
            return true;
        };
        let db = file_id(&self.path);
        if db.is_none() || db != files.db {
            drop(files);
            self.shared.set_fence(Fence {
                why: crate::Refusing {
                    kind: FaultKind::FileChanged,
                    zh: format!(
                        "数据库文件`{}`在服务运行中被删除或替换，已停止写入：请停止服务，放回原文件（或恢复备份）后重新启动",
                        self.path.display()
                    ),
                    en: format!(
                        "the database file `{}` was removed or replaced while the service ran: writes are refused; stop the service, put the file back (or restore a backup) and start it again",
                        self.path.display()
                    ),
                },
                permanent: true,
            });
            let _ = self.send(Msg::Wake);
            return false;
        }
        let wal = file_id(&wal_path(&self.path));
        match (files.wal, wal) {
            (None, now) => files.wal = now,
            (Some(was), Some(now)) if was == now => {}
            _ => {
                drop(files);
                self.shared.set_fence(Fence {
                    why: crate::Refusing {
                        kind: FaultKind::FileChanged,
                        zh: format!(
                            "预写日志文件`{}-wal`被删除或替换，暂停写入，正在重新打开数据库",
                            self.path.display()
                        ),
                        en: format!(
                            "the WAL file `{}-wal` was removed or replaced: writes are refused until the store has copied its committed pages into the database and opened a new WAL",
                            self.path.display()
                        ),
                    },
                    permanent: false,
                });
                let _ = self.send(Msg::Wake);
                return false;
            }
        }
        true
    }

    /// Injects a fault into the running store (feature `fault-injection`, for tests).
    #[cfg(feature = "fault-injection")]
    pub fn inject(&self, fault: Fault) -> Result<(), StoreError> {
        self.send(Msg::Inject(fault))
    }

    /// The deadlines the board keeps for `case`, by time rule id (for `fazhi verify`).
    pub fn case_deadlines(&self, case: &str) -> Result<Vec<BoardDeadline>, StoreError> {
        self.read(|c| crate::sqlite_board::read_case(c, case))
    }

    /// The cases stored before the board existed whose deadlines have not been reckoned
    /// yet (by [`SqliteStore::fill_deadlines`] or an append), in id order.
    pub fn unfilled_deadlines(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT case_id FROM deadlines_unfilled ORDER BY case_id")?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
    }

    /// The cases whose deadlines the server reckons again when it starts: those stored
    /// before the board existed ([`SqliteStore::unfilled_deadlines`]) and those with a
    /// deadline counted on a year the calendar did not cover (a calendar added since may
    /// move it), in id order.
    pub fn deadlines_to_reckon(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT case_id FROM deadlines_unfilled
                 UNION SELECT case_id FROM deadlines WHERE provisional = 1
                 ORDER BY case_id",
            )?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
    }

    /// Writes the board's deadlines of a case, reckoned from its events when it had `seq`
    /// of them (for a case of [`SqliteStore::deadlines_to_reckon`]); the case is no longer
    /// unfilled. Answers `false` and writes nothing when the case has moved on since (its
    /// append wrote them) or does not exist. It commits on a connection of its own (the
    /// server calls it at start, before it serves).
    pub fn fill_deadlines(
        &self,
        case: &str,
        seq: u64,
        deadlines: &[BoardDeadline],
    ) -> Result<bool, StoreError> {
        if self.readers.read_only {
            return Err(StoreError::Closed);
        }
        let mut conn =
            open_connection_in(&self.path, self.readers.vfs.as_deref(), Mode::ReadWrite)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let procedure: Option<String> = tx
            .query_row(
                "SELECT c.procedure FROM cases c WHERE c.id = ?1 AND c.seq = ?2",
                params![case, to_i64(seq)?],
                |r| r.get(0),
            )
            .optional()?;
        let Some(procedure) = procedure else {
            return Ok(false);
        };
        crate::sqlite_board::write_case(&tx, case, &procedure, deadlines, false)?;
        tx.execute(
            "DELETE FROM deadlines_unfilled WHERE case_id = ?1",
            params![case],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Every case id, in order (for `fazhi verify`).
    pub fn case_ids(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id FROM cases ORDER BY id")?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
    }

    /// Case ids that have events but no summary row (which a sound store never has).
    pub fn orphan_case_ids(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT DISTINCT case_id FROM events WHERE case_id NOT IN (SELECT id FROM cases) ORDER BY case_id",
            )?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
    }

    /// Whether `actor` is recorded as taking part in `case` (for `fazhi verify`; the
    /// service asks [`EventStore::takes_part`]).
    pub fn is_participant(&self, case: &str, actor: &str) -> Result<bool, StoreError> {
        self.read(|c| takes_part(c, case, actor))
    }

    /// Who takes part in each case (by case id), as the participants table holds it: the
    /// actors of its events and whom its opening names, for `fazhi verify` to compare.
    pub fn participants(
        &self,
    ) -> Result<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>, StoreError>
    {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT case_id, actor FROM participants")?;
            let mut out = std::collections::BTreeMap::<_, std::collections::BTreeSet<_>>::new();
            for row in
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            {
                let (case, actor) = row?;
                out.entry(case).or_default().insert(actor);
            }
            Ok(out)
        })
    }

    /// How many events each case id has in the table, whether on its case's chain or not
    /// (for `fazhi verify`, which compares them with the chains it walks).
    pub fn event_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT case_id, count(*) FROM events GROUP BY case_id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, n)| Ok((id, to_u64(n)?)))
                .collect()
        })
    }

    /// A case's summary row and its history, read in one read transaction so that they
    /// agree even while the store is written to (for `fazhi verify`); the history is an
    /// error when its links are damaged.
    #[allow(clippy::type_complexity, reason = "a pair, read together")]
    pub fn snapshot(
        &self,
        case: &str,
    ) -> Result<(Option<CaseSummary>, Result<Vec<StoredEvent>, StoreError>), StoreError> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let summary = read_case_summary(&tx, case)?;
            let events = read_events(&tx, case);
            // A read: dropping the transaction ends it.
            drop(tx);
            Ok((summary, events))
        })
    }

    /// Everything stored about a case: its summary row and each event of its chain, column
    /// by column as stored, read in one read transaction (for `fazhi verify`, which compares
    /// them with what the events say).
    pub fn record(&self, case: &str) -> Result<CaseRecord, StoreError> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let summary = read_summary_cells(&tx, case)?;
            let events = read_event_records(&tx, case);
            drop(tx);
            Ok(CaseRecord { summary, events })
        })
    }

    /// Copies the database into a new file `out` with SQLite's online backup: one read
    /// transaction copies every page, so the copy is the database as of one commit, and
    /// (WAL) the writer goes on meanwhile. The copy is written beside `out` under a
    /// temporary name, checked (`PRAGMA integrity_check`) and then renamed to `out`, so that
    /// `out` never holds half a copy. `out` must not exist.
    pub fn backup_to(&self, out: &Path) -> Result<(), StoreError> {
        if out.exists() {
            return Err(StoreError::Backup(format!(
                "`{}` exists: name a new file (a backup never overwrites one)",
                out.display()
            )));
        }
        let mut partial = out.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let _ = std::fs::remove_file(&partial);
        let copied = self.read(|source| {
            let mut dest = Connection::open(&partial)?;
            {
                let backup = rusqlite::backup::Backup::new(source, &mut dest)?;
                // All pages in one step: one read transaction, one consistent copy.
                loop {
                    match backup.step(-1)? {
                        rusqlite::backup::StepResult::Done => break,
                        _ => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }
            let check: String = dest.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(StoreError::Backup(format!(
                    "the copy does not pass SQLite's integrity check: {check}"
                )));
            }
            // A file on its own, in rollback-journal mode, so that reading it (`fazhi
            // verify`) adds no WAL beside it; `fazhi serve` turns WAL on again when it opens it.
            dest.pragma_update(None, "journal_mode", "DELETE")?;
            dest.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
            Ok(())
        });
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        sync_file(&partial)?;
        std::fs::rename(&partial, out).map_err(|e| {
            StoreError::Backup(format!("cannot name the copy `{}`: {e}", out.display()))
        })?;
        if let Some(dir) = out.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            sync_file(dir)?;
        }
        Ok(())
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        read_with(&self.readers, &self.path, f)
    }

    /// Runs a read on tokio's blocking pool (inline outside a runtime), so that a slow query
    /// does not hold up the async worker that asked for it; at most `READERS` at a time.
    fn read_off_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let (readers, path) = (self.readers.clone(), self.path.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => Box::pin(async move {
                let permit = readers
                    .slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| StoreError::Closed)?;
                runtime
                    .spawn_blocking(move || {
                        let out = read_with(&readers, &path, f);
                        drop(permit);
                        out
                    })
                    .await
                    // Only a runtime shutting down cancels a blocking task (and a read
                    // cannot panic: the lints forbid it).
                    .unwrap_or(Err(StoreError::Closed))
            }),
            Err(_) => ready(read_with(&readers, &path, f)),
        }
    }

    fn send(&self, msg: Msg) -> Result<(), StoreError> {
        let sender = self.sender.as_ref().ok_or(StoreError::Closed)?;
        sender.send(msg).map_err(|_| StoreError::Closed)
    }

    fn stop(&self) {
        if let Ok(mut w) = self.writer.lock()
            && let Some(handle) = w.take()
        {
            let (tx, _rx) = oneshot::channel();
            let _ = self.send(Msg::Close(tx));
            let _ = handle.join();
        }
    }
}

/// Runs `f` on a pooled read connection (opening one, read-only when the store is, when the
/// pool is empty).
fn read_with<T>(
    readers: &Readers,
    path: &Path,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let pooled = readers.pool.lock().ok().and_then(|mut p| p.pop());
    let conn = match pooled {
        Some(c) => c,
        None => open_connection_in(
            path,
            readers.vfs.as_deref(),
            if readers.read_only {
                Mode::ReadOnly
            } else {
                Mode::ReadWrite
            },
        )?,
    };
    let out = f(&conn);
    if let Ok(mut p) = readers.pool.lock()
        && p.len() < READERS
    {
        p.push(conn);
    }
    out
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A case's events in order, found by following its links back from the newest. Each link
/// must go to an earlier row (so that even a damaged file cannot make the walk go round),
/// and the walk must come down to event 0 one number at a time: a history that breaks off
/// is an error, never a shorter history.
fn read_events(c: &Connection, case: &str) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = c.prepare_cached(
        "WITH RECURSIVE chain (id, prev, seq, hash, bytes) AS (
            SELECT e.id, e.prev, e.seq, e.hash, e.bytes
                FROM cases c JOIN events e ON e.id = c.last_event WHERE c.id = ?1
            UNION ALL
            SELECT e.id, e.prev, e.seq, e.hash, e.bytes
                FROM chain JOIN events e ON e.id = chain.prev WHERE e.id < chain.id
         )
         SELECT seq, hash, bytes FROM chain",
    )?;
    let mut rows = stmt
        .query_map(params![case], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    let mut events = Vec::with_capacity(rows.len());
    for (want, (seq, hash, bytes)) in (0u64..).zip(rows) {
        let seq = to_u64(seq)?;
        if seq != want {
            return Err(StoreError::Corrupt(format!(
                "the history of `{case}` breaks off below event {seq}: its link to event {} is \
                 missing or wrong",
                seq.saturating_sub(1)
            )));
        }
        events.push(StoredEvent { seq, hash, bytes });
    }
    Ok(events)
}

/// At most `limit` events of a case from event `from` on, by seq: the case's chain is
/// followed back from its newest event (as [`read_events`] does) down to event `from`, and
/// only the page's rows are read whole. A page costs the events after it in link steps.
fn read_events_page(
    c: &Connection,
    case: &str,
    from: u64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let from = i64::try_from(from).unwrap_or(i64::MAX);
    let end = from.saturating_add(i64::from(limit));
    let mut stmt = c.prepare_cached(
        "WITH RECURSIVE chain (id, prev, seq) AS (
            SELECT e.id, e.prev, e.seq
                FROM cases c JOIN events e ON e.id = c.last_event WHERE c.id = ?1
            UNION ALL
            SELECT e.id, e.prev, e.seq
                FROM chain JOIN events e ON e.id = chain.prev
                WHERE e.id < chain.id AND chain.seq > ?2
         )
         SELECT e.seq, e.hash, e.bytes FROM chain JOIN events e ON e.id = chain.id
         WHERE chain.seq >= ?2 AND chain.seq < ?3 ORDER BY chain.seq",
    )?;
    let rows = stmt
        .query_map(params![case, from, end], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(seq, hash, bytes)| {
            Ok(StoredEvent {
                seq: to_u64(seq)?,
                hash,
                bytes,
            })
        })
        .collect()
}

/// Flushes a file (or a directory, after a rename in it) to disk.
fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Backup(format!("cannot sync `{}`: {e}", path.display())))
}

/// A case's summary row column by column as stored, if it has one.
fn read_summary_cells(c: &Connection, case: &str) -> Result<Option<Columns>, StoreError> {
    let sql = format!(
        "SELECT {} FROM cases WHERE id = ?1",
        audit::SUMMARY_NAMES.join(", ")
    );
    Ok(c.prepare(&sql)?
        .query_row(params![case], |r| {
            let mut cells = Vec::with_capacity(audit::SUMMARY_NAMES.len());
            for (i, name) in audit::SUMMARY_NAMES.iter().enumerate() {
                cells.push((*name, Cell::from(r.get_ref(i)?)));
            }
            Ok(Columns(cells))
        })
        .optional()?)
}

/// A case's events with their columns as stored, found as [`read_events`] finds them (by
/// the links back from the newest), numbered by their place on the chain. Unlike
/// [`read_events`] it does not stop at a `seq` column out of place: the caller compares
/// every column with the bytes.
fn read_event_records(c: &Connection, case: &str) -> Result<Vec<EventRecord>, StoreError> {
    let names = audit::EVENT_NAMES.map(|n| format!("e.{n}")).join(", ");
    let sql = format!(
        "WITH RECURSIVE chain (id, prev) AS (
            SELECT e.id, e.prev FROM cases c JOIN events e ON e.id = c.last_event WHERE c.id = ?1
            UNION ALL
            SELECT e.id, e.prev FROM chain JOIN events e ON e.id = chain.prev WHERE e.id < chain.id
         )
         SELECT e.bytes, {names} FROM chain JOIN events e ON e.id = chain.id ORDER BY e.id DESC"
    );
    let mut stmt = c.prepare(&sql)?;
    let mut rows = stmt
        .query_map(params![case], |r| {
            let bytes = match r.get_ref(0)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                    b.to_vec()
                }
                _ => Vec::new(),
            };
            let mut cells = Vec::with_capacity(audit::EVENT_NAMES.len());
            for (i, name) in audit::EVENT_NAMES.iter().enumerate() {
                cells.push((*name, Cell::from(r.get_ref(i + 1)?)));
            }
            Ok((bytes, Columns(cells)))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    // Positions on the chain, not the `seq` column: that column is one of those checked.
    let events = (0u64..)
        .zip(rows)
        .map(|(seq, (bytes, columns))| {
            let hash = match columns.get("hash") {
                Some(Cell::Text(h)) => h.clone(),
                _ => String::new(),
            };
            EventRecord {
                event: StoredEvent { seq, hash, bytes },
                columns,
            }
        })
        .collect();
    Ok(events)
}

/// A case's summary row, if it has one.
fn read_case_summary(c: &Connection, case: &str) -> Result<Option<CaseSummary>, StoreError> {
    let raw = c
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM cases WHERE id = ?1"
        ))?
        .query_row(params![case], read_summary)
        .optional()?;
    raw.map(RawSummary::cook).transpose()
}

fn read_summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawSummary> {
    Ok(RawSummary {
        id: r.get(0)?,
        procedure: r.get(1)?,
        procedure_version: r.get(2)?,
        title: r.get(3)?,
        state: r.get(4)?,
        tracks: r.get(5)?,
        seq: r.get(6)?,
        head: r.get(7)?,
        opened_at: r.get(8)?,
        last_at: r.get(9)?,
        next_due: r.get(10)?,
        closed: r.get(11)?,
    })
}

const SUMMARY_COLUMNS: &str = "id, procedure, procedure_version, title, state, tracks, seq, head, opened_at, last_at, next_due, closed";

struct RawSummary {
    id: String,
    procedure: String,
    procedure_version: u32,
    title: String,
    state: String,
    tracks: String,
    seq: i64,
    head: String,
    opened_at: i64,
    last_at: i64,
    next_due: Option<i64>,
    closed: bool,
}

impl RawSummary {
    fn cook(self) -> Result<CaseSummary, StoreError> {
        Ok(CaseSummary {
            tracks: serde_json::from_str(&self.tracks)
                .map_err(|e| StoreError::Corrupt(format!("tracks of `{}`: {e}", self.id)))?,
            id: self.id,
            procedure: self.procedure,
            procedure_version: self.procedure_version,
            title: self.title,
            state: self.state,
            seq: to_u64(self.seq)?,
            head: self.head,
            opened_at: from_micros(self.opened_at)?,
            last_at: from_micros(self.last_at)?,
            next_due: self.next_due.map(from_micros).transpose()?,
            closed: self.closed,
        })
    }
}

fn read_idempotency(
    c: &Connection,
    principal: &str,
    key: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT request_hash, case_id, status, headers, body FROM idempotency WHERE principal = ?1 AND key = ?2",
        )?
        .query_row(params![principal, key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u16>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })
        .optional()?;
    let Some((request_hash, case, status, headers, body)) = row else {
        return Ok(None);
    };
    let headers = serde_json::from_str(&headers)
        .map_err(|e| StoreError::Corrupt(format!("idempotency headers: {e}")))?;
    Ok(Some(IdempotencyRecord {
        principal: principal.to_owned(),
        key: key.to_owned(),
        request_hash,
        case,
        status,
        headers,
        body,
    }))
}

/// The summary row of a case as its claim found it (what the update compares with).
struct Claimed {
    n: i64,
    state: String,
    next_due: Option<i64>,
    closed: bool,
}

/// The summary row's update, by what moved: `[nothing indexed, the state, the due time or
/// closing, both]`. All four take the same parameters (SQLite lets a statement leave some
/// of its numbered parameters unused: ?2 is the state, ?7 and ?8 the due time and whether
/// the case is closed; ?9, the newest event, is in every one).
const UPDATE_SUMMARY: [&str; 4] = [
    "UPDATE cases SET tracks = ?3, seq = ?4, head = ?5, last_at = ?6, last_event = ?9
     WHERE n = ?1",
    "UPDATE cases SET state = ?2, tracks = ?3, seq = ?4, head = ?5, last_at = ?6, last_event = ?9
     WHERE n = ?1",
    "UPDATE cases SET tracks = ?3, seq = ?4, head = ?5, last_at = ?6, next_due = ?7, closed = ?8,
        last_event = ?9
     WHERE n = ?1",
    "UPDATE cases SET state = ?2, tracks = ?3, seq = ?4, head = ?5, last_at = ?6, next_due = ?7,
        closed = ?8, last_event = ?9
     WHERE n = ?1",
];

/// Applies one append inside the batch's transaction. Only `Appended` leaves writes behind.
fn apply_one(c: &Connection, a: &Append) -> Result<AppendOutcome, StoreError> {
    if let Some(idem) = &a.idempotency
        && let Some(rec) = read_idempotency(c, &idem.principal, &idem.key)?
    {
        return Ok(AppendOutcome::Replay(rec));
    }
    if let Err(e) = check_append(a) {
        // A stale append is a conflict whatever else is wrong with it.
        let current = current_seq(c, &a.case)?;
        if current != a.expected_seq {
            return Ok(AppendOutcome::Conflict {
                current_seq: current,
            });
        }
        return Err(e);
    }
    // Claim the case: its summary row must be at `expected_seq` (a new case must have none).
    // Claiming nothing is a conflict, and nothing is written.
    let claimed: Option<(Option<Claimed>, Option<i64>)> = if a.expected_seq == 0 {
        let exists = c
            .prepare_cached("SELECT 1 FROM cases WHERE id = ?1")?
            .query_row(params![a.case], |_| Ok(()))
            .optional()?;
        exists.is_none().then_some((None, None))
    } else {
        c.prepare_cached(
            "SELECT n, last_event, state, next_due, closed FROM cases WHERE id = ?1 AND seq = ?2",
        )?
        .query_row(params![a.case, to_i64(a.expected_seq)?], |r| {
            let claimed = Claimed {
                n: r.get(0)?,
                state: r.get(2)?,
                next_due: r.get(3)?,
                closed: r.get(4)?,
            };
            Ok((Some(claimed), r.get(1)?))
        })
        .optional()?
    };
    let Some((row, mut last_event)) = claimed else {
        return Ok(AppendOutcome::Conflict {
            current_seq: current_seq(c, &a.case)?,
        });
    };
    // The events, each linked to the one before it in its case.
    let mut ins = c.prepare_cached(
        "INSERT INTO events (case_id, seq, prev, action, actor, roles, at, imported, procedure_version, prev_hash, hash, bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for e in &a.events {
        let roles = serde_json::to_string(&e.roles).unwrap_or_default();
        ins.execute(params![
            a.case,
            to_i64(e.seq)?,
            last_event,
            e.action,
            e.actor,
            roles,
            micros(e.at),
            e.imported,
            e.procedure_version,
            e.prev_hash,
            e.hash,
            e.bytes,
        ])?;
        last_event = Some(c.last_insert_rowid());
    }
    // Its actors, and whom its events name, take part in the case (written only the first
    // time: no page is dirtied for one already recorded).
    let mut part = c.prepare_cached(
        "INSERT INTO participants (actor, case_id) SELECT ?1, ?2
         WHERE NOT EXISTS (SELECT 1 FROM participants WHERE actor = ?1 AND case_id = ?2)",
    )?;
    let mut written: Vec<&str> = Vec::new();
    for who in a
        .events
        .iter()
        .flat_map(|e| std::iter::once(&e.actor).chain(&e.named))
    {
        if !written.contains(&who.as_str()) {
            part.execute(params![who, a.case])?;
            written.push(who);
        }
    }
    // The summary row moves on.
    let s = &a.summary;
    let tracks = serde_json::to_string(&s.tracks).unwrap_or_default();
    let fresh = row.is_none();
    match row {
        None => {
            c.prepare_cached(
                "INSERT INTO cases (id, procedure, procedure_version, title, state, tracks, seq, head, opened_at, last_at, next_due, closed, last_event)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                s.id,
                s.procedure,
                s.procedure_version,
                s.title,
                s.state,
                tracks,
                to_i64(s.seq)?,
                s.head,
                micros(s.opened_at),
                micros(s.last_at),
                s.next_due.map(micros),
                s.closed,
                last_event,
            ])?;
        }
        Some(was) => {
            // Only what this event changed among the indexed columns: a column in the SET
            // list rewrites every index that holds it, even to the same value.
            let state_moved = was.state != s.state;
            let due_moved = was.next_due != s.next_due.map(micros) || was.closed != s.closed;
            let [neither, state, due, both] = UPDATE_SUMMARY;
            let sql = match (state_moved, due_moved) {
                (false, false) => neither,
                (true, false) => state,
                (false, true) => due,
                (true, true) => both,
            };
            c.prepare_cached(sql)?.execute(params![
                was.n,
                s.state,
                tracks,
                to_i64(s.seq)?,
                s.head,
                micros(s.last_at),
                s.next_due.map(micros),
                s.closed,
                last_event,
            ])?;
            // A migration event (after the opening, no action) moves the case onto another
            // version of its procedure: the one its summary names.
            if a.events.iter().any(|e| e.seq > 0 && e.action.is_none()) {
                c.prepare_cached("UPDATE cases SET procedure_version = ?2 WHERE n = ?1")?
                    .execute(params![was.n, s.procedure_version])?;
            }
        }
    }
    // The case's deadlines on the board, replaced when they changed.
    crate::sqlite_board::write_case(c, &a.case, &s.procedure, &a.deadlines, fresh)?;
    if !fresh {
        // A case stored before the board existed has its deadlines now.
        c.prepare_cached("DELETE FROM deadlines_unfilled WHERE case_id = ?1")?
            .execute(params![a.case])?;
    }
    if let Some(idem) = &a.idempotency {
        let headers = serde_json::to_string(&idem.headers).unwrap_or_default();
        c.prepare_cached(
            "INSERT INTO idempotency (principal, key, request_hash, case_id, status, headers, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            idem.principal,
            idem.key,
            idem.request_hash,
            idem.case,
            idem.status,
            headers,
            idem.body,
        ])?;
    }
    Ok(AppendOutcome::Appended)
}

/// Whether `actor` is recorded as taking part in `case`.
fn takes_part(c: &Connection, case: &str, actor: &str) -> Result<bool, StoreError> {
    Ok(
        c.prepare_cached("SELECT 1 FROM participants WHERE actor = ?1 AND case_id = ?2")?
            .query_row(params![actor, case], |_| Ok(()))
            .optional()?
            .is_some(),
    )
}

/// The sequence number a case is at (0 when it has none).
fn current_seq(c: &Connection, case: &str) -> Result<u64, StoreError> {
    let current: i64 = c
        .prepare_cached("SELECT seq FROM cases WHERE id = ?1")?
        .query_row(params![case], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    to_u64(current)
}

/// Whether an append is whole: events numbered on from `expected_seq`, and a summary of the
/// same case at the last of them.
pub(crate) fn check_append(a: &Append) -> Result<(), StoreError> {
    if a.events.is_empty() {
        return Err(StoreError::MalformedAppend("an append needs events".into()));
    }
    let n = u64::try_from(a.events.len()).unwrap_or(u64::MAX);
    if a.summary.id != a.case || a.summary.seq != a.expected_seq.saturating_add(n) {
        return Err(StoreError::MalformedAppend(format!(
            "the summary of `{}` (seq {}) does not follow the events",
            a.summary.id, a.summary.seq
        )));
    }
    for (i, e) in a.events.iter().enumerate() {
        let want = a
            .expected_seq
            .saturating_add(u64::try_from(i).unwrap_or(u64::MAX));
        if e.seq != want {
            return Err(StoreError::MalformedAppend(format!(
                "event {} of `{}` should be event {want}",
                e.seq, a.case
            )));
        }
    }
    Ok(())
}

/// Where a batch failed: before its commit (nothing was written) or at it (unknown).
enum Failed {
    Before(StoreError),
    Commit(rusqlite::Error),
}

/// An append's own error after its batch committed: a fault of the store (its savepoint was
/// rolled back, so nothing of it was written) is [`StoreError::NotWritten`].
fn not_written(e: StoreError) -> StoreError {
    match e {
        StoreError::Sqlite(e) => match FaultKind::of(&e) {
            Some(kind) => StoreError::NotWritten {
                kind,
                message: e.to_string(),
            },
            None => StoreError::Sqlite(e),
        },
        other => other,
    }
}

/// Counts and logs a fault met by `appends` appends.
fn record_fault(kind: FaultKind, outcome: &'static str, appends: usize, e: &dyn std::fmt::Display) {
    metrics::counter!("fazhi_store_faults_total", "kind" => kind.label(), "outcome" => outcome)
        .increment(appends as u64);
    if outcome == "unknown" {
        tracing::error!(
            kind = kind.label(),
            appends,
            error = %e,
            "a commit failed: the outcome of its appends is unknown (结果未知)"
        );
    } else {
        tracing::warn!(
            kind = kind.label(),
            appends,
            error = %e,
            "a store fault before commit: nothing was written (未写入)"
        );
    }
}

/// Commits a batch in one transaction. Answers every append after the commit, and says
/// which fault, if any, requires the store to reopen its file before it writes again.
///
/// An append that is refused (a conflict, a replay, a malformed append) writes nothing, so
/// the batch first runs without savepoints (each would copy every page the append touches
/// that an earlier append of the batch already changed). Should an append fail once it has
/// written (an I/O error, say), or SQLite have rolled the transaction back, the whole
/// transaction is rolled back and the batch runs again with each append in its own
/// savepoint, so that only the failing one is undone.
///
/// A failure before the commit (BEGIN, a statement, a savepoint) rolls everything back:
/// every append of the batch is [`StoreError::NotWritten`]. A failure of the commit itself
/// leaves the batch in doubt (the WAL frames may be in the file with their sync failed):
/// every append of the batch is [`StoreError::OutcomeUnknown`], and the store is fenced.
fn commit_batch(
    conn: &mut Connection,
    injected: &mut Injected,
    batch: Vec<(Box<Append>, Reply)>,
    as_opened: &dyn Fn() -> bool,
) -> Option<FaultKind> {
    let started = Instant::now();
    let size = batch.len();
    let mut run = |conn: &mut Connection,
                   savepoints: bool|
     -> Result<Option<Vec<Result<AppendOutcome, StoreError>>>, Failed> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| Failed::Before(e.into()))?;
        let mut out = Vec::with_capacity(batch.len());
        for (a, _) in &batch {
            if !savepoints {
                let before = tx.total_changes();
                let r = apply_one(&tx, a);
                if r.is_err() && (tx.total_changes() != before || tx.is_autocommit()) {
                    // It wrote before it failed, or the transaction is gone: dropping the
                    // transaction rolls it back, and the batch runs again with savepoints.
                    metrics::counter!("fazhi_store_batch_reruns_total").increment(1);
                    return Ok(None);
                }
                out.push(r);
                continue;
            }
            // Cached statements: rusqlite's `savepoint()` parses its SQL anew each time.
            let step = |sql: &str| tx.prepare_cached(sql).and_then(|mut s| s.execute([]));
            step("SAVEPOINT append").map_err(|e| Failed::Before(e.into()))?;
            let r = apply_one(&tx, a);
            if tx.is_autocommit() {
                // SQLite rolled the whole transaction back (a full disk, an I/O error):
                // nothing of the batch was written.
                return Err(Failed::Before(r.err().unwrap_or(StoreError::NotWritten {
                    kind: FaultKind::Other,
                    message: "the transaction was rolled back".into(),
                })));
            }
            if !matches!(r, Ok(AppendOutcome::Appended)) {
                step("ROLLBACK TO append").map_err(|e| Failed::Before(e.into()))?;
            }
            step("RELEASE append").map_err(|e| Failed::Before(e.into()))?;
            out.push(r);
        }
        match injected.commit.take() {
            Some(true) => {
                tx.commit().map_err(Failed::Commit)?;
                return Err(Failed::Commit(injected_io_error()));
            }
            Some(false) => {
                drop(tx);
                return Err(Failed::Commit(injected_io_error()));
            }
            None => tx.commit().map_err(Failed::Commit)?,
        }
        Ok(Some(out))
    };
    let result = match run(conn, false) {
        Ok(Some(out)) => Ok(out),
        Ok(None) => run(conn, true).map(Option::unwrap_or_default),
        Err(e) => Err(e),
    };
    metrics::histogram!("fazhi_store_batch_size").record(size as f64);
    metrics::histogram!("fazhi_store_commit_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(_) if !as_opened() => {
            // Committed, but into a database or WAL file that is no longer the one at its
            // path (removed or replaced since it was opened): the next start will not find
            // it. Not acknowledged; the store is fenced (the file watch makes it permanent
            // for a removed database).
            let message = "the database or its WAL was removed or replaced: this commit went \
                           into a file that the next start will not read"
                .to_owned();
            record_fault(FaultKind::FileChanged, "unknown", size, &message);
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::OutcomeUnknown {
                    kind: FaultKind::FileChanged,
                    message: message.clone(),
                }));
            }
            Some(FaultKind::FileChanged)
        }
        Ok(out) => {
            let appended = out
                .iter()
                .filter(|r| matches!(r, Ok(AppendOutcome::Appended)))
                .count();
            metrics::counter!("fazhi_store_appends_total").increment(appended as u64);
            let mut fence = None;
            for ((_, reply), r) in batch.into_iter().zip(out) {
                let r = r.map_err(not_written);
                if let Err(e @ StoreError::NotWritten { kind, .. }) = &r {
                    record_fault(*kind, "not_written", 1, e);
                    if kind.fences() {
                        fence = Some(*kind);
                    }
                }
                let _ = reply.send(r);
            }
            fence
        }
        Err(Failed::Before(e)) => {
            let kind = e.fault().unwrap_or(FaultKind::Other);
            record_fault(kind, "not_written", size, &e);
            let message = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::NotWritten {
                    kind,
                    message: message.clone(),
                }));
            }
            kind.fences().then_some(kind)
        }
        Err(Failed::Commit(e)) => {
            let kind = FaultKind::of(&e).unwrap_or(FaultKind::Other);
            record_fault(kind, "unknown", size, &e);
            let message = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(StoreError::OutcomeUnknown {
                    kind,
                    message: message.clone(),
                }));
            }
            Some(kind)
        }
    }
}

/// How long the checkpointer lets commits gather before it copies them into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

/// A WAL longer than this many frames (16 MiB of 4 KiB pages; 4 MiB in files of schema 1,
/// which keep their 1 KiB pages) after a checkpoint asks the writer to let the WAL start
/// again from its beginning.
const RESTART_WAL_AT: i64 = 4096;

/// The checkpointer: its own connection on its own thread copies committed WAL frames into
/// the database (SQLite's PASSIVE checkpoint, which never blocks the writer), so that no
/// commit waits for a checkpoint. Under steady load the writer always has frames the last
/// checkpoint did not copy, and SQLite only starts the WAL over when none is left; so when
/// the WAL has grown long, the writer runs one short checkpoint of its own between two
/// commits (only the frames committed since), and its next transaction starts the WAL over.
struct Checkpointer {
    tick: Option<mpsc::SyncSender<()>>,
    restart_wanted: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path, vfs: Option<&str>) -> Result<Checkpointer, StoreError> {
        let conn = open_connection_in(path, vfs, Mode::ReadWrite)?;
        let (tick, ticks) = mpsc::sync_channel(1);
        let restart_wanted = Arc::new(AtomicBool::new(false));
        let wanted = restart_wanted.clone();
        let thread = std::thread::Builder::new()
            .name("fazhi-store-checkpointer".into())
            .spawn(move || checkpointer_loop(&conn, &ticks, &wanted))
            .map_err(|e| StoreError::Migration(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer {
            tick: Some(tick),
            restart_wanted,
            thread: Some(thread),
        })
    }

    /// Called after each commit: wakes the checkpointer, and runs the writer's short
    /// checkpoint when the checkpointer asked for one.
    fn committed(&self, conn: &Connection) {
        if let Some(tick) = &self.tick {
            let _ = tick.try_send(());
        }
        if self.restart_wanted.swap(false, Ordering::SeqCst) {
            let started = Instant::now();
            match checkpoint(conn) {
                Ok(Checkpointed { busy: false, .. }) => {
                    metrics::histogram!("fazhi_store_restart_checkpoint_seconds")
                        .record(started.elapsed().as_secs_f64());
                }
                // The checkpointer (or a reader) was in the way: again after the next commit.
                Ok(_) => self.restart_wanted.store(true, Ordering::SeqCst),
                Err(e) => {
                    checkpoint_failed("restart", &e);
                    self.restart_wanted.store(true, Ordering::SeqCst);
                }
            }
        }
    }

    /// Stops the thread after its last checkpoint.
    fn stop(&mut self) {
        self.tick = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a checkpoint did.
struct Checkpointed {
    /// Another checkpoint was running, so this one did nothing.
    busy: bool,
    /// The WAL's length in frames.
    frames: i64,
}

/// A PASSIVE checkpoint.
fn checkpoint(conn: &Connection) -> rusqlite::Result<Checkpointed> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Checkpointed {
            busy: r.get::<_, i64>(0)? != 0,
            frames: r.get(1)?,
        })
    })
}

fn checkpointer_loop(conn: &Connection, ticks: &mpsc::Receiver<()>, restart_wanted: &AtomicBool) {
    // Each round: wait for a commit, let more gather, copy them all.
    while ticks.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_EVERY);
        while ticks.try_recv().is_ok() {}
        let started = Instant::now();
        match checkpoint(conn) {
            Ok(done) => {
                metrics::histogram!("fazhi_store_checkpoint_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::gauge!("fazhi_store_wal_frames").set(done.frames as f64);
                if done.frames >= RESTART_WAL_AT {
                    restart_wanted.store(true, Ordering::SeqCst);
                }
            }
            Err(e) => checkpoint_failed("passive", &e),
        }
    }
}

/// Counts and logs a failed checkpoint (the WAL then grows until one succeeds).
fn checkpoint_failed(which: &'static str, e: &rusqlite::Error) {
    let kind = FaultKind::of(e).unwrap_or(FaultKind::Other);
    metrics::counter!("fazhi_store_checkpoint_failures_total", "kind" => kind.label(), "checkpoint" => which)
        .increment(1);
    tracing::warn!(kind = kind.label(), checkpoint = which, error = %e, "a checkpoint failed: the WAL grows until one succeeds");
}

/// Copies every committed WAL frame into the database, syncs it and empties the WAL; an
/// error unless it did all of that.
fn truncate_checkpoint(conn: &Connection) -> Result<(), StoreError> {
    let (busy, log, done): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .inspect_err(|e| checkpoint_failed("truncate", e))?;
    if busy != 0 || log != done && log > 0 {
        return Err(StoreError::NotWritten {
            kind: FaultKind::Busy,
            message: format!(
                "the checkpoint could not copy the whole WAL ({done} of {log} frames): a reader is in the way"
            ),
        });
    }
    Ok(())
}

/// The writer thread's state: its connection (none while it reopens the file), the
/// checkpointer beside it, and when to try reopening next while fenced.
struct Writer<'a> {
    conn: Option<Connection>,
    checkpointer: Option<Checkpointer>,
    shared: &'a Shared,
    busy_timeout: Duration,
    /// Whether the writer is working on a fence (reopening with a backoff).
    reopening: bool,
    backoff: Duration,
    next_attempt: Instant,
    injected: Injected,
}

/// The first wait between two attempts to reopen the file, and the longest.
const REOPEN_FIRST: Duration = Duration::from_millis(10);
const REOPEN_MOST: Duration = Duration::from_secs(2);

impl Writer<'_> {
    /// Starts the checkpointer beside `conn`. With a checkpointer the writer checkpoints
    /// itself only as a backstop, should the WAL reach 10,000 pages all the same (the
    /// checkpointer failing, readers holding it); without one, every 1,000 pages (SQLite's
    /// default).
    fn start_checkpointer(&mut self) {
        self.checkpointer = match Checkpointer::start(&self.shared.path, self.shared.vfs.as_deref())
        {
            Ok(c) => {
                if let Some(conn) = &self.conn {
                    let _ = conn.pragma_update(None, "wal_autocheckpoint", 10_000);
                }
                Some(c)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no checkpointer: the writer checkpoints every 1,000 pages");
                None
            }
        };
    }

    #[cfg(feature = "fault-injection")]
    fn inject(&mut self, fault: Fault) {
        let max_pages = |conn: &Option<Connection>, n: Option<i64>| {
            if let Some(c) = conn {
                let n = n.unwrap_or_else(|| {
                    c.query_row("PRAGMA page_count", [], |r| r.get(0))
                        .unwrap_or(1)
                });
                let _ = c.query_row(&format!("PRAGMA max_page_count = {n}"), [], |_| Ok(()));
            }
        };
        match fault {
            Fault::CommitFailsAfterWriting => self.injected.commit = Some(true),
            Fault::CommitFailsWithoutWriting => self.injected.commit = Some(false),
            Fault::DiskFull => max_pages(&self.conn, None),
            Fault::DiskSpaceFreed => max_pages(&self.conn, Some(0x3fff_fffe)),
            Fault::ReopenFails(n) => self.injected.reopens = n,
        }
    }

    /// One attempt to reopen the file; on failure the next is due after a longer wait.
    fn try_reopen(&mut self) {
        match self.reopen() {
            Ok(()) => {
                self.reopening = false;
                self.shared.reopened.fetch_add(1, Ordering::SeqCst);
                self.shared.lift_fence();
                metrics::counter!("fazhi_store_reopened_total").increment(1);
                tracing::info!(db = %self.shared.path.display(), "the store reopened its file and accepts writes again (已恢复写入)");
            }
            Err(e) => {
                metrics::counter!("fazhi_store_reopen_failures_total").increment(1);
                if matches!(e, StoreError::Fenced { .. }) {
                    // Fenced for good (its file is gone): said once when it was fenced.
                    tracing::debug!(error = %e, "the store stays fenced");
                } else {
                    tracing::warn!(error = %e, retry_in_ms = self.backoff.as_millis() as u64, "the store could not reopen its file yet");
                }
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(REOPEN_MOST);
            }
        }
    }

    /// Closes every connection to the file and opens it again, so that SQLite recovers the
    /// WAL from the file (not from what the old connections remember), then proves the
    /// file writable and synced with a full checkpoint.
    fn reopen(&mut self) -> Result<(), StoreError> {
        let path = self.shared.path.clone();
        if self.injected.reopens > 0 {
            self.injected.reopens -= 1;
            return Err(StoreError::Sqlite(injected_io_error()));
        }
        // No read runs while the file is closed and opened again (reads wait for a slot).
        let slots = self.shared.readers.slots.clone();
        let _held = slots
            .try_acquire_many(u32::try_from(READERS).unwrap_or(u32::MAX))
            .map_err(|_| StoreError::NotWritten {
                kind: FaultKind::Busy,
                message: "reads are running".into(),
            })?;
        if let Ok(mut pool) = self.shared.readers.pool.lock() {
            pool.clear();
        }
        let Ok(mut files) = self.shared.files.lock() else {
            return Err(StoreError::Closed);
        };
        if let Some(fence) = self.shared.fence()
            && fence.permanent
        {
            // The old file is gone: keep nothing that reads it.
            if let Some(mut c) = self.checkpointer.take() {
                c.stop();
            }
            return Err(Shared::refusal(&fence));
        }
        if let Some(mut c) = self.checkpointer.take() {
            c.stop();
        }
        if let Some(conn) = self.conn.take() {
            // Every frame the connection knows committed goes into the database first, so
            // that closing loses nothing even when the WAL was removed under it. Should that
            // fail with the WAL still in place, closing is safe all the same: opening the
            // file again recovers the WAL from it.
            match truncate_checkpoint(&conn) {
                Ok(()) => drop(conn),
                Err(e) if files.wal.is_some() && file_id(&wal_path(&path)) != files.wal => {
                    self.conn = Some(conn);
                    return Err(e);
                }
                Err(_) => drop(conn),
            }
        }
        if file_id(&path).is_none() || file_id(&path) != files.db {
            return Err(StoreError::Missing(path));
        }
        let conn = open_connection_in(&path, self.shared.vfs.as_deref(), Mode::ReadWrite)?;
        conn.busy_timeout(self.busy_timeout)?;
        truncate_checkpoint(&conn)?;
        files.wal = file_id(&wal_path(&path));
        drop(files);
        self.conn = Some(conn);
        self.start_checkpointer();
        Ok(())
    }
}

fn writer_loop(
    conn: Connection,
    rx: &mpsc::Receiver<Msg>,
    max_batch: usize,
    shared: &Shared,
    busy_timeout: Duration,
) {
    let mut w = Writer {
        conn: Some(conn),
        checkpointer: None,
        shared,
        busy_timeout,
        reopening: false,
        backoff: REOPEN_FIRST,
        next_attempt: Instant::now(),
        injected: Injected::default(),
    };
    w.start_checkpointer();
    let mut closing: Option<oneshot::Sender<()>> = None;
    while closing.is_none() {
        let fenced = shared.fence().is_some();
        if fenced && !w.reopening {
            w.reopening = true;
            w.backoff = REOPEN_FIRST;
            w.next_attempt = Instant::now();
        }
        let first = if w.reopening {
            match rx.recv_timeout(w.next_attempt.saturating_duration_since(Instant::now())) {
                Ok(m) => Some(m),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match rx.recv() {
                Ok(m) => Some(m),
                Err(_) => break,
            }
        };
        if w.reopening && Instant::now() >= w.next_attempt {
            w.try_reopen();
        }
        let mut batch = Vec::new();
        let mut next = first;
        while let Some(msg) = next.take() {
            match msg {
                Msg::Append(a, reply) => batch.push((a, reply)),
                Msg::Close(done) => {
                    closing = Some(done);
                    break;
                }
                Msg::Wake => {}
                #[cfg(feature = "fault-injection")]
                Msg::Inject(fault) => w.inject(fault),
            }
            if batch.len() < max_batch {
                next = rx.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let fence = shared.fence();
        match (&mut w.conn, fence) {
            (Some(conn), None) => {
                // Two `stat`s a batch: a commit into a removed file is never acknowledged,
                // even between two rounds of the file watch.
                let as_opened = || shared.files_as_opened();
                if let Some(kind) = commit_batch(conn, &mut w.injected, batch, &as_opened) {
                    shared.set_fence(Fence {
                        why: crate::Refusing {
                            kind,
                            zh: format!(
                                "存储故障（{}），暂停写入，正在重新打开数据库文件",
                                kind.zh()
                            ),
                            en: format!(
                                "a store fault ({}): writes are refused until the store has reopened its file",
                                kind.label()
                            ),
                        },
                        permanent: false,
                    });
                } else if let Some(c) = &w.checkpointer {
                    c.committed(conn);
                }
            }
            (_, fence) => {
                let fence = fence.unwrap_or(Fence {
                    why: crate::Refusing {
                        kind: FaultKind::CantOpen,
                        zh: "数据库文件尚未重新打开，暂停写入".into(),
                        en: "the database file is not open again yet: writes are refused".into(),
                    },
                    permanent: false,
                });
                record_fault(fence.why.kind, "refused", batch.len(), &fence.why.en);
                for (_, reply) in batch {
                    let _ = reply.send(Err(Shared::refusal(&fence)));
                }
            }
        }
    }
    // Closing: whatever arrives after the close request is refused.
    while let Ok(msg) = rx.try_recv() {
        match msg {
            Msg::Append(_, reply) => {
                let _ = reply.send(Err(StoreError::Closed));
            }
            Msg::Close(done) => {
                let _ = done.send(());
            }
            _ => {}
        }
    }
    if let Some(c) = &mut w.checkpointer {
        c.stop();
    }
    if let Some(conn) = w.conn.take() {
        if let Err(e) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
            checkpoint_failed("close", &e);
        }
        drop(conn);
    }
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

fn ready<T: Send + 'static>(v: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(v))
}

impl EventStore for SqliteStore {
    fn append(&self, append: Append) -> BoxFuture<'static, Result<AppendOutcome, StoreError>> {
        if self.closed.load(Ordering::SeqCst) {
            return ready(Err(StoreError::Closed));
        }
        if let Some(fence) = self.shared.fence() {
            record_fault(fence.why.kind, "refused", 1, &fence.why.en);
            return ready(Err(Shared::refusal(&fence)));
        }
        let (tx, rx) = oneshot::channel();
        if let Err(e) = self.send(Msg::Append(Box::new(append), tx)) {
            return ready(Err(e));
        }
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }

    fn events(&self, case: &str) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
        let case = case.to_owned();
        self.read_off_thread(move |c| read_events(c, &case))
    }

    fn events_page(
        &self,
        case: &str,
        from: u64,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
        let case = case.to_owned();
        self.read_off_thread(move |c| read_events_page(c, &case, from, limit))
    }

    fn summary(&self, case: &str) -> BoxFuture<'static, Result<Option<CaseSummary>, StoreError>> {
        let case = case.to_owned();
        self.read_off_thread(move |c| read_case_summary(c, &case))
    }

    fn list(&self, query: CaseQuery) -> BoxFuture<'static, Result<Page, StoreError>> {
        self.read_off_thread(move |c| {
            let limit = query.limit.clamp(1, 1000);
            let Some(sql) = list_sql(&query) else {
                // The reader reads nothing the query asks for.
                return Ok(Page {
                    cases: Vec::new(),
                    next: None,
                });
            };
            let mut stmt = c.prepare_cached(&sql)?;
            let n = stmt.parameter_count();
            let raws = stmt
                .query_map(
                    rusqlite::params_from_iter(
                        ParamsFor::of(&query, i64::from(limit) + 1)
                            .into_iter()
                            .take(n),
                    ),
                    read_summary,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let mut cases = raws
                .into_iter()
                .map(RawSummary::cook)
                .collect::<Result<Vec<_>, _>>()?;
            let more = cases.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            cases.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            let next = if more {
                cases.last().map(|c| c.id.clone())
            } else {
                None
            };
            Ok(Page { cases, next })
        })
    }

    fn deadlines(
        &self,
        query: DeadlineQuery,
    ) -> BoxFuture<'static, Result<DeadlinePage, StoreError>> {
        self.read_off_thread(move |c| crate::sqlite_board::query(c, &query))
    }

    fn takes_part(&self, case: &str, actor: &str) -> BoxFuture<'static, Result<bool, StoreError>> {
        let (case, actor) = (case.to_owned(), actor.to_owned());
        self.read_off_thread(move |c| takes_part(c, &case, &actor))
    }

    fn idempotency(
        &self,
        principal: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<Option<IdempotencyRecord>, StoreError>> {
        let (principal, key) = (principal.to_owned(), key.to_owned());
        self.read_off_thread(move |c| read_idempotency(c, &principal, &key))
    }

    fn close(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        self.closed.store(true, Ordering::SeqCst);
        self.stop();
        ready(Ok(()))
    }

    fn status(&self) -> StoreStatus {
        StoreStatus {
            refusing: self.shared.fence().map(|f| f.why),
            reopened: self.shared.reopened.load(Ordering::SeqCst),
        }
    }
}

/// How a listing reaches its cases, given who reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Every case matching the filters.
    Every,
    /// Those of the procedures in `all` (?7), and of those in `own` (?8) the ones the actor
    /// (?6) takes part in: the cases are searched in id order, each checked.
    Mixed { all: bool, own: bool },
    /// Only cases the actor (?6) takes part in, of the procedures in `own` (?8): searched
    /// from the participants table, in id order.
    Own,
}

/// Which way a query reaches its cases; `None` when its reader reads none of them.
pub(crate) fn reach(query: &CaseQuery) -> Option<Reach> {
    reach_of(query.reader.as_ref(), query.procedure.as_deref())
}

/// Which way a query of `procedure` (or of all) by `reader` reaches its cases; `None` when
/// the reader reads none of them.
pub(crate) fn reach_of(reader: Option<&Reader>, procedure: Option<&str>) -> Option<Reach> {
    let Some(r) = reader else {
        return Some(Reach::Every);
    };
    // A listing of one procedure is either all of it, the reader's own, or nothing.
    if let Some(p) = procedure {
        return match r.reads_all_of(p)? {
            true => Some(Reach::Every),
            false => Some(Reach::Own),
        };
    }
    match (r.all.is_empty(), r.own.is_empty()) {
        (true, true) => None,
        (true, false) => Some(Reach::Own),
        (all_empty, own_empty) => Some(Reach::Mixed {
            all: !all_empty,
            own: !own_empty,
        }),
    }
}

/// The listing's SQL for the filters a query sets (its parameters: [`ParamsFor`]); `None`
/// when its reader reads none of the cases it asks for.
fn list_sql(query: &CaseQuery) -> Option<String> {
    let reach = reach(query)?;
    let mut sql = match reach {
        Reach::Own => format!(
            "SELECT {SUMMARY_COLUMNS} FROM participants p CROSS JOIN cases ON cases.id = p.case_id \
             WHERE p.actor = ?6 AND p.case_id > ?1"
        ),
        _ => format!("SELECT {SUMMARY_COLUMNS} FROM cases WHERE id > ?1"),
    };
    // `+procedure`: the procedure lists filter the rows found in id order, they are not
    // searched by (which would sort every matching row).
    const ALL: &str = "+procedure IN (SELECT value FROM json_each(?7))";
    const OWN: &str = "+procedure IN (SELECT value FROM json_each(?8))";
    const TAKES_PART: &str =
        "EXISTS (SELECT 1 FROM participants p WHERE p.actor = ?6 AND p.case_id = cases.id)";
    match reach {
        Reach::Every => {}
        Reach::Own => {
            sql.push_str(" AND ");
            sql.push_str(OWN);
        }
        Reach::Mixed { all, own } => {
            let mut either = Vec::new();
            if all {
                either.push(ALL.to_owned());
            }
            if own {
                either.push(format!("({OWN} AND {TAKES_PART})"));
            }
            sql.push_str(&format!(" AND ({})", either.join(" OR ")));
        }
    }
    if query.procedure.is_some() {
        sql.push_str(" AND procedure = ?2");
    }
    if query.state.is_some() {
        sql.push_str(" AND state = ?3");
    }
    if query.overdue_at.is_some() {
        sql.push_str(" AND closed = 0 AND next_due IS NOT NULL AND next_due <= ?4");
    }
    sql.push_str(match reach {
        Reach::Own => " ORDER BY p.case_id LIMIT ?5",
        _ => " ORDER BY id LIMIT ?5",
    });
    Some(sql)
}

/// The eight positional parameters of the list query, of which the statement takes as many
/// as its highest number (unused ones below it are bound but not named in the SQL text,
/// which SQLite allows for numbered parameters).
struct ParamsFor {
    after: String,
    procedure: Option<String>,
    state: Option<String>,
    overdue: Option<i64>,
    limit: i64,
    actor: Option<String>,
    all: String,
    own: String,
}

impl ParamsFor {
    /// The parameters of `query`, asking for at most `limit` rows.
    fn of(query: &CaseQuery, limit: i64) -> Self {
        let json = |v: Option<&Vec<String>>| {
            serde_json::to_string(v.map_or(&[][..], |v| v.as_slice())).unwrap_or_default()
        };
        ParamsFor {
            after: query.after.clone().unwrap_or_default(),
            procedure: query.procedure.clone(),
            state: query.state.clone(),
            overdue: query.overdue_at.map(micros),
            limit,
            actor: query.reader.as_ref().map(|r| r.actor.clone()),
            all: json(query.reader.as_ref().map(|r| &r.all)),
            own: json(query.reader.as_ref().map(|r| &r.own)),
        }
    }
}

impl IntoIterator for ParamsFor {
    type Item = rusqlite::types::Value;
    type IntoIter = std::array::IntoIter<rusqlite::types::Value, 8>;
    fn into_iter(self) -> Self::IntoIter {
        use rusqlite::types::Value;
        let opt_text = |s: Option<String>| s.map_or(Value::Null, Value::Text);
        [
            Value::Text(self.after),
            opt_text(self.procedure),
            opt_text(self.state),
            self.overdue.map_or(Value::Null, Value::Integer),
            Value::Integer(self.limit),
            opt_text(self.actor),
            Value::Text(self.all),
            Value::Text(self.own),
        ]
        .into_iter()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::IdempotencyRecord;
    use crate::conformance::{event, one};
    use fazhi_core::runtime::GENESIS;

    /// Every combination of listing filters searches an index in id order (no sort of all
    /// matching rows), using the procedure or state index when it filters by them. Only the
    /// overdue filter may sort, what is overdue being few. A reader of its own cases only
    /// searches the participants' key (actor, case) in id order; a reader of some procedures
    /// whole searches the cases in id order, checking each.
    #[test]
    fn listings_search_an_index_in_id_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_connection_in(&dir.path().join("plan.db"), None, Mode::Create).unwrap();
        migrate(&mut conn).unwrap();
        let reader = |all: &[&str], own: &[&str]| crate::Reader {
            actor: "a".into(),
            all: all.iter().map(|s| (*s).to_owned()).collect(),
            own: own.iter().map(|s| (*s).to_owned()).collect(),
        };
        let readers = [
            None,
            Some(reader(&["p", "q"], &[])),
            Some(reader(&[], &["p", "q"])),
            Some(reader(&["q"], &["p"])),
            Some(reader(&["p"], &["q"])),
        ];
        for (who, r) in readers.iter().enumerate() {
            for bits in 0..8u8 {
                let query = CaseQuery {
                    procedure: (bits & 1 != 0).then(|| "p".to_owned()),
                    state: (bits & 2 != 0).then(|| "s".to_owned()),
                    overdue_at: (bits & 4 != 0).then(chrono::Utc::now),
                    reader: r.clone(),
                    ..CaseQuery::default()
                };
                let sql = list_sql(&query).unwrap();
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let n = stmt.parameter_count();
                let plan: Vec<String> = stmt
                    .query_map(
                        rusqlite::params_from_iter(ParamsFor::of(&query, 10).into_iter().take(n)),
                        |r| r.get::<_, String>(3),
                    )
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let text = plan.join("; ");
                assert!(!text.contains("SCAN cases"), "{query:?}: {text}");
                assert!(!text.contains("SCAN p"), "{query:?}: {text}");
                let own_only = match who {
                    2 => true,
                    3 => query.procedure.is_some(),
                    _ => false,
                };
                if own_only {
                    assert!(!text.contains("TEMP B-TREE"), "{query:?}: {text}");
                    assert!(
                        text.contains("SEARCH p USING PRIMARY KEY (actor=? AND case_id>?)"),
                        "{query:?}: {text}"
                    );
                } else if query.overdue_at.is_none() {
                    assert!(!text.contains("TEMP B-TREE"), "{query:?}: {text}");
                    let index = match (&query.procedure, &query.state) {
                        (None, None) => "sqlite_autoindex_cases_1 (id>?)",
                        (Some(_), None) => "cases_procedure (procedure=? AND id>?)",
                        (None, Some(_)) => "cases_state (state=? AND id>?)",
                        (Some(_), Some(_)) => "AND id>?)",
                    };
                    assert!(text.contains(index), "{query:?}: {text}");
                }
            }
        }
    }

    /// Every combination of the board's filters and readers searches the board's index
    /// `(late, due, case_id, rule)` in the board's order from the page's start (no scan, no
    /// sort), but for a reader of its own cases only, which searches its cases from the
    /// participants' key and each one's deadlines by case (and sorts those few).
    #[test]
    fn the_deadline_board_searches_its_index() {
        use crate::{BoardStatus, DeadlineCursor, DeadlineQuery};
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_connection_in(&dir.path().join("plan.db"), None, Mode::Create).unwrap();
        migrate(&mut conn).unwrap();
        let reader = |all: &[&str], own: &[&str]| crate::Reader {
            actor: "a".into(),
            all: all.iter().map(|s| (*s).to_owned()).collect(),
            own: own.iter().map(|s| (*s).to_owned()).collect(),
        };
        let readers = [
            None,
            Some(reader(&["p", "q"], &[])),
            Some(reader(&[], &["p", "q"])),
            Some(reader(&["q"], &["p"])),
        ];
        let statuses = [
            None,
            Some(BoardStatus::Pending),
            Some(BoardStatus::Overdue),
            Some(BoardStatus::Late),
        ];
        let now = chrono::Utc::now();
        for (who, r) in readers.iter().enumerate() {
            for status in statuses {
                for bits in 0..16u8 {
                    let query = DeadlineQuery {
                        status,
                        procedure: (bits & 1 != 0).then(|| "p".to_owned()),
                        role: (bits & 2 != 0).then(|| "clerk".to_owned()),
                        due_before: (bits & 4 != 0).then(|| now + chrono::Duration::days(7)),
                        after: (bits & 8 != 0).then(|| DeadlineCursor {
                            due: now,
                            case: "c".into(),
                            rule: "r".into(),
                        }),
                        reader: r.clone(),
                        ..DeadlineQuery::running(now, 10)
                    };
                    let (sql, args) = crate::sqlite_board::board_sql(&query, 11).unwrap();
                    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                    let named: Vec<(&str, &dyn rusqlite::ToSql)> = args
                        .iter()
                        .map(|(n, v)| (n.as_str(), v as &dyn rusqlite::ToSql))
                        .collect();
                    let plan: Vec<String> = stmt
                        .query_map(named.as_slice(), |r| r.get::<_, String>(3))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    let text = plan.join("; ");
                    assert!(!text.contains("SCAN d"), "{query:?}: {text}");
                    assert!(!text.contains("SCAN c"), "{query:?}: {text}");
                    assert!(!text.contains("SCAN p"), "{query:?}: {text}");
                    let own_only = who == 2 || (who == 3 && query.procedure.is_some());
                    if own_only {
                        assert!(
                            text.contains("SEARCH p USING PRIMARY KEY (actor=?)"),
                            "{query:?}: {text}"
                        );
                        assert!(
                            text.contains("SEARCH d USING PRIMARY KEY (case_id=?)"),
                            "{query:?}: {text}"
                        );
                    } else {
                        assert!(!text.contains("TEMP B-TREE"), "{query:?}: {text}");
                        assert!(
                            text.contains("SEARCH d USING INDEX deadlines_board (late=? AND "),
                            "{query:?}: {text}"
                        );
                    }
                }
            }
        }
    }

    /// A later page searches the board's index from its cursor's due time on (the row value
    /// after it only filters), so that reading the board page by page is linear, not
    /// quadratic (the bench: 190,000 rows in pages of 1000 took 76 s before, 3.4 s after).
    #[test]
    fn a_page_searches_from_its_cursor() {
        use crate::{DeadlineCursor, DeadlineQuery};
        let now = chrono::Utc::now();
        let cursor_due = now + chrono::Duration::days(3);
        let lo = |after: Option<DeadlineCursor>, due_after| {
            let query = DeadlineQuery {
                after,
                due_after,
                ..DeadlineQuery::running(now, 10)
            };
            let (_, args) = crate::sqlite_board::board_sql(&query, 11).unwrap();
            args.into_iter()
                .find(|(n, _)| n == ":lo")
                .map(|(_, v)| v)
                .unwrap()
        };
        let cursor = DeadlineCursor {
            due: cursor_due,
            case: "c".into(),
            rule: "r".into(),
        };
        assert_eq!(
            lo(Some(cursor.clone()), None),
            rusqlite::types::Value::Integer(micros(cursor_due))
        );
        // A bound past the cursor still wins.
        let later = now + chrono::Duration::days(5);
        assert_eq!(
            lo(Some(cursor), Some(later)),
            rusqlite::types::Value::Integer(micros(later) + 1)
        );
        assert_eq!(lo(None, None), rusqlite::types::Value::Integer(i64::MIN));
    }

    /// Writes an append as schemas 1 to 3 stored it (their columns are the same).
    fn write_old(conn: &Connection, a: &Append) {
        for e in &a.events {
            conn.execute(
                "INSERT INTO events (case_id, seq, action, actor, roles, at, imported, procedure_version, prev_hash, hash, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    a.case,
                    to_i64(e.seq).unwrap(),
                    e.action,
                    e.actor,
                    serde_json::to_string(&e.roles).unwrap(),
                    micros(e.at),
                    e.imported,
                    e.procedure_version,
                    e.prev_hash,
                    e.hash,
                    e.bytes,
                ],
            )
            .unwrap();
        }
        let s = &a.summary;
        conn.execute(
            "INSERT INTO cases (id, procedure, procedure_version, title, state, tracks, seq, head, opened_at, last_at, next_due, closed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, head = excluded.head",
            params![
                s.id,
                s.procedure,
                s.procedure_version,
                s.title,
                s.state,
                serde_json::to_string(&s.tracks).unwrap(),
                to_i64(s.seq).unwrap(),
                s.head,
                micros(s.opened_at),
                micros(s.last_at),
                s.next_due.map(micros),
                s.closed,
            ],
        )
        .unwrap();
        if let Some(idem) = &a.idempotency {
            conn.execute(
                "INSERT INTO idempotency (principal, key, request_hash, case_id, status, headers, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    idem.principal,
                    idem.key,
                    idem.request_hash,
                    idem.case,
                    idem.status,
                    serde_json::to_string(&idem.headers).unwrap(),
                    idem.body,
                ],
            )
            .unwrap();
        }
    }

    /// A database written by an older schema (`version`, with its page size) reads back
    /// whole after the migrations, takes appends and idempotency records as before, and
    /// ends with the same tables and indexes as a database made new.
    async fn migrates_from(version: usize, page_size: i64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut heads = Vec::new();
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "page_size", page_size).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            for sql in &MIGRATIONS[..version] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", i64::try_from(version).unwrap())
                .unwrap();
            // Events of the two cases interleaved, as appends arrive.
            let mut prev = [GENESIS.to_owned(), GENESIS.to_owned()];
            for seq in 0..3 {
                for (i, case) in ["a", "b"].iter().enumerate() {
                    let mut append = one(case, seq, &prev[i]);
                    if *case == "b" && seq == 2 {
                        append.idempotency = Some(IdempotencyRecord {
                            principal: "p".into(),
                            key: "k".into(),
                            request_hash: "h".into(),
                            case: (*case).into(),
                            status: 201,
                            headers: vec![("ETag".into(), "\"3\"".into())],
                            body: b"{}".to_vec(),
                        });
                    }
                    write_old(&conn, &append);
                    prev[i] = append.events[0].hash.clone();
                }
            }
            heads.extend(prev);
        }
        let store = SqliteStore::open(SqliteOptions::new(&path)).unwrap();
        let applied: i64 = store
            .read(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(applied, i64::try_from(MIGRATIONS.len()).unwrap());
        for (case, head) in ["a", "b"].iter().zip(&heads) {
            let events = store.events(case).await.unwrap();
            let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, [0, 1, 2]);
            assert_eq!(events[2].hash, *head);
            assert_eq!(events[0].bytes, event(case, 0, GENESIS).bytes);
            let summary = store.summary(case).await.unwrap().unwrap();
            assert_eq!((summary.seq, summary.head.as_str()), (3, head.as_str()));
        }
        let rec = store.idempotency("p", "k").await.unwrap().unwrap();
        assert_eq!((rec.case.as_str(), rec.status), ("b", 201));
        assert_eq!(
            store.append(one("a", 3, &heads[0])).await.unwrap(),
            AppendOutcome::Appended
        );
        assert_eq!(
            store.append(one("a", 3, &heads[0])).await.unwrap(),
            AppendOutcome::Conflict { current_seq: 4 }
        );
        let seqs: Vec<u64> = store
            .events("a")
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3]);
        assert_eq!(store.case_ids().unwrap(), ["a", "b"]);
        let schema = |store: &SqliteStore| {
            store
                .read(|c| {
                    let mut stmt = c.prepare(
                        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
                    )?;
                    let rows = stmt
                        .query_map([], |r| {
                            Ok(format!(
                                "{} {} on {}: {}",
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, Option<String>>(3)?.unwrap_or_default()
                            ))
                        })?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(rows)
                })
                .unwrap()
        };
        let fresh = SqliteStore::open(SqliteOptions::new(dir.path().join("new.db"))).unwrap();
        assert_eq!(schema(&store), schema(&fresh));
        // And that schema is the one the queries expect: events found by their links alone.
        let names: Vec<String> = schema(&store)
            .iter()
            .filter_map(|row| row.split(':').next().map(str::to_owned))
            .collect();
        assert_eq!(
            names,
            [
                "index cases_due on cases",
                "index cases_procedure on cases",
                "index cases_state on cases",
                "index deadlines_board on deadlines",
                "index deadlines_provisional on deadlines",
                "index sqlite_autoindex_cases_1 on cases",
                "index sqlite_autoindex_idempotency_1 on idempotency",
                "table cases on cases",
                "table deadlines on deadlines",
                "table deadlines_unfilled on deadlines_unfilled",
                "table events on events",
                "table idempotency on idempotency",
                "table participants on participants",
            ]
        );
        // The cases written before the board are unfilled until an append ("a") or the
        // server's reckoning at start ("b", at the seq it was reckoned at) fills them.
        assert_eq!(store.unfilled_deadlines().unwrap(), ["b"]);
        let d = crate::conformance::deadline("d", 1, &["clerk"]);
        assert!(
            !store
                .fill_deadlines("b", 2, std::slice::from_ref(&d))
                .unwrap()
        );
        assert!(
            store
                .fill_deadlines("b", 3, std::slice::from_ref(&d))
                .unwrap()
        );
        assert!(store.unfilled_deadlines().unwrap().is_empty());
        assert!(store.deadlines_to_reckon().unwrap().is_empty());
        assert_eq!(store.case_deadlines("b").unwrap(), std::slice::from_ref(&d));
        // A provisional deadline is reckoned again at each start, until it is not.
        let provisional = crate::BoardDeadline {
            provisional: true,
            ..d.clone()
        };
        assert!(store.fill_deadlines("b", 3, &[provisional]).unwrap());
        assert_eq!(store.deadlines_to_reckon().unwrap(), ["b"]);
        assert!(
            store
                .fill_deadlines("b", 3, std::slice::from_ref(&d))
                .unwrap()
        );
        assert!(store.deadlines_to_reckon().unwrap().is_empty());
        // Who took part in the cases written before is filled in from their events.
        assert!(store.takes_part("a", "clerk").await.unwrap());
        assert!(store.takes_part("b", "clerk").await.unwrap());
        assert!(!store.takes_part("b", "visitor").await.unwrap());
        let columns = |table: &str| -> Vec<String> {
            store
                .read(|c| {
                    let mut stmt =
                        c.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
                    let rows = stmt
                        .query_map([], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(rows)
                })
                .unwrap()
        };
        assert!(columns("events").contains(&"prev".to_owned()));
        assert!(columns("cases").contains(&"last_event".to_owned()));
        store.close().await.unwrap();
        fresh.close().await.unwrap();
    }

    /// A read-only store (`fazhi verify`) does not migrate: an older file is refused with
    /// what to do, not read with the wrong queries.
    #[test]
    fn read_only_stores_refuse_older_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
        }
        let read_only = SqliteOptions {
            read_only: true,
            ..SqliteOptions::new(&path)
        };
        let err = SqliteStore::open(read_only.clone())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("schema version 3") && err.contains("fazhi serve"),
            "{err}"
        );
        drop(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
        assert!(SqliteStore::open(read_only).is_ok());
    }

    /// Schema 1: WITHOUT ROWID tables and 1 KiB pages.
    #[tokio::test]
    async fn version_1_databases_migrate() {
        migrates_from(1, 1024).await;
    }

    /// Schema 3: events found by an index on (case_id, seq).
    #[tokio::test]
    async fn version_3_databases_migrate() {
        migrates_from(3, 4096).await;
    }

    /// An append that fails after it has written its event and summary row (here: a
    /// trigger in the way of its idempotency record) leaves nothing behind, and the other
    /// appends of its batch, before and after it, still land.
    #[tokio::test]
    async fn a_failed_append_after_its_claim_is_undone_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_connection_in(&dir.path().join("f.db"), None, Mode::Create).unwrap();
        migrate(&mut conn).unwrap();
        let first = one("a", 0, GENESIS);
        let head = first.events[0].hash.clone();
        assert_eq!(apply_one(&conn, &first).unwrap(), AppendOutcome::Appended);
        // The idempotency record is written last, after the events and the summary row.
        conn.execute_batch(
            "CREATE TEMP TRIGGER in_the_way BEFORE INSERT ON idempotency WHEN NEW.case_id = 'a'
             BEGIN SELECT RAISE(ABORT, 'in the way'); END;",
        )
        .unwrap();
        let last_event = |conn: &Connection| -> i64 {
            conn.query_row("SELECT last_event FROM cases WHERE id = 'a'", [], |r| {
                r.get(0)
            })
            .unwrap()
        };
        let linked = last_event(&conn);
        let mut failing = one("a", 1, &head);
        failing.idempotency = Some(IdempotencyRecord {
            principal: "p".into(),
            key: "k".into(),
            request_hash: "h".into(),
            case: "a".into(),
            status: 201,
            headers: Vec::new(),
            body: b"{}".to_vec(),
        });
        let (tx_c, rx_c) = oneshot::channel();
        let (tx_a, rx_a) = oneshot::channel();
        let (tx_b, rx_b) = oneshot::channel();
        commit_batch(
            &mut conn,
            &mut Injected::default(),
            vec![
                (Box::new(one("c", 0, GENESIS)), tx_c),
                (Box::new(failing), tx_a),
                (Box::new(one("b", 0, GENESIS)), tx_b),
            ],
            &|| true,
        );
        assert_eq!(rx_c.await.unwrap().unwrap(), AppendOutcome::Appended);
        assert_eq!(last_event(&conn), linked);
        let keys: i64 = conn
            .query_row("SELECT count(*) FROM idempotency", [], |r| r.get(0))
            .unwrap();
        assert_eq!(keys, 0);
        assert!(rx_a.await.unwrap().is_err());
        assert_eq!(rx_b.await.unwrap().unwrap(), AppendOutcome::Appended);
        let (seq, stored_head): (i64, String) = conn
            .query_row("SELECT seq, head FROM cases WHERE id = 'a'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((seq, stored_head), (1, head));
        let count = |case: &str| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM events WHERE case_id = ?1",
                [case],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!((count("a"), count("b"), count("c")), (1, 1, 1));
    }

    /// Every waiter of a batch gets the same classification: a commit that failed leaves
    /// each append in doubt ([`StoreError::OutcomeUnknown`], and the store must reopen its
    /// file), a lock not granted before the commit leaves each unwritten
    /// ([`StoreError::NotWritten`], and the store goes on).
    #[tokio::test]
    async fn every_waiter_of_a_failed_batch_gets_the_same_classification() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        let mut conn = open_connection_in(&path, None, Mode::Create).unwrap();
        migrate(&mut conn).unwrap();
        let batch = |cases: &[&str]| {
            let mut replies = Vec::new();
            let mut batch = Vec::new();
            for case in cases {
                let (tx, rx) = oneshot::channel();
                batch.push((Box::new(one(case, 0, GENESIS)), tx));
                replies.push(rx);
            }
            (batch, replies)
        };
        let (appends, replies) = batch(&["a", "b", "c"]);
        let mut injected = Injected {
            commit: Some(true),
            reopens: 0,
        };
        assert_eq!(
            commit_batch(&mut conn, &mut injected, appends, &|| true),
            Some(FaultKind::Io)
        );
        for rx in replies {
            let r = rx.await.unwrap();
            assert!(
                matches!(
                    r,
                    Err(StoreError::OutcomeUnknown {
                        kind: FaultKind::Io,
                        ..
                    })
                ),
                "{r:?}"
            );
        }
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.busy_timeout(Duration::from_millis(1)).unwrap();
        let (appends, replies) = batch(&["d", "e"]);
        assert_eq!(
            commit_batch(&mut conn, &mut Injected::default(), appends, &|| true),
            None
        );
        for rx in replies {
            let r = rx.await.unwrap();
            assert!(
                matches!(
                    r,
                    Err(StoreError::NotWritten {
                        kind: FaultKind::Busy,
                        ..
                    })
                ),
                "{r:?}"
            );
        }
        other.execute_batch("ROLLBACK").unwrap();
        let (appends, replies) = batch(&["d"]);
        assert_eq!(
            commit_batch(&mut conn, &mut Injected::default(), appends, &|| true),
            None
        );
        assert_eq!(
            replies.into_iter().next().unwrap().await.unwrap().unwrap(),
            AppendOutcome::Appended
        );
    }
}
