//! dsconfig end to end: the real binary on a temporary server root.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::path::Path;

use util::corpus::{broken, corpus_file, corpus_names};
use util::Root;

#[test]
fn every_corpus_file_applies_or_fails_at_its_broken_line() {
    let names = corpus_names();
    assert_eq!(names.len(), 12, "the corpus has 12 batch files");
    for name in names {
        let root = Root::new();
        let file = corpus_file(&root, &name);
        let before = root.config();
        let run = root.dsconfig(&["--no-prompt", "--batch-file", &file]);
        match broken(&name) {
            None => {
                run.ok();
            }
            Some((line, msg)) => {
                let err = run.fails();
                assert!(err.contains(&format!("{file}:{line}: {msg}")), "{name}: {err}");
                assert!(err.contains("nothing was applied"), "{err}");
                assert_eq!(root.config(), before, "{name}: a failed batch must leave the store unchanged");
                // With --batch-continue-on-error everything else applies.
                let run = root.dsconfig(&["--no-prompt", "--batch-file", &file, "--batch-continue-on-error"]);
                assert_eq!(run.code(), 1);
                let err = run.stderr();
                assert!(err.contains(&format!("error: {file}:{line}: {msg}")), "{err}");
                assert!(err.contains("1 failed"), "{err}");
                let cfg = root.config();
                assert!(cfg.get("sync-pipe", "pd-to-pingone").is_some());
                assert_eq!(cfg.children("attribute-mapping", &["PingOneUserMap".into()]).len(), 6);
                assert_eq!(
                    cfg.children("json-attribute", &["pd-to-pingone".into(), "pd-to-pinone-users".into()]).len(),
                    2
                );
            }
        }
    }
}

#[test]
fn corpus_objects_are_stored_as_written() {
    let root = Root::new();
    let file = corpus_file(&root, "server-profiles__simple-sync__pingdatasync__20-sync-pipe-build.dsconfig.subst");
    root.dsconfig(&["--no-prompt", "--batch-file", &file]).ok();
    let out = root.dsconfig(&["get-dn-map-prop", "--map-name", "source_to_destination", "--script-friendly"]).ok();
    assert!(out.contains("from-dn-pattern\t**,ou=source,dc=example,dc=com\n"), "{out}");
    assert!(out.contains("to-dn-pattern\t{1},ou=destination,dc=example,dc=com\n"), "{out}");
    let out = root.dsconfig(&["get-external-server-prop", "--server-name", "pingdirectory"]).ok();
    assert!(out.contains("password"), "{out}");
    assert!(out.contains("*****"), "{out}");
    assert!(!out.contains("AABkwRkIRfApR"), "an obfuscated password must not be shown: {out}");
    let out = root
        .dsconfig(&[
            "get-sync-class-prop",
            "--pipe-name",
            "pingdirectory_source-to-pingdirectory_destination",
            "--class-name",
            "everythin_as_is",
            "--property",
            "auto-mapped-source-attribute",
            "--property",
            "modifies-as-creates",
            "-s",
        ])
        .ok();
    assert_eq!(out, "auto-mapped-source-attribute\t-all-\nmodifies-as-creates\ttrue\n");
    let file = corpus_file(&root, "server-profiles__simple-sync__pingdatasync__10-log-publisher-sync.dsconfig");
    root.dsconfig(&["--no-prompt", "--batch-file", &file]).ok();
    let out = root
        .dsconfig(&[
            "get-log-publisher-prop",
            "--publisher-name",
            "File-Based Sync Logger",
            "--property",
            "logged-message-type",
            "-s",
        ])
        .ok();
    let types: Vec<&str> = out.lines().map(|l| l.split('\t').nth(1).unwrap()).collect();
    assert_eq!(
        types,
        [
            "change-failed-detailed",
            "dropped-op-type-not-synchronized",
            "dropped-out-of-scope",
            "no-change-needed",
            "change-applied-detailed",
            "change-detected-detailed",
            "entry-mapping-details"
        ]
    );
}

