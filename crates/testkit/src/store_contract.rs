//! The contract every [`StoreBackend`] keeps, checked against a backend by [`check`]: the built-in objects are
//! seeded once, configuration updates commit or roll back whole and bump the generation only when something
//! changed, a [`StateWrite`] is all or nothing, id-map look-ups by DN ignore ASCII case, start point requests
//! settle only when unchanged, and a second handle on the same store sees each write once it has returned.
//!
//! `tests/store_backends.rs` runs it on SQLite and in memory; a new backend (PostgreSQL) runs it too.

// A check that panics with what went wrong, as a test does.
#![allow(clippy::expect_used)]

use ferrosync::config::{Config, ConfigObject};
use ferrosync::model::find_type;
use ferrosync::store::{IdMapping, StateWrite, StoreBackend};

fn record(id: &str, dn: &str, dest: &str, class: Option<&str>) -> IdMapping {
    IdMapping {
        source_id: id.into(),
        source_dn: dn.into(),
        dest_dn: dest.into(),
        digest: Some(format!("d1 {id}")),
        class: class.map(str::to_string),
        renaming_to: None,
    }
}

fn object(type_name: &str, name: &str) -> ConfigObject {
    let object_type = find_type(type_name).unwrap_or_else(|| panic!("no type {type_name}"));
    ConfigObject { object_type, names: vec![name.to_string()], variant: None, props: Default::default() }
}

