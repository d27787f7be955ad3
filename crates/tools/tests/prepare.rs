//! prepare-endpoint-server against real servers: a 389 DS instance of its own whose Retro Changelog starts
//! off, the shared 389 DS of tests/run.sh (as a destination), an OpenLDAP instance of its own whose slapd.conf
//! gets the lines the tool prints, and the Samba AD domain controller of tests/run.sh.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrosync::entry::{Entry, Value};
use ferrosync::secret::Secret;
use ferrosync_ldap::ldap3::controls::RawControl;
use ferrosync_ldap::{LdapClient, Modification, Scope, Security, ServerConfig, Trust};
use util::{repo, unique, Run};

const SYNC_PW: &str = "Sync-Passw0rd!77";

/// Runs prepare-endpoint-server with `args` and never a terminal.
/// Its log goes to `log_root()`, not the current folder.
fn prepare<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(util::bin("prepare-endpoint-server"))
        .args(args)
        .env("FERROSYNC_ROOT", log_root())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("prepare-endpoint-server runs");
    let run = Run(out);
    for secret in [SYNC_PW, "Password1", "secret", "Passw0rd!123"] {
        assert!(
            !run.stdout().contains(secret) && !run.stderr().contains(secret),
            "a password was printed:\n{}{}",
            run.stdout(),
            run.stderr()
        );
    }
    run
}

/// The server root of this test process's prepare-endpoint-server runs (for logs/prepare-endpoint-server.log).
fn log_root() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrosync-prepare-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The lines of the report with a given status.
fn lines_with(out: &str, status: &str) -> Vec<String> {
    out.lines().filter(|l| l.trim_start().starts_with(status)).map(str::to_string).collect()
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with tests/run.sh, which starts the directory servers")
    })
}

fn client(host: &str, port: u16, dn: &str, pw: &str) -> LdapClient {
    LdapClient::single(ServerConfig::new("test", host, port).with_bind(dn, Secret::new(pw))).unwrap()
}

