//! Shell completions and man pages for every tool, made from the definitions the tools parse with: clap's for
//! the tools that use it, the configuration model and its global-option table for `dsconfig`, and the
//! wizard's question table for `create-sync-pipe-config`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Arg, ArgAction, Command, CommandFactory, Parser, ValueEnum};
use clap_complete::Shell;
use ferrosync::dsconfig::args::{Action, GLOBAL_OPTIONS};
use ferrosync::model::{all_types, ObjectType};

/// `install-completions`: writes the completions and man pages of every tool under a prefix.
#[derive(Parser, Debug)]
#[command(
    name = "install-completions",
    about = "Installs shell completions and man pages for every ferrosync tool.",
    after_help = "With the defaults, bash finds the completions in ~/.local/share/bash-completion/completions, \
                  zsh in ~/.local/share/zsh/site-functions (add it to fpath), fish in \
                  ~/.local/share/fish/vendor_completions.d, and man in ~/.local/share/man."
)]
pub struct Args {
    /// The folder under which share/... is written (default: $XDG_DATA_HOME's parent, else ~/.local).
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,
    /// The shells to write completions for (repeat or separate with commas).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Sh::Bash, Sh::Zsh, Sh::Fish])]
    pub shell: Vec<Sh>,
    /// Do not write man pages.
    #[arg(long)]
    pub no_man: bool,
    /// Do not write completions.
    #[arg(long)]
    pub no_completions: bool,
}

/// A shell clap_complete writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sh {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

impl Sh {
    fn shell(self) -> Shell {
        match self {
            Sh::Bash => Shell::Bash,
            Sh::Zsh => Shell::Zsh,
            Sh::Fish => Shell::Fish,
            Sh::Elvish => Shell::Elvish,
            Sh::Powershell => Shell::PowerShell,
        }
    }

    /// Where the shell looks for completions under `share`, and the file name it expects for `tool`.
    fn path(self, share: &Path, tool: &str) -> PathBuf {
        match self {
            Sh::Bash => share.join("bash-completion/completions").join(tool),
            Sh::Zsh => share.join("zsh/site-functions").join(format!("_{tool}")),
            Sh::Fish => share.join("fish/vendor_completions.d").join(format!("{tool}.fish")),
            Sh::Elvish => share.join("elvish/lib/completions").join(format!("{tool}.elv")),
            Sh::Powershell => share.join("powershell/completions").join(format!("{tool}.ps1")),
        }
    }
}

/// Every tool's command definition.
pub fn commands() -> Vec<Command> {
    vec![
        dsconfig(),
        wizard(),
        crate::resync::Args::command().name("resync"),
        crate::realtime_sync::Args::command().name("realtime-sync"),
        crate::prepare_endpoint_server::Args::command().name("prepare-endpoint-server"),
        crate::config_diff::Args::command().name("config-diff"),
        crate::store_copy::Args::command().name("store-copy"),
        crate::server::ServerArgs::command().name("start-server").about("Starts the sync server in the background."),
        crate::server::ServerArgs::command().name("stop-server").about("Stops the sync server."),
        crate::server::ServerArgs::command()
            .name("status")
            .about("Shows the sync server's state and each pipe's live counters."),
        Args::command(),
    ]
}

/// `dsconfig`, from the global-option table and the configuration model.
pub fn dsconfig() -> Command {
    let mut cmd = Command::new("dsconfig")
        .about("Creates, lists, shows, changes and deletes ferrosync's configuration objects, with PingDataSync's dsconfig syntax.")
        .disable_help_flag(true)
        .disable_help_subcommand(true);
    for o in GLOBAL_OPTIONS {
        let help =
            if o.ignored() { "PingDataSync's option: accepted and ignored (the store is local)" } else { o.help };
        let mut arg = Arg::new(o.long).long(o.long).help(help).global(true);
        if let Some(c) = o.short {
            arg = arg.short(c);
        }
        arg = match o.value {
            Some(v) => arg.value_name(v).action(ArgAction::Set),
            None => arg.action(ArgAction::SetTrue),
        };
        if o.value == Some("FILE") || o.value == Some("DIR") {
            arg = arg.value_hint(clap::ValueHint::AnyPath);
        }
        cmd = cmd.arg(arg);
    }
    for t in all_types() {
        for &action in Action::for_type(t) {
            cmd = cmd.subcommand(subcommand(t, action));
        }
    }
    let type_names: Vec<&'static str> = all_types().map(|t| t.name).collect();
    cmd.subcommand(
        Command::new("list-properties")
            .about("Describes the properties of object types.")
            .arg(Arg::new("type").long("type").short('t').value_name("TYPE").value_parser(type_names))
            .arg(Arg::new("property").long("property").value_name("PROPERTY")),
    )
}

