//! Sensitive values (bind passwords, client secrets, tokens) are stored encrypted with ChaCha20-Poly1305 under a
//! key kept in `config/encryption.key` (mode 0600, made on first use). They are shown as `*****` everywhere.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};

use crate::config::SecretSealer;
use crate::error::{ConfigError, StoreError};

/// How a sensitive value is shown.
pub const MASK: &str = "*****";
const PREFIX: &str = "enc:v1:";

/// A secret in memory: its `Debug` and `Display` print `*****`, so no log line or error chain can leak it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The clear text, for the one place that needs it (a bind, a token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    /// A command-line value (clap parses `--bindPassword` into a `Secret`, so `Debug` of the arguments masks it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Whether a stored value is in the encrypted form.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// Whether a value looks like one of PingDataSync's obfuscated `AAB...=` blobs, which only Ping can decode.
pub fn is_ping_obfuscated(value: &str) -> bool {
    value.len() > 16 && value.starts_with("AA") && value.ends_with('=') && B64.decode(value).is_ok()
}

/// The key file and the cipher built from it, loaded (or made) on first use.
pub struct SecretBox {
    path: PathBuf,
    cipher: OnceLock<ChaCha20Poly1305>,
    /// How many sealed values the configuration holds, when it holds any: then a missing key is an error, never
    /// replaced by a new one that could not read them.
    sealed_values: Option<usize>,
}

impl SecretBox {
    pub fn new(key_path: impl Into<PathBuf>) -> Self {
        SecretBox { path: key_path.into(), cipher: OnceLock::new(), sealed_values: None }
    }

    /// The key of a configuration that holds `sealed` sealed values (0: a new key may be made when missing).
    pub fn for_sealed_values(key_path: impl Into<PathBuf>, sealed: usize) -> Self {
        SecretBox { sealed_values: (sealed > 0).then_some(sealed), ..SecretBox::new(key_path) }
    }

    fn cipher(&self) -> Result<&ChaCha20Poly1305, StoreError> {
        if let Some(c) = self.cipher.get() {
            return Ok(c);
        }
        let key = load_or_create_key(&self.path, self.sealed_values)?;
        Ok(self.cipher.get_or_init(|| ChaCha20Poly1305::new(Key::from_slice(&key))))
    }

    /// Encrypts a clear-text value into its stored form.
    pub fn encrypt(&self, plain: &str) -> Result<String, StoreError> {
        let cipher = self.cipher()?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Key { path: self.path.clone(), reason: e.to_string() })?;
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| StoreError::Key { path: self.path.clone(), reason: "encryption failed".into() })?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", B64.encode(blob)))
    }

    /// Decrypts a stored value. A value that is not in the encrypted form is returned as it is.
    pub fn decrypt(&self, stored: &str) -> Result<Secret, StoreError> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Ok(Secret::new(stored));
        };
        let blob = B64.decode(b64).map_err(|e| StoreError::Decrypt(e.to_string()))?;
        if blob.len() < 12 {
            return Err(StoreError::Decrypt("value too short".into()));
        }
        let (nonce, ct) = blob.split_at(12);
        let plain = self
            .cipher()?
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| StoreError::Decrypt("authentication failed".into()))?;
        String::from_utf8(plain).map(Secret::new).map_err(|e| StoreError::Decrypt(e.to_string()))
    }
}

impl SecretSealer for SecretBox {
    fn seal(&self, plain: &str) -> Result<String, ConfigError> {
        self.encrypt(plain).map_err(|e| ConfigError::Secret(e.to_string()))
    }
}

/// Reads the key at `path`, or makes one when it is missing and no value is sealed (`sealed_values`: how many
/// the configuration holds, when it holds any).
fn load_or_create_key(path: &Path, sealed_values: Option<usize>) -> Result<[u8; 32], StoreError> {
    let io = |action: &'static str| move |source| StoreError::Io { action, path: path.to_path_buf(), source };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_permissions(path)?;
            let bytes = hex_decode(text.trim()).ok_or_else(|| StoreError::Key {
                path: path.to_path_buf(),
                reason: "expected 64 hexadecimal characters".into(),
            })?;
            bytes
                .try_into()
                .map_err(|_| StoreError::Key { path: path.to_path_buf(), reason: "expected a 32-byte key".into() })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(sealed) = sealed_values {
                return Err(StoreError::Key {
                    path: path.to_path_buf(),
                    reason: format!(
                        "it is missing, and the configuration holds {sealed} value(s) sealed with it (bind \
                         passwords, client secrets, tokens), which cannot be read without it. Restore the file from \
                         a backup of this server root; or set each of those values again with dsconfig after moving \
                         config/config.db aside (a new key is then made)"
                    ),
                });
            }
            let mut key = [0u8; 32];
            getrandom::fill(&mut key)
                .map_err(|e| StoreError::Key { path: path.to_path_buf(), reason: e.to_string() })?;
            // Whole or not at all: an empty key left by a crash would stop every tool.
            match crate::private_file::write_new_atomically(path, hex_encode(&key).as_bytes()) {
                Ok(()) => Ok(key),
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_key(path, sealed_values),
                Err(e) => Err(io("create the encryption key")(e)),
            }
        }
        Err(e) => Err(io("read the encryption key")(e)),
    }
}

