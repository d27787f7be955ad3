//! The relational databases' entry in the endpoint registry ([`ferrosync::registry`]): `--type jdbc`
//! destinations on `jdbc` external servers (PostgreSQL). The `jdbc` sync source is not implemented yet.

use std::sync::Arc;

use ferrosync::endpoint::Destination;
use ferrosync::mapping::PipeMapping;
use ferrosync::registry::{BoxError, BuildContext, EndpointProvider};

use crate::JdbcDestination;

/// The JDBC provider.
pub struct JdbcProvider;

static PROVIDER: JdbcProvider = JdbcProvider;

/// The relational database endpoints, for the registry.
pub fn provider() -> &'static dyn EndpointProvider {
    &PROVIDER
}

impl EndpointProvider for JdbcProvider {
    fn name(&self) -> &'static str {
        "jdbc"
    }

    fn destination_types(&self) -> &'static [&'static str] {
        &["jdbc"]
    }

    fn server_types(&self) -> &'static [&'static str] {
        &["jdbc"]
    }

    fn build_destination(&self, ctx: &BuildContext, _mapping: &PipeMapping) -> Result<Arc<dyn Destination>, BoxError> {
        Ok(Arc::new(JdbcDestination::from_config(ctx.config, ctx.secrets, ctx.root, ctx.name)?))
    }
}
