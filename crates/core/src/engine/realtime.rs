//! Real-time synchronization of one pipe: poll the change detector, apply changes to different entries in
//! parallel and changes to one entry in order, and advance the saved start point only past changes that are
//! fully applied (in the same transaction as the id map), so a crash never skips a change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{watch, Semaphore};

use super::{Engine, Operation, Outcome, SyncOptions, SyncResult};
use crate::endpoint::{Change, ChangeDetector, ChangeKind, EndpointError, StartPoint, StartPointRequest};
use crate::entry::Entry;
use crate::store::{IdMapping, Store};
use crate::synclog::{LogEvent, SyncLog};
use crate::syntax::{dn_equal, normalize_dn};

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
            threads: n("num-worker-threads", 4).max(1) as usize,
            batch: n("changes-queue-size", 5000).clamp(1, 1000) as usize,
            max_rate: n("max-rate-per-second", 0),
            ignore_changes_by: source
                .map(|s| s.values("ignore-changes-by-dn").iter().map(|v| v.to_string()).collect())
                .unwrap_or_default(),
            max_backoff: d("retry-backoff-max-wait", 5000).max(Duration::from_secs(1)),
        }
    }
}

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
    pub unretrieved: AtomicU64,
    /// Milliseconds since the epoch of the newest applied change's detection, for the lag.
    pub last_applied_ms: AtomicU64,
    /// Milliseconds since the epoch when the pipe last had nothing left to read: the lag is the time since.
    pub caught_up_ms: AtomicU64,
    pub started_ms: AtomicU64,
}

/// A snapshot of [`PipeStats`], as saved for `status`.
#[derive(Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
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
}

impl PipeStats {
    fn count(&self, outcome: &Outcome) {
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
            unretrieved_changes: g(&self.unretrieved),
            lag_ms: if g(&self.unretrieved) == 0 && g(&self.queued) == 0 {
                0
            } else {
                now_ms().saturating_sub(g(&self.caught_up_ms).max(g(&self.started_ms)))
            },
            start_point: start_point.to_string(),
            last_error,
        }
    }
}

/// The result of one change.
struct Applied {
    change: Change,
    result: SyncResult,
    source_dn: String,
    put: Option<IdMapping>,
    remove: Option<String>,
}

/// Runs one pipe until `shutdown` turns true.
pub struct PipeRunner {
    pub pipe: String,
    pub engine: Engine,
    pub detector: Arc<dyn ChangeDetector>,
    /// The state store (a mutex makes the runner's future `Send`; it is never held across an await).
    pub store: std::sync::Mutex<Store>,
    pub settings: PipeSettings,
    pub log: Arc<SyncLog>,
    pub stats: Arc<PipeStats>,
}

