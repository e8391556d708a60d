//! The PostgreSQL backend: several `fazhi serve` nodes on one database.
//!
//! - **Its own runtime.** A [`PgStore`] runs its connections on a small tokio runtime of its
//!   own (two threads), so that it does not depend on whichever runtime calls it (actix runs
//!   one per worker thread): every call is spawned there and awaited from anywhere.
//! - **Group commit.** A writer (one by default, [`PgOptions::writers`]; several take turns
//!   at the queue), on its own connection: appends sent while it commits go together into
//!   the next transaction: `BEGIN`, one call of the stored function `fazhi_write_batch` for
//!   all of them (see `postgres_batch`), `COMMIT`. Every connection runs with
//!   `synchronous_commit = on`: an append is answered only once its commit is durable. A
//!   batch in which PostgreSQL refuses a value runs again as one `fazhi_append` call per
//!   append (all sent at once), which tells the append at fault.
//! - **Reads** of a case's summary (a request checks its case's seq and head) asked for
//!   while one is read are read together in the next, one statement for all.
//! - **Optimistic concurrency in the database.** `fazhi_append` claims the case's summary row
//!   with `UPDATE cases … WHERE id = $case AND seq = $expected` (or, for a new case, `INSERT …
//!   ON CONFLICT (id) DO NOTHING`): the row lock and PostgreSQL's re-check of the `WHERE` on
//!   the newest row version make a stale `expected_seq` from any node a conflict that writes
//!   nothing. The primary key `(case_id, seq)` of the events is the last guard.
//! - **Idempotency across nodes.** The key is inserted first (`ON CONFLICT DO NOTHING`): a
//!   key kept, or being kept by a transaction that then commits (the insert waits for it), is
//!   a replay of the kept answer; a claim that then fails deletes the key again, so a
//!   conflicting append does not consume it.
//! - **Reads** go through a pool of connections (deadpool-postgres).
//!
//! Errors are classified as for SQLite: a fault before `COMMIT` (a statement failed, the
//! connection was lost or refused) is [`StoreError::NotWritten`]; any failure of the `COMMIT`
//! itself is [`StoreError::OutcomeUnknown`] (the server may have committed before the
//! connection broke). A deadlock or serialization failure between nodes reruns the batch
//! (nothing of it was written), a few times before it is answered `NotWritten` (busy).

use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

use crate::sqlite::{Reach, check_append, reach};
use crate::{
    Append, AppendOutcome, BoxFuture, CaseQuery, CaseSummary, EventStore, FaultKind,
    IdempotencyRecord, Page, StoreError, StoredEvent,
};

/// The advisory lock taken (for the transaction) while migrating, so that nodes starting
/// together migrate one after the other.
const MIGRATION_LOCK: i64 = 0x6661_7a68_6900_0001;

