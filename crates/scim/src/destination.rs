//! The SCIM 2.0 destination: which endpoint an entry goes to, correlation, fetch, create, modify and delete
//! through the service's requests.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use async_trait::async_trait;
use ferrosync::endpoint::{
    Correlated, CorrelationPath, Destination, DestinationCapabilities, EndpointError, EndpointResult, Modification,
    SourceCount,
};
use ferrosync::entry::Entry;
use ferrosync::mapping::PipeMapping;
use ferrosync::synclog::SyncLog;
use serde_json::{json, Map, Value as Json};
use tokio::sync::mpsc;

use crate::bulk::{BulkLimits, Op, Queue, Resync};
use crate::http::{self, status_error, Http};
use crate::index::{unindexable, EndpointIndex, Lookup, MAX_INDEXED};
use crate::mapping::{self, filter_escape, AttrMap, Endpoint, Usage, ID_PREFIX};
use crate::patch::{apply, patch_ops, PATCH_OP};

/// Resources asked for per page of a listing (less when the service's `filter.maxResults` is lower).
const LIST_PAGE: u64 = 1000;
const SEARCH_REQ: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const GROUP_CLASSES: &[&str] = &["groupofnames", "groupofuniquenames", "group", "posixgroup", "groupofurls"];

/// What the service says about itself in `/ServiceProviderConfig`.
#[derive(Default)]
pub(crate) struct Discovery {
    etag: bool,
    /// The lower of `filter.maxResults` and `pagination.maxPageSize` of `/ServiceProviderConfig`, when given.
    max_results: Option<u64>,
    /// What `bulk` of `/ServiceProviderConfig` says.
    pub(crate) bulk: BulkLimits,
}

/// What the service's `/Schemas` say, read when first needed (a write, or a correlation that depends on how a
/// value's case compares): a resync that finds everything in sync does without.
#[derive(Default)]
pub(crate) struct SchemaInfo {
    /// Declared top-level attribute names (lower case) by schema URN; empty when `/Schemas` is unreadable.
    schemas: HashMap<String, HashSet<String>>,
    /// The top-level attributes declared `caseExact` (lower case) by schema URN.
    case_exact: HashMap<String, HashSet<String>>,
}

/// The listing of a resync's correlation index, which goes on while the resync compares the entries that the
/// pages read so far answer; the lookups that cannot be answered yet wait for its end.
pub(crate) struct Listing {
    /// The correlation path once the listing is over: its counts, or why correlation searches instead.
    done: Mutex<Option<CorrelationPath>>,
    over: Condvar,
    over_async: tokio::sync::watch::Sender<bool>,
    /// Set when the resync's pass is over before the listing (every entry was answered): it stops.
    stop: AtomicBool,
}

impl Listing {
    fn new() -> Self {
        Listing {
            done: Mutex::new(None),
            over: Condvar::new(),
            over_async: tokio::sync::watch::channel(false).0,
            stop: AtomicBool::new(false),
        }
    }

    fn finish(&self, path: CorrelationPath) {
        *lock(&self.done) = Some(path);
        self.over.notify_all();
        self.over_async.send_replace(true);
    }

    fn is_over(&self) -> bool {
        lock(&self.done).is_some()
    }

    /// Waits for the end of the listing (in a blocking thread).
    fn wait(&self) {
        let mut done = lock(&self.done);
        while done.is_none() {
            done = self.over.wait(done).unwrap_or_else(|p| p.into_inner());
        }
    }

    async fn wait_async(&self) {
        let mut rx = self.over_async.subscribe();
        // An error: the sender is gone, so the listing is over too.
        let _ = rx.wait_for(|over| *over).await;
    }
}

/// What the rest of a listing reads, after the first pages that decided it.
pub(crate) struct ListingPlan {
    /// How many resources each endpoint with search mappings holds (`None`: not listed).
    totals: Vec<Option<u64>>,
    /// The `startIndex` of each endpoint's next page.
    starts: Vec<u64>,
    page: u64,
    /// The first pages were read (else only the totals).
    read_first: bool,
    requests: u64,
    entries: u64,
}

/// A resource the destination correlated: where it is, and the state it was in.
#[derive(Clone)]
pub(crate) struct Known {
    ep: usize,
    id: String,
    version: Option<String>,
    resource: Option<Json>,
    mapped: Option<Entry>,
    /// Read by this sync operation a moment ago: the next correlation may use it without a request.
    fresh: bool,
}

pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) pipe: String,
    pub(crate) log: SyncLog,
    pub(crate) http: Http,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) mapping: PipeMapping,
    pub(crate) post_search: bool,
    pub(crate) put: bool,
    pub(crate) discovery: OnceLock<Discovery>,
    pub(crate) schema_info: OnceLock<SchemaInfo>,
    pub(crate) known: Mutex<HashMap<String, Known>>,
    pub(crate) dn_of: Mutex<HashMap<String, String>>,
    pub(crate) warned: Mutex<HashSet<String>>,
    /// The correlation index of a full resync, one per endpoint (`None` for an endpoint without search
    /// mappings); `None` outside such a resync.
    pub(crate) index: Mutex<Option<Vec<Option<EndpointIndex>>>>,
    /// The listing of that index, while it runs and once it is over; `None` outside a resync that lists.
    pub(crate) listing: Mutex<Option<Arc<Listing>>>,
}

