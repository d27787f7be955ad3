//! LDAPS and StartTLS with a CA file, trust-all, and the errors of untrusted and mismatched certificates.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use ferrosync_ldap::{LdapClient, LdapError, Scope, Security, ServerConfig, Trust};

async fn works(config: ServerConfig, server: &TestServer) {
    let client = LdapClient::single(config).unwrap();
    client.check_bind().await.unwrap();
    let base = client.get(&server.base_dn, &[]).await.unwrap().unwrap();
    assert!(base.dn.eq_ignore_ascii_case(&server.base_dn));
    assert!(!client.search(&server.base_dn, Scope::OneLevel, "(objectClass=*)", &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn ldaps_with_ca_file_openldap() {
    let s = common::openldap();
    works(s.ldaps_config(s.ca()), &s).await;
}

#[tokio::test]
async fn ldaps_with_ca_file_389() {
    let s = common::ds389();
    works(s.ldaps_config(s.ca()), &s).await;
}

#[tokio::test]
async fn starttls_with_ca_file_openldap() {
    let s = common::openldap();
    let ca = s.ca();
    works(s.config().with_security(Security::StartTls, ca), &s).await;
}

#[tokio::test]
async fn starttls_with_ca_file_389() {
    let s = common::ds389();
    let ca = s.ca();
    works(s.config().with_security(Security::StartTls, ca), &s).await;
}

#[tokio::test]
async fn trust_all_ldaps_and_starttls() {
    for s in [common::openldap(), common::ds389()] {
        works(s.ldaps_config(Trust::TrustAll), &s).await;
        works(s.config().with_security(Security::StartTls, Trust::TrustAll), &s).await;
    }
}

#[tokio::test]
async fn untrusted_certificate_gives_a_hint() {
    for s in [common::openldap(), common::ds389()] {
        for config in [s.ldaps_config(Trust::System), s.config().with_security(Security::StartTls, Trust::System)] {
            let client = LdapClient::single(config).unwrap();
            let err = client.check_bind().await.unwrap_err();
            assert!(matches!(err, LdapError::Connect { .. }), "{err:?}");
            let text = err.to_string();
            assert!(text.contains("certificate verify failed"), "{text}");
            assert!(text.contains("trust manager provider or a CA file"), "{text}");
            assert!(text.contains(&format!("{}:", s.host)), "{text}");
        }
    }
}

#[tokio::test]
async fn unreadable_ca_file_is_a_config_error() {
    let s = common::openldap();
    let err = LdapClient::single(s.ldaps_config(Trust::CaFile("/nonexistent/ca.pem".into()))).err().unwrap();
    assert!(matches!(err, LdapError::Config { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

/// Relays 127.0.0.2:<port> to the server's LDAPS port: the certificate names 127.0.0.1 and localhost, not
/// 127.0.0.2, so host name verification must fail, and pass when it is turned off.
#[tokio::test]
async fn hostname_mismatch() {
    let s = common::openldap();
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = format!("{}:{}", s.host, s.ldaps_port);
    let relay = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let mut config = s.ldaps_config(s.ca());
    config.host = "127.0.0.2".into();
    config.port = port;
    let err = LdapClient::single(config.clone()).unwrap().check_bind().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("IP address mismatch"), "{text}");
    assert!(text.contains("use the host name that is in the certificate"), "{text}");
    config.verify_hostname = false;
    LdapClient::single(config).unwrap().check_bind().await.unwrap();
    relay.abort();
}

/// Plain LDAP to the LDAPS port: the server waits for a TLS handshake and drops the connection.
#[tokio::test]
async fn plain_ldap_to_ldaps_port() {
    let s = common::openldap();
    let mut config = s.config();
    config.port = s.ldaps_port;
    config.connect_timeout = std::time::Duration::from_secs(3);
    let err = LdapClient::single(config).unwrap().check_bind().await.unwrap_err();
    assert!(matches!(err, LdapError::Connect { .. } | LdapError::Timeout { .. }), "{err:?}");
    eprintln!("plain LDAP to the LDAPS port: {err}");
}
