//! The [`JdbcSource`]: a table's rows as entries (with the values of child tables), read by key; and the
//! [`JdbcDetector`]: its changes, read from the change log table that triggers fill.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, Mutex};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use ferrosync::config::Config;
use ferrosync::endpoint::{
    Change, ChangeDetector, ChangeKind, EndpointError, EndpointResult, EntrySource, StartPoint, StartPointRequest,
};
use ferrosync::entry::{Entry, Value};
use ferrosync::secret::SecretBox;
use ferrosync::settings::JdbcSourceSettings;
use ferrosync::store::ServerRoot;
use ferrosync::syntax::{Dn, Filter};

use crate::db::{cfg, Db};
use crate::sql::{quote, values_at, Layout, Table};
use crate::JdbcConfigError;

/// Rows read at a time from the cursor of a listing.
const FETCH: usize = 500;

/// How old a change log row after a gap in the change numbers must be before the gap is passed: a change with
/// a smaller number may still be on its way (its transaction not yet committed).
const GAP_WAIT: Duration = Duration::from_secs(2);

/// How long a gap is waited for at most while a transaction that may fill it is still open.
const GAP_MAX: Duration = Duration::from_secs(600);

/// What the source and its detector share: the mapping, the connection, and the entry of a row.
pub(crate) struct Tables {
    pub(crate) settings: JdbcSourceSettings,
    pub(crate) db: Db,
    conn: Mutex<(Option<Client>, Option<Arc<Layout>>)>,
}

impl Tables {
    pub(crate) fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        name: &str,
    ) -> Result<Tables, JdbcConfigError> {
        let settings = JdbcSourceSettings::of(config, name).map_err(cfg)?;
        let db = Db::from_config(config, secrets, root, &settings.server, &settings.schema, &settings.label)?;
        Ok(Tables { settings, db, conn: Mutex::new((None, None)) })
    }

    fn label(&self) -> &str {
        &self.settings.label
    }

    /// The connection and the checked layout, under the lock (one query at a time on the connection).
    async fn connect(
        &self,
    ) -> EndpointResult<(tokio::sync::MutexGuard<'_, (Option<Client>, Option<Arc<Layout>>)>, Arc<Layout>)> {
        let mut conn = self.conn.lock().await;
        if conn.0.as_ref().is_none_or(Client::is_closed) {
            conn.0 = Some(self.db.connect().await?);
        }
        let layout = match &conn.1 {
            Some(l) => l.clone(),
            None => {
                let client = conn.0.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
                let l = Arc::new(self.check_layout(client).await?);
                conn.1 = Some(l.clone());
                l
            }
        };
        Ok((conn, layout))
    }

    async fn check_layout(&self, client: &Client) -> EndpointResult<Layout> {
        let s = &self.settings;
        self.db.check_layout(client, (&s.schema, &s.table), &s.column_maps, &s.key_columns, &s.child_tables).await
    }

    /// The DN of the row whose key is `key`: the key columns' attributes make the RDN, below the base DN.
    fn dn_of_key(&self, table: &Table, key: &[String]) -> String {
        crate::sql::dn_of_key(table, &self.settings.base_dn, key)
    }

    /// The key of the row whose entry is `dn`, when `dn` is an entry of this table.
    fn key_of_dn(&self, table: &Table, dn: &str) -> Option<Vec<String>> {
        let parsed = Dn::parse(dn).ok()?;
        if parsed.parent()?.normalized() != self.settings.base_dn.normalized() {
            return None;
        }
        let rdn = parsed.rdn()?;
        if rdn.avas().len() != table.keys.len() {
            return None;
        }
        table.key_columns().map(|m| rdn.get(&m.attribute).map(str::to_string)).collect()
    }

    /// The entry of a row read with the layout's SELECT.
    fn entry_of(&self, layout: &Layout, row: &Row) -> EndpointResult<Entry> {
        let table = &layout.table;
        let mut values: Vec<(String, Vec<Value>)> = Vec::new();
        for (i, m) in table.mapped.iter().enumerate() {
            values.push((m.attribute.clone(), values_at(row, i, m.column.is_array()).map_err(|e| self.db.pg(e))?));
        }
        let n = table.mapped.len();
        for (j, c) in layout.children.iter().enumerate() {
            values.push((c.map.attribute.clone(), values_at(row, n + j, true).map_err(|e| self.db.pg(e))?));
        }
        let key: Vec<String> = table
            .keys
            .iter()
            .map(|i| values[*i].1.first().map(|v| v.as_text().into_owned()).unwrap_or_default())
            .collect();
        let mut e = Entry::new(self.dn_of_key(table, &key));
        let classes: Vec<Value> = self.settings.object_classes.iter().map(|c| Value::from(c.as_str())).collect();
        if !classes.is_empty() {
            e.set("objectClass", classes);
        }
        for (attr, v) in values {
            if !v.is_empty() {
                e.set(&attr, v);
            }
        }
        Ok(e)
    }

    async fn fetch(&self, dn: &str) -> EndpointResult<Option<Entry>> {
        let (conn, layout) = self.connect().await?;
        let client = conn.0.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let Some(key) = self.key_of_dn(&layout.table, dn) else { return Ok(None) };
        let sql = format!("{} WHERE {}", layout.select, layout.table.key_condition(1));
        let params: Vec<&(dyn ToSql + Sync)> = key.iter().map(|k| k as &(dyn ToSql + Sync)).collect();
        let rows = client.query(&sql, &params).await.map_err(|e| self.db.pg(e))?;
        rows.first().map(|r| self.entry_of(&layout, r)).transpose()
    }
}

