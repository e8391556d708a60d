//! `fazhi verify --db <PATH>`: checks every case's hash chain and prints the first broken
//! link of each case that has one.

use std::path::PathBuf;
use std::process::ExitCode;

use fazhi_core::runtime::verify;
use fazhi_store::{SqliteOptions, SqliteStore};

/// Arguments of `fazhi verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The SQLite database.
    #[arg(long, default_value = "fazhi.db")]
    pub db: PathBuf,
}

/// What a verification found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Cases checked.
    pub cases: usize,
    /// Events checked.
    pub events: usize,
    /// One line per broken case: `case <id>: <problem>`.
    pub broken: Vec<String>,
}

/// Checks every case of the database.
pub fn check(db: &std::path::Path) -> Result<Report, String> {
    if !db.exists() {
        return Err(format!("no database at `{}`", db.display()));
    }
    let store = SqliteStore::open(SqliteOptions {
        read_only: true,
        ..SqliteOptions::new(db)
    })
    .map_err(|e| format!("`{}`: {e}", db.display()))?;
    {
        let mut report = Report::default();
        for id in store.orphan_case_ids().map_err(|e| e.to_string())? {
            report
                .broken
                .push(format!("case {id}: it has events but no summary row"));
        }
        // Counted before any chain is read: the store only ever adds rows to the end of a
        // chain, so while it is written to a chain can only have grown since, and more rows
        // than the chain links means rows that no chain reaches.
        let stored = store.event_counts().map_err(|e| e.to_string())?;
        for id in store.case_ids().map_err(|e| e.to_string())? {
            report.cases += 1;
            // The summary row and the history from one snapshot, so that they agree.
            let (summary, events) = store.snapshot(&id).map_err(|e| e.to_string())?;
            let events = match events {
                Ok(events) => events,
                Err(e) => {
                    report.broken.push(format!("case {id}: {e}"));
                    continue;
                }
            };
            report.events += events.len();
            let bytes: Vec<&[u8]> = events.iter().map(|e| e.bytes.as_slice()).collect();
            let head = summary.as_ref().map(|s| s.head.as_str());
            if let Err(link) = verify(&bytes, head) {
                report.broken.push(format!("case {id}: {link}"));
                continue;
            }
            if let Some(e) = events
                .iter()
                .find(|e| fazhi_core::runtime::sha256_hex(&e.bytes) != e.hash)
            {
                report.broken.push(format!(
                    "case {id}: event {} is stored with a hash that is not its bytes'",
                    e.seq
                ));
                continue;
            }
            if let Some(s) = summary
                && s.seq != u64::try_from(events.len()).unwrap_or(u64::MAX)
            {
                report.broken.push(format!(
                    "case {id}: the summary says {} events, the history has {}",
                    s.seq,
                    events.len()
                ));
                continue;
            }
            // Rows of this case that its chain does not reach (written around the store).
            let linked = u64::try_from(events.len()).unwrap_or(u64::MAX);
            let held = stored.get(&id).copied().unwrap_or(0);
            if held > linked {
                report.broken.push(format!(
                    "case {id}: {held} events are stored for it, its chain links {linked}"
                ));
            }
        }
        Ok(report)
    }
}

/// Prints the report; exit 1 when a chain is broken, 2 when the database cannot be read.
pub fn run(args: &VerifyArgs) -> ExitCode {
    match check(&args.db) {
        Ok(report) => {
            for line in &report.broken {
                println!("{line}");
            }
            if report.broken.is_empty() {
                println!(
                    "ok: {} cases, {} events, every chain verifies",
                    report.cases, report.events
                );
                ExitCode::SUCCESS
            } else {
                println!(
                    "{} of {} cases have a broken chain",
                    report.broken.len(),
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
