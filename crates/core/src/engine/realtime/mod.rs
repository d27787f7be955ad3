//! Real-time synchronization of one pipe: poll the change detector, apply changes to different entries in
//! parallel and changes to one entry in order, and advance the saved start point only past changes that are
//! fully applied (in the same transaction as the id map), so a crash never skips a change.
//!
//! Here the pipe runner's loop and its saves; `settings` ([`PipeSettings`]), `stats` ([`PipeStats`],
//! [`StatsSnapshot`]), `flow` (lanes by entry and the log order the start point follows), `reader` (polling the
//! change detector ahead of the runner, and prefetching a batch's entries) and `apply` (applying one change and
//! reporting it).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Engine, Journal};
use crate::endpoint::{Change, ChangeDetector, ChangeKind, EndpointError, StartPoint, StartPointRequest};
use crate::store::{IdMapping, Store, StoreWriter};
use crate::synclog::SyncLog;
use crate::syntax::normalize_dn;

mod apply;
mod flow;
mod guard;
mod reader;
mod settings;
mod stats;

pub use settings::PipeSettings;
pub use stats::{Counters, LagCounts, LagHistogram, PipeStats, StatsSnapshot, LAG_BUCKETS, OUTCOMES};

use apply::ChangeContext;
use flow::{Flow, IdUpdate};
use guard::{Admit, DeleteGuard};
use reader::{Read, Reader};

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

/// Records renames and creates in the pipe's id map before they are made, through its store writer (so after
/// the saves sent before), waiting for the commit. A store that refuses the record holds the write back (the
/// change waits with the pipe's backoff); the sync log says when that starts and when the store takes writes
/// again.
struct IdMapJournal {
    pipe: String,
    writer: StoreWriter,
    log: Arc<SyncLog>,
    refusing: std::sync::atomic::AtomicBool,
}

impl IdMapJournal {
    fn outcome(
        &self,
        what: &str,
        dn: &str,
        sent: Result<Result<(), crate::error::StoreError>, tokio::sync::oneshot::error::RecvError>,
    ) -> Result<(), EndpointError> {
        let why = match sent {
            Ok(Ok(())) => {
                if self.refusing.swap(false, Ordering::Relaxed) {
                    self.log.warning(
                        &self.pipe,
                        "the state store is written again: the changes that waited for it go on; nothing was lost",
                    );
                }
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the store's writer stopped".to_string(),
        };
        let message = format!("the state store refused to record the {what} of {dn} before it is made ({why})");
        if !self.refusing.swap(true, Ordering::Relaxed) {
            self.log.warning(
                &self.pipe,
                &format!("{message}; the change waits and is tried again with the pipe's backoff"),
            );
        }
        Err(EndpointError::Unavailable(format!("{message}; it waits")))
    }
}

#[async_trait::async_trait]
impl Journal for IdMapJournal {
    async fn mark_rename(&self, record: &IdMapping) -> Result<(), EndpointError> {
        let sent = self.writer.record_rename_intent(&self.pipe, record.clone()).await;
        self.outcome("rename", &record.dest_dn, sent)
    }

