//! [`LdapClient`]: typed LDAP operations over an ordered failover list of servers, with retries.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrosync::entry::Entry;
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapResult, ResultEntry, Scope, SearchStream};

use crate::config::{ClientOptions, ServerConfig};
use crate::convert::{add_attributes, entry_from_result_entry, Modification};
use crate::error::{rc, ErrorClass, LdapError};
use crate::pool::LdapPool;
use crate::stream::EntryStream;

/// An LDAP client over the servers of one sync source or destination, in failover order.
///
/// Every operation goes to the first server that is not cooling down. Connection errors, timeouts while
/// connecting, and the result codes BUSY (51), UNAVAILABLE (52), SERVER_DOWN (81) and CONNECT_ERROR (91) move
/// the operation to the next server at once; the failed server is then skipped for
/// [`ClientOptions::failover_cooldown`] (it is still tried, last, when every other server fails too).
/// Retryable errors (see [`classify_rc`](crate::classify_rc); response timeouts) are retried with the
/// [`RetryPolicy`](crate::RetryPolicy) backoff up to `max_attempts`; a round in which every server failed over
/// counts as one attempt. Other errors are returned at once.
///
/// Cloning is cheap; clones share the connection pools and the failover state.
#[derive(Clone)]
pub struct LdapClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    servers: Vec<ServerState>,
    options: ClientOptions,
}

struct ServerState {
    pool: LdapPool,
    down_until: Mutex<Option<Instant>>,
}

impl ServerState {
    fn cooling_down(&self, now: Instant) -> bool {
        self.down_until.lock().map(|g| g.is_some_and(|t| t > now)).unwrap_or(false)
    }

    fn mark_down(&self, cooldown: Duration) {
        if let Ok(mut g) = self.down_until.lock() {
            *g = Instant::now().checked_add(cooldown);
        }
    }

    fn mark_up(&self) {
        if let Ok(mut g) = self.down_until.lock() {
            *g = None;
        }
    }
}

/// The state of one server of a client, for monitoring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStatus {
    /// `name (host:port)`.
    pub server: String,
    /// False while the server is cooling down after a failover.
    pub available: bool,
    pub open_connections: usize,
}

/// Everything a raw search returned: entries, references and intermediate messages in arrival order, and the
/// final result with its response controls.
#[derive(Debug)]
pub struct RawSearchResult {
    pub items: Vec<ResultEntry>,
    pub result: LdapResult,
    /// The server that answered (`name (host:port)`).
    pub server: String,
}

/// A connection outside the pools, for long-running operations (persist searches).
pub struct DedicatedConnection {
    pub ldap: Ldap,
    /// The server it is connected to (`name (host:port)`).
    pub server: String,
    /// Its position in the failover list.
    pub server_index: usize,
}

const DEFAULT_ALL_ATTRS: &[&str] = &["*"];

fn owned_attrs(attrs: &[&str]) -> Vec<String> {
    let attrs = if attrs.is_empty() { DEFAULT_ALL_ATTRS } else { attrs };
    attrs.iter().map(|s| s.to_string()).collect()
}

fn check_filter(operation: &str, dn: &str, filter: &str) -> Result<(), LdapError> {
    ldap3::parse_filter(filter).map(|_| ()).map_err(|_| LdapError::Request {
        operation: operation.to_string(),
        dn: dn.to_string(),
        message: format!("the search filter {filter:?} cannot be parsed"),
    })
}

impl LdapClient {
    /// A client over `servers`, in failover order. Opens no connection.
    pub fn new(servers: Vec<ServerConfig>, options: ClientOptions) -> Result<LdapClient, LdapError> {
        if servers.is_empty() {
            return Err(LdapError::Config { server: "(none)".into(), message: "the server list is empty".into() });
        }
        let servers = servers
            .into_iter()
            .map(|cfg| Ok(ServerState { pool: LdapPool::new(cfg)?, down_until: Mutex::new(None) }))
            .collect::<Result<Vec<_>, LdapError>>()?;
        Ok(LdapClient { inner: Arc::new(ClientInner { servers, options }) })
    }

