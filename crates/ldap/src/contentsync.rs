//! [`ContentSyncDetector`]: changes pushed by the server over an RFC 4533 refreshAndPersist search (389 DS's
//! Content Synchronization plugin, OpenLDAP's syncprov overlay).
//!
//! The start point token is `cookie:<base64 of the RFC 4533 cookie>`; `cookie:` (empty) means nothing was
//! synchronized yet, and starts with a full refresh in which every entry comes as a change.
//!
//! One persistent search runs on a dedicated connection in a background task, started by the first
//! [`poll`](ChangeDetector::poll) from the cookie it is given; it feeds a bounded channel that `poll` drains
//! (up to `max` changes, waiting up to `wait` for the first). When the connection drops the task reconnects
//! with a growing backoff (`persist-reconnect-interval`, doubled up to 30 s) and resumes from the newest cookie
//! it has; while it cannot, `poll` returns [`EndpointError::Unavailable`]. An idle stream is checked every 30 s
//! with a root DSE read on the same connection. Dropping the detector stops the task, which abandons the search
//! and unbinds. `poll` expects `after` to be the `after` of the last change it returned (or the start point at
//! first); any other value restarts the search from that cookie, so nothing is lost when the engine goes back.
//!
//! Mapping (the engine fetches the current entry anyway and correlates, so Add and Modify differ only in the
//! permission they need):
//!
//! * An entry with state `Add` during the persist stage (a new entry, or one moved into scope) is a
//!   [`ChangeKind::Add`]; during a refresh from an empty cookie (nothing synchronized yet) too. An `Add` during a
//!   refresh from a cookie (both servers send every changed entry as `Add` then, new or not) and every `Modify`
//!   are a [`ChangeKind::Modify`]. When the task has seen the entry under another DN (it keeps a uuid → DN map
//!   of up to 100,000 entries), the change is a [`ChangeKind::ModDn`] with `new_dn`. The entry goes in
//!   [`Change::entry`].
//! * State `Delete` is a [`ChangeKind::Delete`] of the entry's DN. A `syncIdSet` (deletes made while nobody was
//!   listening: UUIDs only) gives one delete per UUID with an empty `dn` (or the DN from the map) and the
//!   `unique_id` set. `Present` is ignored.
//! * `unique_id` is the entry's `unique-id-attribute` value when the entry carries it, else the 16-byte
//!   syncUUID formatted as that attribute is: `entryUUID` as RFC 4122 `8-4-4-4-12`, `nsUniqueId` as 389's
//!   `xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx` (389 sends the nsUniqueId bytes, so a 389 source should use
//!   `unique-id-attribute: nsUniqueId`).
//! * `after` is the newest cookie known when the change is handed out. During a refresh the cookie only
//!   counts once the refresh is done: the changes of a refresh carry the cookie the refresh started from, and
//!   the last one carries the cookie that ends it, so a restart in the middle of a refresh runs it again rather
//!   than skipping its rest. Within one message, only the last change carries that message's new cookie.
//!
//! 389 DS takes a search's cookie before it registers the search for its persist stage, so a change written in
//! between is in neither the refresh nor the persist stage (the likely cause of an add, made just as a pipe
//! started, that never arrived in one CI run). On a server whose cookies carry a change number, each session therefore reads the changes
//! since its refresh's cookie once more, with a refreshOnly search on the same connection, once the refresh is
//! done; until then the changes handed out keep the refresh's cookie (see [`ContentSyncOptions::catch_up`]). 389's
//! "Too many active synchronization sessions" (its cap on followed searches) is retried like a lost connection.
//!
//! A present-phase refresh (a server without a session log: OpenLDAP's `syncprov-sessionlog`, 389's retro
//! changelog) cannot tell which entries were deleted offline; such deletes are not reported.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use ferrosync::endpoint::{
    Change, ChangeDetector, ChangeKind, EndpointError, EndpointResult, StartPoint, StartPointRequest,
};
use ferrosync::entry::Entry;
use ferrosync::syntax::dn_equal;
use ldap3::asn1::{parse_tag, StructureTag, TagClass, Types, PL};
use ldap3::controls::{MakeCritical, RawControl, RefreshMode, SyncRequest};
use ldap3::{LdapResult, ResultEntry, SearchStream};
use tokio::sync::{mpsc, watch};

use crate::convert::entry_from_result_entry;
use crate::detector::servers_label;
use crate::endpoint::endpoint_error;
use crate::error::rc;
use crate::{LdapClient, LdapError, Scope};

const TOKEN_PREFIX: &str = "cookie:";
const SYNC_STATE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.2";
const SYNC_DONE_OID: &str = "1.3.6.1.4.1.4203.1.9.1.3";
const SYNC_INFO_OID: &str = "1.3.6.1.4.1.4203.1.9.1.4";

/// How a [`ContentSyncDetector`] searches and reconnects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentSyncOptions {
    /// The source's `unique-id-attribute` (`entryUUID` or `nsUniqueId`): its value, or the syncUUID formatted
    /// like it, is the changes' `unique_id`.
    pub unique_id_attribute: String,
    /// The first wait before reconnecting a lost search (`persist-reconnect-interval`); doubled after each
    /// failed attempt, up to `max_reconnect_interval`.
    pub reconnect_interval: Duration,
    pub max_reconnect_interval: Duration,
    /// The search filter. The servers tie cookies to it, so it must not change once a start point is saved.
    pub filter: String,
    /// The attributes of the entries; empty: `*`, the unique id attribute, `modifiersName`, `modifyTimestamp`.
    pub attributes: Vec<String>,
    /// Changes buffered between the search and `poll`.
    pub queue_size: usize,
    /// How long the stream may stay silent before the connection is checked.
    pub idle_check: Duration,
    /// Entries whose DN is remembered (to report renames and the DN of offline deletes).
    pub dn_cache: usize,
    /// How long after a search's refresh ends, on a server whose cookies carry a change number (389 DS), the
    /// changes since the refresh's cookie are read once more with a refreshOnly search; `None`: never. 389 DS
    /// takes a search's cookie before it registers the search for the persist stage, so a change written in
    /// between is in neither the refresh nor the persist stage: this second read finds it. Changes it finds
    /// again are applied again, which changes nothing. Until it is done the changes handed out keep the
    /// refresh's cookie, so a start point saved meanwhile is never past the change it may find.
    pub catch_up: Option<Duration>,
    /// Fault injection for tests: the first this many entries of each search's persist stage are dropped, as
    /// by a server that missed them.
    #[doc(hidden)]
    pub drop_persist_entries: usize,
}

