//! `fazhi verify --db <PATH or postgres://URL>`: checks every case's hash chain, replays each case with the
//! rules, and compares every column kept beside the event bytes (the summary row: state,
//! title, tracks, closed, next_due…; the event columns that mirror the bytes: actor, roles,
//! at…) with what the events say. Names each case, column, expected and found value.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use fazhi_core::model::RuleSet;
use fazhi_core::runtime::{Case, Event, Hash256, Recorded, sha256_hex, verify};
use fazhi_core::time::Calendar;
use fazhi_http::service::summary_at;
use fazhi_store::audit::{Columns, event_columns, summary_columns};
use fazhi_store::{NewEvent, StoreError};

/// Arguments of `fazhi verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The database: an SQLite file, or a PostgreSQL database as a URL
    /// (`postgres://user@host/db`).
    #[arg(long, default_value = "fazhi.db")]
    pub db: PathBuf,
    /// The directory of procedures the cases run on (to replay them and recompute their
    /// summaries).
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// The calendar directory (default: `<rules>/calendars`).
    #[arg(long)]
    pub calendars: Option<PathBuf>,
}

/// One thing wrong with one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The case.
    pub case: String,
    /// What is wrong.
    pub what: String,
}

/// What a verification found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Cases checked.
    pub cases: usize,
    /// Events checked.
    pub events: usize,
    /// Every problem found, case by case (a case may have several).
    pub problems: Vec<Problem>,
}

impl Report {
    /// How many cases have a problem.
    pub fn broken_cases(&self) -> usize {
        let mut ids: Vec<&str> = self.problems.iter().map(|p| p.case.as_str()).collect();
        ids.dedup();
        ids.len()
    }

    fn push(&mut self, case: &str, what: impl Into<String>) {
        self.problems.push(Problem {
            case: case.to_owned(),
            what: what.into(),
        });
    }
}

/// Why a database could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// There is no file.
    #[error("no database at `{}` (`--db`): check the path", .0.display())]
    Missing(PathBuf),
    /// The database could not be read.
    #[error("`{}`: {source}", .db.display())]
    Store {
        /// The database.
        db: PathBuf,
        /// What the store said.
        source: StoreError,
    },
    /// The rules could not be loaded.
    #[error("{0} (verify replays every case with the rules: `--rules DIR`, `--calendars DIR`)")]
    Rules(String),
}

