//! PingOne end to end: the `ping-one-customer` sync source, change detector and sync destination, driven
//! through the real binaries against the PingOne emulator (tests/pingone-emulator) and the real OpenLDAP test
//! server that tests/run.sh starts (`FERROSYNC_TEST_PINGONE_*`, `FERROSYNC_TEST_OPENLDAP_*`).
//!
//! The tests share one emulator, so each works in populations of its own, with user names of its own.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::{Duration, Instant};

use ferrosync::endpoint::{ChangeDetector, EndpointError, StartPoint};
use ferrosync::entry::Value;
use ferrosync_ldap::{LdapClient, Modification, Scope};
use ferrosync_pingone::client::{Body, Client, Settings};
use ferrosync_pingone::PingOneDetector;
use serde_json::{json, Value as Json};
use util::scenario::entry;
use util::{eventually, unique, Root, Server, ServerGuard};

const WAIT: Duration = Duration::from_secs(30);

/// The emulator's coordinates, from `FERROSYNC_TEST_PINGONE_*`.
struct P1 {
    url: String,
    auth_url: String,
    admin_url: String,
    env: String,
    id: String,
    secret: String,
    id2: String,
    secret2: String,
    /// The API and token URLs over plain HTTP (the emulator serves both).
    plain_url: String,
    plain_auth_url: String,
}

impl P1 {
    fn from_env() -> P1 {
        let var = |k: &str| {
            let name = format!("FERROSYNC_TEST_PINGONE_{k}");
            std::env::var(&name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with tests/run.sh, which starts the PingOne emulator (or eval \"$(SUMMARY_PREFIX=FERROSYNC_TEST_PINGONE_ tests/servers/start-pingone-emulator.sh 19443)\")")
            })
        };
        P1 {
            url: var("URL"),
            auth_url: var("AUTH_URL"),
            admin_url: var("ADMIN_URL"),
            env: var("ENV_ID"),
            id: var("CLIENT_ID"),
            secret: var("CLIENT_SECRET"),
            id2: var("CLIENT2_ID"),
            secret2: var("CLIENT2_SECRET"),
            plain_url: var("PLAIN_URL"),
            plain_auth_url: var("PLAIN_AUTH_URL"),
        }
    }

    /// An API client as the first worker app (ferrosync's) or the second (another writer).
    fn client(&self, second: bool) -> Client {
        let (id, secret) = if second { (&self.id2, &self.secret2) } else { (&self.id, &self.secret) };
        Client::new(Settings {
            api_url: self.url.clone(),
            auth_url: self.auth_url.clone(),
            environment_id: self.env.clone(),
            client_id: id.clone(),
            client_secret: ferrosync::secret::Secret::new(secret),
            max_requests_per_second: 0,
            label: "test client".into(),
            trust: ferrosync::https::HttpsTrust::CaFile(util::https_ca().0.into()),
        })
        .unwrap()
    }

    /// The `create-sync-source` line for this emulator (`extra` appended).
    fn source(&self, name: &str, extra: &str) -> String {
        format!(
            "dsconfig create-sync-source --source-name {name} --type ping-one-customer --set api-url:{} --set auth-url:{} \
             --set environment-id:{} --set oauth-client-id:{} --set oauth-client-secret:{} {extra}\n",
            self.url, self.auth_url, self.env, self.id, self.secret
        )
    }

    async fn admin(&self, path: &str, body: Json) -> Json {
        // The admin endpoints take no token, but a Bearer header does no harm.
        let c = self.client(false);
        let a = c.call("POST", format!("{}/{path}", self.admin_url), Some(Body::json(body))).await.unwrap();
        a.body
    }
}

async fn create_population(c: &Client, name: &str) -> String {
    let a = c.call("POST", c.env_url("populations"), Some(Body::json(json!({ "name": name })))).await.unwrap();
    assert_eq!(a.status, 201, "{}", a.describe());
    a.body["id"].as_str().unwrap().to_string()
}

async fn create_user(c: &Client, pop: &str, username: &str, given: &str, family: &str) -> String {
    let body = json!({
        "username": username,
        "email": format!("{username}@example.com"),
        "population": {"id": pop},
        "name": {"given": given, "family": family, "formatted": format!("{given} {family}")},
    });
    let a = c.call("POST", c.env_url("users"), Some(Body::json(body))).await.unwrap();
    assert_eq!(a.status, 201, "{}", a.describe());
    a.body["id"].as_str().unwrap().to_string()
}

async fn user_call(c: &Client, method: &'static str, id: &str, suffix: &str, body: Option<Body>) -> Json {
    let a = c.call(method, c.env_url(&format!("users/{id}{suffix}")), body).await.unwrap();
    assert!(a.ok(), "{method} users/{id}{suffix}: {}", a.describe());
    a.body
}

async fn list_users(c: &Client, filter: &str) -> Vec<Json> {
    let mut out = Vec::new();
    let url = c.env_url(&format!("users?limit=1000&filter={}", ferrosync_pingone::client::encode(filter)));
    c.list_pages(url, "users", |u| {
        out.push(u);
        true
    })
    .await
    .unwrap();
    out
}

/// A PingOne → OpenLDAP pipe `p` in a root of its own, writing below `ou=<unique>,<base>` at OpenLDAP.
struct World {
    root: Root,
    p1: P1,
    api: Client,
    ldap: LdapClient,
    base: String,
    pop: String,
    pop_name: String,
}

/// The attribute map and class of the PingOne → OpenLDAP pipes (`BASE` is the test's subtree).
const P1_TO_LDAP: &str = "\
dsconfig create-dn-map --map-name users-dn --set from-dn-pattern:* --set \"to-dn-pattern:uid={username},ou=people,BASE\"
dsconfig create-attribute-map --map-name p1-map
dsconfig create-attribute-mapping --map-name p1-map --mapping-name objectClass --type constructed --set value-pattern:inetOrgPerson
dsconfig create-attribute-mapping --map-name p1-map --mapping-name uid --type constructed --set value-pattern:{username}
dsconfig create-attribute-mapping --map-name p1-map --mapping-name cn --type constructed --set \"value-pattern:{name.formatted}\"
dsconfig create-attribute-mapping --map-name p1-map --mapping-name givenName --type constructed --set \"value-pattern:{name.given}\"
dsconfig create-attribute-mapping --map-name p1-map --mapping-name sn --type constructed --set \"value-pattern:{name.family}\"
dsconfig create-attribute-mapping --map-name p1-map --mapping-name mail --type constructed --set value-pattern:{email}
dsconfig create-attribute-mapping --map-name p1-map --mapping-name employeeNumber --type direct --set from-attribute:id
dsconfig create-attribute-mapping --map-name p1-map --mapping-name pwdAccountLockedTime --type direct --set from-attribute:pwdAccountLockedTimeFromPingOne
dsconfig create-attribute-mapping --map-name p1-map --mapping-name description --type constructed --set \"value-pattern:status {account.status}\"
dsconfig create-attribute-mapping --map-name p1-map --mapping-name employeeType --type constructed --set \"value-pattern:disabled={ds-pwp-account-disabled-from-pingone}\"
dsconfig create-sync-class --pipe-name p --class-name users --set attribute-map:p1-map --set dn-map:users-dn \
    --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:employeeNumber
