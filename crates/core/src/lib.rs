//! ferrosync core: everything the tools do, as a library. The binaries in `ferrosync-tools` only parse arguments
//! and render; the endpoint crates (`ferrosync-ldap`, `ferrosync-scim`, `ferrosync-pingone`) plug in through
//! [`endpoint`]'s traits and [`registry`]. Where each concern lives:
//!
//! | concern | module |
//! |---|---|
//! | the configuration model, declared once as data (types, properties, syntax, defaults, unused flags) | [`model`] |
//! | Ping's other object types, stored but not used, and their undeclared properties | [`model::catalog`] |
//! | configuration objects in memory and the rules every change keeps | [`config`] |
//! | typed settings built from the configuration (the only way engine, endpoints and tools read it) | [`settings`] |
//! | the dsconfig language, batch files, rendering and notes | [`dsconfig`], [`batch`] |
//! | config-diff: the batch that turns one configuration into another | [`dsconfig::diff`] |
//! | value syntaxes: DNs, filters, value and DN patterns, durations | [`syntax`] |
//! | the mapping layer: sync classes, attribute maps, DN maps, diffs, digests | [`mapping`] |
//! | the endpoint traits (source, destination, change detector) and their capabilities | [`endpoint`] |
//! | which endpoint crate serves which `--type` | [`registry`] |
//! | the engine: fetch, class, map, correlate, diff, apply | [`engine`] |
//! | resync (with its id-map recording) and the real-time pipe runner | [`engine::resync`], [`engine::realtime`] |
//! | the supervisor that runs the started pipes and reloads configuration | [`engine::supervisor`] |
//! | the running server's live figures, health and history (read by `ferrosync-http`) | [`engine::monitor`] |
//! | the state and configuration store (SQLite), start points, id map | [`store`] |
//! | one server per server root (the process lock) | [`server_lock`] |
//! | the sync log, failed-ops log and error log | [`synclog`], [`errorlog`] |
//! | sealed secrets | [`secret`] |
//! | files that hold secrets or logs: private (0600), no symlinks, atomic creation | [`private_file`] |
//! | HTTPS trust (trust manager providers) and the HTTP agent of the REST endpoints | [`https`] |
//! | the sync pipe wizard and the prompts it shares with the dsconfig menu | [`wizard`], [`prompt`] |
//!
//! Fake endpoints and the model-based test of the engine live in the dev-only crate `crates/testkit`.

// A library does not print: what it has to say goes through return values, the sync log or a caller's sink.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod batch;
pub mod config;
pub mod dsconfig;
pub mod endpoint;
pub mod engine;
pub mod entry;
pub mod error;
pub mod errorlog;
pub mod https;
pub mod logfile;
pub mod mapping;
pub mod model;
pub mod private_file;
pub mod prompt;
pub mod registry;
pub mod secret;
pub mod server_lock;
pub mod settings;
pub mod store;
pub mod synclog;
pub mod syntax;
pub mod truststore;
pub mod util;
pub mod wizard;