/// The migrations, in order; the table `fazhi_schema` records those applied.
///
/// Every table leads its key with the case id (but the idempotency keys, looked up by
/// principal and key before the case is known): a sharding extension can distribute them
/// by case id, and each append touches one case's rows.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE cases (
    id text PRIMARY KEY,
    procedure text NOT NULL,
    procedure_version bigint NOT NULL,
    title text NOT NULL,
    state text NOT NULL,
    tracks text NOT NULL,
    seq bigint NOT NULL,
    head text NOT NULL,
    opened_at bigint NOT NULL,
    last_at bigint NOT NULL,
    next_due bigint,
    closed boolean NOT NULL
);
CREATE INDEX cases_procedure ON cases (procedure, id);
CREATE INDEX cases_state ON cases (state, id);
CREATE INDEX cases_due ON cases (next_due) WHERE NOT closed AND next_due IS NOT NULL;
CREATE TABLE events (
    case_id text NOT NULL,
    seq bigint NOT NULL,
    action text,
    actor text NOT NULL,
    roles text NOT NULL,
    at bigint NOT NULL,
    imported boolean NOT NULL,
    procedure_version bigint NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    bytes bytea NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE TABLE participants (
    case_id text NOT NULL,
    actor text NOT NULL,
    PRIMARY KEY (case_id, actor)
);
CREATE INDEX participants_actor ON participants (actor, case_id);
CREATE TABLE idempotency (
    principal text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    case_id text NOT NULL,
    status bigint NOT NULL,
    headers text NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE TABLE deadlines (
    case_id text NOT NULL,
    rule text NOT NULL,
    procedure text NOT NULL,
    late boolean NOT NULL,
    due bigint NOT NULL,
    last_day date NOT NULL,
    working_days boolean NOT NULL,
    optional boolean NOT NULL,
    provisional boolean NOT NULL,
    title text NOT NULL,
    basis text,
    roles jsonb NOT NULL,
    PRIMARY KEY (case_id, rule)
);
CREATE INDEX deadlines_board ON deadlines (late, due, case_id, rule);
CREATE FUNCTION fazhi_append(
    p_case text, p_expected bigint, p_malformed boolean,
    p_seq bigint[], p_action text[], p_actor text[], p_roles text[], p_at bigint[],
    p_imported boolean[], p_version bigint[], p_prev_hash text[], p_hash text[], p_bytes bytea[],
    p_procedure text, p_procedure_version bigint, p_title text, p_state text, p_tracks text,
    p_new_seq bigint, p_head text, p_opened_at bigint, p_last_at bigint, p_next_due bigint,
    p_closed boolean,
    p_principal text, p_key text, p_request_hash text, p_idem_case text, p_status bigint,
    p_headers text, p_body bytea, p_named text[], p_deadlines text,
    OUT o_kind text, OUT o_seq bigint, OUT o_request_hash text, OUT o_case text,
    OUT o_status bigint, OUT o_headers text, OUT o_body bytea)
LANGUAGE plpgsql AS $fn$
DECLARE
    n bigint;
BEGIN
    IF p_malformed THEN
        -- A malformed append writes nothing: a replay if its key was used, a conflict if it
        -- is stale, else the caller's mistake.
        IF p_key IS NOT NULL THEN
            SELECT 'replay', k.request_hash, k.case_id, k.status, k.headers, k.body
                INTO o_kind, o_request_hash, o_case, o_status, o_headers, o_body
                FROM idempotency k WHERE k.principal = p_principal AND k.key = p_key;
            IF FOUND THEN RETURN; END IF;
        END IF;
        SELECT c.seq INTO o_seq FROM cases c WHERE c.id = p_case;
        o_seq := coalesce(o_seq, 0);
        o_kind := CASE WHEN o_seq <> p_expected THEN 'conflict' ELSE 'malformed' END;
        RETURN;
    END IF;
    IF p_key IS NOT NULL THEN
        -- The key first: kept already (or by a transaction that commits while this insert
        -- waits for it) is a replay; otherwise this transaction holds it.
        INSERT INTO idempotency (principal, key, request_hash, case_id, status, headers, body)
            VALUES (p_principal, p_key, p_request_hash, p_idem_case, p_status, p_headers, p_body)
            ON CONFLICT (principal, key) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 0 THEN
            SELECT 'replay', k.request_hash, k.case_id, k.status, k.headers, k.body
                INTO o_kind, o_request_hash, o_case, o_status, o_headers, o_body
                FROM idempotency k WHERE k.principal = p_principal AND k.key = p_key;
            IF NOT FOUND THEN
                -- Taken and given up again in between: the batch runs again.
                RAISE EXCEPTION 'idempotency key moved' USING ERRCODE = 'serialization_failure';
            END IF;
            RETURN;
        END IF;
    END IF;
    -- Claim the case: its summary row at `p_expected` (none for a new case).
    IF p_expected = 0 THEN
        INSERT INTO cases (id, procedure, procedure_version, title, state, tracks, seq, head,
                opened_at, last_at, next_due, closed)
            VALUES (p_case, p_procedure, p_procedure_version, p_title, p_state, p_tracks,
                p_new_seq, p_head, p_opened_at, p_last_at, p_next_due, p_closed)
            ON CONFLICT (id) DO NOTHING;
    ELSE
        UPDATE cases SET state = p_state, tracks = p_tracks, seq = p_new_seq, head = p_head,
                last_at = p_last_at, next_due = p_next_due, closed = p_closed
            WHERE id = p_case AND seq = p_expected;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        IF p_key IS NOT NULL THEN
            DELETE FROM idempotency WHERE principal = p_principal AND key = p_key;
        END IF;
        SELECT c.seq INTO o_seq FROM cases c WHERE c.id = p_case;
        o_seq := coalesce(o_seq, 0);
        o_kind := 'conflict';
        RETURN;
    END IF;
    INSERT INTO events (case_id, seq, action, actor, roles, at, imported, procedure_version,
            prev_hash, hash, bytes)
        SELECT p_case, e.* FROM unnest(p_seq, p_action, p_actor, p_roles, p_at, p_imported,
            p_version, p_prev_hash, p_hash, p_bytes) AS e;
    INSERT INTO participants (case_id, actor)
        SELECT DISTINCT p_case, a FROM unnest(p_actor || p_named) AS a
        ON CONFLICT DO NOTHING;
    -- The case's deadlines for the board, replaced (unchanged rows are rewritten: one
    -- case's handful, in the same transaction).
    DELETE FROM deadlines WHERE case_id = p_case;
    INSERT INTO deadlines (case_id, rule, procedure, late, due, last_day, working_days,
            optional, provisional, title, basis, roles)
        SELECT p_case, d.rule, p_procedure, d.late, d.due, d.last_day, d.working_days,
            d.optional, d.provisional, d.title, d.basis, d.roles
        FROM jsonb_to_recordset(p_deadlines::jsonb) AS d(rule text, late boolean, due bigint,
            last_day date, working_days boolean, optional boolean, provisional boolean,
            title text, basis text, roles jsonb)
        ON CONFLICT (case_id, rule) DO NOTHING;
    o_kind := 'appended';
    o_seq := p_new_seq;
END
$fn$;
"#,
    crate::postgres_batch::MIGRATION,
    crate::postgres_batch::MIGRATION_WRITE,
    MIGRATION_HOT,
];

/// The migration that lets an append update its case's summary row in place (a HOT update:
/// no index entry written, the new row version on the same page), the costliest step of an
/// append at 100,000 cases (issue 16, measured with `pg_stat_statements` during the load
/// driver's appends: 66 µs of the database's time per append with the indexes, 28 without).
///
/// - The indexes `(state, id)` and `(next_due) WHERE NOT closed` are dropped: an append
///   changes the state or the next due time of most cases, and PostgreSQL updates a row in
///   place only when no indexed column changes. A listing filtered by state or by what is
///   overdue walks the case ids (the primary key, or `(procedure, id)` when a procedure is
///   named, or a reader's participants) and filters as it goes, in the same order as
///   before: a page costs the cases passed over. A reader of its own cases never used them.
///   An operator who lists every case by a rare state often can create `(state, id)` again
///   (at the cost of the appends' speed); the store does not depend on either index.
/// - `fillfactor = 70` leaves room on each page for the next versions of its rows (only
///   pages written from now on; `VACUUM FULL cases` applies it to the rest).
const MIGRATION_HOT: &str = r#"
DROP INDEX IF EXISTS cases_state;
DROP INDEX IF EXISTS cases_due;
ALTER TABLE cases SET (fillfactor = 70);
"#;

/// How a [`PgStore`] is opened.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The connection string: a URL (`postgres://user@host/db`, `postgresql://…`; a Unix
    /// socket directory as `host=/run/postgresql` in the query or percent-encoded as the
    /// host) or libpq's `key=value` form. TLS is not used: connect over a Unix socket or a
    /// trusted network.
    pub url: String,
    /// The most appends committed in one transaction.
    pub max_batch: usize,
    /// How many connections serve reads.
    pub readers: usize,
    /// How many writers commit batches, each on its own connection: with two, while one
    /// batch is executed and flushed on the server, the next is gathered and sent. One is
    /// the default: the appends that arrive while it commits wait in the queue and make the
    /// next batch larger, which costs the database less per append than two smaller batches
    /// in flight (issue 16, `benches/http_load.rs`: the same appends/s on one node at 30%
    /// less database CPU per append, and two nodes at 0.93-1.05 of one instead of 0.80).
    pub writers: usize,
    /// How long to wait for a connection before an operation fails.
    pub connect_timeout: Duration,
    /// How often the server is asked whether it is reachable and writable (for
    /// [`EventStore::status`], so `/healthz`): one `SELECT` on a connection of its own.
    pub probe_every: Duration,
}

impl PgOptions {
    /// Defaults: batches of up to 256 appends, 1 writer, 8 read connections, 10 s to
    /// connect, the server probed every second.
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            max_batch: 256,
            readers: 8,
            writers: 1,
            connect_timeout: Duration::from_secs(10),
            probe_every: Duration::from_secs(1),
        }
    }
}

/// Whether a `--db` value names a PostgreSQL database (`postgres://` or `postgresql://`)
/// rather than an SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

type Reply = oneshot::Sender<Result<AppendOutcome, StoreError>>;

enum Msg {
    Append(Box<Append>, Reply),
    Close(oneshot::Sender<()>),
}

/// Whether the store can write, as its probe and its writer last found: why it refuses
/// writes (Chinese, English), or `None`.
#[derive(Debug, Default)]
pub(crate) struct Health {
    refusing: Mutex<Option<crate::Refusing>>,
    /// How many batches ran again one `fazhi_append` call per append.
    fallbacks: std::sync::atomic::AtomicU64,
    /// Who was seen taking part in which case (kept here, beside the rest the store's
    /// tasks share).
    pub(crate) known: crate::postgres_known::Known,
}

impl Health {
    fn set(&self, refusing: Option<crate::Refusing>) {
        if let Ok(mut r) = self.refusing.lock() {
            if r.is_none() != refusing.is_none() {
                match &refusing {
                    Some(r) => {
                        tracing::error!(kind = r.kind.label(), "the store refuses writes: {}", r.en)
                    }
                    None => tracing::info!("the PostgreSQL server answers again: writes resume"),
                }
            }
            *r = refusing;
        }
    }

    fn get(&self) -> Option<crate::Refusing> {
        self.refusing.lock().ok().and_then(|r| r.clone())
    }

    /// The server could not be reached (`detail` says how).
    fn unreachable(&self, detail: &str) {
        self.set(Some(crate::Refusing {
            kind: FaultKind::Unavailable,
            zh: format!(
                "无法连接 PostgreSQL 数据库服务器，暂停写入：{detail}。请检查数据库服务器是否运行、`--db` 的地址与口令；服务器恢复后自动继续写入"
            ),
            en: format!(
                "the PostgreSQL server cannot be reached: {detail}; writes are refused until it answers again (check that the server runs, and the address and password in `--db`)"
            ),
        }));
    }
}

