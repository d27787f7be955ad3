//! Relational databases: the `jdbc` external server (PostgreSQL) and the `jdbc` sync destination's table
//! mapping.

use std::time::Duration;

use super::{Reader, SecretSetting, SettingsError};
use crate::config::Config;
use crate::syntax::Dn;

/// The `jdbc-driver-type`s that name PostgreSQL.
const POSTGRES_DRIVERS: &[&str] = &["postgres", "postgresql"];

/// A `jdbc` external server.
#[derive(Clone, Debug)]
pub struct JdbcServerSettings {
    pub name: String,
    pub label: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    /// `password`, or the `passphrase-provider` that supplies it.
    pub password: SecretSetting,
    /// `sslmode` of `jdbc-connection-properties` (libpq's names); `None`: prefer.
    pub sslmode: Option<String>,
    /// `sslrootcert` of `jdbc-connection-properties`.
    pub sslrootcert: Option<String>,
    pub connect_timeout: Duration,
}

impl JdbcServerSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let driver = r.required_text("jdbc-driver-type")?;
        let mut s = JdbcServerSettings {
            name: r.name().to_string(),
            label: r.label(),
            host: r.required_text("server-host-name")?,
            port: r.required_integer("server-port")?,
            database: r.required_text("database-name")?,
            user: r.required_text("user-name")?,
            password: r.secret("password", Some("passphrase-provider"))?,
            sslmode: None,
            sslrootcert: None,
            connect_timeout: Duration::from_secs(10),
        };
        let invalid = |reason: String| SettingsError::Invalid { object: r.label(), reason };
        for prop in r.texts("jdbc-connection-properties")? {
            let (key, value) = prop
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| invalid(format!("jdbc-connection-properties '{prop}' is not NAME=VALUE")))?;
            match key {
                "sslmode" => s.sslmode = Some(value.to_string()),
                "sslrootcert" => s.sslrootcert = Some(value.to_string()),
                "connect_timeout" | "connectTimeout" => {
                    let secs: u64 = value.parse().map_err(|_| {
                        invalid(format!("jdbc-connection-properties {key}={value}: not a number of seconds"))
                    })?;
                    s.connect_timeout = Duration::from_secs(secs.max(1));
                }
                other => {
                    return Err(invalid(format!(
                        "jdbc-connection-properties '{other}' is not known to ferrosync (it takes sslmode, \
                         sslrootcert, connect_timeout)"
                    )))
                }
            }
        }
        if !POSTGRES_DRIVERS.iter().any(|d| d.eq_ignore_ascii_case(&driver)) {
            return Err(invalid(format!(
                "jdbc-driver-type '{driver}': ferrosync connects to PostgreSQL only (jdbc-driver-type:postgres)"
            )));
        }
        Ok(s)
    }

    /// The settings of the external server `name`, which must be of type jdbc.
    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        let obj = super::lookup(config, "external-server", name)?;
        if obj.variant.as_deref() != Some("jdbc") {
            return Err(SettingsError::Invalid {
                object: obj.label(),
                reason: format!("it is of type {}, not jdbc", obj.variant.as_deref().unwrap_or("-")),
            });
        }
        JdbcServerSettings::read(&Reader::new(obj))
    }
}

/// One `column-map` value: a destination attribute and the column it is written to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMap {
    pub attribute: String,
    pub column: String,
}

/// A `jdbc` sync destination: one or more tables (by object class), one row per entry.
#[derive(Clone, Debug)]
pub struct JdbcDestinationSettings {
    pub name: String,
    pub label: String,
    pub server: String,
    /// The tables: `table` (the default) first when it is set, then the tables of `object-class-table-map` in
    /// the order they are first named.
    pub tables: Vec<DestinationTable>,
    /// The `object-class-table-map` values in their order: an object class and the index of its table.
    pub routes: Vec<(String, usize)>,
}

