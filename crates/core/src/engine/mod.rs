//! The sync engine: given a source entry, produce exactly the destination entry the configuration describes,
//! find the destination entry by correlation, and make it match with the smallest change.
//!
//! `fetch -> select class -> map -> correlate -> diff -> apply`. The endpoints are behind the traits of
//! [`crate::endpoint`]; the mapping is the pure [`crate::mapping`] layer.

pub mod monitor;
pub mod placement;
pub mod realtime;
pub mod resync;
pub mod supervisor;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::endpoint::{Correlated, Destination, EndpointError, EntrySource, Modification};
use crate::entry::Entry;
use crate::mapping::{apply_modifications, ClassMapping, DiffScope, Digest, PipeMapping};
use crate::store::IdMapping;
use crate::syntax::dn_equal;

/// What happened to one entry or change, in PingDataSync's vocabulary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The destination entry was created.
    Created,
    /// The destination entry was changed (attributes, or its DN).
    Modified,
    /// The destination entry was deleted.
    Deleted,
    /// The destination already matched.
    NoChangeNeeded,
    /// No sync class matched the entry.
    OutOfScope,
    /// A class matched, but it does not synchronize this kind of operation.
    OpTypeNotSynchronized,
    /// No destination entry was found, and none may be created.
    NoMatchFound,
    /// Correlation found several destination entries.
    MultipleMatchesFound,
    /// Dry run: the entry would be created.
    WouldCreate,
    /// Dry run: the entry would be changed.
    WouldModify,
    /// Dry run: the entry would be deleted.
    WouldDelete,
    /// The configuration could not map the entry.
    FailedDuringMapping(String),
    /// The destination (or source) refused or failed.
    FailedAtResource(String),
}

impl Outcome {
    /// Ping's name for the outcome.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Modified => "modified",
            Outcome::Deleted => "deleted",
            Outcome::NoChangeNeeded => "no-change-needed",
            Outcome::OutOfScope => "out-of-scope",
            Outcome::OpTypeNotSynchronized => "op-type-not-synchronized",
            Outcome::NoMatchFound => "no-match-found",
            Outcome::MultipleMatchesFound => "multiple-matches-found",
            Outcome::WouldCreate => "would-create",
            Outcome::WouldModify => "would-modify",
            Outcome::WouldDelete => "would-delete",
            Outcome::FailedDuringMapping(_) => "failed-during-mapping",
            Outcome::FailedAtResource(_) => "failed-at-resource",
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::FailedDuringMapping(_) | Outcome::FailedAtResource(_) | Outcome::MultipleMatchesFound)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::FailedDuringMapping(why) | Outcome::FailedAtResource(why) => write!(f, "{}: {why}", self.name()),
            other => f.write_str(other.name()),
        }
    }
}

/// The result of synchronizing one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResult {
    pub outcome: Outcome,
    /// The sync class that handled the entry.
    pub class: Option<String>,
    /// The destination entry's DN (or id), when one was found or made.
    pub destination: Option<String>,
    /// The changes made (or, in a dry run, that would be made).
    pub changes: Vec<Modification>,
    /// Set when the failure concerns a whole endpoint (no server reachable, wrong credentials), not this entry.
    pub endpoint_down: Option<String>,
    /// Set when the failure may go away by itself (a response timeout, a busy, unavailable or read-only server,
    /// a lost connection, HTTP 429 or 5xx): a real-time change then waits and is tried again, and is never
    /// logged as failed.
    pub transient: Option<String>,
    /// The source entry's unique id, when it has one (for the id map).
    pub source_id: Option<String>,
    /// The [digest](crate::mapping::Digest) of what the destination entry holds after this, for the id map,
    /// when the destination [replaces values](crate::endpoint::Destination::replaces_values).
    pub digest: Option<String>,
    /// Something the sync log should say about how the change was handled (a delete classified by its
    /// destination entry, say).
    pub note: Option<String>,
    /// Whether the journal recorded a provisional id-map record for a create of this entry (see
    /// [`Journal::mark_create`]): one that no put follows is not this entry's for sure.
    pub marked_create: bool,
}