/// Asks the server, on the probe's own connection (made again when it broke), whether it
/// answers and accepts writes (it is not a standby in recovery).
async fn probe(cfg: &Config, client: &mut Option<Client>, health: &Health, wait: Duration) {
    if client.as_ref().is_none_or(Client::is_closed) {
        *client = None;
        match tokio::time::timeout(wait, connect(cfg)).await {
            Ok(Ok(c)) => *client = Some(c),
            Ok(Err(e)) => return health.unreachable(&describe(&e)),
            Err(_) => {
                return health.unreachable(&format!("no answer within {} s", wait.as_secs()));
            }
        }
    }
    let Some(c) = client.as_ref() else { return };
    match tokio::time::timeout(wait, c.query_one("SELECT pg_is_in_recovery()", &[])).await {
        Ok(Ok(row)) => match row.try_get::<_, bool>(0) {
            Ok(true) => health.set(Some(crate::Refusing {
                kind: FaultKind::ReadOnly,
                zh: "PostgreSQL 服务器是只读的备用服务器（正在恢复），暂停写入：请将 `--db` 指向主服务器".into(),
                en: "the PostgreSQL server is a read-only standby (in recovery): writes are refused; point `--db` at the primary".into(),
            })),
            Ok(false) => health.set(None),
            Err(e) => health.unreachable(&describe(&e)),
        },
        Ok(Err(e)) => {
            *client = None;
            health.unreachable(&describe(&e));
        }
        Err(_) => {
            *client = None;
            health.unreachable(&format!("no answer within {} s", wait.as_secs()));
        }
    }
}

async fn probe_loop(cfg: Config, health: std::sync::Arc<Health>, every: Duration) {
    let wait = every.max(Duration::from_secs(2));
    let mut client = None;
    loop {
        tokio::time::sleep(every).await;
        probe(&cfg, &mut client, &health, wait).await;
    }
}

/// An [`EventStore`] on PostgreSQL (see the module's documentation).
pub struct PgStore {
    lookups: mpsc::UnboundedSender<Lookup>,
    health: std::sync::Arc<Health>,
    sender: mpsc::UnboundedSender<Msg>,
    closed: AtomicBool,
    pool: Pool,
    handle: tokio::runtime::Handle,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Never blocks (a runtime may not be dropped inside another's task otherwise).
        if let Ok(mut rt) = self.runtime.lock()
            && let Some(rt) = rt.take()
        {
            rt.shutdown_background();
        }
    }
}

/// The connection settings of `options`, with `synchronous_commit = on` on every connection.
fn config_of(options: &PgOptions) -> Result<Config, StoreError> {
    let mut cfg = Config::from_str(&options.url)?;
    let opts = format!(
        "{} -c synchronous_commit=on",
        cfg.get_options().unwrap_or_default()
    );
    cfg.options(opts.trim());
    cfg.connect_timeout(options.connect_timeout);
    if cfg.get_application_name().is_none() {
        cfg.application_name("fazhi");
    }
    Ok(cfg)
}

/// Connects one client, its connection driven by a task on the current runtime.
async fn connect(cfg: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = cfg.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "a PostgreSQL connection ended with an error");
        }
    });
    Ok(client)
}

/// Applies the migrations not yet applied, in one transaction under the advisory lock.
async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS fazhi_schema (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let applied: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM fazhi_schema", &[])
        .await?
        .try_get(0)?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Migration(format!(
            "数据库的结构版本为 {applied}，本程序只认识到 {}：请升级 fazhi / the database is at \
             schema version {applied} and this program knows {}: upgrade fazhi",
            MIGRATIONS.len(),
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError::Migration(format!("migration {}: {}", i + 1, describe(&e))))?;
        let v = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute("INSERT INTO fazhi_schema (version) VALUES ($1)", &[&v])
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A PostgreSQL error with the server's message and detail when there are some.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({}): {d}", db.message(), db.code().code()),
            None => format!("{} ({})", db.message(), db.code().code()),
        },
        None => e.to_string(),
    }
}

impl PgStore {
    /// Connects, migrates (under an advisory lock, so that nodes starting together do not
    /// race) and starts the writer. Blocks the calling thread until then (its work runs on
    /// the store's own runtime, so it may be called from inside another runtime).
    pub fn open(options: PgOptions) -> Result<PgStore, StoreError> {
        let cfg = config_of(&options)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fazhi-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Migration(format!("cannot start the store's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (done, wait) = std::sync::mpsc::channel();
        handle.spawn({
            let cfg = cfg.clone();
            async move {
                let r = async {
                    let mut client = connect(&cfg).await.map_err(unavailable)?;
                    migrate(&mut client).await?;
                    Ok::<_, StoreError>(())
                }
                .await;
                let _ = done.send(r);
            }
        });
        wait.recv()
            .map_err(|_| StoreError::Migration("the store's runtime stopped".into()))??;
        let manager = Manager::from_config(
            cfg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.readers.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Migration(format!("cannot build the pool: {e}")))?;
        let (sender, rx) = mpsc::unbounded_channel();
        let health = std::sync::Arc::new(Health::default());
        handle.spawn(probe_loop(
            cfg.clone(),
            health.clone(),
            options.probe_every.max(Duration::from_millis(50)),
        ));
        handle.spawn(writer_loop(
            cfg,
            rx,
            options.max_batch.max(1),
            health.clone(),
            options.writers,
        ));
        let (lookups, wanted) = mpsc::unbounded_channel();
        handle.spawn(lookup_loop(pool.clone(), wanted));
        Ok(PgStore {
            lookups,
            health,
            sender,
            closed: AtomicBool::new(false),
            pool,
            handle,
            runtime: Mutex::new(Some(runtime)),
        })
    }

    /// How many batches ran again one `fazhi_append` call per append since the store was
    /// opened: a batch does so only when PostgreSQL refused one of its values (a NUL in a
    /// text), to tell the append at fault. More than that means `fazhi_write_batch` fails
    /// on good appends: they still land, at a fraction of the speed.
    pub fn fallbacks(&self) -> u64 {
        self.health.fallbacks.load(Ordering::Relaxed)
    }

    /// Runs `f` with a read connection, on the store's runtime.
    pub(crate) fn read<T, F>(&self, f: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c ClientWrapper) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let pool = self.pool.clone();
        let task = self.handle.spawn(async move {
            let conn = pool.get().await.map_err(pool_error)?;
            f(&conn).await
        });
        Box::pin(async move {
            task.await
                .unwrap_or_else(|e| Err(StoreError::Migration(format!("a read failed: {e}"))))
        })
    }

    /// Waits for `fut` (run on the store's runtime) on the calling thread, for the tools
    /// that are not async (`fazhi verify`, `fazhi export`): call it from outside the store's
    /// runtime.
    pub(crate) fn block<T: Send + 'static>(
        &self,
        fut: BoxFuture<'static, Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// The ids of every case, in order (for tools).
    pub fn case_ids(&self) -> BoxFuture<'static, Result<Vec<String>, StoreError>> {
        self.read(|c| {
            Box::pin(async move {
                let rows = c.query("SELECT id FROM cases ORDER BY id", &[]).await?;
                rows.iter()
                    .map(|r| r.try_get(0).map_err(StoreError::from))
                    .collect()
            })
        })
    }
}

/// A connection that could not be had: nothing was written.
fn unavailable(e: tokio_postgres::Error) -> StoreError {
    StoreError::NotWritten {
        kind: FaultKind::Unavailable,
        message: describe(&e),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => {
            if e.as_db_error().is_some() {
                StoreError::Postgres(e)
            } else {
                unavailable(e)
            }
        }
        other => StoreError::NotWritten {
            kind: FaultKind::Unavailable,
            message: other.to_string(),
        },
    }
}