impl Default for ContentSyncOptions {
    fn default() -> Self {
        ContentSyncOptions {
            unique_id_attribute: "entryUUID".into(),
            reconnect_interval: Duration::from_secs(1),
            max_reconnect_interval: Duration::from_secs(30),
            filter: "(objectClass=*)".into(),
            attributes: Vec::new(),
            queue_size: 1000,
            idle_check: Duration::from_secs(30),
            dn_cache: 100_000,
            catch_up: Some(Duration::ZERO),
            drop_persist_entries: 0,
        }
    }
}

/// How syncUUIDs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UidStyle {
    /// RFC 4122: `8-4-4-4-12`, lower case (`entryUUID`).
    Rfc4122,
    /// 389 DS: `xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx`, lower case (`nsUniqueId`).
    NsUniqueId,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn format_uuid(bytes: &[u8], style: UidStyle) -> String {
    if bytes.len() != 16 {
        return hex(bytes);
    }
    let h = |r: std::ops::Range<usize>| hex(&bytes[r]);
    match style {
        UidStyle::Rfc4122 => format!("{}-{}-{}-{}-{}", h(0..4), h(4..6), h(6..8), h(8..10), h(10..16)),
        UidStyle::NsUniqueId => format!("{}-{}-{}-{}", h(0..4), h(4..8), h(8..12), h(12..16)),
    }
}

// ------------------------------------------------------------------------------------------------------------
// RFC 4533 values, parsed without panics (ldap3's own parsers panic on unexpected input).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Present,
    Add,
    Modify,
    Delete,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SyncStateValue {
    state: State,
    uuid: Vec<u8>,
    cookie: Option<Vec<u8>>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SyncInfoValue {
    NewCookie(Vec<u8>),
    RefreshDelete { cookie: Option<Vec<u8>>, done: bool },
    RefreshPresent { cookie: Option<Vec<u8>>, done: bool },
    IdSet { cookie: Option<Vec<u8>>, refresh_deletes: bool, uuids: Vec<Vec<u8>> },
}

pub(crate) fn parse_ber(bytes: &[u8]) -> Option<StructureTag> {
    match parse_tag(bytes) {
        Ok((_, tag)) => Some(tag),
        Err(_) => None,
    }
}

fn is_universal(tag: &StructureTag, t: Types) -> bool {
    tag.class == TagClass::Universal && tag.id == t as u64
}

fn primitive(tag: &StructureTag) -> Option<&[u8]> {
    match &tag.payload {
        PL::P(v) => Some(v),
        PL::C(_) => None,
    }
}

fn children(tag: &StructureTag) -> Option<&[StructureTag]> {
    match &tag.payload {
        PL::C(v) => Some(v),
        PL::P(_) => None,
    }
}

fn boolean(tag: &StructureTag) -> Option<bool> {
    primitive(tag).and_then(|b| b.first()).map(|b| *b != 0)
}

/// The syncStateValue of a Sync State control: `SEQUENCE { state ENUMERATED, entryUUID, cookie OPTIONAL }`.
pub(crate) fn parse_sync_state(val: &[u8]) -> Option<SyncStateValue> {
    let tag = parse_ber(val)?;
    let items = children(&tag)?;
    let state_tag = items.first()?;
    if !is_universal(state_tag, Types::Enumerated) {
        return None;
    }
    let raw = primitive(state_tag)?;
    if raw.is_empty() || raw.len() > 8 {
        return None;
    }
    let state = match raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)) {
        0 => State::Present,
        1 => State::Add,
        2 => State::Modify,
        3 => State::Delete,
        _ => return None,
    };
    let uuid = primitive(items.get(1)?)?.to_vec();
    let cookie = items.get(2).and_then(primitive).map(<[u8]>::to_vec);
    Some(SyncStateValue { state, uuid, cookie })
}

/// The syncInfoValue of an intermediate response (`[APPLICATION 25] { [0] oid, [1] value }`).
pub(crate) fn parse_sync_info(tag: &StructureTag) -> Option<SyncInfoValue> {
    if tag.class != TagClass::Application || tag.id != 25 {
        return None;
    }
    let mut value = None;
    for part in children(tag)? {
        match (part.class, part.id) {
            (TagClass::Context, 0) if primitive(part) != Some(SYNC_INFO_OID.as_bytes()) => return None,
            (TagClass::Context, 1) => value = Some(primitive(part)?),
            _ => {}
        }
    }
    let info = parse_ber(value?)?;
    if info.class != TagClass::Context {
        return None;
    }
    if info.id == 0 {
        return Some(SyncInfoValue::NewCookie(primitive(&info)?.to_vec()));
    }
    let parts = children(&info)?;
    let mut cookie = None;
    let mut flag = None;
    let mut uuids = Vec::new();
    for p in parts {
        if is_universal(p, Types::OctetString) {
            cookie = Some(primitive(p)?.to_vec());
        } else if is_universal(p, Types::Boolean) {
            flag = Some(boolean(p)?);
        } else if is_universal(p, Types::Set) {
            for u in children(p)? {
                uuids.push(primitive(u)?.to_vec());
            }
        } else {
            return None;
        }
    }
    match info.id {
        1 => Some(SyncInfoValue::RefreshDelete { cookie, done: flag.unwrap_or(true) }),
        2 => Some(SyncInfoValue::RefreshPresent { cookie, done: flag.unwrap_or(true) }),
        3 => Some(SyncInfoValue::IdSet { cookie, refresh_deletes: flag.unwrap_or(false), uuids }),
        _ => None,
    }
}