";

impl World {
    /// `source_extra` is appended to the `create-sync-source` line; the source synchronizes the test's
    /// population unless `source_extra` says otherwise.
    async fn new(name: &str, source_extra: &str) -> World {
        World::with(name, source_extra, P1::from_env()).await
    }

    /// The same, against the emulator `p1`.
    async fn with(name: &str, source_extra: &str, p1: P1) -> World {
        let api = p1.client(false);
        let server = Server::from_env("OPENLDAP");
        let ldap = server.client();
        let t = unique(name);
        let base = format!("ou={t},{}", server.base_dn);
        ldap.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
        ldap.add(&entry(&format!("ou=people,{base}"), &[("objectClass", "organizationalUnit"), ("ou", "people")]))
            .await
            .unwrap();
        let pop_name = format!("pop-{t}");
        let pop = create_population(&api, &pop_name).await;
        let root = Root::new();
        let w = World { root, p1, api, ldap, base, pop, pop_name };
        let extra = if source_extra.contains("population-to-synchronize") {
            source_extra.to_string()
        } else {
            format!("--set population-to-synchronize:{} {source_extra}", w.pop_name)
        };
        let batch = format!(
            "{}{}\
             dsconfig create-sync-destination --destination-name dst --type generic-ldap --set base-dn:{base} --set server:openldap\n\
             dsconfig create-sync-pipe --pipe-name p --set sync-source:src --set sync-destination:dst --set \"change-detection-polling-interval:200 ms\"\n\
             {}",
            server.dsconfig("openldap"),
            w.p1.source("src", &format!("{extra} --set \"realtime-sync-polling-offset:1 s\"")),
            P1_TO_LDAP,
            base = w.base
        );
        w.dsconfig(&batch);
        w
    }

    fn dsconfig(&self, text: &str) {
        let file = self.root.write(&format!("{}.dsconfig", unique("b")), &text.replace("BASE", &self.base));
        self.root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    }

    fn dn(&self, username: &str) -> String {
        format!("uid={username},ou=people,{}", self.base)
    }

    async fn get(&self, username: &str) -> Option<ferrosync::entry::Entry> {
        self.ldap.get(&self.dn(username), &["*", "pwdAccountLockedTime"]).await.unwrap()
    }

    async fn people(&self) -> usize {
        self.ldap
            .search(&format!("ou=people,{}", self.base), Scope::OneLevel, "(objectClass=*)", &["1.1"])
            .await
            .unwrap()
            .len()
    }

    fn resync(&self) -> util::Run {
        self.root.run("resync", &["--pipe-name", "p"])
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/tools/resync.log")).unwrap_or_default()
    }

    fn go(&self) -> ServerGuard<'_> {
        let out = self.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
        assert!(out.contains("The startpoint has been set for Sync Pipe 'p'"), "{out}");
        self.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
        let out = self.root.run("start-server", &[]).ok();
        assert!(out.contains("The sync server started"), "{out}");
        ServerGuard { root: &self.root }
    }

    fn sync_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/sync")).unwrap_or_default()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- logs/sync ----\n{}\n---- resync.log ----\n{}", self.sync_log(), self.log());
        }
    }
}

/// Resync copies every user of the synchronized population, through pages smaller than asked (the emulator
/// gives 5 users a page whatever the limit), with `{name.given}` JSON paths, and leaves other populations alone.
#[tokio::test]
async fn resync_pingone_to_openldap_with_paging_and_population_limit() {
    let w = World::new("p1-resync", "").await;
    let t = unique("u");
    for i in 0..12 {
        create_user(&w.api, &w.pop, &format!("{t}-{i}"), &format!("Given{i}"), "Family").await;
    }
    // Another population's users are not synchronized.
    let other = create_population(&w.api, &format!("other-{t}")).await;
    for i in 0..3 {
        create_user(&w.api, &other, &format!("{t}-other-{i}"), "Other", "User").await;
    }
    let out = w.resync().ok();
    assert_eq!(w.people().await, 12, "{out}\n{}", w.log());
    let e = w.get(&format!("{t}-7")).await.unwrap();
    assert_eq!(e.texts("givenName"), ["Given7"]);
    assert_eq!(e.texts("sn"), ["Family"]);
    assert_eq!(e.texts("cn"), ["Given7 Family"]);
    assert_eq!(e.texts("mail"), [format!("{t}-7@example.com")]);
    assert!(w.get(&format!("{t}-other-0")).await.is_none());
    // A second resync finds nothing to change.
    let again = w.resync().ok();
    assert_eq!(w.people().await, 12, "{again}");
    // The population may also be named by id, and several are allowed.
    w.dsconfig(&format!(
        "dsconfig set-sync-source-prop --source-name src --set population-to-synchronize:{} --add population-to-synchronize:{other}\n",
        w.pop
    ));
    w.resync().ok();
    assert_eq!(w.people().await, 15, "{}", w.log());
}

