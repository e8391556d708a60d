//! `fazhi migrate plan|apply --db FILE --procedure ID --to VERSION`: for every running case of
//! a procedure, whether the migration file to version `VERSION` moves it and where, or why
//! not (`plan`); `apply` appends the migration events (a case that changed meanwhile is
//! reported, not overwritten). The work is done through the store trait by
//! [`fazhi_http::migrate::run`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use fazhi_core::migrate::{Migration, load_migrations};
use fazhi_core::model::RuleSet;
use fazhi_core::runtime::Actor;
use fazhi_http::migrate::{Line, Outcome};
use fazhi_store::{EventStore, PgOptions, PgStore, SqliteOptions, SqliteStore, StoreError};

use crate::files;

/// The two subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MigrateCmd {
    /// For every running case of the procedure: "moves to X" or "cannot move: why". Writes
    /// nothing.
    Plan(MigrateArgs),
    /// Appends the migration event to every running case that moves; reports the others.
    Apply(MigrateArgs),
}

/// Arguments of `fazhi migrate plan` and `fazhi migrate apply`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The database: a SQLite file, or a PostgreSQL URL (`postgres://…`).
    #[arg(long, default_value = "fazhi.db")]
    pub db: PathBuf,
    /// The procedure whose running cases move.
    #[arg(long)]
    pub procedure: String,
    /// The version they move to.
    #[arg(long)]
    pub to: u32,
    /// The directory of procedures (both versions) and of `migrations/`.
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// The calendar directory (default: `<rules>/calendars`).
    #[arg(long)]
    pub calendars: Option<PathBuf>,
    /// Who applies the migration: the actor id recorded in each migration event.
    #[arg(long, default_value = "operator")]
    pub actor: String,
    /// One JSON object per case and line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Why `fazhi migrate` could not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrateCliError {
    /// The rules or the migration files do not load.
    #[error("{0}")]
    Rules(String),
    /// The database cannot be used.
    #[error("`{}`: {source}", .db.display())]
    Store {
        /// The database.
        db: PathBuf,
        /// What the store said.
        source: StoreError,
    },
    /// Planning failed.
    #[error(transparent)]
    Migrate(#[from] fazhi_http::migrate::MigrateError),
}

/// The migration files under `<rules>/migrations`, proved against `rules`: any error (printed
/// as `fazhi check` prints it) is refused.
pub fn load_migration_dir(dir: &Path, rules: &RuleSet) -> Result<Vec<Migration>, String> {
    let mut sources = Vec::new();
    for p in files::find_migrations(&[dir.to_owned()]) {
        sources.push(files::read(&p).map_err(|d| d.to_plain())?);
    }
    let (migrations, diags) = load_migrations(&sources, rules);
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    if errors.is_empty() {
        return Ok(migrations);
    }
    for d in &errors {
        eprintln!("{}", crate::cmd_check::render_human(d));
    }
    Err(format!(
        "迁移文件有{n}处错误（{n} error(s) in the migration files under `{}`）：请先修正（fix them first: `fazhi check {}`）",
        dir.display(),
        dir.display(),
        n = errors.len()
    ))
}

/// Plans (or applies) the migration over a database.
pub fn migrate(args: &MigrateArgs, apply: bool) -> Result<Vec<Line>, MigrateCliError> {
    let (rules, calendar) = crate::cmd_serve::load_rules(&args.rules, args.calendars.as_deref())
        .map_err(MigrateCliError::Rules)?;
    let migrations = load_migration_dir(&args.rules, &rules).map_err(MigrateCliError::Rules)?;
    let store_err = |source| MigrateCliError::Store {
        db: PathBuf::from(crate::db::shown(&args.db)),
        source,
    };
    let store: Box<dyn EventStore> = match crate::db::postgres_url(&args.db) {
        Some(url) => Box::new(PgStore::open(PgOptions::new(url)).map_err(store_err)?),
        None => {
            if !args.db.exists() {
                return Err(store_err(StoreError::Missing(args.db.clone())));
            }
            Box::new(
                SqliteStore::open(SqliteOptions {
                    read_only: !apply,
                    ..SqliteOptions::new(&args.db)
                })
                .map_err(store_err)?,
            )
        }
    };
    let actor = Actor::new(args.actor.as_str(), Vec::<String>::new());
    let (lines, closed) = actix_web::rt::System::new().block_on(async {
        let lines = fazhi_http::migrate::run(
            store.as_ref(),
            &rules,
            &migrations,
            &calendar,
            &args.procedure,
            args.to,
            actor,
            Utc::now(),
            apply,
        )
        .await;
        (lines, store.close().await)
    });
    let lines = lines?;
    closed.map_err(store_err)?;
    Ok(lines)
}

/// Runs `fazhi migrate plan|apply`: exit 0 when every case moves (or would), 1 when some
/// cannot (or changed meanwhile), 2 when nothing could be planned.
pub fn run(cmd: &MigrateCmd) -> ExitCode {
    let (args, apply) = match cmd {
        MigrateCmd::Plan(a) => (a, false),
        MigrateCmd::Apply(a) => (a, true),
    };
    match migrate(args, apply) {
        Ok(lines) => {
            for l in &lines {
                if args.json {
                    println!("{}", serde_json::to_string(l).unwrap_or_default());
                } else {
                    println!("{}", l.text());
                }
            }
            let moving = lines
                .iter()
                .filter(|l| matches!(l.outcome, Outcome::Moves { .. } | Outcome::Moved { .. }))
                .count();
            let rest = lines.len() - moving;
            let verb = if apply {
                ("已迁移", "moved")
            } else {
                ("可迁移", "can move")
            };
            eprintln!(
                "{}件在办案件：{}{moving}件，不能迁移或已变动{rest}件（{} running cases: {moving} {}, {rest} cannot move or changed）",
                lines.len(),
                verb.0,
                lines.len(),
                verb.1
            );
            if rest > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