/// A table of a `jdbc` sync destination and its mapping.
#[derive(Clone, Debug)]
pub struct DestinationTable {
    /// The table's schema (`public` when the table is named without one).
    pub schema: String,
    pub table: String,
    pub key_columns: Vec<String>,
    pub column_maps: Vec<ColumnMap>,
    /// Multi-valued attributes written to child tables, one row per value.
    pub child_tables: Vec<ChildTableMap>,
    /// The object classes whose entries go to this table (`object-class-table-map`, in its order).
    pub object_classes: Vec<String>,
    /// Whether this is the `table` property's table: entries no `object-class-table-map` class routes elsewhere.
    pub default: bool,
    /// The DN below which the table's rows are entries (RDN: the key columns' attributes), for listing.
    pub base_dn: Option<Dn>,
}

impl DestinationTable {
    /// `schema.table`, for messages.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }
}

/// `TABLE` or `SCHEMA.TABLE` as (schema, table), schema `public` when not given.
fn schema_table(
    text: &str,
    prop: &str,
    invalid: &dyn Fn(String) -> SettingsError,
) -> Result<(String, String), SettingsError> {
    let (schema, table) = match text.split_once('.') {
        Some((s, t)) => (s.trim().to_string(), t.trim().to_string()),
        None => ("public".to_string(), text.trim().to_string()),
    };
    if schema.is_empty() || table.is_empty() {
        return Err(invalid(format!("{prop} '{text}' is not TABLE or SCHEMA.TABLE")));
    }
    Ok((schema, table))
}

/// The `table`, `key-column` and `column-map` properties that sync sources and destinations share.
struct TableMapping {
    schema: String,
    table: String,
    key_columns: Vec<String>,
    column_maps: Vec<ColumnMap>,
}

impl TableMapping {
    fn read(r: &Reader) -> Result<Self, SettingsError> {
        let table = r.required_text("table")?;
        let key_columns = r.texts("key-column")?;
        let maps = r.texts("column-map")?;
        let invalid = |reason: String| SettingsError::Invalid { object: r.label(), reason };
        let (schema, table) = schema_table(&table, "table", &invalid)?;
        let mut t = TableMapping { schema, table, key_columns, column_maps: Vec::new() };
        for m in &maps {
            let (attribute, column) = m
                .split_once(':')
                .map(|(a, c)| (a.trim(), c.trim()))
                .filter(|(a, c)| !a.is_empty() && !c.is_empty())
                .ok_or_else(|| invalid(format!("column-map '{m}' is not ATTRIBUTE:COLUMN")))?;
            t.add_column_map(attribute, column, "", &invalid)?;
        }
        t.check_keys("", &invalid)?;
        Ok(t)
    }

    /// Adds the column-map of `attribute` to `column`; `of` names the table in messages (` of table T`, or
    /// nothing for the only table).
    fn add_column_map(
        &mut self,
        attribute: &str,
        column: &str,
        of: &str,
        invalid: &dyn Fn(String) -> SettingsError,
    ) -> Result<(), SettingsError> {
        if let Some(other) = self.column_maps.iter().find(|c| c.attribute.eq_ignore_ascii_case(attribute)) {
            return Err(invalid(format!(
                "column-map{of}: attribute '{attribute}' is mapped twice (to '{}' and '{column}')",
                other.column
            )));
        }
        if let Some(other) = self.column_maps.iter().find(|c| c.column == column) {
            return Err(invalid(format!(
                "column-map{of}: column '{column}' is mapped twice (from '{}' and '{attribute}')",
                other.attribute
            )));
        }
        self.column_maps.push(ColumnMap { attribute: attribute.to_string(), column: column.to_string() });
        Ok(())
    }

