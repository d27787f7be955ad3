//! Log files with PingDataSync's rotation and retention policies (`log-rotation-policy`,
//! `log-retention-policy`), as every log publisher references them: a file is rotated before the write that a
//! policy says it must not take (over its size limit, older than its interval, past a time of day), renamed in
//! Ping's way to `NAME.YYYYMMDDhhmmssZ` (`.2`, `.3`, ... when several rotations fall in one second), and the
//! rotated files that a retention policy no longer keeps are deleted, oldest first. Files are created 0600.
//!
//! A line is never split across files: a write goes whole to the current file, so the current file and the
//! rotated ones hold whole lines. Several writers of one path in one process share one [`LogFile`]
//! ([`shared`]); a file rotated by another process is noticed (its inode changed) and opened again.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// When a log file is rotated (one `log-rotation-policy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// `size-limit`: before a write would take the file past this many bytes.
    Size(u64),
    /// `time-limit`: once the file is this old.
    Every(Duration),
    /// `fixed-time`: at these times of day (minutes after midnight, UTC).
    At(Vec<u32>),
    /// `never-rotate`.
    Never,
}

/// Which rotated files are kept (one `log-retention-policy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retention {
    /// `file-count`: at most this many rotated files.
    Files(usize),
    /// `size-limit`: the rotated files take at most this many bytes.
    DiskUsed(u64),
    /// `free-disk-space`: rotated files are deleted while the file system has less free space than this.
    FreeDisk(u64),
    /// `time-limit`: rotated files older than this are deleted.
    Age(Duration),
    /// `never-delete`.
    Never,
}

/// The policies of one log file: it is rotated when any rotation policy says so, and a rotated file is
/// deleted when any retention policy no longer keeps it. No policy: never rotated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policies {
    pub rotation: Vec<Rotation>,
    pub retention: Vec<Retention>,
}

impl Policies {
    /// Reads `HHmm` (Ping's `time-of-day`) as minutes after midnight.
    pub fn time_of_day(text: &str) -> Option<u32> {
        let t = text.trim();
        if t.len() != 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m) = (t.get(..2)?.parse::<u32>().ok()?, t.get(2..)?.parse::<u32>().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    }
}

/// A log file opened for appending, mode 0600, rotated and pruned by its [`Policies`].
pub struct LogFile {
    path: PathBuf,
    policies: Mutex<Policies>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    file: Option<File>,
    /// The open file's size, inode, and when it was started (for time-based rotation).
    size: u64,
    ino: u64,
    started: Option<SystemTime>,
    /// Writes that failed since the last one that worked (0: the file works).
    lost: u64,
}

/// The one [`LogFile`] of `path` in this process; `policies`, when given, replace its policies (a writer
/// that knows no configuration passes `None` and keeps those set by one that does).
pub fn shared(path: &Path, policies: Option<Policies>) -> Arc<LogFile> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Arc<LogFile>>>> = OnceLock::new();
    let mut files = FILES.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    let file = files
        .entry(path.to_path_buf())
        .or_insert_with(|| Arc::new(LogFile::new(path.to_path_buf(), Policies::default())));
    if let Some(p) = policies {
        file.set_policies(p);
    }
    file.clone()
}

