//! The [`JdbcDestination`]: the table's rows as entries, and the engine's writes as SQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex};

use async_trait::async_trait;
use tokio::sync::{mpsc, Mutex};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, Row};

use ferrosync::config::Config;
use ferrosync::endpoint::{
    Correlated, Destination, DestinationCapabilities, EndpointError, EndpointResult, Modification,
};
use ferrosync::entry::{Entry, Value};
use ferrosync::mapping::{apply_modifications, MatchingRule};
use ferrosync::secret::SecretBox;
use ferrosync::settings::{ChildTableMap, ColumnMap, JdbcDestinationSettings};
use ferrosync::store::ServerRoot;
use ferrosync::syntax::{normalize_dn, Dn};

use crate::db::{cfg, Db};
use crate::sql::{Layout, Mapped, Table};

/// Why a `jdbc` destination cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JdbcConfigError(pub String);

/// A key: the text values of the key columns, in `key-column` order.
type Key = Vec<String>;

/// The connection and the table as the catalog described it when it was made.
#[derive(Default)]
struct Conn {
    client: Option<Client>,
    table: Option<Arc<Layout>>,
}

/// A PostgreSQL table as a sync destination. See the [crate documentation](crate).
pub struct JdbcDestination {
    name: String,
    label: String,
    db: Db,
    schema: String,
    table: String,
    maps: Vec<ColumnMap>,
    key_columns: Vec<String>,
    children: Vec<ChildTableMap>,
    conn: Mutex<Conn>,
    /// The key of each DN (normalized) this process correlated or wrote whose RDN does not give it.
    keys: SyncMutex<HashMap<String, Key>>,
}

