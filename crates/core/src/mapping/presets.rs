//! Mapping presets between Active Directory and an LDAP directory, as data: the DN maps, attribute maps,
//! attribute mappings and sync classes of one direction, for a wizard (create-sync-pipe-config) or a
//! reference batch file to use.
//!
//! * AD → LDAP: users below the AD users container (`CN=Users,<domain>` by default) become `inetOrgPerson`
//!   entries below the LDAP people container: `sAMAccountName` to `uid`; `cn`, `sn`, `givenName`, `mail`,
//!   `displayName`, `telephoneNumber` as they are; a disabled account (`userAccountControl` with
//!   ACCOUNTDISABLE) becomes OpenLDAP's permanent lock `pwdAccountLockedTime: 000001010000Z`. Groups become
//!   `groupOfNames` below the LDAP groups container, their `member` values mapped through the people DN map.
//! * LDAP → AD: the reverse; `uid` to `sAMAccountName` and `userPrincipalName`, a clear-text password (from
//!   the change log) to `unicodePwd`, the lock to `userAccountControl` (514 locked, 512 enabled).
//!
//! Entries keep their RDN (`CN=x` on both sides), so DN-valued attributes (`member`) map both ways without
//! needing the member's attributes.

use crate::config::{Config, ConfigObject, SecretSealer};
use crate::dsconfig::{run_batch, Format};
use crate::error::ConfigError;

/// Where the synchronized objects live on each side.
#[derive(Clone, Debug)]
pub struct AdLdapPlaces {
    /// The AD container of users (`CN=Users,DC=example,DC=com`).
    pub ad_users: String,
    /// The AD container of groups (often the same as `ad_users`).
    pub ad_groups: String,
    /// The LDAP container of people (`ou=people,dc=example,dc=com`).
    pub ldap_people: String,
    /// The LDAP container of groups (`ou=groups,dc=example,dc=com`).
    pub ldap_groups: String,
    /// The UPN suffix of AD users (`example.com` gives `uid@example.com`).
    pub upn_suffix: String,
}

/// The direction of a preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    AdToLdap,
    LdapToAd,
}

