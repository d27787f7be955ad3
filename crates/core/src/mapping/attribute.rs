//! Compiled attribute mappings: how one destination attribute is built from the source entry.

use base64::Engine as _;

use super::error::MappingError;
use super::rules::is_dn_pseudo_attribute;
use crate::entry::{Entry, Value};
use crate::syntax::{ConditionalValuePattern, Dn, DnMap, ValuePattern};

/// A DN map with its configured name (for error messages).
#[derive(Clone, Debug)]
pub(crate) struct NamedDnMap {
    pub name: String,
    pub map: DnMap,
}

/// What the first matching map of a list made of a DN.
pub(crate) enum DnMapOutcome {
    /// No map's from-dn-pattern matches.
    NoMatch,
    /// The first matching map built this DN.
    Mapped(Dn),
    /// The first matching map (this one) could not build its to-dn-pattern.
    Failed(usize),
}

/// Maps `dn` through the first map of `maps` whose from-dn-pattern matches it.
pub(crate) fn apply_dn_maps(maps: &[NamedDnMap], dn: &Dn, entry: &Entry) -> DnMapOutcome {
    for (i, m) in maps.iter().enumerate() {
        if let Some(captures) = m.map.from_pattern().captures(dn) {
            return match m.map.to_pattern().build(&captures, entry) {
                Some(d) => DnMapOutcome::Mapped(d),
                None => DnMapOutcome::Failed(i),
            };
        }
    }
    DnMapOutcome::NoMatch
}

/// Why a to-dn-pattern could not be built for `entry`.
pub(crate) fn build_failure_reason(map: &DnMap, entry: &Entry) -> String {
    let missing: Vec<String> =
        map.attributes().into_iter().filter(|a| !is_dn_pseudo_attribute(a) && !entry.has(a)).collect();
    if missing.is_empty() {
        "the result is not a valid DN".to_string()
    } else {
        format!("the source entry has no value for {}", missing.join(", "))
    }
}

/// The JSON type of a field of a `json` attribute mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JsonType {
    String,
    Number,
    Boolean,
    Object,
    Array,
    Null,
}

/// Where a JSON field's values come from.
#[derive(Clone, Debug)]
pub(crate) enum FieldSource {
    Attribute(String),
    Pattern(ValuePattern),
    /// Only for `null` fields.
    Nothing,
}

/// One field of a `json` attribute mapping.
#[derive(Clone, Debug)]
pub(crate) struct JsonField {
    pub name: String,
    pub source: FieldSource,
    pub json_type: JsonType,
}

/// The compiled form of each attribute-mapping type.
#[derive(Clone, Debug)]
pub(crate) enum MappingKind {
    /// `direct`: the values of one source attribute.
    Direct { from: String, encode: bool, decode: bool },
    /// `constructed`: the first conditional pattern whose filter matches, else every value pattern.
    Constructed { conditional: Vec<ConditionalValuePattern>, patterns: Vec<ValuePattern> },
    /// `dn`: DN values mapped through DN maps (the mapping's own, or the class's when it has none).
    Dn { from: String, maps: Vec<NamedDnMap> },
    /// `json`: one JSON object built from fields.
    Json { fields: Vec<JsonField> },
}

/// One attribute mapping of a sync class: the destination attribute (the mapping's name) and how its values
/// are built.
#[derive(Clone, Debug)]
pub struct AttributeMapping {
    pub(crate) map: String,
    pub(crate) destination: String,
    pub(crate) kind: MappingKind,
    pub(crate) exclude_values: Vec<String>,
    pub(crate) also_depends_on: Vec<String>,
    pub(crate) sync_on_every_update: bool,
    /// Every source attribute the mapping reads, without duplicates.
    pub(crate) sources: Vec<String>,
}

impl AttributeMapping {
    /// The destination attribute, spelled as the mapping's name.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The attribute map this mapping belongs to.
    pub fn attribute_map(&self) -> &str {
        &self.map
    }

