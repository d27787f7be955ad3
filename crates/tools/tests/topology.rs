//! Sync servers in a topology: two server roots (each its own logs and copy of the key file) on one PostgreSQL
//! store, a pipe from the real 389 DS to OpenLDAP. The preferred server (priority 1) runs the pipe; `kill -9` of
//! it while changes stream in: the standby takes the lease and resumes from the last committed start point, and
//! the destination ends equal to the source; when the preferred server comes back the pipe returns to it. The
//! preferred server cut off from PostgreSQL (tests/servers/tcp-proxy.py between it and the database): it stops,
//! the standby takes over, and once the link heals it rejoins and gets the pipe back; nothing is lost. A rolling
//! restart of both servers keeps the changes flowing.
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
    runs_on_pipe(root, "p")
}

/// The `Runs On` field of pipe `pipe` in `status` of `root`.
fn runs_on_pipe(root: &Root, pipe: &str) -> String {
    let status = root.run("status", &["--script-friendly"]).stdout();
    let prefix = format!("{pipe}\tRuns On\t");
    status.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or("").to_string()
}

fn errors(root: &Root) -> String {
    std::fs::read_to_string(root.path().join("logs/errors")).unwrap_or_default()
}

/// Stops the servers at the end, whatever happened (and shows what they saw when the test failed).
struct All<'a>(Vec<&'a Root>);
impl Drop for All<'_> {
    fn drop(&mut self) {
        for r in &self.0 {
            if std::thread::panicking() {
                eprintln!("--- {} ---\n{}{}", r.path().display(), r.run("status", &[]).stdout(), errors(r));
            }
            let _ = r.run("stop-server", &[]);
        }
    }
}

/// A second server root `b` on `url` beside the scenario's root (a), both started (a preferred), with pipe `p`
/// started from the end of the change log.
fn two_servers(s: &Scenario, url: &str) -> Root {
    let a = &s.root;
    let b = Root::with_store(url);
    // Every server of a topology needs the same key file to read the sealed bind passwords.
    std::fs::create_dir_all(b.path().join("config")).unwrap();
    std::fs::copy(a.path().join("config/encryption.key"), b.path().join("config/encryption.key")).unwrap();
    a.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
    a.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    start(a, "a", "1");
    start(&b, "b", "2");
    b
}

#[tokio::test(flavor = "multi_thread")]
async fn the_standby_takes_over_after_kill_9_and_hands_back_to_the_preferred_server() {
    let url = postgres::fresh_url_text("topology");
    let s = Scenario::in_root("topo", "389", "OPENLDAP", "generic-ldap", Root::with_store(&url)).await;
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set num-worker-threads:8\n");
    let a = &s.root;
    let b = two_servers(&s, &url);
    let _all = All(vec![a, &b]);
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
    assert!(errors(&b).contains("handed to server a, where the topology places it"), "{}", errors(&b));
    let last = s.add_person("topo-last", &[]).await;
    eventually("changes go on after the hand-back", WAIT, || async { s.dst_get(&last).await.is_some() }).await;
}

/// The test's TCP proxy (tests/servers/tcp-proxy.py) in front of the test PostgreSQL, stopped when dropped.
struct Proxy {
    child: std::process::Child,
    port: u16,
}

