//! Ping durations (`5 s`, `500 ms`, `2 h`), realtime-sync rewinds (`2h30m`) and sizes (`10 mb`).
//!
//! * [`parse_duration`] / [`format_duration`]: a whole number and a unit, the space optional and the unit
//!   case-insensitive: `ms`, `s`, `m` (minutes), `h`, `d`, `w` or a long name (`millis`, `seconds`,
//!   `minutes`, `hours`, `days`, `weeks`, ...). The canonical form uses the largest exact unit: `5 s`.
//! * [`parse_rewind`] / [`format_rewind`]: the `--startpoint-rewind` form, one or more number-unit pairs from
//!   the largest unit to the smallest, units `d`, `h`, `m`, `s`, `ms`: `2h30m`, `1d`, `90s`, `250ms`.
//! * [`parse_size`] / [`format_size`]: a whole number and a unit: `b`, decimal `kb` `mb` `gb` `tb` (powers of
//!   1000) and binary `kib` `mib` `gib` `tib` (powers of 1024): `10 mb`, `500 kib`.

use std::time::Duration;

use super::unexpected;

/// What went wrong while parsing a duration or a rewind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DurationErrorKind {
    /// A whole number was expected.
    ExpectedNumber,
    /// The number has no unit.
    MissingUnit,
    /// The unit is not one of the valid units.
    UnknownUnit,
    /// A rewind repeats a unit or gives them out of order.
    UnitOutOfOrder,
    /// The value does not fit.
    TooLarge,
    /// Characters after the end of the duration.
    TrailingCharacters,
}

/// A duration or rewind that does not parse. `Display` reads like
/// `unknown unit 'x' at position 2: valid units are ms, s, m, h, d and w (or their long names)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at position {position}: {reason}")]
pub struct DurationError {
    /// 0-based character offset of the problem.
    pub position: usize,
    /// The kind of problem, for programmatic matching.
    pub kind: DurationErrorKind,
    /// What was found there.
    pub problem: String,
    /// What was expected, or why it is wrong.
    pub reason: String,
}

/// What went wrong while parsing a size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SizeErrorKind {
    /// A whole number was expected.
    ExpectedNumber,
    /// The number has no unit.
    MissingUnit,
    /// The unit is not one of the valid units.
    UnknownUnit,
    /// The value does not fit in 64 bits.
    TooLarge,
    /// Characters after the end of the size.
    TrailingCharacters,
}

/// A size that does not parse. `Display` reads like
/// `unknown unit 'xb' at position 3: valid units are b, kb, kib, mb, mib, gb, gib, tb and tib`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at position {position}: {reason}")]
pub struct SizeError {
    /// 0-based character offset of the problem.
    pub position: usize,
    /// The kind of problem, for programmatic matching.
    pub kind: SizeErrorKind,
    /// What was found there.
    pub problem: String,
    /// What was expected, or why it is wrong.
    pub reason: String,
}

const DURATION_UNITS_HELP: &str = "valid units are ms, s, m, h, d and w (or their long names: milliseconds, seconds, \
                                   minutes, hours, days, weeks)";
const REWIND_UNITS_HELP: &str = "valid units are d, h, m, s and ms";
const SIZE_UNITS_HELP: &str = "valid units are b, kb, kib, mb, mib, gb, gib, tb and tib";

const MS_PER_SECOND: u64 = 1000;
const MS_PER_MINUTE: u64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: u64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: u64 = 24 * MS_PER_HOUR;
const MS_PER_WEEK: u64 = 7 * MS_PER_DAY;

/// Milliseconds per unit for a duration unit name (any case), or `None`.
fn duration_unit(name: &str) -> Option<u64> {
    Some(match name.to_ascii_lowercase().as_str() {
        "ms" | "msec" | "msecs" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => MS_PER_SECOND,
        "m" | "min" | "mins" | "minute" | "minutes" => MS_PER_MINUTE,
        "h" | "hr" | "hrs" | "hour" | "hours" => MS_PER_HOUR,
        "d" | "day" | "days" => MS_PER_DAY,
        "w" | "week" | "weeks" => MS_PER_WEEK,
        _ => return None,
    })
}

