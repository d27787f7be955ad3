//! [`LdapError`]: what went wrong, on which server, for which operation and DN. Never holds a password.

use std::fmt;
use std::time::Duration;

/// LDAP result codes this crate and its callers care about (RFC 4511 and the client-side codes of RFC 3377 APIs).
pub mod rc {
    pub const SUCCESS: u32 = 0;
    pub const OPERATIONS_ERROR: u32 = 1;
    pub const PROTOCOL_ERROR: u32 = 2;
    pub const TIME_LIMIT_EXCEEDED: u32 = 3;
    pub const SIZE_LIMIT_EXCEEDED: u32 = 4;
    pub const REFERRAL: u32 = 10;
    pub const ADMIN_LIMIT_EXCEEDED: u32 = 11;
    pub const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    pub const UNDEFINED_ATTRIBUTE_TYPE: u32 = 17;
    pub const CONSTRAINT_VIOLATION: u32 = 19;
    pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
    pub const INVALID_ATTRIBUTE_SYNTAX: u32 = 21;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const INVALID_DN_SYNTAX: u32 = 34;
    pub const AUTH_METHOD_NOT_SUPPORTED: u32 = 7;
    pub const INAPPROPRIATE_AUTHENTICATION: u32 = 48;
    pub const INVALID_CREDENTIALS: u32 = 49;
    pub const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    pub const BUSY: u32 = 51;
    pub const UNAVAILABLE: u32 = 52;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    pub const OBJECT_CLASS_VIOLATION: u32 = 65;
    pub const NOT_ALLOWED_ON_NON_LEAF: u32 = 66;
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
    pub const OTHER: u32 = 80;
    pub const SERVER_DOWN: u32 = 81;
    pub const CONNECT_ERROR: u32 = 91;
    /// OpenLDAP's e-syncRefreshRequired (RFC 4533).
    pub const SYNC_REFRESH_REQUIRED: u32 = 4096;
}

/// The name of an LDAP result code, e.g. `invalidCredentials` for 49.
pub fn result_code_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        5 => "compareFalse",
        6 => "compareTrue",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        14 => "saslBindInProgress",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        81 => "serverDown",
        82 => "localError",
        83 => "encodingError",
        84 => "decodingError",
        85 => "timeout",
        86 => "authUnknown",
        87 => "filterError",
        88 => "userCanceled",
        89 => "paramError",
        90 => "noMemory",
        91 => "connectError",
        92 => "notSupported",
        93 => "controlNotFound",
        94 => "noResultsReturned",
        95 => "moreResultsToReturn",
        96 => "clientLoop",
        97 => "referralLimitExceeded",
        118 => "canceled",
        119 => "noSuchOperation",
        120 => "tooLate",
        121 => "cannotCancel",
        122 => "assertionFailed",
        123 => "authorizationDenied",
        4096 => "e-syncRefreshRequired",
        _ => "unknown",
    }
}

/// What the client does with a failed operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Move to the next server at once; not counted against `max_attempts` (BUSY, UNAVAILABLE, SERVER_DOWN,
    /// CONNECT_ERROR, connection and I/O errors).
    Failover,
    /// Retry after the backoff wait, up to `max_attempts` (operationsError, timeLimitExceeded, adminLimitExceeded,
    /// other, response timeouts, ...).
    Retry,
    /// Give up at once: the request itself is wrong or the data does not allow it (noSuchObject,
    /// invalidCredentials, entryAlreadyExists, unwillingToPerform, ...).
    Fatal,
}

/// How a result code is handled. Ping's documented failover codes are 51, 52, 81 and 91. Ping retries 1, 2, 3,
/// 11, 36, 53, 54, 80, 82-85, 88, 90, 96, 97 and 118; 53 (unwillingToPerform) is *not* retried here, since the
/// servers measured return it for requests that can never succeed (empty password, NT hash writes).
pub fn classify_rc(code: u32) -> ErrorClass {
    match code {
        51 | 52 | 81 | 91 => ErrorClass::Failover,
        1 | 2 | 3 | 11 | 36 | 54 | 80 | 82..=85 | 88 | 90 | 96 | 97 | 118 => ErrorClass::Retry,
        _ => ErrorClass::Fatal,
    }
}

/// Which timeout expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// TCP connect, TLS handshake or StartTLS, and the bind.
    Connect,
    /// Waiting for the response to an operation.
    Response,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect timeout",
            TimeoutKind::Response => "response timeout",
        })
    }
}

