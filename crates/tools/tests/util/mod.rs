//! Test helpers: a throwaway server root and a way to run the real binaries in it.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod corpus;
pub mod own_openldap;
pub mod pty;
pub mod scenario;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferrosync::config::Config;
use ferrosync::store::{ServerRoot, Store};

/// A fresh server root in a temporary folder.
pub struct Root {
    pub dir: tempfile::TempDir,
    /// The store the tools are given with `--store` (`None`: the root's own, SQLite).
    pub store: Option<String>,
}

impl Root {
    /// A fresh root with its own SQLite store; or, when `FERROSYNC_TEST_STORE` is `postgresql` (tests/run.sh
    /// runs the real-time and resync suites a second time so), a store of its own in the test PostgreSQL.
    pub fn new() -> Self {
        match std::env::var("FERROSYNC_TEST_STORE").as_deref() {
            Ok("postgresql") => Root::with_store(&ferrosync_testkit::postgres::fresh_url_text("suite")),
            Ok("sqlite") | Err(_) => Root { dir: tempfile::tempdir().unwrap(), store: None },
            Ok(other) => panic!("FERROSYNC_TEST_STORE '{other}': expected postgresql or sqlite"),
        }
    }

    /// A fresh root whose tools all get `--store URL`.
    pub fn with_store(url: &str) -> Self {
        Root { dir: tempfile::tempdir().unwrap(), store: Some(url.to_string()) }
    }

    /// The root as the library sees it, with its store.
    pub fn server_root(&self) -> ServerRoot {
        let root = ServerRoot::new(self.path());
        match &self.store {
            Some(url) => root.with_store(ferrosync::store::StoreLocation::parse(url).unwrap()),
            None => root,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a tool in this root (with `--server-root` after the arguments, as a global option may be).
    pub fn run(&self, tool: &str, args: &[&str]) -> Run {
        self.run_env(tool, args, &[])
    }

    /// Runs `tool` with `env` set in its environment (such as `SSL_CERT_FILE`).
    pub fn run_env(&self, tool: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(bin(tool));
        cmd.args(args).arg("--server-root").arg(self.path());
        if let Some(store) = &self.store {
            cmd.arg("--store").arg(store);
        }
        cmd.env_remove("FERROSYNC_ROOT").env_remove("FERROSYNC_LAUNCHER_ROOT").env_remove("FERROSYNC_STORE");
        cmd.envs(env.iter().copied());
        Run(cmd.output().unwrap())
    }

    pub fn dsconfig(&self, args: &[&str]) -> Run {
        self.run("dsconfig", args)
    }

    /// Writes a file below the root and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The configuration as stored.
    pub fn config(&self) -> Config {
        Store::open(&self.server_root()).unwrap().load().unwrap()
    }
}

pub fn bin(tool: &str) -> PathBuf {
    match tool {
        "dsconfig" => PathBuf::from(env!("CARGO_BIN_EXE_dsconfig")),
        "resync" => PathBuf::from(env!("CARGO_BIN_EXE_resync")),
        "realtime-sync" => PathBuf::from(env!("CARGO_BIN_EXE_realtime-sync")),
        "start-server" => PathBuf::from(env!("CARGO_BIN_EXE_start-server")),
        "stop-server" => PathBuf::from(env!("CARGO_BIN_EXE_stop-server")),
        "status" => PathBuf::from(env!("CARGO_BIN_EXE_status")),
        "create-sync-pipe-config" => PathBuf::from(env!("CARGO_BIN_EXE_create-sync-pipe-config")),
        "prepare-endpoint-server" => PathBuf::from(env!("CARGO_BIN_EXE_prepare-endpoint-server")),
        "config-diff" => PathBuf::from(env!("CARGO_BIN_EXE_config-diff")),
        "store-copy" => PathBuf::from(env!("CARGO_BIN_EXE_store-copy")),
        other => panic!("unknown tool {other}"),
    }
}

/// The repository's top folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub struct Run(pub Output);

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.0.status.success(),
            "expected success, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts failure and returns stderr.
    #[track_caller]
    pub fn fails(&self) -> String {
        assert!(!self.0.status.success(), "expected failure\nstdout:\n{}\nstderr:\n{}", self.stdout(), self.stderr());
        self.stderr()
    }
}

/// A directory server started by `tests/run.sh`, from its `FERROSYNC_TEST_<PREFIX>_*` variables.
#[derive(Clone)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub bind_dn: String,
    pub bind_pw: String,
    pub base_dn: String,
}