/// Bytes per unit for a size unit name (any case), or `None`.
fn size_unit(name: &str) -> Option<u64> {
    Some(match name.to_ascii_lowercase().as_str() {
        "b" | "byte" | "bytes" => 1,
        "kb" | "kilobyte" | "kilobytes" => 1000,
        "kib" | "kibibyte" | "kibibytes" => 1 << 10,
        "mb" | "megabyte" | "megabytes" => 1000 * 1000,
        "mib" | "mebibyte" | "mebibytes" => 1 << 20,
        "gb" | "gigabyte" | "gigabytes" => 1000 * 1000 * 1000,
        "gib" | "gibibyte" | "gibibytes" => 1 << 30,
        "tb" | "terabyte" | "terabytes" => 1000 * 1000 * 1000 * 1000,
        "tib" | "tebibyte" | "tebibytes" => 1 << 40,
        _ => return None,
    })
}

/// A scanner over characters with character positions.
struct Scanner {
    chars: Vec<char>,
    pos: usize,
}

/// A lexical problem found by the scanner, turned into the caller's error type.
struct Problem {
    position: usize,
    kind: ProblemKind,
    problem: String,
}

enum ProblemKind {
    ExpectedNumber,
    TooLarge,
}

impl Scanner {
    fn new(s: &str) -> Self {
        Scanner { chars: s.chars().collect(), pos: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn number(&mut self) -> Result<u64, Problem> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(Problem {
                position: start,
                kind: ProblemKind::ExpectedNumber,
                problem: unexpected(self.peek()),
            });
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits.parse().map_err(|_| Problem {
            position: start,
            kind: ProblemKind::TooLarge,
            problem: format!("number {digits} too large"),
        })
    }

    fn word(&mut self) -> (usize, String) {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphabetic()) {
            self.pos += 1;
        }
        (start, self.chars[start..self.pos].iter().collect())
    }
}

impl DurationError {
    fn new(kind: DurationErrorKind, position: usize, problem: impl Into<String>, reason: impl Into<String>) -> Self {
        DurationError { position, kind, problem: problem.into(), reason: reason.into() }
    }

    fn from_problem(p: Problem, expected: &str) -> Self {
        match p.kind {
            ProblemKind::ExpectedNumber => {
                DurationError::new(DurationErrorKind::ExpectedNumber, p.position, p.problem, expected)
            }
            ProblemKind::TooLarge => {
                DurationError::new(DurationErrorKind::TooLarge, p.position, p.problem, "the duration is too long")
            }
        }
    }
}

impl SizeError {
    fn new(kind: SizeErrorKind, position: usize, problem: impl Into<String>, reason: impl Into<String>) -> Self {
        SizeError { position, kind, problem: problem.into(), reason: reason.into() }
    }
}

/// Parses a Ping duration: `5 s`, `500 ms`, `2 h`, `1 m` (a minute), `5s`, `10 minutes`.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let mut sc = Scanner::new(s);
    sc.skip_ws();
    let n = sc.number().map_err(|p| {
        DurationError::from_problem(p, "expected a whole number followed by a unit, such as '5 s' or '500 ms'")
    })?;
    sc.skip_ws();
    let (unit_at, unit) = sc.word();
    if unit.is_empty() {
        return Err(DurationError::new(
            DurationErrorKind::MissingUnit,
            unit_at,
            unexpected(sc.peek()),
            format!("expected a unit after the number; {DURATION_UNITS_HELP}"),
        ));
    }
    let Some(per) = duration_unit(&unit) else {
        return Err(DurationError::new(
            DurationErrorKind::UnknownUnit,
            unit_at,
            format!("unknown unit '{unit}'"),
            DURATION_UNITS_HELP,
        ));
    };
    sc.skip_ws();
    if sc.peek().is_some() {
        return Err(DurationError::new(
            DurationErrorKind::TrailingCharacters,
            sc.pos,
            unexpected(sc.peek()),
            "expected the end of the duration",
        ));
    }
    let ms = n.checked_mul(per).ok_or_else(|| {
        DurationError::new(DurationErrorKind::TooLarge, 0, format!("duration {n} {unit} too long"), "it does not fit")
    })?;
    Ok(Duration::from_millis(ms))
}

/// The canonical Ping form of a duration, in the largest unit that divides it exactly: `5 s`, `500 ms`,
/// `2 h`, `90 s`, `1 w`. Zero is `0 s`; precision below a millisecond is dropped.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0 s".to_string();
    }
    for (per, unit) in
        [(MS_PER_WEEK, "w"), (MS_PER_DAY, "d"), (MS_PER_HOUR, "h"), (MS_PER_MINUTE, "m"), (MS_PER_SECOND, "s")]
    {
        let per = u128::from(per);
        if ms.is_multiple_of(per) {
            return format!("{} {unit}", ms / per);
        }
    }
    format!("{ms} ms")
}

