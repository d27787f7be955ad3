//! create-sync-pipe-config with its HTTP endpoints, end to end: an OpenLDAP → SCIM 2.0 pipe (through the
//! pseudo-terminal, then by flags) against the scim2-server of tests/run.sh, and a PingOne → OpenLDAP pipe (by
//! flags) against the PingOne emulator; resync with the configuration the wizard wrote copies the users.
//! Servers: `FERROSYNC_TEST_OPENLDAP_*`, `FERROSYNC_TEST_SCIM2_*`, `FERROSYNC_TEST_PINGONE_*`.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::process::Command;

use ferrosync_pingone::client::{Body, Client, Settings};
use serde_json::{json, Value as Json};
use util::pty::Pty;
use util::scenario::entry;
use util::{unique, Root, Server};

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with tests/run.sh, which starts the test servers"))
}

/// A subtree of its own at OpenLDAP, with `people` (uids) below it when given.
async fn subtree(name: &str, people: &[&str]) -> (String, Server) {
    let ldap = Server::from_env("OPENLDAP");
    let t = unique(name).replace('-', "");
    let base = format!("ou={t},{}", ldap.base_dn);
    let c = ldap.client();
    c.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
    for p in people {
        let uid = format!("{p}{t}");
        let mail = format!("{uid}@example.com");
        c.add(&entry(
            &format!("uid={uid},{base}"),
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", &uid),
                ("cn", p),
                ("sn", "Tester"),
                ("givenName", p),
                ("mail", &mail),
            ],
        ))
        .await
        .unwrap();
    }
    (t, ldap)
}

/// The SCIM User named `user_name`, read with curl.
fn scim_user(url: &str, token: &str, user_name: &str) -> Option<Json> {
    let filter = format!("userName eq \"{user_name}\"").replace(' ', "%20").replace('"', "%22");
    let out = Command::new("curl")
        .args(["-s", "-H", &format!("Authorization: Bearer {token}"), &format!("{url}/Users?filter={filter}")])
        .output()
        .unwrap();
    let j: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    let found = j["Resources"].as_array().cloned().unwrap_or_default();
    assert!(found.len() <= 1, "one SCIM User per userName: {j}");
    found.into_iter().next()
}

