//! The configuration model, declared once as data.
//!
//! Every object type that dsconfig knows is one [`ObjectType`] in [`types::OBJECT_TYPES`]: its subcommand name,
//! naming argument, parent, `--type` variants and properties (syntax, multiplicity, default, sensitivity,
//! description). Parsing, validation, `--help`, `list-properties`, error messages and the interactive menu all
//! read this one table; nothing matches on an object type by hand.

pub mod types;

use std::time::Duration;

pub use types::OBJECT_TYPES;

/// The syntax of a property's values, checked when the value is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Free text.
    String,
    /// A whole number within optional bounds.
    Integer { min: Option<i64>, max: Option<i64> },
    /// `true` or `false`.
    Boolean,
    /// A duration with a unit: `5 s`, `500 ms`, `2 h`.
    Duration,
    /// A size with a unit: `10 mb`.
    Size,
    /// A distinguished name.
    Dn,
    /// An LDAP search filter (RFC 4515).
    Filter,
    /// A value pattern such as `{givenname}.{sn}@example.com`.
    ValuePattern,
    /// `(filter) : pattern`.
    ConditionalValuePattern,
    /// A DN pattern with `*` and `**` wildcards, or a destination DN template.
    DnPattern,
    /// An absolute URL (http, https, ldap or ldaps).
    Url,
    /// One of a fixed list of words.
    Enum(&'static [&'static str]),
    /// The name of another configuration object of the given type.
    Reference(&'static str),
    /// An attribute name (letters, digits, `-`, `;`, `.`).
    AttributeName,
    /// A comma-separated list of attribute names (`dn,uid`).
    AttributeList,
    /// A file-system path.
    Path,
}

impl Syntax {
    /// A short human description of what is valid, for help and error messages.
    pub fn describe(&self) -> String {
        match self {
            Syntax::String => "a string".into(),
            Syntax::Integer { min, max } => match (min, max) {
                (Some(a), Some(b)) => format!("an integer from {a} to {b}"),
                (Some(a), None) => format!("an integer of at least {a}"),
                (None, Some(b)) => format!("an integer of at most {b}"),
                (None, None) => "an integer".into(),
            },
            Syntax::Boolean => "true or false".into(),
            Syntax::Duration => "a duration such as '500 ms', '5 s', '10 m', '2 h' or '1 d'".into(),
            Syntax::Size => "a size such as '500 kb', '10 mb' or '1 gb'".into(),
            Syntax::Dn => "a DN such as 'ou=people,dc=example,dc=com'".into(),
            Syntax::Filter => "an LDAP filter such as '(objectClass=person)'".into(),
            Syntax::ValuePattern => "a value pattern such as '{givenName}.{sn}@example.com'".into(),
            Syntax::ConditionalValuePattern => "'(filter) : value-pattern'".into(),
            Syntax::DnPattern => "a DN pattern such as '**,ou=people,dc=example,dc=com' or '{1},o=example'".into(),
            Syntax::Url => "an absolute URL such as 'https://host:443/path'".into(),
            Syntax::Enum(values) => format!("one of: {}", values.join(", ")),
            Syntax::Reference(t) => format!("the name of an existing {}", type_display(t)),
            Syntax::AttributeName => "an attribute name".into(),
            Syntax::AttributeList => "a comma-separated list of attribute names such as 'dn,uid'".into(),
            Syntax::Path => "a file path".into(),
        }
    }
}

fn type_display(name: &str) -> &'static str {
    find_type(name).map(|t| t.display).unwrap_or("object")
}

/// One property of an object type.
#[derive(Clone, Copy, Debug)]
pub struct PropertyDef {
    pub name: &'static str,
    pub syntax: Syntax,
    pub multi: bool,
    pub required: bool,
    /// The default values; empty means "no value".
    pub default: &'static [&'static str],
    /// Bind passwords, client secrets, tokens: stored encrypted and shown as `*****`.
    pub sensitive: bool,
    /// Shown only with `--advanced` (or when set).
    pub advanced: bool,
    /// Accepted for compatibility with PingDataSync configurations, but not used by ferrosync.
    pub unused: bool,
    /// Values that ferrosync accepts but treats otherwise than PingDataSync, each with the note printed when a
    /// command sets it (`(value, note)`).
    pub value_notes: &'static [(&'static str, &'static str)],
    pub description: &'static str,
}

