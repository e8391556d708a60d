//! `fazhi serve`: the HTTP API over the rules under `--rules`, the principals of `--config`
//! and the database `--db` (an SQLite file, or a PostgreSQL URL).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fazhi_core::load;
use fazhi_http::config::Principals;
use fazhi_http::{Application, Settings};

use crate::calendars::load_calendar_dir;
use crate::files::{self, FileKind};

/// Arguments of `fazhi serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on; `127.0.0.1:0` picks a free port (the log says which).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The directory of procedures (and of `calendars/`).
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// The principals: `[[principals]]` with `id`, `roles`, `token_sha256`, `importer`.
    #[arg(long, default_value = "fazhi.example.toml")]
    pub config: PathBuf,
    /// The database [default: fazhi.db]: an SQLite file, or a PostgreSQL database as a URL
    /// (`postgres://user@host/db`, `postgresql://…`; a Unix socket as `?host=/run/postgresql`).
    /// A missing SQLite file is refused unless `--create-db` is given; only the default
    /// `fazhi.db` is created on a first run. On PostgreSQL the tables are created (migrated)
    /// at start, and several `fazhi serve` may share the database; what is about the SQLite
    /// file (`--create-db`, its lock file, `--check-files-ms`) does not apply.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Create the `--db` file when it is missing (a new, empty database).
    #[arg(long)]
    pub create_db: bool,
    /// The calendar directory (default: `<rules>/calendars`).
    #[arg(long)]
    pub calendars: Option<PathBuf>,
    /// HTTP worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub body_limit: usize,
    /// About how many cases to keep in memory; idle cases beyond are loaded again from the
    /// database when next asked for.
    #[arg(long, default_value_t = fazhi_http::service::DEFAULT_CASES_IN_MEMORY)]
    pub cases_in_memory: usize,
    /// How often, in milliseconds, the database file and its WAL are checked to be the
    /// files opened at start (writes are refused when either was removed or replaced).
    #[arg(long, default_value_t = 1000)]
    pub check_files_ms: u64,
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Loads everything, then serves until SIGTERM or ctrl-c.
pub fn run(args: &ServeArgs) -> ExitCode {
    init_logs();
    let settings = match settings(args) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let served = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        app.run_until_stopped().await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Loads the procedures under `rules` and the calendar (`calendars`, default
/// `<rules>/calendars`), refusing rules with errors (for `serve`, `verify` and `import`).
pub fn load_rules(
    rules: &Path,
    calendars: Option<&Path>,
) -> Result<(fazhi_core::model::RuleSet, fazhi_core::time::Calendar), String> {
    let paths = files::find(&[rules.to_owned()], FileKind::Procedure).map_err(|e| e.to_string())?;
    let sources = paths
        .iter()
        .map(|p| files::read(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|d| d.to_plain())?;
    let loaded = load::load(&sources);
    if loaded.errors() > 0 {
        for d in loaded.diagnostics.iter().filter(|d| d.is_error()) {
            eprintln!("{}", crate::cmd_check::render_human(d));
        }
        return Err(format!(
            "{} error(s) in the rules under `{}`: fix them (`fazhi check {}`) first",
            loaded.errors(),
            rules.display(),
            rules.display()
        ));
    }
    if loaded.rules.is_empty() {
        return Err(format!(
            "no procedures under `{}` (`--rules`)",
            rules.display()
        ));
    }
    let calendar_dir = calendars.map_or_else(|| rules.join("calendars"), Path::to_owned);
    let calendar = load_calendar_dir(&calendar_dir).map_err(|e| e.to_string())?;
    Ok((loaded.rules, calendar))
}

fn settings(args: &ServeArgs) -> Result<Settings, String> {
    let postgres = args
        .db
        .as_deref()
        .and_then(Path::to_str)
        .filter(|db| fazhi_store::is_postgres_url(db))
        .map(str::to_owned);
    let (db, create) = match &postgres {
        Some(_) => (PathBuf::new(), false),
        None => {
            crate::db::database(args.db.as_deref(), args.create_db).map_err(|e| e.to_string())?
        }
    };
    let (rules, calendar) = load_rules(&args.rules, args.calendars.as_deref())?;
    let config = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("cannot read `{}`: {e}", args.config.display()))?;
    let principals = Principals::parse(&args.config.display().to_string(), &config)
        .map_err(|e| e.to_string())?;
    let known: std::collections::BTreeSet<&str> = rules
        .all()
        .flat_map(|p| p.roles().map(|r| r.id()))
        .collect();
    for p in principals.all() {
        for role in &p.roles {
            if !known.contains(role.as_str()) {
                tracing::warn!(principal = %p.id, %role, "no loaded procedure has this role");
            }
        }
    }
    tracing::info!(
        procedures = rules.len(),
        principals = principals.len(),
        "loaded rules from {} and principals from {}",
        args.rules.display(),
        args.config.display()
    );
    if create {
        tracing::info!(
            db = %db.display(),
            "no database at {}: creating a new, empty one ({})",
            db.display(),
            if args.create_db { "--create-db" } else { "first run with the default path" }
        );
    }
    let migrations = crate::cmd_migrate::load_migration_dir(&args.rules, &rules)?;
    let mut settings = Settings::new(rules, calendar, principals, &db);
    settings.migrations = migrations;
    settings.create_db = create;
    settings.postgres = postgres;
    settings.listen = args.listen.clone();
    settings.workers = args.workers;
    settings.body_limit = args.body_limit;
    settings.cases_in_memory = args.cases_in_memory;
    settings.check_files_every = std::time::Duration::from_millis(args.check_files_ms.max(10));
    settings.scenarios = count_scenarios(&args.rules);
    Ok(settings)
}

/// How many scenarios test each procedure (by id) in the scenario files (`*.test.toml`) below
/// `rules`. A file that does not parse counts nothing here (`fazhi test` reports it).
fn count_scenarios(rules: &std::path::Path) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let files = crate::files::find(&[rules.to_path_buf()], crate::files::FileKind::Scenarios)
        .unwrap_or_default();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        match fazhi_core::scenario::parse(&text) {
            Ok(file) => *counts.entry(file.procedure.clone()).or_insert(0) += file.names().len(),
            Err(e) => tracing::warn!(file = %path.display(), "scenario file not counted: {e}"),
        }
    }
    counts
}
