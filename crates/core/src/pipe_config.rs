//! create-sync-pipe-config's logic, without a terminal: the questions in the order PingDataSync's wizard asks
//! them, the validation of each answer, and the answers turned into dsconfig commands.
//!
//! Every question has a key, which is also its command-line flag (`--sourceBaseDN`) and its key in a
//! properties file (`sourceBaseDN=dc=example,dc=com`). [`Wizard::run`] takes each answer from the given
//! [`Answers`] when it is there (a wrong one is an error naming the key), else asks the [`Prompter`] (a wrong
//! answer is re-asked with the reason), else, with `--no-prompt`, uses the question's default or fails with
//! [`WizardError::Missing`] naming the first missing answer. Connections are tested through a [`Probe`], which
//! the tool implements with the LDAP client (this crate has none).
//!
//! The result is a [`Plan`]; [`Plan::commands`] gives the dsconfig commands that create it, applied to the
//! store with [`crate::dsconfig::apply_batch_text`] (all or nothing) or written as a batch file for
//! `dsconfig --batch-file`.

use std::collections::BTreeMap;

mod ad;
mod http;
mod reuse;

pub use http::{Http, ScimAuth};
pub use reuse::Existing;

use crate::model::{check_value, find_type, Syntax};
use crate::syntax::{Dn, Filter};

/// Why the wizard stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WizardError {
    #[error(
        "missing answer --{key} ({what}): give it as a flag or in the properties file, or answer it on a terminal without --no-prompt"
    )]
    Missing { key: String, what: String },
    #[error("invalid answer --{key} '{value}': {reason}")]
    Invalid { key: String, value: String, reason: String },
    #[error("--{key}: {reason}")]
    Check { key: String, reason: String },
    #[error("unknown answer '{key}' in {origin}: {}valid keys are {}", .suggestion.as_ref().map(|s| format!("did you mean '{s}'? ")).unwrap_or_default(), .valid.join(", "))]
    UnknownKey { key: String, origin: String, suggestion: Option<String>, valid: Vec<String> },
    #[error("{origin}:{line}: expected KEY=VALUE, found '{text}'")]
    Syntax { origin: String, line: usize, text: String },
    #[error("the terminal: {0}")]
    Terminal(String),
    #[error("stopped without writing anything")]
    Cancelled,
}

/// One question: its key (flag and properties-file key) and what it asks.
#[derive(Clone, Copy, Debug)]
pub struct Question {
    pub key: &'static str,
    pub what: &'static str,
    /// Several values (the flag repeats; the prompt asks until an empty answer).
    pub multi: bool,
    /// A password: never echoed, never saved in the answers file.
    pub secret: bool,
}

const fn q(key: &'static str, what: &'static str) -> Question {
    Question { key, what, multi: false, secret: false }
}
const fn qm(key: &'static str, what: &'static str) -> Question {
    Question { key, what, multi: true, secret: false }
}
const fn qs(key: &'static str, what: &'static str) -> Question {
    Question { key, what, multi: false, secret: true }
}

