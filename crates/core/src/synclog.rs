//! The sync log (`logs/sync`, PingDataSync's line format) and the failed-operations log
//! (`logs/sync-failed-ops`), both configured by their log publishers. Passwords never reach either.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use crate::config::Config;
use crate::endpoint::{Change, Modification};
use crate::store::ServerRoot;

/// Attributes whose values are never written to a log.
pub const SECRET_ATTRIBUTES: &[&str] =
    &["userpassword", "unicodepwd", "authpassword", "ds-changelog-encrypted-password", "unhashed#user#password"];

/// Whether `attr` is one of the [`SECRET_ATTRIBUTES`].
pub(crate) fn is_secret(attr: &str) -> bool {
    let a = attr.to_ascii_lowercase();
    SECRET_ATTRIBUTES.contains(&a.as_str())
}

use crate::logfile::LogFile;

/// Where write failures of the logs are reported: the error log (`logs/errors`), and the last one kept for
/// `status` (so a failure is never only dropped, even when the error log cannot be written either).
struct Trouble {
    errors: Arc<LogFile>,
    last: Mutex<Option<String>>,
}

impl Trouble {
    fn new(errors: Arc<LogFile>) -> Trouble {
        Trouble { errors, last: Mutex::new(None) }
    }

    fn keep(&self, message: String) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{} {message}", ping_timestamp()));
    }

    /// Reports the outcome of one write to `file`.
    fn note(&self, file: &LogFile, outcome: Result<u64, (std::io::Error, u64)>) {
        let (severity, message) = match outcome {
            Ok(0) => return,
            Ok(lost) => (
                "NOTICE",
                format!(
                    "{} can be written again; {lost} write(s) to it failed before and were lost",
                    file.path().display()
                ),
            ),
            Err((e, lost)) => {
                let message = format!("cannot write {}: {e} ({lost} write(s) lost in a row)", file.path().display());
                // Kept for `status` whatever happens to the error log, so a failure is never only dropped.
                self.keep(message.clone());
                // Reported in the error log the first time, then every 1000th time while it lasts.
                if lost != 1 && lost % 1000 != 0 {
                    return;
                }
                ("SEVERE_ERROR", message)
            }
        };
        let line = format!("{} category=SYNC severity={severity} msg=\"{}\"\n", ping_timestamp(), quote(&message));
        if let Err((e, _)) = self.errors.append(&line) {
            let both =
                format!("{message}; the error log {} cannot be written either: {e}", self.errors.path().display());
            // The library does not print: the tool renders it (stderr).
            warn_elsewhere(&both);
            self.keep(both);
        }
    }
}

/// Ping's timestamp: `[22/Nov/2026:10:30:00.123 +0000]`.
pub fn ping_timestamp() -> String {
    let iso = crate::util::timestamp_now(); // 2026-11-22T10:30:00.123Z
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (date, time) = iso.split_once('T').unwrap_or((&iso, ""));
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let month = m.parse::<usize>().ok().and_then(|m| months.get(m.wrapping_sub(1))).copied().unwrap_or("Jan");
    format!("[{d}/{month}/{y}:{} +0000]", time.trim_end_matches('Z'))
}

/// Events of the sync log, written when dropped; see [`SyncLog::batch`].
pub struct LogBatch<'a> {
    log: &'a SyncLog,
    /// The lines for each publisher, by index.
    lines: Vec<String>,
}

impl LogBatch<'_> {
    /// Adds one event for the publishers that want its message type.
    pub fn log(&mut self, e: &LogEvent<'_>) {
        let severity = if e.message_type.starts_with("change-failed") { "SEVERE_WARNING" } else { "INFORMATION" };
        let mut extra = String::new();
        if let Some(d) = e.destination_dn {
            extra.push_str(&format!(" destinationDN=\"{}\"", quote(d)));
        }
        for (i, p) in self.log.wants(e.pipe, e.message_type) {
            let detailed = p.types.iter().any(|t| {
                t.ends_with("-detailed") && t.starts_with(e.message_type.split_once('-').map_or("", |(kind, _)| kind))
            });
            let mut msg = e.message.clone();
            if !e.changes.is_empty() {
                msg.push_str(&format!(". Changes: {}", describe_changes(e.changes, detailed)));
            }
            let Some(out) = self.lines.get_mut(i) else { continue };
            use std::fmt::Write as _;
            let _ = writeln!(
                out,
                "{} category=SYNC severity={severity} msgID={} op={} changeNumber={} pipe=\"{}\" type={}{extra} msg=\"{}\"",
                ping_timestamp(),
                msg_id(e.message_type),
                quote(&e.change.id),
                quote(&e.change.id),
                quote(e.pipe),
                e.message_type,
                quote(&msg)
            );
        }
    }
}