/// A PostgreSQL table as a sync source. See the [crate documentation](crate).
pub struct JdbcSource {
    name: String,
    tables: Tables,
}

impl JdbcSource {
    /// The source `name` (of type jdbc) and its server, from the configuration.
    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        name: &str,
    ) -> Result<JdbcSource, JdbcConfigError> {
        Ok(JdbcSource { name: name.to_string(), tables: Tables::from_config(config, secrets, root, name)? })
    }
}

#[async_trait]
impl EntrySource for JdbcSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> EndpointResult<()> {
        self.tables.connect().await.map(drop)
    }

    async fn fetch(&self, dn: &str) -> EndpointResult<Option<Entry>> {
        self.tables.fetch(dn).await
    }

    /// The unique id of a row's entry is its DN (the key makes both).
    async fn fetch_by_unique_id(&self, id: &str) -> EndpointResult<Option<Entry>> {
        self.tables.fetch(id).await
    }

    fn unique_id(&self, entry: &Entry) -> Option<String> {
        Some(entry.dn.clone())
    }

    /// Every row, read through a cursor (memory stays flat), as entries; `filter` is applied to each entry.
    async fn stream(&self, filter: Option<&str>, tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        let filter = filter
            .map(|f| {
                Filter::parse(f)
                    .map_err(|e| EndpointError::Config(format!("the search filter '{f}' is not valid: {e}")))
            })
            .transpose()?;
        let t = &self.tables;
        let (mut conn, layout) = t.connect().await?;
        let client = conn.0.as_mut().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let txn = client.transaction().await.map_err(|e| t.db.pg(e))?;
        txn.batch_execute(&format!("DECLARE ferrosync_rows NO SCROLL CURSOR FOR {}", layout.select))
            .await
            .map_err(|e| t.db.pg(e))?;
        loop {
            let rows = txn.query(&format!("FETCH {FETCH} FROM ferrosync_rows"), &[]).await.map_err(|e| t.db.pg(e))?;
            for r in &rows {
                let e = t.entry_of(&layout, r)?;
                if filter.as_ref().is_some_and(|f| !f.matches(&e)) {
                    continue;
                }
                if tx.send(Ok(e)).await.is_err() {
                    return Ok(());
                }
            }
            if rows.len() < FETCH {
                break;
            }
        }
        txn.commit().await.map_err(|e| t.db.pg(e))
    }

    async fn count(&self, filter: Option<&str>) -> EndpointResult<Option<u64>> {
        if filter.is_some() {
            return Ok(None);
        }
        let (conn, layout) = self.tables.connect().await?;
        let client = conn.0.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let row = client
            .query_one(&format!("SELECT count(*) FROM {}", layout.table.qualified), &[])
            .await
            .map_err(|e| self.tables.db.pg(e))?;
        let n: i64 = row.try_get(0).map_err(|e| self.tables.db.pg(e))?;
        Ok(u64::try_from(n).ok())
    }
}

