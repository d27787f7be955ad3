//! Issue 15, "Changes that must never be skipped", on the engine's side, with the fake endpoints: transient
//! failures (a busy, unavailable or timing-out destination, for longer than `max-operation-attempts`) make a
//! change wait with the pipe's backoff, never skip it nor log it as failed, and `status` shows the pipe as
//! waiting and why; a change refused for good is retried in the background as `max-failed-op-background-retries`
//! and `failed-op-background-retry-delay` say before it is logged as failed; parents are created before their
//! children and subtrees deleted children first, with any number of workers; a sync log that cannot be written
//! is reported in `status`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ferrosync::endpoint::Modification;
use ferrosync::entry::{Entry, Value};
use ferrosync_testkit::{
    base_batch, FakeDestination, Fault, FaultPlan, Harness, Op, Rule, Running, SourceDirectory, When,
};

const SUFFIX: &str = "dc=example,dc=com";
const PEOPLE: &str = "ou=people,dc=example,dc=com";

/// One class for everything below the suffix, correlated by DN, and `extra` pipe properties.
fn batch(extra: &[&str]) -> String {
    let mut b = base_batch("p");
    for set in extra {
        b.push_str(&format!("dsconfig set-sync-pipe-prop --pipe-name p --set \"{set}\"\n"));
    }
    b.push_str(
        "dsconfig create-sync-class --pipe-name p --class-name all --set evaluation-order-index:1 \
         --set include-base-dn:dc=example,dc=com --set auto-mapped-source-attribute:-all- \
         --set destination-correlation-attributes:dn\n",
    );
    b
}

fn harness(extra: &[&str], faults: FaultPlan) -> Harness {
    let source = SourceDirectory::new(SUFFIX, &[SUFFIX]);
    let destination = FakeDestination::new("dst", SUFFIX, &[SUFFIX], faults.clone());
    let mut ou = Entry::new(PEOPLE);
    ou.add("objectClass", "organizationalUnit");
    ou.add("ou", "people");
    source.seed(ou.clone()).unwrap();
    destination.seed(ou).unwrap();
    let h = Harness::new(&batch(extra), "p", source, destination, faults).unwrap();
    h.set_start_point("0").unwrap();
    h
}

fn person(dn: &str) -> Entry {
    let mut e = Entry::new(dn);
    e.add("objectClass", "inetOrgPerson");
    let uid = dn.split(',').next().and_then(|r| r.split_once('=')).map(|(_, v)| v).unwrap_or("x").to_string();
    e.add("uid", uid.as_str());
    e.add("cn", uid.as_str());
    e.add("sn", uid.as_str());
    e
}

fn user(n: usize) -> String {
    format!("uid=user{n},{PEOPLE}")
}

/// The destination's entries below the suffix (the suffix itself left out), by lower-cased DN, with their
/// sorted `cn` and `description` values.
fn tree(entries: Vec<Entry>) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut out: Vec<_> = entries
        .into_iter()
        .filter(|e| !e.dn.eq_ignore_ascii_case(SUFFIX))
        .map(|e| {
            let mut cn = e.texts("cn");
            cn.sort();
            let mut d = e.texts("description");
            d.sort();
            (e.dn.to_ascii_lowercase(), cn, d)
        })
        .collect();
    out.sort();
    out
}

fn stats(h: &Harness) -> serde_json::Value {
    h.stats().unwrap().and_then(|j| serde_json::from_str(&j).ok()).unwrap_or(serde_json::Value::Null)
}

async fn drain(h: &Harness) {
    h.run_until_drained(None, Duration::from_secs(60)).await.unwrap();
}

/// Polls `f` every 10 ms until it is true or `limit` has passed.
async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

