//! An in-memory directory source with a change log, in the manner of `cn=changelog`.
//!
//! [`SourceDirectory`] is the directory a test changes (add, modify, rename or move, delete); every change is
//! logged with a change number, the entry's unique id (`entryUUID`, assigned on add) and the attributes a
//! modify changed. [`FakeSource`] reads it as the engine's [`EntrySource`] (returning what an LDAP server
//! returns for the attributes asked for: `*` is every user attribute, operational ones only when named) and
//! [`FakeChangeLog`] reads its log as a [`ChangeDetector`] (start points are change numbers). Both ask a
//! [`FaultPlan`] before each call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferrosync::endpoint::{
    Change, ChangeDetector, ChangeKind, EndpointError, EndpointResult, EntrySource, Modification, StartPoint,
    StartPointRequest,
};
use ferrosync::entry::{Entry, Value};
use ferrosync::mapping::rules::is_operational;
use ferrosync::mapping::PipeMapping;
use ferrosync::syntax::{Dn, Filter};
use tokio::sync::mpsc;

use crate::dit::{Dit, DitError};
use crate::faults::{lock, FaultPlan, Op};

/// The attribute that holds each entry's unique id.
pub const UNIQUE_ID: &str = "entryUUID";

/// One record of the change log.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedChange {
    pub number: u64,
    pub kind: ChangeKind,
    pub dn: String,
    pub new_dn: Option<String>,
    pub unique_id: String,
    pub changed_attributes: Vec<String>,
    pub modifier: Option<String>,
}

#[derive(Default)]
struct State {
    dit: Dit,
    log: Vec<LoggedChange>,
    next_id: u64,
    modifier: Option<String>,
}

/// The source directory and its change log (clones share them).
#[derive(Clone, Default)]
pub struct SourceDirectory {
    state: Arc<Mutex<State>>,
    base_dns: Vec<String>,
}

