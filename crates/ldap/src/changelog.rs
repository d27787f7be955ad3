//! [`ChangelogDetector`]: changes read from a draft-good-ldap-changelog `cn=changelog` (389 Directory Server's
//! Retro Changelog, PingDirectory, OpenDJ, Sun DS).
//!
//! The start point token is `changenumber:N`, N being the last change number already applied (0: nothing
//! yet). A poll reads the entries `(&(changeNumber>=N+1)(changeNumber<=N+max))` one level below the change
//! log (at most `changelog-max-entries-per-poll` of them, fewer when the server's size limit for the sync user
//! is lower: a search cut by a size limit is narrowed and made again, never read as all there is), sorts them
//! by number and maps each to a [`Change`]:
//!
//! * `changeType` `add`/`modify`/`modrdn`/`delete` gives the kind (anything else is read as a modify, so the
//!   engine fetches the entry); `targetDn` the DN; `newRdn`, `deleteOldRdn` and `newSuperior` the new DN,
//!   recomputed in RFC 4514 form; `targetUniqueId` (or `targetEntryUUID`) the unique id, as the server sends it
//!   (389: the `nsUniqueId` form); `changeTime` the time; `changeInitiatorsName`, or else the
//!   `modifiersName`/`creatorsName` recorded in `changes`, the modifier.
//! * `changes` is LDIF (base64 values, folded lines, a trailing NUL on 389's modify records). For a modify the
//!   changed attributes are the attributes of its blocks; for an add, every attribute listed. 389 2.3.1 drops the
//!   `add: attr` line of an add that follows an add with a base64 value: a block without a header is read as an
//!   add of the attribute named on its first line. A clear-text `unhashed#user#password` (389 writes it when
//!   `nsslapd-unhashed-pw-switch` is `on`) becomes [`Change::password`]; it is not listed as an attribute.
//!
//! A poll hands out only consecutive change numbers from N+1. A server numbers a change before its entry can
//! be found (389 DS publishes `lastChangeNumber` first), so when N+1 is missing while later changes exist, the
//! poll returns nothing and tries again; only a number missing for 5 s is taken for a gap in the numbering and
//! skipped. A start point older than the oldest change still in the log
//! (`firstChangeNumber` in the root DSE) is an [`EndpointError::Config`]: a resync is needed. Token 0 means
//! "before anything": it never counts as too old, so an empty change log can be followed from the start.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use ferrosync::endpoint::{
    Change, ChangeDetector, ChangeKind, EndpointError, EndpointResult, StartPoint, StartPointRequest,
};
use ferrosync::entry::Entry;
use ferrosync::secret::Secret;

use crate::detector::{ldap_bool, new_dn, servers_label, GenTime, PageSize, DEFAULT_PAGE_SIZE};
use crate::endpoint::endpoint_error;
use crate::error::rc;
use crate::{LdapClient, LdapError, Scope};

const TOKEN_PREFIX: &str = "changenumber:";
const DEFAULT_CHANGELOG_DN: &str = "cn=changelog";
/// 389 DS's pseudo attribute for the clear-text password of a change.
const UNHASHED_PASSWORD: &str = "unhashed#user#password";

const CHANGE_ATTRS: &[&str] = &[
    "changeNumber",
    "targetDn",
    "changeType",
    "changes",
    "newRdn",
    "deleteOldRdn",
    "newSuperior",
    "changeTime",
    "targetUniqueId",
    "targetEntryUUID",
    "changeInitiatorsName",
];

/// Reads a draft-good-ldap-changelog `cn=changelog`. See the [module documentation](self).
pub struct ChangelogDetector {
    client: LdapClient,
    changelog_dn: Option<String>,
    /// The change log DN the root DSE named, read once.
    resolved_dn: OnceLock<String>,
    /// Since when change `n + 1` has been missing while later ones exist: `(n, first seen)`.
    gap: Mutex<Option<(u64, Instant)>>,
    /// The most entries one search reads.
    page: PageSize,
}

