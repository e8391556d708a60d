//! The `fazhi` command line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// fazhi: a rules engine for statutory administrative procedures.
#[derive(Debug, Parser)]
#[command(name = "fazhi", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Working days and holidays from the State Council's notices.
    #[command(subcommand)]
    Calendar(fazhi::cmd_calendar::CalendarCmd),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Calendar(cmd) => fazhi::cmd_calendar::run(cmd),
    }
}
