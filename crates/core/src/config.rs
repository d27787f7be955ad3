//! The configuration in memory: objects with their explicitly set property values, and the rules that every
//! change must keep (syntax, required properties, references). A [`Config`] is loaded from the store, changed
//! by [`Config::apply`] one command at a time (each command all or nothing), and saved back in one transaction.

use std::collections::BTreeMap;

use crate::error::ConfigError;
use crate::model::{self, find_type, ObjectType, PropertyDef, Syntax};

/// One configuration object.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigObject {
    pub object_type: &'static ObjectType,
    /// The names of the parent objects, then this object's own name; empty for a singleton.
    pub names: Vec<String>,
    /// The `--type` variant, for types that have variants.
    pub variant: Option<String>,
    /// The explicitly set values, by property name. Sensitive values are kept encrypted.
    pub props: BTreeMap<String, Vec<String>>,
}

impl std::fmt::Debug for ConfigObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigObject")
            .field("type", &self.object_type.name)
            .field("names", &self.names)
            .field("variant", &self.variant)
            .field("props", &self.props)
            .finish()
    }
}

impl ConfigObject {
    pub fn new(object_type: &'static ObjectType, names: Vec<String>, variant: Option<String>) -> Self {
        ConfigObject { object_type, names, variant, props: BTreeMap::new() }
    }

    /// This object's own name ("" for a singleton).
    pub fn name(&self) -> &str {
        self.names.last().map(String::as_str).unwrap_or("")
    }

    /// The definition of property `prop` for this object's variant.
    pub fn property(&self, prop: &str) -> Option<&'static PropertyDef> {
        self.object_type.property(self.variant.as_deref(), prop)
    }

    /// The values of `prop`: explicit ones, else the default.
    pub fn values(&self, prop: &str) -> Vec<&str> {
        match self.props.get(prop) {
            Some(v) => v.iter().map(String::as_str).collect(),
            None => self.property(prop).map(|p| p.default.to_vec()).unwrap_or_default(),
        }
    }

    /// The first value of `prop` (explicit or default).
    pub fn first(&self, prop: &str) -> Option<&str> {
        match self.props.get(prop) {
            Some(v) => v.first().map(String::as_str),
            None => self.property(prop).and_then(|p| p.default.first().copied()),
        }
    }

    /// A boolean property (explicit or default); false when unset.
    pub fn flag(&self, prop: &str) -> bool {
        self.first(prop).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The definitions of this object's properties: the declared ones for its variant, then the undeclared ones
    /// it has values for (an object ferrosync does not use takes any property, see [`model::open_property`]).
    pub fn property_defs(&self) -> Vec<&'static PropertyDef> {
        let mut defs = self.object_type.properties(self.variant.as_deref());
        for key in self.props.keys() {
            if !defs.iter().any(|d| d.name.eq_ignore_ascii_case(key)) {
                defs.extend(self.property(key));
            }
        }
        defs
    }

    /// Whether ferrosync does not use this object (its type or its variant is marked unused).
    pub fn is_unused(&self) -> bool {
        self.object_type.is_unused(self.variant.as_deref())
    }

    /// Whether `prop` has an explicit value.
    pub fn is_set(&self, prop: &str) -> bool {
        self.props.contains_key(prop)
    }

    /// "Sync Pipe 'p1'" or "Sync Class 'c1' of Sync Pipe 'p1'".
    pub fn label(&self) -> String {
        describe(self.object_type, &self.names)
    }

    /// Whether this object is `names` of `object_type` (names compare without case).
    pub fn is(&self, object_type: &ObjectType, names: &[String]) -> bool {
        std::ptr::eq(self.object_type, object_type) && same_names(&self.names, names)
    }
}

/// Names compare without case, as in PingDataSync.
pub fn same_names(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// "Sync Class 'c1' of Sync Pipe 'p1'".
pub fn describe(object_type: &'static ObjectType, names: &[String]) -> String {
    if object_type.singleton {
        return object_type.display.to_string();
    }
    let lineage = object_type.lineage();
    let mut parts: Vec<String> = lineage.iter().zip(names).map(|(t, n)| format!("{} '{}'", t.display, n)).collect();
    parts.reverse();
    parts.join(" of ")
}

/// A change to one property, as given by `--set`, `--add`, `--remove` or `--reset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropertyChange {
    Set(String, String),
    Add(String, String),
    Remove(String, String),
    Reset(String),
}

