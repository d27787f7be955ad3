//! The changes being applied and their order: each change joins the lane of its entry (one change of an entry
//! at a time, in log order), a change waits for the earlier changes of its entry's parents and children (an
//! entry is created after its parent, a subtree is deleted children first), and the start point advances only
//! past the longest run of changes, in log order, that are all applied, with their id-map updates.
//!
//! A change whose endpoint is down or failing for a while (a timeout, a busy server) goes back to the head of
//! its lane and nothing starts until the backoff has passed; a change that failed for a reason retrying at once
//! cannot fix is tried again in the background (`max-failed-op-background-retries`), its lane waiting the
//! delay, before it is logged as failed.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::apply::{logged_as_failed, Applied};
use super::guard::DeleteGuard;
use super::{key_of, PipeSettings};
use crate::endpoint::{Change, ChangeKind, StartPoint};
use crate::entry::Entry;
use crate::store::IdMapping;
use crate::syntax::Dn;

/// What the id map learns from one applied change.
pub(super) enum IdUpdate {
    Put(IdMapping),
    Remove(String),
}

/// A change (or a position the log moved on to without a change), in log order, until it is saved.
pub(super) struct Slot {
    pub(super) after: StartPoint,
    /// When the change was read from the source, for the lag of applied changes.
    pub(super) detected: Instant,
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
    /// How many times the change at the head of the lane met an endpoint that was down or failing (0: none).
    pub(super) waits: u64,
    /// How many background retries the change at the head of the lane had.
    pub(super) background_retries: u32,
}

/// Why changes are waiting for an endpoint, for `status`.
#[derive(Clone, Debug)]
pub(super) struct Waiting {
    pub(super) since: Instant,
    /// The last failure.
    pub(super) reason: String,
    /// The attempts made since the first failure, by the change that waits longest.
    pub(super) attempts: u64,
}

/// The DNs of the changes not yet applied (being applied, or waiting), in their tree: a change waits for the
/// earlier changes at its DN, above it and below it.
#[derive(Default)]
pub(super) struct Tree {
    /// Sequence numbers of the changes at a DN (the normalized DN, old or new).
    at: HashMap<String, BTreeSet<u64>>,
    /// Sequence numbers of the changes below a DN.
    below: HashMap<String, BTreeSet<u64>>,
    /// The DNs each change holds (its own, and the ones above them), and whether it is a delete.
    held: HashMap<u64, (Vec<String>, Vec<String>, bool)>,
    /// The deletes, renames and moves not yet applied: they change what correlation finds, so a later change
    /// of another entry waits for them (a user deleted and another added with the same uid at once: the add
    /// must not find, and write into, the entry the delete is about to remove). A delete does not wait for
    /// earlier deletes (a delete correlates nothing), and a delete that the mass-delete guard holds holds
    /// nothing else up ([`Tree::release`]).
    frees: BTreeSet<u64>,
}

impl Tree {
    /// The normalized DNs of a change (its DN and its new DN) and of their ancestors.
    fn dns_of(change: &Change) -> (Vec<String>, Vec<String>) {
        let mut own = Vec::new();
        let mut above = Vec::new();
        for dn in std::iter::once(change.dn.as_str()).chain(change.new_dn.as_deref()) {
            let Ok(mut d) = Dn::parse(dn) else { continue };
            if d.is_root() {
                continue;
            }
            let n = d.normalized();
            if !own.contains(&n) {
                own.push(n);
            }
            while let Some(parent) = d.parent().filter(|p| !p.is_root()) {
                let n = parent.normalized();
                if !above.contains(&n) {
                    above.push(n);
                }
                d = parent;
            }
        }
        (own, above)
    }

    fn insert(&mut self, seq: u64, change: &Change) {
        let (own, above) = Tree::dns_of(change);
        for d in &own {
            self.at.entry(d.clone()).or_default().insert(seq);
        }
        for a in &above {
            self.below.entry(a.clone()).or_default().insert(seq);
        }
        let delete = change.kind == ChangeKind::Delete;
        self.held.insert(seq, (own, above, delete));
        if delete || change.kind == ChangeKind::ModDn {
            self.frees.insert(seq);
        }
    }