/// The dsconfig batch text of a preset for pipe `pipe`. The object names start with `prefix` (such as
/// `ad-to-ldap`), so the two directions can live in one configuration.
pub fn batch_text(direction: Direction, pipe: &str, prefix: &str, at: &AdLdapPlaces) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\\\""));
    let (users_map, groups_map, attr_users, attr_groups) =
        (format!("{prefix}-people"), format!("{prefix}-groups"), format!("{prefix}-users"), format!("{prefix}-grp"));
    let (from_users, to_users, from_groups, to_groups) = match direction {
        Direction::AdToLdap => (&at.ad_users, &at.ldap_people, &at.ad_groups, &at.ldap_groups),
        Direction::LdapToAd => (&at.ldap_people, &at.ad_users, &at.ldap_groups, &at.ad_groups),
    };
    let mut t = String::new();
    let mut line = |s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    line(format!(
        "dsconfig create-dn-map --map-name {users_map} --set {} --set {}",
        q(&format!("from-dn-pattern:*,{from_users}")),
        q(&format!("to-dn-pattern:{{1}},{to_users}"))
    ));
    line(format!(
        "dsconfig create-dn-map --map-name {groups_map} --set {} --set {}",
        q(&format!("from-dn-pattern:*,{from_groups}")),
        q(&format!("to-dn-pattern:{{1}},{to_groups}"))
    ));
    line(format!("dsconfig create-attribute-map --map-name {attr_users}"));
    let mapping = |name: &str, rest: &str| {
        format!("dsconfig create-attribute-mapping --map-name {attr_users} --mapping-name {name} {rest}")
    };
    let direct = |name: &str, from: &str| mapping(name, &format!("--type direct --set from-attribute:{from}"));
    let (users_filter, groups_filter) = match direction {
        Direction::AdToLdap => {
            line(mapping(
                "objectClass",
                "--type constructed --set value-pattern:top --set value-pattern:person \
                 --set value-pattern:organizationalPerson --set value-pattern:inetOrgPerson",
            ));
            line(direct("uid", "sAMAccountName"));
            for a in ["cn", "sn", "givenName", "mail", "displayName", "telephoneNumber"] {
                line(direct(a, a));
            }
            line(mapping(
                "pwdAccountLockedTime",
                &format!(
                    "--type constructed --set {}",
                    q("conditional-value-pattern:(|(userAccountControl=514)(userAccountControl=546)(userAccountControl=66050)(userAccountControl=66082)) : 000001010000Z")
                ),
            ));
            ("(&(objectClass=user)(!(objectClass=computer)))", "(objectClass=group)")
        }
        Direction::LdapToAd => {
            line(mapping(
                "objectClass",
                "--type constructed --set value-pattern:top --set value-pattern:person \
                 --set value-pattern:organizationalPerson --set value-pattern:user",
            ));
            line(direct("sAMAccountName", "uid"));
            line(mapping(
                "userPrincipalName",
                &format!("--type constructed --set {}", q(&format!("value-pattern:{{uid}}@{}", at.upn_suffix))),
            ));
            for a in ["cn", "sn", "givenName", "mail", "displayName", "telephoneNumber"] {
                line(direct(a, a));
            }
            line(direct("unicodePwd", "userPassword"));
            line(mapping(
                "userAccountControl",
                &format!(
                    "--type constructed --set {} --set value-pattern:512",
                    q("conditional-value-pattern:(pwdAccountLockedTime=*) : 514")
                ),
            ));
            ("(objectClass=inetOrgPerson)", "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))")
        }
    };
    let group_class = match direction {
        Direction::AdToLdap => "groupOfNames",
        Direction::LdapToAd => "group",
    };
    line(format!("dsconfig create-attribute-map --map-name {attr_groups}"));
    line(format!(
        "dsconfig create-attribute-mapping --map-name {attr_groups} --mapping-name objectClass --type constructed \
         --set value-pattern:top --set value-pattern:{group_class}"
    ));
    line(format!(
        "dsconfig create-attribute-mapping --map-name {attr_groups} --mapping-name cn --type direct --set from-attribute:cn"
    ));
    line(format!(
        "dsconfig create-attribute-mapping --map-name {attr_groups} --mapping-name description --type direct --set from-attribute:description"
    ));
    line(format!(
        "dsconfig create-attribute-mapping --map-name {attr_groups} --mapping-name member --type dn --set from-attribute:member --set dn-map:{users_map}"
    ));
    if direction == Direction::LdapToAd {
        line(format!(
            "dsconfig create-attribute-mapping --map-name {attr_groups} --mapping-name sAMAccountName --type direct --set from-attribute:cn"
        ));
    }
    let correlation = match direction {
        Direction::AdToLdap => "uid",
        Direction::LdapToAd => "sAMAccountName",
    };
    line(format!(
        "dsconfig create-sync-class --pipe-name {pipe} --class-name groups --set evaluation-order-index:10 \
         --set {} --set {} --set attribute-map:{attr_groups} --set dn-map:{groups_map} \
         --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:dn",
        q(&format!("include-base-dn:{from_groups}")),
        q(&format!("include-filter:{groups_filter}"))
    ));
    line(format!(
        "dsconfig create-sync-class --pipe-name {pipe} --class-name users --set evaluation-order-index:20 \
         --set {} --set {} --set attribute-map:{attr_users} --set dn-map:{users_map} \
         --set auto-mapped-source-attribute:-none- --set destination-correlation-attributes:{correlation}",
        q(&format!("include-base-dn:{from_users}")),
        q(&format!("include-filter:{users_filter}"))
    ));
    t
}

struct NoSecrets;

impl SecretSealer for NoSecrets {
    fn seal(&self, _plain: &str) -> Result<String, ConfigError> {
        Err(ConfigError::Internal("a mapping preset has no secrets".into()))
    }
}

