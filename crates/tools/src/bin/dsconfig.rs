//! `dsconfig`: PingDataSync-compatible configuration of ferrosync.

fn main() {
    ferrosync_tools::cli::main_with(|| ferrosync_tools::dsconfig::run(std::env::args().skip(1).collect()))
}
