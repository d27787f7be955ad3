//! The server's store: its configuration and its sync state (where each pipe resumes, which destination entry
//! each source entry went to with a digest of what it holds and the class that synchronized it, the running
//! server's counters and values).
//!
//! [`Store`] is what the engine and the tools use; where the data lives is a [`StoreBackend`]: SQLite under the
//! server root ([`SqliteBackend`], `DIR/config/config.db`, the embedded default), a PostgreSQL database
//! ([`PostgresBackend`], which several servers can share), or memory ([`MemoryBackend`], for library callers and
//! tests). A server root's [`StoreLocation`] says which ([`ServerRoot::with_store`], else `DIR/config/store`,
//! else SQLite); [`Store::open`] opens it. Every backend keeps the contract written on the trait's methods;
//! `crates/testkit`'s `store_contract` checks it, and runs against each backend. [`copy_sqlite_to_postgres`]
//! moves a server root's SQLite store into PostgreSQL.
//!
//! The secrets key (`DIR/config/encryption.key`) and the logs stay under the server root whatever the backend:
//! every server that shares a PostgreSQL store needs the same key file, since the configuration's secrets are
//! sealed with it.

mod copy;
mod location;
mod memory;
mod objects;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use copy::{copy_sqlite_to_postgres, CopyReport};
pub use location::{mask_password, PostgresUrl, SslMode, StoreLocation, STORE_FILE};
pub use memory::MemoryBackend;
pub use postgres::{connect_client, PostgresBackend};
pub use sqlite::SqliteBackend;

use crate::config::Config;
use crate::error::StoreError;
use crate::secret::SecretBox;

/// The folder that holds `config/` and `logs/`, as `<server-root>` in Ping's docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRoot {
    path: PathBuf,
    /// The store chosen for this root (`--store`, `FERROSYNC_STORE`); `None`: `config/store`, else SQLite.
    store: Option<StoreLocation>,
}

impl ServerRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ServerRoot { path: path.into(), store: None }
    }
    /// This root with its data in `store` (whatever `config/store` says).
    pub fn with_store(mut self, store: StoreLocation) -> Self {
        self.store = Some(store);
        self
    }
    /// Where this root's data lives: the store it was given, else the one `config/store` names, else SQLite.
    pub fn store(&self) -> Result<StoreLocation, StoreError> {
        if let Some(store) = &self.store {
            return Ok(store.clone());
        }
        match location::read_store_file(&self.config_dir())? {
            Some(text) => StoreLocation::parse(&text).map_err(|e| match e {
                StoreError::Url { url, reason } => StoreError::Url {
                    url,
                    reason: format!("{reason} (named in {})", self.config_dir().join(STORE_FILE).display()),
                },
                other => other,
            }),
            None => Ok(StoreLocation::Sqlite),
        }
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

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
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
    /// A rename of the destination entry to this DN was started and its outcome is not recorded yet: the pipe
    /// may have been killed between the rename and its record, so this is where the entry is when `dest_dn`
    /// is gone. Set and cleared by [`StateWrite::rename_intent`]; a put keeps it, unless the put records the
    /// entry at this very DN (the rename's own record). A put's own value is not used. Equal to `dest_dn`: a
    /// create of the destination entry was under way (see [`IdMapping::creating`]); any put ends that mark.
    pub renaming_to: Option<String>,
}

impl IdMapping {
    /// This record as the journal puts it down before a create of its destination entry (a provisional
    /// record, see [`StateWrite::provisional`]): a write that puts the entry at `dest_dn` is under way, as a
    /// rename's mark says (`renaming_to` set to `dest_dn` itself). The create's own record ends the mark.
    pub fn before_create(self) -> IdMapping {
        IdMapping { renaming_to: Some(self.dest_dn.clone()), ..self }
    }

    /// Whether this record was put down before a create whose outcome was never recorded
    /// ([`IdMapping::before_create`]): the entry may not exist at the destination, and the pipe has not
    /// synchronized it for sure.
    pub fn creating(&self) -> bool {
        self.renaming_to.as_deref().is_some_and(|to| to.eq_ignore_ascii_case(&self.dest_dn))
    }

