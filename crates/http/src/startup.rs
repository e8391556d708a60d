//! Building and running the server: bind the listener, open the store, assemble the routes.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::http::header::HeaderValue;
use actix_web::{App, HttpResponse, HttpServer, web};
use fazhi_core::lang::Lang;
use fazhi_core::model::RuleSet;
use fazhi_core::time::Calendar;
use fazhi_store::{EventStore, PgOptions, PgStore, SqliteOptions, SqliteStore, StoreError};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::api;
use crate::config::Principals;
use crate::problem::ApiError;
use crate::service::{AppState, CaseCache};

/// What the server needs to start.
#[derive(Debug)]
pub struct Settings {
    /// The address to listen on (`127.0.0.1:8080`; port 0 picks a free port).
    pub listen: String,
    /// The SQLite database file.
    pub db: PathBuf,
    /// Whether to create the database file when it is missing (else a missing file is
    /// [`StoreError::Missing`] and the server does not start). [`Settings::new`] says yes;
    /// `fazhi serve` says so only for its default path or with `--create-db`.
    pub create_db: bool,
    /// The procedures.
    pub rules: RuleSet,
    /// The working-day calendar.
    pub calendar: Calendar,
    /// Who may call.
    pub principals: Principals,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// How many HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// About how many cases to keep in memory (idle ones beyond are loaded again from the
    /// store when next asked for).
    pub cases_in_memory: usize,
    /// The registered SQLite VFS to open the database with (`None`: SQLite's default); see
    /// [`fazhi_store::SqliteOptions::vfs`]. Only tests set it (a fault-injecting VFS).
    pub sqlite_vfs: Option<String>,
    /// How long a write waits for a database lock held by another connection before it is
    /// answered 503 (default 10 s).
    pub busy_timeout: Duration,
    /// How often the database file and its WAL are checked to be the files opened at start
    /// (default every second): when either was removed or replaced, writes are refused.
    pub check_files_every: Duration,
    /// A PostgreSQL database (its URL) to use instead of the SQLite file `db`. Several
    /// servers may share it; SQLite's lock file, file watch and VFS do not apply then.
    pub postgres: Option<String>,
    /// How many scenarios test each procedure (by id), shown with the procedure (default:
    /// none counted).
    pub scenarios: std::collections::BTreeMap<String, usize>,
    /// The migrations between versions of the procedures (`rules/migrations/`, proved
    /// against `rules`): `POST /v1/cases/{id}/migrate` applies them. None by default.
    pub migrations: Vec<fazhi_core::migrate::Migration>,
}

