//! Driving a tool through a pseudo-terminal, as a person at a terminal would (rexpect).
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};

/// A tool running on a pseudo-terminal; every expectation waits up to 60 s (generous for a loaded machine).
pub struct Pty {
    pub session: PtySession,
    /// Everything read so far, for failure messages.
    pub seen: String,
}

impl Pty {
    /// Starts `tool` with `args` and `--server-root root`.
    pub fn spawn(tool: &str, root: &Path, args: &[&str]) -> Pty {
        let mut cmd = Command::new(super::bin(tool));
        cmd.args(args).arg("--server-root").arg(root);
        cmd.env_remove("FERROSYNC_ROOT").env_remove("FERROSYNC_LAUNCHER_ROOT").env("TERM", "xterm");
        let session =
            spawn_with_options(cmd, Options::new().timeout_ms(Some(60_000)).strip_ansi_escape_codes(true)).unwrap();
        Pty { session, seen: String::new() }
    }

    /// Waits for `text`; panics with what was seen when it does not come.
    #[track_caller]
    pub fn expect(&mut self, text: &str) -> String {
        match self.session.exp_string(text) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(text);
                before
            }
            Err(e) => panic!("expected {text:?}: {e}\nseen so far:\n{}", self.seen),
        }
    }

    /// Waits for `prompt`, then types `answer` and Enter.
    #[track_caller]
    pub fn answer(&mut self, prompt: &str, answer: &str) {
        self.expect(prompt);
        self.session.send_line(answer).unwrap();
    }

    /// Waits for a menu's `title`, then its "Enter choice" prompt, and answers it. (Waiting for the title first
    /// keeps the previous answer's "Enter choice: x" line from matching.)
    #[track_caller]
    pub fn choose(&mut self, title: &str, answer: &str) {
        self.expect(title);
        self.answer("Enter choice", answer);
    }

    /// At the wizard's "What next" menu, writes the configuration to the store and checks that the tool ends
    /// successfully.
    #[track_caller]
    pub fn write_to_store(&mut self) {
        self.expect("What next");
        self.answer("Enter a choice", "1");
        self.expect("The configuration was written");
        let code = self.finish();
        assert_eq!(code, 0, "{}", self.seen);
    }

    /// Waits for the end of the output and returns the exit code.
    #[track_caller]
    pub fn finish(&mut self) -> i32 {
        match self.session.exp_eof() {
            Ok(rest) => self.seen.push_str(&rest),
            Err(e) => panic!("expected the end: {e}\nseen so far:\n{}", self.seen),
        }
        match self.session.process.wait().unwrap() {
            rexpect::process::wait::WaitStatus::Exited(_, code) => code,
            other => panic!("unexpected end {other:?}\n{}", self.seen),
        }
    }
}