#[test]
fn create_list_get_set_delete() {
    let root = Root::new();
    root.dsconfig(&[
        "create-external-server",
        "--server-name",
        "ds1",
        "--type",
        "generic-ldap",
        "--set",
        "server-host-name:127.0.0.1",
        "--set",
        "server-port:13890",
        "--set",
        "bind-dn:cn=Directory Manager",
        "--set",
        "password:Password1",
    ])
    .ok();
    root.dsconfig(&[
        "create-sync-source",
        "--source-name",
        "src",
        "--type",
        "generic-ldap",
        "--set",
        "base-dn:dc=example,dc=com",
        "--set",
        "server:ds1",
    ])
    .ok();
    root.dsconfig(&[
        "create-external-server",
        "--server-name",
        "ol",
        "--type",
        "generic-ldap",
        "--set",
        "server-host-name:127.0.0.1",
    ])
    .ok();
    root.dsconfig(&[
        "create-sync-destination",
        "--destination-name",
        "dst",
        "--type",
        "generic-ldap",
        "--set",
        "base-dn:dc=example,dc=com",
        "--set",
        "server:ol",
    ])
    .ok();
    let out = root
        .dsconfig(&[
            "create-sync-pipe",
            "--pipe-name",
            "p1",
            "--set",
            "sync-source:src",
            "--set",
            "sync-destination:dst",
        ])
        .ok();
    assert_eq!(out, "The Sync Pipe 'p1' was created successfully\n");
    root.dsconfig(&[
        "create-sync-class",
        "--pipe-name",
        "p1",
        "--class-name",
        "people",
        "--set",
        "include-base-dn:ou=people,dc=example,dc=com",
        "--set",
        "destination-correlation-attributes:dn,uid",
        "--set",
        "destination-correlation-attributes:uid",
    ])
    .ok();

    let list = root.dsconfig(&["list-sync-pipes"]).ok();
    assert_eq!(list, "Sync Pipe\n---------\np1\n");
    let list = root.dsconfig(&["list-external-servers", "--property", "server-port", "--script-friendly"]).ok();
    assert_eq!(list, "ds1\tgeneric-ldap\t13890\nol\tgeneric-ldap\t389\n");
    let list = root.dsconfig(&["list-sync-classes", "--pipe-name", "p1", "-s"]).ok();
    assert_eq!(list, "people\n");

    root.dsconfig(&[
        "set-sync-pipe-prop",
        "--pipe-name",
        "p1",
        "--set",
        "started:true",
        "--set",
        "num-worker-threads:8",
    ])
    .ok();
    let get = root
        .dsconfig(&[
            "get-sync-pipe-prop",
            "--pipe-name",
            "p1",
            "--property",
            "started",
            "--property",
            "num-worker-threads",
            "--property",
            "change-detection-polling-interval",
        ])
        .ok();
    assert_eq!(
        get,
        "Property                          : Value(s)\n\
         ----------------------------------:---------\n\
         started                           : true\n\
         num-worker-threads                : 8\n\
         change-detection-polling-interval : 500 ms\n"
    );
    root.dsconfig(&[
        "set-sync-class-prop",
        "--pipe-name",
        "p1",
        "--class-name",
        "people",
        "--remove",
        "destination-correlation-attributes:uid",
        "--add",
        "include-filter:(objectClass=person)",
    ])
    .ok();
    let get = root
        .dsconfig(&[
            "get-sync-class-prop",
            "--pipe-name",
            "p1",
            "--class-name",
            "people",
            "--property",
            "destination-correlation-attributes",
            "--property",
            "include-filter",
            "-s",
        ])
        .ok();
    assert_eq!(get, "destination-correlation-attributes\tdn,uid\ninclude-filter\t(objectClass=person)\n");
    root.dsconfig(&["set-sync-pipe-prop", "--pipe-name", "p1", "--reset", "num-worker-threads"]).ok();
    let get =
        root.dsconfig(&["get-sync-pipe-prop", "--pipe-name", "p1", "--property", "num-worker-threads", "-s"]).ok();
    assert_eq!(get, "num-worker-threads\t32\n");

    // Deleting the pipe deletes its classes.
    root.dsconfig(&["delete-sync-pipe", "--pipe-name", "p1"]).ok();
    assert!(root.config().all("sync-class").is_empty());
    assert_eq!(root.dsconfig(&["list-sync-pipes"]).ok(), "There are no Sync Pipes\n");
}

#[test]
fn references_cannot_dangle() {
    let root = Root::new();
    let err = root
        .dsconfig(&[
            "create-sync-pipe",
            "--pipe-name",
            "p",
            "--set",
            "sync-source:nope",
            "--set",
            "sync-destination:nope",
        ])
        .fails();
    assert!(err.contains("error: property 'sync-source' of the Sync Pipe 'p' refers to the Sync Source 'nope', which does not exist (none exist yet)"), "{err}");
    root.dsconfig(&[
        "create-external-server",
        "--server-name",
        "s",
        "--type",
        "generic-ldap",
        "--set",
        "server-host-name:h",
    ])
    .ok();
    root.dsconfig(&[
        "create-sync-source",
        "--source-name",
        "src",
        "--type",
        "openldap",
        "--set",
        "base-dn:dc=x",
        "--set",
        "server:s",
    ])
    .ok();
    let err = root.dsconfig(&["delete-external-server", "--server-name", "s"]).fails();
    assert!(
        err.contains(
            "the External Server 's' cannot be deleted: it is referred to by Sync Source 'src' (property server)"
        ),
        "{err}"
    );
    let err = root.dsconfig(&["set-sync-source-prop", "--source-name", "src", "--add", "server:other"]).fails();
    assert!(err.contains("refers to the External Server 'other', which does not exist (existing: s)"), "{err}");
    // A child of a missing parent.
    let err = root.dsconfig(&["create-sync-class", "--pipe-name", "nopipe", "--class-name", "c"]).fails();
    assert!(err.contains("the Sync Pipe 'nopipe' does not exist"), "{err}");
}

