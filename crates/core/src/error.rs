//! Typed errors of the core library. Each names the object, property, file or line at fault and says what
//! would be valid.

use std::path::PathBuf;

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_string()
    } else {
        items.join(", ")
    }
}

fn fmt_existing(items: &[String]) -> String {
    if items.is_empty() {
        "none exist yet".to_string()
    } else {
        format!("existing: {}", items.join(", "))
    }
}

fn suggest(s: &Option<String>) -> String {
    s.as_ref().map(|s| format!("did you mean '{s}'? ")).unwrap_or_default()
}

/// A configuration change that breaks a rule of the model.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("the {object} does not exist ({})", fmt_existing(.existing))]
    NoSuchObject { object: String, existing: Vec<String> },
    #[error("the {object} already exists")]
    AlreadyExists { object: String },
    #[error("the {object} is a singleton: it cannot be created or deleted, only changed with set-...-prop")]
    Singleton { object: String },
    #[error("a {object} needs a non-empty name")]
    EmptyName { object: String },
    #[error("creating a {object} needs --type: one of {}", list(.valid))]
    MissingType { object: String, valid: Vec<String> },
    #[error("a {object} has no --type, but '{given}' was given")]
    NoTypes { object: String, given: String },
    #[error("'{given}' is not a type of {object}: expected one of {}", list(.valid))]
    UnknownType { object: String, given: String, valid: Vec<String> },
    #[error("the {object}{} has no property '{property}': {}valid properties are {}", .variant.as_ref().map(|v| format!(" (type {v})")).unwrap_or_default(), suggest(.suggestion), list(.valid))]
    UnknownProperty {
        object: String,
        variant: Option<String>,
        property: String,
        suggestion: Option<String>,
        valid: Vec<String>,
    },
    #[error("invalid value '{value}' for property '{property}' of the {object}: {reason}")]
    InvalidValue { object: String, property: String, value: String, reason: String },
    #[error("property '{property}' of the {object} is single-valued: give it one value with --set")]
    SingleValued { object: String, property: String },
    #[error("property '{property}' of the {object} was given the value '{value}' twice")]
    DuplicateValue { object: String, property: String, value: String },
    #[error("property '{property}' of the {object} does not have the value '{value}' (its values: {})", list(.current))]
    NoSuchValue { object: String, property: String, value: String, current: Vec<String> },
    #[error("property '{property}' of the {object} is sensitive: its values cannot be removed one by one, use --reset {property} or --set")]
    SensitiveRemove { object: String, property: String },
    #[error("the {object} needs a value for {}", .properties.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", "))]
    MissingRequired { object: String, properties: Vec<String> },
    #[error("the {object} needs a value for one of {}", .properties.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", "))]
    MissingOneOf { object: String, properties: Vec<String> },
    #[error("property '{property}' of the {object} refers to the {target}, which does not exist ({})", fmt_existing(.existing))]
    DanglingReference { object: String, property: String, target: String, existing: Vec<String> },
    #[error("the {object} cannot be deleted: it is referred to by {}", .referrers.join("; "))]
    StillReferenced { object: String, referrers: Vec<String> },
    #[error("the {object}: {reason}")]
    InvalidObject { object: String, reason: String },
    #[error("no property changes were given for the {object}: use --set, --add, --remove or --reset")]
    NoChanges { object: String },
    #[error("cannot encrypt a sensitive value: {0}")]
    Secret(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A failure of the store or of the files under the server root.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot {action} {}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the configuration store {} failed", .path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot migrate the configuration store {} to the current schema", .path.display())]
    Migration {
        path: PathBuf,
        #[source]
        source: rusqlite_migration::Error,
    },
    #[error("the configuration store {} is damaged: {reason}", .path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// `location` is the store's URL, which never holds a password.
    #[error("the configuration store {location} failed")]
    Postgres {
        location: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// `url` is shown with any password masked.
    #[error("the store '{url}' is not valid: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot use the password file {}: {reason}", .path.display())]
    PassFile { path: PathBuf, reason: String },
    #[error("cannot set up TLS to the configuration store {location}: {reason}")]
    Tls { location: String, reason: String },
    /// A copy of one store into another that cannot be made (a target that holds data, a running server).
    #[error("cannot copy the store: {0}")]
    Copy(String),
    #[error("the encryption key {} is unusable: {reason}", .path.display())]
    Key { path: PathBuf, reason: String },
    #[error("cannot decrypt a sensitive value: {0} (was the encryption key replaced?)")]
    Decrypt(String),
    #[error("the thread writing the store stopped unexpectedly")]
    WriterStopped,
    #[error(
        "server '{server}' no longer holds the lease of pipe '{pipe}' (epoch {epoch}): another server of the \
         topology runs it now, so this server's write was not made"
    )]
    LeaseLost { pipe: String, server: String, epoch: i64 },
    /// One failure of a write made for several callers at once (each gets it).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}
