//! Applying one change ([`ChangeContext::apply`]): skipped when made by an ignored DN, a delete through the id
//! map, an add, modify or rename through the engine; the id-map record it starts from
//! ([`PipeRunner::known_for`]), and its report to the sync log ([`PipeRunner::report`]).

use super::flow::Prefetched;
use super::PipeRunner;
use crate::endpoint::{Change, ChangeKind};
use crate::engine::{Engine, Operation, Outcome, SyncOptions, SyncResult};
use crate::store::IdMapping;
use crate::synclog::{LogBatch, LogEvent};
use crate::syntax::dn_equal;

/// The result of one change.
pub(super) struct Applied {
    pub(super) change: Change,
    pub(super) result: SyncResult,
    pub(super) source_dn: String,
    pub(super) put: Option<IdMapping>,
    pub(super) remove: Option<String>,
    /// From the change's detection to its turn in log order (set when the start point moves past it).
    pub(super) lag: std::time::Duration,
}

impl PipeRunner {
    pub(super) fn report(&self, log: &mut LogBatch<'_>, a: &Applied) {
        self.stats.count(&a.result.outcome);
        self.stats.lag.observe(a.lag);
        if let Some(note) = &a.result.note {
            self.log.warning(&self.pipe, note);
        }
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
        if logged_as_failed(&a.result) {
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

    /// The id-map record of a change's entry, if it was synchronized before.
    pub(super) fn known_for(&self, first: &Change) -> Option<IdMapping> {
        if let Some(u) = &first.unique_id {
            if let Ok(Some(m)) = self.store().id_mapping(&self.pipe, u) {
                return Some(m);
            }
        }
        if !first.dn.is_empty() {
            if let Ok(Some(m)) = self.store().id_mapping_by_dn(&self.pipe, &first.dn) {
                // A record of another entry is not this one's: an entry deleted at the source whose delete was
                // not synchronized leaves its record behind, and an entry added at its DN since is a new one.
                let another = first
                    .unique_id
                    .as_ref()
                    .is_some_and(|u| !m.source_id.is_empty() && !m.source_id.eq_ignore_ascii_case(u));
                if !another {
                    return Some(m);
                }
            }
        }
        None
    }
}

/// Whether a change with this result is written to the failed-operations log (once its background retries,
/// if any, are spent).
pub(super) fn logged_as_failed(result: &SyncResult) -> bool {
    result.outcome.is_failure() || matches!(result.outcome, Outcome::NoMatchFound)
}

/// What one change needs, cloned into its task.
pub(super) struct ChangeContext {
    pub(super) engine: Engine,
    pub(super) ignore: Vec<String>,
    /// The batch's source entries, read at once before it was applied, by lower-cased unique id.
    pub(super) prefetched: Prefetched,
}

impl ChangeContext {
    pub(super) fn applied(&self, change: Change, result: SyncResult, source_dn: String) -> Applied {
        Applied { change, result, source_dn, put: None, remove: None, lag: std::time::Duration::ZERO }
    }

    pub(super) async fn apply(&self, change: Change, known: Option<IdMapping>) -> Applied {
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

    pub(super) async fn apply_delete(&self, change: Change, known: Option<IdMapping>) -> Applied {
        let source_dn = if change.dn.is_empty() {
            known.as_ref().map(|k| k.source_dn.clone()).unwrap_or_default()
        } else {
            change.dn.clone()
        };
        // Classified by the class that synchronized the entry (the source entry is gone: its filters cannot
        // be evaluated); an entry the pipe never synchronized has nothing at the destination.
        let result = match &known {
            None if self.engine.mapping.select_class(&source_dn, None).is_none() => {
                SyncResult::new(Outcome::OutOfScope)
            }
            _ => self.engine.delete_synchronized(known.as_ref()).await,
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

    pub(super) async fn apply_update(&self, change: Change, known: Option<IdMapping>) -> Applied {
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
                // Not known to have been synchronized by `c`: a move out of scope asks the destination entry.
                class: None,
                renaming_to: None,
            }),
            (None, None) => None,
        };
        let class = self.engine.class_for(&entry);
        let Some(class) = class else {
            // Out of every class now: if it was synchronized before, it moved out of scope and goes.
            if let Some(k) = &known {
                let (old, note) = match self.engine.synchronizing_class(k).await {
                    Ok(found) => found,
                    Err(e) => return self.applied(change, SyncResult::failed(&e), source_dn),
                };
                if let Some(old) = old {
                    let dest = match self.engine.live_destination(k).await {
                        Ok(d) => d,
                        Err(e) => return self.applied(change, SyncResult::failed(&e), source_dn),
                    };
                    let r = SyncResult { note, ..self.engine.delete_known(old, &dest, false).await };
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
        // A record put down for a create that was under way (see `IdMapping::creating`) does not count: the
        // change that made it may have stopped before the create (a failure it retries, a crash it replays).
        let entering = known.as_ref().is_none_or(IdMapping::creating)
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
        let mut existing = None;
        if operation == Operation::Create
            && matches!(&result.outcome, Outcome::FailedAtResource(m) if m.contains("already exists at the destination"))
        {
            existing = result.destination.clone();
            let opts = SyncOptions { operation: Operation::Resync, ..opts };
            result = self.engine.sync_entry_known(&entry, &opts, known.as_ref()).await;
        }
        let put = match (&result.outcome, &unique_id, &result.destination) {
            // The entry was there already (most often a replay after a crash: the pipe made it): it stays this
            // entry's destination entry even when the class does not synchronize modifies, so that its delete
            // finds it.
            (Outcome::OpTypeNotSynchronized, Some(u), _) if existing.is_some() => Some(IdMapping {
                source_id: u.clone(),
                source_dn: source_dn.clone(),
                dest_dn: existing.clone().unwrap_or_default(),
                digest: None,
                class: result.class.clone(),
                renaming_to: None,
            }),
            (Outcome::Created | Outcome::Modified | Outcome::NoChangeNeeded, Some(u), Some(d)) => Some(IdMapping {
                source_id: u.clone(),
                source_dn: source_dn.clone(),
                dest_dn: d.clone(),
                digest: result.digest.clone(),
                class: result.class.clone(),
                renaming_to: None,
            }),
            _ => None,
        };
        // A change whose create put down a provisional record and that ended without a record of its own (a
        // create that met another entry's destination entry, in a class that does not modify): the record goes,
        // or the entry's delete would delete what the pipe never wrote. A failure keeps it (the create may have
        // been made).
        let remove = match (&put, &unique_id) {
            (None, Some(u)) if result.marked_create && !result.outcome.is_failure() => Some(u.clone()),
            _ => None,
        };
        let mut a = self.applied(change, result, source_dn);
        a.put = put;
        a.remove = remove;
        a
    }
}
