//! Sync sources and destinations of each kind.

use std::time::Duration;

use super::{Reader, SecretSetting, SettingsError};
use crate::config::Config;

/// How an LDAP-like sync source is read, by its `--type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// `cn=changelog` (draft-good-ldap-changelog): `ping-identity`, `generic-ldap`, `sun-ds`,
    /// `oracle-unified-directory`.
    Changelog,
    /// OpenLDAP's `cn=accesslog`.
    Accesslog,
    /// RFC 4533 content synchronization.
    ContentSync,
    /// Active Directory's DirSync control.
    DirSync,
    /// PingOne's REST API.
    PingOne,
}

impl SourceKind {
    /// The kind of a sync source `--type`; `None` for types ferrosync does not run.
    pub fn of(variant: &str) -> Option<SourceKind> {
        Some(match variant {
            "ping-identity" | "generic-ldap" | "sun-ds" | "oracle-unified-directory" => SourceKind::Changelog,
            "openldap" => SourceKind::Accesslog,
            "content-sync" => SourceKind::ContentSync,
            "active-directory" => SourceKind::DirSync,
            "ping-one-customer" => SourceKind::PingOne,
            _ => return None,
        })
    }
}

/// The `--type`s of sync destinations that are LDAP directories.
pub fn is_ldap_destination(variant: &str) -> bool {
    matches!(variant, "ping-identity" | "generic-ldap" | "sun-ds" | "oracle-unified-directory" | "active-directory")
}

/// What LDAP sync sources and destinations share.
#[derive(Clone, Debug)]
pub struct LdapEndpointSettings {
    pub name: String,
    pub label: String,
    pub variant: String,
    pub base_dns: Vec<String>,
    /// The external servers, in failover order.
    pub servers: Vec<String>,
    /// Overrides the external servers' response timeout.
    pub response_timeout: Option<Duration>,
}

impl LdapEndpointSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let servers = r.texts("server")?;
        if servers.is_empty() {
            return Err(SettingsError::Invalid { object: r.label(), reason: "it has no server".into() });
        }
        Ok(LdapEndpointSettings {
            name: r.name().to_string(),
            label: r.label(),
            variant: r.variant().unwrap_or_default().to_string(),
            base_dns: r.texts("base-dn")?,
            servers,
            response_timeout: r.duration("response-timeout")?,
        })
    }
}

/// An LDAP (or Active Directory) sync source.
#[derive(Clone, Debug)]
pub struct LdapSourceSettings {
    pub endpoint: LdapEndpointSettings,
    pub kind: SourceKind,
    /// The attribute that identifies an entry across renames (`objectGUID` for Active Directory).
    pub unique_id_attribute: String,
    /// Changes made by these DNs are skipped (loop prevention).
    pub ignore_changes_by_dn: Vec<String>,
    /// The most change log entries read in one poll (`changelog-max-entries-per-poll`; change-log sources).
    pub changelog_max_entries_per_poll: Option<usize>,
    /// How long to wait before reconnecting a lost refreshAndPersist search (content-sync sources).
    pub persist_reconnect_interval: Option<Duration>,
}

impl LdapSourceSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let kind = SourceKind::of(r.variant().unwrap_or(""))
            .filter(|k| *k != SourceKind::PingOne)
            .ok_or_else(|| SettingsError::Invalid { object: r.label(), reason: "it is not an LDAP source".into() })?;
        let endpoint = LdapEndpointSettings::read(r)?;
        // Active Directory objects are known by their objectGUID (DirSync's deletes name nothing else).
        let unique_id_attribute = if r.declares("unique-id-attribute") {
            r.required_text("unique-id-attribute")?
        } else {
            "objectGUID".to_string()
        };
        let changelog_max_entries_per_poll = if r.declares("changelog-max-entries-per-poll") {
            r.integer("changelog-max-entries-per-poll")?
        } else {
            None
        };
        let persist_reconnect_interval =
            if r.declares("persist-reconnect-interval") { r.duration("persist-reconnect-interval")? } else { None };
        Ok(LdapSourceSettings {
            endpoint,
            kind,
            unique_id_attribute,
            ignore_changes_by_dn: r.texts("ignore-changes-by-dn")?,
            changelog_max_entries_per_poll,
            persist_reconnect_interval,
        })
    }

    /// The settings of the sync source `name`, which must be an LDAP source.
    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        LdapSourceSettings::read(&Reader::new(super::lookup(config, "sync-source", name)?))
    }
}

/// An LDAP (or Active Directory) sync destination.
#[derive(Clone, Debug)]
pub struct LdapDestinationSettings {
    pub endpoint: LdapEndpointSettings,
    /// Clear-text passwords are only sent over LDAPS or StartTLS.
    pub require_secure_connection_for_clear_text_passwords: bool,
}

impl LdapDestinationSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(LdapDestinationSettings {
            endpoint: LdapEndpointSettings::read(r)?,
            require_secure_connection_for_clear_text_passwords: r
                .flag("require-secure-connection-for-clear-text-passwords")?,
        })
    }

    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        LdapDestinationSettings::read(&Reader::new(super::lookup(config, "sync-destination", name)?))
    }
}

