//! The HTTP side: authorization (static bearer, basic, OAuth client credentials), retries, redaction.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ferrosync::endpoint::EndpointError;
use ferrosync::https::HttpsTrust;
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

/// The largest response body read: far above a SCIM list page of a few thousand resources (ureq's own
/// default, 10 MB, is not). A larger body is an error that says so, never a short or an empty one.
pub const MAX_BODY: u64 = 128 * 1024 * 1024;

/// Why [`Http::raw`] has no complete answer.
#[derive(Debug)]
enum RawError {
    /// The request could not be sent, or no answer came (a refused connection, a timeout).
    Send(String),
    /// The status line and headers came but the body did not, in full (a reset, a timeout mid-body).
    Body(u16, String),
    /// The body is larger than the limit (at most [`MAX_BODY`]).
    TooLarge(u16, u64),
}

impl std::fmt::Display for RawError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawError::Send(e) => write!(f, "{e}"),
            RawError::Body(status, e) => write!(f, "the body of the HTTP {status} answer was cut short: {e}"),
            RawError::TooLarge(status, limit) => {
                write!(
                    f,
                    "the body of the HTTP {status} answer is larger than {}, the most ferrosync reads",
                    size(*limit)
                )
            }
        }
    }
}

/// `134217728` as `128 MiB`, `1000` as `1000 bytes`.
fn size(n: u64) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else {
        format!("{n} bytes")
    }
}

/// Reads a whole body, at most `limit` bytes: a body that ends early or is larger is an error.
fn read_body(status: u16, body: &mut ureq::Body, limit: u64) -> Result<String, RawError> {
    // ureq's limit refuses a body of exactly `limit` bytes, hence the one more.
    match body.with_config().limit(limit.saturating_add(1)).lossy_utf8(true).read_to_string() {
        Ok(text) => Ok(text),
        Err(ureq::Error::BodyExceedsLimit(_)) => Err(RawError::TooLarge(status, limit)),
        Err(e) => Err(RawError::Body(status, e.to_string())),
    }
}

/// Status, ETag, Retry-After and body of one exchange.
type RawResult = Result<(u16, Option<String>, Option<Duration>, String), RawError>;

