//! Active Directory end to end, against the real Samba AD domain controller that tests/run.sh starts
//! (`FERROSYNC_TEST_AD_*`) and OpenLDAP (`FERROSYNC_TEST_OPENLDAP_*`): the DirSync source (real-time and
//! resync), and the AD destination with passwords.
#![allow(clippy::unwrap_used)]

mod util;

use std::time::Duration;

use ferrosync::entry::{Entry, Value};
use ferrosync_ldap::{LdapClient, Modification, Scope};
use util::scenario::entry;
use util::{eventually, unique, Root, Server, ServerGuard};

const WAIT: Duration = Duration::from_secs(30);

/// The test's two subtrees: `OU=<t>,<domain>` at Samba with `OU=people` and `OU=groups`, and `ou=<t>,<base>` at
/// OpenLDAP with `ou=people` and `ou=groups`; a root with the external servers `ad` and `openldap`.
struct World {
    root: Root,
    ad: LdapClient,
    ldap: LdapClient,
    ad_server: Server,
    /// `OU=<t>,DC=samdom,...`.
    ad_base: String,
    /// `ou=<t>,dc=example,dc=com`.
    base: String,
    /// A suffix that makes `sAMAccountName`s unique in the domain (20 characters at most).
    sfx: String,
}

/// The AD → OpenLDAP mapping: users of `OU=people` become inetOrgPersons, groups of `OU=groups` become
/// groupOfNames whose members are mapped through the people DN map.
const AD_TO_LDAP: &str = "\
dsconfig create-dn-map --map-name ad-people --set \"from-dn-pattern:*,OU=people,ADBASE\" --set \"to-dn-pattern:{1},ou=people,BASE\"
dsconfig create-dn-map --map-name ad-groups --set \"from-dn-pattern:*,OU=groups,ADBASE\" --set \"to-dn-pattern:{1},ou=groups,BASE\"
dsconfig create-attribute-map --map-name ad-users
dsconfig create-attribute-mapping --map-name ad-users --mapping-name objectClass --type constructed --set value-pattern:inetOrgPerson
dsconfig create-attribute-mapping --map-name ad-users --mapping-name uid --type direct --set from-attribute:sAMAccountName
dsconfig create-attribute-mapping --map-name ad-users --mapping-name cn --type direct --set from-attribute:cn
dsconfig create-attribute-mapping --map-name ad-users --mapping-name sn --type direct --set from-attribute:sn
dsconfig create-attribute-mapping --map-name ad-users --mapping-name givenName --type direct --set from-attribute:givenName
dsconfig create-attribute-mapping --map-name ad-users --mapping-name description --type direct --set from-attribute:description
dsconfig create-attribute-map --map-name ad-grp
dsconfig create-attribute-mapping --map-name ad-grp --mapping-name objectClass --type constructed --set value-pattern:groupOfNames
dsconfig create-attribute-mapping --map-name ad-grp --mapping-name cn --type direct --set from-attribute:cn
dsconfig create-attribute-mapping --map-name ad-grp --mapping-name member --type dn --set from-attribute:member --set dn-map:ad-people
dsconfig create-sync-class --pipe-name p --class-name users --set evaluation-order-index:1 --set include-base-dn:OU=people,ADBASE \
    --set \"include-filter:(objectClass=user)\" --set attribute-map:ad-users --set dn-map:ad-people \
    --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:uid
dsconfig create-sync-class --pipe-name p --class-name groups --set evaluation-order-index:2 --set include-base-dn:OU=groups,ADBASE \
    --set \"include-filter:(objectClass=group)\" --set attribute-map:ad-grp --set dn-map:ad-groups \
    --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:dn
";

fn ad_server_lines(ad: &Server, name: &str, ldaps: bool) -> String {
    let (port, security) = if ldaps { (636, "ssl") } else { (ad.port, "none") };
    format!(
        "dsconfig create-trust-manager-provider --provider-name trust-all-{name} --type blind-trust --set enabled:true\n\
         dsconfig create-external-server --server-name {name} --type active-directory --set server-host-name:{} \
         --set server-port:{port} --set connection-security:{security} --set trust-manager-provider:trust-all-{name} \
         --set \"bind-dn:{}\" --set \"password:{}\"\n",
        ad.host, ad.bind_dn, ad.bind_pw
    )
}

