//! [`LdapPool`]: bound connections to one server, opened on demand.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use native_tls::{Certificate, Identity, TlsConnector};
use tokio::sync::Mutex;

use crate::config::{Security, ServerConfig, Trust};
use crate::error::{connect_hint, LdapError, TimeoutKind};

/// Connections to one LDAP server, each bound with the server's bind DN and password.
///
/// Connections are opened when needed, up to `max_connections`: an operation takes an open connection that
/// has nothing in flight, else opens a new one if the limit allows, else shares the least busy one (ldap3
/// pipelines operations on a connection). A connection found closed, or that fails with a connection error
/// (or rc 81/91), is dropped and replaced by a new one. Cloning the pool is cheap and shares the connections.
#[derive(Clone)]
pub struct LdapPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    config: ServerConfig,
    label: String,
    tls: Option<TlsConnector>,
    slots: Vec<Slot>,
    next_id: AtomicU64,
    round_robin: AtomicUsize,
}

struct Slot {
    conn: Mutex<Option<Conn>>,
    in_flight: Arc<AtomicUsize>,
}

struct Conn {
    ldap: Ldap,
    id: u64,
}

/// A connection taken from the pool for one operation. It counts as "in flight" until dropped.
pub(crate) struct Lease {
    pub(crate) ldap: Ldap,
    slot: usize,
    id: u64,
    /// Whether the connection was opened for this lease (a connection error then is not a stale connection).
    pub(crate) fresh: bool,
    in_flight: Arc<AtomicUsize>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl LdapPool {
    /// Checks the configuration and prepares the TLS settings; opens no connection.
    pub fn new(config: ServerConfig) -> Result<LdapPool, LdapError> {
        let label = config.label();
        let config_error = |message: String| LdapError::Config { server: label.clone(), message };
        if config.host.is_empty() {
            return Err(config_error("the host name is empty".into()));
        }
        if !config.sasl_external
            && config.bind_dn.as_deref().is_some_and(|dn| !dn.is_empty())
            && config.password.as_ref().is_none_or(|p| p.is_empty())
        {
            return Err(config_error(
                "a bind DN is set but the password is empty (that would be an unauthenticated bind)".into(),
            ));
        }
        if config.sasl_external && config.client_certificate.is_none() {
            return Err(config_error(
                "SASL EXTERNAL needs a client certificate: set the key-manager-provider of the external server".into(),
            ));
        }
        if config.client_certificate.is_some() && config.security == Security::None {
            return Err(config_error(
                "a client certificate is presented only over TLS: set connection-security:ssl or start-tls".into(),
            ));
        }
        let tls = build_tls(&config).map_err(config_error)?;
        let max = config.max_connections.max(1);
        let slots =
            (0..max).map(|_| Slot { conn: Mutex::new(None), in_flight: Arc::new(AtomicUsize::new(0)) }).collect();
        Ok(LdapPool {
            inner: Arc::new(PoolInner {
                config,
                label,
                tls,
                slots,
                next_id: AtomicU64::new(1),
                round_robin: AtomicUsize::new(0),
            }),
        })
    }

    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// `name (host:port)`, as used in messages.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// How many connections are open now (closed ones not counted).
    pub fn open_connections(&self) -> usize {
        self.inner
            .slots
            .iter()
            .filter(|s| match s.conn.try_lock() {
                Ok(mut g) => g.as_mut().is_some_and(|c| !c.ldap.is_closed()),
                Err(_) => true, // being opened or checked right now
            })
            .count()
    }

    /// Opens `initial_connections` connections (at most `max_connections`) that are not open yet.
    pub async fn warm_up(&self) -> Result<(), LdapError> {
        let n = self.inner.config.initial_connections.min(self.inner.slots.len());
        for slot in &self.inner.slots[..n] {
            let mut guard = slot.conn.lock().await;
            if guard.as_mut().is_some_and(|c| !c.ldap.is_closed()) {
                continue;
            }
            let ldap = self.open().await?;
            *guard = Some(Conn { ldap, id: self.inner.next_id.fetch_add(1, Ordering::Relaxed) });
        }
        Ok(())
    }

    /// Opens a new connection, binds, and closes it: checks that the server is reachable and the credentials
    /// are right, whatever the pooled connections are doing.
    pub async fn check_bind(&self) -> Result<(), LdapError> {
        let mut ldap = self.open().await?;
        let _ = tokio::time::timeout(self.inner.config.connect_timeout, ldap.unbind()).await;
        Ok(())
    }

    /// Opens a new bound connection that is not part of the pool (for long-running searches such as an RFC 4533
    /// persist search). It is closed when the last clone of the handle is dropped.
    pub async fn open_dedicated(&self) -> Result<Ldap, LdapError> {
        self.open().await
    }

    /// Closes every pooled connection (operations in flight on them fail).
    pub async fn close(&self) {
        for slot in &self.inner.slots {
            let conn = slot.conn.lock().await.take();
            if let Some(mut c) = conn {
                let _ = tokio::time::timeout(self.inner.config.connect_timeout, c.ldap.unbind()).await;
            }
        }
    }

    /// Connect (TCP, TLS or StartTLS) and bind, all within the connect timeout.
    async fn open(&self) -> Result<Ldap, LdapError> {
        let cfg = &self.inner.config;
        let label = &self.inner.label;
        let mut settings = LdapConnSettings::new().set_conn_timeout(cfg.connect_timeout);
        if cfg.security == Security::StartTls {
            settings = settings.set_starttls(true);
        }
        if let Some(connector) = &self.inner.tls {
            settings = settings.set_connector(connector.clone());
        }
        let url = cfg.url();
        let connect_and_bind = async {
            let (conn, mut ldap) =
                LdapConnAsync::with_settings(settings, &url).await.map_err(|e| self.connect_error(e))?;
            tokio::spawn(async move {
                // An error here is a broken socket; the operations waiting on it get their own error.
                let _ = conn.drive().await;
            });
            if cfg.sasl_external {
                let certificate = cfg.client_certificate.as_ref().map(|c| c.source.clone()).unwrap_or_default();
                let res = ldap.sasl_external_bind().await.map_err(|e| match e {
                    ldap3::LdapError::LdapResult { result } => LdapError::ExternalBind {
                        server: label.clone(),
                        certificate: certificate.clone(),
                        rc: result.rc,
                        text: result.text,
                    },
                    // TLS 1.3 finishes the handshake on the client's side before the server has checked the
                    // client certificate: a server that refuses it closes the connection at the first request.
                    other => LdapError::Connect {
                        server: label.clone(),
                        reason: format!(
                            "the connection failed during the SASL EXTERNAL bind ({other}): the server most likely \
                             refused the client certificate of the {certificate}"
                        ),
                        hint: Some(
                            "check that the certificate is signed by a CA the server trusts, is not expired, and \
                             is meant for TLS clients"
                                .into(),
                        ),
                    },
                })?;
                if res.rc != 0 {
                    return Err(LdapError::ExternalBind {
                        server: label.clone(),
                        certificate,
                        rc: res.rc,
                        text: res.text,
                    });
                }
                // A server that ignores a certificate it cannot verify (slapd's TLSVerifyClient allow) may let
                // EXTERNAL succeed with no identity: the writes would then go out anonymously. Who am I? tells.
                if let Ok((exop, _)) = ldap.extended(ldap3::exop::WhoAmI).await.and_then(|r| r.success()) {
                    if exop.val.as_deref().unwrap_or_default().is_empty() {
                        return Err(LdapError::ExternalBind {
                            server: label.clone(),
                            certificate,
                            rc: crate::rc::INAPPROPRIATE_AUTHENTICATION,
                            text: "the bind succeeded anonymously: the server took no identity from the client \
                                   certificate (is it signed by a CA the server trusts?)"
                                .into(),
                        });
                    }
                }
            } else if let Some(bind_dn) = cfg.bind_dn.as_deref().filter(|dn| !dn.is_empty()) {
                let password = cfg.password.as_ref().map(|p| p.expose()).unwrap_or_default();
                let res = ldap.simple_bind(bind_dn, password).await.map_err(|e| match e {
                    ldap3::LdapError::LdapResult { result } => LdapError::Bind {
                        server: label.clone(),
                        bind_dn: bind_dn.to_string(),
                        rc: result.rc,
                        text: result.text,
                    },
                    other => {
                        let reason = format!("the connection failed during the bind: {other}");
                        LdapError::Connect { hint: connect_hint(&reason), server: label.clone(), reason }
                    }
                })?;
                if res.rc != 0 {
                    return Err(LdapError::Bind {
                        server: label.clone(),
                        bind_dn: bind_dn.to_string(),
                        rc: res.rc,
                        text: res.text,
                    });
                }
            }
            Ok(ldap)
        };
        match tokio::time::timeout(cfg.connect_timeout, connect_and_bind).await {
            Ok(result) => result,
            Err(_) => Err(self.connect_timeout("connect and bind")),
        }
    }

    fn connect_timeout(&self, operation: &str) -> LdapError {
        LdapError::Timeout {
            server: self.inner.label.clone(),
            operation: operation.to_string(),
            dn: String::new(),
            kind: TimeoutKind::Connect,
            after: self.inner.config.connect_timeout,
        }
    }

    fn connect_error(&self, e: ldap3::LdapError) -> LdapError {
        let server = self.inner.label.clone();
        match e {
            ldap3::LdapError::Timeout { .. } => self.connect_timeout("connect"),
            ldap3::LdapError::UrlParsing { source } => {
                LdapError::Config { server, message: format!("bad host name or port ({source})") }
            }
            ldap3::LdapError::LdapResult { result } => {
                let reason = format!("StartTLS was refused: {result}");
                LdapError::Connect { hint: connect_hint(&reason), server, reason }
            }
            ldap3::LdapError::EndOfStream | ldap3::LdapError::ResultRecv { .. } | ldap3::LdapError::OpSend { .. } => {
                let reason = format!("the server closed the connection ({e})");
                LdapError::Connect { hint: connect_hint(&reason), server, reason }
            }
            other => {
                let reason = other.to_string();
                LdapError::Connect { hint: connect_hint(&reason), server, reason }
            }
        }
    }

    /// Maps an ldap3 error of an operation to an [`LdapError`] naming this server, the operation and the DN.
    pub(crate) fn op_error(&self, e: ldap3::LdapError, operation: &str, dn: &str) -> LdapError {
        let server = self.inner.label.clone();
        let (operation, dn) = (operation.to_string(), dn.to_string());
        match e {
            ldap3::LdapError::LdapResult { result } => {
                LdapError::Result { server, operation, dn, rc: result.rc, text: result.text, matched: result.matched }
            }
            ldap3::LdapError::Timeout { .. } => LdapError::Timeout {
                server,
                operation,
                dn,
                kind: TimeoutKind::Response,
                after: self.inner.config.response_timeout,
            },
            ldap3::LdapError::Io { .. }
            | ldap3::LdapError::OpSend { .. }
            | ldap3::LdapError::ResultRecv { .. }
            | ldap3::LdapError::IdScrubSend { .. }
            | ldap3::LdapError::MiscSend { .. }
            | ldap3::LdapError::EndOfStream => {
                LdapError::ConnectionLost { server, operation, dn, reason: e.to_string() }
            }
            ldap3::LdapError::FilterParsing => {
                LdapError::Request { operation, dn, message: "invalid search filter".into() }
            }
            other => LdapError::Request { operation, dn, message: other.to_string() },
        }
    }

    pub(crate) fn response_timeout_error(&self, operation: &str, dn: &str) -> LdapError {
        LdapError::Timeout {
            server: self.inner.label.clone(),
            operation: operation.to_string(),
            dn: dn.to_string(),
            kind: TimeoutKind::Response,
            after: self.inner.config.response_timeout,
        }
    }

    /// Takes a connection: an idle open one, else a new one while under `max_connections`, else the least busy.
    pub(crate) async fn acquire(&self) -> Result<Lease, LdapError> {
        let slots = &self.inner.slots;
        let mut least_busy: Option<(usize, usize)> = None;
        let mut empty: Option<usize> = None;
        for (i, slot) in slots.iter().enumerate() {
            let Ok(mut guard) = slot.conn.try_lock() else {
                continue; // being opened by another task
            };
            if guard.as_mut().is_none_or(|c| c.ldap.is_closed()) {
                *guard = None; // never opened, or closed: drop it
                if empty.is_none() {
                    empty = Some(i);
                }
                continue;
            }
            let busy = slot.in_flight.load(Ordering::Acquire);
            if busy == 0 {
                if let Some(c) = guard.as_mut() {
                    return Ok(self.lease(i, c, false));
                }
            }
            if least_busy.is_none_or(|(_, b)| busy < b) {
                least_busy = Some((i, busy));
            }
        }
        let i = match (empty, least_busy) {
            (Some(i), _) | (None, Some((i, _))) => i,
            (None, None) => self.inner.round_robin.fetch_add(1, Ordering::Relaxed) % slots.len(),
        };
        let mut guard = slots[i].conn.lock().await;
        if let Some(c) = guard.as_mut() {
            if !c.ldap.is_closed() {
                return Ok(self.lease(i, c, false));
            }
        }
        *guard = None;
        let ldap = self.open().await?;
        let conn = guard.insert(Conn { ldap, id: self.inner.next_id.fetch_add(1, Ordering::Relaxed) });
        Ok(self.lease(i, conn, true))
    }

    fn lease(&self, slot: usize, conn: &mut Conn, fresh: bool) -> Lease {
        let in_flight = self.inner.slots[slot].in_flight.clone();
        in_flight.fetch_add(1, Ordering::AcqRel);
        Lease { ldap: conn.ldap.clone(), slot, id: conn.id, fresh, in_flight }
    }

    /// Drops the leased connection from the pool, unless it was already replaced.
    pub(crate) async fn invalidate(&self, lease: &Lease) {
        let mut guard = self.inner.slots[lease.slot].conn.lock().await;
        if guard.as_ref().is_some_and(|c| c.id == lease.id) {
            *guard = None;
        }
    }

    /// Runs `f` on a pooled connection within the response timeout. A connection error on a reused connection
    /// (the server may have closed it while idle) is retried once on a new connection. After a connection error
    /// or a timeout the connection is no longer used for new operations.
    pub(crate) async fn run<T, F, Fut>(&self, operation: &str, dn: &str, f: &mut F) -> Result<T, LdapError>
    where
        F: FnMut(Ldap) -> Fut,
        Fut: Future<Output = Result<T, ldap3::LdapError>>,
    {
        let timeout = self.inner.config.response_timeout;
        let mut first_try = true;
        loop {
            let lease = self.acquire().await?;
            let mut ldap = lease.ldap.clone();
            ldap.timeout = Some(timeout);
            let err = match tokio::time::timeout(timeout, f(ldap)).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => self.op_error(e, operation, dn),
                Err(_) => self.response_timeout_error(operation, dn),
            };
            let dead = err.kills_connection();
            if dead || matches!(err, LdapError::Timeout { .. }) {
                // After a timeout the connection may be half-open: stop handing it out. Operations still in
                // flight on it keep it open until they end, so this hurts nobody.
                self.invalidate(&lease).await;
            }
            if dead && first_try && !lease.fresh {
                first_try = false;
                continue;
            }
            return Err(err);
        }
    }
}