impl SyncResult {
    pub fn new(outcome: Outcome) -> Self {
        SyncResult {
            outcome,
            class: None,
            destination: None,
            changes: Vec::new(),
            endpoint_down: None,
            transient: None,
            source_id: None,
            digest: None,
            note: None,
            marked_create: false,
        }
    }
}

/// How one entry is synchronized.
#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    /// Report what would change; change nothing.
    pub dry_run: bool,
    /// Destination attributes never changed (resync's `--excludeDestinationAttr`).
    pub exclude: Vec<String>,
    /// The operation that was detected: a create may become a modify (`creates-as-modifies`) and a modify a
    /// create (`modifies-as-creates`). Resync uses [`Operation::Resync`]: create when missing, else modify.
    pub operation: Operation,
    /// Only these source attributes changed (real-time modifies); `None` diffs everything in scope.
    pub changed_attributes: Option<Vec<String>>,
}

/// The kind of change being synchronized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Operation {
    #[default]
    Resync,
    Create,
    Modify,
}

/// Where the engine records a destination write before it makes it, so that a crash between the write and
/// the record of its outcome leaves a trace that the changes replayed after the crash find: a rename's new DN
/// ([`IdMapping::renaming_to`]), and the record of an entry about to be created (a provisional id-map record,
/// so that its delete finds the entry even when the replayed add finds no source entry any more). The
/// real-time runner records them in the id map; an error stops the write (the change waits, as for an
/// endpoint that is down).
#[async_trait]
pub trait Journal: Send + Sync {
    /// Marks (`record.renaming_to` set) or unmarks (`None`) a rename of `record`'s destination entry.
    async fn mark_rename(&self, record: &IdMapping) -> Result<(), EndpointError>;

    /// Records that `record`'s destination entry is about to be created (kept only where the id map has no
    /// record of the source entry).
    async fn mark_create(&self, record: &IdMapping) -> Result<(), EndpointError>;
}

/// A pipe's engine: its mapping and its two endpoints.
#[derive(Clone)]
pub struct Engine {
    pub mapping: Arc<PipeMapping>,
    pub source: Arc<dyn EntrySource>,
    pub destination: Arc<dyn Destination>,
    /// Where renames and creates are recorded before they are made (real-time sync); `None`: not recorded
    /// (resync, which correlates every entry anyway).
    pub journal: Option<Arc<dyn Journal>>,
    /// How often entries were recently missing at the destination. While they mostly are (a first resync),
    /// entries correlated by DN alone are created straight away, and only looked up when the create finds
    /// the entry already there: one request per entry instead of two.
    missing_score: Arc<std::sync::atomic::AtomicI32>,
}

const SCORE_MAX: i32 = 8;
const SCORE_MIN: i32 = -8;

fn resource_failure(e: &EndpointError) -> Outcome {
    Outcome::FailedAtResource(e.to_string())
}

impl SyncResult {
    pub fn failed(e: &EndpointError) -> Self {
        let mut r = SyncResult::new(Outcome::NoChangeNeeded);
        r.fail(e);
        r
    }

    /// Makes this result the failure `e`, with what it says about the endpoint.
    fn fail(&mut self, e: &EndpointError) {
        self.outcome = resource_failure(e);
        self.endpoint_down = e.is_endpoint_wide().then(|| e.to_string());
        self.transient = e.is_retryable().then(|| e.to_string());
    }
}

impl Engine {
    pub fn new(mapping: PipeMapping, source: Arc<dyn EntrySource>, destination: Arc<dyn Destination>) -> Self {
        Engine { mapping: Arc::new(mapping), source, destination, journal: None, missing_score: Arc::default() }
    }

    /// This engine, recording its renames and creates in `journal` before it makes them.
    pub fn with_journal(self, journal: Arc<dyn Journal>) -> Self {
        Engine { journal: Some(journal), ..self }
    }