/// The cookie of the Sync Done control of a search's result, if it has one.
fn sync_done_cookie(res: &LdapResult) -> Option<Vec<u8>> {
    res.ctrls
        .iter()
        .find(|c| c.1.ctype == SYNC_DONE_OID)
        .and_then(|c| c.1.val.as_deref())
        .and_then(parse_sync_done)
        .flatten()
}

/// The cookie of a Sync Done control: `SEQUENCE { cookie OPTIONAL, refreshDeletes BOOLEAN DEFAULT FALSE }`.
pub(crate) fn parse_sync_done(val: &[u8]) -> Option<Option<Vec<u8>>> {
    let tag = parse_ber(val)?;
    let mut cookie = None;
    for p in children(&tag)? {
        if is_universal(p, Types::OctetString) {
            cookie = Some(primitive(p)?.to_vec());
        }
    }
    Some(cookie)
}

// ------------------------------------------------------------------------------------------------------------

/// Follows a subtree with an RFC 4533 refreshAndPersist search. See the [module documentation](self).
pub struct ContentSyncDetector {
    inner: Arc<Inner>,
    running: tokio::sync::Mutex<Option<Running>>,
}

struct Inner {
    client: LdapClient,
    base: String,
    options: ContentSyncOptions,
    style: UidStyle,
}

/// The background search and what `poll` knows about it. Dropping it stops the task.
struct Running {
    rx: mpsc::Receiver<EndpointResult<Change>>,
    /// The `after` of the last change handed out (or the start point).
    expected: StartPoint,
    /// An error read after changes, returned by the next poll.
    pending_error: Option<EndpointError>,
    /// Why the task is not connected, while it is not.
    status: Arc<StdMutex<Option<String>>>,
    _stop: watch::Sender<bool>,
}

fn config(message: String) -> EndpointError {
    EndpointError::Config(message)
}

impl ContentSyncDetector {
    /// A detector following the subtree `base` through `client` (nothing is contacted before the first call).
    pub fn new(client: LdapClient, base: &str, options: ContentSyncOptions) -> Self {
        let style = if options.unique_id_attribute.eq_ignore_ascii_case("nsUniqueId") {
            UidStyle::NsUniqueId
        } else {
            UidStyle::Rfc4122
        };
        ContentSyncDetector {
            inner: Arc::new(Inner { client, base: base.to_string(), options, style }),
            running: tokio::sync::Mutex::new(None),
        }
    }

    pub fn client(&self) -> &LdapClient {
        &self.inner.client
    }

    /// The token of a cookie: `cookie:<base64>`.
    pub fn token(cookie: &[u8]) -> StartPoint {
        StartPoint(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(cookie)))
    }

    /// The cookie of a token (empty: nothing synchronized yet).
    pub fn parse_token(sp: &StartPoint) -> EndpointResult<Vec<u8>> {
        let s = sp.as_str().trim();
        if s.is_empty() {
            return Err(config(
                "there is no start point yet: run realtime-sync set-startpoint (e.g. --end-of-changelog)".into(),
            ));
        }
        let b64 = s.strip_prefix(TOKEN_PREFIX).ok_or_else(|| {
            config(format!(
                "the start point {s:?} is not an RFC 4533 cookie (cookie:...): it was made for another kind of sync \
                 source; run realtime-sync set-startpoint"
            ))
        })?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| config(format!("the start point {s:?} is not a valid cookie token (bad base64)")))
    }

    /// Reads the current cookie: a refreshOnly search with an empty cookie that asks for no attributes.
    async fn current_cookie(&self) -> EndpointResult<Vec<u8>> {
        let inner = &self.inner;
        let conn = inner.client.dedicated_connection().await.map_err(endpoint_error)?;
        let pool = inner.client.pools().nth(conn.server_index).cloned();
        let timeout = pool.as_ref().map_or(Duration::from_secs(30), |p| p.config().response_timeout);
        let op_error = |e: ldap3::LdapError| match &pool {
            Some(p) => endpoint_error(p.op_error(e, "content synchronization search", &inner.base)),
            None => EndpointError::Unavailable(e.to_string()),
        };
        let mut ldap = conn.ldap;
        let ctrl: RawControl =
            SyncRequest { mode: RefreshMode::RefreshOnly, cookie: None, reload_hint: false }.critical().into();
        let mut stream: SearchStream<'static, String, Vec<String>> = ldap
            .with_controls(vec![ctrl])
            .streaming_search(&inner.base, Scope::Subtree, &inner.options.filter, vec!["1.1".to_string()])
            .await
            .map_err(op_error)?;
        let mut last = None;
        loop {
            match tokio::time::timeout(timeout, stream.next()).await {
                Err(_) => {
                    shutdown(&mut stream, timeout).await;
                    return Err(EndpointError::Retryable(format!(
                        "the content synchronization refresh of {} on {} timed out (no answer within {} s)",
                        inner.base,
                        conn.server,
                        timeout.as_secs()
                    )));
                }
                Ok(Err(e)) => return Err(op_error(e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(re))) => {
                    let (tag, ctrls) = (re.0, re.1);
                    if tag.class == TagClass::Application && tag.id == 25 {
                        match parse_sync_info(&tag) {
                            Some(SyncInfoValue::NewCookie(c)) => last = Some(c),
                            Some(
                                SyncInfoValue::RefreshDelete { cookie: Some(c), .. }
                                | SyncInfoValue::RefreshPresent { cookie: Some(c), .. }
                                | SyncInfoValue::IdSet { cookie: Some(c), .. },
                            ) => last = Some(c),
                            _ => {}
                        }
                    } else if let Some(c) = state_of(&ctrls).and_then(|s| s.cookie) {
                        last = Some(c);
                    }
                }
            }
        }
        let res = stream.finish().await;
        let mut handle = stream.ldap_handle().clone();
        let _ = tokio::time::timeout(timeout, handle.unbind()).await;
        if res.rc != rc::SUCCESS {
            return Err(inner
                .end_error(&res)
                .unwrap_or_else(|| op_error(ldap3::LdapError::LdapResult { result: res.clone() })));
        }
        let done = sync_done_cookie(&res);
        done.or(last).ok_or_else(|| {
            config(format!(
                "the content synchronization refresh of {} on {} returned no cookie",
                inner.base, conn.server
            ))
        })
    }
}

