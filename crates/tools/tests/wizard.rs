//! create-sync-pipe-config end to end: the wizard driven through a pseudo-terminal against the real 389 DS
//! and OpenLDAP of tests/run.sh, then resync with the configuration it wrote; the same answers given as flags,
//! as a properties file and as a batch file give the same configuration.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::BTreeMap;

use util::pty::Pty;
use util::scenario::entry;
use util::{unique, Root, Server};

/// The configuration as comparable data: every object with its values, sensitive ones left out (they are
/// sealed with a random nonce), and the answers file that the tool saved.
fn snapshot(root: &Root) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for o in root.config().objects() {
        let props: Vec<String> = o
            .props
            .iter()
            .filter(|(p, _)| !o.property(p).is_some_and(|d| d.sensitive))
            .map(|(p, v)| format!("{p}={v:?}"))
            .collect();
        out.insert(format!("{} {:?} {:?}", o.object_type.name, o.names, o.variant), props.join(" "));
    }
    out
}

/// A subtree of its own on both servers, with `ou=people` below; three people at the source.
async fn world(name: &str) -> (String, Server, Server) {
    let (src, dst) = (Server::from_env("389"), Server::from_env("OPENLDAP"));
    let t = unique(name);
    let base = format!("ou={t},{}", src.base_dn);
    for c in [src.client(), dst.client()] {
        c.add(&entry(&base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
        c.add(&entry(&format!("ou=people,{base}"), &[("objectClass", "organizationalUnit"), ("ou", "people")]))
            .await
            .unwrap();
    }
    let c = src.client();
    for uid in ["ann", "bob", "cy"] {
        c.add(&entry(
            &format!("uid={uid},ou=people,{base}"),
            &[
                ("objectClass", "inetOrgPerson"),
                ("uid", uid),
                ("cn", uid),
                ("sn", "Tester"),
                ("telephoneNumber", "+1 555 0100"),
            ],
        ))
        .await
        .unwrap();
    }
    (base, src, dst)
}

/// The answers of the interactive run, as flags.
fn flags(base: &str, src: &Server, dst: &Server) -> Vec<String> {
    let people = format!("people:ou=people,{base}");
    [
        ("direction", "one-way"),
        ("sourceType", "389ds"),
        ("sourceName", "ds"),
        ("sourceBaseDN", base),
        ("sourceSecurity", "none"),
        ("sourceServer", &format!("{}:{}", src.host, src.port)),
        ("sourceBindDN", &src.bind_dn),
        ("sourceBindPassword", &src.bind_pw),
        ("destinationType", "openldap"),
        ("destinationName", "ol"),
        ("destinationBaseDN", base),
        ("destinationServer", &format!("{}:{}", dst.host, dst.port)),
        ("destinationBindDN", &dst.bind_dn),
        ("destinationBindPassword", &dst.bind_pw),
        ("pipeName", "p"),
        ("syncClass", "people"),
        ("syncClassBaseDN", &people),
        ("syncClassFilter", "people:(objectClass=inetOrgPerson)"),
        ("syncClassAttributes", "people:except:telephoneNumber"),
        ("defaultClassOperations", "none"),
    ]
    .iter()
    .flat_map(|(k, v)| [format!("--{k}"), v.to_string()])
    .collect()
}

/// The interactive answers from the endpoint type of `role` ("source" or "destination") to its servers: the one
/// `server`, no connection security.
fn endpoint(t: &mut Pty, role: &str, kind: &str, name: &str, base: &str, server: &Server) {
    let title = if role == "source" { "Source" } else { "Destination" };
    t.expect(&format!("{title} endpoint type"));
    t.answer("Enter a choice", kind);
    t.answer(&format!("Name of the {role}"), name);
    t.answer(&format!("Base DN of the {role}"), base);
    t.answer("another one, or press Enter when done", "");
    t.expect(&format!("Connection security of the {role}"));
    t.answer("Enter a choice", "");
    t.answer(&format!("Server of the {role}, as host:port"), &format!("{}:{}", server.host, server.port));
    t.answer(&format!("Another server of the {role}"), "");
}

/// The interactive answers from the source's unique ID attribute to the pipe's name "p": the destination "ol" is
/// the OpenLDAP of tests/run.sh, with its administrator as the sync user (not prepared).
fn openldap_destination(t: &mut Pty, base: &str, dst: &Server) {
    t.answer("identifies an entry across renames", "");
    endpoint(t, "destination", "openldap", "ol", base, dst);
    t.answer("Prepare the destination's servers now", "no");
    t.answer("DN of the sync user of the destination", &dst.bind_dn);
    t.answer("Password of", &dst.bind_pw);
    t.answer("Name of the sync pipe", "p");
}

#[tokio::test]
async fn the_wizard_creates_a_pipe_that_resync_uses_and_flags_give_the_same_configuration() {
    let (base, src, dst) = world("wizard").await;
    let root = Root::new();
    let mut t = Pty::spawn("create-sync-pipe-config", root.path(), &[]);
    t.expect("Synchronization direction");
    // A number out of the list is re-asked with the reason.
    t.answer("Enter a choice", "9");
    t.expect("9 is not in the list");
    t.session.send_line("").unwrap(); // the prompt comes again, empty: Enter takes the default
    t.expect("Source endpoint type");
    t.answer("Enter a choice", "1");
    t.answer("Name of the source", "ds");
    // A malformed DN is re-asked with the reason.
    t.answer("Base DN of the source", "ou=x,,dc=example");
    t.expect("is not a valid DN");
    t.session.send_line(&base).unwrap();
    t.answer("another one, or press Enter when done", "");
    t.expect("Connection security of the source");
    t.answer("Enter a choice", "1");
    // A server that does not answer is re-asked with the reason.
    t.answer("Server of the source, as host:port", "127.0.0.1:1");
    t.expect("Cannot connect to 127.0.0.1:1");
    t.answer("Server of the source, as host:port", &format!("{}:{}", src.host, src.port));
    t.expect(&format!("Connected to {}:{}", src.host, src.port));
    t.answer("Another server of the source", "");
    t.answer("Prepare the source's servers now", "");
    // A wrong password is refused by the server; the sync user is asked again.
    t.answer("DN of the sync user of the source", &src.bind_dn);
    t.answer("Password of", "not-the-password");
    t.expect("invalidCredentials");
    t.answer("DN of the sync user of the source", &src.bind_dn);
    t.answer("Password of", &src.bind_pw);
    openldap_destination(&mut t, &base, &dst);
    t.answer("Name of a sync class", "people");
    // A base DN outside the source's is refused.
    t.answer("Base DN of the entries of class 'people'", "ou=people,dc=elsewhere");
    t.expect("is not within the source's base DNs");
    t.session.send_line(&format!("ou=people,{base}")).unwrap();
    t.answer("another one, or press Enter when done", "");
    // A filter the project's parser refuses is re-asked.
    t.answer("Include filter of class 'people'", "(objectClass=inetOrgPerson");
    t.expect("is not a valid LDAP filter");
    t.session.send_line("(objectClass=inetOrgPerson)").unwrap();
    t.answer("another one, or press Enter when done", "");
    t.answer("Attributes of class 'people'", "except:telephoneNumber");
    t.answer("Operations class 'people' synchronizes", "");
    t.answer("find an entry of class 'people' at the destination", "");
    t.answer("Name of a sync class", "");
    t.answer("Operations the DEFAULT class synchronizes", "none");
    t.expect("Review:");
    t.expect("sync user: cn=Directory Manager (password *****)");
    t.expect("What next");
    t.answer("Enter a choice", "1");
    t.expect("The configuration was written");
    assert_eq!(t.finish(), 0, "{}", t.seen);
    assert!(!t.seen.contains(&src.bind_pw), "the password was echoed:\n{}", t.seen);

    // resync with that configuration copies the people, without the excluded attribute.
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("3 entries were created"), "{out}");
    let e = dst.client().get(&format!("uid=bob,ou=people,{base}"), &["*"]).await.unwrap().expect("bob was created");
    assert_eq!(e.texts("sn"), vec!["Tester"]);
    assert!(e.get("telephoneNumber").is_none(), "telephoneNumber is excluded");

    // The same answers as flags, without a terminal.
    let by_flags = Root::new();
    let f = flags(&base, &src, &dst);
    let args: Vec<&str> = f.iter().map(String::as_str).chain(["--no-prompt"]).collect();
    by_flags.run("create-sync-pipe-config", &args).ok();
    assert_eq!(snapshot(&by_flags), snapshot(&root));
    // Run again on the same store, the names in use are refused (and nothing changes).
    let before = snapshot(&root);
    let err = root.run("create-sync-pipe-config", &args).fails();
    assert!(err.contains("the configuration already has a Sync Source 'ds'"), "{err}");
    assert_eq!(snapshot(&root), before);

    // The answers the interactive run saved, as a properties file (passwords are never saved: given as flags).
    let saved = std::fs::read_to_string(root.path().join("config/create-sync-pipe-config.properties")).unwrap();
    assert!(!saved.contains(&src.bind_pw) && !saved.contains(&dst.bind_pw), "{saved}");
    let by_file = Root::new();
    let props = by_file.write("answers.properties", &saved);
    by_file
        .run(
            "create-sync-pipe-config",
            &[
                "--no-prompt",
                "--propertiesFilePath",
                props.to_str().unwrap(),
                "--sourceBindPassword",
                &src.bind_pw,
                "--destinationBindPassword",
                &dst.bind_pw,
            ],
        )
        .ok();
    assert_eq!(snapshot(&by_file), snapshot(&root));

    // A batch file for later, applied by dsconfig, gives the same configuration too.
    let by_batch = Root::new();
    let file = by_batch.path().join("pipe.dsconfig");
    let args: Vec<&str> =
        f.iter().map(String::as_str).chain(["--no-prompt", "--generateBatchFile", file.to_str().unwrap()]).collect();
    by_batch.run("create-sync-pipe-config", &args).ok();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o077, 0, "the batch file holds passwords");
    assert_eq!(by_batch.config().all("sync-pipe").len(), 0, "nothing is written to the store");
    by_batch.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    assert_eq!(snapshot(&by_batch), snapshot(&root));
    // And the pipe the flags wrote resyncs as well: everything is in sync now.
    let out = by_flags.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("\"3 entries were in-sync"), "{out}");
}

