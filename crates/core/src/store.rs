//! The server root and its SQLite store (`DIR/config/config.db`).
//!
//! The schema is versioned with `rusqlite_migration`; the database runs in WAL mode, so a running sync server
//! reads while dsconfig writes. Every change happens in one `BEGIN IMMEDIATE` transaction: load, change in
//! memory, write the difference, bump the generation counter (which the sync server watches), commit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use crate::config::{Config, ConfigObject};
use crate::error::StoreError;
use crate::model::find_type;
use crate::secret::SecretBox;

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
];

/// The folder that holds `config/` and `logs/`, as `<server-root>` in Ping's docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRoot {
    path: PathBuf,
}

impl ServerRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ServerRoot { path: path.into() }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn config_dir(&self) -> PathBuf {
        self.path.join("config")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.path.join("logs")
    }
    pub fn db_path(&self) -> PathBuf {
        self.config_dir().join("config.db")
    }
    pub fn key_path(&self) -> PathBuf {
        self.config_dir().join("encryption.key")
    }
    /// A path from the configuration: absolute as is, relative below the server root.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.path.join(p)
        }
    }

    /// Makes `config/` (mode 0700) and `logs/` (mode 0700) when missing.
    pub fn ensure_dirs(&self) -> Result<(), StoreError> {
        for dir in [self.config_dir(), self.logs_dir()] {
            if !dir.is_dir() {
                std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
                    action: "create the folder",
                    path: dir.clone(),
                    source,
                })?;
                set_mode(&dir, 0o700)?;
            }
        }
        Ok(())
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| StoreError::Io {
            action: "set the permissions of",
            path: path.to_path_buf(),
            source,
        })?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// An open configuration store.
pub struct Store {
    conn: Connection,
    root: ServerRoot,
    secrets: SecretBox,
}

impl Store {
    /// Opens (creating when needed) the store under `root`, migrated to the current schema and holding the
    /// built-in objects.
    pub fn open(root: &ServerRoot) -> Result<Store, StoreError> {
        root.ensure_dirs()?;
        let path = root.db_path();
        let existed = path.exists();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let mut conn = Connection::open(&path).map_err(sql)?;
        if !existed {
            set_mode(&path, 0o600)?;
        }
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        // journal_mode cannot change inside a transaction, so it is set before migrating.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migration { path: path.clone(), source })?;
        let mut store = Store { conn, root: root.clone(), secrets: SecretBox::new(root.key_path()) };
        store.seed_builtins()?;
        Ok(store)
    }

    pub fn root(&self) -> &ServerRoot {
        &self.root
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    fn sql_err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite { path: self.root.db_path(), source }
    }

    fn seed_builtins(&mut self) -> Result<(), StoreError> {
        let path = self.root.db_path();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let seeded: Option<String> =
            tx.query_row("SELECT value FROM meta WHERE key = 'seeded'", [], |r| r.get(0)).optional().map_err(sql)?;
        if seeded.is_none() {
            for obj in Config::builtin().objects() {
                insert(&tx, obj).map_err(sql)?;
            }
            tx.execute("INSERT INTO meta (key, value) VALUES ('seeded', '1')", []).map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// The whole configuration as it is now.
    pub fn load(&self) -> Result<Config, StoreError> {
        load(&self.conn, &self.root.db_path())
    }

    /// A counter that grows with every committed change; the sync server polls it to reload.
    pub fn generation(&self) -> Result<i64, StoreError> {
        let v: String = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| r.get(0))
            .map_err(self.sql_err())?;
        v.parse()
            .map_err(|_| StoreError::Corrupt { path: self.root.db_path(), reason: format!("bad generation '{v}'") })
    }

    /// Runs `change` on the current configuration inside one immediate transaction. When it returns `Ok`, the
    /// difference is written and committed; when it returns `Err`, nothing is written.
    pub fn update<T, E>(&mut self, change: impl FnOnce(&mut Config, &SecretBox) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let path = self.root.db_path();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        let before = load(&tx, &path)?;
        let mut after = before.clone();
        let out = change(&mut after, &self.secrets)?;
        if after != before {
            save_diff(&tx, &before, &after).map_err(sql)?;
            tx.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'", [])
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(out)
    }
}

/// The prefix of the `server_state` keys that hold start point requests (see [`Store::request_start_point`]).
const START_POINT_REQUEST: &str = "start-point-request:";

/// Where a source entry was synchronized to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMapping {
    pub source_id: String,
    pub source_dn: String,
    pub dest_dn: String,
    /// The digest of what the destination entry holds, as last written (`None`: unknown, read it).
    pub digest: Option<String>,
    /// The sync class that synchronized the entry (`None`: recorded by a ferrosync that did not keep it).
    pub class: Option<String>,
}

/// The sync state kept beside the configuration: start points, the id map and the server's counters.
impl Store {
    /// The saved start point of a pipe.
    pub fn start_point(&self, pipe: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT start_point FROM pipe_state WHERE pipe = ?1", [pipe], |r| r.get(0))
            .optional()
            .map_err(self.sql_err())
    }

