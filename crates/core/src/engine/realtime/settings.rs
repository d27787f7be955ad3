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
    /// While a change waits for an endpoint (down, busy, timing out), the first wait before it is tried again
    /// (`retry-backoff-initial-wait`)...
    pub initial_backoff: Duration,
    /// ... the longest wait between attempts (`retry-backoff-max-wait`)...
    pub max_backoff: Duration,
    /// ... and how the wait grows after each attempt: by this much (`retry-backoff-increase-by`)...
    pub backoff_increase_by: Duration,
    /// ... and by this percentage (`retry-backoff-percentage-increase`).
    pub backoff_percentage_increase: u32,
    /// A change that failed for a reason retrying at once cannot fix (refused by the destination, a missing
    /// parent, a mapping failure) is tried again in the background this many times
    /// (`max-failed-op-background-retries`) before it is logged as failed...
    pub background_retries: u32,
    /// ... this long after each failure (`failed-op-background-retry-delay`).
    pub background_retry_delay: Duration,
    /// The mass-delete guard: more deletes than this within `mass_delete_interval` are held (0: no guard).
    pub mass_delete_threshold: u64,
    pub mass_delete_interval: Duration,
}

impl PipeSettings {
    /// The settings of pipe `pipe` and its source, from their typed settings.
    pub fn from_config(config: &crate::config::Config, pipe: &str) -> Result<PipeSettings, SettingsError> {
        let p = SyncPipeSettings::of(config, pipe)?;
        let source = Reader::new(crate::settings::lookup(config, "sync-source", &p.sync_source)?);
        // LDAP sources name modifiers by DN, a jdbc source by database role.
        let mut ignore_changes_by = Vec::new();
        for prop in ["ignore-changes-by-dn", "ignore-changes-by-user"] {
            if source.declares(prop) {
                ignore_changes_by.extend(source.texts(prop)?);
            }
        }
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
            initial_backoff: p.retry.retry_backoff_initial_wait.max(MIN_BACKOFF),
            max_backoff: p.retry.retry_backoff_max_wait.max(p.retry.retry_backoff_initial_wait).max(MIN_BACKOFF),
            backoff_increase_by: p.retry.retry_backoff_increase_by,
            backoff_percentage_increase: p.retry.retry_backoff_percentage_increase,
            background_retries: p.max_failed_op_background_retries,
            background_retry_delay: p.failed_op_background_retry_delay,
            mass_delete_threshold: p.mass_delete_threshold,
            mass_delete_interval: p.mass_delete_interval,
        }
    }

    /// The wait after `wait` while an endpoint keeps failing: grown by the pipe's increase and percentage,
    /// at most [`PipeSettings::max_backoff`].
    pub fn next_backoff(&self, wait: Duration) -> Duration {
        let grown = wait.mul_f64(1.0 + f64::from(self.backoff_percentage_increase) / 100.0) + self.backoff_increase_by;
        grown.clamp(self.initial_backoff.min(self.max_backoff), self.max_backoff)
    }
}

/// The shortest wait between attempts, whatever the configuration says (an endpoint is never hammered).
const MIN_BACKOFF: Duration = Duration::from_millis(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_by_the_percentage_and_the_increase_up_to_the_max() {
        let mut s = PipeSettings {
            polling_interval: Duration::from_millis(5),
            threads: 1,
            batch: 1,
            max_rate: 0,
            ignore_changes_by: Vec::new(),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            backoff_increase_by: Duration::ZERO,
            backoff_percentage_increase: 100,
            background_retries: 0,
            background_retry_delay: Duration::from_secs(60),
            mass_delete_threshold: 0,
            mass_delete_interval: Duration::from_secs(60),
        };
        assert_eq!(s.next_backoff(Duration::from_millis(100)), Duration::from_millis(200));
        assert_eq!(s.next_backoff(Duration::from_millis(800)), Duration::from_secs(1));
        s.backoff_percentage_increase = 0;
        s.backoff_increase_by = Duration::from_millis(100);
        assert_eq!(s.next_backoff(Duration::from_millis(100)), Duration::from_millis(200));
        // Neither: the wait stays as it is.
        s.backoff_increase_by = Duration::ZERO;
        assert_eq!(s.next_backoff(Duration::from_millis(100)), Duration::from_millis(100));
    }
}
