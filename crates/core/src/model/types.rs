//! The table of object types. Names follow PingDataSync's dsconfig wherever Ping's documentation or real batch
//! files give them.

use super::Category::*;
use super::Syntax::*;
use super::{ObjectType, PropertyDef as P, Syntax, Variant as V};

const fn int(min: i64) -> Syntax {
    Integer { min: Some(min), max: None }
}
const PORT: Syntax = Integer { min: Some(1), max: Some(65535) };
const ENABLED: P = P::new("enabled", Boolean, "Whether this object is enabled.").default(&["true"]);
const DESCRIPTION: P = P::new("description", String, "A description of this object.");

const SECURITY: Syntax = Enum(&["none", "ssl", "start-tls", "starttls"]);
const HOSTNAME_VERIFICATION: Syntax = Enum(&["strict", "allow-all"]);
/// `hostname-verification-method: allow-all` on an HTTPS object: accepted, but host names are still checked.
const HTTP_ALLOW_ALL_NOTE: &[(&str, &str)] = &[(
    "allow-all",
    "ferrosync always checks the host name of an HTTPS service against its certificate (this does not turn the \
     check off); to reach a service whose certificate names another host, trust its CA with a file-based \
     trust-manager-provider and use the name in its certificate",
)];
/// `allow-credentials-over-http: true`.
const CLEAR_TEXT_NOTE: &[(&str, &str)] =
    &[("true", "credentials will be sent in clear text to an http:// URL: anyone on the network path can read them")];

// ---------------------------------------------------------------------------------------------------------------
// External servers

const LDAP_SERVER: &[P] = &[
    P::new("server-host-name", String, "The host name or IP address of the directory server.").required(),
    P::new("server-port", PORT, "The LDAP port of the directory server.").default(&["389"]),
    P::new("location", String, "The location of this server; servers in the sync server's own location are preferred.").unused(),
    P::new("bind-dn", Dn, "The DN that ferrosync binds with (the sync user)."),
    P::new("password", String, "The password of the bind DN.").sensitive(),
    P::new("passphrase-provider", Reference("passphrase-provider"), "A passphrase provider that supplies the bind password."),
    P::new("authentication-method", Enum(&["none", "simple", "external", "inter-server"]), "How ferrosync authenticates: simple bind with bind-dn and password, none (anonymous), or external (SASL EXTERNAL: the client certificate of the key-manager-provider, over ssl or start-tls); inter-server is refused when the server is used.").default(&["simple"]).value_notes(&[
        ("inter-server", "ferrosync does not implement PingDirectory's inter-server authentication: a pipe using this server will not start; use simple with bind-dn and password, or external with a client certificate"),
    ]),
    P::new("authorization-method", String, "Accepted for compatibility with PingDataSync server profiles; not used.").unused().advanced(),
    P::new("connection-security", SECURITY, "Whether connections are plain (none), LDAPS (ssl) or upgraded with StartTLS (start-tls).").default(&["none"]),
    P::new("key-manager-provider", Reference("key-manager-provider"), "The file-based key manager provider whose certificate ferrosync presents as its TLS client certificate (for authentication-method: external, or a server that requires one)."),
    P::new("trust-manager-provider", Reference("trust-manager-provider"), "Which server certificates to trust: 'Blind Trust' trusts any, a file-based provider trusts the certificates of its trust store (PEM, PKCS#12 or JKS); unset trusts the system's CAs.").default(&["JVM-Default"]),
    P::new("hostname-verification-method", HOSTNAME_VERIFICATION, "Whether the server certificate must match the host name.").default(&["strict"]),
    P::new("initial-connections", int(0), "Connections opened when the pipe starts.").default(&["1"]),
    P::new("max-connections", int(1), "The most connections kept open to this server.").default(&["10"]),
    P::new("response-timeout", Duration, "How long an LDAP operation may take before it fails and is retried.").default(&["30 s"]),
    P::new("connect-timeout", Duration, "How long connecting (TCP and TLS) may take.").default(&["10 s"]).advanced(),
    P::new("health-check-connect-timeout", Duration, "Connect timeout for health checks.").advanced().unused(),
    P::new("max-connection-age", Duration, "How long a connection is kept before it is replaced.").advanced().unused(),
    P::new("min-expired-connection-disconnect-interval", Duration, "Minimum interval between closing expired connections.").advanced().unused(),
    P::new("verify-credentials-method", String, "How credentials are verified.").advanced().unused(),
    P::new("max-response-size", Size, "The largest response accepted.").advanced().unused(),
    P::new("defunct-connection-result-code", Integer { min: Some(0), max: None }, "Result codes that mark a connection as defunct.").multi().advanced().unused(),
    P::new("abandon-on-timeout", Boolean, "Whether a timed-out operation is abandoned.").advanced().unused(),
    P::new("use-administrative-operation-control", Boolean, "PingDirectory administrative operation control.").advanced().unused(),
];

const SCIM2_SERVER: &[P] = &[
    P::new("scim-service-url", Url, "The base URL of the SCIM 2.0 service, without an endpoint name.").required(),
    P::new("http-authorization-method", Reference("http-authorization-method"), "How requests are authorized.")
        .required(),
    P::new("trust-manager-provider", Reference("trust-manager-provider"), "Which server certificates to trust.")
        .default(&["JVM-Default"]),
    P::new(
        "key-manager-provider",
        Reference("key-manager-provider"),
        "The key manager provider for client certificates.",
    )
    .unused(),
    P::new("ssl-cert-nickname", String, "The client certificate alias.").unused(),
    P::new(
        "hostname-verification-method",
        HOSTNAME_VERIFICATION,
        "Whether the server certificate must match the host name (ferrosync always checks it over HTTPS).",
    )
    .default(&["strict"])
    .value_notes(HTTP_ALLOW_ALL_NOTE),
    P::new(
        "allow-credentials-over-http",
        Boolean,
        "Whether the token, basic credentials or client secret may be sent to an http:// URL, in clear text.",
    )
    .default(&["false"])
    .value_notes(CLEAR_TEXT_NOTE),
    P::new("http-proxy-external-server", Reference("external-server"), "An HTTP proxy to go through.").unused(),
    P::new("response-timeout", Duration, "How long an HTTP request may take.").default(&["10 s"]),
    P::new("client-reconnect-interval", Duration, "How often the HTTP client is rebuilt.").unused(),
    P::new("location", String, "The location of this server.").unused(),
];

const SCIM1_SERVER: &[P] = &[
    P::new("scim-service-url", Url, "The SCIM 1.1 service URL.").required(),
    P::new("user-name", String, "The user name."),
    P::new("password", String, "The password.").sensitive(),
    P::new("passphrase-provider", Reference("passphrase-provider"), "A passphrase provider for the password."),
    P::new("connection-security", SECURITY, "Connection security.").default(&["none"]),
    P::new("authentication-method", String, "The authentication method."),
    P::new("hostname-verification-method", HOSTNAME_VERIFICATION, "Host name verification.").default(&["strict"]),
    P::new("key-manager-provider", Reference("key-manager-provider"), "Key manager provider."),
    P::new("trust-manager-provider", Reference("trust-manager-provider"), "Trust manager provider."),
    P::new("location", String, "The location of this server."),
];

const JDBC_SERVER: &[P] = &[
    P::new(
        "jdbc-driver-type",
        String,
        "The database driver type: ferrosync connects to PostgreSQL only (postgres; a pipe using another type will \
         not start).",
    )
    .default(&["postgres"]),
    P::new("jdbc-driver-url", String, "A JDBC URL of the driver type 'other'.").unused(),
    P::new("database-name", String, "The database name.").required(),
    P::new("server-host-name", String, "The database host.").required(),
    P::new("server-port", PORT, "The database port.").default(&["5432"]),
    P::new("user-name", String, "The database user (role).").required(),
    P::new("password", String, "The database password.").sensitive(),
    P::new(
        "passphrase-provider",
        Reference("passphrase-provider"),
        "A passphrase provider that supplies the password.",
    ),
    P::new(
        "jdbc-connection-properties",
        String,
        "Connection properties as name=value: sslmode (disable, prefer, require, verify-ca, verify-full), \
         sslrootcert (a PEM CA file), connect_timeout (seconds); others are refused.",
    )
    .multi()
    .advanced(),
    P::new("validation-query", String, "A query that checks a connection.").advanced().unused(),
    P::new("validation-query-timeout", Duration, "How long the validation query may take.").advanced().unused(),
    P::new(
        "transaction-isolation-level",
        String,
        "The transaction isolation level (ferrosync uses the database's default, read committed).",
    )
    .advanced()
    .unused(),
    P::new("location", String, "The location of this server.").unused(),
];

const KAFKA_SERVER: &[P] = &[
    P::new("bootstrap-server", String, "Kafka bootstrap servers.").multi().required(),
    P::new("use-ssl", Boolean, "Whether to use TLS."),
    P::new("trust-manager-provider", Reference("trust-manager-provider"), "Trust manager provider."),
    P::new("key-manager-provider", Reference("key-manager-provider"), "Key manager provider."),
    P::new("producer-property", String, "A producer property.").multi(),
    P::new("consumer-property", String, "A consumer property.").multi(),
];

const HTTP_PROXY_SERVER: &[P] = &[
    P::new("server-host-name", String, "The proxy host.").required(),
    P::new("server-port", PORT, "The proxy port.").required(),
    P::new("basic-authentication-username", String, "Proxy user name."),
    P::new("basic-authentication-passphrase-provider", Reference("passphrase-provider"), "Proxy password provider."),
];

