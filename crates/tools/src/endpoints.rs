//! The endpoint registry of the tools: every endpoint crate's provider, assembled in one place
//! ([`registry`]), and the pipe's source, destination and change detector built through it by their `--type`.

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use ferrosync::config::Config;
use ferrosync::endpoint::{ChangeDetector, Destination, EntrySource};
use ferrosync::mapping::PipeMapping;
use ferrosync::registry::Registry;
use ferrosync::secret::SecretBox;
use ferrosync::store::ServerRoot;

/// Every endpoint ferrosync has: LDAP directories (and Active Directory), SCIM 2.0 services, PingOne and
/// PostgreSQL tables.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        Registry::new(vec![
            ferrosync_ldap::provider::provider(),
            ferrosync_scim::provider::provider(),
            ferrosync_pingone::provider::provider(),
            ferrosync_jdbc::provider::provider(),
        ])
    })
}

/// The source and destination of pipe `pipe`, connected lazily (the first operation connects).
pub fn build_pair(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    pipe: &str,
    mapping: &PipeMapping,
) -> anyhow::Result<(Arc<dyn EntrySource>, Arc<dyn Destination>)> {
    let p = config.get("sync-pipe", pipe).with_context(|| format!("there is no sync pipe '{pipe}'"))?;
    ferrosync::settings::SyncPipeSettings::read(&ferrosync::settings::Reader::new(p))?.check_runnable()?;
    Ok(registry().build_pair(config, secrets, root, pipe, mapping)?)
}

/// The change detector of the sync source `source_name` of pipe `pipe`, by the source's `--type`.
pub fn build_detector(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    pipe: &str,
    source_name: &str,
) -> anyhow::Result<Arc<dyn ChangeDetector>> {
    Ok(registry().build_detector(config, secrets, root, pipe, source_name)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sync-source, sync-destination and external-server type of the model not marked unused has
    /// exactly one implementation, and no provider claims a type the model lacks or marks unused.
    #[test]
    fn every_model_type_has_exactly_one_implementation() {
        assert_eq!(registry().model_mismatches(), Vec::<String>::new());
    }

    /// The wizard offers every endpoint kind it knows: each one's types are built by the registry.
    #[test]
    fn the_wizard_offers_only_kinds_the_registry_builds() {
        let offered: Vec<&str> = ferrosync::wizard::served_kinds(registry()).iter().map(|k| k.key).collect();
        let known: Vec<&str> = ferrosync::wizard::ENDPOINT_KINDS.iter().map(|k| k.key).collect();
        assert_eq!(offered, known);
        assert_eq!(offered, ferrosync::wizard::endpoint_kinds().iter().map(|k| k.key).collect::<Vec<_>>());
        // A registry without SCIM and PingOne offers only the directories.
        let ldap_only = Registry::new(vec![ferrosync_ldap::provider::provider()]);
        let offered: Vec<&str> = ferrosync::wizard::served_kinds(&ldap_only).iter().map(|k| k.key).collect();
        assert_eq!(offered, ["389ds", "openldap", "content-sync", "generic-ldap", "active-directory"]);
    }

    #[test]
    fn every_source_type_has_a_change_log() {
        let t = ferrosync::model::find_type("sync-source").unwrap_or_else(|| panic!("no sync-source type"));
        for v in t.variants.iter().filter(|v| !v.unused) {
            assert!(registry().has_change_log(v.name), "{}", v.name);
        }
    }
}
