//! dsconfig's command line, read from the model: global options, then a subcommand `VERB-TYPE[-prop]` with its
//! naming arguments, `--type`, and `--set/--add/--remove/--reset` property changes split on the first colon.

use crate::config::PropertyChange;
use crate::model::{all_types, find_type, find_type_by_plural, Category, ObjectType};
use crate::util::closest;

/// What a dsconfig subcommand does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Delete,
    List,
    Get,
    Set,
}

impl Action {
    pub fn subcommand(self, t: &ObjectType) -> String {
        match self {
            Action::Create => format!("create-{}", t.name),
            Action::Delete => format!("delete-{}", t.name),
            Action::List => format!("list-{}", t.plural),
            Action::Get => format!("get-{}-prop", t.name),
            Action::Set => format!("set-{}-prop", t.name),
        }
    }

    /// The actions an object type has.
    pub fn for_type(t: &ObjectType) -> &'static [Action] {
        if t.singleton {
            &[Action::Get, Action::Set]
        } else {
            &[Action::List, Action::Create, Action::Get, Action::Set, Action::Delete]
        }
    }
}

/// One object command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub action: Action,
    pub object_type: &'static ObjectType,
    /// The naming arguments' values, parents first (for `list-`, only the parents').
    pub names: Vec<String>,
    pub variant: Option<String>,
    pub changes: Vec<PropertyChange>,
    /// The changes whose value was read from a file (`--set password<FILE`): the index in `changes` and the
    /// file, which the audit log records instead of the value.
    pub value_files: Vec<(usize, String)>,
    /// `--property` names, for get and list.
    pub properties: Vec<String>,
}

/// What was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `--help`, `SUBCOMMAND --help`, `--help-CATEGORY`.
    Help {
        subcommand: Option<String>,
        category: Option<Category>,
    },
    /// `list-properties [--type T] [--property P]`.
    ListProperties {
        object_type: Option<&'static ObjectType>,
        property: Option<String>,
    },
    Object(Command),
}

/// The global options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Globals {
    pub server_root: Option<String>,
    /// `--store URL`: the store (see `ferrosync::store::StoreLocation`).
    pub store: Option<String>,
    pub no_prompt: bool,
    pub batch_file: Option<String>,
    pub batch_continue_on_error: bool,
    pub script_friendly: bool,
    pub advanced: bool,
    pub quiet: bool,
    /// Ping's connection arguments that were given and are ignored (the store is local).
    pub ignored: Vec<String>,
    /// `--applyChangeTo`: `server-group` or `single-server`.
    pub apply_change_to: Option<String>,
}

/// A parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    pub globals: Globals,
    pub request: Option<Request>,
}

/// A command line that does not follow dsconfig's syntax.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum G {
    ServerRoot,
    Store,
    NoPrompt,
    BatchFile,
    ContinueOnError,
    ScriptFriendly,
    Advanced,
    Quiet,
    Help,
    ApplyChangeTo,
    /// A PingDataSync connection or tool option, accepted and ignored; `true` when it takes a value.
    Ignored(bool),
}

/// One global option: its names, what it means, its value's name (`None` for a flag) and its help line (empty
/// for PingDataSync's connection options, which are accepted and ignored and shown together in `--help`).
#[derive(Clone, Copy, Debug)]
pub struct GlobalOption {
    pub long: &'static str,
    pub short: Option<char>,
    meaning: G,
    pub value: Option<&'static str>,
    pub help: &'static str,
}

impl GlobalOption {
    /// A PingDataSync option that ferrosync accepts and ignores (the store is local).
    pub fn ignored(&self) -> bool {
        matches!(self.meaning, G::Ignored(_))
    }
}

const fn opt(
    long: &'static str,
    short: Option<char>,
    meaning: G,
    value: Option<&'static str>,
    help: &'static str,
) -> GlobalOption {
    GlobalOption { long, short, meaning, value, help }
}
const fn ignored(long: &'static str, short: Option<char>, value: Option<&'static str>) -> GlobalOption {
    GlobalOption { long, short, meaning: G::Ignored(value.is_some()), value, help: "" }
}

