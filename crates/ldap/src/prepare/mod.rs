//! prepare-endpoint-server's work: recognize a directory server from its root DSE, create the sync user,
//! grant it what the server needs, turn the change log on where the server allows it, and check the result as
//! the sync user. Every step is idempotent: a second run finds everything in place and changes nothing.
//!
//! What it does per server:
//!
//! | server | sync user (default DN) | rights | change log |
//! |---|---|---|---|
//! | 389 DS | `cn=Sync User,cn=config` (outside the synchronized tree) | an ACI on the base DN (read, search, compare on all attributes, operational ones included; add, delete, write, moddn on a destination) and one on `cn=changelog` | the Retro Changelog plugin: enabled, `nsuniqueid:targetUniqueId`, a maximum age (2d) and the base DN as included suffix; a restart is needed (389 DS 2.3 enables plugins only at start unless `nsslapd-dynamic-plugins` is on) |
//! | OpenLDAP (slapd.conf) | `cn=Sync User,<base DN>` | checked as the sync user; the exact `access to` / `limits` lines to add are printed where it falls short | `cn=accesslog` checked, and whether it has `syncprov` (changes pushed, see `doorbell`); the overlay configuration printed when it is missing |
//! | Active Directory / Samba | `CN=Sync User,CN=Users,<domain>` (password set with `unicodePwd`) | "Replicating Directory Changes" on the domain root, list and read on `CN=Deleted Objects` (source); create, delete, read and write below the base DN (destination); all by adding ACEs to `nTSecurityDescriptor` | DirSync tried as the sync user |
//! | PingDirectory, other | `cn=Sync User,cn=Root DNs,cn=config` (Ping's) | checked only | checked only |

mod ad;
use crate::ber;
mod ds389;
mod openldap;
pub mod sd;

use std::fmt;
use std::time::Duration;

use ferrosync::entry::{Entry, Value};
use ferrosync::secret::Secret;
use ferrosync::syntax::Dn;

use crate::{ClientOptions, LdapClient, LdapError, RetryPolicy, ServerConfig};

/// The kind of directory server, recognized from its root DSE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// 389 Directory Server (or Red Hat Directory Server), with its `vendorVersion`.
    Ds389 { version: String },
    /// OpenLDAP slapd.
    OpenLdap,
    /// Active Directory or a Samba AD domain controller.
    ActiveDirectory { samba: bool },
    /// PingDirectory (or another Ping Identity / UnboundID server), with its `vendorVersion`.
    PingDirectory { version: String },
    /// Something else; the vendor name when the root DSE gives one.
    Other { vendor: String },
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerKind::Ds389 { version } if version.is_empty() => f.write_str("389 Directory Server"),
            ServerKind::Ds389 { version } => write!(f, "389 Directory Server ({version})"),
            ServerKind::OpenLdap => f.write_str("OpenLDAP"),
            ServerKind::ActiveDirectory { samba: true } => f.write_str("Active Directory (Samba AD domain controller)"),
            ServerKind::ActiveDirectory { samba: false } => f.write_str("Active Directory"),
            ServerKind::PingDirectory { version } if version.is_empty() => f.write_str("PingDirectory"),
            ServerKind::PingDirectory { version } => write!(f, "PingDirectory ({version})"),
            ServerKind::Other { vendor } if vendor.is_empty() => f.write_str("an LDAP server of unknown kind"),
            ServerKind::Other { vendor } => write!(f, "an LDAP server by {vendor}"),
        }
    }
}

/// LDAP_CAP_ACTIVE_DIRECTORY_OID, in `supportedCapabilities`.
const AD_CAPABILITY: &str = "1.2.840.113556.1.4.800";

fn has_value(dse: &Entry, attr: &str, wanted: &str) -> bool {
    dse.texts(attr).iter().any(|v| v.eq_ignore_ascii_case(wanted))
}

/// Recognizes the server from its root DSE (read with `*` and `+`).
pub fn detect(dse: &Entry) -> ServerKind {
    let vendor = dse.first_text("vendorName").unwrap_or_default();
    let version = dse.first_text("vendorVersion").unwrap_or_default();
    if has_value(dse, "supportedCapabilities", AD_CAPABILITY) || dse.has("forestFunctionality") {
        // Samba says so in vendorName ("Samba Team"); Windows has no vendorName
        let samba = vendor.to_ascii_lowercase().contains("samba");
        return ServerKind::ActiveDirectory { samba };
    }
    if has_value(dse, "objectClass", "OpenLDAProotDSE") || dse.has("configContext") {
        return ServerKind::OpenLdap;
    }
    let lower = vendor.to_ascii_lowercase();
    if lower.contains("389 project") || version.starts_with("389-Directory") || lower.contains("fedora project") {
        return ServerKind::Ds389 { version };
    }
    if lower.contains("ping identity") || lower.contains("unboundid") {
        return ServerKind::PingDirectory { version };
    }
    ServerKind::Other { vendor }
}

