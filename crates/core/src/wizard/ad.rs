//! The Active Directory preset of the wizard: when one endpoint is Active Directory and the other an LDAP
//! directory, the sync classes, DN maps and attribute maps of [`crate::mapping::presets`] instead of classes
//! asked for by hand (users and groups, `CN=Users` ↔ `ou=people`, `sAMAccountName` ↔ `uid`, ...), for each
//! pipe in its own direction.

use super::{check_dn, check_yes_no, Endpoint, Wizard, WizardError};
use crate::mapping::presets::{batch_text, AdLdapPlaces, Direction};
use crate::syntax::Dn;

/// The endpoint kind of Active Directory.
const AD: &str = "active-directory";

/// The pipe name the preset's text is made with, replaced by the real one (which may hold spaces).
const PLACEHOLDER_PIPE: &str = "preset-pipe";

fn is_ad(e: &Endpoint) -> bool {
    e.kind.key == AD
}

/// Whether the preset fits: one endpoint is Active Directory, the other an LDAP directory.
pub fn applies(a: &Endpoint, b: &Endpoint) -> bool {
    let ldap = |e: &Endpoint| e.http.is_none() && !is_ad(e);
    (is_ad(a) && ldap(b)) || (ldap(a) && is_ad(b))
}

/// The DNS domain of a DN's `DC=` components (`DC=samdom,DC=example,DC=com` gives `samdom.example.com`).
fn dns_domain(dn: &str) -> String {
    dn.split(',')
        .filter_map(|rdn| rdn.trim().split_once('=').filter(|(a, _)| a.trim().eq_ignore_ascii_case("dc")))
        .map(|(_, v)| v.trim().to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// A DN within one of `bases` (the base DNs of `what`).
fn within(bases: &[String], what: &str, s: &str) -> Result<String, String> {
    let d = check_dn(s)?;
    let dn = Dn::parse(&d).map_err(|e| e.to_string())?;
    if bases.is_empty() || bases.iter().filter_map(|b| Dn::parse(b).ok()).any(|b| dn.is_within(&b)) {
        Ok(d)
    } else {
        Err(format!("'{d}' is not within the base DNs of {what} ({})", bases.join("; ")))
    }
}

/// A name made of letters, digits and `-` for the preset's maps (`prefix-people`, ...).
pub(super) fn slug(pipe: &str) -> String {
    let s: String = pipe.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    s.trim_matches('-').to_string()
}

/// The dsconfig commands of the preset for pipe `pipe` from `from` (Active Directory or the LDAP directory).
pub fn preset_commands(pipe: &str, from: &Endpoint, at: &AdLdapPlaces) -> Vec<Vec<String>> {
    let direction = if is_ad(from) { Direction::AdToLdap } else { Direction::LdapToAd };
    let text = batch_text(direction, PLACEHOLDER_PIPE, &slug(pipe), at);
    crate::batch::parse(&text)
        .into_iter()
        .filter_map(Result::ok)
        .map(|c| {
            let mut args = c.args;
            for i in 1..args.len() {
                if args[i - 1] == "--pipe-name" && args[i] == PLACEHOLDER_PIPE {
                    args[i] = pipe.to_string();
                }
            }
            args
        })
        .collect()
}

/// The review's lines about the preset.
pub fn review(at: &AdLdapPlaces) -> String {
    format!(
        "  Sync classes: the Active Directory preset: users {} <-> {}, groups {} <-> {}, sAMAccountName <-> uid\n",
        at.ad_users, at.ldap_people, at.ad_groups, at.ldap_groups
    )
}

impl Wizard<'_> {
    /// When the preset fits, whether to use it, and where the users and groups are on each side.
    pub(super) fn ad_preset(
        &mut self,
        source: &Endpoint,
        destination: &Endpoint,
        bidirectional: bool,
    ) -> Result<Option<AdLdapPlaces>, WizardError> {
        if !applies(source, destination) {
            return Ok(None);
        }
        let yes = self.ask(
            "activeDirectoryPreset",
            "Use the Active Directory preset (users and groups, CN=Users <-> ou=people, sAMAccountName <-> uid, ...)? yes or no",
            Some("yes"),
            &check_yes_no,
        )?;
        if yes != "yes" {
            return Ok(None);
        }
        let class_keys = ["syncClass", "syncClassBaseDN", "syncClassFilter", "syncClassAttributes"];
        let class_keys =
            class_keys.iter().chain(&["syncClassOperations", "syncClassCorrelation", "defaultClassOperations"]);
        if let Some(k) = class_keys.into_iter().find(|k| self.given.get(k).is_some()) {
            return Err(WizardError::Check {
                key: (*k).into(),
                reason: "the Active Directory preset replaces the sync classes: leave out the sync class answers, or give --activeDirectoryPreset no".into(),
            });
        }
        let (ad, ldap) = if is_ad(source) { (source, destination) } else { (destination, source) };
        let (ad_base, ldap_base) =
            (ad.base_dns.first().cloned().unwrap_or_default(), ldap.base_dns.first().cloned().unwrap_or_default());
        let (ad_bases, ldap_bases) = (ad.base_dns.clone(), ldap.base_dns.clone());
        let in_ad = |s: &str| within(&ad_bases, "the Active Directory endpoint", s);
        let in_ldap = |s: &str| within(&ldap_bases, "the LDAP endpoint", s);
        let ad_users = self.ask(
            "activeDirectoryUsersDN",
            "The Active Directory container of the users",
            Some(&format!("CN=Users,{ad_base}")),
            &in_ad,
        )?;
        let ad_groups = self.ask(
            "activeDirectoryGroupsDN",
            "The Active Directory container of the groups",
            Some(&ad_users),
            &in_ad,
        )?;
        let ldap_people = self.ask(
            "ldapPeopleDN",
            "The LDAP container of the people",
            Some(&format!("ou=people,{ldap_base}")),
            &in_ldap,
        )?;
        let ldap_groups = self.ask(
            "ldapGroupsDN",
            "The LDAP container of the groups",
            Some(&format!("ou=groups,{ldap_base}")),
            &in_ldap,
        )?;
        // Only a pipe into Active Directory makes userPrincipalNames.
        let upn_suffix = if bidirectional || is_ad(destination) {
            self.ask(
                "activeDirectoryUPNSuffix",
                "The suffix of the userPrincipalName of new Active Directory users (uid@SUFFIX)",
                Some(&dns_domain(&ad_base)),
                &|s: &str| {
                    let t = s.trim();
                    if t.is_empty() || t.contains(char::is_whitespace) || t.contains('@') {
                        Err(format!("'{t}' is not a domain name such as example.com"))
                    } else {
                        Ok(t.to_string())
                    }
                },
            )?
        } else {
            dns_domain(&ad_base)
        };
        Ok(Some(AdLdapPlaces { ad_users, ad_groups, ldap_people, ldap_groups, upn_suffix }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_slugs() {
        assert_eq!(dns_domain("CN=Users,DC=samdom,DC=example,DC=com"), "samdom.example.com");
        assert_eq!(slug("ad to ol"), "ad-to-ol");
    }
}
