//! The endpoint traits. The engine sees sources and destinations only through these, so LDAP directories,
//! Active Directory, SCIM 2.0 services and PingOne plug in the same way (lldap's handler traits are the model).

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::entry::{Entry, Value};

/// A change to one attribute of a destination entry: the smallest change the engine found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modification {
    /// Add these values.
    Add(String, Vec<Value>),
    /// Delete these values; an empty list deletes the whole attribute.
    Delete(String, Vec<Value>),
    /// Replace all values with these; an empty list deletes the attribute.
    Replace(String, Vec<Value>),
}

impl Modification {
    pub fn attribute(&self) -> &str {
        match self {
            Modification::Add(a, _) | Modification::Delete(a, _) | Modification::Replace(a, _) => a,
        }
    }
}

/// Why an endpoint operation failed, and whether trying again may help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// No server could be reached (all failed over); the operation may work later.
    #[error("{0}")]
    Unavailable(String),
    /// A failure that a retry may fix (a timeout, a busy server).
    #[error("{0}")]
    Retryable(String),
    /// The server refused the operation for good (a schema violation, a missing parent).
    #[error("{0}")]
    Rejected(String),
    /// The endpoint is configured wrongly (a wrong password, an unusable secret).
    #[error("{0}")]
    Config(String),
    /// The entry to create already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The entry's parent does not exist (yet): in a parallel resync, the parent may still be on its way.
    #[error("{0}")]
    MissingParent(String),
}

impl EndpointError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, EndpointError::Unavailable(_) | EndpointError::Retryable(_))
    }

    /// Whether the failure concerns the endpoint as a whole (no server reachable, wrong credentials) rather
    /// than one entry: a bulk run should stop instead of failing every entry the same way.
    pub fn is_endpoint_wide(&self) -> bool {
        matches!(self, EndpointError::Unavailable(_) | EndpointError::Config(_))
    }
}

pub type EndpointResult<T> = Result<T, EndpointError>;

/// Where entries are read.
#[async_trait]
pub trait EntrySource: Send + Sync {
    /// The source's configured name.
    fn name(&self) -> &str;

    /// Checks that the source can be reached and the credentials work.
    async fn check(&self) -> EndpointResult<()> {
        Ok(())
    }

    /// The current entry at `dn`, or `None` when there is none.
    async fn fetch(&self, dn: &str) -> EndpointResult<Option<Entry>>;

    /// The current entry whose unique id (such as `entryUUID` or `nsUniqueId`) is `id`.
    async fn fetch_by_unique_id(&self, id: &str) -> EndpointResult<Option<Entry>>;

    /// The unique id of an entry, when the entry carries it.
    fn unique_id(&self, entry: &Entry) -> Option<String>;

    /// The current entries of several unique ids at once (a batch of changes), keyed by the lower-cased id;
    /// ids not found are absent. The default finds none, and each change then fetches its own entry.
    async fn fetch_many_by_unique_id(
        &self,
        _ids: &[String],
    ) -> EndpointResult<std::collections::HashMap<String, Entry>> {
        Ok(std::collections::HashMap::new())
    }

    /// Sends every entry in scope (below the source's base DNs, matching `filter` when given) to `tx`, one at
    /// a time, so that memory stays flat. Returns when all were sent or the receiver is gone.
    async fn stream(&self, filter: Option<&str>, tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()>;

    /// How many entries [`EntrySource::stream`] would send, when the source can count them cheaply.
    async fn count(&self, _filter: Option<&str>) -> EndpointResult<Option<u64>> {
        Ok(None)
    }
}

/// What correlation found at the destination.
#[derive(Clone, Debug, PartialEq)]
pub enum Correlated {
    None,
    One(Entry),
    /// Several entries matched every correlation list tried; their ids.
    Many(Vec<String>),
}

/// What a destination can do beyond the operations every destination has. A tool that needs a capability the
/// destination lacks refuses the option before doing any work (`resync --deleteMissingEntries` on a SCIM
/// service), instead of silently doing nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestinationCapabilities {
    /// [`Destination::stream`] sends every entry below the destination's base DNs, so the entries whose source
    /// is gone can be found (`resync --deleteMissingEntries`).
    pub list_entries: bool,
}

impl Default for DestinationCapabilities {
    /// Everything (the capabilities of a directory).
    fn default() -> Self {
        DestinationCapabilities { list_entries: true }
    }
}

