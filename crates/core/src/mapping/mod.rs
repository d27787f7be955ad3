//! The mapping layer: a sync pipe's classes, attribute maps and DN maps compiled into an immutable
//! [`PipeMapping`], and pure functions over entries. No I/O.
//!
//! The engine uses it in this order for each change:
//!
//! 1. [`PipeMapping::select_class`]: the first class (by `evaluation-order-index`, then name) whose
//!    `include-base-dn`s contain the DN and one of whose `include-filter`s matches the source entry. `None` is
//!    Ping's `dropped-out-of-scope`.
//! 2. [`ClassMapping::source_attributes`]: what to fetch from the source.
//! 3. [`ClassMapping::map_entry`]: the destination entry the configuration describes (mapped DN, auto-mapped
//!    and explicitly mapped attributes). An error is Ping's `failed-during-mapping`.
//! 4. [`ClassMapping::destination_attributes`] and [`ClassMapping::correlation`]: how to find and fetch the
//!    destination entry.
//! 5. [`ClassMapping::diff`]: the smallest modify that turns the destination entry into the mapped one.
//!
//! Decisions worth knowing:
//!
//! * `-all-` maps every source attribute except the `excluded-auto-mapped-source-attributes` and the
//!   operational ones ([`rules::OPERATIONAL_ATTRIBUTES`]). An operational attribute is mapped only when named:
//!   by an attribute mapping (its name) or in an explicit `auto-mapped-source-attribute` list, which may be
//!   combined with `-all-`.
//! * An explicit attribute mapping replaces the auto-mapped values of its destination attribute; when it
//!   yields no value the attribute is left out of the mapped entry.
//! * Two attribute mappings of one class (in different attribute maps) for the same destination attribute
//!   are a configuration error, not a silent choice.
//! * A `dn` attribute mapping without its own `dn-map`s maps its values through the class's DN maps. Values
//!   that no map matches (or that are not DNs) are kept as they are. Auto-mapped DN-valued attributes are
//!   copied as they are: use a `dn` mapping to translate `member` and friends.
//! * A `json` attribute mapping yields one text value holding a compact JSON object, one field per
//!   `json-attribute-mapping-field` (in field-name order); a field without source values is left out, and a
//!   mapping with no field yields no value.
//! * With `-all-`, the destination attributes the class manages (deleted when the mapped entry lacks them)
//!   are all non-operational ones except the `excluded-auto-mapped-source-attributes`.
//! * For resync's delete pass, [`PipeMapping::deletable_at_destination`] judges a destination entry by each
//!   class's destination base DNs (its base DNs moved by its DN maps) and its include filters evaluated on
//!   the destination entry. It errs on the side of not deleting: a class whose DN maps make its destination
//!   base unknowable blocks deletes of every entry its filters might match.

mod attribute;
mod compile;
mod diff;
mod digest;
mod error;
mod map;
pub mod presets;
pub mod rules;
mod scope;

#[cfg(test)]
mod testutil;

pub use attribute::AttributeMapping;
pub use diff::DiffScope;
pub use digest::{apply_modifications, Digest};
pub use error::{MappingConfigError, MappingError};
pub use rules::MatchingRule;

use attribute::NamedDnMap;
use rules::{is_intermediate, is_operational, names_attribute};

use crate::entry::{Entry, Value};
use crate::syntax::{Dn, Filter};

/// A pipe's sync classes, compiled and sorted in evaluation order.
#[derive(Clone, Debug)]
pub struct PipeMapping {
    pipe: String,
    classes: Vec<ClassMapping>,
}

impl PipeMapping {
    /// The pipe's name as configured.
    pub fn pipe(&self) -> &str {
        &self.pipe
    }

    /// The classes in evaluation order (ascending `evaluation-order-index`, then name).
    pub fn classes(&self) -> &[ClassMapping] {
        &self.classes
    }

