//! Reads and writes against real OpenLDAP and 389 DS servers (see `common/mod.rs` for the environment).
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{delete_subtree, make_subtree, ou_entry, person, TestServer};
use ferrosync::entry::{Entry, Value};
use ferrosync_ldap::ldap3::controls::ManageDsaIt;
use ferrosync_ldap::{LdapClient, LdapError, Modification, Scope};

fn assert_send<T: Send>(_: &T) {}

async fn crud(server: TestServer) {
    let client = server.client();
    let root = make_subtree(&client, &server, "crud").await;
    let dn = format!("uid=alice,{root}");

    // add with binary values: jpegPhoto (not UTF-8) and userCertificate;binary (the CA's DER)
    let photo: Vec<u8> = [0xff, 0xd8, 0xff, 0x00].iter().copied().chain(0..=255u8).collect();
    let der = common::pem_to_der(&server.ca_file);
    let mut alice = person(&dn, "alice");
    alice.set("mail", vec!["alice@example.com".into(), "a@example.com".into()]);
    alice.set("telephoneNumber", vec!["+1 555 0100".into()]);
    alice.set("jpegPhoto", vec![Value::Binary(photo.clone())]);
    alice.set("userCertificate;binary", vec![Value::Binary(der.clone())]);
    let fut = client.add(&alice);
    assert_send(&fut);
    fut.await.unwrap();

    let got = client.get(&dn, &["*"]).await.unwrap().expect("alice exists");
    assert!(got.dn.eq_ignore_ascii_case(&dn), "{} vs {dn}", got.dn);
    assert_eq!(got.first_text("CN").as_deref(), Some("Test alice"));
    assert_eq!(got.values("jpegphoto"), &[Value::Binary(photo.clone())]);
    assert_eq!(
        got.values("userCertificate"),
        &[Value::Binary(der.clone())],
        "{:?}",
        got.attribute_names().collect::<Vec<_>>()
    );
    let mut mails = got.texts("mail");
    mails.sort();
    assert_eq!(mails, vec!["a@example.com", "alice@example.com"]);

    // only some attributes
    let some = client.get(&dn, &["sn", "mail"]).await.unwrap().unwrap();
    assert!(some.has("sn") && some.has("mail") && !some.has("cn"));

    // modify: add a value, delete a value, replace, add a binary value, delete a whole attribute
    let photo2 = vec![0x80, 0x81, 0x00, 0xfe];
    client
        .modify(
            &dn,
            &[
                Modification::Add("mail".into(), vec!["third@example.com".into()]),
                Modification::Delete("mail".into(), vec!["a@example.com".into()]),
                Modification::Replace("description".into(), vec!["first".into(), "second".into()]),
                Modification::Delete("telephoneNumber".into(), vec![]),
            ],
        )
        .await
        .unwrap();
    // adding a binary value: OpenLDAP refuses to add a value to an attribute without an equality rule that
    // already has values (rc=18 inappropriateMatching); replacing all values works everywhere
    let add_photo = [Modification::Add("jpegPhoto".into(), vec![Value::Binary(photo2.clone())])];
    match client.modify(&dn, &add_photo).await {
        Err(e) if server.kind == "openldap" && e.rc() == Some(18) => {
            let both = vec![Value::Binary(photo.clone()), Value::Binary(photo2.clone())];
            client.modify(&dn, &[Modification::Replace("jpegPhoto".into(), both)]).await.unwrap();
        }
        other => other.unwrap(),
    }
    let got = client.get(&dn, &[]).await.unwrap().unwrap();
    let mut mails = got.texts("mail");
    mails.sort();
    assert_eq!(mails, vec!["alice@example.com", "third@example.com"]);
    let mut desc = got.texts("description");
    desc.sort();
    assert_eq!(desc, vec!["first", "second"]);
    assert!(!got.has("telephoneNumber"));
    let photos = got.values("jpegPhoto");
    assert_eq!(photos.len(), 2);
    assert!(photos.contains(&Value::Binary(photo.clone())) && photos.contains(&Value::Binary(photo2.clone())));

    // replace of a binary value, and with nothing (= delete)
    client
        .modify(&dn, &[Modification::Replace("jpegPhoto".into(), vec![Value::Binary(photo2.clone())])])
        .await
        .unwrap();
    client.modify(&dn, &[Modification::Replace("description".into(), vec![])]).await.unwrap();
    let got = client.get(&dn, &[]).await.unwrap().unwrap();
    assert_eq!(got.values("jpegPhoto"), &[Value::Binary(photo2)]);
    assert!(!got.has("description"));

    // errors: entryAlreadyExists, noSuchAttribute, noSuchObject
    let err = client.add(&alice).await.unwrap_err();
    assert!(err.is_already_exists(), "{err}");
    assert!(matches!(err, LdapError::Result { rc: 68, .. }));
    let text = err.to_string();
    assert!(text.contains("entryAlreadyExists") && text.contains(&dn) && text.contains(server.kind), "{text}");
    let err = client
        .modify(&dn, &[Modification::Delete("mail".into(), vec!["nobody@example.com".into()])])
        .await
        .unwrap_err();
    assert_eq!(err.rc(), Some(16), "{err}");
    let missing = format!("uid=nobody,{root}");
    assert!(client.get(&missing, &[]).await.unwrap().is_none());
    assert!(client.delete(&missing).await.unwrap_err().is_no_such_object());
    assert!(client
        .modify(&missing, &[Modification::Replace("sn".into(), vec!["x".into()])])
        .await
        .unwrap_err()
        .is_no_such_object());
    assert_eq!(client.delete(&root).await.unwrap_err().rc(), Some(66)); // notAllowedOnNonLeaf
    let err = client.search(&root, Scope::Subtree, "(uid=alice", &[]).await.unwrap_err();
    assert!(matches!(err, LdapError::Request { .. }), "{err}");

    // modify DN: rename (dropping the old RDN value), then move
    client.modify_dn(&dn, "uid=alice2", true, None).await.unwrap();
    assert!(client.get(&dn, &[]).await.unwrap().is_none());
    let renamed = format!("uid=alice2,{root}");
    let got = client.get(&renamed, &["uid"]).await.unwrap().unwrap();
    assert_eq!(got.texts("uid"), vec!["alice2"]);
    let other = format!("ou=moved,{root}");
    client.add(&ou_entry(&other)).await.unwrap();
    client.modify_dn(&renamed, "uid=alice2", false, Some(&other)).await.unwrap();
    let moved = format!("uid=alice2,{other}");
    assert!(client.get(&renamed, &[]).await.unwrap().is_none());
    let got = client.get(&moved, &[]).await.unwrap().unwrap();
    assert_eq!(got.values("userCertificate"), &[Value::Binary(der)]);
    // rename keeping the old value
    client.modify_dn(&moved, "uid=alice3", false, None).await.unwrap();
    let got = client.get(&format!("uid=alice3,{other}"), &["uid"]).await.unwrap().unwrap();
    let mut uids = got.texts("uid");
    uids.sort();
    assert_eq!(uids, vec!["alice2", "alice3"]);

    // search and delete
    let found = client.search(&root, Scope::Subtree, "(objectClass=inetOrgPerson)", &["uid"]).await.unwrap();
    assert_eq!(found.len(), 1);
    client.delete(&format!("uid=alice3,{other}")).await.unwrap();
    assert!(client.search(&root, Scope::Subtree, "(objectClass=inetOrgPerson)", &[]).await.unwrap().is_empty());

    delete_subtree(&client, &root).await;
    assert!(client.get(&root, &[]).await.unwrap().is_none());
}

