//! The PostgreSQL store end to end: a real pipe (a dsconfig batch file, resync, real-time changes through the
//! sync server) between the real 389 DS and OpenLDAP with every tool given `--store postgresql://...`; the copy
//! of a SQLite root into PostgreSQL; and the store's password never in any output, log or command line. Against
//! the PostgreSQL of tests/run.sh (`FERROSYNC_TEST_POSTGRES_*`; missing, the tests fail), a schema per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;

use ferrosync::entry::Value;
use ferrosync::store::{Store, StoreLocation};
use ferrosync_ldap::Modification;
use ferrosync_testkit::postgres;
use util::scenario::{Scenario, PEOPLE_ALL};
use util::{eventually, Root, ServerGuard};

const WAIT: Duration = Duration::from_secs(30);

/// The test server's password (from the file start-postgresql.sh wrote), to look for where it must not be.
fn password() -> String {
    let file = std::env::var("FERROSYNC_TEST_POSTGRES_PASSWORD_FILE")
        .expect("FERROSYNC_TEST_POSTGRES_PASSWORD_FILE is not set: run the tests with tests/run.sh");
    let pw = std::fs::read_to_string(file).unwrap().trim().to_string();
    assert!(pw.len() >= 16, "a real password to look for");
    pw
}

/// Every file below `dir`, as text.
fn all_files(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out += &all_files(&p);
        } else if !p.ends_with("encryption.key") {
            out += &String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pipe_runs_on_the_postgresql_store_and_its_password_shows_nowhere() {
    let url = postgres::fresh_url_text("pipe");
    let pw = password();
    let s = Scenario::in_root("pgstore", "389", "OPENLDAP", "generic-ldap", Root::with_store(&url)).await;
    s.dsconfig(PEOPLE_ALL);
    let mut seen = String::new();
    // Resync copies what is there.
    let a = s.add_person("pga", &[("description", "before")]).await;
    let b = s.add_person("pgb", &[]).await;
    let out = s.resync(&[]);
    seen += &out.stdout();
    seen += &out.stderr();
    out.ok();
    assert!(s.dst_get(&a).await.is_some() && s.dst_get(&b).await.is_some(), "resync created both");
    // Real time: start point, pipe, server; changes flow.
    let out = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]);
    seen += &out.ok();
    seen += &out.stderr();
    seen += &s.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    let server = ServerGuard::start(&s.root);
    let c = s.add_person("pgc", &[]).await;
    s.src.modify(&a, &[Modification::Replace("description".into(), vec![Value::from("after")])]).await.unwrap();
    s.src.modify_dn(&b, "uid=pgb2", true, None).await.unwrap();
    let b2 = s.dn("uid=pgb2,ou=people");
    eventually("the add, modify and rename reach the destination", WAIT, || async {
        s.dst_get(&c).await.is_some()
            && s.dst_get(&a).await.is_some_and(|e| e.texts("description") == ["after"])
            && s.dst_get(&b2).await.is_some()
            && s.dst_get(&b).await.is_none()
    })
    .await;
    // The state is in PostgreSQL, none of it under the root: start point, id map (the rename found through it).
    let store = Store::open(&s.root.server_root()).unwrap();
    assert!(store.start_point("p").unwrap().is_some());
    assert!(store.id_mapping_by_dn("p", &b2.to_uppercase()).unwrap().is_some(), "id map in PostgreSQL");
    assert!(!s.root.path().join("config/config.db").exists(), "nothing went to SQLite");
    let status = s.root.run("status", &[]);
    seen += &status.ok();
    seen += &status.stderr();
    assert!(status.stdout().contains('p'), "{}", status.stdout());
    // The server process was given no password on its command line (ps shows it to every user).
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains("--foreground") && !cmdline.contains(&pw), "{cmdline}");
    drop(server);
    seen += &all_files(&s.root.path().join("logs"));
    seen += &all_files(&s.root.path().join("config"));
    assert!(!seen.is_empty() && !seen.contains(&pw), "the store's password appeared in the output or the logs");
}

