//! Issue 15's fault table, against the real servers: a destination paused with SIGSTOP, a destination and a
//! source restarted mid-burst, `kill -9` of the sync server at 10 random points of 5,000 mixed changes, and a
//! server root on a full file system. Each test ends with the destination equal to the mapped source, and none
//! puts a change in the failed-ops log. The paused and restarted servers are OpenLDAP instances of the test's
//! own (tests/servers/start-openldap.sh on free ports), so that the faults disturb no other test.
//!
//! Each test prints (stderr) how long the destination took to converge: indicative, never asserted.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrosync::entry::Value;
use ferrosync_ldap::{LdapClient, Modification, Scope};
use util::own_openldap::OwnOpenLdap;
use util::scenario::{entry, go, Scenario, PEOPLE_ALL};
use util::{eventually, ServerGuard};

const WAIT: Duration = Duration::from_secs(30);

/// The entries below `ou=people` of `base`, by lower-cased RDN, with the attributes the tests change (values
/// sorted): what the destination must equal (the people class maps entries one to one).
async fn people(c: &LdapClient, base: &str) -> Option<BTreeMap<String, Vec<(String, Vec<String>)>>> {
    let attrs = ["uid", "cn", "sn", "description", "mail"];
    let found = c.search(&format!("ou=people,{base}"), Scope::OneLevel, "(objectClass=*)", &attrs).await.ok()?;
    let mut out = BTreeMap::new();
    for e in found {
        let rdn = e.dn.split(',').next().unwrap_or_default().to_ascii_lowercase();
        let values = attrs
            .iter()
            .map(|a| {
                let mut v = e.texts(a);
                v.sort();
                (a.to_string(), v)
            })
            .collect();
        out.insert(rdn, values);
    }
    Some(out)
}

/// Waits until the destination's people equal the source's; returns how long that took.
async fn converges(s: &Scenario, src: &LdapClient, dst: &LdapClient, limit: Duration) -> Duration {
    let t = Instant::now();
    let mut last = (None, None);
    let deadline = t + limit;
    while Instant::now() < deadline {
        let (a, b) = (people(src, &s.base).await, people(dst, &s.base).await);
        if a.is_some() && a == b {
            return t.elapsed();
        }
        last = (a, b);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (a, b) = (last.0.unwrap_or_default(), last.1.unwrap_or_default());
    let missing: Vec<_> = a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, _)| k).take(10).collect();
    let extra: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).take(10).collect();
    // What the sync log says of them.
    let log = std::fs::read_to_string(s.root.path().join("logs/sync")).unwrap_or_default();
    let about: Vec<&str> = log
        .lines()
        .filter(|l| missing.iter().chain(extra.iter()).any(|k| l.to_ascii_lowercase().contains(&format!("{k},"))))
        .take(40)
        .collect();
    panic!(
        "the destination does not equal the mapped source within {limit:?}: {} source and {} destination entries; \
         missing or different: {missing:?}; extra: {extra:?}; their sync log lines:\n{}",
        a.len(),
        b.len(),
        about.join("\n")
    );
}

fn failed_ops(s: &Scenario) -> String {
    std::fs::read_to_string(s.root.path().join("logs/sync-failed-ops")).unwrap_or_default()
}