/// One row of the change log table.
struct Logged {
    number: i64,
    table: String,
    key: Vec<String>,
    new_key: Option<Vec<String>>,
    kind: String,
    changed: Vec<String>,
    modifier: Option<String>,
    time: Option<String>,
    /// Seconds since the row was logged, by the database's clock.
    age: f64,
}

/// The changes of a `jdbc` source, read from its change log table (see [`crate::prepare`]). A start point is
/// the change number of the last change read.
pub struct JdbcDetector {
    tables: Tables,
    /// The last row read by the last poll from a start point, when no change came of it: the idle start point.
    scanned: std::sync::Mutex<Option<(i64, i64)>>,
    /// When the change log was last purged of old rows (`change-log-maximum-age`).
    purged: std::sync::Mutex<Option<std::time::Instant>>,
}

impl JdbcDetector {
    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        name: &str,
    ) -> Result<JdbcDetector, JdbcConfigError> {
        Ok(JdbcDetector {
            tables: Tables::from_config(config, secrets, root, name)?,
            scanned: std::sync::Mutex::new(None),
            purged: std::sync::Mutex::new(None),
        })
    }

    fn change_log(&self) -> (String, String) {
        let (s, t) = &self.tables.settings.change_log;
        (format!("{}.{}", quote(s), quote(t)), format!("{s}.{t}"))
    }

    /// A query error on the change log: a missing table says how to create it.
    fn log_error(&self, e: tokio_postgres::Error) -> EndpointError {
        let (_, display) = self.change_log();
        if e.as_db_error().is_some_and(|d| d.code().code() == "42P01") {
            return EndpointError::Config(format!(
                "the {}: the change log table {display} does not exist: create it and its triggers with \
                 prepare-endpoint-server --isSource --sync-source {}",
                self.tables.label(),
                self.tables.settings.name
            ));
        }
        self.tables.db.pg(e)
    }

    fn parse_token(&self, after: &StartPoint) -> EndpointResult<i64> {
        let text = after.as_str().trim();
        if text.is_empty() {
            return Ok(0);
        }
        text.parse().map_err(|_| {
            EndpointError::Config(format!(
                "the start point '{text}' is not a change number of the change log table {}: set it with \
                 realtime-sync set-startpoint",
                self.change_log().1
            ))
        })
    }

    /// The first and last change numbers in the log (0, 0 when it is empty), after checking that the table and
    /// its child tables have their triggers.
    async fn bounds(&self) -> EndpointResult<(i64, i64)> {
        let (conn, layout) = self.tables.connect().await?;
        let client = conn.0.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let (q, _) = self.change_log();
        let (_, log_name) = &self.tables.settings.change_log;
        let mut tables = vec![(self.tables.settings.schema.clone(), self.tables.settings.table.clone())];
        tables.extend(layout.children.iter().map(|c| (c.map.schema.clone(), c.map.table.clone())));
        for (schema, table) in tables {
            let found = client
                .query_opt(
                    "SELECT tg.tgenabled::text FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = \
                     tg.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND \
                     c.relname = $2 AND tg.tgname = $3",
                    &[&schema, &table, log_name],
                )
                .await
                .map_err(|e| self.tables.db.pg(e))?;
            match found.map(|r| r.try_get::<_, String>(0)) {
                Some(Ok(enabled)) if enabled != "D" => {}
                Some(_) => {
                    return Err(EndpointError::Config(format!(
                        "the {}: the trigger {log_name} on table {schema}.{table} is disabled, so its changes are \
                         not logged: enable it (ALTER TABLE ... ENABLE TRIGGER {log_name})",
                        self.tables.label()
                    )))
                }
                None => {
                    return Err(EndpointError::Config(format!(
                        "the {}: table {schema}.{table} has no trigger {log_name} that logs its changes: create it \
                         with prepare-endpoint-server --isSource --sync-source {}",
                        self.tables.label(),
                        self.tables.settings.name
                    )))
                }
            }
        }
        let row = client
            .query_one(
                &format!("SELECT COALESCE(min(change_number), 0), COALESCE(max(change_number), 0) FROM {q}"),
                &[],
            )
            .await
            .map_err(|e| self.log_error(e))?;
        let first: i64 = row.try_get(0).map_err(|e| self.tables.db.pg(e))?;
        let last: i64 = row.try_get(1).map_err(|e| self.tables.db.pg(e))?;
        Ok((first, last))
    }

    /// Whether a transaction that may still log a change numbered below a row logged at `time` is open (as
    /// far as the sync user may see other sessions).
    async fn open_writer_before(&self, client: &Client, time: &str) -> EndpointResult<bool> {
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> \
                 pg_backend_pid() AND xact_start <= $1::text::timestamptz)",
                &[&time],
            )
            .await
            .map_err(|e| self.tables.db.pg(e))?;
        row.try_get(0).map_err(|e| self.tables.db.pg(e))
    }

    /// Deletes the change log rows up to `from` (read by this pipe) that are older than `change-log-maximum-age`,
    /// at most every 10 minutes (every half of the age when that is shorter).
    async fn purge(&self, client: &Client, from: i64) -> EndpointResult<()> {
        let Some(age) = self.tables.settings.change_log_max_age else { return Ok(()) };
        let every = (age / 2).clamp(Duration::from_secs(1), Duration::from_secs(600));
        {
            let Ok(mut last) = self.purged.lock() else { return Ok(()) };
            if last.is_some_and(|t| t.elapsed() < every) {
                return Ok(());
            }
            *last = Some(std::time::Instant::now());
        }
        let (q, display) = self.change_log();
        let sql = format!(
            "DELETE FROM {q} WHERE change_number <= $1 AND change_time < clock_timestamp() - make_interval(secs => \
             $2::text::float8)"
        );
        match client.execute(&sql, &[&from, &age.as_secs_f64().to_string()]).await {
            Ok(_) => Ok(()),
            Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "42501") => {
                Err(EndpointError::Config(format!(
                    "the {}: the sync user may not delete old rows of the change log table {display} \
                 (change-log-maximum-age): GRANT DELETE ON {q} TO the user (prepare-endpoint-server --isSource does), \
                 or set change-log-maximum-age:0 s to keep every row",
                    self.tables.label()
                )))
            }
            Err(e) => Err(self.log_error(e)),
        }
    }

    /// The changes of one change log row (none when it concerns no mapped column or another table).
    fn changes_of(&self, layout: &Layout, row: &Logged) -> Vec<Change> {
        let after = StartPoint(row.number.to_string());
        let table = &layout.table;
        let s = &self.tables.settings;
        let make = |kind: ChangeKind, key: &[String], changed: Vec<String>| {
            let dn = self.tables.dn_of_key(table, key);
            let mut c = Change::new(after.clone(), row.number.to_string(), kind, dn.clone());
            c.unique_id = Some(dn);
            c.changed_attributes = changed;
            c.modifier = row.modifier.clone();
            c.time = row.time.clone();
            c
        };
        if row.table == format!("{}.{}", s.schema, s.table) {
            if row.key.len() != table.keys.len() {
                return Vec::new();
            }
            return match row.kind.as_str() {
                "insert" => vec![make(ChangeKind::Add, &row.key, Vec::new())],
                "delete" => vec![make(ChangeKind::Delete, &row.key, Vec::new())],
                _ => {
                    let changed: Vec<String> = table
                        .mapped
                        .iter()
                        .filter(|m| row.changed.contains(&m.column.name))
                        .map(|m| m.attribute.clone())
                        .collect();
                    match &row.new_key {
                        Some(new) if *new != row.key && new.len() == row.key.len() => {
                            let mut c = make(ChangeKind::ModDn, &row.key, changed);
                            let new_dn = self.tables.dn_of_key(table, new);
                            c.unique_id = Some(new_dn.clone());
                            c.new_dn = Some(new_dn);
                            vec![c]
                        }
                        _ if changed.is_empty() => Vec::new(),
                        _ => vec![make(ChangeKind::Modify, &row.key, changed)],
                    }
                }
            };
        }
        let Some(child) = layout.children.iter().find(|c| c.display == row.table) else { return Vec::new() };
        let attr = vec![child.map.attribute.clone()];
        let mut out = Vec::new();
        if row.key.len() == table.keys.len() {
            out.push(make(ChangeKind::Modify, &row.key, attr.clone()));
        }
        if let Some(new) = row.new_key.as_ref().filter(|n| **n != row.key && n.len() == table.keys.len()) {
            out.push(make(ChangeKind::Modify, new, attr));
        }
        out
    }
}