#[tokio::test]
async fn openldap_to_scim2_through_the_terminal_and_by_flags_then_resync_copies_the_users() {
    // The wizard is given the HTTPS gateway (which the system's CA store trusts); curl reads the service itself.
    let (direct, url, token) =
        (var("FERROSYNC_TEST_SCIM2_URL"), var("FERROSYNC_TEST_SCIM2_GATEWAY_URL"), var("FERROSYNC_TEST_SCIM2_TOKEN"));
    let (t, ldap) = subtree("wscim", &["ann", "bob"]).await;
    let base = format!("ou={t},{}", ldap.base_dn);
    let server = format!("{}:{}", ldap.host, ldap.port);
    let root = Root::new();
    // The source by flags, the rest on the terminal.
    let source = [
        "--direction",
        "one-way",
        "--sourceType",
        "openldap",
        "--sourceName",
        "ol",
        "--sourceBaseDN",
        &base,
        "--sourceServer",
        &server,
        "--sourceBindDN",
        &ldap.bind_dn,
        "--sourceBindPassword",
        &ldap.bind_pw,
        "--sourceSecurity",
        "none",
        "--prepareSourceServer",
        "no",
        "--sourceUniqueIdAttribute",
        "entryUUID",
    ];
    let mut p = Pty::spawn("create-sync-pipe-config", root.path(), &source);
    p.expect("Destination endpoint type");
    p.expect("A SCIM 2.0 service");
    p.answer("Enter a choice", "scim2");
    p.answer("Name of the destination", "scim");
    p.answer("Base URL of the SCIM 2.0 service", "not a url"); // re-asked with the reason:
    p.answer("is not an absolute URL", &direct); // the service itself, over plain HTTP: refused
    p.answer("is plain HTTP, and the credentials would go in clear text", &url);
    p.expect("How requests to the SCIM service are authorized");
    p.answer("Enter a choice", "");
    p.answer("Bearer token", "not-the-token");
    p.expect("cannot use the SCIM service");
    p.expect("Enter them again");
    p.answer("Base URL of the SCIM 2.0 service", &url);
    p.answer("Enter a choice", "bearer-token");
    p.answer("Bearer token", &token);
    p.expect("Connected to the SCIM service.");
    p.answer("Name of the sync pipe", "p");
    p.expect(&format!("SCIM 2.0 service: {url} (a bearer token *****)"));
    p.expect("Sync class 'users': the preset");
    p.expect("What next");
    p.answer("Enter a choice", "1");
    p.expect("The configuration was written");
    assert_eq!(p.finish(), 0, "{}", p.seen);
    assert!(!p.seen.contains(&token) && !p.seen.contains(&ldap.bind_pw), "a secret was echoed:\n{}", p.seen);
    let saved = std::fs::read_to_string(root.path().join("config/create-sync-pipe-config.properties")).unwrap();
    assert!(saved.contains("destinationScimAuth=bearer-token") && !saved.contains(&token), "{saved}");

    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("2 entries were created"), "{out}");
    let ann = scim_user(&direct, &token, &format!("ann{t}")).expect("ann is a SCIM User");
    assert_eq!(ann["name"]["familyName"], "Tester", "{ann}");
    assert_eq!(ann["emails"][0]["value"], format!("ann{t}@example.com"), "{ann}");

    // The same by flags (and the answers file): in sync already.
    let by_flags = Root::new();
    let props = by_flags.write("answers.properties", &saved);
    let args = [
        "--no-prompt",
        "--propertiesFilePath",
        props.to_str().unwrap(),
        "--sourceBindPassword",
        &ldap.bind_pw,
        "--destinationScimBearerToken",
        &token,
    ];
    by_flags.run("create-sync-pipe-config", &args).ok();
    let out = by_flags.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("0 entries could not be processed due to an error"), "{out}");
    let again = scim_user(&direct, &token, &format!("ann{t}")).expect("ann is still a SCIM User");
    assert_eq!(again["id"], ann["id"], "the same SCIM User, found by userName");
    // A second pipe from the same source, used as it is, to a copy at the same OpenLDAP through its existing
    // external server (whose sync user is the source's): the wizard creates only the destination and the pipe.
    let copy = format!("ou=copy{t},{}", ldap.base_dn);
    ldap.client()
        .add(&entry(&copy, &[("objectClass", "organizationalUnit"), ("ou", &format!("copy{t}"))]))
        .await
        .unwrap();
    let before = root.config().objects().len();
    let server_name = format!("ol {server}");
    let reuse = [
        "--no-prompt",
        "--sourceExisting",
        "ol",
        "--destinationType",
        "openldap",
        "--destinationName",
        "copy",
        "--destinationBaseDN",
        &copy,
        "--destinationExistingServer",
        &server_name,
        "--pipeName",
        "p2",
        "--syncClass",
        "none",
    ];
    let out = root.run("create-sync-pipe-config", &reuse);
    assert!(out.stderr().contains("The source is the existing 'ol', used as it is."), "{}", out.stderr());
    out.ok();
    let config = root.config();
    assert_eq!(config.objects().len(), before + 4, "a destination, a DN map, a pipe and its DEFAULT class");
    assert_eq!(config.get("sync-destination", "copy").unwrap().values("server"), vec![server_name.as_str()]);
    let out = root.run("resync", &["--pipe-name", "p2"]).ok();
    assert!(out.contains("1 entries were modified, 2 entries were created"), "{out}");
    assert!(ldap.client().get(&format!("uid=bob{t},{copy}"), &["1.1"]).await.unwrap().is_some(), "bob was copied");
    // On a terminal, the existing ones are listed first: this pipe uses both ends as they are.
    let mut p = Pty::spawn("create-sync-pipe-config", root.path(), &[]);
    // (what to wait for, then the answer to type when there is one)
    let script = [
        ("Synchronization direction", None),
        ("Enter a choice", Some("1")),
        ("The source: a new one, or one of the configuration's", None),
        ("Use the existing source 'ol' (openldap", None),
        ("Enter a choice", Some("ol")),
        ("The source is the existing 'ol', used as it is.", None),
        ("Use the existing destination 'scim' (scim2)", None),
        ("Enter a choice", Some("scim")),
        ("Name of the sync pipe", Some("p3")),
        ("(exists in the configuration: used as it is)", None),
        ("What next", None),
        ("Enter a choice", Some("1")),
        ("The configuration was written", None),
    ];
    for (wait, answer) in script {
        match answer {
            Some(a) => p.answer(wait, a),
            None => {
                p.expect(wait);
            }
        }
    }
    assert_eq!(p.finish(), 0, "{}", p.seen);
    let out = root.run("resync", &["--pipe-name", "p3"]).ok();
    assert!(out.contains("0 entries could not be processed due to an error"), "{out}");
    assert_eq!(scim_user(&direct, &token, &format!("bob{t}")).expect("bob")["name"]["familyName"], "Tester");

    // A name that is not in the configuration is refused with the names that are.
    let mut wrong = reuse.to_vec();
    wrong[2] = "nope";
    let err = root.run("create-sync-pipe-config", &wrong).fails();
    assert!(err.contains("invalid answer --sourceExisting 'nope'") && err.contains("it has: ol"), "{err}");

    // A SCIM service is never a source, and an HTTP endpoint is refused in a bidirectional pipe.
    let err = Root::new().run("create-sync-pipe-config", &["--no-prompt", "--sourceType", "scim2"]).fails();
    assert!(err.contains("invalid answer --sourceType 'scim2'"), "{err}");
    let err = Root::new()
        .run("create-sync-pipe-config", &["--no-prompt", "--direction", "bidirectional", "--sourceType", "pingone"])
        .fails();
    assert!(err.contains("invalid answer --sourceType 'pingone'"), "{err}");
}