impl World {
    async fn new(name: &str) -> World {
        let ad_server = Server::from_env("AD");
        let ldap_server = Server::from_env("OPENLDAP");
        let (ad, ldap) = (ad_server.client(), ldap_server.client());
        let t = unique(name);
        let ad_base = format!("OU={t},{}", ad_server.base_dn);
        let base = format!("ou={t},{}", ldap_server.base_dn);
        for (c, b) in [(&ad, &ad_base), (&ldap, &base)] {
            c.add(&entry(b, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
            for ou in ["people", "groups"] {
                c.add(&entry(&format!("ou={ou},{b}"), &[("objectClass", "organizationalUnit"), ("ou", ou)]))
                    .await
                    .unwrap();
            }
        }
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let sfx = format!("{:07x}", (nanos ^ u128::from(std::process::id()) << 20) % 0xfff_ffff);
        let w = World { root: Root::new(), ad, ldap, ad_server, ad_base, base, sfx };
        w.dsconfig(&format!(
            "{}{}\
             dsconfig create-sync-source --source-name adsrc --type active-directory --set base-dn:{} --set server:ad\n\
             dsconfig create-sync-destination --destination-name dst --type generic-ldap --set base-dn:BASE --set server:openldap\n\
             dsconfig create-sync-pipe --pipe-name p --set sync-source:adsrc --set sync-destination:dst --set \"change-detection-polling-interval:200 ms\"\n\
             {AD_TO_LDAP}",
            ad_server_lines(&w.ad_server, "ad", false),
            ldap_server.dsconfig("openldap"),
            w.ad_server.base_dn,
        ));
        w
    }

    fn dsconfig(&self, text: &str) {
        let text = text.replace("ADBASE", &self.ad_base).replace("BASE", &self.base);
        let file = self.root.write(&format!("{}.dsconfig", unique("b")), &text);
        self.root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    }

    /// Adds an AD user `CN=<cn>,OU=people,<ad base>` (disabled, no password).
    async fn add_ad_user(&self, cn: &str, extra: &[(&str, &str)]) -> String {
        let dn = format!("CN={cn},OU=people,{}", self.ad_base);
        let sam = self.sam(cn);
        let mut attrs =
            vec![("objectClass", "user"), ("sAMAccountName", sam.as_str()), ("sn", "Tester"), ("givenName", "Given")];
        attrs.extend_from_slice(extra);
        self.ad.add(&entry(&dn, &attrs)).await.unwrap();
        dn
    }

    /// The `sAMAccountName` of the user `cn` (the uid at OpenLDAP).
    fn sam(&self, cn: &str) -> String {
        format!("{cn}{}", self.sfx)
    }

    fn ldap_dn(&self, rdn: &str) -> String {
        format!("{rdn},{}", self.base)
    }

    async fn ldap_get(&self, dn: &str) -> Option<Entry> {
        self.ldap.get(dn, &["*"]).await.unwrap()
    }

    fn set_startpoint(&self, which: &str) -> String {
        self.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", which]).ok()
    }

    fn go(&self) -> ServerGuard<'_> {
        self.root.run("realtime-sync", &["start", "--pipe-name", "p"]).ok();
        ServerGuard::start(&self.root)
    }

    fn sync_log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("logs/sync")).unwrap_or_default()
    }
}

