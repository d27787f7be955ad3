//! create-sync-pipe-config with Active Directory (the Samba AD of tests/run.sh, `FERROSYNC_TEST_AD_*`, over LDAPS
//! with trust-all) and OpenLDAP (`FERROSYNC_TEST_OPENLDAP_*`): the Active Directory preset of
//! `ferrosync::mapping::presets` instead of sync classes asked by hand, then resync with it.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use ferrosync::config::Config;
use ferrosync::mapping::presets::{objects, AdLdapPlaces, Direction};
use util::pty::Pty;
use util::scenario::entry;
use util::{unique, Root, Server};

/// Checks that `config` holds the preset's objects for `pipe` (object names from `prefix`) exactly, and that
/// the pipe has no other sync class.
fn assert_preset(config: &Config, direction: Direction, pipe: &str, prefix: &str, places: &AdLdapPlaces) {
    let want = objects(direction, "p", prefix, places).expect("the preset is valid");
    for o in &want {
        let mut names = o.names.clone();
        if o.object_type.name == "sync-class" {
            names[0] = pipe.to_string();
        }
        let got = config.find(o.object_type, &names).unwrap_or_else(|| panic!("{pipe}: {names:?} is missing"));
        assert_eq!(got.props, o.props, "{pipe}: {names:?}");
    }
    let classes: Vec<String> =
        config.children("sync-class", &[pipe.to_string()]).iter().map(|c| c.name().to_string()).collect();
    assert_eq!(classes.len(), 2, "{pipe}: only the preset's classes: {classes:?}");
}

/// The test's subtrees: `OU=<t>,<domain>` at Samba and `ou=<t>,<base>` at OpenLDAP, each with `people` and
/// `groups` below, and a user `CN=ann,OU=people` at Samba. Returns (AD, OpenLDAP, AD subtree, LDAP subtree,
/// ann's sAMAccountName).
async fn world(name: &str) -> (Server, Server, String, String, String) {
    let (ad, ldap) = (Server::from_env("AD"), Server::from_env("OPENLDAP"));
    let t = unique(name);
    let ad_base = format!("OU={t},{}", ad.base_dn);
    let base = format!("ou={t},{}", ldap.base_dn);
    for (c, b) in [(ad.client(), &ad_base), (ldap.client(), &base)] {
        c.add(&entry(b, &[("objectClass", "organizationalUnit"), ("ou", &t)])).await.unwrap();
        for ou in ["people", "groups"] {
            c.add(&entry(&format!("ou={ou},{b}"), &[("objectClass", "organizationalUnit"), ("ou", ou)])).await.unwrap();
        }
    }
    // sAMAccountName: unique in the domain, 20 characters at most.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let sam = format!("wann{:07x}", (nanos ^ u128::from(std::process::id()) << 20) % 0xfff_ffff);
    ad.client()
        .add(&entry(
            &format!("CN=ann,OU=people,{ad_base}"),
            &[("objectClass", "user"), ("sAMAccountName", &sam), ("sn", "Tester"), ("mail", "ann@example.com")],
        ))
        .await
        .unwrap();
    (ad, ldap, ad_base, base, sam)
}

/// The preset's places in the test's subtrees (the LDAP ones are the wizard's defaults below the LDAP base DN).
fn places(ad_base: &str, base: &str) -> AdLdapPlaces {
    AdLdapPlaces {
        ad_users: format!("OU=people,{ad_base}"),
        ad_groups: format!("OU=groups,{ad_base}"),
        ldap_people: format!("ou=people,{base}"),
        ldap_groups: format!("ou=groups,{base}"),
        upn_suffix: "samdom.example.com".into(),
    }
}

