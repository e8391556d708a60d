//! The HTTP load driver: a real server (in this process, on port 0, over a real SQLite file
//! with `synchronous=FULL`) and N concurrent clients over real HTTP. It opens `--cases` cases,
//! then for `--seconds` each: appends events (durable, acknowledged after commit), reads case
//! views, and calls `GET /healthz`; it prints the rate and p50/p99 latency of each, and the
//! ratio of appends to `/healthz`, with the CPU time per request of the server's workers, the
//! store's writer and the driver itself.
//!
//! The three kinds take turns in slices of `--slice` seconds (1 by default) until each has
//! had its `--seconds`, so that all three are measured over the same stretch of time: on a
//! shared 2-core machine the speed drifts from one minute to the next by more than a change
//! moves the figures.
//!
//! Each client holds one keep-alive connection per kind of request, from slice to slice,
//! and speaks plain HTTP/1.1 over it (the request written in one piece, the response head
//! parsed by `httparse`, the body read by its `Content-Length`), so that the driver, which
//! shares the two cores with the server, spends as little as it can: the figures are the
//! server's.
//!
//! `cargo bench --bench http_load -- --clients 64 --cases 1000 --seconds 10`
//!
//! `--pg postgres://…` runs the server on that PostgreSQL database (it must be empty, or
//! at least hold no cases of the same ids: cases get new ids) instead of a fresh SQLite file.
//! `--pg new` starts a throw-away cluster of its own first (`fazhi_store::test_pg::
//! bench_database`: `initdb` into a temporary directory, `postgres` on a Unix socket there,
//! killed with this process; `fsync` and `synchronous_commit` on, the settings in
//! [`BENCH_PG`]); its CPU time (the postmaster and every backend) is printed as `database`.
//! `--nodes N` runs N servers (nodes) on the one database, each with its own store. Client
//! `c` talks to node `c mod N`, and each case is opened, written and read through one node
//! (see `open_cases`), as behind a load balancer routing by case id; `--any-node` lists the
//! cases as they were opened, whichever node opened them, so that about half of a node's
//! appends and reads are of cases another node opened and writes (the case is read from the
//! database on first use, and again after the other node wrote it).
//!
//! `--warm` appends twice to every case before the timed appends (untimed), the village's
//! submission and the town's order: with 100,000 cases and about 50,000 timed appends, each
//! timed append is otherwise a case's first after its opening, which changes the case's
//! deadline board row (the opening's filing deadline is met, late) and, for the town's
//! first, adds a participant. With 1,000 cases nearly every timed append is a case's third
//! or later: `--warm` compares that same kind of append at both sizes.
//!
//! ## PostgreSQL figures (issue 16), 64 clients, 10 s of each kind
//!
//! On this project's 2-core machine with nothing else running, release build, PostgreSQL
//! 15 from Debian on the same 2 cores (`--pg new`: `fsync` and `synchronous_commit` on), the
//! driver in the same process. SQLite's figures are from the same minutes. 2026-12-06, the
//! code of the commit "one writer per node by default" (schema migration 4, HOT updates of
//! the case rows, and one writer):
//!
//! ```text
//! cargo bench --bench http_load --no-run     # once; then the binary it names:
//! target/release/deps/http_load-* --clients 64 --seconds 10 --cases 1000 --pg new [--nodes 2]
//! target/release/deps/http_load-* --clients 64 --seconds 10 --cases 100000 --pg new [--warm]
//! target/release/deps/http_load-* --clients 64 --seconds 10 --cases 1000        # SQLite
//! ```
//!
//! | run | appends/s | p99 | CPU µs/append (database) |
//! |---|---|---|---|
//! | **PG 1 node, 1,000 cases** (3 runs) | **6,211 – 6,510** | 16 – 27 ms | 213 – 228 (63 – 66) |
//! | **PG 1 node, 100,000** (6 runs) | **5,212 – 5,614** (0.82 – 0.90 of 1,000) | 17 – 45 ms | 239 – 259 (89 – 96) |
//! | PG 1 node, 100,000, `--warm` | 6,702 (1.07 of 1,000) | 19 ms | 221 (72) |
//! | **PG 2 nodes, 1,000** (4 runs) | **5,791 – 6,577** (0.93 – 1.05 of one) | 18 – 29 ms | 263 – 299 (95 – 107) |
//! | **PG 2 nodes, 100,000** (3 runs) | **5,217 – 5,616** (0.96 – 1.03 of one's mean) | 21 – 27 ms | 288 – 301 (124 – 131) |
//! | SQLite, 1,000 | 7,868 | 14 ms | 187 |
//! | SQLite, 100,000 | 6,245 | 19 ms | 211 |
//!
//! The cold 100,000-case run differs from 1,000 only by what a case's first appends do:
//! each timed append is its case's first after opening, which rewrites its deadline board
//! row (the opening's filing deadline is met, late: a delete and an insert, ~45 µs of the
//! database). With `--warm` (two appends to every case first, one by each party) the same
//! kind of append as at 1,000 runs as fast (database 72 µs against 64–66).
//!
//! Where one append's CPU goes on one node, 1,000 cases: PostgreSQL ~65 µs, fazhi's HTTP
//! workers ~120 (the same as on SQLite: parsing, deciding, the case in the answer, the
//! socket), the store's client ~20, the driver ~16. One node does not use both cores (about
//! 1.4 of 2): the one writer's commits follow one another, and 64 clients wait on them.
//!
//! What got it there, this session (2026-12-06, measured with `pg_stat_statements` during the
//! timed appends, `pg_stat_statements.track = all`): schema migration 4 drops the indexes on `state` and
//! `next_due` and sets `fillfactor = 70`, so that the claim updates the case row in place
//! (HOT; at 100,000 cases the `UPDATE` went from 66 to 27 µs per append); one writer per node
//! instead of two (batches twice as large; the database's CPU per append from 90–94 to 64–66
//! µs at 1,000 cases, and two nodes from 0.80 of one to 0.93–1.05). With two writers, the
//! same day: one node 1,000 cases 5,837–6,407/s, 100,000 cases 4,726–5,605/s (5 of 8 runs
//! over 5,000), two nodes 0.80–0.81 of one at 1,000 cases.
//!
//! Before (2026-12-05/06, two writers, before migration 4): one node 1,000 cases 5,544–6,537/s,
//! 100,000 cases 4,825–5,266/s, two nodes 0.88–0.94 of one. From 3,227 appends/s at the start
//! of that session: `fazhi_write_batch` (schema migration 3) rewrites a case's board rows only
//! when they changed (a digest kept on the case; −80 µs of database CPU per append), an
//! append at the seq of the case in memory skips the staleness lookup (its claim in the
//! database decides), whether the caller may read the case is asked only to hide a refusal,
//! and who takes part is remembered per store (−12 µs). Before that, in the session before
//! (busy machine): one set-based call per batch instead of a `fazhi_append` call per append
//! (834 → 2,001/s), summary lookups batched, index scans forced in the batch function (at
//! 100,000 cases its plans had scanned the whole `cases` table).
//!
//! Every figure moves by 5–10% from one run to the next on this machine, p99 by more. The
//! example requests in every case answer (`examples`) cost 3–9 µs of the workers' CPU per
//! request (SQLite, 1,000 cases, with and without them, two runs each: appends 117 → 112 and
//! 121 → 118 µs, reads 92 → 87 and 100 → 91 µs). Sending `BEGIN` together with the batch's
//! call (one round trip less per batch) changed nothing measurable (6,108 and 6,416/s at
//! 1,000 cases, 5,143 and 4,803 at 100,000) and was not kept.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fazhi_core::load::{SourceFile, load};
use fazhi_core::runtime::sha256_hex;
use fazhi_http::config::Principals;
use fazhi_http::{Application, Settings};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The same allocator as the `fazhi` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The settings of the cluster `--pg new` starts (`initdb` into a temporary directory,
/// `postgres` on a Unix socket there, killed with this process). `fsync` and
/// `synchronous_commit` stay on (PostgreSQL's defaults); the rest sizes the server for the
/// run: no checkpoint within it, room for the WAL of a batch.
const BENCH_PG: &[(&str, &str)] = &[
    ("max_connections", "200"),
    ("shared_buffers", "512MB"),
    ("wal_buffers", "16MB"),
    ("max_wal_size", "8GB"),
    ("checkpoint_timeout", "30min"),
];

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

struct Args {
    clients: usize,
    cases: usize,
    seconds: u64,
    slice: u64,
    workers: usize,
    /// A PostgreSQL database to run on instead of a fresh SQLite file (`--pg URL`).
    pg: Option<String>,
    /// How many servers (nodes) on that database (`--nodes N`, PostgreSQL only): client `c`
    /// talks to node `c mod N`.
    nodes: usize,
    /// Whether a case's appends and reads may go to any node (`--any-node`), not only to the
    /// one that opened it (see `open_cases`).
    any_node: bool,
    /// Whether every case gets two appends, one by each party, before the timed ones
    /// (`--warm`).
    warm: bool,
}

fn args() -> Args {
    let mut a = Args {
        clients: 64,
        cases: 1000,
        seconds: 10,
        slice: 1,
        workers: 2,
        pg: None,
        nodes: 1,
        any_node: false,
        warm: false,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        if argv[i] == "--any-node" || argv[i] == "--warm" {
            if argv[i] == "--warm" {
                a.warm = true;
            } else {
                a.any_node = true;
            }
            i += 1;
            continue;
        }
        if argv[i] == "--pg"
            && let Some(url) = argv.get(i + 1)
        {
            a.pg = Some(url.clone());
            i += 2;
            continue;
        }
        let next = argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (argv[i].as_str(), next) {
            ("--clients", Some(n)) => a.clients = n as usize,
            ("--cases", Some(n)) => a.cases = n as usize,
            ("--seconds", Some(n)) => a.seconds = n,
            ("--slice", Some(n)) => a.slice = n.max(1),
            ("--workers", Some(n)) => a.workers = n as usize,
            ("--nodes", Some(n)) => a.nodes = (n as usize).max(1),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn settings(db: &Path, workers: usize) -> Settings {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join("crates/http/tests/fixtures/filing.toml")).unwrap();
    let rules = load(&[SourceFile::new("filing.toml", text)]).rules;
    let calendar = fazhi::calendars::load_calendar_dir(&root.join("rules/calendars")).unwrap();
    let mut config = String::new();
    for id in ["village", "town"] {
        config.push_str(&format!(
            "[[principals]]\nid = \"{id}\"\nroles = [\"{id}\"]\ntoken_sha256 = \"{}\"\n",
            sha256_hex(format!("dev-{id}").as_bytes())
        ));
    }
    let principals = Principals::parse("load.toml", &config).unwrap();
    let mut s = Settings::new(rules, calendar, principals, db);
    s.listen = "127.0.0.1:0".into();
    s.workers = Some(workers);
    s
}

/// The next append to a case at `seq`, written into `out` (the driver shares the two cores
/// with the server, so it writes the JSON itself rather than building a value): the village
/// submits, the town orders a correction, and round again. Returns the token to send.
fn append_body(seq: u64, out: &mut Vec<u8>) -> &'static str {
    use std::io::Write;
    out.clear();
    if seq % 2 == 1 {
        let _ = write!(
            out,
            r#"{{"action":"submit","expected_seq":{seq},"documents":[{{"kind":"rules_text","name":"a.pdf","sha256":"{DIGEST}"}},{{"kind":"meeting_record","name":"b.pdf","sha256":"{DIGEST}"}}]}}"#
        );
        "Bearer dev-village"
    } else {
        let round = seq / 2;
        let _ = write!(
            out,
            r#"{{"action":"order_correction","expected_seq":{seq},"payload":{{"round":{round},"findings":"第三条"}},"documents":[{{"kind":"review_opinion","name":"c.pdf","sha256":"{DIGEST}"}},{{"kind":"correction_order","name":"d.pdf","sha256":"{DIGEST}"}}]}}"#
        );
        "Bearer dev-town"
    }
}

#[derive(Default)]
struct Tally {
    ok: usize,
    failed: usize,
    micros: Vec<u32>,
}

struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
    ok: usize,
    failed: usize,
}

fn figures(t: &Tally, elapsed: Duration) -> Figures {
    let mut m = t.micros.clone();
    m.sort_unstable();
    let pct = |p: f64| {
        if m.is_empty() {
            return 0.0;
        }
        let i = ((m.len() as f64 - 1.0) * p).round() as usize;
        f64::from(m[i]) / 1000.0
    };
    Figures {
        rate: t.ok as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        ok: t.ok,
        failed: t.failed,
    }
}

/// CPU time (user + system, in clock ticks) used so far by each thread of this process,
/// summed by thread name: the server's workers (`actix-rt|system…`), the store's writer and
/// checkpointer (`fazhi-store-…`), the blocking pool that runs store reads (`tokio-…`), the
/// load driver (`driver`) and the rest.
fn cpu_by_thread() -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Some(pid) = POSTMASTER.get().copied().flatten() {
        out.insert("database".to_owned(), cluster_ticks(pid));
    }
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: the comm may hold spaces, so split after the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = fields
            .get(11)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            + fields
                .get(12)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        let group = if comm.starts_with("actix-rt") {
            "server workers"
        } else if comm.starts_with("fazhi-store") || comm.starts_with("fazhi-pg") {
            "store"
        } else if comm.starts_with("tokio") {
            "store reads"
        } else if comm == "driver" {
            "load driver"
        } else {
            "other"
        };
        *out.entry(group.to_owned()).or_insert(0) += ticks;
    }
    out
}

