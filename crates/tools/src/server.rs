//! The sync server: `start-server` (in the background, pid file and log under `logs/`), `stop-server`
//! (graceful: in-flight changes finish and start points are saved) and `status`. The server runs every
//! started pipe and reloads the configuration within a second of any change made with dsconfig or
//! realtime-sync; its HTTP side (`ferrosync-http`: connection handlers, the control socket) follows each
//! configuration loaded. `status` shows the live figures from the control socket, else the saved snapshot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use ferrosync::engine::monitor::Monitor;
use ferrosync::engine::realtime::StatsSnapshot;
use ferrosync::engine::supervisor::{BuildError, PipeEndpoints, Supervisor};
use ferrosync::errorlog::{Category, ErrorLog, Severity};
use ferrosync::private_file;
use ferrosync::server_lock::{self, LockError, ServerLock, ServerState};
use ferrosync::store::ServerRoot;

use crate::{cli, endpoints};

/// Options shared by the server tools.
#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
pub struct ServerArgs {
    /// The server root.
    #[arg(long = "server-root", value_name = "DIR")]
    pub server_root: Option<String>,
    /// The store: 'sqlite' (SERVER-ROOT/config/config.db) or postgresql://USER@HOST:PORT/DB?passfile=FILE (default:
    /// $FERROSYNC_STORE, else the one SERVER-ROOT/config/store names, else sqlite).
    #[arg(long = "store", value_name = "URL")]
    pub store: Option<String>,
    /// Run in the foreground (start-server only; this is what the background process runs).
    #[arg(long = "foreground", short = 'N', alias = "nodetach")]
    pub foreground: bool,
    /// This server's name in a topology of servers sharing one PostgreSQL store (start-server only; default:
    /// $FERROSYNC_SERVER_NAME). Without it the server runs every started pipe on its own.
    #[arg(long = "server-name", value_name = "NAME")]
    pub server_name: Option<String>,
    /// Ping's sync-server-priority-index in a topology: the lower, the more preferred (start-server only;
    /// default: $FERROSYNC_SERVER_PRIORITY, else 1).
    #[arg(long = "priority-index", value_name = "N")]
    pub priority_index: Option<i64>,
    /// Tab-separated output (status only).
    #[arg(long = "script-friendly", short = 's')]
    pub script_friendly: bool,
    /// Never prompt.
    #[arg(long = "no-prompt", short = 'n')]
    pub no_prompt: bool,
    /// Print this help.
    #[arg(long = "help", short = 'H', action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// The pid of the running server, when there is one: the process that holds the server root's lock.
pub fn running_pid(root: &ServerRoot) -> Option<i32> {
    match server_lock::probe(root) {
        Ok(ServerState::Running(pid)) => pid,
        _ => None,
    }
}

/// `start-server`.
pub fn start(args: ServerArgs) -> anyhow::Result<()> {
    let root = cli::server_root(args.server_root.as_deref(), args.store.as_deref())?;
    cli::open_store(&root)?;
    let member = topology_member(&args)?;
    if args.foreground {
        return run_foreground(root, member);
    }
    // A server killed a moment ago may still hold the lock while its threads exit: that is waited for.
    if let ServerState::Running(pid) = server_lock::probe_settled(&root, Duration::from_secs(5))? {
        bail!("{}; stop it with stop-server", LockError::Held { root: root.path().to_path_buf(), pid });
    }
    let out_path = root.logs_dir().join("server.out");
    let out = private_file::open(&out_path, private_file::How::Append)
        .with_context(|| format!("cannot open {}", out_path.display()))?;
    let err = out.try_clone()?;
    let exe = std::env::current_exe().context("cannot find the start-server program")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--foreground").arg("--server-root").arg(root.path());
    if let Some(m) = &member {
        cmd.arg("--server-name").arg(&m.name).arg("--priority-index").arg(m.priority.to_string());
    }
    // The store as this process resolved it (the URL holds no password), through the environment.
    cmd.env(cli::STORE_ENV, root.store()?.to_string());
    cmd.stdin(std::process::Stdio::null()).stdout(out).stderr(err);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().context("cannot start the sync server process")?;
    let pid = child.id() as i32;
    // Wait until it has written its pid file, or died.
    for _ in 0..200 {
        if running_pid(&root) == Some(pid) {
            cli::out(&format!(
                "The sync server started in {} (pid {pid}).\nIts messages are in {}, the synchronized changes in {}.\n",
                root.path().display(),
                out_path.display(),
                root.logs_dir().join("sync").display()
            ))?;
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Another start-server won the lock meanwhile: this one's process found it held and stopped.
            if let Ok(ServerState::Running(other)) = server_lock::probe(&root) {
                bail!("{}; stop it with stop-server", LockError::Held { root: root.path().to_path_buf(), pid: other });
            }
            let tail = std::fs::read_to_string(&out_path).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(10).collect();
            bail!(
                "the sync server stopped at once ({status}); the end of {}:\n{}",
                out_path.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the sync server did not start within 10 s; see {}", out_path.display())
}

/// `stop-server`: asks the server to stop and waits until it has. Only the process that holds the server root's
/// lock is signalled: a pid file left by a server that was killed may name another process by now.
pub fn stop(args: ServerArgs) -> anyhow::Result<()> {
    let root = cli::server_root(args.server_root.as_deref(), args.store.as_deref())?;
    let pid = match server_lock::probe(&root)? {
        ServerState::Running(Some(pid)) => pid,
        ServerState::Running(None) => {
            bail!("the sync server in {} is still starting; try again", root.path().display())
        }
        ServerState::Stale(pid) => {
            return cli::out(&format!(
                "The sync server is not running in {} (the pid file names pid {pid}, a server that ended without stopping: that process was not signalled).\n",
                root.path().display()
            ));
        }
        ServerState::Stopped => {
            return cli::out(&format!("The sync server is not running in {}.\n", root.path().display()));
        }
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)
        .with_context(|| format!("cannot signal the sync server (pid {pid})"))?;
    for _ in 0..1200 {
        if running_pid(&root).is_none() {
            return cli::out("The sync server stopped: changes in flight were finished and start points saved.\n");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the sync server (pid {pid}) did not stop within 60 s")
}

/// `status`: the server and each pipe's counters.
pub fn status(args: ServerArgs) -> anyhow::Result<()> {
    let root = cli::server_root(args.server_root.as_deref(), args.store.as_deref())?;
    let store = cli::open_store(&root)?;
    let config = store.load()?;
    let topology = store.topology().unwrap_or_default();
    let state = server_lock::probe(&root)?;
    let pid = match state {
        ServerState::Running(pid) => Some(pid.unwrap_or(0)),
        _ => None,
    };
    let server_status = match state {
        ServerState::Running(Some(p)) => format!("running (pid {p})"),
        ServerState::Running(None) => "starting".into(),
        ServerState::Stale(p) => format!("stopped (stale pid file: pid {p} does not hold the server lock)"),
        ServerState::Stopped => "stopped".into(),
    };
    let stats: HashMap<String, (StatsSnapshot, String)> = store
        .all_stats()?
        .into_iter()
        .filter_map(|(p, json, when)| serde_json::from_str(&json).ok().map(|s| (p.to_lowercase(), (s, when))))
        .collect();
    // Live figures from the running server, else the snapshot it saved (every 250 ms while it ran).
    let live = pid.map(|_| live_figures(&root));
    let figures = match &live {
        Some(Ok(_)) => "live, from the running server".to_string(),
        Some(Err(e)) => format!("saved snapshot (the running server did not answer: {e:#})"),
        None => match stats.values().map(|(_, when)| when.as_str()).max() {
            Some(when) => format!("saved snapshot of {when} (the server is not running)"),
            None => "none (the server is not running)".to_string(),
        },
    };
    let live = live.and_then(Result::ok);
    let mut rows: Vec<(String, Vec<(&str, String)>)> = Vec::new();
    for p in config.all("sync-pipe") {
        let configured =
            ferrosync::settings::SyncPipeSettings::read(&ferrosync::settings::Reader::new(p)).is_ok_and(|s| s.started);
        let live_pipe = live.as_ref().and_then(|v| v.pipe(p.name()));
        let saved = stats.get(&p.name().to_lowercase());
        let s = match live_pipe {
            Some(lp) => {
                let mut s = lp.snapshot.clone();
                s.last_error = s.last_error.or_else(|| lp.failure.clone());
                s
            }
            None => saved.map(|(s, _)| s.clone()).unwrap_or_default(),
        };
        let running = match (&live, live_pipe) {
            (Some(_), Some(lp)) => lp.running && configured,
            (Some(_), None) => false,
            (None, _) => pid.is_some() && saved.is_some() && configured,
        };
        let mut fields = vec![
            (
                "Started",
                if running {
                    "true".to_string()
                } else if configured {
                    "true (server not running)".into()
                } else {
                    "false".into()
                },
            ),
            ("Current Ops Per Second", format!("{}", s.ops_per_second)),
            (
                "Percent Busy",
                live_pipe.filter(|lp| lp.running).map_or("-".to_string(), |lp| format!("{}", lp.percent_busy)),
            ),
            ("Changes Detected", s.changes_detected.to_string()),
            ("Ops Completed Total", s.ops_completed.to_string()),
            ("Success", (s.created + s.modified + s.deleted).to_string()),
            ("  Created / Modified / Deleted", format!("{} / {} / {}", s.created, s.modified, s.deleted)),
            ("No Change Needed", s.no_change_needed.to_string()),
            ("Out Of Scope", s.out_of_scope.to_string()),
            ("Op Type Not Synced", s.op_type_not_synchronized.to_string()),
            ("No Match Found", s.no_match_found.to_string()),
            ("Multiple Matches Found", s.multiple_matches_found.to_string()),
            ("Failed During Mapping", s.failed_during_mapping.to_string()),
            ("Failed At Resource", s.failed_at_resource.to_string()),
            ("Num Ops In Flight", s.in_flight.to_string()),
            ("Num Ops In Queue", s.queued.to_string()),
            ("Source Unretrieved Changes", s.unretrieved_changes.to_string()),
            ("Lag (seconds)", format!("{:.1}", s.lag_ms as f64 / 1000.0)),
            ("Failed Op Attempts", s.failed_attempts.to_string()),
            ("Poll For Source Changes Count", s.polls.to_string()),
            (
                "Start Point",
                if s.start_point.is_empty() {
                    store.start_point(p.name())?.unwrap_or_else(|| "-".into())
                } else {
                    s.start_point.clone()
                },
            ),
        ];
        if let Some(why) = &s.waiting_for_endpoint {
            fields.push((
                "Waiting For Endpoint",
                format!("for {:.1} s, {} attempt(s): {why}", s.waiting_ms as f64 / 1000.0, s.waiting_attempts),
            ));
        }
        if let Some(alert) = &s.mass_delete_alert {
            fields.push(("Deletes Held", format!("{} now: {alert}", s.deletes_held)));
        }
        if s.background_retries > 0 || s.awaiting_background_retry > 0 {
            fields.push((
                "Failed Op Background Retries",
                format!("{} ({} waiting now)", s.background_retries, s.awaiting_background_retry),
            ));
        }
        if let Some(e) = &s.last_error {
            fields.push(("Last Error", e.clone()));
        }
        if let Some(e) = &s.log_error {
            fields.push(("Log Write Error", e.clone()));
        }
        if let Some(l) = topology.leases.iter().find(|l| l.pipe.eq_ignore_ascii_case(p.name())) {
            let on = match &l.holder {
                Some(h) if l.expires_ms > topology.now_ms => format!("{h} (lease epoch {})", l.epoch),
                Some(h) => format!("nobody now ({h}'s lease of epoch {} ran out)", l.epoch),
                None => format!("nobody now (released in epoch {})", l.epoch),
            };
            fields.push(("Runs On", on));
        }
        rows.push((p.name().to_string(), fields));
    }
    // Servers of a topology sharing this store: name, priority, seconds since their heartbeat.
    let servers: Vec<(String, i64, f64, String)> = topology
        .servers
        .iter()
        .map(|s| (s.name.clone(), s.priority, (topology.now_ms - s.heartbeat_ms) as f64 / 1000.0, s.detail.clone()))
        .collect();
    let mut out = String::new();
    if args.script_friendly {
        out.push_str(&format!(
            "server\t{}\n",
            match state {
                ServerState::Running(p) => format!("running\t{}", p.unwrap_or(0)),
                ServerState::Stale(p) => format!("stopped\tstale-pid-file\t{p}"),
                ServerState::Stopped => "stopped".into(),
            }
        ));
        out.push_str(&format!("figures\t{figures}\n"));
        for (name, priority, age, detail) in &servers {
            out.push_str(&format!("topology-server\t{name}\t{priority}\t{age:.1}\t{detail}\n"));
        }
        for h in live.iter().flat_map(|v| &v.handlers) {
            out.push_str(&format!("handler\t{}\t{}\n", h.name, handler_state(h)));
        }
        for (pipe, fields) in &rows {
            for (k, v) in fields {
                out.push_str(&format!("{pipe}\t{}\t{v}\n", k.trim()));
            }
        }
        return cli::out(&out);
    }
    out.push_str(&format!(
        "          --- Sync Server ---\nServer root : {}\nStatus      : {}\nFigures     : {figures}\n",
        root.path().display(),
        server_status
    ));
    for h in live.iter().flat_map(|v| &v.handlers) {
        out.push_str(&format!("{} : {}\n", h.name, handler_state(h)));
    }
    out.push('\n');
    if !servers.is_empty() {
        out.push_str("          --- Topology ---\n");
        for (name, priority, age, detail) in &servers {
            let state = if *age < ferrosync::engine::supervisor::LEASE_TTL.as_secs_f64() { "alive" } else { "gone" };
            out.push_str(&format!("{name} : priority {priority}, {state}, heartbeat {age:.1} s ago ({detail})\n"));
        }
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("No sync pipes are configured.\n");
    }
    for (pipe, fields) in rows {
        out.push_str(&format!("          --- Sync Pipe: {pipe} ---\n"));
        let w = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in fields {
            out.push_str(&format!("{k:<w$} : {v}\n"));
        }
        out.push('\n');
    }
    cli::out(&out)
}

/// The live figures of the server running in `root`, through its control socket (2 s at most).
fn live_figures(root: &ServerRoot) -> anyhow::Result<ferrosync::engine::monitor::MonitorView> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match tokio::time::timeout(Duration::from_secs(2), ferrosync_http::control::live(root)).await {
            Ok(r) => Ok(r?),
            Err(_) => anyhow::bail!("no answer within 2 s on {}", ferrosync_http::control::path(root).display()),
        }
    })
}

fn handler_state(h: &ferrosync::engine::monitor::HandlerView) -> String {
    match (&h.url, &h.error) {
        (Some(url), _) => format!("listening on {url}"),
        (None, Some(e)) => format!("not listening: {e}"),
        (None, None) => "not listening".into(),
    }
}

/// The endpoints of a pipe, from the tools' endpoint builders (the supervisor in the library takes them).
fn build_endpoints(
    config: &ferrosync::config::Config,
    secrets: &ferrosync::secret::SecretBox,
    root: &ServerRoot,
    pipe: &str,
    mapping: &ferrosync::mapping::PipeMapping,
) -> Result<PipeEndpoints, BuildError> {
    let build = || -> anyhow::Result<PipeEndpoints> {
        let source_name = ferrosync::settings::SyncPipeSettings::of(config, pipe)?.sync_source;
        let (source, destination) = endpoints::build_pair(config, secrets, root, pipe, mapping)?;
        let detector = endpoints::build_detector(config, secrets, root, pipe, &source_name)
            .with_context(|| format!("cannot read the changes of the sync source '{source_name}'"))?;
        Ok(PipeEndpoints { source, destination, detector })
    };
    build().map_err(BuildError::from)
}

/// The server process itself.
/// Rotates `server.out` by the error logger's rotation and retention policies while this process writes its
/// standard output and error there (as start-server sets it up): checked every second, the new file put in
/// place of both.
async fn rotate_server_out(
    path: std::path::PathBuf,
    configs: tokio::sync::watch::Receiver<Arc<ferrosync::config::Config>>,
) {
    let mut started = std::time::SystemTime::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ours = nix::sys::stat::fstat(std::io::stdout()).ok().map(|s| s.st_ino);
        let on_disk = std::fs::metadata(&path).ok().map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        if ours.is_none() || ours != on_disk {
            // Run by hand (a terminal), or server.out was moved away: nothing of ours to rotate.
            continue;
        }
        let policies = ferrosync::settings::LogPublisherSettings::error_log_policies(&configs.borrow().clone());
        match ferrosync::logfile::rotate_held(&path, &policies, started) {
            Ok(Some(file)) => {
                let _ = std::io::Write::flush(&mut std::io::stdout());
                if let Err(e) = nix::unistd::dup2_stdout(&file).and_then(|()| nix::unistd::dup2_stderr(&file)) {
                    eprintln!("cannot write the new {}: {e}", path.display());
                }
                started = std::time::SystemTime::now();
            }
            Ok(None) => {}
            Err(e) => eprintln!("cannot rotate {}: {e}", path.display()),
        }
    }
}

/// This server's place in a topology, from `--server-name`/`--priority-index` or the environment.
fn topology_member(args: &ServerArgs) -> anyhow::Result<Option<ferrosync::engine::supervisor::TopologyMember>> {
    let name = args
        .server_name
        .clone()
        .or_else(|| std::env::var("FERROSYNC_SERVER_NAME").ok())
        .filter(|n| !n.trim().is_empty());
    let Some(name) = name else { return Ok(None) };
    let priority = match args.priority_index {
        Some(p) => p,
        None => match std::env::var("FERROSYNC_SERVER_PRIORITY") {
            Ok(v) => v.trim().parse().map_err(|_| {
                cli::Usage(format!("FERROSYNC_SERVER_PRIORITY '{v}' is not a number: expected an integer such as 1"))
            })?,
            Err(_) => 1,
        },
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let detail = format!("host {}, pid {}", host.trim(), std::process::id());
    Ok(Some(ferrosync::engine::supervisor::TopologyMember { name, priority, detail }))
}

fn run_foreground(
    root: ServerRoot,
    member: Option<ferrosync::engine::supervisor::TopologyMember>,
) -> anyhow::Result<()> {
    // Held until this function returns (or the process ends): one server per server root.
    let lock = ServerLock::acquire(&root)?;
    let pid = lock.pid();
    let errors = ErrorLog::of_root(&root);
    let note = |msg: &str| {
        if let Err(e) = errors.write(Category::Core, Severity::Notice, None, msg) {
            eprintln!("cannot write {}: {e}", errors.path().display());
        }
    };
    note(&format!("The sync server started (pid {pid})"));
    println!("sync server started (pid {pid})");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        // The HTTP side follows each configuration the supervisor loads, and reads the monitor it keeps.
        let monitor = Monitor::new();
        let (configs, followed) = tokio::sync::watch::channel(Arc::new(ferrosync::config::Config::default()));
        let (stop_http, http_stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(rotate_server_out(root.logs_dir().join("server.out"), followed.clone()));
        let http = tokio::spawn(ferrosync_http::run(root.clone(), monitor.clone(), followed, http_stopped));
        let builder = build_endpoints;
        let supervised = match Supervisor::new(&root, &builder) {
            Ok(s) => {
                let s = s.with_monitor(monitor).with_config_watch(configs);
                let s = match member.clone() {
                    Some(m) => s.in_topology(m),
                    None => s,
                };
                s.run(shutdown).await
            }
            Err(e) => Err(e),
        };
        let _ = stop_http.send(true);
        let _ = http.await;
        supervised?;
        anyhow::Ok(())
    });
    note("The sync server stopped");
    println!("sync server stopped");
    drop(lock);
    result
}
