//! The LDAP client layer of ferrosync, used by every LDAP endpoint (sync sources and destinations, change-log
//! readers, prepare-endpoint-server), built on `ldap3`.
//!
//! * [`ServerConfig`] describes one server (host, port, LDAPS / StartTLS, trust, bind, timeouts, pool size).
//! * [`LdapPool`] keeps bound connections to one server, opened on demand and replaced when they die.
//! * [`LdapClient`] runs typed operations over an ordered failover list of servers, with Ping's failover codes
//!   (51, 52, 81, 91 and connection errors move on at once), retries with backoff ([`RetryPolicy`]) for
//!   retryable errors, and a response timeout around every operation (ldap3 has none by default).
//! * Entries come back as the core [`Entry`](ferrosync::entry::Entry); non-UTF-8 and known binary attributes as
//!   [`Value::Binary`](ferrosync::entry::Value::Binary). Search references never panic; they are skipped.
//! * [`LdapError`] names the server, the operation, the DN and the result code, and never holds a password.

// A library does not print: what it has to say goes through return values, the sync log or a caller's sink.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod accesslog;
pub mod ad;
pub mod adstate;
mod ber;
pub mod changelog;
mod client;
mod config;
pub mod contentsync;
mod convert;
pub mod detector;
pub mod dirsync;
pub mod doorbell;
pub mod endpoint;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod pool;
pub mod prepare;
pub mod provider;
mod stream;

pub use client::{DedicatedConnection, LdapClient, RawSearchResult, ServerStatus};
pub use config::{ClientCertificate, ClientOptions, RetryPolicy, Security, ServerConfig, Trust};
pub use convert::{
    add_attributes, entry_from_result_entry, entry_from_search_entry, is_binary_attribute, push_attribute,
    strip_binary_option, Modification,
};
pub use error::{classify_rc, connect_hint, rc, result_code_name, ErrorClass, LdapError, TimeoutKind};
pub use pool::LdapPool;
pub use stream::EntryStream;

/// The ldap3 version this crate is built on, for raw controls, `ResultEntry` and `Ldap` handles.
pub use ldap3;
pub use ldap3::Scope;

/// Result of this crate's operations.
pub type Result<T, E = LdapError> = std::result::Result<T, E>;