const EXTERNAL_SERVER_VARIANTS: &[V] = &[
    V::new("ping-identity-ds", "A PingDirectory server.", &[LDAP_SERVER]),
    V::new("ping-identity-proxy-server", "A PingDirectoryProxy server.", &[LDAP_SERVER]),
    V::new("active-directory", "A Microsoft Active Directory domain controller (or Samba AD DC).", &[LDAP_SERVER]),
    V::new(
        "generic-ldap",
        "Any LDAPv3 directory server: 389 Directory Server, OpenLDAP, OpenDJ, Sun DS.",
        &[LDAP_SERVER],
    )
    // `ldap`: current Ping versions' name for a generic LDAP external server.
    .aliases(&["ldap"]),
    V::new("sun-ds", "A Sun / Oracle Directory Server Enterprise Edition (handled as generic LDAP).", &[LDAP_SERVER]),
    V::new("oracle-unified-directory", "Oracle Unified Directory (handled as generic LDAP).", &[LDAP_SERVER]),
    V::new("scim2", "A SCIM 2.0 service provider.", &[SCIM2_SERVER]),
    V::new("scim", "A SCIM 1.1 service provider.", &[SCIM1_SERVER]).unused(),
    V::new("jdbc", "A relational database (PostgreSQL).", &[JDBC_SERVER]),
    V::new("kafka-cluster", "An Apache Kafka cluster.", &[KAFKA_SERVER]).unused(),
    V::new("http-proxy", "An HTTP proxy server.", &[HTTP_PROXY_SERVER]).unused(),
];

// ---------------------------------------------------------------------------------------------------------------
// Sync sources and destinations

const LDAP_ENDPOINT: &[P] = &[
    P::new("base-dn", Dn, "The base DNs to synchronize (they must not overlap).").multi().required(),
    P::new("server", Reference("external-server"), "The directory servers, in failover order.").multi().required(),
    P::new("response-timeout", Duration, "Overrides the external servers' response timeout.").advanced(),
    P::new(
        "max-failover-error-code-frequency",
        Duration,
        "How often a failover error code may occur before PingDataSync fails over (ferrosync fails over on every \
         connection error).",
    )
    .default(&["3 m"])
    .advanced()
    .unused(),
    P::new("plugin", Reference("sync-pipe-plugin"), "Plugins (not used by ferrosync).").multi().advanced().unused(),
];

const LDAP_SOURCE: &[P] = &[
    P::new("unique-id-attribute", AttributeName, "The attribute that identifies an entry across renames; used to fetch an entry whose DN changed.").default(&["entryUUID"]),
    P::new("use-changelog-batch-request", Boolean, "PingDirectory's get-changelog-batch extended operation (ferrosync reads cn=changelog by search).").default(&["false"]).unused(),
    P::new("proxy-server", Reference("external-server"), "A PingDirectoryProxy in front of the servers.").multi().unused(),
    P::new("max-backtrack-replication-latency", Duration, "How far back to look in a failover server's change log.").default(&["2 h"]).advanced().unused(),
    P::new("ignore-changes-by-dn", Dn, "Changes made by these DNs (the sync user of a reverse pipe) are skipped, to prevent loops in bidirectional setups.").multi(),
    P::new("changelog-max-entries-per-poll", int(1), "The most change log entries read in one poll.").default(&["1000"]).advanced(),
];

const AD_SOURCE: &[P] =
    &[P::new("ignore-changes-by-dn", Dn, "Changes made by these DNs are skipped (needs the modifier to be known).")
        .multi()];

const PINGONE_COMMON: &[P] = &[
    P::new("api-url", Url, "The PingOne API URL, such as https://api.pingone.com/v1."),
    P::new("auth-url", Url, "The PingOne token URL, such as https://auth.pingone.com/ENV/as/token."),
    P::new("environment-id", String, "The PingOne environment id."),
    P::new("oauth-client-id", String, "The client id of the worker application."),
    P::new("oauth-client-secret", String, "The client secret of the worker application.").sensitive(),
    P::new(
        "oauth-client-secret-passphrase-provider",
        Reference("passphrase-provider"),
        "A passphrase provider that supplies the client secret.",
    ),
    P::new(
        "trust-manager-provider",
        Reference("trust-manager-provider"),
        "Which server certificates to trust: unset trusts the system's CAs, a file-based provider adds the CA \
         certificates of its file, Blind Trust (enabled) trusts any.",
    ),
    P::new(
        "allow-credentials-over-http",
        Boolean,
        "Whether the client secret and tokens may be sent to an http:// api-url or auth-url, in clear text.",
    )
    .default(&["false"])
    .value_notes(CLEAR_TEXT_NOTE),
    P::new("http-proxy-external-server", Reference("external-server"), "An HTTP proxy to go through.").unused(),
    P::new("max-requests-per-second", int(1), "The most API requests sent per second.").default(&["50"]).advanced(),
];

const PINGONE_SOURCE: &[P] = &[
    P::new(
        "population-to-synchronize",
        String,
        "The populations (names or ids) whose users are synchronized; all when unset.",
    )
    .multi(),
    P::new("actor-id-to-ignore", String, "Changes made by these actors (client or user ids) are skipped.").multi(),
    P::new(
        "realtime-sync-polling-offset",
        Duration,
        "How far behind now the activity polling stays, so late events are not missed.",
    )
    .default(&["5 s"])
    .advanced(),
];

const PINGONE_DESTINATION: &[P] = &[
    P::new("default-population-id", String, "The population new users are created in."),
    P::new("default-population-name", String, "The population (by name) new users are created in."),
    P::new("ping-one-api-url", Url, "Old name of api-url."),
    P::new("ping-one-auth-url", Url, "Old name of auth-url."),
    P::new("ping-one-environment-id", String, "Old name of environment-id."),
    P::new("ping-one-oauth-client-id", String, "Old name of oauth-client-id."),
    P::new("ping-one-oauth-client-secret", String, "Old name of oauth-client-secret.").sensitive(),
    P::new("ping-one-default-population-id", String, "Old name of default-population-id."),
];

const PINGONE_SOURCE_REQUIRED: &[&[&str]] = &[&["api-url"], &["environment-id"]];

const PINGONE_REQUIRED: &[&[&str]] =
    &[&["api-url", "ping-one-api-url"], &["environment-id", "ping-one-environment-id"]];

const EXTENSION: &[P] = &[
    P::new("extension-class", String, "The Java class of the extension.").required(),
    P::new("extension-argument", String, "Arguments for the extension, as name=value.").multi(),
];

const GROOVY: &[P] = &[
    P::new("script-class", String, "The Groovy class.").required(),
    P::new("script-argument", String, "Arguments for the script, as name=value.").multi(),
];

const JDBC_DESTINATION: &[P] = &[
    P::new("server", Reference("external-server"), "The jdbc external server (a PostgreSQL database).").required(),
    P::new(
        "table",
        String,
        "The table that holds the entries, as TABLE or SCHEMA.TABLE (schema public when not given): every entry \
         when there is no object-class-table-map, else those whose object classes it does not map to another table.",
    ),
    P::new(
        "object-class-table-map",
        String,
        "OBJECTCLASS:TABLE: the entries of an object class go to that table (inetOrgPerson:hr.people, \
         groupOfNames:hr.groups); an entry goes to the table of the first class it has, in the order given here. The \
         key-column, column-map, child-table-map and base-dn values of such a table start with TABLE: \
         (hr.groups:cn:group_name); values without it are for the table property's table.",
    )
    .multi(),
    P::new(
        "key-column",
        String,
        "COLUMN, or TABLE:COLUMN: the column(s) that identify a row (its primary key, say); each must be mapped by a \
         column-map. An entry's DN gives the key when its RDN attribute maps to the (single) key column; \
         correlation on dn uses the key.",
    )
    .multi(),
    P::new(
        "column-map",
        String,
        "ATTRIBUTE:COLUMN, or TABLE:ATTRIBUTE:COLUMN: the destination attribute written to the column (a \
         multi-valued attribute needs an array column). Attributes without a column-map are not written.",
    )
    .multi(),
    P::new(
        "child-table-map",
        String,
        "ATTRIBUTE:TABLE:PARENT-KEY-COLUMNS:VALUE-COLUMN (prefixed with PARENT-TABLE: for a table of \
         object-class-table-map): a multi-valued attribute written to a child table, one row per value \
         (telephoneNumber:hr.phones:employee_login:number); PARENT-KEY-COLUMNS (comma-separated, in key-column order) \
         hold the parent row's key. Its rows are written in the same transaction as the row.",
    )
    .multi(),
    P::new(
        "base-dn",
        String,
        "DN, or TABLE:DN: the DN below which the table's rows are entries, named by the attributes of the key \
         columns (uid=jdoe,ou=people,dc=example,dc=com). With a base-dn for every table the destination can list \
         its rows, which resync --deleteMissingEntries needs.",
    )
    .multi(),
    P::new(
        "extension-class",
        String,
        "A JDBC Sync Destination Server SDK extension (ferrosync maps tables declaratively).",
    )
    .unused(),
    P::new("extension-argument", String, "Arguments of the extension.").multi().unused(),
];

const JDBC_SOURCE: &[P] = &[
    P::new("server", Reference("external-server"), "The jdbc external server (a PostgreSQL database).").required(),
    P::new(
        "table",
        String,
        "The table whose rows are the entries, as TABLE or SCHEMA.TABLE (schema public when not given).",
    )
    .required(),
    P::new(
        "key-column",
        String,
        "The column(s) that identify a row (its primary key, say); each must be mapped by a column-map. The \
         attributes mapped to them make the entry's RDN (uid=jdoe for key-column:login and column-map:uid:login).",
    )
    .multi()
    .required(),
    P::new(
        "column-map",
        String,
        "ATTRIBUTE:COLUMN: the source attribute read from the column (an array column gives a multi-valued \
         attribute). Columns without a column-map are not read.",
    )
    .multi()
    .required(),
    P::new(
        "child-table-map",
        String,
        "ATTRIBUTE:TABLE:PARENT-KEY-COLUMNS:VALUE-COLUMN: a multi-valued attribute read from a child table, one row \
         per value (telephoneNumber:hr.phones:employee_login:number); PARENT-KEY-COLUMNS (comma-separated, in \
         key-column order) hold the parent row's key.",
    )
    .multi(),
    P::new("base-dn", Dn, "The DN below which the rows appear as entries: each entry's DN is its RDN and this DN.")
        .required(),
    P::new("object-class", String, "The objectClass values of every entry read from the table.")
        .multi()
        .default(&["top"]),
    P::new(
        "change-log-table",
        String,
        "The change log table that triggers on the table (and its child tables) fill, as TABLE or SCHEMA.TABLE \
         (schema public when not given); prepare-endpoint-server --isSource creates it and the triggers.",
    )
    .default(&["ubid_changelog"]),
    P::new(
        "change-log-maximum-age",
        Duration,
        "How long a row stays in the change log table: rows older than this that the pipe has already read are \
         deleted while it runs (every 10 minutes; the sync user needs DELETE on the table, which \
         prepare-endpoint-server grants). 0 s keeps every row.",
    )
    .default(&["2 d"]),
    P::new(
        "ignore-changes-by-user",
        String,
        "Database roles whose changes are skipped (the user-name of the jdbc external server that a reverse pipe \
         writes with), to prevent loops in bidirectional setups: the change log records each change's session role.",
    )
    .multi(),
    P::new("extension-class", String, "A JDBC Sync Source Server SDK extension (ferrosync maps tables declaratively).")
        .unused(),
    P::new("extension-argument", String, "Arguments of the extension.").multi().unused(),
];

