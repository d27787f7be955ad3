//! `realtime-sync`: start and stop pipes, set their change-log start points.

use clap::Parser;

fn main() {
    ferrosync_tools::cli::main_with(|| {
        ferrosync_tools::realtime_sync::run(ferrosync_tools::realtime_sync::Args::parse())
    })
}
