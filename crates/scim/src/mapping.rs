//! SCIM 2.0 attribute and endpoint mappings: from a mapped entry to a SCIM resource and back.

use ferrosync::config::Config;
use ferrosync::entry::{Entry, Value};
use ferrosync::settings::scim::{AttributeUsage, Scim2MappingKind, StaticDataType};
use ferrosync::settings::{Scim2AttributeMappingSettings, Scim2EndpointMappingSettings};
use serde_json::{json, Map, Value as Json};

/// The name of the pseudo-value that stands for a group member whose DN is unknown.
pub const ID_PREFIX: &str = "scim-id:";

#[derive(Clone, Debug)]
pub enum Kind {
    Str,
    Bool { invert: bool },
    DateTime,
    Number,
    Composed { subs: Vec<AttrMap>, array: bool },
    Json,
    Static { value: Json },
}

/// One `scim2-attribute-mapping`.
#[derive(Clone, Debug)]
pub struct AttrMap {
    pub name: String,
    pub scim: String,
    pub ldap: Option<String>,
    pub single: bool,
    pub default: Option<String>,
    pub usage: Vec<AttributeUsage>,
    pub always_replace: bool,
    pub kind: Kind,
}

/// What a mapping is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Fetch,
    Create,
    Update,
}

impl AttrMap {
    pub fn from_config(config: &Config, name: &str, depth: usize) -> Result<AttrMap, String> {
        let m = Scim2AttributeMappingSettings::of(config, name).map_err(|e| e.to_string())?;
        Self::from_settings(config, m, depth)
    }

    fn from_settings(config: &Config, m: Scim2AttributeMappingSettings, depth: usize) -> Result<AttrMap, String> {
        let (kind, ldap, default) = match m.kind {
            Scim2MappingKind::String { ldap_attribute, default_value } => {
                (Kind::Str, Some(ldap_attribute), default_value)
            }
            Scim2MappingKind::Boolean { ldap_attribute, invert_value, default_value } => {
                (Kind::Bool { invert: invert_value }, Some(ldap_attribute), default_value)
            }
            Scim2MappingKind::DateTime { ldap_attribute } => (Kind::DateTime, Some(ldap_attribute), None),
            Scim2MappingKind::Number { ldap_attribute } => (Kind::Number, Some(ldap_attribute), None),
            Scim2MappingKind::JsonFormattedComplex { ldap_attribute } => (Kind::Json, Some(ldap_attribute), None),
            Scim2MappingKind::ComposedComplex { sub_attribute_mappings, encapsulate_value_in_array } => {
                if depth > 2 {
                    return Err(format!("the {} nests composed mappings too deeply", m.label));
                }
                let subs = sub_attribute_mappings
                    .iter()
                    .map(|s| AttrMap::from_config(config, s, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                (Kind::Composed { subs, array: encapsulate_value_in_array }, None, None)
            }
            Scim2MappingKind::StaticValue { data_type, value: v } => {
                let value = match data_type {
                    StaticDataType::Boolean => Json::Bool(v.eq_ignore_ascii_case("true")),
                    StaticDataType::Number | StaticDataType::Json => serde_json::from_str(&v)
                        .map_err(|e| format!("the value of the {} is not valid JSON: {e}", m.label))?,
                    StaticDataType::String => Json::String(v),
                };
                (Kind::Static { value }, None, None)
            }
        };
        Ok(AttrMap {
            name: m.name,
            scim: m.scim_attribute_name,
            ldap,
            single: m.single_valued || matches!(kind, Kind::Bool { .. }),
            default,
            usage: m.attribute_usage,
            always_replace: m.always_patch_with_replace,
            kind,
        })
    }

    /// Whether the mapping is used for `u` (no `attribute-usage` at all: for everything).
    pub fn used_for(&self, u: Usage) -> bool {
        if self.usage.is_empty() {
            return true;
        }
        self.usage.iter().any(|x| match u {
            Usage::Fetch => *x == AttributeUsage::Fetch,
            Usage::Create => {
                matches!(x, AttributeUsage::CreateDuringRealtimeSync | AttributeUsage::CreateDuringResync)
            }
            Usage::Update => {
                matches!(x, AttributeUsage::UpdateDuringRealtimeSync | AttributeUsage::UpdateDuringResync)
            }
        })
    }

    /// Whether this is a group's `members` attribute, whose values are DNs.
    pub fn is_members(&self) -> bool {
        self.scim.eq_ignore_ascii_case("members") && matches!(self.kind, Kind::Str)
    }

    /// The entry attributes this mapping reads, sub-mappings included.
    pub fn ldap_attrs(&self) -> Vec<String> {
        match &self.kind {
            Kind::Composed { subs, .. } => subs.iter().flat_map(|s| s.ldap_attrs()).collect(),
            _ => self.ldap.iter().cloned().collect(),
        }
    }

    /// The SCIM value of one entry value.
    pub fn canon(&self, v: &Value) -> Option<Json> {
        let t = v.as_text();
        match &self.kind {
            Kind::Str => Some(Json::String(t.into_owned())),
            Kind::Bool { invert } => {
                let b = match t.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return None,
                };
                Some(Json::Bool(b != *invert))
            }
            Kind::DateTime => Some(Json::String(generalized_to_iso(&t).unwrap_or_else(|| t.into_owned()))),
            Kind::Number => {
                let t = t.trim();
                if let Ok(i) = t.parse::<i64>() {
                    Some(json!(i))
                } else {
                    t.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Json::Number)
                }
            }
            Kind::Json => v.as_json(),
            Kind::Composed { .. } | Kind::Static { .. } => None,
        }
    }

