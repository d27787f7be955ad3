//! Typed settings: each configuration object that the engine, the endpoints and the tools use is read once
//! into a typed struct, with its defaults taken from the model ([`crate::model::types`]) and nowhere else.
//!
//! Every builder reads its object through a [`Reader`], which parses each value by the property's syntax
//! (durations with [`crate::syntax::duration`], integers, booleans, enums into Rust enums, DNs, filters and
//! patterns) and refuses a property that the model does not declare for the object's type and variant. While
//! [`record`] runs, the reader notes every property read with its typed value: the test at the bottom of this
//! module walks the model and checks that every property not marked `unused` is read by a builder.
//!
//! | module | settings |
//! |---|---|
//! | [`pipe`] | sync pipes, sync classes, JSON attributes, the global sync configuration |
//! | [`mapping`] | attribute mappings, JSON attribute mapping fields, DN maps |
//! | [`server`] | external servers (LDAP, SCIM 2.0) |
//! | [`endpoint`] | sync sources and destinations of each kind |
//! | [`scim`] | SCIM 2.0 attribute and endpoint mappings, HTTP authorization methods |
//! | [`security`] | passphrase and trust manager providers |
//! | [`http`] | HTTP connection handlers, servlet extensions, key manager providers |
//! | [`jdbc`] | the `jdbc` external server and sync destination (a PostgreSQL table) |
//! | [`log`] | log publishers |

pub mod endpoint;
pub mod http;
pub mod jdbc;
pub mod log;
pub mod mapping;
pub mod pipe;
pub mod scim;
pub mod security;
pub mod server;

use std::cell::RefCell;
use std::time::Duration;

use crate::config::{Config, ConfigObject};
use crate::model::{PropertyDef, Syntax};
use crate::syntax::{ConditionalValuePattern, Dn, Filter, ValuePattern};

pub use endpoint::{
    LdapDestinationSettings, LdapEndpointSettings, LdapSourceSettings, PingOneDestinationSettings, PingOneSettings,
    PingOneSourceSettings, Scim2DestinationSettings, SourceKind,
};
pub use http::{
    AvailabilitySettings, HttpHandlerSettings, KeyManagerSettings, KeyStoreSettings, ServletKind, ServletSettings,
};
pub use jdbc::{
    ChildTableMap, ColumnMap, DestinationTable, JdbcDestinationSettings, JdbcServerSettings, JdbcSourceSettings,
};
pub use log::{LogPublisherKind, LogPublisherSettings};
pub use mapping::{AttributeMappingKind, AttributeMappingSettings, DnMapSettings, JsonFieldSettings};
pub use pipe::{
    GlobalSyncSettings, JsonAttributeSettings, RetrySettings, SyncClassSettings, SyncMode, SyncPipeSettings,
};
pub use scim::{HttpAuthSettings, Scim2AttributeMappingSettings, Scim2EndpointMappingSettings};
pub use security::{PassphraseProviderSettings, TrustManagerSettings, TrustSource};
pub use server::{
    AuthenticationMethod, ConnectionSecurity, HostnameVerification, LdapServerSettings, Scim2ServerSettings,
};

/// Why settings could not be built from the configuration.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("invalid value '{value}' for property '{property}' of the {object}: {reason}")]
    InvalidValue { object: String, property: String, value: String, reason: String },
    #[error("the {object} needs a value for '{property}'")]
    Missing { object: String, property: String },
    #[error("the {object}: {reason}")]
    Invalid { object: String, reason: String },
    #[error("there is no {object}")]
    NoSuchObject { object: String },
    /// A builder asked for a property the model does not declare: a bug, caught by the model walk test.
    #[error("internal error: the {object} has no property '{property}' in the model")]
    UndeclaredProperty { object: String, property: String },
}

