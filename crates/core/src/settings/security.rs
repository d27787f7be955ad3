//! Passphrase providers and trust manager providers.

use super::{Reader, SettingsError};
use crate::config::Config;

/// Where a passphrase provider takes its secret from, by its `--type`.
#[derive(Clone, PartialEq, Eq)]
pub enum PassphraseSource {
    /// The first line of a file (relative paths are below the server root).
    File(String),
    /// An environment variable.
    Environment(String),
    /// A value stored (sealed) in the configuration.
    Obscured(Option<String>),
}

impl std::fmt::Debug for PassphraseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassphraseSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PassphraseSource::Environment(v) => f.debug_tuple("Environment").field(v).finish(),
            PassphraseSource::Obscured(_) => f.write_str("Obscured(*****)"),
        }
    }
}

/// A passphrase provider.
#[derive(Clone, Debug)]
pub struct PassphraseProviderSettings {
    pub name: String,
    pub label: String,
    pub enabled: bool,
    /// `None` for a type that ferrosync cannot use.
    pub source: Option<PassphraseSource>,
    /// The `--type`, for messages.
    pub variant: String,
}

impl PassphraseProviderSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let source = match r.variant().unwrap_or("") {
            "file-based" => Some(PassphraseSource::File(r.required_text("password-file")?)),
            "environment-variable" => Some(PassphraseSource::Environment(r.required_text("environment-variable")?)),
            "obscured-value" => Some(PassphraseSource::Obscured(r.secret("obscured-value", None)?.sealed)),
            _ => None,
        };
        Ok(PassphraseProviderSettings {
            name: r.name().to_string(),
            label: r.label(),
            enabled: r.flag("enabled")?,
            source,
            variant: r.variant().unwrap_or("-").to_string(),
        })
    }

    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        PassphraseProviderSettings::read(&Reader::new(super::lookup(config, "passphrase-provider", name)?))
    }
}

/// Which server certificates a trust manager provider trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustSource {
    /// Any certificate (Blind Trust; for tests).
    Any,
    /// The certificates of a trust store file (PEM, DER, PKCS#12 or JKS), on top of the system's.
    CaFile(Box<TrustStoreFile>),
    /// The system's CA certificates.
    System,
}

/// A file-based trust manager provider's file (see [`crate::truststore`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustStoreFile {
    /// `trust-store-file`; relative paths are below the server root.
    pub file: String,
    /// `trust-store-type` (`JKS`, `PKCS12`, `PEM`); `None`: recognized from the content.
    pub format: Option<String>,
    /// `trust-store-pin` or `trust-store-pin-passphrase-provider`.
    pub pin: super::SecretSetting,
    /// `trust-store-pin-file`: a file that holds the PIN (relative paths are below the server root).
    pub pin_file: Option<String>,
}

impl TrustStoreFile {
    /// The trusted certificates (DER), the PIN revealed from the store or read from its file.
    pub fn certificates(
        &self,
        config: &crate::config::Config,
        secrets: &crate::secret::SecretBox,
        root: &crate::store::ServerRoot,
    ) -> Result<Vec<Vec<u8>>, String> {
        let pin = reveal_pin(config, secrets, root, &self.pin, self.pin_file.as_deref(), "trust-store-pin-file")?;
        let pin = pin.as_ref().map(|(secret, property)| crate::truststore::Pin { secret, property });
        crate::truststore::certificates(&root.resolve(&self.file), self.format.as_deref(), pin)
            .map_err(|e| format!("{e} (the {})", self.pin.owner.label))
    }
}

/// A store's PIN and the property it came from: the stored PIN or its passphrase provider (`pin`), else the
/// first line of `pin_file` (the property `file_property`; relative paths are below the server root).
pub fn reveal_pin(
    config: &crate::config::Config,
    secrets: &crate::secret::SecretBox,
    root: &crate::store::ServerRoot,
    pin: &super::SecretSetting,
    pin_file: Option<&str>,
    file_property: &str,
) -> Result<Option<(crate::secret::Secret, String)>, String> {
    if let Some(secret) = crate::secret::reveal_setting(config, secrets, root, pin)? {
        let property = match (&pin.sealed, &pin.provider) {
            (None, Some(_)) => format!("{}-passphrase-provider", pin.property),
            _ => pin.property.to_string(),
        };
        return Ok(Some((secret, property)));
    }
    let Some(f) = pin_file else { return Ok(None) };
    let path = root.resolve(f);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the {file_property} {} of the {}: {e}", path.display(), pin.owner.label))?;
    let first = text.lines().next().unwrap_or_default().trim_end_matches('\r');
    Ok(Some((crate::secret::Secret::new(first), format!("{file_property} {}", path.display()))))
}

/// A trust manager provider.
#[derive(Clone, Debug)]
pub struct TrustManagerSettings {
    pub name: String,
    pub label: String,
    pub enabled: bool,
    /// `None` for a type that ferrosync cannot use.
    pub trust: Option<TrustSource>,
}

impl TrustManagerSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let trust = match r.variant().unwrap_or("") {
            "blind-trust" => Some(TrustSource::Any),
            "file-based" => {
                let store = TrustStoreFile {
                    file: r.required_text("trust-store-file")?,
                    format: r.text("trust-store-type")?,
                    pin: r.secret("trust-store-pin", Some("trust-store-pin-passphrase-provider"))?,
                    pin_file: r.text("trust-store-pin-file")?,
                };
                if let Some(f) = &store.format {
                    crate::truststore::Format::parse(f).map_err(|reason| SettingsError::InvalidValue {
                        object: r.label(),
                        property: "trust-store-type".into(),
                        value: f.clone(),
                        reason,
                    })?;
                }
                Some(TrustSource::CaFile(Box::new(store)))
            }
            "jvm-default" => Some(TrustSource::System),
            _ => None,
        };
        Ok(TrustManagerSettings { name: r.name().to_string(), label: r.label(), enabled: r.flag("enabled")?, trust })
    }

    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        TrustManagerSettings::read(&Reader::new(super::lookup(config, "trust-manager-provider", name)?))
    }
}