const KAFKA_SOURCE: &[P] = &[
    P::new("topic", String, "The Kafka topic."),
    P::new("cluster", Reference("external-server"), "The Kafka cluster."),
    P::new("consumer-group-id", String, "The consumer group id."),
    P::new("max-poll-records", int(1), "Records per poll."),
    P::new("dlq-enabled", Boolean, "Whether failed records go to a dead-letter queue."),
    P::new("dlq-topic", String, "The dead-letter topic."),
];

const KAFKA_DESTINATION: &[P] = &[
    P::new("kafka-cluster", Reference("external-server"), "The Kafka cluster."),
    P::new("topic", String, "The Kafka topic."),
];

const LDAP_DESTINATION: &[P] = &[
    P::new(
        "require-secure-connection-for-clear-text-passwords",
        Boolean,
        "Clear-text passwords are only sent over LDAPS or StartTLS.",
    )
    .default(&["true"]),
    P::new("password-synchronization-format", Enum(&["clear-text", "encoded"]), "How passwords are written.")
        .advanced()
        .unused(),
];

const SCIM2_DESTINATION: &[P] = &[
    P::new("server", Reference("external-server"), "The SCIM 2.0 external server.").required(),
    P::new("endpoint-mapping", Reference("scim2-endpoint-mapping"), "The endpoint mappings (Users, Groups, ...).")
        .multi()
        .required(),
    P::new("query-method", Enum(&["get", "post"]), "How searches are sent: GET with a filter, or POST to .search.")
        .default(&["get"]),
    P::new("update-method", Enum(&["patch", "put"]), "How resources are updated.").default(&["patch"]),
    P::new("max-operation-attempts", int(1), "Overrides the pipe's attempts for HTTP requests.").advanced(),
];

const CONTENT_SYNC_SOURCE: &[P] = &[P::new(
    "persist-reconnect-interval",
    Duration,
    "How long to wait before reconnecting a lost refreshAndPersist search.",
)
.default(&["1 s"])
.advanced()];

const SYNC_SOURCE_VARIANTS: &[V] = &[
    V::new("ping-identity", "A PingDirectory server, read through its cn=changelog.", &[LDAP_ENDPOINT, LDAP_SOURCE]),
    // `ldap`: current Ping versions' name for a generic LDAP endpoint (the reference marks it partly inferred).
    V::new("generic-ldap", "An LDAP server with a cn=changelog (draft-good-ldap-changelog), such as 389 Directory Server's retro changelog.", &[LDAP_ENDPOINT, LDAP_SOURCE]).aliases(&["ldap"]),
    V::new("sun-ds", "A Sun DS server with a cn=changelog.", &[LDAP_ENDPOINT, LDAP_SOURCE]),
    V::new("oracle-unified-directory", "Oracle Unified Directory with a cn=changelog.", &[LDAP_ENDPOINT, LDAP_SOURCE]),
    V::new("openldap", "OpenLDAP, read through its accesslog (cn=accesslog).", &[LDAP_ENDPOINT, LDAP_SOURCE]),
    V::new("content-sync", "Any server with RFC 4533 content synchronization (389 DS, OpenLDAP): changes are pushed, not polled.", &[LDAP_ENDPOINT, LDAP_SOURCE, CONTENT_SYNC_SOURCE]),
    V::new("active-directory", "Active Directory, read with the DirSync control.", &[LDAP_ENDPOINT, AD_SOURCE]),
    // `ping-one`: the PingOne Sync Source of current Ping versions (`ping-one-customer` in its older docs).
    V::new("ping-one-customer", "PingOne, read through its REST API and audit activities.", &[PINGONE_COMMON, PINGONE_SOURCE]).one_of(PINGONE_SOURCE_REQUIRED).aliases(&["ping-one"]),
    V::new("third-party", "A Java extension.", &[EXTENSION]).unused(),
    V::new("groovy-scripted", "A Groovy script.", &[GROOVY]).unused(),
    V::new("jdbc", "A table of a relational database (PostgreSQL): one entry per row, changes from a change log table.", &[JDBC_SOURCE]),
    V::new("kafka", "A Kafka topic.", &[KAFKA_SOURCE]).unused(),
];

const SYNC_DESTINATION_VARIANTS: &[V] = &[
    // `ping-directory`: the name Ping's 11.x docs also show.
    V::new("ping-identity", "A PingDirectory server.", &[LDAP_ENDPOINT, LDAP_DESTINATION]).aliases(&["ping-directory"]),
    V::new("generic-ldap", "Any LDAPv3 directory server.", &[LDAP_ENDPOINT, LDAP_DESTINATION]).aliases(&["ldap"]),
    V::new("sun-ds", "A Sun DS server.", &[LDAP_ENDPOINT, LDAP_DESTINATION]),
    V::new("oracle-unified-directory", "Oracle Unified Directory.", &[LDAP_ENDPOINT, LDAP_DESTINATION]),
    V::new("active-directory", "Active Directory, with passwords as unicodePwd.", &[LDAP_ENDPOINT, LDAP_DESTINATION]),
    V::new("scim2", "A SCIM 2.0 service provider.", &[SCIM2_DESTINATION]),
    V::new("ping-one-customer", "PingOne users in a population.", &[PINGONE_COMMON, PINGONE_DESTINATION])
        .one_of(PINGONE_REQUIRED)
        .aliases(&["ping-one"]),
    V::new(
        "scim",
        "A SCIM 1.1 service provider.",
        &[&[
            P::new("server", Reference("external-server"), "The SCIM server.").required(),
            P::new("resource-mapping-file", Path, "The SCIM resource mapping file."),
            P::new("rename-policy", String, "The rename policy."),
        ]],
    )
    .unused(),
    V::new("third-party", "A Java extension.", &[EXTENSION]).unused(),
    V::new("groovy-scripted", "A Groovy script.", &[GROOVY]).unused(),
    V::new("jdbc", "A table of a relational database (PostgreSQL): one row per entry.", &[JDBC_DESTINATION]),
    V::new("kafka", "A Kafka topic.", &[KAFKA_DESTINATION]).unused(),
    V::new("custom", "A notification-mode destination: a Java extension.", &[EXTENSION]).unused(),
];

// ---------------------------------------------------------------------------------------------------------------
// Pipes, classes and maps

const SYNC_PIPE: &[P] = &[
    DESCRIPTION,
    P::new("started", Boolean, "Whether the pipe synchronizes changes in real time while the sync server runs.")
        .default(&["false"]),
    P::new(
        "synchronization-mode",
        Enum(&["standard", "notification"]),
        "Standard mode fetches the source entry and applies the smallest change; notification mode is not supported.",
    )
    .default(&["standard"]),
    P::new("sync-source", Reference("sync-source"), "Where changes are read.").required(),
    P::new("sync-destination", Reference("sync-destination"), "Where changes are written.").required(),
    P::new("change-detection-polling-interval", Duration, "How often the source's change log is polled.")
        .default(&["500 ms"]),
    P::new(
        "num-worker-threads",
        Integer { min: Some(1), max: Some(1024) },
        "How many changes (and resync entries) are applied in parallel; changes to one entry always apply in order. \
         These are lightweight tasks, not threads: most of a change's time is spent waiting for the endpoints, so \
         more of them keep a fast destination busy (1 applies every change strictly in order).",
    )
    .default(&["32"]),
    P::new("max-rate-per-second", int(1), "The most changes applied per second; unlimited when unset."),
    P::new("max-failed-op-background-retries", int(0), "How many times a failed change is retried in the background.")
        .default(&["0"]),
    P::new("failed-op-background-retry-delay", Duration, "The wait before a background retry.").default(&["1 m"]),
    P::new(
        "mass-delete-threshold",
        int(0),
        "A guard against mass deletes: when more deletes than this reach the pipe within mass-delete-interval in \
         real time, or a resync would delete more than this, deletes are held (the start point stays before the \
         first held one, so nothing is lost) and an alert is raised until an operator releases them with \
         'realtime-sync release-deletes' (a resync needs --allowMassDelete). 0 turns the guard off.",
    )
    .default(&["500"]),
    P::new(
        "mass-delete-interval",
        Duration,
        "The interval over which real-time deletes are counted for mass-delete-threshold.",
    )
    .default(&["1 m"]),
    P::new("plugin", Reference("sync-pipe-plugin"), "Sync pipe plugins (not used by ferrosync).").multi().unused(),
    P::new("shared-mutex-name", String, "Pipes sharing a mutex name do not run concurrently.").unused(),
    P::new("filter-changes-by-user", Dn, "Notification mode: only changes visible to this user.").unused(),
    P::new("include-changes-for-unchanged-attributes", Boolean, "Notification mode only.")
        .default(&["false"])
        .advanced()
        .unused(),
    P::new("changes-queue-size", int(1), "The most changes held in memory between detection and application.")
        .default(&["5000"])
        .advanced(),
    P::new(
        "max-operation-attempts",
        int(1),
        "How many times an operation is tried before the change is logged as failed.",
    )
    .default(&["5"])
    .advanced(),
    P::new("retry-backoff-initial-wait", Duration, "The wait before the first retry.").default(&["100 ms"]).advanced(),
    P::new("retry-backoff-max-wait", Duration, "The longest wait between retries.").default(&["5 s"]).advanced(),
    P::new("retry-backoff-increase-by", Duration, "Added to the wait after each retry.").default(&["0 ms"]).advanced(),
    P::new("retry-backoff-percentage-increase", int(0), "Percentage by which the wait grows after each retry.")
        .default(&["100"])
        .advanced(),
];