impl Server {
    /// `prefix` is `OPENLDAP` or `389`.
    pub fn from_env(prefix: &str) -> Server {
        let var = |k: &str| {
            let name = format!("FERROSYNC_TEST_{prefix}_{k}");
            std::env::var(&name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with tests/run.sh, which starts the directory servers (or start them with tests/servers/start-*.sh and export their summary with SUMMARY_PREFIX=FERROSYNC_TEST_{prefix}_)")
            })
        };
        let url = var("URL");
        let hostport = url.trim_start_matches("ldap://").trim_end_matches('/');
        let (host, port) = hostport.rsplit_once(':').unwrap();
        Server {
            host: host.to_string(),
            port: port.parse().unwrap(),
            bind_dn: var("BIND_DN"),
            bind_pw: var("BIND_PW"),
            base_dn: var("BASE_DN"),
        }
    }

    pub fn client(&self) -> ferrosync_ldap::LdapClient {
        let cfg = ferrosync_ldap::ServerConfig::new("test", &self.host, self.port)
            .with_bind(&self.bind_dn, ferrosync::secret::Secret::new(&self.bind_pw));
        ferrosync_ldap::LdapClient::single(cfg).unwrap()
    }

    /// dsconfig lines that create this server as external server `name`.
    pub fn dsconfig(&self, name: &str) -> String {
        format!(
            "dsconfig create-external-server --server-name {name} --type generic-ldap --set server-host-name:{} --set server-port:{} --set \"bind-dn:{}\" --set \"password:{}\"\n",
            self.host, self.port, self.bind_dn, self.bind_pw
        )
    }
}

/// A unique name for a test's subtree.
/// A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it), for a server a test starts itself.
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

pub fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{name}-{}-{:x}{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed))
}

/// Waits until `check` holds, up to `limit`; panics with `what` otherwise. Functional, not a timing assertion.
pub async fn eventually<F, Fut>(what: &str, limit: std::time::Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: not reached within {limit:?}");
}

/// Runs the sync server of a root for the length of a test: stopped when dropped.
pub struct ServerGuard<'a> {
    pub root: &'a Root,
}

impl<'a> ServerGuard<'a> {
    /// Starts the server with `start-server`.
    pub fn start(root: &'a Root) -> ServerGuard<'a> {
        let out = root.run("start-server", &[]).ok();
        assert!(out.contains("The sync server started"), "{out}");
        ServerGuard { root }
    }

    /// The server's pid.
    pub fn pid(&self) -> i32 {
        std::fs::read_to_string(self.root.path().join("logs/server.pid")).unwrap().trim().parse().unwrap()
    }
}

impl Drop for ServerGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failing test says what the server saw: its status and the tail of each log.
            let status = self.root.run("status", &["--script-friendly"]);
            eprintln!("--- status at the failure ---\n{}{}", status.stdout(), status.stderr());
            dump_logs(self.root.path());
        }
        let _ = self.root.run("stop-server", &[]);
    }
}

/// Prints the last lines of each file under `root/logs` to stderr (for a failing test's report).
pub fn dump_logs(root: &Path) {
    let Ok(dir) = std::fs::read_dir(root.join("logs")) else { return };
    let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(60)..];
        eprintln!("--- {} (last {} of {} lines) ---\n{}", p.display(), tail.len(), lines.len(), tail.join("\n"));
    }
}

