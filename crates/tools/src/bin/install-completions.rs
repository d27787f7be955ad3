//! `install-completions`: shell completions and man pages for every ferrosync tool.

use clap::Parser;

fn main() {
    ferrosync_tools::cli::main_with(|| ferrosync_tools::shell::run(ferrosync_tools::shell::Args::parse()))
}
