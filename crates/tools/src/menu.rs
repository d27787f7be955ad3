//! dsconfig's interactive menu (PingDataSync's "configuration console"), for `dsconfig` with no subcommand on a
//! terminal. Every menu is read from the config model (`ferrosync::model`): object types grouped by category,
//! their `--type`s, properties with description, syntax and default. Each value is checked with the model's
//! `check_value`, and every change is a dsconfig [`Command`] run by [`dsconfig::run_command`], the code path
//! of `dsconfig` commands, so it is validated the same way and recorded in the audit log.

use std::collections::BTreeMap;

use anyhow::Context;
use ferrosync::config::{Config, ConfigObject, PropertyChange};
use ferrosync::dsconfig::{self, render, Action, Command, Format};
use ferrosync::model::{all_types, check_value, find_type, Category, ObjectType, PropertyDef, Syntax};
use ferrosync::prompt::{pick, PromptError, Prompter};
use ferrosync::store::Store;

use crate::cli;
use crate::terminal::Terminal;

/// Runs the menu until the user quits.
pub fn run(store: Store, fmt: Format) -> anyhow::Result<()> {
    let mut t = Terminal;
    let mut m = Menu { store, p: &mut t, advanced: fmt.advanced, fmt };
    match m.main() {
        Err(e) if matches!(e.downcast_ref::<PromptError>(), Some(PromptError::Cancelled)) => Ok(()),
        other => other,
    }
}

struct Menu<'a> {
    store: Store,
    p: &'a mut dyn Prompter,
    advanced: bool,
    fmt: Format,
}

/// One line of a menu: its key (what `pick` returns) and its label.
type Item = (String, String);

/// What is being changed in the property editor.
enum Staged {
    /// A new object: its `--type` and the values set so far.
    Create { variant: Option<String>, values: BTreeMap<String, Vec<String>> },
    /// An existing object: the changes so far.
    Edit { changes: Vec<PropertyChange> },
}

