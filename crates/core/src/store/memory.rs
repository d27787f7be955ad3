//! [`MemoryBackend`]: a store in memory, for library callers that keep no state on disk and for tests. Clones
//! share one store, as connections to one database do; the data goes with the last clone.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use super::{ms, now_ms, IdMapping, LeaseRow, SavedStats, ServerRow, StateWrite, StoreBackend, Topology};
use crate::config::Config;
use crate::error::StoreError;

/// A store in memory. See the [module documentation](self).
#[derive(Clone, Default)]
pub struct MemoryBackend {
    data: Arc<Mutex<Data>>,
}

#[derive(Default)]
struct Data {
    seeded: bool,
    config: Config,
    generation: i64,
    start_points: BTreeMap<String, String>,
    /// By pipe, then source id.
    id_map: BTreeMap<String, BTreeMap<String, IdMapping>>,
    stats: BTreeMap<String, SavedStats>,
    server: BTreeMap<String, String>,
    servers: BTreeMap<String, ServerRow>,
    leases: BTreeMap<String, LeaseRow>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        // Every method changes the data in one step after its checks, so a panic elsewhere leaves it whole.
        self.data.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl StoreBackend for MemoryBackend {
    fn location(&self) -> String {
        "memory".to_string()
    }

    fn seed(&mut self, builtins: &Config) -> Result<(), StoreError> {
        let mut d = self.data();
        if !d.seeded {
            let mut objects = d.config.objects().to_vec();
            objects.extend(builtins.objects().iter().cloned());
            d.config = Config::from_objects(objects);
            d.seeded = true;
        }
        Ok(())
    }

    fn load(&mut self) -> Result<Config, StoreError> {
        Ok(self.data().config.clone())
    }

    fn generation(&mut self) -> Result<i64, StoreError> {
        Ok(self.data().generation)
    }

    fn update(&mut self, change: &mut dyn FnMut(&mut Config) -> bool) -> Result<(), StoreError> {
        // Holding the lock while `change` runs excludes other writers, as a database transaction does.
        let mut d = self.data();
        let mut after = d.config.clone();
        if change(&mut after) && after != d.config {
            d.config = after;
            d.generation += 1;
        }
        Ok(())
    }

    fn start_point(&mut self, pipe: &str) -> Result<Option<String>, StoreError> {
        Ok(self.data().start_points.get(pipe).cloned())
    }

    fn write_state(&mut self, w: &StateWrite<'_>) -> Result<(), StoreError> {
        let mut d = self.data();
        if let Some(lease) = &w.lease {
            if !LeaseRow::admits(d.leases.get(w.pipe), lease) {
                return Err(StoreError::LeaseLost {
                    pipe: w.pipe.to_string(),
                    server: lease.server.to_string(),
                    epoch: lease.epoch,
                });
            }
        }
        let map = d.id_map.entry(w.pipe.to_string()).or_default();
        for m in w.put {
            let renaming_to =
                map.get(&m.source_id).filter(|old| !old.put_ends_mark(m)).and_then(|old| old.renaming_to.clone());
            map.insert(m.source_id.clone(), IdMapping { renaming_to, ..m.clone() });
        }
        for id in w.remove {
            map.remove(id);
        }
        for r in w.provisional {
            map.entry(r.source_id.clone()).or_insert_with(|| r.clone());
        }
        if let Some(r) = w.rename_intent {
            match map.get_mut(&r.source_id) {
                Some(old) => old.renaming_to = r.renaming_to.clone(),
                None if r.renaming_to.is_some() => {
                    map.insert(r.source_id.clone(), r.clone());
                }
                None => {}
            }
        }
        if let Some(sp) = w.start_point {
            d.start_points.insert(w.pipe.to_string(), sp.to_string());
        }
        if let Some((key, value)) = w.settle {
            if d.server.get(key).is_some_and(|v| v == value) {
                d.server.remove(key);
            }
        }
        if w.bump_generation {
            d.generation += 1;
        }
        Ok(())
    }

    fn id_mapping(&mut self, pipe: &str, source_id: &str) -> Result<Option<IdMapping>, StoreError> {
        Ok(self.data().id_map.get(pipe).and_then(|m| m.get(source_id)).cloned())
    }

    fn id_mapping_by_dn(&mut self, pipe: &str, source_dn: &str) -> Result<Option<IdMapping>, StoreError> {
        Ok(self
            .data()
            .id_map
            .get(pipe)
            .and_then(|m| m.values().find(|r| r.source_dn.eq_ignore_ascii_case(source_dn)))
            .cloned())
    }

    fn clear_id_map(&mut self, pipe: &str) -> Result<(), StoreError> {
        self.data().id_map.remove(pipe);
        Ok(())
    }

    fn set_stats(&mut self, pipe: &str, stats: &str) -> Result<(), StoreError> {
        let saved =
            SavedStats { pipe: pipe.to_string(), stats: stats.to_string(), updated: crate::util::timestamp_now() };
        self.data().stats.insert(pipe.to_string(), saved);
        Ok(())
    }

    fn all_stats(&mut self) -> Result<Vec<SavedStats>, StoreError> {
        Ok(self.data().stats.values().cloned().collect())
    }

    fn clear_stats(&mut self) -> Result<(), StoreError> {
        self.data().stats.clear();
        Ok(())
    }

    fn server_value(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.data().server.get(key).cloned())
    }

    fn set_server_value(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let mut d = self.data();
        match value {
            Some(v) => d.server.insert(key.to_string(), v.to_string()),
            None => d.server.remove(key),
        };
        Ok(())
    }

    fn server_values(&mut self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .data()
            .server
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn heartbeat(&mut self, name: &str, priority: i64, detail: &str) -> Result<(), StoreError> {
        let row = ServerRow { name: name.to_string(), priority, heartbeat_ms: now_ms(), detail: detail.to_string() };
        self.data().servers.insert(name.to_string(), row);
        Ok(())
    }

    fn forget_server(&mut self, name: &str) -> Result<(), StoreError> {
        let mut d = self.data();
        d.servers.remove(name);
        for l in d.leases.values_mut().filter(|l| l.holder.as_deref() == Some(name)) {
            l.holder = None;
        }
        Ok(())
    }

    fn acquire_lease(&mut self, pipe: &str, server: &str, ttl: Duration) -> Result<Option<i64>, StoreError> {
        let mut d = self.data();
        let Some(row) = LeaseRow::acquire(d.leases.get(pipe), pipe, server, now_ms(), ms(ttl)) else {
            return Ok(None);
        };
        let epoch = row.epoch;
        d.leases.insert(pipe.to_string(), row);
        Ok(Some(epoch))
    }

    fn release_lease(&mut self, pipe: &str, server: &str, epoch: i64) -> Result<(), StoreError> {
        let mut d = self.data();
        if let Some(l) = d.leases.get_mut(pipe).filter(|l| l.holder.as_deref() == Some(server) && l.epoch == epoch) {
            l.holder = None;
        }
        Ok(())
    }

    fn topology(&mut self) -> Result<Topology, StoreError> {
        let d = self.data();
        Ok(Topology {
            now_ms: now_ms(),
            servers: d.servers.values().cloned().collect(),
            leases: d.leases.values().cloned().collect(),
        })
    }
}
