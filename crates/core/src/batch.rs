//! dsconfig batch files, in PingDataSync's syntax: one command per logical line, `\` continuation, `#` comments,
//! shell quoting, tabs or spaces, and an optional leading `dsconfig` word.

/// One command of a batch file, with the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchCommand {
    /// The 1-based line number of the command's first line.
    pub line: usize,
    /// The command's words, after quote removal, without the leading `dsconfig`.
    pub args: Vec<String>,
}

/// A line that cannot be read as a command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct BatchSyntaxError {
    pub line: usize,
    pub message: String,
}

/// Splits a batch file into commands.
///
/// Comment lines (first non-blank character `#`) are skipped, also in the middle of a continued command, as
/// real files comment out continuation lines. A blank line ends a command even after a trailing `\`: real
/// files contain such incomplete commands, and they then fail as commands, at their own line. Continuation
/// joins lines as a shell does (the backslash and newline are removed).
pub fn parse(text: &str) -> Vec<Result<BatchCommand, BatchSyntaxError>> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    let flush = |pending: &mut Option<(usize, String)>, out: &mut Vec<Result<BatchCommand, BatchSyntaxError>>| {
        if let Some((line, text)) = pending.take() {
            if let Some(cmd) = split_command(line, &text).transpose() {
                out.push(cmd);
            }
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            flush(&mut pending, &mut out);
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        let body = line.trim_end();
        let continues = body.len() - body.trim_end_matches('\\').len();
        let (content, continued) = match body.strip_suffix('\\') {
            Some(content) if continues % 2 == 1 => (content, true),
            _ => (body, false),
        };
        match pending.as_mut() {
            Some((_, text)) => text.push_str(content),
            None => pending = Some((line_no, content.to_string())),
        }
        if !continued {
            flush(&mut pending, &mut out);
        }
    }
    flush(&mut pending, &mut out);
    out
}

fn split_command(line: usize, text: &str) -> Result<Option<BatchCommand>, BatchSyntaxError> {
    let mut args = shlex::split(text).ok_or_else(|| BatchSyntaxError {
        line,
        message: "unbalanced quotes: a ' or \" is not closed before the end of the command".to_string(),
    })?;
    if args.first().is_some_and(|a| a == "dsconfig" || a.ends_with("/dsconfig")) {
        args.remove(0);
    }
    if args.is_empty() {
        return Ok(None);
    }
    Ok(Some(BatchCommand { line, args }))
}