    /// The DN of the destination entry that the id map knows as `known`: `dest_dn`, unless a rename of it was
    /// under way when the pipe stopped ([`IdMapping::renaming_to`]) and `dest_dn` is gone, which means the
    /// rename was made: then the DN it was renamed to.
    pub async fn live_destination(&self, known: &IdMapping) -> Result<String, EndpointError> {
        let Some(to) = known.rename_target() else { return Ok(known.dest_dn.clone()) };
        match self.destination.fetch(&known.dest_dn, &[]).await? {
            Some(_) => Ok(known.dest_dn.clone()),
            None => Ok(to.to_string()),
        }
    }

    fn score(&self) -> i32 {
        self.missing_score.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn adjust_score(&self, by: i32) {
        let _ = self.missing_score.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |s| Some((s + by).clamp(SCORE_MIN, SCORE_MAX)),
        );
    }

    /// The class that handles `entry`.
    pub fn class_for(&self, entry: &Entry) -> Option<&ClassMapping> {
        self.mapping.select_class(&entry.dn, Some(entry))
    }

    /// Synchronizes one source entry (as fetched from the source) to the destination.
    pub async fn sync_entry(&self, source: &Entry, opts: &SyncOptions) -> SyncResult {
        let Some(class) = self.class_for(source) else {
            return SyncResult::new(Outcome::OutOfScope);
        };
        let mut result = self.sync_with_class(class, source, opts).await;
        result.class = Some(class.name().to_string());
        result.source_id = self.source.unique_id(source);
        result
    }

    /// Synchronizes one source entry whose destination entry was recorded before (`known`, from the id map):
    /// that entry is used when it still exists, so renames at the source find their target whatever the
    /// correlation attributes; otherwise correlation runs as usual. When the id map also knows what the
    /// destination entry holds (its digest), a modify is applied without reading the destination entry.
    pub async fn sync_entry_known(&self, source: &Entry, opts: &SyncOptions, known: Option<&IdMapping>) -> SyncResult {
        let Some(class) = self.class_for(source) else {
            return SyncResult::new(Outcome::OutOfScope);
        };
        let mut result = self.sync_with_class_known(class, source, opts, known).await;
        result.class = Some(class.name().to_string());
        result.source_id = self.source.unique_id(source);
        result
    }

    async fn sync_with_class(&self, class: &ClassMapping, source: &Entry, opts: &SyncOptions) -> SyncResult {
        self.sync_with_class_known(class, source, opts, None).await
    }

