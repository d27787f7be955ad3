//! Errors of the mapping layer: a configuration that cannot be compiled, and an entry that cannot be mapped.

/// A pipe's configuration that cannot be compiled into a [`PipeMapping`](super::PipeMapping). Each error
/// names the object at fault ("Sync Class 'users' of Sync Pipe 'p'", "Attribute Mapping 'mail' of Attribute
/// Map 'm' (used by ...)") and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingConfigError {
    #[error("the Sync Pipe '{pipe}' does not exist")]
    NoSuchPipe { pipe: String },
    #[error("the {object} refers to the {target} (property {property}), which does not exist")]
    MissingReference { object: String, property: String, target: String },
    #[error("invalid value '{value}' for property '{property}' of the {object}: {reason}")]
    InvalidValue { object: String, property: String, value: String, reason: String },
    #[error("the {object} cannot be used: {reason}")]
    Invalid { object: String, reason: String },
}

/// An entry that the configuration cannot map (Ping's outcome `failed-during-mapping`). Each error names the
/// sync class and, where there is one, the DN map or attribute mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    #[error("Sync Class '{class}': the source DN '{dn}' is not a valid DN: {reason}")]
    InvalidSourceDn { class: String, dn: String, reason: String },
    #[error("Sync Class '{class}': DN Map '{map}' matches '{dn}' but its to-dn-pattern '{pattern}' cannot be built: {reason}")]
    DnMap { class: String, map: String, dn: String, pattern: String, reason: String },
    #[error("Sync Class '{class}': Attribute Mapping '{attribute}' of Attribute Map '{map}': {reason}")]
    Attribute { class: String, map: String, attribute: String, reason: String },
}

impl MappingError {
    /// The sync-log outcome of a change that fails this way.
    pub fn outcome(&self) -> &'static str {
        "failed-during-mapping"
    }
}
