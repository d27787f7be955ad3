//! The prepare-endpoint-server tool: gets a directory server ready to be a sync source or destination (the sync
//! user, its rights, the change log), with PingDataSync's options. The work is in
//! [`ferrosync_ldap::prepare`]; this module reads the options, asks for what is missing, and prints the report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use ferrosync::secret::Secret;
use ferrosync_ldap::prepare::{self, PrepareOptions, Report, Status};
use ferrosync_ldap::{ClientOptions, LdapClient, RetryPolicy, Security, ServerConfig, Trust};

use crate::cli::{self, Usage};

/// Exit code when the tool ran but something is left for the operator (or a check as the sync user failed).
pub const EXIT_LEFT_TO_DO: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "prepare-endpoint-server",
    about = "Prepares a directory server to be a sync source or destination: creates the sync user, grants it \
             what the server needs, turns the change log on where the server allows it, and checks the result.",
    disable_help_flag = true,
    after_help = "Exit codes: 0 when everything is in place and every check as the sync user passed; 3 when \
                  something is left to do (listed under \"Left to do\") or a check failed; 1 on errors; 2 on a \
                  bad command line. A second run changes nothing that is already in place."
)]
pub struct Args {
    /// The directory server's host name or address.
    #[arg(short = 'h', long = "hostname", value_name = "HOST", default_value = "localhost")]
    pub hostname: String,
    /// Its LDAP port (default: 636 with --useSSL, else 389).
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,
    /// Connect with LDAPS.
    #[arg(short = 'Z', long = "useSSL")]
    pub use_ssl: bool,
    /// Connect with StartTLS.
    #[arg(short = 'q', long = "useStartTLS")]
    pub use_start_tls: bool,
    /// A PEM file with the CA certificate(s) to trust (ferrosync's stand-in for Ping's trust store).
    #[arg(short = 'P', long = "trustStorePath", value_name = "FILE")]
    pub trust_store_path: Option<PathBuf>,
    /// Trust any server certificate (tests only).
    #[arg(short = 'X', long = "trustAll")]
    pub trust_all: bool,
    /// An administrator's DN, used to create the sync user and change the server's configuration.
    #[arg(short = 'D', long = "bindDN", value_name = "DN", default_value = "cn=Directory Manager")]
    pub bind_dn: String,
    /// The administrator's password (prompted for when missing).
    #[arg(short = 'w', long = "bindPassword", value_name = "PASSWORD")]
    pub bind_password: Option<Secret>,
    /// A file holding the administrator's password.
    #[arg(short = 'j', long = "bindPasswordFile", value_name = "FILE")]
    pub bind_password_file: Option<PathBuf>,
    /// The sync user's DN (default: cn=Sync User,cn=config on 389 DS; cn=Sync User,BASE-DN on OpenLDAP;
    /// CN=Sync User,CN=Users,DOMAIN on Active Directory; cn=Sync User,cn=Root DNs,cn=config elsewhere).
    #[arg(long = "syncServerBindDN", value_name = "DN")]
    pub sync_server_bind_dn: Option<String>,
    /// The sync user's password (prompted for when missing).
    #[arg(long = "syncServerBindPassword", value_name = "PASSWORD")]
    pub sync_server_bind_password: Option<Secret>,
    /// A file holding the sync user's password.
    #[arg(long = "syncServerBindPasswordFile", value_name = "FILE")]
    pub sync_server_bind_password_file: Option<PathBuf>,
    /// The base DN of the entries to synchronize (prompted for when missing).
    #[arg(short = 'b', long = "baseDN", value_name = "DN")]
    pub base_dn: Option<String>,
    /// The server is a sync source (the change log is turned on and checked).
    #[arg(long = "isSource")]
    pub is_source: bool,
    /// The server is a sync destination (the sync user may write below the base DN).
    #[arg(long = "isDestination")]
    pub is_destination: bool,
    /// 389 DS source: keep the clear text of password changes in the retro changelog
    /// (nsslapd-unhashed-pw-switch: on), so that passwords reach Active Directory destinations.
    #[arg(long = "recordClearTextPasswords")]
    pub record_clear_text_passwords: bool,
    /// How long the change log keeps changes, as 8h, 3d or 1w (Ping's changelog-maximum-age). 389 DS: set in
    /// nsslapd-changelogmaxage (default: 2d when it has none). OpenLDAP: used in the printed logpurge line
    /// (default 7d).
    #[arg(long = "changelogMaxAge", value_name = "AGE", value_parser = parse_age)]
    pub changelog_max_age: Option<Duration>,
    /// The server root, whose logs/prepare-endpoint-server.log records every step and warning (default:
    /// $FERROSYNC_ROOT, else the folder above bin/, else the current folder).
    #[arg(long = "server-root", value_name = "DIR")]
    pub server_root: Option<String>,
    /// PostgreSQL (a `jdbc` sync source): the database, as postgresql://ROLE@HOST:PORT/DATABASE?passfile=FILE
    /// (also sslmode, sslrootcert); the role creates the change log table, its trigger function and the
    /// triggers (it must own the tables). Its password: --bindPassword(File), else the passfile. Default with
    /// --sync-source: the source's external server and user.
    #[arg(long = "databaseURL", value_name = "URL")]
    pub database_url: Option<String>,
    /// PostgreSQL: the `jdbc` sync source (of the server root's configuration) whose table, child tables and
    /// change log table are prepared.
    #[arg(long = "sync-source", value_name = "NAME")]
    pub sync_source: Option<String>,
    /// PostgreSQL, without --sync-source: a table whose changes are logged, as SCHEMA.TABLE or
    /// SCHEMA.TABLE:KEY-COLUMN,... (default: its primary key; for a child table, the columns that hold the
    /// parent's key). Repeat for several tables.
    #[arg(long = "table", value_name = "TABLE[:KEYS]")]
    pub table: Vec<String>,
    /// PostgreSQL, without --sync-source: the change log table (default public.ubid_changelog).
    #[arg(long = "changeLogTable", value_name = "TABLE")]
    pub change_log_table: Option<String>,
    /// Never prompt: a missing answer is an error.
    #[arg(short = 'n', long = "no-prompt")]
    pub no_prompt: bool,
    /// Print this help.
    #[arg(long = "help", short = 'H', action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

fn parse_age(text: &str) -> Result<Duration, String> {
    let age = humantime::parse_duration(text.trim()).map_err(|e| format!("{e}: write an age such as 8h, 3d or 1w"))?;
    if age < Duration::from_secs(60) {
        return Err("the change log must keep changes for at least a minute (such as 8h, 3d or 1w)".into());
    }
    Ok(age)
}

/// `logs/prepare-endpoint-server.log` of the server root: every run appends what it was asked, each step with
/// its status, what is left to do, and how it ended; private to its owner like every log.
pub(crate) struct RunLog {
    file: Option<std::fs::File>,
}

impl RunLog {
    pub(crate) fn open(root: &ferrosync::store::ServerRoot) -> RunLog {
        let path = root.path().join("logs").join("prepare-endpoint-server.log");
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| ferrosync::private_file::open(&path, ferrosync::private_file::How::Append));
        match opened {
            Ok(file) => RunLog { file: Some(file) },
            Err(e) => {
                cli::note(&format!("cannot write {}: {e}; the steps are printed only", path.display()));
                RunLog { file: None }
            }
        }
    }

