//! A pipe's counters ([`PipeStats`]), the snapshot of them saved for `status` ([`StatsSnapshot`]), the lag of
//! its applied changes ([`LagHistogram`]) and the running totals the metrics add up ([`Counters`]).

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
    /// Milliseconds since the epoch when the start point was last saved.
    pub saved_ms: AtomicU64,
    /// Microseconds that changes spent being applied, added up over the workers (for Percent Busy).
    pub busy_us: AtomicU64,
    /// `num-worker-threads`.
    pub threads: AtomicU64,
    /// From detection to application, of each applied change.
    pub lag: LagHistogram,
    /// The last snapshot the runner made (every 250 ms), for live figures.
    pub latest: std::sync::Mutex<Option<StatsSnapshot>>,
}

/// The upper bounds (seconds) of the buckets of [`LagHistogram`].
pub const LAG_BUCKETS: [f64; 14] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A histogram of durations in fixed buckets, without locks.
#[derive(Default, Debug)]
pub struct LagHistogram {
    /// Observations at most each bound of [`LAG_BUCKETS`] (not cumulative); beyond the last, only in `count`.
    buckets: [AtomicU64; LAG_BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl LagHistogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LAG_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn read(&self) -> LagCounts {
        LagCounts {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            count: self.count.load(Ordering::Relaxed),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// The counts of a [`LagHistogram`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LagCounts {
    pub buckets: [u64; LAG_BUCKETS.len()],
    pub count: u64,
    pub sum_us: u64,
}

/// A pipe's counters that only grow, added up over the runs of the pipe within one server process (a pipe runs
/// anew after each configuration change: its [`PipeStats`] start at zero, these do not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Counters {
    pub polls: u64,
    pub detected: u64,
    pub completed: u64,
    /// By [`OUTCOMES`].
    pub outcomes: [u64; OUTCOMES.len()],
    pub failed_attempts: u64,
    pub busy_us: u64,
    pub lag: LagCounts,
}

/// The outcomes of completed changes, in Ping's words, as [`Counters::outcomes`] orders them.
pub const OUTCOMES: [&str; 10] = [
    "created",
    "modified",
    "deleted",
    "no-change-needed",
    "out-of-scope",
    "op-type-not-synchronized",
    "no-match-found",
    "multiple-matches-found",
    "failed-during-mapping",
    "failed-at-resource",
];

impl Counters {
    /// Adds `other` to these.
    pub fn add(&mut self, other: &Counters) {
        self.polls += other.polls;
        self.detected += other.detected;
        self.completed += other.completed;
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
            *a += b;
        }
        self.failed_attempts += other.failed_attempts;
        self.busy_us += other.busy_us;
        for (a, b) in self.lag.buckets.iter_mut().zip(other.lag.buckets) {
            *a += b;
        }
        self.lag.count += other.lag.count;
        self.lag.sum_us += other.lag.sum_us;
    }
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
    /// While the mass-delete guard holds the pipe's deletes: its alert, and how many deletes wait now.
    pub mass_delete_alert: Option<String>,
    pub deletes_held: u64,
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

    /// The counters that only grow.
    pub fn counters(&self) -> Counters {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            polls: g(&self.polls),
            detected: g(&self.detected),
            completed: g(&self.completed),
            outcomes: [
                g(&self.created),
                g(&self.modified),
                g(&self.deleted),
                g(&self.no_change),
                g(&self.out_of_scope),
                g(&self.op_type_not_synced),
                g(&self.no_match),
                g(&self.multiple_matches),
                g(&self.failed_mapping),
                g(&self.failed_resource),
            ],
            failed_attempts: g(&self.failed_attempts),
            busy_us: g(&self.busy_us),
            lag: self.lag.read(),
        }
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