    /// Saves a pipe's start point durably and bumps the generation, so a running server picks it up.
    pub fn set_start_point(&mut self, pipe: &str, start_point: &str) -> Result<(), StoreError> {
        let path = self.root.db_path();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        tx.execute(
            "INSERT INTO pipe_state (pipe, start_point, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT (pipe) DO UPDATE SET start_point = excluded.start_point, updated = excluded.updated",
            params![pipe, start_point, crate::util::timestamp_now()],
        )
        .map_err(sql)?;
        tx.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'", []).map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Asks the running sync server to move pipe `pipe` to `start_point`: the server stops the pipe (its
    /// changes in flight are finished and saved), saves the requested start point, removes the request and
    /// starts the pipe again. A pipe that saves its own position while running would overwrite a start point
    /// written directly ([`Store::set_start_point`] is for a server that is not running).
    pub fn request_start_point(&self, pipe: &str, start_point: &str) -> Result<(), StoreError> {
        self.set_server_value(&format!("{START_POINT_REQUEST}{pipe}"), Some(start_point))
    }

    /// Whether a start point request for `pipe` still waits for the server.
    pub fn start_point_requested(&self, pipe: &str) -> Result<Option<String>, StoreError> {
        self.server_value(&format!("{START_POINT_REQUEST}{pipe}"))
    }

    /// The start point requests that wait: (pipe, start point).
    pub fn start_point_requests(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM server_state WHERE key LIKE 'start-point-request:%' ORDER BY key")
            .map_err(self.sql_err())?;
        let rows =
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(self.sql_err())?;
        let mut out = Vec::new();
        for row in rows {
            let (key, value) = row.map_err(self.sql_err())?;
            if let Some(pipe) = key.strip_prefix(START_POINT_REQUEST) {
                out.push((pipe.to_string(), value));
            }
        }
        Ok(out)
    }

    /// Saves the requested start point of `pipe` and removes the request, in one transaction (the generation is
    /// not bumped: the server applying it restarts that pipe alone). A request replaced meanwhile by a newer one
    /// is kept for the next round.
    pub fn apply_start_point_request(&mut self, pipe: &str, start_point: &str) -> Result<(), StoreError> {
        let path = self.root.db_path();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        tx.execute(
            "INSERT INTO pipe_state (pipe, start_point, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT (pipe) DO UPDATE SET start_point = excluded.start_point, updated = excluded.updated",
            params![pipe, start_point, crate::util::timestamp_now()],
        )
        .map_err(sql)?;
        tx.execute(
            "DELETE FROM server_state WHERE key = ?1 AND value = ?2",
            params![format!("{START_POINT_REQUEST}{pipe}"), start_point],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Records that changes were applied: the new start point and the id map updates, in one transaction, so a
    /// crash never separates them. The generation is not bumped (this is the server's own progress).
    pub fn record_progress(
        &mut self,
        pipe: &str,
        start_point: &str,
        put: &[IdMapping],
        remove: &[String],
    ) -> Result<(), StoreError> {
        self.update_id_map(pipe, put, remove, Some(start_point))
    }

    /// Records where source entries were synchronized to (resync does, so that real-time sync that follows
    /// finds renamed entries).
    pub fn put_id_mappings(&mut self, pipe: &str, put: &[IdMapping]) -> Result<(), StoreError> {
        self.update_id_map(pipe, put, &[], None)
    }

    /// Puts and removes id map records, and saves the start point when given, in one transaction.
    fn update_id_map(
        &mut self,
        pipe: &str,
        put: &[IdMapping],
        remove: &[String],
        start_point: Option<&str>,
    ) -> Result<(), StoreError> {
        let path = self.root.db_path();
        let sql = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        {
            let mut up = tx
                .prepare_cached(
                    "INSERT INTO id_map (pipe, source_id, source_dn, dest_dn, digest, class)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (pipe, source_id) DO UPDATE SET source_dn = excluded.source_dn,
                         dest_dn = excluded.dest_dn, digest = excluded.digest, class = excluded.class",
                )
                .map_err(sql)?;
            for m in put {
                up.execute(params![pipe, m.source_id, m.source_dn, m.dest_dn, m.digest, m.class]).map_err(sql)?;
            }
            let mut del = tx.prepare_cached("DELETE FROM id_map WHERE pipe = ?1 AND source_id = ?2").map_err(sql)?;
            for id in remove {
                del.execute(params![pipe, id]).map_err(sql)?;
            }
            if let Some(sp) = start_point {
                tx.execute(
                    "INSERT INTO pipe_state (pipe, start_point, updated) VALUES (?1, ?2, ?3)
                     ON CONFLICT (pipe) DO UPDATE SET start_point = excluded.start_point, updated = excluded.updated",
                    params![pipe, sp, crate::util::timestamp_now()],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Where the source entry with unique id `source_id` was synchronized to.
    pub fn id_mapping(&self, pipe: &str, source_id: &str) -> Result<Option<IdMapping>, StoreError> {
        self.id_map_row(
            "SELECT source_id, source_dn, dest_dn, digest, class FROM id_map WHERE pipe = ?1 AND source_id = ?2",
            pipe,
            source_id,
        )
    }

    /// The mapping recorded for a source DN (compared without case), for logs that give no unique id.
    pub fn id_mapping_by_dn(&self, pipe: &str, source_dn: &str) -> Result<Option<IdMapping>, StoreError> {
        self.id_map_row(
            "SELECT source_id, source_dn, dest_dn, digest, class FROM id_map WHERE pipe = ?1 AND source_dn = ?2 COLLATE NOCASE",
            pipe,
            source_dn,
        )
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
            })
        })
        .optional()
        .map_err(self.sql_err())
    }

    /// Forgets a pipe's id map (after a new start point, entries are found by correlation again).
    pub fn clear_id_map(&mut self, pipe: &str) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM id_map WHERE pipe = ?1", [pipe]).map(|_| ()).map_err(self.sql_err())
    }

    /// Saves a pipe's counters (JSON) for `status`.
    pub fn set_stats(&self, pipe: &str, stats: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO pipe_stats (pipe, stats, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (pipe) DO UPDATE SET stats = excluded.stats, updated = excluded.updated",
                params![pipe, stats, crate::util::timestamp_now()],
            )
            .map(|_| ())
            .map_err(self.sql_err())
    }

    /// Every pipe's saved counters: (pipe, JSON, when).
    pub fn all_stats(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT pipe, stats, updated FROM pipe_stats ORDER BY pipe").map_err(self.sql_err())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(self.sql_err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql_err())
    }

    /// Removes the counters of pipes that no longer run.
    pub fn clear_stats(&self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM pipe_stats", []).map(|_| ()).map_err(self.sql_err())
    }

    /// A value of the running server's state (such as its pid).
    pub fn server_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM server_state WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.sql_err())
    }