impl LogFile {
    pub fn new(path: PathBuf, policies: Policies) -> LogFile {
        LogFile { path, policies: Mutex::new(policies), state: Mutex::new(State::default()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn set_policies(&self, policies: Policies) {
        *self.policies.lock().unwrap_or_else(|p| p.into_inner()) = policies;
    }

    fn policies(&self) -> Policies {
        self.policies.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Appends `text`, rotating the file first when a policy says so. A failure is returned with how many
    /// writes failed in a row (this one included); a success after failures returns how many failed before it,
    /// so the caller can say the log works again.
    pub fn append(&self, text: &str) -> Result<u64, (std::io::Error, u64)> {
        let policies = self.policies();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *state;
        let result = self.append_locked(state, &policies, text);
        match result {
            Ok(()) => Ok(std::mem::take(&mut state.lost)),
            Err(e) => {
                // Opened again at the next write (the file may have been moved, or a directory removed).
                state.file = None;
                state.lost += 1;
                Err((e, state.lost))
            }
        }
    }

    fn append_locked(&self, state: &mut State, policies: &Policies, text: &str) -> std::io::Result<()> {
        self.reopen_if_moved(state);
        if state.file.is_none() {
            self.open(state)?;
        }
        // Many lines at once (a batch) go in pieces that each fit a size limit, so no file grows past it.
        let limit =
            policies.rotation.iter().filter_map(|r| if let Rotation::Size(n) = r { Some(*n) } else { None }).min();
        match limit {
            Some(limit) if state.size + text.len() as u64 > limit => {
                let mut start = 0;
                let mut end = 0;
                for line in text.split_inclusive('\n') {
                    if end > start && state.size + (end + line.len() - start) as u64 > limit {
                        self.write_piece(state, policies, text.get(start..end).unwrap_or_default())?;
                        start = end;
                    }
                    end += line.len();
                }
                self.write_piece(state, policies, text.get(start..end).unwrap_or_default())
            }
            _ => self.write_piece(state, policies, text),
        }
    }

    fn write_piece(&self, state: &mut State, policies: &Policies, text: &str) -> std::io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        if state.file.is_none() {
            self.open(state)?;
        }
        let now = SystemTime::now();
        let extra = if state.lost > 0 { 1 } else { 0 };
        if state.size > 0 && must_rotate(policies, state, text.len() as u64 + extra, now) {
            self.rotate(state, policies, now)?;
            self.open(state)?;
        }
        let f = state.file.as_mut().ok_or_else(|| std::io::Error::other("not open"))?;
        // After a failure the last line may be cut: start on a line of its own.
        if state.lost > 0 && state.size > 0 {
            f.write_all(b"\n")?;
            state.size += 1;
        }
        f.write_all(text.as_bytes())?;
        f.flush()?;
        state.size += text.len() as u64;
        Ok(())
    }

    /// A file renamed or removed by someone else (another process's rotation) is let go.
    fn reopen_if_moved(&self, state: &mut State) {
        if state.file.is_none() {
            return;
        }
        use std::os::unix::fs::MetadataExt;
        let same = std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == state.ino);
        if !same {
            state.file = None;
        }
    }

    fn open(&self, state: &mut State) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = crate::private_file::open(&self.path, crate::private_file::How::Append)?;
        let m = f.metadata()?;
        state.size = m.len();
        state.ino = m.ino();
        // A file found again keeps its age: its creation time where the file system keeps one.
        state.started = Some(if m.len() == 0 { SystemTime::now() } else { m.created().or_else(|_| m.modified())? });
        state.file = Some(f);
        Ok(())
    }

    /// Renames the current file to its rotated name and prunes the rotated files.
    fn rotate(&self, state: &mut State, policies: &Policies, now: SystemTime) -> std::io::Result<()> {
        state.file = None;
        std::fs::rename(&self.path, free_rotated_name(&self.path, now))?;
        prune(&self.path, &policies.retention, now)?;
        Ok(())
    }
}

/// For a log that another writer holds open (a process's standard output, `server.out`): when a policy says
/// it is due (its size is past the limit, it is older than `started` allows...), renames it to its rotated
/// name, prunes the rotated files, and returns the new empty file (0600) for the caller to put in its place.
pub fn rotate_held(path: &Path, policies: &Policies, started: SystemTime) -> std::io::Result<Option<File>> {
    let m = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let state = State { size: m.len(), started: Some(started), ..State::default() };
    if m.len() == 0 || !must_rotate(policies, &state, 0, now) {
        return Ok(None);
    }
    std::fs::rename(path, free_rotated_name(path, now))?;
    let file = crate::private_file::open(path, crate::private_file::How::Append)?;
    prune(path, &policies.retention, now)?;
    Ok(Some(file))
}

fn must_rotate(policies: &Policies, state: &State, adding: u64, now: SystemTime) -> bool {
    let started = state.started.unwrap_or(now);
    policies.rotation.iter().any(|r| match r {
        Rotation::Size(limit) => state.size + adding > *limit,
        Rotation::Every(d) => now.duration_since(started).is_ok_and(|age| age >= *d),
        Rotation::At(times) => times.iter().any(|t| last_occurrence(*t, now).is_some_and(|at| at > started)),
        Rotation::Never => false,
    })
}

/// The last time (at or before `now`) that the clock showed `minutes` after midnight, UTC.
fn last_occurrence(minutes: u32, now: SystemTime) -> Option<SystemTime> {
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs();
    let midnight = secs - secs % 86_400;
    let today = midnight + u64::from(minutes) * 60;
    let at = if today <= secs { today } else { today.checked_sub(86_400)? };
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(at))
}