const SYNC_CLASS: &[P] = &[
    DESCRIPTION,
    P::new(
        "evaluation-order-index",
        int(0),
        "Classes are tried in ascending order; the first that matches a change handles it.",
    )
    .default(&["9999"]),
    P::new("include-base-dn", Dn, "Only entries at or below these DNs belong to this class.").multi(),
    P::new("include-filter", Filter, "Only entries matching one of these filters belong to this class.").multi(),
    P::new("synchronize-creates", Boolean, "Whether creates are synchronized.").default(&["true"]),
    P::new("synchronize-modifies", Boolean, "Whether modifies are synchronized.").default(&["true"]),
    P::new("synchronize-deletes", Boolean, "Whether deletes are synchronized.").default(&["true"]),
    P::new("attribute-map", Reference("attribute-map"), "Attribute maps applied to entries of this class.").multi(),
    P::new("dn-map", Reference("dn-map"), "DN maps applied to entries of this class, first match wins.").multi(),
    P::new(
        "auto-mapped-source-attribute",
        String,
        "Source attributes copied as they are: -all-, -none-, or a list of names.",
    )
    .multi()
    .default(&["-all-"]),
    P::new("excluded-auto-mapped-source-attributes", AttributeName, "Attributes left out of -all-.").multi(),
    P::new(
        "destination-correlation-attributes",
        AttributeList,
        "Comma lists of attributes (such as dn,uid) tried in order to find the destination entry.",
    )
    .multi(),
    P::new("destination-correlation-attributes-on-delete", AttributeList, "Correlation lists used for deletes.")
        .multi()
        .advanced(),
    P::new("modifies-as-creates", Boolean, "A modify of an entry missing at the destination creates it.")
        .default(&["false"]),
    P::new("creates-as-modifies", Boolean, "A create of an entry that already exists at the destination modifies it.")
        .default(&["false"]),
    P::new("ignore-zero-length-values", Boolean, "Zero-length source values are ignored.").default(&["false"]),
    P::new("destination-create-only-attribute", AttributeName, "Attributes written on create but never modified.")
        .multi()
        .advanced(),
    P::new("replace-all-attr-values", Boolean, "Modifies replace every value instead of adding and deleting values.")
        .default(&["false"])
        .advanced(),
    P::new("use-reversible-password", Boolean, "Use the reversible password from the change log.")
        .default(&["false"])
        .advanced()
        .unused(),
];

const JSON_ATTRIBUTE: &[P] = &[
    DESCRIPTION,
    P::new(
        "include-field",
        String,
        "Only these top-level fields of the attribute's JSON object values are compared and written (all when unset).",
    )
    .multi(),
    P::new(
        "exclude-field",
        String,
        "These top-level fields of the JSON object values are neither compared nor written.",
    )
    .multi(),
    P::new("id-field", String, "Fields that identify an object in a JSON array (ferrosync compares whole values).")
        .multi()
        .unused(),
];

const ATTRIBUTE_MAPPING: &[P] = &[
    DESCRIPTION,
    P::new("exclude-value", String, "Values never written to the destination.").multi(),
    P::new(
        "also-depends-on-src-attribute",
        AttributeName,
        "Source attributes whose changes also recompute this mapping.",
    )
    .multi(),
    P::new("sync-on-every-update", Boolean, "Recompute this attribute on every change of the entry.")
        .default(&["false"]),
];

const ATTRIBUTE_MAPPING_VARIANTS: &[V] = &[
    V::new(
        "direct",
        "Copies the values of a source attribute.",
        &[&[
            P::new("from-attribute", AttributeName, "The source attribute.").required(),
            P::new("base64-encode-value", Boolean, "Base64-encode the values.").default(&["false"]),
            P::new("base-64-decode-value", Boolean, "Base64-decode the values.").default(&["false"]),
        ]],
    ),
    V::new(
        "constructed",
        "Builds values from a value pattern.",
        &[&[
            P::new(
                "value-pattern",
                ValuePattern,
                "Patterns such as {givenName}.{sn}@example.com; used when no conditional pattern matches.",
            )
            .multi(),
            P::new(
                "conditional-value-pattern",
                ConditionalValuePattern,
                "'(filter) : pattern', tried in order; the first whose filter matches the source entry is used.",
            )
            .multi(),
        ]],
    )
    .one_of(&[&["value-pattern", "conditional-value-pattern"]]),
    V::new(
        "dn",
        "Maps DN-valued attributes (member, manager) through DN maps.",
        &[&[
            P::new("from-attribute", AttributeName, "The DN-valued source attribute, or 'dn'.").required(),
            P::new("dn-map", Reference("dn-map"), "DN maps applied to the values, first match wins.").multi(),
        ]],
    ),
    V::new("json", "Builds a JSON object from its fields (json-attribute-mapping-field).", &[]),
    V::new(
        "reference",
        "Follows a reference to another entry.",
        &[&[
            P::new("source-entry-value", String, "The source value."),
            P::new("source-referenced-entry-key", String, "The referenced entry key."),
            P::new("source-referenced-entry-value", String, "The referenced entry value."),
            P::new("destination-referenced-entry-key", String, "The destination key."),
            P::new("destination-referenced-entry-value", String, "The destination value."),
            P::new("maximum-reference-mappings-to-cache", int(0), "Cache size.").default(&["10000"]),
            P::new("reference-mapping-cache-duration", Duration, "Cache duration.").default(&["24 h"]),
        ]],
    )
    .unused(),
    V::new("third-party", "A Java extension.", &[EXTENSION]).unused(),
    V::new("groovy-scripted", "A Groovy script.", &[GROOVY]).unused(),
];

const JSON_FIELD: &[P] = &[
    DESCRIPTION,
    P::new("from-attribute", AttributeName, "The source attribute for this field."),
    P::new("value-pattern", ValuePattern, "A pattern for this field."),
    P::new(
        "json-type",
        Enum(&["string", "number", "boolean", "object", "array", "null"]),
        "The JSON type of the field.",
    )
    .default(&["string"]),
];

const DN_MAP: &[P] = &[
    DESCRIPTION,
    P::new(
        "from-dn-pattern",
        DnPattern,
        "The source DNs this map applies to: '*' matches one RDN, '**' any number of RDNs.",
    )
    .required(),
    P::new(
        "to-dn-pattern",
        DnPattern,
        "The destination DN: {1}, {2} are the wildcard matches; {attr} inserts a source attribute.",
    )
    .required(),
];