crate::choice! {
    /// `query-method` of a SCIM 2.0 destination.
    pub enum QueryMethod { Get = "get", Post = "post" }
}

crate::choice! {
    /// `update-method` of a SCIM 2.0 destination.
    pub enum UpdateMethod { Patch = "patch", Put = "put" }
}

/// A SCIM 2.0 sync destination.
#[derive(Clone, Debug)]
pub struct Scim2DestinationSettings {
    pub name: String,
    pub label: String,
    pub server: String,
    pub endpoint_mappings: Vec<String>,
    pub query_method: QueryMethod,
    pub update_method: UpdateMethod,
    /// Overrides the pipe's `max-operation-attempts`.
    pub max_operation_attempts: Option<u32>,
}

impl Scim2DestinationSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let endpoint_mappings = r.texts("endpoint-mapping")?;
        if endpoint_mappings.is_empty() {
            return Err(SettingsError::Invalid { object: r.label(), reason: "it has no endpoint-mapping".into() });
        }
        Ok(Scim2DestinationSettings {
            name: r.name().to_string(),
            label: r.label(),
            server: r.required_text("server")?,
            endpoint_mappings,
            query_method: r.required_choice("query-method")?,
            update_method: r.required_choice("update-method")?,
            max_operation_attempts: r.integer("max-operation-attempts")?,
        })
    }

    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        Scim2DestinationSettings::read(&Reader::new(super::lookup(config, "sync-destination", name)?))
    }
}

/// What PingOne sources and destinations share: the API, the environment and the worker application.
#[derive(Clone, Debug)]
pub struct PingOneSettings {
    pub name: String,
    pub label: String,
    /// Without a trailing `/`.
    pub api_url: String,
    /// The token URL; derived from the API URL when unset.
    pub auth_url: Option<String>,
    pub environment_id: String,
    pub client_id: String,
    pub client_secret: SecretSetting,
    /// `None`: the system's CAs.
    pub trust_manager_provider: Option<String>,
    pub allow_credentials_over_http: bool,
    pub max_requests_per_second: u32,
}

impl PingOneSettings {
    /// Reads the common properties; a destination also accepts the old `ping-one-*` names.
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let old = r.declares("ping-one-api-url");
        let get = |new: &str, old_name: &str| -> Result<Option<String>, SettingsError> {
            let v = r.text(new)?;
            if old {
                let o = r.text(old_name)?;
                return Ok(v.or(o));
            }
            Ok(v)
        };
        let missing = |p: &str| SettingsError::Missing { object: r.label(), property: p.to_string() };
        let api_url =
            get("api-url", "ping-one-api-url")?.ok_or_else(|| missing("api-url"))?.trim_end_matches('/').to_string();
        let environment_id =
            get("environment-id", "ping-one-environment-id")?.ok_or_else(|| missing("environment-id"))?;
        let auth_url = get("auth-url", "ping-one-auth-url")?;
        let client_id =
            get("oauth-client-id", "ping-one-oauth-client-id")?.ok_or_else(|| missing("oauth-client-id"))?;
        let mut client_secret = r.secret("oauth-client-secret", Some("oauth-client-secret-passphrase-provider"))?;
        if old {
            let legacy = r.secret("ping-one-oauth-client-secret", None)?;
            if !client_secret.is_configured() && legacy.sealed.is_some() {
                client_secret = legacy;
            }
        }
        Ok(PingOneSettings {
            name: r.name().to_string(),
            label: r.label(),
            api_url,
            auth_url,
            environment_id,
            client_id,
            client_secret,
            trust_manager_provider: r.text("trust-manager-provider")?,
            allow_credentials_over_http: r.flag("allow-credentials-over-http")?,
            max_requests_per_second: r.required_integer("max-requests-per-second")?,
        })
    }
}

/// A PingOne sync source.
#[derive(Clone, Debug)]
pub struct PingOneSourceSettings {
    pub common: PingOneSettings,
    /// Population names or ids; all when empty.
    pub populations: Vec<String>,
    pub actor_ids_to_ignore: Vec<String>,
    pub realtime_sync_polling_offset: Duration,
}

impl PingOneSourceSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(PingOneSourceSettings {
            common: PingOneSettings::read(r)?,
            populations: r.texts("population-to-synchronize")?,
            actor_ids_to_ignore: r.texts("actor-id-to-ignore")?,
            realtime_sync_polling_offset: r.required_duration("realtime-sync-polling-offset")?,
        })
    }

    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        PingOneSourceSettings::read(&Reader::new(super::lookup(config, "sync-source", name)?))
    }
}

/// A PingOne sync destination.
#[derive(Clone, Debug)]
pub struct PingOneDestinationSettings {
    pub common: PingOneSettings,
    pub default_population_id: Option<String>,
    pub default_population_name: Option<String>,
}

impl PingOneDestinationSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let id = r.text("default-population-id")?;
        let old_id = r.text("ping-one-default-population-id")?;
        Ok(PingOneDestinationSettings {
            common: PingOneSettings::read(r)?,
            default_population_id: id.or(old_id),
            default_population_name: r.text("default-population-name")?,
        })
    }

    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        PingOneDestinationSettings::read(&Reader::new(super::lookup(config, "sync-destination", name)?))
    }
}