#[test]
fn values_are_checked_with_reason_and_position() {
    let root = Root::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["create-dn-map", "--map-name", "m", "--set", "from-dn-pattern:**,**,dc=x", "--set", "to-dn-pattern:{1}"],
            "DN Map 'm'",
        ),
        (&["create-attribute-map", "--map-name", "am"], ""),
        (
            &[
                "create-attribute-mapping",
                "--map-name",
                "am",
                "--mapping-name",
                "mail",
                "--type",
                "constructed",
                "--set",
                "value-pattern:{uid@example.com",
            ],
            "value-pattern",
        ),
        (
            &["create-sync-pipe", "--pipe-name", "p", "--set", "change-detection-polling-interval:5 parsecs"],
            "change-detection-polling-interval",
        ),
        (
            &[
                "create-external-server",
                "--server-name",
                "s",
                "--type",
                "generic-ldap",
                "--set",
                "server-host-name:h",
                "--set",
                "bind-dn:cn=x,,dc=y",
            ],
            "bind-dn",
        ),
        (
            &[
                "create-external-server",
                "--server-name",
                "s",
                "--type",
                "generic-ldap",
                "--set",
                "server-host-name:h",
                "--set",
                "server-port:70000",
            ],
            "an integer from 1 to 65535",
        ),
        (
            &[
                "create-external-server",
                "--server-name",
                "s",
                "--type",
                "generic-ldap",
                "--set",
                "server-host-name:h",
                "--set",
                "connection-security:tls",
            ],
            "expected one of: none, ssl, start-tls, starttls",
        ),
    ];
    for (args, expect) in cases {
        let run = root.dsconfig(args);
        if expect.is_empty() {
            run.ok();
            continue;
        }
        let err = run.fails();
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    // A bad filter names the position.
    root.dsconfig(&[
        "create-external-server",
        "--server-name",
        "s",
        "--type",
        "generic-ldap",
        "--set",
        "server-host-name:h",
    ])
    .ok();
    root.dsconfig(&[
        "create-sync-source",
        "--source-name",
        "src",
        "--type",
        "openldap",
        "--set",
        "base-dn:dc=x",
        "--set",
        "server:s",
    ])
    .ok();
    root.dsconfig(&[
        "create-sync-destination",
        "--destination-name",
        "dst",
        "--type",
        "generic-ldap",
        "--set",
        "base-dn:dc=y",
        "--set",
        "server:s",
    ])
    .ok();
    root.dsconfig(&[
        "create-sync-pipe",
        "--pipe-name",
        "p",
        "--set",
        "sync-source:src",
        "--set",
        "sync-destination:dst",
    ])
    .ok();
    let err = root
        .dsconfig(&[
            "create-sync-class",
            "--pipe-name",
            "p",
            "--class-name",
            "c",
            "--set",
            "include-filter:(&(uid=a)(cn=b)",
        ])
        .fails();
    assert!(
        err.contains(
            "invalid value '(&(uid=a)(cn=b)' for property 'include-filter' of the Sync Class 'c' of Sync Pipe 'p'"
        ),
        "{err}"
    );
    assert!(err.contains("position"), "{err}");
    // Unknown property: suggestion and the valid list.
    let err = root.dsconfig(&["set-sync-pipe-prop", "--pipe-name", "p", "--set", "num-worker-thread:2"]).fails();
    assert!(err.contains("has no property 'num-worker-thread': did you mean 'num-worker-threads'?"), "{err}");
    // Unknown --type lists the valid ones.
    let err = root.dsconfig(&["create-sync-source", "--source-name", "x", "--type", "ldapx"]).fails();
    assert!(err.contains("'ldapx' is not a type of Sync Source: expected one of ping-identity, generic-ldap"), "{err}");
    // A missing --type.
    let err = root.dsconfig(&["create-external-server", "--server-name", "y"]).fails();
    assert!(err.contains("creating a External Server needs --type") || err.contains("needs --type"), "{err}");
    // Required properties.
    let err = root.dsconfig(&["create-sync-pipe", "--pipe-name", "q"]).fails();
    assert!(err.contains("the Sync Pipe 'q' needs a value for 'sync-source', 'sync-destination'"), "{err}");
    assert_eq!(root.dsconfig(&["create-sync-pipe", "--pipe-name", "q"]).code(), 1);
    assert_eq!(root.dsconfig(&["create-sync-pipes"]).code(), 2, "usage errors exit 2");
}

