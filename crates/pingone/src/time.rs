//! ISO 8601 timestamps as PingOne writes them (`2026-11-22T09:01:02.345Z`), as milliseconds since the epoch.

use std::time::{SystemTime, UNIX_EPOCH};

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

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
    let days = days_from_civil(y, mo, d);
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