#[tokio::test]
async fn crud_openldap() {
    crud(common::openldap()).await;
}

#[tokio::test]
async fn crud_389() {
    crud(common::ds389()).await;
}

async fn paged_stream(server: TestServer) {
    const N: usize = 2000;
    let client = LdapClient::single(server.config().with_connections(1, 4)).unwrap();
    let root = make_subtree(&client, &server, "paged").await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..N {
        let client = client.clone();
        let dn = format!("uid=user{i:05},{root}");
        set.spawn(async move {
            let mut e = person(&dn, &format!("user{i:05}"));
            e.set("description", vec![Value::Text(format!("entry number {i}"))]);
            client.add(&e).await
        });
        if set.len() >= 16 {
            set.join_next().await.unwrap().unwrap().unwrap();
        }
    }
    while let Some(r) = set.join_next().await {
        r.unwrap().unwrap();
    }
    assert!(client.pools().next().unwrap().open_connections() <= 4);

    let mut stream = client
        .search_stream(&root, Scope::OneLevel, "(objectClass=person)", &["uid", "description"], 100)
        .await
        .unwrap();
    assert!(stream.server().contains(server.kind));
    let mut count = 0;
    let mut uids = std::collections::HashSet::new();
    while let Some(entry) = stream.next().await {
        let entry = entry.unwrap();
        assert!(entry.has("description"));
        uids.insert(entry.first_text("uid").unwrap());
        count += 1;
    }
    assert_eq!(count, N);
    assert_eq!(uids.len(), N);

    // the same with the plain search, and with a page larger than the result
    assert_eq!(client.search(&root, Scope::OneLevel, "(uid=user*)", &["1.1"]).await.unwrap().len(), N);
    let mut big = client.search_stream(&root, Scope::Subtree, "(objectClass=*)", &["1.1"], 5000).await.unwrap();
    let mut n = 0;
    while let Some(e) = big.next().await {
        e.unwrap();
        n += 1;
    }
    assert_eq!(n, N + 1);

    // dropping a stream early abandons it; the client keeps working
    let mut early = client.search_stream(&root, Scope::OneLevel, "(objectClass=person)", &[], 50).await.unwrap();
    for _ in 0..10 {
        early.next().await.unwrap().unwrap();
    }
    drop(early);
    // an empty result and a missing base
    let mut none = client.search_stream(&root, Scope::OneLevel, "(uid=nobody)", &[], 100).await.unwrap();
    assert!(none.next().await.is_none());
    let err = client
        .search_stream(&format!("ou=missing,{root}"), Scope::OneLevel, "(objectClass=*)", &[], 100)
        .await
        .err()
        .unwrap();
    assert!(err.is_no_such_object(), "{err}");
    assert!(client.get(&format!("uid=user00000,{root}"), &[]).await.unwrap().is_some());

    delete_subtree(&client, &root).await;
}