/// The sync user's DN when none is given, for a server of `kind` holding `base_dn`.
pub fn default_sync_dn(kind: &ServerKind, base_dn: &str, domain_root: Option<&str>) -> String {
    match kind {
        ServerKind::Ds389 { .. } => "cn=Sync User,cn=config".to_string(),
        ServerKind::OpenLdap => format!("cn=Sync User,{base_dn}"),
        ServerKind::ActiveDirectory { .. } => format!("CN=Sync User,CN=Users,{}", domain_root.unwrap_or(base_dn)),
        ServerKind::PingDirectory { .. } | ServerKind::Other { .. } => "cn=Sync User,cn=Root DNs,cn=config".to_string(),
    }
}

/// What to prepare.
#[derive(Clone, Debug)]
pub struct PrepareOptions {
    pub base_dn: String,
    pub sync_dn: String,
    pub sync_password: Secret,
    /// The server is a sync source: the sync user reads the change log, which is turned on.
    pub is_source: bool,
    /// The server is a sync destination: the sync user writes below the base DN.
    pub is_destination: bool,
    /// A 389 DS source keeps the clear text of password changes in its retro changelog, so that passwords can
    /// reach Active Directory destinations.
    pub record_clear_text_passwords: bool,
    /// How long the change log keeps changes (Ping's `changelog-maximum-age`); `None` keeps the server's
    /// setting, or sets ferrosync's default where there is none.
    pub changelog_max_age: Option<Duration>,
}

/// `age` in 389 DS's `nsslapd-changelogmaxage` form: a number and a unit (s, m, h, d, w), the largest exact one.
pub fn max_age_389(age: Duration) -> String {
    let secs = age.as_secs().max(1);
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// `age` in OpenLDAP's `logpurge` form, `DD+HH:MM` (whole minutes, at least one).
pub fn max_age_openldap(age: Duration) -> String {
    let mins = (age.as_secs() / 60).max(1);
    format!("{:02}+{:02}:{:02}", mins / 1_440, (mins % 1_440) / 60, mins % 60)
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The tool changed something on the server.
    Changed,
    /// It was already in place.
    Unchanged,
    /// A check passed.
    Ok,
    /// The operator has to do something (see the report's instructions).
    ToDo,
    /// A check failed.
    Failed,
    /// Something works, but not as it should (written to the log and shown; the run still succeeds).
    Warning,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Changed => "changed",
            Status::Unchanged => "unchanged",
            Status::Ok => "ok",
            Status::ToDo => "to do",
            Status::Failed => "FAILED",
            Status::Warning => "warning",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub status: Status,
    pub text: String,
}

/// Exact lines for the operator: configuration to add, or commands to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    pub title: String,
    pub lines: Vec<String>,
}

/// What prepare did, found and left to do.
#[derive(Clone, Debug)]
pub struct Report {
    pub server: ServerKind,
    pub sync_dn: String,
    pub steps: Vec<Step>,
    pub instructions: Vec<Instruction>,
}

impl Report {
    fn step(&mut self, status: Status, text: impl Into<String>) {
        self.steps.push(Step { status, text: text.into() });
    }

    fn instruct(&mut self, title: impl Into<String>, lines: Vec<String>) {
        let ins = Instruction { title: title.into(), lines };
        if !self.instructions.contains(&ins) {
            self.instructions.push(ins);
        }
    }

    /// Whether this run changed anything on the server.
    pub fn changed(&self) -> bool {
        self.steps.iter().any(|s| s.status == Status::Changed)
    }

    /// Whether anything is left for the operator or failed.
    pub fn complete(&self) -> bool {
        !self.steps.iter().any(|s| matches!(s.status, Status::ToDo | Status::Failed))
    }

    /// The steps with a given status.
    pub fn with_status(&self, status: Status) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.status == status)
    }
}