/// Why a pipe stopped.
#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error(transparent)]
    Store(#[from] crate::error::StoreError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

fn key_of(change: &Change) -> String {
    match &change.unique_id {
        Some(u) => format!("id:{}", u.to_ascii_lowercase()),
        None => format!("dn:{}", normalize_dn(&change.dn).unwrap_or_else(|_| change.dn.to_lowercase())),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl PipeRunner {
    /// The saved start point; a pipe that has none starts at the end of the change log (and says so).
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn initial_start_point(&mut self) -> Result<StartPoint, RealtimeError> {
        let saved = self.store().start_point(&self.pipe)?;
        if let Some(sp) = saved {
            return Ok(StartPoint(sp));
        }
        let sp = self.detector.start_point(&StartPointRequest::EndOfChangelog).await?;
        self.store().set_start_point(&self.pipe, sp.as_str())?;
        Ok(sp)
    }

    /// Synchronizes changes until `shutdown` is true. A batch in progress is finished first.
    ///
    /// A reader task polls the change detector ahead of the changes being applied (one batch ahead at most),
    /// so that reading the change log and applying changes overlap; the start point still advances only past
    /// applied batches.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), RealtimeError> {
        let started = Instant::now();
        self.stats.started_ms.store(now_ms(), Ordering::Relaxed);
        let mut last_error: Option<String> = None;
        let mut start = loop {
            match self.initial_start_point().await {
                Ok(sp) => break sp,
                Err(e) => {
                    last_error = Some(e.to_string());
                    self.save_stats("", started, &last_error);
                    if wait_or_shutdown(&mut shutdown, self.settings.max_backoff).await {
                        return Ok(());
                    }
                }
            }
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let reader = Reader {
            pipe: self.pipe.clone(),
            detector: self.detector.clone(),
            settings: self.settings.clone(),
            log: self.log.clone(),
            stats: self.stats.clone(),
        };
        let reader = tokio::spawn(reader.run(start.clone(), tx, shutdown.clone()));
        let mut backoff = self.settings.polling_interval.max(Duration::from_millis(100));
        self.save_stats(start.as_str(), started, &last_error);
        let mut last_stats = Instant::now();
        loop {
            if *shutdown.borrow() {
                break;
            }
            if last_stats.elapsed() >= Duration::from_millis(250) {
                self.save_stats(start.as_str(), started, &last_error);
                last_stats = Instant::now();
            }
            let msg = tokio::select! {
                biased;
                r = shutdown.changed() => {
                    if r.is_err() {
                        break;
                    }
                    continue;
                }
                m = tokio::time::timeout(Duration::from_millis(250), rx.recv()) => m,
            };
            let changes = match msg {
                Err(_) => continue,
                Ok(None) => break,
                Ok(Some(Read::Failed(e))) => {
                    last_error = Some(e);
                    self.save_stats(start.as_str(), started, &last_error);
                    continue;
                }
                Ok(Some(Read::Idle(next))) => {
                    // Everything read before was applied (batches arrive in order): the log moved past records
                    // that needed no work (DirSync: objects out of scope), so they are not read again.
                    if next != start {
                        self.store().record_progress(&self.pipe, next.as_str(), &[], &[])?;
                        start = next;
                    }
                    continue;
                }
                Ok(Some(Read::Changes(changes))) => changes,
            };
            // Apply the batch; while an endpoint is down, try the same batch again (nothing is skipped).
            loop {
                match self.apply_batch(&changes).await {
                    Ok(applied) => {
                        let end = changes.last().map(|c| c.after.clone()).unwrap_or_else(|| start.clone());
                        let puts: Vec<IdMapping> = applied.iter().filter_map(|a| a.put.clone()).collect();
                        let removes: Vec<String> = applied.iter().filter_map(|a| a.remove.clone()).collect();
                        self.store().record_progress(&self.pipe, end.as_str(), &puts, &removes)?;
                        start = end;
                        let n = changes.len() as u64;
                        let _ = self
                            .stats
                            .queued
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(n)));
                        for a in &applied {
                            self.report(a);
                        }
                        self.stats.last_applied_ms.store(now_ms(), Ordering::Relaxed);
                        last_error = None;
                        backoff = self.settings.polling_interval.max(Duration::from_millis(100));
                        break;
                    }
                    Err(down) => {
                        self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                        last_error = Some(down);
                        self.save_stats(start.as_str(), started, &last_error);
                        if wait_or_shutdown(&mut shutdown, backoff).await {
                            // Stopping: the batch is not recorded, so it is read again at the next start.
                            reader.abort();
                            self.save_stats(start.as_str(), started, &last_error);
                            return Ok(());
                        }
                        backoff = (backoff * 2).min(self.settings.max_backoff);
                    }
                }
            }
        }
        reader.abort();
        self.save_stats(start.as_str(), started, &last_error);
        Ok(())
    }

    fn save_stats(&self, start: &str, started: Instant, last_error: &Option<String>) {
        let snap = self.stats.snapshot(start, started.elapsed(), last_error.clone());
        if let Ok(json) = serde_json::to_string(&snap) {
            let _ = self.store().set_stats(&self.pipe, &json);
        }
    }

    fn report(&self, a: &Applied) {
        self.stats.count(&a.result.outcome);
        let c = &a.change;
        let (message_type, message) = match &a.result.outcome {
            Outcome::Created | Outcome::Modified | Outcome::Deleted => (
                "change-applied",
                format!(
                    "Synchronized {} of {} ({}): {}",
                    c.kind.name(),
                    a.source_dn,
                    a.result.class.as_deref().unwrap_or("-"),
                    a.result.outcome.name()
                ),
            ),
            Outcome::NoChangeNeeded => (
                "no-change-needed",
                format!("No change needed at the destination for {} of {}", c.kind.name(), a.source_dn),
            ),
            Outcome::OutOfScope => {
                ("dropped-out-of-scope", format!("Dropped {} of {}: no sync class matches", c.kind.name(), a.source_dn))
            }
            Outcome::OpTypeNotSynchronized => (
                "dropped-op-type-not-synchronized",
                format!(
                    "Dropped {} of {}: sync class '{}' does not synchronize this operation",
                    c.kind.name(),
                    a.source_dn,
                    a.result.class.as_deref().unwrap_or("-")
                ),
            ),
            other => (
                "change-failed-detailed",
                format!("Failed to synchronize {} of {}: {other}", c.kind.name(), a.source_dn),
            ),
        };
        self.log.log(&LogEvent {
            pipe: &self.pipe,
            change: c,
            message_type,
            message,
            destination_dn: a.result.destination.as_deref(),
            changes: &a.result.changes,
        });
        if a.result.outcome.is_failure() || matches!(a.result.outcome, Outcome::NoMatchFound) {
            self.log.failed(
                &self.pipe,
                c,
                &a.source_dn,
                a.result.destination.as_deref(),
                &a.result.outcome.to_string(),
                &a.result.changes,
            );
        }
    }

    /// Applies a batch: changes to one entry in order, different entries in parallel. `Err` when an endpoint
    /// as a whole is down (the batch must be tried again).
    async fn apply_batch(&self, changes: &[Change]) -> Result<Vec<Applied>, String> {
        let prefetched = Arc::new(self.prefetch(changes).await);
        let mut lanes: Vec<Vec<usize>> = Vec::new();
        let mut lane_of: HashMap<String, usize> = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            let k = key_of(c);
            let lane = *lane_of.entry(k).or_insert_with(|| {
                lanes.push(Vec::new());
                lanes.len() - 1
            });
            lanes[lane].push(i);
        }
        let permits = Arc::new(Semaphore::new(self.settings.threads));
        let mut tasks = tokio::task::JoinSet::new();
        let rate = self.settings.max_rate;
        for lane in lanes {
            let lane_changes: Vec<Change> = lane.iter().map(|&i| changes[i].clone()).collect();
            let ctx = ChangeContext {
                prefetched: prefetched.clone(),
                pipe: self.pipe.clone(),
                engine: self.engine.clone(),
                ignore: self.settings.ignore_changes_by.clone(),
            };
            let known = self.known_for(&lane_changes);
            let permits = permits.clone();
            let stats = self.stats.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let mut out = Vec::new();
                let mut known = known;
                for change in lane_changes {
                    stats.in_flight.fetch_add(1, Ordering::Relaxed);
                    let applied = ctx.apply(change, known.clone()).await;
                    stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                    if let Some(down) = applied.result.endpoint_down.clone() {
                        return Err(down);
                    }
                    if let Some(p) = &applied.put {
                        known = Some(p.clone());
                    }
                    if applied.remove.is_some() {
                        known = None;
                    }
                    out.push(applied);
                    if rate > 0 {
                        tokio::time::sleep(Duration::from_secs_f64(1.0 / rate as f64)).await;
                    }
                }
                Ok(out)
            });
        }
        let mut all = Vec::new();
        let mut down = None;
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(Ok(v)) => all.extend(v),
                Ok(Err(d)) => down = Some(d),
                Err(e) => down = Some(format!("internal error: {e}")),
            }
        }
        if let Some(d) = down {
            return Err(d);
        }
        // Report in change order.
        let order: HashMap<&str, usize> = changes.iter().enumerate().map(|(i, c)| (c.after.as_str(), i)).collect();
        all.sort_by_key(|a| order.get(a.change.after.as_str()).copied().unwrap_or(usize::MAX));
        Ok(all)
    }

    /// Reads the current entries of a batch's changes at once, when the source can: one search for many
    /// entries instead of one each. A failure here only means that each change reads its own entry.
    async fn prefetch(&self, changes: &[Change]) -> HashMap<String, Entry> {
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<String> = changes
            .iter()
            .filter(|c| c.kind != ChangeKind::Delete && !c.entry_is_current)
            .filter(|c| {
                !c.modifier.as_ref().is_some_and(|m| self.settings.ignore_changes_by.iter().any(|d| dn_equal(d, m)))
            })
            .filter_map(|c| c.unique_id.clone())
            .filter(|u| seen.insert(u.to_ascii_lowercase()))
            .collect();
        if ids.len() < 2 {
            return HashMap::new();
        }
        self.engine.source.fetch_many_by_unique_id(&ids).await.unwrap_or_default()
    }

    /// The id-map record of a lane's entry, if it was synchronized before.
    fn known_for(&self, lane: &[Change]) -> Option<IdMapping> {
        let first = lane.first()?;
        if let Some(u) = &first.unique_id {
            if let Ok(Some(m)) = self.store().id_mapping(&self.pipe, u) {
                return Some(m);
            }
        }
        if !first.dn.is_empty() {
            if let Ok(Some(m)) = self.store().id_mapping_by_dn(&self.pipe, &first.dn) {
                return Some(m);
            }
        }
        None
    }
}

