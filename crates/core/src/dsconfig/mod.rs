//! dsconfig's library part: parse a command line ([`args`]), run it on a [`Config`], render the result
//! ([`render`]), and run batch files all or nothing.

pub mod args;
pub mod diff;
pub mod render;

use std::io::Write;
use std::path::Path;

use crate::batch;
use crate::config::{Config, PropertyChange, SecretSealer};
use crate::error::{ConfigError, StoreError};
use crate::store::{ServerRoot, Store};

pub use args::{parse, Action, Command, Globals, Invocation, Request, UsageError};

/// Why a dsconfig command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DsconfigError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{file}:{line}: {message}")]
    Batch { file: String, line: usize, message: String },
    #[error("cannot read the batch file {file}: {source}")]
    BatchRead {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The change was committed to the configuration store, but its audit line could not be written: the
    /// change is in effect, only the audit log lacks it.
    #[error(
        "{applied} applied (the configuration store has the change), but the audit log could not be written: \
         {}; add the command(s) to logs/config-audit.log by hand if the audit log must be complete",
        with_cause(source)
    )]
    NotAudited {
        /// What was applied: `1 command`, `12 command(s) of the batch file FILE`.
        applied: String,
        #[source]
        source: Box<StoreError>,
    },
}

/// An error and its cause: `cannot write the audit log /x/logs/config-audit.log: Is a directory (os error 21)`.
fn with_cause(e: &dyn std::error::Error) -> String {
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl DsconfigError {
    /// Whether the configuration store was changed although this is an error (see [`DsconfigError::NotAudited`]).
    pub fn was_applied(&self) -> bool {
        matches!(self, DsconfigError::NotAudited { .. })
    }
}

/// The result of one object command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// What to print on standard output.
    pub output: String,
    /// The command as a replayable dsconfig line (secrets masked), when it changed the configuration.
    pub audit: Option<String>,
    /// One-line notes for standard error (without the `note: ` prefix): properties that were set but that
    /// ferrosync does not use.
    pub notes: Vec<String>,
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Format {
    pub script_friendly: bool,
    pub advanced: bool,
}

/// Runs one object command on `config`. Read commands leave it as it is; a failed command changes nothing.
pub fn execute(
    cmd: &Command,
    config: &mut Config,
    sealer: &dyn SecretSealer,
    fmt: Format,
) -> Result<Outcome, ConfigError> {
    let t = cmd.object_type;
    match cmd.action {
        Action::List => Ok(Outcome { output: render::list(config, cmd, fmt)?, ..Outcome::default() }),
        Action::Get => {
            let names = cmd.names.clone();
            let fallback;
            let obj = match config.find(t, &names) {
                Some(obj) => obj,
                None if t.singleton => {
                    fallback = Config::default_singleton(t);
                    &fallback
                }
                None => {
                    return Err(ConfigError::NoSuchObject {
                        object: crate::config::describe(t, &names),
                        existing: existing_names(config, cmd),
                    })
                }
            };
            Ok(Outcome { output: render::properties(obj, &cmd.properties, fmt)?, ..Outcome::default() })
        }
        Action::Create => {
            let obj = config.create(t, &cmd.names, cmd.variant.as_deref(), &cmd.changes, sealer)?;
            let label = obj.label();
            let audit = render::command_line(cmd, Some(obj));
            let mut notes = unused_notes(obj, &cmd.changes);
            notes.extend(clear_text_password_note(obj, &cmd.changes));
            Ok(Outcome { output: format!("The {label} was created successfully\n"), audit: Some(audit), notes })
        }
        Action::Set => {
            let obj = config.modify(t, &cmd.names, &cmd.changes, sealer)?;
            let audit = render::command_line(cmd, Some(obj));
            let mut notes = unused_notes(obj, &cmd.changes);
            notes.extend(clear_text_password_note(obj, &cmd.changes));
            Ok(Outcome { output: String::new(), audit: Some(audit), notes })
        }
        Action::Delete => {
            let removed = config.delete(t, &cmd.names)?;
            let label = removed.last().map(|o| o.label()).unwrap_or_default();
            Ok(Outcome {
                output: format!("The {label} was deleted successfully\n"),
                audit: Some(render::command_line(cmd, None)),
                notes: Vec::new(),
            })
        }
    }
}

/// A note for each property given a value by `changes` that ferrosync accepts but does not use, or a value that
/// ferrosync treats otherwise than PingDataSync (the model's `value_notes`): the command still applies
/// (PingDataSync's batch files set such properties), and the operator learns what it does.
pub fn unused_notes(obj: &crate::config::ConfigObject, changes: &[PropertyChange]) -> Vec<String> {
    if obj.is_unused() {
        // One note for the object, not one per property.
        let kind = match (&obj.variant, obj.object_type.unused) {
            (Some(v), false) => format!(" (--type {v})"),
            _ => String::new(),
        };
        return vec![format!(
            "the {}{kind} is stored for compatibility with PingDataSync but not used by ferrosync",
            obj.label()
        )];
    }
    let mut notes: Vec<String> = Vec::new();
    for change in changes {
        if matches!(change, PropertyChange::Reset(_)) {
            continue;
        }
        let Some(def) = obj.property(change.property()) else { continue };
        let note = if def.unused {
            format!(
                "property '{}' of the {} is accepted for compatibility with PingDataSync but not used by ferrosync",
                def.name,
                obj.label()
            )
        } else {
            let value = match change {
                PropertyChange::Set(_, v) | PropertyChange::Add(_, v) => v.as_str(),
                _ => continue,
            };
            let Some((_, text)) = def.value_notes.iter().find(|(v, _)| v.eq_ignore_ascii_case(value.trim())) else {
                continue;
            };
            format!("property '{}' of the {} is {value}: {text}", def.name, obj.label())
        };
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    notes
}

/// A warning when a change leaves an LDAP external server binding with a password over `connection-security:
/// none` (the password then crosses the network in clear text), said when the password or the security is set.
pub fn clear_text_password_note(obj: &crate::config::ConfigObject, changes: &[PropertyChange]) -> Option<String> {
    let is_ldap = obj.object_type.name == "external-server"
        && crate::settings::server::is_ldap_variant(obj.variant.as_deref().unwrap_or(""));
    let touched = changes
        .iter()
        .any(|c| ["password", "passphrase-provider", "connection-security", "bind-dn"].contains(&c.property()));
    let has_password = obj.first("password").is_some() || obj.first("passphrase-provider").is_some();
    let plain = obj.first("connection-security").unwrap_or("none").eq_ignore_ascii_case("none");
    (is_ldap && touched && has_password && plain && obj.first("bind-dn").is_some()).then(|| {
        format!(
            "the {} binds with a password over connection-security:none: the password crosses the network in \
             clear text (set connection-security:ssl or start-tls)",
            obj.label()
        )
    })
}

fn existing_names(config: &Config, cmd: &Command) -> Vec<String> {
    let parent = &cmd.names[..cmd.names.len().saturating_sub(1)];
    if parent.is_empty() {
        config.all(cmd.object_type.name).iter().map(|o| o.name().to_string()).collect()
    } else {
        config.children(cmd.object_type.name, parent).iter().map(|o| o.name().to_string()).collect()
    }
}

/// Whether a command only reads.
pub fn is_read_only(cmd: &Command) -> bool {
    matches!(cmd.action, Action::List | Action::Get)
}

/// One failed command of a batch file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchFailure {
    pub line: usize,
    pub message: String,
}

/// The result of a batch file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub applied: usize,
    pub failures: Vec<BatchFailure>,
    pub output: String,
    pub audit: Vec<String>,
    /// One-line notes for standard error, each `FILE:LINE: note` (see [`Outcome::notes`]).
    pub notes: Vec<String>,
}

