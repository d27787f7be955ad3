//! `config-diff`: the dsconfig batch that turns one configuration into another.

use clap::Parser;

fn main() {
    ferrosync_tools::cli::main_with(|| ferrosync_tools::config_diff::run(ferrosync_tools::config_diff::Args::parse()))
}
