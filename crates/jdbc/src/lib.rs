//! Relational databases as sync endpoints. The sync destination (`create-sync-destination --type jdbc` on a
//! `jdbc` external server): PostgreSQL tables (by object class), one row per entry, declared with dsconfig instead
//! of a Server SDK extension.
//!
//! * **Mapping**: `column-map: ATTRIBUTE:COLUMN` writes a destination attribute to a column; a multi-valued
//!   attribute needs an array column (`text[]`, ...), a scalar column takes one value (more is refused, naming
//!   the column). Attributes without a column-map are not written, and the diff ignores them.
//! * **Checked before the first write**: the table's columns and types are read from the catalog when the
//!   destination is first used (and by `resync` before it starts); a column-map or key-column naming a
//!   column the table does not have fails then, naming the column and the table. A value the column's type
//!   cannot hold fails that entry with an error naming the column, the attribute and the type.
//! * **Ids**: the engine's id of a destination entry is the mapped DN. The row of a DN is found by its RDN
//!   when the RDN's attribute is the one mapped to the key column (`uid=jdoe,...` with
//!   `column-map:uid:user_id` and `key-column:user_id`), else as this process last correlated or wrote it.
//! * **Correlation**: a correlation list `dn` finds the row by the key columns (the mapped entry's values of
//!   the attributes mapped to them, else its RDN); a list of other attributes finds the row whose mapped
//!   columns hold the entry's values.
//! * **Writes**: a create is an `INSERT` of the mapped columns; a modify is an `UPDATE` of the changed columns
//!   only (the row read `FOR UPDATE` first, the modifications applied, in one transaction); a delete is a
//!   `DELETE` by key; a rename that changes the key updates the key columns. Values are always bound
//!   parameters (as text, cast to the column's type by the server), identifiers always quoted.
//! * **Child tables**: `child-table-map` writes a multi-valued attribute as one child row per value, in the
//!   transaction of the row's write (only the values that changed); renames move the child rows, deletes delete them.
//! * **Tables by object class**: `object-class-table-map: OBJECTCLASS:TABLE` sends an entry to the table of the
//!   first map value naming one of its classes (else to `table`); that table's `key-column`, `column-map`,
//!   `child-table-map` and `base-dn` values start with `TABLE:`. A DN's row is found in the table whose key
//!   columns' attributes make its RDN (of several, the one whose base-dn is its parent, else the first that has it).
//! * **Listing** (`resync --deleteMissingEntries`, with a `base-dn` for every table): every row through a cursor,
//!   named as this process last saw it, else by its key below the base-dn, with its table's object classes.
//!
//! The sync source ([`JdbcSource`], [`JdbcDetector`]): one entry per row (DN: the key columns' attributes as the
//! RDN below `base-dn`), multi-valued attributes from array columns or child tables (`child-table-map`), changes
//! from a change log table that triggers fill ([`prepare`] creates both); an update of the key is a rename.

// A library does not print: what it has to say goes through return values.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod db;
mod destination;
pub mod prepare;
pub mod provider;
mod source;
mod sql;

pub use destination::{JdbcConfigError, JdbcDestination};
pub use source::{tables_to_log, JdbcDetector, JdbcSource, SourceTables};

/// A connection to a database given by URL (prepare-endpoint-server), with its password (else its
/// passfile's): the client, or the error as the server gave it.
pub async fn connect_url(
    url: ferrosync::store::PostgresUrl,
    password: Option<ferrosync::secret::Secret>,
) -> Result<tokio_postgres::Client, ferrosync::endpoint::EndpointError> {
    db::Db::from_url(url, password, "database").connect().await
}

/// The URL and password of the `jdbc` external server `server`, as the sync source connects.
pub fn server_url(
    config: &ferrosync::config::Config,
    secrets: &ferrosync::secret::SecretBox,
    root: &ferrosync::store::ServerRoot,
    server: &str,
) -> Result<(ferrosync::store::PostgresUrl, Option<ferrosync::secret::Secret>), JdbcConfigError> {
    let db = db::Db::from_config(config, secrets, root, server, "public", &format!("external server '{server}'"))?;
    Ok(db.url_and_password())
}
