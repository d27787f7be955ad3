//! Builds a pipe's source and destination endpoints from the configuration, by their `--type`.

use std::sync::Arc;

use anyhow::{bail, Context};
use ferrosync::config::Config;
use ferrosync::endpoint::{ChangeDetector, Destination, EntrySource};
use ferrosync::mapping::PipeMapping;
use ferrosync::secret::SecretBox;
use ferrosync::store::ServerRoot;
use ferrosync_ldap::endpoint::{LdapDestination, LdapSource};

/// The source types read over LDAP.
const LDAP_SOURCES: &[&str] = &[
    "ping-identity",
    "generic-ldap",
    "sun-ds",
    "oracle-unified-directory",
    "openldap",
    "content-sync",
    "active-directory",
];
/// The destination types written over LDAP.
const LDAP_DESTINATIONS: &[&str] =
    &["ping-identity", "generic-ldap", "sun-ds", "oracle-unified-directory", "active-directory"];

/// The source and destination of pipe `pipe`, connected lazily (the first operation connects).
pub fn build_pair(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    pipe: &str,
    mapping: &PipeMapping,
) -> anyhow::Result<(Arc<dyn EntrySource>, Arc<dyn Destination>)> {
    let p = config.get("sync-pipe", pipe).with_context(|| format!("there is no sync pipe '{pipe}'"))?;
    let p = ferrosync::settings::SyncPipeSettings::read(&ferrosync::settings::Reader::new(p))?;
    p.check_runnable()?;
    let (source_name, dest_name) = (p.sync_source, p.sync_destination);
    let source = config
        .get("sync-source", &source_name)
        .with_context(|| format!("the sync source '{source_name}' of pipe '{pipe}' does not exist"))?;
    let dest = config
        .get("sync-destination", &dest_name)
        .with_context(|| format!("the sync destination '{dest_name}' of pipe '{pipe}' does not exist"))?;
    let source_type = source.variant.clone().unwrap_or_default();
    let dest_type = dest.variant.clone().unwrap_or_default();
    let source: Arc<dyn EntrySource> = if LDAP_SOURCES.contains(&source_type.as_str()) {
        Arc::new(
            LdapSource::from_config(config, secrets, root, pipe, &source_name, mapping)
                .with_context(|| format!("cannot set up the sync source '{source_name}'"))?,
        )
    } else if source_type == "ping-one-customer" {
        Arc::new(
            ferrosync_pingone::PingOneSource::from_config(config, secrets, root, pipe, &source_name)
                .with_context(|| format!("cannot set up the sync source '{source_name}'"))?,
        )
    } else {
        bail!("ferrosync cannot read a sync source of type '{source_type}' ('{source_name}') yet")
    };
    let destination: Arc<dyn Destination> = if dest_type == "active-directory" {
        Arc::new(
            ferrosync_ldap::ad::AdDestination::from_config(config, secrets, root, pipe, &dest_name)
                .with_context(|| format!("cannot set up the sync destination '{dest_name}'"))?,
        )
    } else if LDAP_DESTINATIONS.contains(&dest_type.as_str()) {
        Arc::new(
            LdapDestination::from_config(config, secrets, root, pipe, &dest_name)
                .with_context(|| format!("cannot set up the sync destination '{dest_name}'"))?,
        )
    } else if dest_type == "scim2" {
        Arc::new(
            ferrosync_scim::ScimDestination::from_config(config, secrets, root, pipe, &dest_name, mapping)
                .with_context(|| format!("cannot set up the sync destination '{dest_name}'"))?,
        )
    } else if dest_type == "ping-one-customer" {
        Arc::new(
            ferrosync_pingone::PingOneDestination::from_config(config, secrets, root, pipe, &dest_name)
                .with_context(|| format!("cannot set up the sync destination '{dest_name}'"))?,
        )
    } else {
        bail!("ferrosync cannot write to a sync destination of type '{dest_type}' ('{dest_name}') yet")
    };
    Ok((source, destination))
}

/// The change detector of the sync source `source_name` of pipe `pipe`, by the source's `--type`:
/// `ping-one-customer` reads PingOne's audit activities, the others are read over LDAP.
pub fn build_detector(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    pipe: &str,
    source_name: &str,
) -> anyhow::Result<Arc<dyn ChangeDetector>> {
    let variant = config.get("sync-source", source_name).and_then(|s| s.variant.clone()).unwrap_or_default();
    if variant == "ping-one-customer" {
        let d = ferrosync_pingone::PingOneDetector::from_config(config, secrets, root, pipe, source_name)?;
        return Ok(Arc::new(d));
    }
    Ok(ferrosync_ldap::detector::detector_from_config(config, secrets, root, pipe, source_name)?)
}