    /// Every key column is the column of a column-map.
    fn check_keys(&self, of: &str, invalid: &dyn Fn(String) -> SettingsError) -> Result<(), SettingsError> {
        if self.key_columns.is_empty() {
            return Err(invalid(if of.is_empty() {
                "it has no key-column".into()
            } else {
                format!(
                    "table {}.{} has no key-column (--add key-column:{}:COLUMN)",
                    self.schema, self.table, self.table
                )
            }));
        }
        for k in &self.key_columns {
            if !self.column_maps.iter().any(|c| &c.column == k) {
                let prefix = if of.is_empty() { String::new() } else { format!("{}.{}:", self.schema, self.table) };
                return Err(invalid(format!(
                    "key-column '{k}'{of} is not the column of any column-map (map an attribute to it: \
                     --add column-map:{prefix}ATTRIBUTE:{k})"
                )));
            }
        }
        Ok(())
    }
}

/// The `child-table-map` values of a table mapping: `ATTRIBUTE:TABLE:PARENT-KEY-COLUMNS:VALUE-COLUMN`.
fn child_table_maps(
    maps: &[String],
    t: &TableMapping,
    invalid: &dyn Fn(String) -> SettingsError,
) -> Result<Vec<ChildTableMap>, SettingsError> {
    let mut child_tables: Vec<ChildTableMap> = Vec::new();
    for m in maps {
        let parts: Vec<&str> = m.split(':').map(str::trim).collect();
        let [attribute, table, parents, value] = parts[..] else {
            return Err(invalid(format!(
                "child-table-map '{m}' is not ATTRIBUTE:TABLE:PARENT-KEY-COLUMNS:VALUE-COLUMN"
            )));
        };
        child_tables.push(child_table_map(m, [attribute, table, parents, value], t, &child_tables, invalid)?);
    }
    Ok(child_tables)
}

/// One `child-table-map` value `m`, split into its four parts, of table `t` (which has the child tables `known`).
fn child_table_map(
    m: &str,
    [attribute, table, parents, value]: [&str; 4],
    t: &TableMapping,
    known: &[ChildTableMap],
    invalid: &dyn Fn(String) -> SettingsError,
) -> Result<ChildTableMap, SettingsError> {
    let parent_key_columns: Vec<String> =
        parents.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
    if attribute.is_empty() || value.is_empty() || parent_key_columns.is_empty() {
        return Err(invalid(format!("child-table-map '{m}' is not ATTRIBUTE:TABLE:PARENT-KEY-COLUMNS:VALUE-COLUMN")));
    }
    if parent_key_columns.len() != t.key_columns.len() {
        return Err(invalid(format!(
            "child-table-map '{m}' names {} parent key column(s), but table {}.{} has {} key-column(s) ({})",
            parent_key_columns.len(),
            t.schema,
            t.table,
            t.key_columns.len(),
            t.key_columns.join(", ")
        )));
    }
    if t.column_maps.iter().any(|c| c.attribute.eq_ignore_ascii_case(attribute))
        || known.iter().any(|c| c.attribute.eq_ignore_ascii_case(attribute))
    {
        return Err(invalid(format!("child-table-map '{m}': attribute '{attribute}' is mapped twice")));
    }
    let (schema, table) = schema_table(table, "child-table-map", &invalid)?;
    Ok(ChildTableMap {
        attribute: attribute.to_string(),
        schema,
        table,
        parent_key_columns,
        value_column: value.to_string(),
    })
}

/// A destination table as it is being read: its mapping, child tables, classes and base DN.
struct TableBeingRead {
    t: TableMapping,
    children: Vec<ChildTableMap>,
    classes: Vec<String>,
    default: bool,
    base_dn: Option<Dn>,
}