/// Busy (`Retryable`), timing out and unavailable destination operations, many more times in a row than
/// `max-operation-attempts`: every change waits and is applied, none is logged as failed, none is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_timing_out_and_unavailable_endpoints_never_skip_or_fail_a_change() {
    let faults = FaultPlan::seeded(3);
    let h = harness(
        &[
            "num-worker-threads:4",
            "max-operation-attempts:2",
            "retry-backoff-initial-wait:5 ms",
            "retry-backoff-max-wait:20 ms",
        ],
        faults.clone(),
    );
    for n in 0..6 {
        h.source.add(person(&user(n))).unwrap();
    }
    faults.add(Rule { op: Op::DestCreate, when: When::From { nth: 1, count: 12 }, fault: Fault::Retryable });
    faults.add(Rule { op: Op::DestCorrelate, when: When::From { nth: 3, count: 4 }, fault: Fault::Unavailable });
    drain(&h).await;
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
    for n in 0..6 {
        assert!(h.destination.get(&user(n)).is_some(), "{} was skipped:\n{}", user(n), h.sync_log());
    }

    // Modifies meet response timeouts and a busy server; deletes a busy server.
    faults.clear();
    faults.add(Rule {
        op: Op::DestModify,
        when: When::From { nth: 1, count: 3 },
        fault: Fault::Timeout(Duration::from_millis(30)),
    });
    faults.add(Rule { op: Op::DestModify, when: When::From { nth: 4, count: 6 }, fault: Fault::Retryable });
    faults.add(Rule { op: Op::DestDelete, when: When::From { nth: 1, count: 8 }, fault: Fault::Retryable });
    faults.add(Rule { op: Op::SourceFetch, when: When::From { nth: 1, count: 3 }, fault: Fault::Retryable });
    for n in 0..3 {
        h.source
            .modify(&user(n), &[Modification::Replace("description".into(), vec![Value::from("changed")])])
            .unwrap();
    }
    h.source.delete(&user(5)).unwrap();
    drain(&h).await;
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
    assert_eq!(tree(h.destination.entries()), tree(h.source.entries()), "sync log:\n{}", h.sync_log());
    assert!(faults.fired() >= 20, "the faults fired {} times", faults.fired());
}

/// A destination that stays busy far longer than every attempt and backoff combined: the start point stays
/// before the change, `status` shows the pipe waiting and why, nothing is logged as failed; once the
/// destination answers, the change is applied and the pipe no longer shows as waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_outage_holds_the_start_point_and_status_shows_the_pipe_waiting() {
    let faults = FaultPlan::seeded(4);
    let h = harness(
        &["max-operation-attempts:2", "retry-backoff-initial-wait:5 ms", "retry-backoff-max-wait:20 ms"],
        faults.clone(),
    );
    faults.probability(Op::DestCreate, 1.0, Fault::Retryable);
    h.source.add(person(&user(1))).unwrap();
    let running = h.start().unwrap();
    // Many attempts (each a create tried twice by the engine), far more than max-operation-attempts.
    assert!(eventually(Duration::from_secs(20), || faults.calls(Op::DestCreate) >= 40).await);
    assert!(
        eventually(Duration::from_secs(5), || stats(&h)["waiting_for_endpoint"]
            .as_str()
            .is_some_and(|w| w.contains("the server is busy")))
        .await,
        "status does not show the pipe waiting: {}",
        stats(&h)
    );
    assert!(stats(&h)["waiting_attempts"].as_u64().unwrap_or(0) >= 10, "{}", stats(&h));
    assert_eq!(h.start_point().unwrap().as_deref(), Some("0"), "the start point moved past a change that waits");
    assert_eq!(h.failed_ops(), "");
    assert!(h.destination.get(&user(1)).is_none());

    // The destination answers again.
    faults.clear();
    assert!(eventually(Duration::from_secs(20), || h.is_drained().unwrap()).await, "{}", h.sync_log());
    assert!(h.destination.get(&user(1)).is_some());
    assert!(
        eventually(Duration::from_secs(5), || stats(&h)["waiting_for_endpoint"].is_null()).await,
        "still shown as waiting: {}",
        stats(&h)
    );
    running.stop().await.unwrap();
    assert_eq!(h.failed_ops(), "");
}

/// `max-failed-op-background-retries:2` with `failed-op-background-retry-delay:80 ms`: a create the destination
/// refuses twice is applied at its third attempt and not logged as failed; a create it always refuses is
/// tried three times, 80 ms apart, then logged as failed once; meanwhile the other changes are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_changes_are_retried_in_the_background_before_they_are_logged_as_failed() {
    let faults = FaultPlan::seeded(5);
    let h = harness(&["max-failed-op-background-retries:2", "failed-op-background-retry-delay:80 ms"], faults.clone());
    // The first attempt of a create tries it twice (straight away, then after a lookup), the next ones once
    // (the entry's provisional id-map record sends them to the lookup first): two attempts refused.
    faults.add(Rule { op: Op::DestCreate, when: When::From { nth: 1, count: 3 }, fault: Fault::Rejected });
    h.source.add(person(&user(1))).unwrap();
    let t = Instant::now();
    drain(&h).await;
    assert!(t.elapsed() >= Duration::from_millis(160), "two background retries 80 ms apart took {:?}", t.elapsed());
    assert!(h.destination.get(&user(1)).is_some(), "{}", h.sync_log());
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
    assert_eq!(faults.calls(Op::DestCreate), 4);
    // The counters are saved by the store's writer thread, just after the pipe stopped.
    assert!(
        eventually(Duration::from_secs(5), || stats(&h)["background_retries"].as_u64() == Some(2)).await,
        "{}",
        stats(&h)
    );

    // Refused for good: three attempts, then the failed-ops log; another entry's change is not held up.
    faults.clear();
    let before = faults.calls(Op::DestCreate);
    faults.probability(Op::DestCreate, 1.0, Fault::Rejected);
    h.source.add(person(&user(2))).unwrap();
    h.source.modify(&user(1), &[Modification::Replace("description".into(), vec![Value::from("x")])]).unwrap();
    let running = h.start().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || h.destination.get(&user(1)).is_some_and(|e| e.has("description"))).await
    );
    assert_eq!(h.failed_ops(), "", "logged as failed before its background retries");
    assert!(eventually(Duration::from_secs(10), || h.is_drained().unwrap()).await, "{}", h.sync_log());
    running.stop().await.unwrap();
    assert_eq!(faults.calls(Op::DestCreate) - before, 4, "1 attempt (2 creates) and 2 background retries (1 each)");
    let failed = h.failed_ops();
    assert_eq!(failed.matches("operation=ADD").count(), 1, "{failed}");
    assert!(failed.contains(&user(2)), "{failed}");
}