/// How a resync finds the destination entry of each source entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorrelationPath {
    /// One search per source entry (the destination's [`Destination::correlate`] asks the service); `why`:
    /// the reason the listing path was not taken.
    Searches { why: String },
    /// From a local index built from one paged listing of the destination: `listed` entries read in
    /// `requests` requests, instead of about `entries` searches.
    Listing { listed: u64, requests: u64, entries: u64 },
}

impl CorrelationPath {
    /// The line of the resync summary that says which path was taken.
    pub fn describe(&self) -> String {
        match self {
            CorrelationPath::Searches { why } => format!("Correlation: one search per entry ({why})"),
            CorrelationPath::Listing { listed, requests, entries } => format!(
                "Correlation: from one listing of the destination ({listed} entries in {requests} requests, instead \
                 of one search for each of the {entries} source entries)"
            ),
        }
    }
}

/// Where entries are written.
#[async_trait]
pub trait Destination: Send + Sync {
    fn name(&self) -> &str;

    /// What this destination can do; a destination that cannot do something says so here (the default: all).
    fn capabilities(&self) -> DestinationCapabilities {
        DestinationCapabilities::default()
    }

    /// Whether a [`Destination::prepare_resync_index`] that lists the destination proves what
    /// [`Destination::check`] would (its first request reads with the same access), so that a full resync
    /// checks this destination only when the index is not a listing, after preparing it, and the listing starts
    /// without waiting for a check request first. Nothing is written before either. The destination's
    /// [`Destination::begin_resync`] then runs before its check. The default: no (the check comes first).
    fn resync_index_checks_access(&self) -> bool {
        false
    }

    /// Whether [`Destination::prepare_resync_index`] decides from the number of source entries, so that the
    /// resync counts them before its first pass; otherwise it counts them alongside the pass (for the progress
    /// bar), and the pass does not wait for a count. The default: no (the default index is none).
    fn resync_index_needs_count(&self) -> bool {
        false
    }

    /// Checks that the destination can be reached and the credentials work.
    async fn check(&self) -> EndpointResult<()> {
        Ok(())
    }

    /// Finds the destination entry for `mapped`: each correlation list (such as `dn,uid`) is tried in order
    /// until exactly one entry matches. `attrs` are the attributes to fetch with it (empty: all user ones).
    async fn correlate(&self, mapped: &Entry, lists: &[Vec<String>], attrs: &[String]) -> EndpointResult<Correlated>;

    /// The entry with this id (a DN for directories).
    async fn fetch(&self, id: &str, attrs: &[String]) -> EndpointResult<Option<Entry>>;

    async fn create(&self, entry: &Entry) -> EndpointResult<()>;

    async fn modify(&self, id: &str, mods: &[Modification]) -> EndpointResult<()>;

    /// Renames or moves an entry (modify DN); returns the new id.
    async fn rename(&self, id: &str, new_dn: &str) -> EndpointResult<String>;

    async fn delete(&self, id: &str) -> EndpointResult<()>;

