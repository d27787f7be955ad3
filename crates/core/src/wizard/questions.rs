//! The wizard's questions, in the order asked: each one's key (flag and properties-file key) and what it asks,
//! the checks of single answers, and the `--help` text made from the table.

use super::endpoint_kinds;
use crate::syntax::Dn;

/// One question: its key (flag and properties-file key) and what it asks.
#[derive(Clone, Copy, Debug)]
pub struct Question {
    pub key: &'static str,
    pub what: &'static str,
    /// Several values (the flag repeats; the prompt asks until an empty answer).
    pub multi: bool,
    /// A password: never echoed, never saved in the answers file.
    pub secret: bool,
}

const fn q(key: &'static str, what: &'static str) -> Question {
    Question { key, what, multi: false, secret: false }
}
const fn qm(key: &'static str, what: &'static str) -> Question {
    Question { key, what, multi: true, secret: false }
}
const fn qs(key: &'static str, what: &'static str) -> Question {
    Question { key, what, multi: false, secret: true }
}

/// Every question, in the order asked. `source*` and `destination*` questions are asked for each endpoint.
pub const QUESTIONS: &[Question] = &[
    q("direction", "one-way, or bidirectional (two pipes, one each way)"),
    q("sourceExisting", "the name of an existing sync source to use as it is (one-way pipes), instead of creating one"),
    q("sourceType", "the source endpoint's type"),
    q("sourceName", "the source endpoint's name"),
    qm("sourceBaseDN", "the source's base DNs (repeat for several; they must not overlap)"),
    qm("sourceExistingServer", "the names of existing external servers to use for a new source, in failover order, instead of creating servers and asking for their sync user"),
    q("sourceSecurity", "the source's connection security: none, ssl or start-tls"),
    q("sourceTrust", "with ssl or start-tls, which certificates the source's servers may have: system, trust-all, or the path of a PEM file of CA certificates"),
    qm("sourceServer", "the source's servers as host:port, in failover order (repeat for several)"),
    q("prepareSourceServer", "yes or no: prepare the source's servers first as an administrator (create the sync user, grant it its rights, turn on the change log)"),
    q("sourceAdminBindDN", "with prepareSourceServer: the DN of an administrator of the source's servers"),
    qs("sourceAdminBindPassword", "with prepareSourceServer: the administrator's password"),
    q("sourceAdminBindPasswordFile", "with prepareSourceServer: a file holding the administrator's password"),
    q("sourceBindDN", "the DN the sync user of the source binds with"),
    qs("sourceBindPassword", "the password of the source's sync user"),
    q("sourceBindPasswordFile", "a file holding the password of the source's sync user"),
    q("sourceUniqueIdAttribute", "the source attribute that identifies an entry across renames"),
    q("destinationExisting", "the name of an existing sync destination to use as it is (one-way pipes), instead of creating one"),
    q("destinationType", "the destination endpoint's type"),
    q("destinationName", "the destination endpoint's name"),
    qm("destinationBaseDN", "the destination's base DNs"),
    qm("destinationExistingServer", "the names of existing external servers to use for a new destination, in failover order"),
    q("destinationSecurity", "the destination's connection security: none, ssl or start-tls"),
    q("destinationTrust", "with ssl or start-tls: system, trust-all, or the path of a PEM file of CA certificates"),
    qm("destinationServer", "the destination's servers as host:port, in failover order"),
    q("prepareDestinationServer", "yes or no: prepare the destination's servers first as an administrator (create the sync user, grant it its rights)"),
    q("destinationAdminBindDN", "with prepareDestinationServer: the DN of an administrator of the destination's servers"),
    qs("destinationAdminBindPassword", "with prepareDestinationServer: the administrator's password"),
    q("destinationAdminBindPasswordFile", "with prepareDestinationServer: a file holding the administrator's password"),
    q("destinationBindDN", "the DN the sync user of the destination binds with"),
    qs("destinationBindPassword", "the password of the destination's sync user"),
    q("destinationBindPasswordFile", "a file holding the password of the destination's sync user"),
    q("destinationUniqueIdAttribute", "bidirectional: the destination attribute that identifies an entry across renames"),
    q("destinationScimServiceURL", "SCIM 2.0 destination: the service's base URL, such as https://host/scim/v2"),
    q("destinationScimAuth", "SCIM 2.0 destination: bearer-token, basic or client-credentials"),
    qs("destinationScimBearerToken", "SCIM 2.0 destination: the bearer token"),
    q("destinationScimBearerTokenFile", "SCIM 2.0 destination: a file holding the bearer token"),
    q("destinationScimUsername", "SCIM 2.0 destination, basic: the user name"),
    qs("destinationScimPassword", "SCIM 2.0 destination, basic: the password"),
    q("destinationScimPasswordFile", "SCIM 2.0 destination, basic: a file holding the password"),
    q("destinationScimTokenURL", "SCIM 2.0 destination, client-credentials: the OAuth 2.0 token endpoint URL"),
    q("destinationScimClientID", "SCIM 2.0 destination, client-credentials: the client id"),
    qs("destinationScimClientSecret", "SCIM 2.0 destination, client-credentials: the client secret"),
    q("destinationScimClientSecretFile", "SCIM 2.0 destination, client-credentials: a file holding the client secret"),
    q("sourcePingOneEnvironmentID", "PingOne source: the environment id"),
    q("sourcePingOneAPIURL", "PingOne source: the API URL (default https://api.pingone.com/v1)"),
    q("sourcePingOneAuthURL", "PingOne source: the token URL (default: derived from the API URL)"),
    q("sourcePingOneClientID", "PingOne source: the worker application's client id"),
    qs("sourcePingOneClientSecret", "PingOne source: the worker application's client secret"),
    q("sourcePingOneClientSecretFile", "PingOne source: a file holding the client secret"),
    qm("sourcePingOnePopulation", "PingOne source: a population (name or id) to synchronize (repeat for several; all when none)"),
    q("destinationPingOneEnvironmentID", "PingOne destination: the environment id"),
    q("destinationPingOneAPIURL", "PingOne destination: the API URL (default https://api.pingone.com/v1)"),
    q("destinationPingOneAuthURL", "PingOne destination: the token URL (default: derived from the API URL)"),
    q("destinationPingOneClientID", "PingOne destination: the worker application's client id"),
    qs("destinationPingOneClientSecret", "PingOne destination: the worker application's client secret"),
    q("destinationPingOneClientSecretFile", "PingOne destination: a file holding the client secret"),
    q("destinationPingOnePopulation", "PingOne destination: the population (name or id) new users are created in"),
    q("pipeName", "the sync pipe's name"),
    q("reversePipeName", "bidirectional: the name of the pipe from the destination back to the source"),
    q("activeDirectoryPreset", "Active Directory and an LDAP directory: yes or no, use the Active Directory preset (users and groups, CN=Users <-> ou=people, sAMAccountName <-> uid, ...) instead of asking for sync classes (default yes)"),
    q("activeDirectoryUsersDN", "with the Active Directory preset: the AD container of the users (default CN=Users,<AD base DN>)"),
    q("activeDirectoryGroupsDN", "with the Active Directory preset: the AD container of the groups (default: the users')"),
    q("ldapPeopleDN", "with the Active Directory preset: the LDAP container of the people (default ou=people,<LDAP base DN>)"),
    q("ldapGroupsDN", "with the Active Directory preset: the LDAP container of the groups (default ou=groups,<LDAP base DN>)"),
    q("activeDirectoryUPNSuffix", "with the Active Directory preset, writing to AD: the userPrincipalName suffix (default: the AD domain)"),
    qm("syncClass", "the names of the sync classes, in evaluation order (repeat for several; 'none' for none)"),
    qm("syncClassBaseDN", "CLASS:DN, a base DN of a sync class (repeat for several)"),
    qm("syncClassFilter", "CLASS:FILTER, an include filter of a sync class (repeat for several)"),
    q("syncClassAttributes", "CLASS:all, CLASS:only:ATTR,ATTR or CLASS:except:ATTR,ATTR: which attributes a sync class synchronizes"),
    q("syncClassOperations", "CLASS:creates,modifies,deletes: which operations a sync class synchronizes"),
    q("syncClassCorrelation", "CLASS:ATTR,ATTR, the attributes that find an entry at the destination (such as dn or dn,uid)"),
    q("defaultClassOperations", "which operations the DEFAULT class synchronizes for entries no other class takes: creates,modifies,deletes, or none for no DEFAULT class"),
];

