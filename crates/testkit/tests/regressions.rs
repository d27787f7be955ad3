//! The two defects of issue 14's "Why", as the operator met them: a sync class for contractors that
//! synchronizes nothing, ordered before the class for staff on the same base DN, with an include-filter on
//! `employeeType`, an attribute no mapping reads. The model test found both (see crates/testkit/MODEL-FINDINGS.md); these
//! keep the operator's configuration, and so do the later findings below.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ferrosync::endpoint::Modification;
use ferrosync::entry::{Entry, Value};
use ferrosync_testkit::{base_batch, FakeDestination, Fault, FaultPlan, Harness, Op, SourceDirectory};

const SUFFIX: &str = "dc=example,dc=com";
const PEOPLE: &str = "ou=people,dc=example,dc=com";

fn batch() -> String {
    let mut b = base_batch("p");
    b.push_str(
        r#"dsconfig create-sync-class --pipe-name p --class-name contractors \
    --set evaluation-order-index:10 \
    --set include-base-dn:ou=people,dc=example,dc=com \
    --set "include-filter:(employeeType=contractor)" \
    --set synchronize-creates:false --set synchronize-modifies:false --set synchronize-deletes:false
dsconfig create-sync-class --pipe-name p --class-name staff \
    --set evaluation-order-index:20 \
    --set include-base-dn:ou=people,dc=example,dc=com \
    --set "include-filter:(objectClass=inetOrgPerson)" \
    --set auto-mapped-source-attribute:objectClass --set auto-mapped-source-attribute:uid \
    --set auto-mapped-source-attribute:cn --set auto-mapped-source-attribute:sn \
    --set auto-mapped-source-attribute:description \
    --set destination-correlation-attributes:dn
"#,
    );
    b
}

fn harness() -> Harness {
    harness_of(&batch(), &[PEOPLE], FaultPlan::seeded(1))
}

/// A harness for the pipe that `batch` configures, with the OUs `ous` at both ends, from the log's start.
fn harness_of(batch: &str, ous: &[&str], faults: FaultPlan) -> Harness {
    let source = SourceDirectory::new(SUFFIX, &[SUFFIX]);
    let destination = FakeDestination::new("dst", SUFFIX, &[SUFFIX], faults.clone());
    for dn in ous {
        let mut ou = Entry::new(*dn);
        ou.add("objectClass", "organizationalUnit");
        source.seed(ou.clone()).unwrap();
        destination.seed(ou).unwrap();
    }
    let h = Harness::new(batch, "p", source, destination, faults).unwrap();
    h.set_start_point("0").unwrap();
    h
}

fn person(uid: &str, employee_type: &str) -> Entry {
    let mut e = Entry::new(format!("uid={uid},{PEOPLE}"));
    e.add("objectClass", "inetOrgPerson");
    e.add("cn", uid);
    e.add("sn", uid);
    e.add("employeeType", employee_type);
    e
}

async fn drain(h: &Harness) {
    h.run_until_drained(None, Duration::from_secs(30)).await.unwrap();
}

#[tokio::test]
async fn never_synchronized_class_ahead_does_not_drop_a_delete() {
    let h = harness();
    h.source.add(person("alice", "staff")).unwrap();
    h.source.add(person("carl", "contractor")).unwrap();
    drain(&h).await;
    let alice = format!("uid=alice,{PEOPLE}");
    assert!(h.destination.get(&alice).is_some(), "{}", h.sync_log());
    assert!(h.destination.get(&format!("uid=carl,{PEOPLE}")).is_none());

    // A deprovisioned staff member: the contractors class (first by index, same base DN, its filter not
    // testable on a deleted entry) must not claim the delete.
    h.source.delete(&alice).unwrap();
    h.source.delete(&format!("uid=carl,{PEOPLE}")).unwrap();
    drain(&h).await;
    assert!(h.destination.get(&alice).is_none(), "the deleted user stays at the destination:\n{}", h.sync_log());
    let log = h.sync_log();
    let alice_delete = log.lines().find(|l| l.contains("DELETE of uid=alice") && !l.contains("change-detected"));
    assert!(alice_delete.is_some_and(|l| l.contains("(staff): deleted")), "{log}");
    // The contractor was never synchronized: its delete changes nothing and fails nothing.
    assert_eq!(h.failed_ops(), "");
}

