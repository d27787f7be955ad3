//! Reading the change log ahead of the pipe runner ([`Reader`]), and the source entries of a batch read at once
//! ([`PipeRunner::prefetch`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{key_of, now_ms, wait_or_shutdown, PipeRunner, PipeSettings, PipeStats};
use crate::endpoint::{Change, ChangeDetector, ChangeKind, StartPoint};
use crate::entry::Entry;
use crate::synclog::{LogEvent, SyncLog};
use crate::syntax::dn_equal;

impl PipeRunner {
    /// Reads the current entries of a batch's changes at once, when the source can: one search for many
    /// entries instead of one each. A failure here only means that each change reads its own entry.
    pub(super) async fn prefetch(&self, changes: &[Change], busy: &HashSet<String>) -> HashMap<String, Entry> {
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
}

/// What the reader hands the pipe runner, in the order it read the log.
pub(super) enum Read {
    Changes(Vec<Change>),
    /// A poll found no change but moved the log's position on to this start point.
    Idle(StartPoint),
    /// A poll failed (the reader retries it with backoff).
    Failed(String),
}

/// Reads the change log ahead of the pipe runner and hands it the changes, a batch at a time.
pub(super) struct Reader {
    pub(super) pipe: String,
    pub(super) detector: Arc<dyn ChangeDetector>,
    pub(super) settings: PipeSettings,
    pub(super) log: Arc<SyncLog>,
    pub(super) stats: Arc<PipeStats>,
}

impl Reader {
    /// Polls from `cursor` on until shutdown or until the runner stops listening. Poll errors are passed on
    /// (for status) and retried with backoff from the same cursor.
    pub(super) async fn run(
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