#[tokio::test]
async fn paged_stream_openldap() {
    paged_stream(common::openldap()).await;
}

#[tokio::test]
async fn paged_stream_389() {
    paged_stream(common::ds389()).await;
}

async fn root_dse(server: TestServer) {
    let client = server.client();
    assert!(client.check_bind().await.unwrap().contains(&server.port.to_string()));
    let dse = client.root_dse(&[]).await.unwrap();
    assert_eq!(dse.dn, "");
    let contexts = dse.texts("namingContexts");
    assert!(contexts.iter().any(|c| c.eq_ignore_ascii_case(&server.base_dn)), "{contexts:?}");
    assert!(dse.texts("supportedLDAPVersion").contains(&"3".to_string()));
    let some = client.root_dse(&["supportedControl"]).await.unwrap();
    assert!(some.texts("supportedControl").contains(&"1.2.840.113556.1.4.319".to_string()));
}

#[tokio::test]
async fn root_dse_openldap() {
    root_dse(common::openldap()).await;
}

#[tokio::test]
async fn root_dse_389() {
    root_dse(common::ds389()).await;
}

/// A referral object makes a subtree search return a search reference: it must be skipped, not panic.
/// The raw search with ManageDsaIT sees the object itself.
async fn references(server: TestServer) {
    let client = server.client();
    let root = make_subtree(&client, &server, "refs").await;
    client.add(&person(&format!("uid=bob,{root}"), "bob")).await.unwrap();
    let referral_dn = format!("ou=elsewhere,{root}");
    let mut referral = Entry::new(referral_dn.clone());
    referral.set("objectClass", vec!["top".into(), "referral".into(), "extensibleObject".into()]);
    referral.set("ou", vec!["elsewhere".into()]);
    referral.set("ref", vec!["ldap://ldap.example.org:389/ou=elsewhere,dc=example,dc=org".into()]);
    client
        .with_connection("add", &referral_dn, |mut ldap| {
            let attrs = ferrosync_ldap::add_attributes(&referral);
            let dn = referral_dn.clone();
            async move {
                ldap.with_controls(ManageDsaIt).add(&dn, attrs).await?.success()?;
                Ok(())
            }
        })
        .await
        .unwrap();

    let found = client.search(&root, Scope::Subtree, "(objectClass=*)", &[]).await.unwrap();
    let dns: Vec<_> = found.iter().map(|e| e.dn.to_ascii_lowercase()).collect();
    assert_eq!(found.len(), 2, "{dns:?}");
    assert!(!dns.contains(&referral_dn.to_ascii_lowercase()));
    let mut stream = client.search_stream(&root, Scope::Subtree, "(objectClass=*)", &[], 10).await.unwrap();
    let mut n = 0;
    while let Some(e) = stream.next().await {
        e.unwrap();
        n += 1;
    }
    assert_eq!(n, 2);

    let raw = client
        .search_with_controls(&root, Scope::Subtree, "(objectClass=*)", &["ref"], vec![ManageDsaIt.into()])
        .await
        .unwrap();
    assert_eq!(raw.result.rc, 0);
    let entries: Vec<_> = raw.items.into_iter().filter_map(ferrosync_ldap::entry_from_result_entry).collect();
    assert_eq!(entries.len(), 3);
    let r = entries.iter().find(|e| e.dn.eq_ignore_ascii_case(&referral_dn)).unwrap();
    assert!(r.first_text("ref").unwrap().starts_with("ldap://ldap.example.org"));

    delete_subtree(&client, &root).await;
}

