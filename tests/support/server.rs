#![allow(dead_code)]

//! A `fazhi serve` process over a real socket, for the tests that run the binary itself (the
//! crash test, several nodes on one PostgreSQL): started on the HTTP fixture's rules, the
//! shipped calendars and the example principals, and killed when dropped, so a failed
//! assertion never leaves a server running.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `fazhi serve`.
pub struct Server {
    /// The process (SIGKILL it with `child.kill()`).
    pub child: Child,
    /// Where it listens: `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts `fazhi serve --db DB --workers N` plus `extra` arguments, and waits until it
    /// says where it listens.
    pub fn start(db: impl AsRef<OsStr>, workers: u32, extra: &[&str]) -> Server {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_fazhi"))
            .args(["serve", "--listen", "127.0.0.1:0", "--workers"])
            .arg(workers.to_string())
            .arg("--rules")
            .arg(root.join("crates/http/tests/fixtures"))
            .arg("--calendars")
            .arg(root.join("rules/calendars"))
            .arg("--config")
            .arg(root.join("fazhi.example.toml"))
            .arg("--db")
            .arg(db)
            .args(extra)
            .env("RUST_LOG", "warn,fazhi_http::startup=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the server said where it listens")
                .unwrap();
            if let Some(i) = line.find("listening on http://") {
                let rest = &line[i + "listening on ".len()..];
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