#[async_trait]
impl ChangeDetector for JdbcDetector {
    async fn start_point(&self, request: &StartPointRequest) -> EndpointResult<StartPoint> {
        let (first, last) = self.bounds().await?;
        let token = |n: i64| Ok(StartPoint(n.max(0).to_string()));
        match request {
            StartPointRequest::EndOfChangelog => token(last),
            StartPointRequest::BeginningOfChangelog => token(if first > 0 { first - 1 } else { last }),
            StartPointRequest::ChangeNumber(n) => {
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                if first > 0 && n < first {
                    return Err(EndpointError::Config(format!(
                        "change number {n} is older than the oldest change ({first}) in the change log table {}: \
                         run resync, then set-startpoint --end-of-changelog",
                        self.change_log().1
                    )));
                }
                if n > last.saturating_add(1) {
                    return Err(EndpointError::Config(format!(
                        "change number {n} is after the newest change ({last}) in the change log table {}: use a \
                         number up to {}, or --end-of-changelog",
                        self.change_log().1,
                        last.saturating_add(1)
                    )));
                }
                token(n - 1)
            }
            StartPointRequest::Time(t) => {
                let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                let (conn, _) = self.tables.connect().await?;
                let client = conn.0.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
                let row = client
                    .query_one(
                        &format!(
                            "SELECT min(change_number) FROM {} WHERE change_time >= to_timestamp($1::text::float8)",
                            self.change_log().0
                        ),
                        &[&secs.to_string()],
                    )
                    .await
                    .map_err(|e| self.log_error(e))?;
                let n: Option<i64> = row.try_get(0).map_err(|e| self.tables.db.pg(e))?;
                token(n.map_or(last, |n| n - 1))
            }
            StartPointRequest::ChangeSequenceNumber(csn) => Err(EndpointError::Config(format!(
                "--change-sequence-number {csn}: a jdbc source's change log has change numbers (use --change-number)"
            ))),
        }
    }

