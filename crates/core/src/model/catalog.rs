//! The catalog of PingDataSync's other object types: the ones a Ping sync server has (and Ping's batch files and
//! server profiles configure) that ferrosync has no use for. Each is declared with Ping's subcommand name,
//! naming argument, parent and `--type` names, so `create-`, `set-...-prop`, `get-...-prop`, `list-` and
//! `delete-` on them are parsed, stored and shown as for any object, with a note that ferrosync does not use
//! them. Their properties are not declared one by one: an unused object takes any property
//! ([`super::open_property`]), its secrets known by their names.
//!
//! Not here, on purpose: the connection handlers, the HTTP servlet extensions and the key manager providers,
//! which are ferrosync's own types ([`super::types`]): their HTTP kinds are used, the LDAP, JMX and LDIF
//! connection handlers and the PKCS#11 key manager are unused variants there, and so take Ping's undeclared
//! properties just as the types here do.

use super::Category::Directory;
use super::{ObjectType, PropertyDef as P, Syntax, Variant as V};

/// One of Ping's `--type` names of a catalog type.
const fn kind(name: &'static str) -> V {
    V::new(name, "A kind of this object in PingDataSync.", &[]).unused()
}

/// A catalog type: named objects (or a singleton when `naming_arg` is empty), none of them used by ferrosync.
#[allow(clippy::too_many_arguments)]
const fn other(
    name: &'static str,
    plural: &'static str,
    display: &'static str,
    naming_arg: &'static str,
    parent: Option<&'static str>,
    description: &'static str,
    variants: &'static [V],
    default_variant: Option<&'static str>,
) -> ObjectType {
    ObjectType {
        name,
        plural,
        display,
        naming_arg,
        parent,
        description,
        category: Directory,
        common: &[],
        variants,
        default_variant,
        singleton: naming_arg.is_empty(),
        unused: true,
        check: None,
    }
}

const THIRD_PARTY: V = kind("third-party");
const GROOVY: V = kind("groovy-scripted");

/// The obscured value object's one secret, declared because its name does not say it is one.
const OBSCURED_VALUE: &[P] = &[
    P::new("description", Syntax::String, "A description of this object."),
    P::new("obscured-value", Syntax::String, "The value (a secret).").sensitive(),
];