impl Menu<'_> {
    fn config(&self) -> anyhow::Result<Config> {
        self.store.load().context("cannot read the configuration store")
    }

    fn format(&self) -> Format {
        Format { advanced: self.advanced, ..self.fmt }
    }

    /// Shows a numbered menu (`groups` under optional headings, then lettered `extras`) and returns the key of
    /// the item chosen, by number or by key.
    fn menu(
        &mut self,
        title: &str,
        groups: &[(Option<&str>, Vec<Item>)],
        extras: &[(&str, &str)],
        default: Option<&str>,
    ) -> anyhow::Result<String> {
        let mut text = format!("\n>>>> {title}\n");
        let mut keys: Vec<String> = Vec::new();
        for (heading, items) in groups {
            if let Some(h) = heading {
                if !items.is_empty() {
                    text.push_str(&format!("\n  {h}\n"));
                }
            }
            for (k, label) in items {
                keys.push(k.clone());
                text.push_str(&format!("  {:>3})  {label}\n", keys.len()));
            }
        }
        if !extras.is_empty() {
            text.push('\n');
        }
        for (k, label) in extras {
            text.push_str(&format!("  {k:>3})  {label}\n"));
        }
        self.p.note(&text);
        let letters: Vec<String> = extras.iter().map(|(k, _)| k.to_string()).collect();
        let answer = self.p.input("Enter choice", default, &|s: &str| {
            let t = s.trim();
            if let Some(l) = letters.iter().find(|l| l.eq_ignore_ascii_case(t)) {
                return Ok(l.clone());
            }
            pick(t, &keys).map_err(|e| {
                if letters.is_empty() {
                    e
                } else {
                    format!("{e}; or one of {}", letters.join(", "))
                }
            })
        })?;
        Ok(answer)
    }

    fn main(&mut self) -> anyhow::Result<()> {
        loop {
            let groups: Vec<(Option<&str>, Vec<Item>)> = Category::ALL
                .iter()
                .map(|c| {
                    let items = all_types()
                        .filter(|t| t.category == *c && (self.advanced || !t.unused))
                        .map(|t| (t.name.to_string(), t.display.to_string()))
                        .collect();
                    (Some(c.title()), items)
                })
                .collect();
            let toggle = if self.advanced {
                "Hide advanced object types and properties"
            } else {
                "Show advanced object types and properties"
            };
            let choice = self.menu(
                "ferrosync configuration console main menu: what do you want to configure?",
                &groups,
                &[("a", toggle), ("q", "Quit")],
                None,
            )?;
            match choice.as_str() {
                "q" => return Ok(()),
                "a" => self.advanced = !self.advanced,
                name => {
                    if let Some(t) = find_type(name) {
                        self.type_menu(t)?;
                    }
                }
            }
        }
    }

    fn type_menu(&mut self, t: &'static ObjectType) -> anyhow::Result<()> {
        if t.singleton {
            return self.editor(t, Vec::new(), Staged::Edit { changes: Vec::new() });
        }
        loop {
            let d = t.display;
            let items: Vec<Item> = vec![
                ("list".into(), format!("List existing {d}s")),
                ("create".into(), format!("Create a new {d}")),
                ("view".into(), format!("View and edit an existing {d}")),
                ("delete".into(), format!("Delete an existing {d}")),
            ];
            let choice = self.menu(
                &format!("{d} management menu: {}", t.description),
                &[(None, items)],
                &[("b", "Back"), ("q", "Quit")],
                None,
            )?;
            match choice.as_str() {
                "b" => return Ok(()),
                "q" => return Err(PromptError::Cancelled.into()),
                "list" => {
                    if let Some(parents) = self.parents(t)? {
                        self.run_and_show(&Command {
                            action: Action::List,
                            object_type: t,
                            names: parents,
                            variant: None,
                            changes: Vec::new(),
                            value_files: Vec::new(),
                            properties: Vec::new(),
                        })?;
                    }
                }
                "create" => {
                    if let Some(parents) = self.parents(t)? {
                        self.create(t, parents)?;
                    }
                }
                "view" => {
                    if let Some(names) = self.pick_object(t)? {
                        self.editor(t, names, Staged::Edit { changes: Vec::new() })?;
                    }
                }
                "delete" => {
                    if let Some(names) = self.pick_object(t)? {
                        self.delete(t, names)?;
                    }
                }
                _ => {}
            }
        }
    }

    /// For a child type, the names of its parent objects, chosen from the existing ones; `None` when there is
    /// none to choose from.
    fn parents(&mut self, t: &'static ObjectType) -> anyhow::Result<Option<Vec<String>>> {
        let lineage = t.lineage();
        let mut names: Vec<String> = Vec::new();
        for ancestor in &lineage[..lineage.len() - 1] {
            match self.choose_existing(ancestor, &names)? {
                Some(n) => names.push(n),
                None => return Ok(None),
            }
        }
        Ok(Some(names))
    }

    /// An existing object of type `t` below `parents`, chosen by the user.
    fn choose_existing(&mut self, t: &'static ObjectType, parents: &[String]) -> anyhow::Result<Option<String>> {
        let config = self.config()?;
        let existing: Vec<String> = if parents.is_empty() {
            config.all(t.name).iter().map(|o| o.name().to_string()).collect()
        } else {
            config.children(t.name, parents).iter().map(|o| o.name().to_string()).collect()
        };
        if existing.is_empty() {
            self.p.note(&format!("There are no {}s{}: create one first.", t.display, of_parents(t, parents)));
            return Ok(None);
        }
        let items: Vec<Item> = existing.iter().map(|n| (n.clone(), n.clone())).collect();
        let choice = self.menu(
            &format!("Select the {}{}", t.display, of_parents(t, parents)),
            &[(None, items)],
            &[("b", "Back")],
            None,
        )?;
        Ok((choice != "b").then_some(choice))
    }

    fn pick_object(&mut self, t: &'static ObjectType) -> anyhow::Result<Option<Vec<String>>> {
        let Some(mut names) = self.parents(t)? else { return Ok(None) };
        match self.choose_existing(t, &names)? {
            Some(n) => {
                names.push(n);
                Ok(Some(names))
            }
            None => Ok(None),
        }
    }

    fn run_and_show(&mut self, cmd: &Command) -> anyhow::Result<bool> {
        let fmt = self.format();
        match dsconfig::run_command(&mut self.store, cmd, fmt) {
            Ok(outcome) => {
                for n in &outcome.notes {
                    self.p.note(&format!("note: {n}"));
                }
                cli::out(&outcome.output)?;
                Ok(true)
            }
            Err(e) => {
                self.p.note(&format!("error: {e}"));
                Ok(false)
            }
        }
    }

    fn create(&mut self, t: &'static ObjectType, parents: Vec<String>) -> anyhow::Result<()> {
        let config = self.config()?;
        let existing: Vec<String> = if parents.is_empty() {
            config.all(t.name).iter().map(|o| o.name().to_string()).collect()
        } else {
            config.children(t.name, &parents).iter().map(|o| o.name().to_string()).collect()
        };
        let display = t.display;
        let name = self.p.input(&format!("Name of the new {display}"), None, &|s: &str| {
            let n = s.trim();
            if n.is_empty() {
                Err("a name cannot be empty".into())
            } else if existing.iter().any(|e| e.eq_ignore_ascii_case(n)) {
                Err(format!("there is already a {display} '{n}'"))
            } else {
                Ok(n.to_string())
            }
        })?;
        let variant = if t.variants.is_empty() {
            None
        } else {
            let items: Vec<Item> = t
                .variants
                .iter()
                .filter(|v| self.advanced || !v.unused)
                .map(|v| (v.name.to_string(), format!("{:<28} {}", v.name, v.description)))
                .collect();
            let choice = self.menu(
                &format!("Select the type of the {display}"),
                &[(None, items)],
                &[("b", "Back")],
                t.default_variant,
            )?;
            if choice == "b" {
                return Ok(());
            }
            Some(choice)
        };
        // Walk through the required properties, then any "at least one of" sets.
        let mut values = BTreeMap::new();
        for def in t.properties(variant.as_deref()).into_iter().filter(|p| p.required) {
            self.describe(def, None);
            let v = self.ask_values(def, &config)?;
            values.insert(def.name.to_string(), v);
        }
        if let Some(v) = variant.as_deref().and_then(|v| t.variant(v)) {
            for set in v.one_of {
                if set.iter().any(|p| values.contains_key(*p)) {
                    continue;
                }
                if let Some(def) = set.first().and_then(|p| t.property(variant.as_deref(), p)) {
                    self.p.note(&format!("One of {} needs a value.", set.join(", ")));
                    self.describe(def, None);
                    let v = self.ask_values(def, &config)?;
                    values.insert(def.name.to_string(), v);
                }
            }
        }
        let mut names = parents;
        names.push(name);
        self.editor(t, names, Staged::Create { variant, values })
    }

    fn command(&self, t: &'static ObjectType, names: &[String], staged: &Staged) -> Command {
        match staged {
            Staged::Create { variant, values } => Command {
                action: Action::Create,
                object_type: t,
                names: names.to_vec(),
                variant: variant.clone(),
                changes: values
                    .iter()
                    .flat_map(|(p, vs)| vs.iter().map(move |v| PropertyChange::Set(p.clone(), v.clone())))
                    .collect(),
                value_files: Vec::new(),
                properties: Vec::new(),
            },
            Staged::Edit { changes } => Command {
                action: Action::Set,
                object_type: t,
                names: names.to_vec(),
                variant: None,
                changes: changes.clone(),
                value_files: Vec::new(),
                properties: Vec::new(),
            },
        }
    }

    /// The object as it would be after the staged changes (or as it is), or why the changes cannot apply.
    fn preview(&self, cmd: &Command) -> anyhow::Result<Result<ConfigObject, String>> {
        let mut config = self.config()?;
        let secrets = self.store.secrets();
        let r = match cmd.action {
            Action::Create => {
                config.create(cmd.object_type, &cmd.names, cmd.variant.as_deref(), &cmd.changes, secrets).cloned()
            }
            _ if cmd.changes.is_empty() => {
                return Ok(config.find(cmd.object_type, &cmd.names).cloned().ok_or_else(|| {
                    format!("the {} no longer exists", ferrosync::config::describe(cmd.object_type, &cmd.names))
                }))
            }
            _ => config.modify(cmd.object_type, &cmd.names, &cmd.changes, secrets).cloned(),
        };
        Ok(r.map_err(|e| e.to_string()))
    }

    /// The property editor: the object's properties, numbered; choose one to change it; `d` prints the
    /// equivalent dsconfig command, `f` applies.
    fn editor(&mut self, t: &'static ObjectType, names: Vec<String>, mut staged: Staged) -> anyhow::Result<()> {
        let label = ferrosync::config::describe(t, &names);
        loop {
            let cmd = self.command(t, &names, &staged);
            let preview = self.preview(&cmd)?;
            let (shown, problem) = match &preview {
                Ok(o) => (Some(o.clone()), None),
                Err(e) => (None, Some(e.clone())),
            };
            let variant = match &staged {
                Staged::Create { variant, .. } => variant.clone(),
                Staged::Edit { .. } => shown.as_ref().and_then(|o| o.variant.clone()),
            };
            let defs: Vec<&'static PropertyDef> = t
                .properties(variant.as_deref())
                .into_iter()
                .filter(|p| {
                    self.advanced || (!p.advanced && !p.unused) || shown.as_ref().is_some_and(|o| o.is_set(p.name))
                })
                .collect();
            let width = defs.iter().map(|d| d.name.len()).max().unwrap_or(10);
            let items: Vec<Item> = defs
                .iter()
                .map(|d| {
                    let values = shown.as_ref().map(|o| render::shown_values(o, d)).unwrap_or_default();
                    let v = if values.is_empty() { "-".to_string() } else { values.join(", ") };
                    (d.name.to_string(), format!("{:<width$}  {v}", d.name))
                })
                .collect();
            let pending = match &staged {
                Staged::Create { .. } => true,
                Staged::Edit { changes } => !changes.is_empty(),
            };
            if let Some(p) = &problem {
                self.p.note(&format!("error: {p}"));
            }
            let toggle = if self.advanced { "Hide advanced properties" } else { "Show advanced properties" };
            let finish = match &staged {
                Staged::Create { .. } => format!("Finish: create the {label}"),
                Staged::Edit { .. } => format!("Finish: apply the changes to the {label}"),
            };
            let mut extras = vec![("a", toggle), ("d", "Display the equivalent dsconfig command")];
            if pending {
                extras.push(("f", finish.as_str()));
            }
            extras.push(("b", if pending { "Back, without applying the changes" } else { "Back" }));
            let title = format!(
                "Configure the properties of the {label}{}",
                if pending { " (changes not applied yet)" } else { "" }
            );
            let choice = self.menu(&title, &[(None, items)], &extras, None)?;
            match choice.as_str() {
                "b" => return Ok(()),
                "a" => self.advanced = !self.advanced,
                "d" => {
                    let shown_cmd = match (&staged, &shown) {
                        // An unchanged object: the command that creates it as it is.
                        (Staged::Edit { changes }, Some(o)) if changes.is_empty() => recreate(o),
                        _ => cmd.clone(),
                    };
                    let line = render::command_line(&shown_cmd, shown.as_ref());
                    self.p.note("\nThe equivalent command line is:\n");
                    cli::out(&format!("{line}\n"))?;
                }
                "f" => {
                    if self.run_and_show(&cmd)? {
                        if cmd.action == Action::Set {
                            cli::out(&format!("The {label} was modified successfully\n"))?;
                        }
                        if cmd.action == Action::Create {
                            return Ok(());
                        }
                        staged = Staged::Edit { changes: Vec::new() };
                    }
                }
                prop => {
                    if let Some(def) = defs.iter().find(|d| d.name == prop) {
                        self.edit_property(def, shown.as_ref(), &mut staged)?;
                    }
                }
            }
        }
    }

    /// Shows a property's description, syntax, default and current values.
    fn describe(&mut self, def: &PropertyDef, obj: Option<&ConfigObject>) {
        let mut s =
            format!("\n>>>> Property {}\n\n  {}\n\n  Syntax: {}", def.name, def.description, def.syntax.describe());
        if def.multi {
            s.push_str(" (several values allowed)");
        }
        s.push_str(&format!(
            "\n  Default: {}\n",
            if def.default.is_empty() { "none".to_string() } else { def.default.join(", ") }
        ));
        if let Some(o) = obj {
            let v = render::shown_values(o, def);
            s.push_str(&format!("  Current: {}\n", if v.is_empty() { "-".to_string() } else { v.join(", ") }));
        }
        self.p.note(&s);
    }

    /// Asks for a property's value(s), each checked against its syntax (and, for references, the existing
    /// objects).
    fn ask_values(&mut self, def: &PropertyDef, config: &Config) -> anyhow::Result<Vec<String>> {
        if def.sensitive {
            let v = self.p.password(&format!("Value of {}", def.name))?;
            return Ok(vec![v]);
        }
        let check = |s: &str| check_one(def, config, s);
        if !def.multi {
            return Ok(vec![self.p.input(&format!("Value of {}", def.name), None, &check)?]);
        }
        let mut out: Vec<String> = Vec::new();
        loop {
            let prompt = if out.is_empty() {
                format!("Value of {}", def.name)
            } else {
                format!("Another value of {} (press Enter when done)", def.name)
            };
            let more = !out.is_empty();
            let v = self.p.input(&prompt, None, &|s: &str| {
                if more && s.trim().is_empty() {
                    Ok(String::new())
                } else {
                    check(s)
                }
            })?;
            if v.is_empty() {
                return Ok(out);
            }
            out.push(v);
        }
    }

    fn edit_property(
        &mut self,
        def: &'static PropertyDef,
        obj: Option<&ConfigObject>,
        staged: &mut Staged,
    ) -> anyhow::Result<()> {
        self.describe(def, obj);
        let mut items: Vec<Item> =
            vec![("set".into(), format!("Set the value{} of {}", if def.multi { "s" } else { "" }, def.name))];
        if def.multi && !def.sensitive {
            items.push(("add".into(), "Add a value".into()));
            items.push(("remove".into(), "Remove a value".into()));
        }
        items.push(("reset".into(), format!("Reset {} to its default", def.name)));
        let choice = self.menu(
            &format!("What to do with {}", def.name),
            &[(None, items)],
            &[("b", "Back, keeping the value")],
            None,
        )?;
        let config = self.config()?;
        let name = def.name.to_string();
        match choice.as_str() {
            "set" => {
                let values = self.ask_values(def, &config)?;
                match staged {
                    Staged::Create { values: v, .. } => {
                        v.insert(name, values);
                    }
                    Staged::Edit { changes } => {
                        changes.retain(|c| c.property() != name);
                        changes.extend(values.into_iter().map(|v| PropertyChange::Set(name.clone(), v)));
                    }
                }
            }
            "add" => {
                let v =
                    self.p.input(&format!("Value to add to {name}"), None, &|s: &str| check_one(def, &config, s))?;
                match staged {
                    Staged::Create { values, .. } => values.entry(name).or_default().push(v),
                    Staged::Edit { changes } => changes.push(PropertyChange::Add(name, v)),
                }
            }
            "remove" => {
                let current: Vec<String> =
                    obj.map(|o| o.values(def.name).iter().map(|v| v.to_string()).collect()).unwrap_or_default();
                if current.is_empty() {
                    self.p.note(&format!("{name} has no value to remove."));
                    return Ok(());
                }
                let items: Vec<Item> = current.iter().map(|v| (v.clone(), v.clone())).collect();
                let v = self.menu(&format!("Value of {name} to remove"), &[(None, items)], &[("b", "Back")], None)?;
                if v == "b" {
                    return Ok(());
                }
                match staged {
                    Staged::Create { values, .. } => {
                        if let Some(vs) = values.get_mut(&name) {
                            vs.retain(|x| x != &v);
                        }
                    }
                    Staged::Edit { changes } => changes.push(PropertyChange::Remove(name, v)),
                }
            }
            "reset" => match staged {
                Staged::Create { values, .. } => {
                    values.remove(&name);
                }
                Staged::Edit { changes } => {
                    changes.retain(|c| c.property() != name);
                    changes.push(PropertyChange::Reset(name));
                }
            },
            _ => {}
        }
        Ok(())
    }

    fn delete(&mut self, t: &'static ObjectType, names: Vec<String>) -> anyhow::Result<()> {
        let label = ferrosync::config::describe(t, &names);
        let answer = self.p.input(&format!("Delete the {label}? (yes/no)"), Some("no"), &|s: &str| match s
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "y" | "yes" => Ok("yes".into()),
            "n" | "no" => Ok("no".into()),
            _ => Err("answer yes or no".into()),
        })?;
        if answer == "yes" {
            self.run_and_show(&Command {
                action: Action::Delete,
                object_type: t,
                names,
                variant: None,
                changes: Vec::new(),
                value_files: Vec::new(),
                properties: Vec::new(),
            })?;
        }
        Ok(())
    }
}

