//! The HTTP and HTTPS Connection Handlers: each configuration the supervisor loads (within a second of a
//! dsconfig change) is compared with what runs; a handler enabled, changed or disabled is started, restarted or
//! stopped, the others keep their connections. A handler that cannot start (a port in use, a missing
//! certificate) is reported in `logs/errors` and the live status, tried again every 10 s, and the server goes on.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use ferrosync::config::Config;
use ferrosync::engine::monitor::{HandlerView, Monitor};
use ferrosync::errorlog::{Category, ErrorLog, Severity};
use ferrosync::settings::{
    HttpHandlerSettings, KeyStoreSettings, LogPublisherKind, LogPublisherSettings, ServletKind, ServletSettings,
};
use ferrosync::store::{ServerRoot, Store};

use crate::HttpError;

/// How often a handler that could not start is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(10);

/// What a handler serves at each path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub path: String,
    pub kind: ServletKind,
    /// The failed-operations logs (for the status page).
    pub failed_ops: Vec<PathBuf>,
}

/// Everything a running handler depends on: when it changes, the handler is started again.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plan {
    handler: HttpHandlerSettings,
    routes: Vec<Route>,
    key_store: Option<KeyStoreSettings>,
    /// The certificate file's modification time: a renewed certificate is loaded.
    key_file_modified: Option<SystemTime>,
}

struct Running {
    plan: Plan,
    task: tokio::task::JoinHandle<()>,
}

/// The connection handlers of one server root.
pub struct Handlers {
    root: ServerRoot,
    monitor: Monitor,
    errors: ErrorLog,
    running: HashMap<String, Running>,
    /// Handlers that could not start, with the plan and the error last reported (reported once).
    failed: HashMap<String, (Plan, String)>,
}

impl Handlers {
    pub fn new(root: ServerRoot, monitor: Monitor) -> Handlers {
        Handlers { errors: ErrorLog::of_root(&root), root, monitor, running: HashMap::new(), failed: HashMap::new() }
    }

    fn note(&self, severity: Severity, msg: &str) {
        if let Err(e) = self.errors.write(Category::Protocol, severity, None, msg) {
            ferrosync::synclog::warn_elsewhere(&format!("cannot write {}: {e}", self.errors.path().display()));
        }
    }

    /// Follows `configs` until `shutdown` turns true; then stops every handler.
    pub async fn run(mut self, mut configs: watch::Receiver<Arc<Config>>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let config = configs.borrow_and_update().clone();
            self.apply(&config).await;
            tokio::select! {
                r = configs.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(RETRY_EVERY), if !self.failed.is_empty() => {}
                r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { break },
            }
        }
        for (name, r) in self.running.drain() {
            r.task.abort();
            self.monitor.handler(&name, None);
        }
    }

    /// Starts, restarts and stops handlers so that what runs is what `config` says.
    async fn apply(&mut self, config: &Config) {
        let mut wanted: HashMap<String, Result<Plan, HttpError>> = HashMap::new();
        for h in HttpHandlerSettings::all(config) {
            match h {
                Ok(h) if h.enabled => {
                    wanted.insert(h.name.clone(), plan(config, &self.root, h));
                }
                Ok(_) => {}
                Err(e) => self.note(Severity::SevereError, &e.to_string()),
            }
        }
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let keep =
                matches!(wanted.get(&name), Some(Ok(p)) if self.running.get(&name).is_some_and(|r| &r.plan == p));
            if !keep {
                if let Some(r) = self.running.remove(&name) {
                    r.task.abort();
                    let _ = r.task.await;
                    self.monitor.handler(&name, None);
                    self.note(Severity::Notice, &format!("the {} stopped listening", r.plan.handler.label));
                }
            }
        }
        self.failed.retain(|name, _| wanted.contains_key(name));
        let mut wanted: Vec<(String, Result<Plan, HttpError>)> = wanted.into_iter().collect();
        wanted.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, plan) in wanted {
            if self.running.contains_key(&name) {
                continue;
            }
            let started = match plan {
                Ok(plan) => match self.start(config, &plan).await {
                    Ok(task) => Ok((plan, task)),
                    Err(e) => Err((Some(plan), e)),
                },
                Err(e) => Err((None, e)),
            };
            match started {
                Ok((plan, task)) => {
                    let url = url(&plan.handler);
                    self.note(Severity::Notice, &format!("the {} listens on {url}", plan.handler.label));
                    self.monitor.handler(&name, Some(HandlerView { name: name.clone(), url: Some(url), error: None }));
                    self.failed.remove(&name);
                    self.running.insert(name, Running { plan, task });
                }
                Err((plan, e)) => {
                    let msg = e.to_string();
                    let again = self.failed.get(&name).is_some_and(|(p, m)| Some(p) == plan.as_ref() && *m == msg);
                    if !again {
                        self.note(Severity::SevereError, &format!("{msg}; tried again every 10 s"));
                    }
                    self.monitor
                        .handler(&name, Some(HandlerView { name: name.clone(), url: None, error: Some(msg.clone()) }));
                    if let Some(plan) = plan {
                        self.failed.insert(name, (plan, msg));
                    } else {
                        self.failed.remove(&name);
                    }
                }
            }
        }
    }

    /// Binds the handler's address and serves it in a task of its own.
    async fn start(&self, config: &Config, plan: &Plan) -> Result<tokio::task::JoinHandle<()>, HttpError> {
        let h = &plan.handler;
        let acceptor = match &plan.key_store {
            None => None,
            Some(store) => {
                let store_db = Store::open(&self.root)
                    .map_err(|e| HttpError::Tls { handler: h.label.clone(), reason: e.to_string() })?;
                let a = crate::tls::acceptor(config, store_db.secrets(), &self.root, store)
                    .map_err(|reason| HttpError::Tls { handler: h.label.clone(), reason })?;
                Some(Arc::new(a))
            }
        };
        let address = format!("{}:{}", bracket(&h.listen_address), h.listen_port);
        let addr: SocketAddr = address.parse().map_err(|_| HttpError::Config {
            handler: h.label.clone(),
            reason: format!("listen-address '{}' is not an IP address", h.listen_address),
        })?;
        let listener = TcpListener::bind(addr).await.map_err(|source| HttpError::Bind {
            handler: h.label.clone(),
            address: format!("{address} (listen-address, listen-port)"),
            source,
        })?;
        let routes = Arc::new(plan.routes.clone());
        let monitor = self.monitor.clone();
        Ok(tokio::spawn(accept(listener, acceptor, routes, monitor)))
    }
}