/// Real-time: creates, updates, lock and unlock, disable, deletes in PingOne reach OpenLDAP, through the audit
/// activities; users of other populations do not.
#[tokio::test]
async fn realtime_pingone_to_openldap() {
    let w = World::new("p1-rt", "").await;
    let _server = w.go();
    let t = unique("rt");
    let name = format!("{t}-ada");
    let id = create_user(&w.api, &w.pop, &name, "Ada", "Lovelace").await;
    eventually("the create reaches OpenLDAP", WAIT, || async { w.get(&name).await.is_some() }).await;
    // Update (PATCH) a JSON sub-field.
    user_call(
        &w.api,
        "PATCH",
        &id,
        "",
        Some(Body::json(json!({"name": {"given": "Augusta", "family": "Lovelace", "formatted": "Augusta Lovelace"}}))),
    )
    .await;
    eventually("the update reaches OpenLDAP", WAIT, || async {
        w.get(&name).await.is_some_and(|e| e.texts("givenName") == ["Augusta"])
    })
    .await;
    // Lock and unlock.
    let lock = Body { content_type: "application/vnd.pingidentity.account.lock+json", json: json!({}) };
    user_call(&w.api, "POST", &id, "", Some(lock)).await;
    eventually("the lock reaches OpenLDAP as pwdAccountLockedTime", WAIT, || async {
        w.get(&name).await.is_some_and(|e| e.has("pwdAccountLockedTime") && e.texts("description") == ["status LOCKED"])
    })
    .await;
    let unlock = Body { content_type: "application/vnd.pingidentity.account.unlock+json", json: json!({}) };
    user_call(&w.api, "POST", &id, "", Some(unlock)).await;
    eventually("the unlock reaches OpenLDAP", WAIT, || async {
        w.get(&name).await.is_some_and(|e| e.texts("description") == ["status OK"])
    })
    .await;
    // Known gap (in the core, not here): the engine reads destination entries with `*`, and OpenLDAP returns
    // the operational pwdAccountLockedTime only when asked by name, so the unlock cannot remove it until
    // `pwdAccountLockedTime` is in the core's OPERATIONAL_ATTRIBUTES list (crates/core/src/mapping/rules.rs).
    // Disable and enable.
    user_call(&w.api, "PUT", &id, "/enabled", Some(Body::json(json!({"enabled": false})))).await;
    eventually("the disable reaches OpenLDAP", WAIT, || async {
        w.get(&name).await.is_some_and(|e| e.texts("employeeType") == ["disabled=true"])
    })
    .await;
    // A user of another population never arrives.
    let other = create_population(&w.api, &format!("other-{t}")).await;
    let stranger = format!("{t}-stranger");
    create_user(&w.api, &other, &stranger, "Not", "Synced").await;
    // Delete.
    user_call(&w.api, "DELETE", &id, "", None).await;
    eventually("the delete reaches OpenLDAP", WAIT, || async { w.get(&name).await.is_none() }).await;
    assert!(w.get(&stranger).await.is_none());
    let log = w.sync_log();
    assert!(log.contains("type=change-applied"), "{log}");
}

/// Changes made by an `actor-id-to-ignore` (another worker app) are skipped; the others are applied.
#[tokio::test]
async fn realtime_skips_ignored_actors() {
    let p1 = P1::from_env();
    let ignore = format!("--set actor-id-to-ignore:{}", p1.id2);
    let w = World::new("p1-ignore", &ignore).await;
    let other_app = w.p1.client(true);
    let _server = w.go();
    let t = unique("ig");
    let ignored = format!("{t}-ignored");
    create_user(&other_app, &w.pop, &ignored, "Ignored", "Actor").await;
    let seen = format!("{t}-seen");
    create_user(&w.api, &w.pop, &seen, "Seen", "Actor").await;
    eventually("the change by a synchronized actor arrives", WAIT, || async { w.get(&seen).await.is_some() }).await;
    // Both activities were in the same or earlier polls: the ignored one is not applied.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(w.get(&ignored).await.is_none(), "{}", w.sync_log());
}

/// 429 answers are waited out (`Retry-After`, and a backoff without it): the resync still succeeds.
#[tokio::test]
async fn throttled_requests_are_retried() {
    let w = World::new("p1-429", "").await;
    let t = unique("th");
    for i in 0..6 {
        create_user(&w.api, &w.pop, &format!("{t}-{i}"), "Slow", "Down").await;
    }
    let before = w.p1.admin("stats", json!({})).await["throttled"].as_u64().unwrap();
    w.p1.admin("throttle", json!({"requests": 3, "retry_after": "1"})).await;
    let out = w.resync().ok();
    assert_eq!(w.people().await, 6, "{out}\n{}", w.log());
    w.p1.admin("throttle", json!({"requests": 2, "retry_after": null})).await;
    w.resync().ok();
    let after = w.p1.admin("stats", json!({})).await["throttled"].as_u64().unwrap();
    assert!(after >= before + 5, "the emulator answered {} requests with 429", after - before);
}

/// A bad client secret is a configuration error that names the credentials.
#[tokio::test]
async fn bad_credentials_are_reported() {
    let w = World::new("p1-badcred", "").await;
    w.dsconfig("dsconfig set-sync-source-prop --source-name src --set oauth-client-secret:wrong\n");
    let err = w.resync().fails();
    let all = format!("{err}{}", w.log());
    assert!(all.contains("oauth-client-secret"), "{all}");
}

/// A start point older than the activities PingOne keeps asks for a resync; a fresh one reads nothing old.
#[tokio::test]
async fn old_start_point_needs_a_resync() {
    let p1 = P1::from_env();
    let d = PingOneDetector::new(p1.client(false), Vec::new(), Vec::new(), Duration::from_secs(1));
    let err = d.poll(&StartPoint("pingone:2020-01-01T00:00:00.000Z".into()), 100, Duration::ZERO).await.unwrap_err();
    assert!(matches!(&err, EndpointError::Config(m) if m.contains("resync")), "{err}");
    let err = d.poll(&StartPoint("changenumber:5".into()), 100, Duration::ZERO).await.unwrap_err();
    assert!(matches!(err, EndpointError::Config(_)));
    let sp = d.start_point(&ferrosync::endpoint::StartPointRequest::EndOfChangelog).await.unwrap();
    assert!(sp.as_str().starts_with("pingone:"), "{sp:?}");
}

/// A pipe `p` from OpenLDAP below `base` to PingOne `p1`, new users in population `pop`, correlated by username
/// (with `extra_destination` and `extra_pipe` appended to the destination's and pipe's creation).
fn ldap_to_p1_batch(
    server: &Server,
    p1: &P1,
    base: &str,
    pop: &str,
    extra_destination: &str,
    extra_pipe: &str,
) -> String {
    format!(
        "{}\
         dsconfig create-sync-source --source-name src --type generic-ldap --set base-dn:{base} --set server:openldap\n\
         dsconfig create-sync-destination --destination-name p1 --type ping-one-customer --set ping-one-api-url:{} \
            --set ping-one-auth-url:{} --set ping-one-environment-id:{} --set ping-one-oauth-client-id:{} \
            --set ping-one-oauth-client-secret:{} --set ping-one-default-population-id:{pop}{extra_destination}\n\
         dsconfig create-sync-pipe --pipe-name p --set sync-source:src --set sync-destination:p1{extra_pipe}\n\
         dsconfig create-attribute-map --map-name to-p1\n\
         dsconfig create-attribute-mapping --map-name to-p1 --mapping-name resourceType --type constructed --set value-pattern:user\n\
         dsconfig create-attribute-mapping --map-name to-p1 --mapping-name username --type constructed --set value-pattern:{{uid}}\n\
         dsconfig create-attribute-mapping --map-name to-p1 --mapping-name email --type constructed --set value-pattern:{{mail}}\n\
         dsconfig create-attribute-mapping --map-name to-p1 --mapping-name externalId --type constructed --set value-pattern:{{uid}}\n\
         dsconfig create-attribute-mapping --map-name to-p1 --mapping-name name --type constructed \
            --set 'value-pattern:{{{{\"given\":\"{{givenName}}\",\"family\":\"{{sn}}\"}}}}'\n\
         dsconfig create-sync-class --pipe-name p --class-name users --set \"include-filter:(objectClass=inetOrgPerson)\" \
            --set attribute-map:to-p1 --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:username\n",
        server.dsconfig("openldap"),
        p1.url,
        p1.auth_url,
        p1.env,
        p1.id,
        p1.secret,
    )
}

