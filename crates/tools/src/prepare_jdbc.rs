//! prepare-endpoint-server for PostgreSQL (a `jdbc` sync source): the change log table, its trigger function
//! and the triggers, made by [`ferrosync_jdbc::prepare`]; this module finds the database and the tables (from
//! the options or the source's configuration), and prints the report.

use anyhow::{bail, Context};
use ferrosync::store::PostgresUrl;
use ferrosync_jdbc::prepare::{self, LoggedTable, PrepareSource, StepStatus};

use crate::cli::{self, Usage};
use crate::prepare_endpoint_server::{password, Args, Prompts, RunLog, EXIT_LEFT_TO_DO};

/// `SCHEMA.TABLE` or `TABLE` (schema public).
fn schema_table(text: &str, option: &str) -> anyhow::Result<(String, String)> {
    let (s, t) = text.split_once('.').unwrap_or(("public", text));
    let (s, t) = (s.trim(), t.trim());
    if s.is_empty() || t.is_empty() {
        bail!(Usage(format!("{option} '{text}' is not TABLE or SCHEMA.TABLE")));
    }
    Ok((s.to_string(), t.to_string()))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let root = cli::server_root(args.server_root.as_deref(), None)?;
    let mut log = RunLog::open(&root);
    log.line(&format!(
        "prepare-endpoint-server (PostgreSQL){}{}",
        args.sync_source.as_deref().map(|s| format!(", sync source '{s}'")).unwrap_or_default(),
        args.database_url.as_deref().map(|u| format!(", database {u}")).unwrap_or_default()
    ));
    let outcome = prepare_database(&args, &root);
    match &outcome {
        Ok((text, _)) => log.line(text),
        Err(e) => log.line(&format!("error: {e:#}")),
    }
    let (text, failed) = outcome?;
    cli::out(&text)?;
    if failed > 0 {
        return Err(cli::Exit(EXIT_LEFT_TO_DO).into());
    }
    Ok(())
}

/// The report, and how many checks failed.
fn prepare_database(args: &Args, root: &ferrosync::store::ServerRoot) -> anyhow::Result<(String, usize)> {
    if args.is_destination {
        bail!(Usage(
            "--isDestination: a PostgreSQL destination needs no preparation (its table must exist; ferrosync checks \
             it against the column maps when the pipe starts)"
                .into()
        ));
    }
    if !args.is_source {
        bail!(Usage("give --isSource: a PostgreSQL database is prepared to be a jdbc sync source".into()));
    }
    if args.sync_source.is_some() && (!args.table.is_empty() || args.change_log_table.is_some()) {
        bail!(Usage("give --sync-source, or --table and --changeLogTable, not both".into()));
    }
    let prompts = Prompts { interactive: !args.no_prompt && std::io::IsTerminal::is_terminal(&std::io::stdin()) };
    let (tables, change_log, server) = match &args.sync_source {
        Some(name) => {
            let store = cli::open_store(root)?;
            let config = store.load()?;
            let t = ferrosync_jdbc::tables_to_log(&config, name)?;
            let sync = ferrosync_jdbc::server_url(&config, store.secrets(), root, &t.server)?;
            (t.tables, t.change_log, Some(sync))
        }
        None => {
            if args.table.is_empty() {
                bail!(Usage("name the tables: --sync-source NAME, or --table SCHEMA.TABLE[:KEYS] (repeated)".into()));
            }
            let mut tables = Vec::new();
            for t in &args.table {
                let (name, keys) = t.split_once(':').unwrap_or((t, ""));
                let (schema, table) = schema_table(name, "--table")?;
                let key_columns = keys.split(',').map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).collect();
                tables.push(LoggedTable { schema, table, key_columns });
            }
            let log = schema_table(args.change_log_table.as_deref().unwrap_or("ubid_changelog"), "--changeLogTable")?;
            (tables, log, None)
        }
    };
    let given_password = match (&args.bind_password, &args.bind_password_file) {
        (None, None) => None,
        _ => Some(password(
            &prompts,
            &args.bind_password,
            &args.bind_password_file,
            ("--bindPassword", "--bindPasswordFile"),
            "the database role's password",
            "Password",
            false,
        )?),
    };
    let (url, pw, sync_role) = match (&args.database_url, server) {
        (Some(text), server) => {
            let url = PostgresUrl::parse(text).context("--databaseURL")?;
            let sync_role = server.map(|(u, _)| u.user).or_else(|| args.sync_server_bind_dn.clone());
            (url, given_password, sync_role)
        }
        (None, Some((url, pw))) => {
            let user = url.user.clone();
            (url, given_password.or(pw), Some(user))
        }
        (None, None) => bail!(Usage("give --databaseURL postgresql://ROLE@HOST:PORT/DATABASE?passfile=FILE".into())),
    };
    let sync_role = sync_role.or_else(|| args.sync_server_bind_dn.clone());
    let label = format!("PostgreSQL {}:{}/{} as role {}", url.host, url.port, url.dbname, url.user);
    let what = PrepareSource { change_log, tables, sync_role };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let steps = runtime.block_on(async {
        let client =
            ferrosync_jdbc::connect_url(url, pw).await.with_context(|| format!("cannot connect to {label}"))?;
        prepare::prepare_source(&client, &what).await.with_context(|| format!("cannot prepare {label}"))
    })?;
    let mut out = format!("Preparing {label} for a jdbc sync source:\n");
    for step in &steps {
        out.push_str(&format!("  {:<10} {}\n", step.status.to_string(), step.text));
    }
    let changed = steps.iter().filter(|s| s.status == StepStatus::Changed).count();
    let failed = steps.iter().filter(|s| s.status == StepStatus::Failed).count();
    out.push('\n');
    out.push_str(&match (changed, failed) {
        (0, 0) => "Nothing changed: the database was already prepared, and every check passed.\n".to_string(),
        (n, 0) => format!("Done: {n} change(s) made, and every check passed.\n"),
        (n, f) => format!("Not finished: {n} change(s) made, {f} check(s) failed.\n"),
    });
    Ok((out, failed))
}
