//! Shared helpers of the integration tests: server coordinates from the environment, clients, per-test subtrees.
//!
//! The tests run against real servers started with `tests/servers/start-openldap.sh` and
//! `tests/servers/start-389ds.sh`, e.g.
//!
//! ```text
//! set -a
//! eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_OPENLDAP_ tests/servers/start-openldap.sh /tmp/ol 4389 4636)"
//! eval "$(SUMMARY_PREFIX=FERROSYNC_TEST_389_ tests/servers/start-389ds.sh /tmp/ds 23890 23891 t23890)"
//! set +a
//! cargo test --release -p ferrosync-ldap
//! ```
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ferrosync::entry::{Entry, Value};
use ferrosync::secret::Secret;
use ferrosync_ldap::ldap3::controls::{ManageDsaIt, RawControl};
use ferrosync_ldap::{ClientOptions, LdapClient, RetryPolicy, Scope, Security, ServerConfig, Trust};

#[derive(Clone, Debug)]
pub struct TestServer {
    pub kind: &'static str,
    pub host: String,
    pub port: u16,
    pub ldaps_port: u16,
    pub bind_dn: String,
    pub bind_pw: String,
    pub base_dn: String,
    pub ca_file: PathBuf,
}

fn env(prefix: &str, key: &str, script: &str) -> String {
    let var = format!("{prefix}{key}");
    match std::env::var(&var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set. These tests need real servers: start them with tests/servers/{script} and export \
             their summary, e.g. `set -a; eval \"$(SUMMARY_PREFIX={prefix} tests/servers/{script} DIR PORT \
             LDAPS_PORT)\"; set +a` (see crates/ldap/tests/common/mod.rs)"
        ),
    }
}

fn host_port(url: &str, var: &str) -> (String, u16) {
    let rest = url.split("://").nth(1).unwrap_or_else(|| panic!("{var}={url:?} is not an LDAP URL"));
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').unwrap_or_else(|| panic!("{var}={url:?} has no port"));
    (host.trim_matches(['[', ']']).to_string(), port.parse().unwrap_or_else(|_| panic!("{var}={url:?}: bad port")))
}

fn server(kind: &'static str, prefix: &str, script: &str) -> TestServer {
    let url = env(prefix, "URL", script);
    let ldaps_url = env(prefix, "LDAPS_URL", script);
    let (host, port) = host_port(&url, &format!("{prefix}URL"));
    let (_, ldaps_port) = host_port(&ldaps_url, &format!("{prefix}LDAPS_URL"));
    TestServer {
        kind,
        host,
        port,
        ldaps_port,
        bind_dn: env(prefix, "BIND_DN", script),
        bind_pw: env(prefix, "BIND_PW", script),
        base_dn: env(prefix, "BASE_DN", script),
        ca_file: PathBuf::from(env(prefix, "CA_FILE", script)),
    }
}

/// OpenLDAP, from the `FERROSYNC_TEST_OPENLDAP_*` variables.
pub fn openldap() -> TestServer {
    server("openldap", "FERROSYNC_TEST_OPENLDAP_", "start-openldap.sh")
}

/// 389 DS, from the `FERROSYNC_TEST_389_*` variables.
pub fn ds389() -> TestServer {
    server("389ds", "FERROSYNC_TEST_389_", "start-389ds.sh")
}

/// The 389 DS instance kept for RFC 4533 content sync, from the `FERROSYNC_TEST_389CS_*` variables. 389 DS
/// 2.3's content sync plugin can deadlock the database when persistent searches run while other clients write
/// concurrently, so the content-sync tests get an instance of their own.
#[allow(dead_code)]
pub fn ds389_content_sync() -> TestServer {
    server("389ds-cs", "FERROSYNC_TEST_389CS_", "start-389ds.sh")
}