/// The throwaway CA that the HTTPS test servers' certificates chain to (tests/servers/make-https-ca.sh, which
/// tests/run.sh runs): `(ca_file, system_bundle)`. tests/run.sh sets `SSL_CERT_FILE` to the system's bundle
/// plus this CA, so the tools trust the test servers through the system's CA store, as an operator's system
/// trusts a corporate CA; `SSL_CERT_FILE=<system_bundle>` runs a tool without it.
pub fn https_ca() -> (String, String) {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: run the tests with tests/run.sh, which makes the HTTPS test CA")
        })
    };
    (var("FERROSYNC_TEST_HTTPS_CA_FILE"), var("FERROSYNC_TEST_HTTPS_SYSTEM_BUNDLE"))
}

/// Runs a store-making command (keytool or openssl) and panics with its output when it fails.
fn store_tool(program: &str, args: &[&str]) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (tests/servers/install-deps.sh java installs keytool): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Trust stores holding the CA certificate `ca` (PEM), made the way an operator makes them, each with the PIN
/// `pin`: `(jks, pkcs12, openssl_pkcs12)`, where the first two are keytool's (`keytool -importcert`) and the
/// last is `openssl pkcs12 -export -nokeys`.
#[allow(dead_code)]
pub fn trust_stores(ca: &str, dir: &Path, pin: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (jks, p12, openssl) = (dir.join("trust.jks"), dir.join("trust.p12"), dir.join("trust-openssl.p12"));
    for (file, kind) in [(&jks, "JKS"), (&p12, "PKCS12")] {
        let file = file.to_str().unwrap();
        store_tool(
            "keytool",
            &["-importcert", "-noprompt", "-alias", "test-ca", "-file", ca, "-keystore", file, "-storetype", kind]
                .into_iter()
                .chain(["-storepass", pin])
                .collect::<Vec<_>>(),
        );
    }
    let pass = format!("pass:{pin}");
    store_tool(
        "openssl",
        &["pkcs12", "-export", "-nokeys", "-in", ca, "-out", openssl.to_str().unwrap(), "-passout", &pass],
    );
    (jks, p12, openssl)
}

/// Key stores holding the certificate `cert` and key `key` (PEM) and the CA `ca` after it, each with the PIN
/// `pin`: `(pkcs12, jks, pem)`: `openssl pkcs12 -export`, then `keytool -importkeystore` of it into a JKS, and
/// the PEM file of the certificate, the CA and the key.
#[allow(dead_code)]
pub fn key_stores(cert: &str, key: &str, ca: &str, dir: &Path, pin: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (p12, jks, pem) = (dir.join("client.p12"), dir.join("client.jks"), dir.join("client.pem"));
    let pass = format!("pass:{pin}");
    let p12s = p12.to_str().unwrap();
    store_tool(
        "openssl",
        &["pkcs12", "-export", "-in", cert, "-inkey", key, "-certfile", ca, "-name", "client", "-out", p12s]
            .into_iter()
            .chain(["-passout", &pass])
            .collect::<Vec<_>>(),
    );
    store_tool(
        "keytool",
        &[
            "-importkeystore",
            "-noprompt",
            "-srckeystore",
            p12s,
            "-srcstoretype",
            "PKCS12",
            "-srcstorepass",
            pin,
            "-destkeystore",
            jks.to_str().unwrap(),
            "-deststoretype",
            "JKS",
            "-deststorepass",
            pin,
        ],
    );
    let text: String = [cert, ca, key].iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    std::fs::write(&pem, text).unwrap();
    (p12, jks, pem)
}

/// `GET path` on 127.0.0.1:port over plain HTTP/1.0: the status and the body, `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Enables the HTTP Connection Handler of `root` on `port` with servlet extension `extension`, as Ping's
/// documentation does.
pub fn enable_http(root: &Root, port: u16, extension: &str) {
    root.dsconfig(&[
        "set-connection-handler-prop",
        "--handler-name",
        "HTTP Connection Handler",
        "--set",
        &format!("listen-port:{port}"),
        "--set",
        "enabled:true",
        "--add",
        &format!("http-servlet-extension:{extension}"),
    ])
    .ok();
}
