//! The questions asked in order: [`Wizard::run`] takes each answer given, asks the others, and returns the
//! [`Plan`].

use super::questions::{check_class_name, check_dn, check_name, check_no_overlap, check_yes_no, question, QUESTIONS};
use super::{
    endpoint_kinds, http, parse_host_port, reuse, Answers, Attributes, Connection, Detected, Endpoint, EndpointKind,
    Existing, HostPort, Operations, Plan, PrepareRequest, Probe, Security, SyncClass, Trust, WizardError, NO_PREPARE,
};
use crate::model::{check_value, Syntax};
use crate::prompt::{choose, pick, PromptError, Prompter};
use crate::secret::Secret;
use crate::syntax::{Dn, Filter};

/// Runs the questions.
pub struct Wizard<'a> {
    pub given: Answers,
    pub no_prompt: bool,
    pub prompter: &'a mut dyn Prompter,
    pub probe: &'a dyn Probe,
    /// Reads a password file (the tool reads the file; tests may stub).
    pub read_file: &'a dyn Fn(&str) -> Result<String, String>,
    /// The answers taken, to save.
    pub(super) taken: Answers,
    /// Objects already in the configuration (type name, object name): names that would clash are refused.
    pub(super) existing: Vec<(&'static str, String)>,
    /// The configuration's endpoints and servers that may be used as they are.
    pub(super) known: reuse::Known,
    /// The endpoint registry: only the kinds whose types it builds are offered (without it: those the model has).
    pub(super) registry: Option<&'a crate::registry::Registry>,
}

pub(super) type Check<'c> = &'c dyn Fn(&str) -> Result<String, String>;

impl<'a> Wizard<'a> {
    pub fn new(
        given: Answers,
        no_prompt: bool,
        prompter: &'a mut dyn Prompter,
        probe: &'a dyn Probe,
        read_file: &'a dyn Fn(&str) -> Result<String, String>,
    ) -> Self {
        let (taken, existing, known) = (Answers::default(), Vec::new(), reuse::Known::default());
        Wizard { given, no_prompt, prompter, probe, read_file, taken, existing, known, registry: None }
    }

    /// Offers only the endpoint kinds whose types `registry` builds (the tools pass theirs).
    pub fn with_registry(mut self, registry: &'a crate::registry::Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The endpoint kinds offered: those the registry builds, or without one, those the model has.
    pub(super) fn kinds(&self) -> Vec<&'static EndpointKind> {
        match self.registry {
            Some(r) => super::kinds::served_kinds(r),
            None => endpoint_kinds(),
        }
    }

    /// Refuses names that `config` already uses for the objects the wizard creates.
    pub fn with_existing(mut self, config: &crate::config::Config) -> Self {
        self.existing = config
            .objects()
            .iter()
            .filter(|o| matches!(o.object_type.name, "sync-source" | "sync-destination" | "sync-pipe"))
            .map(|o| (o.object_type.name, o.name().to_string()))
            .collect();
        self.known = reuse::Known::from_config(config);
        self
    }

