//! The SCIM 2.0 destination against two real SCIM servers (python-scim `scim2-server` and npm `scimmy`),
//! fed by resync from 389 DS. `tests/run.sh` starts them and exports `FERROSYNC_TEST_SCIM2_URL`/`_TOKEN` and
//! `FERROSYNC_TEST_SCIMMY_URL`/`_TOKEN`.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferrosync::endpoint::{Correlated, Destination, Modification};
use ferrosync::entry::Value;
use ferrosync::mapping::PipeMapping;
use ferrosync::secret::SecretBox;
use ferrosync::store::ServerRoot;
use serde_json::{json, Value as Json};
use util::scenario::entry;
use util::{eventually, repo, unique, Root, Server, ServerGuard};

const WAIT: Duration = Duration::from_secs(30);

struct Scim {
    /// The service itself (plain HTTP on loopback), which the tests read and write directly.
    url: String,
    token: String,
    /// The HTTPS gateway in front of it (the throwaway CA of tests/servers/make-https-ca.sh): ferrosync's URL.
    gateway: String,
}

impl Scim {
    fn from_env(prefix: &str) -> Scim {
        let var = |k: &str| {
            let name = format!("FERROSYNC_TEST_{prefix}_{k}");
            std::env::var(&name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with tests/run.sh, which starts the SCIM servers (tests/servers/start-scim2-server.sh, start-scimmy.sh)")
            })
        };
        Scim { url: var("URL"), token: var("TOKEN"), gateway: var("GATEWAY_URL") }
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

    /// The resource `endpoint` whose `attr` is `value`, if any.
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
                .replace("https://scim.example.com/v2", &scim.gateway)
                .replace("bearer-token:s3cret", &format!("bearer-token:{}", token_override.unwrap_or(&scim.token)))
                .replace("dc=example,dc=com", &base);
        let root = Root::new();
        let file = root.write("scim.dsconfig", &text);
        root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
        World { root, base, t, src, scim }
    }

    /// Applies dsconfig batch text to the world's root.
    fn dsconfig(&self, text: &str) {
        let file = self.root.write(&format!("{}.dsconfig", unique("b")), text);
        self.root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().expect("utf-8 path")]).ok();
    }

    /// Points the pipe at `url` (a proxy in front of the service).
    fn use_url(&self, url: &str) {
        self.dsconfig(&format!("dsconfig set-external-server-prop --server-name scim --set scim-service-url:{url}\n"));
    }

    /// Sets the start point at the end of the change log, starts the pipe and the sync server.
    fn go(&self) -> ServerGuard<'_> {
        self.dsconfig(
            "dsconfig set-sync-pipe-prop --pipe-name ldap-to-scim --set \"change-detection-polling-interval:100 ms\"\n",
        );
        let out = self
            .root
            .run("realtime-sync", &["set-startpoint", "--pipe-name", "ldap-to-scim", "--end-of-changelog"])
            .ok();
        assert!(out.contains("The startpoint has been set"), "{out}");
        self.root.run("realtime-sync", &["start", "--pipe-name", "ldap-to-scim"]).ok();
        ServerGuard::start(&self.root)
    }

    fn sync_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/sync")).unwrap_or_default()
    }

    /// The SCIM user `n`, if it exists.
    fn try_user(&self, n: &str) -> Option<Json> {
        self.scim.find("Users", "userName", &self.uid(n))
    }

    fn group(&self, n: &str) -> Option<Json> {
        self.scim.find("Groups", "displayName", &format!("{n}{}", self.t))
    }

    async fn add_group(&self, n: &str, members: &[&str]) -> String {
        let dn = format!("cn={n}{},ou=groups,{}", self.t, self.base);
        let cn = format!("{n}{}", self.t);
        let mut attrs = vec![("objectClass", "groupOfNames"), ("cn", cn.as_str())];
        attrs.extend(members.iter().map(|m| ("member", *m)));
        self.src.add(&entry(&dn, &attrs)).await.expect("add the group at the source");
        dn
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
    assert!(out.contains(", 0 entries were modified, 0 entries were created,"), "{out}");
    assert!(!out.contains("failed"), "{out}");

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

/// `resync --deleteMissingEntries` on a pipe into a SCIM service is refused before anything is read or changed:
/// a SCIM destination cannot list its resources, so the entries whose source is gone cannot be found (before
/// the endpoint registry, the option silently deleted nothing).
async fn delete_missing_entries_is_refused(prefix: &str) {
    let w = World::new("dme", prefix, None).await;
    let erin = w.add_user("erin", &[]).await;
    let log = w.root.path().join("logs/tools/resync.log");
    for args in [&["--deleteMissingEntries"][..], &["--deleteMissingEntries", "--dry-run"][..]] {
        let run = w.resync(args);
        let err = run.fails();
        assert_ne!(run.code(), 0);
        assert!(
            err.contains("--deleteMissingEntries needs a sync destination that can list its entries")
                && err.contains("the sync destination 'scim-destination' is of type 'scim2'"),
            "{err}"
        );
        assert!(w.try_user("erin").is_none(), "resync {args:?} created erin although it was refused");
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!logged.contains("started"), "the refused resync {args:?} ran: {logged}");
    }

    // Without the option the pipe resyncs; once the source entry is gone, the refusal still deletes nothing.
    w.resync(&[]).ok();
    assert!(w.try_user("erin").is_some(), "a plain resync creates erin");
    w.src.delete(&erin).await.unwrap();
    w.resync(&["--deleteMissingEntries"]).fails();
    assert!(w.try_user("erin").is_some(), "the refused resync changed the service");
}

#[tokio::test]
async fn scim2_server_delete_missing_entries_is_refused() {
    delete_missing_entries_is_refused("SCIM2").await;
}