/// The postmaster of the cluster `--pg new` started (its backends' CPU time is counted as
/// `database`).
static POSTMASTER: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();

/// The postmaster's pid of the cluster whose socket directory a URL of
/// `test_pg::bench_database` names.
fn postmaster_of(url: &str) -> Option<u32> {
    let host = url
        .split('@')
        .nth(1)?
        .split('/')
        .next()?
        .replace("%2F", "/");
    let pid = std::fs::read_to_string(Path::new(&host).join("data/postmaster.pid")).ok()?;
    pid.lines().next()?.trim().parse().ok()
}

/// CPU ticks (user + system) used by the postmaster and every process it started.
fn cluster_ticks(postmaster: u32) -> u64 {
    let ticks_of = |stat: &str| -> Option<(u32, u64)> {
        let close = stat.rfind(')')?;
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ppid = fields.get(1)?.parse().ok()?;
        let t = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some((ppid, t))
    };
    let mut total = 0;
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else {
            continue;
        };
        if let Some((ppid, t)) = ticks_of(&stat)
            && (pid == postmaster || ppid == postmaster)
        {
            total += t;
        }
    }
    total
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 when it cannot say).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// CPU ticks used since `before`, by thread name (a thread that ended between the readings
/// takes its ticks with it: never below zero).
fn cpu_since(before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    cpu_by_thread()
        .into_iter()
        .map(|(k, v)| {
            let used = v.saturating_sub(before.get(&k).copied().unwrap_or(0));
            (k, used)
        })
        .collect()
}