#[test]
fn a_failed_batch_changes_nothing_and_names_file_and_line() {
    let root = Root::new();
    let file = root.write(
        "bad.dsconfig",
        "dsconfig create-external-server \\\n  --server-name s \\\n  --type generic-ldap \\\n  --set server-host-name:h\n\n# a comment\ndsconfig create-sync-source --source-name src --type openldap \\\n   --set base-dn:dc=x --set server:s\ndsconfig create-sync-pipe --pipe-name p \\\n    --set sync-source:src --set sync-destination:missing\n",
    );
    let file = file.display().to_string();
    let before = root.config();
    let err = root.dsconfig(&["--no-prompt", "--batch-file", &file]).fails();
    assert!(
        err.contains(&format!(
            "{file}:9: property 'sync-destination' of the Sync Pipe 'p' refers to the Sync Destination 'missing'"
        )),
        "{err}"
    );
    assert_eq!(root.config(), before);
    assert!(!root.path().join("logs/config-audit.log").exists(), "nothing applied, nothing audited");
    // The doc typo: a missing backslash ends the command early; the next line is not a command.
    let file = root.write(
        "typo.dsconfig",
        "dsconfig create-scim2-attribute-mapping \\\n     --mapping-name \"name Complex Attribute\" \\\n     --type composed-complex \\\n     --set scim-attribute-name:name\\\n     --set attribute-usage:fetch \\\n     --set attribute-usage:create-during-resync\n     --set attribute-usage:update-during-realtime-sync \\\n     --set \"sub-attribute-mapping:First Name\"\n",
    ).display().to_string();
    let err = root.dsconfig(&["--batch-file", &file]).fails();
    assert!(
        err.contains(&format!(
            "{file}:1: the SCIM2 Attribute Mapping 'name Complex Attribute' needs a value for 'sub-attribute-mapping'"
        )),
        "{err}"
    );
    let err = root.dsconfig(&["--batch-file", &file, "--batch-continue-on-error"]).fails();
    assert!(
        err.contains(&format!("{file}:7: expected a subcommand (such as create-sync-pipe) before '--set'")),
        "{err}"
    );
}

