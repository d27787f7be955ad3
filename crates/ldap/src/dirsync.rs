//! Active Directory change detection with the DirSync control (1.2.840.113556.1.4.841, MS-ADTS 3.1.1.3.4.1.3).
//!
//! A DirSync search from the top of the domain (the naming context: DirSync refuses any other base) returns
//! every object changed since the cookie it is given, with only the changed attributes plus `objectGUID`,
//! and a new cookie. Windows AD pages the answer (the response's more-data flag; the next page is read with
//! the page's cookie), Samba answers the whole change set at once: the detector reads one page per poll, and
//! every change of a page carries that page's cookie, saved as the pipe's start point once the page's
//! changes are applied.
//!
//! * The start point token is `dirsync:<base64 cookie>`; `dirsync:` (no cookie) is the beginning: the first
//!   poll then returns every object of the domain.
//! * Deleted objects arrive as `CN=x\0ADEL:<guid>,CN=Deleted Objects,...` with `isDeleted: TRUE`: the change
//!   is a delete of `CN=x,<lastKnownParent>` with the object's GUID as unique id, which the engine's id map
//!   correlates.
//! * The unique id of an object is its `objectGUID` in AD's string form (`4020c8fb-63b3-440c-...`).
//! * An object whose changed attributes include `objectClass` is new (or seen for the first time): an add.
//!   Everything else is a modify of the object at its current DN (renames and moves included: DirSync does
//!   not tell the old DN; the engine's id map knows it). The engine fetches the current entry by DN.
//! * Only objects below the sync source's base DNs are reported. When a poll finds nothing below them, the
//!   cookie past what it read is offered as [`ChangeDetector::idle_start_point`], so those objects are not read
//!   again; pages without a change in scope are read through in one poll. An object moved from below a base DN
//!   to elsewhere is then not reported: point the source at the top of the domain and let sync classes pick
//!   the OUs (as PingDataSync advises), so such a move reaches the engine, which deletes the destination entry.
//!
//! DirSync does not tell who made a change, so `ignore-changes-by-dn` cannot apply: in a bidirectional
//! setup the echo of a change ends as no-change-needed.

use async_trait::async_trait;
use base64::Engine as _;
use ferrosync::endpoint::{
    Change, ChangeDetector, ChangeKind, EndpointError, EndpointResult, StartPoint, StartPointRequest,
};
use ferrosync::entry::{Entry, Value};
use ferrosync::syntax::Dn;
use ldap3::controls::RawControl;
use tokio::sync::OnceCell;

use crate::endpoint::endpoint_error;
use crate::{LdapClient, Scope};

/// The DirSync control's OID.
pub const DIRSYNC_OID: &str = "1.2.840.113556.1.4.841";
/// `LDAP_DIRSYNC_ANCESTORS_FIRST_ORDER`: parents come before their children.
pub const FLAG_ANCESTORS_FIRST_ORDER: u32 = 0x0000_0800;
/// The most bytes a server should return per page (Samba ignores it).
const MAX_BYTES: u32 = 0x0010_0000;
const TOKEN_PREFIX: &str = "dirsync:";
/// How many pages without a change in scope one poll reads through before it returns.
const MAX_EMPTY_PAGES_PER_POLL: usize = 20;

/// Why a DirSync control value could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed DirSync response control: {0}")]
pub struct BerError(pub String);

// ------------------------------------------------------------------------------------------------------------
// BER of the control values

/// The request value: `SEQUENCE { flags INTEGER, maxBytes INTEGER, cookie OCTET STRING }`. The flags are an
/// unsigned 32-bit field that Windows encodes as a signed INTEGER (0x80000000 is -2147483648).
pub fn encode_request(flags: u32, max_bytes: u32, cookie: &[u8]) -> Vec<u8> {
    use crate::ber::{integer, octet_string, sequence};
    sequence(&[integer(i64::from(flags as i32)), integer(i64::from(max_bytes)), octet_string(cookie)])
}