/// Replaces `${VAR}` (and `$VAR`) with values from `lookup`, as envsubst does for Ping's `.subst` files. Unknown
/// variables are left as they are.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('$') {
        out.push_str(before);
        // The variable's name, and what follows the reference.
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            inner.split_once('}').unwrap_or(("", after))
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            after.split_at(end)
        };
        match (name.is_empty(), lookup(name)) {
            (false, Some(v)) => {
                out.push_str(&v);
                rest = tail;
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<BatchCommand> {
        parse(text).into_iter().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn continuation_tabs_and_quotes() {
        let cmds = ok("\n# comment\ndsconfig create-external-server \\\n    --server-name pd \\\n\t--set \"password:AAB=\" \\\n\t--set bind-dn:\"cn=Sync User,cn=Root DNs,cn=config\"\n");
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].line, 3);
        assert_eq!(
            cmds[0].args,
            vec![
                "create-external-server",
                "--server-name",
                "pd",
                "--set",
                "password:AAB=",
                "--set",
                "bind-dn:cn=Sync User,cn=Root DNs,cn=config"
            ]
        );
    }

    #[test]
    fn single_quoted_json_and_unquoted_filter() {
        let cmds = ok("dsconfig create-attribute-mapping --set 'value-pattern:{{\"id\":\"x\"}}' --set include-filter:(objectClass=person)");
        assert_eq!(cmds[0].args[2], "value-pattern:{{\"id\":\"x\"}}");
        assert_eq!(cmds[0].args[4], "include-filter:(objectClass=person)");
    }

    #[test]
    fn trailing_backslash_before_blank_line_ends_the_command() {
        let cmds = ok("dsconfig set-external-server-prop \\\n    --server-name ping-directory \\\n\ndsconfig create-sync-pipe --pipe-name p\n");
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].args, vec!["set-external-server-prop", "--server-name", "ping-directory"]);
        assert_eq!(cmds[1].line, 4);
    }

    #[test]
    fn continuation_into_comment_lines() {
        let text = "dsconfig create-sync-source \\\n    --source-name AzureAD \\\n    --set 'a:b' \\\n#    --set 'extension-argument:filter=country eq '\"'\"'USA'\"'\"''  \\\n#    --set x:y \n\ndsconfig create-sync-pipe --pipe-name p\n";
        let cmds = ok(text);
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].args, vec!["create-sync-source", "--source-name", "AzureAD", "--set", "a:b"]);
    }

    #[test]
    fn backslash_without_space_joins_like_a_shell() {
        let cmds = ok("dsconfig x --set scim-attribute-name:name\\\n     --set attribute-usage:fetch \\\n     --set b:c\n     --set d:e \\\n");
        assert_eq!(
            cmds[0].args,
            vec!["x", "--set", "scim-attribute-name:name", "--set", "attribute-usage:fetch", "--set", "b:c"]
        );
        assert_eq!(cmds[1].line, 4);
        assert_eq!(cmds[1].args, vec!["--set", "d:e"]);
    }

    /// Ping joins continued lines before it reads quotes, so a `\` at the end of a line continues a single-quoted
    /// value too (a shell would keep the backslash and the newline inside the quotes); the next line's leading
    /// blanks belong to the value, as written.
    #[test]
    fn a_single_quoted_value_continues_over_lines() {
        let text = r#"dsconfig set-access-control-handler-prop \
    --add 'global-aci:(targetattr="*")\
(version 3.0; acl "Sync user reads"; \
  allow (read,search) userdn="ldap:///cn=sync";)' \
    --add 'global-aci:(targetcontrol="1.2.840.113556.1.4.319")(version 3.0; acl "paging"; allow (read) userdn="ldap:///all";)'
"#;
        let cmds = ok(text);
        assert_eq!(cmds.len(), 1);
        assert_eq!(
            cmds[0].args,
            vec![
                "set-access-control-handler-prop",
                "--add",
                r#"global-aci:(targetattr="*")(version 3.0; acl "Sync user reads";   allow (read,search) userdn="ldap:///cn=sync";)"#,
                "--add",
                r#"global-aci:(targetcontrol="1.2.840.113556.1.4.319")(version 3.0; acl "paging"; allow (read) userdn="ldap:///all";)"#,
            ]
        );
    }

    /// `\n\` at the end of a line inside a quoted value: the last backslash continues the line, and the `\n`
    /// before it stays in the value as written (a backslash and an `n`), in single and in double quotes.
    #[test]
    fn backslash_n_backslash_inside_a_value() {
        let text = r#"dsconfig set-global-configuration-prop \
  --set 'sign-in-banner:Authorized use only.\n\
Activity is logged.' \
  --set "description:first\n\
second"
"#;
        let cmds = ok(text);
        assert_eq!(cmds.len(), 1);
        assert_eq!(
            cmds[0].args,
            vec![
                "set-global-configuration-prop",
                "--set",
                r"sign-in-banner:Authorized use only.\nActivity is logged.",
                "--set",
                r"description:first\nsecond",
            ]
        );
        // An escaped backslash at the end of a line is not a continuation.
        let cmds = ok("dsconfig set-x --set description:ends-with\\\\\ndsconfig set-y\n");
        assert_eq!(cmds.len(), 2, "{cmds:?}");
        assert_eq!(cmds[0].args[2], "description:ends-with\\");
    }

    /// Global options before the subcommand, as in `dsconfig --no-prompt create-...`: the batch line keeps them
    /// and dsconfig's parser reads them as global options.
    #[test]
    fn global_options_before_the_subcommand() {
        let cmds = ok("dsconfig --no-prompt --quiet -X create-external-server \\\n  --server-name ds --type ldap --set server-host-name:h\n");
        assert_eq!(cmds[0].args[..4], ["--no-prompt", "--quiet", "-X", "create-external-server"]);
        let inv = crate::dsconfig::parse(&cmds[0].args).unwrap();
        assert!(inv.globals.no_prompt && inv.globals.quiet, "{:?}", inv.globals);
        assert_eq!(inv.globals.ignored, vec!["-X"]);
        let Some(crate::dsconfig::Request::Object(cmd)) = inv.request else { panic!("a command: {inv:?}") };
        assert_eq!(cmd.object_type.name, "external-server");
        assert_eq!(cmd.names, vec!["ds"]);
        assert_eq!(cmd.variant.as_deref(), Some("ldap"));
    }

    #[test]
    fn unbalanced_quote_is_reported_at_its_command() {
        let r = parse("dsconfig a\n\ndsconfig create-x --set \"Users-Basic-CRUD\"\"\n");
        assert_eq!(r[1].as_ref().unwrap_err().line, 3);
    }

    #[test]
    fn substitutes_like_envsubst() {
        let s = substitute("base-dn:ou=source,${USER_BASE_DN} $LOCATION ${MISSING} cost $5", |v| match v {
            "USER_BASE_DN" => Some("dc=example,dc=com".into()),
            "LOCATION" => Some("Docker".into()),
            _ => None,
        });
        assert_eq!(s, "base-dn:ou=source,dc=example,dc=com Docker ${MISSING} cost $5");
    }

    #[test]
    fn non_ascii_text_around_variables_and_continuations() {
        let s = substitute("café ${NOM}é $NOMü ${é} ü$ $ü ${", |v| (v == "NOM").then(|| "Zoë".into()));
        assert_eq!(s, "café Zoëé Zoëü ${é} ü$ $ü ${");
        let r = parse("dsconfig set-x --set description:Zoë \\\n  --set cn:é\\\n");
        assert_eq!(r[0].as_ref().unwrap().args, ["set-x", "--set", "description:Zoë", "--set", "cn:é"]);
    }
}