#[test]
fn secrets_never_appear_in_output_store_or_logs() {
    let root = Root::new();
    let secret = "S3cr3t-Pa55word-xyz";
    let out = root.dsconfig(&[
        "create-external-server",
        "--server-name",
        "s",
        "--type",
        "generic-ldap",
        "--set",
        "server-host-name:h",
        "--set",
        &format!("password:{secret}"),
    ]);
    assert!(!out.stdout().contains(secret) && !out.stderr().contains(secret));
    let file = root.write("b.dsconfig", &format!("dsconfig create-http-authorization-method --method-name m --type static-bearer-token --set bearer-token:{secret}-token\n"));
    let run = root.dsconfig(&["--batch-file", file.to_str().unwrap()]);
    run.ok();
    assert!(!run.stderr().contains(secret));
    std::fs::remove_file(&file).unwrap();
    let get = root.dsconfig(&["get-external-server-prop", "--server-name", "s", "--property", "password"]).ok();
    assert!(get.contains("*****") && !get.contains(secret), "{get}");
    // Nothing under the root holds the clear text.
    for entry in walk(root.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(secret), "{} holds a secret", entry.display());
    }
    let audit = std::fs::read_to_string(root.path().join("logs/config-audit.log")).unwrap();
    assert!(audit.contains("--set 'password:*****'"), "{audit}");
    assert!(audit.contains("--set 'bearer-token:*****'"), "{audit}");
    // The key and the store are private.
    use std::os::unix::fs::PermissionsExt;
    for f in ["config/encryption.key", "config/config.db", "logs/config-audit.log"] {
        let mode = std::fs::metadata(root.path().join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{f} has mode {mode:o}");
    }
    // The engine can read it back.
    let store = ferrosync::store::Store::open(&ferrosync::store::ServerRoot::new(root.path())).unwrap();
    let cfg = store.load().unwrap();
    let sealed = cfg.get("external-server", "s").unwrap().first("password").unwrap().to_string();
    assert_eq!(store.secrets().decrypt(&sealed).unwrap().expose(), secret);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_audit_log_replays() {
    let root = Root::new();
    root.dsconfig(&[
        "create-dn-map",
        "--map-name",
        "m one",
        "--set",
        "from-dn-pattern:*,ou=people,dc=x",
        "--set",
        "to-dn-pattern:{1},ou=staff,dc=y",
    ])
    .ok();
    root.dsconfig(&["create-attribute-map", "--map-name", "am"]).ok();
    root.dsconfig(&[
        "create-attribute-mapping",
        "--map-name",
        "am",
        "--mapping-name",
        "name",
        "--type",
        "constructed",
        "--set",
        "value-pattern:{{\"given\":\"{uid:jsonEscape}\"}}",
    ])
    .ok();
    let audit = std::fs::read_to_string(root.path().join("logs/config-audit.log")).unwrap();
    let other = Root::new();
    let file = other.write("replay.dsconfig", &audit);
    other.dsconfig(&["--batch-file", file.to_str().unwrap()]).ok();
    assert_eq!(other.config(), root.config());
}

#[test]
fn connection_arguments_are_accepted_with_a_note() {
    let root = Root::new();
    let run = root.dsconfig(&[
        "-h",
        "localhost",
        "-p",
        "1389",
        "-D",
        "cn=Directory Manager",
        "-w",
        "secret",
        "-X",
        "--no-prompt",
        "list-sync-pipes",
    ]);
    run.ok();
    let err = run.stderr();
    assert!(err.starts_with("note: ignoring -h -p -D -w -X"), "{err}");
    assert!(!err.contains("secret"));
}

#[test]
fn server_root_from_flag_env_and_launcher() {
    let root = Root::new();
    let dsconfig = util::bin("dsconfig");
    // The flag before the subcommand.
    let st = std::process::Command::new(&dsconfig)
        .args(["--server-root", root.path().to_str().unwrap(), "create-location", "--location-name", "east"])
        .env_remove("FERROSYNC_ROOT")
        .status()
        .unwrap();
    assert!(st.success());
    // The environment.
    let out = std::process::Command::new(&dsconfig)
        .args(["list-locations", "-s"])
        .env("FERROSYNC_ROOT", root.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "east\n");
    // The launcher's root.
    let out = std::process::Command::new(&dsconfig)
        .args(["list-locations", "-s"])
        .env_remove("FERROSYNC_ROOT")
        .env("FERROSYNC_LAUNCHER_ROOT", root.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "east\n");
    // Else the current folder.
    let out = std::process::Command::new(&dsconfig)
        .args(["list-locations", "-s"])
        .env_remove("FERROSYNC_ROOT")
        .env_remove("FERROSYNC_LAUNCHER_ROOT")
        .current_dir(root.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "east\n");
}

#[test]
fn help_and_list_properties() {
    let root = Root::new();
    let help = root.dsconfig(&["--help"]).ok();
    assert!(help.contains("create-sync-pipe") && help.contains("--batch-file"), "{help}");
    let sync = root.dsconfig(&["--help-sync"]).ok();
    assert!(sync.contains("list-sync-classes") && !sync.contains("create-root-dn-user"), "{sync}");
    let sub = root.dsconfig(&["create-sync-source", "--help"]).ok();
    assert!(sub.starts_with("Usage: dsconfig create-sync-source --source-name NAME --type TYPE"), "{sub}");
    assert!(sub.contains("openldap") && sub.contains("content-sync"), "{sub}");
    let props = root.dsconfig(&["list-properties", "--type", "sync-pipe"]).ok();
    assert!(props.contains("num-worker-threads") && props.contains("Default: 32."), "{props}");
    assert!(!props.contains("retry-backoff-max-wait"), "advanced properties need --advanced");
    let props = root.dsconfig(&["list-properties", "--type", "sync-pipe", "--advanced"]).ok();
    assert!(props.contains("retry-backoff-max-wait"));
    let one = root.dsconfig(&["list-properties", "--type", "external-server", "--property", "password"]).ok();
    assert!(one.contains("sensitive"), "{one}");
}

#[test]
fn unused_types_are_stored_and_flagged() {
    let root = Root::new();
    let file = corpus_file(&root, "server-profiles__simple-sync__pingdirectory__01-root-dns.dsconfig");
    root.dsconfig(&["--batch-file", &file]).ok();
    let out = root
        .dsconfig(&["get-root-dn-user-prop", "--user-name", "Ping Data Sync", "--property", "privilege", "-s"])
        .ok();
    assert_eq!(out.lines().count(), 5, "{out}");
    let help = root.dsconfig(&["create-root-dn-user", "--help"]).ok();
    assert!(help.contains("does not use them"), "{help}");
}

#[test]
fn unused_properties_apply_with_a_one_line_note() {
    let root = Root::new();
    // One command: applied, with one note on standard error.
    let run = root.dsconfig(&[
        "create-external-server",
        "--server-name",
        "ds1",
        "--type",
        "generic-ldap",
        "--set",
        "server-host-name:127.0.0.1",
        "--set",
        "location:east",
    ]);
    run.ok();
    let note = "note: property 'location' of the External Server 'ds1' is accepted for compatibility with \
                PingDataSync but not used by ferrosync";
    assert_eq!(run.stderr().trim_end(), note);
    assert_eq!(root.config().get("external-server", "ds1").unwrap().values("location"), vec!["east"]);
    // A used property prints nothing; --reset of an unused one neither; --quiet silences the note.
    assert_eq!(
        root.dsconfig(&["set-external-server-prop", "--server-name", "ds1", "--set", "server-port:1389"]).stderr(),
        ""
    );
    assert_eq!(
        root.dsconfig(&["set-external-server-prop", "--server-name", "ds1", "--reset", "location"]).stderr(),
        ""
    );
    let quiet =
        root.dsconfig(&["--quiet", "set-external-server-prop", "--server-name", "ds1", "--set", "location:west"]);
    quiet.ok();
    assert_eq!(quiet.stderr(), "");
    // A batch file: every command applies, and each note names the file and line.
    let file = root.write(
        "unused.dsconfig",
        "dsconfig create-dn-map --map-name m --set 'from-dn-pattern:*,dc=x' --set 'to-dn-pattern:{1},dc=y'\n\
         dsconfig set-external-server-prop --server-name ds1 \\\n    --set location:north --set 'max-connection-age:1 h'\n",
    );
    let run = root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]);
    run.ok();
    let f = file.to_str().unwrap();
    let err = run.stderr();
    let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(
        notes,
        vec![
            format!(
                "note: {f}:2: property 'location' of the External Server 'ds1' is accepted for compatibility with \
                 PingDataSync but not used by ferrosync"
            ),
            format!(
                "note: {f}:2: property 'max-connection-age' of the External Server 'ds1' is accepted for \
                 compatibility with PingDataSync but not used by ferrosync"
            ),
        ]
    );
    let cfg = root.config();
    assert_eq!(cfg.get("external-server", "ds1").unwrap().values("max-connection-age"), vec!["1 h"]);
    assert!(cfg.get("dn-map", "m").is_some());
}

