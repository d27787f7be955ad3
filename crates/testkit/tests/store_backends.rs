//! Every store backend keeps the contract of [`ferrosync::store::StoreBackend`] (see
//! `ferrosync_testkit::store_contract`), and a [`Store`] works the same over each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrosync::store::{
    IdMapping, MemoryBackend, PostgresBackend, PostgresUrl, ServerRoot, SqliteBackend, Store, StoreBackend,
    StoreLocation,
};
use ferrosync_testkit::{postgres, store_contract};

#[test]
fn sqlite_keeps_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.db");
    store_contract::check(&|| Box::new(SqliteBackend::open(&path).unwrap()) as Box<dyn StoreBackend>);
}

/// On the real PostgreSQL of tests/run.sh (`FERROSYNC_TEST_POSTGRES_URL`; missing, the test fails), in a
/// schema of its own; over plain TCP and over TLS checked against the server's CA (`verify-full`).
#[test]
fn postgresql_keeps_the_store_contract() {
    let url = postgres::fresh_url("contract");
    store_contract::check(&|| Box::new(PostgresBackend::open(&url).unwrap()) as Box<dyn StoreBackend>);
    let ca = std::env::var("FERROSYNC_TEST_POSTGRES_CA_FILE").expect("FERROSYNC_TEST_POSTGRES_CA_FILE (tests/run.sh)");
    let tls = PostgresUrl::parse(&format!("{}&sslmode=verify-full&sslrootcert={ca}", postgres::fresh_url_text("tls")))
        .unwrap();
    store_contract::check(&|| Box::new(PostgresBackend::open(&tls).unwrap()) as Box<dyn StoreBackend>);
}

/// A look-up by DN uses the index that ignores ASCII case; a second handle opening the migrated schema
/// migrates nothing; a Store over PostgreSQL seeds once and shows its URL (never a password) as its location.
#[test]
fn postgresql_store_opens_migrated_and_seeded_once() {
    let url = postgres::fresh_url("store");
    let dir = tempfile::tempdir().unwrap();
    let root = ServerRoot::new(dir.path()).with_store(StoreLocation::Postgres(url.clone()));
    let one = Store::open(&root).unwrap();
    let two = Store::open(&root).unwrap();
    assert_eq!(two.location(), url.to_string());
    assert_eq!(two.load().unwrap().all("trust-manager-provider").len(), 4, "seeded once");
    assert!(!root.db_path().exists(), "no SQLite file is made for a PostgreSQL store");
    drop(one);
    let e = match Store::open(
        &ServerRoot::new(dir.path())
            .with_store(StoreLocation::parse(&url.to_string().replace("ferrosync@", "nobody@")).unwrap()),
    ) {
        Ok(_) => panic!("a role the password file has no line for"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("no line matches") && e.contains("nobody"), "{e}");
}

#[test]
fn memory_keeps_the_store_contract() {
    let shared = MemoryBackend::new();
    store_contract::check(&|| Box::new(shared.clone()) as Box<dyn StoreBackend>);
}

/// The engine's view: a [`Store`] over the memory backend seeds, updates and records progress like the SQLite
/// one, and two stores on one backend see each other.
#[test]
fn a_store_over_memory_is_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = ServerRoot::new(dir.path());
    let shared = MemoryBackend::new();
    let mut one = Store::with_backend(&root, Box::new(shared.clone())).unwrap();
    let two = Store::with_backend(&root, Box::new(shared)).unwrap();
    assert_eq!(two.location(), "memory");
    assert_eq!(two.load().unwrap().all("trust-manager-provider").len(), 4, "seeded once");
    let g = two.generation().unwrap();
    let failed: Result<(), ferrosync::error::StoreError> = one.update(|c, _| {
        *c = ferrosync::config::Config::from_objects(vec![]);
        Err(ferrosync::error::StoreError::WriterStopped)
    });
    assert!(failed.is_err());
    assert_eq!(two.load().unwrap().all("trust-manager-provider").len(), 4, "an Err writes nothing");
    let m = IdMapping {
        source_id: "u1".into(),
        source_dn: "uid=a,dc=src".into(),
        dest_dn: "uid=a,dc=dst".into(),
        digest: None,
        class: Some("people".into()),
        renaming_to: None,
    };
    one.record_progress("p", "cn:5", std::slice::from_ref(&m), &[]).unwrap();
    assert_eq!(two.start_point("p").unwrap().as_deref(), Some("cn:5"));
    assert_eq!(two.id_mapping_by_dn("p", "UID=A,DC=SRC").unwrap(), Some(m));
    two.request_start_point("p", "cn:9").unwrap();
    assert_eq!(one.start_point_requests().unwrap(), vec![("p".to_string(), "cn:9".to_string())]);
    one.apply_start_point_request("p", "cn:9").unwrap();
    assert_eq!(two.start_point_requested("p").unwrap(), None);
    assert_eq!(two.start_point("p").unwrap().as_deref(), Some("cn:9"));
    one.set_start_point("p", "cn:10").unwrap();
    assert_eq!(two.generation().unwrap(), g + 1, "a start point set from outside bumps the generation");
}

/// Servers racing for the lease of a new pipe on one PostgreSQL store: exactly one gets it, every time; and once
/// it lapses, exactly one of the others takes it over, with the next epoch.
#[test]
fn postgresql_gives_a_pipes_lease_to_exactly_one_of_many_racing_servers() {
    use std::sync::{Arc, Barrier};
    use std::time::Duration;
    let url = postgres::fresh_url("leases");
    PostgresBackend::open(&url).unwrap().seed(&ferrosync::config::Config::builtin()).unwrap();
    for round in 0..3 {
        let pipe = format!("race{round}");
        let racers = 8;
        let barrier = Arc::new(Barrier::new(racers));
        let race = |ttl: Duration, first: bool| {
            let handles: Vec<_> = (0..racers)
                .map(|i| {
                    let (url, barrier, pipe) = (url.clone(), barrier.clone(), pipe.clone());
                    std::thread::spawn(move || {
                        let mut b = PostgresBackend::open(&url).unwrap();
                        barrier.wait();
                        (i, b.acquire_lease(&pipe, &format!("s{i}-{first}"), ttl).unwrap())
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| {
                    let (i, e) = h.join().unwrap();
                    e.map(|e| (i, e))
                })
                .collect::<Vec<(usize, i64)>>()
        };
        let won = race(Duration::from_secs(2), true);
        assert_eq!(won.len(), 1, "round {round}: one server gets a new pipe's lease: {won:?}");
        assert_eq!(won[0].1, 1);
        // Once its lease has lapsed, exactly one of a second set of servers takes it, in epoch 2.
        std::thread::sleep(Duration::from_millis(2100));
        let won = race(Duration::from_secs(60), false);
        assert_eq!(won.len(), 1, "round {round}: one server takes a lapsed lease over: {won:?}");
        assert_eq!(won[0].1, 2);
    }
}
