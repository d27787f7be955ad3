//! [`SqliteBackend`]: the store in one SQLite file (`DIR/config/config.db`), the embedded default.
//!
//! The schema is versioned with `rusqlite_migration`; the database runs in WAL mode, so a running sync server
//! reads while dsconfig writes. Every change happens in one `BEGIN IMMEDIATE` transaction: load, change in
//! memory, write the difference, bump the generation counter (which the sync server watches), commit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use super::objects::{diff, object_of, row_of, RowChange};
use super::{ms, now_ms, set_mode, IdMapping, LeaseRow, SavedStats, ServerRow, StateWrite, StoreBackend, Topology};
use crate::config::{Config, ConfigObject};
use crate::error::StoreError;

const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE objects (
        id        INTEGER PRIMARY KEY,
        type      TEXT NOT NULL,
        names     TEXT NOT NULL,
        names_key TEXT NOT NULL,
        variant   TEXT,
        props     TEXT NOT NULL DEFAULT '{}',
        UNIQUE (type, names_key)
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('generation', '0');",
    ),
    // The sync state: where each pipe resumes, which destination entry each source entry went to, and the
    // running server's counters.
    M::up(
        "CREATE TABLE pipe_state (
        pipe        TEXT PRIMARY KEY,
        start_point TEXT NOT NULL,
        updated     TEXT NOT NULL
    );
    CREATE TABLE id_map (
        pipe      TEXT NOT NULL,
        source_id TEXT NOT NULL,
        source_dn TEXT NOT NULL,
        dest_dn   TEXT NOT NULL,
        PRIMARY KEY (pipe, source_id)
    );
    CREATE INDEX id_map_source_dn ON id_map (pipe, source_dn);
    CREATE TABLE pipe_stats (
        pipe    TEXT PRIMARY KEY,
        stats   TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE TABLE server_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    ),
    // Lookups by source DN compare without case: an index with the same collation serves them (the first
    // index could not, so each lookup scanned the pipe's whole id map).
    M::up(
        "DROP INDEX id_map_source_dn;
    CREATE INDEX id_map_source_dn_nocase ON id_map (pipe, source_dn COLLATE NOCASE);",
    ),
    // What the destination holds of each entry (see `ferrosync::mapping::Digest`), so that a change needs no
    // read of the destination entry.
    M::up("ALTER TABLE id_map ADD COLUMN digest TEXT;"),
    // The sync class that synchronized each entry, so that its delete is classified by that class once the
    // source entry is gone (NULL: recorded before this column existed).
    M::up("ALTER TABLE id_map ADD COLUMN class TEXT;"),
    // A destination rename started and not yet recorded (see IdMapping::renaming_to).
    M::up("ALTER TABLE id_map ADD COLUMN renaming_to TEXT;"),
    // Servers in a topology and the leases of the pipes they run (times in ms since the Unix epoch).
    M::up(
        "CREATE TABLE servers (name TEXT PRIMARY KEY, priority INTEGER NOT NULL, heartbeat_ms INTEGER NOT NULL,
        detail TEXT NOT NULL);
    CREATE TABLE leases (pipe TEXT PRIMARY KEY, holder TEXT, epoch INTEGER NOT NULL, expires_ms INTEGER NOT NULL);",
    ),
];

/// A store in one SQLite file. See the [module documentation](self).
pub struct SqliteBackend {
    conn: Connection,
    path: PathBuf,
}

const UPSERT_START_POINT: &str = "INSERT INTO pipe_state (pipe, start_point, updated) VALUES (?1, ?2, ?3)
     ON CONFLICT (pipe) DO UPDATE SET start_point = excluded.start_point, updated = excluded.updated";
const BUMP_GENERATION: &str = "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'";

impl SqliteBackend {
    /// Opens (creating it, mode 0600, when missing) the database at `path`, migrated to the current schema.
    pub fn open(path: &Path) -> Result<SqliteBackend, StoreError> {
        let existed = path.exists();
        if existed {
            refuse_if_readable_by_others(path)?;
        }
        let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
        let mut conn = Connection::open(path).map_err(sql)?;
        if !existed {
            set_mode(path, 0o600)?;
        }
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        // journal_mode cannot change inside a transaction, so it is set before migrating.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migration { path: path.to_path_buf(), source })?;
        Ok(SqliteBackend { conn, path: path.to_path_buf() })
    }

