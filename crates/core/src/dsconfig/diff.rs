//! config-diff's library part: the dsconfig batch that turns one configuration (the source) into another (the
//! target), as Ping's `config-diff` prints it, to move a configuration between servers or keep it in version
//! control.
//!
//! The batch applies in order: objects whose `--type` changed are deleted first, then the target's new objects
//! are created (parents before children, referenced objects before those that refer to them; a reference in a
//! cycle is set after the creates), then the properties of the objects both sides have are changed, and last
//! the objects only the source has are deleted (those that refer to others first; children go with their
//! parent). Singletons are compared with their default when a side lacks them.
//!
//! Secrets never appear in the batch: each sensitive value (and each value a batch line cannot hold, one with a
//! line break) is written as `--set 'property<FILE'`, and [`ConfigDiff::files`] holds what each file must contain
//! (the caller writes them, mode 0600, or not at all).

use std::collections::{BTreeMap, BTreeSet};

use super::args::{Action, Command};
use super::render;
use crate::config::{Config, ConfigObject, PropertyChange};
use crate::error::StoreError;
use crate::model::{all_types, find_type, ObjectType, Syntax};
use crate::secret::Secret;

/// Reads one sealed value of a side's configuration (with that side's key).
pub type Reveal<'a> = &'a dyn Fn(&str) -> Result<Secret, StoreError>;

/// One side of a comparison: a configuration and how to read its sealed values.
pub struct Side<'a> {
    /// For messages: `source`, `target`.
    pub name: &'static str,
    pub config: &'a Config,
    pub reveal: Reveal<'a>,
}

/// What `--exclude` leaves out of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclude {
    /// The objects of one type (`--exclude root-dn-user`).
    Type(&'static ObjectType),
    /// Every object ferrosync does not use (`--exclude unused`).
    Unused,
}

impl Exclude {
    /// Reads an `--exclude` value: `unused` or an object type's name.
    pub fn parse(word: &str) -> Result<Exclude, String> {
        if word.eq_ignore_ascii_case("unused") {
            return Ok(Exclude::Unused);
        }
        find_type(&word.to_ascii_lowercase()).map(Exclude::Type).ok_or_else(|| {
            let names: Vec<&str> = all_types().map(|t| t.name).collect();
            let hint = crate::util::closest(word, names.iter().copied())
                .map(|c| format!("did you mean '{c}'? "))
                .unwrap_or_default();
            format!(
                "unknown --exclude '{word}': {hint}expected 'unused' (the objects ferrosync does not use) or an \
                 object type such as root-dn-user, log-publisher or connection-handler"
            )
        })
    }

    fn covers(&self, obj: &ConfigObject) -> bool {
        match self {
            Exclude::Type(t) => obj.object_type.lineage().iter().any(|l| std::ptr::eq(*l, *t)),
            Exclude::Unused => obj.is_unused(),
        }
    }
}

/// A value that the batch reads from a file (`property<FILE`): a secret, or a value with a line break.
pub struct ValueFile {
    /// The path as the batch names it.
    pub path: String,
    /// What the file must hold (written without a trailing newline, which `property<FILE` would drop anyway).
    pub value: Secret,
    /// Whose value it is, for messages: "property 'password' of the External Server 'ds1'".
    pub owner: String,
}

/// The batch that turns the source into the target.
pub struct ConfigDiff {
    /// The dsconfig commands, each formatted over several lines (`\` continuations), in the order they apply.
    pub commands: Vec<String>,
    /// The files that the commands read values from.
    pub files: Vec<ValueFile>,
}

impl ConfigDiff {
    /// The batch file: `header` (comment lines), then the commands separated by blank lines.
    pub fn batch_text(&self, header: &str) -> String {
        let mut out = header.to_string();
        if self.commands.is_empty() {
            out.push_str("# No differences.\n");
        }
        for c in &self.commands {
            out.push('\n');
            out.push_str(c);
            out.push('\n');
        }
        out
    }
}

/// Why a comparison failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    #[error("cannot read the value of property '{property}' of the {object} in the {side} configuration: {source}")]
    Reveal {
        side: &'static str,
        object: String,
        property: String,
        #[source]
        source: Box<StoreError>,
    },
}

