//! The sync server: `start-server` (in the background, pid file and log under `logs/`), `stop-server`
//! (graceful: in-flight changes finish and start points are saved) and `status`. The server runs every
//! started pipe and reloads the configuration within a second of any change made with dsconfig or
//! realtime-sync.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use ferrosync::engine::realtime::{PipeRunner, PipeSettings, PipeStats, StatsSnapshot};
use ferrosync::engine::Engine;
use ferrosync::mapping::PipeMapping;
use ferrosync::settings::{GlobalSyncSettings, Reader, SyncPipeSettings};
use ferrosync::store::{ServerRoot, Store, StoreWriter};
use ferrosync::synclog::SyncLog;
use tokio::sync::watch;

use crate::{cli, endpoints};

/// Options shared by the server tools.
#[derive(Parser, Debug)]
#[command(disable_help_flag = true)]
pub struct ServerArgs {
    /// The server root.
    #[arg(long = "server-root", value_name = "DIR")]
    pub server_root: Option<String>,
    /// Run in the foreground (start-server only; this is what the background process runs).
    #[arg(long = "foreground", short = 'N', alias = "nodetach")]
    pub foreground: bool,
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

fn pid_file(root: &ServerRoot) -> PathBuf {
    root.logs_dir().join("server.pid")
}

/// The pid of the running server, when there is one.
pub fn running_pid(root: &ServerRoot) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file(root)).ok()?.trim().parse().ok()?;
    // Signal 0 checks that the process exists; a zombie (exited, not yet reaped) does not count.
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(false);
    (alive && !zombie).then_some(pid)
}

/// The error log: the enabled `file-based-error` log publisher's file (relative to the server root); `None`
/// when that publisher is disabled. Read when the server starts.
fn error_log_path(root: &ServerRoot) -> Option<PathBuf> {
    let default = Some(root.logs_dir().join("errors"));
    let Ok(config) = Store::open(root).and_then(|s| s.load()) else { return default };
    let Ok(publishers) = ferrosync::settings::LogPublisherSettings::all(&config) else { return default };
    match publishers.into_iter().find(|p| p.kind == ferrosync::settings::LogPublisherKind::Error) {
        None => default,
        Some(p) if !p.enabled => None,
        Some(p) => Some(p.log_file.map(|f| root.resolve(&f)).unwrap_or_else(|| root.logs_dir().join("errors"))),
    }
}

fn append_log(path: &Option<PathBuf>, line: &str) {
    let Some(path) = path else { return };
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    if let Ok(mut f) = opts.open(path) {
        let _ = writeln!(f, "{} {line}", ferrosync::synclog::ping_timestamp());
    }
}