fn check_permissions(path: &Path) -> Result<(), StoreError> {
    crate::private_file::check_private(path).map_err(|reason| StoreError::Key { path: path.to_path_buf(), reason })
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Reads a sensitive property of `obj`, or the passphrase provider named by `provider_prop`: the clear text
/// for the one place that needs it. Errors name the object and say what to do. Prefer [`reveal_setting`] on
/// a typed [`SecretSetting`](crate::settings::SecretSetting).
pub fn reveal(
    config: &crate::config::Config,
    secrets: &SecretBox,
    root: &crate::store::ServerRoot,
    obj: &crate::config::ConfigObject,
    prop: &str,
    provider_prop: &str,
) -> Result<Option<Secret>, String> {
    let r = crate::settings::Reader::new(obj);
    let provider = Some(provider_prop).filter(|p| r.declares(p));
    let setting = r.secret(prop, provider).map_err(|e| e.to_string())?;
    reveal_setting(config, secrets, root, &setting)
}

/// The clear text of a sensitive setting: its stored value, else what its passphrase provider supplies; `None`
/// when neither is configured. Errors name the object and say what to do.
pub fn reveal_setting(
    config: &crate::config::Config,
    secrets: &SecretBox,
    root: &crate::store::ServerRoot,
    setting: &crate::settings::SecretSetting,
) -> Result<Option<Secret>, String> {
    let owner = &setting.owner;
    let prop = setting.property;
    if let Some(stored) = &setting.sealed {
        let secret = secrets.decrypt(stored).map_err(|e| format!("property '{prop}' of the {}: {e}", owner.label))?;
        if is_ping_obfuscated(secret.expose()) {
            return Err(format!(
                "property '{prop}' of the {} holds a PingDataSync-obfuscated value (AAB...=), which only PingDataSync can decode: set the clear text with dsconfig set-{}-prop --{} \"{}\" --set {prop}:...",
                owner.label, owner.type_name, owner.naming_arg, owner.name
            ));
        }
        return Ok(Some(secret));
    }
    let Some(provider) = &setting.provider else { return Ok(None) };
    let p = crate::settings::PassphraseProviderSettings::of(config, provider)
        .map_err(|_| format!("the passphrase provider '{provider}' of the {} does not exist", owner.label))?;
    if !p.enabled {
        return Err(format!("the {} is disabled: set enabled:true", p.label));
    }
    use crate::settings::security::PassphraseSource;
    match &p.source {
        Some(PassphraseSource::File(file)) => {
            let file = root.resolve(file);
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("the {} cannot read {}: {e}", p.label, file.display()))?;
            Ok(Some(Secret::new(text.lines().next().unwrap_or_default().trim_end())))
        }
        Some(PassphraseSource::Environment(var)) => std::env::var(var)
            .map(|v| Some(Secret::new(v)))
            .map_err(|_| format!("the {} reads the environment variable {var}, which is not set", p.label)),
        Some(PassphraseSource::Obscured(stored)) => secrets
            .decrypt(stored.as_deref().unwrap_or_default())
            .map(Some)
            .map_err(|e| format!("the {}: {e}", p.label)),
        None => Err(format!("the {} is of type {}, which ferrosync cannot use", p.label, p.variant)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_key_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("encryption.key");
        let b = SecretBox::new(&path);
        let sealed = b.encrypt("s3cret").unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(b.decrypt(&sealed).unwrap().expose(), "s3cret");
        // A second box reads the same key.
        assert_eq!(SecretBox::new(&path).decrypt(&sealed).unwrap().expose(), "s3cret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn secret_never_displays() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "***** *****");
    }

    #[test]
    fn recognizes_ping_blobs() {
        assert!(is_ping_obfuscated("AABkwRkIRfApR+R1uZPSciaUPmtEtTzjC/4="));
        assert!(!is_ping_obfuscated("2FederateM0re"));
    }
}
