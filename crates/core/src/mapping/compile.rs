//! Compiling a pipe's configuration objects into a [`PipeMapping`], from their typed
//! [settings](crate::settings).

use super::attribute::{AttributeMapping, FieldSource, JsonField, JsonType, MappingKind, NamedDnMap};
use super::error::MappingConfigError;
use super::{AutoMapped, ClassMapping, PipeMapping};
use crate::config::{Config, ConfigObject};
use crate::settings::mapping::JsonFieldType;
use crate::settings::{
    AttributeMappingKind, AttributeMappingSettings, DnMapSettings, JsonAttributeSettings, JsonFieldSettings, Reader,
    SettingsError, SyncClassSettings,
};

impl PipeMapping {
    /// Compiles the sync classes of pipe `pipe` (any case), with their attribute maps and DN maps, sorted by
    /// `evaluation-order-index` then name. A pipe without classes compiles to a mapping that syncs nothing.
    /// Stored values are parsed again (dsconfig checked them; this never panics on a bad one).
    pub fn from_config(config: &Config, pipe: &str) -> Result<PipeMapping, MappingConfigError> {
        let pipe_obj =
            config.get("sync-pipe", pipe).ok_or_else(|| MappingConfigError::NoSuchPipe { pipe: pipe.to_string() })?;
        let pipe_name = pipe_obj.name().to_string();
        let mut classes = Vec::new();
        for obj in config.children("sync-class", std::slice::from_ref(&pipe_name)) {
            classes.push(compile_class(config, &pipe_name, obj)?);
        }
        classes.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase())));
        Ok(PipeMapping { pipe: pipe_name, classes })
    }
}

/// A settings error as a mapping error; `suffix` follows the object's label (" (used by the Sync Class ...)").
fn from_settings(e: SettingsError, suffix: &str) -> MappingConfigError {
    match e {
        SettingsError::InvalidValue { object, property, value, reason } => {
            MappingConfigError::InvalidValue { object: format!("{object}{suffix}"), property, value, reason }
        }
        SettingsError::Missing { object, property } => MappingConfigError::Invalid {
            object: format!("{object}{suffix}"),
            reason: format!("{property} is not set"),
        },
        SettingsError::Invalid { object, reason } => {
            MappingConfigError::Invalid { object: format!("{object}{suffix}"), reason }
        }
        other => {
            MappingConfigError::Invalid { object: format!("the configuration{suffix}"), reason: other.to_string() }
        }
    }
}

fn compile_class(config: &Config, pipe: &str, obj: &ConfigObject) -> Result<ClassMapping, MappingConfigError> {
    let s = SyncClassSettings::read(&Reader::new(obj)).map_err(|e| from_settings(e, ""))?;
    let auto = auto_mapped(obj, &s.auto_mapped_source_attribute)?;

    let mut dn_maps = Vec::new();
    for name in &s.dn_maps {
        dn_maps.push(dn_map(config, obj.label(), "dn-map", name)?);
    }

    let mut mappings: Vec<AttributeMapping> = Vec::new();
    for map_name in &s.attribute_maps {
        let map = config.get("attribute-map", map_name).ok_or_else(|| MappingConfigError::MissingReference {
            object: obj.label(),
            property: "attribute-map".to_string(),
            target: format!("Attribute Map '{map_name}'"),
        })?;
        for m in config.children("attribute-mapping", &map.names) {
            let compiled = compile_mapping(config, obj, m, &dn_maps)?;
            if let Some(other) = mappings.iter().find(|o| o.destination.eq_ignore_ascii_case(&compiled.destination)) {
                return Err(MappingConfigError::Invalid {
                    object: obj.label(),
                    reason: format!(
                        "the destination attribute '{}' is mapped twice: by Attribute Map '{}' and Attribute Map '{}'",
                        compiled.destination,
                        other.map,
                        map.name()
                    ),
                });
            }
            mappings.push(compiled);
        }
    }

    let mut json_attributes = Vec::new();
    for j in config.children("json-attribute", &obj.names) {
        json_attributes.push(JsonAttributeSettings::read(&Reader::new(j)).map_err(|e| from_settings(e, ""))?);
    }

    let mut class = ClassMapping {
        pipe: pipe.to_string(),
        name: s.name,
        order: s.evaluation_order_index,
        base_dns: s.include_base_dn,
        filters: s.include_filter,
        creates: s.synchronize_creates,
        modifies: s.synchronize_modifies,
        deletes: s.synchronize_deletes,
        modifies_as_creates: s.modifies_as_creates,
        creates_as_modifies: s.creates_as_modifies,
        ignore_zero_length: s.ignore_zero_length_values,
        replace_all: s.replace_all_attr_values,
        create_only: s.destination_create_only_attribute,
        auto,
        excluded: s.excluded_auto_mapped_source_attributes,
        correlation: s.destination_correlation_attributes,
        correlation_on_delete: s.destination_correlation_attributes_on_delete,
        mappings,
        dn_maps,
        json_attributes,
        dest_base_dns: None,
    };
    class.dest_base_dns = class.compute_destination_bases();
    Ok(class)
}