/// Reads one TLV at the start of `data`: (tag, content, rest).
fn read_tlv(data: &[u8]) -> Result<(u8, &[u8], &[u8]), BerError> {
    let err = |m: &str| BerError(m.to_string());
    let (&tag, rest) = data.split_first().ok_or_else(|| err("unexpected end"))?;
    let (&first, mut rest) = rest.split_first().ok_or_else(|| err("no length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(err("bad length"));
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(err("content shorter than its length"));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn read_integer(content: &[u8]) -> Result<i64, BerError> {
    if content.is_empty() || content.len() > 8 {
        return Err(BerError("bad INTEGER".into()));
    }
    let negative = content[0] & 0x80 != 0;
    Ok(content.iter().fold(if negative { -1i64 } else { 0 }, |acc, b| (acc << 8) | i64::from(*b)))
}

/// A DirSync response value: `SEQUENCE { moreResults INTEGER, unused INTEGER, cookie OCTET STRING }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirSyncResponse {
    pub more_data: bool,
    pub cookie: Vec<u8>,
}

pub fn decode_response(value: &[u8]) -> Result<DirSyncResponse, BerError> {
    let (tag, seq, _) = read_tlv(value)?;
    if tag != 0x30 {
        return Err(BerError(format!("expected a SEQUENCE, got tag {tag:#04x}")));
    }
    let (t1, more, rest) = read_tlv(seq)?;
    let (t2, _unused, rest) = read_tlv(rest)?;
    let (t3, cookie, _) = read_tlv(rest)?;
    if t1 != 0x02 || t2 != 0x02 || t3 != 0x04 {
        return Err(BerError("expected INTEGER, INTEGER, OCTET STRING".into()));
    }
    Ok(DirSyncResponse { more_data: read_integer(more)? != 0, cookie: cookie.to_vec() })
}

// ------------------------------------------------------------------------------------------------------------
// GUIDs and DNs

/// AD's string form of a 16-byte GUID: the first three fields little-endian, the rest as is.
pub fn guid_to_string(b: &[u8]) -> Option<String> {
    if b.len() != 16 {
        return None;
    }
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    ))
}

/// The 16 bytes of a GUID in AD's string form (braces allowed).
pub fn guid_from_string(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.trim().trim_start_matches('{').trim_end_matches('}').chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut raw = [0u8; 16];
    for (r, pair) in raw.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *r = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    let mut b = raw;
    b[0..4].copy_from_slice(&[raw[3], raw[2], raw[1], raw[0]]);
    b[4..6].copy_from_slice(&[raw[5], raw[4]]);
    b[6..8].copy_from_slice(&[raw[7], raw[6]]);
    Some(b)
}

/// The GUID string of an entry's `objectGUID`.
pub fn object_guid(entry: &Entry) -> Option<String> {
    match entry.values("objectGUID").first()? {
        Value::Binary(b) => guid_to_string(b),
        Value::Text(t) => guid_to_string(t.as_bytes()).or_else(|| guid_from_string(t).map(|_| t.to_lowercase())),
        Value::Json(_) => None,
    }
}

/// A DN value without AD's extended-DN prefixes: `<GUID=...>;<SID=...>;CN=Users,DC=x` gives `CN=Users,DC=x`.
pub fn strip_extended_dn(v: &str) -> &str {
    let mut s = v;
    while let Some(rest) = s.strip_prefix('<') {
        match rest.split_once(">;") {
            Some((_, dn)) => s = dn,
            None => match rest.strip_suffix('>') {
                // Only the prefixes: no DN.
                Some(_) => return "",
                None => return s,
            },
        }
    }
    s
}

/// A tombstone's DN `CN=x\0ADEL:<guid>,CN=Deleted Objects,...`: the original RDN (`CN=x`, escapes kept) and
/// the GUID. `None` for any other DN.
pub fn parse_deleted_dn(dn: &str) -> Option<(String, String)> {
    const MARK: &str = "\\0ADEL:";
    let upper = dn.to_ascii_uppercase();
    let at = upper.find(MARK)?;
    // ASCII upper-casing keeps byte offsets, so `at` is an offset in `dn` too.
    let rdn = dn.get(..at)?;
    let after = dn.get(at + MARK.len()..)?;
    let guid: String = after.chars().take_while(|c| c.is_ascii_hexdigit() || *c == '-').collect();
    guid_from_string(&guid)?;
    // The mark must be inside the first RDN (no unescaped comma before it).
    let mut escaped = false;
    for c in rdn.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' | '+' if !escaped => return None,
            _ => escaped = false,
        }
    }
    Some((rdn.to_string(), guid.to_ascii_lowercase()))
}

