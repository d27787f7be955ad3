//! SQL text: quoted identifiers, the table as the catalog describes it, and the statements built from it.
//! Values never appear in SQL text: they are bound parameters (text, cast by the server to the column's type,
//! which comes from the catalog, never from input).

use ferrosync::entry::Value;
use ferrosync::settings::{ChildTableMap, ColumnMap};
use ferrosync::syntax::{Dn, Rdn};

/// `name` as a quoted SQL identifier (`"a""b"` for `a"b`).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A column of the table, as the catalog describes it.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    /// `format_type()` of its type: `integer`, `character varying(64)`, `text[]`.
    pub sql_type: String,
    /// For an array column, the type of its elements.
    pub element_type: Option<String>,
}

impl Column {
    pub fn is_array(&self) -> bool {
        self.element_type.is_some()
    }

    /// The expression that reads the column as text (`text[]` for arrays).
    pub fn read_expr(&self) -> String {
        format!("{}::{}", quote(&self.name), if self.is_array() { "text[]" } else { "text" })
    }

    /// The expression that writes parameter `$n` (text, or text[] for arrays) into the column.
    pub fn write_expr(&self, n: usize) -> String {
        let input = if self.is_array() { "text[]" } else { "text" };
        format!("CAST(${n}::{input} AS {})", self.sql_type)
    }

    /// The condition that the column holds parameter `$n` (a text value: for an array, one of its elements).
    pub fn match_expr(&self, n: usize) -> String {
        match &self.element_type {
            Some(elem) => format!("CAST(${n}::text AS {elem}) = ANY({})", quote(&self.name)),
            None => format!("{} = CAST(${n}::text AS {})", quote(&self.name), self.sql_type),
        }
    }
}

/// The values of column `i` of `row`, read as text (`text[]` for an array: one value per element; NULLs are
/// no values).
pub fn values_at(row: &tokio_postgres::Row, i: usize, array: bool) -> Result<Vec<Value>, tokio_postgres::Error> {
    Ok(if array {
        let v: Option<Vec<Option<String>>> = row.try_get(i)?;
        v.unwrap_or_default().into_iter().flatten().map(Value::from).collect()
    } else {
        let v: Option<String> = row.try_get(i)?;
        v.into_iter().map(Value::from).collect()
    })
}

/// The DN of the row of `table` whose key is `key`: the key columns' attributes make the RDN, below `base`.
pub fn dn_of_key(table: &Table, base: &Dn, key: &[String]) -> String {
    let mut avas = table.key_columns().zip(key);
    let Some((m, v)) = avas.next() else { return base.to_string() };
    let mut rdn = Rdn::new(m.attribute.clone(), v.clone());
    for (m, v) in avas {
        rdn = rdn.with(m.attribute.clone(), v.clone());
    }
    base.child(rdn).to_string()
}

/// The catalog query for a table's columns: name, type, element type of arrays.
pub const COLUMNS: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
     CASE WHEN t.typcategory = 'A' THEN format_type(t.typelem, NULL) END \
     FROM pg_catalog.pg_attribute a \
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'f') \
       AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

/// One mapped column: the attribute written to it and the column as the catalog has it.
#[derive(Clone, Debug)]
pub struct Mapped {
    pub attribute: String,
    pub column: Column,
}

/// The table and its mapping, checked against the catalog.
#[derive(Clone, Debug)]
pub struct Table {
    /// `"schema"."table"`.
    pub qualified: String,
    /// `schema.table`, for messages.
    pub display: String,
    pub mapped: Vec<Mapped>,
    /// Indexes into `mapped` of the key columns, in `key-column` order.
    pub keys: Vec<usize>,
}

impl Table {
    /// The mapping checked against the table's `columns` (empty: no such table): every column-map and
    /// key-column names a column the table has.
    pub fn check(
        schema: &str,
        table: &str,
        columns: &[Column],
        maps: &[ColumnMap],
        key_columns: &[String],
        label: &str,
    ) -> Result<Table, String> {
        let display = format!("{schema}.{table}");
        if columns.is_empty() {
            return Err(format!(
                "the {label}: table {display} does not exist in the database (or its user may not see it)"
            ));
        }
        let find = |name: &str| {
            columns.iter().find(|c| c.name == name).or_else(|| {
                let mut like = columns.iter().filter(|c| c.name.eq_ignore_ascii_case(name));
                match (like.next(), like.next()) {
                    (Some(c), None) => Some(c),
                    _ => None,
                }
            })
        };
        let names = || columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
        let mut mapped = Vec::new();
        for m in maps {
            let column = find(&m.column).ok_or_else(|| {
                format!(
                    "the {label}: column-map '{}:{}' names column '{}', which table {display} does not have (its \
                     columns: {})",
                    m.attribute,
                    m.column,
                    m.column,
                    names()
                )
            })?;
            mapped.push(Mapped { attribute: m.attribute.clone(), column: column.clone() });
        }
        let mut keys = Vec::new();
        for k in key_columns {
            let column = find(k).ok_or_else(|| {
                format!("the {label}: key-column '{k}' is not a column of table {display} (its columns: {})", names())
            })?;
            let i = mapped
                .iter()
                .position(|m| m.column.name == column.name)
                .ok_or_else(|| format!("the {label}: key-column '{k}' is not the column of any column-map"))?;
            if mapped[i].column.is_array() {
                return Err(format!(
                    "the {label}: key-column '{k}' of table {display} is an array ({}): a key column holds one value",
                    mapped[i].column.sql_type
                ));
            }
            keys.push(i);
        }
        Ok(Table { qualified: format!("{}.{}", quote(schema), quote(table)), display, mapped, keys })
    }

