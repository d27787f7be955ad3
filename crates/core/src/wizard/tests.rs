use super::run::Check;
use super::*;
use crate::model::find_type;
use crate::prompt::{PromptError, Prompter};

/// Answers from a list of lines; fails the test when asked anything.
struct Scripted(Vec<String>, Vec<String>);

impl Prompter for Scripted {
    fn note(&mut self, text: &str) {
        self.1.push(text.to_string());
    }
    fn input(&mut self, prompt: &str, default: Option<&str>, check: Check) -> Result<String, PromptError> {
        loop {
            let a = if self.0.is_empty() { panic!("unexpected question: {prompt}") } else { self.0.remove(0) };
            let a = if a.is_empty() { default.unwrap_or("").to_string() } else { a };
            match check(&a) {
                Ok(v) => return Ok(v),
                Err(e) => self.1.push(format!("re-ask: {e}")),
            }
        }
    }
    fn password(&mut self, _: &str) -> Result<String, PromptError> {
        Ok(self.0.remove(0))
    }
    fn confirm(&mut self, _: &str, d: bool) -> Result<bool, PromptError> {
        Ok(d)
    }
}

fn answers(pairs: &[(&str, &str)]) -> Answers {
    let mut a = Answers::default();
    for (k, v) in pairs {
        a.add(k, v, "test").unwrap();
    }
    a
}

const FLAGS: &[(&str, &str)] = &[
    ("direction", "one-way"),
    ("sourceType", "389ds"),
    ("sourceName", "ds"),
    ("sourceBaseDN", "dc=example,dc=com"),
    ("sourceServer", "ds.example.com:389"),
    ("sourceBindDN", "cn=Directory Manager"),
    ("sourceBindPassword", "secret1"),
    ("destinationType", "openldap"),
    ("destinationName", "ol"),
    ("destinationBaseDN", "dc=example,dc=org"),
    ("destinationServer", "ol.example.com"),
    ("destinationBindDN", "cn=admin,dc=example,dc=org"),
    ("destinationBindPassword", "secret2"),
    ("syncClass", "people"),
    ("syncClassBaseDN", "people:ou=people,dc=example,dc=com"),
    ("syncClassFilter", "people:(objectClass=inetOrgPerson)"),
];

fn no_file(_: &str) -> Result<String, String> {
    Err("no files".into())
}

#[test]
fn flags_make_a_plan_and_commands_that_dsconfig_accepts() {
    let mut p = Scripted(vec![], vec![]);
    let plan = Wizard::new(answers(FLAGS), true, &mut p, &NoProbe, &no_file).run().unwrap();
    assert_eq!(plan.pipe_name, "ds to ol");
    assert_eq!(plan.endpoints[1].servers, vec![HostPort { host: "ol.example.com".into(), port: 389 }]);
    let text = plan.batch_text();
    assert!(text.contains("--set 'from-dn-pattern:**,dc=example,dc=com'"), "{text}");
    assert!(text.contains("--class-name DEFAULT"), "{text}");
    // Every command parses and applies to a fresh configuration.
    let mut config = crate::config::Config::builtin();
    struct Plain;
    impl crate::config::SecretSealer for Plain {
        fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
            Ok(p.to_string())
        }
    }
    let report =
        crate::dsconfig::run_batch("t", &text, &mut config, &Plain, crate::dsconfig::Format::default(), false).unwrap();
    assert_eq!(report.applied, plan.commands().len());
    let class = config.find(find_type("sync-class").unwrap(), &["ds to ol".into(), "people".into()]).unwrap();
    assert_eq!(class.values("include-filter"), vec!["(objectClass=inetOrgPerson)"]);
    assert_eq!(class.values("dn-map"), vec!["ds to ol"]);
    // The saved answers replay to the same plan (passwords apart).
    let saved = plan.answers.to_properties();
    assert!(!saved.contains("secret1"), "{saved}");
    let mut again = Answers::parse_properties(&saved, "saved").unwrap();
    again.overlay(answers(&[("sourceBindPassword", "secret1"), ("destinationBindPassword", "secret2")]));
    let plan2 = Wizard::new(again, true, &mut p, &NoProbe, &no_file).run().unwrap();
    assert_eq!(plan2.batch_text(), text);
}

