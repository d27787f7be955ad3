//! RFC 4514 distinguished names.
//!
//! A [`Dn`] is a list of [`Rdn`]s, leftmost (the entry's own RDN) first; an RDN is one or more
//! attribute-value assertions ([`Ava`]) joined by `+`. Parsing accepts the RFC 4514 string form plus the usual
//! leniencies of real directories: spaces around `,`, `+` and `=`, upper-case attribute types, legacy quoted
//! values (`cn="Doe, John"`). Values are kept unescaped; `Display` re-escapes them canonically but keeps their
//! case, and [`Dn::normalized`] gives the form used for comparison (attribute types lower-cased, values
//! trimmed, inner spaces collapsed and lower-cased), so `UID=Bob , OU=People,dc=Example` equals
//! `uid=bob,ou=people,dc=example`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::unexpected;

/// What went wrong while parsing a DN or an RDN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DnErrorKind {
    /// An attribute type was expected: `=x`, a leading, doubled or trailing comma, an empty RDN.
    ExpectedAttributeType,
    /// The `=` after the attribute type is missing.
    ExpectedEquals,
    /// A backslash is not followed by a special character or by two hexadecimal digits.
    InvalidEscape,
    /// Hex-escaped bytes (`\C3\A9`) do not form valid UTF-8.
    InvalidUtf8,
    /// A `#` BER value is not a non-empty, even-length run of hexadecimal digits.
    InvalidHexValue,
    /// A quoted value has no closing `"`.
    UnterminatedQuote,
    /// A character that must be escaped (`"`, `;`, `<`, `>`) appears unescaped in a value.
    UnescapedSpecial,
    /// A value is followed by something other than `,`, `+` or the end.
    ExpectedSeparator,
    /// An RDN string (parsed alone) holds more than one RDN.
    TrailingCharacters,
}

/// A DN or RDN that does not parse.
///
/// `position` is the 0-based character offset of the problem in the parsed string. `Display` reads like
/// `unexpected ',' at position 0: expected an attribute type`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at position {position}: {reason}")]
pub struct DnError {
    /// 0-based character offset of the problem.
    pub position: usize,
    /// The kind of problem, for programmatic matching.
    pub kind: DnErrorKind,
    /// What was found there (`unexpected ','`, `invalid escape`).
    pub problem: String,
    /// What was expected, or why it is wrong.
    pub reason: String,
}

impl DnError {
    fn new(kind: DnErrorKind, position: usize, problem: impl Into<String>, reason: impl Into<String>) -> Self {
        DnError { position, kind, problem: problem.into(), reason: reason.into() }
    }

    /// The same error with its position shifted by `by` characters (for a DN embedded in a larger string).
    pub(crate) fn offset(mut self, by: usize) -> Self {
        self.position += by;
        self
    }
}

/// The characters that RFC 4514 lets (or makes) a value escape with a single backslash.
const ESCAPABLE: &[char] = &['"', '+', ',', ';', '<', '>', '\\', ' ', '#', '='];

/// One attribute-value assertion of an RDN: `cn=John Doe`.
#[derive(Clone, Debug)]
pub struct Ava {
    attr_type: String,
    value: String,
    ber: bool,
    /// The normalized form, computed once: DNs are compared far more often than they are built.
    norm: String,
}

impl Ava {
    /// An AVA with a text value (given unescaped).
    pub fn new(attr_type: impl Into<String>, value: impl Into<String>) -> Self {
        Ava::make(attr_type.into(), value.into(), false)
    }

    fn make(attr_type: String, value: String, ber: bool) -> Self {
        let norm_value = if ber { value.to_ascii_lowercase() } else { escape_value(&normalize_value(&value)) };
        let mut norm = String::with_capacity(attr_type.len() + 1 + norm_value.len());
        norm.push_str(&attr_type);
        norm.make_ascii_lowercase();
        norm.push('=');
        norm.push_str(&norm_value);
        Ava { attr_type, value, ber, norm }
    }

    /// The attribute type as written (`cn`, `CN`, `2.5.4.3`).
    pub fn attr_type(&self) -> &str {
        &self.attr_type
    }

    /// The value, unescaped. For a `#`-prefixed BER value this is the hex form, `#` included.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the value was given in the `#hex` BER form.
    pub fn is_ber(&self) -> bool {
        self.ber
    }