/// The fault a PostgreSQL error is, if it is one (and not a mistake in the request).
pub(crate) fn fault_of(e: &tokio_postgres::Error) -> Option<FaultKind> {
    let Some(code) = e.code() else {
        // No SQLSTATE: the connection broke, or could not be made.
        return Some(FaultKind::Unavailable);
    };
    let c = code.code();
    Some(match c {
        "53100" => FaultKind::DiskFull,
        "40001" | "40P01" | "55P03" | "57014" | "55006" => FaultKind::Busy,
        "25006" => FaultKind::ReadOnly,
        "58030" => FaultKind::Io,
        "XX001" | "XX002" => FaultKind::Corrupt,
        _ if c.starts_with("08") || c.starts_with("57P") => FaultKind::Unavailable,
        _ if c.starts_with("53") || c.starts_with("XX") || c.starts_with("58") => FaultKind::Other,
        _ => return None,
    })
}

/// Whether the batch that met this error may simply run again (nothing of it was written).
fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::MalformedAppend(format!("{n} is too large")))
}

fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(m: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(m)
        .ok_or_else(|| StoreError::Corrupt(format!("time {m} out of range")))
}

/// The parameters of one call of `fazhi_append`, owned.
pub(crate) struct Call {
    pub(crate) case: String,
    pub(crate) expected: i64,
    pub(crate) malformed: bool,
    pub(crate) seq: Vec<i64>,
    pub(crate) action: Vec<Option<String>>,
    pub(crate) actor: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) at: Vec<i64>,
    pub(crate) imported: Vec<bool>,
    pub(crate) version: Vec<i64>,
    pub(crate) prev_hash: Vec<String>,
    pub(crate) hash: Vec<String>,
    pub(crate) bytes: Vec<Vec<u8>>,
    pub(crate) procedure: String,
    pub(crate) procedure_version: i64,
    pub(crate) title: String,
    pub(crate) state: String,
    pub(crate) tracks: String,
    pub(crate) new_seq: i64,
    pub(crate) head: String,
    pub(crate) opened_at: i64,
    pub(crate) last_at: i64,
    pub(crate) next_due: Option<i64>,
    pub(crate) closed: bool,
    pub(crate) principal: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) request_hash: Option<String>,
    pub(crate) idem_case: Option<String>,
    pub(crate) status: Option<i64>,
    pub(crate) headers: Option<String>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) named: Vec<String>,
    /// Whether the append moves its case onto another version (a migration event).
    pub(crate) migrated: bool,
    /// The board's rows for the case, one per rule.
    pub(crate) board: Vec<crate::board::BoardDeadline>,
    /// Their digest (see [`crate::postgres_board::board_digest`]).
    pub(crate) board_digest: String,
    /// The same as JSON, for `fazhi_append` (filled by [`Call::with_json`]).
    pub(crate) deadlines: String,
}

impl Call {
    /// The call for `a`, and the reason it is malformed (if it is: the function then only
    /// tells a replay or a conflict from the mistake).
    fn of(a: &Append) -> (Call, Option<StoreError>) {
        let mut problem = check_append(a).err();
        let board = crate::postgres_board::one_per_rule(&a.deadlines);
        let mut num = |n: u64| match to_i64(n) {
            Ok(v) => v,
            Err(e) => {
                problem.get_or_insert(e);
                -1
            }
        };
        let expected = num(a.expected_seq);
        let new_seq = num(a.summary.seq);
        let seq = a.events.iter().map(|e| num(e.seq)).collect();
        let s = &a.summary;
        let idem = a.idempotency.as_ref();
        let call = Call {
            case: a.case.clone(),
            expected,
            malformed: problem.is_some(),
            seq,
            action: a.events.iter().map(|e| e.action.clone()).collect(),
            actor: a.events.iter().map(|e| e.actor.clone()).collect(),
            roles: a
                .events
                .iter()
                .map(|e| serde_json::to_string(&e.roles).unwrap_or_default())
                .collect(),
            at: a.events.iter().map(|e| micros(e.at)).collect(),
            imported: a.events.iter().map(|e| e.imported).collect(),
            version: a
                .events
                .iter()
                .map(|e| i64::from(e.procedure_version))
                .collect(),
            prev_hash: a.events.iter().map(|e| e.prev_hash.clone()).collect(),
            hash: a.events.iter().map(|e| e.hash.clone()).collect(),
            bytes: a.events.iter().map(|e| e.bytes.clone()).collect(),
            procedure: s.procedure.clone(),
            procedure_version: i64::from(s.procedure_version),
            title: s.title.clone(),
            state: s.state.clone(),
            tracks: serde_json::to_string(&s.tracks).unwrap_or_default(),
            new_seq,
            head: s.head.clone(),
            opened_at: micros(s.opened_at),
            last_at: micros(s.last_at),
            next_due: s.next_due.map(micros),
            closed: s.closed,
            principal: idem.map(|i| i.principal.clone()),
            key: idem.map(|i| i.key.clone()),
            request_hash: idem.map(|i| i.request_hash.clone()),
            idem_case: idem.map(|i| i.case.clone()),
            status: idem.map(|i| i64::from(i.status)),
            headers: idem.map(|i| serde_json::to_string(&i.headers).unwrap_or_default()),
            body: idem.map(|i| i.body.clone()),
            named: a
                .events
                .iter()
                .flat_map(|e| e.named.iter().cloned())
                .collect(),
            migrated: migrates(a),
            board_digest: crate::postgres_board::board_digest(&board),
            board,
            deadlines: String::new(),
        };
        (call, problem)
    }

    /// The call with its deadlines as JSON, as `fazhi_append` reads them.
    fn with_json(mut self) -> Call {
        self.deadlines = crate::postgres_board::deadlines_json(&self.board);
        self
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 33] {
        [
            &self.case,
            &self.expected,
            &self.malformed,
            &self.seq,
            &self.action,
            &self.actor,
            &self.roles,
            &self.at,
            &self.imported,
            &self.version,
            &self.prev_hash,
            &self.hash,
            &self.bytes,
            &self.procedure,
            &self.procedure_version,
            &self.title,
            &self.state,
            &self.tracks,
            &self.new_seq,
            &self.head,
            &self.opened_at,
            &self.last_at,
            &self.next_due,
            &self.closed,
            &self.principal,
            &self.key,
            &self.request_hash,
            &self.idem_case,
            &self.status,
            &self.headers,
            &self.body,
            &self.named,
            &self.deadlines,
        ]
    }
}

const APPEND_SQL: &str = "SELECT * FROM fazhi_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, \
     $29, $30, $31, $32, $33)";

