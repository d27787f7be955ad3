//! The LDAP endpoints' entry in the endpoint registry ([`ferrosync::registry`]): the sync-source,
//! sync-destination and external-server `--type`s read and written over LDAP, and how each is built.

use std::sync::Arc;

use ferrosync::endpoint::{ChangeDetector, Destination, EntrySource};
use ferrosync::mapping::PipeMapping;
use ferrosync::registry::{BoxError, BuildContext, EndpointProvider};

use crate::ad::AdDestination;
use crate::adstate::MappedState;
use crate::endpoint::{LdapDestination, LdapSource};

/// The LDAP provider.
pub struct LdapProvider;

/// The source types read over LDAP; each has a change log (see [`crate::detector`]).
pub const SOURCE_TYPES: &[&str] = &[
    "ping-identity",
    "generic-ldap",
    "sun-ds",
    "oracle-unified-directory",
    "openldap",
    "content-sync",
    "active-directory",
];

/// The destination types written over LDAP (`active-directory` with passwords as `unicodePwd`).
pub const DESTINATION_TYPES: &[&str] =
    &["ping-identity", "generic-ldap", "sun-ds", "oracle-unified-directory", "active-directory"];

/// The external server types an LDAP endpoint connects to.
pub const SERVER_TYPES: &[&str] = &[
    "ping-identity-ds",
    "ping-identity-proxy-server",
    "active-directory",
    "generic-ldap",
    "sun-ds",
    "oracle-unified-directory",
];

static PROVIDER: LdapProvider = LdapProvider;

/// The LDAP endpoints, for the registry.
pub fn provider() -> &'static dyn EndpointProvider {
    &PROVIDER
}

impl EndpointProvider for LdapProvider {
    fn name(&self) -> &'static str {
        "ldap"
    }

    fn source_types(&self) -> &'static [&'static str] {
        SOURCE_TYPES
    }

    fn destination_types(&self) -> &'static [&'static str] {
        DESTINATION_TYPES
    }

    fn server_types(&self) -> &'static [&'static str] {
        SERVER_TYPES
    }

    fn build_source(&self, ctx: &BuildContext, mapping: &PipeMapping) -> Result<Arc<dyn EntrySource>, BoxError> {
        let source = LdapSource::from_config(ctx.config, ctx.secrets, ctx.root, ctx.pipe, ctx.name, mapping)?;
        if ctx.variant.eq_ignore_ascii_case("active-directory") {
            return Ok(Arc::new(source.with_ad_state()));
        }
        Ok(Arc::new(source))
    }

    fn build_destination(&self, ctx: &BuildContext, mapping: &PipeMapping) -> Result<Arc<dyn Destination>, BoxError> {
        if ctx.variant.eq_ignore_ascii_case("active-directory") {
            return Ok(Arc::new(AdDestination::from_config(ctx.config, ctx.secrets, ctx.root, ctx.pipe, ctx.name)?));
        }
        let d = LdapDestination::from_config(ctx.config, ctx.secrets, ctx.root, ctx.pipe, ctx.name)?;
        Ok(Arc::new(d.with_state(MappedState::of(mapping), ctx.variant)))
    }

    fn has_change_log(&self, source_type: &str) -> bool {
        SOURCE_TYPES.iter().any(|t| t.eq_ignore_ascii_case(source_type))
    }

    fn build_detector(&self, ctx: &BuildContext) -> Result<Arc<dyn ChangeDetector>, BoxError> {
        Ok(crate::detector::detector_from_config(ctx.config, ctx.secrets, ctx.root, ctx.pipe, ctx.name)?)
    }
}
