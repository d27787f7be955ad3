//! Log publishers.

use super::{Reader, SettingsError};

/// What a log publisher writes, by its `--type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogPublisherKind {
    /// The sync log: these message types, of these pipes (all when empty, names in lower case).
    Sync { message_types: Vec<String>, pipes: Vec<String> },
    /// The failed-operations log.
    FailedOps,
    /// The error log.
    Error,
}

/// A log publisher that ferrosync writes.
#[derive(Clone, Debug)]
pub struct LogPublisherSettings {
    pub name: String,
    pub enabled: bool,
    /// Relative to the server root.
    pub log_file: Option<String>,
    pub kind: LogPublisherKind,
}

impl LogPublisherSettings {
    /// The settings of a publisher; `None` for the types ferrosync does not write.
    pub fn read(r: &Reader) -> Result<Option<Self>, SettingsError> {
        let kind = match r.variant().unwrap_or("") {
            "file-based-sync" => LogPublisherKind::Sync {
                message_types: r.texts("logged-message-type")?,
                pipes: r.texts("include-sync-pipe")?.iter().map(|p| p.to_lowercase()).collect(),
            },
            "file-based-sync-failed-ops" => LogPublisherKind::FailedOps,
            "file-based-error" => LogPublisherKind::Error,
            _ => return Ok(None),
        };
        Ok(Some(LogPublisherSettings {
            name: r.name().to_string(),
            enabled: r.flag("enabled")?,
            log_file: r.text("log-file")?,
            kind,
        }))
    }

    /// Every log publisher of the configuration that ferrosync writes.
    pub fn all(config: &crate::config::Config) -> Result<Vec<Self>, SettingsError> {
        let mut out = Vec::new();
        for p in config.all("log-publisher") {
            out.extend(LogPublisherSettings::read(&Reader::new(p))?);
        }
        Ok(out)
    }
}
