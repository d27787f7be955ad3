//! RFC 4515 LDAP search filters: parsing, printing and matching [`Entry`] values.
//!
//! [`Filter::parse`] accepts the RFC 4515 string form, the RFC 4526 absolute true and false filters `(&)` and
//! `(|)`, whitespace between the parts of `&`/`|` lists, and (as Ping does) a bare item without its outer
//! parentheses (`uid=jdoe`), which `Display` prints in the parenthesized form.
//!
//! Matching follows the default rules of common directory schemas, without a schema:
//!
//! * attribute names are case-insensitive; options (`cn;lang-en`) are tried as written, then without;
//! * values compare with `caseIgnoreMatch` (trimmed, inner whitespace collapsed, lower-cased), except a small
//!   set of case-exact attributes (`userPassword`, `unicodePwd`, `authPassword`) and binary values, which
//!   compare byte for byte;
//! * DN-syntax attributes (`member`, `uniqueMember`, `manager`, `owner`, `seeAlso`, `secretary`, `entryDN`,
//!   `dn`, `distinguishedName`, `modifiersName`, `creatorsName`) compare by normalized DN;
//! * ordering (`>=`, `<=`) is numeric when both sides are integers, else lexicographic (which orders
//!   generalized times correctly), case-insensitive for case-ignore attributes;
//! * `dn` and `entryDN` evaluate against the entry's DN, and so does `distinguishedName` when the entry has no
//!   such attribute; `(objectClass=*)` matches every entry (every LDAP entry has an object class);
//! * an extensible match with an unknown matching rule is *undefined* (RFC 4511): it matches nothing, not even
//!   under `!`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use super::dn::Dn;
use super::unexpected;
use crate::entry::{Entry, Value};

/// What went wrong while parsing a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterErrorKind {
    /// The input is empty, or a `(` was expected.
    ExpectedFilter,
    /// An attribute description was expected.
    ExpectedAttribute,
    /// The attribute is not followed by `=`, `~=`, `>=`, `<=` or `:=`.
    ExpectedFilterType,
    /// A `)` was expected (unbalanced parentheses).
    ExpectedCloseParen,
    /// A backslash is not followed by two hexadecimal digits.
    InvalidEscape,
    /// An unescaped `(` in a value, or an unescaped `*` where no wildcard is allowed.
    UnescapedSpecial,
    /// Two consecutive `*` in a substring filter.
    EmptySubstring,
    /// A matching rule name or OID is missing or malformed in an extensible match.
    ExpectedMatchingRule,
    /// Characters after the end of the filter.
    TrailingCharacters,
    /// Filters nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// The deepest nesting of filters accepted: far beyond any real one, and shallow enough that parsing,
/// matching and dropping a filter never overflow the stack (a filter stored in the configuration is read at
/// every start).
pub const MAX_DEPTH: usize = 100;

/// A filter that does not parse.
///
/// `position` is the 0-based character offset of the problem. `Display` reads like
/// `unexpected ')' at position 14: expected an attribute description`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at position {position}: {reason}")]
pub struct FilterError {
    /// 0-based character offset of the problem.
    pub position: usize,
    /// The kind of problem, for programmatic matching.
    pub kind: FilterErrorKind,
    /// What was found there (`unexpected ')'`, `invalid escape`).
    pub problem: String,
    /// What was expected, or why it is wrong.
    pub reason: String,
}

impl FilterError {
    fn new(kind: FilterErrorKind, position: usize, problem: impl Into<String>, reason: impl Into<String>) -> Self {
        FilterError { position, kind, problem: problem.into(), reason: reason.into() }
    }
}

/// A parsed LDAP filter. Assertion values are raw bytes (after unescaping), so binary assertions such as
/// `(objectGUID=\a1\b2...)` survive; read text values with `String::from_utf8_lossy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `(&f1 f2 ...)`; `(&)` is absolute true.
    And(Vec<Filter>),
    /// `(|f1 f2 ...)`; `(|)` is absolute false.
    Or(Vec<Filter>),
    /// `(!f)`.
    Not(Box<Filter>),
    /// `(attr=value)`.
    Equality {
        /// The attribute description.
        attr: String,
        /// The assertion value.
        value: Vec<u8>,
    },
    /// `(attr=initial*any1*any2*final)`.
    Substring {
        /// The attribute description.
        attr: String,
        /// The part before the first `*`, if not empty.
        initial: Option<Vec<u8>>,
        /// The parts between `*`s, in order.
        any: Vec<Vec<u8>>,
        /// The part after the last `*`, if not empty.
        final_: Option<Vec<u8>>,
    },
    /// `(attr>=value)`.
    GreaterOrEqual {
        /// The attribute description.
        attr: String,
        /// The assertion value.
        value: Vec<u8>,
    },
    /// `(attr<=value)`.
    LessOrEqual {
        /// The attribute description.
        attr: String,
        /// The assertion value.
        value: Vec<u8>,
    },
    /// `(attr=*)`.
    Present {
        /// The attribute description.
        attr: String,
    },
    /// `(attr~=value)`, evaluated as case-insensitive equality.
    Approx {
        /// The attribute description.
        attr: String,
        /// The assertion value.
        value: Vec<u8>,
    },
    /// `(attr:dn:rule:=value)`; the attribute or the rule may be absent (not both).
    Extensible {
        /// The attribute description, if any.
        attr: Option<String>,
        /// Whether `:dn` was given (also match the AVAs of the entry's DN).
        dn_attributes: bool,
        /// The matching rule name or OID, if any.
        matching_rule: Option<String>,
        /// The assertion value.
        value: Vec<u8>,
    },
}

