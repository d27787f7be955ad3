//! `prepare-endpoint-server`: get a directory server ready to be a sync source or destination.

use clap::Parser;

fn main() {
    ferrosync_tools::cli::main_with(|| {
        ferrosync_tools::prepare_endpoint_server::run(ferrosync_tools::prepare_endpoint_server::Args::parse())
    })
}