// ------------------------------------------------------------------------------------------------------------
// The detector

/// Attributes that every DirSync answer carries and that say nothing about what changed.
const NOT_CHANGES: &[&str] = &["objectguid", "instancetype", "parentguid"];

fn token(cookie: &[u8]) -> StartPoint {
    StartPoint(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(cookie)))
}

fn parse_token(sp: &StartPoint) -> EndpointResult<Vec<u8>> {
    let bad = || {
        EndpointError::Config(format!(
            "the start point '{}' is not a DirSync cookie (dirsync:<base64>): run realtime-sync set-startpoint \
             --end-of-changelog (or --beginning-of-changelog) for this pipe",
            sp.as_str()
        ))
    };
    let b64 = sp.as_str().strip_prefix(TOKEN_PREFIX).ok_or_else(bad)?;
    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| bad())
}

/// One DirSync page: the changes in scope and the page's cookie.
pub struct DirSyncPage {
    pub changes: Vec<Change>,
    /// Objects the page returned, in scope or not.
    pub objects: usize,
    pub response: DirSyncResponse,
}

/// Reads an Active Directory domain's changes with DirSync.
pub struct DirSyncDetector {
    client: LdapClient,
    /// The sync source's base DNs: only changes below them are reported.
    bases: Vec<Dn>,
    /// The domain's naming context (read from the root DSE unless given).
    naming_context: OnceCell<String>,
    flags: u32,
    /// After a poll from the first start point that found nothing in scope: the cookie past what it read.
    idle: std::sync::Mutex<Option<(StartPoint, StartPoint)>>,
}

impl DirSyncDetector {
    /// A detector of the changes below `bases`. The DirSync search runs from the domain's naming context
    /// (the root DSE's `defaultNamingContext`, or the base DN that is a naming context).
    pub fn new(client: LdapClient, bases: &[String]) -> Result<DirSyncDetector, EndpointError> {
        let mut parsed = Vec::new();
        for b in bases {
            parsed
                .push(Dn::parse(b).map_err(|e| EndpointError::Config(format!("the base DN '{b}' is not a DN: {e}")))?);
        }
        Ok(DirSyncDetector {
            client,
            bases: parsed,
            naming_context: OnceCell::new(),
            flags: FLAG_ANCESTORS_FIRST_ORDER,
            idle: std::sync::Mutex::new(None),
        })
    }

    async fn naming_context(&self) -> EndpointResult<&str> {
        self.naming_context
            .get_or_try_init(|| async {
                let dse =
                    self.client.root_dse(&["defaultNamingContext", "namingContexts"]).await.map_err(endpoint_error)?;
                let contexts = dse.texts("namingContexts");
                // The naming context that holds the first base DN, else the default one.
                let holding = self.bases.first().and_then(|b| {
                    contexts
                        .iter()
                        .filter_map(|c| Dn::parse(c).ok().map(|d| (c, d)))
                        .filter(|(_, d)| b.is_within(d))
                        .max_by_key(|(_, d)| d.len())
                        .map(|(c, _)| c.clone())
                });
                holding.or_else(|| dse.first_text("defaultNamingContext")).ok_or_else(|| {
                    EndpointError::Config(
                        "the server's root DSE names no defaultNamingContext: is it an Active Directory domain \
                         controller?"
                            .into(),
                    )
                })
            })
            .await
            .map(String::as_str)
    }

    fn in_scope(&self, dn: &str) -> bool {
        if self.bases.is_empty() {
            return true;
        }
        match Dn::parse(dn) {
            Ok(d) => self.bases.iter().any(|b| d.is_within(b)),
            Err(_) => false,
        }
    }