/// Waits for `d` or until shutdown; returns true when shutting down.
async fn wait_or_shutdown(shutdown: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        r = shutdown.changed() => r.is_err() || *shutdown.borrow(),
    }
}

/// What the reader hands the pipe runner, in the order it read the log.
enum Read {
    Changes(Vec<Change>),
    /// A poll found no change but moved the log's position on to this start point.
    Idle(StartPoint),
    /// A poll failed (the reader retries it with backoff).
    Failed(String),
}

/// Reads the change log ahead of the pipe runner and hands it the changes, a batch at a time.
struct Reader {
    pipe: String,
    detector: Arc<dyn ChangeDetector>,
    settings: PipeSettings,
    log: Arc<SyncLog>,
    stats: Arc<PipeStats>,
}

impl Reader {
    /// Polls from `cursor` on until shutdown or until the runner stops listening. Poll errors are passed on
    /// (for status) and retried with backoff from the same cursor.
    async fn run(
        self,
        mut cursor: StartPoint,
        tx: tokio::sync::mpsc::Sender<Read>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let interval = self.settings.polling_interval;
        let mut backoff = interval.max(Duration::from_millis(100));
        let mut last_count = Instant::now();
        loop {
            if *shutdown.borrow() || tx.is_closed() {
                return;
            }
            if last_count.elapsed() >= Duration::from_millis(250) {
                if let Ok(Some(n)) = self.detector.unretrieved(&cursor).await {
                    self.stats.unretrieved.store(n, Ordering::Relaxed);
                }
                last_count = Instant::now();
            }
            self.stats.polls.fetch_add(1, Ordering::Relaxed);
            let changes = match self.detector.poll(&cursor, self.settings.batch, interval).await {
                Ok(c) => c,
                Err(e) => {
                    if tx.send(Read::Failed(e.to_string())).await.is_err()
                        || wait_or_shutdown(&mut shutdown, backoff).await
                    {
                        return;
                    }
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                    continue;
                }
            };
            backoff = interval.max(Duration::from_millis(100));
            let Some(last) = changes.last() else {
                if let Some(next) = self.detector.idle_start_point(&cursor).await {
                    if next != cursor {
                        cursor = next.clone();
                        if tx.send(Read::Idle(next)).await.is_err() {
                            return;
                        }
                    }
                }
                self.stats.caught_up_ms.store(now_ms(), Ordering::Relaxed);
                self.stats.unretrieved.store(0, Ordering::Relaxed);
                // A push detector's empty poll already waited for a change.
                if !self.detector.waits_for_changes() && wait_or_shutdown(&mut shutdown, interval).await {
                    return;
                }
                continue;
            };
            cursor = last.after.clone();
            self.stats.detected.fetch_add(changes.len() as u64, Ordering::Relaxed);
            self.stats.queued.fetch_add(changes.len() as u64, Ordering::Relaxed);
            for c in &changes {
                self.log.log(&LogEvent {
                    pipe: &self.pipe,
                    change: c,
                    message_type: "change-detected",
                    message: format!(
                        "Detected {} of {}",
                        c.kind.name(),
                        if c.dn.is_empty() { c.unique_id.as_deref().unwrap_or("") } else { &c.dn }
                    ),
                    destination_dn: None,
                    changes: &[],
                });
            }
            if tx.send(Read::Changes(changes)).await.is_err() {
                return;
            }
        }
    }
}

