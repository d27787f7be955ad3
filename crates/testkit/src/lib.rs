//! ferrosync's test kit (a dev-dependency, never shipped): in-memory fake endpoints and a harness that runs
//! a real pipe over them, so the engine's semantics are proven without servers.
//!
//! * [`SourceDirectory`]: an in-memory directory (RFC 4514 DNs, LDAP's tree rules, unique ids) whose
//!   changes (adds, modifies, renames, moves, deletes) are logged; read by the engine through
//!   [`FakeSource`] ([`ferrosync::endpoint::EntrySource`]) and [`FakeChangeLog`]
//!   ([`ferrosync::endpoint::ChangeDetector`], start points are change numbers).
//! * [`FakeDestination`] ([`ferrosync::endpoint::Destination`]): correlation by attribute lists, writes
//!   with a directory's rules (missing parent, already exists, no such object, a value added twice), and a
//!   record of every write.
//! * [`FaultPlan`]: faults both inject at chosen points (the Nth call of an operation, or a seeded
//!   probability): unavailable, retryable, rejected, timeouts, short pages.
//! * [`Harness`]: a temporary server root configured with dsconfig commands, and the pipe's real
//!   [`ferrosync::engine::realtime::PipeRunner`] run until the change log is drained, optionally killed
//!   part-way and restarted from its saved state.
//!
//! * [`store_contract::check`]: the contract every [`ferrosync::store::StoreBackend`] keeps, run on each
//!   backend by `tests/store_backends.rs`; [`postgres`] gives tests of the PostgreSQL store a schema of their
//!   own on the server `tests/run.sh` starts.
//!
//! The model-based test (`tests/model.rs`) runs random configurations and change streams through the
//! harness and compares the destination with an independent reference model of PingDataSync's documented
//! semantics. `cargo test` runs a short run (a few dozen cases); the long run is
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test --release -p ferrosync-testkit --test model
//! ```
//!
//! A failing case is shrunk and printed by proptest, and saved in `tests/model.proptest-regressions` so the
//! next run tries it first.

pub mod destination;
pub mod dit;
pub mod faults;
pub mod harness;
pub mod postgres;
pub mod refusing_store;
pub mod source;
pub mod store_contract;

pub use destination::{FakeDestination, Write, WriteOp};
pub use dit::{Dit, DitError};
pub use faults::{Fault, FaultPlan, Op, Rule, When};
pub use harness::{base_batch, Harness, HarnessError, Running};
pub use refusing_store::{Refusal, RefusingStore};
pub use source::{requested_attributes, FakeChangeLog, FakeSource, LoggedChange, SourceDirectory, UNIQUE_ID};
