//! Objects of the configuration that the wizard uses as they are, as PingDataSync's wizard offers: an existing
//! sync source or destination (nothing of that endpoint is created), or existing LDAP external servers for a new
//! endpoint (the servers and their sync user are not created again).

use super::{http, Connection, Endpoint, EndpointKind, HostPort, Security, Trust, Wizard, WizardError, QUESTIONS};
use crate::config::Config;
use crate::prompt::choose;
use crate::settings::server::is_ldap_variant;
use crate::settings::{ConnectionSecurity, LdapServerSettings, Reader};

/// What is used as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Existing {
    /// Everything of the endpoint is created.
    #[default]
    Nothing,
    /// The sync source or destination itself (and so its servers).
    Endpoint,
    /// These external servers, by name, in failover order.
    Servers(Vec<String>),
}

/// An external server of the configuration.
#[derive(Clone, Debug)]
pub struct KnownServer {
    pub name: String,
    pub variant: String,
    pub server: Option<HostPort>,
    pub bind_dn: String,
    pub security: Security,
}

/// A sync source or destination of the configuration.
#[derive(Clone, Debug)]
pub struct KnownEndpoint {
    /// `sync-source` or `sync-destination`.
    pub object_type: &'static str,
    pub name: String,
    pub variant: String,
    pub base_dns: Vec<String>,
    pub servers: Vec<String>,
}

/// The sync sources, destinations and external servers of the configuration.
#[derive(Clone, Debug, Default)]
pub struct Known {
    pub endpoints: Vec<KnownEndpoint>,
    pub servers: Vec<KnownServer>,
}

impl Known {
    pub fn from_config(config: &Config) -> Known {
        let mut k = Known::default();
        for o in config.objects() {
            let variant = o.variant.clone().unwrap_or_default();
            let strings = |p: &str| o.values(p).iter().map(|s| s.to_string()).collect::<Vec<_>>();
            match o.object_type.name {
                t @ ("sync-source" | "sync-destination") => k.endpoints.push(KnownEndpoint {
                    object_type: t,
                    name: o.name().to_string(),
                    variant,
                    base_dns: strings("base-dn"),
                    servers: strings("server"),
                }),
                "external-server" => {
                    // An LDAP server's typed settings; another kind of server (or one whose settings do not
                    // build) is listed without an address.
                    let ldap =
                        is_ldap_variant(&variant).then(|| LdapServerSettings::read(&Reader::new(o)).ok()).flatten();
                    k.servers.push(KnownServer {
                        name: o.name().to_string(),
                        variant,
                        server: ldap.as_ref().map(|s| HostPort { host: s.host.clone(), port: s.port }),
                        bind_dn: ldap.as_ref().and_then(|s| s.bind_dn.clone()).unwrap_or_default(),
                        security: match ldap.map(|s| s.connection_security) {
                            Some(ConnectionSecurity::Ssl) => Security::Ssl,
                            Some(ConnectionSecurity::StartTls | ConnectionSecurity::StartTlsOld) => Security::StartTls,
                            Some(ConnectionSecurity::None) | None => Security::None,
                        },
                    })
                }
                _ => {}
            }
        }
        k
    }
}

fn key(role: &str, suffix: &str) -> &'static str {
    QUESTIONS.iter().find(|q| q.key == format!("{role}{suffix}")).map(|q| q.key).unwrap_or("")
}

