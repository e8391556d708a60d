//! A throw-away PostgreSQL for tests: one cluster per test binary, a fresh database per
//! call of [`database`].
//!
//! - With `FAZHI_TEST_PG` set (a URL such as `postgres://postgres@localhost/postgres`), its
//!   server is used: each [`database`] is a new database created on it (named
//!   `fazhi_test_<pid>_<n>`, left there).
//! - Otherwise the first call runs `initdb` into a new temporary directory and starts
//!   `postgres` on a Unix socket in it (`listen_addresses=''`: no TCP port at all), as the
//!   `postgres` user when the tests run as root (initdb refuses root). `fsync` is off in
//!   this cluster (it is thrown away; the store still asks for `synchronous_commit = on`).
//! - The server cannot outlive the tests: it runs under `setpriv --pdeathsig KILL`, started
//!   from a thread that lives as long as the test process, so the kernel kills it when the
//!   process ends, however it ends (a test binary runs no destructors at exit). Its
//!   directory is removed by the next test binary that starts a cluster (any
//!   `fazhi-test-pg-*` directory whose server is gone).
//! - With neither binaries nor `FAZHI_TEST_PG`, [`database`] is an error saying so: the
//!   tests fail, they never skip silently.
//!
//! Binaries are looked for in `FAZHI_PG_BIN`, then `/usr/lib/postgresql/<newest>/bin` (the
//! Debian packages), then `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What to say when there is no PostgreSQL to test with.
pub const NO_POSTGRES: &str = "没有可用于测试的 PostgreSQL：请安装 Debian 的 postgresql 软件包（apt-get \
     install postgresql）或设置 FAZHI_TEST_PG / no PostgreSQL to test with: install Debian's \
     postgresql package (apt-get install postgresql) or set FAZHI_TEST_PG to a server's URL";

/// Where the test server is: the URL of its maintenance database.
struct Server {
    /// `postgresql://user@host/postgres`-like URL, without a query.
    admin: String,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The URL of a fresh, empty database on the test server (started on first use).
pub fn database() -> Result<String, String> {
    let server = SERVER
        .get_or_init(|| match std::env::var("FAZHI_TEST_PG") {
            Ok(url) if !url.trim().is_empty() => Ok(Server {
                admin: url.trim().to_owned(),
            }),
            _ => start_cluster(TEST_SETTINGS),
        })
        .as_ref()
        .map_err(Clone::clone)?;
    let name = format!(
        "fazhi_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let admin = server.admin.clone();
    let sql = format!(
        "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    );
    // Its own thread and runtime: the caller may be inside a runtime already.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("cannot connect to the test server `{admin}`: {e}"))?;
            let driver = tokio::spawn(conn);
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| format!("cannot create a test database: {e}"))?;
            drop(client);
            let _ = driver.await;
            Ok::<_, String>(())
        })
    })
    .join()
    .map_err(|_| "the thread creating a test database panicked".to_owned())??;
    Ok(with_database(&server.admin, &name))
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_at = base.find("://").map_or(0, |i| i + 3);
    let base = match base.get(authority_at..).and_then(|rest| rest.find('/')) {
        Some(slash) => base.get(..authority_at + slash).unwrap_or(base),
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The directory of PostgreSQL's server binaries.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("FAZHI_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("initdb").exists() && d.join("postgres").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .is_some_and(|s| s.trim() == "0")
}

