//! `fazhi export` and `fazhi import`: cases as NDJSON events, one line per event,
//!
//! ```text
//! {"hash":"<SHA-256 of the event's stored bytes>","event":<the event's stored bytes>}
//! ```
//!
//! `event` is the stored bytes verbatim (the JSON the core serialised and hashed), so
//! `hash` can be checked with any SHA-256 tool and an import stores the same bytes. A case's
//! lines follow each other, oldest first; cases are in id order.
//!
//! An import checks every line (its hash against its bytes) and every case's chain before it
//! writes anything of that case, replays each case with the rules to compute its summary,
//! and writes each case in one transaction. It is idempotent: events the database already
//! has (same case, seq and hash) are skipped, events beyond them are appended, and a case
//! whose stored history differs from the file's is refused.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use fazhi_core::model::RuleSet;
use fazhi_core::runtime::{Case, Event, EventBody, Hash256, Recorded, sha256_hex, verify};
use fazhi_core::time::Calendar;
use fazhi_http::service::summary_at;
use fazhi_store::{
    Append, AppendOutcome, EventStore, NewEvent, PgOptions, PgStore, SqliteOptions, SqliteStore,
    StoreError,
};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Arguments of `fazhi export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The database: an SQLite file, or a PostgreSQL database as a URL
    /// (`postgres://user@host/db`).
    #[arg(long, default_value = "fazhi.db")]
    pub db: PathBuf,
    /// The NDJSON file to write (a new file; default: standard output).
    pub out: Option<PathBuf>,
}

/// Arguments of `fazhi import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The database to import into: an SQLite file, or a PostgreSQL database as a URL
    /// (`postgres://user@host/db`; its tables are created if they are not there yet).
    #[arg(long, default_value = "fazhi.db")]
    pub db: PathBuf,
    /// Create the `--db` file when it is missing (a new, empty database; SQLite only).
    #[arg(long)]
    pub create_db: bool,
    /// The directory of procedures the cases run on (to replay them and compute their
    /// summaries).
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// The calendar directory (default: `<rules>/calendars`).
    #[arg(long)]
    pub calendars: Option<PathBuf>,
    /// The NDJSON file, as `fazhi export` writes it.
    pub input: PathBuf,
}

/// Why an export or an import could not run (as opposed to one case refused).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The database could not be opened or read.
    #[error("`{}`: {source}", .db.display())]
    Store {
        /// The database.
        db: PathBuf,
        /// What the store said.
        source: StoreError,
    },
    /// A missing database was not to be created.
    #[error(transparent)]
    Db(#[from] crate::db::DbPathError),
    /// The rules could not be loaded.
    #[error("{0} (import replays every case with the rules: `--rules DIR`, `--calendars DIR`)")]
    Rules(String),
    /// A file could not be read or written.
    #[error("`{}`: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The output file exists.
    #[error("`{}` exists: name a new file (an export never overwrites one)", .0.display())]
    Exists(PathBuf),
    /// Lines that belong to no case: nothing was imported.
    #[error(
        "{}: nothing was imported: {}",
        .path.display(),
        .problems.join("; ")
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// `line N: problem`, for each (at most 20).
        problems: Vec<String>,
    },
}

/// One line of an export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    hash: String,
    event: Box<RawValue>,
}

/// Writes one event as a line.
fn write_line(out: &mut impl Write, hash: &str, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(b"{\"hash\":\"")?;
    out.write_all(hash.as_bytes())?;
    out.write_all(b"\",\"event\":")?;
    out.write_all(bytes)?;
    out.write_all(b"}\n")
}

/// What an export wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Exported {
    /// Cases written.
    pub cases: usize,
    /// Events written.
    pub events: usize,
    /// Cases left out, each `case <id>: <why>`.
    pub skipped: Vec<String>,
}

