//! create-sync-pipe-config's logic, without a terminal: the questions in the order PingDataSync's wizard asks
//! them, the validation of each answer, and the answers turned into dsconfig commands.
//!
//! Every question has a key, which is also its command-line flag (`--sourceBaseDN`) and its key in a
//! properties file (`sourceBaseDN=dc=example,dc=com`). [`Wizard::run`] takes each answer from the given
//! [`Answers`] when it is there (a wrong one is an error naming the key), else asks the [`Prompter`](crate::prompt::Prompter) (a wrong
//! answer is re-asked with the reason), else, with `--no-prompt`, uses the question's default or fails with
//! [`WizardError::Missing`] naming the first missing answer. Connections are tested through a [`Probe`], which
//! the tool implements with the LDAP client (this crate has none).
//!
//! The result is a [`Plan`]; [`Plan::commands`] gives the dsconfig commands that create it, applied to the
//! store with [`crate::dsconfig::apply_batch_text`] (all or nothing) or written as a batch file for
//! `dsconfig --batch-file`.
//!
//! Where each part lives: [`questions`] (the question table, the checks of single answers, `--help`),
//! [`answers`] (answers given as flags or in a properties file), [`kinds`] (the endpoint kinds offered, and
//! their security, trust and servers), [`probe`] (connection tests), [`plan`] (the plan and its dsconfig
//! commands), [`run`] (the questions asked in order); `ad`, `http` and `reuse` hold the Active Directory preset,
//! the HTTP endpoints and the objects used as they are. The prompting itself is [`crate::prompt`].

mod ad;
pub mod answers;
mod http;
pub mod kinds;
pub mod plan;
pub mod probe;
pub mod questions;
mod reuse;
pub mod run;
#[cfg(test)]
mod tests;

pub use answers::Answers;
pub use http::{Http, ScimAuth};
pub use kinds::{endpoint_kinds, parse_host_port, EndpointKind, HostPort, Security, Trust, ENDPOINT_KINDS};
pub use plan::{shell_quote, translate_dn, Attributes, Endpoint, Operations, Plan, SyncClass};
pub use probe::{Connection, Detected, NoProbe, PrepareRequest, Prepared, Probe, NO_PREPARE};
pub use questions::{
    check_dn, check_name, check_no_overlap, check_yes_no, help, question, Question, QUESTIONS, TOOL_FLAGS,
};
pub use reuse::Existing;
pub use run::Wizard;

use crate::prompt::PromptError;

/// Why the wizard stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WizardError {
    #[error(
        "missing answer --{key} ({what}): give it as a flag or in the properties file, or answer it on a terminal without --no-prompt"
    )]
    Missing { key: String, what: String },
    #[error("invalid answer --{key} '{value}': {reason}")]
    Invalid { key: String, value: String, reason: String },
    #[error("--{key}: {reason}")]
    Check { key: String, reason: String },
    #[error("unknown answer '{key}' in {origin}: {}valid keys are {}", .suggestion.as_ref().map(|s| format!("did you mean '{s}'? ")).unwrap_or_default(), .valid.join(", "))]
    UnknownKey { key: String, origin: String, suggestion: Option<String>, valid: Vec<String> },
    #[error("{origin}:{line}: expected KEY=VALUE, found '{text}'")]
    Syntax { origin: String, line: usize, text: String },
    /// The prompting failed or the user stopped.
    #[error(transparent)]
    Prompt(#[from] PromptError),
}
