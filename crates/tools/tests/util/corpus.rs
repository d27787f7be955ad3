//! The corpus of Ping's real batch files (tests/fixtures/ping-dsconfig-corpus), as the tests apply them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use super::{repo, Root};

pub const CORPUS: &str = "tests/fixtures/ping-dsconfig-corpus";

/// The values the Ping container tooling would substitute into `.subst` files.
pub fn test_value(var: &str) -> Option<String> {
    Some(
        match var {
            "LOCATION" => "Docker",
            "USER_BASE_DN" => "dc=example,dc=com",
            "PD_ENGINE_PRIVATE_HOSTNAME" => "pingdirectory",
            "PD_ENGINE_PRIVATE_PORT_LDAPS" => "1636",
            "MS_AZURE_TENANT_ID" => "7d9a2c1e-0000-4000-8000-000000000001",
            "MS_AZURE_APP_REGISTRATION_CLIENT_ID" => "7d9a2c1e-0000-4000-8000-000000000002",
            "MS_AZURE_APP_REGISTRATION_CLIENT_SECRET" => "azure-secret-value",
            "PING_ONE_ENVIRONMENT_ID" => "7d9a2c1e-0000-4000-8000-000000000003",
            "PING_ONE_POPULATION_ID" => "7d9a2c1e-0000-4000-8000-000000000004",
            "PING_ONE_CLIENT_ID" => "7d9a2c1e-0000-4000-8000-000000000005",
            "PING_ONE_CLIENT_SECRET" => "pingone-secret-value",
            _ => return None,
        }
        .to_string(),
    )
}

/// Copies a corpus file into the root, substituting `.subst` variables.
pub fn corpus_file(root: &Root, name: &str) -> String {
    let text = std::fs::read_to_string(repo().join(CORPUS).join(name)).unwrap();
    let text = if name.ends_with(".subst") { ferrosync::batch::substitute(&text, test_value) } else { text };
    assert!(!text.contains("${"), "{name}: a variable was left unsubstituted");
    root.write(name.trim_end_matches(".subst"), &text).display().to_string()
}

pub fn corpus_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo().join(CORPUS))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".dsconfig"))
        .collect();
    v.sort();
    v
}

/// The commands in the real files that are broken, by file: (line, what the error says).
pub fn broken(name: &str) -> Option<(usize, &'static str)> {
    if name.ends_with("pingone-sync-lab.dsconfig") || name.ends_with("pd-labs-vol__sync-lab.dsconfig") {
        // `set-external-server-prop --server-name ping-directory \` followed by a blank line.
        return Some((10, "no property changes were given for the External Server 'ping-directory'"));
    }
    None
}
