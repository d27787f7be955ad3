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

/// A `jdbc` sync destination: one table, one row per entry.
#[derive(Clone, Debug)]
pub struct JdbcDestinationSettings {
    pub name: String,
    pub label: String,
    pub server: String,
    /// The table's schema (`public` when `table` names none).
    pub schema: String,
    pub table: String,
    pub key_columns: Vec<String>,
    pub column_maps: Vec<ColumnMap>,
    /// Multi-valued attributes written to child tables, one row per value.
    pub child_tables: Vec<ChildTableMap>,
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
        let mut column_maps: Vec<ColumnMap> = Vec::new();
        for m in &maps {
            let (attribute, column) = m
                .split_once(':')
                .map(|(a, c)| (a.trim(), c.trim()))
                .filter(|(a, c)| !a.is_empty() && !c.is_empty())
                .ok_or_else(|| invalid(format!("column-map '{m}' is not ATTRIBUTE:COLUMN")))?;
            if let Some(other) = column_maps.iter().find(|c| c.attribute.eq_ignore_ascii_case(attribute)) {
                return Err(invalid(format!(
                    "column-map: attribute '{attribute}' is mapped twice (to '{}' and '{column}')",
                    other.column
                )));
            }
            if let Some(other) = column_maps.iter().find(|c| c.column == column) {
                return Err(invalid(format!(
                    "column-map: column '{column}' is mapped twice (from '{}' and '{attribute}')",
                    other.attribute
                )));
            }
            column_maps.push(ColumnMap { attribute: attribute.to_string(), column: column.to_string() });
        }
        if key_columns.is_empty() {
            return Err(invalid("it has no key-column".into()));
        }
        for k in &key_columns {
            if !column_maps.iter().any(|c| &c.column == k) {
                return Err(invalid(format!(
                    "key-column '{k}' is not the column of any column-map (map an attribute to it: \
                     --add column-map:ATTRIBUTE:{k})"
                )));
            }
        }
        Ok(TableMapping { schema, table, key_columns, column_maps })
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
        let parent_key_columns: Vec<String> =
            parents.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
        if attribute.is_empty() || value.is_empty() || parent_key_columns.is_empty() {
            return Err(invalid(format!(
                "child-table-map '{m}' is not ATTRIBUTE:TABLE:PARENT-KEY-COLUMNS:VALUE-COLUMN"
            )));
        }
        if parent_key_columns.len() != t.key_columns.len() {
            return Err(invalid(format!(
                "child-table-map '{m}' names {} parent key column(s), but the table has {} key-column(s) ({})",
                parent_key_columns.len(),
                t.key_columns.len(),
                t.key_columns.join(", ")
            )));
        }
        if t.column_maps.iter().any(|c| c.attribute.eq_ignore_ascii_case(attribute))
            || child_tables.iter().any(|c| c.attribute.eq_ignore_ascii_case(attribute))
        {
            return Err(invalid(format!("child-table-map '{m}': attribute '{attribute}' is mapped twice")));
        }
        let (schema, table) = schema_table(table, "child-table-map", &invalid)?;
        child_tables.push(ChildTableMap {
            attribute: attribute.to_string(),
            schema,
            table,
            parent_key_columns,
            value_column: value.to_string(),
        });
    }
    Ok(child_tables)
}

impl JdbcDestinationSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let server = r.required_text("server")?;
        let child_maps = r.texts("child-table-map")?;
        let t = TableMapping::read(r)?;
        let invalid = |reason: String| SettingsError::Invalid { object: r.label(), reason };
        let child_tables = child_table_maps(&child_maps, &t, &invalid)?;
        Ok(JdbcDestinationSettings {
            name: r.name().to_string(),
            label: r.label(),
            server,
            schema: t.schema,
            table: t.table,
            key_columns: t.key_columns,
            column_maps: t.column_maps,
            child_tables,
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
}

impl JdbcSourceSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let server = r.required_text("server")?;
        // Every property is read before any is checked.
        let base_dns = r.dns("base-dn")?;
        let object_classes = r.texts("object-class")?;
        let change_log = r.text("change-log-table")?;
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
        assert_eq!((ok.schema.as_str(), ok.table.as_str()), ("hr", "people"));
        assert_eq!(ok.column_maps[1], ColumnMap { attribute: "mail".into(), column: "email".into() });
        let err = |extra: &[(&str, &str)]| {
            destination(&[base.as_slice(), extra].concat()).err().map(|e| e.to_string()).unwrap_or_default()
        };
        assert!(err(&[("column-map", "mail:email")]).contains("key-column 'user_id' is not the column of any"));
        assert!(err(&[("column-map", "uid")]).contains("column-map 'uid' is not ATTRIBUTE:COLUMN"));
        assert!(err(&[("column-map", "uid:user_id"), ("column-map", "cn:user_id")]).contains("mapped twice"));
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
