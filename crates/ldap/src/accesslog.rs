//! [`AccesslogDetector`]: changes read from OpenLDAP's accesslog overlay (`cn=accesslog`).
//!
//! Only successful writes are read: `(objectClass=auditWriteObject)(reqResult=0)` with a `reqType` of `add`,
//! `modify`, `modrdn` or `delete`. Each log entry maps to a [`Change`]: `reqStart` is its id, `reqType` its kind,
//! `reqDN` its DN, `reqNewDN` (or `reqNewRDN` + `reqNewSuperior`) the new DN of a rename, `reqEntryUUID` the
//! unique id, `reqAuthzID` the modifier, and the attributes of `reqMod` (`attr:+ v`, `attr:- v`, `attr:= v`,
//! `attr:-`, `attr:=`, values possibly binary) the changed attributes of an add or a modify. A clear-text
//! `userPassword:+ v` / `userPassword:= v` (not a `{SCHEME}` hash) becomes [`Change::password`].
//! [`Change::time`] is the whole second of `reqStart`.
//!
//! # The cursor: why no change can be skipped
//!
//! The fraction of `reqStart` is an operation counter, and `reqStart` is taken when slapd *receives* an
//! operation, while writes go through the overlay one at a time: a write that started earlier can be logged
//! (committed) after one that started later, so a plain `reqStart > last` cursor can skip it. `reqEnd`, however,
//! is taken from slapd's global monotonic `(time, counter)` clock *while the overlay holds its log mutex*, and
//! the log entry is added under that same mutex (`accesslog_response` in `servers/slapd/overlays/accesslog.c`).
//! So log entries become visible in strictly increasing `reqEnd` order: once an entry with `reqEnd = H` is
//! seen, every entry with a smaller `reqEnd` is already there. The cursor therefore tracks `reqEnd`, while
//! changes are handed out in `reqStart` order within each "band" of entries read together:
//!
//! * `accesslog:E0` — every write with `reqEnd <= E0` has been delivered (`accesslog:0`: none yet);
//! * `accesslog:E0,E1,S` — and also those with `E0 < reqEnd <= E1` and `reqStart <= S`.
//!
//! A poll reads `(reqStart, reqEnd)` of the undelivered entries, first finishes the current band (`reqEnd <= E1`)
//! in `reqStart` order, then opens a new band up to the highest `reqEnd` read (`H`) and hands it out in `reqStart`
//! order; each change's `after` is the cursor that includes it and everything before it, so a restart after any
//! applied change resumes exactly there. Guarantees: every logged write is delivered exactly once; changes of
//! one band come in `reqStart` order (a burst that is complete when it is read is delivered entirely in
//! `reqStart` order, however small the batches); a write that commits after a later-started one was already
//! handed out comes in a later band. Assumptions: one accesslog overlay instance writes to the log database
//! (several databases logging into one `logdb` are not serialized with each other), and the server's clock does
//! not step backwards. The token stays under 100 bytes. A poll reads at most about a page of rows
//! (`changelog-max-entries-per-poll`, lowered to the server's size limit for the sync user when a search meets
//! it): when more are pending, it asks for those up to a lower `reqEnd` until they fit, so a band is at most a
//! page and a backlog drains with flat memory. Full log entries are then read one by one (base
//! searches) for the changes handed out, so a poll reads little when the backlog is long.
//!
//! When the log database has the `syncprov` overlay (delta-syncrepl's setup), a [`Doorbell`] follows it with
//! an RFC 4533 persistent search that asks for no attributes: a poll that finds nothing new waits for the
//! server's ring (at most the polling interval) instead of returning, so a change is read as soon as it is
//! logged. The ring only wakes the poll; what is delivered, and in which order, is decided as above. Without
//! `syncprov` on the log the server refuses the search, and the detector polls at its interval.
//!
//! A start point whose entries were purged (`logpurge`) is an [`EndpointError::Config`]: a resync is needed.
//! This is detected when the cursor's anchor entry is gone and the log's `minCSN` (the newest purged CSN) is
//! later than the cursor (or, without `minCSN`, when no older entry is left).

use async_trait::async_trait;
use ferrosync::endpoint::{
    Change, ChangeDetector, ChangeKind, EndpointError, EndpointResult, StartPoint, StartPointRequest,
};
use ferrosync::entry::Entry;
use ferrosync::secret::Secret;

use crate::detector::{is_hashed_password, new_dn, servers_label, GenTime, PageSize, DEFAULT_PAGE_SIZE};
use crate::doorbell::Doorbell;
use crate::endpoint::endpoint_error;
use crate::error::rc;
use crate::{LdapClient, LdapError, Scope};

const TOKEN_PREFIX: &str = "accesslog:";
const DEFAULT_LOG_DN: &str = "cn=accesslog";
const WRITES: &str =
    "(objectClass=auditWriteObject)(reqResult=0)(|(reqType=add)(reqType=modify)(reqType=modrdn)(reqType=delete))";
const ENTRY_ATTRS: &[&str] = &[
    "reqStart",
    "reqEnd",
    "reqType",
    "reqDN",
    "reqMod",
    "reqNewRDN",
    "reqDeleteOldRDN",
    "reqNewSuperior",
    "reqNewDN",
    "reqEntryUUID",
    "reqAuthzID",
];
/// Full log entries read at once.
const FETCH_CONCURRENCY: usize = 16;

/// Reads OpenLDAP's accesslog. See the [module documentation](self).
pub struct AccesslogDetector {
    client: LdapClient,
    log_dn: String,
    /// Started by the first poll (it needs the runtime); `None` inside when turned off.
    doorbell: std::sync::OnceLock<Option<Doorbell>>,
    /// The most log entries one search reads.
    page: PageSize,
}

