//! The SCIM destination built from its configuration: its server, authorization, retries and endpoint
//! mappings.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use ferrosync::config::Config;
use ferrosync::mapping::PipeMapping;
use ferrosync::secret::{reveal_setting, Secret, SecretBox};
use ferrosync::settings::endpoint::{QueryMethod, UpdateMethod};
use ferrosync::settings::scim::{CredentialsSubmission, HttpAuthKind, TokenRequestMethod};
use ferrosync::settings::{
    HostnameVerification, HttpAuthSettings, Scim2DestinationSettings, Scim2ServerSettings, SyncPipeSettings,
    TrustManagerSettings, TrustSource,
};
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
        let blind_trust = |tmp: Option<&String>| {
            tmp.and_then(|t| TrustManagerSettings::of(config, t).ok())
                .is_some_and(|t| t.trust == Some(TrustSource::Any))
        };
        let mut blind =
            blind_trust(s.trust_manager_provider.as_ref()) || s.hostname_verification == HostnameVerification::AllowAll;
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
                        hostname_verification,
                        trust_manager_provider,
                    } => {
                        // One HTTP client serves the token endpoint and the service: trusting any certificate
                        // for either relaxes both.
                        blind = blind
                            || *hostname_verification == HostnameVerification::AllowAll
                            || blind_trust(trust_manager_provider.as_ref());
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
                http: Http::new(base, auth, retry, timeout, blind),
                endpoints,
                mapping: mapping.clone(),
                post_search: d.query_method == QueryMethod::Post,
                put: d.update_method == UpdateMethod::Put,
                discovery: OnceLock::new(),
                known: Mutex::new(HashMap::new()),
                dn_of: Mutex::new(HashMap::new()),
                warned: Mutex::new(HashSet::new()),
            }),
        })
    }
}
