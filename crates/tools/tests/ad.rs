//! Active Directory end to end, against the real Samba AD domain controller that tests/run.sh starts
//! (`FERROSYNC_TEST_AD_*`) and OpenLDAP (`FERROSYNC_TEST_OPENLDAP_*`): the DirSync source (real-time and
//! resync), and the AD destination with passwords.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::time::Duration;

use ferrosync::entry::{Entry, Value};
use ferrosync::mapping::presets::{batch_text, AdLdapPlaces, Direction};
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

/// The OpenLDAP → AD mapping: inetOrgPersons of `ou=people` become AD users named by their uid, with
/// their password as unicodePwd, enabled unless `employeeType: disabled`.
const LDAP_TO_AD: &str = "\
dsconfig create-dn-map --map-name to-ad --set \"from-dn-pattern:*,ou=people,BASE\" --set \"to-dn-pattern:CN={uid},OU=people,ADBASE\"
dsconfig create-attribute-map --map-name to-ad
dsconfig create-attribute-mapping --map-name to-ad --mapping-name objectClass --type constructed --set value-pattern:top \
    --set value-pattern:person --set value-pattern:organizationalPerson --set value-pattern:user
dsconfig create-attribute-mapping --map-name to-ad --mapping-name sAMAccountName --type direct --set from-attribute:uid
dsconfig create-attribute-mapping --map-name to-ad --mapping-name userPrincipalName --type constructed --set value-pattern:{uid}@samdom.example.com
dsconfig create-attribute-mapping --map-name to-ad --mapping-name sn --type direct --set from-attribute:sn
dsconfig create-attribute-mapping --map-name to-ad --mapping-name description --type direct --set from-attribute:description
dsconfig create-attribute-mapping --map-name to-ad --mapping-name unicodePwd --type direct --set from-attribute:userPassword
dsconfig create-attribute-mapping --map-name to-ad --mapping-name userAccountControl --type constructed \
    --set \"conditional-value-pattern:(employeeType=disabled) : 514\" --set value-pattern:512
dsconfig create-sync-class --pipe-name p --class-name people --set include-base-dn:ou=people,BASE \
    --set \"include-filter:(objectClass=inetOrgPerson)\" --set attribute-map:to-ad --set dn-map:to-ad \
    --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:sAMAccountName
";

impl World {
    /// A world whose pipe `p` reads OpenLDAP's accesslog and writes to AD (over LDAPS when `ldaps`).
    async fn to_ad(name: &str, ldaps: bool) -> World {
        World::to_ad_from("OPENLDAP", name, ldaps, LDAP_TO_AD).await
    }

    /// The same from `OPENLDAP` (its accesslog) or `389` (its retro changelog), with the sync classes and
    /// maps of `mapping`.
    async fn to_ad_from(prefix: &str, name: &str, ldaps: bool, mapping: &str) -> World {
        let w = World::bare_at(prefix, name).await;
        let ldap_server = Server::from_env(prefix);
        let (kind, uid, server) = match prefix {
            "389" => ("generic-ldap", "nsUniqueId", "ds389"),
            _ => ("openldap", "entryUUID", "openldap"),
        };
        w.dsconfig(&format!(
            "{}{}\
             dsconfig create-sync-source --source-name ldapsrc --type {kind} --set base-dn:BASE --set server:{server} --set unique-id-attribute:{uid}\n\
             dsconfig create-sync-destination --destination-name addst --type active-directory --set base-dn:ADBASE --set server:ad\n\
             dsconfig create-sync-pipe --pipe-name p --set sync-source:ldapsrc --set sync-destination:addst --set \"change-detection-polling-interval:200 ms\"\n\
             {mapping}",
            ad_server_lines(&w.ad_server, "ad", ldaps),
            ldap_server.dsconfig(server),
        ));
        w
    }

    /// Adds `uid=<sam>,ou=people` at OpenLDAP.
    async fn add_ldap_user(&self, sam: &str, extra: &[(&str, &str)]) -> String {
        let dn = self.ldap_dn(&format!("uid={sam},ou=people"));
        let mut attrs = vec![("objectClass", "inetOrgPerson"), ("uid", sam), ("cn", sam), ("sn", "Tester")];
        attrs.extend_from_slice(extra);
        self.ldap.add(&entry(&dn, &attrs)).await.unwrap();
        dn
    }

    fn ad_dn(&self, rdn: &str) -> String {
        format!("{rdn},{}", self.ad_base)
    }

    /// Whether a simple bind to Samba as `dn` with `password` succeeds.
    async fn ad_bind_works(&self, dn: &str, password: &str) -> bool {
        let cfg = ferrosync_ldap::ServerConfig::new("bindcheck", &self.ad_server.host, self.ad_server.port)
            .with_bind(dn, ferrosync::secret::Secret::new(password));
        let c = LdapClient::new(
            vec![cfg],
            ferrosync_ldap::ClientOptions {
                retry: ferrosync_ldap::RetryPolicy { max_attempts: 1, ..Default::default() },
                ..Default::default()
            },
        )
        .unwrap();
        let ok = c.check_bind().await.is_ok();
        c.close().await;
        ok
    }

    /// Every log and the status output, to check that no password is in them.
    fn all_output(&self) -> String {
        let mut all = self.root.run("status", &["--script-friendly"]).stdout();
        for dir in ["logs", "logs/tools"] {
            if let Ok(rd) = std::fs::read_dir(self.root.path().join(dir)) {
                for f in rd.flatten() {
                    if f.path().is_file() {
                        all.push_str(&String::from_utf8_lossy(&std::fs::read(f.path()).unwrap_or_default()));
                    }
                }
            }
        }
        all
    }