/// Why prepare could not run at all. Problems it can describe (missing rights, a change log that is off) are
/// steps of the [`Report`] instead.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Ldap(Box<LdapError>),
    #[error("{what} {dn:?} is not a valid DN: {reason}")]
    BadDn { what: &'static str, dn: String, reason: String },
    #[error("the base DN {dn:?} does not exist on {server}{}", naming_contexts_hint(contexts))]
    NoBaseDn { dn: String, server: String, contexts: Vec<String> },
    #[error("the sync user's DN {dn:?} must start with cn= or uid= so that its entry can be created")]
    SyncRdn { dn: String },
    #[error("{0}")]
    SecurityDescriptor(#[from] sd::SdError),
    #[error("--isSource and --isDestination are both off: say what the server is to the sync server")]
    NoRole,
}

impl From<LdapError> for PrepareError {
    fn from(e: LdapError) -> Self {
        PrepareError::Ldap(Box::new(e))
    }
}

fn naming_contexts_hint(contexts: &[String]) -> String {
    if contexts.is_empty() {
        String::new()
    } else {
        format!(" (its naming contexts: {})", contexts.join("; "))
    }
}

/// Parses a DN, naming it in the error.
fn parse_dn(what: &'static str, dn: &str) -> Result<Dn, PrepareError> {
    Dn::parse(dn).map_err(|e| PrepareError::BadDn { what, dn: dn.to_string(), reason: e.to_string() })
}

/// Reads the root DSE (all user and operational attributes) as the administrator and recognizes the server.
/// A wrong administrator password or an unreachable server is the error here.
pub async fn detect_server(admin: &LdapClient) -> Result<(ServerKind, Entry), PrepareError> {
    let dse = admin.root_dse(&[]).await?;
    Ok((detect(&dse), dse))
}

/// The working state of one run.
struct Run<'a> {
    admin: &'a LdapClient,
    /// The connection settings of the server, bound as the sync user.
    sync_server: ServerConfig,
    dse: &'a Entry,
    opts: &'a PrepareOptions,
    report: Report,
}

impl Run<'_> {
    fn label(&self) -> String {
        self.sync_server.label()
    }

    /// A client bound as the sync user, without retries.
    fn sync_client(&self) -> Result<LdapClient, LdapError> {
        LdapClient::new(
            vec![self.sync_server.clone()],
            ClientOptions { retry: RetryPolicy::no_retries(), ..ClientOptions::default() },
        )
    }

    /// Binds as the sync user; `None` (and a failed step) when it cannot.
    async fn sync_bind(&mut self) -> Option<LdapClient> {
        let client = match self.sync_client() {
            Ok(c) => c,
            Err(e) => {
                self.report.step(Status::Failed, format!("the sync user cannot bind: {e}"));
                return None;
            }
        };
        match client.check_bind().await {
            Ok(_) => {
                self.report.step(Status::Ok, format!("the sync user \"{}\" can bind", self.opts.sync_dn));
                Some(client)
            }
            Err(e) => {
                let hint = if e.rc() == Some(crate::rc::INVALID_CREDENTIALS) {
                    " (if the entry existed before, give its current password, or reset it)"
                } else {
                    ""
                };
                self.report.step(Status::Failed, format!("the sync user cannot bind: {e}{hint}"));
                None
            }
        }
    }

    /// Reads the base DN as the sync user and checks that `needed` operational attributes come back.
    async fn check_base_read(&mut self, sync: &LdapClient, needed: &[&str]) -> bool {
        let base = self.opts.base_dn.clone();
        let mut attrs = vec!["*"];
        attrs.extend_from_slice(needed);
        match sync.get(&base, &attrs).await {
            Ok(Some(entry)) => {
                let missing: Vec<&str> = needed.iter().copied().filter(|a| !entry.has(a)).collect();
                if missing.is_empty() {
                    self.report.step(Status::Ok, format!("the sync user can read the base DN \"{base}\""));
                    true
                } else {
                    self.report.step(
                        Status::Failed,
                        format!("the sync user can read the base DN \"{base}\" but not its {}", missing.join(", ")),
                    );
                    false
                }
            }
            Ok(None) => {
                self.report.step(Status::Failed, format!("the sync user cannot see the base DN \"{base}\""));
                false
            }
            Err(e) => {
                self.report.step(Status::Failed, format!("the sync user cannot read the base DN \"{base}\": {e}"));
                false
            }
        }
    }

    /// Whether the sync user's entry exists (reported as unchanged when it does).
    async fn user_exists(&mut self) -> Result<bool, LdapError> {
        let exists = self.admin.get(&self.opts.sync_dn, &["1.1"]).await?.is_some();
        if exists {
            self.report.step(Status::Unchanged, format!("the sync user \"{}\" exists", self.opts.sync_dn));
        }
        Ok(exists)
    }

    /// Adds `entry` as the administrator unless an entry with its DN exists: `true` when it was created.
    async fn ensure_user(&mut self, entry: Entry) -> Result<bool, LdapError> {
        if self.user_exists().await? {
            return Ok(false);
        }
        self.admin.add(&entry).await?;
        self.report.step(Status::Changed, format!("created the sync user \"{}\"", entry.dn));
        Ok(true)
    }

    /// Makes sure `dn` holds the ACI `aci`, whose `acl "..."` name is `name`: unchanged when it is there,
    /// replaced when an ACI of that name differs, added otherwise.
    async fn ensure_aci(&mut self, dn: &str, name: &str, aci: &str, what: &str) -> Result<(), LdapError> {
        let entry = self.admin.get(dn, &["aci"]).await?.unwrap_or_else(|| Entry::new(dn));
        let marker = format!("acl \"{name}\"").to_ascii_lowercase();
        let ours: Vec<String> =
            entry.texts("aci").into_iter().filter(|v| v.to_ascii_lowercase().contains(&marker)).collect();
        if ours.len() == 1 && ours[0] == aci {
            self.report.step(Status::Unchanged, format!("{what}: the ACI on \"{dn}\" is in place"));
            return Ok(());
        }
        let mut mods = Vec::new();
        if !ours.is_empty() {
            mods.push(crate::Modification::Delete("aci".into(), ours.iter().cloned().map(Value::Text).collect()));
        }
        mods.push(crate::Modification::Add("aci".into(), vec![Value::Text(aci.to_string())]));
        self.admin.modify(dn, &mods).await?;
        let verb = if ours.is_empty() { "added" } else { "updated" };
        self.report.step(Status::Changed, format!("{what}: {verb} an ACI on \"{dn}\""));
        Ok(())
    }
}