/// Ping's rotated-file timestamp: `20261204190501Z`.
fn stamp(t: SystemTime) -> String {
    let iso = humantime::format_rfc3339_seconds(t).to_string(); // 2026-12-04T19:05:01Z
    iso.chars().filter(|c| c.is_ascii_digit() || *c == 'Z').collect()
}

/// The rotated name for `path` at `now`: after every rotated file of the same second (a counter above theirs,
/// never a number that retention freed, which would sort before the files kept).
fn free_rotated_name(path: &Path, now: SystemTime) -> PathBuf {
    let stamp = stamp(now);
    let last = list_rotated(path)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.key.0 == stamp)
        .map(|r| r.key.1)
        .max()
        .unwrap_or(0);
    let mut n = last + 1;
    let mut target = rotated_name(path, &stamp, n);
    while target.exists() {
        n += 1;
        target = rotated_name(path, &stamp, n);
    }
    target
}

fn rotated_name(path: &Path, stamp: &str, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".");
    name.push(stamp);
    if n > 1 {
        name.push(format!(".{n}"));
    }
    PathBuf::from(name)
}

/// A rotated file of a log: its path, size, modification time and order key (timestamp, then counter).
struct Rotated {
    path: PathBuf,
    size: u64,
    modified: SystemTime,
    key: (String, u32),
}

/// The rotated files of the log at `path`, oldest first.
pub fn rotated_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    Ok(list_rotated(path)?.into_iter().map(|r| r.path).collect())
}

fn list_rotated(path: &Path) -> std::io::Result<Vec<Rotated>> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(Vec::new());
    };
    let prefix = format!("{name}.");
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        // Only NAME.YYYYMMDDhhmmssZ[.N]: other files beside the log are never touched.
        let (stamp, n) = match rest.split_once('.') {
            Some((s, n)) => match n.parse::<u32>() {
                Ok(n) => (s, n),
                Err(_) => continue,
            },
            None => (rest, 1),
        };
        let digits = stamp.strip_suffix('Z').unwrap_or("");
        if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let m = entry.metadata()?;
        out.push(Rotated { path: entry.path(), size: m.len(), modified: m.modified()?, key: (stamp.to_string(), n) });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Deletes the rotated files of the log at `path` that a retention policy no longer keeps, oldest first.
