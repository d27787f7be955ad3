//! What the destination holds of an entry, as a digest kept in the id map: one hash per destination attribute
//! the class compares. With it, a real-time change to an entry synchronized before needs no read of the
//! destination entry: the attributes whose mapped values hash differently from what was last written are
//! replaced, and an entry whose hashes all match needs no change at all (so the echo of a change in a two-way
//! setup stops there, as it does after a read).
//!
//! The digest assumes that the pipe is the only writer of the attributes it maps, as a change log does: a value
//! changed at the destination by someone else is repaired by the next change of that attribute at the source,
//! or by resync. Passwords are never hashed into a digest: an entry whose mapped entry carries one is compared by
//! reading the destination, as before.

use std::collections::BTreeMap;
use std::fmt;

use xxhash_rust::xxh3::Xxh3;

use super::rules::{base_name, dedupe};
use super::{ClassMapping, DiffScope};
use crate::endpoint::Modification;
use crate::entry::{Entry, Value};
use crate::syntax::Dn;

/// The version prefix of the stored form; a digest of another version is ignored (the destination is read).
const VERSION: &str = "d1";

/// More values than this in one changed attribute are not replaced blindly: the smallest change (value adds
/// and deletes, after a read) is cheaper for large groups.
const MAX_BLIND_VALUES: usize = 64;

/// One hash per destination attribute (lower-case name, options included).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digest(BTreeMap<String, u64>);

impl fmt::Display for Digest {
    /// `d1 cn:0123456789abcdef sn:...`, the form stored in the id map.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(VERSION)?;
        for (name, hash) in &self.0 {
            write!(f, " {name}:{hash:016x}")?;
        }
        Ok(())
    }
}

impl Digest {
    /// Reads the stored form; `None` when it is not one (another version, or damaged).
    pub fn parse(s: &str) -> Option<Digest> {
        let mut parts = s.split(' ');
        if parts.next()? != VERSION {
            return None;
        }
        let mut map = BTreeMap::new();
        for part in parts {
            let (name, hash) = part.rsplit_once(':')?;
            if name.is_empty() || hash.len() != 16 {
                return None;
            }
            map.insert(name.to_string(), u64::from_str_radix(hash, 16).ok()?);
        }
        Some(Digest(map))
    }

    /// The attributes whose hashes differ between `self` and `other` (present in only one, or hashed
    /// differently), lower-case.
    pub fn changed<'a>(&'a self, other: &'a Digest) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for (name, hash) in &self.0 {
            if other.0.get(name) != Some(hash) {
                out.push(name);
            }
        }
        for name in other.0.keys() {
            if !self.0.contains_key(name) {
                out.push(name);
            }
        }
        out
    }
}

impl ClassMapping {
    /// The digest of what `entry` holds of the attributes this class compares, given the `mapped` entry
    /// (which decides, as in [`ClassMapping::diff`], whether an attribute absent from it is compared). `None`
    /// when `entry` holds a password: those are compared by reading the destination.
    ///
    /// For the digest of a destination entry after a write, `entry` is the destination entry as written; for
    /// the digest the destination should hold, `entry` is `mapped` itself.
    pub fn digest(&self, entry: &Entry, mapped: &Entry) -> Option<Digest> {
        let all = DiffScope::all();
        let mut map = BTreeMap::new();
        for attr in entry.attributes() {
            if !self.in_diff_scope(&attr.name, mapped.has(&attr.name), &all) {
                continue;
            }
            if crate::synclog::is_secret(base_name(&attr.name)) {
                return None;
            }
            let rule = self.matching_rule(&attr.name);
            let mut keys: Vec<Vec<u8>> = attr.values.iter().map(|v| rule.key(v)).collect();
            keys.sort_unstable();
            keys.dedup();
            let mut h = Xxh3::new();
            for k in &keys {
                h.update(&(k.len() as u64).to_le_bytes());
                h.update(k);
            }
            map.insert(attr.name.to_ascii_lowercase(), h.digest());
        }
        Some(Digest(map))
    }

