//! `realtime-sync`: start and stop pipes, and set where they read their source's change log from.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Parser, Subcommand};
use ferrosync::config::PropertyChange;
use ferrosync::dsconfig::{self, Action, Command, Format};
use ferrosync::endpoint::StartPointRequest;
use ferrosync::model::find_type;
use ferrosync::server_lock::{self, ServerState};
use ferrosync::store::{ServerRoot, Store};

use crate::cli;

#[derive(Parser, Debug)]
#[command(
    name = "realtime-sync",
    about = "Starts and stops sync pipes, and sets their change-log start points.",
    disable_help_flag = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
    /// The server root.
    #[arg(long = "server-root", value_name = "DIR", global = true)]
    pub server_root: Option<String>,
    /// The store: 'sqlite' (SERVER-ROOT/config/config.db) or postgresql://USER@HOST:PORT/DB?passfile=FILE (default:
    /// $FERROSYNC_STORE, else the one SERVER-ROOT/config/store names, else sqlite).
    #[arg(long = "store", value_name = "URL", global = true)]
    pub store: Option<String>,
    /// Never prompt (realtime-sync never does).
    #[arg(long = "no-prompt", short = 'n', global = true)]
    pub no_prompt: bool,
    #[command(flatten)]
    pub connection: Ignored,
    /// Print this help.
    #[arg(long = "help", short = 'H', action = clap::ArgAction::Help, global = true)]
    pub help: Option<bool>,
}

/// PingDataSync's connection options: accepted and ignored, since the configuration is local.
#[derive(ClapArgs, Debug)]
pub struct Ignored {
    #[arg(short = 'h', long = "hostname", hide = true, global = true)]
    hostname: Option<String>,
    #[arg(short = 'p', long = "port", hide = true, global = true)]
    port: Option<String>,
    #[arg(short = 'D', long = "bindDN", hide = true, global = true)]
    bind_dn: Option<String>,
    #[arg(short = 'w', long = "bindPassword", hide = true, global = true)]
    bind_password: Option<ferrosync::secret::Secret>,
    #[arg(short = 'j', long = "bindPasswordFile", hide = true, global = true)]
    bind_password_file: Option<String>,
    #[arg(short = 'Z', long = "useSSL", hide = true, global = true)]
    use_ssl: bool,
    #[arg(short = 'q', long = "useStartTLS", hide = true, global = true)]
    use_start_tls: bool,
    #[arg(short = 'X', long = "trustAll", hide = true, global = true)]
    trust_all: bool,
    #[arg(short = 'P', long = "trustStorePath", hide = true, global = true)]
    trust_store_path: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Sub {
    /// Starts synchronization for one pipe, or for every pipe.
    Start(PipeOpt),
    /// Stops synchronization for one pipe, or for every pipe.
    Stop(PipeOpt),
    /// Sets where a pipe starts reading its source's change log.
    #[command(name = "set-startpoint")]
    SetStartpoint(StartpointArgs),
    /// Lists the sync pipes, started or not, with each one's start point and whether its deletes are held.
    List,
    /// Applies the deletes that a pipe's mass-delete guard holds (mass-delete-threshold).
    #[command(name = "release-deletes")]
    ReleaseDeletes(ReleaseArgs),
}

#[derive(ClapArgs, Debug)]
pub struct ReleaseArgs {
    /// The sync pipe whose held deletes are applied.
    #[arg(long = "pipe-name", value_name = "PIPE")]
    pub pipe_name: String,
}

#[derive(ClapArgs, Debug)]
pub struct PipeOpt {
    /// The sync pipe (all pipes when omitted).
    #[arg(long = "pipe-name", value_name = "PIPE")]
    pub pipe_name: Option<String>,
}

#[derive(ClapArgs, Debug)]
#[command(group(clap::ArgGroup::new("point").required(true).args([
    "end_of_changelog", "beginning_of_changelog", "change_number", "change_sequence_number", "startpoint_rewind", "change_time"
])))]
pub struct StartpointArgs {
    /// The sync pipe.
    #[arg(long = "pipe-name", value_name = "PIPE")]
    pub pipe_name: String,
    /// Start after the newest change (the usual choice before a resync).
    #[arg(long = "end-of-changelog")]
    pub end_of_changelog: bool,
    /// Start at the oldest change still in the change log.
    #[arg(long = "beginning-of-changelog")]
    pub beginning_of_changelog: bool,
    /// Start at this change number (cn=changelog sources).
    #[arg(long = "change-number", value_name = "N")]
    pub change_number: Option<u64>,
    /// Start at this change sequence number (OpenLDAP: the accesslog's reqStart).
    #[arg(long = "change-sequence-number", value_name = "CSN")]
    pub change_sequence_number: Option<String>,
    /// Start this long ago, such as 2h30m (units d, h, m, s, ms).
    #[arg(long = "startpoint-rewind", value_name = "DURATION")]
    pub startpoint_rewind: Option<String>,
    /// Start at the first change at or after this time (20261122103000Z or 2026-11-22T10:30:00Z).
    #[arg(long = "change-time", value_name = "TIME")]
    pub change_time: Option<String>,
}

