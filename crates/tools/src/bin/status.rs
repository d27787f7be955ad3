//! `status`: see `ferrosync_tools::server`.

use clap::Parser;

fn main() {
    ferrosync_tools::cli::main_with(|| {
        ferrosync_tools::server::status(ferrosync_tools::server::ServerArgs::parse_from(std::env::args()))
    })
}