/// A PingOne destination with a wrong client secret fails the resync before anything is written, with an error
/// that names the credentials (the resync checks the destination after preparing its index, since a listing
/// would prove the access a check proves).
#[tokio::test]
async fn a_pingone_destination_with_bad_credentials_fails_the_resync() {
    let p1 = P1::from_env();
    let api = p1.client(false);
    let server = Server::from_env("OPENLDAP");
    let ldap = server.client();
    let t = unique("p1-badsecret");
    let base = format!("ou={t},{}", server.base_dn);
    ldap.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
    let pop = create_population(&api, &format!("bad-{t}")).await;
    for i in 0..2 {
        let uid = format!("{t}-{i}");
        let attrs = [("objectClass", "inetOrgPerson"), ("uid", uid.as_str()), ("cn", "A"), ("sn", "B")];
        ldap.add(&entry(&format!("uid={uid},{base}"), &attrs)).await.unwrap();
    }
    let root = Root::new();
    let batch = ldap_to_p1_batch(&server, &p1, &base, &pop, "", "").replace(
        &format!("--set ping-one-oauth-client-secret:{} ", p1.secret),
        "--set ping-one-oauth-client-secret:wrong ",
    );
    assert!(batch.contains("client-secret:wrong"), "{batch}");
    let file = root.write("b.dsconfig", &batch);
    root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    let out = root.run("resync", &["--pipe-name", "p"]);
    let err = out.fails();
    let log = std::fs::read_to_string(root.path().join("logs/tools/resync.log")).unwrap_or_default();
    let all = format!("{}{err}{log}", out.stdout());
    assert!(all.contains("oauth-client-secret"), "the error names the credentials: {all}");
    assert!(!all.contains("entries were created"), "{all}");
    assert!(list_users(&api, &format!("username sw \"{t}\"")).await.is_empty(), "nothing was written");
}

/// LDAP → PingOne: resync creates users in the destination's population (correlated by username), then
/// updates them; the old `ping-one-*` property names work.
#[tokio::test]
async fn resync_openldap_to_pingone_destination() {
    let p1 = P1::from_env();
    let api = p1.client(false);
    let server = Server::from_env("OPENLDAP");
    let ldap = server.client();
    let t = unique("p1-dest");
    let base = format!("ou={t},{}", server.base_dn);
    ldap.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
    let pop = create_population(&api, &format!("dest-{t}")).await;
    for i in 0..3 {
        let uid = format!("{t}-{i}");
        ldap.add(&entry(
            &format!("uid={uid},{base}"),
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", &uid),
                ("cn", "Grace Hopper"),
                ("sn", "Hopper"),
                ("givenName", "Grace"),
                ("mail", &format!("{uid}@example.com")),
            ],
        ))
        .await
        .unwrap();
    }
    let root = Root::new();
    let batch = ldap_to_p1_batch(&server, &p1, &base, &pop, "", "");
    let file = root.write("b.dsconfig", &batch);
    root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    let log = std::fs::read_to_string(root.path().join("logs/tools/resync.log")).unwrap_or_default();
    let users = list_users(&api, &format!("population.id eq \"{pop}\"")).await;
    assert_eq!(users.len(), 3, "{out}\n{log}");
    let u = users.iter().find(|u| u["username"] == format!("{t}-1")).unwrap();
    assert_eq!(u["name"]["given"], "Grace", "{u}");
    assert_eq!(u["externalId"], format!("{t}-1"));
    // An update at the source is applied to the existing user.
    ldap.modify(
        &format!("uid={t}-1,{base}"),
        &[Modification::Replace("sn".into(), vec![Value::from("Murray Hopper")])],
    )
    .await
    .unwrap();
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    let users = list_users(&api, &format!("population.id eq \"{pop}\"")).await;
    assert_eq!(users.len(), 3, "{out}");
    let u = users.iter().find(|u| u["username"] == format!("{t}-1")).unwrap();
    assert_eq!(u["name"]["family"], "Murray Hopper", "{u}\n{out}");
}

/// The sample batch file (PingOne → OpenLDAP) works as shipped once its placeholders are filled in: resync
/// copies the users, then real-time sync locks and deletes users that resync copied.
#[tokio::test]
async fn sample_batch_file_pingone_to_openldap() {
    let p1 = P1::from_env();
    let api = p1.client(false);
    let server = Server::from_env("OPENLDAP");
    let ldap = server.client();
    let t = unique("p1-sample");
    let base = format!("ou={t},{}", server.base_dn);
    ldap.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
    ldap.add(&entry(&format!("ou=people,{base}"), &[("objectClass", "organizationalUnit"), ("ou", "people")]))
        .await
        .unwrap();
    let pop_name = format!("sample-{t}");
    let pop = create_population(&api, &pop_name).await;
    let a = create_user(&api, &pop, &format!("{t}-a"), "Alan", "Turing").await;
    create_user(&api, &pop, &format!("{t}-b"), "Barbara", "Liskov").await;
    let text = std::fs::read_to_string(
        util::repo().join("sample-dsconfig-batch-files/reference-ping-one-sync-source-configuration.dsconfig"),
    )
    .unwrap()
    .replace("https://auth.pingone.com/[PING_ONE_ENV_ID]/as/token", &p1.auth_url)
    .replace("https://api.pingone.com/v1", &p1.url)
    .replace("[PING_ONE_ENV_ID]", &p1.env)
    .replace("[PING_ONE_OAUTH_CLIENT_ID]", &p1.id)
    .replace("[PING_ONE_OAUTH_CLIENT_SECRET]", &p1.secret)
    .replace("population-to-synchronize:Default", &format!("population-to-synchronize:{pop_name}"))
    .replace("realtime-sync-polling-offset:5 s", "realtime-sync-polling-offset:1 s")
    .replace("change-detection-polling-interval:1 s", "change-detection-polling-interval:200 ms")
    .replace("server-port:3389", &format!("server-port:{}", server.port))
    .replace("bind-dn:cn=admin,dc=example,dc=com", &format!("\"bind-dn:{}\"", server.bind_dn))
    .replace("password:secret", &format!("\"password:{}\"", server.bind_pw))
    .replace("ou=people,dc=example,dc=com", &format!("ou=people,{base}"));
    let root = Root::new();
    let file = root.write("sample.dsconfig", &text);
    root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    let pipe = "PingOne-to-OpenLDAP";
    let out = root.run("realtime-sync", &["set-startpoint", "--pipe-name", pipe, "--end-of-changelog"]).ok();
    assert!(out.contains("The startpoint has been set"), "{out}");
    let out = root.run("resync", &["--pipe-name", pipe]).ok();
    let dn = |u: &str| format!("uid={t}-{u},ou=people,{base}");
    let e = ldap.get(&dn("a"), &["*"]).await.unwrap().unwrap_or_else(|| panic!("{out}"));
    assert_eq!(e.texts("givenName"), ["Alan"]);
    assert_eq!(e.texts("cn"), ["Alan Turing"]);
    assert!(ldap.get(&dn("b"), &["1.1"]).await.unwrap().is_some());
    root.run("realtime-sync", &["start", "--pipe-name", pipe]).ok();
    let started = root.run("start-server", &[]).ok();
    assert!(started.contains("The sync server started"), "{started}");
    let _server = ServerGuard { root: &root };
    let lock = Body { content_type: "application/vnd.pingidentity.account.lock+json", json: json!({}) };
    user_call(&api, "POST", &a, "", Some(lock)).await;
    eventually("the lock reaches OpenLDAP", WAIT, || async {
        ldap.get(&dn("a"), &["pwdAccountLockedTime"]).await.unwrap().is_some_and(|e| e.has("pwdAccountLockedTime"))
    })
    .await;
    // A user that resync copied is deleted through the id map resync recorded.
    user_call(&api, "DELETE", &a, "", None).await;
    eventually("the delete reaches OpenLDAP", WAIT, || async { ldap.get(&dn("a"), &["1.1"]).await.unwrap().is_none() })
        .await;
}

