//! A pipe's real-time settings ([`PipeSettings`]), from its configuration.

use std::time::Duration;

use crate::settings::{Reader, SettingsError, SyncPipeSettings};

/// A pipe's real-time settings, from its configuration.
#[derive(Clone, Debug)]
pub struct PipeSettings {
    pub polling_interval: Duration,
    pub threads: usize,
    /// Changes read per poll.
    pub batch: usize,
    /// Changes applied per second; 0 is unlimited.
    pub max_rate: u64,
    /// Changes made by these DNs are skipped (loop prevention).
    pub ignore_changes_by: Vec<String>,
    /// The longest wait between attempts while an endpoint is down.
    pub max_backoff: Duration,
}

impl PipeSettings {
    /// The settings of pipe `pipe` and its source, from their typed settings.
    pub fn from_config(config: &crate::config::Config, pipe: &str) -> Result<PipeSettings, SettingsError> {
        let p = SyncPipeSettings::of(config, pipe)?;
        let source = Reader::new(crate::settings::lookup(config, "sync-source", &p.sync_source)?);
        let ignore_changes_by =
            if source.declares("ignore-changes-by-dn") { source.texts("ignore-changes-by-dn")? } else { Vec::new() };
        Ok(PipeSettings::from_settings(&p, ignore_changes_by))
    }

    /// The real-time settings of a pipe whose source skips the changes made by `ignore_changes_by`.
    pub fn from_settings(p: &SyncPipeSettings, ignore_changes_by: Vec<String>) -> PipeSettings {
        PipeSettings {
            polling_interval: p.change_detection_polling_interval,
            threads: p.num_worker_threads,
            batch: p.changes_queue_size.clamp(1, 1000),
            max_rate: p.max_rate_per_second.unwrap_or(0),
            ignore_changes_by,
            max_backoff: p.retry.retry_backoff_max_wait.max(Duration::from_secs(1)),
        }
    }
}
