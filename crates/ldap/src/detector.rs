//! The change detectors of LDAP sync sources, built from the configuration store, and the helpers they share
//! (GeneralizedTime arithmetic, new DNs of renames, password-hash detection).
//!
//! | `create-sync-source --type` | detector | start point token |
//! |---|---|---|
//! | `ping-identity`, `generic-ldap`, `sun-ds`, `oracle-unified-directory` | [`ChangelogDetector`] (`cn=changelog`) | `changenumber:N` |
//! | `openldap` | [`AccesslogDetector`] (`cn=accesslog`) | `accesslog:E0[,E1,S]` |
//! | `content-sync` | [`ContentSyncDetector`] (RFC 4533 refreshAndPersist) | `cookie:<base64>` |
//! | `active-directory` | [`DirSyncDetector`] (the DirSync control) | `dirsync:<base64>` |
//!
//! `ping-one-customer` sources are read by the `ferrosync-pingone` crate.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrosync::config::Config;
use ferrosync::endpoint::{ChangeDetector, EndpointError};
use ferrosync::secret::SecretBox;
use ferrosync::settings::{LdapSourceSettings, Reader, SourceKind};
use ferrosync::store::ServerRoot;
use ferrosync::syntax::{Dn, Rdn};

use crate::accesslog::AccesslogDetector;
use crate::changelog::ChangelogDetector;
use crate::contentsync::{ContentSyncDetector, ContentSyncOptions};
use crate::dirsync::DirSyncDetector;
use crate::endpoint::{client_from_config, pipe_retry};

