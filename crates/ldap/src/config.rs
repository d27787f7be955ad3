//! How to reach one LDAP server, and how hard to try: [`ServerConfig`], [`RetryPolicy`] and [`ClientOptions`].

use std::path::PathBuf;
use std::time::Duration;

use ferrosync::secret::Secret;

/// The `connection-security` of an LDAP external server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Security {
    /// Plain LDAP (`ldap://`).
    #[default]
    None,
    /// LDAPS: TLS from the first byte (`ldaps://`).
    Ssl,
    /// Plain LDAP upgraded with the StartTLS extended operation before the bind.
    StartTls,
}

/// Which server certificates to trust (Ping's `trust-manager-provider`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Trust {
    /// The system's CA store (`SSL_CERT_FILE` also works with OpenSSL).
    #[default]
    System,
    /// Accept any certificate ("Blind Trust"). For tests only.
    TrustAll,
    /// Trust the certificates of this trust store file (PEM, DER, or a JKS or PKCS#12 store without a PIN), on
    /// top of the system store.
    CaFile(PathBuf),
    /// Trust these certificates (DER, a trust store's), on top of the system store.
    Certificates(Vec<Vec<u8>>),
}

/// A TLS client certificate: the certificate and its chain (PEM) and the private key (PKCS#8 PEM).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub certificates_pem: Vec<u8>,
    pub key_pem: Secret,
    /// Where it came from (the key manager provider), for messages.
    pub source: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate").field("source", &self.source).field("key_pem", &self.key_pem).finish()
    }
}

/// One LDAP server of a sync source or destination.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The external server's name, used in messages.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub trust: Trust,
    /// Whether the certificate must name `host` (`hostname-verification-method: strict`).
    pub verify_hostname: bool,
    /// The bind DN; `None` means anonymous.
    pub bind_dn: Option<String>,
    pub password: Option<Secret>,
    /// The TLS client certificate presented (Ping's `key-manager-provider`).
    pub client_certificate: Option<ClientCertificate>,
    /// Bind with SASL EXTERNAL (the identity of the client certificate) instead of a simple bind.
    pub sasl_external: bool,
    /// Bounds TCP connect + TLS handshake / StartTLS + bind.
    pub connect_timeout: Duration,
    /// Bounds each operation (for streamed searches: each entry / page).
    pub response_timeout: Duration,
    /// Connections opened by [`LdapPool::warm_up`](crate::LdapPool::warm_up).
    pub initial_connections: usize,
    /// Connections opened at most; ldap3 pipelines, so several operations share one connection.
    pub max_connections: usize,
}

impl ServerConfig {
    /// A plain-LDAP, anonymous server with default timeouts (connect 10 s, response 60 s) and 1 to 4 connections.
    pub fn new(name: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        ServerConfig {
            name: name.into(),
            host: host.into(),
            port,
            security: Security::None,
            trust: Trust::System,
            verify_hostname: true,
            bind_dn: None,
            password: None,
            client_certificate: None,
            sasl_external: false,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            initial_connections: 1,
            max_connections: 4,
        }
    }

    /// Sets the bind DN and password (simple bind).
    pub fn with_bind(mut self, bind_dn: impl Into<String>, password: Secret) -> Self {
        self.bind_dn = Some(bind_dn.into());
        self.password = Some(password);
        self
    }

    /// Presents `certificate` in the TLS handshake; `sasl_external`: binds with SASL EXTERNAL as its identity.
    pub fn with_client_certificate(mut self, certificate: ClientCertificate, sasl_external: bool) -> Self {
        self.client_certificate = Some(certificate);
        self.sasl_external = sasl_external;
        self
    }

    pub fn with_security(mut self, security: Security, trust: Trust) -> Self {
        self.security = security;
        self.trust = trust;
        self
    }

    pub fn with_timeouts(mut self, connect: Duration, response: Duration) -> Self {
        self.connect_timeout = connect;
        self.response_timeout = response;
        self
    }

    pub fn with_connections(mut self, initial: usize, max: usize) -> Self {
        self.initial_connections = initial;
        self.max_connections = max;
        self
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The LDAP URL ldap3 connects to.
    pub fn url(&self) -> String {
        let scheme = match self.security {
            Security::Ssl => "ldaps",
            Security::None | Security::StartTls => "ldap",
        };
        format!("{scheme}://{}", self.address())
    }

    /// How the server is named in messages: `name (host:port)`, or `host:port` without a name.
    pub fn label(&self) -> String {
        let address = self.address();
        if self.name.is_empty() || self.name == address {
            address
        } else {
            format!("{} ({address})", self.name)
        }
    }
}

/// Retries of an operation that failed with a retryable error (Ping's `max-operation-attempts` and
/// `retry-backoff-*` sync-pipe properties).
///
/// The wait before attempt 2 is `initial_wait`; each later wait is the previous one increased by
/// `percentage_increase` percent and then by `increase_by`, capped at `max_wait`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1 is always made).
    pub max_attempts: u32,
    pub initial_wait: Duration,
    pub max_wait: Duration,
    pub increase_by: Duration,
    pub percentage_increase: u32,
}

