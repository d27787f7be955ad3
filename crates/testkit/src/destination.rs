//! An in-memory directory destination: correlation by attribute lists as an LDAP destination does it,
//! create, modify, rename and delete with a directory's rules, and a record of every write it took, so a
//! test can tell whether a change was applied twice.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferrosync::endpoint::{Correlated, Destination, EndpointError, EndpointResult, Modification};
use ferrosync::entry::Entry;
use ferrosync::mapping::rules::is_operational;
use ferrosync::syntax::{dn_equal, Dn};
use tokio::sync::mpsc;

use crate::dit::{value_key, Dit, DitError};
use crate::faults::{lock, FaultPlan, Op};

/// A write the destination took (`Ok`) or refused (`Err`, with the reason).
#[derive(Clone, Debug, PartialEq)]
pub struct Write {
    pub op: WriteOp,
    pub result: Result<(), String>,
}

/// The kind and target of a write.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    Create(Entry),
    Modify(String, Vec<Modification>),
    Rename(String, String),
    Delete(String),
}

/// The destination (clones share the tree, the record and the faults).
#[derive(Clone)]
pub struct FakeDestination {
    name: String,
    dit: Arc<Mutex<Dit>>,
    base_dns: Vec<String>,
    writes: Arc<Mutex<Vec<Write>>>,
    faults: FaultPlan,
    /// Writes to these DNs (normalized) sleep this long before they are made.
    slow: Arc<Mutex<Vec<(String, std::time::Duration)>>>,
    /// Writes to these DNs (normalized) never return once made: the pipe is killed there (see
    /// [`FakeDestination::hang_after_writes_to`]).
    hang: Arc<Mutex<Vec<String>>>,
}

fn norm(dn: &str) -> String {
    ferrosync::syntax::normalize_dn(dn).unwrap_or_else(|_| dn.to_lowercase())
}

fn to_endpoint(e: DitError) -> EndpointError {
    match e {
        DitError::AlreadyExists(_) => EndpointError::AlreadyExists(e.to_string()),
        DitError::MissingParent(_) => EndpointError::MissingParent(e.to_string()),
        other => EndpointError::Rejected(other.to_string()),
    }
}

impl FakeDestination {
    /// A destination named `name` holding `suffix` (created, empty), below which it serves `base_dns`.
    pub fn new(name: &str, suffix: &str, base_dns: &[&str], faults: FaultPlan) -> FakeDestination {
        let mut dit = Dit::new(&[suffix]);
        let _ = dit.add(Entry::new(suffix));
        FakeDestination {
            name: name.to_string(),
            dit: Arc::new(Mutex::new(dit)),
            base_dns: base_dns.iter().map(|s| s.to_string()).collect(),
            writes: Arc::default(),
            faults,
            slow: Arc::default(),
            hang: Arc::default(),
        }
    }

    /// Adds an entry directly (not recorded as a write of the pipe).
    pub fn seed(&self, entry: Entry) -> Result<(), DitError> {
        lock(&self.dit).add(entry)
    }

    /// The entry at `dn`.
    pub fn get(&self, dn: &str) -> Option<Entry> {
        lock(&self.dit).get(dn).cloned()
    }

    /// Every entry.
    pub fn entries(&self) -> Vec<Entry> {
        lock(&self.dit).entries().cloned().collect()
    }

    /// Writes (create, modify, rename, delete) of the entry at `dn` sleep `by` before they are made: one entry
    /// of a burst is slow, so the order in which the pipe applies the others shows.
    pub fn slow_writes_to(&self, dn: &str, by: std::time::Duration) {
        lock(&self.slow).push((norm(dn), by));
    }

    async fn latency(&self, dn: &str) {
        let d = norm(dn);
        let by = lock(&self.slow).iter().find(|(s, _)| *s == d).map(|(_, by)| *by);
        if let Some(by) = by {
            tokio::time::sleep(by).await;
        }
    }

    /// Writes (create, modify, rename, delete) of the entry at `dn` are made, then never return: the moment
    /// between a destination's write and the pipe's record of it, where a test kills the pipe as `kill -9` would.
    pub fn hang_after_writes_to(&self, dn: &str) {
        lock(&self.hang).push(norm(dn));
    }