    async fn sync_with_class_known(
        &self,
        class: &ClassMapping,
        source: &Entry,
        opts: &SyncOptions,
        known: Option<&IdMapping>,
    ) -> SyncResult {
        // Ping drops an operation the class does not synchronize before anything else: a real-time modify of
        // an entry that its class never writes is not a failed lookup.
        let synchronized = match opts.operation {
            Operation::Create => class.creates(),
            Operation::Modify => class.modifies(),
            Operation::Resync => true,
        };
        if !synchronized {
            return SyncResult::new(Outcome::OpTypeNotSynchronized);
        }
        let mapped = match class.map_entry(source) {
            Ok(m) => m,
            Err(e) => return SyncResult::new(Outcome::FailedDuringMapping(e.to_string())),
        };
        // What the destination holds once `mapped` is written (computed only where it is used: the read path
        // digests the entry it read instead).
        let digest_of = |mapped: &Entry| {
            if self.destination.replaces_values() {
                class.digest(mapped, mapped)
            } else {
                None
            }
        };
        if let Some(k) = known.filter(|k| k.digest.is_some() && k.renaming_to.is_none()) {
            if let Some(d) = digest_of(&mapped) {
                if let Some(r) = self.blind_update(class, &mapped, k, &d, opts).await {
                    return r;
                }
            }
        }
        let record = known;
        // What the id map says of the entry, as the journal records it before a write (`None`: no unique id).
        let source_id = record.map(|k| k.source_id.clone()).or_else(|| self.source.unique_id(source));
        let ident = |dest_dn: &str| {
            source_id.clone().map(|source_id| IdMapping {
                source_id,
                source_dn: source.dn.clone(),
                dest_dn: dest_dn.to_string(),
                digest: None,
                class: Some(class.name().to_string()),
                renaming_to: None,
            })
        };
        let known = known.map(|k| k.dest_dn.as_str());
        let dest_attrs = class.destination_attributes();
        let by_dn_only = class.correlation().iter().all(|l| l.len() == 1 && l[0].eq_ignore_ascii_case("dn"));
        let may_create = opts.operation != Operation::Modify && class.creates() && !opts.dry_run;
        let mut marked = false;
        if known.is_none() && by_dn_only && may_create && self.score() > SCORE_MIN {
            marked = match self.journal_create(ident(&mapped.dn)).await {
                Ok(m) => m,
                Err(e) => return SyncResult::failed(&e),
            };
            match self.destination.create(&mapped).await {
                Ok(()) => {
                    self.adjust_score(1);
                    let mut r = SyncResult::new(Outcome::Created);
                    r.marked_create = marked;
                    r.destination = Some(mapped.dn.clone());
                    r.digest = digest_of(&mapped).map(|d| d.to_string());
                    return r;
                }
                Err(EndpointError::AlreadyExists(_)) => self.adjust_score(-1),
                Err(e @ EndpointError::MissingParent(_)) => return SyncResult::failed(&e),
                Err(e) if e.is_endpoint_wide() => return SyncResult::failed(&e),
                // Anything else: look the entry up as usual, and report what that finds.
                Err(_) => {}
            }
        }
        let mut found = None;
        // The entry the id map knows, or where a rename under way when the pipe stopped took it.
        let mut candidates: Vec<&str> = Vec::new();
        if let Some(k) = record {
            candidates.push(&k.dest_dn);
            candidates.extend(k.rename_target());
        }
        for dn in candidates {
            match self.destination.fetch(dn, &dest_attrs).await {
                Ok(Some(e)) => {
                    found = Some(Correlated::One(e));
                    break;
                }
                Ok(None) => {}
                Err(e) => return SyncResult::failed(&e),
            }
        }
        let found = match found {
            Some(f) => f,
            None => match self.destination.correlate(&mapped, class.correlation(), &dest_attrs).await {
                Ok(f) => f,
                Err(e) => return SyncResult::failed(&e),
            },
        };
        let mut r = match found {
            Correlated::Many(ids) => {
                let mut r = SyncResult::new(Outcome::MultipleMatchesFound);
                r.changes.clear();
                r.destination = Some(ids.join("; "));
                r
            }
            Correlated::None => {
                self.adjust_score(1);
                let digest = digest_of(&mapped);
                let mark = if known.is_none() { ident(&mapped.dn) } else { None };
                let mut r = self.create(class, mapped, opts, mark).await;
                if r.outcome == Outcome::Created {
                    r.digest = digest.map(|d| d.to_string());
                }
                r
            }
            Correlated::One(existing) => {
                let mark = ident(&existing.dn);
                self.update(class, mapped, existing, opts, mark).await
            }
        };
        r.marked_create |= marked;
        r
    }

    /// Records in the journal (when there is one, and the entry has a unique id) that `mark`'s destination
    /// entry is about to be created. Returns whether it did.
    async fn journal_create(&self, mark: Option<IdMapping>) -> Result<bool, EndpointError> {
        match (&self.journal, mark) {
            (Some(j), Some(m)) => j.mark_create(&m.before_create()).await.map(|()| true),
            _ => Ok(false),
        }
    }

