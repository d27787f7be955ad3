//! Bulk resynchronization: stream the source entries in scope, synchronize each through the engine with a
//! bounded number in flight, count the outcomes as PingDataSync's resync does, and remember the failures so a
//! later run (`--sourceInputFile`) can try them again. The source is streamed, never held whole.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::sync::mpsc;

use super::{Engine, Operation, Outcome, SyncOptions, SyncResult};
use crate::endpoint::{CorrelationPath, EndpointError, EndpointResult, SourceCount};
use crate::entry::Entry;
use crate::error::StoreError;
use crate::store::{IdMapping, Store};
use crate::syntax::Dn;

/// What to resynchronize and how.
#[derive(Clone, Debug, Default)]
pub struct ResyncOptions {
    /// Only source entries matching this filter (`--sourceSearchFilter`).
    pub filter: Option<String>,
    /// Only these source DNs (`--sourceInputFile`).
    pub dns: Option<Vec<String>>,
    /// How many passes; each pass after the first retries the entries that failed (`--numPasses`).
    pub passes: u32,
    /// Entries per second; 0 is unlimited. Shared, so `--ratePerSecondFile` can change it while running.
    pub rate: Arc<AtomicU64>,
    pub dry_run: bool,
    /// Destination attributes never changed (`--excludeDestinationAttr`).
    pub exclude: Vec<String>,
    /// Entries synchronized in parallel.
    pub threads: usize,
    /// Also delete destination entries in scope whose source entry no longer exists.
    pub delete_missing: bool,
    /// Correlate by a search per entry even where the destination could correlate from a listing.
    pub correlate_by_search: bool,
    /// The pipe's mass-delete guard: a delete pass that would delete more entries than this deletes none
    /// (0: no guard)...
    pub mass_delete_threshold: u64,
    /// ... unless the operator said to go past it (`--allowMassDelete`).
    pub allow_mass_delete: bool,
    /// Let the destination send creates in batches ([`crate::endpoint::Destination::begin_resync`]).
    pub batched_creates: bool,
}

/// Counts, in the words of Ping's resync summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResyncStats {
    pub retrieved: u64,
    pub in_sync: u64,
    pub modified: u64,
    pub created: u64,
    /// Entries that differ and were not (or, in a dry run, would be) changed.
    pub out_of_sync: u64,
    /// Entries missing at the destination that were not (or, in a dry run, would be) created.
    pub missing: u64,
    pub errors: u64,
    /// Entries no sync class handles, or whose class does not synchronize this operation.
    pub skipped: u64,
    pub deleted: u64,
}

impl ResyncStats {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::NoChangeNeeded => self.in_sync += 1,
            Outcome::Modified => self.modified += 1,
            Outcome::Created => self.created += 1,
            Outcome::WouldModify => self.out_of_sync += 1,
            Outcome::WouldCreate | Outcome::NoMatchFound => self.missing += 1,
            Outcome::Deleted | Outcome::WouldDelete => self.deleted += 1,
            Outcome::OutOfScope | Outcome::OpTypeNotSynchronized => self.skipped += 1,
            Outcome::MultipleMatchesFound | Outcome::FailedDuringMapping(_) | Outcome::FailedAtResource(_) => {
                self.errors += 1
            }
        }
    }

    /// Ping's closing sentence.
    pub fn sentence(&self) -> String {
        format!(
            "{} entries were in-sync, {} entries were modified, {} entries were created, {} entries are still out-of-sync, {} entries are still missing, and {} entries could not be processed due to an error",
            self.in_sync, self.modified, self.created, self.out_of_sync, self.missing, self.errors
        )
    }
}

/// The totals over all passes: each entry counted once, with its final outcome. Every pass after the first
/// retries exactly the entries that failed in the pass before it.
pub fn totals(reports: &[PassReport]) -> ResyncStats {
    let mut total = ResyncStats::default();
    for (i, r) in reports.iter().enumerate() {
        let s = &r.stats;
        if i == 0 {
            total.retrieved = s.retrieved;
        }
        total.in_sync += s.in_sync;
        total.modified += s.modified;
        total.created += s.created;
        total.out_of_sync += s.out_of_sync;
        total.missing += s.missing;
        total.skipped += s.skipped;
        total.deleted += s.deleted;
        // A retried entry's earlier failure no longer counts.
        total.errors = total.errors.saturating_sub(if i > 0 { s.retrieved } else { 0 }) + s.errors;
    }
    total
}

/// One entry that could not be synchronized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub dn: String,
    pub reason: String,
}

