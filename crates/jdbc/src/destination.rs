//! The [`JdbcDestination`]: the table's rows as entries, and the engine's writes as SQL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};

use async_trait::async_trait;
use tokio::sync::{mpsc, Mutex, OnceCell};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, Row};

use ferrosync::config::Config;
use ferrosync::endpoint::{
    Correlated, Destination, DestinationCapabilities, EndpointError, EndpointResult, Modification,
};
use ferrosync::entry::{Entry, Value};
use ferrosync::mapping::{apply_modifications, MatchingRule};
use ferrosync::secret::SecretBox;
use ferrosync::settings::{DestinationTable, JdbcDestinationSettings};
use ferrosync::store::ServerRoot;
use ferrosync::syntax::Dn;

use crate::db::{cfg, Db};
use crate::sql::{Layout, Mapped, Table};

/// Why a `jdbc` destination cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JdbcConfigError(pub String);

/// A key: the text values of the key columns, in `key-column` order.
type Key = Vec<String>;

/// Where an entry's row is: the index of its table (in the settings' order) and its key.
type At = (usize, Key);

/// How many rows a listing reads per FETCH of its cursor.
const FETCH: usize = 500;

/// How many connections a destination opens at most: the pipe's workers write in parallel on them (opened as
/// the parallelism needs them).
const POOL: usize = 8;

/// One connection of the pool.
#[derive(Default)]
struct Conn {
    client: Option<Client>,
}