    /// Writes return again (see [`FakeDestination::hang_after_writes_to`]).
    pub fn stop_hanging(&self) {
        lock(&self.hang).clear();
    }

    async fn hang_after(&self, dn: &str) {
        let d = norm(dn);
        if lock(&self.hang).contains(&d) {
            std::future::pending::<()>().await;
        }
    }

    /// Every write taken or refused, in order.
    pub fn writes(&self) -> Vec<Write> {
        lock(&self.writes).clone()
    }

    fn within_bases(&self, dn: &str) -> bool {
        let Ok(d) = Dn::parse(dn) else { return false };
        self.base_dns.iter().any(|b| Dn::parse(b).is_ok_and(|b| d.is_within(&b)))
    }

    fn write(&self, op: WriteOp, f: impl FnOnce(&mut Dit) -> Result<(), DitError>) -> EndpointResult<()> {
        let r = f(&mut lock(&self.dit));
        lock(&self.writes).push(Write { op, result: r.clone().map_err(|e| e.to_string()) });
        r.map_err(to_endpoint)
    }

    /// `attrs` of an entry as an LDAP server returns them (empty or `*`: the user attributes).
    fn returned(e: &Entry, attrs: &[String]) -> Entry {
        let star = attrs.is_empty() || attrs.iter().any(|a| a == "*");
        let mut out = e.clone();
        out.retain_values(|name, values| {
            if !(attrs.iter().any(|a| a.eq_ignore_ascii_case(name)) || (star && !is_operational(name))) {
                values.clear();
            }
        });
        out
    }
}

#[async_trait]
impl Destination for FakeDestination {
    fn name(&self) -> &str {
        &self.name
    }