    /// Sends every entry below the destination's base DNs to `tx`, with the attributes `attrs`. A destination
    /// that cannot list its entries says so in [`Destination::capabilities`] and returns an error here.
    async fn stream(&self, attrs: &[String], tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()>;

    /// Called before the engine compares `existing` (as [`Destination::fetch`] or [`Destination::correlate`]
    /// returned it) with `mapped`: a destination that stores some mapped attributes in a form of its own (the
    /// password policy state of an LDAP destination that is not a PingDirectory: an account lock written for
    /// `pwdAccountLockedTime` and `ds-pwp-account-disabled`) rewrites `existing` so that the diff sees those
    /// attributes as `mapped` has them when the stored state already matches, and differing (every attribute
    /// of the state, so that [`Destination::modify`] is given all of them) when it does not. The default: as
    /// it is.
    fn prepare_diff(&self, _mapped: &Entry, _existing: &mut Entry) {}

    /// Whether a [`Modification::Replace`] of an attribute leaves it holding exactly the given values (an
    /// empty list: none, even when it had none), with nothing else to know about the entry. The engine then
    /// applies a change to an entry it wrote before without reading it first (see
    /// [`crate::mapping::Digest`]). LDAP directories do; endpoints that need the entry's current state to
    /// write (SCIM resources replaced whole, Active Directory passwords) do not.
    fn replaces_values(&self) -> bool {
        false
    }

    /// A full resync of about `entries` source entries (`None`: the source cannot count them; the count may
    /// still be under way, so that a destination can ask its own questions meanwhile) is about to start. A
    /// destination that can list its entries more cheaply than it can search for each one (decided
    /// from the counts) reads them all into a local index by its correlation attributes, and
    /// [`Destination::correlate`] answers from that index, kept current by this destination's own writes,
    /// until [`Destination::end_resync_index`]. The listing may go on after this returns, while the resync
    /// runs: [`Destination::correlate`] then answers what the pages read so far settle, and waits for the rest.
    /// Returns the path taken (as far as it is known; see [`Destination::end_resync_index`]); the default:
    /// searches.
    async fn prepare_resync_index(&self, _entries: SourceCount) -> EndpointResult<CorrelationPath> {
        Ok(CorrelationPath::Searches { why: "the destination does not offer a listing to correlate from".into() })
    }

    /// Drops the index of [`Destination::prepare_resync_index`] (stopping a listing still running): correlation
    /// searches again. Returns the path as it ended, when it is not what `prepare_resync_index` said (a
    /// listing that failed part way, after which correlation searched).
    async fn end_resync_index(&self) -> Option<CorrelationPath> {
        None
    }

    /// A resync with `threads` entries synchronized in parallel is about to start (not a dry run). Returns how
    /// many creates the destination sends in one request until [`Destination::end_resync`] (SCIM Bulk): the
    /// resync then keeps `threads` times as many entries in flight, and the destination itself keeps its
    /// requests in flight to at most `threads`. The default: 1 (one request per create, `threads` in flight).
    /// Real-time sync never calls it: it writes one change at a time.
    async fn begin_resync(&self, _threads: usize) -> usize {
        1
    }

    /// The resync of [`Destination::begin_resync`] is over: every create is sent on its own again.
    async fn end_resync(&self) {}
}

/// The number of source entries of a resync, counted while other work goes on: the engine starts the count,
/// a destination that decides from it ([`Destination::prepare_resync_index`]) asks its own questions meanwhile
/// and waits for the count when it needs it.
#[derive(Clone, Debug)]
pub struct SourceCount(tokio::sync::watch::Receiver<Option<Option<u64>>>);

impl SourceCount {
    /// A count that is known already (`None`: the source cannot count).
    pub fn known(entries: Option<u64>) -> SourceCount {
        SourceCount(tokio::sync::watch::channel(Some(entries)).1)
    }

    /// The count that `count` makes, run on its own task from now.
    pub fn spawn(count: impl std::future::Future<Output = Option<u64>> + Send + 'static) -> SourceCount {
        let (tx, rx) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            let _ = tx.send(Some(count.await));
        });
        SourceCount(rx)
    }

    /// The count, once it is made (`None`: the source cannot count, or the count failed).
    pub async fn get(&self) -> Option<u64> {
        let mut rx = self.0.clone();
        let value = match rx.wait_for(Option::is_some).await {
            Ok(v) => *v,
            Err(_) => None,
        };
        value.flatten()
    }
}

/// Where a change log is read from: an opaque token that the detector understands (a change number, an
/// accesslog `reqStart`, an RFC 4533 cookie, a DirSync cookie, a PingOne checkpoint). It is saved in the
/// state store after each applied change, so a restart resumes exactly there.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StartPoint(pub String);

impl StartPoint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The kind of a detected change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Add,
    Modify,
    /// A rename or move; `Change::new_dn` holds the new DN when the log says it.
    ModDn,
    Delete,
}

impl ChangeKind {
    pub fn name(&self) -> &'static str {
        match self {
            ChangeKind::Add => "ADD",
            ChangeKind::Modify => "MODIFY",
            ChangeKind::ModDn => "MODIFY DN",
            ChangeKind::Delete => "DELETE",
        }
    }
}