    /// The modifications that make a destination entry whose digest is `old` hold `mapped` (whose digest is
    /// `new`), without reading it: a Replace of each attribute whose hash changed (an empty Replace deletes an
    /// attribute the class manages that `mapped` no longer has). Empty when nothing changed.
    ///
    /// `None` when that cannot be done blindly: a changed objectClass or RDN attribute (the diff after a read
    /// keeps RDN values and the structural class), or a changed attribute with many values (value adds and
    /// deletes are smaller).
    pub fn blind_modifications(&self, mapped: &Entry, old: &Digest, new: &Digest) -> Option<Vec<Modification>> {
        let rdn: Vec<String> = Dn::parse(&mapped.dn)
            .ok()
            .and_then(|d| d.rdn().map(|r| r.avas().iter().map(|a| a.attr_type().to_ascii_lowercase()).collect()))
            .unwrap_or_default();
        let all = DiffScope::all();
        let mut mods = Vec::new();
        for name in old.changed(new) {
            if name == "objectclass" || rdn.iter().any(|r| r == name) {
                return None;
            }
            match mapped.get(name) {
                Some(attr) => {
                    let values: Vec<Value> = dedupe(self.matching_rule(name), attr.values.clone());
                    if values.len() > MAX_BLIND_VALUES {
                        return None;
                    }
                    mods.push(Modification::Replace(attr.name.clone(), values));
                }
                None if self.in_diff_scope(name, false, &all) => {
                    mods.push(Modification::Replace(name.to_string(), Vec::new()))
                }
                None => {}
            }
        }
        Some(mods)
    }
}