    /// The SCIM value for entry `e`, or `None` when the entry has none. `resolve` turns a member DN into a
    /// SCIM id.
    pub fn to_json(&self, e: &Entry, resolve: &mut dyn FnMut(&str) -> Option<String>) -> Option<Json> {
        match &self.kind {
            Kind::Static { value } => Some(value.clone()),
            Kind::Composed { subs, array } => {
                let mut obj = Map::new();
                for s in subs {
                    if let Some(v) = s.to_json(e, resolve) {
                        obj.insert(s.scim.clone(), v);
                    }
                }
                if obj.is_empty() {
                    return None;
                }
                Some(if *array { Json::Array(vec![Json::Object(obj)]) } else { Json::Object(obj) })
            }
            _ => {
                let ldap = self.ldap.as_deref()?;
                let mut vals: Vec<Value> = e.values(ldap).to_vec();
                if vals.is_empty() {
                    vals.extend(self.default.iter().map(|d| Value::Text(d.clone())));
                }
                if vals.is_empty() {
                    return None;
                }
                if self.is_members() {
                    let mut out: Vec<Json> = Vec::new();
                    for v in &vals {
                        let dn = v.as_text();
                        let id = match dn.strip_prefix(ID_PREFIX) {
                            Some(id) => Some(id.to_string()),
                            None => resolve(&dn),
                        };
                        if let Some(id) = id {
                            if !out.iter().any(|o| o["value"] == id) {
                                out.push(json!({ "value": id }));
                            }
                        }
                    }
                    return if out.is_empty() { None } else { Some(Json::Array(out)) };
                }
                let conv: Vec<Json> = vals.iter().filter_map(|v| self.canon(v)).collect();
                if conv.is_empty() {
                    return None;
                }
                if self.single {
                    conv.into_iter().next()
                } else {
                    Some(Json::Array(conv))
                }
            }
        }
    }

    /// Writes the entry attributes of SCIM value `v` into `out`. `unresolve` turns a member id into a DN.
    pub fn from_json(&self, v: Option<&Json>, out: &mut Entry, unresolve: &dyn Fn(&str) -> String) {
        match &self.kind {
            Kind::Static { .. } => {}
            Kind::Composed { subs, .. } => {
                let obj = match v {
                    Some(Json::Array(a)) => a.first(),
                    other => other,
                };
                for s in subs {
                    s.from_json(obj.and_then(|o| o.get(&s.scim)), out, unresolve);
                }
            }
            _ => {
                let Some(ldap) = self.ldap.as_deref() else { return };
                let items: Vec<&Json> = match v {
                    None | Some(Json::Null) => Vec::new(),
                    Some(Json::Array(a)) => a.iter().collect(),
                    Some(x) => vec![x],
                };
                let mut vals = Vec::new();
                for it in items {
                    let s = if self.is_members() {
                        match it.get("value").and_then(Json::as_str) {
                            Some(id) => unresolve(id),
                            None => continue,
                        }
                    } else {
                        match (&self.kind, it) {
                            (Kind::Json, x) => x.to_string(),
                            (Kind::Bool { invert }, Json::Bool(b)) => (b != invert).to_string().to_uppercase(),
                            (Kind::DateTime, Json::String(s)) => iso_to_generalized(s).unwrap_or_else(|| s.clone()),
                            (_, Json::String(s)) => s.clone(),
                            (_, x) => x.to_string(),
                        }
                    };
                    vals.push(Value::Text(s));
                }
                out.set(ldap, vals);
            }
        }
    }

