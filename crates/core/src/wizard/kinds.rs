//! The kinds of endpoint the wizard offers and the model's `--type`s each becomes; how a server is reached
//! (host and port, security, trust).

use crate::model::find_type;

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
