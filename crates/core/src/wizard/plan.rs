//! What the wizard decided, as a [`Plan`], and the dsconfig commands that create it.

use super::{ad, http, Answers, EndpointKind, Existing, HostPort, Http, Security, Trust};
use crate::model::{check_value, Syntax};
use crate::secret::Secret;
use crate::syntax::Dn;

/// The attributes a sync class synchronizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attributes {
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

impl Attributes {
    pub fn parse(s: &str) -> Result<Attributes, String> {
        let t = s.trim();
        let list = |l: &str| -> Result<Vec<String>, String> {
            let v = check_value(&Syntax::AttributeList, l)?;
            Ok(v.split(',').map(str::to_string).collect())
        };
        if t.eq_ignore_ascii_case("all") || t.eq_ignore_ascii_case("-all-") {
            return Ok(Attributes::All);
        }
        if let Some(rest) = t.strip_prefix("only:") {
            return list(rest).map(Attributes::Only);
        }
        if let Some(rest) = t.strip_prefix("except:") {
            return list(rest).map(Attributes::Except);
        }
        Err(format!("'{t}' is not valid: expected all, only:ATTR,ATTR or except:ATTR,ATTR"))
    }
    pub fn answer(&self) -> String {
        match self {
            Attributes::All => "all".into(),
            Attributes::Only(l) => format!("only:{}", l.join(",")),
            Attributes::Except(l) => format!("except:{}", l.join(",")),
        }
    }
}

/// Which operations a class synchronizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operations {
    pub creates: bool,
    pub modifies: bool,
    pub deletes: bool,
}

impl Operations {
    pub const ALL: Operations = Operations { creates: true, modifies: true, deletes: true };
    pub fn parse(s: &str) -> Result<Operations, String> {
        let mut o = Operations { creates: false, modifies: false, deletes: false };
        let t = s.trim();
        if t.eq_ignore_ascii_case("none") {
            return Ok(o);
        }
        if t.eq_ignore_ascii_case("all") {
            return Ok(Operations::ALL);
        }
        for w in t.split(',').map(str::trim) {
            match w.to_ascii_lowercase().as_str() {
                "creates" | "create" | "add" => o.creates = true,
                "modifies" | "modify" => o.modifies = true,
                "deletes" | "delete" => o.deletes = true,
                _ => {
                    return Err(format!(
                    "'{w}' is not an operation: expected a comma list of creates, modifies, deletes, or all, or none"
                ))
                }
            }
        }
        Ok(o)
    }
    pub fn is_none(&self) -> bool {
        !(self.creates || self.modifies || self.deletes)
    }
    pub fn answer(&self) -> String {
        if self.is_none() {
            return "none".into();
        }
        let mut v = Vec::new();
        if self.creates {
            v.push("creates");
        }
        if self.modifies {
            v.push("modifies");
        }
        if self.deletes {
            v.push("deletes");
        }
        v.join(",")
    }
}

/// One endpoint of the plan.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub kind: &'static EndpointKind,
    pub base_dns: Vec<String>,
    pub security: Security,
    pub trust: Trust,
    pub servers: Vec<HostPort>,
    pub bind_dn: String,
    pub password: Secret,
    /// `unique-id-attribute`, when this endpoint is read as a source and its type has that property.
    pub unique_id: Option<String>,
    /// A SCIM service or PingOne: no servers, base DNs nor bind DN, and a preset sync class.
    pub http: Option<Http>,
    /// Objects of the configuration used as they are.
    pub existing: Existing,
}

impl Endpoint {
    /// An endpoint whose servers the wizard does not create: an HTTP one, or one that exists already.
    pub(super) fn without_servers(
        name: String,
        kind: &'static EndpointKind,
        base_dns: Vec<String>,
        http: Option<Http>,
        existing: Existing,
    ) -> Endpoint {
        let (security, trust, servers, bind_dn, password) =
            (Security::None, Trust::System, Vec::new(), String::new(), Secret::default());
        Endpoint { name, kind, base_dns, security, trust, servers, bind_dn, password, unique_id: None, http, existing }
    }

