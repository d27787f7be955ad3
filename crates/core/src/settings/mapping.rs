//! Attribute mappings, JSON attribute mapping fields and DN maps.

use super::{Reader, SettingsError};
use crate::syntax::{ConditionalValuePattern, DnMap, DnPatternSide, ValuePattern};

/// What an attribute mapping does, by its `--type`.
#[derive(Clone, Debug)]
pub enum AttributeMappingKind {
    Direct {
        from: String,
        base64_encode: bool,
        base64_decode: bool,
    },
    Constructed {
        value_pattern: Vec<ValuePattern>,
        conditional_value_pattern: Vec<ConditionalValuePattern>,
    },
    /// `dn-map` names; the class's DN maps when empty.
    Dn {
        from: String,
        dn_maps: Vec<String>,
    },
    /// Its fields are its `json-attribute-mapping-field` children.
    Json,
}

/// An attribute mapping: how one destination attribute (the mapping's name) is built.
#[derive(Clone, Debug)]
pub struct AttributeMappingSettings {
    /// The attribute map it belongs to.
    pub map: String,
    /// The destination attribute.
    pub destination: String,
    pub kind: AttributeMappingKind,
    pub exclude_value: Vec<String>,
    pub also_depends_on_src_attribute: Vec<String>,
    pub sync_on_every_update: bool,
}

impl AttributeMappingSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let invalid = |reason: &str| SettingsError::Invalid { object: r.label(), reason: reason.to_string() };
        let from = || r.text("from-attribute")?.ok_or_else(|| invalid("from-attribute is not set"));
        let kind = match r.variant().unwrap_or("") {
            "direct" => {
                let from = from()?;
                let base64_encode = r.flag("base64-encode-value")?;
                let base64_decode = r.flag("base-64-decode-value")?;
                if base64_encode && base64_decode {
                    return Err(invalid("base64-encode-value and base-64-decode-value are both true"));
                }
                AttributeMappingKind::Direct { from, base64_encode, base64_decode }
            }
            "constructed" => {
                let conditional_value_pattern = r.conditional_value_patterns("conditional-value-pattern")?;
                let value_pattern = r.value_patterns("value-pattern")?;
                if conditional_value_pattern.is_empty() && value_pattern.is_empty() {
                    return Err(invalid("it has neither value-pattern nor conditional-value-pattern"));
                }
                AttributeMappingKind::Constructed { value_pattern, conditional_value_pattern }
            }
            "dn" => AttributeMappingKind::Dn { from: from()?, dn_maps: r.texts("dn-map")? },
            "json" => AttributeMappingKind::Json,
            other => {
                return Err(invalid(&format!("attribute mappings of type '{other}' are not supported by ferrosync")))
            }
        };
        Ok(AttributeMappingSettings {
            map: r.object().names.first().cloned().unwrap_or_default(),
            destination: r.name().to_string(),
            kind,
            exclude_value: r.texts("exclude-value")?,
            also_depends_on_src_attribute: r.texts("also-depends-on-src-attribute")?,
            sync_on_every_update: r.flag("sync-on-every-update")?,
        })
    }
}

crate::choice! {
    /// `json-type` of a JSON attribute mapping field.
    pub enum JsonFieldType {
        String = "string", Number = "number", Boolean = "boolean", Object = "object", Array = "array", Null = "null"
    }
}

/// One field of a JSON attribute mapping.
#[derive(Clone, Debug)]
pub struct JsonFieldSettings {
    pub name: String,
    pub from_attribute: Option<String>,
    pub value_pattern: Option<ValuePattern>,
    pub json_type: JsonFieldType,
}

impl JsonFieldSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let s = JsonFieldSettings {
            name: r.name().to_string(),
            from_attribute: r.text("from-attribute")?,
            value_pattern: r.value_patterns("value-pattern")?.into_iter().next(),
            json_type: r.required_choice("json-type")?,
        };
        let invalid = |reason: &str| Err(SettingsError::Invalid { object: r.label(), reason: reason.to_string() });
        match (&s.from_attribute, &s.value_pattern) {
            (Some(_), Some(_)) => invalid("it sets both from-attribute and value-pattern"),
            (None, None) if s.json_type != JsonFieldType::Null => invalid("it needs from-attribute or value-pattern"),
            _ => Ok(s),
        }
    }
}

/// A DN map, its two patterns compiled.
#[derive(Clone, Debug)]
pub struct DnMapSettings {
    pub name: String,
    pub map: DnMap,
}

impl DnMapSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let from = r.required_text("from-dn-pattern")?;
        let to = r.required_text("to-dn-pattern")?;
        let map = DnMap::new(&from, &to).map_err(|e| {
            let (property, value) = match e.side {
                DnPatternSide::From => ("from-dn-pattern", &from),
                DnPatternSide::To => ("to-dn-pattern", &to),
            };
            SettingsError::InvalidValue {
                object: r.label(),
                property: property.to_string(),
                value: value.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(DnMapSettings { name: r.name().to_string(), map })
    }
}