/// How long a missing change number may stay missing, while later ones exist, before it is taken for a gap
/// in the numbering rather than a change whose entry is not written yet.
const GAP_WAIT: Duration = Duration::from_secs(5);

/// The changes of `found` that follow each other without a gap from the first one, at most `max`.
fn contiguous(found: &[(u64, Entry)], max: u64) -> Vec<Change> {
    let Some((start, _)) = found.first() else { return Vec::new() };
    found
        .iter()
        .enumerate()
        .take_while(|(i, (number, _))| *number == start.saturating_add(*i as u64))
        .take(usize::try_from(max).unwrap_or(usize::MAX))
        .map(|(_, (number, e))| change_from_entry(*number, e))
        .collect()
}

/// What the root DSE says about the change log.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bounds {
    /// The `changelog` attribute: the change log's DN, when published.
    dn: Option<String>,
    first: u64,
    last: u64,
}

fn config(message: String) -> EndpointError {
    EndpointError::Config(message)
}

impl ChangelogDetector {
    /// A detector over `client`. The change log's DN is read from the root DSE (`changelog`), else
    /// `cn=changelog`.
    pub fn new(client: LdapClient) -> Self {
        ChangelogDetector {
            client,
            changelog_dn: None,
            resolved_dn: OnceLock::new(),
            gap: Mutex::new(None),
            page: PageSize::new(DEFAULT_PAGE_SIZE),
        }
    }