#[tokio::test]
async fn class_filter_on_unmapped_attribute_sees_the_value() {
    let h = harness();
    h.source.add(person("carl", "contractor")).unwrap();
    h.source.add(person("alice", "staff")).unwrap();
    drain(&h).await;
    let carl = format!("uid=carl,{PEOPLE}");
    // The contractor is the contractors class's: not created, and a modify of it is dropped as that class
    // does not synchronize modifies: not a failed lookup.
    h.source.modify(&carl, &[Modification::Replace("description".into(), vec![Value::from("on site")])]).unwrap();
    drain(&h).await;
    assert!(h.destination.get(&carl).is_none());
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
    let log = h.sync_log();
    let dropped = log.lines().find(|l| l.contains("MODIFY of uid=carl") && !l.contains("change-detected"));
    assert!(
        dropped.is_some_and(|l| l.contains("dropped-op-type-not-synchronized") && l.contains("'contractors'")),
        "{log}"
    );
    // employeeType is mapped by nothing, yet the class filters see it: the staff member's modify is the staff
    // class's, and is applied.
    let alice = format!("uid=alice,{PEOPLE}");
    h.source.modify(&alice, &[Modification::Replace("description".into(), vec![Value::from("manager")])]).unwrap();
    drain(&h).await;
    assert!(!h.destination.get(&alice).unwrap().has("employeeType"), "employeeType is not mapped");
    assert_eq!(h.destination.get(&alice).unwrap().texts("description"), ["manager"]);
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
}

#[tokio::test]
async fn a_delete_recorded_before_classes_were_kept_is_classified_by_the_destination_entry() {
    let h = harness();
    let id = h.source.add(person("alice", "staff")).unwrap();
    drain(&h).await;
    let alice = format!("uid=alice,{PEOPLE}");
    // The id map as a ferrosync that did not keep the class wrote it.
    let mut m = h.id_mapping(&id).unwrap().expect("recorded");
    assert_eq!(m.class.as_deref(), Some("staff"));
    m.class = None;
    ferrosync::store::Store::open(&h.root).unwrap().put_id_mappings("p", &[m]).unwrap();

    h.source.delete(&alice).unwrap();
    drain(&h).await;
    assert!(h.destination.get(&alice).is_none(), "{}", h.sync_log());
    // The destination entry has no employeeType (not mapped): the contractors filter does not match it, the
    // staff class's does; the sync log says how the delete was classified.
    let log = h.sync_log();
    assert!(
        log.contains(
            "was classified by its destination entry uid=alice,ou=people,dc=example,dc=com as sync class 'staff'"
        ),
        "{log}"
    );
    assert_eq!(h.failed_ops(), "");
}

/// A class that creates contractors and synchronizes nothing else (`synchronize-modifies:false`), correlated
/// by uid, as the model test found it: an entry moved into the class's base DN without having been
/// synchronized is created, even when the destination fails that create the first time (its own create left a
/// provisional id-map record, so that a crash loses nothing; the retry must not read that record as "already
/// synchronized" and drop the move as a modify the class does not synchronize).
async fn moved_in_entry_is_created_though_its_first_create_fails(fault: Fault, extra: &str) {
    const CONTRACTORS: &str = "ou=contractors,dc=example,dc=com";
    const OTHER: &str = "ou=other,dc=example,dc=com";
    let mut b = base_batch("p");
    b.push_str(&format!("dsconfig set-sync-pipe-prop --pipe-name p --set num-worker-threads:1 {extra}\n"));
    b.push_str(
        "dsconfig create-sync-class --pipe-name p --class-name contractors --set evaluation-order-index:1 \
         --set include-base-dn:ou=contractors,dc=example,dc=com --set auto-mapped-source-attribute:-all- \
         --set synchronize-creates:true --set synchronize-modifies:false --set synchronize-deletes:false \
         --set destination-correlation-attributes:uid\n",
    );
    let faults = FaultPlan::seeded(1);
    let h = harness_of(&b, &[CONTRACTORS, OTHER], faults.clone());

    let mut e = Entry::new(format!("uid=u0,{OTHER}"));
    e.add("objectClass", "inetOrgPerson");
    e.add("uid", "u0");
    e.add("cn", "u0");
    e.add("sn", "u0");
    h.source.add(e).unwrap();
    h.source
        .modify(&format!("uid=u0,{OTHER}"), &[Modification::Replace("cn".into(), vec![Value::from("U 0")])])
        .unwrap();
    drain(&h).await;
    assert_eq!(faults.calls(Op::DestCreate), 0, "out of scope: {}", h.sync_log());

    faults.nth(Op::DestCreate, 1, fault);
    let moved = format!("uid=u0,{CONTRACTORS}");
    h.source.rename(&format!("uid=u0,{OTHER}"), &moved).unwrap();
    drain(&h).await;
    assert_eq!(faults.fired(), 1, "the first create failed");
    let created = h.destination.get(&moved);
    assert!(created.is_some_and(|e| e.texts("cn") == ["U 0"]), "not created on retry:\n{}", h.sync_log());
    assert!(!h.sync_log().contains("does not synchronize this operation"), "{}", h.sync_log());
    assert_eq!(h.failed_ops(), "");
}

