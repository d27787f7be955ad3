//! Value syntaxes: DNs, LDAP filters, durations, value patterns and DN patterns.
//!
//! Everything here is pure: no I/O, no configuration lookups. Two kinds of caller use it:
//!
//! * `dsconfig` validates configuration values when they are set. Each parse function returns a typed error
//!   that carries the 0-based **character** position of the problem and a human reason; its `Display` reads
//!   like `unexpected ')' at position 14: expected an attribute description`, and the caller prefixes the
//!   property name.
//! * The sync engine evaluates filters on [`Entry`](crate::entry::Entry) values and builds destination values
//!   and DNs from patterns.
//!
//! | module | syntax |
//! |---|---|
//! | [`dn`] | RFC 4514 distinguished names: parsing, normalization, comparison |
//! | [`filter`] | RFC 4515 LDAP search filters: parsing, printing, matching entries |
//! | [`duration`] | Ping durations (`5 s`), realtime-sync rewinds (`2h30m`) and sizes (`10 mb`) |
//! | [`pattern`] | attribute-mapping `value-pattern` and `conditional-value-pattern` |
//! | [`dnpattern`] | DN maps: `from-dn-pattern` and `to-dn-pattern` |

pub mod dn;
pub mod dnpattern;
pub mod duration;
pub mod filter;
pub mod pattern;

pub use dn::{dn_equal, escape_value as escape_dn_value, normalize_dn, Ava, Dn, DnError, DnErrorKind, Rdn};
pub use dnpattern::{DnMap, DnPatternError, DnPatternErrorKind, DnPatternSide, FromDnPattern, ToDnPattern};
pub use duration::{
    format_duration, format_rewind, format_size, parse_duration, parse_rewind, parse_size, DurationError,
    DurationErrorKind, SizeError, SizeErrorKind,
};
pub use filter::{ldap_filter_escape, Filter, FilterError, FilterErrorKind};
pub use pattern::{json_escape, ConditionalValuePattern, PatternError, PatternErrorKind, ValuePattern};

/// The "problem" half of an error message for the character found at the error position:
/// `unexpected ')'`, or `unexpected end of input` past the end.
pub(crate) fn unexpected(c: Option<char>) -> String {
    match c {
        Some(c) => format!("unexpected {c:?}"),
        None => "unexpected end of input".to_string(),
    }
}