    async fn poll(&self, after: &StartPoint, max: usize, _wait: Duration) -> EndpointResult<Vec<Change>> {
        let from = self.parse_token(after)?;
        let (conn, layout) = self.tables.connect().await?;
        let client = conn.0.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let limit = i64::try_from(max.max(1)).unwrap_or(1000);
        let rows = client
            .query(
                &format!(
                    "SELECT change_number, table_name, key_values, new_key_values, change_type, changed_columns, \
                     modifiers_name, change_time::text, EXTRACT(EPOCH FROM clock_timestamp() - change_time)::float8 \
                     FROM {} WHERE change_number > $1 ORDER BY change_number LIMIT $2",
                    self.change_log().0
                ),
                &[&from, &limit],
            )
            .await
            .map_err(|e| self.log_error(e))?;
        let pg = |e| self.tables.db.pg(e);
        let mut changes = Vec::new();
        let mut expected = from + 1;
        let mut last_scanned = None;
        for r in &rows {
            let row = Logged {
                number: r.try_get(0).map_err(pg)?,
                table: r.try_get(1).map_err(pg)?,
                key: r
                    .try_get::<_, Option<Vec<Option<String>>>>(2)
                    .map_err(pg)?
                    .unwrap_or_default()
                    .into_iter()
                    .map(Option::unwrap_or_default)
                    .collect(),
                new_key: r
                    .try_get::<_, Option<Vec<Option<String>>>>(3)
                    .map_err(pg)?
                    .map(|k| k.into_iter().map(Option::unwrap_or_default).collect()),
                kind: r.try_get(4).map_err(pg)?,
                changed: r.try_get::<_, Option<Vec<String>>>(5).map_err(pg)?.unwrap_or_default(),
                modifier: r.try_get(6).map_err(pg)?,
                time: r.try_get(7).map_err(pg)?,
                age: r.try_get::<_, Option<f64>>(8).map_err(pg)?.unwrap_or(0.0),
            };
            if row.number != expected {
                // A gap: a smaller number may belong to a transaction not committed yet. It is passed once the
                // row after it is older than GAP_WAIT and no transaction that began before it is still open
                // (or it is older than GAP_MAX).
                let young = row.age < GAP_WAIT.as_secs_f64();
                let waiting = !young
                    && row.age < GAP_MAX.as_secs_f64()
                    && self.open_writer_before(client, row.time.as_deref().unwrap_or("now")).await?;
                if young || waiting {
                    break;
                }
            }
            expected = row.number + 1;
            last_scanned = Some(row.number);
            changes.extend(self.changes_of(&layout, &row));
        }
        if let Ok(mut s) = self.scanned.lock() {
            *s = match (changes.is_empty(), last_scanned) {
                (true, Some(n)) => Some((from, n)),
                _ => None,
            };
        }
        self.purge(client, from).await?;
        Ok(changes)
    }

