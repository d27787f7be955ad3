//! The changes being applied and their order: each change joins the lane of its entry (one change of an entry
//! at a time, in log order), and the start point advances only past the longest run of changes, in log order,
//! that are all applied, with their id-map updates.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::apply::Applied;
use super::{key_of, PipeSettings};
use crate::endpoint::{Change, StartPoint};
use crate::entry::Entry;
use crate::store::IdMapping;

/// What the id map learns from one applied change.
pub(super) enum IdUpdate {
    Put(IdMapping),
    Remove(String),
}

/// A change (or a position the log moved on to without a change), in log order, until it is saved.
pub(super) struct Slot {
    pub(super) after: StartPoint,
    /// `None` while the change is being applied or waits for its turn.
    pub(super) done: Option<Option<Applied>>,
}

/// Source entries read at once for a batch of changes, by lower-cased unique id.
pub(super) type Prefetched = Arc<HashMap<String, Entry>>;

/// The changes of one entry, applied one after the other.
pub(super) struct Lane {
    /// Each with its sequence number in log order.
    pub(super) queue: VecDeque<(u64, Change, Prefetched)>,
    /// The id-map record as the lane's last applied change left it (`None`: not looked up yet).
    pub(super) known: Option<Option<IdMapping>>,
    pub(super) busy: bool,
    /// The newest change of the lane that was applied: once it is saved, the lane is forgotten (the id map
    /// then says what it knew).
    pub(super) last: u64,
}

/// The changes being applied: lanes by entry, worker tasks, and the log-order slots that decide how far the
/// start point may advance.
pub(super) struct Flow {
    pub(super) slots: VecDeque<Slot>,
    /// The sequence number of `slots[0]`.
    pub(super) first: u64,
    pub(super) lanes: HashMap<String, Lane>,
    /// Lanes with a change waiting and no change being applied, in the order they became ready.
    pub(super) ready: VecDeque<String>,
    pub(super) tasks: tokio::task::JoinSet<(String, u64, Applied)>,
    /// The start point past every applied change in log order (saved, or about to be).
    pub(super) saved: StartPoint,
    /// Slots (and of them, changes) passed since the last save, and their id-map updates in log order.
    pub(super) unsaved: u64,
    pub(super) unsaved_changes: u64,
    pub(super) id_updates: Vec<IdUpdate>,
    pub(super) last_save: Instant,
    /// No change starts before this (an endpoint is down: back off).
    pub(super) paused_until: Instant,
    pub(super) backoff: Duration,
    pub(super) initial_backoff: Duration,
    /// The rate limit's next free instant.
    pub(super) next_dispatch: Instant,
}

impl Flow {
    pub(super) fn new(start: StartPoint, polling_interval: Duration) -> Flow {
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
    pub(super) fn push(&mut self, change: Change, prefetched: Prefetched) {
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
    pub(super) fn push_position(&mut self, after: StartPoint) {
        self.slots.push_back(Slot { after, done: Some(None) });
    }

    /// Takes a finished change. Returns the reason when its endpoint is down: the change then goes back to the
    /// head of its lane and nothing starts until the backoff has passed.
    pub(super) fn completed(
        &mut self,
        key: String,
        seq: u64,
        applied: Applied,
        settings: &PipeSettings,
    ) -> Option<String> {
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
    pub(super) fn advance(&mut self) -> Vec<Applied> {
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
    pub(super) fn forget_saved_lanes(&mut self, saved: u64) {
        self.lanes.retain(|_, l| l.busy || !l.queue.is_empty() || l.last >= saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::ChangeKind;
    use crate::engine::{Outcome, SyncResult};

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
                class: None,
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