/// Adds, modifies, renames users and a group in AD, changes the group's membership and deletes a user: each
/// reaches OpenLDAP through DirSync.
#[tokio::test]
async fn dirsync_source_to_openldap() {
    let w = World::new("ad-dirsync").await;
    let out = w.set_startpoint("--end-of-changelog");
    assert!(out.contains("The startpoint has been set for Sync Pipe 'p'") && out.contains("dirsync:"), "{out}");
    let _server = w.go();
    // Add
    let alice = w.add_ad_user("alice", &[("description", "first")]).await;
    let l_alice = w.ldap_dn("CN=alice,ou=people");
    eventually("the AD user reaches OpenLDAP", WAIT, || async {
        w.ldap_get(&l_alice)
            .await
            .is_some_and(|e| e.texts("uid") == [w.sam("alice")] && e.texts("description") == ["first"])
    })
    .await;
    // Modify
    w.ad.modify(&alice, &[Modification::Replace("description".into(), vec![Value::from("second")])]).await.unwrap();
    eventually("the modify reaches OpenLDAP", WAIT, || async {
        w.ldap_get(&l_alice).await.is_some_and(|e| e.texts("description") == ["second"])
    })
    .await;
    // Rename (DirSync reports the object at its new DN; the id map, keyed by objectGUID, knows the old one)
    w.ad.modify_dn(&alice, "CN=alice2", true, None).await.unwrap();
    let alice2 = format!("CN=alice2,OU=people,{}", w.ad_base);
    let l_alice2 = w.ldap_dn("CN=alice2,ou=people");
    eventually("the rename reaches OpenLDAP", WAIT, || async {
        w.ldap_get(&l_alice2).await.is_some() && w.ldap_get(&l_alice).await.is_none()
    })
    .await;
    // A group, then a member added to it in AD: the group's own change carries the membership.
    let bob = w.add_ad_user("bob", &[]).await;
    let group = format!("CN=staff,OU=groups,{}", w.ad_base);
    w.ad.add(&entry(&group, &[("objectClass", "group"), ("sAMAccountName", &w.sam("staff")), ("member", &alice2)]))
        .await
        .unwrap();
    let l_group = w.ldap_dn("CN=staff,ou=groups");
    eventually("the group reaches OpenLDAP with its member mapped", WAIT, || async {
        w.ldap_get(&l_group).await.is_some_and(|g| {
            g.texts("member").iter().map(|m| m.to_lowercase()).collect::<Vec<_>>() == [l_alice2.to_lowercase()]
        })
    })
    .await;
    w.ad.modify(&group, &[Modification::Add("member".into(), vec![Value::from(bob.as_str())])]).await.unwrap();
    let l_bob = w.ldap_dn("CN=bob,ou=people");
    eventually("the new member reaches OpenLDAP", WAIT, || async {
        w.ldap_get(&l_group).await.is_some_and(|g| {
            let mut m: Vec<String> = g.texts("member").iter().map(|m| m.to_lowercase()).collect();
            m.sort();
            m == [l_alice2.to_lowercase(), l_bob.to_lowercase()]
        })
    })
    .await;
    // Delete: the tombstone under CN=Deleted Objects is correlated by objectGUID.
    w.ad.modify(&group, &[Modification::Delete("member".into(), vec![Value::from(bob.as_str())])]).await.unwrap();
    w.ad.delete(&bob).await.unwrap();
    eventually("the delete reaches OpenLDAP", WAIT, || async { w.ldap_get(&l_bob).await.is_none() }).await;
    let log = w.sync_log();
    assert!(log.contains("Detected DELETE") && log.contains("type=change-applied"), "{log}");
}

/// Resync reads the domain from its top (Samba answers search references there), and a delete of an entry
/// that resync copied (unknown to the id map) still finds its destination entry through its last known DN.
#[tokio::test]
async fn resync_from_the_domain_top_then_deletes() {
    let w = World::new("ad-resync").await;
    let a = w.add_ad_user("carol", &[("description", "c")]).await;
    w.add_ad_user("dave", &[]).await;
    let out = w.root.run("resync", &["--pipe-name", "p"]).ok();
    assert!(out.contains("2 entries were created"), "{out}");
    assert!(w.ldap_get(&w.ldap_dn("CN=carol,ou=people")).await.is_some_and(|e| e.texts("uid") == [w.sam("carol")]));
    w.set_startpoint("--end-of-changelog");
    let _server = w.go();
    w.ad.delete(&a).await.unwrap();
    let l_a = w.ldap_dn("CN=carol,ou=people");
    eventually("the delete reaches OpenLDAP", WAIT, || async { w.ldap_get(&l_a).await.is_none() }).await;
    assert!(w.ldap_get(&w.ldap_dn("CN=dave,ou=people")).await.is_some());
}

/// `--beginning-of-changelog` starts from an empty cookie: the objects that exist are synchronized.
#[tokio::test]
async fn beginning_of_changelog_copies_existing_objects() {
    let w = World::new("ad-begin").await;
    w.add_ad_user("erin", &[]).await;
    let out = w.set_startpoint("--beginning-of-changelog");
    assert!(out.contains("dirsync:"), "{out}");
    let err = w.root.run("realtime-sync", &["set-startpoint", "--pipe-name", "p", "--change-number", "5"]).fails();
    assert!(err.contains("DirSync") && err.contains("--end-of-changelog"), "{err}");
    let _server = w.go();
    let l = w.ldap_dn("CN=erin,ou=people");
    eventually("the existing user reaches OpenLDAP", WAIT, || async { w.ldap_get(&l).await.is_some() }).await;
    // Objects outside the sync classes (the domain's own users) are not copied.
    let n = w.ldap.search(&w.ldap_dn("ou=people"), Scope::OneLevel, "(objectClass=*)", &["1.1"]).await.unwrap();
    assert_eq!(n.len(), 1);
}
