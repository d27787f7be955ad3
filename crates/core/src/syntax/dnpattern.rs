//! DN maps: `from-dn-pattern` and `to-dn-pattern`.
//!
//! A [`FromDnPattern`] is a DN whose RDNs may be wildcards: `*` matches exactly one RDN (any number of `*`),
//! `**` matches zero or more RDNs (at most one `**`). Literal RDNs match by normalized form, so case and
//! spacing do not matter.
//!
//! A [`ToDnPattern`] is a DN template. `{1}`, `{2}`, ... insert what the wildcards of the from pattern matched,
//! in order; a `{n}` must stand alone between commas, and when it matched zero RDNs (a `**`) its comma goes
//! too: `{1},ou=destination,dc=x` with an empty `{1}` gives `ou=destination,dc=x`. Inside an RDN, value
//! pattern references (`{attr}`, `{attr.json.path}`, `{attr:/regex/replacement/flags}`, ...) insert the first
//! value of a source entry attribute, DN-escaped: `uid={givenname:/^(.)(.*)/$1/s}{sn:/^(.)(.*)/$1/s}{eid}`.
//!
//! [`DnMap`] pairs the two and checks that every `{n}` has a wildcard.

use std::fmt;

use super::dn::{escape_value, Dn, DnError, Rdn};
use super::pattern::{tokenize, AttrRef, PatternError, Token};
use super::unexpected;
use crate::entry::Entry;

/// Which pattern of a DN map an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnPatternSide {
    /// The `from-dn-pattern`.
    From,
    /// The `to-dn-pattern`.
    To,
}

/// What went wrong while parsing a DN pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DnPatternErrorKind {
    /// The pattern is empty.
    Empty,
    /// Nothing between two commas (or before the first, or after the last).
    EmptyRdn,
    /// An RDN does not parse (the problem and reason come from the DN parser).
    InvalidRdn,
    /// A from pattern with more than one `**`.
    MultipleDoubleWildcards,
    /// A `{n}` reference shares its RDN with other text.
    WildcardNotAlone,
    /// A `{n}` reference is `{0}` or names a wildcard the from pattern lacks.
    WildcardOutOfRange,
    /// An attribute reference does not parse (the problem and reason come from the value pattern parser).
    InvalidReference,
}

/// A DN pattern that does not parse.
///
/// `position` is the 0-based character offset of the problem in the pattern named by `side`. `Display`
/// reads like `unexpected '**' at position 3: a from-dn-pattern may contain at most one '**'`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at position {position}: {reason}")]
pub struct DnPatternError {
    /// 0-based character offset of the problem.
    pub position: usize,
    /// The kind of problem, for programmatic matching.
    pub kind: DnPatternErrorKind,
    /// Which pattern the error is in (for [`DnMap::new`], which checks both).
    pub side: DnPatternSide,
    /// What was found there.
    pub problem: String,
    /// What was expected, or why it is wrong.
    pub reason: String,
}

impl DnPatternError {
    fn new(
        side: DnPatternSide,
        kind: DnPatternErrorKind,
        position: usize,
        problem: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        DnPatternError { position, kind, side, problem: problem.into(), reason: reason.into() }
    }

    fn from_dn(side: DnPatternSide, e: DnError, position: usize) -> Self {
        DnPatternError::new(side, DnPatternErrorKind::InvalidRdn, position, e.problem, e.reason)
    }

    fn from_pattern(e: PatternError) -> Self {
        DnPatternError::new(DnPatternSide::To, DnPatternErrorKind::InvalidReference, e.position, e.problem, e.reason)
    }
}

/// The `[start, end)` character ranges of the comma-separated components of `chars`, ignoring escaped
/// commas (`\,`) and commas inside quoted values.
fn split_components(chars: &[char]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut in_quotes = false;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => i += 1,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                out.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push((start, chars.len()));
    out
}

#[derive(Clone, Debug)]
enum FromElem {
    One,
    Many,
    Rdn(Rdn),
}

/// A parsed `from-dn-pattern`.
#[derive(Clone, Debug)]
pub struct FromDnPattern {
    source: String,
    elems: Vec<FromElem>,
}