/// The SCIM 2.0 destination.
pub struct ScimDestination {
    pub(crate) inner: Arc<Inner>,
    /// The request slots and Bulk queue of a resync ([`Destination::begin_resync`]); `None` outside one.
    pub(crate) resync: Mutex<Option<Resync>>,
    /// The task that reads the rest of the resync's listing.
    pub(crate) listing_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn norm(dn: &str) -> String {
    ferrosync::syntax::normalize_dn(dn).unwrap_or_else(|_| dn.to_ascii_lowercase())
}

impl ScimDestination {
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> EndpointResult<T> + Send + 'static,
    ) -> EndpointResult<T> {
        let inner = self.inner.clone();
        // In a resync with batched creates, more entries are in flight than the pipe's worker count: a
        // request slot keeps the requests in flight to that count.
        let slots = lock(&self.resync).as_ref().map(|r| r.slots.clone());
        let _slot = match slots {
            Some(s) => {
                Some(s.acquire_owned().await.map_err(|_| EndpointError::Retryable("the resync is over".to_string()))?)
            }
            None => None,
        };
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| EndpointError::Retryable(format!("the SCIM worker stopped: {e}")))?
    }

    /// The Bulk queue of the resync running now, unless the service refused Bulk.
    fn bulk_queue(&self) -> Option<Queue> {
        lock(&self.resync).as_ref().and_then(|r| r.bulk.clone()).filter(|q| !q.off.load(Ordering::Relaxed))
    }

    /// Creates `entry` through the Bulk queue `q`.
    async fn create_bulked(&self, q: Queue, entry: Entry) -> EndpointResult<()> {
        let i = self.inner.choose(&entry);
        if self.inner.endpoints[i].attrs.iter().any(|m| m.is_members()) {
            // Its members may be queued still: they are found once they are created.
            q.outstanding.drained().await;
            return self.run(move |inner| inner.create(&entry)).await;
        }
        let e = entry.clone();
        let (i, body) = self.run(move |inner| inner.prepare_create(&e)).await?;
        let Some((json, len)) = q.operation(&self.inner.endpoints[i].path, &body) else {
            return self.run(move |inner| inner.post_one(i, &entry, body)).await;
        };
        let (done, result) = tokio::sync::oneshot::channel();
        q.outstanding.add();
        let sent = q.tx.send(Op { ep: i, entry, body, json, len, done });
        let outcome = match sent {
            Ok(()) => result
                .await
                .unwrap_or_else(|_| Err(EndpointError::Retryable("the SCIM Bulk sender stopped".to_string()))),
            // The queue is closed (the resync is ending): on its own.
            Err(mpsc::error::SendError(op)) => self.run(move |inner| inner.post_one(op.ep, &op.entry, op.body)).await,
        };
        q.outstanding.done();
        outcome
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn version_of(res: &Json, etag: Option<&str>) -> Option<String> {
    res.get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Json::as_str)
        .map(str::to_string)
        .or(etag.map(str::to_string))
}

impl Inner {
    fn discovery(&self) -> EndpointResult<&Discovery> {
        if let Some(d) = self.discovery.get() {
            return Ok(d);
        }
        let mut d = Discovery::default();
        let spc = self.http.send("GET", "ServiceProviderConfig", None, None)?;
        if spc.status == 200 {
            let j = spc.json();
            d.etag = j.get("etag").and_then(|e| e.get("supported")).and_then(Json::as_bool).unwrap_or(false);
            // The page a listing asks for: bounded by `filter.maxResults` and (RFC 9865) `pagination.maxPageSize`.
            d.max_results = [j.pointer("/filter/maxResults"), j.pointer("/pagination/maxPageSize")]
                .into_iter()
                .flatten()
                .filter_map(Json::as_u64)
                .min();
            d.bulk = BulkLimits::from_config(&j);
        }
        Ok(self.discovery.get_or_init(|| d))
    }