impl PropertyDef {
    pub const fn new(name: &'static str, syntax: Syntax, description: &'static str) -> Self {
        PropertyDef {
            name,
            syntax,
            multi: false,
            required: false,
            default: &[],
            sensitive: false,
            advanced: false,
            unused: false,
            value_notes: &[],
            description,
        }
    }
    pub const fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn default(mut self, values: &'static [&'static str]) -> Self {
        self.default = values;
        self
    }
    pub const fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub const fn advanced(mut self) -> Self {
        self.advanced = true;
        self
    }
    pub const fn unused(mut self) -> Self {
        self.unused = true;
        self
    }
    pub const fn value_notes(mut self, notes: &'static [(&'static str, &'static str)]) -> Self {
        self.value_notes = notes;
        self
    }
}

/// A `--type` variant of an object type, with its own properties.
#[derive(Debug)]
pub struct Variant {
    pub name: &'static str,
    pub description: &'static str,
    /// Property groups that this variant has, in addition to the object type's common properties.
    pub groups: &'static [&'static [PropertyDef]],
    /// Accepted for compatibility, but ferrosync does not run this kind of object.
    pub unused: bool,
    /// Sets of properties of which at least one must have a value.
    pub one_of: &'static [&'static [&'static str]],
    /// Other `--type` names Ping's versions use for this one (stored as [`Variant::name`]).
    pub aliases: &'static [&'static str],
}

impl Variant {
    pub const fn new(name: &'static str, description: &'static str, groups: &'static [&'static [PropertyDef]]) -> Self {
        Variant { name, description, groups, unused: false, one_of: &[], aliases: &[] }
    }
    pub const fn unused(mut self) -> Self {
        self.unused = true;
        self
    }
    pub const fn one_of(mut self, sets: &'static [&'static [&'static str]]) -> Self {
        self.one_of = sets;
        self
    }
    pub const fn aliases(mut self, names: &'static [&'static str]) -> Self {
        self.aliases = names;
        self
    }
}

/// A cross-property check run after every change to an object of this type.
pub type ObjectCheck = fn(&crate::config::ConfigObject) -> Result<(), String>;

/// The help categories of `dsconfig --help-CATEGORY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Sync,
    Server,
    Security,
    Logging,
    Directory,
}

impl Category {
    pub const ALL: [Category; 5] =
        [Category::Sync, Category::Server, Category::Security, Category::Logging, Category::Directory];
    pub fn name(self) -> &'static str {
        match self {
            Category::Sync => "sync",
            Category::Server => "server",
            Category::Security => "security",
            Category::Logging => "logging",
            Category::Directory => "directory",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Category::Sync => "Synchronization",
            Category::Server => "External servers and global settings",
            Category::Security => "Security and authentication",
            Category::Logging => "Logging",
            Category::Directory => "PingDirectory objects (accepted for compatibility, not used by ferrosync)",
        }
    }
}

/// An object type, such as `sync-pipe`.
#[derive(Debug)]
pub struct ObjectType {
    /// The name used in subcommands: `create-NAME`, `NAME-prop`.
    pub name: &'static str,
    /// The plural used in `list-PLURAL`.
    pub plural: &'static str,
    /// The human name: "Sync Pipe".
    pub display: &'static str,
    /// The naming argument without dashes: `pipe-name`. Empty for singletons.
    pub naming_arg: &'static str,
    /// The parent object type, for child objects such as sync classes.
    pub parent: Option<&'static str>,
    pub description: &'static str,
    pub category: Category,
    /// Properties that every variant has.
    pub common: &'static [PropertyDef],
    /// The `--type` variants; empty when the type takes no `--type`.
    pub variants: &'static [Variant],
    /// The variant used when `--type` is not given; `None` makes `--type` required when there are variants.
    pub default_variant: Option<&'static str>,
    /// A singleton (such as the global sync configuration) has no name and cannot be created or deleted.
    pub singleton: bool,
    /// Accepted for compatibility, but not used by ferrosync.
    pub unused: bool,
    pub check: Option<ObjectCheck>,
}