impl JdbcDestination {
    /// The destination `dest` (of type jdbc) and its server, from the configuration.
    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        dest: &str,
    ) -> Result<JdbcDestination, JdbcConfigError> {
        let d = JdbcDestinationSettings::of(config, dest).map_err(cfg)?;
        let db = Db::from_config(config, secrets, root, &d.server, &d.schema, &d.label)?;
        Ok(JdbcDestination {
            name: dest.to_string(),
            label: d.label,
            db,
            schema: d.schema,
            table: d.table,
            maps: d.column_maps,
            key_columns: d.key_columns,
            children: d.child_tables,
            conn: Mutex::new(Conn::default()),
            keys: SyncMutex::new(HashMap::new()),
        })
    }

    /// The connection (made again when the server dropped it) and the checked table, under the lock: one
    /// operation at a time on the one connection.
    async fn connect(&self) -> EndpointResult<(tokio::sync::MutexGuard<'_, Conn>, Arc<Layout>)> {
        let mut conn = self.conn.lock().await;
        if conn.client.as_ref().is_none_or(Client::is_closed) {
            conn.client = Some(self.db.connect().await?);
        }
        let table = match &conn.table {
            Some(t) => t.clone(),
            None => {
                let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
                let t = Arc::new(
                    self.db
                        .check_layout(
                            client,
                            (&self.schema, &self.table),
                            &self.maps,
                            &self.key_columns,
                            &self.children,
                        )
                        .await?,
                );
                conn.table = Some(t.clone());
                t
            }
        };
        Ok((conn, table))
    }

    /// A database error as an endpoint error.
    fn pg(&self, e: tokio_postgres::Error) -> EndpointError {
        self.db.pg(e)
    }

    fn remember(&self, dn: &str, key: Option<&Key>) {
        let Ok(norm) = normalize_dn(dn) else { return };
        if let Ok(mut keys) = self.keys.lock() {
            match key {
                Some(k) => {
                    keys.insert(norm, k.clone());
                }
                None => {
                    keys.remove(&norm);
                }
            }
        }
    }

    /// The key of the row of `dn`: from its RDN when the RDN's attributes are the key columns' attributes,
    /// else as this process last saw it.
    fn key_of_dn(&self, table: &Table, dn: &str) -> Option<Key> {
        let parsed = Dn::parse(dn).ok()?;
        if let Some(rdn) = parsed.rdn() {
            let from_rdn: Option<Key> =
                table.key_columns().map(|m| rdn.get(&m.attribute).map(str::to_string)).collect();
            if let Some(k) = from_rdn.filter(|_| rdn.avas().len() == table.keys.len()) {
                return Some(k);
            }
        }
        self.keys.lock().ok()?.get(&parsed.normalized()).cloned()
    }

    /// The key of a mapped entry: its values of the key columns' attributes, else its DN's.
    fn key_of_entry(&self, table: &Table, entry: &Entry) -> Option<Key> {
        let values: Option<Key> = table.key_columns().map(|m| entry.first_text(&m.attribute)).collect();
        values.or_else(|| self.key_of_dn(table, &entry.dn))
    }

    /// The row (read with the layout's SELECT) as an entry named `dn`, with the mapped attributes and the
    /// values of the child tables.
    fn entry_of(&self, layout: &Layout, dn: &str, row: &Row) -> EndpointResult<Entry> {
        let mut e = Entry::new(dn);
        let n = layout.table.mapped.len();
        let attrs = layout.table.mapped.iter().map(|m| (&m.attribute, m.column.is_array()));
        let children = layout.children.iter().map(|c| (&c.map.attribute, true));
        for (i, (attr, array)) in attrs.chain(children).enumerate() {
            let values = crate::sql::values_at(row, i, array).map_err(|e| self.pg(e))?;
            if !values.is_empty() {
                e.set(attr, values);
            }
        }
        debug_assert!(row.len() == n + layout.children.len());
        Ok(e)
    }

    /// Makes the child rows of `key` hold the values of `entry` for each child table in `children` (every
    /// child table with `all`), in the transaction of the parent's write.
    async fn write_children<C: GenericClient>(
        &self,
        client: &C,
        layout: &Layout,
        key: &Key,
        entry: &Entry,
        only: Option<&[&str]>,
    ) -> EndpointResult<()> {
        for c in &layout.children {
            if only.is_some_and(|o| !o.iter().any(|a| a.eq_ignore_ascii_case(&c.map.attribute))) {
                continue;
            }
            let values: Vec<String> = entry.texts(&c.map.attribute);
            let mut params: Vec<&(dyn ToSql + Sync)> = key.iter().map(|k| k as &(dyn ToSql + Sync)).collect();
            params.push(&values);
            for sql in [c.delete_others(), c.insert_missing()] {
                client.execute(&sql, &params).await.map_err(|e| {
                    let why = self.pg(e);
                    EndpointError::Rejected(format!(
                        "{why} (writing attribute '{}' to column '{}' of child table {})",
                        c.map.attribute, c.value.name, c.display
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Deletes the child rows of `key`.
    async fn delete_children<C: GenericClient>(&self, client: &C, layout: &Layout, key: &Key) -> EndpointResult<()> {
        let params: Vec<&(dyn ToSql + Sync)> = key.iter().map(|k| k as &(dyn ToSql + Sync)).collect();
        for c in &layout.children {
            client.execute(&c.delete_all(), &params).await.map_err(|e| self.pg(e))?;
        }
        Ok(())
    }

    /// The rows whose `conditions` hold (at most two: enough to tell one from many).
    async fn rows<C: GenericClient>(
        &self,
        client: &C,
        layout: &Layout,
        condition: &str,
        params: &[String],
        for_update: bool,
    ) -> EndpointResult<Vec<Row>> {
        let sql =
            format!("{} WHERE {condition} LIMIT 2{}", layout.select, if for_update { " FOR UPDATE OF t" } else { "" });
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        client.query(&sql, &refs).await.map_err(|e| self.pg(e))
    }

    /// The row of `key`.
    async fn row_by_key<C: GenericClient>(
        &self,
        client: &C,
        table: &Layout,
        key: &Key,
        for_update: bool,
    ) -> EndpointResult<Option<Row>> {
        Ok(self.rows(client, table, &table.key_condition(1), key, for_update).await?.into_iter().next())
    }

    /// The value written to `m`'s column from `values`: `Err` when a scalar column is given several.
    fn column_value(&self, table: &Table, m: &Mapped, values: &[Value]) -> EndpointResult<Param> {
        let texts: Vec<String> = values.iter().map(|v| v.as_text().into_owned()).collect();
        if m.column.is_array() {
            return Ok(Param::Array((!texts.is_empty()).then_some(texts)));
        }
        match texts.len() {
            0 => Ok(Param::Text(None)),
            1 => Ok(Param::Text(texts.into_iter().next())),
            n => Err(EndpointError::Rejected(format!(
                "the {}: attribute '{}' has {n} values, but column '{}' of table {} ({}) holds one: map it to an \
                 array column",
                self.label, m.attribute, m.column.name, table.display, m.column.sql_type
            ))),
        }
    }

    /// After a write failed with a data error: which column's value its type cannot hold, named in the error.
    async fn explain(
        &self,
        client: &Client,
        table: &Table,
        written: &[(&Mapped, Param)],
        err: EndpointError,
    ) -> EndpointError {
        if !matches!(err, EndpointError::Rejected(_)) {
            return err;
        }
        for (m, p) in written {
            let sql = format!("SELECT {}", m.column.write_expr(1));
            let result = match p {
                Param::Text(v) => client.query_one(&sql, &[v]).await,
                Param::Array(v) => client.query_one(&sql, &[v]).await,
            };
            if let Err(e) = result {
                let why = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string());
                return EndpointError::Rejected(format!(
                    "the {}: column '{}' of table {} ({}) cannot hold the value of attribute '{}': {why}",
                    self.label, m.column.name, table.display, m.column.sql_type, m.attribute
                ));
            }
        }
        err
    }
}

/// A bound value: one text (a scalar column) or a text array; `None`: NULL.
#[derive(Debug)]
enum Param {
    Text(Option<String>),
    Array(Option<Vec<String>>),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(v) => v,
            Param::Array(v) => v,
        }
    }
}

#[async_trait]
impl Destination for JdbcDestination {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> DestinationCapabilities {
        DestinationCapabilities { list_entries: false }
    }

    async fn check(&self) -> EndpointResult<()> {
        self.connect().await.map(drop)
    }

    async fn correlate(&self, mapped: &Entry, lists: &[Vec<String>], _attrs: &[String]) -> EndpointResult<Correlated> {
        let (conn, table) = self.connect().await?;
        let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        for list in lists {
            let (condition, params) = if list.iter().any(|a| a.eq_ignore_ascii_case("dn")) {
                match self.key_of_entry(&table, mapped) {
                    Some(k) => (table.key_condition(1), k),
                    None => continue,
                }
            } else {
                let mut parts = Vec::new();
                let mut params = Vec::new();
                for a in list {
                    let m = table.mapped(a).ok_or_else(|| {
                        EndpointError::Config(format!(
                            "the {}: correlation attribute '{a}' has no column-map, so rows cannot be found by it",
                            self.label
                        ))
                    })?;
                    let Some(v) = mapped.first_text(a) else { break };
                    params.push(v);
                    parts.push(m.column.match_expr(params.len()));
                }
                if parts.len() != list.len() {
                    continue;
                }
                (parts.join(" AND "), params)
            };
            let rows = self.rows(client, &table, &condition, &params, false).await?;
            match rows.len() {
                0 => continue,
                1 => {
                    let e = self.entry_of(&table, &mapped.dn, &rows[0])?;
                    let key: Option<Key> = table.key_columns().map(|m| e.first_text(&m.attribute)).collect();
                    self.remember(&mapped.dn, key.as_ref());
                    return Ok(Correlated::One(e));
                }
                _ => {
                    let ids = rows
                        .iter()
                        .map(|r| {
                            self.entry_of(&table, "", r).map(|e| {
                                table
                                    .key_columns()
                                    .map(|m| e.first_text(&m.attribute).unwrap_or_default())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                        })
                        .collect::<EndpointResult<Vec<_>>>()?;
                    return Ok(Correlated::Many(ids));
                }
            }
        }
        Ok(Correlated::None)
    }

    async fn fetch(&self, id: &str, _attrs: &[String]) -> EndpointResult<Option<Entry>> {
        let (conn, table) = self.connect().await?;
        let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let Some(key) = self.key_of_dn(&table, id) else { return Ok(None) };
        match self.row_by_key(client, &table, &key, false).await? {
            Some(row) => self.entry_of(&table, id, &row).map(Some),
            None => Ok(None),
        }
    }

    async fn create(&self, entry: &Entry) -> EndpointResult<()> {
        let (mut conn, table) = self.connect().await?;
        let mut written: Vec<(&Mapped, Param)> = Vec::new();
        for m in &table.mapped {
            let values = entry.values(&m.attribute);
            if values.is_empty() {
                continue;
            }
            written.push((m, self.column_value(&table, m, values)?));
        }
        for k in table.key_columns() {
            if entry.values(&k.attribute).is_empty() {
                return Err(EndpointError::Rejected(format!(
                    "the {}: {} has no '{}', which key column '{}' of table {} needs",
                    self.label, entry.dn, k.attribute, k.column.name, table.display
                )));
            }
        }
        let columns: Vec<String> = written.iter().map(|(m, _)| crate::sql::quote(&m.column.name)).collect();
        let exprs: Vec<String> = written.iter().enumerate().map(|(i, (m, _))| m.column.write_expr(i + 1)).collect();
        let sql = format!("INSERT INTO {} ({}) VALUES ({})", table.qualified, columns.join(", "), exprs.join(", "));
        let params: Vec<&(dyn ToSql + Sync)> = written.iter().map(|(_, p)| p.as_sql()).collect();
        let key: Option<Key> = table.key_columns().map(|m| entry.first_text(&m.attribute)).collect();
        let client = conn.client.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        if table.children.is_empty() {
            // One statement, one round trip: its own transaction.
            if let Err(e) = client.execute(&sql, &params).await {
                let err = self.pg(e);
                return Err(self.explain(client, &table, &written, err).await);
            }
            self.remember(&entry.dn, key.as_ref());
            return Ok(());
        }
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        if let Err(e) = tx.execute(&sql, &params).await {
            drop(tx);
            let err = self.pg(e);
            let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
            return Err(self.explain(client, &table, &written, err).await);
        }
        if let Some(k) = &key {
            self.write_children(&tx, &table, k, entry, None).await?;
        }
        tx.commit().await.map_err(|e| self.pg(e))?;
        self.remember(&entry.dn, key.as_ref());
        Ok(())
    }

    async fn modify(&self, id: &str, mods: &[Modification]) -> EndpointResult<()> {
        let (mut conn, table) = self.connect().await?;
        let Some(key) = self.key_of_dn(&table, id) else {
            return Err(EndpointError::Rejected(format!(
                "the {}: no row is known for {id} (its RDN does not give the key column(s) {})",
                self.label,
                self.key_columns.join(", ")
            )));
        };
        let changed: Vec<&Mapped> = table
            .mapped
            .iter()
            .filter(|m| mods.iter().any(|x| x.attribute().eq_ignore_ascii_case(&m.attribute)))
            .collect();
        let changed_children: Vec<&str> = table
            .children
            .iter()
            .map(|c| c.map.attribute.as_str())
            .filter(|a| mods.iter().any(|x| x.attribute().eq_ignore_ascii_case(a)))
            .collect();
        if changed.is_empty() && changed_children.is_empty() {
            return Ok(());
        }
        let client = conn.client.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        let Some(row) = self.row_by_key(&tx, &table, &key, true).await? else {
            return Err(EndpointError::Rejected(format!(
                "the {}: table {} has no row for {id} (key {})",
                self.label,
                table.display,
                key.join(",")
            )));
        };
        let mut entry = self.entry_of(&table, id, &row)?;
        apply_modifications(&mut entry, mods, |_| MatchingRule::CaseIgnore);
        let mut written: Vec<(&Mapped, Param)> = Vec::new();
        for m in changed {
            written.push((m, self.column_value(&table, m, entry.values(&m.attribute))?));
        }
        let sets: Vec<String> = written
            .iter()
            .enumerate()
            .map(|(i, (m, _))| format!("{} = {}", crate::sql::quote(&m.column.name), m.column.write_expr(i + 1)))
            .collect();
        let n = written.len();
        let sql = format!("UPDATE {} SET {} WHERE {}", table.qualified, sets.join(", "), table.key_condition(n + 1));
        let mut params: Vec<&(dyn ToSql + Sync)> = written.iter().map(|(_, p)| p.as_sql()).collect();
        params.extend(key.iter().map(|k| k as &(dyn ToSql + Sync)));
        let result = if written.is_empty() { Ok(0) } else { tx.execute(&sql, &params).await };
        let result = match result {
            Ok(_) => {
                self.write_children(&tx, &table, &key, &entry, Some(&changed_children)).await?;
                tx.commit().await.map_err(|e| self.pg(e))
            }
            Err(e) => {
                drop(tx);
                let err = self.pg(e);
                let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
                return Err(self.explain(client, &table, &written, err).await);
            }
        };
        result?;
        let new_key: Option<Key> = table.key_columns().map(|m| entry.first_text(&m.attribute)).collect();
        if new_key.as_ref() != Some(&key) {
            self.remember(id, new_key.as_ref());
        }
        Ok(())
    }

    async fn rename(&self, id: &str, new_dn: &str) -> EndpointResult<String> {
        let (conn, table) = self.connect().await?;
        let Some(old) = self.key_of_dn(&table, id) else {
            return Err(EndpointError::Rejected(format!("the {}: no row is known for {id}", self.label)));
        };
        let new = match Dn::parse(new_dn).ok().and_then(|d| {
            let rdn = d.rdn()?.clone();
            table.key_columns().map(|m| rdn.get(&m.attribute).map(str::to_string)).collect::<Option<Key>>()
        }) {
            Some(new) if new != old => {
                // The child rows move with the key: read, deleted, and written again under the new key, in the
                // transaction that changes the key (whatever the foreign keys' ON UPDATE says).
                let mut conn = conn;
                let client = conn.client.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
                let tx = client.transaction().await.map_err(|e| self.pg(e))?;
                let current = match self.row_by_key(&tx, &table, &old, true).await? {
                    Some(row) => self.entry_of(&table, id, &row)?,
                    None => Entry::new(id),
                };
                self.delete_children(&tx, &table, &old).await?;
                let n = table.keys.len();
                let sets: Vec<String> = table
                    .key_columns()
                    .enumerate()
                    .map(|(i, m)| format!("{} = {}", crate::sql::quote(&m.column.name), m.column.write_expr(i + 1)))
                    .collect();
                let sql =
                    format!("UPDATE {} SET {} WHERE {}", table.qualified, sets.join(", "), table.key_condition(n + 1));
                let params: Vec<&(dyn ToSql + Sync)> =
                    new.iter().chain(old.iter()).map(|k| k as &(dyn ToSql + Sync)).collect();
                let done = tx.execute(&sql, &params).await.map_err(|e| self.pg(e))?;
                if done == 0 {
                    return Err(EndpointError::Rejected(format!(
                        "the {}: table {} has no row for {id}",
                        self.label, table.display
                    )));
                }
                self.write_children(&tx, &table, &new, &current, None).await?;
                tx.commit().await.map_err(|e| self.pg(e))?;
                new
            }
            _ => old,
        };
        self.remember(id, None);
        self.remember(new_dn, Some(&new));
        Ok(new_dn.to_string())
    }

    async fn delete(&self, id: &str) -> EndpointResult<()> {
        let (mut conn, table) = self.connect().await?;
        let Some(key) = self.key_of_dn(&table, id) else {
            return Err(EndpointError::Rejected(format!(
                "the {}: no row is known for {id} (its RDN does not give the key column(s) {})",
                self.label,
                self.key_columns.join(", ")
            )));
        };
        let sql = format!("DELETE FROM {} WHERE {}", table.qualified, table.key_condition(1));
        let params: Vec<&(dyn ToSql + Sync)> = key.iter().map(|k| k as &(dyn ToSql + Sync)).collect();
        let client = conn.client.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        self.delete_children(&tx, &table, &key).await?;
        let done = tx.execute(&sql, &params).await.map_err(|e| self.pg(e))?;
        tx.commit().await.map_err(|e| self.pg(e))?;
        self.remember(id, None);
        if done == 0 {
            return Err(EndpointError::Rejected(format!(
                "the {}: table {} has no row for {id} (key {})",
                self.label,
                table.display,
                key.join(",")
            )));
        }
        Ok(())
    }

    async fn stream(&self, _attrs: &[String], _tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        Err(EndpointError::Config(format!(
            "the {} cannot list its rows as entries yet (resync --deleteMissingEntries needs that)",
            self.label
        )))
    }

    /// Attributes without a column-map are not written: the diff sees them as the mapped entry has them.
    fn prepare_diff(&self, mapped: &Entry, existing: &mut Entry) {
        let mapped_attr = |a: &str| {
            self.maps.iter().any(|m| m.attribute.eq_ignore_ascii_case(a))
                || self.children.iter().any(|c| c.attribute.eq_ignore_ascii_case(a))
        };
        for attr in mapped.attributes() {
            if !mapped_attr(&attr.name) {
                existing.set(&attr.name, attr.values.clone());
            }
        }
    }
}