#[test]
fn no_prompt_names_the_first_missing_answer_and_wrong_answers_name_their_flag() {
    let (src, dst) = (Server::from_env("389"), Server::from_env("OPENLDAP"));
    let base = src.base_dn.clone();
    let root = Root::new();
    let all = flags(&base, &src, &dst);
    let without = |key: &str| -> Vec<String> {
        let mut v = all.clone();
        let i = v.iter().position(|a| a == &format!("--{key}")).unwrap();
        v.drain(i..i + 2);
        v.push("--no-prompt".into());
        v
    };
    let run = |args: &[String]| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        root.run("create-sync-pipe-config", &a)
    };
    let err = run(&without("destinationServer")).fails();
    assert!(err.contains("missing answer --destinationServer"), "{err}");
    let err = run(&without("sourceBaseDN")).fails();
    assert!(err.contains("missing answer --sourceBaseDN"), "{err}");
    let err = run(&without("sourceBindPassword")).fails();
    assert!(err.contains("missing answer --sourceBindPassword"), "{err}");
    // A wrong password given as a flag fails, naming the flag and the server's reason.
    let mut wrong = all.clone();
    let i = wrong.iter().position(|a| a == "--destinationBindPassword").unwrap();
    wrong[i + 1] = "wrong".into();
    wrong.push("--no-prompt".into());
    let err = run(&wrong).fails();
    assert!(err.contains("--destinationBindDN: cannot bind as") && err.contains("invalidCredentials"), "{err}");
    let mut bad = all.clone();
    bad.extend(["--syncClassFilter".into(), "people:(cn=".into(), "--no-prompt".into()]);
    let err = run(&bad).fails();
    assert!(err.contains("invalid answer --syncClassFilter"), "{err}");
    let err = root.run("create-sync-pipe-config", &["--sourceBaseDNs", "x"]).fails();
    assert!(err.contains("did you mean 'sourceBaseDN'"), "{err}");
    // Nothing was written by any of these.
    assert_eq!(root.config().all("sync-pipe").len(), 0);
}

