//! Real-time sync end to end: the sync server process (start-server, stop-server, status), realtime-sync and
//! each change detector, against the real 389 DS and OpenLDAP servers that tests/run.sh starts.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;

use ferrosync::entry::Value;
use ferrosync_ldap::Modification;
use util::scenario::{entry, go, Scenario, PEOPLE_ALL};
use util::{eventually, ServerGuard};

const WAIT: Duration = Duration::from_secs(20);

fn sync_log(s: &Scenario) -> String {
    std::fs::read_to_string(s.root.path().join("logs/sync")).unwrap_or_default()
}

/// Adds, modifies, renames, moves out of scope, changes group membership and deletes at the source, and checks
/// that each reaches the destination.
async fn lifecycle(s: &Scenario) {
    s.dsconfig(
        "dsconfig create-dn-map --map-name same --set \"from-dn-pattern:**,BASE\" --set \"to-dn-pattern:{1},BASE\"\n\
         dsconfig create-attribute-map --map-name g\n\
         dsconfig create-attribute-mapping --map-name g --mapping-name member --type dn --set from-attribute:member --set dn-map:same\n\
         dsconfig create-sync-class --pipe-name p --class-name groups --set evaluation-order-index:1 --set include-base-dn:ou=groups,BASE \
             --set attribute-map:g --set destination-correlation-attributes:dn\n",
    );
    s.dsconfig(PEOPLE_ALL);
    let _server = go(s);
    // Add
    let dn = s.add_person("rt1", &[("description", "first")]).await;
    eventually("the add reaches the destination", WAIT, || async { s.dst_get(&dn).await.is_some() }).await;
    // Modify
    s.src.modify(&dn, &[Modification::Replace("description".into(), vec![Value::from("second")])]).await.unwrap();
    eventually("the modify reaches the destination", WAIT, || async {
        s.dst_get(&dn).await.map(|e| e.texts("description") == ["second"]).unwrap_or(false)
    })
    .await;
    // Rename
    s.src.modify_dn(&dn, "uid=rt1renamed", true, None).await.unwrap();
    let renamed = s.dn("uid=rt1renamed,ou=people");
    eventually("the rename reaches the destination", WAIT, || async {
        s.dst_get(&renamed).await.is_some() && s.dst_get(&dn).await.is_none()
    })
    .await;
    // Group membership
    let other = s.add_person("rt2", &[]).await;
    let group = s.dn("cn=rtgroup,ou=groups");
    s.src
        .add(&entry(&group, &[("objectClass", "groupOfNames"), ("cn", "rtgroup"), ("member", &renamed)]))
        .await
        .unwrap();
    eventually("the group reaches the destination", WAIT, || async { s.dst_get(&group).await.is_some() }).await;
    s.src.modify(&group, &[Modification::Add("member".into(), vec![Value::from(other.as_str())])]).await.unwrap();
    eventually("the new member reaches the destination", WAIT, || async {
        s.dst_get(&group).await.map(|g| g.texts("member").len() == 2).unwrap_or(false)
    })
    .await;
    // Move out of the people class's scope: the destination entry goes.
    s.src.modify_dn(&other, "uid=rt2", true, Some(&s.dn("ou=staff"))).await.unwrap();
    eventually("the entry moved out of scope is deleted", WAIT, || async { s.dst_get(&other).await.is_none() }).await;
    // ... and moving it back into scope creates it again.
    s.src.modify_dn(&s.dn("uid=rt2,ou=staff"), "uid=rt2", true, Some(&s.dn("ou=people"))).await.unwrap();
    eventually("the entry moved into scope is created", WAIT, || async { s.dst_get(&other).await.is_some() }).await;
    // Delete
    s.src.delete(&renamed).await.unwrap();
    eventually("the delete reaches the destination", WAIT, || async { s.dst_get(&renamed).await.is_none() }).await;
    // The sync log and status tell what happened.
    let log = sync_log(s);
    assert!(log.contains("category=SYNC") && log.contains("type=change-applied") && log.contains("Detected"), "{log}");
    let root = &s.root;
    eventually("status shows the pipe's work", WAIT, || async {
        let status = root.run("status", &["--script-friendly"]).ok();
        status.contains("p\tStarted\ttrue\n")
            && !status.contains("p\tChanges Detected\t0\n")
            && status.contains("p\tNum Ops In Flight\t0\n")
    })
    .await;
}

