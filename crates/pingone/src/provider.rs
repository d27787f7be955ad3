//! PingOne's entry in the endpoint registry ([`ferrosync::registry`]): `--type ping-one-customer` sources
//! (with the audit activities as their change log) and destinations. PingOne endpoints name no external server.

use std::sync::Arc;

use ferrosync::endpoint::{ChangeDetector, Destination, EntrySource};
use ferrosync::mapping::PipeMapping;
use ferrosync::registry::{BoxError, BuildContext, EndpointProvider};

use crate::{PingOneDestination, PingOneDetector, PingOneSource};

/// The PingOne provider.
pub struct PingOneProvider;

static PROVIDER: PingOneProvider = PingOneProvider;

/// The PingOne endpoints, for the registry.
pub fn provider() -> &'static dyn EndpointProvider {
    &PROVIDER
}

impl EndpointProvider for PingOneProvider {
    fn name(&self) -> &'static str {
        "pingone"
    }

    fn source_types(&self) -> &'static [&'static str] {
        &["ping-one-customer"]
    }

    fn destination_types(&self) -> &'static [&'static str] {
        &["ping-one-customer"]
    }

    fn build_source(&self, ctx: &BuildContext, _: &PipeMapping) -> Result<Arc<dyn EntrySource>, BoxError> {
        Ok(Arc::new(PingOneSource::from_config(ctx.config, ctx.secrets, ctx.root, ctx.pipe, ctx.name)?))
    }

    fn build_destination(&self, ctx: &BuildContext, _: &PipeMapping) -> Result<Arc<dyn Destination>, BoxError> {
        Ok(Arc::new(PingOneDestination::from_config(ctx.config, ctx.secrets, ctx.root, ctx.pipe, ctx.name)?))
    }

    fn has_change_log(&self, _: &str) -> bool {
        true
    }

    fn build_detector(&self, ctx: &BuildContext) -> Result<Arc<dyn ChangeDetector>, BoxError> {
        Ok(Arc::new(PingOneDetector::from_config(ctx.config, ctx.secrets, ctx.root, ctx.pipe, ctx.name)?))
    }
}