    /// Creates `mapped` if the operation and class allow it; `mark`: what the journal records first (an entry
    /// the id map does not know).
    async fn create(
        &self,
        class: &ClassMapping,
        mapped: Entry,
        opts: &SyncOptions,
        mark: Option<IdMapping>,
    ) -> SyncResult {
        let allowed = match opts.operation {
            Operation::Resync | Operation::Create => class.creates(),
            Operation::Modify => class.modifies_as_creates() && class.creates(),
        };
        if !allowed {
            let outcome = if opts.operation == Operation::Modify {
                Outcome::NoMatchFound
            } else {
                Outcome::OpTypeNotSynchronized
            };
            return SyncResult::new(outcome);
        }
        let mut r = SyncResult::new(if opts.dry_run { Outcome::WouldCreate } else { Outcome::Created });
        r.destination = Some(mapped.dn.clone());
        if opts.dry_run {
            return r;
        }
        r.marked_create = match self.journal_create(mark).await {
            Ok(m) => m,
            Err(e) => return SyncResult::failed(&e),
        };
        if let Err(e) = self.destination.create(&mapped).await {
            let dn = r.destination.take();
            r = SyncResult::failed(&e);
            r.destination = dn;
        }
        r
    }

    /// Makes `existing` match `mapped`: renamed (marked first in the journal, when there is one and `mark`
    /// says what the id map records of the entry) and modified.
    async fn update(
        &self,
        class: &ClassMapping,
        mapped: Entry,
        existing: Entry,
        opts: &SyncOptions,
        mark: Option<IdMapping>,
    ) -> SyncResult {
        if opts.operation == Operation::Create && !class.creates_as_modifies() {
            // The entry was created at the source but already exists at the destination.
            let mut r = SyncResult::new(Outcome::FailedAtResource(format!(
                "the entry already exists at the destination as {} (set creates-as-modifies:true on sync class '{}' to update it instead)",
                existing.dn,
                class.name()
            )));
            r.destination = Some(existing.dn);
            return r;
        }
        if !class.modifies() {
            return SyncResult::new(Outcome::OpTypeNotSynchronized);
        }
        let mut r = SyncResult::new(Outcome::NoChangeNeeded);
        let mut current = existing;
        let moved = !dn_equal(&current.dn, &mapped.dn);
        if moved {
            if opts.dry_run {
                r.outcome = Outcome::WouldModify;
            } else {
                let mark = self.journal.clone().zip(mark);
                if let Some((journal, m)) = &mark {
                    if let Err(e) =
                        journal.mark_rename(&IdMapping { renaming_to: Some(mapped.dn.clone()), ..m.clone() }).await
                    {
                        r.fail(&e);
                        r.destination = Some(current.dn);
                        return r;
                    }
                }
                match self.destination.rename(&current.dn, &mapped.dn).await {
                    Ok(new_dn) => {
                        current.dn = new_dn;
                        r.outcome = Outcome::Modified;
                    }
                    Err(e) => {
                        // Not renamed: the mark goes (the DN may hold another entry). Should unmarking fail,
                        // the mark only counts once the entry's own DN is gone.
                        if let Some((journal, m)) = &mark {
                            let _ = journal.mark_rename(m).await;
                        }
                        r.fail(&e);
                        r.destination = Some(current.dn);
                        return r;
                    }
                }
                // The RDN values changed with the rename; fetch again so the diff sees them.
                match self.destination.fetch(&current.dn, &class.destination_attributes()).await {
                    Ok(Some(e)) => current = e,
                    Ok(None) => {}
                    Err(e) => {
                        r.fail(&e);
                        return r;
                    }
                }
            }
        }
        let scope = DiffScope { exclude: opts.exclude.clone(), only: opts.changed_attributes.clone() };
        self.destination.prepare_diff(&mapped, &mut current);
        let mods = class.diff(&mapped, &current, &scope);
        r.destination = Some(if opts.dry_run { mapped.dn.clone() } else { current.dn.clone() });
        if mods.is_empty() {
            r.digest = self.digest_after(class, &mapped, current, &[], opts);
            return r;
        }
        r.changes = mods;
        if opts.dry_run {
            r.outcome = Outcome::WouldModify;
            return r;
        }
        match self.destination.modify(&current.dn, &r.changes).await {
            Ok(()) => {
                r.outcome = Outcome::Modified;
                r.digest = self.digest_after(class, &mapped, current, &r.changes, opts);
            }
            // An endpoint that is down or a failure that may pass: the change waits for it.
            Err(e) => r.fail(&e),
        }
        r
    }