pub fn prune(path: &Path, retention: &[Retention], now: SystemTime) -> std::io::Result<()> {
    if retention.is_empty() {
        return Ok(());
    }
    let mut files = list_rotated(path)?;
    let delete = |f: &Rotated| match std::fs::remove_file(&f.path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    for policy in retention {
        match policy {
            Retention::Files(n) => {
                while files.len() > *n {
                    delete(&files.remove(0))?;
                }
            }
            Retention::DiskUsed(limit) => {
                while files.iter().map(|f| f.size).sum::<u64>() > *limit && !files.is_empty() {
                    delete(&files.remove(0))?;
                }
            }
            Retention::FreeDisk(wanted) => {
                let dir = path.parent().unwrap_or(Path::new("."));
                while !files.is_empty() && free_space(dir)? < *wanted {
                    delete(&files.remove(0))?;
                }
            }
            Retention::Age(age) => {
                let (old, young): (Vec<Rotated>, Vec<Rotated>) =
                    files.into_iter().partition(|f| now.duration_since(f.modified).is_ok_and(|a| a > *age));
                for f in &old {
                    delete(f)?;
                }
                files = young;
            }
            Retention::Never => {}
        }
    }
    Ok(())
}

fn free_space(dir: &Path) -> std::io::Result<u64> {
    let s = nix::sys::statvfs::statvfs(dir).map_err(std::io::Error::from)?;
    #[allow(clippy::useless_conversion)] // the types differ between platforms
    Ok(u64::from(s.blocks_available()).saturating_mul(u64::from(s.fragment_size())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(path: &Path) -> Vec<String> {
        let mut lines = Vec::new();
        for f in rotated_files(path).unwrap().into_iter().chain(std::iter::once(path.to_path_buf())) {
            lines.extend(std::fs::read_to_string(f).unwrap().lines().map(str::to_string));
        }
        lines
    }

    /// The case: a 1 MB size limit and 3 files kept, 50,000 changes logged: at most 4 files of at most
    /// 1 MB each, each of whole lines, and the lines they hold are the last ones written, none missing.
    #[test]
    fn a_1_mb_limit_with_3_files_kept_keeps_at_most_4_files_and_no_line_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/sync");
        let log = LogFile::new(
            path.clone(),
            Policies { rotation: vec![Rotation::Size(1_000_000)], retention: vec![Retention::Files(3)] },
        );
        for i in 0..50_000 {
            let line = format!(
                "[04/Dec/2026:19:00:00.000 +0000] category=SYNC severity=INFORMATION msgID=1893797001 op={i} \
                 changeNumber={i} pipe=\"p\" type=change-applied msg=\"Detected MODIFY of uid=user{i},ou=people,dc=example,dc=com\"\n"
            );
            log.append(&line).unwrap();
        }
        let rotated = rotated_files(&path).unwrap();
        assert_eq!(rotated.len(), 3, "{rotated:?}");
        for f in rotated.iter().chain(std::iter::once(&path)) {
            let m = std::fs::metadata(f).unwrap();
            assert!(m.len() <= 1_000_000, "{} is {} bytes", f.display(), m.len());
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(m.permissions().mode() & 0o777, 0o600, "{}", f.display());
            assert!(std::fs::read_to_string(f).unwrap().ends_with('\n'));
        }
        let lines = read_all(&path);
        let numbers: Vec<u64> =
            lines.iter().map(|l| l.split(" op=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()).collect();
        assert_eq!(numbers.last(), Some(&49_999));
        let first = numbers[0];
        assert!(first > 0, "nothing was rotated away");
        let expected: Vec<u64> = (first..50_000).collect();
        assert!(numbers == expected, "a line is missing or out of order: {} lines from {first}", numbers.len());
        // Ping's names: sync.YYYYMMDDhhmmssZ, with a counter for several in one second.
        for f in &rotated {
            let name = f.file_name().unwrap().to_str().unwrap();
            assert!(name.starts_with("sync.2"), "{name}");
        }
    }

    #[test]
    fn a_batch_larger_than_the_limit_is_split_at_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync");
        let log = LogFile::new(
            path.clone(),
            Policies { rotation: vec![Rotation::Size(1000)], retention: vec![Retention::Files(100)] },
        );
        let batch: String = (0..100).map(|i| format!("line {i:04} {}\n", "x".repeat(40))).collect();
        log.append(&batch).unwrap();
        log.append(&batch).unwrap();
        let mut all = String::new();
        for f in rotated_files(&path).unwrap().into_iter().chain(std::iter::once(path.clone())) {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(text.len() <= 1000 && text.ends_with('\n'), "{}: {} bytes", f.display(), text.len());
            all.push_str(&text);
        }
        assert_eq!(all, format!("{batch}{batch}"));
    }

    #[test]
    fn time_policies_rotate_an_old_file_and_a_fixed_time_once_past() {
        let now = SystemTime::now();
        let hour_ago = now - Duration::from_secs(3600);
        let state = State { size: 10, started: Some(hour_ago), ..State::default() };
        let every = |d| Policies { rotation: vec![Rotation::Every(d)], retention: vec![] };
        assert!(must_rotate(&every(Duration::from_secs(1800)), &state, 1, now));
        assert!(!must_rotate(&every(Duration::from_secs(7200)), &state, 1, now));
        // A fixed time passed 30 minutes ago (after the file was started): rotate; one not passed since: not.
        let minutes =
            |t: SystemTime| (t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() % 86_400 / 60) as u32;
        let half_hour_ago = minutes(now - Duration::from_secs(1800));
        let at = |m| Policies { rotation: vec![Rotation::At(vec![m])], retention: vec![] };
        assert!(must_rotate(&at(half_hour_ago), &state, 1, now));
        let two_hours_ago = minutes(now - Duration::from_secs(7200));
        assert!(!must_rotate(&at(two_hours_ago), &state, 1, now));
        assert!(!must_rotate(&Policies { rotation: vec![Rotation::Never], retention: vec![] }, &state, 1, now));
        assert_eq!(Policies::time_of_day("2359"), Some(23 * 60 + 59));
        assert_eq!(Policies::time_of_day("2400"), None);
        assert_eq!(Policies::time_of_day("12:00"), None);
    }

    #[test]
    fn retention_by_size_and_age_deletes_oldest_first_and_leaves_other_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("errors");
        for (stamp, size) in [("20261201000000Z", 100), ("20261202000000Z", 100), ("20261203000000Z", 100)] {
            std::fs::write(rotated_name(&path, stamp, 1), vec![b'x'; size]).unwrap();
        }
        std::fs::write(dir.path().join("errors.bak"), b"keep").unwrap();
        std::fs::write(rotated_name(&path, "20261203000000Z", 2), vec![b'x'; 100]).unwrap();
        prune(&path, &[Retention::DiskUsed(250)], SystemTime::now()).unwrap();
        let left: Vec<String> = rotated_files(&path)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(left, ["errors.20261203000000Z", "errors.20261203000000Z.2"]);
        assert!(dir.path().join("errors.bak").exists());
        // Everything is older than a second from now + 1 h.
        prune(&path, &[Retention::Age(Duration::from_secs(1))], SystemTime::now() + Duration::from_secs(3600)).unwrap();
        assert!(rotated_files(&path).unwrap().is_empty());
        assert!(dir.path().join("errors.bak").exists());
        // Free disk space: far more than any disk has, so every rotated file goes.
        std::fs::write(rotated_name(&path, "20261204000000Z", 1), b"x").unwrap();
        prune(&path, &[Retention::FreeDisk(u64::MAX)], SystemTime::now()).unwrap();
        assert!(rotated_files(&path).unwrap().is_empty());
    }

    #[test]
    fn a_held_file_past_its_size_is_rotated_and_a_new_one_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.out");
        std::fs::write(&path, vec![b'x'; 2000]).unwrap();
        let p = Policies { rotation: vec![Rotation::Size(1000)], retention: vec![Retention::Files(1)] };
        let mut f = rotate_held(&path, &p, SystemTime::now()).unwrap().unwrap();
        f.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(rotated_files(&path).unwrap().len(), 1);
        assert!(rotate_held(&path, &p, SystemTime::now()).unwrap().is_none(), "4 bytes are within the limit");
    }

    #[test]
    fn a_file_rotated_by_another_process_is_opened_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync");
        let log = LogFile::new(path.clone(), Policies::default());
        log.append("one\n").unwrap();
        std::fs::rename(&path, dir.path().join("sync.20261204000000Z")).unwrap();
        log.append("two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
    }
}