/// A burst that creates an OU and entries below it, with eight workers and the OU's create slow: every child
/// is created after its parent (the fake destination refuses an entry whose parent is missing). Then the
/// subtree is deleted, children first as the change log has it, with a child's delete slow: the OU is deleted
/// last (the destination refuses to delete an entry that has children).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parents_are_created_before_children_and_subtrees_deleted_children_first() {
    let faults = FaultPlan::seeded(6);
    let h = harness(&["num-worker-threads:8"], faults.clone());
    let ou = format!("ou=new,{SUFFIX}");
    h.destination.slow_writes_to(&ou, Duration::from_millis(150));
    let mut e = Entry::new(&ou);
    e.add("objectClass", "organizationalUnit");
    e.add("ou", "new");
    h.source.add(e).unwrap();
    let sub = format!("ou=sub,{ou}");
    let mut s = Entry::new(&sub);
    s.add("objectClass", "organizationalUnit");
    s.add("ou", "sub");
    h.source.add(s).unwrap();
    let children: Vec<String> =
        (0..6).map(|n| format!("uid=c{n},{ou}")).chain((0..6).map(|n| format!("uid=d{n},{sub}"))).collect();
    for c in &children {
        h.source.add(person(c)).unwrap();
    }
    drain(&h).await;
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
    assert_eq!(tree(h.destination.entries()), tree(h.source.entries()));
    let refused: Vec<_> = h.destination.writes().into_iter().filter(|w| w.result.is_err()).collect();
    assert!(refused.is_empty(), "{refused:?}");

    // The subtree goes, children first; the first child's delete is slow.
    h.destination.slow_writes_to(&children[6], Duration::from_millis(150));
    h.destination.slow_writes_to(&children[0], Duration::from_millis(150));
    for c in children.iter().rev() {
        h.source.delete(c).unwrap();
    }
    h.source.delete(&sub).unwrap();
    h.source.delete(&ou).unwrap();
    drain(&h).await;
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
    assert!(h.destination.get(&ou).is_none(), "{}", h.sync_log());
    assert_eq!(tree(h.destination.entries()), tree(h.source.entries()));
    let refused: Vec<_> = h.destination.writes().into_iter().filter(|w| w.result.is_err()).collect();
    assert!(refused.is_empty(), "{refused:?}");
}

/// `kill -9` after the destination applied a rename and before the pipe recorded it (the rename is replayed
/// on restart, with the id map still naming the old destination DN): the entry's later changes still reach the
/// renamed destination entry. A delete that followed deletes it (it once deleted the old DN, which was gone,
/// Kills `running` (as `kill -9` does) while the destination hangs after a write, lets the destination answer
/// again, runs the pipe until it has caught up, and checks that nothing failed and both sides hold the same.
async fn kill_then_recover(h: &Harness, running: Running, then: &str) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.kill_running(running).await.unwrap();
    h.destination.stop_hanging();
    drain(h).await;
    assert_eq!(h.failed_ops(), "", "{then}: sync log:\n{}", h.sync_log());
    assert_eq!(tree(h.destination.entries()), tree(h.source.entries()), "{then}: sync log:\n{}", h.sync_log());
}

/// and left the renamed entry behind); a second rename moves it on (it once found nothing to rename).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_a_rename_at_the_destination_and_its_record_loses_no_later_change() {
    for then in ["delete", "rename again", "modify"] {
        let h = harness(&[], FaultPlan::seeded(8));
        h.source.add(person(&user(1))).unwrap();
        drain(&h).await;
        h.destination.hang_after_writes_to(&user(1));
        h.source.rename(&user(1), &user(2)).unwrap();
        let running = h.start().unwrap();
        let renamed = eventually(Duration::from_secs(20), || h.destination.get(&user(2)).is_some()).await;
        assert!(renamed, "{then}: the rename never reached the destination: {}", h.sync_log());
        // The next change comes while the pipe stands between the rename and its record.
        match then {
            "delete" => h.source.delete(&user(2)).unwrap(),
            "rename again" => h.source.rename(&user(2), &user(3)).unwrap(),
            _ => h
                .source
                .modify(&user(2), &[Modification::Replace("description".into(), vec![Value::from("after")])])
                .unwrap(),
        }
        kill_then_recover(&h, running, then).await;
    }
}