    /// The connection, for the store copy (which reads every table).
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn sql_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// One id-map row by a query with two parameters; the statement is prepared once per connection (the
    /// real-time runner looks up every change's entry).
    fn id_map_row(&self, query: &str, pipe: &str, key: &str) -> Result<Option<IdMapping>, StoreError> {
        let mut stmt = self.conn.prepare_cached(query).map_err(self.sql_err())?;
        stmt.query_row([pipe, key], |r| {
            Ok(IdMapping {
                source_id: r.get(0)?,
                source_dn: r.get(1)?,
                dest_dn: r.get(2)?,
                digest: r.get(3)?,
                class: r.get(4)?,
                renaming_to: r.get(5)?,
            })
        })
        .optional()
        .map_err(self.sql_err())
    }
}

impl StoreBackend for SqliteBackend {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn seed(&mut self, builtins: &Config) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let seeded: Option<String> =
            tx.query_row("SELECT value FROM meta WHERE key = 'seeded'", [], |r| r.get(0)).optional().map_err(sql)?;
        if seeded.is_none() {
            for obj in builtins.objects() {
                insert(&tx, obj).map_err(sql)?;
            }
            tx.execute("INSERT INTO meta (key, value) VALUES ('seeded', '1')", []).map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    fn load(&mut self) -> Result<Config, StoreError> {
        load(&self.conn, &self.path)
    }

    fn generation(&mut self) -> Result<i64, StoreError> {
        let v: String = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| r.get(0))
            .map_err(self.sql_err())?;
        v.parse().map_err(|_| StoreError::Corrupt { path: self.path.clone(), reason: format!("bad generation '{v}'") })
    }