/// Prints the CPU time per operation of each thread group.
fn print_cpu(used: &BTreeMap<String, u64>, ops: usize) {
    let per = |ticks: u64| ticks as f64 * 1e6 / clock_ticks_per_second() / ops.max(1) as f64;
    let total: u64 = used.values().sum();
    let parts: Vec<String> = used
        .iter()
        .map(|(k, v)| format!("{k} {:.0}", per(*v)))
        .collect();
    println!(
        "         CPU µs per op: {:.0} ({})",
        per(total),
        parts.join(", ")
    );
}

/// What the slices of one kind of request add up to.
#[derive(Default)]
struct Kind {
    tally: Tally,
    elapsed: Duration,
    cpu: BTreeMap<String, u64>,
}

impl Kind {
    fn add(&mut self, t: Tally, elapsed: Duration, cpu_before: &BTreeMap<String, u64>) {
        for (k, v) in cpu_since(cpu_before) {
            *self.cpu.entry(k).or_default() += v;
        }
        self.tally.ok += t.ok;
        self.tally.failed += t.failed;
        self.tally.micros.extend(t.micros);
        self.elapsed += elapsed;
    }
}

fn print(name: &str, unit: &str, f: &Figures) {
    println!(
        "{name:<8} {:>10.0} {unit}/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} ok, {} failed)",
        f.rate, f.p50, f.p99, f.ok, f.failed
    );
}

