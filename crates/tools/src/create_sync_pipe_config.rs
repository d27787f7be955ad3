//! The create-sync-pipe-config tool: the terminal (dialoguer) and the LDAP connection tests around the wizard
//! of `ferrosync::wizard`, then the store or a batch file.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ferrosync::dsconfig::{self, Format};
use ferrosync::https::HttpsTrust;
use ferrosync::prompt::{self, PromptError, Prompter};
use ferrosync::secret::Secret;
use ferrosync::wizard::{
    self, Answers, Connection, Detected, Http, Plan, PrepareRequest, Prepared, Probe, ScimAuth, Security, Trust, Wizard,
};
use ferrosync_ldap::prepare::{self, PrepareOptions};
use ferrosync_ldap::{ClientOptions, LdapClient, RetryPolicy, ServerConfig};

use crate::cli;
use crate::prepare_endpoint_server::render;
use crate::terminal::Terminal;

/// The tool's own options; everything else is an answer (`--KEY VALUE`).
#[derive(Debug, Default)]
struct Options {
    no_prompt: bool,
    properties: Option<PathBuf>,
    batch_file: Option<PathBuf>,
    skip_test: bool,
    server_root: Option<String>,
    store: Option<String>,
    help: bool,
    answers: Answers,
}

fn parse_args(args: &[String]) -> anyhow::Result<Options> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(body) = arg.strip_prefix("--") else {
            if arg == "-n" {
                o.no_prompt = true;
                continue;
            }
            if arg == "-H" || arg == "-?" {
                o.help = true;
                continue;
            }
            return Err(cli::Usage(format!(
                "unexpected argument '{arg}': answers are given as --KEY VALUE (see --help)"
            ))
            .into());
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        let mut value = |what: &str| -> anyhow::Result<String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args.get(i).cloned().ok_or_else(|| cli::Usage(format!("option --{what} needs a value")))?;
            i += 1;
            Ok(v)
        };
        match name.as_str() {
            "no-prompt" | "noPrompt" => o.no_prompt = true,
            "help" => o.help = true,
            "skipConnectionTest" => o.skip_test = true,
            "propertiesFilePath" => o.properties = Some(PathBuf::from(value(&name)?)),
            "generateBatchFile" => o.batch_file = Some(PathBuf::from(value(&name)?)),
            "server-root" => o.server_root = Some(value(&name)?),
            "store" => o.store = Some(value(&name)?),
            _ => {
                let v = value(&name)?;
                o.answers.add(&name, &v, "the command line").map_err(|e| {
                    cli::Usage(format!(
                        "{e}; the other options are {} (see --help)",
                        wizard::TOOL_FLAGS.iter().map(|f| format!("--{f}")).collect::<Vec<_>>().join(", ")
                    ))
                })?;
            }
        }
    }
    Ok(o)
}

/// Connection tests with ferrosync's LDAP client: a new connection, TLS as asked, and a bind.
struct LdapProbe {
    runtime: tokio::runtime::Runtime,
}

impl LdapProbe {
    /// The connection settings of `c` (without a bind).
    fn server_config(c: &Connection) -> ServerConfig {
        let security = match c.security {
            Security::None => ferrosync_ldap::Security::None,
            Security::Ssl => ferrosync_ldap::Security::Ssl,
            Security::StartTls => ferrosync_ldap::Security::StartTls,
        };
        let trust = match &c.trust {
            Trust::System => ferrosync_ldap::Trust::System,
            Trust::TrustAll => ferrosync_ldap::Trust::TrustAll,
            Trust::File(p) => ferrosync_ldap::Trust::CaFile(PathBuf::from(p)),
        };
        let mut cfg = ServerConfig::new(c.server.to_string(), &c.server.host, c.server.port)
            .with_security(security, trust)
            .with_timeouts(std::time::Duration::from_secs(10), std::time::Duration::from_secs(60));
        cfg.verify_hostname = c.trust != Trust::TrustAll;
        cfg
    }

    fn try_bind(&self, c: &Connection, bind: Option<(&str, &str)>) -> Result<(), String> {
        let mut cfg = Self::server_config(c);
        if let Some((dn, pw)) = bind {
            cfg = cfg.with_bind(dn, Secret::new(pw));
        }
        let client = LdapClient::single(cfg).map_err(|e| e.to_string())?;
        self.runtime.block_on(async { client.check_bind().await.map(|_| ()).map_err(|e| e.to_string()) })
    }