impl Inner {
    fn not_available(&self, detail: &str) -> EndpointError {
        config(format!(
            "content synchronization (RFC 4533) of {} is not available on {}: {detail}. On 389 Directory Server \
             enable the Content Synchronization plugin (it needs the Retro Changelog Plugin): dsconf INSTANCE plugin \
             contentsync enable, then restart; on OpenLDAP add `overlay syncprov` (with `syncprov-sessionlog`, so \
             offline deletes are reported) to the database; and let the sync user read the subtree",
            self.base,
            servers_label(&self.client)
        ))
    }

    /// The error for a final result that no retry can fix, if it is one.
    fn end_error(&self, res: &LdapResult) -> Option<EndpointError> {
        match res.rc {
            rc::SYNC_REFRESH_REQUIRED => Some(config(format!(
                "the server cannot resume the content synchronization of {} from the saved cookie \
                 (e-syncRefreshRequired): changes may have been lost, a resync is needed (run resync, then \
                 realtime-sync set-startpoint --end-of-changelog)",
                self.base
            ))),
            rc::UNAVAILABLE_CRITICAL_EXTENSION | rc::PROTOCOL_ERROR => {
                Some(self.not_available(&format!("the server refused the sync request control: {res}")))
            }
            rc::NO_SUCH_OBJECT => Some(config(format!("the base DN {} does not exist: {res}", self.base))),
            rc::INSUFFICIENT_ACCESS_RIGHTS => Some(self.not_available(&format!("the sync user may not use it: {res}"))),
            // 389 DS caps the searches it follows (the plugin's argument, 10 by default): one ends in a while.
            rc::UNWILLING_TO_PERFORM if res.text.contains("Too many active synchronization sessions") => None,
            rc::UNWILLING_TO_PERFORM => Some(self.not_available(&format!(
                "the server is unwilling (a cookie of another server, base or filter?): {res}"
            ))),
            _ => None,
        }
    }

    fn attributes(&self) -> Vec<String> {
        if !self.options.attributes.is_empty() {
            return self.options.attributes.clone();
        }
        vec!["*".into(), self.options.unique_id_attribute.clone(), "modifiersName".into(), "modifyTimestamp".into()]
    }
}

fn state_of(ctrls: &[ldap3::controls::Control]) -> Option<SyncStateValue> {
    ctrls.iter().find(|c| c.1.ctype == SYNC_STATE_OID).and_then(|c| c.1.val.as_deref()).and_then(parse_sync_state)
}

/// Whether the connection of a persistent search that has been silent for a while still answers (a root DSE
/// read on the same connection).
pub(crate) async fn answers(stream: &mut SearchStream<'static, String, Vec<String>>, timeout: Duration) -> bool {
    let mut probe = stream.ldap_handle().clone();
    matches!(
        tokio::time::timeout(timeout, probe.search("", Scope::Base, "(objectClass=*)", vec!["1.1"])).await,
        Ok(Ok(_))
    )
}

/// Abandons a live search and unbinds.
pub(crate) async fn shutdown(stream: &mut SearchStream<'static, String, Vec<String>>, timeout: Duration) {
    let _ = stream.finish().await;
    let id = stream.ldap_handle().last_id();
    let mut ldap = stream.ldap_handle().clone();
    let _ = tokio::time::timeout(timeout, ldap.abandon(id)).await;
    let _ = tokio::time::timeout(timeout, ldap.unbind()).await;
}

/// A short identifier of a change for logs: the CSN in an OpenLDAP cookie, the change number at the end of a
/// 389 cookie, else the unique id.
pub(crate) fn change_id(cookie: Option<&[u8]>, unique_id: &str) -> String {
    if let Some(text) = cookie.and_then(|c| std::str::from_utf8(c).ok()) {
        if let Some((_, csn)) = text.split_once("csn=") {
            return csn.split([',', ';']).next().unwrap_or(csn).to_string();
        }
        if let Some((_, n)) = text.rsplit_once('#') {
            if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                return n.to_string();
            }
        }
    }
    unique_id.to_string()
}

/// The change number at the end of a 389 DS cookie (`host:port#binddn:base:filter#N`); OpenLDAP's cookies
/// (`rid=…,csn=…`) have none.
pub(crate) fn change_number(cookie: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(cookie).ok()?;
    if text.contains("csn=") {
        return None;
    }
    let (_, n) = text.rsplit_once('#')?;
    n.parse().ok()
}

/// Whether cookie `a` is older than `b` (both with change numbers, `a`'s lower).
pub(crate) fn older(a: &[u8], b: &[u8]) -> bool {
    matches!((change_number(a), change_number(b)), (Some(x), Some(y)) if x < y)
}

/// The unique id of an entry: its unique id attribute, else the syncUUID in that attribute's form.
fn unique_id_of(inner: &Inner, uuid: &[u8], entry: Option<&Entry>) -> String {
    entry
        .and_then(|e| e.first_text(&inner.options.unique_id_attribute))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format_uuid(uuid, inner.style))
}

/// uuid → DN of the entries seen, bounded.
struct DnCache {
    map: HashMap<Vec<u8>, String>,
    cap: usize,
}

impl DnCache {
    fn insert(&mut self, uuid: &[u8], dn: &str) {
        if let Some(v) = self.map.get_mut(uuid) {
            *v = dn.to_string();
        } else if self.map.len() < self.cap {
            self.map.insert(uuid.to_vec(), dn.to_string());
        }
    }
}

/// How a session of the background search ended.
enum Outcome {
    Stopped,
    Fatal(EndpointError),
    Lost { reason: String, progressed: bool },
}

/// The state of one session: the stream's phase, the cookie, the change held back during a refresh.
struct Session<'a> {
    inner: &'a Inner,
    cookie: &'a mut Vec<u8>,
    dns: &'a mut DnCache,
    refreshing: bool,
    /// The refresh started from an empty cookie: its entries are new to the consumer.
    initial: bool,
    start_token: StartPoint,
    refresh_cookie: Option<Vec<u8>>,
    held: Option<Change>,
    /// The cookie a catch-up read starts from, while one is due (see [`ContentSyncOptions::catch_up`]): the
    /// persist stage's changes keep it as their `after` until the catch-up is done.
    catch_up_from: Option<Vec<u8>>,
}

