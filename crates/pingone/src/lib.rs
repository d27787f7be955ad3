//! PingOne endpoints for ferrosync (`--type ping-one-customer`), over PingOne's Platform API.
//!
//! * [`client::Client`]: client-credentials tokens (refreshed before expiry and on a 401), 429 handling
//!   (`Retry-After`, capped at 30 s, up to 15 tries), retries of 5xx answers, and a bounded request rate
//!   (`max-requests-per-second`). Calls run on the blocking pool (`ureq`).
//! * [`source::PingOneSource`]: users as entries. The DN of a user is `id=<user id>`; its attributes are the
//!   user's top-level fields (strings as text, objects such as `name`, `account`, `population` as JSON, so
//!   `{name.given}` works in value patterns), plus two intermediate attributes for account status, as
//!   PingDataSync documents them: `ds-pwp-account-disabled-from-pingone` (`true` when `enabled` is false) and
//!   `pwdAccountLockedTimeFromPingOne` (a GeneralizedTime from `account.lockedAt` when `account.status` is
//!   `LOCKED`; `000001010000Z`, OpenLDAP's "locked until an administrator unlocks", when PingOne gives no time).
//! * [`detector::PingOneDetector`]: the audit activities as a change log (see its docs for the start point).
//! * [`destination::PingOneDestination`]: creates, updates and deletes users.

// A library does not print: what it has to say goes through return values, the sync log or a caller's sink.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod client;
pub mod destination;
pub mod detector;
mod index;
pub mod provider;
pub mod source;
pub mod time;

pub use client::{Client, Settings};
pub use destination::PingOneDestination;
pub use detector::PingOneDetector;
pub use source::PingOneSource;

/// The DN of a PingOne user as ferrosync sees it.
pub fn user_dn(id: &str) -> String {
    format!("id={id}")
}

/// The user id of a DN made by [`user_dn`] (`id=<uuid>`, any case, spaces allowed around `=`).
pub fn id_from_dn(dn: &str) -> Option<String> {
    let (a, v) = dn.split_once('=')?;
    if !a.trim().eq_ignore_ascii_case("id") || v.contains(',') {
        return None;
    }
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}