/// Which log entries have been delivered (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// Every entry with `reqEnd <= done` is delivered; `None`: none.
    done: Option<GenTime>,
    /// `(E1, S)`: also every entry with `done < reqEnd <= E1` and `reqStart <= S`.
    band: Option<(GenTime, GenTime)>,
}

/// One log entry as the first, light read sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    dn: String,
    start: GenTime,
    end: GenTime,
}

fn config(message: String) -> EndpointError {
    EndpointError::Config(message)
}

impl Cursor {
    const BEGINNING: Cursor = Cursor { done: None, band: None };

    pub(crate) fn parse(sp: &StartPoint) -> EndpointResult<Cursor> {
        let s = sp.as_str().trim();
        let bad = || {
            config(format!(
                "the start point {s:?} is not an accesslog position (accesslog:...): it was made for another kind of \
                 sync source; run realtime-sync set-startpoint"
            ))
        };
        if s.is_empty() {
            return Err(config(
                "there is no start point yet: run realtime-sync set-startpoint (e.g. --end-of-changelog)".into(),
            ));
        }
        let rest = s.strip_prefix(TOKEN_PREFIX).ok_or_else(bad)?;
        let time = |t: &str| GenTime::parse(t).ok_or_else(bad);
        let parts: Vec<&str> = rest.split(',').collect();
        let done = match parts[0] {
            "0" | "" => None,
            t => Some(time(t)?),
        };
        match parts.as_slice() {
            [_] => Ok(Cursor { done, band: None }),
            [_, e1, s] => Ok(Cursor { done, band: Some((time(e1)?, time(s)?)) }),
            _ => Err(bad()),
        }
    }

    pub(crate) fn token(self) -> StartPoint {
        let done = self.done.map_or_else(|| "0".to_string(), GenTime::format);
        StartPoint(match self.band {
            None => format!("{TOKEN_PREFIX}{done}"),
            Some((e1, s)) => format!("{TOKEN_PREFIX}{done},{},{}", e1.format(), s.format()),
        })
    }

    fn delivered(&self, r: &Row) -> bool {
        self.done.is_some_and(|d| r.end <= d) || self.band.is_some_and(|(e1, s)| r.end <= e1 && r.start <= s)
    }

    /// The filter that finds every undelivered entry, and the anchor (see [`Cursor::anchor_seen`]).
    pub(crate) fn filter(&self) -> String {
        let extra = match (self.done, self.band) {
            (None, None) => String::new(),
            (Some(d), None) => format!("(reqEnd>={})", d.format()),
            (d, Some((e1, s))) => {
                let old = match d {
                    Some(d) => format!("(&(reqEnd>={})(reqStart>={}))", d.format(), s.format()),
                    None => format!("(reqStart>={})", s.format()),
                };
                format!("(|{old}(reqEnd>={}))", e1.format())
            }
        };
        format!("(&{WRITES}{extra})")
    }

    /// Whether the entry the cursor stands on is still in the log (the last delivered entry, or the entry just
    /// after a start point); when it is gone, entries may have been purged.
    fn anchor_seen(&self, rows: &[Row]) -> bool {
        match (self.done, self.band) {
            (None, None) => true,
            (Some(d), None) => rows.iter().any(|r| r.end == d),
            (_, Some((_, s))) => rows.iter().any(|r| r.start == s || r.start == s.succ()),
        }
    }

    /// The time of the anchor, for the purge check; `None`: the beginning, which is never too old.
    fn anchor_time(&self) -> Option<GenTime> {
        match (self.done, self.band) {
            (None, None) => None,
            (Some(d), None) => Some(d),
            (_, Some((_, s))) => Some(s.succ()),
        }
    }
}

/// The filter `attr <= t`, written as `(!(attr>=t+1))`. OpenLDAP (2.5) compares a stored `reqStart` or
/// `reqEnd`, which keeps every digit of its fraction, with an ordering assertion normalized without the
/// fraction's trailing zeros and then by length, so `(reqEnd<=20260101000000.000350Z)` misses the entry whose
/// `reqEnd` is exactly `20260101000000.000350Z` (a band's last entry would be skipped). `>=` is right for every
/// value, and the times are discrete, so every bound is written with `>=`.
pub(crate) fn at_most(attr: &str, t: GenTime) -> String {
    format!("(!({attr}>={}))", t.succ().format())
}

/// Searches at most this many times to find a page of entries that is a complete band.
const MAX_NARROWING: usize = 1000;

/// Finds, with `search(upper)` (the undelivered entries with `reqEnd <= upper`, at most a page, and whether
/// that is all of them), a non-empty set of entries that is every entry up to its highest `reqEnd`: all the
/// entries when they fit in a page, else those up to the middle `reqEnd` of what a search cut by the size limit
/// returned, and so on. `None` when the server's answers do not let it converge. OpenLDAP returns a log's
/// entries in the order they were added, which is `reqEnd` order, so the second search fits.
async fn narrowed<F, Fut>(cursor: Cursor, mut search: F) -> EndpointResult<Option<Vec<Row>>>
where
    F: FnMut(Option<GenTime>) -> Fut,
    Fut: std::future::Future<Output = EndpointResult<(Vec<Row>, bool)>>,
{
    let mut upper: Option<GenTime> = None;
    for _ in 0..MAX_NARROWING {
        let (rows, complete) = search(upper).await?;
        if complete {
            return Ok(Some(rows));
        }
        // The middle of the undelivered ones (the anchor the filter also matches must not be all that is left).
        let mut ends: Vec<GenTime> = rows.iter().filter(|r| !cursor.delivered(r)).map(|r| r.end).collect();
        ends.sort();
        let middle = match ends.len() {
            0 => return Ok(None),
            n => ends[n.div_ceil(2) - 1],
        };
        upper = Some(match upper {
            Some(u) if middle >= u => u.pred(),
            _ => middle,
        });
    }
    Ok(None)
}