#[tokio::test]
async fn ssl_with_a_trust_store_and_start_tls_with_trust_all() {
    let (base, src, dst) = world("wizard-tls").await;
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run the tests with tests/run.sh"));
    let (ldaps_port, ca_file) = (var("FERROSYNC_TEST_389_LDAPS_PORT"), var("FERROSYNC_TEST_389_CA_FILE"));
    let mut f = flags(&base, &src, &dst);
    let set = |f: &mut Vec<String>, k: &str, v: &str| {
        let i = f.iter().position(|a| a == &format!("--{k}")).unwrap();
        f[i + 1] = v.to_string();
    };
    set(&mut f, "sourceSecurity", "ssl");
    set(&mut f, "sourceServer", &format!("{}:{ldaps_port}", src.host));
    f.extend(
        ["--destinationSecurity", "start-tls", "--destinationTrust", "trust-all", "--no-prompt"].map(String::from),
    );
    let root = Root::new();
    // Without a trust store the server's certificate is refused: the connection test says so.
    let mut untrusted = f.clone();
    untrusted.extend(["--sourceTrust".to_string(), "system".to_string()]);
    let a: Vec<&str> = untrusted.iter().map(String::as_str).collect();
    let err = root.run("create-sync-pipe-config", &a).fails();
    assert!(err.contains("--sourceServer: cannot connect to"), "{err}");
    f.extend(["--sourceTrust".to_string(), ca_file.clone()]);
    let a: Vec<&str> = f.iter().map(String::as_str).collect();
    root.run("create-sync-pipe-config", &a).ok();
    let config = root.config();
    let tmp = config.get("trust-manager-provider", "ds trust store").expect("a trust store for the source");
    assert_eq!(tmp.values("trust-store-file"), vec![ca_file.as_str()]);
    let server = config.get("external-server", &format!("ol {}:{}", dst.host, dst.port)).unwrap();
    assert_eq!(server.values("connection-security"), vec!["start-tls"]);
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("3 entries were created"), "{out}");
}