    /// Where a rename under way (not a create, see [`IdMapping::creating`]) takes the destination entry.
    pub fn rename_target(&self) -> Option<&str> {
        self.renaming_to.as_deref().filter(|_| !self.creating())
    }

    /// Whether a put of `put` ends the mark in this record's `renaming_to`: a create's mark always; a rename's
    /// when the put records the entry at that DN (compared without ASCII case, as every backend can compare it).
    pub fn put_ends_mark(&self, put: &IdMapping) -> bool {
        self.creating() || self.renaming_to.as_deref().is_some_and(|to| to.eq_ignore_ascii_case(&put.dest_dn))
    }
}

/// One write to a pipe's sync state, made by [`StoreBackend::write_state`] in one transaction: all of it or
/// none of it, so a crash never separates a start point from the id-map records of the changes before it.
#[derive(Clone, Copy, Debug, Default)]
pub struct StateWrite<'a> {
    pub pipe: &'a str,
    /// The pipe's new start point (`None`: unchanged).
    pub start_point: Option<&'a str>,
    /// Id-map records to add or replace (by source id).
    pub put: &'a [IdMapping],
    /// Source ids whose records go.
    pub remove: &'a [String],
    /// A rename of a record's destination entry, about to be made (`renaming_to` set) or refused (`None`: the
    /// mark is cleared): the record's `renaming_to` is set to it. A record the id map does not hold yet (an
    /// entry that resync or correlation found) is added whole when a rename is about to be made.
    pub rename_intent: Option<&'a IdMapping>,
    /// Records added only where the id map holds none for their source id: the entries of creates about to be
    /// made, so that a delete finds what the pipe created should it stop before the create is recorded. A
    /// record the id map holds already is left as it is.
    pub provisional: &'a [IdMapping],
    /// A server value `(key, value)` to remove if it still holds `value` (a start point request once applied;
    /// a newer request made meanwhile stays).
    pub settle: Option<(&'a str, &'a str)>,
    /// Whether to bump the generation, so that a running server notices (a start point set from outside).
    pub bump_generation: bool,
    /// The pipe's lease this write is made under (servers in a topology): the write is refused with
    /// [`StoreError::LeaseLost`], and nothing of it made, unless the lease still has this holder and epoch. So a
    /// server that lost its lease (paused, cut off) can never move a start point that another server now owns.
    pub lease: Option<Lease<'a>>,
}

/// A pipe's lease as a server holds it: see [`StateWrite::lease`] and [`StoreBackend::acquire_lease`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease<'a> {
    pub server: &'a str,
    pub epoch: i64,
}

/// A pipe's lease as the store holds it: who runs the pipe, since which epoch, and until when (milliseconds
/// since the Unix epoch, by the store's clock) unless renewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    pub pipe: String,
    /// `None`: released; the next server to acquire it takes the next epoch.
    pub holder: Option<String>,
    /// Grows by one each time another server takes the lease (never for a renewal).
    pub epoch: i64,
    pub expires_ms: i64,
}

impl LeaseRow {
    /// What `server` acquiring (or renewing) the lease of `pipe` at `now_ms` leaves in the store, from what it
    /// holds now (`current`); `None`: another server holds a lease that has not expired, nothing changes.
    /// The one decision every backend makes, inside its transaction, with its own clock.
    pub fn acquire(current: Option<&LeaseRow>, pipe: &str, server: &str, now_ms: i64, ttl_ms: i64) -> Option<LeaseRow> {
        let expires_ms = now_ms.saturating_add(ttl_ms);
        let holder = Some(server.to_string());
        match current {
            None => Some(LeaseRow { pipe: pipe.to_string(), holder, epoch: 1, expires_ms }),
            // Its own lease: renewed in the same epoch, even after it expired, since nobody took it meanwhile.
            Some(c) if c.holder.as_deref() == Some(server) => Some(LeaseRow { expires_ms, ..c.clone() }),
            Some(c) if c.holder.is_none() || c.expires_ms <= now_ms => {
                Some(LeaseRow { pipe: pipe.to_string(), holder, epoch: c.epoch.saturating_add(1), expires_ms })
            }
            Some(_) => None,
        }
    }

