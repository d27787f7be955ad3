//! [`PostgresBackend`]: the store in a PostgreSQL database, so that several sync servers can share it.
//!
//! The tables are those of the SQLite store, in a schema of their own (`ferrosync` unless the URL names
//! another), created and migrated when a handle opens (one migration at a time: a transaction-scoped advisory
//! lock). DN look-ups ignore ASCII case only, as SQLite's `NOCASE` does: the comparison and its index use
//! `translate()` of `A-Z`, never the database's locale. Every method is one transaction; configuration changes
//! lock the generation row, so they exclude each other as SQLite's `BEGIN IMMEDIATE` does.
//!
//! The client is `tokio-postgres`, driven on a thread of its own: the engine calls the store from async tasks,
//! where a client that blocks on a runtime of its own (the sync `postgres` crate) would panic. Each call blocks
//! the calling thread until the server answers, as a SQLite call blocks on the disk. A connection the server
//! dropped is made again at the next call.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, NoTls, Statement};

use super::location::{PostgresUrl, SslMode};
use super::objects::{diff, object_of, row_of, RowChange};
use super::{ms, IdMapping, LeaseRow, SavedStats, ServerRow, StateWrite, StoreBackend, Topology};
use crate::config::Config;
use crate::error::StoreError;

/// `translate(X, 'A..Z', 'a..z')`: X with ASCII letters in lower case, whatever the database's locale.
macro_rules! ascii_lower {
    ($x:literal) => {
        concat!("translate(", $x, ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
    };
}

/// The schema, one step per version (the version is kept in `schema_version`); never edit a step once
/// released, add one.
const MIGRATIONS: &[&str] = &[
    concat!(
        "CREATE TABLE objects (
        id        BIGSERIAL PRIMARY KEY,
        type      TEXT NOT NULL,
        names     TEXT NOT NULL,
        names_key TEXT NOT NULL,
        variant   TEXT,
        props     TEXT NOT NULL DEFAULT '{}',
        UNIQUE (type, names_key)
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('generation', '0');
    CREATE TABLE pipe_state (
        pipe        TEXT PRIMARY KEY,
        start_point TEXT NOT NULL,
        updated     TEXT NOT NULL
    );
    CREATE TABLE id_map (
        pipe        TEXT NOT NULL,
        source_id   TEXT NOT NULL,
        source_dn   TEXT NOT NULL,
        dest_dn     TEXT NOT NULL,
        digest      TEXT,
        class       TEXT,
        renaming_to TEXT,
        PRIMARY KEY (pipe, source_id)
    );
    CREATE INDEX id_map_source_dn_nocase ON id_map (pipe, ",
        ascii_lower!("source_dn"),
        ");
    CREATE TABLE pipe_stats (
        pipe    TEXT PRIMARY KEY,
        stats   TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE TABLE server_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    ),
    // Servers in a topology and the leases of the pipes they run (times in ms since the Unix epoch, by the
    // PostgreSQL server's clock, so that the servers' own clocks never decide who holds a lease).
    "CREATE TABLE servers (
    name         TEXT PRIMARY KEY,
    priority     BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE TABLE leases (
    pipe       TEXT PRIMARY KEY,
    holder     TEXT,
    epoch      BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);",
];

/// The PostgreSQL server's clock in milliseconds since the Unix epoch.
const NOW_MS: &str = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";
/// A pipe's lease row, locked for the rest of the transaction.
const LEASE_FOR_UPDATE: &str = "SELECT pipe, holder, epoch, expires_ms FROM leases WHERE pipe = $1 FOR UPDATE";

/// The key of the advisory lock that serializes migrations (any number, the same in every ferrosync).
const MIGRATION_LOCK: i64 = 0x6665_7272_6f73_796e; // "ferrosyn"

const BUMP_GENERATION: &str = "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'";
const LOCK_GENERATION: &str = "SELECT value FROM meta WHERE key = 'generation' FOR UPDATE";

/// A store in a PostgreSQL database. See the [module documentation](self).
pub struct PostgresBackend {
    url: PostgresUrl,
    client: Client,
    /// Statements prepared on this connection, by their text.
    prepared: HashMap<&'static str, Statement>,
}

impl PostgresBackend {
    /// Connects to the database of `url` and migrates its schema to the current version.
    pub fn open(url: &PostgresUrl) -> Result<PostgresBackend, StoreError> {
        let client = connect(url)?;
        let mut backend = PostgresBackend { url: url.clone(), client, prepared: HashMap::new() };
        backend.migrate()?;
        Ok(backend)
    }

    /// The schema version this ferrosync writes.
    pub fn schema_version() -> usize {
        MIGRATIONS.len()
    }

    fn err(&self) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
        move |source| StoreError::Postgres { location: self.url.location(), source }
    }

    /// The client, connected again when the server dropped the connection.
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = connect(&self.url)?;
            self.prepared.clear();
        }
        Ok(&mut self.client)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let location = self.url.location();
        let schema = self.url.schema.clone();
        let client = self.client()?;
        let pg = |source| StoreError::Postgres { location: location.clone(), source };
        block(async {
            let tx = client.transaction().await.map_err(pg)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(pg)?;
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
                 CREATE TABLE IF NOT EXISTS \"{schema}\".schema_version (version INTEGER NOT NULL);"
            ))
            .await
            .map_err(pg)?;
            let row = tx.query_opt("SELECT version FROM schema_version", &[]).await.map_err(pg)?;
            let version = match row {
                Some(row) => row.try_get::<_, i32>(0).map_err(pg)?,
                None => {
                    tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[]).await.map_err(pg)?;
                    0
                }
            };
            let done = usize::try_from(version).unwrap_or(usize::MAX);
            if done > MIGRATIONS.len() {
                return Err(StoreError::Corrupt {
                    path: location.clone().into(),
                    reason: format!(
                        "its schema is at version {version}, newer than this ferrosync's ({}): use a newer ferrosync",
                        MIGRATIONS.len()
                    ),
                });
            }
            for step in &MIGRATIONS[done..] {
                tx.batch_execute(step).await.map_err(pg)?;
            }
            let now = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
            tx.execute("UPDATE schema_version SET version = $1", &[&now]).await.map_err(pg)?;
            tx.commit().await.map_err(pg)
        })
    }

    /// Runs `query` (prepared once per connection) and returns its rows.
    fn query(
        &mut self,
        query: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let stmt = self.prepare(query)?;
        let client = self.client()?;
        let result = block(client.query(&stmt, params));
        result.map_err(self.err())
    }

    fn execute(&mut self, query: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let stmt = self.prepare(query)?;
        let client = self.client()?;
        let result = block(client.execute(&stmt, params));
        result.map_err(self.err())
    }

    fn prepare(&mut self, query: &'static str) -> Result<Statement, StoreError> {
        if let Some(stmt) = self.prepared.get(query) {
            if !self.client.is_closed() {
                return Ok(stmt.clone());
            }
        }
        let client = self.client()?;
        let stmt = block(client.prepare(query)).map_err(self.err())?;
        self.prepared.insert(query, stmt.clone());
        Ok(stmt)
    }

    /// Prepares every statement `write_state` may use, so that its transaction runs on prepared statements.
    fn prepared_all(&mut self, queries: &[&'static str]) -> Result<Vec<Statement>, StoreError> {
        queries.iter().map(|q| self.prepare(q)).collect()
    }

    fn id_map_row(&mut self, query: &'static str, pipe: &str, key: &str) -> Result<Option<IdMapping>, StoreError> {
        let rows = self.query(query, &[&pipe, &key])?;
        rows.first().map(|r| id_mapping_of(r).map_err(self.err())).transpose()
    }

    /// The connection, for the store copy (which writes in a transaction of its own).
    pub(crate) fn raw(&mut self) -> Result<(&mut Client, String), StoreError> {
        let location = self.url.location();
        Ok((self.client()?, location))
    }
}