    /// Reads at most `n` change log entries per search (`changelog-max-entries-per-poll`; fewer when the
    /// server's size limit for the sync user is lower).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page = PageSize::new(n);
        self
    }

    /// Reads the change log at `dn` instead of the root DSE's `changelog` value.
    pub fn with_changelog_dn(mut self, dn: &str) -> Self {
        self.changelog_dn = Some(dn.to_string());
        self
    }

    pub fn client(&self) -> &LdapClient {
        &self.client
    }

    /// The token of change number `n`: `changenumber:n`.
    pub fn token(n: u64) -> StartPoint {
        StartPoint(format!("{TOKEN_PREFIX}{n}"))
    }

    /// The change number of a token (`changenumber:N`; a bare `N` is accepted too).
    pub fn parse_token(sp: &StartPoint) -> EndpointResult<u64> {
        let s = sp.as_str().trim();
        if s.is_empty() {
            return Err(config(
                "there is no start point yet: run realtime-sync set-startpoint (e.g. --end-of-changelog)".into(),
            ));
        }
        let n = s.strip_prefix(TOKEN_PREFIX).unwrap_or(s);
        n.parse().map_err(|_| {
            config(format!(
                "the start point {s:?} is not a change number (changenumber:N): it was made for another kind of \
                 sync source; run realtime-sync set-startpoint"
            ))
        })
    }

    fn dn(&self, bounds: Option<&Bounds>) -> String {
        self.changelog_dn
            .clone()
            .or_else(|| bounds.and_then(|b| b.dn.clone()))
            .or_else(|| self.resolved_dn.get().cloned())
            .unwrap_or_else(|| DEFAULT_CHANGELOG_DN.to_string())
    }

    /// The change log's DN: the configured one, else the root DSE's `changelog` (read once).
    async fn changelog_dn(&self) -> EndpointResult<String> {
        if let Some(dn) = &self.changelog_dn {
            return Ok(dn.clone());
        }
        if let Some(dn) = self.resolved_dn.get() {
            return Ok(dn.clone());
        }
        let b = self.bounds().await?;
        Ok(self.dn(Some(&b)))
    }

    fn not_enabled(&self, reason: &str) -> EndpointError {
        config(format!(
            "the change log of {} cannot be read: {reason}. Turn it on and let the sync user read it: on 389 Directory \
             Server enable the Retro Changelog Plugin (dsconf INSTANCE plugin retro-changelog enable, with \
             nsslapd-attribute: nsuniqueid:targetUniqueId, then restart the server); on PingDirectory, OpenDJ or Sun \
             DS run prepare-endpoint-server --isSource (or enable the server's changelog); and give the sync user \
             read access to {}",
            servers_label(&self.client),
            self.changelog_dn.as_deref().unwrap_or(DEFAULT_CHANGELOG_DN)
        ))
    }

    /// Maps an error of a change log search: a missing or forbidden change log is a configuration problem.
    fn search_error(&self, e: LdapError) -> EndpointError {
        match e.rc() {
            Some(rc::NO_SUCH_OBJECT) => self.not_enabled(&format!("it does not exist ({e})")),
            Some(rc::INSUFFICIENT_ACCESS_RIGHTS) => self.not_enabled(&format!("access is denied ({e})")),
            _ => endpoint_error(e),
        }
    }

    /// The root DSE's `changelog`, `firstChangeNumber` and `lastChangeNumber` (any case; "0"/"0" when the log is
    /// empty).
    async fn bounds(&self) -> EndpointResult<Bounds> {
        let dse = self
            .client
            .root_dse(&["changelog", "firstChangeNumber", "lastChangeNumber"])
            .await
            .map_err(endpoint_error)?;
        let dn = dse.first_text("changelog").filter(|d| !d.trim().is_empty());
        match &dn {
            None if self.changelog_dn.is_none() => {
                return Err(self.not_enabled("the root DSE has no changelog attribute"))
            }
            Some(d) => {
                let _ = self.resolved_dn.set(d.clone());
            }
            None => {}
        }
        let number = |name: &str| -> EndpointResult<Option<u64>> {
            match dse.first_text(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| EndpointError::Rejected(format!("the root DSE's {name} {v:?} is not a number"))),
            }
        };
        match (number("firstChangeNumber")?, number("lastChangeNumber")?) {
            (Some(first), Some(last)) => Ok(Bounds { dn, first, last }),
            (None, None) => Err(config(format!(
                "the root DSE of {} does not publish firstChangeNumber and lastChangeNumber, so the change log \
                 cannot be followed",
                servers_label(&self.client)
            ))),
            (first, last) => Ok(Bounds { dn, first: first.unwrap_or(0), last: last.or(first).unwrap_or(0) }),
        }
    }

    /// How long change `n + 1` has been seen missing (zero the first time).
    fn gap_age(&self, n: u64) -> Duration {
        let Ok(mut g) = self.gap.lock() else { return GAP_WAIT };
        match *g {
            Some((m, since)) if m == n => since.elapsed(),
            _ => {
                *g = Some((n, Instant::now()));
                Duration::ZERO
            }
        }
    }

    fn clear_gap(&self) {
        if let Ok(mut g) = self.gap.lock() {
            *g = None;
        }
    }

    /// Checks that the change log's own entry can be read.
    async fn check_readable(&self, bounds: &Bounds) -> EndpointResult<()> {
        let dn = self.dn(Some(bounds));
        let found = self
            .client
            .search(&dn, Scope::Base, "(objectClass=*)", &["1.1"])
            .await
            .map_err(|e| self.search_error(e))?;
        if found.is_empty() {
            // 389 DS answers a user without access with success and no entry.
            return Err(self.not_enabled(&format!("the search of {dn} returned nothing (access denied?)")));
        }
        Ok(())
    }

    /// The change log entries with numbers in `from..=upto`, sorted by number, and `upto`: `to`, or less when
    /// more entries than a page (or than the server's size limit) are in the range. Every entry of
    /// `from..=upto` is there (a search cut by a size limit is narrowed and made again, never taken as all).
    async fn range(&self, dn: &str, from: u64, to: u64, attrs: &[&str]) -> EndpointResult<(Vec<(u64, Entry)>, u64)> {
        let page = u64::try_from(self.page.get()).unwrap_or(u64::MAX);
        let mut to = to.min(from.saturating_add(page - 1)).max(from);
        loop {
            let filter = if from == to {
                format!("(changeNumber={from})")
            } else {
                format!("(&(changeNumber>={from})(changeNumber<={to}))")
            };
            let asked = usize::try_from(to - from + 1).unwrap_or(usize::MAX);
            let (entries, complete) = self
                .client
                .search_limited(dn, Scope::OneLevel, &filter, attrs, asked)
                .await
                .map_err(|e| self.search_error(e))?;
            if !complete {
                if from == to {
                    return Err(EndpointError::Retryable(format!(
                        "the server refused to return even one change log entry ({filter}) to the sync user: its \
                         size limit is 0?"
                    )));
                }
                self.page.met_limit(asked, entries.len());
                to = from + u64::try_from(self.page.get()).unwrap_or(1).min(to - from) - 1;
                continue;
            }
            let mut numbered: Vec<(u64, Entry)> = entries
                .into_iter()
                .filter_map(|e| {
                    let n = e.first_text("changeNumber")?.trim().parse().ok()?;
                    Some((n, e))
                })
                .filter(|(n, _)| (from..=to).contains(n))
                .collect();
            numbered.sort_by_key(|(n, _)| *n);
            return Ok((numbered, to));
        }
    }

    /// Like [`range`](Self::range), for a window that may be wider than a page: it is searched whole (an empty
    /// window of any width costs one search), and narrowed only when it holds more than a page.
    async fn range_any(
        &self,
        dn: &str,
        from: u64,
        to: u64,
        attrs: &[&str],
    ) -> EndpointResult<(Vec<(u64, Entry)>, u64)> {
        let page = self.page.get();
        let filter = format!("(&(changeNumber>={from})(changeNumber<={to}))");
        let (entries, complete) = self
            .client
            .search_limited(dn, Scope::OneLevel, &filter, &["changeNumber"], page)
            .await
            .map_err(|e| self.search_error(e))?;
        if complete && entries.is_empty() {
            return Ok((Vec::new(), to));
        }
        // Something is there: the lowest number read is an upper bound of the first one.
        let lowest = entries
            .iter()
            .filter_map(|e| e.first_text("changeNumber")?.trim().parse::<u64>().ok())
            .filter(|n| (from..=to).contains(n))
            .min()
            .unwrap_or(to);
        self.range(dn, from, lowest, attrs).await
    }

    /// The first existing change with a number `>= k` (up to `last`) and its time.
    async fn probe(&self, dn: &str, k: u64, last: u64) -> EndpointResult<Option<(u64, Option<SystemTime>)>> {
        let mut width = 64u64;
        let mut from = k;
        while from <= last {
            let to = from.saturating_add(width - 1).min(last);
            let (found, upto) = self.range_any(dn, from, to, &["changeNumber", "changeTime"]).await?;
            if let Some((n, e)) = found.into_iter().next() {
                let time = e.first_text("changeTime").and_then(|t| GenTime::parse(&t)).map(GenTime::to_system);
                return Ok(Some((n, time)));
            }
            from = upto.saturating_add(1);
            width = width.saturating_mul(8);
        }
        Ok(None)
    }

    /// The token just before the first change made at or after `t` (a binary search over change numbers,
    /// assuming `changeTime` grows with the change number, as it does on one server).
    async fn start_at_time(&self, bounds: &Bounds, t: SystemTime) -> EndpointResult<StartPoint> {
        let dn = self.dn(Some(bounds));
        // changeTime has whole seconds: a change made later in the same second as `t` must not be missed.
        let t = GenTime::from_system(t).to_system();
        if bounds.last == 0 {
            return Ok(Self::token(0));
        }
        let mut lo = bounds.first.max(1);
        let mut hi = bounds.last.saturating_add(1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.probe(&dn, mid, bounds.last).await? {
                None => hi = mid,
                Some((n, time)) => {
                    // A change without a readable time counts as older: it is read again rather than skipped.
                    if time.is_some_and(|time| time >= t) {
                        hi = mid;
                    } else {
                        lo = n.saturating_add(1);
                    }
                }
            }
        }
        Ok(match self.probe(&dn, lo, bounds.last).await? {
            Some((n, _)) => Self::token(n.saturating_sub(1)),
            None => Self::token(bounds.last),
        })
    }
}