/// Ping's object types that ferrosync stores, shows and flags as not used.
#[rustfmt::skip]
pub static CATALOG: &[ObjectType] = &[
    // --- Singletons of every Ping server
    other(
        "access-control-handler", "access-control-handlers", "Access Control Handler", "", None,
        "The server's access control (global ACIs); ferrosync's store is local and has none.",
        &[kind("dsee-compat")], Some("dsee-compat"),
    ),
    other(
        "work-queue", "work-queues", "Work Queue", "", None,
        "The worker threads of Ping's LDAP front end.",
        &[kind("high-throughput")], Some("high-throughput"),
    ),
    other("crypto-manager", "crypto-managers", "Crypto Manager", "", None, "TLS protocols and ciphers of Ping's listeners.", &[], None),
    other("root-dn", "root-dns", "Root DN", "", None, "The default privileges of root users.", &[], None),
    other("plugin-root", "plugin-roots", "Plugin Root", "", None, "The order in which Ping's plugins run.", &[], None),
    other("alarm-manager", "alarm-managers", "Alarm Manager", "", None, "Ping's alarms and their alerts.", &[], None),
    other("ldap-sdk-debug-logger", "ldap-sdk-debug-loggers", "LDAP SDK Debug Logger", "", None, "Debug logging of the UnboundID LDAP SDK.", &[], None),
    other("license", "licenses", "License", "", None, "Ping's license key.", &[], None),
    // --- Logging
    other(
        "log-file-rotation-listener", "log-file-rotation-listeners", "Log File Rotation Listener", "listener-name", None,
        "Runs when a log file is rotated (copy, summarize, upload).",
        &[kind("copy"), kind("summarize"), kind("upload-to-s3"), THIRD_PARTY], None,
    ),
    other(
        "log-field-mapping", "log-field-mappings", "Log Field Mapping", "mapping-name", None,
        "Renames the fields of Ping's access and error logs.",
        &[kind("access"), kind("error")], None,
    ),
    other(
        "log-field-behavior", "log-field-behaviors", "Log Field Behavior", "behavior-name", None,
        "Which fields of Ping's logs are included, redacted or tokenized.",
        &[kind("text-access"), kind("json-formatted-access")], None,
    ),
    // --- Alerts and monitoring
    other(
        "alert-handler", "alert-handlers", "Alert Handler", "handler-name", None,
        "Where Ping's administrative alerts go.",
        &[
            kind("error-log"), kind("exec"), kind("jmx"), kind("output"), kind("smtp"), kind("snmp"),
            kind("snmp-sub-agent"), kind("twilio"), GROOVY, THIRD_PARTY,
        ],
        None,
    ),
    other(
        "monitor-provider", "monitor-providers", "Monitor Provider", "provider-name", None,
        "Entries of Ping's cn=monitor.",
        &[
            kind("active-operations"), kind("client-connection"), kind("custom"), kind("disk-space-usage"),
            kind("encryption-settings-database-accessibility"), kind("general"), kind("host-system"),
            kind("memory-usage"), kind("ssl-context"), kind("stack-trace"), kind("system-info"), kind("version"),
            GROOVY, THIRD_PARTY,
        ],
        None,
    ),
    other(
        "monitoring-endpoint", "monitoring-endpoints", "Monitoring Endpoint", "endpoint-name", None,
        "Where Ping sends its metrics (StatsD).",
        &[kind("statsd")], None,
    ),
    other("gauge", "gauges", "Gauge", "gauge-name", None, "A health indicator of Ping's server.", &[kind("indicator"), kind("numeric")], None),
    other(
        "gauge-data-source", "gauge-data-sources", "Gauge Data Source", "data-source-name", None,
        "Where a gauge reads its value.",
        &[kind("indicator"), kind("numeric")], None,
    ),
    // --- Plugins and tasks
    other(
        "plugin", "plugins", "Plugin", "plugin-name", None,
        "A plugin of Ping's server (stats logging, changelog password encryption, ...).",
        &[
            kind("stats-collector"), kind("periodic-stats-logger"), kind("changelog-password-encryption"),
            kind("ping-one-pass-through-authentication"), kind("pass-through-authentication"),
            kind("pluggable-pass-through-authentication"), kind("last-access-time"), kind("last-mod"),
            kind("password-policy-import"), kind("referential-integrity"), kind("seven-bit-clean"),
            kind("unique-attribute"), kind("purge-expired-data"), kind("composed-attribute"), kind("dn-mapper"),
            kind("attribute-mapper"), kind("monitor-history"), kind("internal-search-rate"),
            kind("coalesce-modifications"), kind("delay"), kind("simple-to-external-bind"),
            kind("snmp-subagent"), kind("sub-operation-timing"), kind("processing-time-histogram"),
            kind("profiler"), kind("referral-on-update"), kind("modifiable-password-policy-state"),
            kind("clean-up-expired-pingfederate-persistent-access-grants"),
            kind("clean-up-inactive-pingfederate-persistent-sessions"),
            kind("clean-up-expired-pingfederate-persistent-sessions"),
            kind("inverted-static-group-referential-integrity"),
            kind("traditional-static-group-support-for-inverted-static-groups"), GROOVY, THIRD_PARTY,
        ],
        None,
    ),
    other(
        "custom-logged-stats", "custom-logged-stats", "Custom Logged Stats", "stats-name", Some("plugin"),
        "Monitor attributes a periodic stats logger writes.",
        &[], None,
    ),
    other(
        "recurring-task", "recurring-tasks", "Recurring Task", "task-name", None,
        "A task Ping's server runs on a schedule (backup, LDIF export, file retention, ...).",
        &[
            kind("backup"), kind("collect-support-data"), kind("delay"), kind("exec"), kind("file-retention"),
            kind("generate-server-profile"), kind("ldif-export"), kind("enter-lockdown-mode"),
            kind("leave-lockdown-mode"), kind("statically-defined"), kind("audit-data-security"), THIRD_PARTY,
        ],
        None,
    ),
    other("recurring-task-chain", "recurring-task-chains", "Recurring Task Chain", "chain-name", None, "Recurring tasks run in order on a schedule.", &[], None),
    // --- Authentication and password handling of Ping's own listeners
    other("password-policy", "password-policies", "Password Policy", "policy-name", None, "How Ping's server handles passwords of its own users.", &[], None),
    other(
        "password-storage-scheme", "password-storage-schemes", "Password Storage Scheme", "scheme-name", None,
        "How Ping's server encodes passwords.",
        &[
            kind("aes"), kind("aes-256"), kind("argon2"), kind("argon2d"), kind("argon2i"), kind("argon2id"),
            kind("base64"), kind("bcrypt"), kind("blowfish"), kind("clear"), kind("crypt"), kind("md5"),
            kind("pbkdf2"), kind("rc4"), kind("salted-md5"), kind("salted-sha1"), kind("salted-sha256"),
            kind("salted-sha384"), kind("salted-sha512"), kind("scrypt"), kind("sha1"), kind("triple-des"),
            kind("amazon-secrets-manager"), kind("azure-key-vault"), kind("conjur"), kind("vault"), THIRD_PARTY,
        ],
        None,
    ),
    other(
        "password-validator", "password-validators", "Password Validator", "validator-name", None,
        "A rule a new password must follow.",
        &[
            kind("attribute-value"), kind("character-set"), kind("dictionary"), kind("disallowed-characters"),
            kind("haystack"), kind("length-based"), kind("pwned-passwords"), kind("regular-expression"),
            kind("repeated-characters"), kind("similarity-based"), kind("unique-characters"), kind("utf-8"),
            GROOVY, THIRD_PARTY,
        ],
        None,
    ),
    other(
        "password-generator", "password-generators", "Password Generator", "generator-name", None,
        "Generates passwords for Ping's users.",
        &[kind("random"), kind("passphrase"), GROOVY, THIRD_PARTY], None,
    ),
    other(
        "account-status-notification-handler", "account-status-notification-handlers",
        "Account Status Notification Handler", "handler-name", None,
        "Notifies about account events (locked, expiring).",
        &[kind("admin-alert"), kind("error-log"), kind("multi-part-email"), kind("smtp"), GROOVY, THIRD_PARTY], None,
    ),
    other(
        "identity-mapper", "identity-mappers", "Identity Mapper", "mapper-name", None,
        "Maps a user name to an entry of Ping's server.",
        &[kind("exact-match"), kind("regular-expression"), kind("aggregate"), GROOVY, THIRD_PARTY], None,
    ),
    other(
        "certificate-mapper", "certificate-mappers", "Certificate Mapper", "mapper-name", None,
        "Maps a client certificate to an entry.",
        &[
            kind("fingerprint"), kind("subject-attribute-to-user-attribute"), kind("subject-dn-to-user-attribute"),
            kind("subject-equals-dn"), GROOVY, THIRD_PARTY,
        ],
        None,
    ),
    other(
        "sasl-mechanism-handler", "sasl-mechanism-handlers", "SASL Mechanism Handler", "handler-name", None,
        "A SASL mechanism of Ping's LDAP listener.",
        &[
            kind("anonymous"), kind("cram-md5"), kind("digest-md5"), kind("external"), kind("gssapi"),
            kind("oauth-bearer"), kind("plain"), kind("unboundid-certificate-plus-password"),
            kind("unboundid-delivered-otp"), kind("unboundid-external-auth"), kind("unboundid-ms-chap-v2"),
            kind("unboundid-totp"), kind("unboundid-yubikey-otp"), THIRD_PARTY,
        ],
        None,
    ),
    other(
        "extended-operation-handler", "extended-operation-handlers", "Extended Operation Handler", "handler-name", None,
        "An LDAP extended operation of Ping's listener.",
        &[
            kind("batched-transactions"), kind("cancel"), kind("collect-support-data"), kind("deliver-otp"),
            kind("deliver-password-reset-token"), kind("export-reversible-passwords"), kind("generate-password"),
            kind("get-changelog-batch"), kind("get-connection-id"), kind("get-password-quality-requirements"),
            kind("get-supported-otp-delivery-mechanisms"), kind("get-symmetric-key"), kind("multi-update"),
            kind("notification-subscription"), kind("password-modify"), kind("password-policy-state"),
            kind("replace-certificate"), kind("single-use-tokens"), kind("start-tls"), kind("validate-totp-password"),
            kind("who-am-i"), THIRD_PARTY,
        ],
        None,
    ),
    other(
        "otp-delivery-mechanism", "otp-delivery-mechanisms", "OTP Delivery Mechanism", "mechanism-name", None,
        "How one-time passwords reach users.",
        &[kind("email"), kind("twilio"), THIRD_PARTY], None,
    ),
    other(
        "id-token-validator", "id-token-validators", "ID Token Validator", "validator-name", None,
        "Validates OpenID Connect ID tokens (console single sign-on).",
        &[kind("openid-connect"), kind("ping-one")], None,
    ),
    other(
        "access-token-validator", "access-token-validators", "Access Token Validator", "validator-name", None,
        "Validates OAuth access tokens.",
        &[kind("jwt"), kind("mock"), kind("ping-federate"), THIRD_PARTY], None,
    ),
    // --- Client connections and criteria
    other("client-connection-policy", "client-connection-policies", "Client Connection Policy", "policy-name", None, "What clients of Ping's listeners may do.", &[], None),
    other(
        "connection-criteria", "connection-criteria", "Connection Criteria", "criteria-name", None,
        "Selects client connections.",
        &[kind("simple"), kind("aggregate"), THIRD_PARTY], None,
    ),
    other(
        "request-criteria", "request-criteria", "Request Criteria", "criteria-name", None,
        "Selects operation requests.",
        &[kind("simple"), kind("aggregate"), kind("root-dse"), THIRD_PARTY], None,
    ),
    other(
        "result-criteria", "result-criteria", "Result Criteria", "criteria-name", None,
        "Selects operation results.",
        &[kind("simple"), kind("aggregate"), kind("successful-bind"), kind("replication-assurance"), THIRD_PARTY], None,
    ),
    other(
        "search-entry-criteria", "search-entry-criteria", "Search Entry Criteria", "criteria-name", None,
        "Selects search result entries.",
        &[kind("simple"), kind("aggregate"), THIRD_PARTY], None,
    ),
    other(
        "search-reference-criteria", "search-reference-criteria", "Search Reference Criteria", "criteria-name", None,
        "Selects search result references.",
        &[kind("simple"), kind("aggregate"), THIRD_PARTY], None,
    ),
    other("result-code-map", "result-code-maps", "Result Code Map", "map-name", None, "Result codes Ping's server returns for bind failures.", &[], None),
    // --- Topology and secrets
    other("server-group", "server-groups", "Server Group", "group-name", None, "Ping servers that configuration changes are applied to together.", &[], None),
    other(
        "server-instance", "server-instances", "Server Instance", "instance-name", None,
        "A server of Ping's topology.",
        &[kind("authorize"), kind("directory"), kind("proxy"), kind("sync")], None,
    ),
    other(
        "server-instance-listener", "server-instance-listeners", "Server Instance Listener", "listener-name", Some("server-instance"),
        "A listener of a server of Ping's topology.",
        &[kind("ldap"), kind("http")], None,
    ),
    other("topology-admin-user", "topology-admin-users", "Topology Admin User", "user-name", None, "An administrator of every server of Ping's topology.", &[], None),
    other(
        "cipher-stream-provider", "cipher-stream-providers", "Cipher Stream Provider", "provider-name", None,
        "Protects Ping's encryption settings database.",
        &[
            kind("amazon-key-management-service"), kind("amazon-secrets-manager"), kind("azure-key-vault"),
            kind("conjur"), kind("default"), kind("file-based"), kind("pkcs11"), kind("vault"),
            kind("wait-for-passphrase"), THIRD_PARTY,
        ],
        None,
    ),
    other("key-pair", "key-pairs", "Key Pair", "pair-name", None, "A key pair of Ping's server.", &[], None),
    ObjectType { common: OBSCURED_VALUE, ..other("obscured-value", "obscured-values", "Obscured Value", "value-name", None, "A secret value that other objects of Ping's refer to.", &[], None) },
    other(
        "azure-authentication-method", "azure-authentication-methods", "Azure Authentication Method", "method-name", None,
        "How Ping authenticates to Azure Key Vault.",
        &[kind("client-secret"), kind("default"), kind("username-password")], None,
    ),
    other(
        "conjur-authentication-method", "conjur-authentication-methods", "Conjur Authentication Method", "method-name", None,
        "How Ping authenticates to CyberArk Conjur.",
        &[kind("api-key")], None,
    ),
    other(
        "vault-authentication-method", "vault-authentication-methods", "Vault Authentication Method", "method-name", None,
        "How Ping authenticates to HashiCorp Vault.",
        &[kind("app-role"), kind("static-token"), kind("user-pass")], None,
    ),
];
