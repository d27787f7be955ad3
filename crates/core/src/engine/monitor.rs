//! What the running sync server knows of itself, live: each pipe's counters (added up over the pipe's runs in
//! this process), whether it runs and why not, a history of the last hour, and the state of the HTTP
//! connection handlers. The supervisor and the HTTP side write it; the metrics, the health answers and the live
//! figures of `status` read a [`MonitorView`] of it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::realtime::{now_ms, Counters, PipeStats, StatsSnapshot};

/// How often [`Monitor::sample`] is meant to run, and how much history is kept.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);
const HISTORY: usize = 720;

/// The shared live state (cheap to clone).
#[derive(Clone, Default)]
pub struct Monitor {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    started_ms: u64,
    pipes: BTreeMap<String, PipeState>,
    handlers: BTreeMap<String, HandlerView>,
}

#[derive(Default)]
struct PipeState {
    /// The counters of the pipe's ended runs.
    base: Counters,
    /// The run in progress.
    stats: Option<Arc<PipeStats>>,
    /// Whether the configuration says it runs (the pipe and the global configuration are started).
    expected: bool,
    /// Why it does not run: it cannot start, or it stopped.
    failure: Option<String>,
    history: VecDeque<Sample>,
}

impl PipeState {
    fn retire(&mut self) {
        if let Some(s) = self.stats.take() {
            self.base.add(&s.counters());
        }
    }

    fn counters(&self) -> Counters {
        let mut c = self.base;
        if let Some(s) = &self.stats {
            c.add(&s.counters());
        }
        c
    }
}

/// One point of a pipe's history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the epoch.
    pub at_ms: u64,
    pub lag_ms: u64,
    pub completed: u64,
    pub busy_us: u64,
}

/// An HTTP connection handler as the server runs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlerView {
    pub name: String,
    /// `http://127.0.0.1:8080` while it listens.
    pub url: Option<String>,
    /// Why it does not listen.
    pub error: Option<String>,
}

/// The health of a pipe or of the server, in Ping's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Availability {
    Available,
    Degraded,
    Unavailable,
}

impl Availability {
    pub fn name(self) -> &'static str {
        match self {
            Availability::Available => "AVAILABLE",
            Availability::Degraded => "DEGRADED",
            Availability::Unavailable => "UNAVAILABLE",
        }
    }
}

/// A pipe, live.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PipeView {
    pub name: String,
    pub expected: bool,
    pub running: bool,
    pub failure: Option<String>,
    /// The running pipe's last snapshot (the default when it does not run).
    pub snapshot: StatsSnapshot,
    pub counters: Counters,
    pub threads: u64,
    /// The share of the workers' time spent applying changes over the last sample interval (0-100).
    pub percent_busy: f64,
    /// Seconds since the start point was last saved; 0 while nothing waits (the saved one is current).
    pub start_point_age_s: f64,
    pub history: Vec<Sample>,
}

impl PipeView {
    /// The pipe's health: unavailable when it should run and does not, degraded while it waits for an endpoint.
    pub fn availability(&self) -> Availability {
        if !self.expected {
            Availability::Available
        } else if !self.running {
            Availability::Unavailable
        } else if self.snapshot.waiting_for_endpoint.is_some() || self.snapshot.mass_delete_alert.is_some() {
            Availability::Degraded
        } else {
            Availability::Available
        }
    }
}

/// The server, live.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorView {
    pub pid: u32,
    pub started_ms: u64,
    pub pipes: Vec<PipeView>,
    pub handlers: Vec<HandlerView>,
}

/// The server's health and the alert types behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub state: Availability,
    pub degraded_alert_types: Vec<&'static str>,
    pub unavailable_alert_types: Vec<&'static str>,
}

impl MonitorView {
    /// The worst health of the pipes that should run: available when none should.
    pub fn health(&self) -> Health {
        let mut h = Health {
            state: Availability::Available,
            degraded_alert_types: Vec::new(),
            unavailable_alert_types: Vec::new(),
        };
        for p in &self.pipes {
            let a = p.availability();
            h.state = h.state.max(a);
            let degraded = if p.snapshot.mass_delete_alert.is_some() {
                "sync-pipe-mass-delete-held"
            } else {
                "sync-pipe-waiting-for-endpoint"
            };
            match a {
                Availability::Degraded if !h.degraded_alert_types.contains(&degraded) => {
                    h.degraded_alert_types.push(degraded)
                }
                Availability::Unavailable if !h.unavailable_alert_types.contains(&"sync-pipe-not-running") => {
                    h.unavailable_alert_types.push("sync-pipe-not-running")
                }
                _ => {}
            }
        }
        h
    }