/// One client's keep-alive connection.
struct Conn {
    stream: TcpStream,
    port: u16,
    /// When the connection last carried a request: the server closes a keep-alive
    /// connection idle for 5 s (actix-web's default), so one idle for longer (a kind's
    /// connections wait out the other kinds' slices) is opened again before it is used.
    used: Instant,
    buf: Vec<u8>,
    req: Vec<u8>,
    /// A request body being written (kept to be written into again).
    body: Vec<u8>,
}

/// How long a connection may stay idle and still be used: under the server's keep-alive
/// timeout (5 s) by a margin.
const IDLE_LIMIT: Duration = Duration::from_secs(4);

/// A response: its status and where its body lies in the connection's buffer.
struct Response {
    status: u16,
    body: std::ops::Range<usize>,
}

impl Conn {
    async fn connect(port: u16) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    async fn open(port: u16) -> Conn {
        let stream = Conn::connect(port).await;
        Conn {
            stream,
            port,
            used: Instant::now(),
            buf: Vec::with_capacity(16 << 10),
            req: Vec::with_capacity(1 << 10),
            body: Vec::with_capacity(1 << 10),
        }
    }

    /// The body of the last response.
    fn body(&self, r: &Response) -> &[u8] {
        &self.buf[r.body.clone()]
    }