/// The objects of a preset (DN maps, attribute maps and their mappings, the sync classes of `pipe`),
/// validated against the configuration model. They are built in a scratch configuration with a placeholder
/// pipe `pipe`; add them to a configuration that has that pipe.
pub fn objects(direction: Direction, pipe: &str, prefix: &str, at: &AdLdapPlaces) -> Result<Vec<ConfigObject>, String> {
    let mut config = Config::builtin();
    let scaffold = format!(
        "dsconfig create-external-server --server-name preset-a --type active-directory --set server-host-name:a.invalid\n\
         dsconfig create-external-server --server-name preset-b --type generic-ldap --set server-host-name:b.invalid\n\
         dsconfig create-sync-source --source-name preset-s --type active-directory --set base-dn:dc=a --set server:preset-a\n\
         dsconfig create-sync-destination --destination-name preset-d --type generic-ldap --set base-dn:dc=b --set server:preset-b\n\
         dsconfig create-sync-pipe --pipe-name \"{pipe}\" --set sync-source:preset-s --set sync-destination:preset-d\n"
    );
    let sealer = NoSecrets;
    run_batch("preset scaffold", &scaffold, &mut config, &sealer, Format::default(), false)
        .map_err(|e| e.to_string())?;
    let scaffold_len = config.objects().len();
    run_batch("preset", &batch_text(direction, pipe, prefix, at), &mut config, &sealer, Format::default(), false)
        .map_err(|e| e.to_string())?;
    Ok(config.objects()[scaffold_len..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::mapping::PipeMapping;

    fn places() -> AdLdapPlaces {
        AdLdapPlaces {
            ad_users: "CN=Users,DC=samdom,DC=example,DC=com".into(),
            ad_groups: "OU=Groups,DC=samdom,DC=example,DC=com".into(),
            ldap_people: "ou=people,dc=example,dc=com".into(),
            ldap_groups: "ou=groups,dc=example,dc=com".into(),
            upn_suffix: "samdom.example.com".into(),
        }
    }

    fn pipe_of(direction: Direction) -> PipeMapping {
        let text = batch_text(direction, "p", "x", &places());
        PipeMapping::from_config(&super::super::testutil::config(&text), "p").expect("the preset compiles")
    }

    #[test]
    fn both_directions_are_valid_objects() {
        for d in [Direction::AdToLdap, Direction::LdapToAd] {
            let objs = objects(d, "p", "x", &places()).expect("valid");
            let types: Vec<&str> = objs.iter().map(|o| o.object_type.name).collect();
            assert!(types.contains(&"dn-map") && types.contains(&"attribute-map"), "{types:?}");
            assert_eq!(types.iter().filter(|t| **t == "sync-class").count(), 2, "{types:?}");
            assert!(!types.contains(&"sync-pipe") && !types.contains(&"external-server"), "{types:?}");
        }
    }

    #[test]
    fn ad_users_map_to_inetorgpersons() {
        let m = pipe_of(Direction::AdToLdap);
        let mut u = Entry::new("CN=Ann Lee,CN=Users,DC=samdom,DC=example,DC=com");
        for (a, v) in [
            ("objectClass", "user"),
            ("sAMAccountName", "alee"),
            ("cn", "Ann Lee"),
            ("sn", "Lee"),
            ("mail", "ann@example.com"),
            ("userAccountControl", "514"),
        ] {
            u.add(a, v);
        }
        let class = m.select_class(&u.dn, Some(&u)).expect("a class");
        assert_eq!(class.name(), "users");
        let mapped = class.map_entry(&u).expect("maps");
        assert_eq!(mapped.dn, "CN=Ann Lee,ou=people,dc=example,dc=com");
        assert_eq!(mapped.texts("uid"), ["alee"]);
        assert_eq!(mapped.texts("pwdAccountLockedTime"), ["000001010000Z"]);
        assert!(mapped.texts("objectClass").contains(&"inetOrgPerson".to_string()));
    }

    #[test]
    fn ldap_people_map_to_ad_users() {
        let m = pipe_of(Direction::LdapToAd);
        let mut u = Entry::new("cn=Ann Lee,ou=people,dc=example,dc=com");
        for (a, v) in [("objectClass", "inetOrgPerson"), ("uid", "alee"), ("cn", "Ann Lee"), ("sn", "Lee")] {
            u.add(a, v);
        }
        let class = m.select_class(&u.dn, Some(&u)).expect("a class");
        let mapped = class.map_entry(&u).expect("maps");
        assert_eq!(mapped.dn, "cn=Ann Lee,CN=Users,DC=samdom,DC=example,DC=com");
        assert_eq!(mapped.texts("sAMAccountName"), ["alee"]);
        assert_eq!(mapped.texts("userPrincipalName"), ["alee@samdom.example.com"]);
        assert_eq!(mapped.texts("userAccountControl"), ["512"]);
    }
}