/// Every global option: parsing, `--help`, the man page and the shell completions read this table.
pub const GLOBAL_OPTIONS: &[GlobalOption] = &[
    opt("server-root", None, G::ServerRoot, Some("DIR"), "the server root (default: $FERROSYNC_ROOT, else the folder above bin/ when run through bin/dsconfig, else the current folder)"),
    opt("store", None, G::Store, Some("URL"), "the store: sqlite (SERVER-ROOT/config/config.db) or postgresql://USER@HOST:PORT/DB?passfile=FILE (default: $FERROSYNC_STORE, else the one SERVER-ROOT/config/store names, else sqlite)"),
    opt("batch-file", Some('F'), G::BatchFile, Some("FILE"), "apply the commands of FILE, all or nothing"),
    opt("batch-continue-on-error", None, G::ContinueOnError, None, "apply what can be applied and list each failure"),
    opt("no-prompt", Some('n'), G::NoPrompt, None, "never prompt (always true with a subcommand)"),
    opt("script-friendly", Some('s'), G::ScriptFriendly, None, "tab-separated output without headers"),
    opt("tab-delimited", None, G::ScriptFriendly, None, "the same as --script-friendly"),
    opt("advanced", None, G::Advanced, None, "also show advanced properties"),
    opt("quiet", Some('Q'), G::Quiet, None, "print only errors"),
    opt("help", Some('H'), G::Help, None, "this help; SUBCOMMAND --help for one subcommand"),
    ignored("hostname", Some('h'), Some("HOST")),
    ignored("port", Some('p'), Some("PORT")),
    ignored("bindDN", Some('D'), Some("DN")),
    ignored("bindPassword", Some('w'), Some("PASSWORD")),
    ignored("bindPasswordFile", Some('j'), Some("FILE")),
    ignored("useSSL", Some('Z'), None),
    ignored("useStartTLS", Some('q'), None),
    ignored("trustAll", Some('X'), None),
    ignored("trustStorePath", Some('P'), Some("FILE")),
    ignored("trustStorePassword", Some('T'), Some("PASSWORD")),
    ignored("trustStorePasswordFile", Some('U'), Some("FILE")),
    ignored("keyStorePath", Some('K'), Some("FILE")),
    ignored("keyStorePassword", Some('W'), Some("PASSWORD")),
    ignored("keyStorePasswordFile", Some('u'), Some("FILE")),
    ignored("certNickname", Some('N'), Some("NICKNAME")),
    ignored("saslOption", Some('o'), Some("NAME=VALUE")),
    ignored("useNoSecurity", None, None),
    opt("applyChangeTo", None, G::ApplyChangeTo, Some("SCOPE"), "server-group: every server of the topology (servers sharing one PostgreSQL store see every change at once); single-server: only this one, refused on a store that servers share"),
    ignored("offline", None, None),
    ignored("propertiesFilePath", None, Some("FILE")),
    ignored("noPropertiesFile", None, None),
    ignored("connectTimeout", None, Some("MILLISECONDS")),
    ignored("verbose", Some('v'), None),
    ignored("displayCommand", None, None),
];

fn global(long: Option<&str>, short: Option<char>) -> Option<G> {
    GLOBAL_OPTIONS
        .iter()
        .find(|o| long.is_some_and(|x| x.eq_ignore_ascii_case(o.long)) || (short.is_some() && o.short == short))
        .map(|o| o.meaning)
}

/// Resolves a subcommand name to an action and an object type.
pub fn resolve_subcommand(name: &str) -> Option<(Action, &'static ObjectType)> {
    if let Some(rest) = name.strip_prefix("list-") {
        return find_type_by_plural(rest).filter(|t| !t.singleton).map(|t| (Action::List, t));
    }
    if let Some(rest) = name.strip_prefix("create-") {
        return find_type(rest).filter(|t| !t.singleton).map(|t| (Action::Create, t));
    }
    if let Some(rest) = name.strip_prefix("delete-") {
        return find_type(rest).filter(|t| !t.singleton).map(|t| (Action::Delete, t));
    }
    if let Some(rest) = name.strip_prefix("get-").and_then(|r| r.strip_suffix("-prop")) {
        return find_type(rest).map(|t| (Action::Get, t));
    }
    if let Some(rest) = name.strip_prefix("set-").and_then(|r| r.strip_suffix("-prop")) {
        return find_type(rest).map(|t| (Action::Set, t));
    }
    None
}