/// A real PingDataSync batch file from the corpus (PingDirectory → PingOne, with the old `ping-one-*`
/// property names, a constructed JSON `population` and `name`, correlation by username then email) runs
/// against the emulator once its placeholders and hosts are filled in.
#[tokio::test]
async fn corpus_pingone_destination_batch_file() {
    let p1 = P1::from_env();
    let api = p1.client(false);
    let server = Server::from_env("OPENLDAP");
    let ldap = server.client();
    let t = unique("p1-corpus");
    let base = format!("ou={t},{}", server.base_dn);
    ldap.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
    let pop = create_population(&api, &format!("corpus-{t}")).await;
    for i in 0..3 {
        let uid = format!("{t}-{i}");
        ldap.add(&entry(
            &format!("uid={uid},{base}"),
            &[
                ("objectClass", "inetOrgPerson"),
                ("objectClass", "organizationalPerson"),
                ("objectClass", "person"),
                ("uid", &uid),
                ("cn", "Edsger \"E\" Dijkstra"),
                ("sn", "Dijkstra"),
            ],
        ))
        .await
        .unwrap();
    }
    let text = std::fs::read_to_string(util::repo().join(
        "tests/fixtures/ping-dsconfig-corpus/playground__austin-training__labs__20-pingone-destination.dsconfig",
    ))
    .unwrap()
    .replace("server-host-name:10.101.52.240", "server-host-name:127.0.0.1")
    .replace("server-port:1636", &format!("server-port:{}", server.port))
    .replace("connection-security:ssl", "connection-security:none")
    .replace("bind-dn:\"cn=Sync User,cn=Root DNs,cn=config\"", &format!("\"bind-dn:{}\"", server.bind_dn))
    .replace("password:2FederateM0re", &format!("\"password:{}\"", server.bind_pw))
    .replace("base-dn:ou=people,o=instructor", &format!("base-dn:{base}"))
    .replace("https://auth.pingone.com/[PING_ONE_ENV_ID]/as/token", &p1.auth_url)
    .replace("https://api.pingone.com/v1", &p1.url)
    .replace("[PING_ONE_ENV_ID]", &p1.env)
    .replace("[PING_ONE_OAUTH_CLIENT_ID]", &p1.id)
    .replace("[PING_ONE_OAUTH_CLIENT_SECRET]", &p1.secret)
    .replace("[SYNC_PIPE_NAME]", "pd-to-pingone")
    .replace("[SYNC_CLASS_NAME]", "users")
    .replace("[DEFAULT_POPULATION_ID]", &pop);
    let root = Root::new();
    let file = root.write("corpus.dsconfig", &text);
    root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    for pass in 0..2 {
        let out = root.run("resync", &["--pipe-name", "pd-to-pingone"]).ok();
        let users = list_users(&api, &format!("population.id eq \"{pop}\"")).await;
        assert_eq!(users.len(), 3, "pass {pass}: {out}");
        let u = users.iter().find(|u| u["username"] == format!("{t}-2")).unwrap();
        assert_eq!(u["name"]["given"], format!("{t}-2"), "{u}");
        assert_eq!(u["name"]["family"], "Dijkstra", "{u}");
        assert_eq!(u["email"], format!("{t}-2.Dijkstra@example.com"), "{u}");
    }
}

/// An expired token is replaced on the 401 it earns; `max-requests-per-second` spaces the requests out.
#[tokio::test]
async fn token_refresh_and_rate_limit() {
    let p1 = P1::from_env();
    let c = p1.client(false);
    let a = c.call("GET", c.env_url("users?limit=1"), None).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.describe());
    let before = p1.admin("stats", json!({})).await["tokens"].as_u64().unwrap();
    p1.admin("expire-tokens", json!({})).await;
    let a = c.call("GET", c.env_url("users?limit=1"), None).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.describe());
    let after = p1.admin("stats", json!({})).await["tokens"].as_u64().unwrap();
    assert!(after > before, "no new token was issued");
    // 5 requests a second: 11 requests take at least 2 s (the first is free).
    let slow = Client::new(Settings { max_requests_per_second: 5, ..c.settings().clone() }).unwrap();
    let start = Instant::now();
    for _ in 0..11 {
        assert!(slow.call("GET", slow.env_url("users?limit=1"), None).await.unwrap().ok());
    }
    assert!(start.elapsed() >= Duration::from_millis(1900), "{:?}", start.elapsed());
}

/// A PingOne emulator of a test's own (its settings are global, and this test changes them), on a free port.
struct OwnEmulator {
    child: std::process::Child,
}