impl Session<'_> {
    /// During a refresh a change is held back until the next one (or the end of the refresh) arrives, so the
    /// last change of the refresh can carry the cookie that ends it.
    fn refresh_push(&mut self, out: &mut Vec<Change>, c: Change) {
        if let Some(h) = self.held.replace(c) {
            out.push(h);
        }
    }

    /// Hands out a group of persist-stage changes that came with `cookie`: the last carries it.
    fn persist_push(&mut self, out: &mut Vec<Change>, mut group: Vec<Change>, cookie: Option<Vec<u8>>) {
        let old = ContentSyncDetector::token(self.cookie);
        if let Some(c) = cookie.filter(|c| !older(c, self.cookie)) {
            *self.cookie = c;
        }
        // While a catch-up is due, every change keeps the cookie it starts from.
        let (old, new) = match &self.catch_up_from {
            Some(from) => {
                let held = ContentSyncDetector::token(from);
                (held.clone(), held)
            }
            None => (old, ContentSyncDetector::token(self.cookie)),
        };
        let n = group.len();
        for (i, mut c) in group.drain(..).enumerate() {
            c.after = if i + 1 == n { new.clone() } else { old.clone() };
            out.push(c);
        }
    }

    fn unique_id(&self, uuid: &[u8], entry: Option<&Entry>) -> String {
        unique_id_of(self.inner, uuid, entry)
    }

    fn end_refresh(&mut self, out: &mut Vec<Change>) {
        self.refreshing = false;
        if let Some(c) = self.refresh_cookie.take() {
            *self.cookie = c;
        }
        if let Some(mut h) = self.held.take() {
            h.after = ContentSyncDetector::token(self.cookie);
            out.push(h);
        }
    }

    /// The changes one message gives, in order.
    fn handle(&mut self, re: ResultEntry) -> Vec<Change> {
        let mut out = Vec::new();
        let (tag, ctrls) = (re.0, re.1);
        if tag.class == TagClass::Application && tag.id == 25 {
            match parse_sync_info(&tag) {
                None => {}
                Some(SyncInfoValue::NewCookie(c)) => {
                    if self.refreshing {
                        self.refresh_cookie = Some(c);
                    } else {
                        *self.cookie = c;
                    }
                }
                Some(
                    SyncInfoValue::RefreshDelete { cookie, done } | SyncInfoValue::RefreshPresent { cookie, done },
                ) => {
                    if let Some(c) = cookie {
                        if self.refreshing {
                            self.refresh_cookie = Some(c);
                        } else {
                            *self.cookie = c;
                        }
                    }
                    if done && self.refreshing {
                        self.end_refresh(&mut out);
                    }
                }
                Some(SyncInfoValue::IdSet { cookie, uuids, .. }) => {
                    let mut deletes: Vec<Change> = Vec::new();
                    for u in &uuids {
                        let dn = self.dns.map.remove(u.as_slice()).unwrap_or_default();
                        let uid = unique_id_of(self.inner, u, None);
                        let mut c = Change::new(self.start_token.clone(), uid.clone(), ChangeKind::Delete, dn);
                        c.unique_id = Some(uid);
                        deletes.push(c);
                    }
                    if self.refreshing {
                        if cookie.is_some() {
                            self.refresh_cookie = cookie;
                        }
                        for d in deletes {
                            self.refresh_push(&mut out, d);
                        }
                    } else {
                        self.persist_push(&mut out, deletes, cookie);
                    }
                }
            }
            return out;
        }
        if tag.class != TagClass::Application || tag.id != 4 {
            return out; // a search reference
        }
        let Some(state) = state_of(&ctrls) else { return out };
        let Some(entry) = entry_from_result_entry(ResultEntry::new(tag)) else { return out };
        let uuid = state.uuid.clone();
        let change = match state.state {
            State::Present => {
                self.dns.insert(&uuid, &entry.dn);
                None
            }
            State::Delete => {
                let known = self.dns.map.remove(uuid.as_slice());
                let dn = if entry.dn.is_empty() { known.unwrap_or_default() } else { entry.dn.clone() };
                let uid = self.unique_id(&uuid, Some(&entry));
                let mut c = Change::new(
                    self.start_token.clone(),
                    change_id(state.cookie.as_deref(), &uid),
                    ChangeKind::Delete,
                    dn,
                );
                c.unique_id = Some(uid);
                Some(c)
            }
            State::Add | State::Modify => {
                let uid = self.unique_id(&uuid, Some(&entry));
                let known = self.dns.map.get(uuid.as_slice()).cloned();
                let kind = match &known {
                    Some(old) if !dn_equal(old, &entry.dn) => ChangeKind::ModDn,
                    _ if state.state == State::Add && (!self.refreshing || self.initial) => ChangeKind::Add,
                    _ => ChangeKind::Modify,
                };
                let dn = match (&kind, known) {
                    (ChangeKind::ModDn, Some(old)) => old,
                    _ => entry.dn.clone(),
                };
                self.dns.insert(&uuid, &entry.dn);
                let mut c =
                    Change::new(self.start_token.clone(), change_id(state.cookie.as_deref(), &uid), kind.clone(), dn);
                if kind == ChangeKind::ModDn {
                    c.new_dn = Some(entry.dn.clone());
                }
                c.unique_id = Some(uid);
                c.modifier = entry.first_text("modifiersName");
                c.time = entry.first_text("modifyTimestamp");
                c.entry = Some(entry);
                c.entry_is_current = true;
                Some(c)
            }
        };
        if self.refreshing {
            if state.cookie.is_some() {
                self.refresh_cookie = state.cookie;
            }
            if let Some(c) = change {
                self.refresh_push(&mut out, c);
            }
        } else {
            let group = change.into_iter().collect();
            self.persist_push(&mut out, group, state.cookie);
        }
        out
    }
}