/// Flags of the tool that are not answers.
pub const TOOL_FLAGS: &[&str] =
    &["no-prompt", "propertiesFilePath", "generateBatchFile", "skipConnectionTest", "server-root", "store", "help"];

/// The question with this key.
pub fn question(key: &str) -> Option<&'static Question> {
    QUESTIONS.iter().find(|q| q.key.eq_ignore_ascii_case(key))
}

/// A DN, checked by the project's DN parser.
pub fn check_dn(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("a DN cannot be empty".into());
    }
    Dn::parse(t).map(|_| t.to_string()).map_err(|e| format!("'{t}' is not a valid DN: {e}"))
}

/// Refuses a list of base DNs of which one contains another.
pub fn check_no_overlap(label_a: &str, a: &[String], label_b: &str, b: &[String]) -> Result<(), String> {
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            if std::ptr::eq(a, b) && i >= j {
                continue;
            }
            let (dx, dy) = (Dn::parse(x).map_err(|e| e.to_string())?, Dn::parse(y).map_err(|e| e.to_string())?);
            if dx.is_within(&dy) || dy.is_within(&dx) {
                return Err(format!("the base DN '{x}' of {label_a} overlaps the base DN '{y}' of {label_b}"));
            }
        }
    }
    Ok(())
}

/// An object name: not empty, no control characters.
/// yes or no (also true/false, y/n).
pub fn check_yes_no(s: &str) -> Result<String, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Ok("yes".into()),
        "no" | "n" | "false" => Ok("no".into()),
        t => Err(format!("'{t}' is not yes or no")),
    }
}

