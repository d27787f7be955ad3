//! ferrosync's command-line tools. Each `src/bin/<tool>.rs` only calls `<tool>::run`; the work happens in the
//! modules here and in the `ferrosync` core library.

pub mod cli;
pub mod config_diff;
pub mod create_sync_pipe_config;
pub mod dsconfig;
pub mod endpoints;
pub mod menu;
pub mod prepare_endpoint_server;
mod prepare_jdbc;
pub mod realtime_sync;
pub mod resync;
pub mod server;
pub mod shell;
pub mod store_copy;
pub mod terminal;

/// Every tool allocates through mimalloc: the sync paths allocate and free millions of small buffers (BER
/// messages, attribute values), and glibc's allocator spent a third of resync's instructions on them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