/// What one pass did.
#[derive(Clone, Debug, Default)]
pub struct PassReport {
    pub pass: u32,
    /// The pass that deleted destination entries whose source is gone.
    pub deletes: bool,
    pub stats: ResyncStats,
    pub failures: Vec<Failure>,
    pub duration: Duration,
    /// How the pass found destination entries (the first pass of a run; `None` for the others).
    pub correlation: Option<CorrelationPath>,
    /// A delete pass that the mass-delete guard stopped before deleting anything: how many entries it would
    /// have deleted.
    pub deletes_held: Option<u64>,
    /// Creates sent per request at most (more than 1: batches, such as SCIM Bulk); 1 for a single create
    /// per request.
    pub creates_per_request: usize,
}

/// Progress callbacks, for the tool's progress bar and log.
pub trait Observer: Send + Sync {
    /// A pass starts; `total` is the number of entries when known.
    fn pass_started(&self, _pass: u32, _total: Option<u64>) {}
    /// The number of entries of a pass that started without it, counted while the pass runs.
    fn total_known(&self, _pass: u32, _total: u64) {}
    /// One entry is done.
    fn entry_done(&self, _dn: &str, _result: &SyncResult) {}
    /// A warning that is not about one entry.
    fn warning(&self, _message: &str) {}
}

/// An observer that does nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// Runs the passes. Returns one report per pass that ran.
pub async fn run(engine: &Engine, opts: &ResyncOptions, observer: &dyn Observer) -> EndpointResult<Vec<PassReport>> {
    if let Some(refusal) = unsupported(engine, opts) {
        return Err(EndpointError::Config(refusal));
    }
    // The source is counted for the first pass's correlation index while both endpoints are checked (a
    // destination whose listing proves its access is checked after the index is prepared, and only when it is
    // not a listing).
    let count = first_count(engine, opts);
    if checked_by_index(engine, opts) {
        engine.source.check().await?;
    } else {
        tokio::try_join!(engine.source.check(), engine.destination.check())?;
    }
    // Creates may go to the destination in batches while the passes run (SCIM Bulk): `batch` of them per
    // request, with as many entries in flight as fill `threads` such requests.
    let begin = !opts.dry_run && opts.batched_creates;
    let batch = if begin { engine.destination.begin_resync(opts.threads.max(1)).await.max(1) } else { 1 };
    let reports = run_passes(engine, opts, batch, count, observer).await;
    if begin {
        engine.destination.end_resync().await;
    }
    reports
}

async fn run_passes(
    engine: &Engine,
    opts: &ResyncOptions,
    batch: usize,
    count: SourceCount,
    observer: &dyn Observer,
) -> EndpointResult<Vec<PassReport>> {
    let passes = opts.passes.max(1);
    let mut reports = Vec::new();
    let mut retry: Option<Vec<String>> = opts.dns.clone();
    let mut seen_destinations: HashSet<String> = HashSet::new();
    for pass in 1..=passes {
        let only = if pass == 1 { opts.dns.clone() } else { retry.clone() };
        let listed = only.as_ref().map(|dns| dns.len() as u64);
        // The first pass correlates from a listing of the destination when the destination finds that cheaper
        // than a search per entry (the source is read meanwhile, up to PREFETCH entries ahead); the passes
        // after it retry a few failures, by searches.
        let threads = opts.threads.max(1);
        let preparing = Arc::new(AtomicBool::new(pass == 1));
        let ahead = if pass == 1 {
            Ahead::WhileListing { small: threads * 4, preparing: preparing.clone() }
        } else {
            Ahead::Fixed(threads * 4)
        };
        let producer = start_producer(engine, opts, only, ahead);
        let (known_total, correlation) = if pass == 1 {
            let (total, path) = prepare_index(engine, opts, count.clone()).await;
            let listed = matches!(path, CorrelationPath::Listing { .. });
            if checked_by_index(engine, opts) && !listed {
                if let Err(e) = engine.destination.check().await {
                    engine.destination.end_resync_index().await;
                    return Err(e);
                }
            }
            // From here the source is read a few entries ahead only.
            preparing.store(false, Ordering::Relaxed);
            (total, Some(path))
        } else {
            (None, None)
        };
        let report =
            run_pass(engine, opts, batch, pass, producer, listed, known_total, observer, &mut seen_destinations).await;
        let correlation = match pass {
            1 => engine.destination.end_resync_index().await.or(correlation),
            _ => correlation,
        };
        let mut report = report?;
        report.correlation = correlation;
        if pass == 1 {
            report.creates_per_request = batch;
        }
        let failed: Vec<String> = report.failures.iter().map(|f| f.dn.clone()).collect();
        reports.push(report);
        if failed.is_empty() {
            break;
        }
        retry = Some(failed);
    }
    if opts.delete_missing && opts.dns.is_none() && opts.filter.is_none() {
        let report = delete_pass(engine, opts, reports.len() as u32 + 1, &seen_destinations, observer).await?;
        reports.push(report);
    } else if opts.delete_missing {
        observer.warning("--delete-missing-entries is ignored with --sourceSearchFilter or --sourceInputFile: only a full resync knows which destination entries have no source");
    }
    Ok(reports)
}