impl PropertyChange {
    pub fn property(&self) -> &str {
        match self {
            PropertyChange::Set(p, _) | PropertyChange::Add(p, _) | PropertyChange::Remove(p, _) => p,
            PropertyChange::Reset(p) => p,
        }
    }
}

/// Something that turns a sensitive value into its stored (encrypted) form.
pub trait SecretSealer {
    fn seal(&self, plain: &str) -> Result<String, ConfigError>;
}

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    objects: Vec<ConfigObject>,
}

impl Config {
    pub fn from_objects(objects: Vec<ConfigObject>) -> Self {
        Config { objects }
    }

    /// The configuration of a new server root: the built-in objects that real batch files modify.
    pub fn builtin() -> Self {
        let mut objects = Vec::new();
        for b in model::types::BUILTIN_OBJECTS {
            let Some(t) = find_type(b.type_name) else {
                continue;
            };
            let names = if t.singleton { Vec::new() } else { vec![b.name.to_string()] };
            let mut obj = ConfigObject::new(t, names, b.variant.map(str::to_string));
            for (p, v) in b.props {
                obj.props.entry(p.to_string()).or_default().push(v.to_string());
            }
            objects.push(obj);
        }
        Config { objects }
    }

    pub fn objects(&self) -> &[ConfigObject] {
        &self.objects
    }

    /// The object `names` of `object_type`.
    pub fn find(&self, object_type: &ObjectType, names: &[String]) -> Option<&ConfigObject> {
        self.objects.iter().find(|o| o.is(object_type, names))
    }

    /// A singleton as it is when nothing was set: what `get-`/`set-...-prop` see of a singleton the store lacks
    /// (one of a type added to the model after the store was first filled), as in Ping every singleton exists.
    pub fn default_singleton(object_type: &'static ObjectType) -> ConfigObject {
        let variant = model::types::BUILTIN_OBJECTS
            .iter()
            .find(|b| b.type_name == object_type.name)
            .and_then(|b| b.variant)
            .or(object_type.default_variant);
        ConfigObject::new(object_type, Vec::new(), variant.map(str::to_string))
    }

    /// The object of type `type_name` called `name` (for top-level types) or the singleton.
    pub fn get(&self, type_name: &str, name: &str) -> Option<&ConfigObject> {
        let t = find_type(type_name)?;
        if t.singleton {
            return self.find(t, &[]);
        }
        self.find(t, &[name.to_string()])
    }

    /// All objects of type `type_name`, in name order.
    pub fn all(&self, type_name: &str) -> Vec<&ConfigObject> {
        let mut v: Vec<&ConfigObject> = self.objects.iter().filter(|o| o.object_type.name == type_name).collect();
        v.sort_by_key(|o| o.names.iter().map(|n| n.to_lowercase()).collect::<Vec<_>>());
        v
    }

    /// The children of type `type_name` of the object called `parent_names`.
    pub fn children(&self, type_name: &str, parent_names: &[String]) -> Vec<&ConfigObject> {
        self.all(type_name)
            .into_iter()
            .filter(|o| {
                o.names.len() == parent_names.len() + 1 && same_names(&o.names[..parent_names.len()], parent_names)
            })
            .collect()
    }

    fn position(&self, object_type: &ObjectType, names: &[String]) -> Option<usize> {
        self.objects.iter().position(|o| o.is(object_type, names))
    }

    fn names_of(&self, object_type: &ObjectType, parent: &[String]) -> Vec<String> {
        self.all(object_type.name)
            .into_iter()
            .filter(|o| o.names.len() == parent.len() + 1 && same_names(&o.names[..parent.len()], parent))
            .map(|o| o.name().to_string())
            .collect()
    }

