//! The internal entry: an LDAP-like DN plus multi-valued attributes.
//!
//! Every endpoint (LDAP, Active Directory, SCIM 2.0, PingOne) converts its objects to and from this one shape,
//! so the mapping language and the engine see a single model. Attribute names keep the case they were first
//! given, but lookups ignore case, as LDAP does. Values are text, binary (such as `objectGUID`) or JSON (PingOne
//! and SCIM complex attributes), so `{name.given}` JSON paths work in value patterns.

use std::collections::BTreeMap;
use std::fmt;

/// One attribute value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    /// A UTF-8 value: the common case for LDAP.
    Text(String),
    /// A value that is not UTF-8 (`objectGUID`, `jpegPhoto`, ...), compared byte for byte.
    Binary(Vec<u8>),
    /// A JSON value (an object, array, number or boolean) from a JSON-native endpoint.
    Json(serde_json::Value),
}

impl Value {
    /// The value as text: text as is, JSON serialized compactly (a JSON string gives its content), binary
    /// as lossy UTF-8.
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Value::Text(s) => std::borrow::Cow::Borrowed(s),
            Value::Binary(b) => String::from_utf8_lossy(b),
            Value::Json(serde_json::Value::String(s)) => std::borrow::Cow::Borrowed(s),
            Value::Json(j) => std::borrow::Cow::Owned(j.to_string()),
        }
    }

    /// The value's bytes as they would be written to LDAP.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Value::Binary(b) => b.clone(),
            other => other.as_text().into_owned().into_bytes(),
        }
    }

    /// Parses this value as JSON: JSON values as they are, text that holds a JSON document parsed, anything
    /// else `None`.
    pub fn as_json(&self) -> Option<serde_json::Value> {
        match self {
            Value::Json(j) => Some(j.clone()),
            Value::Text(s) => serde_json::from_str(s).ok(),
            Value::Binary(_) => None,
        }
    }

    /// Whether the value is empty (zero-length text or bytes).
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Text(s) => s.is_empty(),
            Value::Binary(b) => b.is_empty(),
            Value::Json(serde_json::Value::String(s)) => s.is_empty(),
            Value::Json(_) => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Binary(b) => write!(f, "<{} bytes>", b.len()),
            other => f.write_str(&other.as_text()),
        }
    }
}

/// An attribute: its name as first given, and its values in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<Value>,
}

/// An entry: a DN and its attributes, looked up by case-insensitive name.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Entry {
    pub dn: String,
    attrs: BTreeMap<String, Attribute>,
}

impl Entry {
    pub fn new(dn: impl Into<String>) -> Self {
        Entry { dn: dn.into(), attrs: BTreeMap::new() }
    }

    /// The attribute called `name` (any case), if present.
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attrs.get(&name.to_ascii_lowercase())
    }

    /// The values of `name` (any case); empty when absent.
    pub fn values(&self, name: &str) -> &[Value] {
        self.get(name).map(|a| a.values.as_slice()).unwrap_or(&[])
    }

    /// The values of `name` as text.
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.values(name).iter().map(|v| v.as_text().into_owned()).collect()
    }

    /// The first value of `name` as text.
    pub fn first_text(&self, name: &str) -> Option<String> {
        self.values(name).first().map(|v| v.as_text().into_owned())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some_and(|a| !a.values.is_empty())
    }

    /// Replaces all values of `name`; an empty list removes the attribute.
    pub fn set(&mut self, name: &str, values: Vec<Value>) {
        let key = name.to_ascii_lowercase();
        if values.is_empty() {
            self.attrs.remove(&key);
            return;
        }
        match self.attrs.get_mut(&key) {
            Some(a) => a.values = values,
            None => {
                self.attrs.insert(key, Attribute { name: name.to_string(), values });
            }
        }
    }

    /// Adds one value to `name`, creating the attribute when needed.
    pub fn add(&mut self, name: &str, value: impl Into<Value>) {
        let key = name.to_ascii_lowercase();
        self.attrs
            .entry(key)
            .or_insert_with(|| Attribute { name: name.to_string(), values: Vec::new() })
            .values
            .push(value.into());
    }

    /// Removes the attribute `name`, returning it.
    pub fn remove(&mut self, name: &str) -> Option<Attribute> {
        self.attrs.remove(&name.to_ascii_lowercase())
    }

    /// The attributes, in lower-case name order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.attrs.values()
    }

    /// The attribute names as first given.
    pub fn attribute_names(&self) -> impl Iterator<Item = &str> {
        self.attrs.values().map(|a| a.name.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    /// Lets `f` edit each attribute's values in place; attributes left without values are removed.
    pub fn retain_values(&mut self, mut f: impl FnMut(&str, &mut Vec<Value>)) {
        self.attrs.retain(|_, a| {
            f(&a.name, &mut a.values);
            !a.values.is_empty()
        });
    }
}