/// Sends a change; false when the detector is gone.
async fn send(
    tx: &mpsc::Sender<EndpointResult<Change>>,
    stop: &mut watch::Receiver<bool>,
    item: EndpointResult<Change>,
) -> bool {
    tokio::select! {
        r = tx.send(item) => r.is_ok(),
        _ = stop.changed() => false,
    }
}

fn set_status(status: &StdMutex<Option<String>>, value: Option<String>) {
    if let Ok(mut g) = status.lock() {
        *g = value;
    }
}

/// One connection's refreshAndPersist search, until it ends.
async fn session(
    inner: &Inner,
    cookie: &mut Vec<u8>,
    dns: &mut DnCache,
    tx: &mpsc::Sender<EndpointResult<Change>>,
    stop: &mut watch::Receiver<bool>,
    status: &StdMutex<Option<String>>,
) -> Outcome {
    let conn = tokio::select! {
        c = inner.client.dedicated_connection() => c,
        _ = stop.changed() => return Outcome::Stopped,
    };
    let conn = match conn {
        Ok(c) => c,
        Err(e @ (LdapError::Bind { .. } | LdapError::Config { .. })) => return Outcome::Fatal(endpoint_error(e)),
        Err(e) => return Outcome::Lost { reason: e.to_string(), progressed: false },
    };
    let pool = inner.client.pools().nth(conn.server_index).cloned();
    let timeout = pool.as_ref().map_or(Duration::from_secs(30), |p| p.config().response_timeout);
    let mut ldap = conn.ldap;
    let request = SyncRequest {
        mode: RefreshMode::RefreshAndPersist,
        cookie: if cookie.is_empty() { None } else { Some(cookie.clone()) },
        reload_hint: false,
    };
    let ctrl: RawControl = request.critical().into();
    let started = ldap
        .with_controls(vec![ctrl])
        .streaming_search(&inner.base, Scope::Subtree, &inner.options.filter, inner.attributes())
        .await;
    let mut stream: SearchStream<'static, String, Vec<String>> = match started {
        Ok(s) => s,
        Err(e) => return Outcome::Lost { reason: format!("{} on {}", e, conn.server), progressed: false },
    };
    let mut s = Session {
        inner,
        initial: cookie.is_empty(),
        start_token: ContentSyncDetector::token(cookie),
        cookie,
        dns,
        refreshing: true,
        refresh_cookie: None,
        held: None,
        catch_up_from: None,
    };
    let mut progressed = false;
    let mut catch_up_at: Option<tokio::time::Instant> = None;
    let mut dropped = 0;
    let lost = loop {
        let due = catch_up_at.unwrap_or_else(tokio::time::Instant::now);
        let item = tokio::select! {
            _ = stop.changed() => {
                shutdown(&mut stream, timeout).await;
                return Outcome::Stopped;
            }
            _ = tokio::time::sleep_until(due), if catch_up_at.is_some() => {
                catch_up_at = None;
                let mut handle = stream.ldap_handle().clone();
                match catch_up(&mut s, &mut handle, timeout).await {
                    Ok(changes) => {
                        for c in changes {
                            if !send(tx, stop, Ok(c)).await {
                                shutdown(&mut stream, timeout).await;
                                return Outcome::Stopped;
                            }
                        }
                        continue;
                    }
                    Err(e) => break format!("{e} on {}", conn.server),
                }
            }
            r = tokio::time::timeout(inner.options.idle_check, stream.next()) => r,
        };
        match item {
            Err(_) => {
                if !answers(&mut stream, timeout).await {
                    break format!("{} did not answer a check of the idle connection", conn.server);
                }
            }
            Ok(Err(e)) => break format!("{e} on {}", conn.server),
            Ok(Ok(None)) => {
                let res = stream.finish().await;
                if let Some(e) = inner.end_error(&res) {
                    if let Some(h) = s.held.take() {
                        let _ = send(tx, stop, Ok(h)).await;
                    }
                    return Outcome::Fatal(e);
                }
                break format!("{} ended the search: {res}", conn.server);
            }
            Ok(Ok(Some(re))) => {
                if !progressed {
                    progressed = true;
                    set_status(status, None);
                }
                if !s.refreshing && dropped < inner.options.drop_persist_entries && re.0.id == 4 {
                    dropped += 1;
                    continue;
                }
                let refreshing = s.refreshing;
                let changes = s.handle(re);
                if refreshing && !s.refreshing && change_number(s.cookie).is_some() {
                    if let Some(wait) = inner.options.catch_up {
                        s.catch_up_from = Some(s.cookie.clone());
                        catch_up_at = Some(tokio::time::Instant::now() + wait);
                    }
                }
                for c in changes {
                    if !send(tx, stop, Ok(c)).await {
                        shutdown(&mut stream, timeout).await;
                        return Outcome::Stopped;
                    }
                }
            }
        }
    };
    // The connection is lost: what was read is still valid (its cookie is the one the refresh started from).
    // A catch-up still due is due again: the next search starts from the cookie it would have started from.
    if let Some(from) = s.catch_up_from.take() {
        *s.cookie = from;
    }
    if let Some(h) = s.held.take() {
        if !send(tx, stop, Ok(h)).await {
            return Outcome::Stopped;
        }
    }
    let mut handle = stream.ldap_handle().clone();
    let _ = tokio::time::timeout(timeout, handle.unbind()).await;
    Outcome::Lost { reason: lost, progressed }
}

