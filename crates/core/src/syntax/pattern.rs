//! Ping value patterns: the `value-pattern` and `conditional-value-pattern` of constructed attribute mappings.
//!
//! A [`ValuePattern`] is literal text with attribute references in braces:
//!
//! * `{{` and `}}` are a literal `{` and `}`; any other `}` outside a reference is an error;
//! * `{attr}` inserts the values of source attribute `attr` (any case; `{dn}` and `{entryDN}` give the
//!   entry's DN when the entry has no such attribute);
//! * `{attr.field.sub}` is a JSON path: the values of `attr` (JSON values, or text holding a JSON document)
//!   are walked field by field (an exact field name first, then any case); a JSON array met on the way, or at
//!   the end, expands to several values; strings give their content, other JSON values their compact text,
//!   `null` nothing;
//! * one modifier may follow a colon: `{attr:jsonEscape}` (escape for the inside of a JSON string),
//!   `{attr:ldapFilterEscape}` (RFC 4515 escaping), or `{attr:/regex/replacement/flags}`: the regular
//!   expression replaces the first match (all matches with flag `g`); the replacement uses Java syntax (`$1`,
//!   `${name}`, `\$` for a literal dollar); flags are `g` (replace all), `i` (ignore case), `m` (multi-line),
//!   `s` (`.` matches newlines) and `x` (extended). `\/` writes a `/` inside the regex or the replacement.
//!
//! Evaluation (`ValuePattern::evaluate`) produces one value per value of the (single) multi-valued source:
//! if several referenced attributes have several values, the first of them (in pattern order) fans out and
//! the others contribute their first value. Results are deduplicated, order kept. A referenced attribute that
//! is missing (or a JSON path that leads nowhere) makes the pattern produce no value at all.
//!
//! A [`ConditionalValuePattern`] is `(filter) : pattern`: the pattern applies only to entries the filter
//! matches.

use std::fmt;

use regex::{Regex, RegexBuilder};
use serde_json::Value as Json;

use super::filter::{ldap_filter_escape, Filter, FilterError};
use super::unexpected;
use crate::entry::{Entry, Value};

/// What went wrong while parsing a value pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// A `{` starts an attribute reference that is never closed by `}`.
    UnclosedBrace,
    /// A `}` outside a reference that is not doubled (`}}`).
    UnmatchedCloseBrace,
    /// An attribute name was expected after `{`.
    ExpectedAttributeName,
    /// A JSON field name was expected after `.`.
    ExpectedFieldName,
    /// Something other than `.`, `:` or `}` follows the attribute name or a field.
    ExpectedCloseBrace,
    /// Nothing follows the `:` of a modifier.
    ExpectedModifier,
    /// The modifier is not `jsonEscape`, `ldapFilterEscape` or `/regex/replacement/flags`.
    UnknownModifier,
    /// A `/regex/replacement/flags` modifier is missing a `/`.
    UnterminatedRegex,
    /// The regular expression does not compile.
    InvalidRegex,
    /// The replacement refers to a group the regex lacks, or has a stray `$` or `\`.
    InvalidReplacement,
    /// A regex flag is not one of `g`, `i`, `m`, `s`, `x`.
    UnknownFlag,
    /// A numbered `{1}` reference, which only a to-dn-pattern allows.
    WildcardReference,
    /// A conditional pattern does not start with a `(filter)`.
    ExpectedFilter,
    /// The filter of a conditional pattern does not parse.
    InvalidFilter,
    /// The `:` between the filter and the pattern of a conditional pattern is missing.
    ExpectedColon,
}

/// A value pattern that does not parse.
///
/// `position` is the 0-based character offset of the problem. `Display` reads like
/// `unknown modifier 'foo' at position 5: valid modifiers are jsonEscape, ldapFilterEscape and
/// /regex/replacement/flags`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at position {position}: {reason}")]
pub struct PatternError {
    /// 0-based character offset of the problem.
    pub position: usize,
    /// The kind of problem, for programmatic matching.
    pub kind: PatternErrorKind,
    /// What was found there.
    pub problem: String,
    /// What was expected, or why it is wrong.
    pub reason: String,
}

impl PatternError {
    fn new(kind: PatternErrorKind, position: usize, problem: impl Into<String>, reason: impl Into<String>) -> Self {
        PatternError { position, kind, problem: problem.into(), reason: reason.into() }
    }

    fn offset(mut self, by: usize) -> Self {
        self.position += by;
        self
    }

    fn from_filter(e: FilterError, offset: usize) -> Self {
        PatternError::new(PatternErrorKind::InvalidFilter, e.position + offset, e.problem, e.reason)
    }
}

const MODIFIERS_HELP: &str = "valid modifiers are jsonEscape, ldapFilterEscape and /regex/replacement/flags";
const REGEX_FORM: &str = "the form is {attr:/regex/replacement/flags}";

/// A modifier applied to each value of a reference.
#[derive(Clone, Debug)]
pub(crate) enum Modifier {
    JsonEscape,
    LdapFilterEscape,
    Replace(RegexReplace),
}

/// A compiled `/regex/replacement/flags` modifier.
#[derive(Clone, Debug)]
pub(crate) struct RegexReplace {
    regex: Regex,
    replacement: Vec<ReplacementPart>,
    global: bool,
}

#[derive(Clone, Debug)]
enum ReplacementPart {
    Literal(String),
    Group(usize),
    Named(String),
}