#[test]
fn no_prompt_names_the_first_missing_answer() {
    let mut p = Scripted(vec![], vec![]);
    let a: Vec<(&str, &str)> = FLAGS.iter().filter(|(k, _)| *k != "sourceBaseDN").copied().collect();
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().starts_with("missing answer --sourceBaseDN"), "{e}");
    let e = Wizard::new(answers(&FLAGS[..7]), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().starts_with("missing answer --destinationBaseDN"), "{e}");
}

#[test]
fn preparing_needs_the_connection_tests_and_a_yes_or_no() {
    let mut p = Scripted(vec![], vec![]);
    let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
    a.extend([("prepareSourceServer", "yes"), ("sourceAdminBindPassword", "pw")]);
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().contains("--sourceAdminBindDN: cannot read") && e.to_string().contains(NO_PREPARE), "{e}");
    let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
    a.push(("prepareDestinationServer", "perhaps"));
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().contains("invalid answer --prepareDestinationServer 'perhaps'"), "{e}");
}

#[test]
fn wrong_answers_are_refused_with_the_reason() {
    let mut p = Scripted(vec![], vec![]);
    let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
    a[3] = ("sourceBaseDN", "dc=example,,dc=com");
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().contains("--sourceBaseDN 'dc=example,,dc=com'"), "{e}");
    let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
    a.push(("sourceBaseDN", "ou=people,dc=example,dc=com"));
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().contains("overlaps"), "{e}");
    let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
    a[15] = ("syncClassFilter", "people:(objectClass=inetOrgPerson");
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().contains("not a valid LDAP filter"), "{e}");
    let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
    a[14] = ("syncClassBaseDN", "people:ou=people,dc=other");
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().contains("not within the source's base DNs"), "{e}");
    let e = Answers::parse_properties("sourceBaseDn=x\nsurceName=y\n", "f.properties").unwrap_err();
    assert!(e.to_string().contains("did you mean 'sourceName'"), "{e}");
}

#[test]
fn interactive_answers_are_re_asked() {
    let lines = [
        "", // one-way
        "7",
        "1",
        "", // 7 is not in the list, then 389ds; name default
        "dc=bad,,x",
        "dc=example,dc=com",
        "",  // a bad DN is re-asked
        "1", // security none
        "nohost:abc",
        "ds:389",
        "",
        "", // not prepared
        "cn=Directory Manager",
        "pw",
        "", // unique id default
        "2",
        "ol",
        "dc=example,dc=com",
        "",
        "1",
        "ol:389",
        "",
        "no",
        "cn=admin,dc=example,dc=com",
        "pw2",
        "", // pipe name
        "people",
        "ou=people,dc=example,dc=com",
        "",
        "(objectClass=person)",
        "",
        "only:cn,sn",
        "creates",
        "dn,uid",
        "", // no more classes
        "none",
    ];
    let mut p = Scripted(lines.iter().map(|s| s.to_string()).collect(), vec![]);
    let plan = Wizard::new(Answers::default(), false, &mut p, &NoProbe, &no_file).run().unwrap();
    assert!(p.0.is_empty(), "unused answers: {:?}", p.0);
    let notes = p.1.join("\n");
    assert!(notes.contains("re-ask: 7 is not in the list"), "{notes}");
    assert!(notes.contains("re-ask: 'dc=bad,,x' is not a valid DN"), "{notes}");
    assert!(notes.contains("re-ask: 'abc' in 'nohost:abc' is not a port"), "{notes}");
    assert_eq!(plan.classes[0].attributes, Attributes::Only(vec!["cn".into(), "sn".into()]));
    assert_eq!(plan.default_ops, None);
    assert_eq!(plan.endpoints[0].unique_id.as_deref(), Some("nsUniqueId"));
    assert!(!plan.batch_text().contains("DEFAULT"));
}