/// A property value as a builder read it, for [`record`].
#[derive(Clone, Debug, PartialEq)]
pub enum Typed {
    Text(Vec<String>),
    Bool(bool),
    Integer(Option<i64>),
    Duration(Option<Duration>),
    Choice(Vec<&'static str>),
    /// A sensitive value: only whether it is set.
    Secret(bool),
}

/// One property read by a builder.
#[derive(Clone, Debug, PartialEq)]
pub struct Read {
    pub object_type: &'static str,
    pub variant: Option<String>,
    pub property: &'static str,
    pub value: Typed,
}

thread_local! {
    static RECORDING: RefCell<Option<Vec<Read>>> = const { RefCell::new(None) };
}

/// Runs `f` and returns what it returned with every property that readers on this thread read meanwhile.
pub fn record<T>(f: impl FnOnce() -> T) -> (T, Vec<Read>) {
    let outer = RECORDING.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = f();
    let reads = RECORDING.with(|r| {
        let mut slot = r.borrow_mut();
        let mine = slot.take().unwrap_or_default();
        if let Some(mut outer) = outer {
            outer.extend(mine.iter().cloned());
            *slot = Some(outer);
        }
        mine
    });
    (out, reads)
}

/// An enum property read into a Rust enum: each configuration word and its value.
pub trait Choice: Sized + Copy + 'static {
    const WORDS: &'static [(&'static str, Self)];
}

/// Declares a Rust enum for an enum property: `choice! { pub enum Mode { Standard = "standard", ... } }`.
#[macro_export]
macro_rules! choice {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vm])* $variant),+ }
        impl $crate::settings::Choice for $name {
            const WORDS: &'static [(&'static str, Self)] = &[$(($word, $name::$variant)),+];
        }
    };
}

/// A sensitive value and the passphrase provider that may supply it instead, as configured (still sealed).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSetting {
    /// The property that holds the sealed value.
    pub property: &'static str,
    /// The sealed (encrypted) stored value.
    pub sealed: Option<String>,
    /// The passphrase provider named by the provider property.
    pub provider: Option<String>,
    /// For messages: the owner's label, type name, naming argument and name.
    pub owner: Owner,
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSetting")
            .field("property", &self.property)
            .field("sealed", &self.sealed.as_ref().map(|_| crate::secret::MASK))
            .field("provider", &self.provider)
            .finish()
    }
}

impl SecretSetting {
    /// Whether a value or a provider is configured.
    pub fn is_configured(&self) -> bool {
        self.sealed.is_some() || self.provider.is_some()
    }
}

/// The object that owns a setting, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub label: String,
    pub type_name: &'static str,
    pub naming_arg: &'static str,
    pub name: String,
}

/// Reads one configuration object's properties, typed, with the model's defaults.
pub struct Reader<'a> {
    obj: &'a ConfigObject,
}

impl<'a> Reader<'a> {
    pub fn new(obj: &'a ConfigObject) -> Self {
        Reader { obj }
    }

