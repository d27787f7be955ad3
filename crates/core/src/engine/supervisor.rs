//! The sync server's supervisor: runs every started pipe of a server root, rebuilds them within a second of a
//! configuration change (dsconfig, `realtime-sync start/stop`), retries pipes that stopped, and moves a running
//! pipe to a start point requested with `realtime-sync set-startpoint` ([`Store::request_start_point`]).
//!
//! The endpoints come from the caller ([`EndpointBuilder`]), so this crate depends on no endpoint crate: the
//! tools pass their endpoint registry.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::monitor::Monitor;
use super::placement::Candidate;
use super::realtime::{PipeRunner, PipeSettings, PipeStats, StatsSnapshot};
use super::Engine;
use crate::config::Config;
use crate::endpoint::{ChangeDetector, Destination, EntrySource};
use crate::error::StoreError;
use crate::errorlog::{Category, ErrorLog, Severity};
use crate::mapping::PipeMapping;
use crate::secret::SecretBox;
use crate::store::{ServerRoot, Store, StoreWriter};
use crate::synclog::SyncLog;

/// The endpoints of one pipe.
pub struct PipeEndpoints {
    pub source: Arc<dyn EntrySource>,
    pub destination: Arc<dyn Destination>,
    /// Reads the source's changes.
    pub detector: Arc<dyn ChangeDetector>,
}

/// Why a pipe's endpoints could not be built (its text is shown in `logs/errors` and `status`).
pub type BuildError = Box<dyn std::error::Error + Send + Sync>;

/// Builds the endpoints of pipe `pipe` from the configuration. A closure with the same arguments is one.
pub trait EndpointBuilder: Send + Sync {
    fn build(
        &self,
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        mapping: &PipeMapping,
    ) -> Result<PipeEndpoints, BuildError>;
}

impl<F> EndpointBuilder for F
where
    F: Fn(&Config, &SecretBox, &ServerRoot, &str, &PipeMapping) -> Result<PipeEndpoints, BuildError> + Send + Sync,
{
    fn build(
        &self,
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        mapping: &PipeMapping,
    ) -> Result<PipeEndpoints, BuildError> {
        self(config, secrets, root, pipe, mapping)
    }
}

/// Why the supervisor stopped.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An error with its causes, as `a: b: c`.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

/// Builds the runner of pipe `pipe`.
pub fn build_runner(
    root: &ServerRoot,
    config: &Config,
    pipe: &str,
    log: Arc<SyncLog>,
    builder: &dyn EndpointBuilder,
) -> Result<PipeRunner, BuildError> {
    build_runner_under(root, config, pipe, log, builder, None)
}

/// Builds the runner of pipe `pipe`, whose state writes are made under `lease` (server, epoch) when given.
pub fn build_runner_under(
    root: &ServerRoot,
    config: &Config,
    pipe: &str,
    log: Arc<SyncLog>,
    builder: &dyn EndpointBuilder,
    lease: Option<(&str, i64)>,
) -> Result<PipeRunner, BuildError> {
    let store = Store::open(root)?;
    let mapping = PipeMapping::from_config(config, pipe)?;
    let endpoints = builder.build(config, store.secrets(), root, pipe, &mapping)?;
    let writes = match lease {
        Some((server, epoch)) => Store::open(root)?.under_lease(server, epoch),
        None => Store::open(root)?,
    };
    Ok(PipeRunner {
        pipe: pipe.to_string(),
        engine: Engine::new(mapping, endpoints.source, endpoints.destination),
        detector: endpoints.detector,
        settings: PipeSettings::from_config(config, pipe)?,
        store: std::sync::Mutex::new(store),
        writer: StoreWriter::start(writes),
        log,
        stats: Arc::new(PipeStats::default()),
    })
}

