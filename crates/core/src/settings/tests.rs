//! The model walk: every property of every object type and variant that ferrosync uses is read by a settings
//! builder, unless the model marks it `unused`; and every unused property is shown as such.

use std::collections::BTreeSet;

use super::{build_any, record, SettingsError};
use crate::config::ConfigObject;
use crate::model::{ObjectType, PropertyDef, Syntax, OBJECT_TYPES};

/// Properties that only describe an object to its operators: no builder has a use for them.
const INFORMATIONAL: &[&str] = &["description"];

/// A valid value of `def`, by its syntax.
fn sample(def: &PropertyDef) -> String {
    match (def.name, def.syntax) {
        ("from-dn-pattern", _) => "*,dc=example,dc=com".into(),
        ("to-dn-pattern", _) => "{1},o=example".into(),
        ("base-context-path", _) => "/x".into(),
        ("additional-response-contents", _) => "{\"site\":\"east\"}".into(),
        (_, Syntax::String) => "x".into(),
        (_, Syntax::Integer { min, max }) => {
            let n = min.unwrap_or(1).max(1);
            max.map_or(n, |m| n.min(m)).to_string()
        }
        // false: true for both of direct's base64 flags would be refused before the rest is read.
        (_, Syntax::Boolean) => "false".into(),
        (_, Syntax::Duration) => "5 s".into(),
        (_, Syntax::Size) => "1 mb".into(),
        (_, Syntax::Dn) => "dc=example,dc=com".into(),
        (_, Syntax::Filter) => "(objectClass=*)".into(),
        (_, Syntax::ValuePattern) => "{uid}".into(),
        (_, Syntax::ConditionalValuePattern) => "(uid=*) : {uid}".into(),
        (_, Syntax::DnPattern) => "*,dc=example,dc=com".into(),
        (_, Syntax::Url) => "https://example.com/v1".into(),
        (_, Syntax::Enum(values)) => values[0].into(),
        (_, Syntax::Reference(_)) => "r".into(),
        (_, Syntax::AttributeName) => "cn".into(),
        (_, Syntax::AttributeList) => "dn,uid".into(),
        (_, Syntax::Path) => "file".into(),
    }
}

fn object(t: &'static ObjectType, variant: Option<&str>, props: impl Fn(&PropertyDef) -> bool) -> ConfigObject {
    let names = if t.singleton { Vec::new() } else { t.lineage().iter().map(|l| format!("{}-name", l.name)).collect() };
    let mut obj = ConfigObject::new(t, names, variant.map(str::to_string));
    for def in t.properties(variant) {
        if props(def) {
            obj.props.insert(def.name.to_string(), vec![sample(def)]);
        }
    }
    obj
}

/// Every (type, variant) that ferrosync uses.
fn used() -> Vec<(&'static ObjectType, Option<&'static str>)> {
    let mut out = Vec::new();
    for t in OBJECT_TYPES.iter().filter(|t| !t.unused) {
        if t.variants.is_empty() {
            out.push((t, None));
        }
        for v in t.variants.iter().filter(|v| !v.unused) {
            out.push((t, Some(v.name)));
        }
    }
    out
}

fn what(t: &ObjectType, variant: Option<&str>) -> String {
    match variant {
        Some(v) => format!("{} --type {v}", t.name),
        None => t.name.to_string(),
    }
}

