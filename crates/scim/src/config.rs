//! The SCIM destination built from its configuration: its server, authorization, retries and endpoint
//! mappings.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use ferrosync::config::Config;
use ferrosync::mapping::PipeMapping;
use ferrosync::secret::{reveal_setting, Secret, SecretBox};
use ferrosync::settings::endpoint::{QueryMethod, UpdateMethod};
use ferrosync::settings::scim::{CredentialsSubmission, HttpAuthKind, TokenRequestMethod};
use ferrosync::settings::{HttpAuthSettings, Scim2DestinationSettings, Scim2ServerSettings, SyncPipeSettings};
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
        let err = |e: ferrosync::settings::SettingsError| cfg(e.to_string());
        let d = Scim2DestinationSettings::of(config, dest).map_err(err)?;
        let p = SyncPipeSettings::of(config, pipe).map_err(err)?;
        let s = Scim2ServerSettings::of(config, &d.server).map_err(err)?;
        let base = s.service_url.as_str();
        let timeout = s.response_timeout;
        let trust_of = |tmp: Option<&String>, label: &str| {
            ferrosync::https::trust_of(config, secrets, root, tmp.map(String::as_str), label).map_err(cfg)
        };
        let trust = trust_of(s.trust_manager_provider.as_ref(), &s.label)?;
        // Credentials go to the service and to a token endpoint; neither in clear text unless asked.
        let allow_http = s.allow_credentials_over_http;
        let mut token_trust = None;
        let auth = match &s.http_authorization_method {
            None => Auth::None,
            Some(m) => {
                let a = HttpAuthSettings::of(config, m).map_err(err)?;
                if !a.enabled {
                    return Err(cfg(format!("the {} is disabled: set enabled:true", a.label)));
                }
                let secret = |setting: &ferrosync::settings::SecretSetting| -> Result<Secret, ScimConfigError> {
                    reveal_setting(config, secrets, root, setting)
                        .map_err(cfg)?
                        .ok_or_else(|| cfg(format!("the {} has no {}", a.label, setting.property)))
                };
                match &a.kind {
                    HttpAuthKind::StaticBearer { token } => Auth::Bearer(secret(token)?),
                    HttpAuthKind::Basic { username, password } => Auth::Basic(username.clone(), secret(password)?),
                    HttpAuthKind::ClientCredentials {
                        token_endpoint_url,
                        client_id,
                        client_secret,
                        scopes,
                        credentials_submission,
                        request_method,
                        maximum_token_lifetime,
                        // Host names are checked whatever hostname-verification-method says (dsconfig notes it).
                        hostname_verification: _,
                        trust_manager_provider,
                    } => {
                        ferrosync::https::check_credentials_over_http(
                            token_endpoint_url,
                            "token-endpoint-url",
                            &a.label,
                            &s.label,
                            allow_http,
                        )
                        .map_err(cfg)?;
                        token_trust = Some(match trust_manager_provider {
                            Some(_) => trust_of(trust_manager_provider.as_ref(), &a.label)?,
                            None => trust.clone(),
                        });
                        Auth::OAuth {
                            url: token_endpoint_url.clone(),
                            id: client_id.clone(),
                            secret: secret(client_secret)?,
                            scopes: scopes.clone(),
                            in_body: *credentials_submission == CredentialsSubmission::RequestBody,
                            get: *request_method == TokenRequestMethod::Get,
                            max_life: *maximum_token_lifetime,
                        }
                    }
                }
            }
        };
        let retry = Retry {
            attempts: d.max_operation_attempts.unwrap_or(p.retry.max_operation_attempts),
            initial: p.retry.retry_backoff_initial_wait,
            max: p.retry.retry_backoff_max_wait,
        };
        if !matches!(auth, Auth::None) {
            ferrosync::https::check_credentials_over_http(base, "scim-service-url", &s.label, &s.label, allow_http)
                .map_err(cfg)?;
        }
        let mut http =
            Http::new(base, auth, retry, timeout, &trust).map_err(|e| cfg(format!("the {}: {e}", s.label)))?;
        if let Some(t) = &token_trust {
            http = http.with_token_trust(t, timeout).map_err(cfg)?;
        }
        let endpoints = d
            .endpoint_mappings
            .iter()
            .map(|n| Endpoint::from_config(config, n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(cfg)?;
        if endpoints.is_empty() {
            return Err(cfg(format!("the {} has no endpoint-mapping", d.label)));
        }
        Ok(ScimDestination {
            inner: Arc::new(Inner {
                name: dest.to_string(),
                pipe: pipe.to_string(),
                log: SyncLog::from_config(config, root),
                http,
                endpoints,
                mapping: mapping.clone(),
                post_search: d.query_method == QueryMethod::Post,
                put: d.update_method == UpdateMethod::Put,
                discovery: OnceLock::new(),
                schema_info: OnceLock::new(),
                listing: Mutex::new(None),
                known: Mutex::new(HashMap::new()),
                index: Mutex::new(None),
                dn_of: Mutex::new(HashMap::new()),
                warned: Mutex::new(HashSet::new()),
            }),
            resync: Mutex::new(None),
            listing_task: Mutex::new(None),
        })
    }
}