    /// The column the attribute `attr` is mapped to.
    pub fn mapped(&self, attr: &str) -> Option<&Mapped> {
        self.mapped.iter().find(|m| m.attribute.eq_ignore_ascii_case(attr))
    }

    pub fn key_columns(&self) -> impl Iterator<Item = &Mapped> {
        self.keys.iter().map(|i| &self.mapped[*i])
    }

    /// The condition that the key columns hold parameters `$first`, `$first+1`, ...
    pub fn key_condition(&self, first: usize) -> String {
        let parts: Vec<String> = self.key_columns().enumerate().map(|(i, m)| m.column.match_expr(first + i)).collect();
        parts.join(" AND ")
    }
}

/// A child table, checked against the catalog.
#[derive(Clone, Debug)]
pub struct Child {
    pub map: ChildTableMap,
    /// `"schema"."table"`.
    pub qualified: String,
    /// `schema.table`, as the change log names it.
    pub display: String,
    /// The columns that hold the parent's key, in `key-column` order.
    pub parent_keys: Vec<Column>,
    pub value: Column,
}

/// The table, its child tables, and the SELECT that reads an entry's row with its children's values.
#[derive(Debug)]
pub struct Layout {
    pub table: Table,
    pub children: Vec<Child>,
    /// `SELECT ... FROM table t` (add ` WHERE key condition`).
    pub select: String,
}

/// A layout is its table, with the children's values read along.
impl std::ops::Deref for Layout {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.table
    }
}

impl Child {
    /// The condition that `alias`'s parent key columns hold parameters `$1`, `$2`, ...
    fn key_condition(&self, alias: &str) -> String {
        let parts: Vec<String> = self
            .parent_keys
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{alias}.{} = CAST(${}::text AS {})", quote(&c.name), i + 1, c.sql_type))
            .collect();
        parts.join(" AND ")
    }

    /// Deletes the rows of the parent key `$1...` (every value).
    pub fn delete_all(&self) -> String {
        format!("DELETE FROM {} c WHERE {}", self.qualified, self.key_condition("c"))
    }

    /// Deletes the rows of the parent key `$1...` whose value is not in the text array after the key.
    pub fn delete_others(&self) -> String {
        format!(
            "DELETE FROM {} c WHERE {} AND c.{}::text <> ALL(${}::text[])",
            self.qualified,
            self.key_condition("c"),
            quote(&self.value.name),
            self.parent_keys.len() + 1
        )
    }

    /// Inserts a row for each value of the text array after the key `$1...` that the parent has no row for.
    pub fn insert_missing(&self) -> String {
        let n = self.parent_keys.len() + 1;
        let mut cols: Vec<String> = self.parent_keys.iter().map(|c| quote(&c.name)).collect();
        cols.push(quote(&self.value.name));
        let mut exprs: Vec<String> = self.parent_keys.iter().enumerate().map(|(i, c)| c.write_expr(i + 1)).collect();
        exprs.push(format!("CAST(u AS {})", self.value.sql_type));
        format!(
            "INSERT INTO {q} ({}) SELECT {} FROM unnest(${n}::text[]) AS u WHERE NOT EXISTS (SELECT 1 FROM {q} c \
             WHERE {} AND c.{}::text = u)",
            cols.join(", "),
            exprs.join(", "),
            self.key_condition("c"),
            quote(&self.value.name),
            q = self.qualified
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, t: &str, elem: Option<&str>) -> Column {
        Column { name: name.into(), sql_type: t.into(), element_type: elem.map(str::to_string) }
    }

    #[test]
    fn identifiers_are_quoted_and_values_are_parameters() {
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        let c = col("mail", "text[]", Some("text"));
        assert_eq!(c.write_expr(2), "CAST($2::text[] AS text[])");
        assert_eq!(c.match_expr(1), "CAST($1::text AS text) = ANY(\"mail\")");
        assert_eq!(col("n", "integer", None).match_expr(3), "\"n\" = CAST($3::text AS integer)");
    }

    #[test]
    fn a_mapping_to_a_missing_column_names_it_and_the_table() {
        let columns = [col("user_id", "text", None), col("mails", "text[]", None)];
        let maps = [
            ColumnMap { attribute: "uid".into(), column: "user_id".into() },
            ColumnMap { attribute: "sn".into(), column: "surname".into() },
        ];
        let err = Table::check("public", "people", &columns, &maps, &["user_id".into()], "sync destination 'db'")
            .err()
            .unwrap_or_default();
        assert!(err.contains("column-map 'sn:surname' names column 'surname', which table public.people does not have"));
        let err = Table::check("public", "people", &[], &maps, &[], "x").err().unwrap_or_default();
        assert!(err.contains("table public.people does not exist"), "{err}");
    }
}