#[tokio::test]
async fn scimmy_delete_missing_entries_is_refused() {
    delete_missing_entries_is_refused("SCIMMY").await;
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
    // The destination keeps what it wrote (no read before the next update); someone else deletes the
    // resource: the update fails as retryable, and the retry finds nothing (the engine then creates it).
    let (code, j) = w.scim.curl("DELETE", &format!("Users/{id}"), None);
    assert_eq!(code, 204, "{j}");
    let err = dest
        .modify(&dn, &[Modification::Replace("title".into(), vec![Value::Text("Three".into())])])
        .await
        .unwrap_err();
    assert!(matches!(&err, ferrosync::endpoint::EndpointError::Retryable(m) if m.contains("404")), "{err}");
    assert!(dest.fetch(&dn, &[]).await.unwrap().is_none());
    dest.create(&mapped).await.unwrap();
    assert!(w.scim.find("Users", "userName", &w.uid("erin")).is_some());
    dest.delete(&dn).await.unwrap();
    assert!(w.scim.find("Users", "userName", &w.uid("erin")).is_none());
}

/// The test gateway `tests/scim-proxy/proxy.py` in front of a SCIM server, on a free port of its own: it
/// throttles (429 with Retry-After), accepts basic credentials and OAuth client-credentials tokens it issues,
/// and counts requests. Stopped when dropped.
struct Proxy {
    child: Child,
    /// The SCIM base URL through the proxy.
    url: String,
    root: String,
}

const BASIC: (&str, &str) = ("sync-user", "basic-Pa55");
const CLIENT: (&str, &str) = ("sync-client", "client-S3cret");

