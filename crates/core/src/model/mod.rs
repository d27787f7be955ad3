//! The configuration model, declared once as data.
//!
//! Every object type that dsconfig knows is one [`ObjectType`]: ferrosync's own in [`types::OBJECT_TYPES`] (its
//! subcommand name, naming argument, parent, `--type` variants and properties: syntax, multiplicity, default,
//! sensitivity, description), and the other object types of a PingDataSync server, which ferrosync stores but
//! does not use, in [`catalog::CATALOG`]. Parsing, validation, `--help`, `list-properties`, error messages and
//! the interactive menu all read these tables ([`all_types`]); nothing matches on an object type by hand.
//!
//! An object that ferrosync does not use (its type or its `--type` variant is marked unused) also accepts the
//! properties the model does not declare ([`open_property`]): Ping's configuration has hundreds that
//! ferrosync never reads, and its batch files set them.

pub mod catalog;
pub mod types;

use std::collections::BTreeMap;
use std::sync::Mutex;
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
            Category::Directory => {
                "Other PingDataSync and PingDirectory objects (stored and shown, not used by ferrosync)"
            }
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

    /// The property called `name` for the given variant: a declared one, else, for an object ferrosync does
    /// not use, any well-formed property name ([`open_property`]).
    pub fn property(&self, variant: Option<&str>, name: &str) -> Option<&'static PropertyDef> {
        self.properties(variant).into_iter().find(|p| p.name.eq_ignore_ascii_case(name)).or_else(|| {
            if self.is_unused(variant) {
                open_property(name)
            } else {
                None
            }
        })
    }

    /// Whether ferrosync does not use objects of this type with this variant (stored and shown only).
    pub fn is_unused(&self, variant: Option<&str>) -> bool {
        self.unused || variant.and_then(|v| self.variant(v)).is_some_and(|v| v.unused)
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

/// Every object type: ferrosync's, then the catalog of Ping's types that ferrosync stores but does not use.
pub fn all_types() -> impl Iterator<Item = &'static ObjectType> {
    OBJECT_TYPES.iter().chain(catalog::CATALOG.iter())
}

/// The object type called `name` (its singular subcommand name).
pub fn find_type(name: &str) -> Option<&'static ObjectType> {
    all_types().find(|t| t.name == name)
}

/// The object type whose plural is `plural`.
pub fn find_type_by_plural(plural: &str) -> Option<&'static ObjectType> {
    all_types().find(|t| t.plural == plural)
}

/// The last words of property names that hold secrets (`bind-password`, `key-store-pin`, `client-secret`,
/// `auth-token`, `api-key`): an undeclared property so named is sealed and masked like a declared secret.
const SECRET_NAME_ENDINGS: &[&str] = &["password", "pin", "secret", "token", "passphrase", "key", "credentials"];

/// Whether an undeclared property called `name` holds a secret (see [`SECRET_NAME_ENDINGS`]).
pub fn is_secret_name(name: &str) -> bool {
    name.rsplit('-').next().is_some_and(|last| SECRET_NAME_ENDINGS.iter().any(|e| last.eq_ignore_ascii_case(e)))
}

