//! The SCIM destination built from its configuration: its server, authorization, retries and endpoint
//! mappings.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use ferrosync::config::Config;
use ferrosync::mapping::PipeMapping;
use ferrosync::secret::{reveal, SecretBox};
use ferrosync::store::ServerRoot;
use ferrosync::synclog::SyncLog;

use crate::destination::{Inner, ScimDestination};
use crate::http::{Auth, Http, Retry};
use crate::mapping::Endpoint;

/// Why a SCIM destination cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScimConfigError(pub String);

fn cfg(e: impl Into<String>) -> ScimConfigError {
    ScimConfigError(e.into())
}

impl ScimDestination {
    /// The destination `dest` of pipe `pipe`.
    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        dest: &str,
        mapping: &PipeMapping,
    ) -> Result<ScimDestination, ScimConfigError> {
        let d = config
            .get("sync-destination", dest)
            .ok_or_else(|| cfg(format!("the sync destination '{dest}' does not exist")))?;
        let p = config.get("sync-pipe", pipe).ok_or_else(|| cfg(format!("the sync pipe '{pipe}' does not exist")))?;
        let server_name = d.first("server").unwrap_or_default();
        let s = config
            .get("external-server", server_name)
            .ok_or_else(|| cfg(format!("the external server '{server_name}' of {} does not exist", d.label())))?;
        if s.variant.as_deref() != Some("scim2") {
            return Err(cfg(format!("the {} is not of type scim2", s.label())));
        }
        let base =
            s.first("scim-service-url").ok_or_else(|| cfg(format!("the {} has no scim-service-url", s.label())))?;
        let timeout = s
            .first("response-timeout")
            .and_then(|v| ferrosync::syntax::parse_duration(v).ok())
            .unwrap_or(Duration::from_secs(10));
        let blind = s
            .first("trust-manager-provider")
            .and_then(|t| config.get("trust-manager-provider", t))
            .is_some_and(|t| t.variant.as_deref() == Some("blind-trust"))
            || s.first("hostname-verification-method") == Some("allow-all");
        let auth = match s.first("http-authorization-method") {
            None => Auth::None,
            Some(m) => {
                let a = config
                    .get("http-authorization-method", m)
                    .ok_or_else(|| cfg(format!("the HTTP authorization method '{m}' does not exist")))?;
                if a.first("enabled").is_some_and(|v| v.eq_ignore_ascii_case("false")) {
                    return Err(cfg(format!("the {} is disabled: set enabled:true", a.label())));
                }
                let secret = |prop: &str, provider: &str| -> Result<ferrosync::secret::Secret, ScimConfigError> {
                    reveal(config, secrets, root, a, prop, provider)
                        .map_err(cfg)?
                        .ok_or_else(|| cfg(format!("the {} has no {prop}", a.label())))
                };
                match a.variant.as_deref() {
                    Some("static-bearer-token") => {
                        Auth::Bearer(secret("bearer-token", "bearer-token-passphrase-provider")?)
                    }
                    Some("basic") => Auth::Basic(
                        a.first("username").unwrap_or_default().to_string(),
                        secret("password", "password-passphrase-provider")?,
                    ),
                    Some("client-credentials-bearer-token") => Auth::OAuth {
                        url: a.first("oauth-server-token-endpoint-url").unwrap_or_default().to_string(),
                        id: a.first("oauth-client-id").unwrap_or_default().to_string(),
                        secret: secret("oauth-client-secret", "oauth-client-secret-passphrase-provider")?,
                        scopes: a.values("oauth-scope").iter().map(|s| s.to_string()).collect(),
                        in_body: a.first("credentials-submission-method") == Some("request-body"),
                        get: a.first("request-method") == Some("get"),
                        max_life: a
                            .first("maximum-token-lifetime")
                            .and_then(|v| ferrosync::syntax::parse_duration(v).ok()),
                    },
                    other => {
                        return Err(cfg(format!(
                            "the {} has type {}, which ferrosync cannot use",
                            a.label(),
                            other.unwrap_or("-")
                        )))
                    }
                }
            }
        };
        let dur = |prop: &str, d: Duration| {
            p.first(prop).and_then(|v| ferrosync::syntax::parse_duration(v).ok()).unwrap_or(d)
        };
        let attempts = d
            .first("max-operation-attempts")
            .or_else(|| p.first("max-operation-attempts"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let retry = Retry {
            attempts,
            initial: dur("retry-backoff-initial-wait", Duration::from_millis(100)),
            max: dur("retry-backoff-max-wait", Duration::from_secs(10)),
        };
        let endpoints = d
            .values("endpoint-mapping")
            .iter()
            .map(|n| Endpoint::from_config(config, n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(cfg)?;
        if endpoints.is_empty() {
            return Err(cfg(format!("the {} has no endpoint-mapping", d.label())));
        }
        Ok(ScimDestination {
            inner: Arc::new(Inner {
                name: dest.to_string(),
                pipe: pipe.to_string(),
                log: SyncLog::from_config(config, root),
                http: Http::new(base, auth, retry, timeout, blind),
                endpoints,
                mapping: mapping.clone(),
                post_search: d.first("query-method") == Some("post"),
                put: d.first("update-method") == Some("put"),
                discovery: OnceLock::new(),
                known: Mutex::new(HashMap::new()),
                dn_of: Mutex::new(HashMap::new()),
                warned: Mutex::new(HashSet::new()),
            }),
        })
    }
}