impl Proxy {
    fn start(upstream: &Scim) -> Proxy {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/scim-proxy/proxy.py"))
            .args(["--upstream", &upstream.url, "--upstream-token", &upstream.token])
            .args(["--basic", &format!("{}:{}", BASIC.0, BASIC.1), "--client", &format!("{}:{}", CLIENT.0, CLIENT.1)])
            .args(["--tls-cert", &std::env::var("FERROSYNC_TEST_HTTPS_CERT_FILE").expect("the HTTPS test CA")])
            .args(["--tls-key", &std::env::var("FERROSYNC_TEST_HTTPS_KEY_FILE").expect("the HTTPS test CA")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs tests/scim-proxy/proxy.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the proxy prints its port");
        let port = line.trim().strip_prefix("PORT=").unwrap_or_else(|| panic!("the proxy said {line:?}")).to_string();
        let root = format!("https://127.0.0.1:{port}");
        Proxy { child, url: format!("{root}/scim"), root }
    }

    fn admin(&self, method: &str, path: &str, body: Option<Json>) -> Json {
        let mut c = Command::new("curl");
        c.args(["-sf", "--cacert", &util::https_ca().0, "-X", method]);
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "--data", &b.to_string()]);
        }
        let out = c.arg(format!("{}/admin/{path}", self.root)).output().expect("curl runs");
        assert!(out.status.success(), "admin {path} failed");
        serde_json::from_slice(&out.stdout).unwrap_or(Json::Null)
    }

    fn stats(&self) -> Json {
        self.admin("GET", "stats", None)
    }

    fn count(&self, key: &str) -> u64 {
        self.stats()[key].as_u64().expect("a count")
    }

    fn method(&self, m: &str) -> u64 {
        self.stats()["by_method"][m].as_u64().unwrap_or(0)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Real-time sync from 389 DS's change log into the SCIM service: creates, modifies, group membership and
/// deletes arrive while the sync server runs.
async fn realtime(prefix: &str) {
    use ferrosync_ldap::Modification as Mod;
    let w = World::new("rt", prefix, None).await;
    let _server = w.go();
    let alice = w.add_user("alice", &[("mail", "alice@example.com"), ("title", "Engineer")]).await;
    let bob = w.add_user("bob", &[("mail", "bob@example.com")]).await;
    eventually("the creates reach the SCIM service", WAIT, || async {
        w.try_user("alice").is_some() && w.try_user("bob").is_some()
    })
    .await;
    let a = w.user("alice");
    assert_eq!(a["title"], "Engineer", "{a}");
    assert_eq!(a["emails"][0]["value"], "alice@example.com", "{a}");
    let (alice_id, bob_id) = (a["id"].as_str().unwrap().to_string(), w.user("bob")["id"].as_str().unwrap().to_string());

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
    eventually("the modify reaches the SCIM service", WAIT, || async {
        w.try_user("alice").is_some_and(|a| {
            a["title"] == "Manager"
                && a["name"]["familyName"] == "Newname"
                && a["emails"].as_array().is_some_and(|e| e.len() == 1 && e[0]["value"] == "alice.new@example.com")
        })
    })
    .await;
    assert_eq!(w.user("alice")["name"]["givenName"], "Given", "the other sub-attribute of name stays");

    // Groups: created with its member, then a member added and one removed.
    let group = w.add_group("rtstaff", &[&alice]).await;
    eventually("the group reaches the SCIM service with its member", WAIT, || async {
        w.group("rtstaff").is_some_and(|g| member_ids(&g) == vec![alice_id.clone()])
    })
    .await;
    w.src.modify(&group, &[Mod::Add("member".into(), vec![t(&bob)])]).await.unwrap();
    let mut both = vec![alice_id.clone(), bob_id.clone()];
    both.sort();
    eventually("the added member reaches the SCIM service", WAIT, || async {
        w.group("rtstaff").is_some_and(|g| member_ids(&g) == both)
    })
    .await;
    w.src.modify(&group, &[Mod::Delete("member".into(), vec![t(&alice)])]).await.unwrap();
    eventually("the removed member leaves the SCIM group", WAIT, || async {
        w.group("rtstaff").is_some_and(|g| member_ids(&g) == vec![bob_id.clone()])
    })
    .await;

    // Removing an attribute, then deletes.
    w.src.modify(&alice, &[Mod::Delete("title".into(), vec![])]).await.unwrap();
    eventually("the removed attribute leaves the SCIM user", WAIT, || async {
        w.try_user("alice").is_some_and(|a| a.get("title").is_none_or(Json::is_null))
    })
    .await;
    w.src.delete(&group).await.unwrap();
    w.src.delete(&bob).await.unwrap();
    eventually("the deletes reach the SCIM service", WAIT, || async {
        w.group("rtstaff").is_none() && w.try_user("bob").is_none()
    })
    .await;
    assert!(w.try_user("alice").is_some(), "alice stays");
    let log = w.sync_log();
    assert!(log.contains("type=change-applied") && log.contains(&alice), "{log}");
}

#[tokio::test]
async fn scim2_server_realtime_creates_modifies_groups_deletes() {
    realtime("SCIM2").await;
}

#[tokio::test]
async fn scimmy_realtime_creates_modifies_groups_deletes() {
    realtime("SCIMMY").await;
}

/// A service that answers 429 with Retry-After for a while: resync and real-time sync wait, retry, and lose
/// nothing.
async fn throttled(prefix: &str) {
    let w = World::new("thr", prefix, None).await;
    let proxy = Proxy::start(&w.scim);
    w.use_url(&proxy.url);
    w.dsconfig("dsconfig set-sync-pipe-prop --pipe-name ldap-to-scim --set max-operation-attempts:10\n");
    for i in 0..6 {
        w.add_user(&format!("r{i}"), &[("mail", &format!("r{i}@example.com"))]).await;
    }
    // Resync: the next 8 requests are refused, whichever worker sends them.
    proxy.admin("POST", "throttle", Some(json!({"requests": 8, "retry_after": "1"})));
    let out = w.resync(&[]).ok();
    for i in 0..6 {
        assert!(w.try_user(&format!("r{i}")).is_some(), "r{i} is missing after the throttled resync: {out}");
    }
    assert_eq!(proxy.count("throttled"), 8, "{}", proxy.stats());

    // Real time: the service refuses everything for 4 s while changes arrive.
    let _server = w.go();
    eventually("the pipe is running", WAIT, || async {
        w.root.run("status", &["--script-friendly"]).ok().contains("ldap-to-scim\tStarted\ttrue\n")
    })
    .await;
    let before = proxy.count("throttled");
    proxy.admin("POST", "throttle", Some(json!({"seconds": 4, "retry_after": "1"})));
    let mut dns = Vec::new();
    for i in 0..6 {
        dns.push(w.add_user(&format!("t{i}"), &[]).await);
    }
    eventually("every change made while throttled arrives", Duration::from_secs(60), || async {
        (0..6).all(|i| w.try_user(&format!("t{i}")).is_some())
    })
    .await;
    assert!(proxy.count("throttled") > before, "the service throttled the real-time changes: {}", proxy.stats());
    let failed = std::fs::read_to_string(w.root.path().join("logs/sync-failed-ops")).unwrap_or_default();
    assert!(failed.is_empty(), "nothing failed for good: {failed}");
}

#[tokio::test]
async fn scim2_server_throttled_with_429_loses_nothing() {
    throttled("SCIM2").await;
}

#[tokio::test]
async fn scimmy_throttled_with_429_loses_nothing() {
    throttled("SCIMMY").await;
}

/// Issue 15's fault table: the service answers 503 for 30 s, then 429 with Retry-After, while users are created
/// and modified: every change waits (none is logged as failed) and arrives once the service answers.
#[tokio::test]
async fn scim2_server_unavailable_503_for_30_s_then_429_loses_nothing() {
    use ferrosync_ldap::Modification as Mod;
    let w = World::new("out", "SCIM2", None).await;
    let proxy = Proxy::start(&w.scim);
    w.use_url(&proxy.url);
    w.dsconfig("dsconfig set-sync-pipe-prop --pipe-name ldap-to-scim --set \"retry-backoff-max-wait:2 s\"\n");
    let _server = w.go();
    eventually("the pipe is running", WAIT, || async {
        w.root.run("status", &["--script-friendly"]).ok().contains("ldap-to-scim\tStarted\ttrue\n")
    })
    .await;
    let started = std::time::Instant::now();
    proxy.admin(
        "POST",
        "outage",
        Some(json!({"phases": [{"seconds": 30, "status": 503}, {"seconds": 8, "status": 429, "retry_after": "1"}]})),
    );
    // During the 503s: 20 creates, and a modify of each.
    let mut dns = Vec::new();
    for i in 0..20 {
        dns.push(w.add_user(&format!("o{i}"), &[("title", "before")]).await);
    }
    for dn in &dns {
        w.src.modify(dn, &[Mod::Replace("title".into(), vec![Value::from("during 503")])]).await.unwrap();
    }
    eventually("the service answers 429 now", Duration::from_secs(60), || async {
        proxy.stats()["outage_status"] == 429
    })
    .await;
    // During the 429s: 10 more creates, and a modify of the first ten.
    for i in 20..30 {
        dns.push(w.add_user(&format!("o{i}"), &[("title", "during 429")]).await);
    }
    for dn in &dns[..10] {
        w.src.modify(dn, &[Mod::Replace("title".into(), vec![Value::from("during 429")])]).await.unwrap();
    }
    eventually("every change made during the outage arrives", Duration::from_secs(90), || async {
        (0..30).all(|i| {
            let want = if !(10..20).contains(&i) { "during 429" } else { "during 503" };
            w.try_user(&format!("o{i}")).is_some_and(|u| u["title"] == want)
        })
    })
    .await;
    eprintln!("converged {:?} after the outage began", started.elapsed());
    let stats = proxy.stats();
    assert!(stats["unavailable"].as_u64().unwrap_or(0) > 0, "the service answered 503s: {stats}");
    assert!(stats["throttled"].as_u64().unwrap_or(0) > 0, "the service answered 429s: {stats}");
    let failed = std::fs::read_to_string(w.root.path().join("logs/sync-failed-ops")).unwrap_or_default();
    assert!(failed.is_empty(), "nothing failed for good: {failed}");
}

/// HTTP basic credentials, checked by the gateway in front of the service; wrong ones are a clear error that
/// does not show the password.
#[tokio::test]
async fn basic_authorization_through_a_gateway() {
    let w = World::new("basic", "SCIM2", None).await;
    let proxy = Proxy::start(&w.scim);
    w.use_url(&proxy.url);
    w.dsconfig(&format!(
        "dsconfig create-http-authorization-method --method-name basic-auth --type basic --set username:{} --set password:wrong-Pa55\n\
         dsconfig set-external-server-prop --server-name scim --set http-authorization-method:basic-auth\n",
        BASIC.0
    ));
    w.add_user("bea", &[]).await;
    let run = w.resync(&[]);
    let err = format!("{}{}", run.stdout(), run.stderr());
    assert!(run.code() != 0 && err.contains("401") && err.contains("credentials"), "{err}");
    assert!(!err.contains("wrong-Pa55"), "the password leaked: {err}");
    w.dsconfig(&format!(
        "dsconfig set-http-authorization-method-prop --method-name basic-auth --set password:{}\n",
        BASIC.1
    ));
    w.resync(&[]).ok();
    assert!(w.try_user("bea").is_some());
    assert!(proxy.count("unauthorized") >= 1, "{}", proxy.stats());
}

/// OAuth 2.0 client credentials: one token for the whole run, fetched again when the service stops accepting
/// it (401), in a running sync server.
#[tokio::test]
async fn oauth_client_credentials_token_is_cached_and_refreshed() {
    let w = World::new("oauth", "SCIM2", None).await;
    let proxy = Proxy::start(&w.scim);
    w.use_url(&proxy.url);
    w.dsconfig(&format!(
        "dsconfig create-http-authorization-method --method-name oauth --type client-credentials-bearer-token \
           --set oauth-server-token-endpoint-url:{}/oauth/token --set oauth-client-id:{} --set oauth-client-secret:{}\n\
         dsconfig set-external-server-prop --server-name scim --set http-authorization-method:oauth\n",
        proxy.root, CLIENT.0, CLIENT.1
    ));
    for n in ["olga", "otto", "oona"] {
        w.add_user(n, &[]).await;
    }
    w.resync(&[]).ok();
    assert!(w.try_user("olga").is_some() && w.try_user("oona").is_some());
    assert_eq!(proxy.count("tokens_issued"), 1, "one token serves the whole resync: {}", proxy.stats());

    let _server = w.go();
    w.add_user("oleg", &[]).await;
    eventually("a real-time create arrives", WAIT, || async { w.try_user("oleg").is_some() }).await;
    let issued = proxy.count("tokens_issued");
    proxy.admin("POST", "expire-tokens", None);
    w.add_user("omar", &[]).await;
    eventually("a create after the token expired arrives", WAIT, || async { w.try_user("omar").is_some() }).await;
    assert_eq!(proxy.count("tokens_issued"), issued + 1, "a 401 fetched one new token: {}", proxy.stats());

    // Wrong client secret: a clear error naming the client, without the secret.
    w.dsconfig("dsconfig set-http-authorization-method-prop --method-name oauth --set oauth-client-secret:not-it\n");
    let run = w.resync(&[]);
    let err = format!("{}{}", run.stdout(), run.stderr());
    assert!(run.code() != 0 && err.contains(CLIENT.0) && err.contains("token endpoint"), "{err}");
    assert!(!err.contains("not-it"), "the secret leaked: {err}");
}

/// `update-method:put` replaces whole resources with PUT (and never sends PATCH); query-method post searches
/// through `.search`.
async fn put_updates(prefix: &str) {
    let w = World::new("put", prefix, None).await;
    let proxy = Proxy::start(&w.scim);
    w.use_url(&proxy.url);
    w.dsconfig("dsconfig set-sync-destination-prop --destination-name scim-destination --set update-method:put\n");
    let dn = w.add_user("pia", &[("mail", "pia@example.com"), ("title", "One"), ("departmentNumber", "7")]).await;
    w.resync(&[]).ok();
    use ferrosync_ldap::Modification as Mod;
    let t = |s: &str| Value::Text(s.to_string());
    w.src
        .modify(&dn, &[Mod::Replace("title".into(), vec![t("Two")]), Mod::Replace("sn".into(), vec![t("Other")])])
        .await
        .unwrap();
    let out = w.resync(&[]).ok();
    let u = w.user("pia");
    assert_eq!(u["title"], "Two", "{u}\n{out}");
    assert_eq!(u["name"]["familyName"], "Other", "{u}");
    assert_eq!(u["name"]["givenName"], "Given", "{u}");
    assert_eq!(u["emails"][0]["value"], "pia@example.com", "PUT kept the rest: {u}");
    assert_eq!(u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "7", "{u}");
    assert!(proxy.method("PUT") >= 1 && proxy.method("PATCH") == 0, "{}", proxy.stats());
    // Nothing changed: no request that writes.
    let writes = proxy.method("PUT");
    w.resync(&[]).ok();
    assert_eq!(proxy.method("PUT"), writes, "{}", proxy.stats());
}

#[tokio::test]
async fn scim2_server_put_updates() {
    put_updates("SCIM2").await;
}

#[tokio::test]
async fn scimmy_put_updates() {
    put_updates("SCIMMY").await;
}

/// `query-method:post` correlates through `POST /Users/.search` (scim2-server supports it).
#[tokio::test]
async fn scim2_server_query_method_post() {
    let w = World::new("qpost", "SCIM2", None).await;
    let proxy = Proxy::start(&w.scim);
    w.use_url(&proxy.url);
    w.dsconfig("dsconfig set-sync-destination-prop --destination-name scim-destination --set query-method:post\n");
    let dn = w.add_user("quinn", &[("title", "One")]).await;
    // By searches: a resync that correlates from a listing searches only when a value's case is in doubt.
    w.resync(&["--correlateBySearch"]).ok();
    w.src
        .modify(&dn, &[ferrosync_ldap::Modification::Replace("title".into(), vec![Value::Text("Two".into())])])
        .await
        .unwrap();
    w.resync(&["--correlateBySearch"]).ok();
    assert_eq!(w.user("quinn")["title"], "Two");
    assert!(proxy.count("searches_post") >= 2, "{}", proxy.stats());
    assert_eq!(proxy.count("searches_get"), 0, "no search by GET: {}", proxy.stats());
}

/// An attribute mapping to a SCIM attribute that the service's `/Schemas` does not declare: the attribute is
/// not sent, the rest is, and the sync log says so once (not once per entry).
async fn undeclared_attribute(prefix: &str) {
    let w = World::new("undecl", prefix, None).await;
    w.dsconfig(
        "dsconfig create-scim2-attribute-mapping --mapping-name favoriteColor --type string \
           --set scim-attribute-name:favoriteColor --set ldap-attribute-name:description --set single-valued:true\n\
         dsconfig set-scim2-endpoint-mapping-prop --mapping-name Users --add attribute-mapping:favoriteColor\n",
    );
    for n in ["ursula", "ulf", "uma"] {
        w.add_user(n, &[("description", "teal"), ("title", "Undeclared")]).await;
    }
    let run = w.resync(&[]);
    run.ok();
    for n in ["ursula", "ulf", "uma"] {
        let u = w.user(n);
        assert_eq!(u["title"], "Undeclared", "{u}");
        assert!(u.get("favoriteColor").is_none(), "{u}");
    }
    let log = w.sync_log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("favoriteColor")).collect();
    assert_eq!(lines.len(), 1, "one warning in the sync log:\n{log}");
    assert!(
        lines[0].contains("severity=MILD_WARNING")
            && lines[0].contains("pipe=\"ldap-to-scim\"")
            && lines[0].contains("does not declare"),
        "{log}"
    );
    assert!(!run.stderr().contains("favoriteColor"), "the warning went to the sync log, not stderr: {}", run.stderr());
}