/// What one change needs, cloned into its task.
struct ChangeContext {
    pipe: String,
    engine: Engine,
    ignore: Vec<String>,
    /// The batch's source entries, read at once before it was applied, by lower-cased unique id.
    prefetched: Arc<HashMap<String, Entry>>,
}

impl ChangeContext {
    fn applied(&self, change: Change, result: SyncResult, source_dn: String) -> Applied {
        Applied { change, result, source_dn, put: None, remove: None }
    }

    async fn apply(&self, change: Change, known: Option<IdMapping>) -> Applied {
        let _ = &self.pipe;
        if let Some(m) = &change.modifier {
            if self.ignore.iter().any(|d| dn_equal(d, m)) {
                let mut r = SyncResult::new(Outcome::NoChangeNeeded);
                r.class = Some("ignored: made by an ignored DN".into());
                let mut a = self.applied(change.clone(), r, change.dn);
                // What the destination holds is no longer known for sure (in a two-way setup, the other pipe
                // wrote this change from the destination's side): the entry's next change reads it.
                if let Some(k) = known.filter(|k| k.digest.is_some()) {
                    a.put = Some(IdMapping { digest: None, ..k });
                }
                return a;
            }
        }
        match change.kind {
            ChangeKind::Delete => self.apply_delete(change, known).await,
            _ => self.apply_update(change, known).await,
        }
    }