fn subcommand(t: &'static ObjectType, action: Action) -> Command {
    let about = match action {
        Action::Create => format!("Creates a {}.", t.display),
        Action::Delete => format!("Deletes a {}.", t.display),
        Action::List => format!("Lists the {}s.", t.display),
        Action::Get => format!("Shows the properties of a {}.", t.display),
        Action::Set => format!("Changes the properties of a {}.", t.display),
    };
    let mut sub = Command::new(action.subcommand(t)).about(about);
    let naming = t.naming_args();
    let naming = if action == Action::List { &naming[..naming.len().saturating_sub(1)] } else { &naming[..] };
    for n in naming {
        sub = sub.arg(Arg::new(*n).long(*n).value_name("NAME").required(true));
    }
    // Every property of every variant: completion offers the names, the model checks them when the command runs.
    let mut props: Vec<&'static str> = t.common.iter().map(|p| p.name).collect();
    for v in t.variants {
        for group in v.groups {
            props.extend(group.iter().map(|p| p.name));
        }
    }
    props.sort_unstable();
    props.dedup();
    let many = |name: &'static str, value: &'static str, help: &'static str| {
        Arg::new(name).long(name).value_name(value).action(ArgAction::Append).help(help)
    };
    match action {
        Action::Create => {
            if !t.variants.is_empty() {
                let variants: Vec<&'static str> = t.variants.iter().map(|v| v.name).collect();
                sub = sub.arg(
                    Arg::new("type")
                        .long("type")
                        .short('t')
                        .value_name("TYPE")
                        .value_parser(variants)
                        .required(t.default_variant.is_none()),
                );
            }
            sub = sub.arg(many("set", "PROPERTY:VALUE", "a property's value"));
        }
        Action::Set => {
            sub = sub
                .arg(many("set", "PROPERTY:VALUE", "replace a property's values with this one"))
                .arg(many("add", "PROPERTY:VALUE", "add a value to a property"))
                .arg(many("remove", "PROPERTY:VALUE", "remove a value from a property"))
                .arg(many("reset", "PROPERTY", "return a property to its default").value_parser(props));
        }
        Action::Get | Action::List => {
            sub = sub.arg(many("property", "PROPERTY", "show only this property").value_parser(props));
        }
        Action::Delete => {}
    }
    sub
}

/// `create-sync-pipe-config`, from the wizard's question table.
pub fn wizard() -> Command {
    let mut cmd = Command::new("create-sync-pipe-config")
        .about("The sync pipe wizard: endpoints, servers, sync user, pipe and sync classes.")
        .disable_help_flag(true)
        .arg(Arg::new("help").long("help").short('H').action(ArgAction::SetTrue).help("this help"))
        .arg(Arg::new("no-prompt").long("no-prompt").short('n').action(ArgAction::SetTrue).help("never prompt"))
        .arg(
            Arg::new("skipConnectionTest")
                .long("skipConnectionTest")
                .action(ArgAction::SetTrue)
                .help("do not test the connections"),
        )
        .arg(
            Arg::new("propertiesFilePath")
                .long("propertiesFilePath")
                .value_name("FILE")
                .value_hint(clap::ValueHint::FilePath)
                .help("read the answers from a properties file"),
        )
        .arg(
            Arg::new("generateBatchFile")
                .long("generateBatchFile")
                .value_name("FILE")
                .value_hint(clap::ValueHint::FilePath)
                .help("write a dsconfig batch file instead of changing the store"),
        )
        .arg(Arg::new("server-root").long("server-root").value_name("DIR").value_hint(clap::ValueHint::DirPath))
        .arg(Arg::new("store").long("store").value_name("URL"));
    for q in ferrosync::wizard::QUESTIONS {
        let action = if q.multi { ArgAction::Append } else { ArgAction::Set };
        cmd = cmd.arg(Arg::new(q.key).long(q.key).value_name("VALUE").action(action).help(q.what));
    }
    cmd
}

/// Runs `install-completions`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let prefix = match args.prefix {
        Some(p) => p,
        None => default_prefix()?,
    };
    let share = prefix.join("share");
    let mut written = 0usize;
    for mut cmd in commands() {
        let name = cmd.get_name().to_string();
        if !args.no_completions {
            for sh in &args.shell {
                let path = sh.path(&share, &name);
                let mut text = Vec::new();
                clap_complete::generate(sh.shell(), &mut cmd, name.clone(), &mut text);
                write(&path, &text)?;
                written += 1;
            }
        }
        if !args.no_man {
            let mut text = Vec::new();
            clap_mangen::Man::new(cmd.clone())
                .render(&mut text)
                .with_context(|| format!("cannot render the man page of {name}"))?;
            write(&share.join("man/man1").join(format!("{name}.1")), &text)?;
            written += 1;
        }
    }
    crate::cli::out(&format!("wrote {written} files under {}\n", share.display()))
}

fn default_prefix() -> anyhow::Result<PathBuf> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()).map(PathBuf::from) {
        if let Some(parent) = data.parent() {
            return Ok(parent.to_path_buf());
        }
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow::anyhow!("HOME is not set: give the folder with --prefix"))?;
    Ok(PathBuf::from(home).join(".local"))
}

fn write(path: &Path, text: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_definition_is_consistent() {
        for cmd in commands() {
            cmd.debug_assert();
        }
    }

    #[test]
    fn dsconfig_definition_has_every_subcommand_the_parser_knows() {
        let cmd = dsconfig();
        let defined: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
        for sub in ferrosync::dsconfig::args::all_subcommands() {
            assert!(defined.contains(&sub.as_str()), "{sub} has no completion");
        }
        let set = cmd.find_subcommand("set-sync-pipe-prop").unwrap();
        let reset = set.get_arguments().find(|a| a.get_id() == "reset").unwrap();
        let values: Vec<String> = reset.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
        assert!(values.iter().any(|v| v == "num-worker-threads"), "{values:?}");
    }

    #[test]
    fn the_wizard_definition_has_every_question() {
        let cmd = wizard();
        for q in ferrosync::wizard::QUESTIONS {
            assert!(cmd.get_arguments().any(|a| a.get_long() == Some(q.key)), "--{} has no completion", q.key);
        }
    }
}
