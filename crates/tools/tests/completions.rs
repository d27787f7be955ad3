//! `install-completions`: the files it writes work in the real bash and man.
// Helpers of integration tests are not `#[test]` functions, which clippy.toml's allow-*-in-tests covers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn install(prefix: &Path, extra: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_install-completions"))
        .arg("--prefix")
        .arg(prefix)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "install-completions failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// What bash's completion function for `tool` offers for the words typed so far (the last one is completed).
fn bash_complete(prefix: &Path, tool: &str, words: &[&str]) -> Vec<String> {
    let file = prefix.join("share/bash-completion/completions").join(tool);
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let last = words[words.len() - 1];
    let before = words[words.len().saturating_sub(2)];
    let script = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         fn=$(complete -p {tool} | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\
         \"$fn\" {tool} '{last}' '{before}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        file.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
    );
    let out = Command::new("bash").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "bash failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn bash_completes_dsconfig_subcommands_and_property_names_from_the_model() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &["--shell", "bash", "--no-man"]);
    let subs = bash_complete(dir.path(), "dsconfig", &["dsconfig", "create-sync-p"]);
    assert!(subs.contains(&"create-sync-pipe".to_string()), "{subs:?}");
    let props = bash_complete(dir.path(), "dsconfig", &["dsconfig", "set-sync-pipe-prop", "--reset", "num-w"]);
    assert_eq!(props, vec!["num-worker-threads".to_string()]);
    let types = bash_complete(dir.path(), "dsconfig", &["dsconfig", "create-external-server", "--type", "active-d"]);
    assert!(types.contains(&"active-directory".to_string()), "{types:?}");
    let wizard = bash_complete(dir.path(), "create-sync-pipe-config", &["create-sync-pipe-config", "--sourceBind"]);
    assert!(wizard.contains(&"--sourceBindDN".to_string()), "{wizard:?}");
    let resync = bash_complete(dir.path(), "resync", &["resync", "--pipe"]);
    assert!(resync.contains(&"--pipe-name".to_string()), "{resync:?}");
}

#[test]
fn every_tool_gets_a_man_page_and_completions_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &["--shell", "bash,zsh,fish"]);
    let share = dir.path().join("share");
    for tool in [
        "dsconfig",
        "create-sync-pipe-config",
        "resync",
        "realtime-sync",
        "prepare-endpoint-server",
        "config-diff",
        "store-copy",
        "start-server",
        "stop-server",
        "status",
    ] {
        for path in [
            share.join("bash-completion/completions").join(tool),
            share.join("zsh/site-functions").join(format!("_{tool}")),
            share.join("fish/vendor_completions.d").join(format!("{tool}.fish")),
        ] {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(text.contains(tool), "{} does not name {tool}", path.display());
        }
        let page = share.join("man/man1").join(format!("{tool}.1"));
        let out = Command::new("man").env("MANWIDTH", "200").arg("-l").arg(&page).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(tool), "man -l {}: {text}", page.display());
    }
    let page = Command::new("man").env("MANWIDTH", "200").arg("-l").arg(share.join("man/man1/dsconfig.1")).output();
    let text = String::from_utf8_lossy(&page.unwrap().stdout).into_owned();
    assert!(text.contains("--batch-file") && text.contains("create-sync-pipe"), "{text}");
}
