#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! Issue 15, row 8: `fazhi serve` creates a missing database only when told to
//! (`--create-db`) or on the first run with the default path, and says so in its log;
//! a missing `--db` file is refused with the flag that would create it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn serve(cwd: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .current_dir(cwd)
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
        .arg("--rules")
        .arg(root().join("crates/http/tests/fixtures"))
        .arg("--calendars")
        .arg(root().join("rules/calendars"))
        .arg("--config")
        .arg(root().join("fazhi.example.toml"))
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// How a server run ended: started (its log up to the listening line; then killed) or
/// exited (its code and whole log).
enum Run {
    Started(String),
    Exited(i32, String),
}

fn run(cwd: &Path, extra: &[&str]) -> Run {
    let mut child = serve(cwd, extra);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains("listening on http://") {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    return Run::Started(log);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().unwrap();
                return Run::Exited(status.code().unwrap_or(-1), log);
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    panic!("the server neither started nor stopped in 60 s: {log}");
}

fn refused(cwd: &Path, extra: &[&str]) -> String {
    match run(cwd, extra) {
        Run::Exited(code, log) => {
            assert_ne!(code, 0, "{log}");
            log
        }
        Run::Started(log) => panic!("the server started: {log}"),
    }
}

fn started(cwd: &Path, extra: &[&str]) -> String {
    match run(cwd, extra) {
        Run::Started(log) => log,
        Run::Exited(code, log) => panic!("the server exited with {code}: {log}"),
    }
}

/// A `--db` that does not exist (a typo, a deleted file, a volume not mounted) is refused,
/// naming the file and the flag that creates it; nothing is created.
#[test]
fn a_missing_db_named_by_the_flag_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    let log = refused(dir.path(), &["--db", db.to_str().unwrap()]);
    assert!(
        log.contains("typo.db") && log.contains("--create-db"),
        "{log}"
    );
    assert!(!db.exists());
    let entries: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(entries.is_empty(), "{entries:?}");
}

/// `--create-db` creates it, and the log says so; the next start opens it without saying so.
#[test]
fn create_db_creates_it_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let db_s = db.to_str().unwrap();
    let log = started(dir.path(), &["--db", db_s, "--create-db"]);
    assert!(db.exists());
    assert!(
        log.contains("creating a new, empty one (--create-db)"),
        "{log}"
    );
    let log = started(dir.path(), &["--db", db_s]);
    assert!(!log.contains("creating"), "{log}");
}

/// The README's set-up (`fazhi serve` in a fresh clone, no `--db`) creates `fazhi.db`
/// and says so; once that file is gone while SQLite's files beside it remain, the next
/// start is refused.
#[test]
fn the_default_db_is_created_on_the_first_run_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = started(dir.path(), &[]);
    assert!(dir.path().join("fazhi.db").exists());
    assert!(
        log.contains(
            "no database at fazhi.db: creating a new, empty one (first run with the default path)"
        ),
        "{log}"
    );
    // Killed: its WAL and shared-memory files are still there.
    assert!(dir.path().join("fazhi.db-wal").exists());
    std::fs::remove_file(dir.path().join("fazhi.db")).unwrap();
    let log = refused(dir.path(), &[]);
    assert!(
        log.contains("no database at `fazhi.db`")
            && log.contains("fazhi.db-wal")
            && log.contains("removed"),
        "{log}"
    );
    assert!(!dir.path().join("fazhi.db").exists());
}