/// Writes every case whose chain verifies to `out`; a case whose chain is broken is left
/// out and named. `db` is an SQLite file or a PostgreSQL URL: the same cases give the same
/// file from either.
pub fn export(db: &Path, out: &mut impl Write) -> Result<Exported, ArchiveError> {
    let store_err = |source| ArchiveError::Store {
        db: PathBuf::from(crate::db::shown(db)),
        source,
    };
    let store = crate::db::open_inspect(db).map_err(store_err)?;
    let io = |source| ArchiveError::Io {
        path: PathBuf::from("(output)"),
        source,
    };
    let mut done = Exported::default();
    for id in store.case_ids().map_err(store_err)? {
        let (summary, events) = store.snapshot(&id).map_err(store_err)?;
        let events = match events {
            Ok(e) => e,
            Err(e) => {
                done.skipped.push(format!("case {id}: {e}"));
                continue;
            }
        };
        let bytes: Vec<&[u8]> = events.iter().map(|e| e.bytes.as_slice()).collect();
        if let Err(link) = verify(&bytes, summary.as_ref().map(|s| s.head.as_str())) {
            done.skipped.push(format!("case {id}: {link}"));
            continue;
        }
        // The core writes compact JSON: a line break in stored bytes is not its writing.
        if let Some(e) = events.iter().find(|e| e.bytes.contains(&b'\n')) {
            done.skipped.push(format!(
                "case {id}: event {} has a line break in its stored bytes",
                e.seq
            ));
            continue;
        }
        for e in &events {
            write_line(out, &sha256_hex(&e.bytes), &e.bytes).map_err(io)?;
        }
        done.cases += 1;
        done.events += events.len();
    }
    out.flush().map_err(io)?;
    Ok(done)
}