#[tokio::test]
async fn scim2_server_undeclared_attribute_is_dropped_with_one_sync_log_warning() {
    undeclared_attribute("SCIM2").await;
}

#[tokio::test]
async fn scimmy_undeclared_attribute_is_dropped_with_one_sync_log_warning() {
    undeclared_attribute("SCIMMY").await;
}

/// HTTPS is checked: the gateway's certificate chains to a CA the system's store does not hold, so with the
/// system's CAs alone resync is refused for the certificate; `hostname-verification-method: allow-all` does not
/// turn that check off (dsconfig says host names are still checked); a file-based trust manager provider naming
/// the CA makes it trusted.
#[tokio::test]
async fn https_certificates_are_checked_and_a_file_based_provider_adds_the_ca() {
    let w = World::new("tls", "SCIM2", None).await;
    w.add_user("tina", &[("mail", "tina@example.com")]).await;
    let (ca, system) = util::https_ca();
    let system_only = [("SSL_CERT_FILE", system.as_str())];
    let resync = || w.root.run_env("resync", &["--pipe-name", "ldap-to-scim"], &system_only);
    let refused = resync().fails();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    assert!(w.try_user("tina").is_none());

    let file = w.root.write(
        "allow-all.dsconfig",
        "dsconfig set-external-server-prop --server-name scim --set hostname-verification-method:allow-all\n",
    );
    let run = w.root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]);
    run.ok();
    let out = run.stderr(); // notes go to standard error
    assert!(out.contains("always checks the host name"), "{out}");
    let refused = resync().fails();
    assert!(refused.to_lowercase().contains("certificate"), "allow-all must not trust any certificate: {refused}");
    assert!(w.try_user("tina").is_none());

    w.dsconfig(&format!(
        "dsconfig create-trust-manager-provider --provider-name test-ca --type file-based --set enabled:true \
         --set trust-store-file:{ca}\n\
         dsconfig set-external-server-prop --server-name scim --set trust-manager-provider:test-ca\n"
    ));
    resync().ok();
    assert!(w.try_user("tina").is_some(), "the user is created once the CA is trusted");
}