    /// The normalized form: lower-case type, value trimmed, spaces collapsed, lower-cased and re-escaped.
    pub fn normalized(&self) -> String {
        self.norm.clone()
    }
}

impl fmt::Display for Ava {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ber {
            write!(f, "{}={}", self.attr_type, self.value)
        } else {
            write!(f, "{}={}", self.attr_type, escape_value(&self.value))
        }
    }
}

impl PartialEq for Ava {
    fn eq(&self, other: &Self) -> bool {
        self.norm == other.norm
    }
}

impl Eq for Ava {}

/// A relative distinguished name: one or more AVAs joined by `+` (`cn=John+employeeNumber=42`).
#[derive(Clone, Debug)]
pub struct Rdn {
    avas: Vec<Ava>,
}

impl Rdn {
    /// A single-valued RDN (`attr_type=value`, the value given unescaped).
    pub fn new(attr_type: impl Into<String>, value: impl Into<String>) -> Self {
        Rdn { avas: vec![Ava::new(attr_type, value)] }
    }

    /// This RDN with one more AVA (a multi-valued RDN).
    pub fn with(mut self, attr_type: impl Into<String>, value: impl Into<String>) -> Self {
        self.avas.push(Ava::new(attr_type, value));
        self
    }

    /// Parses one RDN (`cn=a+sn=b`); a comma outside a value is an error.
    pub fn parse(s: &str) -> Result<Rdn, DnError> {
        let chars: Vec<char> = s.chars().collect();
        let mut p = Parser { chars: &chars, pos: 0 };
        let rdn = p.rdn()?;
        if p.peek().is_some() {
            return Err(p.error(DnErrorKind::TrailingCharacters, "expected the end of the RDN (one RDN only)"));
        }
        Ok(rdn)
    }

    /// The AVAs in the order given.
    pub fn avas(&self) -> &[Ava] {
        &self.avas
    }

    /// Whether this RDN has several AVAs.
    pub fn is_multi_valued(&self) -> bool {
        self.avas.len() > 1
    }

    /// The (unescaped) value of the first AVA whose type is `attr_type` (any case).
    pub fn get(&self, attr_type: &str) -> Option<&str> {
        self.avas.iter().find(|a| a.attr_type.eq_ignore_ascii_case(attr_type)).map(|a| a.value.as_str())
    }

    /// The normalized form; the AVAs of a multi-valued RDN are sorted, so `cn=a+sn=b` equals `sn=b+cn=a`.
    pub fn normalized(&self) -> String {
        if let [one] = self.avas.as_slice() {
            return one.norm.clone();
        }
        let mut parts: Vec<&str> = self.avas.iter().map(|a| a.norm.as_str()).collect();
        parts.sort_unstable();
        parts.join("+")
    }
}

impl fmt::Display for Rdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ava) in self.avas.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{ava}")?;
        }
        Ok(())
    }
}

impl PartialEq for Rdn {
    fn eq(&self, other: &Self) -> bool {
        match (self.avas.as_slice(), other.avas.as_slice()) {
            ([a], [b]) => a.norm == b.norm,
            (a, b) if a.len() != b.len() => false,
            _ => self.normalized() == other.normalized(),
        }
    }
}

impl Eq for Rdn {}

impl Hash for Rdn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.avas.as_slice() {
            [one] => one.norm.hash(state),
            _ => self.normalized().hash(state),
        }
    }
}

impl FromStr for Rdn {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rdn::parse(s)
    }
}

/// A distinguished name: RDNs from the entry's own (leftmost) to the top of the tree. The empty DN is the
/// root DSE.
///
/// Equality and hashing use [`Dn::normalized`]; `Display` gives the canonical, case-preserving form.
#[derive(Clone, Debug, Default)]
pub struct Dn {
    rdns: Vec<Rdn>,
}