    pub(crate) fn line(&mut self, text: &str) {
        use std::io::Write;
        if let Some(f) = &mut self.file {
            let stamp = ferrosync::util::timestamp_now();
            let written = text.lines().try_for_each(|l| writeln!(f, "[{stamp}] {l}"));
            if written.is_err() {
                self.file = None;
            }
        }
    }
}

/// Where answers missing from the command line come from: the terminal (dialoguer), or nowhere with
/// `--no-prompt` or without a terminal, in which case the error names the option to give.
pub struct Prompts {
    pub interactive: bool,
}

impl Prompts {
    fn missing(&self, option: &str, what: &str) -> anyhow::Error {
        let why = if self.interactive { "" } else { " (there is no terminal to ask on, or --no-prompt was given)" };
        Usage(format!("{what} is missing: give {option}{why}")).into()
    }

    /// A password, not echoed; typed twice when `confirm`.
    pub fn password(&self, option: &str, what: &str, prompt: &str, confirm: bool) -> anyhow::Result<Secret> {
        if !self.interactive {
            return Err(self.missing(option, what));
        }
        let mut p = dialoguer::Password::new().with_prompt(prompt);
        if confirm {
            p = p.with_confirmation("Type it again", "The two passwords differ; try again");
        }
        let pw = p.interact().with_context(|| format!("cannot read {what} from the terminal"))?;
        if pw.is_empty() {
            bail!(Usage(format!("{what} is empty")));
        }
        Ok(Secret::new(pw))
    }

    /// A line of text, with an optional default.
    pub fn input(&self, option: &str, what: &str, prompt: &str) -> anyhow::Result<String> {
        if !self.interactive {
            return Err(self.missing(option, what));
        }
        let s: String = dialoguer::Input::new()
            .with_prompt(prompt)
            .interact_text()
            .with_context(|| format!("cannot read {what} from the terminal"))?;
        Ok(s.trim().to_string())
    }