/// Every subcommand name, for suggestions and help.
pub fn all_subcommands() -> Vec<String> {
    let mut v: Vec<String> =
        all_types().flat_map(|t| Action::for_type(t).iter().map(move |a| a.subcommand(t))).collect();
    v.push("list-properties".into());
    v
}

/// A `--set` / `--add` / `--remove` argument: `property:value`, or `property<FILE` (Ping's profiles keep
/// secrets out of batch files this way).
enum PropertyValue {
    Inline(String, String),
    File(String, String),
}

/// Splits at the first `:` or `<`, whichever comes first (property names hold neither).
fn property_value(v: &str) -> Option<PropertyValue> {
    let at = v.find([':', '<'])?;
    let (p, rest) = v.split_at(at);
    let p = p.trim().to_string();
    let mut rest = rest.chars();
    match rest.next() {
        Some(':') => Some(PropertyValue::Inline(p, rest.as_str().to_string())),
        _ => Some(PropertyValue::File(p, rest.as_str().trim().to_string())),
    }
}

/// The largest value file read: a secret, a certificate or a long filter is far smaller, and a wrong path (a
/// device, a log) must not fill the memory.
const MAX_VALUE_FILE: u64 = 1024 * 1024;

/// The value in `path` for property `prop`: the whole file but one trailing newline.
fn read_value_file(prop: &str, path: &str) -> Result<String, UsageError> {
    use std::io::Read;
    if path.is_empty() {
        return Err(UsageError(format!("'{prop}<' names no file: write {prop}<FILE")));
    }
    let cannot = |e: std::io::Error| UsageError(format!("cannot read the value of '{prop}' from the file {path}: {e}"));
    let mut text = String::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_VALUE_FILE + 1).read_to_string(&mut text)).map_err(cannot)?;
    if text.len() as u64 > MAX_VALUE_FILE {
        return Err(UsageError(format!(
            "the value of '{prop}' in the file {path} is larger than 1 MB: name the file that holds just the value"
        )));
    }
    let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    Ok(text.to_string())
}