impl Dn {
    /// Parses an RFC 4514 DN. The empty (or all-blank) string is the root DN.
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        let chars: Vec<char> = s.chars().collect();
        let mut p = Parser { chars: &chars, pos: 0 };
        p.skip_spaces();
        let mut rdns = Vec::new();
        if p.peek().is_none() {
            return Ok(Dn { rdns });
        }
        loop {
            rdns.push(p.rdn()?);
            match p.peek() {
                Some(',') => p.pos += 1,
                _ => break,
            }
        }
        Ok(Dn { rdns })
    }

    /// The root DN (no RDNs).
    pub fn root() -> Dn {
        Dn { rdns: Vec::new() }
    }

    /// A DN from its RDNs, leftmost first.
    pub fn from_rdns(rdns: Vec<Rdn>) -> Dn {
        Dn { rdns }
    }

    /// A DN from RDN strings, leftmost first: `["uid=bob", "ou=people", "dc=example"]`. An error's position
    /// is counted as if the strings were joined with commas.
    pub fn from_rdn_strs<I, S>(rdns: I) -> Result<Dn, DnError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        let mut offset = 0;
        for s in rdns {
            let s = s.as_ref();
            out.push(Rdn::parse(s).map_err(|e| e.offset(offset))?);
            offset += s.chars().count() + 1;
        }
        Ok(Dn { rdns: out })
    }

    /// Whether this is the root DN.
    pub fn is_root(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The number of RDNs.
    pub fn len(&self) -> usize {
        self.rdns.len()
    }

    /// Whether this is the root DN (no RDNs).
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The RDNs, leftmost first.
    pub fn rdns(&self) -> &[Rdn] {
        &self.rdns
    }

    /// The leftmost RDN; `None` for the root DN.
    pub fn rdn(&self) -> Option<&Rdn> {
        self.rdns.first()
    }

    /// The parent DN; `None` for the root DN (the parent of `dc=com` is the root DN).
    pub fn parent(&self) -> Option<Dn> {
        if self.rdns.is_empty() {
            None
        } else {
            Some(Dn { rdns: self.rdns[1..].to_vec() })
        }
    }

    /// The DN of a child of this one.
    pub fn child(&self, rdn: Rdn) -> Dn {
        let mut rdns = Vec::with_capacity(self.rdns.len() + 1);
        rdns.push(rdn);
        rdns.extend(self.rdns.iter().cloned());
        Dn { rdns }
    }

    /// This DN's RDNs followed by `suffix`'s: `uid=bob` + `ou=people,dc=x`.
    pub fn concat(&self, suffix: &Dn) -> Dn {
        let mut rdns = self.rdns.clone();
        rdns.extend(suffix.rdns.iter().cloned());
        Dn { rdns }
    }

    /// Whether this DN is strictly below `ancestor`. Every non-root DN is below the root DN.
    pub fn is_descendant_of(&self, ancestor: &Dn) -> bool {
        self.rdns.len() > ancestor.rdns.len() && self.ends_with(ancestor)
    }

    /// Whether this DN is `base` or below it (the subtree scope of `base`).
    pub fn is_within(&self, base: &Dn) -> bool {
        self.rdns.len() >= base.rdns.len() && self.ends_with(base)
    }

    /// The RDNs of this DN that lie below `base` (leftmost first), or `None` when it is not within `base`.
    pub fn relative_to(&self, base: &Dn) -> Option<&[Rdn]> {
        if self.is_within(base) {
            Some(&self.rdns[..self.rdns.len() - base.rdns.len()])
        } else {
            None
        }
    }

    fn ends_with(&self, suffix: &Dn) -> bool {
        let skip = self.rdns.len() - suffix.rdns.len();
        self.rdns[skip..].iter().zip(&suffix.rdns).all(|(a, b)| a == b)
    }

    /// The normalized string: types lower-cased, values trimmed, inner spaces collapsed, lower-cased and
    /// re-escaped canonically; multi-valued RDNs sorted. Two DNs are equal when their normalized forms are.
    pub fn normalized(&self) -> String {
        let mut out = String::new();
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match rdn.avas.as_slice() {
                [one] => out.push_str(&one.norm),
                _ => out.push_str(&rdn.normalized()),
            }
        }
        out
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{rdn}")?;
        }
        Ok(())
    }
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.rdns == other.rdns
    }
}

impl Eq for Dn {}

impl Hash for Dn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rdns.hash(state);
    }
}

impl FromStr for Dn {
    type Err = DnError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dn::parse(s)
    }
}