fn parse_time(text: &str) -> anyhow::Result<SystemTime> {
    let t = text.trim();
    // Generalized time: YYYYMMDDHHMMSS[.fff]Z
    let digits = t.strip_suffix('Z').and_then(|d| d.get(..14)).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    if let Some(d) = digits {
        // 14 ASCII digits: every split below falls on a char boundary.
        let (year, d) = d.split_at(4);
        let (month, d) = d.split_at(2);
        let (day, d) = d.split_at(2);
        let (hour, d) = d.split_at(2);
        let (minute, second) = d.split_at(2);
        let iso = format!("{year}-{month}-{day}T{hour}:{minute}:{second}Z");
        return humantime::parse_rfc3339_weak(&iso.replace('Z', "")).map_err(|e| anyhow::anyhow!("{e}"));
    }
    humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).map_err(|_| {
        cli::Usage(format!("--change-time '{text}' is not a time: expected 20261122103000Z or 2026-11-22T10:30:00Z"))
            .into()
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = cli::server_root(args.server_root.as_deref(), args.store.as_deref())?;
    let mut store = cli::open_store(&root)?;
    let config = store.load()?;
    let pipe_exists = |name: &str| -> anyhow::Result<()> {
        if config.get("sync-pipe", name).is_none() {
            let names: Vec<String> = config.all("sync-pipe").iter().map(|p| p.name().to_string()).collect();
            bail!(
                "there is no sync pipe '{name}' ({})",
                if names.is_empty() {
                    "none is configured yet".into()
                } else {
                    format!("existing: {}", names.join(", "))
                }
            );
        }
        Ok(())
    };
    match args.command {
        Sub::Start(PipeOpt { pipe_name }) => set_started(&mut store, &config, pipe_name.as_deref(), true, &pipe_exists),
        Sub::Stop(PipeOpt { pipe_name }) => set_started(&mut store, &config, pipe_name.as_deref(), false, &pipe_exists),
        Sub::List => list(&store, &config),
        Sub::ReleaseDeletes(ReleaseArgs { pipe_name }) => {
            pipe_exists(&pipe_name)?;
            let pipe = config.get("sync-pipe", &pipe_name).map(|p| p.name().to_string()).unwrap_or(pipe_name);
            release_deletes(&store, &root, &pipe)
        }
        Sub::SetStartpoint(sp) => {
            pipe_exists(&sp.pipe_name)?;
            let request = if sp.end_of_changelog {
                StartPointRequest::EndOfChangelog
            } else if sp.beginning_of_changelog {
                StartPointRequest::BeginningOfChangelog
            } else if let Some(n) = sp.change_number {
                StartPointRequest::ChangeNumber(n)
            } else if let Some(csn) = sp.change_sequence_number.clone() {
                StartPointRequest::ChangeSequenceNumber(csn)
            } else if let Some(r) = &sp.startpoint_rewind {
                let d: Duration = ferrosync::syntax::parse_rewind(r)
                    .map_err(|e| cli::Usage(format!("--startpoint-rewind '{r}': {e}")))?;
                StartPointRequest::Time(SystemTime::now() - d)
            } else if let Some(t) = &sp.change_time {
                StartPointRequest::Time(parse_time(t)?)
            } else {
                bail!(cli::Usage("give one of --end-of-changelog, --beginning-of-changelog, --change-number, --change-sequence-number, --startpoint-rewind, --change-time".into()))
            };
            let source = ferrosync::settings::SyncPipeSettings::of(&config, &sp.pipe_name)?.sync_source;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let point = runtime.block_on(async {
                let detector =
                    crate::endpoints::build_detector(&config, store.secrets(), &root, &sp.pipe_name, &source)
                        .with_context(|| format!("cannot read the change log of the sync source '{source}'"))?;
                // Some change logs are read to their end (DirSync pages through every object): show progress.
                let bar = if std::io::stderr().is_terminal() {
                    indicatif::ProgressBar::new_spinner()
                } else {
                    indicatif::ProgressBar::hidden()
                };
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} reading the change log: {pos} records, {per_sec}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                let progress = |n: u64| bar.set_position(n);
                let point = detector
                    .start_point_with_progress(&request, &progress)
                    .await
                    .with_context(|| format!("cannot set the start point of sync pipe '{}'", sp.pipe_name));
                if bar.position() > 0 {
                    bar.finish_and_clear();
                    cli::out(&format!("Read {} change log records to find the start point\n", bar.position()))?;
                }
                point
            })?;
            let task = format!(
                "{}",
                SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
            );
            cli::out(&format!("Set StartPoint task {task} scheduled to start immediately\n"))?;
            let pipe = config
                .get("sync-pipe", &sp.pipe_name)
                .map(|p| p.name().to_string())
                .unwrap_or_else(|| sp.pipe_name.clone());
            let effect = set_start_point(&mut store, &root, &pipe, point.as_str())?;
            cli::out(&format!(
                "The startpoint has been set for Sync Pipe '{pipe}': synchronization will resume after {}\n{effect}\nSet StartPoint task {task} has been successfully completed\n",
                point.as_str()
            ))
        }
    }
}