    async fn apply_delete(&self, change: Change, known: Option<IdMapping>) -> Applied {
        let source_dn = if change.dn.is_empty() {
            known.as_ref().map(|k| k.source_dn.clone()).unwrap_or_default()
        } else {
            change.dn.clone()
        };
        let class = self.engine.mapping.select_class(&source_dn, None);
        let Some(class) = class else {
            return self.applied(change, SyncResult::new(Outcome::OutOfScope), source_dn);
        };
        let result = match &known {
            Some(k) => self.engine.delete_known(class, &k.dest_dn, false).await,
            None if source_dn.is_empty() => SyncResult::new(Outcome::NoMatchFound),
            None => self.engine.delete_entry(&Entry::new(&source_dn), &SyncOptions::default()).await,
        };
        let remove = match (&result.outcome, &change.unique_id, &known) {
            (Outcome::Deleted | Outcome::NoMatchFound, Some(u), _) => Some(u.clone()),
            (Outcome::Deleted | Outcome::NoMatchFound, None, Some(k)) => Some(k.source_id.clone()),
            _ => None,
        };
        // A delete whose entry is already gone at the destination needs no change.
        let result = if matches!(result.outcome, Outcome::NoMatchFound) {
            SyncResult { outcome: Outcome::NoChangeNeeded, ..result }
        } else {
            result
        };
        let mut a = self.applied(change, result, source_dn);
        a.remove = remove;
        a
    }