/// Checks that the sync user may modify the base entry, without changing it: deleting a value that is not
/// there is refused with noSuchAttribute (16) after the access check passed, and insufficientAccessRights (50)
/// when it did not.
async fn check_write(run: &mut Run<'_>, sync: &LdapClient) {
    let base = run.opts.base_dn.clone();
    let probe = [crate::Modification::Delete(
        "description".into(),
        vec![Value::Text("ferrosync prepare-endpoint-server write probe".into())],
    )];
    match sync.modify(&base, &probe).await {
        Err(e) if matches!(e.rc(), Some(crate::rc::NO_SUCH_ATTRIBUTE)) => {
            run.report.step(Status::Ok, format!("the sync user may modify entries below the base DN \"{base}\""))
        }
        Ok(()) => run.report.step(Status::Ok, format!("the sync user may modify entries below the base DN \"{base}\"")),
        Err(e) => run.report.step(Status::Failed, format!("the sync user may not modify the base DN \"{base}\": {e}")),
    }
}

/// The entry of a new sync user at `dn` (cn= or uid= RDN), without a password.
fn user_entry(dn: &str) -> Result<Entry, PrepareError> {
    let parsed = parse_dn("the sync user's DN", dn)?;
    let rdn = parsed.rdn().ok_or_else(|| PrepareError::SyncRdn { dn: dn.to_string() })?;
    let ava = rdn.avas().first().ok_or_else(|| PrepareError::SyncRdn { dn: dn.to_string() })?;
    let value = ava.value().to_string();
    let mut entry = Entry::new(dn);
    match ava.attr_type().to_ascii_lowercase().as_str() {
        "cn" => {
            for oc in ["top", "person"] {
                entry.add("objectClass", Value::Text(oc.into()));
            }
            entry.add("cn", Value::Text(value.clone()));
            entry.add("sn", Value::Text(value));
        }
        "uid" => {
            for oc in ["top", "person", "organizationalPerson", "inetOrgPerson"] {
                entry.add("objectClass", Value::Text(oc.into()));
            }
            entry.add("uid", Value::Text(value.clone()));
            entry.add("cn", Value::Text(value.clone()));
            entry.add("sn", Value::Text(value));
        }
        _ => return Err(PrepareError::SyncRdn { dn: dn.to_string() }),
    }
    Ok(entry)
}

