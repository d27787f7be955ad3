//! SCIM's entry in the endpoint registry ([`ferrosync::registry`]): `--type scim2` destinations on `scim2`
//! external servers. A SCIM service is never a sync source here, and a SCIM destination cannot list its
//! resources (see [`ferrosync::endpoint::DestinationCapabilities`]).

use std::sync::Arc;

use ferrosync::endpoint::Destination;
use ferrosync::mapping::PipeMapping;
use ferrosync::registry::{BoxError, BuildContext, EndpointProvider};

use crate::ScimDestination;

/// The SCIM provider.
pub struct ScimProvider;

static PROVIDER: ScimProvider = ScimProvider;

/// The SCIM endpoints, for the registry.
pub fn provider() -> &'static dyn EndpointProvider {
    &PROVIDER
}

impl EndpointProvider for ScimProvider {
    fn name(&self) -> &'static str {
        "scim"
    }

    fn destination_types(&self) -> &'static [&'static str] {
        &["scim2"]
    }

    fn server_types(&self) -> &'static [&'static str] {
        &["scim2"]
    }

    fn build_destination(&self, ctx: &BuildContext, mapping: &PipeMapping) -> Result<Arc<dyn Destination>, BoxError> {
        Ok(Arc::new(ScimDestination::from_config(ctx.config, ctx.secrets, ctx.root, ctx.pipe, ctx.name, mapping)?))
    }
}