    /// Change `seq` (a delete the mass-delete guard holds) no longer holds up later changes of other entries.
    pub(super) fn release(&mut self, seq: u64) {
        self.frees.remove(&seq);
    }

    fn remove(&mut self, seq: u64) {
        self.frees.remove(&seq);
        let Some((own, above, _)) = self.held.remove(&seq) else { return };
        for (map, keys) in [(&mut self.at, own), (&mut self.below, above)] {
            for k in keys {
                if let Some(set) = map.get_mut(&k) {
                    set.remove(&seq);
                    if set.is_empty() {
                        map.remove(&k);
                    }
                }
            }
        }
    }

    /// Whether change `seq` must wait for an earlier change not yet applied: one at its DN (another entry
    /// that had it), below it (a child deleted before its parent) or above it (a parent created, renamed or
    /// deleted before it), or a delete, rename or move of any entry (see [`Tree::frees`]).
    fn waits(&self, seq: u64) -> bool {
        let Some((own, above, delete)) = self.held.get(&seq) else { return false };
        let earlier = |set: Option<&BTreeSet<u64>>| set.and_then(|s| s.first()).is_some_and(|&first| first < seq);
        let is_delete = |s: &u64| self.held.get(s).is_some_and(|h| h.2);
        own.iter().any(|d| earlier(self.at.get(d)) || earlier(self.below.get(d)))
            || above.iter().any(|a| earlier(self.at.get(a)))
            || self.frees.range(..seq).any(|s| !(*delete && is_delete(s)))
    }
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
    /// Ready lanes whose change waits for an earlier change above or below it (see [`Tree`]): ready again
    /// when a change is applied.
    pub(super) blocked: Vec<String>,
    /// Lanes whose change waits for its background retry, with when it is due.
    pub(super) delayed: Vec<(Instant, String)>,
    /// The DNs of the changes not yet applied.
    pub(super) tree: Tree,
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
    /// Why changes wait for an endpoint, while some do; and how many lanes wait.
    pub(super) waiting: Option<Waiting>,
    waiting_lanes: usize,
    /// Background retries started so far.
    pub(super) background_retried: u64,
    /// The rate limit's next free instant.
    pub(super) next_dispatch: Instant,
    /// The mass-delete guard, and the lanes whose delete it holds (not ready until released).
    pub(super) guard: DeleteGuard,
    pub(super) held_deletes: Vec<String>,
}

impl Flow {
    /// A flow starting at `start`, whose first wait for an endpoint that is down is `initial_backoff`.
    pub(super) fn new(start: StartPoint, initial_backoff: Duration) -> Flow {
        Flow {
            slots: VecDeque::new(),
            first: 0,
            lanes: HashMap::new(),
            ready: VecDeque::new(),
            blocked: Vec::new(),
            delayed: Vec::new(),
            tree: Tree::default(),
            tasks: tokio::task::JoinSet::new(),
            saved: start,
            unsaved: 0,
            unsaved_changes: 0,
            id_updates: Vec::new(),
            last_save: Instant::now(),
            paused_until: Instant::now(),
            backoff: initial_backoff,
            initial_backoff,
            waiting: None,
            waiting_lanes: 0,
            background_retried: 0,
            next_dispatch: Instant::now(),
            guard: DeleteGuard::new("", 0, Duration::ZERO, None),
            held_deletes: Vec::new(),
        }
    }

    /// Queues a change in its entry's lane.
    pub(super) fn push(&mut self, change: Change, prefetched: Prefetched) {
        let seq = self.first + self.slots.len() as u64;
        self.slots.push_back(Slot { after: change.after.clone(), detected: Instant::now(), done: None });
        self.tree.insert(seq, &change);
        let key = key_of(&change);
        let lane = self.lanes.entry(key.clone()).or_insert_with(|| Lane {
            queue: VecDeque::new(),
            known: None,
            busy: false,
            last: 0,
            waits: 0,
            background_retries: 0,
        });
        let was_idle = !lane.busy && lane.queue.is_empty();
        lane.queue.push_back((seq, change, prefetched));
        if was_idle {
            self.ready.push_back(key);
        }
    }