fn csn_refused(csn: &str) -> EndpointError {
    config(format!(
        "this sync source uses change numbers (its cn=changelog numbers every change), not change sequence \
         numbers: use --change-number, --change-time, --beginning-of-changelog or --end-of-changelog instead of \
         the change sequence number {csn:?}"
    ))
}

/// What a poll must do when change N+1 is not found.
#[derive(Debug, PartialEq, Eq)]
enum Gap {
    /// The start point was trimmed from the log: resync.
    Purged,
    /// The log is behind the start point (reset, or another server's numbering): set a new start point.
    Reset,
    /// Nothing new.
    UpToDate,
    /// Later changes exist (found, or published in the root DSE).
    Later,
}

/// The decision for a poll from token `n` that found later changes or not (`found`), in a log bounded by
/// `first..=last`.
fn gap_decision(n: u64, found: bool, first: u64, last: u64) -> Gap {
    if n > 0 && first > 0 && n.saturating_add(1) < first {
        return Gap::Purged;
    }
    if found {
        return Gap::Later;
    }
    if last <= n {
        if last < n && last > 0 {
            return Gap::Reset;
        }
        return Gap::UpToDate;
    }
    Gap::Later
}

/// One line of an LDIF `changes` value: an attribute name and a value.
#[derive(Debug, PartialEq, Eq)]
struct LdifLine {
    name: String,
    value: Vec<u8>,
}