    async fn mark_create(&self, record: &IdMapping) -> Result<(), EndpointError> {
        let sent = self.writer.record_provisional(&self.pipe, record.clone()).await;
        self.outcome("create", &record.dest_dn, sent)
    }
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

pub(crate) fn now_ms() -> u64 {
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
        self.stats.threads.store(self.settings.threads as u64, Ordering::Relaxed);
        let journal = IdMapJournal {
            pipe: self.pipe.clone(),
            writer: self.writer.clone(),
            log: self.log.clone(),
            refusing: Default::default(),
        };
        self.engine = self.engine.clone().with_journal(Arc::new(journal));
        let mut last_error: Option<String> = None;
        let start = loop {
            match self.initial_start_point().await {
                Ok(sp) => break sp,
                Err(e) => {
                    last_error = Some(e.to_string());
                    self.save_stats("", started, &last_error, None);
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
        let mut flow = Flow::new(start, self.settings.initial_backoff);
        // Deletes held by the mass-delete guard before this start stay held until released.
        let held = self.store().deletes_held(&self.pipe).unwrap_or_else(|e| {
            Some(format!("the state store cannot say whether the pipe's deletes are held ({e}): they are held"))
        });
        flow.guard =
            DeleteGuard::new(&self.pipe, self.settings.mass_delete_threshold, self.settings.mass_delete_interval, held);
        self.check_release(&mut flow);
        // Changes read but not yet applied and saved, at most: the reader waits beyond that.
        let window = (self.settings.batch * 4).max(self.settings.threads * 4);
        self.save_stats(flow.saved.as_str(), started, &last_error, Some(&flow));
        let mut last_stats = Instant::now();
        let mut stopping = false;
        let mut reading = true;
        let mut saving: Option<Saving> = None;
        // A save the store refused (a full disk, say): sent again after a backoff, before any newer save, while
        // no new change starts. The pipe keeps running; the changes it holds are applied once it is saved.
        let mut refused: Option<Saving> = None;
        let mut failing: Option<StoreFailing> = None;
        loop {
            let now = Instant::now();
            let mut wake = last_stats + STATS_EVERY;
            // Waiting changes that only a pause or the rate limit holds back (not a busy worker).
            if !flow.ready.is_empty() && !stopping && flow.tasks.len() < self.settings.threads {
                wake = wake.min(flow.paused_until.max(flow.next_dispatch));
            }
            // A change waiting for its background retry.
            if let Some(due) = flow.next_due().filter(|_| !stopping) {
                wake = wake.min(due.max(flow.paused_until));
            }
            if flow.unsaved > 0 && saving.is_none() && refused.is_none() {
                wake = wake.min(flow.last_save + SAVE_EVERY);
            }
            if let Some(f) = failing.as_ref().filter(|_| refused.is_some()) {
                wake = wake.min(f.retry_at);
            }
            let room = reading && !stopping && flow.slots.len() < window;
            tokio::select! {
                biased;
                r = shutdown.changed(), if !stopping => {
                    if r.is_err() || *shutdown.borrow() {
                        stopping = true;
                    }
                }
                r = committed(&mut saving), if saving.is_some() => match (r, saving.take()) {
                    (Ok(()), Some(done)) => {
                        self.saved(&mut flow, &done);
                        if let Some(f) = failing.take() {
                            self.log.warning(
                                &self.pipe,
                                &format!(
                                    "the state store is written again, after {} refused saves over {} s; nothing was lost",
                                    f.attempts,
                                    f.since.elapsed().as_secs()
                                ),
                            );
                            last_error = None;
                        }
                    }
                    // Another server of the topology took the pipe: this one stops at once, saving nothing.
                    (Err(RealtimeError::Store(e @ crate::error::StoreError::LeaseLost { .. })), _) => {
                        reader.abort();
                        self.log.warning(&self.pipe, &format!("{e}: the pipe stops on this server"));
                        return Err(RealtimeError::Store(e));
                    }
                    (Err(RealtimeError::Store(e)), Some(s)) => {
                        let f = failing.get_or_insert_with(|| StoreFailing {
                            since: Instant::now(),
                            attempts: 0,
                            backoff: self.settings.initial_backoff,
                            retry_at: Instant::now(),
                        });
                        f.attempts += 1;
                        f.retry_at = Instant::now() + f.backoff;
                        let message = format!(
                            "the state store refused to save the pipe's progress ({e}); the pipe holds its changes and \
                             tries again in {} ms (attempt {})",
                            f.backoff.as_millis(),
                            f.attempts
                        );
                        if f.attempts == 1 {
                            self.log.warning(&self.pipe, &message);
                        }
                        last_error = Some(message);
                        flow.paused_until = flow.paused_until.max(f.retry_at);
                        f.backoff = (f.backoff * 2).min(self.settings.max_backoff.max(self.settings.initial_backoff));
                        refused = Some(s);
                    }
                    (r, _) => r?,
                },
                Some(done) = flow.tasks.join_next(), if !flow.tasks.is_empty() => {
                    self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
                    match done {
                        Ok((key, seq, applied)) => {
                            if let Some(down) = flow.completed(key, seq, applied, &self.settings) {
                                self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                                last_error = Some(down);
                            } else if flow.waiting.is_none() {
                                last_error = None;
                            }
                            self.stats.background_retries.store(flow.background_retried, Ordering::Relaxed);
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
                    Some(Read::Idle(next)) => {
                        flow.push_position(next);
                        let end = flow.first + flow.slots.len() as u64;
                        flow.guard.caught_up(end);
                    }
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
            let retry_due = failing.as_ref().is_some_and(|f| Instant::now() >= f.retry_at);
            if saving.is_none() && refused.is_some() && (retry_due || stopping) {
                if let Some(s) = refused.take() {
                    if !retry_due {
                        // Stopping with the store still refusing: the changes since the saved start point are
                        // read again at the next start (applying them again changes nothing).
                        self.log.warning(
                            &self.pipe,
                            "the pipe stops with its last progress unsaved: the changes since its saved start \
                             point are read again at the next start",
                        );
                        break;
                    }
                    saving = Some(self.resend(s));
                }
            }
            let idle = flow.tasks.is_empty() && flow.ready.is_empty();
            if saving.is_none()
                && refused.is_none()
                && flow.unsaved > 0
                && (flow.unsaved >= SAVE_BATCH || flow.last_save.elapsed() >= SAVE_EVERY || idle || stopping)
            {
                saving = Some(self.save_progress(&mut flow));
            }
            if last_stats.elapsed() >= STATS_EVERY {
                self.check_release(&mut flow);
                self.save_stats(flow.saved.as_str(), started, &last_error, Some(&flow));
                last_stats = Instant::now();
            }
            if (stopping || !reading)
                && flow.tasks.is_empty()
                && saving.is_none()
                && refused.is_none()
                && flow.unsaved == 0
            {
                break;
            }
        }
        reader.abort();
        self.save_stats(flow.saved.as_str(), started, &last_error, Some(&flow));
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
            let Some(key) = flow.next_ready() else { return };
            let Some(lane) = flow.lanes.get_mut(&key) else { continue };
            let Some((seq, change, prefetched)) = lane.queue.pop_front() else { continue };
            let known = match &lane.known {
                Some(k) => k.clone(),
                None => self.known_for(&change),
            };
            // The guard counts the deletes that would delete something: of an entry the pipe synchronized, or
            // in the scope of a class that synchronizes deletes (never those of entries the pipe has no part in).
            let counted = change.kind == ChangeKind::Delete
                && (known.is_some() || self.engine.mapping.select_class(&change.dn, None).is_some_and(|c| c.deletes()));
            if counted {
                match flow.guard.admit(seq, now) {
                    Admit::Pass => {}
                    verdict => {
                        // Held: the lane waits, off the ready list, until the deletes are released.
                        lane.queue.push_front((seq, change, prefetched));
                        flow.held_deletes.push(key);
                        flow.tree.release(seq);
                        if let Admit::Trip(alert) = verdict {
                            self.tripped(&alert);
                        }
                        continue;
                    }
                }
            }
            lane.busy = true;
            let ctx = ChangeContext {
                prefetched,
                engine: self.engine.clone(),
                ignore: self.settings.ignore_changes_by.clone(),
            };
            self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            let stats = self.stats.clone();
            flow.tasks.spawn(async move {
                let began = Instant::now();
                let applied = ctx.apply(change, known).await;
                stats.busy_us.fetch_add(began.elapsed().as_micros() as u64, Ordering::Relaxed);
                (key, seq, applied)
            });
            if self.settings.max_rate > 0 {
                let base = flow.next_dispatch.max(Instant::now() - Duration::from_millis(200));
                flow.next_dispatch = base + Duration::from_secs_f64(1.0 / self.settings.max_rate as f64);
            }
        }
    }

    /// The mass-delete guard tripped: the alert goes to the error log and the sync log, and the store keeps it
    /// (a restart holds the deletes too).
    fn tripped(&self, alert: &str) {
        self.log.alert(&self.pipe, "SEVERE_WARNING", alert);
        self.log.warning(&self.pipe, alert);
        if let Err(e) = self.store().hold_deletes(&self.pipe, alert) {
            self.log.alert(
                &self.pipe,
                "SEVERE_ERROR",
                &format!("the state store did not record that the pipe holds its deletes ({e}): a restart would not hold them"),
            );
        }
    }

    /// Applies an operator's release of the held deletes (`realtime-sync release-deletes`), if one waits.
    fn check_release(&self, flow: &mut Flow) {
        if flow.guard.held.is_none() {
            return;
        }
        let Ok(Some(at)) = self.store().delete_release_requested(&self.pipe) else { return };
        flow.guard.release();
        let n = flow.held_deletes.len();
        flow.ready.extend(flow.held_deletes.drain(..));
        let message = format!(
            "an operator released the held deletes (at {at}): the {n} deletes held now are applied, and every delete \
             read until the pipe catches up with its source; the mass-delete guard counts again from then"
        );
        if let Err(e) = self.store().settle_delete_release(&self.pipe) {
            self.log.alert(&self.pipe, "SEVERE_ERROR", &format!("the state store did not record the release ({e})"));
        }
        self.log.alert(&self.pipe, "NOTICE", &message);
        self.log.warning(&self.pipe, &message);
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
        let start_point = flow.saved.as_str().to_string();
        let rx = self.writer.record_progress(&self.pipe, &start_point, puts.clone(), removes.clone());
        let saving = Saving { rx, seq: flow.first, changes: flow.unsaved_changes, start_point, puts, removes };
        flow.unsaved = 0;
        flow.unsaved_changes = 0;
        flow.last_save = Instant::now();
        saving
    }

    /// Sends a save that the store refused again, as it was.
    fn resend(&self, s: Saving) -> Saving {
        let rx = self.writer.record_progress(&self.pipe, &s.start_point, s.puts.clone(), s.removes.clone());
        Saving { rx, ..s }
    }

    /// A save is committed: the counters follow, and lanes whose changes are all saved are forgotten.
    fn saved(&self, flow: &mut Flow, saving: &Saving) {
        let n = saving.changes;
        self.stats.saved_ms.store(now_ms(), Ordering::Relaxed);
        let _ = self.stats.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| Some(q.saturating_sub(n)));
        if n > 0 {
            self.stats.last_applied_ms.store(now_ms(), Ordering::Relaxed);
        }
        flow.forget_saved_lanes(saving.seq);
    }

    fn save_stats(&self, start: &str, started: Instant, last_error: &Option<String>, flow: Option<&Flow>) {
        let mut snap = self.stats.snapshot(start, started.elapsed(), last_error.clone());
        if let Some(w) = flow.and_then(|f| f.waiting.as_ref()) {
            snap.waiting_for_endpoint = Some(w.reason.clone());
            snap.waiting_ms = w.since.elapsed().as_millis() as u64;
            snap.waiting_attempts = w.attempts;
        }
        snap.awaiting_background_retry = flow.map_or(0, |f| f.delayed.len() as u64);
        snap.mass_delete_alert = flow.and_then(|f| f.guard.held.clone());
        snap.deletes_held = flow.map_or(0, |f| f.held_deletes.len() as u64);
        snap.log_error = self.log.last_error();
        if let Ok(json) = serde_json::to_string(&snap) {
            self.writer.set_stats(&self.pipe, &json);
        }
        *self.stats.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(snap);
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
    /// What it writes, to send it again if the store refuses it.
    start_point: String,
    puts: Vec<IdMapping>,
    removes: Vec<String>,
}

/// Saves refused by the store, since when, and when the next try is due.
struct StoreFailing {
    since: Instant,
    attempts: u64,
    backoff: Duration,
    retry_at: Instant,
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