    fn require(&self, object_type: &'static ObjectType, names: &[String]) -> Result<&ConfigObject, ConfigError> {
        // Check the parents first, so the error names the first missing one.
        let lineage = object_type.lineage();
        for (depth, t) in lineage.iter().enumerate().take(lineage.len().saturating_sub(1)) {
            if self.find(t, &names[..=depth]).is_none() {
                return Err(ConfigError::NoSuchObject {
                    object: describe(t, &names[..=depth]),
                    existing: self.names_of(t, &names[..depth]),
                });
            }
        }
        self.find(object_type, names).ok_or_else(|| ConfigError::NoSuchObject {
            object: describe(object_type, names),
            existing: self.names_of(object_type, &names[..names.len().saturating_sub(1)]),
        })
    }

    /// Creates an object. Nothing changes when an error is returned.
    pub fn create(
        &mut self,
        object_type: &'static ObjectType,
        names: &[String],
        variant: Option<&str>,
        changes: &[PropertyChange],
        sealer: &dyn SecretSealer,
    ) -> Result<&ConfigObject, ConfigError> {
        if object_type.singleton {
            return Err(ConfigError::Singleton { object: object_type.display.to_string() });
        }
        if names.iter().any(|n| n.trim().is_empty()) {
            return Err(ConfigError::EmptyName { object: object_type.display.to_string() });
        }
        if names.len() > 1 {
            let parent_type = object_type
                .parent
                .and_then(find_type)
                .ok_or_else(|| ConfigError::Internal(format!("no parent type for {}", object_type.name)))?;
            self.require(parent_type, &names[..names.len() - 1])?;
        }
        if let Some(existing) = self.find(object_type, names) {
            return Err(ConfigError::AlreadyExists { object: existing.label() });
        }
        let variant = resolve_variant(object_type, variant)?;
        let mut obj = ConfigObject::new(object_type, names.to_vec(), variant);
        apply_changes(&mut obj, changes, sealer)?;
        self.validate(&obj)?;
        self.objects.push(obj);
        let last = self.objects.len() - 1;
        Ok(&self.objects[last])
    }

    /// Changes properties of an existing object. Nothing changes when an error is returned.
    pub fn modify(
        &mut self,
        object_type: &'static ObjectType,
        names: &[String],
        changes: &[PropertyChange],
        sealer: &dyn SecretSealer,
    ) -> Result<&ConfigObject, ConfigError> {
        if changes.is_empty() {
            return Err(ConfigError::NoChanges { object: describe(object_type, names) });
        }
        let mut obj = match self.require(object_type, names) {
            Ok(found) => found.clone(),
            Err(_) if object_type.singleton => Config::default_singleton(object_type),
            Err(e) => return Err(e),
        };
        apply_changes(&mut obj, changes, sealer)?;
        self.validate(&obj)?;
        let pos = match self.position(object_type, names) {
            Some(pos) => {
                self.objects[pos] = obj;
                pos
            }
            None => {
                self.objects.push(obj);
                self.objects.len() - 1
            }
        };
        Ok(&self.objects[pos])
    }

    /// Deletes an object and its children, unless another object refers to one of them.
    pub fn delete(
        &mut self,
        object_type: &'static ObjectType,
        names: &[String],
    ) -> Result<Vec<ConfigObject>, ConfigError> {
        if object_type.singleton {
            return Err(ConfigError::Singleton { object: object_type.display.to_string() });
        }
        let target = self.require(object_type, names)?.clone();
        let doomed: Vec<usize> = self
            .objects
            .iter()
            .enumerate()
            .filter(|(_, o)| is_self_or_descendant(o, &target))
            .map(|(i, _)| i)
            .collect();
        let mut referrers = Vec::new();
        for (i, o) in self.objects.iter().enumerate() {
            if doomed.contains(&i) {
                continue;
            }
            for (prop, values) in &o.props {
                let Some(Syntax::Reference(to)) = o.property(prop).map(|p| p.syntax) else {
                    continue;
                };
                for v in values {
                    if doomed.iter().any(|&d| {
                        let t = &self.objects[d];
                        t.object_type.name == to && t.names.len() == 1 && t.name().eq_ignore_ascii_case(v)
                    }) {
                        referrers.push(format!("{} (property {prop})", o.label()));
                    }
                }
            }
        }
        if !referrers.is_empty() {
            return Err(ConfigError::StillReferenced { object: target.label(), referrers });
        }
        let mut removed = Vec::new();
        for &i in doomed.iter().rev() {
            removed.push(self.objects.remove(i));
        }
        Ok(removed)
    }