impl Filter {
    /// Parses an RFC 4515 filter string (or a bare item such as `uid=jdoe`).
    pub fn parse(s: &str) -> Result<Filter, FilterError> {
        // Trailing whitespace is never part of the filter, not even of a bare item's value.
        let chars: Vec<char> = s.trim_end().chars().collect();
        let mut p = Parser { chars: &chars, pos: 0, depth: 0 };
        p.skip_ws();
        let filter = match p.peek() {
            None => return Err(p.error(FilterErrorKind::ExpectedFilter, "expected a filter")),
            Some('(') => p.filter()?,
            Some(_) => p.component()?,
        };
        p.skip_ws();
        if p.peek().is_some() {
            return Err(p.error(FilterErrorKind::TrailingCharacters, "expected the end of the filter"));
        }
        Ok(filter)
    }

    /// `(attr=value)`.
    pub fn equality(attr: impl Into<String>, value: impl AsRef<[u8]>) -> Filter {
        Filter::Equality { attr: attr.into(), value: value.as_ref().to_vec() }
    }

    /// `(attr=*)`.
    pub fn present(attr: impl Into<String>) -> Filter {
        Filter::Present { attr: attr.into() }
    }

    /// `(&...)`.
    pub fn and(filters: Vec<Filter>) -> Filter {
        Filter::And(filters)
    }

    /// `(|...)`.
    pub fn or(filters: Vec<Filter>) -> Filter {
        Filter::Or(filters)
    }

    /// `(!filter)`.
    pub fn negate(filter: Filter) -> Filter {
        Filter::Not(Box::new(filter))
    }

    /// The attribute names the filter mentions, in order of first appearance, without duplicates (compared
    /// case-insensitively). An extensible match without an attribute adds none.
    pub fn attributes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.collect_attributes(&mut out);
        out
    }

    fn collect_attributes(&self, out: &mut Vec<String>) {
        let attr = match self {
            Filter::And(fs) | Filter::Or(fs) => {
                for f in fs {
                    f.collect_attributes(out);
                }
                return;
            }
            Filter::Not(f) => return f.collect_attributes(out),
            Filter::Equality { attr, .. }
            | Filter::Substring { attr, .. }
            | Filter::GreaterOrEqual { attr, .. }
            | Filter::LessOrEqual { attr, .. }
            | Filter::Present { attr }
            | Filter::Approx { attr, .. } => attr,
            Filter::Extensible { attr: Some(attr), .. } => attr,
            Filter::Extensible { attr: None, .. } => return,
        };
        if !out.iter().any(|a| a.eq_ignore_ascii_case(attr)) {
            out.push(attr.clone());
        }
    }

    /// Whether `entry` matches the filter (an undefined result does not match).
    pub fn matches(&self, entry: &Entry) -> bool {
        self.evaluate(entry) == Some(true)
    }

    /// Three-valued evaluation (RFC 4511 4.5.1.7): `None` is *undefined*.
    fn evaluate(&self, entry: &Entry) -> Option<bool> {
        match self {
            Filter::And(fs) => {
                let mut undefined = false;
                for f in fs {
                    match f.evaluate(entry) {
                        Some(false) => return Some(false),
                        None => undefined = true,
                        Some(true) => {}
                    }
                }
                if undefined {
                    None
                } else {
                    Some(true)
                }
            }
            Filter::Or(fs) => {
                let mut undefined = false;
                for f in fs {
                    match f.evaluate(entry) {
                        Some(true) => return Some(true),
                        None => undefined = true,
                        Some(false) => {}
                    }
                }
                if undefined {
                    None
                } else {
                    Some(false)
                }
            }
            Filter::Not(f) => f.evaluate(entry).map(|b| !b),
            Filter::Equality { attr, value } => {
                let rule = Rule::for_attribute(attr);
                Some(attr_values(entry, attr).iter().any(|v| rule.equals(v, value)))
            }
            Filter::Approx { attr, value } => {
                Some(attr_values(entry, attr).iter().any(|v| Rule::CaseIgnore.equals(v, value)))
            }
            Filter::Substring { attr, initial, any, final_ } => {
                let rule = Rule::for_attribute(attr);
                Some(
                    attr_values(entry, attr)
                        .iter()
                        .any(|v| rule.substrings(v, initial.as_deref(), any, final_.as_deref())),
                )
            }
            Filter::GreaterOrEqual { attr, value } => {
                let rule = Rule::for_attribute(attr);
                Some(attr_values(entry, attr).iter().any(|v| rule.compare(v, value) != Ordering::Less))
            }
            Filter::LessOrEqual { attr, value } => {
                let rule = Rule::for_attribute(attr);
                Some(attr_values(entry, attr).iter().any(|v| rule.compare(v, value) != Ordering::Greater))
            }
            Filter::Present { attr } => Some(
                is_entry_dn_attr(attr)
                    || attr.eq_ignore_ascii_case("objectClass")
                    || !attr_values(entry, attr).is_empty(),
            ),
            Filter::Extensible { attr, dn_attributes, matching_rule, value } => {
                let explicit = match matching_rule {
                    Some(name) => Some(Rule::by_name(name)?),
                    None => None,
                };
                let matched = match attr {
                    Some(attr) => {
                        let rule = explicit.unwrap_or_else(|| Rule::for_attribute(attr));
                        attr_values(entry, attr).iter().any(|v| rule.equals(v, value))
                    }
                    None => {
                        let rule = explicit?;
                        entry.attributes().flat_map(|a| a.values.iter()).any(|v| rule.equals(v, value))
                    }
                };
                if matched || !dn_attributes {
                    return Some(matched);
                }
                let Ok(dn) = Dn::parse(&entry.dn) else {
                    return Some(false);
                };
                let in_dn = dn.rdns().iter().flat_map(|r| r.avas()).any(|ava| {
                    let type_ok = attr.as_ref().is_none_or(|a| a.eq_ignore_ascii_case(ava.attr_type()));
                    let rule = explicit.unwrap_or_else(|| Rule::for_attribute(ava.attr_type()));
                    type_ok && rule.equals(&Value::Text(ava.value().to_string()), value)
                });
                Some(in_dn)
            }
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(fs) | Filter::Or(fs) => {
                f.write_str(if matches!(self, Filter::And(_)) { "(&" } else { "(|" })?;
                for sub in fs {
                    write!(f, "{sub}")?;
                }
                f.write_str(")")
            }
            Filter::Not(sub) => write!(f, "(!{sub})"),
            Filter::Equality { attr, value } => write!(f, "({attr}={})", escape_bytes(value)),
            Filter::Approx { attr, value } => write!(f, "({attr}~={})", escape_bytes(value)),
            Filter::GreaterOrEqual { attr, value } => {
                write!(f, "({attr}>={})", escape_bytes(value))
            }
            Filter::LessOrEqual { attr, value } => write!(f, "({attr}<={})", escape_bytes(value)),
            Filter::Present { attr } => write!(f, "({attr}=*)"),
            Filter::Substring { attr, initial, any, final_ } => {
                write!(f, "({attr}=")?;
                if let Some(i) = initial {
                    f.write_str(&escape_bytes(i))?;
                }
                f.write_str("*")?;
                for a in any {
                    write!(f, "{}*", escape_bytes(a))?;
                }
                if let Some(fin) = final_ {
                    f.write_str(&escape_bytes(fin))?;
                }
                f.write_str(")")
            }
            Filter::Extensible { attr, dn_attributes, matching_rule, value } => {
                f.write_str("(")?;
                if let Some(a) = attr {
                    f.write_str(a)?;
                }
                if *dn_attributes {
                    f.write_str(":dn")?;
                }
                if let Some(r) = matching_rule {
                    write!(f, ":{r}")?;
                }
                write!(f, ":={})", escape_bytes(value))
            }
        }
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

/// Escapes a string for use as an assertion value in a filter (RFC 4515): `*` `(` `)` `\` and NUL become
/// `\2a` `\28` `\29` `\5c` `\00`.
pub fn ldap_filter_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes raw assertion bytes: valid UTF-8 as [`ldap_filter_escape`], other bytes as `\xx`.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&ldap_filter_escape(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\{b:02x}"));
        }
    }
    out
}

