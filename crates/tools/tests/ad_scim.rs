//! `sample-dsconfig-batch-files/reference-sync-activedirectory-to-scim2.dsconfig` end to end: the sample,
//! pointed at the Samba AD domain controller (`FERROSYNC_TEST_AD_*`, over LDAPS) and at scim2-server
//! (`FERROSYNC_TEST_SCIM2_*`), synchronizes AD users and a group with resync, then changes in real time.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::process::Command;
use std::time::Duration;

use ferrosync::entry::Value;
use ferrosync_ldap::{LdapClient, Modification};
use serde_json::Value as Json;
use util::scenario::entry;
use util::{eventually, repo, unique, Root, Server, ServerGuard};

const WAIT: Duration = Duration::from_secs(60);
const PIPE: &str = "ad-to-scim";

/// The test's subtree `OU=<t>,<domain>` with a `CN=Users` container (where the sample's sync classes look),
/// and a root configured from the sample.
struct World {
    root: Root,
    ad: LdapClient,
    /// `CN=Users,OU=<t>,DC=samdom,...`.
    users: String,
    /// A suffix that makes `sAMAccountName`s unique in the domain.
    sfx: String,
    scim_url: String,
    scim_token: String,
}

impl World {
    async fn new(name: &str) -> World {
        let server = Server::from_env("AD");
        let var = |k: &str| {
            let name = format!("FERROSYNC_TEST_SCIM2_{k}");
            std::env::var(&name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with tests/run.sh, which starts scim2-server (tests/servers/start-scim2-server.sh)")
            })
        };
        // ferrosync goes through the HTTPS gateway; the test reads the service itself.
        let (scim_url, scim_token, gateway) = (var("URL"), var("TOKEN"), var("GATEWAY_URL"));
        let ad = server.client();
        let t = unique(name);
        let base = format!("OU={t},{}", server.base_dn);
        ad.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.expect("add the test OU");
        let users = format!("CN=Users,{base}");
        ad.add(&entry(&users, &[("objectClass", "container"), ("cn", "Users")])).await.expect("add CN=Users");
        let text = std::fs::read_to_string(
            repo().join("sample-dsconfig-batch-files/reference-sync-activedirectory-to-scim2.dsconfig"),
        )
        .expect("read the sample")
        .replace("server-host-name:ad.example.com", &format!("server-host-name:{}", server.host))
        .replace(
            "--set connection-security:ssl",
            "--set connection-security:ssl --set trust-manager-provider:trust-all",
        )
        .replace("\"bind-dn:cn=sync,cn=Users,dc=example,dc=com\"", &format!("\"bind-dn:{}\"", server.bind_dn))
        .replace("password:ChangeMe", &format!("\"password:{}\"", server.bind_pw))
        .replace("https://scim.example.com/v2", &gateway)
        .replace("bearer-token:s3cret", &format!("bearer-token:{scim_token}"))
        .replace("dc=example,dc=com", &base);
        // Samba's certificate is self-signed: trust it blindly (a real AD has a CA the JVM-style trust store knows).
        let text = format!(
            "dsconfig create-trust-manager-provider --provider-name trust-all --type blind-trust --set enabled:true\n{text}\
             dsconfig set-sync-pipe-prop --pipe-name {PIPE} --set \"change-detection-polling-interval:200 ms\"\n"
        );
        let root = Root::new();
        let file = root.write("ad-scim.dsconfig", &text);
        root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().expect("utf-8 path")]).ok();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos();
        let sfx = format!("{:07x}", (nanos ^ u128::from(std::process::id()) << 20) % 0xfff_ffff);
        World { root, ad, users, sfx, scim_url, scim_token }
    }

    fn display(&self, cn: &str) -> String {
        format!("{cn} {}", self.sfx)
    }

    fn sam(&self, cn: &str) -> String {
        format!("{cn}{}", self.sfx)
    }

    /// Adds the AD user `CN=<cn> <sfx>,CN=Users,<t>` whose `sAMAccountName` is [`World::sam`]. The CN (the
    /// SCIM displayName, by which a member is found) is unique among the runs that share the SCIM server.
    async fn add_user(&self, cn: &str, extra: &[(&str, &str)]) -> String {
        let dn = format!("CN={},{}", self.display(cn), self.users);
        let sam = self.sam(cn);
        let mut attrs =
            vec![("objectClass", "user"), ("sAMAccountName", sam.as_str()), ("sn", "Tester"), ("givenName", "Given")];
        attrs.extend_from_slice(extra);
        self.ad.add(&entry(&dn, &attrs)).await.expect("add the AD user");
        dn
    }

    async fn add_group(&self, cn: &str, members: &[&str]) -> String {
        let dn = format!("CN={cn},{}", self.users);
        let sam = self.sam(cn);
        let mut attrs = vec![("objectClass", "group"), ("sAMAccountName", sam.as_str())];
        attrs.extend(members.iter().map(|m| ("member", *m)));
        self.ad.add(&entry(&dn, &attrs)).await.expect("add the AD group");
        dn
    }

    fn get(&self, path: &str) -> Json {
        let out = Command::new("curl")
            .args(["-s", "-f", "-H", &format!("Authorization: Bearer {}", self.scim_token)])
            .arg(format!("{}/{path}", self.scim_url))
            .output()
            .expect("run curl");
        assert!(out.status.success(), "GET {path}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("a JSON answer")
    }

    /// The resource of `endpoint` whose `attr` is `value`, if any.
    fn find(&self, endpoint: &str, attr: &str, value: &str) -> Option<Json> {
        let filter = format!("{attr} eq \"{value}\"").replace(' ', "%20").replace('"', "%22");
        let j = self.get(&format!("{endpoint}?filter={filter}"));
        let r = j["Resources"].as_array().cloned().unwrap_or_default();
        assert!(r.len() <= 1, "{j}");
        r.into_iter().next()
    }

    fn user(&self, cn: &str) -> Option<Json> {
        self.find("Users", "userName", &self.sam(cn))
    }

    fn group(&self, cn: &str) -> Option<Json> {
        self.find("Groups", "displayName", cn)
    }

    fn sync_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/sync")).unwrap_or_default()
    }
}