/// The audit log cannot be written after the store committed: the tool says what was applied, never that
/// nothing was.
#[test]
fn an_audit_log_that_cannot_be_written_after_the_commit_is_not_reported_as_nothing_applied() {
    let root = Root::new();
    // A directory where the audit log should be: the store opens, the audit line cannot be appended.
    root.dsconfig(&["list-external-servers"]).ok();
    std::fs::create_dir_all(root.path().join("logs/config-audit.log")).unwrap();
    let file = root.write(
        "ok.dsconfig",
        "dsconfig create-external-server --server-name s1 --type generic-ldap --set server-host-name:h1\n\
         dsconfig create-external-server --server-name s2 --type generic-ldap --set server-host-name:h2\n",
    );
    let err = root.dsconfig(&["--no-prompt", "--batch-file", &file.display().to_string()]).fails();
    assert!(!err.contains("nothing was applied"), "{err}");
    assert!(err.contains("2 command(s) of") && err.contains("were applied"), "{err}");
    assert!(
        err.contains("audit log could not be written") && err.contains("config-audit.log: Is a directory"),
        "{err}"
    );
    let config = root.config();
    assert!(config.get("external-server", "s1").is_some() && config.get("external-server", "s2").is_some());

    let err = root.dsconfig(&["set-external-server-prop", "--server-name", "s1", "--set", "server-port:1389"]).fails();
    assert!(err.contains("the command was applied") && err.contains("audit log could not be written"), "{err}");
    assert_eq!(root.config().get("external-server", "s1").and_then(|o| o.first("server-port")), Some("1389"));
}