    pub fn set_server_value(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let r = match value {
            Some(v) => self.conn.execute(
                "INSERT INTO server_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, v],
            ),
            None => self.conn.execute("DELETE FROM server_state WHERE key = ?1", [key]),
        };
        r.map(|_| ()).map_err(self.sql_err())
    }
}

fn key_of(obj: &ConfigObject) -> (String, String) {
    let lower: Vec<String> = obj.names.iter().map(|n| n.to_lowercase()).collect();
    (obj.object_type.name.to_string(), serde_json::to_string(&lower).unwrap_or_default())
}

fn insert(conn: &Connection, obj: &ConfigObject) -> rusqlite::Result<usize> {
    let (t, names_key) = key_of(obj);
    conn.execute(
        "INSERT INTO objects (type, names, names_key, variant, props) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            t,
            serde_json::to_string(&obj.names).unwrap_or_default(),
            names_key,
            obj.variant,
            serde_json::to_string(&obj.props).unwrap_or_default()
        ],
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
        let corrupt = |reason: String| StoreError::Corrupt { path: path.to_path_buf(), reason };
        let object_type = find_type(&t)
            .ok_or_else(|| corrupt(format!("unknown object type '{t}' (written by a newer ferrosync?)")))?;
        let names: Vec<String> = serde_json::from_str(&names).map_err(|e| corrupt(format!("names of a {t}: {e}")))?;
        let props: BTreeMap<String, Vec<String>> =
            serde_json::from_str(&props).map_err(|e| corrupt(format!("properties of a {t}: {e}")))?;
        objects.push(ConfigObject { object_type, names, variant, props });
    }
    Ok(Config::from_objects(objects))
}

