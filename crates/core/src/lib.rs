//! ferrosync core: the configuration model (declared once, as data), the SQLite store, the dsconfig command
//! language and batch files, the mapping language and, in later steps, the sync engine. The tools in
//! `ferrosync-tools` are thin layers over this crate.

pub mod batch;
pub mod config;
pub mod dsconfig;
pub mod endpoint;
pub mod engine;
pub mod entry;
pub mod error;
pub mod errorlog;
pub mod mapping;
pub mod model;
pub mod prompt;
pub mod secret;
pub mod server_lock;
pub mod store;
pub mod synclog;
pub mod syntax;
pub mod util;
pub mod wizard;
