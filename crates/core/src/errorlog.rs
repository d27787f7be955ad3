//! The server's error log (`logs/errors`, Ping's "File-Based Error Logger"): one line per event,
//! `TIMESTAMP category=CATEGORY severity=SEVERITY [pipe="PIPE"] msg="MESSAGE"`.

use std::path::{Path, PathBuf};

/// Where an event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// The server itself (start, stop).
    Core,
    /// A sync pipe.
    Sync,
    /// A connection handler (HTTP, HTTPS, the control socket).
    Protocol,
}

impl Category {
    fn as_str(self) -> &'static str {
        match self {
            Category::Core => "CORE",
            Category::Sync => "SYNC",
            Category::Protocol => "PROTOCOL",
        }
    }
}

/// How serious an event is, in Ping's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Notice,
    SevereWarning,
    SevereError,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "NOTICE",
            Severity::SevereWarning => "SEVERE_WARNING",
            Severity::SevereError => "SEVERE_ERROR",
        }
    }
}

/// One line of the error log, without its timestamp.
pub fn format_line(category: Category, severity: Severity, pipe: Option<&str>, msg: &str) -> String {
    let pipe = pipe.map(|p| format!(" pipe=\"{p}\"")).unwrap_or_default();
    format!("category={} severity={}{pipe} msg=\"{msg}\"", category.as_str(), severity.as_str())
}

/// The error log file of a server root, rotated by the error logger's policies (see [`crate::logfile`]: the
/// sync server sets them from its configuration).
#[derive(Clone)]
pub struct ErrorLog {
    file: std::sync::Arc<crate::logfile::LogFile>,
}

impl std::fmt::Debug for ErrorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorLog").field("path", &self.path()).finish()
    }
}

impl ErrorLog {
    pub fn new(path: impl Into<PathBuf>) -> ErrorLog {
        ErrorLog { file: crate::logfile::shared(&path.into(), None) }
    }

    /// `logs/errors` below the server root.
    pub fn of_root(root: &crate::store::ServerRoot) -> ErrorLog {
        ErrorLog::new(root.logs_dir().join("errors"))
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Appends one event (the file is created private, mode 0600). A line that cannot be written is returned as
    /// an error: the caller decides where else to say so.
    pub fn write(&self, category: Category, severity: Severity, pipe: Option<&str>, msg: &str) -> std::io::Result<()> {
        let line = format!("{} {}\n", crate::synclog::ping_timestamp(), format_line(category, severity, pipe, msg));
        self.file.append(&line).map(drop).map_err(|(e, _)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_pings_fields() {
        assert_eq!(
            format_line(Category::Sync, Severity::SevereError, Some("p"), "cannot start: x"),
            "category=SYNC severity=SEVERE_ERROR pipe=\"p\" msg=\"cannot start: x\""
        );
        assert_eq!(
            format_line(Category::Core, Severity::Notice, None, "The sync server stopped"),
            "category=CORE severity=NOTICE msg=\"The sync server stopped\""
        );
        let dir = tempfile::tempdir().unwrap();
        let log = ErrorLog::new(dir.path().join("errors"));
        log.write(Category::Sync, Severity::Notice, Some("p"), "started").unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(text.ends_with(" category=SYNC severity=NOTICE pipe=\"p\" msg=\"started\"\n"), "{text}");
    }
}