/// What the function answered for one append.
fn outcome_of(
    row: &Row,
    a: &Append,
    problem: Option<StoreError>,
) -> Result<AppendOutcome, StoreError> {
    // `fazhi_write_batch` answers the append's number first.
    let at = usize::from(row.columns().first().is_some_and(|c| c.name() == "o_i"));
    let col = |i: usize| i + at;
    let kind: String = row.try_get(col(0))?;
    match kind.as_str() {
        "appended" => Ok(AppendOutcome::Appended),
        "conflict" => Ok(AppendOutcome::Conflict {
            current_seq: to_u64(row.try_get(col(1))?)?,
        }),
        "replay" => {
            let idem = a.idempotency.as_ref();
            let headers: String = row.try_get(col(5))?;
            Ok(AppendOutcome::Replay(IdempotencyRecord {
                principal: idem.map(|i| i.principal.clone()).unwrap_or_default(),
                key: idem.map(|i| i.key.clone()).unwrap_or_default(),
                request_hash: row.try_get(col(2))?,
                case: row.try_get(col(3))?,
                status: u16::try_from(row.try_get::<_, i64>(col(4))?)
                    .map_err(|e| StoreError::Corrupt(format!("idempotency status: {e}")))?,
                headers: serde_json::from_str(&headers)
                    .map_err(|e| StoreError::Corrupt(format!("idempotency headers: {e}")))?,
                body: row.try_get(col(6))?,
            }))
        }
        _ => Err(problem
            .unwrap_or_else(|| StoreError::Corrupt(format!("fazhi_append answered `{kind}`")))),
    }
}

/// The writer's connection and its prepared calls.
struct Conn {
    client: Client,
    append: Statement,
    batch: Statement,
}

/// How a batch ended.
enum Ended {
    /// Committed: each append's answer.
    Committed(Vec<Result<AppendOutcome, StoreError>>),
    /// Failed before COMMIT at append `at` (or before any, `None`): rolled back.
    Before(Option<usize>, tokio_postgres::Error),
    /// The COMMIT failed: unknown.
    Commit(tokio_postgres::Error),
}

/// Runs a batch as one call of `fazhi_write_batch` per round (one round unless appends of
/// the batch share a case or a key), all sent at once, in one transaction.
async fn run_batch_set(
    conn: &Conn,
    batch: &[(Box<Append>, Reply)],
    known: &crate::postgres_known::Known,
) -> Ended {
    let calls: Vec<(Call, Option<StoreError>)> = batch.iter().map(|(a, _)| Call::of(a)).collect();
    let appends: Vec<&Append> = batch.iter().map(|(a, _)| a.as_ref()).collect();
    let rounds = crate::postgres_batch::rounds(&appends);
    let batch_calls: Vec<crate::postgres_batch::BatchCall> = rounds
        .iter()
        .map(|round| {
            let of: Vec<&Call> = round
                .iter()
                .filter_map(|&i| calls.get(i).map(|(c, _)| c))
                .collect();
            crate::postgres_batch::BatchCall::of(&of, known)
        })
        .collect();
    if let Err(e) = conn.client.batch_execute("BEGIN").await {
        return Ended::Before(None, e);
    }
    let params: Vec<_> = batch_calls.iter().map(|b| b.params()).collect();
    let results = futures_util::future::join_all(
        params
            .iter()
            .map(|p| conn.client.query(&conn.batch, p.as_slice())),
    )
    .await;
    let mut answered = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(rows) => answered.push(rows),
            Err(e) => {
                let _ = conn.client.batch_execute("ROLLBACK").await;
                return Ended::Before(None, e);
            }
        }
    }
    let mut rows: Vec<Option<Row>> = (0..batch.len()).map(|_| None).collect();
    for (round, got) in rounds.iter().zip(answered) {
        for (i, row) in round
            .iter()
            .zip(crate::postgres_batch::by_append(got, round.len()))
        {
            if let Some(slot) = rows.get_mut(*i) {
                *slot = row;
            }
        }
    }
    let out = rows
        .iter()
        .zip(batch)
        .zip(calls)
        .map(|((row, (a, _)), (_, problem))| match row {
            Some(row) => outcome_of(row, a, problem),
            None => Err(StoreError::OutcomeUnknown {
                kind: FaultKind::Other,
                message: "fazhi_write_batch committed without an answer for this append".into(),
            }),
        })
        .collect::<Vec<_>>();
    // `fazhi_write_batch` sets the summary's version itself.
    commit_answered(conn, out).await
}

/// Ends a batch whose appends are answered: `COMMIT`.
async fn commit_answered(conn: &Conn, out: Vec<Result<AppendOutcome, StoreError>>) -> Ended {
    if let Err(e) = conn.client.batch_execute("COMMIT").await {
        return Ended::Commit(e);
    }
    Ended::Committed(out)
}

/// The keys of who an append makes a participant of its case: each event's actor and
/// whom it names.
fn participant_keys(a: &Append) -> impl Iterator<Item = u128> + '_ {
    a.events.iter().flat_map(move |e| {
        std::iter::once(e.actor.as_str())
            .chain(e.named.iter().map(String::as_str))
            .map(move |p| crate::postgres_known::Known::key(&a.case, p))
    })
}

/// Whether `a` holds a migration event: one after the opening that takes no action.
fn migrates(a: &Append) -> bool {
    a.events.iter().any(|e| e.seq > 0 && e.action.is_none())
}

/// A migration event (one after the opening that takes no action) moves its case onto
/// another version of the procedure: the case's summary row names that version from then
/// on, as SQLite's store does. `fazhi_append` (the fallback, one call per append) does not
/// set it: this runs inside the batch's transaction after those calls, for the appends
/// they wrote; migrations are rare, so one statement each.
async fn set_versions(
    conn: &Conn,
    batch: &[(Box<Append>, Reply)],
    out: &[Result<AppendOutcome, StoreError>],
) -> Result<(), tokio_postgres::Error> {
    for ((a, _), outcome) in batch.iter().zip(out) {
        if matches!(outcome, Ok(AppendOutcome::Appended)) && migrates(a) {
            conn.client
                .execute(
                    "UPDATE cases SET procedure_version = $2 WHERE id = $1",
                    &[&a.case, &i64::from(a.summary.procedure_version)],
                )
                .await?;
        }
    }
    Ok(())
}

/// Runs a batch as one `fazhi_append` call per append (all sent at once), in one
/// transaction: what a batch falls back to when its one call failed on a value, so that
/// the append at fault is told apart and answered alone.
async fn run_batch(conn: &Conn, batch: &[(Box<Append>, Reply)]) -> Ended {
    let calls: Vec<(Call, Option<StoreError>)> = batch
        .iter()
        .map(|(a, _)| {
            let (call, problem) = Call::of(a);
            (call.with_json(), problem)
        })
        .collect();
    if let Err(e) = conn.client.batch_execute("BEGIN").await {
        return Ended::Before(None, e);
    }
    let params: Vec<_> = calls.iter().map(|(c, _)| c.params()).collect();
    let results = futures_util::future::join_all(
        params
            .iter()
            .map(|p| conn.client.query_one(&conn.append, p.as_slice())),
    )
    .await;
    let mut rows = Vec::with_capacity(results.len());
    let mut first = None;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(row) => rows.push(row),
            Err(e) => {
                if first.is_none() {
                    first = Some((i, e));
                }
            }
        }
    }
    if let Some((i, e)) = first {
        let _ = conn.client.batch_execute("ROLLBACK").await;
        return Ended::Before(Some(i), e);
    }
    let out = rows
        .iter()
        .zip(batch)
        .zip(calls)
        .map(|((row, (a, _)), (_, problem))| outcome_of(row, a, problem))
        .collect::<Vec<_>>();
    if let Err(e) = set_versions(conn, batch, &out).await {
        let _ = conn.client.batch_execute("ROLLBACK").await;
        return Ended::Before(None, e);
    }
    commit_answered(conn, out).await
}

