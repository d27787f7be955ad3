//! Trust stores and key stores, as Ping's file-based trust and key manager providers name them
//! (`trust-store-file`, `trust-store-type`, `trust-store-pin`; `key-store-file`, `key-store-type`,
//! `key-store-pin`, `private-key-pin`): PEM, one DER certificate (trust stores only), PKCS#12 (Ping's default
//! format, read with OpenSSL) and Java KeyStores (JKS, read with the `jks` crate).
//!
//! [`certificates`] gives the DER of every certificate a trust store trusts, which the LDAP connections and the
//! HTTPS agent add to the system's CAs. [`key_store`] gives a key store's private key, its certificate and the
//! chain after it: a client certificate for LDAP (SASL EXTERNAL), or the HTTPS Connection Handler's.
//!
//! Without `trust-store-type` the format is recognized from the content. A JKS file is checked with its PIN when
//! one is given (as Java does, a JKS trust store read without a PIN is not checked); a PKCS#12 file is decrypted
//! with its PIN (an empty one when none is given). A wrong PIN, a file that is not what its type says, or a store
//! that holds no certificate is an error that names the file and says what would be valid.

use std::path::Path;

use crate::secret::Secret;

/// The largest trust store read (a store of every public CA is about 200 kB).
const MAX_SIZE: u64 = 16 * 1024 * 1024;
const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];

/// A trust store's format, as `trust-store-type` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pem,
    Der,
    Pkcs12,
    Jks,
}

impl Format {
    /// The format `trust-store-type` names (any case): `JKS`, `PKCS12` (`P12`), `PEM`, `DER`.
    pub fn parse(name: &str) -> Result<Format, String> {
        match name.trim().to_ascii_uppercase().replace(['-', '#'], "").as_str() {
            "JKS" => Ok(Format::Jks),
            "PKCS12" | "P12" | "PFX" => Ok(Format::Pkcs12),
            "PEM" => Ok(Format::Pem),
            "DER" | "CER" | "CRT" => Ok(Format::Der),
            _ => Err(format!("'{name}' is not a trust store type ferrosync reads: use JKS, PKCS12 or PEM")),
        }
    }

    /// The format of `data`, recognized from its first bytes.
    fn detect(data: &[u8]) -> Format {
        if data.starts_with(&JKS_MAGIC) {
            Format::Jks
        } else if data.first() == Some(&0x30) {
            // A DER certificate or a PKCS#12 file, both ASN.1 sequences: a certificate parses as one.
            if openssl::x509::X509::from_der(data).is_ok() {
                Format::Der
            } else {
                Format::Pkcs12
            }
        } else {
            Format::Pem
        }
    }
}

/// A PIN and the property it came from (`trust-store-pin`, `trust-store-pin-file`, ...), for messages.
#[derive(Clone, Copy)]
pub struct Pin<'a> {
    pub secret: &'a Secret,
    pub property: &'a str,
}

impl Pin<'_> {
    fn wrong(&self) -> String {
        format!("the PIN given by {} is not the store's (or the file is damaged)", self.property)
    }
}

