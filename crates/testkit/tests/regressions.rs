//! The two defects of issue 14's "Why", as the operator met them: a sync class for contractors that
//! synchronizes nothing, ordered before the class for staff on the same base DN, with an include-filter on
//! `employeeType`, an attribute no mapping reads. The model test found both (see crates/testkit/MODEL-FINDINGS.md); these
//! keep the operator's configuration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ferrosync::endpoint::Modification;
use ferrosync::entry::{Entry, Value};
use ferrosync_testkit::{base_batch, FakeDestination, FaultPlan, Harness, SourceDirectory};

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
    let faults = FaultPlan::seeded(1);
    let source = SourceDirectory::new(SUFFIX, &[SUFFIX]);
    let destination = FakeDestination::new("dst", SUFFIX, &[SUFFIX], faults.clone());
    let mut ou = Entry::new(PEOPLE);
    ou.add("objectClass", "organizationalUnit");
    source.seed(ou.clone()).unwrap();
    destination.seed(ou).unwrap();
    let h = Harness::new(&batch(), "p", source, destination, faults).unwrap();
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
