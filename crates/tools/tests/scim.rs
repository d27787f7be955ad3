//! The SCIM 2.0 destination against two real SCIM servers (python-scim `scim2-server` and npm `scimmy`),
//! fed by resync from 389 DS. `tests/run.sh` starts them and exports `FERROSYNC_TEST_SCIM2_URL`/`_TOKEN` and
//! `FERROSYNC_TEST_SCIMMY_URL`/`_TOKEN`.
#![allow(clippy::unwrap_used)]

mod util;

use std::process::Command;

use ferrosync::endpoint::{Correlated, Destination, Modification};
use ferrosync::entry::Value;
use ferrosync::mapping::PipeMapping;
use ferrosync::secret::SecretBox;
use ferrosync::store::ServerRoot;
use serde_json::{json, Value as Json};
use util::scenario::entry;
use util::{repo, unique, Root, Server};

struct Scim {
    url: String,
    token: String,
}

impl Scim {
    fn from_env(prefix: &str) -> Scim {
        let var = |k: &str| {
            let name = format!("FERROSYNC_TEST_{prefix}_{k}");
            std::env::var(&name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with tests/run.sh, which starts the SCIM servers (tests/servers/start-scim2-server.sh, start-scimmy.sh)")
            })
        };
        Scim { url: var("URL"), token: var("TOKEN") }
    }

    fn curl(&self, method: &str, path: &str, body: Option<&Json>) -> (u16, Json) {
        let mut c = Command::new("curl");
        c.args(["-s", "-w", "\n%{http_code}", "-X", method, "-H", &format!("Authorization: Bearer {}", self.token)]);
        c.args(["-H", "Content-Type: application/scim+json"]);
        if let Some(b) = body {
            c.args(["--data", &b.to_string()]);
        }
        c.arg(format!("{}/{path}", self.url));
        let out = String::from_utf8(c.output().unwrap().stdout).unwrap();
        let (body, code) = out.rsplit_once('\n').unwrap();
        (code.trim().parse().unwrap(), serde_json::from_str(body).unwrap_or(Json::Null))
    }

    fn find(&self, endpoint: &str, attr: &str, value: &str) -> Option<Json> {
        let filter = format!("{attr} eq \"{value}\"").replace(' ', "%20").replace('"', "%22");
        let (code, j) = self.curl("GET", &format!("{endpoint}?filter={filter}"), None);
        assert_eq!(code, 200, "{j}");
        let r = j["Resources"].as_array().cloned().unwrap_or_default();
        assert!(r.len() <= 1, "{j}");
        r.into_iter().next()
    }
}

/// A pipe from a fresh subtree of 389 DS to the SCIM server `prefix`, configured from the sample batch file.
struct World {
    root: Root,
    base: String,
    t: String,
    src: ferrosync_ldap::LdapClient,
    scim: Scim,
}

impl World {
    async fn new(name: &str, prefix: &str, token_override: Option<&str>) -> World {
        let server = Server::from_env("389");
        let scim = Scim::from_env(prefix);
        let t = unique(name).replace('-', "");
        let base = format!("ou={t},{}", server.base_dn);
        let src = server.client();
        src.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
        for ou in ["people", "groups"] {
            src.add(&entry(&format!("ou={ou},{base}"), &[("objectClass", "organizationalUnit"), ("ou", ou)]))
                .await
                .unwrap();
        }
        let text =
            std::fs::read_to_string(repo().join("sample-dsconfig-batch-files/reference-sync-ldap-to-scim2.dsconfig"))
                .unwrap()
                .replace("server-port:13890", &format!("server-port:{}", server.port))
                .replace("server-host-name:127.0.0.1", &format!("server-host-name:{}", server.host))
                .replace("password:Password1", &format!("password:{}", server.bind_pw))
                .replace("http://127.0.0.1:18080/v2", &scim.url)
                .replace("bearer-token:s3cret", &format!("bearer-token:{}", token_override.unwrap_or(&scim.token)))
                .replace("dc=example,dc=com", &base);
        let root = Root::new();
        let file = root.write("scim.dsconfig", &text);
        root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
        World { root, base, t, src, scim }
    }