/// The DER of every certificate the trust store at `path` trusts. `format`: `trust-store-type`, when set.
pub fn certificates(path: &Path, format: Option<&str>, pin: Option<Pin<'_>>) -> Result<Vec<Vec<u8>>, String> {
    let shown = path.display();
    let size = std::fs::metadata(path).map_err(|e| format!("cannot read the trust store {shown}: {e}"))?.len();
    if size > MAX_SIZE {
        return Err(format!("the trust store {shown} is larger than {} MB: not a trust store", MAX_SIZE >> 20));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read the trust store {shown}: {e}"))?;
    let format = match format {
        Some(f) => Format::parse(f).map_err(|e| format!("the trust store {shown}: {e}"))?,
        None => Format::detect(&data),
    };
    let certs = match format {
        Format::Pem => pem(&data).map_err(|e| format!("the trust store {shown} is not a PEM file: {e}"))?,
        Format::Der => vec![openssl::x509::X509::from_der(&data)
            .and_then(|c| c.to_der())
            .map_err(|e| format!("the trust store {shown} is not a DER certificate: {e}"))?],
        Format::Pkcs12 => pkcs12(&data, pin).map_err(|e| format!("the PKCS#12 trust store {shown}: {e}"))?,
        Format::Jks => jks(&data, pin).map_err(|e| format!("the JKS trust store {shown}: {e}"))?,
    };
    if certs.is_empty() {
        return Err(format!("the trust store {shown} holds no certificate"));
    }
    Ok(certs)
}

fn pem(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let certs = openssl::x509::X509::stack_from_pem(data).map_err(|e| e.to_string())?;
    certs.iter().map(|c| c.to_der().map_err(|e| e.to_string())).collect()
}

fn parse_pkcs12(data: &[u8], pin: Option<Pin<'_>>, kind: &str) -> Result<openssl::pkcs12::ParsedPkcs12_2, String> {
    let p12 = openssl::pkcs12::Pkcs12::from_der(data).map_err(|e| format!("not a PKCS#12 file ({e})"))?;
    p12.parse2(pin.map_or("", |p| p.secret.expose())).map_err(|_| match pin {
        Some(p) => p.wrong(),
        None => format!("it cannot be opened without its PIN: set {kind}-pin-file (or {kind}-pin)"),
    })
}

fn pkcs12(data: &[u8], pin: Option<Pin<'_>>) -> Result<Vec<Vec<u8>>, String> {
    let parsed = parse_pkcs12(data, pin, "trust-store")?;
    let mut out = Vec::new();
    for c in parsed.ca.iter().flatten() {
        out.push(c.to_der().map_err(|e| e.to_string())?);
    }
    if let Some(c) = &parsed.cert {
        out.push(c.to_der().map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn jks(data: &[u8], pin: Option<Pin<'_>>) -> Result<Vec<Vec<u8>>, String> {
    Ok(read_jks(data, pin)?
        .into_iter()
        .flat_map(|e| match e {
            jks::Entry::TrustedCertificate(t) => vec![t.certificate.content],
            jks::Entry::PrivateKey(k) => k.certificate_chain.into_iter().map(|c| c.content).collect(),
        })
        .collect())
}

/// The entries of a JKS file, its digest checked when `pin` is given.
fn read_jks(data: &[u8], pin: Option<Pin<'_>>) -> Result<Vec<jks::Entry>, String> {
    let mut reader = data;
    let mut d = jks::decoder::Decoder::new(&mut reader);
    // The store's digest covers its PIN (as UTF-16), a fixed phrase and the content (Java's JKS format).
    if let Some(pin) = pin {
        d.update_digest(&jks::common::password_bytes(pin.secret.expose().as_bytes()));
        d.update_digest(jks::common::WHITENER_MESSAGE);
    }
    let bad = |e: jks::KeyStoreError| format!("not a valid JKS file ({e})");
    if d.read_u32().map_err(bad)? != jks::common::MAGIC {
        return Err("not a JKS file".into());
    }
    let version = d.read_u32().map_err(bad)?;
    let count = d.read_u32().map_err(bad)?;
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(d.read_entry(version).map_err(bad)?.1);
    }
    // Java reads a JKS trust store without a PIN unchecked: so does ferrosync.
    if let Some(pin) = pin {
        d.verify_digest().map_err(|e| match e {
            jks::KeyStoreError::InvalidDigest => pin.wrong(),
            other => bad(other),
        })?;
    }
    Ok(out)
}

/// A key store's private key, its certificate, and the CA certificates of the chain after it.
pub struct KeyStore {
    pub key: openssl::pkey::PKey<openssl::pkey::Private>,
    pub certificate: openssl::x509::X509,
    pub chain: Vec<openssl::x509::X509>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subject = |c: &openssl::x509::X509| {
            c.subject_name()
                .entries()
                .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
                .collect::<Vec<_>>()
                .join(",")
        };
        f.debug_struct("KeyStore")
            .field("key", &"*****")
            .field("certificate", &subject(&self.certificate))
            .field("chain", &self.chain.len())
            .finish()
    }
}

impl KeyStore {
    /// The certificate and its chain as PEM, and the key as PKCS#8 PEM (what native-tls takes).
    pub fn to_pem(&self) -> Result<(Vec<u8>, Secret), String> {
        let mut certs = self.certificate.to_pem().map_err(|e| e.to_string())?;
        for c in &self.chain {
            certs.extend(c.to_pem().map_err(|e| e.to_string())?);
        }
        let key = self.key.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?;
        let key = String::from_utf8(key).map_err(|e| e.to_string())?;
        Ok((certs, Secret::new(key)))
    }
}

/// The key store at `path`: `format` is `key-store-type` when set (else recognized from the content); `pin`
/// opens the store (and decrypts a PEM key); `key_pin` (`private-key-pin`) decrypts a JKS private key, which
/// is otherwise decrypted with `pin`. The first private key entry is used, with its certificate.
pub fn key_store(
    path: &Path,
    format: Option<&str>,
    pin: Option<Pin<'_>>,
    key_pin: Option<Pin<'_>>,
) -> Result<KeyStore, String> {
    let shown = path.display();
    let size = std::fs::metadata(path).map_err(|e| format!("cannot read the key store {shown}: {e}"))?.len();
    if size > MAX_SIZE {
        return Err(format!("the key store {shown} is larger than {} MB: not a key store", MAX_SIZE >> 20));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read the key store {shown}: {e}"))?;
    let format = match format {
        Some(f) => Format::parse(f).map_err(|e| format!("the key store {shown}: {e}"))?,
        None => Format::detect(&data),
    };
    match format {
        Format::Pem => pem_key_store(&data, pin).map_err(|e| format!("the PEM key store {shown}: {e}")),
        Format::Der => Err(format!(
            "the key store {shown} is one DER certificate, without its private key: use a PKCS#12, JKS or PEM key \
             store"
        )),
        Format::Pkcs12 => {
            let parsed =
                parse_pkcs12(&data, pin, "key-store").map_err(|e| format!("the PKCS#12 key store {shown}: {e}"))?;
            match (parsed.pkey, parsed.cert) {
                (Some(key), Some(certificate)) => Ok(KeyStore {
                    key,
                    certificate,
                    chain: parsed.ca.map(|s| s.into_iter().collect()).unwrap_or_default(),
                }),
                _ => Err(format!("the PKCS#12 key store {shown} holds no private key with its certificate")),
            }
        }
        Format::Jks => jks_key_store(&data, pin, key_pin).map_err(|e| format!("the JKS key store {shown}: {e}")),
    }
}

fn pem_key_store(data: &[u8], pin: Option<Pin<'_>>) -> Result<KeyStore, String> {
    let certs = openssl::x509::X509::stack_from_pem(data).map_err(|e| format!("not PEM certificates ({e})"))?;
    let mut certs = certs.into_iter();
    let Some(certificate) = certs.next() else { return Err("it holds no certificate".into()) };
    let key = match pin {
        Some(p) => openssl::pkey::PKey::private_key_from_pem_passphrase(data, p.secret.expose().as_bytes()),
        None => openssl::pkey::PKey::private_key_from_pem(data),
    }
    .map_err(|_| match pin {
        Some(p) => format!("it holds no private key that the PIN given by {} decrypts", p.property),
        None => "it holds no private key that can be read (an encrypted key needs key-store-pin or \
                 key-store-pin-file)"
            .to_string(),
    })?;
    Ok(KeyStore { key, certificate, chain: certs.collect() })
}

fn jks_key_store(data: &[u8], pin: Option<Pin<'_>>, key_pin: Option<Pin<'_>>) -> Result<KeyStore, String> {
    let Some(key_pin) = key_pin.or(pin) else {
        return Err(
            "its private key cannot be decrypted without a PIN: set key-store-pin-file (or key-store-pin)".into()
        );
    };
    let entry = read_jks(data, pin)?.into_iter().find_map(|e| match e {
        jks::Entry::PrivateKey(k) => Some(k),
        jks::Entry::TrustedCertificate(_) => None,
    });
    let Some(entry) = entry else { return Err("it holds no private key entry".into()) };
    let pkcs8 =
        jks::keyprotector::decrypt(&entry.private_key, key_pin.secret.expose().as_bytes(), jks::common::password_bytes)
            .map_err(|_| format!("the PIN given by {} does not decrypt its private key", key_pin.property))?;
    let key = openssl::pkey::PKey::private_key_from_pkcs8(&pkcs8)
        .map_err(|e| format!("its private key is not a PKCS#8 key OpenSSL reads ({e})"))?;
    let mut certs = entry.certificate_chain.iter().map(|c| {
        openssl::x509::X509::from_der(&c.content).map_err(|e| format!("a certificate of its chain is not valid ({e})"))
    });
    let Some(certificate) = certs.next().transpose()? else {
        return Err("its private key entry has no certificate".into());
    };
    Ok(KeyStore { key, certificate, chain: certs.collect::<Result<_, _>>()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_name() {
        assert_eq!(Format::parse("jks"), Ok(Format::Jks));
        assert_eq!(Format::parse("PKCS12"), Ok(Format::Pkcs12));
        assert_eq!(Format::parse("pkcs#12"), Ok(Format::Pkcs12));
        assert_eq!(Format::parse("PEM"), Ok(Format::Pem));
        assert!(Format::parse("BCFKS").unwrap_err().contains("JKS, PKCS12 or PEM"));
    }

    #[test]
    fn bad_files_are_errors_that_name_them() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert!(certificates(&missing, None, None).unwrap_err().contains("cannot read the trust store"));
        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, b"\xfe\xed\xfe\xed\0\0\0\x02\0\0\0\x05").unwrap();
        let e = certificates(&garbage, None, None).unwrap_err();
        assert!(e.contains("JKS trust store") && e.contains("garbage"), "{e}");
        std::fs::write(&garbage, b"not a certificate").unwrap();
        let e = certificates(&garbage, None, None).unwrap_err();
        assert!(e.contains("garbage"), "{e}");
        std::fs::write(&garbage, b"\x30\x03\x02\x01\x00").unwrap();
        let e = certificates(&garbage, None, None).unwrap_err();
        assert!(e.contains("PKCS#12"), "{e}");
    }
}
