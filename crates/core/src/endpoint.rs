//! The endpoint traits. The engine sees sources and destinations only through these, so LDAP directories,
//! Active Directory, SCIM 2.0 services and PingOne plug in the same way (lldap's handler traits are the model).

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::entry::{Entry, Value};

/// A change to one attribute of a destination entry: the smallest change the engine found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modification {
    /// Add these values.
    Add(String, Vec<Value>),
    /// Delete these values; an empty list deletes the whole attribute.
    Delete(String, Vec<Value>),
    /// Replace all values with these; an empty list deletes the attribute.
    Replace(String, Vec<Value>),
}

impl Modification {
    pub fn attribute(&self) -> &str {
        match self {
            Modification::Add(a, _) | Modification::Delete(a, _) | Modification::Replace(a, _) => a,
        }
    }
}

/// Why an endpoint operation failed, and whether trying again may help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// No server could be reached (all failed over); the operation may work later.
    #[error("{0}")]
    Unavailable(String),
    /// A failure that a retry may fix (a timeout, a busy server).
    #[error("{0}")]
    Retryable(String),
    /// The server refused the operation for good (a schema violation, a missing parent).
    #[error("{0}")]
    Rejected(String),
    /// The endpoint is configured wrongly (a wrong password, an unusable secret).
    #[error("{0}")]
    Config(String),
    /// The entry's parent does not exist (yet): in a parallel resync, the parent may still be on its way.
    #[error("{0}")]
    MissingParent(String),
}

impl EndpointError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, EndpointError::Unavailable(_) | EndpointError::Retryable(_))
    }

    /// Whether the failure concerns the endpoint as a whole (no server reachable, wrong credentials) rather
    /// than one entry: a bulk run should stop instead of failing every entry the same way.
    pub fn is_endpoint_wide(&self) -> bool {
        matches!(self, EndpointError::Unavailable(_) | EndpointError::Config(_))
    }
}

pub type EndpointResult<T> = Result<T, EndpointError>;

/// Where entries are read.
#[async_trait]
pub trait EntrySource: Send + Sync {
    /// The source's configured name.
    fn name(&self) -> &str;

    /// Checks that the source can be reached and the credentials work.
    async fn check(&self) -> EndpointResult<()> {
        Ok(())
    }

    /// The current entry at `dn`, or `None` when there is none.
    async fn fetch(&self, dn: &str) -> EndpointResult<Option<Entry>>;

    /// The current entry whose unique id (such as `entryUUID` or `nsUniqueId`) is `id`.
    async fn fetch_by_unique_id(&self, id: &str) -> EndpointResult<Option<Entry>>;

    /// The unique id of an entry, when the entry carries it.
    fn unique_id(&self, entry: &Entry) -> Option<String>;

    /// Sends every entry in scope (below the source's base DNs, matching `filter` when given) to `tx`, one at
    /// a time, so that memory stays flat. Returns when all were sent or the receiver is gone.
    async fn stream(&self, filter: Option<&str>, tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()>;

    /// How many entries [`EntrySource::stream`] would send, when the source can count them cheaply.
    async fn count(&self, _filter: Option<&str>) -> EndpointResult<Option<u64>> {
        Ok(None)
    }
}

/// What correlation found at the destination.
#[derive(Clone, Debug, PartialEq)]
pub enum Correlated {
    None,
    One(Entry),
    /// Several entries matched every correlation list tried; their ids.
    Many(Vec<String>),
}

/// Where entries are written.
#[async_trait]
pub trait Destination: Send + Sync {
    fn name(&self) -> &str;

    /// Checks that the destination can be reached and the credentials work.
    async fn check(&self) -> EndpointResult<()> {
        Ok(())
    }

    /// Finds the destination entry for `mapped`: each correlation list (such as `dn,uid`) is tried in order
    /// until exactly one entry matches. `attrs` are the attributes to fetch with it (empty: all user ones).
    async fn correlate(&self, mapped: &Entry, lists: &[Vec<String>], attrs: &[String]) -> EndpointResult<Correlated>;

    /// The entry with this id (a DN for directories).
    async fn fetch(&self, id: &str, attrs: &[String]) -> EndpointResult<Option<Entry>>;

    async fn create(&self, entry: &Entry) -> EndpointResult<()>;

    async fn modify(&self, id: &str, mods: &[Modification]) -> EndpointResult<()>;

    /// Renames or moves an entry (modify DN); returns the new id.
    async fn rename(&self, id: &str, new_dn: &str) -> EndpointResult<String>;

    async fn delete(&self, id: &str) -> EndpointResult<()>;

    /// Sends every entry below the destination's base DNs to `tx`, with the attributes `attrs`.
    async fn stream(&self, attrs: &[String], tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()>;
}