/// The SCIM ids of a group's members, sorted.
fn member_ids(g: &Json) -> Vec<String> {
    let mut v: Vec<String> = g["members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

fn id(j: &Json) -> String {
    j["id"].as_str().expect("a SCIM id").to_string()
}

/// Users and a group created in AD reach scim2-server with resync (userName = sAMAccountName, name, emails,
/// the group's members as SCIM ids); then, with the pipe running, a modify of a user and a new member do too.
#[tokio::test]
async fn ad_to_scim2_sample_resync_and_realtime() {
    let w = World::new("adscim").await;
    let alice =
        w.add_user("alice", &[("mail", "alice@example.com"), ("title", "Engineer"), ("department", "R&D")]).await;
    let bob = w.add_user("bob", &[("mail", "bob@example.com")]).await;
    let group = format!("staff{}", w.sfx);
    let group_dn = w.add_group(&group, &[&alice, &bob]).await;

    // Users first, then everything: a group finds its members at the service (by displayName, from their CN).
    let out = w.root.run("resync", &["--pipe-name", PIPE, "--sourceSearchFilter", "(objectClass=user)"]).ok();
    assert!(out.contains("2 entries were created"), "{out}");
    let out = w.root.run("resync", &["--pipe-name", PIPE]).ok();
    let a = w.user("alice").unwrap_or_else(|| panic!("alice reached scim2-server\n{out}"));
    assert_eq!(a["displayName"], w.display("alice"), "{a}");
    assert_eq!(a["title"], "Engineer", "{a}");
    assert_eq!(a["name"]["givenName"], "Given", "{a}");
    assert_eq!(a["name"]["familyName"], "Tester", "{a}");
    assert_eq!(a["emails"][0]["value"], "alice@example.com", "{a}");
    assert_eq!(a["emails"][0]["type"], "work", "{a}");
    assert_eq!(a["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "R&D", "{a}");
    let b = w.user("bob").unwrap_or_else(|| panic!("bob reached scim2-server\n{out}"));
    assert_eq!(b["emails"][0]["value"], "bob@example.com", "{b}");
    let g = w.group(&group).unwrap_or_else(|| panic!("the group reached scim2-server\n{out}"));
    let mut want = vec![id(&a), id(&b)];
    want.sort();
    assert_eq!(member_ids(&g), want, "{g}\n{out}");

    // Real time: DirSync from the end of the change log.
    let out = w.root.run("realtime-sync", &["set-startpoint", "--pipe-name", PIPE, "--end-of-changelog"]).ok();
    assert!(out.contains("The startpoint has been set"), "{out}");
    w.root.run("realtime-sync", &["start", "--pipe-name", PIPE]).ok();
    let _server = ServerGuard::start(&w.root);
    w.ad.modify(
        &alice,
        &[
            Modification::Replace("title".into(), vec![Value::from("Manager")]),
            Modification::Replace("mail".into(), vec![Value::from("alice.new@example.com")]),
        ],
    )
    .await
    .expect("modify alice in AD");
    eventually("the modify of alice reaches scim2-server", WAIT, || async {
        w.user("alice").is_some_and(|a| {
            a["title"] == "Manager"
                && a["emails"].as_array().is_some_and(|e| e.len() == 1)
                && a["emails"][0]["value"] == "alice.new@example.com"
        })
    })
    .await;
    let carol = w.add_user("carol", &[("mail", "carol@example.com")]).await;
    w.ad.modify(&group_dn, &[Modification::Add("member".into(), vec![Value::from(carol.as_str())])])
        .await
        .expect("add carol to the group");
    let reached = || async {
        let (Some(c), Some(g)) = (w.user("carol"), w.group(&group)) else { return false };
        let mut want = vec![id(&a), id(&b), id(&c)];
        want.sort();
        member_ids(&g) == want
    };
    let start = std::time::Instant::now();
    while !reached().await {
        assert!(
            start.elapsed() < WAIT,
            "carol and her membership reach scim2-server: not within {WAIT:?}\ncarol: {:?}\ngroup: {:?}\nsync log:\n{}",
            w.user("carol"),
            w.group(&group),
            w.sync_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = w.sync_log();
    assert!(!log.contains("change-failed"), "{log}");
}