/// Why the destination cannot do what `opts` ask, before any work is done: `--deleteMissingEntries` needs a
/// destination that lists its entries ([`crate::endpoint::DestinationCapabilities::list_entries`]).
pub fn unsupported(engine: &Engine, opts: &ResyncOptions) -> Option<String> {
    if opts.delete_missing && !engine.destination.capabilities().list_entries {
        return Some(format!(
            "--deleteMissingEntries needs a sync destination that can list its entries, and the sync destination \
             '{}' cannot, so the entries whose source is gone cannot be found; run resync without \
             --deleteMissingEntries and delete them at the destination",
            engine.destination.name()
        ));
    }
    None
}

/// Whether the destination's check waits for the first pass's index, which proves its access when it is a
/// listing ([`crate::endpoint::Destination::resync_index_checks_access`]).
fn checked_by_index(engine: &Engine, opts: &ResyncOptions) -> bool {
    engine.destination.resync_index_checks_access() && !opts.correlate_by_search
}

/// The number of source entries for the first pass's correlation index: the DNs given, else a count started
/// now for a destination that decides from it (the pass counts alongside otherwise).
fn first_count(engine: &Engine, opts: &ResyncOptions) -> SourceCount {
    match &opts.dns {
        Some(dns) => SourceCount::known(Some(dns.len() as u64)),
        None if engine.destination.resync_index_needs_count() && !opts.correlate_by_search => {
            let (source, filter) = (engine.source.clone(), opts.filter.clone());
            SourceCount::spawn(async move { source.count(filter.as_deref()).await.ok().flatten() })
        }
        None => SourceCount::known(None),
    }
}

/// Asks the destination to prepare its correlation index for the first pass; returns the number of source
/// entries when it was counted, and the correlation path taken. A listing that fails is not fatal: the pass
/// correlates by searches, and the path says why.
async fn prepare_index(engine: &Engine, opts: &ResyncOptions, count: SourceCount) -> (Option<u64>, CorrelationPath) {
    if opts.correlate_by_search {
        let why = "--correlateBySearch".to_string();
        // The pass counts the entries alongside.
        return (None, CorrelationPath::Searches { why });
    }
    let path = match engine.destination.prepare_resync_index(count.clone()).await {
        Ok(p) => p,
        Err(e) => CorrelationPath::Searches { why: format!("listing the destination failed: {e}") },
    };
    let entries = count.get().await;
    (entries.filter(|_| opts.dns.is_none()), path)
}

/// A token bucket whose rate may change while it runs.
struct RateLimiter {
    rate: Arc<AtomicU64>,
    next: Instant,
}

impl RateLimiter {
    async fn wait(&mut self) {
        let rate = self.rate.load(Ordering::Relaxed);
        if rate == 0 {
            self.next = Instant::now();
            return;
        }
        let now = Instant::now();
        if self.next > now {
            tokio::time::sleep(self.next - now).await;
        }
        let base = self.next.max(Instant::now() - Duration::from_millis(200));
        self.next = base + Duration::from_secs_f64(1.0 / rate as f64);
    }
}

/// How many source entries the first pass reads ahead while the destination lists itself for correlation
/// ([`Destination::prepare_resync_index`](crate::endpoint::Destination::prepare_resync_index)), so that reading
/// the source overlaps the listing.
const PREFETCH: usize = 50_000;

/// How far a pass reads the source ahead of the synchronization.
enum Ahead {
    /// At most this many entries.
    Fixed(usize),
    /// Up to [`PREFETCH`] entries while `preparing` is set (the first pass's correlation index is being
    /// prepared: the source counted, the listing started); `small` otherwise, so that a resync into a
    /// destination that correlates by searches keeps a few entries in memory, not 50,000.
    WhileListing { small: usize, preparing: Arc<AtomicBool> },
}

/// The source entries of a pass, read by a task of their own.
struct Producer {
    rx: mpsc::Receiver<EndpointResult<Entry>>,
    task: tokio::task::JoinHandle<EndpointResult<()>>,
    /// The listed DNs that do not exist at the source.
    missing: Arc<Mutex<Vec<Failure>>>,
}