    /// The mappings that read entry attributes directly (sub-mappings of composed ones).
    pub fn leaves(&self) -> Vec<&AttrMap> {
        match &self.kind {
            Kind::Composed { subs, .. } => subs.iter().flat_map(|s| s.leaves()).collect(),
            _ => vec![self],
        }
    }
}

/// `20260102030405Z` (or with fractions / `.0Z`) to `2026-01-02T03:04:05Z`.
pub fn generalized_to_iso(s: &str) -> Option<String> {
    let s = s.trim();
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.len() < 12 || !s.ends_with('Z') {
        return None;
    }
    let sec = digits.get(12..14).unwrap_or("00");
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        digits.get(0..4)?,
        digits.get(4..6)?,
        digits.get(6..8)?,
        digits.get(8..10)?,
        digits.get(10..12)?,
        sec
    ))
}

/// `2026-01-02T03:04:05Z` (or `+00:00`, fractions) to `20260102030405Z`; only UTC times.
pub fn iso_to_generalized(s: &str) -> Option<String> {
    let utc = s.ends_with('Z') || s.ends_with("+00:00");
    if !utc {
        return None;
    }
    let digits: String = s.chars().take(19).filter(char::is_ascii_digit).collect();
    (digits.len() == 14).then(|| format!("{digits}Z"))
}

/// One `scim2-endpoint-mapping`.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub path: String,
    /// The core schema first, then the extensions.
    pub schemas: Vec<String>,
    pub attrs: Vec<AttrMap>,
    pub search: Vec<AttrMap>,
    pub class: Option<String>,
}

impl Endpoint {
    pub fn from_config(config: &Config, name: &str) -> Result<Endpoint, String> {
        let e = Scim2EndpointMappingSettings::of(config, name).map_err(|e| e.to_string())?;
        let load = |names: &[String]| -> Result<Vec<AttrMap>, String> {
            names.iter().map(|m| AttrMap::from_config(config, m, 0)).collect()
        };
        Ok(Endpoint {
            name: e.name.clone(),
            path: e.endpoint_path.clone(),
            schemas: e.schema_urns.clone(),
            attrs: load(&e.attribute_mappings)?,
            search: load(&e.search_attribute_mappings)?,
            class: e.sync_class_name,
        })
    }

    pub fn core(&self) -> &str {
        self.schemas.first().map(String::as_str).unwrap_or_default()
    }

    pub fn is_group(&self) -> bool {
        self.core().ends_with(":Group") || self.path.eq_ignore_ascii_case("Groups")
    }