    /// The class called `name` (any case).
    pub fn class(&self, name: &str) -> Option<&ClassMapping> {
        self.classes.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The class that handles the entry at `dn`: the first whose base DNs contain `dn` (at or below, by
    /// normalized DN) and one of whose filters matches `entry`. When `entry` is `None` (a delete whose entry is
    /// gone) only the base DNs count. `None` means the change is out of scope.
    pub fn select_class(&self, dn: &str, entry: Option<&Entry>) -> Option<&ClassMapping> {
        let parsed = Dn::parse(dn).ok();
        self.classes.iter().find(|c| c.in_scope(parsed.as_ref(), entry))
    }

    /// The attributes a source fetch asks for so that every class can be selected and mapped: `*` (every user
    /// attribute, which include-filters on attributes no mapping reads need as much as the mappings do), the
    /// unique id attribute, and each operational attribute that any class's filters, mappings (their
    /// conditional value patterns and `also-depends-on-src-attribute`s included), DN maps or auto-mapped list
    /// name. Single and batched fetches (by DN, by unique id) use the same list.
    pub fn source_attributes(&self, unique_id_attribute: &str) -> Vec<String> {
        let mut attrs: Vec<String> = vec!["*".into(), unique_id_attribute.to_string()];
        for class in &self.classes {
            for a in class.source_attributes() {
                if !attrs.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                    attrs.push(a);
                }
            }
        }
        attrs
    }
}

/// Which source attributes a class maps automatically (to destination attributes of the same name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoMapped {
    /// `-all-`: every non-operational source attribute (except the excluded ones).
    pub all: bool,
    /// Attributes named explicitly (with or without `-all-`); operational ones included.
    pub names: Vec<String>,
}

/// One compiled sync class.
#[derive(Clone, Debug)]
pub struct ClassMapping {
    pub(crate) pipe: String,
    pub(crate) name: String,
    pub(crate) order: i64,
    pub(crate) base_dns: Vec<Dn>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) creates: bool,
    pub(crate) modifies: bool,
    pub(crate) deletes: bool,
    pub(crate) modifies_as_creates: bool,
    pub(crate) creates_as_modifies: bool,
    pub(crate) ignore_zero_length: bool,
    pub(crate) replace_all: bool,
    pub(crate) create_only: Vec<String>,
    pub(crate) auto: AutoMapped,
    pub(crate) excluded: Vec<String>,
    pub(crate) correlation: Vec<Vec<String>>,
    pub(crate) correlation_on_delete: Vec<Vec<String>>,
    pub(crate) mappings: Vec<AttributeMapping>,
    pub(crate) dn_maps: Vec<NamedDnMap>,
    /// The class's `json-attribute`s: which fields of a JSON attribute's values are compared and written.
    pub(crate) json_attributes: Vec<crate::settings::JsonAttributeSettings>,
    /// The destination image of `base_dns` (see [`ClassMapping::destination_base_dns`]).
    pub(crate) dest_base_dns: Option<Vec<Dn>>,
}

impl ClassMapping {
    /// The class's name as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pipe the class belongs to.
    pub fn pipe(&self) -> &str {
        &self.pipe
    }

    /// `evaluation-order-index`.
    pub fn evaluation_order_index(&self) -> i64 {
        self.order
    }

    /// `include-base-dn` (empty: every DN).
    pub fn base_dns(&self) -> &[Dn] {
        &self.base_dns
    }

    /// `include-filter` (empty: every entry; otherwise an entry must match one of them).
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// `synchronize-creates`.
    pub fn creates(&self) -> bool {
        self.creates
    }

    /// `synchronize-modifies`.
    pub fn modifies(&self) -> bool {
        self.modifies
    }

    /// `synchronize-deletes`.
    pub fn deletes(&self) -> bool {
        self.deletes
    }

    /// `modifies-as-creates`: a modify of an entry missing at the destination creates it.
    pub fn modifies_as_creates(&self) -> bool {
        self.modifies_as_creates
    }

    /// `creates-as-modifies`: a create of an entry that exists at the destination modifies it.
    pub fn creates_as_modifies(&self) -> bool {
        self.creates_as_modifies
    }

    /// `ignore-zero-length-values`.
    pub fn ignore_zero_length_values(&self) -> bool {
        self.ignore_zero_length
    }

    /// `replace-all-attr-values`.
    pub fn replace_all_attr_values(&self) -> bool {
        self.replace_all
    }

