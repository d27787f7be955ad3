//! resync end to end, from a real 389 Directory Server (source) to a real OpenLDAP (destination), both started
//! by tests/run.sh. Each test works in its own subtree, so the tests run in parallel on shared servers.

mod util;

use ferrosync::entry::Value;
use ferrosync_ldap::Modification;
use util::scenario::{entry, Scenario, PEOPLE_ALL};

#[tokio::test]
async fn creates_then_reports_in_sync_then_repairs_differences() {
    let s = Scenario::new("basic").await;
    s.dsconfig(PEOPLE_ALL);
    for i in 0..30 {
        s.add_person(&format!("user{i}"), &[("telephoneNumber", "+1 555 0100"), ("description", "one")]).await;
    }
    let out = s.resync(&[]).ok();
    assert!(out.contains("\"0 entries were in-sync, 0 entries were modified, 30 entries were created, 0 entries are still out-of-sync, 0 entries are still missing, and 0 entries could not be processed due to an error\""), "{out}");
    assert_eq!(s.dst_count("ou=people").await, 30);
    let e = s.dst_get(&s.dn("uid=user7,ou=people")).await.unwrap();
    assert_eq!(e.texts("telephoneNumber"), vec!["+1 555 0100"]);
    assert!(e.get("nsUniqueId").is_none(), "operational attributes are not copied");

    let out = s.resync(&[]).ok();
    assert!(out.contains("\"30 entries were in-sync, 0 entries were modified, 0 entries were created"), "{out}");

    // Change, add and remove values at the source.
    let dn = s.dn("uid=user3,ou=people");
    s.src
        .modify(
            &dn,
            &[
                Modification::Replace("telephoneNumber".into(), vec![Value::from("+1 555 0199")]),
                Modification::Add("description".into(), vec![Value::from("two")]),
                Modification::Add("title".into(), vec![Value::from("Engineer")]),
            ],
        )
        .await
        .unwrap();
    s.src.modify(&s.dn("uid=user4,ou=people"), &[Modification::Delete("description".into(), vec![])]).await.unwrap();
    let out = s.resync(&[]).ok();
    assert!(out.contains("\"28 entries were in-sync, 2 entries were modified, 0 entries were created"), "{out}");
    let e = s.dst_get(&dn).await.unwrap();
    assert_eq!(e.texts("telephoneNumber"), vec!["+1 555 0199"]);
    let mut d = e.texts("description");
    d.sort();
    assert_eq!(d, vec!["one", "two"]);
    assert_eq!(e.texts("title"), vec!["Engineer"]);
    assert!(s.dst_get(&s.dn("uid=user4,ou=people")).await.unwrap().get("description").is_none());
    // A value that differs only in case is in sync.
    s.dst.modify(&dn, &[Modification::Replace("title".into(), vec![Value::from("ENGINEER")])]).await.unwrap();
    let out = s.resync(&["--sourceSearchFilter", "(uid=user3)"]).ok();
    assert!(out.contains("\"1 entries were in-sync"), "{out}");
}

#[tokio::test]
async fn attribute_and_dn_mappings() {
    let s = Scenario::new("mappings").await;
    s.dsconfig(
        "dsconfig create-dn-map --map-name people-to-staff --set \"from-dn-pattern:*,ou=people,BASE\" --set \"to-dn-pattern:uid={uid},ou=staff,BASE\"\n\
         dsconfig create-attribute-map --map-name m\n\
         dsconfig create-attribute-mapping --map-name m --mapping-name mail --type constructed \
             --set \"conditional-value-pattern:(mail=*) : {mail}\" --set \"value-pattern:{givenName:/^(.).*/$1/}{sn}@example.com\"\n\
         dsconfig create-attribute-mapping --map-name m --mapping-name employeeNumber --type direct --set from-attribute:uid\n\
         dsconfig create-attribute-mapping --map-name m --mapping-name description --type constructed --set \"value-pattern:{{\\\"name\\\":\\\"{cn:jsonEscape}\\\"}}\"\n\
         dsconfig create-attribute-mapping --map-name m --mapping-name displayName --type constructed --set \"value-pattern:{sn}, {givenName}\"\n\
         dsconfig create-sync-class --pipe-name p --class-name people --set include-base-dn:ou=people,BASE \
             --set dn-map:people-to-staff --set attribute-map:m \
             --set auto-mapped-source-attribute:objectClass --set auto-mapped-source-attribute:uid --set auto-mapped-source-attribute:cn \
             --set auto-mapped-source-attribute:sn --set auto-mapped-source-attribute:givenName --set auto-mapped-source-attribute:telephoneNumber \
             --set excluded-auto-mapped-source-attributes:telephoneNumber \
             --set destination-correlation-attributes:dn\n",
    );
    s.add_person(
        "jdoe",
        &[("cn", "John \"JD\" Doe"), ("givenName", "John"), ("telephoneNumber", "1"), ("title", "not mapped")],
    )
    .await;
    s.add_person("asmith", &[("givenName", "Anna"), ("mail", "anna@corp.example")]).await;
    let run = s.resync(&[]);
    let out = run.stdout();
    assert!(out.contains("2 entries were created"), "{out}\n{}", s.log());
    let e = s.dst_get(&s.dn("uid=jdoe,ou=staff")).await.expect("mapped to ou=staff");
    assert_eq!(e.texts("mail"), vec!["JTester@example.com"]);
    assert_eq!(e.texts("employeeNumber"), vec!["jdoe"]);
    let desc = e.texts("description");
    assert_eq!(desc.len(), 1);
    let json: serde_json::Value = serde_json::from_str(&desc[0]).unwrap();
    assert!(json["name"].as_str().unwrap().contains("\"JD\""), "{desc:?}");
    assert_eq!(e.texts("displayName"), vec!["Tester, John"]);
    assert!(e.get("telephoneNumber").is_none(), "excluded");
    assert!(e.get("title").is_none(), "not auto-mapped");
    let a = s.dst_get(&s.dn("uid=asmith,ou=staff")).await.unwrap();
    assert_eq!(a.texts("mail"), vec!["anna@corp.example"], "the conditional pattern wins");
    assert_eq!(s.dst_count("ou=people").await, 0);
}