/// `(dn, reqStart, reqEnd)` of log entries.
fn to_rows(entries: Vec<Entry>) -> Vec<Row> {
    entries
        .into_iter()
        .filter_map(|e| {
            let start = GenTime::parse(&e.first_text("reqStart")?)?;
            // Every slapd since 2.3 writes reqEnd; without it the start is the best there is.
            let end = e.first_text("reqEnd").and_then(|t| GenTime::parse(&t)).unwrap_or(start);
            Some(Row { dn: e.dn, start, end })
        })
        .collect()
}

/// Which rows to hand out next, at most `max`, each with the cursor just after it.
fn plan(cursor: Cursor, rows: &[Row], max: usize) -> Vec<(Row, Cursor)> {
    let mut out = Vec::new();
    let undelivered: Vec<&Row> = rows.iter().filter(|r| !cursor.delivered(r)).collect();
    // Everything up to `base` is delivered once the current band is finished.
    let base = cursor.band.map(|(e1, _)| e1).or(cursor.done);
    if let Some((e1, _)) = cursor.band {
        let mut rest: Vec<&Row> = undelivered.iter().copied().filter(|r| r.end <= e1).collect();
        rest.sort_by_key(|r| r.start);
        let n = rest.len();
        for (i, r) in rest.into_iter().enumerate() {
            if out.len() >= max {
                return out;
            }
            let next = if i + 1 == n {
                Cursor { done: Some(e1), band: None }
            } else {
                Cursor { done: cursor.done, band: Some((e1, r.start)) }
            };
            out.push((r.clone(), next));
        }
    }
    let mut fresh: Vec<&Row> = undelivered.into_iter().filter(|r| base.is_none_or(|b| r.end > b)).collect();
    let Some(h) = fresh.iter().map(|r| r.end).max() else { return out };
    fresh.sort_by_key(|r| r.start);
    let n = fresh.len();
    for (i, r) in fresh.into_iter().enumerate() {
        if out.len() >= max {
            break;
        }
        let next = if i + 1 == n {
            Cursor { done: Some(h), band: None }
        } else {
            Cursor { done: base, band: Some((h, r.start)) }
        };
        out.push((r.clone(), next));
    }
    out
}

/// Whether changes after the cursor's anchor were purged: the log's `minCSN` (the newest CSN purged) is later
/// than the anchor's second.
fn purged_by_min_csn(min_csns: &[String], anchor: GenTime) -> bool {
    min_csns
        .iter()
        .filter_map(|csn| GenTime::parse(csn.split('#').next().unwrap_or_default()))
        .any(|t| t.secs > anchor.secs)
}

/// One `reqMod` value: `attr:+ value`, `attr:- value`, `attr:= value`, `attr:# value`, `attr:-`, `attr:=`.
/// `None` for the `:` separator OpenLDAP writes between two mods of one attribute.
pub(crate) fn parse_req_mod(raw: &[u8]) -> Option<(String, u8, &[u8])> {
    let colon = raw.iter().position(|&b| b == b':')?;
    if colon == 0 {
        return None;
    }
    let name = String::from_utf8_lossy(&raw[..colon]).trim().to_string();
    let rest = &raw[colon + 1..];
    let (op, value) = match rest.first() {
        Some(&op @ (b'+' | b'-' | b'=' | b'#')) => (op, &rest[1..]),
        _ => (b'?', rest),
    };
    Some((name, op, value.strip_prefix(b" ").unwrap_or(value)))
}

/// Maps one full accesslog entry to a change.
pub(crate) fn change_from_log_entry(e: &Entry, after: StartPoint) -> Option<Change> {
    let start = e.first_text("reqStart")?;
    let kind = match e.first_text("reqType")?.trim().to_ascii_lowercase().as_str() {
        "add" => ChangeKind::Add,
        "modify" => ChangeKind::Modify,
        "modrdn" => ChangeKind::ModDn,
        "delete" => ChangeKind::Delete,
        _ => return None,
    };
    let dn = e.first_text("reqDN").unwrap_or_default();
    let mut c = Change::new(after, start.clone(), kind.clone(), dn.clone());
    c.unique_id = e.first_text("reqEntryUUID").filter(|s| !s.is_empty());
    c.modifier = e.first_text("reqAuthzID").filter(|s| !s.is_empty());
    c.time = GenTime::parse(&start).map(GenTime::format_secs);
    match kind {
        ChangeKind::Add | ChangeKind::Modify => {
            let mut names: Vec<String> = Vec::new();
            for v in e.values("reqMod") {
                let bytes = v.to_bytes();
                let Some((name, op, value)) = parse_req_mod(&bytes) else { continue };
                if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                    names.push(name.clone());
                }
                let base = name.split(';').next().unwrap_or_default();
                if c.password.is_none() && base.eq_ignore_ascii_case("userPassword") && matches!(op, b'+' | b'=') {
                    if let Ok(text) = std::str::from_utf8(value) {
                        if !text.is_empty() && !is_hashed_password(text) {
                            c.password = Some(Secret::new(text));
                        }
                    }
                }
            }
            c.changed_attributes = names;
        }
        ChangeKind::ModDn => {
            c.new_dn = e.first_text("reqNewDN").filter(|s| !s.is_empty()).or_else(|| {
                let rdn = e.first_text("reqNewRDN")?;
                let sup = e.first_text("reqNewSuperior").filter(|s| !s.is_empty());
                Some(new_dn(&dn, &rdn, sup.as_deref()))
            });
        }
        ChangeKind::Delete => {}
    }
    Some(c)
}