#[test]
fn bidirectional_makes_two_pipes_that_ignore_their_own_changes() {
    let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
    a[0] = ("direction", "bidirectional");
    a.push(("sourceSecurity", "ssl"));
    a.push(("sourceTrust", "trust-all"));
    let mut p = Scripted(vec![], vec![]);
    let plan = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap();
    assert_eq!(plan.reverse_pipe_name.as_deref(), Some("ol to ds"));
    let text = plan.batch_text();
    let mut config = crate::config::Config::builtin();
    struct Plain;
    impl crate::config::SecretSealer for Plain {
        fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
            Ok(p.to_string())
        }
    }
    crate::dsconfig::run_batch("t", &text, &mut config, &Plain, crate::dsconfig::Format::default(), false).unwrap();
    let source = config.get("sync-source", "ds").unwrap();
    assert_eq!(source.values("ignore-changes-by-dn"), vec!["cn=Directory Manager"]);
    let reverse = config.get("sync-source", "ol").unwrap();
    assert_eq!(reverse.variant.as_deref(), Some("openldap"));
    assert_eq!(reverse.values("unique-id-attribute"), vec!["entryUUID"]);
    // The reverse pipe's class covers the same entries at the other end, through the reverse DN map.
    let class = config.find(find_type("sync-class").unwrap(), &["ol to ds".into(), "people".into()]).unwrap();
    assert_eq!(class.values("include-base-dn"), vec!["ou=people,dc=example,dc=org"]);
    assert_eq!(class.values("dn-map"), vec!["ol to ds"]);
    let server = config.get("external-server", "ds ds.example.com:389").unwrap();
    assert_eq!(server.values("connection-security"), vec!["ssl"]);
    assert_eq!(server.values("trust-manager-provider"), vec!["Blind Trust"]);
    assert_eq!(config.get("trust-manager-provider", "Blind Trust").unwrap().values("enabled"), vec!["true"]);
}

#[test]
fn base_dns_on_one_server_must_not_overlap() {
    let mut a: Vec<(&str, &str)> = FLAGS.to_vec();
    a[9] = ("destinationBaseDN", "ou=copy,dc=example,dc=com");
    a[10] = ("destinationServer", "ds.example.com:389");
    let mut p = Scripted(vec![], vec![]);
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().contains("overlaps the base DN 'dc=example,dc=com' of the source"), "{e}");
}

#[test]
fn names_in_use_are_refused() {
    let mut config = crate::config::Config::builtin();
    struct Plain;
    impl crate::config::SecretSealer for Plain {
        fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
            Ok(p.to_string())
        }
    }
    let mut p = Scripted(vec![], vec![]);
    let plan = Wizard::new(answers(FLAGS), true, &mut p, &NoProbe, &no_file).run().unwrap();
    crate::dsconfig::run_batch("t", &plan.batch_text(), &mut config, &Plain, Default::default(), false).unwrap();
    let e = Wizard::new(answers(FLAGS), true, &mut p, &NoProbe, &no_file).with_existing(&config).run().unwrap_err();
    assert!(e.to_string().contains("--sourceName 'ds': the configuration already has a Sync Source 'ds'"), "{e}");
}