    async fn new(name: &str) -> World {
        World::from_ad(name, AD_TO_LDAP).await
    }

    /// A world whose pipe `p` reads AD with DirSync and writes to OpenLDAP, with the sync classes and maps of
    /// `mapping`.
    async fn from_ad(name: &str, mapping: &str) -> World {
        let w = World::bare(name).await;
        let ldap_server = Server::from_env("OPENLDAP");
        w.dsconfig(&format!(
            "{}{}\
             dsconfig create-sync-source --source-name adsrc --type active-directory --set base-dn:{} --set server:ad\n\
             dsconfig create-sync-destination --destination-name dst --type generic-ldap --set base-dn:BASE --set server:openldap\n\
             dsconfig create-sync-pipe --pipe-name p --set sync-source:adsrc --set sync-destination:dst --set \"change-detection-polling-interval:200 ms\"\n\
             {mapping}",
            ad_server_lines(&w.ad_server, "ad", false),
            ldap_server.dsconfig("openldap"),
            w.ad_server.base_dn,
        ));
        w
    }

    /// The subtrees at both servers and an empty root.
    async fn bare(name: &str) -> World {
        World::bare_at("OPENLDAP", name).await
    }

    /// The subtrees at Samba and at the LDAP server `prefix` (`OPENLDAP` or `389`), and an empty root.
    async fn bare_at(prefix: &str, name: &str) -> World {
        let ad_server = Server::from_env("AD");
        let ldap_server = Server::from_env(prefix);
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
        World { root: Root::new(), ad, ldap, ad_server, ad_base, base, sfx }
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
    // The end of the change log is found by reading the domain through: the summary says how much was read.
    assert!(out.contains("change log records to find the start point"), "{out}");
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

/// OpenLDAP → AD over LDAPS: a user is created enabled with its password, its password changes at OpenLDAP
/// reach AD (a bind with the new one works), it is disabled and enabled, and renamed. No password is in any
/// log or status output.
#[tokio::test]
async fn passwords_from_openldap_reach_ad_over_ldaps() {
    let w = World::to_ad("ad-pw", true).await;
    w.set_startpoint("--end-of-changelog");
    let _server = w.go();
    let sam = w.sam("pw");
    let (first, second) = ("Init!Passw0rd1", "New!Passw0rd2x");
    let ldap_dn = w.add_ldap_user(&sam, &[("userPassword", first), ("description", "d1")]).await;
    let ad_dn = w.ad_dn(&format!("CN={sam},OU=people"));
    eventually("the user is created in AD, enabled", WAIT, || async {
        w.ad.get(&ad_dn, &["*"]).await.unwrap().is_some_and(|e| {
            e.texts("userAccountControl") == ["512"]
                && e.texts("userPrincipalName") == [format!("{sam}@samdom.example.com")]
                && e.texts("description") == ["d1"]
        })
    })
    .await;
    assert!(w.ad_bind_works(&ad_dn, first).await, "a bind with the first password works");
    // The password changes at OpenLDAP: the accesslog's clear text reaches AD.
    w.ldap.modify(&ldap_dn, &[Modification::Replace("userPassword".into(), vec![Value::from(second)])]).await.unwrap();
    eventually("a bind with the new password works", WAIT, || async { w.ad_bind_works(&ad_dn, second).await }).await;
    assert!(!w.ad_bind_works(&ad_dn, first).await, "the old password no longer works");
    // Disabled, then enabled again.
    w.ldap
        .modify(&ldap_dn, &[Modification::Replace("employeeType".into(), vec![Value::from("disabled")])])
        .await
        .unwrap();
    eventually("the account is disabled in AD", WAIT, || async {
        w.ad.get(&ad_dn, &["userAccountControl"])
            .await
            .unwrap()
            .is_some_and(|e| e.texts("userAccountControl") == ["514"])
    })
    .await;
    assert!(!w.ad_bind_works(&ad_dn, second).await, "a disabled account cannot bind");
    w.ldap.modify(&ldap_dn, &[Modification::Delete("employeeType".into(), vec![])]).await.unwrap();
    eventually("the account is enabled again", WAIT, || async { w.ad_bind_works(&ad_dn, second).await }).await;
    // Renamed: the DN and sAMAccountName follow the uid.
    let sam2 = w.sam("pr");
    w.ldap.modify_dn(&ldap_dn, &format!("uid={sam2}"), true, None).await.unwrap();
    let ad_dn2 = w.ad_dn(&format!("CN={sam2},OU=people"));
    eventually("the rename reaches AD", WAIT, || async {
        w.ad.get(&ad_dn2, &["sAMAccountName"])
            .await
            .unwrap()
            .is_some_and(|e| e.texts("sAMAccountName") == [sam2.clone()])
    })
    .await;
    assert!(w.ad.get(&ad_dn, &["1.1"]).await.unwrap().is_none());
    let out = w.all_output();
    assert!(out.contains("type=change-applied"), "{out}");
    assert!(!out.contains(first) && !out.contains(second), "a password reached a log or the status:\n{out}");
}

/// 389 DS → AD over LDAPS: 389 stores only a hash of the password, so the clear text that reaches AD can only
/// come from the retro changelog's `unhashed#user#password` (with `nsslapd-unhashed-pw-switch: on`; 389 writes it
/// for modifies, not for adds).
#[tokio::test]
async fn passwords_from_389_retro_changelog_reach_ad() {
    let w = World::to_ad_from("389", "ad-pw389", true, LDAP_TO_AD).await;
    w.ldap
        .modify("cn=config", &[Modification::Replace("nsslapd-unhashed-pw-switch".into(), vec!["on".into()])])
        .await
        .unwrap();
    w.set_startpoint("--end-of-changelog");
    let _server = w.go();
    let sam = w.sam("ds");
    let (first, second) = ("Ds389!Passw0rd1", "Ds389!Passw0rd2");
    let ldap_dn = w.add_ldap_user(&sam, &[("userPassword", first)]).await;
    let stored = w.ldap.get(&ldap_dn, &["userPassword"]).await.unwrap().unwrap().first_text("userPassword");
    assert!(stored.as_deref().is_some_and(|p| p.starts_with('{') && p != first), "389 stores a hash: {stored:?}");
    let ad_dn = w.ad_dn(&format!("CN={sam},OU=people"));
    // 389 records the clear text of modifies only, not of adds: the user is created without it.
    eventually("the user is created in AD", WAIT, || async { w.ad.get(&ad_dn, &["1.1"]).await.unwrap().is_some() })
        .await;
    w.ldap.modify(&ldap_dn, &[Modification::Replace("userPassword".into(), vec![Value::from(second)])]).await.unwrap();
    eventually("a bind with the new password works", WAIT, || async { w.ad_bind_works(&ad_dn, second).await }).await;
    let out = w.all_output();
    assert!(!out.contains(first) && !out.contains(second), "a password reached a log or the status:\n{out}");
}

/// Over plain LDAP, with require-secure-connection-for-clear-text-passwords on (the default), a password is
/// never sent: the user is not created, and the error says why.
#[tokio::test]
async fn passwords_are_refused_over_plain_ldap() {
    let w = World::to_ad("ad-plain", false).await;
    let sam = w.sam("np");
    let secret = "Plain!Passw0rd3";
    w.add_ldap_user(&sam, &[("userPassword", secret)]).await;
    let out = w.root.run("resync", &["--pipe-name", "p"]);
    let all = format!("{}{}{}", out.stdout(), out.stderr(), w.all_output());
    assert!(
        all.contains("not encrypted") && all.contains("require-secure-connection-for-clear-text-passwords"),
        "{all}"
    );
    assert!(!all.contains(secret), "the password reached the output:\n{all}");
    assert!(w.ad.get(&w.ad_dn(&format!("CN={sam},OU=people")), &["1.1"]).await.unwrap().is_none());
    // A user without a password is created (disabled, then enabled: Samba allows that, Windows AD refuses it
    // unless the account may have no password).
    let sam2 = w.sam("nq");
    w.add_ldap_user(&sam2, &[]).await;
    w.root.run("resync", &["--pipe-name", "p"]);
    let e = w.ad.get(&w.ad_dn(&format!("CN={sam2},OU=people")), &["userAccountControl"]).await.unwrap();
    assert!(e.is_some(), "the user without a password is created\n{}", w.all_output());
}

/// The OpenLDAP → AD half of a bidirectional setup (pipe `q`), the inverse of [`AD_TO_LDAP`]: entries keep
/// their RDN, `uid` is the `sAMAccountName`. No password or account state: AD keeps those.
const LDAP_TO_AD_BACK: &str = "\
dsconfig create-dn-map --map-name back-people --set \"from-dn-pattern:*,ou=people,BASE\" --set \"to-dn-pattern:{1},OU=people,ADBASE\"
dsconfig create-attribute-map --map-name back-users
dsconfig create-attribute-mapping --map-name back-users --mapping-name objectClass --type constructed --set value-pattern:top \
    --set value-pattern:person --set value-pattern:organizationalPerson --set value-pattern:user
dsconfig create-attribute-mapping --map-name back-users --mapping-name sAMAccountName --type direct --set from-attribute:uid
dsconfig create-attribute-mapping --map-name back-users --mapping-name cn --type direct --set from-attribute:cn
dsconfig create-attribute-mapping --map-name back-users --mapping-name sn --type direct --set from-attribute:sn
dsconfig create-attribute-mapping --map-name back-users --mapping-name givenName --type direct --set from-attribute:givenName
dsconfig create-attribute-mapping --map-name back-users --mapping-name description --type direct --set from-attribute:description
dsconfig create-sync-class --pipe-name q --class-name users --set include-base-dn:ou=people,BASE \
    --set \"include-filter:(objectClass=inetOrgPerson)\" --set attribute-map:back-users --set dn-map:back-people \
    --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:sAMAccountName
";

/// The counters of both pipes in the status output (changes detected and operations completed).
fn counters(root: &Root) -> String {
    let status = root.run("status", &["--script-friendly"]).stdout();
    status
        .lines()
        .filter(|l| {
            (l.starts_with("p\t") || l.starts_with("q\t"))
                && (l.contains("\tChanges Detected\t") || l.contains("\tOps Completed Total\t"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// AD ↔ OpenLDAP, one pipe each way: users created and edited on both sides at the same time converge, and
/// the echoes end as no-change-needed, so the pipes go quiet.
#[tokio::test]
async fn bidirectional_ad_and_openldap_converge_and_go_quiet() {
    let w = World::new("ad-bidi").await;
    w.dsconfig(&format!(
        "{}dsconfig create-sync-source --source-name ldapsrc --type openldap --set base-dn:BASE --set server:openldap\n\
         dsconfig create-sync-destination --destination-name addst --type active-directory --set base-dn:ADBASE --set server:adtls\n\
         dsconfig create-sync-pipe --pipe-name q --set sync-source:ldapsrc --set sync-destination:addst --set \"change-detection-polling-interval:200 ms\"\n\
         {LDAP_TO_AD_BACK}",
        ad_server_lines(&w.ad_server, "adtls", true),
    ));
    for pipe in ["p", "q"] {
        w.root.run("realtime-sync", &["set-startpoint", "--pipe-name", pipe, "--end-of-changelog"]).ok();
        w.root.run("realtime-sync", &["start", "--pipe-name", pipe]).ok();
    }
    let _server = ServerGuard::start(&w.root);
    let (ann, ben) = (w.sam("ann"), w.sam("ben"));
    let ad_ann = w.ad_dn(&format!("CN={ann},OU=people"));
    let ldap_ann = w.ldap_dn(&format!("CN={ann},ou=people"));
    let ad_ben = w.ad_dn(&format!("CN={ben},OU=people"));
    let ldap_ben = w.ldap_dn(&format!("CN={ben},ou=people"));
    // Created on both sides at once.
    let ben_attrs = [
        ("objectClass", "inetOrgPerson"),
        ("uid", ben.as_str()),
        ("cn", ben.as_str()),
        ("sn", "Tester"),
        ("givenName", "Given"),
        ("description", "ben at ldap"),
    ];
    let ann_entry = entry(
        &ad_ann,
        &[
            ("objectClass", "user"),
            ("sAMAccountName", ann.as_str()),
            ("sn", "Tester"),
            ("givenName", "Given"),
            ("description", "ann at ad"),
        ],
    );
    let ben_entry = entry(&ldap_ben, &ben_attrs);
    let (r1, r2) = tokio::join!(w.ad.add(&ann_entry), w.ldap.add(&ben_entry));
    r1.unwrap();
    r2.unwrap();
    eventually("each new user reaches the other side", WAIT, || async {
        w.ldap_get(&ldap_ann).await.is_some_and(|e| e.texts("description") == ["ann at ad"])
            && w.ad
                .get(&ad_ben, &["description"])
                .await
                .unwrap()
                .is_some_and(|e| e.texts("description") == ["ben at ldap"])
    })
    .await;
    // The creations' echoes end before the edits: DirSync does not say who made a change, so the echo of a
    // create carries the whole object and would overwrite an edit made meanwhile on the other side.
    let root = &w.root;
    let quiet = || async {
        let before = counters(root);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = counters(root);
        !before.is_empty() && before == after
    };
    eventually("the pipes go quiet after the creations", Duration::from_secs(60), quiet).await;
    // Edited on both sides at once: different attributes of one user, the other user on each side, and one
    // attribute on both sides (which converges to one of the two values).
    let (r1, r2) = tokio::join!(
        async {
            w.ad.modify(&ad_ann, &[Modification::Replace("description".into(), vec![Value::from("ann edited at ad")])])
                .await?;
            w.ad.modify(&ad_ben, &[Modification::Replace("givenName".into(), vec![Value::from("Benjamin")])]).await?;
            w.ad.modify(&ad_ben, &[Modification::Replace("sn".into(), vec![Value::from("AdSide")])]).await
        },
        async {
            w.ldap.modify(&ldap_ann, &[Modification::Replace("sn".into(), vec![Value::from("Edited")])]).await?;
            w.ldap
                .modify(&ldap_ben, &[Modification::Replace("description".into(), vec![Value::from("ben edited")])])
                .await?;
            w.ldap.modify(&ldap_ben, &[Modification::Replace("sn".into(), vec![Value::from("LdapSide")])]).await
        },
    );
    r1.unwrap();
    r2.unwrap();
    let both = |e: Option<Entry>, a: &str, v: &str| e.is_some_and(|e| e.texts(a) == [v]);
    let converged = || async {
        let (aa, la) = (w.ad.get(&ad_ann, &["*"]).await.unwrap(), w.ldap_get(&ldap_ann).await);
        let (ab, lb) = (w.ad.get(&ad_ben, &["*"]).await.unwrap(), w.ldap_get(&ldap_ben).await);
        both(aa.clone(), "description", "ann edited at ad")
            && both(la.clone(), "description", "ann edited at ad")
            && both(aa, "sn", "Edited")
            && both(la, "sn", "Edited")
            && both(ab.clone(), "givenName", "Benjamin")
            && both(lb.clone(), "givenName", "Benjamin")
            && both(ab.clone(), "description", "ben edited")
            && both(lb.clone(), "description", "ben edited")
            && ab.as_ref().map(|e| e.texts("sn")) == lb.as_ref().map(|e| e.texts("sn"))
            && lb.is_some_and(|e| e.texts("sn") == ["AdSide"] || e.texts("sn") == ["LdapSide"])
    };
    let start = std::time::Instant::now();
    while !converged().await {
        assert!(
            start.elapsed() < WAIT,
            "both sides converge: not reached within {WAIT:?}\nAD: {:?}\n{:?}\nOpenLDAP: {:?}\n{:?}\n{}",
            w.ad.get(&ad_ann, &["description", "sn"]).await.unwrap(),
            w.ad.get(&ad_ben, &["description", "givenName"]).await.unwrap(),
            w.ldap.get(&ldap_ann, &["description", "sn"]).await.unwrap(),
            w.ldap.get(&ldap_ben, &["description", "givenName"]).await.unwrap(),
            w.sync_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Quiet: the counters stop moving (an echo loop would keep them climbing).
    eventually("the pipes go quiet", Duration::from_secs(60), quiet).await;
    let log = w.sync_log();
    assert!(log.contains("no-change-needed"), "the echoes end as no-change-needed:\n{log}");
    assert!(!log.contains("change-failed"), "{log}");
}

/// The reference batch file for AD ↔ LDAP is accepted by dsconfig, and its mappings are the presets'.
#[test]
fn reference_bidirectional_batch_file_is_accepted() {
    let root = Root::new();
    let file =
        util::repo().join("sample-dsconfig-batch-files/reference-bidirectional-sync-activedirectory-ldap.dsconfig");
    root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    let config = root.config();
    for pipe in ["ad-to-ldap", "ldap-to-ad"] {
        let classes: Vec<String> =
            config.children("sync-class", &[pipe.to_string()]).iter().map(|c| c.name().to_string()).collect();
        assert_eq!(classes.len(), 2, "{pipe}: {classes:?}");
    }
    let places = AdLdapPlaces {
        ad_users: "CN=Users,DC=samdom,DC=example,DC=com".into(),
        ad_groups: "OU=Groups,DC=samdom,DC=example,DC=com".into(),
        ldap_people: "ou=people,dc=example,dc=com".into(),
        ldap_groups: "ou=groups,dc=example,dc=com".into(),
        upn_suffix: "samdom.example.com".into(),
    };
    let text = std::fs::read_to_string(&file).unwrap();
    for (d, name) in [(Direction::AdToLdap, "ad-to-ldap"), (Direction::LdapToAd, "ldap-to-ad")] {
        for line in batch_text(d, name, name, &places).lines() {
            assert!(text.contains(line), "the batch file lacks the preset line {line}");
        }
    }
}

/// A source whose base DN is below the top of the domain: DirSync still reads the whole domain, reports only
/// the objects below the base DN, and moves its start point past the others, so they are not read again.
#[tokio::test]
async fn changes_outside_the_base_dn_are_skipped_and_not_read_again() {
    let w = World::new("ad-narrow").await;
    w.dsconfig("dsconfig set-sync-source-prop --source-name adsrc --set base-dn:OU=people,ADBASE\n");
    w.set_startpoint("--end-of-changelog");
    let store = || ferrosync::store::Store::open(&ferrosync::store::ServerRoot::new(w.root.path())).unwrap();
    let first = store().start_point("p").unwrap().unwrap();
    let _server = w.go();
    // A change outside the base DN: nothing to synchronize, and the start point moves past it.
    let outside = format!("CN=out{},OU=groups,{}", w.sfx, w.ad_base);
    w.ad.add(&entry(&outside, &[("objectClass", "group"), ("sAMAccountName", &w.sam("out"))])).await.unwrap();
    eventually("the start point moves past the change outside the base DN", WAIT, || async {
        store().start_point("p").unwrap().is_some_and(|sp| sp != first)
    })
    .await;
    assert!(w.ldap_get(&w.ldap_dn(&format!("CN=out{},ou=groups", w.sfx))).await.is_none());
    let status = w.root.run("status", &["--script-friendly"]).ok();
    assert!(status.contains("p\tChanges Detected\t0\n"), "{status}");
    // A change below it is synchronized.
    w.add_ad_user("fay", &[]).await;
    let l = w.ldap_dn("CN=fay,ou=people");
    eventually("the user below the base DN reaches OpenLDAP", WAIT, || async { w.ldap_get(&l).await.is_some() }).await;
}

/// A mapping preset for pipe `p` between the test's subtrees (`ADBASE` and `BASE` are replaced by dsconfig()).
fn preset(direction: Direction) -> String {
    let places = AdLdapPlaces {
        ad_users: "OU=people,ADBASE".into(),
        ad_groups: "OU=groups,ADBASE".into(),
        ldap_people: "ou=people,BASE".into(),
        ldap_groups: "ou=groups,BASE".into(),
        upn_suffix: "samdom.example.com".into(),
    };
    batch_text(direction, "p", "preset", &places)
}

/// The AD → LDAP mapping preset (`ferrosync::mapping::presets`) at work: users and a group reach OpenLDAP,
/// the member mapped, a disabled account locked with `pwdAccountLockedTime`.
#[tokio::test]
async fn ad_to_ldap_preset_synchronizes_users_and_groups() {
    let w = World::from_ad("ad-preset", &preset(Direction::AdToLdap)).await;
    w.set_startpoint("--end-of-changelog");
    let _server = w.go();
    // Created through LDAP without a password, the AD account is disabled (userAccountControl 546).
    let gus = w.add_ad_user("gus", &[("mail", "gus@example.com"), ("displayName", "Gus T")]).await;
    let group = format!("CN=crew,OU=groups,{}", w.ad_base);
    w.ad.add(&entry(&group, &[("objectClass", "group"), ("sAMAccountName", &w.sam("crew")), ("member", &gus)]))
        .await
        .unwrap();
    let l_gus = w.ldap_dn("CN=gus,ou=people");
    let l_group = w.ldap_dn("CN=crew,ou=groups");
    eventually("the user and the group reach OpenLDAP", WAIT, || async {
        let user = w.ldap.get(&l_gus, &["*", "pwdAccountLockedTime"]).await.unwrap();
        let g = w.ldap_get(&l_group).await;
        user.is_some_and(|u| {
            u.texts("uid") == [w.sam("gus")]
                && u.texts("mail") == ["gus@example.com"]
                && u.texts("displayName") == ["Gus T"]
                && u.texts("pwdAccountLockedTime") == ["000001010000Z"]
        }) && g.is_some_and(|g| g.texts("member").iter().any(|m| m.eq_ignore_ascii_case(&l_gus)))
    })
    .await;
}

/// The LDAP → AD mapping preset at work over LDAPS: a person with a password becomes an enabled AD user that
/// can bind, and a lock at OpenLDAP disables it.
#[tokio::test]
async fn ldap_to_ad_preset_creates_enabled_users_with_passwords() {
    let w = World::to_ad_from("OPENLDAP", "ad-preset-back", true, &preset(Direction::LdapToAd)).await;
    w.set_startpoint("--end-of-changelog");
    let _server = w.go();
    let sam = w.sam("hal");
    let pw = "Preset!Passw0rd7";
    let l_dn = w.ldap_dn("cn=hal,ou=people");
    w.ldap
        .add(&entry(
            &l_dn,
            &[("objectClass", "inetOrgPerson"), ("uid", &sam), ("cn", "hal"), ("sn", "Preset"), ("userPassword", pw)],
        ))
        .await
        .unwrap();
    let ad_dn = w.ad_dn("CN=hal,OU=people");
    eventually("the user can bind to AD", WAIT, || async { w.ad_bind_works(&ad_dn, pw).await }).await;
    let e = w.ad.get(&ad_dn, &["*"]).await.unwrap().unwrap();
    assert_eq!(e.texts("userPrincipalName"), [format!("{sam}@samdom.example.com")]);
    assert_eq!(e.texts("userAccountControl"), ["512"]);
    w.ldap
        .modify(&l_dn, &[Modification::Replace("pwdAccountLockedTime".into(), vec![Value::from("000001010000Z")])])
        .await
        .unwrap();
    eventually("the lock disables the AD account", WAIT, || async {
        w.ad.get(&ad_dn, &["userAccountControl"])
            .await
            .unwrap()
            .is_some_and(|e| e.texts("userAccountControl") == ["514"])
    })
    .await;
}

/// The AD → LDAP mapping of PingDataSync's "Mapping AD password policy state attributes": the three
/// intermediate attributes of the AD source mapped to PingDirectory's names, which each LDAP destination writes
/// its own way.
const AD_STATE: &str = "\
dsconfig create-attribute-map --map-name ad-state
dsconfig create-attribute-mapping --map-name ad-state --mapping-name objectClass --type constructed --set value-pattern:top \
    --set value-pattern:person --set value-pattern:organizationalPerson --set value-pattern:inetOrgPerson
dsconfig create-attribute-mapping --map-name ad-state --mapping-name uid --type direct --set from-attribute:sAMAccountName
dsconfig create-attribute-mapping --map-name ad-state --mapping-name cn --type direct --set from-attribute:cn
dsconfig create-attribute-mapping --map-name ad-state --mapping-name sn --type direct --set from-attribute:sn
dsconfig create-attribute-mapping --map-name ad-state --mapping-name pwdAccountLockedTime --type direct --set from-attribute:pwdAccountLockedTimeFromAD
dsconfig create-attribute-mapping --map-name ad-state --mapping-name ds-pwp-account-disabled --type direct --set from-attribute:ds-pwp-account-disabled-from-ad
dsconfig create-attribute-mapping --map-name ad-state --mapping-name pwdChangedTime --type direct --set from-attribute:pwdChangedTimeFromAD
";

/// The pipe `pipe` from the AD source to destination `dst` below `people`.
fn ad_state_pipe(pipe: &str, dst: &str, people: &str) -> String {
    format!(
        "dsconfig create-dn-map --map-name {pipe}-people --set \"from-dn-pattern:*,OU=people,ADBASE\" --set \"to-dn-pattern:{{1}},{people}\"\n\
         dsconfig create-sync-pipe --pipe-name {pipe} --set sync-source:adsrc --set sync-destination:{dst} --set \"change-detection-polling-interval:200 ms\"\n\
         dsconfig create-sync-class --pipe-name {pipe} --class-name users --set include-base-dn:OU=people,ADBASE \
             --set \"include-filter:(objectClass=user)\" --set attribute-map:ad-state --set dn-map:{pipe}-people \
             --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:uid\n"
    )
}

/// The result code of a simple bind as `dn` with `password` to `host:port` (`None`: it succeeded; `Some(0)`:
/// it failed without one).
async fn bind_rc(host: &str, port: u16, dn: &str, password: &str) -> Option<u32> {
    let cfg = ferrosync_ldap::ServerConfig::new("bindcheck", host, port)
        .with_bind(dn, ferrosync::secret::Secret::new(password));
    let options = ferrosync_ldap::ClientOptions {
        retry: ferrosync_ldap::RetryPolicy { max_attempts: 1, ..Default::default() },
        ..Default::default()
    };
    let c = LdapClient::new(vec![cfg], options).unwrap();
    let rc = c.check_bind().await.err().map(|e| e.rc().unwrap_or(0));
    c.close().await;
    rc
}

/// Runs samba-tool on the test domain controller's own database (`FERROSYNC_TEST_AD_CONF`).
fn samba_tool(args: &[&str]) -> String {
    let conf = std::env::var("FERROSYNC_TEST_AD_CONF").expect("FERROSYNC_TEST_AD_CONF (tests/run.sh)");
    let out = std::process::Command::new("samba-tool").args(args).arg("-s").arg(&conf).output().unwrap();
    assert!(out.status.success(), "samba-tool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sets the domain's account lockout threshold while alive, and puts the one before it back when dropped
/// (other AD tests running at the same time make at most two bad binds per user).
struct LockoutThreshold(String);

impl LockoutThreshold {
    fn set(n: u32) -> LockoutThreshold {
        let shown = samba_tool(&["domain", "passwordsettings", "show"]);
        let before = shown
            .lines()
            .find(|l| l.starts_with("Account lockout threshold"))
            .and_then(|l| l.rsplit(':').next())
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "0".into());
        samba_tool(&["domain", "passwordsettings", "set", &format!("--account-lockout-threshold={n}")]);
        LockoutThreshold(before)
    }
}

impl Drop for LockoutThreshold {
    fn drop(&mut self) {
        let _ = std::process::Command::new("samba-tool")
            .args(["domain", "passwordsettings", "set", &format!("--account-lockout-threshold={}", self.0), "-s"])
            .arg(std::env::var("FERROSYNC_TEST_AD_CONF").unwrap_or_default())
            .output();
    }
}

/// AD password policy state at 389 DS (pipe `p`) and OpenLDAP with ppolicy (pipe `q`, an OpenLDAP of the test's
/// own with a default policy): a user locked out by bad passwords, unlocked, disabled, enabled and given a new
/// password in Samba; each state reaches both by resync and then in real time, and a bind as the locked user
/// fails at both.
#[tokio::test]
async fn ad_password_policy_state_reaches_389_and_openldap() {
    let _threshold = LockoutThreshold::set(3);
    let w = World::bare_at("389", "ad-state").await;
    let ds = Server::from_env("389");
    let ol = util::own_openldap::OwnOpenLdap::start_with(&[("SLAPD_PPOLICY_DEFAULT", "1")]);
    let olc = ol.client();
    let t = w.base.split(',').next().unwrap().trim_start_matches("ou=").to_string();
    let ol_base = format!("ou={t},dc=example,dc=com");
    olc.add(&entry(&ol_base, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
    olc.add(&entry(&format!("ou=people,{ol_base}"), &[("objectClass", "organizationalUnit"), ("ou", "people")]))
        .await
        .unwrap();
    let batch = format!(
        "{}{}dsconfig create-external-server --server-name ol --type generic-ldap --set server-host-name:127.0.0.1 \
             --set server-port:{} --set \"bind-dn:cn=admin,dc=example,dc=com\" --set password:secret\n\
         dsconfig create-sync-source --source-name adsrc --type active-directory --set base-dn:{} --set server:ad\n\
         dsconfig create-sync-destination --destination-name ds389 --type generic-ldap --set base-dn:BASE --set server:ds389\n\
         dsconfig create-sync-destination --destination-name ol --type generic-ldap --set base-dn:{ol_base} --set server:ol\n\
         {AD_STATE}{}{}",
        ad_server_lines(&w.ad_server, "ad", false),
        ds.dsconfig("ds389"),
        ol.port,
        w.ad_server.base_dn,
        ad_state_pipe("p", "ds389", "ou=people,BASE"),
        ad_state_pipe("q", "ol", &format!("ou=people,{ol_base}")),
    );
    w.dsconfig(&batch);

    // An enabled AD user with a password.
    let sam = w.sam("st");
    let ad_dn = w.add_ad_user(&sam, &[]).await;
    let password = "St4te!Passw0rd";
    samba_tool(&["user", "setpassword", &w.sam(&sam), &format!("--newpassword={password}")]);
    w.ad.modify(&ad_dn, &[Modification::Replace("userAccountControl".into(), vec![Value::from("512")])]).await.unwrap();
    assert!(w.ad_bind_works(&ad_dn, password).await, "the AD user can bind");
    let ds_dn = format!("CN={sam},ou=people,{}", w.base);
    let ol_dn = format!("CN={sam},ou=people,{ol_base}");
    let resync = |pipe: &str| w.root.run("resync", &["--pipe-name", pipe]).ok();
    for pipe in ["p", "q"] {
        let out = resync(pipe);
        assert!(out.contains("1 entries were created"), "{out}");
    }
    // Passwords of their own at the destinations (AD gives none), to check binds there.
    let dest_pw = "Dest!Passw0rd9";
    w.ldap.modify(&ds_dn, &[Modification::Replace("userPassword".into(), vec![Value::from(dest_pw)])]).await.unwrap();
    olc.modify(&ol_dn, &[Modification::Replace("userPassword".into(), vec![Value::from(dest_pw)])]).await.unwrap();

    let ad_get = |attr: &'static str| {
        let (ad, dn) = (&w.ad, ad_dn.clone());
        async move { ad.get(&dn, &[attr]).await.unwrap().and_then(|e| e.first_text(attr)).unwrap_or_default() }
    };
    let ds_lock =
        || async { w.ldap.get(&ds_dn, &["nsAccountLock"]).await.unwrap().and_then(|e| e.first_text("nsAccountLock")) };
    let ol_get = |attr: &'static str| {
        let (c, dn) = (&olc, ol_dn.clone());
        async move { c.get(&dn, &[attr]).await.unwrap().and_then(|e| e.first_text(attr)) }
    };
    let ds_bind = || bind_rc(&ds.host, ds.port, &ds_dn, dest_pw);
    let ol_bind = || bind_rc("127.0.0.1", ol.port, &ol_dn, dest_pw);
    let ds_binds = || async { ds_bind().await.is_none() };
    let ol_binds = || async { ol_bind().await.is_none() };
    assert!(ds_lock().await.is_none() && ol_get("pwdAccountLockedTime").await.is_none());
    assert!(ds_binds().await && ol_binds().await, "the unlocked user binds at both destinations");

    // Each step: change AD, then `check` what the destinations hold (`apply`: resync, or wait for real time).
    let lock_out = || async {
        for _ in 0..4 {
            assert!(!w.ad_bind_works(&ad_dn, "Wrong!Passw0rd").await);
        }
        let t = ad_get("lockoutTime").await;
        assert!(t.parse::<i64>().unwrap_or(0) > 0, "3 bad passwords lock the AD user out: lockoutTime {t:?}");
        ferrosync_ldap::adstate::filetime_to_generalized(&t).unwrap()
    };
    let set_uac = |v: &'static str| {
        let (ad, dn) = (&w.ad, ad_dn.clone());
        async move {
            ad.modify(&dn, &[Modification::Replace("userAccountControl".into(), vec![Value::from(v)])]).await.unwrap()
        }
    };
    let unlock = || async {
        w.ad.modify(&ad_dn, &[Modification::Replace("lockoutTime".into(), vec![Value::from("0")])]).await.unwrap()
    };

    for realtime in [false, true] {
        let _server = if realtime {
            for pipe in ["p", "q"] {
                w.root.run("realtime-sync", &["set-startpoint", "--pipe-name", pipe, "--end-of-changelog"]).ok();
                w.root.run("realtime-sync", &["start", "--pipe-name", pipe]).ok();
            }
            Some(ServerGuard::start(&w.root))
        } else {
            None
        };
        let how = if realtime { "in real time" } else { "by resync" };
        let apply = || async {
            if !realtime {
                resync("p");
                resync("q");
            }
        };
        // Locked out.
        let locked_at = lock_out().await;
        apply().await;
        eventually(&format!("the lockout reaches both destinations {how}"), WAIT, || async {
            ds_lock().await.is_some_and(|v| v.eq_ignore_ascii_case("true"))
                && ol_get("pwdAccountLockedTime").await.as_deref() == Some(locked_at.as_str())
        })
        .await;
        // 389 DS: unwillingToPerform (account inactivated); slapd's ppolicy: invalidCredentials.
        assert_eq!(ds_bind().await, Some(53), "the locked user cannot bind at 389 DS");
        assert_eq!(ol_bind().await, Some(49), "the locked user cannot bind at OpenLDAP");
        if !realtime {
            // Nothing left to write: the destinations' state is what the mapping says.
            let out = resync("p") + &resync("q");
            let log = std::fs::read_to_string(w.root.path().join("logs/tools/resync.log")).unwrap_or_default();
            assert_eq!(out.matches("0 entries were modified").count(), 2, "{out}\n{log}");
        }
        // Unlocked.
        unlock().await;
        apply().await;
        eventually(&format!("the unlock reaches both destinations {how}"), WAIT, || async {
            ds_lock().await.is_none() && ol_get("pwdAccountLockedTime").await.is_none()
        })
        .await;
        assert!(ds_binds().await && ol_binds().await, "the unlocked user binds again");
        // Disabled: 389's lock, OpenLDAP's permanent lock.
        set_uac("514").await;
        apply().await;
        eventually(&format!("the disable reaches both destinations {how}"), WAIT, || async {
            ds_lock().await.is_some_and(|v| v.eq_ignore_ascii_case("true"))
                && ol_get("pwdAccountLockedTime").await.as_deref() == Some("000001010000Z")
        })
        .await;
        assert!(!ds_binds().await && !ol_binds().await, "the disabled user cannot bind");
        // Enabled.
        set_uac("512").await;
        apply().await;
        eventually(&format!("the enable reaches both destinations {how}"), WAIT, || async {
            ds_lock().await.is_none() && ol_get("pwdAccountLockedTime").await.is_none()
        })
        .await;
        // A new password: its time becomes OpenLDAP's pwdChangedTime and 389's pwdUpdateTime.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let new_pw = if realtime { "St4te!Passw0rd3" } else { "St4te!Passw0rd2" };
        samba_tool(&["user", "setpassword", &w.sam(&sam), &format!("--newpassword={new_pw}")]);
        let changed = ferrosync_ldap::adstate::filetime_to_generalized(&ad_get("pwdLastSet").await).unwrap();
        apply().await;
        eventually(&format!("the password change time reaches both destinations {how}"), WAIT, || async {
            ol_get("pwdChangedTime").await.as_deref() == Some(changed.as_str())
                && w.ldap
                    .get(&ds_dn, &["pwdUpdateTime"])
                    .await
                    .unwrap()
                    .and_then(|e| e.first_text("pwdUpdateTime"))
                    .as_deref()
                    == Some(changed.as_str())
        })
        .await;
        assert!(ds_binds().await && ol_binds().await, "the enabled user binds");
    }
}