    /// A client bound as the administrator, without retries.
    fn admin(c: &Connection, dn: &str, password: &str) -> Result<LdapClient, String> {
        let options = ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() };
        LdapClient::new(vec![Self::server_config(c).with_bind(dn, Secret::new(password))], options)
            .map_err(|e| e.to_string())
    }
}

impl Probe for LdapProbe {
    fn connect(&self, c: &Connection) -> Result<(), String> {
        self.try_bind(c, None)
    }
    fn bind(&self, c: &Connection, dn: &str, password: &str) -> Result<(), String> {
        self.try_bind(c, Some((dn, password)))
    }
    fn detect(&self, c: &Connection, admin_dn: &str, admin_password: &str, base_dn: &str) -> Result<Detected, String> {
        let admin = Self::admin(c, admin_dn, admin_password)?;
        self.runtime.block_on(async {
            let found = prepare::detect_server(&admin).await.map_err(|e| e.to_string());
            admin.close().await;
            let (kind, dse) = found?;
            let root = dse.first_text("defaultNamingContext");
            Ok(Detected {
                default_sync_dn: prepare::default_sync_dn(&kind, base_dn, root.as_deref()),
                kind: kind.to_string(),
            })
        })
    }
    fn check_http(&self, h: &Http) -> Result<(), String> {
        self.runtime.block_on(check_http(h))
    }
    fn prepare(&self, c: &Connection, req: &PrepareRequest) -> Result<Prepared, String> {
        let admin = Self::admin(c, req.admin_dn, req.admin_password.expose())?;
        let server = Self::server_config(c);
        let opts = PrepareOptions {
            base_dn: req.base_dn.to_string(),
            sync_dn: req.sync_dn.to_string(),
            sync_password: req.sync_password.clone(),
            is_source: req.is_source,
            is_destination: req.is_destination,
            // reported, not changed: prepare-endpoint-server --recordClearTextPasswords turns it on
            record_clear_text_passwords: false,
            changelog_max_age: None,
        };
        self.runtime.block_on(async {
            let report = async {
                let (_, dse) = prepare::detect_server(&admin).await?;
                prepare::prepare(&admin, &server, &dse, &opts).await
            }
            .await
            .map_err(|e| e.to_string());
            admin.close().await;
            let report = report?;
            Ok(Prepared { report: render(&report, &server.label()), complete: report.complete() })
        })
    }
}

/// Reads what needs the credentials: a SCIM service's first User, or a PingOne population.
async fn check_http(h: &Http) -> Result<(), String> {
    let timeout = std::time::Duration::from_secs(15);
    match h {
        Http::Scim2 { url, auth } => {
            use ferrosync_scim::http::{Auth, Http as ScimHttp, Retry};
            let auth = match auth {
                ScimAuth::Bearer { token } => Auth::Bearer(token.clone()),
                ScimAuth::Basic { username, password } => Auth::Basic(username.clone(), password.clone()),
                ScimAuth::ClientCredentials { token_url, client_id, client_secret } => Auth::OAuth {
                    url: token_url.clone(),
                    id: client_id.clone(),
                    secret: client_secret.clone(),
                    scopes: Vec::new(),
                    in_body: false,
                    get: false,
                    max_life: None,
                },
            };
            let retry = Retry { attempts: 1, initial: timeout, max: timeout };
            // The wizard writes no trust manager provider: the endpoint trusts the system's CAs, as here.
            let client = ScimHttp::new(url, auth, retry, timeout, &HttpsTrust::System)?;
            let resp = tokio::task::spawn_blocking(move || client.send("GET", "Users?count=1", None, None))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            match resp.status {
                200..=299 => Ok(()),
                s => Err(format!("GET {url}/Users?count=1 answered HTTP {s}")),
            }
        }
        Http::PingOne { api_url, auth_url, environment_id, client_id, client_secret, .. } => {
            use ferrosync_pingone::client::{default_auth_url, Client, Settings};
            let client = Client::new(Settings {
                api_url: api_url.clone(),
                auth_url: auth_url.clone().unwrap_or_else(|| default_auth_url(api_url, environment_id)),
                environment_id: environment_id.clone(),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                max_requests_per_second: 0,
                label: "PingOne".into(),
                trust: HttpsTrust::System,
            })
            .map_err(|e| e.to_string())?;
            let a = client.call("GET", client.env_url("populations?limit=1"), None).await.map_err(|e| e.to_string())?;
            if a.ok() {
                Ok(())
            } else {
                Err(a.describe())
            }
        }
    }
}