fn id_mapping_of(r: &tokio_postgres::Row) -> Result<IdMapping, tokio_postgres::Error> {
    Ok(IdMapping {
        source_id: r.try_get(0)?,
        source_dn: r.try_get(1)?,
        dest_dn: r.try_get(2)?,
        digest: r.try_get(3)?,
        class: r.try_get(4)?,
        renaming_to: r.try_get(5)?,
    })
}

/// Waits for `future` on this thread (tokio-postgres' client futures need no runtime: the connection's thread
/// does the I/O).
fn block<F: Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

/// Connects to `url`'s database, the connection driven on a thread of its own that ends with it.
fn connect(url: &PostgresUrl) -> Result<Client, StoreError> {
    connect_client(url, None)
}

/// Connects to `url`'s database with `password` (else the one of `url`'s password file, if any), the
/// connection driven on a thread of its own that ends with it: the client's futures need no runtime, so they
/// may be awaited on any executor (the `jdbc` sync destination's async tasks) or blocked on. Blocks until the
/// server answers the connection.
pub fn connect_client(url: &PostgresUrl, password: Option<&str>) -> Result<Client, StoreError> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&url.host)
        .port(url.port)
        .user(&url.user)
        .dbname(&url.dbname)
        .application_name("ferrosync")
        .connect_timeout(url.connect_timeout)
        .keepalives(true)
        .options(format!("-c search_path={}", url.schema));
    match password {
        Some(p) => {
            config.password(p);
        }
        None => {
            if let Some(p) = url.password()? {
                config.password(p);
            }
        }
    }
    let tls = match url.sslmode {
        SslMode::Disable => None,
        mode => Some(tls_connector(url, mode)?),
    };
    config.ssl_mode(match url.sslmode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    let location = url.location();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Client, StoreError>>(1);
    let loc = location.clone();
    std::thread::Builder::new()
        .name("ferrosync-postgres".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(source) => {
                    let _ =
                        tx.send(Err(StoreError::Io { action: "start the connection of", path: loc.into(), source }));
                    return;
                }
            };
            runtime.block_on(async move {
                let pg = |source| StoreError::Postgres { location: loc.clone(), source };
                match tls {
                    None => match config.connect(NoTls).await {
                        Ok((client, connection)) => {
                            let _ = tx.send(Ok(client));
                            let _ = connection.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(pg(e)));
                        }
                    },
                    Some(tls) => match config.connect(tls).await {
                        Ok((client, connection)) => {
                            let _ = tx.send(Ok(client));
                            let _ = connection.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(pg(e)));
                        }
                    },
                }
            });
        })
        .map_err(|source| StoreError::Io {
            action: "start the connection of",
            path: location.clone().into(),
            source,
        })?;
    rx.recv().unwrap_or(Err(StoreError::WriterStopped))
}