impl Proxy {
    fn start() -> Proxy {
        use std::io::BufRead;
        let url = std::env::var("FERROSYNC_TEST_POSTGRES_URL").expect("run the tests with tests/run.sh");
        let pg_port = url.split("@127.0.0.1:").nth(1).and_then(|r| r.split('/').next()).unwrap().to_string();
        let mut child = std::process::Command::new("python3")
            .arg(util::repo().join("tests/servers/tcp-proxy.py"))
            .args(["0", "127.0.0.1", &pg_port])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("PORT=").unwrap().parse().unwrap();
        Proxy { child, port }
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// `url` (the test store's) through this proxy, with a password file for the proxy's port.
    fn url(&self, url: &str, dir: &std::path::Path) -> String {
        let pw_file = std::env::var("FERROSYNC_TEST_POSTGRES_PASSWORD_FILE").unwrap();
        let pw = std::fs::read_to_string(pw_file).unwrap().trim().to_string();
        let passfile = dir.join("proxy.pgpass");
        std::fs::write(&passfile, format!("127.0.0.1:{}:*:ferrosync:{pw}\n", self.port)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (base, query) = url.split_once('?').unwrap();
        let pg_port = base.rsplit(':').next().unwrap().split('/').next().unwrap();
        let base = base.replace(&format!(":{pg_port}/"), &format!(":{}/", self.port));
        let query: Vec<String> =
            query
                .split('&')
                .map(|kv| {
                    if kv.starts_with("passfile=") {
                        format!("passfile={}", passfile.display())
                    } else {
                        kv.to_string()
                    }
                })
                .collect();
        format!("{base}?{}", query.join("&"))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_cut_off_from_the_store_stops_and_the_standby_takes_over() {
    let url = postgres::fresh_url_text("partition");
    let proxy = Proxy::start();
    let dir = tempfile::tempdir().unwrap();
    let via_proxy = proxy.url(&url, dir.path());
    // Server A reaches the store only through the proxy; B directly.
    let s = Scenario::in_root("part", "389", "OPENLDAP", "generic-ldap", Root::with_store(&via_proxy)).await;
    s.dsconfig(PEOPLE_ALL);
    let a = &s.root;
    let b = two_servers(&s, &url);
    let _all = All(vec![a, &b]);
    let first = s.add_person("part0", &[]).await;
    eventually("the preferred server runs the pipe", WAIT, || async {
        s.dst_get(&first).await.is_some() && runs_on(&b).starts_with("a ")
    })
    .await;

    // The partition: A loses the store, B takes the pipe, changes go on through B.
    proxy.signal(nix::sys::signal::Signal::SIGUSR1);
    eventually("the standby takes the pipe", WAIT, || async { runs_on(&b).starts_with("b ") }).await;
    let during = s.add_person("part-during", &[]).await;
    eventually("changes flow through the standby", WAIT, || async { s.dst_get(&during).await.is_some() }).await;
    eventually("the cut-off server says its pipes stop", WAIT, || async {
        errors(a).contains("leases ran out while the store could not be reached")
    })
    .await;

    // Healed: A rejoins; as the preferred server it gets the pipe back, from the start point B committed.
    proxy.signal(nix::sys::signal::Signal::SIGUSR2);
    eventually("the preferred server gets the pipe back", WAIT, || async { runs_on(&b).starts_with("a ") }).await;
    let after = s.add_person("part-after", &[]).await;
    eventually("changes flow after the heal", WAIT, || async { s.dst_get(&after).await.is_some() }).await;
    for dn in [&first, &during, &after] {
        assert!(s.dst_get(dn).await.is_some(), "{dn} is missing");
    }

    // A rolling restart, one server at a time: the pipe moves and changes keep arriving.
    for (root, name, priority) in [(a, "a", "1"), (&b, "b", "2")] {
        root.run("stop-server", &[]).ok();
        let dn = s.add_person(&format!("roll-{name}"), &[]).await;
        eventually("a change made while one server restarts arrives", WAIT, || async {
            s.dst_get(&dn).await.is_some()
        })
        .await;
        start(root, name, priority);
    }
    let last = s.add_person("roll-last", &[]).await;
    eventually("changes flow after the rolling restart", WAIT, || async { s.dst_get(&last).await.is_some() }).await;
}

/// Adds an inetOrgPerson `uid` below `ou=OU` of the scenario's base; its DN.
async fn add_in(s: &Scenario, ou: &str, uid: &str) -> String {
    let dn = s.dn(&format!("uid={uid},ou={ou}"));
    s.src.add(&entry(&dn, &[("objectClass", "inetOrgPerson"), ("uid", uid), ("cn", uid), ("sn", "s")])).await.unwrap();
    dn
}

/// The server (its name) each pipe of `pipes` runs on, as `root`'s status says.
fn placement(root: &Root, pipes: &[&str]) -> Vec<String> {
    pipes.iter().map(|p| runs_on_pipe(root, p).split(' ').next().unwrap_or("").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pipes_spread_across_servers_of_one_priority_and_move_when_one_dies() {
    let url = postgres::fresh_url_text("spread");
    let s = Scenario::in_root("spread", "389", "OPENLDAP", "generic-ldap", Root::with_store(&url)).await;
    // Three pipes between the same two directories, one per branch.
    s.dsconfig(PEOPLE_ALL);
    for (pipe, ou) in [("pg", "groups"), ("ps", "staff")] {
        s.dsconfig(&format!(
            "dsconfig create-sync-pipe --pipe-name {pipe} --set sync-source:src --set sync-destination:dst \
             --set \"change-detection-polling-interval:100 ms\"\n\
             dsconfig create-sync-class --pipe-name {pipe} --class-name c --set include-base-dn:ou={ou},BASE \
             --set \"include-filter:(objectClass=inetOrgPerson)\" --set destination-correlation-attributes:dn\n"
        ));
    }
    let pipes = ["p", "pg", "ps"];
    let a = &s.root;
    for p in pipes {
        a.run("realtime-sync", &["set-startpoint", "--pipe-name", p, "--end-of-changelog"]).ok();
        a.run("realtime-sync", &["start", "--pipe-name", p]).ok();
    }
    let (b, c) = (Root::with_store(&url), Root::with_store(&url));
    for r in [&b, &c] {
        std::fs::create_dir_all(r.path().join("config")).unwrap();
        std::fs::copy(a.path().join("config/encryption.key"), r.path().join("config/encryption.key")).unwrap();
    }
    let servers = [(a, "a"), (&b, "b"), (&c, "c")];
    let _all = All(vec![a, &b, &c]);
    // One priority for all three: each runs one pipe.
    for (root, name) in servers {
        start(root, name, "1");
    }
    let spread = |on: &[String]| {
        let mut v = on.to_vec();
        v.sort();
        v == ["a", "b", "c"]
    };
    eventually("each server runs one of the three pipes", WAIT, || async { spread(&placement(&b, &pipes)) }).await;
    let status = a.run("status", &[]).ok();
    for name in ["a", "b", "c"] {
        assert!(status.contains(&format!("{name} : priority 1, alive")), "{status}");
    }
    let on = placement(a, &pipes);
    let mut n = 0;
    let mut changes_arrive = |label: &'static str| {
        n += 1;
        let uids: Vec<(String, &str)> =
            ["people", "groups", "staff"].iter().map(|ou| (format!("{label}-{ou}{n}"), *ou)).collect();
        let s = &s;
        async move {
            let mut dns = Vec::new();
            for (uid, ou) in &uids {
                dns.push(add_in(s, ou, uid).await);
            }
            eventually(label, WAIT, || async {
                for dn in &dns {
                    if s.dst_get(dn).await.is_none() {
                        return false;
                    }
                }
                true
            })
            .await;
        }
    };
    changes_arrive("spread").await;

    // kill -9 of the server running pipe `pg`: its pipe goes to one of the other two, the others stay.
    let victim = servers.iter().find(|(_, name)| *name == on[1]).unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid(victim.0)), nix::sys::signal::Signal::SIGKILL).unwrap();
    let watcher = servers.iter().find(|(_, name)| *name != victim.1).unwrap().0;
    eventually("the dead server's pipe moves to a live one", WAIT, || async {
        let now = placement(watcher, &pipes);
        now.iter().all(|s| !s.is_empty() && s != victim.1) && now[0] == on[0] && now[2] == on[2]
    })
    .await;
    changes_arrive("after-kill").await;

    // It comes back: the three spread again, and changes go on.
    start(victim.0, victim.1, "1");
    eventually("the pipes spread again", WAIT, || async { spread(&placement(watcher, &pipes)) }).await;
    changes_arrive("back").await;
}

/// The description of every entry below `ou=people` of `client`, by DN.
async fn people(s: &Scenario, client: &ferrosync_ldap::LdapClient) -> std::collections::BTreeMap<String, String> {
    let found = client
        .search(&s.dn("ou=people"), ferrosync_ldap::Scope::OneLevel, "(objectClass=inetOrgPerson)", &["description"])
        .await
        .unwrap();
    found
        .into_iter()
        .map(|e| (e.dn.to_ascii_lowercase().replace(", ", ","), e.first_text("description").unwrap_or_default()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_rounds_of_kill_9_during_5000_changes_lose_nothing() {
    let url = postgres::fresh_url_text("rounds");
    let s = Scenario::in_root("rounds", "389", "OPENLDAP", "generic-ldap", Root::with_store(&url)).await;
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set num-worker-threads:8\n");
    let a = &s.root;
    let b = two_servers(&s, &url);
    let _all = All(vec![a, &b]);
    const WRITERS: usize = 10;
    const PER_WRITER: usize = 500;
    let mut takeovers = Vec::new();
    for round in 0..10 {
        let (runner, standby) = {
            let first = s.add_person(&format!("r{round}-marker"), &[]).await;
            eventually("a server runs the pipe", WAIT, || async { s.dst_get(&first).await.is_some() }).await;
            if runs_on(&b).starts_with("a ") {
                ((a, "a", "1"), (&b, "b"))
            } else {
                ((&b, "b", "2"), (a, "a"))
            }
        };
        // 5,000 changes from 10 writers: each adds an entry, modifies it and the one of the round before, and
        // deletes that one at the end.
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let (src, base) = (s.src.clone(), s.base.clone());
            writers.push(tokio::spawn(async move {
                let dn = |r: usize| format!("uid=w{w}-r{r},ou=people,{base}");
                let uid = format!("w{w}-r{round}");
                src.add(&entry(
                    &dn(round),
                    &[("objectClass", "inetOrgPerson"), ("uid", &uid), ("cn", "c"), ("sn", "s")],
                ))
                .await
                .unwrap();
                for n in 0..PER_WRITER - 2 {
                    let target = if round > 0 && n % 2 == 1 { dn(round - 1) } else { dn(round) };
                    let v = Value::from(format!("r{round}-{n}"));
                    src.modify(&target, &[Modification::Replace("description".into(), vec![v])]).await.unwrap();
                }
                if round > 0 {
                    src.delete(&dn(round - 1)).await.unwrap();
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let killed = std::time::Instant::now();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid(runner.0)), nix::sys::signal::Signal::SIGKILL).unwrap();
        eventually("the standby takes the pipe", WAIT, || async {
            runs_on(standby.0).starts_with(&format!("{} ", standby.1))
        })
        .await;
        takeovers.push(killed.elapsed());
        for w in writers {
            w.await.unwrap();
        }
        // Nothing lost, nothing applied twice in effect: the destination equals the source.
        let want = people(&s, &s.src).await;
        let mut got = people(&s, &s.dst).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        while got != want && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
            got = people(&s, &s.dst).await;
        }
        if got != want {
            let missing: Vec<_> = want.iter().filter(|(k, v)| got.get(*k) != Some(*v)).take(5).collect();
            let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).take(5).collect();
            panic!("round {round}: the destination differs from the source: wanted {missing:?}, not wanted {extra:?}");
        }
        // The killed server comes back as a standby (or takes its pipe back as the preferred one).
        start(runner.0, runner.1, runner.2);
    }
    eprintln!("takeovers after kill -9 (status seen by the standby): {takeovers:?}");
}