    /// Whether a write under `lease` may be made while the store holds this row.
    pub fn admits(row: Option<&LeaseRow>, lease: &Lease<'_>) -> bool {
        row.is_some_and(|r| r.holder.as_deref() == Some(lease.server) && r.epoch == lease.epoch)
    }
}

/// A server of a topology, as it last registered itself (see [`StoreBackend::heartbeat`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRow {
    pub name: String,
    /// Ping's `sync-server-priority-index`: the lower, the more preferred.
    pub priority: i64,
    /// Its last heartbeat, in milliseconds since the Unix epoch by the store's clock.
    pub heartbeat_ms: i64,
    /// Free text the server gives (host, pid, version) for `status`.
    pub detail: String,
}

/// The servers and leases of a topology, with the store's clock when they were read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub now_ms: i64,
    pub servers: Vec<ServerRow>,
    pub leases: Vec<LeaseRow>,
}

/// A pipe's saved counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedStats {
    pub pipe: String,
    /// The counters, as JSON.
    pub stats: String,
    /// When they were saved (RFC 3339, UTC).
    pub updated: String,
}

/// Where a [`Store`] keeps its data. Each method is one transaction; a value written by one handle is read by
/// every handle opened on the same store once the write has returned. Handles are used from one thread at a
/// time ([`Store`] serializes them) but move between threads.
pub trait StoreBackend: Send {
    /// Where the data lives, for messages: a path, or a URL without its password.
    fn location(&self) -> String;

    /// Adds `builtins` to the configuration unless this store was seeded before: once per store, ever, so a
    /// built-in object an operator deleted stays deleted.
    fn seed(&mut self, builtins: &Config) -> Result<(), StoreError>;

    /// The whole configuration as it is now, objects in the order they were created.
    fn load(&mut self) -> Result<Config, StoreError>;

    /// A counter that grows with every committed configuration change and every bumping [`StateWrite`].
    fn generation(&mut self) -> Result<i64, StoreError>;

    /// Reads the configuration in a transaction that excludes every other writer and lets `change` edit a copy.
    /// When `change` returns `true` and the copy differs, the difference is written and the generation bumped,
    /// in that transaction; otherwise nothing is written.
    fn update(&mut self, change: &mut dyn FnMut(&mut Config) -> bool) -> Result<(), StoreError>;

    /// The saved start point of a pipe.
    fn start_point(&mut self, pipe: &str) -> Result<Option<String>, StoreError>;

