//! `store-copy`: copies a server root's SQLite store into an empty PostgreSQL store, so that the root (and
//! other servers) can use PostgreSQL from then on.

use anyhow::{bail, Context};
use clap::Parser;
use ferrosync::server_lock::{self, ServerState};
use ferrosync::store::{self, StoreLocation, STORE_FILE};

use crate::cli;

/// `store-copy --from DIR --to URL [--use]`.
#[derive(Parser, Debug)]
#[command(
    name = "store-copy",
    about = "Copies a server root's SQLite store (configuration, start points, id map, server values, counters) \
             into an empty PostgreSQL store, in one transaction. Sealed values stay sealed: every server that uses \
             the copy needs the server root's config/encryption.key.",
    disable_help_flag = true
)]
pub struct Args {
    /// The server root whose SQLite store (DIR/config/config.db) is copied (default: $FERROSYNC_ROOT, else the
    /// folder above bin/, else the current folder).
    #[arg(long = "from", alias = "server-root", value_name = "DIR")]
    pub from: Option<String>,
    /// The PostgreSQL store to copy into, empty (a new database or ?schema=NAME):
    /// postgresql://USER@HOST:PORT/DB?passfile=FILE; the password comes from the passfile (or $PGPASSFILE).
    #[arg(long = "to", value_name = "URL")]
    pub to: String,
    /// Then make the copy this server root's store: writes DIR/config/store, which every tool reads.
    #[arg(long = "use")]
    pub use_it: bool,
    /// Print this help.
    #[arg(long = "help", short = 'H', action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = cli::server_root(args.from.as_deref(), Some("sqlite"))?;
    let url = match cli::with_default_passfile(StoreLocation::parse(&args.to).context("the store given by --to")?) {
        StoreLocation::Postgres(url) => url,
        StoreLocation::Sqlite => bail!("--to names the SQLite store: give the PostgreSQL store to copy into"),
    };
    if let ServerState::Running(pid) = server_lock::probe(&root)? {
        bail!(
            "the sync server runs in {} (pid {}): stop it with stop-server first, so that the copy holds its last \
             start points",
            root.path().display(),
            pid.map_or_else(|| "starting".to_string(), |p| p.to_string())
        );
    }
    let report = store::copy_sqlite_to_postgres(&root.db_path(), &url)
        .with_context(|| format!("cannot copy {} into {url}", root.db_path().display()))?;
    cli::out(&format!(
        "Copied {} configuration object(s), {} start point(s), {} id-map record(s) and {} server value(s) from {} \
         into {url} (generation {}).\n",
        report.objects,
        report.start_points,
        report.id_map_records,
        report.server_values,
        root.db_path().display(),
        report.generation
    ))?;
    if args.use_it {
        let file = root.config_dir().join(STORE_FILE);
        let text = format!("# the store of this server root (written by store-copy)\n{url}\n");
        use std::io::Write;
        ferrosync::private_file::open(&file, ferrosync::private_file::How::Truncate)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", file.display()))?;
        cli::out(&format!("{} now names it: the tools of this server root use it.\n", file.display()))?;
    } else {
        cli::out(&format!(
            "To use it: --store '{url}', FERROSYNC_STORE, or that URL in {}.\n",
            root.config_dir().join(STORE_FILE).display()
        ))?;
    }
    cli::out(&format!(
        "Sealed values stay sealed with {}: every server that uses this store needs a copy of that key file \
         (mode 0600).\n",
        root.key_path().display()
    ))
}
