//! The sync log (`logs/sync`, PingDataSync's line format) and the failed-operations log
//! (`logs/sync-failed-ops`), both configured by their log publishers. Passwords never reach either.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

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

/// A log file opened for appending, mode 0600.
struct LogFile {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl LogFile {
    fn new(path: PathBuf) -> Self {
        LogFile { path, file: Mutex::new(None) }
    }

    fn append(&self, text: &str) {
        let Ok(mut guard) = self.file.lock() else { return };
        if guard.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            *guard = opts.open(&self.path).ok();
        }
        if let Some(f) = guard.as_mut() {
            let _ = f.write_all(text.as_bytes());
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
                t.ends_with("-detailed") && t.starts_with(&e.message_type[..e.message_type.find('-').unwrap_or(0)])
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
                p.file.append(text);
            }
        }
    }
}

/// One sync log publisher.
struct Publisher {
    file: LogFile,
    types: HashSet<String>,
    pipes: Vec<String>,
}

/// The sync log and the failed-operations log of a server root.
pub struct SyncLog {
    publishers: Vec<Publisher>,
    failed: Vec<LogFile>,
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

impl SyncLog {
    /// The enabled sync and failed-operations publishers of the configuration. A publisher whose stored
    /// settings cannot be read is left out (dsconfig checked them when they were set).
    pub fn from_config(config: &Config, root: &ServerRoot) -> SyncLog {
        use crate::settings::{LogPublisherKind, LogPublisherSettings, Reader};
        let mut publishers = Vec::new();
        let mut failed = Vec::new();
        for obj in config.all("log-publisher") {
            let Ok(Some(p)) = LogPublisherSettings::read(&Reader::new(obj)) else { continue };
            let (true, Some(file)) = (p.enabled, p.log_file.as_deref()) else { continue };
            match p.kind {
                LogPublisherKind::Sync { message_types, pipes } => publishers.push(Publisher {
                    file: LogFile::new(root.resolve(file)),
                    types: message_types.into_iter().collect(),
                    pipes: pipes.into_iter().collect(),
                }),
                LogPublisherKind::FailedOps => failed.push(LogFile::new(root.resolve(file))),
                LogPublisherKind::Error => {}
            }
        }
        SyncLog { publishers, failed }
    }

    /// A log that writes nothing.
    pub fn disabled() -> SyncLog {
        SyncLog { publishers: Vec::new(), failed: Vec::new() }
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
            p.file.append(&format!(
                "{} category=SYNC severity=MILD_WARNING msgID=1893797010 pipe=\"{}\" msg=\"{}\"\n",
                ping_timestamp(),
                quote(pipe),
                quote(message)
            ));
            written = true;
        }
        written
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
            f.append(&text);
        }
    }
}
