#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

//! Issue 15, row 9: a second `fazhi serve` on the same database refuses to start (the
//! first holds `FILE.lock`), while the read-only tools (`fazhi backup`, `fazhi verify`)
//! still work beside the running server.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn serve(db: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--create-db",
        ])
        .arg("--db")
        .arg(db)
        .arg("--rules")
        .arg(root().join("crates/http/tests/fixtures"))
        .arg("--calendars")
        .arg(root().join("rules/calendars"))
        .arg("--config")
        .arg(root().join("fazhi.example.toml"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The server's log lines, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
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
    rx
}

/// Kills the child when dropped (a failed assertion must not leave a server running).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_second_server_on_the_same_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("one.db");
    let mut first = serve(&db);
    let log = lines(&mut first);
    let first = Killed(first);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the first server did not start");
        match log.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains("listening on http://") => break,
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the first server exited"),
        }
    }
    assert!(dir.path().join("one.db.lock").exists());
    // The second exits at once, saying why, in Chinese and in English.
    let second = serve(&db).wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&second.stderr);
    assert_ne!(second.status.code(), Some(0), "{text}");
    assert!(
        text.contains("one.db.lock")
            && text.contains("另一个 fazhi serve")
            && text.contains("in use by another `fazhi serve`"),
        "{text}"
    );
    // The read-only tools work beside the running server.
    let out = dir.path().join("copy.db");
    let backup = Command::new(env!("CARGO_BIN_EXE_fazhi"))
        .args(["backup", "--db"])
        .arg(&db)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(out.exists());
    drop(first);
    // Once the first is gone (killed: the lock goes with the process), a server starts.
    let mut again = serve(&db);
    let log = lines(&mut again);
    let _again = Killed(again);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the server did not start again");
        match log.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains("listening on http://") => break,
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the server exited"),
        }
    }
}