    /// The external server name of each server.
    pub fn server_names(&self) -> Vec<String> {
        if let Existing::Servers(names) = &self.existing {
            return names.clone();
        }
        self.servers.iter().map(|s| format!("{} {}", self.name, s)).collect()
    }
}

/// One sync class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncClass {
    pub name: String,
    pub base_dns: Vec<String>,
    pub filters: Vec<String>,
    pub attributes: Attributes,
    pub operations: Operations,
    pub correlation: String,
}

/// What the wizard decided: written with [`Plan::commands`].
#[derive(Clone, Debug)]
pub struct Plan {
    /// The source, then the destination.
    pub endpoints: [Endpoint; 2],
    pub bidirectional: bool,
    pub pipe_name: String,
    pub reverse_pipe_name: Option<String>,
    pub classes: Vec<SyncClass>,
    /// `None`: no DEFAULT class.
    pub default_ops: Option<Operations>,
    /// The Active Directory preset's places, when it replaces the sync classes.
    pub ad_preset: Option<crate::mapping::presets::AdLdapPlaces>,
    /// The answers as given, to save for a later non-interactive run.
    pub answers: Answers,
}

/// The name of the DN map from endpoint `from` to `to`.
pub(super) fn dn_map_name(from: &Endpoint, to: &Endpoint) -> String {
    format!("{} to {}", from.name, to.name)
}

pub(super) fn set(words: &mut Vec<String>, prop: &str, value: &str) {
    words.push("--set".into());
    words.push(format!("{prop}:{value}"));
}