impl RegexReplace {
    /// Java `replaceFirst` (or `replaceAll` with `g`): a value without a match is left as it is.
    fn apply(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for caps in self.regex.captures_iter(s) {
            let Some(m) = caps.get(0) else { continue };
            // Match bounds are char boundaries.
            out.push_str(s.get(last..m.start()).unwrap_or_default());
            for part in &self.replacement {
                match part {
                    ReplacementPart::Literal(l) => out.push_str(l),
                    ReplacementPart::Group(g) => out.push_str(caps.get(*g).map_or("", |m| m.as_str())),
                    ReplacementPart::Named(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
                }
            }
            last = m.end();
            if !self.global {
                break;
            }
        }
        out.push_str(s.get(last..).unwrap_or_default());
        out
    }
}

/// An attribute reference: `{attr.path:modifier}`.
#[derive(Clone, Debug)]
pub(crate) struct AttrRef {
    pub(crate) attr: String,
    pub(crate) path: Vec<String>,
    pub(crate) modifier: Option<Modifier>,
}

impl AttrRef {
    /// Identifies the source of the values (attribute and path), for the fan-out rule.
    fn source_key(&self) -> (String, &[String]) {
        (self.attr.to_ascii_lowercase(), &self.path)
    }

    /// The reference's values in `entry`, modifier applied; empty when the attribute is missing.
    pub(crate) fn values(&self, entry: &Entry) -> Vec<String> {
        let raw = self.raw_values(entry);
        match &self.modifier {
            None => raw,
            Some(Modifier::JsonEscape) => raw.iter().map(|v| json_escape(v)).collect(),
            Some(Modifier::LdapFilterEscape) => raw.iter().map(|v| ldap_filter_escape(v)).collect(),
            Some(Modifier::Replace(r)) => raw.iter().map(|v| r.apply(v)).collect(),
        }
    }

    fn raw_values(&self, entry: &Entry) -> Vec<String> {
        let values = entry.values(&self.attr);
        let dn_value;
        let values: &[Value] = if values.is_empty()
            && (self.attr.eq_ignore_ascii_case("dn") || self.attr.eq_ignore_ascii_case("entryDN"))
        {
            dn_value = [Value::Text(entry.dn.clone())];
            &dn_value
        } else {
            values
        };
        if self.path.is_empty() {
            return values.iter().map(|v| v.as_text().into_owned()).collect();
        }
        let mut out = Vec::new();
        for v in values {
            if let Some(json) = v.as_json() {
                walk_json(&json, &self.path, &mut out);
            }
        }
        out
    }
}

fn walk_json(json: &Json, path: &[String], out: &mut Vec<String>) {
    match (json, path.split_first()) {
        (Json::Array(items), _) => {
            for item in items {
                walk_json(item, path, out);
            }
        }
        (Json::Null, None) => {}
        (Json::String(s), None) => out.push(s.clone()),
        (other, None) => out.push(other.to_string()),
        (Json::Object(map), Some((field, rest))) => {
            let found =
                map.get(field).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)).map(|(_, v)| v));
            if let Some(v) = found {
                walk_json(v, rest, out);
            }
        }
        (_, Some(_)) => {}
    }
}

/// Escapes a string for the inside of a JSON string literal: `"`, `\` and control characters.
pub fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// A lexical token of a pattern, with its character position.
#[derive(Clone, Debug)]
pub(crate) enum Token {
    /// A literal character (`{{` and `}}` already decoded).
    Char { c: char, pos: usize },
    /// An attribute reference starting at `start` (its `{`).
    Ref { attr_ref: AttrRef, start: usize },
    /// A numbered `{n}` reference starting at `start`.
    Wildcard { n: usize, start: usize },
}

/// Splits a pattern into literal characters, attribute references and numbered references.
pub(crate) fn tokenize(s: &str) -> Result<Vec<Token>, PatternError> {
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '{' if chars.get(i + 1) == Some(&'{') => {
                tokens.push(Token::Char { c: '{', pos: i });
                i += 2;
            }
            '{' => {
                let (token, next) = reference(&chars, i)?;
                tokens.push(token);
                i = next;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                tokens.push(Token::Char { c: '}', pos: i });
                i += 2;
            }
            '}' => {
                return Err(PatternError::new(
                    PatternErrorKind::UnmatchedCloseBrace,
                    i,
                    "unexpected '}'",
                    "a literal '}' must be doubled as '}}'",
                ))
            }
            c => {
                tokens.push(Token::Char { c, pos: i });
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Parses the reference whose `{` is at `start`; returns it and the position after its `}`.
fn reference(chars: &[char], start: usize) -> Result<(Token, usize), PatternError> {
    let unclosed = || {
        PatternError::new(
            PatternErrorKind::UnclosedBrace,
            start,
            "unclosed '{'",
            "expected '}' to end the attribute reference (a literal '{' must be doubled as '{{')",
        )
    };
    let at = |i: usize| chars.get(i).copied();
    let mut i = start + 1;
    let name_start = i;
    match at(i) {
        None => return Err(unclosed()),
        Some(c) if c.is_ascii_digit() => {
            while at(i).is_some_and(|c| c.is_ascii_digit() || c == '.') {
                i += 1;
            }
            let name: String = chars[name_start..i].iter().collect();
            if !name.contains('.') {
                let n = name.parse::<usize>().map_err(|_| {
                    PatternError::new(
                        PatternErrorKind::ExpectedAttributeName,
                        name_start,
                        format!("invalid reference number {name}"),
                        "the number is too large",
                    )
                })?;
                return match at(i) {
                    Some('}') => Ok((Token::Wildcard { n, start }, i + 1)),
                    None => Err(unclosed()),
                    Some(c) => Err(PatternError::new(
                        PatternErrorKind::ExpectedCloseBrace,
                        i,
                        unexpected(Some(c)),
                        "expected '}' after the reference number",
                    )),
                };
            }
            if name.split('.').any(str::is_empty) {
                return Err(PatternError::new(
                    PatternErrorKind::ExpectedAttributeName,
                    name_start,
                    format!("invalid numeric OID '{name}'"),
                    "expected an attribute name or a numeric OID such as 2.5.4.3",
                ));
            }
        }
        Some(c) if c.is_ascii_alphabetic() => {
            while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ';')) {
                i += 1;
            }
        }
        Some(c) => {
            return Err(PatternError::new(
                PatternErrorKind::ExpectedAttributeName,
                i,
                unexpected(Some(c)),
                "expected an attribute name after '{' (a literal '{' must be doubled as '{{')",
            ))
        }
    }
    let attr: String = chars[name_start..i].iter().collect();

    let mut path = Vec::new();
    while at(i) == Some('.') {
        i += 1;
        let field_start = i;
        while at(i).is_some_and(|c| !matches!(c, '.' | ':' | '{' | '}')) {
            i += 1;
        }
        if field_start == i {
            return match at(i) {
                None => Err(unclosed()),
                c => Err(PatternError::new(
                    PatternErrorKind::ExpectedFieldName,
                    i,
                    unexpected(c),
                    "expected a JSON field name after '.'",
                )),
            };
        }
        path.push(chars[field_start..i].iter().collect());
    }

    let modifier = match at(i) {
        None => return Err(unclosed()),
        Some('}') => None,
        Some(':') => {
            i += 1;
            let (modifier, next) = parse_modifier(chars, i, unclosed)?;
            i = next;
            Some(modifier)
        }
        Some(c) => {
            return Err(PatternError::new(
                PatternErrorKind::ExpectedCloseBrace,
                i,
                unexpected(Some(c)),
                "expected '.', ':' or '}' after the attribute name",
            ))
        }
    };
    // `i` is on the closing '}'.
    Ok((Token::Ref { attr_ref: AttrRef { attr, path, modifier }, start }, i + 1))
}