    fn schemas(&self) -> EndpointResult<&SchemaInfo> {
        if let Some(d) = self.schema_info.get() {
            return Ok(d);
        }
        let mut d = SchemaInfo::default();
        let sch = self.http.send("GET", "Schemas", None, None)?;
        if sch.status == 200 {
            let j = sch.json();
            let list = j.get("Resources").and_then(Json::as_array).cloned().unwrap_or_default();
            for s in list {
                let Some(id) = s.get("id").and_then(Json::as_str) else { continue };
                let names = s
                    .get("attributes")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.get("name").and_then(Json::as_str))
                            .map(str::to_ascii_lowercase)
                            .collect()
                    })
                    .unwrap_or_default();
                let exact = s
                    .get("attributes")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter(|x| x.get("caseExact").and_then(Json::as_bool).unwrap_or(false))
                            .filter_map(|x| x.get("name").and_then(Json::as_str))
                            .map(str::to_ascii_lowercase)
                            .collect()
                    })
                    .unwrap_or_default();
                d.case_exact.insert(id.to_string(), exact);
                d.schemas.insert(id.to_string(), names);
            }
        }
        Ok(self.schema_info.get_or_init(|| d))
    }

    pub(crate) fn warn_bulk_refused(&self, status: u16, n: usize) {
        self.warn_once(format!(
            "the service answered HTTP {status} to a Bulk request of {n} operations though its \
             /ServiceProviderConfig says bulk.supported: creates are sent one POST each from now on"
        ));
    }

    pub(crate) fn warn_once(&self, what: String) {
        if lock(&self.warned).insert(what.clone()) {
            let message = format!("SCIM destination '{}': {what}", self.name);
            if !self.log.warning(&self.pipe, &message) {
                ferrosync::synclog::warn_elsewhere(&message);
            }
        }
    }

    /// Drops attributes the service does not declare.
    fn declared_only(&self, ep: &Endpoint, res: &mut Map<String, Json>) -> EndpointResult<()> {
        let d = self.schemas()?;
        let Some(core) = d.schemas.get(ep.core()) else { return Ok(()) };
        let keys: Vec<String> = res.keys().cloned().collect();
        for k in keys {
            // The common attributes of every resource (RFC 7643 section 3.1) are never in a schema's list.
            if ["schemas", "id", "externalId", "meta"].iter().any(|c| k.eq_ignore_ascii_case(c)) {
                continue;
            }
            if let Some(ext) = ep.schemas.iter().skip(1).find(|e| e.eq_ignore_ascii_case(&k)) {
                match d.schemas.get(ext) {
                    None => {
                        self.warn_once(format!(
                            "the service does not declare the schema {ext}; its attributes are not sent"
                        ));
                        res.remove(&k);
                    }
                    Some(names) => {
                        if let Some(obj) = res.get_mut(&k).and_then(Json::as_object_mut) {
                            obj.retain(|a, _| {
                                let ok = names.contains(&a.to_ascii_lowercase());
                                if !ok {
                                    self.warn_once(format!("the service does not declare {ext}:{a}; it is not sent"));
                                }
                                ok
                            });
                        }
                    }
                }
            } else if !core.contains(&k.to_ascii_lowercase()) {
                self.warn_once(format!(
                    "the service does not declare the attribute '{k}' in {}; it is not sent",
                    ep.core()
                ));
                res.remove(&k);
            }
        }
        Ok(())
    }

    fn choose(&self, e: &Entry) -> usize {
        if self.endpoints.len() == 1 {
            return 0;
        }
        if let Some(class) = self.mapping.select_class(&e.dn, Some(e)) {
            if let Some(i) = self.endpoints.iter().position(|ep| ep.class.as_deref() == Some(class.name())) {
                return i;
            }
        }
        let ocs: Vec<String> = e.texts("objectClass").iter().map(|s| s.to_ascii_lowercase()).collect();
        if !ocs.is_empty() {
            let group = ocs.iter().any(|o| GROUP_CLASSES.contains(&o.as_str()));
            if let Some(i) = self.endpoints.iter().position(|ep| ep.is_group() == group) {
                return i;
            }
        }
        self.endpoints
            .iter()
            .position(|ep| !ep.search.is_empty() && ep.search.iter().all(|m| m.ldap_attrs().iter().all(|a| e.has(a))))
            .unwrap_or(0)
    }

    fn search(&self, ep: &Endpoint, filter: &str) -> EndpointResult<Vec<Json>> {
        let resp = if self.post_search {
            let body = json!({"schemas": [SEARCH_REQ], "filter": filter});
            let path = format!("{}/.search", ep.path);
            let r = self.http.send("POST", &path, Some(&body), None)?;
            if r.status != 200 {
                return Err(status_error("POST", &path, Some(&body), &r));
            }
            r
        } else {
            let path = format!("{}?filter={}", ep.path, http::query_encode(filter));
            let r = self.http.send("GET", &path, None, None)?;
            if r.status != 200 {
                return Err(status_error("GET", &path, None, &r));
            }
            r
        };
        Ok(resp.json().get("Resources").and_then(Json::as_array).cloned().unwrap_or_default())
    }

    /// The resources that the filter on mappings `maps` of entry `e` finds at endpoint `i` (`None`: `e` lacks
    /// a value for the filter): from the resync's index when the mappings are the endpoint's search mappings
    /// and there is one, else by a search.
    fn find(&self, i: usize, maps: &[AttrMap], e: &Entry) -> EndpointResult<Option<Vec<Json>>> {
        let ep = &self.endpoints[i];
        let same = maps.len() == ep.search.len() && maps.iter().zip(&ep.search).all(|(a, b)| a.name == b.name);
        if same {
            let Some(key) = EndpointIndex::key_for(maps, e) else { return Ok(None) };
            loop {
                let found = lock(&self.index)
                    .as_ref()
                    .and_then(|v| v.get(i))
                    .and_then(Option::as_ref)
                    .map(|ix| ix.lookup(&key));
                match found {
                    None => break,
                    Some(Lookup::Found(hits)) => {
                        let mut out = Vec::with_capacity(hits.len());
                        for (id, res) in hits {
                            match res {
                                Some(r) => out.push(r),
                                None => {
                                    if let Some((r, _)) = self.get(ep, &id)? {
                                        out.push(r);
                                    }
                                }
                            }
                        }
                        return Ok(Some(out));
                    }
                    Some(Lookup::Incomplete) => {
                        // Answered once the listing is over (or, when it failed, by a search).
                        if !self.wait_listing() {
                            break;
                        }
                    }
                    Some(Lookup::CaseUnknown { k, id, value }) => {
                        let exact = self.compares_case_exactly(ep, k, &id, &value)?;
                        if let Some(ix) = lock(&self.index).as_mut().and_then(|v| v.get_mut(i)).and_then(Option::as_mut)
                        {
                            ix.set_case_exact(k, exact);
                        }
                    }
                }
            }
        }
        let Some(f) = filter_of(maps, e) else { return Ok(None) };
        self.search(ep, &f).map(Some)
    }

    /// Updates the resync's index of endpoint `i` (when there is one) with what this destination now knows of
    /// resource `id`: its new state, or `None` when it is unknown.
    fn index_put(&self, i: usize, id: &str, res: Option<&Json>) {
        let mut index = lock(&self.index);
        if let Some(ix) = index.as_mut().and_then(|v| v.get_mut(i)).and_then(Option::as_mut) {
            match res {
                Some(r) if r.get("id").and_then(Json::as_str) == Some(id) => ix.put(&self.endpoints[i], r),
                _ => ix.forget_state(id),
            }
        }
    }

    fn index_remove(&self, i: usize, id: &str) {
        let mut index = lock(&self.index);
        if let Some(ix) = index.as_mut().and_then(|v| v.get_mut(i)).and_then(Option::as_mut) {
            ix.remove(id);
        }
    }

    /// Waits for the end of the resync's listing; false when there is none running (nothing to wait for).
    fn wait_listing(&self) -> bool {
        let Some(listing) = lock(&self.listing).clone() else { return false };
        if listing.is_over() {
            return false;
        }
        listing.wait();
        true
    }

    /// Whether a correlation of `mapped` cannot be answered before the resync's listing is over.
    fn waits_for_listing(&self, mapped: &Entry) -> bool {
        let i = self.choose(mapped);
        let ep = &self.endpoints[i];
        if lock(&self.known).contains_key(&norm(&mapped.dn)) {
            return false;
        }
        let Some(key) = EndpointIndex::key_for(&ep.search, mapped) else { return false };
        let index = lock(&self.index);
        let ix = index.as_ref().and_then(|v| v.get(i)).and_then(Option::as_ref);
        ix.is_some_and(|ix| ix.lookup(&key) == Lookup::Incomplete)
    }

    /// How the service's `eq` filter compares the values of search mapping `k` of `ep`: case-exactly when the
    /// schema says `caseExact`; else what one search for the value `value` of resource `id` with its case
    /// swapped tells (scimmy compares displayName case-exactly though its schema does not say caseExact).
    fn compares_case_exactly(&self, ep: &Endpoint, k: usize, id: &str, value: &str) -> EndpointResult<bool> {
        let Some(m) = ep.search.get(k) else { return Ok(true) };
        let (ext, a) = ep.locate(&m.scim);
        let schema = ext.unwrap_or(ep.core());
        if self.schemas()?.case_exact.get(schema).is_some_and(|s| s.contains(&a.to_ascii_lowercase())) {
            return Ok(true);
        }
        let swapped: String = value
            .chars()
            .flat_map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().collect::<Vec<_>>()
                } else {
                    c.to_uppercase().collect::<Vec<_>>()
                }
            })
            .collect();
        let f = format!("{} eq \"{}\"", m.scim, filter_escape(&swapped));
        let hits = self.search(ep, &f)?;
        Ok(!hits.iter().any(|h| h.get("id").and_then(Json::as_str) == Some(id)))
    }

    /// Decides from the counts whether a listing of every endpoint is cheaper than `entries` searches, and if
    /// so, starts the index from the first pages: the rest is read by [`Inner::continue_listing`] while the
    /// resync runs.
    fn prepare_index(&self, entries: Option<u64>) -> EndpointResult<(CorrelationPath, Option<ListingPlan>)> {
        let searches = |why: String| Ok((CorrelationPath::Searches { why }, None));
        let Some(entries) = entries else {
            return searches("the source cannot count its entries, so a listing may cost more".into());
        };
        let d = self.discovery()?;
        let page = d.max_results.unwrap_or(LIST_PAGE).clamp(1, LIST_PAGE);
        // With more source entries than a page holds, the first page is read at once (it says the total too):
        // even when the listing is not taken, it costs less than the searches it could have saved.
        let count = if entries > page { page } else { 0 };
        let mut totals = Vec::new();
        let mut firsts = Vec::new();
        let mut requests = 0u64;
        for ep in &self.endpoints {
            if ep.search.is_empty() {
                totals.push(None);
                firsts.push(Vec::new());
                continue;
            }
            if let Some(why) = unindexable(ep) {
                return searches(why);
            }
            let path = format!("{}?startIndex=1&count={count}", ep.path);
            let r = self.http.send("GET", &path, None, None)?;
            if r.status != 200 {
                return searches(format!("the service does not list {} (HTTP {})", ep.path, r.status));
            }
            requests += 1;
            let j = r.json();
            let Some(total) = j.get("totalResults").and_then(Json::as_u64) else {
                return searches(format!("the service does not say how many resources {} holds", ep.path));
            };
            totals.push(Some(total));
            let first = if count > 0 { j.get("Resources").and_then(Json::as_array).cloned() } else { None };
            firsts.push(first.unwrap_or_default());
        }
        let listed: u64 = totals.iter().flatten().sum();
        let pages: u64 = totals.iter().flatten().map(|t| t.div_ceil(page)).sum();
        if listed > MAX_INDEXED {
            return searches(format!("the destination holds {listed} resources, more than {MAX_INDEXED} to index"));
        }
        // The first pages, when read, are among the `pages`.
        let probes = if count > 0 { 0 } else { requests };
        if probes + pages >= entries {
            return searches(format!(
                "listing the destination's {listed} resources takes {pages} requests, not fewer than the {entries} \
                 searches"
            ));
        }
        let known = self.schema_info.get();
        let mut built = Vec::new();
        let mut starts = Vec::new();
        for ((ep, total), first) in self.endpoints.iter().zip(&totals).zip(&firsts) {
            starts.push(1 + first.len() as u64);
            if total.is_none() {
                built.push(None);
                continue;
            }
            // Case-exact when the schema (if read already) says so; otherwise asked when a lookup needs it.
            let exact = ep
                .search
                .iter()
                .map(|m| {
                    let (ext, a) = ep.locate(&m.scim);
                    let schema = ext.unwrap_or(ep.core());
                    known
                        .and_then(|d| d.case_exact.get(schema))
                        .is_some_and(|s| s.contains(&a.to_ascii_lowercase()))
                        .then_some(true)
                })
                .collect();
            let mut ix = EndpointIndex::new(ep, exact);
            for res in first {
                ix.put(ep, res);
            }
            built.push(Some(ix));
        }
        *lock(&self.index) = Some(built);
        let plan = ListingPlan { totals, starts, page, read_first: count > 0, requests, entries };
        Ok((CorrelationPath::Listing { listed, requests, entries }, Some(plan)))
    }

    /// Reads the rest of the listing that [`Inner::prepare_index`] started into the index, page by page (each
    /// page answers the lookups it can at once). Returns the path taken: the listing, or searches and why.
    fn continue_listing(&self, plan: &ListingPlan, listing: &Listing) -> EndpointResult<CorrelationPath> {
        let mut requests = plan.requests;
        let page = plan.page;
        for (i, (total, &first_start)) in plan.totals.iter().zip(&plan.starts).enumerate() {
            let Some(total) = *total else { continue };
            let ep = &self.endpoints[i];
            let mut start = first_start;
            let mut now_total = total;
            // A service that adds resources while it is listed may give more than it counted: a page cap.
            let max_pages = total.div_ceil(page) + 2;
            for _ in 0..max_pages {
                if plan.read_first && start > now_total {
                    break;
                }
                if listing.stop.load(Ordering::Relaxed) {
                    let listed = self.indexed();
                    return Ok(CorrelationPath::Listing { listed, requests, entries: plan.entries });
                }
                let path = format!("{}?startIndex={start}&count={page}", ep.path);
                let r = self.http.send("GET", &path, None, None)?;
                if r.status != 200 {
                    return Err(status_error("GET", &path, None, &r));
                }
                requests += 1;
                let j = r.json();
                let list = j.get("Resources").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
                if list.is_empty() {
                    break;
                }
                start += list.len() as u64;
                if let Some(ix) = lock(&self.index).as_mut().and_then(|v| v.get_mut(i)).and_then(Option::as_mut) {
                    for res in list {
                        ix.put(ep, res);
                    }
                }
                now_total = j.get("totalResults").and_then(Json::as_u64).unwrap_or(total);
                if start > now_total {
                    break;
                }
            }
            let mut index = lock(&self.index);
            let Some(ix) = index.as_mut().and_then(|v| v.get_mut(i)).and_then(Option::as_mut) else { continue };
            if (ix.len() as u64) < total {
                return Ok(CorrelationPath::Searches {
                    why: format!(
                        "the listing of {} gave {} of its {total} resources (resources removed while it was read, \
                         or a service that does not page)",
                        ep.path,
                        ix.len()
                    ),
                });
            }
            ix.set_complete();
        }
        Ok(CorrelationPath::Listing { listed: self.indexed(), requests, entries: plan.entries })
    }

    /// How many resources the index holds.
    fn indexed(&self) -> u64 {
        lock(&self.index).as_ref().map(|v| v.iter().flatten().map(|ix| ix.len() as u64).sum()).unwrap_or(0)
    }

    /// The listing is over with `result`: a listing that did not give every resource (or failed) leaves the
    /// index, and correlation searches from now on; the lookups waiting for the end go on.
    fn listing_over(&self, listing: &Listing, result: EndpointResult<CorrelationPath>) {
        let path = match result {
            Ok(p @ CorrelationPath::Listing { .. }) => p,
            Ok(p) => {
                *lock(&self.index) = None;
                p
            }
            Err(e) => {
                *lock(&self.index) = None;
                CorrelationPath::Searches { why: format!("listing the destination failed: {e}") }
            }
        };
        listing.finish(path);
    }

    fn get(&self, ep: &Endpoint, id: &str) -> EndpointResult<Option<(Json, Option<String>)>> {
        let path = format!("{}/{}", ep.path, mapping::path_segment(id));
        let r = self.http.send("GET", &path, None, None)?;
        match r.status {
            200 => {
                let j = r.json();
                let v = version_of(&j, r.etag.as_deref());
                Ok(Some((j, v)))
            }
            404 => Ok(None),
            _ => Err(status_error("GET", &path, None, &r)),
        }
    }

    fn remember(&self, dn: &str, k: Known) {
        lock(&self.dn_of).insert(k.id.clone(), dn.to_string());
        lock(&self.known).insert(norm(dn), k);
    }

    /// A member DN as a SCIM id.
    fn resolve_dn(&self, dn: &str) -> Option<String> {
        self.locate(dn).ok().flatten().map(|(_, id)| id)
    }

    /// Where the resource of `dn` is: remembered, or found through the DN's RDN.
    fn locate(&self, dn: &str) -> EndpointResult<Option<(usize, String)>> {
        if let Some(k) = lock(&self.known).get(&norm(dn)) {
            return Ok(Some((k.ep, k.id.clone())));
        }
        let Ok(parsed) = ferrosync::syntax::Dn::parse(dn) else { return Ok(None) };
        let Some(rdn) = parsed.rdn() else { return Ok(None) };
        let Some(ava) = rdn.avas().first() else { return Ok(None) };
        let reads_rdn = |m: &AttrMap| m.ldap.as_deref().is_some_and(|l| l.eq_ignore_ascii_case(ava.attr_type()));
        for (i, ep) in self.endpoints.iter().enumerate() {
            // The search mapping when it reads the RDN's attribute; else a single-valued string mapping that
            // does (AD: `CN=Jane Doe,...` is found by `displayName`, userName being the sAMAccountName).
            let by: Vec<&AttrMap> = match ep.search.as_slice() {
                [m] if reads_rdn(m) => vec![m],
                _ => match ep
                    .attrs
                    .iter()
                    .find(|m| reads_rdn(m) && m.single && !m.is_members() && matches!(m.kind, mapping::Kind::Str))
                {
                    Some(m) => vec![m],
                    None => continue,
                },
            };
            let mut probe = Entry::new(dn);
            probe.add(ava.attr_type(), ava.value());
            let by: Vec<AttrMap> = by.into_iter().cloned().collect();
            let Some(found) = self.find(i, &by, &probe)? else { continue };
            if let [one] = found.as_slice() {
                if let Some(id) = one.get("id").and_then(Json::as_str) {
                    let version = version_of(one, None);
                    self.remember(
                        dn,
                        Known {
                            ep: i,
                            id: id.to_string(),
                            version,
                            resource: Some(one.clone()),
                            mapped: None,
                            fresh: false,
                        },
                    );
                    return Ok(Some((i, id.to_string())));
                }
            }
        }
        Ok(None)
    }

    /// Learns the SCIM ids of the members that the mapped entry `e` names, so that reading the resource back
    /// gives their DNs (an id this process has not seen yet would read as an unknown member, and make an
    /// in-sync group look changed).
    fn learn_members(&self, ep: &Endpoint, e: &Entry) {
        for m in ep.attrs.iter().filter(|m| m.is_members()) {
            for a in m.ldap_attrs() {
                for dn in e.texts(&a) {
                    self.resolve_dn(&dn);
                }
            }
        }
    }

    /// What a value is compared by when a modification is applied: a member reads as a DN or as
    /// `scim-id:ID` depending on what this process knew when it read the resource, so both forms of a
    /// synchronized member compare as its id.
    fn value_key(&self, v: &str) -> String {
        if let Some(id) = v.strip_prefix(ID_PREFIX) {
            return id.to_string();
        }
        match lock(&self.known).get(&norm(v)) {
            Some(k) => k.id.clone(),
            None => v.to_lowercase(),
        }
    }

    fn unresolve(&self) -> impl Fn(&str) -> String + '_ {
        move |id: &str| match lock(&self.dn_of).get(id) {
            Some(dn) => dn.clone(),
            None => format!("{ID_PREFIX}{id}"),
        }
    }

    fn correlate(&self, mapped: &Entry) -> EndpointResult<Correlated> {
        let i = self.choose(mapped);
        let ep = &self.endpoints[i];
        let cached = lock(&self.known).get_mut(&norm(&mapped.dn)).map(|k| {
            let fresh = std::mem::take(&mut k.fresh);
            (k.ep, k.id.clone(), k.resource.clone().filter(|_| fresh).map(|r| (r, k.version.clone())))
        });
        let mut found: Option<(Json, Option<String>)> = None;
        if let Some((_, id, fresh)) = cached.filter(|(ci, ..)| *ci == i) {
            found = match fresh {
                Some(r) => Some(r),
                None => self.get(ep, &id)?,
            };
        }
        if found.is_none() {
            let Some(hits) = self.find(i, &ep.search, mapped)? else { return Ok(Correlated::None) };
            match hits.len() {
                0 => return Ok(Correlated::None),
                1 => {
                    let r = hits.into_iter().next().unwrap_or(Json::Null);
                    let v = version_of(&r, None);
                    found = Some((r, v));
                }
                _ => {
                    let ids =
                        hits.iter().filter_map(|h| h.get("id").and_then(Json::as_str)).map(str::to_string).collect();
                    return Ok(Correlated::Many(ids));
                }
            }
        }
        let Some((res, version)) = found else { return Ok(Correlated::None) };
        let id = res.get("id").and_then(Json::as_str).unwrap_or_default().to_string();
        self.remember(
            &mapped.dn,
            Known { ep: i, id, version, resource: Some(res.clone()), mapped: Some(mapped.clone()), fresh: false },
        );
        self.learn_members(ep, mapped);
        let e = ep.reverse(&mapped.dn, &res, Some(mapped), &self.unresolve());
        Ok(Correlated::One(e))
    }

    fn create(&self, e: &Entry) -> EndpointResult<()> {
        let (i, body) = self.prepare_create(e)?;
        self.post_one(i, e, body)
    }

    /// What a create of `e` sends: its endpoint and resource. Services need not enforce uniqueness (Groups
    /// rarely do): it looks first, so a create never duplicates. A resource that exists is the engine's to
    /// compare and update (it correlates next, and finds the resource just read without asking the service
    /// again).
    pub(crate) fn prepare_create(&self, e: &Entry) -> EndpointResult<(usize, Json)> {
        let i = self.choose(e);
        let ep = &self.endpoints[i];
        match self.correlate(e)? {
            Correlated::None => {}
            Correlated::One(_) => {
                if let Some(k) = lock(&self.known).get_mut(&norm(&e.dn)) {
                    k.fresh = true;
                }
                return Err(EndpointError::AlreadyExists(format!(
                    "{}: a resource matching {} exists already",
                    ep.path, e.dn
                )));
            }
            Correlated::Many(ids) => {
                return Err(EndpointError::Rejected(format!(
                    "{}: several resources match {}: {}",
                    ep.path,
                    e.dn,
                    ids.join(", ")
                )))
            }
        }
        let mut body = ep.build(e, Usage::Create, &mut |dn| self.resolve_dn(dn));
        self.declared_only(ep, &mut body)?;
        Ok((i, Json::Object(body)))
    }

    /// Creates `e` as resource `body` at endpoint `i` by one POST.
    pub(crate) fn post_one(&self, i: usize, e: &Entry, body: Json) -> EndpointResult<()> {
        let ep = &self.endpoints[i];
        let r = self.http.send("POST", &ep.path, Some(&body), None)?;
        match r.status {
            200 | 201 => {
                let j = r.json();
                let id = j.get("id").and_then(Json::as_str).unwrap_or_default().to_string();
                let version = version_of(&j, r.etag.as_deref());
                self.created(i, e, id, version, Some(j));
                Ok(())
            }
            409 => self.conflict(e, || status_error("POST", &ep.path, Some(&body), &r)),
            _ => Err(status_error("POST", &ep.path, Some(&body), &r)),
        }
    }

    /// Remembers that `e` is now resource `id` at endpoint `i`, in state `resource` when the service gave it
    /// (else `sent`, what was sent, keeps it findable in the resync's index, and its state is read by id
    /// when it is needed).
    pub(crate) fn created(&self, i: usize, e: &Entry, id: String, version: Option<String>, resource: Option<Json>) {
        self.index_put(i, &id, resource.as_ref());
        self.remember(&e.dn, Known { ep: i, id, version, resource, mapped: Some(e.clone()), fresh: false });
    }

    /// Remembers resource `id` created from `sent` without its state (a Bulk answer has none): findable in the
    /// resync's index, read by id when its state is needed.
    pub(crate) fn created_unread(&self, i: usize, e: &Entry, id: String, sent: &Json) {
        let mut res = sent.clone();
        if let Some(o) = res.as_object_mut() {
            o.insert("id".into(), Json::String(id.clone()));
        }
        self.index_put(i, &id, Some(&res));
        {
            let mut index = lock(&self.index);
            if let Some(ix) = index.as_mut().and_then(|v| v.get_mut(i)).and_then(Option::as_mut) {
                ix.forget_state(&id);
            }
        }
        self.remember(&e.dn, Known { ep: i, id, version: None, resource: None, mapped: Some(e.clone()), fresh: false });
    }

    /// A create of `e` answered 409: the resource is there already, so correlate and bring it up to date;
    /// `error` when it cannot be found. When the resync's index does not know it (an attempt whose answer was
    /// lost created it, such as a Bulk request that timed out and was sent again, or someone else did since
    /// the listing), a search asks the service itself.
    pub(crate) fn conflict(&self, e: &Entry, error: impl FnOnce() -> EndpointError) -> EndpointResult<()> {
        if let Correlated::One(_) = self.correlate(e)? {
            let k = lock(&self.known).get(&norm(&e.dn)).cloned();
            let Some(k) = k else { return Err(error()) };
            return self.update(&e.dn, k, e.clone());
        }
        let indexed = lock(&self.index).is_some();
        let i = self.choose(e);
        let ep = &self.endpoints[i];
        let Some(f) = filter_of(&ep.search, e).filter(|_| indexed) else { return Err(error()) };
        let hits = self.search(ep, &f)?;
        let [res] = hits.as_slice() else { return Err(error()) };
        let Some(id) = res.get("id").and_then(Json::as_str).map(str::to_string) else { return Err(error()) };
        self.index_put(i, &id, Some(res));
        let k = Known {
            ep: i,
            id,
            version: version_of(res, None),
            resource: Some(res.clone()),
            mapped: Some(e.clone()),
            fresh: false,
        };
        self.remember(&e.dn, k.clone());
        self.update(&e.dn, k, e.clone())
    }

    fn modify(&self, dn: &str, mods: &[Modification]) -> EndpointResult<()> {
        let k = match lock(&self.known).get(&norm(dn)).cloned() {
            Some(k) => k,
            None => {
                let Some((ep, id)) = self.locate(dn)? else {
                    return Err(EndpointError::Rejected(format!("no SCIM resource is known for {dn}")));
                };
                Known { ep, id, version: None, resource: None, mapped: None, fresh: false }
            }
        };
        let ep = &self.endpoints[k.ep];
        let (resource, version) = match &k.resource {
            Some(r) => (r.clone(), k.version.clone()),
            None => match self.get(ep, &k.id)? {
                Some(x) => x,
                None => return Err(EndpointError::Rejected(format!("{}/{} no longer exists", ep.path, k.id))),
            },
        };
        let mut target = ep.reverse(dn, &resource, k.mapped.as_ref(), &self.unresolve());
        for m in mods {
            apply(&mut target, m, &|v| self.value_key(v));
        }
        self.update(dn, Known { resource: Some(resource), version, ..k }, target)
    }

    /// Brings the resource `k` to the state of entry `target`.
    fn update(&self, dn: &str, k: Known, target: Entry) -> EndpointResult<()> {
        let ep = &self.endpoints[k.ep];
        let mut desired = ep.build(&target, Usage::Update, &mut |d| self.resolve_dn(d));
        self.declared_only(ep, &mut desired)?;
        let desired = Json::Object(desired);
        let etag = self.discovery()?.etag;
        let mut resource = k.resource.clone().unwrap_or(Json::Null);
        let mut version = k.version.clone();
        let path = format!("{}/{}", ep.path, mapping::path_segment(&k.id));
        for _ in 0..4 {
            let (method, body) = if self.put {
                let mut full = resource.as_object().cloned().unwrap_or_default();
                full.remove("meta");
                full.remove("groups");
                for m in ep.attrs.iter().filter(|m| m.used_for(Usage::Update)) {
                    ep.put(&mut full, &m.scim, ep.get(&desired, &m.scim).cloned());
                }
                full.insert("schemas".into(), desired.get("schemas").cloned().unwrap_or(Json::Null));
                if patch_ops(ep, &resource, &desired).is_empty() {
                    return Ok(());
                }
                ("PUT", Json::Object(full))
            } else {
                let ops = patch_ops(ep, &resource, &desired);
                if ops.is_empty() {
                    return Ok(());
                }
                ("PATCH", json!({"schemas": [PATCH_OP], "Operations": ops}))
            };
            let if_match = if etag { version.as_deref() } else { None };
            let r = self.http.send(method, &path, Some(&body), if_match)?;
            match r.status {
                200 | 204 => {
                    let mut known = k.clone();
                    known.fresh = false;
                    if r.status == 200 && !r.body.is_empty() {
                        let j = r.json();
                        known.version = version_of(&j, r.etag.as_deref());
                        known.resource = Some(j);
                    } else if let (Some(v), true) = (r.etag.clone(), etag) {
                        // No body, but the new version: the resource is what it was plus what was sent.
                        let mut now = resource.as_object().cloned().unwrap_or_default();
                        for m in ep.attrs.iter().filter(|m| m.used_for(Usage::Update)) {
                            ep.put(&mut now, &m.scim, ep.get(&desired, &m.scim).cloned());
                        }
                        known.resource = Some(Json::Object(now));
                        known.version = Some(v);
                    } else {
                        known.resource = None;
                        known.version = None;
                    }
                    self.index_put(known.ep, &known.id, known.resource.as_ref());
                    self.remember(dn, known);
                    return Ok(());
                }
                404 => {
                    // Deleted by someone else since this destination read it: forget it, so that the retry
                    // looks it up again (and creates it).
                    lock(&self.known).remove(&norm(dn));
                    return Err(EndpointError::Retryable(format!(
                        "{path} is gone (HTTP 404 on {method}): it is looked up again at the next attempt"
                    )));
                }
                412 => match self.get(ep, &k.id)? {
                    Some((res, v)) => {
                        resource = res;
                        version = v;
                    }
                    None => return Err(EndpointError::Rejected(format!("{path} no longer exists"))),
                },
                _ => return Err(status_error(method, &path, Some(&body), &r)),
            }
        }
        Err(EndpointError::Retryable(format!("{path}: the resource kept changing (HTTP 412 four times)")))
    }

    fn delete(&self, dn: &str) -> EndpointResult<()> {
        let Some((i, id)) = self.locate(dn)? else { return Ok(()) };
        let path = format!("{}/{}", self.endpoints[i].path, mapping::path_segment(&id));
        let r = self.http.send("DELETE", &path, None, None)?;
        lock(&self.known).remove(&norm(dn));
        lock(&self.dn_of).remove(&id);
        if matches!(r.status, 200 | 204 | 404) {
            self.index_remove(i, &id);
        }
        match r.status {
            200 | 204 | 404 => Ok(()),
            _ => Err(status_error("DELETE", &path, None, &r)),
        }
    }

    fn fetch(&self, dn: &str) -> EndpointResult<Option<Entry>> {
        let Some(k) = lock(&self.known).get(&norm(dn)).cloned() else { return Ok(None) };
        let ep = &self.endpoints[k.ep];
        // With ETags, the state this destination last wrote or read stands: an update sends If-Match, and a
        // resource changed by someone else since gives 412, which reads it again. One request per modify.
        if let (Some(res), Some(_), true) = (&k.resource, &k.version, self.discovery()?.etag) {
            return Ok(Some(ep.reverse(dn, res, k.mapped.as_ref(), &self.unresolve())));
        }
        let Some((res, version)) = self.get(ep, &k.id)? else {
            lock(&self.known).remove(&norm(dn));
            return Ok(None);
        };
        let e = ep.reverse(dn, &res, k.mapped.as_ref(), &self.unresolve());
        self.remember(dn, Known { resource: Some(res), version, ..k });
        Ok(Some(e))
    }
}