const DN_ATTRIBUTES: &[&str] = &[
    "member",
    "uniqueMember",
    "manager",
    "owner",
    "seeAlso",
    "secretary",
    "entryDN",
    "dn",
    "distinguishedName",
    "modifiersName",
    "creatorsName",
];

const CASE_EXACT_ATTRIBUTES: &[&str] = &["userPassword", "unicodePwd", "authPassword"];

/// The name without options: `cn;lang-en` gives `cn`.
fn base_name(attr: &str) -> &str {
    attr.split(';').next().unwrap_or(attr)
}

fn is_entry_dn_attr(attr: &str) -> bool {
    let base = base_name(attr);
    base.eq_ignore_ascii_case("dn") || base.eq_ignore_ascii_case("entryDN")
}

/// The values a filter on `attr` sees.
fn attr_values<'a>(entry: &'a Entry, attr: &str) -> Cow<'a, [Value]> {
    if is_entry_dn_attr(attr) {
        return Cow::Owned(vec![Value::Text(entry.dn.clone())]);
    }
    let mut values = entry.values(attr);
    if values.is_empty() && attr.contains(';') {
        values = entry.values(base_name(attr));
    }
    if values.is_empty() && base_name(attr).eq_ignore_ascii_case("distinguishedName") {
        return Cow::Owned(vec![Value::Text(entry.dn.clone())]);
    }
    Cow::Borrowed(values)
}

/// The matching rules this module knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    CaseIgnore,
    CaseExact,
    DistinguishedName,
}

impl Rule {
    fn for_attribute(attr: &str) -> Rule {
        let base = base_name(attr);
        if DN_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(base)) {
            Rule::DistinguishedName
        } else if CASE_EXACT_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(base)) {
            Rule::CaseExact
        } else {
            Rule::CaseIgnore
        }
    }

    /// A matching rule named in an extensible match, by name or OID; `None` when unknown.
    fn by_name(name: &str) -> Option<Rule> {
        match name.to_ascii_lowercase().as_str() {
            "caseignorematch" | "2.5.13.2" | "caseignoreia5match" | "1.3.6.1.4.1.1466.109.114.2" => {
                Some(Rule::CaseIgnore)
            }
            "caseexactmatch" | "2.5.13.5" | "caseexactia5match" | "1.3.6.1.4.1.1466.109.114.1" => Some(Rule::CaseExact),
            "distinguishednamematch" | "2.5.13.1" => Some(Rule::DistinguishedName),
            _ => None,
        }
    }

    fn equals(self, value: &Value, assertion: &[u8]) -> bool {
        if let Value::Binary(b) = value {
            return b.as_slice() == assertion;
        }
        let text = value.as_text();
        let assertion = String::from_utf8_lossy(assertion);
        match self {
            Rule::CaseExact => text == assertion,
            Rule::CaseIgnore => case_ignore(&text) == case_ignore(&assertion),
            Rule::DistinguishedName => match (Dn::parse(&text), Dn::parse(&assertion)) {
                (Ok(a), Ok(b)) => a == b,
                _ => case_ignore(&text) == case_ignore(&assertion),
            },
        }
    }

    fn substrings(self, value: &Value, initial: Option<&[u8]>, any: &[Vec<u8>], final_: Option<&[u8]>) -> bool {
        if let Value::Binary(b) = value {
            let any: Vec<&[u8]> = any.iter().map(Vec::as_slice).collect();
            return substrings_match(b, initial, &any, final_);
        }
        let text = value.as_text();
        let prepare = |bytes: &[u8]| -> Vec<u8> {
            let s = String::from_utf8_lossy(bytes);
            match self {
                Rule::CaseExact => s.into_owned().into_bytes(),
                _ => collapse_whitespace(&s).to_lowercase().into_bytes(),
            }
        };
        let value = match self {
            Rule::CaseExact => text.into_owned().into_bytes(),
            _ => case_ignore(&text).into_bytes(),
        };
        let initial = initial.map(prepare);
        let final_ = final_.map(prepare);
        let any: Vec<Vec<u8>> = any.iter().map(|a| prepare(a)).collect();
        let any: Vec<&[u8]> = any.iter().map(Vec::as_slice).collect();
        substrings_match(&value, initial.as_deref(), &any, final_.as_deref())
    }

    fn compare(self, value: &Value, assertion: &[u8]) -> Ordering {
        if let Value::Binary(b) = value {
            return b.as_slice().cmp(assertion);
        }
        let text = value.as_text();
        let assertion = String::from_utf8_lossy(assertion);
        if let (Ok(a), Ok(b)) = (text.trim().parse::<i128>(), assertion.trim().parse::<i128>()) {
            return a.cmp(&b);
        }
        match self {
            Rule::CaseExact => text.as_ref().cmp(assertion.as_ref()),
            _ => case_ignore(&text).cmp(&case_ignore(&assertion)),
        }
    }
}