impl AccesslogDetector {
    /// A detector over `client`, reading `cn=accesslog`.
    pub fn new(client: LdapClient) -> Self {
        AccesslogDetector {
            client,
            log_dn: DEFAULT_LOG_DN.to_string(),
            doorbell: std::sync::OnceLock::new(),
            page: PageSize::new(DEFAULT_PAGE_SIZE),
        }
    }

    /// Reads at most about `n` log entries per search (`changelog-max-entries-per-poll`; fewer when the
    /// server's size limit for the sync user is lower).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page = PageSize::new(n);
        self
    }

    /// Polls at the polling interval only, without a [`Doorbell`] (the server is then never asked for a
    /// persistent search on the log).
    pub fn without_doorbell(self) -> Self {
        let _ = self.doorbell.set(None);
        self
    }

    /// The doorbell, started on first use, when it is wanted.
    fn doorbell(&self) -> Option<&Doorbell> {
        self.doorbell
            .get_or_init(|| Some(Doorbell::start(self.client.clone(), &self.log_dn, &format!("(&{WRITES})"))))
            .as_ref()
    }

    /// Reads the log at `dn` (the `logdb` suffix) instead of `cn=accesslog`.
    pub fn with_log_dn(mut self, dn: &str) -> Self {
        self.log_dn = dn.to_string();
        self
    }

    pub fn client(&self) -> &LdapClient {
        &self.client
    }

    fn unreadable(&self, reason: &str) -> EndpointError {
        let user = self
            .client
            .pools()
            .next()
            .and_then(|p| p.config().bind_dn.clone())
            .unwrap_or_else(|| "<sync user DN>".to_string());
        config(format!(
            "the accesslog {log} of {servers} cannot be read: {reason}. On OpenLDAP, log the synchronized database's \
             writes with these slapd.conf lines in its database section: `overlay accesslog`, `logdb {log}`, \
             `logops writes`, `logsuccess TRUE` (and a `database mdb` with `suffix \"{log}\"` for the log itself; \
             with cn=config: olcOverlay=accesslog with olcAccessLogDB, olcAccessLogOps: writes, \
             olcAccessLogSuccess: TRUE), and let the sync user read the log, e.g. `access to dn.subtree=\"{log}\" by \
             dn.exact=\"{user}\" read` in the log database",
            log = self.log_dn,
            servers = servers_label(&self.client),
        ))
    }

    fn search_error(&self, e: LdapError) -> EndpointError {
        match e.rc() {
            Some(rc::NO_SUCH_OBJECT) => self.unreadable(&format!("it does not exist or is hidden ({e})")),
            Some(rc::INSUFFICIENT_ACCESS_RIGHTS) => self.unreadable(&format!("access is denied ({e})")),
            _ => endpoint_error(e),
        }
    }

    async fn check_readable(&self) -> EndpointResult<()> {
        let found = self
            .client
            .search(&self.log_dn, Scope::Base, "(objectClass=*)", &["1.1"])
            .await
            .map_err(|e| self.search_error(e))?;
        if found.is_empty() {
            return Err(self.unreadable("the search returned nothing (access denied?)"));
        }
        Ok(())
    }

    /// `(dn, reqStart, reqEnd)` of the log entries matching `filter`.
    async fn rows(&self, filter: &str) -> EndpointResult<Vec<Row>> {
        let entries = self
            .client
            .search(&self.log_dn, Scope::OneLevel, filter, &["reqStart", "reqEnd"])
            .await
            .map_err(|e| self.search_error(e))?;
        Ok(to_rows(entries))
    }

    /// The rows matching `filter`, at most a page, and whether they are all of them.
    async fn rows_limited(&self, filter: &str) -> EndpointResult<(Vec<Row>, bool)> {
        let page = self.page.get();
        let (entries, complete) = self
            .client
            .search_limited(&self.log_dn, Scope::OneLevel, filter, &["reqStart", "reqEnd"], page)
            .await
            .map_err(|e| self.search_error(e))?;
        if !complete {
            self.page.met_limit(page, entries.len());
        }
        Ok((to_rows(entries), complete))
    }

    /// The rows a poll plans with, about a page of them: what is left of the current band, or else every
    /// undelivered entry with a `reqEnd` up to some `H`, all of them (log entries become visible in `reqEnd`
    /// order, so these are every entry that will ever have a `reqEnd <= H`). A backlog is so read a page at a
    /// time, in bands of at most a page, within the server's size limit for the sync user.
    async fn pending(&self, cursor: Cursor) -> EndpointResult<Vec<Row>> {
        let all = cursor.filter();
        let mut band_rows = Vec::new();
        if let Some((e1, _)) = cursor.band {
            let f = format!("(&{all}{})", at_most("reqEnd", e1));
            let (rows, complete) = self.rows_limited(&f).await?;
            // A band opened before reads were bounded may be larger than a page: it is finished whole.
            let rows = if complete { rows } else { self.rows(&f).await? };
            if rows.iter().any(|r| !cursor.delivered(r)) {
                return Ok(rows);
            }
            band_rows = rows;
        }
        let found = narrowed(cursor, |upper| {
            let f = match upper {
                None => all.clone(),
                Some(h) => format!("(&{all}{})", at_most("reqEnd", h)),
            };
            async move { self.rows_limited(&f).await }
        })
        .await?;
        match found {
            Some(mut rows) => {
                rows.extend(band_rows);
                Ok(rows)
            }
            None => Err(EndpointError::Retryable(format!(
                "the accesslog {} could not be read a page ({} entries) at a time: the server's size limit for \
                 the sync user is too low, or it returns entries in no useful order",
                self.log_dn,
                self.page.get()
            ))),
        }
    }

    /// The highest `reqStart` (`start`) or `reqEnd` of the entries matching `filter`, read a page at a time.
    async fn highest(&self, filter: &str, start: bool) -> EndpointResult<Option<GenTime>> {
        let attr = if start { "reqStart" } else { "reqEnd" };
        let key = |r: &Row| if start { r.start } else { r.end };
        let mut above: Option<GenTime> = None;
        loop {
            let f = match above {
                None => filter.to_string(),
                Some(a) => format!("(&{filter}({attr}>={}))", a.succ().format()),
            };
            let (rows, complete) = self.rows_limited(&f).await?;
            let top = rows.iter().map(key).max();
            if complete {
                return Ok(top.or(above));
            }
            match top {
                Some(t) => above = Some(t),
                None => return Err(self.limit_zero()),
            }
        }
    }

    /// The lowest `reqStart` of the entries matching `filter`, read a page at a time.
    async fn lowest_start(&self, filter: &str) -> EndpointResult<Option<GenTime>> {
        let mut below: Option<GenTime> = None;
        loop {
            let f = match below {
                None => filter.to_string(),
                Some(b) => format!("(&{filter}(!(reqStart>={})))", b.format()),
            };
            let (rows, complete) = self.rows_limited(&f).await?;
            let bottom = rows.iter().map(|r| r.start).min();
            if complete {
                return Ok(bottom.or(below));
            }
            match bottom {
                Some(b) => below = Some(b),
                None => return Err(self.limit_zero()),
            }
        }
    }

    fn limit_zero(&self) -> EndpointError {
        EndpointError::Retryable(format!(
            "the server returned no entry of the accesslog {} to the sync user, but said there were more (a size \
             limit of 0?)",
            self.log_dn
        ))
    }

    /// Whether entries the cursor still needs were purged (the anchor is gone: see [`Cursor::anchor_seen`]).
    async fn purged(&self, anchor: GenTime) -> EndpointResult<bool> {
        let root = self.client.get(&self.log_dn, &["minCSN"]).await.map_err(|e| self.search_error(e))?;
        let min_csns = root.map(|r| r.texts("minCSN")).unwrap_or_default();
        if !min_csns.is_empty() {
            return Ok(purged_by_min_csn(&min_csns, anchor));
        }
        // No minCSN (before OpenLDAP 2.5): the log still covers the anchor if an older entry is left.
        let filter = format!("(&(objectClass=auditWriteObject){})", at_most("reqStart", anchor));
        let log_dn = self.log_dn.clone();
        let found = self
            .client
            .with_connection("search", &self.log_dn, |mut ldap| {
                let (filter, log_dn) = (filter.clone(), log_dn.clone());
                async move {
                    let res = ldap
                        .with_search_options(ldap3::SearchOptions::new().sizelimit(1))
                        .search(&log_dn, Scope::OneLevel, &filter, vec!["1.1"])
                        .await?;
                    if res.1.rc != 0 && res.1.rc != rc::SIZE_LIMIT_EXCEEDED {
                        return res.success().map(|_| false);
                    }
                    Ok(!res.0.is_empty())
                }
            })
            .await
            .map_err(|e| self.search_error(e))?;
        Ok(!found)
    }

    /// Reads the full log entries of `rows`, in order, a few at a time.
    async fn fetch(&self, rows: &[Row]) -> EndpointResult<Vec<Entry>> {
        let mut out: Vec<Option<Entry>> = vec![None; rows.len()];
        let mut set = tokio::task::JoinSet::new();
        let mut next = 0;
        while next < rows.len() || !set.is_empty() {
            while next < rows.len() && set.len() < FETCH_CONCURRENCY {
                let client = self.client.clone();
                let dn = rows[next].dn.clone();
                let i = next;
                set.spawn(async move { (i, client.get(&dn, ENTRY_ATTRS).await) });
                next += 1;
            }
            match set.join_next().await {
                Some(Ok((i, Ok(Some(e))))) => out[i] = Some(e),
                Some(Ok((i, Ok(None)))) => {
                    return Err(EndpointError::Retryable(format!(
                        "the accesslog entry {} disappeared while it was read (purged?)",
                        rows[i].dn
                    )))
                }
                Some(Ok((_, Err(e)))) => return Err(self.search_error(e)),
                Some(Err(e)) => return Err(EndpointError::Retryable(format!("reading the accesslog failed: {e}"))),
                None => break,
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// The cursor at the end of the log: every entry now in it is delivered.
    async fn end(&self) -> EndpointResult<Cursor> {
        Ok(Cursor { done: self.highest(&format!("(&{WRITES})"), false).await?, band: None })
    }

    /// The cursor just before the first entry whose `reqStart` is at least `from` (the end when there is none).
    async fn before(&self, from: GenTime) -> EndpointResult<Cursor> {
        let h = self.highest(&format!("(&{WRITES})"), false).await?;
        let first = self.lowest_start(&format!("(&{WRITES}(reqStart>={}))", from.format())).await?;
        Ok(match first {
            Some(x) => Cursor { done: None, band: Some((h.unwrap_or(x), x.pred())) },
            None => Cursor { done: h, band: None },
        })
    }
}

#[async_trait]
impl ChangeDetector for AccesslogDetector {
    /// The end (`accesslog:<newest reqEnd>`), the beginning (`accesslog:0`), just before the entry whose
    /// `reqStart` is a change sequence number (it must be within the log), or just before the first entry
    /// started at or after a time. Change numbers are refused: the accesslog has none.
    async fn start_point(&self, request: &StartPointRequest) -> EndpointResult<StartPoint> {
        if let StartPointRequest::ChangeNumber(n) = request {
            return Err(config(format!(
                "this sync source reads OpenLDAP's accesslog, which has no change numbers but change sequence \
                 numbers (reqStart values): use --change-sequence-number with a reqStart value (such as \
                 20260101120000.000001Z), --change-time, --beginning-of-changelog or --end-of-changelog instead of \
                 change number {n}"
            )));
        }
        self.check_readable().await?;
        let cursor = match request {
            StartPointRequest::EndOfChangelog => self.end().await?,
            StartPointRequest::BeginningOfChangelog => Cursor::BEGINNING,
            StartPointRequest::ChangeSequenceNumber(csn) => {
                let at = GenTime::parse(csn).ok_or_else(|| {
                    config(format!(
                        "the change sequence number {csn:?} is not an accesslog reqStart value (such as \
                         20260101120000.000001Z)"
                    ))
                })?;
                let writes = format!("(&{WRITES})");
                let (Some(oldest), Some(newest)) =
                    (self.lowest_start(&writes).await?, self.highest(&writes, true).await?)
                else {
                    return Err(config(format!(
                        "the accesslog is empty, so it has no change {csn}: use --end-of-changelog"
                    )));
                };
                if at < oldest {
                    return Err(config(format!(
                        "the change sequence number {csn} is older than the oldest change ({}) still in the \
                         accesslog: run resync, then set-startpoint --end-of-changelog",
                        oldest.format()
                    )));
                }
                if at > newest {
                    return Err(config(format!(
                        "the change sequence number {csn} is after the newest change ({}) in the accesslog: use \
                         --end-of-changelog",
                        newest.format()
                    )));
                }
                self.before(at).await?
            }
            StartPointRequest::Time(t) => self.before(GenTime::from_system(*t)).await?,
            StartPointRequest::ChangeNumber(_) => Cursor::BEGINNING,
        };
        Ok(cursor.token())
    }

    /// While the [`Doorbell`] may ring, a poll that finds nothing waits for it to ring (at most `wait`).
    fn waits_for_changes(&self) -> bool {
        self.doorbell.get().and_then(|d| d.as_ref()).is_some_and(Doorbell::may_ring)
    }

    async fn poll(&self, after: &StartPoint, max: usize, wait: std::time::Duration) -> EndpointResult<Vec<Change>> {
        let cursor = Cursor::parse(after)?;
        let mut rows = self.pending(cursor).await?;
        // Started once the log is known to be readable.
        let doorbell = self.doorbell();
        let mut chosen = plan(cursor, &rows, max.max(1));
        if chosen.is_empty() && !wait.is_zero() {
            if let Some(bell) = doorbell.filter(|d| d.may_ring()) {
                bell.wait(wait).await;
                rows = self.pending(cursor).await?;
                chosen = plan(cursor, &rows, max.max(1));
            }
        }
        if !cursor.anchor_seen(&rows) && !chosen.is_empty() {
            if let Some(anchor) = cursor.anchor_time() {
                if self.purged(anchor).await? {
                    return Err(config(format!(
                        "the start point ({}) is older than the oldest change still in the accesslog: changes were \
                         purged before they were read, a resync is needed (run resync, then realtime-sync \
                         set-startpoint --end-of-changelog)",
                        anchor.format()
                    )));
                }
            }
        }
        let picked: Vec<Row> = chosen.iter().map(|(r, _)| r.clone()).collect();
        let entries = self.fetch(&picked).await?;
        Ok(entries.iter().zip(chosen).filter_map(|(e, (_, next))| change_from_log_entry(e, next.token())).collect())
    }

    /// The undelivered writes in the log, counted a page at a time (paged results), with flat memory; `None`
    /// when the server does not let the sync user read that many.
    async fn unretrieved(&self, after: &StartPoint) -> EndpointResult<Option<u64>> {
        let cursor = Cursor::parse(after)?;
        let (rows, complete) = self.rows_limited(&cursor.filter()).await?;
        if complete {
            return Ok(Some(rows.iter().filter(|r| !cursor.delivered(r)).count() as u64));
        }
        let page = u32::try_from(self.page.get()).unwrap_or(u32::MAX);
        let Ok(mut stream) = self
            .client
            .search_stream(&self.log_dn, Scope::OneLevel, &cursor.filter(), &["reqStart", "reqEnd"], page)
            .await
        else {
            return Ok(None);
        };
        let mut n = 0u64;
        while let Some(item) = stream.next().await {
            let Ok(e) = item else { return Ok(None) };
            n += to_rows(vec![e]).iter().filter(|r| !cursor.delivered(r)).count() as u64;
        }
        Ok(Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrosync::entry::Value;

    fn t(s: &str) -> GenTime {
        GenTime::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    fn row(start: &str, end: &str) -> Row {
        Row { dn: format!("reqStart={start},cn=accesslog"), start: t(start), end: t(end) }
    }

    #[test]
    fn tokens_round_trip() {
        for c in [
            Cursor::BEGINNING,
            Cursor { done: Some(t("20260101000000.000002Z")), band: None },
            Cursor {
                done: Some(t("20260101000000.000002Z")),
                band: Some((t("20260101000001.000009Z"), t("20260101000000.000005Z"))),
            },
            Cursor { done: None, band: Some((t("20260101000001.000009Z"), t("20260101000000.000005Z"))) },
        ] {
            let token = c.token();
            assert!(token.as_str().len() < 100, "{token:?}");
            assert_eq!(Cursor::parse(&token).ok(), Some(c), "{token:?}");
        }
        assert_eq!(Cursor::BEGINNING.token().as_str(), "accesslog:0");
        assert!(Cursor::parse(&StartPoint("changenumber:5".into())).is_err());
        assert!(Cursor::parse(&StartPoint("accesslog:1,2".into())).is_err());
    }

    /// Writes started in one order and committed (reqEnd) in another: every one is delivered exactly once,
    /// whatever the batch size, and a band is delivered in reqStart order.
    #[test]
    fn plan_delivers_everything_once() {
        // (start, end): started 1..6, committed in the order 3, 1, 2, 6, 4, 5.
        let all = [
            row("20260101000000.000003Z", "20260101000000.000010Z"),
            row("20260101000000.000001Z", "20260101000000.000011Z"),
            row("20260101000000.000002Z", "20260101000000.000012Z"),
            row("20260101000000.000006Z", "20260101000000.000013Z"),
            row("20260101000000.000004Z", "20260101000000.000014Z"),
            row("20260101000000.000005Z", "20260101000000.000015Z"),
        ];
        for max in 1..=7 {
            for visible_steps in [vec![6], vec![2, 6], vec![1, 3, 4, 6]] {
                let mut cursor = Cursor::BEGINNING;
                let mut seen: Vec<GenTime> = Vec::new();
                for &visible in &visible_steps {
                    loop {
                        let rows: Vec<Row> = all[..visible].to_vec();
                        let chosen = plan(cursor, &rows, max);
                        if chosen.is_empty() {
                            break;
                        }
                        for (r, next) in chosen {
                            seen.push(r.start);
                            // the token round-trips, and resuming from it gives the same result
                            cursor = Cursor::parse(&next.token()).unwrap_or(next);
                        }
                    }
                }
                let mut sorted = seen.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(sorted.len(), 6, "max {max}, steps {visible_steps:?}: {seen:?}");
                assert_eq!(seen.len(), 6, "no duplicates: max {max}, steps {visible_steps:?}");
                if visible_steps == [6] {
                    assert_eq!(seen, sorted, "one band is in reqStart order (max {max})");
                }
            }
        }
    }

    /// Whether `r` matches the cursor's filter (what the server would answer to [`Cursor::filter`]).
    fn matches(c: &Cursor, r: &Row) -> bool {
        match (c.done, c.band) {
            (None, None) => true,
            (Some(d), None) => r.end >= d,
            (d, Some((e1, s))) => (d.is_none_or(|d| r.end >= d) && r.start >= s) || r.end >= e1,
        }
    }

    /// A server holding `all`, returning matches in `order` and at most `limit` of them, as slapd does with a
    /// size limit: (entries, complete).
    fn answer(all: &[Row], order: &[usize], limit: usize, wanted: impl Fn(&Row) -> bool) -> (Vec<Row>, bool) {
        let mut out = Vec::new();
        for &i in order {
            if wanted(&all[i]) {
                if out.len() == limit {
                    return (out, false);
                }
                out.push(all[i].clone());
            }
        }
        (out, true)
    }

    /// A backlog of 20,000 writes (started and committed in different orders) under a size limit of 500 is
    /// read a page at a time: no search returns more than the limit, every write is delivered once, and the
    /// server's order does not matter (in the order added, reversed, shuffled).
    #[tokio::test]
    async fn a_large_backlog_drains_a_page_at_a_time() {
        const N: usize = 20_000;
        const LIMIT: usize = 500;
        let base = GenTime { secs: 1_800_000_000, frac: 0 };
        let at = |k: usize| GenTime { secs: base.secs + (k / 1000) as i64, frac: (k % 1000) as u32 };
        // Entry i is committed (reqEnd) i-th; its start is a little earlier, shuffled within groups of 7.
        let all: Vec<Row> = (0..N)
            .map(|i| {
                let start = at((i / 7) * 7 + (6 - i % 7));
                Row { dn: format!("reqStart={},cn=accesslog", start.format()), start, end: at(N + i) }
            })
            .collect();
        let index: std::collections::HashMap<GenTime, usize> =
            all.iter().enumerate().map(|(i, r)| (r.start, i)).collect();
        let added: Vec<usize> = (0..N).collect();
        let mut shuffled = added.clone();
        let mut x = 12345u64;
        for i in (1..N).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (x >> 33) as usize % (i + 1));
        }
        for (name, order, max) in [
            ("added", added.clone(), 1000),
            ("reversed", added.iter().rev().copied().collect(), 1000),
            ("shuffled", shuffled, 300),
        ] {
            let mut cursor = Cursor::BEGINNING;
            let mut delivered = vec![false; N];
            let mut polls = 0;
            let mut searches = 0usize;
            loop {
                polls += 1;
                assert!(polls < 2 * N / 100, "{name}: too many polls");
                let mut rows = Vec::new();
                if let Some((e1, _)) = cursor.band {
                    let (band, complete) = answer(&all, &order, LIMIT, |r| matches(&cursor, r) && r.end <= e1);
                    assert!(complete, "{name}: a band is at most a page");
                    rows = band;
                }
                if !rows.iter().any(|r| !cursor.delivered(r)) {
                    let found = narrowed(cursor, |upper| {
                        searches += 1;
                        let got =
                            answer(&all, &order, LIMIT, |r| matches(&cursor, r) && upper.is_none_or(|u| r.end <= u));
                        async move { Ok(got) }
                    })
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| panic!("{name}: no page found"));
                    assert!(found.len() <= LIMIT);
                    rows.extend(found);
                }
                let chosen = plan(cursor, &rows, max);
                if chosen.is_empty() {
                    break;
                }
                for (r, next) in chosen {
                    let i = index.get(&r.start).copied().unwrap_or(N);
                    assert!(!delivered[i], "{name}: {} delivered twice", r.start.format());
                    delivered[i] = true;
                    cursor = Cursor::parse(&next.token()).unwrap_or(next);
                }
            }
            assert!(delivered.iter().all(|d| *d), "{name}: {} lost", delivered.iter().filter(|d| !**d).count());
            if name == "added" {
                // In the server's own order, a page costs two light searches.
                assert!(searches <= 2 * polls, "{name}: {searches} searches for {polls} polls");
            }
        }
    }

    #[test]
    fn the_page_size_follows_the_servers_limit() {
        let p = PageSize::new(1000);
        assert_eq!(p.get(), 1000);
        p.met_limit(1000, 500);
        assert_eq!(p.get(), 500);
        p.met_limit(500, 0);
        assert_eq!(p.get(), 250);
        p.met_limit(250, 250);
        assert_eq!(p.get(), 250, "meeting the limit asked for is no sign of a lower one");
        p.met_limit(250, 400);
        assert_eq!(p.get(), 250, "never back up");
        p.met_limit(250, 100);
        assert_eq!(p.get(), 100);
        assert_eq!(PageSize::new(0).get(), 1);
    }

    #[test]
    fn anchors() {
        let rows = vec![row("20260101000000.000003Z", "20260101000000.000010Z")];
        let caught_up = Cursor { done: Some(t("20260101000000.000010Z")), band: None };
        assert!(caught_up.anchor_seen(&rows));
        assert!(!caught_up.anchor_seen(&[]));
        let before = Cursor { done: None, band: Some((t("20260101000000.000010Z"), t("20260101000000.000002Z"))) };
        assert!(before.anchor_seen(&rows));
        assert_eq!(before.anchor_time(), Some(t("20260101000000.000003Z")));
        assert!(Cursor::BEGINNING.anchor_seen(&[]));
        assert_eq!(Cursor::BEGINNING.anchor_time(), None);
        let anchor = t("20260101000000.000010Z");
        assert!(purged_by_min_csn(&["20260102000000.123456Z#000000#000#000000".into()], anchor));
        assert!(!purged_by_min_csn(&["20260101000000.999999Z#000000#000#000000".into()], anchor));
        assert!(!purged_by_min_csn(&["garbage".into()], anchor));
    }

    #[test]
    fn filters() {
        let c = Cursor {
            done: Some(t("20260101000000.000002Z")),
            band: Some((t("20260101000001.000009Z"), t("20260101000000.000005Z"))),
        };
        let f = c.filter();
        assert!(f.contains("(|(&(reqEnd>=20260101000000.000002Z)(reqStart>=20260101000000.000005Z))(reqEnd>=20260101000001.000009Z))"), "{f}");
        assert!(ldap3::parse_filter(&f).is_ok());
        assert!(ldap3::parse_filter(Cursor::BEGINNING.filter()).is_ok());
    }

    #[test]
    fn maps_log_entries() {
        let mut e = Entry::new("reqStart=20261122110727.000005Z,cn=accesslog");
        e.set("reqStart", vec!["20261122110727.000005Z".into()]);
        e.set("reqType", vec!["modify".into()]);
        e.set("reqDN", vec!["uid=p1,ou=probe,dc=example,dc=com".into()]);
        e.set("reqAuthzID", vec!["cn=admin,dc=example,dc=com".into()]);
        e.set("reqEntryUUID", vec!["a590310e-7ab0-1041-91c4-5bf165bdb183".into()]);
        e.set(
            "reqMod",
            vec![
                Value::Binary(b"description:= h\xc3\xa9llo".to_vec()),
                Value::Binary(b"jpegPhoto:+ \xff\xd8".to_vec()),
                "mail:+ q1@example.com".into(),
                ":".into(),
                "mail:-".into(),
                "userPassword:= newpw2".into(),
                "entryCSN:= 20261122110727.177565Z#000000#000#000000".into(),
            ],
        );
        let c = change_from_log_entry(&e, StartPoint("accesslog:0".into())).unwrap_or_else(|| panic!("change"));
        assert_eq!(c.kind, ChangeKind::Modify);
        assert_eq!(c.id, "20261122110727.000005Z");
        assert_eq!(c.time.as_deref(), Some("20261122110727Z"));
        assert_eq!(c.changed_attributes, vec!["description", "jpegPhoto", "mail", "userPassword", "entryCSN"]);
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("newpw2"));
        e.set("reqMod", vec!["userPassword:+ {SSHA}abcdef".into()]);
        let c = change_from_log_entry(&e, StartPoint::default()).unwrap_or_else(|| panic!("change"));
        assert!(c.password.is_none());

        let mut r = Entry::new("reqStart=20261122110727.000007Z,cn=accesslog");
        r.set("reqStart", vec!["20261122110727.000007Z".into()]);
        r.set("reqType", vec!["modrdn".into()]);
        r.set("reqDN", vec!["uid=p1,ou=probe,dc=example,dc=com".into()]);
        r.set("reqNewRDN", vec!["uid=p1\\2C x".into()]);
        r.set("reqNewSuperior", vec!["ou=people,dc=example,dc=com".into()]);
        let c = change_from_log_entry(&r, StartPoint::default()).unwrap_or_else(|| panic!("change"));
        assert_eq!(c.new_dn.as_deref(), Some("uid=p1\\, x,ou=people,dc=example,dc=com"));
        assert!(parse_req_mod(b":").is_none());
        assert_eq!(parse_req_mod(b"cn:-"), Some(("cn".into(), b'-', &b""[..])));
    }
}