/// Counts and logs a fault met by `appends` appends.
fn record_fault(kind: FaultKind, outcome: &'static str, appends: usize, e: &dyn std::fmt::Display) {
    metrics::counter!("fazhi_store_faults_total", "kind" => kind.label(), "outcome" => outcome)
        .increment(appends as u64);
    if outcome == "unknown" {
        tracing::error!(kind = kind.label(), appends, error = %e,
            "a commit failed: the outcome of its appends is unknown (结果未知)");
    } else {
        tracing::warn!(kind = kind.label(), appends, error = %e,
            "a store fault before commit: nothing was written (未写入)");
    }
}

/// How often a batch that met a deadlock or a serialization failure runs again.
const RERUNS: usize = 5;

/// Commits a batch; answers every append. Drops the connection when it broke.
async fn commit_batch(
    conn: &mut Option<Conn>,
    cfg: &Config,
    health: &Health,
    mut batch: Vec<(Box<Append>, Reply)>,
) {
    let started = Instant::now();
    let size = batch.len();
    let mut reruns = 0;
    let mut set_based = true;
    while !batch.is_empty() {
        if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            *conn = None;
            match open_writer(cfg).await {
                Ok(c) => *conn = Some(c),
                Err(e) => {
                    let kind = e.fault().unwrap_or(FaultKind::Unavailable);
                    record_fault(kind, "not_written", batch.len(), &e);
                    health.unreachable(&e.to_string());
                    let message = e.to_string();
                    for (_, reply) in batch {
                        let _ = reply.send(Err(StoreError::NotWritten {
                            kind,
                            message: message.clone(),
                        }));
                    }
                    return;
                }
            }
        }
        let Some(c) = conn.as_ref() else { return };
        let ended = if set_based {
            run_batch_set(c, &batch, &health.known).await
        } else {
            run_batch(c, &batch).await
        };
        match ended {
            Ended::Committed(out) => {
                health.set(None);
                health.known.insert(
                    batch
                        .iter()
                        .zip(&out)
                        .filter(|(_, r)| matches!(r, Ok(AppendOutcome::Appended)))
                        .flat_map(|((a, _), _)| participant_keys(a)),
                );
                let appended = out
                    .iter()
                    .filter(|r| matches!(r, Ok(AppendOutcome::Appended)))
                    .count();
                metrics::counter!("fazhi_store_appends_total").increment(appended as u64);
                for ((_, reply), r) in batch.into_iter().zip(out) {
                    let _ = reply.send(r);
                }
                break;
            }
            Ended::Commit(e) => {
                let kind = fault_of(&e).unwrap_or(FaultKind::Other);
                record_fault(kind, "unknown", batch.len(), &describe(&e));
                let message = describe(&e);
                for (_, reply) in batch {
                    let _ = reply.send(Err(StoreError::OutcomeUnknown {
                        kind,
                        message: message.clone(),
                    }));
                }
                if c.client.is_closed() || e.code().is_none() {
                    *conn = None;
                }
                break;
            }
            Ended::Before(at, e) => {
                if retryable(&e) && reruns < RERUNS {
                    reruns += 1;
                    metrics::counter!("fazhi_store_batch_reruns_total").increment(1);
                    continue;
                }
                if set_based && fault_of(&e).is_none() {
                    // A value refused somewhere in the batch: run it again one call per
                    // append, which tells the append at fault.
                    set_based = false;
                    health.fallbacks.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("fazhi_store_batch_reruns_total").increment(1);
                    continue;
                }
                match (fault_of(&e), at) {
                    (None, Some(i)) if i < batch.len() => {
                        // The append's own mistake (a value PostgreSQL refuses, a key taken
                        // against the claim): it alone is answered, the others run again.
                        let (_, reply) = batch.remove(i);
                        let _ = reply.send(Err(StoreError::Postgres(e)));
                        metrics::counter!("fazhi_store_batch_reruns_total").increment(1);
                    }
                    (kind, _) => {
                        let kind = kind.unwrap_or(FaultKind::Other);
                        record_fault(kind, "not_written", batch.len(), &describe(&e));
                        if kind == FaultKind::Unavailable {
                            health.unreachable(&describe(&e));
                        }
                        let message = describe(&e);
                        for (_, reply) in batch {
                            let _ = reply.send(Err(StoreError::NotWritten {
                                kind,
                                message: message.clone(),
                            }));
                        }
                        if c.client.is_closed() || e.code().is_none() {
                            *conn = None;
                        }
                        break;
                    }
                }
            }
        }
    }
    metrics::histogram!("fazhi_store_batch_size").record(size as f64);
    metrics::histogram!("fazhi_store_commit_seconds").record(started.elapsed().as_secs_f64());
}

async fn open_writer(cfg: &Config) -> Result<Conn, StoreError> {
    let client = connect(cfg).await.map_err(unavailable)?;
    let append = client.prepare(APPEND_SQL).await?;
    let batch = client.prepare(crate::postgres_batch::SQL).await?;
    Ok(Conn {
        client,
        append,
        batch,
    })
}

/// The appends waiting for a writer, and the close asked for (if it was).
struct Queue {
    rx: mpsc::UnboundedReceiver<Msg>,
    closing: Option<oneshot::Sender<()>>,
}

/// Runs `writers` writers, each with its connection, taking turns at the queue: one gathers
/// the appends waiting (up to `max_batch`) while the others commit theirs, so that a batch
/// is executed and made durable on the server while the next is gathered and sent. Two
/// batches in flight are two transactions, as two nodes' are: the claims in the database
/// order them (a stale one is a conflict, a key being kept is waited for and replayed).
/// Closing: every writer commits the batch it holds, then the rest of the queue is answered
/// [`StoreError::Closed`].
async fn writer_loop(
    cfg: Config,
    rx: mpsc::UnboundedReceiver<Msg>,
    max_batch: usize,
    health: std::sync::Arc<Health>,
    writers: usize,
) {
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(Queue { rx, closing: None }));
    let tasks: Vec<_> = (0..writers.max(1))
        .map(|_| {
            tokio::spawn(writer(
                cfg.clone(),
                queue.clone(),
                max_batch,
                health.clone(),
            ))
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let mut q = queue.lock().await;
    q.rx.close();
    while let Ok(msg) = q.rx.try_recv() {
        match msg {
            Msg::Append(_, reply) => {
                let _ = reply.send(Err(StoreError::Closed));
            }
            Msg::Close(done) => {
                let _ = done.send(());
            }
        }
    }
    if let Some(done) = q.closing.take() {
        let _ = done.send(());
    }
}

/// One writer: gathers a batch from the queue (holding it while it gathers), then commits it.
async fn writer(
    cfg: Config,
    queue: std::sync::Arc<tokio::sync::Mutex<Queue>>,
    max_batch: usize,
    health: std::sync::Arc<Health>,
) {
    let mut conn = open_writer(&cfg).await.ok();
    loop {
        let batch = {
            let mut q = queue.lock().await;
            if q.closing.is_some() {
                break;
            }
            let Some(first) = q.rx.recv().await else {
                break;
            };
            let mut batch = Vec::new();
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Append(a, reply) => batch.push((a, reply)),
                    Msg::Close(done) => {
                        q.closing = Some(done);
                        break;
                    }
                }
                if batch.len() < max_batch {
                    next = q.rx.try_recv().ok();
                }
            }
            batch
        };
        if !batch.is_empty() {
            commit_batch(&mut conn, &cfg, &health, batch).await;
        }
    }
}

/// A summary asked for, and where to answer.
type Lookup = (
    String,
    oneshot::Sender<Result<Option<CaseSummary>, StoreError>>,
);