/// An object's identity across configurations: its type and its names without case.
type Key = (&'static str, Vec<String>);

fn key(o: &ConfigObject) -> Key {
    (o.object_type.name, o.names.iter().map(|n| n.to_lowercase()).collect())
}

/// The keys of an object's ancestors, nearest last.
fn ancestor_keys(o: &ConfigObject) -> Vec<Key> {
    let lineage = o.object_type.lineage();
    (0..o.names.len().saturating_sub(1))
        .filter_map(|d| lineage.get(d).map(|t| (t.name, o.names[..=d].iter().map(|n| n.to_lowercase()).collect())))
        .collect()
}

/// An object's values with its secrets in clear, in memory only; an explicit empty list of a property without
/// a default is the same as no value, and left out.
type Values = BTreeMap<String, Vec<Secret>>;

fn values(side: &Side<'_>, o: &ConfigObject) -> Result<Values, DiffError> {
    let mut out = Values::new();
    for (prop, stored) in &o.props {
        let def = o.property(prop);
        if stored.is_empty() && def.is_none_or(|d| d.default.is_empty()) {
            continue;
        }
        let mut plain = Vec::with_capacity(stored.len());
        for v in stored {
            if crate::secret::is_sealed(v) {
                let secret = (side.reveal)(v).map_err(|source| DiffError::Reveal {
                    side: side.name,
                    object: o.label(),
                    property: prop.clone(),
                    source: Box::new(source),
                })?;
                plain.push(secret);
            } else {
                plain.push(Secret::new(v.clone()));
            }
        }
        out.insert(prop.clone(), plain);
    }
    Ok(out)
}

/// The references of `o` (property, referenced object's key), for ordering.
fn references(o: &ConfigObject) -> Vec<(String, Key)> {
    let mut out = Vec::new();
    for (prop, stored) in &o.props {
        if let Some(Syntax::Reference(to)) = o.property(prop).map(|d| d.syntax) {
            for v in stored {
                out.push((prop.clone(), (to, vec![v.to_lowercase()])));
            }
        }
    }
    out
}

/// What an object depends on: another item, through its property and the name it gives there when it is a
/// reference (none for its parent).
type Dependency = (usize, Option<(String, String)>);

/// A reference that closes a cycle: (item, property, referenced name without case), set after the creates.
type Deferred = BTreeSet<(usize, String, String)>;

/// `items` ordered so that each comes after its parent and the objects it refers to, when these are among
/// `items`. A cycle of references is broken at an object that can be created without its references into the
/// cycle (the property is optional, or keeps a value that exists); those references are returned, to be set
/// once everything exists.
fn dependency_order<'a>(items: &[&'a ConfigObject]) -> (Vec<&'a ConfigObject>, Deferred) {
    let index: BTreeMap<Key, usize> = items.iter().enumerate().map(|(i, o)| (key(o), i)).collect();
    // Each item's dependencies among the items.
    let deps: Vec<Vec<Dependency>> = items
        .iter()
        .map(|o| {
            let parents = ancestor_keys(o).into_iter().filter_map(|k| index.get(&k).map(|&i| (i, None)));
            let refs =
                references(o).into_iter().filter_map(|(p, k)| index.get(&k).map(|&i| (i, Some((p, k.1.concat())))));
            parents.chain(refs).collect()
        })
        .collect();
    let mut placed = vec![false; items.len()];
    let mut order = Vec::with_capacity(items.len());
    let mut deferred = Deferred::new();
    while order.len() < items.len() {
        let ready = |i: usize, placed: &[bool], deferred: &Deferred| {
            deps[i].iter().all(|(d, r)| {
                placed[*d] || r.as_ref().is_some_and(|(p, n)| deferred.contains(&(i, p.clone(), n.clone())))
            })
        };
        let before = order.len();
        for i in 0..items.len() {
            if !placed[i] && ready(i, &placed, &deferred) {
                placed[i] = true;
                order.push(i);
            }
        }
        if order.len() > before {
            continue;
        }
        // A cycle: defer the references into it of the first object that can do without them.
        let waiting: Vec<usize> = (0..items.len()).filter(|i| !placed[*i]).collect();
        let can_wait = |i: usize| {
            deps[i].iter().filter(|(d, _)| !placed[*d]).all(|(_, r)| match r {
                None => false,
                Some((p, _)) => {
                    let required = items[i].property(p).is_some_and(|d| d.required);
                    let kept =
                        deps[i].iter().filter(|(d, r)| placed[*d] && r.as_ref().is_some_and(|(q, _)| q == p)).count();
                    let existing = items[i].values(p).len()
                        - deps[i].iter().filter(|(_, r)| r.as_ref().is_some_and(|(q, _)| q == p)).count();
                    !required || kept + existing > 0
                }
            })
        };
        let Some(&pick) = waiting.iter().find(|i| can_wait(**i)).or(waiting.first()) else { break };
        for (d, r) in &deps[pick] {
            if let (false, Some((p, n))) = (placed[*d], r) {
                deferred.insert((pick, p.clone(), n.clone()));
            }
        }
    }
    (order.into_iter().map(|i| items[i]).collect(), deferred)
}