/// The logical lines of LDIF text, unfolded, with base64 values decoded. `None` stands for a `-` separator.
fn ldif_lines(raw: &[u8]) -> Vec<Option<LdifLine>> {
    use base64::Engine;
    let end = raw.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    let text = &raw[..end];
    let mut logical: Vec<Vec<u8>> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b" ") {
            if let Some(prev) = logical.last_mut() {
                prev.extend_from_slice(rest);
                continue;
            }
        }
        logical.push(line.to_vec());
    }
    let mut out = Vec::new();
    for line in logical {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        if line == b"-" {
            out.push(None);
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = String::from_utf8_lossy(&line[..colon]).trim().to_string();
        let rest = &line[colon + 1..];
        let value = if let Some(b64) = rest.strip_prefix(b":") {
            let b64: Vec<u8> = b64.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(&b64) {
                Ok(v) => v,
                Err(_) => b64,
            }
        } else {
            let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
            rest[start..].to_vec()
        };
        out.push(Some(LdifLine { name, value }));
    }
    out
}

/// What `changes` says.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ParsedChanges {
    attributes: Vec<String>,
    password: Option<Secret>,
    modifier: Option<String>,
}

fn push_unique(list: &mut Vec<String>, name: &str) {
    if !name.is_empty() && !list.iter().any(|a| a.eq_ignore_ascii_case(name)) {
        list.push(name.to_string());
    }
}

const MOD_OPS: &[&str] = &["add", "delete", "replace", "increment"];

/// Parses the `changes` of an add (`attr: value` lines) or a modify (blocks of `op: attr` + values, separated
/// by `-`; a block without the op line is an add of the attribute on its first line).
pub(crate) fn parse_changes(raw: &[u8], is_add: bool) -> ParsedChanges {
    let mut parsed = ParsedChanges::default();
    let lines = ldif_lines(raw);
    if is_add {
        for line in lines.iter().flatten() {
            note_value(&mut parsed, &line.name, "add", Some(&line.value), true);
        }
        return parsed;
    }
    let mut op: Option<String> = None; // the op of the current block
    for line in lines {
        match line {
            None => op = None,
            Some(line) => match &op {
                None => {
                    let lower = line.name.to_ascii_lowercase();
                    if MOD_OPS.contains(&lower.as_str()) {
                        let attr = String::from_utf8_lossy(&line.value).trim().to_string();
                        note_value(&mut parsed, &attr, &lower, None, false);
                        op = Some(lower);
                    } else {
                        // 389 2.3.1: the "add: attr" header line is missing.
                        note_value(&mut parsed, &line.name, "add", Some(&line.value), false);
                        op = Some("add".into());
                    }
                }
                Some(current) => {
                    let current = current.clone();
                    note_value(&mut parsed, &line.name, &current, Some(&line.value), false);
                }
            },
        }
    }
    parsed
}