impl OwnEmulator {
    /// Starts it and returns it with the coordinates of the shared one rewritten to it.
    fn start() -> (OwnEmulator, P1) {
        use std::io::BufRead;
        let mut child = std::process::Command::new("python3")
            .arg(util::repo().join("tests/pingone-emulator/emulator.py"))
            .arg("0")
            .args(["--tls-cert", &std::env::var("FERROSYNC_TEST_HTTPS_CERT_FILE").expect("the HTTPS test CA")])
            .args(["--tls-key", &std::env::var("FERROSYNC_TEST_HTTPS_KEY_FILE").expect("the HTTPS test CA")])
            .args(["--plain-port", "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs tests/pingone-emulator/emulator.py");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut listening = || {
            let mut line = String::new();
            out.read_line(&mut line).expect("the emulator prints its addresses");
            line.trim().strip_prefix("listening on ").expect("listening on URL").to_string()
        };
        let (tls, plain) = (listening(), listening());
        let shared = P1::from_env();
        let re = |base: &str, u: &str| {
            let rest = u.split_once("://").and_then(|(_, r)| r.split_once('/')).map(|(_, p)| p).unwrap_or("");
            format!("{base}/{rest}")
        };
        let p1 = P1 {
            url: re(&tls, &shared.url),
            auth_url: re(&tls, &shared.auth_url),
            admin_url: re(&plain, &shared.admin_url),
            plain_url: re(&plain, &shared.plain_url),
            plain_auth_url: re(&plain, &shared.plain_auth_url),
            ..shared
        };
        (OwnEmulator { child }, p1)
    }
}

impl Drop for OwnEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `status` value `field` of pipe `pipe`.
fn status_field(root: &Root, pipe: &str, field: &str) -> String {
    let out = root.run("status", &["--script-friendly"]).ok();
    let prefix = format!("{pipe}\t{field}\t");
    out.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default().to_string()
}

/// PingOne keeps activities for a while only (here the emulator keeps them 6 s): an idle pipe keeps its start
/// point fresh and goes on working; a server stopped for longer than that reports, in `status`, that a resync
/// is needed; resync and a new start point bring the pipe back.
#[tokio::test]
async fn retention_window_end_to_end() {
    let (_emulator, p1) = OwnEmulator::start();
    let w = World::with("p1-retention", "", p1).await;
    w.p1.admin("config", json!({"retention_seconds": 6})).await;
    let t = unique("ret");
    let server = w.go();
    let first = format!("{t}-first");
    create_user(&w.api, &w.pop, &first, "First", "User").await;
    eventually("the first create arrives", WAIT, || async { w.get(&first).await.is_some() }).await;
    // Idle for longer than the retention: the pipe still works.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let second = format!("{t}-second");
    create_user(&w.api, &w.pop, &second, "Second", "User").await;
    eventually("a create after an idle spell longer than the retention arrives", WAIT, || async {
        w.get(&second).await.is_some()
    })
    .await;
    assert_eq!(status_field(&w.root, "p", "Last Error"), "", "no error while idle");
    // Stopped for longer than the retention: the start point is too old.
    drop(server);
    let third = format!("{t}-third");
    create_user(&w.api, &w.pop, &third, "Third", "User").await;
    tokio::time::sleep(Duration::from_secs(9)).await;
    let server = ServerGuard::start(&w.root);
    eventually("status says a resync is needed", WAIT, || async {
        let e = status_field(&w.root, "p", "Last Error");
        e.contains("older than the audit activities PingOne keeps") && e.contains("run resync")
    })
    .await;
    assert!(w.get(&third).await.is_none(), "the lost change was not applied");
    // What the error says to do.
    drop(server);
    w.resync().ok();
    assert!(w.get(&third).await.is_some(), "resync copied the user whose change was lost");
    let _server = w.go();
    let fourth = format!("{t}-fourth");
    create_user(&w.api, &w.pop, &fourth, "Fourth", "User").await;
    eventually("the pipe works again", WAIT, || async { w.get(&fourth).await.is_some() }).await;
    assert_eq!(status_field(&w.root, "p", "Last Error"), "");
}

/// A bidirectional pair between PingOne and 389 DS in one sync server: `p1-to-ldap` ignores the activities of
/// the worker app that `ldap-to-p1` writes with (`actor-id-to-ignore`), and `ldap-to-p1` ignores the changes
/// made by the DN that `p1-to-ldap` binds as (`ignore-changes-by-dn`). Edits on both sides converge, and the
/// pipes go quiet: nothing bounces back.
#[tokio::test]
async fn bidirectional_pingone_ldap_pair_does_not_loop() {
    use ferrosync_ldap::ServerConfig;
    let p1 = P1::from_env();
    let api = p1.client(false);
    let ds = Server::from_env("389");
    let admin = ds.client();
    let t = unique("p1-bidi");
    let base = format!("ou={t},{}", ds.base_dn);
    let editor_dn = format!("uid=editor,{base}");
    let aci = format!("(targetattr=\"*\")(version 3.0; acl \"editor\"; allow (all) userdn=\"ldap:///{editor_dn}\";)");
    admin.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t), ("aci", &aci)])).await.unwrap();
    admin
        .add(&entry(&format!("ou=people,{base}"), &[("objectClass", "organizationalUnit"), ("ou", "people")]))
        .await
        .unwrap();
    admin
        .add(&entry(
            &editor_dn,
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", "editor"),
                ("cn", "editor"),
                ("sn", "editor"),
                ("userPassword", "Editor-Pa55"),
            ],
        ))
        .await
        .unwrap();
    // Someone editing the directory by hand (not the sync user).
    let editor = ferrosync_ldap::LdapClient::single(
        ServerConfig::new("editor", &ds.host, ds.port)
            .with_bind(&editor_dn, ferrosync::secret::Secret::new("Editor-Pa55")),
    )
    .unwrap();
    let pop = create_population(&api, &format!("pop-{t}")).await;
    let people = format!("ou=people,{base}");
    let batch = format!(
        "{ds389}\
{p1src}\
dsconfig create-sync-destination --destination-name ldapdst --type generic-ldap --set base-dn:{base} --set server:ds389\n\
dsconfig create-sync-pipe --pipe-name p1-to-ldap --set sync-source:p1src --set sync-destination:ldapdst --set \"change-detection-polling-interval:200 ms\"\n\
dsconfig create-dn-map --map-name users-dn --set from-dn-pattern:* --set \"to-dn-pattern:uid={{username}},{people}\"\n\
dsconfig create-attribute-map --map-name from-p1\n\
dsconfig create-attribute-mapping --map-name from-p1 --mapping-name objectClass --type constructed --set value-pattern:inetOrgPerson\n\
dsconfig create-attribute-mapping --map-name from-p1 --mapping-name uid --type constructed --set value-pattern:{{username}}\n\
dsconfig create-attribute-mapping --map-name from-p1 --mapping-name cn --type constructed --set value-pattern:{{username}}\n\
dsconfig create-attribute-mapping --map-name from-p1 --mapping-name givenName --type constructed --set \"value-pattern:{{name.given}}\"\n\
dsconfig create-attribute-mapping --map-name from-p1 --mapping-name sn --type constructed --set \"value-pattern:{{name.family}}\"\n\
dsconfig create-attribute-mapping --map-name from-p1 --mapping-name mail --type constructed --set value-pattern:{{email}}\n\
dsconfig create-sync-class --pipe-name p1-to-ldap --class-name users --set attribute-map:from-p1 --set dn-map:users-dn \
    --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:dn\n\
dsconfig create-sync-source --source-name ldapsrc --type generic-ldap --set base-dn:{people} --set server:ds389 \
    --set unique-id-attribute:nsUniqueId --set \"ignore-changes-by-dn:{dm}\"\n\
dsconfig create-sync-destination --destination-name p1dst --type ping-one-customer --set ping-one-api-url:{url} \
    --set ping-one-auth-url:{auth} --set ping-one-environment-id:{env} --set ping-one-oauth-client-id:{id2} \
    --set ping-one-oauth-client-secret:{secret2} --set ping-one-default-population-id:{pop}\n\
dsconfig create-sync-pipe --pipe-name ldap-to-p1 --set sync-source:ldapsrc --set sync-destination:p1dst --set \"change-detection-polling-interval:200 ms\"\n\
dsconfig create-attribute-map --map-name to-p1\n\
dsconfig create-attribute-mapping --map-name to-p1 --mapping-name username --type constructed --set value-pattern:{{uid}}\n\
dsconfig create-attribute-mapping --map-name to-p1 --mapping-name email --type constructed --set value-pattern:{{mail}}\n\
dsconfig create-attribute-mapping --map-name to-p1 --mapping-name name --type constructed \
    --set 'value-pattern:{{{{\"given\":\"{{givenName}}\",\"family\":\"{{sn}}\"}}}}'\n\
dsconfig create-sync-class --pipe-name ldap-to-p1 --class-name users --set \"include-filter:(&(objectClass=inetOrgPerson)(!(uid=editor)))\" \
    --set attribute-map:to-p1 --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:username\n",
        ds389 = ds.dsconfig("ds389"),
        p1src = p1.source(
            "p1src",
            &format!(
                "--set population-to-synchronize:pop-{t} --set actor-id-to-ignore:{} --set \"realtime-sync-polling-offset:1 s\"",
                p1.id2
            )
        ),
        dm = ds.bind_dn,
        url = p1.url,
        auth = p1.auth_url,
        env = p1.env,
        id2 = p1.id2,
        secret2 = p1.secret2,
    );
    let root = Root::new();
    let file = root.write("bidi.dsconfig", &batch);
    root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    for pipe in ["p1-to-ldap", "ldap-to-p1"] {
        root.run("realtime-sync", &["set-startpoint", "--pipe-name", pipe, "--end-of-changelog"]).ok();
        root.run("realtime-sync", &["start", "--pipe-name", pipe]).ok();
    }
    let _server = ServerGuard::start(&root);
    let dn = |u: &str| format!("uid={u},{people}");
    let ldap_get = |u: String| {
        let admin = &admin;
        let d = dn(&u);
        async move { admin.get(&d, &["*"]).await.unwrap() }
    };
    let p1_get = |u: String| {
        let api = &api;
        let pop = &pop;
        async move {
            list_users(api, &format!("population.id eq \"{pop}\" and username eq \"{u}\"")).await.into_iter().next()
        }
    };

    // Made in PingOne: created and updated there, reaches the directory.
    let ana = format!("{t}-ana");
    let ana_id = create_user(&api, &pop, &ana, "Ana", "Original").await;
    eventually("the PingOne create reaches 389 DS", WAIT, || async { ldap_get(ana.clone()).await.is_some() }).await;
    user_call(&api, "PATCH", &ana_id, "", Some(Body::json(json!({"name": {"given": "Ana", "family": "FromPingOne"}}))))
        .await;
    eventually("the PingOne update reaches 389 DS", WAIT, || async {
        ldap_get(ana.clone()).await.is_some_and(|e| e.texts("sn") == ["FromPingOne"])
    })
    .await;
    // Made in the directory: created and updated there, reaches PingOne.
    let ben = format!("{t}-ben");
    editor
        .add(&entry(
            &dn(&ben),
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", &ben),
                ("cn", &ben),
                ("sn", "Original"),
                ("givenName", "Ben"),
                ("mail", &format!("{ben}@example.com")),
            ],
        ))
        .await
        .unwrap();
    eventually("the directory create reaches PingOne", WAIT, || async { p1_get(ben.clone()).await.is_some() }).await;
    editor.modify(&dn(&ben), &[Modification::Replace("sn".into(), vec![Value::from("FromLdap")])]).await.unwrap();
    eventually("the directory update reaches PingOne", WAIT, || async {
        p1_get(ben.clone()).await.is_some_and(|u| u["name"]["family"] == "FromLdap")
    })
    .await;
    // The PingOne user edited in the directory: back to PingOne, and not back again.
    editor
        .modify(&dn(&ana), &[Modification::Replace("mail".into(), vec![Value::from("ana.new@example.com")])])
        .await
        .unwrap();
    eventually("the directory edit of a PingOne user reaches PingOne", WAIT, || async {
        p1_get(ana.clone()).await.is_some_and(|u| u["email"] == "ana.new@example.com")
    })
    .await;
    // A delete in the directory.
    let cy = format!("{t}-cy");
    editor
        .add(&entry(
            &dn(&cy),
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", &cy),
                ("cn", &cy),
                ("sn", "Gone"),
                ("givenName", "Cy"),
                ("mail", &format!("{cy}@example.com")),
            ],
        ))
        .await
        .unwrap();
    eventually("the second directory create reaches PingOne", WAIT, || async { p1_get(cy.clone()).await.is_some() })
        .await;
    editor.delete(&dn(&cy)).await.unwrap();
    eventually("the directory delete reaches PingOne", WAIT, || async { p1_get(cy.clone()).await.is_none() }).await;

    // Converged: both sides hold the same users with the same values.
    for u in [&ana, &ben] {
        let e = ldap_get(u.clone()).await.unwrap_or_else(|| panic!("{u} is in 389 DS"));
        let p = p1_get(u.clone()).await.unwrap_or_else(|| panic!("{u} is in PingOne"));
        assert_eq!(e.texts("sn"), [p["name"]["family"].as_str().unwrap()], "{u}: {p}");
        assert_eq!(e.texts("givenName"), [p["name"]["given"].as_str().unwrap()], "{u}: {p}");
        assert_eq!(e.texts("mail"), [p["email"].as_str().unwrap()], "{u}: {p}");
    }
    assert!(ldap_get(cy.clone()).await.is_none());

    // Quiet: the counters stop moving (an echo would make a new change every second or so), and each pipe did
    // no more than the edits made on its side: 2 in PingOne (create, update), 5 in the directory.
    let counts = |pipe: &'static str| {
        let root = &root;
        move || (status_field(root, pipe, "Changes Detected"), status_field(root, pipe, "Success"))
    };
    let (a, b) = (counts("p1-to-ldap"), counts("ldap-to-p1"));
    let mut last = (a(), b());
    let mut stable_since = Instant::now();
    let start = Instant::now();
    while stable_since.elapsed() < Duration::from_secs(6) {
        assert!(start.elapsed() < Duration::from_secs(90), "the pipes never went quiet: {last:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = (a(), b());
        if now != last {
            last = now;
            stable_since = Instant::now();
        }
    }
    let n = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    let ((a_detected, a_success), (b_detected, b_success)) = last.clone();
    assert!(n(&a_success) <= 2, "p1-to-ldap applied more than the PingOne edits: {last:?}");
    assert!(n(&b_success) <= 5, "ldap-to-p1 applied more than the directory edits: {last:?}");
    assert!(n(&a_detected) >= 2 && n(&b_detected) >= 5, "{last:?}");
}