    /// Makes `write` in one transaction.
    fn write_state(&mut self, write: &StateWrite<'_>) -> Result<(), StoreError>;

    /// The record of the source entry with unique id `source_id`.
    fn id_mapping(&mut self, pipe: &str, source_id: &str) -> Result<Option<IdMapping>, StoreError>;

    /// The record of a source DN, compared without ASCII case (for change logs that give no unique id).
    fn id_mapping_by_dn(&mut self, pipe: &str, source_dn: &str) -> Result<Option<IdMapping>, StoreError>;

    /// Forgets a pipe's id map.
    fn clear_id_map(&mut self, pipe: &str) -> Result<(), StoreError>;

    /// Saves a pipe's counters (JSON), stamped with the time.
    fn set_stats(&mut self, pipe: &str, stats: &str) -> Result<(), StoreError>;

    /// Every pipe's saved counters, by pipe name.
    fn all_stats(&mut self) -> Result<Vec<SavedStats>, StoreError>;

    /// Removes every pipe's counters.
    fn clear_stats(&mut self) -> Result<(), StoreError>;

    /// A value of the running server's state (such as its pid).
    fn server_value(&mut self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets (`Some`) or removes (`None`) a server value.
    fn set_server_value(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError>;

    /// The server values whose key starts with `prefix`, by key.
    fn server_values(&mut self, prefix: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Registers server `name` of a topology, or renews its registration, stamped with the store's clock.
    fn heartbeat(&mut self, name: &str, priority: i64, detail: &str) -> Result<(), StoreError>;

    /// Removes server `name` from the topology (a server that stops cleanly), with the leases it holds, which are
    /// released.
    fn forget_server(&mut self, name: &str) -> Result<(), StoreError>;

    /// Acquires or renews the lease of `pipe` for `server` for `ttl` by the store's clock, in one transaction
    /// (see [`LeaseRow::acquire`]): the epoch it holds, or `None` while another server holds it.
    fn acquire_lease(&mut self, pipe: &str, server: &str, ttl: Duration) -> Result<Option<i64>, StoreError>;

    /// Releases the lease of `pipe` if `server` still holds it in `epoch`.
    fn release_lease(&mut self, pipe: &str, server: &str, epoch: i64) -> Result<(), StoreError>;

    /// The servers and leases, read in one transaction.
    fn topology(&mut self) -> Result<Topology, StoreError>;
}

/// Milliseconds since the Unix epoch by this machine's clock: the store clock of the embedded backends.
pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A duration in whole milliseconds, for lease expiries.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The prefix of the server values that hold start point requests (see [`Store::request_start_point`]).
const START_POINT_REQUEST: &str = "start-point-request:";
/// The alert of a pipe whose mass-delete guard holds its deletes, by pipe (lower case).
const DELETES_HELD: &str = "mass-delete-held:";
/// An operator's release of a pipe's held deletes, waiting for the pipe, by pipe (lower case).
const DELETES_RELEASE: &str = "mass-delete-release:";

/// An open store: the server root, its secrets, and the backend that holds the data.
pub struct Store {
    root: ServerRoot,
    secrets: SecretBox,
    backend: Mutex<Box<dyn StoreBackend>>,
    /// The pipe lease (server, epoch) every state write of this handle is made under (servers in a topology):
    /// see [`StateWrite::lease`].
    lease: Option<(String, i64)>,
}

impl Store {
    /// Opens (creating when needed) the store of `root` ([`ServerRoot::store`]: SQLite under the root, or a
    /// PostgreSQL database), migrated to the current schema and holding the built-in objects.
    pub fn open(root: &ServerRoot) -> Result<Store, StoreError> {
        root.ensure_dirs()?;
        let backend: Box<dyn StoreBackend> = match root.store()? {
            StoreLocation::Sqlite => Box::new(SqliteBackend::open(&root.db_path())?),
            StoreLocation::Postgres(url) => Box::new(PostgresBackend::open(&url)?),
        };
        Store::with_backend(root, backend)
    }

    /// A store under `root` (secrets key, logs) whose data lives in `backend`, seeded with the built-in objects.
    pub fn with_backend(root: &ServerRoot, mut backend: Box<dyn StoreBackend>) -> Result<Store, StoreError> {
        root.ensure_dirs()?;
        backend.seed(&Config::builtin())?;
        // A configuration with sealed values must keep its key: a missing one is an error, not replaced.
        let sealed = backend
            .load()?
            .objects()
            .iter()
            .flat_map(|o| o.props.values().flatten())
            .filter(|v| crate::secret::is_sealed(v))
            .count();
        let secrets = SecretBox::for_sealed_values(root.key_path(), sealed);
        Ok(Store { root: root.clone(), secrets, backend: Mutex::new(backend), lease: None })
    }

    pub fn root(&self) -> &ServerRoot {
        &self.root
    }

    /// This handle's state writes (start points, id map) are made under the lease `epoch` of `server`: once
    /// another server took the pipe's lease, each is refused whole ([`StoreError::LeaseLost`]).
    pub fn under_lease(mut self, server: &str, epoch: i64) -> Store {
        self.lease = Some((server.to_string(), epoch));
        self
    }

    fn lease(&self) -> Option<Lease<'_>> {
        self.lease.as_ref().map(|(server, epoch)| Lease { server, epoch: *epoch })
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.secrets
    }

    /// Where the data lives (a path or a URL), for messages.
    pub fn location(&self) -> String {
        self.backend().location()
    }

    fn backend(&self) -> MutexGuard<'_, Box<dyn StoreBackend>> {
        // A panic while a backend call was running leaves no transaction open (each call is one), so the
        // handle is still usable.
        self.backend.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The whole configuration as it is now.
    pub fn load(&self) -> Result<Config, StoreError> {
        self.backend().load()
    }

    /// A counter that grows with every committed change; the sync server polls it to reload.
    pub fn generation(&self) -> Result<i64, StoreError> {
        self.backend().generation()
    }

    /// Runs `change` on the current configuration inside one transaction that excludes other writers. When it
    /// returns `Ok`, the difference is written and committed; when it returns `Err`, nothing is written.
    pub fn update<T, E>(&mut self, change: impl FnOnce(&mut Config, &SecretBox) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let secrets = &self.secrets;
        let mut change = Some(change);
        let mut outcome: Option<Result<T, E>> = None;
        self.backend.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).update(&mut |config| {
            let Some(change) = change.take() else { return false };
            let result = change(config, secrets);
            let commit = result.is_ok();
            outcome = Some(result);
            commit
        })?;
        outcome.unwrap_or_else(|| {
            Err(StoreError::Corrupt {
                path: PathBuf::from(self.location()),
                reason: "the store's backend did not run the change".into(),
            }
            .into())
        })
    }
}

/// The sync state kept beside the configuration: start points, the id map and the server's counters.
impl Store {
    /// The saved start point of a pipe.
    pub fn start_point(&self, pipe: &str) -> Result<Option<String>, StoreError> {
        self.backend().start_point(pipe)
    }

    /// Saves a pipe's start point durably and bumps the generation, so a running server picks it up.
    pub fn set_start_point(&mut self, pipe: &str, start_point: &str) -> Result<(), StoreError> {
        self.backend().write_state(&StateWrite {
            pipe,
            start_point: Some(start_point),
            bump_generation: true,
            ..StateWrite::default()
        })
    }

    /// Asks the running sync server to move pipe `pipe` to `start_point`: the server stops the pipe (its
    /// changes in flight are finished and saved), saves the requested start point, removes the request and
    /// starts the pipe again. A pipe that saves its own position while running would overwrite a start point
    /// written directly ([`Store::set_start_point`] is for a server that is not running).
    pub fn request_start_point(&self, pipe: &str, start_point: &str) -> Result<(), StoreError> {
        self.set_server_value(&format!("{START_POINT_REQUEST}{pipe}"), Some(start_point))
    }

    /// Records that the mass-delete guard of `pipe` holds its deletes, with its alert: a pipe that starts again
    /// holds them too until they are released.
    pub fn hold_deletes(&self, pipe: &str, alert: &str) -> Result<(), StoreError> {
        self.set_server_value(&format!("{DELETES_HELD}{}", pipe.to_lowercase()), Some(alert))
    }

    /// The alert of `pipe`'s mass-delete guard while it holds deletes.
    pub fn deletes_held(&self, pipe: &str) -> Result<Option<String>, StoreError> {
        self.server_value(&format!("{DELETES_HELD}{}", pipe.to_lowercase()))
    }

    /// Every pipe whose deletes are held, with its alert (pipe names in lower case).
    pub fn all_deletes_held(&self) -> Result<Vec<(String, String)>, StoreError> {
        let found = self.backend().server_values(DELETES_HELD)?;
        Ok(found.into_iter().filter_map(|(k, v)| Some((k.strip_prefix(DELETES_HELD)?.to_string(), v))).collect())
    }

    /// Asks `pipe` to apply its held deletes (`realtime-sync release-deletes`); `at` says when, for the log.
    pub fn request_delete_release(&self, pipe: &str, at: &str) -> Result<(), StoreError> {
        self.set_server_value(&format!("{DELETES_RELEASE}{}", pipe.to_lowercase()), Some(at))
    }

    /// Whether a release of `pipe`'s held deletes waits for the pipe.
    pub fn delete_release_requested(&self, pipe: &str) -> Result<Option<String>, StoreError> {
        self.server_value(&format!("{DELETES_RELEASE}{}", pipe.to_lowercase()))
    }

    /// The pipe took the release: its deletes are no longer held.
    pub fn settle_delete_release(&self, pipe: &str) -> Result<(), StoreError> {
        self.set_server_value(&format!("{DELETES_HELD}{}", pipe.to_lowercase()), None)?;
        self.set_server_value(&format!("{DELETES_RELEASE}{}", pipe.to_lowercase()), None)
    }

    /// Whether a start point request for `pipe` still waits for the server.
    pub fn start_point_requested(&self, pipe: &str) -> Result<Option<String>, StoreError> {
        self.server_value(&format!("{START_POINT_REQUEST}{pipe}"))
    }

    /// The start point requests that wait: (pipe, start point).
    pub fn start_point_requests(&self) -> Result<Vec<(String, String)>, StoreError> {
        let found = self.backend().server_values(START_POINT_REQUEST)?;
        Ok(found
            .into_iter()
            .filter_map(|(key, value)| Some((key.strip_prefix(START_POINT_REQUEST)?.to_string(), value)))
            .collect())
    }

    /// Saves the requested start point of `pipe` and removes the request, in one transaction (the generation is
    /// not bumped: the server applying it restarts that pipe alone). A request replaced meanwhile by a newer one
    /// is kept for the next round.
    pub fn apply_start_point_request(&mut self, pipe: &str, start_point: &str) -> Result<(), StoreError> {
        let key = format!("{START_POINT_REQUEST}{pipe}");
        self.backend().write_state(&StateWrite {
            pipe,
            start_point: Some(start_point),
            settle: Some((&key, start_point)),
            ..StateWrite::default()
        })
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
        self.backend().write_state(&StateWrite {
            pipe,
            start_point: Some(start_point),
            put,
            remove,
            lease: self.lease(),
            ..StateWrite::default()
        })
    }

    /// Records where source entries were synchronized to (resync does, so that real-time sync that follows
    /// finds renamed entries).
    pub fn put_id_mappings(&mut self, pipe: &str, put: &[IdMapping]) -> Result<(), StoreError> {
        self.backend().write_state(&StateWrite { pipe, put, lease: self.lease(), ..StateWrite::default() })
    }

    /// Marks (or, with `renaming_to` `None`, unmarks) a rename of `record`'s destination entry in the id map
    /// before it is made: see [`IdMapping::renaming_to`].
    pub fn record_rename_intent(&mut self, pipe: &str, record: &IdMapping) -> Result<(), StoreError> {
        let lease = self.lease();
        self.backend().write_state(&StateWrite { pipe, rename_intent: Some(record), lease, ..StateWrite::default() })
    }

    /// Adds provisional records (see [`StateWrite::provisional`]).
    pub fn record_provisional(&mut self, pipe: &str, records: &[IdMapping]) -> Result<(), StoreError> {
        let lease = self.lease();
        self.backend().write_state(&StateWrite { pipe, provisional: records, lease, ..StateWrite::default() })
    }

    /// Where the source entry with unique id `source_id` was synchronized to.
    pub fn id_mapping(&self, pipe: &str, source_id: &str) -> Result<Option<IdMapping>, StoreError> {
        self.backend().id_mapping(pipe, source_id)
    }

    /// The mapping recorded for a source DN (compared without case), for logs that give no unique id.
    pub fn id_mapping_by_dn(&self, pipe: &str, source_dn: &str) -> Result<Option<IdMapping>, StoreError> {
        self.backend().id_mapping_by_dn(pipe, source_dn)
    }

    /// Forgets a pipe's id map (after a new start point, entries are found by correlation again).
    pub fn clear_id_map(&mut self, pipe: &str) -> Result<(), StoreError> {
        self.backend().clear_id_map(pipe)
    }

    /// Saves a pipe's counters (JSON) for `status`.
    pub fn set_stats(&self, pipe: &str, stats: &str) -> Result<(), StoreError> {
        self.backend().set_stats(pipe, stats)
    }

    /// Every pipe's saved counters: (pipe, JSON, when).
    pub fn all_stats(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(self.backend().all_stats()?.into_iter().map(|s| (s.pipe, s.stats, s.updated)).collect())
    }

    /// Removes the counters of pipes that no longer run.
    pub fn clear_stats(&self) -> Result<(), StoreError> {
        self.backend().clear_stats()
    }

    /// A value of the running server's state (such as its pid).
    pub fn server_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.backend().server_value(key)
    }

    pub fn set_server_value(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        self.backend().set_server_value(key, value)
    }

    /// Registers (or renews) this server in the store's topology. See [`StoreBackend::heartbeat`].
    pub fn heartbeat(&self, name: &str, priority: i64, detail: &str) -> Result<(), StoreError> {
        self.backend().heartbeat(name, priority, detail)
    }

    /// Takes this server out of the topology, releasing its leases.
    pub fn forget_server(&self, name: &str) -> Result<(), StoreError> {
        self.backend().forget_server(name)
    }

    /// Acquires or renews a pipe's lease. See [`StoreBackend::acquire_lease`].
    pub fn acquire_lease(&self, pipe: &str, server: &str, ttl: Duration) -> Result<Option<i64>, StoreError> {
        self.backend().acquire_lease(pipe, server, ttl)
    }

    /// Releases a pipe's lease if `server` still holds it in `epoch`.
    pub fn release_lease(&self, pipe: &str, server: &str, epoch: i64) -> Result<(), StoreError> {
        self.backend().release_lease(pipe, server, epoch)
    }

    /// The topology's servers and leases.
    pub fn topology(&self) -> Result<Topology, StoreError> {
        self.backend().topology()
    }
}

/// A running pipe's writes to the store, made on a thread of their own: a write may wait for the backend
/// (SQLite's WAL checkpoint syncs to disk, a database server answers over the network), and the pipe must not
/// stop applying changes meanwhile. Writes are made in the order they are sent. Reads go through another handle
/// ([`Store::open`]), which sees the last committed write and never waits for one.
#[derive(Clone)]
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
    RenameIntent {
        pipe: String,
        record: IdMapping,
        done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    },
    Provisional {
        pipe: String,
        record: IdMapping,
        done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    },
}