/// TLS as libpq does it for `mode`: `require` checks nothing unless a CA file is named; `verify-ca` checks the
/// CA; `verify-full` also the host name. A CA file replaces the system's CAs.
fn tls_connector(url: &PostgresUrl, mode: SslMode) -> Result<postgres_native_tls::MakeTlsConnector, StoreError> {
    let bad = |reason: String| StoreError::Tls { location: url.location(), reason };
    let mut builder = native_tls::TlsConnector::builder();
    let verify_ca = matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull)
        || (mode == SslMode::Require && url.sslrootcert.is_some());
    builder.danger_accept_invalid_certs(!verify_ca);
    builder.danger_accept_invalid_hostnames(mode != SslMode::VerifyFull);
    if let Some(path) = &url.sslrootcert {
        let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read sslrootcert {}: {e}", path.display())))?;
        let certs = native_tls::Certificate::stack_from_pem(&pem)
            .map_err(|e| bad(format!("sslrootcert {} holds no PEM certificate: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(bad(format!("sslrootcert {} holds no PEM certificate", path.display())));
        }
        builder.disable_built_in_roots(true);
        for cert in certs {
            builder.add_root_certificate(cert);
        }
    }
    let connector = builder.build().map_err(|e| bad(e.to_string()))?;
    Ok(postgres_native_tls::MakeTlsConnector::new(connector))
}

/// The configuration as `client` (a connection or a transaction) reads it.
async fn load<C: GenericClient>(client: &C, location: &str) -> Result<Config, StoreError> {
    let pg = |source| StoreError::Postgres { location: location.to_string(), source };
    let rows = client.query("SELECT type, names, variant, props FROM objects ORDER BY id", &[]).await.map_err(pg)?;
    let mut objects = Vec::with_capacity(rows.len());
    for r in rows {
        let (t, names, variant, props): (String, String, Option<String>, String) = (
            r.try_get(0).map_err(pg)?,
            r.try_get(1).map_err(pg)?,
            r.try_get(2).map_err(pg)?,
            r.try_get(3).map_err(pg)?,
        );
        objects.push(
            object_of(&t, &names, variant, &props)
                .map_err(|reason| StoreError::Corrupt { path: location.into(), reason })?,
        );
    }
    Ok(Config::from_objects(objects))
}

const INSERT_OBJECT: &str = "INSERT INTO objects (type, names, names_key, variant, props) VALUES ($1, $2, $3, $4, $5)";

pub(crate) async fn insert_object<C: GenericClient>(
    client: &C,
    obj: &crate::config::ConfigObject,
) -> Result<u64, tokio_postgres::Error> {
    let r = row_of(obj);
    client.execute(INSERT_OBJECT, &[&r.type_name, &r.names, &r.names_key, &r.variant, &r.props]).await
}

async fn save_diff<C: GenericClient>(client: &C, before: &Config, after: &Config) -> Result<(), tokio_postgres::Error> {
    for change in diff(before, after) {
        match change {
            RowChange::Delete((t, key)) => {
                client.execute("DELETE FROM objects WHERE type = $1 AND names_key = $2", &[&t, &key]).await?;
            }
            RowChange::Insert(o) => {
                insert_object(client, o).await?;
            }
            RowChange::Update(o) => {
                let r = row_of(o);
                client
                    .execute(
                        "UPDATE objects SET names = $3, variant = $4, props = $5 WHERE type = $1 AND names_key = $2",
                        &[&r.type_name, &r.names_key, &r.names, &r.variant, &r.props],
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

const PUT: &str = concat!(
    "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest, class) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (pipe, source_id) DO UPDATE SET source_dn = EXCLUDED.source_dn, dest_dn = EXCLUDED.dest_dn,
         digest = EXCLUDED.digest, class = EXCLUDED.class,
         renaming_to = CASE WHEN ",
    ascii_lower!("id_map.renaming_to"),
    " = ",
    ascii_lower!("EXCLUDED.dest_dn"),
    " OR ",
    ascii_lower!("id_map.renaming_to"),
    " = ",
    ascii_lower!("id_map.dest_dn"),
    " THEN NULL ELSE id_map.renaming_to END"
);
const REMOVE: &str = "DELETE FROM id_map WHERE pipe = $1 AND source_id = $2";
const PROVISIONAL: &str = "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest, class, renaming_to)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (pipe, source_id) DO NOTHING";
const MARK: &str = "UPDATE id_map SET renaming_to = $3 WHERE pipe = $1 AND source_id = $2";
const MARK_NEW: &str = "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest, class, renaming_to)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const START_POINT: &str = "INSERT INTO pipe_state (pipe, start_point, updated) VALUES ($1, $2, $3)
     ON CONFLICT (pipe) DO UPDATE SET start_point = EXCLUDED.start_point, updated = EXCLUDED.updated";
const SETTLE: &str = "DELETE FROM server_state WHERE key = $1 AND value = $2";

impl StoreBackend for PostgresBackend {
    fn location(&self) -> String {
        self.url.location()
    }

    fn seed(&mut self, builtins: &Config) -> Result<(), StoreError> {
        let location = self.url.location();
        let client = self.client()?;
        let pg = |source| StoreError::Postgres { location: location.clone(), source };
        block(async {
            let tx = client.transaction().await.map_err(pg)?;
            tx.query(LOCK_GENERATION, &[]).await.map_err(pg)?;
            let seeded = tx.query_opt("SELECT value FROM meta WHERE key = 'seeded'", &[]).await.map_err(pg)?;
            if seeded.is_none() {
                for obj in builtins.objects() {
                    insert_object(&tx, obj).await.map_err(pg)?;
                }
                tx.execute("INSERT INTO meta (key, value) VALUES ('seeded', '1')", &[]).await.map_err(pg)?;
            }
            tx.commit().await.map_err(pg)
        })
    }

    fn load(&mut self) -> Result<Config, StoreError> {
        let location = self.url.location();
        let client = self.client()?;
        block(load(&*client, &location))
    }

    fn generation(&mut self) -> Result<i64, StoreError> {
        let rows = self.query("SELECT value FROM meta WHERE key = 'generation'", &[])?;
        let value: Option<String> = rows.first().map(|r| r.try_get(0)).transpose().map_err(self.err())?;
        let value = value.unwrap_or_default();
        value.parse().map_err(|_| StoreError::Corrupt {
            path: self.url.location().into(),
            reason: format!("bad generation '{value}'"),
        })
    }

    fn update(&mut self, change: &mut dyn FnMut(&mut Config) -> bool) -> Result<(), StoreError> {
        let location = self.url.location();
        let client = self.client()?;
        let pg = |source| StoreError::Postgres { location: location.clone(), source };
        block(async {
            let tx = client.transaction().await.map_err(pg)?;
            // Every configuration writer locks this row first: they take turns, each reading the last commit.
            tx.query(LOCK_GENERATION, &[]).await.map_err(pg)?;
            let before = load(&tx, &location).await?;
            let mut after = before.clone();
            if !change(&mut after) {
                return tx.rollback().await.map_err(pg);
            }
            if after != before {
                save_diff(&tx, &before, &after).await.map_err(pg)?;
                tx.execute(BUMP_GENERATION, &[]).await.map_err(pg)?;
            }
            tx.commit().await.map_err(pg)
        })
    }

    fn start_point(&mut self, pipe: &str) -> Result<Option<String>, StoreError> {
        let rows = self.query("SELECT start_point FROM pipe_state WHERE pipe = $1", &[&pipe])?;
        rows.first().map(|r| r.try_get(0)).transpose().map_err(self.err())
    }

    fn write_state(&mut self, w: &StateWrite<'_>) -> Result<(), StoreError> {
        let s = self.prepared_all(&[PUT, REMOVE, PROVISIONAL, MARK, MARK_NEW, START_POINT, SETTLE, BUMP_GENERATION])?;
        let [put, remove, provisional, mark, mark_new, start_point, settle, bump] = &s[..] else {
            return Err(StoreError::WriterStopped);
        };
        let location = self.url.location();
        let client = self.client()?;
        let pg = |source| StoreError::Postgres { location: location.clone(), source };
        block(async {
            let tx = client.transaction().await.map_err(pg)?;
            if let Some(lease) = &w.lease {
                let row = tx.query_opt(LEASE_FOR_UPDATE, &[&w.pipe]).await.map_err(pg)?.map(|r| lease_of(&r));
                if !LeaseRow::admits(row.transpose().map_err(pg)?.as_ref(), lease) {
                    return Err(StoreError::LeaseLost {
                        pipe: w.pipe.to_string(),
                        server: lease.server.to_string(),
                        epoch: lease.epoch,
                    });
                }
            }
            for m in w.put {
                tx.execute(put, &[&w.pipe, &m.source_id, &m.source_dn, &m.dest_dn, &m.digest, &m.class])
                    .await
                    .map_err(pg)?;
            }
            for id in w.remove {
                tx.execute(remove, &[&w.pipe, id]).await.map_err(pg)?;
            }
            for r in w.provisional {
                tx.execute(
                    provisional,
                    &[&w.pipe, &r.source_id, &r.source_dn, &r.dest_dn, &r.digest, &r.class, &r.renaming_to],
                )
                .await
                .map_err(pg)?;
            }
            if let Some(r) = w.rename_intent {
                let changed = tx.execute(mark, &[&w.pipe, &r.source_id, &r.renaming_to]).await.map_err(pg)?;
                if changed == 0 && r.renaming_to.is_some() {
                    tx.execute(
                        mark_new,
                        &[&w.pipe, &r.source_id, &r.source_dn, &r.dest_dn, &r.digest, &r.class, &r.renaming_to],
                    )
                    .await
                    .map_err(pg)?;
                }
            }
            if let Some(sp) = w.start_point {
                tx.execute(start_point, &[&w.pipe, &sp, &crate::util::timestamp_now()]).await.map_err(pg)?;
            }
            if let Some((key, value)) = w.settle {
                tx.execute(settle, &[&key, &value]).await.map_err(pg)?;
            }
            if w.bump_generation {
                tx.execute(bump, &[]).await.map_err(pg)?;
            }
            tx.commit().await.map_err(pg)
        })
    }

    fn id_mapping(&mut self, pipe: &str, source_id: &str) -> Result<Option<IdMapping>, StoreError> {
        self.id_map_row(
            "SELECT source_id, source_dn, dest_dn, digest, class, renaming_to FROM id_map
             WHERE pipe = $1 AND source_id = $2",
            pipe,
            source_id,
        )
    }

    fn id_mapping_by_dn(&mut self, pipe: &str, source_dn: &str) -> Result<Option<IdMapping>, StoreError> {
        self.id_map_row(
            concat!(
                "SELECT source_id, source_dn, dest_dn, digest, class, renaming_to FROM id_map WHERE pipe = $1 AND ",
                ascii_lower!("source_dn"),
                " = ",
                ascii_lower!("$2"),
                " LIMIT 1"
            ),
            pipe,
            source_dn,
        )
    }

    fn clear_id_map(&mut self, pipe: &str) -> Result<(), StoreError> {
        self.execute("DELETE FROM id_map WHERE pipe = $1", &[&pipe]).map(|_| ())
    }

    fn set_stats(&mut self, pipe: &str, stats: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO pipe_stats (pipe, stats, updated) VALUES ($1, $2, $3)
             ON CONFLICT (pipe) DO UPDATE SET stats = EXCLUDED.stats, updated = EXCLUDED.updated",
            &[&pipe, &stats, &crate::util::timestamp_now()],
        )
        .map(|_| ())
    }

    fn all_stats(&mut self) -> Result<Vec<SavedStats>, StoreError> {
        // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
        let rows = self.query("SELECT pipe, stats, updated FROM pipe_stats ORDER BY pipe COLLATE \"C\"", &[])?;
        rows.iter()
            .map(|r| Ok(SavedStats { pipe: r.try_get(0)?, stats: r.try_get(1)?, updated: r.try_get(2)? }))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(self.err())
    }

    fn clear_stats(&mut self) -> Result<(), StoreError> {
        self.execute("DELETE FROM pipe_stats", &[]).map(|_| ())
    }

    fn server_value(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let rows = self.query("SELECT value FROM server_state WHERE key = $1", &[&key])?;
        rows.first().map(|r| r.try_get(0)).transpose().map_err(self.err())
    }

    fn set_server_value(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        match value {
            Some(v) => self.execute(
                "INSERT INTO server_state (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&key, &v],
            ),
            None => self.execute("DELETE FROM server_state WHERE key = $1", &[&key]),
        }
        .map(|_| ())
    }

    fn server_values(&mut self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // substr, not LIKE: a prefix may hold `%` or `_`.
        let rows = self.query(
            "SELECT key, value FROM server_state WHERE substr(key, 1, length($1)) = $1 ORDER BY key COLLATE \"C\"",
            &[&prefix],
        )?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(self.err())
    }

    fn heartbeat(&mut self, name: &str, priority: i64, detail: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO servers (name, priority, heartbeat_ms, detail)
             VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT, $3)
             ON CONFLICT (name) DO UPDATE SET priority = EXCLUDED.priority, heartbeat_ms = EXCLUDED.heartbeat_ms,
                 detail = EXCLUDED.detail",
            &[&name, &priority, &detail],
        )
        .map(|_| ())
    }

    fn forget_server(&mut self, name: &str) -> Result<(), StoreError> {
        let location = self.url.location();
        let client = self.client()?;
        let pg = |source| StoreError::Postgres { location: location.clone(), source };
        block(async {
            let tx = client.transaction().await.map_err(pg)?;
            tx.execute("DELETE FROM servers WHERE name = $1", &[&name]).await.map_err(pg)?;
            tx.execute("UPDATE leases SET holder = NULL WHERE holder = $1", &[&name]).await.map_err(pg)?;
            tx.commit().await.map_err(pg)
        })
    }

    fn acquire_lease(&mut self, pipe: &str, server: &str, ttl: Duration) -> Result<Option<i64>, StoreError> {
        let location = self.url.location();
        let client = self.client()?;
        let pg = |source| StoreError::Postgres { location: location.clone(), source };
        block(async {
            let tx = client.transaction().await.map_err(pg)?;
            // A row to lock, so that two servers asking for a new pipe's lease at once are serialized.
            tx.execute(
                "INSERT INTO leases (pipe, holder, epoch, expires_ms) VALUES ($1, NULL, 0, 0) ON CONFLICT DO NOTHING",
                &[&pipe],
            )
            .await
            .map_err(pg)?;
            let current = tx.query_opt(LEASE_FOR_UPDATE, &[&pipe]).await.map_err(pg)?.map(|r| lease_of(&r));
            let current = current.transpose().map_err(pg)?;
            let now: i64 = tx.query_one(NOW_MS, &[]).await.and_then(|r| r.try_get(0)).map_err(pg)?;
            let Some(row) = LeaseRow::acquire(current.as_ref(), pipe, server, now, ms(ttl)) else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE leases SET holder = $2, epoch = $3, expires_ms = $4 WHERE pipe = $1",
                &[&row.pipe, &row.holder, &row.epoch, &row.expires_ms],
            )
            .await
            .map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            Ok(Some(row.epoch))
        })
    }

    fn release_lease(&mut self, pipe: &str, server: &str, epoch: i64) -> Result<(), StoreError> {
        self.execute(
            "UPDATE leases SET holder = NULL WHERE pipe = $1 AND holder = $2 AND epoch = $3",
            &[&pipe, &server, &epoch],
        )
        .map(|_| ())
    }

    fn topology(&mut self) -> Result<Topology, StoreError> {
        let location = self.url.location();
        let client = self.client()?;
        let pg = |source| StoreError::Postgres { location: location.clone(), source };
        block(async {
            let tx = client.build_transaction().read_only(true).start().await.map_err(pg)?;
            let now_ms: i64 = tx.query_one(NOW_MS, &[]).await.and_then(|r| r.try_get(0)).map_err(pg)?;
            let servers = tx
                .query("SELECT name, priority, heartbeat_ms, detail FROM servers ORDER BY priority, name", &[])
                .await
                .map_err(pg)?
                .iter()
                .map(|r| {
                    Ok(ServerRow {
                        name: r.try_get(0)?,
                        priority: r.try_get(1)?,
                        heartbeat_ms: r.try_get(2)?,
                        detail: r.try_get(3)?,
                    })
                })
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                .map_err(pg)?;
            let leases = tx
                .query("SELECT pipe, holder, epoch, expires_ms FROM leases WHERE epoch > 0 ORDER BY pipe", &[])
                .await
                .map_err(pg)?
                .iter()
                .map(lease_of)
                .collect::<Result<Vec<_>, tokio_postgres::Error>>()
                .map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            Ok(Topology { now_ms, servers, leases })
        })
    }
}

/// A lease row of `leases` (pipe, holder, epoch, expires_ms).
fn lease_of(r: &tokio_postgres::Row) -> Result<LeaseRow, tokio_postgres::Error> {
    Ok(LeaseRow { pipe: r.try_get(0)?, holder: r.try_get(1)?, epoch: r.try_get(2)?, expires_ms: r.try_get(3)? })
}