/// Records one attribute (and value) of `changes`.
fn note_value(parsed: &mut ParsedChanges, attr: &str, op: &str, value: Option<&[u8]>, is_add: bool) {
    let text = value.and_then(|v| String::from_utf8(v.to_vec()).ok());
    if attr.eq_ignore_ascii_case(UNHASHED_PASSWORD) {
        if op != "delete" && parsed.password.is_none() {
            parsed.password = text.filter(|v| !v.is_empty()).map(Secret::new);
        }
        return;
    }
    push_unique(&mut parsed.attributes, attr);
    if op == "delete" {
        return;
    }
    if let Some(v) = text {
        let creator = is_add && attr.eq_ignore_ascii_case("creatorsName") && parsed.modifier.is_none();
        if attr.eq_ignore_ascii_case("modifiersName") || creator {
            parsed.modifier = Some(v);
        }
    }
}

/// Maps one change log entry to a change.
pub(crate) fn change_from_entry(n: u64, e: &Entry) -> Change {
    let change_type = e.first_text("changeType").unwrap_or_default().trim().to_ascii_lowercase();
    let kind = match change_type.as_str() {
        "add" => ChangeKind::Add,
        "delete" => ChangeKind::Delete,
        "modrdn" | "moddn" => ChangeKind::ModDn,
        _ => ChangeKind::Modify,
    };
    let dn = e.first_text("targetDn").unwrap_or_default();
    let mut c = Change::new(ChangelogDetector::token(n), n.to_string(), kind.clone(), dn.clone());
    c.unique_id = e.first_text("targetUniqueId").or_else(|| e.first_text("targetEntryUUID")).filter(|s| !s.is_empty());
    c.time = e.first_text("changeTime");
    let parsed =
        e.values("changes").first().map(|v| parse_changes(&v.to_bytes(), kind == ChangeKind::Add)).unwrap_or_default();
    c.modifier = e.first_text("changeInitiatorsName").or(parsed.modifier);
    if matches!(kind, ChangeKind::Add | ChangeKind::Modify) {
        c.changed_attributes = parsed.attributes;
        c.password = parsed.password;
    }
    if kind == ChangeKind::ModDn {
        if let Some(rdn) = e.first_text("newRdn") {
            let sup = e.first_text("newSuperior").filter(|s| !s.is_empty());
            c.new_dn = Some(new_dn(&dn, &rdn, sup.as_deref()));
        }
        // deleteOldRdn does not change the DN; it is read for completeness of the record.
        let _ = e.first_text("deleteOldRdn").map(|v| ldap_bool(&v));
    }
    c
}

#[async_trait]
impl ChangeDetector for ChangelogDetector {
    /// `changenumber:N` for the request: the end (`lastChangeNumber`), the beginning (`firstChangeNumber - 1`), a
    /// change number `n` (`n - 1`; `firstChangeNumber <= n <= lastChangeNumber + 1`) or the first change at or
    /// after a time. Change sequence numbers are refused: this log numbers its changes.
    async fn start_point(&self, request: &StartPointRequest) -> EndpointResult<StartPoint> {
        if let StartPointRequest::ChangeSequenceNumber(csn) = request {
            return Err(csn_refused(csn));
        }
        let b = self.bounds().await?;
        self.check_readable(&b).await?;
        match request {
            StartPointRequest::EndOfChangelog => Ok(Self::token(b.last)),
            StartPointRequest::BeginningOfChangelog => Ok(Self::token(b.first.saturating_sub(1))),
            StartPointRequest::ChangeNumber(n) => {
                let n = *n;
                if b.first > 0 && n < b.first {
                    return Err(config(format!(
                        "change number {n} is older than the oldest change ({}) still in the change log: run resync, \
                         then set-startpoint --end-of-changelog",
                        b.first
                    )));
                }
                if n > b.last.saturating_add(1) {
                    return Err(config(format!(
                        "change number {n} is after the newest change ({}) in the change log: use a number from {} \
                         to {}, or --end-of-changelog",
                        b.last,
                        b.first.max(1),
                        b.last.saturating_add(1)
                    )));
                }
                Ok(Self::token(n.saturating_sub(1)))
            }
            StartPointRequest::Time(t) => self.start_at_time(&b, *t).await,
            StartPointRequest::ChangeSequenceNumber(csn) => Err(csn_refused(csn)),
        }
    }