/// `kill -9` after the destination created an entry and before the pipe recorded it, and the source entry is
/// deleted (or renamed, then deleted) meanwhile: the replayed add finds no source entry, and the delete must still
/// find the entry the pipe created (it once found no id-map record, took the entry for one the pipe never
/// synchronized, and left it at the destination).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_a_create_at_the_destination_and_its_record_leaves_nothing_behind() {
    for then in ["delete", "rename then delete"] {
        let h = harness(&[], FaultPlan::seeded(10));
        h.destination.hang_after_writes_to(&user(1));
        h.source.add(person(&user(1))).unwrap();
        let running = h.start().unwrap();
        let created = eventually(Duration::from_secs(20), || h.destination.get(&user(1)).is_some()).await;
        assert!(created, "{then}: the create never reached the destination: {}", h.sync_log());
        if then == "delete" {
            h.source.delete(&user(1)).unwrap();
        } else {
            h.source.rename(&user(1), &user(2)).unwrap();
            h.source.delete(&user(2)).unwrap();
        }
        kill_then_recover(&h, running, then).await;
    }
}

/// The state store refuses the pipe's saves for a while, as a store on a full disk does: the pipe does not
/// stop (it once stopped, and came back only when the server restarted it); it holds its changes, tries the
/// save again with its backoff, lets no rename be made before its mark is saved, and once the store takes
/// writes again every change is applied, none is skipped or failed, and the sync log says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_refuses_saves_for_a_while_holds_the_pipe_and_loses_nothing() {
    let h = harness(&["retry-backoff-initial-wait:5 ms", "retry-backoff-max-wait:40 ms"], FaultPlan::seeded(9));
    for n in 1..=5 {
        h.source.add(person(&user(n))).unwrap();
    }
    let running = h.start().unwrap();
    assert!(eventually(Duration::from_secs(20), || h.is_drained().unwrap()).await, "{}", h.sync_log());
    let saved = h.start_point().unwrap();

    h.store_refusal.set(true);
    for n in 6..=30 {
        h.source.add(person(&user(n))).unwrap();
    }
    h.source.modify(&user(2), &[Modification::Replace("description".into(), vec![Value::from("held")])]).unwrap();
    h.source.rename(&user(3), &user(103)).unwrap();
    h.source.delete(&user(4)).unwrap();
    assert!(eventually(Duration::from_secs(20), || h.store_refusal.refused() >= 5).await, "the save is not retried");
    assert!(running.is_running(), "the pipe stopped on the refused saves");
    assert_eq!(h.start_point().unwrap(), saved, "a refused save moved the start point");
    assert!(h.destination.get(&user(103)).is_none(), "a rename was made before its mark was saved");

    h.store_refusal.set(false);
    assert!(eventually(Duration::from_secs(20), || h.is_drained().unwrap()).await, "{}", h.sync_log());
    assert!(running.is_running(), "the pipe stopped");
    running.stop().await.unwrap();
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
    assert_eq!(tree(h.destination.entries()), tree(h.source.entries()));
    let log = h.sync_log();
    // The creates wait for their id-map records, the rename for its mark, the other changes for the save of
    // their progress; the log says so once, for whichever of them the store refused first.
    assert!(
        log.contains("the state store refused to record the create of")
            || log.contains("the state store refused to record the rename of"),
        "{log}"
    );
    assert!(log.contains("the state store is written again"), "{log}");
}

/// A sync log that cannot be written (here its path is a directory, as a full disk refuses writes) is
/// reported in the counters `status` shows, not only dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_log_that_cannot_be_written_is_shown_by_status() {
    let faults = FaultPlan::seeded(7);
    let h = harness(&[], faults);
    std::fs::create_dir_all(h.root.logs_dir().join("sync")).unwrap();
    h.source.add(person(&user(1))).unwrap();
    let running = h.start().unwrap();
    assert!(eventually(Duration::from_secs(10), || h.is_drained().unwrap()).await);
    let shown = eventually(Duration::from_secs(5), || {
        stats(&h)["log_error"].as_str().is_some_and(|e| e.contains("cannot write") && e.contains("sync"))
    })
    .await;
    running.stop().await.unwrap();
    assert!(shown, "{}", stats(&h));
    assert!(h.destination.get(&user(1)).is_some());
}