    /// Why `name` cannot be used for objects of `types`, when the configuration already has one.
    pub(super) fn clash(existing: &[(&'static str, String)], types: &[&str], name: &str) -> Result<(), String> {
        match existing.iter().find(|(t, n)| types.contains(t) && n.eq_ignore_ascii_case(name)) {
            Some((t, n)) => Err(format!(
                "the configuration already has a {} '{n}': choose another name, use it as it is (--sourceExisting or --destinationExisting, or the list on a terminal), or delete it with dsconfig delete-{t}",
                crate::model::find_type(t).map(|t| t.display).unwrap_or(t)
            )),
            None => Ok(()),
        }
    }

    pub(super) fn record(&mut self, key: &'static str, value: &str) {
        self.taken.values.entry(key).or_default().push(value.to_string());
    }

    pub(super) fn what(key: &str) -> String {
        question(key).map(|q| q.what.to_string()).unwrap_or_default()
    }

    /// One answer: given, asked, or the default under --no-prompt.
    pub(super) fn ask(
        &mut self,
        key: &'static str,
        prompt: &str,
        default: Option<&str>,
        check: Check,
    ) -> Result<String, WizardError> {
        if let Some(v) = self.given.get(key).and_then(|v| v.first()).cloned() {
            let out = check(&v).map_err(|reason| WizardError::Invalid { key: key.into(), value: v.clone(), reason })?;
            self.record(key, &out);
            return Ok(out);
        }
        let out = if self.no_prompt {
            let d = default.ok_or_else(|| WizardError::Missing { key: key.into(), what: Self::what(key) })?;
            check(d).map_err(|reason| WizardError::Invalid { key: key.into(), value: d.to_string(), reason })?
        } else {
            self.prompter.input(prompt, default, check)?
        };
        self.record(key, &out);
        Ok(out)
    }

    /// Several answers: given, or asked until an empty answer (at least one unless `allow_none`).
    pub(super) fn ask_many(
        &mut self,
        key: &'static str,
        prompt: &str,
        default_first: Option<&str>,
        check: Check,
    ) -> Result<Vec<String>, WizardError> {
        if let Some(vs) = self.given.get(key).map(<[String]>::to_vec) {
            let mut out = Vec::new();
            for v in vs {
                let c =
                    check(&v).map_err(|reason| WizardError::Invalid { key: key.into(), value: v.clone(), reason })?;
                self.record(key, &c);
                out.push(c);
            }
            return Ok(out);
        }
        if self.no_prompt {
            let d = default_first.ok_or_else(|| WizardError::Missing { key: key.into(), what: Self::what(key) })?;
            let c =
                check(d).map_err(|reason| WizardError::Invalid { key: key.into(), value: d.to_string(), reason })?;
            self.record(key, &c);
            return Ok(vec![c]);
        }
        let mut out: Vec<String> = Vec::new();
        loop {
            let more = !out.is_empty();
            let p = if more { format!("{prompt} (another one, or press Enter when done)") } else { prompt.to_string() };
            let d = if more { None } else { default_first };
            let allow_empty = more;
            let v = self.prompter.input(&p, d, &|s: &str| {
                if s.trim().is_empty() && allow_empty {
                    Ok(String::new())
                } else {
                    check(s)
                }
            })?;
            if v.is_empty() {
                break;
            }
            self.record(key, &v);
            out.push(v);
        }
        Ok(out)
    }

    pub(super) fn choose_key(
        &mut self,
        key: &'static str,
        title: &str,
        items: &[(&str, &str)],
        default: Option<&str>,
    ) -> Result<String, WizardError> {
        let keys: Vec<String> = items.iter().map(|(k, _)| k.to_string()).collect();
        if self.given.get(key).is_some() || self.no_prompt {
            let check = |s: &str| pick(s, &keys);
            return self.ask(key, title, default, &check);
        }
        let v = choose(self.prompter, title, items, default)?;
        self.record(key, &v);
        Ok(v)
    }

    pub(super) fn password(
        &mut self,
        key: &'static str,
        file_key: &'static str,
        prompt: &str,
    ) -> Result<Secret, WizardError> {
        if let Some(v) = self.given.get(key).and_then(|v| v.first()) {
            return Ok(Secret::new(v.clone()));
        }
        if let Some(f) = self.given.get(file_key).and_then(|v| v.first()).cloned() {
            let text = (self.read_file)(&f).map_err(|reason| WizardError::Invalid {
                key: file_key.into(),
                value: f.clone(),
                reason,
            })?;
            self.record(file_key, &f);
            return Ok(Secret::new(text.trim_end_matches(['\r', '\n'])));
        }
        if self.no_prompt {
            return Err(WizardError::Missing {
                key: key.into(),
                what: format!("{}; or --{file_key}", Self::what(key)),
            });
        }
        Ok(Secret::new(self.prompter.password(prompt)?))
    }

    /// Asks everything and returns the plan (nothing is written).
    pub fn run(mut self) -> Result<Plan, WizardError> {
        if !self.no_prompt {
            self.prompter.note(
            "This tool creates a sync pipe configuration: the endpoints, their servers, the pipe and its sync classes.\n\
             Each answer can also be given as a flag (--KEY VALUE) or in a properties file (--propertiesFilePath).",
            );
        }
        let direction = self.choose_key(
            "direction",
            "Synchronization direction",
            &[
                ("one-way", "One-way: from a source to a destination"),
                ("bidirectional", "Bidirectional: two pipes, one each way"),
            ],
            Some("one-way"),
        )?;
        let bidirectional = direction == "bidirectional";
        let source = self.endpoint("source", bidirectional, None)?;
        let destination = self.endpoint("destination", bidirectional, Some(&source))?;
        let default_pipe = format!("{} to {}", source.name, destination.name);
        let existing = self.existing.clone();
        let check_name = move |s: &str| {
            let n = check_name(s)?;
            Self::clash(&existing, &["sync-pipe"], &n)?;
            Ok(n)
        };
        let pipe_name = self.ask("pipeName", "Name of the sync pipe", Some(&default_pipe), &check_name)?;
        let reverse_pipe_name = if bidirectional {
            let d = format!("{} to {}", destination.name, source.name);
            let pn = pipe_name.clone();
            let check = move |s: &str| {
                let n = check_name(s)?;
                if n.eq_ignore_ascii_case(&pn) {
                    return Err(format!("'{n}' is already the name of the first pipe"));
                }
                Ok(n)
            };
            Some(self.ask("reversePipeName", "Name of the reverse sync pipe", Some(&d), &check)?)
        } else {
            None
        };
        let ad_preset = self.ad_preset(&source, &destination, bidirectional)?;
        let (classes, default_ops) = if source.http.is_some() || destination.http.is_some() || ad_preset.is_some() {
            // the preset class of the HTTP endpoint (see the http module), or the Active Directory preset
            (Vec::new(), None)
        } else {
            let classes = self.classes(&source)?;
            let default_ops = self.ask(
                "defaultClassOperations",
                "Operations the DEFAULT class synchronizes, for entries no other class takes (creates,modifies,deletes, or none)",
                Some("creates,modifies,deletes"),
                &|s| Operations::parse(s).map(|o| o.answer()),
            )?;
            (classes, Operations::parse(&default_ops).ok().filter(|o| !o.is_none()))
        };
        Ok(Plan {
            endpoints: [source, destination],
            bidirectional,
            pipe_name,
            reverse_pipe_name,
            classes,
            default_ops,
            ad_preset,
            answers: self.taken,
        })
    }

    pub(super) fn endpoint(
        &mut self,
        role: &'static str,
        bidirectional: bool,
        other: Option<&Endpoint>,
    ) -> Result<Endpoint, WizardError> {
        let key = |suffix: &str| -> &'static str {
            QUESTIONS.iter().find(|q| q.key == format!("{role}{suffix}")).map(|q| q.key).unwrap_or("")
        };
        let title = if role == "source" { "Source" } else { "Destination" };
        if let Some(e) = self.reuse_endpoint(role, bidirectional)? {
            self.prompter.note(&format!("The {role} is the existing '{}', used as it is.", e.name));
            return Ok(e);
        }
        // HTTP endpoints: one-way, with an LDAP directory at the other end.
        let http_ok = !bidirectional && other.is_none_or(|o| o.http.is_none());
        let kinds: Vec<&EndpointKind> = self
            .kinds()
            .into_iter()
            .filter(|k| if role == "source" { !k.source_type.is_empty() } else { !k.destination_type.is_empty() })
            .filter(|k| http_ok || !http::is_http(k.key))
            .collect();
        let items: Vec<(&str, &str)> = kinds.iter().map(|k| (k.key, k.display)).collect();
        let kind_key = self.choose_key(key("Type"), &format!("{title} endpoint type"), &items, Some("389ds"))?;
        let kind = kinds.iter().copied().find(|k| k.key == kind_key).ok_or(PromptError::Cancelled)?;
        let default_name = if role == "source" { "source" } else { "destination" };
        let other_name = other.map(|o| o.name.clone());
        let existing = self.existing.clone();
        let check = move |s: &str| {
            let n = check_name(s)?;
            Self::clash(&existing, &["sync-source", "sync-destination"], &n)?;
            if other_name.as_ref().is_some_and(|o| o.eq_ignore_ascii_case(&n)) {
                return Err(format!("'{n}' is already the source's name"));
            }
            Ok(n)
        };
        let name = self.ask(key("Name"), &format!("Name of the {role}"), Some(default_name), &check)?;
        if http::is_http(kind.key) {
            let http = Some(self.http_endpoint(role, kind.key)?);
            return Ok(Endpoint::without_servers(name, kind, Vec::new(), http, Existing::Nothing));
        }
        // Base DNs: valid, and not overlapping each other.
        let base_dns = loop {
            let dns = self.ask_many(key("BaseDN"), &format!("Base DN of the {role}"), None, &check_dn)?;
            match check_no_overlap(&format!("the {role}"), &dns, &format!("the {role}"), &dns) {
                Ok(()) => break dns,
                Err(reason) => self.retry(key("BaseDN"), reason)?,
            }
        };
        let base_dns = match self.reuse_servers(role, name.clone(), kind, base_dns)? {
            Ok(mut e) => {
                e.unique_id = self.unique_id(role, kind, bidirectional)?;
                return Ok(e);
            }
            Err(base_dns) => base_dns,
        };
        let security = self.choose_key(
            key("Security"),
            &format!("Connection security of the {role}"),
            &[("none", "None (plain LDAP)"), ("ssl", "SSL (LDAPS)"), ("start-tls", "StartTLS")],
            Some("none"),
        )?;
        let security =
            Security::parse(&security).map_err(|reason| WizardError::Check { key: key("Security").into(), reason })?;
        let trust = if security == Security::None {
            Trust::System
        } else {
            let t = self.ask(
                key("Trust"),
                &format!("Certificates to trust for the {role}: system, trust-all, or the path of a PEM file of CA certificates"),
                Some("system"),
                &|s| Trust::parse(s).map(|t| t.answer()),
            )?;
            Trust::parse(&t).map_err(|reason| WizardError::Check { key: key("Trust").into(), reason })?
        };
        let default_port = if security == Security::Ssl { 636 } else { kind.default_port };
        let default_server = format!("localhost:{default_port}");
        let mut servers: Vec<HostPort> = Vec::new();
        let given_servers = self.given.get(key("Server")).is_some() || self.no_prompt;
        loop {
            if given_servers {
                // No default: a server list is never guessed.
                let vs = self
                    .ask_many(key("Server"), "", None, &|s| parse_host_port(s, default_port).map(|h| h.to_string()))?;
                for v in vs {
                    let hp = parse_host_port(&v, default_port)
                        .map_err(|reason| WizardError::Check { key: key("Server").into(), reason })?;
                    let c = Connection { server: hp.clone(), security, trust: trust.clone() };
                    self.probe.connect(&c).map_err(|reason| WizardError::Check {
                        key: key("Server").into(),
                        reason: format!("cannot connect to {hp}: {reason}"),
                    })?;
                    servers.push(hp);
                }
                break;
            }
            let more = !servers.is_empty();
            let prompt = if more {
                format!("Another server of the {role}, as host:port, for failover (press Enter when done)")
            } else {
                format!("Server of the {role}, as host:port (the first one is tried first)")
            };
            let v = self.prompter.input(&prompt, if more { None } else { Some(&default_server) }, &|s| {
                if more && s.trim().is_empty() {
                    return Ok(String::new());
                }
                parse_host_port(s, default_port).map(|h| h.to_string())
            })?;
            if v.is_empty() {
                break;
            }
            let hp = parse_host_port(&v, default_port)
                .map_err(|reason| WizardError::Check { key: key("Server").into(), reason })?;
            let c = Connection { server: hp.clone(), security, trust: trust.clone() };
            self.prompter.note(&format!("Testing the connection to {hp} ..."));
            match self.probe.connect(&c) {
                Ok(()) => {
                    self.prompter.note(&format!("Connected to {hp}."));
                    self.record(key("Server"), &v);
                    servers.push(hp);
                }
                Err(reason) => {
                    self.prompter.note(&format!("Cannot connect to {hp}: {reason}. Enter the server again."))
                }
            }
        }
        // Base DNs must not overlap the other endpoint's where both are on one server.
        if let Some(o) = other {
            if o.servers.iter().any(|s| servers.contains(s)) {
                check_no_overlap(&format!("the {role}"), &base_dns, "the source (on the same server)", &o.base_dns)
                    .map_err(|reason| WizardError::Check { key: key("BaseDN").into(), reason })?;
            }
        }
        let connections: Vec<Connection> =
            servers.iter().map(|s| Connection { server: s.clone(), security, trust: trust.clone() }).collect();
        let (is_source, is_destination) = (role == "source" || bidirectional, role == "destination" || bidirectional);
        let admin = self.prepare_admin(role, &connections, &base_dns)?;
        // The sync user (created first when preparing), tested on every server.
        let (bind_dn, password) = loop {
            let default_dn = admin.as_ref().map_or("cn=Sync User,cn=Root DNs,cn=config", |a| &a.2.default_sync_dn);
            let dn =
                self.ask(key("BindDN"), &format!("DN of the sync user of the {role}"), Some(default_dn), &check_dn)?;
            let pw = self.password(key("BindPassword"), key("BindPasswordFile"), &format!("Password of {dn}"))?;
            let mut failure = None;
            if let Some((admin_dn, admin_password, _)) = &admin {
                'prepare: for c in &connections {
                    for base_dn in &base_dns {
                        let req = PrepareRequest {
                            admin_dn,
                            admin_password,
                            base_dn,
                            sync_dn: &dn,
                            sync_password: &pw,
                            is_source,
                            is_destination,
                        };
                        self.prompter.note(&format!("Preparing {} for the sync user {dn} ...", c.server));
                        match self.probe.prepare(c, &req) {
                            Ok(p) => {
                                self.prompter.note(&p.report);
                                if !p.complete {
                                    self.prompter.note(&format!(
                                        "{} is not completely prepared: do what is listed above (the wizard goes on)",
                                        c.server
                                    ));
                                }
                            }
                            Err(reason) => {
                                failure = Some(format!("cannot prepare {}: {reason}", c.server));
                                break 'prepare;
                            }
                        }
                    }
                }
            }
            for c in &connections {
                if failure.is_some() {
                    break;
                }
                if let Err(reason) = self.probe.bind(c, &dn, pw.expose()) {
                    failure = Some(format!("cannot bind as {dn} to {}: {reason}", c.server));
                }
            }
            match failure {
                None => break (dn, pw),
                Some(reason) => {
                    if self.given.get(key("BindDN")).is_some() || self.no_prompt {
                        return Err(WizardError::Check { key: key("BindDN").into(), reason });
                    }
                    self.prompter.note(&format!("{reason}. Enter the sync user again."));
                    self.taken.values.remove(key("BindDN"));
                }
            }
        };
        let unique_id = self.unique_id(role, kind, bidirectional)?;
        let existing = Existing::Nothing;
        Ok(Endpoint {
            name,
            kind,
            base_dns,
            security,
            trust,
            servers,
            bind_dn,
            password,
            unique_id,
            http: None,
            existing,
        })
    }