#[tokio::test]
async fn bidirectional_makes_two_pipes_that_resync_both_ways() {
    let (base, src, dst) = world("wizard-bidi").await;
    let mut f = flags(&base, &src, &dst);
    let i = f.iter().position(|a| a == "--direction").unwrap();
    f[i + 1] = "bidirectional".into();
    f.extend(["--reversePipeName", "back", "--no-prompt"].map(String::from));
    let root = Root::new();
    let a: Vec<&str> = f.iter().map(String::as_str).collect();
    root.run("create-sync-pipe-config", &a).ok();
    let config = root.config();
    assert_eq!(config.get("sync-source", "ol").unwrap().variant.as_deref(), Some("openldap"));
    assert_eq!(config.get("sync-source", "ds").unwrap().values("ignore-changes-by-dn"), vec![src.bind_dn.as_str()]);
    // One way: the people are created at OpenLDAP; then a person added there goes back to 389 DS.
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("3 entries were created"), "{out}");
    dst.client()
        .add(&entry(
            &format!("uid=dee,ou=people,{base}"),
            &[("objectClass", "inetOrgPerson"), ("uid", "dee"), ("cn", "dee"), ("sn", "Back")],
        ))
        .await
        .unwrap();
    let out = root.run("resync", &["--pipe-name", "back"]).ok();
    assert!(out.contains("\"3 entries were in-sync, 0 entries were modified, 1 entries were created"), "{out}");
    let e = src.client().get(&format!("uid=dee,ou=people,{base}"), &["sn"]).await.unwrap().expect("dee at 389 DS");
    assert_eq!(e.texts("sn"), vec!["Back"]);
}

/// Removes what preparing the shared 389 DS as a source added outside the test's subtree: the sync user's ACI on
/// cn=changelog, and the user.
async fn remove_sync_user(src: &Server, user: &str) {
    use ferrosync::entry::Value;
    use ferrosync_ldap::Modification;
    let admin = src.client();
    if let Some(cl) = admin.get("cn=changelog", &["aci"]).await.expect("read cn=changelog") {
        let ours: Vec<Value> = cl.texts("aci").into_iter().filter(|a| a.contains(user)).map(Value::Text).collect();
        if !ours.is_empty() {
            admin.modify("cn=changelog", &[Modification::Delete("aci".into(), ours)]).await.expect("remove the ACI");
        }
    }
    admin.delete(user).await.expect("remove the sync user");
}

const SYNC_PW: &str = "Wizard-Sync-Passw0rd!5";

