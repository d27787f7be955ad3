//! ferrosync's fuzz targets, as plain functions of the fuzzer's bytes.
//!
//! Every parser that input or the network reaches has a target here: [`TARGETS`] names them. The cargo-fuzz
//! binaries under `fuzz/fuzz_targets/` are one line each, calling these; `tests/corpus.rs` replays every file of
//! `fuzz/corpus/<target>/` through them in `cargo test`, so that an input that crashed once stays fixed. See
//! FUZZING.md at the top of the repository for how to run them.
//!
//! A target must not panic on any input. Where a parser has an inverse (a filter and its string form, a DN and
//! its escaped form, a start point and its token), the target also checks the round trip, and a failed one
//! panics so that the fuzzer reports it.

use ferrosync::config::{Config, SecretSealer};
use ferrosync::dsconfig::{self, run_batch, Format};
use ferrosync::error::ConfigError;
use ferrosync::syntax::dn::Dn;
use ferrosync::syntax::dnpattern::{DnMap, FromDnPattern, ToDnPattern};
use ferrosync::syntax::duration;
use ferrosync::syntax::filter::Filter;
use ferrosync::syntax::pattern::{ConditionalValuePattern, ValuePattern};

pub use ferrosync_ldap::fuzzing::{accesslog_entry, changelog_entry, content_sync, dirsync_control, generalized_time};
pub use ferrosync_scim::fuzzing::scim_resource;

/// A fuzz target: a function of the fuzzer's bytes.
pub type Target = fn(&[u8]);

/// Each target's name (its folder under `fuzz/corpus/` and its binary under `fuzz/fuzz_targets/`) and function.
pub const TARGETS: &[(&str, Target)] = &[
    ("batch_file", batch_file),
    ("dsconfig_args", dsconfig_args),
    ("ldap_filter", ldap_filter),
    ("dn", dn),
    ("value_pattern", value_pattern),
    ("dn_pattern", dn_pattern),
    ("duration", duration),
    ("changelog_entry", changelog_entry),
    ("accesslog_entry", accesslog_entry),
    ("dirsync_control", dirsync_control),
    ("content_sync", content_sync),
    ("generalized_time", generalized_time),
    ("scim_resource", scim_resource),
    ("pingone_json", pingone_json),
];

struct Plain;

impl SecretSealer for Plain {
    fn seal(&self, plain: &str) -> Result<String, ConfigError> {
        Ok(plain.to_string())
    }
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// A dsconfig batch file: parsed, then applied command by command to the built-in configuration (in memory).
pub fn batch_file(data: &[u8]) {
    let text = text(data);
    let _ = ferrosync::batch::parse(&text);
    let _ = ferrosync::batch::substitute(&text, |name| (name.len() < 8).then(|| name.to_uppercase()));
    let mut config = Config::builtin();
    let _ = run_batch("fuzz", &text, &mut config, &Plain, Format::default(), true);
}

/// dsconfig's command line: NUL-separated arguments.
pub fn dsconfig_args(data: &[u8]) {
    let args: Vec<String> = data.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    if let Ok(inv) = dsconfig::parse(&args) {
        if let Some(dsconfig::Request::Object(cmd)) = inv.request {
            let mut config = Config::builtin();
            let _ = dsconfig::execute(&cmd, &mut config, &Plain, Format::default());
        }
    }
}

/// An LDAP filter (RFC 4515): a parsed filter's string form parses to the same filter.
pub fn ldap_filter(data: &[u8]) {
    let text = text(data);
    if let Ok(f) = Filter::parse(&text) {
        let shown = f.to_string();
        assert_eq!(Filter::parse(&shown).as_ref(), Ok(&f), "{text:?} shows as {shown:?}, which reads differently");
        let _ = f.attributes();
    }
}

/// A DN (RFC 4514): a parsed DN's string form parses to the same DN.
pub fn dn(data: &[u8]) {
    let text = text(data);
    if let Ok(d) = Dn::parse(&text) {
        let shown = d.to_string();
        let again = Dn::parse(&shown);
        assert!(again.is_ok(), "{text:?} shows as {shown:?}, which does not parse: {again:?}");
        if let Ok(again) = again {
            assert_eq!(again.normalized(), d.normalized(), "{text:?} shows as {shown:?}, which reads differently");
        }
        let _ = d.parent();
        let _ = ferrosync::syntax::dn::normalize_dn(&text);
    }
}

/// Value patterns and conditional value patterns (`{attr}`, `{attr:/regex/replace/}`, ...).
pub fn value_pattern(data: &[u8]) {
    let text = text(data);
    if let Ok(p) = ValuePattern::parse(&text) {
        let _ = p.attributes();
        let shown = p.to_string();
        assert!(ValuePattern::parse(&shown).is_ok(), "{text:?} shows as {shown:?}, which does not parse");
        let mut e = ferrosync::entry::Entry::new("uid=a,dc=example,dc=com");
        for a in p.attributes() {
            e.add(&a, "x\\y,z");
        }
        let _ = p.evaluate(&e);
    }
    if let Ok(p) = ConditionalValuePattern::parse(&text) {
        let _ = p.attributes();
    }
}

/// DN patterns and DN maps (`*,**,ou=people,dc=example,dc=com` to `uid={uid},ou=users,o=example`): the first
/// NUL splits the from-pattern from the to-pattern.
pub fn dn_pattern(data: &[u8]) {
    let (from, to) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let (from, to) = (text(from), text(to));
    let _ = FromDnPattern::parse(&from);
    let _ = ToDnPattern::parse(&to);
    if let Ok(map) = DnMap::new(&from, &to) {
        let mut e = ferrosync::entry::Entry::new("uid=a,ou=people,dc=example,dc=com");
        for a in map.attributes() {
            e.add(&a, "v");
        }
        let _ = map.apply("uid=a,ou=people,dc=example,dc=com", &e);
    }
}

/// Durations (`10 s`, `1 h`), rewind durations and sizes (`1 MB`): a parsed one formats to the same value.
pub fn duration(data: &[u8]) {
    let text = text(data);
    if let Ok(d) = duration::parse_duration(&text) {
        let shown = duration::format_duration(d);
        assert_eq!(duration::parse_duration(&shown), Ok(d), "{text:?} formats as {shown:?}, which reads differently");
    }
    if let Ok(d) = duration::parse_rewind(&text) {
        let _ = duration::format_rewind(d);
    }
    if let Ok(n) = duration::parse_size(&text) {
        let _ = duration::format_size(n);
    }
}

/// PingOne's JSON: a user turned into an entry, a start point (whose token must read back) and ISO times.
pub fn pingone_json(data: &[u8]) {
    let text = text(data);
    if let Some(cp) = ferrosync_pingone::detector::Checkpoint::parse(&text) {
        let _ = cp.token();
    }
    if let Some(ms) = ferrosync_pingone::time::parse_iso(&text) {
        let shown = ferrosync_pingone::time::format_iso(ms);
        assert_eq!(ferrosync_pingone::time::parse_iso(&shown), Some(ms), "{text:?} formats as {shown:?}");
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = ferrosync_pingone::source::user_to_entry(&json);
    }
}