    /// The source's `unique-id-attribute`, when the endpoint is read and its type has one.
    pub(super) fn unique_id(
        &mut self,
        role: &'static str,
        kind: &EndpointKind,
        bidirectional: bool,
    ) -> Result<Option<String>, WizardError> {
        let reads = role == "source" || bidirectional;
        let key = if role == "source" { "sourceUniqueIdAttribute" } else { "destinationUniqueIdAttribute" };
        Ok(match kind.unique_id {
            Some(d) if reads => Some(self.ask(
                key,
                &format!("Attribute of the {role} that identifies an entry across renames"),
                Some(d),
                &|s| check_value(&Syntax::AttributeName, s),
            )?),
            _ => None,
        })
    }

    /// Whether to prepare the endpoint's servers (prepare-endpoint-server's work) before the sync user is
    /// tested; when so, the administrator's DN and password, checked on the first server, and what it is.
    pub(super) fn prepare_admin(
        &mut self,
        role: &'static str,
        connections: &[Connection],
        base_dns: &[String],
    ) -> Result<Option<(String, Secret, Detected)>, WizardError> {
        let (prepare_key, dn_key, pw_key, file_key) = if role == "source" {
            ("prepareSourceServer", "sourceAdminBindDN", "sourceAdminBindPassword", "sourceAdminBindPasswordFile")
        } else {
            (
                "prepareDestinationServer",
                "destinationAdminBindDN",
                "destinationAdminBindPassword",
                "destinationAdminBindPasswordFile",
            )
        };
        let what = if role == "source" {
            "create the sync user, grant it its rights, turn on the change log"
        } else {
            "create the sync user, grant it its rights"
        };
        let yes = self.ask(
            prepare_key,
            &format!("Prepare the {role}'s servers now as an administrator ({what})? yes or no"),
            Some("no"),
            &check_yes_no,
        )?;
        if yes != "yes" {
            return Ok(None);
        }
        let (Some(first), Some(base_dn)) = (connections.first(), base_dns.first()) else { return Ok(None) };
        loop {
            let dn = self.ask(
                dn_key,
                &format!("DN of an administrator of the {role}'s servers"),
                Some("cn=Directory Manager"),
                &check_dn,
            )?;
            let pw = self.password(pw_key, file_key, &format!("Password of {dn}"))?;
            match self.probe.detect(first, &dn, pw.expose(), base_dn) {
                Ok(d) => {
                    self.prompter.note(&format!("{} is {}.", first.server, d.kind));
                    return Ok(Some((dn, pw, d)));
                }
                Err(reason) => {
                    let unavailable = reason == NO_PREPARE;
                    let reason = format!("cannot read {} as {dn}: {reason}", first.server);
                    if self.given.get(dn_key).is_some() || self.no_prompt || unavailable {
                        return Err(WizardError::Check { key: dn_key.into(), reason });
                    }
                    self.prompter.note(&format!("{reason}. Enter the administrator again."));
                    self.taken.values.remove(dn_key);
                }
            }
        }
    }

