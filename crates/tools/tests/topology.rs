//! Sync servers in a topology: two server roots (each its own logs and copy of the key file) on one PostgreSQL
//! store, a pipe from the real 389 DS to OpenLDAP. The preferred server (priority 1) runs the pipe; `kill -9` of
//! it while changes stream in: the standby takes the lease and resumes from the last committed start point, and
//! the destination ends equal to the source; when the preferred server comes back the pipe returns to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;

use ferrosync::entry::Value;
use ferrosync_ldap::Modification;
use ferrosync_testkit::postgres;
use util::scenario::{entry, Scenario, PEOPLE_ALL};
use util::{eventually, Root};

const WAIT: Duration = Duration::from_secs(60);

fn start(root: &Root, name: &str, priority: &str) {
    let out = root.run("start-server", &["--server-name", name, "--priority-index", priority]).ok();
    assert!(out.contains("The sync server started"), "{out}");
}

fn pid(root: &Root) -> i32 {
    std::fs::read_to_string(root.path().join("logs/server.pid")).unwrap().trim().parse().unwrap()
}

fn runs_on(root: &Root) -> String {
    let status = root.run("status", &["--script-friendly"]).stdout();
    status.lines().find_map(|l| l.strip_prefix("p\tRuns On\t")).unwrap_or("").to_string()
}

fn errors(root: &Root) -> String {
    std::fs::read_to_string(root.path().join("logs/errors")).unwrap_or_default()
}

/// Stops both servers at the end, whatever happened (and shows what they saw when the test failed).
struct Both<'a>(&'a Root, &'a Root);
impl Drop for Both<'_> {
    fn drop(&mut self) {
        for r in [self.0, self.1] {
            if std::thread::panicking() {
                eprintln!("--- {} ---\n{}{}", r.path().display(), r.run("status", &[]).stdout(), errors(r));
            }
            let _ = r.run("stop-server", &[]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_standby_takes_over_after_kill_9_and_hands_back_to_the_preferred_server() {
    let url = postgres::fresh_url_text("topology");
    let s = Scenario::in_root("topo", "389", "OPENLDAP", "generic-ldap", Root::with_store(&url)).await;
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set num-worker-threads:8\n");
    let a = &s.root;
    let b = Root::with_store(&url);
    // Every server of a topology needs the same key file to read the sealed bind passwords.
    std::fs::create_dir_all(b.path().join("config")).unwrap();
    std::fs::copy(a.path().join("config/encryption.key"), b.path().join("config/encryption.key")).unwrap();
    a.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
    a.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    start(a, "a", "1");
    start(&b, "b", "2");
    let _both = Both(a, &b);
    let first = s.add_person("topo0", &[]).await;
    eventually("the preferred server runs the pipe", WAIT, || async {
        s.dst_get(&first).await.is_some() && runs_on(a).starts_with("a ")
    })
    .await;
    let status = b.run("status", &[]).ok();
    assert!(status.contains("--- Topology ---") && status.contains("a : priority 1, alive"), "{status}");
    assert!(status.contains("b : priority 2, alive"), "{status}");

    // dsconfig on either server changes the topology's one configuration; a change for one server alone is
    // refused on a shared store.
    b.dsconfig(&[
        "set-sync-pipe-prop",
        "--pipe-name",
        "p",
        "--set",
        "description:set on b",
        "--applyChangeTo",
        "server-group",
    ])
    .ok();
    let got = a.dsconfig(&["get-sync-pipe-prop", "--pipe-name", "p", "--property", "description", "-s"]).ok();
    assert_eq!(got, "description\tset on b\n");
    let refused = a.dsconfig(&[
        "set-sync-pipe-prop",
        "--pipe-name",
        "p",
        "--set",
        "description:x",
        "--applyChangeTo",
        "single-server",
    ]);
    assert_ne!(refused.code(), 0);
    assert!(refused.stderr().contains("servers of its topology share"), "{}", refused.stderr());

    // 1,000 changes from 5 writers (50 adds, 950 modifies); the preferred server is killed in the middle.
    let mut writers = Vec::new();
    for w in 0..5 {
        let (src, base) = (s.src.clone(), s.base.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..10 {
                let dn = format!("uid=topo{w}-{i},ou=people,{base}");
                let uid = format!("topo{w}-{i}");
                src.add(&entry(&dn, &[("objectClass", "inetOrgPerson"), ("uid", &uid), ("cn", "c"), ("sn", "s")]))
                    .await
                    .unwrap();
                for n in 0..19 {
                    let v = Value::from(format!("v{n}"));
                    src.modify(&dn, &[Modification::Replace("description".into(), vec![v])]).await.unwrap();
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid(a)), nix::sys::signal::Signal::SIGKILL).unwrap();
    for w in writers {
        w.await.unwrap();
    }
    eventually("the standby takes the pipe", WAIT, || async { runs_on(&b).starts_with("b ") }).await;
    assert!(errors(&b).contains("this server (b) took the pipe's lease"), "{}", errors(&b));
    // Nothing lost: every entry reaches its last state.
    eventually("the destination equals the source", Duration::from_secs(120), || async {
        let found = s
            .dst
            .search(&s.dn("ou=people"), ferrosync_ldap::Scope::OneLevel, "(description=v18)", &["1.1"])
            .await
            .unwrap();
        found.len() == 50
    })
    .await;

    // The preferred server comes back: the pipe returns to it, and changes go on.
    start(a, "a", "1");
    eventually("the pipe returns to the preferred server", WAIT, || async { runs_on(a).starts_with("a ") }).await;
    assert!(errors(&b).contains("handed to a server of a better priority"), "{}", errors(&b));
    let last = s.add_person("topo-last", &[]).await;
    eventually("changes go on after the hand-back", WAIT, || async { s.dst_get(&last).await.is_some() }).await;
}
