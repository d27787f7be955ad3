//! Mapping a source entry to the destination entry its class describes.

use super::attribute::{apply_dn_maps, build_failure_reason, DnMapOutcome};
use super::error::MappingError;
use super::rules::dedupe_in_place;
use super::ClassMapping;
use crate::entry::{Entry, Value};
use crate::syntax::Dn;

impl ClassMapping {
    /// The destination DN of the source entry at `source_dn`: the first class DN map whose from-dn-pattern
    /// matches builds it; when none matches the DN is unchanged. `source` supplies the `{attr}` values of
    /// to-dn-patterns (`None` for a delete whose entry is gone: a pattern that needs an attribute then fails).
    pub fn map_dn(&self, source_dn: &str, source: Option<&Entry>) -> Result<String, MappingError> {
        let dn = Dn::parse(source_dn).map_err(|e| MappingError::InvalidSourceDn {
            class: self.name.clone(),
            dn: source_dn.to_string(),
            reason: e.to_string(),
        })?;
        let empty;
        let entry = match source {
            Some(e) => e,
            None => {
                empty = Entry::new(source_dn);
                &empty
            }
        };
        match apply_dn_maps(&self.dn_maps, &dn, entry) {
            DnMapOutcome::NoMatch => Ok(source_dn.to_string()),
            DnMapOutcome::Mapped(d) => Ok(d.to_string()),
            DnMapOutcome::Failed(i) => {
                let m = &self.dn_maps[i];
                Err(MappingError::DnMap {
                    class: self.name.clone(),
                    map: m.name.clone(),
                    dn: source_dn.to_string(),
                    pattern: m.map.to_pattern().as_str().to_string(),
                    reason: build_failure_reason(&m.map, entry),
                })
            }
        }
    }