    /// After a check of several answers failed: re-ask (interactive) or fail.
    pub(super) fn retry(&mut self, key: &'static str, reason: String) -> Result<(), WizardError> {
        if self.given.get(key).is_some() || self.no_prompt {
            return Err(WizardError::Check { key: key.into(), reason });
        }
        self.prompter.note(&format!("{reason}. Enter them again."));
        self.taken.values.remove(key);
        Ok(())
    }

    pub(super) fn classes(&mut self, source: &Endpoint) -> Result<Vec<SyncClass>, WizardError> {
        let names: Vec<String> = if let Some(v) = self.given.get("syncClass").map(<[String]>::to_vec) {
            let mut out = Vec::new();
            for n in v {
                if n.eq_ignore_ascii_case("none") {
                    self.record("syncClass", "none");
                    continue;
                }
                let c = check_class_name(&n, &out).map_err(|reason| WizardError::Invalid {
                    key: "syncClass".into(),
                    value: n.clone(),
                    reason,
                })?;
                self.record("syncClass", &c);
                out.push(c);
            }
            out
        } else if self.no_prompt {
            return Err(WizardError::Missing { key: "syncClass".into(), what: Self::what("syncClass") });
        } else {
            Vec::new()
        };
        let interactive_names = self.given.get("syncClass").is_none();
        let mut classes = Vec::new();
        let mut i = 0;
        loop {
            let name =
                if interactive_names {
                    let existing: Vec<String> = classes.iter().map(|c: &SyncClass| c.name.clone()).collect();
                    let n = self.prompter.input(
                        "Name of a sync class (press Enter when there are no more)",
                        None,
                        &|s| if s.trim().is_empty() { Ok(String::new()) } else { check_class_name(s, &existing) },
                    )?;
                    if n.is_empty() {
                        if classes.is_empty() {
                            self.record("syncClass", "none");
                        }
                        break;
                    }
                    self.record("syncClass", &n);
                    n
                } else {
                    match names.get(i) {
                        Some(n) => n.clone(),
                        None => break,
                    }
                };
            i += 1;
            classes.push(self.class(&name, source)?);
        }
        Ok(classes)
    }