/// `auto-mapped-source-attribute`: `-all-`, `-none-`, or names (values may also be comma lists).
fn auto_mapped(obj: &ConfigObject, values: &[String]) -> Result<AutoMapped, MappingConfigError> {
    let mut all = false;
    let mut none = false;
    let mut names: Vec<String> = Vec::new();
    for v in values {
        for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if part.eq_ignore_ascii_case("-all-") {
                all = true;
            } else if part.eq_ignore_ascii_case("-none-") {
                none = true;
            } else if part.starts_with('-') || part.contains(char::is_whitespace) {
                return Err(MappingConfigError::InvalidValue {
                    object: obj.label(),
                    property: "auto-mapped-source-attribute".to_string(),
                    value: part.to_string(),
                    reason: "expected -all-, -none- or attribute names".to_string(),
                });
            } else if !names.iter().any(|n| n.eq_ignore_ascii_case(part)) {
                names.push(part.to_string());
            }
        }
    }
    if none && (all || !names.is_empty()) {
        return Err(MappingConfigError::Invalid {
            object: obj.label(),
            reason: "auto-mapped-source-attribute combines -none- with other values".to_string(),
        });
    }
    Ok(AutoMapped { all, names })
}

/// Looks up and parses the DN map `name`, referenced by `property` of the object labelled `from`.
fn dn_map(config: &Config, from: String, property: &str, name: &str) -> Result<NamedDnMap, MappingConfigError> {
    let obj = config.get("dn-map", name).ok_or_else(|| MappingConfigError::MissingReference {
        object: from,
        property: property.to_string(),
        target: format!("DN Map '{name}'"),
    })?;
    let s = DnMapSettings::read(&Reader::new(obj)).map_err(|e| match e {
        SettingsError::Missing { object, .. } => MappingConfigError::Invalid {
            object,
            reason: "it needs both from-dn-pattern and to-dn-pattern".to_string(),
        },
        e => from_settings(e, ""),
    })?;
    Ok(NamedDnMap { name: s.name, map: s.map })
}

fn compile_mapping(
    config: &Config,
    class: &ConfigObject,
    obj: &ConfigObject,
    class_dn_maps: &[NamedDnMap],
) -> Result<AttributeMapping, MappingConfigError> {
    let suffix = format!(" (used by the {})", class.label());
    let s = AttributeMappingSettings::read(&Reader::new(obj)).map_err(|e| from_settings(e, &suffix))?;
    let kind = match s.kind {
        AttributeMappingKind::Direct { from, base64_encode, base64_decode } => {
            MappingKind::Direct { from, encode: base64_encode, decode: base64_decode }
        }
        AttributeMappingKind::Constructed { value_pattern, conditional_value_pattern } => {
            MappingKind::Constructed { conditional: conditional_value_pattern, patterns: value_pattern }
        }
        AttributeMappingKind::Dn { from, dn_maps } => {
            let mut maps = Vec::new();
            for name in &dn_maps {
                maps.push(dn_map(config, format!("{}{suffix}", obj.label()), "dn-map", name)?);
            }
            if maps.is_empty() {
                maps = class_dn_maps.to_vec();
            }
            MappingKind::Dn { from, maps }
        }
        AttributeMappingKind::Json => {
            let mut fields = Vec::new();
            for f in config.children("json-attribute-mapping-field", &obj.names) {
                fields.push(json_field(f, &suffix)?);
            }
            MappingKind::Json { fields }
        }
    };

    let mut mapping = AttributeMapping {
        map: s.map,
        destination: s.destination,
        kind,
        exclude_values: s.exclude_value,
        also_depends_on: s.also_depends_on_src_attribute,
        sync_on_every_update: s.sync_on_every_update,
        sources: Vec::new(),
    };
    mapping.collect_sources();
    Ok(mapping)
}

