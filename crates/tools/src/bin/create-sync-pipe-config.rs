//! `create-sync-pipe-config`: the sync pipe wizard, interactive or driven by flags and a properties file.

fn main() {
    ferrosync_tools::cli::main_with(|| {
        ferrosync_tools::create_sync_pipe_config::run(std::env::args().skip(1).collect())
    })
}