pub fn check_name(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if t.chars().any(char::is_control) {
        return Err(format!("'{t}' contains a control character"));
    }
    if t.contains(':') {
        return Err(format!("'{t}' contains ':', which separates a class name from its value in the flags"));
    }
    Ok(t.to_string())
}

pub(super) fn check_class_name(s: &str, existing: &[String]) -> Result<String, String> {
    let n = check_name(s)?;
    if n.eq_ignore_ascii_case("DEFAULT") {
        return Err("DEFAULT is the name of the default class, asked for later".into());
    }
    if existing.iter().any(|e| e.eq_ignore_ascii_case(&n)) {
        return Err(format!("there is already a class '{n}'"));
    }
    Ok(n)
}

/// The `--help` text, from the question table.
pub fn help() -> String {
    let mut s = String::from(
        "Usage: create-sync-pipe-config [--no-prompt] [--propertiesFilePath FILE] [--generateBatchFile FILE]\n\
         \x20                              [--skipConnectionTest] [--server-root DIR] [--store URL] [--KEY VALUE ...]\n\n\
         Asks the questions of PingDataSync's sync pipe wizard and writes the configuration to the store (all or\n\
         nothing, as dsconfig does), or to a dsconfig batch file with --generateBatchFile.\n\n\
         Answers (as flags, or KEY=VALUE lines in the properties file; flags win):\n",
    );
    for q in QUESTIONS {
        s.push_str(&format!(
            "  --{} {}\n      {}{}\n",
            q.key,
            if q.multi { "VALUE (repeatable)" } else { "VALUE" },
            q.what,
            if q.secret { " (never saved)" } else { "" }
        ));
    }
    s.push_str(&format!(
        "\nEndpoint types: {}\n",
        endpoint_kinds().iter().map(|k| k.key).collect::<Vec<_>>().join(", ")
    ));
    s.push_str(
        "\nOther options:\n  --no-prompt               never ask: a missing answer without a default is an error naming it\n\
         \x20 --propertiesFilePath FILE read answers from FILE\n\
         \x20 --generateBatchFile FILE  write a dsconfig batch file (mode 0600, it holds the passwords) instead of the store\n\
         \x20 --skipConnectionTest      do not connect to the servers\n\
         \x20 --server-root DIR         the server root (else $FERROSYNC_ROOT, else the launcher's folder)\n\
         \x20 --store URL               the store: sqlite or postgresql://USER@HOST:PORT/DB?passfile=FILE (else\n\
         \x20                           $FERROSYNC_STORE, else SERVER-ROOT/config/store, else sqlite)\n",
    );
    s
}