fn build_tls(config: &ServerConfig) -> Result<Option<TlsConnector>, String> {
    if config.security == Security::None {
        return Ok(None);
    }
    let mut builder = TlsConnector::builder();
    match &config.trust {
        Trust::System => {}
        Trust::TrustAll => {
            builder.danger_accept_invalid_certs(true);
            builder.danger_accept_invalid_hostnames(true);
        }
        Trust::CaFile(_) | Trust::Certificates(_) => {
            let read;
            let der = match &config.trust {
                Trust::CaFile(path) => {
                    read = ferrosync::truststore::certificates(path, None, None)?;
                    &read
                }
                Trust::Certificates(der) => der,
                _ => return Err("internal error: not a trust store".into()),
            };
            for c in der {
                let cert = Certificate::from_der(c).map_err(|e| format!("a trusted certificate is not valid: {e}"))?;
                builder.add_root_certificate(cert);
            }
        }
    }
    if !config.verify_hostname {
        builder.danger_accept_invalid_hostnames(true);
    }
    if let Some(c) = &config.client_certificate {
        let identity = Identity::from_pkcs8(&c.certificates_pem, c.key_pem.expose().as_bytes())
            .map_err(|e| format!("the client certificate of the {} cannot be used: {e}", c.source))?;
        builder.identity(identity);
    }
    builder.build().map(Some).map_err(|e| format!("cannot set up TLS: {e}"))
}