    /// A per-class answer: `CLASS:value` given, or asked.
    pub(super) fn class_answer(
        &mut self,
        key: &'static str,
        class: &str,
        prompt: &str,
        default: Option<&str>,
        multi: bool,
        check: Check,
    ) -> Result<Vec<String>, WizardError> {
        let given = self.given.take_for(key, class);
        let record = |w: &mut Self, v: &str| w.record(key, &format!("{class}:{v}"));
        if !given.is_empty() {
            let mut out = Vec::new();
            for v in given {
                let c = check(&v).map_err(|reason| WizardError::Invalid {
                    key: key.into(),
                    value: format!("{class}:{v}"),
                    reason,
                })?;
                record(self, &c);
                out.push(c);
            }
            return Ok(out);
        }
        let explicit_classes = self.given.get("syncClass").is_some();
        if self.no_prompt || explicit_classes && self.given.get(key).is_some() {
            // Non-interactive: the default, or nothing for a list.
            return match default {
                Some(d) => {
                    let c =
                        check(d).map_err(|reason| WizardError::Invalid { key: key.into(), value: d.into(), reason })?;
                    record(self, &c);
                    Ok(vec![c])
                }
                None if multi => Ok(Vec::new()),
                None => Err(WizardError::Missing {
                    key: key.into(),
                    what: format!("{} (for class {class})", Self::what(key)),
                }),
            };
        }
        if !multi {
            let v = self.prompter.input(prompt, default, check)?;
            record(self, &v);
            return Ok(vec![v]);
        }
        let mut out: Vec<String> = Vec::new();
        loop {
            let p = if out.is_empty() {
                format!("{prompt} (press Enter for none)")
            } else {
                format!("{prompt} (another one, or press Enter when done)")
            };
            let v =
                self.prompter.input(&p, None, &|s| if s.trim().is_empty() { Ok(String::new()) } else { check(s) })?;
            if v.is_empty() {
                break;
            }
            record(self, &v);
            out.push(v);
        }
        Ok(out)
    }