/// Prepares the server that `admin` is bound to, whose root DSE is `dse`, for ferrosync. `server` holds its
/// connection settings (security, trust, timeouts); the sync user's bind goes on top of them.
pub async fn prepare(
    admin: &LdapClient,
    server: &ServerConfig,
    dse: &Entry,
    opts: &PrepareOptions,
) -> Result<Report, PrepareError> {
    if !opts.is_source && !opts.is_destination {
        return Err(PrepareError::NoRole);
    }
    parse_dn("the base DN", &opts.base_dn)?;
    parse_dn("the sync user's DN", &opts.sync_dn)?;
    let kind = detect(dse);
    let label = server.label();
    if admin.get(&opts.base_dn, &["1.1"]).await?.is_none() {
        return Err(PrepareError::NoBaseDn {
            dn: opts.base_dn.clone(),
            server: label,
            contexts: dse.texts("namingContexts"),
        });
    }
    let sync_server = server.clone().with_bind(opts.sync_dn.clone(), opts.sync_password.clone());
    let mut run = Run {
        admin,
        sync_server,
        dse,
        opts,
        report: Report {
            server: kind.clone(),
            sync_dn: opts.sync_dn.clone(),
            steps: Vec::new(),
            instructions: Vec::new(),
        },
    };
    run.report.step(Status::Ok, format!("{} is {kind}", run.label()));
    run.report.step(Status::Ok, format!("the base DN \"{}\" exists", opts.base_dn));
    match &kind {
        ServerKind::Ds389 { .. } => ds389::prepare(&mut run).await?,
        ServerKind::OpenLdap => openldap::prepare(&mut run).await?,
        ServerKind::ActiveDirectory { .. } => ad::prepare(&mut run).await?,
        ServerKind::PingDirectory { .. } | ServerKind::Other { .. } => other(&mut run).await?,
    }
    Ok(run.report)
}

/// PingDirectory and unknown servers: check the sync user only.
async fn other(run: &mut Run<'_>) -> Result<(), PrepareError> {
    let dn = run.opts.sync_dn.clone();
    if !run.user_exists().await? {
        run.report.step(Status::ToDo, format!("the sync user \"{dn}\" does not exist; create it"));
        if matches!(run.report.server, ServerKind::PingDirectory { .. }) {
            run.report.instruct(
                "Create the sync user on PingDirectory (with PingDirectory's own dsconfig), then run this tool again:",
                vec![format!(
                    "dsconfig create-root-dn-user --user-name \"{}\" --set \"alternate-bind-dn:{dn}\" --set inherit-default-root-privileges:true",
                    dn.split(',').next().unwrap_or(&dn).trim_start_matches("cn=")
                )],
            );
        }
        return Ok(());
    }
    if let Some(sync) = run.sync_bind().await {
        run.check_base_read(&sync, &[]).await;
        sync.close().await;
    }
    run.report.step(
        Status::ToDo,
        "this server's rights and change log are not managed by this tool: check them with its own tools",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dse(pairs: &[(&str, &str)]) -> Entry {
        let mut e = Entry::new("");
        for (k, v) in pairs {
            e.add(k, Value::Text(v.to_string()));
        }
        e
    }

    #[test]
    fn detects_servers() {
        assert_eq!(
            detect(&dse(&[("vendorName", "389 Project"), ("vendorVersion", "389-Directory/2.3.1 B2023")])),
            ServerKind::Ds389 { version: "389-Directory/2.3.1 B2023".into() }
        );
        assert_eq!(detect(&dse(&[("objectClass", "top"), ("objectClass", "OpenLDAProotDSE")])), ServerKind::OpenLdap);
        assert!(matches!(
            detect(&dse(&[("supportedCapabilities", AD_CAPABILITY), ("forestFunctionality", "2")])),
            ServerKind::ActiveDirectory { .. }
        ));
        assert_eq!(
            detect(&dse(&[("vendorName", "Ping Identity Corporation"), ("vendorVersion", "PingDirectory 10")])),
            ServerKind::PingDirectory { version: "PingDirectory 10".into() }
        );
        assert_eq!(detect(&dse(&[("vendorName", "Acme")])), ServerKind::Other { vendor: "Acme".into() });
    }

    #[test]
    fn default_dns() {
        let ds = ServerKind::Ds389 { version: String::new() };
        assert_eq!(default_sync_dn(&ds, "dc=x", None), "cn=Sync User,cn=config");
        assert_eq!(default_sync_dn(&ServerKind::OpenLdap, "dc=x", None), "cn=Sync User,dc=x");
        let ad = ServerKind::ActiveDirectory { samba: true };
        assert_eq!(default_sync_dn(&ad, "OU=a,DC=x", Some("DC=x")), "CN=Sync User,CN=Users,DC=x");
    }

    #[test]
    fn user_entries() {
        let e = user_entry("cn=Sync User,cn=config").expect("cn RDN");
        assert_eq!(e.first_text("sn").as_deref(), Some("Sync User"));
        let e = user_entry("uid=sync,ou=people,dc=x").expect("uid RDN");
        assert!(e.texts("objectClass").contains(&"inetOrgPerson".to_string()));
        assert!(matches!(user_entry("ou=sync,dc=x"), Err(PrepareError::SyncRdn { .. })));
        assert!(matches!(user_entry("not a dn"), Err(PrepareError::BadDn { .. })));
    }
}