impl StoreWriter {
    /// Starts the writer thread on `store`'s connection. The thread ends when the writer is dropped, after the
    /// writes sent before.
    pub fn start(mut store: Store) -> StoreWriter {
        let (tx, rx) = std::sync::mpsc::channel::<WriteJob>();
        std::thread::spawn(move || {
            let mut next: Option<WriteJob> = None;
            while let Some(job) = next.take().or_else(|| rx.recv().ok()) {
                match job {
                    WriteJob::Progress { pipe, start_point, put, remove, done } => {
                        let _ = done.send(store.record_progress(&pipe, &start_point, &put, &remove));
                    }
                    WriteJob::RenameIntent { pipe, record, done } => {
                        let _ = done.send(store.record_rename_intent(&pipe, &record));
                    }
                    WriteJob::Provisional { pipe, record, done } => {
                        // Creates of many entries start at once: their records are written in one commit.
                        let mut records = vec![record];
                        let mut waiting = vec![done];
                        while let Ok(more) = rx.try_recv() {
                            match more {
                                WriteJob::Provisional { pipe: p, record, done } if p == pipe => {
                                    records.push(record);
                                    waiting.push(done);
                                }
                                other => {
                                    next = Some(other);
                                    break;
                                }
                            }
                        }
                        let result = store.record_provisional(&pipe, &records).map_err(std::sync::Arc::new);
                        for done in waiting {
                            let _ = done.send(result.clone().map_err(StoreError::Shared));
                        }
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

    /// Sends [`Store::record_rename_intent`] (after the writes sent before it); the receiver gets its result
    /// once it is committed.
    pub fn record_rename_intent(
        &self,
        pipe: &str,
        record: IdMapping,
    ) -> tokio::sync::oneshot::Receiver<Result<(), StoreError>> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let _ = self.tx.send(WriteJob::RenameIntent { pipe: pipe.to_string(), record, done });
        rx
    }

    /// Sends [`Store::record_provisional`] for one record (records sent together are written in one commit);
    /// the receiver gets its result once it is committed.
    pub fn record_provisional(
        &self,
        pipe: &str,
        record: IdMapping,
    ) -> tokio::sync::oneshot::Receiver<Result<(), StoreError>> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let _ = self.tx.send(WriteJob::Provisional { pipe: pipe.to_string(), record, done });
        rx
    }

    /// Sends [`Store::set_stats`], without waiting for it.
    pub fn set_stats(&self, pipe: &str, stats: &str) {
        let _ = self.tx.send(WriteJob::Stats { pipe: pipe.to_string(), stats: stats.to_string() });
    }
}