/// Checks `connect`, which opens a new handle on one store that is empty when `check` starts (each call
/// another handle on the same store, as another connection to one database).
///
/// # Panics
/// When the backend breaks the contract, with what it did.
pub fn check(connect: &dyn Fn() -> Box<dyn StoreBackend>) {
    let mut a = connect();
    let mut b = connect();
    let builtins = Config::builtin();

    // Seeding: once per store, ever.
    a.seed(&builtins).expect("seed");
    let seeded = b.load().expect("load");
    assert_eq!(seeded, builtins, "{}: the first seed adds the built-in objects", a.location());
    let g0 = a.generation().expect("generation");
    let gone = builtins.objects()[0].clone();
    let without_one = Config::from_objects(seeded.objects().iter().filter(|o| **o != gone).cloned().collect());
    a.update(&mut |c| {
        *c = without_one.clone();
        true
    })
    .expect("update");
    b.seed(&builtins).expect("seed again");
    assert_eq!(a.load().expect("load"), without_one, "a second seed must not bring back a deleted built-in");
    assert_eq!(b.generation().expect("generation"), g0 + 1, "a committed change bumps the generation once");

    // Updates: a rolled-back or empty change writes nothing; a committed one is seen by the other handle, with
    // the objects in the order they were created.
    let before = a.load().expect("load");
    a.update(&mut |c| {
        *c = Config::from_objects(vec![]);
        false
    })
    .expect("rolled back update");
    assert_eq!(b.load().expect("load"), before, "a change that returns false is rolled back");
    a.update(&mut |_| true).expect("empty update");
    assert_eq!(a.generation().expect("generation"), g0 + 1, "a change that changes nothing bumps nothing");
    let added = [object("sync-pipe", "zeta"), object("sync-pipe", "alpha")];
    a.update(&mut |c| {
        let mut objects = c.objects().to_vec();
        objects.extend(added.iter().cloned());
        *c = Config::from_objects(objects);
        true
    })
    .expect("update");
    let after = b.load().expect("load");
    let tail: Vec<&ConfigObject> = after.objects().iter().rev().take(2).rev().collect();
    assert_eq!(tail, added.iter().collect::<Vec<_>>(), "objects load in the order they were created");
    assert_eq!(b.generation().expect("generation"), g0 + 2);
    let mut renamed = added[1].clone();
    renamed.props.insert("description".into(), vec!["ünïcode, 'quotes' and \"more\"".into()]);
    a.update(&mut |c| {
        let objects = c.objects().iter().map(|o| if *o == added[1] { renamed.clone() } else { o.clone() }).collect();
        *c = Config::from_objects(objects);
        true
    })
    .expect("update");
    assert!(b.load().expect("load").objects().contains(&renamed), "a changed property is written");

    // Start points and the id map: one write is all or nothing, and visible to the other handle.
    assert_eq!(a.start_point("p").expect("start point"), None);
    let (alice, bob) = (
        record("u1", "uid=Alice,ou=People,dc=example,dc=com", "uid=alice,dc=dest", Some("staff")),
        record("u2", "uid=bob,ou=people,dc=example,dc=com", "uid=bob,dc=dest", None),
    );
    let put = [alice.clone(), bob.clone()];
    a.write_state(&StateWrite { pipe: "p", start_point: Some("cn:10"), put: &put, ..StateWrite::default() })
        .expect("write");
    assert_eq!(b.start_point("p").expect("start point").as_deref(), Some("cn:10"));
    assert_eq!(b.id_mapping("p", "u1").expect("id mapping"), Some(alice.clone()));
    assert_eq!(b.id_mapping("p", "u2").expect("id mapping"), Some(bob.clone()));
    assert_eq!(b.id_mapping("other", "u1").expect("id mapping"), None, "id maps are per pipe");
    assert_eq!(
        b.id_mapping_by_dn("p", "UID=alice,OU=people,DC=EXAMPLE,DC=com").expect("by dn"),
        Some(alice.clone()),
        "look-ups by DN ignore ASCII case"
    );
    assert_eq!(b.id_mapping_by_dn("other", &alice.source_dn).expect("by dn"), None);
    assert_eq!(b.generation().expect("generation"), g0 + 3, "progress does not bump the generation");
    // A put replaces the whole record (a digest forgotten stays forgotten); a remove removes.
    let forgotten = IdMapping { digest: None, class: None, dest_dn: "uid=alice2,dc=dest".into(), ..alice.clone() };
    let remove = ["u2".to_string()];
    a.write_state(&StateWrite {
        pipe: "p",
        start_point: Some("cn:11"),
        put: std::slice::from_ref(&forgotten),
        remove: &remove,
        bump_generation: true,
        ..StateWrite::default()
    })
    .expect("write");
    assert_eq!(b.id_mapping("p", "u1").expect("id mapping"), Some(forgotten));
    assert_eq!(b.id_mapping("p", "u2").expect("id mapping"), None);
    assert_eq!(b.start_point("p").expect("start point").as_deref(), Some("cn:11"));
    assert_eq!(b.generation().expect("generation"), g0 + 4, "a bumping write bumps the generation");
    a.write_state(&StateWrite { pipe: "p", put: &put, ..StateWrite::default() }).expect("write");
    assert_eq!(b.start_point("p").expect("start point").as_deref(), Some("cn:11"), "no start point: unchanged");

    // Rename marks: set on a record, kept by a put of another DN (an earlier change's record), ended by the
    // put of the DN it names (without ASCII case); cleared; a mark of an unknown entry adds its record; a
    // remove takes the mark with it.
    let renaming = |m: &IdMapping, to: Option<&str>| IdMapping { renaming_to: to.map(str::to_string), ..m.clone() };
    let intent = renaming(&alice, Some("uid=Alice3,dc=dest"));
    a.write_state(&StateWrite { pipe: "p", rename_intent: Some(&intent), ..StateWrite::default() }).expect("mark");
    assert_eq!(b.id_mapping("p", "u1").expect("id mapping"), Some(intent.clone()), "a mark sets renaming_to only");
    let earlier = IdMapping { digest: Some("d2".into()), renaming_to: None, ..alice.clone() };
    a.write_state(&StateWrite { pipe: "p", put: std::slice::from_ref(&earlier), ..StateWrite::default() })
        .expect("put");
    assert_eq!(
        b.id_mapping("p", "u1").expect("id mapping"),
        Some(renaming(&earlier, Some("uid=Alice3,dc=dest"))),
        "a put of another DN keeps the mark"
    );
    let done = IdMapping { dest_dn: "UID=alice3,DC=DEST".into(), ..alice.clone() };
    a.write_state(&StateWrite { pipe: "p", put: std::slice::from_ref(&done), ..StateWrite::default() }).expect("put");
    assert_eq!(b.id_mapping("p", "u1").expect("id mapping"), Some(done.clone()), "the rename's own put ends it");
    a.write_state(&StateWrite { pipe: "p", rename_intent: Some(&intent), ..StateWrite::default() }).expect("mark");
    let refused = renaming(&intent, None);
    a.write_state(&StateWrite { pipe: "p", rename_intent: Some(&refused), ..StateWrite::default() }).expect("unmark");
    assert_eq!(b.id_mapping("p", "u1").expect("id mapping"), Some(done), "an unmark clears the mark only");
    let unknown = renaming(&record("u9", "uid=carol,dc=example,dc=com", "uid=carol,dc=dest", Some("staff")), None);
    a.write_state(&StateWrite { pipe: "p", rename_intent: Some(&unknown), ..StateWrite::default() }).expect("unmark");
    assert_eq!(b.id_mapping("p", "u9").expect("id mapping"), None, "unmarking an unknown entry adds nothing");
    let unknown = renaming(&unknown, Some("uid=carol2,dc=dest"));
    a.write_state(&StateWrite { pipe: "p", rename_intent: Some(&unknown), ..StateWrite::default() }).expect("mark");
    assert_eq!(b.id_mapping("p", "u9").expect("id mapping"), Some(unknown), "marking an unknown entry adds it");
    let remove = ["u9".to_string()];
    a.write_state(&StateWrite { pipe: "p", remove: &remove, ..StateWrite::default() }).expect("remove");
    assert_eq!(b.id_mapping("p", "u9").expect("id mapping"), None);

    // Provisional records (creates about to be made): added where the id map holds none, never replacing one.
    let known_now = b.id_mapping("p", "u1").expect("id mapping");
    let fresh = record("u7", "uid=dave,dc=example,dc=com", "uid=dave,dc=dest", Some("staff"));
    let over = IdMapping { dest_dn: "uid=elsewhere,dc=dest".into(), ..alice.clone() };
    let provisional = [fresh.clone(), over];
    a.write_state(&StateWrite { pipe: "p", provisional: &provisional, ..StateWrite::default() }).expect("provisional");
    assert_eq!(b.id_mapping("p", "u7").expect("id mapping"), Some(fresh), "a provisional record is added");
    assert_eq!(b.id_mapping("p", "u1").expect("id mapping"), known_now, "a provisional record replaces nothing");
    a.write_state(&StateWrite { pipe: "q", provisional: &provisional[..1], ..StateWrite::default() })
        .expect("provisional");
    assert!(b.id_mapping("q", "u7").expect("id mapping").is_some(), "provisional records are kept per pipe");
    a.clear_id_map("q").expect("clear");
    // A record put down before a create: marked as such, and any put of the entry ends the mark (the create's
    // own, or the record of the entry the create met elsewhere).
    let before = [record("u8", "uid=erin,dc=example,dc=com", "uid=erin,dc=dest", Some("staff")).before_create()];
    a.write_state(&StateWrite { pipe: "p", provisional: &before, ..StateWrite::default() }).expect("provisional");
    let held = b.id_mapping("p", "u8").expect("id mapping").expect("a provisional record");
    assert!(held.creating(), "the mark of a create under way is kept: {held:?}");
    let met = [IdMapping { dest_dn: "uid=Erin,ou=elsewhere,dc=dest".into(), ..before[0].clone() }];
    a.write_state(&StateWrite { pipe: "p", put: &met, ..StateWrite::default() }).expect("put");
    let put = b.id_mapping("p", "u8").expect("id mapping").expect("the record");
    assert_eq!(
        (put.dest_dn.as_str(), put.renaming_to),
        ("uid=Erin,ou=elsewhere,dc=dest", None),
        "a put ends a create's mark"
    );

    a.clear_id_map("p").expect("clear");
    assert_eq!(b.id_mapping("p", "u1").expect("id mapping"), None);
    assert_eq!(b.start_point("p").expect("start point").as_deref(), Some("cn:11"), "clearing keeps the start point");

    // Server values, prefixes (with LIKE's wildcards in them) and settled requests.
    a.set_server_value("req:p", Some("cn:20")).expect("set");
    a.set_server_value("req:q", Some("cn:30")).expect("set");
    a.set_server_value("reqXp", Some("not a request")).expect("set");
    a.set_server_value("r%_", Some("wild")).expect("set");
    assert_eq!(
        b.server_values("req:").expect("values"),
        vec![("req:p".to_string(), "cn:20".to_string()), ("req:q".to_string(), "cn:30".to_string())]
    );
    assert_eq!(b.server_values("r%").expect("values"), vec![("r%_".to_string(), "wild".to_string())]);
    // A request replaced before it is applied stays; one applied as it was goes.
    a.set_server_value("req:p", Some("cn:21")).expect("set");
    b.write_state(&StateWrite {
        pipe: "p",
        start_point: Some("cn:20"),
        settle: Some(("req:p", "cn:20")),
        ..StateWrite::default()
    })
    .expect("write");
    assert_eq!(a.server_value("req:p").expect("value").as_deref(), Some("cn:21"));
    b.write_state(&StateWrite {
        pipe: "p",
        start_point: Some("cn:21"),
        settle: Some(("req:p", "cn:21")),
        ..StateWrite::default()
    })
    .expect("write");
    assert_eq!(a.server_value("req:p").expect("value"), None);
    assert_eq!(a.start_point("p").expect("start point").as_deref(), Some("cn:21"));
    a.set_server_value("req:q", None).expect("remove");
    assert_eq!(b.server_value("req:q").expect("value"), None);

    // Counters.
    a.set_stats("zeta", "{\"applied\":1}").expect("stats");
    a.set_stats("alpha", "{\"applied\":2}").expect("stats");
    a.set_stats("zeta", "{\"applied\":3}").expect("stats");
    let stats = b.all_stats().expect("stats");
    let names: Vec<(&str, &str)> = stats.iter().map(|s| (s.pipe.as_str(), s.stats.as_str())).collect();
    assert_eq!(names, vec![("alpha", "{\"applied\":2}"), ("zeta", "{\"applied\":3}")]);
    assert!(stats.iter().all(|s| s.updated.len() >= 19 && s.updated.contains('T')), "{stats:?}");
    a.clear_stats().expect("clear");
    assert!(b.all_stats().expect("stats").is_empty());

    topology(&mut *a, &mut *b);
}

