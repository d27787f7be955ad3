//! Compiling a pipe's configuration objects into a [`PipeMapping`].

use super::attribute::{AttributeMapping, FieldSource, JsonField, JsonType, MappingKind, NamedDnMap};
use super::error::MappingConfigError;
use super::{AutoMapped, ClassMapping, PipeMapping};
use crate::config::{Config, ConfigObject};
use crate::syntax::{ConditionalValuePattern, Dn, DnMap, DnPatternSide, Filter, ValuePattern};

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

fn invalid_value(obj: &ConfigObject, property: &str, value: &str, reason: impl ToString) -> MappingConfigError {
    MappingConfigError::InvalidValue {
        object: obj.label(),
        property: property.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn trimmed(obj: &ConfigObject, prop: &str) -> Vec<String> {
    obj.values(prop).iter().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect()
}

/// Splits comma lists (`dn,uid`) into names.
fn comma_lists(obj: &ConfigObject, prop: &str) -> Vec<Vec<String>> {
    obj.values(prop)
        .iter()
        .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .collect()
}

fn compile_class(config: &Config, pipe: &str, obj: &ConfigObject) -> Result<ClassMapping, MappingConfigError> {
    let order_raw = obj.first("evaluation-order-index").unwrap_or("9999");
    let order: i64 = order_raw
        .trim()
        .parse()
        .map_err(|e| invalid_value(obj, "evaluation-order-index", order_raw, format!("not an integer: {e}")))?;

    let mut base_dns = Vec::new();
    for v in obj.values("include-base-dn") {
        base_dns.push(Dn::parse(v).map_err(|e| invalid_value(obj, "include-base-dn", v, e))?);
    }
    let mut filters = Vec::new();
    for v in obj.values("include-filter") {
        filters.push(Filter::parse(v).map_err(|e| invalid_value(obj, "include-filter", v, e))?);
    }

    let auto = auto_mapped(obj)?;

    let mut dn_maps = Vec::new();
    for name in obj.values("dn-map") {
        dn_maps.push(dn_map(config, obj.label(), "dn-map", name)?);
    }

    let mut mappings: Vec<AttributeMapping> = Vec::new();
    for map_name in obj.values("attribute-map") {
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

    let mut class = ClassMapping {
        pipe: pipe.to_string(),
        name: obj.name().to_string(),
        order,
        base_dns,
        filters,
        creates: obj.flag("synchronize-creates"),
        modifies: obj.flag("synchronize-modifies"),
        deletes: obj.flag("synchronize-deletes"),
        modifies_as_creates: obj.flag("modifies-as-creates"),
        creates_as_modifies: obj.flag("creates-as-modifies"),
        ignore_zero_length: obj.flag("ignore-zero-length-values"),
        replace_all: obj.flag("replace-all-attr-values"),
        create_only: trimmed(obj, "destination-create-only-attribute"),
        auto,
        excluded: trimmed(obj, "excluded-auto-mapped-source-attributes"),
        correlation: comma_lists(obj, "destination-correlation-attributes"),
        correlation_on_delete: comma_lists(obj, "destination-correlation-attributes-on-delete"),
        mappings,
        dn_maps,
        dest_base_dns: None,
    };
    class.dest_base_dns = class.compute_destination_bases();
    Ok(class)
}

/// `auto-mapped-source-attribute`: `-all-`, `-none-`, or names (values may also be comma lists).
fn auto_mapped(obj: &ConfigObject) -> Result<AutoMapped, MappingConfigError> {
    let mut all = false;
    let mut none = false;
    let mut names: Vec<String> = Vec::new();
    for v in obj.values("auto-mapped-source-attribute") {
        for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if part.eq_ignore_ascii_case("-all-") {
                all = true;
            } else if part.eq_ignore_ascii_case("-none-") {
                none = true;
            } else if part.starts_with('-') || part.contains(char::is_whitespace) {
                return Err(invalid_value(
                    obj,
                    "auto-mapped-source-attribute",
                    part,
                    "expected -all-, -none- or attribute names",
                ));
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
    let (Some(f), Some(t)) = (obj.first("from-dn-pattern"), obj.first("to-dn-pattern")) else {
        return Err(MappingConfigError::Invalid {
            object: obj.label(),
            reason: "it needs both from-dn-pattern and to-dn-pattern".to_string(),
        });
    };
    let map = DnMap::new(f, t).map_err(|e| match e.side {
        DnPatternSide::From => invalid_value(obj, "from-dn-pattern", f, &e),
        DnPatternSide::To => invalid_value(obj, "to-dn-pattern", t, &e),
    })?;
    Ok(NamedDnMap { name: obj.name().to_string(), map })
}

fn compile_mapping(
    config: &Config,
    class: &ConfigObject,
    obj: &ConfigObject,
    class_dn_maps: &[NamedDnMap],
) -> Result<AttributeMapping, MappingConfigError> {
    let label = || format!("{} (used by the {})", obj.label(), class.label());
    let bad_value = |property: &str, value: &str, reason: String| MappingConfigError::InvalidValue {
        object: label(),
        property: property.to_string(),
        value: value.to_string(),
        reason,
    };
    let invalid = |reason: String| MappingConfigError::Invalid { object: label(), reason };
    let from_attribute = || {
        obj.first("from-attribute")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("from-attribute is not set".to_string()))
    };

    let variant = obj.variant.as_deref().unwrap_or("");
    let kind = match variant {
        "direct" => {
            let encode = obj.flag("base64-encode-value");
            let decode = obj.flag("base-64-decode-value");
            if encode && decode {
                return Err(invalid("base64-encode-value and base-64-decode-value are both true".to_string()));
            }
            MappingKind::Direct { from: from_attribute()?, encode, decode }
        }
        "constructed" => {
            let mut conditional = Vec::new();
            for v in obj.values("conditional-value-pattern") {
                conditional.push(
                    ConditionalValuePattern::parse(v)
                        .map_err(|e| bad_value("conditional-value-pattern", v, e.to_string()))?,
                );
            }
            let mut patterns = Vec::new();
            for v in obj.values("value-pattern") {
                patterns.push(ValuePattern::parse(v).map_err(|e| bad_value("value-pattern", v, e.to_string()))?);
            }
            if conditional.is_empty() && patterns.is_empty() {
                return Err(invalid("it has neither value-pattern nor conditional-value-pattern".to_string()));
            }
            MappingKind::Constructed { conditional, patterns }
        }
        "dn" => {
            let mut maps = Vec::new();
            for name in obj.values("dn-map") {
                maps.push(dn_map(config, label(), "dn-map", name)?);
            }
            if maps.is_empty() {
                maps = class_dn_maps.to_vec();
            }
            MappingKind::Dn { from: from_attribute()?, maps }
        }
        "json" => {
            let mut fields = Vec::new();
            for f in config.children("json-attribute-mapping-field", &obj.names) {
                fields.push(json_field(f, class)?);
            }
            MappingKind::Json { fields }
        }
        other => {
            return Err(invalid(format!("attribute mappings of type '{other}' are not supported by ferrosync")));
        }
    };

    let mut mapping = AttributeMapping {
        map: obj.names.first().cloned().unwrap_or_default(),
        destination: obj.name().to_string(),
        kind,
        exclude_values: obj.values("exclude-value").iter().map(|s| s.to_string()).collect(),
        also_depends_on: trimmed(obj, "also-depends-on-src-attribute"),
        sync_on_every_update: obj.flag("sync-on-every-update"),
        sources: Vec::new(),
    };
    mapping.collect_sources();
    Ok(mapping)
}

fn json_field(f: &ConfigObject, class: &ConfigObject) -> Result<JsonField, MappingConfigError> {
    let label = || format!("{} (used by the {})", f.label(), class.label());
    let type_raw = f.first("json-type").unwrap_or("string");
    let json_type = JsonType::parse(type_raw).ok_or_else(|| MappingConfigError::InvalidValue {
        object: label(),
        property: "json-type".to_string(),
        value: type_raw.to_string(),
        reason: "expected string, number, boolean, object, array or null".to_string(),
    })?;
    let from = f.first("from-attribute").map(str::trim).filter(|s| !s.is_empty());
    let pattern = f.first("value-pattern");
    let source = match (from, pattern) {
        (Some(_), Some(_)) => {
            return Err(MappingConfigError::Invalid {
                object: label(),
                reason: "it sets both from-attribute and value-pattern".to_string(),
            })
        }
        (Some(a), None) => FieldSource::Attribute(a.to_string()),
        (None, Some(p)) => {
            FieldSource::Pattern(ValuePattern::parse(p).map_err(|e| MappingConfigError::InvalidValue {
                object: label(),
                property: "value-pattern".to_string(),
                value: p.to_string(),
                reason: e.to_string(),
            })?)
        }
        (None, None) if json_type == JsonType::Null => FieldSource::Nothing,
        (None, None) => {
            return Err(MappingConfigError::Invalid {
                object: label(),
                reason: "it needs from-attribute or value-pattern".to_string(),
            })
        }
    };
    Ok(JsonField { name: f.name().to_string(), source, json_type })
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
