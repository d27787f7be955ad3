//! The dsconfig tool: one command, a batch file, or (on a terminal, with no subcommand) the menu.

use ferrosync::dsconfig::{self, render, Format, Request};

use crate::cli;

pub fn run(args: Vec<String>) -> anyhow::Result<()> {
    let inv = dsconfig::parse(&args)?;
    let g = &inv.globals;
    let fmt = Format { script_friendly: g.script_friendly, advanced: g.advanced };
    if !g.ignored.is_empty() && !g.quiet {
        cli::note(&format!(
            "ignoring {}: ferrosync's dsconfig edits the local configuration store directly",
            g.ignored.join(" ")
        ));
    }
    match &inv.request {
        Some(Request::Help { subcommand: None, category }) => return cli::out(&render::general_help(*category)),
        Some(Request::Help { subcommand: Some(sub), .. }) => {
            let text = render::subcommand_help(sub)
                .ok_or_else(|| cli::Usage(format!("unknown subcommand '{sub}': run 'dsconfig --help' for the list")))?;
            return cli::out(&text);
        }
        Some(Request::ListProperties { object_type, property }) => {
            return cli::out(&render::list_properties(*object_type, property.as_deref(), g.advanced))
        }
        _ => {}
    }
    let root = cli::server_root(g.server_root.as_deref(), g.store.as_deref())?;
    // A store that servers share holds one configuration for all of them: a change cannot reach one alone.
    if g.apply_change_to.as_deref() == Some("single-server")
        && matches!(root.store()?, ferrosync::store::StoreLocation::Postgres(_))
    {
        return Err(cli::Usage(
            "--applyChangeTo single-server: this server root's configuration is in a PostgreSQL store that the \
             servers of its topology share, so a change reaches every one of them; use --applyChangeTo server-group \
             (or leave it out)"
                .into(),
        )
        .into());
    }
    let open = || cli::open_store(&root);
    if let Some(file) = &g.batch_file {
        if inv.request.is_some() {
            return Err(cli::Usage("give either a subcommand or --batch-file, not both".into()).into());
        }
        let mut store = open()?;
        let report = dsconfig::apply_batch_file(&mut store, std::path::Path::new(file), fmt, g.batch_continue_on_error)
            .map_err(|e| match e.was_applied() {
                true => anyhow::anyhow!("{e}"),
                false => anyhow::anyhow!("{e}\nnothing was applied: the batch file is applied all or nothing (--batch-continue-on-error applies what it can)"),
            })?;
        cli::out(&report.output)?;
        if !g.quiet {
            for n in &report.notes {
                cli::note(n);
            }
        }
        let summary = format!("{}: {} command(s) applied", file, report.applied);
        if report.failures.is_empty() {
            if !g.quiet {
                eprintln!("{summary}");
            }
            return Ok(());
        }
        for f in &report.failures {
            eprintln!("error: {file}:{}: {}", f.line, f.message);
        }
        eprintln!("{summary}, {} failed", report.failures.len());
        return Err(cli::Exit(1).into());
    }
    let Some(Request::Object(cmd)) = &inv.request else {
        use std::io::IsTerminal;
        if !g.no_prompt && std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            return crate::menu::run(open()?, fmt);
        }
        return Err(cli::Usage(
            "no subcommand given: run 'dsconfig --help' for the list, or 'dsconfig --batch-file FILE'".into(),
        )
        .into());
    };
    let mut store = open()?;
    let outcome = dsconfig::run_command(&mut store, cmd, fmt)?;
    if !g.quiet {
        for n in &outcome.notes {
            cli::note(n);
        }
    }
    cli::out(&outcome.output)
}
