//! Helpers shared by the command-line tests.

use std::path::Path;
use std::process::Command;

/// Runs the built `fazhi` binary in the repository's root: exit code, stdout, stderr.
pub fn fazhi(args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}