struct RunningPipe {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningPipe {
    /// Stops the pipe: its changes in flight are finished and its position saved.
    async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

async fn stop_all(pipes: &mut HashMap<String, RunningPipe>) {
    for p in pipes.values() {
        let _ = p.shutdown.send(true);
    }
    for (_, p) in pipes.drain() {
        let _ = p.task.await;
    }
}

/// This server in a topology (several servers on one shared store): its name and priority (Ping's
/// `sync-server-priority-index`: the lower, the more preferred).
#[derive(Clone, Debug)]
pub struct TopologyMember {
    pub name: String,
    pub priority: i64,
    /// Free text for `status` (host, pid).
    pub detail: String,
}

/// How long a pipe's lease lasts unless renewed (renewed every [`RENEW_EVERY`]): a server that stops renewing
/// (killed, cut off from the store) loses its pipes to another within this time.
pub const LEASE_TTL: Duration = Duration::from_secs(5);
const RENEW_EVERY: Duration = Duration::from_secs(1);

/// Runs the started pipes of one server root.
pub struct Supervisor<'a> {
    root: ServerRoot,
    builder: &'a dyn EndpointBuilder,
    errors: ErrorLog,
    watcher: Store,
    pipes: HashMap<String, RunningPipe>,
    /// How often the store is looked at for changes.
    pub poll: Duration,
    /// What runs, live (read by the HTTP side).
    monitor: Monitor,
    /// Receives each configuration loaded (the HTTP side follows it).
    configs: Option<watch::Sender<Arc<Config>>>,
    /// In a topology: this server, and the leases (epochs) of the pipes it holds.
    member: Option<TopologyMember>,
    leases: HashMap<String, i64>,
    /// When a store failure was last noted (topology members go on through them).
    last_trouble: Option<tokio::time::Instant>,
}

impl<'a> Supervisor<'a> {
    pub fn new(root: &ServerRoot, builder: &'a dyn EndpointBuilder) -> Result<Supervisor<'a>, SupervisorError> {
        Ok(Supervisor {
            root: root.clone(),
            builder,
            errors: ErrorLog::of_root(root),
            watcher: Store::open(root)?,
            pipes: HashMap::new(),
            poll: Duration::from_millis(250),
            monitor: Monitor::default(),
            configs: None,
            member: None,
            leases: HashMap::new(),
            last_trouble: None,
        })
    }

    /// Runs as `member` of a topology: it heartbeats in the store, and runs a started pipe only while it holds
    /// the pipe's lease, which it takes when no live server of a better priority is there to take it.
    pub fn in_topology(mut self, member: TopologyMember) -> Self {
        self.member = Some(member);
        self
    }

    /// Keeps `monitor` up to date with the pipes that run and why others do not.
    pub fn with_monitor(mut self, monitor: Monitor) -> Self {
        self.monitor = monitor;
        self
    }

    /// Sends each configuration loaded (at the start and after every change) to `configs`.
    pub fn with_config_watch(mut self, configs: watch::Sender<Arc<Config>>) -> Self {
        self.configs = Some(configs);
        self
    }

    fn note(&self, severity: Severity, pipe: Option<&str>, msg: &str) {
        if let Err(e) = self.errors.write(Category::Sync, severity, pipe, msg) {
            crate::synclog::warn_elsewhere(&format!("cannot write {}: {e}", self.errors.path().display()));
        }
    }

    /// Starts pipe `name`, or records why it cannot start.
    fn start_pipe(&mut self, config: &Config, log: &Arc<SyncLog>, name: &str) {
        let lease = match &self.member {
            Some(m) => match self.leases.get(name) {
                Some(epoch) => Some((m.name.as_str(), *epoch)),
                // Another server runs it.
                None => return,
            },
            None => None,
        };
        match build_runner_under(&self.root, config, name, log.clone(), self.builder, lease) {
            Ok(runner) => {
                let (tx, rx) = watch::channel(false);
                let task_errors = self.errors.clone();
                let pipe_name = name.to_string();
                let monitor = self.monitor.clone();
                monitor.started(name, runner.stats.clone());
                let task = tokio::spawn(async move {
                    match runner.run(rx).await {
                        Err(e) => {
                            let msg = format!("the pipe stopped: {e}");
                            monitor.failed(&pipe_name, &msg);
                            let _ = task_errors.write(Category::Sync, Severity::SevereError, Some(&pipe_name), &msg);
                        }
                        Ok(()) => monitor.stopped(&pipe_name),
                    }
                });
                self.note(Severity::Notice, Some(name), "started");
                self.pipes.insert(name.to_string(), RunningPipe { shutdown: tx, task });
            }
            Err(e) => {
                let msg = chain(e.as_ref());
                self.note(Severity::SevereError, Some(name), &format!("cannot start: {msg}"));
                crate::synclog::warn_elsewhere(&format!("pipe {name}: cannot start: {msg}"));
                self.monitor.failed(name, &format!("cannot start: {msg}"));
                let snap = StatsSnapshot { last_error: Some(format!("cannot start: {msg}")), ..Default::default() };
                if let Ok(json) = serde_json::to_string(&snap) {
                    let _ = self.watcher.set_stats(name, &json);
                }
            }
        }
    }

    /// Whether pipe `name` runs under `config`.
    fn should_run(config: &Config, name: &str) -> bool {
        let global = crate::settings::GlobalSyncSettings::of(config).map(|g| g.started).unwrap_or(true);
        global && crate::settings::SyncPipeSettings::of(config, name).is_ok_and(|p| p.started)
    }

    /// Applies the start point requests that wait: each pipe named is stopped (its changes in flight finished
    /// and saved), moved to the requested start point, and started again when it ran.
    async fn apply_start_point_requests(&mut self) -> Result<(), SupervisorError> {
        let requests = self.watcher.start_point_requests()?;
        if requests.is_empty() {
            return Ok(());
        }
        let config = self.watcher.load()?;
        let log = Arc::new(SyncLog::from_config(&config, &self.root));
        for (pipe, start_point) in requests {
            // The pipe's name as configured (requests name it as the operator typed it).
            let running = self.pipes.keys().find(|k| k.eq_ignore_ascii_case(&pipe)).cloned();
            if let Some(name) = &running {
                if let Some(p) = self.pipes.remove(name) {
                    p.stop().await;
                }
            }
            self.watcher.apply_start_point_request(&pipe, &start_point)?;
            // Deletes the mass-delete guard held are behind or past the new start point: none is held now.
            if self.watcher.deletes_held(&pipe)?.is_some() {
                self.watcher.settle_delete_release(&pipe)?;
                self.note(Severity::Notice, Some(&pipe), "the new start point ends the hold of the mass-delete guard");
            }
            self.note(Severity::Notice, Some(&pipe), &format!("the start point was set to {start_point}"));
            if let Some(name) = running {
                if Self::should_run(&config, &name) {
                    self.start_pipe(&config, &log, &name);
                }
            }
        }
        Ok(())
    }

    /// A store failure of a topology member, noted once per minute at most (the server goes on and retries).
    fn store_trouble(&mut self, e: &SupervisorError) {
        let now = tokio::time::Instant::now();
        if self.last_trouble.is_some_and(|t| now.duration_since(t) < Duration::from_secs(60)) {
            return;
        }
        self.last_trouble = Some(now);
        self.note(Severity::SevereWarning, None, &format!("the store cannot be reached, tried again: {e}"));
    }

    /// One round of a topology member: heartbeat, then renew the leases of the pipes it runs and take those
    /// placed on it (see [`super::placement`]: the best priority first, pipes spread between servers of one
    /// priority) once no other server holds them; a pipe whose lease is lost, or placed on another live server
    /// (a preferred one came back, or one more server shares the work), stops at once, a pipe whose lease is won
    /// starts.
    async fn lease_round(&mut self, config: &Config, log: &Arc<SyncLog>) -> Result<(), SupervisorError> {
        let Some(me) = self.member.clone() else { return Ok(()) };
        self.watcher.heartbeat(&me.name, me.priority, &me.detail)?;
        let topology = self.watcher.topology()?;
        let live = |heartbeat_ms: i64| topology.now_ms - heartbeat_ms < LEASE_TTL.as_millis() as i64;
        let mut candidates: Vec<Candidate> = topology
            .servers
            .iter()
            .filter(|s| s.name != me.name && live(s.heartbeat_ms))
            .map(|s| Candidate { name: &s.name, priority: s.priority })
            .collect();
        candidates.push(Candidate { name: &me.name, priority: me.priority });
        let names: Vec<String> = config
            .all("sync-pipe")
            .iter()
            .map(|p| p.name().to_string())
            .filter(|n| Self::should_run(config, n))
            .collect();
        let placement = super::placement::place(&names, &candidates);
        for name in &names {
            let held = self.leases.get(name).copied();
            let holder = topology.leases.iter().find(|l| &l.pipe == name);
            let placed_on = placement.get(name).copied().unwrap_or(me.name.as_str());
            if placed_on != me.name {
                // Placed on another live server: hand it over, once (that server takes it next round).
                if let Some(p) = self.pipes.remove(name) {
                    p.stop().await;
                }
                if let Some(epoch) = self.leases.remove(name) {
                    self.watcher.release_lease(name, &me.name, epoch)?;
                    self.note(
                        Severity::Notice,
                        Some(name),
                        &format!("handed to server {placed_on}, where the topology places it (priority, then spread)"),
                    );
                }
                continue;
            }
            let free = holder.is_none_or(|l| {
                l.holder.is_none() || l.expires_ms <= topology.now_ms || l.holder.as_deref() == Some(&me.name)
            });
            if held.is_none() && !free {
                continue;
            }
            match self.watcher.acquire_lease(name, &me.name, LEASE_TTL)? {
                Some(epoch) if held == Some(epoch) => {}
                Some(epoch) => {
                    if let Some(p) = self.pipes.remove(name) {
                        p.stop().await;
                    }
                    self.leases.insert(name.clone(), epoch);
                    self.note(
                        Severity::Notice,
                        Some(name),
                        &format!("this server ({}) took the pipe's lease (epoch {epoch})", me.name),
                    );
                    self.start_pipe(config, log, name);
                }
                None => {
                    if self.leases.remove(name).is_some() {
                        if let Some(p) = self.pipes.remove(name) {
                            p.stop().await;
                        }
                        self.note(
                            Severity::SevereWarning,
                            Some(name),
                            "the pipe's lease went to another server: it stops here",
                        );
                    }
                }
            }
        }
        // Pipes no longer started: their leases go.
        let gone: Vec<String> = self.leases.keys().filter(|n| !names.contains(n)).cloned().collect();
        for name in gone {
            if let Some(epoch) = self.leases.remove(&name) {
                let _ = self.watcher.release_lease(&name, &me.name, epoch);
            }
        }
        Ok(())
    }

    /// Runs until `shutdown` completes; then stops every pipe (changes in flight are finished, start points
    /// saved).
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), SupervisorError> {
        tokio::pin!(shutdown);
        let mut generation = -1;
        let mut retry_at = tokio::time::Instant::now();
        let mut renew_at = tokio::time::Instant::now();
        let mut renewed = tokio::time::Instant::now();
        let mut current: Option<(Arc<Config>, Arc<SyncLog>)> = None;
        let result = loop {
            if let Err(e) = self.apply_start_point_requests().await {
                // In a topology the store is a database server that may be out of reach for a while: the
                // server stays up (its leases run out, another server takes over) and tries again.
                if self.member.is_none() {
                    break Err(e);
                }
                self.store_trouble(&e);
            }
            let g = self.watcher.generation().unwrap_or(generation);
            // Rebuild the pipes when the configuration (or a start point) changed, and every 30 s while a pipe
            // had stopped.
            let failed_any = self.pipes.values().any(|p| p.task.is_finished());
            if g != generation || (failed_any && tokio::time::Instant::now() >= retry_at) {
                let config = match self.watcher.load() {
                    Ok(c) => c,
                    Err(e) if self.member.is_some() => {
                        self.store_trouble(&SupervisorError::from(e));
                        tokio::select! {
                            _ = &mut shutdown => break Ok(()),
                            _ = tokio::time::sleep(self.poll) => {}
                        }
                        continue;
                    }
                    Err(e) => break Err(e.into()),
                };
                stop_all(&mut self.pipes).await;
                generation = g;
                retry_at = tokio::time::Instant::now() + Duration::from_secs(30);
                let _ = self.watcher.clear_stats();
                let log = Arc::new(SyncLog::from_config(&config, &self.root));
                let names: Vec<String> = config
                    .all("sync-pipe")
                    .iter()
                    .map(|p| p.name().to_string())
                    .filter(|n| Self::should_run(&config, n))
                    .collect();
                self.monitor.expect(&names);
                for name in &names {
                    self.start_pipe(&config, &log, name);
                }
                let config = Arc::new(config);
                if let Some(tx) = &self.configs {
                    tx.send_replace(config.clone());
                }
                current = Some((config, log));
            }
            if self.member.is_some() && tokio::time::Instant::now() >= renew_at {
                renew_at = tokio::time::Instant::now() + RENEW_EVERY;
                if let Some((config, log)) = current.clone() {
                    match self.lease_round(&config, &log).await {
                        Ok(()) => renewed = tokio::time::Instant::now(),
                        Err(e) => {
                            // The store cannot be reached: tried again next round. Once the leases may have run
                            // out, this server's pipes stop (another server may run them now; their writes would
                            // be refused anyway).
                            self.store_trouble(&e);
                            if renewed.elapsed() >= LEASE_TTL && !self.leases.is_empty() {
                                stop_all(&mut self.pipes).await;
                                self.leases.clear();
                                self.note(
                                    Severity::SevereWarning,
                                    None,
                                    "this server's leases ran out while the store could not be reached: its pipes stop until it holds them again",
                                );
                            }
                        }
                    }
                }
            }
            tokio::select! {
                _ = &mut shutdown => break Ok(()),
                _ = tokio::time::sleep(self.poll) => {}
            }
        };
        stop_all(&mut self.pipes).await;
        // A server that stops hands its pipes over at once (the others need not wait for the leases to run out).
        if let Some(me) = &self.member {
            for (pipe, epoch) in self.leases.drain() {
                let _ = self.watcher.release_lease(&pipe, &me.name, epoch);
            }
            // Out of the topology until it starts again, so that servers of a worse priority take over now.
            let _ = self.watcher.forget_server(&me.name);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use tokio::sync::mpsc;

    use super::*;
    use crate::endpoint::{Change, Correlated, EndpointResult, Modification, StartPoint, StartPointRequest};
    use crate::entry::Entry;

    struct NoSource;
    #[async_trait]
    impl EntrySource for NoSource {
        fn name(&self) -> &str {
            "s"
        }
        async fn fetch(&self, _dn: &str) -> EndpointResult<Option<Entry>> {
            Ok(None)
        }
        async fn fetch_by_unique_id(&self, _id: &str) -> EndpointResult<Option<Entry>> {
            Ok(None)
        }
        fn unique_id(&self, _entry: &Entry) -> Option<String> {
            None
        }
        async fn stream(&self, _f: Option<&str>, _tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
            Ok(())
        }
    }

    struct NoDestination;
    #[async_trait]
    impl Destination for NoDestination {
        fn name(&self) -> &str {
            "d"
        }
        async fn correlate(&self, _m: &Entry, _l: &[Vec<String>], _a: &[String]) -> EndpointResult<Correlated> {
            Ok(Correlated::None)
        }
        async fn fetch(&self, _id: &str, _attrs: &[String]) -> EndpointResult<Option<Entry>> {
            Ok(None)
        }
        async fn create(&self, _entry: &Entry) -> EndpointResult<()> {
            Ok(())
        }
        async fn modify(&self, _id: &str, _mods: &[Modification]) -> EndpointResult<()> {
            Ok(())
        }
        async fn rename(&self, _id: &str, new_dn: &str) -> EndpointResult<String> {
            Ok(new_dn.to_string())
        }
        async fn delete(&self, _id: &str) -> EndpointResult<()> {
            Ok(())
        }
        async fn stream(&self, _attrs: &[String], _tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
            Ok(())
        }
    }

    /// A change log with no changes whose position keeps moving while the pipe is idle from an `old-N` start
    /// point (as DirSync's and PingOne's do), so a running pipe saves its own position all the time.
    #[derive(Default)]
    struct MovingLog {
        polled: Mutex<Vec<String>>,
    }
    #[async_trait]
    impl ChangeDetector for MovingLog {
        async fn start_point(&self, _r: &StartPointRequest) -> EndpointResult<StartPoint> {
            Ok(StartPoint("old-0".into()))
        }
        async fn poll(&self, after: &StartPoint, _max: usize, _wait: Duration) -> EndpointResult<Vec<Change>> {
            self.polled.lock().unwrap().push(after.as_str().to_string());
            Ok(Vec::new())
        }
        async fn idle_start_point(&self, after: &StartPoint) -> Option<StartPoint> {
            let n: u64 = after.as_str().strip_prefix("old-")?.parse().ok()?;
            Some(StartPoint(format!("old-{}", n + 1)))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_requested_start_point_reaches_a_running_pipe_and_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let root = ServerRoot::new(dir.path());
        let mut store = Store::open(&root).unwrap();
        crate::dsconfig::apply_batch_text(
            &mut store,
            "test",
            "dsconfig create-external-server --server-name src --type ping-identity-ds --set server-host-name:src.example.com\n\
             dsconfig create-external-server --server-name dst --type ping-identity-ds --set server-host-name:dst.example.com\n\
             dsconfig create-sync-source --source-name s --type ping-identity --set base-dn:dc=example,dc=com --set server:src\n\
             dsconfig create-sync-destination --destination-name d --type ping-identity --set base-dn:o=example --set server:dst\n\
             dsconfig create-sync-pipe --pipe-name p --set sync-source:s --set sync-destination:d --set started:true\n",
            Default::default(),
        )
        .unwrap();
        let log = Arc::new(MovingLog::default());
        let detector = log.clone();
        let builder = move |_: &Config, _: &SecretBox, _: &ServerRoot, _: &str, _: &PipeMapping| {
            Ok::<_, BuildError>(PipeEndpoints {
                source: Arc::new(NoSource),
                destination: Arc::new(NoDestination),
                detector: detector.clone(),
            })
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let supervisor = Supervisor::new(&root, &builder).unwrap();
        let root2 = root.clone();
        let check = async move {
            let store = Store::open(&root2).unwrap();
            // The pipe runs and saves its own, moving, position.
            let moved = async {
                loop {
                    if store.start_point("p").unwrap().is_some_and(|s| s != "old-0" && s.starts_with("old-")) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(10), moved).await.expect("the pipe saves its position");
            store.request_start_point("p", "requested").unwrap();
            let taken = async {
                while store.start_point_requested("p").unwrap().is_some() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(10), taken).await.expect("the supervisor takes the request");
            // The pipe, restarted, reads from the requested start point, and nothing overwrites it (the pipe
            // polls every 500 ms and would save a moved position within that).
            tokio::time::sleep(Duration::from_millis(2000)).await;
            assert_eq!(store.start_point("p").unwrap().as_deref(), Some("requested"));
            let _ = stop.send(());
        };
        let (result, ()) = tokio::join!(
            supervisor.run(async {
                let _ = stopped.await;
            }),
            check
        );
        result.unwrap();
        let polled = log.polled.lock().unwrap();
        assert!(polled.iter().any(|p| p == "requested"), "{polled:?}");
        let first_requested = polled.iter().position(|p| p == "requested").unwrap();
        assert!(polled[first_requested..].iter().all(|p| p == "requested"), "{polled:?}");
        assert_eq!(Store::open(&root).unwrap().start_point("p").unwrap().as_deref(), Some("requested"));
    }
}
