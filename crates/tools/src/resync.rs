//! The resync tool: bulk-compare a pipe's source and destination and repair the differences, with PingDataSync's
//! options, a progress bar, and Ping's summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use ferrosync::engine::resync::{self, Observer, ResyncOptions};
use ferrosync::engine::{Engine, SyncResult};
use ferrosync::mapping::PipeMapping;
use ferrosync::private_file;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{cli, endpoints};

#[derive(Parser, Debug)]
#[command(
    name = "resync",
    about = "Compares a sync pipe's source entries with the destination and repairs the differences.",
    disable_help_flag = true
)]
pub struct Args {
    /// The sync pipe to resynchronize.
    #[arg(long = "pipe-name", value_name = "PIPE")]
    pub pipe_name: String,
    /// Only source entries matching this LDAP filter.
    #[arg(long = "sourceSearchFilter", value_name = "FILTER")]
    pub source_search_filter: Option<String>,
    /// Only the source entries listed in this file (LDIF `dn:` lines, as resync-failed-DNs.log writes them).
    #[arg(long = "sourceInputFile", value_name = "FILE")]
    pub source_input_file: Option<PathBuf>,
    /// Passes to run; each pass after the first retries the entries that failed.
    #[arg(long = "numPasses", value_name = "N", default_value_t = 1)]
    pub num_passes: u32,
    /// The most entries synchronized per second.
    #[arg(long = "ratePerSecond", value_name = "N")]
    pub rate_per_second: Option<u64>,
    /// A file holding the rate (one integer), read again every second while resync runs.
    #[arg(long = "ratePerSecondFile", value_name = "FILE")]
    pub rate_per_second_file: Option<PathBuf>,
    /// Report what would change, and change nothing.
    #[arg(long = "dry-run", alias = "dryRun")]
    pub dry_run: bool,
    /// The log file (default: SERVER-ROOT/logs/tools/resync.log).
    #[arg(long = "logFilePath", value_name = "FILE")]
    pub log_file_path: Option<PathBuf>,
    /// How much the log says: error, warning, info or debug (debug logs every entry).
    #[arg(long = "logLevel", value_name = "LEVEL", default_value = "info", value_parser = ["error", "warning", "info", "debug"])]
    pub log_level: String,
    /// A destination attribute that resync never changes (repeat for several).
    #[arg(long = "excludeDestinationAttr", value_name = "ATTR")]
    pub exclude_destination_attr: Vec<String>,
    /// Entries synchronized in parallel (default: the pipe's num-worker-threads).
    #[arg(long = "numThreads", value_name = "N")]
    pub num_threads: Option<usize>,
    /// Also delete destination entries in scope whose source entry no longer exists (honours --dry-run).
    #[arg(long = "deleteMissingEntries")]
    pub delete_missing_entries: bool,
    /// Go past the pipe's mass-delete guard: delete the missing entries even when they are more than its
    /// mass-delete-threshold (a ferrosync option; with --deleteMissingEntries).
    #[arg(long = "allowMassDelete")]
    pub allow_mass_delete: bool,
    /// Correlate every entry by a search at the destination, never from one listing of it (a ferrosync
    /// option: by default a destination that can list its entries more cheaply than it can search for each does so).
    #[arg(long = "correlateBySearch")]
    pub correlate_by_search: bool,
    /// Send every create as a request of its own, never in batches (a ferrosync option: by default a SCIM
    /// service whose /ServiceProviderConfig says bulk.supported gets the creates in Bulk requests).
    #[arg(long = "noBatchedCreates")]
    pub no_batched_creates: bool,
    /// Where the DNs of entries that failed are written (default: SERVER-ROOT/logs/resync-failed-DNs.log).
    #[arg(long = "failedDNsFile", value_name = "FILE")]
    pub failed_dns_file: Option<PathBuf>,
    /// The server root.
    #[arg(long = "server-root", value_name = "DIR")]
    pub server_root: Option<String>,
    /// The store: 'sqlite' (SERVER-ROOT/config/config.db) or postgresql://USER@HOST:PORT/DB?passfile=FILE (default:
    /// $FERROSYNC_STORE, else the one SERVER-ROOT/config/store names, else sqlite).
    #[arg(long = "store", value_name = "URL")]
    pub store: Option<String>,
    /// Never prompt (resync never does).
    #[arg(long = "no-prompt", short = 'n')]
    pub no_prompt: bool,
    /// PingDataSync's connection options: accepted and ignored, since the configuration is local.
    #[arg(short = 'h', long = "hostname", hide = true)]
    pub hostname: Option<String>,
    #[arg(short = 'p', long = "port", hide = true)]
    pub port: Option<String>,
    #[arg(short = 'D', long = "bindDN", hide = true)]
    pub bind_dn: Option<String>,
    #[arg(short = 'w', long = "bindPassword", hide = true)]
    pub bind_password: Option<ferrosync::secret::Secret>,
    #[arg(short = 'j', long = "bindPasswordFile", hide = true)]
    pub bind_password_file: Option<String>,
    #[arg(short = 'Z', long = "useSSL", hide = true)]
    pub use_ssl: bool,
    #[arg(short = 'X', long = "trustAll", hide = true)]
    pub trust_all: bool,
    /// Print this help.
    #[arg(long = "help", short = 'H', action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// The log file, filtered by level.
struct Log {
    /// Rotated by the error logger's policies, as the tools' logs are.
    file: Arc<ferrosync::logfile::LogFile>,
    level: u8,
}

impl Log {
    fn write(&self, level: u8, what: &str) {
        if level > self.level {
            return;
        }
        let name = ["ERROR", "WARNING", "INFO", "DEBUG"][level as usize];
        let _ = self.file.append(&format!("[{}] {name} {what}\n", ferrosync::util::timestamp_now()));
    }
}

struct Progress {
    bar: ProgressBar,
    log: Arc<Log>,
}

impl Progress {
    /// A bar with an ETA, once the number of entries is known.
    fn set_total(&self, total: u64) {
        self.bar.set_length(total);
        self.bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} entries, {per_sec}, ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
}

impl Observer for Progress {
    fn pass_started(&self, pass: u32, total: Option<u64>) {
        self.bar.reset();
        match total {
            Some(t) => self.set_total(t),
            None => self.bar.set_style(
                ProgressStyle::with_template("{prefix} {spinner} {pos} entries, {per_sec} (counting...)")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        }
        self.bar.set_prefix(format!("pass {pass}"));
        self.log
            .write(2, &format!("starting pass {pass}{}", total.map(|t| format!(" ({t} entries)")).unwrap_or_default()));
    }

    fn total_known(&self, pass: u32, total: u64) {
        self.set_total(total);
        self.log.write(2, &format!("pass {pass}: {total} entries in scope at the source"));
    }

    fn entry_done(&self, dn: &str, result: &SyncResult) {
        self.bar.inc(1);
        if result.outcome.is_failure() {
            let at = result.destination.as_deref().map(|d| format!(" destination=\"{d}\"")).unwrap_or_default();
            self.log.write(0, &format!("dn=\"{dn}\" {}{at}", result.outcome));
        } else {
            let changes = if result.changes.is_empty() {
                String::new()
            } else {
                format!(" attributes=[{}]", result.changes.iter().map(|m| m.attribute()).collect::<Vec<_>>().join(","))
            };
            self.log.write(
                3,
                &format!(
                    "dn=\"{dn}\" class=\"{}\" result={}{changes}",
                    result.class.as_deref().unwrap_or("-"),
                    result.outcome
                ),
            );
        }
    }

    fn warning(&self, message: &str) {
        self.bar.suspend(|| eprintln!("warning: {message}"));
        self.log.write(1, message);
    }
}

fn open_private(path: &std::path::Path, append: bool) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    let how = if append { private_file::How::Append } else { private_file::How::Truncate };
    private_file::open(path, how).with_context(|| format!("cannot open {}", path.display()))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = cli::server_root(args.server_root.as_deref(), args.store.as_deref())?;
    let store = cli::open_store(&root)?;
    let config = store.load()?;
    let pipe = config.get("sync-pipe", &args.pipe_name).ok_or_else(|| {
        let names: Vec<String> = config.all("sync-pipe").iter().map(|p| p.name().to_string()).collect();
        anyhow::anyhow!(
            "there is no sync pipe '{}' ({})",
            args.pipe_name,
            if names.is_empty() {
                "none is configured yet".to_string()
            } else {
                format!("existing: {}", names.join(", "))
            }
        )
    })?;
    if let Some(f) = &args.source_search_filter {
        ferrosync::syntax::Filter::parse(f).map_err(|e| cli::Usage(format!("--sourceSearchFilter '{f}': {e}")))?;
    }
    let dns = match &args.source_input_file {
        None => None,
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("cannot read --sourceInputFile {}", p.display()))?;
            Some(
                resync::parse_dn_list(&text)
                    .map_err(|e| cli::Usage(format!("{}:{}: {}", p.display(), e.line, e.message)))?,
            )
        }
    };
    let pipe_settings = ferrosync::settings::SyncPipeSettings::read(&ferrosync::settings::Reader::new(pipe))?;
    let threads = args.num_threads.unwrap_or(pipe_settings.num_worker_threads);
    if threads == 0 {
        bail!(cli::Usage("--numThreads must be at least 1".into()));
    }
    let mapping = PipeMapping::from_config(&config, &args.pipe_name)?;
    // One thread: resync waits on the directories, and its per-entry work is small. Against a local destination
    // on 2 cores this used a third less CPU than the work-stealing runtime (fewer wake-ups across threads), which
    // leaves the cores to the directories.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let (source, destination) = endpoints::build_pair(&config, store.secrets(), &root, &args.pipe_name, &mapping)?;
        let engine = Engine::new(mapping, source, destination);
        // Options the destination cannot honour are refused before anything is read, logged or changed.
        let wanted = ResyncOptions { delete_missing: args.delete_missing_entries, ..ResyncOptions::default() };
        if let Some(why) = resync::unsupported(&engine, &wanted) {
            let dest = pipe.first("sync-destination").unwrap_or_default();
            let dest_type = config.get("sync-destination", dest).and_then(|d| d.variant.clone()).unwrap_or_default();
            bail!("{why} (the sync destination '{dest}' is of type '{dest_type}')");
        }
        let rate = Arc::new(AtomicU64::new(args.rate_per_second.unwrap_or(0)));
        if let Some(file) = args.rate_per_second_file.clone() {
            let rate = rate.clone();
            let read = move || -> Option<u64> { std::fs::read_to_string(&file).ok()?.trim().parse().ok() };
            if let Some(r) = read() {
                rate.store(r, Ordering::Relaxed);
            }
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if let Some(r) = read() {
                        rate.store(r, Ordering::Relaxed);
                    }
                }
            });
        }
        let log_path = args.log_file_path.clone().unwrap_or_else(|| root.logs_dir().join("tools").join("resync.log"));
        let level = ["error", "warning", "info", "debug"].iter().position(|l| *l == args.log_level).unwrap_or(2) as u8;
        // Opened now, so that a log that cannot be written stops the resync before it changes anything.
        drop(open_private(&log_path, true)?);
        let policies = ferrosync::settings::LogPublisherSettings::error_log_policies(&config);
        let log = Arc::new(Log { file: ferrosync::logfile::shared(&log_path, Some(policies)), level });
        log.write(
            2,
            &format!(
                "resync of pipe \"{}\" started{}",
                args.pipe_name,
                if args.dry_run { " (dry run: nothing will be changed)" } else { "" }
            ),
        );
        let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
        let progress = Progress { bar, log: log.clone() };
        // The libraries' warnings that no sync log publisher took: above the progress bar, and in the resync log.
        let (warn_bar, warn_log) = (progress.bar.clone(), log.clone());
        ferrosync::synclog::set_warning_sink(move |message| {
            warn_bar.suspend(|| eprintln!("warning: {message}"));
            warn_log.write(1, message);
        });
        let opts = ResyncOptions {
            filter: args.source_search_filter.clone(),
            dns,
            passes: args.num_passes,
            rate,
            dry_run: args.dry_run,
            exclude: args.exclude_destination_attr.clone(),
            threads,
            delete_missing: args.delete_missing_entries,
            correlate_by_search: args.correlate_by_search,
            mass_delete_threshold: pipe_settings.mass_delete_threshold,
            allow_mass_delete: args.allow_mass_delete,
            batched_creates: !args.no_batched_creates,
        };
        let recorded = resync::run_recording(&engine, &opts, &progress, &args.pipe_name, cli::open_store(&root)?)
            .await
            .with_context(|| format!("resync of pipe '{}' stopped", args.pipe_name))?;
        progress.bar.finish_and_clear();
        if let Err(e) = recorded.id_map {
            let e = anyhow::Error::from(e);
            let message = format!(
                "the id map could not be saved ({e:#}): real-time sync will find entries renamed at the source by correlation"
            );
            progress.warning(&message);
        }
        let reports = recorded.reports;
        let mut out = String::new();
        if args.dry_run {
            out.push_str("Dry run: nothing was changed.\n");
        }
        for r in &reports {
            let s = &r.stats;
            out.push_str(&format!(
                "{} {}: source entries retrieved {}, in-sync {}, modified {}, created {}, out-of-sync {}, missing {}, skipped (out of scope or not synchronized) {}, deleted {}, errors {}, duration {:.1} s\n",
                if r.deletes { "Delete pass" } else { "Pass" }, r.pass, s.retrieved, s.in_sync, s.modified, s.created, s.out_of_sync, s.missing, s.skipped, s.deleted, s.errors, r.duration.as_secs_f64()
            ));
            if let Some(c) = &r.correlation {
                out.push_str(&format!("  {}\n", c.describe()));
                log.write(2, &c.describe());
            }
            if r.creates_per_request > 1 {
                let what = format!(
                    "Creates: in batches of up to {} per request (the destination's bulk requests)",
                    r.creates_per_request
                );
                out.push_str(&format!("  {what}\n"));
                log.write(2, &what);
            }
        }
        let total = resync::totals(&reports);
        // The failures that remain: those of the last pass that synchronized entries, and of the delete pass.
        let mut failures: Vec<resync::Failure> =
            reports.iter().rev().find(|r| !r.deletes).map(|r| r.failures.clone()).unwrap_or_default();
        failures.extend(reports.iter().filter(|r| r.deletes).flat_map(|r| r.failures.clone()));
        out.push_str(&format!("\"{}\"\n", total.sentence()));
        let failed_path = args.failed_dns_file.clone().unwrap_or_else(|| root.logs_dir().join("resync-failed-DNs.log"));
        if failures.is_empty() {
            let _ = std::fs::remove_file(&failed_path);
        } else {
            let mut f = open_private(&failed_path, false)?;
            f.write_all(resync::format_dn_list(&failures).as_bytes())
                .with_context(|| format!("cannot write {}", failed_path.display()))?;
            out.push_str(&format!(
                "The DNs of the {} entries that failed are in {} (retry them with --sourceInputFile {}); the reasons are in {}\n",
                failures.len(),
                failed_path.display(),
                failed_path.display(),
                log_path.display()
            ));
        }
        log.write(2, &total.sentence());
        let held = reports.iter().find_map(|r| r.deletes_held);
        if let Some(n) = held {
            let message = format!(
                "the delete pass stopped before deleting anything: {n} destination entries have no source entry, more \
                 than the pipe's mass-delete-threshold ({}). Check that the source is complete (a missing base DN, a \
                 filter, an empty source?); run with --dry-run to list them, then run again with --allowMassDelete to \
                 delete them, or raise the threshold (dsconfig set-sync-pipe-prop --pipe-name \"{}\" --set \
                 mass-delete-threshold:N)",
                pipe_settings.mass_delete_threshold, args.pipe_name
            );
            log.write(0, &message);
            let errors = ferrosync::errorlog::ErrorLog::of_root(&root);
            let _ = errors.write(
                ferrosync::errorlog::Category::Sync,
                ferrosync::errorlog::Severity::SevereWarning,
                Some(&args.pipe_name),
                &format!("resync: {message}"),
            );
            out.push_str(&format!("Mass-delete guard: {message}\n"));
        }
        cli::out(&out)?;
        if held.is_some() {
            return Err(cli::Exit(3).into());
        }
        if total.errors > 0 {
            return Err(cli::Exit(1).into());
        }
        Ok(())
    })
}