/// Parses a realtime-sync `--startpoint-rewind`: number-unit pairs from the largest unit to the smallest,
/// each unit at most once, units `d`, `h`, `m`, `s`, `ms` (any case): `2h30m`, `1d`, `90s`, `250ms`,
/// `1h 30m`.
pub fn parse_rewind(s: &str) -> Result<Duration, DurationError> {
    const ORDER: [(&str, u64); 5] =
        [("d", MS_PER_DAY), ("h", MS_PER_HOUR), ("m", MS_PER_MINUTE), ("s", MS_PER_SECOND), ("ms", 1)];
    let mut sc = Scanner::new(s);
    sc.skip_ws();
    let mut total: u64 = 0;
    let mut next_rank = 0;
    loop {
        let n = sc.number().map_err(|p| {
            DurationError::from_problem(p, "expected a whole number followed by a unit, such as '2h30m' or '90s'")
        })?;
        let (unit_at, unit) = sc.word();
        if unit.is_empty() {
            return Err(DurationError::new(
                DurationErrorKind::MissingUnit,
                unit_at,
                unexpected(sc.peek()),
                format!("expected a unit after the number; {REWIND_UNITS_HELP}"),
            ));
        }
        let lower = unit.to_ascii_lowercase();
        let Some(rank) = ORDER.iter().position(|(u, _)| *u == lower) else {
            return Err(DurationError::new(
                DurationErrorKind::UnknownUnit,
                unit_at,
                format!("unknown unit '{unit}'"),
                REWIND_UNITS_HELP,
            ));
        };
        if rank < next_rank {
            return Err(DurationError::new(
                DurationErrorKind::UnitOutOfOrder,
                unit_at,
                format!("unexpected unit '{unit}'"),
                "units must go from the largest to the smallest (d, h, m, s, ms), each at most once",
            ));
        }
        next_rank = rank + 1;
        let too_long = || {
            DurationError::new(
                DurationErrorKind::TooLarge,
                0,
                format!("rewind '{}' too long", s.trim()),
                "it does not fit",
            )
        };
        total = n.checked_mul(ORDER[rank].1).and_then(|v| total.checked_add(v)).ok_or_else(too_long)?;
        sc.skip_ws();
        match sc.peek() {
            None => return Ok(Duration::from_millis(total)),
            Some(c) if c.is_ascii_digit() => {}
            Some(_) => {
                return Err(DurationError::new(
                    DurationErrorKind::TrailingCharacters,
                    sc.pos,
                    unexpected(sc.peek()),
                    "expected a number or the end of the rewind",
                ))
            }
        }
    }
}

/// The compact rewind form: `2h30m`, `1d`, `1m30s`, `250ms`; zero is `0s`. Precision below a millisecond is
/// dropped.
pub fn format_rewind(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (per, unit) in [(MS_PER_DAY, "d"), (MS_PER_HOUR, "h"), (MS_PER_MINUTE, "m"), (MS_PER_SECOND, "s"), (1, "ms")] {
        let per = u128::from(per);
        let n = ms / per;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            ms %= per;
        }
    }
    out
}

/// Parses a size in bytes: `10 mb`, `1 gb`, `500 kb`, `100 b`, `64kib` (any case, the space optional). The
/// decimal units are powers of 1000 (`kb` = 1000), the binary ones powers of 1024 (`kib` = 1024).
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let mut sc = Scanner::new(s);
    sc.skip_ws();
    let n = sc.number().map_err(|p| match p.kind {
        ProblemKind::ExpectedNumber => SizeError::new(
            SizeErrorKind::ExpectedNumber,
            p.position,
            p.problem,
            "expected a whole number followed by a unit, such as '10 mb'",
        ),
        ProblemKind::TooLarge => {
            SizeError::new(SizeErrorKind::TooLarge, p.position, p.problem, "the size does not fit in 64 bits")
        }
    })?;
    sc.skip_ws();
    let (unit_at, unit) = sc.word();
    if unit.is_empty() {
        return Err(SizeError::new(
            SizeErrorKind::MissingUnit,
            unit_at,
            unexpected(sc.peek()),
            format!("expected a unit after the number; {SIZE_UNITS_HELP}"),
        ));
    }
    let Some(per) = size_unit(&unit) else {
        return Err(SizeError::new(
            SizeErrorKind::UnknownUnit,
            unit_at,
            format!("unknown unit '{unit}'"),
            SIZE_UNITS_HELP,
        ));
    };
    sc.skip_ws();
    if sc.peek().is_some() {
        return Err(SizeError::new(
            SizeErrorKind::TrailingCharacters,
            sc.pos,
            unexpected(sc.peek()),
            "expected the end of the size",
        ));
    }
    n.checked_mul(per).ok_or_else(|| {
        SizeError::new(SizeErrorKind::TooLarge, 0, format!("size {n} {unit} too large"), "it does not fit in 64 bits")
    })
}