    async fn poll(&self, after: &StartPoint, max: usize, _wait: std::time::Duration) -> EndpointResult<Vec<Change>> {
        let n = Self::parse_token(after)?;
        let next = n.saturating_add(1);
        let max = u64::try_from(max.max(1)).unwrap_or(u64::MAX);
        let dn = self.changelog_dn().await?;
        let (found, _) = self.range(&dn, next, n.saturating_add(max), CHANGE_ATTRS).await?;
        if found.first().is_some_and(|(first, _)| *first == next) {
            self.clear_gap();
            return Ok(contiguous(&found, max));
        }
        // Change n+1 is not there: the root DSE tells why.
        let b = self.bounds().await?;
        match gap_decision(n, !found.is_empty(), b.first, b.last) {
            Gap::Purged => {
                return Err(config(format!(
                    "the start point (change number {n}) is older than the oldest change ({}) still in the change \
                     log: changes were lost, a resync is needed (run resync, then realtime-sync set-startpoint \
                     --end-of-changelog)",
                    b.first
                )))
            }
            Gap::Reset => {
                return Err(config(format!(
                    "the start point (change number {n}) is after the newest change ({}) in the change log: the \
                     change log was reset or belongs to another server; run resync, then realtime-sync \
                     set-startpoint --end-of-changelog",
                    b.last
                )))
            }
            Gap::UpToDate => {
                self.clear_gap();
                return Ok(Vec::new());
            }
            Gap::Later => {}
        }
        // Later changes are published but n+1 cannot be read. A server numbers a change before its entry can be
        // found (389 DS does), so wait for it a while before taking the gap for real.
        if self.gap_age(n) < GAP_WAIT {
            return Ok(Vec::new());
        }
        let found = if found.is_empty() {
            match self.probe(&dn, next, b.last).await? {
                Some((next, _)) => self.range(&dn, next, next.saturating_add(max - 1), CHANGE_ATTRS).await?.0,
                None => {
                    self.check_readable(&b).await?;
                    return Err(self.not_enabled(&format!(
                        "changes {} to {} are published but none can be read (does the sync user have read access \
                         to the change log entries?)",
                        next, b.last
                    )));
                }
            }
        } else {
            found
        };
        self.clear_gap();
        Ok(contiguous(&found, max))
    }

