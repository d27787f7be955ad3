//! A test's world: a server root with a pipe between the shared test servers, in a subtree of its own.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ferrosync::entry::Entry;
use ferrosync_ldap::{LdapClient, Scope};

use super::{unique, Root, Run, Server, ServerGuard};

/// A test's world: a server root configured with a pipe from `ou=T,dc=example,dc=com` at 389 DS to the same
/// DN at OpenLDAP, where T is unique to the test.
pub struct Scenario {
    pub root: Root,
    pub base: String,
    pub src: LdapClient,
    pub dst: LdapClient,
    pub src_server: Server,
    pub dst_server: Server,
}

/// The external server name of a test server.
pub fn server_name(server: &str) -> &'static str {
    match server {
        "389" => "ds389",
        "389CS" => "ds389cs",
        _ => "openldap",
    }
}

impl Scenario {
    /// 389 DS (read through its retro changelog) to OpenLDAP.
    pub async fn new(name: &str) -> Scenario {
        Scenario::with(name, "389", "OPENLDAP", "generic-ldap").await
    }

    /// From the server `src` (`389` or `OPENLDAP`) to `dst`, the source of type `source_type`.
    pub async fn with(name: &str, from: &str, to: &str, source_type: &str) -> Scenario {
        Scenario::in_root(name, from, to, source_type, Root::new()).await
    }

    /// [`Scenario::with`] in `root` (a root whose tools get `--store`, say).
    pub async fn in_root(name: &str, from: &str, to: &str, source_type: &str, root: Root) -> Scenario {
        let src_server = Server::from_env(from);
        let dst_server = Server::from_env(to);
        let t = unique(name);
        let base = format!("ou={t},{}", src_server.base_dn);
        let (src, dst) = (src_server.client(), dst_server.client());
        for c in [&src, &dst] {
            c.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
            for ou in ["people", "groups", "staff"] {
                c.add(&entry(&format!("ou={ou},{base}"), &[("objectClass", "organizationalUnit"), ("ou", ou)]))
                    .await
                    .unwrap();
            }
        }
        let s = Scenario { root, base, src, dst, src_server, dst_server };
        let uid = if from.starts_with("389") { "nsUniqueId" } else { "entryUUID" };
        let (src_name, dst_name) = (server_name(from), server_name(to));
        let batch = format!(
            "{}{}\
             dsconfig create-sync-source --source-name src --type {source_type} --set base-dn:{base} --set server:{src_name} --set unique-id-attribute:{uid}\n\
             dsconfig create-sync-destination --destination-name dst --type generic-ldap --set base-dn:{base} --set server:{dst_name}\n\
             dsconfig create-sync-pipe --pipe-name p --set sync-source:src --set sync-destination:dst --set num-worker-threads:4 --set \"change-detection-polling-interval:100 ms\"\n",
            s.src_server.dsconfig(src_name),
            s.dst_server.dsconfig(dst_name),
            base = s.base
        );
        s.dsconfig(&batch);
        s
    }

    /// Applies dsconfig batch text (`BASE` stands for the test's base DN).
    pub fn dsconfig(&self, text: &str) {
        let file = self.root.write(&format!("{}.dsconfig", unique("b")), &text.replace("BASE", &self.base));
        self.root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    }

    pub fn resync(&self, args: &[&str]) -> Run {
        let mut all = vec!["--pipe-name", "p"];
        all.extend_from_slice(args);
        self.root.run("resync", &all)
    }

    /// The resync log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/tools/resync.log")).unwrap_or_default()
    }

    pub fn dn(&self, rdn: &str) -> String {
        format!("{rdn},{}", self.base)
    }

    pub async fn add_person(&self, uid: &str, extra: &[(&str, &str)]) -> String {
        let dn = self.dn(&format!("uid={uid},ou=people"));
        let defaults = [
            ("objectClass", "inetOrgPerson"),
            ("objectClass", "organizationalPerson"),
            ("objectClass", "person"),
            ("uid", uid),
            ("cn", uid),
            ("sn", "Tester"),
            ("givenName", "Given"),
        ];
        // `extra` replaces the defaults of the attributes it names.
        let mut attrs: Vec<(&str, &str)> =
            defaults.iter().filter(|(a, _)| !extra.iter().any(|(b, _)| a == b)).copied().collect();
        attrs.extend_from_slice(extra);
        self.src.add(&entry(&dn, &attrs)).await.unwrap();
        dn
    }

    pub async fn dst_get(&self, dn: &str) -> Option<Entry> {
        self.dst.get(dn, &["*"]).await.unwrap()
    }

    pub async fn dst_count(&self, sub: &str) -> usize {
        self.dst.search(&self.dn(sub), Scope::OneLevel, "(objectClass=*)", &["1.1"]).await.unwrap().len()
    }
}

/// Sets the start point of pipe `p` at the end of the change log, starts the pipe and the server.
pub fn go(s: &Scenario) -> ServerGuard<'_> {
    let out = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
    assert!(out.contains("The startpoint has been set for Sync Pipe 'p'"), "{out}");
    s.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    ServerGuard::start(&s.root)
}

pub fn entry(dn: &str, attrs: &[(&str, &str)]) -> Entry {
    let mut e = Entry::new(dn);
    for (a, v) in attrs {
        e.add(a, *v);
    }
    e
}

pub const PEOPLE_ALL: &str =
    "dsconfig create-sync-class --pipe-name p --class-name people --set include-base-dn:ou=people,BASE \
    --set \"include-filter:(objectClass=inetOrgPerson)\" --set destination-correlation-attributes:dn\n";