/// Runs `fazhi export`: exit 1 when a case was left out, 2 when nothing could be exported.
pub fn run_export(args: &ExportArgs) -> ExitCode {
    let result = match &args.out {
        None => export(&args.db, &mut BufWriter::new(std::io::stdout().lock())),
        Some(path) => export_to_file(&args.db, path),
    };
    match result {
        Ok(done) => {
            let db = crate::db::shown(&args.db);
            for line in &done.skipped {
                eprintln!("{db}: left out {line}");
            }
            eprintln!(
                "exported {} cases, {} events from `{db}`",
                done.cases, done.events
            );
            if done.skipped.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "{} cases left out: their chains do not verify (`fazhi verify`)",
                    done.skipped.len()
                );
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Exports into a new file, written under a temporary name and renamed when whole.
fn export_to_file(db: &Path, path: &Path) -> Result<Exported, ArchiveError> {
    if path.exists() {
        return Err(ArchiveError::Exists(path.to_owned()));
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io = |source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::create(&partial).map_err(io)?;
    let mut writer = BufWriter::new(file);
    let done = match export(db, &mut writer) {
        Ok(done) => done,
        Err(e) => {
            drop(writer);
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)?;
    Ok(done)
}

/// One event read from a line.
struct Item {
    line: usize,
    hash: String,
    bytes: Vec<u8>,
    /// The event, when its bytes are one.
    event: Result<Event, String>,
    seq: u64,
}

/// A case's lines, in the file's order.
struct Group {
    case: String,
    items: Vec<Item>,
}

/// What became of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    /// Its events were written (`from` is the first new one; 0 for a new case).
    Imported {
        /// The first event written.
        from: u64,
        /// How many.
        events: usize,
    },
    /// The database has every event of it already.
    AlreadyThere,
    /// Nothing of it was written.
    Refused(String),
}

/// What an import did, case by case, in the file's order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Imported {
    /// Each case and what became of it.
    pub cases: Vec<(String, CaseOutcome)>,
}

/// The case and seq a line's event says it is, when it says so (even if it is not an event).
fn case_and_seq(bytes: &[u8]) -> Option<(String, u64)> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    Some((v.get("case")?.as_str()?.to_owned(), v.get("seq")?.as_u64()?))
}

/// Reads the file into its cases. A line that cannot be told to belong to a case (not a line
/// of an export, or an event without a case and seq), and a case whose lines do not follow
/// each other, make the whole file unreadable: nothing is imported.
fn read_groups(path: &Path) -> Result<Vec<Group>, ArchiveError> {
    let io = |source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(io)?);
    let mut groups: Vec<Group> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut problems = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let n = i + 1;
        let line = line.map_err(io)?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed: Line = match serde_json::from_slice(&line) {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!(
                    "line {n}: not a line of `fazhi export` (`{{\"hash\":…,\"event\":…}}`): {e}"
                ));
                continue;
            }
        };
        let bytes = parsed.event.get().as_bytes().to_vec();
        let Some((case, seq)) = case_and_seq(&bytes) else {
            problems.push(format!("line {n}: its event has no `case` and `seq`"));
            continue;
        };
        let event = Event::from_bytes(&bytes).map_err(|e| e.to_string());
        let item = Item {
            line: n,
            hash: parsed.hash,
            bytes,
            event,
            seq,
        };
        match groups.last_mut() {
            Some(g) if g.case == case => g.items.push(item),
            _ => {
                if !seen.insert(case.clone()) {
                    problems.push(format!(
                        "line {n}: the events of case `{case}` do not follow each other (as `fazhi export` writes them)"
                    ));
                    continue;
                }
                groups.push(Group {
                    case,
                    items: vec![item],
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(groups)
    } else {
        problems.truncate(20);
        Err(ArchiveError::Unreadable {
            path: path.to_owned(),
            problems,
        })
    }
}

/// Imports every case read from a file, each checked whole before anything of it is written.
async fn import(
    store: &dyn EventStore,
    groups: &[Group],
    rules: &RuleSet,
    calendar: &Calendar,
) -> Result<Imported, StoreError> {
    let mut done = Imported::default();
    for group in groups {
        let outcome = import_case(store, group, rules, calendar).await?;
        done.cases.push((group.case.clone(), outcome));
    }
    Ok(done)
}

/// Checks one case's lines and writes what the database does not have yet.
async fn import_case(
    store: &dyn EventStore,
    group: &Group,
    rules: &RuleSet,
    calendar: &Calendar,
) -> Result<CaseOutcome, StoreError> {
    let refuse = |line: usize, seq: u64, problem: String| {
        CaseOutcome::Refused(format!("event {seq} (line {line}): {problem}"))
    };
    // Each line: its hash is its bytes', and its bytes are an event of this case.
    for item in &group.items {
        let actual = sha256_hex(&item.bytes);
        if actual != item.hash {
            return Ok(refuse(
                item.line,
                item.seq,
                format!(
                    "its bytes hash to {actual}, not to the {} it gives: the line was changed",
                    item.hash
                ),
            ));
        }
        if let Err(e) = &item.event {
            return Ok(refuse(item.line, item.seq, format!("not an event: {e}")));
        }
        // The times an importer may give the service: from 1949-10-01 China time to now.
        if let Ok(event) = &item.event {
            let at = fazhi_core::time::china::rfc3339(event.at);
            if event.at < fazhi_http::api::at_floor() {
                return Ok(refuse(
                    item.line,
                    item.seq,
                    format!(
                        "其时间 {at} 早于 {floor}；its time {at} is before {floor}, the earliest an act can have (fix the record's time)",
                        floor = fazhi_http::api::AT_FLOOR
                    ),
                ));
            }
            if event.at > Utc::now() {
                return Ok(refuse(
                    item.line,
                    item.seq,
                    format!("其时间 {at} 晚于现在；its time {at} is in the future"),
                ));
            }
        }
    }
    let Some(first) = group.items.first() else {
        return Ok(CaseOutcome::AlreadyThere);
    };
    // What the database has of the case, and where the file starts.
    let stored = match store.events(&group.case).await {
        Ok(stored) => stored,
        Err(e @ StoreError::Corrupt(_)) => {
            return Ok(CaseOutcome::Refused(format!(
                "the database's history of it does not read ({e}): see `fazhi verify`"
            )));
        }
        Err(e) => return Err(e),
    };
    let have = u64::try_from(stored.len()).unwrap_or(u64::MAX);
    if first.seq > have {
        return Ok(refuse(
            first.line,
            first.seq,
            format!(
                "the file starts the case at event {}, the database has {have} events of it: events are missing in between",
                first.seq
            ),
        ));
    }
    // The file's events over those the database has must be the same events.
    for item in &group.items {
        if let Some(s) = usize::try_from(item.seq).ok().and_then(|i| stored.get(i))
            && s.hash != item.hash
        {
            return Ok(refuse(
                item.line,
                item.seq,
                format!(
                    "the database has another event {} for this case (hash {}): its history differs from the file's",
                    item.seq, s.hash
                ),
            ));
        }
    }
    let new: Vec<&Item> = group.items.iter().filter(|i| i.seq >= have).collect();
    if new.is_empty() {
        return Ok(CaseOutcome::AlreadyThere);
    }
    // The whole history, the database's then the file's new events: one chain from event 0.
    let mut bytes: Vec<&[u8]> = stored.iter().map(|e| e.bytes.as_slice()).collect();
    bytes.extend(new.iter().map(|i| i.bytes.as_slice()));
    // The last line's hash (checked against its bytes above) stands for the head, so that a
    // broken link is blamed on the event that changed.
    let head = group.items.last().map(|i| i.hash.as_str());
    if let Err(link) = verify(&bytes, head) {
        let line = new
            .iter()
            .find(|i| i.seq == link.seq)
            .map_or(first.line, |i| i.line);
        return Ok(refuse(line, link.seq, link.problem));
    }
    let mut events = Vec::with_capacity(bytes.len());
    for b in &bytes {
        match Event::from_bytes(b) {
            Ok(e) => events.push(e),
            Err(e) => return Ok(CaseOutcome::Refused(format!("an event does not read: {e}"))),
        }
    }
    let case = match Case::replay(rules, &events) {
        Ok(c) => c,
        Err(e) => {
            return Ok(CaseOutcome::Refused(format!(
                "it does not replay with these rules: {e} (pass the rules it runs on with `--rules`)"
            )));
        }
    };
    if case.id() != group.case {
        return Ok(CaseOutcome::Refused(format!(
            "its events say they belong to case `{}`",
            case.id()
        )));
    }
    // The version each event was appended on: the opening's, then, from a migration event
    // on, the version it moved the case to (as the server recorded it).
    let mut version = case.view().procedure_version;
    let new_events: Vec<NewEvent> = events
        .into_iter()
        .zip(&bytes)
        .enumerate()
        .filter_map(|(i, (event, raw))| {
            match &event.body {
                EventBody::Opened { version: v, .. } => version = *v,
                EventBody::Migrated { to_version, .. } => version = *to_version,
                EventBody::Action { .. } => {}
            }
            let recorded = Recorded {
                hash: Hash256::of(raw),
                bytes: raw.to_vec(),
                event,
            };
            (i >= stored.len()).then(|| NewEvent::from_recorded(&recorded, version))
        })
        .collect();
    let count = new_events.len();
    // The summary as the server would compute it now.
    let summary = summary_at(&case, Utc::now().max(case.last_at()), calendar);
    let outcome = store
        .append(Append {
            case: group.case.clone(),
            expected_seq: have,
            events: new_events,
            summary,
            deadlines: fazhi_http::deadlines::board_at(
                &case,
                Utc::now().max(case.last_at()),
                calendar,
            ),
            idempotency: None,
        })
        .await?;
    Ok(match outcome {
        AppendOutcome::Appended => CaseOutcome::Imported {
            from: have,
            events: count,
        },
        AppendOutcome::Conflict { current_seq } => CaseOutcome::Refused(format!(
            "the case changed while it was imported (it has {current_seq} events now): import again, with no server writing to the database"
        )),
        AppendOutcome::Replay(_) => CaseOutcome::Refused("unexpected idempotency replay".into()),
    })
}

/// Runs `fazhi import`: exit 1 when a case was refused, 2 when nothing could be imported.
pub fn run_import(args: &ImportArgs) -> ExitCode {
    match run_import_inner(args) {
        Ok(done) => {
            let (mut imported, mut events, mut there, mut refused) = (0, 0, 0, 0);
            for (case, outcome) in &done.cases {
                match outcome {
                    CaseOutcome::Imported { from, events: n } => {
                        imported += 1;
                        events += n;
                        if *from > 0 {
                            println!(
                                "case {case}: added events {from} to {}",
                                from.saturating_add(u64::try_from(*n).unwrap_or(u64::MAX))
                                    .saturating_sub(1)
                            );
                        }
                    }
                    CaseOutcome::AlreadyThere => there += 1,
                    CaseOutcome::Refused(why) => {
                        refused += 1;
                        println!(
                            "{}: case {case}: refused, nothing of it written: {why}",
                            args.input.display()
                        );
                    }
                }
            }
            println!(
                "imported {imported} cases ({events} events) into `{}`; {there} already there; {refused} refused",
                crate::db::shown(&args.db)
            );
            if refused == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_import_inner(args: &ImportArgs) -> Result<Imported, ArchiveError> {
    let postgres = crate::db::postgres_url(&args.db).map(str::to_owned);
    let (db, create) = match &postgres {
        Some(_) => (args.db.clone(), false),
        None => crate::db::database(Some(&args.db), args.create_db)?,
    };
    let (rules, calendar) = crate::cmd_serve::load_rules(&args.rules, args.calendars.as_deref())
        .map_err(ArchiveError::Rules)?;
    // Read the file before the database is opened (or created): an unreadable file
    // leaves no new database behind.
    let groups = read_groups(&args.input)?;
    let store_err = |source| ArchiveError::Store {
        db: PathBuf::from(crate::db::shown(&db)),
        source,
    };
    let store: Box<dyn EventStore> = match &postgres {
        Some(url) => Box::new(PgStore::open(PgOptions::new(url)).map_err(store_err)?),
        None => Box::new(
            SqliteStore::open(SqliteOptions {
                create,
                ..SqliteOptions::new(&db)
            })
            .map_err(store_err)?,
        ),
    };
    let (done, closed) = actix_web::rt::System::new().block_on(async {
        let done = import(store.as_ref(), &groups, &rules, &calendar).await;
        (done, store.close().await)
    });
    let done = done.map_err(store_err)?;
    closed.map_err(store_err)?;
    Ok(done)
}