#[tokio::test]
async fn changelog_source_389_to_openldap() {
    let s = Scenario::new("rt-changelog").await;
    lifecycle(&s).await;
}

#[tokio::test]
async fn accesslog_source_openldap_to_389() {
    let s = Scenario::with("rt-accesslog", "OPENLDAP", "389", "openldap").await;
    lifecycle(&s).await;
}

/// OpenLDAP's accesslog database has syncprov (as delta-syncrepl needs): the server rings the source when the log
/// grows, so a change arrives without waiting for the polling interval, here an hour.
#[tokio::test]
async fn accesslog_source_is_woken_by_the_server() {
    let s = Scenario::with("rt-doorbell", "OPENLDAP", "389", "openldap").await;
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set \"change-detection-polling-interval:1 h\"\n");
    let _server = go(&s);
    // The pipe's first poll finds nothing and starts the doorbell, which rings once when its search starts: the
    // second poll then waits for the next ring. Without the doorbell the pipe would sleep an hour after the first.
    eventually("the pipe polls a second time", WAIT, || async {
        let status = s.root.run("status", &["--script-friendly"]).ok();
        status
            .lines()
            .find_map(|l| l.strip_prefix("p\tPoll For Source Changes Count\t"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .is_some_and(|n| n >= 2)
    })
    .await;
    let dn = s.add_person("bell1", &[("description", "rung")]).await;
    eventually("the add arrives long before the polling interval", WAIT, || async { s.dst_get(&dn).await.is_some() })
        .await;
    s.src.modify(&dn, &[Modification::Replace("description".into(), vec![Value::from("again")])]).await.unwrap();
    eventually("so does the modify", WAIT, || async {
        s.dst_get(&dn).await.is_some_and(|e| e.texts("description") == ["again"])
    })
    .await;
}

#[tokio::test]
async fn content_sync_source_389_to_openldap() {
    // 389's content sync gets its own instance (see tests/run.sh).
    let s = Scenario::with("rt-contentsync", "389CS", "OPENLDAP", "content-sync").await;
    lifecycle(&s).await;
}

/// Changes made after the start point was set but before the pipe runs come in the refresh from the cookie,
/// where neither server tells a new entry from a changed one: a new entry must still be created.
#[tokio::test]
async fn content_sync_changes_before_the_first_start_arrive() {
    for (name, from, to) in [("rt-cs-early", "389CS", "OPENLDAP"), ("rt-cs-early-ol", "OPENLDAP", "389")] {
        let s = Scenario::with(name, from, to, "content-sync").await;
        s.dsconfig(PEOPLE_ALL);
        let out = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
        assert!(out.contains("The startpoint has been set"), "{out}");
        s.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
        let dn = s.add_person("early1", &[("description", "before the start")]).await;
        let _server = ServerGuard::start(&s.root);
        eventually(&format!("{from}: the early add reaches the destination"), WAIT, || async {
            s.dst_get(&dn).await.is_some()
        })
        .await;
    }
}

#[tokio::test]
async fn content_sync_source_openldap_to_389_with_offline_deletes() {
    let s = Scenario::with("rt-cs-offline", "OPENLDAP", "389", "content-sync").await;
    s.dsconfig(PEOPLE_ALL);
    let server = go(&s);
    let a = s.add_person("off1", &[]).await;
    let b = s.add_person("off2", &[]).await;
    eventually("both adds arrive", WAIT, || async { s.dst_get(&a).await.is_some() && s.dst_get(&b).await.is_some() })
        .await;
    drop(server);
    // While the server is down, one entry is deleted: RFC 4533 reports it by its id only.
    s.src.delete(&a).await.unwrap();
    let _server = ServerGuard::start(&s.root);
    eventually("the offline delete arrives", WAIT, || async { s.dst_get(&a).await.is_none() }).await;
    assert!(s.dst_get(&b).await.is_some());
}

#[tokio::test]
async fn dsconfig_changes_reach_a_running_server() {
    let s = Scenario::new("rt-reload").await;
    s.dsconfig(PEOPLE_ALL);
    s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
    let _server = ServerGuard::start(&s.root);
    // The pipe is not started: changes wait in the change log.
    let dn = s.add_person("reload1", &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(s.dst_get(&dn).await.is_none(), "a stopped pipe synchronizes nothing");
    let status = s.root.run("status", &["-s"]).ok();
    assert!(status.contains("p\tStarted\tfalse"), "{status}");
    // Starting it with dsconfig, as Ping's hooks do, needs no restart; the waiting change is applied.
    s.root.dsconfig(&["set-sync-pipe-prop", "--pipe-name", "p", "--set", "started:true"]).ok();
    eventually("the started pipe catches up", WAIT, || async { s.dst_get(&dn).await.is_some() }).await;
    // realtime-sync stop stops it again.
    s.root.run("realtime-sync", &["stop", "--pipe-name", "p"]).ok();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let dn2 = s.add_person("reload2", &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(s.dst_get(&dn2).await.is_none());
}

#[tokio::test]
async fn start_points_and_their_errors() {
    let s = Scenario::new("rt-startpoints").await;
    s.dsconfig(PEOPLE_ALL);
    let err = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "nope", "--end-of-changelog"]).fails();
    assert!(err.contains("there is no sync pipe 'nope'"), "{err}");
    let err = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p"]).fails();
    assert!(err.contains("--end-of-changelog"), "exactly one start point is required: {err}");
    let err = s
        .root
        .run(
            "realtime-sync",
            &["set-startpoint", "--pipe-name", "p", "--change-sequence-number", "20260101000000.000000Z"],
        )
        .fails();
    assert!(err.contains("use --change-number"), "a cn=changelog source uses change numbers: {err}");
    // A rewind: changes made before the rewind point are replayed. The source's change log is shared with
    // the tests that run alongside (tens of thousands of changes a minute), so the rewind is short and the
    // wait allows for replaying what they wrote in that window.
    let dn = s.add_person("sp1", &[]).await;
    s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--startpoint-rewind", "30s"]).ok();
    s.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    let _server = ServerGuard::start(&s.root);
    eventually("the rewound change is replayed", Duration::from_secs(90), || async { s.dst_get(&dn).await.is_some() })
        .await;
}

#[tokio::test]
async fn survives_kill_9_while_changes_stream_in() {
    let s = Scenario::new("rt-crash").await;
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set num-worker-threads:8\n");
    let server = go(&s);
    let pid = server.pid();
    // 5,000 changes: 250 adds and 4,750 modifies, written by 5 writers at once.
    let mut writers = Vec::new();
    for w in 0..5 {
        let src = s.src.clone();
        let base = s.base.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..50 {
                let dn = format!("uid=crash{w}-{i},ou=people,{base}");
                src.add(&entry(
                    &dn,
                    &[("objectClass", "inetOrgPerson"), ("uid", &format!("crash{w}-{i}")), ("cn", "c"), ("sn", "s")],
                ))
                .await
                .unwrap();
                for n in 0..19 {
                    src.modify(&dn, &[Modification::Replace("description".into(), vec![Value::from(format!("v{n}"))])])
                        .await
                        .unwrap();
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    // kill -9 in the middle of it.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    std::mem::forget(server);
    for w in writers {
        w.await.unwrap();
    }
    let _server = ServerGuard::start(&s.root);
    // Nothing lost: every entry reaches its final state.
    eventually("the destination equals the mapped source", Duration::from_secs(120), || async {
        let entries = s
            .dst
            .search(&s.dn("ou=people"), ferrosync_ldap::Scope::OneLevel, "(description=v18)", &["1.1"])
            .await
            .unwrap();
        entries.len() == 250
    })
    .await;
}

#[tokio::test]
async fn destination_down_for_20_seconds_then_the_backlog_drains() {
    // A destination of its own, so that stopping it disturbs no other test.
    let dir = tempfile::tempdir().unwrap();
    let script = util::repo().join("tests/servers/start-openldap.sh");
    let (port, ldaps_port) = (util::free_port(), util::free_port());
    let start = |port: u16| {
        let out = std::process::Command::new(&script)
            .args([dir.path().join("ol").to_str().unwrap(), &port.to_string(), &ldaps_port.to_string()])
            .env("SLAPD_LOGLEVEL", "0")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let stop = || {
        let script = util::repo().join("tests/servers/stop-openldap.sh");
        std::process::Command::new(script).arg(dir.path().join("ol")).status().unwrap();
    };
    start(port);
    let s = Scenario::new("rt-down").await;
    s.dsconfig(&format!(
        "dsconfig create-external-server --server-name own --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:{port} \
             --set bind-dn:cn=admin,dc=example,dc=com --set password:secret --set \"connect-timeout:1 s\" --set \"response-timeout:2 s\"\n\
         dsconfig set-sync-destination-prop --destination-name dst --set server:own --set base-dn:ou=people,dc=example,dc=com\n\
         dsconfig create-dn-map --map-name to-own --set \"from-dn-pattern:*,ou=people,BASE\" --set \"to-dn-pattern:{{1}},ou=people,dc=example,dc=com\"\n{PEOPLE_ALL}\
         dsconfig set-sync-class-prop --pipe-name p --class-name people --set dn-map:to-own\n"
    ));
    let _server = go(&s);
    let own = ferrosync_ldap::LdapClient::single(
        ferrosync_ldap::ServerConfig::new("own", "127.0.0.1", port)
            .with_bind("cn=admin,dc=example,dc=com", ferrosync::secret::Secret::new("secret")),
    )
    .unwrap();
    s.add_person("down0", &[]).await;
    eventually("the first change arrives", WAIT, || async {
        own.get("uid=down0,ou=people,dc=example,dc=com", &["1.1"]).await.ok().flatten().is_some()
    })
    .await;
    stop();
    for i in 1..=20 {
        s.add_person(&format!("down{i}"), &[]).await;
    }
    tokio::time::sleep(Duration::from_secs(20)).await;
    start(port);
    let own = ferrosync_ldap::LdapClient::single(
        ferrosync_ldap::ServerConfig::new("own", "127.0.0.1", port)
            .with_bind("cn=admin,dc=example,dc=com", ferrosync::secret::Secret::new("secret")),
    )
    .unwrap();
    eventually("the backlog drains", Duration::from_secs(60), || async {
        own.search("ou=people,dc=example,dc=com", ferrosync_ldap::Scope::OneLevel, "(uid=down*)", &["1.1"])
            .await
            .map(|v| v.len() == 21)
            .unwrap_or(false)
    })
    .await;
    stop();
}

#[tokio::test]
async fn source_fails_over_to_its_second_server() {
    let s = Scenario::new("rt-srcfailover").await;
    s.dsconfig(&format!(
        "dsconfig create-external-server --server-name gone --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:1 \
             --set \"bind-dn:{}\" --set \"password:{}\" --set \"connect-timeout:1 s\"\n\
         dsconfig set-sync-source-prop --source-name src --set server:gone --add server:ds389\n{PEOPLE_ALL}",
        s.src_server.bind_dn, s.src_server.bind_pw
    ));
    let _server = go(&s);
    let dn = s.add_person("fo1", &[]).await;
    eventually("changes arrive through the second source server", WAIT, || async { s.dst_get(&dn).await.is_some() })
        .await;
}

#[tokio::test]
async fn renames_and_deletes_of_entries_that_resync_copied() {
    let s = Scenario::new("rt-after-resync").await;
    s.dsconfig(PEOPLE_ALL);
    let a = s.add_person("ar1", &[]).await;
    let b = s.add_person("ar2", &[]).await;
    s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
    let out = s.resync(&[]).ok();
    assert!(out.contains("2 entries were created"), "{out}");
    s.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    let _server = ServerGuard::start(&s.root);
    // A rename changes the uid (the RDN) too: the old DN finds the destination entry, which is renamed.
    s.src.modify_dn(&a, "uid=ar1-new", true, None).await.unwrap();
    let renamed = s.dn("uid=ar1-new,ou=people");
    eventually("the rename reaches the destination", WAIT, || async {
        s.dst_get(&renamed).await.is_some() && s.dst_get(&a).await.is_none()
    })
    .await;
    // A delete known by its DN alone still finds its class through the base DN.
    s.src.delete(&b).await.unwrap();
    eventually("the delete reaches the destination", WAIT, || async { s.dst_get(&b).await.is_none() }).await;
}

/// A batch of changes reads its entries with one search (by unique id) instead of one search each: on 389 DS
/// (`nsUniqueId`, as the retro changelog's `targetUniqueId` gives it) and OpenLDAP (`entryUUID`).
#[tokio::test]
async fn sources_read_a_batch_of_entries_at_once() {
    for (name, from, to) in [("rt-many-389", "389", "OPENLDAP"), ("rt-many-ol", "OPENLDAP", "389")] {
        let s = Scenario::with(name, from, to, "generic-ldap").await;
        s.dsconfig(PEOPLE_ALL);
        let root = s.root.server_root();
        let store = ferrosync::store::Store::open(&root).expect("the store");
        let config = store.load().expect("the configuration");
        let mapping = ferrosync::mapping::PipeMapping::from_config(&config, "p").expect("the mapping");
        let (source, _) = ferrosync_tools::endpoints::build_pair(&config, store.secrets(), &root, "p", &mapping)
            .expect("the endpoints");
        let uid_attr = if from == "389" { "nsUniqueId" } else { "entryUUID" };
        let mut ids = Vec::new();
        for u in ["many1", "many2", "many3"] {
            let dn = s.add_person(u, &[]).await;
            let e = s.src.search(&dn, ferrosync_ldap::Scope::Base, "(objectClass=*)", &[uid_attr]).await.unwrap();
            ids.push(e[0].first_text(uid_attr).expect("a unique id"));
        }
        // Upper-cased ids and one that names nothing.
        let mut asked: Vec<String> = ids.iter().map(|i| i.to_ascii_uppercase()).collect();
        asked.push("00000000-0000-0000-0000-000000000000".into());
        let found = source.fetch_many_by_unique_id(&asked).await.expect("the search");
        assert_eq!(found.len(), 3, "{from}: {:?}", found.keys().collect::<Vec<_>>());
        for (id, u) in ids.iter().zip(["many1", "many2", "many3"]) {
            let e = found.get(&id.to_ascii_lowercase()).expect("each entry by its lower-cased id");
            assert_eq!(e.first_text("uid").as_deref(), Some(u));
        }
    }
}

/// A modify of an entry that resync (or an earlier change) wrote needs no read of the destination entry: the id
/// map keeps a digest of what the destination holds, and only the attributes whose mapped values changed are
/// replaced. Here the destination's sync user may write people's entries but not read them
/// (tests/servers/start-openldap.sh): a read would find nothing, and the change would fail.
#[tokio::test]
async fn modifies_of_known_entries_need_no_destination_read() {
    let s = Scenario::new("rt-blind").await;
    s.dsconfig(PEOPLE_ALL);
    let dn = s.add_person("bl1", &[("description", "one"), ("mail", "bl1@example.com"), ("title", "t")]).await;
    s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
    let out = s.resync(&[]).ok();
    assert!(out.contains("1 entries were created"), "{out}");
    let store = ferrosync::store::Store::open(&s.root.server_root()).unwrap();
    let known = store.id_mapping_by_dn("p", &dn).unwrap().expect("resync recorded the entry");
    assert!(known.digest.as_deref().is_some_and(|d| d.contains(" description:")), "{known:?}");
    drop(store);
    s.dsconfig(
        "dsconfig set-external-server-prop --server-name openldap --set \"bind-dn:cn=blind-writer,dc=example,dc=com\" \
             --set password:blind-secret\n",
    );
    let blind = util::Server {
        bind_dn: "cn=blind-writer,dc=example,dc=com".into(),
        bind_pw: "blind-secret".into(),
        ..s.dst_server.clone()
    }
    .client();
    assert!(blind.get(&dn, &["*"]).await.unwrap().is_none(), "the blind writer must not read people's entries");
    s.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    let _server = ServerGuard::start(&s.root);
    s.src
        .modify(
            &dn,
            &[
                Modification::Replace("description".into(), vec![Value::from("two")]),
                Modification::Delete("mail".into(), vec![]),
                Modification::Add("telephoneNumber".into(), vec![Value::from("+1 555 0100")]),
            ],
        )
        .await
        .unwrap();
    eventually("the modify reaches the destination without a read", WAIT, || async {
        s.dst_get(&dn).await.is_some_and(|e| {
            e.texts("description") == ["two"] && !e.has("mail") && e.texts("telephoneNumber") == ["+1 555 0100"]
        })
    })
    .await;
    // The next change is compared with what the last one wrote.
    s.src.modify(&dn, &[Modification::Replace("title".into(), vec![Value::from("u")])]).await.unwrap();
    eventually("the second modify arrives", WAIT, || async {
        s.dst_get(&dn).await.is_some_and(|e| e.texts("title") == ["u"] && e.texts("description") == ["two"])
    })
    .await;
    let log = sync_log(&s);
    assert!(!log.contains("change-failed"), "{log}");
}

/// A change made by an `ignore-changes-by-dn` user is not applied, and ferrosync forgets the entry's digest: in a
/// two-way setup that user is the other pipe, which wrote to this pipe's destination, so what the destination
/// holds is no longer known and the entry's next change reads it first.
#[tokio::test]
async fn changes_by_an_ignored_dn_forget_the_digest() {
    let s = Scenario::new("rt-ignored").await;
    s.dsconfig(PEOPLE_ALL);
    let dn = s.add_person("ig1", &[("description", "one")]).await;
    s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
    let out = s.resync(&[]).ok();
    assert!(out.contains("1 entries were created"), "{out}");
    let digest = || {
        let store = ferrosync::store::Store::open(&s.root.server_root()).unwrap();
        store.id_mapping_by_dn("p", &dn).unwrap().expect("resync recorded the entry").digest
    };
    assert!(digest().is_some());
    s.dsconfig(&format!(
        "dsconfig set-sync-source-prop --source-name src --set \"ignore-changes-by-dn:{}\"\n",
        s.src_server.bind_dn
    ));
    s.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    let _server = ServerGuard::start(&s.root);
    s.src.modify(&dn, &[Modification::Replace("description".into(), vec![Value::from("two")])]).await.unwrap();
    eventually("the ignored change forgets the digest", WAIT, || async { digest().is_none() }).await;
    let e = s.dst_get(&dn).await.unwrap();
    assert_eq!(e.texts("description"), ["one"], "a change by an ignored DN is not applied");
}