/// The canonical form of a size, in the largest unit that divides it exactly, decimal units preferred at
/// equal magnitude: `10 mb`, `1 kib`, `100 b`, `0 b`.
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0 b".to_string();
    }
    for (per, unit) in [
        (1u64 << 40, "tib"),
        (1000 * 1000 * 1000 * 1000, "tb"),
        (1 << 30, "gib"),
        (1000 * 1000 * 1000, "gb"),
        (1 << 20, "mib"),
        (1000 * 1000, "mb"),
        (1 << 10, "kib"),
        (1000, "kb"),
    ] {
        if bytes.is_multiple_of(per) {
            return format!("{} {unit}", bytes / per);
        }
    }
    format!("{bytes} b")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn parses_ping_durations() {
        assert_eq!(parse_duration("5 s").unwrap(), secs(5));
        assert_eq!(parse_duration("500 ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2 h").unwrap(), secs(7200));
        assert_eq!(parse_duration("1 m").unwrap(), secs(60));
        assert_eq!(parse_duration("1 d").unwrap(), secs(86_400));
        assert_eq!(parse_duration("2 w").unwrap(), secs(14 * 86_400));
        assert_eq!(parse_duration("5s").unwrap(), secs(5));
        assert_eq!(parse_duration("  100   MS ").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("10 minutes").unwrap(), secs(600));
        assert_eq!(parse_duration("1 Hour").unwrap(), secs(3600));
        assert_eq!(parse_duration("3 seconds").unwrap(), secs(3));
        assert_eq!(parse_duration("250 millis").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1 week").unwrap(), secs(7 * 86_400));
        assert_eq!(parse_duration("0 s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn formats_ping_durations() {
        assert_eq!(format_duration(secs(5)), "5 s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500 ms");
        assert_eq!(format_duration(secs(7200)), "2 h");
        assert_eq!(format_duration(secs(90)), "90 s");
        assert_eq!(format_duration(secs(60)), "1 m");
        assert_eq!(format_duration(secs(86_400)), "1 d");
        assert_eq!(format_duration(secs(7 * 86_400)), "1 w");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500 ms");
        assert_eq!(format_duration(Duration::ZERO), "0 s");
        for s in ["5 s", "500 ms", "2 h", "1 m", "3 d", "1 w", "100 ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn duration_errors() {
        let e = parse_duration("").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DurationErrorKind::ExpectedNumber));
        assert_eq!(
            e.to_string(),
            "unexpected end of input at position 0: expected a whole number followed by a unit, such as '5 s' or '500 ms'"
        );
        let e = parse_duration("s").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DurationErrorKind::ExpectedNumber));
        let e = parse_duration("-5 s").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DurationErrorKind::ExpectedNumber));
        let e = parse_duration("5").unwrap_err();
        assert_eq!((e.position, e.kind), (1, DurationErrorKind::MissingUnit));
        assert!(e.to_string().starts_with("unexpected end of input at position 1: expected a unit after the number"));
        let e = parse_duration("5 x").unwrap_err();
        assert_eq!((e.position, e.kind), (2, DurationErrorKind::UnknownUnit));
        assert_eq!(
            e.to_string(),
            "unknown unit 'x' at position 2: valid units are ms, s, m, h, d and w (or their long names: \
             milliseconds, seconds, minutes, hours, days, weeks)"
        );
        let e = parse_duration("1.5 s").unwrap_err();
        assert_eq!((e.position, e.kind), (1, DurationErrorKind::MissingUnit));
        let e = parse_duration("5 s x").unwrap_err();
        assert_eq!((e.position, e.kind), (4, DurationErrorKind::TrailingCharacters));
        let e = parse_duration("99999999999999999999999 s").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DurationErrorKind::TooLarge));
        let e = parse_duration("18446744073709551615 w").unwrap_err();
        assert_eq!(e.kind, DurationErrorKind::TooLarge);
    }

    #[test]
    fn parses_rewinds() {
        assert_eq!(parse_rewind("2h30m").unwrap(), secs(2 * 3600 + 30 * 60));
        assert_eq!(parse_rewind("1d").unwrap(), secs(86_400));
        assert_eq!(parse_rewind("90s").unwrap(), secs(90));
        assert_eq!(parse_rewind("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_rewind("1m5s").unwrap(), secs(65));
        assert_eq!(parse_rewind("1d2h3m4s5ms").unwrap(), Duration::from_millis(93_784_005));
        assert_eq!(parse_rewind(" 1H 30M ").unwrap(), secs(5400));
    }

    #[test]
    fn formats_rewinds() {
        assert_eq!(format_rewind(secs(9000)), "2h30m");
        assert_eq!(format_rewind(secs(86_400)), "1d");
        assert_eq!(format_rewind(secs(90)), "1m30s");
        assert_eq!(format_rewind(Duration::from_millis(250)), "250ms");
        assert_eq!(format_rewind(Duration::ZERO), "0s");
        for s in ["2h30m", "1d", "1d2h3m4s5ms", "45s"] {
            assert_eq!(format_rewind(parse_rewind(s).unwrap()), s);
        }
    }

    #[test]
    fn rewind_errors() {
        let e = parse_rewind("").unwrap_err();
        assert_eq!((e.position, e.kind), (0, DurationErrorKind::ExpectedNumber));
        let e = parse_rewind("2h30").unwrap_err();
        assert_eq!((e.position, e.kind), (4, DurationErrorKind::MissingUnit));
        let e = parse_rewind("2w").unwrap_err();
        assert_eq!((e.position, e.kind), (1, DurationErrorKind::UnknownUnit));
        assert_eq!(e.to_string(), "unknown unit 'w' at position 1: valid units are d, h, m, s and ms");
        let e = parse_rewind("30m2h").unwrap_err();
        assert_eq!((e.position, e.kind), (4, DurationErrorKind::UnitOutOfOrder));
        assert_eq!(
            e.to_string(),
            "unexpected unit 'h' at position 4: units must go from the largest to the smallest (d, h, m, s, ms), \
             each at most once"
        );
        let e = parse_rewind("1h1h").unwrap_err();
        assert_eq!((e.position, e.kind), (3, DurationErrorKind::UnitOutOfOrder));
        let e = parse_rewind("1h-").unwrap_err();
        assert_eq!((e.position, e.kind), (2, DurationErrorKind::TrailingCharacters));
        let e = parse_rewind("1 h").unwrap_err();
        assert_eq!((e.position, e.kind), (1, DurationErrorKind::MissingUnit));
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("10 mb").unwrap(), 10_000_000);
        assert_eq!(parse_size("1 gb").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("500 kb").unwrap(), 500_000);
        assert_eq!(parse_size("100 b").unwrap(), 100);
        assert_eq!(parse_size("1 KiB").unwrap(), 1024);
        assert_eq!(parse_size("2mib").unwrap(), 2 * 1024 * 1024);
        assert_eq!(parse_size("1 GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("3 TB").unwrap(), 3_000_000_000_000);
        assert_eq!(parse_size("1 tib").unwrap(), 1 << 40);
        assert_eq!(parse_size("7 bytes").unwrap(), 7);
        assert_eq!(parse_size("2 megabytes").unwrap(), 2_000_000);
    }

    #[test]
    fn formats_sizes() {
        assert_eq!(format_size(10_000_000), "10 mb");
        assert_eq!(format_size(1024), "1 kib");
        assert_eq!(format_size(100), "100 b");
        assert_eq!(format_size(0), "0 b");
        assert_eq!(format_size(1 << 30), "1 gib");
        assert_eq!(format_size(1500), "1500 b");
        for s in ["10 mb", "1 gb", "500 kb", "100 b", "4 kib", "2 tb"] {
            assert_eq!(format_size(parse_size(s).unwrap()), s);
        }
    }

    #[test]
    fn size_errors() {
        let e = parse_size("").unwrap_err();
        assert_eq!((e.position, e.kind), (0, SizeErrorKind::ExpectedNumber));
        let e = parse_size("10").unwrap_err();
        assert_eq!((e.position, e.kind), (2, SizeErrorKind::MissingUnit));
        let e = parse_size("10 xb").unwrap_err();
        assert_eq!((e.position, e.kind), (3, SizeErrorKind::UnknownUnit));
        assert_eq!(
            e.to_string(),
            "unknown unit 'xb' at position 3: valid units are b, kb, kib, mb, mib, gb, gib, tb and tib"
        );
        let e = parse_size("10 mb!").unwrap_err();
        assert_eq!((e.position, e.kind), (5, SizeErrorKind::TrailingCharacters));
        let e = parse_size("100000000 tb").unwrap_err();
        assert_eq!(e.kind, SizeErrorKind::TooLarge);
        let e = parse_size("99999999999999999999 b").unwrap_err();
        assert_eq!((e.position, e.kind), (0, SizeErrorKind::TooLarge));
    }
}