/// The change detector of the sync source `source` of pipe `pipe`, by the source's `--type`. The LDAP client
/// honours the pipe's retry policy (`max-operation-attempts`, `retry-backoff-*`). How many changes a poll
/// returns is up to the caller (`max` of [`ChangeDetector::poll`]).
pub fn detector_from_config(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    pipe: &str,
    source: &str,
) -> Result<Arc<dyn ChangeDetector>, EndpointError> {
    let p = pipe_retry(config, pipe)?;
    let s =
        ferrosync::settings::lookup(config, "sync-source", source).map_err(|e| EndpointError::Config(e.to_string()))?;
    let variant = s.variant.as_deref().unwrap_or("");
    if SourceKind::of(variant).is_none_or(|k| k == SourceKind::PingOne) {
        return Err(EndpointError::Config(format!(
            "change detection for sync sources of type '{variant}' ({}) is not supported yet",
            s.label()
        )));
    }
    let s = LdapSourceSettings::read(&Reader::new(s)).map_err(|e| EndpointError::Config(e.to_string()))?;
    // changelog-max-entries-per-poll: the most change log entries one search reads.
    let page = s.changelog_max_entries_per_poll.unwrap_or(DEFAULT_PAGE_SIZE).max(1);
    let client = || client_from_config(config, secrets, root, &s.endpoint, &p);
    match s.kind {
        SourceKind::Changelog => Ok(Arc::new(ChangelogDetector::new(client()?).with_page_size(page))),
        SourceKind::Accesslog => Ok(Arc::new(AccesslogDetector::new(client()?).with_page_size(page))),
        SourceKind::ContentSync => {
            let bases = &s.endpoint.base_dns;
            let base = match bases.as_slice() {
                [one] => one.to_string(),
                [] => return Err(EndpointError::Config(format!("the {} has no base-dn", s.endpoint.label))),
                _ => {
                    return Err(EndpointError::Config(format!(
                        "the {} has {} base DNs, but a content-sync source follows one base DN (one RFC 4533 \
                         cookie): create one sync source per base DN, or use their common parent as the base DN",
                        s.endpoint.label,
                        bases.len()
                    )))
                }
            };
            let client = client()?;
            let mut options =
                ContentSyncOptions { unique_id_attribute: s.unique_id_attribute.clone(), ..Default::default() };
            if let Some(d) = s.persist_reconnect_interval {
                options.reconnect_interval = d.max(Duration::from_millis(10));
            }
            Ok(Arc::new(ContentSyncDetector::new(client, &base, options)))
        }
        SourceKind::DirSync => Ok(Arc::new(DirSyncDetector::new(client()?, &s.endpoint.base_dns)?)),
        SourceKind::PingOne => {
            Err(EndpointError::Config(format!("the {} is read by the PingOne crate, not by LDAP", s.endpoint.label)))
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// Shared helpers

/// `changelog-max-entries-per-poll`'s default.
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// How many change log entries one search reads: the configured page (`changelog-max-entries-per-poll`),
/// lowered to the server's own size limit for the sync user once a search has met it (a non-root user's
/// `limits` on OpenLDAP, `nsSizeLimit` on 389 DS).
#[derive(Debug)]
pub(crate) struct PageSize {
    configured: usize,
    server: std::sync::atomic::AtomicUsize,
}

impl PageSize {
    pub fn new(configured: usize) -> PageSize {
        PageSize { configured: configured.max(1), server: std::sync::atomic::AtomicUsize::new(usize::MAX) }
    }

    pub fn get(&self) -> usize {
        self.configured.min(self.server.load(std::sync::atomic::Ordering::Relaxed)).max(1)
    }

    /// A search that asked for `asked` entries met a size limit after `returned`: later searches ask for fewer
    /// (what the server sent, or half as many when it sent nothing). Meeting the limit asked for (`returned ==
    /// asked`) is no sign of a lower server limit and changes nothing.
    pub fn met_limit(&self, asked: usize, returned: usize) {
        let lower = match returned {
            0 => asked / 2,
            n if n < asked => n,
            _ => return,
        };
        self.server.fetch_min(lower.max(1), std::sync::atomic::Ordering::Relaxed);
    }
}

/// A GeneralizedTime value: seconds since the Unix epoch and the fraction scaled to six digits (microseconds,
/// or OpenLDAP's operation counter in accesslog `reqStart`/`reqEnd`). Ordered like the time it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct GenTime {
    pub secs: i64,
    pub frac: u32,
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, b| acc.checked_mul(10)?.checked_add(u32::from(b - b'0')))
}

impl GenTime {
    /// Parses `YYYYmmddHH[MM[SS]][.fraction](Z|+hhmm|-hhmm)`. Fraction digits beyond six are dropped; fewer are
    /// padded (`.5` is `.500000`), as GeneralizedTime ordering does.
    pub fn parse(s: &str) -> Option<GenTime> {
        let b = s.trim().as_bytes();
        if b.len() < 11 {
            return None;
        }
        let year = i64::from(digits(&b[0..4])?);
        let month = digits(&b[4..6])?;
        let day = digits(&b[6..8])?;
        let hour = i64::from(digits(&b[8..10])?);
        let mut i = 10;
        let mut minute = 0i64;
        let mut second = 0i64;
        if b.len() >= i + 2 && b[i].is_ascii_digit() {
            minute = i64::from(digits(&b[i..i + 2])?);
            i += 2;
            if b.len() >= i + 2 && b[i].is_ascii_digit() {
                second = i64::from(digits(&b[i..i + 2])?);
                i += 2;
            }
        }
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut frac = 0u32;
        if i < b.len() && (b[i] == b'.' || b[i] == b',') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            let mut f: Vec<u8> = b[start..i].iter().take(6).copied().collect();
            f.resize(6, b'0');
            frac = digits(&f)?;
        }
        let offset = match b.get(i) {
            Some(b'Z') if i + 1 == b.len() => 0,
            Some(&sign @ (b'+' | b'-')) if b.len() == i + 5 => {
                let h = i64::from(digits(&b[i + 1..i + 3])?);
                let m = i64::from(digits(&b[i + 3..i + 5])?);
                if h > 23 || m > 59 {
                    return None;
                }
                let o = h * 3600 + m * 60;
                if sign == b'+' {
                    o
                } else {
                    -o
                }
            }
            _ => return None,
        };
        let days = ferrosync::util::days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
        // An offset can carry a time of year 0000 or 9999 out of the four digits that GeneralizedTime has.
        let first = ferrosync::util::days_from_civil(0, 1, 1) * 86_400;
        let end = ferrosync::util::days_from_civil(10_000, 1, 1) * 86_400;
        (first..end).contains(&secs).then_some(GenTime { secs, frac })
    }

    /// The whole second of `t` (the fraction is dropped).
    pub fn from_system(t: SystemTime) -> GenTime {
        let secs = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => {
                let d = e.duration();
                let s = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() > 0 {
                    -s - 1
                } else {
                    -s
                }
            }
        };
        GenTime { secs, frac: 0 }
    }

    /// As a [`SystemTime`] (the fraction read as microseconds).
    pub fn to_system(self) -> SystemTime {
        let micros = Duration::from_micros(u64::from(self.frac));
        if self.secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(self.secs.unsigned_abs()) + micros
        } else {
            UNIX_EPOCH - Duration::from_secs(self.secs.unsigned_abs()) + micros
        }
    }

    fn civil(self) -> String {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = ferrosync::util::civil_from_days(days);
        format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", rem / 3600, (rem % 3600) / 60, rem % 60)
    }

    /// `YYYYmmddHHMMSS.ffffffZ`, the form of OpenLDAP's `reqStart`.
    pub fn format(self) -> String {
        format!("{}.{:06}Z", self.civil(), self.frac)
    }

    /// `YYYYmmddHHMMSSZ` (whole seconds).
    pub fn format_secs(self) -> String {
        format!("{}Z", self.civil())
    }

    /// The value just before this one (one fraction step).
    pub fn pred(self) -> GenTime {
        if self.frac > 0 {
            GenTime { secs: self.secs, frac: self.frac - 1 }
        } else {
            GenTime { secs: self.secs - 1, frac: 999_999 }
        }
    }

    /// The value just after this one (one fraction step).
    pub fn succ(self) -> GenTime {
        if self.frac < 999_999 {
            GenTime { secs: self.secs, frac: self.frac + 1 }
        } else {
            GenTime { secs: self.secs + 1, frac: 0 }
        }
    }
}