/// PingOne over HTTPS: with the system's CAs alone (which lack the emulator's), the certificate is refused; a
/// file-based trust manager provider on the sync source makes it trusted.
#[tokio::test]
async fn https_certificates_are_checked_and_a_file_based_provider_adds_the_ca() {
    let w = World::new("p1-tls", "").await;
    create_user(&w.api, &w.pop, &format!("tls{}", unique("u")), "Tess", "Ls").await;
    let (ca, system) = util::https_ca();
    let system_only = [("SSL_CERT_FILE", system.as_str())];
    let refused = w.root.run_env("resync", &["--pipe-name", "p"], &system_only).fails();
    let all = format!("{refused}{}", w.log());
    assert!(all.to_lowercase().contains("certificate"), "{all}");
    assert_eq!(w.people().await, 0);
    w.dsconfig(&format!(
        "dsconfig create-trust-manager-provider --provider-name test-ca --type file-based --set enabled:true \
         --set trust-store-file:{ca}\n\
         dsconfig set-sync-source-prop --source-name src --set trust-manager-provider:test-ca\n"
    ));
    w.root.run_env("resync", &["--pipe-name", "p"], &system_only).ok();
    assert_eq!(w.people().await, 1);
}

/// The one plain-HTTP test: the client secret is not sent to an `http://` auth-url or api-url unless the
/// source says so; with `allow-credentials-over-http: true` (which dsconfig warns about) resync works.
#[tokio::test]
async fn credentials_go_over_plain_http_only_when_allowed() {
    let p1 = P1::from_env();
    let plain = P1 { url: p1.plain_url.clone(), auth_url: p1.plain_auth_url.clone(), ..p1 };
    let w = World::with("p1-plain", "", plain).await;
    create_user(&w.api, &w.pop, &format!("pl{}", unique("u")), "Pat", "Lain").await;
    let refused = w.resync().fails();
    let all = format!("{refused}{}", w.log());
    assert!(all.contains("api-url") && all.contains("allow-credentials-over-http:true"), "{all}");
    let file = w.root.write(
        "plain.dsconfig",
        "dsconfig set-sync-source-prop --source-name src --set allow-credentials-over-http:true\n",
    );
    let run = w.root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]);
    run.ok();
    let out = run.stderr(); // notes go to standard error
    assert!(out.contains("clear text"), "{out}");
    w.resync().ok();
    assert_eq!(w.people().await, 1);
}

