//! Connection tests and server preparation, through a [`Probe`] the tool implements over the LDAP client (this
//! crate has none).

use super::{HostPort, Http, Security, Trust};
use crate::secret::Secret;

/// How to reach one server, for the connection test.
#[derive(Clone, Debug)]
pub struct Connection {
    pub server: HostPort,
    pub security: Security,
    pub trust: Trust,
}

/// Tests connections; implemented by the tool over the LDAP client.
pub trait Probe {
    /// Connects (with TLS as asked) and binds anonymously; `Err` says why it failed.
    fn connect(&self, c: &Connection) -> Result<(), String>;
    /// Connects and binds as `dn`.
    fn bind(&self, c: &Connection, dn: &str, password: &str) -> Result<(), String>;
    /// Binds as an administrator and recognizes the server (prepare-endpoint-server's first step).
    fn detect(
        &self,
        _c: &Connection,
        _admin_dn: &str,
        _admin_password: &str,
        _base_dn: &str,
    ) -> Result<Detected, String> {
        Err(NO_PREPARE.into())
    }
    /// Calls a SCIM service or PingOne with the answers given (a read that needs the credentials).
    fn check_http(&self, _h: &Http) -> Result<(), String> {
        Ok(())
    }
    /// Prepares one server for the sync user, as prepare-endpoint-server does.
    fn prepare(&self, _c: &Connection, _req: &PrepareRequest) -> Result<Prepared, String> {
        Err(NO_PREPARE.into())
    }
}

/// What [`Probe::detect`] found on a server, as its administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    /// What the server is, for the user ("389 Directory Server (...)").
    pub kind: String,
    /// The sync user's DN that prepare-endpoint-server uses on this kind of server.
    pub default_sync_dn: String,
}

/// One server to prepare (prepare-endpoint-server's work), as [`Probe::prepare`] gets it.
#[derive(Clone, Debug)]
pub struct PrepareRequest<'r> {
    pub admin_dn: &'r str,
    pub admin_password: &'r Secret,
    pub base_dn: &'r str,
    pub sync_dn: &'r str,
    pub sync_password: &'r Secret,
    pub is_source: bool,
    pub is_destination: bool,
}

/// What [`Probe::prepare`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The report, as prepare-endpoint-server prints it (no password in it).
    pub report: String,
    /// Everything is in place, and every check as the sync user passed.
    pub complete: bool,
}

/// The error of a probe that cannot prepare servers.
pub const NO_PREPARE: &str = "preparing a server needs the connection tests (do not give --skipConnectionTest)";

/// A probe that tests nothing (`--skipConnectionTest`).
pub struct NoProbe;

impl Probe for NoProbe {
    fn connect(&self, _: &Connection) -> Result<(), String> {
        Ok(())
    }
    fn bind(&self, _: &Connection, _: &str, _: &str) -> Result<(), String> {
        Ok(())
    }
}
