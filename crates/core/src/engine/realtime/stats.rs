//! A pipe's counters ([`PipeStats`]) and the snapshot of them saved for `status` ([`StatsSnapshot`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::now_ms;
use crate::engine::Outcome;

/// A pipe's counters, shown by `status`.
#[derive(Default, Debug)]
pub struct PipeStats {
    pub polls: AtomicU64,
    pub detected: AtomicU64,
    pub in_flight: AtomicU64,
    pub queued: AtomicU64,
    pub completed: AtomicU64,
    pub created: AtomicU64,
    pub modified: AtomicU64,
    pub deleted: AtomicU64,
    pub no_change: AtomicU64,
    pub out_of_scope: AtomicU64,
    pub op_type_not_synced: AtomicU64,
    pub no_match: AtomicU64,
    pub multiple_matches: AtomicU64,
    pub failed_mapping: AtomicU64,
    pub failed_resource: AtomicU64,
    pub ignored: AtomicU64,
    pub failed_attempts: AtomicU64,
    /// Background retries of failed changes started (`max-failed-op-background-retries`).
    pub background_retries: AtomicU64,
    pub unretrieved: AtomicU64,
    /// Milliseconds since the epoch of the newest applied change's detection, for the lag.
    pub last_applied_ms: AtomicU64,
    /// Milliseconds since the epoch when the pipe last had nothing left to read: the lag is the time since.
    pub caught_up_ms: AtomicU64,
    pub started_ms: AtomicU64,
}

/// A snapshot of [`PipeStats`], as saved for `status`.
#[derive(Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct StatsSnapshot {
    pub started: bool,
    pub polls: u64,
    pub changes_detected: u64,
    pub ops_completed: u64,
    pub ops_per_second: f64,
    pub in_flight: u64,
    pub queued: u64,
    pub created: u64,
    pub modified: u64,
    pub deleted: u64,
    pub no_change_needed: u64,
    pub out_of_scope: u64,
    pub op_type_not_synchronized: u64,
    pub no_match_found: u64,
    pub multiple_matches_found: u64,
    pub failed_during_mapping: u64,
    pub failed_at_resource: u64,
    pub ignored: u64,
    pub failed_attempts: u64,
    pub unretrieved_changes: u64,
    /// How long the pipe has been behind the source: 0 when it has read everything.
    pub lag_ms: u64,
    pub start_point: String,
    pub last_error: Option<String>,
    /// While changes wait for an endpoint that is down or failing for now (a timeout, a busy or read-only
    /// server, HTTP 429 or 5xx): the last failure, how long they have waited and the attempts made.
    pub waiting_for_endpoint: Option<String>,
    pub waiting_ms: u64,
    pub waiting_attempts: u64,
    /// Background retries of failed changes started, and the changes waiting for one now.
    pub background_retries: u64,
    pub awaiting_background_retry: u64,
    /// The last failure to write a log (the sync log, the failed-operations log, the error log), if any.
    pub log_error: Option<String>,
}

impl PipeStats {
    pub(super) fn count(&self, outcome: &Outcome) {
        let c = match outcome {
            Outcome::Created => &self.created,
            Outcome::Modified => &self.modified,
            Outcome::Deleted => &self.deleted,
            Outcome::NoChangeNeeded => &self.no_change,
            Outcome::OutOfScope => &self.out_of_scope,
            Outcome::OpTypeNotSynchronized => &self.op_type_not_synced,
            Outcome::NoMatchFound => &self.no_match,
            Outcome::MultipleMatchesFound => &self.multiple_matches,
            Outcome::FailedDuringMapping(_) => &self.failed_mapping,
            Outcome::FailedAtResource(_) => &self.failed_resource,
            Outcome::WouldCreate | Outcome::WouldModify | Outcome::WouldDelete => &self.no_change,
        };
        c.fetch_add(1, Ordering::Relaxed);
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, start_point: &str, elapsed: Duration, last_error: Option<String>) -> StatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64().max(1.0);
        StatsSnapshot {
            started: true,
            polls: g(&self.polls),
            changes_detected: g(&self.detected),
            ops_completed: g(&self.completed),
            ops_per_second: (g(&self.completed) as f64 / secs * 10.0).round() / 10.0,
            in_flight: g(&self.in_flight),
            queued: g(&self.queued),
            created: g(&self.created),
            modified: g(&self.modified),
            deleted: g(&self.deleted),
            no_change_needed: g(&self.no_change),
            out_of_scope: g(&self.out_of_scope),
            op_type_not_synchronized: g(&self.op_type_not_synced),
            no_match_found: g(&self.no_match),
            multiple_matches_found: g(&self.multiple_matches),
            failed_during_mapping: g(&self.failed_mapping),
            failed_at_resource: g(&self.failed_resource),
            ignored: g(&self.ignored),
            failed_attempts: g(&self.failed_attempts),
            background_retries: g(&self.background_retries),
            unretrieved_changes: g(&self.unretrieved),
            lag_ms: if g(&self.unretrieved) == 0 && g(&self.queued) == 0 {
                0
            } else {
                now_ms().saturating_sub(g(&self.caught_up_ms).max(g(&self.started_ms)))
            },
            start_point: start_point.to_string(),
            last_error,
            ..StatsSnapshot::default()
        }
    }
}