/// An error of the LDAP client layer. Every variant names the server (`name (host:port)`) when there is one.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// The server's configuration cannot work (unreadable CA file, bind DN without a password, ...).
    #[error("invalid configuration for LDAP server {server}: {message}")]
    Config { server: String, message: String },

    /// The connection could not be opened: refused, unknown host, TLS failure, StartTLS refused.
    #[error("cannot connect to LDAP server {server}: {reason}{}", hint_suffix(hint))]
    Connect { server: String, reason: String, hint: Option<String> },

    /// The server refused the bind.
    #[error("{}", bind_message(server, bind_dn, *rc, text))]
    Bind { server: String, bind_dn: String, rc: u32, text: String },

    /// The server refused a SASL EXTERNAL bind (the identity of the TLS client certificate `certificate`).
    #[error("LDAP server {server} refused the SASL EXTERNAL bind with the client certificate of the {certificate}: rc={rc} ({}){}: {}", result_code_name(*rc), text_suffix(text), external_hint(*rc))]
    ExternalBind { server: String, certificate: String, rc: u32, text: String },

    /// A timeout expired.
    #[error("{} on LDAP server {server} timed out: no answer within the {kind} of {}", target(operation, dn), fmt_duration(*after))]
    Timeout { server: String, operation: String, dn: String, kind: TimeoutKind, after: Duration },

    /// The server answered with a result code other than success.
    #[error("{} on LDAP server {server} failed: rc={rc} ({}){}{}", target(operation, dn), result_code_name(*rc), text_suffix(text), matched_suffix(matched))]
    Result { server: String, operation: String, dn: String, rc: u32, text: String, matched: String },

    /// The connection broke while the operation was in progress.
    #[error("{} on LDAP server {server} failed: the connection was lost ({reason})", target(operation, dn))]
    ConnectionLost { server: String, operation: String, dn: String, reason: String },

    /// The request was refused before anything was sent (bad filter, add without attributes, ...).
    #[error("{} is invalid: {message}", target(operation, dn))]
    Request { operation: String, dn: String, message: String },

    /// Every server of the failover list failed.
    #[error("{} failed on all {} LDAP servers: {}", target(operation, dn), failures.len(), join_failures(failures))]
    AllServersFailed { operation: String, dn: String, failures: Vec<LdapError> },
}

impl LdapError {
    /// The LDAP result code, when the server sent one (for [`LdapError::AllServersFailed`], the last server's).
    pub fn rc(&self) -> Option<u32> {
        match self {
            LdapError::Result { rc, .. } | LdapError::Bind { rc, .. } | LdapError::ExternalBind { rc, .. } => Some(*rc),
            LdapError::AllServersFailed { failures, .. } => failures.last().and_then(LdapError::rc),
            _ => None,
        }
    }

    /// Whether the server said noSuchObject (32).
    pub fn is_no_such_object(&self) -> bool {
        self.rc() == Some(rc::NO_SUCH_OBJECT)
    }

    /// Whether the server said entryAlreadyExists (68).
    pub fn is_already_exists(&self) -> bool {
        self.rc() == Some(rc::ENTRY_ALREADY_EXISTS)
    }

    /// The server's label, if the error is about one server.
    pub fn server(&self) -> Option<&str> {
        match self {
            LdapError::Config { server, .. }
            | LdapError::Connect { server, .. }
            | LdapError::Bind { server, .. }
            | LdapError::ExternalBind { server, .. }
            | LdapError::Timeout { server, .. }
            | LdapError::Result { server, .. }
            | LdapError::ConnectionLost { server, .. } => Some(server),
            LdapError::Request { .. } | LdapError::AllServersFailed { .. } => None,
        }
    }

    /// What the client does with this error: fail over, retry, or give up.
    pub fn class(&self) -> ErrorClass {
        match self {
            LdapError::Connect { .. } | LdapError::ConnectionLost { .. } => ErrorClass::Failover,
            LdapError::Timeout { kind: TimeoutKind::Connect, .. } => ErrorClass::Failover,
            LdapError::Timeout { kind: TimeoutKind::Response, .. } => ErrorClass::Retry,
            LdapError::Bind { rc, .. } | LdapError::ExternalBind { rc, .. } | LdapError::Result { rc, .. } => {
                classify_rc(*rc)
            }
            LdapError::AllServersFailed { .. } => ErrorClass::Failover,
            LdapError::Config { .. } | LdapError::Request { .. } => ErrorClass::Fatal,
        }
    }

    /// Whether the connection this error happened on is of no further use.
    pub(crate) fn kills_connection(&self) -> bool {
        match self {
            LdapError::ConnectionLost { .. } => true,
            LdapError::Result { rc, .. } => matches!(*rc, rc::SERVER_DOWN | rc::CONNECT_ERROR),
            _ => false,
        }
    }
}

fn target(operation: &str, dn: &str) -> String {
    if dn.is_empty() {
        operation.to_string()
    } else {
        format!("{operation} of \"{dn}\"")
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(". Hint: {h}"),
        None => String::new(),
    }
}