    /// Checks one object against the rules: required properties, one-of sets, references and the type's own check.
    fn validate(&self, obj: &ConfigObject) -> Result<(), ConfigError> {
        let variant = obj.variant.as_deref();
        let props = obj.object_type.properties(variant);
        let missing: Vec<String> = props
            .iter()
            .filter(|p| p.required && p.default.is_empty() && !obj.props.contains_key(p.name))
            .map(|p| p.name.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(ConfigError::MissingRequired { object: obj.label(), properties: missing });
        }
        if let Some(v) = variant.and_then(|v| obj.object_type.variant(v)) {
            for set in v.one_of {
                if !set.iter().any(|p| obj.props.contains_key(*p)) {
                    return Err(ConfigError::MissingOneOf {
                        object: obj.label(),
                        properties: set.iter().map(|s| s.to_string()).collect(),
                    });
                }
            }
        }
        for def in &props {
            let (prop, Some(values)) = (def.name, obj.props.get(def.name)) else {
                continue;
            };
            if let Syntax::Reference(to) = def.syntax {
                let Some(target_type) = find_type(to) else {
                    continue;
                };
                for v in values {
                    if self.find(target_type, std::slice::from_ref(v)).is_none() {
                        return Err(ConfigError::DanglingReference {
                            object: obj.label(),
                            property: prop.to_string(),
                            target: format!("{} '{}'", target_type.display, v),
                            existing: self.names_of(target_type, &[]),
                        });
                    }
                }
            }
        }
        if let Some(check) = obj.object_type.check {
            check(obj).map_err(|reason| ConfigError::InvalidObject { object: obj.label(), reason })?;
        }
        Ok(())
    }
}

fn is_self_or_descendant(o: &ConfigObject, target: &ConfigObject) -> bool {
    if std::ptr::eq(o.object_type, target.object_type) && same_names(&o.names, &target.names) {
        return true;
    }
    o.names.len() > target.names.len()
        && same_names(&o.names[..target.names.len()], &target.names)
        && o.object_type.lineage().iter().any(|t| std::ptr::eq(*t, target.object_type))
}

fn resolve_variant(object_type: &'static ObjectType, variant: Option<&str>) -> Result<Option<String>, ConfigError> {
    let valid = || object_type.variants.iter().map(|v| v.name.to_string()).collect::<Vec<_>>();
    match variant {
        None if object_type.variants.is_empty() => Ok(None),
        None => match object_type.default_variant {
            Some(d) => Ok(Some(d.to_string())),
            None => Err(ConfigError::MissingType { object: object_type.display.to_string(), valid: valid() }),
        },
        Some(v) if object_type.variants.is_empty() => {
            Err(ConfigError::NoTypes { object: object_type.display.to_string(), given: v.to_string() })
        }
        Some(v) => object_type.variant(v).map(|found| Some(found.name.to_string())).ok_or_else(|| {
            ConfigError::UnknownType { object: object_type.display.to_string(), given: v.to_string(), valid: valid() }
        }),
    }
}