/// A bind password over `connection-security:none` is applied with a warning that it crosses the network in
/// clear text; with SSL there is no warning. (HTTP's `allow-credentials-over-http:true` note is checked by the
/// SCIM and PingOne tests.)
#[test]
fn clear_text_credentials_are_warned_about() {
    let root = Root::new();
    let create = |name: &str, security: &str| {
        root.dsconfig(&[
            "create-external-server",
            "--server-name",
            name,
            "--type",
            "generic-ldap",
            "--set",
            "server-host-name:127.0.0.1",
            "--set",
            "bind-dn:cn=sync",
            "--set",
            "password:pw1",
            "--set",
            &format!("connection-security:{security}"),
        ])
    };
    let run = create("plain", "none");
    run.ok();
    assert!(
        run.stderr().contains("clear text") && run.stderr().contains("connection-security:ssl"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("pw1"));
    let run = create("tls", "ssl");
    run.ok();
    assert_eq!(run.stderr(), "");
    let run = root.dsconfig(&["set-external-server-prop", "--server-name", "tls", "--set", "connection-security:none"]);
    run.ok();
    assert!(run.stderr().contains("clear text"), "{}", run.stderr());
}

/// `--set password<FILE`, as Ping's server profiles write it: the value is read from the file (one trailing
/// newline dropped), sealed like any secret, and the audit log records the file, never the value; a batch whose
/// file is missing fails at that line and applies nothing.
#[test]
fn a_value_read_from_a_file_is_sealed_and_audited_as_the_file() {
    let root = Root::new();
    let pw = root.write("sync-user.pw", "From-a-File-9\n");
    let batch = root.write(
        "file.dsconfig",
        &format!(
            "dsconfig create-external-server --server-name ds --type generic-ldap --set server-host-name:h \\\n    \
             --set bind-dn:cn=sync --set connection-security:ssl --set \"password<{}\"\n",
            pw.display()
        ),
    );
    root.dsconfig(&["--no-prompt", "--batch-file", batch.to_str().unwrap()]).ok();
    let stored = root.config().get("external-server", "ds").unwrap().values("password").join("");
    assert!(ferrosync::secret::is_sealed(&stored), "{stored}");
    let store = ferrosync::store::Store::open(&ferrosync::store::ServerRoot::new(root.path())).unwrap();
    assert_eq!(store.secrets().decrypt(&stored).unwrap().expose(), "From-a-File-9");
    let audit = std::fs::read_to_string(root.path().join("logs/config-audit.log")).unwrap();
    assert!(audit.contains(&format!("password<{}", pw.display())) && !audit.contains("From-a-File"), "{audit}");

    let before = root.config();
    let missing = root.path().join("missing.pw");
    let bad = root.write(
        "missing.dsconfig",
        &format!(
            "dsconfig create-external-server --server-name ok --type generic-ldap --set server-host-name:h\n\
             dsconfig set-external-server-prop --server-name ds --set \"password<{}\"\n",
            missing.display()
        ),
    );
    let err = root.dsconfig(&["--no-prompt", "--batch-file", bad.to_str().unwrap()]).fails();
    assert!(err.contains(&format!("{}:2", bad.display())) && err.contains(&missing.display().to_string()), "{err}");
    assert_eq!(root.config(), before, "nothing of the batch is applied");
}

/// `--type ldap`, current Ping versions' name for a generic LDAP external server, is accepted and stored as
/// `generic-ldap`; global options may come before the subcommand, as Ping's files write them.
#[test]
fn ping_type_aliases_and_global_options_first() {
    let root = Root::new();
    let batch = root.write(
        "alias.dsconfig",
        "dsconfig --no-prompt create-external-server --server-name l --type ldap --set server-host-name:h\n",
    );
    root.dsconfig(&["--no-prompt", "--batch-file", batch.to_str().unwrap()]).ok();
    assert_eq!(root.config().get("external-server", "l").unwrap().variant.as_deref(), Some("generic-ldap"));
}

/// Ping's setup makes the root user "Directory Manager", which server profiles change: the built-in exists, so
/// `set-root-dn-user-prop` on it applies (stored, flagged as not used).
#[test]
fn the_built_in_root_user_can_be_changed() {
    let root = Root::new();
    let run =
        root.dsconfig(&["set-root-dn-user-prop", "--user-name", "Directory Manager", "--set", "first-name:Directory"]);
    run.ok();
    let cfg = root.config();
    assert_eq!(cfg.get("root-dn-user", "Directory Manager").unwrap().values("first-name"), vec!["Directory"]);
}

/// Ping's other object types (model::catalog): their built-ins exist (listeners, log rotation and retention
/// policies, singletons), and create, set, get, list and delete on them apply, are stored and shown, each with
/// one note that ferrosync does not use them; secrets among their undeclared properties are sealed and masked;
/// a subcommand of no Ping type still fails with a suggestion.
#[test]
fn pings_other_object_types_are_stored_shown_and_flagged() {
    let root = Root::new();
    let batch = root.write(
        "other.dsconfig",
        r#"dsconfig set-access-control-handler-prop \
    --add 'global-aci:(targetattr="*")\
(version 3.0; acl "sync"; allow (read) userdn="ldap:///cn=sync";)'
dsconfig set-connection-handler-prop --handler-name "LDAP Connection Handler" --set listen-port:1389
dsconfig set-connection-handler-prop --handler-name "LDAPS Connection Handler" --set enabled:true \
    --set key-store-pin:Pin-Secret-1
dsconfig create-alert-handler --handler-name Mail --type smtp --set enabled:true --set recipient-address:ops@example.com
dsconfig set-work-queue-prop --set num-worker-threads:16
dsconfig set-log-rotation-policy-prop --policy-name "Size Limit Rotation Policy" --set "file-size-limit:50 mb"
dsconfig create-plugin --plugin-name stats --type periodic-stats-logger --set enabled:true
"#,
    );
    let f = batch.display().to_string();
    let run = root.dsconfig(&["--no-prompt", "--batch-file", &f]);
    run.ok();
    let err = run.stderr();
    let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("note: ")).collect();
    // The rotation policy is used (log rotation): no note for it.
    assert_eq!(notes.len(), 6, "{err}");
    assert!(!err.contains("Rotation Policy"), "{err}");
    assert_eq!(
        notes[0],
        format!(
            "note: {f}:1: the Access Control Handler is stored for compatibility with PingDataSync but not used by \
             ferrosync"
        )
    );
    assert!(notes[3].contains(&format!("{f}:7: the Alert Handler 'Mail' is stored")), "{err}");
    assert!(!err.contains("Pin-Secret-1"), "{err}");

    let acis = root.dsconfig(&["get-access-control-handler-prop", "--property", "global-aci", "-s"]).ok();
    assert_eq!(
        acis,
        "global-aci\t(targetattr=\"*\")(version 3.0; acl \"sync\"; allow (read) userdn=\"ldap:///cn=sync\";)\n"
    );
    let ldaps =
        root.dsconfig(&["get-connection-handler-prop", "--handler-name", "LDAPS Connection Handler", "-s"]).ok();
    assert!(ldaps.contains("enabled\ttrue\n") && ldaps.contains("key-store-pin\t*****\n"), "{ldaps}");
    assert!(!ldaps.contains("Pin-Secret-1"), "{ldaps}");
    let cfg = root.config();
    let pin = cfg.get("connection-handler", "LDAPS Connection Handler").unwrap().values("key-store-pin").join("");
    assert!(ferrosync::secret::is_sealed(&pin), "the PIN is sealed in the store: {pin}");
    assert_eq!(cfg.get("work-queue", "").unwrap().values("num-worker-threads"), vec!["16"]);
    let audit = std::fs::read_to_string(root.path().join("logs/config-audit.log")).unwrap();
    assert!(audit.contains("key-store-pin:*****") && !audit.contains("Pin-Secret-1"), "{audit}");

    let handlers = root.dsconfig(&["list-connection-handlers", "-s"]).ok();
    assert_eq!(
        handlers,
        "HTTP Connection Handler\thttp\nHTTPS Connection Handler\thttp\nJMX Connection Handler\tjmx\n\
         LDAP Connection Handler\tldap\nLDAPS Connection Handler\tldap\nLDIF Connection Handler\tldif\n"
    );
    let policies = root.dsconfig(&["list-log-retention-policies", "-s"]).ok();
    assert!(policies.contains("File Count Retention Policy\tfile-count\n"), "{policies}");
    let size =
        root.dsconfig(&["get-log-rotation-policy-prop", "--policy-name", "size limit rotation policy", "-s"]).ok();
    assert!(size.contains("file-size-limit\t50 mb\n"), "{size}");

    root.dsconfig(&["delete-alert-handler", "--handler-name", "Mail"]).ok();
    assert!(root.config().get("alert-handler", "Mail").is_none());
    let e = root.dsconfig(&["create-plugin", "--plugin-name", "p2"]).fails();
    assert!(e.contains("periodic-stats-logger") && e.contains("third-party"), "{e}");
    let e = root.dsconfig(&["set-acess-control-handler-prop", "--add", "global-aci:x"]).fails();
    assert!(e.contains("unknown subcommand") && e.contains("did you mean 'set-access-control-handler-prop'"), "{e}");
    let e = root.dsconfig(&["create-frobnicator", "--frob-name", "x"]).fails();
    assert!(e.contains("unknown subcommand 'create-frobnicator'"), "{e}");
    // A used object still refuses a property the model does not declare, naming what is valid.
    let e = root
        .dsconfig(&["set-log-publisher-prop", "--publisher-name", "File-Based Sync Logger", "--set", "listen-port:1"])
        .fails();
    assert!(e.contains("listen-port") && e.contains("logged-message-type"), "{e}");
}