impl Default for RetryPolicy {
    /// 5 attempts (Ping's documented `max-operation-attempts` default); waits of 100 ms, 200 ms, 300 ms, 400 ms.
    /// Ping's `retry-backoff-*` defaults are not documented; these are ours.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_wait: Duration::from_millis(100),
            max_wait: Duration::from_secs(10),
            increase_by: Duration::from_millis(100),
            percentage_increase: 0,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn no_retries() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// The wait before attempt number `attempt` (1-based): zero for the first attempt.
    pub fn wait_before(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let max = self.max_wait.as_nanos();
        let mut wait = self.initial_wait.as_nanos().min(max);
        for _ in 2..attempt {
            let grown = wait
                .saturating_mul(100 + u128::from(self.percentage_increase))
                .checked_div(100)
                .unwrap_or(wait)
                .saturating_add(self.increase_by.as_nanos())
                .min(max);
            if grown == wait {
                break; // capped, or no growth at all: every later wait is the same
            }
            wait = grown;
        }
        nanos_to_duration(wait)
    }
}

fn nanos_to_duration(nanos: u128) -> Duration {
    let secs = nanos / 1_000_000_000;
    let sub = (nanos % 1_000_000_000) as u32;
    match u64::try_from(secs) {
        Ok(secs) => Duration::new(secs, sub),
        Err(_) => Duration::MAX,
    }
}

/// Options of an [`LdapClient`](crate::LdapClient) over a failover list of servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    pub retry: RetryPolicy,
    /// How long a server that failed over (connect error, BUSY, UNAVAILABLE, ...) is skipped before it is
    /// tried again first.
    pub failover_cooldown: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions { retry: RetryPolicy::default(), failover_cooldown: Duration::from_secs(30) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn default_policy_is_linear() {
        let p = RetryPolicy::default();
        let waits: Vec<_> = (1..=6).map(|a| p.wait_before(a)).collect();
        assert_eq!(waits, vec![ms(0), ms(100), ms(200), ms(300), ms(400), ms(500)]);
    }

    #[test]
    fn percentage_then_increase_then_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_wait: ms(100),
            max_wait: ms(1000),
            increase_by: ms(10),
            percentage_increase: 100,
        };
        // 100, 100*2+10=210, 210*2+10=430, 870, then capped at 1000
        let waits: Vec<_> = (2..=7).map(|a| p.wait_before(a)).collect();
        assert_eq!(waits, vec![ms(100), ms(210), ms(430), ms(870), ms(1000), ms(1000)]);
    }

    #[test]
    fn percentage_only_is_exponential() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_wait: ms(250),
            max_wait: Duration::from_secs(60),
            increase_by: Duration::ZERO,
            percentage_increase: 50,
        };
        assert_eq!(p.wait_before(2), ms(250));
        assert_eq!(p.wait_before(3), ms(375));
        assert_eq!(p.wait_before(4), Duration::from_micros(562_500));
    }

    #[test]
    fn constant_wait_and_huge_attempt_numbers_are_cheap() {
        let p = RetryPolicy {
            max_attempts: u32::MAX,
            initial_wait: ms(500),
            max_wait: ms(500),
            increase_by: ms(100),
            percentage_increase: 0,
        };
        assert_eq!(p.wait_before(u32::MAX), ms(500));
        let no_growth = RetryPolicy { increase_by: Duration::ZERO, max_wait: Duration::MAX, ..p };
        assert_eq!(no_growth.wait_before(u32::MAX), ms(500));
    }

    #[test]
    fn initial_wait_above_max_is_capped() {
        let p = RetryPolicy { initial_wait: Duration::from_secs(20), max_wait: ms(50), ..RetryPolicy::default() };
        assert_eq!(p.wait_before(2), ms(50));
        assert_eq!(p.wait_before(1), Duration::ZERO);
        assert_eq!(p.wait_before(0), Duration::ZERO);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let p = RetryPolicy {
            max_attempts: 100,
            initial_wait: Duration::from_secs(u64::MAX / 4),
            max_wait: Duration::MAX,
            increase_by: Duration::MAX,
            percentage_increase: u32::MAX,
        };
        assert_eq!(p.wait_before(50), Duration::MAX);
    }

    #[test]
    fn labels_and_urls() {
        let s = ServerConfig::new("ds1", "127.0.0.1", 389);
        assert_eq!(s.label(), "ds1 (127.0.0.1:389)");
        assert_eq!(s.url(), "ldap://127.0.0.1:389");
        let s = ServerConfig::new("", "::1", 636).with_security(Security::Ssl, Trust::TrustAll);
        assert_eq!(s.label(), "[::1]:636");
        assert_eq!(s.url(), "ldaps://[::1]:636");
        let s = ServerConfig::new("x", "h", 1).with_bind("cn=x", Secret::new("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