    async fn idle_start_point(&self, after: &StartPoint) -> Option<StartPoint> {
        let from = self.parse_token(after).ok()?;
        let scanned = *self.scanned.lock().ok()?;
        match scanned {
            Some((f, n)) if f == from && n > from => Some(StartPoint(n.to_string())),
            _ => None,
        }
    }

    async fn unretrieved(&self, after: &StartPoint) -> EndpointResult<Option<u64>> {
        let from = self.parse_token(after)?;
        let (conn, _) = self.tables.connect().await?;
        let client = conn.0.as_ref().ok_or_else(|| EndpointError::Unavailable("no connection".into()))?;
        let row = client
            .query_one(&format!("SELECT count(*) FROM {} WHERE change_number > $1", self.change_log().0), &[&from])
            .await
            .map_err(|e| self.log_error(e))?;
        let n: i64 = row.try_get(0).map_err(|e| self.tables.db.pg(e))?;
        Ok(u64::try_from(n).ok())
    }
}

/// What prepare-endpoint-server prepares for a `jdbc` sync source.
#[derive(Clone, Debug)]
pub struct SourceTables {
    /// The source's table and its child tables, each with the columns that name the entry (the key columns,
    /// or a child table's parent key columns).
    pub tables: Vec<crate::prepare::LoggedTable>,
    /// The change log table's schema and name.
    pub change_log: (String, String),
    /// The source's external server.
    pub server: String,
}

/// The tables whose changes the sync source `source` reads (`prepare-endpoint-server --sync-source`).
pub fn tables_to_log(config: &Config, source: &str) -> Result<SourceTables, JdbcConfigError> {
    let s = JdbcSourceSettings::of(config, source).map_err(cfg)?;
    let mut tables = vec![crate::prepare::LoggedTable {
        schema: s.schema.clone(),
        table: s.table.clone(),
        key_columns: s.key_columns.clone(),
    }];
    for c in &s.child_tables {
        tables.push(crate::prepare::LoggedTable {
            schema: c.schema.clone(),
            table: c.table.clone(),
            key_columns: c.parent_key_columns.clone(),
        });
    }
    Ok(SourceTables { tables, change_log: s.change_log.clone(), server: s.server.clone() })
}