/// `entry` after `mods`, compared by `rule_of` (what the destination holds after a modify that succeeded).
pub fn apply_modifications(entry: &mut Entry, mods: &[Modification], rule_of: impl Fn(&str) -> super::MatchingRule) {
    for m in mods {
        match m {
            Modification::Replace(a, values) => entry.set(a, values.clone()),
            Modification::Add(a, values) => {
                let mut all = entry.values(a).to_vec();
                all.extend(values.iter().cloned());
                entry.set(a, dedupe(rule_of(a), all));
            }
            Modification::Delete(a, values) if values.is_empty() => entry.set(a, Vec::new()),
            Modification::Delete(a, values) => {
                let rule = rule_of(a);
                let gone: Vec<Vec<u8>> = values.iter().map(|v| rule.key(v)).collect();
                let kept: Vec<Value> =
                    entry.values(a).iter().filter(|v| !gone.contains(&rule.key(v))).cloned().collect();
                entry.set(a, kept);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{entry, pipe};
    use super::{apply_modifications, Digest};
    use crate::endpoint::Modification::{Add, Delete, Replace};
    use crate::entry::Value;

    const CLASSES: &str = r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name displayName --type constructed \
    --set "value-pattern:{givenName} {sn}"
dsconfig create-sync-class --pipe-name p --class-name all --set attribute-map:m \
    --set destination-create-only-attribute:employeeNumber
"#;

    fn v(values: &[&str]) -> Vec<Value> {
        values.iter().map(|s| Value::Text(s.to_string())).collect()
    }

    #[test]
    fn stored_form_round_trips_and_other_versions_are_ignored() {
        let m = pipe(CLASSES);
        let c = m.class("all").unwrap();
        let e = entry("uid=bob,o=example", &[("uid", "bob"), ("cn", "Bob"), ("mail", "b@x")]);
        let d = c.digest(&e, &e).unwrap();
        let text = d.to_string();
        assert!(text.starts_with("d1 cn:"), "{text}");
        assert_eq!(Digest::parse(&text), Some(d));
        assert_eq!(Digest::parse("d0 cn:0123456789abcdef"), None);
        assert_eq!(Digest::parse("d1 cn:12"), None);
        assert_eq!(Digest::parse("d1"), Some(Digest::default()));
    }

    #[test]
    fn values_compare_by_matching_rule_and_order_does_not_matter() {
        let m = pipe(CLASSES);
        let c = m.class("all").unwrap();
        let a = entry("uid=bob,o=example", &[("cn", "Bob  Smith"), ("mail", "a@x"), ("mail", "b@x")]);
        let b = entry("uid=bob,o=example", &[("CN", "bob smith"), ("mail", "B@X"), ("mail", "a@x")]);
        assert_eq!(c.digest(&a, &a), c.digest(&b, &b));
        let other = entry("uid=bob,o=example", &[("cn", "Bob Smyth"), ("mail", "a@x"), ("mail", "b@x")]);
        assert_ne!(c.digest(&a, &a), c.digest(&other, &other));
    }

    #[test]
    fn create_only_attributes_and_passwords() {
        let m = pipe(CLASSES);
        let c = m.class("all").unwrap();
        let a = entry("uid=bob,o=example", &[("cn", "Bob"), ("employeeNumber", "1")]);
        let b = entry("uid=bob,o=example", &[("cn", "Bob"), ("employeeNumber", "2")]);
        assert_eq!(c.digest(&a, &a), c.digest(&b, &b));
        let p = entry("uid=bob,o=example", &[("cn", "Bob"), ("userPassword", "secret")]);
        assert_eq!(c.digest(&p, &p), None);
    }

    #[test]
    fn only_changed_attributes_are_replaced() {
        let m = pipe(CLASSES);
        let c = m.class("all").unwrap();
        let before = entry(
            "uid=bob,o=example",
            &[("uid", "bob"), ("cn", "Bob"), ("givenName", "Bob"), ("sn", "S"), ("description", "old")],
        );
        let before = m.class("all").unwrap().map_entry(&before).unwrap();
        let after = entry("uid=bob,o=example", &[("uid", "bob"), ("cn", "Bob"), ("givenName", "Bob"), ("sn", "T")]);
        let after = c.map_entry(&after).unwrap();
        let old = c.digest(&before, &before).unwrap();
        let new = c.digest(&after, &after).unwrap();
        let mods = c.blind_modifications(&after, &old, &new).unwrap();
        assert_eq!(
            mods,
            [
                Replace("description".into(), vec![]),
                Replace("displayName".into(), v(&["Bob T"])),
                Replace("sn".into(), v(&["T"])),
            ]
        );
        assert_eq!(c.blind_modifications(&after, &new, &new).unwrap(), []);
    }

    #[test]
    fn rdn_and_object_class_changes_need_a_read() {
        let m = pipe(CLASSES);
        let c = m.class("all").unwrap();
        let a = entry("uid=bob,o=example", &[("uid", "bob"), ("objectClass", "person")]);
        let b = entry("uid=bob,o=example", &[("uid", "bob"), ("uid", "robert"), ("objectClass", "person")]);
        let d = entry("uid=bob,o=example", &[("uid", "bob"), ("objectClass", "inetOrgPerson")]);
        let (da, db, dd) = (c.digest(&a, &a).unwrap(), c.digest(&b, &b).unwrap(), c.digest(&d, &d).unwrap());
        assert_eq!(c.blind_modifications(&b, &da, &db), None);
        assert_eq!(c.blind_modifications(&d, &da, &dd), None);
    }

    #[test]
    fn many_values_need_a_read() {
        let m = pipe(CLASSES);
        let c = m.class("all").unwrap();
        let a = entry("cn=g,o=example", &[("cn", "g")]);
        let members: Vec<(String, String)> = (0..100).map(|i| ("description".into(), format!("m{i}"))).collect();
        let refs: Vec<(&str, &str)> = members.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let mut attrs = vec![("cn", "g")];
        attrs.extend(refs);
        let b = entry("cn=g,o=example", &attrs);
        assert_eq!(c.blind_modifications(&b, &c.digest(&a, &a).unwrap(), &c.digest(&b, &b).unwrap()), None);
    }

    #[test]
    fn modifications_apply_in_memory() {
        let m = pipe(CLASSES);
        let c = m.class("all").unwrap();
        let mut e = entry("uid=bob,o=example", &[("mail", "a@x"), ("mail", "b@x"), ("sn", "S"), ("l", "x")]);
        apply_modifications(
            &mut e,
            &[
                Delete("mail".into(), v(&["B@X"])),
                Add("mail".into(), v(&["c@x", "a@x"])),
                Replace("sn".into(), v(&["T"])),
                Delete("l".into(), vec![]),
            ],
            |a| c.matching_rule(a),
        );
        assert_eq!(e.texts("mail"), ["a@x", "c@x"]);
        assert_eq!(e.texts("sn"), ["T"]);
        assert!(!e.has("l"));
    }
}