    pub fn object(&self) -> &'a ConfigObject {
        self.obj
    }

    pub fn name(&self) -> &'a str {
        self.obj.name()
    }

    pub fn label(&self) -> String {
        self.obj.label()
    }

    pub fn variant(&self) -> Option<&'a str> {
        self.obj.variant.as_deref()
    }

    pub fn owner(&self) -> Owner {
        Owner {
            label: self.obj.label(),
            type_name: self.obj.object_type.name,
            naming_arg: self.obj.object_type.naming_arg,
            name: self.obj.name().to_string(),
        }
    }

    fn def(&self, prop: &str) -> Result<&'static PropertyDef, SettingsError> {
        self.obj
            .property(prop)
            .ok_or_else(|| SettingsError::UndeclaredProperty { object: self.obj.label(), property: prop.to_string() })
    }

    fn note(&self, def: &'static PropertyDef, value: Typed) {
        RECORDING.with(|r| {
            if let Some(reads) = r.borrow_mut().as_mut() {
                reads.push(Read {
                    object_type: self.obj.object_type.name,
                    variant: self.obj.variant.clone(),
                    property: def.name,
                    value,
                });
            }
        });
    }

    fn invalid(&self, def: &PropertyDef, value: &str, reason: impl ToString) -> SettingsError {
        SettingsError::InvalidValue {
            object: self.obj.label(),
            property: def.name.to_string(),
            value: if def.sensitive { crate::secret::MASK.to_string() } else { value.to_string() },
            reason: reason.to_string(),
        }
    }

    fn missing(&self, def: &PropertyDef) -> SettingsError {
        SettingsError::Missing { object: self.obj.label(), property: def.name.to_string() }
    }

    /// The values (explicit, else the model's default), trimmed, without empty ones.
    fn raw(&self, def: &PropertyDef) -> Vec<&'a str> {
        self.obj.values(def.name).into_iter().map(str::trim).filter(|v| !v.is_empty()).collect()
    }

    /// Whether the model declares `prop` for this object's variant.
    pub fn declares(&self, prop: &str) -> bool {
        self.obj.property(prop).is_some()
    }

    /// Whether `prop` has an explicit value (not its default).
    pub fn is_set(&self, prop: &str) -> Result<bool, SettingsError> {
        let def = self.def(prop)?;
        Ok(self.obj.is_set(def.name))
    }

    /// Every value of a text-like property (strings, names, DNs as text, URLs, paths, references).
    pub fn texts(&self, prop: &str) -> Result<Vec<String>, SettingsError> {
        let def = self.def(prop)?;
        let values: Vec<String> = self.raw(def).into_iter().map(str::to_string).collect();
        self.note(def, if def.sensitive { Typed::Secret(!values.is_empty()) } else { Typed::Text(values.clone()) });
        Ok(values)
    }

    /// The value of a single-valued text-like property.
    pub fn text(&self, prop: &str) -> Result<Option<String>, SettingsError> {
        Ok(self.texts(prop)?.into_iter().next())
    }

    /// The value of a text-like property that must have one.
    pub fn required_text(&self, prop: &str) -> Result<String, SettingsError> {
        let def = self.def(prop)?;
        self.text(prop)?.ok_or_else(|| self.missing(def))
    }

    /// A boolean property; false when it has neither a value nor a default.
    pub fn flag(&self, prop: &str) -> Result<bool, SettingsError> {
        let def = self.def(prop)?;
        let b = match self.raw(def).first() {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(self.invalid(def, v, "expected true or false")),
        };
        self.note(def, Typed::Bool(b));
        Ok(b)
    }

    /// An integer property, converted to `T` (the model's bounds were checked when it was set).
    pub fn integer<T: TryFrom<i64>>(&self, prop: &str) -> Result<Option<T>, SettingsError> {
        let def = self.def(prop)?;
        let n = match self.raw(def).first() {
            None => None,
            Some(v) => {
                let n: i64 = v.parse().map_err(|_| self.invalid(def, v, "not an integer"))?;
                if let Syntax::Integer { min, max } = def.syntax {
                    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                        return Err(self.invalid(def, v, format!("out of range: expected {}", def.syntax.describe())));
                    }
                }
                Some(n)
            }
        };
        self.note(def, Typed::Integer(n));
        n.map(|n| T::try_from(n).map_err(|_| self.invalid(def, &n.to_string(), "out of range"))).transpose()
    }

    /// An integer property that has a default (or must be set).
    pub fn required_integer<T: TryFrom<i64>>(&self, prop: &str) -> Result<T, SettingsError> {
        let def = self.def(prop)?;
        self.integer(prop)?.ok_or_else(|| self.missing(def))
    }

    /// A duration property.
    pub fn duration(&self, prop: &str) -> Result<Option<Duration>, SettingsError> {
        let def = self.def(prop)?;
        let d = match self.raw(def).first() {
            None => None,
            Some(v) => Some(crate::syntax::duration::parse_duration(v).map_err(|e| self.invalid(def, v, e))?),
        };
        self.note(def, Typed::Duration(d));
        Ok(d)
    }

    /// A duration property that has a default (or must be set).
    pub fn required_duration(&self, prop: &str) -> Result<Duration, SettingsError> {
        let def = self.def(prop)?;
        self.duration(prop)?.ok_or_else(|| self.missing(def))
    }

    /// A size property (`10 mb`), in bytes.
    pub fn size(&self, prop: &str) -> Result<Option<u64>, SettingsError> {
        let def = self.def(prop)?;
        let n = match self.raw(def).first() {
            None => None,
            Some(v) => Some(crate::syntax::parse_size(v).map_err(|e| self.invalid(def, v, e))?),
        };
        self.note(def, Typed::Integer(n.map(|n| i64::try_from(n).unwrap_or(i64::MAX))));
        Ok(n)
    }

    /// A size property that has a default (or must be set).
    pub fn required_size(&self, prop: &str) -> Result<u64, SettingsError> {
        let def = self.def(prop)?;
        self.size(prop)?.ok_or_else(|| self.missing(def))
    }

    /// Every value of an enum property, as `E`.
    pub fn choices<E: Choice>(&self, prop: &str) -> Result<Vec<E>, SettingsError> {
        let def = self.def(prop)?;
        if let Syntax::Enum(words) = def.syntax {
            // The Rust enum must know every word of the model (caught by the model walk test).
            if let Some(w) = words.iter().find(|w| !E::WORDS.iter().any(|(x, _)| x.eq_ignore_ascii_case(w))) {
                return Err(self.invalid(def, w, "this value is not known to ferrosync's settings (a bug)"));
            }
        }
        let mut out = Vec::new();
        let mut words = Vec::new();
        for v in self.raw(def) {
            let (word, e) = E::WORDS
                .iter()
                .find(|(w, _)| w.eq_ignore_ascii_case(v))
                .ok_or_else(|| self.invalid(def, v, format!("expected {}", def.syntax.describe())))?;
            out.push(*e);
            words.push(*word);
        }
        self.note(def, Typed::Choice(words));
        Ok(out)
    }

    /// A single-valued enum property.
    pub fn choice<E: Choice>(&self, prop: &str) -> Result<Option<E>, SettingsError> {
        Ok(self.choices(prop)?.into_iter().next())
    }

    /// An enum property that has a default (or must be set).
    pub fn required_choice<E: Choice>(&self, prop: &str) -> Result<E, SettingsError> {
        let def = self.def(prop)?;
        self.choice(prop)?.ok_or_else(|| self.missing(def))
    }

    fn parsed<T, E: ToString>(
        &self,
        prop: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Vec<T>, SettingsError> {
        let def = self.def(prop)?;
        let raw = self.raw(def);
        let mut out = Vec::new();
        for v in &raw {
            out.push(parse(v).map_err(|e| self.invalid(def, v, e))?);
        }
        self.note(def, Typed::Text(raw.iter().map(|s| s.to_string()).collect()));
        Ok(out)
    }

    /// Every value of a DN property, parsed.
    pub fn dns(&self, prop: &str) -> Result<Vec<Dn>, SettingsError> {
        self.parsed(prop, Dn::parse)
    }

    /// Every value of a filter property, parsed.
    pub fn filters(&self, prop: &str) -> Result<Vec<Filter>, SettingsError> {
        self.parsed(prop, Filter::parse)
    }

    /// Every value of a value-pattern property, parsed.
    pub fn value_patterns(&self, prop: &str) -> Result<Vec<ValuePattern>, SettingsError> {
        self.parsed(prop, ValuePattern::parse)
    }

    /// Every value of a conditional-value-pattern property, parsed.
    pub fn conditional_value_patterns(&self, prop: &str) -> Result<Vec<ConditionalValuePattern>, SettingsError> {
        self.parsed(prop, ConditionalValuePattern::parse)
    }

    /// Every value of an attribute-list property (`dn,uid`), split into names; empty lists left out.
    pub fn attribute_lists(&self, prop: &str) -> Result<Vec<Vec<String>>, SettingsError> {
        Ok(self
            .texts(prop)?
            .iter()
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>())
            .filter(|l| !l.is_empty())
            .collect())
    }

    /// A sensitive property (still sealed) and, when given, the passphrase-provider property that may supply
    /// it instead.
    pub fn secret(&self, prop: &str, provider_prop: Option<&str>) -> Result<SecretSetting, SettingsError> {
        let def = self.def(prop)?;
        let sealed = self.obj.first(def.name).map(str::to_string);
        self.note(def, Typed::Secret(sealed.is_some()));
        let provider = match provider_prop {
            Some(p) => self.text(p)?,
            None => None,
        };
        Ok(SecretSetting { property: def.name, sealed, provider, owner: self.owner() })
    }
}