/// The summaries of several cases at once.
const SUMMARIES_SQL: &str = "SELECT cases.id, cases.procedure, cases.procedure_version, \
     cases.title, cases.state, cases.tracks, cases.seq, cases.head, cases.opened_at, \
     cases.last_at, cases.next_due, cases.closed FROM cases WHERE cases.id = ANY($1)";

/// Answers the summaries asked for ([`EventStore::summary`]: a request of a node on
/// PostgreSQL checks its case's seq and head with one, but an append at the seq the node
/// has, which its claim in the database guards): those asked for while a lookup runs
/// are read together in the next one, one statement for all (as appends are committed
/// together), on a pooled connection. One statement a batch saves the server the cost of
/// a statement per request. When the batch's statement fails, each summary is read alone, so
/// that each gets its own error.
async fn lookup_loop(pool: Pool, mut wanted: mpsc::UnboundedReceiver<Lookup>) {
    while let Some(first) = wanted.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match wanted.try_recv() {
                Ok(l) => batch.push(l),
                Err(_) => break,
            }
        }
        let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        let found = async {
            let c = pool.get().await.map_err(pool_error)?;
            let stmt = c.prepare_cached(SUMMARIES_SQL).await?;
            Ok::<_, StoreError>(c.query(&stmt, &[&ids]).await?)
        }
        .await;
        match found {
            Ok(rows) => {
                let mut by_id = std::collections::HashMap::with_capacity(rows.len());
                for r in &rows {
                    let id = r.try_get::<_, String>(0).unwrap_or_default();
                    by_id.insert(id, summary_of(r).map_err(|e| e.to_string()));
                }
                for (id, reply) in batch {
                    let answer = match by_id.get(&id) {
                        None => Ok(None),
                        Some(Ok(s)) => Ok(Some(s.clone())),
                        Some(Err(e)) => Err(StoreError::Corrupt(e.clone())),
                    };
                    let _ = reply.send(answer);
                }
            }
            Err(e) if e.fault().is_some() => {
                // The server cannot be reached: each is told so (no read waits its turn).
                let kind = e.fault().unwrap_or(FaultKind::Unavailable);
                let message = e.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(StoreError::NotWritten {
                        kind,
                        message: message.clone(),
                    }));
                }
            }
            Err(_) => {
                let alone = batch.into_iter().map(|(id, reply)| {
                    let pool = pool.clone();
                    async move {
                        let answer = async {
                            let c = pool.get().await.map_err(pool_error)?;
                            let stmt = c.prepare_cached(SUMMARY_SQL).await?;
                            let row = c.query_opt(&stmt, &[&id]).await?;
                            row.as_ref().map(summary_of).transpose()
                        }
                        .await;
                        let _ = reply.send(answer);
                    }
                });
                futures_util::future::join_all(alone).await;
            }
        }
    }
}

/// A case's summary row by id (prepared once per read connection).
const SUMMARY_SQL: &str = "SELECT cases.id, cases.procedure, cases.procedure_version, \
     cases.title, cases.state, cases.tracks, cases.seq, cases.head, cases.opened_at, \
     cases.last_at, cases.next_due, cases.closed FROM cases WHERE cases.id = $1";

pub(crate) const SUMMARY_COLUMNS: &str = "cases.id, cases.procedure, cases.procedure_version, cases.title, \
     cases.state, cases.tracks, cases.seq, cases.head, cases.opened_at, cases.last_at, \
     cases.next_due, cases.closed";

pub(crate) fn summary_of(r: &Row) -> Result<CaseSummary, StoreError> {
    let id: String = r.try_get(0)?;
    let tracks: String = r.try_get(5)?;
    Ok(CaseSummary {
        tracks: serde_json::from_str(&tracks)
            .map_err(|e| StoreError::Corrupt(format!("tracks of `{id}`: {e}")))?,
        procedure: r.try_get(1)?,
        procedure_version: u32::try_from(r.try_get::<_, i64>(2)?)
            .map_err(|e| StoreError::Corrupt(format!("procedure version of `{id}`: {e}")))?,
        title: r.try_get(3)?,
        state: r.try_get(4)?,
        seq: to_u64(r.try_get(6)?)?,
        head: r.try_get(7)?,
        opened_at: from_micros(r.try_get(8)?)?,
        last_at: from_micros(r.try_get(9)?)?,
        next_due: r
            .try_get::<_, Option<i64>>(10)?
            .map(from_micros)
            .transpose()?,
        closed: r.try_get(11)?,
        id,
    })
}

/// A listing's SQL and its parameters.
fn list_query(
    query: &CaseQuery,
    limit: i64,
) -> Option<(String, Vec<Box<dyn ToSql + Sync + Send>>)> {
    let reach = reach(query)?;
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut p = |v: Box<dyn ToSql + Sync + Send>| {
        params.push(v);
        format!("${}", params.len())
    };
    let after = p(Box::new(query.after.clone().unwrap_or_default()));
    let reader = query.reader.clone().unwrap_or_default();
    let mut sql = match reach {
        Reach::Own => {
            let actor = p(Box::new(reader.actor.clone()));
            let own = p(Box::new(reader.own.clone()));
            format!(
                "SELECT {SUMMARY_COLUMNS} FROM participants p JOIN cases ON cases.id = p.case_id \
                 WHERE p.actor = {actor} AND p.case_id > {after} AND cases.procedure = ANY({own})"
            )
        }
        Reach::Every => format!("SELECT {SUMMARY_COLUMNS} FROM cases WHERE cases.id > {after}"),
        Reach::Mixed { all, own } => {
            let mut either = Vec::new();
            if all {
                let all = p(Box::new(reader.all.clone()));
                either.push(format!("cases.procedure = ANY({all})"));
            }
            if own {
                let own = p(Box::new(reader.own.clone()));
                let actor = p(Box::new(reader.actor.clone()));
                either.push(format!(
                    "(cases.procedure = ANY({own}) AND EXISTS (SELECT 1 FROM participants q \
                     WHERE q.case_id = cases.id AND q.actor = {actor}))"
                ));
            }
            format!(
                "SELECT {SUMMARY_COLUMNS} FROM cases WHERE cases.id > {after} AND ({})",
                either.join(" OR ")
            )
        }
    };
    if let Some(procedure) = &query.procedure {
        let v = p(Box::new(procedure.clone()));
        sql.push_str(&format!(" AND cases.procedure = {v}"));
    }
    if let Some(state) = &query.state {
        let v = p(Box::new(state.clone()));
        sql.push_str(&format!(" AND cases.state = {v}"));
    }
    if let Some(at) = query.overdue_at {
        let v = p(Box::new(micros(at)));
        sql.push_str(&format!(
            " AND NOT cases.closed AND cases.next_due IS NOT NULL AND cases.next_due <= {v}"
        ));
    }
    let limit = p(Box::new(limit));
    sql.push_str(&match reach {
        Reach::Own => format!(" ORDER BY p.case_id LIMIT {limit}"),
        _ => format!(" ORDER BY cases.id LIMIT {limit}"),
    });
    Some((sql, params))
}

fn events_of(case: &str, rows: &[Row], from: u64) -> Result<Vec<StoredEvent>, StoreError> {
    let mut events = Vec::with_capacity(rows.len());
    for (want, r) in (from..).zip(rows) {
        let seq = to_u64(r.try_get(0)?)?;
        if seq != want {
            return Err(StoreError::Corrupt(format!(
                "the history of `{case}` breaks off at event {want}: it is missing"
            )));
        }
        events.push(StoredEvent {
            seq,
            hash: r.try_get(1)?,
            bytes: r.try_get(2)?,
        });
    }
    Ok(events)
}