/// `start-server`.
pub fn start(args: ServerArgs) -> anyhow::Result<()> {
    let root = cli::server_root(args.server_root.as_deref())?;
    Store::open(&root).with_context(|| format!("cannot open the server root {}", root.path().display()))?;
    if args.foreground {
        return run_foreground(root);
    }
    if let Some(pid) = running_pid(&root) {
        bail!("the sync server is already running in {} (pid {pid}); stop it with stop-server", root.path().display());
    }
    let out_path = root.logs_dir().join("server.out");
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let out = opts.open(&out_path).with_context(|| format!("cannot open {}", out_path.display()))?;
    let err = out.try_clone()?;
    let exe = std::env::current_exe().context("cannot find the start-server program")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--foreground").arg("--server-root").arg(root.path());
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

/// `stop-server`: asks the server to stop and waits until it has.
pub fn stop(args: ServerArgs) -> anyhow::Result<()> {
    let root = cli::server_root(args.server_root.as_deref())?;
    let Some(pid) = running_pid(&root) else {
        return cli::out(&format!("The sync server is not running in {}.\n", root.path().display()));
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
    let root = cli::server_root(args.server_root.as_deref())?;
    let store = Store::open(&root).with_context(|| format!("cannot open the server root {}", root.path().display()))?;
    let config = store.load()?;
    let pid = running_pid(&root);
    let stats: HashMap<String, (StatsSnapshot, String)> = store
        .all_stats()?
        .into_iter()
        .filter_map(|(p, json, when)| serde_json::from_str(&json).ok().map(|s| (p.to_lowercase(), (s, when))))
        .collect();
    let mut rows: Vec<(String, Vec<(&str, String)>)> = Vec::new();
    for p in config.all("sync-pipe") {
        let configured = SyncPipeSettings::read(&Reader::new(p)).is_ok_and(|s| s.started);
        let snap = if pid.is_some() { stats.get(&p.name().to_lowercase()) } else { None };
        let s = snap.map(|(s, _)| s.clone()).unwrap_or_default();
        let running = pid.is_some() && snap.is_some() && configured;
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
        if let Some(e) = &s.last_error {
            fields.push(("Last Error", e.clone()));
        }
        rows.push((p.name().to_string(), fields));
    }
    let mut out = String::new();
    if args.script_friendly {
        out.push_str(&format!(
            "server\t{}\n",
            pid.map(|p| format!("running\t{p}")).unwrap_or_else(|| "stopped".into())
        ));
        for (pipe, fields) in &rows {
            for (k, v) in fields {
                out.push_str(&format!("{pipe}\t{}\t{v}\n", k.trim()));
            }
        }
        return cli::out(&out);
    }
    out.push_str(&format!(
        "          --- Sync Server ---\nServer root : {}\nStatus      : {}\n\n",
        root.path().display(),
        pid.map(|p| format!("running (pid {p})")).unwrap_or_else(|| "stopped".into())
    ));
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

/// The server process itself.
fn run_foreground(root: ServerRoot) -> anyhow::Result<()> {
    let pid = std::process::id();
    let pid_path = pid_file(&root);
    std::fs::write(&pid_path, format!("{pid}\n")).with_context(|| format!("cannot write {}", pid_path.display()))?;
    let errors = error_log_path(&root);
    append_log(&errors, &format!("category=CORE severity=NOTICE msg=\"The sync server started (pid {pid})\""));
    println!("sync server started (pid {pid})");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(supervise(root.clone()));
    let _ = std::fs::remove_file(&pid_path);
    if let Ok(store) = Store::open(&root) {
        let _ = store.clear_stats();
    }
    append_log(&errors, "category=CORE severity=NOTICE msg=\"The sync server stopped\"");
    println!("sync server stopped");
    result
}

struct RunningPipe {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

async fn stop_all(pipes: &mut HashMap<String, RunningPipe>) {
    for p in pipes.values() {
        let _ = p.shutdown.send(true);
    }
    for (_, p) in pipes.drain() {
        let _ = p.task.await;
    }
}

async fn supervise(root: ServerRoot) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let errors = error_log_path(&root);
    let mut pipes: HashMap<String, RunningPipe> = HashMap::new();
    let mut generation = -1;
    let mut retry_at = tokio::time::Instant::now();
    let watcher = Store::open(&root)?;
    loop {
        let g = watcher.generation().unwrap_or(generation);
        // Rebuild the pipes when the configuration (or a start point) changed, and every 30 s while a pipe
        // could not be built.
        let failed_any = pipes.values().any(|p| p.task.is_finished());
        if g != generation || (failed_any && tokio::time::Instant::now() >= retry_at) {
            stop_all(&mut pipes).await;
            generation = g;
            retry_at = tokio::time::Instant::now() + Duration::from_secs(30);
            let config = watcher.load()?;
            let _ = watcher.clear_stats();
            let global = GlobalSyncSettings::of(&config).map(|g| g.started).unwrap_or(true);
            let log = Arc::new(SyncLog::from_config(&config, &root));
            for p in config.all("sync-pipe") {
                if !global || !SyncPipeSettings::read(&Reader::new(p)).is_ok_and(|s| s.started) {
                    continue;
                }
                let name = p.name().to_string();
                match build_runner(&root, &config, &name, log.clone()) {
                    Ok(runner) => {
                        let (tx, rx) = watch::channel(false);
                        let task_errors = errors.clone();
                        let pipe_name = name.clone();
                        let task = tokio::spawn(async move {
                            if let Err(e) = runner.run(rx).await {
                                append_log(&task_errors, &format!("category=SYNC severity=SEVERE_ERROR pipe=\"{pipe_name}\" msg=\"the pipe stopped: {e}\""));
                            }
                        });
                        append_log(&errors, &format!("category=SYNC severity=NOTICE pipe=\"{name}\" msg=\"started\""));
                        pipes.insert(name, RunningPipe { shutdown: tx, task });
                    }
                    Err(e) => {
                        let msg = format!("{e:#}");
                        append_log(
                            &errors,
                            &format!("category=SYNC severity=SEVERE_ERROR pipe=\"{name}\" msg=\"cannot start: {msg}\""),
                        );
                        eprintln!("pipe {name}: cannot start: {msg}");
                        let snap =
                            StatsSnapshot { last_error: Some(format!("cannot start: {msg}")), ..Default::default() };
                        if let Ok(json) = serde_json::to_string(&snap) {
                            let _ = watcher.set_stats(&name, &json);
                        }
                    }
                }
            }
        }
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    stop_all(&mut pipes).await;
    Ok(())
}

fn build_runner(
    root: &ServerRoot,
    config: &ferrosync::config::Config,
    pipe: &str,
    log: Arc<SyncLog>,
) -> anyhow::Result<PipeRunner> {
    let store = Store::open(root)?;
    let mapping = PipeMapping::from_config(config, pipe)?;
    let source_name = SyncPipeSettings::of(config, pipe)?.sync_source;
    let (source, destination) = endpoints::build_pair(config, store.secrets(), root, pipe, &mapping)?;
    let detector = endpoints::build_detector(config, store.secrets(), root, pipe, &source_name)
        .with_context(|| format!("cannot read the changes of the sync source '{source_name}'"))?;
    Ok(PipeRunner {
        pipe: pipe.to_string(),
        engine: Engine::new(mapping, source, destination),
        detector,
        settings: PipeSettings::from_config(config, pipe),
        store: std::sync::Mutex::new(store),
        writer: StoreWriter::start(Store::open(root)?),
        log,
        stats: Arc::new(PipeStats::default()),
    })
}
