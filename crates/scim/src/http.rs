//! The HTTP side: authorization (static bearer, basic, OAuth client credentials), retries, redaction.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ferrosync::endpoint::EndpointError;
use ferrosync::secret::Secret;
use serde_json::Value as Json;

/// How requests are authorized.
pub enum Auth {
    None,
    Bearer(Secret),
    Basic(String, Secret),
    OAuth {
        url: String,
        id: String,
        secret: Secret,
        scopes: Vec<String>,
        in_body: bool,
        get: bool,
        max_life: Option<Duration>,
    },
}

/// Attempts and waits for retryable failures.
#[derive(Clone, Debug)]
pub struct Retry {
    pub attempts: u32,
    pub initial: Duration,
    pub max: Duration,
}

pub struct Resp {
    pub status: u16,
    pub etag: Option<String>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or(Json::Null)
    }
}

pub struct Http {
    agent: ureq::Agent,
    pub base: String,
    auth: Auth,
    retry: Retry,
    token: Mutex<Option<(String, Instant)>>,
}

const SECRET_KEYS: &[&str] = &["password", "access_token", "client_secret", "refresh_token", "bearer-token"];

/// A body for an error message: JSON with password-like members masked, cut to 2000 characters.
pub fn redact(body: &str) -> String {
    let text = match serde_json::from_str::<Json>(body) {
        Ok(mut j) => {
            mask(&mut j);
            j.to_string()
        }
        Err(_) => body.to_string(),
    };
    let mut t: String = text.chars().take(2000).collect();
    if t.len() < text.len() {
        t.push('…');
    }
    t
}

fn mask(j: &mut Json) {
    match j {
        Json::Object(m) => {
            for (k, v) in m.iter_mut() {
                if SECRET_KEYS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                    *v = Json::String(ferrosync::secret::MASK.into());
                } else {
                    mask(v);
                }
            }
        }
        Json::Array(a) => a.iter_mut().for_each(mask),
        _ => {}
    }
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn query_encode(s: &str) -> String {
    url_encode(s)
}

impl Http {
    pub fn new(base: &str, auth: Auth, retry: Retry, timeout: Duration, blind_trust: bool) -> Http {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .disable_verification(blind_trust)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Http { agent, base: base.trim_end_matches('/').to_string(), auth, retry, token: Mutex::new(None) }
    }

    fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<String>,
    ) -> Result<(u16, Option<String>, Option<Duration>, String), String> {
        let mut b = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, v.as_str());
        }
        let req = b.body(body.unwrap_or_default()).map_err(|e| e.to_string())?;
        let mut resp = self.agent.run(req).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        let etag = header("etag");
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((status, etag, retry_after, text))
    }

    fn authorization(&self, refresh: bool) -> Result<Option<String>, EndpointError> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Bearer(t) => Ok(Some(format!("Bearer {}", t.expose()))),
            Auth::Basic(u, p) => {
                let raw = format!("{u}:{}", p.expose());
                Ok(Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))))
            }
            Auth::OAuth { url, id, secret, scopes, in_body, get, max_life } => {
                let mut slot = self.token.lock().map_err(|_| EndpointError::Config("token cache poisoned".into()))?;
                if let (false, Some((t, until))) = (refresh, slot.as_ref()) {
                    if Instant::now() < *until {
                        return Ok(Some(format!("Bearer {t}")));
                    }
                }
                let mut form = vec![("grant_type".to_string(), "client_credentials".to_string())];
                if !scopes.is_empty() {
                    form.push(("scope".into(), scopes.join(" ")));
                }
                let mut headers = vec![("Accept", "application/json".to_string())];
                if *in_body {
                    form.push(("client_id".into(), id.clone()));
                    form.push(("client_secret".into(), secret.expose().to_string()));
                } else {
                    let raw = format!("{}:{}", url_encode(id), url_encode(secret.expose()));
                    headers.push((
                        "Authorization",
                        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw)),
                    ));
                }
                let encoded = form.iter().map(|(k, v)| format!("{k}={}", url_encode(v))).collect::<Vec<_>>().join("&");
                let res = if *get {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    self.raw("GET", &format!("{url}{sep}{encoded}"), &headers, None)
                } else {
                    headers.push(("Content-Type", "application/x-www-form-urlencoded".into()));
                    self.raw("POST", url, &headers, Some(encoded))
                };
                let (status, _, _, text) = res.map_err(|e| {
                    EndpointError::Unavailable(format!("cannot reach the OAuth token endpoint {url}: {e}"))
                })?;
                if status != 200 {
                    return Err(EndpointError::Config(format!(
                        "the OAuth token endpoint {url} refused the client credentials of client '{id}' (HTTP {status}): {}",
                        redact(&text)
                    )));
                }
                let j: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
                let Some(token) = j.get("access_token").and_then(Json::as_str) else {
                    return Err(EndpointError::Config(format!(
                        "the OAuth token endpoint {url} answered without an access_token: {}",
                        redact(&text)
                    )));
                };
                let mut life = Duration::from_secs(j.get("expires_in").and_then(Json::as_u64).unwrap_or(3600));
                if let Some(m) = max_life {
                    life = life.min(*m);
                }
                let life = life.saturating_sub(Duration::from_secs(5)).max(Duration::from_secs(1));
                *slot = Some((token.to_string(), Instant::now() + life));
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Sends a request to `path` (below the service URL, or an absolute URL), retrying what a retry may fix.
    /// Statuses are returned, not turned into errors, except 401/403 (a configuration error).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Json>,
        if_match: Option<&str>,
    ) -> Result<Resp, EndpointError> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        };
        let body_text = body.map(Json::to_string);
        let mut refreshed = false;
        let mut attempt = 0u32;
        let mut wait = self.retry.initial;
        loop {
            attempt += 1;
            let mut headers = vec![("Accept", "application/scim+json, application/json".to_string())];
            if body_text.is_some() {
                headers.push(("Content-Type", "application/scim+json".into()));
            }
            if let Some(a) = self.authorization(false)? {
                headers.push(("Authorization", a));
            }
            if let Some(m) = if_match {
                headers.push(("If-Match", m.to_string()));
            }
            let last = attempt >= self.retry.attempts.max(1);
            let what = || format!("{method} {url}");
            match self.raw(method, &url, &headers, body_text.clone()) {
                Err(e) => {
                    if last {
                        return Err(EndpointError::Unavailable(format!(
                            "{}: the SCIM service did not answer after {attempt} attempts: {e}",
                            what()
                        )));
                    }
                }
                Ok((401, ..)) if matches!(self.auth, Auth::OAuth { .. }) && !refreshed => {
                    refreshed = true;
                    self.authorization(true)?;
                    attempt -= 1;
                    continue;
                }
                Ok((status @ (401 | 403), _, _, text)) => {
                    return Err(EndpointError::Config(format!(
                        "{}: the SCIM service refused the credentials (HTTP {status}); check the http-authorization-method: {}",
                        what(),
                        redact(&text)
                    )));
                }
                Ok((status @ (429 | 503), _, after, text)) => {
                    if last {
                        return Err(EndpointError::Retryable(format!(
                            "{}: HTTP {status} after {attempt} attempts: {}",
                            what(),
                            redact(&text)
                        )));
                    }
                    if let Some(a) = after {
                        wait = a.min(Duration::from_secs(60));
                    }
                }
                Ok((status, _, _, text)) if status >= 500 => {
                    if last {
                        return Err(EndpointError::Retryable(format!(
                            "{}: HTTP {status} after {attempt} attempts; request {}; response {}",
                            what(),
                            body_text.as_deref().map(redact).unwrap_or_default(),
                            redact(&text)
                        )));
                    }
                }
                Ok((status, etag, _, body)) => return Ok(Resp { status, etag, body }),
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(self.retry.max);
        }
    }
}

/// An error for an unexpected status, with the request and response bodies (secrets masked).
pub fn status_error(method: &str, path: &str, req: Option<&Json>, resp: &Resp) -> EndpointError {
    let msg = format!(
        "{method} {path}: HTTP {}; request {}; response {}",
        resp.status,
        req.map(|r| redact(&r.to_string())).unwrap_or_else(|| "-".into()),
        redact(&resp.body)
    );
    match resp.status {
        409 => EndpointError::AlreadyExists(msg),
        408 | 429 => EndpointError::Retryable(msg),
        s if s >= 500 => EndpointError::Retryable(msg),
        _ => EndpointError::Rejected(msg),
    }
}
