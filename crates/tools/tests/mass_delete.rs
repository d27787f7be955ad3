//! The mass-delete guard end to end, against the real 389 DS (source) and OpenLDAP (destination) that
//! tests/run.sh starts: 1,000 deletes at the source in real time are held past the pipe's threshold (500, the
//! default), with the alert in logs/errors, status, `realtime-sync list`, the metrics and the health answer; a
//! restart holds them still; `realtime-sync release-deletes` applies them. A resync that would delete 600
//! entries deletes none and says how to go on; `--allowMassDelete` goes past it.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;

use ferrosync_ldap::LdapClient;
use util::scenario::{entry, go, Scenario, PEOPLE_ALL};
use util::{enable_http, eventually, free_port, http_get as get, ServerGuard};

const WAIT: Duration = Duration::from_secs(60);

/// Adds `n` people below `ou=people` of the test's base at `client`, 8 at a time; returns their DNs.
async fn add_people(s: &Scenario, client: &LdapClient, prefix: &str, n: usize) -> Vec<String> {
    add_people_in(s, client, "people", prefix, n).await
}

/// [`add_people`] below `ou=OU`.
async fn add_people_in(s: &Scenario, client: &LdapClient, ou: &str, prefix: &str, n: usize) -> Vec<String> {
    let dns: Vec<String> = (0..n).map(|i| s.dn(&format!("uid={prefix}{i},ou={ou}"))).collect();
    let mut tasks = Vec::new();
    for chunk in dns.chunks(n.div_ceil(8)) {
        let client = client.clone();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for dn in chunk {
                let uid = dn.split(',').next().unwrap().trim_start_matches("uid=").to_string();
                client
                    .add(&entry(&dn, &[("objectClass", "inetOrgPerson"), ("uid", &uid), ("cn", &uid), ("sn", "M")]))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    dns
}

async fn delete_all(client: &LdapClient, dns: &[String]) {
    let mut tasks = Vec::new();
    for chunk in dns.chunks(dns.len().div_ceil(8)) {
        let client = client.clone();
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for dn in chunk {
                client.delete(&dn).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn errors_log(s: &Scenario) -> String {
    std::fs::read_to_string(s.root.path().join("logs/errors")).unwrap_or_default()
}

#[tokio::test]
async fn a_thousand_deletes_are_held_past_the_threshold_until_released() {
    let s = Scenario::new("mdel-rt").await;
    s.dsconfig(PEOPLE_ALL);
    let port = free_port();
    for ext in ["Available State", "Prometheus Monitoring"] {
        enable_http(&s.root, port, ext);
    }
    // The sync log rotates at 20 kB and keeps 2 rotated files (log rotation as an operator configures it).
    s.dsconfig(
        "dsconfig create-log-rotation-policy --policy-name small --type size-limit --set \"file-size-limit:20 kb\"\n\
         dsconfig create-log-retention-policy --policy-name two --type file-count --set number-of-files:2\n\
         dsconfig set-log-publisher-prop --publisher-name \"File-Based Sync Logger\" --set rotation-policy:small \
         --set retention-policy:two\n",
    );
    let dns = add_people(&s, &s.src, "md", 1000).await;
    // Entries out of the pipe's scope (ou=staff: no class takes them): their deletes never count.
    let staff = add_people_in(&s, &s.src, "staff", "st", 600).await;
    let out = s.resync(&[]).ok();
    assert!(out.contains("1000 entries were created"), "{out}");
    assert_eq!(s.dst_count("ou=people").await, 1000);
    let server = go(&s);
    eventually("the health answer says available", WAIT, || async {
        get(port, "/available-state").is_some_and(|(status, _)| status == 200)
    })
    .await;

    delete_all(&s.src, &staff).await;
    let probe = s.add_person("probe", &[]).await;
    eventually("the changes after 600 out-of-scope deletes arrive", WAIT, || async {
        s.dst_get(&probe).await.is_some()
    })
    .await;
    let status = s.root.run("status", &["--script-friendly"]).ok();
    assert!(!status.contains("Deletes Held"), "out-of-scope deletes tripped the guard: {status}");
    delete_all(&s.src, &dns).await;
    // The default threshold: 500 deletes within a minute are applied, the 501st trips the guard.
    eventually("the guard holds the deletes past the threshold", WAIT, || async {
        s.dst_count("ou=people").await == 501
            && s.root.run("status", &["--script-friendly"]).ok().contains("p\tDeletes Held\t")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // 500 of the 1,000 and the probe are left.
    assert_eq!(s.dst_count("ou=people").await, 501, "a held delete was applied");
    let errors = errors_log(&s);
    assert!(
        errors.contains("severity=SEVERE_WARNING pipe=\"p\"")
            && errors.contains("more than 500 deletes (mass-delete-threshold)"),
        "{errors}"
    );
    let status = s.root.run("status", &[]).ok();
    assert!(status.contains("Deletes Held") && status.contains("realtime-sync release-deletes"), "{status}");
    let list = s.root.run("realtime-sync", &["list"]).ok();
    assert!(list.lines().any(|l| l.starts_with("p ") && l.trim_end().ends_with("held")), "{list}");
    assert!(list.contains("Sync pipe 'p' holds its deletes"), "{list}");
    let (code, body) = get(port, "/available-state").unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("DEGRADED") && body.contains("sync-pipe-mass-delete-held"), "{body}");
    let (_, metrics) = get(port, "/metrics").unwrap();
    assert!(metrics.contains("ferrosync_sync_pipe_mass_delete_held{pipe=\"p\"} 1"), "{metrics}");
    assert!(
        metrics.lines().any(|l| l.starts_with("ferrosync_sync_pipe_deletes_held{pipe=\"p\"} ") && !l.ends_with(" 0")),
        "{metrics}"
    );

    // A restart holds them still (the held state is in the store).
    drop(server);
    let server = ServerGuard::start(&s.root);
    eventually("the restarted pipe holds the deletes again", WAIT, || async {
        s.root.run("status", &["--script-friendly"]).ok().contains("p\tDeletes Held\t")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.dst_count("ou=people").await, 501, "a held delete was applied after the restart");

    // The release applies every held delete.
    let out = s.root.run("realtime-sync", &["release-deletes", "--pipe-name", "p"]).ok();
    assert!(out.contains("took the release"), "{out}");
    eventually("the released deletes reach the destination", WAIT, || async { s.dst_count("ou=people").await == 1 })
        .await;
    eventually("status no longer shows held deletes", WAIT, || async {
        !s.root.run("status", &["--script-friendly"]).ok().contains("Deletes Held")
    })
    .await;
    assert!(s.root.run("realtime-sync", &["list"]).ok().contains("applied"));
    assert!(errors_log(&s).contains("an operator released the held deletes"));
    eventually("the health answer says available again", WAIT, || async {
        get(port, "/available-state").is_some_and(|(status, _)| status == 200)
    })
    .await;
    // The sync log of 1,000 deletes was rotated: 2 rotated files kept (Ping's names), each within the limit.
    let logs = s.root.path().join("logs");
    let mut rotated: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("sync.2"))
        .collect();
    rotated.sort();
    assert_eq!(rotated.len(), 2, "{rotated:?}");
    for n in rotated.iter().map(String::as_str).chain(["sync"]) {
        let len = std::fs::metadata(logs.join(n)).unwrap().len();
        assert!(len <= 20_000, "{n} is {len} bytes");
    }
    // Nothing left to release.
    let run = s.root.run("realtime-sync", &["release-deletes", "--pipe-name", "p"]);
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("holds no deletes"), "{}", run.stderr());
    drop(server);
}

#[tokio::test]
async fn a_resync_that_would_delete_600_entries_stops_and_says_how_to_go_on() {
    let s = Scenario::new("mdel-resync").await;
    s.dsconfig(PEOPLE_ALL);
    add_people(&s, &s.src, "keep", 5).await;
    add_people(&s, &s.dst, "gone", 600).await;

    let run = s.resync(&["--deleteMissingEntries"]);
    assert_eq!(run.code(), 3, "{}{}", run.stdout(), run.stderr());
    let out = run.stdout();
    assert!(
        out.contains("600 destination entries have no source entry")
            && out.contains("mass-delete-threshold (500)")
            && out.contains("--allowMassDelete"),
        "{out}"
    );
    // Nothing was deleted; the creates of the pass before went through.
    assert_eq!(s.dst_count("ou=people").await, 605);
    assert!(errors_log(&s).contains("mass-delete-threshold"), "{}", errors_log(&s));

    // A threshold above the count lets it through; so does --allowMassDelete.
    let out = s.resync(&["--deleteMissingEntries", "--allowMassDelete"]).ok();
    assert!(out.contains("deleted 600"), "{out}");
    assert_eq!(s.dst_count("ou=people").await, 5);
}
