//! `fazhi schema`: print the JSON Schema of rule files, for editors.

use std::io::Write;
use std::process::ExitCode;

/// The JSON Schema of procedure files (`rules/fazhi.schema.json`), as shipped.
pub const SCHEMA: &str = include_str!("../rules/fazhi.schema.json");

/// Prints the JSON Schema of procedure files to stdout, exactly as shipped.
pub fn run() -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(SCHEMA.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fazhi schema: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