impl Settings {
    /// Settings with the defaults: `127.0.0.1:8080`, a 64 KiB body limit.
    pub fn new(
        rules: RuleSet,
        calendar: Calendar,
        principals: Principals,
        db: impl Into<PathBuf>,
    ) -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            db: db.into(),
            create_db: true,
            rules,
            calendar,
            principals,
            body_limit: 64 * 1024,
            workers: None,
            cases_in_memory: crate::service::DEFAULT_CASES_IN_MEMORY,
            sqlite_vfs: None,
            busy_timeout: Duration::from_secs(10),
            check_files_every: Duration::from_secs(1),
            postgres: None,
            scenarios: std::collections::BTreeMap::new(),
            migrations: Vec::new(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listener could not be bound.
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// Development tokens are configured but the address is not loopback.
    #[error(
        "development tokens (`dev-<id>`) are configured for {ids}: the server only listens on loopback (127.0.0.1 or ::1) with them, not on `{addr}`; give those principals real tokens"
    )]
    DevelopmentTokens {
        /// The address asked for.
        addr: SocketAddr,
        /// The principals with development tokens.
        ids: String,
    },
    /// The store could not be opened.
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    /// Another `fazhi serve` holds the database (its lock file is locked).
    #[error(
        "数据库`{db}`已由另一个 fazhi serve 进程使用（锁文件`{lock}`已被锁定）：同一数据库只能由一个服务进程写入；请先停止另一个进程 / the database `{db}` is in use by another `fazhi serve` (its lock file `{lock}` is locked): only one server may write a database; stop the other one first (`fazhi backup`, `verify` and `export` work while it runs)"
    )]
    Locked {
        /// The database.
        db: String,
        /// The lock file.
        lock: String,
    },
    /// The lock file beside the database could not be opened.
    #[error(
        "无法打开锁文件`{lock}` / cannot open the lock file `{lock}` beside the database: {source}"
    )]
    LockFile {
        /// The lock file.
        lock: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// A bound, ready-to-run server.
pub struct Application {
    addr: SocketAddr,
    server: Server,
    /// The store the service uses.
    store: Arc<dyn EventStore>,
    /// The SQLite store (`None` on PostgreSQL).
    sqlite: Option<Arc<SqliteStore>>,
    /// The lock file, locked while the server runs (SQLite only).
    lock: Option<std::fs::File>,
    /// Stops the file watch.
    watch: Arc<std::sync::atomic::AtomicBool>,
}

/// The lock file beside a database: `FILE.lock`.
pub fn lock_path(db: &std::path::Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Takes the exclusive lock on the database's lock file (`FILE.lock`, created when missing
/// and never removed), so that a second server on the same file refuses to start. The lock
/// is the operating system's (`flock`): it goes with the process, however it ends.
pub fn lock_database(db: &std::path::Path) -> Result<std::fs::File, StartError> {
    let path = lock_path(db);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StartError::LockFile {
            lock: path.display().to_string(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::Locked {
            db: db.display().to_string(),
            lock: path.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StartError::LockFile {
            lock: path.display().to_string(),
            source,
        }),
    }
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use.
/// The metric label of a request's method: the standard methods by name, anything else (an
/// invented method) as `other`, so that a client cannot create a series per request.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

fn metrics_handle() -> Option<PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ];
            let handle = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()?
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("fazhi_store_batch_size".into()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                )
                .ok()?
                .install_recorder()
                .ok()?;
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("fazhi-metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            Some(handle)
        })
        .clone()
}

async fn render_metrics() -> HttpResponse {
    match metrics_handle() {
        Some(h) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(h.render()),
        None => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(""),
    }
}

/// The OpenAPI document of this server (made once, at start: it names the loaded procedures).
#[derive(Debug, Clone)]
struct Document(Arc<str>);

async fn openapi_json(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.to_string())
}

async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route `{} {}`",
        req.method(),
        req.path()
    )))
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let allow = req.app_data::<Allow>().map_or("", |a| a.0);
    Err(ApiError::MethodNotAllowed(
        format!(
            "`{}` is not allowed on `{}`: use {allow}",
            req.method(),
            req.path()
        ),
        allow,
    ))
}

