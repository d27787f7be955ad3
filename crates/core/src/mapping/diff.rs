//! The smallest modify that turns the destination entry into the mapped one.

use std::collections::{BTreeMap, HashSet};

use super::rules::{base_name, dedupe, is_operational};
use super::ClassMapping;
use crate::endpoint::Modification;
use crate::entry::{Entry, Value};
use crate::syntax::Dn;

/// Which attributes a diff may touch, beyond what the class configuration says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffScope {
    /// Destination attributes never modified (resync's `--excludeDestinationAttr`); any case.
    pub exclude: Vec<String>,
    /// When set (a real-time change that names the source attributes it changed), only the destination
    /// attributes derived from these source attributes are compared: the same attribute when auto-mapped,
    /// and the attributes of the mappings that read one of them (from attributes, pattern and condition
    /// attributes, DN-map attributes, `also-depends-on-src-attribute`). Mappings with `sync-on-every-update`
    /// are always compared.
    pub only: Option<Vec<String>>,
}

impl DiffScope {
    /// Every attribute the class manages.
    pub fn all() -> DiffScope {
        DiffScope::default()
    }

    /// Only the attributes derived from the changed source attributes `changed`.
    pub fn only(changed: impl IntoIterator<Item = impl Into<String>>) -> DiffScope {
        DiffScope { exclude: Vec::new(), only: Some(changed.into_iter().map(Into::into).collect()) }
    }
}

/// Whether `list` names `attr` (any case; `cn` also names `cn;lang-en`).
fn listed(list: &[String], attr: &str) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(attr) || a.eq_ignore_ascii_case(base_name(attr)))
}

/// Whether two names are the same attribute, options ignored (a change of `cn;lang-en` is a change of `cn`).
fn same_base(a: &str, b: &str) -> bool {
    base_name(a).eq_ignore_ascii_case(base_name(b))
}

impl ClassMapping {
    /// The smallest list of modifications turning `existing` (the destination entry) into `mapped` (from
    /// [`ClassMapping::map_entry`]), in attribute-name order; empty when nothing differs.
    ///
    /// Values compare with the attribute's [matching rule](ClassMapping::matching_rule). Per attribute:
    /// with `replace-all-attr-values` one Replace; else Add when the destination has no value, Replace when
    /// every destination value goes, otherwise Delete of the removed values then Add of the new ones.
    ///
    /// Compared are the attributes of `mapped`, and the attributes only the destination has when the class
    /// manages them (see [`ClassMapping::manages`]; they are deleted). Never touched: `scope.exclude`,
    /// `destination-create-only-attribute`s, operational attributes the class does not map explicitly, and
    /// attributes outside `scope.only`. The attributes of the destination entry's RDN are never deleted: the
    /// existing RDN values are kept (a rename is a separate operation).
    pub fn diff(&self, mapped: &Entry, existing: &Entry, scope: &DiffScope) -> Vec<Modification> {
        let rdn = Dn::parse(&existing.dn).ok().and_then(|d| d.rdn().cloned());
        let rdn_values = |attr: &str| -> Vec<Value> {
            rdn.iter()
                .flat_map(|r| r.avas())
                .filter(|a| !a.is_ber() && a.attr_type().eq_ignore_ascii_case(attr))
                .map(|a| Value::Text(a.value().to_string()))
                .collect()
        };

        // Every attribute of either entry, by lower-case name; the mapped spelling wins.
        let mut names: BTreeMap<String, &str> = BTreeMap::new();
        for n in existing.attribute_names().chain(mapped.attribute_names()) {
            names.insert(n.to_ascii_lowercase(), n);
        }
        let mut mods = Vec::new();
        for name in names.into_values() {
            let in_mapped = mapped.has(name);
            if !self.in_diff_scope(name, in_mapped, scope) {
                continue;
            }
            let rule = self.matching_rule(name);
            let old = existing.values(name);
            let mut new = dedupe(rule, mapped.values(name).to_vec());
            let rdn_vals = rdn_values(name);
            if !rdn_vals.is_empty() {
                if !in_mapped {
                    // Deleting the attribute would delete the RDN value.
                    continue;
                }
                for v in rdn_vals {
                    let key = rule.key(&v);
                    if !new.iter().any(|n| rule.key(n) == key) {
                        // Keep the stored form of the RDN value.
                        let stored = old.iter().find(|o| rule.key(o) == key).cloned().unwrap_or(v);
                        new.push(stored);
                    }
                }
            }

            // A JSON attribute's destination values compare by the fields that count (the mapped ones have
            // only those already).
            let json = self.json_attribute(name).is_some();
            let old_key = |v: &Value| if json { rule.key(&self.json_fields_that_count(name, v)) } else { rule.key(v) };
            let old_keys: HashSet<Vec<u8>> = old.iter().map(old_key).collect();
            let new_keys: HashSet<Vec<u8>> = new.iter().map(|v| rule.key(v)).collect();
            let removed: Vec<Value> = old.iter().filter(|v| !new_keys.contains(&old_key(v))).cloned().collect();
            let added: Vec<Value> = new.iter().filter(|v| !old_keys.contains(&rule.key(v))).cloned().collect();
            if removed.is_empty() && added.is_empty() {
                continue;
            }
            let attr = name.to_string();
            if self.replace_all {
                mods.push(Modification::Replace(attr, new));
            } else if old.is_empty() {
                mods.push(Modification::Add(attr, new));
            } else if new.is_empty() {
                mods.push(Modification::Delete(attr, Vec::new()));
            } else if removed.len() == old.len() {
                mods.push(Modification::Replace(attr, new));
            } else {
                if !removed.is_empty() {
                    mods.push(Modification::Delete(attr.clone(), removed));
                }
                if !added.is_empty() {
                    mods.push(Modification::Add(attr, added));
                }
            }
        }
        mods
    }