    /// The mapping's type: `direct`, `constructed`, `dn` or `json`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            MappingKind::Direct { .. } => "direct",
            MappingKind::Constructed { .. } => "constructed",
            MappingKind::Dn { .. } => "dn",
            MappingKind::Json { .. } => "json",
        }
    }

    /// The source attributes whose changes make this mapping's value change: the attributes it reads (from
    /// attributes, pattern and condition attributes, DN-map attributes) and `also-depends-on-src-attribute`.
    pub fn source_attributes(&self) -> &[String] {
        &self.sources
    }

    /// Whether the mapping is recomputed on every change of the entry (`sync-on-every-update`).
    pub fn sync_on_every_update(&self) -> bool {
        self.sync_on_every_update
    }

    /// Whether the mapping produces DN values (a `dn` mapping), compared by normalized DN.
    pub fn produces_dns(&self) -> bool {
        matches!(self.kind, MappingKind::Dn { .. })
    }

    /// The values of `exclude-value`.
    pub fn excluded_values(&self) -> &[String] {
        &self.exclude_values
    }

    /// Computes the list of source attributes (called once, when compiling).
    pub(crate) fn collect_sources(&mut self) {
        let mut out: Vec<String> = Vec::new();
        let mut push = |a: &str| {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(a)) {
                out.push(a.to_string());
            }
        };
        match &self.kind {
            MappingKind::Direct { from, .. } => push(from),
            MappingKind::Constructed { conditional, patterns } => {
                for c in conditional {
                    c.attributes().iter().for_each(|a| push(a));
                }
                for p in patterns {
                    p.attributes().iter().for_each(|a| push(a));
                }
            }
            MappingKind::Dn { from, maps } => {
                push(from);
                for m in maps {
                    m.map.attributes().iter().for_each(|a| push(a));
                }
            }
            MappingKind::Json { fields } => {
                for f in fields {
                    match &f.source {
                        FieldSource::Attribute(a) => push(a),
                        FieldSource::Pattern(p) => p.attributes().iter().for_each(|a| push(a)),
                        FieldSource::Nothing => {}
                    }
                }
            }
        }
        for a in &self.also_depends_on {
            push(a);
        }
        self.sources = out;
    }

    fn error(&self, class: &str, reason: impl Into<String>) -> MappingError {
        MappingError::Attribute {
            class: class.to_string(),
            map: self.map.clone(),
            attribute: self.destination.clone(),
            reason: reason.into(),
        }
    }

    /// The values this mapping gives the destination attribute for `source`, before `exclude-value`,
    /// zero-length and duplicate handling.
    pub(crate) fn evaluate(&self, class: &str, source: &Entry) -> Result<Vec<Value>, MappingError> {
        match &self.kind {
            MappingKind::Direct { from, encode, decode } => {
                let values = source_values(source, from);
                if *encode {
                    let engine = base64::engine::general_purpose::STANDARD;
                    return Ok(values.iter().map(|v| Value::Text(engine.encode(v.to_bytes()))).collect());
                }
                if *decode {
                    let engine = base64::engine::general_purpose::STANDARD;
                    let mut out = Vec::with_capacity(values.len());
                    for v in &values {
                        let text: String = v.as_text().chars().filter(|c| !c.is_whitespace()).collect();
                        let bytes = engine.decode(text.as_bytes()).map_err(|e| {
                            self.error(class, format!("the value '{}' of '{from}' is not base64: {e}", v.as_text()))
                        })?;
                        out.push(match String::from_utf8(bytes) {
                            Ok(s) => Value::Text(s),
                            Err(e) => Value::Binary(e.into_bytes()),
                        });
                    }
                    return Ok(out);
                }
                Ok(values)
            }
            MappingKind::Constructed { conditional, patterns } => {
                for c in conditional {
                    if let Some(values) = c.evaluate(source) {
                        return Ok(values.into_iter().map(Value::Text).collect());
                    }
                }
                let mut out: Vec<Value> = Vec::new();
                for p in patterns {
                    for v in p.evaluate(source) {
                        let v = Value::Text(v);
                        if !out.contains(&v) {
                            out.push(v);
                        }
                    }
                }
                Ok(out)
            }
            MappingKind::Dn { from, maps } => {
                let mut out = Vec::new();
                for v in source_values(source, from) {
                    let Ok(dn) = Dn::parse(&v.as_text()) else {
                        out.push(v);
                        continue;
                    };
                    match apply_dn_maps(maps, &dn, source) {
                        DnMapOutcome::NoMatch => out.push(v),
                        DnMapOutcome::Mapped(d) => out.push(Value::Text(d.to_string())),
                        DnMapOutcome::Failed(i) => {
                            let m = &maps[i];
                            return Err(self.error(
                                class,
                                format!(
                                    "DN Map '{}' matches the value '{}' but its to-dn-pattern '{}' cannot be built: {}",
                                    m.name,
                                    v.as_text(),
                                    m.map.to_pattern().as_str(),
                                    build_failure_reason(&m.map, source)
                                ),
                            ));
                        }
                    }
                }
                Ok(out)
            }
            MappingKind::Json { fields } => {
                let mut object = serde_json::Map::new();
                for f in fields {
                    if let Some(value) = self.json_field(class, f, source)? {
                        object.insert(f.name.clone(), value);
                    }
                }
                if object.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(vec![Value::Text(serde_json::Value::Object(object).to_string())])
            }
        }
    }

    /// One field of a JSON mapping: `None` when the source has no value for it.
    fn json_field(
        &self,
        class: &str,
        f: &JsonField,
        source: &Entry,
    ) -> Result<Option<serde_json::Value>, MappingError> {
        use serde_json::Value as J;
        if f.json_type == JsonType::Null {
            return Ok(Some(J::Null));
        }
        let values: Vec<Value> = match &f.source {
            FieldSource::Attribute(a) => source_values(source, a),
            FieldSource::Pattern(p) => p.evaluate(source).into_iter().map(Value::Text).collect(),
            FieldSource::Nothing => Vec::new(),
        };
        if values.is_empty() {
            return Ok(None);
        }
        let bad = |v: &Value, what: &str| {
            self.error(class, format!("field '{}': the value '{}' is not {what}", f.name, v.as_text()))
        };
        let mut converted = Vec::with_capacity(values.len());
        for v in &values {
            let j = match f.json_type {
                JsonType::String => J::String(v.as_text().into_owned()),
                JsonType::Number => {
                    let text = v.as_text();
                    let t = text.trim();
                    let n = t
                        .parse::<i64>()
                        .ok()
                        .map(serde_json::Number::from)
                        .or_else(|| t.parse::<f64>().ok().and_then(serde_json::Number::from_f64))
                        .ok_or_else(|| bad(v, "a number"))?;
                    J::Number(n)
                }
                JsonType::Boolean => match v.as_text().trim().to_ascii_lowercase().as_str() {
                    "true" => J::Bool(true),
                    "false" => J::Bool(false),
                    _ => return Err(bad(v, "a boolean (true or false)")),
                },
                JsonType::Object => match v.as_json() {
                    Some(o @ J::Object(_)) => o,
                    _ => return Err(bad(v, "a JSON object")),
                },
                JsonType::Array => match v {
                    Value::Json(j) => j.clone(),
                    other => J::String(other.as_text().into_owned()),
                },
                JsonType::Null => J::Null,
            };
            converted.push(j);
        }
        if f.json_type == JsonType::Array {
            // All values form the array; a single JSON array value is used as is.
            if let [J::Array(_)] = converted.as_slice() {
                return Ok(converted.pop());
            }
            return Ok(Some(J::Array(converted)));
        }
        if converted.len() == 1 {
            return Ok(converted.pop());
        }
        Ok(Some(J::Array(converted)))
    }
}

/// The values of source attribute `attr`; `dn` and `entryDN` give the entry's DN when the entry has no such
/// attribute.
pub(crate) fn source_values(source: &Entry, attr: &str) -> Vec<Value> {
    let values = source.values(attr);
    if !values.is_empty() {
        return values.to_vec();
    }
    if is_dn_pseudo_attribute(attr) && !source.dn.is_empty() {
        return vec![Value::Text(source.dn.clone())];
    }
    Vec::new()
}