#[tokio::test]
async fn references_openldap() {
    references(common::openldap()).await;
}

#[tokio::test]
async fn references_389() {
    references(common::ds389()).await;
}

/// A pooled connection that dies (here: closed by an unbind) is dropped and replaced.
#[tokio::test]
async fn dead_connection_is_reopened() {
    let server = common::openldap();
    let client = LdapClient::single(server.config().with_connections(1, 1)).unwrap();
    client.warm_up().await.unwrap();
    let pool = client.pools().next().unwrap().clone();
    assert_eq!(pool.open_connections(), 1);
    client.with_connection("unbind", "", |mut ldap| async move { ldap.unbind().await }).await.unwrap();
    for _ in 0..100 {
        if pool.open_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.open_connections(), 0);
    assert!(client.get(&server.base_dn, &[]).await.unwrap().is_some());
    assert_eq!(pool.open_connections(), 1);
}

/// Parallel operations spread over at most max_connections connections.
#[tokio::test]
async fn pool_grows_to_max_connections() {
    let server = common::ds389();
    let client = LdapClient::single(server.config().with_connections(2, 3)).unwrap();
    client.warm_up().await.unwrap();
    let pool = client.pools().next().unwrap().clone();
    assert_eq!(pool.open_connections(), 2);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let client = client.clone();
        let base = server.base_dn.clone();
        set.spawn(async move { client.search(&base, Scope::Subtree, "(objectClass=*)", &["1.1"]).await });
    }
    while let Some(r) = set.join_next().await {
        assert!(!r.unwrap().unwrap().is_empty());
    }
    let open = pool.open_connections();
    assert!((2..=3).contains(&open), "{open}");
    let status = client.status();
    assert_eq!(status.len(), 1);
    assert!(status[0].available);
    client.close().await;
    assert_eq!(pool.open_connections(), 0);
}
