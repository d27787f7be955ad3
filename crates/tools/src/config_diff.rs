//! `config-diff`: prints the dsconfig batch that turns one configuration (by default a new server root's
//! built-in one) into another (by default this server root's), as Ping's config-diff does. The comparison
//! lives in `ferrosync::dsconfig::diff`; this reads the two sides, writes the value files and the output.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use ferrosync::config::{Config, SecretSealer};
use ferrosync::dsconfig::diff::{self, Exclude, Side};
use ferrosync::error::{ConfigError, StoreError};
use ferrosync::secret::Secret;
use ferrosync::store::{ServerRoot, Store};

use crate::cli;

#[derive(Parser, Debug)]
#[command(
    name = "config-diff",
    about = "Prints the dsconfig batch that turns the source configuration (by default: a new server root's \
             built-in configuration) into the target's (by default: this server root's). Secret values are \
             never printed: the batch reads each from a file (--set 'password<FILE')."
)]
pub struct Args {
    /// The local server root (default: $FERROSYNC_ROOT, else the folder above bin/, else the current folder).
    #[arg(long = "server-root", value_name = "DIR")]
    pub server_root: Option<String>,
    /// The local server root's store: 'sqlite' (SERVER-ROOT/config/config.db) or
    /// postgresql://USER@HOST:PORT/DB?passfile=FILE (default: $FERROSYNC_STORE, else the one SERVER-ROOT/config/store
    /// names, else sqlite). --sourceRoot and --targetRoot use the store their config/store names.
    #[arg(long = "store", value_name = "URL")]
    pub store: Option<String>,
    /// Compare from the local server root's configuration.
    #[arg(long = "sourceLocal", conflicts_with_all = ["source_root", "source_batch_file"])]
    pub source_local: bool,
    /// Compare from another server root's configuration.
    #[arg(long = "sourceRoot", value_name = "DIR", conflicts_with = "source_batch_file")]
    pub source_root: Option<PathBuf>,
    /// Compare from the configuration a batch file gives a new server root.
    #[arg(long = "sourceBatchFile", value_name = "FILE")]
    pub source_batch_file: Option<PathBuf>,
    /// Compare to the local server root's configuration (the default).
    #[arg(long = "targetLocal", conflicts_with = "target_root")]
    pub target_local: bool,
    /// Compare to another server root's configuration.
    #[arg(long = "targetRoot", value_name = "DIR")]
    pub target_root: Option<PathBuf>,
    /// Write the batch to FILE instead of standard output.
    #[arg(long = "outputFile", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Leave out an object type (such as root-dn-user), or 'unused': every object ferrosync does not use.
    /// Repeat it for several.
    #[arg(long = "exclude", value_name = "WHAT")]
    pub exclude: Vec<String>,
    /// Write each secret value into a file of DIR (mode 0600), which the batch reads it from. Without it the
    /// batch names files under config-diff-secrets/ that config-diff does not write.
    #[arg(long = "secretsDir", value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Never prompt (config-diff never does).
    #[arg(long = "no-prompt", short = 'n')]
    pub no_prompt: bool,
}

/// The folder the batch names value files in when `--secretsDir` is not given.
const UNWRITTEN_DIR: &str = "config-diff-secrets";

/// One side, loaded: its configuration, the store that reads its sealed values, and a description.
struct Loaded {
    config: Config,
    store: Option<Store>,
    what: String,
}

impl Loaded {
    fn reveal(&self, stored: &str) -> Result<Secret, StoreError> {
        match &self.store {
            Some(store) => store.secrets().decrypt(stored),
            // A batch file's values were kept in clear in memory (see Plain).
            None => Ok(Secret::new(stored.strip_prefix(PLAIN).unwrap_or(stored))),
        }
    }
}

/// A server root's store; refused when it has none (config-diff never makes one).
fn open_root(root: &ServerRoot, role: &str) -> anyhow::Result<Loaded> {
    let dir = root.path().display().to_string();
    if !cli::store_exists(root) {
        anyhow::bail!(
            "the {role} server root {dir} has no configuration store ({} does not exist)",
            root.db_path().display()
        );
    }
    let store = cli::open_store(root)?;
    let config = store.load().with_context(|| format!("cannot read the configuration of {dir}"))?;
    Ok(Loaded { config, store: Some(store), what: format!("the server root {dir}") })
}

