//! ISO 8601 timestamps as PingOne writes them (`2026-11-22T09:01:02.345Z`), as milliseconds since the epoch.

use std::time::{SystemTime, UNIX_EPOCH};

use ferrosync::util::{civil_from_days, days_from_civil};

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Milliseconds since the epoch of a `SystemTime`.
pub fn system_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// `yyyy-MM-ddTHH:mm:ss.SSSZ`.
pub fn format_iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// `yyyyMMddHHmmssZ` (GeneralizedTime, whole seconds).
pub fn format_generalized(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// Parses `yyyy-MM-ddTHH:mm:ss[.fff...](Z|±hh:mm)`; fractions beyond milliseconds are dropped.
pub fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    if s.get(4..5)? != "-" || s.get(7..8)? != "-" || !matches!(s.get(10..11)?, "T" | "t" | " ") {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = s.get(19..)?;
    let mut ms = 0;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        let digits = f.get(..n)?;
        let mut padded: String = digits.chars().take(3).collect();
        while padded.len() < 3 {
            padded.push('0');
        }
        ms = padded.parse().ok()?;
        rest = f.get(n..)?;
    }
    let offset = match rest {
        "Z" | "z" | "" => 0,
        o => {
            let sign = match o.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let o = o.get(1..)?.replace(':', "");
            let hh: i64 = o.get(..2)?.parse().ok()?;
            let mm: i64 = o.get(2..4).unwrap_or("0").parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    let days = days_from_civil(y, u32::try_from(mo).ok()?, u32::try_from(d).ok()?);
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = parse_iso("2026-11-22T09:01:02.345Z");
        assert_eq!(t.map(format_iso).as_deref(), Some("2026-11-22T09:01:02.345Z"));
        assert_eq!(parse_iso("2026-11-22T10:01:02+01:00"), parse_iso("2026-11-22T09:01:02.000Z"));
        assert_eq!(t.map(format_generalized).as_deref(), Some("20261122090102Z"));
        assert_eq!(parse_iso("nonsense"), None);
    }
}