#[tokio::test]
async fn moved_in_entry_whose_create_met_an_unavailable_destination_is_created() {
    moved_in_entry_is_created_though_its_first_create_fails(Fault::Unavailable, "").await;
}

#[tokio::test]
async fn moved_in_entry_whose_create_was_refused_once_is_created_by_its_background_retry() {
    moved_in_entry_is_created_though_its_first_create_fails(
        Fault::Rejected,
        "--set max-failed-op-background-retries:2 --set \"failed-op-background-retry-delay:50 ms\"",
    )
    .await;
}

/// The model test's second finding of 2026-12-07: a contractor synchronized by a class that does not
/// synchronize deletes is deleted at the source (its destination entry stays, as configured), and a new entry
/// is added at the same DN, out of every class, then renamed. The new entry is not the old one: the id-map
/// record the old one left is not the new one's, and the old contractor's destination entry, classified by what
/// it holds (a contractor), stays, even though a staff class that synchronizes deletes covers the same base DN.
#[tokio::test]
async fn a_new_entry_at_a_deleted_entrys_dn_is_not_the_old_entry() {
    let mut b = base_batch("p");
    b.push_str(
        r#"dsconfig create-sync-class --pipe-name p --class-name contractors \
    --set evaluation-order-index:10 \
    --set include-base-dn:ou=people,dc=example,dc=com \
    --set "include-filter:(employeeType=contractor)" --set auto-mapped-source-attribute:-all- \
    --set synchronize-creates:true --set synchronize-modifies:false --set synchronize-deletes:false \
    --set destination-correlation-attributes:dn
dsconfig create-sync-class --pipe-name p --class-name staff \
    --set evaluation-order-index:5 \
    --set include-base-dn:ou=people,dc=example,dc=com \
    --set "include-filter:(employeeType=staff)" --set auto-mapped-source-attribute:-all- \
    --set synchronize-creates:false --set synchronize-modifies:false --set synchronize-deletes:true \
    --set destination-correlation-attributes:dn
"#,
    );
    let h = harness_of(&b, &[PEOPLE], FaultPlan::seeded(1));

    let carl = format!("uid=carl,{PEOPLE}");
    h.source.add(person("carl", "contractor")).unwrap();
    drain(&h).await;
    assert!(h.destination.get(&carl).is_some(), "{}", h.sync_log());
    h.source.delete(&carl).unwrap();
    let mut other = Entry::new(&carl);
    other.add("objectClass", "person");
    other.add("cn", "carl");
    other.add("sn", "carl");
    h.source.add(other).unwrap();
    drain(&h).await;
    h.source.rename(&carl, &format!("uid=carl2,{PEOPLE}")).unwrap();
    drain(&h).await;
    let log = h.sync_log();
    assert!(h.destination.get(&carl).is_some(), "the contractor's destination entry was deleted:\n{log}");
    // The new entry's add is out of scope, not "the contractors class's".
    assert!(log.contains("Dropped ADD of uid=carl,ou=people,dc=example,dc=com: no sync class matches"), "{log}");
    assert!(log.contains("was classified by its destination entry"), "{log}");
    assert_eq!(h.failed_ops(), "");
}