/// One change read from a source's change log.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The start point just after this change: once the change is applied, reading resumes here.
    pub after: StartPoint,
    /// A number or token that identifies the change in logs (`changeNumber`, `reqStart`, ...).
    pub id: String,
    pub kind: ChangeKind,
    /// The entry's DN before the change (for adds and modifies, its DN). Empty when the log only gives the
    /// unique id (RFC 4533 offline deletes).
    pub dn: String,
    /// The entry's DN after a rename or move, when known.
    pub new_dn: Option<String>,
    /// The entry's unique id (`targetUniqueId`, `reqEntryUUID`, the RFC 4533 entryUUID, `objectGUID`).
    pub unique_id: Option<String>,
    /// The attributes a modify changed (empty when unknown: then every attribute is compared).
    pub changed_attributes: Vec<String>,
    /// Who made the change (accesslog `reqAuthzID`, `modifiersName`), for loop prevention.
    pub modifier: Option<String>,
    /// When the change was made, as the log says it.
    pub time: Option<String>,
    /// The entry as the log carries it (RFC 4533 and DirSync send the entry); the engine still fetches the
    /// current entry unless `entry_is_current`.
    pub entry: Option<Entry>,
    /// `entry` is the whole entry as it stood after this change (an RFC 4533 push: every later change to the
    /// entry is pushed too, in order), so the engine uses it instead of fetching the entry again.
    pub entry_is_current: bool,
    /// A clear-text password the log recorded (OpenLDAP's accesslog, 389's `unhashed#user#password`), for
    /// destinations that take passwords. Never logged.
    pub password: Option<crate::secret::Secret>,
}

impl Change {
    pub fn new(after: StartPoint, id: impl Into<String>, kind: ChangeKind, dn: impl Into<String>) -> Self {
        Change {
            after,
            id: id.into(),
            kind,
            dn: dn.into(),
            new_dn: None,
            unique_id: None,
            changed_attributes: Vec::new(),
            modifier: None,
            time: None,
            entry: None,
            entry_is_current: false,
            password: None,
        }
    }
}

/// Where to start reading a change log (`realtime-sync set-startpoint`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartPointRequest {
    EndOfChangelog,
    BeginningOfChangelog,
    /// `--change-number N`.
    ChangeNumber(u64),
    /// `--change-sequence-number CSN` (OpenLDAP's `reqStart`).
    ChangeSequenceNumber(String),
    /// `--change-time` or `--startpoint-rewind`: the first change at or after this time.
    Time(std::time::SystemTime),
}

/// Reads a source's changes.
#[async_trait]
pub trait ChangeDetector: Send + Sync {
    /// The start point for a `set-startpoint` request. Errors say when the change log is missing or
    /// unreadable (and how to enable it), or when the request is older than the change log's oldest entry.
    async fn start_point(&self, request: &StartPointRequest) -> EndpointResult<StartPoint>;

    /// [`ChangeDetector::start_point`], telling `progress` how many change log records were read so far, for
    /// detectors that must read the whole log to find its end (DirSync pages through every object).
    async fn start_point_with_progress(
        &self,
        request: &StartPointRequest,
        _progress: &(dyn Fn(u64) + Sync),
    ) -> EndpointResult<StartPoint> {
        self.start_point(request).await
    }

    /// The changes after `after`, oldest first, at most `max`. Returns an empty list when there is nothing new
    /// (push detectors wait up to `wait` for a change before returning). An error of kind
    /// [`EndpointError::Config`] means the start point is no longer in the change log: a resync is needed.
    /// Push detectors (RFC 4533) keep their stream between calls: pass the `after` of the last change returned
    /// (or the start point at first); any other value restarts the stream from that point. Several changes may
    /// share one `after` (the changes of an RFC 4533 refresh carry the cookie the refresh started from).
    async fn poll(&self, after: &StartPoint, max: usize, wait: std::time::Duration) -> EndpointResult<Vec<Change>>;

    /// True for push detectors, whose `poll` returns an empty list only after waiting `wait` for a change: the
    /// pipe then polls again at once instead of sleeping a polling interval on top.
    fn waits_for_changes(&self) -> bool {
        false
    }

    /// After a poll from `after` that returned no change: a later start point that stands for the same
    /// position, or `None` to keep `after`. The runner records it (once every change read before is applied), so
    /// that records which needed no work are not read again (DirSync pages of objects outside the source's base
    /// DNs) and an idle pipe's start point does not age out of the change log (PingOne's retention window).
    async fn idle_start_point(&self, _after: &StartPoint) -> Option<StartPoint> {
        None
    }

    /// How many changes after `after` are not yet read, when the log can say.
    async fn unretrieved(&self, _after: &StartPoint) -> EndpointResult<Option<u64>> {
        Ok(None)
    }
}
