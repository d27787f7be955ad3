//! Test helpers: configurations built through dsconfig batch text, and entries.

use super::{MappingConfigError, PipeMapping};
use crate::config::{Config, SecretSealer};
use crate::dsconfig::{run_batch, Format};
use crate::entry::Entry;
use crate::error::ConfigError;

struct PlainSealer;

impl SecretSealer for PlainSealer {
    fn seal(&self, plain: &str) -> Result<String, ConfigError> {
        Ok(plain.to_string())
    }
}

/// The endpoints and the pipe `p` that every test configuration starts with.
const BASE: &str = r#"
dsconfig create-external-server --server-name src --type ping-identity-ds --set server-host-name:src.example.com
dsconfig create-external-server --server-name dst --type ping-identity-ds --set server-host-name:dst.example.com
dsconfig create-sync-source --source-name s --type ping-identity --set base-dn:dc=example,dc=com --set server:src
dsconfig create-sync-destination --destination-name d --type ping-identity --set base-dn:o=example --set server:dst
dsconfig create-sync-pipe --pipe-name p --set sync-source:s --set sync-destination:d
"#;

/// The configuration after `BASE` and then `text`.
pub fn config(text: &str) -> Config {
    let mut config = Config::builtin();
    let sealer = PlainSealer;
    run_batch("base", BASE, &mut config, &sealer, Format::default(), false).unwrap();
    run_batch("test", text, &mut config, &sealer, Format::default(), false).unwrap();
    config
}

/// Pipe `p` compiled after running `text`.
pub fn pipe(text: &str) -> PipeMapping {
    PipeMapping::from_config(&config(text), "p").unwrap()
}

/// The error compiling pipe `p` after running `text`.
pub fn pipe_error(text: &str) -> MappingConfigError {
    PipeMapping::from_config(&config(text), "p").unwrap_err()
}

/// An entry from (attribute, value) pairs; a repeated attribute gets several values.
pub fn entry(dn: &str, attrs: &[(&str, &str)]) -> Entry {
    let mut e = Entry::new(dn);
    for (a, v) in attrs {
        e.add(a, *v);
    }
    e
}