/// Trust stores as an operator makes them (keytool's JKS and PKCS#12, openssl's PKCS#12, each with a PIN in a
/// pin file) trust the gateway's CA with the system's store alone otherwise; a wrong PIN is an error naming the
/// provider and the property, and nothing is sent.
#[tokio::test]
async fn https_trust_stores_made_by_keytool_jks_and_pkcs12() {
    let w = World::new("stores", "SCIM2", None).await;
    let (ca, system) = util::https_ca();
    let system_only = [("SSL_CERT_FILE", system.as_str())];
    let resync = || w.root.run_env("resync", &["--pipe-name", "ldap-to-scim"], &system_only);
    let (jks, p12, openssl) = util::trust_stores(&ca, w.root.path(), "store-Pin-1");
    w.root.write("trust.pin", "store-Pin-1\n");
    w.root.write("wrong.pin", "not-the-pin\n");
    w.add_user("none", &[]).await;
    let refused = resync().fails();
    assert!(refused.to_lowercase().contains("certificate"), "the system's store alone must not trust it: {refused}");
    assert!(w.try_user("none").is_none());
    for (i, (store, kind)) in [(&jks, "JKS"), (&p12, "PKCS12"), (&openssl, "")].into_iter().enumerate() {
        let user = format!("u{i}");
        w.add_user(&user, &[]).await;
        let name = format!("store-{i}");
        let store_type = if kind.is_empty() { String::new() } else { format!(" --set trust-store-type:{kind}") };
        w.dsconfig(&format!(
            "dsconfig create-trust-manager-provider --provider-name {name} --type file-based --set enabled:true \
             --set trust-store-file:{}{store_type} --set trust-store-pin-file:wrong.pin\n\
             dsconfig set-external-server-prop --server-name scim --set trust-manager-provider:{name}\n",
            store.display()
        ));
        let refused = resync().fails();
        assert!(
            refused.contains(&format!("'{name}'")) && refused.contains("trust-store-pin-file"),
            "a wrong PIN names the provider and the property: {refused}"
        );
        assert!(w.try_user(&user).is_none());
        w.dsconfig(&format!(
            "dsconfig set-trust-manager-provider-prop --provider-name {name} --set trust-store-pin-file:trust.pin\n"
        ));
        resync().ok();
        assert!(w.try_user(&user).is_some(), "trusted through the {kind} store {}", store.display());
    }
}

