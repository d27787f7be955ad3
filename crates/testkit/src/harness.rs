//! A pipe over fake endpoints, configured as an operator configures one: dsconfig commands applied through
//! the library to a server root of its own (a temporary folder), then run by the real [`PipeRunner`] with
//! its real store, until the change log is drained; or stopped at a chosen moment as a crash stops it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrosync::dsconfig::{apply_batch_text, Format};
use ferrosync::endpoint::{ChangeDetector, Destination, EntrySource};
use ferrosync::engine::realtime::{PipeRunner, PipeSettings, PipeStats};
use ferrosync::engine::Engine;
use ferrosync::mapping::PipeMapping;
use ferrosync::store::{ServerRoot, Store, StoreWriter};
use ferrosync::synclog::SyncLog;
use tokio::sync::watch;

use crate::destination::FakeDestination;
use crate::faults::FaultPlan;
use crate::source::{requested_attributes, FakeChangeLog, FakeSource, SourceDirectory};

/// Why the harness could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot make the server root: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] ferrosync::error::StoreError),
    #[error(transparent)]
    Dsconfig(#[from] ferrosync::dsconfig::DsconfigError),
    #[error(transparent)]
    Mapping(#[from] ferrosync::mapping::MappingConfigError),
    #[error(transparent)]
    Settings(#[from] ferrosync::settings::SettingsError),
    #[error("the pipe stopped: {0}")]
    Runner(String),
    #[error("the pipe did not drain the change log within {0:?} (saved start point {1:?}, last change {2})")]
    NotDrained(Duration, Option<String>, u64),
}

/// The dsconfig commands that make the endpoints and the pipe `pipe` over `dc=example,dc=com` (the fakes
/// stand in for the servers named here).
pub fn base_batch(pipe: &str) -> String {
    format!(
        r#"dsconfig create-external-server --server-name src --type ping-identity-ds --set server-host-name:src.example.com
dsconfig create-external-server --server-name dst --type ping-identity-ds --set server-host-name:dst.example.com
dsconfig create-sync-source --source-name src --type ping-identity --set base-dn:dc=example,dc=com --set server:src
dsconfig create-sync-destination --destination-name dst --type ping-identity --set base-dn:dc=example,dc=com --set server:dst
dsconfig create-sync-pipe --pipe-name "{pipe}" --set sync-source:src --set sync-destination:dst \
    --set change-detection-polling-interval:5ms
"#
    )
}

/// A pipe running in the background ([`Harness::start`]).
pub struct Running {
    tx: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), ferrosync::engine::realtime::RealtimeError>>,
}

impl Running {
    /// Whether the pipe still runs (it did not stop on an error).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the pipe as the server stops it (the changes in flight are finished) and waits for it.
    pub async fn stop(self) -> Result<(), HarnessError> {
        let _ = self.tx.send(true);
        match self.task.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(HarnessError::Runner(e.to_string())),
            Err(e) => Err(HarnessError::Runner(e.to_string())),
        }
    }
}

/// A server root, its configuration, and the fake endpoints of one pipe.
pub struct Harness {
    _dir: tempfile::TempDir,
    pub root: ServerRoot,
    pub pipe: String,
    pub source: SourceDirectory,
    pub destination: FakeDestination,
    /// The faults both endpoints inject.
    pub faults: FaultPlan,
    /// Whether the pipe's store refuses its saves now (as a full disk does).
    pub store_refusal: crate::Refusal,
}

impl Harness {
    /// A new server root configured by `batch` (dsconfig batch-file text), for pipe `pipe`.
    pub fn new(
        batch: &str,
        pipe: &str,
        source: SourceDirectory,
        destination: FakeDestination,
        faults: FaultPlan,
    ) -> Result<Harness, HarnessError> {
        let dir = tempfile::tempdir()?;
        let root = ServerRoot::new(dir.path());
        let mut store = Store::open(&root)?;
        apply_batch_text(&mut store, "test configuration", batch, Format::default())?;
        Ok(Harness {
            _dir: dir,
            root,
            pipe: pipe.to_string(),
            source,
            destination,
            faults,
            store_refusal: crate::Refusal::default(),
        })
    }

    /// The pipe's compiled mapping.
    pub fn mapping(&self) -> Result<PipeMapping, HarnessError> {
        let config = Store::open(&self.root)?.load()?;
        Ok(PipeMapping::from_config(&config, &self.pipe)?)
    }