    /// Sends one request and reads its whole response (whose body stays in the buffer
    /// until the next request).
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> std::io::Result<Response> {
        use std::io::Write;
        let req = &mut self.req;
        req.clear();
        write!(req, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n")?;
        if let Some(t) = token {
            write!(req, "Authorization: {t}\r\n")?;
        }
        if let Some(b) = body {
            write!(
                req,
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                b.len()
            )?;
            req.extend_from_slice(b);
        } else {
            req.extend_from_slice(b"\r\n");
        }
        if self.used.elapsed() > IDLE_LIMIT {
            self.stream = Conn::connect(self.port).await;
        }
        self.stream.write_all(&self.req).await?;
        self.used = Instant::now();
        self.buf.clear();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut res = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = res
                .parse(&self.buf)
                .map_err(|e| std::io::Error::other(format!("bad response: {e}")))?
            {
                let status = res.code.unwrap_or(0);
                let mut length = None;
                for h in res.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|v| v.trim().parse::<usize>().ok());
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        return Err(std::io::Error::other(
                            "chunked responses are not expected from fazhi",
                        ));
                    }
                }
                let length = length
                    .ok_or_else(|| std::io::Error::other("a response without Content-Length"))?;
                while self.buf.len() < head + length {
                    self.read_more().await?;
                }
                return Ok(Response {
                    status,
                    body: head..head + length,
                });
            }
            self.read_more().await?;
        }
    }

    /// Reads what has arrived straight into the buffer.
    async fn read_more(&mut self) -> std::io::Result<()> {
        self.buf.reserve(16 << 10);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(std::io::Error::other("the server closed the connection"));
        }
        Ok(())
    }
}