/// Parses a dsconfig command line (without the program name).
pub fn parse(args: &[String]) -> Result<Invocation, UsageError> {
    let mut inv = Invocation::default();
    let mut help = false;
    let mut help_category = None;
    let mut sub: Option<String> = None;
    let mut sub_opts: Vec<(String, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if let Some(cat) = arg.strip_prefix("--help-") {
            help = true;
            help_category =
                Some(Category::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(cat)).ok_or_else(|| {
                    UsageError(format!(
                        "unknown help category '--help-{cat}': expected one of {}",
                        Category::ALL.map(|c| format!("--help-{}", c.name())).join(", ")
                    ))
                })?);
            continue;
        }
        let (long, short, inline) = split_option(arg);
        if long.is_none() && short.is_none() {
            if sub.is_none() {
                sub = Some(arg.clone());
                continue;
            }
            // `--set password Secret1`: the stray word is likely the value, maybe a secret, so it is not shown.
            let prop_op = i >= 3 && matches!(args[i - 3].as_str(), "--set" | "--add" | "--remove");
            if prop_op && !args[i - 2].contains(':') {
                return Err(UsageError(format!(
                    "unexpected argument after '{} {}': a property's value follows a colon, as in {0} {1}:VALUE \
                     (the argument is not shown: it may be a secret)",
                    args[i - 3],
                    args[i - 2]
                )));
            }
            return Err(UsageError(format!(
                "unexpected argument '{arg}': values follow an option (such as --set name:value)"
            )));
        }
        if let Some(g) = global(long.as_deref(), short) {
            let mut take_value = |name: &str| -> Result<String, UsageError> {
                if let Some(v) = inline.clone() {
                    return Ok(v);
                }
                let v = args.get(i).cloned().ok_or_else(|| UsageError(format!("option {name} needs a value")))?;
                i += 1;
                Ok(v)
            };
            match g {
                G::ServerRoot => inv.globals.server_root = Some(take_value("--server-root")?),
                G::Store => inv.globals.store = Some(take_value("--store")?),
                G::NoPrompt => inv.globals.no_prompt = true,
                G::BatchFile => inv.globals.batch_file = Some(take_value("--batch-file")?),
                G::ContinueOnError => inv.globals.batch_continue_on_error = true,
                G::ScriptFriendly => inv.globals.script_friendly = true,
                G::Advanced => inv.globals.advanced = true,
                G::Quiet => inv.globals.quiet = true,
                G::Help => help = true,
                G::ApplyChangeTo => {
                    let v = take_value("--applyChangeTo")?;
                    if !["server-group", "single-server"].contains(&v.as_str()) {
                        return Err(UsageError(format!(
                            "--applyChangeTo '{v}' is not valid: expected server-group or single-server"
                        )));
                    }
                    inv.globals.apply_change_to = Some(v);
                }
                G::Ignored(with_value) => {
                    if with_value {
                        take_value(arg)?;
                    }
                    inv.globals.ignored.push(long.clone().unwrap_or_else(|| format!("-{}", short.unwrap_or('?'))));
                }
            }
            continue;
        }
        // A subcommand option: it takes a value unless it is a known flag.
        let name = match (&long, short) {
            (Some(l), _) => l.clone(),
            (None, Some('t')) => "type".to_string(),
            (None, Some(c)) => return Err(UsageError(format!("unknown option '-{c}'"))),
            (None, None) => unreachable_option(arg)?,
        };
        let value = if inline.is_some() {
            inline.clone()
        } else if args.get(i).is_some_and(|next| !next.starts_with("--") || next == "--") {
            i += 1;
            args.get(i - 1).cloned()
        } else {
            None
        };
        sub_opts.push((name, value));
    }
    if help {
        inv.request = Some(Request::Help { subcommand: sub, category: help_category });
        return Ok(inv);
    }
    let Some(sub) = sub else {
        if let Some((name, _)) = sub_opts.first() {
            return Err(UsageError(format!("expected a subcommand (such as create-sync-pipe) before '--{name}'")));
        }
        return Ok(inv);
    };
    if sub == "list-properties" {
        let mut object_type = None;
        let mut property = None;
        for (name, value) in sub_opts {
            let value = value.ok_or_else(|| UsageError(format!("option --{name} of list-properties needs a value")))?;
            match name.as_str() {
                "type" => {
                    object_type = Some(find_type(&value).ok_or_else(|| {
                        let names: Vec<&str> = all_types().map(|t| t.name).collect();
                        UsageError(format!(
                            "unknown object type '{value}' for list-properties --type: {}expected one of {}",
                            did_you_mean(&value, names.iter().copied()),
                            names.join(", ")
                        ))
                    })?)
                }
                "property" => property = Some(value),
                other => {
                    return Err(UsageError(format!(
                        "unknown option '--{other}' for list-properties: valid options are --type, --property"
                    )))
                }
            }
        }
        inv.request = Some(Request::ListProperties { object_type, property });
        return Ok(inv);
    }
    let (action, object_type) = resolve_subcommand(&sub).ok_or_else(|| {
        let all = all_subcommands();
        UsageError(format!(
            "unknown subcommand '{sub}': {}run 'dsconfig --help' for the list",
            did_you_mean(&sub, all.iter().map(String::as_str))
        ))
    })?;
    inv.request = Some(Request::Object(build_command(&sub, action, object_type, sub_opts)?));
    Ok(inv)
}

fn unreachable_option(arg: &str) -> Result<String, UsageError> {
    Err(UsageError(format!("cannot read option '{arg}'")))
}

fn did_you_mean<'a>(given: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    closest(given, candidates).map(|c| format!("did you mean '{c}'? ")).unwrap_or_default()
}

/// Splits `--name=value`, `--name`, `-x` into (long, short, inline value).
fn split_option(arg: &str) -> (Option<String>, Option<char>, Option<String>) {
    if let Some(rest) = arg.strip_prefix("--") {
        if rest.is_empty() {
            return (None, None, None);
        }
        return match rest.split_once('=') {
            Some((n, v)) => (Some(n.to_string()), None, Some(v.to_string())),
            None => (Some(rest.to_string()), None, None),
        };
    }
    if let Some(rest) = arg.strip_prefix('-') {
        let mut chars = rest.chars();
        if let (Some(c), tail) = (chars.next(), chars.as_str()) {
            if c.is_ascii_alphabetic() {
                return (None, Some(c), (!tail.is_empty()).then(|| tail.to_string()));
            }
        }
    }
    (None, None, None)
}