/// Every question, in the order asked. `source*` and `destination*` questions are asked for each endpoint.
pub const QUESTIONS: &[Question] = &[
    q("direction", "one-way, or bidirectional (two pipes, one each way)"),
    q("sourceExisting", "the name of an existing sync source to use as it is (one-way pipes), instead of creating one"),
    q("sourceType", "the source endpoint's type"),
    q("sourceName", "the source endpoint's name"),
    qm("sourceBaseDN", "the source's base DNs (repeat for several; they must not overlap)"),
    qm("sourceExistingServer", "the names of existing external servers to use for a new source, in failover order, instead of creating servers and asking for their sync user"),
    q("sourceSecurity", "the source's connection security: none, ssl or start-tls"),
    q("sourceTrust", "with ssl or start-tls, which certificates the source's servers may have: system, trust-all, or the path of a PEM file of CA certificates"),
    qm("sourceServer", "the source's servers as host:port, in failover order (repeat for several)"),
    q("prepareSourceServer", "yes or no: prepare the source's servers first as an administrator (create the sync user, grant it its rights, turn on the change log)"),
    q("sourceAdminBindDN", "with prepareSourceServer: the DN of an administrator of the source's servers"),
    qs("sourceAdminBindPassword", "with prepareSourceServer: the administrator's password"),
    q("sourceAdminBindPasswordFile", "with prepareSourceServer: a file holding the administrator's password"),
    q("sourceBindDN", "the DN the sync user of the source binds with"),
    qs("sourceBindPassword", "the password of the source's sync user"),
    q("sourceBindPasswordFile", "a file holding the password of the source's sync user"),
    q("sourceUniqueIdAttribute", "the source attribute that identifies an entry across renames"),
    q("destinationExisting", "the name of an existing sync destination to use as it is (one-way pipes), instead of creating one"),
    q("destinationType", "the destination endpoint's type"),
    q("destinationName", "the destination endpoint's name"),
    qm("destinationBaseDN", "the destination's base DNs"),
    qm("destinationExistingServer", "the names of existing external servers to use for a new destination, in failover order"),
    q("destinationSecurity", "the destination's connection security: none, ssl or start-tls"),
    q("destinationTrust", "with ssl or start-tls: system, trust-all, or the path of a PEM file of CA certificates"),
    qm("destinationServer", "the destination's servers as host:port, in failover order"),
    q("prepareDestinationServer", "yes or no: prepare the destination's servers first as an administrator (create the sync user, grant it its rights)"),
    q("destinationAdminBindDN", "with prepareDestinationServer: the DN of an administrator of the destination's servers"),
    qs("destinationAdminBindPassword", "with prepareDestinationServer: the administrator's password"),
    q("destinationAdminBindPasswordFile", "with prepareDestinationServer: a file holding the administrator's password"),
    q("destinationBindDN", "the DN the sync user of the destination binds with"),
    qs("destinationBindPassword", "the password of the destination's sync user"),
    q("destinationBindPasswordFile", "a file holding the password of the destination's sync user"),
    q("destinationUniqueIdAttribute", "bidirectional: the destination attribute that identifies an entry across renames"),
    q("destinationScimServiceURL", "SCIM 2.0 destination: the service's base URL, such as https://host/scim/v2"),
    q("destinationScimAuth", "SCIM 2.0 destination: bearer-token, basic or client-credentials"),
    qs("destinationScimBearerToken", "SCIM 2.0 destination: the bearer token"),
    q("destinationScimBearerTokenFile", "SCIM 2.0 destination: a file holding the bearer token"),
    q("destinationScimUsername", "SCIM 2.0 destination, basic: the user name"),
    qs("destinationScimPassword", "SCIM 2.0 destination, basic: the password"),
    q("destinationScimPasswordFile", "SCIM 2.0 destination, basic: a file holding the password"),
    q("destinationScimTokenURL", "SCIM 2.0 destination, client-credentials: the OAuth 2.0 token endpoint URL"),
    q("destinationScimClientID", "SCIM 2.0 destination, client-credentials: the client id"),
    qs("destinationScimClientSecret", "SCIM 2.0 destination, client-credentials: the client secret"),
    q("destinationScimClientSecretFile", "SCIM 2.0 destination, client-credentials: a file holding the client secret"),
    q("sourcePingOneEnvironmentID", "PingOne source: the environment id"),
    q("sourcePingOneAPIURL", "PingOne source: the API URL (default https://api.pingone.com/v1)"),
    q("sourcePingOneAuthURL", "PingOne source: the token URL (default: derived from the API URL)"),
    q("sourcePingOneClientID", "PingOne source: the worker application's client id"),
    qs("sourcePingOneClientSecret", "PingOne source: the worker application's client secret"),
    q("sourcePingOneClientSecretFile", "PingOne source: a file holding the client secret"),
    qm("sourcePingOnePopulation", "PingOne source: a population (name or id) to synchronize (repeat for several; all when none)"),
    q("destinationPingOneEnvironmentID", "PingOne destination: the environment id"),
    q("destinationPingOneAPIURL", "PingOne destination: the API URL (default https://api.pingone.com/v1)"),
    q("destinationPingOneAuthURL", "PingOne destination: the token URL (default: derived from the API URL)"),
    q("destinationPingOneClientID", "PingOne destination: the worker application's client id"),
    qs("destinationPingOneClientSecret", "PingOne destination: the worker application's client secret"),
    q("destinationPingOneClientSecretFile", "PingOne destination: a file holding the client secret"),
    q("destinationPingOnePopulation", "PingOne destination: the population (name or id) new users are created in"),
    q("pipeName", "the sync pipe's name"),
    q("reversePipeName", "bidirectional: the name of the pipe from the destination back to the source"),
    q("activeDirectoryPreset", "Active Directory and an LDAP directory: yes or no, use the Active Directory preset (users and groups, CN=Users <-> ou=people, sAMAccountName <-> uid, ...) instead of asking for sync classes (default yes)"),
    q("activeDirectoryUsersDN", "with the Active Directory preset: the AD container of the users (default CN=Users,<AD base DN>)"),
    q("activeDirectoryGroupsDN", "with the Active Directory preset: the AD container of the groups (default: the users')"),
    q("ldapPeopleDN", "with the Active Directory preset: the LDAP container of the people (default ou=people,<LDAP base DN>)"),
    q("ldapGroupsDN", "with the Active Directory preset: the LDAP container of the groups (default ou=groups,<LDAP base DN>)"),
    q("activeDirectoryUPNSuffix", "with the Active Directory preset, writing to AD: the userPrincipalName suffix (default: the AD domain)"),
    qm("syncClass", "the names of the sync classes, in evaluation order (repeat for several; 'none' for none)"),
    qm("syncClassBaseDN", "CLASS:DN, a base DN of a sync class (repeat for several)"),
    qm("syncClassFilter", "CLASS:FILTER, an include filter of a sync class (repeat for several)"),
    q("syncClassAttributes", "CLASS:all, CLASS:only:ATTR,ATTR or CLASS:except:ATTR,ATTR: which attributes a sync class synchronizes"),
    q("syncClassOperations", "CLASS:creates,modifies,deletes: which operations a sync class synchronizes"),
    q("syncClassCorrelation", "CLASS:ATTR,ATTR, the attributes that find an entry at the destination (such as dn or dn,uid)"),
    q("defaultClassOperations", "which operations the DEFAULT class synchronizes for entries no other class takes: creates,modifies,deletes, or none for no DEFAULT class"),
];

/// Flags of the tool that are not answers.
pub const TOOL_FLAGS: &[&str] =
    &["no-prompt", "propertiesFilePath", "generateBatchFile", "skipConnectionTest", "server-root", "help"];

/// The question with this key.
pub fn question(key: &str) -> Option<&'static Question> {
    QUESTIONS.iter().find(|q| q.key.eq_ignore_ascii_case(key))
}

/// Answers given before the run: from flags and a properties file (flags win, key by key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    values: BTreeMap<&'static str, Vec<String>>,
}

impl Answers {
    /// Adds a value to `key`, which must be a known question.
    pub fn add(&mut self, key: &str, value: &str, origin: &str) -> Result<(), WizardError> {
        let q = question(key).ok_or_else(|| {
            let keys: Vec<&str> = QUESTIONS.iter().map(|q| q.key).collect();
            WizardError::UnknownKey {
                key: key.to_string(),
                origin: origin.to_string(),
                suggestion: crate::util::closest(key, keys.iter().chain(TOOL_FLAGS).copied()).map(str::to_string),
                valid: keys.iter().map(|k| k.to_string()).collect(),
            }
        })?;
        self.values.entry(q.key).or_default().push(value.to_string());
        Ok(())
    }