impl TestServer {
    /// Plain LDAP, bound as the administrator, short timeouts.
    pub fn config(&self) -> ServerConfig {
        ServerConfig::new(self.kind, self.host.clone(), self.port)
            .with_bind(self.bind_dn.clone(), Secret::new(self.bind_pw.clone()))
            .with_timeouts(Duration::from_secs(5), Duration::from_secs(30))
    }

    pub fn ldaps_config(&self, trust: Trust) -> ServerConfig {
        let mut c = self.config().with_security(Security::Ssl, trust);
        c.port = self.ldaps_port;
        c
    }

    pub fn client(&self) -> LdapClient {
        LdapClient::single(self.config()).unwrap()
    }

    pub fn ca(&self) -> Trust {
        Trust::CaFile(self.ca_file.clone())
    }
}

pub fn quick_options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            initial_wait: Duration::from_millis(50),
            max_wait: Duration::from_millis(200),
            increase_by: Duration::from_millis(50),
            percentage_increase: 0,
        },
        failover_cooldown: Duration::from_secs(30),
    }
}

/// A name unique to this process and call.
pub fn unique(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("ldaptest-{name}-{:x}{:x}{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub fn ou_entry(dn: &str) -> Entry {
    let ou = dn.split(',').next().unwrap().trim_start_matches("ou=").to_string();
    let mut e = Entry::new(dn);
    e.set("objectClass", vec!["top".into(), "organizationalUnit".into()]);
    e.set("ou", vec![Value::Text(ou)]);
    e
}

pub fn person(dn: &str, uid: &str) -> Entry {
    let mut e = Entry::new(dn);
    e.set("objectClass", vec!["top".into(), "person".into(), "organizationalPerson".into(), "inetOrgPerson".into()]);
    e.set("uid", vec![uid.into()]);
    e.set("cn", vec![format!("Test {uid}").into()]);
    e.set("sn", vec!["Test".into()]);
    e
}

/// Creates `ou=ldaptest-<name>-<random>,BASE` and returns its DN.
pub async fn make_subtree(client: &LdapClient, server: &TestServer, name: &str) -> String {
    let dn = format!("ou={},{}", unique(name), server.base_dn);
    client.add(&ou_entry(&dn)).await.unwrap();
    dn
}

fn manage_dsa_it() -> Vec<RawControl> {
    vec![ManageDsaIt.into()]
}

/// Deletes `root` and everything below it (referral objects included), deepest first.
pub async fn delete_subtree(client: &LdapClient, root: &str) {
    let raw =
        client.search_with_controls(root, Scope::Subtree, "(objectClass=*)", &["1.1"], manage_dsa_it()).await.unwrap();
    let mut dns: Vec<String> =
        raw.items.into_iter().filter_map(ferrosync_ldap::entry_from_result_entry).map(|e| e.dn).collect();
    dns.sort_by_key(|dn| std::cmp::Reverse(dn.matches(',').count()));
    // Delete level by level, each level in parallel.
    let mut i = 0;
    while i < dns.len() {
        let depth = dns[i].matches(',').count();
        let mut set = tokio::task::JoinSet::new();
        while i < dns.len() && dns[i].matches(',').count() == depth {
            let client = client.clone();
            let dn = dns[i].clone();
            set.spawn(async move {
                client
                    .with_connection("delete", &dn, |mut ldap| {
                        let dn = dn.clone();
                        async move {
                            ldap.with_controls(manage_dsa_it()).delete(&dn).await?.success()?;
                            Ok(())
                        }
                    })
                    .await
            });
            if set.len() >= 8 {
                set.join_next().await.unwrap().unwrap().unwrap();
            }
            i += 1;
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
    }
}

/// A TCP listener on 127.0.0.1 that accepts connections and never answers: a hung server.
pub async fn hung_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

/// The DER bytes of the first certificate in a PEM file.
pub fn pem_to_der(path: &std::path::Path) -> Vec<u8> {
    use base64::Engine;
    let pem = std::fs::read_to_string(path).unwrap();
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
}