impl Drop for LogBatch<'_> {
    fn drop(&mut self) {
        for (p, text) in self.log.publishers.iter().zip(&self.lines) {
            if !text.is_empty() {
                self.log.write(&p.file, text);
            }
        }
    }
}

/// One sync log publisher.
struct Publisher {
    file: Arc<LogFile>,
    types: HashSet<String>,
    pipes: Vec<String>,
}

/// The sync log and the failed-operations log of a server root.
pub struct SyncLog {
    publishers: Vec<Publisher>,
    failed: Vec<Arc<LogFile>>,
    trouble: Trouble,
}

/// What happened to a change, for the sync log.
pub struct LogEvent<'a> {
    pub pipe: &'a str,
    pub change: &'a Change,
    /// Ping's `logged-message-type`: change-detected, change-applied, no-change-needed, dropped-out-of-scope,
    /// dropped-op-type-not-synchronized, change-failed-detailed, ...
    pub message_type: &'a str,
    pub message: String,
    pub destination_dn: Option<&'a str>,
    pub changes: &'a [Modification],
}

fn msg_id(message_type: &str) -> u32 {
    match message_type {
        "change-detected" | "change-detected-detailed" => 1_893_797_001,
        "change-applied" | "change-applied-detailed" => 1_893_797_002,
        "no-change-needed" => 1_893_797_003,
        "dropped-out-of-scope" => 1_893_797_004,
        "dropped-op-type-not-synchronized" => 1_893_797_005,
        "change-failed" | "change-failed-detailed" => 1_893_797_006,
        _ => 1_893_797_000,
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The changes of a modify as text, with values of password attributes masked.
pub fn describe_changes(changes: &[Modification], with_values: bool) -> String {
    changes
        .iter()
        .map(|m| {
            let (op, attr, values) = match m {
                Modification::Add(a, v) => ("add", a, v),
                Modification::Delete(a, v) => ("delete", a, v),
                Modification::Replace(a, v) => ("replace", a, v),
            };
            if !with_values || values.is_empty() {
                return format!("{op} {attr}");
            }
            let shown: Vec<String> = if is_secret(attr) {
                vec![crate::secret::MASK.to_string()]
            } else {
                values.iter().map(|v| v.to_string()).collect()
            };
            format!("{op} {attr}: {}", shown.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where warnings go that no sync log publisher took.
type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

static WARNING_SINK: RwLock<Option<WarningSink>> = RwLock::new(None);

/// Sets where [`warn_elsewhere`] sends warnings that no sync log publisher took: the tools print them on
/// stderr (above resync's progress bar). Until a sink is set, such warnings are dropped.
pub fn set_warning_sink(sink: impl Fn(&str) + Send + Sync + 'static) {
    *WARNING_SINK.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(sink));
}

/// Hands a warning that no sync log publisher took ([`SyncLog::warning`] returned false) to the sink of
/// [`set_warning_sink`]. The library never prints.
pub fn warn_elsewhere(message: &str) {
    let sink = WARNING_SINK.read().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(sink) = sink {
        sink(message);
    }
}

impl SyncLog {
    /// The enabled sync and failed-operations publishers of the configuration. A publisher whose stored
    /// settings cannot be read is left out (dsconfig checked them when they were set).
    pub fn from_config(config: &Config, root: &ServerRoot) -> SyncLog {
        use crate::settings::{LogPublisherKind, LogPublisherSettings, Reader};
        let mut publishers = Vec::new();
        let mut failed = Vec::new();
        let mut errors = None;
        for obj in config.all("log-publisher") {
            let Ok(Some(p)) = LogPublisherSettings::read(&Reader::new(obj)) else { continue };
            let (true, Some(file)) = (p.enabled, p.log_file.as_deref()) else { continue };
            // Policies that cannot be read (dsconfig checked them) leave the file unrotated.
            let policies = p.policies(config).unwrap_or_default();
            let file = crate::logfile::shared(&root.resolve(file), Some(policies));
            match p.kind {
                LogPublisherKind::Sync { message_types, pipes } => publishers.push(Publisher {
                    file,
                    types: message_types.into_iter().collect(),
                    pipes: pipes.into_iter().collect(),
                }),
                LogPublisherKind::FailedOps => failed.push(file),
                LogPublisherKind::Error if errors.is_none() => errors = Some(file),
                LogPublisherKind::Error => {}
            }
        }
        let errors = errors.unwrap_or_else(|| crate::logfile::shared(&root.logs_dir().join("errors"), None));
        SyncLog { publishers, failed, trouble: Trouble::new(errors) }
    }

    /// A log that writes nothing.
    pub fn disabled() -> SyncLog {
        SyncLog {
            publishers: Vec::new(),
            failed: Vec::new(),
            trouble: Trouble::new(Arc::new(LogFile::new(PathBuf::new(), Default::default()))),
        }
    }

    /// The last failure to write a log (the sync log, the failed-operations log, or the error log that reports
    /// them), with its time: a log line that could not be written is never dropped without a trace.
    pub fn last_error(&self) -> Option<String> {
        self.trouble.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Appends `text` to `file`, reporting a failure (see [`SyncLog::last_error`]).
    fn write(&self, file: &LogFile, text: &str) {
        let outcome = file.append(text);
        self.trouble.note(file, outcome);
    }

    fn wants<'a>(&'a self, pipe: &str, message_type: &'a str) -> impl Iterator<Item = (usize, &'a Publisher)> + 'a {
        let lower = pipe.to_lowercase();
        self.publishers.iter().enumerate().filter(move |(_, p)| p.pipes.is_empty() || p.pipes.contains(&lower)).filter(
            move |(_, p)| {
                p.types.contains(message_type)
                    || (message_type == "change-applied" && p.types.contains("change-applied-detailed"))
                    || (message_type == "change-detected" && p.types.contains("change-detected-detailed"))
            },
        )
    }

    /// Whether some publisher writes events of this type for pipe `pipe` (so the caller may skip building them).
    pub fn enabled(&self, pipe: &str, message_type: &str) -> bool {
        self.wants(pipe, message_type).next().is_some()
    }

    /// Writes one event to the publishers that want its message type.
    pub fn log(&self, e: &LogEvent<'_>) {
        self.batch().log(e);
    }

    /// A batch of events, written to each publisher's file at once when the batch is dropped (one write for
    /// many lines: at thousands of changes a second, a write per line costs more than the rest of the log).
    pub fn batch(&self) -> LogBatch<'_> {
        LogBatch { log: self, lines: vec![String::new(); self.publishers.len()] }
    }

    /// Writes a warning about pipe `pipe` that is not about one change (an endpoint dropping an attribute it
    /// cannot send, say) to every sync log publisher of the pipe, whatever its message types. Returns false
    /// when no publisher took it, so the caller can say it elsewhere.
    pub fn warning(&self, pipe: &str, message: &str) -> bool {
        let lower = pipe.to_lowercase();
        let mut written = false;
        for p in self.publishers.iter().filter(|p| p.pipes.is_empty() || p.pipes.contains(&lower)) {
            let line = format!(
                "{} category=SYNC severity=MILD_WARNING msgID=1893797010 pipe=\"{}\" msg=\"{}\"\n",
                ping_timestamp(),
                quote(pipe),
                quote(message)
            );
            self.write(&p.file, &line);
            written = true;
        }
        written
    }

    /// Writes an alert about pipe `pipe` to the error log (`logs/errors`), in Ping's format: `severity` is one of
    /// Ping's (`NOTICE`, `SEVERE_WARNING`, ...).
    pub fn alert(&self, pipe: &str, severity: &str, message: &str) {
        if self.trouble.errors.path().as_os_str().is_empty() {
            return;
        }
        let line = format!(
            "{} category=SYNC severity={severity} pipe=\"{}\" msg=\"{}\"\n",
            ping_timestamp(),
            quote(pipe),
            quote(message)
        );
        let outcome = self.trouble.errors.append(&line);
        self.trouble.note(&self.trouble.errors, outcome);
    }

    /// Writes a change that failed for good to the failed-operations log, with what a repair needs.
    pub fn failed(
        &self,
        pipe: &str,
        change: &Change,
        source_dn: &str,
        destination_dn: Option<&str>,
        reason: &str,
        changes: &[Modification],
    ) {
        if self.failed.is_empty() {
            return;
        }
        let mut text = format!(
            "{} pipe=\"{}\" changeNumber={} operation={} sourceDN=\"{}\"{}{}\n  result: {}\n",
            ping_timestamp(),
            quote(pipe),
            quote(&change.id),
            change.kind.name(),
            quote(source_dn),
            destination_dn.map(|d| format!(" destinationDN=\"{}\"", quote(d))).unwrap_or_default(),
            change.unique_id.as_deref().map(|u| format!(" uniqueId=\"{}\"", quote(u))).unwrap_or_default(),
            reason.replace('\n', " ")
        );
        if !change.changed_attributes.is_empty() {
            text.push_str(&format!("  changed source attributes: {}\n", change.changed_attributes.join(", ")));
        }
        if !changes.is_empty() {
            text.push_str(&format!("  attempted changes: {}\n", describe_changes(changes, true)));
        }
        if !source_dn.is_empty() {
            text.push_str(&format!(
                "  repair: once the cause is fixed, run: resync --pipe-name \"{}\" --sourceInputFile FILE  (FILE holding the line: dn: {source_dn})\n",
                quote(pipe)
            ));
        }
        for f in &self.failed {
            self.write(f, &text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::ChangeKind;
    use std::path::Path;

    /// A sync log publisher for change-applied events at `sync`, a failed-operations log at `failed`, and the
    /// error log at `errors`.
    fn log(sync: &Path, failed: &Path, errors: &Path) -> SyncLog {
        SyncLog {
            publishers: vec![Publisher {
                file: Arc::new(LogFile::new(sync.to_path_buf(), Default::default())),
                types: ["change-applied".to_string()].into_iter().collect(),
                pipes: Vec::new(),
            }],
            failed: vec![Arc::new(LogFile::new(failed.to_path_buf(), Default::default()))],
            trouble: Trouble::new(Arc::new(LogFile::new(errors.to_path_buf(), Default::default()))),
        }
    }

    fn applied(log: &SyncLog, change: &Change) {
        log.log(&LogEvent {
            pipe: "P",
            change,
            message_type: "change-applied",
            message: "applied".into(),
            destination_dn: None,
            changes: &[],
        });
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    #[test]
    fn a_sync_log_that_cannot_be_written_is_reported_in_the_error_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sync = dir.path().join("logs/sync");
        std::fs::create_dir_all(&sync).expect("a directory where the file should be");
        let errors = dir.path().join("logs/errors");
        let l = log(&sync, &dir.path().join("logs/sync-failed-ops"), &errors);
        let c = Change::new(Default::default(), "7", ChangeKind::Modify, "uid=a,dc=x");
        assert!(l.last_error().is_none());
        applied(&l, &c);
        let reported = read(&errors);
        assert!(
            reported.contains("severity=SEVERE_ERROR") && reported.contains(&sync.display().to_string()),
            "{reported}"
        );
        let last = l.last_error().expect("kept for status");
        assert!(last.contains("cannot write") && last.contains("logs/sync"), "{last}");
        // Every failure counts; the error log gets the first, not one line per failed write.
        applied(&l, &c);
        applied(&l, &c);
        assert_eq!(read(&errors).lines().count(), 1, "{}", read(&errors));
        assert!(l.last_error().is_some_and(|m| m.contains("3 write(s) lost")), "{:?}", l.last_error());
        // Once the file can be written again, the error log says how many writes were lost.
        std::fs::remove_dir(&sync).expect("rmdir");
        applied(&l, &c);
        assert!(read(&sync).contains("changeNumber=7"), "{}", read(&sync));
        let reported = read(&errors);
        assert!(reported.contains("can be written again; 3 write(s)"), "{reported}");
    }

    #[test]
    fn a_failed_ops_log_that_cannot_be_written_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let failed = dir.path().join("sync-failed-ops");
        std::fs::create_dir_all(&failed).expect("mkdir");
        let errors = dir.path().join("errors");
        let l = log(&dir.path().join("sync"), &failed, &errors);
        let c = Change::new(Default::default(), "9", ChangeKind::Add, "uid=b,dc=x");
        l.failed("P", &c, "uid=b,dc=x", None, "schema violation", &[]);
        assert!(read(&errors).contains("sync-failed-ops"), "{}", read(&errors));
        assert!(l.last_error().is_some_and(|m| m.contains("sync-failed-ops")));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_is_reported_and_kept_when_the_error_log_is_full_too() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let l = log(full, full, full);
        let c = Change::new(Default::default(), "1", ChangeKind::Delete, "uid=c,dc=x");
        applied(&l, &c);
        let last = l.last_error().expect("kept for status");
        assert!(last.contains("/dev/full") && last.contains("cannot be written either"), "{last}");
        // ENOSPC, as on a full disk.
        assert!(last.contains(&std::io::Error::from_raw_os_error(28).to_string()), "{last}");
    }

    #[test]
    fn warnings_no_publisher_took_go_to_the_sink() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        set_warning_sink(move |m| sink.lock().unwrap().push(m.to_string()));
        assert!(!SyncLog::disabled().warning("p", "the service drops 'nickName'"));
        warn_elsewhere("the service drops 'nickName'");
        assert!(got.lock().unwrap().iter().any(|m| m == "the service drops 'nickName'"));
    }

    /// The case, configured as an operator does with dsconfig: the sync logger rotates at 1 MB and keeps 3
    /// files; after 50,000 logged changes there are at most 4 files of at most 1 MB each, of whole lines, holding
    /// the newest changes without a gap.
    #[test]
    fn a_sync_logger_with_a_1_mb_policy_and_3_files_keeps_4_files_after_50000_changes() {
        struct Plain;
        impl crate::config::SecretSealer for Plain {
            fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
                Ok(p.to_string())
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let root = ServerRoot::new(dir.path());
        let mut config = Config::builtin();
        let batch = "dsconfig create-log-rotation-policy --policy-name \"1 MB\" --type size-limit --set \"file-size-limit:1 mb\"\n\
                     dsconfig create-log-retention-policy --policy-name three --type file-count --set number-of-files:3\n\
                     dsconfig set-log-publisher-prop --publisher-name \"File-Based Sync Logger\" --set \"rotation-policy:1 MB\" \
                     --set retention-policy:three\n";
        crate::dsconfig::run_batch("t", batch, &mut config, &Plain, Default::default(), false).expect("batch");
        let l = SyncLog::from_config(&config, &root);
        for i in 0..50_000u64 {
            let c = Change::new(Default::default(), i.to_string(), ChangeKind::Modify, format!("uid=u{i},dc=x"));
            applied(&l, &c);
        }
        assert!(l.last_error().is_none(), "{:?}", l.last_error());
        let path = dir.path().join("logs/sync");
        let mut files = crate::logfile::rotated_files(&path).expect("list");
        assert_eq!(files.len(), 3, "{files:?}");
        files.push(path);
        let mut numbers = Vec::new();
        for f in &files {
            let text = read(f);
            assert!(text.len() <= 1_000_000 && text.ends_with('\n'), "{}: {} bytes", f.display(), text.len());
            for line in text.lines() {
                let n = line.split(" changeNumber=").nth(1).and_then(|r| r.split(' ').next()).expect("a whole line");
                numbers.push(n.parse::<u64>().expect("a number"));
            }
        }
        let first = numbers[0];
        assert!(first > 0 && numbers.last() == Some(&49_999));
        let expected: Vec<u64> = (first..50_000).collect();
        assert!(numbers == expected, "a line is missing: {} lines from {first}", numbers.len());
    }
}
