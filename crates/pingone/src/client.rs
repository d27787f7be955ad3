//! The PingOne API client: tokens, rate limiting, 429 and 5xx retries.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ferrosync::config::Config;
use ferrosync::endpoint::{EndpointError, EndpointResult};
use ferrosync::https::HttpsTrust;
use ferrosync::secret::{Secret, SecretBox};
use ferrosync::settings::PingOneSettings;
use ferrosync::store::ServerRoot;
use serde_json::Value as Json;

/// How many times a request answered with 429 is tried (PingDataSync: 15).
const MAX_THROTTLED_TRIES: u32 = 15;
/// The longest wait for a `Retry-After` (the official SDK caps it at 30 s).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How many times a request answered with 408/500/502/503/504 or a transport error is tried.
const MAX_SERVER_ERROR_TRIES: u32 = 5;

/// Where and as whom to call PingOne.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `https://api.pingone.com/v1`.
    pub api_url: String,
    /// `https://auth.pingone.com/{envId}/as/token`.
    pub auth_url: String,
    pub environment_id: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// At most this many requests per second (0: no limit).
    pub max_requests_per_second: u32,
    /// A label for messages (`Sync Source 'PingOne'`).
    pub label: String,
    /// Which server certificates are trusted (`trust-manager-provider`; the system's CAs when unset).
    pub trust: HttpsTrust,
}

impl Settings {
    /// The client settings of a `ping-one-customer` sync source or destination, from its typed settings (which
    /// take the old `ping-one-*` names too).
    pub fn from_settings(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        s: &PingOneSettings,
    ) -> Result<Settings, EndpointError> {
        let cfg = |m: String| EndpointError::Config(m);
        let auth_url = match &s.auth_url {
            Some(u) => u.clone(),
            None => default_auth_url(&s.api_url, &s.environment_id),
        };
        // The client secret goes to the token URL, the token to the API: neither in clear text unless asked.
        for (property, url) in [("api-url", &s.api_url), ("auth-url", &auth_url)] {
            ferrosync::https::check_credentials_over_http(
                url,
                property,
                &s.label,
                &s.label,
                s.allow_credentials_over_http,
            )
            .map_err(cfg)?;
        }
        let trust = ferrosync::https::trust_of(config, secrets, root, s.trust_manager_provider.as_deref(), &s.label)
            .map_err(cfg)?;
        let secret = ferrosync::secret::reveal_setting(config, secrets, root, &s.client_secret)
            .map_err(cfg)?
            .ok_or_else(|| {
                cfg(format!(
                    "the {} has neither oauth-client-secret nor oauth-client-secret-passphrase-provider",
                    s.label
                ))
            })?;
        Ok(Settings {
            api_url: s.api_url.clone(),
            auth_url,
            environment_id: s.environment_id.clone(),
            client_id: s.client_id.clone(),
            client_secret: secret,
            max_requests_per_second: s.max_requests_per_second,
            label: s.label.clone(),
            trust,
        })
    }
}

/// `https://api.pingone.eu/v1` gives `https://auth.pingone.eu/{env}/as/token`.
pub fn default_auth_url(api_url: &str, env: &str) -> String {
    let (scheme, rest) = api_url.split_once("://").unwrap_or(("https", api_url));
    let host = rest.split('/').next().unwrap_or(rest);
    let host = host.strip_prefix("api").map(|h| format!("auth{h}")).unwrap_or_else(|| host.to_string());
    format!("{scheme}://{host}/{env}/as/token")
}

/// An answer: the status and the JSON body (`Null` when empty or not JSON).
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Json,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A short description of an error answer: the P1Error's code, message and details.
    pub fn describe(&self) -> String {
        let b = &self.body;
        let mut s = format!("HTTP {}", self.status);
        if let Some(c) = b.get("code").and_then(Json::as_str) {
            s.push_str(&format!(" {c}"));
        }
        if let Some(m) = b.get("message").and_then(Json::as_str) {
            s.push_str(&format!(": {m}"));
        }
        if let Some(d) = b.get("details").and_then(Json::as_array) {
            let parts: Vec<String> = d
                .iter()
                .map(|x| {
                    format!(
                        "{} {} {}",
                        x.get("code").and_then(Json::as_str).unwrap_or(""),
                        x.get("target").and_then(Json::as_str).unwrap_or(""),
                        x.get("message").and_then(Json::as_str).unwrap_or("")
                    )
                    .trim()
                    .to_string()
                })
                .collect();
            if !parts.is_empty() {
                s.push_str(&format!(" ({})", parts.join("; ")));
            }
        }
        s
    }

    /// Whether a P1Error detail has this code (such as `UNIQUENESS_VIOLATION`).
    pub fn has_detail(&self, code: &str) -> bool {
        self.body
            .get("details")
            .and_then(Json::as_array)
            .is_some_and(|d| d.iter().any(|x| x.get("code").and_then(Json::as_str) == Some(code)))
    }
}