/// Checks every case of the database against the rules and calendar.
pub fn check(db: &Path, rules: &RuleSet, calendar: &Calendar) -> Result<Report, VerifyError> {
    if crate::db::postgres_url(db).is_none() && !db.exists() {
        return Err(VerifyError::Missing(db.to_owned()));
    }
    let store_err = |source| VerifyError::Store {
        db: PathBuf::from(crate::db::shown(db)),
        source,
    };
    let store = crate::db::open_inspect(db).map_err(store_err)?;
    let mut report = Report::default();
    for id in store.orphan_case_ids().map_err(store_err)? {
        report.push(&id, "it has events but no summary row");
    }
    // Counted before any chain is read: the store only ever adds rows to the end of a chain,
    // so while it is written to a chain can only have grown since, and more rows than the
    // chain links means rows that no chain reaches.
    let stored = store.event_counts().map_err(store_err)?;
    // Who takes part in each case, read likewise before the chains: it can only have grown.
    let participants = store.participants().map_err(store_err)?;
    let now = Utc::now();
    let unfilled: std::collections::BTreeSet<String> = store
        .unfilled_deadlines()
        .map_err(store_err)?
        .into_iter()
        .collect();
    for id in store.case_ids().map_err(store_err)? {
        report.cases += 1;
        // The summary row and the history from one snapshot, so that they agree.
        let record = store.record(&id).map_err(store_err)?;
        let events = match record.events {
            Ok(events) => events,
            Err(e) => {
                report.push(&id, e.to_string());
                continue;
            }
        };
        report.events += events.len();
        let found_summary = record.summary.unwrap_or_default();
        let head = match found_summary.get("head") {
            Some(fazhi_store::audit::Cell::Text(h)) => Some(h.as_str()),
            _ => None,
        };
        let bytes: Vec<&[u8]> = events.iter().map(|e| e.event.bytes.as_slice()).collect();
        let Some(first) = bytes.first() else {
            report.push(&id, "its summary row links no event");
            continue;
        };
        // The oldest event reached must be the opening: else a link is cut.
        if let Ok(e) = Event::from_bytes(first)
            && e.seq > 0
        {
            report.push(
                &id,
                format!(
                    "the history breaks off below event {}: its link to event {} is missing or wrong",
                    e.seq,
                    e.seq - 1
                ),
            );
            continue;
        }
        // The links between events; the head is one of the columns compared below, so it
        // only helps to tell which side of a broken link changed.
        if let Err(link) = verify(&bytes, None) {
            let told = verify(&bytes, head).err().unwrap_or(link);
            report.push(&id, told.to_string());
            continue;
        }
        // The newest event has no successor naming its hash: when its hash column and the
        // case's head agree with each other and not with its bytes, the bytes were changed.
        if let (Some(last), Some(head)) = (events.last(), head) {
            let hashed = sha256_hex(&last.event.bytes);
            if last.event.hash == head && head != hashed {
                report.push(
                    &id,
                    format!(
                        "the chain breaks at event {}: its stored bytes were changed: they hash to {hashed}, but its hash column and the case's head are {head}",
                        last.event.seq
                    ),
                );
                continue;
            }
        }
        let parsed = match bytes
            .iter()
            .map(|b| Event::from_bytes(b))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(p) => p,
            Err(e) => {
                report.push(&id, format!("an event does not read: {e}"));
                continue;
            }
        };
        // Who takes part in the case (read access): the actors of its events and whom its
        // opening names, no more. The table read before this chain can lack only those of
        // events appended since, so those are looked up again; one it holds that no event
        // names is wrong.
        let actors: std::collections::BTreeSet<&str> =
            parsed.iter().map(|e| &*e.actor.id).collect();
        let named: std::collections::BTreeSet<&str> = parsed
            .iter()
            .flat_map(|e| e.participants().skip(1))
            .filter(|n| !actors.contains(n))
            .collect();
        if let Some(held) = participants.get(&id) {
            for extra in held
                .iter()
                .filter(|h| !actors.contains(h.as_str()) && !named.contains(h.as_str()))
            {
                report.push(
                    &id,
                    format!("participants: `{extra}` is recorded as taking part, but no event of the case is theirs or names them"),
                );
            }
        }
        for actor in &actors {
            if !store.is_participant(&id, actor).map_err(store_err)? {
                report.push(
                    &id,
                    format!("participants: `{actor}` recorded an event but is not recorded as taking part (it cannot read the case)"),
                );
            }
        }
        for name in &named {
            if !store.is_participant(&id, name).map_err(store_err)? {
                report.push(
                    &id,
                    format!("participants: `{name}` is named by the opening but is not recorded as taking part (it cannot read the case)"),
                );
            }
        }
        let case = match Case::replay(rules, &parsed) {
            Ok(case) => case,
            Err(e) => {
                report.push(
                    &id,
                    format!(
                        "it does not replay with these rules: {e} (pass the rules it runs on with `--rules`)"
                    ),
                );
                continue;
            }
        };
        // The summary row, recomputed as the server computes it.
        let expected = summary_columns(&summary_at(&case, case.last_at(), calendar));
        for d in found_summary.differences(&expected) {
            if d.column == "next_due" && due_at_some_time(&case, calendar, now, &found_summary) {
                continue;
            }
            report.push(&id, format!("summary {d}"));
        }
        // The deadline board's rows of the case, recomputed as the server computes them
        // (at some time between the last event and now, as `next_due`); a case stored
        // before the board is reckoned when the server next starts.
        if !unfilled.contains(&id) {
            let found = store.case_deadlines(&id).map_err(store_err)?;
            if !board_at_some_time(&case, calendar, now, &found) {
                let mut expected =
                    fazhi_http::deadlines::board_at(&case, case.last_at().max(now), calendar);
                expected.sort_by(|a, b| a.rule.cmp(&b.rule));
                let show = |rows: &[fazhi_store::BoardDeadline]| {
                    rows.iter()
                        .map(|d| {
                            format!(
                                "{} due {}{}",
                                d.rule,
                                fazhi_core::time::china::rfc3339(d.due),
                                if d.late { " (late)" } else { "" }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                report.push(
                    &id,
                    format!(
                        "deadline board: expected [{}], found [{}]",
                        show(&expected),
                        show(&found)
                    ),
                );
            }
        }
        // Each event's columns, from its bytes.
        // The version each event was appended on: the opening's, then, from a migration
        // event on, the version it moved the case to.
        let mut version = case.view().procedure_version;
        for (stored_event, (event, raw)) in events.iter().zip(parsed.into_iter().zip(&bytes)) {
            match &event.body {
                fazhi_core::runtime::EventBody::Opened { version: v, .. } => version = *v,
                fazhi_core::runtime::EventBody::Migrated { to_version, .. } => {
                    version = *to_version;
                }
                fazhi_core::runtime::EventBody::Action { .. } => {}
            }
            let recorded = Recorded {
                hash: Hash256::of(raw),
                bytes: raw.to_vec(),
                event,
            };
            let case_id = recorded.event.case.to_string();
            let expected = event_columns(&case_id, &NewEvent::from_recorded(&recorded, version));
            let differences = stored_event.columns.differences(&expected);
            for d in differences {
                report.push(&id, format!("event {} {d}", stored_event.event.seq));
            }
        }
        // Rows of this case that its chain does not reach (written around the store).
        let linked = u64::try_from(events.len()).unwrap_or(u64::MAX);
        let held = stored.get(&id).copied().unwrap_or(0);
        if held > linked {
            report.push(
                &id,
                format!("{held} events are stored for it, its chain links {linked}"),
            );
        }
    }
    Ok(report)
}

/// Whether the stored `next_due` is the one the server would have computed at some time
/// between the last event and `now`. The server computes the summary when it appends, a
/// moment after the event's time (much later for an imported event), and a deadline that
/// lapses in between changes it; the value changes only at deadlines' due times, so those,
/// the last event's time and now are the times to try.
fn due_at_some_time(case: &Case, calendar: &Calendar, now: DateTime<Utc>, found: &Columns) -> bool {
    let last = case.last_at();
    let now = now.max(last);
    let mut times = vec![last, now];
    for at in [last, now] {
        times.extend(
            case.deadlines(at, calendar)
                .iter()
                .map(|d| d.due)
                .filter(|due| *due > last && *due <= now),
        );
    }
    times.iter().any(|t| {
        summary_columns(&summary_at(case, *t, calendar)).get("next_due") == found.get("next_due")
    })
}

/// Whether the stored board rows of a case are those the server would have computed at some
/// time between its last event and `now` (they change only at deadlines' due times: an
/// optional one lapses; so those, the last event's time and now are the times tried).
fn board_at_some_time(
    case: &Case,
    calendar: &Calendar,
    now: DateTime<Utc>,
    found: &[fazhi_store::BoardDeadline],
) -> bool {
    let last = case.last_at();
    let now = now.max(last);
    let mut times = vec![last, now];
    for at in [last, now] {
        times.extend(
            case.deadlines(at, calendar)
                .iter()
                .map(|d| d.due)
                .filter(|due| *due > last && *due <= now),
        );
    }
    times.iter().any(|t| {
        let mut want = fazhi_http::deadlines::board_at(case, *t, calendar);
        want.sort_by(|a, b| a.rule.cmp(&b.rule));
        want.dedup_by(|a, b| a.rule == b.rule);
        want == found
    })
}

/// Prints the report; exit 1 when a case does not verify, 2 when the database or the rules
/// cannot be read.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let report = crate::cmd_serve::load_rules(&args.rules, args.calendars.as_deref())
        .map_err(VerifyError::Rules)
        .and_then(|(rules, calendar)| check(&args.db, &rules, &calendar));
    match report {
        Ok(report) => {
            for p in &report.problems {
                println!(
                    "{}: case {}: {}",
                    crate::db::shown(&args.db),
                    p.case,
                    p.what
                );
            }
            if report.problems.is_empty() {
                println!(
                    "ok: {} cases, {} events, every chain verifies and every stored column matches its events",
                    report.cases, report.events
                );
                ExitCode::SUCCESS
            } else {
                println!(
                    "{} of {} cases do not verify",
                    report.broken_cases(),
                    report.cases
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
