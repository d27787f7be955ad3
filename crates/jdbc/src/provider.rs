//! The relational databases' entry in the endpoint registry ([`ferrosync::registry`]): `--type jdbc`
//! sources (with the change log table as their change log) and destinations on `jdbc` external servers
//! (PostgreSQL).

use std::sync::Arc;

use ferrosync::endpoint::{ChangeDetector, Destination, EntrySource};
use ferrosync::mapping::PipeMapping;
use ferrosync::registry::{BoxError, BuildContext, EndpointProvider};

use crate::{JdbcDestination, JdbcDetector, JdbcSource};

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

    fn source_types(&self) -> &'static [&'static str] {
        &["jdbc"]
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

    fn build_source(&self, ctx: &BuildContext, _mapping: &PipeMapping) -> Result<Arc<dyn EntrySource>, BoxError> {
        Ok(Arc::new(JdbcSource::from_config(ctx.config, ctx.secrets, ctx.root, ctx.name)?))
    }

    fn has_change_log(&self, _source_type: &str) -> bool {
        true
    }

    fn build_detector(&self, ctx: &BuildContext) -> Result<Arc<dyn ChangeDetector>, BoxError> {
        Ok(Arc::new(JdbcDetector::from_config(ctx.config, ctx.secrets, ctx.root, ctx.name)?))
    }
}