#[tokio::test]
async fn group_members_are_mapped_through_a_dn_map() {
    let s = Scenario::new("groups").await;
    s.dsconfig(
        "dsconfig create-dn-map --map-name people --set \"from-dn-pattern:*,ou=people,BASE\" --set \"to-dn-pattern:{1},ou=staff,BASE\"\n\
         dsconfig create-dn-map --map-name same --set \"from-dn-pattern:**,BASE\" --set \"to-dn-pattern:{1},BASE\"\n\
         dsconfig create-attribute-map --map-name g\n\
         dsconfig create-attribute-mapping --map-name g --mapping-name member --type dn --set from-attribute:member --set dn-map:people\n\
         dsconfig create-sync-class --pipe-name p --class-name people --set evaluation-order-index:1 --set include-base-dn:ou=people,BASE --set dn-map:people\n\
         dsconfig create-sync-class --pipe-name p --class-name groups --set evaluation-order-index:2 --set include-base-dn:ou=groups,BASE \
             --set dn-map:same --set attribute-map:g --set destination-correlation-attributes:dn\n",
    );
    let a = s.add_person("ga", &[]).await;
    let b = s.add_person("gb", &[]).await;
    let group = s.dn("cn=team,ou=groups");
    s.src
        .add(&entry(&group, &[("objectClass", "groupOfNames"), ("cn", "team"), ("member", &a), ("member", &b)]))
        .await
        .unwrap();
    let out = s.resync(&[]).ok();
    assert!(out.contains("3 entries were created"), "{out}");
    let g = s.dst_get(&group).await.unwrap();
    let mut members = g.texts("member");
    members.sort();
    assert_eq!(members, vec![s.dn("uid=ga,ou=staff"), s.dn("uid=gb,ou=staff")]);
    // Membership change at the source.
    s.src.modify(&group, &[Modification::Delete("member".into(), vec![Value::from(b.as_str())])]).await.unwrap();
    s.resync(&[]).ok();
    assert_eq!(s.dst_get(&group).await.unwrap().texts("member"), vec![s.dn("uid=ga,ou=staff")]);
}