impl PartialEq for ObjectType {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ObjectType {}

impl ObjectType {
    /// The variant called `name`.
    pub fn variant(&self, name: &str) -> Option<&'static Variant> {
        let variants: &'static [Variant] = self.variants;
        variants
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
            .or_else(|| variants.iter().find(|v| v.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))))
    }

    /// Every property of this type with the given variant, common ones first.
    pub fn properties(&self, variant: Option<&str>) -> Vec<&'static PropertyDef> {
        let common: &'static [PropertyDef] = self.common;
        let mut out: Vec<&'static PropertyDef> = common.iter().collect();
        if let Some(v) = variant.and_then(|v| self.variant(v)) {
            for group in v.groups {
                for p in group.iter() {
                    if !out.iter().any(|q| q.name == p.name) {
                        out.push(p);
                    }
                }
            }
        }
        out
    }

    /// The property called `name` for the given variant.
    pub fn property(&self, variant: Option<&str>, name: &str) -> Option<&'static PropertyDef> {
        self.properties(variant).into_iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The chain of object types from the root ancestor down to this one.
    pub fn lineage(&'static self) -> Vec<&'static ObjectType> {
        let mut chain = vec![self];
        let mut cur = self;
        while let Some(parent) = cur.parent.and_then(find_type) {
            chain.push(parent);
            cur = parent;
        }
        chain.reverse();
        chain
    }

    /// The naming arguments (without dashes) that identify an object of this type: the parents' first.
    pub fn naming_args(&'static self) -> Vec<&'static str> {
        self.lineage().iter().filter(|t| !t.singleton).map(|t| t.naming_arg).collect()
    }
}

/// The object type called `name` (its singular subcommand name).
pub fn find_type(name: &str) -> Option<&'static ObjectType> {
    OBJECT_TYPES.iter().find(|t| t.name == name)
}

/// The object type whose plural is `plural`.
pub fn find_type_by_plural(plural: &str) -> Option<&'static ObjectType> {
    OBJECT_TYPES.iter().find(|t| t.plural == plural)
}

/// Checks one value against a syntax, returning the value to store (booleans and enums in canonical case).
pub fn check_value(syntax: &Syntax, value: &str) -> Result<String, String> {
    use crate::syntax;
    match syntax {
        Syntax::String | Syntax::Path => Ok(value.to_string()),
        Syntax::Reference(_) => {
            if value.trim().is_empty() {
                Err("an object name cannot be empty".into())
            } else {
                Ok(value.to_string())
            }
        }
        Syntax::Integer { min, max } => {
            let n: i64 = value.trim().parse().map_err(|_| format!("'{value}' is not an integer"))?;
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(format!("{n} is out of range: expected {}", syntax.describe()));
            }
            Ok(n.to_string())
        }
        Syntax::Boolean => match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok("true".into()),
            "false" => Ok("false".into()),
            _ => Err(format!("'{value}' is not a boolean: expected true or false")),
        },
        Syntax::Duration => {
            syntax::duration::parse_duration(value).map(|_| value.trim().to_string()).map_err(|e| e.to_string())
        }
        Syntax::Size => {
            syntax::duration::parse_size(value).map(|_| value.trim().to_string()).map_err(|e| e.to_string())
        }
        Syntax::Dn => syntax::dn::Dn::parse(value).map(|_| value.to_string()).map_err(|e| e.to_string()),
        Syntax::Filter => syntax::filter::Filter::parse(value).map(|_| value.to_string()).map_err(|e| e.to_string()),
        Syntax::ValuePattern => {
            syntax::pattern::ValuePattern::parse(value).map(|_| value.to_string()).map_err(|e| e.to_string())
        }
        Syntax::ConditionalValuePattern => {
            syntax::pattern::ConditionalValuePattern::parse(value).map(|_| value.to_string()).map_err(|e| e.to_string())
        }
        // DN patterns are checked in pairs by the dn-map's object check; here only the basic shape.
        Syntax::DnPattern => {
            if value.trim().is_empty() {
                Err("a DN pattern cannot be empty".into())
            } else {
                Ok(value.to_string())
            }
        }
        Syntax::Url => check_url(value).map(|_| value.to_string()),
        Syntax::Enum(values) => values
            .iter()
            .find(|v| v.eq_ignore_ascii_case(value.trim()))
            .map(|v| v.to_string())
            .ok_or_else(|| format!("'{value}' is not valid: expected {}", syntax.describe())),
        Syntax::AttributeName => check_attribute_name(value).map(|_| value.trim().to_string()),
        Syntax::AttributeList => {
            for (i, part) in value.split(',').enumerate() {
                check_attribute_name(part).map_err(|e| format!("item {} of '{value}': {e}", i + 1))?;
            }
            Ok(value.split(',').map(str::trim).collect::<Vec<_>>().join(","))
        }
    }
}

fn check_attribute_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("an attribute name cannot be empty".into());
    }
    if let Some((i, c)) =
        name.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | ';' | '.' | '_' | '#')))
    {
        return Err(format!("'{name}' is not an attribute name: '{c}' at position {i} is not allowed"));
    }
    Ok(())
}