/// A resync of 200 users with 8 worker threads into an emulator of its own (pages of up to 1000 users):
/// correlation from one listing of the environment, not a search per user; the requests in parallel; the
/// right users. Again: everything in sync, with no write and a handful of requests.
#[tokio::test]
async fn resync_of_200_users_correlates_from_one_listing_in_parallel() {
    const N: usize = 200;
    let (_own, p1) = OwnEmulator::start();
    p1.admin("config", json!({"page_cap": 1000})).await;
    let api = p1.client(false);
    let server = Server::from_env("OPENLDAP");
    let ldap = server.client();
    let t = unique("p1-par");
    let base = format!("ou={t},{}", server.base_dn);
    ldap.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
    let pop = create_population(&api, &format!("par-{t}")).await;
    // Users of another population that the listing reads too (and correlation must not confuse).
    for i in 0..5 {
        create_user(&api, &pop, &format!("other-{t}-{i}"), "Other", "User").await;
    }
    for i in 0..N {
        let uid = format!("{t}-{i}");
        let sn = format!("Family{i}");
        ldap.add(&entry(
            &format!("uid={uid},{base}"),
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", &uid),
                ("cn", &uid),
                ("sn", &sn),
                ("givenName", "Given"),
                ("mail", &format!("{uid}@example.com")),
            ],
        ))
        .await
        .unwrap();
    }
    let root = Root::new();
    let batch = ldap_to_p1_batch(
        &server,
        &p1,
        &base,
        &pop,
        " --set max-requests-per-second:100000",
        " --set num-worker-threads:8",
    );
    let file = root.write("b.dsconfig", &batch);
    root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    let requests = |s: &Json| s["requests"].as_u64().unwrap();
    let before = p1.admin("stats", json!({})).await;
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    let after = p1.admin("stats", json!({})).await;
    assert!(out.contains("Correlation: from one listing of the destination (5 entries in 1 requests"), "{out}");
    assert!(
        out.contains(&format!("\"0 entries were in-sync, 0 entries were modified, {N} entries were created,")),
        "{out}"
    );
    // A check, the listing, then one POST per user; no searches.
    let sent = requests(&after) - requests(&before);
    assert!(sent <= N as u64 + 5, "{sent} requests for {N} creates: {after}");
    assert!(after["in_flight_max"].as_u64().unwrap() >= 2, "requests in parallel: {after}");
    let users = list_users(&api, &format!("population.id eq \"{pop}\" and username sw \"{t}-\"")).await;
    assert_eq!(users.len(), N, "{out}");
    for u in &users {
        let uid = u["username"].as_str().unwrap();
        let i = uid.rsplit('-').next().unwrap();
        assert_eq!(u["name"]["family"], format!("Family{i}"), "{u}");
        assert_eq!(u["email"], format!("{uid}@example.com"), "{u}");
    }

    let before = p1.admin("stats", json!({})).await;
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    let after = p1.admin("stats", json!({})).await;
    assert!(
        out.contains(&format!("\"{N} entries were in-sync, 0 entries were modified, 0 entries were created,")),
        "{out}"
    );
    let sent = requests(&after) - requests(&before);
    assert!(sent <= 5, "{sent} requests to find {N} users in sync: {after}");
    assert_eq!(list_users(&api, &format!("population.id eq \"{pop}\"")).await.len(), N + 5);
}