/// Parses a modifier starting at `i` (after the `:`); returns it and the position of the closing `}`.
fn parse_modifier(
    chars: &[char],
    mut i: usize,
    unclosed: impl Fn() -> PatternError,
) -> Result<(Modifier, usize), PatternError> {
    if chars.get(i) == Some(&'/') {
        return parse_regex_modifier(chars, i, unclosed);
    }
    let word_start = i;
    while chars.get(i).is_some_and(|&c| c != '}') {
        i += 1;
    }
    if i >= chars.len() {
        return Err(unclosed());
    }
    let word: String = chars[word_start..i].iter().collect();
    let modifier = match word.to_ascii_lowercase().as_str() {
        "" => {
            return Err(PatternError::new(
                PatternErrorKind::ExpectedModifier,
                word_start,
                unexpected(chars.get(word_start).copied()),
                format!("expected a modifier after ':'; {MODIFIERS_HELP}"),
            ))
        }
        "jsonescape" => Modifier::JsonEscape,
        "ldapfilterescape" => Modifier::LdapFilterEscape,
        _ => {
            return Err(PatternError::new(
                PatternErrorKind::UnknownModifier,
                word_start,
                format!("unknown modifier '{word}'"),
                MODIFIERS_HELP,
            ))
        }
    };
    Ok((modifier, i))
}

/// Parses `/regex/replacement/flags` starting on the first `/`; returns it and the position of the `}`.
fn parse_regex_modifier(
    chars: &[char],
    open: usize,
    unclosed: impl Fn() -> PatternError,
) -> Result<(Modifier, usize), PatternError> {
    let regex_start = open + 1;
    let mut i = regex_start;
    let mut regex_src = String::new();
    loop {
        match chars.get(i) {
            None => {
                return Err(PatternError::new(
                    PatternErrorKind::UnterminatedRegex,
                    open,
                    "unterminated regular expression",
                    format!("expected '/' after the regular expression; {REGEX_FORM}"),
                ))
            }
            Some('\\') if chars.get(i + 1) == Some(&'/') => {
                regex_src.push('/');
                i += 2;
            }
            Some('\\') => {
                regex_src.push('\\');
                if let Some(&c) = chars.get(i + 1) {
                    regex_src.push(c);
                }
                i += 2;
            }
            Some('/') => {
                i += 1;
                break;
            }
            Some(&c) => {
                regex_src.push(c);
                i += 1;
            }
        }
    }

    let replacement_start = i;
    let mut replacement_raw: Vec<(char, usize)> = Vec::new();
    loop {
        match chars.get(i) {
            None => {
                return Err(PatternError::new(
                    PatternErrorKind::UnterminatedRegex,
                    replacement_start,
                    "unterminated replacement",
                    format!("expected '/' after the replacement; {REGEX_FORM}"),
                ))
            }
            Some('\\') => {
                replacement_raw.push(('\\', i));
                if let Some(&c) = chars.get(i + 1) {
                    replacement_raw.push((c, i + 1));
                }
                i += 2;
            }
            Some('/') => {
                i += 1;
                break;
            }
            Some(&c) => {
                replacement_raw.push((c, i));
                i += 1;
            }
        }
    }

    let mut builder = RegexBuilder::new(&regex_src);
    let mut global = false;
    loop {
        match chars.get(i) {
            None => return Err(unclosed()),
            Some('}') => break,
            Some('g') => global = true,
            Some('i') => {
                builder.case_insensitive(true);
            }
            Some('m') => {
                builder.multi_line(true);
            }
            Some('s') => {
                builder.dot_matches_new_line(true);
            }
            Some('x') => {
                builder.ignore_whitespace(true);
            }
            Some(&c) => {
                return Err(PatternError::new(
                    PatternErrorKind::UnknownFlag,
                    i,
                    format!("unknown regular expression flag {c:?}"),
                    "valid flags are g (replace all matches), i (ignore case), m (multi-line), \
                     s (dot matches newlines) and x (extended)",
                ))
            }
        }
        i += 1;
    }
    let regex = builder.build().map_err(|e| {
        PatternError::new(PatternErrorKind::InvalidRegex, regex_start, "invalid regular expression", regex_reason(&e))
    })?;
    let replacement = parse_replacement(&replacement_raw, &regex)?;
    Ok((Modifier::Replace(RegexReplace { regex, replacement, global }), i))
}

