//! How configuration objects are kept as rows, the same in every SQL backend: the type, the names (JSON), a
//! key of the names without case (unique per type), the variant and the properties (JSON); and the rows a
//! change of the configuration writes.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, ConfigObject};
use crate::model::find_type;

/// An object as the columns of its row.
pub(crate) struct ObjectRow {
    pub type_name: String,
    pub names: String,
    pub names_key: String,
    pub variant: Option<String>,
    pub props: String,
}

/// The unique key of an object's row: its type and its names without case.
pub(crate) fn key_of(obj: &ConfigObject) -> (String, String) {
    let lower: Vec<String> = obj.names.iter().map(|n| n.to_lowercase()).collect();
    (obj.object_type.name.to_string(), serde_json::to_string(&lower).unwrap_or_default())
}

pub(crate) fn row_of(obj: &ConfigObject) -> ObjectRow {
    let (type_name, names_key) = key_of(obj);
    ObjectRow {
        type_name,
        names: serde_json::to_string(&obj.names).unwrap_or_default(),
        names_key,
        variant: obj.variant.clone(),
        props: serde_json::to_string(&obj.props).unwrap_or_default(),
    }
}

/// An object read back from its row's columns; `Err` says what is wrong with the row.
pub(crate) fn object_of(
    type_name: &str,
    names: &str,
    variant: Option<String>,
    props: &str,
) -> Result<ConfigObject, String> {
    let object_type = find_type(type_name)
        .ok_or_else(|| format!("unknown object type '{type_name}' (written by a newer ferrosync?)"))?;
    let names: Vec<String> = serde_json::from_str(names).map_err(|e| format!("names of a {type_name}: {e}"))?;
    let props: BTreeMap<String, Vec<String>> =
        serde_json::from_str(props).map_err(|e| format!("properties of a {type_name}: {e}"))?;
    Ok(ConfigObject { object_type, names, variant, props })
}

/// One row to write for a change of the configuration.
pub(crate) enum RowChange<'a> {
    /// The row of this key goes.
    Delete((String, String)),
    /// A new object: its row is added (after the rows of the objects before it).
    Insert(&'a ConfigObject),
    /// An object whose names' case, variant or properties changed: its row (found by key) is rewritten.
    Update(&'a ConfigObject),
}

/// The row changes that turn `before` into `after`: deletes first, then inserts and updates in `after`'s order
/// (so that objects load in the order they were created).
pub(crate) fn diff<'a>(before: &Config, after: &'a Config) -> Vec<RowChange<'a>> {
    let old: BTreeMap<(String, String), &ConfigObject> = before.objects().iter().map(|o| (key_of(o), o)).collect();
    let new: BTreeSet<(String, String)> = after.objects().iter().map(key_of).collect();
    let mut changes: Vec<RowChange<'a>> =
        old.keys().filter(|k| !new.contains(*k)).map(|k| RowChange::Delete(k.clone())).collect();
    for o in after.objects() {
        match old.get(&key_of(o)) {
            None => changes.push(RowChange::Insert(o)),
            Some(prev) if *prev != o => changes.push(RowChange::Update(o)),
            Some(_) => {}
        }
    }
    changes
}
