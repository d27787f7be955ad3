//! What dsconfig prints: tables for get and list (tab-separated with `--script-friendly`), replayable command
//! lines for the audit log, and the help texts, all read from the model.

use super::args::{Action, Command};
use super::{mask_change, Format};
use crate::config::{lookup_property, Config, ConfigObject, PropertyChange};
use crate::error::ConfigError;
use crate::model::{all_types, Category, ObjectType, PropertyDef};
use crate::secret::MASK;

/// Ping's table layout: columns separated by ` : `, a dashed rule under the header.
pub fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str(" : ");
            }
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}", w = widths[i]));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(headers);
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-:-"));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// A property's values as shown: `*****` for secrets, `-` for none.
pub fn shown_values(obj: &ConfigObject, def: &PropertyDef) -> Vec<String> {
    let values = obj.values(def.name);
    if values.is_empty() {
        return Vec::new();
    }
    if def.sensitive {
        return vec![MASK.to_string()];
    }
    values.iter().map(|v| v.to_string()).collect()
}

/// `get-X-prop`: the object's properties.
pub fn properties(obj: &ConfigObject, only: &[String], fmt: Format) -> Result<String, ConfigError> {
    let defs: Vec<&PropertyDef> = if only.is_empty() {
        obj.property_defs().into_iter().filter(|p| fmt.advanced || !p.advanced || obj.is_set(p.name)).collect()
    } else {
        only.iter().map(|p| lookup_property(obj, p)).collect::<Result<_, _>>()?
    };
    if fmt.script_friendly {
        let mut out = String::new();
        for d in defs {
            let values = shown_values(obj, d);
            if values.is_empty() {
                out.push_str(&format!("{}\t\n", d.name));
            }
            for v in values {
                out.push_str(&format!("{}\t{}\n", d.name, v));
            }
        }
        return Ok(out);
    }
    let rows: Vec<Vec<String>> = defs
        .iter()
        .map(|d| {
            let values = shown_values(obj, d);
            let shown = if values.is_empty() { "-".to_string() } else { values.join(", ") };
            vec![d.name.to_string(), shown]
        })
        .collect();
    Ok(table(&["Property".into(), "Value(s)".into()], &rows))
}

/// `list-Xs`: the objects of a type (of one parent for child types).
pub fn list(config: &Config, cmd: &Command, fmt: Format) -> Result<String, ConfigError> {
    let t = cmd.object_type;
    if !cmd.names.is_empty() {
        if let Some(parent) = t.parent.and_then(crate::model::find_type) {
            if config.find(parent, &cmd.names).is_none() {
                return Err(ConfigError::NoSuchObject {
                    object: crate::config::describe(parent, &cmd.names),
                    existing: config.all(parent.name).iter().map(|o| o.name().to_string()).collect(),
                });
            }
        }
    }
    let objects = if cmd.names.is_empty() { config.all(t.name) } else { config.children(t.name, &cmd.names) };
    let mut headers = vec![t.display.to_string()];
    if !t.variants.is_empty() {
        headers.push("Type".into());
    }
    headers.extend(cmd.properties.iter().cloned());
    let mut rows = Vec::new();
    for o in &objects {
        let mut row = vec![o.name().to_string()];
        if !t.variants.is_empty() {
            row.push(o.variant.clone().unwrap_or_default());
        }
        for p in &cmd.properties {
            let d = lookup_property(o, p).ok();
            let values = d.map(|d| shown_values(o, d)).unwrap_or_default();
            row.push(if values.is_empty() { "-".into() } else { values.join(", ") });
        }
        rows.push(row);
    }
    if fmt.script_friendly {
        return Ok(rows.iter().map(|r| format!("{}\n", r.join("\t"))).collect());
    }
    if rows.is_empty() {
        return Ok(format!("There are no {}s\n", t.display));
    }
    Ok(table(&headers, &rows))
}

/// A shell-quoted word.
fn sh(word: &str) -> String {
    shlex::try_quote(word).map(|c| c.into_owned()).unwrap_or_else(|_| format!("'{}'", word.replace('\0', "")))
}