#[tokio::test]
async fn correlation_renames_moves_and_reports_conflicts() {
    let s = Scenario::new("correlation").await;
    s.dsconfig(
        "dsconfig create-sync-class --pipe-name p --class-name people --set include-base-dn:ou=people,BASE \
             --set include-filter:(uid=*) \
             --set destination-correlation-attributes:dn,uid --set destination-correlation-attributes:uid\n",
    );
    // At the destination the entry lives elsewhere, under another RDN: correlation by uid finds it.
    let src_dn = s.add_person("mover", &[("description", "x")]).await;
    let old = s.dn("cn=Old Name,ou=staff");
    s.dst
        .add(&entry(&old, &[("objectClass", "inetOrgPerson"), ("uid", "mover"), ("cn", "Old Name"), ("sn", "Tester")]))
        .await
        .unwrap();
    // Two destination entries share a uid: correlation by uid is ambiguous.
    s.add_person("twin", &[]).await;
    for cn in ["twin1", "twin2"] {
        s.dst
            .add(&entry(
                &s.dn(&format!("cn={cn},ou=staff")),
                &[("objectClass", "inetOrgPerson"), ("uid", "twin"), ("cn", cn), ("sn", "T")],
            ))
            .await
            .unwrap();
    }
    let run = s.resync(&[]);
    let out = run.stdout();
    assert_eq!(run.code(), 1, "an error makes resync exit 1: {out}");
    assert!(out.contains("1 entries were modified, 0 entries were created"), "{out}\n{}", s.log());
    assert!(out.contains("and 1 entries could not be processed due to an error"), "{out}");
    assert!(s.dst_get(&old).await.is_none(), "renamed and moved");
    let moved = s.dst_get(&src_dn).await.unwrap();
    assert_eq!(moved.texts("description"), vec!["x"]);
    let failed = std::fs::read_to_string(s.root.path().join("logs/resync-failed-DNs.log")).unwrap();
    assert!(failed.contains("multiple-matches-found"), "{failed}");
    assert!(failed.contains(&format!("dn: {}", s.dn("uid=twin,ou=people"))), "{failed}");
    let log = std::fs::read_to_string(s.root.path().join("logs/tools/resync.log")).unwrap();
    assert!(log.contains("cn=twin1") && log.contains("cn=twin2"), "the log names the matches: {log}");
}

#[tokio::test]
async fn dry_run_changes_nothing_and_creates_can_be_off() {
    let s = Scenario::new("dryrun").await;
    s.dsconfig(PEOPLE_ALL);
    for i in 0..5 {
        s.add_person(&format!("d{i}"), &[]).await;
    }
    let out = s.resync(&["--dry-run"]).ok();
    assert!(out.starts_with("Dry run: nothing was changed."), "{out}");
    assert!(out.contains("5 entries are still missing"), "{out}");
    assert_eq!(s.dst_count("ou=people").await, 0);
    s.resync(&["--sourceSearchFilter", "(uid=d0)"]).ok();
    s.src
        .modify(&s.dn("uid=d0,ou=people"), &[Modification::Replace("sn".into(), vec![Value::from("Changed")])])
        .await
        .unwrap();
    let out = s.resync(&["--dry-run", "--sourceSearchFilter", "(uid=d0)"]).ok();
    assert!(out.contains("1 entries are still out-of-sync"), "{out}");
    assert_eq!(s.dst_get(&s.dn("uid=d0,ou=people")).await.unwrap().texts("sn"), vec!["Tester"]);
    // A class that does not synchronize creates leaves missing entries missing.
    s.dsconfig("dsconfig set-sync-class-prop --pipe-name p --class-name people --set synchronize-creates:false\n");
    let out = s.resync(&[]).ok();
    assert!(out.contains("1 entries were modified, 0 entries were created"), "{out}");
    assert_eq!(s.dst_count("ou=people").await, 1);
}

#[tokio::test]
async fn input_file_exclusions_and_failed_dns() {
    let s = Scenario::new("inputfile").await;
    s.dsconfig(PEOPLE_ALL);
    let a = s.add_person("in1", &[("description", "src")]).await;
    let b = s.add_person("in2", &[]).await;
    s.add_person("in3", &[]).await;
    let list = s.root.write("dns.ldif", &format!("# two of three\ndn: {a}\n\ndn: {b}\n"));
    let out = s.resync(&["--sourceInputFile", list.to_str().unwrap()]).ok();
    assert!(out.contains("2 entries were created"), "{out}");
    assert_eq!(s.dst_count("ou=people").await, 2);
    // --excludeDestinationAttr keeps the destination's value.
    s.dst.modify(&a, &[Modification::Replace("description".into(), vec![Value::from("dst")])]).await.unwrap();
    let out = s.resync(&["--sourceInputFile", list.to_str().unwrap(), "--excludeDestinationAttr", "description"]).ok();
    assert!(out.contains("2 entries were in-sync"), "{out}");
    assert_eq!(s.dst_get(&a).await.unwrap().texts("description"), vec!["dst"]);
    // An entry the destination refuses (no such object class there) fails, and its DN goes to the failed list.
    let bad = s.dn("uid=bad,ou=people");
    s.src
        .add(&entry(
            &bad,
            &[
                ("objectClass", "inetOrgPerson"),
                ("objectClass", "nsPerson"),
                ("uid", "bad"),
                ("cn", "bad"),
                ("sn", "x"),
                ("displayName", "bad"),
            ],
        ))
        .await
        .unwrap();
    let run = s.resync(&[]);
    assert_eq!(run.code(), 1);
    let failed_path = s.root.path().join("logs/resync-failed-DNs.log");
    let failed = std::fs::read_to_string(&failed_path).unwrap();
    assert!(failed.contains(&format!("dn: {bad}")), "{failed}");
    let out = run.stdout();
    assert!(out.contains("--sourceInputFile"), "{out}");
    // Fix the cause (drop the class at the source), then retry only the failures.
    s.src.modify(&bad, &[Modification::Delete("objectClass".into(), vec![Value::from("nsPerson")])]).await.unwrap();
    let out = s.resync(&["--sourceInputFile", failed_path.to_str().unwrap()]).ok();
    assert!(out.contains("1 entries were created"), "{out}");
    assert!(!failed_path.exists(), "no failures left");
}