    /// The digest of destination entry `current` once `mods` are applied, for the id map.
    fn digest_after(
        &self,
        class: &ClassMapping,
        mapped: &Entry,
        mut current: Entry,
        mods: &[Modification],
        opts: &SyncOptions,
    ) -> Option<String> {
        if opts.dry_run || !self.destination.replaces_values() {
            return None;
        }
        apply_modifications(&mut current, mods, |a| class.matching_rule(a));
        class.digest(&current, mapped).map(|d| d.to_string())
    }

    /// Applies a modify to an entry the id map knows, with its digest, without reading it: only attributes
    /// whose mapped values changed since they were written are replaced. `None` when this cannot be done (not
    /// a modify, a rename, an unknown digest, a change that needs the entry, or a write the destination
    /// refused): then the entry is read and diffed as usual.
    async fn blind_update(
        &self,
        class: &ClassMapping,
        mapped: &Entry,
        known: &IdMapping,
        digest: &Digest,
        opts: &SyncOptions,
    ) -> Option<SyncResult> {
        if opts.operation != Operation::Modify || opts.dry_run || !opts.exclude.is_empty() || !class.modifies() {
            return None;
        }
        if !dn_equal(&known.dest_dn, &mapped.dn) {
            return None;
        }
        let old = Digest::parse(known.digest.as_deref()?)?;
        let mods = class.blind_modifications(mapped, &old, digest)?;
        let mut r = SyncResult::new(Outcome::NoChangeNeeded);
        r.destination = Some(known.dest_dn.clone());
        r.digest = Some(digest.to_string());
        if mods.is_empty() {
            return Some(r);
        }
        match self.destination.modify(&known.dest_dn, &mods).await {
            Ok(()) => {
                r.outcome = Outcome::Modified;
                r.changes = mods;
                Some(r)
            }
            Err(e) if e.is_endpoint_wide() => Some(SyncResult::failed(&e)),
            // Gone, moved, or refused as written: read it and diff.
            Err(_) => None,
        }
    }

    /// The class that synchronized the entry the id map knows as `known`, for a change made once its source
    /// entry is gone (a delete) or out of every class (a move out of scope): the class recorded in the id map.
    /// A record written before classes were recorded (or naming a class since removed) falls back to the
    /// destination entry: the first class whose base DNs hold the source DN and whose filters match the
    /// destination entry (attributes the class does not map are absent there, so a filter on them does not
    /// match), else the first class by base DN alone; the note says so, for the sync log. `Ok(None)`: no
    /// class (or no destination entry) is left to act on.
    pub async fn synchronizing_class(
        &self,
        known: &IdMapping,
    ) -> Result<(Option<&ClassMapping>, Option<String>), EndpointError> {
        if let Some(c) = known.class.as_deref().and_then(|name| self.mapping.class(name)) {
            return Ok((Some(c), None));
        }
        let why = match &known.class {
            Some(name) => format!("its sync class '{name}' no longer exists"),
            None => "the id map recorded it before ferrosync kept the sync class".to_string(),
        };
        let attrs = self.mapping.destination_scope_attributes();
        let dest_dn = self.live_destination(known).await?;
        let Some(dest) = self.destination.fetch(&dest_dn, &attrs).await? else {
            return Ok((None, None));
        };
        if let Some(c) = self.mapping.classes().iter().find(|c| c.matches(&known.source_dn, Some(&dest))) {
            let note = format!(
                "{} was classified by its destination entry {} as sync class '{}' ({why})",
                known.source_dn,
                known.dest_dn,
                c.name()
            );
            return Ok((Some(c), Some(note)));
        }
        let c = self.mapping.select_class(&known.source_dn, None);
        let note = c.map(|c| {
            format!(
                "{} was classified by its base DN alone as sync class '{}': its destination entry {} matches no class's filters ({why})",
                known.source_dn,
                c.name(),
                known.dest_dn
            )
        });
        Ok((c, note))
    }