/// Every object Ping's setup makes exists in a new server root, so that a profile's `set-...-prop` on it applies:
/// one batch sets a description on each built-in (the root user, the connection handlers, the log publishers, the
/// rotation and retention policies, the trust and key manager providers, the singletons) and each keeps it.
#[test]
fn every_built_in_object_takes_set_prop() {
    use ferrosync::model::{find_type, types::BUILTIN_OBJECTS};
    let root = Root::new();
    let mut batch = String::new();
    let mut set = Vec::new();
    for (i, b) in BUILTIN_OBJECTS.iter().enumerate() {
        let t = find_type(b.type_name).unwrap();
        assert!(t.parent.is_none(), "built-in {} '{}' has a parent", t.name, b.name);
        if t.property(b.variant, "description").is_none() {
            continue;
        }
        let naming = if t.singleton { String::new() } else { format!(" --{} \"{}\"", t.naming_arg, b.name) };
        batch.push_str(&format!("dsconfig set-{}-prop{naming} --set \"description:built-in {i}\"\n", t.name));
        set.push((b, i));
    }
    for kind in [
        "root-dn-user",
        "connection-handler",
        "log-publisher",
        "log-rotation-policy",
        "log-retention-policy",
        "trust-manager-provider",
        "key-manager-provider",
        "access-control-handler",
    ] {
        assert!(set.iter().any(|(b, _)| b.type_name == kind), "no built-in {kind} was set");
    }
    let file = root.write("builtins.dsconfig", &batch);
    root.dsconfig(&["--no-prompt", "--batch-file", file.to_str().unwrap()]).ok();
    let cfg = root.config();
    for (b, i) in set {
        let obj =
            cfg.get(b.type_name, b.name).unwrap_or_else(|| panic!("built-in {} '{}' missing", b.type_name, b.name));
        assert_eq!(obj.values("description"), vec![format!("built-in {i}")], "{} '{}'", b.type_name, b.name);
    }
}