/// Retries a write to a server that may be restarting, until it succeeds (an add that had reached the server
/// before the connection dropped counts: the entry exists).
async fn write<F, Fut>(src: &LdapClient, dn: &str, is_add: bool, mut op: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ferrosync_ldap::LdapError>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match op().await {
            Ok(()) => return,
            Err(e) => {
                if is_add && src.get(dn, &["1.1"]).await.ok().flatten().is_some() {
                    return;
                }
                assert!(Instant::now() < deadline, "the write of {dn} keeps failing: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

fn person(dn: &str, uid: &str) -> ferrosync::entry::Entry {
    entry(dn, &[("objectClass", "inetOrgPerson"), ("uid", uid), ("cn", uid), ("sn", "s"), ("description", "v0")])
}

/// `writers` tasks that each add `per_writer / 4` entries and modify each of them 3 times (`per_writer` changes
/// each), retrying through a source restart; `done` counts the changes made.
fn burst(
    s: &Scenario,
    writers: usize,
    per_writer: usize,
    prefix: &str,
    done: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..writers)
        .map(|w| {
            let (src, base, prefix, done) = (s.src.clone(), s.base.clone(), prefix.to_string(), done.clone());
            tokio::spawn(async move {
                for i in 0..per_writer / 4 {
                    let uid = format!("{prefix}{w}-{i}");
                    let dn = format!("uid={uid},ou=people,{base}");
                    let e = person(&dn, &uid);
                    write(&src, &dn, true, || src.add(&e)).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    for n in 1..=3 {
                        let m = [Modification::Replace("description".into(), vec![Value::from(format!("v{n}"))])];
                        write(&src, &dn, false, || src.modify(&dn, &m)).await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect()
}

/// The destination stops answering (SIGSTOP) for 3 times its response timeout while 1,000 changes are made,
/// then goes on: the changes wait, none is logged as failed, and the destination ends equal to the source.
#[tokio::test]
async fn destination_paused_with_sigstop_for_3x_the_response_timeout() {
    let own = OwnOpenLdap::start();
    let s = Scenario::new("f-sigstop").await;
    own.adopt(&s).await;
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set \"retry-backoff-max-wait:2 s\"\n");
    let _server = go(&s);
    let dst = own.client();
    let done = Arc::new(AtomicUsize::new(0));
    let writers = burst(&s, 5, 200, "stop", done.clone());
    // Once changes flow, the destination is paused for 3 x its 2 s response timeout.
    eventually("changes reach the destination", WAIT, || async {
        dst.search(&s.dn("ou=people"), Scope::OneLevel, "(uid=stop*)", &["1.1"]).await.is_ok_and(|v| v.len() >= 20)
    })
    .await;
    own.signal(nix::sys::signal::Signal::SIGSTOP);
    let paused_at = done.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(6)).await;
    own.signal(nix::sys::signal::Signal::SIGCONT);
    let resumed_at = done.load(Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(done.load(Ordering::Relaxed), 1000);
    assert!(resumed_at > paused_at, "changes were made while the destination was paused");
    let took = converges(&s, &s.src, &dst, Duration::from_secs(60)).await;
    eprintln!(
        "sigstop: 1000 changes, {} while paused; converged {took:?} after the last write",
        resumed_at - paused_at
    );
    let failed = failed_ops(&s);
    assert!(failed.is_empty(), "nothing failed for good: {failed}");
}

/// The destination is restarted in the middle of a burst of 1,000 changes.
#[tokio::test]
async fn destination_restarted_mid_burst() {
    let mut own = OwnOpenLdap::start();
    let s = Scenario::new("f-dst-restart").await;
    own.adopt(&s).await;
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set \"retry-backoff-max-wait:2 s\"\n");
    let _server = go(&s);
    let restarted_at = burst_with_a_restart(&s, &mut own, "dr").await;
    let dst = own.client();
    let took = converges(&s, &s.src, &dst, Duration::from_secs(60)).await;
    eprintln!(
        "destination restart: 1000 changes, restarted after {restarted_at}; converged {took:?} after the last write"
    );
    let failed = failed_ops(&s);
    assert!(failed.is_empty(), "nothing failed for good: {failed}");
}

/// The source (OpenLDAP, read through its accesslog) is restarted in the middle of a burst of 1,000 changes:
/// the writers wait for it as an application would, and the pipe picks up where it was.
#[tokio::test]
async fn source_restarted_mid_burst() {
    let mut own = OwnOpenLdap::start();
    let mut s = Scenario::with("f-src-restart", "OPENLDAP", "389", "openldap").await;
    own.adopt(&s).await;
    s.src = own.client();
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set \"retry-backoff-max-wait:2 s\"\n");
    let _server = go(&s);
    let restarted_at = burst_with_a_restart(&s, &mut own, "sr").await;
    let src = own.client();
    let took = converges(&s, &src, &s.dst, Duration::from_secs(60)).await;
    eprintln!("source restart: 1000 changes, restarted after {restarted_at}; converged {took:?} after the last write");
    let failed = failed_ops(&s);
    assert!(failed.is_empty(), "nothing failed for good: {failed}");
}

/// Writes a burst of 1,000 changes (5 writers of 200, named `tag`), stops `own` for 2 s once a quarter is made
/// and starts it again; returns how many changes were made when it came back (before the end of the burst).
async fn burst_with_a_restart(s: &Scenario, own: &mut OwnOpenLdap, tag: &str) -> usize {
    let done = Arc::new(AtomicUsize::new(0));
    let writers = burst(s, 5, 200, tag, done.clone());
    eventually("a quarter of the burst is made", WAIT, || async { done.load(Ordering::Relaxed) >= 250 }).await;
    own.down();
    tokio::time::sleep(Duration::from_secs(2)).await;
    own.up();
    let restarted_at = done.load(Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(restarted_at < 1000, "the restart came before the end of the burst");
    restarted_at
}

/// splitmix64: the test's random numbers, from a seed it prints (FERROSYNC_TEST_SEED replays a run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seed() -> u64 {
    std::env::var("FERROSYNC_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    })
}

/// One writer's share of a mixed burst: `n` changes (adds, modifies of a single-valued and a multi-valued
/// attribute, renames, deletes) of entries of its own, chosen by `rng`.
async fn mixed(src: LdapClient, base: String, w: usize, n: usize, mut rng: Rng, done: Arc<AtomicUsize>) {
    let mut live: Vec<String> = Vec::new();
    let mut next = 0;
    for _ in 0..n {
        let r = rng.below(100);
        if live.len() < 5 || r < 20 {
            let uid = format!("mx{w}-{next}");
            next += 1;
            let dn = format!("uid={uid},ou=people,{base}");
            src.add(&person(&dn, &uid)).await.unwrap();
            live.push(uid);
        } else if r < 70 {
            let uid = &live[rng.below(live.len())];
            let dn = format!("uid={uid},ou=people,{base}");
            let m = if r < 50 {
                Modification::Replace("description".into(), vec![Value::from(format!("v{}", rng.below(1000)))])
            } else {
                // A value added to a multi-valued attribute: applied twice, it would be there twice or fail.
                Modification::Add("mail".into(), vec![Value::from(format!("{uid}-{}@example.com", rng.next()))])
            };
            src.modify(&dn, &[m]).await.unwrap();
        } else if r < 85 {
            let i = rng.below(live.len());
            let new = format!("mx{w}-{next}");
            next += 1;
            src.modify_dn(&format!("uid={},ou=people,{base}", live[i]), &format!("uid={new}"), true, None)
                .await
                .unwrap();
            live[i] = new;
        } else {
            let uid = live.swap_remove(rng.below(live.len()));
            src.delete(&format!("uid={uid},ou=people,{base}")).await.unwrap();
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// `kill -9` of the sync server at 10 random points of mixed changes (adds, modifies, renames, deletes; 3,000 by
/// default to stay within the suite's budget, FERROSYNC_TEST_CHANGES=5000 for the count), each time
/// started again at once: nothing is lost, and nothing is applied twice in effect (the destination equals the
/// source, multi-valued attributes included, and no change failed as a replay would). It once left entries
/// behind whose rename or create was made just before a kill and not yet recorded (seeds 1796281745573133595
/// and 1796287994020113855); the id map now records both before they are made.
#[tokio::test]
async fn kill_9_at_10_random_points_of_mixed_changes() {
    let seed = seed();
    eprintln!("FERROSYNC_TEST_SEED={seed}");
    let mut rng = Rng(seed);
    let s = Scenario::new("f-kill9").await;
    s.dsconfig(PEOPLE_ALL);
    s.dsconfig("dsconfig set-sync-pipe-prop --pipe-name p --set num-worker-threads:8\n");
    std::mem::forget(go(&s));
    let done = Arc::new(AtomicUsize::new(0));
    let total: usize = std::env::var("FERROSYNC_TEST_CHANGES").ok().and_then(|k| k.parse().ok()).unwrap_or(3000);
    let writers: Vec<_> = (0..5)
        .map(|w| tokio::spawn(mixed(s.src.clone(), s.base.clone(), w, total / 5, Rng(rng.next()), done.clone())))
        .collect();
    // FERROSYNC_TEST_KILLS=0 runs the same changes without a kill (to tell a crash's fault from another).
    let kills = std::env::var("FERROSYNC_TEST_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(10);
    let mut points: Vec<usize> = (0..kills).map(|_| 100 + rng.below(total - 200)).collect();
    points.sort_unstable();
    let mut killed_at = Vec::new();
    for p in points {
        eventually(&format!("{p} changes are made"), Duration::from_secs(60), || async {
            done.load(Ordering::Relaxed) >= p
        })
        .await;
        let pid: i32 = std::fs::read_to_string(s.root.path().join("logs/server.pid")).unwrap().trim().parse().unwrap();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
        killed_at.push(done.load(Ordering::Relaxed));
        // The killed process is gone (its lock with it) before the next one starts.
        eventually("the killed server is gone", WAIT, || async {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|st| st.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
                .unwrap_or(true)
        })
        .await;
        std::mem::forget(ServerGuard::start(&s.root));
    }
    for w in writers {
        w.await.unwrap();
    }
    let _server = ServerGuard { root: &s.root };
    eprintln!("kill -9 after {killed_at:?} of {total} changes");
    let took = converges(&s, &s.src, &s.dst, Duration::from_secs(90)).await;
    eprintln!("kill -9 x{kills}: {total} changes; converged {took:?} after the last write");
    let failed = failed_ops(&s);
    assert!(failed.is_empty(), "no change failed (as one applied twice would): {failed}");
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs (it needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// Fills the file system of `dir` with `dir/filler` until a write fails.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).and_then(|_| f.flush()).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).and_then(|_| f.flush()).is_ok() {}
    let _ = f.sync_all();
    path
}

/// The server root sits on a file system that fills up while changes arrive: the pipe does not stop (it once
/// stopped until the server restarted it), its changes wait (none is logged as failed, none is skipped), and
/// once space is back the destination equals the source.
#[tokio::test]
async fn server_root_on_a_full_file_system() {
    let fs = Tmpfs::mount("24m");
    let mut s = Scenario::new("f-full").await;
    s.dsconfig(PEOPLE_ALL);
    // The configured root moves onto the tmpfs.
    let root = util::Root { dir: tempfile::tempdir_in(fs.0.path()).unwrap(), store: None };
    let copy = std::process::Command::new("cp")
        .args(["-a", &format!("{}/.", s.root.path().display()), root.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copy.success());
    s.root = root;
    let _server = go(&s);
    let first = s.add_person("full0", &[]).await;
    eventually("the first change arrives", WAIT, || async { s.dst_get(&first).await.is_some() }).await;
    let filler = fill(fs.0.path());
    let mut dns = Vec::new();
    for i in 1..=100 {
        let dn = s.add_person(&format!("full{i}"), &[("description", "while full")]).await;
        s.src
            .modify(&dn, &[Modification::Replace("description".into(), vec![Value::from("changed while full")])])
            .await
            .unwrap();
        dns.push(dn);
    }
    // The pipe holds its changes while the store refuses its saves; nothing can be reported on a full disk.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let errors = || std::fs::read_to_string(s.root.path().join("logs/errors")).unwrap_or_default();
    let failed = failed_ops(&s);
    assert!(failed.is_empty(), "nothing failed for good while the disk was full: {failed}");
    std::fs::remove_file(&filler).unwrap();
    let took = converges(&s, &s.src, &s.dst, Duration::from_secs(90)).await;
    eprintln!("full file system: 200 changes; converged {took:?} after space came back");
    eprintln!("{}", errors());
    let failed = failed_ops(&s);
    assert!(failed.is_empty(), "nothing failed for good: {failed}");
    assert!(!errors().contains("the pipe stopped"), "the pipe stopped on the full disk: {}", errors());
    // Whether SQLite refused a save depends on the room its WAL file had left; when it did, the sync log
    // says so once space is back (the engine's test proves the waiting itself, with a store that refuses).
    let sync = std::fs::read_to_string(s.root.path().join("logs/sync")).unwrap_or_default();
    for line in sync.lines().filter(|l| l.contains("state store")) {
        eprintln!("{line}");
    }
}

/// Two `start-server` at once on one root with a started pipe: exactly one succeeds (the other says a server
/// already runs), and the changes that follow are applied once: the destination equals the source, nothing
/// failed (a second server would race the first on every change).
#[tokio::test]
async fn two_start_servers_at_once_on_a_root_with_a_started_pipe() {
    let s = Scenario::new("f-twostarts").await;
    s.dsconfig(PEOPLE_ALL);
    let out = s.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--end-of-changelog"]).ok();
    assert!(out.contains("The startpoint has been set"), "{out}");
    s.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
    let runs: Vec<util::Run> = std::thread::scope(|t| {
        let a = t.spawn(|| s.root.run("start-server", &[]));
        let b = t.spawn(|| s.root.run("start-server", &[]));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let _server = ServerGuard { root: &s.root };
    assert_eq!(runs.iter().filter(|r| r.0.status.success()).count(), 1, "exactly one start-server succeeds");
    let loser = runs.iter().find(|r| !r.0.status.success()).unwrap();
    assert!(loser.stderr().contains("already running"), "{}", loser.stderr());
    let done = Arc::new(AtomicUsize::new(0));
    for w in burst(&s, 5, 40, "two", done.clone()) {
        w.await.unwrap();
    }
    let took = converges(&s, &s.src, &s.dst, Duration::from_secs(60)).await;
    eprintln!("two start-servers: 200 changes; converged {took:?} after the last write");
    let failed = failed_ops(&s);
    assert!(failed.is_empty(), "nothing failed: {failed}");
}