    /// Whether the server is a source, a destination, or both.
    pub fn roles(&self) -> anyhow::Result<(bool, bool)> {
        if !self.interactive {
            return Err(self.missing("--isSource and/or --isDestination", "the server's role"));
        }
        let choice = dialoguer::Select::new()
            .with_prompt("Will this server be a sync source, a destination, or both?")
            .items(["source", "destination", "both"])
            .default(0)
            .interact()
            .context("cannot read the server's role from the terminal")?;
        Ok((choice != 1, choice != 0))
    }
}

/// Reads a password file: its first line, without the line end.
fn read_password_file(path: &Path, option: &str) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {} given with {option}", path.display()))?;
    let pw = text.lines().next().unwrap_or_default();
    if pw.is_empty() {
        bail!(Usage(format!("the password file {} given with {option} is empty", path.display())));
    }
    Ok(Secret::new(pw))
}

/// A password from `--X`, `--XFile` or the terminal.
pub(crate) fn password(
    prompts: &Prompts,
    value: &Option<Secret>,
    file: &Option<PathBuf>,
    (flag, file_flag): (&str, &str),
    what: &str,
    prompt: &str,
    confirm: bool,
) -> anyhow::Result<Secret> {
    match (value, file) {
        (Some(_), Some(_)) => bail!(Usage(format!("give {flag} or {file_flag}, not both"))),
        (Some(v), None) if v.is_empty() => bail!(Usage(format!("{flag} is empty"))),
        (Some(v), None) => Ok(v.clone()),
        (None, Some(f)) => read_password_file(f, file_flag),
        (None, None) => prompts.password(&format!("{flag} or {file_flag}"), what, prompt, confirm),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.database_url.is_some() || args.sync_source.is_some() || !args.table.is_empty() {
        return crate::prepare_jdbc::run(args);
    }
    let mut log = RunLog::open(&cli::root_path(args.server_root.as_deref())?);
    let port = args.port.unwrap_or(if args.use_ssl { 636 } else { 389 });
    log.line(&format!(
        "prepare-endpoint-server {}:{port}{}, administrator \"{}\", base DN {}, {}{}",
        args.hostname,
        if args.use_ssl {
            " (LDAPS)"
        } else if args.use_start_tls {
            " (StartTLS)"
        } else {
            ""
        },
        args.bind_dn,
        args.base_dn.as_deref().map(|b| format!("\"{b}\"")).unwrap_or_else(|| "(asked)".into()),
        match (args.is_source, args.is_destination) {
            (true, true) => "source and destination",
            (true, false) => "source",
            (false, true) => "destination",
            (false, false) => "role asked",
        },
        args.changelog_max_age
            .map(|a| format!(", change log kept {}", humantime::format_duration(a)))
            .unwrap_or_default(),
    ));
    let outcome = prepare_server(args);
    match &outcome {
        Ok((report, label)) => log.line(&render(report, label)),
        Err(e) => log.line(&format!("error: {e:#}")),
    }
    let (report, label) = outcome?;
    cli::out(&render(&report, &label))?;
    if report.complete() {
        Ok(())
    } else {
        Err(cli::Exit(EXIT_LEFT_TO_DO).into())
    }
}

fn prepare_server(args: Args) -> anyhow::Result<(Report, String)> {
    let prompts = Prompts { interactive: !args.no_prompt && std::io::stdin().is_terminal() };
    if args.use_ssl && args.use_start_tls {
        bail!(Usage("give --useSSL or --useStartTLS, not both".into()));
    }
    if args.trust_all && args.trust_store_path.is_some() {
        bail!(Usage("give --trustStorePath or --trustAll, not both".into()));
    }
    let security = match (args.use_ssl, args.use_start_tls) {
        (true, _) => Security::Ssl,
        (_, true) => Security::StartTls,
        _ => Security::None,
    };
    let trust = match (&args.trust_store_path, args.trust_all) {
        (Some(path), _) => {
            if !path.is_file() {
                bail!(Usage(format!("--trustStorePath {}: no such file", path.display())));
            }
            Trust::CaFile(path.clone())
        }
        (None, true) => Trust::TrustAll,
        (None, false) => Trust::System,
    };
    let port = args.port.unwrap_or(if args.use_ssl { 636 } else { 389 });
    let base_dn = match &args.base_dn {
        Some(b) if b.trim().is_empty() => bail!(Usage("--baseDN is empty".into())),
        Some(b) => b.trim().to_string(),
        None => prompts.input("--baseDN", "the base DN", "Base DN of the entries to synchronize")?,
    };
    let (is_source, is_destination) =
        if args.is_source || args.is_destination { (args.is_source, args.is_destination) } else { prompts.roles()? };
    let admin_password = password(
        &prompts,
        &args.bind_password,
        &args.bind_password_file,
        ("--bindPassword", "--bindPasswordFile"),
        "the administrator's password",
        &format!("Password for {}", args.bind_dn),
        false,
    )?;
    let server = ServerConfig::new("", args.hostname.clone(), port)
        .with_security(security, trust)
        .with_timeouts(Duration::from_secs(10), Duration::from_secs(60));
    let options = ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() };
    let admin = LdapClient::new(vec![server.clone().with_bind(args.bind_dn.clone(), admin_password)], options)
        .context("the connection settings are not valid")?;

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let report = runtime.block_on(async {
        let (kind, dse) = prepare::detect_server(&admin).await.context("cannot read the server's root DSE")?;
        let root = dse.first_text("defaultNamingContext");
        let sync_dn = match &args.sync_server_bind_dn {
            Some(dn) if dn.trim().is_empty() => bail!(Usage("--syncServerBindDN is empty".into())),
            Some(dn) => dn.trim().to_string(),
            None => prepare::default_sync_dn(&kind, &base_dn, root.as_deref()),
        };
        let exists = admin.get(&sync_dn, &["1.1"]).await.ok().flatten().is_some();
        let prompt = if exists {
            format!("Password of the sync user {sync_dn}")
        } else {
            format!("Password for the new sync user {sync_dn}")
        };
        let sync_password = password(
            &prompts,
            &args.sync_server_bind_password,
            &args.sync_server_bind_password_file,
            ("--syncServerBindPassword", "--syncServerBindPasswordFile"),
            "the sync user's password",
            &prompt,
            !exists,
        )?;
        let opts = PrepareOptions {
            base_dn: base_dn.clone(),
            sync_dn,
            sync_password,
            is_source,
            is_destination,
            record_clear_text_passwords: args.record_clear_text_passwords,
            changelog_max_age: args.changelog_max_age,
        };
        let report = prepare::prepare(&admin, &server, &dse, &opts)
            .await
            .with_context(|| format!("cannot prepare {} ({kind})", server.label()))?;
        admin.close().await;
        anyhow::Ok(report)
    })?;
    Ok((report, server.label()))
}