/// Starts reading the entries of a pass, `ahead` of the synchronization: the source's stream, or a fetch of
/// each of the DNs `only`.
fn start_producer(engine: &Engine, opts: &ResyncOptions, only: Option<Vec<String>>, ahead: Ahead) -> Producer {
    let (tx, rx) = match ahead {
        Ahead::Fixed(n) => mpsc::channel::<EndpointResult<Entry>>(n.max(1)),
        Ahead::WhileListing { small, preparing } => {
            let (tx, from_source) = mpsc::channel::<EndpointResult<Entry>>(small.max(1));
            let (to_pass, rx) = mpsc::channel::<EndpointResult<Entry>>(small.max(1));
            tokio::spawn(read_ahead(from_source, to_pass, small.max(1), move || preparing.load(Ordering::Relaxed)));
            (tx, rx)
        }
    };
    let source = engine.source.clone();
    let filter = opts.filter.clone();
    let missing_at_source: Arc<Mutex<Vec<Failure>>> = Arc::default();
    let missing = missing_at_source.clone();
    let task = tokio::spawn(async move {
        match only {
            None => source.stream(filter.as_deref(), tx).await,
            Some(dns) => {
                for dn in dns {
                    match source.fetch(&dn).await {
                        Ok(Some(e)) => {
                            if tx.send(Ok(e)).await.is_err() {
                                break;
                            }
                        }
                        Ok(None) => {
                            if let Ok(mut m) = missing.lock() {
                                m.push(Failure { dn, reason: "the entry does not exist at the source".into() })
                            }
                        }
                        Err(e) => {
                            if tx.send(Err(e)).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    });
    Producer { rx, task, missing: missing_at_source }
}

/// Passes the entries of `from` on to `to` in order, keeping up to [`PREFETCH`] of them waiting while `far()`
/// says so and up to `small` otherwise (the entries already waiting when it stops saying so drain first).
async fn read_ahead(
    mut from: mpsc::Receiver<EndpointResult<Entry>>,
    to: mpsc::Sender<EndpointResult<Entry>>,
    small: usize,
    far: impl Fn() -> bool,
) {
    let mut waiting = std::collections::VecDeque::new();
    let mut open = true;
    while open || !waiting.is_empty() {
        let limit = if far() { PREFETCH } else { small };
        tokio::select! {
            permit = to.reserve(), if !waiting.is_empty() => match permit {
                Ok(permit) => {
                    if let Some(entry) = waiting.pop_front() {
                        permit.send(entry);
                    }
                }
                // The pass stopped reading.
                Err(_) => return,
            },
            item = from.recv(), if open && waiting.len() < limit => match item {
                Some(entry) => waiting.push_back(entry),
                None => open = false,
            },
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_pass(
    engine: &Engine,
    opts: &ResyncOptions,
    batch: usize,
    pass: u32,
    producer: Producer,
    listed: Option<u64>,
    known_total: Option<u64>,
    observer: &dyn Observer,
    seen: &mut HashSet<String>,
) -> EndpointResult<PassReport> {
    let started = Instant::now();
    let threads = opts.threads.max(1);
    // With a destination that batches creates, `threads` requests of `batch` creates each.
    let in_flight_max = threads * batch;
    let Producer { mut rx, task: producer, missing: missing_at_source } = producer;
    // The entries are counted (for the progress bar's ETA) while the pass runs, not before it.
    let total = listed.or(known_total);
    observer.pass_started(pass, total);
    let mut counter = match (listed, total) {
        (Some(_), _) | (None, Some(_)) => None,
        (None, None) => {
            let (source, filter) = (engine.source.clone(), opts.filter.clone());
            Some(tokio::spawn(async move { source.count(filter.as_deref()).await.ok().flatten() }))
        }
    };

    let sync_opts = SyncOptions {
        dry_run: opts.dry_run,
        exclude: opts.exclude.clone(),
        operation: Operation::Resync,
        changed_attributes: None,
    };
    let mut limiter = RateLimiter { rate: opts.rate.clone(), next: Instant::now() };
    let mut report = PassReport { pass, ..Default::default() };
    let mut in_flight = tokio::task::JoinSet::new();
    let mut source_error: Option<EndpointError> = None;
    loop {
        if let Some(c) = counter.take_if(|c| c.is_finished()) {
            if let Ok(Some(n)) = c.await {
                observer.total_known(pass, n);
            }
        }
        // Keep at most `in_flight_max` entries in flight.
        while in_flight.len() >= in_flight_max {
            if let Some(done) = in_flight.join_next().await {
                if let Some(down) = record(done, &mut report, observer, opts.delete_missing.then_some(&mut *seen)) {
                    source_error = Some(EndpointError::Unavailable(down));
                }
            }
        }
        if source_error.is_some() {
            break;
        }
        let Some(item) = rx.recv().await else { break };
        match item {
            Err(e) => {
                source_error = Some(e);
                break;
            }
            Ok(entry) => {
                report.stats.retrieved += 1;
                limiter.wait().await;
                let engine = engine.clone();
                let sync_opts = sync_opts.clone();
                in_flight.spawn(async move {
                    let result = sync_with_parent_retry(&engine, &entry, &sync_opts).await;
                    (entry.dn, result)
                });
            }
        }
    }
    while let Some(done) = in_flight.join_next().await {
        if let Some(down) = record(done, &mut report, observer, opts.delete_missing.then_some(&mut *seen)) {
            source_error = source_error.or(Some(EndpointError::Unavailable(down)));
        }
    }
    drop(rx);
    if let Some(c) = counter {
        c.abort();
    }
    match producer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => source_error = source_error.or(Some(e)),
        Err(join) => {
            source_error = source_error.or(Some(EndpointError::Retryable(format!("the source reader stopped: {join}"))))
        }
    }
    if let Some(e) = source_error {
        return Err(e);
    }
    if let Ok(m) = missing_at_source.lock() {
        for f in m.iter() {
            report.stats.errors += 1;
            report.failures.push(f.clone());
        }
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// Counts one finished entry; returns the reason when its failure concerns a whole endpoint.
fn record(
    done: Result<(String, SyncResult), tokio::task::JoinError>,
    report: &mut PassReport,
    observer: &dyn Observer,
    seen: Option<&mut HashSet<String>>,
) -> Option<String> {
    let (dn, result) = match done {
        Ok(x) => x,
        Err(e) => {
            report.stats.errors += 1;
            report.failures.push(Failure { dn: String::new(), reason: format!("internal error: {e}") });
            return None;
        }
    };
    report.stats.count(&result.outcome);
    // Only the delete pass needs them (the normal form costs a DN parse per entry).
    if let (Some(d), Some(seen)) = (&result.destination, seen) {
        seen.insert(crate::syntax::normalize_dn(d).unwrap_or_else(|_| d.to_lowercase()));
    }
    if result.outcome.is_failure() {
        report.failures.push(Failure { dn: dn.clone(), reason: result.outcome.to_string() });
    }
    observer.entry_done(&dn, &result);
    result.endpoint_down
}

/// Synchronizes an entry; a create whose parent is missing (probably still in flight in a parallel run) is
/// tried again a few times.
async fn sync_with_parent_retry(engine: &Engine, entry: &Entry, opts: &SyncOptions) -> SyncResult {
    let mut wait = Duration::from_millis(20);
    for _ in 0..6 {
        let result = engine.sync_entry(entry, opts).await;
        match &result.outcome {
            Outcome::FailedAtResource(why) if why.contains("parent") || why.contains("noSuchObject") => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            _ => return result,
        }
    }
    engine.sync_entry(entry, opts).await
}

/// Deletes destination entries in scope that no source entry correlated to in the passes.
async fn delete_pass(
    engine: &Engine,
    opts: &ResyncOptions,
    pass: u32,
    seen: &HashSet<String>,
    observer: &dyn Observer,
) -> EndpointResult<PassReport> {
    let started = Instant::now();
    observer.pass_started(pass, None);
    let (tx, mut rx) = mpsc::channel(256);
    let destination = engine.destination.clone();
    let attrs = engine.mapping.destination_scope_attributes();
    let producer = tokio::spawn(async move { destination.stream(&attrs, tx).await });
    let mut candidates = Vec::new();
    while let Some(entry) = rx.recv().await {
        let entry = entry?;
        let norm = crate::syntax::normalize_dn(&entry.dn).unwrap_or_else(|_| entry.dn.to_lowercase());
        if !seen.contains(&norm) && engine.mapping.deletable_at_destination(&entry) {
            candidates.push(entry.dn);
        }
    }
    match producer.await {
        Ok(r) => r?,
        Err(e) => return Err(EndpointError::Retryable(format!("the destination reader stopped: {e}"))),
    }
    // Children before their parents.
    candidates.sort_by_key(|dn| std::cmp::Reverse(Dn::parse(dn).map(|d| d.len()).unwrap_or(0)));
    let mut report = PassReport { pass, deletes: true, ..Default::default() };
    let n = candidates.len() as u64;
    if !opts.dry_run && !opts.allow_mass_delete && opts.mass_delete_threshold > 0 && n > opts.mass_delete_threshold {
        // The mass-delete guard: nothing is deleted; the tool says how to go on.
        report.deletes_held = Some(n);
        report.duration = started.elapsed();
        return Ok(report);
    }
    for dn in candidates {
        let outcome = if opts.dry_run {
            Outcome::WouldDelete
        } else {
            match engine.destination.delete(&dn).await {
                Ok(()) => Outcome::Deleted,
                Err(e) => Outcome::FailedAtResource(e.to_string()),
            }
        };
        let mut result = SyncResult::new(outcome);
        result.destination = Some(dn.clone());
        report.stats.count(&result.outcome);
        if result.outcome.is_failure() {
            report.failures.push(Failure { dn: dn.clone(), reason: result.outcome.to_string() });
        }
        observer.entry_done(&dn, &result);
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// A line of a DN list that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DnListError {
    pub line: usize,
    pub message: String,
}

/// Reads a `--sourceInputFile`: `dn:` and `dn::` (base64) lines in LDIF form, with wrapped lines (a line that
/// starts with one space continues the previous one), comments and blank lines; other attribute lines are
/// ignored, so a whole LDIF file works too.
pub fn parse_dn_list(text: &str) -> Result<Vec<String>, DnListError> {
    // Unwrap folded lines first, remembering each logical line's first physical line.
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = line.strip_prefix(' ') {
            if let Some(last) = logical.last_mut() {
                last.1.push_str(rest);
                continue;
            }
        }
        logical.push((i + 1, line.to_string()));
    }
    let mut dns = Vec::new();
    for (line, text) in logical {
        let t = text.trim_end();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let lower = t.to_ascii_lowercase();
        let dn = if lower.starts_with("dn::") {
            let b64 = t.get(4..).unwrap_or_default().trim();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| DnListError { line, message: format!("the base64 DN cannot be decoded: {e}") })?;
            String::from_utf8(bytes).map_err(|_| DnListError { line, message: "the base64 DN is not UTF-8".into() })?
        } else if lower.starts_with("dn:") {
            t.get(3..).unwrap_or_default().trim().to_string()
        } else {
            continue;
        };
        Dn::parse(&dn).map_err(|e| DnListError { line, message: format!("'{dn}' is not a valid DN: {e}") })?;
        dns.push(dn);
    }
    Ok(dns)
}

/// Writes DNs in the form [`parse_dn_list`] reads back, each failure's reason as a comment above it.
pub fn format_dn_list(failures: &[Failure]) -> String {
    let mut out = String::new();
    for f in failures.iter().filter(|f| !f.dn.is_empty()) {
        out.push_str(&format!("# {}\n", f.reason.replace('\n', " ")));
        if f.dn.is_ascii() && !f.dn.starts_with([' ', ':', '<']) {
            out.push_str(&format!("dn: {}\n\n", f.dn));
        } else {
            out.push_str(&format!("dn:: {}\n\n", base64::engine::general_purpose::STANDARD.encode(f.dn.as_bytes())));
        }
    }
    out
}

/// Writes where each synchronized entry went into the id map, in batches on a thread of its own (SQLite's work
/// overlaps with the resync's), so that real-time sync that follows finds entries renamed at the source.
pub struct IdMapRecorder {
    pending: Mutex<Vec<IdMapping>>,
    tx: std::sync::mpsc::Sender<Vec<IdMapping>>,
    writer: std::thread::JoinHandle<Result<(), StoreError>>,
}

/// How many id-map records are written in one transaction.
const ID_MAP_BATCH: usize = 2000;

impl IdMapRecorder {
    pub fn start(pipe: String, mut store: Store) -> IdMapRecorder {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<IdMapping>>();
        let writer = std::thread::spawn(move || {
            for batch in rx {
                store.put_id_mappings(&pipe, &batch)?;
            }
            Ok(())
        });
        IdMapRecorder { pending: Mutex::default(), tx, writer }
    }

    /// Records `result` when the entry is now at the destination (created, modified or already in sync).
    pub fn record(&self, dn: &str, result: &SyncResult) {
        let (Some(source_id), Some(dest)) = (&result.source_id, &result.destination) else {
            return;
        };
        if !matches!(result.outcome, Outcome::Created | Outcome::Modified | Outcome::NoChangeNeeded) {
            return;
        }
        let full = self.pending.lock().map(|mut p| {
            p.push(IdMapping {
                source_id: source_id.clone(),
                source_dn: dn.to_string(),
                dest_dn: dest.clone(),
                digest: result.digest.clone(),
                class: result.class.clone(),
                renaming_to: None,
            });
            p.len() >= ID_MAP_BATCH
        });
        if full.unwrap_or(false) {
            self.flush();
        }
    }

    fn flush(&self) {
        let batch = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        if batch.is_empty() {
            return;
        }
        // A writer that stopped reports its error in `finish`.
        let _ = self.tx.send(batch);
    }

    /// Writes what is left and waits for the writer.
    pub fn finish(self) -> Result<(), StoreError> {
        self.flush();
        drop(self.tx);
        match self.writer.join() {
            Ok(result) => result,
            Err(_) => Err(StoreError::WriterStopped),
        }
    }
}

/// An observer that records the id map and passes every event on.
struct Recording<'a> {
    ids: &'a IdMapRecorder,
    inner: &'a dyn Observer,
}

impl Observer for Recording<'_> {
    fn pass_started(&self, pass: u32, total: Option<u64>) {
        self.inner.pass_started(pass, total);
    }
    fn total_known(&self, pass: u32, total: u64) {
        self.inner.total_known(pass, total);
    }
    fn entry_done(&self, dn: &str, result: &SyncResult) {
        self.ids.record(dn, result);
        self.inner.entry_done(dn, result);
    }
    fn warning(&self, message: &str) {
        self.inner.warning(message);
    }
}

/// What [`run_recording`] did: the passes, and whether the id map was saved.
pub struct Recorded {
    pub reports: Vec<PassReport>,
    /// `Err` when the id map could not be saved (real-time sync then finds renamed entries by correlation).
    pub id_map: Result<(), StoreError>,
}

/// Runs the passes as [`run`] does and records where each entry went in pipe `pipe`'s id map (not in a dry
/// run), as the resync tool does.
pub async fn run_recording(
    engine: &Engine,
    opts: &ResyncOptions,
    observer: &dyn Observer,
    pipe: &str,
    store: Store,
) -> EndpointResult<Recorded> {
    if opts.dry_run {
        let reports = run(engine, opts, observer).await?;
        return Ok(Recorded { reports, id_map: Ok(()) });
    }
    let ids = IdMapRecorder::start(pipe.to_string(), store);
    let reports = run(engine, opts, &Recording { ids: &ids, inner: observer }).await;
    let id_map = ids.finish();
    Ok(Recorded { reports: reports?, id_map })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{Correlated, Destination, DestinationCapabilities, EntrySource, Modification};

    /// Counts every call made to it; the destination cannot list its entries unless `lists`.
    #[derive(Default)]
    struct Counting {
        calls: AtomicU64,
        lists: bool,
    }

    impl Counting {
        fn called(&self) {
            self.calls.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[async_trait::async_trait]
    impl EntrySource for Counting {
        fn name(&self) -> &str {
            "src"
        }
        async fn check(&self) -> EndpointResult<()> {
            self.called();
            Ok(())
        }
        async fn fetch(&self, _: &str) -> EndpointResult<Option<Entry>> {
            self.called();
            Ok(None)
        }
        async fn fetch_by_unique_id(&self, _: &str) -> EndpointResult<Option<Entry>> {
            self.called();
            Ok(None)
        }
        fn unique_id(&self, _: &Entry) -> Option<String> {
            None
        }
        async fn stream(&self, _: Option<&str>, _: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
            self.called();
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl Destination for Counting {
        fn name(&self) -> &str {
            "web"
        }
        fn capabilities(&self) -> DestinationCapabilities {
            DestinationCapabilities { list_entries: self.lists }
        }
        async fn check(&self) -> EndpointResult<()> {
            self.called();
            Ok(())
        }
        async fn correlate(&self, _: &Entry, _: &[Vec<String>], _: &[String]) -> EndpointResult<Correlated> {
            self.called();
            Ok(Correlated::None)
        }
        async fn fetch(&self, _: &str, _: &[String]) -> EndpointResult<Option<Entry>> {
            self.called();
            Ok(None)
        }
        async fn create(&self, _: &Entry) -> EndpointResult<()> {
            self.called();
            Ok(())
        }
        async fn modify(&self, _: &str, _: &[Modification]) -> EndpointResult<()> {
            self.called();
            Ok(())
        }
        async fn rename(&self, id: &str, _: &str) -> EndpointResult<String> {
            self.called();
            Ok(id.to_string())
        }
        async fn delete(&self, _: &str) -> EndpointResult<()> {
            self.called();
            Ok(())
        }
        async fn stream(&self, _: &[String], _: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
            self.called();
            Ok(())
        }
    }

    fn engine(source: Arc<Counting>, destination: Arc<Counting>) -> Engine {
        let pipe = crate::model::find_type("sync-pipe").unwrap_or_else(|| panic!("no sync-pipe type"));
        let config =
            crate::config::Config::from_objects(vec![crate::config::ConfigObject::new(pipe, vec!["p".into()], None)]);
        let mapping = crate::mapping::PipeMapping::from_config(&config, "p").unwrap_or_else(|e| panic!("{e}"));
        Engine::new(mapping, source, destination)
    }

    fn run_now(engine: &Engine, opts: &ResyncOptions) -> EndpointResult<Vec<PassReport>> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(run(engine, opts, &Quiet))
    }

    #[test]
    fn delete_missing_entries_is_refused_before_any_work_when_the_destination_cannot_list() {
        let source = Arc::new(Counting::default());
        let destination = Arc::new(Counting::default());
        let engine = engine(source.clone(), destination.clone());
        let opts = ResyncOptions { delete_missing: true, threads: 1, ..Default::default() };
        let err = run_now(&engine, &opts).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "--deleteMissingEntries needs a sync destination that can list its entries, and the sync \
                 destination 'web' cannot, so the entries whose source is gone cannot be found; run resync without \
                 --deleteMissingEntries and delete them at the destination"
            )
        );
        assert_eq!(source.calls.load(Ordering::Relaxed), 0, "the source was used");
        assert_eq!(destination.calls.load(Ordering::Relaxed), 0, "the destination was used");

        // Without the option, the same destination resyncs (a full pass over an empty source).
        let plain = ResyncOptions { threads: 1, ..Default::default() };
        assert!(run_now(&engine, &plain).is_ok());
        assert!(source.calls.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn delete_missing_entries_lists_a_destination_that_can() {
        let source = Arc::new(Counting::default());
        let destination = Arc::new(Counting { lists: true, ..Default::default() });
        let engine = engine(source, destination.clone());
        let opts = ResyncOptions { delete_missing: true, threads: 1, ..Default::default() };
        let reports = run_now(&engine, &opts).unwrap_or_else(|e| panic!("{e}"));
        assert!(reports.iter().any(|r| r.deletes), "no delete pass ran");
        // check, then the listing of the delete pass
        assert_eq!(destination.calls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn dn_lists_round_trip() {
        let failures = vec![
            Failure { dn: "uid=a,ou=people,dc=example,dc=com".into(), reason: "failed-at-resource: x".into() },
            Failure { dn: "cn=Ünïcode,dc=example,dc=com".into(), reason: "y".into() },
        ];
        let text = format_dn_list(&failures);
        assert_eq!(parse_dn_list(&text).unwrap(), vec![failures[0].dn.clone(), failures[1].dn.clone()]);
    }

    #[test]
    fn dn_lists_unwrap_and_skip_attributes() {
        let text = "# comment\ndn: uid=long,ou=peo\n ple,dc=example,dc=com\ncn: x\n\ndn:: dWlkPWIsZGM9eA==\n";
        assert_eq!(parse_dn_list(text).unwrap(), vec!["uid=long,ou=people,dc=example,dc=com", "uid=b,dc=x"]);
        let e = parse_dn_list("dn: uid=a,,dc=x\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn the_summary_reads_like_pings() {
        let mut s = ResyncStats::default();
        for o in [
            Outcome::NoChangeNeeded,
            Outcome::WouldCreate,
            Outcome::WouldCreate,
            Outcome::WouldModify,
            Outcome::FailedAtResource("x".into()),
        ] {
            s.count(&o);
        }
        assert_eq!(s.sentence(), "1 entries were in-sync, 0 entries were modified, 0 entries were created, 1 entries are still out-of-sync, 2 entries are still missing, and 1 entries could not be processed due to an error");
    }

    /// The entries a resync reads ahead: few while nothing is listed, as far as PREFETCH while a listing runs,
    /// in order either way.
    #[tokio::test]
    async fn the_source_is_read_far_ahead_only_while_a_listing_runs() {
        for far in [false, true] {
            let (tx, from) = mpsc::channel::<EndpointResult<Entry>>(4);
            let (to, mut rx) = mpsc::channel::<EndpointResult<Entry>>(4);
            let read = Arc::new(AtomicU64::new(0));
            let counted = read.clone();
            tokio::spawn(async move {
                for i in 0..1000 {
                    if tx.send(Ok(Entry::new(format!("cn={i}")))).await.is_err() {
                        return;
                    }
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            });
            tokio::spawn(read_ahead(from, to, 4, move || far));
            tokio::time::sleep(Duration::from_millis(200)).await;
            let n = read.load(Ordering::Relaxed);
            if far {
                assert_eq!(n, 1000, "read ahead while a listing runs");
            } else {
                // The source's channel, the entries waiting and the pass's channel: 4 each, plus one in hand.
                assert!(n <= 13, "{n} entries were read ahead with nothing listed");
            }
            for i in 0..1000 {
                let e = rx.recv().await.expect("every entry").expect("no error");
                assert_eq!(e.dn, format!("cn={i}"));
            }
            assert!(rx.recv().await.is_none());
        }
    }
}