    async fn apply_update(&self, change: Change, known: Option<IdMapping>) -> Applied {
        let target = change.new_dn.clone().unwrap_or_else(|| change.dn.clone());
        // Fetch the current entry: the change log's content is not trusted, so stale data is never synced. A
        // pushed entry is the entry as it stood after the change, and any later change follows it in order.
        // An entry read for the whole batch was read after this change was logged: it is as current.
        let pushed = if change.entry_is_current {
            change.entry.clone()
        } else {
            change.unique_id.as_ref().and_then(|u| self.prefetched.get(&u.to_ascii_lowercase()).cloned())
        };
        let mut current = match pushed {
            Some(e) => Some(e),
            None => match self.engine.source.fetch(&target).await {
                Ok(e) => e,
                Err(e) => return self.applied(change.clone(), SyncResult::failed(&e), target),
            },
        };
        if current.is_none() {
            if let Some(u) = &change.unique_id {
                current = match self.engine.source.fetch_by_unique_id(u).await {
                    Ok(e) => e,
                    Err(e) => return self.applied(change.clone(), SyncResult::failed(&e), target),
                };
            }
        }
        let Some(mut entry) = current else {
            // Gone since: the delete that follows in the log handles it.
            return self.applied(change.clone(), SyncResult::new(Outcome::NoChangeNeeded), target);
        };
        if let Some(pw) = &change.password {
            // A clear-text password from the change log, for destinations that take one.
            entry.set("userPassword", vec![crate::entry::Value::Text(pw.expose().to_string())]);
        }
        let source_dn = entry.dn.clone();
        let unique_id = change.unique_id.clone().or_else(|| self.engine.source.unique_id(&entry));
        // A rename or move of an entry the id map does not know (synchronized by resync, say): its old DN,
        // mapped as it was, names the destination entry to rename.
        let old_class =
            if change.kind == ChangeKind::ModDn { self.engine.mapping.select_class(&change.dn, None) } else { None };
        let known = match (known, old_class) {
            (Some(k), _) => Some(k),
            (None, Some(c)) => c.map_dn(&change.dn, None).ok().map(|dest_dn| IdMapping {
                source_id: unique_id.clone().unwrap_or_default(),
                source_dn: change.dn.clone(),
                dest_dn,
                digest: None,
            }),
            (None, None) => None,
        };
        let class = self.engine.class_for(&entry);
        let Some(class) = class else {
            // Out of every class now: if it was synchronized before, it moved out of scope and goes.
            if let Some(k) = &known {
                if let Some(old) = self.engine.mapping.select_class(&k.source_dn, None) {
                    let r = self.engine.delete_known(old, &k.dest_dn, false).await;
                    let deleted = matches!(r.outcome, Outcome::Deleted);
                    let mut a = self.applied(change, r, source_dn);
                    if deleted {
                        a.remove = Some(k.source_id.clone());
                    }
                    return a;
                }
            }
            return self.applied(change, SyncResult::new(Outcome::OutOfScope), source_dn);
        };
        // An entry that was never synchronized and now enters a class (moved or modified into its scope) is
        // created, as a create would be. So is one whose change does not say which attributes changed (an RFC
        // 4533 refresh from a cookie sends new and changed entries alike): it may be new.
        let entering = known.is_none()
            && match change.kind {
                ChangeKind::ModDn => old_class.is_none(),
                ChangeKind::Modify if change.changed_attributes.is_empty() => true,
                ChangeKind::Modify => {
                    let filter_attrs: Vec<String> = class.filters().iter().flat_map(|f| f.attributes()).collect();
                    change.changed_attributes.iter().any(|a| filter_attrs.iter().any(|f| f.eq_ignore_ascii_case(a)))
                }
                _ => false,
            };
        let operation = match change.kind {
            ChangeKind::Add => Operation::Create,
            _ if entering => Operation::Resync,
            _ => Operation::Modify,
        };
        let changed = match change.kind {
            ChangeKind::Modify if !change.changed_attributes.is_empty() && !entering => {
                Some(change.changed_attributes.clone())
            }
            _ => None,
        };
        let opts = SyncOptions { dry_run: false, exclude: Vec::new(), operation, changed_attributes: changed };
        let mut result = self.engine.sync_entry_known(&entry, &opts, known.as_ref()).await;
        // A create of an entry that already exists (a replayed change after a crash) is applied as a modify.
        if operation == Operation::Create
            && matches!(&result.outcome, Outcome::FailedAtResource(m) if m.contains("already exists at the destination"))
        {
            let opts = SyncOptions { operation: Operation::Resync, ..opts };
            result = self.engine.sync_entry_known(&entry, &opts, known.as_ref()).await;
        }
        let put = match (&result.outcome, &unique_id, &result.destination) {
            (Outcome::Created | Outcome::Modified | Outcome::NoChangeNeeded, Some(u), Some(d)) => Some(IdMapping {
                source_id: u.clone(),
                source_dn: source_dn.clone(),
                dest_dn: d.clone(),
                digest: result.digest.clone(),
            }),
            _ => None,
        };
        let mut a = self.applied(change, result, source_dn);
        a.put = put;
        a
    }
}