fn text_suffix(text: &str) -> String {
    let text = text.trim_end_matches(['\0', '\n', ' ']);
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

fn matched_suffix(matched: &str) -> String {
    if matched.is_empty() {
        String::new()
    } else {
        format!(" (matched DN: \"{matched}\")")
    }
}

fn bind_message(server: &str, bind_dn: &str, code: u32, text: &str) -> String {
    let detail = format!("rc={code} ({}){}", result_code_name(code), text_suffix(text));
    match code {
        rc::INVALID_CREDENTIALS => format!(
            "the bind DN or password for LDAP server {server} is wrong: the bind as \"{bind_dn}\" was refused with {detail}"
        ),
        rc::UNWILLING_TO_PERFORM => format!(
            "LDAP server {server} refused the bind as \"{bind_dn}\" with {detail} (is the password empty, or the account disabled?)"
        ),
        _ => format!("the bind as \"{bind_dn}\" to LDAP server {server} failed: {detail}"),
    }
}

fn external_hint(code: u32) -> &'static str {
    match code {
        rc::AUTH_METHOD_NOT_SUPPORTED | rc::INVALID_CREDENTIALS | rc::INAPPROPRIATE_AUTHENTICATION => {
            "the server saw no client certificate it accepts, or maps none to an entry: check that it requests \
             client certificates (OpenLDAP: TLSVerifyClient allow or demand), trusts the certificate's CA, and \
             maps its subject to an identity (authz-regexp)"
        }
        _ => "check the server's log for why it refused the client certificate's identity",
    }
}

fn join_failures(failures: &[LdapError]) -> String {
    failures.iter().enumerate().map(|(i, e)| format!("[{}] {e}", i + 1)).collect::<Vec<_>>().join("; ")
}

pub(crate) fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

/// Explains a connect failure (the text of an ldap3 / OpenSSL / I/O error) in terms of the configuration.
pub fn connect_hint(reason: &str) -> Option<String> {
    let r = reason.to_ascii_lowercase();
    let hint = if r.contains("ip address mismatch") || r.contains("hostname mismatch") {
        "the server's certificate does not name the host that was connected to: use the host name that is in \
         the certificate (connecting by IP address fails when the certificate has no IP address entry), or turn \
         off host name verification"
    } else if r.contains("certificate verify failed")
        || r.contains("unable to get local issuer")
        || r.contains("self-signed certificate")
        || r.contains("self signed certificate")
        || r.contains("certificate has expired")
        || r.contains("unknown ca")
    {
        "the server's certificate is not trusted: set a trust manager provider or a CA file with the CA that \
         signed the server's certificate (trusting every certificate is for tests only)"
    } else if r.contains("wrong version number") || r.contains("packet length too long") || r.contains("record layer") {
        "the port did not answer with TLS: check the connection security (LDAPS vs StartTLS vs none) and the port"
    } else if r.contains("connection refused") {
        "nothing is listening there: check the host name, the port and that the server is running"
    } else if r.contains("failed to lookup address") || r.contains("name or service not known") {
        "the host name cannot be resolved: check the server-host-name"
    } else if r.contains("starttls") {
        "the server does not offer StartTLS (is TLS configured on it?), or use LDAPS"
    } else if r.contains("closed") {
        "the server closed the connection: if it is an LDAPS port, set the connection security to SSL"
    } else {
        return None;
    };
    Some(hint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for code in [51, 52, 81, 91] {
            assert_eq!(classify_rc(code), ErrorClass::Failover, "{code}");
        }
        for code in [1, 2, 3, 11, 80, 85] {
            assert_eq!(classify_rc(code), ErrorClass::Retry, "{code}");
        }
        for code in [16, 19, 20, 21, 32, 34, 49, 50, 53, 65, 68] {
            assert_eq!(classify_rc(code), ErrorClass::Fatal, "{code}");
        }
    }

    #[test]
    fn messages() {
        let e = LdapError::Bind {
            server: "ds (127.0.0.1:389)".into(),
            bind_dn: "cn=admin".into(),
            rc: 49,
            text: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "the bind DN or password for LDAP server ds (127.0.0.1:389) is wrong: the bind as \"cn=admin\" was \
             refused with rc=49 (invalidCredentials)"
        );
        let e = LdapError::Result {
            server: "s".into(),
            operation: "modify".into(),
            dn: "uid=x".into(),
            rc: 32,
            text: "no such entry".into(),
            matched: "dc=example".into(),
        };
        assert_eq!(
            e.to_string(),
            "modify of \"uid=x\" on LDAP server s failed: rc=32 (noSuchObject): no such entry (matched DN: \"dc=example\")"
        );
        assert!(e.is_no_such_object());
        let e = LdapError::Timeout {
            server: "s".into(),
            operation: "search".into(),
            dn: String::new(),
            kind: TimeoutKind::Response,
            after: Duration::from_millis(500),
        };
        assert_eq!(e.to_string(), "search on LDAP server s timed out: no answer within the response timeout of 500 ms");
        assert_eq!(e.class(), ErrorClass::Retry);
    }

    #[test]
    fn hints() {
        let tls = "native TLS error: error:0A000086:SSL routines:tls_post_process_server_certificate:certificate \
                   verify failed:../ssl/statem/statem_clnt.c:1889: (unable to get local issuer certificate)";
        assert!(connect_hint(tls).is_some_and(|h| h.contains("CA file")));
        let ip = "native TLS error: error:0A000086:SSL routines::certificate verify failed: (IP address mismatch)";
        assert!(connect_hint(ip).is_some_and(|h| h.contains("host name that is in the certificate")));
        assert!(connect_hint("I/O error: Connection refused (os error 111)").is_some());
        assert!(connect_hint("something else").is_none());
    }
}