    /// Reads a properties file's text: `key=value` lines (or `key: value`), `#` and `!` comments, a key
    /// repeated for several values.
    pub fn parse_properties(text: &str, origin: &str) -> Result<Answers, WizardError> {
        let mut a = Answers::default();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                continue;
            }
            let (k, v) = t.split_once('=').or_else(|| t.split_once(':')).ok_or_else(|| WizardError::Syntax {
                origin: origin.to_string(),
                line: i + 1,
                text: t.to_string(),
            })?;
            a.add(k.trim(), v.trim(), &format!("{origin}:{}", i + 1))?;
        }
        Ok(a)
    }

    /// `other`'s keys replace this one's.
    pub fn overlay(&mut self, other: Answers) {
        for (k, v) in other.values {
            self.values.insert(k, v);
        }
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// The answers as a properties file, without the passwords.
    pub fn to_properties(&self) -> String {
        let mut out = String::from(
            "# create-sync-pipe-config answers: run again with --propertiesFilePath FILE (passwords are not saved)\n",
        );
        for q in QUESTIONS {
            if q.secret {
                continue;
            }
            for v in self.values.get(q.key).into_iter().flatten() {
                out.push_str(&format!("{}={}\n", q.key, v));
            }
        }
        out
    }

    fn take_for(&self, key: &str, class: &str) -> Vec<String> {
        self.values
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|v| v.split_once(':').filter(|(c, _)| c.trim().eq_ignore_ascii_case(class)))
            .map(|(_, v)| v.to_string())
            .collect()
    }
}

/// A kind of endpoint that ferrosync can synchronize, and the model's `--type`s it becomes.
#[derive(Debug, PartialEq, Eq)]
pub struct EndpointKind {
    pub key: &'static str,
    pub display: &'static str,
    pub server_type: &'static str,
    pub source_type: &'static str,
    pub destination_type: &'static str,
    /// The default of `unique-id-attribute`; `None` when the source type has no such property.
    pub unique_id: Option<&'static str>,
    pub default_port: u16,
}

/// The endpoint kinds, in the order offered. Only those whose types exist in the model are offered
/// ([`endpoint_kinds`]).
pub const ENDPOINT_KINDS: &[EndpointKind] = &[
    EndpointKind {
        key: "389ds",
        display: "389 Directory Server (changes read from the retro changelog)",
        server_type: "generic-ldap",
        source_type: "generic-ldap",
        destination_type: "generic-ldap",
        unique_id: Some("nsUniqueId"),
        default_port: 389,
    },
    EndpointKind {
        key: "openldap",
        display: "OpenLDAP (changes read from the accesslog)",
        server_type: "generic-ldap",
        source_type: "openldap",
        destination_type: "generic-ldap",
        unique_id: Some("entryUUID"),
        default_port: 389,
    },
    EndpointKind {
        key: "content-sync",
        display: "Any LDAP server with RFC 4533 content synchronization (389 DS, OpenLDAP syncprov)",
        server_type: "generic-ldap",
        source_type: "content-sync",
        destination_type: "generic-ldap",
        unique_id: Some("entryUUID"),
        default_port: 389,
    },
    EndpointKind {
        key: "generic-ldap",
        display: "Generic LDAP server with a cn=changelog",
        server_type: "generic-ldap",
        source_type: "generic-ldap",
        destination_type: "generic-ldap",
        unique_id: Some("entryUUID"),
        default_port: 389,
    },
    EndpointKind {
        key: "active-directory",
        display: "Microsoft Active Directory or Samba AD (changes read with DirSync)",
        server_type: "active-directory",
        source_type: "active-directory",
        destination_type: "active-directory",
        unique_id: None,
        default_port: 389,
    },
    EndpointKind {
        key: "scim2",
        display: "A SCIM 2.0 service (a destination: LDAP inetOrgPerson entries become SCIM Users)",
        server_type: "scim2",
        source_type: "",
        destination_type: "scim2",
        unique_id: None,
        default_port: 443,
    },
    EndpointKind {
        key: "pingone",
        display: "PingOne (the users of an environment, through its Platform API)",
        server_type: "",
        source_type: "ping-one-customer",
        destination_type: "ping-one-customer",
        unique_id: None,
        default_port: 443,
    },
];

/// The endpoint kinds whose server, source and destination types all exist in the model (an empty type: the
/// kind has none, such as a SCIM service that is never a source).
pub fn endpoint_kinds() -> Vec<&'static EndpointKind> {
    let has = |t: &str, v: &str| v.is_empty() || find_type(t).and_then(|t| t.variant(v)).is_some_and(|v| !v.unused);
    ENDPOINT_KINDS
        .iter()
        .filter(|k| {
            has("external-server", k.server_type)
                && has("sync-source", k.source_type)
                && has("sync-destination", k.destination_type)
        })
        .collect()
}

/// Connection security.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    None,
    Ssl,
    StartTls,
}

impl Security {
    pub fn parse(s: &str) -> Result<Security, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "plain" => Ok(Security::None),
            "ssl" | "ldaps" => Ok(Security::Ssl),
            "start-tls" | "starttls" => Ok(Security::StartTls),
            _ => Err(format!("'{s}' is not a connection security: expected none, ssl or start-tls")),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::Ssl => "ssl",
            Security::StartTls => "start-tls",
        }
    }
}

/// Which server certificates to trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The system's CA certificates.
    System,
    /// Any certificate ("Blind Trust").
    TrustAll,
    /// The CA certificates in this PEM file.
    File(String),
}

impl Trust {
    pub fn parse(s: &str) -> Result<Trust, String> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "" => Err("expected system, trust-all, or the path of a PEM file".into()),
            "system" | "jvm-default" => Ok(Trust::System),
            "trust-all" | "trustall" | "blind-trust" => Ok(Trust::TrustAll),
            _ => {
                if std::path::Path::new(t).is_file() {
                    Ok(Trust::File(t.to_string()))
                } else {
                    Err(format!("'{t}' is not system, trust-all, or an existing file of CA certificates"))
                }
            }
        }
    }
    pub fn answer(&self) -> String {
        match self {
            Trust::System => "system".into(),
            Trust::TrustAll => "trust-all".into(),
            Trust::File(p) => p.clone(),
        }
    }
}