/// " of Sync Pipe 'p'" for a child type, "" otherwise.
fn of_parents(t: &'static ObjectType, parents: &[String]) -> String {
    match t.parent.and_then(find_type) {
        Some(p) if !parents.is_empty() => format!(" of {}", ferrosync::config::describe(p, parents)),
        _ => String::new(),
    }
}

/// One value of `def`, checked with the model; a reference must name an existing object.
fn check_one(def: &PropertyDef, config: &Config, s: &str) -> Result<String, String> {
    let v = check_value(&def.syntax, s)?;
    if let Syntax::Reference(to) = def.syntax {
        let existing: Vec<String> = config.all(to).iter().map(|o| o.name().to_string()).collect();
        if !existing.iter().any(|e| e.eq_ignore_ascii_case(v.trim())) {
            let what = find_type(to).map(|t| t.display).unwrap_or(to);
            return Err(format!(
                "there is no {what} '{}' ({})",
                v.trim(),
                if existing.is_empty() {
                    "none exist yet".to_string()
                } else {
                    format!("existing: {}", existing.join(", "))
                }
            ));
        }
    }
    Ok(v)
}

/// The create command that makes `obj` as it is (sensitive values are masked when rendered).
fn recreate(obj: &ConfigObject) -> Command {
    Command {
        action: if obj.object_type.singleton { Action::Set } else { Action::Create },
        object_type: obj.object_type,
        names: obj.names.clone(),
        variant: obj.variant.clone(),
        changes: obj
            .props
            .iter()
            .flat_map(|(p, vs)| vs.iter().map(move |v| PropertyChange::Set(p.clone(), v.clone())))
            .collect(),
        value_files: Vec::new(),
        properties: Vec::new(),
    }
}