#[tokio::test]
async fn pingone_to_openldap_by_flags_then_resync_copies_the_population() {
    let (api_url, auth_url) = (var("FERROSYNC_TEST_PINGONE_URL"), var("FERROSYNC_TEST_PINGONE_AUTH_URL"));
    let (env, id, secret) = (
        var("FERROSYNC_TEST_PINGONE_ENV_ID"),
        var("FERROSYNC_TEST_PINGONE_CLIENT_ID"),
        var("FERROSYNC_TEST_PINGONE_CLIENT_SECRET"),
    );
    let api = Client::new(Settings {
        api_url: api_url.clone(),
        auth_url: auth_url.clone(),
        environment_id: env.clone(),
        client_id: id.clone(),
        client_secret: ferrosync::secret::Secret::new(&secret),
        max_requests_per_second: 0,
        label: "test client".into(),
        trust: ferrosync::https::HttpsTrust::CaFile(util::https_ca().0.into()),
    })
    .unwrap();
    let (t, ldap) = subtree("wp1", &[]).await;
    let base = format!("ou={t},{}", ldap.base_dn);
    let pop_name = format!("pop-{t}");
    let a = api.call("POST", api.env_url("populations"), Some(Body::json(json!({ "name": pop_name })))).await.unwrap();
    assert_eq!(a.status, 201, "{}", a.describe());
    let pop = a.body["id"].as_str().unwrap().to_string();
    for (user, given) in [("zoe", "Zoe"), ("yan", "Yan")] {
        let body = json!({
            "username": format!("{user}{t}"),
            "email": format!("{user}{t}@example.com"),
            "population": {"id": pop},
            "name": {"given": given, "family": "Pinger", "formatted": format!("{given} Pinger")},
        });
        let a = api.call("POST", api.env_url("users"), Some(Body::json(body))).await.unwrap();
        assert_eq!(a.status, 201, "{}", a.describe());
    }
    let root = Root::new();
    let secret_file = root.write("p1.secret", &format!("{secret}\n"));
    let server = format!("{}:{}", ldap.host, ldap.port);
    let args: Vec<String> = [
        ("sourceType", "pingone"),
        ("sourceName", "p1"),
        ("sourcePingOneEnvironmentID", &env),
        ("sourcePingOneAPIURL", &api_url),
        ("sourcePingOneAuthURL", &auth_url),
        ("sourcePingOneClientID", &id),
        ("sourcePingOneClientSecretFile", secret_file.to_str().unwrap()),
        ("sourcePingOnePopulation", &pop_name),
        ("destinationType", "openldap"),
        ("destinationName", "ol"),
        ("destinationBaseDN", &base),
        ("destinationServer", &server),
        ("destinationBindDN", &ldap.bind_dn),
        ("destinationBindPassword", &ldap.bind_pw),
        ("pipeName", "p"),
    ]
    .iter()
    .map(|(k, v)| format!("--{k}={v}"))
    .chain(["--no-prompt".to_string()])
    .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = root.run("create-sync-pipe-config", &args);
    assert!(!run.stderr().contains(&secret), "{}", run.stderr());
    run.ok();
    let config = root.config();
    let src = config.get("sync-source", "p1").expect("the PingOne source");
    assert_eq!(src.values("population-to-synchronize"), vec![pop_name.as_str()]);
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("2 entries were created"), "{out}");
    let e = ldap.client().get(&format!("uid=zoe{t},{base}"), &["*"]).await.unwrap().expect("zoe at OpenLDAP");
    assert_eq!(e.texts("cn"), vec!["Zoe Pinger"]);
    assert_eq!(e.texts("sn"), vec!["Pinger"]);
    assert_eq!(e.texts("mail"), vec![format!("zoe{t}@example.com")]);
    assert_eq!(e.texts("employeeNumber").len(), 1, "the PingOne id correlates: {e:?}");

    // Back the other way: an OpenLDAP → PingOne pipe into the same population (by id) creates a new person
    // there, finds the two that came from PingOne by their username, and leaves out a person without the email
    // address PingOne requires.
    for (uid, mail) in [(format!("xan{t}"), Some(format!("xan{t}@example.com"))), (format!("wes{t}"), None)] {
        let mut attrs = vec![("objectClass", "inetOrgPerson"), ("uid", uid.as_str()), ("cn", "X"), ("sn", "Back")];
        attrs.extend(mail.as_deref().map(|m| ("mail", m)));
        ldap.client().add(&entry(&format!("uid={uid},{base}"), &attrs)).await.unwrap();
    }
    let back = Root::new();
    let pairs = [
        ("sourceType", "openldap"),
        ("sourceName", "ol"),
        ("sourceBaseDN", &base),
        ("sourceServer", &server),
        ("sourceBindDN", &ldap.bind_dn),
        ("sourceBindPassword", &ldap.bind_pw),
        ("destinationType", "pingone"),
        ("destinationName", "p1"),
        ("destinationPingOneEnvironmentID", &env),
        ("destinationPingOneAPIURL", &api_url),
        ("destinationPingOneAuthURL", &auth_url),
        ("destinationPingOneClientID", &id),
        ("destinationPingOneClientSecret", &secret),
        ("destinationPingOnePopulation", &pop),
        ("pipeName", "back"),
    ];
    let a: Vec<String> = pairs.iter().map(|(k, v)| format!("--{k}={v}")).chain(["--no-prompt".into()]).collect();
    back.run("create-sync-pipe-config", &a.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    let dst = back.config().get("sync-destination", "p1").expect("the PingOne destination").clone();
    assert_eq!(dst.values("default-population-id"), vec![pop.as_str()]);
    let out = back.run("resync", &["--pipe-name", "back"]).ok();
    assert!(out.contains("1 entries were created") && out.contains("0 entries could not be processed"), "{out}");
    let filter = ferrosync_pingone::client::encode(&format!("population.id eq \"{pop}\""));
    let a = api.call("GET", api.env_url(&format!("users?filter={filter}")), None).await.unwrap();
    let users = a.body["_embedded"]["users"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = users.iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(users.len(), 3, "{names:?}");
    assert!(names.contains(&format!("xan{t}").as_str()), "{names:?}");

    // A wrong client secret is refused by PingOne when the wizard tests it.
    let mut wrong: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    wrong.retain(|a| !a.starts_with("--sourcePingOneClientSecretFile="));
    wrong.push("--sourcePingOneClientSecret=not-the-secret".into());
    let err = Root::new().run("create-sync-pipe-config", &wrong.iter().map(String::as_str).collect::<Vec<_>>()).fails();
    assert!(err.contains("--sourcePingOneEnvironmentID: cannot use PingOne"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");

    // Without the client secret, --no-prompt names it.
    let mut missing = args.to_vec();
    missing.retain(|a| !a.starts_with("--sourcePingOneClientSecretFile="));
    let err = Root::new().run("create-sync-pipe-config", &missing).fails();
    assert!(err.contains("missing answer --sourcePingOneClientSecret"), "{err}");
}