/// Builds the commands and the value files.
struct Writer<'d> {
    dir: &'d str,
    commands: Vec<String>,
    files: Vec<ValueFile>,
    file_names: BTreeSet<String>,
}

impl Writer<'_> {
    /// The changes that give `prop` the values `target` (explicit empty: via a default value set and removed).
    fn changes_for(&mut self, obj: &ConfigObject, prop: &str, target: &[Secret], cmd: &mut Command) {
        let def = obj.property(prop);
        if target.is_empty() {
            if let Some(d) = def.and_then(|d| d.default.first()) {
                cmd.changes.push(PropertyChange::Set(prop.to_string(), d.to_string()));
                cmd.changes.push(PropertyChange::Remove(prop.to_string(), d.to_string()));
            }
            return;
        }
        let sensitive = def.is_some_and(|d| d.sensitive);
        for (n, v) in target.iter().enumerate() {
            let value = v.expose();
            if sensitive || value.contains(['\n', '\r']) {
                let path = self.file_for(obj, prop, n, target.len());
                self.files.push(ValueFile {
                    path: path.clone(),
                    value: v.clone(),
                    owner: format!("property '{prop}' of the {}", obj.label()),
                });
                cmd.value_files.push((cmd.changes.len(), path));
                cmd.changes.push(PropertyChange::Set(prop.to_string(), String::new()));
            } else {
                cmd.changes.push(PropertyChange::Set(prop.to_string(), value.to_string()));
            }
        }
    }

    /// `DIR/external-server.ds1.password`: one file per value, named after its object and property.
    fn file_for(&mut self, obj: &ConfigObject, prop: &str, n: usize, of: usize) -> String {
        let mut parts = vec![obj.object_type.name.to_string()];
        parts.extend(obj.names.iter().cloned());
        parts.push(prop.to_string());
        if of > 1 {
            parts.push((n + 1).to_string());
        }
        let base: String = parts
            .join(".")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
            .collect();
        let mut name = base.clone();
        let mut i = 2;
        while !self.file_names.insert(name.to_lowercase()) {
            name = format!("{base}-{i}");
            i += 1;
        }
        format!("{}/{name}", self.dir.trim_end_matches('/'))
    }

    fn push(&mut self, cmd: &Command, obj: Option<&ConfigObject>) {
        let words = render::command_words(cmd, obj);
        let mut text = words[..words.len().min(2)].join(" ");
        for pair in words.get(2..).unwrap_or_default().chunks(2) {
            text.push_str(" \\\n    ");
            text.push_str(&pair.join(" "));
        }
        self.commands.push(text);
    }
}

fn command(action: Action, obj: &ConfigObject) -> Command {
    Command {
        action,
        object_type: obj.object_type,
        names: obj.names.clone(),
        variant: None,
        changes: Vec::new(),
        value_files: Vec::new(),
        properties: Vec::new(),
    }
}

fn same_values(a: Option<&Vec<Secret>>, b: Option<&Vec<Secret>>) -> bool {
    a.map(Vec::as_slice).unwrap_or_default() == b.map(Vec::as_slice).unwrap_or_default() && a.is_some() == b.is_some()
}

