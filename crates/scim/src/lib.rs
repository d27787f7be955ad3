//! The SCIM 2.0 sync destination (`create-sync-destination --type scim2`).
//!
//! The engine hands over entries mapped by the sync classes (a DN plus attributes). This destination turns
//! them into SCIM resources through the destination's `scim2-endpoint-mapping`s and their
//! `scim2-attribute-mapping`s, and back:
//!
//! * **Which endpoint**: the endpoint mapping whose `sync-class-name` is the sync class that selects the
//!   mapped entry; else, when the entry has object classes, a group class (`groupOfNames`,
//!   `groupOfUniqueNames`, `group`, `posixGroup`) goes to the endpoint whose core schema is `...:Group` (or
//!   path `Groups`) and any other to the first other endpoint; else the first endpoint whose search
//!   attributes the entry has; else the first endpoint.
//! * **Ids**: the engine's id for a destination entry is the mapped DN; the destination remembers which SCIM
//!   resource each DN correlated to. `rename` changes nothing at the service (SCIM ids do not change).
//!   A DN it does not know is looked up through its RDN: `uid=jdoe,...` with a search mapping reading `uid`
//!   gives `userName eq "jdoe"`; else a single-valued string mapping that reads the RDN's attribute does:
//!   AD's `CN=Jane Doe,...` with `cn` mapped to `displayName` gives `displayName eq "Jane Doe"`.
//! * **Correlation**: the filter built from the endpoint's `search-attribute-mapping`s, joined with `and`
//!   (the sync class's correlation lists do not apply to SCIM, as in PingDataSync).
//! * **Fetch**: the resource is read back through the mappings with `attribute-usage:fetch` (or no usage)
//!   into an entry with the same attribute names as the mapped entry, so the engine's diff is meaningful.
//!   With ETags, a resource this destination wrote or read before is not read again: the update's
//!   `If-Match` catches a change by someone else (412: read it, and bring it to the desired state), so a
//!   modify of a known resource costs one request. A create whose look-up finds the resource answers
//!   "already exists", and the engine compares and updates it (without a second look-up).
//! * **Modify**: the engine's modifications are applied to that entry; the result is mapped forward and
//!   compared with the resource; the differences become the fewest PATCH operations (value adds and
//!   removes for `members`, adds for multi-valued attributes that only grew, per-sub-attribute replaces for
//!   complex attributes), or a PUT with `update-method:put`. With ETags (`/ServiceProviderConfig`), the
//!   request carries `If-Match`; a 412 fetches the resource again and retries.
//! * **Groups**: a mapping whose `scim-attribute-name` is `members` (type `string`) reads DNs; each is
//!   turned into the SCIM id of the synchronized user (remembered, or looked up by its RDN as above).
//!   Members that cannot be found yet are left out (a later pass adds them).
//! * Attributes the service's `/Schemas` does not declare are dropped with a warning in the sync log (once
//!   per attribute and process; else to the tool, through `ferrosync::synclog::warn_elsewhere`). A 409 on
//!   create correlates and modifies instead.
//!
//! Where each part lives: `config` (the destination built from its configuration, [`ScimConfigError`]),
//! `destination` (the [`ScimDestination`] and its requests), `patch` (modifications applied to an entry, and
//! the fewest PATCH operations), [`mapping`] (endpoint and attribute mappings), [`http`] (the HTTP client).

// A library does not print: what it has to say goes through return values, the sync log or a caller's sink.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod bulk;
mod config;
mod destination;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
mod index;
pub mod mapping;
mod patch;
pub mod provider;

pub use config::ScimConfigError;
pub use destination::ScimDestination;