/// `realtime-sync list`: every pipe, started or not, its endpoints, start point and held deletes.
fn list(store: &Store, config: &ferrosync::config::Config) -> anyhow::Result<()> {
    let held: std::collections::HashMap<String, String> = store.all_deletes_held()?.into_iter().collect();
    let header = ["Sync Pipe", "Started", "Sync Source", "Sync Destination", "Start Point", "Deletes"];
    let mut rows: Vec<[String; 6]> = Vec::new();
    for p in config.all("sync-pipe") {
        let name = p.name().to_string();
        let start_point = store.start_point(&name)?.unwrap_or_else(|| "(none: the end of the change log)".into());
        rows.push([
            name.clone(),
            p.first("started").unwrap_or("false").to_string(),
            p.first("sync-source").unwrap_or("-").to_string(),
            p.first("sync-destination").unwrap_or("-").to_string(),
            start_point,
            if held.contains_key(&name.to_lowercase()) { "held".into() } else { "applied".into() },
        ]);
    }
    if rows.is_empty() {
        return cli::out("No sync pipes are configured.\n");
    }
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect()));
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    for (pipe, alert) in &held {
        out.push_str(&format!("\nSync pipe '{pipe}' holds its deletes: {alert}\n"));
    }
    cli::out(&out)
}