    /// Where SCIM attribute `scim` lives: `(extension URN, attribute)` or `(None, attribute)` for the core
    /// schema; the attribute is empty when `scim` names the extension itself.
    pub fn locate<'a>(&'a self, scim: &'a str) -> (Option<&'a str>, &'a str) {
        if let Some(rest) = scim.strip_prefix(self.core()).and_then(|r| r.strip_prefix(':')) {
            return (None, rest);
        }
        for ext in self.schemas.iter().skip(1) {
            if scim.eq_ignore_ascii_case(ext) {
                return (Some(ext), "");
            }
            if let Some(rest) = scim.strip_prefix(ext.as_str()).and_then(|r| r.strip_prefix(':')) {
                return (Some(ext), rest);
            }
        }
        (None, scim)
    }

    /// The value of `scim` in a resource.
    pub fn get<'r>(&self, res: &'r Json, scim: &str) -> Option<&'r Json> {
        match self.locate(scim) {
            (None, a) => get_ci(res, a),
            (Some(ext), "") => get_ci(res, ext),
            (Some(ext), a) => get_ci(res, ext).and_then(|e| get_ci(e, a)),
        }
    }

    /// Sets (or with `None`, removes) `scim` in a resource.
    pub fn put(&self, res: &mut Map<String, Json>, scim: &str, v: Option<Json>) {
        let (ext, a) = self.locate(scim);
        let target = match ext {
            None => res,
            Some(ext) if a.is_empty() => {
                match v {
                    Some(v) => res.insert(ext.to_string(), v),
                    None => res.remove(ext),
                };
                return;
            }
            Some(ext) => {
                let slot = res.entry(ext.to_string()).or_insert_with(|| Json::Object(Map::new()));
                match slot.as_object_mut() {
                    Some(m) => m,
                    None => return,
                }
            }
        };
        let key = target.keys().find(|k| k.eq_ignore_ascii_case(a)).cloned().unwrap_or_else(|| a.to_string());
        match v {
            Some(v) => target.insert(key, v),
            None => target.remove(&key),
        };
    }

    /// The resource built from entry `e` with the mappings used for `u`.
    pub fn build(&self, e: &Entry, u: Usage, resolve: &mut dyn FnMut(&str) -> Option<String>) -> Map<String, Json> {
        let mut res = Map::new();
        for m in self.attrs.iter().filter(|m| m.used_for(u)) {
            if let Some(v) = m.to_json(e, resolve) {
                self.put(&mut res, &m.scim, Some(v));
            }
        }
        let mut schemas = vec![Json::String(self.core().to_string())];
        for ext in self.schemas.iter().skip(1) {
            if res.contains_key(ext) {
                schemas.push(Json::String(ext.clone()));
            }
        }
        res.insert("schemas".into(), Json::Array(schemas));
        res
    }

    /// The entry attributes of resource `res` (the mappings used for fetching), with the DN `dn`.
    /// Attributes of `mapped` that no mapping reads are copied, so an engine diff sees only real differences;
    /// values that mean the same as `mapped`'s keep `mapped`'s spelling.
    pub fn reverse(&self, dn: &str, res: &Json, mapped: Option<&Entry>, unresolve: &dyn Fn(&str) -> String) -> Entry {
        let mut out = Entry::new(dn);
        let mut read: Vec<String> = Vec::new();
        for m in self.attrs.iter().filter(|m| m.used_for(Usage::Fetch)) {
            m.from_json(self.get(res, &m.scim), &mut out, unresolve);
            read.extend(m.ldap_attrs());
        }
        let Some(mapped) = mapped else { return out };
        for a in mapped.attributes() {
            if !read.iter().any(|r| r.eq_ignore_ascii_case(&a.name)) {
                out.set(&a.name, a.values.clone());
            }
        }
        for m in self.attrs.iter().filter(|m| m.used_for(Usage::Fetch)) {
            for leaf in m.leaves() {
                let Some(ldap) = leaf.ldap.as_deref() else { continue };
                if leaf.is_members() {
                    continue;
                }
                let mine = mapped.values(ldap);
                let vals: Vec<Value> = out
                    .values(ldap)
                    .iter()
                    .map(|v| {
                        let c = leaf.canon(v);
                        mine.iter().find(|w| c.is_some() && leaf.canon(w) == c).cloned().unwrap_or_else(|| v.clone())
                    })
                    .collect();
                out.set(ldap, vals);
            }
        }
        out
    }
}

/// A member of a JSON object by case-insensitive key.
pub fn get_ci<'a>(o: &'a Json, key: &str) -> Option<&'a Json> {
    let m = o.as_object()?;
    m.get(key).or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Escapes a string for a SCIM filter literal (a JSON string, RFC 7644 section 3.4.2.2): quotes, backslashes
/// and control characters.
pub fn filter_escape(s: &str) -> String {
    let quoted = Json::String(s.to_string()).to_string();
    quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap_or_default().to_string()
}

/// A resource id as one URL path segment: percent-encoded (RFC 3986 unreserved characters stay).
pub fn path_segment(id: &str) -> String {
    crate::http::query_encode(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(generalized_to_iso("20260102030405Z").unwrap(), "2026-01-02T03:04:05Z");
        assert_eq!(generalized_to_iso("20260102030405.123Z").unwrap(), "2026-01-02T03:04:05Z");
        assert_eq!(iso_to_generalized("2026-01-02T03:04:05Z").unwrap(), "20260102030405Z");
        assert_eq!(iso_to_generalized("2026-01-02T03:04:05.5+00:00").unwrap(), "20260102030405Z");
    }

    #[test]
    fn escape() {
        assert_eq!(filter_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(filter_escape("tab\there\nnul\u{0}é"), "tab\\there\\nnul\\u0000é");
        assert_eq!(path_segment("a b/c?d#é"), "a%20b%2Fc%3Fd%23%C3%A9");
        assert_eq!(path_segment("2819c223-7f76-453a-919d-413861904646"), "2819c223-7f76-453a-919d-413861904646");
    }
}
