//! A pipe's real-time settings ([`PipeSettings`]), from its configuration.

use std::time::Duration;

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
    /// The settings of pipe `pipe` and its source.
    pub fn from_config(config: &crate::config::Config, pipe: &str) -> PipeSettings {
        let p = config.get("sync-pipe", pipe);
        let d = |prop: &str, default: u64| {
            p.and_then(|p| p.first(prop))
                .and_then(crate::model::duration_value)
                .unwrap_or(Duration::from_millis(default))
        };
        let n =
            |prop: &str, default: u64| p.and_then(|p| p.first(prop)).and_then(|v| v.parse().ok()).unwrap_or(default);
        let source = p.and_then(|p| p.first("sync-source")).and_then(|s| config.get("sync-source", s));
        PipeSettings {
            polling_interval: d("change-detection-polling-interval", 500),
            threads: n("num-worker-threads", 32).max(1) as usize,
            batch: n("changes-queue-size", 5000).clamp(1, 1000) as usize,
            max_rate: n("max-rate-per-second", 0),
            ignore_changes_by: source
                .map(|s| s.values("ignore-changes-by-dn").iter().map(|v| v.to_string()).collect())
                .unwrap_or_default(),
            max_backoff: d("retry-backoff-max-wait", 5000).max(Duration::from_secs(1)),
        }
    }
}