/// PostgreSQL tables as a sync destination. See the [crate documentation](crate).
pub struct JdbcDestination {
    name: String,
    label: String,
    db: Db,
    tables: Vec<DestinationTable>,
    /// The `object-class-table-map` values in order: a class and its table.
    routes: Vec<(String, usize)>,
    pool: Vec<Mutex<Conn>>,
    /// The next connection to try first.
    next: AtomicUsize,
    /// The tables as the catalog described them when the first connection was made.
    layouts: OnceCell<Arc<Vec<Layout>>>,
    /// Where the row of each DN (normalized) this process correlated, read, listed or wrote is, with the DN as
    /// it was given.
    keys: SyncMutex<HashMap<String, (At, String)>>,
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
        let schema = d.tables.first().map_or("public", |t| t.schema.as_str());
        let db = Db::from_config(config, secrets, root, &d.server, schema, &d.label)?;
        Ok(JdbcDestination {
            name: dest.to_string(),
            label: d.label,
            db,
            tables: d.tables,
            routes: d.routes,
            pool: (0..POOL).map(|_| Mutex::new(Conn::default())).collect(),
            next: AtomicUsize::new(0),
            layouts: OnceCell::new(),
            keys: SyncMutex::new(HashMap::new()),
        })
    }

    /// A connection of the pool (an open one that is free, else one not opened yet, else the next to be free;
    /// made again when the server dropped it) and the checked tables. The guard keeps the connection for one
    /// operation.
    async fn connect(&self) -> EndpointResult<(tokio::sync::MutexGuard<'_, Conn>, Arc<Vec<Layout>>)> {
        let n = self.pool.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let slots = || (0..n).map(|i| &self.pool[(start + i) % n]);
        let free_open = slots().find_map(|m| m.try_lock().ok().filter(|c| c.client.is_some()));
        let mut conn = match free_open.or_else(|| slots().find_map(|m| m.try_lock().ok())) {
            Some(c) => c,
            None => self.pool[start % n].lock().await,
        };
        if conn.client.as_ref().is_none_or(Client::is_closed) {
            conn.client = Some(self.db.connect().await?);
        }
        let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let layouts = self
            .layouts
            .get_or_try_init(|| async {
                let mut layouts = Vec::new();
                for t in &self.tables {
                    let l = self
                        .db
                        .check_layout(client, (&t.schema, &t.table), &t.column_maps, &t.key_columns, &t.child_tables)
                        .await?;
                    layouts.push(l);
                }
                Ok::<_, EndpointError>(Arc::new(layouts))
            })
            .await?
            .clone();
        Ok((conn, layouts))
    }

    /// A database error as an endpoint error.
    fn pg(&self, e: tokio_postgres::Error) -> EndpointError {
        self.db.pg(e)
    }

    /// Remembers where the row of `dn` is (`None`: forgets it). Only a DN that cannot be made again from the
    /// row is kept, so memory stays small in a long-running server: a DN whose RDN is its key columns'
    /// attributes, below the table's base-dn when it has one, is found again from the DN itself.
    fn remember(&self, table: &Table, dn: &str, at: Option<At>) {
        let Ok(parsed) = Dn::parse(dn) else { return };
        let norm = parsed.normalized();
        let Ok(mut keys) = self.keys.lock() else { return };
        match at {
            Some((t, key)) => {
                let from_rdn = Self::key_from_rdn(table, &parsed).is_some_and(|k| k == key);
                let below_base = self
                    .tables
                    .get(t)
                    .and_then(|s| s.base_dn.as_ref())
                    .is_none_or(|b| parsed.parent().is_some_and(|p| p.normalized() == b.normalized()));
                if from_rdn && below_base {
                    keys.remove(&norm);
                } else {
                    keys.insert(norm, ((t, key), dn.to_string()));
                }
            }
            None => {
                keys.remove(&norm);
            }
        }
    }

    /// The table of a (mapped) entry: that of the first `object-class-table-map` value naming one of its object
    /// classes, else the `table` property's.
    fn table_of_entry(&self, entry: &Entry) -> EndpointResult<usize> {
        let classes = entry.values("objectClass");
        for (class, i) in &self.routes {
            if classes.iter().any(|v| v.as_text().eq_ignore_ascii_case(class)) {
                return Ok(*i);
            }
        }
        if let Some(i) = self.tables.iter().position(|t| t.default) {
            return Ok(i);
        }
        let mapped: Vec<&str> = self.routes.iter().map(|(c, _)| c.as_str()).collect();
        Err(EndpointError::Rejected(if classes.is_empty() {
            format!(
                "the {}: {} has no objectClass, so object-class-table-map cannot choose its table (map objectClass \
                 into the entry, or set table for entries of any class)",
                self.label, entry.dn
            )
        } else {
            format!(
                "the {}: {} has the object classes {}, none of which object-class-table-map maps to a table (it \
                 maps {}); add object-class-table-map:CLASS:TABLE, or set table for entries of other classes",
                self.label,
                entry.dn,
                entry.texts("objectClass").join(", "),
                mapped.join(", ")
            )
        }))
    }

    /// The key of the row of `dn` in `table` from its RDN, when the RDN's attributes are the key columns'.
    fn key_from_rdn(table: &Table, dn: &Dn) -> Option<Key> {
        let rdn = dn.rdn()?;
        if rdn.avas().len() != table.keys.len() {
            return None;
        }
        table.key_columns().map(|m| rdn.get(&m.attribute).map(str::to_string)).collect()
    }

    /// Where the row of `dn` is: as this process last saw it, else in the table whose key columns' attributes
    /// make its RDN (of several such tables, the first that has the row).
    async fn locate<C: GenericClient>(&self, client: &C, layouts: &[Layout], dn: &str) -> EndpointResult<Option<At>> {
        let Ok(parsed) = Dn::parse(dn) else { return Ok(None) };
        if let Some((at, _)) = self.keys.lock().ok().and_then(|k| k.get(&parsed.normalized()).cloned()) {
            return Ok(Some(at));
        }
        let mut candidates: Vec<At> =
            layouts.iter().enumerate().filter_map(|(i, l)| Self::key_from_rdn(l, &parsed).map(|k| (i, k))).collect();
        // A table whose base-dn is the DN's parent comes first.
        let parent = parsed.parent().map(|p| p.normalized());
        candidates.sort_by_key(|(i, _)| {
            self.tables[*i].base_dn.as_ref().map(|b| b.normalized()) != parent || parent.is_none()
        });
        if candidates.len() > 1 {
            for (i, k) in &candidates {
                if self.row_by_key(client, &layouts[*i], k, false).await?.is_some() {
                    return Ok(Some((*i, k.clone())));
                }
            }
        }
        Ok(candidates.into_iter().next())
    }

    /// The key of a mapped entry in `table` (its index `i`): its values of the key columns' attributes, else its
    /// DN's.
    fn key_of_entry(&self, table: &Table, i: usize, entry: &Entry) -> Option<Key> {
        let values: Option<Key> = table.key_columns().map(|m| entry.first_text(&m.attribute)).collect();
        values.or_else(|| {
            let parsed = Dn::parse(&entry.dn).ok()?;
            Self::key_from_rdn(table, &parsed).or_else(|| {
                let keys = self.keys.lock().ok()?;
                keys.get(&parsed.normalized()).filter(|((t, _), _)| *t == i).map(|((_, k), _)| k.clone())
            })
        })
    }

    /// The error for a DN whose row cannot be found by its RDN or from this process's memory.
    fn unknown_row(&self, id: &str) -> EndpointError {
        let keys: Vec<String> =
            self.tables.iter().map(|t| format!("{}: {}", t.display(), t.key_columns.join(", "))).collect();
        EndpointError::Rejected(format!(
            "the {}: no row is known for {id} (its RDN does not give the key column(s) of a table: {})",
            self.label,
            keys.join("; ")
        ))
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

    /// The rows can be listed as entries when every table has a base-dn to name them below.
    fn capabilities(&self) -> DestinationCapabilities {
        DestinationCapabilities { list_entries: self.tables.iter().all(|t| t.base_dn.is_some()) }
    }

    async fn check(&self) -> EndpointResult<()> {
        self.connect().await.map(drop)
    }

    async fn correlate(&self, mapped: &Entry, lists: &[Vec<String>], _attrs: &[String]) -> EndpointResult<Correlated> {
        let t = self.table_of_entry(mapped)?;
        let (conn, layouts) = self.connect().await?;
        let table = &layouts[t];
        let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        for list in lists {
            let (condition, params) = if list.iter().any(|a| a.eq_ignore_ascii_case("dn")) {
                match self.key_of_entry(table, t, mapped) {
                    Some(k) => (table.key_condition(1), k),
                    None => continue,
                }
            } else {
                let mut parts = Vec::new();
                let mut params = Vec::new();
                for a in list {
                    let m = table.mapped(a).ok_or_else(|| {
                        EndpointError::Config(format!(
                            "the {}: correlation attribute '{a}' has no column-map for table {}, so rows cannot be \
                             found by it",
                            self.label, table.display
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
            let rows = self.rows(client, table, &condition, &params, false).await?;
            match rows.len() {
                0 => continue,
                1 => {
                    let e = self.entry_of(table, &mapped.dn, &rows[0])?;
                    let key: Option<Key> = table.key_columns().map(|m| e.first_text(&m.attribute)).collect();
                    self.remember(table, &mapped.dn, key.map(|k| (t, k)));
                    return Ok(Correlated::One(e));
                }
                _ => {
                    let ids = rows
                        .iter()
                        .map(|r| {
                            self.entry_of(table, "", r).map(|e| {
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
        let (conn, layouts) = self.connect().await?;
        let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let Some((t, key)) = self.locate(client, &layouts, id).await? else { return Ok(None) };
        match self.row_by_key(client, &layouts[t], &key, false).await? {
            Some(row) => {
                let e = self.entry_of(&layouts[t], id, &row)?;
                // Remembered, so that a listing in the same process names the row by this DN.
                self.remember(&layouts[t], id, Some((t, key)));
                Ok(Some(e))
            }
            None => Ok(None),
        }
    }

    async fn create(&self, entry: &Entry) -> EndpointResult<()> {
        let t = self.table_of_entry(entry)?;
        let (mut conn, layouts) = self.connect().await?;
        let table = &layouts[t];
        let mut written: Vec<(&Mapped, Param)> = Vec::new();
        for m in &table.mapped {
            let values = entry.values(&m.attribute);
            if values.is_empty() {
                continue;
            }
            written.push((m, self.column_value(table, m, values)?));
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
                return Err(self.explain(client, table, &written, err).await);
            }
            self.remember(table, &entry.dn, key.map(|k| (t, k)));
            return Ok(());
        }
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        if let Err(e) = tx.execute(&sql, &params).await {
            drop(tx);
            let err = self.pg(e);
            let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
            return Err(self.explain(client, table, &written, err).await);
        }
        if let Some(k) = &key {
            self.write_children(&tx, table, k, entry, None).await?;
        }
        tx.commit().await.map_err(|e| self.pg(e))?;
        self.remember(table, &entry.dn, key.map(|k| (t, k)));
        Ok(())
    }

    async fn modify(&self, id: &str, mods: &[Modification]) -> EndpointResult<()> {
        let (mut conn, layouts) = self.connect().await?;
        let client = conn.client.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let Some((t, key)) = self.locate(client, &layouts, id).await? else {
            return Err(self.unknown_row(id));
        };
        let table = &layouts[t];
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
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        let Some(row) = self.row_by_key(&tx, table, &key, true).await? else {
            return Err(EndpointError::Rejected(format!(
                "the {}: table {} has no row for {id} (key {})",
                self.label,
                table.display,
                key.join(",")
            )));
        };
        let mut entry = self.entry_of(table, id, &row)?;
        apply_modifications(&mut entry, mods, |_| MatchingRule::CaseIgnore);
        let mut written: Vec<(&Mapped, Param)> = Vec::new();
        for m in changed {
            written.push((m, self.column_value(table, m, entry.values(&m.attribute))?));
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
                self.write_children(&tx, table, &key, &entry, Some(&changed_children)).await?;
                tx.commit().await.map_err(|e| self.pg(e))
            }
            Err(e) => {
                drop(tx);
                let err = self.pg(e);
                let client = conn.client.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
                return Err(self.explain(client, table, &written, err).await);
            }
        };
        result?;
        let new_key: Option<Key> = table.key_columns().map(|m| entry.first_text(&m.attribute)).collect();
        if new_key.as_ref() != Some(&key) {
            self.remember(table, id, new_key.map(|k| (t, k)));
        }
        Ok(())
    }

    async fn rename(&self, id: &str, new_dn: &str) -> EndpointResult<String> {
        let (mut conn, layouts) = self.connect().await?;
        let client = conn.client.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let Some((t, old)) = self.locate(client, &layouts, id).await? else {
            return Err(EndpointError::Rejected(format!("the {}: no row is known for {id}", self.label)));
        };
        let table = &layouts[t];
        let new = match Dn::parse(new_dn).ok().and_then(|d| Self::key_from_rdn(table, &d)) {
            Some(new) if new != old => {
                // The child rows move with the key: read, deleted, and written again under the new key, in the
                // transaction that changes the key (whatever the foreign keys' ON UPDATE says).
                let tx = client.transaction().await.map_err(|e| self.pg(e))?;
                let current = match self.row_by_key(&tx, table, &old, true).await? {
                    Some(row) => self.entry_of(table, id, &row)?,
                    None => Entry::new(id),
                };
                self.delete_children(&tx, table, &old).await?;
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
                self.write_children(&tx, table, &new, &current, None).await?;
                tx.commit().await.map_err(|e| self.pg(e))?;
                new
            }
            _ => old,
        };
        self.remember(table, id, None);
        self.remember(table, new_dn, Some((t, new)));
        Ok(new_dn.to_string())
    }

    async fn delete(&self, id: &str) -> EndpointResult<()> {
        let (mut conn, layouts) = self.connect().await?;
        let client = conn.client.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let Some((t, key)) = self.locate(client, &layouts, id).await? else {
            return Err(self.unknown_row(id));
        };
        let table = &layouts[t];
        let sql = format!("DELETE FROM {} WHERE {}", table.qualified, table.key_condition(1));
        let params: Vec<&(dyn ToSql + Sync)> = key.iter().map(|k| k as &(dyn ToSql + Sync)).collect();
        let tx = client.transaction().await.map_err(|e| self.pg(e))?;
        self.delete_children(&tx, table, &key).await?;
        let done = tx.execute(&sql, &params).await.map_err(|e| self.pg(e))?;
        tx.commit().await.map_err(|e| self.pg(e))?;
        self.remember(table, id, None);
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

    /// Every row of every table, read through a cursor (memory stays flat), as an entry: named as this process
    /// last saw it (a row correlated, read or written by this resync has the DN the pipe gave it), else by its
    /// key columns' attributes below the table's base-dn, with the table's object classes.
    async fn stream(&self, _attrs: &[String], tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        if let Some(t) = self.tables.iter().find(|t| t.base_dn.is_none()) {
            return Err(EndpointError::Config(format!(
                "the {} cannot list the rows of table {} as entries without a base-dn for them (resync \
                 --deleteMissingEntries needs that): set base-dn{}",
                self.label,
                t.display(),
                if t.default { String::new() } else { format!(":{}:DN", t.table) }
            )));
        }
        // The DN of each row this process has seen.
        let seen: HashMap<At, String> = match self.keys.lock() {
            Ok(keys) => keys.values().map(|(at, dn)| (at.clone(), dn.clone())).collect(),
            Err(_) => HashMap::new(),
        };
        let (mut conn, layouts) = self.connect().await?;
        let client = conn.client.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        for (t, (spec, layout)) in self.tables.iter().zip(layouts.iter()).enumerate() {
            let Some(base) = &spec.base_dn else { continue };
            let txn = client.transaction().await.map_err(|e| self.pg(e))?;
            txn.batch_execute(&format!("DECLARE ferrosync_rows NO SCROLL CURSOR FOR {}", layout.select))
                .await
                .map_err(|e| self.pg(e))?;
            let classes: Vec<Value> = spec.object_classes.iter().map(|c| Value::from(c.as_str())).collect();
            let with_classes = !classes.is_empty() && layout.mapped("objectClass").is_none();
            loop {
                let rows =
                    txn.query(&format!("FETCH {FETCH} FROM ferrosync_rows"), &[]).await.map_err(|e| self.pg(e))?;
                for r in &rows {
                    let mut e = self.entry_of(layout, "", r)?;
                    let key: Key =
                        layout.key_columns().map(|m| e.first_text(&m.attribute).unwrap_or_default()).collect();
                    let at = (t, key);
                    e.dn = match seen.get(&at) {
                        Some(dn) => dn.clone(),
                        None => {
                            let dn = crate::sql::dn_of_key(layout, base, &at.1);
                            self.remember(layout, &dn, Some(at));
                            dn
                        }
                    };
                    if with_classes {
                        e.set("objectClass", classes.clone());
                    }
                    if tx.send(Ok(e)).await.is_err() {
                        return Ok(());
                    }
                }
                if rows.len() < FETCH {
                    break;
                }
            }
            txn.commit().await.map_err(|e| self.pg(e))?;
        }
        Ok(())
    }

    /// Attributes without a column-map in the entry's table are not written: the diff sees them as the mapped
    /// entry has them.
    fn prepare_diff(&self, mapped: &Entry, existing: &mut Entry) {
        let tables: Vec<&DestinationTable> = match self.table_of_entry(mapped) {
            Ok(t) => vec![&self.tables[t]],
            Err(_) => self.tables.iter().collect(),
        };
        let mapped_attr = |a: &str| {
            tables.iter().any(|t| {
                t.column_maps.iter().any(|m| m.attribute.eq_ignore_ascii_case(a))
                    || t.child_tables.iter().any(|c| c.attribute.eq_ignore_ascii_case(a))
            })
        };
        for attr in mapped.attributes() {
            if !mapped_attr(&attr.name) {
                existing.set(&attr.name, attr.values.clone());
            }
        }
    }
}
