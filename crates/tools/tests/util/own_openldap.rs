//! An OpenLDAP server of a test's own (tests/servers/start-openldap.sh on free ports), to pause, stop and restart
//! without disturbing the other tests.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ferrosync_ldap::LdapClient;

use super::scenario::{entry, Scenario};

/// An OpenLDAP server of the test's own, stopped (and its files removed) when dropped.
pub struct OwnOpenLdap {
    dir: tempfile::TempDir,
    pub port: u16,
    ldaps_port: u16,
    pid: i32,
    /// Extra environment of start-openldap.sh (`SLAPD_PPOLICY_DEFAULT=1`).
    env: Vec<(String, String)>,
}

impl OwnOpenLdap {
    pub fn start() -> OwnOpenLdap {
        OwnOpenLdap::start_with(&[])
    }

    /// Started with extra environment for start-openldap.sh (`SLAPD_PPOLICY_DEFAULT=1`: binds of locked entries
    /// fail).
    pub fn start_with(env: &[(&str, &str)]) -> OwnOpenLdap {
        let mut s = OwnOpenLdap {
            dir: tempfile::tempdir().unwrap(),
            port: super::free_port(),
            ldaps_port: super::free_port(),
            pid: 0,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        };
        s.up();
        s
    }

    pub fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("ol")
    }

    /// Starts slapd (again, on the same ports and database).
    pub fn up(&mut self) {
        let out = std::process::Command::new(super::repo().join("tests/servers/start-openldap.sh"))
            .args([self.data().to_str().unwrap(), &self.port.to_string(), &self.ldaps_port.to_string()])
            .env("SLAPD_LOGLEVEL", "0")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let summary = String::from_utf8_lossy(&out.stdout);
        self.pid = summary
            .lines()
            .find_map(|l| l.strip_prefix("PID="))
            .map(|v| v.trim_matches('\'').parse().unwrap())
            .expect("start-openldap.sh prints the PID");
    }

    pub fn down(&self) {
        std::process::Command::new(super::repo().join("tests/servers/stop-openldap.sh"))
            .arg(self.data())
            .output()
            .unwrap();
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), sig).unwrap();
    }

    pub fn client(&self) -> LdapClient {
        LdapClient::single(
            ferrosync_ldap::ServerConfig::new("own", "127.0.0.1", self.port)
                .with_bind("cn=admin,dc=example,dc=com", ferrosync::secret::Secret::new("secret")),
        )
        .unwrap()
    }

    /// Takes the place of the scenario's OpenLDAP server (`openldap`, the source or the destination): the same
    /// subtree is created in it, and the external server points at it, with short timeouts.
    pub async fn adopt(&self, s: &Scenario) {
        let c = self.client();
        let ou = s.base.split(',').next().unwrap().trim_start_matches("ou=").to_string();
        c.add(&entry(&s.base, &[("objectClass", "organizationalUnit"), ("ou", &ou)])).await.unwrap();
        for sub in ["people", "groups", "staff"] {
            c.add(&entry(&format!("ou={sub},{}", s.base), &[("objectClass", "organizationalUnit"), ("ou", sub)]))
                .await
                .unwrap();
        }
        s.dsconfig(&format!(
            "dsconfig set-external-server-prop --server-name openldap --set server-port:{} \
                 --set \"connect-timeout:1 s\" --set \"response-timeout:2 s\"\n",
            self.port
        ));
    }
}

impl Drop for OwnOpenLdap {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), nix::sys::signal::Signal::SIGCONT);
        self.down();
    }
}