/// A token is not sent to an `http://` service unless the external server says so; with
/// `allow-credentials-over-http: true` (which dsconfig warns about) it is.
#[tokio::test]
async fn credentials_go_over_plain_http_only_when_allowed() {
    let w = World::new("plain", "SCIM2", None).await;
    w.add_user("paul", &[("mail", "paul@example.com")]).await;
    w.use_url(&w.scim.url);
    let refused = w.resync(&[]).fails();
    assert!(refused.contains("scim-service-url") && refused.contains("allow-credentials-over-http:true"), "{refused}");
    assert!(w.try_user("paul").is_none());
    let file = w.root.write(
        "plain.dsconfig",
        "dsconfig set-external-server-prop --server-name scim --set allow-credentials-over-http:true\n",
    );
    let run = w.root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]);
    run.ok();
    let out = run.stderr(); // notes go to standard error
    assert!(out.contains("clear text"), "{out}");
    w.resync(&[]).ok();
    assert!(w.try_user("paul").is_some());
}

/// `externalId` is a common attribute of every resource (RFC 7643 section 3.1), which no `/Schemas` entry
/// lists: a mapping to it is sent, not dropped as undeclared.
#[tokio::test]
async fn external_id_is_sent_though_no_schema_lists_it() {
    let w = World::new("ext", "SCIM2", None).await;
    w.dsconfig(
        "dsconfig create-scim2-attribute-mapping --mapping-name externalId --type string \
         --set scim-attribute-name:externalId --set ldap-attribute-name:uid --set single-valued:true\n\
         dsconfig set-scim2-endpoint-mapping-prop --mapping-name Users --add attribute-mapping:externalId\n",
    );
    w.add_user("xena", &[("mail", "xena@example.com")]).await;
    w.resync(&[]).ok();
    assert_eq!(w.user("xena")["externalId"], json!(w.uid("xena")));
}

/// A source of 12 users, correlated by `displayName` (cn, unique to this world): user 1 exists at the service
/// with a stale title (to be modified), user 2 twice (ambiguous: an error, nothing changed), user 3 in sync
/// after a first create... the others are created.
async fn listing_world(prefix: &str, name: &str) -> World {
    let w = World::new(name, prefix, None).await;
    w.dsconfig(
        "dsconfig set-scim2-endpoint-mapping-prop --mapping-name Users --set search-attribute-mapping:displayName\n",
    );
    for i in 0..12 {
        let uid = w.uid(&format!("u{i}"));
        let cn = format!("cn-{i}{}", w.t);
        let dn = format!("uid={uid},ou=people,{}", w.base);
        let attrs = [
            ("objectClass", "inetOrgPerson"),
            ("uid", uid.as_str()),
            ("cn", cn.as_str()),
            ("sn", "Tester"),
            ("givenName", "Given"),
            ("title", "Engineer"),
        ];
        w.src.add(&entry(&dn, &attrs)).await.unwrap();
    }
    let user = |user_name: String, display: String, title: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
               "displayName": display, "title": title, "name": {"givenName": "Given", "familyName": "Tester"}})
    };
    // The service's `eq` on displayName ignores case: a differently cased one is the same user.
    let (code, j) = w.scim.curl("POST", "Users", Some(&user(w.uid("u1"), format!("CN-1{}", w.t), "Stale")));
    assert_eq!(code, 201, "{j}");
    for dup in ["a", "b"] {
        let (code, j) =
            w.scim.curl("POST", "Users", Some(&user(w.uid(&format!("dup{dup}")), format!("cn-2{}", w.t), "X")));
        assert_eq!(code, 201, "{j}");
    }
    w
}