    /// One DirSync search from `cookie`.
    pub async fn read_page(&self, cookie: &[u8], attrs: &[&str]) -> EndpointResult<DirSyncPage> {
        let nc = self.naming_context().await?.to_string();
        let control = RawControl {
            ctype: DIRSYNC_OID.to_string(),
            crit: true,
            val: Some(encode_request(self.flags, MAX_BYTES, cookie)),
        };
        let raw = self
            .client
            .search_with_controls(&nc, Scope::Subtree, "(objectClass=*)", attrs, vec![control])
            .await
            .map_err(|e| {
                let text = e.to_string();
                if text.contains("0000202C") || text.to_ascii_lowercase().contains("cookie") {
                    EndpointError::Config(format!(
                        "the server refused the saved DirSync cookie ({text}): set the start point again \
                         (realtime-sync set-startpoint) and resync"
                    ))
                } else if e.rc() == Some(crate::rc::UNAVAILABLE_CRITICAL_EXTENSION) {
                    EndpointError::Config(format!(
                        "the server does not support the DirSync control ({DIRSYNC_OID}): is it an Active \
                         Directory domain controller? ({text})"
                    ))
                } else {
                    endpoint_error(e)
                }
            })?;
        let value =
            raw.result.ctrls.iter().find(|c| c.1.ctype == DIRSYNC_OID).and_then(|c| c.1.val.clone()).ok_or_else(
                || {
                    EndpointError::Config(format!(
                        "{} answered a DirSync search without the DirSync response control: the server does not \
                     support DirSync (is it an Active Directory domain controller?)",
                        raw.server
                    ))
                },
            )?;
        let response = decode_response(&value).map_err(|e| EndpointError::Retryable(e.to_string()))?;
        let after = token(&response.cookie);
        let mut changes = Vec::new();
        let mut objects = 0;
        for item in raw.items {
            let Some(entry) = crate::entry_from_result_entry(item) else { continue };
            objects += 1;
            if let Some(c) = self.change_of(entry, &after) {
                changes.push(c);
            }
        }
        Ok(DirSyncPage { changes, objects, response })
    }

    /// The change an object of a DirSync answer stands for, when it is in scope.
    fn change_of(&self, entry: Entry, after: &StartPoint) -> Option<Change> {
        let guid = object_guid(&entry);
        let deleted = entry.first_text("isDeleted").is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
        if deleted {
            let parsed = parse_deleted_dn(&entry.dn);
            let parent = entry.first_text("lastKnownParent").map(|p| strip_extended_dn(&p).to_string());
            let dn = match (&parsed, parent) {
                (Some((rdn, _)), Some(parent)) if !parent.is_empty() => format!("{rdn},{parent}"),
                _ => String::new(),
            };
            // A tombstone whose last place is unknown is kept: the id map may know the object by its GUID.
            if !dn.is_empty() && !self.in_scope(&dn) {
                return None;
            }
            let mut c = Change::new(after.clone(), guid.clone().unwrap_or_default(), ChangeKind::Delete, dn);
            c.unique_id = guid.or_else(|| parsed.map(|(_, g)| g));
            return Some(c);
        }
        if !self.in_scope(&entry.dn) {
            return None;
        }
        let mut changed: Vec<String> = Vec::new();
        for name in entry.attribute_names() {
            let base = name.split(';').next().unwrap_or(name);
            if !NOT_CHANGES.contains(&base.to_ascii_lowercase().as_str())
                && !changed.iter().any(|c| c.eq_ignore_ascii_case(base))
            {
                changed.push(base.to_string());
            }
        }
        let kind = if entry.has("objectClass") { ChangeKind::Add } else { ChangeKind::Modify };
        let mut c = Change::new(after.clone(), guid.clone().unwrap_or_default(), kind, entry.dn.clone());
        c.unique_id = guid;
        if c.kind == ChangeKind::Modify {
            for a in crate::adstate::changed_intermediates(&changed) {
                changed.push(a.to_string());
            }
            c.changed_attributes = changed;
        }
        c.time = entry.first_text("whenChanged");
        Some(c)
    }

    /// Pages DirSync from `cookie` to the end of the change set; `progress` is told the objects read so far.
    pub async fn read_to_end(&self, mut cookie: Vec<u8>, progress: &(dyn Fn(u64) + Sync)) -> EndpointResult<Vec<u8>> {
        let mut total = 0u64;
        loop {
            // `name` only: the least the server must send (with `cn` alone DirSync returns nothing).
            let page = self.read_page(&cookie, &["name"]).await?;
            total += page.objects as u64;
            progress(total);
            let more = page.response.more_data && page.response.cookie != cookie;
            cookie = page.response.cookie;
            if !more {
                return Ok(cookie);
            }
        }
    }

    /// The end of the change log, with progress: see [`DirSyncDetector::read_to_end`].
    pub async fn end_of_changelog(&self, progress: &(dyn Fn(u64) + Sync)) -> EndpointResult<StartPoint> {
        Ok(token(&self.read_to_end(Vec::new(), progress).await?))
    }

