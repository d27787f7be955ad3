//! HTTPS: an OpenSSL acceptor from the PEM file of a file-based key manager provider (the certificate first,
//! its chain after it, and the private key, encrypted or not).

use std::path::Path;

use ferrosync::config::Config;
use ferrosync::secret::SecretBox;
use ferrosync::settings::{KeyManagerSettings, KeyStoreSettings};
use ferrosync::store::ServerRoot;
use openssl::pkey::PKey;
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::X509;

/// The key store of the key manager provider `name`, checked: enabled, file-based, PEM.
pub fn key_store(config: &Config, name: &str) -> Result<KeyStoreSettings, String> {
    let k = KeyManagerSettings::of(config, name).map_err(|e| format!("key-manager-provider: {e}"))?;
    if !k.enabled {
        return Err(format!("the {} is disabled: set enabled:true", k.label));
    }
    let Some(store) = k.key_store else {
        return Err(format!(
            "the {} is of type {}, which holds no certificate: use a file-based one",
            k.label, k.variant
        ));
    };
    if let Some(t) = store.store_type.as_deref().filter(|t| !t.eq_ignore_ascii_case("PEM")) {
        return Err(format!(
            "the {} has key-store-type {t}: ferrosync reads PEM files (convert a PKCS#12 file with \
             `openssl pkcs12 -in FILE -nodes -out FILE.pem`) and key-store-type PEM or none",
            k.label
        ));
    }
    Ok(store)
}

/// The acceptor for `store`. The passphrase of an encrypted key comes from `key-store-pin-file`, else
/// `key-store-pin` or its passphrase provider.
pub fn acceptor(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    store: &KeyStoreSettings,
) -> Result<SslAcceptor, String> {
    let path = root.resolve(&store.file);
    let pem = std::fs::read(&path).map_err(|e| format!("cannot read key-store-file {}: {e}", path.display()))?;
    let certs = X509::stack_from_pem(&pem).map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    let Some((leaf, chain)) = certs.split_first() else {
        return Err(format!("{} holds no certificate", path.display()));
    };
    let pin = match &store.pin_file {
        Some(f) => Some(first_line(&root.resolve(f))?),
        None => ferrosync::secret::reveal_setting(config, secrets, root, &store.pin)?.map(|s| s.expose().to_string()),
    };
    let key = match &pin {
        Some(p) => PKey::private_key_from_pem_passphrase(&pem, p.as_bytes()),
        None => PKey::private_key_from_pem(&pem),
    }
    .map_err(|_| {
        format!(
            "{} holds no private key that can be read{}",
            path.display(),
            if pin.is_some() { " with the passphrase given" } else { " (an encrypted key needs key-store-pin)" }
        )
    })?;
    let tls = |e: openssl::error::ErrorStack| format!("{}: {e}", path.display());
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(tls)?;
    b.set_private_key(&key).map_err(tls)?;
    b.set_certificate(leaf).map_err(tls)?;
    for c in chain {
        b.add_extra_chain_cert(c.clone()).map_err(tls)?;
    }
    b.check_private_key().map_err(|_| format!("{}: the private key does not match the certificate", path.display()))?;
    Ok(b.build())
}

fn first_line(path: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read key-store-pin-file {}: {e}", path.display()))?;
    Ok(text.lines().next().unwrap_or_default().trim_end().to_string())
}