/// The one-line reason of a regex compile error.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: ").map(str::to_string))
        .unwrap_or_else(|| text.lines().map(str::trim).collect::<Vec<_>>().join(" "))
}

/// Parses a Java-style replacement: `$n` (as many digits as name an existing group), `${name}`, `\x` for a
/// literal `x`.
fn parse_replacement(raw: &[(char, usize)], regex: &Regex) -> Result<Vec<ReplacementPart>, PatternError> {
    let groups = regex.captures_len();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut k = 0;
    let flush = |literal: &mut String, parts: &mut Vec<ReplacementPart>| {
        if !literal.is_empty() {
            parts.push(ReplacementPart::Literal(std::mem::take(literal)));
        }
    };
    while let Some(&(c, pos)) = raw.get(k) {
        match c {
            '\\' => match raw.get(k + 1) {
                Some(&(next, _)) => {
                    literal.push(next);
                    k += 2;
                }
                None => {
                    return Err(PatternError::new(
                        PatternErrorKind::InvalidReplacement,
                        pos,
                        "unexpected '\\'",
                        "a '\\' at the end of the replacement escapes nothing (write '\\\\' for a backslash)",
                    ))
                }
            },
            '$' => match raw.get(k + 1) {
                Some(&('{', _)) => {
                    let name_start = k + 2;
                    let Some(len) = raw[name_start.min(raw.len())..].iter().position(|&(c, _)| c == '}') else {
                        return Err(PatternError::new(
                            PatternErrorKind::InvalidReplacement,
                            pos,
                            "unexpected '${'",
                            "expected '}' after the group name",
                        ));
                    };
                    let name: String = raw[name_start..name_start + len].iter().map(|&(c, _)| c).collect();
                    if !regex.capture_names().flatten().any(|n| n == name) {
                        return Err(PatternError::new(
                            PatternErrorKind::InvalidReplacement,
                            pos,
                            format!("no group named '{name}'"),
                            "the replacement refers to a named group the regular expression does not have",
                        ));
                    }
                    flush(&mut literal, &mut parts);
                    parts.push(ReplacementPart::Named(name));
                    k = name_start + len + 1;
                }
                Some(&(d, _)) if d.is_ascii_digit() => {
                    let mut n = d.to_digit(10).map_or(0, |d| d as usize);
                    if n >= groups {
                        return Err(PatternError::new(
                            PatternErrorKind::InvalidReplacement,
                            pos,
                            format!("no group {n}"),
                            format!("the regular expression has {} group(s)", groups - 1),
                        ));
                    }
                    k += 2;
                    // Java takes further digits while they still name an existing group.
                    while let Some(more) = raw.get(k).and_then(|&(c, _)| c.to_digit(10)) {
                        let longer = n * 10 + more as usize;
                        if longer >= groups {
                            break;
                        }
                        n = longer;
                        k += 1;
                    }
                    flush(&mut literal, &mut parts);
                    parts.push(ReplacementPart::Group(n));
                }
                _ => {
                    return Err(PatternError::new(
                        PatternErrorKind::InvalidReplacement,
                        pos,
                        "unexpected '$'",
                        "expected a group number or {name} after '$' (write '\\$' for a literal '$')",
                    ))
                }
            },
            c => {
                literal.push(c);
                k += 1;
            }
        }
    }
    flush(&mut literal, &mut parts);
    Ok(parts)
}

#[derive(Clone, Debug)]
enum Segment {
    Literal(String),
    Ref(AttrRef),
}

/// A parsed `value-pattern`.
#[derive(Clone, Debug)]
pub struct ValuePattern {
    source: String,
    segments: Vec<Segment>,
}

impl ValuePattern {
    /// Parses a value pattern such as `{givenName}.{sn}@example.com` or `{{"id":"{uid:jsonEscape}"}}`.
    pub fn parse(s: &str) -> Result<ValuePattern, PatternError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        for token in tokenize(s)? {
            match token {
                Token::Char { c, .. } => literal.push(c),
                Token::Ref { attr_ref, .. } => {
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Ref(attr_ref));
                }
                Token::Wildcard { n, start } => {
                    return Err(PatternError::new(
                        PatternErrorKind::WildcardReference,
                        start,
                        format!("unexpected '{{{n}}}'"),
                        "numbered references such as {1} are only valid in a to-dn-pattern; \
                         an attribute name starts with a letter",
                    ))
                }
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(ValuePattern { source: s.to_string(), segments })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The source attribute names the pattern reads, in order, without duplicates (any case): what a change
    /// must touch for the mapping to be re-evaluated.
    pub fn attributes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for seg in &self.segments {
            if let Segment::Ref(r) = seg {
                if !out.iter().any(|a| a.eq_ignore_ascii_case(&r.attr)) {
                    out.push(r.attr.clone());
                }
            }
        }
        out
    }

