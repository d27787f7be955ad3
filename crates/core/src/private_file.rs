//! Files that hold secrets or logs (the encryption key, the store, logs, generated batch files, the pid file):
//! opened readable and writable by their owner only (mode 0600), also when the file existed with a wider mode
//! before (it is narrowed before anything is written), and never through a symbolic link (`O_NOFOLLOW`: a link
//! planted where a log goes must not make ferrosync write a password somewhere else). The one place that opens
//! them; [`write_new_atomically`] creates a file whole or not at all.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// How [`open`] opens a file (each creates it when missing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Write from the start, dropping what was there.
    Truncate,
    /// Write at the end.
    Append,
    /// Read and write, keeping what is there (a lock file).
    ReadWrite,
}

/// Opens `path` as `how` says, private to its owner (see the module documentation).
pub fn open(path: &Path, how: How) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    match how {
        How::Truncate => opts.write(true).create(true).truncate(true),
        How::Append => opts.create(true).append(true),
        How::ReadWrite => opts.read(true).write(true).create(true).truncate(false),
    };
    private(&mut opts);
    let file = opts.open(path)?;
    narrow(&file, path)?;
    Ok(file)
}

#[cfg(unix)]
fn private(opts: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
}

#[cfg(not(unix))]
fn private(_opts: &mut OpenOptions) {}

/// Takes group and other permissions away from a regular file that had them (a device such as `/dev/null`,
/// which an operator may name as a log, is left as it is).
fn narrow(file: &File, _path: &Path) -> std::io::Result<()> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Whether an existing file that holds secrets is private: owned by the user running ferrosync, and neither
/// group- nor world-readable. `Err` says what is wrong and the command that fixes it.
pub fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // The owner of /proc/self is the user this process runs as (Linux); without /proc the check is skipped.
        if let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) {
            if meta.uid() != me {
                return Err(format!(
                    "it is owned by uid {}, not by the user running ferrosync (uid {me}): run chown {me} {}",
                    meta.uid(),
                    path.display()
                ));
            }
        }
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "it is readable by others (mode {:o}); run: chmod 600 {}",
                mode & 0o777,
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `path` holding `bytes`, whole or not at all: written to a private temporary file beside it,
/// synced, then linked into place (which fails with `AlreadyExists` when `path` exists: nothing is replaced),
/// and the folder synced, so a crash or a full disk never leaves a partial file at `path`.
pub fn write_new_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", suffix.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        private(&mut opts);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::hard_link(&tmp, path)?;
        // The new name must survive a crash too.
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_readable_file_is_narrowed_before_it_is_written() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("batch.dsconfig");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = open(&p, How::Truncate).unwrap();
        assert_eq!(mode(&p), 0o600);
        f.write_all(b"password:secret").unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, "line\n").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
        open(&log, How::Append).unwrap().write_all(b"more\n").unwrap();
        assert_eq!(mode(&log), 0o600);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "line\nmore\n");
        let fresh = dir.path().join("fresh");
        open(&fresh, How::ReadWrite).unwrap();
        assert_eq!(mode(&fresh), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("errors");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for how in [How::Truncate, How::Append, How::ReadWrite] {
            assert!(open(&link, how).is_err(), "{how:?} followed the link");
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_of_another_user_or_readable_by_others_is_not_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("encryption.key");
        write_new_atomically(&p, b"k").unwrap();
        assert_eq!(check_private(&p), Ok(()));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = check_private(&p).unwrap_err();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Giving a file away needs root (as in CI); elsewhere this part is skipped.
        if std::os::unix::fs::chown(&p, Some(54_321), None).is_ok() {
            let e = check_private(&p).unwrap_err();
            assert!(e.contains("owned by uid 54321") && e.contains("chown"), "{e}");
        }
    }

    #[test]
    fn an_atomic_write_never_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("encryption.key");
        write_new_atomically(&p, b"first").unwrap();
        let e = write_new_atomically(&p, b"second").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
        #[cfg(unix)]
        assert_eq!(mode(&p), 0o600);
    }
}