    /// The pipe's runner, built from the stored configuration as the sync server builds it.
    pub fn runner(&self) -> Result<PipeRunner, HarnessError> {
        let store = Store::open(&self.root)?;
        let config = store.load()?;
        let mapping = PipeMapping::from_config(&config, &self.pipe)?;
        let source: Arc<dyn EntrySource> =
            Arc::new(FakeSource::new("src", self.source.clone(), requested_attributes(&mapping), self.faults.clone()));
        let destination: Arc<dyn Destination> = Arc::new(self.destination.clone());
        let detector: Arc<dyn ChangeDetector> = Arc::new(FakeChangeLog::new(self.source.clone(), self.faults.clone()));
        Ok(PipeRunner {
            pipe: self.pipe.clone(),
            engine: Engine::new(mapping, source, destination),
            detector,
            settings: PipeSettings::from_config(&config, &self.pipe)?,
            store: std::sync::Mutex::new(store),
            writer: StoreWriter::start(Store::with_backend(
                &self.root,
                Box::new(crate::RefusingStore::open(self.root.db_path(), self.store_refusal.clone())?),
            )?),
            log: Arc::new(SyncLog::from_config(&config, &self.root)),
            stats: Arc::new(PipeStats::default()),
        })
    }

    /// The saved start point.
    pub fn start_point(&self) -> Result<Option<String>, HarnessError> {
        Ok(Store::open(&self.root)?.start_point(&self.pipe)?)
    }

    /// Sets the start point (as `realtime-sync set-startpoint` does).
    pub fn set_start_point(&self, start_point: &str) -> Result<(), HarnessError> {
        Ok(Store::open(&self.root)?.set_start_point(&self.pipe, start_point)?)
    }

    /// The saved id map record of a source entry.
    pub fn id_mapping(&self, source_id: &str) -> Result<Option<ferrosync::store::IdMapping>, HarnessError> {
        Ok(Store::open(&self.root)?.id_mapping(&self.pipe, source_id)?)
    }

    fn drained(&self) -> Result<bool, HarnessError> {
        let last = self.source.last_change_number();
        Ok(self.start_point()?.and_then(|s| s.parse::<u64>().ok()).is_some_and(|n| n >= last))
    }

    /// Runs the pipe until its saved start point has passed every change of the log, then stops it as the
    /// server stops it. `crash_after`: first runs it for that long and kills it (the task is dropped where it
    /// stands, as `kill -9` would), then starts it again from the saved state.
    pub async fn run_until_drained(&self, crash_after: Option<Duration>, limit: Duration) -> Result<(), HarnessError> {
        if let Some(after) = crash_after {
            let runner = self.runner()?;
            let (_tx, rx) = watch::channel(false);
            let task = tokio::spawn(runner.run(rx));
            tokio::time::sleep(after).await;
            self.kill(task).await?;
        }
        let runner = self.runner()?;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(runner.run(rx));
        let started = Instant::now();
        let mut result = Ok(());
        loop {
            if self.drained()? {
                break;
            }
            if task.is_finished() {
                break;
            }
            if started.elapsed() > limit {
                result = Err(HarnessError::NotDrained(limit, self.start_point()?, self.source.last_change_number()));
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = tx.send(true);
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(HarnessError::Runner(e.to_string())),
            Err(e) => return Err(HarnessError::Runner(e.to_string())),
        }
        if result.is_ok() && !self.drained()? {
            result = Err(HarnessError::NotDrained(limit, self.start_point()?, self.source.last_change_number()));
        }
        result
    }

    /// Kills a running pipe where it stands, as `kill -9` would: its task is dropped mid-change.
    pub async fn kill_running(&self, running: Running) -> Result<(), HarnessError> {
        self.kill(running.task).await
    }

    async fn kill(
        &self,
        task: tokio::task::JoinHandle<Result<(), ferrosync::engine::realtime::RealtimeError>>,
    ) -> Result<(), HarnessError> {
        task.abort();
        let _ = task.await;
        // The killed runner's store writer (a thread of its own) finishes the commits it was given, as SQLite
        // would have finished the one in flight: wait until the saved state stops moving, so the restarted
        // runner never races it.
        let mut last = self.start_point()?;
        loop {
            tokio::time::sleep(Duration::from_millis(40)).await;
            let now = self.start_point()?;
            if now == last {
                return Ok(());
            }
            last = now;
        }
    }

    /// Starts the pipe in the background, as the sync server starts it; [`Running::stop`] stops it.
    pub fn start(&self) -> Result<Running, HarnessError> {
        let runner = self.runner()?;
        let (tx, rx) = watch::channel(false);
        Ok(Running { tx, task: tokio::spawn(runner.run(rx)) })
    }

    /// Whether the saved start point has passed every change of the log.
    pub fn is_drained(&self) -> Result<bool, HarnessError> {
        self.drained()
    }

    /// The pipe's counters as last saved for `status` (JSON), if saved.
    pub fn stats(&self) -> Result<Option<String>, HarnessError> {
        let all = Store::open(&self.root)?.all_stats()?;
        Ok(all.into_iter().find(|(p, _, _)| p.eq_ignore_ascii_case(&self.pipe)).map(|(_, json, _)| json))
    }

    /// The failed-operations log so far (empty when none was written).
    pub fn failed_ops(&self) -> String {
        std::fs::read_to_string(self.root.logs_dir().join("sync-failed-ops")).unwrap_or_default()
    }

    /// The sync log so far (empty when none was written).
    pub fn sync_log(&self) -> String {
        std::fs::read_to_string(self.root.logs_dir().join("sync")).unwrap_or_default()
    }
}