    /// Deletes the destination entry of a source entry that is gone (a real-time delete), classified by the
    /// class that synchronized it (see [`Engine::synchronizing_class`]): that class's `synchronize-deletes`
    /// decides, and the destination entry it wrote is deleted. An entry the pipe never synchronized (`known`
    /// is `None`) has nothing at the destination to delete: `no-match-found`, as a delete that matches nothing.
    pub async fn delete_synchronized(&self, known: Option<&IdMapping>) -> SyncResult {
        let Some(k) = known else {
            return SyncResult::new(Outcome::NoMatchFound);
        };
        let (class, note) = match self.synchronizing_class(k).await {
            Err(e) => return SyncResult::failed(&e),
            Ok(found) => found,
        };
        let Some(class) = class else { return SyncResult { note, ..SyncResult::new(Outcome::NoMatchFound) } };
        match self.live_destination(k).await {
            Ok(dest) => SyncResult { note, ..self.delete_known(class, &dest, false).await },
            Err(e) => SyncResult::failed(&e),
        }
    }

    /// Deletes a destination entry known by its id (from the id map), if `class` synchronizes deletes.
    pub async fn delete_known(&self, class: &ClassMapping, dest: &str, dry_run: bool) -> SyncResult {
        let mut r = SyncResult::new(Outcome::Deleted);
        r.class = Some(class.name().to_string());
        r.destination = Some(dest.to_string());
        if !class.deletes() {
            r.outcome = Outcome::OpTypeNotSynchronized;
            return r;
        }
        if dry_run {
            r.outcome = Outcome::WouldDelete;
            return r;
        }
        if let Err(e) = self.destination.delete(dest).await {
            let mut f = SyncResult::failed(&e);
            f.class = r.class;
            f.destination = r.destination;
            return f;
        }
        r
    }

    /// Deletes the destination entry of a source entry that is gone. `last_known` is the source entry as it
    /// was (or at least its DN), used to pick the class and correlate.
    pub async fn delete_entry(&self, last_known: &Entry, opts: &SyncOptions) -> SyncResult {
        // An entry known by its DN alone cannot be tested against filters: only base DNs count then.
        let attrs = (!last_known.is_empty()).then_some(last_known);
        let Some(class) = self
            .mapping
            .select_class(&last_known.dn, attrs)
            .or_else(|| self.mapping.select_class(&last_known.dn, None))
        else {
            return SyncResult::new(Outcome::OutOfScope);
        };
        let mut r = SyncResult::new(Outcome::NoMatchFound);
        r.class = Some(class.name().to_string());
        if !class.deletes() {
            r.outcome = Outcome::OpTypeNotSynchronized;
            return r;
        }
        let mapped = match class.map_entry(last_known) {
            Ok(m) => m,
            Err(e) => {
                r.outcome = Outcome::FailedDuringMapping(e.to_string());
                return r;
            }
        };
        match self.destination.correlate(&mapped, class.correlation_on_delete(), &[]).await {
            // An endpoint that is down: the change waits for it (as every other operation's does).
            Err(e) => {
                let mut f = SyncResult::failed(&e);
                f.class = r.class;
                return f;
            }
            Ok(Correlated::None) => {}
            Ok(Correlated::Many(ids)) => {
                r.outcome = Outcome::MultipleMatchesFound;
                r.destination = Some(ids.join("; "));
            }
            Ok(Correlated::One(existing)) => {
                r.destination = Some(existing.dn.clone());
                if opts.dry_run {
                    r.outcome = Outcome::WouldDelete;
                } else {
                    if let Err(e) = self.destination.delete(&existing.dn).await {
                        let mut f = SyncResult::failed(&e);
                        f.class = r.class;
                        f.destination = r.destination;
                        return f;
                    }
                    r.outcome = Outcome::Deleted;
                }
            }
        }
        r
    }
}
