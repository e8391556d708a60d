//! The `fazhi` command line: check, test and draw rule files; reckon legal time.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fazhi::{cmd_check, cmd_schema};

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
    /// Print the JSON Schema of rule files, for editors (taplo).
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => cmd_check::run(&args),
        Command::Schema => cmd_schema::run(),
    }
}