/// Escapes an attribute value for use in a DN string (RFC 4514 section 2.4): `\` before `"` `+` `,` `;`
/// `<` `>` `\`, before a leading `#` or space and a trailing space; NUL as `\00`. Other whitespace at either end
/// (a tab, a no-break space) is hex-escaped, since the parser, lenient as operators need, drops unescaped
/// whitespace of any kind around a value.
pub fn escape_value(value: &str) -> String {
    let b = value.as_bytes();
    let edge_space = |c: Option<char>| c.is_some_and(|c| c != ' ' && c.is_whitespace());
    let plain = !b.iter().any(|c| matches!(c, b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' | 0))
        && !matches!(b.first(), Some(b'#' | b' '))
        && b.last() != Some(&b' ')
        && !edge_space(value.chars().next())
        && !edge_space(value.chars().next_back());
    if plain {
        return value.to_string();
    }
    let chars: Vec<char> = value.chars().collect();
    let last = chars.len().saturating_sub(1);
    let mut out = String::with_capacity(value.len() + 2);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\0' => out.push_str("\\00"),
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if (i == 0 || i == last) && c.is_whitespace() => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{byte:02x}"));
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Whether two DN strings name the same entry (compared by normalized form). Strings that do not parse as
/// DNs are compared case-insensitively after trimming, so a broken value still equals itself.
pub fn dn_equal(a: &str, b: &str) -> bool {
    match (Dn::parse(a), Dn::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim().to_lowercase() == b.trim().to_lowercase(),
    }
}

/// The normalized form of a DN string (see [`Dn::normalized`]).
pub fn normalize_dn(s: &str) -> Result<String, DnError> {
    Dn::parse(s).map(|d| d.normalized())
}

/// Case-folds a value for comparison: trimmed, runs of whitespace collapsed to one space, lower-cased.
fn normalize_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_ascii() {
        out.make_ascii_lowercase();
        out
    } else {
        out.to_lowercase()
    }
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// An error about the character at the current position.
    fn error(&self, kind: DnErrorKind, reason: &str) -> DnError {
        DnError::new(kind, self.pos, unexpected(self.peek()), reason)
    }

    fn rdn(&mut self) -> Result<Rdn, DnError> {
        let mut avas = Vec::new();
        loop {
            avas.push(self.ava()?);
            match self.peek() {
                Some('+') => self.pos += 1,
                _ => break,
            }
        }
        Ok(Rdn { avas })
    }

    fn ava(&mut self) -> Result<Ava, DnError> {
        self.skip_spaces();
        let attr_type = self.attr_type()?;
        self.skip_spaces();
        if self.peek() != Some('=') {
            return Err(self.error(DnErrorKind::ExpectedEquals, "expected '=' after the attribute type"));
        }
        self.pos += 1;
        self.skip_spaces();
        let (value, ber) = match self.peek() {
            Some('#') => (self.ber_value()?, true),
            Some('"') => (self.quoted_value()?, false),
            _ => (self.string_value()?, false),
        };
        self.skip_spaces();
        match self.peek() {
            None | Some(',') | Some('+') => Ok(Ava::make(attr_type, value, ber)),
            Some(_) => Err(self.error(DnErrorKind::ExpectedSeparator, "expected ',', '+' or the end of the DN")),
        }
    }

    /// `descr` (a letter, then letters, digits and hyphens) or a numeric OID.
    fn attr_type(&mut self) -> Result<String, DnError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() => {
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '-') {
                    self.pos += 1;
                }
            }
            Some(c) if c.is_ascii_digit() => loop {
                if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.error(DnErrorKind::ExpectedAttributeType, "expected a digit in the numeric OID"));
                }
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                if self.peek() == Some('.') {
                    self.pos += 1;
                } else {
                    break;
                }
            },
            _ => {
                return Err(self.error(DnErrorKind::ExpectedAttributeType, "expected an attribute type"));
            }
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    /// `#` then an even number of hex digits; returns the text with its `#`.
    fn ber_value(&mut self) -> Result<String, DnError> {
        let start = self.pos;
        self.pos += 1;
        while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        let digits = self.pos - start - 1;
        if digits == 0 || !digits.is_multiple_of(2) {
            return Err(self.error(
                DnErrorKind::InvalidHexValue,
                "expected an even number of hexadecimal digits after '#' (a BER-encoded value)",
            ));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    /// A legacy quoted value: `"Doe, John"`.
    fn quoted_value(&mut self) -> Result<String, DnError> {
        let open = self.pos;
        self.pos += 1;
        let mut acc = ValueAcc::default();
        loop {
            match self.peek() {
                None => {
                    return Err(DnError::new(
                        DnErrorKind::UnterminatedQuote,
                        open,
                        "unterminated quoted value",
                        "expected a closing '\"'",
                    ))
                }
                Some('"') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => self.escape(&mut acc)?,
                Some(c) => {
                    acc.push(c, true)?;
                    self.pos += 1;
                }
            }
        }
        acc.finish(false)
    }

    /// An RFC 4514 string value, up to an unescaped `,` or `+` or the end; trailing unescaped spaces dropped.
    fn string_value(&mut self) -> Result<String, DnError> {
        let mut acc = ValueAcc::default();
        loop {
            match self.peek() {
                None | Some(',') | Some('+') => break,
                Some('\\') => self.escape(&mut acc)?,
                Some(c @ ('"' | ';' | '<' | '>')) => {
                    return Err(DnError::new(
                        DnErrorKind::UnescapedSpecial,
                        self.pos,
                        unexpected(Some(c)),
                        format!("'{c}' must be escaped as '\\{c}' in a DN value"),
                    ));
                }
                Some(c) => {
                    acc.push(c, !c.is_whitespace())?;
                    self.pos += 1;
                }
            }
        }
        acc.finish(true)
    }

    /// A backslash escape at the current position: `\,` or a hex pair `\2C`.
    fn escape(&mut self, acc: &mut ValueAcc) -> Result<(), DnError> {
        let at = self.pos;
        let invalid = || {
            DnError::new(
                DnErrorKind::InvalidEscape,
                at,
                "invalid escape",
                "expected a special character (one of \" + , ; < > \\ # = or space) or two hexadecimal digits after '\\'",
            )
        };
        match (self.chars.get(at + 1).copied(), self.chars.get(at + 2).copied()) {
            (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let byte = (hex_val(h) << 4) | hex_val(l);
                acc.push_byte(byte, at);
                self.pos += 3;
                Ok(())
            }
            (Some(c), _) if ESCAPABLE.contains(&c) => {
                acc.push(c, true)?;
                self.pos += 2;
                Ok(())
            }
            _ => Err(invalid()),
        }
    }
}

fn hex_val(c: char) -> u8 {
    c.to_digit(16).map_or(0, |d| d as u8)
}

/// Accumulates a value's characters, decoding runs of hex-escaped bytes as UTF-8.
#[derive(Default)]
struct ValueAcc {
    out: String,
    bytes: Vec<u8>,
    bytes_at: usize,
    /// `out.len()` just after the last significant (escaped or non-space) character.
    significant: usize,
}

impl ValueAcc {
    fn push_byte(&mut self, b: u8, at: usize) {
        if self.bytes.is_empty() {
            self.bytes_at = at;
        }
        self.bytes.push(b);
    }

    fn flush(&mut self) -> Result<(), DnError> {
        if self.bytes.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.bytes);
        match String::from_utf8(bytes) {
            Ok(s) => {
                self.out.push_str(&s);
                self.significant = self.out.len();
                Ok(())
            }
            Err(_) => Err(DnError::new(
                DnErrorKind::InvalidUtf8,
                self.bytes_at,
                "invalid escaped bytes",
                "the hex-escaped bytes are not valid UTF-8",
            )),
        }
    }

    fn push(&mut self, c: char, significant: bool) -> Result<(), DnError> {
        self.flush()?;
        self.out.push(c);
        if significant {
            self.significant = self.out.len();
        }
        Ok(())
    }

    fn finish(mut self, trim_end: bool) -> Result<String, DnError> {
        self.flush()?;
        if trim_end {
            self.out.truncate(self.significant);
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> DnError {
        Dn::parse(s).unwrap_err()
    }

    #[test]
    fn parses_simple_dn() {
        let dn = Dn::parse("uid=bob,ou=People,dc=example,dc=com").unwrap();
        assert_eq!(dn.len(), 4);
        assert_eq!(dn.rdn().unwrap().get("UID"), Some("bob"));
        assert_eq!(dn.rdns()[1].avas()[0].attr_type(), "ou");
        assert_eq!(dn.to_string(), "uid=bob,ou=People,dc=example,dc=com");
    }

    #[test]
    fn empty_string_is_root() {
        let dn = Dn::parse("").unwrap();
        assert!(dn.is_root());
        assert!(dn.is_empty());
        assert_eq!(dn.to_string(), "");
        assert_eq!(Dn::parse("   ").unwrap(), Dn::root());
        assert_eq!(dn.parent(), None);
        assert_eq!(dn.rdn(), None);
    }

    #[test]
    fn normalization_ignores_case_and_spaces() {
        let a = Dn::parse("UID=Bob , OU=People,dc=Example").unwrap();
        let b = Dn::parse("uid=bob,ou=people,dc=example").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.normalized(), "uid=bob,ou=people,dc=example");
        assert_eq!(a.to_string(), "UID=Bob,OU=People,dc=Example");
        assert!(dn_equal("UID=Bob , OU=People,dc=Example", "uid=bob,ou=people,dc=example"));
        assert!(!dn_equal("uid=bob,dc=example", "uid=alice,dc=example"));
        assert_eq!(Dn::parse("cn=John   Doe").unwrap(), Dn::parse("cn=john doe").unwrap());
        assert_eq!(normalize_dn("CN=A B,DC=X").unwrap(), "cn=a b,dc=x");
    }

    #[test]
    fn dn_equal_falls_back_for_invalid_strings() {
        assert!(dn_equal("not a dn", " NOT A DN "));
        assert!(!dn_equal("not a dn", "uid=x"));
    }

    #[test]
    fn escapes_are_decoded_and_reescaped() {
        let dn = Dn::parse(r"cn=Doe\, John,dc=example").unwrap();
        assert_eq!(dn.rdn().unwrap().get("cn"), Some("Doe, John"));
        assert_eq!(dn.to_string(), r"cn=Doe\, John,dc=example");

        let hex = Dn::parse(r"cn=Doe\2C John,dc=example").unwrap();
        assert_eq!(hex, dn);
        assert_eq!(hex.to_string(), r"cn=Doe\, John,dc=example");

        let utf8 = Dn::parse(r"cn=Ren\C3\A9").unwrap();
        assert_eq!(utf8.rdn().unwrap().get("cn"), Some("René"));

        let specials = Dn::parse(r"cn=a\+b\;c\<d\>e\\f\=g\#h\22").unwrap();
        assert_eq!(specials.rdn().unwrap().get("cn"), Some("a+b;c<d>e\\f=g#h\""));
        assert_eq!(specials.to_string(), r#"cn=a\+b\;c\<d\>e\\f=g#h\""#);
    }

    #[test]
    fn significant_spaces_are_kept() {
        let dn = Dn::parse(r"cn=\ lead,cn=trail\ ,cn=  mid  dle  ").unwrap();
        assert_eq!(dn.rdns()[0].get("cn"), Some(" lead"));
        assert_eq!(dn.rdns()[1].get("cn"), Some("trail "));
        assert_eq!(dn.rdns()[2].get("cn"), Some("mid  dle"));
        assert_eq!(dn.to_string(), r"cn=\ lead,cn=trail\ ,cn=mid  dle");
        // Escaped edge spaces are dropped by normalization (trimmed), like caseIgnoreMatch does.
        assert_eq!(dn.rdns()[0].normalized(), "cn=lead");
    }

    #[test]
    fn multi_valued_rdns() {
        let dn = Dn::parse("cn=John+employeeNumber=42,dc=x").unwrap();
        let rdn = dn.rdn().unwrap();
        assert!(rdn.is_multi_valued());
        assert_eq!(rdn.avas().len(), 2);
        assert_eq!(rdn.get("employeenumber"), Some("42"));
        assert_eq!(dn.to_string(), "cn=John+employeeNumber=42,dc=x");
        assert_eq!(dn, Dn::parse("EMPLOYEENUMBER=42 + CN=john, DC=X").unwrap());
        assert_eq!(Rdn::new("cn", "a").with("sn", "b"), Rdn::parse("sn=B+cn=A").unwrap());
    }

    #[test]
    fn ber_values() {
        let dn = Dn::parse("1.3.6.1.4.1.1466.0=#04024869,dc=x").unwrap();
        let ava = &dn.rdn().unwrap().avas()[0];
        assert!(ava.is_ber());
        assert_eq!(ava.value(), "#04024869");
        assert_eq!(dn.to_string(), "1.3.6.1.4.1.1466.0=#04024869,dc=x");
        assert_eq!(dn, Dn::parse("1.3.6.1.4.1.1466.0=#04024869,DC=X").unwrap());
        assert_eq!(Dn::parse("cn=#04AB").unwrap(), Dn::parse("cn=#04ab").unwrap());
    }

    #[test]
    fn quoted_values() {
        let dn = Dn::parse(r#"cn="Doe, John + co" , dc=x"#).unwrap();
        assert_eq!(dn.rdn().unwrap().get("cn"), Some("Doe, John + co"));
        assert_eq!(dn.to_string(), r"cn=Doe\, John \+ co,dc=x");
    }

    #[test]
    fn empty_value_is_allowed() {
        let dn = Dn::parse("cn=,dc=x").unwrap();
        assert_eq!(dn.rdn().unwrap().get("cn"), Some(""));
        assert_eq!(dn.to_string(), "cn=,dc=x");
    }

    #[test]
    fn unescaped_equals_is_allowed_in_values() {
        let dn = Dn::parse("cn=a=b,dc=x").unwrap();
        assert_eq!(dn.rdn().unwrap().get("cn"), Some("a=b"));
    }

    #[test]
    fn hierarchy() {
        let base = Dn::parse("ou=People,dc=example,dc=com").unwrap();
        let bob = Dn::parse("uid=bob,OU=people,dc=Example,dc=com").unwrap();
        assert!(bob.is_descendant_of(&base));
        assert!(bob.is_within(&base));
        assert!(base.is_within(&base));
        assert!(!base.is_descendant_of(&base));
        assert!(!base.is_within(&bob));
        assert!(bob.is_descendant_of(&Dn::root()));
        assert!(!Dn::parse("uid=bob,ou=groups,dc=example,dc=com").unwrap().is_within(&base));
        assert_eq!(bob.parent().unwrap(), base);
        assert_eq!(bob.relative_to(&base).unwrap(), &[Rdn::new("uid", "BOB")]);
        assert_eq!(base.relative_to(&bob), None);
        assert_eq!(base.child(Rdn::new("uid", "bob")), bob);
        assert_eq!(Dn::parse("dc=com").unwrap().parent().unwrap(), Dn::root());
    }

    #[test]
    fn builders() {
        let dn = Dn::from_rdn_strs(["uid=bob", "ou=people", "dc=x"]).unwrap();
        assert_eq!(dn.to_string(), "uid=bob,ou=people,dc=x");
        let e = Dn::from_rdn_strs(["uid=bob", "ou"]).unwrap_err();
        assert_eq!(e.position, 10);
        assert_eq!(e.kind, DnErrorKind::ExpectedEquals);
        let concat = Dn::from_rdns(vec![Rdn::new("uid", "a,b")]).concat(&Dn::parse("dc=x").unwrap());
        assert_eq!(concat.to_string(), r"uid=a\,b,dc=x");
        assert_eq!("dc=x".parse::<Dn>().unwrap(), Dn::parse("DC=X").unwrap());
    }

    #[test]
    fn escape_value_is_canonical() {
        assert_eq!(escape_value("Doe, John"), r"Doe\, John");
        assert_eq!(escape_value("#1 "), r"\#1\ ");
        assert_eq!(escape_value(" x"), r"\ x");
        assert_eq!(escape_value(r#"a+b;c<d>e\f"g"#), r#"a\+b\;c\<d\>e\\f\"g"#);
        assert_eq!(escape_value("a\0b"), r"a\00b");
        assert_eq!(escape_value("a#b=c"), "a#b=c");
        assert_eq!(escape_value(""), "");
        assert_eq!(escape_value(" "), r"\ ");
        // Every escaped value parses back to itself.
        for v in ["Doe, John", "#1 ", " x ", "a\\b", "é+ü", "  "] {
            let dn = Dn::parse(&format!("cn={}", escape_value(v))).unwrap();
            assert_eq!(dn.rdn().unwrap().get("cn"), Some(v));
        }
    }

    #[test]
    fn error_leading_comma() {
        let e = err(",dc=x");
        assert_eq!(e.position, 0);
        assert_eq!(e.kind, DnErrorKind::ExpectedAttributeType);
        assert_eq!(e.to_string(), "unexpected ',' at position 0: expected an attribute type");
    }

    #[test]
    fn error_trailing_and_doubled_comma() {
        let e = err("dc=x,");
        assert_eq!((e.position, e.kind), (5, DnErrorKind::ExpectedAttributeType));
        assert_eq!(e.to_string(), "unexpected end of input at position 5: expected an attribute type");
        let e = err("cn=a,,dc=x");
        assert_eq!((e.position, e.kind), (5, DnErrorKind::ExpectedAttributeType));
    }

    #[test]
    fn error_missing_attribute_type() {
        let e = err("=x");
        assert_eq!((e.position, e.kind), (0, DnErrorKind::ExpectedAttributeType));
        let e = err("cn=a+=b");
        assert_eq!((e.position, e.kind), (5, DnErrorKind::ExpectedAttributeType));
        let e = err("1.=x");
        assert_eq!((e.position, e.kind), (2, DnErrorKind::ExpectedAttributeType));
    }

    #[test]
    fn error_missing_equals() {
        let e = err("dc");
        assert_eq!((e.position, e.kind), (2, DnErrorKind::ExpectedEquals));
        assert_eq!(e.to_string(), "unexpected end of input at position 2: expected '=' after the attribute type");
        let e = err("uid:bob");
        assert_eq!((e.position, e.kind), (3, DnErrorKind::ExpectedEquals));
        assert_eq!(e.to_string(), "unexpected ':' at position 3: expected '=' after the attribute type");
    }

    #[test]
    fn error_bad_escape() {
        let e = err(r"cn=a\zz,dc=x");
        assert_eq!((e.position, e.kind), (4, DnErrorKind::InvalidEscape));
        assert!(e.to_string().starts_with("invalid escape at position 4: expected a special character"));
        let e = err(r"cn=a\2");
        assert_eq!((e.position, e.kind), (4, DnErrorKind::InvalidEscape));
        let e = err(r"cn=a\");
        assert_eq!((e.position, e.kind), (4, DnErrorKind::InvalidEscape));
    }

    #[test]
    fn error_invalid_utf8() {
        let e = err(r"cn=ab\C3\28");
        assert_eq!((e.position, e.kind), (5, DnErrorKind::InvalidUtf8));
        let e = err(r"cn=\FF");
        assert_eq!((e.position, e.kind), (3, DnErrorKind::InvalidUtf8));
    }

    #[test]
    fn error_bad_ber() {
        let e = err("cn=#0");
        assert_eq!((e.position, e.kind), (5, DnErrorKind::InvalidHexValue));
        let e = err("cn=#");
        assert_eq!((e.position, e.kind), (4, DnErrorKind::InvalidHexValue));
        let e = err("cn=#04zz");
        assert_eq!((e.position, e.kind), (6, DnErrorKind::ExpectedSeparator));
    }

    #[test]
    fn error_unterminated_quote() {
        let e = err(r#"cn="abc,dc=x"#);
        assert_eq!((e.position, e.kind), (3, DnErrorKind::UnterminatedQuote));
        assert_eq!(e.to_string(), "unterminated quoted value at position 3: expected a closing '\"'");
        let e = err(r#"cn="abc"x"#);
        assert_eq!((e.position, e.kind), (8, DnErrorKind::ExpectedSeparator));
    }

    #[test]
    fn error_unescaped_special() {
        for (s, pos) in [("cn=a;b", 4), ("cn=a<b", 4), ("cn=a>b", 4), ("cn=a\"b", 4)] {
            let e = err(s);
            assert_eq!((e.position, e.kind), (pos, DnErrorKind::UnescapedSpecial), "{s}");
        }
        assert_eq!(
            err("cn=a;b").to_string(),
            r"unexpected ';' at position 4: ';' must be escaped as '\;' in a DN value"
        );
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let e = err("cn=é,,");
        assert_eq!(e.position, 5);
    }

    #[test]
    fn rdn_parse() {
        let rdn = Rdn::parse("uid=bob").unwrap();
        assert_eq!(rdn.to_string(), "uid=bob");
        let e = Rdn::parse("uid=bob,dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (7, DnErrorKind::TrailingCharacters));
        let e = Rdn::parse("").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DnErrorKind::ExpectedAttributeType));
    }
}