fn check_dn_map(obj: &crate::config::ConfigObject) -> Result<(), std::string::String> {
    match (obj.first("from-dn-pattern"), obj.first("to-dn-pattern")) {
        (Some(from), Some(to)) => crate::syntax::dnpattern::DnMap::new(from, to).map(|_| ()).map_err(|e| e.to_string()),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// SCIM 2.0

const SCIM2_MAPPING: &[P] = &[
    DESCRIPTION,
    P::new("scim-attribute-name", String, "The SCIM attribute (or extension schema URN).").required(),
    P::new(
        "attribute-usage",
        Enum(&[
            "fetch",
            "create-during-realtime-sync",
            "create-during-resync",
            "update-during-realtime-sync",
            "update-during-resync",
        ]),
        "When this mapping is used.",
    )
    .multi(),
    P::new(
        "failed-mapping-behavior",
        Enum(&["fail-operation", "ignore", "log-warning"]),
        "What happens when a value cannot be mapped (ferrosync leaves out a value it cannot convert, as ignore does).",
    )
    .default(&["fail-operation"])
    .unused(),
    P::new("always-patch-with-replace", Boolean, "Always PATCH this attribute with a replace operation.")
        .default(&["false"]),
];

const SCIM2_LDAP_ATTR: P =
    P::new("ldap-attribute-name", AttributeName, "The attribute of the mapped entry.").required();
const SCIM2_SINGLE: P =
    P::new("single-valued", Boolean, "Whether the SCIM attribute is single-valued.").default(&["false"]);

const SCIM2_MAPPING_VARIANTS: &[V] = &[
    V::new(
        "string",
        "A string attribute.",
        &[&[SCIM2_LDAP_ATTR, SCIM2_SINGLE, P::new("default-value", String, "The value used when the entry has none.")]],
    ),
    V::new(
        "boolean",
        "A boolean attribute (values true or false).",
        &[&[
            SCIM2_LDAP_ATTR,
            SCIM2_SINGLE,
            P::new("invert-value", Boolean, "Invert the value.").default(&["false"]),
            P::new("default-value", Boolean, "The value used when the entry has none."),
        ]],
    ),
    V::new("date-time", "A dateTime attribute, from a generalized time.", &[&[SCIM2_LDAP_ATTR, SCIM2_SINGLE]]),
    V::new("number", "A number attribute.", &[&[SCIM2_LDAP_ATTR, SCIM2_SINGLE]]),
    V::new(
        "composed-complex",
        "A complex attribute built from sub-attribute mappings.",
        &[&[
            P::new("sub-attribute-mapping", Reference("scim2-attribute-mapping"), "The sub-attribute mappings.")
                .multi()
                .required(),
            P::new("encapsulate-value-in-array", Boolean, "Send the complex value inside an array.")
                .default(&["false"]),
        ]],
    ),
    V::new(
        "json-formatted-complex",
        "A complex attribute whose values are JSON objects.",
        &[&[SCIM2_LDAP_ATTR, SCIM2_SINGLE]],
    ),
    V::new(
        "static-value",
        "A fixed value.",
        &[&[
            P::new("data-type", Enum(&["string", "boolean", "number", "json"]), "The type of the value.")
                .default(&["string"]),
            P::new("value", String, "The value.").required(),
            SCIM2_SINGLE,
        ]],
    ),
];

const SCIM2_ENDPOINT_MAPPING: &[P] = &[
    DESCRIPTION,
    P::new("endpoint-path", String, "The endpoint below the service URL, such as Users or Groups.").required(),
    P::new("schema-urn", String, "The schema URNs of the resources.").multi().required(),
    P::new("attribute-mapping", Reference("scim2-attribute-mapping"), "Mappings used to fetch, create and update.")
        .multi(),
    P::new(
        "search-attribute-mapping",
        Reference("scim2-attribute-mapping"),
        "Mappings whose values build the correlation filter, such as userName eq \"jdoe\".",
    )
    .multi(),
    P::new("sync-class-name", String, "The sync class whose entries go to this endpoint.").advanced(),
];

// ---------------------------------------------------------------------------------------------------------------
// Security

const HTTP_AUTH_VARIANTS: &[V] = &[
    V::new(
        "client-credentials-bearer-token",
        "An OAuth 2.0 bearer token from the client-credentials grant, fetched again on a 401.",
        &[&[
            ENABLED,
            P::new("oauth-server-token-endpoint-url", Url, "The token endpoint.").required(),
            P::new("oauth-client-id", String, "The client id.").required(),
            P::new("oauth-client-secret", String, "The client secret.").sensitive(),
            P::new(
                "oauth-client-secret-passphrase-provider",
                Reference("passphrase-provider"),
                "A passphrase provider that supplies the client secret.",
            ),
            P::new("oauth-scope", String, "Scopes to request.").multi(),
            P::new(
                "credentials-submission-method",
                Enum(&["basic-authorization", "request-body"]),
                "How the client credentials are sent.",
            )
            .default(&["basic-authorization"]),
            P::new("request-method", Enum(&["get", "post"]), "The HTTP method of the token request.")
                .default(&["post"]),
            P::new(
                "maximum-token-lifetime",
                Duration,
                "Tokens are fetched again after this long, even if they claim to last longer.",
            ),
            P::new(
                "hostname-verification-method",
                HOSTNAME_VERIFICATION,
                "Host name verification for the token endpoint (ferrosync always checks it over HTTPS).",
            )
            .default(&["strict"])
            .value_notes(HTTP_ALLOW_ALL_NOTE),
            P::new(
                "trust-manager-provider",
                Reference("trust-manager-provider"),
                "Which certificates to trust for the token endpoint.",
            ),
        ]],
    )
    .one_of(&[&["oauth-client-secret", "oauth-client-secret-passphrase-provider"]]),
    V::new(
        "static-bearer-token",
        "A fixed bearer token (ferrosync).",
        &[&[ENABLED, P::new("bearer-token", String, "The token.").sensitive().required()]],
    ),
    V::new(
        "basic",
        "HTTP basic authentication (ferrosync).",
        &[&[
            ENABLED,
            P::new("username", String, "The user name.").required(),
            P::new("password", String, "The password.").sensitive().required(),
        ]],
    ),
];

const PASSPHRASE_VARIANTS: &[V] = &[
    V::new(
        "file-based",
        "Reads the passphrase from a file (relative paths are below the server root).",
        &[&[
            ENABLED,
            P::new("password-file", Path, "The file.").required(),
            P::new(
                "max-cache-duration",
                Duration,
                "How long the value is cached (ferrosync reads the file each time it needs the value).",
            )
            .default(&["1 h"])
            .unused(),
        ]],
    ),
    V::new(
        "environment-variable",
        "Reads the passphrase from an environment variable.",
        &[&[ENABLED, P::new("environment-variable", String, "The variable name.").required()]],
    ),
    V::new(
        "obscured-value",
        "A passphrase stored in the configuration.",
        &[&[ENABLED, P::new("obscured-value", String, "The passphrase.").sensitive().required()]],
    ),
    V::new("third-party", "A Java extension.", &[&[ENABLED], EXTENSION]).unused(),
];

const TRUST_VARIANTS: &[V] = &[
    V::new(
        "blind-trust",
        "Trusts any certificate (for tests only).",
        &[&[ENABLED.default(&["false"]), P::new("include-jvm-default-issuers", Boolean, "Ignored.").unused()]],
    ),
    V::new(
        "file-based",
        "Trusts the certificates of a trust store file (PEM, PKCS#12 or JKS), and the system's CAs.",
        &[&[
            ENABLED,
            P::new("trust-store-file", Path, "The trust store: PEM, DER, PKCS#12 or JKS.").required(),
            P::new("trust-store-type", String, "JKS, PKCS12 or PEM; unset: recognized from the file's content."),
            P::new("trust-store-pin", String, "The trust store's PIN (PKCS#12: to decrypt it; JKS: to check it).")
                .sensitive(),
            P::new("trust-store-pin-file", Path, "A file with the PIN (its first line)."),
            P::new("trust-store-pin-passphrase-provider", Reference("passphrase-provider"), "A provider for the PIN."),
            P::new(
                "include-jvm-default-issuers",
                Boolean,
                "Also trust the system's CAs (ferrosync always trusts them too).",
            )
            .default(&["false"])
            .unused(),
        ]],
    ),
    V::new("jvm-default", "Trusts the system's CA certificates.", &[&[ENABLED]]),
    V::new("pkcs11", "A PKCS#11 token.", &[&[ENABLED]]).unused(),
    V::new("third-party", "A Java extension.", &[&[ENABLED], EXTENSION]).unused(),
];

const KEY_VARIANTS: &[V] = &[
    V::new(
        "file-based",
        "A certificate and its private key in a key store file (PEM, PKCS#12 or JKS): the HTTPS Connection \
         Handler's server certificate, or an LDAP external server's client certificate.",
        &[&[
            ENABLED,
            P::new(
                "key-store-file",
                Path,
                "The key store: PKCS#12 or JKS (the first private key entry and its chain), or a PEM file with the \
                 certificate first, the CA certificates of its chain after it, and the private key (relative paths \
                 are below the server root).",
            )
            .required(),
            P::new("key-store-type", String, "JKS, PKCS12 or PEM; unset: recognized from the file's content."),
            P::new(
                "key-store-pin",
                String,
                "The key store's PIN (PKCS#12 and JKS); for PEM, the passphrase of an encrypted private key.",
            )
            .sensitive(),
            P::new("key-store-pin-file", Path, "A file whose first line is the key store's PIN."),
            P::new(
                "key-store-pin-passphrase-provider",
                Reference("passphrase-provider"),
                "A passphrase provider that supplies the key store's PIN.",
            ),
            P::new(
                "private-key-pin",
                String,
                "The PIN of the private key inside a JKS key store, when it is not the store's PIN.",
            )
            .sensitive(),
        ]],
    ),
    V::new("null", "No certificate.", &[&[ENABLED]]),
    V::new("pkcs11", "A PKCS#11 token.", &[&[ENABLED]]).unused(),
    V::new("third-party", "A Java extension.", &[&[ENABLED], EXTENSION]).unused(),
];

// ---------------------------------------------------------------------------------------------------------------
// HTTP: connection handlers and servlet extensions

const HTTP_HANDLER: &[P] = &[
    ENABLED.default(&["false"]),
    P::new(
        "listen-address",
        String,
        "The address to listen on: the loopback address by default; 0.0.0.0 or :: for every interface.",
    )
    .default(&["127.0.0.1"]),
    P::new("listen-port", PORT, "The TCP port to listen on.").required(),
    P::new("use-ssl", Boolean, "Serve HTTPS, with the certificate and key of the key-manager-provider.")
        .default(&["false"]),
    P::new(
        "key-manager-provider",
        Reference("key-manager-provider"),
        "With use-ssl: the file-based key manager provider whose PEM file holds the server certificate and key.",
    ),
    P::new(
        "http-servlet-extension",
        Reference("http-servlet-extension"),
        "What this handler serves: Prometheus Monitoring, Available or Degraded State, Available State, Status Console.",
    )
    .multi(),
    P::new("trust-manager-provider", Reference("trust-manager-provider"), "Client certificates that are trusted.")
        .unused(),
    P::new("ssl-cert-nickname", String, "The certificate alias in a key store.").unused(),
    P::new("ssl-client-auth-policy", Enum(&["disabled", "optional", "required"]), "Client certificates.")
        .default(&["disabled"])
        .unused(),
    P::new("ssl-protocol", String, "TLS protocols (ferrosync uses OpenSSL's: TLS 1.2 and 1.3).").multi().unused(),
    P::new("ssl-cipher-suite", String, "TLS cipher suites (ferrosync uses OpenSSL's intermediate set).")
        .multi()
        .unused(),
    P::new("web-application-extension", String, "Java web applications.").multi().unused(),
    P::new("http-operation-log-publisher", String, "HTTP operation loggers.").multi().unused(),
    P::new("num-request-handlers", int(1), "Request handler threads.").advanced().unused(),
    P::new("keep-stats", Boolean, "Keep statistics for this handler.").advanced().unused(),
    P::new("accept-backlog", int(1), "The listen backlog.").advanced().unused(),
    P::new("allow-tcp-reuse-address", Boolean, "SO_REUSEADDR.").advanced().unused(),
    P::new("idle-time-limit", Duration, "How long an idle connection is kept.").advanced().unused(),
    P::new("use-forwarded-headers", Boolean, "Trust X-Forwarded-* headers.").advanced().unused(),
    P::new("response-header", String, "Headers added to every response.").multi().advanced().unused(),
    P::new("use-correlation-id-header", Boolean, "Correlation id headers.").advanced().unused(),
];

const CONNECTION_HANDLER_VARIANTS: &[V] = &[
    V::new("http", "Serves HTTP or HTTPS: metrics, health checks.", &[HTTP_HANDLER]),
    V::new("ldap", "An LDAP listener (a sync server takes no LDAP requests).", &[&[ENABLED]]).unused(),
    V::new("jmx", "A JMX listener.", &[&[ENABLED]]).unused(),
    V::new("ldif", "Applies LDIF files dropped in a folder.", &[&[ENABLED]]).unused(),
];

/// Refuses an HTTPS handler that is enabled without a certificate.
fn check_connection_handler(obj: &crate::config::ConfigObject) -> Result<(), std::string::String> {
    let on = |p: &str| obj.first(p).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if obj.variant.as_deref() == Some("http")
        && on("enabled")
        && on("use-ssl")
        && obj.first("key-manager-provider").is_none()
    {
        return Err("use-ssl:true needs a key-manager-provider with the server certificate and key".into());
    }
    Ok(())
}

const BASE_CONTEXT_PATH: P =
    P::new("base-context-path", String, "The path served, such as /metrics; it must start with '/'.");

const SERVLET_COMMON: &[P] = &[
    DESCRIPTION,
    P::new("cross-origin-policy", String, "The cross-origin policy.").unused(),
    P::new("response-header", String, "Headers added to every response.").multi().unused(),
    P::new("correlation-id-response-header", String, "The correlation id response header.").unused(),
];

const STATUS_CODE: Syntax = Integer { min: Some(100), max: Some(599) };

const SERVLET_VARIANTS: &[V] = &[
    V::new(
        "prometheus-monitoring",
        "The sync server's metrics in the OpenMetrics text format, for Prometheus.",
        &[&[
            BASE_CONTEXT_PATH.default(&["/metrics"]),
            P::new("include-instance-name-label", Boolean, "An instance label on every metric.").unused(),
            P::new("include-product-name-label", Boolean, "A product label on every metric.").unused(),
            P::new("include-location-label", Boolean, "A location label on every metric.").unused(),
            P::new("always-include-monitor-entry-name-label", Boolean, "Monitor entry labels.").unused(),
            P::new("include-monitor-object-class-label", Boolean, "Monitor class labels.").unused(),
            P::new("include-monitor-attribute-name-label", Boolean, "Monitor attribute labels.").unused(),
        ]],
    ),
    V::new(
        "availability-state",
        "The server's health for a load balancer or an orchestrator: the HTTP status says whether it is \
         available, degraded or unavailable, a small JSON body says why.",
        &[&[
            BASE_CONTEXT_PATH.required(),
            P::new("available-status-code", STATUS_CODE, "The status when every started pipe runs normally.")
                .default(&["200"]),
            P::new(
                "degraded-status-code",
                STATUS_CODE,
                "The status when a pipe runs but waits for an endpoint that is down or failing.",
            )
            .default(&["200"]),
            P::new("unavailable-status-code", STATUS_CODE, "The status when a started pipe does not run.")
                .default(&["503"]),
            P::new("override-status-code", STATUS_CODE, "A status returned whatever the state (for maintenance)."),
            P::new("include-response-body", Boolean, "Whether the JSON body is sent.").default(&["true"]),
            P::new("additional-response-contents", String, "A JSON object whose fields are added to the body."),
        ]],
    ),
    V::new(
        "status-console",
        "ferrosync's read-only status page: each pipe's state, its lag over the last hour, its counters, its last \
         failures with their repair hints and its start point; it refreshes itself.",
        &[&[
            BASE_CONTEXT_PATH.default(&["/status"]),
            P::new("refresh-interval", Duration, "How often the page reloads itself.").default(&["5 s"]),
        ]],
    ),
    V::new("third-party", "A Java extension.", &[EXTENSION]).unused(),
    V::new("groovy-scripted", "A Groovy script.", &[GROOVY]).unused(),
    V::new("file-server", "Serves files.", &[&[BASE_CONTEXT_PATH]]).unused(),
    V::new("velocity", "Velocity templates.", &[&[BASE_CONTEXT_PATH]]).unused(),
    V::new("config", "The configuration REST API.", &[&[BASE_CONTEXT_PATH]]).unused(),
];

// ---------------------------------------------------------------------------------------------------------------
// Logging

/// The sync log's message types (Ping's `logged-message-type`).
pub const SYNC_LOG_MESSAGE_TYPES: &[&str] = &[
    "change-applied",
    "change-applied-detailed",
    "change-detected",
    "change-detected-detailed",
    "change-failed",
    "change-failed-detailed",
    "dropped-op-type-not-synchronized",
    "dropped-out-of-scope",
    "entry-mapping-details",
    "intermediate-message",
    "no-change-needed",
];

const LOG_FILE: &[P] = &[
    ENABLED,
    P::new("log-file", Path, "The log file, relative to the server root."),
    P::new("log-file-permissions", String, "The file's permissions (ferrosync's logs are always 600).")
        .default(&["600"])
        .unused(),
    P::new("append", Boolean, "Append to an existing file (ferrosync always appends).").default(&["true"]).unused(),
    P::new("asynchronous", Boolean, "Write asynchronously.").advanced().unused(),
    P::new("auto-flush", Boolean, "Flush after every record.").default(&["true"]).advanced().unused(),
    P::new(
        "rotation-policy",
        Reference("log-rotation-policy"),
        "When the file is rotated (any of the policies); never when unset. Rotated files are named FILE.YYYYMMDDhhmmssZ.",
    )
    .multi(),
    P::new(
        "retention-policy",
        Reference("log-retention-policy"),
        "Which rotated files are kept: a rotated file is deleted, oldest first, once any of the policies no longer keeps it.",
    )
    .multi(),
    P::new("compression-mechanism", String, "Compression of rotated files.").unused(),
    P::new("timestamp-precision", Enum(&["seconds", "milliseconds"]), "Timestamp precision (always milliseconds).")
        .default(&["milliseconds"])
        .unused(),
];

const LOG_ROTATION_VARIANTS: &[V] = &[
    V::new(
        "size-limit",
        "Rotates the file before a write would take it past a size.",
        &[&[P::new("file-size-limit", Size, "The largest size of the file.").required()]],
    ),
    V::new(
        "time-limit",
        "Rotates the file once it is this old.",
        &[&[P::new("rotation-interval", Duration, "How long a file is written before it is rotated.").required()]],
    ),
    V::new(
        "fixed-time",
        "Rotates the file at times of day.",
        &[&[P::new("time-of-day", String, "A time of day, HHmm in UTC (such as 2359), at which the file is rotated.")
            .multi()
            .required()]],
    ),
    V::new("never-rotate", "Never rotates the file.", &[]),
];

const LOG_RETENTION_VARIANTS: &[V] = &[
    V::new(
        "file-count",
        "Keeps a number of rotated files.",
        &[&[P::new("number-of-files", int(1), "How many rotated files are kept (the current file is not counted).")
            .required()]],
    ),
    V::new(
        "size-limit",
        "Keeps the rotated files within a total size.",
        &[&[P::new("disk-space-used", Size, "The most disk space the rotated files may use.").required()]],
    ),
    V::new(
        "free-disk-space",
        "Deletes rotated files while the file system has less free space than this.",
        &[&[P::new("free-disk-space", Size, "The free space to keep on the logs' file system.").required()]],
    ),
    V::new(
        "time-limit",
        "Deletes rotated files older than a duration.",
        &[&[P::new("retain-duration", Duration, "How long rotated files are kept.").required()]],
    ),
    V::new("never-delete", "Never deletes rotated files.", &[]),
];

const LOG_VARIANTS: &[V] = &[
    V::new(
        "file-based-sync",
        "The sync log: one line per detected, applied, dropped or failed change.",
        &[
            LOG_FILE,
            &[
                P::new("logged-message-type", Enum(SYNC_LOG_MESSAGE_TYPES), "Which messages are written.")
                    .multi()
                    .default(&[
                        "change-applied",
                        "change-detected",
                        "change-failed-detailed",
                        "dropped-op-type-not-synchronized",
                        "dropped-out-of-scope",
                        "no-change-needed",
                    ]),
                P::new("include-sync-pipe", Reference("sync-pipe"), "Only these pipes' messages; all when unset.")
                    .multi(),
            ],
        ],
    ),
    V::new(
        "file-based-sync-failed-ops",
        "The failed-operations log: each change that failed for good, with what is needed to repair it.",
        &[LOG_FILE],
    ),
    V::new(
        "file-based-debug",
        "The debug log.",
        &[
            LOG_FILE,
            &[P::new(
                "default-debug-level",
                Enum(&["disabled", "error", "warning", "info", "verbose", "all"]),
                "The default debug level.",
            )
            .default(&["disabled"])],
        ],
    )
    .unused(),
    V::new(
        "file-based-error",
        "The error log.",
        &[
            LOG_FILE,
            &[P::new("default-severity", String, "Severities logged (ferrosync logs every severity).")
                .multi()
                .unused()],
        ],
    ),
    V::new("file-based-access", "The access log.", &[LOG_FILE]).unused(),
    V::new("file-based-audit", "The audit log.", &[LOG_FILE]).unused(),
    V::new("syslog-based-error", "Errors to syslog.", &[&[ENABLED]]).unused(),
    V::new("third-party", "A Java extension.", &[&[ENABLED], EXTENSION]).unused(),
];

const DEBUG_TARGET: &[P] = &[
    DESCRIPTION,
    P::new("debug-level", Enum(&["disabled", "error", "warning", "info", "verbose", "all"]), "The debug level.")
        .required(),
    P::new("debug-category", String, "Debug categories.").multi(),
    P::new("omit-method-entry-arguments", Boolean, "Omit method arguments."),
    P::new("omit-method-return-value", Boolean, "Omit return values."),
    P::new("include-throwable-cause", Boolean, "Include exception causes."),
    P::new("throwable-stack-frames", int(0), "Stack frames."),
];

// ---------------------------------------------------------------------------------------------------------------
// Global and PingDirectory-only objects

const GLOBAL_SYNC: &[P] = &[
    P::new("started", Boolean, "The global switch: no pipe runs while this is false.").default(&["true"]),
    P::new(
        "changelog-password-decryption-key",
        String,
        "The key that decrypts passwords in a PingDirectory change log (ferrosync reads no encrypted passwords).",
    )
    .sensitive()
    .unused(),
    P::new(
        "changelog-password-decryption-key-passphrase-provider",
        Reference("passphrase-provider"),
        "A provider for the key.",
    )
    .unused(),
    P::new("sync-pipe-max-connection-count", int(1), "Ignored.").advanced().unused(),
];

const GLOBAL_CONFIGURATION: &[P] = &[
    P::new("configuration-server-group", String, "The server group that configuration changes are applied to."),
    P::new("location", String, "This server's location."),
    P::new("instance-name", String, "This server's instance name."),
    P::new("size-limit", int(0), "Size limit."),
    P::new("time-limit", Duration, "Time limit."),
    P::new("encrypt-data", Boolean, "Encrypt data."),
    P::new("sensitive-attribute", String, "Sensitive attributes.").multi(),
];

const ROOT_DN_USER: &[P] = &[
    DESCRIPTION,
    P::new("alternate-bind-dn", Dn, "Other DNs this user can bind as.").multi(),
    P::new("inherit-default-root-privileges", Boolean, "Whether the default root privileges apply.").default(&["true"]),
    P::new("password", String, "The password.").sensitive(),
    P::new("privilege", String, "Privileges.").multi(),
    P::new("first-name", String, "First name.").multi(),
    P::new("last-name", String, "Last name.").multi(),
    P::new("user-id", String, "User id.").multi(),
    P::new("email-address", String, "Email address.").multi(),
    P::new("search-result-entry-limit", int(0), "Search size limit."),
    P::new("time-limit-seconds", int(0), "Search time limit."),
];

const BACKEND_COMMON: &[P] = &[
    ENABLED,
    P::new("base-dn", Dn, "The backend's base DNs.").multi(),
    P::new("writability-mode", Enum(&["enabled", "disabled", "internal-only"]), "Writability."),
];

const CHANGELOG_BACKEND: &[P] = &[
    P::new("changelog-maximum-age", Duration, "How long change log records are kept."),
    P::new("changelog-maximum-size", Size, "How large the change log may grow."),
    P::new(
        "changelog-deleted-entry-include-attribute",
        String,
        "Attributes of deleted entries kept in the change log.",
    )
    .multi(),
    P::new("changelog-include-attribute", String, "Attributes included.").multi(),
    P::new("changelog-exclude-attribute", String, "Attributes excluded.").multi(),
    P::new("changelog-include-key-attribute", String, "Key attributes.").multi(),
    P::new("use-reversible-form", Boolean, "Record changes in reversible form."),
    P::new("report-excluded-changelog-attributes", String, "How excluded attributes are reported."),
    P::new("changelog-write-batch-size", int(1), "Write batch size."),
];

const BACKEND_VARIANTS: &[V] = &[
    V::new("changelog", "PingDirectory's change log backend.", &[BACKEND_COMMON, CHANGELOG_BACKEND]),
    V::new(
        "local-db",
        "A PingDirectory database backend.",
        &[BACKEND_COMMON, &[P::new("backend-id", String, "The backend id.")]],
    ),
    V::new("ldif", "An LDIF backend.", &[BACKEND_COMMON, &[P::new("ldif-file", Path, "The LDIF file.")]]),
];

const PLUGIN_VARIANTS: &[V] = &[
    V::new("third-party", "A Java extension.", &[EXTENSION]),
    V::new("groovy-scripted", "A Groovy script.", &[GROOVY]),
];

/// Every object type dsconfig knows.
pub static OBJECT_TYPES: &[ObjectType] = &[
    ObjectType {
        name: "external-server", plural: "external-servers", display: "External Server", naming_arg: "server-name", parent: None,
        description: "A server that ferrosync connects to: a directory, Active Directory, or a SCIM 2.0 service.",
        category: Server, common: &[DESCRIPTION], variants: EXTERNAL_SERVER_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "sync-source", plural: "sync-sources", display: "Sync Source", naming_arg: "source-name", parent: None,
        description: "Where a pipe reads entries and changes.",
        category: Sync, common: &[DESCRIPTION], variants: SYNC_SOURCE_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "sync-destination", plural: "sync-destinations", display: "Sync Destination", naming_arg: "destination-name", parent: None,
        description: "Where a pipe writes entries.",
        category: Sync, common: &[DESCRIPTION], variants: SYNC_DESTINATION_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "sync-pipe", plural: "sync-pipes", display: "Sync Pipe", naming_arg: "pipe-name", parent: None,
        description: "Connects a sync source to a sync destination; its sync classes say what is synchronized and how.",
        category: Sync, common: SYNC_PIPE, variants: &[], default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "sync-class", plural: "sync-classes", display: "Sync Class", naming_arg: "class-name", parent: Some("sync-pipe"),
        description: "A set of entries of a pipe (by base DN and filter) with their mappings, correlation and allowed operations.",
        category: Sync, common: SYNC_CLASS, variants: &[], default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "json-attribute", plural: "json-attributes", display: "JSON Attribute", naming_arg: "attribute-name", parent: Some("sync-class"),
        description: "How a JSON-valued attribute of a sync class is compared: which fields count.",
        category: Sync, common: JSON_ATTRIBUTE, variants: &[], default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "attribute-map", plural: "attribute-maps", display: "Attribute Map", naming_arg: "map-name", parent: None,
        description: "A named set of attribute mappings, used by sync classes.",
        category: Sync, common: &[DESCRIPTION], variants: &[], default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "attribute-mapping", plural: "attribute-mappings", display: "Attribute Mapping", naming_arg: "mapping-name", parent: Some("attribute-map"),
        description: "How one destination attribute (the mapping's name) is built from the source entry.",
        category: Sync, common: ATTRIBUTE_MAPPING, variants: ATTRIBUTE_MAPPING_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "json-attribute-mapping-field", plural: "json-attribute-mapping-fields", display: "JSON Attribute Mapping Field", naming_arg: "field-name", parent: Some("attribute-mapping"),
        description: "One field of a JSON attribute mapping.",
        category: Sync, common: JSON_FIELD, variants: &[], default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "dn-map", plural: "dn-maps", display: "DN Map", naming_arg: "map-name", parent: None,
        description: "Maps source DNs to destination DNs by pattern.",
        category: Sync, common: DN_MAP, variants: &[], default_variant: None, singleton: false, unused: false, check: Some(check_dn_map),
    },
    ObjectType {
        name: "scim2-attribute-mapping", plural: "scim2-attribute-mappings", display: "SCIM2 Attribute Mapping", naming_arg: "mapping-name", parent: None,
        description: "Maps an entry attribute to a SCIM 2.0 attribute.",
        category: Sync, common: SCIM2_MAPPING, variants: SCIM2_MAPPING_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "scim2-endpoint-mapping", plural: "scim2-endpoint-mappings", display: "SCIM2 Endpoint Mapping", naming_arg: "mapping-name", parent: None,
        description: "A SCIM 2.0 endpoint (Users, Groups) with its schemas and attribute mappings.",
        category: Sync, common: SCIM2_ENDPOINT_MAPPING, variants: &[], default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "global-sync-configuration", plural: "global-sync-configurations", display: "Global Sync Configuration", naming_arg: "", parent: None,
        description: "Settings for the whole sync server.",
        category: Sync, common: GLOBAL_SYNC, variants: &[], default_variant: None, singleton: true, unused: false, check: None,
    },
    ObjectType {
        name: "sync-pipe-plugin", plural: "sync-pipe-plugins", display: "Sync Pipe Plugin", naming_arg: "plugin-name", parent: None,
        description: "A PingDataSync extension plugin.",
        category: Sync, common: &[DESCRIPTION], variants: PLUGIN_VARIANTS, default_variant: None, singleton: false, unused: true, check: None,
    },
    ObjectType {
        name: "http-authorization-method", plural: "http-authorization-methods", display: "HTTP Authorization Method", naming_arg: "method-name", parent: None,
        description: "How HTTP requests to a SCIM 2.0 service are authorized.",
        category: Security, common: &[DESCRIPTION], variants: HTTP_AUTH_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "passphrase-provider", plural: "passphrase-providers", display: "Passphrase Provider", naming_arg: "provider-name", parent: None,
        description: "Supplies a secret from a file, an environment variable or the configuration.",
        category: Security, common: &[DESCRIPTION], variants: PASSPHRASE_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "trust-manager-provider", plural: "trust-manager-providers", display: "Trust Manager Provider", naming_arg: "provider-name", parent: None,
        description: "Which TLS server certificates are trusted.",
        category: Security, common: &[DESCRIPTION], variants: TRUST_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "key-manager-provider", plural: "key-manager-providers", display: "Key Manager Provider", naming_arg: "provider-name", parent: None,
        description: "A certificate and its private key: the HTTPS Connection Handler's.",
        category: Security, common: &[DESCRIPTION], variants: KEY_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "connection-handler", plural: "connection-handlers", display: "Connection Handler", naming_arg: "handler-name", parent: None,
        description: "A listener of the sync server: HTTP or HTTPS for metrics and health checks.",
        category: Server, common: &[DESCRIPTION], variants: CONNECTION_HANDLER_VARIANTS, default_variant: None, singleton: false, unused: false, check: Some(check_connection_handler),
    },
    ObjectType {
        name: "http-servlet-extension", plural: "http-servlet-extensions", display: "HTTP Servlet Extension", naming_arg: "extension-name", parent: None,
        description: "What an HTTP connection handler serves at a path: metrics, health checks.",
        category: Server, common: SERVLET_COMMON, variants: SERVLET_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "log-rotation-policy", plural: "log-rotation-policies", display: "Log Rotation Policy", naming_arg: "policy-name", parent: None,
        description: "When a log file is rotated.",
        category: Logging, common: &[DESCRIPTION], variants: LOG_ROTATION_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "log-retention-policy", plural: "log-retention-policies", display: "Log Retention Policy", naming_arg: "policy-name", parent: None,
        description: "Which rotated log files are kept.",
        category: Logging, common: &[DESCRIPTION], variants: LOG_RETENTION_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "log-publisher", plural: "log-publishers", display: "Log Publisher", naming_arg: "publisher-name", parent: None,
        description: "A log file: the sync log, the failed-operations log, the error log.",
        category: Logging, common: &[DESCRIPTION], variants: LOG_VARIANTS, default_variant: None, singleton: false, unused: false, check: None,
    },
    ObjectType {
        name: "debug-target", plural: "debug-targets", display: "Debug Target", naming_arg: "target-name", parent: Some("log-publisher"),
        description: "A Java class traced by the debug logger (not used by ferrosync).",
        category: Logging, common: DEBUG_TARGET, variants: &[], default_variant: None, singleton: false, unused: true, check: None,
    },
    ObjectType {
        name: "global-configuration", plural: "global-configurations", display: "Global Configuration", naming_arg: "", parent: None,
        description: "PingDirectory's global configuration (not used by ferrosync).",
        category: Directory, common: GLOBAL_CONFIGURATION, variants: &[], default_variant: None, singleton: true, unused: true, check: None,
    },
    ObjectType {
        name: "location", plural: "locations", display: "Location", naming_arg: "location-name", parent: None,
        description: "A data center location (not used by ferrosync).",
        category: Directory, common: &[DESCRIPTION], variants: &[], default_variant: None, singleton: false, unused: true, check: None,
    },
    ObjectType {
        name: "root-dn-user", plural: "root-dn-users", display: "Root DN User", naming_arg: "user-name", parent: None,
        description: "A PingDirectory root user (not used by ferrosync).",
        category: Directory, common: ROOT_DN_USER, variants: &[], default_variant: None, singleton: false, unused: true, check: None,
    },
    ObjectType {
        name: "backend", plural: "backends", display: "Backend", naming_arg: "backend-name", parent: None,
        description: "A PingDirectory backend, such as its change log (not used by ferrosync).",
        category: Directory, common: &[DESCRIPTION], variants: BACKEND_VARIANTS, default_variant: None, singleton: false, unused: true, check: None,
    },
];

/// An object that a new server root starts with.
pub struct Builtin {
    pub type_name: &'static str,
    pub name: &'static str,
    pub variant: Option<&'static str>,
    pub props: &'static [(&'static str, &'static str)],
}

const fn builtin(
    type_name: &'static str,
    name: &'static str,
    variant: Option<&'static str>,
    props: &'static [(&'static str, &'static str)],
) -> Builtin {
    Builtin { type_name, name, variant, props }
}

/// The rotation and retention policies of Ping's built-in log publishers.
const ROTATE_DAILY: (&str, &str) = ("rotation-policy", "24 Hours Time Limit Rotation Policy");
const ROTATE_SIZE: (&str, &str) = ("rotation-policy", "Size Limit Rotation Policy");
const KEEP_COUNT: (&str, &str) = ("retention-policy", "File Count Retention Policy");
const KEEP_FREE: (&str, &str) = ("retention-policy", "Free Disk Space Retention Policy");

/// The objects that a new server root starts with: the ones that real batch files modify.
pub const BUILTIN_OBJECTS: &[Builtin] = &[
    builtin("global-sync-configuration", "", None, &[]),
    builtin("global-configuration", "", None, &[]),
    builtin("trust-manager-provider", "Blind Trust", Some("blind-trust"), &[("enabled", "false")]),
    builtin(
        "trust-manager-provider",
        "JKS",
        Some("file-based"),
        &[("enabled", "true"), ("trust-store-file", "config/truststore"), ("trust-store-type", "JKS")],
    ),
    builtin(
        "trust-manager-provider",
        "PKCS12",
        Some("file-based"),
        &[("enabled", "true"), ("trust-store-file", "config/truststore.p12"), ("trust-store-type", "PKCS12")],
    ),
    builtin("trust-manager-provider", "JVM-Default", Some("jvm-default"), &[("enabled", "true")]),
    builtin("key-manager-provider", "Null", Some("null"), &[("enabled", "true")]),
    builtin(
        "key-manager-provider",
        "JKS",
        Some("file-based"),
        &[("enabled", "false"), ("key-store-file", "config/keystore"), ("key-store-type", "JKS")],
    ),
    builtin(
        "key-manager-provider",
        "PKCS12",
        Some("file-based"),
        &[("enabled", "false"), ("key-store-file", "config/keystore.p12"), ("key-store-type", "PKCS12")],
    ),
    builtin(
        "connection-handler",
        "HTTP Connection Handler",
        Some("http"),
        &[
            ("listen-port", "8080"),
            ("http-servlet-extension", "Available or Degraded State"),
            ("http-servlet-extension", "Available State"),
        ],
    ),
    builtin(
        "connection-handler",
        "HTTPS Connection Handler",
        Some("http"),
        &[
            ("listen-port", "8443"),
            ("use-ssl", "true"),
            ("http-servlet-extension", "Available or Degraded State"),
            ("http-servlet-extension", "Available State"),
        ],
    ),
    builtin("http-servlet-extension", "Prometheus Monitoring", Some("prometheus-monitoring"), &[]),
    builtin("http-servlet-extension", "Status Console", Some("status-console"), &[]),
    builtin(
        "http-servlet-extension",
        "Available or Degraded State",
        Some("availability-state"),
        &[("base-context-path", "/available-or-degraded-state")],
    ),
    builtin(
        "http-servlet-extension",
        "Available State",
        Some("availability-state"),
        &[("base-context-path", "/available-state"), ("degraded-status-code", "503")],
    ),
    builtin(
        "log-publisher",
        "File-Based Sync Logger",
        Some("file-based-sync"),
        &[("log-file", "logs/sync"), ROTATE_DAILY, ROTATE_SIZE, KEEP_COUNT, KEEP_FREE],
    ),
    builtin(
        "log-publisher",
        "Sync Failed Operations Log",
        Some("file-based-sync-failed-ops"),
        &[("log-file", "logs/sync-failed-ops"), ROTATE_DAILY, ROTATE_SIZE, KEEP_COUNT, KEEP_FREE],
    ),
    builtin(
        "log-publisher",
        "File-Based Error Logger",
        Some("file-based-error"),
        &[("log-file", "logs/errors"), ROTATE_DAILY, ROTATE_SIZE, KEEP_COUNT, KEEP_FREE],
    ),
    builtin(
        "log-publisher",
        "File-Based Debug Logger",
        Some("file-based-debug"),
        &[("enabled", "false"), ("log-file", "logs/debug")],
    ),
    builtin("backend", "changelog", Some("changelog"), &[("enabled", "false"), ("base-dn", "cn=changelog")]),
    // The root user Ping's setup creates (cn=Directory Manager), which profiles change with
    // set-root-dn-user-prop --user-name "Directory Manager".
    builtin("root-dn-user", "Directory Manager", None, &[]),
    builtin("key-manager-provider", "PKCS11", Some("pkcs11"), &[("enabled", "false")]),
    builtin(
        "log-publisher",
        "File-Based Access Logger",
        Some("file-based-access"),
        &[("enabled", "true"), ("log-file", "logs/access")],
    ),
    builtin(
        "log-publisher",
        "File-Based Audit Logger",
        Some("file-based-audit"),
        &[("enabled", "false"), ("log-file", "logs/audit")],
    ),
    // The rest of what Ping's setup makes, from the catalog of types ferrosync does not use (model::catalog):
    // the singletons, the listeners (but HTTP and HTTPS), the log rotation and retention policies, the
    // password policies.
    builtin("access-control-handler", "", Some("dsee-compat"), &[("enabled", "true")]),
    builtin("work-queue", "", Some("high-throughput"), &[]),
    builtin("crypto-manager", "", None, &[]),
    builtin("root-dn", "", None, &[]),
    builtin("plugin-root", "", None, &[]),
    builtin("alarm-manager", "", None, &[]),
    builtin("ldap-sdk-debug-logger", "", None, &[("enabled", "false")]),
    builtin("license", "", None, &[]),
    builtin(
        "connection-handler",
        "LDAP Connection Handler",
        Some("ldap"),
        &[("enabled", "true"), ("listen-port", "389"), ("use-ssl", "false")],
    ),
    builtin(
        "connection-handler",
        "LDAPS Connection Handler",
        Some("ldap"),
        &[("enabled", "false"), ("listen-port", "636"), ("use-ssl", "true")],
    ),
    builtin(
        "connection-handler",
        "JMX Connection Handler",
        Some("jmx"),
        &[("enabled", "false"), ("listen-port", "1689")],
    ),
    builtin(
        "connection-handler",
        "LDIF Connection Handler",
        Some("ldif"),
        &[("enabled", "false"), ("ldif-directory", "config/auto-process-ldif")],
    ),
    builtin(
        "log-rotation-policy",
        "24 Hours Time Limit Rotation Policy",
        Some("time-limit"),
        &[("rotation-interval", "24 h")],
    ),
    builtin(
        "log-rotation-policy",
        "7 Days Time Limit Rotation Policy",
        Some("time-limit"),
        &[("rotation-interval", "7 d")],
    ),
    builtin("log-rotation-policy", "Fixed Time Rotation Policy", Some("fixed-time"), &[("time-of-day", "2359")]),
    builtin("log-rotation-policy", "Size Limit Rotation Policy", Some("size-limit"), &[("file-size-limit", "100 mb")]),
    builtin("log-rotation-policy", "Never Rotate Policy", Some("never-rotate"), &[]),
    builtin("log-retention-policy", "File Count Retention Policy", Some("file-count"), &[("number-of-files", "10")]),
    builtin(
        "log-retention-policy",
        "Free Disk Space Retention Policy",
        Some("free-disk-space"),
        &[("free-disk-space", "500 mb")],
    ),
    builtin(
        "log-retention-policy",
        "Size Limit Retention Policy",
        Some("size-limit"),
        &[("disk-space-used", "500 mb")],
    ),
    builtin("log-retention-policy", "Never Delete Retention Policy", Some("never-delete"), &[]),
    builtin("password-policy", "Default Password Policy", None, &[("password-attribute", "userPassword")]),
    builtin("password-policy", "Root Password Policy", None, &[("password-attribute", "userPassword")]),
];
