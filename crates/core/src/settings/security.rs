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
    /// The CA certificates of a PEM file (relative paths are below the server root), on top of the system's.
    CaFile(String),
    /// The system's CA certificates.
    System,
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
            "file-based" => Some(TrustSource::CaFile(r.required_text("trust-store-file")?)),
            "jvm-default" => Some(TrustSource::System),
            _ => None,
        };
        Ok(TrustManagerSettings { name: r.name().to_string(), label: r.label(), enabled: r.flag("enabled")?, trust })
    }

    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        TrustManagerSettings::read(&Reader::new(super::lookup(config, "trust-manager-provider", name)?))
    }
}
