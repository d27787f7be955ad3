//! One sync server per server root.
//!
//! The server holds an OS file lock (`flock`, through [`File::try_lock`]) on `logs/server.pid` for its whole
//! life and writes its pid into that file once it holds the lock. The kernel releases the lock when the process
//! ends, however it ends (`kill -9` included), so a pid file left behind is told apart from a running server by
//! trying the lock: a server is running only while the lock is held, and the pid it names is the holder's.
//! The file is never removed (only emptied): removing it would let a second server lock a new file while the
//! first still holds the old one.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::store::ServerRoot;

/// Why the server lock could not be taken or read.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the sync server is already running in {} ({})", root.display(), pid.map(|p| format!("pid {p}")).unwrap_or_else(|| "pid not known yet".into()))]
    Held { root: PathBuf, pid: Option<i32> },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the pid file of a server root says, checked against the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// A server holds the lock; its pid (`None` only in the instant between taking the lock and writing the pid).
    Running(Option<i32>),
    /// No server runs, but the pid file names the pid of one that ended without cleaning up (`kill -9`, a
    /// crash). That pid may belong to another process by now: it must not be signalled.
    Stale(i32),
    /// No server runs.
    Stopped,
}

/// The lock of a running server: held until dropped (or the process ends).
#[derive(Debug)]
pub struct ServerLock {
    file: File,
    path: PathBuf,
    pid: u32,
}

/// The file the server locks and writes its pid into.
pub fn pid_path(root: &ServerRoot) -> PathBuf {
    root.logs_dir().join("server.pid")
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LockError {
    let path = path.to_path_buf();
    move |source| LockError::Io { action, path, source }
}

fn read_pid(file: &mut File) -> Option<i32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// How long [`ServerLock::acquire`] retries a lock that is held: a [`probe`] holds it for an instant, and a
/// server being started must not fail because `status` ran at the same time.
const ACQUIRE_PATIENCE: Duration = Duration::from_millis(500);

impl ServerLock {
    /// Takes the lock of `root` for this process and writes its pid into the pid file. Fails with
    /// [`LockError::Held`] when another server holds it.
    pub fn acquire(root: &ServerRoot) -> Result<ServerLock, LockError> {
        let path = pid_path(root);
        let mut file =
            crate::private_file::open(&path, crate::private_file::How::ReadWrite).map_err(io("open", &path))?;
        let deadline = Instant::now() + ACQUIRE_PATIENCE;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Held { root: root.path().to_path_buf(), pid: read_pid(&mut file) });
                }
                Err(TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
            }
        }
        let pid = std::process::id();
        file.set_len(0).map_err(io("empty", &path))?;
        file.seek(SeekFrom::Start(0)).map_err(io("write", &path))?;
        file.write_all(format!("{pid}\n").as_bytes()).map_err(io("write", &path))?;
        file.flush().map_err(io("write", &path))?;
        Ok(ServerLock { file, path, pid })
    }

    /// The pid written into the pid file (this process's).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ServerLock {
    fn drop(&mut self) {
        // Empty, not removed (see the module docs); closing the file releases the lock.
        let _ = self.file.set_len(0);
    }
}

/// Whether a server runs in `root`, by trying its lock (held for an instant when nobody else holds it).
pub fn probe(root: &ServerRoot) -> Result<ServerState, LockError> {
    let path = pid_path(root);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ServerState::Stopped),
        Err(e) => return Err(io("open", &path)(e)),
    };
    let mut last = None;
    for _ in 0..50 {
        let before = read_pid(&mut file);
        match file.try_lock_shared() {
            Ok(()) => {
                let pid = read_pid(&mut file);
                let _ = file.unlock();
                return Ok(pid.map(ServerState::Stale).unwrap_or(ServerState::Stopped));
            }
            Err(TryLockError::WouldBlock) => {
                // Held: the pid is the holder's once the holder has written it. Read twice around the lock
                // attempt, so that a pid left by an earlier server is not taken for the holder's while the new
                // holder rewrites the file.
                let after = read_pid(&mut file);
                if before.is_some() && before == after {
                    return Ok(ServerState::Running(after));
                }
                last = after;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::Error(e)) => return Err(io("lock", &path)(e)),
        }
    }
    Ok(ServerState::Running(last))
}

/// Whether `pid` is a process on its way out: gone, or a zombie (Linux's `/proc/PID/stat` state `Z` or `X`).
/// A multi-threaded server killed with SIGKILL shows its main thread as a zombie while its other threads are
/// still exiting, and the lock (held by the file table they share) is released only when the last one has.
pub fn is_exiting(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The command name may hold ')' and spaces: the state is the first field after its last ')'.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
        // No such process, where /proc tells (elsewhere nothing is known: not exiting).
        Err(_) => Path::new("/proc/self/stat").exists(),
    }
}

/// Like [`probe`], but a lock held by a process that is exiting (see [`is_exiting`]) is waited for, up to
/// `patience`: `start-server` run right after a `kill -9` finds the root free instead of "already running".
pub fn probe_settled(root: &ServerRoot, patience: Duration) -> Result<ServerState, LockError> {
    let deadline = Instant::now() + patience;
    loop {
        let state = probe(root)?;
        match state {
            ServerState::Running(Some(pid)) if is_exiting(pid) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => return Ok(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, ServerRoot) {
        let dir = tempfile::tempdir().unwrap();
        let root = ServerRoot::new(dir.path());
        root.ensure_dirs().unwrap();
        (dir, root)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_killed_process_is_exiting_while_a_zombie_and_once_reaped() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id() as i32;
        assert!(!is_exiting(pid), "a sleeping process is not exiting");
        child.kill().unwrap();
        // Not reaped yet: a zombie once the kill has been delivered.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !is_exiting(pid) {
            assert!(Instant::now() < deadline, "the killed child never showed as exiting");
            std::thread::sleep(Duration::from_millis(5));
        }
        child.wait().unwrap();
        assert!(is_exiting(pid), "a reaped process is gone");
        assert!(!is_exiting(std::process::id() as i32), "this test is not exiting");
    }

    #[test]
    fn a_second_lock_on_the_same_root_fails_while_the_first_is_held() {
        let (_dir, root) = root();
        assert_eq!(probe(&root).unwrap(), ServerState::Stopped);
        let lock = ServerLock::acquire(&root).unwrap();
        let me = std::process::id() as i32;
        assert_eq!(std::fs::read_to_string(pid_path(&root)).unwrap().trim(), me.to_string());
        assert_eq!(probe(&root).unwrap(), ServerState::Running(Some(me)));
        // flock locks belong to the open file: a second open in this process conflicts like another process.
        match ServerLock::acquire(&root) {
            Err(LockError::Held { pid, .. }) => assert_eq!(pid, Some(me)),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(lock);
        assert_eq!(probe(&root).unwrap(), ServerState::Stopped);
        assert!(pid_path(&root).exists(), "the pid file is emptied, never removed");
        ServerLock::acquire(&root).unwrap();
    }

    #[test]
    fn a_pid_file_nobody_locks_is_stale() {
        let (_dir, root) = root();
        std::fs::write(pid_path(&root), "4242\n").unwrap();
        assert_eq!(probe(&root).unwrap(), ServerState::Stale(4242));
        // A server starting over a stale file takes it and writes its own pid.
        let lock = ServerLock::acquire(&root).unwrap();
        assert_eq!(probe(&root).unwrap(), ServerState::Running(Some(lock.pid() as i32)));
    }
}
