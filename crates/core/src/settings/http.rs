//! The sync server's HTTP side: connection handlers, the servlet extensions they serve, and the key manager
//! providers that hold an HTTPS handler's certificate.

use super::{Reader, SecretSetting, SettingsError};
use crate::config::Config;

/// An HTTP connection handler (`--type http`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpHandlerSettings {
    pub name: String,
    pub label: String,
    pub enabled: bool,
    pub listen_address: String,
    pub listen_port: u16,
    /// With `use-ssl`: the key manager provider named (`None` when it is missing, which the server reports).
    pub tls: Option<Option<String>>,
    /// The servlet extensions served, by name.
    pub extensions: Vec<String>,
}

impl HttpHandlerSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let use_ssl = r.flag("use-ssl")?;
        let provider = r.text("key-manager-provider")?;
        Ok(HttpHandlerSettings {
            name: r.name().to_string(),
            label: r.label(),
            enabled: r.flag("enabled")?,
            listen_address: r.required_text("listen-address")?,
            listen_port: r.required_integer("listen-port")?,
            tls: use_ssl.then_some(provider),
            extensions: r.texts("http-servlet-extension")?,
        })
    }

    /// Every HTTP connection handler of the configuration (the other kinds are not run).
    pub fn all(config: &Config) -> Vec<Result<Self, SettingsError>> {
        config
            .all("connection-handler")
            .into_iter()
            .filter(|o| o.variant.as_deref() == Some("http"))
            .map(|o| HttpHandlerSettings::read(&Reader::new(o)))
            .collect()
    }
}

/// What an availability-state extension answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvailabilitySettings {
    pub available: u16,
    pub degraded: u16,
    pub unavailable: u16,
    pub override_code: Option<u16>,
    pub include_body: bool,
    /// The fields of `additional-response-contents`, added to the body.
    pub additional: serde_json::Map<String, serde_json::Value>,
}

/// What a servlet extension serves, by its `--type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServletKind {
    Prometheus,
    Availability(AvailabilitySettings),
    /// ferrosync's status page, reloading itself this often.
    StatusConsole {
        refresh: std::time::Duration,
    },
}

/// An HTTP servlet extension that ferrosync serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServletSettings {
    pub name: String,
    pub label: String,
    pub path: String,
    pub kind: ServletKind,
}

impl ServletSettings {
    /// The settings of an extension; `None` for the types ferrosync does not serve.
    pub fn read(r: &Reader) -> Result<Option<Self>, SettingsError> {
        let kind = match r.variant().unwrap_or("") {
            "prometheus-monitoring" => ServletKind::Prometheus,
            "status-console" => ServletKind::StatusConsole { refresh: r.required_duration("refresh-interval")? },
            "availability-state" => {
                let additional = match r.text("additional-response-contents")? {
                    None => serde_json::Map::new(),
                    Some(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                        Ok(serde_json::Value::Object(m)) => m,
                        _ => {
                            return Err(SettingsError::InvalidValue {
                                object: r.label(),
                                property: "additional-response-contents".into(),
                                value: text,
                                reason: "expected a JSON object such as {\"site\":\"east\"}".into(),
                            })
                        }
                    },
                };
                ServletKind::Availability(AvailabilitySettings {
                    available: r.required_integer("available-status-code")?,
                    degraded: r.required_integer("degraded-status-code")?,
                    unavailable: r.required_integer("unavailable-status-code")?,
                    override_code: r.integer("override-status-code")?,
                    include_body: r.flag("include-response-body")?,
                    additional,
                })
            }
            _ => return Ok(None),
        };
        let path = r.required_text("base-context-path")?;
        if !path.starts_with('/') {
            return Err(SettingsError::InvalidValue {
                object: r.label(),
                property: "base-context-path".into(),
                value: path,
                reason: "a path starts with '/'".into(),
            });
        }
        Ok(Some(ServletSettings { name: r.name().to_string(), label: r.label(), path, kind }))
    }

    /// The extension `name`; an error names it when it is missing or of a type ferrosync does not serve.
    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        let obj = super::lookup(config, "http-servlet-extension", name)?;
        ServletSettings::read(&Reader::new(obj))?.ok_or_else(|| SettingsError::Invalid {
            object: obj.label(),
            reason: format!("ferrosync does not serve extensions of type {}", obj.variant.as_deref().unwrap_or("-")),
        })
    }
}

/// Where a key manager provider's certificate and key are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyStoreSettings {
    /// The PEM file (relative paths are below the server root).
    pub file: String,
    /// `key-store-type`, when set (only PEM is read).
    pub store_type: Option<String>,
    /// The passphrase of an encrypted key: stored, or from a passphrase provider...
    pub pin: SecretSetting,
    /// ... or the first line of a file.
    pub pin_file: Option<String>,
}

/// A key manager provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyManagerSettings {
    pub name: String,
    pub label: String,
    pub enabled: bool,
    /// `None` for a provider without a certificate (`null`) or of a type ferrosync cannot use.
    pub key_store: Option<KeyStoreSettings>,
    /// The `--type`, for messages.
    pub variant: String,
}

impl KeyManagerSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let key_store = match r.variant().unwrap_or("") {
            "file-based" => Some(KeyStoreSettings {
                file: r.required_text("key-store-file")?,
                store_type: r.text("key-store-type")?,
                pin: r.secret("key-store-pin", Some("key-store-pin-passphrase-provider"))?,
                pin_file: r.text("key-store-pin-file")?,
            }),
            _ => None,
        };
        Ok(KeyManagerSettings {
            name: r.name().to_string(),
            label: r.label(),
            enabled: r.flag("enabled")?,
            key_store,
            variant: r.variant().unwrap_or("-").to_string(),
        })
    }

    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        KeyManagerSettings::read(&Reader::new(super::lookup(config, "key-manager-provider", name)?))
    }
}