/// Another server root (`--sourceRoot`, `--targetRoot`), with the store its `config/store` names.
fn other_root(dir: &Path) -> anyhow::Result<ServerRoot> {
    let root = ServerRoot::new(dir);
    let location = root.store().with_context(|| format!("the store of the server root {}", dir.display()))?;
    Ok(root.with_store(cli::with_default_passfile(location)))
}

/// Keeps a batch file's secrets in memory, marked, for the comparison (they are never written out).
struct Plain;
const PLAIN: &str = "enc:v1:plain:";

impl SecretSealer for Plain {
    fn seal(&self, plain: &str) -> Result<String, ConfigError> {
        Ok(format!("{PLAIN}{plain}"))
    }
}

fn from_batch(file: &Path) -> anyhow::Result<Loaded> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read the batch file {}", file.display()))?;
    let mut config = Config::builtin();
    let name = file.display().to_string();
    ferrosync::dsconfig::run_batch(&name, &text, &mut config, &Plain, Default::default(), false)
        .with_context(|| format!("the source batch file {name} does not apply to a new server root"))?;
    Ok(Loaded { config, store: None, what: format!("a new server root after {name}") })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let exclude: Vec<Exclude> =
        args.exclude.iter().map(|e| Exclude::parse(e).map_err(cli::Usage)).collect::<Result<_, _>>()?;
    let local = || cli::server_root(args.server_root.as_deref(), args.store.as_deref());
    let source = match (&args.source_root, &args.source_batch_file, args.source_local) {
        (Some(dir), _, _) => open_root(&other_root(dir)?, "source")?,
        (_, Some(file), _) => from_batch(file)?,
        (_, _, true) => open_root(&local()?, "source")?,
        _ => Loaded { config: Config::builtin(), store: None, what: "a new server root".into() },
    };
    let target = match &args.target_root {
        Some(dir) => open_root(&other_root(dir)?, "target")?,
        None => open_root(&local()?, "target")?,
    };
    let dir = match &args.secrets_dir {
        Some(d) => {
            make_private_dir(d)?;
            std::fs::canonicalize(d).with_context(|| format!("cannot resolve {}", d.display()))?.display().to_string()
        }
        None => UNWRITTEN_DIR.to_string(),
    };
    let (reveal_source, reveal_target) = (|v: &str| source.reveal(v), |v: &str| target.reveal(v));
    let d = diff::diff(
        &Side { name: "source", config: &source.config, reveal: &reveal_source },
        &Side { name: "target", config: &target.config, reveal: &reveal_target },
        &exclude,
        &dir,
    )?;
    let mut header = format!(
        "# The dsconfig batch that turns the configuration of {} into that of {}, written by config-diff.\n\
         # Apply it with: dsconfig --no-prompt --batch-file FILE (all or nothing).\n",
        source.what, target.what
    );
    if !exclude.is_empty() {
        header.push_str(&format!("# Left out: {}.\n", args.exclude.join(", ")));
    }
    if !d.files.is_empty() {
        match &args.secrets_dir {
            Some(_) => header.push_str(&format!(
                "# Secret values are read from files in {dir} (mode 0600), written by config-diff.\n"
            )),
            None => header.push_str(&format!(
                "# Secret values are read from files in {dir}/, which config-diff did not write (run it with \
                 --secretsDir DIR to write them): {}.\n",
                d.files.iter().map(|f| f.owner.as_str()).collect::<Vec<_>>().join("; ")
            )),
        }
    }
    if args.secrets_dir.is_some() {
        for f in &d.files {
            let path = Path::new(&f.path);
            let mut file = ferrosync::private_file::open(path, ferrosync::private_file::How::Truncate)
                .with_context(|| format!("cannot write {} ({})", path.display(), f.owner))?;
            file.write_all(f.value.expose().as_bytes())
                .with_context(|| format!("cannot write {} ({})", path.display(), f.owner))?;
        }
    }
    let text = d.batch_text(&header);
    match &args.output_file {
        Some(out) => {
            std::fs::write(out, &text).with_context(|| format!("cannot write the output file {}", out.display()))?;
            eprintln!("{}: {} command(s)", out.display(), d.commands.len());
            Ok(())
        }
        None => cli::out(&text),
    }
}

/// Creates `dir` (mode 0700 when new); an existing one is used as it is.
fn make_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).with_context(|| format!("cannot create the secrets folder {}", dir.display()))
}