    /// The values the pattern produces for `entry` (see the module documentation for the rules); empty when
    /// a referenced attribute is missing.
    pub fn evaluate(&self, entry: &Entry) -> Vec<String> {
        let refs: Vec<&AttrRef> = self
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Ref(r) => Some(r),
                Segment::Literal(_) => None,
            })
            .collect();
        let lists: Vec<Vec<String>> = refs.iter().map(|r| r.values(entry)).collect();
        if lists.iter().any(Vec::is_empty) {
            return Vec::new();
        }
        let fan = refs.iter().zip(&lists).find(|(_, l)| l.len() > 1);
        let count = fan.map_or(1, |(_, l)| l.len());
        let fan_key = fan.map(|(r, _)| r.source_key());

        let mut out: Vec<String> = Vec::new();
        for k in 0..count {
            let mut value = String::new();
            let mut r = 0;
            for seg in &self.segments {
                match seg {
                    Segment::Literal(l) => value.push_str(l),
                    Segment::Ref(rf) => {
                        let list = &lists[r];
                        let index = if fan_key.as_ref() == Some(&rf.source_key()) { k } else { 0 };
                        if let Some(v) = list.get(index).or_else(|| list.first()) {
                            value.push_str(v);
                        }
                        r += 1;
                    }
                }
            }
            if !out.contains(&value) {
                out.push(value);
            }
        }
        out
    }
}

impl fmt::Display for ValuePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for ValuePattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for ValuePattern {}

impl std::str::FromStr for ValuePattern {
    type Err = PatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ValuePattern::parse(s)
    }
}

/// A parsed `conditional-value-pattern`: `(filter) : pattern`.
#[derive(Clone, Debug)]
pub struct ConditionalValuePattern {
    source: String,
    filter: Filter,
    pattern: ValuePattern,
}

impl ConditionalValuePattern {
    /// Parses `(filter) : pattern` (spaces around the `:` optional). Error positions count from the start of
    /// the whole string.
    pub fn parse(s: &str) -> Result<ConditionalValuePattern, PatternError> {
        let chars: Vec<char> = s.chars().collect();
        let skip_ws = |mut i: usize| {
            while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                i += 1;
            }
            i
        };
        let open = skip_ws(0);
        if chars.get(open) != Some(&'(') {
            return Err(PatternError::new(
                PatternErrorKind::ExpectedFilter,
                open,
                unexpected(chars.get(open).copied()),
                "expected '(' to start the filter; the form is (filter) : pattern",
            ));
        }
        let mut depth = 0usize;
        let mut close = None;
        let mut j = open;
        while let Some(&c) = chars.get(j) {
            match c {
                '\\' => j += 1,
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        close = Some(j);
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        let Some(close) = close else {
            let rest: String = chars[open..].iter().collect();
            return Err(match Filter::parse(&rest) {
                Err(e) => PatternError::from_filter(e, open),
                Ok(_) => PatternError::new(
                    PatternErrorKind::ExpectedColon,
                    chars.len(),
                    unexpected(None),
                    "expected ':' and a value pattern after the filter",
                ),
            });
        };
        let filter_src: String = chars[open..=close].iter().collect();
        let filter = Filter::parse(&filter_src).map_err(|e| PatternError::from_filter(e, open))?;
        let colon = skip_ws(close + 1);
        if chars.get(colon) != Some(&':') {
            return Err(PatternError::new(
                PatternErrorKind::ExpectedColon,
                colon,
                unexpected(chars.get(colon).copied()),
                "expected ':' between the filter and the value pattern",
            ));
        }
        let pattern_start = skip_ws(colon + 1);
        let pattern_src: String = chars[pattern_start..].iter().collect();
        let pattern = ValuePattern::parse(&pattern_src).map_err(|e| e.offset(pattern_start))?;
        Ok(ConditionalValuePattern { source: s.to_string(), filter, pattern })
    }

    /// The condition.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The pattern used when the condition holds.
    pub fn pattern(&self) -> &ValuePattern {
        &self.pattern
    }

    /// The conditional pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The source attributes read by the filter and the pattern, without duplicates (any case).
    pub fn attributes(&self) -> Vec<String> {
        let mut out = self.filter.attributes();
        for a in self.pattern.attributes() {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&a)) {
                out.push(a);
            }
        }
        out
    }

    /// `None` when the filter does not match `entry`; else the pattern's values (possibly none).
    pub fn evaluate(&self, entry: &Entry) -> Option<Vec<String>> {
        if self.filter.matches(entry) {
            Some(self.pattern.evaluate(entry))
        } else {
            None
        }
    }
}