/// Whether `name` is spelled as Ping's property names are: lower-case letters, digits and `-`, starting with a
/// letter, at most 100 characters.
fn is_property_name(name: &str) -> bool {
    name.len() <= 100
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

const OPEN_DESCRIPTION: &str =
    "A property of PingDataSync's that ferrosync's model does not declare: stored as given, not used.";

/// The definition of an undeclared property `name` of an object ferrosync does not use: free text, multi-valued
/// unless its name says it holds a secret ([`is_secret_name`]: then single-valued, sealed and masked). `None` when
/// `name` is not spelled as a property name. Each name gets one definition for the life of the process (they
/// are interned: the model hands out `&'static` definitions).
pub fn open_property(name: &str) -> Option<&'static PropertyDef> {
    static OPEN: Mutex<BTreeMap<String, &'static PropertyDef>> = Mutex::new(BTreeMap::new());
    let name = name.trim().to_ascii_lowercase();
    if !is_property_name(&name) {
        return None;
    }
    let mut open = OPEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(def) = open.get(&name) {
        return Some(def);
    }
    let interned: &'static str = Box::leak(name.clone().into_boxed_str());
    let mut def = PropertyDef::new(interned, Syntax::String, OPEN_DESCRIPTION).unused();
    if is_secret_name(&name) {
        def = def.sensitive();
    } else {
        def = def.multi();
    }
    let def: &'static PropertyDef = Box::leak(Box::new(def));
    open.insert(name, def);
    Some(def)
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
        let mut plurals = std::collections::BTreeSet::new();
        for t in all_types() {
            assert!(plurals.insert(t.plural), "plural {} declared twice", t.plural);
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
        for t in catalog::CATALOG {
            assert!(t.unused && t.variants.iter().all(|v| v.unused), "{}: the catalog holds unused types", t.name);
            assert!(find_type(t.name).is_some_and(|f| std::ptr::eq(f, t)), "{} is also one of ferrosync's", t.name);
        }
        for t in all_types().filter(|t| t.singleton) {
            let n = types::BUILTIN_OBJECTS.iter().filter(|b| b.type_name == t.name).count();
            assert_eq!(n, 1, "the singleton {} is built in once", t.name);
        }
        for b in types::BUILTIN_OBJECTS {
            let t = find_type(b.type_name).unwrap_or_else(|| panic!("builtin of unknown type {}", b.type_name));
            assert_eq!(b.variant.is_some(), !t.variants.is_empty(), "builtin {} '{}': --type", t.name, b.name);
            if let Some(v) = b.variant {
                assert!(
                    t.variant(v).is_some_and(|found| found.name == v),
                    "builtin {} '{}': --type {v}",
                    t.name,
                    b.name
                );
            }
            for (p, v) in b.props {
                let def = t.property(b.variant, p).unwrap_or_else(|| panic!("builtin {}: unknown {p}", b.type_name));
                assert!(check_value(&def.syntax, v).is_ok(), "builtin {}.{p}: {v}", b.type_name);
            }
        }
    }

    /// An object ferrosync does not use takes the properties of Ping's that the model does not declare; one
    /// whose name says it is a secret is sealed and masked; a used object still refuses them.
    #[test]
    fn unused_objects_take_undeclared_properties_and_know_their_secrets() {
        let acl = find_type("access-control-handler").unwrap();
        let aci = acl.property(Some("dsee-compat"), "global-aci").unwrap();
        assert!(aci.multi && !aci.sensitive && aci.unused, "{aci:?}");
        assert!(std::ptr::eq(aci, acl.property(None, "Global-ACI").unwrap()), "one definition per name");
        let pin = find_type("connection-handler").unwrap().property(Some("ldap"), "key-store-pin").unwrap();
        assert!(pin.sensitive && !pin.multi, "{pin:?}");
        assert!(acl.property(None, "not a name").is_none() && acl.property(None, "-x").is_none());
        assert!(find_type("sync-pipe").unwrap().property(None, "global-aci").is_none());
        let server = find_type("external-server").unwrap();
        assert!(server.property(Some("generic-ldap"), "listen-port").is_none(), "a used variant is strict");
        assert!(server.property(Some("kafka-cluster"), "listen-port").is_some(), "an unused variant is not");
        for secret in ["bind-password", "key-store-pin", "oauth-client-secret", "auth-token", "api-key"] {
            assert!(is_secret_name(secret), "{secret}");
        }
        for plain in ["passphrase-provider", "password-attribute", "key-manager-provider", "pin-file", "global-aci"] {
            assert!(!is_secret_name(plain), "{plain}");
        }
        let obscured = find_type("obscured-value").unwrap().property(None, "obscured-value").unwrap();
        assert!(obscured.sensitive, "declared where the name does not say it");
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

    /// Ping's other names of a `--type` (pingdatasync-reference.md, sections b and e) select ferrosync's variant.
    #[test]
    fn pings_type_aliases_select_the_variant() {
        let canonical = |t: &str, v: &str| find_type(t).and_then(|t| t.variant(v)).map(|v| v.name);
        for (t, alias, name) in [
            ("external-server", "ldap", "generic-ldap"),
            ("sync-source", "ldap", "generic-ldap"),
            ("sync-source", "ping-one", "ping-one-customer"),
            ("sync-destination", "ldap", "generic-ldap"),
            ("sync-destination", "ping-directory", "ping-identity"),
            ("sync-destination", "PING-ONE", "ping-one-customer"),
        ] {
            assert_eq!(canonical(t, alias), Some(name), "{t} --type {alias}");
        }
        for t in all_types() {
            let mut seen = std::collections::BTreeSet::new();
            for v in t.variants {
                for n in std::iter::once(&v.name).chain(v.aliases) {
                    assert!(seen.insert(n.to_ascii_lowercase()), "{}: --type {n} names two variants", t.name);
                }
            }
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