/// Servers and leases: one holder per pipe, a renewal keeps the epoch, a takeover after expiry takes the next
/// one, and a write under a lost lease is refused whole.
fn topology(a: &mut dyn StoreBackend, b: &mut dyn StoreBackend) {
    use std::time::Duration;
    let at = a.location();
    a.heartbeat("sync1", 1, "host one").expect("heartbeat");
    b.heartbeat("sync2", 2, "host two").expect("heartbeat");
    a.heartbeat("sync1", 0, "host one again").expect("heartbeat");
    let t = b.topology().expect("topology");
    let names: Vec<(&str, i64, &str)> =
        t.servers.iter().map(|s| (s.name.as_str(), s.priority, s.detail.as_str())).collect();
    assert_eq!(names, vec![("sync1", 0, "host one again"), ("sync2", 2, "host two")], "{at}: servers by priority");
    assert!(
        t.servers.iter().all(|s| (t.now_ms - s.heartbeat_ms).abs() < 60_000),
        "{at}: heartbeats by the store's clock"
    );

    let long = Duration::from_secs(60);
    assert_eq!(a.acquire_lease("lp", "sync1", long).expect("acquire"), Some(1), "{at}: a new lease has epoch 1");
    assert_eq!(b.acquire_lease("lp", "sync2", long).expect("acquire"), None, "{at}: a held lease is not taken");
    assert_eq!(a.acquire_lease("lp", "sync1", long).expect("renew"), Some(1), "{at}: a renewal keeps the epoch");
    let under = |server, epoch| Some(ferrosync::store::Lease { server, epoch });
    a.write_state(&StateWrite {
        pipe: "lp",
        start_point: Some("cn:1"),
        lease: under("sync1", 1),
        ..StateWrite::default()
    })
    .expect("a write under the lease held");
    // An expired lease is taken by another server with the next epoch; the old holder's writes are refused.
    a.acquire_lease("lp", "sync1", Duration::ZERO).expect("let it expire");
    assert_eq!(
        b.acquire_lease("lp", "sync2", long).expect("take over"),
        Some(2),
        "{at}: a takeover takes the next epoch"
    );
    let put = [record("lu", "uid=lu", "uid=lu", None)];
    let refused = a.write_state(&StateWrite {
        pipe: "lp",
        start_point: Some("cn:2"),
        put: &put,
        lease: under("sync1", 1),
        ..StateWrite::default()
    });
    assert!(
        matches!(refused, Err(ferrosync::error::StoreError::LeaseLost { epoch: 1, .. })),
        "{at}: a write under a lost lease must be refused: {refused:?}"
    );
    assert_eq!(b.start_point("lp").expect("start point").as_deref(), Some("cn:1"), "{at}: nothing of it is made");
    assert_eq!(b.id_mapping("lp", "lu").expect("id map"), None, "{at}: nothing of it is made");
    assert_eq!(a.acquire_lease("lp", "sync1", long).expect("acquire"), None, "{at}: the new holder keeps it");
    b.write_state(&StateWrite {
        pipe: "lp",
        start_point: Some("cn:3"),
        lease: under("sync2", 2),
        ..StateWrite::default()
    })
    .expect("the new holder writes");
    // A release, and a server that leaves, free the lease for the next epoch.
    b.release_lease("lp", "sync1", 2).expect("a release by another server changes nothing");
    assert_eq!(a.acquire_lease("lp", "sync1", long).expect("acquire"), None);
    b.release_lease("lp", "sync2", 2).expect("release");
    assert_eq!(a.acquire_lease("lp", "sync1", long).expect("acquire"), Some(3), "{at}: a released lease is free");
    b.forget_server("sync1").expect("forget");
    let t = a.topology().expect("topology");
    assert_eq!(t.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["sync2"]);
    assert_eq!(
        t.leases.iter().map(|l| (l.pipe.as_str(), l.holder.as_deref(), l.epoch)).collect::<Vec<_>>(),
        vec![("lp", None, 3)]
    );
    assert_eq!(
        b.acquire_lease("lp", "sync2", long).expect("acquire"),
        Some(4),
        "{at}: a leaving server's leases are free"
    );
}