/// Applies the commands of a batch file's text to `config`. Without `continue_on_error` the first failure is
/// returned as an error (the caller then discards `config`); with it, every command that can apply does and the
/// failures are listed.
pub fn run_batch(
    file: &str,
    text: &str,
    config: &mut Config,
    sealer: &dyn SecretSealer,
    fmt: Format,
    continue_on_error: bool,
) -> Result<BatchReport, DsconfigError> {
    let mut report = BatchReport::default();
    for item in batch::parse(text) {
        let (line, result) = match item {
            Err(e) => (e.line, Err(e.message)),
            Ok(cmd) => (cmd.line, run_batch_command(&cmd.args, config, sealer, fmt)),
        };
        match result {
            Ok(Some(outcome)) => {
                report.applied += 1;
                report.output.push_str(&outcome.output);
                report.audit.extend(outcome.audit);
                report.notes.extend(outcome.notes.iter().map(|n| format!("{file}:{line}: {n}")));
            }
            Ok(None) => {}
            Err(message) if continue_on_error => report.failures.push(BatchFailure { line, message }),
            Err(message) => return Err(DsconfigError::Batch { file: file.to_string(), line, message }),
        }
    }
    Ok(report)
}

fn run_batch_command(
    args: &[String],
    config: &mut Config,
    sealer: &dyn SecretSealer,
    fmt: Format,
) -> Result<Option<Outcome>, String> {
    let inv = parse(args).map_err(|e| e.to_string())?;
    if inv.globals.batch_file.is_some() {
        return Err("--batch-file cannot be used inside a batch file".into());
    }
    match inv.request {
        Some(Request::Object(cmd)) => execute(&cmd, config, sealer, fmt).map(Some).map_err(|e| e.to_string()),
        Some(Request::Help { .. }) | Some(Request::ListProperties { .. }) => Ok(None),
        None => Err("expected a subcommand".into()),
    }
}