/// Reads the changes since `s.catch_up_from` once more with a refreshOnly search on the session's connection
/// (see [`ContentSyncOptions::catch_up`]); they come as a refresh's do, the last with the newer of the cookie
/// this search ends with and the persist stage's.
async fn catch_up(s: &mut Session<'_>, ldap: &mut ldap3::Ldap, timeout: Duration) -> Result<Vec<Change>, String> {
    let Some(from) = s.catch_up_from.clone() else { return Ok(Vec::new()) };
    let inner = s.inner;
    let ctrl: RawControl =
        SyncRequest { mode: RefreshMode::RefreshOnly, cookie: Some(from.clone()), reload_hint: false }
            .critical()
            .into();
    let mut stream: SearchStream<'static, String, Vec<String>> = ldap
        .with_controls(vec![ctrl])
        .streaming_search(&inner.base, Scope::Subtree, &inner.options.filter, inner.attributes())
        .await
        .map_err(|e| format!("the catch-up refresh could not start: {e}"))?;
    s.refreshing = true;
    s.initial = false;
    s.start_token = ContentSyncDetector::token(&from);
    s.refresh_cookie = None;
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => {
                let _ = stream.finish().await;
                return Err(format!("the catch-up refresh got no answer within {} s", timeout.as_secs()));
            }
            Ok(Err(e)) => return Err(format!("the catch-up refresh failed: {e}")),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(re))) => out.extend(s.handle(re)),
        }
    }
    let res = stream.finish().await;
    if res.rc != rc::SUCCESS {
        return Err(format!("the catch-up refresh ended with {res}"));
    }
    let done = sync_done_cookie(&res);
    let newest = match done.or(s.refresh_cookie.take()) {
        Some(d) if !older(&d, s.cookie) => d,
        _ => s.cookie.clone(),
    };
    s.refresh_cookie = Some(newest);
    s.catch_up_from = None;
    s.end_refresh(&mut out);
    Ok(out)
}