    fn update(&mut self, change: &mut dyn FnMut(&mut Config) -> bool) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let before = load(&tx, &path)?;
        let mut after = before.clone();
        if !change(&mut after) {
            // Dropping the transaction rolls it back.
            return Ok(());
        }
        if after != before {
            save_diff(&tx, &before, &after).map_err(sql)?;
            tx.execute(BUMP_GENERATION, []).map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    fn start_point(&mut self, pipe: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT start_point FROM pipe_state WHERE pipe = ?1", [pipe], |r| r.get(0))
            .optional()
            .map_err(self.sql_err())
    }

    fn write_state(&mut self, w: &StateWrite<'_>) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        if let Some(lease) = &w.lease {
            if !LeaseRow::admits(lease_row(&tx, w.pipe).map_err(sql)?.as_ref(), lease) {
                return Err(StoreError::LeaseLost {
                    pipe: w.pipe.to_string(),
                    server: lease.server.to_string(),
                    epoch: lease.epoch,
                });
            }
        }
        {
            if !w.put.is_empty() {
                let mut up = tx
                    .prepare_cached(
                        "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest, class)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (pipe, source_id) DO UPDATE SET source_dn = excluded.source_dn,
                             dest_dn = excluded.dest_dn, digest = excluded.digest, class = excluded.class,
                             renaming_to = CASE WHEN renaming_to = excluded.dest_dn COLLATE NOCASE
                                 OR renaming_to = dest_dn COLLATE NOCASE THEN NULL ELSE renaming_to END",
                    )
                    .map_err(sql)?;
                for m in w.put {
                    up.execute(params![w.pipe, m.source_id, m.source_dn, m.dest_dn, m.digest, m.class]).map_err(sql)?;
                }
            }
            if !w.remove.is_empty() {
                let mut del =
                    tx.prepare_cached("DELETE FROM id_map WHERE pipe = ?1 AND source_id = ?2").map_err(sql)?;
                for id in w.remove {
                    del.execute(params![w.pipe, id]).map_err(sql)?;
                }
            }
            if !w.provisional.is_empty() {
                let mut add = tx
                    .prepare_cached(
                        "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest, class, renaming_to)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (pipe, source_id) DO NOTHING",
                    )
                    .map_err(sql)?;
                for r in w.provisional {
                    add.execute(params![w.pipe, r.source_id, r.source_dn, r.dest_dn, r.digest, r.class, r.renaming_to])
                        .map_err(sql)?;
                }
            }
            if let Some(r) = w.rename_intent {
                let changed = tx
                    .execute(
                        "UPDATE id_map SET renaming_to = ?3 WHERE pipe = ?1 AND source_id = ?2",
                        params![w.pipe, r.source_id, r.renaming_to],
                    )
                    .map_err(sql)?;
                if changed == 0 && r.renaming_to.is_some() {
                    tx.execute(
                        "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest, class, renaming_to)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![w.pipe, r.source_id, r.source_dn, r.dest_dn, r.digest, r.class, r.renaming_to],
                    )
                    .map_err(sql)?;
                }
            }
            if let Some(sp) = w.start_point {
                tx.execute(UPSERT_START_POINT, params![w.pipe, sp, crate::util::timestamp_now()]).map_err(sql)?;
            }
            if let Some((key, value)) = w.settle {
                tx.execute("DELETE FROM server_state WHERE key = ?1 AND value = ?2", params![key, value])
                    .map_err(sql)?;
            }
            if w.bump_generation {
                tx.execute(BUMP_GENERATION, []).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    fn id_mapping(&mut self, pipe: &str, source_id: &str) -> Result<Option<IdMapping>, StoreError> {
        self.id_map_row(
            "SELECT source_id, source_dn, dest_dn, digest, class, renaming_to FROM id_map WHERE pipe = ?1 AND source_id = ?2",
            pipe,
            source_id,
        )
    }

    fn id_mapping_by_dn(&mut self, pipe: &str, source_dn: &str) -> Result<Option<IdMapping>, StoreError> {
        self.id_map_row(
            "SELECT source_id, source_dn, dest_dn, digest, class, renaming_to FROM id_map WHERE pipe = ?1 AND source_dn = ?2 COLLATE NOCASE",
            pipe,
            source_dn,
        )
    }

    fn clear_id_map(&mut self, pipe: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM id_map WHERE pipe = ?1", [pipe]).map(|_| ()).map_err(self.sql_err())
    }

    fn set_stats(&mut self, pipe: &str, stats: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO pipe_stats (pipe, stats, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (pipe) DO UPDATE SET stats = excluded.stats, updated = excluded.updated",
                params![pipe, stats, crate::util::timestamp_now()],
            )
            .map(|_| ())
            .map_err(self.sql_err())
    }

    fn all_stats(&mut self) -> Result<Vec<SavedStats>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT pipe, stats, updated FROM pipe_stats ORDER BY pipe").map_err(self.sql_err())?;
        let rows = stmt
            .query_map([], |r| Ok(SavedStats { pipe: r.get(0)?, stats: r.get(1)?, updated: r.get(2)? }))
            .map_err(self.sql_err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql_err())
    }

    fn clear_stats(&mut self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM pipe_stats", []).map(|_| ()).map_err(self.sql_err())
    }

    fn server_value(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM server_state WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.sql_err())
    }

    fn set_server_value(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let r = match value {
            Some(v) => self.conn.execute(
                "INSERT INTO server_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, v],
            ),
            None => self.conn.execute("DELETE FROM server_state WHERE key = ?1", [key]),
        };
        r.map(|_| ()).map_err(self.sql_err())
    }

    fn server_values(&mut self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // substr, not LIKE: a prefix may hold `%` or `_`.
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM server_state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")
            .map_err(self.sql_err())?;
        let rows = stmt
            .query_map([prefix], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.sql_err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql_err())
    }

    fn heartbeat(&mut self, name: &str, priority: i64, detail: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO servers (name, priority, heartbeat_ms, detail) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET priority = excluded.priority, heartbeat_ms = excluded.heartbeat_ms,
                     detail = excluded.detail",
                params![name, priority, now_ms(), detail],
            )
            .map(|_| ())
            .map_err(self.sql_err())
    }