    fn uid(&self, n: &str) -> String {
        format!("{n}{}", self.t)
    }

    async fn add_user(&self, n: &str, extra: &[(&str, &str)]) -> String {
        let uid = self.uid(n);
        let dn = format!("uid={uid},ou=people,{}", self.base);
        let mut attrs = vec![
            ("objectClass", "inetOrgPerson"),
            ("uid", uid.as_str()),
            ("cn", n),
            ("sn", "Tester"),
            ("givenName", "Given"),
        ];
        attrs.extend_from_slice(extra);
        self.src.add(&entry(&dn, &attrs)).await.unwrap();
        dn
    }

    fn resync(&self, args: &[&str]) -> util::Run {
        let mut all = vec!["--pipe-name", "ldap-to-scim"];
        all.extend_from_slice(args);
        self.root.run("resync", &all)
    }

    fn user(&self, n: &str) -> Json {
        self.scim.find("Users", "userName", &self.uid(n)).unwrap_or_else(|| panic!("no SCIM user {n}"))
    }
}

fn member_ids(g: &Json) -> Vec<String> {
    let mut v: Vec<String> = g["members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn full_cycle(prefix: &str) {
    let w = World::new("sc", prefix, None).await;
    let alice =
        w.add_user("alice", &[("mail", "alice@example.com"), ("title", "Engineer"), ("departmentNumber", "42")]).await;
    let bob = w.add_user("bob", &[("mail", "bob@example.com")]).await;
    let carol = w.add_user("carol", &[("mail", "carol@example.com")]).await;
    let group = format!("cn=staff{},ou=groups,{}", w.t, w.base);
    w.src
        .add(&entry(
            &group,
            &[("objectClass", "groupOfNames"), ("cn", &format!("staff{}", w.t)), ("member", &alice), ("member", &bob)],
        ))
        .await
        .unwrap();

    // A 409: carol already exists at the service (created by someone else, stale display name).
    let (code, j) = w.scim.curl(
        "POST",
        "Users",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": w.uid("carol"), "displayName": "Old"})),
    );
    assert_eq!(code, 201, "{j}");

    // Users first, then everything (the group finds its members).
    let out = w.resync(&["--sourceSearchFilter", "(objectClass=inetOrgPerson)"]).ok();
    assert!(out.contains("3"), "{out}\n{}", w.root.path().display());
    let out = w.resync(&[]).ok();
    let a = w.user("alice");
    assert_eq!(a["displayName"], "alice", "{a}\n{out}");
    assert_eq!(a["title"], "Engineer");
    assert_eq!(a["name"]["givenName"], "Given");
    assert_eq!(a["name"]["familyName"], "Tester");
    assert_eq!(a["emails"][0]["value"], "alice@example.com");
    assert_eq!(a["emails"][0]["type"], "work");
    assert_eq!(a["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "42");
    assert_eq!(w.user("carol")["displayName"], "carol", "the 409 path updated carol");
    let b = w.user("bob");
    let g = w.scim.find("Groups", "displayName", &format!("staff{}", w.t)).expect("group created");
    let mut want = vec![a["id"].as_str().unwrap().to_string(), b["id"].as_str().unwrap().to_string()];
    want.sort();
    assert_eq!(member_ids(&g), want);

    // A second resync changes nothing.
    let out = w.resync(&[]).ok();
    assert!(!out.to_lowercase().contains("modified: 1") && !out.contains("failed"), "{out}");

    // Modifies: single-valued (title, sn inside name), complex (emails), membership (remove bob, add carol).
    use ferrosync_ldap::Modification as Mod;
    let t = |s: &str| Value::Text(s.to_string());
    w.src
        .modify(
            &alice,
            &[
                Mod::Replace("title".into(), vec![t("Manager")]),
                Mod::Replace("sn".into(), vec![t("Newname")]),
                Mod::Replace("mail".into(), vec![t("alice.new@example.com")]),
            ],
        )
        .await
        .unwrap();
    w.src
        .modify(&group, &[Mod::Delete("member".into(), vec![t(&bob)]), Mod::Add("member".into(), vec![t(&carol)])])
        .await
        .unwrap();
    let out = w.resync(&[]).ok();
    let a = w.user("alice");
    assert_eq!(a["title"], "Manager", "{a}\n{out}");
    assert_eq!(a["name"]["familyName"], "Newname");
    assert_eq!(a["name"]["givenName"], "Given");
    assert_eq!(a["emails"].as_array().unwrap().len(), 1, "{a}");
    assert_eq!(a["emails"][0]["value"], "alice.new@example.com");
    let c = w.user("carol");
    let g = w.scim.find("Groups", "displayName", &format!("staff{}", w.t)).unwrap();
    let mut want = vec![a["id"].as_str().unwrap().to_string(), c["id"].as_str().unwrap().to_string()];
    want.sort();
    assert_eq!(member_ids(&g), want, "{g}");

    // Removing an attribute at the source removes it at the service.
    w.src.modify(&alice, &[Mod::Delete("title".into(), vec![])]).await.unwrap();
    w.resync(&[]).ok();
    assert!(w.user("alice").get("title").is_none_or(Json::is_null), "{}", w.user("alice"));
}

#[tokio::test]
async fn scim2_server_resync_creates_modifies_groups_and_409() {
    full_cycle("SCIM2").await;
}

#[tokio::test]
async fn scimmy_resync_creates_modifies_groups_and_409() {
    full_cycle("SCIMMY").await;
}

async fn wrong_token(prefix: &str) {
    let w = World::new("tok", prefix, Some("not-the-token")).await;
    w.add_user("dave", &[]).await;
    let run = w.resync(&[]);
    let err = format!("{}{}", run.stdout(), run.stderr());
    assert!(run.code() != 0, "{err}");
    assert!(err.contains("401") && err.contains("credentials"), "{err}");
    assert!(!err.contains("not-the-token"), "the token leaked: {err}");
}

#[tokio::test]
async fn scim2_server_wrong_token_is_a_clear_error() {
    wrong_token("SCIM2").await;
}

#[tokio::test]
async fn scimmy_wrong_token_is_a_clear_error() {
    wrong_token("SCIMMY").await;
}

/// scim2-server enforces If-Match: a resource changed by someone else between correlation and the update
/// gives 412, and the destination fetches it again and retries. Deleting works too.
#[tokio::test]
async fn scim2_server_etag_conflict_is_retried_and_delete_works() {
    let w = World::new("etag", "SCIM2", None).await;
    let dn = w.add_user("erin", &[("mail", "erin@example.com"), ("title", "One")]).await;
    w.resync(&[]).ok();
    let config = w.root.config();
    let root = ServerRoot::new(w.root.path());
    let secrets = SecretBox::new(root.key_path());
    let mapping = PipeMapping::from_config(&config, "ldap-to-scim").unwrap();
    let dest = ferrosync_scim::ScimDestination::from_config(
        &config,
        &secrets,
        &root,
        "ldap-to-scim",
        "scim-destination",
        &mapping,
    )
    .unwrap();
    let mut mapped =
        entry(&dn, &[("objectClass", "inetOrgPerson"), ("uid", &w.uid("erin")), ("cn", "erin"), ("sn", "Tester")]);
    mapped.add("givenName", "Given");
    let Correlated::One(existing) = dest.correlate(&mapped, &[], &[]).await.unwrap() else { panic!("not found") };
    assert_eq!(existing.first_text("title").as_deref(), Some("One"));
    // Someone else changes the resource: its version moves on.
    let id = w.user("erin")["id"].as_str().unwrap().to_string();
    let (code, j) = w.scim.curl(
        "PATCH",
        &format!("Users/{id}"),
        Some(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "Someone"}]})),
    );
    assert!(code == 204 || code == 200, "{j}");
    dest.modify(&dn, &[Modification::Replace("title".into(), vec![Value::Text("Two".into())])]).await.unwrap();
    let u = w.user("erin");
    assert_eq!(u["title"], "Two", "{u}");
    dest.delete(&dn).await.unwrap();
    assert!(w.scim.find("Users", "userName", &w.uid("erin")).is_none());
}
