//! `fazhi report --db FILE --year 2026 [--format md|csv|json]`: the year in figures (issue 18),
//! every counter the procedures declare (`[report]`) counted over the database's cases, each
//! with the query listing its cases (`/v1/cases?report=…&year=…`). Read through the
//! `EventStore` trait, as the service reads them.

use std::path::PathBuf;
use std::process::ExitCode;

use fazhi_core::report;
use fazhi_store::{SqliteOptions, SqliteStore, StoreError};

/// Arguments of `fazhi report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The SQLite database.
    #[arg(long, default_value = "fazhi.db")]
    pub db: PathBuf,
    /// The year, counted in China time (1 January 00:00 +08:00 up to the next).
    #[arg(long)]
    pub year: i32,
    /// `md` (a section of the annual report, Chinese headings first), `csv` or `json`.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
    /// The directory of procedures the cases run on.
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// The calendar directory (default: `<rules>/calendars`).
    #[arg(long)]
    pub calendars: Option<PathBuf>,
}

/// The output formats of `fazhi report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown, like a section of the annual report.
    Md,
    /// CSV, one row per figure and per group.
    Csv,
    /// JSON, as `GET /v1/reports/annual` answers.
    Json,
}

/// Why the report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The database is not there.
    #[error("没有数据库 `{}` (no database at `{}` (`--db`): check the path)", .0.display(), .0.display())]
    Missing(PathBuf),
    /// The year is out of range.
    #[error("年份 {0} 超出范围 (`--year` must be between 1949 and 9999)")]
    Year(i32),
    /// The rules or calendars did not load.
    #[error("{0} (the report replays every case with the rules: `--rules DIR`, `--calendars DIR`)")]
    Rules(String),
    /// The store could not be read.
    #[error("`{}`: {source}", .db.display())]
    Store {
        /// The database.
        db: PathBuf,
        /// What the store said.
        source: StoreError,
    },
}

/// Computes the report of `args.year` over every case of the database.
pub fn make(args: &ReportArgs) -> Result<report::AnnualReport, ReportError> {
    if !fazhi_http::report::YEARS.contains(&args.year) {
        return Err(ReportError::Year(args.year));
    }
    if !args.db.exists() {
        return Err(ReportError::Missing(args.db.clone()));
    }
    let (rules, _calendar) = crate::cmd_serve::load_rules(&args.rules, args.calendars.as_deref())
        .map_err(ReportError::Rules)?;
    let store_err = |source| ReportError::Store {
        db: args.db.clone(),
        source,
    };
    let store = SqliteStore::open(SqliteOptions {
        read_only: true,
        ..SqliteOptions::new(&args.db)
    })
    .map_err(store_err)?;
    actix_web::rt::System::new()
        .block_on(fazhi_http::report::annual(&store, &rules, args.year, None))
        .map_err(store_err)
}

/// Runs `fazhi report`: the figures on stdout; 2 when they could not be computed.
pub fn run(args: &ReportArgs) -> ExitCode {
    match make(args) {
        Ok(r) => {
            let text = match args.format {
                Format::Md => report::to_markdown(&r),
                Format::Csv => report::to_csv(&r),
                Format::Json => serde_json::to_string_pretty(&r).unwrap_or_default() + "\n",
            };
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