impl FromDnPattern {
    /// Parses a from pattern such as `**,ou=source,dc=example,dc=com` or `*,*,dc=example,dc=com`.
    pub fn parse(s: &str) -> Result<FromDnPattern, DnPatternError> {
        let side = DnPatternSide::From;
        let chars: Vec<char> = s.chars().collect();
        if chars.iter().all(|c| c.is_whitespace()) {
            return Err(DnPatternError::new(
                side,
                DnPatternErrorKind::Empty,
                0,
                unexpected(None),
                "expected a DN pattern such as '**,ou=people,dc=example,dc=com'",
            ));
        }
        let mut elems = Vec::new();
        let mut seen_many = false;
        for (start, end) in split_components(&chars) {
            let (ts, te) = trim_range(&chars, start, end);
            let text: String = chars[ts..te].iter().collect();
            match text.as_str() {
                "" => {
                    return Err(DnPatternError::new(
                        side,
                        DnPatternErrorKind::EmptyRdn,
                        end,
                        unexpected(chars.get(end).copied()),
                        "expected an RDN, '*' or '**'",
                    ))
                }
                "*" => elems.push(FromElem::One),
                "**" if seen_many => {
                    return Err(DnPatternError::new(
                        side,
                        DnPatternErrorKind::MultipleDoubleWildcards,
                        ts,
                        "unexpected '**'",
                        "a from-dn-pattern may contain at most one '**'",
                    ))
                }
                "**" => {
                    seen_many = true;
                    elems.push(FromElem::Many);
                }
                _ => {
                    let rdn = Rdn::parse(&text).map_err(|e| {
                        let at = ts + e.position;
                        DnPatternError::from_dn(side, e, at)
                    })?;
                    elems.push(FromElem::Rdn(rdn));
                }
            }
        }
        Ok(FromDnPattern { source: s.to_string(), elems })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The number of wildcards (`*` and `**`): the highest `{n}` a to pattern may use.
    pub fn wildcard_count(&self) -> usize {
        self.elems.iter().filter(|e| !matches!(e, FromElem::Rdn(_))).count()
    }

    /// Whether `dn` matches the pattern.
    pub fn matches(&self, dn: &Dn) -> bool {
        self.captures(dn).is_some()
    }

    /// What each wildcard matched, in pattern order (one RDN for `*`, zero or more for `**`, leftmost
    /// first), or `None` when `dn` does not match.
    pub fn captures(&self, dn: &Dn) -> Option<Vec<Vec<Rdn>>> {
        let rdns = dn.rdns();
        let many = self.elems.iter().position(|e| matches!(e, FromElem::Many));
        let fixed = self.elems.len() - usize::from(many.is_some());
        if rdns.len() < fixed || (many.is_none() && rdns.len() != fixed) {
            return None;
        }
        let middle = rdns.len() - fixed;
        let mut captures = Vec::new();
        let mut at = 0;
        for elem in &self.elems {
            match elem {
                FromElem::One => {
                    captures.push(vec![rdns.get(at)?.clone()]);
                    at += 1;
                }
                FromElem::Many => {
                    captures.push(rdns.get(at..at + middle)?.to_vec());
                    at += middle;
                }
                FromElem::Rdn(r) => {
                    if rdns.get(at)? != r {
                        return None;
                    }
                    at += 1;
                }
            }
        }
        Some(captures)
    }
}

impl fmt::Display for FromDnPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn trim_range(chars: &[char], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && chars[start].is_whitespace() {
        start += 1;
    }
    while end > start && chars[end - 1].is_whitespace() {
        end -= 1;
    }
    (start, end)
}

#[derive(Clone, Debug)]
enum ToPart {
    Literal(String),
    Ref(AttrRef),
}

#[derive(Clone, Debug)]
enum ToComp {
    Wildcard(usize),
    Rdn(Vec<ToPart>),
}

/// A parsed `to-dn-pattern`.
#[derive(Clone, Debug)]
pub struct ToDnPattern {
    source: String,
    comps: Vec<ToComp>,
    /// Each `{n}` and the position of its `{`.
    wildcard_refs: Vec<(usize, usize)>,
}

impl ToDnPattern {
    /// Parses a to pattern such as `{1},ou=destination,dc=example,dc=com` or
    /// `uid={givenname:/^(.)(.*)/$1/s}{sn:/^(.)(.*)/$1/s}{eid},{2},o=example`.
    pub fn parse(s: &str) -> Result<ToDnPattern, DnPatternError> {
        let side = DnPatternSide::To;
        let tokens = tokenize(s).map_err(DnPatternError::from_pattern)?;
        let total = s.chars().count();
        if tokens.iter().all(|t| matches!(t, Token::Char { c, .. } if c.is_whitespace())) {
            return Err(DnPatternError::new(
                side,
                DnPatternErrorKind::Empty,
                0,
                unexpected(None),
                "expected a DN pattern such as '{1},ou=people,dc=example,dc=com'",
            ));
        }

        // Split on unescaped commas outside quotes; each component ends at its comma (or the end).
        let mut groups: Vec<(Vec<&Token>, usize)> = Vec::new();
        let mut current: Vec<&Token> = Vec::new();
        let mut escaped = false;
        let mut in_quotes = false;
        for token in &tokens {
            if let Token::Char { c, pos } = token {
                if !escaped && *c == ',' && !in_quotes {
                    groups.push((std::mem::take(&mut current), *pos));
                    continue;
                }
                if !escaped && *c == '"' {
                    in_quotes = !in_quotes;
                }
                escaped = !escaped && *c == '\\';
            } else {
                escaped = false;
            }
            current.push(token);
        }
        groups.push((current, total));

        let mut comps = Vec::new();
        let mut wildcard_refs = Vec::new();
        for (group, end) in groups {
            let is_blank = |t: &&Token| matches!(t, Token::Char { c, .. } if c.is_whitespace());
            let first = group.iter().position(|t| !is_blank(t));
            let last = group.iter().rposition(|t| !is_blank(t));
            let (Some(first), Some(last)) = (first, last) else {
                return Err(DnPatternError::new(
                    side,
                    DnPatternErrorKind::EmptyRdn,
                    end,
                    unexpected(s.chars().nth(end)),
                    "expected an RDN or a {n} wildcard reference",
                ));
            };
            let group = &group[first..=last];
            if let Some((n, start)) = group.iter().find_map(|t| match t {
                Token::Wildcard { n, start } => Some((*n, *start)),
                _ => None,
            }) {
                if group.len() != 1 {
                    return Err(DnPatternError::new(
                        side,
                        DnPatternErrorKind::WildcardNotAlone,
                        start,
                        format!("unexpected '{{{n}}}'"),
                        "a {n} wildcard reference must stand alone between commas",
                    ));
                }
                if n == 0 {
                    return Err(DnPatternError::new(
                        side,
                        DnPatternErrorKind::WildcardOutOfRange,
                        start,
                        "unexpected '{0}'",
                        "wildcard references start at {1}",
                    ));
                }
                wildcard_refs.push((n, start));
                comps.push(ToComp::Wildcard(n));
                continue;
            }
            comps.push(ToComp::Rdn(rdn_component(group)?));
        }
        Ok(ToDnPattern { source: s.to_string(), comps, wildcard_refs })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The highest `{n}` used (0 when none).
    pub fn max_wildcard_ref(&self) -> usize {
        self.wildcard_refs.iter().map(|(n, _)| *n).max().unwrap_or(0)
    }

    /// The source attributes the pattern reads, in order, without duplicates (any case).
    pub fn attributes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for comp in &self.comps {
            if let ToComp::Rdn(parts) = comp {
                for part in parts {
                    if let ToPart::Ref(r) = part {
                        if !out.iter().any(|a| a.eq_ignore_ascii_case(&r.attr)) {
                            out.push(r.attr.clone());
                        }
                    }
                }
            }
        }
        out
    }