impl fmt::Display for ConditionalValuePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for ConditionalValuePattern {
    type Err = PatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConditionalValuePattern::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let mut e = Entry::new("uid=jdoe,ou=People,dc=example,dc=com");
        e.add("uid", "jdoe");
        e.add("givenName", "John");
        e.add("sn", "Doe");
        e.add("eid", "123");
        e.add("department", "Sales");
        e.add("jobTitle", "Manager");
        e.add("streetAddress", "1 \"Main\" St");
        e.add("city", "Austin");
        e
    }

    fn eval(p: &str, e: &Entry) -> Vec<String> {
        ValuePattern::parse(p).unwrap().evaluate(e)
    }

    fn err(p: &str) -> PatternError {
        ValuePattern::parse(p).unwrap_err()
    }

    #[test]
    fn real_examples() {
        let e = entry();
        assert_eq!(
            eval(r#"{{"given":"{uid:jsonEscape}","family":"{sn:jsonEscape}"}}"#, &e),
            vec![r#"{"given":"jdoe","family":"Doe"}"#]
        );
        assert_eq!(
            eval(r#"{{"id":"a87476b0-eabf-4372-b4d2-0a7fd6094dc1"}}"#, &e),
            vec![r#"{"id":"a87476b0-eabf-4372-b4d2-0a7fd6094dc1"}"#]
        );
        assert_eq!(eval("{uid}.{sn}@example.com", &e), vec!["jdoe.Doe@example.com"]);
        assert_eq!(eval("{givenname}.{sn}@example.com", &e), vec!["John.Doe@example.com"]);
        assert_eq!(eval("{department} - {jobTitle}", &e), vec!["Sales - Manager"]);
        assert_eq!(
            eval(r#"{{"streetAddress":"{streetAddress:jsonEscape} ","locality":"{city:jsonEscape} "}}"#, &e),
            vec![r#"{"streetAddress":"1 \"Main\" St ","locality":"Austin "}"#]
        );
        assert_eq!(eval("{uid}", &e), vec!["jdoe"]);
        assert_eq!(eval("user", &e), vec!["user"]);
        assert_eq!(eval("{givenname:/^(.)(.*)/$1/s}{sn:/^(.)(.*)/$1/s}{eid}", &e), vec!["JD123"]);
    }

    #[test]
    fn jsonescape_examples_produce_valid_json() {
        let mut e = Entry::new("cn=x");
        e.add("uid", "a\"b\\c\nd\u{1}");
        e.add("sn", "Doe");
        let v = eval(r#"{{"given":"{uid:jsonEscape}","family":"{sn:jsonEscape}"}}"#, &e);
        let parsed: Json = serde_json::from_str(&v[0]).unwrap();
        assert_eq!(parsed["given"], "a\"b\\c\nd\u{1}");
        assert_eq!(json_escape("tab\there\r\u{8}\u{c}\u{7f}"), "tab\\there\\r\\b\\f\\u007f");
    }

    #[test]
    fn literal_braces() {
        let e = entry();
        assert_eq!(eval("{{x}}", &e), vec!["{x}"]);
        assert_eq!(eval("{{{uid}}}", &e), vec!["{jdoe}"]);
        assert_eq!(eval("a}}b{{c", &e), vec!["a}b{c"]);
    }

    #[test]
    fn ldap_filter_escape_modifier() {
        let mut e = Entry::new("cn=x");
        e.add("cn", "a*(b)\\");
        assert_eq!(eval("(cn={cn:ldapFilterEscape})", &e), vec![r"(cn=a\2a\28b\29\5c)"]);
        assert_eq!(eval("{cn:LDAPFILTERESCAPE}", &e), vec![r"a\2a\28b\29\5c"]);
    }

    #[test]
    fn regex_modifier() {
        let mut e = Entry::new("cn=x");
        e.add("cn", "foo boo");
        e.add("phone", "+1 (512) 555-0100");
        assert_eq!(eval("{cn:/o/0/}", &e), vec!["f0o boo"]);
        assert_eq!(eval("{cn:/o/0/g}", &e), vec!["f00 b00"]);
        assert_eq!(eval("{cn:/FOO/x/i}", &e), vec!["x boo"]);
        assert_eq!(eval("{cn:/FOO/x/}", &e), vec!["foo boo"]);
        assert_eq!(eval("{cn:/(\\w+) (\\w+)/$2 $1/}", &e), vec!["boo foo"]);
        assert_eq!(eval("{cn:/(?<a>\\w+) (?<b>\\w+)/${b}-${a}/}", &e), vec!["boo-foo"]);
        assert_eq!(eval("{cn:/o+/[$0]/g}", &e), vec!["f[oo] b[oo]"]);
        assert_eq!(eval("{phone:/[^0-9]//g}", &e), vec!["15125550100"]);
        assert_eq!(eval("{cn:/ /\\//}", &e), vec!["foo/boo"]);
        assert_eq!(eval("{cn:/o\\/?/\\$/}", &e), vec!["f$o boo"]);
        assert_eq!(eval("{cn:/(f)/$12/}", &e), vec!["f2oo boo"]);
        assert_eq!(eval("{cn:/x{2}/y/}", &e), vec!["foo boo"]);
        assert_eq!(eval("{cn:/^(.)(x)?.*/[$2]/s}", &e), vec!["[]"]);
        let mut multi = Entry::new("cn=x");
        multi.add("d", "a\nb");
        assert_eq!(eval("{d:/a.b/ok/s}", &multi), vec!["ok"]);
        assert_eq!(eval("{d:/a.b/ok/}", &multi), vec!["a\nb"]);
        assert_eq!(eval("{d:/^b/B/m}", &multi), vec!["a\nB"]);
        assert_eq!(eval("{d:/ a /A/x}", &multi), vec!["A\nb"]);
    }

    #[test]
    fn json_paths() {
        let mut e = Entry::new("cn=x");
        e.add("name", Value::Json(serde_json::json!({"given": "John", "family": "Doe"})));
        e.add("contact", r#"{"ubidEmailJSON": {"value": "jsmith@example.com", "type": "home"}}"#);
        e.add(
            "someAttribute",
            Value::Json(serde_json::json!({"a": [{"b": "b value 1"}, {"b": "b value 2"}, {"c": 1}]})),
        );
        e.add("tags", Value::Json(serde_json::json!({"list": ["x", "y", null, 3, true, {"k": "v"}]})));
        e.add("plain", "not json");
        assert_eq!(eval("{name.given}", &e), vec!["John"]);
        assert_eq!(eval("{NAME.Given} {name.family}", &e), vec!["John Doe"]);
        assert_eq!(eval("{contact.ubidEmailJSON.value}", &e), vec!["jsmith@example.com"]);
        assert_eq!(eval("{someAttribute.a.b}", &e), vec!["b value 1", "b value 2"]);
        assert_eq!(eval("{tags.list}", &e), vec!["x", "y", "3", "true", r#"{"k":"v"}"#]);
        let whole: Json = serde_json::from_str(&eval("{name}", &e)[0]).unwrap();
        assert_eq!(whole, serde_json::json!({"given": "John", "family": "Doe"}));
        assert!(eval("{name.middle}", &e).is_empty());
        assert!(eval("{name.given.x}", &e).is_empty());
        assert!(eval("{plain.x}", &e).is_empty());
        assert_eq!(eval("{name.given:jsonEscape}", &e), vec!["John"]);
    }

    #[test]
    fn fan_out_and_dedup() {
        let mut e = Entry::new("uid=jdoe,dc=x");
        e.add("mail", "a@x.com");
        e.add("mail", "b@x.com");
        e.add("mail", "a@y.com");
        e.add("cn", "c1");
        e.add("cn", "c2");
        e.add("sn", "Doe");
        assert_eq!(eval("{mail}-{sn}", &e), vec!["a@x.com-Doe", "b@x.com-Doe", "a@y.com-Doe"]);
        assert_eq!(eval("{mail}/{cn}", &e), vec!["a@x.com/c1", "b@x.com/c1", "a@y.com/c1"]);
        assert_eq!(eval("{cn}/{mail}", &e), vec!["c1/a@x.com", "c2/a@x.com"]);
        assert_eq!(eval("{mail}={mail:/@.*//}", &e), vec!["a@x.com=a", "b@x.com=b", "a@y.com=a"]);
        assert_eq!(eval("{mail:/@.*//}", &e), vec!["a", "b"]);
        assert_eq!(eval("{sn}", &e), vec!["Doe"]);
    }

    #[test]
    fn missing_attribute_means_no_value() {
        let e = entry();
        assert!(eval("{missing}", &e).is_empty());
        assert!(eval("{uid}-{missing}", &e).is_empty());
        assert!(eval(r#"{{"a":"{missing:jsonEscape}"}}"#, &e).is_empty());
    }

    #[test]
    fn dn_reference() {
        let e = entry();
        assert_eq!(eval("{dn}", &e), vec!["uid=jdoe,ou=People,dc=example,dc=com"]);
        assert_eq!(eval("{entryDN:/,.*//}", &e), vec!["uid=jdoe"]);
    }

    #[test]
    fn attributes_listed() {
        let p = ValuePattern::parse("{uid}.{SN}@{sn:/x/y/}{name.given}{{lit}}").unwrap();
        assert_eq!(p.attributes(), vec!["uid", "SN", "name"]);
        assert!(ValuePattern::parse("constant").unwrap().attributes().is_empty());
        assert_eq!(p.as_str(), "{uid}.{SN}@{sn:/x/y/}{name.given}{{lit}}");
        assert_eq!(p.to_string(), p.as_str());
        assert_eq!(ValuePattern::parse("{2.5.4.3}").unwrap().attributes(), vec!["2.5.4.3"]);
    }

    #[test]
    fn error_unclosed_brace() {
        let e = err("{uid");
        assert_eq!((e.position, e.kind), (0, PatternErrorKind::UnclosedBrace));
        assert_eq!(
            e.to_string(),
            "unclosed '{' at position 0: expected '}' to end the attribute reference (a literal '{' must be doubled \
             as '{{')"
        );
        assert_eq!(err("abc{uid:jsonEscape").position, 3);
        assert_eq!(err("abc{").position, 3);
        assert_eq!(err("x{a.").kind, PatternErrorKind::UnclosedBrace);
        assert_eq!(err("{sn:/a/b/g").kind, PatternErrorKind::UnclosedBrace);
        assert_eq!(err("{1").kind, PatternErrorKind::UnclosedBrace);
        assert_eq!(err(r#"{{"given":"{uid:jsonEscape"#).position, 11);
        let e = err(r#"{{"given":"{uid:jsonEscape"}}"#);
        assert_eq!((e.position, e.kind), (16, PatternErrorKind::UnknownModifier));
    }

    #[test]
    fn error_unmatched_close_brace() {
        let e = err("a}b");
        assert_eq!((e.position, e.kind), (1, PatternErrorKind::UnmatchedCloseBrace));
        assert_eq!(e.to_string(), "unexpected '}' at position 1: a literal '}' must be doubled as '}}'");
        assert_eq!(err(r#"{{"a":"{uid}"}"#).position, 13);
    }

    #[test]
    fn error_attribute_name() {
        let e = err("{}");
        assert_eq!((e.position, e.kind), (1, PatternErrorKind::ExpectedAttributeName));
        assert_eq!(
            e.to_string(),
            "unexpected '}' at position 1: expected an attribute name after '{' (a literal '{' must be doubled as '{{')"
        );
        assert_eq!(err("{ uid}").position, 1);
        assert_eq!(err("{-x}").position, 1);
        let e = err("{1..2}");
        assert_eq!((e.position, e.kind), (1, PatternErrorKind::ExpectedAttributeName));
    }

    #[test]
    fn error_after_attribute_name() {
        let e = err("{uid x}");
        assert_eq!((e.position, e.kind), (4, PatternErrorKind::ExpectedCloseBrace));
        assert_eq!(e.to_string(), "unexpected ' ' at position 4: expected '.', ':' or '}' after the attribute name");
        let e = err("{a..b}");
        assert_eq!((e.position, e.kind), (3, PatternErrorKind::ExpectedFieldName));
        let e = err("{a.}");
        assert_eq!((e.position, e.kind), (3, PatternErrorKind::ExpectedFieldName));
        let e = err("{a.{b}}");
        assert_eq!((e.position, e.kind), (3, PatternErrorKind::ExpectedFieldName));
    }

    #[test]
    fn error_modifiers() {
        let e = err("{uid:foo}");
        assert_eq!((e.position, e.kind), (5, PatternErrorKind::UnknownModifier));
        assert_eq!(
            e.to_string(),
            "unknown modifier 'foo' at position 5: valid modifiers are jsonEscape, ldapFilterEscape and \
             /regex/replacement/flags"
        );
        let e = err("{uid:}");
        assert_eq!((e.position, e.kind), (5, PatternErrorKind::ExpectedModifier));
        let e = err("{uid:jsonEscape:ldapFilterEscape}");
        assert_eq!((e.position, e.kind), (5, PatternErrorKind::UnknownModifier));
    }

    #[test]
    fn error_regex() {
        let e = err("{sn:/(a/x/}");
        assert_eq!((e.position, e.kind), (5, PatternErrorKind::InvalidRegex));
        assert!(e.to_string().starts_with("invalid regular expression at position 5: "), "{e}");
        assert!(!e.reason.contains('\n'));
        let e = err("{sn:/a}");
        assert_eq!((e.position, e.kind), (4, PatternErrorKind::UnterminatedRegex));
        let e = err("{sn:/a/b}");
        assert_eq!((e.position, e.kind), (7, PatternErrorKind::UnterminatedRegex));
        assert_eq!(
            e.to_string(),
            "unterminated replacement at position 7: expected '/' after the replacement; the form is \
             {attr:/regex/replacement/flags}"
        );
        let e = err("{sn:/a/b/q}");
        assert_eq!((e.position, e.kind), (9, PatternErrorKind::UnknownFlag));
        assert!(e.to_string().starts_with("unknown regular expression flag 'q' at position 9: valid flags are g"));
        let e = err("{sn:/(a)/$2/}");
        assert_eq!((e.position, e.kind), (9, PatternErrorKind::InvalidReplacement));
        assert_eq!(e.to_string(), "no group 2 at position 9: the regular expression has 1 group(s)");
        let e = err("{sn:/a/$x/}");
        assert_eq!((e.position, e.kind), (7, PatternErrorKind::InvalidReplacement));
        let e = err("{sn:/a/${n}/}");
        assert_eq!((e.position, e.kind), (7, PatternErrorKind::InvalidReplacement));
        let e = err("{sn:/a/${n/}");
        assert_eq!((e.position, e.kind), (7, PatternErrorKind::InvalidReplacement));
        let e = err("{sn:/a/\\");
        assert_eq!((e.position, e.kind), (7, PatternErrorKind::UnterminatedRegex));
        let e = err("{sn:/(?=a)/x/}");
        assert_eq!((e.position, e.kind), (5, PatternErrorKind::InvalidRegex));
    }

    #[test]
    fn error_wildcard_reference() {
        let e = err("x{1}");
        assert_eq!((e.position, e.kind), (1, PatternErrorKind::WildcardReference));
        assert!(e.to_string().starts_with("unexpected '{1}' at position 1: numbered references"));
    }

    #[test]
    fn conditional_patterns() {
        let e = entry();
        let c = ConditionalValuePattern::parse("(department=sales) : {uid}@sales.example.com").unwrap();
        assert_eq!(c.evaluate(&e), Some(vec!["jdoe@sales.example.com".to_string()]));
        assert_eq!(c.filter().to_string(), "(department=sales)");
        assert_eq!(c.pattern().as_str(), "{uid}@sales.example.com");
        assert_eq!(c.attributes(), vec!["department", "uid"]);
        let c = ConditionalValuePattern::parse("(department=hr):{uid}").unwrap();
        assert_eq!(c.evaluate(&e), None);
        let c = ConditionalValuePattern::parse("  (&(uid=jdoe)(cn=a\\29b)) :   {missing}").unwrap();
        assert_eq!(c.filter().to_string(), "(&(uid=jdoe)(cn=a\\29b))");
        assert_eq!(ConditionalValuePattern::parse("(uid=jdoe) : {missing}").unwrap().evaluate(&e), Some(vec![]));
        let c = ConditionalValuePattern::parse(r#"(objectClass=*) : {{"v":"{sn:jsonEscape}"}}"#).unwrap();
        assert_eq!(c.evaluate(&e), Some(vec![r#"{"v":"Doe"}"#.to_string()]));
        assert_eq!(c.to_string(), r#"(objectClass=*) : {{"v":"{sn:jsonEscape}"}}"#);
    }

    #[test]
    fn conditional_errors() {
        let e = ConditionalValuePattern::parse("uid=x : {uid}").unwrap_err();
        assert_eq!((e.position, e.kind), (0, PatternErrorKind::ExpectedFilter));
        let e = ConditionalValuePattern::parse("(uid=x) {uid}").unwrap_err();
        assert_eq!((e.position, e.kind), (8, PatternErrorKind::ExpectedColon));
        assert_eq!(
            e.to_string(),
            "unexpected '{' at position 8: expected ':' between the filter and the value pattern"
        );
        let e = ConditionalValuePattern::parse("(uid=x)").unwrap_err();
        assert_eq!((e.position, e.kind), (7, PatternErrorKind::ExpectedColon));
        let e = ConditionalValuePattern::parse("  (=x) : {uid}").unwrap_err();
        assert_eq!((e.position, e.kind), (3, PatternErrorKind::InvalidFilter));
        assert_eq!(e.to_string(), "unexpected '=' at position 3: expected an attribute description");
        let e = ConditionalValuePattern::parse("(uid=x : {uid}").unwrap_err();
        assert_eq!((e.position, e.kind), (14, PatternErrorKind::InvalidFilter));
        let e = ConditionalValuePattern::parse("(&(uid=x)(cn=\\zz)) : {uid}").unwrap_err();
        assert_eq!((e.position, e.kind), (13, PatternErrorKind::InvalidFilter));
        let e = ConditionalValuePattern::parse("(uid=x) : {uid:bogus}").unwrap_err();
        assert_eq!((e.position, e.kind), (15, PatternErrorKind::UnknownModifier));
        let e = ConditionalValuePattern::parse("(uid=x) :   {uid").unwrap_err();
        assert_eq!((e.position, e.kind), (12, PatternErrorKind::UnclosedBrace));
    }
}
