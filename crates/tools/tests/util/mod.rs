//! Test helpers: a throwaway server root and a way to run the real binaries in it.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferrosync::config::Config;
use ferrosync::store::{ServerRoot, Store};

/// A fresh server root in a temporary folder.
pub struct Root {
    pub dir: tempfile::TempDir,
}

impl Root {
    pub fn new() -> Self {
        Root { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a tool in this root (with `--server-root` after the arguments, as a global option may be).
    pub fn run(&self, tool: &str, args: &[&str]) -> Run {
        let mut cmd = Command::new(bin(tool));
        cmd.args(args).arg("--server-root").arg(self.path());
        cmd.env_remove("FERROSYNC_ROOT").env_remove("FERROSYNC_LAUNCHER_ROOT");
        Run(cmd.output().unwrap())
    }

    pub fn dsconfig(&self, args: &[&str]) -> Run {
        self.run("dsconfig", args)
    }

    /// Writes a file below the root and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The configuration as stored.
    pub fn config(&self) -> Config {
        Store::open(&ServerRoot::new(self.path())).unwrap().load().unwrap()
    }
}

pub fn bin(tool: &str) -> PathBuf {
    match tool {
        "dsconfig" => PathBuf::from(env!("CARGO_BIN_EXE_dsconfig")),
        other => panic!("unknown tool {other}"),
    }
}

/// The repository's top folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.0.status.success(),
            "expected success, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts failure and returns stderr.
    #[track_caller]
    pub fn fails(&self) -> String {
        assert!(!self.0.status.success(), "expected failure\nstdout:\n{}\nstderr:\n{}", self.stdout(), self.stderr());
        self.stderr()
    }
}