struct Token {
    value: String,
    refresh_at: Instant,
}

struct Inner {
    settings: Settings,
    agent: ureq::Agent,
    token: Mutex<Option<Token>>,
    next_slot: Mutex<Instant>,
    /// How many 429 answers were seen (for tests and logs).
    throttled: std::sync::atomic::AtomicU64,
}

/// A PingOne API client; cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// A request body: its content type and JSON.
pub struct Body {
    pub content_type: &'static str,
    pub json: Json,
}

impl Body {
    pub fn json(json: Json) -> Body {
        Body { content_type: "application/json", json }
    }
}

/// Percent-encodes a query parameter value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A filter value quoted for PingOne's SCIM-like filters.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Client {
    /// A client of `settings`; `Err` when its CA certificate file cannot be read.
    pub fn new(settings: Settings) -> Result<Client, EndpointError> {
        let agent = ferrosync::https::agent(&settings.trust, Duration::from_secs(60), Some(Duration::from_secs(10)))
            .map_err(|e| EndpointError::Config(format!("the {}: {e}", settings.label)))?;
        Ok(Client {
            inner: Arc::new(Inner {
                settings,
                agent,
                token: Mutex::new(None),
                next_slot: Mutex::new(Instant::now()),
                throttled: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// How many 429 answers this client has waited out.
    pub fn throttled(&self) -> u64 {
        self.inner.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The URL of `path` in the environment: `{api}/environments/{env}/{path}`.
    pub fn env_url(&self, path: &str) -> String {
        let s = &self.inner.settings;
        format!("{}/environments/{}/{}", s.api_url, s.environment_id, path.trim_start_matches('/'))
    }

    /// Sends a request (on the blocking pool) and returns the answer, whatever its status, except that
    /// credentials PingOne refuses are [`EndpointError::Config`] and unreachable servers or exhausted
    /// retries are [`EndpointError::Unavailable`] / [`EndpointError::Retryable`].
    /// Checks the credentials and the environment by listing one user.
    pub async fn check(&self) -> EndpointResult<()> {
        let a = self.call("GET", self.env_url("users?limit=1"), None).await?;
        if a.ok() {
            Ok(())
        } else {
            Err(status_error(&self.settings().label, "list users", &a))
        }
    }

    pub async fn call(&self, method: &'static str, url: String, body: Option<Body>) -> EndpointResult<Answer> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.call(method, &url, body.as_ref()))
            .await
            .map_err(|e| EndpointError::Retryable(format!("internal error: {e}")))?
    }

    /// GETs a list and every following page (`_links.next`), sending the items of `_embedded.<key>` to `each`;
    /// stops early when `each` returns false.
    pub async fn list_pages<F>(&self, first_url: String, key: &str, each: F) -> EndpointResult<()>
    where
        F: FnMut(Json) -> bool,
    {
        self.list_pages_counted(first_url, key, each).await.map(|_| ())
    }

    /// [`Client::list_pages`], returning how many pages (requests) were read. The next page is requested as
    /// soon as a page names it, while `each` takes the items of this one.
    pub async fn list_pages_counted<F>(&self, first_url: String, key: &str, mut each: F) -> EndpointResult<usize>
    where
        F: FnMut(Json) -> bool,
    {
        let label = &self.inner.settings.label;
        let get = |url: String| {
            let client = self.clone();
            tokio::spawn(async move { client.call("GET", url, None).await })
        };
        let mut pending = Some(get(first_url));
        let mut pages = 0usize;
        while let Some(request) = pending.take() {
            pages += 1;
            let mut a = request.await.map_err(|e| EndpointError::Retryable(format!("internal error: {e}")))??;
            if !a.ok() {
                return Err(status_error(&self.inner.settings.label, "list", &a));
            }
            match a.body.pointer("/_links/next/href").and_then(Json::as_str) {
                None => {}
                Some(_) if pages >= MAX_PAGES => {
                    return Err(EndpointError::Retryable(format!(
                        "PingOne ({label}) kept answering with a next page after {MAX_PAGES} pages: the listing is \
                         stopped"
                    )));
                }
                Some(next) if same_origin(next, &self.inner.settings.api_url) => pending = Some(get(next.to_string())),
                Some(next) => {
                    return Err(EndpointError::Rejected(format!(
                        "PingOne ({label}) gave a next page on another host ({}), not on its api-url ({}): it is \
                         not followed (the token would go there)",
                        strip_query(next),
                        self.inner.settings.api_url
                    )))
                }
            }
            for item in take_page_items(&self.inner.settings.label, key, &mut a)? {
                if !each(item) {
                    if let Some(p) = pending.take() {
                        p.abort();
                    }
                    return Ok(pages);
                }
            }
        }
        Ok(pages)
    }
}

/// The items of a list page, taken out of it (see [`page_items`]).
pub fn take_page_items(label: &str, key: &str, a: &mut Answer) -> EndpointResult<Vec<Json>> {
    page_items(label, key, a)?;
    Ok(match a.body.pointer_mut(&format!("/_embedded/{key}")).map(Json::take) {
        Some(Json::Array(items)) => items,
        _ => Vec::new(),
    })
}

/// The items of a list page, `_embedded.<key>`. A successful page without them (and without `count: 0`) is an
/// error: read as empty, it would end the listing early (and a resync with `--deleteMissingEntries` would
/// delete the users of the pages never read).
pub fn page_items<'a>(label: &str, key: &str, a: &'a Answer) -> EndpointResult<&'a [Json]> {
    if let Some(items) = a.body.pointer(&format!("/_embedded/{key}")).and_then(Json::as_array) {
        return Ok(items);
    }
    if a.body.get("count").and_then(Json::as_u64) == Some(0) {
        return Ok(&[]);
    }
    Err(EndpointError::Retryable(format!(
        "PingOne ({label}) answered a list of {key} (HTTP {}) without _embedded.{key}: the page is not read as empty",
        a.status
    )))
}

/// The error for an unexpected answer.
pub fn status_error(label: &str, what: &str, a: &Answer) -> EndpointError {
    let m = format!("PingOne ({label}) refused to {what}: {}", a.describe());
    match a.status {
        401 | 403 => EndpointError::Config(m),
        408 | 429 | 500..=599 => EndpointError::Retryable(m),
        _ => EndpointError::Rejected(m),
    }
}

fn transport(label: &str, url: &str, e: &ureq::Error) -> EndpointError {
    EndpointError::Unavailable(format!("cannot reach PingOne ({label}) at {}: {e}", strip_query(url)))
}

/// The most pages one listing follows.
const MAX_PAGES: usize = 100_000;

/// Whether `url` has the scheme, host and port of `base` (compared without ASCII case).
pub(crate) fn same_origin(url: &str, base: &str) -> bool {
    let origin = |u: &str| -> Option<String> {
        let (scheme, rest) = u.trim().split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let authority = authority.rsplit('@').next()?;
        let default = if scheme.eq_ignore_ascii_case("https") { ":443" } else { ":80" };
        let with_port = if authority.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit())) {
            authority.to_string()
        } else {
            format!("{authority}{default}")
        };
        Some(format!("{scheme}://{with_port}").to_ascii_lowercase())
    };
    origin(url).is_some_and(|o| Some(o) == origin(base))
}

fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The largest response body read: far above a page of PingOne users (ureq's own default, 10 MB, is not). A
/// larger body is an error that says so, never a short or an empty one.
pub const MAX_BODY: u64 = 128 * 1024 * 1024;

/// A body that could not be read whole.
enum BodyError {
    /// Cut short (a reset, a timeout mid-body) or not JSON: another try may get it.
    Partial(String),
    /// Larger than the limit ([`MAX_BODY`]): the same request would get it again.
    TooLarge(u64),
}

/// The status, `Retry-After` and JSON body (`Null` when empty) of an answer, read whole, at most `limit` bytes.
fn read(resp: ureq::http::Response<ureq::Body>, limit: u64) -> Result<(u16, Option<String>, Json), BodyError> {
    let status = resp.status().as_u16();
    let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut body = resp.into_body();
    // ureq's limit refuses a body of exactly `limit` bytes, hence the one more.
    let text = match body.with_config().limit(limit.saturating_add(1)).lossy_utf8(true).read_to_string() {
        Ok(t) => t,
        Err(ureq::Error::BodyExceedsLimit(_)) => return Err(BodyError::TooLarge(limit)),
        Err(e) => return Err(BodyError::Partial(format!("the body of the HTTP {status} answer was cut short: {e}"))),
    };
    if text.trim().is_empty() {
        return Ok((status, retry_after, Json::Null));
    }
    match serde_json::from_str(&text) {
        Ok(json) => Ok((status, retry_after, json)),
        // An error page from a proxy may be HTML: what counts there is the status. A success must be JSON.
        Err(_) if !(200..300).contains(&status) => Ok((status, retry_after, Json::Null)),
        Err(e) => Err(BodyError::Partial(format!("the body of the HTTP {status} answer is not JSON: {e}"))),
    }
}

impl BodyError {
    fn into_error(self, label: &str, url: &str, tries: u32) -> EndpointError {
        match self {
            BodyError::Partial(m) => EndpointError::Retryable(format!(
                "PingOne ({label}) gave no complete answer at {} after {tries} tries: {m}",
                strip_query(url)
            )),
            BodyError::TooLarge(limit) => EndpointError::Config(format!(
                "PingOne ({label}) answered at {} with a body larger than {limit} bytes, the most ferrosync reads",
                strip_query(url)
            )),
        }
    }
}

impl Inner {
    /// Waits for the next request slot of the rate limit.
    fn pace(&self) {
        let rate = self.settings.max_requests_per_second;
        if rate == 0 {
            return;
        }
        let interval = Duration::from_secs(1) / rate;
        let wait = {
            let mut next = self.next_slot.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn token(&self, force: bool) -> EndpointResult<String> {
        let mut guard = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if !force {
            if let Some(t) = guard.as_ref() {
                if Instant::now() < t.refresh_at {
                    return Ok(t.value.clone());
                }
            }
        }
        let s = &self.settings;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", s.client_id, s.client_secret.expose()));
        let mut tries = 0;
        loop {
            tries += 1;
            self.pace();
            let req = ureq::http::Request::builder()
                .method("POST")
                .uri(&s.auth_url)
                .header("Authorization", format!("Basic {basic}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .body("grant_type=client_credentials".to_string())
                .map_err(|e| EndpointError::Config(format!("the auth-url of the {} is not usable: {e}", s.label)))?;
            let (status, retry_after, json) = match self.agent.run(req).map(|r| read(r, MAX_BODY)) {
                Ok(Ok(r)) => r,
                Ok(Err(BodyError::Partial(_))) if tries < MAX_SERVER_ERROR_TRIES => {
                    std::thread::sleep(backoff(tries));
                    continue;
                }
                Ok(Err(e)) => return Err(e.into_error(&s.label, &s.auth_url, tries)),
                Err(e) if tries < MAX_SERVER_ERROR_TRIES => {
                    std::thread::sleep(backoff(tries));
                    let _ = e;
                    continue;
                }
                Err(e) => return Err(transport(&s.label, &s.auth_url, &e)),
            };
            match status {
                200 => {
                    let value = json.get("access_token").and_then(Json::as_str).ok_or_else(|| {
                        EndpointError::Retryable(format!(
                            "PingOne ({}) sent a token answer without access_token",
                            s.label
                        ))
                    })?;
                    let life = json.get("expires_in").and_then(Json::as_u64).unwrap_or(3600);
                    // Refresh at 90 % of the life, and at least a minute early for long-lived tokens.
                    let early = (life / 10).min(60);
                    let refresh_at = Instant::now() + Duration::from_secs(life.saturating_sub(early.max(1)));
                    *guard = Some(Token { value: value.to_string(), refresh_at });
                    return Ok(value.to_string());
                }
                429 if tries < MAX_THROTTLED_TRIES => {
                    self.throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(retry_wait(retry_after.as_deref(), tries));
                }
                408 | 500..=599 if tries < MAX_SERVER_ERROR_TRIES => std::thread::sleep(backoff(tries)),
                400 | 401 | 403 => {
                    let err = json.get("error").and_then(Json::as_str).unwrap_or("");
                    let desc = json.get("error_description").and_then(Json::as_str).unwrap_or("");
                    return Err(EndpointError::Config(format!(
                        "PingOne refused the client credentials of the {} (oauth-client-id {}) at {}: HTTP {status} {err} {desc}: check oauth-client-id and oauth-client-secret (a Worker application's client_credentials)",
                        s.label, s.client_id, s.auth_url
                    )));
                }
                _ => {
                    return Err(EndpointError::Unavailable(format!(
                        "PingOne's token endpoint {} answered HTTP {status} for the {}",
                        s.auth_url, s.label
                    )))
                }
            }
        }
    }

    fn call(&self, method: &str, url: &str, body: Option<&Body>) -> EndpointResult<Answer> {
        let label = &self.settings.label;
        let mut tries = 0;
        let mut refreshed = false;
        loop {
            tries += 1;
            let token = self.token(false)?;
            self.pace();
            let builder = ureq::http::Request::builder()
                .method(method)
                .uri(url)
                .header("Authorization", format!("Bearer {token}"))
                .header("Accept", "application/json");
            let bad = |e: ureq::http::Error| EndpointError::Rejected(format!("cannot build a request to {url}: {e}"));
            let result = match body {
                Some(b) => {
                    let req = builder
                        .header("Content-Type", b.content_type)
                        .body(serde_json::to_vec(&b.json).unwrap_or_default())
                        .map_err(bad)?;
                    self.agent.run(req)
                }
                None => self.agent.run(builder.body(()).map_err(bad)?),
            };
            let (status, retry_after, json) = match result.map(|r| read(r, MAX_BODY)) {
                Ok(Ok(r)) => r,
                Ok(Err(BodyError::Partial(_))) if tries < MAX_SERVER_ERROR_TRIES => {
                    std::thread::sleep(backoff(tries));
                    continue;
                }
                Ok(Err(e)) => return Err(e.into_error(label, url, tries)),
                Err(e) if tries < MAX_SERVER_ERROR_TRIES => {
                    let _ = e;
                    std::thread::sleep(backoff(tries));
                    continue;
                }
                Err(e) => return Err(transport(label, url, &e)),
            };
            match status {
                401 if !refreshed => {
                    // An expired or revoked token: get a new one and try again once.
                    refreshed = true;
                    self.token(true)?;
                }
                401 => {
                    return Err(EndpointError::Config(format!(
                        "PingOne ({label}) refused a fresh access token for {method} {}: check the Worker application's roles",
                        strip_query(url)
                    )))
                }
                429 if tries < MAX_THROTTLED_TRIES => {
                    self.throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::thread::sleep(retry_wait(retry_after.as_deref(), tries));
                }
                429 => {
                    return Err(EndpointError::Retryable(format!(
                        "PingOne ({label}) still limits the request rate after {tries} tries (HTTP 429): lower max-requests-per-second"
                    )))
                }
                408 | 500 | 502 | 503 | 504 if tries < MAX_SERVER_ERROR_TRIES => std::thread::sleep(backoff(tries)),
                _ => return Ok(Answer { status, body: json }),
            }
        }
    }
}

/// The wait before trying a throttled request again: `Retry-After` seconds (capped at 30 s), or an
/// exponential backoff from 1 s when the header is absent.
fn retry_wait(header: Option<&str>, tries: u32) -> Duration {
    match header.and_then(|h| h.trim().parse::<f64>().ok()) {
        Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s).min(MAX_RETRY_AFTER),
        _ => backoff(tries).max(Duration::from_secs(1)),
    }
}

fn backoff(tries: u32) -> Duration {
    (Duration::from_millis(250) * 2u32.saturating_pow(tries.saturating_sub(1).min(8))).min(MAX_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::{Read, Write};

    /// A server on 127.0.0.1 that answers one request with `answer` (raw bytes) and closes the connection.
    fn serve(answer: Vec<u8>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/v1/users", listener.local_addr().expect("addr"));
        std::thread::spawn(move || {
            let Ok((mut s, _)) = listener.accept() else { return };
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(&answer);
            let _ = s.shutdown(std::net::Shutdown::Both);
        });
        url
    }

    fn get(answer: &str, limit: u64) -> Result<(u16, Option<String>, Json), BodyError> {
        let url = serve(answer.as_bytes().to_vec());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let resp = agent.get(&url).call().expect("the status line and headers");
        read(resp, limit)
    }

    const PAGE: &str = r#"{"_embedded":{"users":[{"id":"U1"}]},"count":1}"#;

    #[test]
    fn next_pages_are_followed_on_the_api_host_only() {
        let api = "https://api.pingone.com/v1";
        assert!(same_origin("https://api.pingone.com/v1/environments/e/users?cursor=x", api));
        assert!(same_origin("HTTPS://API.PingOne.com:443/v1/x", api));
        assert!(!same_origin("https://evil.example.com/v1/x", api));
        assert!(!same_origin("http://api.pingone.com/v1/x", api), "not over plain HTTP");
        assert!(!same_origin("https://api.pingone.com.evil.example/v1", api));
        assert!(!same_origin("https://api.pingone.com:8443/v1", api));
        assert!(!same_origin("https://user@evil.example/v1", api));
        assert!(same_origin("http://127.0.0.1:19443/v1/x", "http://127.0.0.1:19443/v1"));
    }

    #[test]
    fn a_body_cut_short_is_an_error() {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n";
        let Err(BodyError::Partial(m)) = get(&format!("{head}{{\"_embedded\":{{\"users\":["), MAX_BODY) else {
            panic!("a body cut short must not be read as a page")
        };
        assert!(m.contains("cut short"), "{m}");
        let e = BodyError::Partial(m).into_error("Sync Source 'P1'", "https://x/users?filter=secret", 5);
        assert!(e.is_retryable() && !e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn a_success_that_is_not_json_is_an_error_and_an_error_page_is_not() {
        let close = "Content-Type: application/json\r\nConnection: close\r\n\r\n";
        assert!(matches!(
            get(&format!("HTTP/1.1 200 OK\r\n{close}{{\"_embedded\":"), MAX_BODY),
            Err(BodyError::Partial(_))
        ));
        let Ok((status, _, json)) = get(&format!("HTTP/1.1 502 Bad Gateway\r\n{close}<html>"), MAX_BODY) else {
            panic!("an error page is an answer")
        };
        assert_eq!((status, json), (502, Json::Null));
    }

    #[test]
    fn a_body_over_the_limit_is_an_error_that_says_so() {
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{PAGE}", PAGE.len());
        let Err(e @ BodyError::TooLarge(_)) = get(&answer, 20) else { panic!("over the limit") };
        let e = e.into_error("Sync Source 'P1'", "https://x/users", 1);
        assert!(matches!(e, EndpointError::Config(_)) && e.to_string().contains("larger than 20 bytes"), "{e}");
        let Ok((200, _, json)) = get(&answer, PAGE.len() as u64) else { panic!("a body of exactly the limit") };
        assert_eq!(json["count"], 1);
        const { assert!(MAX_BODY >= 100 * 1024 * 1024) };
    }

    #[test]
    fn a_page_without_its_items_is_not_empty() {
        let page = |body: Json| Answer { status: 200, body };
        let label = "Sync Source 'P1'";
        assert_eq!(
            page_items(label, "users", &page(serde_json::json!({"_embedded": {"users": [{"id": "U1"}]}})))
                .map(<[Json]>::len)
                .ok(),
            Some(1)
        );
        assert_eq!(
            page_items(label, "users", &page(serde_json::json!({"count": 0, "size": 0}))).map(<[Json]>::len).ok(),
            Some(0)
        );
        let e = page_items(label, "users", &page(Json::Null)).expect_err("a page read as nothing is an error");
        assert!(e.is_retryable(), "{e:?}");
        assert!(page_items(label, "users", &page(serde_json::json!({"count": 3, "_embedded": {}}))).is_err());
    }

    #[test]
    fn auth_url_from_api_url() {
        assert_eq!(default_auth_url("https://api.pingone.eu/v1", "E"), "https://auth.pingone.eu/E/as/token");
    }

    #[test]
    fn retry_after_is_capped() {
        assert_eq!(retry_wait(Some("2"), 1), Duration::from_secs(2));
        assert_eq!(retry_wait(Some("120"), 1), MAX_RETRY_AFTER);
        assert_eq!(retry_wait(None, 1), Duration::from_secs(1));
        assert_eq!(encode("a b\"c"), "a%20b%22c");
    }
}