/// The batch that turns `source` into `target`, leaving out what `exclude` names; value files are named below
/// `files_dir`.
pub fn diff(
    source: &Side<'_>,
    target: &Side<'_>,
    exclude: &[Exclude],
    files_dir: &str,
) -> Result<ConfigDiff, DiffError> {
    let kept = |o: &&ConfigObject| !exclude.iter().any(|e| e.covers(o));
    let src: Vec<&ConfigObject> =
        source.config.objects().iter().filter(kept).filter(|o| !o.object_type.singleton).collect();
    let tgt: Vec<&ConfigObject> =
        target.config.objects().iter().filter(kept).filter(|o| !o.object_type.singleton).collect();
    let src_by: BTreeMap<Key, &ConfigObject> = src.iter().map(|o| (key(o), *o)).collect();
    let tgt_by: BTreeMap<Key, &ConfigObject> = tgt.iter().map(|o| (key(o), *o)).collect();
    let mut w = Writer { dir: files_dir, commands: Vec::new(), files: Vec::new(), file_names: BTreeSet::new() };

    // Objects whose --type changed are deleted and created again, with their children.
    let retyped: BTreeSet<Key> = tgt
        .iter()
        .filter(|t| {
            src_by.get(&key(t)).is_some_and(|s| {
                !s.variant.as_deref().unwrap_or("").eq_ignore_ascii_case(t.variant.as_deref().unwrap_or(""))
            })
        })
        .map(|t| key(t))
        .collect();
    let under_retyped = |o: &ConfigObject| ancestor_keys(o).iter().any(|k| retyped.contains(k));
    let mut creates = Vec::new();
    let mut common = Vec::new();
    for t in &tgt {
        match src_by.get(&key(t)) {
            Some(s) if !retyped.contains(&key(t)) && !under_retyped(t) => common.push((*s, *t)),
            _ => creates.push(*t),
        }
    }
    let gone: Vec<&ConfigObject> = src.iter().filter(|s| !tgt_by.contains_key(&key(s))).copied().collect();
    let gone_keys: BTreeSet<Key> = gone.iter().map(|o| key(o)).collect();
    // A deleted parent takes its children along; so does a re-created one.
    let top_gone: Vec<&ConfigObject> = gone
        .into_iter()
        .filter(|o| !ancestor_keys(o).iter().any(|k| gone_keys.contains(k) || retyped.contains(k)))
        .collect();

    for k in &retyped {
        if let Some(s) = src_by.get(k) {
            if !ancestor_keys(s).iter().any(|a| retyped.contains(a)) {
                w.push(&command(Action::Delete, s), None);
            }
        }
    }

    let (ordered, deferred) = dependency_order(&creates);
    let mut later: Vec<(&ConfigObject, Vec<String>)> = Vec::new();
    let position: BTreeMap<Key, usize> = creates.iter().enumerate().map(|(i, o)| (key(o), i)).collect();
    for obj in &ordered {
        let vals = values(target, obj)?;
        let i = position.get(&key(obj)).copied().unwrap_or_default();
        let mut cmd = command(Action::Create, obj);
        let mut postponed = Vec::new();
        for (prop, v) in &vals {
            let now: Vec<Secret> = v
                .iter()
                .filter(|x| !deferred.contains(&(i, prop.clone(), x.expose().to_lowercase())))
                .cloned()
                .collect();
            if now.len() < v.len() {
                postponed.push(prop.clone());
            }
            if !now.is_empty() || v.is_empty() {
                w.changes_for(obj, prop, &now, &mut cmd);
            }
        }
        w.push(&cmd, Some(obj));
        if !postponed.is_empty() {
            later.push((obj, postponed));
        }
    }
    for (obj, props) in later {
        let vals = values(target, obj)?;
        let mut cmd = command(Action::Set, obj);
        for prop in props {
            w.changes_for(obj, &prop, vals.get(&prop).map(Vec::as_slice).unwrap_or_default(), &mut cmd);
        }
        w.push(&cmd, Some(obj));
    }

    // Singletons: each side's, or its default.
    let mut singletons: Vec<(ConfigObject, ConfigObject)> = Vec::new();
    for t in all_types().filter(|t| t.singleton) {
        let find = |c: &Config| c.find(t, &[]).cloned().unwrap_or_else(|| Config::default_singleton(t));
        let (s, tg) = (find(source.config), find(target.config));
        if !exclude.iter().any(|e| e.covers(&tg)) {
            singletons.push((s, tg));
        }
    }
    let pairs = common.into_iter().chain(singletons.iter().map(|(s, t)| (s, t)));
    for (s, t) in pairs {
        let (sv, tv) = (values(source, s)?, values(target, t)?);
        let props: BTreeSet<&String> = sv.keys().chain(tv.keys()).collect();
        let mut cmd = command(Action::Set, t);
        for prop in props {
            match tv.get(prop) {
                _ if same_values(sv.get(prop), tv.get(prop)) => {}
                None => cmd.changes.push(PropertyChange::Reset(prop.clone())),
                Some(v) => w.changes_for(t, prop, v, &mut cmd),
            }
        }
        if !cmd.changes.is_empty() {
            w.push(&cmd, Some(t));
        }
    }

    // Deletes: those that refer to others first.
    let (ordered, _) = dependency_order(&top_gone);
    for obj in ordered.iter().rev() {
        w.push(&command(Action::Delete, obj), None);
    }
    Ok(ConfigDiff { commands: w.commands, files: w.files })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretSealer;
    use crate::error::ConfigError;

    /// Seals by prefixing, so the test can read values back without a key.
    struct Tagged;
    impl SecretSealer for Tagged {
        fn seal(&self, plain: &str) -> Result<String, ConfigError> {
            Ok(format!("enc:v1:{plain}"))
        }
    }
    fn reveal(v: &str) -> Result<Secret, StoreError> {
        Ok(Secret::new(v.trim_start_matches("enc:v1:")))
    }

    fn config(batch: &str) -> Config {
        let mut c = Config::builtin();
        crate::dsconfig::run_batch("t", batch, &mut c, &Tagged, Default::default(), false).unwrap();
        c
    }

    fn run(source: &Config, target: &Config, exclude: &[Exclude]) -> ConfigDiff {
        run_in(source, target, exclude, "secrets")
    }

    fn run_in(source: &Config, target: &Config, exclude: &[Exclude], dir: &str) -> ConfigDiff {
        let s = Side { name: "source", config: source, reveal: &reveal };
        let t = Side { name: "target", config: target, reveal: &reveal };
        diff(&s, &t, exclude, dir).unwrap()
    }

    /// The batch applied to the source gives the target, its value files written where it names them.
    fn applies(source: &Config, target: &Config, d: &ConfigDiff) {
        let text = d.batch_text("");
        for f in &d.files {
            std::fs::write(&f.path, f.value.expose()).unwrap();
        }
        let mut got = source.clone();
        crate::dsconfig::run_batch("diff", &text, &mut got, &Tagged, Default::default(), false)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let norm = |c: &Config| -> Vec<(Key, Option<String>, Values)> {
            let side = Side { name: "x", config: c, reveal: &reveal };
            let mut v: Vec<_> =
                c.objects().iter().map(|o| (key(o), o.variant.clone(), values(&side, o).unwrap())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        assert!(norm(&got) == norm(target), "the batch does not give the target:\n{text}");
    }

    #[test]
    fn creates_in_dependency_order_sets_resets_and_deletes() {
        let source = config(
            "dsconfig create-external-server --server-name old --type generic-ldap --set server-host-name:o\n\
             dsconfig set-log-publisher-prop --publisher-name 'File-Based Sync Logger' --set enabled:false\n\
             dsconfig delete-trust-manager-provider --provider-name PKCS12\n",
        );
        // Created in an order that does not work as it is: the class names a map created after it.
        let target = config(
            "dsconfig create-external-server --server-name ds1 --type generic-ldap --set server-host-name:h \
               --set bind-dn:cn=sync --set password:Secret-1\n\
             dsconfig create-sync-source --source-name src --type generic-ldap --set base-dn:dc=x --set server:ds1\n\
             dsconfig create-sync-destination --destination-name dst --type generic-ldap --set base-dn:dc=y --set server:ds1\n\
             dsconfig create-sync-pipe --pipe-name p --set sync-source:src --set sync-destination:dst\n\
             dsconfig create-sync-class --pipe-name p --class-name c --set 'include-filter:(uid=*)'\n\
             dsconfig create-attribute-map --map-name m\n\
             dsconfig create-attribute-mapping --map-name m --mapping-name cn --type direct --set from-attribute:uid\n\
             dsconfig set-sync-class-prop --pipe-name p --class-name c --set attribute-map:m\n\
             dsconfig set-access-control-handler-prop --add 'global-aci:(targetattr=\"*\")(version 3.0; acl \"a\"; allow (read) userdn=\"ldap:///all\";)'\n\
             dsconfig set-work-queue-prop --set description:line1\n",
        );
        let d = run(&source, &target, &[]);
        let text = d.batch_text("");
        assert!(!text.contains("Secret-1"), "{text}");
        assert!(text.contains("--set 'password<secrets/external-server.ds1.password'"), "{text}");
        assert_eq!(d.files.len(), 1);
        assert_eq!(d.files[0].value.expose(), "Secret-1");
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle} in\n{text}"));
        assert!(at("create-attribute-map ") < at("create-sync-class "), "{text}");
        assert!(at("create-sync-pipe ") < at("create-sync-class "), "{text}");
        assert!(at("create-external-server \\\n    --server-name ds1") < at("create-sync-source "), "{text}");
        assert!(text.contains("--reset enabled"), "{text}");
        assert!(
            at("delete-external-server \\\n    --server-name old") > at("set-access-control-handler-prop"),
            "{text}"
        );
        assert!(text.contains("dsconfig create-trust-manager-provider \\\n    --provider-name PKCS12"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let d = run_in(&source, &target, &[], &dir.path().display().to_string());
        applies(&source, &target, &d);
        assert!(run(&target, &target, &[]).commands.is_empty(), "no differences with itself");
    }

    #[test]
    fn excludes_leave_types_out() {
        let source = Config::builtin();
        let target = config(
            "dsconfig create-root-dn-user --user-name sync --set password:pw\n\
             dsconfig create-dn-map --map-name m --set 'from-dn-pattern:*,dc=x' --set 'to-dn-pattern:{1},dc=y'\n",
        );
        let d = run(&source, &target, &[Exclude::parse("unused").unwrap()]);
        assert_eq!(d.commands.len(), 1, "{:?}", d.commands);
        assert!(d.commands[0].starts_with("dsconfig create-dn-map"));
        let d = run(&source, &target, &[Exclude::parse("dn-map").unwrap()]);
        assert_eq!(d.commands.len(), 1, "{:?}", d.commands);
        assert!(d.commands[0].starts_with("dsconfig create-root-dn-user"));
        let e = Exclude::parse("dn-maps").unwrap_err();
        assert!(e.contains("did you mean 'dn-map'"), "{e}");
    }

    /// A reference cycle (SCIM sub-attribute mappings that name each other) is created without the closing
    /// reference, which is set once both exist.
    #[test]
    fn a_reference_cycle_is_closed_after_the_creates() {
        let source = Config::builtin();
        let target = config(
            "dsconfig create-scim2-attribute-mapping --mapping-name a --type string --set scim-attribute-name:a --set ldap-attribute-name:cn\n\
             dsconfig create-scim2-attribute-mapping --mapping-name b --type composed-complex --set scim-attribute-name:b --set sub-attribute-mapping:a\n\
             dsconfig create-scim2-attribute-mapping --mapping-name c --type composed-complex --set scim-attribute-name:c --set sub-attribute-mapping:b\n\
             dsconfig set-scim2-attribute-mapping-prop --mapping-name b --add sub-attribute-mapping:c\n",
        );
        let d = run(&source, &target, &[]);
        let text = d.batch_text("");
        assert!(text.contains("set-scim2-attribute-mapping-prop"), "the closing reference is set last:\n{text}");
        applies(&source, &target, &d);
    }
}