    /// Builds the destination DN from the wildcard captures (as given by [`FromDnPattern::captures`]) and
    /// the source entry. `None` when a referenced attribute is missing, a `{n}` has no capture, or the result
    /// is not a valid DN.
    pub fn build(&self, captures: &[Vec<Rdn>], entry: &Entry) -> Option<Dn> {
        let mut rdns: Vec<String> = Vec::new();
        for comp in &self.comps {
            match comp {
                ToComp::Wildcard(n) => {
                    for rdn in captures.get(n.checked_sub(1)?)? {
                        rdns.push(rdn.to_string());
                    }
                }
                ToComp::Rdn(parts) => {
                    let mut s = String::new();
                    for part in parts {
                        match part {
                            ToPart::Literal(l) => s.push_str(l),
                            ToPart::Ref(r) => s.push_str(&escape_value(r.values(entry).first()?)),
                        }
                    }
                    rdns.push(s);
                }
            }
        }
        Dn::parse(&rdns.join(",")).ok()
    }
}

/// Compiles the tokens of one RDN component, checking its syntax with each reference standing in as one
/// character.
fn rdn_component(group: &[&Token]) -> Result<Vec<ToPart>, DnPatternError> {
    let mut check = String::new();
    let mut positions = Vec::new();
    let mut parts = Vec::new();
    let mut literal = String::new();
    for token in group {
        match token {
            Token::Char { c, pos } => {
                check.push(*c);
                positions.push(*pos);
                literal.push(*c);
            }
            Token::Ref { attr_ref, start } => {
                check.push('x');
                positions.push(*start);
                if !literal.is_empty() {
                    parts.push(ToPart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(ToPart::Ref(attr_ref.clone()));
            }
            Token::Wildcard { .. } => {}
        }
    }
    if !literal.is_empty() {
        parts.push(ToPart::Literal(literal));
    }
    Rdn::parse(&check).map_err(|e| {
        let at = positions.get(e.position).copied().unwrap_or_else(|| positions.last().map_or(0, |p| p + 1));
        DnPatternError::from_dn(DnPatternSide::To, e, at)
    })?;
    Ok(parts)
}

impl fmt::Display for ToDnPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A DN map: a from pattern and a to pattern, validated together.
#[derive(Clone, Debug)]
pub struct DnMap {
    from: FromDnPattern,
    to: ToDnPattern,
}

impl DnMap {
    /// Parses both patterns and checks that every `{n}` of the to pattern names a wildcard of the from
    /// pattern. The error's `side` tells which property is wrong.
    pub fn new(from: &str, to: &str) -> Result<DnMap, DnPatternError> {
        let from = FromDnPattern::parse(from)?;
        let to = ToDnPattern::parse(to)?;
        let count = from.wildcard_count();
        if let Some(&(n, start)) = to.wildcard_refs.iter().find(|(n, _)| *n > count) {
            let reason = match count {
                0 => "the from-dn-pattern has no wildcards ('*' or '**')".to_string(),
                1 => "the from-dn-pattern has only 1 wildcard ('*' or '**')".to_string(),
                c => format!("the from-dn-pattern has only {c} wildcards ('*' or '**')"),
            };
            return Err(DnPatternError::new(
                DnPatternSide::To,
                DnPatternErrorKind::WildcardOutOfRange,
                start,
                format!("unexpected '{{{n}}}'"),
                reason,
            ));
        }
        Ok(DnMap { from, to })
    }

    /// The from pattern.
    pub fn from_pattern(&self) -> &FromDnPattern {
        &self.from
    }

    /// The to pattern.
    pub fn to_pattern(&self) -> &ToDnPattern {
        &self.to
    }

    /// The source attributes the to pattern reads.
    pub fn attributes(&self) -> Vec<String> {
        self.to.attributes()
    }

    /// Maps a source DN: `None` when it does not parse or does not match the from pattern, or when the to
    /// pattern cannot be built (see [`ToDnPattern::build`]). The result is in canonical DN form.
    pub fn apply(&self, source_dn: &str, entry: &Entry) -> Option<String> {
        let dn = Dn::parse(source_dn).ok()?;
        self.apply_dn(&dn, entry).map(|d| d.to_string())
    }

    /// [`DnMap::apply`] on a parsed DN.
    pub fn apply_dn(&self, source_dn: &Dn, entry: &Entry) -> Option<Dn> {
        let captures = self.from.captures(source_dn)?;
        self.to.build(&captures, entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(from: &str, to: &str) -> DnMap {
        DnMap::new(from, to).unwrap()
    }

    fn none() -> Entry {
        Entry::new("")
    }

    #[test]
    fn real_example_source_to_destination() {
        let m = map("**,ou=source,dc=example,dc=com", "{1},ou=destination,dc=example,dc=com");
        assert_eq!(
            m.apply("uid=bob,ou=source,dc=example,dc=com", &none()).unwrap(),
            "uid=bob,ou=destination,dc=example,dc=com"
        );
        assert_eq!(
            m.apply("uid=Bob Smith,OU=Sub , ou=Source,DC=example,dc=com", &none()).unwrap(),
            "uid=Bob Smith,OU=Sub,ou=destination,dc=example,dc=com"
        );
        // `**` matching nothing drops its comma.
        assert_eq!(m.apply("ou=source,dc=example,dc=com", &none()).unwrap(), "ou=destination,dc=example,dc=com");
        assert_eq!(m.apply("uid=bob,ou=other,dc=example,dc=com", &none()), None);
        assert_eq!(m.apply("dc=example,dc=com", &none()), None);
        assert_eq!(m.apply("not a dn", &none()), None);
        assert_eq!(
            m.apply(r"cn=Doe\, John,ou=source,dc=example,dc=com", &none()).unwrap(),
            r"cn=Doe\, John,ou=destination,dc=example,dc=com"
        );
    }

    #[test]
    fn real_example_myexample_to_o() {
        let m = map("**,dc=myexample,dc=com", "{1},o=example");
        assert_eq!(m.apply("uid=a,ou=people,dc=myexample,dc=com", &none()).unwrap(), "uid=a,ou=people,o=example");
        assert_eq!(m.apply("dc=myexample,dc=com", &none()).unwrap(), "o=example");
        assert_eq!(m.apply("dc=other,dc=com", &none()), None);
        let m = map("**,ou=people,o=instructor", "{1},ou=people,o=student");
        assert_eq!(m.apply("uid=x,ou=people,o=instructor", &none()).unwrap(), "uid=x,ou=people,o=student");
    }

    #[test]
    fn real_example_constructed_rdn() {
        let m = map("*,ou=people,dc=x", "uid={givenname:/^(.)(.*)/$1/s}{sn:/^(.)(.*)/$1/s}{eid},ou=staff,dc=y");
        let mut e = Entry::new("uid=jdoe,ou=people,dc=x");
        e.add("givenName", "John");
        e.add("sn", "Doe");
        e.add("eid", "123");
        assert_eq!(m.apply("uid=jdoe,ou=people,dc=x", &e).unwrap(), "uid=JD123,ou=staff,dc=y");
        assert_eq!(m.attributes(), vec!["givenname", "sn", "eid"]);
        // A missing attribute: no DN.
        e.remove("eid");
        assert_eq!(m.apply("uid=jdoe,ou=people,dc=x", &e), None);
        // Not directly below ou=people: no match.
        assert_eq!(m.apply("uid=jdoe,ou=sub,ou=people,dc=x", &e), None);
    }

    #[test]
    fn ping_doc_example_with_two_wildcards() {
        let m = map("*,*,dc=example,dc=com", "uid={givenname:/^(.)(.*)/$1/s}{sn:/^(.)(.*)/$1/s}{eid},{2},o=example");
        let mut e = Entry::new("");
        e.add("givenname", "Ann");
        e.add("sn", "Lee");
        e.add("eid", "7");
        assert_eq!(m.apply("uid=alee,ou=Sales,dc=example,dc=com", &e).unwrap(), "uid=AL7,ou=Sales,o=example");
    }

    #[test]
    fn attribute_values_are_dn_escaped() {
        let m = map("*,dc=x", "cn={cn},ou={dept},dc=y");
        let mut e = Entry::new("");
        e.add("cn", "Doe, John");
        e.add("cn", "second value ignored");
        e.add("dept", "#1 R+D ");
        assert_eq!(m.apply("uid=a,dc=x", &e).unwrap(), r"cn=Doe\, John,ou=\#1 R\+D\ ,dc=y");
        let dn = m.apply_dn(&Dn::parse("uid=a,dc=x").unwrap(), &e).unwrap();
        assert_eq!(dn.rdn().unwrap().get("cn"), Some("Doe, John"));
    }

    #[test]
    fn single_wildcards_capture_in_order() {
        let m = map("*,ou=groups,*,dc=x", "{2},{1},ou=g,dc=y");
        assert_eq!(m.apply("cn=admins,ou=groups,o=acme,dc=x", &none()).unwrap(), "o=acme,cn=admins,ou=g,dc=y");
        let from = FromDnPattern::parse("*,**,dc=x").unwrap();
        assert_eq!(from.wildcard_count(), 2);
        let caps = from.captures(&Dn::parse("a=1,b=2,c=3,dc=x").unwrap()).unwrap();
        assert_eq!(caps[0], vec![Rdn::new("a", "1")]);
        assert_eq!(caps[1], vec![Rdn::new("b", "2"), Rdn::new("c", "3")]);
        let caps = from.captures(&Dn::parse("a=1,dc=x").unwrap()).unwrap();
        assert!(caps[1].is_empty());
        assert!(!from.matches(&Dn::parse("dc=x").unwrap()));
    }

    #[test]
    fn double_wildcard_in_the_middle_and_at_the_end() {
        let m = map("uid=*,**,dc=x", "{1}");
        // `uid=*` is a literal RDN (a '*' value), not a wildcard.
        assert!(DnMap::new("uid=*,**,dc=x", "{2}").is_err());
        assert!(m.from_pattern().matches(&Dn::parse("uid=*,ou=a,dc=x").unwrap()));
        let m = map("cn=config,**", "{1},cn=config,o=new");
        assert_eq!(m.apply("cn=config", &none()).unwrap(), "cn=config,o=new");
        assert_eq!(m.apply("cn=config,o=old,c=us", &none()).unwrap(), "o=old,c=us,cn=config,o=new");
        let m = map("**", "{1},o=copy");
        assert_eq!(m.apply("", &none()).unwrap(), "o=copy");
        assert_eq!(m.apply("uid=a,dc=x", &none()).unwrap(), "uid=a,dc=x,o=copy");
    }

    #[test]
    fn matching_is_case_and_space_insensitive() {
        let m = map("** , OU=Source , DC=Example,dc=COM", "{1},ou=dest");
        assert_eq!(m.apply("uid=x,ou=source,dc=example,dc=com", &none()).unwrap(), "uid=x,ou=dest");
        assert_eq!(m.from_pattern().as_str(), "** , OU=Source , DC=Example,dc=COM");
    }

    #[test]
    fn to_pattern_without_wildcards() {
        let m = map("*,dc=x", "cn=fixed,dc=y");
        assert_eq!(m.apply("uid=a,dc=x", &none()).unwrap(), "cn=fixed,dc=y");
        assert_eq!(m.to_pattern().max_wildcard_ref(), 0);
        let m = map("*,dc=x", "uid={uid:/\\,//g}{{x}},dc=y");
        let mut e = Entry::new("");
        e.add("uid", "a,b");
        assert_eq!(m.apply("uid=a,dc=x", &e).unwrap(), "uid=ab{x},dc=y");
    }

    #[test]
    fn from_errors() {
        let e = FromDnPattern::parse("**,ou=x,**,dc=y").unwrap_err();
        assert_eq!((e.position, e.kind, e.side), (8, DnPatternErrorKind::MultipleDoubleWildcards, DnPatternSide::From));
        assert_eq!(e.to_string(), "unexpected '**' at position 8: a from-dn-pattern may contain at most one '**'");
        let e = FromDnPattern::parse("").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DnPatternErrorKind::Empty));
        let e = FromDnPattern::parse("*,,dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (2, DnPatternErrorKind::EmptyRdn));
        assert_eq!(e.to_string(), "unexpected ',' at position 2: expected an RDN, '*' or '**'");
        let e = FromDnPattern::parse("*,dc=x,").unwrap_err();
        assert_eq!((e.position, e.kind), (7, DnPatternErrorKind::EmptyRdn));
        let e = FromDnPattern::parse("*, ou:x").unwrap_err();
        assert_eq!((e.position, e.kind), (5, DnPatternErrorKind::InvalidRdn));
        assert_eq!(e.to_string(), "unexpected ':' at position 5: expected '=' after the attribute type");
        let e = FromDnPattern::parse("***,dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DnPatternErrorKind::InvalidRdn));
        let e = FromDnPattern::parse(r"*,cn=a\zz").unwrap_err();
        assert_eq!((e.position, e.kind), (6, DnPatternErrorKind::InvalidRdn));
    }

    #[test]
    fn to_errors() {
        let e = ToDnPattern::parse("{1},,dc=x").unwrap_err();
        assert_eq!((e.position, e.kind, e.side), (4, DnPatternErrorKind::EmptyRdn, DnPatternSide::To));
        let e = ToDnPattern::parse("  ").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DnPatternErrorKind::Empty));
        let e = ToDnPattern::parse("{1},dc=x,").unwrap_err();
        assert_eq!((e.position, e.kind), (9, DnPatternErrorKind::EmptyRdn));
        assert_eq!(e.to_string(), "unexpected end of input at position 9: expected an RDN or a {n} wildcard reference");
        let e = ToDnPattern::parse("cn={1},dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (3, DnPatternErrorKind::WildcardNotAlone));
        assert_eq!(
            e.to_string(),
            "unexpected '{1}' at position 3: a {n} wildcard reference must stand alone between commas"
        );
        let e = ToDnPattern::parse("{0},dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DnPatternErrorKind::WildcardOutOfRange));
        let e = ToDnPattern::parse("uid={sn:bogus},dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (8, DnPatternErrorKind::InvalidReference));
        assert!(e.to_string().starts_with("unknown modifier 'bogus' at position 8: valid modifiers are"));
        let e = ToDnPattern::parse("uid={sn,dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (7, DnPatternErrorKind::InvalidReference));
        assert_eq!(e.to_string(), "unexpected ',' at position 7: expected '.', ':' or '}' after the attribute name");
        let e = ToDnPattern::parse("{1},ou:{sn},dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (6, DnPatternErrorKind::InvalidRdn));
        assert_eq!(e.to_string(), "unexpected ':' at position 6: expected '=' after the attribute type");
        let e = ToDnPattern::parse("{1},ou={sn}x;y,dc=x").unwrap_err();
        assert_eq!((e.position, e.kind), (12, DnPatternErrorKind::InvalidRdn));
        let e = ToDnPattern::parse("{1},ou").unwrap_err();
        assert_eq!((e.position, e.kind), (6, DnPatternErrorKind::InvalidRdn));
    }

    #[test]
    fn map_checks_wildcard_references() {
        let e = DnMap::new("*,*,dc=x", "{3},dc=y").unwrap_err();
        assert_eq!((e.position, e.kind, e.side), (0, DnPatternErrorKind::WildcardOutOfRange, DnPatternSide::To));
        assert_eq!(
            e.to_string(),
            "unexpected '{3}' at position 0: the from-dn-pattern has only 2 wildcards ('*' or '**')"
        );
        let e = DnMap::new("dc=x", "{1},dc=y").unwrap_err();
        assert_eq!(e.reason, "the from-dn-pattern has no wildcards ('*' or '**')");
        let e = DnMap::new("**,dc=x", "{1},{2},dc=y").unwrap_err();
        assert_eq!((e.position, e.reason.as_str()), (4, "the from-dn-pattern has only 1 wildcard ('*' or '**')"));
        let e = DnMap::new("**,**", "{1}").unwrap_err();
        assert_eq!(e.side, DnPatternSide::From);
        assert!(DnMap::new("*,*,dc=x", "{2},{1},dc=y").is_ok());
    }

    #[test]
    fn to_pattern_reports_attributes() {
        let to = ToDnPattern::parse("uid={uid},{1},cn={CN}-{uid:/a/b/},o={name.first}").unwrap();
        assert_eq!(to.attributes(), vec!["uid", "CN", "name"]);
        assert_eq!(to.max_wildcard_ref(), 1);
        assert_eq!(to.to_string(), "uid={uid},{1},cn={CN}-{uid:/a/b/},o={name.first}");
    }
}
