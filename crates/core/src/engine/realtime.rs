//! Real-time synchronization of one pipe: poll the change detector, apply changes to different entries in
//! parallel and changes to one entry in order, and advance the saved start point only past changes that are
//! fully applied (in the same transaction as the id map), so a crash never skips a change.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use super::{Engine, Operation, Outcome, SyncOptions, SyncResult};
use crate::endpoint::{Change, ChangeDetector, ChangeKind, EndpointError, StartPoint, StartPointRequest};
use crate::entry::Entry;
use crate::store::{IdMapping, Store, StoreWriter};
use crate::synclog::{LogBatch, LogEvent, SyncLog};
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
    /// The state store, for reads (a mutex makes the runner's future `Send`; it is never held across an await).
    pub store: std::sync::Mutex<Store>,
    /// Writes to the state store, on a thread of their own (see [`StoreWriter`]).
    pub writer: StoreWriter,
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
    #[error("the state store's writer stopped before saving the pipe's progress")]
    WriterGone,
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

    /// Synchronizes changes until `shutdown` is true; the changes being applied then are finished first.
    ///
    /// A reader task polls the change detector ahead of the changes being applied. Each change joins the lane
    /// of its entry: a lane applies its changes in log order, and up to `num-worker-threads` lanes apply at
    /// once. There is no barrier between batches: a change is applied as soon as a worker and its entry are
    /// free. The start point advances past the longest run of changes, in log order, that are all applied, and
    /// is saved with their id-map updates in one transaction, so a crash never skips a change.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), RealtimeError> {
        let started = Instant::now();
        self.stats.started_ms.store(now_ms(), Ordering::Relaxed);
        let mut last_error: Option<String> = None;
        let start = loop {
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
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let reader = Reader {
            pipe: self.pipe.clone(),
            detector: self.detector.clone(),
            settings: self.settings.clone(),
            log: self.log.clone(),
            stats: self.stats.clone(),
        };
        let reader = tokio::spawn(reader.run(start.clone(), tx, shutdown.clone()));
        let mut flow = Flow::new(start, self.settings.polling_interval);
        // Changes read but not yet applied and saved, at most: the reader waits beyond that.
        let window = (self.settings.batch * 4).max(self.settings.threads * 4);
        self.save_stats(flow.saved.as_str(), started, &last_error);
        let mut last_stats = Instant::now();
        let mut stopping = false;
        let mut reading = true;
        let mut saving: Option<Saving> = None;
        loop {
            let now = Instant::now();
            let mut wake = last_stats + STATS_EVERY;
            // Waiting changes that only a pause or the rate limit holds back (not a busy worker).
            if !flow.ready.is_empty() && !stopping && flow.tasks.len() < self.settings.threads {
                wake = wake.min(flow.paused_until.max(flow.next_dispatch));
            }
            if flow.unsaved > 0 && saving.is_none() {
                wake = wake.min(flow.last_save + SAVE_EVERY);
            }
            let room = reading && !stopping && flow.slots.len() < window;
            tokio::select! {
                biased;
                r = shutdown.changed(), if !stopping => {
                    if r.is_err() || *shutdown.borrow() {
                        stopping = true;
                    }
                }
                r = committed(&mut saving), if saving.is_some() => {
                    r?;
                    if let Some(done) = saving.take() {
                        self.saved(&mut flow, &done);
                    }
                }
                Some(done) = flow.tasks.join_next(), if !flow.tasks.is_empty() => {
                    self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                    match done {
                        Ok((key, seq, applied)) => {
                            if let Some(down) = flow.completed(key, seq, applied, &self.settings) {
                                self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                                last_error = Some(down);
                            } else {
                                last_error = None;
                            }
                        }
                        // A task that panicked (a bug): its change stays unapplied, so the start point stays
                        // before it, and the pipe stops; the change is read again at the next start.
                        Err(e) => {
                            let message = format!("internal error while applying a change, the pipe stops: {e}");
                            self.log.warning(&self.pipe, &message);
                            last_error = Some(message);
                            stopping = true;
                        }
                    }
                }
                msg = rx.recv(), if room => match msg {
                    None => reading = false,
                    Some(Read::Changes(changes)) => {
                        // An entry whose lane is busy reads its entry when its turn comes: an entry read now could
                        // be older than the one its earlier change is about to read.
                        let busy: HashSet<String> = flow
                            .lanes
                            .iter()
                            .filter(|(_, l)| l.busy || !l.queue.is_empty())
                            .map(|(k, _)| k.clone())
                            .collect();
                        let prefetched = Arc::new(self.prefetch(&changes, &busy).await);
                        for change in changes {
                            flow.push(change, prefetched.clone());
                        }
                    }
                    Some(Read::Idle(next)) => flow.push_position(next),
                    Some(Read::Failed(e)) => last_error = Some(e),
                },
                _ = tokio::time::sleep_until(wake.max(now).into()) => {}
            }
            if !stopping {
                self.dispatch(&mut flow);
            }
            let applied = flow.advance();
            if !applied.is_empty() {
                let mut log = self.log.batch();
                for a in &applied {
                    self.report(&mut log, a);
                }
            }
            let idle = flow.tasks.is_empty() && flow.ready.is_empty();
            if saving.is_none()
                && flow.unsaved > 0
                && (flow.unsaved >= SAVE_BATCH || flow.last_save.elapsed() >= SAVE_EVERY || idle || stopping)
            {
                saving = Some(self.save_progress(&mut flow));
            }
            if last_stats.elapsed() >= STATS_EVERY {
                self.save_stats(flow.saved.as_str(), started, &last_error);
                last_stats = Instant::now();
            }
            if (stopping || !reading) && flow.tasks.is_empty() && saving.is_none() && flow.unsaved == 0 {
                break;
            }
        }
        reader.abort();
        self.save_stats(flow.saved.as_str(), started, &last_error);
        Ok(())
    }

    /// Starts the changes whose entry and a worker are free, within the rate limit and unless paused.
    fn dispatch(&self, flow: &mut Flow) {
        let now = Instant::now();
        if now < flow.paused_until {
            return;
        }
        while flow.tasks.len() < self.settings.threads {
            if self.settings.max_rate > 0 && Instant::now() < flow.next_dispatch {
                return;
            }
            let Some(key) = flow.ready.pop_front() else { return };
            let Some(lane) = flow.lanes.get_mut(&key) else { continue };
            let Some((seq, change, prefetched)) = lane.queue.pop_front() else { continue };
            lane.busy = true;
            let known = match &lane.known {
                Some(k) => k.clone(),
                None => self.known_for(&change),
            };
            let ctx = ChangeContext {
                prefetched,
                engine: self.engine.clone(),
                ignore: self.settings.ignore_changes_by.clone(),
            };
            self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            flow.tasks.spawn(async move { (key, seq, ctx.apply(change, known).await) });
            if self.settings.max_rate > 0 {
                let base = flow.next_dispatch.max(Instant::now() - Duration::from_millis(200));
                flow.next_dispatch = base + Duration::from_secs_f64(1.0 / self.settings.max_rate as f64);
            }
        }
    }

    /// Sends the start point past the applied changes, with their id-map updates, to be saved in one
    /// transaction. One save is in flight at a time; [`Saving`] says when it is committed.
    fn save_progress(&self, flow: &mut Flow) -> Saving {
        let mut last: HashMap<String, Option<IdMapping>> = HashMap::new();
        for update in flow.id_updates.drain(..) {
            match update {
                IdUpdate::Put(m) => last.insert(m.source_id.clone(), Some(m)),
                IdUpdate::Remove(id) => last.insert(id, None),
            };
        }
        let mut puts = Vec::new();
        let mut removes = Vec::new();
        for (id, m) in last {
            match m {
                Some(m) => puts.push(m),
                None => removes.push(id),
            }
        }
        let rx = self.writer.record_progress(&self.pipe, flow.saved.as_str(), puts, removes);
        let saving = Saving { rx, seq: flow.first, changes: flow.unsaved_changes };
        flow.unsaved = 0;
        flow.unsaved_changes = 0;
        flow.last_save = Instant::now();
        saving
    }

    /// A save is committed: the counters follow, and lanes whose changes are all saved are forgotten.
    fn saved(&self, flow: &mut Flow, saving: &Saving) {
        let n = saving.changes;
        let _ = self.stats.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(n)));
        if n > 0 {
            self.stats.last_applied_ms.store(now_ms(), Ordering::Relaxed);
        }
        flow.forget_saved_lanes(saving.seq);
    }

    fn save_stats(&self, start: &str, started: Instant, last_error: &Option<String>) {
        let snap = self.stats.snapshot(start, started.elapsed(), last_error.clone());
        if let Ok(json) = serde_json::to_string(&snap) {
            self.writer.set_stats(&self.pipe, &json);
        }
    }

    fn report(&self, log: &mut LogBatch<'_>, a: &Applied) {
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
        log.log(&LogEvent {
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

    /// Reads the current entries of a batch's changes at once, when the source can: one search for many
    /// entries instead of one each. A failure here only means that each change reads its own entry.
    async fn prefetch(&self, changes: &[Change], busy: &HashSet<String>) -> HashMap<String, Entry> {
        let mut seen = HashSet::new();
        let ids: Vec<String> = changes
            .iter()
            .filter(|c| c.kind != ChangeKind::Delete && !c.entry_is_current && !busy.contains(&key_of(c)))
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

    /// The id-map record of a change's entry, if it was synchronized before.
    fn known_for(&self, first: &Change) -> Option<IdMapping> {
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

/// How often the counters are saved for `status`.
const STATS_EVERY: Duration = Duration::from_millis(250);
/// Applied changes are saved (start point and id map) at least this often while changes flow...
const SAVE_EVERY: Duration = Duration::from_millis(20);
/// ... or once this many are applied, whichever comes first (and at once when nothing is left to apply).
const SAVE_BATCH: u64 = 512;

/// A save sent to the [`StoreWriter`], not yet committed.
struct Saving {
    rx: tokio::sync::oneshot::Receiver<Result<(), crate::error::StoreError>>,
    /// The changes below this sequence number are saved once it is committed...
    seq: u64,
    /// ... and this many of them are changes (not positions).
    changes: u64,
}

/// Waits for the save in flight, if any (never returns when there is none).
async fn committed(saving: &mut Option<Saving>) -> Result<(), RealtimeError> {
    match saving {
        Some(s) => match (&mut s.rx).await {
            Ok(r) => r.map_err(RealtimeError::from),
            Err(_) => Err(RealtimeError::WriterGone),
        },
        None => std::future::pending().await,
    }
}

/// What the id map learns from one applied change.
enum IdUpdate {
    Put(IdMapping),
    Remove(String),
}

/// A change (or a position the log moved on to without a change), in log order, until it is saved.
struct Slot {
    after: StartPoint,
    /// `None` while the change is being applied or waits for its turn.
    done: Option<Option<Applied>>,
}

/// Source entries read at once for a batch of changes, by lower-cased unique id.
type Prefetched = Arc<HashMap<String, Entry>>;

/// The changes of one entry, applied one after the other.
struct Lane {
    /// Each with its sequence number in log order.
    queue: VecDeque<(u64, Change, Prefetched)>,
    /// The id-map record as the lane's last applied change left it (`None`: not looked up yet).
    known: Option<Option<IdMapping>>,
    busy: bool,
    /// The newest change of the lane that was applied: once it is saved, the lane is forgotten (the id map
    /// then says what it knew).
    last: u64,
}

/// The changes being applied: lanes by entry, worker tasks, and the log-order slots that decide how far the
/// start point may advance.
struct Flow {
    slots: VecDeque<Slot>,
    /// The sequence number of `slots[0]`.
    first: u64,
    lanes: HashMap<String, Lane>,
    /// Lanes with a change waiting and no change being applied, in the order they became ready.
    ready: VecDeque<String>,
    tasks: tokio::task::JoinSet<(String, u64, Applied)>,
    /// The start point past every applied change in log order (saved, or about to be).
    saved: StartPoint,
    /// Slots (and of them, changes) passed since the last save, and their id-map updates in log order.
    unsaved: u64,
    unsaved_changes: u64,
    id_updates: Vec<IdUpdate>,
    last_save: Instant,
    /// No change starts before this (an endpoint is down: back off).
    paused_until: Instant,
    backoff: Duration,
    initial_backoff: Duration,
    /// The rate limit's next free instant.
    next_dispatch: Instant,
}

impl Flow {
    fn new(start: StartPoint, polling_interval: Duration) -> Flow {
        let initial_backoff = polling_interval.max(Duration::from_millis(100));
        Flow {
            slots: VecDeque::new(),
            first: 0,
            lanes: HashMap::new(),
            ready: VecDeque::new(),
            tasks: tokio::task::JoinSet::new(),
            saved: start,
            unsaved: 0,
            unsaved_changes: 0,
            id_updates: Vec::new(),
            last_save: Instant::now(),
            paused_until: Instant::now(),
            backoff: initial_backoff,
            initial_backoff,
            next_dispatch: Instant::now(),
        }
    }

    /// Queues a change in its entry's lane.
    fn push(&mut self, change: Change, prefetched: Prefetched) {
        let seq = self.first + self.slots.len() as u64;
        self.slots.push_back(Slot { after: change.after.clone(), done: None });
        let key = key_of(&change);
        let lane = self.lanes.entry(key.clone()).or_insert_with(|| Lane {
            queue: VecDeque::new(),
            known: None,
            busy: false,
            last: 0,
        });
        let was_idle = !lane.busy && lane.queue.is_empty();
        lane.queue.push_back((seq, change, prefetched));
        if was_idle {
            self.ready.push_back(key);
        }
    }

    /// Records a position the log moved on to without a change: it is saved once every change before it is.
    fn push_position(&mut self, after: StartPoint) {
        self.slots.push_back(Slot { after, done: Some(None) });
    }

    /// Takes a finished change. Returns the reason when its endpoint is down: the change then goes back to the
    /// head of its lane and nothing starts until the backoff has passed.
    fn completed(&mut self, key: String, seq: u64, applied: Applied, settings: &PipeSettings) -> Option<String> {
        let lane = self.lanes.get_mut(&key)?;
        lane.busy = false;
        if let Some(down) = applied.result.endpoint_down.clone() {
            lane.queue.push_front((seq, applied.change, Arc::default()));
            self.ready.push_back(key);
            self.paused_until = Instant::now() + self.backoff;
            self.backoff = (self.backoff * 2).min(settings.max_backoff);
            return Some(down);
        }
        self.backoff = self.initial_backoff;
        if let Some(p) = &applied.put {
            lane.known = Some(Some(p.clone()));
        }
        if applied.remove.is_some() {
            lane.known = Some(None);
        }
        lane.last = seq;
        if !lane.queue.is_empty() {
            self.ready.push_back(key);
        }
        if let Some(slot) = seq.checked_sub(self.first).and_then(|i| self.slots.get_mut(i as usize)) {
            slot.done = Some(Some(applied));
        }
        None
    }

    /// Moves the start point past the applied changes at the head of the log order, taking their id-map
    /// updates; returns them, in order, for the sync log.
    fn advance(&mut self) -> Vec<Applied> {
        let mut out = Vec::new();
        while self.slots.front().is_some_and(|s| s.done.is_some()) {
            let Some(slot) = self.slots.pop_front() else { break };
            self.first += 1;
            self.saved = slot.after;
            self.unsaved += 1;
            if let Some(Some(applied)) = slot.done {
                self.unsaved_changes += 1;
                if let Some(p) = &applied.put {
                    self.id_updates.push(IdUpdate::Put(p.clone()));
                }
                if let Some(r) = &applied.remove {
                    self.id_updates.push(IdUpdate::Remove(r.clone()));
                }
                out.push(applied);
            }
        }
        out
    }

    /// Forgets the lanes whose changes are all saved (every change below sequence number `saved`): the id map
    /// now says what they knew.
    fn forget_saved_lanes(&mut self, saved: u64) {
        self.lanes.retain(|_, l| l.busy || !l.queue.is_empty() || l.last >= saved);
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
            if self.log.enabled(&self.pipe, "change-detected") {
                let mut log = self.log.batch();
                for c in &changes {
                    log.log(&LogEvent {
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
            }
            if tx.send(Read::Changes(changes)).await.is_err() {
                return;
            }
        }
    }
}

/// What one change needs, cloned into its task.
struct ChangeContext {
    engine: Engine,
    ignore: Vec<String>,
    /// The batch's source entries, read at once before it was applied, by lower-cased unique id.
    prefetched: Prefetched,
}

impl ChangeContext {
    fn applied(&self, change: Change, result: SyncResult, source_dn: String) -> Applied {
        Applied { change, result, source_dn, put: None, remove: None }
    }

    async fn apply(&self, change: Change, known: Option<IdMapping>) -> Applied {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn change(n: u32, entry: &str) -> Change {
        let mut c = Change::new(StartPoint(format!("cn{n}")), n.to_string(), ChangeKind::Modify, entry);
        c.unique_id = Some(entry.to_string());
        c
    }

    fn settings() -> PipeSettings {
        PipeSettings {
            polling_interval: Duration::from_millis(100),
            threads: 4,
            batch: 10,
            max_rate: 0,
            ignore_changes_by: Vec::new(),
            max_backoff: Duration::from_secs(1),
        }
    }

    fn done(c: &Change, put: bool) -> Applied {
        let mut a = Applied {
            change: c.clone(),
            result: SyncResult::new(Outcome::Modified),
            source_dn: c.dn.clone(),
            put: None,
            remove: None,
        };
        if put {
            a.put = Some(IdMapping {
                source_id: c.unique_id.clone().unwrap(),
                source_dn: c.dn.clone(),
                dest_dn: format!("{}-dst", c.dn),
                digest: None,
            });
        }
        a
    }

    /// Takes the next ready change of the flow, as `dispatch` would, without running it.
    fn take(flow: &mut Flow) -> Option<(String, u64, Change)> {
        let key = flow.ready.pop_front()?;
        let lane = flow.lanes.get_mut(&key)?;
        let (seq, c, _) = lane.queue.pop_front()?;
        lane.busy = true;
        Some((key, seq, c))
    }

    #[test]
    fn the_start_point_passes_only_changes_applied_in_log_order() {
        let mut flow = Flow::new(StartPoint("cn0".into()), Duration::from_millis(100));
        for (n, e) in [(1, "a"), (2, "b"), (3, "a"), (4, "c")] {
            flow.push(change(n, e), Arc::default());
        }
        // One change per entry at a time: the second change of `a` waits for the first.
        let (ka, sa, ca) = take(&mut flow).unwrap();
        let (kb, sb, cb) = take(&mut flow).unwrap();
        let (kc, sc, cc) = take(&mut flow).unwrap();
        assert_eq!((ca.id.as_str(), cb.id.as_str(), cc.id.as_str()), ("1", "2", "4"));
        assert!(take(&mut flow).is_none());
        // Later changes finishing first do not move the start point.
        assert!(flow.completed(kc, sc, done(&cc, true), &settings()).is_none());
        assert!(flow.completed(kb, sb, done(&cb, true), &settings()).is_none());
        assert!(flow.advance().is_empty());
        assert_eq!(flow.saved.as_str(), "cn0");
        // The first change of `a` finishes: the start point passes 1 and 2, and `a`'s next change is ready.
        assert!(flow.completed(ka, sa, done(&ca, true), &settings()).is_none());
        let passed: Vec<String> = flow.advance().into_iter().map(|a| a.change.id).collect();
        assert_eq!(passed, ["1", "2"]);
        assert_eq!(flow.saved.as_str(), "cn2");
        let (k3, s3, c3) = take(&mut flow).unwrap();
        assert_eq!(c3.id, "3");
        // The lane remembers what its first change put in the id map.
        assert_eq!(flow.lanes[&k3].known.clone().flatten().map(|k| k.dest_dn), Some("a-dst".to_string()));
        assert!(flow.completed(k3, s3, done(&c3, false), &settings()).is_none());
        let passed: Vec<String> = flow.advance().into_iter().map(|a| a.change.id).collect();
        assert_eq!(passed, ["3", "4"]);
        assert_eq!(flow.saved.as_str(), "cn4");
        assert_eq!(flow.id_updates.len(), 3);
        // Once saved, lanes are forgotten.
        flow.forget_saved_lanes(flow.first);
        assert!(flow.lanes.is_empty());
    }

    #[test]
    fn an_endpoint_down_puts_the_change_back_and_pauses() {
        let mut flow = Flow::new(StartPoint("cn0".into()), Duration::from_millis(100));
        flow.push(change(1, "a"), Arc::default());
        flow.push(change(2, "a"), Arc::default());
        let (k, s, c) = take(&mut flow).unwrap();
        let mut down = done(&c, false);
        down.result.endpoint_down = Some("no server".into());
        assert_eq!(flow.completed(k, s, down, &settings()).as_deref(), Some("no server"));
        assert!(flow.paused_until > Instant::now());
        assert!(flow.advance().is_empty());
        // The same change comes first again, and the backoff grows.
        let (k, s, c) = take(&mut flow).unwrap();
        assert_eq!(c.id, "1");
        let mut down = done(&c, false);
        down.result.endpoint_down = Some("no server".into());
        flow.completed(k, s, down, &settings());
        assert_eq!(flow.backoff, Duration::from_millis(400));
        let (k, s, c) = take(&mut flow).unwrap();
        assert!(flow.completed(k, s, done(&c, false), &settings()).is_none());
        assert_eq!(flow.backoff, Duration::from_millis(100));
        assert_eq!(flow.advance().len(), 1);
        assert_eq!(flow.saved.as_str(), "cn1");
    }

    #[test]
    fn a_position_without_a_change_is_passed_after_the_changes_before_it() {
        let mut flow = Flow::new(StartPoint("cn0".into()), Duration::from_millis(100));
        flow.push(change(1, "a"), Arc::default());
        flow.push_position(StartPoint("cn5".into()));
        assert!(flow.advance().is_empty());
        assert_eq!(flow.saved.as_str(), "cn0");
        let (k, s, c) = take(&mut flow).unwrap();
        flow.completed(k, s, done(&c, false), &settings());
        assert_eq!(flow.advance().len(), 1);
        assert_eq!(flow.saved.as_str(), "cn5");
        assert_eq!((flow.unsaved, flow.unsaved_changes), (2, 1));
    }
}