/// Reads and applies a batch file to the store in one transaction: all or nothing, unless
/// `continue_on_error`. The applied commands are appended to the audit log.
pub fn apply_batch_file(
    store: &mut Store,
    path: &Path,
    fmt: Format,
    continue_on_error: bool,
) -> Result<BatchReport, DsconfigError> {
    let file = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|source| DsconfigError::BatchRead { file: file.clone(), source })?;
    let report = store.update(|config, secrets| run_batch(&file, &text, config, secrets, fmt, continue_on_error))?;
    append_audit(store.root(), &report.audit)
        .map_err(|source| DsconfigError::NotAudited { applied: applied(&report, &file), source: Box::new(source) })?;
    Ok(report)
}

/// Applies batch-file text (from `origin`, for messages) to the store in one transaction, all or nothing, and
/// appends the applied commands to the audit log: what `dsconfig --batch-file` does, for tools that generate
/// their commands (create-sync-pipe-config).
pub fn apply_batch_text(
    store: &mut Store,
    origin: &str,
    text: &str,
    fmt: Format,
) -> Result<BatchReport, DsconfigError> {
    let report = store.update(|config, secrets| run_batch(origin, text, config, secrets, fmt, false))?;
    append_audit(store.root(), &report.audit)
        .map_err(|source| DsconfigError::NotAudited { applied: applied(&report, origin), source: Box::new(source) })?;
    Ok(report)
}

/// `12 command(s) of FILE were`.
fn applied(report: &BatchReport, origin: &str) -> String {
    format!("{} command(s) of {origin} were", report.applied)
}

/// Runs one command against the store: reads without a write transaction, changes in one.
pub fn run_command(store: &mut Store, cmd: &Command, fmt: Format) -> Result<Outcome, DsconfigError> {
    if is_read_only(cmd) {
        let mut config = store.load()?;
        return Ok(execute(cmd, &mut config, store.secrets(), fmt)?);
    }
    let outcome = store.update(|config, secrets| execute(cmd, config, secrets, fmt).map_err(DsconfigError::from))?;
    append_audit(store.root(), outcome.audit.as_slice())
        .map_err(|source| DsconfigError::NotAudited { applied: "the command was".into(), source: Box::new(source) })?;
    Ok(outcome)
}

/// Appends applied commands to `logs/config-audit.log` (mode 0600), each after a timestamp comment, so the log
/// can be replayed as a batch file.
pub fn append_audit(root: &ServerRoot, lines: &[String]) -> Result<(), StoreError> {
    if lines.is_empty() {
        return Ok(());
    }
    let path = root.logs_dir().join("config-audit.log");
    let io = |source| StoreError::Io { action: "write the audit log", path: path.clone(), source };
    let mut f = crate::private_file::open(&path, crate::private_file::How::Append).map_err(io)?;
    let mut text = format!("# {} {} command(s)\n", crate::util::timestamp_now(), lines.len());
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    f.write_all(text.as_bytes()).map_err(io)
}

/// The property changes of a command whose property is sensitive, masked.
pub fn mask_change(change: &PropertyChange, sensitive: bool) -> PropertyChange {
    if !sensitive {
        return change.clone();
    }
    match change {
        PropertyChange::Set(p, _) => PropertyChange::Set(p.clone(), crate::secret::MASK.into()),
        PropertyChange::Add(p, _) => PropertyChange::Add(p.clone(), crate::secret::MASK.into()),
        PropertyChange::Remove(p, _) => PropertyChange::Remove(p.clone(), crate::secret::MASK.into()),
        PropertyChange::Reset(p) => PropertyChange::Reset(p.clone()),
    }
}