fn json_field(f: &ConfigObject, suffix: &str) -> Result<JsonField, MappingConfigError> {
    let s = JsonFieldSettings::read(&Reader::new(f)).map_err(|e| from_settings(e, suffix))?;
    let json_type = match s.json_type {
        JsonFieldType::String => JsonType::String,
        JsonFieldType::Number => JsonType::Number,
        JsonFieldType::Boolean => JsonType::Boolean,
        JsonFieldType::Object => JsonType::Object,
        JsonFieldType::Array => JsonType::Array,
        JsonFieldType::Null => JsonType::Null,
    };
    let source = match (s.from_attribute, s.value_pattern) {
        (Some(a), _) => FieldSource::Attribute(a),
        (None, Some(p)) => FieldSource::Pattern(p),
        (None, None) => FieldSource::Nothing,
    };
    Ok(JsonField { name: s.name, source, json_type })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{config, pipe, pipe_error};
    use super::super::{MappingConfigError, PipeMapping};
    use crate::config::Config;

    /// `text`'s configuration with property `prop` of the object called `name` forced to `values` (as a
    /// damaged or hand-edited store would hold it; dsconfig would refuse).
    fn forced(text: &str, type_name: &str, name: &str, prop: &str, values: &[&str]) -> Config {
        let mut objects = config(text).objects().to_vec();
        let obj = objects.iter_mut().find(|o| o.object_type.name == type_name && o.name() == name).unwrap();
        obj.props.insert(prop.to_string(), values.iter().map(|v| v.to_string()).collect());
        Config::from_objects(objects)
    }

    const MAP: &str = r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name mail --type constructed --set "value-pattern:{uid}@x"
dsconfig create-dn-map --map-name dm --set "from-dn-pattern:*,dc=x" --set "to-dn-pattern:{1},o=y"
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m --set dn-map:dm
"#;

    #[test]
    fn missing_pipe() {
        let err = PipeMapping::from_config(&config(""), "nope").unwrap_err();
        assert_eq!(err, MappingConfigError::NoSuchPipe { pipe: "nope".into() });
        assert_eq!(err.to_string(), "the Sync Pipe 'nope' does not exist");
        // Pipe names compare without case.
        assert_eq!(PipeMapping::from_config(&config(""), "P").unwrap().pipe(), "p");
    }

    #[test]
    fn missing_references() {
        let c = forced(MAP, "sync-class", "c", "attribute-map", &["m", "gone"]);
        let err = PipeMapping::from_config(&c, "p").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the Sync Class 'c' of Sync Pipe 'p' refers to the Attribute Map 'gone' (property attribute-map), \
             which does not exist"
        );
        let c = forced(MAP, "sync-class", "c", "dn-map", &["lost"]);
        let err = PipeMapping::from_config(&c, "p").unwrap_err();
        assert!(matches!(err, MappingConfigError::MissingReference { ref target, .. } if target == "DN Map 'lost'"));
    }

    #[test]
    fn invalid_stored_values() {
        let c = forced(MAP, "attribute-mapping", "mail", "value-pattern", &["{uid"]);
        let err = PipeMapping::from_config(&c, "p").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with(
                "invalid value '{uid' for property 'value-pattern' of the Attribute Mapping 'mail' of Attribute Map \
                 'm' (used by the Sync Class 'c' of Sync Pipe 'p'):"
            ),
            "{msg}"
        );
        let c = forced(MAP, "sync-class", "c", "include-filter", &["(uid=x"]);
        assert!(matches!(
            PipeMapping::from_config(&c, "p").unwrap_err(),
            MappingConfigError::InvalidValue { ref property, .. } if property == "include-filter"
        ));
        let c = forced(MAP, "sync-class", "c", "include-base-dn", &["not a dn"]);
        assert!(matches!(
            PipeMapping::from_config(&c, "p").unwrap_err(),
            MappingConfigError::InvalidValue { ref property, .. } if property == "include-base-dn"
        ));
        let c = forced(MAP, "sync-class", "c", "evaluation-order-index", &["first"]);
        assert!(matches!(
            PipeMapping::from_config(&c, "p").unwrap_err(),
            MappingConfigError::InvalidValue { ref property, .. } if property == "evaluation-order-index"
        ));
        let c = forced(MAP, "dn-map", "dm", "to-dn-pattern", &["{2},o=y"]);
        let err = PipeMapping::from_config(&c, "p").unwrap_err();
        assert!(
            matches!(err, MappingConfigError::InvalidValue { ref property, ref object, .. }
                if property == "to-dn-pattern" && object == "DN Map 'dm'"),
            "{err}"
        );
        let c = forced(MAP, "attribute-mapping", "mail", "value-pattern", &[]);
        let err = PipeMapping::from_config(&c, "p").unwrap_err();
        assert!(err.to_string().contains("neither value-pattern nor conditional-value-pattern"), "{err}");
    }

    #[test]
    fn same_destination_twice() {
        let err = pipe_error(
            r#"
dsconfig create-attribute-map --map-name a
dsconfig create-attribute-mapping --map-name a --mapping-name mail --type direct --set from-attribute:email
dsconfig create-attribute-map --map-name b
dsconfig create-attribute-mapping --map-name b --mapping-name MAIL --type direct --set from-attribute:email2
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:a --set attribute-map:b
"#,
        );
        assert_eq!(
            err.to_string(),
            "the Sync Class 'c' of Sync Pipe 'p' cannot be used: the destination attribute 'MAIL' is mapped twice: \
             by Attribute Map 'a' and Attribute Map 'b'"
        );
    }

    #[test]
    fn contradictions() {
        let err = pipe_error(
            r#"
dsconfig create-sync-class --pipe-name p --class-name c --set auto-mapped-source-attribute:-none- \
    --set auto-mapped-source-attribute:cn
"#,
        );
        assert!(err.to_string().contains("combines -none- with other values"), "{err}");
        let err = pipe_error(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name x --type direct --set from-attribute:y \
    --set base64-encode-value:true --set base-64-decode-value:true
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m
"#,
        );
        assert!(err.to_string().contains("are both true"), "{err}");
        let err = pipe_error(
            r#"
dsconfig create-attribute-map --map-name m
dsconfig create-attribute-mapping --map-name m --mapping-name x --type json
dsconfig create-json-attribute-mapping-field --map-name m --mapping-name x --field-name f
dsconfig create-sync-class --pipe-name p --class-name c --set attribute-map:m
"#,
        );
        assert_eq!(
            err.to_string(),
            "the JSON Attribute Mapping Field 'f' of Attribute Mapping 'x' of Attribute Map 'm' (used by the Sync \
             Class 'c' of Sync Pipe 'p') cannot be used: it needs from-attribute or value-pattern"
        );
    }

    #[test]
    fn unsupported_mapping_type() {
        let mut objects = config(MAP).objects().to_vec();
        let obj = objects.iter_mut().find(|o| o.name() == "mail").unwrap();
        obj.variant = Some("groovy-scripted".into());
        let err = PipeMapping::from_config(&Config::from_objects(objects), "p").unwrap_err();
        assert!(err.to_string().contains("type 'groovy-scripted' are not supported"), "{err}");
    }

    #[test]
    fn unused_maps_do_not_matter() {
        // A broken map that no class of this pipe uses is not compiled.
        let c = forced(
            &format!("{MAP}\ndsconfig create-attribute-map --map-name other\ndsconfig create-attribute-mapping --map-name other --mapping-name x --type direct --set from-attribute:y"),
            "attribute-mapping",
            "x",
            "from-attribute",
            &[],
        );
        assert!(PipeMapping::from_config(&c, "p").is_ok());
        assert_eq!(pipe(MAP).classes()[0].attribute_mappings()[0].kind_name(), "constructed");
    }
}
