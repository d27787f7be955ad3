//! config-diff end to end: the real binaries on temporary server roots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod util;

use std::collections::BTreeMap;
use std::path::Path;

use ferrosync::store::{ServerRoot, Store};
use util::corpus::{broken, corpus_file, corpus_names};
use util::Root;

/// A configuration as it means: each object's type, names (without case), `--type` and values, secrets in
/// clear (each root seals with its own key, so the stored forms differ).
type Snapshot = Vec<(String, Vec<String>, Option<String>, BTreeMap<String, Vec<String>>)>;

fn snapshot(root: &Path) -> Snapshot {
    let store = Store::open(&ServerRoot::new(root)).unwrap();
    let mut out: Snapshot = store
        .load()
        .unwrap()
        .objects()
        .iter()
        .map(|o| {
            let props = o
                .props
                .iter()
                .map(|(p, vals)| {
                    let plain = vals
                        .iter()
                        .map(|v| match ferrosync::secret::is_sealed(v) {
                            true => store.secrets().decrypt(v).unwrap().expose().to_string(),
                            false => v.clone(),
                        })
                        .collect();
                    (p.clone(), plain)
                })
                .collect();
            (
                o.object_type.name.to_string(),
                o.names.iter().map(|n| n.to_lowercase()).collect(),
                o.variant.clone(),
                props,
            )
        })
        .collect();
    out.sort();
    out
}

/// The clear-text secrets of a root: every sealed value.
fn secrets(root: &Path) -> Vec<String> {
    let store = Store::open(&ServerRoot::new(root)).unwrap();
    let config = store.load().unwrap();
    config
        .objects()
        .iter()
        .flat_map(|o| o.props.values().flatten())
        .filter(|v| ferrosync::secret::is_sealed(v))
        .map(|v| store.secrets().decrypt(v).unwrap().expose().to_string())
        .collect()
}

/// For every corpus file: applied to a root, config-diff from an empty root, and the output applied to a new
/// root gives the same configuration; no secret of the configuration is in the output, each is in a 0600 file.
#[test]
fn every_corpus_file_round_trips_through_config_diff() {
    let names = corpus_names();
    assert_eq!(names.len(), 12);
    for name in names {
        let applied = Root::new();
        let file = corpus_file(&applied, &name);
        let mut args = vec!["--no-prompt", "--batch-file", file.as_str()];
        if broken(&name).is_some() {
            args.push("--batch-continue-on-error");
        }
        let run = applied.dsconfig(&args);
        assert!(run.code() == 0 || broken(&name).is_some(), "{name}: {}", run.stderr());

        let empty = Root::new();
        empty.dsconfig(&["list-sync-pipes"]).ok();
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("diff.dsconfig");
        let secrets_dir = work.path().join("secrets");
        let run = applied.run(
            "config-diff",
            &[
                "--sourceRoot",
                empty.path().to_str().unwrap(),
                "--secretsDir",
                secrets_dir.to_str().unwrap(),
                "--outputFile",
                out.to_str().unwrap(),
            ],
        );
        run.ok();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.lines().filter(|l| l.starts_with("dsconfig ")).count() > 0, "{name}: no commands:\n{text}");
        for secret in secrets(applied.path()) {
            assert!(!text.contains(&secret), "{name}: a secret is in the output:\n{text}");
        }
        #[cfg(unix)]
        for f in std::fs::read_dir(&secrets_dir).into_iter().flatten() {
            use std::os::unix::fs::PermissionsExt;
            let mode = f.unwrap().metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}: a secret file is readable by others");
        }

        let copy = Root::new();
        let run = copy.dsconfig(&["--no-prompt", "--batch-file", out.to_str().unwrap()]);
        assert_eq!(run.code(), 0, "{name}: the output does not apply: {}\n{text}", run.stderr());
        assert!(snapshot(copy.path()) == snapshot(applied.path()), "{name}: not the same configuration:\n{text}");
    }
}