/// The command as a replayable dsconfig line, with sensitive values masked.
pub fn command_line(cmd: &Command, obj: Option<&ConfigObject>) -> String {
    command_words(cmd, obj).join(" ")
}

/// The words of [`command_line`], each shell-quoted: `dsconfig`, the subcommand, then options and their values.
pub fn command_words(cmd: &Command, obj: Option<&ConfigObject>) -> Vec<String> {
    let t = cmd.object_type;
    let mut words = vec!["dsconfig".to_string(), cmd.action.subcommand(t)];
    let naming = t.naming_args();
    for (arg, name) in naming.iter().zip(&cmd.names) {
        words.push(format!("--{arg}"));
        words.push(sh(name));
    }
    if let (Action::Create, Some(o)) = (cmd.action, obj) {
        if let Some(v) = &o.variant {
            words.push("--type".into());
            words.push(sh(v));
        }
    }
    for (i, change) in cmd.changes.iter().enumerate() {
        // A value read from a file is recorded as the file, never as the value.
        if let Some((_, path)) = cmd.value_files.iter().find(|(at, _)| *at == i) {
            let flag = match change {
                PropertyChange::Add(..) => "--add",
                PropertyChange::Remove(..) => "--remove",
                _ => "--set",
            };
            words.push(flag.into());
            words.push(sh(&format!("{}<{path}", change.property())));
            continue;
        }
        let sensitive = obj.and_then(|o| o.property(change.property())).is_some_and(|d| d.sensitive);
        let (flag, text) = match mask_change(change, sensitive) {
            PropertyChange::Set(p, v) => ("--set", format!("{p}:{v}")),
            PropertyChange::Add(p, v) => ("--add", format!("{p}:{v}")),
            PropertyChange::Remove(p, v) => ("--remove", format!("{p}:{v}")),
            PropertyChange::Reset(p) => ("--reset", p),
        };
        words.push(flag.into());
        words.push(sh(&text));
    }
    words
}

