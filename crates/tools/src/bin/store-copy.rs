//! `store-copy`: see `ferrosync_tools::store_copy`.

use clap::Parser;

fn main() {
    ferrosync_tools::cli::main_with(|| {
        ferrosync_tools::store_copy::run(ferrosync_tools::store_copy::Args::parse_from(std::env::args()))
    })
}
