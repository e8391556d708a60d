//! The HTTP load driver: a real server (in this process, on port 0, over a real SQLite file
//! with `synchronous=FULL`) and N concurrent clients over real HTTP. It opens `--cases` cases,
//! then for `--seconds` each: appends events (durable, acknowledged after commit), reads case
//! views, and calls `GET /healthz`; it prints the rate and p50/p99 latency of each, and the
//! ratio of appends to `/healthz`.
//!
//! `cargo bench --bench http_load -- --clients 64 --cases 1000 --seconds 10`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fazhi_core::load::{SourceFile, load};
use fazhi_core::runtime::sha256_hex;
use fazhi_http::config::Principals;
use fazhi_http::{Application, Settings};
use serde_json::{Value, json};

/// The same allocator as the `fazhi` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

struct Args {
    clients: usize,
    cases: usize,
    seconds: u64,
    workers: usize,
}

fn args() -> Args {
    let mut a = Args {
        clients: 64,
        cases: 1000,
        seconds: 10,
        workers: 2,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let next = argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (argv[i].as_str(), next) {
            ("--clients", Some(n)) => a.clients = n as usize,
            ("--cases", Some(n)) => a.cases = n as usize,
            ("--seconds", Some(n)) => a.seconds = n,
            ("--workers", Some(n)) => a.workers = n as usize,
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

fn append_body(seq: u64) -> (Value, &'static str) {
    if seq % 2 == 1 {
        (
            json!({"action": "submit", "expected_seq": seq, "documents": [
                {"kind": "rules_text", "name": "a.pdf", "sha256": DIGEST},
                {"kind": "meeting_record", "name": "b.pdf", "sha256": DIGEST}]}),
            "Bearer dev-village",
        )
    } else {
        (
            json!({"action": "order_correction", "expected_seq": seq,
                   "payload": {"round": seq / 2, "findings": "第三条"},
                   "documents": [{"kind": "review_opinion", "name": "c.pdf", "sha256": DIGEST},
                                 {"kind": "correction_order", "name": "d.pdf", "sha256": DIGEST}]}),
            "Bearer dev-town",
        )
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

/// CPU time (user + system, in clock ticks of 10 ms) used so far by each thread of this
/// process, summed by thread name: the server's workers (`actix-rt|system…`), the store's
/// writer (`fazhi-store-wri…`), the load driver (`driver`) and the rest.
fn cpu_by_thread() -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
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
        } else if comm.starts_with("fazhi-store") {
            "store writer"
        } else if comm == "driver" {
            "load driver"
        } else {
            "other"
        };
        *out.entry(group.to_owned()).or_insert(0) += ticks;
    }
    out
}

/// Prints the CPU time per operation of each thread group between two readings.
fn print_cpu(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    ops: usize,
) {
    let per = |ticks: u64| ticks as f64 * 10_000.0 / ops.max(1) as f64;
    let total: u64 = after
        .iter()
        .map(|(k, v)| v - before.get(k).copied().unwrap_or(0))
        .sum();
    let parts: Vec<String> = after
        .iter()
        .map(|(k, v)| format!("{k} {:.0}", per(v - before.get(k).copied().unwrap_or(0))))
        .collect();
    println!(
        "         CPU µs per op: {:.0} ({})",
        per(total),
        parts.join(", ")
    );
}

fn print(name: &str, unit: &str, f: &Figures) {
    println!(
        "{name:<8} {:>10.0} {unit}/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} ok, {} failed)",
        f.rate, f.p50, f.p99, f.ok, f.failed
    );
}

async fn open_cases(client: &awc::Client, base: &str, n: usize, clients: usize) -> Vec<String> {
    let ids = Rc::new(RefCell::new(Vec::with_capacity(n)));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let count = n / clients + usize::from(c < n % clients);
        let (client, base, ids) = (client.clone(), base.to_owned(), ids.clone());
        tasks.push(actix_web::rt::spawn(async move {
            for _ in 0..count {
                let mut res = client
                    .post(format!("{base}/v1/cases"))
                    .insert_header(("Authorization", "Bearer dev-village"))
                    .send_json(&json!({"procedure": "village-rules-filing", "title": "负载", "facts": {"adopted_on": "2026-11-20"}}))
                    .await
                    .unwrap();
                let v: Value = res.json().limit(1 << 20).await.unwrap();
                assert_eq!(res.status().as_u16(), 201, "{v}");
                ids.borrow_mut().push(v["id"].as_str().unwrap().to_owned());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Rc::try_unwrap(ids).unwrap().into_inner()
}

/// Runs `clients` tasks until the deadline; `step(client_index, round)` does one request and
/// says whether it succeeded.
async fn phase<F, Fut>(clients: usize, seconds: u64, step: F) -> (Tally, Duration)
where
    F: Fn(usize, usize) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = bool>,
{
    let tally = Rc::new(RefCell::new(Tally::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (step, tally) = (step.clone(), tally.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut round = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = step(c, round).await;
                let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                let mut tally = tally.borrow_mut();
                if ok {
                    tally.ok += 1;
                    tally.micros.push(us);
                } else {
                    tally.failed += 1;
                }
                round += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    (Rc::try_unwrap(tally).ok().unwrap().into_inner(), elapsed)
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("load.db");
    let (tx, rx) = std::sync::mpsc::channel();
    let server_settings = settings(&db, a.workers);
    let server = std::thread::Builder::new()
        .name("server".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(server_settings).unwrap();
                tx.send((app.port(), app.handle())).unwrap();
                app.run_until_stopped().await.unwrap();
            });
        })
        .unwrap();
    let (port, handle) = rx.recv().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    println!(
        "fazhi HTTP load: {} clients, {} cases, {} s per phase, {} server workers, SQLite WAL synchronous=FULL at {}",
        a.clients,
        a.cases,
        a.seconds,
        a.workers,
        db.display()
    );
    // The driver runs on its own thread, named so that its CPU time can be told apart.
    let driver = std::thread::Builder::new()
        .name("driver".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .connector(awc::Connector::new().limit(a.clients * 2 + 8))
            .timeout(Duration::from_secs(60))
            .finish();
        let t = Instant::now();
        let ids = Rc::new(open_cases(&client, &base, a.cases, a.clients).await);
        let opened = t.elapsed();
        println!(
            "opened   {:>10.0} cases/s   ({} cases in {:.1} s)",
            a.cases as f64 / opened.as_secs_f64(),
            a.cases,
            opened.as_secs_f64()
        );
        // Appends: client c owns the cases with index ≡ c (mod clients) and cycles through
        // them, so clients never race on one case.
        let seqs: Rc<RefCell<Vec<u64>>> = Rc::new(RefCell::new(vec![1; ids.len()]));
        let (ids2, seqs2, client2, base2, clients) = (
            ids.clone(),
            seqs.clone(),
            client.clone(),
            base.clone(),
            a.clients,
        );
        let cpu = cpu_by_thread();
        let (tally, elapsed) = phase(a.clients, a.seconds, move |c, round| {
            let (ids, seqs, client, base) =
                (ids2.clone(), seqs2.clone(), client2.clone(), base2.clone());
            async move {
                let owned = (ids.len() - c).div_ceil(clients);
                let i = c + (round % owned.max(1)) * clients;
                let seq = seqs.borrow()[i];
                let (body, token) = append_body(seq);
                let res = client
                    .post(format!("{base}/v1/cases/{}/events", ids[i]))
                    .insert_header(("Authorization", token))
                    .send_json(&body)
                    .await;
                match res {
                    Ok(mut r) if r.status().as_u16() == 201 => {
                        let _ = r.body().limit(1 << 20).await;
                        seqs.borrow_mut()[i] += 1;
                        true
                    }
                    Ok(mut r) => {
                        let b = r.body().await.unwrap_or_default();
                        eprintln!(
                            "append failed: {} {}",
                            r.status(),
                            String::from_utf8_lossy(&b)
                        );
                        false
                    }
                    Err(e) => {
                        eprintln!("append failed: {e}");
                        false
                    }
                }
            }
        })
        .await;
        let appends = figures(&tally, elapsed);
        print("appends", "events", &appends);
        print_cpu(&cpu, &cpu_by_thread(), appends.ok);

        let (ids3, client3, base3) = (ids.clone(), client.clone(), base.clone());
        let cpu = cpu_by_thread();
        let (tally, elapsed) = phase(a.clients, a.seconds, move |c, round| {
            let (ids, client, base) = (ids3.clone(), client3.clone(), base3.clone());
            async move {
                let i = (c * 7919 + round * 104_729) % ids.len();
                match client
                    .get(format!("{base}/v1/cases/{}", ids[i]))
                    .insert_header(("Authorization", "Bearer dev-town"))
                    .send()
                    .await
                {
                    Ok(mut r) => {
                        let _ = r.body().limit(1 << 20).await;
                        r.status().as_u16() == 200
                    }
                    Err(_) => false,
                }
            }
        })
        .await;
        let reads = figures(&tally, elapsed);
        print("reads", "reads", &reads);
        print_cpu(&cpu, &cpu_by_thread(), reads.ok);

        let (client4, base4) = (client.clone(), base.clone());
        let cpu = cpu_by_thread();
        let (tally, elapsed) = phase(a.clients, a.seconds, move |_, _| {
            let (client, base) = (client4.clone(), base4.clone());
            async move {
                match client.get(format!("{base}/healthz")).send().await {
                    Ok(mut r) => {
                        let _ = r.body().await;
                        r.status().as_u16() == 200
                    }
                    Err(_) => false,
                }
            }
        })
        .await;
        let health = figures(&tally, elapsed);
        print("healthz", "calls", &health);
        print_cpu(&cpu, &cpu_by_thread(), health.ok);
        println!(
            "appends / healthz = {:.2}",
            appends.rate / health.rate.max(1.0)
        );
        // The store's own figures: how many appends per commit, and how long a commit takes.
        if let Ok(mut r) = client.get(format!("{base}/metrics")).send().await {
            let text = String::from_utf8_lossy(&r.body().limit(16 << 20).await.unwrap_or_default())
                .into_owned();
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
                    "store    {batches:.0} commits, {:.1} appends per commit, {:.2} ms per commit",
                    value("fazhi_store_batch_size_sum") / batches,
                    commits * 1000.0 / batches
                );
            }
        }
    });
        })
        .unwrap();
    driver.join().unwrap();
    actix_web::rt::System::new().block_on(handle.stop(true));
    server.join().unwrap();
}
