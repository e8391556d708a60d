//! The `fazhi` command line: check, test and draw rule files; reckon legal time.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fazhi::{
    cmd_archive, cmd_backup, cmd_calendar, cmd_check, cmd_deadlines, cmd_graph, cmd_migrate,
    cmd_report, cmd_schema, cmd_serve, cmd_test, cmd_verify,
};

/// mimalloc: the server allocates and frees many small strings and JSON values per request,
/// which mimalloc serves in about half the time of the system allocator (`benches/http_load.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// fazhi: a rules engine for statutory administrative procedures.
#[derive(Debug, Parser)]
#[command(name = "fazhi", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load every procedure below the paths and report every error and warning.
    Check(cmd_check::CheckArgs),
    /// Run every scenario file (`*.test.toml`) below the paths; ends with `N 个通过，M 个失败`.
    Test(cmd_test::TestArgs),
    /// Draw a procedure: states, tracks, actions with their roles, and the articles.
    Graph(cmd_graph::GraphArgs),
    /// Working days and holidays from the State Council's notices.
    #[command(subcommand)]
    Calendar(cmd_calendar::CalendarCmd),
    /// Print the JSON Schema of rule files, for editors (taplo).
    Schema,
    /// Serve the HTTP API (JSON under /v1, OpenAPI at /openapi.json) over a SQLite file.
    Serve(cmd_serve::ServeArgs),
    /// Check every case's hash chain and every stored column in a database; name each problem.
    Verify(cmd_verify::VerifyArgs),
    /// Copy a database (SQLite's online backup, safe while serving) into a new file.
    Backup(cmd_backup::BackupArgs),
    /// Write every case as NDJSON events (one line per event, its hash and stored bytes).
    Export(cmd_archive::ExportArgs),
    /// Read cases from an export, checking each chain; idempotent.
    Import(cmd_archive::ImportArgs),
    /// The morning check: deadlines overdue or due within a span (`--within 7d`), Chinese
    /// first, China time.
    Deadlines(cmd_deadlines::DeadlinesArgs),
    /// The year in figures: the procedures' `[report]` counters over the cases of a database.
    Report(cmd_report::ReportArgs),
    /// Move running cases onto a newer version of their procedure by its migration file
    /// (`rules/migrations/`): `plan` says for each case where it moves or why not; `apply`
    /// appends the migration events.
    #[command(subcommand)]
    Migrate(cmd_migrate::MigrateCmd),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check(args) => cmd_check::run(&args),
        Command::Test(args) => cmd_test::run(&args),
        Command::Graph(args) => cmd_graph::run(&args),
        Command::Calendar(cmd) => cmd_calendar::run(cmd),
        Command::Schema => cmd_schema::run(),
        Command::Serve(args) => cmd_serve::run(&args),
        Command::Verify(args) => cmd_verify::run(&args),
        Command::Backup(args) => cmd_backup::run(&args),
        Command::Export(args) => cmd_archive::run_export(&args),
        Command::Import(args) => cmd_archive::run_import(&args),
        Command::Deadlines(args) => cmd_deadlines::run(&args),
        Command::Report(args) => cmd_report::run(&args),
        Command::Migrate(cmd) => cmd_migrate::run(&cmd),
    }
}