/// `dsconfig --help` and `--help-CATEGORY`.
pub fn general_help(category: Option<Category>) -> String {
    let mut out = String::from(
        "Usage: dsconfig [GLOBAL OPTIONS] SUBCOMMAND [OPTIONS]\n\
         \n\
         Creates, lists, shows, changes and deletes ferrosync's configuration objects, one command at a time\n\
         or from a batch file, with PingDataSync's dsconfig syntax. The configuration lives in\n\
         SERVER-ROOT/config/config.db.\n\
         \n\
         Global options:\n",
    );
    for o in super::args::GLOBAL_OPTIONS.iter().filter(|o| !o.ignored()) {
        let short = o.short.map(|c| format!("-{c},")).unwrap_or_default();
        let names = format!("{short:<3} --{}{}", o.long, o.value.map(|v| format!(" {v}")).unwrap_or_default());
        out.push_str(&format!("  {names:<30} "));
        out.push_str(&wrap(o.help, 72).join(&format!("\n{:33}", "")));
        out.push('\n');
    }
    out.push_str("      --help-CATEGORY            the subcommands of one category: ");
    out.push_str(&Category::ALL.map(|c| format!("--help-{}", c.name())).join(", "));
    let ignored: Vec<String> = super::args::GLOBAL_OPTIONS
        .iter()
        .filter(|o| o.ignored())
        .map(|o| o.short.map(|c| format!("-{c}")).unwrap_or_else(|| format!("--{}", o.long)))
        .collect();
    out.push_str(&format!(
        "\n  {}\n{:33}PingDataSync's connection and tool options: accepted and ignored, since the store is local\n\n",
        wrap(&ignored.join(" "), 104).join("\n  "),
        ""
    ));
    out.push_str(
        "\
         Other subcommands:\n\
         \x20 list-properties [--type T] [--property P]   describe the properties of object types\n\n",
    );
    for cat in Category::ALL.into_iter().filter(|c| category.is_none_or(|x| x == *c)) {
        out.push_str(&format!("{}:\n", cat.title()));
        for t in all_types().filter(|t| t.category == cat) {
            let subs: Vec<String> = Action::for_type(t).iter().map(|a| a.subcommand(t)).collect();
            out.push_str(&format!("  {:<28} {}\n", t.display, subs.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// `text` cut into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().map(|l| l.len()).unwrap_or(0);
        if last > 0 && last + 1 + word.len() > width {
            lines.push(String::new());
        }
        if let Some(line) = lines.last_mut() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// `SUBCOMMAND --help`.
pub fn subcommand_help(sub: &str) -> Option<String> {
    let (action, t) = super::args::resolve_subcommand(sub)?;
    let naming = t.naming_args();
    let naming_used: Vec<&str> =
        if action == Action::List { naming[..naming.len().saturating_sub(1)].to_vec() } else { naming };
    let mut usage = format!("Usage: dsconfig {sub}");
    for n in &naming_used {
        usage.push_str(&format!(" --{n} NAME"));
    }
    match action {
        Action::Create if !t.variants.is_empty() => usage.push_str(" --type TYPE [--set PROPERTY:VALUE]..."),
        Action::Create => usage.push_str(" [--set PROPERTY:VALUE]..."),
        Action::Set => usage.push_str(" (--set|--add|--remove PROPERTY:VALUE | --reset PROPERTY)..."),
        Action::Get | Action::List => usage.push_str(" [--property PROPERTY]..."),
        Action::Delete => {}
    }
    let verb = match action {
        Action::Create => "Creates",
        Action::Delete => "Deletes",
        Action::List => "Lists the",
        Action::Get => "Shows the properties of",
        Action::Set => "Changes the properties of",
    };
    let mut out = format!(
        "{usage}\n\n{verb} {} {}s. {}\n",
        if action == Action::List { "" } else { "a" },
        t.display,
        t.description
    );
    if t.unused {
        out.push_str("\nferrosync stores and shows these objects so that PingDataSync configurations apply, but does not use them.\n");
    }
    if action == Action::Create && !t.variants.is_empty() {
        out.push_str("\n--type:\n");
        for v in t.variants {
            out.push_str(&format!(
                "  {:<32} {}{}\n",
                v.name,
                v.description,
                if v.unused { " (not used by ferrosync)" } else { "" }
            ));
        }
    }
    if matches!(action, Action::Create | Action::Set | Action::Get) {
        out.push_str(&format!("\nProperties: run 'dsconfig list-properties --type {}'.\n", t.name));
    }
    Some(out)
}

/// `list-properties`.
pub fn list_properties(only_type: Option<&'static ObjectType>, only_prop: Option<&str>, advanced: bool) -> String {
    let mut out = String::new();
    for t in all_types().filter(|t| only_type.is_none_or(|o| o.name == t.name)) {
        let variants: Vec<Option<&str>> =
            if t.variants.is_empty() { vec![None] } else { t.variants.iter().map(|v| Some(v.name)).collect() };
        for v in variants {
            let props: Vec<&PropertyDef> = t
                .properties(v)
                .into_iter()
                .filter(|p| only_prop.is_none_or(|o| o.eq_ignore_ascii_case(p.name)))
                .filter(|p| advanced || only_prop.is_some() || !p.advanced)
                .collect();
            if props.is_empty() {
                continue;
            }
            out.push_str(&match v {
                Some(v) => format!("{} (--type {v}):\n", t.display),
                None => format!("{}:\n", t.display),
            });
            for p in props {
                let mut flags = Vec::new();
                if p.required {
                    flags.push("required");
                }
                if p.multi {
                    flags.push("multi-valued");
                }
                if p.sensitive {
                    flags.push("sensitive");
                }
                if p.advanced {
                    flags.push("advanced");
                }
                if p.unused {
                    flags.push("not used by ferrosync");
                }
                let default =
                    if p.default.is_empty() { String::new() } else { format!(" Default: {}.", p.default.join(", ")) };
                out.push_str(&format!(
                    "  {}{}\n      {} Syntax: {}.{}\n",
                    p.name,
                    if flags.is_empty() { String::new() } else { format!(" ({})", flags.join(", ")) },
                    p.description,
                    p.syntax.describe(),
                    default
                ));
            }
            out.push('\n');
        }
    }
    out
}