/// The DN of an entry after a modify DN of `dn` to `new_rdn` under `new_superior` (or `dn`'s parent), in the
/// canonical RFC 4514 string form. Falls back to plain concatenation when a part does not parse.
pub(crate) fn new_dn(dn: &str, new_rdn: &str, new_superior: Option<&str>) -> String {
    let parent = match new_superior {
        Some(sup) => Dn::parse(sup).ok(),
        None => Dn::parse(dn).ok().and_then(|d| d.parent()),
    };
    match (parent, Rdn::parse(new_rdn)) {
        (Some(parent), Ok(rdn)) => parent.child(rdn).to_string(),
        _ => {
            let parent = match new_superior {
                Some(sup) => sup.to_string(),
                None => dn.split_once(',').map(|(_, p)| p.to_string()).unwrap_or_default(),
            };
            if parent.is_empty() {
                new_rdn.to_string()
            } else {
                format!("{new_rdn},{parent}")
            }
        }
    }
}

/// Whether a `userPassword` value is a stored hash (`{SSHA}...`, `{PBKDF2-SHA512}...`) rather than clear text.
pub(crate) fn is_hashed_password(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('{') else { return false };
    match rest.split_once('}') {
        Some((scheme, _)) if !scheme.is_empty() => {
            scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
        }
        _ => false,
    }
}

/// `true`/`TRUE`/`1`... as a boolean (LDAP booleans are `TRUE`/`FALSE`; 389 writes `TRUE`).
pub(crate) fn ldap_bool(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on")
}

/// The servers of a client, for messages: `a (h:1), b (h:2)`.
pub(crate) fn servers_label(client: &crate::LdapClient) -> String {
    client.status().into_iter().map(|s| s.server).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_round_trips() {
        let t = GenTime::parse("20261122110727.000005Z").unwrap_or_else(|| panic!("parse"));
        assert_eq!(t.frac, 5);
        assert_eq!(t.format(), "20261122110727.000005Z");
        assert_eq!(t.format_secs(), "20261122110727Z");
        assert_eq!(GenTime::parse("19700101000000Z"), Some(GenTime { secs: 0, frac: 0 }));
        assert_eq!(GenTime::parse("20000229235959Z").map(|t| t.format_secs()).as_deref(), Some("20000229235959Z"));
        assert_eq!(GenTime::parse("20261122110727.5Z").map(|t| t.frac), Some(500_000));
        assert_eq!(GenTime::parse("20261122110727.1234567Z").map(|t| t.frac), Some(123_456));
        assert_eq!(GenTime::parse("20261122120727+0100").map(|t| t.format_secs()).as_deref(), Some("20261122110727Z"));
        assert_eq!(GenTime::parse("2026112211Z").map(|t| t.format_secs()).as_deref(), Some("20261122110000Z"));
        for bad in ["", "2026", "20261322110727Z", "20261122110727", "20261122110727.Z", "x0261122110727Z"] {
            assert_eq!(GenTime::parse(bad), None, "{bad}");
        }
        let a = GenTime::parse("20261231235959.000000Z").unwrap_or_else(|| panic!("parse"));
        assert_eq!(a.pred().format(), "20261231235958.999999Z");
        assert_eq!(a.pred().succ(), a);
        assert_eq!(GenTime { secs: a.secs, frac: 999_999 }.succ().format(), "20270101000000.000000Z");
        let now = SystemTime::now();
        let g = GenTime::from_system(now);
        assert!(g.to_system() <= now && now.duration_since(g.to_system()).map(|d| d.as_secs()).unwrap_or(9) < 1);
        assert!(GenTime::parse("20261122110727.000010Z") > GenTime::parse("20261122110727.000009Z"));
    }

    #[test]
    fn new_dns_are_escaped() {
        assert_eq!(
            new_dn("uid=p1,ou=probe,dc=example,dc=com", "uid=p1\\2C x", Some("ou=people,dc=example,dc=com")),
            "uid=p1\\, x,ou=people,dc=example,dc=com"
        );
        assert_eq!(new_dn("uid=a,ou=x,dc=y", "uid=b", None), "uid=b,ou=x,dc=y");
        assert_eq!(new_dn("uid=a,ou=x,dc=y", "cn=A+sn=B", None), "cn=A+sn=B,ou=x,dc=y");
    }

    #[test]
    fn password_hashes() {
        assert!(is_hashed_password("{SSHA}abc"));
        assert!(is_hashed_password("{PBKDF2-SHA512}10000$x"));
        assert!(!is_hashed_password("secret"));
        assert!(!is_hashed_password("{not a hash"));
        assert!(!is_hashed_password("{}x"));
        assert!(ldap_bool("TRUE") && !ldap_bool("FALSE"));
    }
}