    fn forget_server(&mut self, name: &str) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        tx.execute("DELETE FROM servers WHERE name = ?1", [name]).map_err(sql)?;
        tx.execute("UPDATE leases SET holder = NULL WHERE holder = ?1", [name]).map_err(sql)?;
        tx.commit().map_err(sql)
    }

    fn acquire_lease(&mut self, pipe: &str, server: &str, ttl: Duration) -> Result<Option<i64>, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let current = lease_row(&tx, pipe).map_err(sql)?;
        let Some(row) = LeaseRow::acquire(current.as_ref(), pipe, server, now_ms(), ms(ttl)) else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO leases (pipe, holder, epoch, expires_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (pipe) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch,
                 expires_ms = excluded.expires_ms",
            params![row.pipe, row.holder, row.epoch, row.expires_ms],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Some(row.epoch))
    }

    fn release_lease(&mut self, pipe: &str, server: &str, epoch: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE leases SET holder = NULL WHERE pipe = ?1 AND holder = ?2 AND epoch = ?3",
                params![pipe, server, epoch],
            )
            .map(|_| ())
            .map_err(self.sql_err())
    }

    fn topology(&mut self) -> Result<Topology, StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sql)?;
        let servers = {
            let mut stmt = tx
                .prepare("SELECT name, priority, heartbeat_ms, detail FROM servers ORDER BY priority, name")
                .map_err(sql)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(ServerRow { name: r.get(0)?, priority: r.get(1)?, heartbeat_ms: r.get(2)?, detail: r.get(3)? })
                })
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)?
        };
        let leases = {
            let mut stmt =
                tx.prepare("SELECT pipe, holder, epoch, expires_ms FROM leases ORDER BY pipe").map_err(sql)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(LeaseRow { pipe: r.get(0)?, holder: r.get(1)?, epoch: r.get(2)?, expires_ms: r.get(3)? })
                })
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)?
        };
        Ok(Topology { now_ms: now_ms(), servers, leases })
    }
}

/// The lease row of `pipe`, read inside the caller's transaction.
fn lease_row(conn: &Connection, pipe: &str) -> rusqlite::Result<Option<LeaseRow>> {
    conn.query_row("SELECT pipe, holder, epoch, expires_ms FROM leases WHERE pipe = ?1", [pipe], |r| {
        Ok(LeaseRow { pipe: r.get(0)?, holder: r.get(1)?, epoch: r.get(2)?, expires_ms: r.get(3)? })
    })
    .optional()
}

fn insert(conn: &Connection, obj: &ConfigObject) -> rusqlite::Result<usize> {
    let r = row_of(obj);
    conn.execute(
        "INSERT INTO objects (type, names, names_key, variant, props) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![r.type_name, r.names, r.names_key, r.variant, r.props],
    )
}

fn load(conn: &Connection, path: &Path) -> Result<Config, StoreError> {
    let sql = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let mut stmt = conn.prepare_cached("SELECT type, names, variant, props FROM objects ORDER BY id").map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, String>(3)?))
        })
        .map_err(sql)?;
    let mut objects = Vec::new();
    for row in rows {
        let (t, names, variant, props) = row.map_err(sql)?;
        objects.push(
            object_of(&t, &names, variant, &props)
                .map_err(|reason| StoreError::Corrupt { path: path.to_path_buf(), reason })?,
        );
    }
    Ok(Config::from_objects(objects))
}

fn save_diff(conn: &Connection, before: &Config, after: &Config) -> rusqlite::Result<()> {
    for change in diff(before, after) {
        match change {
            RowChange::Delete((t, key)) => {
                conn.execute("DELETE FROM objects WHERE type = ?1 AND names_key = ?2", params![t, key])?;
            }
            RowChange::Insert(o) => {
                insert(conn, o)?;
            }
            RowChange::Update(o) => {
                let r = row_of(o);
                conn.execute(
                    "UPDATE objects SET names = ?3, variant = ?4, props = ?5 WHERE type = ?1 AND names_key = ?2",
                    params![r.type_name, r.names_key, r.names, r.variant, r.props],
                )?;
            }
        }
    }
    Ok(())
}

