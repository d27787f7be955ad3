//! An in-memory directory information tree with LDAP's rules: entries named by RFC 4514 DNs (compared by
//! normalized form, attribute names without case), a parent must exist below the suffixes, an entry with
//! children can be neither deleted nor renamed, modifications fail as a directory fails them (adding a value
//! that is there, deleting one that is not).

use std::collections::BTreeMap;

use ferrosync::endpoint::Modification;
use ferrosync::entry::{Entry, Value};
use ferrosync::syntax::Dn;

/// Why a directory operation failed (LDAP's result codes).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DitError {
    #[error("invalid DN syntax (34): '{0}'")]
    InvalidDn(String),
    #[error("no such object (32): '{0}'")]
    NoSuchObject(String),
    #[error("no such object (32): the parent of '{0}' does not exist")]
    MissingParent(String),
    #[error("entry already exists (68): '{0}'")]
    AlreadyExists(String),
    #[error("not allowed on non-leaf (66): '{0}' has children")]
    NotAllowedOnNonLeaf(String),
    #[error("attribute or value exists (20): '{attr}: {value}' in '{dn}'")]
    ValueExists { dn: String, attr: String, value: String },
    #[error("no such attribute (16): '{attr}' (value '{value}') in '{dn}'")]
    NoSuchAttribute { dn: String, attr: String, value: String },
}