    /// `destination-correlation-attributes`: the lists (such as `dn,uid`) tried in order.
    pub fn correlation(&self) -> &[Vec<String>] {
        &self.correlation
    }

    /// `destination-correlation-attributes-on-delete`, or [`ClassMapping::correlation`] when unset.
    pub fn correlation_on_delete(&self) -> &[Vec<String>] {
        if self.correlation_on_delete.is_empty() {
            &self.correlation
        } else {
            &self.correlation_on_delete
        }
    }

    /// `destination-create-only-attribute`: written on create, never in a modify.
    pub fn create_only_attributes(&self) -> &[String] {
        &self.create_only
    }

    /// `auto-mapped-source-attribute`.
    pub fn auto_mapped(&self) -> &AutoMapped {
        &self.auto
    }

    /// `excluded-auto-mapped-source-attributes`.
    pub fn excluded_auto_mapped(&self) -> &[String] {
        &self.excluded
    }

    /// The explicit attribute mappings, in attribute-map order, then mapping-name order.
    pub fn attribute_mappings(&self) -> &[AttributeMapping] {
        &self.mappings
    }

    /// The explicit mapping whose destination is `attr` (any case).
    pub fn mapping_for(&self, attr: &str) -> Option<&AttributeMapping> {
        self.mappings.iter().find(|m| m.destination.eq_ignore_ascii_case(attr))
    }

    /// The `json-attribute` of the class for attribute `attr` (any case), if any.
    pub fn json_attribute(&self, attr: &str) -> Option<&crate::settings::JsonAttributeSettings> {
        self.json_attributes.iter().find(|j| j.attribute.eq_ignore_ascii_case(attr))
    }

    /// Value `v` of attribute `attr` with only the JSON fields that count: with a `json-attribute` for
    /// `attr`, the top-level fields of a JSON object value are kept when `include-field` names them (or it is
    /// empty) and `exclude-field` does not (names compare without case). Other values are returned as they are.
    pub fn json_fields_that_count(&self, attr: &str, v: &Value) -> Value {
        let Some(j) = self.json_attribute(attr) else { return v.clone() };
        let (mut obj, text) = match v {
            Value::Json(serde_json::Value::Object(o)) => (o.clone(), false),
            Value::Text(t) => match serde_json::from_str::<serde_json::Value>(t) {
                Ok(serde_json::Value::Object(o)) => (o, true),
                _ => return v.clone(),
            },
            _ => return v.clone(),
        };
        let named = |list: &[String], k: &str| list.iter().any(|f| f.eq_ignore_ascii_case(k));
        obj.retain(|k, _| (j.include_field.is_empty() || named(&j.include_field, k)) && !named(&j.exclude_field, k));
        let obj = serde_json::Value::Object(obj);
        if text {
            Value::Text(obj.to_string())
        } else {
            Value::Json(obj)
        }
    }

    /// The names of the class's DN maps, in order.
    pub fn dn_map_names(&self) -> Vec<&str> {
        self.dn_maps.iter().map(|m| m.name.as_str()).collect()
    }

    /// Whether the entry at `dn` belongs to this class (see [`PipeMapping::select_class`]).
    pub fn matches(&self, dn: &str, entry: Option<&Entry>) -> bool {
        self.in_scope(Dn::parse(dn).ok().as_ref(), entry)
    }

    fn in_scope(&self, dn: Option<&Dn>, entry: Option<&Entry>) -> bool {
        if !self.base_dns.is_empty() {
            let Some(dn) = dn else {
                return false;
            };
            if !self.base_dns.iter().any(|b| dn.is_within(b)) {
                return false;
            }
        }
        match entry {
            Some(e) if !self.filters.is_empty() => self.filters.iter().any(|f| f.matches(e)),
            _ => true,
        }
    }

    /// How values of destination attribute `attr` are compared: by DN for DN attributes and for attributes
    /// produced by a `dn` mapping, exactly for passwords, case-insensitively otherwise.
    pub fn matching_rule(&self, attr: &str) -> MatchingRule {
        if self.mapping_for(attr).is_some_and(AttributeMapping::produces_dns) {
            return MatchingRule::DistinguishedName;
        }
        MatchingRule::for_attribute(attr)
    }