#[test]
fn active_directory_gets_the_preset_for_each_pipe() {
    use crate::mapping::presets::{objects, AdLdapPlaces, Direction};
    let ad: &[(&str, &str)] = &[
        ("sourceType", "active-directory"),
        ("sourceName", "ad"),
        ("sourceBaseDN", "DC=samdom,DC=example,DC=com"),
        ("sourceServer", "dc.example.com:636"),
        ("sourceSecurity", "ssl"),
        ("sourceTrust", "trust-all"),
        ("sourceBindDN", "CN=Administrator,CN=Users,DC=samdom,DC=example,DC=com"),
        ("sourceBindPassword", "secret1"),
    ];
    let mut a: Vec<(&str, &str)> = FLAGS[..1].iter().chain(ad).chain(&FLAGS[7..13]).copied().collect();
    a[0] = ("direction", "bidirectional");
    let mut p = Scripted(vec![], vec![]);
    let plan = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap();
    let places = AdLdapPlaces {
        ad_users: "CN=Users,DC=samdom,DC=example,DC=com".into(),
        ad_groups: "CN=Users,DC=samdom,DC=example,DC=com".into(),
        ldap_people: "ou=people,dc=example,dc=org".into(),
        ldap_groups: "ou=groups,dc=example,dc=org".into(),
        upn_suffix: "samdom.example.com".into(),
    };
    assert_eq!(plan.ad_preset.as_ref().map(|p| format!("{p:?}")), Some(format!("{places:?}")));
    assert!(plan.review().contains("the Active Directory preset"), "{}", plan.review());
    struct Plain;
    impl crate::config::SecretSealer for Plain {
        fn seal(&self, p: &str) -> Result<String, crate::error::ConfigError> {
            Ok(p.to_string())
        }
    }
    let mut config = crate::config::Config::builtin();
    crate::dsconfig::run_batch("t", &plan.batch_text(), &mut config, &Plain, Default::default(), false).unwrap();
    for (pipe, d) in [("ad to ol", Direction::AdToLdap), ("ol to ad", Direction::LdapToAd)] {
        // The preset's own objects (made for a pipe "p": pipe names with spaces are the wizard's).
        let want = objects(d, "p", &ad::slug(pipe), &places).unwrap();
        for o in &want {
            let mut names = o.names.clone();
            if o.object_type.name == "sync-class" {
                names[0] = pipe.to_string();
            }
            let got = config.find(o.object_type, &names).unwrap_or_else(|| panic!("{names:?} missing"));
            assert_eq!(got.props, o.props, "{:?}", o.names);
        }
        let classes = config.children("sync-class", &[pipe.to_string()]);
        assert_eq!(classes.len(), 2, "{pipe}: only the preset's classes");
    }
    // One-way into AD: the preset of that direction, the UPN suffix asked (here its default).
    let back: &[(&str, &str)] = &[
        ("direction", "one-way"),
        ("sourceType", "openldap"),
        ("sourceName", "ol"),
        ("sourceBaseDN", "dc=example,dc=org"),
        ("sourceServer", "ol.example.com"),
        ("sourceBindDN", "cn=admin,dc=example,dc=org"),
        ("sourceBindPassword", "secret2"),
        ("destinationType", "active-directory"),
        ("destinationName", "ad"),
        ("destinationBaseDN", "DC=samdom,DC=example,DC=com"),
        ("destinationServer", "dc.example.com:389"),
        ("destinationBindDN", "CN=Administrator,CN=Users,DC=samdom,DC=example,DC=com"),
        ("destinationBindPassword", "secret1"),
    ];
    let plan = Wizard::new(answers(back), true, &mut p, &NoProbe, &no_file).run().unwrap();
    assert_eq!(plan.ad_preset.as_ref().map(|p| p.upn_suffix.as_str()), Some("samdom.example.com"));
    let text = plan.batch_text();
    assert!(
        text.contains("--mapping-name userPrincipalName")
            && text.contains("--class-name users")
            && !text.contains("ad-to-ol"),
        "{text}"
    );
    // Class answers with the preset are refused, naming the flag.
    let mut with_class = a.clone();
    with_class.push(("syncClass", "people"));
    let e = Wizard::new(answers(&with_class), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().starts_with("--syncClass: the Active Directory preset replaces"), "{e}");
    // No: classes are asked for as before.
    a.push(("activeDirectoryPreset", "no"));
    let e = Wizard::new(answers(&a), true, &mut p, &NoProbe, &no_file).run().unwrap_err();
    assert!(e.to_string().starts_with("missing answer --syncClass"), "{e}");
}

#[test]
fn translate_moves_dns_between_bases() {
    assert_eq!(translate_dn("ou=people,dc=a", &["dc=a".into()], &["o=b,c=x".into()]), "ou=people,o=b,c=x");
}

/// The secrets the wizard holds are masked wherever its values are printed with `{:?}` (a log line, an error).
#[test]
fn debug_of_the_wizards_values_masks_their_secrets() {
    let s = |v: &str| crate::secret::Secret::new(v);
    let values: Vec<String> = vec![
        format!("{:?}", http::ScimAuth::Bearer { token: s("T0kenS3cret") }),
        format!("{:?}", http::ScimAuth::Basic { username: "u".into(), password: s("PassS3cret") }),
        format!(
            "{:?}",
            http::ScimAuth::ClientCredentials {
                token_url: "t".into(),
                client_id: "c".into(),
                client_secret: s("CliS3cret")
            }
        ),
        format!(
            "{:?}",
            Http::PingOne {
                api_url: "a".into(),
                auth_url: None,
                environment_id: "e".into(),
                client_id: "c".into(),
                client_secret: s("P1S3cret"),
                populations: vec![],
            }
        ),
        format!(
            "{:?}",
            probe::PrepareRequest {
                admin_dn: "cn=a",
                admin_password: &s("AdmS3cret"),
                base_dn: "dc=x",
                sync_dn: "cn=s",
                sync_password: &s("SyncS3cret"),
                is_source: true,
                is_destination: false,
            }
        ),
    ];
    for v in values {
        assert!(!v.contains("S3cret") && v.contains("*****"), "{v}");
    }
}