    /// Whether destination attribute `attr` takes part in a diff.
    pub(super) fn in_diff_scope(&self, attr: &str, in_mapped: bool, scope: &DiffScope) -> bool {
        if listed(&scope.exclude, attr) || listed(&self.create_only, attr) {
            return false;
        }
        if is_operational(attr) && !self.explicitly_managed(attr) {
            return false;
        }
        if !in_mapped && !self.manages(attr) {
            return false;
        }
        match &scope.only {
            Some(changed) => self.derived_from(attr, changed),
            None => true,
        }
    }

    /// Whether destination attribute `attr` depends on one of the source attributes `changed`.
    pub fn derived_from(&self, attr: &str, changed: &[String]) -> bool {
        match self.mapping_for(attr) {
            Some(m) => m.sync_on_every_update || m.sources.iter().any(|s| changed.iter().any(|c| same_base(c, s))),
            None => self.auto_maps(attr) && changed.iter().any(|c| same_base(c, attr)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{entry, pipe};
    use super::super::PipeMapping;
    use super::DiffScope;
    use crate::endpoint::Modification::{self, Add, Delete, Replace};
    use crate::entry::Value;

    fn v(values: &[&str]) -> Vec<Value> {
        values.iter().map(|s| Value::Text(s.to_string())).collect()
    }

    const CLASSES: &str = r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name mail --type constructed \
    --set "value-pattern:{givenName}.{sn}@example.com"
dsconfig create-attribute-mapping --map-name m --mapping-name displayName --type constructed \
    --set "value-pattern:{cn}" --set also-depends-on-src-attribute:title
dsconfig create-attribute-mapping --map-name m --mapping-name modifyTrace --type constructed \
    --set "value-pattern:synced" --set sync-on-every-update:true
dsconfig create-attribute-mapping --map-name m --mapping-name manager --type dn --set from-attribute:boss
dsconfig create-sync-class --pipe-name p --class-name all --set attribute-map:m \
    --set destination-create-only-attribute:employeeNumber --set evaluation-order-index:1
dsconfig create-sync-class --pipe-name p --class-name replace --set replace-all-attr-values:true \
    --set evaluation-order-index:2
dsconfig create-sync-class --pipe-name p --class-name none --set attribute-map:m \
    --set auto-mapped-source-attribute:-none- --set evaluation-order-index:3
dsconfig create-sync-class --pipe-name p --class-name list --set auto-mapped-source-attribute:cn \
    --set auto-mapped-source-attribute:description --set evaluation-order-index:4
"#;

    fn diff(m: &PipeMapping, class: &str, mapped: &[(&str, &str)], existing: &[(&str, &str)]) -> Vec<Modification> {
        diff_scoped(m, class, mapped, existing, &DiffScope::all())
    }

    fn diff_scoped(
        m: &PipeMapping,
        class: &str,
        mapped: &[(&str, &str)],
        existing: &[(&str, &str)],
        scope: &DiffScope,
    ) -> Vec<Modification> {
        let mapped = entry("uid=bob,ou=people,o=example", mapped);
        let existing = entry("uid=bob,ou=people,o=example", existing);
        m.class(class).unwrap().diff(&mapped, &existing, scope)
    }

    #[test]
    fn json_attributes_compare_and_write_only_the_fields_that_count() {
        let m = pipe(
            r#"
dsconfig create-sync-class --pipe-name p --class-name c
dsconfig create-json-attribute --pipe-name p --class-name c --attribute-name profile \
    --set exclude-field:lastLogin --set exclude-field:etag
dsconfig create-json-attribute --pipe-name p --class-name c --attribute-name prefs \
    --set include-field:theme
"#,
        );
        let class = m.class("c").unwrap();
        let source = entry(
            "uid=bob,ou=people,dc=example,dc=com",
            &[
                ("uid", "bob"),
                ("profile", r#"{"title":"Dr","lastLogin":"2026-01-01","etag":"7"}"#),
                ("prefs", r#"{"theme":"dark","tz":"UTC"}"#),
                ("other", r#"{"lastLogin":"kept"}"#),
            ],
        );
        let mapped = class.map_entry(&source).unwrap();
        let json = |a: &str| serde_json::from_str::<serde_json::Value>(&mapped.values(a)[0].as_text()).unwrap();
        assert_eq!(json("profile"), serde_json::json!({"title": "Dr"}), "excluded fields are not written");
        assert_eq!(json("prefs"), serde_json::json!({"theme": "dark"}), "only included fields are written");
        assert_eq!(json("other"), serde_json::json!({"lastLogin": "kept"}), "no json-attribute: as it is");
        // The destination's excluded and not-included fields do not make a difference...
        let existing = entry(
            "uid=bob,ou=people,dc=example,dc=com",
            &[
                ("uid", "bob"),
                ("profile", r#"{"title":"Dr","lastLogin":"2025-12-31"}"#),
                ("prefs", r#"{"theme":"dark","tz":"CET"}"#),
                ("other", r#"{"lastLogin":"kept"}"#),
            ],
        );
        assert_eq!(class.diff(&mapped, &existing, &DiffScope::all()), vec![]);
        // ...but a field that counts does.
        let mut changed = existing.clone();
        changed.set("prefs", v(&[r#"{"theme":"light","tz":"CET"}"#]));
        assert_eq!(
            class.diff(&mapped, &changed, &DiffScope::all()),
            vec![Replace("prefs".into(), v(&[r#"{"theme":"dark"}"#]))]
        );
        // A field both included and excluded is refused.
        let err = super::super::testutil::pipe_error(
            r#"
dsconfig create-sync-class --pipe-name p --class-name c
dsconfig create-json-attribute --pipe-name p --class-name c --attribute-name profile \
    --set include-field:a --set exclude-field:A
"#,
        );
        assert!(err.to_string().contains("both an include-field and an exclude-field"), "{err}");
    }

    #[test]
    fn identical_entries_need_no_change() {
        let m = pipe(CLASSES);
        let attrs = [("uid", "bob"), ("cn", "Bob"), ("objectClass", "top"), ("objectClass", "person")];
        assert!(diff(&m, "all", &attrs, &attrs).is_empty());
    }

    #[test]
    fn add_attribute_and_values() {
        let m = pipe(CLASSES);
        let mods = diff(
            &m,
            "all",
            &[("uid", "bob"), ("cn", "Bob"), ("mail", "a@x"), ("mail", "b@x"), ("telephoneNumber", "1")],
            &[("uid", "bob"), ("cn", "Bob"), ("mail", "a@x")],
        );
        assert_eq!(mods, [Add("mail".into(), v(&["b@x"])), Add("telephoneNumber".into(), v(&["1"]))]);
    }

    #[test]
    fn delete_some_values_then_add() {
        let m = pipe(CLASSES);
        let mods = diff(
            &m,
            "all",
            &[("uid", "bob"), ("mail", "a@x"), ("mail", "c@x")],
            &[("uid", "bob"), ("mail", "a@x"), ("mail", "b@x")],
        );
        assert_eq!(mods, [Delete("mail".into(), v(&["b@x"])), Add("mail".into(), v(&["c@x"]))]);
        let mods =
            diff(&m, "all", &[("uid", "bob"), ("mail", "a@x")], &[("uid", "bob"), ("mail", "a@x"), ("mail", "b@x")]);
        assert_eq!(mods, [Delete("mail".into(), v(&["b@x"]))]);
    }

    #[test]
    fn replace_when_every_value_changes() {
        let m = pipe(CLASSES);
        let mods = diff(&m, "all", &[("uid", "bob"), ("sn", "Smith-Jones")], &[("uid", "bob"), ("sn", "Smith")]);
        assert_eq!(mods, [Replace("sn".into(), v(&["Smith-Jones"]))]);
    }

    #[test]
    fn replace_all_attr_values() {
        let m = pipe(CLASSES);
        let mods = diff(
            &m,
            "replace",
            &[("uid", "bob"), ("mail", "a@x"), ("mail", "c@x"), ("cn", "Bob")],
            &[("uid", "bob"), ("mail", "a@x"), ("mail", "b@x"), ("cn", "bob")],
        );
        assert_eq!(mods, [Replace("mail".into(), v(&["a@x", "c@x"]))]);
        // A new attribute is a Replace too.
        let mods = diff(&m, "replace", &[("uid", "bob"), ("l", "Paris")], &[("uid", "bob")]);
        assert_eq!(mods, [Replace("l".into(), v(&["Paris"]))]);
    }

    #[test]
    fn case_and_space_differences_are_no_change() {
        let m = pipe(CLASSES);
        let mods = diff(
            &m,
            "all",
            &[("uid", "bob"), ("cn", "Bob  Smith"), ("objectClass", "inetOrgPerson")],
            &[("uid", "BOB"), ("CN", " bob smith"), ("objectclass", "INETORGPERSON")],
        );
        assert!(mods.is_empty(), "{mods:?}");
    }

    #[test]
    fn passwords_compare_exactly() {
        let m = pipe(CLASSES);
        let mods = diff(
            &m,
            "all",
            &[("uid", "bob"), ("userPassword", "Secret")],
            &[("uid", "bob"), ("userPassword", "secret")],
        );
        assert_eq!(mods, [Replace("userPassword".into(), v(&["Secret"]))]);
    }

    #[test]
    fn binary_values_compare_exactly() {
        let m = pipe(CLASSES);
        let mut mapped = entry("uid=bob,o=example", &[("uid", "bob")]);
        mapped.add("jpegPhoto", Value::Binary(vec![0xff, 0xd8, 0x01]));
        let mut existing = entry("uid=bob,o=example", &[("uid", "bob")]);
        existing.add("jpegPhoto", Value::Binary(vec![0xff, 0xd8, 0x01]));
        let c = m.class("all").unwrap();
        assert!(c.diff(&mapped, &existing, &DiffScope::all()).is_empty());
        existing.set("jpegPhoto", vec![Value::Binary(vec![0xff, 0xd8, 0x02])]);
        assert_eq!(
            c.diff(&mapped, &existing, &DiffScope::all()),
            [Replace("jpegPhoto".into(), vec![Value::Binary(vec![0xff, 0xd8, 0x01])])]
        );
    }

    #[test]
    fn dn_values_compare_normalized() {
        let m = pipe(CLASSES);
        let mods = diff(
            &m,
            "all",
            &[
                ("uid", "bob"),
                ("member", "uid=a,ou=people,o=example"),
                ("member", "uid=b,ou=people,o=example"),
                ("manager", "uid=boss,o=example"),
                ("seeAlso", "cn=x,o=example"),
            ],
            &[
                ("uid", "bob"),
                ("member", "UID=A, OU=People, O=Example"),
                ("member", "uid=c,ou=people,o=example"),
                ("manager", "UID=Boss,O=Example"),
                ("seeAlso", "CN=X , o=EXAMPLE"),
            ],
        );
        assert_eq!(
            mods,
            [
                Delete("member".into(), v(&["uid=c,ou=people,o=example"])),
                Add("member".into(), v(&["uid=b,ou=people,o=example"])),
            ]
        );
    }

    #[test]
    fn rdn_values_are_kept() {
        let m = pipe(CLASSES);
        // The mapped entry lacks uid: the RDN attribute is not deleted.
        let mods = diff(&m, "all", &[("cn", "Bob")], &[("uid", "bob"), ("cn", "Bob")]);
        assert!(mods.is_empty(), "{mods:?}");
        // A different uid value is added; the RDN value stays.
        let mods = diff(&m, "all", &[("uid", "robert")], &[("uid", "bob"), ("uid", "bobby")]);
        assert_eq!(mods, [Delete("uid".into(), v(&["bobby"])), Add("uid".into(), v(&["robert"]))]);
        // With replace-all, the Replace keeps the RDN value.
        let mods = diff(&m, "replace", &[("uid", "robert")], &[("uid", "bob")]);
        assert_eq!(mods, [Replace("uid".into(), v(&["robert", "bob"]))]);
    }

    #[test]
    fn destination_only_attributes() {
        let m = pipe(CLASSES);
        let existing = [
            ("uid", "bob"),
            ("cn", "Bob"),
            ("description", "extra"),
            ("mail", "old@x"),
            ("createTimestamp", "20240101000000Z"),
            ("memberOf", "cn=g,o=example"),
            ("employeeNumber", "7"),
        ];
        // -all-: every non-operational attribute is managed (but not create-only ones).
        let mods = diff(&m, "all", &[("uid", "bob"), ("cn", "Bob")], &existing);
        assert_eq!(mods, [Delete("description".into(), vec![]), Delete("mail".into(), vec![])]);
        // -none-: only the mapped attributes (mail, displayName, ...) are managed.
        let mods = diff(&m, "none", &[("uid", "bob")], &existing);
        assert_eq!(mods, [Delete("mail".into(), vec![])]);
        // An explicit list: its names.
        let mods = diff(&m, "list", &[("uid", "bob"), ("cn", "Bob")], &existing);
        assert_eq!(mods, [Delete("description".into(), vec![])]);
    }

    #[test]
    fn create_only_and_excluded_attributes() {
        let m = pipe(CLASSES);
        let mapped = [("uid", "bob"), ("employeeNumber", "8"), ("l", "Paris"), ("st", "IDF")];
        let existing = [("uid", "bob"), ("employeeNumber", "7"), ("l", "Rome")];
        assert_eq!(
            diff(&m, "all", &mapped, &existing),
            [Replace("l".into(), v(&["Paris"])), Add("st".into(), v(&["IDF"]))]
        );
        let scope = DiffScope { exclude: vec!["L".into()], only: None };
        assert_eq!(diff_scoped(&m, "all", &mapped, &existing, &scope), [Add("st".into(), v(&["IDF"]))]);
    }

    #[test]
    fn only_changed_source_attributes() {
        let m = pipe(CLASSES);
        let mapped = [
            ("uid", "bob"),
            ("cn", "Robert"),
            ("displayName", "Robert"),
            ("mail", "Robert.Smith@example.com"),
            ("modifyTrace", "synced"),
            ("title", "Boss"),
        ];
        let existing =
            [("uid", "bob"), ("cn", "Bob"), ("displayName", "Bob"), ("mail", "Bob.Smith@example.com"), ("l", "x")];
        // givenName changed: only mail depends on it (plus the sync-on-every-update mapping).
        let mods = diff_scoped(&m, "all", &mapped, &existing, &DiffScope::only(["givenName"]));
        assert_eq!(
            mods,
            [Replace("mail".into(), v(&["Robert.Smith@example.com"])), Add("modifyTrace".into(), v(&["synced"]))]
        );
        // cn changed: the auto-mapped cn and displayName (from {cn}).
        let mods = diff_scoped(&m, "all", &mapped, &existing, &DiffScope::only(["CN"]));
        assert_eq!(
            mods,
            [
                Replace("cn".into(), v(&["Robert"])),
                Replace("displayName".into(), v(&["Robert"])),
                Add("modifyTrace".into(), v(&["synced"])),
            ]
        );
        // title changed: auto-mapped title, and displayName through also-depends-on-src-attribute.
        let mods = diff_scoped(&m, "all", &mapped, &existing, &DiffScope::only(["title"]));
        assert_eq!(
            mods,
            [
                Replace("displayName".into(), v(&["Robert"])),
                Add("modifyTrace".into(), v(&["synced"])),
                Add("title".into(), v(&["Boss"])),
            ]
        );
        // l was removed at the source: the destination-only l is deleted.
        let mods = diff_scoped(&m, "all", &mapped, &existing, &DiffScope::only(["l"]));
        assert_eq!(mods, [Delete("l".into(), vec![]), Add("modifyTrace".into(), v(&["synced"]))]);
    }

    #[test]
    fn end_to_end_map_then_diff() {
        let m = pipe(
            r#"
dsconfig create-dn-map --map-name people --set "from-dn-pattern:*,ou=people,dc=example,dc=com" \
    --set "to-dn-pattern:{1},ou=users,o=example"
dsconfig create-attribute-map --map-name g
dsconfig create-attribute-mapping --map-name g --mapping-name member --type dn --set from-attribute:member
dsconfig create-sync-class --pipe-name p --class-name groups --set attribute-map:g --set dn-map:people
"#,
        );
        let c = &m.classes()[0];
        let source = entry(
            "cn=staff,ou=people,dc=example,dc=com",
            &[
                ("objectClass", "groupOfNames"),
                ("cn", "staff"),
                ("member", "uid=a,ou=people,dc=example,dc=com"),
                ("member", "uid=b,ou=people,dc=example,dc=com"),
                ("entryUUID", "1"),
            ],
        );
        let mapped = c.map_entry(&source).unwrap();
        let existing = entry(
            "cn=staff,ou=users,o=example",
            &[
                ("objectClass", "groupOfNames"),
                ("cn", "Staff"),
                ("member", "UID=A,OU=Users,O=Example"),
                ("member", "uid=z,ou=users,o=example"),
                ("entryUUID", "2"),
            ],
        );
        assert_eq!(
            c.diff(&mapped, &existing, &DiffScope::all()),
            [
                Delete("member".into(), v(&["uid=z,ou=users,o=example"])),
                Add("member".into(), v(&["uid=b,ou=users,o=example"])),
            ]
        );
    }
}