/// Removes the directories of earlier test clusters whose server is gone.
fn sweep(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with("fazhi-test-pg-") {
            continue;
        }
        let pid = std::fs::read_to_string(e.path().join("data/postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().map(str::to_owned));
        let alive = pid.is_some_and(|p| Path::new("/proc").join(p.trim()).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The test cluster's settings: `fsync` off (it is thrown away).
const TEST_SETTINGS: &[(&str, &str)] = &[
    ("fsync", "off"),
    ("max_connections", "200"),
    ("shared_buffers", "32MB"),
];

/// A throw-away cluster of its own for a benchmark, started with `settings` (`-c name=value`,
/// over `listen_addresses=''`; the rest is PostgreSQL's defaults, `fsync` and
/// `synchronous_commit` on unless `settings` says otherwise), and a new database on it: its
/// URL. The server dies with the process, as the test cluster does; its directory is swept
/// by the next cluster started.
pub fn bench_database(settings: &[(&str, &str)]) -> Result<String, String> {
    let server = start_cluster(settings)?;
    let name = "fazhi_bench";
    execute(
        &server.admin,
        &format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        ),
    )?;
    Ok(with_database(&server.admin, name))
}

fn start_cluster(settings: &[(&str, &str)]) -> Result<Server, String> {
    let bin = bin_dir().ok_or_else(|| NO_POSTGRES.to_owned())?;
    let tmp = std::env::temp_dir();
    sweep(&tmp);
    static CLUSTERS: AtomicUsize = AtomicUsize::new(0);
    let dir = match CLUSTERS.fetch_add(1, Ordering::SeqCst) {
        0 => tmp.join(format!("fazhi-test-pg-{}", std::process::id())),
        n => tmp.join(format!("fazhi-test-pg-{}-{n}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let data = dir.join("data");
    let root = is_root();
    if root {
        // initdb refuses root: the cluster belongs to the `postgres` user (Debian's package
        // creates it).
        let ok = Command::new("chown")
            .args(["postgres:postgres", &dir.to_string_lossy()])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!(
                "running as root, the test cluster must belong to the `postgres` user, but \
                 `chown postgres {}` failed; {NO_POSTGRES}",
                dir.display()
            ));
        }
    }
    let as_owner = |program: &Path| {
        let mut c = Command::new("setpriv");
        if root {
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
        }
        c.arg("--pdeathsig").arg("KILL").arg("--").arg(program);
        c
    };
    let out = as_owner(&bin.join("initdb"))
        .args(["-D", &data.to_string_lossy()])
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run initdb: {e}; {NO_POSTGRES}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let log = std::fs::File::create(dir.join("server.log"))
        .map_err(|e| format!("cannot create the server's log: {e}"))?;
    if root {
        let _ = Command::new("chown")
            .args([
                "postgres:postgres",
                &dir.join("server.log").to_string_lossy(),
            ])
            .status();
    }
    let mut server = as_owner(&bin.join("postgres"));
    server
        .args(["-D", &data.to_string_lossy()])
        .args(["-k", &dir.to_string_lossy()])
        .args(["-c", "listen_addresses="])
        .args(
            settings
                .iter()
                .flat_map(|(k, v)| ["-c".to_owned(), format!("{k}={v}")]),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // The parent-death signal fires when the thread that started the server ends: start it
    // from a thread that lives as long as the process.
    let (started, wait) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("fazhi-test-pg".into())
        .spawn(move || {
            let child = server.spawn();
            let _ = started.send(child.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            if let Ok(mut child) = child {
                let _ = child.wait();
            }
            loop {
                std::thread::park();
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    wait.recv()
        .map_err(|_| "the server's thread stopped".to_owned())?
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let socket = dir.join(".s.PGSQL.5432");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !socket.exists() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("the test server did not start within 60 s: {log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let host = dir.to_string_lossy().replace('/', "%2F");
    let admin = format!("postgresql://postgres@{host}/postgres");
    // Ready when it answers.
    loop {
        let admin2 = admin.clone();
        let ok = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin2, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                let driver = tokio::spawn(conn);
                let r = client.simple_query("SELECT 1").await.ok();
                drop(client);
                let _ = driver.await;
                r
            })
        })
        .join()
        .ok()
        .flatten()
        .is_some();
        if ok {
            break;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("the test server does not answer: {log}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Server { admin })
}

/// Runs `sql` (one or more statements) on the database at `url`, on a thread and runtime
/// of its own (the caller may be inside a runtime): for tests that change a database
/// behind the store's back, or the server's settings.
pub fn execute(url: &str, sql: &str) -> Result<(), String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("cannot connect to `{url}`: {e}"))?;
            let driver = tokio::spawn(conn);
            let done = client
                .batch_execute(&sql)
                .await
                .map_err(|e| format!("`{sql}`: {}", crate::postgres::describe(&e)));
            drop(client);
            let _ = driver.await;
            done
        })
    })
    .join()
    .map_err(|_| "the thread running SQL panicked".to_owned())?
}

/// The name of the database a URL of [`database`] names (its path).
pub fn database_name(url: &str) -> String {
    let base = url.split_once('?').map_or(url, |(b, _)| b);
    base.rsplit('/').next().unwrap_or_default().to_owned()
}