#[test]
fn a_store_url_with_a_password_is_refused_and_masked() {
    let root = Root::new();
    let base = postgres::url_text();
    let with_pw = base.replacen("ferrosync@", "ferrosync:Sup3rSecret@", 1);
    for run in [
        root.run("dsconfig", &["list-sync-pipes", "--store", &with_pw]),
        root.run_env("status", &[], &[("FERROSYNC_STORE", &with_pw)]),
    ] {
        let e = run.fails();
        assert!(e.contains("must not hold the password") && e.contains("ferrosync:*****@"), "{e}");
        assert!(!e.contains("Sup3rSecret") && !run.stdout().contains("Sup3rSecret"), "{e}");
    }
    // config/store names the store once for every tool; a bad one says which file holds it.
    std::fs::create_dir_all(root.path().join("config")).unwrap();
    root.write("config/store", &format!("# the store\n{with_pw}\n"));
    let e = root.dsconfig(&["list-sync-pipes"]).fails();
    assert!(e.contains("config/store") && !e.contains("Sup3rSecret"), "{e}");
    root.write("config/store", &format!("{}\n", postgres::fresh_url_text("file")));
    let out = root.dsconfig(&["list-sync-pipes"]).ok();
    assert!(!root.path().join("config/config.db").exists(), "config/store chose PostgreSQL: {out}");
}

#[test]
fn store_copy_moves_a_sqlite_root_into_postgresql() {
    let root = Root::new();
    let batch = root.write(
        "b.dsconfig",
        "dsconfig create-external-server --server-name ds --type generic-ldap --set server-host-name:127.0.0.1 \
         --set server-port:1389 --set \"bind-dn:cn=x\" --set password:CopyMe123\n\
         dsconfig create-sync-source --source-name src --type generic-ldap --set base-dn:dc=a --set server:ds\n\
         dsconfig create-sync-destination --destination-name dst --type generic-ldap --set base-dn:dc=b --set server:ds\n\
         dsconfig create-sync-pipe --pipe-name p --set sync-source:src --set sync-destination:dst\n",
    );
    root.dsconfig(&["--no-prompt", "--batch-file", batch.to_str().unwrap()]).ok();
    {
        let mut store = Store::open(&root.server_root()).unwrap();
        store.set_start_point("p", "cn:42").unwrap();
        let m = ferrosync::store::IdMapping {
            source_id: "u1".into(),
            source_dn: "uid=a,dc=a".into(),
            dest_dn: "uid=a,dc=b".into(),
            digest: Some("d".into()),
            class: Some("c".into()),
            renaming_to: Some("uid=a2,dc=b".into()),
        };
        let many: Vec<_> = (0..2500)
            .map(|i| ferrosync::store::IdMapping { source_id: format!("n{i}"), renaming_to: None, ..m.clone() })
            .chain(std::iter::once(m.clone()))
            .collect();
        store.put_id_mappings("p", &many).unwrap();
        store.record_rename_intent("p", many.last().unwrap()).unwrap();
    }
    let url = postgres::fresh_url_text("copy");
    let out = root.run("store-copy", &["--to", &url, "--use"]).ok();
    assert!(out.contains("2501 id-map record(s)") && out.contains("1 start point(s)"), "{out}");
    assert!(out.contains("encryption.key") && out.contains("needs a copy of that key file"), "{out}");
    // From now on the root's tools use PostgreSQL (config/store), the secret still sealed with the root's key.
    let file = std::fs::read_to_string(root.path().join("config/store")).unwrap();
    assert!(file.contains(&url), "{file}");
    let pg = Store::open(&util::Root::new().server_root().with_store(StoreLocation::parse(&url).unwrap())).unwrap();
    assert_eq!(pg.start_point("p").unwrap().as_deref(), Some("cn:42"));
    let copied = pg.id_mapping("p", "u1").unwrap().unwrap();
    assert_eq!(copied.renaming_to.as_deref(), Some("uid=a2,dc=b"));
    assert!(pg.id_mapping_by_dn("p", "UID=A,DC=A").unwrap().is_some());
    let sqlite = Store::open(&ferrosync::store::ServerRoot::new(root.path()).with_store(StoreLocation::Sqlite))
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(pg.load().unwrap(), sqlite, "the configuration is copied whole, in order");
    let shown = root.dsconfig(&["get-external-server-prop", "--server-name", "ds", "--property", "password"]).ok();
    assert!(shown.contains("*****") && !shown.contains("CopyMe123"), "{shown}");
    // A second copy into a store that holds one is refused, with what to do.
    let e = root.run("store-copy", &["--to", &url]).fails();
    assert!(e.contains("holds a store already") && e.contains("?schema=NAME"), "{e}");
}