pub struct Http {
    agent: ureq::Agent,
    /// The agent for the OAuth token endpoint, which has its own trust (the service's agent by default).
    token_agent: ureq::Agent,
    pub base: String,
    auth: Auth,
    retry: Retry,
    token: Mutex<Option<(String, Instant)>>,
    max_body: u64,
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

fn is_secret_name(name: &str) -> bool {
    SECRET_KEYS.iter().any(|s| name.eq_ignore_ascii_case(s))
}

/// Whether a PATCH operation's `path` names a secret attribute: `password`, `urn:...:User:password`,
/// `emails[type eq "work"].password`, without case.
fn is_secret_path(path: &str) -> bool {
    let without_filters = path.split('[').next().unwrap_or(path);
    let after_filter = path.rsplit(']').next().unwrap_or(path);
    [without_filters, after_filter]
        .iter()
        .any(|p| p.rsplit([':', '.']).next().is_some_and(|last| is_secret_name(last.trim())))
}

fn mask(j: &mut Json) {
    match j {
        Json::Object(m) => {
            // A PATCH operation (RFC 7644 section 3.5.2): {"op": .., "path": "password", "value": ..}.
            let secret_op = m.get("path").and_then(Json::as_str).is_some_and(is_secret_path);
            for (k, v) in m.iter_mut() {
                if is_secret_name(k) || (secret_op && k.eq_ignore_ascii_case("value")) {
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
    /// A client of the service at `base` that trusts `trust`; `Err` when its CA certificate file cannot be
    /// read.
    pub fn new(base: &str, auth: Auth, retry: Retry, timeout: Duration, trust: &HttpsTrust) -> Result<Http, String> {
        let agent = ferrosync::https::agent(trust, timeout, None)?;
        Ok(Http {
            token_agent: agent.clone(),
            agent,
            base: base.trim_end_matches('/').to_string(),
            auth,
            retry,
            token: Mutex::new(None),
            max_body: MAX_BODY,
        })
    }

    /// Calls the OAuth token endpoint with its own trust (the client-credentials method's
    /// `trust-manager-provider`).
    pub fn with_token_trust(mut self, trust: &HttpsTrust, timeout: Duration) -> Result<Http, String> {
        self.token_agent = ferrosync::https::agent(trust, timeout, None)?;
        Ok(self)
    }

    /// Reads bodies of at most `bytes` (instead of [`MAX_BODY`]).
    pub fn with_max_body(mut self, bytes: u64) -> Http {
        self.max_body = bytes;
        self
    }

    fn raw(&self, method: &str, url: &str, headers: &[(&str, String)], body: Option<String>) -> RawResult {
        self.raw_on(&self.agent, method, url, headers, body)
    }

    fn raw_on(
        &self,
        agent: &ureq::Agent,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<String>,
    ) -> RawResult {
        let mut b = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            b = b.header(*k, v.as_str());
        }
        let req = b.body(body.unwrap_or_default()).map_err(|e| RawError::Send(e.to_string()))?;
        let mut resp = agent.run(req).map_err(|e| RawError::Send(e.to_string()))?;
        let status = resp.status().as_u16();
        let header = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        let etag = header("etag");
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let text = read_body(status, resp.body_mut(), self.max_body)?;
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
                    self.raw_on(&self.token_agent, "GET", &format!("{url}{sep}{encoded}"), &headers, None)
                } else {
                    headers.push(("Content-Type", "application/x-www-form-urlencoded".into()));
                    self.raw_on(&self.token_agent, "POST", url, &headers, Some(encoded))
                };
                let (status, _, _, text) = res.map_err(|e| match e {
                    RawError::TooLarge(..) => EndpointError::Config(format!("the OAuth token endpoint {url}: {e}")),
                    _ => EndpointError::Unavailable(format!("cannot reach the OAuth token endpoint {url}: {e}")),
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
                Err(e @ RawError::TooLarge(..)) => {
                    // The same answer again would be as large: a smaller page (or a larger limit) is needed.
                    return Err(EndpointError::Config(format!("{}: {e}", what())));
                }
                Err(e @ RawError::Body(..)) => {
                    if last {
                        return Err(EndpointError::Retryable(format!(
                            "{}: no complete answer after {attempt} attempts: {e}",
                            what()
                        )));
                    }
                }
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
                Ok((status, _, _, body))
                    if (200..300).contains(&status)
                        && method != "DELETE"
                        && !body.trim().is_empty()
                        && serde_json::from_str::<Json>(&body).is_err() =>
                {
                    // A body cut short where the framing could not tell (no Content-Length), or a proxy's page:
                    // read as JSON it would be `null`, an empty page or a resource without attributes.
                    if last {
                        return Err(EndpointError::Retryable(format!(
                            "{}: HTTP {status} with a body that is not JSON after {attempt} attempts: {}",
                            what(),
                            redact(&body)
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

#[cfg(test)]
mod redaction {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A secret value: long and unlike anything else generated.
    fn secret() -> impl Strategy<Value = String> {
        "[A-Za-z0-9]{12,24}".prop_map(|s| format!("S3cr3t-{s}"))
    }

    /// Any JSON without the secret: the shapes around it.
    fn filler() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            "[a-z ]{0,8}".prop_map(Json::String),
            any::<i32>().prop_map(|n| json!(n)),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Where a secret sits in a request: a member named like a secret at any depth, or the value of a PATCH
    /// operation whose path names one.
    fn with_secret(secret: String) -> impl Strategy<Value = Json> {
        let key = prop_oneof![Just("password"), Just("Password"), Just("client_secret"), Just("access_token")];
        let path = prop_oneof![
            Just("password".to_string()),
            Just("urn:ietf:params:scim:schemas:core:2.0:User:password".to_string()),
            Just("PASSWORD".to_string()),
        ];
        let op = prop_oneof![Just("replace"), Just("add")];
        let s1 = secret.clone();
        let member = (key, filler(), prop::collection::vec("[a-z]{1,6}", 0..3)).prop_map(move |(k, f, nest)| {
            let mut j = json!({ k: s1.clone() });
            for n in nest {
                j = json!({ n: j, "other": f.clone() });
            }
            j
        });
        let patch = (op, path, filler()).prop_map(move |(o, p, f)| {
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": f}, {"op": o, "path": p, "value": secret.clone()}]
            })
        });
        prop_oneof![member, patch]
    }

    proptest! {
        #[test]
        fn redacted_text_never_holds_a_secret((s, body) in secret().prop_flat_map(|s| (Just(s.clone()), with_secret(s)))) {
            let text = body.to_string();
            prop_assert!(text.contains(&s));
            let red = redact(&text);
            prop_assert!(!red.contains(&s), "{red}");
        }
    }

    #[test]
    fn a_patch_of_the_password_is_masked() {
        let body = r#"{"Operations":[{"op":"replace","path":"password","value":"Hunter2!x"}]}"#;
        assert!(!redact(body).contains("Hunter2"), "{}", redact(body));
        let nested = r#"{"Operations":[{"op":"replace","value":{"password":"Hunter2!x","title":"t"}}]}"#;
        assert!(!redact(nested).contains("Hunter2"));
        assert!(redact(nested).contains("\"title\":\"t\""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// Reads one request (its head and a `Content-Length` body) from `s`.
    fn read_request(s: &mut TcpStream) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    return text;
                }
            }
        }
        String::from_utf8_lossy(&got).to_string()
    }

    /// A server on 127.0.0.1 that answers each connection with the next of `answers` (raw bytes), then closes
    /// it; returns its URL and a count of the requests it got.
    fn serve(answers: Vec<Vec<u8>>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((mut s, _)) = listener.accept() else { return };
                read_request(&mut s);
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = s.write_all(&answer);
                let _ = s.flush();
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        });
        (url, count)
    }

    fn http(url: &str, attempts: u32) -> Http {
        let retry = Retry { attempts, initial: Duration::from_millis(1), max: Duration::from_millis(1) };
        Http::new(url, Auth::None, retry, Duration::from_secs(5), &HttpsTrust::System).unwrap()
    }

    fn answer(status: &str, declared: usize, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/scim+json\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n{body}"
        )
        .into_bytes()
    }

    const PAGE: &str = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":3,"Resources":[{"id":"1"}]}"#;

    #[test]
    fn a_body_cut_short_is_a_retryable_error_not_an_empty_page() {
        // The server promises 5000 bytes and closes after a few, every time.
        let cut = answer("200 OK", 5000, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"Reso"#);
        let (url, count) = serve(vec![cut.clone(), cut]);
        let err = http(&url, 2).send("GET", "Users?startIndex=1", None, None).err().expect("an error, not a page");
        assert!(matches!(err, EndpointError::Retryable(_)), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("cut short") && msg.contains("after 2 attempts"), "{msg}");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2, "a body cut short is tried again");
    }

    #[test]
    fn a_body_cut_short_once_is_read_again() {
        let (url, _) = serve(vec![answer("200 OK", 5000, "{\"Reso"), answer("200 OK", PAGE.len(), PAGE)]);
        let r = http(&url, 3).send("GET", "Users", None, None).expect("the second answer");
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["totalResults"], 3);
    }

    #[test]
    fn a_resource_cut_short_never_becomes_an_empty_object() {
        // A GET before a PUT: an empty body read as `{}` would have the PUT drop every attribute.
        let (url, _) = serve(vec![answer("200 OK", 400, r#"{"id":"7","userName":"ada""#)]);
        let err = http(&url, 1).send("GET", "Users/7", None, None).err().expect("an error");
        assert!(err.is_retryable(), "{err:?}");
    }

    #[test]
    fn a_success_that_is_not_json_is_an_error() {
        // Without a Content-Length the end of the body is the end of the connection: a cut cannot be told
        // from the end, but the JSON can.
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/scim+json\r\nConnection: close\r\n\r\n{\"Resources\":[{\"id\":".to_vec();
        let (url, _) = serve(vec![raw]);
        let err = http(&url, 1).send("GET", "Users", None, None).err().expect("an error");
        assert!(err.is_retryable() && err.to_string().contains("not JSON"), "{err:?}");
    }

    #[test]
    fn a_body_over_the_limit_is_an_error_that_says_so() {
        let big = format!(r#"{{"Resources":[{}]}}"#, vec![r#"{"id":"x"}"#; 200].join(","));
        let (url, count) = serve(vec![answer("200 OK", big.len(), &big), answer("200 OK", big.len(), &big)]);
        let err = http(&url, 3).with_max_body(1000).send("GET", "Users", None, None).err().expect("an error");
        assert!(matches!(err, EndpointError::Config(_)), "{err:?}");
        assert!(err.to_string().contains("larger than 1000 bytes"), "{err}");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1, "the same answer is not asked for again");
        // A body of exactly the limit is read.
        let (url, _) = serve(vec![answer("200 OK", PAGE.len(), PAGE)]);
        let r = http(&url, 1).with_max_body(PAGE.len() as u64).send("GET", "Users", None, None).expect("read");
        assert_eq!(r.body, PAGE);
    }

    #[test]
    fn the_default_limit_is_far_above_ureqs() {
        const { assert!(MAX_BODY >= 100 * 1024 * 1024) };
        assert_eq!(http("http://127.0.0.1:1", 1).max_body, MAX_BODY);
    }
}
