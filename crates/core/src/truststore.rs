//! Trust store files, as Ping's file-based trust manager provider names them (`trust-store-file`,
//! `trust-store-type`, `trust-store-pin`): PEM (one or more certificates), one DER certificate, PKCS#12 (Ping's
//! default format, read with OpenSSL) and Java KeyStores (JKS, read with the `jks` crate). The result is the
//! DER of every trusted certificate, which the LDAP connections and the HTTPS agent add to the system's CAs.
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

/// The DER of every certificate the trust store at `path` trusts. `format`: `trust-store-type`, when set.
pub fn certificates(path: &Path, format: Option<&str>, pin: Option<&Secret>) -> Result<Vec<Vec<u8>>, String> {
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

fn pkcs12(data: &[u8], pin: Option<&Secret>) -> Result<Vec<Vec<u8>>, String> {
    let p12 = openssl::pkcs12::Pkcs12::from_der(data).map_err(|e| format!("not a PKCS#12 file ({e})"))?;
    let parsed = p12.parse2(pin.map_or("", Secret::expose)).map_err(|_| {
        if pin.is_some() {
            "its PIN (trust-store-pin or trust-store-pin-file) is not the store's, or the file is damaged".to_string()
        } else {
            "it cannot be opened without its PIN: set trust-store-pin-file (or trust-store-pin)".to_string()
        }
    })?;
    let mut out = Vec::new();
    for c in parsed.ca.iter().flatten() {
        out.push(c.to_der().map_err(|e| e.to_string())?);
    }
    if let Some(c) = &parsed.cert {
        out.push(c.to_der().map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn jks(data: &[u8], pin: Option<&Secret>) -> Result<Vec<Vec<u8>>, String> {
    let mut reader = data;
    let mut d = jks::decoder::Decoder::new(&mut reader);
    // The store's digest covers its PIN (as UTF-16), a fixed phrase and the content (Java's JKS format).
    if let Some(pin) = pin {
        d.update_digest(&jks::common::password_bytes(pin.expose().as_bytes()));
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
        match d.read_entry(version).map_err(bad)?.1 {
            jks::Entry::TrustedCertificate(t) => out.push(t.certificate.content),
            jks::Entry::PrivateKey(k) => out.extend(k.certificate_chain.into_iter().map(|c| c.content)),
        }
    }
    // Java reads a JKS trust store without a PIN unchecked: so does ferrosync.
    if pin.is_some() {
        d.verify_digest().map_err(|e| match e {
            jks::KeyStoreError::InvalidDigest => {
                "its PIN (trust-store-pin or trust-store-pin-file) is not the store's, or the file is damaged"
                    .to_string()
            }
            other => bad(other),
        })?;
    }
    Ok(out)
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