#[tokio::test]
async fn the_wizard_prepares_the_source_and_the_pipe_resyncs_as_the_new_sync_user() {
    let (base, src, dst) = world("wizard-prep").await;
    let user = format!("cn={},cn=config", unique("wizsync"));
    let root = Root::new();
    let mut t = Pty::spawn("create-sync-pipe-config", root.path(), &[]);
    t.expect("Synchronization direction");
    t.answer("Enter a choice", "1");
    endpoint(&mut t, "source", "389ds", "ds", &base, &src);
    t.answer("Prepare the source's servers now", "maybe");
    t.expect("'maybe' is not yes or no");
    t.session.send_line("yes").unwrap();
    // A wrong administrator password is refused by the server; the administrator is asked again.
    t.expect("DN of an administrator of the source's servers");
    t.answer("cn=Directory Manager", "");
    t.answer("Password of cn=Directory Manager", "not-the-password");
    t.expect("invalidCredentials");
    t.expect("Enter the administrator again");
    t.answer("DN of an administrator of the source's servers", "");
    t.answer("Password of cn=Directory Manager", &src.bind_pw);
    t.expect("is 389 Directory Server");
    // The default sync user is prepare-endpoint-server's for 389 DS; this test takes one of its own.
    t.expect("DN of the sync user of the source");
    t.answer("cn=Sync User,cn=config", &user);
    t.answer(&format!("Password of {user}"), SYNC_PW);
    t.expect(&format!("Preparing {}:{} for the sync user {user}", src.host, src.port));
    t.expect(&format!("changed    created the sync user \"{user}\""));
    t.expect("changed    read access to the base DN: added an ACI");
    t.expect("ok         the sync user can read cn=changelog");
    t.expect("Done:");
    openldap_destination(&mut t, &base, &dst);
    t.answer("Name of a sync class", "");
    t.answer("Operations the DEFAULT class synchronizes", "");
    t.expect(&format!("sync user: {user} (password *****)"));
    t.expect("What next");
    t.answer("Enter a choice", "1");
    t.expect("The configuration was written");
    assert_eq!(t.finish(), 0, "{}", t.seen);
    for pw in [SYNC_PW, src.bind_pw.as_str(), dst.bind_pw.as_str()] {
        assert!(!t.seen.contains(pw), "a password was echoed:\n{}", t.seen);
    }
    let config = root.config();
    let server = config.get("external-server", &format!("ds {}:{}", src.host, src.port)).expect("the source's server");
    assert_eq!(server.values("bind-dn"), vec![user.as_str()]);

    // resync reads the source as the new sync user: the people are copied.
    let out = root.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("3 entries were created"), "{out}");
    let e = dst.client().get(&format!("uid=cy,ou=people,{base}"), &["sn"]).await.unwrap().expect("cy was created");
    assert_eq!(e.texts("sn"), vec!["Tester"]);

    // The same answers as flags (the administrator's password from a file): prepare finds everything in place.
    let by_flags = Root::new();
    let admin_pw = by_flags.write("admin.pw", &format!("{}\n", src.bind_pw));
    let server_arg = format!("{}:{}", src.host, src.port);
    let dst_arg = format!("{}:{}", dst.host, dst.port);
    let args = [
        "--no-prompt",
        "--sourceType",
        "389ds",
        "--sourceName",
        "ds",
        "--sourceBaseDN",
        &base,
        "--sourceServer",
        &server_arg,
        "--prepareSourceServer",
        "yes",
        "--sourceAdminBindPasswordFile",
        admin_pw.to_str().unwrap(),
        "--sourceBindDN",
        &user,
        "--sourceBindPassword",
        SYNC_PW,
        "--destinationType",
        "openldap",
        "--destinationName",
        "ol",
        "--destinationBaseDN",
        &base,
        "--destinationServer",
        &dst_arg,
        "--destinationBindDN",
        &dst.bind_dn,
        "--destinationBindPassword",
        &dst.bind_pw,
        "--pipeName",
        "p",
        "--syncClass",
        "none",
    ];
    let run = by_flags.run("create-sync-pipe-config", &args);
    let err = run.stderr();
    run.ok();
    assert!(err.contains("Nothing changed: the server was already prepared"), "{err}");
    assert!(!err.contains(SYNC_PW) && !err.contains(&src.bind_pw), "{err}");
    assert_eq!(snapshot(&by_flags), snapshot(&root));
    // Without the administrator's password, --no-prompt names it.
    let mut missing: Vec<&str> = args.to_vec();
    let i = missing.iter().position(|a| *a == "--sourceAdminBindPasswordFile").expect("the flag");
    missing.drain(i..i + 2);
    let err = Root::new().run("create-sync-pipe-config", &missing).fails();
    assert!(err.contains("missing answer --sourceAdminBindPassword"), "{err}");
    remove_sync_user(&src, &user).await;
}