impl SourceDirectory {
    /// A directory holding `suffix` (created, empty) and serving `base_dns` (the sync source's `base-dn`s).
    pub fn new(suffix: &str, base_dns: &[&str]) -> SourceDirectory {
        let mut dit = Dit::new(&[suffix]);
        let _ = dit.add(Entry::new(suffix));
        SourceDirectory {
            state: Arc::new(Mutex::new(State { dit, ..State::default() })),
            base_dns: base_dns.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Adds an entry without logging it (the directory as it was before the change log starts).
    pub fn seed(&self, entry: Entry) -> Result<String, DitError> {
        self.add_entry(entry, false)
    }

    /// Adds an entry; returns its unique id.
    pub fn add(&self, entry: Entry) -> Result<String, DitError> {
        self.add_entry(entry, true)
    }

    fn add_entry(&self, mut entry: Entry, logged: bool) -> Result<String, DitError> {
        let mut s = lock(&self.state);
        s.next_id += 1;
        let id = format!("{:08x}-0000-4000-8000-{:012x}", s.next_id, s.next_id);
        entry.set(UNIQUE_ID, vec![Value::from(id.as_str())]);
        let dn = entry.dn.clone();
        s.dit.add(entry)?;
        if logged {
            push(&mut s, ChangeKind::Add, dn, None, id.clone(), Vec::new());
        }
        Ok(id)
    }

    /// Modifies an entry (LDAP's rules); the log records the attributes changed.
    pub fn modify(&self, dn: &str, mods: &[Modification]) -> Result<(), DitError> {
        let mut s = lock(&self.state);
        let id = unique_id_at(&s.dit, dn)?;
        s.dit.modify(dn, mods)?;
        let mut changed: Vec<String> = Vec::new();
        for m in mods {
            if !changed.iter().any(|c| c.eq_ignore_ascii_case(m.attribute())) {
                changed.push(m.attribute().to_string());
            }
        }
        let current = s.dit.get(dn).map(|e| e.dn.clone()).unwrap_or_else(|| dn.to_string());
        push(&mut s, ChangeKind::Modify, current, None, id, changed);
        Ok(())
    }

    /// Renames or moves a leaf entry (the old RDN value is deleted, as `deleteoldrdn: 1`).
    pub fn rename(&self, dn: &str, new_dn: &str) -> Result<(), DitError> {
        let mut s = lock(&self.state);
        let id = unique_id_at(&s.dit, dn)?;
        let old = s.dit.get(dn).map(|e| e.dn.clone()).unwrap_or_else(|| dn.to_string());
        s.dit.rename(dn, new_dn, true)?;
        push(&mut s, ChangeKind::ModDn, old, Some(new_dn.to_string()), id, Vec::new());
        Ok(())
    }

    /// Deletes a leaf entry.
    pub fn delete(&self, dn: &str) -> Result<(), DitError> {
        let mut s = lock(&self.state);
        let gone = s.dit.delete(dn)?;
        let id = gone.first_text(UNIQUE_ID).unwrap_or_default();
        push(&mut s, ChangeKind::Delete, gone.dn, None, id, Vec::new());
        Ok(())
    }

    /// Who the next changes are made by (`modifiersName`, for loop prevention); `None`: nobody named.
    pub fn set_modifier(&self, dn: Option<&str>) {
        lock(&self.state).modifier = dn.map(str::to_string);
    }

    /// The entry at `dn`, with every attribute.
    pub fn get(&self, dn: &str) -> Option<Entry> {
        lock(&self.state).dit.get(dn).cloned()
    }

    /// The entry whose unique id is `id`, with every attribute.
    pub fn get_by_unique_id(&self, id: &str) -> Option<Entry> {
        let s = lock(&self.state);
        let found =
            s.dit.entries().find(|e| e.first_text(UNIQUE_ID).is_some_and(|u| u.eq_ignore_ascii_case(id))).cloned();
        found
    }

    /// Every entry, with every attribute.
    pub fn entries(&self) -> Vec<Entry> {
        lock(&self.state).dit.entries().cloned().collect()
    }

    /// The change log.
    pub fn log(&self) -> Vec<LoggedChange> {
        lock(&self.state).log.clone()
    }

    /// The newest change number (0: none yet).
    pub fn last_change_number(&self) -> u64 {
        lock(&self.state).log.last().map(|c| c.number).unwrap_or(0)
    }

    fn within_bases(&self, dn: &str) -> bool {
        let Ok(d) = Dn::parse(dn) else { return false };
        self.base_dns.iter().any(|b| Dn::parse(b).is_ok_and(|b| d.is_within(&b)))
    }
}

fn unique_id_at(dit: &Dit, dn: &str) -> Result<String, DitError> {
    dit.get(dn).and_then(|e| e.first_text(UNIQUE_ID)).ok_or_else(|| DitError::NoSuchObject(dn.to_string()))
}

fn push(s: &mut State, kind: ChangeKind, dn: String, new_dn: Option<String>, id: String, changed: Vec<String>) {
    let number = s.log.last().map(|c| c.number).unwrap_or(0) + 1;
    let modifier = s.modifier.clone();
    s.log.push(LoggedChange { number, kind, dn, new_dn, unique_id: id, changed_attributes: changed, modifier });
}

/// The attributes an LDAP source of pipe `mapping` asks for (see [`PipeMapping::source_attributes`]).
pub fn requested_attributes(mapping: &PipeMapping) -> Vec<String> {
    mapping.source_attributes(UNIQUE_ID)
}

/// The source as the engine reads it.
pub struct FakeSource {
    name: String,
    dir: SourceDirectory,
    attributes: Vec<String>,
    faults: FaultPlan,
}

impl FakeSource {
    /// A source named `name` over `dir`, returning `attributes` of each entry as an LDAP server would (`*`:
    /// every user attribute; operational ones only when named), asking `faults` before each call.
    pub fn new(name: &str, dir: SourceDirectory, attributes: Vec<String>, faults: FaultPlan) -> FakeSource {
        FakeSource { name: name.to_string(), dir, attributes, faults }
    }

    /// The entry as returned: only the attributes asked for.
    fn returned(&self, e: &Entry) -> Entry {
        let star = self.attributes.iter().any(|a| a == "*");
        let mut out = e.clone();
        out.retain_values(|name, values| {
            let named = self.attributes.iter().any(|a| a.eq_ignore_ascii_case(name));
            if !(named || (star && !is_operational(name))) {
                values.clear();
            }
        });
        out
    }
}

#[async_trait]
impl EntrySource for FakeSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn fetch(&self, dn: &str) -> EndpointResult<Option<Entry>> {
        self.faults.check(Op::SourceFetch).await?;
        Ok(self.dir.get(dn).filter(|e| self.dir.within_bases(&e.dn)).map(|e| self.returned(&e)))
    }

    async fn fetch_by_unique_id(&self, id: &str) -> EndpointResult<Option<Entry>> {
        self.faults.check(Op::SourceFetch).await?;
        Ok(self.dir.get_by_unique_id(id).filter(|e| self.dir.within_bases(&e.dn)).map(|e| self.returned(&e)))
    }

    fn unique_id(&self, entry: &Entry) -> Option<String> {
        entry.first_text(UNIQUE_ID)
    }

    async fn fetch_many_by_unique_id(&self, ids: &[String]) -> EndpointResult<HashMap<String, Entry>> {
        self.faults.check(Op::SourceFetchMany).await?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(e) = self.dir.get_by_unique_id(id).filter(|e| self.dir.within_bases(&e.dn)) {
                out.insert(id.to_ascii_lowercase(), self.returned(&e));
            }
        }
        Ok(out)
    }