    pub fn pipe(&self, name: &str) -> Option<&PipeView> {
        self.pipes.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

impl Monitor {
    pub fn new() -> Monitor {
        let m = Monitor::default();
        m.lock().started_ms = now_ms();
        m
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The configuration was loaded: these pipes should run, the others should not.
    pub fn expect(&self, names: &[String]) {
        let mut inner = self.lock();
        for p in inner.pipes.values_mut() {
            p.expected = false;
        }
        for n in names {
            inner.pipes.entry(n.clone()).or_default().expected = true;
        }
    }

    /// Pipe `name` runs with `stats`.
    pub fn started(&self, name: &str, stats: Arc<PipeStats>) {
        let mut inner = self.lock();
        let p = inner.pipes.entry(name.to_string()).or_default();
        p.retire();
        p.stats = Some(stats);
        p.failure = None;
    }

    /// Pipe `name` cannot run: `why`.
    pub fn failed(&self, name: &str, why: &str) {
        let mut inner = self.lock();
        let p = inner.pipes.entry(name.to_string()).or_default();
        p.retire();
        p.failure = Some(why.to_string());
    }

    /// Pipe `name` was stopped (to be started again, or because the configuration says so).
    pub fn stopped(&self, name: &str) {
        if let Some(p) = self.lock().pipes.get_mut(name) {
            p.retire();
        }
    }

    /// The state of a connection handler; `None` forgets it (it is disabled or gone).
    pub fn handler(&self, name: &str, state: Option<HandlerView>) {
        let mut inner = self.lock();
        match state {
            Some(v) => inner.handlers.insert(name.to_string(), v),
            None => inner.handlers.remove(name),
        };
    }

    /// Adds a point to each running pipe's history (every [`SAMPLE_EVERY`]).
    pub fn sample(&self) {
        let now = now_ms();
        let mut inner = self.lock();
        for p in inner.pipes.values_mut() {
            let c = p.counters();
            let lag_ms = p.stats.as_ref().map_or(0, |s| live_snapshot(s).lag_ms);
            p.history.push_back(Sample { at_ms: now, lag_ms, completed: c.completed, busy_us: c.busy_us });
            while p.history.len() > HISTORY {
                p.history.pop_front();
            }
        }
    }

    /// Everything, now.
    pub fn view(&self) -> MonitorView {
        let now = now_ms();
        let inner = self.lock();
        let pipes = inner
            .pipes
            .iter()
            .map(|(name, p)| {
                let counters = p.counters();
                let snapshot = p.stats.as_ref().map(|s| live_snapshot(s)).unwrap_or_default();
                let threads = p.stats.as_ref().map_or(0, |s| s.threads.load(std::sync::atomic::Ordering::Relaxed));
                let since = p.history.back().map_or((inner.started_ms, 0), |s| (s.at_ms, s.busy_us));
                let elapsed_us = now.saturating_sub(since.0).max(1) as f64 * 1000.0;
                let percent_busy = if threads == 0 {
                    0.0
                } else {
                    (counters.busy_us.saturating_sub(since.1) as f64 / (elapsed_us * threads as f64) * 100.0).min(100.0)
                };
                let start_point_age_s = match &p.stats {
                    Some(s) if snapshot.queued > 0 || snapshot.unretrieved_changes > 0 => {
                        let saved = s.saved_ms.load(std::sync::atomic::Ordering::Relaxed);
                        let from = saved.max(s.started_ms.load(std::sync::atomic::Ordering::Relaxed));
                        now.saturating_sub(from) as f64 / 1000.0
                    }
                    _ => 0.0,
                };
                PipeView {
                    name: name.clone(),
                    expected: p.expected,
                    running: p.stats.is_some(),
                    failure: p.failure.clone(),
                    snapshot,
                    counters,
                    threads,
                    percent_busy: (percent_busy * 10.0).round() / 10.0,
                    start_point_age_s,
                    history: p.history.iter().copied().collect(),
                }
            })
            .collect();
        MonitorView {
            pid: std::process::id(),
            started_ms: inner.started_ms,
            pipes,
            handlers: inner.handlers.values().cloned().collect(),
        }
    }
}

/// The runner's last snapshot, or one made now before its first.
fn live_snapshot(s: &PipeStats) -> StatsSnapshot {
    let latest = s.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    latest.unwrap_or_else(|| s.snapshot("", Duration::ZERO, None))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn counters_add_up_over_runs_and_health_follows_the_pipes() {
        let m = Monitor::new();
        m.expect(&["p".to_string(), "q".to_string()]);
        let first = Arc::new(PipeStats::default());
        first.detected.store(3, Ordering::Relaxed);
        first.created.store(2, Ordering::Relaxed);
        m.started("p", first.clone());
        m.started("q", Arc::new(PipeStats::default()));
        assert_eq!(m.view().health().state, Availability::Available);
        // The pipe runs again after a configuration change: its new stats start at 0, the totals do not.
        m.stopped("p");
        let second = Arc::new(PipeStats::default());
        second.detected.store(1, Ordering::Relaxed);
        m.started("p", second.clone());
        let v = m.view();
        assert_eq!(v.pipe("p").unwrap().counters.detected, 4);
        assert_eq!(v.pipe("p").unwrap().counters.outcomes[0], 2);
        // A pipe that waits for its destination: degraded.
        *second.latest.lock().unwrap() =
            Some(StatsSnapshot { waiting_for_endpoint: Some("down".into()), ..Default::default() });
        let h = m.view().health();
        assert_eq!(h.state, Availability::Degraded);
        assert_eq!(h.degraded_alert_types, ["sync-pipe-waiting-for-endpoint"]);
        // A pipe that cannot start: unavailable; one that should not run does not count.
        m.failed("q", "cannot start: no such server");
        let h = m.view().health();
        assert_eq!(h.state, Availability::Unavailable);
        assert_eq!(h.unavailable_alert_types, ["sync-pipe-not-running"]);
        m.expect(&["p".to_string()]);
        assert_eq!(m.view().health().state, Availability::Degraded);
        assert_eq!(m.view().pipe("q").unwrap().counters.detected, 0);
    }

    #[test]
    fn percent_busy_is_the_workers_share_since_the_last_sample() {
        let m = Monitor::new();
        m.expect(&["p".to_string()]);
        let s = Arc::new(PipeStats::default());
        s.threads.store(4, Ordering::Relaxed);
        m.started("p", s.clone());
        m.sample();
        // 4 workers, all busy for the whole interval, cannot be more than 100 %.
        s.busy_us.store(u64::MAX / 2, Ordering::Relaxed);
        let v = m.view();
        assert_eq!(v.pipe("p").unwrap().percent_busy, 100.0);
        assert_eq!(v.pipe("p").unwrap().history.len(), 1);
    }
}
