//! Entry points for the fuzz targets (`fuzz/`) and their corpus replay in `cargo test` (`crates/fuzz`): a SCIM
//! service's JSON answers, fed to the code that turns them into entries, compares them and reports errors.
//!
//! Not a public API: hidden from the docs and free to change with the code it reaches.

use std::sync::OnceLock;

use ferrosync::config::{Config, SecretSealer};
use ferrosync::dsconfig::{run_batch, Format};
use ferrosync::error::ConfigError;
use serde_json::Value as Json;

use crate::http::{status_error, Resp};
use crate::mapping::Endpoint;
use crate::patch::patch_ops;

struct Plain;

impl SecretSealer for Plain {
    fn seal(&self, plain: &str) -> Result<String, ConfigError> {
        Ok(plain.to_string())
    }
}

/// The Users and Groups endpoint mappings of the sample LDAP-to-SCIM batch file.
fn endpoints() -> &'static [Endpoint] {
    static ENDPOINTS: OnceLock<Vec<Endpoint>> = OnceLock::new();
    ENDPOINTS.get_or_init(|| {
        let text = include_str!("../../../sample-dsconfig-batch-files/reference-sync-ldap-to-scim2.dsconfig");
        let mut config = Config::builtin();
        let applied = run_batch("sample", text, &mut config, &Plain, Format::default(), false);
        assert!(applied.is_ok(), "the sample SCIM batch file no longer applies: {applied:?}");
        ["Users", "Groups"].iter().filter_map(|n| Endpoint::from_config(&config, n).ok()).collect()
    })
}

/// A SCIM resource (a GET's or a search's answer): reversed into an entry through each endpoint mapping,
/// compared with itself (no PATCH operation may come of two equal resources) and with an empty one, and
/// reported as an error response.
pub fn scim_resource(data: &[u8]) {
    let eps = endpoints();
    assert!(!eps.is_empty(), "the sample's endpoint mappings do not build");
    let text = String::from_utf8_lossy(data);
    let _ = status_error("PATCH", "/Users/x", None, &Resp { status: 400, etag: None, body: text.into_owned() });
    let Ok(json) = serde_json::from_slice::<Json>(data) else { return };
    let empty = Json::Object(serde_json::Map::new());
    for ep in eps {
        let _ = ep.reverse("uid=fuzz,ou=people,dc=example,dc=com", &json, None, &|s: &str| s.to_string());
        let same = patch_ops(ep, &json, &json);
        assert!(same.is_empty(), "PATCH operations between a resource and itself: {same:?}");
        let _ = patch_ops(ep, &empty, &json);
        let _ = patch_ops(ep, &json, &empty);
        let _ = status_error("PUT", "/Users/x", Some(&json), &Resp { status: 500, etag: None, body: String::new() });
    }
}