impl JdbcDestinationSettings {
    /// The settings. `table` names the default table; `object-class-table-map: OBJECTCLASS:TABLE` sends the
    /// entries of a class to another table, whose `key-column`, `column-map`, `child-table-map` and `base-dn`
    /// values start with `TABLE:` (values without the prefix are the default table's).
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        // Every property is read before any is checked.
        let server = r.required_text("server")?;
        let default = r.text("table")?;
        let class_maps = r.texts("object-class-table-map")?;
        let key_columns = r.texts("key-column")?;
        let column_maps = r.texts("column-map")?;
        let child_maps = r.texts("child-table-map")?;
        let base_dns = r.texts("base-dn")?;
        let invalid = |reason: String| SettingsError::Invalid { object: r.label(), reason };
        let new_table = |schema: String, table: String, default: bool| TableBeingRead {
            t: TableMapping { schema, table, key_columns: Vec::new(), column_maps: Vec::new() },
            children: Vec::new(),
            classes: Vec::new(),
            default,
            base_dn: None,
        };
        let mut tables: Vec<TableBeingRead> = Vec::new();
        let mut routes: Vec<(String, usize)> = Vec::new();
        if let Some(t) = &default {
            let (schema, table) = schema_table(t, "table", &invalid)?;
            tables.push(new_table(schema, table, true));
        }
        for m in &class_maps {
            let (class, table) = m
                .split_once(':')
                .map(|(c, t)| (c.trim(), t.trim()))
                .filter(|(c, t)| !c.is_empty() && !t.is_empty())
                .ok_or_else(|| invalid(format!("object-class-table-map '{m}' is not OBJECTCLASS:TABLE")))?;
            if tables.iter().any(|t| t.classes.iter().any(|c| c.eq_ignore_ascii_case(class))) {
                return Err(invalid(format!("object-class-table-map: object class '{class}' is mapped twice")));
            }
            let (schema, table) = schema_table(table, "object-class-table-map", &invalid)?;
            let i = match tables.iter().position(|t| t.t.schema == schema && t.t.table == table) {
                Some(i) => i,
                None => {
                    tables.push(new_table(schema, table, false));
                    tables.len() - 1
                }
            };
            tables[i].classes.push(class.to_string());
            routes.push((class.to_string(), i));
        }
        if tables.is_empty() {
            return Err(invalid(
                "it has no table: set table (the table of every entry), or object-class-table-map \
                 (OBJECTCLASS:TABLE) for each object class"
                    .into(),
            ));
        }
        // Messages name the table unless it is the only one, the table property's.
        let several = tables.len() > 1 || !tables[0].default;
        // The table a value is for: the one its `TABLE:` prefix names, else the default table.
        let target = |tables: &[TableBeingRead],
                      prefix: Option<&str>,
                      prop: &str,
                      value: &str|
         -> Result<usize, SettingsError> {
            let Some(p) = prefix else {
                return tables.iter().position(|t| t.default).ok_or_else(|| {
                    invalid(format!(
                        "{prop} '{value}' names no table, and there is no table property: start it with the table \
                         of an object-class-table-map (TABLE:{value})"
                    ))
                });
            };
            let (schema, table) = schema_table(p, prop, &invalid)?;
            tables.iter().position(|t| t.t.schema == schema && t.t.table == table).ok_or_else(|| {
                let names: Vec<String> = tables.iter().map(|t| format!("{}.{}", t.t.schema, t.t.table)).collect();
                invalid(format!(
                    "{prop} '{value}' is for table '{p}', which is neither the table property's nor one of \
                     object-class-table-map (the tables: {})",
                    names.join(", ")
                ))
            })
        };
        let of = |t: &TableMapping| if several { format!(" of table {}.{}", t.schema, t.table) } else { String::new() };
        for k in &key_columns {
            let (prefix, column) = match k.split_once(':') {
                Some((p, c)) => (Some(p.trim()), c.trim()),
                None => (None, k.trim()),
            };
            let i = target(&tables, prefix, "key-column", k)?;
            if column.is_empty() {
                return Err(invalid(format!("key-column '{k}' is not COLUMN or TABLE:COLUMN")));
            }
            tables[i].t.key_columns.push(column.to_string());
        }
        for m in &column_maps {
            let parts: Vec<&str> = m.split(':').map(str::trim).collect();
            let (prefix, attribute, column) = match parts[..] {
                [a, c] => (None, a, c),
                [t, a, c] => (Some(t), a, c),
                _ => (None, "", ""),
            };
            if attribute.is_empty() || column.is_empty() {
                return Err(invalid(format!("column-map '{m}' is not ATTRIBUTE:COLUMN (or TABLE:ATTRIBUTE:COLUMN)")));
            }
            let i = target(&tables, prefix, "column-map", m)?;
            let label = of(&tables[i].t);
            tables[i].t.add_column_map(attribute, column, &label, &invalid)?;
        }
        for t in &tables {
            t.t.check_keys(&of(&t.t), &invalid)?;
        }
        for m in &child_maps {
            let parts: Vec<&str> = m.split(':').map(str::trim).collect();
            let (prefix, four) = match parts[..] {
                [a, t, p, v] => (None, [a, t, p, v]),
                [x, a, t, p, v] => (Some(x), [a, t, p, v]),
                _ => {
                    return Err(invalid(format!(
                        "child-table-map '{m}' is not ATTRIBUTE:TABLE:PARENT-KEY-COLUMNS:VALUE-COLUMN (or \
                         PARENT-TABLE:ATTRIBUTE:TABLE:PARENT-KEY-COLUMNS:VALUE-COLUMN)"
                    )))
                }
            };
            let i = target(&tables, prefix, "child-table-map", m)?;
            let c = child_table_map(m, four, &tables[i].t, &tables[i].children, &invalid)?;
            tables[i].children.push(c);
        }
        for b in &base_dns {
            // A DN's first RDN has an `=` before any `:`; a table name has none.
            let (prefix, dn) = match b.split_once(':') {
                Some((p, d)) if !p.contains('=') => (Some(p.trim()), d.trim()),
                _ => (None, b.trim()),
            };
            let i = target(&tables, prefix, "base-dn", b)?;
            let dn = Dn::parse(dn).map_err(|e| invalid(format!("base-dn '{b}': '{dn}' is not a valid DN: {e}")))?;
            if tables[i].base_dn.is_some() {
                return Err(invalid(format!("base-dn: table {} has two", tables[i].t.table)));
            }
            tables[i].base_dn = Some(dn);
        }
        Ok(JdbcDestinationSettings {
            name: r.name().to_string(),
            label: r.label(),
            server,
            tables: tables
                .into_iter()
                .map(|t| DestinationTable {
                    schema: t.t.schema,
                    table: t.t.table,
                    key_columns: t.t.key_columns,
                    column_maps: t.t.column_maps,
                    child_tables: t.children,
                    object_classes: t.classes,
                    default: t.default,
                    base_dn: t.base_dn,
                })
                .collect(),
            routes,
        })
    }

    /// The settings of the sync destination `name`.
    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        JdbcDestinationSettings::read(&Reader::new(super::lookup(config, "sync-destination", name)?))
    }
}

