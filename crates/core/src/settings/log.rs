//! Log publishers.

use super::{Reader, SettingsError};
use crate::logfile::{Policies, Retention, Rotation};

/// A `log-rotation-policy`.
pub fn read_rotation(r: &Reader) -> Result<Rotation, SettingsError> {
    Ok(match r.variant().unwrap_or("") {
        "size-limit" => Rotation::Size(r.required_size("file-size-limit")?),
        "time-limit" => Rotation::Every(r.required_duration("rotation-interval")?),
        "fixed-time" => {
            let mut times = Vec::new();
            for t in r.texts("time-of-day")? {
                times.push(Policies::time_of_day(&t).ok_or_else(|| SettingsError::Invalid {
                    object: r.label(),
                    reason: format!(
                        "time-of-day '{t}' is not a time of day: expected HHmm (UTC), such as 2359 or 0030"
                    ),
                })?);
            }
            if times.is_empty() {
                return Err(SettingsError::Missing { object: r.label(), property: "time-of-day".into() });
            }
            Rotation::At(times)
        }
        _ => Rotation::Never,
    })
}

/// A `log-retention-policy`.
pub fn read_retention(r: &Reader) -> Result<Retention, SettingsError> {
    Ok(match r.variant().unwrap_or("") {
        "file-count" => Retention::Files(r.required_integer("number-of-files")?),
        "size-limit" => Retention::DiskUsed(r.required_size("disk-space-used")?),
        "free-disk-space" => Retention::FreeDisk(r.required_size("free-disk-space")?),
        "time-limit" => Retention::Age(r.required_duration("retain-duration")?),
        _ => Retention::Never,
    })
}

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
    /// The names of its `rotation-policy` and `retention-policy` objects.
    pub rotation_policies: Vec<String>,
    pub retention_policies: Vec<String>,
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
            rotation_policies: r.texts("rotation-policy")?,
            retention_policies: r.texts("retention-policy")?,
        }))
    }

    /// Its rotation and retention policies, read from `config`.
    pub fn policies(&self, config: &crate::config::Config) -> Result<Policies, SettingsError> {
        let mut out = Policies::default();
        for name in &self.rotation_policies {
            out.rotation.push(read_rotation(&Reader::new(super::lookup(config, "log-rotation-policy", name)?))?);
        }
        for name in &self.retention_policies {
            out.retention.push(read_retention(&Reader::new(super::lookup(config, "log-retention-policy", name)?))?);
        }
        Ok(out)
    }

    /// The policies of the error logger, which the logs without a publisher of their own follow
    /// (`server.out`, the tools' logs); none when there is none or it cannot be read.
    pub fn error_log_policies(config: &crate::config::Config) -> Policies {
        LogPublisherSettings::all(config)
            .ok()
            .and_then(|all| all.into_iter().find(|p| p.enabled && p.kind == LogPublisherKind::Error))
            .and_then(|p| p.policies(config).ok())
            .unwrap_or_default()
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