impl Wizard<'_> {
    /// An existing sync source (or destination) to use as it is: `--sourceExisting NAME`, or chosen from the list
    /// on a terminal. Only for one-way pipes, and only for the types the wizard knows.
    pub(super) fn reuse_endpoint(
        &mut self,
        role: &'static str,
        bidirectional: bool,
    ) -> Result<Option<Endpoint>, WizardError> {
        let object_type = if role == "source" { "sync-source" } else { "sync-destination" };
        let kinds = self.kinds();
        let kind_of = |variant: &str| {
            kinds.iter().copied().find(|k| {
                let t = if role == "source" { k.source_type } else { k.destination_type };
                !t.is_empty() && t == variant
            })
        };
        let candidates: Vec<KnownEndpoint> = self
            .known
            .endpoints
            .iter()
            .filter(|e| e.object_type == object_type && kind_of(&e.variant).is_some())
            .cloned()
            .collect();
        let k = key(role, "Existing");
        let given = self.given.get(k).and_then(|v| v.first()).cloned();
        let name = match given {
            Some(n) => {
                let reason = if bidirectional {
                    Some("an existing endpoint can only be used in a one-way pipe".to_string())
                } else if !candidates.iter().any(|c| c.name.eq_ignore_ascii_case(n.trim())) {
                    let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
                    Some(format!(
                        "the configuration has no {object_type} of that name that the wizard can use; it has: {}",
                        if names.is_empty() { "none".to_string() } else { names.join(", ") }
                    ))
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Err(WizardError::Invalid { key: k.into(), value: n, reason });
                }
                n.trim().to_string()
            }
            None if self.no_prompt || bidirectional || candidates.is_empty() => return Ok(None),
            None => {
                let labels: Vec<String> = candidates
                    .iter()
                    .map(|c| {
                        let what =
                            if c.base_dns.is_empty() { String::new() } else { format!(", {}", c.base_dns.join("; ")) };
                        format!("Use the existing {role} '{}' ({}{what})", c.name, c.variant)
                    })
                    .collect();
                let mut items: Vec<(&str, &str)> = vec![("new", "Create a new one")];
                items.extend(candidates.iter().zip(&labels).map(|(c, l)| (c.name.as_str(), l.as_str())));
                let title = format!("The {role}: a new one, or one of the configuration's");
                let v = choose(self.prompter, &title, &items, Some("new"))?;
                if v == "new" {
                    return Ok(None);
                }
                self.record(k, &v);
                v
            }
        };
        let Some(c) = candidates.into_iter().find(|c| c.name.eq_ignore_ascii_case(&name)) else { return Ok(None) };
        let Some(kind) = kind_of(&c.variant) else { return Ok(None) };
        let servers: Vec<HostPort> =
            c.servers.iter().filter_map(|s| self.known.servers.iter().find(|k| &k.name == s)?.server.clone()).collect();
        let bind_dn = c
            .servers
            .first()
            .and_then(|s| self.known.servers.iter().find(|k| &k.name == s))
            .map(|s| s.bind_dn.clone())
            .unwrap_or_default();
        let http = http::is_http(kind.key).then(|| http::placeholder(kind.key));
        let mut e = Endpoint::without_servers(c.name, kind, c.base_dns, http, Existing::Endpoint);
        (e.servers, e.bind_dn) = (servers, bind_dn);
        Ok(Some(e))
    }

    /// Existing LDAP external servers (of `server_type`) for a new endpoint: `--sourceExistingServer NAME`
    /// (repeated for failover), or one chosen from the list on a terminal. Their connection is tested; their
    /// sync user is theirs (its password is sealed in the configuration). The endpoint `name` with them, or
    /// `Err(base_dns)` back when new servers are asked for.
    pub(super) fn reuse_servers(
        &mut self,
        role: &'static str,
        name: String,
        kind: &'static EndpointKind,
        base_dns: Vec<String>,
    ) -> Result<Result<Endpoint, Vec<String>>, WizardError> {
        let server_type = kind.server_type;
        let candidates: Vec<KnownServer> =
            self.known.servers.iter().filter(|s| s.variant == server_type && s.server.is_some()).cloned().collect();
        let k = key(role, "ExistingServer");
        let names: Vec<String> = match self.given.get(k).map(<[String]>::to_vec) {
            Some(names) => {
                for n in &names {
                    if !candidates.iter().any(|c| &c.name == n) {
                        let valid: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
                        return Err(WizardError::Invalid {
                            key: k.into(),
                            value: n.clone(),
                            reason: format!(
                                "the configuration has no {server_type} external server of that name; it has: {}",
                                if valid.is_empty() { "none".to_string() } else { valid.join(", ") }
                            ),
                        });
                    }
                    self.record(k, n);
                }
                names
            }
            None if self.no_prompt || candidates.is_empty() => return Ok(Err(base_dns)),
            None => {
                let labels: Vec<String> = candidates
                    .iter()
                    .map(|c| {
                        let hp = c.server.as_ref().map(|h| h.to_string()).unwrap_or_default();
                        format!("Use the external server '{}' ({hp}, bind DN {})", c.name, c.bind_dn)
                    })
                    .collect();
                let mut items: Vec<(&str, &str)> = vec![("new", "New servers (and their sync user)")];
                items.extend(candidates.iter().zip(&labels).map(|(c, l)| (c.name.as_str(), l.as_str())));
                let v = choose(self.prompter, &format!("Servers of the {role}"), &items, Some("new"))?;
                if v == "new" {
                    return Ok(Err(base_dns));
                }
                self.record(k, &v);
                vec![v]
            }
        };
        let chosen: Vec<&KnownServer> = names.iter().filter_map(|n| candidates.iter().find(|c| &c.name == n)).collect();
        let Some(first) = chosen.first() else { return Ok(Err(base_dns)) };
        let security = first.security;
        let mut servers = Vec::new();
        for s in &chosen {
            let Some(hp) = s.server.clone() else { continue };
            let c = Connection { server: hp.clone(), security: s.security, trust: Trust::TrustAll };
            self.probe.connect(&c).map_err(|reason| WizardError::Check {
                key: k.into(),
                reason: format!("cannot connect to '{}' ({hp}): {reason}", s.name),
            })?;
            servers.push(hp);
        }
        let bind_dn = first.bind_dn.clone();
        let mut e = Endpoint::without_servers(name, kind, base_dns, None, Existing::Servers(names));
        (e.servers, e.bind_dn, e.security) = (servers, bind_dn, security);
        Ok(Ok(e))
    }
}
