//! LDAP over TLS as Ping operators have it, against the OpenLDAP of tests/run.sh (a pipe from 389 DS to it):
//! LDAPS and StartTLS trusted through file-based trust manager providers whose JKS and PKCS#12 stores keytool
//! (and openssl) made from the server's CA, refused with the system's CAs alone and with a wrong PIN; and SASL
//! EXTERNAL with a TLS client certificate from a file-based key manager provider (PKCS#12, JKS, PEM), which
//! slapd maps to its rootdn (tests/servers/start-openldap.sh: TLSVerifyClient allow, authz-regexp).
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use util::scenario::{Scenario, PEOPLE_ALL};

fn env(k: &str) -> String {
    let name = format!("FERROSYNC_TEST_OPENLDAP_{k}");
    std::env::var(&name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with tests/run.sh"))
}

/// The resync's standard error and its log: where a refused connection is told.
fn refused(s: &Scenario) -> String {
    let run = s.resync(&[]);
    format!("{}{}", run.fails(), s.log())
}

/// The OpenLDAP destination over LDAPS or StartTLS: with the system's CAs alone (which lack the test CA) the
/// connection is refused; keytool's JKS and PKCS#12 trust stores and openssl's PKCS#12 one, with the PIN in a
/// pin file, make it trusted; a wrong PIN is an error that names the provider and the property, and nothing
/// is written.
#[tokio::test]
async fn ldaps_and_starttls_trusted_through_jks_and_pkcs12_stores() {
    let s = Scenario::new("tlsstores").await;
    s.dsconfig(PEOPLE_ALL);
    let (jks, p12, openssl) = util::trust_stores(&env("CA_FILE"), s.root.path(), "store-Pin-1");
    s.root.write("trust.pin", "store-Pin-1\n");
    s.root.write("wrong.pin", "not-the-pin\n");
    let (ldaps, plain) = (env("LDAPS_PORT"), env("PORT"));

    let dn = s.add_person("sys", &[]).await;
    s.dsconfig(&format!(
        "dsconfig set-external-server-prop --server-name openldap --set connection-security:ssl --set server-port:{ldaps}\n"
    ));
    let out = refused(&s);
    assert!(out.contains("certificate verify failed"), "the system's CAs alone must not trust slapd: {out}");
    assert!(s.dst_get(&dn).await.is_none());

    let cases = [(&jks, "JKS", "ssl", &ldaps), (&p12, "PKCS12", "start-tls", &plain), (&openssl, "", "ssl", &ldaps)];
    for (i, (store, kind, security, port)) in cases.into_iter().enumerate() {
        let dn = s.add_person(&format!("u{i}"), &[]).await;
        let name = format!("ldap-store-{i}");
        let store_type = if kind.is_empty() { String::new() } else { format!(" --set trust-store-type:{kind}") };
        s.dsconfig(&format!(
            "dsconfig create-trust-manager-provider --provider-name {name} --type file-based --set enabled:true \
             --set trust-store-file:{}{store_type} --set trust-store-pin-file:wrong.pin\n\
             dsconfig set-external-server-prop --server-name openldap --set trust-manager-provider:{name} \
             --set connection-security:{security} --set server-port:{port}\n",
            store.display()
        ));
        let out = refused(&s);
        assert!(
            out.contains(&format!("'{name}'")) && out.contains("trust-store-pin-file"),
            "a wrong PIN names the provider and the property: {out}"
        );
        assert!(s.dst_get(&dn).await.is_none());
        s.dsconfig(&format!(
            "dsconfig set-trust-manager-provider-prop --provider-name {name} --set trust-store-pin-file:trust.pin\n"
        ));
        s.resync(&[]).ok();
        assert!(s.dst_get(&dn).await.is_some(), "{security} trusted through the {kind} store {}", store.display());
    }
}

/// `authentication-method: external`: the destination binds with SASL EXTERNAL as the identity of the client
/// certificate of its key manager provider, which slapd maps to its rootdn: the entries resync writes are
/// created by that DN (creatorsName), with no bind DN or password configured. Without a key manager provider
/// the server is refused before any connection; with a certificate slapd does not trust (the HTTPS test
/// servers', from another CA) slapd refuses the bind, and the error says so; a wrong key store PIN names the
/// property.
#[tokio::test]
async fn sasl_external_binds_as_the_client_certificate() {
    let s = Scenario::new("tlsext").await;
    s.dsconfig(PEOPLE_ALL);
    let ca = env("CA_FILE");
    let (p12, jks, pem) =
        util::key_stores(&env("CLIENT_CERT_FILE"), &env("CLIENT_KEY_FILE"), &ca, s.root.path(), "key-Pin-2");
    s.root.write("key.pin", "key-Pin-2\n");
    s.root.write("wrong.pin", "not-the-pin\n");
    s.dsconfig(&format!(
        "dsconfig create-trust-manager-provider --provider-name slapd-ca --type file-based --set enabled:true \
         --set trust-store-file:{ca}\n\
         dsconfig set-external-server-prop --server-name openldap --set connection-security:ssl \
         --set server-port:{} --set trust-manager-provider:slapd-ca --set authentication-method:external \
         --reset bind-dn --reset password\n",
        env("LDAPS_PORT")
    ));

    let dn = s.add_person("nocert", &[]).await;
    let out = refused(&s);
    assert!(out.contains("no key-manager-provider") && out.contains("authentication-method:external"), "{out}");
    assert!(s.dst_get(&dn).await.is_none());

    // A certificate of another CA: slapd (TLSVerifyClient try) ends the TLS session at the first request.
    let https =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run the tests with tests/run.sh"));
    let (other_cert, other_key) = (https("FERROSYNC_TEST_HTTPS_CERT_FILE"), https("FERROSYNC_TEST_HTTPS_KEY_FILE"));
    let other =
        format!("{}{}", std::fs::read_to_string(other_cert).unwrap(), std::fs::read_to_string(other_key).unwrap());
    s.root.write("other.pem", &other);
    s.dsconfig(
        "dsconfig create-key-manager-provider --provider-name other --type file-based --set enabled:true \
         --set key-store-file:other.pem\n\
         dsconfig set-external-server-prop --server-name openldap --set key-manager-provider:other\n",
    );
    let out = refused(&s);
    assert!(out.contains("refused the client certificate of the key-manager-provider 'other'"), "{out}");
    assert!(s.dst_get(&dn).await.is_none());

    let cases = [(&p12, "PKCS12"), (&jks, "JKS"), (&pem, "")];
    for (i, (store, kind)) in cases.into_iter().enumerate() {
        let dn = s.add_person(&format!("c{i}"), &[]).await;
        let name = format!("client-{i}");
        let store_type = if kind.is_empty() { String::new() } else { format!(" --set key-store-type:{kind}") };
        // The PEM key is not encrypted: it needs no PIN.
        let pin = if kind.is_empty() { "" } else { " --set key-store-pin-file:wrong.pin" };
        s.dsconfig(&format!(
            "dsconfig create-key-manager-provider --provider-name {name} --type file-based --set enabled:true \
             --set key-store-file:{}{store_type}{pin}\n\
             dsconfig set-external-server-prop --server-name openldap --set key-manager-provider:{name}\n",
            store.display()
        ));
        if !kind.is_empty() {
            let out = refused(&s);
            assert!(out.contains(&format!("'{name}'")) && out.contains("key-store-pin-file"), "{out}");
            assert!(s.dst_get(&dn).await.is_none());
            s.dsconfig(&format!(
                "dsconfig set-key-manager-provider-prop --provider-name {name} --set key-store-pin-file:key.pin\n"
            ));
        }
        s.resync(&[]).ok();
        let e = s.dst.get(&dn, &["creatorsName"]).await.unwrap();
        let e = e.unwrap_or_else(|| panic!("{dn} was not written through the {kind} key store"));
        let creator = e.first_text("creatorsName").unwrap_or_default();
        assert_eq!(creator.to_ascii_lowercase(), "cn=admin,dc=example,dc=com", "the certificate's identity wrote it");
    }
}
