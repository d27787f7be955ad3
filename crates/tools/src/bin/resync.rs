//! `resync`: bulk-compare a sync pipe's source and destination and repair the differences.

use clap::Parser;

fn main() {
    ferrosync_tools::cli::main_with(|| ferrosync_tools::resync::run(ferrosync_tools::resync::Args::parse()))
}