/// Parses a `start-*.sh` summary (`KEY='value'` lines).
fn summary(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

fn script(name: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(repo().join("tests/servers").join(name));
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{name} {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A server started by a test, stopped (and removed) when dropped.
struct OwnServer {
    dir: PathBuf,
    stop: &'static str,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("tests/servers").join(self.stop)).arg(&self.dir).arg("--rm").output();
    }
}

fn dir_for(prefix: &str) -> PathBuf {
    // kept by OwnServer (its stop script removes it); /tmp is traversable by 389's dirsrv user
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in("/tmp").unwrap().keep();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

/// An OpenLDAP instance of a test's own (the test edits its slapd.conf), removed when dropped.
struct OwnOpenLdap {
    _guard: OwnServer,
    dir: PathBuf,
    port: u16,
    ports: [String; 2],
    ca_file: String,
}

impl OwnOpenLdap {
    fn start() -> OwnOpenLdap {
        env("FERROSYNC_TEST_OPENLDAP_URL");
        let (port, sport) = (free_port(), free_port());
        let dir = dir_for("prepol-");
        let guard = OwnServer { dir: dir.clone(), stop: "stop-openldap.sh" };
        let ports = [port.to_string(), sport.to_string()];
        let args = [dir.to_str().unwrap(), &ports[0], &ports[1]];
        let info = summary(&script("start-openldap.sh", &args, &[("SLAPD_LOGLEVEL", "0")]));
        OwnOpenLdap { _guard: guard, dir, port, ports, ca_file: info["CA_FILE"].clone() }
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("slapd.conf")
    }

    fn stop(&self) {
        script("stop-openldap.sh", &[self.dir.to_str().unwrap()], &[]);
    }

    /// Starts it again with slapd.conf as the test left it.
    fn start_as_edited(&self) {
        let args = [self.dir.to_str().unwrap(), &self.ports[0], &self.ports[1]];
        script("start-openldap.sh", &args, &[("SLAPD_LOGLEVEL", "0"), ("SLAPD_KEEP_CONF", "1")]);
    }

    /// prepare-endpoint-server's options for this server as a source, then `extra`.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["-h", "127.0.0.1", "-p", &self.ports[0], "-D", "cn=admin,dc=example,dc=com"]
            .into_iter()
            .chain(["-w", "secret", "-b", "dc=example,dc=com", "--isSource", "--syncServerBindPassword", SYNC_PW, "-n"])
            .map(str::to_string)
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn admin(&self) -> LdapClient {
        client("127.0.0.1", self.port, "cn=admin,dc=example,dc=com", "secret")
    }
}

#[tokio::test]
async fn ds389_source_user_retro_changelog_restart_then_nothing_to_change() {
    // tests/run.sh's 389 DS has its Retro Changelog on already: this test creates one with it off
    env("FERROSYNC_TEST_389_URL");
    let (port, sport) = (free_port(), free_port());
    let dir = dir_for("prep389-");
    let guard = OwnServer { dir: dir.clone(), stop: "stop-389ds.sh" };
    let name = format!("tprep{port}");
    let (p, sp) = (port.to_string(), sport.to_string());
    let d = dir.to_str().unwrap();
    script(
        "start-389ds.sh",
        &[d, &p, &sp, &name],
        &[("DS_RETROCL", "0"), ("DS_CONTENT_SYNC", "0"), ("DS_NOSYNC", "1")],
    );
    let admin = client("127.0.0.1", port, "cn=Directory Manager", "Password1");
    let args = [
        "--hostname",
        "127.0.0.1",
        "--port",
        &p,
        "--bindDN",
        "cn=Directory Manager",
        "--bindPassword",
        "Password1",
        "--baseDN",
        "dc=example,dc=com",
        "--isSource",
        "--syncServerBindPassword",
        SYNC_PW,
        "--no-prompt",
    ];

    // first run: user, ACI, plugin on; the server must restart before cn=changelog exists
    let run = prepare(&args);
    assert_eq!(run.code(), 3, "{}{}", run.stdout(), run.stderr());
    let out = run.stdout();
    assert!(out.contains("is 389 Directory Server"), "{out}");
    assert!(out.contains("changed    created the sync user \"cn=Sync User,cn=config\""), "{out}");
    assert!(out.contains("changed    read access to the base DN: added an ACI on \"dc=example,dc=com\""), "{out}");
    assert!(out.contains("changed    Retro Changelog plugin: enabled it; nsslapd-attribute: nsuniqueid:targetUniqueId; nsslapd-changelogmaxage: 2d; nsslapd-include-suffix: dc=example,dc=com"), "{out}");
    assert!(out.contains("to do      restart the server"), "{out}");
    assert!(out.contains("dsctl INSTANCE restart"), "{out}");
    let plugin = admin.get("cn=Retro Changelog Plugin,cn=plugins,cn=config", &["*"]).await.unwrap().unwrap();
    assert_eq!(plugin.first_text("nsslapd-pluginEnabled").as_deref(), Some("on"));
    assert_eq!(plugin.first_text("nsslapd-changelogmaxage").as_deref(), Some("2d"));
    assert!(plugin.texts("nsslapd-attribute").contains(&"nsuniqueid:targetUniqueId".to_string()));
    // 389 DS 2.3 starts the plugin only at the next start
    assert!(admin.get("cn=changelog", &["1.1"]).await.unwrap().is_none());

    // a second run before the restart changes nothing and still asks for it
    let run = prepare(&args);
    assert_eq!(run.code(), 3);
    assert!(lines_with(&run.stdout(), "changed").is_empty(), "{}", run.stdout());
    assert!(run.stdout().contains("to do      restart the server"), "{}", run.stdout());

    admin.close().await;
    script("stop-389ds.sh", &[d], &[]);
    script("start-389ds.sh", &[d], &[]);

    // after the restart: the change log's ACI, and every check passes
    let run = prepare(&args);
    let out = run.ok();
    assert!(out.contains("changed    read access to the change log: added an ACI on \"cn=changelog\""), "{out}");
    assert!(out.contains("ok         the sync user can read cn=changelog"), "{out}");
    assert!(out.contains("ok         the sync user reads firstChangeNumber ("), "{out}");
    assert!(out.contains("Done: 1 change(s) made, and every check passed."), "{out}");

    // the sync user reads the change of a new entry, with its nsUniqueId as targetUniqueId
    let admin = client("127.0.0.1", port, "cn=Directory Manager", "Password1");
    let mut e = Entry::new("ou=prepared,dc=example,dc=com");
    e.add("objectClass", Value::from("organizationalUnit"));
    e.add("ou", Value::from("prepared"));
    admin.add(&e).await.unwrap();
    let sync = client("127.0.0.1", port, "cn=Sync User,cn=config", SYNC_PW);
    let changes = sync
        .search("cn=changelog", Scope::OneLevel, "(targetDn=ou=prepared,dc=example,dc=com)", &["targetUniqueId"])
        .await
        .unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let unique_id = sync.get("ou=prepared,dc=example,dc=com", &["nsUniqueId"]).await.unwrap().unwrap();
    assert_eq!(changes[0].first_text("targetUniqueId"), unique_id.first_text("nsUniqueId"));
    sync.close().await;
    admin.close().await;

    // and a further run changes nothing, and says so
    let out = prepare(&args).ok();
    assert!(lines_with(&out, "changed").is_empty(), "{out}");
    assert_eq!(lines_with(&out, "unchanged").len(), 4, "{out}");
    assert!(out.contains("Nothing changed: the server was already prepared, and every check passed."), "{out}");

    // the change log's maximum age, as Ping's tool sets it; the same age in another unit changes nothing
    let admin = client("127.0.0.1", port, "cn=Directory Manager", "Password1");
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let aged: Vec<&str> = args.iter().copied().chain(["--changelogMaxAge", "8h", "--server-root", root_arg]).collect();
    let run = prepare(&aged);
    let out = run.stdout();
    assert_eq!(run.code(), 3, "{out}{}", run.stderr());
    assert!(out.contains("changed    Retro Changelog plugin: nsslapd-changelogmaxage: 8h"), "{out}");
    // 389 DS 2.3 reads a plugin's settings when it starts
    assert!(out.contains("to do      restart the server"), "{out}");
    let plugin = admin.get("cn=Retro Changelog Plugin,cn=plugins,cn=config", &["*"]).await.unwrap().unwrap();
    assert_eq!(plugin.first_text("nsslapd-changelogmaxage").as_deref(), Some("8h"));
    admin.close().await;
    script("stop-389ds.sh", &[d], &[]);
    script("start-389ds.sh", &[d], &[]);
    let admin = client("127.0.0.1", port, "cn=Directory Manager", "Password1");
    let same: Vec<&str> =
        args.iter().copied().chain(["--changelogMaxAge", "480m", "--server-root", root_arg]).collect();
    let out = prepare(&same).ok();
    assert!(lines_with(&out, "changed").is_empty(), "{out}");
    let bad: Vec<&str> = args.iter().copied().chain(["--changelogMaxAge", "soon"]).collect();
    let run = prepare(&bad);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("--changelogMaxAge") && run.stderr().contains("8h, 3d or 1w"), "{}", run.stderr());
    // every run and step is in the server root's logs/prepare-endpoint-server.log, private, without a password
    let log_path = root.path().join("logs/prepare-endpoint-server.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches("] prepare-endpoint-server 127.0.0.1:").count(), 2, "{log}");
    assert!(log.contains("change log kept 8h"), "{log}");
    assert!(log.contains("changed    Retro Changelog plugin: nsslapd-changelogmaxage: 8h"), "{log}");
    assert!(log.contains("ok         the sync user reads firstChangeNumber ("), "{log}");
    assert!(!log.contains(SYNC_PW) && !log.contains("Password1"), "{log}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&log_path).unwrap().permissions().mode() & 0o777, 0o600);
    admin.close().await;

    // clear-text passwords for AD destinations: reported when off, turned on when asked
    let admin = client("127.0.0.1", port, "cn=Directory Manager", "Password1");
    let switch = |v: &str| vec![Modification::Replace("nsslapd-unhashed-pw-switch".into(), vec![Value::from(v)])];
    admin.modify("cn=config", &switch("off")).await.unwrap();
    let out = prepare(&args).ok();
    assert!(out.contains("(nsslapd-unhashed-pw-switch: off): passwords cannot reach Active Directory"), "{out}");
    assert!(lines_with(&out, "changed").is_empty(), "{out}");
    let with_flag: Vec<&str> = args.iter().copied().chain(["--recordClearTextPasswords"]).collect();
    let out = prepare(&with_flag).ok();
    assert!(out.contains("changed    nsslapd-unhashed-pw-switch: on (was off)"), "{out}");
    let config = admin.get("cn=config", &["nsslapd-unhashed-pw-switch"]).await.unwrap().unwrap();
    assert_eq!(config.first_text("nsslapd-unhashed-pw-switch").as_deref(), Some("on"));
    let out = prepare(&args).ok();
    assert!(out.contains("ok         the change log records the clear text of password changes"), "{out}");
    admin.close().await;
    drop(guard);
}

/// The shared 389 DS's port, and prepare-endpoint-server's options for it: `admin_pw`, `base`, then `extra`.
fn shared_389(admin_pw: &str, base: &str, extra: &[&str]) -> (u16, Vec<String>) {
    let url = env("FERROSYNC_TEST_389_URL");
    let port = url.rsplit(':').next().unwrap().trim_end_matches('/').to_string();
    let mut args: Vec<String> =
        ["-h", "127.0.0.1", "-p", &port, "-D", "cn=Directory Manager", "-w", admin_pw, "-b", base]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    (port.parse().unwrap(), args)
}

#[tokio::test]
async fn ds389_destination_with_password_file() {
    let name = unique("psync");
    let user = format!("cn={name},cn=config");
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, format!("{SYNC_PW}\n")).unwrap();
    let pw_path = pw_file.to_str().unwrap();
    let (port, args) = shared_389(
        "Password1",
        "dc=example,dc=com",
        &["--isDestination", "--syncServerBindDN", &user, "--syncServerBindPasswordFile", pw_path, "-n"],
    );
    let out = prepare(&args).ok();
    assert!(out.contains(&format!("changed    created the sync user \"{user}\"")), "{out}");
    assert!(out.contains("changed    read and write access below the base DN: added an ACI"), "{out}");
    assert!(out.contains("ok         the sync user may modify entries below the base DN"), "{out}");
    assert!(!out.contains("Retro Changelog"), "a destination's change log is left alone: {out}");
    let out = prepare(&args).ok();
    assert!(out.contains("Nothing changed"), "{out}");
    // an existing user with another password: a failed check that says what to do, and no password shown
    let (_, wrong) = shared_389(
        "Password1",
        "dc=example,dc=com",
        &["--isDestination", "--syncServerBindDN", &user, "--syncServerBindPassword", "Not-Its-Passw0rd", "-n"],
    );
    let run = prepare(&wrong);
    assert_eq!(run.code(), 3, "{}{}", run.stdout(), run.stderr());
    assert!(run.stdout().contains("FAILED     the sync user cannot bind: the bind DN or password"), "{}", run.stdout());
    assert!(run.stdout().contains("give its current password, or reset it"), "{}", run.stdout());
    assert!(!run.stdout().contains("Not-Its-Passw0rd"));

    // the sync user writes below the base DN
    let sync = client("127.0.0.1", port, &user, SYNC_PW);
    let dn = format!("ou={name},ou=people,dc=example,dc=com");
    let mut e = Entry::new(dn.clone());
    e.add("objectClass", Value::from("organizationalUnit"));
    e.add("ou", Value::from(name.as_str()));
    sync.add(&e).await.unwrap();
    sync.modify(&dn, &[Modification::Replace("description".into(), vec![Value::from("x")])]).await.unwrap();
    sync.delete(&dn).await.unwrap();
    sync.close().await;

    // clean up the shared server: the ACI and the user
    let admin = client("127.0.0.1", port, "cn=Directory Manager", "Password1");
    let base = admin.get("dc=example,dc=com", &["aci"]).await.unwrap().unwrap();
    let ours: Vec<Value> = base.texts("aci").into_iter().filter(|a| a.contains(&user)).map(Value::Text).collect();
    assert_eq!(ours.len(), 1);
    admin.modify("dc=example,dc=com", &[Modification::Delete("aci".into(), ours)]).await.unwrap();
    admin.delete(&user).await.unwrap();
    admin.close().await;
}

/// Inserts `lines` into slapd.conf before the first `access to` line of the database with `suffix`.
fn add_to_database(conf: &Path, suffix: &str, lines: &[String]) {
    let text = std::fs::read_to_string(conf).unwrap();
    let mut out = Vec::new();
    let mut in_db = false;
    let mut done = false;
    for line in text.lines() {
        if line.starts_with("suffix") {
            in_db = line.contains(&format!("\"{suffix}\""));
        }
        if in_db && !done && line.starts_with("access to") {
            out.extend(lines.iter().cloned());
            done = true;
        }
        out.push(line.to_string());
    }
    assert!(done, "no access line in the database of {suffix} in {}", conf.display());
    std::fs::write(conf, out.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn openldap_user_created_and_printed_access_lines_work() {
    let ol = OwnOpenLdap::start();
    let args = ol.args(&["--useStartTLS", "--trustStorePath", &ol.ca_file]);
    let run = prepare(&args);
    assert_eq!(run.code(), 3, "{}{}", run.stdout(), run.stderr());
    let out = run.stdout();
    let user = "cn=Sync User,dc=example,dc=com";
    assert!(out.contains("is OpenLDAP"), "{out}");
    assert!(out.contains(&format!("changed    created the sync user \"{user}\"")), "{out}");
    assert!(out.contains(&format!("ok         the sync user \"{user}\" can bind")), "{out}");
    assert!(out.contains("ok         the sync user can read the base DN"), "{out}");
    assert!(out.contains("to do      the sync user cannot read \"cn=accesslog\""), "{out}");
    let printed: Vec<String> = out
        .split("Left to do:")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("      ") && !l.trim_start().starts_with('#'))
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(
        printed,
        vec![
            format!("access to * by dn.exact=\"{user}\" read by * break"),
            format!("limits dn.exact=\"{user}\" size=unlimited time=unlimited"),
        ],
        "{out}"
    );
    // the password is stored hashed (set with the password modify extended operation)
    let admin = ol.admin();
    let stored = admin.get(user, &["userPassword"]).await.unwrap().unwrap().first_text("userPassword").unwrap();
    assert!(stored.starts_with('{'), "not hashed: the test would have printed it had it been the password");
    admin.close().await;

    // the printed lines, added where the tool says, make the next run pass every check
    ol.stop();
    add_to_database(&ol.conf(), "cn=accesslog", &printed);
    ol.start_as_edited();
    let out = prepare(&args).ok();
    assert!(
        out.contains("ok         the sync user can read \"cn=accesslog\", which logs changes below the base DN"),
        "{out}"
    );
    assert!(out.contains("ok         \"cn=accesslog\" has syncprov: slapd tells the sync source"), "{out}");
    assert!(out.contains("Nothing changed"), "{out}");
    let sync = client("127.0.0.1", ol.port, user, SYNC_PW);
    let logged = sync.search("cn=accesslog", Scope::OneLevel, "(reqType=add)", &["reqDN"]).await.unwrap();
    assert!(logged.iter().any(|e| e.first_text("reqDN").as_deref() == Some(user)), "{logged:?}");
    sync.close().await;
}

/// The value of a first DirSync request: SEQUENCE { flags 0, maxBytes 1048576, cookie "" }.
fn dirsync() -> RawControl {
    RawControl {
        ctype: "1.2.840.113556.1.4.841".into(),
        crit: true,
        val: Some(vec![0x30, 0x0a, 0x02, 0x01, 0x00, 0x02, 0x03, 0x10, 0x00, 0x00, 0x04, 0x00]),
    }
}

fn ad_client(dn: &str, pw: &str) -> LdapClient {
    let cfg = ServerConfig::new("ad", env("FERROSYNC_TEST_AD_HOST"), 636)
        .with_security(Security::Ssl, Trust::TrustAll)
        .with_bind(dn, Secret::new(pw));
    LdapClient::single(cfg).unwrap()
}

#[tokio::test]
async fn samba_ad_user_dirsync_rights_and_deleted_objects() {
    let host = env("FERROSYNC_TEST_AD_HOST");
    let base = env("FERROSYNC_TEST_AD_BASE_DN");
    let admin_dn = env("FERROSYNC_TEST_AD_BIND_DN");
    let admin_pw = env("FERROSYNC_TEST_AD_BIND_PW");
    let n = unique("x");
    let short: String = n.chars().rev().filter(char::is_ascii_alphanumeric).take(8).collect();
    let source_user = format!("CN=ps{short},CN=Users,{base}");
    let dest_user = format!("CN=pd{short},CN=Users,{base}");
    let run_with = |user: &str, base: &str, role: &str| {
        prepare(&[
            "-h",
            &host,
            "--useSSL",
            "--trustAll",
            "-D",
            &admin_dn,
            "-w",
            &admin_pw,
            "-b",
            base,
            role,
            "--syncServerBindDN",
            user,
            "--syncServerBindPassword",
            SYNC_PW,
            "-n",
        ])
    };

    let out = run_with(&source_user, &base, "--isSource").ok();
    assert!(out.contains("is Active Directory (Samba AD domain controller)"), "{out}");
    assert!(out.contains(&format!("changed    created the sync user \"{source_user}\"")), "{out}");
    assert!(
        out.contains("changed    \"Replicating Directory Changes\" on the domain root (for DirSync): granted"),
        "{out}"
    );
    assert!(out.contains("ok         a DirSync search as the sync user works"), "{out}");
    assert!(out.contains("ok         the sync user can read CN=Deleted Objects"), "{out}");
    let out = run_with(&source_user, &base, "--isSource").ok();
    assert!(out.contains("Nothing changed"), "{out}");

    // a DirSync search as the sync user, outside the tool
    let sync = ad_client(&source_user, SYNC_PW);
    let res = sync
        .search_with_controls(&base, Scope::Subtree, "(objectClass=user)", &["name"], vec![dirsync()])
        .await
        .unwrap();
    assert!(res.items.len() > 1, "DirSync returned {} items", res.items.len());
    sync.close().await;

    // a user prepared for a destination (below an OU) has no DirSync right: the grant above is what made it work
    let admin = ad_client(&admin_dn, &admin_pw);
    let ou_base = format!("OU=pb{short},{base}");
    let mut e = Entry::new(ou_base.clone());
    e.add("objectClass", Value::from("organizationalUnit"));
    admin.add(&e).await.unwrap();
    let out = run_with(&dest_user, &ou_base, "--isDestination").ok();
    assert!(out.contains("changed    create, delete, read and write below the base DN: granted"), "{out}");
    assert!(out.contains("ok         the sync user may modify entries below the base DN"), "{out}");
    let other = ad_client(&dest_user, SYNC_PW);
    let err = other.search_with_controls(&base, Scope::Subtree, "(objectClass=user)", &["name"], vec![dirsync()]).await;
    assert_eq!(err.err().and_then(|e| e.rc()), Some(50), "DirSync without the right must be refused");
    assert!(out.contains("changed    \"Reset Password\" below the base DN (for unicodePwd): granted"), "{out}");
    // and it writes below its base DN: a user with a password, renamed, then deleted
    let dn = format!("CN=pu{short},{ou_base}");
    let mut e = Entry::new(dn.clone());
    e.add("objectClass", Value::from("user"));
    e.add("sAMAccountName", Value::from(format!("pu{short}").as_str()));
    other.add(&e).await.unwrap();
    let pw: Vec<u8> = "\"Other-Passw0rd!88\"".encode_utf16().flat_map(u16::to_le_bytes).collect();
    other.modify(&dn, &[Modification::Replace("unicodePwd".into(), vec![Value::Binary(pw)])]).await.unwrap();
    other.delete(&dn).await.unwrap();
    other.close().await;

    admin.delete(&ou_base).await.unwrap();
    admin.delete(&source_user).await.unwrap();
    admin.delete(&dest_user).await.unwrap();
    admin.close().await;
}

#[test]
fn no_prompt_with_a_missing_bind_password_names_the_option() {
    let run = prepare(&["-h", "127.0.0.1", "-p", "1", "-b", "dc=example,dc=com", "--isSource", "--no-prompt"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("the administrator's password is missing: give --bindPassword or --bindPasswordFile"),
        "{}",
        run.stderr()
    );
    let run = prepare(&["-h", "127.0.0.1", "-p", "1", "-w", "x", "--isSource", "-n"]);
    assert_eq!(run.code(), 2);
    assert!(run.stderr().contains("the base DN is missing: give --baseDN"), "{}", run.stderr());
    let run = prepare(&["-h", "127.0.0.1", "-p", "1", "-w", "x", "-b", "dc=x", "-n"]);
    assert!(run.stderr().contains("give --isSource and/or --isDestination"), "{}", run.stderr());
    let run = prepare(&[
        "-h",
        "127.0.0.1",
        "-p",
        "1",
        "-w",
        "x",
        "-b",
        "dc=x",
        "--isSource",
        "--useSSL",
        "--useStartTLS",
        "-n",
    ]);
    assert!(run.stderr().contains("--useSSL or --useStartTLS, not both"), "{}", run.stderr());
}

#[test]
fn unreachable_server_and_wrong_admin_password_are_clear_errors() {
    let closed = free_port().to_string();
    let run = prepare(&["-h", "127.0.0.1", "-p", &closed, "-w", "x", "-b", "dc=x", "--isSource", "-n"]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains(&format!("cannot connect to LDAP server 127.0.0.1:{closed}")), "{}", run.stderr());

    let source = ["--isSource", "--syncServerBindPassword", SYNC_PW, "-n"];
    let (_, args) = shared_389("not-the-password", "dc=example,dc=com", &source);
    let run = prepare(&args);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("the bind DN or password for LDAP server"), "{}", run.stderr());
    assert!(!run.stderr().contains("not-the-password"));

    let (_, args) = shared_389("Password1", "dc=nowhere,dc=com", &source);
    let run = prepare(&args);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("the base DN \"dc=nowhere,dc=com\" does not exist"), "{}", run.stderr());
}

#[tokio::test]
async fn openldap_without_accesslog_gets_the_overlay_configuration_that_works() {
    let ol = OwnOpenLdap::start();
    ol.stop();
    // take the accesslog overlay, its module and its database out of slapd.conf
    let conf = ol.conf();
    let text = std::fs::read_to_string(&conf).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let log_db = lines.iter().position(|l| l.starts_with("suffix") && l.contains("cn=accesslog")).unwrap() - 1;
    let next_db = log_db + 1 + lines[log_db + 1..].iter().position(|l| l.starts_with("database")).unwrap();
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            !(log_db..next_db).contains(i)
                && !l.starts_with("moduleload      accesslog")
                && !["overlay         accesslog", "logdb", "logops", "logsuccess", "logpurge"]
                    .iter()
                    .any(|p| l.starts_with(p))
        })
        .map(|(_, l)| *l)
        .collect();
    std::fs::write(&conf, kept.join("\n") + "\n").unwrap();
    ol.start_as_edited();

    let args = ol.args(&[]);
    let run = prepare(&args);
    assert_eq!(run.code(), 3, "{}{}", run.stdout(), run.stderr());
    let out = run.stdout();
    assert!(out.contains("to do      no accesslog database found: turn the accesslog overlay on"), "{out}");
    // the printed block, in its three parts (each after a comment saying where it goes)
    let block: Vec<String> = out
        .split("Add to slapd.conf (create the directory, owned by slapd's user), then restart slapd:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("      "))
        .map(|l| l.trim().to_string())
        .collect();
    let mut parts: Vec<Vec<String>> = Vec::new();
    for line in block {
        if line.starts_with('#') {
            parts.push(Vec::new());
        } else {
            parts.last_mut().unwrap().push(line);
        }
    }
    assert_eq!(parts.len(), 3, "{out}");
    assert_eq!(parts[0], vec!["moduleload accesslog"]);
    assert!(parts[1].contains(&"suffix \"cn=accesslog\"".to_string()), "{out}");
    assert!(parts[2].contains(&"logdb \"cn=accesslog\"".to_string()), "{out}");

    // put it where the comments say, with a directory of this test's own, and it works
    ol.stop();
    let log_dir = ol.dir.join("newlog");
    std::fs::create_dir(&log_dir).unwrap();
    let text = std::fs::read_to_string(&conf).unwrap();
    let mut out_lines = Vec::new();
    for line in text.lines() {
        if line.starts_with("database") {
            for l in &parts[1] {
                out_lines.push(if l.starts_with("directory") {
                    format!("directory {}", log_dir.display())
                } else {
                    l.clone()
                });
            }
        }
        out_lines.push(line.to_string());
        if line.starts_with("moduleload      back_mdb") {
            out_lines.extend(parts[0].iter().cloned());
        }
    }
    out_lines.extend(parts[2].iter().cloned());
    std::fs::write(&conf, out_lines.join("\n") + "\n").unwrap();
    ol.start_as_edited();
    let admin = ol.admin();
    let mut e = Entry::new("ou=logged,dc=example,dc=com");
    e.add("objectClass", Value::from("organizationalUnit"));
    admin.add(&e).await.unwrap();
    admin.close().await;
    let out = prepare(&args).ok();
    assert!(
        out.contains("ok         the sync user can read \"cn=accesslog\", which logs changes below the base DN"),
        "{out}"
    );
    // the printed block has no syncprov on the log: the source polls it, and the tool says how to change that
    assert!(out.contains("ok         \"cn=accesslog\" has no syncprov the sync user may use"), "{out}");
    assert!(out.contains("Nothing changed"), "{out}");
}