/// One server of an endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Reads `host:port` (or `host`, with the default port).
pub fn parse_host_port(s: &str, default_port: u16) -> Result<HostPort, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("expected host:port".into());
    }
    if t.contains("://") {
        return Err(format!("'{t}': give host:port, not a URL (the security is asked separately)"));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || t.starts_with('[') => {
            let port: u16 = p
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("'{p}' in '{t}' is not a port: expected a number from 1 to 65535"))?;
            (h.trim_start_matches('[').trim_end_matches(']').to_string(), port)
        }
        _ => (t.to_string(), default_port),
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("'{t}' does not start with a host name"));
    }
    Ok(HostPort { host, port })
}

/// How to reach one server, for the connection test.
#[derive(Clone, Debug)]
pub struct Connection {
    pub server: HostPort,
    pub security: Security,
    pub trust: Trust,
}

/// Tests connections; implemented by the tool over the LDAP client.
pub trait Probe {
    /// Connects (with TLS as asked) and binds anonymously; `Err` says why it failed.
    fn connect(&self, c: &Connection) -> Result<(), String>;
    /// Connects and binds as `dn`.
    fn bind(&self, c: &Connection, dn: &str, password: &str) -> Result<(), String>;
    /// Binds as an administrator and recognizes the server (prepare-endpoint-server's first step).
    fn detect(
        &self,
        _c: &Connection,
        _admin_dn: &str,
        _admin_password: &str,
        _base_dn: &str,
    ) -> Result<Detected, String> {
        Err(NO_PREPARE.into())
    }
    /// Calls a SCIM service or PingOne with the answers given (a read that needs the credentials).
    fn check_http(&self, _h: &Http) -> Result<(), String> {
        Ok(())
    }
    /// Prepares one server for the sync user, as prepare-endpoint-server does.
    fn prepare(&self, _c: &Connection, _req: &PrepareRequest) -> Result<Prepared, String> {
        Err(NO_PREPARE.into())
    }
}

/// What [`Probe::detect`] found on a server, as its administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    /// What the server is, for the user ("389 Directory Server (...)").
    pub kind: String,
    /// The sync user's DN that prepare-endpoint-server uses on this kind of server.
    pub default_sync_dn: String,
}

/// One server to prepare (prepare-endpoint-server's work), as [`Probe::prepare`] gets it.
#[derive(Clone, Debug)]
pub struct PrepareRequest<'r> {
    pub admin_dn: &'r str,
    pub admin_password: &'r str,
    pub base_dn: &'r str,
    pub sync_dn: &'r str,
    pub sync_password: &'r str,
    pub is_source: bool,
    pub is_destination: bool,
}

/// What [`Probe::prepare`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The report, as prepare-endpoint-server prints it (no password in it).
    pub report: String,
    /// Everything is in place, and every check as the sync user passed.
    pub complete: bool,
}

/// The error of a probe that cannot prepare servers.
pub const NO_PREPARE: &str = "preparing a server needs the connection tests (do not give --skipConnectionTest)";

/// A probe that tests nothing (`--skipConnectionTest`).
pub struct NoProbe;

impl Probe for NoProbe {
    fn connect(&self, _: &Connection) -> Result<(), String> {
        Ok(())
    }
    fn bind(&self, _: &Connection, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Asks the user; implemented by the tool over dialoguer, and by tests.
pub trait Prompter {
    /// Shows a message.
    fn note(&mut self, text: &str);
    /// Asks for one line of text, showing `default`; the tool re-asks while `check` returns `Err` (the reason),
    /// and returns `check`'s value.
    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        check: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<String, WizardError>;
    /// Asks for a password without echoing it.
    fn password(&mut self, prompt: &str) -> Result<String, WizardError>;
    /// Asks yes or no.
    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, WizardError>;
}

/// Asks a numbered menu through `input`: the answer is the number or the item's key.
pub fn choose(
    p: &mut dyn Prompter,
    title: &str,
    items: &[(&str, &str)],
    default: Option<&str>,
) -> Result<String, WizardError> {
    let mut text = format!("{title}:\n");
    for (i, (_, label)) in items.iter().enumerate() {
        text.push_str(&format!("  {}) {label}\n", i + 1));
    }
    p.note(&text);
    let keys: Vec<String> = items.iter().map(|(k, _)| k.to_string()).collect();
    let default_number = default.and_then(|d| items.iter().position(|(k, _)| *k == d)).map(|i| (i + 1).to_string());
    p.input("Enter a choice", default_number.as_deref(), &|s| pick(s, &keys))
}

/// `s` as a number from 1 or one of `keys`.
pub fn pick(s: &str, keys: &[String]) -> Result<String, String> {
    let t = s.trim();
    if let Ok(n) = t.parse::<usize>() {
        if n >= 1 && n <= keys.len() {
            return Ok(keys[n - 1].clone());
        }
        return Err(format!("{n} is not in the list: enter a number from 1 to {}", keys.len()));
    }
    keys.iter().find(|k| k.eq_ignore_ascii_case(t)).cloned().ok_or_else(|| {
        format!("'{t}' is not a choice: enter a number from 1 to {}, or one of {}", keys.len(), keys.join(", "))
    })
}

/// A DN, checked by the project's DN parser.
pub fn check_dn(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("a DN cannot be empty".into());
    }
    Dn::parse(t).map(|_| t.to_string()).map_err(|e| format!("'{t}' is not a valid DN: {e}"))
}

/// Refuses a list of base DNs of which one contains another.
pub fn check_no_overlap(label_a: &str, a: &[String], label_b: &str, b: &[String]) -> Result<(), String> {
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            if std::ptr::eq(a, b) && i >= j {
                continue;
            }
            let (dx, dy) = (Dn::parse(x).map_err(|e| e.to_string())?, Dn::parse(y).map_err(|e| e.to_string())?);
            if dx.is_within(&dy) || dy.is_within(&dx) {
                return Err(format!("the base DN '{x}' of {label_a} overlaps the base DN '{y}' of {label_b}"));
            }
        }
    }
    Ok(())
}

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
    pub password: String,
    /// `unique-id-attribute`, when this endpoint is read as a source and its type has that property.
    pub unique_id: Option<String>,
    /// A SCIM service or PingOne: no servers, base DNs nor bind DN, and a preset sync class.
    pub http: Option<Http>,
    /// Objects of the configuration used as they are.
    pub existing: Existing,
}