pub(super) fn words(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `dn` moved from below one of `from`'s base DNs to below the matching (same index) base DN of `to`.
pub fn translate_dn(dn: &str, from: &[String], to: &[String]) -> String {
    let Ok(d) = Dn::parse(dn) else { return dn.to_string() };
    for (i, base) in from.iter().enumerate() {
        let (Ok(b), Some(target)) = (Dn::parse(base), to.get(i).or_else(|| to.first())) else { continue };
        if let Some(rel) = d.relative_to(&b) {
            let Ok(t) = Dn::parse(target) else { continue };
            return Dn::from_rdns(rel.to_vec()).concat(&t).to_string();
        }
    }
    dn.to_string()
}

impl Plan {
    pub(super) fn bases_differ(&self) -> bool {
        let [a, b] = &self.endpoints;
        a.base_dns.len() != b.base_dns.len()
            || a.base_dns.iter().zip(&b.base_dns).any(|(x, y)| !crate::syntax::dn::dn_equal(x, y))
    }

    /// The dsconfig commands (arguments without the leading `dsconfig`) that create the plan, in order.
    /// Passwords are included: the caller keeps them out of sight.
    pub fn commands(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut blind_trust_enabled = false;
        for e in &self.endpoints {
            if e.existing != Existing::Nothing {
                continue;
            }
            let trust_name = match (&e.trust, e.security) {
                (_, Security::None) | (Trust::System, _) => None,
                (Trust::TrustAll, _) => {
                    if !blind_trust_enabled {
                        out.push(words(&[
                            "set-trust-manager-provider-prop",
                            "--provider-name",
                            "Blind Trust",
                            "--set",
                            "enabled:true",
                        ]));
                        blind_trust_enabled = true;
                    }
                    Some("Blind Trust".to_string())
                }
                (Trust::File(path), _) => {
                    let name = format!("{} trust store", e.name);
                    let mut w =
                        words(&["create-trust-manager-provider", "--provider-name", &name, "--type", "file-based"]);
                    set(&mut w, "trust-store-file", path);
                    out.push(w);
                    Some(name)
                }
            };
            for (s, name) in e.servers.iter().zip(e.server_names()) {
                let mut w = words(&["create-external-server", "--server-name", &name, "--type", e.kind.server_type]);
                set(&mut w, "server-host-name", &s.host);
                set(&mut w, "server-port", &s.port.to_string());
                set(&mut w, "bind-dn", &e.bind_dn);
                set(&mut w, "password", e.password.expose());
                set(&mut w, "connection-security", e.security.name());
                if let Some(t) = &trust_name {
                    set(&mut w, "trust-manager-provider", t);
                    if e.trust == Trust::TrustAll {
                        set(&mut w, "hostname-verification-method", "allow-all");
                    }
                }
                out.push(w);
            }
        }
        let [a, b] = &self.endpoints;
        let mut pipes = vec![(self.pipe_name.clone(), a, b)];
        if let Some(r) = &self.reverse_pipe_name {
            pipes.push((r.clone(), b, a));
        }
        // Sources and destinations.
        for (_, from, to) in &pipes {
            let mut w = words(&["create-sync-source", "--source-name", &from.name, "--type", from.kind.source_type]);
            for d in &from.base_dns {
                set(&mut w, "base-dn", d);
            }
            for s in from.server_names() {
                set(&mut w, "server", &s);
            }
            if let Some(u) = &from.unique_id {
                set(&mut w, "unique-id-attribute", u);
            }
            if self.bidirectional {
                // The reverse pipe writes to this endpoint as its sync user: skip those changes, or they loop.
                set(&mut w, "ignore-changes-by-dn", &from.bind_dn);
            }
            match &from.http {
                _ if from.existing == Existing::Endpoint => {}
                Some(h) => out.extend(h.source_commands(&from.name)),
                None => out.push(w),
            }
            let mut w =
                words(&["create-sync-destination", "--destination-name", &to.name, "--type", to.kind.destination_type]);
            for d in &to.base_dns {
                set(&mut w, "base-dn", d);
            }
            for s in to.server_names() {
                set(&mut w, "server", &s);
            }
            match &to.http {
                _ if to.existing == Existing::Endpoint => {}
                Some(h) => out.extend(h.destination_commands(&to.name)),
                None => out.push(w),
            }
        }
        let differ = self.bases_differ() && self.endpoints.iter().all(|e| e.http.is_none()) && self.ad_preset.is_none();
        for (pipe, from, to) in &pipes {
            let map = differ.then(|| dn_map_name(from, to));
            if let Some(m) = &map {
                for (i, fb) in from.base_dns.iter().enumerate() {
                    let tb = to.base_dns.get(i).or_else(|| to.base_dns.first()).cloned().unwrap_or_default();
                    let name = if i == 0 { m.clone() } else { format!("{m} {}", i + 1) };
                    let mut w = words(&["create-dn-map", "--map-name", &name]);
                    set(&mut w, "from-dn-pattern", &format!("**,{fb}"));
                    set(&mut w, "to-dn-pattern", &format!("{{1}},{tb}"));
                    out.push(w);
                }
            }
            let mut w = words(&["create-sync-pipe", "--pipe-name", pipe]);
            set(&mut w, "sync-source", &from.name);
            set(&mut w, "sync-destination", &to.name);
            out.push(w);
            let maps: Vec<String> = match &map {
                Some(m) => (0..from.base_dns.len())
                    .map(|i| if i == 0 { m.clone() } else { format!("{m} {}", i + 1) })
                    .collect(),
                None => Vec::new(),
            };
            let reverse = !std::ptr::eq(*from, a);
            for (i, c) in self.classes.iter().enumerate() {
                let mut w = words(&["create-sync-class", "--pipe-name", pipe, "--class-name", &c.name]);
                set(&mut w, "evaluation-order-index", &((i + 1) * 10).to_string());
                for d in &c.base_dns {
                    let d = if reverse { translate_dn(d, &a.base_dns, &b.base_dns) } else { d.clone() };
                    set(&mut w, "include-base-dn", &d);
                }
                for f in &c.filters {
                    set(&mut w, "include-filter", f);
                }
                class_common(&mut w, &c.attributes, c.operations, &c.correlation, &maps);
                out.push(w);
            }
            if let Some(ops) = self.default_ops {
                let mut w = words(&["create-sync-class", "--pipe-name", pipe, "--class-name", "DEFAULT"]);
                set(&mut w, "evaluation-order-index", "9999");
                class_common(&mut w, &Attributes::All, ops, "dn", &maps);
                out.push(w);
            }
            out.extend(http::preset_commands(pipe, from, to));
            if let Some(at) = &self.ad_preset {
                out.extend(ad::preset_commands(pipe, from, at));
            }
        }
        out
    }

    /// The commands as a dsconfig batch file (with the passwords: keep the file private).
    pub fn batch_text(&self) -> String {
        let mut out =
            String::from("# Written by create-sync-pipe-config. Apply with: dsconfig --no-prompt --batch-file FILE\n");
        for c in self.commands() {
            out.push_str("dsconfig");
            for w in c {
                out.push(' ');
                out.push_str(&shell_quote(&w));
            }
            out.push('\n');
        }
        out
    }

    /// A summary for the review screen, without passwords.
    pub fn review(&self) -> String {
        let mut s = String::from("Review:\n");
        s.push_str(&format!("  Direction: {}\n", if self.bidirectional { "bidirectional" } else { "one-way" }));
        for (role, e) in [("Source", &self.endpoints[0]), ("Destination", &self.endpoints[1])] {
            s.push_str(&format!("  {role} '{}': {}\n", e.name, e.kind.display));
            match &e.existing {
                Existing::Endpoint => {
                    s.push_str("    (exists in the configuration: used as it is)\n");
                    continue;
                }
                Existing::Servers(names) => s.push_str(&format!("    existing servers: {}\n", names.join(", "))),
                Existing::Nothing => {}
            }
            if let Some(h) = &e.http {
                s.push_str(&h.review());
                continue;
            }
            s.push_str(&format!("    base DNs: {}\n", e.base_dns.join("; ")));
            s.push_str(&format!(
                "    servers: {} (security {}{})\n",
                e.servers.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
                e.security.name(),
                if e.security == Security::None { String::new() } else { format!(", trust {}", e.trust.answer()) }
            ));
            s.push_str(&format!("    sync user: {} (password *****)\n", e.bind_dn));
        }
        s.push_str(&format!("  Sync pipe: {}\n", self.pipe_name));
        if let Some(r) = &self.reverse_pipe_name {
            s.push_str(&format!("  Reverse sync pipe: {r}\n"));
        }
        if self.endpoints.iter().any(|e| e.http.is_some()) {
            s.push_str(&format!(
                "  Sync class '{}': the preset for LDAP inetOrgPerson entries and the other endpoint's users\n",
                http::PRESET_CLASS
            ));
        }
        if let Some(at) = &self.ad_preset {
            s.push_str(&ad::review(at));
        }
        for c in &self.classes {
            s.push_str(&format!(
                "  Sync class '{}': base DNs {}; filters {}; attributes {}; operations {}; correlation {}\n",
                c.name,
                if c.base_dns.is_empty() { "(all)".into() } else { c.base_dns.join("; ") },
                if c.filters.is_empty() { "(all)".into() } else { c.filters.join(" ") },
                c.attributes.answer(),
                c.operations.answer(),
                c.correlation
            ));
        }
        match self.default_ops {
            Some(o) => s.push_str(&format!("  DEFAULT class: {}\n", o.answer())),
            None => s.push_str("  DEFAULT class: none (entries of no class are not synchronized)\n"),
        }
        s
    }
}

pub(super) fn class_common(
    w: &mut Vec<String>,
    attrs: &Attributes,
    ops: Operations,
    correlation: &str,
    maps: &[String],
) {
    match attrs {
        Attributes::All => {}
        Attributes::Only(l) => {
            for a in l {
                set(w, "auto-mapped-source-attribute", a);
            }
        }
        Attributes::Except(l) => {
            for a in l {
                set(w, "excluded-auto-mapped-source-attributes", a);
            }
        }
    }
    set(w, "synchronize-creates", &ops.creates.to_string());
    set(w, "synchronize-modifies", &ops.modifies.to_string());
    set(w, "synchronize-deletes", &ops.deletes.to_string());
    set(w, "destination-correlation-attributes", correlation);
    for m in maps {
        set(w, "dn-map", m);
    }
}

/// A word quoted for a batch file (shell rules), only when it needs it.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,/=:@+".contains(c)) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}