    /// A client over one server with the default options.
    pub fn single(server: ServerConfig) -> Result<LdapClient, LdapError> {
        LdapClient::new(vec![server], ClientOptions::default())
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The pools, in failover order.
    pub fn pools(&self) -> impl Iterator<Item = &LdapPool> {
        self.inner.servers.iter().map(|s| &s.pool)
    }

    /// The state of each server, in failover order.
    pub fn status(&self) -> Vec<ServerStatus> {
        let now = Instant::now();
        self.inner
            .servers
            .iter()
            .map(|s| ServerStatus {
                server: s.pool.label().to_string(),
                available: !s.cooling_down(now),
                open_connections: s.pool.open_connections(),
            })
            .collect()
    }

    /// Server indexes in the order to try: available ones first, then cooling-down ones, each in list order.
    fn server_order(&self) -> Vec<usize> {
        let now = Instant::now();
        let (mut up, down): (Vec<usize>, Vec<usize>) =
            (0..self.inner.servers.len()).partition(|&i| !self.inner.servers[i].cooling_down(now));
        up.extend(down);
        up
    }

    /// Runs `f` with failover and retries; returns its value and the index of the server that answered.
    async fn execute<T, F, Fut>(&self, operation: &str, dn: &str, mut f: F) -> Result<(T, usize), LdapError>
    where
        F: FnMut(Ldap) -> Fut,
        Fut: Future<Output = Result<T, ldap3::LdapError>>,
    {
        let policy = &self.inner.options.retry;
        let mut attempt: u32 = 1;
        loop {
            let mut failures = Vec::new();
            let mut retryable = None;
            for i in self.server_order() {
                let server = &self.inner.servers[i];
                match server.pool.run(operation, dn, &mut f).await {
                    Ok(value) => {
                        server.mark_up();
                        return Ok((value, i));
                    }
                    Err(e) => match e.class() {
                        ErrorClass::Failover => {
                            server.mark_down(self.inner.options.failover_cooldown);
                            failures.push(e);
                        }
                        ErrorClass::Retry => {
                            retryable = Some(e);
                            break;
                        }
                        ErrorClass::Fatal => return Err(e),
                    },
                }
            }
            let err = match retryable {
                Some(e) => e,
                None if failures.len() == 1 => failures.remove(0),
                None => LdapError::AllServersFailed { operation: operation.to_string(), dn: dn.to_string(), failures },
            };
            if attempt >= policy.max_attempts {
                return Err(err);
            }
            attempt += 1;
            tokio::time::sleep(policy.wait_before(attempt)).await;
        }
    }

    /// Runs `f` on a bound connection of the first healthy server, with the failover, retries and response
    /// timeout of every operation. `f` may be called several times (retries, failover), each time with a
    /// handle on a connection (clones share the socket). ldap3's `with_timeout` is preset to the response timeout
    /// on the handle (it applies to the first operation). Return errors with `?` on `LdapResult::success()` so
    /// result codes are classified: this is the way to send extra controls (ManageDsaIT, DirSync, ...).
    pub async fn with_connection<T, F, Fut>(&self, operation: &str, dn: &str, f: F) -> Result<T, LdapError>
    where
        F: FnMut(Ldap) -> Fut,
        Fut: Future<Output = Result<T, ldap3::LdapError>>,
    {
        self.execute(operation, dn, f).await.map(|(v, _)| v)
    }

    /// Opens a connection outside the pools on the first healthy server (with failover, no retries), for an
    /// operation that outlives the response timeout, such as an RFC 4533 refreshAndPersist search.
    pub async fn dedicated_connection(&self) -> Result<DedicatedConnection, LdapError> {
        let mut failures = Vec::new();
        for i in self.server_order() {
            let server = &self.inner.servers[i];
            match server.pool.open_dedicated().await {
                Ok(ldap) => {
                    server.mark_up();
                    return Ok(DedicatedConnection { ldap, server: server.pool.label().to_string(), server_index: i });
                }
                Err(e) if e.class() == ErrorClass::Failover => {
                    server.mark_down(self.inner.options.failover_cooldown);
                    failures.push(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(if failures.len() == 1 {
            failures.remove(0)
        } else {
            LdapError::AllServersFailed { operation: "connect".into(), dn: String::new(), failures }
        })
    }

    /// Opens the `initial_connections` of the first server that can be reached.
    pub async fn warm_up(&self) -> Result<(), LdapError> {
        let mut failures = Vec::new();
        for i in self.server_order() {
            let server = &self.inner.servers[i];
            match server.pool.warm_up().await {
                Ok(()) => {
                    server.mark_up();
                    return Ok(());
                }
                Err(e) if e.class() == ErrorClass::Failover => {
                    server.mark_down(self.inner.options.failover_cooldown);
                    failures.push(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(if failures.len() == 1 {
            failures.remove(0)
        } else {
            LdapError::AllServersFailed { operation: "connect".into(), dn: String::new(), failures }
        })
    }

    /// Opens a new connection and binds on the first server that can be reached; returns that server's label.
    /// A wrong password gives [`LdapError::Bind`]. To check every server, call
    /// [`LdapPool::check_bind`] on each of [`pools`](Self::pools).
    pub async fn check_bind(&self) -> Result<String, LdapError> {
        let c = self.dedicated_connection().await?;
        let mut ldap = c.ldap;
        let timeout = self.inner.servers[c.server_index].pool.config().connect_timeout;
        let _ = tokio::time::timeout(timeout, ldap.unbind()).await;
        Ok(c.server)
    }

    /// Searches and returns the entries (search references are skipped). The whole search must end within the
    /// response timeout, and every entry is held in memory: for large results use
    /// [`search_stream`](Self::search_stream). An empty `attrs` means all user attributes.
    pub async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<Entry>, LdapError> {
        check_filter("search", base, filter)?;
        let attrs = owned_attrs(attrs);
        let (entries, _) = self
            .execute("search", base, |mut ldap| {
                let attrs = attrs.clone();
                async move {
                    let (items, _) = ldap.search(base, scope, filter, attrs).await?.success()?;
                    Ok(items.into_iter().filter_map(entry_from_result_entry).collect::<Vec<_>>())
                }
            })
            .await?;
        Ok(entries)
    }

    /// Searches for at most `size_limit` entries. Returns them and whether they are all the matching entries:
    /// `false` when the server stopped at a size limit (sizeLimitExceeded, rc 4), ours or its own (a non-root
    /// user's limit may be lower), so the caller can narrow the search instead of failing or reading all.
    pub async fn search_limited(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        size_limit: usize,
    ) -> Result<(Vec<Entry>, bool), LdapError> {
        check_filter("search", base, filter)?;
        let attrs = owned_attrs(attrs);
        let limit = i32::try_from(size_limit.max(1)).unwrap_or(i32::MAX);
        let (found, _) = self
            .execute("search", base, |mut ldap| {
                let attrs = attrs.clone();
                async move {
                    let res = ldap
                        .with_search_options(ldap3::SearchOptions::new().sizelimit(limit))
                        .search(base, scope, filter, attrs)
                        .await?;
                    let complete = res.1.rc != crate::error::rc::SIZE_LIMIT_EXCEEDED;
                    let items = if complete { res.success()?.0 } else { res.0 };
                    Ok((items.into_iter().filter_map(entry_from_result_entry).collect::<Vec<_>>(), complete))
                }
            })
            .await?;
        Ok(found)
    }

    /// Searches with the simple paged results control, `page_size` entries per page, and streams the entries
    /// with flat memory. Failover and retries apply until the first entry arrives; after that an error ends the
    /// stream. The response timeout applies to each entry. Dropping the stream abandons the search.
    pub async fn search_stream(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        page_size: u32,
    ) -> Result<EntryStream, LdapError> {
        check_filter("search", base, filter)?;
        let attrs = owned_attrs(attrs);
        let page = i32::try_from(page_size.max(1)).unwrap_or(i32::MAX);
        let ((stream, first), index) = self
            .execute("search", base, |mut ldap| {
                let attrs = attrs.clone();
                async move {
                    let adapters: Vec<Box<dyn Adapter<'static, String, Vec<String>>>> =
                        vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(page))];
                    let mut stream: SearchStream<'static, String, Vec<String>> =
                        ldap.streaming_search_with(adapters, base, scope, filter, attrs).await?;
                    let first = stream.next().await?;
                    if first.is_none() {
                        stream.finish().await.success()?;
                        // 389 DS answers a paged search of a missing base with success and no entries (a plain
                        // search gets noSuchObject): check that the base exists, so an empty result is real.
                        if !base.is_empty() {
                            let mut check = stream.ldap_handle().clone();
                            check.search(base, Scope::Base, "(objectClass=*)", vec!["1.1"]).await?.success()?;
                        }
                    }
                    Ok((stream, first))
                }
            })
            .await?;
        let pool = self.inner.servers[index].pool.clone();
        Ok(EntryStream::spawn(pool, base.to_string(), stream, first, page_size as usize))
    }

    /// Reads one entry (a base search); `None` when it does not exist.
    pub async fn get(&self, dn: &str, attrs: &[&str]) -> Result<Option<Entry>, LdapError> {
        let attrs = owned_attrs(attrs);
        let (entry, _) = self
            .execute("read", dn, |mut ldap| {
                let attrs = attrs.clone();
                async move {
                    let res = ldap.search(dn, Scope::Base, "(objectClass=*)", attrs).await?;
                    if res.1.rc == rc::NO_SUCH_OBJECT {
                        return Ok(None);
                    }
                    let (items, _) = res.success()?;
                    Ok(items.into_iter().find_map(entry_from_result_entry))
                }
            })
            .await?;
        Ok(entry)
    }

    /// Reads the root DSE; an empty `attrs` asks for all user and operational attributes (`*`, `+`).
    pub async fn root_dse(&self, attrs: &[&str]) -> Result<Entry, LdapError> {
        let attrs = if attrs.is_empty() { vec!["*".to_string(), "+".to_string()] } else { owned_attrs(attrs) };
        let (entry, _) = self
            .execute("root DSE read", "", |mut ldap| {
                let attrs = attrs.clone();
                async move {
                    let (items, _) = ldap.search("", Scope::Base, "(objectClass=*)", attrs).await?.success()?;
                    Ok(items.into_iter().find_map(entry_from_result_entry).unwrap_or_default())
                }
            })
            .await?;
        Ok(entry)
    }

    /// Adds `entry`.
    pub async fn add(&self, entry: &Entry) -> Result<(), LdapError> {
        self.add_with_controls(entry, Vec::new()).await
    }

    /// Modifies the entry `dn`; an empty list does nothing.
    pub async fn modify(&self, dn: &str, mods: &[Modification]) -> Result<(), LdapError> {
        self.modify_with_controls(dn, mods, Vec::new()).await
    }

    /// Adds `entry` with request controls (such as the Relax control, for attributes only the server may write;
    /// none: a plain add).
    pub async fn add_with_controls(&self, entry: &Entry, controls: Vec<RawControl>) -> Result<(), LdapError> {
        let attrs = add_attributes(entry);
        if attrs.is_empty() {
            return Err(LdapError::Request {
                operation: "add".into(),
                dn: entry.dn.clone(),
                message: "the entry has no attributes".into(),
            });
        }
        let dn = entry.dn.as_str();
        self.execute("add", dn, |mut ldap| {
            let attrs = attrs.clone();
            let controls = controls.clone();
            async move {
                if !controls.is_empty() {
                    ldap.with_controls(controls);
                }
                ldap.add(dn, attrs).await?.success()?;
                Ok(())
            }
        })
        .await
        .map(|_| ())
    }

    /// Modifies the entry `dn` with request controls (none: a plain modify); an empty list does nothing.
    pub async fn modify_with_controls(
        &self,
        dn: &str,
        mods: &[Modification],
        controls: Vec<RawControl>,
    ) -> Result<(), LdapError> {
        if mods.is_empty() {
            return Ok(());
        }
        if let Some(m) = mods.iter().find(|m| matches!(m, Modification::Add(_, v) if v.is_empty())) {
            return Err(LdapError::Request {
                operation: "modify".into(),
                dn: dn.to_string(),
                message: format!("the add of attribute {} has no values", m.attribute()),
            });
        }
        let mods: Vec<_> = mods.iter().map(Modification::to_mod).collect();
        self.execute("modify", dn, |mut ldap| {
            let mods = mods.clone();
            let controls = controls.clone();
            async move {
                if !controls.is_empty() {
                    ldap.with_controls(controls);
                }
                ldap.modify(dn, mods).await?.success()?;
                Ok(())
            }
        })
        .await
        .map(|_| ())
    }

    /// Renames (`new_rdn`) and/or moves (`new_superior`) the entry `dn`.
    pub async fn modify_dn(
        &self,
        dn: &str,
        new_rdn: &str,
        delete_old_rdn: bool,
        new_superior: Option<&str>,
    ) -> Result<(), LdapError> {
        self.execute("modify DN", dn, |mut ldap| async move {
            ldap.modifydn(dn, new_rdn, delete_old_rdn, new_superior).await?.success()?;
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Deletes the entry `dn` (a leaf).
    pub async fn delete(&self, dn: &str) -> Result<(), LdapError> {
        self.execute("delete", dn, |mut ldap| async move {
            ldap.delete(dn).await?.success()?;
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Searches with extra request controls and returns every item unconverted (entries, references,
    /// intermediate messages such as RFC 4533 syncInfo) and the final result with its response controls.
    /// A final result code other than success is an error (e.g. rc 4096 e-syncRefreshRequired).
    pub async fn search_with_controls(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        controls: Vec<RawControl>,
    ) -> Result<RawSearchResult, LdapError> {
        check_filter("search", base, filter)?;
        let attrs = owned_attrs(attrs);
        let ((items, result), index) = self
            .execute("search", base, |mut ldap| {
                let attrs = attrs.clone();
                let controls = controls.clone();
                async move {
                    let mut stream = ldap.with_controls(controls).streaming_search(base, scope, filter, attrs).await?;
                    let mut items = Vec::new();
                    while let Some(item) = stream.next().await? {
                        items.push(item);
                    }
                    let result = stream.finish().await.success()?;
                    Ok((items, result))
                }
            })
            .await?;
        Ok(RawSearchResult { items, result, server: self.inner.servers[index].pool.label().to_string() })
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        for s in &self.inner.servers {
            s.pool.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn types_are_send_and_sync() {
        assert_send_sync::<LdapClient>();
        assert_send_sync::<LdapPool>();
        assert_send_sync::<LdapError>();
        assert_send::<EntryStream>(&EntryStream::closed());
    }

    /// Compiled, never run: the futures of the operations can be spawned.
    #[allow(dead_code)]
    fn futures_are_send(c: &LdapClient, e: &Entry) {
        assert_send(&c.search("", Scope::Base, "(objectClass=*)", &[]));
        assert_send(&c.search_stream("", Scope::Base, "(objectClass=*)", &[], 10));
        assert_send(&c.get("", &[]));
        assert_send(&c.add(e));
        assert_send(&c.modify("", &[]));
        assert_send(&c.modify_dn("", "", true, None));
        assert_send(&c.delete(""));
        assert_send(&c.root_dse(&[]));
        assert_send(&c.check_bind());
        assert_send(&c.search_with_controls("", Scope::Base, "(objectClass=*)", &[], vec![]));
        assert_send(&c.with_connection("x", "", |mut l| async move { l.unbind().await }));
    }
}