fn build_command(
    sub: &str,
    action: Action,
    t: &'static ObjectType,
    opts: Vec<(String, Option<String>)>,
) -> Result<Command, UsageError> {
    let naming = t.naming_args();
    // list- takes only the parents' naming arguments.
    let wanted: Vec<&str> =
        if action == Action::List { naming[..naming.len().saturating_sub(1)].to_vec() } else { naming.clone() };
    let mut names: Vec<Option<String>> = vec![None; wanted.len()];
    let mut cmd = Command {
        action,
        object_type: t,
        names: Vec::new(),
        variant: None,
        changes: Vec::new(),
        value_files: Vec::new(),
        properties: Vec::new(),
    };
    let mut valid: Vec<String> = wanted.iter().map(|n| format!("--{n}")).collect();
    match action {
        Action::Create => valid.extend(["--type", "--set"].map(String::from)),
        Action::Set => valid.extend(["--set", "--add", "--remove", "--reset"].map(String::from)),
        Action::Get | Action::List => valid.push("--property".into()),
        Action::Delete => {}
    }
    for (name, value) in opts {
        let need = |v: Option<String>| v.ok_or_else(|| UsageError(format!("option --{name} of {sub} needs a value")));
        if let Some(pos) = wanted.iter().position(|w| w.eq_ignore_ascii_case(&name)) {
            if names[pos].is_some() {
                return Err(UsageError(format!("option --{name} of {sub} is given twice")));
            }
            names[pos] = Some(need(value)?);
            continue;
        }
        match (name.as_str(), action) {
            ("type", Action::Create) => cmd.variant = Some(need(value)?),
            ("set", Action::Create | Action::Set) | ("add", Action::Set) | ("remove", Action::Set) => {
                let v = need(value)?;
                let (p, val) = match property_value(&v) {
                    Some(PropertyValue::Inline(p, val)) => (p, val),
                    Some(PropertyValue::File(p, path)) => {
                        let val = read_value_file(&p, &path)?;
                        cmd.value_files.push((cmd.changes.len(), path));
                        (p, val)
                    }
                    None => {
                        return Err(UsageError(format!(
                            "--{name} '{v}' of {sub} needs the form property:value (split on the first colon), or \
                             property<FILE to read the value from FILE"
                        )))
                    }
                };
                cmd.changes.push(match name.as_str() {
                    "set" => PropertyChange::Set(p, val),
                    "add" => PropertyChange::Add(p, val),
                    _ => PropertyChange::Remove(p, val),
                });
            }
            ("reset", Action::Set) => {
                let v = need(value)?;
                // Ping writes `--reset prop`; tolerate `--reset prop:` too.
                cmd.changes.push(PropertyChange::Reset(v.trim_end_matches(':').trim().to_string()));
            }
            ("property", Action::Get | Action::List) => cmd.properties.push(need(value)?),
            _ => {
                return Err(UsageError(format!(
                    "unknown option '--{name}' for {sub}: {}valid options are {}",
                    did_you_mean(&format!("--{name}"), valid.iter().map(String::as_str)),
                    valid.join(", ")
                )))
            }
        }
    }
    for (n, w) in names.iter().zip(&wanted) {
        if n.is_none() {
            return Err(UsageError(format!("{sub} needs --{w}")));
        }
    }
    cmd.names = names.into_iter().flatten().collect();
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Result<Invocation, UsageError> {
        parse(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_value_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret:with<colons\n").unwrap();
        let path = f.display().to_string();
        let set = format!("password<{path}");
        let inv = p(&["set-external-server-prop", "--server-name", "s", "--set", &set, "--set", "a:b<c"]).unwrap();
        let Some(Request::Object(cmd)) = inv.request else { panic!("a command") };
        assert_eq!(
            cmd.changes,
            vec![
                PropertyChange::Set("password".into(), "s3cret:with<colons".into()),
                PropertyChange::Set("a".into(), "b<c".into())
            ]
        );
        assert_eq!(cmd.value_files, vec![(0, path.clone())]);
        std::fs::write(&f, "crlf\r\n\n").unwrap();
        let Some(Request::Object(cmd)) =
            p(&["set-external-server-prop", "--server-name", "s", "--set", &set]).unwrap().request
        else {
            panic!("a command")
        };
        assert_eq!(
            cmd.changes,
            vec![PropertyChange::Set("password".into(), "crlf\r\n".into())],
            "one newline is dropped"
        );
        let missing = dir.path().join("nope").display().to_string();
        let e = p(&["set-external-server-prop", "--server-name", "s", "--set", &format!("password<{missing}")])
            .unwrap_err()
            .0;
        assert!(e.contains(&missing) && e.contains("'password'"), "{e}");
    }

    #[test]
    fn a_value_file_over_1_mb_is_refused_and_a_device_is_not_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("big");
        std::fs::write(&f, "x".repeat(1024 * 1024 + 1)).unwrap();
        for path in [f.display().to_string(), "/dev/zero".to_string()] {
            let e = p(&["set-external-server-prop", "--server-name", "s", "--set", &format!("password<{path}")])
                .unwrap_err()
                .0;
            assert!(e.contains(&path) && e.contains("larger than 1 MB"), "{e}");
        }
        std::fs::write(&f, "x".repeat(1024 * 1024)).unwrap();
        let set = format!("description<{}", f.display());
        assert!(p(&["set-external-server-prop", "--server-name", "s", "--set", &set]).is_ok(), "1 MB is read");
    }

    #[test]
    fn globals_before_and_after_the_subcommand() {
        let inv = p(&[
            "--no-prompt",
            "set-sync-pipe-prop",
            "--pipe-name",
            "P",
            "--set",
            "started:true",
            "--server-root",
            "/tmp/x",
            "-h",
            "localhost",
            "-p",
            "389",
            "-X",
        ])
        .unwrap();
        assert!(inv.globals.no_prompt);
        assert_eq!(inv.globals.server_root.as_deref(), Some("/tmp/x"));
        assert_eq!(inv.globals.ignored, vec!["-h", "-p", "-X"]);
        let Some(Request::Object(cmd)) = inv.request else { panic!() };
        assert_eq!(cmd.action, Action::Set);
        assert_eq!(cmd.names, vec!["P"]);
        assert_eq!(cmd.changes, vec![PropertyChange::Set("started".into(), "true".into())]);
    }

    #[test]
    fn splits_on_the_first_colon_only() {
        let inv = p(&[
            "create-external-server",
            "--server-name",
            "s",
            "--type",
            "scim2",
            "--set",
            "scim-service-url:https://h:8443/scim",
        ])
        .unwrap();
        let Some(Request::Object(cmd)) = inv.request else { panic!() };
        assert_eq!(cmd.changes, vec![PropertyChange::Set("scim-service-url".into(), "https://h:8443/scim".into())]);
    }

    #[test]
    fn child_objects_need_their_parents_names() {
        let e = p(&["create-sync-class", "--class-name", "c"]).unwrap_err();
        assert_eq!(e.0, "create-sync-class needs --pipe-name");
        let inv = p(&["list-sync-classes", "--pipe-name", "p"]).unwrap();
        let Some(Request::Object(cmd)) = inv.request else { panic!() };
        assert_eq!(cmd.names, vec!["p"]);
    }

    #[test]
    fn helpful_errors() {
        let e = p(&["set-external-server-prop", "--server-name", "s", "--set", "password", "Secret1"]).unwrap_err().0;
        assert!(!e.contains("Secret1") && e.contains("--set password:VALUE"), "{e}");
        let e = p(&["set-external-server-prop", "--server-name", "s", "--set", "a:b", "stray"]).unwrap_err().0;
        assert!(e.contains("'stray'"), "{e}");
        assert!(p(&["create-sync-pipes"]).unwrap_err().0.contains("did you mean 'create-sync-pipe'"));
        let e = p(&["set-sync-pipe-prop", "--pipe-name", "p", "--sett", "a:b"]).unwrap_err().0;
        assert!(e.contains("did you mean '--set'"), "{e}");
        let e = p(&["set-sync-pipe-prop", "--pipe-name", "p", "--set", "started"]).unwrap_err().0;
        assert!(e.contains("property:value"), "{e}");
        assert!(p(&["--set", "x:y"]).unwrap_err().0.contains("expected a subcommand"));
    }

    #[test]
    fn help_forms() {
        assert_eq!(p(&["--help"]).unwrap().request, Some(Request::Help { subcommand: None, category: None }));
        assert_eq!(
            p(&["create-sync-pipe", "--help"]).unwrap().request,
            Some(Request::Help { subcommand: Some("create-sync-pipe".into()), category: None })
        );
        assert_eq!(
            p(&["--help-sync"]).unwrap().request,
            Some(Request::Help { subcommand: None, category: Some(Category::Sync) })
        );
    }
}