/// The object `name` of type `type_name` (or the singleton), or an error naming it.
pub fn lookup<'c>(config: &'c Config, type_name: &str, name: &str) -> Result<&'c ConfigObject, SettingsError> {
    config.get(type_name, name).ok_or_else(|| SettingsError::NoSuchObject {
        object: match crate::model::find_type(type_name) {
            Some(t) if t.singleton => t.display.to_string(),
            Some(t) => format!("{} '{name}'", t.display),
            None => format!("{type_name} '{name}'"),
        },
    })
}

/// Builds the settings of one object by its type and variant, for the model walk test and for checks of a
/// whole configuration. Returns `Ok(false)` for types and variants that ferrosync does not use.
pub fn build_any(obj: &ConfigObject) -> Result<bool, SettingsError> {
    let r = Reader::new(obj);
    let variant = obj.variant.as_deref().unwrap_or("");
    match obj.object_type.name {
        "external-server" => match variant {
            "scim2" => Scim2ServerSettings::read(&r).map(drop)?,
            "jdbc" => JdbcServerSettings::read(&r).map(drop)?,
            _ if server::is_ldap_variant(variant) => LdapServerSettings::read(&r).map(drop)?,
            _ => return Ok(false),
        },
        "sync-source" if variant == "jdbc" => JdbcSourceSettings::read(&r).map(drop)?,
        "sync-source" => match endpoint::SourceKind::of(variant) {
            Some(SourceKind::PingOne) => PingOneSourceSettings::read(&r).map(drop)?,
            Some(_) => LdapSourceSettings::read(&r).map(drop)?,
            None => return Ok(false),
        },
        "sync-destination" => match variant {
            "scim2" => Scim2DestinationSettings::read(&r).map(drop)?,
            "jdbc" => JdbcDestinationSettings::read(&r).map(drop)?,
            "ping-one-customer" => PingOneDestinationSettings::read(&r).map(drop)?,
            _ if endpoint::is_ldap_destination(variant) => LdapDestinationSettings::read(&r).map(drop)?,
            _ => return Ok(false),
        },
        "sync-pipe" => SyncPipeSettings::read(&r).map(drop)?,
        "sync-class" => SyncClassSettings::read(&r).map(drop)?,
        "json-attribute" => JsonAttributeSettings::read(&r).map(drop)?,
        // An attribute map is only a name and a description: its mappings are its children.
        "attribute-map" => {}
        "attribute-mapping" => AttributeMappingSettings::read(&r).map(drop)?,
        "json-attribute-mapping-field" => JsonFieldSettings::read(&r).map(drop)?,
        "dn-map" => DnMapSettings::read(&r).map(drop)?,
        "scim2-attribute-mapping" => Scim2AttributeMappingSettings::read(&r).map(drop)?,
        "scim2-endpoint-mapping" => Scim2EndpointMappingSettings::read(&r).map(drop)?,
        "global-sync-configuration" => GlobalSyncSettings::read(&r).map(drop)?,
        "http-authorization-method" => HttpAuthSettings::read(&r).map(drop)?,
        "passphrase-provider" => PassphraseProviderSettings::read(&r).map(drop)?,
        "trust-manager-provider" => TrustManagerSettings::read(&r).map(drop)?,
        "connection-handler" if variant == "http" => HttpHandlerSettings::read(&r).map(drop)?,
        "http-servlet-extension" => match ServletSettings::read(&r)? {
            Some(_) => {}
            None => return Ok(false),
        },
        "key-manager-provider" => KeyManagerSettings::read(&r).map(drop)?,
        "log-rotation-policy" => log::read_rotation(&r).map(drop)?,
        "log-retention-policy" => log::read_retention(&r).map(drop)?,
        "log-publisher" => match LogPublisherSettings::read(&r)? {
            Some(_) => {}
            None => return Ok(false),
        },
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