    pub(super) fn class(&mut self, name: &str, source: &Endpoint) -> Result<SyncClass, WizardError> {
        let bases = source.base_dns.clone();
        let within = move |s: &str| -> Result<String, String> {
            let d = check_dn(s)?;
            let dn = Dn::parse(&d).map_err(|e| e.to_string())?;
            if bases.iter().filter_map(|b| Dn::parse(b).ok()).any(|b| dn.is_within(&b)) {
                Ok(d)
            } else {
                Err(format!("'{d}' is not within the source's base DNs ({})", bases.join("; ")))
            }
        };
        let base_dns = self.class_answer(
            "syncClassBaseDN",
            name,
            &format!("Base DN of the entries of class '{name}'"),
            None,
            true,
            &within,
        )?;
        let filters = self.class_answer(
            "syncClassFilter",
            name,
            &format!("Include filter of class '{name}', such as (objectClass=person)"),
            None,
            true,
            &|s| {
                Filter::parse(s.trim())
                    .map(|_| s.trim().to_string())
                    .map_err(|e| format!("'{}' is not a valid LDAP filter: {e}", s.trim()))
            },
        )?;
        let attrs = self.class_answer(
            "syncClassAttributes",
            name,
            &format!("Attributes of class '{name}': all, only:ATTR,ATTR or except:ATTR,ATTR"),
            Some("all"),
            false,
            &|s| Attributes::parse(s).map(|a| a.answer()),
        )?;
        let ops = self.class_answer(
            "syncClassOperations",
            name,
            &format!("Operations class '{name}' synchronizes (creates,modifies,deletes)"),
            Some("creates,modifies,deletes"),
            false,
            &|s| Operations::parse(s).map(|o| o.answer()),
        )?;
        let corr = self.class_answer(
            "syncClassCorrelation",
            name,
            &format!("Attributes that find an entry of class '{name}' at the destination"),
            Some("dn"),
            false,
            &|s| check_value(&Syntax::AttributeList, s),
        )?;
        let first = |v: Vec<String>| v.into_iter().next().unwrap_or_default();
        Ok(SyncClass {
            name: name.to_string(),
            base_dns,
            filters,
            attributes: Attributes::parse(&first(attrs)).unwrap_or(Attributes::All),
            operations: Operations::parse(&first(ops)).unwrap_or(Operations::ALL),
            correlation: first(corr),
        })
    }
}
