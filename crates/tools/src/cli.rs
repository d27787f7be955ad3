//! Plumbing shared by every tool: the server root, error reports in cargo's style, exit codes.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use ferrosync::store::{ServerRoot, Store, StoreLocation};

/// The environment variable that names the server root.
pub const ROOT_ENV: &str = "FERROSYNC_ROOT";
/// The environment variable that names the store (`sqlite` or a `postgresql://` URL), as `--store` does.
pub const STORE_ENV: &str = "FERROSYNC_STORE";
/// libpq's variable for the password file, used when the store URL names none.
pub const PGPASSFILE_ENV: &str = "PGPASSFILE";
/// Set by the launchers in `bin/` to the folder above `bin/`.
pub const LAUNCHER_ROOT_ENV: &str = "FERROSYNC_LAUNCHER_ROOT";

/// The server root: `--server-root`, else `$FERROSYNC_ROOT`, else the folder above `bin/` when started
/// through a launcher, else the current folder; with its store: `--store`, else `$FERROSYNC_STORE`, else the
/// one `config/store` names, else SQLite. A PostgreSQL URL without `passfile=` takes `$PGPASSFILE`, else
/// `~/.pgpass` when it exists.
pub fn server_root(flag: Option<&str>, store_flag: Option<&str>) -> anyhow::Result<ServerRoot> {
    let root = root_path(flag)?;
    let (given, whence) = match store_flag {
        Some(s) => (Some(s.to_string()), "--store"),
        None => match std::env::var(STORE_ENV) {
            Ok(s) if !s.trim().is_empty() => (Some(s), STORE_ENV),
            _ => (None, ""),
        },
    };
    let location = match given {
        Some(text) => StoreLocation::parse(&text).with_context(|| format!("the store given by {whence}"))?,
        None => root.store()?,
    };
    Ok(root.with_store(with_default_passfile(location)))
}

/// A PostgreSQL URL without `passfile=` gets `$PGPASSFILE`, else `~/.pgpass` when it exists (as libpq does).
pub fn with_default_passfile(location: StoreLocation) -> StoreLocation {
    match location {
        StoreLocation::Postgres(mut url) if url.passfile.is_none() => {
            url.passfile =
                std::env::var_os(PGPASSFILE_ENV).filter(|v| !v.is_empty()).map(PathBuf::from).or_else(|| {
                    let home = std::env::var_os("HOME").map(PathBuf::from)?;
                    Some(home.join(".pgpass")).filter(|p| p.is_file())
                });
            StoreLocation::Postgres(url)
        }
        other => other,
    }
}

/// Opens the store of `root` (every tool opens it through here), with an error that names it.
pub fn open_store(root: &ServerRoot) -> anyhow::Result<Store> {
    Store::open(root).with_context(|| {
        let store = match root.store() {
            Ok(StoreLocation::Sqlite) | Err(_) => root.db_path().display().to_string(),
            Ok(other) => other.to_string(),
        };
        format!("cannot open the store {store} of the server root {}", root.path().display())
    })
}

/// Whether `root`'s store may hold a configuration already: a PostgreSQL store, or a SQLite file that exists.
pub fn store_exists(root: &ServerRoot) -> bool {
    !matches!(root.store(), Ok(StoreLocation::Sqlite)) || root.db_path().exists()
}

/// The server root folder alone (as [`server_root`] finds it), for tools that do not open the store.
pub fn root_path(flag: Option<&str>) -> anyhow::Result<ServerRoot> {
    let chosen = flag
        .map(PathBuf::from)
        .or_else(|| std::env::var_os(ROOT_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| std::env::var_os(LAUNCHER_ROOT_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
    let path = match chosen {
        Some(p) => p,
        None => std::env::current_dir().map_err(|e| anyhow::anyhow!("cannot read the current folder: {e}"))?,
    };
    Ok(ServerRoot::new(path))
}

/// An error whose message was already shown; only the exit code remains.
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// A command line that does not follow the tool's syntax (exit code 2).
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Prints an error as `error: what` followed by `Caused by:` lines, and returns the exit code.
pub fn report(err: &anyhow::Error) -> i32 {
    if let Some(Exit(code)) = err.downcast_ref::<Exit>() {
        return *code;
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {err}");
    let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
    if !causes.is_empty() {
        let _ = writeln!(stderr, "\nCaused by:");
        for c in causes {
            let _ = writeln!(stderr, "  {c}");
        }
    }
    if err
        .chain()
        .any(|c| c.downcast_ref::<Usage>().is_some() || c.downcast_ref::<ferrosync::dsconfig::UsageError>().is_some())
    {
        2
    } else {
        1
    }
}

/// Runs a tool's main function and exits with its code; a closed stdout (`| head`) is a clean exit.
pub fn main_with(run: impl FnOnce() -> anyhow::Result<()>) -> ! {
    // Warnings of the libraries that no sync log publisher took (a tool may set a sink of its own).
    ferrosync::synclog::set_warning_sink(|message| {
        let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
    });
    let code = match run() {
        Ok(()) => 0,
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            0
        }
        Err(e) => report(&e),
    };
    std::process::exit(code)
}

/// Writes to stdout, turning a closed pipe into an error that [`main_with`] treats as a clean exit.
pub fn out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes a note to stderr.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "note: {text}");
}