/// `caseIgnoreMatch` preparation: trimmed, inner whitespace runs collapsed to one space, lower-cased.
fn case_ignore(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whitespace runs collapsed to one space, ends kept (for substring components).
fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

fn substrings_match(value: &[u8], initial: Option<&[u8]>, any: &[&[u8]], final_: Option<&[u8]>) -> bool {
    let mut rest = value;
    if let Some(i) = initial {
        match rest.strip_prefix(i) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for a in any {
        match find(rest, a) {
            Some(at) => rest = &rest[at + a.len()..],
            None => return false,
        }
    }
    final_.is_none_or(|f| rest.ends_with(f))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    /// How many filters are open at `pos`.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, kind: FilterErrorKind, reason: &str) -> FilterError {
        FilterError::new(kind, self.pos, unexpected(self.peek()), reason)
    }

    /// `( filtercomp )`
    fn filter(&mut self) -> Result<Filter, FilterError> {
        if self.peek() != Some('(') {
            return Err(self.error(FilterErrorKind::ExpectedFilter, "expected '(' to start a filter"));
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(
                self.error(FilterErrorKind::TooDeep, &format!("filters are nested more than {MAX_DEPTH} levels deep"))
            );
        }
        self.pos += 1;
        let f = self.component()?;
        if self.peek() != Some(')') {
            return Err(self.error(FilterErrorKind::ExpectedCloseParen, "expected ')'"));
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(f)
    }

    fn component(&mut self) -> Result<Filter, FilterError> {
        match self.peek() {
            Some('&') => {
                self.pos += 1;
                Ok(Filter::And(self.list()?))
            }
            Some('|') => {
                self.pos += 1;
                Ok(Filter::Or(self.list()?))
            }
            Some('!') => {
                self.pos += 1;
                self.skip_ws();
                if self.peek() != Some('(') {
                    return Err(self.error(FilterErrorKind::ExpectedFilter, "expected '(' to start the negated filter"));
                }
                let f = self.filter()?;
                self.skip_ws();
                Ok(Filter::Not(Box::new(f)))
            }
            _ => self.item(),
        }
    }

    /// The filters of an `&` or `|`, up to (not including) the closing `)`.
    fn list(&mut self) -> Result<Vec<Filter>, FilterError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some('(') => out.push(self.filter()?),
                Some(')') | None => return Ok(out),
                Some(_) => {
                    return Err(self.error(
                        FilterErrorKind::ExpectedFilter,
                        "expected '(' to start a filter or ')' to end the list",
                    ))
                }
            }
        }
    }

    /// An attribute description: a name or numeric OID, then `;options`.
    fn attribute(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        if !self.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err(self.error(
                FilterErrorKind::ExpectedAttribute,
                if self.peek() == Some(')') && self.chars.get(start.wrapping_sub(1)) == Some(&'(') {
                    "expected '&', '|', '!' or an attribute description"
                } else {
                    "expected an attribute description"
                },
            ));
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ';')) {
            self.pos += 1;
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn item(&mut self) -> Result<Filter, FilterError> {
        let attr = if self.peek() == Some(':') { None } else { Some(self.attribute()?) };
        let Some(attr) = attr else {
            return self.extensible(None);
        };
        match self.peek() {
            Some('=') => {
                self.pos += 1;
                self.equality_or_substring(attr)
            }
            Some(c @ ('~' | '>' | '<')) => {
                if self.chars.get(self.pos + 1) != Some(&'=') {
                    self.pos += 1;
                    return Err(self.error(FilterErrorKind::ExpectedFilterType, &format!("expected '=' after '{c}'")));
                }
                self.pos += 2;
                let (value, _) = self.value(false)?;
                Ok(match c {
                    '~' => Filter::Approx { attr, value },
                    '>' => Filter::GreaterOrEqual { attr, value },
                    _ => Filter::LessOrEqual { attr, value },
                })
            }
            Some(':') => self.extensible(Some(attr)),
            _ => Err(self.error(FilterErrorKind::ExpectedFilterType, "expected '=', '~=', '>=', '<=' or ':='")),
        }
    }

    fn equality_or_substring(&mut self, attr: String) -> Result<Filter, FilterError> {
        let mut parts: Vec<(usize, Vec<u8>)> = Vec::new();
        loop {
            let start = self.pos;
            let (value, star) = self.value(true)?;
            parts.push((start, value));
            if !star {
                break;
            }
            self.pos += 1;
        }
        if parts.len() == 1 {
            let (_, value) = parts.remove(0);
            return Ok(Filter::Equality { attr, value });
        }
        if parts.len() == 2 && parts.iter().all(|(_, v)| v.is_empty()) {
            return Ok(Filter::Present { attr });
        }
        let last = parts.len() - 1;
        let mut any = Vec::new();
        for (i, (start, v)) in parts.iter().enumerate() {
            if i != 0 && i != last && v.is_empty() {
                return Err(FilterError::new(
                    FilterErrorKind::EmptySubstring,
                    *start,
                    "unexpected '*'",
                    "expected a value between two '*' (no '**' in a substring filter)",
                ));
            }
            if i != 0 && i != last {
                any.push(v.clone());
            }
        }
        let initial = Some(parts[0].1.clone()).filter(|v| !v.is_empty());
        let final_ = Some(parts[last].1.clone()).filter(|v| !v.is_empty());
        Ok(Filter::Substring { attr, initial, any, final_ })
    }

    /// `[attr][:dn][:rule]:=value`, positioned on the first `:`.
    fn extensible(&mut self, attr: Option<String>) -> Result<Filter, FilterError> {
        let mut dn_attributes = false;
        let mut matching_rule = None;
        loop {
            // At a ':'.
            self.pos += 1;
            if self.peek() == Some('=') {
                self.pos += 1;
                break;
            }
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
                self.pos += 1;
            }
            let token: String = self.chars[start..self.pos].iter().collect();
            if token.is_empty() {
                return Err(self.error(FilterErrorKind::ExpectedMatchingRule, "expected 'dn', a matching rule or '='"));
            }
            if self.peek() != Some(':') {
                return Err(self.error(FilterErrorKind::ExpectedFilterType, "expected ':' after the matching rule"));
            }
            if token.eq_ignore_ascii_case("dn") && !dn_attributes && matching_rule.is_none() {
                dn_attributes = true;
            } else if matching_rule.is_none() {
                matching_rule = Some(token);
            } else {
                return Err(FilterError::new(
                    FilterErrorKind::ExpectedFilterType,
                    self.pos,
                    unexpected(self.peek()),
                    "expected ':=' after the matching rule",
                ));
            }
        }
        if attr.is_none() && matching_rule.is_none() {
            return Err(FilterError::new(
                FilterErrorKind::ExpectedMatchingRule,
                self.pos - 2,
                "unexpected ':='",
                "an extensible match needs an attribute description or a matching rule",
            ));
        }
        let (value, _) = self.value(false)?;
        Ok(Filter::Extensible { attr, dn_attributes, matching_rule, value })
    }

    /// An assertion value up to `)` or the end (or `*` when `star_ends`); returns whether it stopped at `*`.
    fn value(&mut self, star_ends: bool) -> Result<(Vec<u8>, bool), FilterError> {
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(')') => return Ok((out, false)),
                Some('*') if star_ends => return Ok((out, true)),
                Some(c @ ('*' | '(')) => {
                    return Err(FilterError::new(
                        FilterErrorKind::UnescapedSpecial,
                        self.pos,
                        unexpected(Some(c)),
                        format!("'{c}' must be escaped as '{}' in a filter value", ldap_filter_escape(&c.to_string())),
                    ))
                }
                Some('\\') => {
                    let h = self.chars.get(self.pos + 1).and_then(|c| c.to_digit(16));
                    let l = self.chars.get(self.pos + 2).and_then(|c| c.to_digit(16));
                    match (h, l) {
                        (Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            self.pos += 3;
                        }
                        _ => {
                            return Err(FilterError::new(
                                FilterErrorKind::InvalidEscape,
                                self.pos,
                                "invalid escape",
                                "expected two hexadecimal digits after '\\'",
                            ))
                        }
                    }
                }
                Some(c) => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    self.pos += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Filter {
        Filter::parse(s).unwrap()
    }

    fn err(s: &str) -> FilterError {
        Filter::parse(s).unwrap_err()
    }

    fn entry() -> Entry {
        let mut e = Entry::new("uid=jdoe,ou=People,dc=example,dc=com");
        e.add("objectClass", "top");
        e.add("objectClass", "inetOrgPerson");
        e.add("uid", "jdoe");
        e.add("cn", "John   Doe");
        e.add("sn", "Doe");
        e.add("mail", "John.Doe@Example.com");
        e.add("employeeNumber", "42");
        e.add("userPassword", "Secret");
        e.add("manager", "UID=Boss, ou=people,DC=example,dc=com");
        e.add("createTimestamp", "20240115103000Z");
        e.add("description", "a*b(c)");
        e.set("objectGUID", vec![Value::Binary(vec![0xa1, 0xb2, 0x00, 0xff])]);
        e
    }

    fn m(s: &str) -> bool {
        parse(s).matches(&entry())
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!(parse("(uid=jdoe)"), Filter::equality("uid", "jdoe"));
        assert_eq!(parse("(cn=*)"), Filter::present("cn"));
        assert_eq!(parse("(cn~=jon)"), Filter::Approx { attr: "cn".into(), value: b"jon".to_vec() });
        assert_eq!(parse("(n>=5)"), Filter::GreaterOrEqual { attr: "n".into(), value: b"5".to_vec() });
        assert_eq!(parse("(n<=5)"), Filter::LessOrEqual { attr: "n".into(), value: b"5".to_vec() });
        assert_eq!(
            parse("(cn=a*b*c*d)"),
            Filter::Substring {
                attr: "cn".into(),
                initial: Some(b"a".to_vec()),
                any: vec![b"b".to_vec(), b"c".to_vec()],
                final_: Some(b"d".to_vec())
            }
        );
        assert_eq!(
            parse("(cn=*b*)"),
            Filter::Substring { attr: "cn".into(), initial: None, any: vec![b"b".to_vec()], final_: None }
        );
        assert_eq!(
            parse("(&(a=1)(!(b=2))(|(c=3)(d=4)))"),
            Filter::and(vec![
                Filter::equality("a", "1"),
                Filter::negate(Filter::equality("b", "2")),
                Filter::or(vec![Filter::equality("c", "3"), Filter::equality("d", "4")]),
            ])
        );
        assert_eq!(parse("(&)"), Filter::And(vec![]));
        assert_eq!(parse("(|)"), Filter::Or(vec![]));
    }

    #[test]
    fn parses_extensible() {
        assert_eq!(
            parse("(cn:dn:2.5.13.5:=John)"),
            Filter::Extensible {
                attr: Some("cn".into()),
                dn_attributes: true,
                matching_rule: Some("2.5.13.5".into()),
                value: b"John".to_vec()
            }
        );
        assert_eq!(
            parse("(:caseIgnoreMatch:=x)"),
            Filter::Extensible {
                attr: None,
                dn_attributes: false,
                matching_rule: Some("caseIgnoreMatch".into()),
                value: b"x".to_vec()
            }
        );
        assert_eq!(
            parse("(ou:DN:=People)"),
            Filter::Extensible {
                attr: Some("ou".into()),
                dn_attributes: true,
                matching_rule: None,
                value: b"People".to_vec()
            }
        );
        assert_eq!(
            parse("(cn:=x)"),
            Filter::Extensible {
                attr: Some("cn".into()),
                dn_attributes: false,
                matching_rule: None,
                value: b"x".to_vec()
            }
        );
    }

    #[test]
    fn bare_item_is_accepted_and_parenthesized() {
        let f = parse("uid=x");
        assert_eq!(f, Filter::equality("uid", "x"));
        assert_eq!(f.to_string(), "(uid=x)");
        assert_eq!(parse("  objectClass=person ").to_string(), "(objectClass=person)");
        assert_eq!(parse("&(a=1)(b=2)").to_string(), "(&(a=1)(b=2))");
    }

    #[test]
    fn whitespace_between_list_members() {
        assert_eq!(parse(" (& (a=1) (b=2) ) ").to_string(), "(&(a=1)(b=2))");
        assert_eq!(parse("(! (a=1))").to_string(), "(!(a=1))");
    }

    #[test]
    fn display_round_trips_with_escapes() {
        for s in [
            "(&(objectClass=person)(|(uid=a*)(cn=*b*c*)(sn=*d)))",
            r"(cn=a\2ab\28c\29d\5ce\00)",
            "(!(n>=5))",
            "(n<=5)",
            "(cn~=jon)",
            "(cn:dn:caseExactMatch:=John)",
            "(:2.5.13.2:=x)",
            "(cn=*)",
            r"(objectGUID=\a1\b2\00\ff)",
            "(cn=Renée)",
            "(&)",
            "(|)",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
        // \2A, \2a and a literal escape of other characters normalize to the canonical escapes.
        assert_eq!(parse(r"(cn=\2A\41)").to_string(), r"(cn=\2aA)");
        let f = parse(r"(cn=\c3\a9)");
        assert_eq!(f, Filter::equality("cn", "é"));
    }

    #[test]
    fn escape_helper() {
        assert_eq!(ldap_filter_escape(r"a*b(c)d\e"), r"a\2ab\28c\29d\5ce");
        assert_eq!(ldap_filter_escape("nul\0"), r"nul\00");
        assert_eq!(ldap_filter_escape("plain é"), "plain é");
        let value = "we*ird (value)\\";
        let f = parse(&format!("(description={})", ldap_filter_escape(value)));
        assert_eq!(f, Filter::equality("description", value));
    }

    #[test]
    fn attributes_are_listed_once() {
        let f = parse("(&(objectClass=person)(|(UID=a)(uid=b))(!(mail=*))(:dn:caseIgnoreMatch:=x)(cn:=y))");
        assert_eq!(f.attributes(), vec!["objectClass", "UID", "mail", "cn"]);
    }

    #[test]
    fn matches_equality_case_ignore() {
        assert!(m("(uid=jdoe)"));
        assert!(m("(UID=JDOE)"));
        assert!(m("(objectclass=INETORGPERSON)"));
        assert!(m("(cn=john doe)"));
        assert!(m("(cn= John Doe )"));
        assert!(!m("(uid=jdoe2)"));
        assert!(!m("(missing=x)"));
        assert!(m(r"(description=a\2ab\28c\29)"));
    }

    #[test]
    fn matches_case_exact_attributes() {
        assert!(m("(userPassword=Secret)"));
        assert!(!m("(userPassword=secret)"));
        assert!(m("(userPassword~=secret)"));
    }

    #[test]
    fn matches_binary_bytewise() {
        assert!(m(r"(objectGUID=\a1\b2\00\ff)"));
        assert!(!m(r"(objectGUID=\A1\B2\00\fe)"));
        assert!(m(r"(objectGUID=\a1*\ff)"));
        assert!(m(r"(objectGUID>=\a1)"));
    }

    #[test]
    fn matches_dn_attributes_by_normalized_dn() {
        assert!(m("(manager=uid=boss,ou=People,dc=example,dc=com)"));
        assert!(!m("(manager=uid=other,ou=People,dc=example,dc=com)"));
        assert!(m("(dn=UID=JDOE, ou=people, dc=example, dc=com)"));
        assert!(m("(entryDN=uid=jdoe,ou=people,dc=example,dc=com)"));
        assert!(m("(distinguishedName=uid=jdoe,ou=people,dc=example,dc=com)"));
        assert!(m("(dn=*ou=people*)"));
        assert!(m("(entryDN=*)"));
    }

    #[test]
    fn matches_substrings() {
        assert!(m("(mail=john.*)"));
        assert!(m("(mail=*@EXAMPLE.COM)"));
        assert!(m("(mail=j*.*@*.com)"));
        assert!(!m("(mail=*@example.org)"));
        assert!(m("(cn=john d*)"));
        assert!(m("(cn=*n d*)"));
        // initial and final may not overlap
        assert!(!m("(sn=Do*oe)"));
        assert!(m("(sn=D*oe)"));
        assert!(!m("(userPassword=sec*)"));
        assert!(m("(userPassword=Sec*)"));
    }

    #[test]
    fn matches_presence() {
        assert!(m("(mail=*)"));
        assert!(!m("(telephoneNumber=*)"));
        assert!(Filter::parse("(objectClass=*)").unwrap().matches(&Entry::new("cn=x")));
    }

    #[test]
    fn matches_ordering() {
        assert!(m("(employeeNumber>=42)"));
        assert!(m("(employeeNumber>=9)"));
        assert!(!m("(employeeNumber>=100)"));
        assert!(m("(employeeNumber<=100)"));
        assert!(!m("(employeeNumber<=041)"));
        assert!(m("(employeeNumber>=041)"));
        assert!(m("(createTimestamp>=20240101000000Z)"));
        assert!(!m("(createTimestamp>=20240201000000Z)"));
        assert!(m("(createTimestamp<=20240201000000Z)"));
        assert!(m("(sn>=doa)"));
        assert!(m("(sn<=DOE)"));
        assert!(!m("(sn<=dnz)"));
    }

    #[test]
    fn matches_boolean_combinations() {
        assert!(!m("(&(objectClass=person)(uid=jdoe))"));
        assert!(m("(&(objectClass=inetOrgPerson)(uid=jdoe))"));
        assert!(m("(|(uid=nobody)(sn=doe))"));
        assert!(!m("(|(uid=nobody)(sn=smith))"));
        assert!(m("(!(uid=nobody))"));
        assert!(m("(&)"));
        assert!(!m("(|)"));
    }

    #[test]
    fn matches_approx() {
        assert!(m("(sn~=DOE)"));
        assert!(!m("(sn~=Do)"));
    }

    #[test]
    fn matches_extensible() {
        assert!(m("(sn:caseExactMatch:=Doe)"));
        assert!(!m("(sn:caseExactMatch:=doe)"));
        assert!(m("(sn:2.5.13.2:=DOE)"));
        assert!(m("(sn:caseIgnoreMatch:=doe)"));
        assert!(!m("(sn:2.5.13.5:=doe)"));
        assert!(m("(sn:=doe)"));
        assert!(m("(:caseExactMatch:=Doe)"));
        // :dn also looks at the DN's AVAs
        assert!(!m("(ou=people)"));
        assert!(m("(ou:dn:=people)"));
        assert!(m("(ou:dn:caseIgnoreMatch:=PEOPLE)"));
        assert!(!m("(ou:dn:caseExactMatch:=people)"));
        assert!(m("(:dn:caseIgnoreMatch:=example)"));
        // unknown rules are undefined: no match, even negated
        assert!(!m("(sn:1.2.3.4:=Doe)"));
        assert!(!m("(!(sn:1.2.3.4:=Doe))"));
        assert!(!m("(&(uid=jdoe)(sn:fancyMatch:=Doe))"));
        assert!(m("(|(uid=jdoe)(sn:fancyMatch:=Doe))"));
        assert!(!m("(|(uid=x)(sn:fancyMatch:=Doe))"));
    }

    #[test]
    fn matches_json_values_as_text() {
        let mut e = Entry::new("cn=x");
        e.add("active", Value::Json(serde_json::json!(true)));
        e.add("score", Value::Json(serde_json::json!(17)));
        assert!(parse("(active=TRUE)").matches(&e));
        assert!(parse("(score>=9)").matches(&e));
    }

    #[test]
    fn attribute_options_fall_back_to_base_name() {
        let mut e = Entry::new("cn=x");
        e.add("cn", "Name");
        e.add("cn;lang-fr", "Nom");
        assert!(parse("(cn;lang-fr=nom)").matches(&e));
        assert!(parse("(cn;lang-de=name)").matches(&e));
    }

    #[test]
    fn error_empty() {
        let e = err("");
        assert_eq!((e.position, e.kind), (0, FilterErrorKind::ExpectedFilter));
        assert_eq!(e.to_string(), "unexpected end of input at position 0: expected a filter");
        assert_eq!(err("   ").position, 0);
    }

    #[test]
    fn error_unbalanced_parens() {
        let e = err("(uid=x");
        assert_eq!((e.position, e.kind), (6, FilterErrorKind::ExpectedCloseParen));
        assert_eq!(e.to_string(), "unexpected end of input at position 6: expected ')'");
        let e = err("(&(uid=x)");
        assert_eq!((e.position, e.kind), (9, FilterErrorKind::ExpectedCloseParen));
        let e = err("(uid=x))");
        assert_eq!((e.position, e.kind), (7, FilterErrorKind::TrailingCharacters));
        assert_eq!(e.to_string(), "unexpected ')' at position 7: expected the end of the filter");
        let e = err("(!(a=b)(c=d))");
        assert_eq!((e.position, e.kind), (7, FilterErrorKind::ExpectedCloseParen));
    }

    #[test]
    fn error_missing_attribute() {
        let e = err("(&(objectClass=person)(=x))");
        assert_eq!((e.position, e.kind), (23, FilterErrorKind::ExpectedAttribute));
        assert_eq!(e.to_string(), "unexpected '=' at position 23: expected an attribute description");
        let e = err("(&(uid=a)())");
        assert_eq!((e.position, e.kind), (10, FilterErrorKind::ExpectedAttribute));
        assert_eq!(e.to_string(), "unexpected ')' at position 10: expected '&', '|', '!' or an attribute description");
        let e = err("( uid=x)");
        assert_eq!((e.position, e.kind), (1, FilterErrorKind::ExpectedAttribute));
    }

    #[test]
    fn error_missing_filter_type() {
        let e = err("(uid)");
        assert_eq!((e.position, e.kind), (4, FilterErrorKind::ExpectedFilterType));
        assert_eq!(e.to_string(), "unexpected ')' at position 4: expected '=', '~=', '>=', '<=' or ':='");
        let e = err("(uid>5)");
        assert_eq!((e.position, e.kind), (5, FilterErrorKind::ExpectedFilterType));
        assert_eq!(e.to_string(), "unexpected '5' at position 5: expected '=' after '>'");
        let e = err("(uid x)");
        assert_eq!((e.position, e.kind), (4, FilterErrorKind::ExpectedFilterType));
    }

    #[test]
    fn error_bad_escape() {
        let e = err(r"(uid=\zz)");
        assert_eq!((e.position, e.kind), (5, FilterErrorKind::InvalidEscape));
        assert_eq!(e.to_string(), r"invalid escape at position 5: expected two hexadecimal digits after '\'");
        let e = err(r"(uid=ab\2)");
        assert_eq!((e.position, e.kind), (7, FilterErrorKind::InvalidEscape));
        let e = err(r"(uid=ab\");
        assert_eq!((e.position, e.kind), (7, FilterErrorKind::InvalidEscape));
    }

    #[test]
    fn error_unescaped_specials() {
        let e = err("(cn=a(b)");
        assert_eq!((e.position, e.kind), (5, FilterErrorKind::UnescapedSpecial));
        assert_eq!(e.to_string(), r"unexpected '(' at position 5: '(' must be escaped as '\28' in a filter value");
        let e = err("(n>=5*)");
        assert_eq!((e.position, e.kind), (5, FilterErrorKind::UnescapedSpecial));
        let e = err("(cn~=*)");
        assert_eq!((e.position, e.kind), (5, FilterErrorKind::UnescapedSpecial));
    }

    #[test]
    fn error_double_asterisk() {
        let e = err("(cn=a**b)");
        assert_eq!((e.position, e.kind), (6, FilterErrorKind::EmptySubstring));
        let e = err("(cn=**)");
        assert_eq!((e.position, e.kind), (5, FilterErrorKind::EmptySubstring));
    }

    #[test]
    fn error_in_lists() {
        let e = err("(&(a=b)x)");
        assert_eq!((e.position, e.kind), (7, FilterErrorKind::ExpectedFilter));
        assert_eq!(
            e.to_string(),
            "unexpected 'x' at position 7: expected '(' to start a filter or ')' to end the list"
        );
        let e = err("(!a=b)");
        assert_eq!((e.position, e.kind), (2, FilterErrorKind::ExpectedFilter));
        let e = err("(&(a=b)");
        assert_eq!((e.position, e.kind), (7, FilterErrorKind::ExpectedCloseParen));
    }

    #[test]
    fn error_extensible() {
        let e = err("(:=x)");
        assert_eq!((e.position, e.kind), (1, FilterErrorKind::ExpectedMatchingRule));
        assert_eq!(
            e.to_string(),
            "unexpected ':=' at position 1: an extensible match needs an attribute description or a matching rule"
        );
        let e = err("(:dn:=x)");
        assert_eq!((e.position, e.kind), (4, FilterErrorKind::ExpectedMatchingRule));
        let e = err("(cn::=x)");
        assert_eq!((e.position, e.kind), (4, FilterErrorKind::ExpectedMatchingRule));
        let e = err("(cn:rule=x)");
        assert_eq!((e.position, e.kind), (8, FilterErrorKind::ExpectedFilterType));
        let e = err("(cn:r1:r2:=x)");
        assert_eq!((e.position, e.kind), (9, FilterErrorKind::ExpectedFilterType));
    }

    #[test]
    fn error_bare_trailing_garbage() {
        let e = err("uid=x)");
        assert_eq!((e.position, e.kind), (5, FilterErrorKind::TrailingCharacters));
    }

    #[test]
    fn positions_count_characters() {
        let e = err("(cn=é\\zz)");
        assert_eq!(e.position, 5);
    }

    #[test]
    fn a_filter_nested_too_deep_is_an_error_not_a_stack_overflow() {
        let deep = |n: usize| format!("{}(uid=a){}", "(!".repeat(n), ")".repeat(n));
        assert!(Filter::parse(&deep(MAX_DEPTH - 1)).is_ok());
        for n in [MAX_DEPTH, 100_000] {
            let e = Filter::parse(&deep(n)).unwrap_err();
            assert_eq!(e.kind, FilterErrorKind::TooDeep, "{e}");
        }
        let ands = format!("{}(uid=a){}", "(&".repeat(100_000), ")".repeat(100_000));
        assert_eq!(Filter::parse(&ands).unwrap_err().kind, FilterErrorKind::TooDeep);
    }
}