impl Endpoint {
    /// An endpoint whose servers the wizard does not create: an HTTP one, or one that exists already.
    fn without_servers(
        name: String,
        kind: &'static EndpointKind,
        base_dns: Vec<String>,
        http: Option<Http>,
        existing: Existing,
    ) -> Endpoint {
        let (security, trust, servers, bind_dn, password) =
            (Security::None, Trust::System, Vec::new(), String::new(), String::new());
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
fn dn_map_name(from: &Endpoint, to: &Endpoint) -> String {
    format!("{} to {}", from.name, to.name)
}

fn set(words: &mut Vec<String>, prop: &str, value: &str) {
    words.push("--set".into());
    words.push(format!("{prop}:{value}"));
}

fn words(items: &[&str]) -> Vec<String> {
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
    fn bases_differ(&self) -> bool {
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
                set(&mut w, "password", &e.password);
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

fn class_common(w: &mut Vec<String>, attrs: &Attributes, ops: Operations, correlation: &str, maps: &[String]) {
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

/// Runs the questions.
pub struct Wizard<'a> {
    pub given: Answers,
    pub no_prompt: bool,
    pub prompter: &'a mut dyn Prompter,
    pub probe: &'a dyn Probe,
    /// Reads a password file (the tool reads the file; tests may stub).
    pub read_file: &'a dyn Fn(&str) -> Result<String, String>,
    /// The answers taken, to save.
    taken: Answers,
    /// Objects already in the configuration (type name, object name): names that would clash are refused.
    existing: Vec<(&'static str, String)>,
    /// The configuration's endpoints and servers that may be used as they are.
    known: reuse::Known,
}

type Check<'c> = &'c dyn Fn(&str) -> Result<String, String>;

impl<'a> Wizard<'a> {
    pub fn new(
        given: Answers,
        no_prompt: bool,
        prompter: &'a mut dyn Prompter,
        probe: &'a dyn Probe,
        read_file: &'a dyn Fn(&str) -> Result<String, String>,
    ) -> Self {
        let (taken, existing, known) = (Answers::default(), Vec::new(), reuse::Known::default());
        Wizard { given, no_prompt, prompter, probe, read_file, taken, existing, known }
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
    fn clash(existing: &[(&'static str, String)], types: &[&str], name: &str) -> Result<(), String> {
        match existing.iter().find(|(t, n)| types.contains(t) && n.eq_ignore_ascii_case(name)) {
            Some((t, n)) => Err(format!(
                "the configuration already has a {} '{n}': choose another name, use it as it is (--sourceExisting or --destinationExisting, or the list on a terminal), or delete it with dsconfig delete-{t}",
                crate::model::find_type(t).map(|t| t.display).unwrap_or(t)
            )),
            None => Ok(()),
        }
    }

    fn record(&mut self, key: &'static str, value: &str) {
        self.taken.values.entry(key).or_default().push(value.to_string());
    }

    fn what(key: &str) -> String {
        question(key).map(|q| q.what.to_string()).unwrap_or_default()
    }

    /// One answer: given, asked, or the default under --no-prompt.
    fn ask(
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
    fn ask_many(
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

    fn choose_key(
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

    fn password(&mut self, key: &'static str, file_key: &'static str, prompt: &str) -> Result<String, WizardError> {
        if let Some(v) = self.given.get(key).and_then(|v| v.first()) {
            return Ok(v.clone());
        }
        if let Some(f) = self.given.get(file_key).and_then(|v| v.first()).cloned() {
            let text = (self.read_file)(&f).map_err(|reason| WizardError::Invalid {
                key: file_key.into(),
                value: f.clone(),
                reason,
            })?;
            self.record(file_key, &f);
            return Ok(text.trim_end_matches(['\r', '\n']).to_string());
        }
        if self.no_prompt {
            return Err(WizardError::Missing {
                key: key.into(),
                what: format!("{}; or --{file_key}", Self::what(key)),
            });
        }
        self.prompter.password(prompt)
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

    fn endpoint(
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
        let kinds: Vec<&EndpointKind> = endpoint_kinds()
            .into_iter()
            .filter(|k| if role == "source" { !k.source_type.is_empty() } else { !k.destination_type.is_empty() })
            .filter(|k| http_ok || !http::is_http(k.key))
            .collect();
        let items: Vec<(&str, &str)> = kinds.iter().map(|k| (k.key, k.display)).collect();
        let kind_key = self.choose_key(key("Type"), &format!("{title} endpoint type"), &items, Some("389ds"))?;
        let kind = kinds.iter().copied().find(|k| k.key == kind_key).ok_or(WizardError::Cancelled)?;
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
                if let Err(reason) = self.probe.bind(c, &dn, &pw) {
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
    fn unique_id(
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
    fn prepare_admin(
        &mut self,
        role: &'static str,
        connections: &[Connection],
        base_dns: &[String],
    ) -> Result<Option<(String, String, Detected)>, WizardError> {
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
            match self.probe.detect(first, &dn, &pw, base_dn) {
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
    fn retry(&mut self, key: &'static str, reason: String) -> Result<(), WizardError> {
        if self.given.get(key).is_some() || self.no_prompt {
            return Err(WizardError::Check { key: key.into(), reason });
        }
        self.prompter.note(&format!("{reason}. Enter them again."));
        self.taken.values.remove(key);
        Ok(())
    }

    fn classes(&mut self, source: &Endpoint) -> Result<Vec<SyncClass>, WizardError> {
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
    fn class_answer(
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

    fn class(&mut self, name: &str, source: &Endpoint) -> Result<SyncClass, WizardError> {
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

/// An object name: not empty, no control characters.
/// yes or no (also true/false, y/n).
pub fn check_yes_no(s: &str) -> Result<String, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Ok("yes".into()),
        "no" | "n" | "false" => Ok("no".into()),
        t => Err(format!("'{t}' is not yes or no")),
    }
}

pub fn check_name(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if t.chars().any(char::is_control) {
        return Err(format!("'{t}' contains a control character"));
    }
    if t.contains(':') {
        return Err(format!("'{t}' contains ':', which separates a class name from its value in the flags"));
    }
    Ok(t.to_string())
}

fn check_class_name(s: &str, existing: &[String]) -> Result<String, String> {
    let n = check_name(s)?;
    if n.eq_ignore_ascii_case("DEFAULT") {
        return Err("DEFAULT is the name of the default class, asked for later".into());
    }
    if existing.iter().any(|e| e.eq_ignore_ascii_case(&n)) {
        return Err(format!("there is already a class '{n}'"));
    }
    Ok(n)
}

/// The `--help` text, from the question table.
pub fn help() -> String {
    let mut s = String::from(
        "Usage: create-sync-pipe-config [--no-prompt] [--propertiesFilePath FILE] [--generateBatchFile FILE]\n\
         \x20                              [--skipConnectionTest] [--server-root DIR] [--KEY VALUE ...]\n\n\
         Asks the questions of PingDataSync's sync pipe wizard and writes the configuration to the store (all or\n\
         nothing, as dsconfig does), or to a dsconfig batch file with --generateBatchFile.\n\n\
         Answers (as flags, or KEY=VALUE lines in the properties file; flags win):\n",
    );
    for q in QUESTIONS {
        s.push_str(&format!(
            "  --{} {}\n      {}{}\n",
            q.key,
            if q.multi { "VALUE (repeatable)" } else { "VALUE" },
            q.what,
            if q.secret { " (never saved)" } else { "" }
        ));
    }
    s.push_str(&format!(
        "\nEndpoint types: {}\n",
        endpoint_kinds().iter().map(|k| k.key).collect::<Vec<_>>().join(", ")
    ));
    s.push_str(
        "\nOther options:\n  --no-prompt               never ask: a missing answer without a default is an error naming it\n\
         \x20 --propertiesFilePath FILE read answers from FILE\n\
         \x20 --generateBatchFile FILE  write a dsconfig batch file (mode 0600, it holds the passwords) instead of the store\n\
         \x20 --skipConnectionTest      do not connect to the servers\n\
         \x20 --server-root DIR         the server root (else $FERROSYNC_ROOT, else the launcher's folder)\n",
    );
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Answers from a list of lines; fails the test when asked anything.
    struct Scripted(Vec<String>, Vec<String>);

    impl Prompter for Scripted {
        fn note(&mut self, text: &str) {
            self.1.push(text.to_string());
        }
        fn input(&mut self, prompt: &str, default: Option<&str>, check: Check) -> Result<String, WizardError> {
            loop {
                let a = if self.0.is_empty() { panic!("unexpected question: {prompt}") } else { self.0.remove(0) };
                let a = if a.is_empty() { default.unwrap_or("").to_string() } else { a };
                match check(&a) {
                    Ok(v) => return Ok(v),
                    Err(e) => self.1.push(format!("re-ask: {e}")),
                }
            }
        }
        fn password(&mut self, _: &str) -> Result<String, WizardError> {
            Ok(self.0.remove(0))
        }
        fn confirm(&mut self, _: &str, d: bool) -> Result<bool, WizardError> {
            Ok(d)
        }
    }

    fn answers(pairs: &[(&str, &str)]) -> Answers {
        let mut a = Answers::default();
        for (k, v) in pairs {
            a.add(k, v, "test").unwrap();
        }
        a
    }

    const FLAGS: &[(&str, &str)] = &[
        ("direction", "one-way"),
        ("sourceType", "389ds"),
        ("sourceName", "ds"),
        ("sourceBaseDN", "dc=example,dc=com"),
        ("sourceServer", "ds.example.com:389"),
        ("sourceBindDN", "cn=Directory Manager"),
        ("sourceBindPassword", "secret1"),
        ("destinationType", "openldap"),
        ("destinationName", "ol"),
        ("destinationBaseDN", "dc=example,dc=org"),
        ("destinationServer", "ol.example.com"),
        ("destinationBindDN", "cn=admin,dc=example,dc=org"),
        ("destinationBindPassword", "secret2"),
        ("syncClass", "people"),
        ("syncClassBaseDN", "people:ou=people,dc=example,dc=com"),
        ("syncClassFilter", "people:(objectClass=inetOrgPerson)"),
    ];

    fn no_file(_: &str) -> Result<String, String> {
        Err("no files".into())
    }

    #[test]
    fn flags_make_a_plan_and_commands_that_dsconfig_accepts() {
        let mut p = Scripted(vec![], vec![]);
        let plan = Wizard::new(answers(FLAGS), true, &mut p, &NoProbe, &no_file).run().unwrap();
        assert_eq!(plan.pipe_name, "ds to ol");
        assert_eq!(plan.endpoints[1].servers, vec![HostPort { host: "ol.example.com".into(), port: 389 }]);
        let text = plan.batch_text();
        assert!(text.contains("--set 'from-dn-pattern:**,dc=example,dc=com'"), "{text}");
        assert!(text.contains("--class-name DEFAULT"), "{text}");
        // Every command parses and applies to a fresh configuration.
        let mut config = crate::config::Config::builtin();
        struct Plain;
        impl crate::config::SecretSealer for Plain {
            fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
                Ok(p.to_string())
            }
        }
        let report =
            crate::dsconfig::run_batch("t", &text, &mut config, &Plain, crate::dsconfig::Format::default(), false)
                .unwrap();
        assert_eq!(report.applied, plan.commands().len());
        let class = config.find(find_type("sync-class").unwrap(), &["ds to ol".into(), "people".into()]).unwrap();
        assert_eq!(class.values("include-filter"), vec!["(objectClass=inetOrgPerson)"]);
        assert_eq!(class.values("dn-map"), vec!["ds to ol"]);
        // The saved answers replay to the same plan (passwords apart).
        let saved = plan.answers.to_properties();
        assert!(!saved.contains("secret1"), "{saved}");
        let mut again = Answers::parse_properties(&saved, "saved").unwrap();
        again.overlay(answers(&[("sourceBindPassword", "secret1"), ("destinationBindPassword", "secret2")]));
        let plan2 = Wizard::new(again, true, &mut p, &NoProbe, &no_file).run().unwrap();
        assert_eq!(plan2.batch_text(), text);
    }

    #[test]
    fn no_prompt_names_the_first_missing_answer() {
        let mut p = Scripted(vec![], vec![]);
        let a: Vec<(&str, &str)> = FLAGS.iter().filter(|(k, _)| *k != "sourceBaseDN").copied().collect();
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().starts_with("missing answer --sourceBaseDN"), "{e}");
        let e = Wizard::new(answers(&FLAGS[..7]), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().starts_with("missing answer --destinationBaseDN"), "{e}");
    }

    #[test]
    fn preparing_needs_the_connection_tests_and_a_yes_or_no() {
        let mut p = Scripted(vec![], vec![]);
        let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
        a.extend([("prepareSourceServer", "yes"), ("sourceAdminBindPassword", "pw")]);
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(
            e.to_string().contains("--sourceAdminBindDN: cannot read") && e.to_string().contains(NO_PREPARE),
            "{e}"
        );
        let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
        a.push(("prepareDestinationServer", "perhaps"));
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().contains("invalid answer --prepareDestinationServer 'perhaps'"), "{e}");
    }

    #[test]
    fn wrong_answers_are_refused_with_the_reason() {
        let mut p = Scripted(vec![], vec![]);
        let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
        a[3] = ("sourceBaseDN", "dc=example,,dc=com");
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().contains("--sourceBaseDN 'dc=example,,dc=com'"), "{e}");
        let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
        a.push(("sourceBaseDN", "ou=people,dc=example,dc=com"));
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().contains("overlaps"), "{e}");
        let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
        a[15] = ("syncClassFilter", "people:(objectClass=inetOrgPerson");
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().contains("not a valid LDAP filter"), "{e}");
        let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
        a[14] = ("syncClassBaseDN", "people:ou=people,dc=other");
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().contains("not within the source's base DNs"), "{e}");
        let e = Answers::parse_properties("sourceBaseDn=x\nsurceName=y\n", "f.properties").unwrap_err();
        assert!(e.to_string().contains("did you mean 'sourceName'"), "{e}");
    }

    #[test]
    fn interactive_answers_are_re_asked() {
        let lines = [
            "", // one-way
            "7",
            "1",
            "", // 7 is not in the list, then 389ds; name default
            "dc=bad,,x",
            "dc=example,dc=com",
            "",  // a bad DN is re-asked
            "1", // security none
            "nohost:abc",
            "ds:389",
            "",
            "", // not prepared
            "cn=Directory Manager",
            "pw",
            "", // unique id default
            "2",
            "ol",
            "dc=example,dc=com",
            "",
            "1",
            "ol:389",
            "",
            "no",
            "cn=admin,dc=example,dc=com",
            "pw2",
            "", // pipe name
            "people",
            "ou=people,dc=example,dc=com",
            "",
            "(objectClass=person)",
            "",
            "only:cn,sn",
            "creates",
            "dn,uid",
            "", // no more classes
            "none",
        ];
        let mut p = Scripted(lines.iter().map(|s| s.to_string()).collect(), vec![]);
        let plan = Wizard::new(Answers::default(), false, &mut p, &NoProbe, &no_file).run().unwrap();
        assert!(p.0.is_empty(), "unused answers: {:?}", p.0);
        let notes = p.1.join("\n");
        assert!(notes.contains("re-ask: 7 is not in the list"), "{notes}");
        assert!(notes.contains("re-ask: 'dc=bad,,x' is not a valid DN"), "{notes}");
        assert!(notes.contains("re-ask: 'abc' in 'nohost:abc' is not a port"), "{notes}");
        assert_eq!(plan.classes[0].attributes, Attributes::Only(vec!["cn".into(), "sn".into()]));
        assert_eq!(plan.default_ops, None);
        assert_eq!(plan.endpoints[0].unique_id.as_deref(), Some("nsUniqueId"));
        assert!(!plan.batch_text().contains("DEFAULT"));
    }

    #[test]
    fn bidirectional_makes_two_pipes_that_ignore_their_own_changes() {
        let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
        a[0] = ("direction", "bidirectional");
        a.push(("sourceSecurity", "ssl"));
        a.push(("sourceTrust", "trust-all"));
        let mut p = Scripted(vec![], vec![]);
        let plan = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap();
        assert_eq!(plan.reverse_pipe_name.as_deref(), Some("ol to ds"));
        let text = plan.batch_text();
        let mut config = crate::config::Config::builtin();
        struct Plain;
        impl crate::config::SecretSealer for Plain {
            fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
                Ok(p.to_string())
            }
        }
        crate::dsconfig::run_batch("t", &text, &mut config, &Plain, crate::dsconfig::Format::default(), false).unwrap();
        let source = config.get("sync-source", "ds").unwrap();
        assert_eq!(source.values("ignore-changes-by-dn"), vec!["cn=Directory Manager"]);
        let reverse = config.get("sync-source", "ol").unwrap();
        assert_eq!(reverse.variant.as_deref(), Some("openldap"));
        assert_eq!(reverse.values("unique-id-attribute"), vec!["entryUUID"]);
        // The reverse pipe's class covers the same entries at the other end, through the reverse DN map.
        let class = config.find(find_type("sync-class").unwrap(), &["ol to ds".into(), "people".into()]).unwrap();
        assert_eq!(class.values("include-base-dn"), vec!["ou=people,dc=example,dc=org"]);
        assert_eq!(class.values("dn-map"), vec!["ol to ds"]);
        let server = config.get("external-server", "ds ds.example.com:389").unwrap();
        assert_eq!(server.values("connection-security"), vec!["ssl"]);
        assert_eq!(server.values("trust-manager-provider"), vec!["Blind Trust"]);
        assert_eq!(config.get("trust-manager-provider", "Blind Trust").unwrap().values("enabled"), vec!["true"]);
    }

    #[test]
    fn base_dns_on_one_server_must_not_overlap() {
        let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
        a[9] = ("destinationBaseDN", "ou=copy,dc=example,dc=com");
        a[10] = ("destinationServer", "ds.example.com:389");
        let mut p = Scripted(vec![], vec![]);
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().contains("overlaps the base DN 'dc=example,dc=com' of the source"), "{e}");
    }

    #[test]
    fn names_in_use_are_refused() {
        let mut config = crate::config::Config::builtin();
        struct Plain;
        impl crate::config::SecretSealer for Plain {
            fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
                Ok(p.to_string())
            }
        }
        let mut p = Scripted(vec![], vec![]);
        let plan = Wizard::new(answers(FLAGS), true, &mut p, &NoProbe, &no_file).run().unwrap();
        crate::dsconfig::run_batch("t", &plan.batch_text(), &mut config, &Plain, Default::default(), false).unwrap();
        let e = Wizard::new(answers(FLAGS), true, &mut p, &NoProbe, &no_file).with_existing(&config).run().unwrap_err();
        assert!(e.to_string().contains("--sourceName 'ds': the configuration already has a Sync Source 'ds'"), "{e}");
    }

    #[test]
    fn active_directory_gets_the_preset_for_each_pipe() {
        use crate::mapping::presets::{objects, AdLdapPlaces, Direction};
        let ad: &[(&str, &str)] = &[
            ("sourceType", "active-directory"),
            ("sourceName", "ad"),
            ("sourceBaseDN", "DC=samdom,DC=example,DC=com"),
            ("sourceServer", "dc.example.com:636"),
            ("sourceSecurity", "ssl"),
            ("sourceTrust", "trust-all"),
            ("sourceBindDN", "CN=Administrator,CN=Users,DC=samdom,DC=example,DC=com"),
            ("sourceBindPassword", "secret1"),
        ];
        let mut a: Vec<(&str, &str)> = FLAGS[..1].iter().chain(ad).chain(&FLAGS[7..13]).copied().collect();
        a[0] = ("direction", "bidirectional");
        let mut p = Scripted(vec![], vec![]);
        let plan = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap();
        let places = AdLdapPlaces {
            ad_users: "CN=Users,DC=samdom,DC=example,DC=com".into(),
            ad_groups: "CN=Users,DC=samdom,DC=example,DC=com".into(),
            ldap_people: "ou=people,dc=example,dc=org".into(),
            ldap_groups: "ou=groups,dc=example,dc=org".into(),
            upn_suffix: "samdom.example.com".into(),
        };
        assert_eq!(plan.ad_preset.as_ref().map(|p| format!("{p:?}")), Some(format!("{places:?}")));
        assert!(plan.review().contains("the Active Directory preset"), "{}", plan.review());
        struct Plain;
        impl crate::config::SecretSealer for Plain {
            fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
                Ok(p.to_string())
            }
        }
        let mut config = crate::config::Config::builtin();
        crate::dsconfig::run_batch("t", &plan.batch_text(), &mut config, &Plain, Default::default(), false).unwrap();
        for (pipe, d) in [("ad to ol", Direction::AdToLdap), ("ol to ad", Direction::LdapToAd)] {
            // The preset's own objects (made for a pipe "p": pipe names with spaces are the wizard's).
            let want = objects(d, "p", &ad::slug(pipe), &places).unwrap();
            for o in &want {
                let mut names = o.names.clone();
                if o.object_type.name == "sync-class" {
                    names[0] = pipe.to_string();
                }
                let got = config.find(o.object_type, &names).unwrap_or_else(|| panic!("{names:?} missing"));
                assert_eq!(got.props, o.props, "{:?}", o.names);
            }
            let classes = config.children("sync-class", &[pipe.to_string()]);
            assert_eq!(classes.len(), 2, "{pipe}: only the preset's classes");
        }
        // One-way into AD: the preset of that direction, the UPN suffix asked (here its default).
        let back: &[(&str, &str)] = &[
            ("direction", "one-way"),
            ("sourceType", "openldap"),
            ("sourceName", "ol"),
            ("sourceBaseDN", "dc=example,dc=org"),
            ("sourceServer", "ol.example.com"),
            ("sourceBindDN", "cn=admin,dc=example,dc=org"),
            ("sourceBindPassword", "secret2"),
            ("destinationType", "active-directory"),
            ("destinationName", "ad"),
            ("destinationBaseDN", "DC=samdom,DC=example,DC=com"),
            ("destinationServer", "dc.example.com:389"),
            ("destinationBindDN", "CN=Administrator,CN=Users,DC=samdom,DC=example,DC=com"),
            ("destinationBindPassword", "secret1"),
        ];
        let plan = Wizard::new(answers(back), true, &mut p, &NoProbe, &no_file).run().unwrap();
        assert_eq!(plan.ad_preset.as_ref().map(|p| p.upn_suffix.as_str()), Some("samdom.example.com"));
        let text = plan.batch_text();
        assert!(
            text.contains("--mapping-name userPrincipalName")
                && text.contains("--class-name users")
                && !text.contains("ad-to-ol"),
            "{text}"
        );
        // Class answers with the preset are refused, naming the flag.
        let mut with_class = a.clone();
        with_class.push(("syncClass", "people"));
        let e = Wizard::new(answers(&with_class), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().starts_with("--syncClass: the Active Directory preset replaces"), "{e}");
        // No: classes are asked for as before.
        a.push(("activeDirectoryPreset", "no"));
        let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
        assert!(e.to_string().starts_with("missing answer --syncClass"), "{e}");
    }

    #[test]
    fn translate_moves_dns_between_bases() {
        assert_eq!(translate_dn("ou=people,dc=a", &["dc=a".into()], &["o=b,c=x".into()]), "ou=people,o=b,c=x");
    }
}