    /// Each list in turn: `dn` names the mapped DN (a base search), the other attributes must each hold the
    /// mapped entry's first value; a list naming an attribute the mapped entry lacks is skipped. The first
    /// list that finds exactly one entry wins; several found by some list and one by none: `Many`.
    async fn correlate(&self, mapped: &Entry, lists: &[Vec<String>], attrs: &[String]) -> EndpointResult<Correlated> {
        self.faults.check(Op::DestCorrelate).await?;
        let dit = lock(&self.dit);
        let mut many = None;
        'lists: for list in lists {
            let by_dn = list.iter().any(|a| a.eq_ignore_ascii_case("dn"));
            let mut wanted = Vec::new();
            for a in list.iter().filter(|a| !a.eq_ignore_ascii_case("dn")) {
                match mapped.values(a).first() {
                    Some(v) => wanted.push((a.clone(), value_key(v))),
                    None => continue 'lists,
                }
            }
            let found: Vec<&Entry> = dit
                .entries()
                .filter(|e| if by_dn { dn_equal(&e.dn, &mapped.dn) } else { self.within_bases(&e.dn) })
                .filter(|e| wanted.iter().all(|(a, k)| e.values(a).iter().any(|v| &value_key(v) == k)))
                .collect();
            match found.len() {
                0 => {}
                1 => return Ok(Correlated::One(Self::returned(found[0], attrs))),
                _ => many = Some(found.iter().map(|e| e.dn.clone()).collect()),
            }
        }
        Ok(many.map(Correlated::Many).unwrap_or(Correlated::None))
    }

    async fn fetch(&self, id: &str, attrs: &[String]) -> EndpointResult<Option<Entry>> {
        self.faults.check(Op::DestFetch).await?;
        Ok(lock(&self.dit).get(id).map(|e| Self::returned(e, attrs)))
    }

    async fn create(&self, entry: &Entry) -> EndpointResult<()> {
        self.faults.check(Op::DestCreate).await?;
        self.latency(&entry.dn).await;
        self.write(WriteOp::Create(entry.clone()), |d| d.add(entry.clone()))?;
        self.hang_after(&entry.dn).await;
        Ok(())
    }

    async fn modify(&self, id: &str, mods: &[Modification]) -> EndpointResult<()> {
        self.faults.check(Op::DestModify).await?;
        self.latency(id).await;
        self.write(WriteOp::Modify(id.to_string(), mods.to_vec()), |d| d.modify(id, mods))?;
        self.hang_after(id).await;
        Ok(())
    }

    /// As the LDAP destination does it: the old RDN values stay (the diff that follows removes them).
    async fn rename(&self, id: &str, new_dn: &str) -> EndpointResult<String> {
        self.faults.check(Op::DestRename).await?;
        self.latency(id).await;
        self.write(WriteOp::Rename(id.to_string(), new_dn.to_string()), |d| d.rename(id, new_dn, false))?;
        self.hang_after(id).await;
        Ok(new_dn.to_string())
    }

    /// A delete of an entry that is not there succeeds, as the LDAP destination makes it.
    async fn delete(&self, id: &str) -> EndpointResult<()> {
        self.faults.check(Op::DestDelete).await?;
        self.latency(id).await;
        self.write(WriteOp::Delete(id.to_string()), |d| match d.delete(id) {
            Ok(_) | Err(DitError::NoSuchObject(_)) => Ok(()),
            Err(e) => Err(e),
        })?;
        self.hang_after(id).await;
        Ok(())
    }

    async fn stream(&self, attrs: &[String], tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        self.faults.check(Op::DestStream).await?;
        let entries: Vec<Entry> = lock(&self.dit).entries().filter(|e| self.within_bases(&e.dn)).cloned().collect();
        for e in entries {
            if tx.send(Ok(Self::returned(&e, attrs))).await.is_err() {
                break;
            }
        }
        Ok(())
    }

    fn replaces_values(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dn: &str, attrs: &[(&str, &str)]) -> Entry {
        let mut e = Entry::new(dn);
        for (a, v) in attrs {
            e.add(a, *v);
        }
        e
    }

    #[tokio::test]
    async fn correlation_and_directory_rules() {
        let faults = FaultPlan::seeded(1);
        let d = FakeDestination::new("d", "dc=example,dc=com", &["dc=example,dc=com"], faults.clone());
        let missing = d.create(&entry("uid=a,ou=people,dc=example,dc=com", &[])).await.unwrap_err();
        assert!(matches!(missing, EndpointError::MissingParent(_)), "{missing:?}");
        d.create(&entry("ou=people,dc=example,dc=com", &[])).await.unwrap();
        d.create(&entry("uid=a,ou=people,dc=example,dc=com", &[("cn", "Same"), ("sn", "A")])).await.unwrap();
        d.create(&entry("uid=b,ou=people,dc=example,dc=com", &[("cn", "same"), ("sn", "B")])).await.unwrap();
        let again = d.create(&entry("UID=A,ou=people,dc=example,dc=com", &[])).await.unwrap_err();
        assert!(matches!(again, EndpointError::AlreadyExists(_)), "{again:?}");

        let mapped = entry("uid=a,ou=people,dc=example,dc=com", &[("cn", "SAME"), ("sn", "b")]);
        let lists = |ls: &[&str]| ls.iter().map(|l| l.split(',').map(str::to_string).collect()).collect::<Vec<_>>();
        let found = d.correlate(&mapped, &lists(&["dn"]), &[]).await.unwrap();
        assert!(matches!(found, Correlated::One(e) if e.dn == "uid=a,ou=people,dc=example,dc=com"));
        assert!(
            matches!(d.correlate(&mapped, &lists(&["cn"]), &[]).await.unwrap(), Correlated::Many(m) if m.len() == 2)
        );
        // The first list that finds exactly one entry wins; a list naming a missing attribute is skipped.
        let found = d.correlate(&mapped, &lists(&["cn", "mail", "cn,sn"]), &[]).await.unwrap();
        assert!(matches!(found, Correlated::One(e) if e.dn == "uid=b,ou=people,dc=example,dc=com"));
        assert_eq!(d.correlate(&mapped, &lists(&["dn,sn"]), &[]).await.unwrap(), Correlated::None);

        let no_such = d.modify("uid=zz,dc=example,dc=com", &[]).await.unwrap_err();
        assert!(matches!(no_such, EndpointError::Rejected(_)));
        d.delete("uid=zz,dc=example,dc=com").await.unwrap();
        faults.nth(Op::DestDelete, 2, crate::Fault::Unavailable);
        assert!(d.delete("uid=b,ou=people,dc=example,dc=com").await.unwrap_err().is_retryable());
        assert_eq!(d.writes().len(), 7);
        assert!(d.replaces_values());
    }
}