/// Opens `n` cases through `clients` clients, client `c` through node `c mod nodes`. With
/// `affinity`, case `i` is opened by client `i mod clients` (so through node `i mod nodes`
/// when the clients are a multiple of the nodes: the node the driver then sends the case's
/// appends and reads to, as a load balancer routing by case id would); without, the cases
/// are listed as they were opened, whichever node opened them.
async fn open_cases(ports: &[u16], n: usize, clients: usize, affinity: bool) -> Vec<String> {
    let ids = Rc::new(RefCell::new(vec![String::new(); n]));
    let done = Rc::new(RefCell::new(0usize));
    let mut tasks = Vec::new();
    let body = serde_json::to_vec(&json!({"procedure": "village-rules-filing", "title": "负载", "facts": {"adopted_on": "2026-11-20"}})).unwrap();
    for c in 0..clients {
        let (ids, done, body) = (ids.clone(), done.clone(), body.clone());
        let port = ports[c % ports.len()];
        tasks.push(actix_web::rt::spawn(async move {
            let mut conn = Conn::open(port).await;
            for i in (c..n).step_by(clients) {
                let r = conn
                    .send("POST", "/v1/cases", Some("Bearer dev-village"), Some(&body))
                    .await
                    .unwrap();
                let v: Value = serde_json::from_slice(conn.body(&r)).unwrap();
                assert_eq!(r.status, 201, "{v}");
                let id = v["id"].as_str().unwrap().to_owned();
                let slot = if affinity {
                    i
                } else {
                    let mut done = done.borrow_mut();
                    *done += 1;
                    *done - 1
                };
                ids.borrow_mut()[slot] = id;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Rc::try_unwrap(ids).unwrap().into_inner()
}

/// The clients of one kind of request: each keeps its keep-alive connection from slice to
/// slice, and its count of requests made, so that a slice carries on where the one before
/// it stopped.
struct Clients {
    conns: Vec<Conn>,
    rounds: Vec<usize>,
}

impl Clients {
    async fn open(ports: &[u16], n: usize) -> Clients {
        let mut conns = Vec::with_capacity(n);
        for c in 0..n {
            conns.push(Conn::open(ports[c % ports.len()]).await);
        }
        Clients {
            conns,
            rounds: vec![0; n],
        }
    }
}

/// Runs one task per client until the deadline; `step(client_index, round, connection)`
/// does the client's `round`-th request of this kind and says whether it succeeded.
async fn phase<F, Fut>(clients: &mut Clients, seconds: u64, step: F) -> (Tally, Duration)
where
    F: Fn(usize, usize, Conn) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = (bool, Conn)>,
{
    let tally = Rc::new(RefCell::new(Tally::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let counted = tally.clone();
    drive(
        clients,
        step,
        move |_, _| Instant::now() < deadline,
        move |ok, us| {
            let mut tally = counted.borrow_mut();
            if ok {
                tally.ok += 1;
                tally.micros.push(us);
            } else {
                tally.failed += 1;
            }
        },
    )
    .await;
    let elapsed = started.elapsed();
    (Rc::try_unwrap(tally).ok().unwrap().into_inner(), elapsed)
}

/// Runs `step` for each client until it has made `count(client_index)` requests of this
/// kind, untimed (`--warm`).
async fn warm<F, Fut>(clients: &mut Clients, count: impl Fn(usize) -> usize + 'static, step: F)
where
    F: Fn(usize, usize, Conn) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = (bool, Conn)>,
{
    let count = Rc::new(count);
    drive(
        clients,
        step,
        move |c, round| round < count(c),
        |ok, _| assert!(ok, "a warm-up request failed"),
    )
    .await;
}

/// Runs one task per client while `go_on(client_index, round)`, each request's outcome and
/// time in microseconds told to `done`; every client carries on from the round it reached.
async fn drive<F, Fut>(
    clients: &mut Clients,
    step: F,
    go_on: impl Fn(usize, usize) -> bool + Clone + 'static,
    done: impl Fn(bool, u32) + Clone + 'static,
) where
    F: Fn(usize, usize, Conn) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = (bool, Conn)>,
{
    let mut tasks = Vec::new();
    let conns = std::mem::take(&mut clients.conns);
    for (c, (conn, first)) in conns.into_iter().zip(clients.rounds.clone()).enumerate() {
        let (step, go_on, done) = (step.clone(), go_on.clone(), done.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut conn = conn;
            let mut round = first;
            while go_on(c, round) {
                let t = Instant::now();
                let (ok, back) = step(c, round, conn).await;
                conn = back;
                done(
                    ok,
                    u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX),
                );
                round += 1;
            }
            (conn, round)
        }));
    }
    for (c, t) in tasks.into_iter().enumerate() {
        let (conn, round) = t.await.unwrap();
        clients.conns.push(conn);
        clients.rounds[c] = round;
    }
}

/// The bodies the driver writes by hand are the JSON it means (checked before each run).
fn check_append_bodies() {
    let mut out = Vec::new();
    assert_eq!(append_body(3, &mut out), "Bearer dev-village");
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (v["action"].as_str(), v["expected_seq"].as_u64()),
        (Some("submit"), Some(3))
    );
    assert_eq!(v["documents"][1]["kind"], "meeting_record");
    assert_eq!(append_body(4, &mut out), "Bearer dev-town");
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["payload"], json!({"round": 2, "findings": "第三条"}));
    assert_eq!(v["documents"][0]["sha256"], DIGEST);
}

fn main() {
    let mut a = args();
    check_append_bodies();
    if a.clients > a.cases {
        println!(
            "{} clients need as many cases: --cases {}",
            a.clients, a.clients
        );
        a.cases = a.clients;
    }
    if a.pg.as_deref() == Some("new") {
        let url = fazhi_store::test_pg::bench_database(BENCH_PG).unwrap();
        println!("a throw-away PostgreSQL cluster: {url}, {BENCH_PG:?}");
        let _ = POSTMASTER.set(postmaster_of(&url));
        a.pg = Some(url);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("load.db");
    let nodes = if a.pg.is_some() { a.nodes } else { 1 };
    let mut servers = Vec::new();
    let mut ports = Vec::new();
    let mut handles = Vec::new();
    for node in 0..nodes {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut server_settings = settings(&db, a.workers);
        server_settings.postgres = a.pg.clone();
        servers.push(
            std::thread::Builder::new()
                .name(format!("server{node}"))
                .spawn(move || {
                    actix_web::rt::System::new().block_on(async move {
                        let app = Application::build(server_settings).unwrap();
                        tx.send((app.port(), app.handle())).unwrap();
                        app.run_until_stopped().await.unwrap();
                    });
                })
                .unwrap(),
        );
        let (port, handle) = rx.recv().unwrap();
        ports.push(port);
        handles.push(handle);
    }
    let port = ports[0];
    let ports2 = ports.clone();
    println!(
        "fazhi HTTP load: {} clients, {} cases, {} s of each kind in slices of {} s, {} server workers, {}",
        a.clients,
        a.cases,
        a.seconds,
        a.slice,
        a.workers,
        match &a.pg {
            Some(_) => format!("PostgreSQL synchronous_commit=on, {nodes} node(s)"),
            None => format!("SQLite WAL synchronous=FULL at {}", db.display()),
        }
    );
    // The driver runs on its own thread, named so that its CPU time can be told apart.
    let driver = std::thread::Builder::new()
        .name("driver".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let t = Instant::now();
                let ports = ports2;
                let ids = Rc::new(open_cases(&ports, a.cases, a.clients, !a.any_node).await);
                let ids3 = ids.clone();
                let opened = t.elapsed();
                println!(
                    "opened   {:>10.0} cases/s   ({} cases in {:.1} s)",
                    a.cases as f64 / opened.as_secs_f64(),
                    a.cases,
                    opened.as_secs_f64()
                );
                // Appends: client c owns the cases with index ≡ c (mod clients) and cycles
                // through them (from where it stopped in the slice before), so clients never
                // race on one case and every case is written to.
                let seqs: Rc<RefCell<Vec<u64>>> = Rc::new(RefCell::new(vec![1; ids.len()]));
                let clients = a.clients;
                let append = move |c: usize, round: usize, mut conn: Conn| {
                    let (ids, seqs) = (ids.clone(), seqs.clone());
                    async move {
                        let owned = (ids.len() - c).div_ceil(clients);
                        let i = c + (round % owned.max(1)) * clients;
                        let seq = seqs.borrow()[i];
                        let mut body = std::mem::take(&mut conn.body);
                        let token = append_body(seq, &mut body);
                        let path = format!("/v1/cases/{}/events", ids[i]);
                        let sent = conn.send("POST", &path, Some(token), Some(&body)).await;
                        conn.body = body;
                        let ok = match sent {
                            Ok(r) if r.status == 201 => {
                                seqs.borrow_mut()[i] += 1;
                                true
                            }
                            Ok(r) => {
                                eprintln!(
                                    "append failed: {} {}",
                                    r.status,
                                    String::from_utf8_lossy(conn.body(&r))
                                );
                                false
                            }
                            Err(e) => panic!("append failed: {e}"),
                        };
                        (ok, conn)
                    }
                };
                let any_node = a.any_node;
                let read = {
                    let ids = ids3.clone();
                    move |c: usize, round: usize, mut conn: Conn| {
                        let ids = ids.clone();
                        async move {
                            let mut i = (c * 7919 + round * 104_729) % ids.len();
                            if !any_node {
                                // A case of the client's node (see `open_cases`).
                                i = i - i % nodes + c % nodes;
                                if i >= ids.len() {
                                    i -= nodes;
                                }
                            }
                            let path = format!("/v1/cases/{}", ids[i]);
                            let r = conn
                                .send("GET", &path, Some("Bearer dev-town"), None)
                                .await
                                .unwrap();
                            (r.status == 200, conn)
                        }
                    }
                };
                let health = |_: usize, _: usize, mut conn: Conn| async {
                    let r = conn.send("GET", "/healthz", None, None).await.unwrap();
                    (r.status == 200, conn)
                };
                // The three kinds take turns, a slice of each at a time, so that they are
                // measured over the same stretch of the machine's time (on a shared machine
                // the speed drifts by more than the figures differ).
                let mut kinds = [Kind::default(), Kind::default(), Kind::default()];
                let mut writers = Clients::open(&ports, a.clients).await;
                let mut readers = Clients::open(&ports, a.clients).await;
                let mut checkers = Clients::open(&ports, a.clients).await;
                if a.warm {
                    // Two appends to every case first (untimed), one by each party: the
                    // timed ones are then each case's third or later, as nearly all are
                    // with few cases (both parties take part, the board row is met).
                    let t = Instant::now();
                    let (n, clients) = (a.cases, a.clients);
                    warm(
                        &mut writers,
                        move |c| 2 * (n - c).div_ceil(clients),
                        append.clone(),
                    )
                    .await;
                    println!(
                        "warmed   two appends to each case in {:.1} s",
                        t.elapsed().as_secs_f64()
                    );
                }
                // After each slice of appends, the checkpointer's work on its commits (it
                // waits 25 ms for commits to gather) is still counted to the appends.
                let settle = Duration::from_millis(100);
                let slices = a.seconds.div_ceil(a.slice.max(1)).max(1);
                for _ in 0..slices {
                    let cpu = cpu_by_thread();
                    let (t, e) = phase(&mut writers, a.slice, append.clone()).await;
                    actix_web::rt::time::sleep(settle).await;
                    kinds[0].add(t, e, &cpu);
                    let cpu = cpu_by_thread();
                    let (t, e) = phase(&mut readers, a.slice, read.clone()).await;
                    kinds[1].add(t, e, &cpu);
                    let cpu = cpu_by_thread();
                    let (t, e) = phase(&mut checkers, a.slice, health).await;
                    kinds[2].add(t, e, &cpu);
                }
                let [appends, reads, health] = kinds.map(|k| (figures(&k.tally, k.elapsed), k.cpu));
                for (name, unit, (f, cpu)) in [
                    ("appends", "events", &appends),
                    ("reads", "reads", &reads),
                    ("healthz", "calls", &health),
                ] {
                    print(name, unit, f);
                    print_cpu(cpu, f.ok);
                }
                println!(
                    "appends / healthz = {:.2}",
                    appends.0.rate / health.0.rate.max(1.0)
                );
                // The store's own figures: how many appends per commit, and how long a commit
                // takes.
                let mut conn = Conn::open(port).await;
                if let Ok(r) = conn.send("GET", "/metrics", None, None).await {
                    let text = String::from_utf8_lossy(conn.body(&r)).into_owned();
                    let value = |name: &str| {
                        text.lines()
                            .find(|l| l.starts_with(name))
                            .and_then(|l| l.rsplit(' ').next())
                            .and_then(|v| v.parse::<f64>().ok())
                            .unwrap_or(0.0)
                    };
                    let batches = value("fazhi_store_batch_size_count");
                    let commits = value("fazhi_store_commit_seconds_sum");
                    if batches > 0.0 {
                        println!(
                            "store    {batches:.0} commits, {:.1} appends per commit, {:.2} ms per commit; over 10 ms: {:.0}, over 20 ms: {:.0}, over 50 ms: {:.0}",
                            value("fazhi_store_batch_size_sum") / batches,
                            commits * 1000.0 / batches,
                            batches - value("fazhi_store_commit_seconds_bucket{le=\"0.01\"}"),
                            batches - value("fazhi_store_commit_seconds_bucket{le=\"0.02\"}"),
                            batches - value("fazhi_store_commit_seconds_bucket{le=\"0.05\"}"),
                        );
                    }
                }
            });
        })
        .unwrap();
    driver.join().unwrap();
    for handle in handles {
        actix_web::rt::System::new().block_on(handle.stop(true));
    }
    for server in servers {
        server.join().unwrap();
    }
}