/// Writes `text` to `path`, readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = ferrosync::private_file::open(path, ferrosync::private_file::How::Truncate)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let mut o = parse_args(&args)?;
    if o.help {
        return cli::out(&wizard::help());
    }
    let mut answers = Answers::default();
    if let Some(p) = &o.properties {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read the properties file {}", p.display()))?;
        answers = Answers::parse_properties(&text, &p.display().to_string())?;
    }
    answers.overlay(std::mem::take(&mut o.answers));
    let interactive = !o.no_prompt && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !o.no_prompt && !interactive {
        cli::note("standard input is not a terminal: no question is asked (as with --no-prompt)");
    }
    let probe: Box<dyn Probe> = if o.skip_test {
        Box::new(wizard::NoProbe)
    } else {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the connection tests")?;
        Box::new(LdapProbe { runtime })
    };
    let read_file = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"));
    let root = cli::server_root(o.server_root.as_deref(), o.store.as_deref())?;
    // Writing to the store: names already in it are refused as they are answered, not at the end.
    let existing = match &o.batch_file {
        None if cli::store_exists(&root) => Some(
            cli::open_store(&root)?
                .load()
                .with_context(|| format!("cannot read the configuration in {}", root.path().display()))?,
        ),
        _ => None,
    };
    let mut terminal = Terminal;
    let mut wizard = Wizard::new(answers, !interactive, &mut terminal, probe.as_ref(), &read_file)
        .with_registry(crate::endpoints::registry());
    if let Some(config) = &existing {
        wizard = wizard.with_existing(config);
    }
    let plan = wizard.run()?;
    let batch_file = if interactive { review(&plan, o.batch_file.clone())? } else { o.batch_file.clone() };
    let text = plan.batch_text();
    if let Some(file) = batch_file {
        write_private(&file, &text)?;
        let saved = PathBuf::from(format!("{}.properties", file.display()));
        write_private(&saved, &plan.answers.to_properties())?;
        eprintln!(
            "Wrote {} dsconfig command(s) to {} (readable by you only: it holds the sync users' passwords).\n\
             Apply it with: dsconfig --no-prompt --batch-file {}\nThe answers were saved to {}.",
            plan.commands().len(),
            file.display(),
            file.display(),
            saved.display()
        );
        return Ok(());
    }
    let mut store = cli::open_store(&root)?;
    let report = dsconfig::apply_batch_text(&mut store, "create-sync-pipe-config", &text, Format::default()).map_err(
        |e| match e.was_applied() {
            true => anyhow::anyhow!("{e}"),
            false => anyhow::anyhow!("{e}\nnothing was written to the configuration"),
        },
    )?;
    let saved = root.config_dir().join("create-sync-pipe-config.properties");
    write_private(&saved, &plan.answers.to_properties())?;
    let pipes: Vec<&str> = std::iter::once(plan.pipe_name.as_str()).chain(plan.reverse_pipe_name.as_deref()).collect();
    let mut msg = format!(
        "The configuration was written: {} dsconfig command(s), recorded in logs/config-audit.log.\n\
         The answers were saved to {} (without passwords).\nNext steps, for each pipe:\n",
        report.applied,
        saved.display()
    );
    for p in pipes {
        let q = wizard::shell_quote(p);
        msg.push_str(&format!(
            "  realtime-sync set-startpoint --pipe-name {q} --end-of-changelog\n  resync --pipe-name {q}\n  dsconfig set-sync-pipe-prop --pipe-name {q} --set started:true\n"
        ));
    }
    eprint!("{msg}");
    Ok(())
}

/// The review screen: write to the store, to a batch file, or stop.
fn review(plan: &Plan, batch_file: Option<PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    let mut t = Terminal;
    t.note(&plan.review());
    if batch_file.is_some() {
        if !t.confirm("Write the dsconfig batch file?", true)? {
            return Err(PromptError::Cancelled.into());
        }
        return Ok(batch_file);
    }
    let choice = prompt::choose(
        &mut t,
        "What next",
        &[
            ("store", "Write the configuration to the store now"),
            ("batch", "Write a dsconfig batch file to apply later"),
            ("quit", "Quit without writing anything"),
        ],
        Some("store"),
    )?;
    match choice.as_str() {
        "store" => Ok(None),
        "batch" => {
            let p = t.input("Batch file to write", Some("sync-pipe-config.dsconfig"), &|s| {
                if s.trim().is_empty() {
                    Err("a file name cannot be empty".into())
                } else {
                    Ok(s.trim().to_string())
                }
            })?;
            Ok(Some(PathBuf::from(p)))
        }
        _ => Err(PromptError::Cancelled.into()),
    }
}
