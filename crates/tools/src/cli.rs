//! Plumbing shared by every tool: the server root, error reports in cargo's style, exit codes.

use std::io::Write;
use std::path::PathBuf;

use ferrosync::store::ServerRoot;

/// The environment variable that names the server root.
pub const ROOT_ENV: &str = "FERROSYNC_ROOT";
/// Set by the launchers in `bin/` to the folder above `bin/`.
pub const LAUNCHER_ROOT_ENV: &str = "FERROSYNC_LAUNCHER_ROOT";

/// The server root: `--server-root`, else `$FERROSYNC_ROOT`, else the folder above `bin/` when started
/// through a launcher, else the current folder.
pub fn server_root(flag: Option<&str>) -> anyhow::Result<ServerRoot> {
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