fn check_url(value: &str) -> Result<(), String> {
    let v = value.trim();
    let Some((scheme, rest)) = v.split_once("://") else {
        return Err(format!("'{value}' is not an absolute URL: expected {}", Syntax::Url.describe()));
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https" | "ldap" | "ldaps") {
        return Err(format!("'{value}': the scheme '{scheme}' is not supported: expected http, https, ldap or ldaps"));
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err(format!("'{value}' has no host name"));
    }
    if let Some((_, port)) = host.rsplit_once(':') {
        if !host.ends_with(']') && port.parse::<u16>().is_err() {
            return Err(format!("'{value}': the port '{port}' is not a number from 0 to 65535"));
        }
    }
    Ok(())
}

/// A duration property's value, parsed.
pub fn duration_value(text: &str) -> Option<Duration> {
    crate::syntax::duration::parse_duration(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks the whole table: every property documented, every default valid for its syntax, every reference to
    /// a known type, every built-in object valid.
    #[test]
    fn the_model_is_consistent() {
        let mut names = std::collections::BTreeSet::new();
        for t in OBJECT_TYPES {
            assert!(names.insert(t.name), "{} declared twice", t.name);
            assert!(!t.description.is_empty(), "{} has no description", t.name);
            assert_eq!(t.singleton, t.naming_arg.is_empty(), "{}: only singletons have no naming argument", t.name);
            if let Some(p) = t.parent {
                assert!(find_type(p).is_some(), "{}: unknown parent {p}", t.name);
            }
            let variants: Vec<Option<&str>> =
                if t.variants.is_empty() { vec![None] } else { t.variants.iter().map(|v| Some(v.name)).collect() };
            for v in variants {
                for p in t.properties(v) {
                    assert!(!p.description.is_empty(), "{}.{} has no description", t.name, p.name);
                    assert!(p.multi || p.default.len() <= 1, "{}.{}: several defaults", t.name, p.name);
                    for d in p.default {
                        if let Syntax::Reference(_) = p.syntax {
                            continue;
                        }
                        assert!(check_value(&p.syntax, d).is_ok(), "{}.{}: bad default {d}", t.name, p.name);
                    }
                    if let Syntax::Reference(to) = p.syntax {
                        assert!(find_type(to).is_some(), "{}.{}: unknown type {to}", t.name, p.name);
                    }
                    assert!(!(p.sensitive && p.multi), "{}.{}: sensitive properties are single-valued", t.name, p.name);
                }
                if let Some(var) = v.and_then(|v| t.variant(v)) {
                    for set in var.one_of {
                        for name in set.iter() {
                            assert!(t.property(v, name).is_some(), "{}: one_of names unknown {name}", t.name);
                        }
                    }
                }
            }
        }
        for b in types::BUILTIN_OBJECTS {
            let t = find_type(b.type_name).unwrap_or_else(|| panic!("builtin of unknown type {}", b.type_name));
            for (p, v) in b.props {
                let def = t.property(b.variant, p).unwrap_or_else(|| panic!("builtin {}: unknown {p}", b.type_name));
                assert!(check_value(&def.syntax, v).is_ok(), "builtin {}.{p}: {v}", b.type_name);
            }
        }
    }

    #[test]
    fn the_fixed_type_names_exist() {
        let has = |t: &str, v: &str| find_type(t).and_then(|t| t.variant(v)).is_some();
        for v in ["ping-identity-ds", "active-directory", "generic-ldap", "scim2"] {
            assert!(has("external-server", v), "external-server {v}");
        }
        for v in ["ping-identity", "generic-ldap", "openldap", "active-directory", "ping-one-customer", "content-sync"]
        {
            assert!(has("sync-source", v), "sync-source {v}");
        }
        for v in ["ping-identity", "generic-ldap", "active-directory", "scim2", "ping-one-customer"] {
            assert!(has("sync-destination", v), "sync-destination {v}");
        }
        for v in ["client-credentials-bearer-token", "static-bearer-token", "basic"] {
            assert!(has("http-authorization-method", v), "http-authorization-method {v}");
        }
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(check_value(&Syntax::Boolean, "TRUE"), Ok("true".into()));
        assert!(check_value(&Syntax::Integer { min: Some(1), max: Some(10) }, "11").is_err());
        assert!(check_value(&Syntax::Url, "https://api.pingone.com/v1").is_ok());
        assert!(check_value(&Syntax::Url, "api.pingone.com").is_err());
        assert!(check_value(&Syntax::Url, "ftp://x").is_err());
        assert_eq!(check_value(&Syntax::AttributeList, "dn, uid"), Ok("dn,uid".into()));
        assert!(check_value(&Syntax::AttributeList, "dn,,uid").is_err());
        assert!(check_value(&Syntax::Enum(&["get", "post"]), "put").unwrap_err().contains("one of: get, post"));
    }
}
