//! Entry points for the fuzz targets (`fuzz/`) and for their corpus replay in `cargo test`
//! (`crates/fuzz`): each feeds untrusted bytes to the parsers that a directory server's answers reach. None of
//! them may panic, whatever the bytes; where a parser has an inverse, the round trip must hold, and a failed one
//! panics so that the fuzzer reports it.
//!
//! Not a public API: hidden from the docs and free to change with the parsers.

use ferrosync::endpoint::StartPoint;
use ferrosync::entry::{Entry, Value};

use crate::accesslog::{self, Cursor};
use crate::changelog::{self, ChangelogDetector};
use crate::contentsync::{self, ContentSyncDetector};
use crate::detector::GenTime;
use crate::dirsync;

/// An entry from fuzz bytes: NUL-separated `name=value` pieces (the value as text when it is UTF-8, else as
/// bytes). The first piece without `=` is the DN.
pub fn entry_of(data: &[u8]) -> Entry {
    let mut pieces = data.split(|b| *b == 0);
    let dn = pieces.next().map(|d| String::from_utf8_lossy(d).into_owned()).unwrap_or_default();
    let mut e = Entry::new(dn);
    for piece in pieces {
        let Some(eq) = piece.iter().position(|b| *b == b'=') else { continue };
        let name = String::from_utf8_lossy(&piece[..eq]).into_owned();
        if name.is_empty() {
            continue;
        }
        let raw = &piece[eq + 1..];
        let value = match std::str::from_utf8(raw) {
            Ok(s) => Value::Text(s.to_string()),
            Err(_) => Value::Binary(raw.to_vec()),
        };
        let mut values = e.values(&name).to_vec();
        values.push(value);
        e.set(&name, values);
    }
    e
}

/// A `cn=changelog` entry (389 DS, Ping's changelog) and its LDIF `changes`, and a changelog start point.
pub fn changelog_entry(data: &[u8]) {
    let e = entry_of(data);
    let _ = changelog::change_from_entry(1, &e);
    let _ = changelog::parse_changes(data, data.first().is_some_and(|b| b & 1 == 1));
    let text = String::from_utf8_lossy(data);
    if let Ok(n) = ChangelogDetector::parse_token(&StartPoint(text.into_owned())) {
        assert_eq!(ChangelogDetector::parse_token(&ChangelogDetector::token(n)).ok(), Some(n));
    }
}

/// An OpenLDAP accesslog entry (`reqType`, `reqDN`, `reqMod`, ...), its `reqMod` values, and an accesslog
/// start point, whose token must read back as the same cursor.
pub fn accesslog_entry(data: &[u8]) {
    let e = entry_of(data);
    let _ = accesslog::change_from_log_entry(&e, StartPoint::default());
    for piece in data.split(|b| *b == 0) {
        let _ = accesslog::parse_req_mod(piece);
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(cursor) = Cursor::parse(&StartPoint(text.into_owned())) {
        let _ = cursor.filter();
        let again = Cursor::parse(&cursor.token()).ok();
        assert_eq!(again, Some(cursor), "an accesslog cursor does not read back from its token");
    }
}

/// GeneralizedTime (`reqStart`, `changeTime`, CSNs): a parsed time formats to a text that parses to it again.
pub fn generalized_time(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(t) = GenTime::parse(&text) {
        let formatted = t.format();
        assert_eq!(GenTime::parse(&formatted), Some(t), "{formatted:?} does not read back");
        let _ = t.format_secs();
        let _ = t.to_system();
        let _ = (t.pred(), t.succ());
    }
}

/// RFC 4533 content sync: the Sync State control, a syncInfo intermediate message, the Sync Done control, the
/// cookies of 389 DS and OpenLDAP, and a cookie start point (which must round-trip).
pub fn content_sync(data: &[u8]) {
    let _ = contentsync::parse_sync_state(data);
    if let Some(tag) = contentsync::parse_ber(data) {
        let _ = contentsync::parse_sync_info(&tag);
    }
    let _ = contentsync::parse_sync_done(data);
    let _ = contentsync::change_number(data);
    let _ = contentsync::change_id(Some(data), "id");
    let _ = contentsync::older(data, data.get(data.len() / 2..).unwrap_or_default());
    let token = ContentSyncDetector::token(data);
    assert_eq!(ContentSyncDetector::parse_token(&token).ok().as_deref(), Some(data));
    let _ = ContentSyncDetector::parse_token(&StartPoint(String::from_utf8_lossy(data).into_owned()));
}

/// Active Directory's DirSync response control, deleted-object DNs, extended DNs and GUID strings.
pub fn dirsync_control(data: &[u8]) {
    if let Ok(r) = dirsync::decode_response(data) {
        let _ = dirsync::encode_request(0, 0, &r.cookie);
    }
    let text = String::from_utf8_lossy(data);
    let _ = dirsync::parse_deleted_dn(&text);
    let _ = dirsync::strip_extended_dn(&text);
    if let Some(g) = dirsync::guid_from_string(&text) {
        let s = dirsync::guid_to_string(&g);
        assert_eq!(s.as_deref().and_then(dirsync::guid_from_string), Some(g));
    }
    if let Some(s) = dirsync::guid_to_string(data) {
        assert_eq!(dirsync::guid_from_string(&s).map(|g| g.to_vec()), Some(data.to_vec()));
    }
}