    /// `lastChangeNumber - N`.
    async fn unretrieved(&self, after: &StartPoint) -> EndpointResult<Option<u64>> {
        let n = Self::parse_token(after)?;
        let b = self.bounds().await?;
        Ok(Some(b.last.saturating_sub(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrosync::entry::Value;

    #[test]
    fn tokens() {
        assert_eq!(ChangelogDetector::token(42).as_str(), "changenumber:42");
        assert_eq!(ChangelogDetector::parse_token(&StartPoint("changenumber:42".into())).ok(), Some(42));
        assert_eq!(ChangelogDetector::parse_token(&StartPoint("7".into())).ok(), Some(7));
        assert!(matches!(ChangelogDetector::parse_token(&StartPoint(String::new())), Err(EndpointError::Config(_))));
        assert!(matches!(
            ChangelogDetector::parse_token(&StartPoint("cookie:abc".into())),
            Err(EndpointError::Config(_))
        ));
    }

    #[test]
    fn gaps() {
        assert_eq!(gap_decision(5, false, 10, 20), Gap::Purged);
        assert_eq!(gap_decision(9, false, 10, 20), Gap::Later);
        assert_eq!(gap_decision(9, true, 10, 20), Gap::Later);
        assert_eq!(gap_decision(0, false, 10, 20), Gap::Later, "0 is never purged");
        assert_eq!(gap_decision(20, false, 10, 20), Gap::UpToDate);
        assert_eq!(gap_decision(25, false, 10, 20), Gap::Reset);
        assert_eq!(gap_decision(25, false, 0, 0), Gap::UpToDate, "an empty log says nothing");
    }

    #[test]
    fn parses_389_modify_with_the_headerless_add() {
        let raw = b"add: description\ndescription:: aMOpbGxv\n-\nmail: q1@example.com\n-\ndelete: mail\nmail: q1@ex\
                    ample.com\n-\nreplace: modifiersname\nmodifiersname: cn=directory manager\n-\nreplace: unhashed#us\
                    er#password\nunhashed#user#password:: Q2xlYXIgUGFzcyDDqQ==\n-\n\0";
        let p = parse_changes(raw, false);
        assert_eq!(p.attributes, vec!["description", "mail", "modifiersname"]);
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("Clear Pass é"));
        assert_eq!(p.modifier.as_deref(), Some("cn=directory manager"));
    }

    #[test]
    fn parses_adds_and_folded_lines() {
        let raw = b"objectClass: top\nuid: p1\nuserPassword:: e1BCS0RGMi1TSEE1MTJ9\n MTAwMDAkYWJjZGVmZ2g=\ncreatorsName: cn=directory manager\nunhashed#user#password: pw\n";
        let p = parse_changes(raw, true);
        assert_eq!(p.attributes, vec!["objectClass", "uid", "userPassword", "creatorsName"]);
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("pw"));
        assert_eq!(p.modifier.as_deref(), Some("cn=directory manager"));
        let lines = ldif_lines(raw);
        assert!(lines.iter().flatten().any(|l| l.name == "userPassword" && l.value.starts_with(b"{PBKDF2-SHA512}")));
    }

    #[test]
    fn only_consecutive_changes_are_handed_out() {
        let entry = |n: u64| {
            let mut e = Entry::new(format!("changenumber={n},cn=changelog"));
            e.set("changeType", vec!["delete".into()]);
            e.set("targetDn", vec![format!("uid=u{n},dc=x").into()]);
            (n, e)
        };
        let found: Vec<(u64, Entry)> = [5, 6, 7, 9, 10].into_iter().map(entry).collect();
        let ids: Vec<String> = contiguous(&found, 10).into_iter().map(|c| c.id).collect();
        assert_eq!(ids, vec!["5", "6", "7"]);
        assert_eq!(contiguous(&found, 2).len(), 2);
        assert!(contiguous(&[], 2).is_empty());
    }

    #[test]
    fn maps_a_modrdn() {
        let mut e = Entry::new("changenumber=5,cn=changelog");
        e.set("changeType", vec!["modrdn".into()]);
        e.set("targetDn", vec!["uid=p1,ou=probe,dc=example,dc=com".into()]);
        e.set("newRdn", vec!["uid=p1\\2C x".into()]);
        e.set("deleteOldRdn", vec!["TRUE".into()]);
        e.set("newSuperior", vec!["ou=people,dc=example,dc=com".into()]);
        e.set("targetuniqueid", vec!["d9c6d28d-e66411f1-94dac6ff-14f17edb".into()]);
        e.set("changes", vec![Value::Text("replace: modifiersname\nmodifiersname: cn=x\n-\n".into())]);
        let c = change_from_entry(5, &e);
        assert_eq!(c.kind, ChangeKind::ModDn);
        assert_eq!(c.new_dn.as_deref(), Some("uid=p1\\, x,ou=people,dc=example,dc=com"));
        assert_eq!(c.unique_id.as_deref(), Some("d9c6d28d-e66411f1-94dac6ff-14f17edb"));
        assert_eq!(c.modifier.as_deref(), Some("cn=x"));
        assert_eq!(c.after.as_str(), "changenumber:5");
        assert!(c.changed_attributes.is_empty());
    }
}