/// The report as printed: one line per step, the instructions, and a closing sentence.
pub fn render(report: &Report, label: &str) -> String {
    let mut out = format!("Preparing {label} for ferrosync, sync user \"{}\":\n", report.sync_dn);
    for step in &report.steps {
        out.push_str(&format!("  {:<10} {}\n", step.status.to_string(), step.text));
    }
    if !report.instructions.is_empty() {
        out.push_str("\nLeft to do:\n");
        for ins in &report.instructions {
            out.push_str(&format!("  {}\n", ins.title));
            for line in &ins.lines {
                out.push_str(&format!("      {line}\n"));
            }
        }
    }
    let warnings = report.with_status(Status::Warning).count();
    let changed = report.with_status(Status::Changed).count();
    let left = report.with_status(Status::ToDo).count();
    let failed = report.with_status(Status::Failed).count();
    out.push('\n');
    if report.complete() && changed == 0 {
        out.push_str("Nothing changed: the server was already prepared, and every check passed.\n");
    } else if report.complete() {
        out.push_str(&format!("Done: {changed} change(s) made, and every check passed.\n"));
    } else {
        out.push_str(&format!(
            "Not finished: {changed} change(s) made, {left} step(s) left to do, {failed} check(s) failed.\n"
        ));
    }
    if warnings > 0 {
        out.push_str(&format!("{warnings} warning(s): see the lines marked \"warning\" above.\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// The passwords given on the command line are masked wherever the arguments are printed with `{:?}`.
    #[test]
    fn debug_of_the_arguments_masks_the_passwords() {
        let args = super::Args::try_parse_from([
            "prepare-endpoint-server",
            "--hostname",
            "h",
            "--bindDN",
            "cn=admin",
            "--bindPassword",
            "Adm1nS3cret",
            "--syncServerBindPassword",
            "SyncS3cret",
            "--baseDN",
            "dc=example,dc=com",
        ])
        .unwrap();
        let shown = format!("{args:?}");
        assert!(!shown.contains("S3cret"), "{shown}");
        assert!(shown.contains("*****"), "{shown}");
        let resync =
            crate::resync::Args::try_parse_from(["resync", "--pipe-name", "p", "--bindPassword", "R3syncS3cret"])
                .unwrap();
        assert!(!format!("{resync:?}").contains("S3cret"), "{resync:?}");
    }
}