    /// Whether source attribute `attr` is auto-mapped to a destination attribute of the same name.
    pub fn auto_maps(&self, attr: &str) -> bool {
        if self.excluded.iter().any(|e| names_attribute(e, attr)) {
            return false;
        }
        if self.auto.names.iter().any(|n| names_attribute(n, attr)) {
            return true;
        }
        self.auto.all && !is_operational(attr) && !is_intermediate(attr)
    }

    /// Whether destination attribute `attr` is named by the configuration: an attribute mapping's name or an
    /// explicit auto-mapped name.
    fn explicitly_managed(&self, attr: &str) -> bool {
        self.mapping_for(attr).is_some()
            || (self.auto.names.iter().any(|n| names_attribute(n, attr))
                && !self.excluded.iter().any(|e| names_attribute(e, attr)))
    }

    /// Whether the class manages destination attribute `attr`, so that a diff deletes it when the mapped
    /// entry lacks it.
    pub fn manages(&self, attr: &str) -> bool {
        self.explicitly_managed(attr) || self.auto_maps(attr)
    }

    /// The attributes to request when fetching a source entry: `*` plus every operational attribute that
    /// mappings, patterns, filters, DN maps or the auto-mapped list name.
    pub fn source_attributes(&self) -> Vec<String> {
        let mut named: Vec<String> = Vec::new();
        for m in &self.mappings {
            named.extend(m.sources.iter().cloned());
        }
        for f in &self.filters {
            named.extend(f.attributes());
        }
        for m in &self.dn_maps {
            named.extend(m.map.attributes());
        }
        named.extend(self.auto.names.iter().cloned());
        with_star(named.into_iter().filter(|a| is_operational(a) && !a.eq_ignore_ascii_case("dn")))
    }

    /// The attributes to request when fetching the destination entry before a diff: `*` plus the operational
    /// attributes the class maps explicitly.
    pub fn destination_attributes(&self) -> Vec<String> {
        let named = self.mappings.iter().map(|m| m.destination.clone()).chain(self.auto.names.iter().cloned());
        with_star(named.filter(|a| is_operational(a)))
    }
}

/// `*` followed by `names` without duplicates (any case).
fn with_star(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = vec!["*".to_string()];
    for n in names {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&n)) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::testutil::{entry, pipe};

    const CLASSES: &str = r#"
dsconfig create-sync-class --pipe-name p --class-name people \
    --set evaluation-order-index:10 \
    --set include-base-dn:ou=people,dc=example,dc=com \
    --set "include-filter:(objectClass=inetOrgPerson)" \
    --set "include-filter:(objectClass=account)"
dsconfig create-sync-class --pipe-name p --class-name groups \
    --set evaluation-order-index:20 \
    --set include-base-dn:ou=groups,dc=example,dc=com \
    --set include-base-dn:ou=roles,dc=example,dc=com
dsconfig create-sync-class --pipe-name p --class-name b-catchall --set evaluation-order-index:99
dsconfig create-sync-class --pipe-name p --class-name a-catchall --set evaluation-order-index:99
dsconfig create-sync-class --pipe-name p --class-name first \
    --set evaluation-order-index:1 \
    --set "include-filter:(employeeType=contractor)" \
    --set synchronize-deletes:false