impl EventStore for PgStore {
    fn append(&self, append: Append) -> BoxFuture<'static, Result<AppendOutcome, StoreError>> {
        if self.closed.load(Ordering::SeqCst) {
            return Box::pin(std::future::ready(Err(StoreError::Closed)));
        }
        let (tx, rx) = oneshot::channel();
        if self.sender.send(Msg::Append(Box::new(append), tx)).is_err() {
            return Box::pin(std::future::ready(Err(StoreError::Closed)));
        }
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }

    fn events(&self, case: &str) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
        let case = case.to_owned();
        self.read(move |c| {
            Box::pin(async move {
                let stmt = c
                    .prepare_cached(
                        "SELECT seq, hash, bytes FROM events WHERE case_id = $1 ORDER BY seq",
                    )
                    .await?;
                let rows = c.query(&stmt, &[&case]).await?;
                events_of(&case, &rows, 0)
            })
        })
    }

    fn events_page(
        &self,
        case: &str,
        from: u64,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<StoredEvent>, StoreError>> {
        let case = case.to_owned();
        self.read(move |c| {
            Box::pin(async move {
                let Ok(start) = i64::try_from(from) else {
                    return Ok(Vec::new());
                };
                let rows = c
                    .query(
                        "SELECT seq, hash, bytes FROM events WHERE case_id = $1 AND seq >= $2 \
                         ORDER BY seq LIMIT $3",
                        &[&case, &start, &i64::from(limit)],
                    )
                    .await?;
                events_of(&case, &rows, from)
            })
        })
    }

    fn summary(&self, case: &str) -> BoxFuture<'static, Result<Option<CaseSummary>, StoreError>> {
        let (tx, rx) = oneshot::channel();
        if self.lookups.send((case.to_owned(), tx)).is_err() {
            return Box::pin(std::future::ready(Err(StoreError::Closed)));
        }
        Box::pin(async move { rx.await.unwrap_or(Err(StoreError::Closed)) })
    }

    fn list(&self, query: CaseQuery) -> BoxFuture<'static, Result<Page, StoreError>> {
        self.read(move |c| {
            Box::pin(async move {
                let limit = query.limit.clamp(1, 1000);
                let Some((sql, params)) = list_query(&query, i64::from(limit) + 1) else {
                    return Ok(Page {
                        cases: Vec::new(),
                        next: None,
                    });
                };
                let refs: Vec<&(dyn ToSql + Sync)> = params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                let stmt = c.prepare(&sql).await?;
                let rows = c.query(&stmt, &refs).await?;
                let mut cases = rows.iter().map(summary_of).collect::<Result<Vec<_>, _>>()?;
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                let more = cases.len() > limit;
                cases.truncate(limit);
                let next = if more {
                    cases.last().map(|c| c.id.clone())
                } else {
                    None
                };
                Ok(Page { cases, next })
            })
        })
    }

    fn deadlines(
        &self,
        query: crate::DeadlineQuery,
    ) -> BoxFuture<'static, Result<crate::DeadlinePage, StoreError>> {
        self.read(move |c| Box::pin(crate::postgres_board::query(c, query)))
    }

    /// A yes is kept in memory (a participant stays one, see `postgres_known`); a no is
    /// asked again each time (the actor may take part since, through any node).
    fn takes_part(&self, case: &str, actor: &str) -> BoxFuture<'static, Result<bool, StoreError>> {
        let key = crate::postgres_known::Known::key(case, actor);
        if self.health.known.contains(key) {
            return Box::pin(async { Ok(true) });
        }
        let health = self.health.clone();
        let (case, actor) = (case.to_owned(), actor.to_owned());
        let asked = self.read(move |c| {
            Box::pin(async move {
                let stmt = c
                    .prepare_cached("SELECT 1 FROM participants WHERE case_id = $1 AND actor = $2")
                    .await?;
                Ok(c.query_opt(&stmt, &[&case, &actor]).await?.is_some())
            })
        });
        Box::pin(async move {
            let yes = asked.await?;
            if yes {
                health.known.insert([key]);
            }
            Ok(yes)
        })
    }

    fn idempotency(
        &self,
        principal: &str,
        key: &str,
    ) -> BoxFuture<'static, Result<Option<IdempotencyRecord>, StoreError>> {
        let (principal, key) = (principal.to_owned(), key.to_owned());
        self.read(move |c| {
            Box::pin(async move {
                let stmt = c
                    .prepare_cached(
                        "SELECT request_hash, case_id, status, headers, body FROM idempotency \
                         WHERE principal = $1 AND key = $2",
                    )
                    .await?;
                let Some(r) = c.query_opt(&stmt, &[&principal, &key]).await? else {
                    return Ok(None);
                };
                let headers: String = r.try_get(3)?;
                Ok(Some(IdempotencyRecord {
                    principal,
                    key,
                    request_hash: r.try_get(0)?,
                    case: r.try_get(1)?,
                    status: u16::try_from(r.try_get::<_, i64>(2)?)
                        .map_err(|e| StoreError::Corrupt(format!("idempotency status: {e}")))?,
                    headers: serde_json::from_str(&headers)
                        .map_err(|e| StoreError::Corrupt(format!("idempotency headers: {e}")))?,
                    body: r.try_get(4)?,
                }))
            })
        })
    }

    fn close(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        self.closed.store(true, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        let sent = self.sender.send(Msg::Close(tx)).is_ok();
        Box::pin(async move {
            if sent {
                let _ = rx.await;
            }
            Ok(())
        })
    }

    fn shared(&self) -> bool {
        true
    }

    /// Refusing writes while the server cannot be reached (a connection cannot be made, or
    /// does not answer within the probe's wait) or is a read-only standby, as the probe
    /// (every [`PgOptions::probe_every`]) or the writer last found; `reopened` stays 0 (a
    /// case is checked against the database before every read, and by the claim of every
    /// append).
    fn status(&self) -> crate::StoreStatus {
        crate::StoreStatus {
            refusing: self.health.get(),
            reopened: 0,
        }
    }
}

/// PostgreSQL's plan for `sql` with `params` (`EXPLAIN`), its lines joined.
async fn explain(
    c: &ClientWrapper,
    sql: &str,
    params: &[Box<dyn ToSql + Sync + Send>],
) -> Result<String, StoreError> {
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = c.query(&format!("EXPLAIN {sql}"), &refs).await?;
    let lines: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<_, String>(0))
        .collect::<Result<_, _>>()?;
    Ok(lines.join("\n"))
}

/// The plan PostgreSQL makes for a listing (for the tests that listings use an index).
#[doc(hidden)]
pub fn explain_list(
    store: &PgStore,
    query: CaseQuery,
) -> BoxFuture<'static, Result<String, StoreError>> {
    store.read(move |c| {
        Box::pin(async move {
            let Some((sql, params)) = list_query(&query, 51) else {
                return Ok(String::new());
            };
            explain(c, &sql, &params).await
        })
    })
}

/// PostgreSQL's plan for a page of the deadline board (`EXPLAIN`), for tests that show it
/// searches its index.
pub fn explain_board(
    store: &PgStore,
    query: crate::DeadlineQuery,
) -> BoxFuture<'static, Result<String, StoreError>> {
    store.read(move |c| {
        Box::pin(async move {
            let Some((sql, params)) = crate::postgres_board::board_sql(&query, 51) else {
                return Ok(String::new());
            };
            explain(c, &sql, &params).await
        })
    })
}