/// The background task: sessions, reconnected with a growing backoff, until the detector is dropped.
async fn run(
    inner: Arc<Inner>,
    mut cookie: Vec<u8>,
    tx: mpsc::Sender<EndpointResult<Change>>,
    mut stop: watch::Receiver<bool>,
    status: Arc<StdMutex<Option<String>>>,
) {
    let mut dns = DnCache { map: HashMap::new(), cap: inner.options.dn_cache };
    let mut backoff = inner.options.reconnect_interval;
    loop {
        match session(&inner, &mut cookie, &mut dns, &tx, &mut stop, &status).await {
            Outcome::Stopped => return,
            Outcome::Fatal(e) => {
                set_status(&status, Some(e.to_string()));
                let _ = send(&tx, &mut stop, Err(e)).await;
                return;
            }
            Outcome::Lost { reason, progressed } => {
                if progressed {
                    backoff = inner.options.reconnect_interval;
                }
                set_status(
                    &status,
                    Some(format!(
                        "the content synchronization search of {} is interrupted ({reason}); reconnecting in {} ms",
                        inner.base,
                        backoff.as_millis()
                    )),
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = backoff.saturating_mul(2).min(inner.options.max_reconnect_interval.max(backoff));
            }
        }
    }
}

impl ContentSyncDetector {
    fn start(&self, after: &StartPoint, cookie: Vec<u8>) -> Running {
        let (tx, rx) = mpsc::channel(self.inner.options.queue_size.max(1));
        let (stop_tx, stop_rx) = watch::channel(false);
        let status = Arc::new(StdMutex::new(None));
        tokio::spawn(run(self.inner.clone(), cookie, tx, stop_rx, status.clone()));
        Running { rx, expected: after.clone(), pending_error: None, status, _stop: stop_tx }
    }
}

#[async_trait]
impl ChangeDetector for ContentSyncDetector {
    /// The end: the current cookie (a refreshOnly search with an empty cookie and no attributes); the
    /// beginning: the empty cookie (a full refresh). Content synchronization has no change numbers, change
    /// sequence numbers or times.
    async fn start_point(&self, request: &StartPointRequest) -> EndpointResult<StartPoint> {
        match request {
            StartPointRequest::EndOfChangelog => Ok(Self::token(&self.current_cookie().await?)),
            StartPointRequest::BeginningOfChangelog => Ok(Self::token(&[])),
            other => Err(config(format!(
                "this sync source follows changes with RFC 4533 content synchronization, which has no change \
                 numbers, change sequence numbers or times ({other:?} was asked): use --beginning-of-changelog (a full \
                 refresh) or --end-of-changelog"
            ))),
        }
    }

    fn waits_for_changes(&self) -> bool {
        true
    }

    async fn poll(&self, after: &StartPoint, max: usize, wait: Duration) -> EndpointResult<Vec<Change>> {
        let cookie = Self::parse_token(after)?;
        let mut guard = self.running.lock().await;
        if guard.as_ref().is_none_or(|r| r.expected != *after) {
            // First call, or the caller went elsewhere: (re)start the search from `after`.
            *guard = None;
            *guard = Some(self.start(after, cookie));
        }
        let Some(r) = guard.as_mut() else { return Ok(Vec::new()) };
        if let Some(e) = r.pending_error.take() {
            *guard = None;
            return Err(e);
        }
        let mut out: Vec<Change> = Vec::new();
        match tokio::time::timeout(wait, r.rx.recv()).await {
            Ok(Some(Ok(c))) => out.push(c),
            Ok(Some(Err(e))) => {
                *guard = None;
                return Err(e);
            }
            Ok(None) => {
                *guard = None;
                return Err(EndpointError::Unavailable(format!(
                    "the content synchronization search of {} stopped",
                    self.inner.base
                )));
            }
            Err(_) => {
                let status = r.status.lock().ok().and_then(|g| g.clone());
                return match status {
                    Some(msg) => Err(EndpointError::Unavailable(msg)),
                    None => Ok(Vec::new()),
                };
            }
        }
        while out.len() < max.max(1) {
            match r.rx.try_recv() {
                Ok(Ok(c)) => out.push(c),
                Ok(Err(e)) => {
                    r.pending_error = Some(e);
                    break;
                }
                Err(_) => break,
            }
        }
        if let Some(last) = out.last() {
            r.expected = last.after.clone();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BER TLV (definite length).
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if n < 128 {
            v.push(n as u8);
        } else {
            v.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend_from_slice(content);
        v
    }

    fn octets(v: &[u8]) -> Vec<u8> {
        tlv(0x04, v)
    }

    fn seq(tag: u8, parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(tag, &parts.concat())
    }

    #[test]
    fn uuids() {
        let b: Vec<u8> = (0u8..16).collect();
        assert_eq!(format_uuid(&b, UidStyle::Rfc4122), "00010203-0405-0607-0809-0a0b0c0d0e0f");
        assert_eq!(format_uuid(&b, UidStyle::NsUniqueId), "00010203-04050607-08090a0b-0c0d0e0f");
        assert_eq!(format_uuid(&[0xab, 0xcd], UidStyle::Rfc4122), "abcd");
    }

    #[test]
    fn tokens() {
        let t = ContentSyncDetector::token(b"rid=000,csn=x");
        assert_eq!(ContentSyncDetector::parse_token(&t).ok(), Some(b"rid=000,csn=x".to_vec()));
        assert_eq!(ContentSyncDetector::token(&[]).as_str(), "cookie:");
        assert_eq!(ContentSyncDetector::parse_token(&StartPoint("cookie:".into())).ok(), Some(Vec::new()));
        assert!(ContentSyncDetector::parse_token(&StartPoint("changenumber:1".into())).is_err());
        assert!(ContentSyncDetector::parse_token(&StartPoint("cookie:%%%".into())).is_err());
    }

    #[test]
    fn sync_state_values() {
        let v = seq(0x30, &[tlv(0x0a, &[2]), octets(&[7; 16]), octets(b"ck")]);
        assert_eq!(
            parse_sync_state(&v),
            Some(SyncStateValue { state: State::Modify, uuid: vec![7; 16], cookie: Some(b"ck".to_vec()) })
        );
        let no_cookie = seq(0x30, &[tlv(0x0a, &[1]), octets(&[7; 16])]);
        assert_eq!(parse_sync_state(&no_cookie).map(|s| (s.state, s.cookie)), Some((State::Add, None)));
        assert_eq!(parse_sync_state(&seq(0x30, &[tlv(0x0a, &[9]), octets(&[7; 16])])), None);
        assert_eq!(parse_sync_state(&seq(0x30, &[tlv(0x02, &[1]), octets(&[7; 16])])), None);
        for garbage in [
            &b""[..],
            b"\x30",
            b"\x30\x03\x0a\x01",
            b"\x04\x00",
            b"\x30\x00",
            b"\xff\xff\xff",
            b"\x30\x84\xff\xff\xff\xff",
        ] {
            assert_eq!(parse_sync_state(garbage), None, "{garbage:?}");
        }
    }

    fn intermediate(value: Option<Vec<u8>>, oid: &str) -> StructureTag {
        let mut parts = vec![StructureTag { class: TagClass::Context, id: 0, payload: PL::P(oid.as_bytes().to_vec()) }];
        if let Some(v) = value {
            parts.push(StructureTag { class: TagClass::Context, id: 1, payload: PL::P(v) });
        }
        StructureTag { class: TagClass::Application, id: 25, payload: PL::C(parts) }
    }

    #[test]
    fn sync_info_values() {
        let info = |v: Vec<u8>| parse_sync_info(&intermediate(Some(v), SYNC_INFO_OID));
        assert_eq!(info(tlv(0x80, b"c1")), Some(SyncInfoValue::NewCookie(b"c1".to_vec())));
        assert_eq!(
            info(seq(0xa1, &[octets(b"c2")])),
            Some(SyncInfoValue::RefreshDelete { cookie: Some(b"c2".to_vec()), done: true })
        );
        assert_eq!(
            info(seq(0xa2, &[tlv(0x01, &[0])])),
            Some(SyncInfoValue::RefreshPresent { cookie: None, done: false })
        );
        assert_eq!(
            info(seq(0xa3, &[octets(b"c3"), seq(0x31, &[octets(&[1; 16]), octets(&[2; 16])])])),
            Some(SyncInfoValue::IdSet {
                cookie: Some(b"c3".to_vec()),
                refresh_deletes: false,
                uuids: vec![vec![1; 16], vec![2; 16]]
            })
        );
        assert_eq!(
            info(seq(0xa3, &[tlv(0x01, &[0xff]), seq(0x31, &[octets(&[1; 16])])])),
            Some(SyncInfoValue::IdSet { cookie: None, refresh_deletes: true, uuids: vec![vec![1; 16]] })
        );
        assert_eq!(parse_sync_info(&intermediate(None, SYNC_INFO_OID)), None);
        assert_eq!(info(octets(b"x")), None);
        assert_eq!(info(vec![0xa4, 0x00]), None);
        assert_eq!(info(seq(0xa1, &[tlv(0x02, &[1])])), None);
        assert_eq!(info(vec![0xa1, 0x05, 0x04]), None);
        assert_eq!(parse_sync_info(&intermediate(Some(tlv(0x80, b"A")), "1.2.3")), None);
        let not_intermediate = StructureTag { class: TagClass::Application, id: 4, payload: PL::C(vec![]) };
        assert_eq!(parse_sync_info(&not_intermediate), None);
        assert_eq!(parse_sync_done(&seq(0x30, &[octets(b"c4"), tlv(0x01, &[0xff])])), Some(Some(b"c4".to_vec())));
        assert_eq!(parse_sync_done(&seq(0x30, &[])), Some(None));
        assert_eq!(parse_sync_done(b"\x01"), None);
    }

    #[test]
    fn change_ids() {
        assert_eq!(
            change_id(Some(b"rid=000,csn=20261122110727.165886Z#000000#000#000000"), "u"),
            "20261122110727.165886Z#000000#000#000000"
        );
        assert_eq!(
            change_id(Some(b"localhost:44389#cn=directory manager:dc=example,dc=com:(objectClass=*)#20019"), "u"),
            "20019"
        );
        assert_eq!(change_id(None, "u"), "u");
    }

    #[test]
    fn change_numbers_of_cookies() {
        let ds = |n: u64| format!("localhost:44389#cn=directory manager:dc=example,dc=com:(objectClass=*)#{n}");
        assert_eq!(change_number(ds(20019).as_bytes()), Some(20019));
        assert_eq!(change_number(b"rid=000,csn=20261122110727.165886Z#000000#000#000000"), None);
        assert_eq!(change_number(b""), None);
        assert!(older(ds(9).as_bytes(), ds(10).as_bytes()));
        assert!(!older(ds(10).as_bytes(), ds(10).as_bytes()));
        assert!(!older(b"rid=000,csn=1#0#0#0", ds(10).as_bytes()), "cookies without change numbers are never older");
    }
}