    pub fn client(&self) -> &LdapClient {
        &self.client
    }
}

/// The attributes a DirSync poll asks for: all user attributes and the tombstone ones.
const POLL_ATTRIBUTES: &[&str] = &["*", "isDeleted", "lastKnownParent", "objectGUID"];

#[async_trait]
impl ChangeDetector for DirSyncDetector {
    async fn start_point(&self, request: &StartPointRequest) -> EndpointResult<StartPoint> {
        match request {
            StartPointRequest::EndOfChangelog => self.end_of_changelog(&|_| {}).await,
            StartPointRequest::BeginningOfChangelog => Ok(token(&[])),
            other => Err(unsupported(other)),
        }
    }

    async fn start_point_with_progress(
        &self,
        request: &StartPointRequest,
        progress: &(dyn Fn(u64) + Sync),
    ) -> EndpointResult<StartPoint> {
        match request {
            StartPointRequest::EndOfChangelog => self.end_of_changelog(progress).await,
            other => self.start_point(other).await,
        }
    }

    /// One page of changes; pages with nothing in scope are read through (Windows AD pages its answers), and
    /// the cookie after them is kept for [`ChangeDetector::idle_start_point`].
    async fn poll(&self, after: &StartPoint, _max: usize, _wait: std::time::Duration) -> EndpointResult<Vec<Change>> {
        let mut cookie = parse_token(after)?;
        for _ in 0..MAX_EMPTY_PAGES_PER_POLL {
            let page = self.read_page(&cookie, POLL_ATTRIBUTES).await?;
            let advanced = page.response.cookie != cookie;
            if !page.changes.is_empty() || !page.response.more_data || !advanced {
                let idle = (page.changes.is_empty() && advanced).then(|| token(&page.response.cookie));
                *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = idle.map(|i| (after.clone(), i));
                return Ok(page.changes);
            }
            cookie = page.response.cookie;
        }
        *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = Some((after.clone(), token(&cookie)));
        Ok(Vec::new())
    }

    async fn idle_start_point(&self, after: &StartPoint) -> Option<StartPoint> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.as_ref().filter(|(from, _)| from == after).map(|(_, next)| next.clone())
    }
}