/// One `child-table-map` value: a multi-valued attribute read from a child table, one row per value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildTableMap {
    pub attribute: String,
    pub schema: String,
    pub table: String,
    /// The child's columns that hold the parent's key, in `key-column` order.
    pub parent_key_columns: Vec<String>,
    pub value_column: String,
}

/// A `jdbc` sync source: one table, one entry per row, changes read from a change log table.
#[derive(Clone, Debug)]
pub struct JdbcSourceSettings {
    pub name: String,
    pub label: String,
    pub server: String,
    pub schema: String,
    pub table: String,
    pub key_columns: Vec<String>,
    pub column_maps: Vec<ColumnMap>,
    pub child_tables: Vec<ChildTableMap>,
    pub base_dn: Dn,
    pub object_classes: Vec<String>,
    /// The change log table's schema and name.
    pub change_log: (String, String),
    /// How long read rows stay in the change log table (`None`: for ever).
    pub change_log_max_age: Option<Duration>,
    /// The database roles whose changes the pipe skips (the real-time settings read them with the pipe's).
    pub ignore_changes_by_user: Vec<String>,
}

impl JdbcSourceSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let server = r.required_text("server")?;
        // Every property is read before any is checked.
        let base_dns = r.dns("base-dn")?;
        let object_classes = r.texts("object-class")?;
        let change_log = r.text("change-log-table")?;
        let change_log_max_age = r.duration("change-log-maximum-age")?.filter(|d| !d.is_zero());
        let ignore_changes_by_user = r.texts("ignore-changes-by-user")?;
        let child_maps = r.texts("child-table-map")?;
        let t = TableMapping::read(r)?;
        let invalid = |reason: String| SettingsError::Invalid { object: r.label(), reason };
        let base_dn = base_dns.into_iter().next().ok_or_else(|| invalid("it has no base-dn".into()))?;
        let change_log =
            schema_table(&change_log.unwrap_or_else(|| "ubid_changelog".into()), "change-log-table", &invalid)?;
        let child_tables = child_table_maps(&child_maps, &t, &invalid)?;
        Ok(JdbcSourceSettings {
            name: r.name().to_string(),
            label: r.label(),
            server,
            schema: t.schema,
            table: t.table,
            key_columns: t.key_columns,
            column_maps: t.column_maps,
            child_tables,
            base_dn,
            object_classes,
            change_log,
            change_log_max_age,
            ignore_changes_by_user,
        })
    }

    /// The settings of the sync source `name`.
    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        JdbcSourceSettings::read(&Reader::new(super::lookup(config, "sync-source", name)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigObject;
    use crate::model::find_type;

    fn destination(props: &[(&str, &str)]) -> Result<JdbcDestinationSettings, SettingsError> {
        let t = find_type("sync-destination").unwrap_or_else(|| panic!("no type"));
        let mut o = ConfigObject::new(t, vec!["db".into()], Some("jdbc".into()));
        for (k, v) in props {
            o.props.entry(k.to_string()).or_default().push(v.to_string());
        }
        JdbcDestinationSettings::read(&Reader::new(&o))
    }

    #[test]
    fn a_table_mapping_is_read_and_checked() {
        let base = [("server", "pg"), ("table", "hr.people"), ("key-column", "user_id")];
        let ok =
            destination(&[base.as_slice(), &[("column-map", "uid:user_id"), ("column-map", "mail:email")]].concat())
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.tables.len(), 1);
        let t = &ok.tables[0];
        assert_eq!((t.schema.as_str(), t.table.as_str(), t.default), ("hr", "people", true));
        assert_eq!(t.column_maps[1], ColumnMap { attribute: "mail".into(), column: "email".into() });
        let err = |extra: &[(&str, &str)]| {
            destination(&[base.as_slice(), extra].concat()).err().map(|e| e.to_string()).unwrap_or_default()
        };
        assert!(err(&[("column-map", "mail:email")]).contains("key-column 'user_id' is not the column of any"));
        assert!(err(&[("column-map", "uid")]).contains("column-map 'uid' is not ATTRIBUTE:COLUMN"));
        assert!(err(&[("column-map", "uid:user_id"), ("column-map", "cn:user_id")]).contains("mapped twice"));
    }

    #[test]
    fn tables_by_object_class_take_their_values_by_prefix() {
        let ok = destination(&[
            ("server", "pg"),
            ("table", "hr.people"),
            ("key-column", "user_id"),
            ("column-map", "uid:user_id"),
            ("object-class-table-map", "groupOfNames:hr.groups"),
            ("object-class-table-map", "groupOfUniqueNames:hr.groups"),
            ("object-class-table-map", "inetOrgPerson:hr.people"),
            ("key-column", "hr.groups:group_name"),
            ("column-map", "hr.groups:cn:group_name"),
            ("column-map", "hr.groups:member:members"),
            ("column-map", "mail:mails"),
            ("child-table-map", "hr.groups:owner:hr.owners:group_name:owner_dn"),
            ("base-dn", "ou=people,dc=example,dc=com"),
            ("base-dn", "hr.groups:cn=groups:x,dc=example,dc=com"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.tables.len(), 2);
        let (people, groups) = (&ok.tables[0], &ok.tables[1]);
        assert!(people.default && !groups.default);
        assert_eq!(people.object_classes, ["inetOrgPerson"]);
        assert_eq!(groups.object_classes, ["groupOfNames", "groupOfUniqueNames"]);
        assert_eq!(people.column_maps.len(), 2);
        assert_eq!(groups.key_columns, ["group_name"]);
        assert_eq!(groups.column_maps[1], ColumnMap { attribute: "member".into(), column: "members".into() });
        assert_eq!(groups.child_tables[0].table, "owners");
        assert_eq!(people.base_dn.as_ref().map(|d| d.to_string()).as_deref(), Some("ou=people,dc=example,dc=com"));
        assert_eq!(groups.base_dn.as_ref().map(|d| d.to_string()).as_deref(), Some("cn=groups:x,dc=example,dc=com"));

        // Without `table`, every value names its table.
        let only_classes = [
            ("server", "pg"),
            ("object-class-table-map", "groupOfNames:groups"),
            ("key-column", "groups:group_name"),
            ("column-map", "groups:cn:group_name"),
        ];
        let ok = destination(&only_classes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((ok.tables.len(), ok.tables[0].default, ok.tables[0].schema.as_str()), (1, false, "public"));
        let err = |extra: &[(&str, &str)]| {
            destination(&[only_classes.as_slice(), extra].concat()).err().map(|e| e.to_string()).unwrap_or_default()
        };
        let e = err(&[("column-map", "mail:mails")]);
        assert!(e.contains("column-map 'mail:mails' names no table, and there is no table property"), "{e}");
        let e = err(&[("column-map", "people:mail:mails")]);
        assert!(e.contains("is for table 'people', which is neither") && e.contains("public.groups"), "{e}");
        let e = err(&[("object-class-table-map", "GROUPOFNAMES:other")]);
        assert!(e.contains("object class 'GROUPOFNAMES' is mapped twice"), "{e}");
        let e = err(&[("object-class-table-map", "person:people")]);
        assert!(e.contains("table public.people has no key-column"), "{e}");
        let e = err(&[("key-column", "groups:members")]);
        assert!(e.contains("key-column 'members' of table public.groups is not the column of any column-map"), "{e}");
        let e = destination(&[("server", "pg")]).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("it has no table: set table"), "{e}");
    }

    #[test]
    fn a_source_reads_its_child_tables_and_refuses_a_wrong_key_count() {
        let t = find_type("sync-source").unwrap_or_else(|| panic!("no type"));
        let read = |extra: &[(&str, &str)]| {
            let mut o = ConfigObject::new(t, vec!["hr".into()], Some("jdbc".into()));
            let base = [
                ("server", "pg"),
                ("table", "hr.employees"),
                ("key-column", "login"),
                ("column-map", "uid:login"),
                ("base-dn", "ou=people,dc=example,dc=com"),
            ];
            for (k, v) in base.iter().chain(extra) {
                o.props.entry(k.to_string()).or_default().push(v.to_string());
            }
            JdbcSourceSettings::read(&Reader::new(&o))
        };
        let ok = read(&[("child-table-map", "telephoneNumber:hr.phones:employee_login:number")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.child_tables[0].parent_key_columns, ["employee_login"]);
        assert_eq!((ok.child_tables[0].schema.as_str(), ok.child_tables[0].value_column.as_str()), ("hr", "number"));
        assert_eq!(ok.change_log, ("public".to_string(), "ubid_changelog".to_string()));
        let err = |extra: &[(&str, &str)]| read(extra).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(&[("child-table-map", "telephoneNumber:hr.phones:a,b:number")]).contains("2 parent key column(s)"));
        assert!(err(&[("child-table-map", "telephoneNumber:hr.phones")]).contains("is not ATTRIBUTE:TABLE"));
        assert!(err(&[("child-table-map", "uid:hr.phones:employee_login:number")]).contains("mapped twice"));
    }
}