#[test]
fn every_used_property_is_read_by_a_builder() {
    let mut problems = Vec::new();
    for (t, variant) in used() {
        let one_of: Vec<&str> = variant
            .and_then(|v| t.variant(v))
            .map(|v| v.one_of.iter().filter_map(|set| set.first().copied()).collect())
            .unwrap_or_default();
        let full = object(t, variant, |_| true);
        let minimal = object(t, variant, |d| (d.required && d.default.is_empty()) || one_of.contains(&d.name));
        for (shape, obj) in [("every property set", &full), ("defaults only", &minimal)] {
            let (result, reads) = record(|| build_any(obj));
            match result {
                Ok(true) => {}
                // A builder may refuse a combination (both include- and exclude-field, say) after reading it.
                Err(SettingsError::Invalid { .. }) if shape == "every property set" => {}
                // With only the model's required properties, a builder may still need one of several (a
                // PingOne client id under its new or old name, a JSON field's source): nothing more to check.
                Err(SettingsError::Missing { .. } | SettingsError::Invalid { .. }) if shape == "defaults only" => {
                    continue
                }
                Ok(false) => {
                    problems.push(format!("{}: no settings builder", what(t, variant)));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("{} ({shape}): {e}", what(t, variant)));
                    continue;
                }
            }
            let read: BTreeSet<&str> = reads.iter().map(|r| r.property).collect();
            for def in t.properties(variant) {
                let is_read = read.contains(def.name);
                if def.unused && is_read {
                    problems.push(format!("{} ({shape}): '{}' is marked unused but read", what(t, variant), def.name));
                }
                if !def.unused && !is_read && !INFORMATIONAL.contains(&def.name) {
                    problems.push(format!(
                        "{} ({shape}): '{}' is read by no builder: read it, or mark it .unused() in the model",
                        what(t, variant),
                        def.name
                    ));
                }
            }
            for r in &reads {
                if r.object_type != t.name {
                    problems.push(format!("{}: a builder read {} of {}", what(t, variant), r.property, r.object_type));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn reads_are_typed_and_secrets_are_not_recorded() {
    use super::Typed;
    let t = crate::model::find_type("external-server").unwrap();
    let mut obj = object(t, Some("generic-ldap"), |d| d.required);
    obj.props.insert("password".into(), vec!["sealed-value".into()]);
    obj.props.insert("response-timeout".into(), vec!["2 s".into()]);
    let (result, reads) = record(|| super::LdapServerSettings::read(&super::Reader::new(&obj)));
    let s = result.unwrap();
    assert_eq!(s.port, 389, "the model's default");
    assert_eq!(s.response_timeout, std::time::Duration::from_secs(2));
    let get = |p: &str| reads.iter().find(|r| r.property == p).map(|r| r.value.clone());
    assert_eq!(get("server-port"), Some(Typed::Integer(Some(389))));
    assert_eq!(get("response-timeout"), Some(Typed::Duration(Some(std::time::Duration::from_secs(2)))));
    assert_eq!(get("connection-security"), Some(Typed::Choice(vec!["none"])));
    assert_eq!(get("password"), Some(Typed::Secret(true)));
    assert!(!format!("{reads:?}{s:?}").contains("sealed-value"));
    // Outside `record`, nothing is kept.
    let (_, none) = record(|| ());
    assert!(none.is_empty());
}

#[test]
fn a_builder_cannot_read_an_undeclared_property() {
    let t = crate::model::find_type("sync-pipe").unwrap();
    let obj = object(t, None, |d| d.required);
    let err = super::Reader::new(&obj).text("no-such-property").unwrap_err();
    assert!(matches!(err, SettingsError::UndeclaredProperty { .. }), "{err}");
}

#[test]
fn every_unused_property_is_shown_as_unused() {
    for t in OBJECT_TYPES.iter() {
        let variants: Vec<Option<&str>> =
            if t.variants.is_empty() { vec![None] } else { t.variants.iter().map(|v| Some(v.name)).collect() };
        for v in variants {
            for def in t.properties(v).into_iter().filter(|d| d.unused) {
                let text = crate::dsconfig::render::list_properties(Some(t), Some(def.name), true);
                let header = match v {
                    Some(v) => format!("{} (--type {v}):", t.display),
                    None => format!("{}:", t.display),
                };
                let line = text
                    .lines()
                    .skip_while(|l| *l != header)
                    .take_while(|l| !l.is_empty())
                    .find(|l| l.trim_start().starts_with(&format!("{} ", def.name)) || l.trim() == def.name)
                    .unwrap_or_else(|| panic!("{header} list-properties does not show '{}':\n{text}", def.name));
                assert!(line.contains("not used by ferrosync"), "{header} {line}");
            }
        }
    }
}