fn unsupported(other: &StartPointRequest) -> EndpointError {
    EndpointError::Config(format!(
        "an Active Directory source follows changes with DirSync, which has no change numbers, change \
         sequence numbers or times ({other:?} was asked): use --beginning-of-changelog (every object of \
         the domain) or --end-of-changelog"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_value_matches_the_python_demo() {
        // pyasn1: Req(flags=0, maxBytes=0x100000, cookie=b"") -> 30 0a 02 01 00 02 03 10 00 00 04 00
        assert_eq!(
            encode_request(0, 0x10_0000, b""),
            [0x30, 0x0a, 0x02, 0x01, 0x00, 0x02, 0x03, 0x10, 0x00, 0x00, 0x04, 0x00]
        );
        // 0x800 needs a leading zero-free two bytes; 0x80000000 is the negative INTEGER -2^31.
        let v = encode_request(0x800, 0, b"ab");
        assert_eq!(v, [0x30, 0x0b, 0x02, 0x02, 0x08, 0x00, 0x02, 0x01, 0x00, 0x04, 0x02, b'a', b'b']);
        let v = encode_request(0x8000_0000, 0, b"");
        assert_eq!(&v[2..8], &[0x02, 0x04, 0x80, 0x00, 0x00, 0x00]);
        // A long cookie needs a long-form length.
        let cookie = vec![7u8; 300];
        let v = encode_request(1, 1, &cookie);
        assert_eq!(&v[..4], &[0x30, 0x82, 0x01, 0x36]);
        assert_eq!(&v[10..14], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(crate::ber::integer(128), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(crate::ber::integer(-1), [0x02, 0x01, 0xff]);
        assert_eq!(crate::ber::integer(-129), [0x02, 0x02, 0xff, 0x7f]);
    }

    #[test]
    fn response_values_decode() {
        // What Samba 4.17 sent (ldapsearch's `control:` line), cut to its first bytes of cookie.
        let b64 = "MHQCAQACAQAEbE1TRFMDAAAAgKARToV63QEAAAAAAAAAACgAAACYDwAAAAAAAAAAAAAAAAAAmA8AAAAAAABWGtDm7uaiRJlkr4fVfdWjAQAAAAAAAAABAAAAAAAAAFYa0Obu5qJEmWSvh9V91aOYDwAAAAAAAA==";
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
        let r = decode_response(&raw).expect("decodes");
        assert!(!r.more_data);
        assert_eq!(r.cookie.len(), 108);
        assert_eq!(&r.cookie[..4], b"MSDS");
        // More data, and a long-form length.
        let mut v = vec![0x30, 0x81, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x04, 0x01, 0x42];
        assert_eq!(decode_response(&v), Ok(DirSyncResponse { more_data: true, cookie: vec![0x42] }));
        v.truncate(10);
        assert!(decode_response(&v).is_err());
        assert!(decode_response(&[0x04, 0x00]).is_err());
        assert!(decode_response(&[]).is_err());
        assert!(decode_response(&[0x30, 0x03, 0x04, 0x01, 0x00]).is_err());
    }

    #[test]
    fn guids_round_trip_in_ad_string_form() {
        let bytes = base64::engine::general_purpose::STANDARD.decode("+8ggQLNjDESPh9GsunUWOg==").expect("base64");
        let s = guid_to_string(&bytes).expect("16 bytes");
        assert_eq!(s, "4020c8fb-63b3-440c-8f87-d1acba75163a");
        assert_eq!(guid_from_string(&s).map(|b| b.to_vec()), Some(bytes.clone()));
        assert_eq!(guid_from_string("{4020C8FB-63B3-440C-8F87-D1ACBA75163A}").map(|b| b.to_vec()), Some(bytes));
        assert_eq!(guid_from_string("4020c8fb"), None);
        assert_eq!(guid_from_string("zz20c8fb-63b3-440c-8f87-d1acba75163a"), None);
        assert_eq!(guid_to_string(&[1, 2, 3]), None);
    }

    #[test]
    fn deleted_object_dns_parse() {
        let dn = "CN=probe1\\0ADEL:4020c8fb-63b3-440c-8f87-d1acba75163a,CN=Deleted Objects,DC=samdom,DC=example,DC=com";
        assert_eq!(
            parse_deleted_dn(dn),
            Some(("CN=probe1".to_string(), "4020c8fb-63b3-440c-8f87-d1acba75163a".to_string()))
        );
        let escaped = "CN=Smith\\, John\\0ADEL:4020c8fb-63b3-440c-8f87-d1acba75163a,CN=Deleted Objects,DC=x";
        assert_eq!(parse_deleted_dn(escaped).map(|p| p.0).as_deref(), Some("CN=Smith\\, John"));
        assert_eq!(parse_deleted_dn("CN=probe1,CN=Users,DC=x"), None);
        assert_eq!(parse_deleted_dn("CN=a,CN=b\\0ADEL:4020c8fb-63b3-440c-8f87-d1acba75163a,DC=x"), None);
        assert_eq!(parse_deleted_dn("CN=a\\0ADEL:nope,DC=x"), None);
        assert_eq!(
            parse_deleted_dn("CN=Zoë Ünal\\0ADEL:4020c8fb-63b3-440c-8f87-d1acba75163a,CN=Deleted Objects,DC=x")
                .map(|p| p.0)
                .as_deref(),
            Some("CN=Zoë Ünal")
        );
        assert_eq!(
            strip_extended_dn("<GUID=4de3a8b6-d74d-4960-8ee3-b94d0487fef1>;CN=Users,DC=samdom,DC=example,DC=com"),
            "CN=Users,DC=samdom,DC=example,DC=com"
        );
        assert_eq!(strip_extended_dn("<GUID=1>;<SID=S-1-5>;CN=x"), "CN=x");
        assert_eq!(strip_extended_dn("CN=x"), "CN=x");
        assert_eq!(strip_extended_dn("<GUID=1>"), "");
    }

    #[test]
    fn tokens_round_trip() {
        let t = token(b"MSDS\x00\x01");
        assert!(t.as_str().starts_with("dirsync:"));
        assert_eq!(parse_token(&t).expect("parses"), b"MSDS\x00\x01");
        assert_eq!(parse_token(&StartPoint("dirsync:".into())).expect("empty"), Vec::<u8>::new());
        assert!(parse_token(&StartPoint("changenumber:5".into())).is_err());
    }
}