/// No secret in clear anywhere in the output; without --secretsDir the batch names files config-diff did not
/// write, so applying it fails at the first of them, naming it, and applies nothing.
#[test]
fn secrets_are_never_in_the_output() {
    let root = Root::new();
    root.dsconfig(&[
        "create-external-server",
        "--server-name",
        "ds1",
        "--type",
        "generic-ldap",
        "--set",
        "server-host-name:h",
        "--set",
        "bind-dn:cn=sync",
        "--set",
        "connection-security:ssl",
        "--set",
        "password:Very-Secret-7",
    ])
    .ok();
    root.dsconfig(&[
        "set-connection-handler-prop",
        "--handler-name",
        "LDAPS Connection Handler",
        "--set",
        "key-store-pin:Pin-Secret-8",
    ])
    .ok();
    let run = root.run("config-diff", &[]);
    let text = run.ok();
    assert!(!text.contains("Very-Secret-7") && !text.contains("Pin-Secret-8"), "{text}");
    assert!(!run.stderr().contains("Very-Secret-7"), "{}", run.stderr());
    assert!(text.contains("--set 'password<config-diff-secrets/external-server.ds1.password'"), "{text}");
    assert!(text.contains("key-store-pin<config-diff-secrets/"), "{text}");
    assert!(text.contains("which config-diff did not write"), "{text}");
    assert!(!root.path().join("config-diff-secrets").exists());

    let copy = Root::new();
    let before = copy.config();
    let batch = copy.write("diff.dsconfig", &text);
    let err = copy.dsconfig(&["--no-prompt", "--batch-file", batch.to_str().unwrap()]).fails();
    let line = text.lines().position(|l| l.starts_with("dsconfig create-external-server")).unwrap() + 1;
    assert!(err.contains(&format!("{}:{line}:", batch.display())), "{err}");
    assert!(
        err.contains("config-diff-secrets/external-server.ds1.password") && err.contains("nothing was applied"),
        "{err}"
    );
    assert_eq!(copy.config(), before);
}

#[test]
fn sources_targets_and_excludes() {
    // A fresh root against itself, and a batch file against the root it was applied to: no differences.
    let root = Root::new();
    root.dsconfig(&["list-sync-pipes"]).ok();
    assert!(root.run("config-diff", &[]).ok().contains("# No differences."));
    let batch = root.write(
        "b.dsconfig",
        "dsconfig create-dn-map --map-name m --set 'from-dn-pattern:*,dc=x' --set 'to-dn-pattern:{1},dc=y'\n\
         dsconfig create-root-dn-user --user-name sync --set password:pw-9\n",
    );
    root.dsconfig(&["--no-prompt", "--batch-file", batch.to_str().unwrap()]).ok();
    let same = root.run("config-diff", &["--sourceBatchFile", batch.to_str().unwrap()]).ok();
    assert!(same.contains("# No differences."), "{same}");
    // --sourceLocal against another root: what turns this root into a fresh one.
    let fresh = Root::new();
    fresh.dsconfig(&["list-sync-pipes"]).ok();
    let back = root.run("config-diff", &["--sourceLocal", "--targetRoot", fresh.path().to_str().unwrap()]).ok();
    assert!(
        back.contains("dsconfig delete-dn-map \\\n    --map-name m") && back.contains("delete-root-dn-user"),
        "{back}"
    );
    // --exclude.
    let only = root.run("config-diff", &["--exclude", "unused"]).ok();
    assert!(only.contains("create-dn-map") && !only.contains("root-dn-user"), "{only}");
    assert!(only.contains("# Left out: unused."), "{only}");
    let run = root.run("config-diff", &["--exclude", "dn-maps"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("did you mean 'dn-map'"), "{}", run.stderr());
    // A root without a store is refused, and none is made.
    let missing = tempfile::tempdir().unwrap();
    let err = root.run("config-diff", &["--targetRoot", missing.path().to_str().unwrap()]).fails();
    assert!(err.contains("has no configuration store"), "{err}");
    assert!(!missing.path().join("config").exists());
}