/// What a resync did, and what the service then holds for the world's users.
fn listing_outcome(w: &World, out: &str) -> (String, Vec<(String, String)>) {
    let sentence = out.lines().find(|l| l.starts_with('"')).unwrap_or_default().to_string();
    let mut state = Vec::new();
    for i in 0..12 {
        let display = format!("cn-{i}{}", w.t);
        let filter = format!("displayName eq \"{display}\"").replace(' ', "%20").replace('"', "%22");
        let (_, j) = w.scim.curl("GET", &format!("Users?filter={filter}"), None);
        let mut found: Vec<String> = j["Resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| format!("{}/{}", r["userName"].as_str().unwrap_or("").replace(&w.t, ""), r["title"]))
            .collect();
        found.sort();
        state.push((format!("u{i}"), found.join(",")));
    }
    (sentence, state)
}

async fn listing_path_matches_searches(prefix: &str) {
    let by_listing = listing_world(prefix, "ls").await;
    let by_search = listing_world(prefix, "ss").await;
    let run = |w: &World, args: &[&str]| {
        let r = w.resync(args);
        assert_eq!(r.code(), 1, "the ambiguous user is an error: {}\n{}", r.stdout(), r.stderr());
        r.stdout()
    };
    let out_l = run(&by_listing, &[]);
    assert!(out_l.contains("Correlation: from one listing of the destination"), "{out_l}");
    let out_s = run(&by_search, &["--correlateBySearch"]);
    assert!(out_s.contains("Correlation: one search per entry (--correlateBySearch)"), "{out_s}");
    let (sentence_l, state_l) = listing_outcome(&by_listing, &out_l);
    let (sentence_s, state_s) = listing_outcome(&by_search, &out_s);
    // scimmy's eq on displayName is case-exact: its differently cased user 1 is not found, and its create
    // collides on userName (an error in both paths).
    let want = if prefix == "SCIMMY" {
        "\"0 entries were in-sync, 0 entries were modified, 10 entries were created, 0 entries are still out-of-sync, 0 entries are still missing, and 2 entries could not be processed due to an error\""
    } else {
        "\"0 entries were in-sync, 1 entries were modified, 10 entries were created, 0 entries are still out-of-sync, 0 entries are still missing, and 1 entries could not be processed due to an error\""
    };
    assert_eq!(sentence_l, want, "{out_l}");
    assert_eq!(sentence_l, sentence_s, "listing:\n{out_l}\nsearches:\n{out_s}");
    assert_eq!(state_l, state_s);
    if prefix != "SCIMMY" {
        assert_eq!(state_l[1].1, "u1/\"Engineer\"", "the mismatched user was modified: {state_l:?}");
    }
    assert_eq!(state_l[2].1, "dupa/\"X\",dupb/\"X\"", "the ambiguous users were left alone: {state_l:?}");
    assert_eq!(state_l[0].1, "u0/\"Engineer\"");
    let failed = std::fs::read_to_string(by_listing.root.path().join("logs/resync-failed-DNs.log")).unwrap();
    assert!(failed.contains(&format!("uid={}", by_listing.uid("u2"))), "{failed}");

    // Again: everything found in sync from the listing, the ambiguous user still an error.
    let out = run(&by_listing, &[]);
    assert!(out.contains("Correlation: from one listing of the destination"), "{out}");
    let in_sync = if prefix == "SCIMMY" { 10 } else { 11 };
    assert!(
        out.contains(&format!("\"{in_sync} entries were in-sync, 0 entries were modified, 0 entries were created,")),
        "{out}"
    );
}

#[tokio::test]
async fn scim2_server_resync_from_a_listing_does_what_searches_do() {
    listing_path_matches_searches("SCIM2").await;
}

#[tokio::test]
async fn scimmy_resync_from_a_listing_does_what_searches_do() {
    listing_path_matches_searches("SCIMMY").await;
}

/// Every user of the world at the service (read straight from it, by a paged listing): userName (without the
/// world's suffix) to (displayName, title, familyName). The tests running beside this one add and delete users
/// of their own worlds at the same service, which shifts the pages of a listing by offset (a user read twice,
/// or missed): the listing is read until two readings agree.
fn world_users(w: &World) -> std::collections::BTreeMap<String, (String, String, String)> {
    let mut last = None;
    for _ in 0..6 {
        let now = world_users_once(w);
        if last.as_ref() == Some(&now) {
            break;
        }
        last = Some(now);
    }
    last.unwrap_or_default()
}

fn world_users_once(w: &World) -> std::collections::BTreeMap<String, (String, String, String)> {
    let mut out = std::collections::BTreeMap::new();
    let mut ids = std::collections::BTreeMap::new();
    let mut start = 1;
    loop {
        let (code, j) = w.scim.curl("GET", &format!("Users?startIndex={start}&count=500"), None);
        assert_eq!(code, 200, "{j}");
        let page = j["Resources"].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            break;
        }
        start += page.len();
        for r in page {
            let name = r["userName"].as_str().unwrap_or_default();
            if let Some(n) = name.strip_suffix(&w.t) {
                let s = |v: &Json| v.as_str().unwrap_or_default().to_string();
                // The same resource read twice (the pages shifted) is one user; two resources are two.
                let id = s(&r["id"]);
                if let Some(seen) = ids.insert(n.to_string(), id.clone()) {
                    assert_eq!(seen, id, "two users {name}");
                    continue;
                }
                out.insert(n.to_string(), (s(&r["displayName"]), s(&r["title"]), s(&r["name"]["familyName"])));
            }
        }
        if start as u64 > j["totalResults"].as_u64().unwrap_or(0) {
            break;
        }
    }
    out
}

