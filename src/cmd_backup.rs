//! `fazhi backup --db FILE OUT`: a copy of the database made with SQLite's online backup,
//! safe while `fazhi serve` writes to it.

use std::path::PathBuf;
use std::process::ExitCode;

use fazhi_store::{SqliteOptions, SqliteStore, StoreError};

/// Arguments of `fazhi backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The SQLite database to copy (it may be in use by `fazhi serve`).
    #[arg(long, default_value = "fazhi.db")]
    pub db: PathBuf,
    /// The copy: a new file (never overwritten).
    pub out: PathBuf,
}

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database could not be opened.
    #[error("cannot open `{}` (`--db`): {source}", .db.display())]
    Open {
        /// The database.
        db: PathBuf,
        /// What the store said.
        source: StoreError,
    },
    /// The copy could not be made.
    #[error("cannot copy `{}` to `{}`: {source}", .db.display(), .out.display())]
    Copy {
        /// The database.
        db: PathBuf,
        /// The copy.
        out: PathBuf,
        /// What the store said.
        source: StoreError,
    },
}

/// Copies `db` into the new file `out`; answers how many cases the copy holds.
pub fn backup(args: &BackupArgs) -> Result<usize, BackupError> {
    let store = SqliteStore::open(SqliteOptions {
        read_only: true,
        create: false,
        ..SqliteOptions::new(&args.db)
    })
    .map_err(|source| BackupError::Open {
        db: args.db.clone(),
        source,
    })?;
    let copy_err = |source| BackupError::Copy {
        db: args.db.clone(),
        out: args.out.clone(),
        source,
    };
    store.backup_to(&args.out).map_err(copy_err)?;
    let copy = SqliteStore::open(SqliteOptions {
        read_only: true,
        create: false,
        ..SqliteOptions::new(&args.out)
    })
    .map_err(copy_err)?;
    copy.case_ids().map(|ids| ids.len()).map_err(copy_err)
}

/// Runs `fazhi backup`: exit 0 with the copy made, 2 without.
pub fn run(args: &BackupArgs) -> ExitCode {
    match backup(args) {
        Ok(cases) => {
            println!(
                "backed up `{}` to `{}` ({cases} cases); check the copy with `fazhi verify --db {}`",
                args.db.display(),
                args.out.display(),
                args.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