#[async_trait]
impl Destination for ScimDestination {
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// A SCIM service's resources are not listed (they are not below base DNs, and a resource type may hold
    /// resources no pipe wrote), so `resync --deleteMissingEntries` is refused.
    fn capabilities(&self) -> DestinationCapabilities {
        DestinationCapabilities { list_entries: false }
    }

    /// The listing is chosen when it takes fewer requests than a search per source entry.
    fn resync_index_needs_count(&self) -> bool {
        true
    }

    async fn check(&self) -> EndpointResult<()> {
        self.run(|i| {
            let r = i.http.send("GET", "ServiceProviderConfig", None, None)?;
            if r.status != 200 {
                return Err(EndpointError::Unavailable(format!(
                    "GET {}/ServiceProviderConfig: HTTP {}: is scim-service-url right? {}",
                    i.http.base,
                    r.status,
                    http::redact(&r.body)
                )));
            }
            i.discovery().map(|_| ())
        })
        .await
    }

    /// Lists every endpoint with search mappings into an index when that takes fewer requests than a search
    /// per source entry.
    /// The listing goes on while the resync runs (see [`Listing`]).
    async fn prepare_resync_index(&self, entries: SourceCount) -> EndpointResult<CorrelationPath> {
        let entries = entries.get().await;
        let (path, plan) = self.run(move |i| i.prepare_index(entries)).await?;
        let Some(plan) = plan else { return Ok(path) };
        let listing = Arc::new(Listing::new());
        *lock(&self.inner.listing) = Some(listing.clone());
        // The listing's requests count among the resync's requests in flight.
        let slots = lock(&self.resync).as_ref().map(|r| r.slots.clone());
        let permit = match slots {
            Some(s) => s.acquire_owned().await.ok(),
            None => None,
        };
        let inner = self.inner.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let result = inner.continue_listing(&plan, &listing);
            inner.listing_over(&listing, result);
        });
        *lock(&self.listing_task) = Some(task);
        Ok(path)
    }

    async fn end_resync_index(&self) -> Option<CorrelationPath> {
        if let Some(l) = lock(&self.inner.listing).as_ref() {
            l.stop.store(true, Ordering::Relaxed);
        }
        let task = lock(&self.listing_task).take();
        if let Some(t) = task {
            // A listing task that panicked: the path it took is unknown.
            let _ = t.await;
        }
        let path = lock(&self.inner.listing).take().and_then(|l| lock(&l.done).clone());
        *lock(&self.inner.index) = None;
        path
    }

    /// At most `threads` requests in flight; with a service whose `/ServiceProviderConfig` says
    /// `bulk.supported`, creates go in Bulk requests of up to `min(maxOperations, 200)` operations.
    async fn begin_resync(&self, threads: usize) -> usize {
        // A service whose configuration cannot be read gets single requests.
        let limits: BulkLimits = self.run(|i| i.discovery().map(|d| d.bulk)).await.unwrap_or_default();
        let slots = Arc::new(tokio::sync::Semaphore::new(threads.max(1)));
        let bulk = limits.supported.then(|| Queue::start(self.inner.clone(), limits, slots.clone()));
        let batch = if bulk.is_some() { limits.max_operations } else { 1 };
        *lock(&self.resync) = Some(Resync { slots, bulk });
        batch
    }

    async fn end_resync(&self) {
        // The queue's sender ends once the queue is closed and empty.
        *lock(&self.resync) = None;
    }

    async fn correlate(&self, mapped: &Entry, _lists: &[Vec<String>], _attrs: &[String]) -> EndpointResult<Correlated> {
        // A lookup that the listing so far cannot answer waits for its end here, holding no request slot.
        let listing = lock(&self.inner.listing).clone().filter(|l| !l.is_over());
        if let Some(l) = listing {
            if self.inner.waits_for_listing(mapped) {
                l.wait_async().await;
            }
        }
        let mapped = mapped.clone();
        self.run(move |i| i.correlate(&mapped)).await
    }

    async fn fetch(&self, id: &str, _attrs: &[String]) -> EndpointResult<Option<Entry>> {
        let id = id.to_string();
        self.run(move |i| i.fetch(&id)).await
    }

    async fn create(&self, entry: &Entry) -> EndpointResult<()> {
        let entry = entry.clone();
        if let Some(q) = self.bulk_queue() {
            return self.create_bulked(q, entry).await;
        }
        self.run(move |i| i.create(&entry)).await
    }

    async fn modify(&self, id: &str, mods: &[Modification]) -> EndpointResult<()> {
        let (id, mods) = (id.to_string(), mods.to_vec());
        self.run(move |i| i.modify(&id, &mods)).await
    }

    /// SCIM ids do not change: the resource stays, and is now known by the new DN.
    async fn rename(&self, id: &str, new_dn: &str) -> EndpointResult<String> {
        let mut known = lock(&self.inner.known);
        if let Some(k) = known.remove(&norm(id)) {
            lock(&self.inner.dn_of).insert(k.id.clone(), new_dn.to_string());
            known.insert(norm(new_dn), k);
        }
        Ok(new_dn.to_string())
    }

    async fn delete(&self, id: &str) -> EndpointResult<()> {
        let id = id.to_string();
        self.run(move |i| i.delete(&id)).await
    }

    /// SCIM resources have no DNs to compare with the source's, so a resync's delete pass finds nothing to
    /// delete here.
    /// A SCIM destination does not list its resources (see [`Destination::capabilities`]).
    async fn stream(&self, _attrs: &[String], _tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        Err(EndpointError::Config(format!(
            "the sync destination '{}' (a SCIM service) cannot list its resources",
            self.inner.name
        )))
    }
}

/// The filter `scim eq value and ...` for the mappings `maps` of entry `e`; `None` when `e` lacks a value
/// or a value is not a simple one.
fn filter_of<'a>(maps: impl IntoIterator<Item = &'a AttrMap>, e: &Entry) -> Option<String> {
    let mut clauses = Vec::new();
    for m in maps {
        let v = m.to_json(e, &mut |_| None)?;
        let v = match v {
            Json::Array(a) => a.into_iter().next()?,
            v => v,
        };
        let lit = match v {
            Json::String(s) => format!("\"{}\"", filter_escape(&s)),
            Json::Object(_) | Json::Array(_) | Json::Null => return None,
            other => other.to_string(),
        };
        clauses.push(format!("{} eq {lit}", m.scim));
    }
    (!clauses.is_empty()).then(|| clauses.join(" and "))
}
