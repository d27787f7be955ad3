//! ferrosync's command-line tools. Each `src/bin/<tool>.rs` only calls `<tool>::run`; the work happens in the
//! modules here and in the `ferrosync` core library.

pub mod cli;
pub mod dsconfig;
pub mod endpoints;
pub mod prepare_endpoint_server;
pub mod realtime_sync;
pub mod resync;
pub mod server;