/// The store holds sealed secrets and the id map: one that others may read, or that another user owns, is
/// refused, with the fix.
fn refuse_if_readable_by_others(path: &Path) -> Result<(), StoreError> {
    crate::private_file::check_private(path).map_err(|reason| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("{reason} (it holds the configuration's sealed secrets)"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{ServerRoot, Store};
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_store_readable_by_others_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = ServerRoot::new(dir.path());
        drop(Store::open(&root).unwrap());
        std::fs::set_permissions(root.db_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Store::open(&root).err().unwrap().to_string();
        assert!(e.contains("readable by others") && e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(root.db_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Store::open(&root).is_ok());
    }

    /// A key lost while sealed values need it is an error that says what is lost; it is never replaced.
    #[test]
    fn a_missing_key_is_not_replaced_while_values_are_sealed_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = ServerRoot::new(dir.path());
        let mut store = Store::open(&root).unwrap();
        store
            .update(|c, secrets| -> Result<(), StoreError> {
                let sealed = secrets.encrypt("bind pw")?;
                let mut objects = c.objects().to_vec();
                let t = crate::model::find_type("passphrase-provider").unwrap();
                let mut props = std::collections::BTreeMap::new();
                props.insert("obscured-value".to_string(), vec![sealed]);
                objects.push(crate::config::ConfigObject {
                    object_type: t,
                    names: vec!["pp".into()],
                    variant: Some("obscured-value".into()),
                    props,
                });
                *c = crate::config::Config::from_objects(objects);
                Ok(())
            })
            .unwrap();
        drop(store);
        std::fs::remove_file(root.key_path()).unwrap();
        let store = Store::open(&root).unwrap();
        let e = store.secrets().encrypt("x").unwrap_err().to_string();
        assert!(e.contains("missing") && e.contains("1 value(s) sealed") && e.contains("backup"), "{e}");
        assert!(!root.key_path().exists(), "no new key was made");
    }

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }

    #[test]
    fn id_map_lookups_by_dn_use_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let root = ServerRoot::new(dir.path());
        let _store = Store::open(&root).unwrap();
        let conn = Connection::open(root.db_path()).unwrap();
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT source_id FROM id_map WHERE pipe = ?1 AND source_dn = ?2 COLLATE NOCASE",
                ["p", "x"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("id_map_source_dn_nocase (pipe=? AND source_dn=?)"), "{plan}");
    }

    #[test]
    fn id_map_rows_from_before_the_class_column_have_no_class() {
        let dir = tempfile::tempdir().unwrap();
        let root = ServerRoot::new(dir.path());
        root.ensure_dirs().unwrap();
        {
            // A store at the schema before the class column, with one id map row.
            let mut conn = Connection::open(root.db_path()).unwrap();
            super::set_mode(&root.db_path(), 0o600).unwrap();
            Migrations::from_slice(&MIGRATIONS[..MIGRATIONS.len() - 2]).to_latest(&mut conn).unwrap();
            conn.execute(
                "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest) VALUES ('p', 'u1', 'uid=a', 'uid=a', NULL)",
                [],
            )
            .unwrap();
        }
        let mut store = Store::open(&root).unwrap();
        let old = store.id_mapping("p", "u1").unwrap().unwrap();
        assert_eq!(old.class, None);
        store.put_id_mappings("p", &[IdMapping { class: Some("staff".into()), ..old }]).unwrap();
        assert_eq!(store.id_mapping("p", "u1").unwrap().unwrap().class.as_deref(), Some("staff"));
    }

    #[test]
    fn new_root_has_builtins_and_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = ServerRoot::new(dir.path());
        let store = Store::open(&root).unwrap();
        let cfg = store.load().unwrap();
        assert!(cfg.get("trust-manager-provider", "Blind Trust").is_some());
        assert!(cfg.get("log-publisher", "File-Based Sync Logger").is_some());
        assert!(cfg.get("global-sync-configuration", "").is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(root.db_path()).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(root.config_dir()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        // Opening again does not seed twice.
        drop(store);
        let store = Store::open(&root).unwrap();
        assert_eq!(store.load().unwrap().all("trust-manager-provider").len(), 4);
    }
}