/// Applies property changes to `obj` (a working copy).
fn apply_changes(
    obj: &mut ConfigObject,
    changes: &[PropertyChange],
    sealer: &dyn SecretSealer,
) -> Result<(), ConfigError> {
    // Properties already `--set` by this command: a second --set adds a value (Ping's way to set several).
    let mut set_here: Vec<&'static str> = Vec::new();
    for change in changes {
        let def = lookup_property(obj, change.property())?;
        let name = def.name.to_string();
        match change {
            PropertyChange::Set(_, raw) => {
                let value = checked_value(obj, def, raw, sealer)?;
                if !set_here.contains(&def.name) {
                    set_here.push(def.name);
                    obj.props.insert(name, vec![value]);
                    continue;
                }
                if !def.multi {
                    return Err(ConfigError::SingleValued { object: obj.label(), property: name });
                }
                let current = obj.props.entry(name.clone()).or_default();
                if !def.sensitive && current.iter().any(|c| values_equal(&def.syntax, c, &value)) {
                    return Err(ConfigError::DuplicateValue {
                        object: obj.label(),
                        property: name,
                        value: raw.clone(),
                    });
                }
                current.push(value);
            }
            PropertyChange::Add(_, raw) => {
                let value = checked_value(obj, def, raw, sealer)?;
                if !def.multi {
                    if obj.props.contains_key(def.name) {
                        return Err(ConfigError::SingleValued { object: obj.label(), property: name });
                    }
                    obj.props.insert(name, vec![value]);
                    continue;
                }
                let mut current: Vec<String> = obj.values(def.name).iter().map(|s| s.to_string()).collect();
                // --add of a value already there changes nothing.
                if def.sensitive || !current.iter().any(|c| values_equal(&def.syntax, c, &value)) {
                    current.push(value);
                }
                obj.props.insert(name, current);
            }
            PropertyChange::Remove(_, raw) => {
                if def.sensitive {
                    return Err(ConfigError::SensitiveRemove { object: obj.label(), property: name });
                }
                let current: Vec<String> = obj.values(def.name).iter().map(|s| s.to_string()).collect();
                let kept: Vec<String> =
                    current.iter().filter(|c| !values_equal(&def.syntax, c, raw)).cloned().collect();
                if kept.len() == current.len() {
                    return Err(ConfigError::NoSuchValue {
                        object: obj.label(),
                        property: name,
                        value: raw.clone(),
                        current,
                    });
                }
                if kept.is_empty() && def.required {
                    return Err(ConfigError::MissingRequired { object: obj.label(), properties: vec![name] });
                }
                obj.props.insert(name, kept);
            }
            PropertyChange::Reset(_) => {
                if def.required && def.default.is_empty() {
                    return Err(ConfigError::MissingRequired { object: obj.label(), properties: vec![name] });
                }
                obj.props.remove(&name);
            }
        }
    }
    Ok(())
}

fn values_equal(syntax: &Syntax, a: &str, b: &str) -> bool {
    match syntax {
        Syntax::Enum(_) | Syntax::Reference(_) | Syntax::Boolean | Syntax::AttributeName | Syntax::AttributeList => {
            a.trim().eq_ignore_ascii_case(b.trim())
        }
        Syntax::Dn => crate::syntax::dn::dn_equal(a, b),
        _ => a == b,
    }
}

/// The definition of `prop` for `obj`, or an error that lists what is valid.
pub fn lookup_property(obj: &ConfigObject, prop: &str) -> Result<&'static PropertyDef, ConfigError> {
    obj.property(prop).ok_or_else(|| {
        let valid: Vec<&str> = obj.object_type.properties(obj.variant.as_deref()).iter().map(|p| p.name).collect();
        ConfigError::UnknownProperty {
            object: obj.label(),
            variant: obj.variant.clone(),
            property: prop.to_string(),
            suggestion: crate::util::closest(prop, valid.iter().copied()).map(str::to_string),
            valid: valid.iter().map(|s| s.to_string()).collect(),
        }
    })
}

fn checked_value(
    obj: &ConfigObject,
    def: &PropertyDef,
    raw: &str,
    sealer: &dyn SecretSealer,
) -> Result<String, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::InvalidValue {
            object: obj.label(),
            property: def.name.to_string(),
            value: String::new(),
            reason: format!(
                "a value is required: expected {} (use --reset to remove all values)",
                def.syntax.describe()
            ),
        });
    }
    let value = model::check_value(&def.syntax, raw).map_err(|reason| ConfigError::InvalidValue {
        object: obj.label(),
        property: def.name.to_string(),
        value: if def.sensitive { "*****".into() } else { raw.to_string() },
        reason,
    })?;
    if def.sensitive {
        sealer.seal(&value)
    } else {
        Ok(value)
    }
}