/// Values compare as caseIgnoreMatch does: trimmed, inner spaces collapsed, without case.
pub fn value_key(v: &Value) -> String {
    v.as_text().split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn parse(dn: &str) -> Result<Dn, DitError> {
    Dn::parse(dn).map_err(|_| DitError::InvalidDn(dn.to_string()))
}

/// The tree: entries by normalized DN.
#[derive(Clone, Debug, Default)]
pub struct Dit {
    suffixes: Vec<Dn>,
    entries: BTreeMap<String, Entry>,
}

impl Dit {
    /// A tree whose naming contexts are `suffixes` (entries directly below nothing may be added only there).
    pub fn new(suffixes: &[&str]) -> Dit {
        Dit { suffixes: suffixes.iter().filter_map(|s| Dn::parse(s).ok()).collect(), entries: BTreeMap::new() }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry at `dn`.
    pub fn get(&self, dn: &str) -> Option<&Entry> {
        let dn = Dn::parse(dn).ok()?;
        self.entries.get(&dn.normalized())
    }

    /// Every entry, in normalized-DN order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    fn parent_exists(&self, dn: &Dn) -> bool {
        if self.suffixes.iter().any(|s| s == dn) {
            return true;
        }
        match dn.parent() {
            Some(p) => self.entries.contains_key(&p.normalized()),
            None => false,
        }
    }

    fn has_children(&self, dn: &Dn) -> bool {
        self.entries.values().any(|e| Dn::parse(&e.dn).is_ok_and(|d| d.parent().as_ref() == Some(dn)))
    }

    /// Adds an entry; the RDN values join the attributes when missing, as a directory requires.
    pub fn add(&mut self, entry: Entry) -> Result<(), DitError> {
        let dn = parse(&entry.dn)?;
        let key = dn.normalized();
        if self.entries.contains_key(&key) {
            return Err(DitError::AlreadyExists(entry.dn));
        }
        if !self.parent_exists(&dn) {
            return Err(DitError::MissingParent(entry.dn));
        }
        let mut entry = entry;
        add_rdn_values(&mut entry, &dn);
        self.entries.insert(key, entry);
        Ok(())
    }

    /// Applies modifications, all or nothing.
    pub fn modify(&mut self, dn: &str, mods: &[Modification]) -> Result<(), DitError> {
        let key = parse(dn)?.normalized();
        let Some(current) = self.entries.get(&key) else {
            return Err(DitError::NoSuchObject(dn.to_string()));
        };
        let mut e = current.clone();
        for m in mods {
            match m {
                Modification::Add(a, vals) => {
                    let mut have = e.values(a).to_vec();
                    for v in vals {
                        if have.iter().any(|h| value_key(h) == value_key(v)) {
                            return Err(DitError::ValueExists {
                                dn: dn.to_string(),
                                attr: a.clone(),
                                value: v.as_text().into_owned(),
                            });
                        }
                        have.push(v.clone());
                    }
                    e.set(a, have);
                }
                Modification::Delete(a, vals) if vals.is_empty() => {
                    if !e.has(a) {
                        return Err(DitError::NoSuchAttribute {
                            dn: dn.to_string(),
                            attr: a.clone(),
                            value: String::new(),
                        });
                    }
                    e.set(a, Vec::new());
                }
                Modification::Delete(a, vals) => {
                    let mut have = e.values(a).to_vec();
                    for v in vals {
                        let before = have.len();
                        have.retain(|h| value_key(h) != value_key(v));
                        if have.len() == before {
                            return Err(DitError::NoSuchAttribute {
                                dn: dn.to_string(),
                                attr: a.clone(),
                                value: v.as_text().into_owned(),
                            });
                        }
                    }
                    e.set(a, have);
                }
                Modification::Replace(a, vals) => e.set(a, vals.clone()),
            }
        }
        self.entries.insert(key, e);
        Ok(())
    }

    /// Renames or moves a leaf entry. The new RDN's values are added; the old RDN's values are removed when
    /// `delete_old_rdn`.
    pub fn rename(&mut self, dn: &str, new_dn: &str, delete_old_rdn: bool) -> Result<(), DitError> {
        let old = parse(dn)?;
        let new = parse(new_dn)?;
        let old_key = old.normalized();
        if !self.entries.contains_key(&old_key) {
            return Err(DitError::NoSuchObject(dn.to_string()));
        }
        if old == new {
            return Ok(());
        }
        if self.entries.contains_key(&new.normalized()) {
            return Err(DitError::AlreadyExists(new_dn.to_string()));
        }
        if !self.parent_exists(&new) {
            return Err(DitError::MissingParent(new_dn.to_string()));
        }
        if self.has_children(&old) {
            return Err(DitError::NotAllowedOnNonLeaf(dn.to_string()));
        }
        let Some(mut e) = self.entries.remove(&old_key) else {
            return Err(DitError::NoSuchObject(dn.to_string()));
        };
        if delete_old_rdn {
            if let Some(rdn) = old.rdn() {
                for ava in rdn.avas() {
                    let new_has = new.rdn().is_some_and(|r| {
                        r.avas().iter().any(|n| {
                            n.attr_type().eq_ignore_ascii_case(ava.attr_type())
                                && value_key(&Value::from(n.value())) == value_key(&Value::from(ava.value()))
                        })
                    });
                    if !new_has {
                        let key = value_key(&Value::from(ava.value()));
                        let kept: Vec<Value> =
                            e.values(ava.attr_type()).iter().filter(|v| value_key(v) != key).cloned().collect();
                        e.set(ava.attr_type(), kept);
                    }
                }
            }
        }
        e.dn = new_dn.to_string();
        add_rdn_values(&mut e, &new);
        self.entries.insert(new.normalized(), e);
        Ok(())
    }

    /// Deletes a leaf entry.
    pub fn delete(&mut self, dn: &str) -> Result<Entry, DitError> {
        let d = parse(dn)?;
        let key = d.normalized();
        if !self.entries.contains_key(&key) {
            return Err(DitError::NoSuchObject(dn.to_string()));
        }
        if self.has_children(&d) {
            return Err(DitError::NotAllowedOnNonLeaf(dn.to_string()));
        }
        self.entries.remove(&key).ok_or_else(|| DitError::NoSuchObject(dn.to_string()))
    }
}

fn add_rdn_values(entry: &mut Entry, dn: &Dn) {
    let Some(rdn) = dn.rdn() else { return };
    for ava in rdn.avas() {
        let v = Value::from(ava.value());
        if !entry.values(ava.attr_type()).iter().any(|h| value_key(h) == value_key(&v)) {
            entry.add(ava.attr_type(), v);
        }
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

    #[test]
    fn directory_rules() {
        let mut dit = Dit::new(&["dc=example,dc=com"]);
        dit.add(entry("dc=example,dc=com", &[])).unwrap();
        assert_eq!(
            dit.add(entry("uid=a,ou=people,dc=example,dc=com", &[])),
            Err(DitError::MissingParent("uid=a,ou=people,dc=example,dc=com".into()))
        );
        dit.add(entry("ou=People,dc=example,dc=com", &[])).unwrap();
        dit.add(entry("uid=a,ou=people,dc=example,dc=com", &[("cn", "A")])).unwrap();
        // DNs compare normalized; attribute names without case; the RDN value joined the entry.
        let e = dit.get("UID=A, OU=PEOPLE,DC=Example,DC=COM").unwrap();
        assert_eq!(e.texts("UID"), ["a"]);
        assert!(matches!(dit.add(entry("UID=a,ou=people,dc=example,dc=com", &[])), Err(DitError::AlreadyExists(_))));
        assert!(matches!(dit.delete("ou=people,dc=example,dc=com"), Err(DitError::NotAllowedOnNonLeaf(_))));
        // Modifications fail as a directory fails them, all or nothing.
        let add_cn = Modification::Add("CN".into(), vec![Value::from("a")]);
        let add_sn = Modification::Add("sn".into(), vec![Value::from("x")]);
        assert!(matches!(
            dit.modify("uid=a,ou=people,dc=example,dc=com", &[add_sn.clone(), add_cn]),
            Err(DitError::ValueExists { .. })
        ));
        assert!(!dit.get("uid=a,ou=people,dc=example,dc=com").unwrap().has("sn"));
        let del = Modification::Delete("sn".into(), vec![Value::from("y")]);
        assert!(matches!(
            dit.modify("uid=a,ou=people,dc=example,dc=com", &[add_sn, del]),
            Err(DitError::NoSuchAttribute { .. })
        ));
        // Renames keep or drop the old RDN value.
        dit.rename("uid=a,ou=people,dc=example,dc=com", "uid=b,ou=people,dc=example,dc=com", false).unwrap();
        assert_eq!(dit.get("uid=b,ou=people,dc=example,dc=com").unwrap().texts("uid"), ["a", "b"]);
        dit.rename("uid=b,ou=people,dc=example,dc=com", "uid=c,dc=example,dc=com", true).unwrap();
        assert_eq!(dit.get("uid=c,dc=example,dc=com").unwrap().texts("uid"), ["a", "c"]);
        assert!(matches!(
            dit.rename("uid=c,dc=example,dc=com", "uid=c,ou=nowhere,dc=example,dc=com", true),
            Err(DitError::MissingParent(_))
        ));
        assert!(matches!(dit.delete("uid=zz,dc=example,dc=com"), Err(DitError::NoSuchObject(_))));
        dit.delete("uid=c,dc=example,dc=com").unwrap();
        assert_eq!(dit.len(), 2);
    }
}