#[tokio::test]
async fn the_active_directory_preset_is_offered_and_resync_uses_it() {
    let help = Root::new().run("create-sync-pipe-config", &["--help"]).ok();
    assert!(help.contains("--activeDirectoryPreset VALUE"), "{help}");
    let (ad, ldap, ad_base, base, sam) = world("wiz-ad").await;
    let ad_users = format!("OU=people,{ad_base}");
    let ad_groups = format!("OU=groups,{ad_base}");
    let flags = |direction: &str| -> Vec<String> {
        [
            ("direction", direction),
            ("sourceType", "active-directory"),
            ("sourceName", "ad"),
            // DirSync reads from the top of the domain; the preset's classes pick the test's subtree.
            ("sourceBaseDN", ad.base_dn.as_str()),
            ("sourceSecurity", "ssl"),
            ("sourceTrust", "trust-all"),
            ("sourceServer", &format!("{}:636", ad.host)),
            ("sourceBindDN", &ad.bind_dn),
            ("sourceBindPassword", &ad.bind_pw),
            ("destinationType", "openldap"),
            ("destinationName", "ol"),
            ("destinationBaseDN", &base),
            ("destinationServer", &format!("{}:{}", ldap.host, ldap.port)),
            ("destinationBindDN", &ldap.bind_dn),
            ("destinationBindPassword", &ldap.bind_pw),
            ("activeDirectoryPreset", "yes"),
            ("activeDirectoryUsersDN", &ad_users),
            ("activeDirectoryGroupsDN", &ad_groups),
        ]
        .iter()
        .flat_map(|(k, v)| [format!("--{k}"), v.to_string()])
        .chain(["--no-prompt".to_string()])
        .collect()
    };
    let places = places(&ad_base, &base);

    // One-way, AD to OpenLDAP: the configuration is the preset's, and resync copies the AD user.
    let root = Root::new();
    let f = flags("one-way");
    root.run("create-sync-pipe-config", &f.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    assert_preset(&root.config(), Direction::AdToLdap, "ad to ol", "ad-to-ol", &places);
    let out = root.run("resync", &["--pipe-name", "ad to ol"]).ok();
    assert!(out.contains("1 entries were created"), "{out}");
    let copied = ldap
        .client()
        .get(&format!("CN=ann,ou=people,{base}"), &["*"])
        .await
        .unwrap()
        .expect("the AD user was copied below ou=people");
    assert_eq!(copied.texts("uid"), [sam]);
    assert_eq!(copied.texts("mail"), ["ann@example.com"]);
    assert!(copied.texts("objectClass").iter().any(|c| c.eq_ignore_ascii_case("inetOrgPerson")), "{copied:?}");

    // Bidirectional: each pipe gets the preset of its own direction.
    let both = Root::new();
    let f = flags("bidirectional");
    both.run("create-sync-pipe-config", &f.iter().map(String::as_str).collect::<Vec<_>>()).ok();
    let config = both.config();
    assert_preset(&config, Direction::AdToLdap, "ad to ol", "ad-to-ol", &places);
    assert_preset(&config, Direction::LdapToAd, "ol to ad", "ol-to-ad", &places);
}

/// The same on a terminal: after the pipe's name the preset is offered (Enter: yes), with the containers'
/// defaults shown; the configuration is the preset's.
#[tokio::test]
async fn the_preset_is_asked_on_a_terminal() {
    let (ad, ldap, ad_base, base, _) = world("wiz-ad-tty").await;
    let root = Root::new();
    let mut t = Pty::spawn("create-sync-pipe-config", root.path(), &[]);
    t.expect("Synchronization direction");
    t.answer("Enter a choice", "");
    t.expect("Source endpoint type");
    t.answer("Enter a choice", "active-directory");
    t.answer("Name of the source", "ad");
    t.answer("Base DN of the source", &ad.base_dn);
    t.answer("another one, or press Enter when done", "");
    t.expect("Connection security of the source");
    t.answer("Enter a choice", "ssl");
    t.answer("Certificates to trust for the source", "trust-all");
    t.answer("Server of the source, as host:port", &format!("{}:636", ad.host));
    t.answer("Another server of the source", "");
    t.answer("Prepare the source's servers now", "no");
    t.answer("DN of the sync user of the source", &ad.bind_dn);
    t.answer("Password of", &ad.bind_pw);
    t.expect("Destination endpoint type");
    t.answer("Enter a choice", "openldap");
    t.answer("Name of the destination", "ol");
    t.answer("Base DN of the destination", &base);
    t.answer("another one, or press Enter when done", "");
    t.expect("Connection security of the destination");
    t.answer("Enter a choice", "none");
    t.answer("Server of the destination, as host:port", &format!("{}:{}", ldap.host, ldap.port));
    t.answer("Another server of the destination", "");
    t.answer("Prepare the destination's servers now", "no");
    t.answer("DN of the sync user of the destination", &ldap.bind_dn);
    t.answer("Password of", &ldap.bind_pw);
    t.answer("Name of the sync pipe", "");
    t.answer("Use the Active Directory preset (users and groups, CN=Users <-> ou=people, sAMAccountName <-> uid", "");
    // The defaults are shown: CN=Users below the AD base DN, ou=people below the LDAP one.
    t.answer(
        &format!("The Active Directory container of the users [CN=Users,{}]", ad.base_dn),
        &format!("OU=people,{ad_base}"),
    );
    t.answer("The Active Directory container of the groups", &format!("OU=groups,{ad_base}"));
    t.answer(&format!("The LDAP container of the people [ou=people,{base}]"), "");
    t.answer("The LDAP container of the groups", "");
    t.expect("Review:");
    t.expect("the Active Directory preset");
    t.write_to_store();
    assert!(!t.seen.contains(&ad.bind_pw), "the password was echoed:\n{}", t.seen);
    assert_preset(&root.config(), Direction::AdToLdap, "ad to ol", "ad-to-ol", &places(&ad_base, &base));
}