fn save_diff(conn: &Connection, before: &Config, after: &Config) -> rusqlite::Result<()> {
    let old: BTreeMap<(String, String), &ConfigObject> = before.objects().iter().map(|o| (key_of(o), o)).collect();
    let new: std::collections::BTreeSet<(String, String)> = after.objects().iter().map(key_of).collect();
    for k in old.keys().filter(|k| !new.contains(*k)) {
        conn.execute("DELETE FROM objects WHERE type = ?1 AND names_key = ?2", params![k.0, k.1])?;
    }
    for o in after.objects() {
        let k = key_of(o);
        match old.get(&k) {
            None => {
                insert(conn, o)?;
            }
            Some(prev) if *prev != o => {
                conn.execute(
                    "UPDATE objects SET names = ?3, variant = ?4, props = ?5 WHERE type = ?1 AND names_key = ?2",
                    params![
                        k.0,
                        k.1,
                        serde_json::to_string(&o.names).unwrap_or_default(),
                        o.variant,
                        serde_json::to_string(&o.props).unwrap_or_default()
                    ],
                )?;
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A running pipe's writes to the store, made on a thread of their own: a write may wait for SQLite (a WAL
/// checkpoint syncs to disk), and the pipe must not stop applying changes meanwhile. Writes are made in the
/// order they are sent. Reads go through another connection ([`Store::open`]): in WAL mode they see the last
/// committed write and never wait for one.
pub struct StoreWriter {
    tx: std::sync::mpsc::Sender<WriteJob>,
}

enum WriteJob {
    Progress {
        pipe: String,
        start_point: String,
        put: Vec<IdMapping>,
        remove: Vec<String>,
        done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    },
    Stats {
        pipe: String,
        stats: String,
    },
}

impl StoreWriter {
    /// Starts the writer thread on `store`'s connection. The thread ends when the writer is dropped, after the
    /// writes sent before.
    pub fn start(mut store: Store) -> StoreWriter {
        let (tx, rx) = std::sync::mpsc::channel::<WriteJob>();
        std::thread::spawn(move || {
            for job in rx {
                match job {
                    WriteJob::Progress { pipe, start_point, put, remove, done } => {
                        let _ = done.send(store.record_progress(&pipe, &start_point, &put, &remove));
                    }
                    WriteJob::Stats { pipe, stats } => {
                        // Counters for `status`: the next ones follow shortly.
                        let _ = store.set_stats(&pipe, &stats);
                    }
                }
            }
        });
        StoreWriter { tx }
    }

    /// Sends [`Store::record_progress`]; the receiver gets its result once it is committed.
    pub fn record_progress(
        &self,
        pipe: &str,
        start_point: &str,
        put: Vec<IdMapping>,
        remove: Vec<String>,
    ) -> tokio::sync::oneshot::Receiver<Result<(), StoreError>> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let job =
            WriteJob::Progress { pipe: pipe.to_string(), start_point: start_point.to_string(), put, remove, done };
        // A writer thread that is gone drops `done`: the receiver then reports the write as lost.
        let _ = self.tx.send(job);
        rx
    }

    /// Sends [`Store::set_stats`], without waiting for it.
    pub fn set_stats(&self, pipe: &str, stats: &str) {
        let _ = self.tx.send(WriteJob::Stats { pipe: pipe.to_string(), stats: stats.to_string() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }

    #[test]
    fn id_map_lookups_by_dn_ignore_case_and_use_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&ServerRoot::new(dir.path())).unwrap();
        let m = IdMapping {
            source_id: "u1".into(),
            source_dn: "uid=Alice,ou=People,dc=example,dc=com".into(),
            dest_dn: "uid=alice,ou=people,dc=example,dc=net".into(),
            digest: Some("d1 cn:0123456789abcdef".into()),
            class: Some("people".into()),
        };
        store.put_id_mappings("p", std::slice::from_ref(&m)).unwrap();
        let found = store.id_mapping_by_dn("p", "UID=alice,OU=people,DC=EXAMPLE,DC=com").unwrap();
        assert_eq!(found.as_ref(), Some(&m));
        assert_eq!(store.id_mapping("p", "u1").unwrap().as_ref(), Some(&m));
        // A put replaces the digest too (a change made by someone else forgets it).
        let forgotten = IdMapping { digest: None, ..m.clone() };
        store.put_id_mappings("p", std::slice::from_ref(&forgotten)).unwrap();
        assert_eq!(store.id_mapping("p", "u1").unwrap(), Some(forgotten));
        assert!(store.id_mapping_by_dn("other", &m.source_dn).unwrap().is_none());
        let plan: String = store
            .conn
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
            Migrations::from_slice(&MIGRATIONS[..MIGRATIONS.len() - 1]).to_latest(&mut conn).unwrap();
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