/// The plan of an enabled handler: its routes (each extension checked) and its certificate.
fn plan(config: &Config, root: &ServerRoot, handler: HttpHandlerSettings) -> Result<Plan, HttpError> {
    let fail = |reason: String| HttpError::Config { handler: handler.label.clone(), reason };
    let failed_ops: Vec<PathBuf> = LogPublisherSettings::all(config)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.enabled && p.kind == LogPublisherKind::FailedOps)
        .filter_map(|p| p.log_file.map(|f| root.resolve(&f)))
        .collect();
    let mut routes: Vec<Route> = Vec::new();
    for name in &handler.extensions {
        let s = ServletSettings::of(config, name).map_err(|e| fail(format!("http-servlet-extension: {e}")))?;
        if let Some(other) = routes.iter().find(|r| r.path == s.path) {
            return Err(fail(format!("two http-servlet-extensions have the base-context-path {}", other.path)));
        }
        let failed_ops =
            if matches!(s.kind, ServletKind::StatusConsole { .. }) { failed_ops.clone() } else { Vec::new() };
        routes.push(Route { path: s.path, kind: s.kind, failed_ops });
    }
    let key_store = match &handler.tls {
        None => None,
        Some(None) => return Err(fail("use-ssl:true needs a key-manager-provider".into())),
        Some(Some(name)) => Some(
            crate::tls::key_store(config, name)
                .map_err(|reason| HttpError::Tls { handler: handler.label.clone(), reason })?,
        ),
    };
    let modified = |f: &str| std::fs::metadata(root.resolve(f)).and_then(|m| m.modified()).ok();
    let key_file_modified = key_store.as_ref().and_then(|k| modified(&k.file));
    Ok(Plan { handler, routes, key_store, key_file_modified })
}

fn bracket(address: &str) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.to_string()
    }
}

fn url(h: &HttpHandlerSettings) -> String {
    let scheme = if h.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{}:{}", bracket(&h.listen_address), h.listen_port)
}

/// Accepts connections until aborted; aborting it ends its connections too.
async fn accept(
    listener: TcpListener,
    acceptor: Option<Arc<openssl::ssl::SslAcceptor>>,
    routes: Arc<Vec<Route>>,
    monitor: Monitor,
) {
    let mut connections = JoinSet::new();
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            // Out of file descriptors, say: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        while connections.try_join_next().is_some() {}
        let routes = routes.clone();
        let monitor = monitor.clone();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = respond(&req, &routes, &monitor);
                async move { Ok::<_, Infallible>(answer) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match acceptor {
                None => {
                    let _ = http.serve_connection(TokioIo::new(tcp), service).await;
                }
                Some(a) => {
                    let Ok(ssl) = openssl::ssl::Ssl::new(a.context()) else { return };
                    let Ok(mut stream) = tokio_openssl::SslStream::new(ssl, tcp) else { return };
                    if std::pin::Pin::new(&mut stream).accept().await.is_err() {
                        return;
                    }
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}

/// A response with a body and its content type.
pub fn reply(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    r
}

/// The answer to one request.
fn respond(req: &Request<Incoming>, routes: &[Route], monitor: &Monitor) -> Response<Full<Bytes>> {
    if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
        return reply(405, "text/plain; charset=utf-8", "only GET and HEAD are served\n".into());
    }
    let path = req.uri().path();
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let Some(route) = routes.iter().find(|r| r.path == path) else {
        return reply(404, "text/plain; charset=utf-8", format!("nothing is served at {path}\n"));
    };
    match &route.kind {
        ServletKind::Prometheus => match crate::metrics::render(monitor) {
            Ok(text) => reply(200, crate::metrics::CONTENT_TYPE, text),
            Err(_) => reply(500, "text/plain; charset=utf-8", "the metrics could not be encoded\n".into()),
        },
        ServletKind::Availability(s) => {
            let (status, body) = crate::health::answer(s, &monitor.view());
            reply(status, "application/json", body)
        }
        ServletKind::StatusConsole { refresh } => {
            reply(200, "text/html; charset=utf-8", crate::console::page(&monitor.view(), *refresh, &route.failed_ops))
        }
    }
}