/// `realtime-sync release-deletes`: asks pipe `pipe` to apply the deletes its mass-delete guard holds, and waits
/// for a running server to take the release.
fn release_deletes(store: &Store, root: &ServerRoot, pipe: &str) -> anyhow::Result<()> {
    let Some(alert) = store.deletes_held(pipe)? else {
        bail!("sync pipe '{pipe}' holds no deletes: its mass-delete guard has not tripped (see realtime-sync list)");
    };
    store.request_delete_release(pipe, &ferrosync::util::timestamp_now())?;
    let mut out = format!("Sync pipe '{pipe}' held its deletes: {alert}\n");
    if !matches!(server_lock::probe(root)?, ServerState::Running(_)) {
        out.push_str("The sync server is not running: the held deletes are applied when the pipe starts.\n");
        return cli::out(&out);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if store.delete_release_requested(pipe)?.is_none() {
            out.push_str("The running sync server took the release: the held deletes are being applied.\n");
            break;
        }
        if std::time::Instant::now() >= deadline {
            out.push_str(
                "The release is recorded; the pipe applies the held deletes once it runs (is it started? see status).\n",
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cli::out(&out)
}

/// Saves the start point of `pipe`: through the running sync server when there is one (a running pipe saves its
/// own position and would overwrite a start point written beside it), directly otherwise. Returns what the
/// operator is told about when it takes effect.
fn set_start_point(store: &mut Store, root: &ServerRoot, pipe: &str, point: &str) -> anyhow::Result<String> {
    if !matches!(server_lock::probe(root)?, ServerState::Running(_)) {
        store.set_start_point(pipe, point)?;
        // Deletes the mass-delete guard held are behind or past the new start point: none is held now.
        store.settle_delete_release(pipe)?;
        return Ok("The sync server is not running: the start point takes effect when the pipe starts.".into());
    }
    store.request_start_point(pipe, point)?;
    // The server stops the pipe (its changes in flight are finished first), saves the start point and starts
    // the pipe again.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if store.start_point_requested(pipe)?.as_deref() != Some(point) {
            return Ok("The running sync server picked it up: the pipe resumed from it.".into());
        }
        if !matches!(server_lock::probe(root)?, ServerState::Running(_)) {
            return Ok(
                "The sync server stopped before picking it up: it takes effect when the server starts again.".into()
            );
        }
        if std::time::Instant::now() >= deadline {
            return Ok("The running sync server picks it up once the pipe's changes in flight are finished.".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn set_started(
    store: &mut Store,
    config: &ferrosync::config::Config,
    pipe: Option<&str>,
    started: bool,
    pipe_exists: &dyn Fn(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let pipes: Vec<String> = match pipe {
        Some(p) => {
            pipe_exists(p)?;
            vec![p.to_string()]
        }
        None => config.all("sync-pipe").iter().map(|p| p.name().to_string()).collect(),
    };
    let (Some(pipe_type), Some(global)) = (find_type("sync-pipe"), find_type("global-sync-configuration")) else {
        bail!("internal error: the sync pipe type is missing from the model");
    };
    let value = if started { "true" } else { "false" };
    let mut commands: Vec<Command> = pipes
        .iter()
        .map(|p| Command {
            action: Action::Set,
            object_type: pipe_type,
            names: vec![p.clone()],
            variant: None,
            changes: vec![PropertyChange::Set("started".into(), value.into())],
            value_files: Vec::new(),
            properties: Vec::new(),
        })
        .collect();
    if pipe.is_none() && started {
        commands.push(Command {
            action: Action::Set,
            object_type: global,
            names: Vec::new(),
            variant: None,
            changes: vec![PropertyChange::Set("started".into(), "true".into())],
            value_files: Vec::new(),
            properties: Vec::new(),
        });
    }
    for c in &commands {
        dsconfig::run_command(store, c, Format::default())?;
    }
    let verb = if started { "started" } else { "stopped" };
    let running = crate::server::running_pid(store.root()).is_some();
    let mut out = String::new();
    for p in &pipes {
        out.push_str(&format!("Synchronization has been {verb} for Sync Pipe '{p}'\n"));
    }
    if pipes.is_empty() {
        out.push_str("No sync pipes are configured.\n");
    }
    if started && !running {
        out.push_str("note: the sync server is not running; the pipes run once it is started (bin/start-server)\n");
    }
    cli::out(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_time_takes_both_forms() {
        let generalized = parse_time("20261122103000Z").unwrap();
        assert_eq!(parse_time("2026-11-22T10:30:00Z").unwrap(), generalized);
        assert_eq!(parse_time("20261122103000.250Z").unwrap(), generalized);
    }

    #[test]
    fn a_non_ascii_change_time_is_an_error_not_a_panic() {
        for t in ["2026112210300éZ", "é0261122103000Z", "２０２６１１２２１０３０００Z", "日本"] {
            let e = parse_time(t).unwrap_err();
            assert!(e.to_string().contains("is not a time"), "{t}: {e}");
        }
    }
}
