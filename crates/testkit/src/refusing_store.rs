//! [`RefusingStore`]: a store backend (SQLite underneath) whose writes of sync state fail while it is told to
//! refuse them, as a store on a full disk fails: a pipe's progress, id-map updates and rename marks are
//! refused; reads and configuration writes go through.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrosync::config::Config;
use ferrosync::error::StoreError;
use ferrosync::store::{IdMapping, SavedStats, SqliteBackend, StateWrite, StoreBackend, Topology};

/// Whether the store refuses writes now, and how many it refused (clones share both).
#[derive(Clone, Default)]
pub struct Refusal {
    refusing: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
}

impl Refusal {
    /// Refuses (`true`) or takes (`false`) the writes that follow.
    pub fn set(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    /// The writes refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

/// See the [module documentation](self).
pub struct RefusingStore {
    inner: SqliteBackend,
    path: PathBuf,
    refusal: Refusal,
}

impl RefusingStore {
    pub fn open(path: PathBuf, refusal: Refusal) -> Result<RefusingStore, StoreError> {
        Ok(RefusingStore { inner: SqliteBackend::open(&path)?, path, refusal })
    }

    fn refuse(&self) -> Result<(), StoreError> {
        if self.refusal.refusing.load(Ordering::SeqCst) {
            self.refusal.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Io {
                action: "write",
                path: self.path.clone(),
                source: std::io::Error::from_raw_os_error(28), // ENOSPC: No space left on device
            });
        }
        Ok(())
    }
}

impl StoreBackend for RefusingStore {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn seed(&mut self, builtins: &Config) -> Result<(), StoreError> {
        self.inner.seed(builtins)
    }
    fn load(&mut self) -> Result<Config, StoreError> {
        self.inner.load()
    }
    fn generation(&mut self) -> Result<i64, StoreError> {
        self.inner.generation()
    }
    fn update(&mut self, change: &mut dyn FnMut(&mut Config) -> bool) -> Result<(), StoreError> {
        self.inner.update(change)
    }
    fn start_point(&mut self, pipe: &str) -> Result<Option<String>, StoreError> {
        self.inner.start_point(pipe)
    }
    fn write_state(&mut self, write: &StateWrite<'_>) -> Result<(), StoreError> {
        self.refuse()?;
        self.inner.write_state(write)
    }
    fn id_mapping(&mut self, pipe: &str, source_id: &str) -> Result<Option<IdMapping>, StoreError> {
        self.inner.id_mapping(pipe, source_id)
    }
    fn id_mapping_by_dn(&mut self, pipe: &str, source_dn: &str) -> Result<Option<IdMapping>, StoreError> {
        self.inner.id_mapping_by_dn(pipe, source_dn)
    }
    fn clear_id_map(&mut self, pipe: &str) -> Result<(), StoreError> {
        self.inner.clear_id_map(pipe)
    }
    fn set_stats(&mut self, pipe: &str, stats: &str) -> Result<(), StoreError> {
        self.refuse()?;
        self.inner.set_stats(pipe, stats)
    }
    fn all_stats(&mut self) -> Result<Vec<SavedStats>, StoreError> {
        self.inner.all_stats()
    }
    fn clear_stats(&mut self) -> Result<(), StoreError> {
        self.inner.clear_stats()
    }
    fn server_value(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.server_value(key)
    }
    fn set_server_value(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        self.inner.set_server_value(key, value)
    }
    fn server_values(&mut self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.server_values(prefix)
    }
    fn heartbeat(&mut self, name: &str, priority: i64, detail: &str) -> Result<(), StoreError> {
        self.inner.heartbeat(name, priority, detail)
    }
    fn forget_server(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.forget_server(name)
    }
    fn acquire_lease(&mut self, pipe: &str, server: &str, ttl: Duration) -> Result<Option<i64>, StoreError> {
        self.inner.acquire_lease(pipe, server, ttl)
    }
    fn release_lease(&mut self, pipe: &str, server: &str, epoch: i64) -> Result<(), StoreError> {
        self.inner.release_lease(pipe, server, epoch)
    }
    fn topology(&mut self) -> Result<Topology, StoreError> {
        self.inner.topology()
    }
}