    /// The destination entry the configuration describes for `source`:
    ///
    /// * the DN mapped by [`ClassMapping::map_dn`];
    /// * the auto-mapped source attributes, under their source spelling;
    /// * each attribute mapping's values under the mapping's name, replacing auto-mapped values of that
    ///   attribute (a mapping that yields no value removes the attribute), minus its `exclude-value`s;
    /// * with `ignore-zero-length-values`, empty values are ignored (in the source and in the result);
    /// * duplicate values (by the attribute's matching rule) removed, the first kept.
    pub fn map_entry(&self, source: &Entry) -> Result<Entry, MappingError> {
        let stripped;
        let source = if self.ignore_zero_length {
            let mut s = Entry::new(source.dn.clone());
            for a in source.attributes() {
                s.set(&a.name, a.values.iter().filter(|v| !v.is_empty()).cloned().collect());
            }
            stripped = s;
            &stripped
        } else {
            source
        };

        let mut out = Entry::new(self.map_dn(&source.dn, Some(source))?);
        for a in source.attributes() {
            if self.auto_maps(&a.name) {
                let name = self.auto.names.iter().find(|n| n.eq_ignore_ascii_case(&a.name)).unwrap_or(&a.name);
                out.set(name, a.values.clone());
            }
        }
        for m in &self.mappings {
            let mut values = m.evaluate(&self.name, source)?;
            if !m.exclude_values.is_empty() {
                let rule = self.matching_rule(&m.destination);
                let excluded: Vec<Vec<u8>> =
                    m.exclude_values.iter().map(|x| rule.key(&Value::Text(x.clone()))).collect();
                values.retain(|v| !excluded.contains(&rule.key(v)));
            }
            out.remove(&m.destination);
            out.set(&m.destination, values);
        }

        out.retain_values(|name, values| {
            if self.ignore_zero_length {
                values.retain(|v| !v.is_empty());
            }
            if self.json_attribute(name).is_some() {
                for v in values.iter_mut() {
                    *v = self.json_fields_that_count(name, v);
                }
            }
            dedupe_in_place(self.matching_rule(name), values);
        });
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{entry, pipe};
    use super::super::MappingError;
    use crate::entry::Value;

    fn t(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    fn texts(e: &crate::entry::Entry, a: &str) -> Vec<String> {
        e.texts(a)
    }

    const DN_MAPS: &str = r#"
dsconfig create-dn-map --map-name flatten --set "from-dn-pattern:*,**,ou=people,dc=example,dc=com" \
    --set "to-dn-pattern:{1},ou=users,o=example"
dsconfig create-dn-map --map-name rest --set "from-dn-pattern:**,dc=example,dc=com" --set "to-dn-pattern:{1},o=example"
dsconfig create-dn-map --map-name by-attr --set "from-dn-pattern:*,ou=staff,dc=example,dc=com" \
    --set "to-dn-pattern:uid={givenName:/^(.).*/$1/}{sn},ou=staff,o=example"
"#;

    #[test]
    fn dn_maps_first_match_wins() {
        let m = pipe(&format!(
            "{DN_MAPS}\ndsconfig create-sync-class --pipe-name p --class-name c --set dn-map:flatten --set dn-map:rest"
        ));
        let c = &m.classes()[0];
        // `*` takes the RDN, `**` swallows the intermediate levels.
        assert_eq!(
            c.map_dn("uid=bob,ou=east,ou=sales,ou=people,dc=example,dc=com", None).unwrap(),
            "uid=bob,ou=users,o=example"
        );
        // `**` may match zero RDNs.
        assert_eq!(c.map_dn("uid=bob,ou=people,dc=example,dc=com", None).unwrap(), "uid=bob,ou=users,o=example");
        // The first map does not match: the second does.
        assert_eq!(c.map_dn("cn=g,ou=groups,dc=example,dc=com", None).unwrap(), "cn=g,ou=groups,o=example");
        assert_eq!(c.map_dn("dc=example,dc=com", None).unwrap(), "o=example");
        // No map matches: unchanged.
        assert_eq!(c.map_dn("cn=x,dc=other", None).unwrap(), "cn=x,dc=other");
    }

    #[test]
    fn dn_map_with_source_attributes() {
        let m =
            pipe(&format!("{DN_MAPS}\ndsconfig create-sync-class --pipe-name p --class-name c --set dn-map:by-attr"));
        let c = &m.classes()[0];
        let e = entry("cn=Bob Smith,ou=staff,dc=example,dc=com", &[("givenName", "Bob"), ("sn", "Smith")]);
        let mapped = c.map_entry(&e).unwrap();
        assert_eq!(mapped.dn, "uid=BSmith,ou=staff,o=example");

        // A delete without the entry: the map matches but cannot be built.
        let err = c.map_dn("cn=Bob Smith,ou=staff,dc=example,dc=com", None).unwrap_err();
        assert!(matches!(err, MappingError::DnMap { ref map, .. } if map == "by-attr"), "{err}");
        assert!(err.to_string().contains("givenName, sn"), "{err}");
        assert_eq!(err.outcome(), "failed-during-mapping");
    }

    #[test]
    fn invalid_source_dn_is_an_error() {
        let m = pipe("dsconfig create-sync-class --pipe-name p --class-name c");
        let err = m.classes()[0].map_entry(&entry("not a dn", &[("cn", "x")])).unwrap_err();
        assert!(matches!(err, MappingError::InvalidSourceDn { .. }), "{err}");
        assert!(err.to_string().starts_with("Sync Class 'c': the source DN 'not a dn' is not a valid DN"), "{err}");
    }

    #[test]
    fn all_maps_every_non_operational_attribute() {
        let m = pipe("dsconfig create-sync-class --pipe-name p --class-name c");
        let e = entry(
            "uid=bob,dc=example,dc=com",
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", "bob"),
                ("cn", "Bob"),
                ("nsAccountLock", "true"),
                ("createTimestamp", "20240101000000Z"),
                ("entryUUID", "1234"),
                ("memberOf", "cn=g,dc=example,dc=com"),
                ("objectGUID", "x"),
            ],
        );
        let mapped = m.classes()[0].map_entry(&e).unwrap();
        let names: Vec<&str> = mapped.attribute_names().collect();
        assert_eq!(names, ["cn", "nsAccountLock", "objectClass", "uid"]);
        assert_eq!(mapped.dn, e.dn);
    }

    #[test]
    fn none_maps_only_explicit_mappings() {
        let m = pipe(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name mail --type direct --set from-attribute:email
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m --set auto-mapped-source-attribute:-none-
"#,
        );
        let e = entry("uid=bob,dc=example,dc=com", &[("uid", "bob"), ("email", "bob@example.com")]);
        let mapped = m.classes()[0].map_entry(&e).unwrap();
        let names: Vec<&str> = mapped.attribute_names().collect();
        assert_eq!(names, ["mail"]);
        assert_eq!(texts(&mapped, "mail"), ["bob@example.com"]);
    }

    #[test]
    fn auto_mapped_list_and_exclusions() {
        let m = pipe(
            r#"
dsconfig create-sync-class --pipe-name p --class-name list \
    --set auto-mapped-source-attribute:uid --set auto-mapped-source-attribute:CN \
    --set auto-mapped-source-attribute:entryUUID
dsconfig create-sync-class --pipe-name p --class-name excl \
    --set excluded-auto-mapped-source-attributes:description \
    --set excluded-auto-mapped-source-attributes:userPassword
"#,
        );
        let e = entry(
            "uid=bob,dc=example,dc=com",
            &[("uid", "bob"), ("cn", "Bob"), ("description", "d"), ("userPassword", "p"), ("entryUUID", "42")],
        );
        let list = m.class("list").unwrap().map_entry(&e).unwrap();
        // Operational attributes may be named; the list's spelling is kept.
        let names: Vec<&str> = list.attribute_names().collect();
        assert_eq!(names, ["CN", "entryUUID", "uid"]);
        let excl = m.class("excl").unwrap().map_entry(&e).unwrap();
        let names: Vec<&str> = excl.attribute_names().collect();
        assert_eq!(names, ["cn", "uid"]);
    }

    #[test]
    fn direct_mapping_overrides_auto_mapped() {
        let m = pipe(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name description --type direct --set from-attribute:title
dsconfig create-attribute-mapping --map-name m --mapping-name telephoneNumber --type direct --set from-attribute:mobile
dsconfig create-attribute-mapping --map-name m --mapping-name photo64 --type direct --set from-attribute:photo \
    --set base64-encode-value:true
dsconfig create-attribute-mapping --map-name m --mapping-name certificate --type direct --set from-attribute:cert64 \
    --set base-64-decode-value:true
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m
"#,
        );
        let mut e = entry(
            "uid=bob,dc=example,dc=com",
            &[
                ("description", "old"),
                ("title", "Engineer"),
                ("telephoneNumber", "+1 555"),
                ("cert64", "aGVsbG8="),
                ("cert64", "//79"),
            ],
        );
        e.add("photo", Value::Binary(vec![0xff, 0x00]));
        let mapped = m.classes()[0].map_entry(&e).unwrap();
        // The mapping replaces the auto-mapped value.
        assert_eq!(texts(&mapped, "description"), ["Engineer"]);
        // The mapping yields nothing: the auto-mapped telephoneNumber is removed.
        assert!(!mapped.has("telephoneNumber"));
        assert_eq!(texts(&mapped, "photo64"), ["/wA="]);
        assert_eq!(mapped.values("certificate"), [t("hello"), Value::Binary(vec![0xff, 0xfe, 0xfd])]);
        // The mapping's spelling is used.
        assert_eq!(mapped.get("telephonenumber"), None);
        assert!(mapped.attribute_names().any(|n| n == "photo64"));
    }

    #[test]
    fn bad_base64_is_a_mapping_error() {
        let m = pipe(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name certificate --type direct --set from-attribute:cert64 \
    --set base-64-decode-value:true
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m
"#,
        );
        let err = m.classes()[0].map_entry(&entry("uid=bob,dc=x", &[("cert64", "not base64!")])).unwrap_err();
        assert!(matches!(err, MappingError::Attribute { ref attribute, .. } if attribute == "certificate"), "{err}");
        assert!(err.to_string().contains("Attribute Map 'm'"), "{err}");
    }

    #[test]
    fn constructed_and_conditional_patterns() {
        let m = pipe(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name mail --type constructed \
    --set "value-pattern:{givenName}.{sn}@example.com"
dsconfig create-attribute-mapping --map-name m --mapping-name employeeType --type constructed \
    --set "conditional-value-pattern:(departmentNumber=42) : engineer" \
    --set "conditional-value-pattern:(departmentNumber=*) : staff in {departmentNumber}" \
    --set "value-pattern:unknown"
dsconfig create-attribute-mapping --map-name m --mapping-name displayName --type constructed \
    --set "value-pattern:{cn}" --set "value-pattern:{sn}, {givenName}"
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m --set auto-mapped-source-attribute:-none-
"#,
        );
        let c = &m.classes()[0];
        let e = entry(
            "uid=bob,dc=x",
            &[("givenName", "Bob"), ("sn", "Smith"), ("cn", "Bob Smith"), ("departmentNumber", "42")],
        );
        let mapped = c.map_entry(&e).unwrap();
        assert_eq!(texts(&mapped, "mail"), ["Bob.Smith@example.com"]);
        // The first conditional pattern whose filter matches wins.
        assert_eq!(texts(&mapped, "employeeType"), ["engineer"]);
        // All value patterns, in order.
        assert_eq!(texts(&mapped, "displayName"), ["Bob Smith", "Smith, Bob"]);

        let e = entry("uid=al,dc=x", &[("givenName", "Al"), ("departmentNumber", "7"), ("cn", "Al")]);
        let mapped = c.map_entry(&e).unwrap();
        // A missing attribute makes the pattern produce nothing.
        assert!(!mapped.has("mail"));
        assert_eq!(texts(&mapped, "employeeType"), ["staff in 7"]);
        assert_eq!(texts(&mapped, "displayName"), ["Al"]);

        let e = entry("uid=z,dc=x", &[("cn", "Z")]);
        assert_eq!(texts(&c.map_entry(&e).unwrap(), "employeeType"), ["unknown"]);
    }

    const GROUPS: &str = r#"
dsconfig create-dn-map --map-name people --set "from-dn-pattern:*,ou=people,dc=example,dc=com" \
    --set "to-dn-pattern:{1},ou=users,o=example"
dsconfig create-dn-map --map-name groups --set "from-dn-pattern:*,ou=groups,dc=example,dc=com" \
    --set "to-dn-pattern:{1},ou=groups,o=example"
dsconfig create-attribute-map --map-name groups
dsconfig create-attribute-mapping --map-name groups --mapping-name member --type dn --set from-attribute:member \
    --set dn-map:people --set dn-map:groups
dsconfig create-attribute-mapping --map-name groups --mapping-name owner --type dn --set from-attribute:owner
dsconfig create-attribute-mapping --map-name groups --mapping-name sourceDn --type dn --set from-attribute:dn
dsconfig create-sync-class --pipe-name p --class-name groups --set attribute-map:groups --set dn-map:groups \
    --set dn-map:people
"#;

    #[test]
    fn group_members_through_dn_maps() {
        let m = pipe(GROUPS);
        let c = &m.classes()[0];
        let e = entry(
            "cn=staff,ou=groups,dc=example,dc=com",
            &[
                ("objectClass", "groupOfNames"),
                ("cn", "staff"),
                ("member", "uid=bob,ou=people,dc=example,dc=com"),
                ("member", "cn=admins,ou=groups,dc=example,dc=com"),
                ("member", "cn=outsider,dc=elsewhere"),
                ("member", "UID=Bob, OU=People, DC=Example, DC=Com"),
                ("owner", "uid=al,ou=people,dc=example,dc=com"),
            ],
        );
        let mapped = c.map_entry(&e).unwrap();
        assert_eq!(mapped.dn, "cn=staff,ou=groups,o=example");
        // Mapped by the first matching map, unmatched values kept, duplicates (by DN) removed.
        assert_eq!(
            texts(&mapped, "member"),
            ["uid=bob,ou=users,o=example", "cn=admins,ou=groups,o=example", "cn=outsider,dc=elsewhere"]
        );
        // A dn mapping without its own DN maps uses the class's.
        assert_eq!(texts(&mapped, "owner"), ["uid=al,ou=users,o=example"]);
        // from-attribute dn: the entry's own DN, mapped.
        assert_eq!(texts(&mapped, "sourceDn"), ["cn=staff,ou=groups,o=example"]);
        assert_eq!(c.matching_rule("sourceDn"), super::super::MatchingRule::DistinguishedName);
    }

    #[test]
    fn exclude_value_and_zero_length_and_duplicates() {
        let m = pipe(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name objectClass --type direct \
    --set from-attribute:objectClass --set exclude-value:ntUser --set exclude-value:posixAccount
dsconfig create-sync-class --pipe-name p --class-name keep --set attribute-map:m
dsconfig create-sync-class --pipe-name p --class-name ignore --set attribute-map:m --set ignore-zero-length-values:true
"#,
        );
        let e = entry(
            "uid=bob,dc=x",
            &[
                ("objectClass", "top"),
                ("objectClass", "NTUSER"),
                ("objectClass", "inetOrgPerson"),
                ("objectClass", "posixAccount"),
                ("description", ""),
                ("mail", "a@x"),
                ("mail", "A@X"),
                ("mail", ""),
                ("userPassword", "Secret"),
                ("userPassword", "secret"),
            ],
        );
        let keep = m.class("keep").unwrap().map_entry(&e).unwrap();
        // exclude-value compares case-insensitively.
        assert_eq!(texts(&keep, "objectClass"), ["top", "inetOrgPerson"]);
        assert_eq!(texts(&keep, "description"), [""]);
        // Duplicates by the matching rule: case-insensitive for mail, exact for passwords.
        assert_eq!(texts(&keep, "mail"), ["a@x", ""]);
        assert_eq!(texts(&keep, "userPassword"), ["Secret", "secret"]);

        let ignore = m.class("ignore").unwrap().map_entry(&e).unwrap();
        assert!(!ignore.has("description"));
        assert_eq!(texts(&ignore, "mail"), ["a@x"]);
    }

    #[test]
    fn json_mapping_builds_an_object() {
        let m = pipe(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name name --type json
dsconfig create-json-attribute-mapping-field --map-name m --mapping-name name --field-name givenName \
    --set from-attribute:givenName
dsconfig create-json-attribute-mapping-field --map-name m --mapping-name name --field-name formatted \
    --set "value-pattern:{givenName} {sn}"
dsconfig create-json-attribute-mapping-field --map-name m --mapping-name name --field-name age \
    --set from-attribute:age --set json-type:number
dsconfig create-json-attribute-mapping-field --map-name m --mapping-name name --field-name active \
    --set from-attribute:active --set json-type:boolean
dsconfig create-json-attribute-mapping-field --map-name m --mapping-name name --field-name emails \
    --set from-attribute:mail --set json-type:array
dsconfig create-json-attribute-mapping-field --map-name m --mapping-name name --field-name middle \
    --set from-attribute:middleName
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m --set auto-mapped-source-attribute:-none-
"#,
        );
        let c = &m.classes()[0];
        let e = entry(
            "uid=bob,dc=x",
            &[("givenName", "Bob"), ("sn", "Smith"), ("age", "42"), ("active", "TRUE"), ("mail", "b@x")],
        );
        let mapped = c.map_entry(&e).unwrap();
        let json = mapped.values("name")[0].as_json().unwrap();
        assert_eq!(
            json,
            serde_json::json!({"givenName": "Bob", "formatted": "Bob Smith", "age": 42, "active": true, "emails": ["b@x"]})
        );
        let err = c.map_entry(&entry("uid=bob,dc=x", &[("age", "old")])).unwrap_err();
        assert!(err.to_string().contains("field 'age': the value 'old' is not a number"), "{err}");
        // No field has a value: no attribute.
        assert!(!c.map_entry(&entry("uid=bob,dc=x", &[("cn", "x")])).unwrap().has("name"));
    }
}