    /// Records a position the log moved on to without a change: it is saved once every change before it is.
    pub(super) fn push_position(&mut self, after: StartPoint) {
        self.slots.push_back(Slot { after, detected: Instant::now(), done: Some(None) });
    }

    /// The next ready lane whose change may start now, taken from the ready list; lanes whose change waits
    /// for an earlier change above or below it are set aside until a change is applied.
    pub(super) fn next_ready(&mut self) -> Option<String> {
        self.release_due(Instant::now());
        while let Some(key) = self.ready.pop_front() {
            let Some(seq) = self.lanes.get(&key).and_then(|l| l.queue.front()).map(|(seq, _, _)| *seq) else {
                continue;
            };
            if self.tree.waits(seq) {
                self.blocked.push(key);
                continue;
            }
            return Some(key);
        }
        None
    }

    /// Moves the lanes whose background retry is due to the ready list.
    fn release_due(&mut self, now: Instant) {
        if self.delayed.iter().all(|(t, _)| *t > now) {
            return;
        }
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.delayed).into_iter().partition(|(t, _)| *t <= now);
        self.delayed = later;
        self.ready.extend(due.into_iter().map(|(_, k)| k));
    }

    /// When the next background retry is due, if one waits.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.delayed.iter().map(|(t, _)| *t).min()
    }

    /// Takes a finished change. Returns the reason when its endpoint is down or failing for now: the change
    /// then goes back to the head of its lane and nothing starts until the backoff has passed. A change that
    /// failed for good is tried again in the background while it has retries left, its lane waiting the delay.
    pub(super) fn completed(
        &mut self,
        key: String,
        seq: u64,
        applied: Applied,
        settings: &PipeSettings,
    ) -> Option<String> {
        let lane = self.lanes.get_mut(&key)?;
        lane.busy = false;
        if let Some(down) = applied.result.endpoint_down.clone().or_else(|| applied.result.transient.clone()) {
            lane.queue.push_front((seq, applied.change, Arc::default()));
            if lane.waits == 0 {
                self.waiting_lanes += 1;
            }
            lane.waits += 1;
            let attempts = lane.waits;
            self.ready.push_back(key);
            self.paused_until = Instant::now() + self.backoff;
            self.backoff = settings.next_backoff(self.backoff);
            let w = self.waiting.get_or_insert_with(|| Waiting {
                since: Instant::now(),
                reason: String::new(),
                attempts: 0,
            });
            w.reason = down.clone();
            w.attempts = w.attempts.max(attempts);
            return Some(down);
        }
        self.backoff = self.initial_backoff;
        if lane.waits > 0 {
            lane.waits = 0;
            self.waiting_lanes = self.waiting_lanes.saturating_sub(1);
            if self.waiting_lanes == 0 {
                self.waiting = None;
            }
        }
        if logged_as_failed(&applied.result) && lane.background_retries < settings.background_retries {
            lane.background_retries += 1;
            lane.queue.push_front((seq, applied.change, Arc::default()));
            self.delayed.push((Instant::now() + settings.background_retry_delay, key));
            self.background_retried += 1;
            return None;
        }
        lane.background_retries = 0;
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
        // The changes that waited for this one may start.
        self.tree.remove(seq);
        for k in self.blocked.drain(..).rev() {
            self.ready.push_front(k);
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
            if let Some(Some(mut applied)) = slot.done {
                applied.lag = slot.detected.elapsed();
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
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            backoff_increase_by: Duration::ZERO,
            backoff_percentage_increase: 100,
            background_retries: 0,
            background_retry_delay: Duration::from_secs(60),
            mass_delete_threshold: 0,
            mass_delete_interval: Duration::from_secs(60),
        }
    }

    fn done(c: &Change, put: bool) -> Applied {
        let mut a = Applied {
            change: c.clone(),
            result: SyncResult::new(Outcome::Modified),
            source_dn: c.dn.clone(),
            put: None,
            remove: None,
            lag: Duration::ZERO,
        };
        if put {
            a.put = Some(IdMapping {
                source_id: c.unique_id.clone().unwrap(),
                source_dn: c.dn.clone(),
                dest_dn: format!("{}-dst", c.dn),
                digest: None,
                class: None,
                renaming_to: None,
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

    fn at(n: u32, kind: ChangeKind, dn: &str, id: &str) -> Change {
        let mut c = Change::new(StartPoint(format!("cn{n}")), n.to_string(), kind, dn);
        c.unique_id = Some(id.to_string());
        c
    }

    #[test]
    fn a_change_waits_for_an_earlier_delete_or_rename_of_another_entry() {
        // A user deleted and another added with the same uid elsewhere: the add could correlate (by uid) to the
        // entry the delete is about to remove, so it waits; deletes of other entries do not wait for each other.
        let mut flow = Flow::new(StartPoint("cn0".into()), Duration::from_millis(100));
        flow.push(at(1, ChangeKind::Delete, "uid=u5,ou=people,dc=example,dc=com", "old"), Arc::default());
        flow.push(at(2, ChangeKind::Delete, "uid=u7,ou=people,dc=example,dc=com", "other"), Arc::default());
        flow.push(at(3, ChangeKind::Add, "uid=u5,ou=contractors,dc=example,dc=com", "new"), Arc::default());
        let old = flow.next_ready().unwrap();
        assert_eq!(old, "id:old");
        let (seq, c, _) = flow.lanes.get_mut(&old).unwrap().queue.pop_front().unwrap();
        flow.lanes.get_mut(&old).unwrap().busy = true;
        let other = flow.next_ready().unwrap();
        assert_eq!(other, "id:other", "a delete does not wait for another delete");
        let (seq2, c2, _) = flow.lanes.get_mut(&other).unwrap().queue.pop_front().unwrap();
        flow.lanes.get_mut(&other).unwrap().busy = true;
        assert_eq!(flow.next_ready(), None, "the add waits for the deletes before it");
        assert!(flow.completed(old, seq, done(&c, false), &settings()).is_none());
        assert_eq!(flow.next_ready(), None, "and for each of them");
        assert!(flow.completed(other, seq2, done(&c2, false), &settings()).is_none());
        assert_eq!(flow.next_ready().as_deref(), Some("id:new"));

        // A rename holds up later changes of other entries too, and a delete held by the mass-delete guard
        // (released from the tree) holds up nothing.
        let mut flow = Flow::new(StartPoint("cn0".into()), Duration::from_millis(100));
        let mut rename = at(1, ChangeKind::ModDn, "uid=a,ou=people,dc=example,dc=com", "a");
        rename.new_dn = Some("uid=b,ou=people,dc=example,dc=com".into());
        flow.push(rename, Arc::default());
        flow.push(at(2, ChangeKind::Delete, "uid=c,ou=people,dc=example,dc=com", "c"), Arc::default());
        flow.push(at(3, ChangeKind::Modify, "uid=d,ou=people,dc=example,dc=com", "d"), Arc::default());
        let a = flow.next_ready().unwrap();
        let (seq, c, _) = flow.lanes.get_mut(&a).unwrap().queue.pop_front().unwrap();
        flow.lanes.get_mut(&a).unwrap().busy = true;
        assert_eq!(flow.next_ready(), None, "the delete and the modify wait for the rename");
        assert!(flow.completed(a, seq, done(&c, false), &settings()).is_none());
        assert_eq!(flow.next_ready().as_deref(), Some("id:c"));
        assert_eq!(flow.next_ready(), None, "the modify waits for the delete");
        let held = flow.lanes["id:c"].queue.front().unwrap().0;
        flow.tree.release(held);
        flow.ready.extend(flow.blocked.drain(..));
        assert_eq!(flow.next_ready().as_deref(), Some("id:d"), "a held delete holds nothing up");
    }

    #[test]
    fn a_change_waits_for_earlier_changes_above_and_below_it() {
        let mut flow = Flow::new(StartPoint("cn0".into()), Duration::from_millis(100));
        flow.push(at(1, ChangeKind::Add, "ou=new,dc=example,dc=com", "ou"), Arc::default());
        flow.push(at(2, ChangeKind::Add, "uid=a,OU=New,dc=example,dc=com", "a"), Arc::default());
        flow.push(at(3, ChangeKind::Add, "uid=b,ou=people,dc=example,dc=com", "b"), Arc::default());
        // The child waits for its parent; an entry elsewhere does not.
        let ou = flow.next_ready().unwrap();
        assert_eq!(ou, "id:ou");
        let (seq, c, _) = flow.lanes.get_mut(&ou).unwrap().queue.pop_front().unwrap();
        flow.lanes.get_mut(&ou).unwrap().busy = true;
        assert_eq!(flow.next_ready().as_deref(), Some("id:b"));
        assert_eq!(flow.next_ready(), None);
        assert_eq!(flow.blocked, ["id:a"]);
        // The parent is applied: the child may start.
        assert!(flow.completed(ou, seq, done(&c, false), &settings()).is_none());
        assert_eq!(flow.next_ready().as_deref(), Some("id:a"));

        // A subtree delete: the parent's delete waits for its children's, which come first in the log.
        let mut flow = Flow::new(StartPoint("cn0".into()), Duration::from_millis(100));
        flow.push(at(1, ChangeKind::Delete, "uid=a,ou=old,dc=example,dc=com", "a"), Arc::default());
        flow.push(at(2, ChangeKind::Delete, "ou=old,dc=example,dc=com", "ou"), Arc::default());
        let a = flow.next_ready().unwrap();
        let (seq, c, _) = flow.lanes.get_mut(&a).unwrap().queue.pop_front().unwrap();
        flow.lanes.get_mut(&a).unwrap().busy = true;
        assert_eq!(flow.next_ready(), None);
        // A failure that may pass keeps the child's delete pending: the parent still waits.
        let mut down = done(&c, false);
        down.result.transient = Some("busy".into());
        assert!(flow.completed(a.clone(), seq, down, &settings()).is_some());
        flow.paused_until = Instant::now();
        let again = flow.next_ready().unwrap();
        assert_eq!(again, a);
        let (seq, c, _) = flow.lanes.get_mut(&a).unwrap().queue.pop_front().unwrap();
        assert!(flow.waiting.as_ref().is_some_and(|w| w.reason == "busy" && w.attempts == 1));
        assert!(flow.completed(a, seq, done(&c, false), &settings()).is_none());
        assert!(flow.waiting.is_none());
        assert_eq!(flow.next_ready().as_deref(), Some("id:ou"));
    }

    #[test]
    fn a_failed_change_waits_for_its_background_retries_before_it_is_passed() {
        let mut s = settings();
        s.background_retries = 2;
        s.background_retry_delay = Duration::from_millis(30);
        let mut flow = Flow::new(StartPoint("cn0".into()), Duration::from_millis(100));
        flow.push(change(1, "a"), Arc::default());
        for retry in 0..3 {
            let key = loop {
                if let Some(k) = flow.next_ready() {
                    break k;
                }
                assert!(flow.next_due().is_some(), "retry {retry} is not scheduled");
                std::thread::sleep(Duration::from_millis(5));
            };
            let (seq, c, _) = flow.lanes.get_mut(&key).unwrap().queue.pop_front().unwrap();
            let mut failed = done(&c, false);
            failed.result.outcome = Outcome::FailedAtResource("refused".into());
            assert!(flow.completed(key, seq, failed, &s).is_none());
            let passed = flow.advance();
            // Passed (to be logged as failed) only once the retries are spent.
            assert_eq!(passed.len(), usize::from(retry == 2), "retry {retry}");
        }
        assert_eq!(flow.background_retried, 2);
        assert_eq!(flow.saved.as_str(), "cn1");
    }
}