"#;

    #[test]
    fn classes_sorted_by_index_then_name() {
        let m = pipe(CLASSES);
        let names: Vec<&str> = m.classes().iter().map(|c| c.name()).collect();
        assert_eq!(names, ["first", "people", "groups", "a-catchall", "b-catchall"]);
        assert_eq!(m.pipe(), "p");
        assert_eq!(m.class("PEOPLE").unwrap().evaluation_order_index(), 10);
    }

    #[test]
    fn first_matching_class_wins() {
        let m = pipe(CLASSES);
        let person = entry("uid=bob,ou=people,dc=example,dc=com", &[("objectClass", "inetOrgPerson")]);
        assert_eq!(m.select_class(&person.dn, Some(&person)).unwrap().name(), "people");

        // The lower index wins even though "people" matches too.
        let contractor = entry(
            "uid=c,ou=people,dc=example,dc=com",
            &[("objectClass", "inetOrgPerson"), ("employeeType", "Contractor")],
        );
        assert_eq!(m.select_class(&contractor.dn, Some(&contractor)).unwrap().name(), "first");
    }

    #[test]
    fn filters_are_ored() {
        let m = pipe(CLASSES);
        let account = entry("uid=svc,ou=people,dc=example,dc=com", &[("objectClass", "account")]);
        assert_eq!(m.select_class(&account.dn, Some(&account)).unwrap().name(), "people");
        // Matching neither filter: falls through to the catch-all (a-catchall before b-catchall by name).
        let other = entry("cn=x,ou=people,dc=example,dc=com", &[("objectClass", "device")]);
        assert_eq!(m.select_class(&other.dn, Some(&other)).unwrap().name(), "a-catchall");
    }

    #[test]
    fn base_dns_compare_normalized_at_or_below() {
        let m = pipe(CLASSES);
        let g = entry("CN=Admins, OU=Groups,DC=Example,DC=COM", &[("objectClass", "groupOfNames")]);
        assert_eq!(m.select_class(&g.dn, Some(&g)).unwrap().name(), "groups");
        // The base itself is in scope; the second base DN counts too.
        let base = entry("ou=groups,dc=example,dc=com", &[("objectClass", "organizationalUnit")]);
        assert_eq!(m.select_class(&base.dn, Some(&base)).unwrap().name(), "groups");
        let role = entry("cn=r,ou=roles,dc=example,dc=com", &[("objectClass", "organizationalRole")]);
        assert_eq!(m.select_class(&role.dn, Some(&role)).unwrap().name(), "groups");
    }

    #[test]
    fn without_entry_only_base_dns_count() {
        let m = pipe(CLASSES);
        // A delete: the entry is gone, so "first" (no base DN, a filter) matches on base DNs alone.
        assert_eq!(m.select_class("uid=gone,ou=people,dc=example,dc=com", None).unwrap().name(), "first");
        assert!(!m.class("first").unwrap().deletes());
    }

    #[test]
    fn out_of_scope() {
        let m = pipe(
            r#"
dsconfig create-sync-class --pipe-name p --class-name people --set include-base-dn:ou=people,dc=example,dc=com \
    --set "include-filter:(objectClass=person)"
"#,
        );
        let e = entry("uid=x,ou=other,dc=example,dc=com", &[("objectClass", "person")]);
        assert!(m.select_class(&e.dn, Some(&e)).is_none());
        let e = entry("uid=x,ou=people,dc=example,dc=com", &[("objectClass", "device")]);
        assert!(m.select_class(&e.dn, Some(&e)).is_none());
        // A DN that does not parse is out of scope of a class with base DNs.
        assert!(m.select_class("not a dn", None).is_none());
    }

    #[test]
    fn pipe_without_classes_syncs_nothing() {
        let m = pipe("");
        assert!(m.classes().is_empty());
        assert!(m.select_class("uid=x,dc=example,dc=com", None).is_none());
    }

    #[test]
    fn fetch_attribute_lists() {
        let m = pipe(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name sourceId --type direct --set from-attribute:entryUUID
dsconfig create-attribute-mapping --map-name m --mapping-name description --type constructed \
    --set "value-pattern:created {createTimestamp} by {creatorsName}" \
    --set also-depends-on-src-attribute:modifyTimestamp
dsconfig create-attribute-mapping --map-name m --mapping-name pwdChangedTime --type direct --set from-attribute:pwdChangedTime
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m \
    --set "include-filter:(isMemberOf=cn=staff,dc=example,dc=com)" \
    --set auto-mapped-source-attribute:-all- --set auto-mapped-source-attribute:nsUniqueId
"#,
        );
        let c = &m.classes()[0];
        assert_eq!(
            c.source_attributes(),
            [
                "*",
                "createTimestamp",
                "creatorsName",
                "modifyTimestamp",
                "pwdChangedTime",
                "entryUUID",
                "isMemberOf",
                "nsUniqueId"
            ]
        );
        assert_eq!(c.destination_attributes(), ["*", "pwdChangedTime", "nsUniqueId"]);
    }

    #[test]
    fn the_source_fetch_asks_for_what_any_class_reads() {
        let m = pipe(
            r#"
dsconfig create-dn-map --map-name by-creator --set "from-dn-pattern:*,ou=people,dc=example,dc=com" \
    --set "to-dn-pattern:cn={creatorsName},ou=people,o=example"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name description --type constructed \
    --set "conditional-value-pattern:(pwdAccountLockedTime=*) : locked" --set "value-pattern:open" \
    --set also-depends-on-src-attribute:pwdChangedTime
dsconfig create-sync-class --pipe-name p --class-name contractors --set evaluation-order-index:1 \
    --set "include-filter:(&(employeeType=contractor)(pwdReset=TRUE))" --set synchronize-creates:false \
    --set auto-mapped-source-attribute:cn
dsconfig create-sync-class --pipe-name p --class-name staff --set evaluation-order-index:2 \
    --set attribute-map:m --set dn-map:by-creator --set auto-mapped-source-attribute:cn
"#,
        );
        let attrs = m.source_attributes("entryUUID");
        // `*` brings employeeType (a user attribute that only a filter reads); the operational attributes that
        // a filter, a conditional value pattern, also-depends-on-src-attribute and a DN pattern read are named.
        assert_eq!(attrs[..2], ["*", "entryUUID"]);
        for a in ["pwdReset", "pwdAccountLockedTime", "pwdChangedTime", "creatorsName"] {
            assert!(attrs.iter().any(|x| x.eq_ignore_ascii_case(a)), "{a} missing from {attrs:?}");
        }
    }

    #[test]
    fn ad_intermediates_are_mapped_only_by_name() {
        let m = pipe(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name ds-pwp-account-disabled --type direct \
    --set from-attribute:ds-pwp-account-disabled-from-ad
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m --set auto-mapped-source-attribute:-all-
"#,
        );
        let c = m.class("c").unwrap();
        let source = entry(
            "cn=a,dc=example,dc=com",
            &[
                ("cn", "a"),
                ("ds-pwp-account-disabled-from-ad", "true"),
                ("pwdAccountLockedTimeFromAD", "20261204183000Z"),
                ("pwdChangedTimeFromAD", "20261204183000Z"),
            ],
        );
        let mapped = c.map_entry(&source).unwrap();
        assert_eq!(mapped.texts("cn"), ["a"]);
        assert_eq!(mapped.texts("ds-pwp-account-disabled"), ["true"]);
        for a in ["ds-pwp-account-disabled-from-ad", "pwdAccountLockedTimeFromAD", "pwdChangedTimeFromAD"] {
            assert!(!mapped.has(a), "{a} was auto-mapped");
        }
        // ds-pwp-account-disabled is operational at PingDirectory: fetched by name for the diff.
        assert!(c.destination_attributes().iter().any(|a| a == "ds-pwp-account-disabled"));
    }

    #[test]
    fn accessors() {
        let m = pipe(
            r#"
dsconfig create-sync-class --pipe-name p --class-name c \
    --set synchronize-creates:false \
    --set modifies-as-creates:true --set creates-as-modifies:true \
    --set destination-correlation-attributes:dn,uid \
    --set destination-correlation-attributes:uid,employeeNumber \
    --set destination-create-only-attribute:employeeNumber
dsconfig create-sync-class --pipe-name p --class-name d \
    --set destination-correlation-attributes:dn \
    --set destination-correlation-attributes-on-delete:entryUUID
"#,
        );
        let c = m.class("c").unwrap();
        assert!(!c.creates());
        assert!(c.modifies());
        assert!(c.deletes());
        assert!(c.modifies_as_creates());
        assert!(c.creates_as_modifies());
        assert!(!c.ignore_zero_length_values());
        assert!(!c.replace_all_attr_values());
        assert_eq!(c.correlation(), [vec!["dn", "uid"], vec!["uid", "employeeNumber"]]);
        assert_eq!(c.correlation_on_delete(), c.correlation());
        assert_eq!(c.create_only_attributes(), ["employeeNumber"]);
        let d = m.class("d").unwrap();
        assert_eq!(d.correlation_on_delete(), [vec!["entryUUID"]]);
        assert_eq!(d.correlation(), [vec!["dn"]]);
    }
}
