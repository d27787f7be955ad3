//! HTTPS: an OpenSSL acceptor from the key store of a file-based key manager provider (PEM, PKCS#12 or JKS; see
//! [`ferrosync::truststore::key_store`]).

use ferrosync::config::Config;
use ferrosync::secret::SecretBox;
use ferrosync::settings::{KeyManagerSettings, KeyStoreSettings};
use ferrosync::store::ServerRoot;
use openssl::ssl::{SslAcceptor, SslMethod};

/// The key store of the key manager provider `name`, checked: enabled, file-based.
pub fn key_store(config: &Config, name: &str) -> Result<KeyStoreSettings, String> {
    KeyManagerSettings::key_store_of(config, name, "HTTPS Connection Handler")
}

/// The acceptor for `store`. The store's PIN (a PEM file's: the passphrase of an encrypted key) comes from
/// `key-store-pin`, its passphrase provider or `key-store-pin-file`.
pub fn acceptor(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    store: &KeyStoreSettings,
) -> Result<SslAcceptor, String> {
    let ks = store.read(config, secrets, root)?;
    let path = root.resolve(&store.file);
    let tls = |e: openssl::error::ErrorStack| format!("{}: {e}", path.display());
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(tls)?;
    b.set_private_key(&ks.key).map_err(tls)?;
    b.set_certificate(&ks.certificate).map_err(tls)?;
    for c in ks.chain {
        b.add_extra_chain_cert(c).map_err(tls)?;
    }
    b.check_private_key().map_err(|_| format!("{}: the private key does not match the certificate", path.display()))?;
    Ok(b.build())
}