#[tokio::test]
async fn rate_limit_and_several_passes() {
    let s = Scenario::new("rate").await;
    s.dsconfig(PEOPLE_ALL);
    for i in 0..12 {
        s.add_person(&format!("r{i}"), &[]).await;
    }
    let rate_file = s.root.write("rate", "8\n");
    let started = std::time::Instant::now();
    let out = s.resync(&["--ratePerSecondFile", rate_file.to_str().unwrap(), "--numPasses", "2"]).ok();
    // 12 entries at 8 per second cannot take less than a second: the limit is a lower bound on the time.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000), "{:?}", started.elapsed());
    assert!(out.contains("12 entries were created"), "{out}");
    assert!(!out.contains("Pass 2"), "a second pass runs only when the first had failures: {out}");
}

#[tokio::test]
async fn fails_over_to_the_second_destination_server() {
    let s = Scenario::new("failover").await;
    s.dsconfig(&format!(
        "dsconfig create-external-server --server-name down --type generic-ldap --set server-host-name:127.0.0.1 --set server-port:1 \
             --set \"bind-dn:{}\" --set \"password:{}\" --set \"connect-timeout:2 s\"\n\
         dsconfig set-sync-destination-prop --destination-name dst --set server:down --add server:openldap\n{PEOPLE_ALL}",
        s.dst_server.bind_dn, s.dst_server.bind_pw
    ));
    for i in 0..3 {
        s.add_person(&format!("f{i}"), &[]).await;
    }
    let out = s.resync(&[]).ok();
    assert!(out.contains("3 entries were created"), "{out}");
}

#[tokio::test]
async fn clear_errors_for_unreachable_servers_wrong_passwords_and_unknown_pipes() {
    let s = Scenario::new("errors").await;
    s.dsconfig(PEOPLE_ALL);
    s.add_person("e1", &[]).await;
    let err = s.root.run("resync", &["--pipe-name", "nope"]).fails();
    assert!(err.contains("error: there is no sync pipe 'nope' (existing: p)"), "{err}");
    s.dsconfig("dsconfig set-external-server-prop --server-name openldap --set password:wrong-password\n");
    let err = s.resync(&[]).fails();
    assert!(err.contains("the bind DN or password for LDAP server openldap"), "{err}");
    assert!(!err.contains("wrong-password"), "{err}");
    s.dsconfig(
        "dsconfig set-external-server-prop --server-name openldap --set server-port:2 --set \"connect-timeout:2 s\"\n",
    );
    let err = s.resync(&[]).fails();
    assert!(err.contains("cannot connect to LDAP server openldap (127.0.0.1:2)"), "{err}");
}

#[tokio::test]
async fn deletes_destination_entries_whose_source_is_gone_when_asked() {
    let s = Scenario::new("deletes").await;
    s.dsconfig(PEOPLE_ALL);
    s.add_person("keep", &[]).await;
    s.resync(&[]).ok();
    let orphan = s.dn("uid=orphan,ou=people");
    s.dst
        .add(&entry(&orphan, &[("objectClass", "inetOrgPerson"), ("uid", "orphan"), ("cn", "o"), ("sn", "o")]))
        .await
        .unwrap();
    s.resync(&[]).ok();
    assert!(s.dst_get(&orphan).await.is_some(), "off by default");
    let out = s.resync(&["--deleteMissingEntries", "--dry-run"]).ok();
    assert!(out.contains("deleted 1"), "{out}");
    assert!(s.dst_get(&orphan).await.is_some(), "a dry run deletes nothing");
    s.resync(&["--deleteMissingEntries"]).ok();
    assert!(s.dst_get(&orphan).await.is_none());
    assert!(s.dst_get(&s.dn("uid=keep,ou=people")).await.is_some());
    assert!(s.dst_get(&s.dn("ou=people")).await.is_some(), "containers out of the classes' scope stay");
}