/// The methods a resource answers, for the `Allow` header of its 405.
#[derive(Debug, Clone, Copy)]
struct Allow(&'static str);

/// A route for GET that answers HEAD too (the same status and headers, no body).
pub(crate) fn get_or_head() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// The route a request matched, as its metrics label (`/v1/cases/{id}`): put on each resource
/// so that the metrics need not match the path a second time.
#[derive(Debug, Clone, Copy)]
struct Route(&'static str);

/// The handles of the per-request metrics, kept per worker thread (each worker builds its
/// own `App`) by method, route and status: recording through a handle is one atomic add,
/// where `metrics::counter!` with labels builds and looks up its key on every request.
#[derive(Default, Clone)]
struct RequestMetrics(std::rc::Rc<std::cell::RefCell<MetricHandles>>);

/// The handles by (method, route, status): the count and the duration.
type MetricHandles = std::collections::HashMap<
    (&'static str, &'static str, u16),
    (metrics::Counter, metrics::Histogram),
>;

impl RequestMetrics {
    /// Counts one answered request and records how long it took.
    fn record(&self, method: &'static str, route: &'static str, status: u16, seconds: f64) {
        let mut handles = self.0.borrow_mut();
        let (count, took) = handles.entry((method, route, status)).or_insert_with(|| {
            (
                metrics::counter!("fazhi_http_requests_total", "method" => method, "route" => route, "status" => status.to_string()),
                metrics::histogram!("fazhi_http_request_duration_seconds", "route" => route),
            )
        });
        count.increment(1);
        took.record(seconds);
    }
}

/// A resource at `full` (a path under `/v1` is registered inside the `/v1` scope) answering
/// 405, with `Allow: allow`, to methods it has no route for.
pub(crate) fn resource(full: &'static str, allow: &'static str) -> actix_web::Resource {
    let path = full.strip_prefix("/v1").unwrap_or(full);
    web::resource(path)
        .app_data(Route(full))
        .app_data(Allow(allow))
        .default_service(web::to(method_not_allowed))
}

impl Application {
    /// Binds the listener, opens (and migrates) the store, and assembles the server. Call it
    /// inside an actix (tokio) runtime; run it with [`Application::run_until_stopped`].
    pub fn build(settings: Settings) -> Result<Application, StartError> {
        let listener = TcpListener::bind(&settings.listen).map_err(|source| StartError::Bind {
            addr: settings.listen.clone(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: settings.listen.clone(),
            source,
        })?;
        let dev = settings.principals.development();
        if !dev.is_empty() && !addr.ip().is_loopback() {
            return Err(StartError::DevelopmentTokens {
                addr,
                ids: dev.join(", "),
            });
        }
        if !dev.is_empty() {
            tracing::warn!(
                principals = %dev.join(", "),
                "development tokens (dev-<id>) are configured: listening on loopback only"
            );
        }
        let watch = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (store, sqlite, lock) = match &settings.postgres {
            Some(url) => {
                let pg: Arc<dyn EventStore> = Arc::new(PgStore::open(PgOptions::new(url))?);
                (pg, None, None)
            }
            None => {
                let lock = lock_database(&settings.db)?;
                let store = Arc::new(SqliteStore::open(SqliteOptions {
                    create: settings.create_db,
                    vfs: settings.sqlite_vfs.clone(),
                    busy_timeout: settings.busy_timeout,
                    ..SqliteOptions::new(&settings.db)
                })?);
                // The file watch: the database and its WAL must stay the files opened. It holds the
                // store weakly, so that the store (and its read connections) goes when the service
                // lets go of it, not at the watch's next round.
                actix_web::rt::spawn({
                    let (store, stop) = (Arc::downgrade(&store), watch.clone());
                    let every = settings.check_files_every.max(Duration::from_millis(10));
                    async move {
                        let mut tick = actix_web::rt::time::interval(every);
                        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                            tick.tick().await;
                            let Some(store) = store.upgrade() else {
                                break;
                            };
                            store.check_files();
                        }
                    }
                });
                // Cases stored before the deadline board existed get their deadlines
                // reckoned once, before the server answers.
                let filled =
                    crate::deadlines::fill_unfilled(&store, &settings.rules, &settings.calendar);
                if filled > 0 {
                    tracing::info!(
                        cases = filled,
                        "reckoned the deadline board of cases stored before it"
                    );
                }
                (
                    store.clone() as Arc<dyn EventStore>,
                    Some(store),
                    Some(lock),
                )
            }
        };
        let _ = metrics_handle();
        let state = web::Data::new(AppState {
            rules: settings.rules,
            calendar: settings.calendar,
            principals: settings.principals,
            store: store.clone(),
            cases: CaseCache::with_capacity(settings.cases_in_memory),
            body_limit: settings.body_limit,
            scenarios: settings.scenarios,
            migrations: settings.migrations,
        });
        let document = web::Data::new(Document(Arc::from(crate::openapi::json_for(&state.rules))));
        let mut server = HttpServer::new(move || {
            let request_metrics = RequestMetrics::default();
            App::new()
                .app_data(state.clone())
                .app_data(document.clone())
                .app_data(web::JsonConfig::default().error_handler(|err, _| {
                    ApiError::malformed("body", format!("bad JSON body: {err}")).into()
                }))
                .app_data(web::QueryConfig::default().error_handler(|err, _| {
                    ApiError::malformed("query", format!("bad query string: {err}")).into()
                }))
                .app_data(web::PathConfig::default().error_handler(|err, _| {
                    ApiError::malformed("path", format!("bad path: {err}")).into()
                }))
                .wrap_fn(move |req, srv| {
                    // One span per request with its id (also sent back as `x-request-id`),
                    // then the request's metrics.
                    let started = Instant::now();
                    let lang = crate::problem::lang_of(
                        req.headers()
                            .get(actix_web::http::header::ACCEPT_LANGUAGE)
                            .and_then(|v| v.to_str().ok()),
                    );
                    let id = uuid::Uuid::new_v4();
                    let method = req.method().clone();
                    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %req.path());
                    let fut = span.in_scope(|| srv.call(req));
                    let request_metrics = request_metrics.clone();
                    async move {
                        let mut res = fut.await?;
                        // A problem in the language asked for: Chinese unless English. (A
                        // refusal's handler chose its language already.)
                        if lang == Lang::Zh
                            && let Some(e) =
                                res.response().error().and_then(|e| e.as_error::<ApiError>())
                            && !matches!(e, ApiError::Refused(..) | ApiError::Forbidden { .. })
                        {
                            let zh = e.problem_response(Lang::Zh);
                            res = res.into_response(zh);
                        }
                        let route = res
                            .request()
                            .app_data::<Route>()
                            .map_or("unmatched", |r| r.0);
                        request_metrics.record(
                            method_label(&method),
                            route,
                            res.status().as_u16(),
                            started.elapsed().as_secs_f64(),
                        );
                        if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
                            res.headers_mut().insert(
                                actix_web::http::header::HeaderName::from_static("x-request-id"),
                                v,
                            );
                        }
                        Ok(res)
                    }
                    .instrument(span)
                })
                .service(resource("/healthz", "GET, HEAD").route(get_or_head().to(api::healthz)))
                .service(resource("/metrics", "GET, HEAD").route(get_or_head().to(render_metrics)))
                .service(resource("/openapi.json", "GET, HEAD").route(get_or_head().to(openapi_json)))
                .configure(crate::console::routes)
                .service(
                    web::scope("/v1")
                        .service(resource("/v1/procedures", "GET, HEAD").route(get_or_head().to(api::list_procedures)))
                        .service(resource("/v1/procedures/{id}", "GET, HEAD").route(get_or_head().to(api::get_procedure)))
                        .service(resource("/v1/procedures/{id}/graph", "GET, HEAD").route(get_or_head().to(api::get_graph)))
                        .service(
                            resource("/v1/cases", "GET, HEAD, POST")
                                .route(get_or_head().to(api::list_cases))
                                .route(web::post().to(api::open_case)),
                        )
                        .service(resource("/v1/deadlines", "GET, HEAD").route(get_or_head().to(crate::deadlines::list_deadlines)))
                        .service(resource("/v1/cases/{id}", "GET, HEAD").route(get_or_head().to(api::get_case)))
                        .service(resource("/v1/cases/{id}/graph", "GET, HEAD").route(get_or_head().to(crate::picture::get_case_graph)))
                        .service(resource("/v1/reports/annual", "GET, HEAD").route(get_or_head().to(crate::report::get_annual)))
                        .service(
                            resource("/v1/cases/{id}/events", "GET, HEAD, POST")
                                .route(get_or_head().to(crate::history::get_events))
                                .route(web::post().to(api::append_event)),
                        )
                        .service(resource("/v1/cases/{id}/events/{seq}", "GET, HEAD").route(get_or_head().to(crate::history::get_event)))
                        .service(resource("/v1/cases/{id}/dossier", "GET, HEAD").route(get_or_head().to(crate::history::get_dossier)))
                        .service(resource("/v1/cases/{id}/migrate", "POST").route(web::post().to(crate::migrate::migrate_case))),
                )
                .default_service(web::to(not_found))
        })
        .shutdown_timeout(30);
        if let Some(w) = settings.workers {
            server = server.workers(w.max(1));
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartError::Bind {
                addr: addr.to_string(),
                source,
            })?
            .run();
        let db = match settings.postgres {
            Some(_) => "PostgreSQL".to_owned(),
            None => settings.db.display().to_string(),
        };
        tracing::info!(%addr, %db, "fazhi listening on http://{addr}");
        Ok(Application {
            addr,
            server,
            store,
            sqlite,
            lock,
            watch,
        })
    }

    /// The port bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address bound.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The SQLite store (for tests and tools that run beside the server); `None` when the
    /// server runs on PostgreSQL.
    pub fn store(&self) -> Option<Arc<SqliteStore>> {
        self.sqlite.clone()
    }

    /// The store the service uses, whichever its backend.
    pub fn event_store(&self) -> Arc<dyn EventStore> {
        self.store.clone()
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGTERM, ctrl-c, or [`ServerHandle::stop`]): in-flight requests
    /// finish, then pending appends are committed and the store is closed.
    pub async fn run_until_stopped(self) -> Result<(), StartError> {
        let served = self.server.await;
        self.watch.store(true, std::sync::atomic::Ordering::SeqCst);
        self.store.close().await?;
        // The lock goes once the store is closed (dropping the file would do it too).
        if let Some(lock) = &self.lock {
            let _ = lock.unlock();
        }
        tracing::info!("fazhi stopped; the store is closed");
        served.map_err(StartError::Serve)
    }
}
