//! External servers: LDAP directories (every LDAP `--type`) and SCIM 2.0 services.

use std::time::Duration;

use super::{Reader, SecretSetting, SettingsError};

crate::choice! {
    /// `connection-security`.
    pub enum ConnectionSecurity { None = "none", Ssl = "ssl", StartTls = "start-tls", StartTlsOld = "starttls" }
}

impl ConnectionSecurity {
    /// Whether the connection is encrypted (LDAPS or StartTLS).
    pub fn is_encrypted(self) -> bool {
        !matches!(self, ConnectionSecurity::None)
    }
}

crate::choice! {
    /// `hostname-verification-method`.
    pub enum HostnameVerification { Strict = "strict", AllowAll = "allow-all" }
}

crate::choice! {
    /// `authentication-method` of an LDAP server.
    pub enum AuthenticationMethod { None = "none", Simple = "simple", External = "external", InterServer = "inter-server" }
}

/// The `--type`s of external servers that are LDAP directories.
pub fn is_ldap_variant(variant: &str) -> bool {
    matches!(
        variant,
        "ping-identity-ds"
            | "ping-identity-proxy-server"
            | "active-directory"
            | "generic-ldap"
            | "sun-ds"
            | "oracle-unified-directory"
    )
}

/// An LDAP external server.
#[derive(Clone, Debug)]
pub struct LdapServerSettings {
    pub name: String,
    pub label: String,
    pub host: String,
    pub port: u16,
    pub bind_dn: Option<String>,
    /// `password`, or the `passphrase-provider` that supplies it.
    pub password: SecretSetting,
    pub authentication_method: AuthenticationMethod,
    pub connection_security: ConnectionSecurity,
    /// `trust-manager-provider`; `None` trusts the system's CAs.
    pub trust_manager_provider: Option<String>,
    /// `key-manager-provider`: the TLS client certificate presented, if any.
    pub key_manager_provider: Option<String>,
    pub hostname_verification: HostnameVerification,
    pub initial_connections: usize,
    pub max_connections: usize,
    pub response_timeout: Duration,
    pub connect_timeout: Duration,
}

impl LdapServerSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(LdapServerSettings {
            name: r.name().to_string(),
            label: r.label(),
            host: r.required_text("server-host-name")?,
            port: r.required_integer("server-port")?,
            bind_dn: r.text("bind-dn")?,
            password: r.secret("password", Some("passphrase-provider"))?,
            authentication_method: r.required_choice("authentication-method")?,
            connection_security: r.required_choice("connection-security")?,
            trust_manager_provider: r.text("trust-manager-provider")?,
            key_manager_provider: r.text("key-manager-provider")?,
            hostname_verification: r.required_choice("hostname-verification-method")?,
            initial_connections: r.required_integer("initial-connections")?,
            max_connections: r.required_integer::<usize>("max-connections")?.max(1),
            response_timeout: r.required_duration("response-timeout")?,
            connect_timeout: r.required_duration("connect-timeout")?,
        })
    }

    /// The settings of the external server `name`, which must be an LDAP server.
    pub fn of(config: &crate::config::Config, name: &str) -> Result<Self, SettingsError> {
        let obj = super::lookup(config, "external-server", name)?;
        if !is_ldap_variant(obj.variant.as_deref().unwrap_or("")) {
            return Err(SettingsError::Invalid {
                object: obj.label(),
                reason: format!("it is of type {}, not an LDAP server", obj.variant.as_deref().unwrap_or("-")),
            });
        }
        LdapServerSettings::read(&Reader::new(obj))
    }
}

/// A SCIM 2.0 external server.
#[derive(Clone, Debug)]
pub struct Scim2ServerSettings {
    pub name: String,
    pub label: String,
    pub service_url: String,
    pub http_authorization_method: Option<String>,
    pub trust_manager_provider: Option<String>,
    pub hostname_verification: HostnameVerification,
    pub allow_credentials_over_http: bool,
    pub response_timeout: Duration,
}

impl Scim2ServerSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(Scim2ServerSettings {
            name: r.name().to_string(),
            label: r.label(),
            service_url: r.required_text("scim-service-url")?,
            http_authorization_method: r.text("http-authorization-method")?,
            trust_manager_provider: r.text("trust-manager-provider")?,
            hostname_verification: r.required_choice("hostname-verification-method")?,
            allow_credentials_over_http: r.flag("allow-credentials-over-http")?,
            response_timeout: r.required_duration("response-timeout")?,
        })
    }

    /// The settings of the external server `name`, which must be of type scim2.
    pub fn of(config: &crate::config::Config, name: &str) -> Result<Self, SettingsError> {
        let obj = super::lookup(config, "external-server", name)?;
        if obj.variant.as_deref() != Some("scim2") {
            return Err(SettingsError::Invalid { object: obj.label(), reason: "it is not of type scim2".into() });
        }
        Scim2ServerSettings::read(&Reader::new(obj))
    }
}