/// A world of `n` users correlated by displayName (`cn-<i>`), 8 worker threads, behind a counting gateway;
/// user p7's userName is taken at the service by a user with another displayName (a create of p7 meets a
/// uniqueness conflict that correlation cannot see).
async fn parallel_world(prefix: &str, name: &str, n: usize) -> (World, Proxy) {
    let w = World::new(name, prefix, None).await;
    w.dsconfig(
        "dsconfig set-scim2-endpoint-mapping-prop --mapping-name Users --set search-attribute-mapping:displayName\n\
         dsconfig set-sync-pipe-prop --pipe-name ldap-to-scim --set num-worker-threads:8\n",
    );
    for i in 0..n {
        let uid = w.uid(&format!("p{i}"));
        let (cn, title, sn) = (format!("cn-{i}{}", w.t), format!("T{i}"), format!("S{i}"));
        let dn = format!("uid={uid},ou=people,{}", w.base);
        let attrs = [
            ("objectClass", "inetOrgPerson"),
            ("uid", uid.as_str()),
            ("cn", cn.as_str()),
            ("sn", sn.as_str()),
            ("givenName", "Given"),
            ("title", title.as_str()),
        ];
        w.src.add(&entry(&dn, &attrs)).await.unwrap();
    }
    let taken = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": w.uid("p7"),
                       "displayName": "someone else"});
    let (code, j) = w.scim.curl("POST", "Users", Some(&taken));
    assert_eq!(code, 201, "{j}");
    let proxy = Proxy::start(&w.scim);
    w.use_url(&proxy.url);
    (w, proxy)
}

/// What the service must hold after the resync of a parallel world of `n` users.
fn check_parallel_content(w: &World, n: usize) {
    let users = world_users(w);
    assert_eq!(users.len(), n, "{:?}", users.keys().collect::<Vec<_>>());
    for i in 0..n {
        let got = users.get(&format!("p{i}")).unwrap_or_else(|| panic!("no user p{i}"));
        if i == 7 {
            assert_eq!(got.0, "someone else", "the user that held p7's userName was left alone");
            continue;
        }
        assert_eq!(got, &(format!("cn-{i}{}", w.t), format!("T{i}"), format!("S{i}")), "user p{i}");
    }
}

async fn parallel_resync(prefix: &str) {
    const N: usize = 300;
    let (bulk, bulk_proxy) = parallel_world(prefix, "blk", N).await;
    let (single, single_proxy) = parallel_world(prefix, "sgl", N).await;
    let want = format!(
        "\"0 entries were in-sync, 0 entries were modified, {} entries were created, 0 entries are still out-of-sync, 0 entries are still missing, and 1 entries could not be processed due to an error\"",
        N - 1
    );

    // Bulk: every create in Bulk requests, 8 in flight at most; p7's operation fails alone, with the service's
    // uniqueness error, and the others are created.
    let r = bulk.resync(&[]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{out}\n{}", r.stderr());
    assert!(out.contains(&want), "{out}");
    assert!(out.contains("Correlation: from one listing of the destination"), "{out}");
    assert!(out.contains("Creates: in batches of up to 200 per request"), "{out}");
    let stats = bulk_proxy.stats();
    // Each create once, and p7's again in the second pass (which retries the failures).
    assert_eq!(stats["bulk_operations"], N as u64 + 1, "each create once, in a Bulk request: {stats}");
    let requests = stats["bulk_requests"].as_u64().unwrap();
    assert!(requests * 4 <= N as u64, "{N} creates in {requests} Bulk requests: {stats}");
    assert_eq!(bulk_proxy.method("POST"), requests, "no create was sent on its own: {stats}");
    assert!(stats["in_flight_max"].as_u64().unwrap() <= 8, "at most the worker count in flight: {stats}");
    let failed = std::fs::read_to_string(bulk.root.path().join("logs/resync-failed-DNs.log")).unwrap();
    assert!(failed.contains(&format!("uid={}", bulk.uid("p7"))), "{failed}");
    assert!(failed.contains("409") && failed.contains("Bulk POST /Users"), "p7's own error: {failed}");
    assert_eq!(failed.matches("dn: ").count(), 1, "{failed}");
    check_parallel_content(&bulk, N);

    // Single creates: parallel POSTs, up to the worker count at once.
    let r = single.resync(&["--noBatchedCreates"]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{out}\n{}", r.stderr());
    assert!(out.contains(&want), "{out}");
    assert!(!out.contains("Creates: in batches"), "{out}");
    let stats = single_proxy.stats();
    assert_eq!(single_proxy.method("POST"), N as u64 + 1, "one POST per create, p7's twice: {stats}");
    assert_eq!(stats["bulk_requests"], 0, "{stats}");
    let in_flight = stats["in_flight_max"].as_u64().unwrap();
    assert!((2..=8).contains(&in_flight), "requests in parallel, at most the worker count: {stats}");
    assert!(stats["connections"].as_u64().unwrap() <= 16, "kept-alive connections were reused: {stats}");
    check_parallel_content(&single, N);

    // Again: everything in sync from one listing, no write.
    bulk_proxy.admin("POST", "reset-stats", None);
    let r = bulk.resync(&[]);
    let out = r.stdout();
    assert!(
        out.contains(&format!("\"{} entries were in-sync, 0 entries were modified, 0 entries were created,", N - 1)),
        "{out}"
    );
    let stats = bulk_proxy.stats();
    // Reads, and p7's create again in each of the two passes.
    assert_eq!(stats["bulk_operations"], 2, "{stats}\n{out}");
    assert_eq!(stats["requests"].as_u64(), stats["by_method"]["GET"].as_u64().map(|g| g + 2), "only reads: {stats}");
    assert!(stats["requests"].as_u64().unwrap() < 20, "a listing, not a request per user: {stats}");
    check_parallel_content(&bulk, N);
}

#[tokio::test]
async fn scim2_server_parallel_and_bulk_resync_of_300_users() {
    parallel_resync("SCIM2").await;
}

#[tokio::test]
async fn scimmy_parallel_and_bulk_resync_of_300_users() {
    parallel_resync("SCIMMY").await;
}