/// The same after a crash: the pipe was killed between the provisional record of a create and the create (the
/// model test's case 1149: `PROPTEST_CASES=3000`, crash points on, a modify that gives an entry the class's
/// `employeeType`). The replayed change finds the record, marked as a create under way, and creates the entry.
#[tokio::test]
async fn an_entry_entering_a_class_is_created_when_a_crash_left_its_create_under_way() {
    let mut b = base_batch("p");
    b.push_str(
        "dsconfig create-sync-class --pipe-name p --class-name contractors --set evaluation-order-index:1 \
         --set include-base-dn:ou=people,dc=example,dc=com --set \"include-filter:(employeeType=contractor)\" \
         --set auto-mapped-source-attribute:-all- --set synchronize-modifies:false \
         --set destination-correlation-attributes:uid\n",
    );
    let h = harness_of(&b, &[PEOPLE], FaultPlan::seeded(1));
    let dn = format!("uid=u2,{PEOPLE}");
    let mut e = Entry::new(&dn);
    e.add("objectClass", "inetOrgPerson");
    e.add("uid", "u2");
    e.add("cn", "u2");
    e.add("sn", "u2");
    let id = h.source.add(e).unwrap();
    drain(&h).await;
    assert!(h.destination.get(&dn).is_none(), "out of scope");

    // What the journal had put down when the pipe was killed before the create.
    let mark = ferrosync::store::IdMapping {
        source_id: id,
        source_dn: dn.clone(),
        dest_dn: dn.clone(),
        digest: None,
        class: Some("contractors".into()),
        renaming_to: None,
    }
    .before_create();
    ferrosync::store::Store::open(&h.root).unwrap().record_provisional("p", &[mark]).unwrap();
    h.source.modify(&dn, &[Modification::Replace("employeeType".into(), vec![Value::from("contractor")])]).unwrap();
    drain(&h).await;
    assert!(h.destination.get(&dn).is_some(), "not created:\n{}", h.sync_log());
    assert_eq!(h.failed_ops(), "", "sync log:\n{}", h.sync_log());
}

/// The model test's case 4568 (`PROPTEST_CASES=6000`): an entry entering a class that creates but does not
/// modify meets, at its DN, the destination entry another source entry left behind (its class does not
/// synchronize deletes). Its create, tried first (correlation by DN alone), fails; the entry is not this one's,
/// so this one's later delete must leave it (the create's provisional id-map record went with the failed try).
#[tokio::test]
async fn a_create_that_met_another_entrys_destination_entry_does_not_claim_it() {
    let mut b = base_batch("p");
    b.push_str(
        r#"dsconfig create-sync-class --pipe-name p --class-name staff --set evaluation-order-index:1 \
    --set include-base-dn:ou=people,dc=example,dc=com --set "include-filter:(employeeType=staff)" \
    --set auto-mapped-source-attribute:-all- --set synchronize-modifies:false \
    --set destination-correlation-attributes:dn
dsconfig create-sync-class --pipe-name p --class-name people --set evaluation-order-index:2 \
    --set include-base-dn:ou=people,dc=example,dc=com --set "include-filter:(objectClass=inetOrgPerson)" \
    --set auto-mapped-source-attribute:-all- --set synchronize-modifies:false --set synchronize-deletes:false \
    --set destination-correlation-attributes:dn
"#,
    );
    let h = harness_of(&b, &[PEOPLE], FaultPlan::seeded(1));
    let dn = format!("uid=u0,{PEOPLE}");
    let entry = |class: &str| {
        let mut e = Entry::new(&dn);
        e.add("objectClass", class);
        e.add("uid", "u0");
        e.add("cn", "u0");
        e.add("sn", "u0");
        e
    };
    // A person synchronized by a class that keeps deleted entries at the destination.
    h.source.add(entry("inetOrgPerson")).unwrap();
    drain(&h).await;
    assert!(h.destination.get(&dn).is_some(), "{}", h.sync_log());
    h.source.delete(&dn).unwrap();
    // Another entry at the DN, out of scope, then made staff: it enters the staff class.
    h.source.add(entry("person")).unwrap();
    drain(&h).await;
    h.source.modify(&dn, &[Modification::Replace("employeeType".into(), vec![Value::from("staff")])]).unwrap();
    drain(&h).await;
    h.source.delete(&dn).unwrap();
    drain(&h).await;
    let log = h.sync_log();
    assert!(h.destination.get(&dn).is_some(), "the first person's destination entry was deleted:\n{log}");
    assert_eq!(h.failed_ops(), "", "sync log:\n{log}");
}
