//! HTTPS for the REST endpoints (SCIM 2.0 services, PingOne): which server certificates are trusted, read from
//! the configuration's trust manager provider, and the HTTP agent that checks them.
//!
//! * No provider (or `JVM-Default`): the system's CA certificates, as OpenSSL finds them (`/etc/ssl/certs`, or
//!   the `SSL_CERT_FILE` / `SSL_CERT_DIR` an operator sets), so a service behind a corporate CA that the
//!   system trusts is reached as a browser would reach it.
//! * A `file-based` provider: the certificates of its trust store (PEM, PKCS#12 or JKS, see
//!   [`crate::truststore`]), on top of the system's (as for LDAP).
//! * `Blind Trust`: any certificate, only when that provider is named *and* enabled.
//!
//! Host names are always verified: the HTTP client (ureq over OpenSSL) has no way to check a certificate's
//! chain without its name, and trusting any certificate because the name may differ would be worse. A
//! `hostname-verification-method: allow-all` on an HTTP object gets a note saying so when it is set.
//!
//! Credentials (a bearer token, basic credentials, a client secret) are sent over plain `http://` only when the
//! object says so with `allow-credentials-over-http: true` ([`check_credentials_over_http`]).

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::secret::SecretBox;
use crate::settings::{TrustManagerSettings, TrustSource};
use crate::store::ServerRoot;

/// Which server certificates an HTTPS client trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpsTrust {
    /// The system's CA certificates.
    System,
    /// The system's CA certificates and those of a trust store file, recognized from its content (no PIN).
    CaFile(std::path::PathBuf),
    /// The system's CA certificates and these (DER), a trust store's.
    Certificates(Vec<Vec<u8>>),
    /// Any certificate (the Blind Trust provider, enabled).
    Any,
}

/// The trust of an object that names `provider` (`None`: its property is unset), for messages `label`.
pub fn trust_of(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    provider: Option<&str>,
    label: &str,
) -> Result<HttpsTrust, String> {
    let Some(name) = provider else { return Ok(HttpsTrust::System) };
    let tmp = TrustManagerSettings::of(config, name)
        .map_err(|_| format!("the trust manager provider '{name}' of the {label} does not exist"))?;
    if !tmp.enabled {
        return Err(format!(
            "the {} used by the {label} is disabled: run dsconfig set-trust-manager-provider-prop --provider-name \
             \"{name}\" --set enabled:true",
            tmp.label
        ));
    }
    match tmp.trust {
        Some(TrustSource::Any) => Ok(HttpsTrust::Any),
        Some(TrustSource::CaFile(store)) => Ok(HttpsTrust::Certificates(store.certificates(config, secrets, root)?)),
        Some(TrustSource::System) => Ok(HttpsTrust::System),
        None => Err(format!(
            "the {} used by the {label} is of a type ferrosync cannot use for HTTPS: use a file-based provider \
             (a PEM file of CA certificates), JVM-Default (the system's CAs) or Blind Trust",
            tmp.label
        )),
    }
}

/// The system's CA certificates as OpenSSL finds them (its bundle file), or none when there is no bundle.
fn system_certificates() -> Vec<ureq::tls::Certificate<'static>> {
    // A bundle that cannot be read leaves the file's CAs, which the operator named.
    let Some(data) = openssl_probe::probe().cert_file.and_then(|f| std::fs::read(f).ok()) else { return Vec::new() };
    ureq::tls::parse_pem(&data)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// The TLS settings of `trust` (over OpenSSL, as the LDAP connections).
pub fn tls_config(trust: &HttpsTrust) -> Result<ureq::tls::TlsConfig, String> {
    let builder = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::NativeTls);
    let builder = match trust {
        HttpsTrust::System => builder.root_certs(ureq::tls::RootCerts::PlatformVerifier),
        HttpsTrust::Any => builder.disable_verification(true),
        HttpsTrust::CaFile(_) | HttpsTrust::Certificates(_) => {
            let read;
            let der = match trust {
                HttpsTrust::CaFile(path) => {
                    read = crate::truststore::certificates(path, None, None)?;
                    &read
                }
                HttpsTrust::Certificates(der) => der,
                _ => return Err("internal error: not a trust store".into()),
            };
            let mut certs: Vec<_> = der.iter().map(|c| ureq::tls::Certificate::from_der(c).to_owned()).collect();
            certs.extend(system_certificates());
            builder.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)))
        }
    };
    Ok(builder.build())
}

/// Idle connections an agent keeps to one host: at least as many as the requests a pipe has in flight
/// (its worker threads), so that parallel requests reuse their connections. ureq's default, 3, made most of 8
/// parallel requests open a new connection (and a TLS handshake) each time.
pub const MAX_IDLE_PER_HOST: usize = 128;

/// An HTTP agent that trusts `trust`, gives each request `timeout` in all (and `connect` to connect), keeps
/// up to [`MAX_IDLE_PER_HOST`] connections per host alive, and hands every HTTP status to the caller.
pub fn agent(trust: &HttpsTrust, timeout: Duration, connect: Option<Duration>) -> Result<ureq::Agent, String> {
    Ok(ureq::Agent::config_builder()
        .tls_config(tls_config(trust)?)
        .max_idle_connections(MAX_IDLE_PER_HOST * 2)
        .max_idle_connections_per_host(MAX_IDLE_PER_HOST)
        .timeout_global(Some(timeout))
        .timeout_connect(connect)
        .http_status_as_error(false)
        .build()
        .into())
}

/// Refuses to send credentials to `url` over plain HTTP unless `allowed` (`allow-credentials-over-http`):
/// `Err` names the object (`label`), the property that holds the URL (`property`) and the object whose
/// `allow-credentials-over-http` would allow it (`allow_on`).
pub fn check_credentials_over_http(
    url: &str,
    property: &str,
    label: &str,
    allow_on: &str,
    allowed: bool,
) -> Result<(), String> {
    if is_plain_http(url) && !allowed {
        return Err(format!(
            "the {property} of the {label} is {url}: ferrosync does not send credentials over plain HTTP. Use an \
             https:// URL, or set allow-credentials-over-http:true on the {allow_on} to send them in clear text \
             anyway"
        ));
    }
    Ok(())
}

/// Whether a URL is plain `http://` (for the warning when credentials go over it).
pub fn is_plain_http(url: &str) -> bool {
    url.trim_start().get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_over_http_need_the_property() {
        let e = check_credentials_over_http(
            "http://scim.example.com/scim/v2",
            "scim-service-url",
            "External Server 'x'",
            "External Server 'x'",
            false,
        )
        .unwrap_err();
        assert!(
            e.contains("scim-service-url")
                && e.contains("External Server 'x'")
                && e.contains("allow-credentials-over-http:true"),
            "{e}"
        );
        assert!(check_credentials_over_http("HTTP://a", "p", "o", "o", true).is_ok());
        assert!(check_credentials_over_http("https://a", "p", "o", "o", false).is_ok());
        assert!(!is_plain_http("https://a") && is_plain_http(" Http://a"));
    }
}