    async fn stream(&self, filter: Option<&str>, tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        self.faults.check(Op::SourceStream).await?;
        let filter = match filter {
            Some(f) => Some(Filter::parse(f).map_err(|e| EndpointError::Rejected(format!("bad filter: {e}")))?),
            None => None,
        };
        for e in self.dir.entries() {
            if !self.dir.within_bases(&e.dn) || filter.as_ref().is_some_and(|f| !f.matches(&e)) {
                continue;
            }
            if tx.send(Ok(self.returned(&e))).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    async fn count(&self, filter: Option<&str>) -> EndpointResult<Option<u64>> {
        let filter = filter.and_then(|f| Filter::parse(f).ok());
        let n = self
            .dir
            .entries()
            .iter()
            .filter(|e| self.dir.within_bases(&e.dn) && filter.as_ref().is_none_or(|f| f.matches(e)))
            .count();
        Ok(Some(n as u64))
    }
}

/// The change log as the engine reads it: start points are change numbers.
pub struct FakeChangeLog {
    dir: SourceDirectory,
    faults: FaultPlan,
}

impl FakeChangeLog {
    pub fn new(dir: SourceDirectory, faults: FaultPlan) -> FakeChangeLog {
        FakeChangeLog { dir, faults }
    }
}

fn number(sp: &StartPoint) -> EndpointResult<u64> {
    sp.as_str()
        .parse()
        .map_err(|_| EndpointError::Config(format!("'{}' is not a start point of this change log", sp.as_str())))
}

#[async_trait]
impl ChangeDetector for FakeChangeLog {
    async fn start_point(&self, request: &StartPointRequest) -> EndpointResult<StartPoint> {
        self.faults.check(Op::StartPoint).await?;
        let n = match request {
            StartPointRequest::EndOfChangelog => self.dir.last_change_number(),
            StartPointRequest::BeginningOfChangelog => 0,
            StartPointRequest::ChangeNumber(n) => n.saturating_sub(1),
            other => return Err(EndpointError::Rejected(format!("this change log cannot start at {other:?}"))),
        };
        Ok(StartPoint(n.to_string()))
    }

    async fn poll(&self, after: &StartPoint, max: usize, _wait: std::time::Duration) -> EndpointResult<Vec<Change>> {
        let short = self.faults.check(Op::Poll).await?;
        let after = number(after)?;
        let max = short.map_or(max, |n| n.min(max));
        let changes = self
            .dir
            .log()
            .into_iter()
            .filter(|c| c.number > after)
            .take(max)
            .map(|c| {
                let mut ch = Change::new(StartPoint(c.number.to_string()), c.number.to_string(), c.kind, c.dn);
                ch.new_dn = c.new_dn;
                ch.unique_id = Some(c.unique_id);
                ch.changed_attributes = c.changed_attributes;
                ch.modifier = c.modifier;
                ch
            })
            .collect();
        Ok(changes)
    }

    async fn unretrieved(&self, after: &StartPoint) -> EndpointResult<Option<u64>> {
        let after = number(after)?;
        Ok(Some(self.dir.last_change_number().saturating_sub(after)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(dn: &str) -> Entry {
        let mut e = Entry::new(dn);
        e.add("objectClass", "inetOrgPerson");
        e.add("cn", "A");
        e.add("createTimestamp", "20260101000000Z");
        e
    }

    #[tokio::test]
    async fn source_returns_what_ldap_returns_and_logs_changes() {
        let dir = SourceDirectory::new("dc=example,dc=com", &["dc=example,dc=com"]);
        dir.seed(person("ou=people,dc=example,dc=com")).unwrap();
        let id = dir.add(person("uid=a,ou=people,dc=example,dc=com")).unwrap();
        dir.modify("uid=a,ou=people,dc=example,dc=com", &[Modification::Replace("sn".into(), vec!["S".into()])])
            .unwrap();
        dir.rename("uid=a,ou=people,dc=example,dc=com", "uid=b,ou=people,dc=example,dc=com").unwrap();
        dir.delete("uid=b,ou=people,dc=example,dc=com").unwrap();

        let faults = FaultPlan::seeded(1);
        let source = FakeSource::new("s", dir.clone(), vec!["*".into(), UNIQUE_ID.into()], faults.clone());
        let e = source.fetch("ou=People,dc=example,dc=com").await.unwrap().unwrap();
        assert!(e.has("cn") && e.has(UNIQUE_ID) && !e.has("createTimestamp"));

        let log = FakeChangeLog::new(dir.clone(), faults.clone());
        let end = log.start_point(&StartPointRequest::EndOfChangelog).await.unwrap();
        assert_eq!(end.as_str(), "4");
        let all = log.poll(&StartPoint("0".into()), 10, Default::default()).await.unwrap();
        let kinds: Vec<_> = all.iter().map(|c| c.kind.clone()).collect();
        assert_eq!(kinds, [ChangeKind::Add, ChangeKind::Modify, ChangeKind::ModDn, ChangeKind::Delete]);
        assert!(all.iter().all(|c| c.unique_id.as_deref() == Some(id.as_str())));
        assert_eq!(all[1].changed_attributes, ["sn"]);
        assert_eq!(all[2].new_dn.as_deref(), Some("uid=b,ou=people,dc=example,dc=com"));
        // A short page, then an unavailable change log.
        faults.nth(Op::Poll, 2, crate::Fault::ShortPage(1)).nth(Op::Poll, 3, crate::Fault::Unavailable);
        assert_eq!(log.poll(&StartPoint("0".into()), 10, Default::default()).await.unwrap().len(), 1);
        assert!(log.poll(&StartPoint("0".into()), 10, Default::default()).await.is_err());
        assert_eq!(log.unretrieved(&StartPoint("1".into())).await.unwrap(), Some(3));
    }
}
